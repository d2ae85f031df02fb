/*
 * vault.c — the write path and recovery of a store directory.
 *
 * Durability order (FORMAT.md): a sealed chunk is appended to its segment,
 * the segment is fdatasync'ed, and only then are the chunk's metadata,
 * postings and source marks committed to LMDB in one transaction.  A crash
 * at any point leaves either an indexed chunk, or whole unindexed chunks
 * past the index (indexed again on the next open, with their source marks
 * from the chunk tag), or a torn tail (cut off and counted).
 */
#include "vault.h"
#include "idx_int.h"
#include "../ingest/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

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

void idx_vault_cfg_default(idx_vault_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	store_builder_cfg_default(&cfg->builder);
	store_segs_cfg_default(&cfg->segs);
	idx_cfg_default(&cfg->index);
	cfg->segs.writable = true;
	cfg->index.writable = true;
	cfg->commit_chunks = 1;
	cfg->flows = true;
	cfg->threads = 1;
	ingest_flowtab_cfg_default(&cfg->flowtab);
}

/* Flow-table callback: keeps records until the next commit. */
static void fp_queue_flows(idx_vault *v, const tv_flowrec *recs, size_t n);

static int flows_append(tv_flowrec **buf, size_t *n, size_t *cap, const tv_flowrec *recs, size_t k)
{
	if (*n + k > *cap) {
		size_t nc = (*n + k) * 2;
		tv_flowrec *t = realloc(*buf, nc * sizeof *t);
		if (!t)
			return TV_E_NOMEM;
		*buf = t;
		*cap = nc;
	}
	memcpy(*buf + *n, recs, k * sizeof *recs);
	*n += k;
	return 0;
}

static void vault_on_flows(void *ctx, const tv_flowrec *recs, size_t n)
{
	idx_vault *v = ctx;
	if (v->fp) {
		fp_queue_flows(v, recs, n);
		return;
	}
	if (flows_append(&v->flows, &v->nflows, &v->flows_cap, recs, n) != 0)
		v->flow_err = TV_E_NOMEM;
}

/* Flow records are derived data: committed after the chunks they come
 * from, in their own transaction. */
static int vault_commit_flows(idx_vault *v)
{
	int rc;
	if (v->flow_err)
		return v->flow_err;
	if (v->nflows == 0)
		return 0;
	rc = idx_flows_put(v->x, v->flows, v->nflows);
	if (rc == 0)
		v->nflows = 0;
	return rc;
}

idx *idx_vault_index(idx_vault *v)
{
	return v->x;
}

/*
 * The mark of the file being read carries the hash of the bytes consumed up
 * to its last added packet, and src_hash stands exactly there (it is moved
 * on only when a packet is added).  The digest is taken only when the mark
 * leaves the open chunk (a seal, a hand-off) or another file starts, not per
 * packet.
 */
static void settle_marks(idx_vault *v, idx_source_mark *marks, size_t n)
{
	size_t i;
	if (!v->src_active)
		return;
	for (i = 0; i < n; i++)
		if (memcmp(marks[i].identity, v->src_identity, 40) == 0 &&
		    ingest_prefix_len(v->src_hash) == marks[i].prefix_len)
			ingest_prefix_digest(v->src_hash, marks[i].prefix_sha256);
}

static void encode_tag(idx_vault *v, idx_source_mark *marks, size_t n, uint8_t *tag,
                       uint32_t *len)
{
	size_t i;
	uint8_t *m;
	settle_marks(v, marks, n);
	tag[0] = VAULT_TAG_VERSION;
	tag[1] = (uint8_t)n;
	for (i = 0; i < n; i++) {
		m = tag + 2 + i * VAULT_MARK_LEN;
		memcpy(m, marks[i].identity, 40);
		tv_put_le64(m + 40, marks[i].packets_done);
		tv_put_le64(m + 48, marks[i].prefix_len);
		memcpy(m + 56, marks[i].prefix_sha256, 32);
	}
	*len = (uint32_t)(2 + n * VAULT_MARK_LEN);
}

/* Tags of another layout (version 1 kept no prefix hash) give no marks:
 * the chunk is still indexed, and its file is stored afresh if ingested
 * again (duplicates, never a silent skip). */
static size_t decode_tag(const uint8_t *tag, uint32_t len, idx_source_mark *marks)
{
	size_t i, n;
	const uint8_t *m;
	if (!tag || len < 2 || tag[0] != VAULT_TAG_VERSION)
		return 0;
	n = tag[1];
	if (n > VAULT_MAX_MARKS || len != 2 + n * VAULT_MARK_LEN)
		return 0;
	for (i = 0; i < n; i++) {
		m = tag + 2 + i * VAULT_MARK_LEN;
		memcpy(marks[i].identity, m, 40);
		marks[i].packets_done = tv_get_le64(m + 40);
		marks[i].prefix_len = tv_get_le64(m + 48);
		memcpy(marks[i].prefix_sha256, m + 56, 32);
	}
	return n;
}

/* Commits every pending chunk: one fdatasync, one LMDB transaction. */
static int vault_commit(idx_vault *v)
{
	store_chunk_meta metas[64];
	idx_post *posts[64];
	idx_source_mark marks[64 * VAULT_MAX_MARKS];
	tv_counters delta;
	size_t i, j, nm = 0;
	int rc, k;

	if (v->npend == 0) {
		/* nothing to store, but the counters (rejects, drops) still count */
		bool any = false;
		for (k = 0; v->ctr && k < TV_CTR__COUNT; k++) {
			delta.v[k] = v->ctr->v[k] - v->committed.v[k];
			any = any || delta.v[k];
		}
		if (!any || v->live)
			return 0;
		rc = idx_commit(v->x, NULL, NULL, 0, NULL, 0, &delta);
		if (rc == 0)
			v->committed = *v->ctr;
		return rc;
	}
	rc = store_segs_sync(v->segs);
	if (rc)
		return rc;
	for (i = 0; i < v->npend; i++) {
		metas[i] = v->pend[i].meta;
		posts[i] = v->pend[i].post;
		for (j = 0; j < v->pend[i].nmarks; j++)
			marks[nm++] = v->pend[i].marks[j];
	}
	for (k = 0; k < TV_CTR__COUNT; k++)
		delta.v[k] = v->ctr ? v->ctr->v[k] - v->committed.v[k] : 0;
	rc = idx_commit(v->x, metas, posts, v->npend, marks, nm, &delta);
	if (rc)
		return rc;
	if (v->ctr)
		v->committed = *v->ctr;
	for (i = 0; i < v->npend; i++)
		idx_post_reset(v->pend[i].post);
	v->npend = 0;
	return vault_commit_flows(v);
}

static int fp_handoff(idx_vault *v, bool barrier);
static int fp_flush(idx_vault *v);

/* Seals the open chunk and appends it to its segment; commits when enough
 * chunks are pending.  Threaded: hands the open chunk to the pool. */
static int vault_seal(idx_vault *v)
{
	uint8_t tag[VAULT_TAG_MAX];
	uint32_t taglen;
	const uint8_t *chunk;
	size_t len;
	struct pending *p;
	idx_post *swap;
	int rc;

	if (v->fp)
		return fp_handoff(v, false);
	if (store_builder_count(v->b) == 0)
		return 0;
	encode_tag(v, v->cur_marks, v->cur_nmarks, tag, &taglen);
	rc = store_builder_set_tag(v->b, tag, taglen);
	if (rc)
		return rc;
	p = &v->pend[v->npend];
	rc = store_builder_seal(v->b, v->next_chunk_id, &chunk, &len, &p->meta);
	if (rc)
		return rc;
	rc = store_segs_append(v->segs, chunk, len, &p->meta.segment, &p->meta.offset);
	if (rc)
		return rc;
	p->meta.length = (uint32_t)len;
	v->next_chunk_id++;
	/* the pending slot's collector becomes free for the next chunk */
	swap = p->post;
	p->post = v->cur_post;
	v->cur_post = swap;
	memcpy(p->marks, v->cur_marks, sizeof p->marks);
	p->nmarks = v->cur_nmarks;
	v->cur_nmarks = 0;
	v->npend++;
	if (v->ctr) {
		/* counted once the chunk is in its segment, not as packets are
		 * added: a failed write (a full disk) stores none of them */
		v->ctr->v[TV_CTR_STORE_CHUNKS]++;
		v->ctr->v[TV_CTR_STORE_PACKETS] += p->meta.npkts;
		v->ctr->v[TV_CTR_STORE_BYTES] += p->meta.orig_bytes;
		v->ctr->v[TV_CTR_STORE_RAW_BYTES] += p->meta.raw_len;
		v->ctr->v[TV_CTR_STORE_COMP_BYTES] += p->meta.length;
	}
	if (v->npend >= v->cfg.commit_chunks)
		return vault_commit(v);
	return 0;
}

int idx_vault_add(idx_vault *v, const tv_pkt *pkt, const idx_file_pos *pos)
{
	const uint8_t *src_identity = pos && v->src_active ? v->src_identity : NULL;
	int rc;
	size_t i;

	v->added++; /* stored only once its chunk is written (vault_seal, fp_take) */
	if (src_identity) {
		for (i = 0; i < v->cur_nmarks; i++)
			if (memcmp(v->cur_marks[i].identity, src_identity, 40) == 0)
				break;
		if (i == v->cur_nmarks && i == VAULT_MAX_MARKS) {
			rc = vault_seal(v);
			if (rc)
				return rc;
			i = 0;
		}
	}
	rc = store_builder_add(v->b, pkt);
	if (rc == TV_E_FULL) {
		rc = vault_seal(v);
		if (rc)
			return rc;
		rc = store_builder_add(v->b, pkt);
	}
	if (rc)
		return rc;
	if (src_identity) {
		/* the packet is in the open chunk: the hash moves past it */
		if ((rc = ingest_prefix_advance(v->src_hash, pos->file_end)) != 0)
			return rc;
		for (i = 0; i < v->cur_nmarks; i++)
			if (memcmp(v->cur_marks[i].identity, src_identity, 40) == 0)
				break;
		if (i == v->cur_nmarks) {
			memset(&v->cur_marks[i], 0, sizeof v->cur_marks[i]);
			memcpy(v->cur_marks[i].identity, src_identity, 40);
			v->cur_nmarks++;
		}
		v->cur_marks[i].packets_done = pos->ordinal + 1;
		v->cur_marks[i].prefix_len = pos->file_end;
	}
	idx_post_add(v->cur_post, pkt->ts_ns, &pkt->tun, &pkt->info);
	if (v->ft)
		ingest_flowtab_add(v->ft, pkt);
	if (store_builder_full(v->b))
		return vault_seal(v);
	return 0;
}

