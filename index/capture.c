/*
 * capture.c — live capture: one thread per worker, each owning its socket
 * (or the one pcap handle), its decapsulator and an idx_vault_worker
 * (chunk packer, flow table); sealed chunks go to the vault's
 * write engine and its single writer thread (pipeline.c, pipeline_live.c).
 */
#include "capture.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct wctx {
	int id;
	pthread_t th;
	bool started;
	ingest_udp *u;
	ingest_iface *ifc;
	ingest_decap *dec;
	idx_vault_worker *w;
	idx_capture *cap;
	uint64_t mono;
	int err;               /* first error (storing) */
	char errbuf[256];
};

struct idx_capture {
	idx_capture_cfg cfg;
	struct wctx *wc;
	int started;           /* worker threads running */
	ingest_iface *ifc;
	idx_vault *v;
	atomic_int stop;       /* set by the owner or by a failing worker */
};

static int u32cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static bool vni_allowed(const idx_capture_cfg *o, uint32_t vni)
{
	return o->nvnis == 0 || bsearch(&vni, o->vnis, (size_t)o->nvnis, sizeof vni, u32cmp) != NULL;
}

static void worker_fail(struct wctx *c, int rc, const char *what)
{
	c->err = rc;
	snprintf(c->errbuf, sizeof c->errbuf, "worker %d: %s: %s", c->id, what, tv_strerror(rc));
	atomic_store(&c->cap->stop, 1);
}

/* One decapsulated packet: filter, store. */
static void live_store(struct wctx *c, const tv_pkt *pkt)
{
	const idx_capture_cfg *o = &c->cap->cfg;
	tv_counters *ctr = idx_vault_worker_counters(c->w);
	int rc;
	/* -l checked the sender before decapsulation; -i can only check here */
	if (c->ifc && !ingest_allow_match(&o->allow, &pkt->tun.outer_src)) {
		ctr->v[TV_CTR_LIVE_REJ_SENDER]++;
		return;
	}
	if (!vni_allowed(o, pkt->tun.vni)) {
		ctr->v[TV_CTR_LIVE_REJ_VNI]++;
		return;
	}
	rc = idx_vault_worker_add(c->w, pkt, c->mono);
	if (rc)
		worker_fail(c, rc, "storing failed");
}

/* One captured frame: decapsulate, then store it and whatever the
 * decapsulator has ready after it (outer fragments it gave up). */
static void live_handle(struct wctx *c, const ingest_raw *raw)
{
	tv_pkt pkt;
	if (c->err)
		return;
	if (ingest_decap_packet(c->dec, raw->linktype, raw->data, raw->caplen, raw->origlen, raw->ts_ns,
	                        &pkt) == INGEST_STORE)
		live_store(c, &pkt);
	while (!c->err && ingest_decap_next(c->dec, &pkt))
		live_store(c, &pkt);
}

static void live_handle_cb(void *ctx, const ingest_raw *raw)
{
	live_handle(ctx, raw);
}

/* Receives one batch; returns the datagrams received (0: none). */
static int live_batch(struct wctx *c, ingest_raw *raws, bool nowait)
{
	tv_counters *ctr = idx_vault_worker_counters(c->w);
	int n = 0, got = 0, i, rc;
	if (c->u) {
		rc = ingest_udp_recv(c->u, raws, 64, nowait, ctr, &n, &got);
		if (rc && rc != EINTR)
			usleep(10000); /* counted; do not spin on a persistent error */
		c->mono = tv_clock_mono_ns();
		for (i = 0; i < n; i++)
			live_handle(c, &raws[i]);
		return got;
	}
	c->mono = tv_clock_mono_ns();
	got = ingest_iface_dispatch(c->ifc, 256, nowait ? 0 : 100, live_handle_cb, c, ctr, c->errbuf,
	                            sizeof c->errbuf);
	if (got < 0) {
		c->err = got;
		atomic_store(&c->cap->stop, 1);
		return 0;
	}
	return got;
}

