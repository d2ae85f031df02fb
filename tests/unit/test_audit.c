/*
 * test_audit.c — the join and the classes (report/audit.c): a store with
 * hand-made flow records, a hand-written flow log, and one flow per class and
 * reason; the tolerance; the ENI bound from addresses when no map names it;
 * SKIPDATA windows and coverage; the report writers.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmtmp.h"
#include "../../index/vault.h"
#include "../../report/audit.h"

static char dir[256];

static tv_flowrec rec(uint32_t vni, const char *s, const char *d, uint16_t sp, uint16_t dp, uint8_t proto,
                      uint32_t window, uint64_t pk, uint64_t by)
{
	tv_flowrec r;
	memset(&r, 0, sizeof r);
	cr_assert_eq(tv_addr_parse(s, &r.key.src), 0);
	cr_assert_eq(tv_addr_parse(d, &r.key.dst), 0);
	r.key.sport = sp;
	r.key.dport = dp;
	r.key.proto = proto;
	r.vni = vni;
	r.window = window;
	r.start = window + 1;
	r.end = window + 30;
	r.packets = pk;
	r.bytes = by;
	r.ipver = 4;
	return r;
}

#define T0 1764000000u

/* ingest counters the store is made with (committed by the close) */
static tv_counters g_ingest;

static void make_store(void)
{
	idx_vault_cfg cfg;
	idx_vault *v;
	tv_counters ctr;
	idx_recovery rc;
	tv_flowrec r[16];
	size_t n = 0;
	snprintf(dir, sizeof dir, "/tmp/tv-test-audit.%d", (int)getpid());
	idx_vault_cfg_default(&cfg);
	memset(&ctr, 0, sizeof ctr);
	cr_assert_eq(idx_vault_open(dir, &cfg, &ctr, &rc, &v), 0);
	ctr = g_ingest;
	/* VNI 100 = eni-a (10.0.1.5), from the map */
	r[n++] = rec(100, "10.0.1.5", "93.184.216.34", 40000, 443, 6, T0, 10, 5000);      /* matched */
	r[n++] = rec(100, "10.0.1.5", "93.184.216.34", 40001, 443, 6, T0, 100, 100000);   /* 4 % off: matched */
	r[n++] = rec(100, "10.0.1.5", "93.184.216.35", 40002, 443, 6, T0, 10, 5000);      /* flow log says 20 */
	r[n++] = rec(100, "10.0.1.5", "10.0.0.2", 40003, 53, 17, T0, 1, 70);              /* Amazon DNS */
	r[n++] = rec(100, "10.0.1.5", "169.254.169.254", 40004, 80, 6, T0, 5, 500);       /* IMDS */
	r[n++] = rec(100, "10.0.1.5", "198.51.100.1", 40005, 443, 6, T0 + 120, 4, 400);   /* in the SKIPDATA window */
	r[n++] = rec(100, "10.0.1.5", "198.51.100.2", 40006, 443, 6, T0 + 3600, 4, 400);  /* after the flow log ends */
	r[n++] = rec(100, "10.0.1.5", "198.51.100.3", 40007, 443, 6, T0, 7, 700);         /* not in the flow log */
	r[n++] = rec(100, "10.0.1.5", "198.51.100.4", 40008, 443, 6, T0, 8, 800);         /* flow log says 4 */
	/* VNI 200: no map entry; its ENI eni-b is learned from the addresses */
	r[n++] = rec(200, "10.0.2.9", "1.1.1.1", 50000, 443, 6, T0, 3, 300);
	r[n++] = rec(200, "1.1.1.1", "10.0.2.9", 443, 50000, 6, T0, 3, 3000);
	r[n++] = rec(200, "10.0.2.9", "8.8.8.8", 50001, 53, 17, T0, 1, 60);
	cr_assert_eq(idx_flows_put(idx_vault_index(v), r, n), 0);
	cr_assert_eq(idx_vault_close(v), 0);
}