int idx_vault_flush(idx_vault *v)
{
	int rc;
	if (v->fp)
		return fp_flush(v);
	rc = vault_seal(v);
	if (rc)
		return rc;
	rc = vault_commit(v);
	if (rc)
		return rc;
	return vault_commit_flows(v);
}

int idx_vault_tick(idx_vault *v, uint64_t now_ns)
{
	if (v->ft)
		ingest_flowtab_advance(v->ft, now_ns);
	if (v->fp)
		return v->flow_err; /* the records go with the next hand-off */
	return vault_commit_flows(v);
}

/* ================================================= threaded file ingest */

/*
 * Builders in flight: the caller fills one (v->b), a spare slot waits for
 * the next hand-off, and the rest are queued, being sealed, or waiting for
 * the writer.  Memory: about 4 x raw_target per slot (records, payload,
 * sealed chunk, zstd context).
 */
#define FP_MAX_THREADS 64
#define FP_SLOTS(threads) (2 * (threads) + 2)

enum { FS_FREE, FS_QUEUED, FS_BUSY, FS_SEALED };

struct fslot {
	store_builder *b;
	idx_post *post;
	idx_source_mark marks[VAULT_MAX_MARKS];
	size_t nmarks;
	tv_counters snap;      /* the caller's counters at the hand-off */
	uint64_t seq;          /* hand-off order */
	uint64_t id;           /* chunk id (when the builder holds packets) */
	bool barrier;          /* a flush: commit everything up to here */
	int state;             /* FS_* */
	int err;               /* of the seal */
	const uint8_t *chunk;  /* sealed: points into b */
	size_t len;            /* 0: no chunk (an empty barrier) */
	store_chunk_meta meta;
};

/* Source marks of one handed-off slot, kept by the caller's thread until
 * the writer has committed it (idx_vault_source_get). */
struct fhist {
	idx_source_mark marks[VAULT_MAX_MARKS];
	size_t nmarks;
};

enum { FPC_CHUNKS, FPC_RAW, FPC_COMP, FPC_PKTS, FPC_BYTES, FPC__N };
static const int fpc_ctr[FPC__N] = { TV_CTR_STORE_CHUNKS, TV_CTR_STORE_RAW_BYTES,
                                     TV_CTR_STORE_COMP_BYTES, TV_CTR_STORE_PACKETS,
                                     TV_CTR_STORE_BYTES };

struct fpool {
	pthread_mutex_t mu;
	pthread_cond_t work;   /* compressors: a slot was queued, or stop */
	pthread_cond_t ready;  /* writer: the oldest slot is sealed, or stop */
	pthread_cond_t freed;  /* caller: a slot is free, or an error */
	pthread_cond_t done;   /* caller (flush): done_seq advanced, or an error */
	struct fslot *slots;
	int nslots;
	struct fslot **ring;   /* queued slots by seq % nslots */
	uint64_t head;         /* next seq the writer takes */
	uint64_t next_c;       /* next seq a compressor takes */
	uint64_t tail;         /* next seq handed off (written by the caller) */
	struct fslot **freel;
	int nfree;
	uint64_t done_seq;     /* every seq below is committed */
	int err;               /* first error; nothing is written after it */
	bool stop;
	pthread_t *th;
	int nth;               /* compressors started */
	pthread_t wth;
	bool wstarted;
	/* caller only */
	struct fslot *spare;   /* the next slot to hand off */
	struct fhist *hist;    /* by seq % nhist */
	uint64_t nhist;
	uint64_t folded[FPC__N];
	/* writer only (the caller touches them while the writer is idle) */
	tv_counters wcommitted; /* caller's counters as of the last commit */
	tv_counters wsnap;      /* newest snapshot taken into pend */
	uint64_t wadd[FPC__N];  /* store counters since the last commit */
	uint64_t wtotal[FPC__N];
	tv_flowrec *wflows;
	size_t nwflows, wflows_cap;
	uint64_t *wtag;         /* spare tag array, swapped with qtag */
	size_t wtag_cap;
	/* flow records the caller emitted, each tagged with the seq of the
	 * next hand-off: committed once every chunk up to that seq is
	 * (derived data after the chunks they come from, as single-threaded).
	 * Under mu; one queue, so memory is that of the largest flush. */
	tv_flowrec *qflows;
	uint64_t *qtag;
	size_t nq, qcap, qtag_cap;
};


/* Caller (flow-table callback): queues records for the writer.  A lock
 * per emitted batch of records, not per packet. */
static void fp_queue_flows(idx_vault *v, const tv_flowrec *recs, size_t n)
{
	struct fpool *P = v->fp;
	size_t i;
	pthread_mutex_lock(&P->mu);
	if (P->nq + n > P->qtag_cap) {
		size_t nc = (P->nq + n) * 2;
		uint64_t *t = realloc(P->qtag, nc * sizeof *t);
		if (!t) {
			v->flow_err = TV_E_NOMEM;
			goto out;
		}
		P->qtag = t;
		P->qtag_cap = nc;
	}
	if (flows_append(&P->qflows, &P->nq, &P->qcap, recs, n) != 0) {
		v->flow_err = TV_E_NOMEM;
		goto out;
	}
	for (i = P->nq - n; i < P->nq; i++)
		P->qtag[i] = P->tail;
out:
	pthread_mutex_unlock(&P->mu);
}

/* Writer, under mu: moves the queued records of slots up to seq last
 * (all committed) to wflows. */
static int fp_take_flows(struct fpool *P, uint64_t last)
{
	size_t k = P->nq;
	int rc;
	if (k && P->qtag[k - 1] > last)
		for (k = 0; k < P->nq && P->qtag[k] <= last; k++)
			;
	if (k == 0)
		return 0;
	if (k == P->nq && P->nwflows == 0) {
		/* the usual case: swap the buffers, copy nothing */
		tv_flowrec *tf = P->wflows;
		uint64_t *tt = P->wtag;
		size_t tc = P->wflows_cap, ttc = P->wtag_cap;
		P->wflows = P->qflows;
		P->wflows_cap = P->qcap;
		P->nwflows = k;
		P->wtag = P->qtag;
		P->wtag_cap = P->qtag_cap;
		P->qflows = tf;
		P->qcap = tc;
		P->qtag = tt;
		P->qtag_cap = ttc;
		P->nq = 0;
		return 0;
	}
	if ((rc = flows_append(&P->wflows, &P->nwflows, &P->wflows_cap, P->qflows, k)) != 0)
		return rc;
	memmove(P->qflows, P->qflows + k, (P->nq - k) * sizeof *P->qflows);
	memmove(P->qtag, P->qtag + k, (P->nq - k) * sizeof *P->qtag);
	P->nq -= k;
	return 0;
}

static void *fp_compressor(void *arg)
{
	idx_vault *v = arg;
	struct fpool *P = v->fp;
	pthread_setname_np(pthread_self(), "tv-seal");
	pthread_mutex_lock(&P->mu);
	for (;;) {
		struct fslot *s;
		int rc = 0;
		while (!P->stop && !P->err && P->next_c == P->tail)
			pthread_cond_wait(&P->work, &P->mu);
		if (P->stop || P->err)
			break;
		s = P->ring[P->next_c % (uint64_t)P->nslots];
		P->next_c++;
		s->state = FS_BUSY;
		pthread_mutex_unlock(&P->mu);
		s->len = 0;
		s->chunk = NULL;
		if (store_builder_count(s->b) > 0) {
			rc = store_builder_seal(s->b, s->id, &s->chunk, &s->len, &s->meta);
			if (rc == 0)
				s->meta.length = (uint32_t)s->len;
		}
		pthread_mutex_lock(&P->mu);
		s->err = rc;
		s->state = FS_SEALED;
		if (s->seq == P->head)
			pthread_cond_signal(&P->ready);
	}
	pthread_mutex_unlock(&P->mu);
	return NULL;
}

/* Writer: one transaction for the chunks in pend (the durability order of
 * FORMAT.md), with the counters of the newest snapshot plus what the writer
 * stored.  force: commit the counters even when no chunk is pending (a
 * flush).  The flow records follow (fp_writer). */
static int fp_commit(idx_vault *v, bool force)
{
	struct fpool *P = v->fp;
	store_chunk_meta metas[64];
	idx_post *posts[64];
	idx_source_mark marks[64 * VAULT_MAX_MARKS];
	tv_counters delta;
	size_t i, j, done = 0;
	bool any = false;
	int k, rc = 0;

	for (k = 0; k < TV_CTR__COUNT; k++)
		delta.v[k] = P->wsnap.v[k] - P->wcommitted.v[k];
	for (k = 0; k < FPC__N; k++)
		delta.v[fpc_ctr[k]] += P->wadd[k];
	for (k = 0; k < TV_CTR__COUNT; k++)
		any = any || delta.v[k];
	if (v->npend == 0 && !force)
		return 0;
	if (v->npend && (rc = store_segs_sync(v->segs)) != 0)
		return rc;
	while (done < v->npend || (v->npend == 0 && any)) {
		size_t n = v->npend - done, nm = 0;
		if (n > 64)
			n = 64;
		for (i = 0; i < n; i++) {
			struct pending *p = &v->pend[done + i];
			metas[i] = p->meta;
			posts[i] = p->post;
			for (j = 0; j < p->nmarks; j++)
				marks[nm++] = p->marks[j];
		}
		rc = idx_commit(v->x, metas, posts, n, marks, nm, done + n >= v->npend ? &delta : NULL);
		if (rc)
			return rc;
		done += n;
		if (v->npend == 0)
			break;
	}
	/* wsnap and wcommitted are in the caller's terms, which leave out
	 * the store counters until fp_flush folds wtotal in */
	P->wcommitted = P->wsnap;
	for (k = 0; k < FPC__N; k++) {
		P->wtotal[k] += P->wadd[k];
		P->wadd[k] = 0;
	}
	for (i = 0; i < v->npend; i++)
		idx_post_reset(v->pend[i].post);
	v->npend = 0;
	return 0;
}

/*
 * Writer: a sealed slot's chunk goes to the segment; its metadata,
 * postings, marks and counters move to pend for the next commit.
 * The slot (and its builder) is free again as soon as its bytes are
 * written.
 */
