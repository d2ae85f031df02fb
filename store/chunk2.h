/*
 * chunk2.h — the chunk of store/FORMAT.md "Chunk" (chunk header version 3,
 * STORE_FORMAT_VERSION, the one this build reads and writes; the code
 * calls this flow-clustered layout "v2", the second layout, which format
 * 3 changed): the packer that writes it and the
 * readers of its header, head, blocks and whole chunk.  Shares store.h's
 * types and limits (tv_pkt, STORE_MAX_*) and error codes.
 */
#ifndef STORE_CHUNK2_H
#define STORE_CHUNK2_H

#include "store.h"

/* ===========================================================
 * The v2 layout (store/FORMAT.md, "Chunk"): flow-clustered chunks of
 * up to 64 blocks that decode on their own: what the vault writes.
 *
 *   store_packer   collects packets with their flow key and seals them
 *                  into one chunk: flows grouped and ordered,
 *                  blocks laid out, section A (contexts, flow directory,
 *                  record columns, frames up to their high-entropy
 *                  payload) compressed with zstd (one reused ZSTD_CCtx),
 *                  the high-entropy payloads stored as they are.
 *   store_hdr      the checked 128-byte chunk header; store_head_parse
 *                  checks the producer tag and block table after it.
 *   store_block    checks and decodes one block, as read by one pread
 *                  (one reused ZSTD_DCtx), then hands out its flows,
 *                  records and frames without further checks.
 *   store_chunk    checks and decodes a whole chunk (recovery, verify,
 *                  reindex) and walks its records in (ts, seq) order.
 *
 * Error codes: TV_E_FORMAT (not a chunk), TV_E_VERSION (a chunk of
 * another format version, format 1's included: store_chunk_version
 * names it),
 * TV_E_TRUNCATED, TV_E_CORRUPT (a CRC or a structure check), TV_E_HASH
 * (the body's SHA-256), TV_E_NOMEM, TV_E_ZSTD (compression failed).
 * ================================================================== */

#define STORE_FORMAT_VERSION 3 /* of chunks and segments; the index says IDX_FORMAT_VERSION */
#define STORE_V2_HDR_LEN 128     /* chunk header */
#define STORE_V2_BLKREF_LEN 20   /* one block table entry in the head */
#define STORE_V2_BLK_HDR_LEN 32  /* block header */
#define STORE_V2_MAX_BLOCKS 64
#define STORE_V2_KEY_LEN 40      /* flow key, opaque to store/ */
#define STORE_V2_DIR_LEN 52      /* flow directory entry */
#define STORE_V2_REC_HDR_LEN 28  /* record header in section A */
#define STORE_V2_MAX_A_RAW (16u << 20)  /* section A of one block, decoded */
/* Section A of a block of n records is at least a context, a directory
 * entry and the record columns. */
#define STORE_V2_MIN_A_RAW(n) \
	((uint64_t)STORE_CTX_LEN + STORE_V2_DIR_LEN + (uint64_t)(n) * STORE_V2_REC_HDR_LEN)
#define STORE_V2_MAX_HEAD (4u + STORE_MAX_TAG + STORE_V2_MAX_BLOCKS * STORE_V2_BLKREF_LEN)
/* Sum of a_raw over the blocks of one chunk (bounds the memory a
 * whole-chunk load needs). */
#define STORE_V2_MAX_A_CHUNK (64u << 20)
/* Largest chunk body a header may announce: the biggest head, then the
 * blocks (headers, section A as zstd's worst case, which is at most
 * a_raw + a_raw/256 + 64 per block), then every frame byte as a tail. */
#define STORE_V2_MAX_BODY                                                              \
	((uint64_t)STORE_V2_MAX_HEAD + (uint64_t)STORE_V2_MAX_BLOCKS * (STORE_V2_BLK_HDR_LEN + 64) + \
	 STORE_V2_MAX_A_CHUNK + STORE_V2_MAX_A_CHUNK / 256 + STORE_MAX_RAW)
