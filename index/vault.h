/*
 * vault.h — a store directory as one object: segment files (store/) plus the
 * LMDB index (index/), written in the durability order of FORMAT.md, and
 * read back by queries that merge chunks by time.
 *
 * Part of the index module (prefix idx_); included by idx.h users that
 * need whole-store operations.
 */
#ifndef IDX_VAULT_H
#define IDX_VAULT_H

#include "idx.h"
#include "../ingest/ingest.h"
#include "../store/chunk2.h"

/* ---------------------------------------------------------------- writer */

typedef struct idx_vault_cfg {
	store_packer_cfg packer; /* the chunks' size (raw_target) and zstd level */
	store_segs_cfg segs;
	idx_cfg index;
	uint32_t commit_chunks; /* sealed chunks per fdatasync + index commit; default 1 */
	bool flows;             /* synthesise flow records while storing; default true */
	ingest_flowtab_cfg flowtab;
	int threads;            /* file ingest: chunk compression threads; default 1
	                         * (idx_vault_add seals, writes and commits in the
	                         * caller's thread); see "threaded file ingest" */
} idx_vault_cfg;

void idx_vault_cfg_default(idx_vault_cfg *cfg);

/* What opening a writable store found and repaired. */
typedef struct idx_recovery {
	uint64_t chunks_indexed;  /* whole chunks found past the index, verified and indexed */
	uint64_t packets_indexed;
	uint64_t torn_bytes;      /* bytes of a torn tail cut off */
	uint32_t torn_segment;    /* where (0 = none) */
	uint64_t torn_offset;
	uint64_t flows_rebuilt;   /* flow records rebuilt from stored packets after a crash */
} idx_recovery;

typedef struct idx_vault idx_vault;

/*
 * Opens (creating when absent) a store for writing and recovers it: chunks
 * past the last indexed one that verify are indexed, a torn tail is cut.
 * ctr is the caller's counter block; the vault commits its growth with
 * every index commit.  Only one writer per store (LMDB's writer lock plus
 * a lock file: TV_E_LOCKED).  A store of another format (idx_format_note)
 * is TV_E_VERSION before anything in it is changed.
 */
int idx_vault_open(const char *dir, const idx_vault_cfg *cfg, tv_counters *ctr,
                   idx_recovery *rec, idx_vault **out);

/* Where a packet of a capture file came from (ingest_raw). */
typedef struct idx_file_pos {
	uint64_t ordinal;  /* 0-based index of the packet in its file */
	uint64_t file_end; /* offset just past its record in the file */
} idx_file_pos;

/*
 * Adds one packet.  pos (NULL for live sources and standard input) says
 * where in the file begun by idx_vault_source_begin it came from, so that
 * a re-run of the same file skips what is stored; the file's bytes up to
 * pos->file_end are hashed on the way (one pass over the file).  May seal,
 * write and commit a chunk.
 */
int idx_vault_add(idx_vault *v, const tv_pkt *pkt, const idx_file_pos *pos);

/* Which rule idx_vault_source_begin applied. */
enum idx_source_rule {
	IDX_SRC_UNSEEN = 0,     /* no file with these first 64 KiB was stored: new */
	IDX_SRC_RESUMED,        /* the first prefix_len bytes are identical to what a
	                         * run stored: its packets_done packets are skipped */
	IDX_SRC_DIFFERS,        /* new: its first prefix_len bytes differ from a file
	                         * with the same first 64 KiB */
	IDX_SRC_SHORTER,        /* new: shorter than the prefix_len bytes stored of a
	                         * file with the same first 64 KiB */
	IDX_SRC_UNKNOWN_PREFIX, /* new: a file with the same first 64 KiB was stored
	                         * by a version that kept no prefix hash */
};

typedef struct idx_source_resume {
	int rule;               /* enum idx_source_rule */
	uint64_t packets_done;  /* packets to skip (RESUMED), else 0 */
	uint64_t prefix_len;    /* the prefix compared (RESUMED, DIFFERS, SHORTER) */
	uint8_t identity[40];   /* the identity the file's marks carry */
} idx_source_resume;

