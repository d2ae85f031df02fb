/*
 * pipeline.c — the write path of a store directory: the one commit
 * (vault_commit_chunks) and the one writer loop that every source feeds.
 *
 * Durability order (FORMAT.md): a sealed chunk is appended to its segment,
 * the segment is fdatasync'ed, and only then are the chunk's metadata,
 * postings and source marks committed to LMDB in one transaction.  A crash
 * at any point leaves either an indexed chunk, or whole unindexed chunks
 * past the index (indexed again on the next open, with their source marks
 * from the chunk tag), or a torn tail (cut off and counted).
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


int flows_append(tv_flowrec **buf, size_t *n, size_t *cap, const tv_flowrec *recs, size_t k)
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

/* The vault's flow-table callback (file ingest, flow rebuild): keeps the
 * records until the next hand-off (or vault_commit_flows). */
void vault_on_flows(void *ctx, const tv_flowrec *recs, size_t n)
{
	idx_vault *v = ctx;
	if (flows_append(&v->flows, &v->nflows, &v->flows_cap, recs, n) != 0)
		v->flow_err = TV_E_NOMEM;
}

/* Flow records are derived data: committed after the chunks they come
 * from, in their own transaction. */
int vault_commit_flows(idx_vault *v)
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

/*
 * The mark of the file being read carries the hash of the bytes consumed up
 * to its last added packet, and src_hash has been posted exactly there (it
 * is moved on only when a packet is added).  The digest is taken only when
 * the mark leaves the open chunk (a seal, a hand-off) or another file
 * starts, not per packet; with a hashing thread it waits for the hash to
 * get there.  An error of the hashing (the file cut or unreadable since it
 * was read) is returned: such a mark must not be stored.
 */
int settle_marks(idx_vault *v, idx_source_mark *marks, size_t n)
{
	size_t i;
	int rc;
	if (!v->src_active)
		return 0;
	for (i = 0; i < n; i++)
		if (memcmp(marks[i].identity, v->src_identity, 40) == 0 &&
		    ingest_prefix_len(v->src_hash) == marks[i].prefix_len &&
		    (rc = ingest_prefix_digest(v->src_hash, marks[i].prefix_sha256)) != 0)
			return rc;
	return 0;
}

int encode_tag(idx_vault *v, idx_source_mark *marks, size_t n, uint8_t *tag, uint32_t *len)
{
	size_t i;
	uint8_t *m;
	int rc = settle_marks(v, marks, n);
	if (rc)
		return rc;
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
	return 0;
}

/* Tags of another layout (tag version 1 kept no prefix hash) give no marks:
 * the chunk is still indexed, and its file is stored afresh if ingested
 * again (duplicates, never a silent skip). */
size_t decode_tag(const uint8_t *tag, uint32_t len, idx_source_mark *marks)
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

/*
 * The one commit of the write path; every LMDB commit of a vault goes
 * through here.  pend[0..n) are chunks already appended to their
 * segments: sync makes them durable (one fdatasync) before anything names
 * them (FORMAT.md's durability order).  Then their records, flows and source
 * marks are committed through idx_commit2, VAULT_COMMIT_MAX chunks per
 * LMDB transaction, and delta (the counter growth; NULL: none) goes with
 * the last one.  n == 0 with a delta commits the counters alone; n == 0
 * without one does nothing.
 */
int vault_commit_chunks(idx_vault *v, struct pending *pend, size_t n, const tv_counters *delta,
                        bool sync)
{
	idx_source_mark marks[VAULT_COMMIT_MAX * VAULT_MAX_MARKS];
	size_t i, j, done = 0;
	int rc;

	if (n == 0 && !delta)
		return 0;
	if (n && sync && (rc = store_segs_sync(v->segs)) != 0)
		return rc;
	do {
		size_t k = n - done, nm = 0;
		if (k > VAULT_COMMIT_MAX)
			k = VAULT_COMMIT_MAX;
		for (i = 0; i < k; i++) {
			const struct pending *p = &pend[done + i];
			v->in2[i].rec = p->rec2;
			v->in2[i].flows = p->fl.fl;
			v->in2[i].nflows = p->fl.n;
			for (j = 0; j < p->nmarks; j++)
				marks[nm++] = p->marks[j];
		}
		rc = idx_commit2(v->x, v->in2, k, marks, nm, done + k >= n ? delta : NULL);
		if (rc)
			return rc;
		done += k;
	} while (done < n);
	return 0;
}

