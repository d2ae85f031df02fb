/*
 * test_mirrorcfg.c — mirror filters and sessions (report/mirrorcfg.c): the
 * AWS CLI JSON shapes, errors with their JSON path, and the evaluation AWS
 * documents: per direction, ascending rule number, first match wins, no match
 * means not mirrored, amazon-dns, several sessions per ENI.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../report/vpc.h"

static const char FILTERS[] =
	"{\"TrafficMirrorFilters\":[{\"TrafficMirrorFilterId\":\"tmf-1\","
	"\"IngressFilterRules\":["
	" {\"RuleNumber\":200,\"RuleAction\":\"accept\",\"SourceCidrBlock\":\"0.0.0.0/0\",\"DestinationCidrBlock\":\"0.0.0.0/0\"},"
	" {\"RuleNumber\":100,\"RuleAction\":\"reject\",\"Protocol\":6,\"SourceCidrBlock\":\"0.0.0.0/0\","
	"  \"DestinationCidrBlock\":\"10.0.0.0/16\",\"DestinationPortRange\":{\"FromPort\":5432,\"ToPort\":5432}}],"
	"\"EgressFilterRules\":["
	" {\"RuleNumber\":10,\"RuleAction\":\"accept\",\"Protocol\":17,\"SourceCidrBlock\":\"10.0.1.0/24\",\"DestinationCidrBlock\":\"0.0.0.0/0\"}],"
	"\"NetworkServices\":[\"amazon-dns\"]},"
	"{\"TrafficMirrorFilterId\":\"tmf-2\",\"IngressFilterRules\":[],\"EgressFilterRules\":["
	" {\"RuleNumber\":1,\"RuleAction\":\"accept\",\"SourceCidrBlock\":\"::/0\",\"DestinationCidrBlock\":\"::/0\"}],"
	"\"NetworkServices\":[]}]}";

static const char SESSIONS[] =
	"{\"TrafficMirrorSessions\":["
	"{\"TrafficMirrorSessionId\":\"tms-b\",\"NetworkInterfaceId\":\"eni-a\",\"TrafficMirrorFilterId\":\"tmf-2\","
	" \"SessionNumber\":2,\"VirtualNetworkId\":7},"
	"{\"TrafficMirrorSessionId\":\"tms-a\",\"NetworkInterfaceId\":\"eni-a\",\"TrafficMirrorFilterId\":\"tmf-1\","
	" \"SessionNumber\":1,\"VirtualNetworkId\":42,\"PacketLength\":20}]}";

static tv_5tuple key(const char *s, const char *d, uint16_t sp, uint16_t dp, uint8_t proto)
{
	tv_5tuple k;
	memset(&k, 0, sizeof k);
	cr_assert_eq(tv_addr_parse(s, &k.src), 0);
	cr_assert_eq(tv_addr_parse(d, &k.dst), 0);
	k.sport = sp;
	k.dport = dp;
	k.proto = proto;
	return k;
}

static report_mirrorcfg *loaded(void)
{
	report_mirrorcfg *m;
	char err[256];
	cr_assert_eq(report_mirrorcfg_new(&m), 0);
	cr_assert_eq(report_mirrorcfg_load_filters_text(m, FILTERS, strlen(FILTERS), "f.json", err, sizeof err), 0, "%s", err);
	cr_assert_eq(report_mirrorcfg_load_sessions_text(m, SESSIONS, strlen(SESSIONS), "s.json", err, sizeof err), 0, "%s", err);
	return m;
}

Test(mirrorcfg, rules_sorted_first_match)
{
	report_mirrorcfg *m = loaded();
	const report_mirror_filter *f = report_mirrorcfg_filter_find(m, "tmf-1");
	report_mirror_decision d;
	tv_5tuple k;
	cr_assert_not_null(f);
	cr_assert_eq(f->ningress, 2);
	cr_assert_eq(f->ingress[0].number, 100);
	cr_assert(f->amazon_dns);
	/* rule 100 (reject, TCP 5432) before rule 200 (accept all) */
	k = key("203.0.113.9", "10.0.1.5", 40000, 5432, 6);
	report_mirrorcfg_eval(m, "eni-a", REPORT_MIRROR_INGRESS, &k, false, &d);
	cr_assert_eq(d.verdict, REPORT_MIRROR_REJECTED);
	cr_assert_eq(d.rule_number, 100);
	cr_assert_str_eq(d.session_id, "tms-a");
	/* UDP to 5432 is not matched by the TCP rule */
	k.proto = 17;
	report_mirrorcfg_eval(m, "eni-a", REPORT_MIRROR_INGRESS, &k, false, &d);
	cr_assert_eq(d.verdict, REPORT_MIRROR_ACCEPTED);
	cr_assert_eq(d.rule_number, 200);
	cr_assert_eq(d.vni, 42);
	report_mirrorcfg_free(m);
}