/* Largest stored block: its header, section A at zstd's worst case, and
 * every frame byte of the chunk as a tail. */
#define STORE_V2_MAX_BLOCK_LEN                                                         \
	((uint64_t)STORE_V2_BLK_HDR_LEN + STORE_V2_MAX_A_RAW + STORE_V2_MAX_A_RAW / 256 + 64 + \
	 STORE_MAX_RAW)

/* The chunk header (FORMAT.md "Chunk header"), checked. */
typedef struct store_hdr {
	uint64_t chunk_id;
	uint64_t first_ts;   /* smallest record ts */
	uint64_t last_ts;    /* largest record ts */
	uint64_t orig_bytes; /* sum of origlen */
	uint32_t npkts;
	uint32_t nflows;     /* flow directory entries of all blocks */
	uint32_t raw_len;    /* sum of caplen */
	uint32_t body_len;   /* bytes after the header: the chunk is 128 + body_len */
	uint32_t head_len;   /* producer tag + block table */
	uint16_t nblocks;
	uint8_t sha256[32];  /* SHA-256 of the body */
} store_hdr;

/* One entry of the block table (FORMAT.md "Head"). */
typedef struct store_blkref {
	uint32_t offset; /* from the start of the body */
	uint32_t len;    /* stored bytes, block header included */
	uint32_t nrec;
	uint32_t a_raw;  /* section A decoded */
	uint32_t a_comp; /* section A stored: a query reads the block's first
	                  * 32 + a_comp bytes, then only the tails it returns */
} store_blkref;

/* The STORE_V2_BLKREF_LEN bytes of an entry, as the head and the index's
 * chunk record both hold it (no check: the readers check the fields). */
void store_blkref_put(uint8_t *p, const store_blkref *r);
void store_blkref_get(const uint8_t *p, store_blkref *r);
/* The checks of one entry that need nothing else (FORMAT.md "Head"),
 * shared by the head and the index's chunk record: 32 <= len <=
 * STORE_V2_MAX_BLOCK_LEN, a_comp <= len - 32 and <= a_raw + a_raw/256 +
 * 64, nrec >= 1, STORE_V2_MIN_A_RAW(nrec) <= a_raw <= STORE_V2_MAX_A_RAW.
 * 0 or TV_E_CORRUPT. */
int store_blkref_check(const store_blkref *r);

/*
 * The format version of a chunk header, read without any other check, so
 * that a caller can name it: 0 and *version when the 8-byte magic matches
 * and at least 10 bytes are there, TV_E_FORMAT when the magic differs,
 * TV_E_TRUNCATED when fewer bytes are given.
 */
int store_chunk_version(const uint8_t *p, size_t len, uint16_t *version);

/*
 * Checks a chunk header (len >= 128; bytes past 128 are not
 * read) and fills *h (may be NULL).  In this order: magic (TV_E_FORMAT;
 * fewer than 128 bytes: TV_E_TRUNCATED, or TV_E_FORMAT when those present
 * already differ from the magic); version: 0 is TV_E_FORMAT, any other
 * value but 3 (formats 1's and 2's chunks included) TV_E_VERSION, before the CRC
 * because another version may lay the header out differently; hdr_crc,
 * reserved fields and limits (TV_E_CORRUPT).
 */
int store_hdr_parse(const uint8_t *p, size_t len, store_hdr *h);

/*
 * Checks the head (the head_len bytes at the start of the body: producer
 * tag and block table) against a checked header: blocks back to back from
 * head_len to body_len, nrec summing to npkts, limits.  refs receives
 * h->nblocks entries; *tag points into head.  TV_E_TRUNCATED when
 * len < h->head_len, TV_E_CORRUPT.
 */
int store_head_parse(const store_hdr *h, const uint8_t *head, size_t len,
                     store_blkref refs[STORE_V2_MAX_BLOCKS], const uint8_t **tag,
                     uint32_t *taglen);

