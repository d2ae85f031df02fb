/*
 * test_reasm.c — reassembly of outer IP fragments of tunnel traffic,
 * through the decapsulator's public calls (ingest_decap_packet,
 * ingest_decap_next, ingest_decap_flush): in order, reversed, overlapping,
 * duplicate, timeout, table full, too big, too many, malformed, not a
 * tunnel, IPv6, a capture that cut a fragment, link types other than
 * Ethernet, and the end of input.
 *
 * One small VXLAN datagram is written out in hex as two fragments; the
 * others come from the fragmenter below (outer Ethernet + IPv4 or IPv6
 * with a Fragment header, slices of one UDP datagram).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../ingest/ingest.h"

/* VXLAN VNI 42 from 10.0.0.1:50000 to 10.0.0.2:4789, IPv4 id 0x77, carrying
 * inner_frame; the UDP datagram (94 bytes) is cut after 48 bytes. */
static const uint8_t frag1[] = {
	0x00, 0x00, 0x5e, 0x00, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
	0x45, 0x00, 0x00, 0x44, 0x00, 0x77, 0x20, 0x00, 0x40, 0x11, 0x46, 0x30, 0x0a, 0x00,
	0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0xc3, 0x50, 0x12, 0xb5, 0x00, 0x5e, 0x00, 0x00,
	0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x45, 0x00, 0x00, 0x40, 0x00, 0x02,
	0x00, 0x00, 0x40, 0x06, 0xf7, 0x62, 0xc0, 0xa8, 0x01, 0x01, 0xc0, 0xa8,
};

static const uint8_t frag2[] = {
	0x00, 0x00, 0x5e, 0x00, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
	0x45, 0x00, 0x00, 0x42, 0x00, 0x77, 0x00, 0x06, 0x40, 0x11, 0x66, 0x2c, 0x0a, 0x00,
	0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x01, 0x02, 0x04, 0xd2, 0x00, 0x50, 0x00, 0x00,
	0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e,
	0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78,
};

/* Inner Ethernet + IPv4 192.168.1.1 -> 192.168.1.2, TCP 1234 -> 80 SYN, 24 bytes. */
static const uint8_t inner_frame[] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
	0x45, 0x00, 0x00, 0x40, 0x00, 0x02, 0x00, 0x00, 0x40, 0x06, 0xf7, 0x62, 0xc0, 0xa8,
	0x01, 0x01, 0xc0, 0xa8, 0x01, 0x02, 0x04, 0xd2, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8,
	0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x61, 0x62,
	0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70,
	0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78,
};

#define T0 1700000000000000000ull
#define SEC 1000000000ull

static ingest_decap *D;
static tv_counters C;
static ingest_decap_cfg CFG;

static void setup_cfg(void (*tweak)(ingest_decap_cfg *))
{
	memset(&C, 0, sizeof C);
	ingest_decap_cfg_default(&CFG);
	if (tweak)
		tweak(&CFG);
	cr_assert_eq(ingest_decap_new(&CFG, &C, &D), 0);
}

static void setup(void) { setup_cfg(NULL); }
static void teardown(void) { ingest_decap_free(D); D = NULL; }

TestSuite(reasm, .init = setup, .fini = teardown);

#define CTR(name) (C.v[TV_CTR_##name])

/* What came out of one call and the drain after it. */
typedef struct out {
	int verdict;
	tv_pkt pkt;            /* the call's own result */
	uint8_t frame[70000];  /* its frame, copied */
	int nnext;             /* packets from ingest_decap_next() */
	tv_pkt next[128];
	uint32_t next_len[128];
	uint8_t next_first[128][64];
} out;

static void drain(out *o)
{
	tv_pkt p;
	o->nnext = 0;
	while (ingest_decap_next(D, &p)) {
		cr_assert_lt(o->nnext, 128);
		o->next[o->nnext] = p;
		o->next_len[o->nnext] = p.caplen;
		memcpy(o->next_first[o->nnext], p.frame, p.caplen < 64 ? p.caplen : 64);
		o->nnext++;
	}
}

