/*
 * fuzz_reasm.c — libFuzzer target for the outer-fragment reassembler
 * (ingest/reasm.c) through the decapsulator's calls: ingest_decap_packet,
 * ingest_decap_next, ingest_decap_flush.
 *
 * Random bytes rarely make an IPv4 or IPv6 fragment of a tunnel datagram,
 * so the input is a list of fragment descriptions and the harness writes
 * the headers:
 *
 *   byte 0     flags: bit 0 IPv6, bit 1 MF/M, bit 2 UDP to 4789 (else 53)
 *              in the first fragment's data, bit 3 raw (the rest of the
 *              record is fed as an Ethernet frame as it is), bits 4-5 the
 *              datagram id (4 datagrams), bit 6 protocol TCP, bit 7 a
 *              capture cut (caplen one third of the frame)
 *   byte 1-2   fragment offset in 8-byte units (big-endian, 13 bits)
 *   byte 3     time step in seconds (0-255; the timeout is 30 s)
 *   byte 4-5   data length (big-endian, at most what the record has)
 *   then       the data bytes
 *
 * The decapsulator is created once per input with a small table (4
 * datagrams, the smallest byte limit) so the limits are reached.  Checks:
 * every packet handed out has caplen <= origlen and readable bytes; a
 * packet with decap_error has no tunnel; after ingest_decap_flush() and a
 * drain nothing is left, and a second flush gives nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t frame[70000];
static tv_counters ctr;

static unsigned check(const tv_pkt *p)
{
	unsigned s = 0;
	uint32_t i;
	if (p->caplen > p->origlen || (p->caplen && !p->frame))
		abort();
	if (p->decap_error && p->tun.tunnel != TV_TUN_NONE)
		abort();
	for (i = 0; i < p->caplen; i++)
		s += p->frame[i];
	return s;
}

static size_t build(const uint8_t *d, size_t n, uint32_t off8, uint8_t flags)
{
	bool v6 = flags & 1, more = flags & 2;
	uint16_t id = (uint16_t)(0x100 + ((flags >> 4) & 3));
	size_t h, i;
	static const uint8_t macs[12] = { 0, 0, 0x5e, 0, 1, 1, 2, 0, 0, 0, 0, 2 };

	memcpy(frame, macs, 12);
	if (!v6) {
		tv_put_be16(frame + 12, 0x0800);
		frame[14] = 0x45;
		frame[15] = 0;
		tv_put_be16(frame + 16, (uint16_t)(20 + n));
		tv_put_be16(frame + 18, id);
		tv_put_be16(frame + 20, (uint16_t)((more ? 0x2000 : 0) | (off8 & 0x1fff)));
		frame[22] = 64;
		frame[23] = (flags & 0x40) ? 6 : 17;
		tv_put_be16(frame + 24, 0);
		tv_put_be32(frame + 26, 0x0a000001u);
		tv_put_be32(frame + 30, 0x0a000002u);
		h = 34;
	} else {
		tv_put_be16(frame + 12, 0x86dd);
		tv_put_be32(frame + 14, 0x60000000u);
		tv_put_be16(frame + 18, (uint16_t)(8 + n));
		frame[20] = 44;
		frame[21] = 64;
		memset(frame + 22, 0, 32);
		frame[22] = 0x20;
		frame[37] = 1;
		frame[38] = 0x20;
		frame[53] = 2;
		frame[54] = (flags & 0x40) ? 6 : 17;
		frame[55] = 0;
		tv_put_be16(frame + 56, (uint16_t)(((off8 & 0x1fff) << 3) | (more ? 1 : 0)));
		tv_put_be32(frame + 58, id);
		h = 62;
	}
	for (i = 0; i < n; i++)
		frame[h + i] = d[i];
	if (off8 == 0 && n >= 8) {
		/* the first fragment starts with a UDP header */
		tv_put_be16(frame + h, 50000);
		tv_put_be16(frame + h + 2, (flags & 4) ? 4789 : 53);
	}
	return h + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ingest_decap_cfg cfg;
	ingest_decap *dec = NULL;
	tv_pkt pkt;
	volatile unsigned sink = 0;
	uint64_t ts = 1700000000ull * 1000000000ull;
	size_t pos = 0;
	int steps = 0;

	ingest_decap_cfg_default(&cfg);
	cfg.reasm_max_datagrams = 4;
	cfg.reasm_max_bytes = 65535u + 256u;
	if (ingest_decap_new(&cfg, &ctr, &dec) != 0)
		abort();
	while (pos + 6 <= size && steps++ < 2000) {
		uint8_t flags = data[pos];
		uint32_t off8 = (uint32_t)tv_get_be16(data + pos + 1) & 0x1fff;
		size_t n = tv_get_be16(data + pos + 4), len;
		uint32_t caplen;
		pos += 6;
		if (n > size - pos)
			n = size - pos;
		if (n > 65000)
			n = 65000;
		ts += (uint64_t)data[pos - 3] * 1000000000ull;
		if (flags & 8) {
			memcpy(frame, data + pos, n);
			len = n;
		} else {
			len = build(data + pos, n, off8, flags);
		}
		pos += n;
		caplen = (flags & 0x80) ? (uint32_t)len / 3 : (uint32_t)len;
		if (ingest_decap_packet(dec, INGEST_LINK_ETHERNET, frame, caplen, (uint32_t)len, ts,
		                        &pkt) == INGEST_STORE)
			sink += check(&pkt);
		while (ingest_decap_next(dec, &pkt))
			sink += check(&pkt);
	}
	ingest_decap_flush(dec);
	while (ingest_decap_next(dec, &pkt))
		sink += check(&pkt);
	ingest_decap_flush(dec);
	if (ingest_decap_next(dec, &pkt))
		abort();
	ingest_decap_free(dec);
	(void)sink;
	return 0;
}
