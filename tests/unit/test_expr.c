/*
 * test_expr.c — the query language: every primitive, precedence, errors
 * with their positions, time formats, bounds, matcher truth tables and the
 * normalised form.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../index/idx.h"
#include "../../index/idx_int.h"

#define NOW 1800000000000000000ull /* 2027-01-15T08:00:00Z */
#define S 1000000000ull

static idx_expr *parse_ok(const char *text)
{
	idx_expr *e = NULL;
	idx_expr_err err;
	int rc = idx_expr_parse(text, NOW, &e, &err);
	cr_assert_eq(rc, 0, "parse '%s': %d at %d+%d: %s", text, rc, err.pos, err.len, err.msg);
	cr_assert_not_null(e);
	return e;
}

static void fmt_is(const char *text, const char *want)
{
	char buf[512];
	idx_expr *e = parse_ok(text);
	idx_expr_format(e, buf, sizeof buf);
	cr_assert_str_eq(buf, want, "format of '%s'", text);
	idx_expr_free(e);
}

static void err_is(const char *text, int pos, int len, const char *msg)
{
	idx_expr *e = (idx_expr *)1;
	idx_expr_err err;
	int rc = idx_expr_parse(text, NOW, &e, &err);
	cr_assert_eq(rc, TV_E_SYNTAX, "'%s' should fail, got %d", text, rc);
	cr_assert_null(e);
	cr_assert_str_eq(err.msg, msg, "'%s'", text);
	cr_assert_eq(err.pos, pos, "'%s': pos %d, want %d (%s)", text, err.pos, pos, err.msg);
	cr_assert_eq(err.len, len, "'%s': len %d, want %d (%s)", text, err.len, len, err.msg);
}

/* --------------------------------------------------------------- packets */

static tv_l3info pkt4(const char *src, const char *dst, uint8_t proto, uint16_t sp, uint16_t dp,
                      bool ports)
{
	tv_l3info i;
	memset(&i, 0, sizeof i);
	i.l3 = strchr(src, ':') ? 6 : 4;
	i.has_ports = ports;
	cr_assert_eq(tv_addr_parse(src, &i.key.src), 0);
	cr_assert_eq(tv_addr_parse(dst, &i.key.dst), 0);
	i.key.proto = proto;
	i.key.sport = sp;
	i.key.dport = dp;
	return i;
}

static bool m(const char *text, uint64_t ts, uint32_t vni, const tv_l3info *info)
{
	tv_tunmeta tun;
	idx_expr *e = parse_ok(text);
	bool r;
	memset(&tun, 0, sizeof tun);
	tun.vni = vni;
	r = idx_expr_match(e, ts, &tun, info);
	idx_expr_free(e);
	return r;
}

/* ------------------------------------------------------------ primitives */

Test(expr, primitives_format)
{
	fmt_is("host 10.0.0.1", "host 10.0.0.1");
	fmt_is("src host 10.0.0.1", "src host 10.0.0.1");
	fmt_is("dst host 2001:db8::1", "dst host 2001:db8::1");
	fmt_is("src 10.0.0.1", "src host 10.0.0.1");
	fmt_is("src or dst host 10.0.0.1", "host 10.0.0.1");
	fmt_is("src and dst host 10.0.0.1", "src and dst host 10.0.0.1");
	fmt_is("net 10.0.0.0/8", "net 10.0.0.0/8");
	fmt_is("src net 10.1.0.0/16", "src net 10.1.0.0/16");
	fmt_is("net 10.1.2.3", "net 10.1.2.3/32");
	fmt_is("net 2001:db8::/32", "net 2001:db8::/32");
	fmt_is("net ::ffff:0:0/96", "net ::ffff:0.0.0.0/96");
	fmt_is("net 0.0.0.0/0", "net 0.0.0.0/0");
	fmt_is("port 22", "port 22");
	fmt_is("dst port 443", "dst port 443");
	fmt_is("portrange 1000-2000", "portrange 1000-2000");
	fmt_is("src portrange 0-65535", "src portrange 0-65535");
	fmt_is("tcp", "tcp");
	fmt_is("udp", "udp");
	fmt_is("icmp", "icmp");
	fmt_is("icmp6", "icmp6");
	fmt_is("icmpv6", "icmp6");
	fmt_is("proto 6", "tcp");
	fmt_is("proto sctp", "proto 132");
	fmt_is("proto gre", "proto 47");
	fmt_is("proto esp", "proto 50");
	fmt_is("proto ah", "proto 51");
	fmt_is("proto 255", "proto 255");
	fmt_is("ip", "ip");
	fmt_is("ip6", "ip6");
	fmt_is("vni 0", "vni 0");
	fmt_is("vni 16777215", "vni 16777215");
	fmt_is("vni none", "vni none");
	fmt_is("after 2026-11-27T14:00:00Z", "after 2026-11-27T14:00:00.000000000Z");
	fmt_is("before 1700000000.25", "before 2023-11-14T22:13:20.250000000Z");
	fmt_is("HOST 10.0.0.1 AND TCP", "host 10.0.0.1 and tcp");
	fmt_is("", "");
	fmt_is("   ", "");
}

Test(expr, precedence_and_parentheses)
{
	fmt_is("host 10.0.0.1 or host 10.0.0.2 and port 22",
	       "host 10.0.0.1 or (host 10.0.0.2 and port 22)");
	fmt_is("(host 10.0.0.1 or host 10.0.0.2) and port 22",
	       "(host 10.0.0.1 or host 10.0.0.2) and port 22");
	fmt_is("not host 10.0.0.1 and port 22", "not host 10.0.0.1 and port 22");
	fmt_is("not (host 10.0.0.1 and port 22)", "not (host 10.0.0.1 and port 22)");
	fmt_is("!tcp&&!udp||icmp", "(not tcp and not udp) or icmp");
	fmt_is("((tcp))", "tcp");
	fmt_is("(tcp and udp) and (icmp and ip)", "tcp and udp and icmp and ip");
	fmt_is("tcp or (udp or icmp)", "tcp or udp or icmp");
	fmt_is("not not tcp", "not not tcp");
	fmt_is("tcp and (udp or (icmp and (ip or ip6)))", "tcp and (udp or (icmp and (ip or ip6)))");

	/* semantics: or of and, not binds tightest */
	{
		tv_l3info a = pkt4("10.0.0.1", "10.0.0.9", 17, 53, 53, true);
		cr_assert(m("host 10.0.0.1 or host 10.0.0.2 and port 22", 0, 0, &a));
		cr_assert(!m("(host 10.0.0.1 or host 10.0.0.2) and port 22", 0, 0, &a));
		cr_assert(!m("not host 10.0.0.1 and port 53", 0, 0, &a));
		cr_assert(m("not (host 10.0.0.1 and port 22)", 0, 0, &a));
	}
}