static out *feed_lt(int lt, const uint8_t *b, size_t n, uint32_t origlen, uint64_t ts)
{
	static out o;
	memset(&o.pkt, 0, sizeof o.pkt);
	o.verdict = ingest_decap_packet(D, lt, b, (uint32_t)n, origlen ? origlen : (uint32_t)n, ts,
	                                &o.pkt);
	if (o.verdict == INGEST_STORE) {
		cr_assert_leq(o.pkt.caplen, sizeof o.frame);
		memcpy(o.frame, o.pkt.frame, o.pkt.caplen);
	}
	drain(&o);
	return &o;
}

static out *feed(const uint8_t *b, size_t n, uint64_t ts)
{
	return feed_lt(INGEST_LINK_ETHERNET, b, n, 0, ts);
}

/* ------------------------------------------------------------------ */
/* Fragmenter                                                          */
/* ------------------------------------------------------------------ */

static const uint8_t OUT_MACS[12] = { 0, 0, 0x5e, 0, 1, 1, 2, 0, 0, 0, 0, 2 };
static const uint8_t A6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t B6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* A UDP datagram (header + payload) into dst; returns its length. */
static size_t mk_udp(uint8_t *dst, uint16_t dport, const uint8_t *payload, size_t n)
{
	tv_put_be16(dst, 50000);
	tv_put_be16(dst + 2, dport);
	tv_put_be16(dst + 4, (uint16_t)(8 + n));
	tv_put_be16(dst + 6, 0);
	memcpy(dst + 8, payload, n);
	return 8 + n;
}

/* VXLAN (VNI vni) + an inner TCP frame with n payload bytes; returns the
 * UDP datagram in dgram and the inner frame in inner. */
static size_t mk_vxlan_dgram(uint8_t *dgram, uint8_t *inner, size_t *inner_len, uint32_t vni,
                             size_t n)
{
	uint8_t vx[70000];
	size_t i, il;
	memcpy(inner, inner_frame, sizeof inner_frame);
	il = 14 + 20 + 20 + n;
	for (i = 0; i < n; i++)
		inner[54 + i] = (uint8_t)(i * 7 + 3);
	tv_put_be16(inner + 14 + 2, (uint16_t)(il - 14));
	*inner_len = il;
	tv_put_be32(vx, 0x08000000u);
	tv_put_be32(vx + 4, vni << 8);
	memcpy(vx + 8, inner, il);
	return mk_udp(dgram, 4789, vx, 8 + il);
}

/* Outer Ethernet + IPv4 fragment of dgram: bytes [off, off+len). */
static size_t frag4(uint8_t *f, const uint8_t *dgram, size_t off, size_t len, bool more,
                    uint16_t id)
{
	memcpy(f, OUT_MACS, 12);
	tv_put_be16(f + 12, 0x0800);
	f[14] = 0x45;
	f[15] = 0;
	tv_put_be16(f + 16, (uint16_t)(20 + len));
	tv_put_be16(f + 18, id);
	tv_put_be16(f + 20, (uint16_t)((more ? 0x2000 : 0) | (off / 8)));
	f[22] = 64;
	f[23] = 17;
	tv_put_be16(f + 24, 0);
	tv_put_be32(f + 26, 0x0a000001u);
	tv_put_be32(f + 30, 0x0a000002u);
	memcpy(f + 34, dgram + off, len);
	return 34 + len;
}

