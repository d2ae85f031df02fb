/*
 * test_vnimap.c — the VNI map (report/vnimap.c) and the flow-record writer
 * (report/flowout.c): the text format and its errors with line numbers and
 * the offending word, the describe-traffic-mirror-sessions and
 * describe-network-interfaces JSON (the aws-cli example from
 * ../shared/testdata/flowlogs when present), merging of several files,
 * learning, and the mapping of a stored record onto flow-log fields
 * (primary address, direction, '-'), JSON output, merge/sort, S3 writer.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rmtmp.h"
#include "../../index/idx.h"
#include "../../report/vpc.h"

static report_vnimap *map_of(const char *text)
{
	report_vnimap *m;
	char err[512];
	int rc;
	cr_assert_eq(report_vnimap_new(&m), 0);
	rc = report_vnimap_load_mem(m, "map", text, strlen(text), err, sizeof err);
	cr_assert_eq(rc, 0, "load: %s", err);
	return m;
}

/* Loads text that must fail; returns the message. */
static const char *load_err(const char *text)
{
	static char err[512];
	report_vnimap *m;
	int rc;
	cr_assert_eq(report_vnimap_new(&m), 0);
	rc = report_vnimap_load_mem(m, "m.txt", text, strlen(text), err, sizeof err);
	cr_assert_eq(rc, TV_E_SYNTAX, "'%s' loaded (rc %d)", text, rc);
	cr_assert_eq(report_vnimap_count(m), 0, "a failed load must add nothing");
	report_vnimap_free(m);
	return err;
}

static tv_addr A(const char *s)
{
	tv_addr a;
	cr_assert_eq(tv_addr_parse(s, &a), 0, "%s", s);
	return a;
}

Test(vnimap, text_full_line)
{
	report_vnimap *m = map_of(
		"# a comment line\n"
		"\n"
		"vni=42 eni=eni-0abc account=111122223333 vpc=vpc-1 subnet=subnet-1 instance=i-1 "
		"region=us-east-1 az=use1-az1 addr=2600:1f18::5,10.0.1.5,10.0.1.6   # trailing comment\r\n"
		"  vni=7\tinterface-id=eni-7 account-id=unknown az-id=use1-az2 packet-length=128\n"
		"vni=none eni=eni-span\n");
	const report_iface *f = report_vnimap_find(m, 42);
	tv_addr a = A("10.0.1.5");
	cr_assert_not_null(f);
	cr_assert_str_eq(f->eni, "eni-0abc");
	cr_assert_str_eq(f->name, "eni-0abc");
	cr_assert_str_eq(f->account, "111122223333");
	cr_assert_str_eq(f->vpc, "vpc-1");
	cr_assert_str_eq(f->subnet, "subnet-1");
	cr_assert_str_eq(f->instance, "i-1");
	cr_assert_str_eq(f->region, "us-east-1");
	cr_assert_str_eq(f->az, "use1-az1");
	cr_assert_eq(f->naddrs, 3);
	/* the first IPv4 is the primary, moved to the front */
	cr_assert_eq(memcmp(&f->addrs[0], &a, 16), 0);
	cr_assert(!f->learned);
	f = report_vnimap_find(m, 7);
	cr_assert_str_eq(f->eni, "eni-7");
	cr_assert_str_eq(f->account, "unknown");
	cr_assert_str_eq(f->az, "use1-az2");
	cr_assert_eq(f->packet_length, 128);
	f = report_vnimap_find(m, TV_VNI_NONE);
	cr_assert_str_eq(f->name, "eni-span");
	cr_assert_eq(report_vnimap_count(m), 3);
	cr_assert_null(report_vnimap_find(m, 8));
	report_vnimap_free(m);
}

Test(vnimap, text_errors_name_line_and_word)
{
	cr_assert_str_eq(load_err("vni=1\nvni=2 eni\n"), "m.txt:2: expected key=value, found 'eni'");
	cr_assert_str_eq(load_err("\n\nvni=3 colour=red\n"),
	                 "m.txt:3: unknown key 'colour' (expected vni, eni, account, vpc, subnet, "
	                 "instance, region, az, addr, session, filter or packet-length)");
	cr_assert_str_eq(load_err("vni=16777216\n"),
	                 "m.txt:1: vni: expected a number from 0 to 16777215 or 'none', found '16777216'");
	cr_assert_str_eq(load_err("vni=-1\n"),
	                 "m.txt:1: vni: expected a number from 0 to 16777215 or 'none', found '-1'");
	cr_assert_str_eq(load_err("vni=1 addr=10.0.0.1,10.0.0.300\n"),
	                 "m.txt:1: addr: expected IPv4 or IPv6 addresses separated by commas, found '10.0.0.300'");
	cr_assert_str_eq(load_err("vni=1 addr=10.0.0.1,,10.0.0.2\n"),
	                 "m.txt:1: addr: expected IPv4 or IPv6 addresses separated by commas, found ''");
	cr_assert_str_eq(load_err("vni=1\n# x\nvni=1\n"), "m.txt:3: vni 1 is already defined on line 1");
	cr_assert_str_eq(load_err("eni=eni-1 account=1\n"), "m.txt:1: the line has no vni=");
	cr_assert_str_eq(load_err("vni=1 eni=a eni=b\n"), "m.txt:1: 'eni' given twice on the line");
	cr_assert_str_eq(load_err("vni=1 eni=eni-\"x\"\n"),
	                 "m.txt:1: eni: expected letters, digits and . _ : / @ + = - only, found 'eni=eni-\"x\"'");
	cr_assert_str_eq(load_err("vni=1 account=1234567890123456\n"),
	                 "m.txt:1: account: value too long, found 'account=1234567890123456'");
	cr_assert_str_eq(load_err("vni=1 vpc=\n"), "m.txt:1: vpc: empty value, found 'vpc='");
	cr_assert_str_eq(load_err("vni=1 packet-length=70000\n"),
	                 "m.txt:1: packet-length: expected a number from 0 to 65535, found '70000'");
	/* '#' inside a word is not a comment */
	cr_assert_str_eq(load_err("vni=1 eni=a#b\n"),
	                 "m.txt:1: eni: expected letters, digits and . _ : / @ + = - only, found 'eni=a#b'");
}

