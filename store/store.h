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
 *
 * storedir.h: the store directory as a whole.
 */
#ifndef STORE_H
#define STORE_H

#include "../ingest/tv.h"

#include <sys/types.h>

typedef struct store_chunk store_chunk; /* a decoded version-2 chunk: chunk2.h */

#define STORE_CHUNK_HDR_LEN 96
#define STORE_SEG_HDR_LEN 64

/* Limits and fixed sizes of format version 1 (FORMAT.md "Limits"). */
#define STORE_FORMAT_VERSION 1
#define STORE_MAX_RAW (64u << 20)  /* payload bytes of one chunk */
#define STORE_MAX_CAPLEN 262144u   /* frame bytes of one record */
#define STORE_MAX_CTX 65535u       /* context table entries of one chunk */
#define STORE_CTX_LEN 48           /* bytes of one context table entry */
#define STORE_REC_HDR_LEN 20       /* bytes of a record before its frame */
#define STORE_MAX_TAG 4096u        /* bytes of a chunk's producer tag */
#define STORE_TAG_HDR_LEN 4        /* the u32 tag length that starts every payload */

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

/* Appends one packet (copies frame, caplen bytes; no allocation once the
 * buffers have grown to a chunk's size).  Returns 0; TV_E_FULL when the
 * builder is not empty and the packet would take the payload (context table
 * + records) past raw_target, or a new context would be the 65536th: seal,
 * then add it again.  A packet larger than raw_target is accepted into an
 * empty builder.  TV_E_RANGE when caplen > STORE_MAX_CAPLEN or frame is NULL
 * with caplen > 0; TV_E_NOMEM.  On any error the builder is unchanged. */
int store_builder_add(store_builder *b, const tv_pkt *pkt);
/* true once the payload has reached raw_target (no further packet fits);
 * usually add's TV_E_FULL comes first. */
bool store_builder_full(const store_builder *b);
uint32_t store_builder_count(const store_builder *b);
uint64_t store_builder_first_ts(const store_builder *b); /* smallest ts so far */

/*
 * Sets the producer tag of the chunk being built: opaque bytes (at most
 * STORE_MAX_TAG) stored at the start of the payload and handed back by
 * store_reader_tag().  The vault keeps its source marks there so that a
 * chunk recovered after a crash still says which file packets it holds.
 * Cleared by seal and reset.  TV_E_RANGE when too long.
 */
int store_builder_set_tag(store_builder *b, const uint8_t *tag, uint32_t len);

/*
 * Seals what was added into one chunk: records are ordered by timestamp
 * (stable, so equal times keep arrival order), compressed, hashed.
 * *chunk and *len point into b and stay valid until the next add, seal or reset.
 * meta (may be NULL) is filled except segment and offset (zero).  The builder
 * is left empty.  TV_E_RANGE when the builder is empty; on TV_E_ZSTD or
 * TV_E_NOMEM the packets stay in the builder.
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
/* Parses only the fixed header (no hash, no decompression): magic, version,
 * header CRC, reserved flags and the limits of FORMAT.md.  meta may be NULL;
 * meta->length is 96 + comp_len, segment and offset are zero. */
int store_chunk_header_parse(const uint8_t *hdr, size_t len, store_chunk_meta *meta);

uint32_t store_reader_count(const store_reader *r);
/* The producer tag of the loaded chunk (may be empty); valid until the next load. */
const uint8_t *store_reader_tag(const store_reader *r, uint32_t *len);
/* Record i of the loaded chunk, 0 <= i < count (else *rec is zeroed);
 * rec's pointers are valid until the next load or free. */
void store_reader_get(const store_reader *r, uint32_t i, store_rec *rec);

/* --------------------------------------------------------------- segments */

typedef struct store_segs_cfg {
	uint64_t segment_size; /* rotate after this many bytes; default 1 GiB */
	bool writable;         /* default false */
	bool sync;             /* default true; false makes store_segs_sync and the
	                        * syncs at segment creation no-ops (tests, benches);
	                        * truncate and remove always sync */
	uint16_t version;      /* the store's format version (the index decides
	                        * it at creation): written into new segment
	                        * headers, and the only one accepted in existing
	                        * ones; 1 (default; 0 means 1) or 2 */
} store_segs_cfg;

void store_segs_cfg_default(store_segs_cfg *cfg);

typedef struct store_segs store_segs;

/*
 * Opens DIR/segments (created 0700 when writable; DIR itself must exist,
 * else ENOENT).  store_uuid (16 bytes) is written into new segment headers
 * and checked in existing ones (TV_E_CORRUPT when it differs); it may be
 * NULL only when not writable, to skip the check.  A segment whose header
 * version is not cfg->version is refused with TV_E_VERSION (at open for
 * the newest, at the first read of the others; store_segs_diagnose names
 * it); a cfg->version other than 0, 1 or 2 is TV_E_RANGE.  Segment files
 * are created 0600, all descriptors O_CLOEXEC.
 *
 * Writable: the newest segment's header is checked and, when the file is
 * shorter than its header (crash at creation), rewritten.  Read-only: never
 * writes or creates anything; a missing DIR/segments is an empty store.
 * A handle is used by one thread at a time.
 */