/* Outer Ethernet + IPv6 + Fragment header (next header UDP). */
static size_t frag6(uint8_t *f, const uint8_t *dgram, size_t off, size_t len, bool more,
                    uint32_t id)
{
	memcpy(f, OUT_MACS, 12);
	tv_put_be16(f + 12, 0x86dd);
	tv_put_be32(f + 14, 0x60000000u);
	tv_put_be16(f + 18, (uint16_t)(8 + len));
	f[20] = 44;
	f[21] = 64;
	memcpy(f + 22, A6, 16);
	memcpy(f + 38, B6, 16);
	f[54] = 17;
	f[55] = 0;
	tv_put_be16(f + 56, (uint16_t)(off | (more ? 1 : 0)));
	tv_put_be32(f + 58, id);
	memcpy(f + 62, dgram + off, len);
	return 62 + len;
}

static void assert_inner(const out *o, const uint8_t *inner, size_t n, uint32_t vni)
{
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(o->pkt.decap_error, 0);
	cr_assert_eq(o->pkt.tun.tunnel, TV_TUN_VXLAN);
	cr_assert_eq(o->pkt.tun.vni, vni);
	cr_assert_eq(o->pkt.caplen, n);
	cr_assert_eq(o->pkt.origlen, n);
	cr_assert(memcmp(o->frame, inner, n) == 0, "inner frame differs");
	cr_assert_eq(o->pkt.info.l3, 4);
	cr_assert_eq(o->pkt.info.key.dport, 80);
}

/* ------------------------------------------------------------------ */
/* Whole datagrams                                                     */
/* ------------------------------------------------------------------ */

Test(reasm, hex_fragments_in_order)
{
	out *o = feed(frag1, sizeof frag1, T0);
	cr_assert_eq(o->verdict, INGEST_HELD);
	cr_assert_eq(o->nnext, 0);
	o = feed(frag2, sizeof frag2, T0 + 5);
	assert_inner(o, inner_frame, sizeof inner_frame, 42);
	cr_assert_eq(o->pkt.ts_ns, T0 + 5, "time of the last fragment");
	cr_assert_eq(o->nnext, 0);
	cr_assert_eq(CTR(REASM_FRAGMENTS), 2);
	cr_assert_eq(CTR(REASM_DATAGRAMS), 1);
	cr_assert_eq(CTR(DECAP_VXLAN), 1);
	cr_assert_eq(CTR(DECAP_OK), 1);
	cr_assert_eq(CTR(DECAP_NOT_TUNNELLED), 0);
	cr_assert_eq(CTR(DECAP_FAILED), 0);
}

Test(reasm, hex_fragments_reversed)
{
	out *o = feed(frag2, sizeof frag2, T0);
	cr_assert_eq(o->verdict, INGEST_HELD);
	o = feed(frag1, sizeof frag1, T0 + 9);
	assert_inner(o, inner_frame, sizeof inner_frame, 42);
	cr_assert_eq(o->pkt.ts_ns, T0 + 9);
	cr_assert_eq(CTR(REASM_DATAGRAMS), 1);
	cr_assert_eq(CTR(DECAP_NOT_TUNNELLED), 0);
}

Test(reasm, five_fragments_any_order_byte_identical)
{
	static uint8_t dg[70000], inner[70000], f[5][2000];
	static const int order[5] = { 3, 0, 4, 2, 1 };
	size_t il, dl = mk_vxlan_dgram(dg, inner, &il, 7, 5000), fl[5], k;
	out *o = NULL;
	for (k = 0; k < 5; k++) {
		size_t off = k * 1200, len = k == 4 ? dl - off : 1200;
		fl[k] = frag4(f[k], dg, off, len, k < 4, 0x1234);
	}
	for (k = 0; k < 5; k++) {
		o = feed(f[order[k]], fl[order[k]], T0 + k);
		if (k < 4)
			cr_assert_eq(o->verdict, INGEST_HELD);
	}
	assert_inner(o, inner, il, 7);
	cr_assert_eq(CTR(REASM_FRAGMENTS), 5);
	cr_assert_eq(CTR(REASM_DATAGRAMS), 1);
}