Test(vnimap, text_error_leaves_map_unchanged)
{
	report_vnimap *m = map_of("vni=5 eni=eni-5\n");
	char err[256];
	const char *bad = "vni=5 eni=eni-other\nvni=6 nonsense\n";
	cr_assert_eq(report_vnimap_load_mem(m, "b", bad, strlen(bad), err, sizeof err), TV_E_SYNTAX);
	cr_assert_str_eq(err, "b:2: expected key=value, found 'nonsense'");
	cr_assert_str_eq(report_vnimap_find(m, 5)->eni, "eni-5");
	cr_assert_null(report_vnimap_find(m, 6));
	report_vnimap_free(m);
}

static const char *const SESSIONS_JSON =
	"{ \"TrafficMirrorSessions\": [\n"
	"  { \"TrafficMirrorSessionId\": \"tms-1\", \"TrafficMirrorTargetId\": \"tmt-1\",\n"
	"    \"TrafficMirrorFilterId\": \"tmf-1\", \"NetworkInterfaceId\": \"eni-aaa\",\n"
	"    \"OwnerId\": \"111122223333\", \"PacketLength\": 20, \"SessionNumber\": 1,\n"
	"    \"VirtualNetworkId\": 42, \"Description\": \"x\", \"Tags\": [] },\n"
	"  { \"TrafficMirrorSessionId\": \"tms-2\", \"TrafficMirrorFilterId\": \"tmf-2\",\n"
	"    \"NetworkInterfaceId\": \"eni-bbb\", \"OwnerId\": \"111122223333\",\n"
	"    \"VirtualNetworkId\": 13314501, \"SessionNumber\": 2 } ] }\n";

static const char *const NIS_JSON =
	"{\"NetworkInterfaces\": [ {\n"
	"  \"NetworkInterfaceId\": \"eni-aaa\", \"OwnerId\": \"111122223333\",\n"
	"  \"VpcId\": \"vpc-0a\", \"SubnetId\": \"subnet-0a\", \"AvailabilityZone\": \"us-west-2b\",\n"
	"  \"AvailabilityZoneId\": \"usw2-az2\",\n"
	"  \"Attachment\": { \"InstanceId\": \"i-0aaa\", \"DeviceIndex\": 0 },\n"
	"  \"PrivateIpAddress\": \"10.0.1.5\",\n"
	"  \"PrivateIpAddresses\": [ { \"PrivateIpAddress\": \"10.0.1.9\", \"Primary\": false },\n"
	"                           { \"PrivateIpAddress\": \"10.0.1.5\", \"Primary\": true } ],\n"
	"  \"Ipv6Addresses\": [ { \"Ipv6Address\": \"2600:1f14::5\" } ] },\n"
	" { \"NetworkInterfaceId\": \"eni-bbb\", \"AvailabilityZone\": \"us-gov-west-1a\",\n"
	"   \"PrivateIpAddresses\": [ { \"PrivateIpAddress\": \"10.0.2.7\", \"Primary\": true } ] } ] }\n";

static void check_joined(report_vnimap *m)
{
	const report_iface *f = report_vnimap_find(m, 42);
	tv_addr p = A("10.0.1.5"), s = A("10.0.1.9"), v6 = A("2600:1f14::5");
	cr_assert_not_null(f);
	cr_assert_str_eq(f->eni, "eni-aaa");
	cr_assert_str_eq(f->account, "111122223333");
	cr_assert_str_eq(f->session, "tms-1");
	cr_assert_str_eq(f->filter, "tmf-1");
	cr_assert_eq(f->packet_length, 20);
	cr_assert_str_eq(f->vpc, "vpc-0a");
	cr_assert_str_eq(f->subnet, "subnet-0a");
	cr_assert_str_eq(f->instance, "i-0aaa");
	cr_assert_str_eq(f->az, "usw2-az2");
	cr_assert_str_eq(f->region, "us-west-2");
	cr_assert_eq(f->naddrs, 3);
	cr_assert_eq(memcmp(&f->addrs[0], &p, 16), 0);
	cr_assert_eq(memcmp(&f->addrs[1], &s, 16), 0);
	cr_assert_eq(memcmp(&f->addrs[2], &v6, 16), 0);
	f = report_vnimap_find(m, 13314501);
	cr_assert_str_eq(f->eni, "eni-bbb");
	cr_assert_eq(f->packet_length, 0);
	cr_assert_str_eq(f->region, "us-gov-west-1");
	cr_assert_str_eq(f->az, "");
	cr_assert_eq(f->naddrs, 1);
}