static void *live_worker(void *arg)
{
	struct wctx *c = arg;
	ingest_raw raws[64];
	tv_pkt pkt;
	uint64_t end, last_drops = 0;
	int rc;

	while (!atomic_load(&c->cap->stop) && !c->err) {
		live_batch(c, raws, false);
		/* drops after a burst come with no datagram: read them */
		if (c->u && tv_clock_mono_ns() - last_drops >= 100000000u) {
			ingest_udp_sync_drops(c->u, idx_vault_worker_counters(c->w));
			last_drops = tv_clock_mono_ns();
		}
		rc = idx_vault_worker_tick(c->w, tv_clock_real_ns(), tv_clock_mono_ns());
		if (rc && !c->err)
			worker_fail(c, rc, "storing failed");
	}
	/* What the kernel has queued was received: store it (bounded: 1 s). */
	end = tv_clock_mono_ns() + 1000000000u;
	while (!c->err && tv_clock_mono_ns() < end && live_batch(c, raws, true) > 0)
		;
	ingest_decap_flush(c->dec); /* outer fragments still waiting: stored as captured */
	while (!c->err && ingest_decap_next(c->dec, &pkt))
		live_store(c, &pkt);
	if (c->u)
		ingest_udp_sync_drops(c->u, idx_vault_worker_counters(c->w));
	rc = idx_vault_worker_finish(c->w);
	c->w = NULL;
	if (rc && !c->err) {
		c->err = rc;
		snprintf(c->errbuf, sizeof c->errbuf, "worker %d: final seal failed: %s", c->id,
		         tv_strerror(rc));
	}
	return NULL;
}

/* The listening port is a tunnel port for the decapsulator. */
static void add_listen_port(idx_capture_cfg *o)
{
	ingest_decap_cfg *d = &o->decap;
	bool known = false;
	int k;
	for (k = 0; k < d->n_geneve_ports; k++)
		known = known || d->geneve_ports[k] == o->port;
	for (k = 0; k < d->n_vxlan_ports; k++)
		known = known || d->vxlan_ports[k] == o->port;
	if (!known && o->geneve && d->n_geneve_ports < INGEST_MAX_PORTS)
		d->geneve_ports[d->n_geneve_ports++] = o->port;
	else if (!known && d->n_vxlan_ports < INGEST_MAX_PORTS)
		d->vxlan_ports[d->n_vxlan_ports++] = o->port;
}

static int open_sources(idx_capture *c, char *err, size_t cap)
{
	idx_capture_cfg *o = &c->cfg;
	int i, rc;
	if (o->listen) {
		ingest_udp_cfg ucfg;
		ingest_udp_cfg_default(&ucfg);
		ucfg.addr = o->addr;
		ucfg.v6 = o->v6;
		ucfg.port = o->port;
		ucfg.allow = &o->allow;
		if (o->rcvbuf)
			ucfg.rcvbuf = (int)o->rcvbuf;
		add_listen_port(o);
		for (i = 0; i < o->workers; i++)
			if ((rc = ingest_udp_open(&ucfg, &c->wc[i].u, err, cap)) != 0)
				return rc;
		return 0;
	}
	{
		ingest_iface_cfg icfg;
		ingest_iface_cfg_default(&icfg);
		icfg.all = o->all;
		icfg.ports = &o->decap;
		/* the capture filter lets every UDP fragment in: keep only the mirror's */
		o->decap.tunnel_only = !o->all;
		if (o->rcvbuf)
			icfg.buffer_size = (int)o->rcvbuf;
		if ((rc = ingest_iface_open(o->iface, &icfg, &c->ifc, err, cap)) != 0)
			return rc;
		c->wc[0].ifc = c->ifc;
	}
	return 0;
}