Test(reasm, ipv6_fragment_header)
{
	static uint8_t dg[70000], inner[70000], f1[2000], f2[2000];
	size_t il, dl = mk_vxlan_dgram(dg, inner, &il, 9, 1800);
	size_t l1 = frag6(f1, dg, 0, 1232, true, 0xabcdef01u);
	size_t l2 = frag6(f2, dg, 1232, dl - 1232, false, 0xabcdef01u);
	out *o = feed(f2, l2, T0);
	cr_assert_eq(o->verdict, INGEST_HELD);
	o = feed(f1, l1, T0 + 1);
	assert_inner(o, inner, il, 9);
	cr_assert_eq(CTR(REASM_DATAGRAMS), 1);
}

Test(reasm, linux_cooked_fragments)
{
	/* tcpdump -i any: Linux SLL; the rebuilt frame keeps the synthesised header */
	uint8_t s1[200], s2[200];
	memset(s1, 0, 16);
	memset(s2, 0, 16);
	tv_put_be16(s1 + 14, 0x0800);
	tv_put_be16(s2 + 14, 0x0800);
	memcpy(s1 + 16, frag1 + 14, sizeof frag1 - 14);
	memcpy(s2 + 16, frag2 + 14, sizeof frag2 - 14);
	out *o = feed_lt(INGEST_LINK_LINUX_SLL, s1, sizeof frag1 + 2, 0, T0);
	cr_assert_eq(o->verdict, INGEST_HELD);
	o = feed_lt(INGEST_LINK_LINUX_SLL, s2, sizeof frag2 + 2, 0, T0 + 1);
	assert_inner(o, inner_frame, sizeof inner_frame, 42);
}

Test(reasm, capture_cut_a_fragment)
{
	/* snap length 60: the first fragment lost its last 22 bytes; the
	 * datagram is complete on the wire, so the inner packet is stored cut
	 * short at the first missing byte, with its true length */
	out *o = feed_lt(INGEST_LINK_ETHERNET, frag1, 60, sizeof frag1, T0);
	cr_assert_eq(o->verdict, INGEST_HELD);
	o = feed(frag2, sizeof frag2, T0 + 1);
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(o->pkt.tun.vni, 42);
	cr_assert_eq(o->pkt.caplen, 60 - 14 - 20 - 16);
	cr_assert_eq(o->pkt.origlen, sizeof inner_frame);
	cr_assert(memcmp(o->frame, inner_frame, o->pkt.caplen) == 0);
	cr_assert_eq(CTR(DECAP_SNAPLEN_CUT), 1);
	cr_assert_eq(CTR(REASM_DATAGRAMS), 1);
}

/* ------------------------------------------------------------------ */
/* What cannot be reassembled                                          */
/* ------------------------------------------------------------------ */

/* Every fragment handed back must be the outer frame as captured. */
static void assert_given_up(const out *o, int i, const uint8_t *frame, size_t n)
{
	cr_assert_lt(i, o->nnext);
	cr_assert_eq(o->next[i].decap_error, 1);
	cr_assert_eq(o->next[i].tun.tunnel, TV_TUN_NONE);
	cr_assert_eq(o->next[i].tun.vni, TV_VNI_NONE);
	cr_assert_eq(o->next_len[i], n);
	cr_assert(memcmp(o->next_first[i], frame, n < 64 ? n : 64) == 0);
}

Test(reasm, duplicate_fragment_stored_as_captured)
{
	out *o = feed(frag1, sizeof frag1, T0);
	o = feed(frag1, sizeof frag1, T0 + 1);
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(o->pkt.decap_error, 1);
	cr_assert_eq(o->pkt.caplen, sizeof frag1);
	cr_assert(memcmp(o->frame, frag1, sizeof frag1) == 0);
	cr_assert_eq(CTR(REASM_DUPLICATE), 1);
	o = feed(frag2, sizeof frag2, T0 + 2);
	assert_inner(o, inner_frame, sizeof inner_frame, 42);
	cr_assert_eq(CTR(DECAP_FAILED), 1);
}

