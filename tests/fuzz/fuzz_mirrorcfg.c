/*
 * fuzz_mirrorcfg.c — libFuzzer target for the mirror filter and session
 * loader (report/mirrorcfg.c): the JSON of describe-traffic-mirror-filters
 * and describe-traffic-mirror-sessions (and the single-object forms), then
 * the evaluation of flows against what loaded.
 *
 * The input is split at its first NUL byte (JSON text never holds one):
 * the part before it is a filters document, the part after it a sessions
 * document.  Without a NUL the whole input is tried as both.  Each part is
 * loaded twice into one fresh configuration: from an exact-size copy (a
 * read past the end is caught) and from its path (a memfd created once,
 * opened by /proc/self/fd, so nothing is written to disk).  Then a few
 * flows built from the input's first bytes and from every loaded rule's
 * CIDR bases are evaluated for every session's ENI, both directions, with
 * and without amazon_dns.
 *
 * Checks: a failed load adds nothing and leaves a NUL-terminated message;
 * ids are NUL-terminated; rules are at most REPORT_MIRROR_MAX_RULES per
 * direction, sorted by number with none twice; ranges have lo <= hi;
 * prefix lengths are at most 128; a decision's verdict is one of the enum,
 * its strings are never NULL, a rule number is given only for a rule
 * verdict, and ACCEPTED by amazon-dns only when amazon_dns was asked.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../report/vpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT (256u << 10)

static int mfd = -1;
static char mpath[64];

static void check_str(const char *s, size_t cap)
{
	if (strnlen(s, cap) == cap)
		abort();
}

static void check_rules(const report_mirror_rule *r, size_t n)
{
	size_t i;
	if (n > REPORT_MIRROR_MAX_RULES)
		abort();
	for (i = 0; i < n; i++) {
		check_str(r[i].id, sizeof r[i].id);
		if (i > 0 && r[i - 1].number >= r[i].number)
			abort();
		if (r[i].src_len > 128 || r[i].dst_len > 128 || r[i].protocol > 255 || r[i].protocol < -1)
			abort();
		if ((r[i].sport_lo < 0) != (r[i].sport_hi < 0) || r[i].sport_lo > r[i].sport_hi ||
		    r[i].sport_hi > 65535)
			abort();
		if ((r[i].dport_lo < 0) != (r[i].dport_hi < 0) || r[i].dport_lo > r[i].dport_hi ||
		    r[i].dport_hi > 65535)
			abort();
	}
}

static void check_cfg(const report_mirrorcfg *m)
{
	size_t i;
	const report_mirror_filter *f;
	const report_mirror_session *s;
	for (i = 0; i < report_mirrorcfg_nfilters(m); i++) {
		f = report_mirrorcfg_filter(m, i);
		if (!f)
			abort();
		check_str(f->id, sizeof f->id);
		check_rules(f->ingress, f->ningress);
		check_rules(f->egress, f->negress);
	}
	if (report_mirrorcfg_filter(m, i) != NULL)
		abort();
	for (i = 0; i < report_mirrorcfg_nsessions(m); i++) {
		s = report_mirrorcfg_session(m, i);
		if (!s)
			abort();
		check_str(s->id, sizeof s->id);
		check_str(s->eni, sizeof s->eni);
		check_str(s->filter, sizeof s->filter);
		check_str(s->target, sizeof s->target);
		if (s->vni != TV_VNI_NONE && s->vni > 0xFFFFFFu)
			abort();
		if (s->packet_length > 65535)
			abort();
	}
	if (report_mirrorcfg_session(m, i) != NULL)
		abort();
}

typedef int (*load_text_fn)(report_mirrorcfg *, const char *, size_t, const char *, char *, size_t);
typedef int (*load_path_fn)(report_mirrorcfg *, const char *, char *, size_t);

static void load(report_mirrorcfg *m, const uint8_t *p, size_t n, load_text_fn lt, load_path_fn lp)
{
	char err[512];
	char *copy;
	size_t nf, ns;
	int rc, pass;

	for (pass = 0; pass < 2; pass++) {
		nf = report_mirrorcfg_nfilters(m);
		ns = report_mirrorcfg_nsessions(m);
		memset(err, 0x55, sizeof err);
		if (pass == 0) {
			copy = malloc(n ? n : 1);
			if (!copy)
				return;
			memcpy(copy, p, n);
			rc = lt(m, copy, n, "fuzz.json", err, sizeof err);
			free(copy);
		} else {
			if (ftruncate(mfd, 0) != 0 || pwrite(mfd, p, n, 0) != (ssize_t)n)
				abort();
			rc = lp(m, mpath, err, sizeof err);
		}
		if (rc != 0) {
			if (strnlen(err, sizeof err) == sizeof err || err[0] == '\0')
				abort();
			if (report_mirrorcfg_nfilters(m) != nf || report_mirrorcfg_nsessions(m) != ns)
				abort(); /* nothing is added on error */
			return; /* the same again from the file fails the same way */
		}
		check_cfg(m);
	}
}