Test(vnimap, json_sessions_then_interfaces)
{
	report_vnimap *m = map_of(SESSIONS_JSON);
	char err[256];
	cr_assert_eq(report_vnimap_load_mem(m, "nis", NIS_JSON, strlen(NIS_JSON), err, sizeof err), 0, "%s", err);
	check_joined(m);
	report_vnimap_free(m);
}

Test(vnimap, json_interfaces_then_sessions)
{
	report_vnimap *m = map_of(NIS_JSON);
	char err[256];
	cr_assert_eq(report_vnimap_count(m), 0);
	cr_assert_eq(report_vnimap_load_mem(m, "s", SESSIONS_JSON, strlen(SESSIONS_JSON), err, sizeof err), 0,
	             "%s", err);
	check_joined(m);
	report_vnimap_free(m);
}

Test(vnimap, later_file_overrides_and_text_addrs_win)
{
	report_vnimap *m = map_of(SESSIONS_JSON);
	char err[256];
	const char *t = "vni=42 account=999988887777 addr=10.9.9.9\n";
	const report_iface *f;
	tv_addr a = A("10.9.9.9");
	cr_assert_eq(report_vnimap_load_mem(m, "t", t, strlen(t), err, sizeof err), 0, "%s", err);
	cr_assert_eq(report_vnimap_load_mem(m, "n", NIS_JSON, strlen(NIS_JSON), err, sizeof err), 0, "%s", err);
	f = report_vnimap_find(m, 42);
	cr_assert_str_eq(f->eni, "eni-aaa");           /* kept from the sessions */
	cr_assert_str_eq(f->account, "999988887777");  /* the text replaced it */
	cr_assert_str_eq(f->vpc, "vpc-0a");            /* filled by the interfaces */
	cr_assert_eq(f->naddrs, 1);                    /* the map's own addresses stay */
	cr_assert_eq(memcmp(&f->addrs[0], &a, 16), 0);
	report_vnimap_free(m);
}

Test(vnimap, json_errors)
{
	cr_assert_str_eq(load_err("{\"TrafficMirrorSessions\": [ {\"VirtualNetworkId\": \"42\"} ]}"),
	                 "m.txt: TrafficMirrorSessions[0].VirtualNetworkId: expected an integer from 0 to 16777215");
	cr_assert_str_eq(load_err("{\"TrafficMirrorSessions\": [ {\"VirtualNetworkId\": 1},"
	                          " {\"VirtualNetworkId\": 1} ]}"),
	                 "m.txt: TrafficMirrorSessions[1].VirtualNetworkId: VNI 1 is also TrafficMirrorSessions[0]");
	cr_assert_str_eq(load_err("{\"TrafficMirrorSessions\": [ {\"VirtualNetworkId\": 1, \"OwnerId\": 5} ]}"),
	                 "m.txt: TrafficMirrorSessions[0].OwnerId: expected a string");
	cr_assert_str_eq(load_err("{\"TrafficMirrorSessions\": {}}"),
	                 "m.txt: TrafficMirrorSessions: expected an array");
	cr_assert_str_eq(load_err("{\"Reservations\": []}"),
	                 "m.txt: expected a JSON object with TrafficMirrorSessions "
	                 "(describe-traffic-mirror-sessions) or NetworkInterfaces (describe-network-interfaces)");
	cr_assert_str_eq(load_err("{\"NetworkInterfaces\": [ {\"NetworkInterfaceId\": \"eni-1\",\n"
	                          "\"Ipv6Addresses\": [ {\"Ipv6Address\": \"zz::1\"} ] } ]}"),
	                 "m.txt: NetworkInterfaces[0].Ipv6Addresses[0].Ipv6Address: expected an IPv4 or IPv6 "
	                 "address as a string");
	cr_assert_str_eq(load_err("{\"NetworkInterfaces\": [ {\"VpcId\": \"vpc-1\"} ]}"),
	                 "m.txt: NetworkInterfaces[0].NetworkInterfaceId: missing");
	/* jansson's own message, with line and column */
	cr_assert(strncmp(load_err("{\n\"TrafficMirrorSessions\": [,]}"), "m.txt:2:", 8) == 0);
}

Test(vnimap, aws_cli_example_sessions)
{
	const char *e = getenv("TAPVAULT_TESTDATA");
	char p[4096];
	report_vnimap *m;
	const report_iface *f;
	char err[512];
	snprintf(p, sizeof p, "%s/flowlogs/aws-cli-example-describe-traffic-mirror-sessions.json",
	         e ? e : "../shared/testdata");
	if (access(p, R_OK) != 0) {
		cr_skip_test("shared testdata absent: %s", p);
		return;
	}
	cr_assert_eq(report_vnimap_new(&m), 0);
	cr_assert_eq(report_vnimap_load(m, p, err, sizeof err), 0, "%s", err);
	cr_assert_eq(report_vnimap_count(m), 2);
	f = report_vnimap_find(m, 42);
	cr_assert_str_eq(f->eni, "eni-0a471a5cf3EXAMPLE");
	cr_assert_str_eq(f->account, "111122223333");
	cr_assert_str_eq(f->session, "tms-0567a4c684EXAMPLE");
	cr_assert_str_eq(f->filter, "tmf-083e18f985EXAMPLE");
	cr_assert_eq(f->packet_length, 20);
	f = report_vnimap_find(m, 13314501);
	cr_assert_str_eq(f->session, "tms-0060101cf8EXAMPLE");
	cr_assert_eq(f->packet_length, 0);
	report_vnimap_free(m);
}