int store_segs_open(const char *dir, const uint8_t store_uuid[16], const store_segs_cfg *cfg,
                    store_segs **out);
void store_segs_close(store_segs *s); /* accepts NULL */

/* Appends one sealed chunk to the newest segment (a new one is started when
 * the newest has reached segment_size, or none exists; numbers are never
 * reused while the handle is open).  Not yet durable.  EROFS when the handle
 * is read-only.  On a failed write the partial chunk is cut off again. */
int store_segs_append(store_segs *s, const uint8_t *chunk, size_t len, uint32_t *segment,
                      uint64_t *offset);
/* fdatasync of the segment(s) written since the last sync (a segment left by
 * rotation is synced when the next one is started). */
int store_segs_sync(store_segs *s);

/* Reads len bytes at (segment, offset) into buf.  TV_E_TRUNCATED when the
 * file is shorter, ENOENT when the segment is gone (pruned). */
int store_segs_read(store_segs *s, uint32_t segment, uint64_t offset, uint32_t len, uint8_t *buf);

/* Segment numbers present, ascending.  *ids is malloc'd; caller frees. */
int store_segs_list(store_segs *s, uint32_t **ids, size_t *n);
/* Size in bytes of one segment file, or of all (segment == 0). */
int store_segs_size(store_segs *s, uint32_t segment, uint64_t *bytes);
/* Newest segment number, 0 if none (as of open, or this handle's own
 * appends and removals: a read-only handle does not see later rotations). */
uint32_t store_segs_newest(const store_segs *s);

typedef int (*store_scan_cb)(void *ctx, const store_chunk_meta *meta, const uint8_t *chunk,
                             size_t len);

/*
 * Recovery scan: reads whole chunks of `segment` from `offset` on (an offset
 * below 64, e.g. 0, means the first chunk), in the format of the segment's
 * version.  Each chunk that is complete and verifies (version 1:
 * store_reader_load with the hash; version 2: store_chunk_load with
 * STORE_LOAD_HASH, so every block's CRC too) is passed to cb, in order,
 * with meta->segment and meta->offset set; chunk is borrowed until cb
 * returns.  For a version-2 chunk, meta holds the header's fields
 * (length 128 + body_len, comp_len = body_len, nctx 0, sha256 of the
 * body) and store_segs_scan_chunk() the decoded chunk while cb runs.
 * cb may be NULL.  The scan stops at the first chunk that is incomplete or
 * fails, and returns 0 with *valid_end = the offset just past the last good
 * chunk (offset itself, or 64, when none) and *torn = file size - *valid_end.
 * A file shorter than its header gives *valid_end 0, *torn its size.
 * cb returning non-zero stops the scan with that value, *valid_end = the
 * offset of the chunk cb refused, *torn 0.  TV_E_VERSION when a chunk of a
 * newer format is met (never cut it; *valid_end and *torn as above);
 * TV_E_TRUNCATED when offset is past the end of the file (*valid_end = size);
 * an errno for I/O errors.  Nothing is changed on disk.
 */
int store_segs_scan(store_segs *s, uint32_t segment, uint64_t offset, store_scan_cb cb,
                    void *ctx, uint64_t *valid_end, uint64_t *torn);
/* The version-2 chunk the running scan just passed to its callback
 * (decoded and checked), or NULL outside a version-2 scan's callback. */
const store_chunk *store_segs_scan_chunk(const store_segs *s);
/* The format version of the handle's segments (cfg->version, 0 made 1). */
uint16_t store_segs_version(const store_segs *s);
/* Cuts a segment at offset (the torn tail) and fsyncs it.  offset is 0 or
 * 64..size, else TV_E_RANGE; cutting the write segment to 0 rewrites its
 * header.  EROFS when read-only. */
int store_segs_truncate(store_segs *s, uint32_t segment, uint64_t offset);
/* The store identity written in the lowest-numbered readable segment header
 * under DIR (for rebuilding an index).  TV_E_NOTFOUND when there is none. */
int store_segs_read_uuid(const char *dir, uint8_t uuid[16]);
/* The same, with the format version of that segment's header. */
int store_segs_read_ident(const char *dir, uint8_t uuid[16], uint16_t *version);

/*
 * For error messages: looks at every segment file's header under DIR and
 * describes the first one a reader would refuse (file, offset, what was
 * found and what was expected, and what to do) in buf.  Returns 1 when it
 * found one, else 0.  store_uuid may be NULL (no store-id check).  version
 * is the store's format version (the index's); 0 when unknown, then any
 * version this build reads passes.
 */
int store_segs_diagnose_version(const char *dir, const uint8_t store_uuid[16], unsigned version,
                                char *buf, size_t cap);
/* store_segs_diagnose_version with version 0. */
int store_segs_diagnose(const char *dir, const uint8_t store_uuid[16], char *buf, size_t cap);

/* Deletes one segment file (retention) and fsyncs the directory.  ENOENT
 * when it is not there; EROFS when read-only. */
int store_segs_remove(store_segs *s, uint32_t segment);

/* The store directory as a whole (names, lock, owner, VNI map copies):
 * storedir.h. */

/* Format version 2's chunks (flow-clustered blocks): chunk2.h. */

#endif