Test(mirrorcfg, no_rule_amazon_dns_sessions)
{
	report_mirrorcfg *m = loaded();
	report_mirror_decision d;
	tv_5tuple k = key("10.0.2.5", "8.8.8.8", 40000, 443, 6);
	/* egress: only a UDP rule for 10.0.1.0/24; session 2's filter has only IPv6 */
	report_mirrorcfg_eval(m, "eni-a", REPORT_MIRROR_EGRESS, &k, false, &d);
	cr_assert_eq(d.verdict, REPORT_MIRROR_NO_RULE);
	cr_assert_str_eq(d.session_id, "tms-a");
	/* amazon-dns mirrors DNS to the resolver whatever the rules say */
	k = key("10.0.2.5", "10.0.0.2", 40000, 53, 17);
	report_mirrorcfg_eval(m, "eni-a", REPORT_MIRROR_EGRESS, &k, true, &d);
	cr_assert_eq(d.verdict, REPORT_MIRROR_ACCEPTED);
	cr_assert(d.by_amazon_dns);
	/* IPv6 egress: session 1 has no match, session 2 accepts */
	k = key("2600:1f18::5", "2001:db8::1", 40000, 443, 6);
	report_mirrorcfg_eval(m, "eni-a", REPORT_MIRROR_EGRESS, &k, false, &d);
	cr_assert_eq(d.verdict, REPORT_MIRROR_ACCEPTED);
	cr_assert_str_eq(d.session_id, "tms-b");
	cr_assert_eq(d.vni, 7);
	/* an ENI without a session */
	report_mirrorcfg_eval(m, "eni-zzz", REPORT_MIRROR_EGRESS, &k, false, &d);
	cr_assert_eq(d.verdict, REPORT_MIRROR_NO_SESSION);
	cr_assert_str_eq(report_mirror_verdict_name(d.verdict), "no_session");
	report_mirrorcfg_free(m);
}