/* ------------------------------------------------------ the write engine */

/* Counters only the writer changes: a file source's own block gets them by
 * writer_fold. */
static const int w_keys[] = {
	TV_CTR_STORE_CHUNKS, TV_CTR_STORE_PACKETS, TV_CTR_STORE_BYTES, TV_CTR_STORE_RAW_BYTES,
	TV_CTR_STORE_COMP_BYTES, TV_CTR_STORE_NOSPACE_CHUNKS, TV_CTR_STORE_NOSPACE_PKTS,
	TV_CTR_LIVE_SEALS, TV_CTR_LIVE_SEAL_US, TV_CTR_LIVE_SEAL_SLOW, TV_CTR_RET_SEGMENTS,
	TV_CTR_RET_CHUNKS, TV_CTR_RET_BYTES, TV_CTR_RET_FLOWS, TV_CTR_FLOW_ACTIVE,
};

static bool head_ready(const struct writer *W)
{
	return W->head && W->head->state == WI_READY;
}

/* A chunk's store counters into (add) or out of total: they count what the
 * index holds, so a chunk whose commit failed is taken out again. */
static void count_store(struct writer *W, const store_chunk_meta *m, bool add)
{
	static const int key[] = { TV_CTR_STORE_CHUNKS, TV_CTR_STORE_PACKETS, TV_CTR_STORE_BYTES,
	                           TV_CTR_STORE_RAW_BYTES, TV_CTR_STORE_COMP_BYTES };
	const uint64_t c[] = { 1, m->npkts, m->orig_bytes, m->raw_len, m->length };
	size_t i;
	for (i = 0; i < sizeof key / sizeof key[0]; i++)
		W->total.v[key[i]] += add ? c[i] : -c[i];
}

/* Seals an OPEN item's open chunk (a sealer thread, or the file reader itself
 * when it has none). */
void item_seal(struct witem *it)
{
	int rc = 0;
	it->len = 0;
	it->chunk = NULL;
	if (wseal_count(&it->seal) > 0)
		rc = wseal_seal(&it->seal, it->id, &it->chunk, &it->len, &it->meta, &it->fl);
	it->err = rc;
}

/*
 * Writer: one item's counter growth and flow records go to the writer's
 * totals, its chunk to the segment and to pend for the next commit.  Under
 * the live policy retention runs first when the chunk would pass max_size,
 * and a chunk that would leave less than the free-space reserve is dropped
 * and counted (store.nospace).
 */
