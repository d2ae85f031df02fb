/*
 * mirrorcfg.c — AWS Traffic Mirroring filters and sessions, from the JSON of
 * `aws ec2 describe-traffic-mirror-filters` / `describe-traffic-mirror-sessions`
 * and their evaluation as AWS's Traffic Mirroring guide describes it
 * ("Traffic mirror filters", "Traffic mirror sessions";
 * https://docs.aws.amazon.com/vpc/latest/mirroring/):
 *
 *   - a filter has ingress and egress rule lists and optional network
 *     services (only "amazon-dns", which mirrors all Amazon DNS traffic);
 *   - rules of the packet's direction are tried in ascending RuleNumber; the
 *     first whose protocol, CIDRs and port ranges all match decides: accept
 *     mirrors, reject does not;
 *   - no matching rule: not mirrored (no rules at all: nothing mirrored);
 *   - an ENI may have several sessions: the lowest SessionNumber whose filter
 *     accepts the packet mirrors it, so a packet is mirrored at most once.
 *
 * Port ranges apply to TCP and UDP only.  A rule without Protocol matches
 * every protocol; without a CIDR, every address of the family.
 */
#include "vpc.h"
#include "report_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct report_mirrorcfg {
	report_mirror_filter *filters;
	size_t nfilters, capfilters;
	report_mirror_session *sessions;
	size_t nsessions, capsessions;
};

int report_mirrorcfg_new(report_mirrorcfg **out)
{
	report_mirrorcfg *m = calloc(1, sizeof *m);
	if (!m)
		return TV_E_NOMEM;
	*out = m;
	return 0;
}

void report_mirrorcfg_free(report_mirrorcfg *m)
{
	if (!m)
		return;
	free(m->filters);
	free(m->sessions);
	free(m);
}

size_t report_mirrorcfg_nfilters(const report_mirrorcfg *m) { return m ? m->nfilters : 0; }
size_t report_mirrorcfg_nsessions(const report_mirrorcfg *m) { return m ? m->nsessions : 0; }

const report_mirror_filter *report_mirrorcfg_filter(const report_mirrorcfg *m, size_t i)
{
	return m && i < m->nfilters ? &m->filters[i] : NULL;
}

const report_mirror_session *report_mirrorcfg_session(const report_mirrorcfg *m, size_t i)
{
	return m && i < m->nsessions ? &m->sessions[i] : NULL;
}

const report_mirror_filter *report_mirrorcfg_filter_find(const report_mirrorcfg *m, const char *id)
{
	size_t i;
	if (!m || !id)
		return NULL;
	for (i = 0; i < m->nfilters; i++)
		if (strcmp(m->filters[i].id, id) == 0)
			return &m->filters[i];
	return NULL;
}