/*
 * Starts a capture file.  key: the SHA-256 of its first 64 KiB
 * (ingest_file_src_identity); fd: its descriptor (ingest_file_src_fd),
 * read with pread() only.  Every earlier run of a file with this key
 * (committed, or added in this run and not committed yet) is a candidate;
 * the file resumes the one whose consumed prefix (length and SHA-256 in
 * its mark) is byte-identical to the file's own first bytes.  Else the
 * file is new and gets an identity of its own, so the earlier run's mark
 * stays intact.  res says which rule applied.  key NULL or fd < 0: a source
 * without identity (standard input) follows; its packets carry no mark.
 * Returns 0, TV_E_NOMEM, or an errno from reading the file.
 */
int idx_vault_source_begin(idx_vault *v, const uint8_t *key, int fd, idx_source_resume *res);

/* Seals the open chunk (if any), writes, syncs and commits everything pending. */
int idx_vault_flush(idx_vault *v);

/* File sources call this on a timer: closes flow windows that ended before
 * now_ns; their records are committed after the chunks handed off with
 * them (the next hand-off or flush). */
int idx_vault_tick(idx_vault *v, uint64_t now_ns);

/* Flushes (all open flow windows too) and closes; returns the first error
 * of the flush.  Accepts NULL.  File ingest: the caller's store.* counters
 * then say what was committed (a failed write, such as a full disk, leaves
 * packets added but never stored: they are counted in store.lost_on_error). */
int idx_vault_close(idx_vault *v);

idx *idx_vault_index(idx_vault *v);

/*
 * Threaded file ingest (cfg.threads > 1).  idx_vault_add still runs in the
 * caller's thread and does the per-packet work (packer, flow table, source
 * marks); a full chunk is handed off with its source marks, the caller's
 * counter growth and the flow records emitted since the last hand-off, and
 * the caller continues with a free packer (it waits while 2 x threads + 2
 * packers are in flight; 2 x threads + 3 in all).  cfg.threads threads
 * seal (group by flow, zstd, SHA-256) handed-off chunks;
 * one writer thread appends them in chunk-id order, fdatasyncs and commits
 * them (and then their flow records) exactly as the single-threaded path
 * does, which is the same writer loop run in the caller's thread, taking
 * every chunk that is ready into one commit (at least commit_chunks; fewer
 * only at a flush).  The writer numbers the chunks as it appends them, so
 * the segment holds them in id order.  An error of a thread
 * (ENOSPC, TV_E_ZSTD) stops all further writing; the chunks before the
 * failed one are committed (on a failed commit they are written again one
 * at a time, each with its counters) and the error is returned by the next
 * idx_vault_add, idx_vault_flush or idx_vault_close.  flush waits
 * until everything handed off is committed.  idx_vault_add, flush, tick and
 * close are still called from one thread.
 */

/*
 * Rebuilds the index of a store from its segment files (reindex).  Takes
 * the store's lock first: TV_E_LOCKED while an ingest runs, and nothing is
 * changed; a store of another format (idx_format_note) is TV_E_VERSION
 * before that, and nothing is changed either.  The new index is built aside (STORE/index.build-<pid>) by the
 * ordinary recovery over every segment (chunks, postings, source marks from
 * the chunk tags); then, when the old index can be read, its flow records,
 * counters, source marks and meta entries that no segment holds are copied
 * over (index/carry.c), else the flow records are rebuilt from the stored
 * packets (600 s windows) and the counters are lost.  Then the complete
 * build and STORE/index trade places in one rename and the old index is
 * kept as STORE/index.old-<time>: a reader sees the old index or the
 * complete new one, never a partial one, and a kill at any point leaves one
 * of the two in place (an incomplete build is removed by the next run).
 * TV_E_NOTFOUND when DIR has no segments/ folder.
 */