static int writer_take(idx_vault *v, struct witem *it)
{
	struct writer *W = v->w;
	struct live *L = v->live;
	struct pending *p;
	struct wflows fl;
	int k, rc;

	if (it->err)
		return it->err;
	for (k = 0; k < TV_CTR__COUNT; k++)
		W->total.v[k] += it->delta.v[k];
	if (L && it->worker >= 0 && it->worker < L->cfg.nworkers)
		L->active[it->worker] = it->active_flows;
	if (it->nflows &&
	    (rc = flows_append(&W->flows, &W->nflows, &W->flows_cap, it->flows, it->nflows)) != 0)
		return rc;
	if (!it->len)
		return 0;
	if (W->pol.live) {
		if (L->cfg.max_size && L->seg_bytes + it->len > L->cfg.max_size &&
		    (rc = live_retention(v)) != 0)
			return rc;
		if (!live_space_ok(v, it->len)) {
			W->total.v[TV_CTR_STORE_NOSPACE_CHUNKS]++;
			W->total.v[TV_CTR_STORE_NOSPACE_PKTS] += it->meta.npkts;
			return 0;
		}
	}
	p = &v->pend[v->npend];
	p->meta = it->meta;
	/* numbered here, in append order: sources seal in parallel.  The id is
	 * under the header's CRC only, and the chunk's bytes are the item's
	 * until it is released. */
	if ((rc = store_chunk_set_id((uint8_t *)(uintptr_t)it->chunk, it->len,
	                             v->next_chunk_id)) != 0)
		return rc;
	p->meta.chunk_id = v->next_chunk_id++;
	rc = store_segs_append(v->segs, it->chunk, it->len, &p->meta.segment, &p->meta.offset);
	if (rc)
		return rc;
	p->meta.length = (uint32_t)it->len;
	rc = idx2_chunk_from_sealed(it->chunk, it->len, p->meta.segment, p->meta.offset, &p->rec2);
	if (rc)
		return rc; /* appended, not pending: past the index for recovery */
	/* the item takes pend's flow buffers back to its source */
	fl = p->fl;
	p->fl = it->fl;
	it->fl = fl;
	memcpy(p->marks, it->marks, sizeof p->marks);
	p->nmarks = it->nmarks;
	W->inpend[v->npend++] = it;
	count_store(W, &p->meta, true);
	if (L)
		L->seg_bytes += it->len;
	return 0;
}

/* Writer: commits pend with the counter growth since the last commit.
 * force: the counters alone too (a flush, a live pass). */
static int writer_commit(idx_vault *v, bool force)
{
	struct writer *W = v->w;
	tv_counters delta;
	bool any = false;
	int k, rc;

	if (v->live) {
		uint64_t act = 0;
		for (k = 0; k < v->live->cfg.nworkers; k++)
			act += v->live->active[k];
		W->total.v[TV_CTR_FLOW_ACTIVE] = act;
	}
	for (k = 0; k < TV_CTR__COUNT; k++) {
		delta.v[k] = W->total.v[k] - W->committed.v[k]; /* mod 2^64: gauges too */
		any = any || delta.v[k];
	}
	if (v->npend == 0 && !(force && any))
		return 0;
	if ((rc = vault_commit_chunks(v, v->pend, v->npend, &delta, true)) != 0)
		return rc;
	W->committed = W->total;
	v->npend = 0;
	return 0;
}

/* Writer, after a failure: what is pending is not in the index (it stays
 * past it, whole, for the next open's recovery, or is cut as a torn tail). */
static void writer_unpend(idx_vault *v)
{
	size_t j;
	for (j = 0; j < v->npend; j++)
		count_store(v->w, &v->pend[j].meta, false);
	v->npend = 0;
}

/*
 * Writer, after a failed commit of chunks that were all appended in this
 * pass (a full disk: the group commit needs index pages that the appends
 * took, or a later chunk did not fit): undo the appends and redo them one
 * chunk at a time, append + fdatasync + commit, each with its counters.
 * So a full disk stops at the same chunk on every run, and no whole chunk
 * is left past the index for a later run to recover.  Returns the first
 * error of the redo (0: everything committed).
 */
static int writer_redo(idx_vault *v)
{
	struct writer *W = v->w;
	size_t j, n = v->npend;
	uint32_t seg;
	int k, rc = 0;

	if (n == 0)
		return TV_E_RANGE;
	seg = v->pend[0].meta.segment;
	for (j = 1; j < n; j++)
		if (v->pend[j].meta.segment != seg)
			return TV_E_RANGE; /* a rotation in between: leave it to recovery */
	/* never cut what the index names */
	if (idx2_chunk_get(v->x, v->pend[0].meta.chunk_id, &v->in2[0].rec) != TV_E_NOTFOUND)
		return TV_E_EXISTS;
	if ((rc = store_segs_truncate(v->segs, seg, v->pend[0].meta.offset)) != 0)
		return rc;
	for (j = 0; j < n; j++)
		count_store(W, &v->pend[j].meta, false);
	for (j = 0; j < n && rc == 0; j++) {
		struct pending *p = &v->pend[j];
		const struct witem *it = W->inpend[j];
		tv_counters delta;
		rc = store_segs_append(v->segs, it->chunk, it->len, &p->meta.segment, &p->meta.offset);
		if (rc == 0)
			rc = idx2_chunk_from_sealed(it->chunk, it->len, p->meta.segment,
			                            p->meta.offset, &p->rec2);
		if (rc)
			break;
		count_store(W, &p->meta, true);
		for (k = 0; k < TV_CTR__COUNT; k++)
			delta.v[k] = W->total.v[k] - W->committed.v[k];
		if ((rc = vault_commit_chunks(v, p, 1, &delta, true)) != 0) {
			count_store(W, &p->meta, false);
			break;
		}
		W->committed = W->total;
	}
	v->npend = 0;
	return rc;
}

