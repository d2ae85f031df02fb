/*
 * audit.c — VPC Flow Logs against what the mirror archived.
 *
 * The unit is a flow: one interface (ENI <-> VNI) and one unidirectional
 * 5-tuple over the audit period, as AWS flow logs are unidirectional per ENI
 * and so are the store's synthesised records.  The steps:
 *
 *   A. the store's flow records of the period -> per-flow mirror totals, and
 *      the interface addresses learned from traffic (VNI map);
 *   B. the flow logs, streamed -> per-flow ACCEPT/REJECT totals, and per
 *      interface the coverage (first start, last end) and the SKIPDATA and
 *      NODATA windows; interface-ids are bound to VNIs through the map, the
 *      sessions JSON, or the learned addresses;
 *   C. the store's flow records again -> how much of each flow's mirror count
 *      falls in SKIPDATA/NODATA windows or outside the flow log's coverage
 *      (window level, with the AWS start/end lag tolerated);
 *   D. classification: exactly one class and one reason per flow;
 *   E. (optional) one pass over the stored packets of the period: payload
 *      findings for the audited flows.
 *
 * Memory: the flow table has a hard cap (cfg.max_flows); flows beyond it are
 * counted in flows_dropped_cap.  Flow-log lines are never held.
 */
#include "audit.h"
#include "report_int.h"
#include "audit_int.h"
#include "../index/vault.h"
#include "../ingest/ingest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ names */

static const char *const CLASS_NAMES[REPORT_AC__COUNT] = {
	"matched", "mirror_fewer", "mirror_more", "flowlog_only", "mirror_only",
};

static const struct {
	const char *name, *text;
} REASONS[REPORT_AR__COUNT] = {
	{ "", "packets and bytes agree within the tolerance" },
	{ "mirror_loss", "the mirror delivered fewer packets than the interface carried: mirror copies are "
	                 "dropped first under congestion (check the EC2 metrics NetworkSkipMirrorIn/Out) or "
	                 "the target could not keep up" },
	{ "ingest_loss", "the archive itself counted packets it did not store (a full disk, kernel "
	                 "drops, read or decapsulation errors: the counters named with this reason), "
	                 "which can account for the missing packets" },
	{ "skipdata", "the flow log marked these windows SKIPDATA (records skipped by AWS): the mirror is "
	              "the only record of this traffic" },
	{ "nodata", "the flow log marked these windows NODATA for the interface although the mirror saw "
	            "traffic" },
	{ "outside_coverage", "outside the time the flow log covers for this interface (or the interface "
	                      "is not in the flow logs at all)" },
	{ "flowlog_loss", "the flow log counted less than the mirror saw and nothing explains it: flow-log "
	                  "records lost or not delivered" },
	{ "not_logged_amazon_dns", "traffic to the Amazon DNS resolver (VPC base+2, 169.254.169.253) is "
	                           "never recorded by flow logs (expected)" },
	{ "not_logged_imds", "traffic to the instance metadata service 169.254.169.254 is never recorded "
	                     "by flow logs (expected)" },
	{ "not_logged_time_sync", "traffic to the Amazon Time Sync Service 169.254.169.123 is never "
	                          "recorded by flow logs (expected)" },
	{ "not_logged_dhcp", "DHCP traffic (UDP 67/68) is never recorded by flow logs (expected)" },
	{ "not_logged_windows_activation", "Windows license activation (KMS, TCP 1688) is never recorded "
	                                   "by flow logs (expected)" },
	{ "not_logged_vpc_router", "traffic to the VPC router's reserved address (base+1) is never "
	                           "recorded by flow logs (expected)" },
	{ "reject", "the flow log says REJECT: security group or network ACL dropped it before it could "
	            "be mirrored (expected)" },
	{ "filter_excluded", "the mirror filter does not select this traffic (rule order evaluated as AWS "
	                     "does): it was never meant to be mirrored" },
	{ "interface_not_mirrored", "no mirror session covers this interface" },
	{ "time_not_covered", "the flow-log record lies outside the time the archive holds" },
	{ "unexplained", "nothing explains the difference: a gap to investigate" },
};

/*
 * Counters of packets that reached the target but not the archive: when
 * any is non-zero, a flow the mirror saw fewer packets of may have lost
 * them at ingest rather than in the mirror.  The counters are store-wide
 * (not per window), so any loss counted puts every mirror_fewer flow down
 * to ingest_loss, naming the counters.
 */
static const int INGEST_LOSS_CTRS[] = {
	TV_CTR_STORE_NOSPACE_PKTS,  TV_CTR_STORE_LOST,          TV_CTR_LIVE_KERNEL_DROPS,   TV_CTR_LIVE_RECV_ERRORS,
	TV_CTR_LIVE_REJ_TRUNC,      TV_CTR_SRC_READ_ERRORS,     TV_CTR_SRC_LINKTYPE,
	TV_CTR_SRC_LINK_TRUNC,      TV_CTR_SRC_LINK_PROTO,      TV_CTR_DECAP_FAILED,
	TV_CTR_DECAP_ETH_TRUNC,     TV_CTR_DECAP_VLAN_TRUNC,    TV_CTR_DECAP_IPV4_TRUNC,
	TV_CTR_DECAP_IPV4_BAD_HDR,  TV_CTR_DECAP_IPV4_BAD_LEN,  TV_CTR_DECAP_IPV6_TRUNC,
	TV_CTR_DECAP_IPV6_BAD_EXT,  TV_CTR_DECAP_IPV6_BAD_HDR,  TV_CTR_DECAP_IPV6_BAD_LEN,
	TV_CTR_DECAP_UDP_TRUNC,     TV_CTR_DECAP_UDP_BAD_LEN,   TV_CTR_DECAP_VXLAN_TRUNC,
	TV_CTR_DECAP_VXLAN_BAD_FLAGS, TV_CTR_DECAP_GENEVE_TRUNC, TV_CTR_DECAP_GENEVE_BAD_VER,
	TV_CTR_DECAP_GENEVE_BAD_OPT, TV_CTR_DECAP_GENEVE_PROTO, TV_CTR_DECAP_TOO_DEEP,
};

