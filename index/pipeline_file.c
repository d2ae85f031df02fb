/*
 * pipeline_file.c — threaded file ingest: handed-off chunks are sealed by
 * a pool of threads and written, in order, by one writer thread.
 */
#include "vault_int.h"

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

/* ================================================= threaded file ingest */

/*
 * Builders in flight: the caller fills one (v->b), a spare slot waits for
 * the next hand-off, and the rest are queued, being sealed, or waiting for
 * the writer.  Memory: about 4 x raw_target per slot (records, payload,
 * sealed chunk, zstd context).
 */

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
void fp_queue_flows(idx_vault *v, const tv_flowrec *recs, size_t n)
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
	tv_counters delta;
	bool any = false;
	int k, rc;

	for (k = 0; k < TV_CTR__COUNT; k++)
		delta.v[k] = P->wsnap.v[k] - P->wcommitted.v[k];
	for (k = 0; k < FPC__N; k++)
		delta.v[fpc_ctr[k]] += P->wadd[k];
	for (k = 0; k < TV_CTR__COUNT; k++)
		any = any || delta.v[k];
	if (v->npend == 0 && !force)
		return 0;
	rc = vault_commit_chunks(v, v->pend, v->npend, v->npend || any ? &delta : NULL, true);
	if (rc)
		return rc;
	/* wsnap and wcommitted are in the caller's terms, which leave out
	 * the store counters until fp_flush folds wtotal in */
	P->wcommitted = P->wsnap;
	for (k = 0; k < FPC__N; k++) {
		P->wtotal[k] += P->wadd[k];
		P->wadd[k] = 0;
	}
	v->npend = 0;
	return 0;
}

/* Writer (fp_redo): one chunk's store counters from wadd (to be committed)
 * to wtotal (the caller's), and back. */
static void fp_move_counts(struct fpool *P, const store_chunk_meta *m)
{
	const uint64_t c[FPC__N] = { 1, m->raw_len, m->length, m->npkts, m->orig_bytes };
	int k;
	for (k = 0; k < FPC__N; k++) {
		P->wadd[k] -= c[k];
		P->wtotal[k] += c[k];
	}
}

static void fp_unmove_counts(struct fpool *P, const store_chunk_meta *m)
{
	const uint64_t c[FPC__N] = { 1, m->raw_len, m->length, m->npkts, m->orig_bytes };
	int k;
	for (k = 0; k < FPC__N; k++) {
		P->wadd[k] += c[k];
		P->wtotal[k] -= c[k];
	}
}

/* Writer: the store counters of chunks that are committed although their
 * counter transaction failed (a full disk) are still the caller's: the
 * summary says what is stored. */
static void fp_fold_store_counters(struct fpool *P)
{
	int k;
	for (k = 0; k < FPC__N; k++) {
		P->wtotal[k] += P->wadd[k];
		P->wadd[k] = 0;
	}
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
	size_t j, k;
	int rc = 0;

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
			rc = vault_commit_chunks(v, p, 1, NULL, true);
		if (rc == 0 && j + 1 < n) {
			/* committed without its counters: if a later chunk fails,
			 * none follow, and the summary must still count it */
			fp_move_counts(P, &p->meta);
		} else if (rc == 0) {
			/* the last: every chunk is back in wadd for the counter
			 * commit that follows a complete redo */
			for (k = 0; k + 1 < n; k++)
				fp_unmove_counts(P, &v->pend[k].meta);
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
			if (rrc == 0) {
				/* all redone: their counters too, also when a later
				 * chunk of the pass failed (else the chunks are stored
				 * and the summary counts them lost) */
				int frc = fp_commit(v, true);
				if (frc)
					fp_fold_store_counters(P);
				if (take_rc == 0)
					rc = frc;
			} else if (take_rc == 0 && rrc != TV_E_RANGE && rrc != TV_E_EXISTS) {
				rc = rrc;
			}
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
int fp_handoff(idx_vault *v, bool barrier)
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
int fp_flush(idx_vault *v)
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
void fp_stop(idx_vault *v)
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

int fp_start(idx_vault *v)
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


/* Source marks handed off but not committed yet, whose identity starts
 * with key (resume.c: what the writer will commit counts as stored). */
void fp_candidates(idx_vault *v, const uint8_t *key, idx_source_mark *c, size_t *n)
{
	struct fpool *P = v->fp;
	uint64_t seq, from, to;
	size_t i;

	/* done_seq is read before resume.c reads the index, so a slot
	 * committed in between is seen by that read transaction. */
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