/*
 * Sets the chunk id of a sealed chunk in place (it is under hdr_crc, not
 * under the SHA-256), so that the one ordered writer numbers chunks in
 * append order while sealers run in parallel.  The header must be a valid
 * chunk header (store_hdr_parse's codes), else it is left unchanged.
 */
int store_chunk_set_id(uint8_t *chunk, size_t len, uint64_t chunk_id);

/* ------------------------------------------------------- v2 packer */

typedef struct store_packer_cfg {
	uint32_t raw_target;   /* seal at this many frame bytes; default 1 MiB,
	                        * at most STORE_MAX_RAW */
	uint32_t block_target; /* section-A bytes per block; default 32 KiB,
	                        * 16 KiB..1 MiB */
	int zstd_level;        /* default 3 */
	uint32_t split_min;    /* captured payload bytes the entropy test needs;
	                        * default 128; 0 keeps every frame whole in A */
	uint32_t split_pct;    /* distinct-byte threshold in percent of the count
	                        * expected of random bytes; default 85, 1..100 */
} store_packer_cfg;

void store_packer_cfg_default(store_packer_cfg *cfg);

typedef struct store_packer store_packer;

/* cfg NULL means defaults; out-of-range values are clamped. */
int store_packer_new(const store_packer_cfg *cfg, store_packer **out);
void store_packer_free(store_packer *p); /* accepts NULL */

/*
 * Adds one packet: the frame is copied (no allocation once the buffers
 * have grown to a chunk's size).  flowkey (STORE_V2_KEY_LEN bytes) is
 * opaque here: packets with equal key and equal tunnel metadata are one
 * flow.  payload_off is where the L4 payload starts in the frame: 0 when
 * unknown, caplen (or more) when no payload byte was captured; in both
 * cases the frame stays whole in section A, and the bytes before
 * payload_off are taken as headers (the first 64 when it is 0).
 * pkt->info is read only for its protocol and ports, which order the
 * flows of the chunk (a zeroed info is valid; FORMAT.md "Writer's rules").
 *
 * Returns 0; TV_E_FULL when the packer is not empty and the packet would
 * take the frame bytes past raw_target or could make the chunk need more
 * than 64 blocks (seal, then add it again; an empty packer takes any
 * valid packet); TV_E_RANGE when caplen > STORE_MAX_CAPLEN or frame is
 * NULL with caplen > 0; TV_E_NOMEM.  On any error the packer is unchanged.
 * The first add after a seal starts a new chunk (as reset does).
 */
int store_packer_add(store_packer *p, const tv_pkt *pkt, const uint8_t *flowkey,
                     uint32_t payload_off);
uint32_t store_packer_count(const store_packer *p); /* packets of the open chunk */
uint64_t store_packer_first_ts(const store_packer *p); /* smallest ts so far */
/* true once the frame bytes have reached raw_target. */
bool store_packer_full(const store_packer *p);

/* Sets the producer tag of the open chunk (at most STORE_MAX_TAG bytes,
 * else TV_E_RANGE), kept in the head.  A tag set after a seal belongs to
 * the next chunk. */
int store_packer_set_tag(store_packer *p, const uint8_t *tag, uint32_t len);

/*
 * Seals the open chunk: records grouped by flow (within a flow by
 * (ts, seq), stable), flows ordered by class then first packet, blocks
 * laid out, section A compressed, CRCs and the SHA-256 computed.  *chunk and *len
 * point into p; hdr (may be NULL) receives the header fields.  The chunk
 * bytes and the flow list below stay valid until the next add, set_tag,
 * seal or reset.  TV_E_RANGE when the packer is empty; on TV_E_ZSTD or
 * TV_E_NOMEM the packets stay in the packer.
 */
int store_packer_seal(store_packer *p, uint64_t chunk_id, const uint8_t **chunk, size_t *len,
                      store_hdr *hdr);
void store_packer_reset(store_packer *p);

