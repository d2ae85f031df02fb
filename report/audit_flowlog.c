/*
 * audit_flowlog.c — step B of the audit (see audit.c): the flow logs,
 * streamed.  Per flow the ACCEPT/REJECT totals; per interface the coverage
 * (first start, last end) and the SKIPDATA and NODATA windows; interface-ids
 * are bound to VNIs through the map, the sessions JSON, or the addresses
 * learned from the store's records (votes).  Lines are never held.
 */
#include "audit_int.h"
#include "report_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------- flow logs */

static void on_reject(void *ctx, const report_fl_reject *rj)
{
	report_audit *a = ctx;
	report_audit_reject *r;
	if (a->nrejects >= a->cfg.max_rejects)
		return;
	r = &a->rejects[a->nrejects++];
	snprintf(r->file, sizeof r->file, "%s", rj->file ? rj->file : "");
	r->line = rj->line;
	r->reason = rj->err ? rj->err->reason : REPORT_FL_R_IO;
	snprintf(r->msg, sizeof r->msg, "%s", rj->err ? rj->err->msg : "");
}

/* Votes for the VNI interfaces (not yet bound to an ENI) that own the
 * record's addresses.  The ENI's own address is in every one of its
 * records; a peer's only in the records of traffic with that peer. */
static void vote_addr(report_audit *a, long p, const report_fl_rec *rec)
{
	size_t i;
	int k;
	for (i = 0; i < a->nifaces; i++) {
		const report_audit_iface *f = &a->ifaces[i];
		const report_iface *mi;
		iface_votes *v = &a->votes[p];
		if (f->eni[0] || f->vni == TV_VNI_NONE)
			continue;
		mi = report_vnimap_find(a->map, f->vni);
		if (!mi)
			continue;
		if (!((report_fl_has(rec, REPORT_FL_F_SRCADDR) && report_iface_has_addr(mi, &rec->srcaddr)) ||
		      (report_fl_has(rec, REPORT_FL_F_DSTADDR) && report_iface_has_addr(mi, &rec->dstaddr))))
			continue;
		for (k = 0; k < VOTE_CANDS; k++) {
			if (v->cand[k] == i + 1 || v->cand[k] == 0) {
				v->cand[k] = (uint32_t)i + 1;
				v->n[k]++;
				break;
			}
		}
	}
}

static long iface_for_record(report_audit *a, const report_fl_rec *rec, char *last_eni, long *last_i)
{
	char eni[32];
	long i;
	size_t n = rec->interface_id.len;
	if (!report_fl_has(rec, REPORT_FL_F_INTERFACE_ID) || n == 0) {
		snprintf(eni, sizeof eni, "-");
	} else {
		if (n >= sizeof eni)
			n = sizeof eni - 1;
		memcpy(eni, rec->interface_id.p, n);
		eni[n] = '\0';
	}
	if (!(*last_i >= 0 && strcmp(eni, last_eni) == 0)) {
		i = audit_iface_by_eni(a, eni);
		if (i < 0)
			i = audit_iface_add(a, eni, TV_VNI_NONE);
		if (i < 0)
			return -1;
		snprintf(last_eni, 32, "%s", eni);
		*last_i = i;
	}
	i = *last_i;
	if (a->ifaces[i].vni == TV_VNI_NONE && rec->log_status == REPORT_FL_STATUS_OK && strcmp(eni, "-") != 0)
		vote_addr(a, i, rec);
	return i;
}

/* Binds every interface-id without a VNI to the unbound VNI interface its
 * records' addresses voted for most, and moves its flows and windows there. */
