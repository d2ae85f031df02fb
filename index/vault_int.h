/*
 * vault_int.h — the parts of a vault (index/vault.c) that its files share:
 * open/close and the lock (vault.c), the write pipeline (pipeline.c, with
 * pipeline_file.c for threaded file ingest and pipeline_live.c for live
 * workers), file resume (resume.c), recovery and reindex (recover.c) and
 * retention (retain.c).  Only index/ includes it.
 */
#ifndef IDX_VAULT_INT_H
#define IDX_VAULT_INT_H

#include "vault.h"
#include "idx_int.h"
#include "../ingest/ingest.h"
#include "../store/storedir.h"

#include <pthread.h>

/*
 * Chunk tag written by the vault (FORMAT.md "Tag block"): u8 version (2),
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

struct pending {
	store_chunk_meta meta;
	idx_post *post;
	idx_source_mark marks[VAULT_MAX_MARKS];
	size_t nmarks;
};

struct live;
struct fpool;

struct idx_vault {
	idx_vault_cfg cfg;
	idx *x;
	store_segs *segs;
	store_builder *b;
	idx_post *cur_post;
	idx_source_mark cur_marks[VAULT_MAX_MARKS];
	size_t cur_nmarks;
	struct pending *pend;
	size_t npend;
	uint64_t next_chunk_id;
	tv_counters *ctr;
	tv_counters committed; /* ctr as of the last commit */
	uint64_t added;        /* packets handed to idx_vault_add() (file ingest) */
	uint64_t stored0;      /* ctr's store.packets at open */
	int lock_fd;
	store_reader *rd;      /* recovery */
	ingest_flowtab *ft;    /* NULL when flows are off */
	tv_flowrec *flows;     /* records emitted, not yet committed */
	size_t nflows, flows_cap;
	int flow_err;          /* first error of the emit callback */
	bool flows_session;    /* "flows_writer" is set in the index for this session */
	char *dir;
	struct live *live;     /* NULL unless idx_vault_live_start */
	size_t pend_cap;       /* entries of pend */
	struct fpool *fp;      /* threaded file ingest; NULL when cfg.threads <= 1 */
	/* the file being read (idx_vault_source_begin): its identity and the
	 * hash of the bytes consumed up to its last added packet */
	bool src_active;
	uint8_t src_identity[40];
	ingest_prefix *src_hash;
};


/* Threaded file ingest (pipeline_file.c): compression threads at most, and
 * builders in flight for a number of threads. */
#define FP_MAX_THREADS 64
#define FP_SLOTS(threads) (2 * (threads) + 2)

/* meta key set while a writable session synthesises flows (recover.c) */
#define FLOWS_WRITER_KEY "flows_writer"

/* One unit of work for the writer: a sealed chunk (chunk != NULL) and/or
 * flow records and counter growth from one worker. */
struct qitem {
	struct qitem *next;
	int worker;
	uint8_t *chunk;          /* malloc'd copy of the sealed chunk */
	size_t len;
	store_chunk_meta meta;
	idx_post *post;
	uint64_t first_mono;     /* arrival of the chunk's first packet */
	tv_flowrec *flows;       /* malloc'd */
	size_t nflows;
	tv_counters delta;       /* the worker's counter growth */
	uint64_t active_flows;   /* the worker's flow-table entries now */
};

#define LIVE_BATCH 64
#define LIVE_FREE_POSTS 64

struct live {
	idx_live_cfg cfg;
	pthread_t th;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t nonempty, nonfull, idle;
	struct qitem *head, *tail;
	size_t n;              /* queued chunk items */
	bool stopping;
	bool busy;             /* the writer holds items it has not committed */
	int err;               /* first writer error; workers stop queueing */
	uint64_t *active;      /* per worker */
	tv_counters snap;      /* counters as of the last commit */
	idx_post *free_posts[LIVE_FREE_POSTS];
	int nfree;
	/* writer-only state */
	uint64_t seg_bytes;    /* estimate of the segment bytes, exact after a pass */
	uint64_t last_pass, last_flow_pass;
	struct pending batch[LIVE_BATCH]; /* the chunks of one commit */
};


/* ------------------------------------------------ shared between files */

/* pipeline.c */
int vault_commit_chunks(idx_vault *v, struct pending *pend, size_t n, const tv_counters *delta,
                        bool sync);
void vault_on_flows(void *ctx, const tv_flowrec *recs, size_t n);
int vault_commit_flows(idx_vault *v);
int flows_append(tv_flowrec **buf, size_t *n, size_t *cap, const tv_flowrec *recs, size_t k);
void settle_marks(idx_vault *v, idx_source_mark *marks, size_t n);
void encode_tag(idx_vault *v, idx_source_mark *marks, size_t n, uint8_t *tag,
                uint32_t *len);
size_t decode_tag(const uint8_t *tag, uint32_t len, idx_source_mark *marks);

/* pipeline_file.c */
void fp_queue_flows(idx_vault *v, const tv_flowrec *recs, size_t n);
int fp_handoff(idx_vault *v, bool barrier);
int fp_flush(idx_vault *v);
int fp_start(idx_vault *v);
void fp_stop(idx_vault *v);
void fp_candidates(idx_vault *v, const uint8_t *key, idx_source_mark *c, size_t *n);

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
