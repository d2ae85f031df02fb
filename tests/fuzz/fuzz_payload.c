/*
 * fuzz_payload.c — libFuzzer target for the payload look (report/payload.c)
 * and the mirror-filter JSON reader (report/mirrorcfg.c).
 *
 * Input: byte 0 picks what is fuzzed (bit 7 set: the rest is filter JSON,
 * then sessions JSON, then one evaluation); otherwise bit 0 picks TCP/UDP and
 * bytes 1-4 are the source and destination ports; the rest is the payload,
 * copied to a buffer of exactly its size so that a read past the end is seen
 * by ASan.  The payload is also wrapped in an IPv4/TCP frame and located.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../report/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n >= cap)
		abort(); /* not terminated */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	report_payload o;
	uint8_t *p;
	size_t n;
	uint16_t sp, dp;
	uint8_t proto;
	char red[80];

	if (size < 5)
		return 0;
	if (data[0] & 0x80) {
		report_mirrorcfg *m;
		report_mirror_decision d;
		tv_5tuple k;
		char err[256];
		if (report_mirrorcfg_new(&m))
			return 0;
		report_mirrorcfg_load_filters_text(m, (const char *)data + 1, size - 1, "fuzz", err, sizeof err);
		report_mirrorcfg_load_sessions_text(m, (const char *)data + 1, size - 1, "fuzz", err, sizeof err);
		memset(&k, 0, sizeof k);
		memcpy(k.src.b, data + 1, size - 1 < 16 ? size - 1 : 16);
		k.proto = data[1];
		k.dport = (uint16_t)(data[2] << 8 | data[3]);
		report_mirrorcfg_eval(m, "eni-1", 1 + (data[0] & 1), &k, data[0] & 2, &d);
		report_mirrorcfg_free(m);
		return 0;
	}
	proto = (data[0] & 1) ? 17 : 6;
	sp = (uint16_t)(data[1] << 8 | data[2]);
	dp = (uint16_t)(data[3] << 8 | data[4]);
	n = size - 5;
	p = malloc(n ? n : 1);
	if (!p)
		return 0;
	memcpy(p, data + 5, n);
	report_payload_look(p, n, proto, sp, dp, &o);
	check_text(o.sni, sizeof o.sni);
	check_text(o.host, sizeof o.host);
	check_text(o.path, sizeof o.path);
	check_text(o.method, sizeof o.method);
	check_text(o.dns_name, sizeof o.dns_name);
	check_text(o.banner, sizeof o.banner);
	check_text(o.user, sizeof o.user);
	check_text(o.secret, sizeof o.secret);
	if (o.app < 0 || o.app >= REPORT_APP__COUNT)
		abort();
	report_redact(o.secret, red, sizeof red);
	free(p);

	/* the same bytes as a stored frame: Ethernet + IPv4 (+ TCP header from the input) */
	{
		size_t fl = 14 + 20 + n;
		uint8_t *f = malloc(fl);
		tv_l3info info;
		size_t off, len;
		if (!f)
			return 0;
		memset(f, 0, 34);
		f[12] = 0x08;
		f[14] = 0x45;
		f[16] = (uint8_t)((20 + n) >> 8);
		f[17] = (uint8_t)(20 + n);
		f[23] = proto;
		memcpy(f + 34, data + 5, n);
		memset(&info, 0, sizeof info);
		info.l3 = 4;
		info.has_ports = 1;
		info.l3_off = 14;
		info.ip_len = (uint32_t)(20 + n);
		info.key.proto = proto;
		if (report_payload_locate(f, (uint32_t)fl, &info, &off, &len) && (off > fl || len > fl - off))
			abort();
		free(f);
	}
	return 0;
}