Test(reasm, overlap_gives_up_the_datagram)
{
	/* a second "first" fragment with other bytes at the same place */
	uint8_t evil[sizeof frag1];
	out *o;
	memcpy(evil, frag1, sizeof evil);
	evil[sizeof evil - 1] ^= 0xff;
	o = feed(frag1, sizeof frag1, T0);
	o = feed(evil, sizeof evil, T0 + 1);
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(o->pkt.decap_error, 1);
	cr_assert_eq(o->nnext, 1);
	assert_given_up(o, 0, frag1, sizeof frag1);
	/* the rest of that datagram follows the same fate */
	o = feed(frag2, sizeof frag2, T0 + 2);
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(o->pkt.decap_error, 1);
	cr_assert_eq(CTR(REASM_OVERLAP), 3);
	cr_assert_eq(CTR(DECAP_FAILED), 3);
	cr_assert_eq(CTR(REASM_DATAGRAMS), 0);
	cr_assert_eq(CTR(DECAP_VXLAN), 0);
}

Test(reasm, partial_overlap_gives_up)
{
	static uint8_t dg[70000], inner[70000], a[2000], b[2000];
	size_t il, dl = mk_vxlan_dgram(dg, inner, &il, 9, 1000);
	size_t la = frag4(a, dg, 0, 512, true, 5), lb = frag4(b, dg, 256, dl - 256, false, 5);
	out *o = feed(a, la, T0);
	o = feed(b, lb, T0 + 1);
	cr_assert_eq(o->pkt.decap_error, 1);
	cr_assert_eq(o->nnext, 1);
	cr_assert_eq(CTR(REASM_OVERLAP), 2);
}

Test(reasm, timeout_in_capture_time)
{
	uint8_t other[sizeof frag2];
	out *o = feed(frag1, sizeof frag1, T0);
	cr_assert_eq(o->verdict, INGEST_HELD);
	/* 29 s later: still waiting */
	memcpy(other, frag2, sizeof other);
	tv_put_be16(other + 18, 0x78); /* another datagram's id: held too */
	o = feed(other, sizeof other, T0 + 29 * SEC);
	cr_assert_eq(o->verdict, INGEST_HELD);
	cr_assert_eq(o->nnext, 0);
	/* 31 s after the first: it is given up, as captured */
	o = feed(inner_frame, sizeof inner_frame, T0 + 31 * SEC);
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(o->pkt.tun.tunnel, TV_TUN_NONE);
	cr_assert_eq(o->nnext, 1);
	assert_given_up(o, 0, frag1, sizeof frag1);
	cr_assert_eq(o->next[0].ts_ns, T0, "a given-up fragment keeps its own time");
	cr_assert_eq(CTR(REASM_TIMEOUT), 1);
	/* the later fragment of the other datagram: its pair carried tunnel
	 * traffic, so at its timeout it is mirror transport too */
	o = feed(inner_frame, sizeof inner_frame, T0 + 60 * SEC);
	cr_assert_eq(o->nnext, 1);
	assert_given_up(o, 0, other, sizeof other);
	cr_assert_eq(CTR(REASM_TIMEOUT), 2);
	cr_assert_eq(CTR(REASM_NOT_TUNNEL), 0);
}

Test(reasm, later_fragment_of_unknown_pair_released_as_ordinary)
{
	/* no tunnel traffic was ever seen between these addresses: a lone
	 * later UDP fragment is stored as it was before reassembly existed */
	out *o = feed(frag2, sizeof frag2, T0);
	cr_assert_eq(o->verdict, INGEST_HELD);
	ingest_decap_flush(D);
	o = feed(inner_frame, sizeof inner_frame, T0 + 1);
	cr_assert_eq(o->nnext, 1);
	cr_assert_eq(o->next[0].decap_error, 0);
	cr_assert_eq(o->next[0].info.frag, TV_FRAG_LATER);
	cr_assert_eq(CTR(REASM_NOT_TUNNEL), 1);
	cr_assert_eq(CTR(REASM_INCOMPLETE), 0);
}

