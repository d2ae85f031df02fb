/*
 * pipeline_live.c — the live source of the write engine (pipeline.c):
 * worker threads (one per socket or pcap handle) each fill and seal their
 * own chunks and queue them, with their counter growth and flow records,
 * to the engine's writer thread.
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
	struct wseal seal;
	ingest_flowtab *ft;
	tv_flowrec *flows;
	size_t nflows, flows_cap;
	int flow_err;
	tv_counters ctr, sent;
	uint64_t first_mono;   /* 0: packer empty */
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

/* ------------------------------------------------------------- start, stop */

/* Live policy: commit what each pass took, so that a chunk is visible
 * within the seal interval of its first packet plus one pass; retention
 * and the free-space guard run in the writer. */
int idx_vault_live_start(idx_vault *v, const idx_live_cfg *cfg)
{
	struct live *L;
	struct wpolicy pol;
	tv_counters stored, committed;
	int rc;

	if (v->live)
		return TV_E_EXISTS;
	if (!v->ctr)
		return TV_E_RANGE;
	if (cfg->nworkers < 1 || cfg->nworkers > 256 || cfg->seal_interval_ns == 0)
		return TV_E_RANGE;
	if (v->fs) {
		/* live workers seal their own chunks: end file ingest */
		if ((rc = idx_vault_flush(v)) != 0)
			return rc;
		if ((rc = file_stop(v)) != 0)
			return rc;
	}
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
	v->live = L;
	/* flow.active is a gauge: make the first commit replace the stored value */
	if ((rc = idx_counters_get(v->x, &stored)) != 0)
		goto fail;
	v->ctr->v[TV_CTR_FLOW_ACTIVE] = 0;
	committed = *v->ctr;
	committed.v[TV_CTR_FLOW_ACTIVE] = stored.v[TV_CTR_FLOW_ACTIVE];
	memset(&pol, 0, sizeof pol);
	pol.each_pass = true;
	pol.live = true;
	pol.thread = true;
	pol.queue_max = L->cfg.queue_max;
	if ((rc = writer_new(v, &pol, NULL, 0, &committed)) != 0)
		goto fail;
	if ((cfg->max_size || cfg->max_age_ns) && (rc = live_remove_orphans(v)) != 0)
		goto fail;
	if ((rc = live_retention(v)) != 0)
		goto fail;
	v->w->snap = v->w->total;
	if ((rc = writer_run(v)) != 0)
		goto fail;
	return 0;
fail:
	writer_stop(v);
	v->live = NULL;
	free(L->active);
	free(L);
	return rc;
}

int idx_vault_live_stop(idx_vault *v)
{
	struct live *L;
	int rc;
	if (!v || !v->live)
		return 0;
	L = v->live;
	rc = writer_stop(v);
	free(L->active);
	free(L);
	v->live = NULL;
	return rc;
}

void idx_vault_live_status(idx_vault *v, tv_counters *snap, int *err)
{
	struct writer *W = v->w;
	if (!v->live || !W) {
		if (snap)
			*snap = *v->ctr;
		if (err)
			*err = 0;
		return;
	}
	pthread_mutex_lock(&W->mu);
	if (snap)
		*snap = W->snap;
	if (err)
		*err = W->err;
	pthread_mutex_unlock(&W->mu);
}

size_t idx_vault_live_flows_peak(idx_vault *v)
{
	struct writer *W = v ? v->w : NULL;
	size_t n;
	if (!W)
		return 0;
	pthread_mutex_lock(&W->mu);
	n = W->qflows_peak;
	pthread_mutex_unlock(&W->mu);
	return n;
}

/* ------------------------------------------------------------- workers */

static int worker_send(idx_vault_worker *w, bool seal);

/* The flow table's callback: records are kept until the next send, and
 * sent on their own once W_FLOWS_BATCH are held (a closing window of a
 * busy mirror emits every flow at once). */
static void worker_on_flows(void *ctx, const tv_flowrec *recs, size_t n)
{
	idx_vault_worker *w = ctx;
	int rc;
	if (w->flow_err)
		return;
	if (flows_append(&w->flows, &w->nflows, &w->flows_cap, recs, n) != 0) {
		w->flow_err = TV_E_NOMEM;
		return;
	}
	if (w->nflows >= W_FLOWS_BATCH && (rc = worker_send(w, false)) != 0)
		w->flow_err = rc;
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
	if ((rc = wseal_new(v, &w->seal)) != 0)
		goto fail;
	if (v->cfg.flows &&
	    (rc = ingest_flowtab_new(&v->cfg.flowtab, worker_on_flows, w, &w->ctr, &w->ft)) != 0)
		goto fail;
	w->last_send = tv_clock_mono_ns();
	*out = w;
	return 0;
fail:
	wseal_free(&w->seal);
	free(w);
	return rc;
}

tv_counters *idx_vault_worker_counters(idx_vault_worker *w)
{
	return &w->ctr;
}

/* Builds an item with the worker's flows and counter growth, and (seal)
 * the open chunk, and queues it: the worker seals in its own thread. */
static int worker_send(idx_vault_worker *w, bool seal)
{
	idx_vault *v = w->v;
	struct witem *it;
	const uint8_t *chunk;
	bool waited = false;
	int k, rc;

	if (w->flow_err)
		return w->flow_err;
	it = calloc(1, sizeof *it);
	if (!it)
		return TV_E_NOMEM;
	it->worker = w->id;
	it->state = WI_READY;
	if (seal && wseal_count(&w->seal) > 0) {
		/* id 0: the writer numbers chunks in append order */
		rc = wseal_seal(&w->seal, 0, &chunk, &it->len, &it->meta, &it->fl);
		if (rc == 0 && !(it->own = malloc(it->len)))
			rc = TV_E_NOMEM;
		if (rc) {
			wflows_free(&it->fl);
			free(it);
			return rc;
		}
		memcpy(it->own, chunk, it->len);
		it->chunk = it->own;
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
	rc = writer_push(v, it, &waited);
	if (waited) {
		/* counted in the worker's block, which the item carried */
		w->ctr.v[TV_CTR_LIVE_QUEUE_WAITS]++;
		w->sent.v[TV_CTR_LIVE_QUEUE_WAITS]++;
	}
	return rc;
}

int idx_vault_worker_add(idx_vault_worker *w, const tv_pkt *pkt, uint64_t mono)
{
	int rc = wseal_add(&w->seal, pkt);
	if (rc == TV_E_FULL) {
		if ((rc = worker_send(w, true)) != 0)
			return rc;
		rc = wseal_add(&w->seal, pkt);
	}
	if (rc)
		return rc;
	if (!w->first_mono)
		w->first_mono = mono ? mono : 1;
	if (w->ft)
		ingest_flowtab_add(w->ft, pkt);
	w->dirty = true;
	if (wseal_full(&w->seal))
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
	wseal_free(&w->seal);
	free(w->flows);
	free(w);
	return rc;
}