Test(expr, round_trip)
{
	static const char *const texts[] = {
		"host 10.0.0.1 and (port 22 or port 23) and not udp",
		"src net 192.168.0.0/16 or dst net 2001:db8::/48 and vni 7",
		"(after 2026-01-01T00:00:00+02:00 and before 1700000000) or icmp6",
		"not (not (tcp or udp) and ip6) or portrange 1-2",
		"src and dst host ::1 and proto 47 and vni none",
		"after 10m ago",
		"net ::fffe:0:0/95 or net ::ffff:10.0.0.0/104",
	};
	size_t i;
	for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		char a[512], b[512];
		idx_expr *e1 = parse_ok(texts[i]), *e2;
		idx_expr_format(e1, a, sizeof a);
		e2 = parse_ok(a);
		idx_expr_format(e2, b, sizeof b);
		cr_assert_str_eq(a, b);
		idx_expr_free(e1);
		idx_expr_free(e2);
	}
}

Test(expr, format_truncates)
{
	char small[8];
	idx_expr *e = parse_ok("host 10.0.0.1");
	memset(small, 'x', sizeof small);
	idx_expr_format(e, small, sizeof small);
	cr_assert_str_eq(small, "host 10");
	idx_expr_format(e, small, 0);
	idx_expr_free(e);
	idx_expr_free(NULL);
}

/* ---------------------------------------------------------------- errors */

Test(expr, errors)
{
	err_is("port", 4, 0, "expected a port number (0-65535) or a service name after 'port'");
	err_is("port 65536", 5, 5, "expected a port number (0-65535) or a service name after 'port'");
	err_is("port x", 5, 1, "expected a port number (0-65535) or a service name after 'port'");
	err_is("portrange 5", 10, 1,
	       "expected a port range N-M (0-65535 or service names) after 'portrange'");
	err_is("portrange 9-5", 10, 3, "port range N-M needs N <= M");
	err_is("host", 4, 0, "expected an address after 'host'");
	err_is("host 10.0.0.300", 5, 10, "expected an address after 'host'");
	err_is("src host zz", 9, 2, "expected an address after 'host'");
	err_is("src foo", 4, 3, "expected host, net, port, portrange or an address after 'src'");
	err_is("net 10.0.0.1/8", 4, 10, "non-network bits set in '10.0.0.1/8'");
	err_is("net 2001:db8::1/32", 4, 14, "non-network bits set in '2001:db8::1/32'");
	err_is("net 10.0.0.0/33", 4, 11, "prefix length of '10.0.0.0/33' must be 0-32");
	err_is("net 2001:db8::/129", 4, 14, "prefix length of '2001:db8::/129' must be 0-128");
	err_is("net foo/8", 4, 5, "expected a network (ADDR/LEN) after 'net'");
	err_is("proto", 5, 0, "expected a protocol name or number (0-255) after 'proto'");
	err_is("proto 256", 6, 3, "expected a protocol name or number (0-255) after 'proto'");
	err_is("vni 16777216", 4, 8, "expected a VNI (0-16777215 or 'none') after 'vni'");
	err_is("vni", 3, 0, "expected a VNI (0-16777215 or 'none') after 'vni'");
	err_is("eni eni-0123456789abcdef0", 0, 3, "eni needs a VNI map (not yet supported)");
	err_is("tcp and eni", 11, 0, "expected an interface id after 'eni'");
	err_is("(tcp", 0, 1, "unbalanced parenthesis");
	err_is("tcp)", 3, 1, "unbalanced parenthesis");
	err_is(")", 0, 1, "unbalanced parenthesis");
	err_is("(tcp udp)", 5, 3, "unexpected word 'udp': expected and, or or ')'");
	err_is("tcp foo", 4, 3, "unexpected word 'foo': expected and, or or end of expression");
	err_is("host 10.0.0.1 10.0.0.2", 14, 8,
	       "unexpected word '10.0.0.2': expected and, or or end of expression");
	err_is("foo", 0, 3,
	       "unexpected word 'foo': expected host, net, port, portrange, proto, tcp, udp, "
	       "icmp, ip, ip6, vni, after, before, not or '('");
	err_is("tcp and", 7, 0, "expected an expression after 'and'");
	err_is("tcp or or udp", 7, 2, "expected an expression after 'or'");
	err_is("not", 3, 0, "expected an expression after 'not'");
	err_is("()", 1, 1, "expected an expression after '('");
	err_is("and tcp", 0, 3, "unexpected word 'and': expected an expression");
	err_is("tcp & udp", 4, 1, "unexpected word '&': expected and, or or end of expression");
	err_is("& udp", 0, 1, "unexpected character '&'");
	err_is("after", 5, 0,
	       "expected a time after 'after' (RFC 3339, unix seconds or 'N{s,m,h,d} ago')");
	err_is("after 2026-13-01T00:00:00Z", 6, 20,
	       "expected a time after 'after' (RFC 3339, unix seconds or 'N{s,m,h,d} ago')");
	err_is("before 10 x ago", 7, 8,
	       "expected a time after 'before' (RFC 3339, unix seconds or 'N{s,m,h,d} ago')");
	err_is("after 99999999999 d ago", 6, 17, "time '99999999999 d ago' is out of range (1970 to 2554)");
	err_is("after 1969-12-31T23:59:59Z", 6, 20,
	       "time '1969-12-31T23:59:59Z' is out of range (1970 to 2554)");
	{
		/* nesting cap: 64 levels of nots and parentheses, counted from
		 * the inside, the parentheses of an and chain not counted;
		 * and 130 parentheses and nots in all */
		char deep[700];
		memset(deep, '!', 100);
		strcpy(deep + 100, "tcp");
		err_is(deep, 35, 1, "expression nested too deeply (more than 64 levels)");
		memset(deep, '(', 70);
		strcpy(deep + 70, "tcp");
		memset(deep + 73, ')', 70);
		deep[143] = '\0';
		err_is(deep, 5, 1, "expression nested too deeply (more than 64 levels)");
		memset(deep, '(', 64);
		strcpy(deep + 64, "tcp");
		memset(deep + 67, ')', 64);
		deep[131] = '\0';
		idx_expr_free(parse_ok(deep));
		memset(deep, '(', 100);
		strcpy(deep + 100, "tcp and udp");
		memset(deep + 111, ')', 100);
		deep[211] = '\0';
		idx_expr_free(parse_ok(deep));
		memset(deep, '(', 200);
		strcpy(deep + 200, "tcp");
		err_is(deep, 130, 1,
		       "expression nested too deeply (more than 130 parentheses and nots)");
	}
	{
		/* a long word is shortened in the message */
		char buf[200];
		memset(buf, 'w', 100);
		buf[100] = '\0';
		idx_expr *e;
		idx_expr_err err;
		cr_assert_eq(idx_expr_parse(buf, NOW, &e, &err), TV_E_SYNTAX);
		cr_assert_eq(err.len, 100);
		cr_assert(strlen(err.msg) < sizeof err.msg);
	}
	/* a NULL err is allowed */
	{
		idx_expr *e;
		cr_assert_eq(idx_expr_parse("tcp and", NOW, &e, NULL), TV_E_SYNTAX);
	}
}