/* The distinct flows (key + tunnel metadata) of the chunk just sealed,
 * in chunk order, with a bitmap of the blocks that hold their records
 * (bit i = block i): what the index posts.  Borrowed until the next add,
 * set_tag, seal or reset. */
typedef struct store_pflow {
	const uint8_t *key;     /* STORE_V2_KEY_LEN bytes */
	const tv_tunmeta *tun;
	uint64_t blocks;
	uint32_t nrec;
} store_pflow;

uint32_t store_packer_nflows(const store_packer *p); /* 0 when nothing is sealed */
/* Flow i < nflows, else TV_E_RANGE. */
int store_packer_flow(const store_packer *p, uint32_t i, store_pflow *f);

/* What the last seal did, for benchmarks and counters. */
typedef struct store_pack_stats {
	uint32_t nblocks;
	uint32_t split_pkts; /* packets whose payload went to section B */
	uint64_t a_raw;      /* section A bytes, all blocks, before zstd */
	uint64_t a_stored;   /* section A bytes as stored */
	uint64_t b_len;      /* section B bytes */
} store_pack_stats;

void store_packer_stats(const store_packer *p, store_pack_stats *st);

/* ------------------------------------------------ v2 block decoder */

/* A flow directory entry of a decoded block. */
typedef struct store_bflow {
	const uint8_t *key;     /* STORE_V2_KEY_LEN bytes */
	const tv_tunmeta *tun;
	uint32_t nrec;
	uint32_t first;         /* index of its first record in the block */
	uint32_t tail_off;      /* its records' tails: where they start in section B */
	uint32_t tail_len;      /* and how many bytes (0: none) */
	uint32_t tail_crc;      /* CRC-32C of those bytes */
	const uint8_t *tails;   /* the bytes once given (checked), else NULL */
} store_bflow;

/* A record of a decoded block. */
typedef struct store_brec {
	uint64_t ts_ns;
	uint32_t seq;     /* arrival position in the chunk */
	uint32_t caplen;
	uint32_t origlen;
	uint32_t alen;    /* frame bytes in section A; the rest is the tail in B */
	uint32_t hlen;    /* of those, the leading bytes in the header area */
	uint32_t a_off;   /* where its header bytes start in decoded section A */
	uint32_t p_off;   /* where its other alen - hlen bytes start (payload area) */
	uint32_t b_off;   /* where the tail starts in section B */
	uint16_t flags;   /* STORE_REC_* */
	uint16_t flow;    /* index of its flow directory entry */
} store_brec;

typedef struct store_block store_block;

int store_block_new(store_block **out);
/* A block that uses the zstd context and frame scratch of with (a block
 * of store_block_new, which must outlive it and is not decoded into at the
 * same time): many blocks kept decoded share one context. */
int store_block_new_sharing(store_block *with, store_block **out);
void store_block_free(store_block *b); /* accepts NULL */

/*
 * Checks and decodes one block: p/len are exactly the block's stored bytes
 * (its header, section A, section B).  Checks the CRC (header and section
 * A), decodes section A, and checks the context table, the flow directory
 * and every record, so that the accessors below need no checks; then every
 * flow's tails against its CRC.  h and ref (either may be NULL) add the
 * checks that need the chunk: the block table entry (len, nrec, a_raw,
 * a_comp), seq < npkts and first_ts <= ts <= last_ts.
 *
 * The block borrows section B from p: keep those bytes unchanged until the
 * next decode.  On error nothing is loaded (nrec is 0).
 */
int store_block_decode(store_block *b, const uint8_t *p, size_t len, const store_hdr *h,
                       const store_blkref *ref);
/*
 * The same checks and decoding from the block's first 32 + a_comp bytes
 * alone (len must be exactly that: a_comp is the header's, and ref's when
 * given; b_len is taken from the header and ref->len).  No flow has its
 * tails yet: give them with store_block_tails_put before asking for a
 * frame that has one.  What a query does: read the header and section A,
 * then only the tails of the flows it returns.
 */