static int resolve_votes(report_audit *a)
{
	size_t p, i, w;
	bool moved = false;
	for (p = 0; p < a->nifaces; p++) {
		report_audit_iface *P = &a->ifaces[p], *C;
		const iface_votes *v = &a->votes[p];
		long best = -1;
		uint64_t bn = 0;
		int k;
		if (P->vni != TV_VNI_NONE || !P->eni[0])
			continue;
		for (k = 0; k < VOTE_CANDS; k++)
			if (v->cand[k] && v->n[k] > bn && !a->ifaces[v->cand[k] - 1].eni[0]) {
				best = (long)v->cand[k] - 1;
				bn = v->n[k];
			}
		if (best < 0)
			continue;
		C = &a->ifaces[best];
		memcpy(C->eni, P->eni, sizeof C->eni);
		C->learned = true;
		if (P->in_flowlog) {
			if (!C->in_flowlog || P->fl_first < C->fl_first)
				C->fl_first = P->fl_first;
			if (!C->in_flowlog || P->fl_last > C->fl_last)
				C->fl_last = P->fl_last;
			C->in_flowlog = true;
		}
		C->fl_bytes += P->fl_bytes;
		C->skip_windows += P->skip_windows;
		C->nodata_windows += P->nodata_windows;
		for (i = 0; i < a->nstatus; i++)
			if (a->status[i].iface == p)
				a->status[i].iface = (uint32_t)best;
		for (i = 0; i < a->nflows; i++) {
			report_audit_flow *f = &a->flows[i], *g;
			if (f->iface != p)
				continue;
			g = audit_flow_get(a, (uint32_t)best, &f->key, false);
			if (g) {
				g->fl_records += f->fl_records;
				g->fl_reject_records += f->fl_reject_records;
				g->fl_packets += f->fl_packets;
				g->fl_bytes += f->fl_bytes;
				g->fl_reject_packets += f->fl_reject_packets;
				g->fl_reject_bytes += f->fl_reject_bytes;
				g->fl_outside_packets += f->fl_outside_packets;
				g->fl_outside_bytes += f->fl_outside_bytes;
				g->fl_flags |= f->fl_flags;
				if (!g->direction)
					g->direction = f->direction;
				if (f->fl_records && (!g->fl_first || f->fl_first < g->fl_first))
					g->fl_first = f->fl_first;
				if (f->fl_last > g->fl_last)
					g->fl_last = f->fl_last;
				f->iface = UINT32_MAX; /* merged: dropped below */
			} else {
				f->iface = (uint32_t)best;
				f->vni = C->vni;
			}
		}
		/* P stays as an empty interface: no flows, not in the outputs */
		P->eni[0] = '\0';
		P->in_flowlog = false;
		P->fl_bytes = 0;
		P->skip_windows = P->nodata_windows = 0;
		moved = true;
		/* rehash now: later lookups of (best, key) must find moved flows */
		if (audit_flows_rehash(a, a->fhcap) || audit_iface_rehash(a, a->ihcap))
			return TV_E_NOMEM;
	}
	if (!moved)
		return 0;
	for (i = w = 0; i < a->nflows; i++)
		if (a->flows[i].iface != UINT32_MAX)
			a->flows[w++] = a->flows[i];
	a->nflows = w;
	if (audit_flows_rehash(a, a->fhcap) || audit_iface_rehash(a, a->ihcap))
		return TV_E_NOMEM;
	return 0;
}

static int cmp_status(const void *x, const void *y)
{
	const status_win *p = x, *q = y;
	if (p->iface != q->iface)
		return p->iface < q->iface ? -1 : 1;
	return p->start < q->start ? -1 : p->start > q->start;
}

static void status_add(report_audit *a, uint32_t iface, const report_fl_rec *rec)
{
	status_win *s;
	if (a->nstatus >= MAX_STATUS)
		return;
	if (a->nstatus == a->capstatus) {
		size_t nc = a->capstatus ? a->capstatus * 2 : 64;
		status_win *p = realloc(a->status, nc * sizeof *p);
		if (!p)
			return;
		a->status = p;
		a->capstatus = nc;
	}
	s = &a->status[a->nstatus++];
	s->iface = iface;
	s->start = rec->start;
	s->end = rec->end;
	s->status = rec->log_status;
}

/* A record whose counts would make the flow logs' sums wrap at 2^64:
 * rejected, listed and counted like a line the reader rejected. */
static void overflow_reject(report_audit *a, const report_fl_where *where, const report_fl_rec *rec,
                            uint64_t packets, uint64_t bytes)
{
	report_fl_err e;
	report_fl_reject rj;
	memset(&e, 0, sizeof e);
	e.reason = REPORT_FL_R_SUM_OVERFLOW;
	snprintf(e.msg, sizeof e.msg,
	         "%llu packets, %llu bytes: with the %llu packets and %llu bytes of the records before, "
	         "the sums would pass 2^64; record rejected",
	         (unsigned long long)rec->packets, (unsigned long long)rec->bytes,
	         (unsigned long long)packets, (unsigned long long)bytes);
	rj.file = where->file;
	rj.line = where->line;
	rj.err = &e;
	on_reject(a, &rj);
}