/* ----------------------------------------------------------------- times */

static uint64_t tp(const char *s)
{
	uint64_t v = 0;
	int rc = tv_time_parse(s, NOW, &v);
	cr_assert_eq(rc, 0, "time '%s': %d", s, rc);
	return v;
}

static void tbad(const char *s)
{
	uint64_t v;
	cr_assert_neq(tv_time_parse(s, NOW, &v), 0, "time '%s' should fail", s);
}

Test(expr, times)
{
	char buf[48];
	cr_assert_eq(tp("1970-01-01T00:00:00Z"), 0);
	cr_assert_eq(tp("2026-11-27T14:00:00Z"), 1795788000ull * S);
	cr_assert_eq(tp("2026-11-27t14:00:00z"), 1795788000ull * S);
	cr_assert_eq(tp("2026-11-27T15:30:00+01:30"), 1795788000ull * S);
	cr_assert_eq(tp("2026-11-27T09:00:00-05:00"), 1795788000ull * S);
	cr_assert_eq(tp("2026-11-27T14:00:00.5Z"), 1795788000ull * S + 500000000);
	cr_assert_eq(tp("2026-11-27T14:00:00.123456789Z"), 1795788000ull * S + 123456789);
	cr_assert_eq(tp("2024-02-29T00:00:00Z"), 1709164800ull * S);
	cr_assert_eq(tp("2000-02-29T00:00:00Z"), 951782400ull * S);
	cr_assert_eq(tp("2016-12-31T23:59:60Z"), 1483228800ull * S); /* leap second */
	cr_assert_eq(tp("1700000000"), 1700000000ull * S);
	cr_assert_eq(tp("1700000000.25"), 1700000000ull * S + 250000000);
	cr_assert_eq(tp("0"), 0);
	cr_assert_eq(tp("10m ago"), NOW - 600 * S);
	cr_assert_eq(tp("10 m ago"), NOW - 600 * S);
	cr_assert_eq(tp("30 s ago"), NOW - 30 * S);
	cr_assert_eq(tp("2h ago"), NOW - 7200 * S);
	cr_assert_eq(tp("1d ago"), NOW - 86400 * S);
	cr_assert_eq(tp("0s ago"), NOW);
	tbad("");
	tbad("2023-02-29T00:00:00Z");
	tbad("2026-11-27T24:00:00Z");
	tbad("2026-11-27T14:60:00Z");
	tbad("2026-11-27T14:00:61Z");
	tbad("2026-11-27T14:00:00");
	tbad("2026-11-27T14:00:00.Z");
	tbad("2026-11-27T14:00:00.1234567890Z");
	tbad("2026-11-27T14:00:00+1:00");
	tbad("2026-11-27T14:00:00+24:00");
	tbad("2026-11-27T14:00:00Zx");
	tbad("2026-11-27");
	tbad("1700000000.");
	tbad("1700000000.1234567891");
	tbad("18446744074");   /* beyond 2554 in ns */
	tbad("10 ago");
	tbad("10x ago");
	tbad("10m");
	tbad("10m ago now");
	tbad("-5");
	tbad("abc");

	tv_time_format(1795788000ull * S + 123456789, buf, sizeof buf);
	cr_assert_str_eq(buf, "2026-11-27T14:00:00.123456789Z");
	tv_time_format(0, buf, sizeof buf);
	cr_assert_str_eq(buf, "1970-01-01T00:00:00.000000000Z");
	tv_time_format(UINT64_MAX, buf, sizeof buf);
	cr_assert_str_eq(buf, "2554-07-21T23:34:33.709551615Z");
	cr_assert_eq(tp(buf), UINT64_MAX);
	{
		/* format/parse round trip over many days, incl. leap years */
		uint64_t t;
		for (t = 0; t < 20000ull * 86400 * S; t += 86399ull * S + 7777) {
			tv_time_format(t, buf, sizeof buf);
			cr_assert_eq(tp(buf), t, "%s", buf);
		}
	}
}

/* ---------------------------------------------------------------- bounds */

static void bounds_are(const char *text, uint64_t lo, uint64_t hi)
{
	uint64_t a, b;
	idx_expr *e = parse_ok(text);
	idx_expr_time_bounds(e, &a, &b);
	cr_assert_eq(a, lo, "'%s' lo %llu", text, (unsigned long long)a);
	cr_assert_eq(b, hi, "'%s' hi %llu", text, (unsigned long long)b);
	idx_expr_free(e);
}

Test(expr, bounds)
{
	bounds_are("", 0, UINT64_MAX);
	bounds_are("tcp", 0, UINT64_MAX);
	bounds_are("after 100", 100 * S, UINT64_MAX);
	bounds_are("before 100", 0, 100 * S - 1);
	bounds_are("after 100 and before 200", 100 * S, 200 * S - 1);
	bounds_are("host 10.0.0.1 and after 100 and before 200 and tcp", 100 * S, 200 * S - 1);
	bounds_are("after 100 and before 200 or after 300 and before 400", 100 * S, 400 * S - 1);
	bounds_are("after 100 or tcp", 0, UINT64_MAX);
	bounds_are("not after 100", 0, UINT64_MAX);
	bounds_are("after 200 and before 100", 200 * S, 100 * S - 1); /* empty: lo > hi */
	bounds_are("before 0", 1, 0);
	bounds_are("before 0 or after 5", 5 * S, UINT64_MAX);
	bounds_are("after 10m ago", NOW - 600 * S, UINT64_MAX);
	idx_expr_time_bounds(NULL, &(uint64_t){ 1 }, &(uint64_t){ 1 });
}

/* --------------------------------------------------------------- matcher */

