/*
 * fuzz_expr.c — libFuzzer target for the query language.
 *
 * Parses arbitrary text; when it parses, matches it against a few fixed
 * packets, takes its time bounds, checks that its note (if any) is one
 * bounded line, formats it, and checks that the normalised form parses back
 * to the same normalised form, without a note.  Also feeds the
 * text to tv_time_parse and checks that a parsed time formats and parses
 * back to the same nanosecond.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../index/idx.h"

#define NOW 1800000000123456789ull

static void mkpkt(tv_l3info *i, const char *src, const char *dst, uint8_t l3, uint8_t proto,
                  uint16_t sp, uint16_t dp, bool ports)
{
	memset(i, 0, sizeof *i);
	i->l3 = l3;
	if (l3) {
		tv_addr_parse(src, &i->key.src);
		tv_addr_parse(dst, &i->key.dst);
	}
	i->key.proto = proto;
	i->key.sport = sp;
	i->key.dport = dp;
	i->has_ports = ports;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	idx_expr *e = NULL, *e2 = NULL;
	idx_expr_err err;
	uint64_t ts;
	tv_l3info pk[6];
	tv_tunmeta tun;
	size_t cap = size * 64 + 256, i;
	char *f1, *f2;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	if (tv_time_parse(text, NOW, &ts) == 0) {
		char buf[48];
		uint64_t back = 0;
		tv_time_format(ts, buf, sizeof buf);
		if (tv_time_parse(buf, NOW, &back) != 0 || back != ts)
			abort();
	}

	if (idx_expr_parse(text, NOW, &e, &err) != 0) {
		if (e || err.pos < 0 || (size_t)err.pos > size || err.len < 0 ||
		    (size_t)err.pos + (size_t)err.len > size || strlen(err.msg) == 0)
			abort();
		free(text);
		return 0;
	}
	mkpkt(&pk[0], "10.0.0.1", "192.168.1.2", 4, 6, 40000, 22, true);
	mkpkt(&pk[1], "2001:db8::1", "ff02::1", 6, 17, 53, 5353, true);
	mkpkt(&pk[2], NULL, NULL, 0, 0, 0, 0, false);
	mkpkt(&pk[3], "10.0.0.1", "10.0.0.2", 4, 1, 0, 0, false);
	mkpkt(&pk[4], "10.0.0.1", "10.0.0.2", 4, 132, 22, 53, true);
	mkpkt(&pk[5], "::ffff:10.0.0.1", "2001:db8::2", 6, 58, 0, 0, false);
	memset(&tun, 0, sizeof tun);
	{
		const char *note = idx_expr_note(e);
		if (note && (strlen(note) > 1200 || strchr(note, '\n')))
			abort();
	}
	for (i = 0; i < 6; i++) {
		tun.vni = (uint32_t)i * 5;
		(void)idx_expr_match(e, NOW - i * 1000000000ull, &tun, &pk[i]);
		(void)idx_expr_match(e, i, NULL, &pk[i]);
	}
	{
		uint64_t lo, hi;
		idx_expr_time_bounds(e, &lo, &hi);
	}

	f1 = malloc(cap);
	f2 = malloc(cap);
	if (f1 && f2) {
		idx_expr_format(e, f1, cap);
		if (strlen(f1) + 1 < cap) {
			if (idx_expr_parse(f1, NOW, &e2, &err) != 0)
				abort(); /* the normal form must parse */
			if (idx_expr_note(e2))
				abort(); /* and reads the same in tcpdump */
			idx_expr_format(e2, f2, cap);
			if (strcmp(f1, f2) != 0)
				abort();
			for (i = 0; i < 6; i++) {
				tun.vni = (uint32_t)i * 5;
				if (idx_expr_match(e, NOW - i, &tun, &pk[i]) !=
				    idx_expr_match(e2, NOW - i, &tun, &pk[i]))
					abort();
			}
		}
		idx_expr_format(e, f1, 7); /* truncation */
	}
	free(f1);
	free(f2);
	idx_expr_free(e2);
	idx_expr_free(e);
	free(text);
	return 0;
}