/* Copies a JSON string member into dst (cap); absent is "", wrong type an error. */
static int get_str(json_t *o, const char *key, char *dst, size_t cap, bool required, const char *name,
                   const char *path, char *err, size_t ecap)
{
	json_t *v = json_object_get(o, key);
	dst[0] = '\0';
	if (!v) {
		if (required) {
			report_seterr(err, ecap, "%s: %s: missing \"%s\" (expected a string)", name, path, key);
			return TV_E_FORMAT;
		}
		return 0;
	}
	if (!json_is_string(v)) {
		report_seterr(err, ecap, "%s: %s.%s: expected a string", name, path, key);
		return TV_E_FORMAT;
	}
	if (json_string_length(v) >= cap) {
		report_seterr(err, ecap, "%s: %s.%s: longer than %zu bytes", name, path, key, cap - 1);
		return TV_E_FORMAT;
	}
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

/* Integer member in [lo, hi]; absent gives def (or an error when required). */
static int get_int(json_t *o, const char *key, long long lo, long long hi, long long def, long long *out,
                   bool required, const char *name, const char *path, char *err, size_t ecap)
{
	json_t *v = json_object_get(o, key);
	long long x;
	if (!v) {
		if (required) {
			report_seterr(err, ecap, "%s: %s: missing \"%s\" (expected a number)", name, path, key);
			return TV_E_FORMAT;
		}
		*out = def;
		return 0;
	}
	if (json_is_integer(v)) {
		x = json_integer_value(v);
	} else if (json_is_string(v)) {
		/* some exports quote numbers ("Protocol": "6") */
		char *end;
		const char *s = json_string_value(v);
		errno = 0;
		x = strtoll(s, &end, 10);
		if (errno || end == s || *end) {
			report_seterr(err, ecap, "%s: %s.%s: expected a number, found \"%s\"", name, path, key, s);
			return TV_E_FORMAT;
		}
	} else {
		report_seterr(err, ecap, "%s: %s.%s: expected a number", name, path, key);
		return TV_E_FORMAT;
	}
	if (x < lo || x > hi) {
		report_seterr(err, ecap, "%s: %s.%s: %lld is out of range %lld..%lld", name, path, key, x, lo, hi);
		return TV_E_FORMAT;
	}
	*out = x;
	return 0;
}

/* "10.0.0.0/24" or "2001:db8::/32" -> base, prefix on the 128-bit form */
static int parse_cidr(const char *s, tv_addr *base, uint8_t *len, bool *v6)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long pl;
	char *end;
	int i, bits;
	if (n == 0 || n >= sizeof buf)
		return TV_E_SYNTAX;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (tv_addr_parse(buf, base))
		return TV_E_SYNTAX;
	*v6 = !tv_addr_is_v4(base);
	if (slash) {
		errno = 0;
		pl = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || pl > (*v6 ? 128u : 32u))
			return TV_E_SYNTAX;
	} else {
		pl = *v6 ? 128 : 32;
	}
	bits = (int)pl + (*v6 ? 0 : 96);
	*len = (uint8_t)bits;
	for (i = 0; i < 16; i++) {
		int keep = bits - 8 * i;
		if (keep >= 8)
			continue;
		base->b[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
	return 0;
}

static bool cidr_has(const tv_addr *base, uint8_t len, const tv_addr *a)
{
	int i;
	for (i = 0; i < 16; i++) {
		int keep = (int)len - 8 * i;
		uint8_t mask;
		if (keep <= 0)
			break;
		mask = keep >= 8 ? 0xff : (uint8_t)(0xff << (8 - keep));
		if ((a->b[i] & mask) != base->b[i])
			return false;
	}
	return true;
}

static int get_range(json_t *r, const char *key, int32_t *lo, int32_t *hi, const char *name,
                     const char *path, char *err, size_t ecap)
{
	json_t *v = json_object_get(r, key);
	long long a, b;
	char p2[160];
	int rc;
	*lo = *hi = -1;
	if (!v || json_is_null(v))
		return 0;
	snprintf(p2, sizeof p2, "%s.%s", path, key);
	if (!json_is_object(v)) {
		report_seterr(err, ecap, "%s: %s: expected an object {FromPort, ToPort}", name, p2);
		return TV_E_FORMAT;
	}
	if ((rc = get_int(v, "FromPort", 0, 65535, 0, &a, false, name, p2, err, ecap)) ||
	    (rc = get_int(v, "ToPort", 0, 65535, 65535, &b, false, name, p2, err, ecap)))
		return rc;
	if (a > b) {
		report_seterr(err, ecap, "%s: %s: FromPort %lld is above ToPort %lld", name, p2, a, b);
		return TV_E_FORMAT;
	}
	*lo = (int32_t)a;
	*hi = (int32_t)b;
	return 0;
}

static int load_rule(json_t *r, report_mirror_rule *out, const char *name, const char *path, char *err,
                     size_t ecap)
{
	char act[16], cidr[64];
	long long v;
	int rc;
	json_t *p;
	memset(out, 0, sizeof *out);
	if (!json_is_object(r)) {
		report_seterr(err, ecap, "%s: %s: expected a rule object", name, path);
		return TV_E_FORMAT;
	}
	if ((rc = get_int(r, "RuleNumber", 0, 0x7fffffff, 0, &v, true, name, path, err, ecap)))
		return rc;
	out->number = (uint32_t)v;
	if ((rc = get_str(r, "RuleAction", act, sizeof act, true, name, path, err, ecap)))
		return rc;
	if (strcmp(act, "accept") == 0) {
		out->accept = true;
	} else if (strcmp(act, "reject") != 0) {
		report_seterr(err, ecap, "%s: %s.RuleAction: expected \"accept\" or \"reject\", found \"%s\"", name,
		       path, act);
		return TV_E_FORMAT;
	}
	p = json_object_get(r, "Protocol");
	out->protocol = -1;
	if (p && !json_is_null(p)) {
		if ((rc = get_int(r, "Protocol", -1, 255, -1, &v, false, name, path, err, ecap)))
			return rc;
		out->protocol = (int16_t)v; /* -1 ("all" in some exports) stays any */
	}
	if ((rc = get_str(r, "SourceCidrBlock", cidr, sizeof cidr, false, name, path, err, ecap)))
		return rc;
	if (cidr[0]) {
		if (parse_cidr(cidr, &out->src, &out->src_len, &out->src_v6)) {
			report_seterr(err, ecap, "%s: %s.SourceCidrBlock: expected a CIDR block, found \"%s\"", name,
			       path, cidr);
			return TV_E_FORMAT;
		}
	}
	if ((rc = get_str(r, "DestinationCidrBlock", cidr, sizeof cidr, false, name, path, err, ecap)))
		return rc;
	if (cidr[0]) {
		if (parse_cidr(cidr, &out->dst, &out->dst_len, &out->dst_v6)) {
			report_seterr(err, ecap, "%s: %s.DestinationCidrBlock: expected a CIDR block, found \"%s\"",
			       name, path, cidr);
			return TV_E_FORMAT;
		}
	}
	if ((rc = get_range(r, "SourcePortRange", &out->sport_lo, &out->sport_hi, name, path, err, ecap)) ||
	    (rc = get_range(r, "DestinationPortRange", &out->dport_lo, &out->dport_hi, name, path, err, ecap)))
		return rc;
	return get_str(r, "TrafficMirrorFilterRuleId", out->id, sizeof out->id, false, name, path, err, ecap);
}

static int cmp_rule(const void *a, const void *b)
{
	const report_mirror_rule *x = a, *y = b;
	return x->number < y->number ? -1 : x->number > y->number;
}

static int load_rules(json_t *f, const char *key, report_mirror_rule *rules, size_t *n, const char *name,
                      const char *path, char *err, size_t ecap)
{
	json_t *a = json_object_get(f, key), *r;
	size_t i;
	char p2[160];
	int rc;
	*n = 0;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a)) {
		report_seterr(err, ecap, "%s: %s.%s: expected an array of rules", name, path, key);
		return TV_E_FORMAT;
	}
	if (json_array_size(a) > REPORT_MIRROR_MAX_RULES) {
		report_seterr(err, ecap, "%s: %s.%s: more than %d rules", name, path, key, REPORT_MIRROR_MAX_RULES);
		return TV_E_FORMAT;
	}
	json_array_foreach(a, i, r) {
		snprintf(p2, sizeof p2, "%s.%s[%zu]", path, key, i);
		if ((rc = load_rule(r, &rules[*n], name, p2, err, ecap)))
			return rc;
		(*n)++;
	}
	qsort(rules, *n, sizeof *rules, cmp_rule);
	for (i = 1; i < *n; i++)
		if (rules[i].number == rules[i - 1].number) {
			report_seterr(err, ecap, "%s: %s.%s: rule number %u appears twice", name, path, key,
			       rules[i].number);
			return TV_E_FORMAT;
		}
	return 0;
}

