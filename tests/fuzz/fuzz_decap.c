/*
 * fuzz_decap.c — libFuzzer target for the decapsulator: ingest/decap.c
 * and its layers (layer.c, tunnel.c, outer.c, fragports.c).
 *
 * Input: byte 0 picks the link type (low 3 bits: the seven supported ones
 * and one unsupported) and how much the "capture" cut (high 5 bits, in
 * 64-byte steps, so origlen > caplen is exercised); the rest is the frame.
 * The decapsulator is created once and kept: its fragment table and its
 * outer reassembler carry state from input to input, as in a real run
 * (fuzz_reasm.c drives the reassembler with well-formed fragments).
 * Replay's ingest_tunnel_payload() runs on the same input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int linktypes[8] = {
	INGEST_LINK_ETHERNET, INGEST_LINK_NULL, INGEST_LINK_RAW, INGEST_LINK_LINUX_SLL,
	INGEST_LINK_IPV4, INGEST_LINK_IPV6, INGEST_LINK_LINUX_SLL2, 147 /* unsupported */
};

static ingest_decap *dec;
static ingest_decap_cfg cfg;
static tv_counters ctr;

/* Reads every byte the results point at, so ASan sees any bad pointer. */
static unsigned touch(const uint8_t *p, uint32_t n)
{
	unsigned s = 0;
	uint32_t i;
	for (i = 0; i < n; i++)
		s += p[i];
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tv_pkt pkt;
	tv_l3info info;
	volatile unsigned sink = 0;
	uint32_t caplen, origlen;
	int lt;

	const uint8_t *pl;
	uint32_t plen;
	uint16_t sport;

	if (dec == NULL) {
		ingest_decap_cfg_default(&cfg);
		cfg.vxlan_ports[1] = 8472; /* a second port, as users configure */
		cfg.n_vxlan_ports = 2;
		if (ingest_decap_new(&cfg, &ctr, &dec) != 0)
			abort();
	}
	if (size < 1 || size > 262144)
		return 0;
	lt = linktypes[data[0] & 7];
	caplen = (uint32_t)(size - 1);
	origlen = caplen + (uint32_t)(data[0] >> 3) * 64;

	if (ingest_decap_packet(dec, lt, data + 1, caplen, origlen, 1, &pkt) == INGEST_STORE) {
		if (pkt.caplen > pkt.origlen)
			abort();
		if (pkt.info.l3 != 0 && pkt.info.l3 != 4 && pkt.info.l3 != 6)
			abort();
		if (pkt.info.l3 == 0 && (pkt.info.has_ports || pkt.info.key.proto))
			abort();
		if (pkt.tun.tunnel == 0 && pkt.tun.vni != TV_VNI_NONE)
			abort();
		if (pkt.decap_error && pkt.tun.tunnel != 0)
			abort();
		sink += touch(pkt.frame, pkt.caplen);
		if (pkt.info.l3_off > pkt.caplen)
			abort();
		/* the stateless parser agrees, except for fragment ports */
		ingest_parse_inner(pkt.frame, pkt.caplen, &info);
		if (info.l3 != pkt.info.l3 || info.ip_len != pkt.info.ip_len ||
		    info.key.proto != pkt.info.key.proto ||
		    (info.frag != TV_FRAG_LATER && (info.key.sport != pkt.info.key.sport ||
		                                   info.key.dport != pkt.info.key.dport)))
			abort();
	}
	/* outer fragments given up or released come out as packets too */
	while (ingest_decap_next(dec, &pkt)) {
		if (pkt.caplen > pkt.origlen || (pkt.decap_error && pkt.tun.tunnel != 0))
			abort();
		sink += touch(pkt.frame, pkt.caplen);
	}
	/* replay's use of the same outer walk: the payload lies in the frame */
	if (ingest_tunnel_payload(&cfg, lt, data + 1, caplen, &pl, &plen, &sport)) {
		if (pl < data + 1 || plen > caplen || (size_t)(pl - (data + 1)) + plen > caplen)
			abort();
		sink += touch(pl, plen) + sport;
	}
	/* the stateless parser straight on the input */
	ingest_parse_inner(data + 1, caplen, &info);
	sink += info.l3 + info.key.sport;
	(void)sink;
	return 0;
}
