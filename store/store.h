/*
 * store.h — segment files and the types and limits of chunks (the on-disk
 * packet archive).
 *
 * store/ knows bytes, lengths, timestamps, hashes and zstd; it does not know
 * what an IP address is.  The byte layout is specified in store/FORMAT.md;
 * keep the two in step.
 *
 *   store_segs      the append-only segment files of one store directory:
 *                   append, fdatasync, pread, tail scan for recovery,
 *                   truncation of a torn tail, removal for retention.
 *
 * chunk2.h: the chunks (the packer that writes them, the readers of their
 * header, head, blocks and whole chunk).  storedir.h: the store directory
 * as a whole.
 */
#ifndef STORE_H
#define STORE_H

#include "../ingest/tv.h"

#include <sys/types.h>

typedef struct store_chunk store_chunk; /* a decoded chunk: chunk2.h */

#define STORE_SEG_HDR_LEN 64

/* Limits and fixed sizes (FORMAT.md "Limits"). */
#define STORE_MAX_RAW (64u << 20)  /* frame bytes of one chunk */
#define STORE_MAX_CAPLEN 262144u   /* frame bytes of one record */
#define STORE_CTX_LEN 48           /* bytes of one context table entry */
#define STORE_MAX_TAG 4096u        /* bytes of a chunk's producer tag */

/* A chunk's place in the segments and its figures, as its header and the
 * index's record give them (FORMAT.md "Chunk header", "Index"). */
typedef struct store_chunk_meta {
	uint64_t chunk_id;
	uint32_t segment;    /* segment file number */
	uint32_t length;     /* bytes on disk: header + body */
	uint64_t offset;     /* offset of the chunk header in the segment */
	uint64_t first_ts;   /* ns, smallest packet timestamp */
	uint64_t last_ts;    /* ns, largest packet timestamp */
	uint32_t npkts;
	uint32_t raw_len;    /* frame bytes (the sum of caplen) */
	uint64_t orig_bytes; /* sum of origlen of the packets */
	uint8_t sha256[32];  /* SHA-256 of the body (all after the header) */
} store_chunk_meta;

/* --------------------------------------------------------------- records */

enum {
	STORE_REC_SYNTH_L2 = 0x01,    /* tv_pkt.synth_l2 */
	STORE_REC_DECAP_ERROR = 0x02, /* tv_pkt.decap_error */
};

/* A packet record as a query hands it out. */
typedef struct store_rec {
	uint64_t ts_ns;
	uint32_t caplen;
	uint32_t origlen;
	uint32_t flags;          /* STORE_REC_* */
	const tv_tunmeta *tun;   /* borrowed from the reader */
	const uint8_t *frame;    /* borrowed from the reader */
} store_rec;

/* --------------------------------------------------------------- segments */

typedef struct store_segs_cfg {
	uint64_t segment_size; /* rotate after this many bytes; default 1 GiB */
	bool writable;         /* default false */
	bool sync;             /* default true; false makes store_segs_sync and the
	                        * syncs at segment creation no-ops (tests, benches);
	                        * truncate and remove always sync */
	uint16_t version;      /* the format version written into new segment
	                        * headers and the only one accepted in existing
	                        * ones: 3 (default; 0 means 3), the one this build
	                        * reads (STORE_FORMAT_VERSION) */
} store_segs_cfg;

void store_segs_cfg_default(store_segs_cfg *cfg);

typedef struct store_segs store_segs;

/*
 * Opens DIR/segments (created 0700 when writable; DIR itself must exist,
 * else ENOENT).  store_uuid (16 bytes) is written into new segment headers
 * and checked in existing ones (TV_E_CORRUPT when it differs); it may be
 * NULL only when not writable, to skip the check.  A segment whose header
 * version is not 3 (formats 1 and 2 included) is refused with TV_E_VERSION (at
 * open for the newest, at the first read of the others;
 * store_segs_diagnose names it); a cfg->version other than 0 or 3 is
 * TV_E_RANGE.  Segment files are created 0600, all descriptors O_CLOEXEC.
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
 * below 64, e.g. 0, means the first chunk).  Each chunk that is complete
 * and verifies (store_chunk_load with STORE_LOAD_HASH, so every block's
 * CRC too) is passed to cb, in order, with meta->segment and meta->offset
 * set and the header's fields (length 128 + body_len, sha256 of the
 * body); chunk is borrowed until cb returns, and store_segs_scan_chunk()
 * is the decoded chunk while cb runs.  cb may be NULL.  The scan stops at the first chunk that is incomplete or
 * fails, and returns 0 with *valid_end = the offset just past the last good
 * chunk (offset itself, or 64, when none) and *torn = file size - *valid_end.
 * A file shorter than its header gives *valid_end 0, *torn its size.
 * cb returning non-zero stops the scan with that value, *valid_end = the
 * offset of the chunk cb refused, *torn 0.  TV_E_VERSION when a chunk of
 * another format is met (never cut it; *valid_end and *torn as above);
 * TV_E_TRUNCATED when offset is past the end of the file (*valid_end = size);
 * an errno for I/O errors.  Nothing is changed on disk.
 */
int store_segs_scan(store_segs *s, uint32_t segment, uint64_t offset, store_scan_cb cb,
                    void *ctx, uint64_t *valid_end, uint64_t *torn);
/* The chunk the running scan just passed to its callback (decoded and
 * checked), or NULL outside a scan's callback. */
const store_chunk *store_segs_scan_chunk(const store_segs *s);
/* Cuts a segment at offset (the torn tail) and fsyncs it.  offset is 0 or
 * 64..size, else TV_E_RANGE; cutting the write segment to 0 rewrites its
 * header.  EROFS when read-only. */
int store_segs_truncate(store_segs *s, uint32_t segment, uint64_t offset);
/* The store identity written in the lowest-numbered segment header under
 * DIR with the segment magic and a version other than 0 (for rebuilding an
 * index).  TV_E_NOTFOUND when there is none. */
int store_segs_read_uuid(const char *dir, uint8_t uuid[16]);
/* The same, with the format version of that segment's header (any, so
 * that a store of another format can be named). */
int store_segs_read_ident(const char *dir, uint8_t uuid[16], uint16_t *version);

/*
 * For error messages: looks at every segment file's header under DIR and
 * describes the first one a reader would refuse (file, offset, what was
 * found and what was expected, and what to do) in buf.  Returns 1 when it
 * found one, else 0.  store_uuid may be NULL (no store-id check).
 */
int store_segs_diagnose(const char *dir, const uint8_t store_uuid[16], char *buf, size_t cap);

/* Deletes one segment file (retention) and fsyncs the directory.  ENOENT
 * when it is not there; EROFS when read-only. */
int store_segs_remove(store_segs *s, uint32_t segment);

/* The store directory as a whole (names, lock, owner, VNI map copies):
 * storedir.h. */

#endif