static void eval_one(const report_mirrorcfg *m, const char *eni, const tv_5tuple *k)
{
	report_mirror_decision d;
	int dir, dns;
	for (dir = 0; dir <= 3; dir++)
		for (dns = 0; dns < 2; dns++) {
			report_mirrorcfg_eval(m, eni, dir, k, dns != 0, &d);
			if (d.verdict < REPORT_MIRROR_UNKNOWN || d.verdict > REPORT_MIRROR_NO_SESSION)
				abort();
			if (!d.filter_id || !d.session_id || !report_mirror_verdict_name(d.verdict))
				abort();
			if ((dir == 0 || dir == 3) && d.verdict != REPORT_MIRROR_UNKNOWN)
				abort();
			if (d.by_amazon_dns && (!dns || d.verdict != REPORT_MIRROR_ACCEPTED))
				abort();
			if (d.rule_number != 0 && d.verdict != REPORT_MIRROR_ACCEPTED &&
			    d.verdict != REPORT_MIRROR_REJECTED)
				abort();
		}
}

static void eval_all(const report_mirrorcfg *m, const uint8_t *data, size_t size)
{
	tv_5tuple k[4];
	size_t i, j, nk = 0;
	const report_mirror_filter *f;

	memset(k, 0, sizeof k);
	/* a flow from the input's bytes */
	if (size >= 37) {
		memcpy(k[0].src.b, data, 16);
		memcpy(k[0].dst.b, data + 16, 16);
		k[0].sport = (uint16_t)(data[32] | data[33] << 8);
		k[0].dport = (uint16_t)(data[34] | data[35] << 8);
		k[0].proto = data[36];
		nk = 1;
	}
	/* flows at the first filter's rule bases */
	f = report_mirrorcfg_filter(m, 0);
	if (f) {
		for (j = 0; j < 2 && nk < 4; j++) {
			const report_mirror_rule *r = j ? f->egress : f->ingress;
			size_t n = j ? f->negress : f->ningress;
			if (!n)
				continue;
			k[nk].src = r[0].src;
			k[nk].dst = r[0].dst;
			k[nk].proto = r[0].protocol < 0 ? 6 : (uint8_t)r[0].protocol;
			k[nk].sport = (uint16_t)(r[0].sport_lo < 0 ? 1024 : r[0].sport_lo);
			k[nk].dport = (uint16_t)(r[0].dport_hi < 0 ? 443 : r[0].dport_hi);
			nk++;
		}
	}
	if (tv_addr_parse("10.0.0.2", &k[nk].src) != 0 || tv_addr_parse("10.0.1.5", &k[nk].dst) != 0)
		abort();
	k[nk].proto = 17;
	k[nk].sport = 53;
	k[nk].dport = 40000;
	nk++;

	for (i = 0; i < nk; i++) {
		eval_one(m, NULL, &k[i]);
		eval_one(m, "eni-none-such", &k[i]);
		for (j = 0; j < report_mirrorcfg_nsessions(m) && j < 8; j++)
			eval_one(m, report_mirrorcfg_session(m, j)->eni, &k[i]);
	}
	for (j = 0; j < report_mirrorcfg_nfilters(m) && j < 8; j++)
		if (report_mirrorcfg_filter_find(m, report_mirrorcfg_filter(m, j)->id) == NULL)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	report_mirrorcfg *m;
	const uint8_t *nul;

	if (mfd < 0) {
		mfd = memfd_create("fuzz_mirrorcfg", MFD_CLOEXEC);
		if (mfd < 0)
			abort();
		snprintf(mpath, sizeof mpath, "/proc/self/fd/%d", mfd);
	}
	if (size > MAX_INPUT)
		return 0;
	if (report_mirrorcfg_new(&m) != 0)
		abort();
	nul = memchr(data, '\0', size);
	if (nul) {
		size_t n1 = (size_t)(nul - data);
		load(m, data, n1, report_mirrorcfg_load_filters_text, report_mirrorcfg_load_filters);
		load(m, nul + 1, size - n1 - 1, report_mirrorcfg_load_sessions_text,
		     report_mirrorcfg_load_sessions);
	} else {
		load(m, data, size, report_mirrorcfg_load_filters_text, report_mirrorcfg_load_filters);
		load(m, data, size, report_mirrorcfg_load_sessions_text, report_mirrorcfg_load_sessions);
	}
	eval_all(m, data, size);
	report_mirrorcfg_free(m);
	return 0;
}