Test(vnimap, load_missing_file)
{
	report_vnimap *m;
	char err[256];
	cr_assert_eq(report_vnimap_new(&m), 0);
	cr_assert_gt(report_vnimap_load(m, "/nonexistent/map.txt", err, sizeof err), 0);
	cr_assert_str_eq(err, "/nonexistent/map.txt: No such file or directory");
	report_vnimap_free(m);
}

Test(vnimap, learning_most_common_address_per_family)
{
	report_vnimap *m = map_of("vni=1 eni=eni-1 addr=10.0.1.1\n");
	tv_addr me = A("10.0.5.5"), peers[3] = { A("1.1.1.1"), A("8.8.8.8"), A("9.9.9.9") };
	tv_addr me6 = A("2600::5"), peer6 = A("2001:db8::1");
	tv_addr outer = A("10.0.5.5");
	const report_iface *f;
	int i;
	for (i = 0; i < 3; i++) {
		report_vnimap_learn_outer(m, 9, &outer);
		report_vnimap_learn(m, 9, &me, &peers[i]);
		report_vnimap_learn(m, 9, &peers[i], &me);
	}
	/* a tie for IPv6 (one flow each way): no outer address of that family,
	 * so the lower address wins */
	report_vnimap_learn(m, 9, &me6, &peer6);
	/* a VNI with a map address learns nothing */
	report_vnimap_learn(m, 1, &peers[0], &peers[1]);
	/* one flow: both addresses tie; the mirror source decides */
	report_vnimap_learn_outer(m, 10, &peers[2]);
	report_vnimap_learn(m, 10, &peers[1], &peers[2]);
	cr_assert_eq(report_vnimap_learn_error(m), 0);
	report_vnimap_learn_finish(m);
	f = report_vnimap_find(m, 9);
	cr_assert(f->learned);
	cr_assert_str_eq(f->name, "vni-9");
	cr_assert_str_eq(f->eni, "");
	cr_assert_eq(f->naddrs, 2);
	cr_assert_eq(memcmp(&f->addrs[0], &me, 16), 0);
	cr_assert_eq(memcmp(&f->addrs[1], &peer6, 16), 0);
	cr_assert(report_iface_has_addr(f, &me));
	cr_assert(!report_iface_has_addr(f, &peers[0]));
	f = report_vnimap_find(m, 1);
	cr_assert_eq(f->naddrs, 1);
	f = report_vnimap_find(m, 10);
	cr_assert_eq(f->naddrs, 1);
	cr_assert_eq(memcmp(&f->addrs[0], &peers[2], 16), 0);
	f = report_vnimap_get(m, TV_VNI_NONE);
	cr_assert_str_eq(f->name, "vni-none");
	report_vnimap_free(m);
}

/* ------------------------------------------------------------ flowout */

static tv_flowrec rec_of(const char *src, const char *dst, uint16_t sp, uint16_t dp, uint8_t proto)
{
	tv_flowrec r;
	memset(&r, 0, sizeof r);
	r.key.src = A(src);
	r.key.dst = A(dst);
	r.key.sport = sp;
	r.key.dport = dp;
	r.key.proto = proto;
	r.ipver = tv_addr_is_v4(&r.key.src) ? 4 : 6;
	r.vni = 42;
	r.outer_src = A("10.0.1.5");
	r.window = 1764000000;
	r.start = 1764000010;
	r.end = 1764000070;
	r.packets = 20;
	r.bytes = 4249;
	r.tcp_flags = 19;
	return r;
}

static report_fl_format fmt_of(const char *s)
{
	report_fl_format f;
	report_fl_err e;
	cr_assert_eq(report_format_parse(s, &f, &e), 0, "%s", e.msg);
	return f;
}

static const char *line_of(const report_fl_format *fmt, const tv_flowrec *r, const report_iface *f,
                           const char *acct, const char *region)
{
	static char buf[4096];
	report_fl_rec rec;
	report_flowrec_to_fl(r, f, fmt, acct, region, &rec);
	cr_assert_eq(report_flowlog_format_line(fmt, &rec, buf, sizeof buf, NULL), 0);
	return buf;
}