/* "name value, ..." of the loss counters that are non-zero; true if any. */
static bool ingest_loss_names(const tv_counters *c, char *buf, size_t cap)
{
	size_t i, off = 0;
	buf[0] = '\0';
	for (i = 0; i < sizeof INGEST_LOSS_CTRS / sizeof INGEST_LOSS_CTRS[0]; i++) {
		int k = INGEST_LOSS_CTRS[i], n;
		if (!c->v[k])
			continue;
		n = snprintf(buf + off, cap - off, "%s%s %llu", off ? ", " : "", tv_counter_name(k),
		             (unsigned long long)c->v[k]);
		if (n < 0 || (size_t)n >= cap - off)
			break;
		off += (size_t)n;
	}
	return buf[0] != '\0';
}

const char *report_audit_class_name(int c)
{
	return c >= 0 && c < REPORT_AC__COUNT ? CLASS_NAMES[c] : "?";
}

const char *report_audit_reason_name(int r)
{
	return r >= 0 && r < REPORT_AR__COUNT ? REASONS[r].name : "?";
}

const char *report_audit_reason_text(int r)
{
	return r >= 0 && r < REPORT_AR__COUNT ? REASONS[r].text : "";
}

int report_audit_class_find(const char *name)
{
	int i;
	for (i = 0; i < REPORT_AC__COUNT; i++)
		if (strcmp(name, CLASS_NAMES[i]) == 0)
			return i;
	return -1;
}

/* ------------------------------------------------------------ --fail-on */

static int reason_find(const char *name, size_t n)
{
	int r;
	for (r = 1; r < REPORT_AR__COUNT; r++)
		if (strlen(REASONS[r].name) == n && memcmp(REASONS[r].name, name, n) == 0)
			return r;
	return -1;
}

static int class_findn(const char *name, size_t n)
{
	int c;
	for (c = 0; c < REPORT_AC__COUNT; c++)
		if (strlen(CLASS_NAMES[c]) == n && memcmp(CLASS_NAMES[c], name, n) == 0)
			return c;
	return -1;
}

static bool item_is(const char *item, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(item, word, n) == 0;
}

/* Whether one item (n bytes) is present in s (s NULL: false).  0 or
 * TV_E_SYNTAX for an unknown item. */
static int fail_item(const report_audit_summary *s, const char *item, size_t n, bool *hit)
{
	const char *colon = memchr(item, ':', n);
	int c, r;

	*hit = false;
	if (item_is(item, n, "any")) {
		for (c = 1; c < REPORT_AC__COUNT && s; c++)
			*hit |= s->by_class[c] > 0;
	} else if (item_is(item, n, "counts_differ")) {
		*hit = s && (s->by_class[REPORT_AC_MIRROR_FEWER] || s->by_class[REPORT_AC_MIRROR_MORE]);
	} else if (item_is(item, n, "gap")) {
		for (c = 0; c < REPORT_AC__COUNT && s; c++)
			*hit |= s->by_reason[c][REPORT_AR_UNEXPLAINED] || s->by_reason[c][REPORT_AR_FLOWLOG_LOSS];
	} else if (item_is(item, n, "credentials")) {
		*hit = s && s->credentials > 0;
	} else if (item_is(item, n, "protocol_mismatch")) {
		*hit = s && s->mismatches > 0;
	} else if (colon) {
		c = class_findn(item, (size_t)(colon - item));
		r = reason_find(colon + 1, n - (size_t)(colon - item) - 1);
		if (c < 0 || r < 0)
			return TV_E_SYNTAX;
		*hit = s && s->by_reason[c][r] > 0;
	} else {
		if ((c = class_findn(item, n)) < 0)
			return TV_E_SYNTAX;
		*hit = s && s->by_class[c] > 0;
	}
	return 0;
}

int report_audit_fail_on(const report_audit_summary *s, const char *list, char *hits, size_t hcap,
                         char *bad, size_t cap)
{
	const char *p = list;
	size_t used = 0;
	int found = 0;

	if (hits && hcap)
		hits[0] = '\0';
	while (*p) {
		const char *item;
		size_t n;
		bool hit;
		while (*p == ',' || *p == ' ')
			p++;
		if (!*p)
			break;
		item = p;
		while (*p && *p != ',' && *p != ' ')
			p++;
		n = (size_t)(p - item);
		if (fail_item(s, item, n, &hit) != 0) {
			if (bad && cap)
				snprintf(bad, cap, "%.*s", (int)(n > 256 ? 256 : n), item);
			return TV_E_SYNTAX;
		}
		if (!hit)
			continue;
		found++;
		if (hits && used < hcap) {
			int w = snprintf(hits + used, hcap - used, "%s%.*s", used ? "," : "", (int)n, item);
			used = w < 0 ? hcap : used + (size_t)w;
		}
	}
	return found;
}

void report_audit_cfg_default(report_audit_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->from = 0;
	cfg->to = UINT32_MAX;
	cfg->tolerance_pct = 5.0;
	cfg->lag = 60;
	cfg->max_flows = 4000000;
	cfg->payload = true;
	cfg->payload_packets = 8;
	cfg->max_rejects = 100;
}

static uint64_t eni_hash(const char *eni) { return tv_hash64(eni, strlen(eni), 0); }
static uint64_t vni_hash(uint32_t vni) { return tv_hash64(&vni, sizeof vni, 0); }

int audit_iface_rehash(report_audit *a, size_t cap)
{
	uint32_t *eh = calloc(cap, sizeof *eh), *vh = calloc(cap, sizeof *vh);
	size_t i;
	if (!eh || !vh) {
		free(eh);
		free(vh);
		return TV_E_NOMEM;
	}
	for (i = 0; i < a->nifaces; i++) {
		const report_audit_iface *f = &a->ifaces[i];
		size_t j;
		if (f->eni[0]) {
			j = eni_hash(f->eni) & (cap - 1);
			while (eh[j])
				j = (j + 1) & (cap - 1);
			eh[j] = (uint32_t)i + 1;
		}
		if (f->vni != TV_VNI_NONE) {
			j = vni_hash(f->vni) & (cap - 1);
			while (vh[j])
				j = (j + 1) & (cap - 1);
			vh[j] = (uint32_t)i + 1;
		}
	}
	free(a->eh);
	free(a->vh);
	a->eh = eh;
	a->vh = vh;
	a->ihcap = cap;
	return 0;
}