int idx_capture_open(const idx_capture_cfg *cfg, idx_capture **out, char *err, size_t cap)
{
	idx_capture *c;
	int rc;

	*out = NULL;
	if (cfg->workers < 1 || cfg->workers > 256 || cfg->nvnis < 0 ||
	    cfg->nvnis > IDX_CAPTURE_MAX_VNIS || (cfg->listen == (cfg->iface != NULL))) {
		snprintf(err, cap, "bad capture configuration");
		return TV_E_RANGE;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		return TV_E_NOMEM;
	c->cfg = *cfg;
	if (c->cfg.iface)
		c->cfg.workers = 1; /* one libpcap handle */
	qsort(c->cfg.vnis, (size_t)c->cfg.nvnis, sizeof c->cfg.vnis[0], u32cmp);
	c->wc = calloc((size_t)c->cfg.workers, sizeof *c->wc);
	if (!c->wc) {
		free(c);
		return TV_E_NOMEM;
	}
	if ((rc = open_sources(c, err, cap)) != 0) {
		idx_capture_finish(c, NULL, NULL);
		return rc;
	}
	*out = c;
	return 0;
}

int idx_capture_rcvbuf(const idx_capture *c)
{
	return c->wc[0].u ? ingest_udp_rcvbuf(c->wc[0].u) : 0;
}

int idx_capture_start(idx_capture *c, const char *store, tv_counters *ctr, idx_recovery *rec,
                      int *step, int *failed_worker)
{
	int i, rc;

	*step = IDX_CAPTURE_STEP_OPEN;
	*failed_worker = -1;
	if ((rc = idx_vault_open(store, &c->cfg.vault, ctr, rec, &c->v)) != 0)
		return rc;
	c->cfg.live.nworkers = c->cfg.workers;
	*step = IDX_CAPTURE_STEP_WRITER;
	if ((rc = idx_vault_live_start(c->v, &c->cfg.live)) != 0)
		return rc;
	*step = IDX_CAPTURE_STEP_WORKER;
	atomic_store(&c->stop, 0);
	for (i = 0; i < c->cfg.workers; i++) {
		struct wctx *w = &c->wc[i];
		w->id = i;
		w->cap = c;
		rc = idx_vault_worker_new(c->v, i, &w->w);
		if (rc == 0)
			rc = ingest_decap_new(&c->cfg.decap, idx_vault_worker_counters(w->w), &w->dec);
		if (rc == 0)
			rc = tv_thread_start(&w->th, live_worker, w);
		if (rc) {
			*failed_worker = i;
			atomic_store(&c->stop, 1);
			return rc;
		}
		w->started = true;
		c->started++;
	}
	return 0;
}

bool idx_capture_stopped(idx_capture *c)
{
	return atomic_load(&c->stop) != 0;
}

void idx_capture_status(idx_capture *c, tv_counters *snap, int *werr)
{
	idx_vault_live_status(c->v, snap, werr);
}

static int report(idx_capture_err_cb cb, void *ctx, const char *what, int rc)
{
	char msg[300];
	if (cb) {
		snprintf(msg, sizeof msg, "%s: %s", what, tv_strerror(rc));
		cb(ctx, msg);
	}
	return 1;
}

int idx_capture_finish(idx_capture *c, idx_capture_err_cb cb, void *ctx)
{
	int i, rc, problems = 0;
	if (!c)
		return 0;
	atomic_store(&c->stop, 1);
	for (i = 0; i < c->cfg.workers; i++) {
		struct wctx *w = &c->wc[i];
		if (!w->started)
			continue;
		pthread_join(w->th, NULL);
		if (w->err) {
			if (cb)
				cb(ctx, w->errbuf);
			problems++;
		}
	}
	/* a worker whose thread never ran (a later start step failed) hands
	 * in its state while the writer still runs: after live_stop and close
	 * its vault would be gone */
	for (i = 0; i < c->cfg.workers; i++) {
		idx_vault_worker_finish(c->wc[i].w); /* only set when a thread never ran */
		c->wc[i].w = NULL;
	}
	if (c->v) {
		if ((rc = idx_vault_live_stop(c->v)) != 0)
			problems += report(cb, ctx, "writing failed", rc);
		if ((rc = idx_vault_close(c->v)) != 0)
			problems += report(cb, ctx, "final commit failed", rc);
	}
	for (i = 0; i < c->cfg.workers; i++) {
		ingest_decap_free(c->wc[i].dec);
		ingest_udp_close(c->wc[i].u);
	}
	ingest_iface_close(c->ifc);
	free(c->wc);
	free(c);
	return problems;
}
