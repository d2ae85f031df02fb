/*
 * idx2.h — the chunk index of the store format (store/FORMAT.md "Index
 * (LMDB)"): chunks of flow-clustered blocks, grouped into slices;
 * postings by flow (address, port+protocol, protocol, VNI) pointing at
 * (chunk, blocks).
 *
 * The tables are named v2_* (a name kept from when format 1's tables
 * lived beside them; format 1 is refused now).  The write engine commits
 * through idx_commit2, idx_query_run reads through idx2_cursor.
 *
 *   codec2.c   table codecs (strict decoders: TV_E_CORRUPT on every
 *              malformed value), the flow key, and the one function that
 *              derives a flow's postings (idx2_flow_postings).
 *   commit2.c  idx_commit2: one write transaction per batch of chunks;
 *              slice open/close, v2_opost appends, the fold into v2_post.
 *   tables2.c  chunk records, segment ends, totals.
 *   plan2.c    idx_plan2: an expression -> (chunk id, block bitmap) list.
 *   read2.c    idx2_cursor: the planned blocks read, matched and merged.
 */
#ifndef IDX2_H
#define IDX2_H

#include "idx_int.h"
#include "../store/chunk2.h"

/* ------------------------------------------------------------ limits */

#define IDX2_SLICE_MAX_CHUNKS 64
#define IDX2_SLICE_MAX_RAW ((uint64_t)64 << 20)

/* --------------------------------------------------- chunk record */

#define IDX2_CHUNK_FIXED 104
#define IDX2_CHUNK_MAX (IDX2_CHUNK_FIXED + STORE_V2_BLKREF_LEN * STORE_V2_MAX_BLOCKS)

/* The value of v2_chunks: what a query needs to read a chunk's blocks. */
typedef struct idx2_chunk {
	uint64_t chunk_id;
	uint32_t segment;
	uint32_t slice;      /* set by idx_commit2 */
	uint64_t offset;     /* of the chunk header in the segment */
	uint32_t length;     /* 128 + body_len */
	uint32_t npkts;
	uint64_t first_ts, last_ts, orig_bytes;
	uint32_t raw_len, nflows;
	uint8_t sha256[32];
	uint16_t nblocks;
	store_blkref blocks[STORE_V2_MAX_BLOCKS];
} idx2_chunk;

/* Returns the encoded length, 104 + 20 * nblocks (nblocks must be 1..64). */
size_t idx2_chunk_encode(const idx2_chunk *c, uint8_t out[IDX2_CHUNK_MAX]);
/* TV_E_CORRUPT unless: n == 104 + 20 * nblocks with 1 <= nblocks <= 64, the
 * crc matches, the reserved field is zero, the id equals key_id,
 * first_ts <= last_ts, npkts >= 1, nflows <= npkts, raw_len <= STORE_MAX_RAW,
 * length - 128 <= STORE_V2_MAX_BODY, and the blocks lie back to back (each
 * passing store_blkref_check, nrec <= npkts), the last one ending at
 * length - 128: a reader never allocates more for a record than the format
 * allows. */
int idx2_chunk_decode(const void *p, size_t n, uint64_t key_id, idx2_chunk *c);

/* Fills c from a sealed chunk (its header and head, which are
 * checked: store_hdr_parse, store_head_parse), placed at (segment,
 * offset).  slice is left 0. */
int idx2_chunk_from_sealed(const uint8_t *chunk, size_t len, uint32_t segment, uint64_t offset,
                           idx2_chunk *c);

/* --------------------------------------------------- slice record */

#define IDX2_SLICE_LEN 48
enum { IDX2_SLICE_OPEN = 1, IDX2_SLICE_CLOSED = 2 };

typedef struct idx2_slice {
	uint64_t first_chunk;
	uint32_t nchunks;    /* 1..64: chunk ids first_chunk .. first_chunk + nchunks - 1 */
	uint32_t segment;
	uint64_t first_ts, last_ts;
	uint64_t raw_bytes;  /* sum of raw_len */
	uint32_t state;      /* IDX2_SLICE_* */
} idx2_slice;