int audit_read_flowlogs(report_audit *a, char *err, size_t cap)
{
	report_flowlog_reader_cfg rc;
	report_flowlog_reader *rd = NULL;
	report_fl_rec rec;
	report_fl_where where;
	char last_eni[32] = "";
	long last_i = -1;
	/* every packet and byte sum of the flow-log side (per flow, interface,
	 * minute, in total) is part of these two: when they cannot wrap,
	 * none can */
	uint64_t all_packets = 0, all_bytes = 0, overflows = 0;
	int r;

	memset(&rc, 0, sizeof rc);
	rc.format = a->cfg.format;
	rc.on_reject = on_reject;
	rc.ctx = a;
	rc.max_bytes = a->cfg.max_log_bytes;
	r = report_flowlog_reader_open(&rc, a->cfg.flow_logs, a->cfg.nflow_logs, &rd);
	if (r) {
		report_seterr(err, cap, "cannot open the flow logs: %s", tv_strerror(r));
		return r;
	}
	uint64_t nlines = 0;
	while ((r = report_flowlog_reader_next(rd, &rec, &where)) == 0) {
		long i;
		if ((++nlines & 0xffff) == 0 && a->cfg.progress)
			a->cfg.progress(a->cfg.progress_ctx, "flow-log lines", nlines);
		report_audit_iface *ifc;
		report_audit_flow *f;
		bool have_t = report_fl_has(&rec, REPORT_FL_F_START) && report_fl_has(&rec, REPORT_FL_F_END);
		if (have_t && (rec.end < a->cfg.from || (uint64_t)a->cfg.to + a->cfg.lag < rec.start)) {
			a->sum.flowlog_records_outside_period++;
			continue;
		}
		if (rec.packets > UINT64_MAX - all_packets || rec.bytes > UINT64_MAX - all_bytes) {
			overflow_reject(a, &where, &rec, all_packets, all_bytes);
			overflows++;
			continue;
		}
		all_packets += rec.packets;
		all_bytes += rec.bytes;
		i = iface_for_record(a, &rec, last_eni, &last_i);
		if (i < 0) {
			a->sum.flows_dropped_cap++;
			continue;
		}
		a->sum.flowlog_records_used++;
		ifc = &a->ifaces[i];
		if (have_t) {
			if (!ifc->in_flowlog || rec.start < ifc->fl_first)
				ifc->fl_first = rec.start;
			if (!ifc->in_flowlog || rec.end > ifc->fl_last)
				ifc->fl_last = rec.end;
			ifc->in_flowlog = true;
		}
		if (rec.log_status != REPORT_FL_STATUS_OK) {
			if (rec.log_status == REPORT_FL_STATUS_SKIPDATA)
				ifc->skip_windows++;
			else
				ifc->nodata_windows++;
			if (have_t)
				status_add(a, (uint32_t)i, &rec);
			continue;
		}
		{
			tv_5tuple k;
			memset(&k, 0, sizeof k);
			k.src = rec.srcaddr;
			k.dst = rec.dstaddr;
			k.sport = rec.srcport;
			k.dport = rec.dstport;
			k.proto = rec.protocol;
			if (k.proto == 1 || k.proto == 58)
				k.sport = k.dport = 0;
			f = audit_flow_get(a, (uint32_t)i, &k, true);
		}
		if (!f) {
			if (a->err) {
				r = a->err;
				break;
			}
			continue;
		}
		if (!f->fl_records || (have_t && rec.start < f->fl_first))
			f->fl_first = rec.start;
		if (!f->fl_records || (have_t && rec.end > f->fl_last))
			f->fl_last = rec.end;
		f->fl_records++;
		if (report_fl_has(&rec, REPORT_FL_F_TCP_FLAGS))
			f->fl_flags |= rec.tcp_flags;
		if (!f->direction && report_fl_has(&rec, REPORT_FL_F_FLOW_DIRECTION))
			f->direction = rec.flow_direction == REPORT_FL_DIR_EGRESS ? REPORT_MIRROR_EGRESS
			                                                          : REPORT_MIRROR_INGRESS;
		if (report_fl_has(&rec, REPORT_FL_F_ACTION) && rec.action == REPORT_FL_ACTION_REJECT) {
			f->fl_reject_records++;
			f->fl_reject_packets += rec.packets;
			f->fl_reject_bytes += rec.bytes;
			continue;
		}
		f->fl_packets += rec.packets;
		f->fl_bytes += rec.bytes;
		ifc->fl_bytes += rec.bytes;
		if (have_t)
			audit_series_add(a, rec.start, rec.bytes, 0);
		/* outside the archive: wire time lies in [start - lag, end] */
		if (have_t && !a->arch_empty &&
		    (rec.end < a->arch_first || (uint64_t)a->arch_last + a->cfg.lag < rec.start)) {
			f->fl_outside_packets += rec.packets;
			f->fl_outside_bytes += rec.bytes;
		} else if (a->arch_empty) {
			f->fl_outside_packets += rec.packets;
			f->fl_outside_bytes += rec.bytes;
		}
	}
	if (r == TV_E_NOTFOUND)
		r = 0;
	a->sum.reader = *report_flowlog_reader_stats(rd);
	a->sum.reader.rejected += overflows;
	a->sum.reader.by_reason[REPORT_FL_R_SUM_OVERFLOW] += overflows;
	report_flowlog_reader_free(rd);
	if (r == 0)
		r = resolve_votes(a);
	if (r == 0 && a->nstatus > 1)
		qsort(a->status, a->nstatus, sizeof *a->status, cmp_status);
	if (r)
		report_seterr(err, cap, "reading the flow logs: %s", tv_strerror(r));
	return r;
}