Test(expr, match_v4)
{
	tv_l3info t = pkt4("10.0.0.1", "192.168.1.2", 6, 40000, 22, true);
	tv_l3info u = pkt4("10.0.0.1", "8.8.8.8", 17, 5353, 53, true);
	tv_l3info ic = pkt4("10.0.0.1", "10.0.0.2", 1, 0, 0, false);
	tv_l3info frag = pkt4("10.0.0.1", "10.0.0.2", 6, 1, 22, false); /* ports unknown */
	tv_l3info none;
	memset(&none, 0, sizeof none);

	cr_assert(m("host 10.0.0.1", 0, 0, &t));
	cr_assert(m("host 192.168.1.2", 0, 0, &t));
	cr_assert(!m("host 10.0.0.2", 0, 0, &t));
	cr_assert(m("src host 10.0.0.1", 0, 0, &t));
	cr_assert(!m("dst host 10.0.0.1", 0, 0, &t));
	cr_assert(m("dst 192.168.1.2", 0, 0, &t));
	cr_assert(!m("src and dst host 10.0.0.1", 0, 0, &t));
	cr_assert(m("src and dst net 10.0.0.0/8", 0, 0, &ic));
	cr_assert(m("net 192.168.0.0/16", 0, 0, &t));
	cr_assert(m("net 192.168.1.0/25", 0, 0, &t));
	cr_assert(!m("net 192.168.1.128/25", 0, 0, &t));
	cr_assert(m("net 0.0.0.0/0", 0, 0, &t));
	cr_assert(!m("src net 192.168.0.0/16", 0, 0, &t));
	cr_assert(m("dst net 192.168.0.0/16", 0, 0, &t));
	cr_assert(m("net ::ffff:0:0/96", 0, 0, &t));
	cr_assert(!m("net 2001:db8::/32", 0, 0, &t));
	cr_assert(m("host ::ffff:10.0.0.1", 0, 0, &t));

	cr_assert(m("port 22", 0, 0, &t));
	cr_assert(m("port 40000", 0, 0, &t));
	cr_assert(m("dst port 22", 0, 0, &t));
	cr_assert(!m("src port 22", 0, 0, &t));
	cr_assert(m("portrange 20-30", 0, 0, &t));
	cr_assert(!m("portrange 23-39999", 0, 0, &t));
	cr_assert(m("src portrange 39999-40001", 0, 0, &t));
	cr_assert(!m("port 22", 0, 0, &frag));
	cr_assert(!m("port 0", 0, 0, &ic));

	cr_assert(m("tcp", 0, 0, &t));
	cr_assert(!m("udp", 0, 0, &t));
	cr_assert(m("udp", 0, 0, &u));
	cr_assert(m("icmp", 0, 0, &ic));
	cr_assert(!m("icmp6", 0, 0, &ic));
	cr_assert(m("proto 6", 0, 0, &t));
	cr_assert(m("proto tcp", 0, 0, &t));
	cr_assert(m("ip", 0, 0, &t));
	cr_assert(!m("ip6", 0, 0, &t));

	cr_assert(m("vni 7", 0, 7, &t));
	cr_assert(!m("vni 8", 0, 7, &t));
	cr_assert(m("vni none", 0, TV_VNI_NONE, &t));
	{
		idx_expr *e = parse_ok("vni none");
		cr_assert(idx_expr_match(e, 0, NULL, &t));
		idx_expr_free(e);
	}

	/* frames without IP: only time, vni and not can match */
	cr_assert(!m("host 0.0.0.0", 0, 0, &none));
	cr_assert(!m("host ::", 0, 0, &none));
	cr_assert(!m("net ::/0", 0, 0, &none));
	cr_assert(!m("proto 0", 0, 0, &none));
	cr_assert(!m("tcp", 0, 0, &none));
	cr_assert(m("not tcp", 0, 0, &none));
	cr_assert(!m("ip or ip6", 0, 0, &none));
	cr_assert(m("vni 3", 0, 3, &none));
	cr_assert(m("", 0, 0, &none));
	cr_assert(idx_expr_match(NULL, 0, NULL, NULL));

	/* time: after T is ts >= T, before T is ts < T */
	cr_assert(m("after 100", 100 * S, 0, &t));
	cr_assert(!m("after 100", 100 * S - 1, 0, &t));
	cr_assert(!m("before 100", 100 * S, 0, &t));
	cr_assert(m("before 100", 100 * S - 1, 0, &t));
	cr_assert(m("host 10.0.0.1 and port 22 and after 1 and before 2", 1 * S, 0, &t));
	cr_assert(!m("host 10.0.0.1 and port 22 and after 1 and before 2", 2 * S, 0, &t));
	cr_assert(m("udp or port 22", 0, 0, &t));
	cr_assert(!m("udp or port 23", 0, 0, &t));
	cr_assert(m("!udp && (port 23 || port 22)", 0, 0, &t));
}

Test(expr, match_v6)
{
	tv_l3info t = pkt4("2001:db8::1", "2001:db8:1::2", 6, 1234, 443, true);
	tv_l3info ic = pkt4("fe80::1", "ff02::1", 58, 0, 0, false);

	cr_assert(m("host 2001:db8::1", 0, 0, &t));
	cr_assert(m("host 2001:0db8:0000::1", 0, 0, &t));
	cr_assert(!m("host 2001:db8::2", 0, 0, &t));
	cr_assert(m("src host 2001:db8::1", 0, 0, &t));
	cr_assert(m("dst 2001:db8:1::2", 0, 0, &t));
	cr_assert(m("net 2001:db8::/32", 0, 0, &t));
	cr_assert(m("src net 2001:db8::/48", 0, 0, &t));
	cr_assert(!m("dst net 2001:db8::/48", 0, 0, &t));
	cr_assert(m("dst net 2001:db8:1::/48", 0, 0, &t));
	cr_assert(!m("src net 2001:db8:1::/48", 0, 0, &t));
	cr_assert(m("net 2001:db8::/33", 0, 0, &t));
	cr_assert(!m("net 2001:db8:8000::/33", 0, 0, &t));
	cr_assert(!m("net 10.0.0.0/8", 0, 0, &t));
	cr_assert(m("net ::/0", 0, 0, &t));
	cr_assert(m("port 443 and tcp and ip6", 0, 0, &t));
	cr_assert(!m("ip", 0, 0, &t));
	cr_assert(m("icmp6", 0, 0, &ic));
	cr_assert(m("proto icmpv6", 0, 0, &ic));
	cr_assert(!m("icmp", 0, 0, &ic));
	cr_assert(m("net fe80::/10 and dst net ff00::/8", 0, 0, &ic));
}

Test(expr, node_limits)
{
	/* a long flat chain is one n-ary node: no deep recursion */
	size_t n = 20000, i, len = 0;
	char *buf = malloc(n * 8 + 8);
	idx_expr *e;
	cr_assert_not_null(buf);
	tv_l3info t = pkt4("10.0.0.1", "10.0.0.2", 6, 1, 2, true);
	if (!buf)
		return;
	memcpy(buf, "udp", 3);
	len = 3;
	for (i = 1; i < n; i++) {
		memcpy(buf + len, i == n - 1 ? " or tcp" : " or udp", 7);
		len += 7;
	}
	buf[len] = '\0';
	e = parse_ok(buf);
	cr_assert(idx_expr_match(e, 0, NULL, &t));
	idx_expr_free(e);
	free(buf);
}

/* IPv4 is stored IPv4-mapped; IPv6 nets must not match it (tcpdump's
 * `net ::/0` matches IPv6 only), while IPv4 nets and mapped nets do. */
