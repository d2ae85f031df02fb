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
} idx_vault_cfg;

void idx_vault_cfg_default(idx_vault_cfg *cfg);

/* What opening a writable store found and repaired. */
typedef struct idx_recovery {
	uint64_t chunks_indexed;  /* whole chunks found past the index, verified and indexed */
	uint64_t packets_indexed;
	uint64_t torn_bytes;      /* bytes of a torn tail cut off */
	uint32_t torn_segment;    /* where (0 = none) */
	uint64_t torn_offset;
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
 * of the flush.  Accepts NULL. */
int idx_vault_close(idx_vault *v);

idx *idx_vault_index(idx_vault *v);

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
