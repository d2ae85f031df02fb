/*
 * store.h — segment files and chunks (the on-disk packet archive).
 *
 * store/ knows bytes, lengths, timestamps, hashes and zstd; it does not know
 * what an IP address is.  The byte layout is specified in store/FORMAT.md;
 * keep the two in step.
 *
 *   store_builder   collects packet records in memory and seals them into
 *                   one chunk: header + one zstd frame (reused ZSTD_CCtx).
 *   store_reader    checks and decodes one chunk (reused ZSTD_DCtx).
 *   store_segs      the append-only segment files of one store directory:
 *                   append, fdatasync, pread, tail scan for recovery,
 *                   truncation of a torn tail, removal for retention.
 */
#ifndef STORE_H
#define STORE_H

#include "../ingest/tv.h"

#define STORE_CHUNK_HDR_LEN 96
#define STORE_SEG_HDR_LEN 64

/* What the index keeps about each chunk (see FORMAT.md "chunk header"). */
typedef struct store_chunk_meta {
	uint64_t chunk_id;
	uint32_t segment;    /* segment file number */
	uint32_t length;     /* bytes on disk: header + zstd frame */
	uint64_t offset;     /* offset of the chunk header in the segment */
	uint64_t first_ts;   /* ns, smallest packet timestamp */
	uint64_t last_ts;    /* ns, largest packet timestamp */
	uint32_t npkts;
	uint32_t raw_len;    /* uncompressed payload length */
	uint32_t comp_len;   /* zstd frame length */
	uint32_t nctx;       /* distinct tunnel contexts in the chunk */
	uint64_t orig_bytes; /* sum of origlen of the packets */
	uint8_t sha256[32];  /* SHA-256 of the zstd frame bytes */
} store_chunk_meta;

/* ---------------------------------------------------------------- builder */

typedef struct store_builder_cfg {
	uint32_t raw_target; /* seal when the payload reaches this; default 1 MiB */
	int zstd_level;      /* default 3 */
} store_builder_cfg;

void store_builder_cfg_default(store_builder_cfg *cfg);

typedef struct store_builder store_builder;

int store_builder_new(const store_builder_cfg *cfg, store_builder **out);
void store_builder_free(store_builder *b); /* accepts NULL */

/* Appends one packet (copies frame, caplen bytes).  Returns 0, or TV_E_FULL
 * when it would not fit (payload limit or 65535 contexts): seal first.
 * A packet larger than raw_target is accepted into an empty builder. */
int store_builder_add(store_builder *b, const tv_pkt *pkt);
/* true once the payload has reached raw_target. */
bool store_builder_full(const store_builder *b);
uint32_t store_builder_count(const store_builder *b);
uint64_t store_builder_first_ts(const store_builder *b); /* smallest ts so far */

/*
 * Seals what was added into one chunk: records are ordered by timestamp
 * (stable, so equal times keep arrival order), compressed, hashed.
 * *chunk and *len point into b and stay valid until the next add, seal or reset.
 * meta is filled except segment and offset.  The builder is left empty.
 */
int store_builder_seal(store_builder *b, uint64_t chunk_id, const uint8_t **chunk,
                       size_t *len, store_chunk_meta *meta);
void store_builder_reset(store_builder *b);

/* ----------------------------------------------------------------- reader */

enum {
	STORE_REC_SYNTH_L2 = 0x01,    /* tv_pkt.synth_l2 */
	STORE_REC_DECAP_ERROR = 0x02, /* tv_pkt.decap_error */
};

typedef struct store_rec {
	uint64_t ts_ns;
	uint32_t caplen;
	uint32_t origlen;
	uint32_t flags;          /* STORE_REC_* */
	const tv_tunmeta *tun;   /* borrowed from the reader */
	const uint8_t *frame;    /* borrowed from the reader */
} store_rec;

typedef struct store_reader store_reader;