void idx2_slice_encode(const idx2_slice *s, uint8_t out[IDX2_SLICE_LEN]);
/* TV_E_CORRUPT unless 48 bytes, crc, 1 <= nchunks <= 64, the ids do not
 * wrap, first_ts <= last_ts, state 1 or 2. */
int idx2_slice_decode(const void *p, size_t n, idx2_slice *s);

/* ---------------------------------------------- small keys, values */

#define IDX2_STIME_KEY_LEN 12 /* first_ts BE64 | slice id BE32; value last_ts LE64 */
void idx2_stime_key(uint64_t first_ts, uint32_t slice, uint8_t out[IDX2_STIME_KEY_LEN]);
int idx2_stime_key_decode(const void *p, size_t n, uint64_t *first_ts, uint32_t *slice);
/* 8 bytes, last_ts >= first_ts (of its key), else TV_E_CORRUPT. */
int idx2_stime_val_decode(const void *p, size_t n, uint64_t first_ts, uint64_t *last_ts);

#define IDX2_SEGS_VAL_LEN 24
typedef struct idx2_seg {
	uint32_t first_slice, last_slice;
	uint64_t first_chunk, last_chunk;
} idx2_seg;
void idx2_seg_encode(const idx2_seg *s, uint8_t out[IDX2_SEGS_VAL_LEN]);
/* 24 bytes, first <= last for both, else TV_E_CORRUPT. */
int idx2_seg_decode(const void *p, size_t n, idx2_seg *s);

/* Running totals, meta "v2_totals" (10 x u64 LE; longer values accepted). */
typedef struct idx2_tot {
	uint64_t chunks, packets, orig_bytes, raw_bytes, stored_bytes, postings, segments;
	uint64_t slices, blocks, flows;
} idx2_tot;
#define IDX2_TOT_LEN 80
void idx2_tot_encode(const idx2_tot *t, uint8_t out[IDX2_TOT_LEN]);
int idx2_tot_decode(const void *p, size_t n, idx2_tot *t);

/* ---------------------------------------------------------- postings */

enum {
	IDX2_PT_ADDR = 'A',  /* address, 16 bytes, IPv4 mapped */
	IDX2_PT_PORT = 'P',  /* port BE16, IP protocol u8 */
	IDX2_PT_PROTO = 'R', /* IP protocol u8 */
	IDX2_PT_VNI = 'V',   /* VNI BE32, 0xFFFFFFFF untunnelled */
};
#define IDX2_PV_MAX 16 /* longest posting value */

/* One posting: type and value (tv = type | value, 1 + len bytes). */
typedef struct idx2_pv {
	uint8_t len;                  /* value bytes */
	uint8_t tv[1 + IDX2_PV_MAX];  /* type | value, zero padded */
} idx2_pv;

/* Value length of a posting type; 0 when the type is unknown. */
size_t idx2_pv_len(uint8_t type);
/* Checks type|value bytes (known type, exact length). */
int idx2_pv_check(const uint8_t *tv, size_t n);

/* At most 6 postings per flow: 2 addresses, 2 ports, protocol, VNI. */
#define IDX2_FLOW_PV_MAX 6

/*
 * The postings of one flow (flow key, tunnel context): its source and
 * destination address when its IP version is 4 or 6; its source and
 * destination port with its protocol when has_ports; its protocol when
 * the IP version is 4 or 6; its VNI (always).  Distinct values only (a
 * flow to itself posts its address once).  The one implementation used by
 * ingest, recovery, reindex and verify --deep.  TV_E_CORRUPT when the key
 * is malformed (idx2_flowkey_check).
 */
int idx2_flow_postings(const uint8_t key[STORE_V2_KEY_LEN], const tv_tunmeta *tun,
                       idx2_pv out[IDX2_FLOW_PV_MAX], size_t *n);

/* The flow key of a packet summary (FORMAT.md "The flow key"): ports in
 * network order, version 0 and a zero key when there is no IP layer. */
void idx2_flowkey_make(const tv_l3info *info, uint8_t key[STORE_V2_KEY_LEN]);
/* TV_E_CORRUPT unless: reserved byte zero, flags only has_ports, version 0,
 * 4 or 6, and a version-0 key all zero. */
