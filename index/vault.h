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

/* ---------------------------------------------------------------- writer */

typedef struct idx_vault_cfg {
	store_builder_cfg builder;
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
 * a lock file: TV_E_LOCKED).
 */
int idx_vault_open(const char *dir, const idx_vault_cfg *cfg, tv_counters *ctr,
                   idx_recovery *rec, idx_vault **out);

/*
 * Adds one packet.  src_identity (40 bytes, or NULL for live sources) and
 * ordinal say where it came from, so that a re-run of the same file skips
 * what is stored (see idx_source_get).  May seal, write and commit a chunk.
 */
int idx_vault_add(idx_vault *v, const tv_pkt *pkt, const uint8_t *src_identity, uint64_t ordinal);

/* Seals the open chunk (if any), writes, syncs and commits everything pending. */
int idx_vault_flush(idx_vault *v);

/* Live sources call this on a timer: closes flow windows that ended before
 * now_ns and commits their records. */
int idx_vault_tick(idx_vault *v, uint64_t now_ns);

/* Flushes (all open flow windows too) and closes; returns the first error
 * of the flush.  Accepts NULL.  File ingest: the caller's store.* counters
 * then say what was committed (a failed write, such as a full disk, leaves
 * packets added but never stored: they move to store.dropped). */
int idx_vault_close(idx_vault *v);

idx *idx_vault_index(idx_vault *v);

/*
 * The source mark of identity: packets_done as committed in the index, or
 * larger when packets of that source were added in this run but are not
 * committed yet (the open chunk, or chunks still being compressed or
 * written).  Use this, not idx_source_get, to decide what of a file is
 * already stored.  TV_E_NOTFOUND when the source is unknown.
 */
int idx_vault_source_get(idx_vault *v, const uint8_t identity[40], uint64_t *packets_done);

/*
 * Threaded file ingest (cfg.threads > 1).  idx_vault_add still runs in the
 * caller's thread and does the per-packet work (builder, postings, flow
 * table, source marks); a full chunk is handed off with its postings, its
 * source marks, a snapshot of the counters and the flow records emitted so
 * far, and the caller continues with a free builder (it waits while
 * 2 x threads + 2 builders are in flight; 2 x threads + 3 in all).
 * cfg.threads threads seal (sort, zstd, SHA-256) handed-off chunks; one
 * writer thread appends them in chunk-id order, fdatasyncs and commits them
 * (and then their flow records) as the single-threaded path does, taking
 * every chunk that is ready into one commit (at least commit_chunks; fewer
 * only at a flush).  Chunk ids are taken at hand-off, so the segment holds
 * them in id order.  An error of a thread (ENOSPC, TV_E_ZSTD) stops all
 * further writing; the chunks before the failed one are committed (on a
 * failed commit they are written again one at a time, as the single-threaded
 * path orders them) and the error is returned by the next idx_vault_add,
 * idx_vault_flush or idx_vault_close.  flush waits
 * until everything handed off is committed.  idx_vault_add, flush, tick and
 * close are still called from one thread.
 */

/* ------------------------------------------------------- live (threads) */

/*
 * Continuous ingest with several worker threads.  Each worker owns a chunk
 * builder, a posting collector and a flow table (idx_vault_worker, used by
 * one thread); it compresses its own chunks and hands each sealed chunk
 * (bytes, metadata, postings, flow records, its counter growth) to ONE
 * writer thread through a bounded queue.  The writer appends the chunks to
 * the segment, fdatasyncs, commits them in one LMDB transaction (the
 * durability order of FORMAT.md is unchanged), then the flow records, then
 * runs retention.  A full queue makes workers wait (counted in
 * live.queue_full_waits); the socket buffer absorbs the wait, and what
 * overflows it is counted by the kernel.
 *
 * Chunk ids are taken when a chunk is sealed, so chunks of several workers
 * reach the segment slightly out of id order; recovery therefore skips a
 * chunk it finds already indexed at the same place.
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
	uint64_t min_free;         /* stop storing when the file system has less free */
	uint32_t min_free_pct;     /* ... or less than this % free (whichever is larger) */
	int nworkers;              /* workers that will be created (1..256) */
} idx_live_cfg;

void idx_live_cfg_default(idx_live_cfg *cfg);

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

/* A store opened read-only for queries, verify and stats. */
typedef struct idx_rstore {
	idx *x;
	store_segs *segs;
	char *dir;
} idx_rstore;

int idx_rstore_open(const char *dir, idx_rstore *rs);
void idx_rstore_close(idx_rstore *rs);

typedef struct idx_query_stats {
	idx_plan_stats plan;      /* summed over stores */
	uint64_t chunks_read;
	uint64_t chunks_missing;  /* planned but pruned or unreadable */
	uint64_t bytes_read;
	uint64_t packets_scanned;
	uint64_t packets_matched;
} idx_query_stats;

/* Called for each matching packet, in timestamp order across all stores.
 * rec and info are valid during the call.  Non-zero stops the query. */
typedef int (*idx_query_cb)(void *ctx, int store, const store_rec *rec, const tv_l3info *info);

/*
 * Plans e on every store, reads only the planned chunks, matches every
 * packet exactly and calls cb in timestamp order (ties: store order, then
 * record order).  Memory: one decoded chunk per chunk overlapping in time.
 * On a read or verification failure err (cap bytes) names the store,
 * segment and chunk.
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
	uint64_t unindexed_bytes; /* bytes in segments past the last indexed chunk */
} idx_verify_report;

/* Called once per problem found; msg names segment, offset and chunk. */
typedef void (*idx_verify_cb)(void *ctx, const char *msg);

/* Reads every chunk the index lists and checks it against the index entry
 * (position, header fields, SHA-256, decompression, record layout); checks
 * every segment for bytes the index does not cover.  Returns 0 when all is
 * well, TV_E_CORRUPT when any problem was reported. */
int idx_verify_store(idx_rstore *rs, idx_verify_cb cb, void *ctx, idx_verify_report *rep);

#endif
