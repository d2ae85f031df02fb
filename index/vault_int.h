/*
 * vault_int.h — the parts of a vault (index/vault.c) that its files share:
 * open/close and the lock (vault.c), the write engine (pipeline.c, fed by
 * pipeline_file.c for file ingest and pipeline_live.c for live workers),
 * file resume (resume.c), recovery and reindex (recover.c) and retention
 * (retain.c).  Only index/ includes it.
 */
#ifndef IDX_VAULT_INT_H
#define IDX_VAULT_INT_H

#include "vault.h"
#include "idx_int.h"
#include "../ingest/ingest.h"
#include "../store/storedir.h"
#include "idx2.h"

#include <pthread.h>

/*
 * Chunk tag written by the vault (FORMAT.md "The producer tag"): u8 version (2),
 * u8 count, then count marks of 88 bytes: source identity (40), the
 * ordinal just past the last packet of that source in the chunk, the
 * length of the file prefix consumed up to the end of that packet (u64 LE
 * each) and the SHA-256 of that prefix (32).
 */
#define VAULT_MAX_MARKS 8
#define VAULT_TAG_VERSION 2
#define VAULT_MARK_LEN 88
#define VAULT_TAG_MAX (2 + VAULT_MAX_MARKS * VAULT_MARK_LEN)

/* source candidates considered for one file (resume.c) */
#define VAULT_MAX_CANDS 256
/* chunks per LMDB transaction of vault_commit_chunks */
#define VAULT_COMMIT_MAX 64

/* The flows of a sealed chunk, copied out of its packer (keys
 * and tunnel contexts included); the buffers are reused across chunks. */
struct wflows {
	store_pflow *fl;
	uint8_t *keys;
	tv_tunmeta *tun;
	size_t n, cap;
};

/* The open chunk of a source (pipeline_seal.c). */
struct wseal {
	store_packer *pk;
};

struct pending {
	store_chunk_meta meta;
	struct wflows fl;        /* the chunk's flows */
	idx2_chunk rec2;         /* its record, placed */
	idx_source_mark marks[VAULT_MAX_MARKS];
	size_t nmarks;
};

struct live;
struct fsrc;
struct writer;

struct idx_vault {
	idx_vault_cfg cfg;
	idx *x;
	store_segs *segs;
	struct wseal seal;     /* the file reader's open chunk */
	idx_source_mark cur_marks[VAULT_MAX_MARKS];
	size_t cur_nmarks;
	struct pending *pend;
	size_t npend;
	idx2_chunk_in *in2;    /* idx_commit2's argument, pend_cap entries */
	/* taken by the writer, which numbers chunks in append order
	 * (idx_commit2 wants them increasing) */
	uint64_t next_chunk_id;
	tv_counters *ctr;
	uint64_t added;        /* packets handed to idx_vault_add() (file ingest) */
	uint64_t stored0;      /* ctr's store.packets at open */
	int lock_fd;
	ingest_flowtab *ft;    /* NULL when flows are off */
	tv_flowrec *flows;     /* records emitted, not yet committed */
	size_t nflows, flows_cap;
	int flow_err;          /* first error of the emit callback */
	bool flows_session;    /* "flows_writer" is set in the index for this session */
	char *dir;
	struct live *live;     /* NULL unless idx_vault_live_start */
	size_t pend_cap;       /* entries of pend */
	struct writer *w;      /* the write engine; NULL when closed or failed to start */
	struct fsrc *fs;       /* file ingest's slots; NULL during live ingest */
	/* the file being read (idx_vault_source_begin): its identity and the
	 * hash of the bytes consumed up to its last added packet */
	bool src_active;
	uint8_t src_identity[40];
	ingest_prefix *src_hash;
};


/* Threaded file ingest (pipeline_file.c): sealer threads at most, and
 * packers in flight for a number of threads. */
#define FP_MAX_THREADS 64
#define FP_SLOTS(threads) (2 * (threads) + 2)

/* meta key set while a writable session synthesises flows (recover.c) */
#define FLOWS_WRITER_KEY "flows_writer"

