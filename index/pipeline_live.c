/*
 * pipeline_live.c — continuous ingest: worker threads seal chunks and one
 * writer thread appends, syncs and commits them.
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

/* ------------------------------------------------------------- writer */

static int live_commit(idx_vault *v, struct qitem **items, size_t n)
{
	struct live *L = v->live;
	struct pending *batch = L->batch;
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
		batch[nc].meta = it->meta;
		batch[nc].post = it->post;
		batch[nc].nmarks = 0;
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
	if (nc || any) {
		if ((rc = vault_commit_chunks(v, batch, nc, &delta, true)) != 0)
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