typedef struct idx_reindex_report {
	idx_recovery rec;          /* chunks and packets indexed, torn tail cut */
	bool carried;              /* the old index was read and carried over */
	int old_err;               /* why it was not (0: there was none) */
	idx_carry_report carry;    /* what was carried */
	uint64_t flows_rebuilt;    /* flow records rebuilt from packets (!carried) */
	char old_dir[64];          /* name of the old index inside the store ("" if none) */
	uint64_t stale_removed;    /* incomplete builds of interrupted runs removed */
	uint64_t stale_kept;       /* complete ones moved aside as index.old-* */
} idx_reindex_report;

int idx_reindex(const char *dir, idx_reindex_report *rep);

/* ------------------------------------------------------- live (threads) */

/*
 * Continuous ingest with several worker threads.  Each worker owns a chunk
 * packer and a flow table (idx_vault_worker, used by one thread); it
 * compresses its own chunks and hands each sealed chunk (bytes, metadata,
 * its flows, flow records, its counter growth) to ONE
 * writer thread through a bounded queue.  The writer appends the chunks to
 * the segment, fdatasyncs, commits them in one LMDB transaction (the
 * durability order of FORMAT.md is unchanged), then the flow records, then
 * runs retention.  A full queue makes workers wait (counted in
 * live.queue_full_waits); the socket buffer absorbs the wait, and what
 * overflows it is counted by the kernel.
 *
 * Workers seal their chunks with id 0; the writer numbers them as it
 * appends them, so ids grow with the position on disk.  Recovery still
 * skips a chunk it finds already indexed at the same place.
 *
 * In live mode idx_vault_add/flush/tick must not be called between
 * idx_vault_live_start and idx_vault_live_stop.
 */
typedef struct idx_live_cfg {
	uint64_t seal_interval_ns; /* seal a non-empty chunk this long after its first
	                            * packet; default 1 s */
	uint32_t queue_max;        /* sealed chunks waiting for the writer; default 16 */
	uint64_t max_size;         /* segment bytes kept; 0 = no cap */
	uint64_t max_age_ns;       /* drop segments whose newest packet is older; 0 = keep */
	uint64_t flow_max_age_ns;  /* drop flow records of older windows; 0 = keep */
	uint64_t min_free;         /* stop storing when the store's file system has less free */
	uint32_t min_free_pct;     /* ... or less than this % free (whichever is larger) */
	bool min_free_auto;        /* default true: keep the smaller of 1 GiB and 5 % of the
	                            * store's file system free (min_free and min_free_pct
	                            * are then ignored) */
	int nworkers;              /* workers that will be created (1..256) */
} idx_live_cfg;

void idx_live_cfg_default(idx_live_cfg *cfg);

/* The free space rule of cfg on the file system that holds dir (the
 * store): keep is what must stay free, measured now (a percentage follows
 * the file system's size).  Returns 0 or an errno from statvfs. */
typedef struct idx_free_space {
	uint64_t keep, avail, size;
} idx_free_space;
int idx_live_keep_free(const idx_live_cfg *cfg, const char *dir, idx_free_space *fs);

/* Starts the writer thread.  Also removes segment files that retention
 * deleted from the index but not from disk (crash between the two).
 * Returns 0, TV_E_RANGE for a bad cfg, or an errno from pthread_create. */
int idx_vault_live_start(idx_vault *v, const idx_live_cfg *cfg);
/* Waits until the queue is empty and everything is committed, stops the
 * writer and returns its first error (0 when none).  Call after every
 * worker has finished.  Accepts a vault that never started. */
int idx_vault_live_stop(idx_vault *v);

/* A snapshot of the counters as of the writer's last commit, and its first
 * error (0: none).  Thread-safe. */
void idx_vault_live_status(idx_vault *v, tv_counters *snap, int *err);

/* Live flow records travel in batches of about IDX_LIVE_FLOWS_BATCH: a
 * worker sends its records once it holds that many, a worker waits while
 * more than 2 x IDX_LIVE_FLOWS_BATCH records are queued ahead of its own,
 * and a writer pass takes about that many, so a window that closes with
 * every flow of a busy mirror does not hold them all in memory at once. */