static int fp_take(idx_vault *v, struct fslot *s)
{
	struct fpool *P = v->fp;
	struct pending *p;
	idx_post *swap;
	int rc;

	if (s->err)
		return s->err;
	if (s->len) {
		p = &v->pend[v->npend];
		p->meta = s->meta;
		rc = store_segs_append(v->segs, s->chunk, s->len, &p->meta.segment, &p->meta.offset);
		if (rc)
			return rc;
		p->meta.length = (uint32_t)s->len;
		swap = p->post;
		p->post = s->post;
		s->post = swap; /* empty since the last commit */
		memcpy(p->marks, s->marks, sizeof p->marks);
		p->nmarks = s->nmarks;
		v->npend++;
		P->wadd[FPC_CHUNKS]++;
		P->wadd[FPC_RAW] += p->meta.raw_len;
		P->wadd[FPC_COMP] += p->meta.length;
		P->wadd[FPC_PKTS] += p->meta.npkts;
		P->wadd[FPC_BYTES] += p->meta.orig_bytes;
	}
	/* only now: the counters of a slot whose chunk is in pend */
	P->wsnap = s->snap;
	return 0;
}

/*
 * Writer, after a failure in a pass whose chunks were appended but not
 * committed (a full disk: the group commit needs index pages that the
 * appends took, or a later chunk did not fit): undo the appends and redo
 * them one chunk at a time, append + fdatasync + commit, as the
 * single-threaded path orders them.  So a full disk stops at the same
 * chunk on every run, and no whole chunk is left past the index for a
 * later run to recover.  inpend[j] holds the bytes of pend[j].  Returns
 * the first error of the redo (0: everything committed).
 */
static int fp_redo(idx_vault *v, struct fslot **inpend, size_t n)
{
	struct fpool *P = v->fp;
	store_chunk_meta have;
	uint32_t seg;
	size_t j;
	int rc = 0, k;

	if (n == 0 || n != v->npend)
		return TV_E_RANGE;
	seg = v->pend[0].meta.segment;
	for (j = 1; j < n; j++)
		if (v->pend[j].meta.segment != seg)
			return TV_E_RANGE; /* a rotation in between: leave it to recovery */
	/* never cut what the index names */
	if (idx_chunk_get(v->x, v->pend[0].meta.chunk_id, &have) != TV_E_NOTFOUND)
		return TV_E_EXISTS;
	if ((rc = store_segs_truncate(v->segs, seg, v->pend[0].meta.offset)) != 0)
		return rc;
	for (j = 0; j < n && rc == 0; j++) {
		struct pending *p = &v->pend[j];
		rc = store_segs_append(v->segs, inpend[j]->chunk, inpend[j]->len, &p->meta.segment,
		                       &p->meta.offset);
		if (rc == 0)
			rc = store_segs_sync(v->segs);
		if (rc == 0) {
			/* each chunk carries its own store counters, so the ones
			 * committed before a failure are counted (in the index and
			 * in the caller's summary) even though the pass failed */
			uint64_t add[FPC__N] = { 1, p->meta.raw_len, p->meta.length, p->meta.npkts,
			                         p->meta.orig_bytes };
			tv_counters d = { 0 };
			for (k = 0; k < FPC__N; k++)
				d.v[fpc_ctr[k]] = add[k];
			rc = idx_commit(v->x, &p->meta, &p->post, 1, p->marks, p->nmarks, &d);
			for (k = 0; rc == 0 && k < FPC__N; k++) {
				P->wadd[k] -= add[k];
				P->wtotal[k] += add[k];
			}
		}
	}
	for (j = 0; j < n; j++)
		idx_post_reset(v->pend[j].post);
	v->npend = 0;
	return rc;
}

static void *fp_writer(void *arg)
{
	idx_vault *v = arg;
	struct fpool *P = v->fp;
	struct fslot *batch[64], *inpend[64];
	size_t nb, i, room, np0, ninp;

	pthread_setname_np(pthread_self(), "tv-writer");
	pthread_mutex_lock(&P->mu);
	for (;;) {
		struct fslot *h = NULL;
		bool barrier = false;
		int rc = 0, crc, take_rc;
		uint64_t last = 0;

		while (!P->stop && !P->err &&
		       !(P->head < P->tail && (h = P->ring[P->head % (uint64_t)P->nslots])->state == FS_SEALED))
			pthread_cond_wait(&P->ready, &P->mu);
		/* stop comes after a flush (nothing in flight) or gives up */
		if (P->err || P->stop)
			break;
		/* every consecutive sealed slot, up to a barrier */
		room = v->pend_cap - v->npend;
		if (room > 64)
			room = 64;
		nb = 0;
		while (nb < room && !barrier && P->head < P->tail &&
		       (h = P->ring[P->head % (uint64_t)P->nslots])->state == FS_SEALED) {
			batch[nb++] = h;
			barrier = h->barrier;
			last = h->seq;
			P->head++;
		}
		pthread_mutex_unlock(&P->mu);

		np0 = v->npend;
		ninp = 0;
		for (i = 0; i < nb && rc == 0; i++) {
			rc = fp_take(v, batch[i]);
			if (rc == 0 && batch[i]->len)
				inpend[ninp++] = batch[i];
		}
		take_rc = rc;
		crc = 0;
		if (rc == 0 && (barrier || v->npend >= v->cfg.commit_chunks))
			rc = crc = fp_commit(v, barrier);
		else if (rc != 0 && v->npend)
			crc = fp_commit(v, true); /* keep what was written before the failure */
		if (crc && np0 == 0 && v->npend) {
			/* the chunks of this pass are on disk, not committed */
			int rrc = fp_redo(v, inpend, ninp);
			if (take_rc == 0 && rrc == 0)
				rc = fp_commit(v, true); /* all redone: counters and flows */
			else if (take_rc == 0 && rrc != TV_E_RANGE && rrc != TV_E_EXISTS)
				rc = rrc;
		}

		if (rc == 0 && v->npend == 0 && nb) {
			/* every chunk up to last is committed: its flow records follow */
			pthread_mutex_lock(&P->mu);
			rc = fp_take_flows(P, last);
			pthread_mutex_unlock(&P->mu);
			if (rc == 0 && P->nwflows && (rc = idx_flows_put(v->x, P->wflows, P->nwflows)) == 0)
				P->nwflows = 0;
		}

		pthread_mutex_lock(&P->mu);
		for (i = 0; i < nb; i++) {
			struct fslot *s = batch[i];
			if (s->err || rc)
				store_builder_reset(s->b);
			s->nmarks = 0;
			s->barrier = false;
			s->state = FS_FREE;
			s->chunk = NULL;
			s->len = 0;
			P->freel[P->nfree++] = s;
		}
		if (rc) {
			if (!P->err)
				P->err = rc;
			pthread_cond_broadcast(&P->work);
		} else if (v->npend == 0) {
			P->done_seq = last + 1;
		}
		pthread_cond_broadcast(&P->freed);
		pthread_cond_broadcast(&P->done);
	}
	pthread_cond_broadcast(&P->freed);
	pthread_cond_broadcast(&P->done);
	pthread_mutex_unlock(&P->mu);
	return NULL;
}

/*
 * Caller: hands the open chunk (or, with barrier, possibly nothing) to the
 * pool and takes the next free builder.  One critical section per chunk;
 * waits only when every slot is in flight.
 */
static int fp_handoff(idx_vault *v, bool barrier)
{
	struct fpool *P = v->fp;
	struct fslot *s = P->spare;
	struct fhist *h;
	uint8_t tag[VAULT_TAG_MAX];
	uint32_t taglen;
	bool has = store_builder_count(v->b) > 0;
	store_builder *tb;
	idx_post *tp;
	int rc;

	if (!has && !barrier)
		return 0;
	if (v->flow_err)
		return v->flow_err;
	if (has) {
		encode_tag(v, v->cur_marks, v->cur_nmarks, tag, &taglen);
		if ((rc = store_builder_set_tag(v->b, tag, taglen)) != 0)
			return rc;
	}
	if (!s) {
		/* an earlier hand-off found the pool failed */
		pthread_mutex_lock(&P->mu);
		rc = P->err ? P->err : TV_E_RANGE;
		pthread_mutex_unlock(&P->mu);
		return rc;
	}
	/* the spare slot takes the full builder and its collector; the
	 * caller continues with the spare's empty ones */
	tb = s->b;
	s->b = v->b;
	v->b = tb;
	tp = s->post;
	s->post = v->cur_post;
	v->cur_post = tp;
	memcpy(s->marks, v->cur_marks, sizeof s->marks);
	s->nmarks = has ? v->cur_nmarks : 0;
	if (has)
		v->cur_nmarks = 0;
	if (v->ctr)
		s->snap = *v->ctr;
	s->barrier = barrier;
	s->id = has ? v->next_chunk_id++ : 0;
	s->seq = P->tail;
	s->err = 0;
	h = &P->hist[s->seq % P->nhist];
	memcpy(h->marks, s->marks, sizeof h->marks);
	h->nmarks = s->nmarks;

	pthread_mutex_lock(&P->mu);
	if (!P->err) {
		s->state = FS_QUEUED;
		P->ring[P->tail % (uint64_t)P->nslots] = s;
		P->tail++;
		pthread_cond_signal(&P->work);
	} else {
		P->freel[P->nfree++] = s;
	}
	P->spare = NULL;
	while (!P->nfree && !P->err)
		pthread_cond_wait(&P->freed, &P->mu);
	rc = P->err;
	if (P->nfree)
		P->spare = P->freel[--P->nfree];
	pthread_mutex_unlock(&P->mu);
	return rc;
}

/* Caller: hands off the open chunk and waits until everything handed off
 * is committed; then the store counters the writer added are folded into
 * the caller's block (for its summary). */
static int fp_flush(idx_vault *v)
{
	struct fpool *P = v->fp;
	uint64_t want;
	int rc = fp_handoff(v, true), k;
	want = P->tail;
	pthread_mutex_lock(&P->mu);
	while (P->done_seq < want && !P->err)
		pthread_cond_wait(&P->done, &P->mu);
	if (!rc)
		rc = P->err;
	/* the writer is idle (or stopped): its totals are stable */
	for (k = 0; k < FPC__N; k++) {
		uint64_t add = P->wtotal[k] - P->folded[k];
		if (v->ctr)
			v->ctr->v[fpc_ctr[k]] += add;
		P->wcommitted.v[fpc_ctr[k]] += add;
		P->wsnap.v[fpc_ctr[k]] += add;
		P->folded[k] = P->wtotal[k];
	}
	pthread_mutex_unlock(&P->mu);
	return rc;
}

/* Stops and frees the pool (after fp_flush, or on an error).  Accepts a
 * vault without one. */