static void write_file(const char *name, const char *text)
{
	char p[512];
	FILE *f;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static const char FLOWLOG[] =
	"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
	"2 1 eni-a 10.0.1.5 93.184.216.34 40000 443 6 10 5000 1764000010 1764000040 ACCEPT OK\n"
	"2 1 eni-a 10.0.1.5 93.184.216.34 40001 443 6 96 96000 1764000010 1764000040 ACCEPT OK\n"
	"2 1 eni-a 10.0.1.5 93.184.216.35 40002 443 6 20 10000 1764000010 1764000040 ACCEPT OK\n"
	"2 1 eni-a 10.0.1.5 198.51.100.4 40008 443 6 4 400 1764000010 1764000040 ACCEPT OK\n"
	"2 1 eni-a - - - - - - - 1764000120 1764000179 - SKIPDATA\n"
	"2 1 eni-a 203.0.113.7 10.0.1.5 6000 22 6 1 60 1764000300 1764000300 REJECT OK\n"
	"2 1 eni-a 10.0.99.1 10.0.1.5 7000 5432 6 5 500 1764000300 1764000330 ACCEPT OK\n"
	"2 1 eni-a 10.0.1.5 8.8.4.4 7001 443 6 5 500 1764000300 1764000330 ACCEPT OK\n"
	"2 1 eni-a 10.0.1.5 8.8.4.4 7002 443 6 5 500 1763990000 1763990010 ACCEPT OK\n"
	"2 1 eni-a 10.0.1.5 8.8.4.4 7003 443 6 5 500 1764000600 1764000610 ACCEPT OK\n"
	"2 1 eni-b 10.0.2.9 1.1.1.1 50000 443 6 3 300 1764000005 1764000030 ACCEPT OK\n"
	"2 1 eni-b 1.1.1.1 10.0.2.9 443 50000 6 3 3000 1764000005 1764000030 ACCEPT OK\n"
	"2 1 eni-b 10.0.2.9 8.8.8.8 50001 53 17 1 60 1764000005 1764000030 ACCEPT OK\n"
	"2 1 eni-c 10.0.3.3 1.1.1.1 1 443 6 3 300 1764000005 1764000030 ACCEPT OK\n"
	"2 1 eni-a this line is bad\n";

static const char FILTERS[] =
	"{\"TrafficMirrorFilters\":[{\"TrafficMirrorFilterId\":\"tmf-1\",\"IngressFilterRules\":["
	"{\"RuleNumber\":1,\"RuleAction\":\"reject\",\"Protocol\":6,\"DestinationPortRange\":{\"FromPort\":5432,\"ToPort\":5432},"
	"\"SourceCidrBlock\":\"0.0.0.0/0\",\"DestinationCidrBlock\":\"0.0.0.0/0\"},"
	"{\"RuleNumber\":2,\"RuleAction\":\"accept\",\"SourceCidrBlock\":\"0.0.0.0/0\",\"DestinationCidrBlock\":\"0.0.0.0/0\"}],"
	"\"EgressFilterRules\":[{\"RuleNumber\":1,\"RuleAction\":\"accept\",\"SourceCidrBlock\":\"0.0.0.0/0\",\"DestinationCidrBlock\":\"0.0.0.0/0\"}],"
	"\"NetworkServices\":[\"amazon-dns\"]}]}";

static const report_audit_flow *find(const report_audit *a, const char *s, uint16_t sp)
{
	size_t i;
	tv_addr x;
	cr_assert_eq(tv_addr_parse(s, &x), 0);
	for (i = 0; i < report_audit_nflows(a); i++) {
		const report_audit_flow *f = report_audit_flow_get(a, i);
		if (memcmp(&f->key.src, &x, sizeof x) == 0 && f->key.sport == sp)
			return f;
	}
	cr_assert_fail("no flow %s:%u", s, sp);
	return NULL;
}

#define EXPECT(a, s, sp, c, r)                                                                         \
	do {                                                                                          \
		const report_audit_flow *f_ = find(a, s, sp);                                         \
		cr_expect_eq(f_->cls, c, "%s:%u class %s, want %s", s, sp, report_audit_class_name(f_->cls), \
		             report_audit_class_name(c));                                             \
		cr_expect_eq(f_->reason, r, "%s:%u reason %s, want %s", s, sp,                        \
		             report_audit_reason_name(f_->reason), report_audit_reason_name(r));     \
	} while (0)

static report_audit *run(bool with_filters)
{
	idx_rstore rs;
	report_audit_cfg cfg;
	report_vnimap *map;
	report_mirrorcfg *mc;
	report_audit *a = NULL;
	char p[512], m[512], err[256];
	const char *paths[1] = { p };
	make_store();
	write_file("fl.log", FLOWLOG);
	write_file("map.txt", "vni=100 eni=eni-a addr=10.0.1.5\n");
	snprintf(p, sizeof p, "%s/fl.log", dir);
	snprintf(m, sizeof m, "%s/map.txt", dir);
	cr_assert_eq(report_vnimap_new(&map), 0);
	cr_assert_eq(report_vnimap_load(map, m, err, sizeof err), 0, "%s", err);
	cr_assert_eq(report_mirrorcfg_new(&mc), 0);
	cr_assert_eq(report_mirrorcfg_load_filters_text(mc, FILTERS, strlen(FILTERS), "f", err, sizeof err), 0);
	report_audit_cfg_default(&cfg);
	cfg.flow_logs = paths;
	cfg.nflow_logs = 1;
	cfg.map = map;
	cfg.mirror = with_filters ? mc : NULL;
	cfg.payload = false;
	cr_assert_eq(idx_rstore_open(dir, &rs), 0);
	cr_assert_eq(report_audit_run(&rs, &cfg, &a, err, sizeof err), 0, "%s", err);
	idx_rstore_close(&rs);
	report_mirrorcfg_free(mc);
	/* the map must outlive the audit only while it runs: the audit keeps
	 * no pointer into it after report_audit_run */
	report_vnimap_free(map);
	return a;
}

static void cleanup(void)
{
	if (test_rmtree(dir) != 0)
		cr_log_warn("cannot remove %s", dir);
}

Test(audit, every_class_and_reason, .fini = cleanup)
{
	report_audit *a = run(true);
	const report_audit_summary *s = report_audit_summary_get(a);
	EXPECT(a, "10.0.1.5", 40000, REPORT_AC_MATCHED, REPORT_AR_NONE);
	EXPECT(a, "10.0.1.5", 40001, REPORT_AC_MATCHED, REPORT_AR_NONE);
	EXPECT(a, "10.0.1.5", 40002, REPORT_AC_MIRROR_FEWER, REPORT_AR_MIRROR_LOSS);
	EXPECT(a, "10.0.1.5", 40003, REPORT_AC_MIRROR_ONLY, REPORT_AR_NOT_LOGGED_AMAZON_DNS);
	EXPECT(a, "10.0.1.5", 40004, REPORT_AC_MIRROR_ONLY, REPORT_AR_NOT_LOGGED_IMDS);
	EXPECT(a, "10.0.1.5", 40005, REPORT_AC_MIRROR_ONLY, REPORT_AR_SKIPDATA);
	EXPECT(a, "10.0.1.5", 40006, REPORT_AC_MIRROR_ONLY, REPORT_AR_OUTSIDE_COVERAGE);
	EXPECT(a, "10.0.1.5", 40007, REPORT_AC_MIRROR_ONLY, REPORT_AR_UNEXPLAINED);
	EXPECT(a, "10.0.1.5", 40008, REPORT_AC_MIRROR_MORE, REPORT_AR_FLOWLOG_LOSS);
	EXPECT(a, "203.0.113.7", 6000, REPORT_AC_FLOWLOG_ONLY, REPORT_AR_REJECT);
	EXPECT(a, "10.0.99.1", 7000, REPORT_AC_FLOWLOG_ONLY, REPORT_AR_FILTER_EXCLUDED);
	EXPECT(a, "10.0.1.5", 7001, REPORT_AC_FLOWLOG_ONLY, REPORT_AR_UNEXPLAINED);
	EXPECT(a, "10.0.1.5", 7002, REPORT_AC_FLOWLOG_ONLY, REPORT_AR_TIME_NOT_COVERED);
	EXPECT(a, "10.0.3.3", 1, REPORT_AC_FLOWLOG_ONLY, REPORT_AR_NOT_MIRRORED_IFACE);
	/* eni-b was bound to VNI 200 by its address: both directions match */
	EXPECT(a, "10.0.2.9", 50000, REPORT_AC_MATCHED, REPORT_AR_NONE);
	EXPECT(a, "1.1.1.1", 443, REPORT_AC_MATCHED, REPORT_AR_NONE);
	cr_expect_eq(find(a, "10.0.2.9", 50000)->vni, 200);
	cr_expect_eq(find(a, "10.0.2.9", 50000)->direction, REPORT_MIRROR_EGRESS);
	cr_expect_eq(find(a, "1.1.1.1", 443)->direction, REPORT_MIRROR_INGRESS);
	/* the bad line is counted and kept with its place */
	cr_expect_eq(s->reader.rejected, 1);
	cr_assert_eq(report_audit_nrejects(a), 1);
	cr_expect_eq(report_audit_reject_get(a, 0)->line, 16);
	cr_expect_eq(s->by_class[REPORT_AC_MATCHED], 5);
	cr_expect_eq(s->flows, 18);
	report_audit_free(a);
}

/* Packets the archive did not store (a full disk, the kernel's drops) are
 * ingest's loss, not the mirror's: any such counter puts mirror_fewer down
 * to ingest_loss, and the summary names the counters. */
Test(audit, ingest_side_loss_counters_blame_ingest, .fini = cleanup)
{
	static const struct {
		int ctr;
		const char *text;
	} cases[] = {
		{ TV_CTR_STORE_NOSPACE_PKTS, "store.no_space.packets 4152" },
		{ TV_CTR_LIVE_KERNEL_DROPS, "live.kernel_drops 4152" },
		{ TV_CTR_SRC_READ_ERRORS, "source.read_errors 4152" },
	};
	size_t i;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		report_audit *a;
		const report_audit_summary *s;
		memset(&g_ingest, 0, sizeof g_ingest);
		g_ingest.v[cases[i].ctr] = 4152;
		g_ingest.v[TV_CTR_STORE_PACKETS] = 100; /* not a loss */
		a = run(true);
		s = report_audit_summary_get(a);
		EXPECT(a, "10.0.1.5", 40002, REPORT_AC_MIRROR_FEWER, REPORT_AR_INGEST_LOSS);
		cr_expect_str_eq(s->ingest_loss, cases[i].text);
		report_audit_free(a);
		cleanup();
	}
	memset(&g_ingest, 0, sizeof g_ingest);
	g_ingest.v[TV_CTR_STORE_NOSPACE_PKTS] = 7;
	g_ingest.v[TV_CTR_LIVE_KERNEL_DROPS] = 9;
	{
		report_audit *a = run(true);
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		report_audit_out_cfg oc;
		cr_expect_str_eq(report_audit_summary_get(a)->ingest_loss,
		                 "store.no_space.packets 7, live.kernel_drops 9");
		memset(&oc, 0, sizeof oc);
		oc.format = REPORT_AF_MD;
		cr_assert_eq(report_audit_write(a, &oc, f), 0);
		fclose(f);
		cr_expect(strstr(buf, "did not store (store.no_space.packets 7, live.kernel_drops 9)") != NULL,
		          "the Markdown report does not name the counters");
		free(buf);
		report_audit_free(a);
	}
	memset(&g_ingest, 0, sizeof g_ingest);
}