Test(mirrorcfg, errors_name_the_path)
{
	static const struct { const char *json, *want; } bad[] = {
		{ "{", "not valid JSON" },
		{ "{\"Foo\":[]}", "expected an object with \"TrafficMirrorFilters\"" },
		{ "{\"TrafficMirrorFilters\":[{}]}", "TrafficMirrorFilters[0]: missing \"TrafficMirrorFilterId\"" },
		{ "{\"TrafficMirrorFilters\":[{\"TrafficMirrorFilterId\":\"t\",\"IngressFilterRules\":[{\"RuleNumber\":1,\"RuleAction\":\"maybe\"}]}]}",
		  "TrafficMirrorFilters[0].IngressFilterRules[0].RuleAction: expected \"accept\" or \"reject\"" },
		{ "{\"TrafficMirrorFilters\":[{\"TrafficMirrorFilterId\":\"t\",\"IngressFilterRules\":[{\"RuleNumber\":1,\"RuleAction\":\"accept\",\"SourceCidrBlock\":\"10.0.0.0/33\"}]}]}",
		  "SourceCidrBlock: expected a CIDR block" },
		{ "{\"TrafficMirrorFilters\":[{\"TrafficMirrorFilterId\":\"t\",\"EgressFilterRules\":[{\"RuleNumber\":1,\"RuleAction\":\"accept\"},{\"RuleNumber\":1,\"RuleAction\":\"reject\"}]}]}",
		  "rule number 1 appears twice" },
		{ "{\"TrafficMirrorFilters\":[{\"TrafficMirrorFilterId\":\"t\",\"IngressFilterRules\":[{\"RuleNumber\":1,\"RuleAction\":\"accept\",\"DestinationPortRange\":{\"FromPort\":9,\"ToPort\":8}}]}]}",
		  "FromPort 9 is above ToPort 8" },
	};
	size_t i;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		report_mirrorcfg *m;
		char err[256] = "";
		cr_assert_eq(report_mirrorcfg_new(&m), 0);
		cr_assert_eq(report_mirrorcfg_load_filters_text(m, bad[i].json, strlen(bad[i].json), "f.json", err, sizeof err),
		             TV_E_FORMAT, "case %zu", i);
		cr_assert(strstr(err, bad[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, err, bad[i].want);
		cr_assert(strncmp(err, "f.json", 6) == 0, "%s", err);
		cr_assert_eq(report_mirrorcfg_nfilters(m), 0);
		report_mirrorcfg_free(m);
	}
}

Test(mirrorcfg, single_filter_without_sessions)
{
	report_mirrorcfg *m;
	report_mirror_decision d;
	char err[256];
	const char *one = "{\"TrafficMirrorFilters\":[{\"TrafficMirrorFilterId\":\"tmf-x\",\"IngressFilterRules\":[],\"EgressFilterRules\":[]}]}";
	tv_5tuple k = key("1.2.3.4", "10.0.0.5", 1, 2, 6);
	cr_assert_eq(report_mirrorcfg_new(&m), 0);
	cr_assert_eq(report_mirrorcfg_load_filters_text(m, one, strlen(one), "f", err, sizeof err), 0);
	report_mirrorcfg_eval(m, "eni-any", REPORT_MIRROR_INGRESS, &k, false, &d);
	cr_assert_eq(d.verdict, REPORT_MIRROR_NO_RULE); /* no rules: nothing mirrored */
	report_mirrorcfg_free(m);
}

Test(mirrorcfg, shared_samples_load)
{
	const char *e = getenv("TAPVAULT_TESTDATA");
	char f[1024], s[1024], err[256];
	report_mirrorcfg *m;
	FILE *fp;
	snprintf(f, sizeof f, "%s/flowlogs/aws-cli-example-describe-traffic-mirror-filters.json", e ? e : "../shared/testdata");
	snprintf(s, sizeof s, "%s/flowlogs/aws-cli-example-describe-traffic-mirror-sessions.json", e ? e : "../shared/testdata");
	fp = fopen(f, "r");
	if (!fp)
		cr_skip_test("%s is absent", f);
	fclose(fp);
	cr_assert_eq(report_mirrorcfg_new(&m), 0);
	cr_assert_eq(report_mirrorcfg_load_filters(m, f, err, sizeof err), 0, "%s", err);
	cr_assert_eq(report_mirrorcfg_load_sessions(m, s, err, sizeof err), 0, "%s", err);
	cr_assert_eq(report_mirrorcfg_nfilters(m), 1);
	cr_assert_eq(report_mirrorcfg_filter(m, 0)->ningress, 1);
	cr_assert_eq(report_mirrorcfg_filter(m, 0)->ingress[0].protocol, 6);
	cr_assert_eq(report_mirrorcfg_nsessions(m), 2);
	cr_assert_eq(report_mirrorcfg_session(m, 0)->vni, 42);
	cr_assert_eq(report_mirrorcfg_session(m, 0)->packet_length, 20);
	cr_assert_eq(report_mirrorcfg_session(m, 1)->packet_length, 0);
	report_mirrorcfg_free(m);
}

Test(mirrorcfg, duplicate_keys_and_counts_refused)
{
	report_mirrorcfg *m;
	char err[512];
	static const char dup[] = "{\"TrafficMirrorFilters\":[{\"TrafficMirrorFilterId\":\"tmf-1\","
	                          "\"TrafficMirrorFilterId\":\"tmf-2\"}]}";
	static const char dups[] = "{\"TrafficMirrorSessions\":[{\"NetworkInterfaceId\":\"eni-1\","
	                           "\"VirtualNetworkId\":1,\"VirtualNetworkId\":2}]}";
	char *t = malloc(48 * (REPORT_MIRROR_MAX_FILTERS + 1) + 64);
	size_t o, i;
	cr_assert_eq(report_mirrorcfg_new(&m), 0);
	cr_assert_neq(report_mirrorcfg_load_filters_text(m, dup, strlen(dup), "f.json", err, sizeof err), 0);
	cr_assert(strstr(err, "f.json:1:") == err && strstr(err, "duplicate object key"), "%s", err);
	cr_assert_neq(report_mirrorcfg_load_sessions_text(m, dups, strlen(dups), "s.json", err, sizeof err), 0);
	cr_assert(strstr(err, "duplicate object key"), "%s", err);
	cr_assert_eq(report_mirrorcfg_nfilters(m), 0);
	cr_assert_eq(report_mirrorcfg_nsessions(m), 0);
	/* more filters than AWS allows: refused, nothing kept */
	cr_assert_not_null(t);
	o = (size_t)sprintf(t, "{\"TrafficMirrorFilters\":[");
	for (i = 0; i <= REPORT_MIRROR_MAX_FILTERS; i++)
		o += (size_t)sprintf(t + o, "%s{\"TrafficMirrorFilterId\":\"f%zu\"}", i ? "," : "", i);
	o += (size_t)sprintf(t + o, "]}");
	cr_assert_neq(report_mirrorcfg_load_filters_text(m, t, o, "many.json", err, sizeof err), 0);
	cr_assert(strstr(err, "many.json: TrafficMirrorFilters[10000]: more than 10000 filters"), "%s", err);
	cr_assert_eq(report_mirrorcfg_nfilters(m), 0);
	free(t);
	report_mirrorcfg_free(m);
}