/* Writer (live): seal-to-visible latency of the chunks just committed,
 * counted with the next transaction. */
static void live_latency(struct writer *W, size_t n)
{
	uint64_t now = tv_clock_mono_ns();
	size_t i;
	for (i = 0; i < n; i++) {
		uint64_t first = W->inpend[i]->first_mono;
		uint64_t us = now > first ? (now - first) / 1000 : 0;
		W->total.v[TV_CTR_LIVE_SEALS]++;
		W->total.v[TV_CTR_LIVE_SEAL_US] += us;
		if (us > 2000000)
			W->total.v[TV_CTR_LIVE_SEAL_SLOW]++;
	}
}

/* Writer (live): a retention pass when the segments passed max_size, and
 * about once a second when anything ages out. */
static int live_maintain(idx_vault *v)
{
	struct live *L = v->live;
	if ((L->cfg.max_size && L->seg_bytes > L->cfg.max_size) ||
	    ((L->cfg.max_age_ns || L->cfg.flow_max_age_ns) &&
	     tv_clock_mono_ns() - L->last_pass > 1000000000u))
		return live_retention(v);
	return 0;
}

/* Writer: the items of one pass, outside the lock.  Returns the pass's
 * error (0: fine). */
static int writer_write(idx_vault *v, struct witem **batch, size_t nb, bool barrier)
{
	struct writer *W = v->w;
	size_t i, np0 = v->npend, nput;
	bool force = barrier || W->pol.each_pass;
	int rc = 0, crc = 0, take_rc;

	for (i = 0; i < nb && rc == 0; i++)
		rc = writer_take(v, batch[i]);
	take_rc = rc;
	nput = v->npend;
	if (rc == 0 && (force || v->npend >= v->cfg.commit_chunks))
		rc = crc = writer_commit(v, force);
	else if (rc != 0 && v->npend)
		crc = writer_commit(v, true); /* keep what was written before the failure */
	if (crc && np0 == 0 && v->npend) {
		/* the chunks of this pass are on disk, not committed */
		int rrc = writer_redo(v);
		if (rrc == 0)
			rc = take_rc;
		else if (take_rc == 0 && rrc != TV_E_RANGE && rrc != TV_E_EXISTS)
			rc = rrc;
	}
	if (rc && v->npend)
		writer_unpend(v);
	if (rc || v->npend)
		return rc;
	/* every chunk taken so far is committed: the records follow (derived
	 * data after the chunks they come from) */
	if (W->pol.live)
		live_latency(W, np0 == 0 ? nput : 0);
	if (W->nflows && (rc = idx_flows_put(v->x, W->flows, W->nflows)) == 0)
		W->nflows = 0;
	if (rc == 0 && W->pol.live)
		rc = live_maintain(v);
	return rc;
}

/* Gives an item back to its source: a file slot to the free list (its
 * open chunk reset after a failure), a live item to the heap (its collector to
 * the free collectors).  Under mu. */
static void item_release(struct writer *W, struct witem *it, bool failed)
{
	if (wseal_ok(&it->seal)) {
		if (it->err || failed)
			wseal_reset(&it->seal);
		it->nmarks = 0;
		it->nflows = 0;
		it->barrier = false;
		it->chunk = NULL;
		it->len = 0;
		it->next = NULL;
		it->state = WI_FREE;
		W->freel[W->nfree++] = it;
		return;
	}
	wflows_free(&it->fl);
	free(it->own);
	free(it->flows);
	free(it);
}