Test(expr, ipv6_net_does_not_take_ipv4)
{
	tv_l3info a = pkt4("10.0.0.1", "192.0.2.9", 6, 1234, 80, true);
	cr_assert(!m("net ::/0", 0, 1, &a));
	cr_assert(!m("net 2000::/3", 0, 1, &a));
	cr_assert(m("net 10.0.0.0/8", 0, 1, &a));
	cr_assert(m("net 0.0.0.0/0", 0, 1, &a));
	cr_assert(m("not net ::/0", 0, 1, &a));
}

/* ------------------------------------------------- tcpdump's forms */

/* pcap-filter(7): protocol qualifiers in front of host, net, port,
 * portrange; proto after ip/ip6; service names.  The normal form keeps the
 * qualifiers, and writes ports as numbers with the transport a service
 * name implies. */
Test(expr, tcpdump_forms_format)
{
	fmt_is("tcp port 443", "tcp port 443");
	fmt_is("udp dst port 53", "udp dst port 53");
	fmt_is("sctp port 9", "sctp port 9");
	fmt_is("TCP Src Or Dst Port 22", "tcp port 22");
	fmt_is("tcp src and dst portrange 1-2", "tcp src and dst portrange 1-2");
	fmt_is("udp src portrange 1000-2000", "udp src portrange 1000-2000");
	fmt_is("ip proto 6", "ip proto 6");
	fmt_is("ip6 proto 58", "ip6 proto 58");
	fmt_is("ip proto \\tcp", "ip proto 6");
	fmt_is("ip proto tcp", "ip proto 6");
	fmt_is("ip6 proto ipv6-icmp", "ip6 proto 58");
	fmt_is("ip6 proto icmp6", "ip6 proto 58");
	fmt_is("proto \\udp", "udp");
	fmt_is("sctp", "proto 132");
	fmt_is("port ssh", "tcp port 22");
	fmt_is("port domain", "port 53");
	fmt_is("port https", "port 443");
	fmt_is("dst port ntp", "udp dst port 123");
	fmt_is("udp port domain", "udp port 53");
	fmt_is("tcp port https", "tcp port 443");
	fmt_is("sctp port domain", "sctp port 53");
	fmt_is("port PostgreSQL", "tcp port 5432");
	fmt_is("port ftp-data", "tcp port 20");
	fmt_is("portrange ssh-http", "tcp portrange 22-80");
	fmt_is("portrange ftp-data-ssh", "tcp portrange 20-22");
	fmt_is("portrange ssh-domain", "portrange 22-53");
	fmt_is("portrange 20-ftp", "portrange 20-21");
	fmt_is("udp portrange 20-ssh", "udp portrange 20-22");
	fmt_is("ip host 10.0.0.1", "ip host 10.0.0.1");
	fmt_is("ip6 host 2001:db8::1", "ip6 host 2001:db8::1");
	fmt_is("ip6 host ::ffff:10.0.0.1", "ip6 host ::ffff:10.0.0.1");
	fmt_is("ip src 10.0.0.1", "ip src host 10.0.0.1");
	fmt_is("ip src or dst host 10.0.0.1", "ip host 10.0.0.1");
	fmt_is("ip6 dst net 2001:db8::/32", "ip6 dst net 2001:db8::/32");
	fmt_is("ip net 10.0.0.0/8", "ip net 10.0.0.0/8");
	fmt_is("ip6 net ::ffff:10.0.0.0/104", "ip6 net ::ffff:10.0.0.0/104");
	fmt_is("not tcp port 443", "not tcp port 443");
	fmt_is("ip host 10.0.0.1 and (tcp port 443 or udp dst port domain)",
	       "ip host 10.0.0.1 and (tcp port 443 or udp dst port 53)");
	/* the unqualified words keep their old meaning */
	fmt_is("tcp and port 443", "tcp and port 443");
	fmt_is("ip and host 10.0.0.1", "ip and host 10.0.0.1");
	fmt_is("ip6 or tcp", "ip6 or tcp");
}

Test(expr, tcpdump_forms_match)
{
	tv_l3info t = pkt4("10.0.0.1", "192.168.1.2", 6, 40000, 22, true);
	tv_l3info u22 = pkt4("10.0.0.1", "192.168.1.2", 17, 40000, 22, true);
	tv_l3info u = pkt4("10.0.0.1", "8.8.8.8", 17, 5353, 53, true);
	tv_l3info t53 = pkt4("10.0.0.1", "8.8.8.8", 6, 5353, 53, true);
	tv_l3info sc = pkt4("10.0.0.1", "8.8.8.8", 132, 5353, 53, true);
	tv_l3info frag = pkt4("10.0.0.1", "192.168.1.2", 6, 0, 0, false);
	tv_l3info t6 = pkt4("2001:db8::1", "2001:db8:1::2", 6, 1234, 443, true);
	tv_l3info ic6 = pkt4("fe80::1", "ff02::1", 58, 0, 0, false);
	/* an IPv6 packet whose source is written ::ffff:10.0.0.1 */
	tv_l3info m6 = pkt4("::ffff:10.0.0.1", "2001:db8::2", 17, 1, 53, true);
	tv_l3info none;
	memset(&none, 0, sizeof none);
	m6.l3 = 6;

	cr_assert(m("tcp port 22", 0, 0, &t));
	cr_assert(!m("tcp port 22", 0, 0, &u22));
	cr_assert(m("udp port 22", 0, 0, &u22));
	cr_assert(!m("udp port 22", 0, 0, &t));
	cr_assert(!m("sctp port 22", 0, 0, &t));
	cr_assert(m("port ssh", 0, 0, &t));
	cr_assert(!m("port ssh", 0, 0, &u22)); /* ssh is tcp only */
	cr_assert(m("port 22", 0, 0, &u22));
	cr_assert(m("port domain", 0, 0, &u));
	cr_assert(m("port domain", 0, 0, &t53));
	cr_assert(m("port domain", 0, 0, &sc));
	cr_assert(m("sctp port domain", 0, 0, &sc));
	cr_assert(!m("sctp port domain", 0, 0, &u));
	cr_assert(m("udp dst port 53", 0, 0, &u));
	cr_assert(!m("udp src port 53", 0, 0, &u));
	cr_assert(!m("tcp dst port 53", 0, 0, &u));
	cr_assert(m("tcp dst port 53", 0, 0, &t53));
	cr_assert(m("udp src and dst portrange 53-5353", 0, 0, &u));
	cr_assert(!m("tcp src and dst portrange 53-5353", 0, 0, &u));
	cr_assert(m("portrange ssh-http", 0, 0, &t));
	cr_assert(!m("portrange ssh-http", 0, 0, &u22));
	cr_assert(!m("tcp port 22", 0, 0, &frag)); /* no ports known */
	cr_assert(m("not tcp port 22", 0, 0, &u22));
	cr_assert(m("tcp port 443", 0, 0, &t6));

	cr_assert(m("ip proto 6", 0, 0, &t));
	cr_assert(!m("ip proto 6", 0, 0, &t6));
	cr_assert(m("ip6 proto 6", 0, 0, &t6));
	cr_assert(!m("ip6 proto 6", 0, 0, &t));
	cr_assert(m("ip6 proto 58", 0, 0, &ic6));
	cr_assert(!m("ip proto 58", 0, 0, &ic6));
	cr_assert(m("ip proto \\tcp", 0, 0, &t));
	cr_assert(!m("ip proto 0", 0, 0, &none));

	cr_assert(m("ip host 10.0.0.1", 0, 0, &t));
	cr_assert(m("ip src 10.0.0.1", 0, 0, &t));
	cr_assert(!m("ip dst 10.0.0.1", 0, 0, &t));
	cr_assert(!m("ip host 10.0.0.1", 0, 0, &m6));
	cr_assert(m("host 10.0.0.1", 0, 0, &m6)); /* one address, two spellings */
	cr_assert(m("ip6 host ::ffff:10.0.0.1", 0, 0, &m6));
	cr_assert(!m("ip6 host ::ffff:10.0.0.1", 0, 0, &t));
	cr_assert(m("host ::ffff:10.0.0.1", 0, 0, &t));
	cr_assert(m("ip6 host 2001:db8::1", 0, 0, &t6));
	cr_assert(m("ip6 src net 2001:db8::/48", 0, 0, &t6));
	cr_assert(!m("ip6 dst net 2001:db8::/48", 0, 0, &t6));
	cr_assert(m("ip net 10.0.0.0/8", 0, 0, &t));
	cr_assert(!m("ip net 10.0.0.0/8", 0, 0, &t6));
	cr_assert(!m("ip6 net 2001:db8::/32", 0, 0, &t));
	cr_assert(!m("ip host 10.0.0.1", 0, 0, &none));
}