Test(audit, without_filters_the_gap_is_unexplained, .fini = cleanup)
{
	report_audit *a = run(false);
	EXPECT(a, "10.0.99.1", 7000, REPORT_AC_FLOWLOG_ONLY, REPORT_AR_UNEXPLAINED);
	report_audit_free(a);
}

Test(audit, writers, .fini = cleanup)
{
	report_audit *a = run(true);
	static const int fmts[] = { REPORT_AF_HTML, REPORT_AF_MD, REPORT_AF_JSON, REPORT_AF_CSV };
	static const char *const want[] = { "<svg", "## mirror_only", "\"tapvault_audit\":1", "class,reason,interface" };
	size_t i;
	for (i = 0; i < 4; i++) {
		report_audit_out_cfg oc;
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		memset(&oc, 0, sizeof oc);
		oc.format = fmts[i];
		oc.store = "/srv/st";
		cr_assert_eq(report_audit_write(a, &oc, f), 0);
		fclose(f);
		cr_expect(strstr(buf, want[i]) != NULL, "format %d lacks %s", fmts[i], want[i]);
		cr_expect(strstr(buf, "vni 100 and tcp and src host 10.0.1.5 and src port 40002 and dst host 93.184.216.35") != NULL,
		          "format %d lacks the query expression", fmts[i]);
		free(buf);
	}
	cr_expect_eq(report_audit_fmt_from_name("r.HTML"), REPORT_AF_HTML);
	cr_expect_eq(report_audit_fmt_from_name("r.txt"), 0);
	cr_expect_eq(report_audit_class_find("mirror_only"), REPORT_AC_MIRROR_ONLY);
	cr_expect_eq(report_audit_class_find("x"), -1);
	report_audit_free(a);
}