static json_t *load_json(const char *text, size_t len, const char *name, char *err, size_t ecap)
{
	json_error_t je;
	return report_json_load(text, len, NULL, name, &je, err, ecap);
}

int report_mirrorcfg_load_filters_text(report_mirrorcfg *m, const char *text, size_t len, const char *name,
                                       char *err, size_t ecap)
{
	json_t *root, *arr, *f;
	size_t i, n0 = m->nfilters;
	int rc = 0;
	char path[96];

	root = load_json(text, len, name, err, ecap);
	if (!root)
		return TV_E_FORMAT;
	if (json_is_object(root) && (arr = json_object_get(root, "TrafficMirrorFilters"))) {
		if (!json_is_array(arr)) {
			report_seterr(err, ecap, "%s: TrafficMirrorFilters: expected an array", name);
			rc = TV_E_FORMAT;
			goto fail;
		}
	} else if (json_is_object(root) && json_object_get(root, "TrafficMirrorFilter")) {
		/* create-traffic-mirror-filter output: one filter */
		arr = json_array();
		json_array_append(arr, json_object_get(root, "TrafficMirrorFilter"));
		json_decref(root);
		root = arr;
	} else {
		report_seterr(err, ecap, "%s: expected an object with \"TrafficMirrorFilters\" (the output of "
		                  "aws ec2 describe-traffic-mirror-filters)", name);
		rc = TV_E_FORMAT;
		goto fail;
	}
	json_array_foreach(arr, i, f) {
		report_mirror_filter *nf;
		json_t *ns, *s;
		size_t j;
		snprintf(path, sizeof path, "TrafficMirrorFilters[%zu]", i);
		if (!json_is_object(f)) {
			report_seterr(err, ecap, "%s: %s: expected an object", name, path);
			rc = TV_E_FORMAT;
			goto fail;
		}
		if (m->nfilters >= REPORT_MIRROR_MAX_FILTERS) {
			report_seterr(err, ecap, "%s: %s: more than %d filters: refused (AWS allows %d per "
			                         "account and region)",
			              name, path, REPORT_MIRROR_MAX_FILTERS, 10000);
			rc = TV_E_FORMAT;
			goto fail;
		}
		if (m->nfilters == m->capfilters) {
			size_t nc = m->capfilters ? m->capfilters * 2 : 4;
			report_mirror_filter *p = realloc(m->filters, nc * sizeof *p);
			if (!p) {
				rc = TV_E_NOMEM;
				goto fail;
			}
			m->filters = p;
			m->capfilters = nc;
		}
		nf = &m->filters[m->nfilters];
		memset(nf, 0, sizeof *nf);
		if ((rc = get_str(f, "TrafficMirrorFilterId", nf->id, sizeof nf->id, true, name, path, err, ecap)) ||
		    (rc = load_rules(f, "IngressFilterRules", nf->ingress, &nf->ningress, name, path, err, ecap)) ||
		    (rc = load_rules(f, "EgressFilterRules", nf->egress, &nf->negress, name, path, err, ecap)))
			goto fail;
		ns = json_object_get(f, "NetworkServices");
		if (ns && !json_is_null(ns)) {
			if (!json_is_array(ns)) {
				report_seterr(err, ecap, "%s: %s.NetworkServices: expected an array", name, path);
				rc = TV_E_FORMAT;
				goto fail;
			}
			json_array_foreach(ns, j, s) {
				if (json_is_string(s) && strcmp(json_string_value(s), "amazon-dns") == 0)
					nf->amazon_dns = true;
			}
		}
		m->nfilters++;
	}
	json_decref(root);
	return 0;
fail:
	m->nfilters = n0;
	json_decref(root);
	return rc;
}