long audit_iface_by_eni(const report_audit *a, const char *eni)
{
	size_t j;
	if (!a->ihcap || !eni[0])
		return -1;
	j = eni_hash(eni) & (a->ihcap - 1);
	while (a->eh[j]) {
		if (strcmp(a->ifaces[a->eh[j] - 1].eni, eni) == 0)
			return (long)a->eh[j] - 1;
		j = (j + 1) & (a->ihcap - 1);
	}
	return -1;
}

static long iface_by_vni(const report_audit *a, uint32_t vni)
{
	size_t j;
	if (!a->ihcap || vni == TV_VNI_NONE)
		return -1;
	j = vni_hash(vni) & (a->ihcap - 1);
	while (a->vh[j]) {
		if (a->ifaces[a->vh[j] - 1].vni == vni)
			return (long)a->vh[j] - 1;
		j = (j + 1) & (a->ihcap - 1);
	}
	return -1;
}

/* Adds an interface; the caller has checked it is not there.  Rebuilds the
 * two indexes (interfaces are few; a rebuild per add keeps the code plain
 * while they stay below the cap). */
long audit_iface_add(report_audit *a, const char *eni, uint32_t vni)
{
	report_audit_iface *f;
	if (a->nifaces >= MAX_IFACES)
		return -1;
	if (a->nifaces == a->capifaces) {
		size_t nc = a->capifaces ? a->capifaces * 2 : 64;
		report_audit_iface *p = realloc(a->ifaces, nc * sizeof *p);
		iface_votes *v;
		if (!p)
			return -1;
		a->ifaces = p;
		v = realloc(a->votes, nc * sizeof *v);
		if (!v)
			return -1;
		a->votes = v;
		a->capifaces = nc;
	}
	memset(&a->votes[a->nifaces], 0, sizeof a->votes[0]);
	f = &a->ifaces[a->nifaces++];
	memset(f, 0, sizeof *f);
	snprintf(f->eni, sizeof f->eni, "%s", eni ? eni : "");
	f->vni = vni;
	if ((a->nifaces + 1) * 2 > a->ihcap) {
		if (audit_iface_rehash(a, a->ihcap ? a->ihcap * 2 : 128)) {
			a->nifaces--;
			return -1;
		}
	} else {
		size_t j;
		if (f->eni[0]) {
			j = eni_hash(f->eni) & (a->ihcap - 1);
			while (a->eh[j])
				j = (j + 1) & (a->ihcap - 1);
			a->eh[j] = (uint32_t)a->nifaces;
		}
		if (vni != TV_VNI_NONE) {
			j = vni_hash(vni) & (a->ihcap - 1);
			while (a->vh[j])
				j = (j + 1) & (a->ihcap - 1);
			a->vh[j] = (uint32_t)a->nifaces;
		}
	}
	return (long)a->nifaces - 1;
}

/* The interface of a mirror VNI: created with the map's (or the sessions')
 * ENI name on first sight. */
static long iface_for_vni(report_audit *a, uint32_t vni)
{
	long i = iface_by_vni(a, vni);
	const report_iface *mi;
	const char *eni = "";
	size_t k;
	if (i >= 0)
		return i;
	mi = report_vnimap_find(a->map, vni);
	if (mi && mi->eni[0])
		eni = mi->eni;
	for (k = 0; !eni[0] && k < report_mirrorcfg_nsessions(a->cfg.mirror); k++) {
		const report_mirror_session *s = report_mirrorcfg_session(a->cfg.mirror, k);
		if (s->vni == vni)
			eni = s->eni;
	}
	if (eni[0] && audit_iface_by_eni(a, eni) >= 0)
		eni = ""; /* two VNIs for one ENI (several sessions): keep the first binding */
	return audit_iface_add(a, eni, vni);
}

/* ------------------------------------------------------------ flows */

static uint64_t flow_hash(uint32_t iface, const tv_5tuple *k)
{
	return tv_hash64(k, sizeof *k, (uint64_t)iface);
}

int audit_flows_rehash(report_audit *a, size_t cap)
{
	uint32_t *h = calloc(cap, sizeof *h);
	size_t i;
	if (!h)
		return TV_E_NOMEM;
	for (i = 0; i < a->nflows; i++) {
		size_t j = flow_hash(a->flows[i].iface, &a->flows[i].key) & (cap - 1);
		while (h[j])
			j = (j + 1) & (cap - 1);
		h[j] = (uint32_t)i + 1;
	}
	free(a->fh);
	a->fh = h;
	a->fhcap = cap;
	return 0;
}

/* Finds (create: or adds) the flow; NULL when absent, or at the cap. */
report_audit_flow *audit_flow_get(report_audit *a, uint32_t iface, const tv_5tuple *k, bool create)
{
	size_t j;
	report_audit_flow *f;
	if (a->fhcap) {
		j = flow_hash(iface, k) & (a->fhcap - 1);
		while (a->fh[j]) {
			f = &a->flows[a->fh[j] - 1];
			if (f->iface == iface && memcmp(&f->key, k, sizeof *k) == 0)
				return f;
			j = (j + 1) & (a->fhcap - 1);
		}
	}
	if (!create)
		return NULL;
	if (a->nflows >= a->cfg.max_flows) {
		a->sum.flows_dropped_cap++;
		return NULL;
	}
	if (a->nflows == a->capflows) {
		size_t nc = a->capflows ? a->capflows * 2 : 4096;
		report_audit_flow *p;
		if (nc > a->cfg.max_flows)
			nc = a->cfg.max_flows;
		p = realloc(a->flows, nc * sizeof *p);
		if (!p) {
			a->err = TV_E_NOMEM;
			return NULL;
		}
		a->flows = p;
		a->capflows = nc;
	}
	if ((a->nflows + 1) * 2 > a->fhcap) {
		if (audit_flows_rehash(a, a->fhcap ? a->fhcap * 2 : 8192)) {
			a->err = TV_E_NOMEM;
			return NULL;
		}
	}
	j = flow_hash(iface, k) & (a->fhcap - 1);
	while (a->fh[j])
		j = (j + 1) & (a->fhcap - 1);
	f = &a->flows[a->nflows];
	memset(f, 0, sizeof *f);
	f->key = *k;
	f->iface = iface;
	f->vni = a->ifaces[iface].vni;
	f->finding = -1;
	a->fh[j] = (uint32_t)++a->nflows;
	return f;
}

/* ----------------------------------------------------------- series */