Test(reasm, first_fragment_not_tunnel_releases_held)
{
	/* the same datagram to port 53: held later fragment comes back as an
	 * ordinary packet with its datagram's ports; later ones pass */
	static uint8_t dg[4000], f1[2000], f2[2000], f3[2000], pay[1500];
	size_t dl, l1, l2, l3;
	out *o;
	memset(pay, 0x55, sizeof pay);
	dl = mk_udp(dg, 53, pay, sizeof pay);
	l1 = frag4(f1, dg, 0, 600, true, 9);
	l2 = frag4(f2, dg, 600, 600, true, 9);
	l3 = frag4(f3, dg, 1200, dl - 1200, false, 9);
	o = feed(f2, l2, T0);
	cr_assert_eq(o->verdict, INGEST_HELD);
	o = feed(f1, l1, T0 + 1);
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(o->pkt.decap_error, 0);
	cr_assert_eq(o->pkt.info.frag, TV_FRAG_FIRST);
	cr_assert_eq(o->nnext, 1);
	cr_assert_eq(o->next[0].decap_error, 0);
	cr_assert_eq(o->next[0].info.frag, TV_FRAG_LATER);
	cr_assert_eq(o->next[0].info.key.dport, 53);
	cr_assert_eq(o->next[0].ts_ns, T0);
	o = feed(f3, l3, T0 + 2);
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(o->pkt.info.key.dport, 53);
	cr_assert_eq(CTR(REASM_NOT_TUNNEL), 1);
	cr_assert_eq(CTR(DECAP_NOT_TUNNELLED), 3);
	cr_assert_eq(CTR(REASM_FRAGMENTS), 1);
}

Test(reasm, non_udp_fragments_pass)
{
	uint8_t t[sizeof frag2];
	out *o;
	memcpy(t, frag2, sizeof t);
	t[23] = 6;
	o = feed(t, sizeof t, T0);
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(CTR(REASM_FRAGMENTS), 0);
}

static void two_datagrams(ingest_decap_cfg *c) { c->reasm_max_datagrams = 2; }

Test(reasm, table_full_gives_up_the_oldest)
{
	uint8_t f[3][sizeof frag1];
	out *o;
	int k;
	ingest_decap_free(D);
	setup_cfg(two_datagrams);
	for (k = 0; k < 3; k++) {
		memcpy(f[k], frag1, sizeof frag1);
		tv_put_be16(f[k] + 18, (uint16_t)(0x100 + k));
		o = feed(f[k], sizeof frag1, T0 + (uint64_t)k);
		cr_assert_eq(o->verdict, INGEST_HELD);
	}
	cr_assert_eq(o->nnext, 1);
	assert_given_up(o, 0, f[0], sizeof frag1);
	cr_assert_eq(CTR(REASM_TABLE_FULL), 1);
}

static void small_pool(ingest_decap_cfg *c) { c->reasm_max_bytes = 66000; }

Test(reasm, byte_limit_gives_up_the_oldest)
{
	/* 66000 bytes: 33 blocks of 2 KiB may be held; 40 frames of ~1.5 KB
	 * (one block each) from 40 datagrams do not fit */
	static uint8_t dg[70000], inner[70000], f[2000];
	size_t il;
	int k;
	out *o;
	ingest_decap_free(D);
	setup_cfg(small_pool);
	mk_vxlan_dgram(dg, inner, &il, 1, 3000);
	for (k = 0; k < 40; k++) {
		size_t l = frag4(f, dg, 0, 1480, true, (uint16_t)k);
		o = feed(f, l, T0 + (uint64_t)k);
		cr_assert_eq(o->verdict, INGEST_HELD);
	}
	cr_assert_eq(CTR(REASM_TABLE_FULL), 40 - 33);
	cr_assert_eq(CTR(DECAP_FAILED), 40 - 33);
	ingest_decap_flush(D);
	drain(o);
	cr_assert_eq(o->nnext, 33);
	cr_assert_eq(CTR(REASM_INCOMPLETE), 33);
}