/* Each qualified form matches exactly what its long form does. */
Test(expr, tcpdump_forms_equal_long_forms)
{
	static const char *const pairs[][2] = {
		{ "tcp port 22", "tcp and port 22" },
		{ "udp dst port 53", "udp and dst port 53" },
		{ "sctp src portrange 1-100", "proto 132 and src portrange 1-100" },
		{ "port ssh", "tcp and port 22" },
		{ "port domain", "port 53" },
		{ "dst port ntp", "udp and dst port 123" },
		{ "portrange ssh-http", "tcp and portrange 22-80" },
		{ "ip proto 6", "ip and proto 6" },
		{ "ip6 proto 58", "ip6 and icmp6" },
		{ "ip host 10.0.0.1", "ip and host 10.0.0.1" },
		{ "ip6 host ::ffff:10.0.0.1", "ip6 and host ::ffff:10.0.0.1" },
		{ "ip6 src net 2001:db8::/32", "ip6 and src net 2001:db8::/32" },
		{ "ip dst 192.168.1.2", "ip and dst host 192.168.1.2" },
		{ "not ip net 10.0.0.0/8", "not (ip and net 10.0.0.0/8)" },
	};
	tv_l3info pk[] = {
		pkt4("10.0.0.1", "192.168.1.2", 6, 40000, 22, true),
		pkt4("10.0.0.1", "192.168.1.2", 17, 40000, 22, true),
		pkt4("10.0.0.1", "8.8.8.8", 17, 5353, 53, true),
		pkt4("10.0.0.1", "8.8.8.8", 6, 123, 53, true),
		pkt4("10.0.0.1", "8.8.8.8", 17, 9, 123, true),
		pkt4("10.0.0.1", "8.8.8.8", 132, 50, 53, true),
		pkt4("10.0.0.1", "192.168.1.2", 6, 0, 0, false),
		pkt4("2001:db8::1", "2001:db8:1::2", 6, 1234, 80, true),
		pkt4("fe80::1", "ff02::1", 58, 0, 0, false),
		pkt4("::ffff:10.0.0.1", "2001:db8::2", 17, 1, 53, true),
	};
	size_t i, j;
	pk[9].l3 = 6;
	for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
		for (j = 0; j < sizeof pk / sizeof pk[0]; j++)
			cr_assert_eq(m(pairs[i][0], 0, 0, &pk[j]), m(pairs[i][1], 0, 0, &pk[j]),
			             "'%s' and '%s' differ on packet %zu", pairs[i][0], pairs[i][1], j);
}

Test(expr, tcpdump_forms_errors)
{
	static const char q[] = "'%s' cannot qualify '%s': host, net and proto take ip or ip6; "
	                        "port and portrange take tcp, udp or sctp";
	char msg[200];

	err_is("udp port ssh", 9, 3, "service 'ssh' is tcp only (port 22)");
	err_is("tcp port ntp", 9, 3, "service 'ntp' is udp only (port 123)");
	err_is("sctp dst port http", 14, 4, "service 'http' is tcp only (port 80)");
	err_is("udp portrange ssh-http", 14, 8, "services 'ssh-http' are tcp only (ports 22-80)");
	err_is("ip6 host 10.0.0.1", 9, 8, "'ip6' needs an IPv6 address; '10.0.0.1' is IPv4 (ip takes it)");
	err_is("ip6 src 10.0.0.1", 8, 8, "'ip6' needs an IPv6 address; '10.0.0.1' is IPv4 (ip takes it)");
	err_is("ip host 2001:db8::1", 8, 11,
	       "'ip' needs an IPv4 address; '2001:db8::1' is IPv6 (ip6 takes it)");
	err_is("ip host ::ffff:10.0.0.1", 8, 15,
	       "'ip' needs an IPv4 address; '::ffff:10.0.0.1' is IPv6 (ip6 takes it)");
	err_is("ip6 net 10.0.0.0/8", 8, 10,
	       "'ip6' needs an IPv6 network; '10.0.0.0/8' is IPv4 (ip takes it)");
	err_is("ip dst net 2001:db8::/32", 11, 13,
	       "'ip' needs an IPv4 network; '2001:db8::/32' is IPv6 (ip6 takes it)");
	snprintf(msg, sizeof msg, q, "tcp", "host");
	err_is("tcp host 10.0.0.1", 4, 4, msg);
	snprintf(msg, sizeof msg, q, "udp", "net");
	err_is("udp src net 10.0.0.0/8", 8, 3, msg);
	snprintf(msg, sizeof msg, q, "tcp", "10.0.0.1");
	err_is("tcp src 10.0.0.1", 8, 8, msg);
	snprintf(msg, sizeof msg, q, "tcp", "proto");
	err_is("tcp proto 6", 4, 5, msg);
	snprintf(msg, sizeof msg, q, "ip", "port");
	err_is("ip port 53", 3, 4, msg);
	snprintf(msg, sizeof msg, q, "ip6", "portrange");
	err_is("ip6 dst portrange 1-2", 8, 9, msg);
	snprintf(msg, sizeof msg, q, "icmp", "port");
	err_is("icmp port 53", 5, 4, msg);
	snprintf(msg, sizeof msg, q, "icmp6", "host");
	err_is("tcp and icmp6 src host ::1", 18, 4, msg);
	err_is("ip src proto 6", 7, 5,
	       "expected host, net, port, portrange or an address after 'src'");
	err_is("ip proto", 8, 0, "expected a protocol name or number (0-255) after 'proto'");
	err_is("ip6 proto foo", 10, 3, "expected a protocol name or number (0-255) after 'proto'");
	err_is("ip proto \\", 9, 1, "expected a protocol name or number (0-255) after 'proto'");
	err_is("port ssh22", 5, 5, "expected a port number (0-65535) or a service name after 'port'");
	err_is("tcp port", 8, 0, "expected a port number (0-65535) or a service name after 'port'");
	err_is("port ss", 5, 2, "expected a port number (0-65535) or a service name after 'port'");
	err_is("portrange ftp-data", 10, 8,
	       "expected a port range N-M (0-65535 or service names) after 'portrange'");
	err_is("portrange http-ssh", 10, 8, "port range N-M needs N <= M");
	err_is("portrange -5", 10, 2,
	       "expected a port range N-M (0-65535 or service names) after 'portrange'");
	err_is("host 10.0.0.1 or 10.0.0.2", 17, 8,
	       "unexpected address '10.0.0.2': write 'host 10.0.0.2' (no keyword is implied or "
	       "repeated, as tcpdump would)");
	err_is("2001:db8::1", 0, 11,
	       "unexpected address '2001:db8::1': write 'host 2001:db8::1' (no keyword is implied "
	       "or repeated, as tcpdump would)");
	err_is("port 80 or 443", 11, 3,
	       "unexpected word '443': write its keyword, e.g. 'port 443' (no keyword is repeated, "
	       "as tcpdump would)");
	err_is("tcp dst port ftp or not ftp-data", 24, 8,
	       "unexpected word 'ftp-data': write its keyword, e.g. 'port ftp-data' (no keyword is "
	       "repeated, as tcpdump would)");
	err_is("tcp port 443 udp", 13, 3,
	       "unexpected word 'udp': expected and, or or end of expression");
}