int idx2_flowkey_check(const uint8_t key[STORE_V2_KEY_LEN]);

/* v2_opost: key chunk id BE64 | type | value; value crc32c LE32 |
 * varint(blocks), 5..14 bytes. */
#define IDX2_OKEY_MAX (8 + 1 + IDX2_PV_MAX)
#define IDX2_OVAL_MAX (4 + 10)
size_t idx2_okey_encode(uint64_t chunk_id, const idx2_pv *pv, uint8_t out[IDX2_OKEY_MAX]);
int idx2_okey_decode(const void *p, size_t n, uint64_t *chunk_id, idx2_pv *pv);
/* Returns the value's length. */
size_t idx2_oval_encode(const uint8_t *key, size_t klen, uint64_t blocks,
                        uint8_t out[IDX2_OVAL_MAX]);
/* TV_E_CORRUPT: a varint that is not exactly the n - 4 bytes after the crc
 * (cut short, longer than needed, over 64 bits, bytes after it), the crc
 * over key then those bytes, zero bitmap, or (nblocks 1..64 given; 0
 * skips it) a bit >= nblocks. */
int idx2_oval_decode(const uint8_t *key, size_t klen, const void *p, size_t n,
                     unsigned nblocks, uint64_t *blocks);

/* v2_post: key slice id BE32 | type | value; value crc32c LE32 then
 * (varint chunk delta, varint blocks) per chunk. */
#define IDX2_PKEY_MAX (4 + 1 + IDX2_PV_MAX)
#define IDX2_PVAL_MAX (4 + IDX2_SLICE_MAX_CHUNKS * (10 + 10))
size_t idx2_pkey_encode(uint32_t slice, const idx2_pv *pv, uint8_t out[IDX2_PKEY_MAX]);
int idx2_pkey_decode(const void *p, size_t n, uint32_t *slice, idx2_pv *pv);

/* LEB128: at most 10 bytes, shortest form.  put returns bytes written;
 * get returns false on a short, overlong, non-shortest or overflowing
 * encoding. */
size_t idx2_varint_put(uint8_t *p, uint64_t v);
bool idx2_varint_get(tv_cur *c, uint64_t *v);

/* Builds a v2_post value from (chunk, blocks) pairs of one value, in
 * increasing chunk order, all in the slice starting at first_chunk.
 * Returns the length (out holds IDX2_PVAL_MAX bytes). */
size_t idx2_pval_encode(const uint8_t *key, size_t klen, uint64_t first_chunk,
                        const uint64_t *chunks, const uint64_t *blocks, size_t n,
                        uint8_t out[IDX2_PVAL_MAX]);

/* Reads a v2_post value.  init checks the length (5..IDX2_PVAL_MAX) and
 * the crc over key then value; next hands out (chunk id, blocks) and
 * returns 1, or 0 at the end, TV_E_CORRUPT for a bad varint, a delta that
 * leaves the slice [first_chunk, first_chunk + nchunks) or does not move
 * on, a zero bitmap, or (nblocks given: nblocks[i] for chunk first + i) a
 * bit >= the chunk's nblocks. */
typedef struct idx2_piter {
	tv_cur c;
	uint64_t first, next_min, end;
	const uint8_t *nblocks;
	bool started;
} idx2_piter;
int idx2_piter_init(idx2_piter *it, const uint8_t *key, size_t klen, const void *p, size_t n,
                    const idx2_slice *s, const uint8_t *nblocks);
int idx2_piter_next(idx2_piter *it, uint64_t *chunk, uint64_t *blocks);

/* ------------------------------------------------------------ commit */

/* One chunk of a batch: its record (slice ignored) and its distinct flows
 * with the blocks that hold them (store_packer_flow at ingest, the
 * decoded blocks' directories at recovery; a flow may be listed once per
 * block, the bitmaps are OR-ed). */
typedef struct idx2_chunk_in {
	idx2_chunk rec;
	const store_pflow *flows;
	size_t nflows;
} idx2_chunk_in;