int report_mirrorcfg_load_sessions_text(report_mirrorcfg *m, const char *text, size_t len, const char *name,
                                        char *err, size_t ecap)
{
	json_t *root, *arr, *s;
	size_t i, n0 = m->nsessions;
	int rc = 0;
	char path[96];
	long long v;

	root = load_json(text, len, name, err, ecap);
	if (!root)
		return TV_E_FORMAT;
	if (json_is_object(root) && (arr = json_object_get(root, "TrafficMirrorSessions"))) {
		if (!json_is_array(arr)) {
			report_seterr(err, ecap, "%s: TrafficMirrorSessions: expected an array", name);
			rc = TV_E_FORMAT;
			goto fail;
		}
	} else if (json_is_object(root) && json_object_get(root, "TrafficMirrorSession")) {
		arr = json_array();
		json_array_append(arr, json_object_get(root, "TrafficMirrorSession"));
		json_decref(root);
		root = arr;
	} else {
		report_seterr(err, ecap, "%s: expected an object with \"TrafficMirrorSessions\" (the output of "
		                  "aws ec2 describe-traffic-mirror-sessions)", name);
		rc = TV_E_FORMAT;
		goto fail;
	}
	json_array_foreach(arr, i, s) {
		report_mirror_session *ns;
		snprintf(path, sizeof path, "TrafficMirrorSessions[%zu]", i);
		if (!json_is_object(s)) {
			report_seterr(err, ecap, "%s: %s: expected an object", name, path);
			rc = TV_E_FORMAT;
			goto fail;
		}
		if (m->nsessions >= REPORT_MIRROR_MAX_SESSIONS) {
			report_seterr(err, ecap, "%s: %s: more than %d sessions: refused", name, path,
			              REPORT_MIRROR_MAX_SESSIONS);
			rc = TV_E_FORMAT;
			goto fail;
		}
		if (m->nsessions == m->capsessions) {
			size_t nc = m->capsessions ? m->capsessions * 2 : 8;
			report_mirror_session *p = realloc(m->sessions, nc * sizeof *p);
			if (!p) {
				rc = TV_E_NOMEM;
				goto fail;
			}
			m->sessions = p;
			m->capsessions = nc;
		}
		ns = &m->sessions[m->nsessions];
		memset(ns, 0, sizeof *ns);
		if ((rc = get_str(s, "TrafficMirrorSessionId", ns->id, sizeof ns->id, false, name, path, err, ecap)) ||
		    (rc = get_str(s, "NetworkInterfaceId", ns->eni, sizeof ns->eni, true, name, path, err, ecap)) ||
		    (rc = get_str(s, "TrafficMirrorFilterId", ns->filter, sizeof ns->filter, false, name, path, err,
		                  ecap)) ||
		    (rc = get_str(s, "TrafficMirrorTargetId", ns->target, sizeof ns->target, false, name, path, err,
		                  ecap)))
			goto fail;
		if ((rc = get_int(s, "VirtualNetworkId", 0, 0xffffff, TV_VNI_NONE, &v, false, name, path, err, ecap)))
			goto fail;
		ns->vni = (uint32_t)v;
		if ((rc = get_int(s, "SessionNumber", 1, 32766, 1, &v, false, name, path, err, ecap)))
			goto fail;
		ns->number = (uint32_t)v;
		if ((rc = get_int(s, "PacketLength", 0, 65535, 0, &v, false, name, path, err, ecap)))
			goto fail;
		ns->packet_length = (uint32_t)v;
		m->nsessions++;
	}
	json_decref(root);
	return 0;
fail:
	m->nsessions = n0;
	json_decref(root);
	return rc;
}