#define IDX_LIVE_FLOWS_BATCH 8192
/* The most flow records queued for the writer at once since the vault was
 * opened (a diagnostic: the bound above is what it shows).  Thread-safe. */
size_t idx_vault_live_flows_peak(idx_vault *v);

typedef struct idx_vault_worker idx_vault_worker;

/* Creates worker number id (0 <= id < cfg.nworkers).  Thread-safe. */
int idx_vault_worker_new(idx_vault *v, int id, idx_vault_worker **out);
/* The worker's own counter block: give it to ingest_decap_new() and the
 * live source; the worker sends its growth to the writer. */
tv_counters *idx_vault_worker_counters(idx_vault_worker *w);
/* Adds one packet; seals (and queues) when the chunk is full.  mono_ns is
 * CLOCK_MONOTONIC now (for the seal interval).  May wait for the queue.
 * An error is the writer's (it stopped) or TV_E_NOMEM. */
int idx_vault_worker_add(idx_vault_worker *w, const tv_pkt *pkt, uint64_t mono_ns);
/* Call often (every receive batch or timeout): seals a chunk older than the
 * seal interval, closes flow windows that ended before now_ns (wall clock),
 * and sends counter growth at least once per seal interval. */
int idx_vault_worker_tick(idx_vault_worker *w, uint64_t now_ns, uint64_t mono_ns);
/* Emits every open flow window, seals, sends the last counters, and frees
 * the worker (also on error).  Accepts NULL. */
int idx_vault_worker_finish(idx_vault_worker *w);

/* ------------------------------------------------------------ retention */

/* index/retain.c.  The newest last_ts of a segment's chunks (0 and
 * *nchunks 0 when the index names none; nchunks may be NULL). */
int idx_segment_last_ts(idx *x, uint32_t segment, uint64_t *last_ts, uint64_t *nchunks);
/* meta "pruned_until": packets before it may have been deleted by retention;
 * 0 when nothing was.  Raise keeps the larger value. */
int idx_pruned_until_get(idx *x, uint64_t *until_ns);
int idx_pruned_until_raise(idx *x, uint64_t until_ns);

/* ---------------------------------------------------------------- reader */

/* Whether an ingest (or reindex) holds the store's lock now.  Looks, never
 * takes the lock (store_lock_held). */
bool idx_store_writer_active(const char *dir);

/* A store opened read-only for queries, verify and stats. */
typedef struct idx_rstore {
	idx *x;
	store_segs *segs;
	char *dir;
} idx_rstore;

int idx_rstore_open(const char *dir, idx_rstore *rs);
void idx_rstore_close(idx_rstore *rs);

/*
 * Whether the index covers every chunk in the segment files: whole chunks
 * in a segment file the index names no chunk of, or past the last indexed
 * chunk of the newest segment (an interrupted ingest, or a reindex of an
 * older version), hold packets no query can find (a torn tail holds none).  While an ingest holds the store its
 * newest segment is skipped (chunks are written before they are
 * committed).  Cost: one key lookup per segment file and the newest
 * segment's chunk records.  A gap inside an older segment is damage, found
 * by idx_verify_store.
 */
typedef struct idx_coverage {
	uint64_t unindexed_bytes;    /* segment bytes the index does not cover */
	uint32_t segments_unindexed; /* segment files the index names no chunk of */
	uint32_t segment;            /* where the first such bytes are (0: none) */
	uint64_t offset;
	bool writer;                 /* an ingest holds the store */
} idx_coverage;

int idx_rstore_coverage(idx_rstore *rs, idx_coverage *cov);
/* "DIR: the index covers less than the segments: ..." into buf; returns 1
 * when there is something to say, else 0. */
int idx_coverage_note(const char *dir, const idx_coverage *cov, char *buf, size_t cap);