/*
 * One pass of the writer loop, entered and left with mu held: the ready
 * items at the head of the queue (up to a barrier) are written and, as the
 * policy says, committed, then given back.
 * With nothing ready (a live timer) only the live upkeep runs.
 */
static void writer_pass(idx_vault *v)
{
	struct writer *W = v->w;
	struct witem *batch[W_BATCH];
	size_t nb = 0, i, room, nflows = 0;
	uint64_t last = 0;
	bool barrier = false;
	int rc;

	/* every ready item, up to a barrier or W_FLOWS_BATCH flow records: a
	 * writer that falls behind puts more than commit_chunks chunks into one
	 * commit (each index commit syncs LMDB) */
	room = v->pend_cap - v->npend;
	while (nb < room && !barrier && nflows < W_FLOWS_BATCH && head_ready(W)) {
		struct witem *it = W->head;
		W->head = it->next;
		if (!W->head)
			W->tail = NULL;
		if (W->pol.queue_max && it->len)
			W->nchunks--;
		W->qflows -= it->nflows;
		batch[nb++] = it;
		nflows += it->nflows;
		barrier = it->barrier;
		last = it->seq;
	}
	pthread_cond_broadcast(&W->room);
	pthread_mutex_unlock(&W->mu);

	if (nb)
		rc = writer_write(v, batch, nb, barrier);
	else
		rc = W->pol.live ? live_maintain(v) : 0;

	pthread_mutex_lock(&W->mu);
	for (i = 0; i < nb; i++)
		item_release(W, batch[i], rc != 0);
	if (rc && !W->err)
		W->err = rc;
	else if (rc == 0 && nb && v->npend == 0)
		W->done_seq = last + 1;
	W->snap = W->total;
	pthread_cond_broadcast(&W->room);
	pthread_cond_broadcast(&W->done);
	if (W->err)
		pthread_cond_broadcast(&W->work);
}

/* Writer, at a stop without an error: the counters of the last pass (the
 * live latencies, the final gauges) and the last flow records. */
static void writer_finish(idx_vault *v)
{
	struct writer *W = v->w;
	int rc = writer_commit(v, true);
	if (rc == 0 && W->nflows && (rc = idx_flows_put(v->x, W->flows, W->nflows)) == 0)
		W->nflows = 0;
	pthread_mutex_lock(&W->mu);
	if (rc && !W->err)
		W->err = rc;
	W->snap = W->total;
	pthread_mutex_unlock(&W->mu);
}

static void *writer_main(void *arg)
{
	idx_vault *v = arg;
	struct writer *W = v->w;
	bool fail;

	pthread_setname_np(pthread_self(), "tv-writer");
	pthread_mutex_lock(&W->mu);
	for (;;) {
		bool tick = false;
		while (!W->err && !head_ready(W) && !(W->stop && !W->head) && !tick) {
			if (W->pol.live) {
				/* wake now and then: retention runs without traffic */
				struct timespec dl;
				clock_gettime(CLOCK_REALTIME, &dl);
				dl.tv_nsec += 250000000;
				if (dl.tv_nsec >= 1000000000) {
					dl.tv_sec++;
					dl.tv_nsec -= 1000000000;
				}
				tick = pthread_cond_timedwait(&W->ready, &W->mu, &dl) == ETIMEDOUT;
			} else {
				pthread_cond_wait(&W->ready, &W->mu);
			}
		}
		/* stop comes after the sources finished (nothing in flight) */
		if (W->err || (W->stop && !W->head))
			break;
		writer_pass(v);
	}
	fail = W->err != 0;
	pthread_mutex_unlock(&W->mu);
	if (!fail)
		writer_finish(v);
	pthread_mutex_lock(&W->mu);
	pthread_cond_broadcast(&W->room);
	pthread_cond_broadcast(&W->done);
	pthread_cond_broadcast(&W->work);
	pthread_mutex_unlock(&W->mu);
	return NULL;
}