/* ------------------------------------------------------ the write engine
 *
 * Every source (the file reader, with or without sealer threads, and the
 * live workers) hands items to one queue, in the order their chunks must be
 * appended; one writer loop (pipeline.c) drains it: append, fdatasync,
 * vault_commit_chunks, retention and the free-space guard, the full-disk
 * redo, and the counters.  Sources differ in what fills the items and in
 * the flush policy (struct wpolicy).
 */

enum { WI_FREE, WI_OPEN, WI_BUSY, WI_READY };

/* One unit of work: a chunk (sealed, or to be sealed by the engine's sealer
 * threads) and/or what its source gathered since its previous item. */
struct witem {
	struct witem *next;
	int state;               /* WI_*: OPEN items wait for a sealer thread */
	uint64_t seq;            /* hand-off order */
	struct wseal seal;       /* a file slot's open chunk: the chunk points into it */
	uint8_t *own;            /* a live worker's chunk: malloc'd copy */
	const uint8_t *chunk;    /* NULL (len 0): no chunk */
	size_t len;
	uint64_t id;             /* chunk id given to the seal (0: the writer sets it) */
	store_chunk_meta meta;
	struct wflows fl;        /* the chunk's flows; swapped with pend's */
	idx_source_mark marks[VAULT_MAX_MARKS];
	size_t nmarks;
	tv_counters delta;       /* the source's counter growth */
	tv_flowrec *flows;       /* flow records emitted since the previous item */
	size_t nflows, flows_cap;
	uint64_t first_mono;     /* live: arrival of the chunk's first packet */
	int worker;              /* live: the worker that sent it; -1: none */
	uint64_t active_flows;   /* live: that worker's flow-table entries now */
	bool barrier;            /* commit everything up to here (a flush) */
	int err;                 /* of the seal */
};

/* The flush policy: what makes the writer commit, and what it applies. */
struct wpolicy {
	bool each_pass;   /* live: commit what each pass took (the seal interval
	                   * bound); file: commit_chunks pending, or a barrier */
	bool live;        /* retention, the free-space guard, seal latencies and
	                   * the flow.active gauge (struct live) */
	bool thread;      /* a writer thread drains the queue; else the caller
	                   * drains it after each hand-off */
	int sealers;      /* threads that seal OPEN items (file --threads N) */
	uint32_t queue_max; /* chunk items queued before a source waits; 0: none */
};

#define W_BATCH VAULT_COMMIT_MAX  /* items per pass; also pend's size */
/* Flow records per hand-off (vault.h IDX_LIVE_FLOWS_BATCH): a live worker
 * sends its records when it holds this many, waits while more than twice
 * as many are queued (qflows), and a writer pass stops taking items once
 * it holds this many. */
#define W_FLOWS_BATCH IDX_LIVE_FLOWS_BATCH

struct writer {
	struct wpolicy pol;
	pthread_mutex_t mu;
	pthread_cond_t ready;  /* writer: the head item is ready, or stop */
	pthread_cond_t work;   /* sealers: an OPEN item was queued, or stop */
	pthread_cond_t room;   /* sources: an item was released, or an error */
	pthread_cond_t done;   /* flushers: done_seq advanced, or an error */
	struct witem *head, *tail;
	struct witem *cnext;   /* the oldest OPEN item no sealer took */
	size_t nchunks;        /* queued items that hold a chunk */
	size_t qflows;         /* flow records in queued items */
	size_t qflows_peak;    /* the most qflows has been */
	uint64_t seq;          /* next seq handed off */
	uint64_t done_seq;     /* every seq below is committed */
	int err;               /* first error; nothing is written after it */
	bool stop;             /* drain what is queued, then end */
	tv_counters snap;      /* total as of the last pass */
	struct witem **freel;  /* released slots of a source that keeps them */
	int nfree, freel_cap;
	pthread_t th, *sth;
	bool started;
	int nsth;
	/* writer only */
	tv_counters total;     /* the source counters plus what the writer did */
	tv_counters committed; /* total as of the last counter commit */
	tv_counters folded;    /* total as of the last fold into the vault's */
	tv_flowrec *flows;     /* records of taken items, committed once their
	                        * chunks are */
	size_t nflows, flows_cap;
	struct witem *inpend[W_BATCH]; /* items whose bytes are pend[0..n) (redo) */
	size_t ninpend;
};