Test(reasm, too_big_datagram)
{
	/* a last fragment that ends past 65535 bytes (ping of death) */
	static uint8_t dg[70000], f[2000];
	out *o;
	size_t l;
	memset(dg, 0x11, sizeof dg);
	o = feed(frag1, sizeof frag1, T0);
	cr_assert_eq(o->verdict, INGEST_HELD);
	l = frag4(f, dg, 65528, 100, false, 0x77);
	o = feed(f, l, T0 + 1);
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(o->pkt.decap_error, 1);
	cr_assert_eq(o->nnext, 1, "the held first fragment is given up with it");
	assert_given_up(o, 0, frag1, sizeof frag1);
	cr_assert_eq(CTR(REASM_TOO_BIG), 2);
	cr_assert_eq(CTR(REASM_DATAGRAMS), 0);
}

Test(reasm, too_many_fragments)
{
	static uint8_t dg[70000], inner[70000], f[200];
	size_t il;
	int k;
	out *o = NULL;
	mk_vxlan_dgram(dg, inner, &il, 1, 2000);
	for (k = 0; k < 65; k++) {
		size_t l = frag4(f, dg, (size_t)k * 16, 16, true, 4);
		o = feed(f, l, T0 + (uint64_t)k);
	}
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(o->pkt.decap_error, 1);
	cr_assert_eq(o->nnext, 64);
	cr_assert_eq(CTR(REASM_TOO_MANY), 65);
}

Test(reasm, malformed_fragment_lengths)
{
	static uint8_t dg[70000], inner[70000], f[2000];
	size_t il, l;
	out *o;
	mk_vxlan_dgram(dg, inner, &il, 1, 2000);
	/* a non-last fragment whose length is not a multiple of 8 */
	l = frag4(f, dg, 0, 1001, true, 6);
	o = feed(f, l, T0);
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(o->pkt.decap_error, 1);
	cr_assert_eq(CTR(REASM_MALFORMED), 1);
	/* two different ends */
	l = frag4(f, dg, 0, 1000, true, 7);
	cr_assert_eq(feed(f, l, T0)->verdict, INGEST_HELD);
	l = frag4(f, dg, 1200, 200, false, 7);
	cr_assert_eq(feed(f, l, T0)->verdict, INGEST_HELD);
	l = frag4(f, dg, 1000, 200, false, 7);
	o = feed(f, l, T0);
	cr_assert_eq(o->pkt.decap_error, 1);
	cr_assert_eq(o->nnext, 2);
	cr_assert_eq(CTR(REASM_MALFORMED), 4);
}

Test(reasm, end_of_input_flush)
{
	out *o = feed(frag1, sizeof frag1, T0);
	ingest_decap_flush(D);
	drain(o);
	cr_assert_eq(o->nnext, 1);
	assert_given_up(o, 0, frag1, sizeof frag1);
	cr_assert_eq(CTR(REASM_INCOMPLETE), 1);
	cr_assert_eq(CTR(DECAP_FAILED), 1);
	/* nothing is left */
	ingest_decap_flush(D);
	drain(o);
	cr_assert_eq(o->nnext, 0);
}

