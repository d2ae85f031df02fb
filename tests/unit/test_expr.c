/*
 * test_expr.c — the query language: every primitive, precedence, errors
 * with their positions, time formats, bounds, matcher truth tables and the
 * normalised form.
 */
#include <criterion/criterion.h>
#include <stdio.h>
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
	       "host 10.0.0.1 or host 10.0.0.2 and port 22");
	fmt_is("(host 10.0.0.1 or host 10.0.0.2) and port 22",
	       "(host 10.0.0.1 or host 10.0.0.2) and port 22");
	fmt_is("not host 10.0.0.1 and port 22", "not host 10.0.0.1 and port 22");
	fmt_is("not (host 10.0.0.1 and port 22)", "not (host 10.0.0.1 and port 22)");
	fmt_is("!tcp&&!udp||icmp", "not tcp and not udp or icmp");
	fmt_is("((tcp))", "tcp");
	fmt_is("(tcp and udp) and (icmp and ip)", "tcp and udp and icmp and ip");
	fmt_is("tcp or (udp or icmp)", "tcp or udp or icmp");
	fmt_is("not not tcp", "not not tcp");
	fmt_is("tcp and (udp or (icmp and (ip or ip6)))", "tcp and (udp or icmp and (ip or ip6))");

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
	err_is("port", 4, 0, "expected a port number (0-65535) after 'port'");
	err_is("port 65536", 5, 5, "expected a port number (0-65535) after 'port'");
	err_is("port x", 5, 1, "expected a port number (0-65535) after 'port'");
	err_is("portrange 5", 10, 1, "expected a port range N-M (0-65535) after 'portrange'");
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
		/* nesting cap */
		char deep[300];
		memset(deep, '(', 100);
		strcpy(deep + 100, "tcp");
		err_is(deep, 64, 1, "expression nested too deeply (more than 64 levels)");
		memset(deep, '!', 100);
		err_is(deep, 64, 1, "expression nested too deeply (more than 64 levels)");
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
	int rc = idx_time_parse(s, NOW, &v);
	cr_assert_eq(rc, 0, "time '%s': %d", s, rc);
	return v;
}

static void tbad(const char *s)
{
	uint64_t v;
	cr_assert_neq(idx_time_parse(s, NOW, &v), 0, "time '%s' should fail", s);
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

	idx_time_format(1795788000ull * S + 123456789, buf, sizeof buf);
	cr_assert_str_eq(buf, "2026-11-27T14:00:00.123456789Z");
	idx_time_format(0, buf, sizeof buf);
	cr_assert_str_eq(buf, "1970-01-01T00:00:00.000000000Z");
	idx_time_format(UINT64_MAX, buf, sizeof buf);
	cr_assert_str_eq(buf, "2554-07-21T23:34:33.709551615Z");
	cr_assert_eq(tp(buf), UINT64_MAX);
	{
		/* format/parse round trip over many days, incl. leap years */
		uint64_t t;
		for (t = 0; t < 20000ull * 86400 * S; t += 86399ull * S + 7777) {
			idx_time_format(t, buf, sizeof buf);
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