/* Without a writer thread the source drains the queue itself, after each
 * hand-off: the same passes, in the caller's thread. */
int writer_drain(idx_vault *v)
{
	struct writer *W = v->w;
	int rc;
	pthread_mutex_lock(&W->mu);
	while (!W->err && head_ready(W))
		writer_pass(v);
	rc = W->err;
	pthread_mutex_unlock(&W->mu);
	return rc;
}

static void *sealer_main(void *arg)
{
	idx_vault *v = arg;
	struct writer *W = v->w;
	pthread_setname_np(pthread_self(), "tv-seal");
	pthread_mutex_lock(&W->mu);
	for (;;) {
		struct witem *it;
		while (!W->err && !W->cnext && !W->stop)
			pthread_cond_wait(&W->work, &W->mu);
		if (W->err || !W->cnext)
			break;
		it = W->cnext;
		for (W->cnext = it->next; W->cnext && W->cnext->state != WI_OPEN;)
			W->cnext = W->cnext->next;
		it->state = WI_BUSY;
		pthread_mutex_unlock(&W->mu);
		item_seal(it);
		pthread_mutex_lock(&W->mu);
		it->state = WI_READY;
		if (it == W->head)
			pthread_cond_signal(&W->ready);
	}
	pthread_mutex_unlock(&W->mu);
	return NULL;
}

/*
 * Queues an item (ownership passes to the engine).  A live chunk waits
 * while queue_max chunks are queued (*waited says so; the wait is counted
 * in the item's delta).  After an error the item is given back at once and
 * the error returned.
 */
int writer_push(idx_vault *v, struct witem *it, bool *waited)
{
	struct writer *W = v->w;
	int rc;
	pthread_mutex_lock(&W->mu);
	while (((W->pol.queue_max && it->len && W->nchunks >= W->pol.queue_max) ||
	        (W->pol.live && it->nflows && W->qflows &&
	         W->qflows + it->nflows > 2 * W_FLOWS_BATCH)) &&
	       !W->err) {
		if (waited && !*waited) {
			it->delta.v[TV_CTR_LIVE_QUEUE_WAITS]++;
			*waited = true;
		}
		pthread_cond_wait(&W->room, &W->mu);
	}
	rc = W->err;
	if (rc) {
		item_release(W, it, true);
	} else {
		it->seq = W->seq++;
		it->next = NULL;
		if (W->tail)
			W->tail->next = it;
		else
			W->head = it;
		W->tail = it;
		if (W->pol.queue_max && it->len)
			W->nchunks++;
		W->qflows += it->nflows;
		if (W->qflows > W->qflows_peak)
			W->qflows_peak = W->qflows;
		if (it->state == WI_OPEN) {
			if (!W->cnext)
				W->cnext = it;
			pthread_cond_signal(&W->work);
		} else if (it == W->head) {
			pthread_cond_signal(&W->ready);
		}
	}
	pthread_mutex_unlock(&W->mu);
	return rc;
}

/* A free slot of the source's (waits while every one is in flight). */
int writer_wait_slot(idx_vault *v, struct witem **out)
{
	struct writer *W = v->w;
	int rc;
	pthread_mutex_lock(&W->mu);
	while (!W->nfree && !W->err)
		pthread_cond_wait(&W->room, &W->mu);
	rc = W->err;
	*out = W->nfree ? W->freel[--W->nfree] : NULL;
	pthread_mutex_unlock(&W->mu);
	return rc;
}

/* Waits until every item below seq is committed, or an error. */
int writer_wait_done(idx_vault *v, uint64_t seq)
{
	struct writer *W = v->w;
	int rc;
	pthread_mutex_lock(&W->mu);
	while (W->done_seq < seq && !W->err)
		pthread_cond_wait(&W->done, &W->mu);
	rc = W->err;
	pthread_mutex_unlock(&W->mu);
	return rc;
}

/* The writer's counters into the vault's block, with the writer idle or
 * stopped: all of them (live: nobody else writes the block), or only the
 * writer's own (file: the reader counts the rest there). */