/*
 * Commits n chunks, in increasing id order, in ONE write transaction:
 * chunk records, slices, postings, v2_segs, the meta entries, then the
 * source marks and counter deltas (added to the stored counters; may be
 * NULL).  n may be 0 (marks and counters alone).  Call only once the
 * chunks are durable in their segment.  A chunk id indexed already fails
 * the batch with TV_E_EXISTS; ids not increasing (within the batch, or
 * not above the last indexed chunk) TV_E_RANGE; a malformed flow key or
 * record TV_E_CORRUPT; a full map TV_E_FULL.  Nothing is written on error.
 */
int idx_commit2(idx *x, const idx2_chunk_in *chunks, size_t n, const idx_source_mark *marks,
                size_t nmarks, const tv_counters *delta);

/*
 * Removes every chunk of a segment in one write transaction (retention;
 * the caller deletes the file after this returns): from v2_segs its
 * slices [s1, s2] and chunks [c1, c2]; the v2_post keys of slices s1..s2
 * (one range), the v2_opost keys of chunks c1..c2 (one range: there are
 * some only when the open slice was in this segment, which is then
 * closed without a successor), the slice records and their v2_stime
 * keys, the chunk records, the v2_segs key; totals are subtracted.
 * v2_max_slice_dur is not lowered.  A segment the index does not know
 * drops nothing (0).  TV_E_CORRUPT when a slice or chunk of the range
 * names another segment.
 */
int idx_segment_drop2(idx *x, uint32_t segment, uint64_t *chunks_dropped);

/* Reads back (for tests, verify, and the planner). */
int idx2_tot_get(idx *x, idx2_tot *t);
int idx2_chunk_get(idx *x, uint64_t chunk_id, idx2_chunk *c);

/* ---------------------------------------------- readers (tables2.c) */

/* A chunk record as idx.h's store_chunk_meta (what idx_chunk_get and a
 * query's hits hand out). */
void idx2_chunk_meta(const idx2_chunk *c, store_chunk_meta *m);
/* Visits every chunk record in id order inside one read transaction; cb
 * returning non-zero stops with that value.  cb may call the other read
 * functions (the environment is opened MDB_NOTLS), not idx_commit2. */
typedef int (*idx2_chunk_cb)(void *ctx, const idx2_chunk *c);
int idx2_chunk_foreach(idx *x, idx2_chunk_cb cb, void *ctx);
/* The record with the highest chunk id; TV_E_NOTFOUND when there is none. */
int idx2_chunk_last(idx *x, idx2_chunk *c);
/* The end (offset + length) of the last chunk the index names in a
 * segment; 0 when it names none. */
int idx2_segment_end(idx *x, uint32_t segment, uint64_t *end);
/* Whether the index names any chunk of a segment (one key lookup). */
int idx2_segment_known(idx *x, uint32_t segment, bool *known);

/* ------------------------------------------------------------- plan */

/* (chunk id, blocks) of a plan, sorted by chunk id, blocks non-zero. */
typedef struct idx2_hit {
	uint64_t chunk_id;
	uint64_t blocks;
	uint64_t first_ts; /* the chunk record's, as the plan read it */
} idx2_hit;

typedef struct idx2_plan_stats {
	uint64_t slices_visited;
	uint64_t keys_read;      /* posting, stime and chunk-record keys */
	uint64_t chunks_planned;
	uint64_t blocks_planned;
} idx2_plan_stats;

/*
 * The (chunk, blocks) that can hold a match of e (NULL or empty: every
 * block).  Every posting read is checked (crc, structure; a bit beyond
 * the chunk's blocks); on TV_E_CORRUPT, where (may be NULL, cap bytes)
 * names the table and key.  *hits is malloc'd, caller frees.  st may be
 * NULL.  Runs in its own read transaction.
 */
int idx_plan2(idx *x, const idx_expr *e, idx2_hit **hits, size_t *n, idx2_plan_stats *st,
              char *where, size_t cap);

/* ------------------------------------------------------------- read */

/* One packet handed out by idx_read2.  Pointers are valid until the
 * callback returns. */