static void fp_stop(idx_vault *v)
{
	struct fpool *P = v->fp;
	int i;
	if (!P)
		return;
	pthread_mutex_lock(&P->mu);
	P->stop = true;
	pthread_cond_broadcast(&P->work);
	pthread_cond_broadcast(&P->ready);
	pthread_mutex_unlock(&P->mu);
	for (i = 0; i < P->nth; i++)
		pthread_join(P->th[i], NULL);
	if (P->wstarted)
		pthread_join(P->wth, NULL);
	v->committed = P->wcommitted;
	for (i = 0; P->slots && i < P->nslots; i++) {
		store_builder_free(P->slots[i].b);
		idx_post_free(P->slots[i].post);
	}
	pthread_mutex_destroy(&P->mu);
	pthread_cond_destroy(&P->work);
	pthread_cond_destroy(&P->ready);
	pthread_cond_destroy(&P->freed);
	pthread_cond_destroy(&P->done);
	free(P->slots);
	free(P->ring);
	free(P->freel);
	free(P->hist);
	free(P->th);
	free(P->wflows);
	free(P->wtag);
	free(P->qflows);
	free(P->qtag);
	free(P);
	v->fp = NULL;
	v->npend = 0;
}

static int fp_start(idx_vault *v)
{
	struct fpool *P;
	sigset_t all, old;
	int i, rc = 0, n = v->cfg.threads;

	P = calloc(1, sizeof *P);
	if (!P)
		return TV_E_NOMEM;
	pthread_mutex_init(&P->mu, NULL);
	pthread_cond_init(&P->work, NULL);
	pthread_cond_init(&P->ready, NULL);
	pthread_cond_init(&P->freed, NULL);
	pthread_cond_init(&P->done, NULL);
	v->fp = P;
	P->nslots = FP_SLOTS(n);
	/* every seq not yet committed is in the ring or in pend */
	P->nhist = (uint64_t)P->nslots + v->pend_cap + 1;
	P->slots = calloc((size_t)P->nslots, sizeof *P->slots);
	P->ring = calloc((size_t)P->nslots, sizeof *P->ring);
	P->freel = calloc((size_t)P->nslots, sizeof *P->freel);
	P->hist = calloc(P->nhist, sizeof *P->hist);
	P->th = calloc((size_t)n, sizeof *P->th);
	if (!P->slots || !P->ring || !P->freel || !P->hist || !P->th) {
		rc = TV_E_NOMEM;
		goto fail;
	}
	for (i = 0; i < P->nslots; i++) {
		if ((rc = store_builder_new(&v->cfg.builder, &P->slots[i].b)) != 0 ||
		    (rc = idx_post_new(&P->slots[i].post)) != 0)
			goto fail;
		P->freel[P->nfree++] = &P->slots[P->nslots - 1 - i];
	}
	P->spare = P->freel[--P->nfree];
	if (v->ctr)
		P->wcommitted = P->wsnap = v->committed = *v->ctr;
	/* the threads take no signals: the caller's thread handles them */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n && rc == 0; i++) {
		rc = pthread_create(&P->th[i], NULL, fp_compressor, v);
		if (rc == 0)
			P->nth++;
	}
	if (rc == 0) {
		rc = pthread_create(&P->wth, NULL, fp_writer, v);
		P->wstarted = rc == 0;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		goto fail;
	return 0;
fail:
	fp_stop(v);
	return rc;
}

/* Candidates for a file: every mark whose identity starts with key, the
 * newest of each identity. */
#define VAULT_MAX_CANDS 256

static void cand_put(idx_source_mark *c, size_t *n, const idx_source_mark *m)
{
	size_t i;
	for (i = 0; i < *n; i++)
		if (memcmp(c[i].identity, m->identity, 40) == 0) {
			if (m->packets_done > c[i].packets_done)
				c[i] = *m;
			return;
		}
	if (*n < VAULT_MAX_CANDS)
		c[(*n)++] = *m;
}

static int cand_cmp(const void *a, const void *b)
{
	const idx_source_mark *x = a, *y = b;
	return x->prefix_len < y->prefix_len ? -1 : x->prefix_len > y->prefix_len;
}

static int source_candidates(idx_vault *v, const uint8_t key[IDX_SOURCE_KEY_LEN],
                             idx_source_mark *c, size_t *n)
{
	uint64_t seq, from, to;
	size_t i, k, got = 0;
	int rc;

	*n = 0;
	settle_marks(v, v->cur_marks, v->cur_nmarks);
	for (i = 0; i < v->cur_nmarks; i++)
		if (memcmp(v->cur_marks[i].identity, key, IDX_SOURCE_KEY_LEN) == 0)
			cand_put(c, n, &v->cur_marks[i]);
	if (v->fp) {
		/* handed off but not committed: what the writer will commit.
		 * done_seq is read before the index, so a slot committed in
		 * between is seen by the read transaction below. */
		struct fpool *P = v->fp;
		pthread_mutex_lock(&P->mu);
		from = P->done_seq;
		pthread_mutex_unlock(&P->mu);
		to = P->tail;
		if (to - from > P->nhist)
			from = to - P->nhist;
		for (seq = from; seq < to; seq++) {
			const struct fhist *h = &P->hist[seq % P->nhist];
			for (i = 0; i < h->nmarks; i++)
				if (memcmp(h->marks[i].identity, key, IDX_SOURCE_KEY_LEN) == 0)
					cand_put(c, n, &h->marks[i]);
		}
	}
	{
		idx_source_mark stored[VAULT_MAX_CANDS];
		if ((rc = idx_source_list(v->x, key, stored, VAULT_MAX_CANDS, &got)) != 0)
			return rc;
		for (k = 0; k < got && k < VAULT_MAX_CANDS; k++)
			cand_put(c, n, &stored[k]);
	}
	return 0;
}

int idx_vault_source_begin(idx_vault *v, const uint8_t *key, int fd,
                           idx_source_resume *res)
{
	idx_source_mark *c = NULL;
	uint8_t d[32];
	uint64_t variant = 0;
	size_t n = 0, i, best = SIZE_MAX;
	int rc;

	memset(res, 0, sizeof *res);
	/* the marks of the file before keep the hash of what it consumed */
	settle_marks(v, v->cur_marks, v->cur_nmarks);
	v->src_active = false;
	if (!key || fd < 0)
		return 0;
	if (!v->src_hash && (rc = ingest_prefix_new(&v->src_hash)) != 0)
		return rc;
	c = malloc(VAULT_MAX_CANDS * sizeof *c);
	if (!c)
		return TV_E_NOMEM;
	if ((rc = source_candidates(v, key, c, &n)) != 0)
		goto out;
	qsort(c, n, sizeof *c, cand_cmp);
	ingest_prefix_start(v->src_hash, fd);
	res->rule = n ? IDX_SRC_UNKNOWN_PREFIX : IDX_SRC_UNSEEN;
	for (i = 0; i < n; i++) {
		uint64_t var = tv_get_be64(c[i].identity + IDX_SOURCE_KEY_LEN);
		if (var >= variant)
			variant = var + 1;
		if (c[i].prefix_len == 0)
			continue; /* written before prefix hashes: cannot be compared */
		if (res->rule == IDX_SRC_SHORTER)
			continue; /* longer ones cannot match either */
		rc = ingest_prefix_advance(v->src_hash, c[i].prefix_len);
		if (rc == TV_E_TRUNCATED) {
			if (best == SIZE_MAX) {
				res->rule = IDX_SRC_SHORTER;
				res->prefix_len = c[i].prefix_len;
			}
			rc = 0;
			continue;
		}
		if (rc)
			goto out;
		ingest_prefix_digest(v->src_hash, d);
		if (memcmp(d, c[i].prefix_sha256, 32) == 0) {
			best = i;
		} else if (best == SIZE_MAX) {
			res->rule = IDX_SRC_DIFFERS;
			res->prefix_len = c[i].prefix_len;
		}
	}
	if (best != SIZE_MAX) {
		res->rule = IDX_SRC_RESUMED;
		res->packets_done = c[best].packets_done;
		res->prefix_len = c[best].prefix_len;
		memcpy(res->identity, c[best].identity, 40);
	} else {
		memcpy(res->identity, key, IDX_SOURCE_KEY_LEN);
		tv_put_be64(res->identity + IDX_SOURCE_KEY_LEN, variant);
	}
	/* the hash must stand where the next added packet starts */
	if (ingest_prefix_len(v->src_hash) != res->prefix_len || best == SIZE_MAX) {
		ingest_prefix_start(v->src_hash, fd);
		if (best != SIZE_MAX && (rc = ingest_prefix_advance(v->src_hash, res->prefix_len)) != 0)
			goto out;
	}
	memcpy(v->src_identity, res->identity, 40);
	v->src_active = true;
out:
	free(c);
	return rc;
}

/* ------------------------------------------------------------ recovery */

void idx_post_chunk(idx_post *p, const store_reader *rd, idx_frag_unsure *unsure, size_t cap,
                    size_t *nunsure)
{
	uint32_t i, n = store_reader_count(rd);
	idx_post_reset(p);
	if (nunsure)
		*nunsure = 0;
	for (i = 0; i < n; i++) {
		store_rec r;
		tv_l3info info;
		store_reader_get(rd, i, &r);
		ingest_parse_inner(r.frame, r.caplen, &info);
		idx_post_add(p, r.ts_ns, r.tun, &info);
		if (nunsure && info.l3 && info.frag == TV_FRAG_LATER && !info.has_ports) {
			if (*nunsure < cap) {
				idx_frag_unsure *u = &unsure[*nunsure];
				u->src = info.key.src;
				u->dst = info.key.dst;
				u->proto = info.key.proto;
				u->ts = r.ts_ns;
			}
			(*nunsure)++;
		}
	}
}

struct recover_ctx {
	idx_vault *v;
	uint32_t segment;
	idx_recovery *rec;
};

static int recover_chunk(void *ctx, const store_chunk_meta *meta, const uint8_t *chunk, size_t len)
{
	struct recover_ctx *rc = ctx;
	idx_vault *v = rc->v;
	struct pending *p = &v->pend[0];
	const uint8_t *tag;
	uint32_t taglen, n;
	int err;

	/* Live workers take chunk ids at seal time, so a chunk with a lower id
	 * can follow the highest indexed one on disk: skip what is indexed. */
	{
		store_chunk_meta have;
		if (idx_chunk_get(v->x, meta->chunk_id, &have) == 0) {
			if (have.segment == rc->segment && have.offset == meta->offset)
				return 0;
			return TV_E_EXISTS;
		}
	}
	err = store_reader_load(v->rd, chunk, len, true, NULL);
	if (err)
		return err;
	idx_post_chunk(p->post, v->rd, NULL, 0, NULL);
	n = store_reader_count(v->rd);
	tag = store_reader_tag(v->rd, &taglen);
	p->nmarks = decode_tag(tag, taglen, p->marks);
	p->meta = *meta;
	p->meta.segment = rc->segment;
	p->meta.length = (uint32_t)len;
	err = idx_commit(v->x, &p->meta, &p->post, 1, p->marks, p->nmarks, NULL);
	if (err)
		return err;
	if (meta->chunk_id >= v->next_chunk_id)
		v->next_chunk_id = meta->chunk_id + 1;
	rc->rec->chunks_indexed++;
	rc->rec->packets_indexed += n;
	return 0;
}