void audit_series_add(report_audit *a, uint32_t t, uint64_t fl, uint64_t m)
{
	uint32_t key = t / 60 + 1;
	size_t j;
	if (!a->ser) {
		a->sercap = 4096;
		a->ser = calloc(a->sercap, sizeof *a->ser);
		if (!a->ser) {
			a->sercap = 0;
			a->ser_dropped++;
			return;
		}
	}
	j = tv_hash64(&key, sizeof key, 0) & (a->sercap - 1);
	while (a->ser[j].minute && a->ser[j].minute != key)
		j = (j + 1) & (a->sercap - 1);
	if (!a->ser[j].minute) {
		if ((a->sern + 1) * 2 > a->sercap) {
			size_t nc = a->sercap * 2, i;
			series_pt *n;
			if (nc > 2 * (size_t)SERIES_CAP || !(n = calloc(nc, sizeof *n))) {
				a->ser_dropped++;
				return;
			}
			for (i = 0; i < a->sercap; i++) {
				size_t k;
				if (!a->ser[i].minute)
					continue;
				k = tv_hash64(&a->ser[i].minute, sizeof a->ser[i].minute, 0) & (nc - 1);
				while (n[k].minute)
					k = (k + 1) & (nc - 1);
				n[k] = a->ser[i];
			}
			free(a->ser);
			a->ser = n;
			a->sercap = nc;
			j = tv_hash64(&key, sizeof key, 0) & (nc - 1);
			while (n[j].minute)
				j = (j + 1) & (nc - 1);
		}
		a->ser[j].minute = key;
		a->sern++;
	}
	a->ser[j].fl += fl;
	a->ser[j].m += m;
}

/* Folds the per-minute points into at most 720 points over [from, to]. */
static int series_fold(report_audit *a)
{
	uint32_t from = a->sum.from, to = a->sum.to, step;
	size_t n, i;
	if (to < from)
		return 0;
	step = 60;
	while ((uint64_t)(to - from) / step + 1 > 720)
		step *= 2;
	n = (size_t)((to - from) / step) + 1;
	a->ser_t = calloc(n, sizeof *a->ser_t);
	a->ser_fl = calloc(n, sizeof *a->ser_fl);
	a->ser_m = calloc(n, sizeof *a->ser_m);
	if (!a->ser_t || !a->ser_fl || !a->ser_m)
		return TV_E_NOMEM;
	for (i = 0; i < n; i++)
		a->ser_t[i] = from + (uint32_t)i * step;
	for (i = 0; i < a->sercap; i++) {
		uint32_t t;
		size_t b;
		if (!a->ser[i].minute)
			continue;
		t = (a->ser[i].minute - 1) * 60;
		if (t < from)
			t = from;
		b = (size_t)((t - from) / step);
		if (b >= n)
			b = n - 1;
		a->ser_fl[b] += a->ser[i].fl;
		a->ser_m[b] += a->ser[i].m;
	}
	a->sum.series_step = step;
	a->sum.series_n = n;
	return 0;
}

/* ------------------------------------------------------ mirror passes */

static int on_mirror_a(void *ctx, const tv_flowrec *r)
{
	report_audit *a = ctx;
	long i = iface_for_vni(a, r->vni);
	report_audit_flow *f;
	report_audit_iface *ifc;
	if (!idx_flowrec_match(a->period, r))
		return 0;
	if (i < 0) {
		a->sum.flows_dropped_cap++;
		return 0;
	}
	ifc = &a->ifaces[i];
	a->sum.mirror_records++;
	if (!ifc->in_mirror || r->start < ifc->m_first)
		ifc->m_first = r->start;
	if (!ifc->in_mirror || r->end > ifc->m_last)
		ifc->m_last = r->end;
	ifc->in_mirror = true;
	ifc->m_bytes += r->bytes;
	if (r->vni != TV_VNI_NONE)
		report_vnimap_learn(a->map, r->vni, &r->key.src, &r->key.dst);
	audit_series_add(a, r->start, 0, r->bytes);
	f = audit_flow_get(a, (uint32_t)i, &r->key, true);
	if (!f)
		return a->err;
	if (!f->m_records || r->start < f->m_first)
		f->m_first = r->start;
	if (!f->m_records || r->end > f->m_last)
		f->m_last = r->end;
	f->m_records++;
	f->m_packets += r->packets;
	f->m_bytes += r->bytes;
	f->m_flags |= r->tcp_flags;
	return 0;
}

static int on_mirror_c(void *ctx, const tv_flowrec *r)
{
	report_audit *a = ctx;
	long i = iface_by_vni(a, r->vni);
	const report_audit_iface *ifc;
	report_audit_flow *f;
	size_t k;
	if (i < 0 || !idx_flowrec_match(a->period, r))
		return 0;
	f = audit_flow_get(a, (uint32_t)i, &r->key, false);
	if (!f)
		return 0;
	ifc = &a->ifaces[i];
	/* outside the flow log's coverage for the interface: the mirror's wire
	 * time t shows in a flow log as [t, t + lag] */
	if (!ifc->in_flowlog || (uint64_t)r->end + a->cfg.lag < ifc->fl_first || r->start > ifc->fl_last) {
		f->m_outside_packets += r->packets;
		f->m_outside_bytes += r->bytes;
		return 0;
	}
	/* SKIPDATA / NODATA records carry their window's start and end */
	{
		/* first window of the interface that starts after r->end; the
		 * ones before it may overlap (windows do not overlap each other
		 * by more than AWS's lag, so look back a few) */
		size_t lo = 0, hi = a->nstatus;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			const status_win *s = &a->status[mid];
			if (s->iface < (uint32_t)i || (s->iface == (uint32_t)i && s->start <= r->end))
				lo = mid + 1;
			else
				hi = mid;
		}
		k = lo;
	}
	while (k > 0) {
		const status_win *s = &a->status[--k];
		if (s->iface != (uint32_t)i || s->end + 600u < r->start)
			break;
		if (r->end < s->start || r->start > s->end)
			continue;
		if (s->status == REPORT_FL_STATUS_SKIPDATA) {
			f->m_skip_packets += r->packets;
			f->m_skip_bytes += r->bytes;
		} else {
			f->m_nodata_packets += r->packets;
			f->m_nodata_bytes += r->bytes;
		}
		break;
	}
	return 0;
}

/* -------------------------------------------------------- classify */