Test(flowout, default_format_and_secondary_address)
{
	report_vnimap *m = map_of(SESSIONS_JSON);
	report_fl_format d, c;
	char err[256];
	tv_flowrec r = rec_of("10.0.1.9", "172.31.16.21", 20641, 22, 6);
	const report_iface *f;
	cr_assert_eq(report_vnimap_load_mem(m, "n", NIS_JSON, strlen(NIS_JSON), err, sizeof err), 0);
	f = report_vnimap_find(m, 42);
	report_format_default(&d);
	/* egress from the secondary 10.0.1.9: srcaddr shows the primary */
	cr_assert_str_eq(line_of(&d, &r, f, NULL, NULL),
	                 "2 111122223333 eni-aaa 10.0.1.5 172.31.16.21 20641 22 6 20 4249 1764000010 "
	                 "1764000070 ACCEPT OK");
	c = fmt_of("${flow-direction} ${pkt-srcaddr} ${srcaddr} ${version} ${vpc-id} ${region} ${az-id} "
	           "${type} ${tcp-flags} ${traffic-path} ${sublocation-id} ${ecs-task-id} ${reject-reason}");
	cr_assert_str_eq(line_of(&c, &r, f, NULL, NULL),
	                 "egress 10.0.1.9 10.0.1.5 8 vpc-0a us-west-2 usw2-az2 IPv4 19 - - - -");
	/* ingress to the secondary: dstaddr shows the primary */
	r = rec_of("172.31.16.21", "10.0.1.9", 22, 20641, 6);
	c = fmt_of("${srcaddr} ${dstaddr} ${pkt-dstaddr} ${flow-direction} ${version}");
	cr_assert_str_eq(line_of(&c, &r, f, NULL, NULL), "172.31.16.21 10.0.1.5 10.0.1.9 ingress 5");
	/* neither side is the interface's: '-' */
	r = rec_of("172.31.16.21", "172.31.16.22", 1, 2, 17);
	cr_assert_str_eq(line_of(&c, &r, f, NULL, NULL), "172.31.16.21 172.31.16.22 172.31.16.22 - 5");
	/* unknown interface: vni-N, '-' account unless a default is given */
	r.vni = 77;
	c = fmt_of("${account-id} ${interface-id} ${region} ${instance-id}");
	cr_assert_str_eq(line_of(&c, &r, report_vnimap_get(m, 77), NULL, NULL), "- vni-77 - -");
	cr_assert_str_eq(line_of(&c, &r, report_vnimap_get(m, 77), "123456789012", "eu-west-1"),
	                 "123456789012 vni-77 eu-west-1 -");
	/* IPv6, ICMP ports 0 */
	r = rec_of("2600:1f14::5", "2001:db8::1", 0, 0, 58);
	r.tcp_flags = 0;
	c = fmt_of("${type} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${tcp-flags} ${flow-direction}");
	cr_assert_str_eq(line_of(&c, &r, f, NULL, NULL), "IPv6 2600:1f14::5 2001:db8::1 0 0 58 0 egress");
	report_vnimap_free(m);
}

Test(flowout, every_field_parses_back)
{
	report_vnimap *m = map_of("vni=42 eni=eni-1 account=111122223333 vpc=vpc-1 subnet=subnet-1 "
	                          "instance=i-1 region=us-east-1 az=use1-az1 addr=10.0.1.5\n");
	report_fl_format f;
	report_fl_rec rec, back;
	report_fl_err e;
	char buf[4096], fs[4096] = "";
	tv_flowrec r = rec_of("10.0.1.5", "52.216.1.1", 40000, 443, 6);
	int id;
	for (id = 0; id < REPORT_FL_F__KNOWN; id++) {
		strcat(fs, id ? " ${" : "${");
		strcat(fs, report_fl_field_name(id));
		strcat(fs, "}");
	}
	f = fmt_of(fs);
	report_flowrec_to_fl(&r, report_vnimap_find(m, 42), &f, NULL, NULL, &rec);
	cr_assert_eq(report_flowlog_format_line(&f, &rec, buf, sizeof buf, NULL), 0);
	cr_assert_eq(report_flowlog_parse_line(&f, buf, strlen(buf), &back, &e), REPORT_FL_LINE_RECORD, "%s", e.msg);
	cr_assert_eq(back.present, rec.present);
	cr_assert_eq(back.packets, 20);
	cr_assert_eq(back.version, 8);
	cr_assert_eq(back.flow_direction, REPORT_FL_DIR_EGRESS);
	cr_assert_eq(back.interface_id.len, 5);
	report_vnimap_free(m);
}

Test(flowout, json_typed_values)
{
	report_vnimap *m = map_of("vni=42 eni=eni-1 addr=10.0.1.5\n");
	report_fl_format f = fmt_of("${version} ${account-id} ${interface-id} ${srcaddr} ${packets} "
	                            "${flow-direction} ${traffic-path}");
	report_fl_rec rec;
	char buf[4096];
	tv_flowrec r = rec_of("10.0.1.5", "1.2.3.4", 1, 2, 17);
	report_flowrec_to_fl(&r, report_vnimap_find(m, 42), &f, NULL, NULL, &rec);
	cr_assert_eq(report_flowrec_json(&f, &rec, &r, buf, sizeof buf, NULL), 0);
	cr_assert_str_eq(buf, "{\"version\":5,\"account-id\":null,\"interface-id\":\"eni-1\","
	                      "\"srcaddr\":\"10.0.1.5\",\"packets\":20,\"flow-direction\":\"egress\","
	                      "\"traffic-path\":null,\"vni\":42,\"outer_src\":\"10.0.1.5\"}");
	r.vni = TV_VNI_NONE;
	memset(&r.outer_src, 0, sizeof r.outer_src);
	cr_assert_eq(report_flowrec_json(&f, &rec, &r, buf, sizeof buf, NULL), 0);
	cr_assert(strstr(buf, "\"vni\":null,\"outer_src\":null}") != NULL, "%s", buf);
	cr_assert_eq(report_flowrec_json(&f, &rec, &r, buf, 20, NULL), TV_E_FULL);
	report_vnimap_free(m);
}