void writer_fold(idx_vault *v, bool all)
{
	struct writer *W = v->w;
	size_t i;
	if (!v->ctr)
		return;
	if (all) {
		*v->ctr = W->total;
	} else {
		for (i = 0; i < sizeof w_keys / sizeof w_keys[0]; i++) {
			uint64_t add = W->total.v[w_keys[i]] - W->folded.v[w_keys[i]];
			v->ctr->v[w_keys[i]] += add;
			if (v->fs)
				v->fs->sent.v[w_keys[i]] += add;
		}
	}
	W->folded = W->total;
}

/* Makes the engine of a source: its policy, the slots it hands off (file
 * ingest; none for live workers, which allocate theirs) and the counters
 * the index holds (NULL: the vault's). */
int writer_new(idx_vault *v, const struct wpolicy *pol, struct witem *slots, int nslots,
               const tv_counters *committed)
{
	struct writer *W = calloc(1, sizeof *W);
	int i;
	if (!W)
		return TV_E_NOMEM;
	W->pol = *pol;
	W->freel = calloc((size_t)(nslots > 0 ? nslots : 1), sizeof *W->freel);
	W->sth = calloc((size_t)(pol->sealers > 0 ? pol->sealers : 1), sizeof *W->sth);
	if (!W->freel || !W->sth) {
		free(W->freel);
		free(W->sth);
		free(W);
		return TV_E_NOMEM;
	}
	for (i = 0; i < nslots; i++)
		W->freel[W->nfree++] = &slots[nslots - 1 - i];
	pthread_mutex_init(&W->mu, NULL);
	pthread_cond_init(&W->ready, NULL);
	pthread_cond_init(&W->work, NULL);
	pthread_cond_init(&W->room, NULL);
	pthread_cond_init(&W->done, NULL);
	if (v->ctr)
		W->total = W->folded = W->snap = *v->ctr;
	W->committed = committed ? *committed : W->total;
	v->w = W;
	return 0;
}

/* Starts the engine's threads (none for a single-threaded file source). */
int writer_run(idx_vault *v)
{
	struct writer *W = v->w;
	int i, rc = 0;

	/* the threads take no signals: the caller's thread handles them */
	for (i = 0; i < W->pol.sealers && rc == 0; i++) {
		rc = tv_thread_start(&W->sth[i], sealer_main, v);
		if (rc == 0)
			W->nsth++;
	}
	if (rc == 0 && W->pol.thread) {
		rc = tv_thread_start(&W->th, writer_main, v);
		W->started = rc == 0;
	}
	return rc;
}

/*
 * Stops the engine: the writer drains what is queued (after an error:
 * drops it) and commits the last counters, the threads end, the counters
 * are folded into the vault's.  Returns the writer's first error.  Accepts
 * a vault without an engine.
 */
int writer_stop(idx_vault *v)
{
	struct writer *W = v->w;
	int i, rc;
	if (!W)
		return 0;
	pthread_mutex_lock(&W->mu);
	W->stop = true;
	pthread_cond_broadcast(&W->work);
	pthread_cond_broadcast(&W->ready);
	pthread_mutex_unlock(&W->mu);
	for (i = 0; i < W->nsth; i++)
		pthread_join(W->sth[i], NULL);
	if (W->started)
		pthread_join(W->th, NULL);
	else if (!W->pol.thread && !W->err)
		writer_finish(v);
	/* whatever is still queued after an error: nobody will commit it */
	while (W->head) {
		struct witem *it = W->head;
		W->head = it->next;
		item_release(W, it, true);
	}
	if (v->npend)
		writer_unpend(v);
	writer_fold(v, v->live != NULL);
	rc = W->err;
	pthread_mutex_destroy(&W->mu);
	pthread_cond_destroy(&W->ready);
	pthread_cond_destroy(&W->work);
	pthread_cond_destroy(&W->room);
	pthread_cond_destroy(&W->done);
	free(W->freel);
	free(W->sth);
	free(W->flows);
	free(W);
	v->w = NULL;
	return rc;
}