static int vault_recover(idx_vault *v, idx_recovery *rec)
{
	store_chunk_meta last;
	uint32_t seg, newest = store_segs_newest(v->segs);
	uint64_t off = 0;
	int rc;

	rc = idx_chunk_last(v->x, &last);
	if (rc == 0) {
		seg = last.segment;
		off = last.offset + last.length;
		v->next_chunk_id = last.chunk_id + 1;
	} else if (rc == TV_E_NOTFOUND) {
		seg = newest ? 1 : 0;
		v->next_chunk_id = 1;
	} else {
		return rc;
	}
	if (newest == 0)
		return 0;
	for (; seg <= newest; seg++, off = 0) {
		struct recover_ctx ctx = { v, seg, rec };
		uint64_t valid_end = 0, torn = 0;
		rc = store_segs_scan(v->segs, seg, off ? off : STORE_SEG_HDR_LEN, recover_chunk, &ctx,
		                     &valid_end, &torn);
		if (rc == ENOENT)
			continue; /* a gap left by retention */
		if (rc == TV_E_TRUNCATED)
			return TV_E_CORRUPT; /* shorter than the index says: damaged, not torn */
		if (rc)
			return rc;
		if (torn) {
			uint64_t iend = 0;
			/* With several writers, indexed chunks of lower ids can lie past
			 * the highest id's chunk.  Never cut indexed data: a chunk the
			 * index lists beyond the bad one means damage, for verify and
			 * reindex to deal with, not a torn tail. */
			if (idx_segment_end(v->x, seg, &iend) == 0 && iend > valid_end)
				return TV_E_CORRUPT;
			rc = store_segs_truncate(v->segs, seg, valid_end);
			if (rc)
				return rc;
			rec->torn_bytes += torn;
			rec->torn_segment = seg;
			rec->torn_offset = valid_end;
		}
	}
	return 0;
}

/*
 * Flow records after a crash.  Records are written when their window closes,
 * so a crash loses the records of the windows still open, although their
 * packets are stored (and a re-run skips those packets).  A writable session
 * that synthesises flows sets meta "flows_writer" and clears it on a clean
 * close.  Finding it set at open means the last session died: the records of
 * the newest windows are deleted and rebuilt from the stored packets.  The
 * flow table keeps at most the current and the previous window open, so
 * rebuilding from one interval before the newest committed window covers
 * every window that could be incomplete (a window that never produced a
 * record is rebuilt from its packets too, since every packet after the start
 * is replayed).  Only late packets of windows already closed (its "late"
 * list) can stay lost.
 */
#define FLOWS_WRITER_KEY "flows_writer"

struct rebuild_ctx {
	ingest_flowtab *ft;
	idx_vault *v;
	uint64_t committed; /* records committed along the way */
};

/* A whole store's records (reindex) would not fit in memory at once. */
#define REBUILD_COMMIT_EVERY 65536

static int rebuild_on_packet(void *ctx, int store, const store_rec *r, const tv_l3info *info)
{
	struct rebuild_ctx *rc = ctx;
	tv_pkt p;
	(void)store;
	memset(&p, 0, sizeof p);
	p.ts_ns = r->ts_ns;
	p.frame = r->frame;
	p.caplen = r->caplen;
	p.origlen = r->origlen;
	p.decap_error = (r->flags & STORE_REC_DECAP_ERROR) != 0;
	p.tun = *r->tun;
	p.info = *info;
	ingest_flowtab_add(rc->ft, &p);
	if (rc->v->nflows >= REBUILD_COMMIT_EVERY) {
		size_t n = rc->v->nflows;
		int err = vault_commit_flows(rc->v);
		if (err)
			return err;
		rc->committed += n;
	}
	return 0;
}

static int vault_rebuild_flows(idx_vault *v, uint64_t *rebuilt)
{
	uint32_t last = 0, from;
	bool any = false;
	uint64_t dropped = 0;
	char err[256];
	idx_expr *e = NULL;
	idx_rstore rs;
	struct rebuild_ctx ctx;
	ingest_flowtab_cfg fcfg = v->cfg.flowtab;
	int rc;

	*rebuilt = 0;
	if ((rc = idx_flows_last_window(v->x, &last, &any)) != 0)
		return rc;
	from = (any && last > fcfg.interval) ? last - fcfg.interval : 0;
	if ((rc = idx_flows_drop_from(v->x, from, &dropped)) != 0)
		return rc;
	if ((rc = idx_expr_time_window((uint64_t)from * TV_NS_PER_S, 0, &e)) != 0)
		return rc;
	v->nflows = 0;
	ctx.ft = NULL;
	ctx.v = v;
	ctx.committed = 0;
	rc = ingest_flowtab_new(&fcfg, vault_on_flows, v, NULL, &ctx.ft);
	if (rc == 0) {
		memset(&rs, 0, sizeof rs);
		rs.x = v->x;
		rs.segs = v->segs;
		rs.dir = v->dir;
		rc = idx_query_run(&rs, 1, e, false, rebuild_on_packet, &ctx, NULL, err, sizeof err);
	}
	if (rc == 0) {
		ingest_flowtab_flush(ctx.ft);
		*rebuilt = ctx.committed + v->nflows;
		rc = vault_commit_flows(v);
	}
	ingest_flowtab_free(ctx.ft);
	idx_expr_free(e);
	v->nflows = 0;
	return rc;
}

static int vault_lock(const char *dir, int *fd_out)
{
	char path[4096];
	int fd;
	snprintf(path, sizeof path, "%s/LOCK", dir);
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? TV_E_LOCKED : e;
	}
	*fd_out = fd;
	return 0;
}

static int vault_open(const char *dir, const idx_vault_cfg *cfg, tv_counters *ctr,
                      idx_recovery *rec, bool lock, idx_vault **out)
{
	idx_vault *v;
	uint8_t uuid[16];
	idx_recovery dummy;
	size_t i;
	int rc;

	*out = NULL;
	if (!rec)
		rec = &dummy;
	memset(rec, 0, sizeof *rec);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errno;
	v = calloc(1, sizeof *v);
	if (!v)
		return TV_E_NOMEM;
	v->cfg = *cfg;
	if (v->cfg.commit_chunks == 0)
		v->cfg.commit_chunks = 1;
	if (v->cfg.commit_chunks > 64)
		v->cfg.commit_chunks = 64;
	v->ctr = ctr;
	if (ctr) {
		v->committed = *ctr;
		v->stored0 = ctr->v[TV_CTR_STORE_PACKETS];
	}
	v->lock_fd = -1;
	v->dir = strdup(dir);
	if (!v->dir) {
		rc = TV_E_NOMEM;
		goto fail;
	}
	if (lock && (rc = vault_lock(dir, &v->lock_fd)) != 0)
		goto fail;
	rc = idx_open(dir, &v->cfg.index, &v->x);
	if (rc)
		goto fail;
	idx_store_uuid(v->x, uuid);
	rc = store_segs_open(dir, uuid, &v->cfg.segs, &v->segs);
	if (rc)
		goto fail;
	rc = store_builder_new(&v->cfg.builder, &v->b);
	if (rc)
		goto fail;
	rc = store_reader_new(&v->rd);
	if (rc)
		goto fail;
	if (v->cfg.threads < 1)
		v->cfg.threads = 1;
	if (v->cfg.threads > FP_MAX_THREADS)
		v->cfg.threads = FP_MAX_THREADS;
	/* threaded: the writer moves every ready chunk into pend */
	v->pend_cap = v->cfg.commit_chunks;
	if (v->cfg.threads > 1)
		v->pend_cap += (size_t)FP_SLOTS(v->cfg.threads);
	v->pend = calloc(v->pend_cap, sizeof *v->pend);
	if (!v->pend) {
		rc = TV_E_NOMEM;
		goto fail;
	}
	for (i = 0; i < v->pend_cap; i++) {
		rc = idx_post_new(&v->pend[i].post);
		if (rc)
			goto fail;
	}
	rc = idx_post_new(&v->cur_post);
	if (rc)
		goto fail;
	if (v->cfg.flows) {
		rc = ingest_flowtab_new(&v->cfg.flowtab, vault_on_flows, v, ctr, &v->ft);
		if (rc)
			goto fail;
	}
	rc = vault_recover(v, rec);
	if (rc == 0 && v->cfg.flows) {
		uint64_t was = 0;
		rc = idx_meta_u64_get(v->x, FLOWS_WRITER_KEY, &was);
		if (rc == 0 && was)
			rc = vault_rebuild_flows(v, &rec->flows_rebuilt);
		if (rc == 0 && (rc = idx_meta_u64_set(v->x, FLOWS_WRITER_KEY, 1)) == 0)
			v->flows_session = true;
	}
	if (rc)
		goto fail;
	if (v->cfg.threads > 1 && (rc = fp_start(v)) != 0)
		goto fail;
	*out = v;
	return 0;
fail:
	v->npend = 0;
	idx_vault_close(v);
	return rc;
}

int idx_vault_open(const char *dir, const idx_vault_cfg *cfg, tv_counters *ctr,
                   idx_recovery *rec, idx_vault **out)
{
	return vault_open(dir, cfg, ctr, rec, true, out);
}

/*
 * Whether a writer holds STORE/LOCK.  A reader must not take the lock, not
 * even for a moment (an ingest starting then would be refused), so it looks
 * in /proc/locks (proc(5)) for a flock() lock on the file's device and
 * inode: "N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF".
 */