/* Live ingest: its cfg and the retention state (writer only). */
struct live {
	idx_live_cfg cfg;
	uint64_t *active;      /* flow-table entries per worker */
	uint64_t seg_bytes;    /* estimate of the segment bytes, exact after a pass */
	uint64_t last_pass, last_flow_pass;
};

/* File ingest: the packers in flight and the marks handed off. */
struct fhist {
	idx_source_mark marks[VAULT_MAX_MARKS];
	size_t nmarks;
};

struct fsrc {
	struct witem *slots;
	int nslots;
	struct witem *spare;   /* the next slot to hand off */
	struct fhist *hist;    /* source marks by seq % nhist (resume.c) */
	uint64_t nhist;
	tv_counters sent;      /* the caller's counters as of the last hand-off */
};


/* ------------------------------------------------ shared between files */

/* pipeline.c */
int vault_commit_chunks(idx_vault *v, struct pending *pend, size_t n, const tv_counters *delta,
                        bool sync);
void vault_on_flows(void *ctx, const tv_flowrec *recs, size_t n);
int vault_commit_flows(idx_vault *v);
int flows_append(tv_flowrec **buf, size_t *n, size_t *cap, const tv_flowrec *recs, size_t k);
int settle_marks(idx_vault *v, idx_source_mark *marks, size_t n);
int encode_tag(idx_vault *v, idx_source_mark *marks, size_t n, uint8_t *tag, uint32_t *len);
size_t decode_tag(const uint8_t *tag, uint32_t len, idx_source_mark *marks);
int writer_new(idx_vault *v, const struct wpolicy *pol, struct witem *slots, int nslots,
               const tv_counters *committed);
int writer_run(idx_vault *v);
int writer_stop(idx_vault *v);
int writer_push(idx_vault *v, struct witem *it, bool *waited);
int writer_wait_slot(idx_vault *v, struct witem **out);
int writer_wait_done(idx_vault *v, uint64_t seq);
int writer_drain(idx_vault *v);
void writer_fold(idx_vault *v, bool all);
void item_seal(struct witem *it);

/* pipeline_seal.c */
int wseal_new(const idx_vault *v, struct wseal *s);
void wseal_free(struct wseal *s);
bool wseal_ok(const struct wseal *s);
int wseal_add(struct wseal *s, const tv_pkt *pkt);
uint32_t wseal_count(const struct wseal *s);
bool wseal_full(const struct wseal *s);
int wseal_set_tag(struct wseal *s, const uint8_t *tag, uint32_t len);
void wseal_reset(struct wseal *s);
int wseal_seal(struct wseal *s, uint64_t id, const uint8_t **chunk, size_t *len,
               store_chunk_meta *meta, struct wflows *fl);
void wflows_free(struct wflows *f);

/* pipeline_file.c */
int file_start(idx_vault *v);
int file_stop(idx_vault *v);
void file_candidates(idx_vault *v, const uint8_t *key, idx_source_mark *c, size_t *n);

/* recover.c */
int vault_recover(idx_vault *v, idx_recovery *rec);
int vault_rebuild_flows(idx_vault *v, uint64_t *rebuilt);

/* vault.c */
int vault_open(const char *dir, const idx_vault_cfg *cfg, tv_counters *ctr,
               idx_recovery *rec, bool lock, idx_vault **out);

/* retain.c */
int live_retention(idx_vault *v);
bool live_space_ok(idx_vault *v, size_t len);
int live_remove_orphans(idx_vault *v);

/* resume.c */
void cand_put(idx_source_mark *c, size_t *n, const idx_source_mark *m);

#endif