Test(reasm, bad_tunnel_header_after_reassembly)
{
	/* VXLAN without the I flag: the reassembled outer frame is stored */
	uint8_t a[sizeof frag1];
	out *o;
	memcpy(a, frag1, sizeof a);
	a[42] = 0;
	feed(a, sizeof a, T0);
	o = feed(frag2, sizeof frag2, T0 + 1);
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(o->pkt.decap_error, 1);
	cr_assert_eq(o->pkt.caplen, 14 + 20 + 94);
	cr_assert_eq(tv_get_be16(o->frame + 16), 20 + 94, "reassembled IPv4 total length");
	cr_assert_eq(tv_get_be16(o->frame + 20), 0, "no MF, offset 0");
	cr_assert_eq(CTR(DECAP_VXLAN_BAD_FLAGS), 1);
	cr_assert_eq(CTR(DECAP_FAILED), 1);
}

static void reasm_off(ingest_decap_cfg *c) { c->reasm_max_datagrams = 0; }

Test(reasm, off_switch_and_config_checks)
{
	ingest_decap_cfg cfg;
	ingest_decap *d = NULL;
	out *o;
	ingest_decap_free(D);
	setup_cfg(reasm_off);
	o = feed(frag1, sizeof frag1, T0);
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(CTR(REASM_FRAGMENTS), 0);
	ingest_decap_cfg_default(&cfg);
	cr_assert_eq(cfg.reasm_max_datagrams, 4096);
	cr_assert_eq(cfg.reasm_timeout_ms, 30000);
	cfg.reasm_max_bytes = 1000; /* cannot hold one datagram */
	cr_assert_eq(ingest_decap_new(&cfg, NULL, &d), TV_E_RANGE);
	cr_assert_null(d);
	ingest_decap_cfg_default(&cfg);
	cfg.reasm_max_datagrams = INGEST_REASM_MAX_DATAGRAMS + 1;
	cr_assert_eq(ingest_decap_new(&cfg, NULL, &d), TV_E_RANGE);
}

static void tunnel_only(ingest_decap_cfg *c) { c->tunnel_only = true; }

Test(reasm, tunnel_only_drops_what_is_not_tunnel_traffic)
{
	/* ingest -i: the capture filter admits every UDP fragment; what is not
	 * the mirror's is counted and dropped, what is stays */
	static uint8_t dg[4000], f1[2000], f2[2000], pay[1500];
	size_t dl, l1, l2;
	out *o;
	ingest_decap_free(D);
	setup_cfg(tunnel_only);
	memset(pay, 0x55, sizeof pay);
	dl = mk_udp(dg, 53, pay, sizeof pay);
	l1 = frag4(f1, dg, 0, 600, true, 9);
	l2 = frag4(f2, dg, 600, dl - 600, false, 9);
	o = feed(f2, l2, T0);
	cr_assert_eq(o->verdict, INGEST_HELD);
	o = feed(f1, l1, T0 + 1);
	cr_assert_eq(o->verdict, INGEST_DROP);
	cr_assert_eq(o->nnext, 0);
	cr_assert_eq(CTR(REASM_NOT_TUNNEL), 2);
	o = feed(frag2, sizeof frag2, T0 + 2);
	cr_assert_eq(o->verdict, INGEST_HELD);
	o = feed(frag1, sizeof frag1, T0 + 3);
	assert_inner(o, inner_frame, sizeof inner_frame, 42);
	cr_assert_eq(CTR(DECAP_NOT_TUNNELLED), 0);
}

Test(reasm, second_first_fragment_that_is_not_tunnel_is_an_overlap)
{
	/* same id, a first fragment to port 53 after one to 4789 */
	uint8_t b[sizeof frag1];
	out *o;
	memcpy(b, frag1, sizeof b);
	tv_put_be16(b + 36, 53);
	feed(frag1, sizeof frag1, T0);
	o = feed(b, sizeof b, T0 + 1);
	cr_assert_eq(o->verdict, INGEST_STORE);
	cr_assert_eq(o->pkt.decap_error, 1);
	cr_assert_eq(o->nnext, 1);
	cr_assert_eq(CTR(REASM_OVERLAP), 2);
	cr_assert_eq(CTR(REASM_NOT_TUNNEL), 0);
}