int store_reader_new(store_reader **out);
void store_reader_free(store_reader *r); /* accepts NULL */

/*
 * Checks and decodes one chunk (header + zstd frame, len bytes).  Checks
 * magic, version, reserved bits, lengths, the SHA-256 of the frame (when
 * verify_hash), zstd's content checksum, and that the records fill the
 * payload exactly.  On error nothing is loaded and the return says what:
 * TV_E_FORMAT (not a chunk), TV_E_VERSION, TV_E_TRUNCATED, TV_E_HASH,
 * TV_E_CORRUPT.  meta may be NULL.
 */
int store_reader_load(store_reader *r, const uint8_t *chunk, size_t len, bool verify_hash,
                      store_chunk_meta *meta);
/* Parses only the fixed header (no hash, no decompression). */
int store_chunk_header_parse(const uint8_t *hdr, size_t len, store_chunk_meta *meta);

uint32_t store_reader_count(const store_reader *r);
/* Record i of the loaded chunk, 0 <= i < count; valid until the next load. */
void store_reader_get(const store_reader *r, uint32_t i, store_rec *rec);

/* --------------------------------------------------------------- segments */

typedef struct store_segs_cfg {
	uint64_t segment_size; /* rotate after this many bytes; default 1 GiB */
	bool writable;
	bool sync;             /* fdatasync after each append batch; default true */
} store_segs_cfg;

void store_segs_cfg_default(store_segs_cfg *cfg);

typedef struct store_segs store_segs;

/*
 * Opens DIR/segments (created 0700 when writable).  store_uuid (16 bytes)
 * is written into new segment headers and checked in existing ones.
 * Segment files are created 0600.
 */
int store_segs_open(const char *dir, const uint8_t store_uuid[16], const store_segs_cfg *cfg,
                    store_segs **out);
void store_segs_close(store_segs *s); /* accepts NULL */

/* Appends one sealed chunk to the newest segment (a new one is started when
 * the newest has reached segment_size, or none exists).  Not yet durable. */
int store_segs_append(store_segs *s, const uint8_t *chunk, size_t len, uint32_t *segment,
                      uint64_t *offset);
/* fdatasync of the segment(s) written since the last sync. */
int store_segs_sync(store_segs *s);

/* Reads len bytes at (segment, offset) into buf.  TV_E_TRUNCATED when the
 * file is shorter, ENOENT when the segment is gone (pruned). */
int store_segs_read(store_segs *s, uint32_t segment, uint64_t offset, uint32_t len, uint8_t *buf);

/* Segment numbers present, ascending.  *ids is malloc'd; caller frees. */
int store_segs_list(store_segs *s, uint32_t **ids, size_t *n);
/* Size in bytes of one segment file, or of all (segment == 0). */
int store_segs_size(store_segs *s, uint32_t segment, uint64_t *bytes);
/* Newest segment number, 0 if none. */
uint32_t store_segs_newest(const store_segs *s);

typedef int (*store_scan_cb)(void *ctx, const store_chunk_meta *meta, const uint8_t *chunk,
                             size_t len);

/*
 * Recovery scan: reads whole chunks of `segment` from `offset` on.  Each
 * chunk that is complete and verifies (header, hash, decompression) is
 * passed to cb, in order; cb returning non-zero stops the scan with that
 * value.  The scan stops at the first chunk that is incomplete or fails,
 * and reports in *valid_end the offset just past the last good chunk and in
 * *torn the bytes after it.  Nothing is changed on disk.
 */
int store_segs_scan(store_segs *s, uint32_t segment, uint64_t offset, store_scan_cb cb,
                    void *ctx, uint64_t *valid_end, uint64_t *torn);
/* Cuts a segment at offset (the torn tail) and syncs it. */
int store_segs_truncate(store_segs *s, uint32_t segment, uint64_t offset);
/* Deletes one segment file (retention). */
int store_segs_remove(store_segs *s, uint32_t segment);

#endif