bool idx_store_writer_active(const char *dir)
{
	char path[4096], line[256];
	struct stat st;
	FILE *f;
	bool held = false;

	snprintf(path, sizeof path, "%s/LOCK", dir);
	if (stat(path, &st) != 0)
		return false;
	f = fopen("/proc/locks", "re");
	if (!f)
		return false;
	while (!held && fgets(line, sizeof line, f)) {
		char type[16], mode[16], rw[16];
		unsigned maj, min;
		unsigned long long ino;
		long pid;
		const char *p = strchr(line, ':');
		if (!p)
			continue;
		p++;
		while (*p == ' ')
			p++;
		if (strncmp(p, "->", 2) == 0)
			continue; /* a waiter, not a holder */
		if (sscanf(p, "%15s %15s %15s %ld %x:%x:%llu", type, mode, rw, &pid, &maj, &min, &ino) != 7)
			continue;
		held = strcmp(type, "FLOCK") == 0 && ino == (unsigned long long)st.st_ino &&
		       maj == major(st.st_dev) && min == minor(st.st_dev);
	}
	fclose(f);
	return held;
}

/* ============================================================= reindex */

/*
 * The new index is built under STORE/index.build-<pid> with a marker file
 * inside; the marker goes once the build is complete and durable, then the
 * build and STORE/index trade places in one rename (RENAME_EXCHANGE), and
 * the old index is moved to STORE/index.old-<time>.  A reader opens either
 * the old index or the complete new one; a kill leaves the old index in
 * place (and a marked build, removed by the next reindex) or the new one.
 */
#define REINDEX_MARK "BUILDING"
#define REINDEX_BUILD "index.build-"

static int fsync_dirfd(int dfd)
{
	return fsync(dfd) != 0 ? errno : 0;
}

