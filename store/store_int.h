/*
 * store_int.h — helpers and byte offsets shared by the files of store/
 * only; no other folder includes it.  The offsets are those of store/FORMAT.md.
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include "chunk2.h"

/* The 8-byte magic that starts every chunk header, of every version. */
extern const uint8_t store_chunk_magic[8];

/* Context table entry (48 bytes). */
enum {
	CX_VNI = 0,
	CX_TUNNEL = 4,
	CX_HAS_GWLB = 5,
	CX_RSV1 = 6,
	CX_OUTER_SRC = 8,
	CX_ENDPOINT = 24,
	CX_ATTACHMENT = 32,
	CX_COOKIE = 40,
	CX_RSV2 = 44,
};

void store_ctx_put(uint8_t *p, const tv_tunmeta *t);
/* Decodes one entry; false when a reserved field is not zero. */
bool store_ctx_get(const uint8_t *p, tv_tunmeta *t);
/* The same tunnel metadata with every padding byte zero, so that two
 * equal values compare equal with memcmp. */
void store_tun_norm(tv_tunmeta *dst, const tv_tunmeta *src);

/* dst[i] ^= src[i] for i < n; the two must not overlap.  Version 2 stores
 * a record's headers XORed with those of the previous record of its flow
 * (FORMAT.md "Section A"): the writer applies it, the reader undoes it. */
void store_xor(uint8_t *dst, const uint8_t *src, size_t n);

/*
 * A record column (FORMAT.md "Section A"): n values of w
 * bytes (w <= 8) stored as w planes of n bytes, plane b holding byte b
 * (least significant first) of every value.  Runs of small values leave
 * whole planes zero, which zstd stores for almost nothing.
 */
static inline void store_col_put(uint8_t *col, size_t n, size_t j, unsigned w, uint64_t v)
{
	unsigned b;
	for (b = 0; b < w; b++, v >>= 8)
		col[b * n + j] = (uint8_t)v;
}

static inline uint64_t store_col_get(const uint8_t *col, size_t n, size_t j, unsigned w)
{
	uint64_t v = 0;
	unsigned b;
	for (b = 0; b < w; b++)
		v |= (uint64_t)col[b * n + j] << (8 * b);
	return v;
}

/*
 * Returns buf grown to hold at least need elements of elem bytes (capacity
 * doubles, never shrinks).  When memory runs out it returns buf unchanged
 * and clears *ok, so several GROWs can share one check.
 */
void *store_grow(void *buf, size_t *cap, size_t need, size_t elem, bool *ok);
#define STORE_GROW(ptr, cap, need, ok) \
	((ptr) = store_grow((ptr), &(cap), (need), sizeof *(ptr), &(ok)))

/* Chunk header (FORMAT.md "Chunk header"). */
enum {
	H2_MAGIC = 0,
	H2_VERSION = 8,
	H2_FLAGS = 10,
	H2_NBLOCKS = 12,
	H2_RSV1 = 14,
	H2_CHUNK_ID = 16,
	H2_FIRST_TS = 24,
	H2_LAST_TS = 32,
	H2_ORIG_BYTES = 40,
	H2_NPKTS = 48,
	H2_NFLOWS = 52,
	H2_RAW_LEN = 56,
	H2_BODY_LEN = 60,
	H2_HEAD_LEN = 64,
	H2_RSV2 = 68,
	H2_SHA256 = 72,
	H2_RSV3 = 104, /* 20 bytes */
	H2_CRC = 124,
};

/* Block table entry in the head (and in the index's chunk record). */
enum { BR_OFFSET = 0, BR_LEN = 4, BR_NREC = 8, BR_A_RAW = 12, BR_A_COMP = 16 };

/* Block header. */
enum {
	BH_A_COMP = 0,
	BH_A_RAW = 4,
	BH_B_LEN = 8,
	BH_NREC = 12,
	BH_NFLOWS = 16,
	BH_NCTX = 18,
	BH_FLAGS = 20,
	BH_RSV1 = 22,
	BH_RSV2 = 24,
	BH_CRC = 28,
};
#define BH_FLAG_ZSTD 0x0001u

/* Flow directory entry. */
enum { FD_KEY = 0, FD_CTX = 40, FD_RSV = 42, FD_NREC = 44, FD_TAIL_CRC = 48 };

#define STORE_REC_FLAGS_KNOWN (STORE_REC_SYNTH_L2 | STORE_REC_DECAP_ERROR)

/* STORE_V2_MAX_A_CHUNK, STORE_V2_MAX_BODY: chunk2.h (the index bounds
 * its chunk records by them too). */

#endif