Test(flowout, merge_and_order)
{
	tv_flowrec v[5];
	size_t n;
	v[0] = rec_of("10.0.1.5", "1.1.1.1", 1, 2, 6);
	v[0].start = 1764000030; v[0].end = 1764000040; v[0].packets = 1; v[0].bytes = 60; v[0].tcp_flags = 2;
	v[1] = rec_of("10.0.1.5", "1.1.1.1", 1, 2, 6);   /* same flow, early flush */
	v[1].start = 1764000020; v[1].end = 1764000100; v[1].packets = 2; v[1].bytes = 100; v[1].tcp_flags = 1;
	v[2] = rec_of("10.0.1.5", "1.1.1.1", 1, 2, 6);   /* another window: kept apart */
	v[2].window = 1764000600; v[2].start = 1764000600; v[2].end = 1764000601;
	v[3] = rec_of("10.0.1.5", "0.0.0.1", 1, 2, 6);   /* same start as v[1]'s merge: by address */
	v[3].start = 1764000020;
	v[4] = rec_of("10.0.1.5", "1.1.1.1", 1, 2, 6);   /* another VNI */
	v[4].vni = 43; v[4].start = 1764000001;
	n = idx_flowrecs_merge(v, 5);
	cr_assert_eq(n, 4);
	cr_assert_eq(v[0].vni, 43);
	cr_assert_eq(v[1].start, 1764000020);
	cr_assert_eq(v[1].key.dst.b[15], 1);
	cr_assert_eq(v[1].key.dst.b[12], 0);
	cr_assert_eq(v[2].start, 1764000020);
	cr_assert_eq(v[2].end, 1764000100);
	cr_assert_eq(v[2].packets, 3);
	cr_assert_eq(v[2].bytes, 160);
	cr_assert_eq(v[2].tcp_flags, 3);
	cr_assert_eq(v[3].window, 1764000600);
}

Test(flowout, s3_layout)
{
	char dir[] = "/tmp/tv-s3-XXXXXX", cmd[512], err[256], path[1024];
	report_fl_format f;
	report_s3_cfg c;
	report_s3 *s;
	uint64_t files, recs;
	FILE *p;
	cr_assert_not_null(mkdtemp(dir));
	report_format_default(&f);
	memset(&c, 0, sizeof c);
	c.dir = dir;
	c.account = "111122223333";
	c.region = "eu-west-1";
	c.flow_log_id = "fl-1234abcd";
	c.fmt = &f;
	c.account = "11_1";
	cr_assert_eq(report_s3_open(&c, &s, err, sizeof err), TV_E_SYNTAX);
	c.account = "111122223333";
	cr_assert_eq(report_s3_open(&c, &s, err, sizeof err), 0);
	/* 2018-06-20T16:20:00Z = 1529511600: ends 16:20:00..16:24:59 share a file */
	cr_assert_eq(report_s3_write(s, 1529511600, "a", 1), 0);
	cr_assert_eq(report_s3_write(s, 1529511899, "b", 1), 0);
	cr_assert_eq(report_s3_write(s, 1529511900, "c", 1), 0);
	cr_assert_eq(report_s3_close_before(s, 1529511900), 0);
	report_s3_counts(s, &files, &recs);
	cr_assert_eq(files, 1);
	cr_assert_eq(report_s3_finish(s), 0);
	report_s3_counts(s, &files, &recs);
	cr_assert_eq(files, 2);
	cr_assert_eq(recs, 3);
	report_s3_free(s);
	snprintf(cmd, sizeof cmd, "cd %s && find AWSLogs -type f | sort", dir);
	p = popen(cmd, "r");
	cr_assert(fgets(path, sizeof path, p));
	cr_assert(strncmp(path, "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2018/06/20/"
	                        "111122223333_vpcflowlogs_eu-west-1_fl-1234abcd_20180620T1620Z_", 115) == 0,
	          "%s", path);
	cr_assert(strstr(path, ".log.gz\n") != NULL);
	pclose(p);
	snprintf(cmd, sizeof cmd, "cd %s && zcat AWSLogs/*/*/*/*/*/*/*T1620Z_*.log.gz", dir);
	p = popen(cmd, "r");
	cr_assert(fgets(path, sizeof path, p));
	cr_assert_str_eq(path, "version account-id interface-id srcaddr dstaddr srcport dstport protocol "
	                       "packets bytes start end action log-status\n");
	cr_assert(fgets(path, sizeof path, p));
	cr_assert_str_eq(path, "a\n");
	cr_assert(fgets(path, sizeof path, p));
	cr_assert_str_eq(path, "b\n");
	cr_assert_null(fgets(path, sizeof path, p));
	pclose(p);
	cr_assert_eq(test_rmtree(dir), 0);
}

/* ------------------------------------------------------------------ */
/* Bounds: entry limit, duplicate keys, JSON counts, ENI merging */

Test(vnimap_bounds, entry_limit_and_duplicates_in_large_files)
{
	size_t n = REPORT_VNIMAP_MAX_ENTRIES + 1, i, o = 0;
	char *t = malloc(n * 48);
	report_vnimap *m;
	char err[256];
	cr_assert_not_null(t);
	/* VNIs in scrambled order: a sorted insert per line would be quadratic */
	for (i = 0; i < n - 1; i++)
		o += (size_t)sprintf(t + o, "vni=%zu eni=eni-%zx\n", (i * 7919) % (n - 1) + 1, i);
	cr_assert_eq(report_vnimap_new(&m), 0);
	cr_assert_eq(report_vnimap_load_mem(m, "big", t, o, err, sizeof err), 0, "%s", err);
	cr_assert_eq(report_vnimap_count(m), n - 1);
	for (i = 1; i < n - 1; i++)
		cr_assert_lt(report_vnimap_at(m, i - 1)->vni, report_vnimap_at(m, i)->vni);
	cr_assert_str_eq(report_vnimap_find(m, 1)->eni, "eni-0");
	report_vnimap_free(m);
	/* one line more: refused at that line, nothing added */
	o += (size_t)sprintf(t + o, "vni=%zu\n", n + 5);
	cr_assert_eq(report_vnimap_new(&m), 0);
	cr_assert_eq(report_vnimap_load_mem(m, "big", t, o, err, sizeof err), TV_E_SYNTAX);
	cr_assert_str_eq(err, "big:65537: more than 65536 VNI entries: refused");
	cr_assert_eq(report_vnimap_count(m), 0);
	report_vnimap_free(m);
	/* a duplicate on the last line names both lines */
	o = 0;
	for (i = 0; i < 1000; i++)
		o += (size_t)sprintf(t + o, "vni=%zu\n", i + 1);
	o += (size_t)sprintf(t + o, "vni=none\nvni=500\n");
	cr_assert_eq(report_vnimap_new(&m), 0);
	cr_assert_eq(report_vnimap_load_mem(m, "d", t, o, err, sizeof err), TV_E_SYNTAX);
	cr_assert_str_eq(err, "d:1002: vni 500 is already defined on line 500");
	report_vnimap_free(m);
	cr_assert_str_eq(load_err("vni=none\nvni=1\nvni=none\n"), "m.txt:3: vni none is already defined on line 1");
	free(t);
}

