/*
 * test_tv.c — shared types in ingest/tv.c: error strings, address parsing
 * and formatting, counter names.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "../../ingest/tv.h"

Test(tv, strerror_covers_every_code)
{
	int e;
	cr_assert_str_eq(tv_strerror(0), "success");
	for (e = TV_E_FORMAT; e < TV_E__END; e++) {
		const char *s = tv_strerror(e);
		cr_assert_not_null(s);
		cr_assert_str_neq(s, "unknown error", "code %d has no text", e);
	}
	cr_assert_str_eq(tv_strerror(TV_E_FORMAT - 1), "unknown error");
	cr_assert_str_eq(tv_strerror(TV_E__END), "unknown error");
	cr_assert_str_eq(tv_strerror(-1), "unknown error");
	cr_assert_str_eq(tv_strerror(ENOENT), strerror(ENOENT));
}

static void round_trip(const char *in, const char *want, bool v4)
{
	tv_addr a, b;
	char buf[TV_ADDR_STRLEN];
	cr_assert_eq(tv_addr_parse(in, &a), 0, "%s", in);
	cr_assert_eq(tv_addr_is_v4(&a), v4, "%s", in);
	tv_addr_format(&a, buf, sizeof buf);
	cr_assert_str_eq(buf, want);
	cr_assert_eq(tv_addr_parse(buf, &b), 0);
	cr_assert(memcmp(&a, &b, sizeof a) == 0);
}

Test(tv, addr_round_trips)
{
	round_trip("10.0.3.7", "10.0.3.7", true);
	round_trip("0.0.0.0", "0.0.0.0", true);
	round_trip("255.255.255.255", "255.255.255.255", true);
	round_trip("2001:db8::1", "2001:db8::1", false);
	round_trip("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1", false);
	round_trip("::", "::", false);
	round_trip("fe80::1:2:3:4", "fe80::1:2:3:4", false);
	/* an IPv4-mapped IPv6 address is the IPv4 address */
	round_trip("::ffff:192.168.1.1", "192.168.1.1", true);
}

Test(tv, addr_v4_mapping_layout)
{
	tv_addr a;
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	static const uint8_t want[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1 };
	tv_addr_from_v4(&a, v4);
	cr_assert(memcmp(a.b, want, 16) == 0);
	tv_addr_from_v6(&a, want);
	cr_assert(tv_addr_is_v4(&a));
}

Test(tv, addr_parse_rejects)
{
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "a.b.c.d", "1.2.3.4 ", "2001:db8:::1",
		"2001:db8::g", "1:2:3:4:5:6:7:8:9", "::ffff:1.2.3", "10.0.0.0/8",
	};
	size_t i;
	tv_addr a;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(tv_addr_parse(bad[i], &a), TV_E_SYNTAX, "\"%s\" accepted", bad[i]);
}

Test(tv, addr_format_small_buffer)
{
	tv_addr a;
	char buf[4] = "xyz";
	tv_addr_parse("2001:db8::1", &a);
	tv_addr_format(&a, buf, sizeof buf);
	cr_assert_eq(buf[0], '\0');
	tv_addr_format(&a, buf, 0); /* must not write */
}

Test(tv, counter_names_unique_and_findable)
{
	int i, j;
	for (i = 0; i < TV_CTR__COUNT; i++) {
		const char *n = tv_counter_name(i);
		cr_assert_not_null(n);
		cr_assert(strlen(n) > 0);
		cr_assert_not_null(strchr(n, '.'), "%s is not dotted", n);
		cr_assert_eq(tv_counter_find(n), i, "%s", n);
		for (j = i + 1; j < TV_CTR__COUNT; j++)
			cr_assert_str_neq(n, tv_counter_name(j), "duplicate %s", n);
	}
	cr_assert_null(tv_counter_name(-1));
	cr_assert_null(tv_counter_name(TV_CTR__COUNT));
	cr_assert_eq(tv_counter_find("no.such.counter"), -1);
	cr_assert_eq(tv_counter_find(""), -1);
	cr_assert_eq(tv_counter_find("decap.vxlan.bad_flags"), TV_CTR_DECAP_VXLAN_BAD_FLAGS);
}

Test(tv, cursor_never_reads_past_end)
{
	static const uint8_t b[5] = { 1, 2, 3, 4, 5 };
	tv_cur c = tv_cur_make(b, sizeof b);
	uint32_t v32 = 0;
	uint64_t v64 = 0;
	uint16_t v16 = 0;
	uint8_t out[8];
	cr_assert(!tv_cur_be64(&c, &v64));
	cr_assert_eq(c.left, 5);
	cr_assert(tv_cur_be32(&c, &v32));
	cr_assert_eq(v32, 0x01020304u);
	cr_assert(!tv_cur_be16(&c, &v16));
	cr_assert(!tv_cur_bytes(&c, out, 2));
	cr_assert(!tv_cur_skip(&c, (size_t)-1));
	cr_assert_eq(c.left, 1);
}