static bool addr_eq4(const tv_addr *x, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	static const uint8_t pre[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	return memcmp(x->b, pre, 12) == 0 && x->b[12] == a && x->b[13] == b && x->b[14] == c && x->b[15] == d;
}

static bool addr_eq6_ec2(const tv_addr *x, uint16_t last)
{
	/* fd00:ec2::LAST */
	static const uint8_t pre[14] = { 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
	return memcmp(x->b, pre, 14) == 0 && x->b[14] == (last >> 8) && x->b[15] == (last & 0xff);
}

static bool addr_is_base_plus(const report_audit *a, const tv_addr *x, unsigned plus)
{
	tv_addr t;
	unsigned carry = plus;
	int i;
	if (!a->sum.have_vpc)
		return false;
	t = a->sum.vpc_base;
	for (i = 15; i >= 0 && carry; i--) {
		unsigned v = t.b[i] + carry;
		t.b[i] = (uint8_t)v;
		carry = v >> 8;
	}
	return memcmp(&t, x, sizeof t) == 0;
}

static int not_logged_reason(const report_audit *a, const tv_5tuple *k)
{
	const tv_addr *ad[2] = { &k->src, &k->dst };
	int i;
	for (i = 0; i < 2; i++) {
		if (addr_eq4(ad[i], 169, 254, 169, 254) || addr_eq6_ec2(ad[i], 0x254))
			return REPORT_AR_NOT_LOGGED_IMDS;
		if (addr_eq4(ad[i], 169, 254, 169, 123) || addr_eq6_ec2(ad[i], 0x123))
			return REPORT_AR_NOT_LOGGED_TIME_SYNC;
		if (addr_eq4(ad[i], 169, 254, 169, 253) || addr_eq6_ec2(ad[i], 0x253) || addr_is_base_plus(a, ad[i], 2))
			return REPORT_AR_NOT_LOGGED_AMAZON_DNS;
		if (addr_is_base_plus(a, ad[i], 1))
			return REPORT_AR_NOT_LOGGED_VPC_ROUTER;
	}
	if (k->proto == 17 && (k->sport == 67 || k->sport == 68 || k->dport == 67 || k->dport == 68))
		return REPORT_AR_NOT_LOGGED_DHCP;
	if (k->proto == 6 && (k->sport == 1688 || k->dport == 1688))
		return REPORT_AR_NOT_LOGGED_WINDOWS_ACTIVATION;
	return REPORT_AR_NONE;
}

static bool within(const report_audit *a, uint64_t x, uint64_t y)
{
	uint64_t hi = x > y ? x : y, d = x > y ? x - y : y - x;
	return (double)d <= a->cfg.tolerance_pct / 100.0 * (double)hi;
}

static void classify(report_audit *a, report_audit_flow *f)
{
	const report_audit_iface *ifc = &a->ifaces[f->iface];
	const report_iface *mi = ifc->vni != TV_VNI_NONE ? report_vnimap_find(a->map, ifc->vni) : NULL;
	int nl = not_logged_reason(a, &f->key);

	/* direction relative to the interface */
	if (mi && report_iface_has_addr(mi, &f->key.src))
		f->direction = REPORT_MIRROR_EGRESS;
	else if (mi && report_iface_has_addr(mi, &f->key.dst))
		f->direction = REPORT_MIRROR_INGRESS;
	if (a->cfg.mirror && f->direction) {
		report_mirror_decision d;
		report_mirrorcfg_eval(a->cfg.mirror, ifc->eni, f->direction, &f->key,
		                      nl == REPORT_AR_NOT_LOGGED_AMAZON_DNS, &d);
		f->verdict = (uint8_t)d.verdict;
		f->rule_number = d.rule_number;
	}

	if (f->fl_records == 0) {
		uint64_t ex = f->m_skip_packets + f->m_nodata_packets + f->m_outside_packets;
		f->cls = REPORT_AC_MIRROR_ONLY;
		if (nl)
			f->reason = (uint8_t)nl;
		else if (ex >= f->m_packets && f->m_packets) {
			if (f->m_skip_packets >= f->m_nodata_packets && f->m_skip_packets >= f->m_outside_packets)
				f->reason = REPORT_AR_SKIPDATA;
			else if (f->m_outside_packets >= f->m_nodata_packets)
				f->reason = REPORT_AR_OUTSIDE_COVERAGE;
			else
				f->reason = REPORT_AR_NODATA;
		} else
			f->reason = REPORT_AR_UNEXPLAINED;
		return;
	}
	if (f->m_records == 0) {
		f->cls = REPORT_AC_FLOWLOG_ONLY;
		if (f->fl_packets == 0 && f->fl_reject_records)
			f->reason = REPORT_AR_REJECT;
		else if (ifc->vni == TV_VNI_NONE && !ifc->in_mirror)
			f->reason = (a->cfg.mirror && f->direction && f->verdict != REPORT_MIRROR_NO_SESSION &&
			             f->verdict != REPORT_MIRROR_UNKNOWN && f->verdict != REPORT_MIRROR_ACCEPTED)
			                ? REPORT_AR_FILTER_EXCLUDED
			                : REPORT_AR_NOT_MIRRORED_IFACE;
		else if (f->verdict == REPORT_MIRROR_REJECTED || f->verdict == REPORT_MIRROR_NO_RULE ||
		         f->verdict == REPORT_MIRROR_NO_SESSION)
			f->reason = REPORT_AR_FILTER_EXCLUDED;
		else if (f->fl_outside_packets >= f->fl_packets)
			f->reason = REPORT_AR_TIME_NOT_COVERED;
		else
			f->reason = REPORT_AR_UNEXPLAINED;
		return;
	}
	if (within(a, f->fl_packets, f->m_packets) && within(a, f->fl_bytes, f->m_bytes)) {
		f->cls = REPORT_AC_MATCHED;
		f->reason = REPORT_AR_NONE;
		return;
	}
	if (f->m_packets < f->fl_packets || (f->m_packets == f->fl_packets && f->m_bytes < f->fl_bytes)) {
		f->cls = REPORT_AC_MIRROR_FEWER;
		if (f->fl_outside_packets &&
		    within(a, f->fl_packets - f->fl_outside_packets, f->m_packets))
			f->reason = REPORT_AR_TIME_NOT_COVERED;
		else if (f->fl_packets == 0)
			f->reason = REPORT_AR_REJECT;
		else
			f->reason = a->ingest_loss ? REPORT_AR_INGEST_LOSS : REPORT_AR_MIRROR_LOSS;
		return;
	}
	f->cls = REPORT_AC_MIRROR_MORE;
	{
		uint64_t ex = f->m_skip_packets + f->m_nodata_packets + f->m_outside_packets;
		uint64_t exb = f->m_skip_bytes + f->m_nodata_bytes + f->m_outside_bytes;
		if (ex && ex <= f->m_packets && within(a, f->m_packets - ex, f->fl_packets) &&
		    exb <= f->m_bytes && within(a, f->m_bytes - exb, f->fl_bytes)) {
			if (f->m_skip_packets >= f->m_nodata_packets && f->m_skip_packets >= f->m_outside_packets)
				f->reason = REPORT_AR_SKIPDATA;
			else if (f->m_outside_packets >= f->m_nodata_packets)
				f->reason = REPORT_AR_OUTSIDE_COVERAGE;
			else
				f->reason = REPORT_AR_NODATA;
		} else {
			f->reason = REPORT_AR_FLOWLOG_LOSS;
		}
	}
}

/* VPC base: --vpc-cidr, else the /16 of the first private IPv4 address the
 * map (or learning) gives an interface. */
static void derive_vpc(report_audit *a)
{
	size_t i, j;
	if (a->cfg.have_vpc_cidr) {
		a->sum.vpc_base = a->cfg.vpc_base;
		a->sum.vpc_prefix = a->cfg.vpc_prefix;
		a->sum.have_vpc = true;
		return;
	}
	for (i = 0; i < a->nifaces; i++) {
		const report_iface *mi;
		if (a->ifaces[i].vni == TV_VNI_NONE)
			continue;
		mi = report_vnimap_find(a->map, a->ifaces[i].vni);
		for (j = 0; mi && j < mi->naddrs; j++) {
			const tv_addr *x = &mi->addrs[j];
			if (!tv_addr_is_v4(x))
				continue;
			if (x->b[12] == 10 || (x->b[12] == 172 && (x->b[13] & 0xf0) == 16) ||
			    (x->b[12] == 192 && x->b[13] == 168)) {
				a->sum.vpc_base = *x;
				a->sum.vpc_base.b[14] = 0;
				a->sum.vpc_base.b[15] = 0;
				a->sum.vpc_prefix = 96 + 16;
				a->sum.have_vpc = true;
				return;
			}
		}
	}
}

/* ---------------------------------------------------------- payload */

typedef struct pl_ctx {
	report_audit *a;
	uint32_t last_vni;
	long last_iface;
	uint64_t progress_n;
} pl_ctx;

static void append_name(char *dst, size_t cap, const char *name)
{
	size_t n = strlen(dst), l = strlen(name);
	const char *p = dst;
	/* already there? */
	while ((p = strstr(p, name)) != NULL) {
		if ((p == dst || p[-1] == ' ') && (p[l] == ' ' || p[l] == '\0'))
			return;
		p += l;
	}
	if (n + l + 2 > cap)
		return;
	if (n)
		dst[n++] = ' ';
	memcpy(dst + n, name, l + 1);
}

static report_audit_finding *finding_for(report_audit *a, report_audit_flow *f)
{
	report_audit_finding *g;
	if (f->finding >= 0)
		return &a->findings[f->finding];
	if (a->nfindings >= MAX_FINDINGS) {
		a->sum.findings_dropped++;
		return NULL;
	}
	if (a->nfindings == a->capfindings) {
		size_t nc = a->capfindings ? a->capfindings * 2 : 256;
		report_audit_finding *p = realloc(a->findings, nc * sizeof *p);
		if (!p)
			return NULL;
		a->findings = p;
		a->capfindings = nc;
	}
	g = &a->findings[a->nfindings];
	memset(g, 0, sizeof *g);
	g->flow = (uint32_t)(f - a->flows);
	f->finding = (int32_t)a->nfindings++;
	return g;
}

static int cred_rank(int c)
{
	switch (c) {
	case REPORT_CRED_HTTP_BASIC: case REPORT_CRED_IMAP_LOGIN: return 3;
	case REPORT_CRED_FTP_PASS: return 2;
	case REPORT_CRED_FTP_USER: case REPORT_CRED_TELNET: return 1;
	default: return 0;
	}
}

static int on_packet(void *ctx, int store, const store_rec *rec, const tv_l3info *info)
{
	pl_ctx *pc = ctx;
	report_audit *a = pc->a;
	uint32_t vni = rec->tun ? rec->tun->vni : TV_VNI_NONE;
	if ((++pc->progress_n & 0xffff) == 0 && a->cfg.progress)
		a->cfg.progress(a->cfg.progress_ctx, "packets", pc->progress_n);
	report_audit_flow *f;
	report_audit_finding *g;
	report_payload pl;
	size_t off, len;
	long i;
	int app;
	(void)store;
	if (!report_payload_locate(rec->frame, rec->caplen, info, &off, &len))
		return 0;
	if (vni != pc->last_vni) {
		pc->last_vni = vni;
		pc->last_iface = iface_by_vni(a, vni);
	}
	i = pc->last_iface;
	if (i < 0)
		return 0;
	f = audit_flow_get(a, (uint32_t)i, &info->key, false);
	if (!f || f->payload_looked >= a->cfg.payload_packets)
		return 0;
	f->payload_looked++;
	a->sum.payload_packets_scanned++;
	app = report_payload_look(rec->frame + off, len, info->key.proto, info->key.sport, info->key.dport, &pl);
	if (app == REPORT_APP_UNKNOWN)
		return 0;
	g = finding_for(a, f);
	if (!g)
		return 0;
	g->packets_looked = f->payload_looked;
	if (!g->app)
		g->app = app;
	if (pl.sni[0] && !g->sni[0])
		snprintf(g->sni, sizeof g->sni, "%s", pl.sni);
	if (pl.host[0] && !g->host[0])
		snprintf(g->host, sizeof g->host, "%s", pl.host);
	if (pl.method[0] && !g->method[0]) {
		snprintf(g->method, sizeof g->method, "%s", pl.method);
		snprintf(g->path, sizeof g->path, "%s", pl.path);
	}
	if (pl.dns_name[0])
		append_name(g->dns_names, sizeof g->dns_names, pl.dns_name);
	if (pl.banner[0] && !g->banner[0])
		snprintf(g->banner, sizeof g->banner, "%s", pl.banner);
	if (pl.cred) {
		if (pl.user[0] && !g->user[0])
			snprintf(g->user, sizeof g->user, "%s", pl.user);
		if (pl.secret[0] && !g->secret[0])
			snprintf(g->secret, sizeof g->secret, "%s", pl.secret);
		if (cred_rank(pl.cred) > cred_rank(g->cred))
			g->cred = pl.cred;
	}
	return 0;
}

static int payload_pass(report_audit *a, idx_rstore *rs, char *err, size_t cap)
{
	idx_expr *e = NULL;
	idx_query_stats st;
	pl_ctx pc = { a, TV_VNI_NONE, -1, 0 };
	int rc;
	size_t i;

	if (a->sum.to < a->sum.from)
		return 0;
	rc = idx_expr_time_window((uint64_t)a->sum.from * TV_NS_PER_S,
	                          ((uint64_t)a->sum.to + 61) * TV_NS_PER_S, &e);
	if (rc)
		return rc;
	memset(&st, 0, sizeof st);
	rc = idx_query_run(rs, 1, e, false, on_packet, &pc, &st, err, cap);
	idx_expr_free(e);
	for (i = 0; i < a->nfindings; i++) {
		report_audit_finding *g = &a->findings[i];
		const report_audit_flow *f = &a->flows[g->flow];
		int pa = report_app_by_port(f->key.dport);
		if (!pa)
			pa = report_app_by_port(f->key.sport);
		g->port_app = pa;
		/* POP3 and FTP share USER/PASS; SMTP greets like FTP */
		g->mismatch = g->app && pa && g->app != pa &&
		              !(pa == REPORT_APP_POP3 && g->app == REPORT_APP_FTP) &&
		              !(pa == REPORT_APP_SMTP && g->app == REPORT_APP_FTP);
		if (g->mismatch)
			a->sum.mismatches++;
		if (g->cred)
			a->sum.credentials++;
	}
	a->sum.findings = a->nfindings;
	return rc;
}

/* -------------------------------------------------------------- run */

static int archive_span(report_audit *a, idx_rstore *rs)
{
	idx_totals t;
	int rc = idx_totals_get(rs->x, &t);
	if (rc)
		return rc;
	a->arch_empty = t.packets == 0;
	a->arch_first = (uint32_t)(t.first_ts / 1000000000ull);
	a->arch_last = (uint32_t)(t.last_ts / 1000000000ull);
	return 0;
}

/* The period actually audited: the configured one, narrowed to what the
 * mirror and the flow logs cover. */
static void audited_period(report_audit *a)
{
	uint32_t lo = UINT32_MAX, hi = 0;
	size_t i;

	for (i = 0; i < a->nifaces; i++) {
		const report_audit_iface *f = &a->ifaces[i];
		if (f->in_mirror) {
			if (f->m_first < lo) lo = f->m_first;
			if (f->m_last > hi) hi = f->m_last;
		}
		if (f->in_flowlog) {
			if (f->fl_first < lo) lo = f->fl_first;
			if (f->fl_last > hi) hi = f->fl_last;
		}
	}
	if (lo > hi)
		lo = hi = 0;
	a->sum.from = a->cfg.from > lo ? a->cfg.from : lo;
	a->sum.to = a->cfg.to < hi ? a->cfg.to : hi;
	if (a->sum.to < a->sum.from)
		a->sum.to = a->sum.from;
}

int report_audit_run(struct idx_rstore *rs, const report_audit_cfg *cfg, report_audit **out, char *err,
                     size_t cap)
{
	report_audit *a;
	int rc;
	size_t i;
	uint32_t from, to;

	*out = NULL;
	if (!rs || !cfg || (cfg->nflow_logs && !cfg->flow_logs) || cfg->max_flows == 0 || cfg->from > cfg->to ||
	    cfg->tolerance_pct < 0) {
		report_seterr(err, cap, "bad audit configuration");
		return TV_E_RANGE;
	}
	a = calloc(1, sizeof *a);
	if (!a)
		return TV_E_NOMEM;
	a->cfg = *cfg;
	if (a->cfg.max_flows > (1u << 30))
		a->cfg.max_flows = 1u << 30;
	a->rejects = calloc(a->cfg.max_rejects ? a->cfg.max_rejects : 1, sizeof *a->rejects);
	if (!a->rejects) {
		rc = TV_E_NOMEM;
		goto fail;
	}
	if (cfg->map) {
		a->map = cfg->map;
	} else {
		rc = report_vnimap_new(&a->map);
		if (rc)
			goto fail;
		a->own_map = true;
	}
	rc = archive_span(a, rs);
	if (rc == 0)
		rc = idx_counters_get(rs->x, &a->sum.ingest);
	if (rc) {
		report_seterr(err, cap, "reading the store: %s", tv_strerror(rc));
		goto fail;
	}
	a->sum.have_ingest = true;
	a->ingest_loss = ingest_loss_names(&a->sum.ingest, a->sum.ingest_loss, sizeof a->sum.ingest_loss);

	/* interfaces named by the sessions JSON exist even without traffic */
	for (i = 0; i < report_mirrorcfg_nsessions(cfg->mirror); i++) {
		const report_mirror_session *s = report_mirrorcfg_session(cfg->mirror, i);
		if (s->vni != TV_VNI_NONE && iface_by_vni(a, s->vni) < 0 && audit_iface_by_eni(a, s->eni) < 0 &&
		    audit_iface_add(a, s->eni, s->vni) < 0) {
			rc = TV_E_NOMEM;
			goto fail;
		}
	}

	/* A: the mirror records that overlap the period, by the rule flows and
	 * export use */
	rc = idx_expr_time_window((uint64_t)cfg->from * TV_NS_PER_S, ((uint64_t)cfg->to + 1) * TV_NS_PER_S,
	                          &a->period);
	if (rc)
		goto fail;
	(void)idx_flows_window_range(a->period, &from, &to);
	rc = idx_flow_foreach(rs->x, from, to, on_mirror_a, a);
	if (rc == 0 && a->err)
		rc = a->err;
	if (rc) {
		report_seterr(err, cap, "reading the store's flow records: %s", tv_strerror(rc));
		goto fail;
	}
	report_vnimap_learn_finish(a->map);
	/* what the archive holds: packets (totals) and flow records */
	for (i = 0; i < a->nifaces; i++) {
		const report_audit_iface *f = &a->ifaces[i];
		if (!f->in_mirror)
			continue;
		if (a->arch_empty || f->m_first < a->arch_first)
			a->arch_first = f->m_first;
		if (a->arch_empty || f->m_last > a->arch_last)
			a->arch_last = f->m_last;
		a->arch_empty = false;
	}
	/* map entries for learned VNIs carry the learned address */
	for (i = 0; i < a->nifaces; i++)
		if (a->ifaces[i].vni != TV_VNI_NONE)
			(void)report_vnimap_get(a->map, a->ifaces[i].vni);
	derive_vpc(a);

	/* B */
	if (cfg->nflow_logs) {
		rc = audit_read_flowlogs(a, err, cap);
		if (rc)
			goto fail;
	}

	/* C */
	rc = idx_flow_foreach(rs->x, from, to, on_mirror_c, a);
	if (rc) {
		report_seterr(err, cap, "reading the store's flow records: %s", tv_strerror(rc));
		goto fail;
	}

	audited_period(a);

	/* D */
	for (i = 0; i < a->nflows; i++) {
		report_audit_flow *f = &a->flows[i];
		report_audit_iface *ifc = &a->ifaces[f->iface];
		f->vni = ifc->vni;
		classify(a, f);
		ifc->flows++;
		a->sum.by_class[f->cls]++;
		a->sum.by_reason[f->cls][f->reason]++;
		a->sum.fl_bytes += f->fl_bytes;
		a->sum.fl_packets += f->fl_packets;
		a->sum.m_bytes += f->m_bytes;
		a->sum.m_packets += f->m_packets;
	}
	a->sum.flows = a->nflows;

	/* E */
	if (cfg->payload && a->nflows) {
		rc = payload_pass(a, rs, err, cap);
		if (rc)
			goto fail;
	}
	rc = series_fold(a);
	if (rc)
		goto fail;
	*out = a;
	return 0;
fail:
	report_audit_free(a);
	return rc;
}

void report_audit_free(report_audit *a)
{
	if (!a)
		return;
	if (a->own_map)
		report_vnimap_free(a->map);
	free(a->flows);
	free(a->fh);
	free(a->ifaces);
	free(a->votes);
	free(a->eh);
	free(a->vh);
	free(a->status);
	free(a->findings);
	free(a->rejects);
	free(a->ser);
	free(a->ser_t);
	free(a->ser_fl);
	free(a->ser_m);
	idx_expr_free(a->period);
	free(a);
}

const report_audit_summary *report_audit_summary_get(const report_audit *a) { return &a->sum; }
size_t report_audit_nflows(const report_audit *a) { return a->nflows; }
const report_audit_flow *report_audit_flow_get(const report_audit *a, size_t i)
{
	return i < a->nflows ? &a->flows[i] : NULL;
}
size_t report_audit_nifaces(const report_audit *a) { return a->nifaces; }
const report_audit_iface *report_audit_iface_get(const report_audit *a, size_t i)
{
	return i < a->nifaces ? &a->ifaces[i] : NULL;
}
size_t report_audit_nfindings(const report_audit *a) { return a->nfindings; }
const report_audit_finding *report_audit_finding_get(const report_audit *a, size_t i)
{
	return i < a->nfindings ? &a->findings[i] : NULL;
}
size_t report_audit_nrejects(const report_audit *a) { return a->nrejects; }
const report_audit_reject *report_audit_reject_get(const report_audit *a, size_t i)
{
	return i < a->nrejects ? &a->rejects[i] : NULL;
}

void report_audit_series_get(const report_audit *a, size_t i, uint32_t *t, uint64_t *fl_bytes,
                             uint64_t *m_bytes)
{
	if (i >= a->sum.series_n) {
		*t = 0;
		*fl_bytes = *m_bytes = 0;
		return;
	}
	*t = a->ser_t[i];
	*fl_bytes = a->ser_fl[i];
	*m_bytes = a->ser_m[i];
}

void report_audit_flow_expr(const report_audit *a, const report_audit_flow *fl, char *buf, size_t cap)
{
	char s[TV_ADDR_STRLEN], d[TV_ADDR_STRLEN], vni[32] = "";
	const char *proto;
	char pbuf[16];
	uint32_t t0, t1;
	char ta[48], tb[48];
	(void)a;
	tv_addr_format(&fl->key.src, s, sizeof s);
	tv_addr_format(&fl->key.dst, d, sizeof d);
	switch (fl->key.proto) {
	case 6: proto = "tcp"; break;
	case 17: proto = "udp"; break;
	case 1: proto = "icmp"; break;
	case 58: proto = "icmp6"; break;
	default: snprintf(pbuf, sizeof pbuf, "proto %u", fl->key.proto); proto = pbuf; break;
	}
	if (fl->vni != TV_VNI_NONE)
		snprintf(vni, sizeof vni, "vni %u and ", fl->vni);
	t0 = fl->m_records ? fl->m_first : fl->fl_first;
	t1 = fl->m_records ? fl->m_last : fl->fl_last;
	if (fl->fl_records && fl->fl_first && fl->fl_first < t0)
		t0 = fl->fl_first;
	if (fl->fl_records && fl->fl_last > t1)
		t1 = fl->fl_last;
	t0 = t0 > 60 ? t0 - 60 : 0;
	tv_time_format((uint64_t)t0 * 1000000000ull, ta, sizeof ta);
	tv_time_format(((uint64_t)t1 + 61) * 1000000000ull, tb, sizeof tb);
	/* trim the nanoseconds: ".000000000Z" -> "Z" */
	{
		char *p = strchr(ta, '.');
		if (p) { p[0] = 'Z'; p[1] = '\0'; }
		p = strchr(tb, '.');
		if (p) { p[0] = 'Z'; p[1] = '\0'; }
	}
	if (fl->key.proto == 6 || fl->key.proto == 17)
		snprintf(buf, cap, "%s%s and src host %s and src port %u and dst host %s and dst port %u and after %s and before %s",
		         vni, proto, s, fl->key.sport, d, fl->key.dport, ta, tb);
	else
		snprintf(buf, cap, "%s%s and src host %s and dst host %s and after %s and before %s", vni, proto, s, d,
		         ta, tb);
}