/* --------------------------------------------------------- --fail-on */

static int fail_on(const report_audit_summary *s, const char *list, char *hits)
{
	char bad[64];
	return report_audit_fail_on(s, list, hits, 256, bad, sizeof bad);
}

Test(fail_on, every_item_hits_only_what_it_names)
{
	report_audit_summary s;
	char hits[256];
	int c;

	/* nothing but matched flows: no item is present but "matched" */
	memset(&s, 0, sizeof s);
	s.by_class[REPORT_AC_MATCHED] = 5;
	cr_assert_eq(fail_on(&s, "any,counts_differ,gap,credentials,protocol_mismatch,mirror_fewer,"
	                         "mirror_more,flowlog_only,mirror_only,flowlog_only:reject",
	                     hits), 0);
	cr_assert_str_empty(hits);
	cr_assert_eq(fail_on(&s, "matched", hits), 1);
	cr_assert_str_eq(hits, "matched");

	/* each class other than matched: itself and any, and counts_differ for the two that say so */
	for (c = 1; c < REPORT_AC__COUNT; c++) {
		char want[128];
		bool differ = c == REPORT_AC_MIRROR_FEWER || c == REPORT_AC_MIRROR_MORE;
		memset(&s, 0, sizeof s);
		s.by_class[c] = 1;
		cr_assert_eq(fail_on(&s, "matched any counts_differ mirror_fewer mirror_more flowlog_only mirror_only gap",
		                     hits), differ ? 3 : 2, "class %s", report_audit_class_name(c));
		snprintf(want, sizeof want, "any,%s%s", differ ? "counts_differ," : "", report_audit_class_name(c));
		cr_assert_str_eq(hits, want);
	}

	/* gap: unexplained or flowlog_loss in any class */
	memset(&s, 0, sizeof s);
	s.by_class[REPORT_AC_MIRROR_MORE] = 1;
	s.by_reason[REPORT_AC_MIRROR_MORE][REPORT_AR_FLOWLOG_LOSS] = 1;
	cr_assert_eq(fail_on(&s, "gap", hits), 1);
	memset(&s, 0, sizeof s);
	s.by_class[REPORT_AC_FLOWLOG_ONLY] = 1;
	s.by_reason[REPORT_AC_FLOWLOG_ONLY][REPORT_AR_UNEXPLAINED] = 1;
	cr_assert_eq(fail_on(&s, "gap", hits), 1);
	s.by_reason[REPORT_AC_FLOWLOG_ONLY][REPORT_AR_UNEXPLAINED] = 0;
	s.by_reason[REPORT_AC_FLOWLOG_ONLY][REPORT_AR_REJECT] = 1;
	cr_assert_eq(fail_on(&s, "gap", hits), 0);

	/* CLASS:REASON names one cell only */
	cr_assert_eq(fail_on(&s, "flowlog_only:reject", hits), 1);
	cr_assert_eq(fail_on(&s, "flowlog_only:unexplained", hits), 0);
	cr_assert_eq(fail_on(&s, "mirror_only:reject", hits), 0);

	/* payload findings */
	memset(&s, 0, sizeof s);
	s.credentials = 2;
	cr_assert_eq(fail_on(&s, "protocol_mismatch, credentials", hits), 1);
	cr_assert_str_eq(hits, "credentials");
	s.credentials = 0;
	s.mismatches = 1;
	cr_assert_eq(fail_on(&s, "credentials,,protocol_mismatch,", hits), 1);
	cr_assert_str_eq(hits, "protocol_mismatch");
}