typedef struct idx2_pkt {
	uint64_t ts_ns;
	uint64_t chunk_id;
	const idx2_chunk *chunk; /* its index record */
	uint32_t seq;          /* arrival position in its chunk */
	uint32_t caplen, origlen;
	uint16_t flags;        /* STORE_REC_* */
	const tv_tunmeta *tun;
	const uint8_t *frame;
	const tv_l3info *info; /* ingest_parse_inner of the frame, with the flow
	                        * key's ports when the frame has none (a later
	                        * fragment: ingest attributed them) */
} idx2_pkt;

typedef int (*idx2_pkt_cb)(void *ctx, const idx2_pkt *p);

typedef struct idx2_read_stats {
	uint64_t chunks_read;    /* chunks with a planned block read */
	uint64_t blocks_read;    /* preads of a block (re-reads included) */
	uint64_t bytes_read;     /* bytes of those preads and of IDX2_READ_VERIFY's */
	uint64_t bytes_decoded;  /* section A of every decode, tails copied */
	uint64_t pkts_scanned;   /* records of matching flows inside the window */
	uint64_t matched;        /* packets handed out */
	uint64_t redecodes;      /* blocks decoded again after eviction */
	uint64_t chunks_missing; /* planned, then dropped by retention */
	uint64_t chunks_verified; /* IDX2_READ_VERIFY: whole chunks hashed */
	uint64_t cache_peak;     /* most bytes of decoded blocks held at once */
} idx2_read_stats;

/* The block cache's default budget.  Records are handed out in time order
 * and chunks open only when due, and a block leaves the cache as soon as
 * its last matching record is handed out, so few blocks are live at once;
 * a small budget reuses the entries' buffers instead of faulting in fresh
 * memory for every block (enterprise 1 GiB, host queries: 64 MiB -> 4 MiB
 * cut page faults 3x, the server host's RssAnon 188 -> 36 MB, and re-read
 * 2 of 358 blocks on a store written by 2 live workers, none on a file
 * ingest). */
#define IDX2_CACHE_DEFAULT ((uint64_t)4 << 20)

/* Read flags. */
enum {
	/* before a planned chunk is used, read it whole once, check its header
	 * against the index record and its body against the SHA-256
	 * (TV_E_HASH): a changed byte outside the planned blocks fails too */
	IDX2_READ_VERIFY = 1,
};

/*
 * The pull form of the read: every packet of the store that matches e
 * (NULL: all), in (ts, chunk id, seq) order, which is capture order.
 * open plans (idx_plan2; where/cap name the table and key of a corrupt
 * posting), next hands out one packet at a time.  Each planned block is
 * read with one pread from segs and store_block_decode (its CRC and its
 * block table entry checked); e is evaluated per flow directory entry
 * (per record when e has a time bound); the chunks are merged by time.
 * Decoded blocks live in a cache of at most cache_bytes (0: the default;
 * at least one block is kept); an evicted block is decoded again when
 * needed.  flags: IDX2_READ_*.  st (may be NULL) is zeroed by open and
 * updated by every next; pst may be NULL.  A chunk dropped by retention
 * between the plan and its read is skipped and counted (chunks_missing).
 */
typedef struct idx2_cursor idx2_cursor;

int idx2_cursor_open(idx *x, store_segs *segs, const idx_expr *e, uint64_t cache_bytes,
                     unsigned flags, idx2_read_stats *st, idx2_plan_stats *pst, char *where,
                     size_t cap, idx2_cursor **out);
/* *p: the next packet, NULL at the end; valid until the next call or
 * close.  On failure idx2_cursor_where says which segment, offset and
 * chunk (and block) or which index key. */
int idx2_cursor_next(idx2_cursor *c, const idx2_pkt **p);
const char *idx2_cursor_where(const idx2_cursor *c);
void idx2_cursor_close(idx2_cursor *c); /* accepts NULL */

/*
 * The push form, a loop over a cursor (flags 0): cb gets every packet;
 * cb returning non-zero stops the read with that value.  where/cap name
 * the place of a failure (an index key, or a segment, offset and chunk).
 */
int idx_read2(idx *x, store_segs *segs, const idx_expr *e, uint64_t cache_bytes,
              idx2_pkt_cb cb, void *ctx, idx2_read_stats *st, idx2_plan_stats *pst,
              char *where, size_t cap);

#endif