/* The built-in service table: sorted (the lookup is a binary search), every
 * name found case-insensitively, and, where this machine has an
 * /etc/services entry of that name, the same port number. */
Test(expr, service_table)
{
	const char *name, *prev = NULL;
	uint16_t port;
	uint8_t proto;
	size_t i;
	for (i = 0; idx_service_at(i, &name, &port, &proto); i++) {
		char text[64], want[64], upper[32];
		size_t k;
		struct servent *se;
		if (prev)
			cr_assert_lt(strcmp(prev, name), 0, "'%s' before '%s'", prev, name);
		prev = name;
		cr_assert(proto == 0 || proto == 6 || proto == 17);
		snprintf(text, sizeof text, "src port %s", name);
		if (proto)
			snprintf(want, sizeof want, "%s src port %u", proto == 6 ? "tcp" : "udp",
			         (unsigned)port);
		else
			snprintf(want, sizeof want, "src port %u", (unsigned)port);
		fmt_is(text, want);
		for (k = 0; name[k] && k + 1 < sizeof upper; k++)
			upper[k] = (char)(name[k] >= 'a' && name[k] <= 'z' ? name[k] - 32 : name[k]);
		upper[k] = '\0';
		snprintf(text, sizeof text, "port %s", upper);
		idx_expr_free(parse_ok(text));
		se = getservbyname(name, proto == 17 ? "udp" : "tcp");
		if (se)
			cr_assert_eq(ntohs((uint16_t)se->s_port), port, "%s: /etc/services says %d",
			             name, ntohs((uint16_t)se->s_port));
	}
	cr_assert_geq(i, 40);
	cr_assert(!idx_service_at(i, &name, &port, &proto));
}

/* ------------------------------------------------------ grouping note */

static void note_is(const char *text, const char *want)
{
	idx_expr *e = parse_ok(text);
	const char *n = idx_expr_note(e);
	if (!want)
		cr_assert_null(n, "'%s': unexpected note '%s'", text, n ? n : "");
	else
		cr_assert_str_eq(n ? n : "(none)", want, "note of '%s'", text);
	idx_expr_free(e);
}

#define TD "; tcpdump reads 'and'/'or' left to right at equal precedence: "

Test(expr, grouping_note)
{
	note_is("udp or host 10.0.0.1 and port 443",
	        "read as (udp) or (host 10.0.0.1 and port 443)" TD
	        "((udp or host 10.0.0.1) and port 443)");
	note_is("host 10.0.0.1 and port 443 or udp",
	        "read as (host 10.0.0.1 and port 443) or (udp)" TD
	        "((host 10.0.0.1 and port 443) or udp)");
	note_is("tcp||udp&&!icmp", "read as (tcp) or (udp and !icmp)" TD "((tcp or udp) and !icmp)");
	note_is("not tcp or udp and\n\t  port   53",
	        "read as (not tcp) or (udp and port 53)" TD "((not tcp or udp) and port 53)");
	note_is("tcp port 1 or tcp port 2 and ip host 10.0.0.1 or vni 3 and after 5",
	        "read as (tcp port 1) or (tcp port 2 and ip host 10.0.0.1) or (vni 3 and after 5)" TD
	        "((((tcp port 1 or tcp port 2) and ip host 10.0.0.1) or vni 3) and after 5)");
	/* inside parentheses: that group is described */
	note_is("vni 5 and (udp or host 10.0.0.1 and port 443)",
	        "read as (udp) or (host 10.0.0.1 and port 443)" TD
	        "((udp or host 10.0.0.1) and port 443)");
	/* several: the outermost, leftmost is described, the others counted */
	note_is("(tcp or udp and icmp) or ip and ip6",
	        "read as ((tcp or udp and icmp)) or (ip and ip6)" TD
	        "(((tcp or udp and icmp) or ip) and ip6)"
	        "; 1 other group mixes 'and' and 'or' too");
	note_is("tcp or udp and (icmp or ip and ip6) and (ip or vni 1 and vni 2)",
	        "read as (tcp) or (udp and (icmp or ip and ip6) and (ip or vni 1 and vni 2))" TD
	        "(((tcp or udp) and (icmp or ip and ip6)) and (ip or vni 1 and vni 2))"
	        "; 2 other groups mix 'and' and 'or' too");
	/* no note: one operator, parentheses, or the and/or inside a primitive */
	note_is("", NULL);
	note_is("tcp", NULL);
	note_is("tcp and udp and icmp", NULL);
	note_is("tcp or udp or icmp", NULL);
	note_is("udp or (host 10.0.0.1 and port 443)", NULL);
	note_is("(udp or host 10.0.0.1) and port 443", NULL);
	note_is("not (tcp or udp) and icmp", NULL);
	note_is("src or dst host 10.0.0.1 and tcp", NULL);
	note_is("src and dst port 53 or tcp", NULL);
	note_is("tcp src or dst port 53 and ip", NULL);
	note_is("after 5 m ago and tcp", NULL);
	cr_assert_null(idx_expr_note(NULL));
}