/* Moves STORE/<from> to STORE/index.old-<time>[-n], never over anything. */
static int move_aside(int sfd, const char *from, char *to, size_t cap)
{
	long long t = (long long)time(NULL);
	int i;
	for (i = 0; i < 100; i++) {
		if (i == 0)
			snprintf(to, cap, "index.old-%lld", t);
		else
			snprintf(to, cap, "index.old-%lld-%d", t, i);
		if (renameat2(sfd, from, sfd, to, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return errno;
	}
	return EEXIST;
}

/* Removes an incomplete build (it holds the marker): only the files LMDB
 * and the marker make.  Returns true when it was one and is gone. */
static bool remove_build(int sfd, const char *name)
{
	static const char *const files[] = { "data.mdb", "lock.mdb", REINDEX_MARK };
	size_t i;
	int bfd = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0)
		return false;
	if (faccessat(bfd, REINDEX_MARK, F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
		close(bfd);
		return false;
	}
	for (i = 0; i < sizeof files / sizeof files[0]; i++)
		unlinkat(bfd, files[i], 0);
	close(bfd);
	return unlinkat(sfd, name, AT_REMOVEDIR) == 0;
}

/* Builds left by an interrupted reindex: a marked one is incomplete and
 * is removed; an unmarked one is a complete index and is moved aside,
 * never deleted. */
static int clean_builds(int sfd, idx_reindex_report *rep)
{
	DIR *d;
	struct dirent *e;
	int dfd = dup(sfd), rc = 0;

	if (dfd < 0)
		return errno;
	d = fdopendir(dfd);
	if (!d) {
		rc = errno;
		close(dfd);
		return rc;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char aside[64];
		struct stat st;
		if (strncmp(e->d_name, REINDEX_BUILD, strlen(REINDEX_BUILD)) != 0)
			continue;
		if (fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (remove_build(sfd, e->d_name)) {
			rep->stale_removed++;
			continue;
		}
		if (faccessat(sfd, e->d_name, F_OK, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if ((rc = move_aside(sfd, e->d_name, aside, sizeof aside)) == 0)
			rep->stale_kept++;
	}
	closedir(d);
	return rc;
}

int idx_reindex(const char *dir, idx_reindex_report *rep)
{
	char build[64];
	idx_vault_cfg cfg;
	idx_cfg ocfg;
	idx *old = NULL;
	idx_vault *v = NULL;
	tv_counters ctr;
	struct stat st;
	int sfd, bfd = -1, mfd, lfd = -1, rc;
	bool had_old;

	memset(rep, 0, sizeof *rep);
	sfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return errno == ENOENT ? TV_E_NOTFOUND : errno;
	if (fstatat(sfd, "segments", &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
		close(sfd);
		return TV_E_NOTFOUND;
	}
	/* before anything changes: an ingest holds the lock while it runs */
	if ((rc = vault_lock(dir, &lfd)) != 0)
		goto out;
	if ((rc = clean_builds(sfd, rep)) != 0)
		goto out;
	snprintf(build, sizeof build, REINDEX_BUILD "%ld", (long)getpid());
	if (mkdirat(sfd, build, 0700) != 0) {
		rc = errno;
		goto out;
	}
	bfd = openat(sfd, build, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0) {
		rc = errno;
		goto out;
	}
	mfd = openat(bfd, REINDEX_MARK, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (mfd < 0) {
		rc = errno;
		goto out;
	}
	close(mfd);
	if ((rc = fsync_dirfd(bfd)) != 0 || (rc = fsync_dirfd(sfd)) != 0)
		goto out;

	had_old = fstatat(sfd, "index", &st, AT_SYMLINK_NOFOLLOW) == 0;
	idx_cfg_default(&ocfg);
	if (had_old && (rep->old_err = idx_open(dir, &ocfg, &old)) != 0)
		old = NULL;
	idx_vault_cfg_default(&cfg);
	cfg.flows = false;
	cfg.index.name = build;
	/* the new index keeps the store's identity */
	if (old) {
		idx_store_uuid(old, cfg.index.uuid);
		cfg.index.have_uuid = true;
	} else if (store_segs_read_uuid(dir, cfg.index.uuid) == 0) {
		cfg.index.have_uuid = true;
	}
	memset(&ctr, 0, sizeof ctr);
	if ((rc = vault_open(dir, &cfg, &ctr, &rep->rec, false, &v)) != 0)
		goto out;
	if (old) {
		rc = idx_carry(v->x, old, &rep->carry);
		if (rc == 0)
			rep->carried = true;
		else
			rep->old_err = rc;
		idx_close(old);
		old = NULL;
	}
	if (!rep->carried && (rc = vault_rebuild_flows(v, &rep->flows_rebuilt)) != 0)
		goto out;
	rc = idx_vault_close(v);
	v = NULL;
	if (rc)
		goto out;
	/* complete and durable (LMDB syncs every commit): drop the marker */
	if (unlinkat(bfd, REINDEX_MARK, 0) != 0) {
		rc = errno;
		goto out;
	}
	if ((rc = fsync_dirfd(bfd)) != 0)
		goto out;
	if (had_old && renameat2(sfd, build, sfd, "index", RENAME_EXCHANGE) == 0) {
		/* the build's name now holds the old index */
		if ((rc = move_aside(sfd, build, rep->old_dir, sizeof rep->old_dir)) != 0)
			goto out;
	} else if (had_old && errno != EINVAL && errno != ENOSYS) {
		rc = errno;
		goto out;
	} else if (had_old && ((rc = move_aside(sfd, "index", rep->old_dir, sizeof rep->old_dir)) != 0 ||
	                       renameat(sfd, build, sfd, "index") != 0)) {
		/* a file system without RENAME_EXCHANGE: for a moment there is
		 * no index (readers fail, they never see a partial one) */
		rc = rc ? rc : errno;
		goto out;
	} else if (!had_old && renameat(sfd, build, sfd, "index") != 0) {
		rc = errno;
		goto out;
	}
	rc = fsync_dirfd(sfd);
out:
	if (v)
		idx_vault_close(v);
	idx_close(old);
	if (rc && bfd >= 0)
		remove_build(sfd, build); /* only while it still holds the marker */
	if (bfd >= 0)
		close(bfd);
	if (lfd >= 0)
		close(lfd);
	close(sfd);
	return rc;
}

int idx_vault_close(idx_vault *v)
{
	int rc = 0;
	size_t i;
	if (!v)
		return 0;
	if (v->live)
		rc = idx_vault_live_stop(v);
	if (v->x && v->segs && v->b) {
		if (v->ft)
			ingest_flowtab_flush(v->ft);
		int frc = idx_vault_flush(v);
		if (rc == 0)
			rc = frc;
	}
	fp_stop(v);
	if (v->ctr && !v->live) {
		/* added but never written to a segment (a failed write, a full
		 * disk): not stored; the summary says so */
		uint64_t stored = v->ctr->v[TV_CTR_STORE_PACKETS] - v->stored0;
		if (v->added > stored)
			v->ctr->v[TV_CTR_STORE_LOST] += v->added - stored;
	}
	/* a clean close: every record is written; a later open needs no rebuild */
	if (rc == 0 && v->flows_session && v->x)
		rc = idx_meta_u64_set(v->x, FLOWS_WRITER_KEY, 0);
	ingest_flowtab_free(v->ft);
	ingest_prefix_free(v->src_hash);
	free(v->dir);
	free(v->flows);
	if (v->pend)
		for (i = 0; i < v->pend_cap; i++)
			idx_post_free(v->pend[i].post);
	free(v->pend);
	idx_post_free(v->cur_post);
	store_reader_free(v->rd);
	store_builder_free(v->b);
	store_segs_close(v->segs);
	idx_close(v->x);
	if (v->lock_fd >= 0)
		close(v->lock_fd);
	free(v);
	return rc;
}

/* ================================================================ live */

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
};

struct idx_vault_worker {
	idx_vault *v;
	int id;
	store_builder *b;
	idx_post *post;
	ingest_flowtab *ft;
	tv_flowrec *flows;
	size_t nflows, flows_cap;
	int flow_err;
	tv_counters ctr, sent;
	uint64_t first_mono;   /* 0: builder empty */
	uint64_t last_send;
	bool dirty;            /* counters may have grown since last_send */
};

void idx_live_cfg_default(idx_live_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->seal_interval_ns = 1000000000u;
	cfg->queue_max = 16;
	cfg->min_free = 0;
	cfg->min_free_pct = 0;
	cfg->min_free_auto = true;
	cfg->nworkers = 1;
}

static void item_free(struct qitem *it)
{
	if (!it)
		return;
	free(it->chunk);
	free(it->flows);
	idx_post_free(it->post);
	free(it);
}

/* Gives a used posting collector back for the next seal. */
static void post_recycle(struct live *L, idx_post *p)
{
	if (!p)
		return;
	idx_post_reset(p);
	pthread_mutex_lock(&L->mu);
	if (L->nfree < LIVE_FREE_POSTS) {
		L->free_posts[L->nfree++] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&L->mu);
	idx_post_free(p);
}

/* ---------------------------------------------------------- retention */

/* Drops one segment: mark, index entries, then the file (FORMAT.md
 * "Drop of a segment"; the order leaves at worst an orphan file, which the
 * next start removes). */
static int live_drop_segment(idx_vault *v, uint32_t seg, uint64_t bytes)
{
	uint64_t last = 0, nch = 0, dropped = 0;
	int rc = idx_segment_last_ts(v->x, seg, &last, &nch);
	if (rc)
		return rc;
	if (last && (rc = idx_pruned_until_raise(v->x, last)) != 0)
		return rc;
	if ((rc = idx_segment_drop(v->x, seg, &dropped)) != 0)
		return rc;
	rc = store_segs_remove(v->segs, seg);
	if (rc && rc != ENOENT)
		return rc;
	v->ctr->v[TV_CTR_RET_SEGMENTS]++;
	v->ctr->v[TV_CTR_RET_CHUNKS] += dropped;
	v->ctr->v[TV_CTR_RET_BYTES] += bytes;
	return 0;
}

/* One retention pass: oldest segments first, never the one being written. */
static int live_retention(idx_vault *v)
{
	struct live *L = v->live;
	uint32_t *ids = NULL, newest;
	uint64_t *sizes = NULL, total = 0, now = tv_clock_real_ns();
	size_t n = 0, i;
	int rc;

	L->last_pass = tv_clock_mono_ns();
	if ((rc = store_segs_list(v->segs, &ids, &n)) != 0)
		return rc;
	sizes = calloc(n ? n : 1, sizeof *sizes);
	if (!sizes) {
		free(ids);
		return TV_E_NOMEM;
	}
	for (i = 0; i < n; i++) {
		if (store_segs_size(v->segs, ids[i], &sizes[i]) != 0)
			sizes[i] = 0; /* vanished: nothing to count */
		total += sizes[i];
	}
	newest = store_segs_newest(v->segs);
	for (i = 0; i < n && ids[i] != newest; i++) {
		bool drop = false;
		if (L->cfg.max_size && total > L->cfg.max_size) {
			drop = true;
		} else if (L->cfg.max_age_ns && now > L->cfg.max_age_ns) {
			uint64_t last = 0, nch = 0;
			if ((rc = idx_segment_last_ts(v->x, ids[i], &last, &nch)) != 0)
				break;
			drop = nch == 0 || last < now - L->cfg.max_age_ns;
		}
		if (!drop)
			break;
		if ((rc = live_drop_segment(v, ids[i], sizes[i])) != 0)
			break;
		total -= sizes[i];
	}
	L->seg_bytes = total;
	free(ids);
	free(sizes);
	if (rc)
		return rc;
	if (L->cfg.flow_max_age_ns && tv_clock_mono_ns() - L->last_flow_pass > 10000000000ull) {
		uint64_t dropped = 0;
		L->last_flow_pass = tv_clock_mono_ns();
		if (now > L->cfg.flow_max_age_ns) {
			uint64_t before = (now - L->cfg.flow_max_age_ns) / 1000000000u;
			rc = idx_flows_drop_before(v->x, before > UINT32_MAX ? UINT32_MAX : (uint32_t)before,
			                           &dropped);
			v->ctr->v[TV_CTR_RET_FLOWS] += dropped;
		}
	}
	return rc;
}

/* Removes segment files older than the newest that the index names no
 * chunk of: left when a crash fell between idx_segment_drop and the file's
 * removal.  Only run when retention is on (nothing else makes them). */
static int live_remove_orphans(idx_vault *v)
{
	uint32_t *ids = NULL, newest = store_segs_newest(v->segs);
	size_t n = 0, i;
	int rc = store_segs_list(v->segs, &ids, &n);
	if (rc)
		return rc;
	for (i = 0; i < n && ids[i] != newest; i++) {
		uint64_t last, nch;
		if ((rc = idx_segment_last_ts(v->x, ids[i], &last, &nch)) != 0)
			break;
		if (nch == 0 && (rc = store_segs_remove(v->segs, ids[i])) != 0 && rc != ENOENT)
			break;
		rc = 0;
	}
	free(ids);
	return rc;
}

int idx_live_keep_free(const idx_live_cfg *cfg, const char *dir, idx_free_space *fs)
{
	struct statvfs sv;
	memset(fs, 0, sizeof *fs);
	/* the store's own file system, wherever the process runs from */
	if (statvfs(dir, &sv) != 0)
		return errno;
	fs->size = (uint64_t)sv.f_blocks * sv.f_frsize;
	fs->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (cfg->min_free_auto) {
		/* the smaller of 1 GiB and 5 %: either guard alone would keep a
		 * small disk from storing anything, or a large one too full */
		fs->keep = fs->size / 20 < (1ull << 30) ? fs->size / 20 : 1ull << 30;
	} else {
		uint64_t pct = fs->size / 100 * cfg->min_free_pct;
		fs->keep = cfg->min_free > pct ? cfg->min_free : pct;
	}
	return 0;
}

/* Free space check before an append: statvfs is cheap next to a fdatasync.
 * Measured every time, so storing starts again as soon as space is freed
 * (or the file system grows). */
static bool live_space_ok(idx_vault *v, size_t len)
{
	struct live *L = v->live;
	idx_free_space fs;
	if (!L->cfg.min_free_auto && !L->cfg.min_free && !L->cfg.min_free_pct)
		return true;
	if (idx_live_keep_free(&L->cfg, v->dir, &fs) != 0)
		return true; /* cannot tell: the write itself will say ENOSPC */
	return fs.avail >= fs.keep + len;
}

/* ------------------------------------------------------------- writer */

static int live_commit(idx_vault *v, struct qitem **items, size_t n)
{
	struct live *L = v->live;
	store_chunk_meta metas[LIVE_BATCH];
	idx_post *posts[LIVE_BATCH];
	struct qitem *chunks[LIVE_BATCH];
	tv_counters delta;
	size_t i, nc = 0;
	uint64_t now;
	bool any = false;
	int k, rc = 0;

	for (i = 0; i < n; i++) {
		struct qitem *it = items[i];
		for (k = 0; k < TV_CTR__COUNT; k++)
			v->ctr->v[k] += it->delta.v[k];
		if (it->worker >= 0 && it->worker < L->cfg.nworkers)
			L->active[it->worker] = it->active_flows;
		if (it->nflows) {
			vault_on_flows(v, it->flows, it->nflows);
			if (v->flow_err)
				return v->flow_err;
		}
		if (!it->chunk)
			continue;
		if (L->cfg.max_size && L->seg_bytes + it->len > L->cfg.max_size &&
		    (rc = live_retention(v)) != 0)
			return rc;
		if (!live_space_ok(v, it->len)) {
			v->ctr->v[TV_CTR_STORE_NOSPACE_CHUNKS]++;
			v->ctr->v[TV_CTR_STORE_NOSPACE_PKTS] += it->meta.npkts;
			continue;
		}
		rc = store_segs_append(v->segs, it->chunk, it->len, &it->meta.segment, &it->meta.offset);
		if (rc)
			return rc;
		it->meta.length = (uint32_t)it->len;
		L->seg_bytes += it->len;
		metas[nc] = it->meta;
		posts[nc] = it->post;
		chunks[nc++] = it;
		v->ctr->v[TV_CTR_STORE_CHUNKS]++;
		v->ctr->v[TV_CTR_STORE_PACKETS] += it->meta.npkts;
		v->ctr->v[TV_CTR_STORE_BYTES] += it->meta.orig_bytes;
		v->ctr->v[TV_CTR_STORE_RAW_BYTES] += it->meta.raw_len;
		v->ctr->v[TV_CTR_STORE_COMP_BYTES] += it->len;
	}
	{
		uint64_t act = 0;
		for (k = 0; k < L->cfg.nworkers; k++)
			act += L->active[k];
		v->ctr->v[TV_CTR_FLOW_ACTIVE] = act;
	}
	for (k = 0; k < TV_CTR__COUNT; k++) {
		delta.v[k] = v->ctr->v[k] - v->committed.v[k]; /* mod 2^64: gauges too */
		any = any || delta.v[k];
	}
	if (nc && (rc = store_segs_sync(v->segs)) != 0)
		return rc;
	if (nc || any) {
		if ((rc = idx_commit(v->x, metas, posts, nc, NULL, 0, &delta)) != 0)
			return rc;
		v->committed = *v->ctr;
	}
	/* Visibility latency: from the first packet's arrival to the commit
	 * that makes it queryable.  Committed with the next transaction. */
	now = tv_clock_mono_ns();
	for (i = 0; i < nc; i++) {
		uint64_t us = now > chunks[i]->first_mono ? (now - chunks[i]->first_mono) / 1000 : 0;
		v->ctr->v[TV_CTR_LIVE_SEALS]++;
		v->ctr->v[TV_CTR_LIVE_SEAL_US] += us;
		if (us > 2000000)
			v->ctr->v[TV_CTR_LIVE_SEAL_SLOW]++;
	}
	if ((rc = vault_commit_flows(v)) != 0)
		return rc;
	if ((L->cfg.max_size && L->seg_bytes > L->cfg.max_size) ||
	    ((L->cfg.max_age_ns || L->cfg.flow_max_age_ns) && now - L->last_pass > 1000000000u))
		rc = live_retention(v);
	return rc;
}

static void *live_writer(void *arg)
{
	idx_vault *v = arg;
	struct live *L = v->live;
	struct qitem *batch[LIVE_BATCH];
	size_t n, i;
	int rc = 0;
	bool done = false;

	while (!done) {
		struct timespec dl;
		pthread_mutex_lock(&L->mu);
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_nsec += 250000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
		while (!L->head && !L->stopping)
			if (pthread_cond_timedwait(&L->nonempty, &L->mu, &dl) == ETIMEDOUT)
				break;
		n = 0;
		while (L->head && n < LIVE_BATCH) {
			struct qitem *it = L->head;
			L->head = it->next;
			if (!L->head)
				L->tail = NULL;
			if (it->chunk)
				L->n--;
			batch[n++] = it;
		}
		done = L->stopping && !L->head && n == 0;
		L->busy = n > 0;
		pthread_cond_broadcast(&L->nonfull);
		pthread_mutex_unlock(&L->mu);

		if (n)
			rc = live_commit(v, batch, n);
		else if (!done && (L->cfg.max_age_ns || L->cfg.flow_max_age_ns) &&
		         tv_clock_mono_ns() - L->last_pass > 1000000000u)
			rc = live_retention(v);
		if (rc == 0 && done) {
			/* the latencies of the last seals, and the final gauges */
			rc = live_commit(v, batch, 0);
		}
		for (i = 0; i < n; i++) {
			if (batch[i]->post) {
				post_recycle(L, batch[i]->post);
				batch[i]->post = NULL;
			}
			item_free(batch[i]);
		}
		pthread_mutex_lock(&L->mu);
		L->busy = false;
		L->snap = *v->ctr;
		if (rc && !L->err) {
			L->err = rc;
			done = true;
		}
		pthread_cond_broadcast(&L->idle);
		pthread_cond_broadcast(&L->nonfull);
		pthread_mutex_unlock(&L->mu);
	}
	/* after an error: drop what is still queued, nobody will commit it */
	pthread_mutex_lock(&L->mu);
	while (L->head) {
		struct qitem *it = L->head;
		L->head = it->next;
		item_free(it);
	}
	L->tail = NULL;
	L->n = 0;
	pthread_cond_broadcast(&L->nonfull);
	pthread_cond_broadcast(&L->idle);
	pthread_mutex_unlock(&L->mu);
	return NULL;
}

int idx_vault_live_start(idx_vault *v, const idx_live_cfg *cfg)
{
	struct live *L;
	tv_counters stored;
	int rc;

	if (v->live)
		return TV_E_EXISTS;
	if (!v->ctr)
		return TV_E_RANGE;
	if (v->fp) {
		/* live workers seal their own chunks: end threaded file ingest */
		if ((rc = fp_flush(v)) != 0)
			return rc;
		fp_stop(v);
	}
	if (cfg->nworkers < 1 || cfg->nworkers > 256 || cfg->seal_interval_ns == 0)
		return TV_E_RANGE;
	L = calloc(1, sizeof *L);
	if (!L)
		return TV_E_NOMEM;
	L->cfg = *cfg;
	if (L->cfg.queue_max == 0)
		L->cfg.queue_max = 16;
	L->active = calloc((size_t)cfg->nworkers, sizeof *L->active);
	if (!L->active) {
		free(L);
		return TV_E_NOMEM;
	}
	pthread_mutex_init(&L->mu, NULL);
	pthread_cond_init(&L->nonempty, NULL);
	pthread_cond_init(&L->nonfull, NULL);
	pthread_cond_init(&L->idle, NULL);
	v->live = L;
	/* flush what the single-threaded path may hold */
	if ((rc = idx_vault_flush(v)) != 0)
		goto fail;
	/* flow.active is a gauge: make the first commit replace the stored value */
	if ((rc = idx_counters_get(v->x, &stored)) != 0)
		goto fail;
	v->ctr->v[TV_CTR_FLOW_ACTIVE] = 0;
	v->committed = *v->ctr;
	v->committed.v[TV_CTR_FLOW_ACTIVE] = stored.v[TV_CTR_FLOW_ACTIVE];
	if ((cfg->max_size || cfg->max_age_ns) && (rc = live_remove_orphans(v)) != 0)
		goto fail;
	if ((rc = live_retention(v)) != 0)
		goto fail;
	L->snap = *v->ctr;
	rc = pthread_create(&L->th, NULL, live_writer, v);
	if (rc)
		goto fail;
	L->started = true;
	return 0;
fail:
	v->live = NULL;
	pthread_mutex_destroy(&L->mu);
	pthread_cond_destroy(&L->nonempty);
	pthread_cond_destroy(&L->nonfull);
	pthread_cond_destroy(&L->idle);
	free(L->active);
	free(L);
	return rc;
}

int idx_vault_live_stop(idx_vault *v)
{
	struct live *L;
	int rc, i;
	if (!v || !v->live)
		return 0;
	L = v->live;
	if (L->started) {
		pthread_mutex_lock(&L->mu);
		L->stopping = true;
		pthread_cond_broadcast(&L->nonempty);
		pthread_mutex_unlock(&L->mu);
		pthread_join(L->th, NULL);
	}
	rc = L->err;
	for (i = 0; i < L->nfree; i++)
		idx_post_free(L->free_posts[i]);
	pthread_mutex_destroy(&L->mu);
	pthread_cond_destroy(&L->nonempty);
	pthread_cond_destroy(&L->nonfull);
	pthread_cond_destroy(&L->idle);
	free(L->active);
	free(L);
	v->live = NULL;
	return rc;
}

void idx_vault_live_status(idx_vault *v, tv_counters *snap, int *err)
{
	struct live *L = v->live;
	if (!L) {
		if (snap)
			*snap = *v->ctr;
		if (err)
			*err = 0;
		return;
	}
	pthread_mutex_lock(&L->mu);
	if (snap)
		*snap = L->snap;
	if (err)
		*err = L->err;
	pthread_mutex_unlock(&L->mu);
}

/* ------------------------------------------------------------- workers */

static void worker_on_flows(void *ctx, const tv_flowrec *recs, size_t n)
{
	idx_vault_worker *w = ctx;
	if (flows_append(&w->flows, &w->nflows, &w->flows_cap, recs, n) != 0)
		w->flow_err = TV_E_NOMEM;
}

int idx_vault_worker_new(idx_vault *v, int id, idx_vault_worker **out)
{
	idx_vault_worker *w;
	int rc;
	*out = NULL;
	if (!v->live || id < 0 || id >= v->live->cfg.nworkers)
		return TV_E_RANGE;
	w = calloc(1, sizeof *w);
	if (!w)
		return TV_E_NOMEM;
	w->v = v;
	w->id = id;
	if ((rc = store_builder_new(&v->cfg.builder, &w->b)) != 0 ||
	    (rc = idx_post_new(&w->post)) != 0)
		goto fail;
	if (v->cfg.flows &&
	    (rc = ingest_flowtab_new(&v->cfg.flowtab, worker_on_flows, w, &w->ctr, &w->ft)) != 0)
		goto fail;
	w->last_send = tv_clock_mono_ns();
	*out = w;
	return 0;
fail:
	store_builder_free(w->b);
	idx_post_free(w->post);
	free(w);
	return rc;
}

tv_counters *idx_vault_worker_counters(idx_vault_worker *w)
{
	return &w->ctr;
}

/* Queues one item; waits while the queue is full.  Takes ownership. */
static int worker_enqueue(idx_vault_worker *w, struct qitem *it)
{
	struct live *L = w->v->live;
	int rc;
	bool waited = false;
	pthread_mutex_lock(&L->mu);
	while (it->chunk && L->n >= L->cfg.queue_max && !L->err) {
		if (!waited) {
			/* counted in the worker's block, which this item carries */
			it->delta.v[TV_CTR_LIVE_QUEUE_WAITS]++;
			w->ctr.v[TV_CTR_LIVE_QUEUE_WAITS]++;
			w->sent.v[TV_CTR_LIVE_QUEUE_WAITS]++;
			waited = true;
		}
		pthread_cond_wait(&L->nonfull, &L->mu);
	}
	rc = L->err;
	if (rc == 0) {
		it->next = NULL;
		if (L->tail)
			L->tail->next = it;
		else
			L->head = it;
		L->tail = it;
		if (it->chunk)
			L->n++;
		pthread_cond_signal(&L->nonempty);
	}
	pthread_mutex_unlock(&L->mu);
	if (rc)
		item_free(it);
	return rc;
}

/* Builds an item with the worker's flows and counter growth, and (seal)
 * the open chunk. */
static int worker_send(idx_vault_worker *w, bool seal)
{
	idx_vault *v = w->v;
	struct live *L = v->live;
	struct qitem *it;
	const uint8_t *chunk;
	size_t len;
	uint64_t id;
	int k, rc;

	if (w->flow_err)
		return w->flow_err;
	it = calloc(1, sizeof *it);
	if (!it)
		return TV_E_NOMEM;
	it->worker = w->id;
	if (seal && store_builder_count(w->b) > 0) {
		idx_post *np = NULL;
		pthread_mutex_lock(&L->mu);
		id = v->next_chunk_id++;
		if (L->nfree)
			np = L->free_posts[--L->nfree];
		pthread_mutex_unlock(&L->mu);
		if (!np && (rc = idx_post_new(&np)) != 0) {
			free(it);
			return rc;
		}
		rc = store_builder_seal(w->b, id, &chunk, &len, &it->meta);
		if (rc == 0 && !(it->chunk = malloc(len)))
			rc = TV_E_NOMEM;
		if (rc) {
			idx_post_free(np);
			free(it->chunk);
			free(it);
			return rc;
		}
		memcpy(it->chunk, chunk, len);
		it->len = len;
		it->post = w->post;
		w->post = np;
		it->first_mono = w->first_mono;
		w->first_mono = 0;
	}
	it->flows = w->flows;
	it->nflows = w->nflows;
	w->flows = NULL;
	w->nflows = w->flows_cap = 0;
	for (k = 0; k < TV_CTR__COUNT; k++)
		it->delta.v[k] = w->ctr.v[k] - w->sent.v[k];
	w->sent = w->ctr;
	it->active_flows = w->ft ? ingest_flowtab_active(w->ft) : 0;
	w->last_send = tv_clock_mono_ns();
	w->dirty = false;
	return worker_enqueue(w, it);
}

int idx_vault_worker_add(idx_vault_worker *w, const tv_pkt *pkt, uint64_t mono)
{
	int rc = store_builder_add(w->b, pkt);
	if (rc == TV_E_FULL) {
		if ((rc = worker_send(w, true)) != 0)
			return rc;
		rc = store_builder_add(w->b, pkt);
	}
	if (rc)
		return rc;
	if (!w->first_mono)
		w->first_mono = mono ? mono : 1;
	idx_post_add(w->post, pkt->ts_ns, &pkt->tun, &pkt->info);
	if (w->ft)
		ingest_flowtab_add(w->ft, pkt);
	w->dirty = true;
	if (store_builder_full(w->b))
		return worker_send(w, true);
	return 0;
}

int idx_vault_worker_tick(idx_vault_worker *w, uint64_t now, uint64_t mono)
{
	uint64_t iv = w->v->live->cfg.seal_interval_ns;
	if (w->ft)
		ingest_flowtab_advance(w->ft, now);
	if (w->first_mono && mono - w->first_mono >= iv)
		return worker_send(w, true);
	/* counters (rejects, drops) and closed flow windows reach the store
	 * at least once per interval even when nothing is stored */
	if (mono - w->last_send >= iv &&
	    (w->nflows || w->dirty || memcmp(&w->ctr, &w->sent, sizeof w->ctr) != 0))
		return worker_send(w, false);
	return 0;
}

int idx_vault_worker_finish(idx_vault_worker *w)
{
	int rc;
	if (!w)
		return 0;
	if (w->ft)
		ingest_flowtab_flush(w->ft);
	rc = worker_send(w, true);
	ingest_flowtab_free(w->ft);
	store_builder_free(w->b);
	idx_post_free(w->post);
	free(w->flows);
	free(w);
	return rc;
}