typedef struct idx_query_stats {
	idx_plan_stats plan;      /* summed over stores */
	uint64_t chunks_read;
	uint64_t chunks_missing;  /* planned but pruned or unreadable */
	uint64_t bytes_read;
	uint64_t blocks_read;     /* blocks decoded (re-reads included) */
	uint64_t bytes_decoded;   /* what those decodes produced: a block's
	                           * section A plus the raw tails copied out */
	uint64_t packets_scanned;
	uint64_t packets_matched;
} idx_query_stats;

/* Called for each matching packet, in timestamp order across all stores.
 * rec and info are valid during the call.  Non-zero stops the query. */
typedef int (*idx_query_cb)(void *ctx, int store, const store_rec *rec, const tv_l3info *info);

/*
 * Plans e on every store, reads only the planned blocks, matches every
 * packet exactly and calls cb in timestamp order (ties: store order, then
 * the store's chunk and record order).  Each store is read through its
 * own idx2_cursor (its planned blocks through a block cache; the caches'
 * budgets add up to IDX2_CACHE_DEFAULT).  verify_hash reads every planned
 * chunk whole once and checks it against its SHA-256.  On a read or
 * verification failure err (cap bytes) names the store, segment and
 * chunk.
 */
int idx_query_run(idx_rstore *stores, int nstores, const idx_expr *e, bool verify_hash,
                  idx_query_cb cb, void *ctx, idx_query_stats *st, char *err, size_t cap);

/* The same, for callers that also need to know which chunk each packet came
 * from (case bundles list the source chunks with their SHA-256).  Every
 * pointer in hit is valid during the call only; hit->chunk is the index
 * entry of the chunk the packet was read from (segment and offset set). */
typedef struct idx_query_hit {
	int store;
	const store_chunk_meta *chunk;
	const store_rec *rec;
	const tv_l3info *info;
} idx_query_hit;

typedef int (*idx_query_hit_cb)(void *ctx, const idx_query_hit *hit);

int idx_query_run_hits(idx_rstore *stores, int nstores, const idx_expr *e, bool verify_hash,
                       idx_query_hit_cb cb, void *ctx, idx_query_stats *st, char *err, size_t cap);

/* When the time range of e starts before the pruned_until mark of a store,
 * writes "note: STORE: data before T was pruned by retention" into buf and
 * returns 1; else 0.  For query's stderr. */
int idx_pruned_note(idx_rstore *stores, int nstores, const idx_expr *e, char *buf, size_t cap);

/* -------------------------------------------------------------- verify */

typedef struct idx_verify_report {
	uint64_t chunks_ok;
	uint64_t chunks_bad;
	uint64_t packets;
	uint64_t segments;
	uint64_t unindexed_bytes;     /* whole chunks in segments past the index: it covers
	                               * less than the segments (a problem) */
	uint64_t unindexed_in_flight; /* such bytes at the end of the newest segment while an
	                               * ingest holds the store (written, not yet committed) */
	uint64_t torn_bytes;          /* bytes past the index that are no whole chunk (an
	                               * interrupted write): they hide no packet */
	uint64_t index_bad;           /* deep: differences between the index and what the
	                               * segments give (one per chunk at most, plus
	                               * whole-index ones) */
} idx_verify_report;

/* Called once per problem found; msg names segment, offset and chunk. */
typedef void (*idx_verify_cb)(void *ctx, const char *msg);

/* Reads every chunk the index lists and checks it whole against its index
 * record (header, head, every block, the SHA-256; the failing part named);
 * checks every segment for bytes the index does not cover: whole chunks
 * there are a problem (except at the end of the newest segment while an
 * ingest runs), a torn tail is only reported.
 * deep: also re-derives each chunk's postings from its blocks' flow
 * directories (idx2_flow_postings, the code that indexes every chunk) and
 * compares them with the slice's (index/deep2.c; the first difference per
 * chunk is reported); then the slice records, the segment keys, the
 * running totals and the flow records (that each block decodes; they are
 * not re-derived).  All in one LMDB read snapshot.
 * Returns 0 when all is well, TV_E_CORRUPT when any problem was reported. */
int idx_verify_store(idx_rstore *rs, bool deep, idx_verify_cb cb, void *ctx,
                     idx_verify_report *rep);

#endif