static int read_file(const char *path, char **text, size_t *len, char *err, size_t ecap)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int e;
	if (!f) {
		e = errno;
		report_seterr(err, ecap, "%s: cannot open: %s", path, strerror(e));
		return e;
	}
	for (;;) {
		size_t r;
		if (n + 4096 > cap) {
			char *p;
			if (cap >= (64u << 20)) {
				report_seterr(err, ecap, "%s: larger than 64 MiB", path);
				free(buf);
				fclose(f);
				return TV_E_RANGE;
			}
			cap = cap ? cap * 2 : 65536;
			p = realloc(buf, cap);
			if (!p) {
				free(buf);
				fclose(f);
				return TV_E_NOMEM;
			}
			buf = p;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	e = ferror(f);
	fclose(f);
	if (e) {
		report_seterr(err, ecap, "%s: read error", path);
		free(buf);
		return TV_E_IO;
	}
	*text = buf;
	*len = n;
	return 0;
}

int report_mirrorcfg_load_filters(report_mirrorcfg *m, const char *path, char *err, size_t cap)
{
	char *t;
	size_t n;
	int rc = read_file(path, &t, &n, err, cap);
	if (rc)
		return rc;
	rc = report_mirrorcfg_load_filters_text(m, t, n, path, err, cap);
	free(t);
	return rc;
}

int report_mirrorcfg_load_sessions(report_mirrorcfg *m, const char *path, char *err, size_t cap)
{
	char *t;
	size_t n;
	int rc = read_file(path, &t, &n, err, cap);
	if (rc)
		return rc;
	rc = report_mirrorcfg_load_sessions_text(m, t, n, path, err, cap);
	free(t);
	return rc;
}

static bool rule_match(const report_mirror_rule *r, const tv_5tuple *k)
{
	bool v6 = !tv_addr_is_v4(&k->src);
	if (r->protocol >= 0 && r->protocol != k->proto)
		return false;
	if (r->src_len || r->src_v6) {
		if (r->src_v6 != v6 || !cidr_has(&r->src, r->src_len, &k->src))
			return false;
	}
	if (r->dst_len || r->dst_v6) {
		if (r->dst_v6 != v6 || !cidr_has(&r->dst, r->dst_len, &k->dst))
			return false;
	}
	if (k->proto == 6 || k->proto == 17) {
		if (r->sport_lo >= 0 && (k->sport < r->sport_lo || k->sport > r->sport_hi))
			return false;
		if (r->dport_lo >= 0 && (k->dport < r->dport_lo || k->dport > r->dport_hi))
			return false;
	}
	return true;
}

/* One filter's verdict for one packet. */
static void filter_eval(const report_mirror_filter *f, int dir, const tv_5tuple *k, bool amazon_dns,
                        report_mirror_decision *d)
{
	const report_mirror_rule *rules = dir == REPORT_MIRROR_EGRESS ? f->egress : f->ingress;
	size_t n = dir == REPORT_MIRROR_EGRESS ? f->negress : f->ningress, i;
	d->filter_id = f->id;
	d->rule_number = 0;
	d->by_amazon_dns = false;
	if (amazon_dns && f->amazon_dns) {
		d->verdict = REPORT_MIRROR_ACCEPTED;
		d->by_amazon_dns = true;
		return;
	}
	for (i = 0; i < n; i++) {
		if (rule_match(&rules[i], k)) {
			d->verdict = rules[i].accept ? REPORT_MIRROR_ACCEPTED : REPORT_MIRROR_REJECTED;
			d->rule_number = rules[i].number;
			return;
		}
	}
	d->verdict = REPORT_MIRROR_NO_RULE;
}

void report_mirrorcfg_eval(const report_mirrorcfg *m, const char *eni, int dir, const tv_5tuple *k,
                           bool amazon_dns, report_mirror_decision *d)
{
	const report_mirror_session *best[8];
	size_t nb = 0, i, j;

	memset(d, 0, sizeof *d);
	d->verdict = REPORT_MIRROR_UNKNOWN;
	d->filter_id = "";
	d->session_id = "";
	d->vni = TV_VNI_NONE;
	if (!m || (dir != REPORT_MIRROR_INGRESS && dir != REPORT_MIRROR_EGRESS))
		return;
	if (m->nsessions == 0) {
		if (m->nfilters == 1)
			filter_eval(&m->filters[0], dir, k, amazon_dns, d);
		return;
	}
	for (i = 0; i < m->nsessions && nb < 8; i++)
		if (eni && strcmp(m->sessions[i].eni, eni) == 0)
			best[nb++] = &m->sessions[i];
	if (nb == 0) {
		d->verdict = REPORT_MIRROR_NO_SESSION;
		return;
	}
	/* ascending session number (insertion sort: at most 3 per ENI in AWS) */
	for (i = 1; i < nb; i++)
		for (j = i; j > 0 && best[j]->number < best[j - 1]->number; j--) {
			const report_mirror_session *t = best[j];
			best[j] = best[j - 1];
			best[j - 1] = t;
		}
	for (i = 0; i < nb; i++) {
		const report_mirror_filter *f = report_mirrorcfg_filter_find(m, best[i]->filter);
		report_mirror_decision one;
		if (!f)
			continue;
		memset(&one, 0, sizeof one);
		filter_eval(f, dir, k, amazon_dns, &one);
		one.session_id = best[i]->id;
		one.vni = best[i]->vni;
		if (one.verdict == REPORT_MIRROR_ACCEPTED) {
			*d = one;
			return;
		}
		/* keep the first session's negative verdict as the explanation */
		if (d->verdict == REPORT_MIRROR_UNKNOWN)
			*d = one;
	}
}

const char *report_mirror_verdict_name(int v)
{
	switch (v) {
	case REPORT_MIRROR_ACCEPTED: return "accepted";
	case REPORT_MIRROR_REJECTED: return "rejected";
	case REPORT_MIRROR_NO_RULE: return "no_rule";
	case REPORT_MIRROR_NO_SESSION: return "no_session";
	default: return "unknown";
	}
}