int store_block_decode_a(store_block *b, const uint8_t *p, size_t len, const store_hdr *h,
                         const store_blkref *ref);
/* The stored bytes of section A (the block's first 32 + that are what
 * store_block_decode_a reads); 0 when nothing is decoded. */
uint32_t store_block_a_comp(const store_block *b);
/*
 * Gives the tails of flows f0..f1-1 (f0 < f1 <= nflows): p/len are the
 * bytes of section B from flow f0's tail_off to the end of flow f1-1's
 * tails (their spans lie back to back), borrowed until the next decode.
 * Each flow's bytes are checked against its tail_crc: TV_E_CORRUPT on a
 * mismatch (none of them is taken; tails given before stay), TV_E_RANGE
 * on other bounds or a len that is not the span.
 */
int store_block_tails_put(store_block *b, uint32_t f0, uint32_t f1, const uint8_t *p,
                          size_t len);
uint32_t store_block_nflows(const store_block *b);
uint32_t store_block_nrec(const store_block *b);
/* Entry i of the decoded block, or NULL when i is out of range.  Valid
 * until the next decode or free. */
const store_bflow *store_block_flow(const store_block *b, uint32_t i);
const store_brec *store_block_rec(const store_block *b, uint32_t i);
/*
 * The frame of record i (caplen bytes), or NULL when i is out of range or
 * its flow's tails were not given (store_block_decode_a).
 * A frame stored in one piece (no tail, and its section-A bytes all in
 * the header area or all in the payload area) is returned in place
 * (valid until the next decode).  Any other is assembled into scratch (at
 * least caplen bytes), or when scratch is NULL into the block's own
 * buffer, valid until the next frame call or decode.
 */
const uint8_t *store_block_frame(store_block *b, uint32_t i, uint8_t *scratch);
/* Bytes decoded since store_block_new: section A of every decode plus the
 * tail bytes copied by store_block_frame (the query statistics). */
uint64_t store_block_decoded(const store_block *b);

/* ------------------------------------------------- v2 whole chunk */

enum {
	STORE_LOAD_HASH = 1, /* check the SHA-256 of the body (TV_E_HASH) */
};

typedef struct store_chunk store_chunk;

int store_chunk_new(store_chunk **out);
void store_chunk_free(store_chunk *c); /* accepts NULL */

/*
 * Checks and decodes a whole chunk of len bytes (header and body, nothing
 * more: a longer len is TV_E_CORRUPT, a shorter one TV_E_TRUNCATED): the
 * header, the SHA-256 (with STORE_LOAD_HASH), the head, every block, and
 * then that the blocks agree with the header: flow directory entries sum
 * to nflows, every seq 0..npkts-1 occurs exactly once, and first_ts,
 * last_ts, orig_bytes and raw_len are what the records say.  hdr may be
 * NULL.  The chunk borrows p (the tails of section B) until the next load.
 * On error nothing is loaded (count is 0).
 */
int store_chunk_load(store_chunk *c, const uint8_t *p, size_t len, unsigned flags,
                     store_hdr *hdr);
/* The producer tag of the loaded chunk (may be empty). */
const uint8_t *store_chunk_tag(const store_chunk *c, uint32_t *len);
uint32_t store_chunk_nblocks(const store_chunk *c);
/* Block i of the loaded chunk, or NULL; valid until the next load. */
const store_block *store_chunk_block(const store_chunk *c, uint32_t i);
uint32_t store_chunk_count(const store_chunk *c); /* records (= npkts) */
/* The k-th record in (ts, seq) order, i.e. in capture order; *block (may
 * be NULL) receives its block.  NULL when k is out of range. */
const store_brec *store_chunk_rec(const store_chunk *c, uint32_t k, uint32_t *block);
/* Its frame, as store_block_frame (scratch NULL: the chunk's own buffer). */
const uint8_t *store_chunk_frame(store_chunk *c, uint32_t k, uint8_t *scratch);

#endif