/* The normal form never needs the note: tcpdump reads it the same way. */
Test(expr, grouping_note_not_for_normal_form)
{
	static const char *const texts[] = {
		"udp or host 10.0.0.1 and port 443",
		"tcp or udp and (icmp or ip and ip6) and (ip or vni 1 and vni 2)",
		"not tcp and not udp or icmp and not ip6 or vni 4",
	};
	size_t i;
	for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		char a[512];
		idx_expr *e = parse_ok(texts[i]);
		cr_assert_not_null(idx_expr_note(e));
		idx_expr_format(e, a, sizeof a);
		idx_expr_free(e);
		note_is(a, NULL);
	}
}

/* A long chain: the note is cut to a bounded size, ends in "...", and
 * stays one line. */
Test(expr, grouping_note_bounded)
{
	size_t n = 5000, i, len = 0;
	char *buf = malloc(n * 12 + 16);
	idx_expr *e;
	const char *note;
	cr_assert_not_null(buf);
	if (!buf)
		return;
	memcpy(buf, "tcp", 3);
	len = 3;
	for (i = 1; i < n; i++) {
		memcpy(buf + len, i % 2 ? " or\nudp" : " and tcp", i % 2 ? 7 : 8);
		len += i % 2 ? 7 : 8;
	}
	buf[len] = '\0';
	e = parse_ok(buf);
	note = idx_expr_note(e);
	cr_assert_not_null(note);
	cr_assert_leq(strlen(note), 1100);
	cr_assert_eq(strncmp(note, "read as (tcp) or (udp and tcp) or (udp and tcp)", 47), 0);
	cr_assert_str_eq(note + strlen(note) - 3, "...");
	cr_assert_null(strchr(note, '\n'));
	idx_expr_free(e);
	free(buf);
}

Test(expr, tcpdump_forms_round_trip)
{
	static const char *const texts[] = {
		"tcp port 443 or udp dst port domain and ip host 10.0.0.1",
		"ip6 src net 2001:db8::/32 and not ip6 proto 58",
		"ip6 host ::ffff:10.0.0.1 or ip6 net ::ffff:0:0/96",
		"sctp src and dst portrange ssh-domain and ip proto \\sctp",
		"port ssh or port https or dst port ntp or portrange ftp-data-telnet",
		"not (ip src 10.0.0.1 and tcp dst port 1) or ip proto 255",
	};
	tv_l3info pk[] = {
		pkt4("10.0.0.1", "192.168.1.2", 6, 40000, 443, true),
		pkt4("10.0.0.1", "8.8.8.8", 17, 5353, 53, true),
		pkt4("2001:db8::1", "2001:db8:1::2", 58, 0, 0, false),
		pkt4("10.0.0.1", "8.8.8.8", 132, 22, 53, true),
		pkt4("::ffff:10.0.0.1", "2001:db8::2", 17, 1, 123, true),
	};
	size_t i, j;
	pk[4].l3 = 6;
	for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		char a[512], b[512];
		idx_expr *e1 = parse_ok(texts[i]), *e2;
		idx_expr_format(e1, a, sizeof a);
		e2 = parse_ok(a);
		idx_expr_format(e2, b, sizeof b);
		cr_assert_str_eq(a, b);
		cr_assert_eq(e1->n, e2->n, "'%s' -> '%s'", texts[i], a);
		cr_assert_eq(memcmp(e1->nodes, e2->nodes, (size_t)e1->n * sizeof e1->nodes[0]), 0,
		             "'%s' -> '%s': another tree", texts[i], a);
		for (j = 0; j < sizeof pk / sizeof pk[0]; j++) {
			tv_tunmeta tun;
			memset(&tun, 0, sizeof tun);
			cr_assert_eq(idx_expr_match(e1, 0, &tun, &pk[j]),
			             idx_expr_match(e2, 0, &tun, &pk[j]), "'%s' packet %zu", a, j);
		}
		idx_expr_free(e1);
		idx_expr_free(e2);
	}
}

/* 64 levels of "x or y and (...)": the normal form puts parentheses around
 * each and chain inside an or, twice the nesting in all, and still parses
 * to the same expression. */
Test(expr, deep_alternation_normal_form)
{
	size_t lv = 64, i, len = 0;
	char *buf = malloc(lv * 40 + 64), *a = malloc(lv * 60 + 64), *b = malloc(lv * 60 + 64);
	idx_expr *e1, *e2;
	cr_assert(buf && a && b);
	if (!buf || !a || !b)
		return;
	for (i = 0; i < lv; i++)
		len += (size_t)sprintf(buf + len, "(vni %zu or tcp and ", i);
	len += (size_t)sprintf(buf + len, "udp");
	for (i = 0; i < lv; i++)
		buf[len++] = ')';
	buf[len] = '\0';
	e1 = parse_ok(buf);
	idx_expr_format(e1, a, lv * 60 + 64);
	cr_assert_eq(strncmp(a, "vni 0 or (tcp and (vni 1 or (tcp and (vni 2", 43), 0, "%s", a);
	e2 = parse_ok(a);
	cr_assert_null(idx_expr_note(e2));
	idx_expr_format(e2, b, lv * 60 + 64);
	cr_assert_str_eq(a, b);
	idx_expr_free(e1);
	idx_expr_free(e2);
	buf[0] = '(';
	len = 0;
	for (i = 0; i <= lv; i++)
		len += (size_t)sprintf(buf + len, "(vni %zu or tcp and ", i);
	len += (size_t)sprintf(buf + len, "udp");
	for (i = 0; i <= lv; i++)
		buf[len++] = ')';
	buf[len] = '\0';
	err_is(buf, 0, 1, "expression nested too deeply (more than 64 levels)");
	free(buf);
	free(a);
	free(b);
}

Test(expr, time_window_built_without_text)
{
	idx_expr *e = NULL;
	uint64_t lo, hi;
	char buf[160];
	cr_assert_eq(idx_expr_time_window(1764000000ull * 1000000000ull, 0, &e), 0);
	idx_expr_time_bounds(e, &lo, &hi);
	cr_assert_eq(lo, 1764000000ull * 1000000000ull);
	cr_assert_eq(hi, UINT64_MAX);
	idx_expr_format(e, buf, sizeof buf);
	cr_assert_str_eq(buf, "after 2025-11-24T16:00:00.000000000Z");
	idx_expr_free(e);
	cr_assert_eq(idx_expr_time_window(10, 20, &e), 0);
	idx_expr_time_bounds(e, &lo, &hi);
	cr_assert_eq(lo, 10);
	cr_assert_eq(hi, 19);
	cr_assert(idx_expr_match(e, 10, NULL, NULL));
	cr_assert(!idx_expr_match(e, 20, NULL, NULL));
	idx_expr_free(e);
}