Test(vnimap_bounds, json_duplicate_keys_and_counts)
{
	const char *e;
	size_t i, o;
	char *t;
	e = load_err("{\"TrafficMirrorSessions\": [ {\"VirtualNetworkId\": 1, \"VirtualNetworkId\": 2} ]}");
	cr_assert(strstr(e, "m.txt:1:") == e && strstr(e, "duplicate object key"), "%s", e);
	/* more objects than the limit: refused before jansson builds them */
	t = malloc(3 * 200000 + 64);
	cr_assert_not_null(t);
	o = (size_t)sprintf(t, "{\"TrafficMirrorSessions\":[");
	for (i = 0; i < 200000; i++)
		o += (size_t)sprintf(t + o, "%s{}", i ? "," : "");
	o += (size_t)sprintf(t + o, "]}");
	{
		report_vnimap *m;
		char err[256];
		cr_assert_eq(report_vnimap_new(&m), 0);
		cr_assert_eq(report_vnimap_load_mem(m, "many", t, o, err, sizeof err), TV_E_SYNTAX);
		cr_assert(strstr(err, "many: more than 150000 JSON objects (at byte "), "%s", err);
		report_vnimap_free(m);
	}
	/* nesting */
	o = (size_t)sprintf(t, "{\"TrafficMirrorSessions\":");
	for (i = 0; i < 40; i++)
		t[o++] = '[';
	t[o] = '\0';
	e = load_err(t);
	cr_assert(strstr(e, "m.txt: JSON nested deeper than 32 levels (at byte 56)"), "%s", e);
	free(t);
}