Test(fail_on, unknown_items_are_named)
{
	static const char *const badlists[] = {
		"nonsense", "matched,nonsense", "flowlog_only:", ":reject", "flowlog_only:none",
		"nonsense:reject", "flowlog_only:reject:x", "ANY", "gap2", "mirror_only:rejected",
	};
	static const char *const badname[] = {
		"nonsense", "nonsense", "flowlog_only:", ":reject", "flowlog_only:none",
		"nonsense:reject", "flowlog_only:reject:x", "ANY", "gap2", "mirror_only:rejected",
	};
	report_audit_summary s;
	char bad[64];
	size_t i;

	memset(&s, 0, sizeof s);
	s.by_class[REPORT_AC_MATCHED] = 1;
	for (i = 0; i < sizeof badlists / sizeof badlists[0]; i++) {
		bad[0] = '\0';
		cr_assert_eq(report_audit_fail_on(NULL, badlists[i], NULL, 0, bad, sizeof bad), TV_E_SYNTAX,
		             "%s", badlists[i]);
		cr_assert_str_eq(bad, badname[i]);
		cr_assert_eq(report_audit_fail_on(&s, badlists[i], NULL, 0, bad, sizeof bad), TV_E_SYNTAX);
	}
	/* the check alone accepts every good item and finds nothing */
	cr_assert_eq(report_audit_fail_on(NULL, "any counts_differ gap credentials protocol_mismatch matched "
	                                        "mirror_only:nodata flowlog_only:interface_not_mirrored",
	                                  NULL, 0, bad, sizeof bad), 0);
	/* a hits buffer too small is cut, never overrun */
	{
		char small[8];
		memset(&s, 0, sizeof s);
		s.by_class[REPORT_AC_FLOWLOG_ONLY] = 1;
		cr_assert_eq(report_audit_fail_on(&s, "flowlog_only,any", small, sizeof small, bad, sizeof bad), 2);
		cr_assert_eq(strlen(small), sizeof small - 1);
	}
}