Test(vnimap_bounds, interfaces_merge_by_name_later_wins)
{
	/* the same ENI twice in a file and again in a later file, in an order
	 * that is not sorted: one description, the last values win */
	static const char a[] =
		"{\"NetworkInterfaces\": ["
		"{\"NetworkInterfaceId\": \"eni-c\", \"VpcId\": \"vpc-c1\"},"
		"{\"NetworkInterfaceId\": \"eni-a\", \"VpcId\": \"vpc-a1\", \"SubnetId\": \"subnet-a1\"},"
		"{\"NetworkInterfaceId\": \"eni-c\", \"VpcId\": \"vpc-c2\"}]}";
	static const char b[] =
		"{\"NetworkInterfaces\": [{\"NetworkInterfaceId\": \"eni-a\", \"VpcId\": \"vpc-a2\"},"
		"{\"NetworkInterfaceId\": \"eni-b\", \"VpcId\": \"vpc-b\"}]}";
	static const char v[] = "vni=3 eni=eni-c\nvni=1 eni=eni-a\nvni=2 eni=eni-b\n";
	report_vnimap *m = map_of(a);
	char err[256];
	cr_assert_eq(report_vnimap_load_mem(m, "v", v, strlen(v), err, sizeof err), 0, "%s", err);
	cr_assert_eq(report_vnimap_load_mem(m, "b", b, strlen(b), err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(report_vnimap_find(m, 3)->vpc, "vpc-c2");
	cr_assert_str_eq(report_vnimap_find(m, 2)->vpc, "vpc-b");
	/* the map entry was filled before b came: fill never overwrites */
	cr_assert_str_eq(report_vnimap_find(m, 1)->vpc, "vpc-a1");
	cr_assert_str_eq(report_vnimap_find(m, 1)->subnet, "subnet-a1");
	report_vnimap_free(m);
}

/* report_flows_write: the stored records of a store as `flows` writes them */
Test(flowout, flows_write_merges_learns_and_writes_csv)
{
	char dir[] = "/tmp/tv-flows-XXXXXX", line[512];
	tv_flowrec v[3];
	report_vnimap *m = map_of("vni=42 eni=eni-0aa account=111122223333\n");
	report_fl_format f = fmt_of("${srcaddr} ${dstaddr} ${flow-direction} ${interface-id} ${packets}");
	report_flows_opts o;
	report_flows_result res;
	idx_cfg cfg;
	idx *x = NULL;
	idx_expr *e = NULL;
	idx_expr_err perr;
	FILE *out;

	cr_assert_not_null(mkdtemp(dir));
	idx_cfg_default(&cfg);
	cfg.writable = true;
	cfg.map_size = (uint64_t)1 << 26;
	cr_assert_eq(idx_open(dir, &cfg, &x), 0);
	v[0] = rec_of("10.0.1.5", "1.1.1.1", 1000, 443, 6);
	v[1] = v[0]; /* the same flow flushed early: merged into one record */
	v[1].packets = 5;
	v[2] = rec_of("10.9.9.9", "1.1.1.1", 1000, 443, 6); /* a VNI the map does not name */
	v[2].vni = 43;
	v[2].outer_src = A("10.9.9.9"); /* breaks the tie between its two addresses */
	cr_assert_eq(idx_flows_put(x, v, 3), 0);
	cr_assert_eq(idx_expr_parse("", 1764100000000000000ull, &e, &perr), 0);
	out = tmpfile();
	cr_assert_not_null(out);
	memset(&o, 0, sizeof o);
	o.xs = &x;
	o.nx = 1;
	o.expr = e;
	o.map = m;
	o.fmt = &f;
	o.form = REPORT_FLOWS_CSV;
	o.out = out;
	cr_assert_eq(report_flows_write(&o, &res), 0, "%s", res.err);
	cr_assert_eq(res.read, 3);
	cr_assert_eq(res.merged, 1);
	cr_assert_eq(res.written, 2);
	rewind(out);
	cr_assert(fgets(line, sizeof line, out));
	cr_assert_str_eq(line, "srcaddr,dstaddr,flow-direction,interface-id,packets\n");
	cr_assert(fgets(line, sizeof line, out));
	/* the map gives no address for eni-0aa: the one in most records is
	 * learned, which makes the record egress */
	cr_assert_str_eq(line, "10.0.1.5,1.1.1.1,egress,eni-0aa,25\n");
	cr_assert(fgets(line, sizeof line, out));
	cr_assert_str_eq(line, "10.9.9.9,1.1.1.1,egress,vni-43,20\n");
	cr_assert_null(fgets(line, sizeof line, out));
	fclose(out);

	/* S3 takes the AWS form only; an output is needed */
	o.s3_dir = dir;
	cr_assert_eq(report_flows_write(&o, &res), TV_E_RANGE);
	o.s3_dir = NULL;
	o.out = NULL;
	cr_assert_eq(report_flows_write(&o, &res), TV_E_RANGE);
	idx_expr_free(e);
	idx_close(x);
	report_vnimap_free(m);
	cr_assert_eq(test_rmtree(dir), 0);
}

/* report_vnimap_load_kept: the copies ingest keeps in STORE/vnimap/ */
static void put_file(const char *dir, const char *name, const char *text)
{
	char p[512];
	FILE *f;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(vnimap, kept_maps_load_in_name_order_links_skipped)
{
	char st[] = "/tmp/tv-kept-XXXXXX", vd[256], p[512];
	static report_vnimap_kept k;
	report_vnimap *m;
	int i;

	cr_assert_not_null(mkdtemp(st));
	cr_assert_eq(report_vnimap_new(&m), 0);
	/* no folder: nothing kept, nothing said */
	cr_assert_eq(report_vnimap_load_kept(m, st, &k), 0);
	cr_assert_eq(k.n, 0);
	cr_assert_eq(report_vnimap_count(m), 0);

	snprintf(vd, sizeof vd, "%s/vnimap", st);
	cr_assert_eq(mkdir(vd, 0700), 0);
	put_file(vd, "b.txt", "vni=42 eni=eni-0bb\n");
	put_file(vd, "a.txt", "vni=42 eni=eni-0aa\nvni=43 eni=eni-0cc\n");
	put_file(st, "outside.txt", "vni=44 eni=eni-0dd\n");
	snprintf(p, sizeof p, "%s/z.txt", vd);
	cr_assert_eq(symlink("../outside.txt", p), 0);
	cr_assert_eq(report_vnimap_load_kept(m, st, &k), 0, "%s", k.err);
	cr_assert_eq(k.n, 2);
	cr_assert_str_eq(k.names, "a.txt, b.txt");
	cr_assert_str_eq(k.dir, vd);
	/* b.txt is loaded after a.txt: its values win */
	cr_assert_str_eq(report_vnimap_find(m, 42)->name, "eni-0bb");
	cr_assert_str_eq(report_vnimap_find(m, 43)->name, "eni-0cc");
	cr_assert_null(report_vnimap_find(m, 44));
	report_vnimap_free(m);

	/* a bad copy is named, as a content error */
	put_file(vd, "c.txt", "vni=notanumber\n");
	cr_assert_eq(report_vnimap_new(&m), 0);
	cr_assert_eq(report_vnimap_load_kept(m, st, &k), TV_E_SYNTAX);
	cr_assert(k.content);
	cr_assert(strstr(k.err, "/vnimap/c.txt:1") && strstr(k.err, "--vni-map replaces them"), "%s", k.err);
	report_vnimap_free(m);

	/* more than the limit: refused before any is read */
	for (i = 0; i < REPORT_VNIMAP_KEPT_MAX; i++) {
		char n[32];
		snprintf(n, sizeof n, "m%02d.txt", i);
		put_file(vd, n, "vni=1 eni=eni-1\n");
	}
	cr_assert_eq(report_vnimap_new(&m), 0);
	cr_assert_eq(report_vnimap_load_kept(m, st, &k), TV_E_RANGE);
	cr_assert(!k.content);
	cr_assert(strstr(k.err, "holds 67 files"), "%s", k.err);
	cr_assert_eq(report_vnimap_count(m), 0);
	report_vnimap_free(m);
	cr_assert_eq(test_rmtree(st), 0);
}
