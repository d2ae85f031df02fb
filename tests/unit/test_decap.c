/*
 * test_decap.c — decapsulation: every reject branch and counter, and the
 * positive paths (VXLAN, GENEVE with AWS GWLB options, GENEVE carrying
 * VXLAN, link types, truncation, fragments).
 *
 * Packets are byte arrays: one written out in hex, the rest assembled by
 * the small pb_* builders below, which patch IP and UDP lengths at the end
 * (pb_done) so a test can then break exactly one field.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../ingest/ingest.h"

/* ------------------------------------------------------------------ */
/* Packet builder                                                      */
/* ------------------------------------------------------------------ */

enum { FIX_IPV4, FIX_IPV6, FIX_UDP };

typedef struct pb {
	uint8_t b[4096];
	size_t n;
	int nfix;
	struct { int kind; size_t off; } fix[16];
} pb;

static void pb_init(pb *p)
{
	memset(p, 0, sizeof *p);
}

static void pb_bytes(pb *p, const void *d, size_t n)
{
	cr_assert(p->n + n <= sizeof p->b);
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

static void pb_u8(pb *p, uint8_t v) { pb_bytes(p, &v, 1); }
static void pb_be16(pb *p, uint16_t v) { uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v }; pb_bytes(p, b, 2); }
static void pb_be32(pb *p, uint32_t v) { pb_be16(p, (uint16_t)(v >> 16)); pb_be16(p, (uint16_t)v); }

static void pb_fill(pb *p, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		pb_u8(p, (uint8_t)('a' + i % 26));
}

static void pb_fix(pb *p, int kind)
{
	p->fix[p->nfix].kind = kind;
	p->fix[p->nfix].off = p->n;
	p->nfix++;
}

/* Patches every recorded length to reach the end of the buffer. */
static void pb_done(pb *p)
{
	int i;
	for (i = 0; i < p->nfix; i++) {
		size_t off = p->fix[i].off, len = p->n - off;
		switch (p->fix[i].kind) {
		case FIX_IPV4: tv_put_be16(p->b + off + 2, (uint16_t)len); break;
		case FIX_IPV6: tv_put_be16(p->b + off + 4, (uint16_t)(len - 40)); break;
		case FIX_UDP: tv_put_be16(p->b + off + 4, (uint16_t)len); break;
		}
	}
}

static void pb_eth(pb *p, uint16_t et)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	pb_bytes(p, macs, 12);
	pb_be16(p, et);
}

static void pb_vlan(pb *p, uint16_t vid, uint16_t next)
{
	pb_be16(p, vid);
	pb_be16(p, next);
}

static void pb_ipv4_full(pb *p, uint8_t proto, uint32_t src, uint32_t dst, uint16_t id, uint16_t ff)
{
	pb_fix(p, FIX_IPV4);
	pb_u8(p, 0x45);
	pb_u8(p, 0);
	pb_be16(p, 0);
	pb_be16(p, id);
	pb_be16(p, ff);
	pb_u8(p, 64);
	pb_u8(p, proto);
	pb_be16(p, 0);
	pb_be32(p, src);
	pb_be32(p, dst);
}

static void pb_ipv4(pb *p, uint8_t proto, uint32_t src, uint32_t dst)
{
	pb_ipv4_full(p, proto, src, dst, 0x1234, 0);
}

static const uint8_t V6A[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t V6B[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

static void pb_ipv6(pb *p, uint8_t nh, const uint8_t src[16], const uint8_t dst[16])
{
	pb_fix(p, FIX_IPV6);
	pb_be32(p, 0x60000000u);
	pb_be16(p, 0);
	pb_u8(p, nh);
	pb_u8(p, 64);
	pb_bytes(p, src, 16);
	pb_bytes(p, dst, 16);
}

static void pb_udp(pb *p, uint16_t sport, uint16_t dport)
{
	pb_fix(p, FIX_UDP);
	pb_be16(p, sport);
	pb_be16(p, dport);
	pb_be16(p, 0);
	pb_be16(p, 0);
}

static void pb_tcp(pb *p, uint16_t sport, uint16_t dport, uint8_t flags)
{
	pb_be16(p, sport);
	pb_be16(p, dport);
	pb_be32(p, 1000);
	pb_be32(p, 0);
	pb_u8(p, 0x50);
	pb_u8(p, flags);
	pb_be16(p, 65535);
	pb_be32(p, 0);
}

static void pb_vxlan(pb *p, uint32_t w0, uint32_t vni)
{
	pb_be32(p, w0);
	pb_be32(p, vni << 8);
}

static void pb_geneve(pb *p, uint8_t ver, uint8_t optwords, uint16_t proto, uint32_t vni)
{
	pb_u8(p, (uint8_t)(ver << 6 | optwords));
	pb_u8(p, 0);
	pb_be16(p, proto);
	pb_be32(p, vni << 8);
}

static void pb_gopt(pb *p, uint16_t cls, uint8_t type, uint8_t words)
{
	pb_be16(p, cls);
	pb_u8(p, type);
	pb_u8(p, words);
}

/* The three AWS GWLB options: 32 bytes = 8 words. */
#define GWLB_WORDS 8
#define GWLB_EP 0x0123456789abcdefull
#define GWLB_ATT 0x1122334455667788ull
#define GWLB_COOKIE 0xdeadbeefu
static void pb_gwlb_opts(pb *p)
{
	pb_gopt(p, 0x0108, 1, 2);
	pb_be32(p, (uint32_t)(GWLB_EP >> 32));
	pb_be32(p, (uint32_t)GWLB_EP);
	pb_gopt(p, 0x0108, 2, 2);
	pb_be32(p, (uint32_t)(GWLB_ATT >> 32));
	pb_be32(p, (uint32_t)GWLB_ATT);
	pb_gopt(p, 0x0108, 3, 1);
	pb_be32(p, GWLB_COOKIE);
}

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define OUT_SRC IP4(10, 0, 0, 1)
#define OUT_DST IP4(10, 0, 0, 2)
#define IN_SRC IP4(192, 168, 1, 1)
#define IN_DST IP4(192, 168, 1, 2)

/* Inner Ethernet + IPv4 + TCP 1234 -> 80 SYN + n payload bytes. */
static void pb_inner_tcp(pb *p, size_t n)
{
	pb_eth(p, 0x0800);
	pb_ipv4(p, 6, IN_SRC, IN_DST);
	pb_tcp(p, 1234, 80, TV_TCP_SYN);
	pb_fill(p, n);
}

/* Outer Ethernet + IPv4 + UDP to dport. */
static void pb_outer4(pb *p, uint16_t dport)
{
	pb_eth(p, 0x0800);
	pb_ipv4(p, 17, OUT_SRC, OUT_DST);
	pb_udp(p, 50000, dport);
}

/* A complete VXLAN packet: outer IPv4, VNI, inner TCP. */
static void mk_vxlan(pb *p, uint32_t vni)
{
	pb_outer4(p, 4789);
	pb_vxlan(p, 0x08000000u, vni);
	pb_inner_tcp(p, 10);
	pb_done(p);
}

/* ------------------------------------------------------------------ */
/* Fixture                                                             */
/* ------------------------------------------------------------------ */

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

#define CTR(name) (C.v[TV_CTR_##name])

static int run(int lt, const uint8_t *b, size_t n, uint32_t origlen, tv_pkt *pkt)
{
	return ingest_decap_packet(D, lt, b, (uint32_t)n, origlen ? origlen : (uint32_t)n,
	                           1700000000123456789ull, pkt);
}

static int run_pb(const pb *p, tv_pkt *pkt)
{
	return run(INGEST_LINK_ETHERNET, p->b, p->n, 0, pkt);
}

static tv_addr A4(uint32_t v)
{
	tv_addr a;
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	tv_addr_from_v4(&a, b);
	return a;
}

static void assert_addr(const tv_addr *got, tv_addr want)
{
	cr_assert(memcmp(got, &want, sizeof want) == 0);
}

/* Counters decap may touch; all others must stay zero. */
static const int decap_ctrs[] = {
	TV_CTR_SRC_LINKTYPE, TV_CTR_SRC_LINK_TRUNC, TV_CTR_SRC_LINK_PROTO,
	TV_CTR_DECAP_OK, TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_VXLAN, TV_CTR_DECAP_GENEVE,
	TV_CTR_DECAP_GENEVE_VXLAN, TV_CTR_DECAP_ETH_TRUNC, TV_CTR_DECAP_VLAN_TRUNC,
	TV_CTR_DECAP_VLAN_TOO_DEEP, TV_CTR_DECAP_IPV4_TRUNC, TV_CTR_DECAP_IPV4_BAD_HDR,
	TV_CTR_DECAP_IPV4_BAD_LEN, TV_CTR_DECAP_IPV6_TRUNC, TV_CTR_DECAP_IPV6_BAD_EXT,
	TV_CTR_DECAP_IPV6_BAD_HDR, TV_CTR_DECAP_IPV6_BAD_LEN, TV_CTR_DECAP_UDP_TRUNC,
	TV_CTR_DECAP_UDP_BAD_LEN, TV_CTR_DECAP_VXLAN_TRUNC, TV_CTR_DECAP_VXLAN_BAD_FLAGS,
	TV_CTR_DECAP_GENEVE_TRUNC, TV_CTR_DECAP_GENEVE_BAD_VER, TV_CTR_DECAP_GENEVE_BAD_OPT,
	TV_CTR_DECAP_GENEVE_PROTO, TV_CTR_DECAP_TOO_DEEP, TV_CTR_DECAP_INNER_NO_IP,
	TV_CTR_DECAP_INNER_TRUNC, TV_CTR_DECAP_INNER_BAD, TV_CTR_DECAP_INNER_FRAG,
	TV_CTR_DECAP_INNER_FRAG_UNK, TV_CTR_DECAP_SNAPLEN_CUT, TV_CTR_DECAP_FAILED,
};

/* Asserts exactly the listed counters are 1 and every other is 0. */
static void assert_only(const int *want, size_t n)
{
	int i;
	for (i = 0; i < TV_CTR__COUNT; i++) {
		uint64_t exp = 0;
		size_t j;
		for (j = 0; j < n; j++)
			if (want[j] == i)
				exp = 1;
		cr_assert_eq(C.v[i], exp, "counter %s = %llu, expected %llu", tv_counter_name(i),
		             (unsigned long long)C.v[i], (unsigned long long)exp);
	}
}
#define ONLY(...) do { const int w_[] = { __VA_ARGS__ }; assert_only(w_, sizeof w_ / sizeof w_[0]); } while (0)

TestSuite(decap, .init = setup, .fini = teardown);

/* ------------------------------------------------------------------ */
/* Positive paths                                                      */
/* ------------------------------------------------------------------ */

/* VXLAN over IPv4, VNI 42, inner TCP SYN 192.168.1.1:1234 -> 192.168.1.2:80. */
static const uint8_t vxlan_tcp[] = {
	0x00, 0x00, 0x5e, 0x00, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
	0x45, 0x00, 0x00, 0x5a, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00,
	0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
	0xc0, 0x00, 0x12, 0xb5, 0x00, 0x46, 0x00, 0x00,
	0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0x00,
	0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
	0x45, 0x00, 0x00, 0x28, 0x00, 0x02, 0x00, 0x00, 0x40, 0x06, 0x00, 0x00,
	0xc0, 0xa8, 0x01, 0x01, 0xc0, 0xa8, 0x01, 0x02,
	0x04, 0xd2, 0x00, 0x50, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
	0x50, 0x12, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
};

Test(decap, vxlan_ipv4_outer_inner_tcp)
{
	tv_pkt pkt;
	cr_assert_eq(run(INGEST_LINK_ETHERNET, vxlan_tcp, sizeof vxlan_tcp, 0, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.ts_ns, 1700000000123456789ull);
	cr_assert_eq(pkt.frame, vxlan_tcp + 50);
	cr_assert_eq(pkt.caplen, 54);
	cr_assert_eq(pkt.origlen, 54);
	cr_assert_eq(pkt.synth_l2, 0);
	cr_assert_eq(pkt.decap_error, 0);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_VXLAN);
	cr_assert_eq(pkt.tun.vni, 42);
	cr_assert_eq(pkt.tun.has_gwlb, 0);
	assert_addr(&pkt.tun.outer_src, A4(OUT_SRC));
	cr_assert_eq(pkt.info.l3, 4);
	cr_assert_eq(pkt.info.l3_off, 14);
	cr_assert_eq(pkt.info.ip_len, 40);
	cr_assert_eq(pkt.info.ethertype, 0x0800);
	cr_assert_eq(pkt.info.has_ports, 1);
	cr_assert_eq(pkt.info.tcp_flags, TV_TCP_SYN | TV_TCP_ACK);
	cr_assert_eq(pkt.info.frag, TV_FRAG_NONE);
	assert_addr(&pkt.info.key.src, A4(IN_SRC));
	assert_addr(&pkt.info.key.dst, A4(IN_DST));
	cr_assert_eq(pkt.info.key.sport, 1234);
	cr_assert_eq(pkt.info.key.dport, 80);
	cr_assert_eq(pkt.info.key.proto, 6);
	cr_assert_eq(pkt.info.key.pad[0] | pkt.info.key.pad[1] | pkt.info.key.pad[2], 0);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN);
}

Test(decap, builder_matches_hex)
{
	/* The builder makes the same kind of packet as the hex above. */
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	mk_vxlan(&p, 42);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.vni, 42);
	cr_assert_eq(pkt.caplen, 64);
	cr_assert_eq(pkt.info.tcp_flags, TV_TCP_SYN);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN);
}

Test(decap, vxlan_ipv6_outer_inner_ipv6_udp)
{
	pb p;
	tv_pkt pkt;
	tv_addr a;
	pb_init(&p);
	pb_eth(&p, 0x86dd);
	pb_ipv6(&p, 17, V6A, V6B);
	pb_udp(&p, 1, 4789);
	pb_vxlan(&p, 0x08000000u, 0xabcdef);
	pb_eth(&p, 0x86dd);
	pb_ipv6(&p, 17, V6B, V6A);
	pb_udp(&p, 53, 5353);
	pb_fill(&p, 7);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_VXLAN);
	cr_assert_eq(pkt.tun.vni, 0xabcdef);
	tv_addr_from_v6(&a, V6A);
	assert_addr(&pkt.tun.outer_src, a);
	cr_assert_eq(pkt.info.l3, 6);
	cr_assert_eq(pkt.info.ip_len, 40 + 8 + 7);
	cr_assert_eq(pkt.info.key.proto, 17);
	cr_assert_eq(pkt.info.key.sport, 53);
	cr_assert_eq(pkt.info.key.dport, 5353);
	tv_addr_from_v6(&a, V6B);
	assert_addr(&pkt.info.key.src, a);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN);
}

Test(decap, qinq_outer_and_inner_vlan)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_eth(&p, 0x88a8);
	pb_vlan(&p, 10, 0x8100);
	pb_vlan(&p, 20, 0x0800);
	pb_ipv4(&p, 17, OUT_SRC, OUT_DST);
	pb_udp(&p, 1, 4789);
	pb_vxlan(&p, 0x08000000u, 7);
	pb_eth(&p, 0x8100);
	pb_vlan(&p, 0x2000 | 300, 0x0800); /* PCP bits must not leak into the id */
	pb_ipv4(&p, 6, IN_SRC, IN_DST);
	pb_tcp(&p, 22, 40000, TV_TCP_ACK | TV_TCP_PSH);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.vni, 7);
	cr_assert_eq(pkt.info.vlan, 300);
	cr_assert_eq(pkt.info.l3_off, 18);
	cr_assert_eq(pkt.info.key.sport, 22);
	cr_assert_eq(pkt.info.tcp_flags, TV_TCP_ACK | TV_TCP_PSH);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN);
}

Test(decap, old_qinq_tpid_9100)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_eth(&p, 0x9100);
	pb_vlan(&p, 5, 0x0800);
	pb_ipv4(&p, 17, OUT_SRC, OUT_DST);
	pb_udp(&p, 1, 4789);
	pb_vxlan(&p, 0x08000000u, 9);
	pb_inner_tcp(&p, 0);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.vni, 9);
}

static void mk_geneve_gwlb_l3(pb *p)
{
	pb_outer4(p, 6081);
	pb_geneve(p, 0, GWLB_WORDS + 2, 0x0800, 0x123456);
	pb_gopt(p, 0xffff, 0x80, 1); /* unknown critical option: skipped */
	pb_be32(p, 0);
	pb_gwlb_opts(p);
	pb_ipv4(p, 17, IN_SRC, IN_DST);
	pb_udp(p, 1111, 2222);
	pb_fill(p, 5);
	pb_done(p);
}

Test(decap, geneve_gwlb_l3_payload)
{
	pb p;
	tv_pkt pkt;
	size_t ip_off;
	static const uint8_t zero12[12];
	pb_init(&p);
	mk_geneve_gwlb_l3(&p);
	ip_off = 14 + 20 + 8 + 8 + 4 + 4 + 32;
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_GENEVE);
	cr_assert_eq(pkt.tun.vni, 0x123456);
	cr_assert_eq(pkt.tun.has_gwlb, 1);
	cr_assert_eq(pkt.tun.gwlb_endpoint, GWLB_EP);
	cr_assert_eq(pkt.tun.gwlb_attachment, GWLB_ATT);
	cr_assert_eq(pkt.tun.gwlb_cookie, GWLB_COOKIE);
	assert_addr(&pkt.tun.outer_src, A4(OUT_SRC));
	cr_assert_eq(pkt.synth_l2, 1);
	cr_assert_eq(pkt.caplen, 14 + (p.n - ip_off));
	cr_assert_eq(pkt.origlen, pkt.caplen);
	cr_assert(memcmp(pkt.frame, zero12, 12) == 0);
	cr_assert_eq(pkt.frame[12], 0x08);
	cr_assert_eq(pkt.frame[13], 0x00);
	cr_assert(memcmp(pkt.frame + 14, p.b + ip_off, p.n - ip_off) == 0);
	cr_assert(pkt.frame < p.b || pkt.frame >= p.b + p.n, "synthesised frame is in d's scratch");
	cr_assert_eq(pkt.info.l3, 4);
	cr_assert_eq(pkt.info.key.sport, 1111);
	cr_assert_eq(pkt.info.key.dport, 2222);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_GENEVE);
}

Test(decap, geneve_ethernet_payload_ipv6_l3)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_outer4(&p, 6081);
	pb_geneve(&p, 0, 0, 0x6558, 5);
	pb_inner_tcp(&p, 3);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_GENEVE);
	cr_assert_eq(pkt.synth_l2, 0);
	cr_assert_eq(pkt.frame, p.b + 50);
	cr_assert_eq(pkt.tun.has_gwlb, 0);

	/* bare IPv6 payload gets ethertype 0x86DD */
	pb_init(&p);
	pb_outer4(&p, 6081);
	pb_geneve(&p, 0, 0, 0x86dd, 5);
	pb_ipv6(&p, 58, V6A, V6B);
	pb_u8(&p, 128); /* echo request */
	pb_u8(&p, 0);
	pb_be16(&p, 0);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.frame[12], 0x86);
	cr_assert_eq(pkt.frame[13], 0xdd);
	cr_assert_eq(pkt.info.l3, 6);
	cr_assert_eq(pkt.info.key.proto, 58);
	cr_assert_eq(pkt.info.icmp_type_code, 128 << 8);
	cr_assert_eq(pkt.info.has_ports, 0);
}

static void mk_geneve_vxlan(pb *p, uint32_t vxlan_flags)
{
	pb_eth(p, 0x0800);
	pb_ipv4(p, 17, IP4(172, 16, 0, 9), OUT_DST);
	pb_udp(p, 40000, 6081);
	pb_geneve(p, 0, GWLB_WORDS, 0x0800, 0x999);
	pb_gwlb_opts(p);
	pb_ipv4(p, 17, OUT_SRC, IP4(10, 0, 0, 3));
	pb_udp(p, 40001, 4789);
	pb_vxlan(p, vxlan_flags, 77);
	pb_inner_tcp(p, 20);
	pb_done(p);
}

Test(decap, geneve_carrying_vxlan)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	mk_geneve_vxlan(&p, 0x08000000u);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_GENEVE_VXLAN);
	cr_assert_eq(pkt.tun.vni, 77);
	cr_assert_eq(pkt.tun.has_gwlb, 1);
	cr_assert_eq(pkt.tun.gwlb_cookie, GWLB_COOKIE);
	assert_addr(&pkt.tun.outer_src, A4(IP4(172, 16, 0, 9)));
	cr_assert_eq(pkt.synth_l2, 0);
	cr_assert_eq(pkt.caplen, 14 + 20 + 20 + 20);
	cr_assert_eq(pkt.info.key.dport, 80);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_GENEVE_VXLAN);
}

Test(decap, triple_vxlan_and_depth_cap)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_outer4(&p, 4789);
	pb_vxlan(&p, 0x08000000u, 1);
	pb_eth(&p, 0x0800);
	pb_ipv4(&p, 17, IP4(10, 1, 0, 1), IP4(10, 1, 0, 2));
	pb_udp(&p, 2, 4789);
	pb_vxlan(&p, 0x08000000u, 2);
	pb_eth(&p, 0x0800);
	pb_ipv4(&p, 17, IP4(10, 2, 0, 1), IP4(10, 2, 0, 2));
	pb_udp(&p, 3, 4789);
	pb_vxlan(&p, 0x08000000u, 3);
	pb_inner_tcp(&p, 0);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_VXLAN);
	cr_assert_eq(pkt.tun.vni, 3);
	assert_addr(&pkt.tun.outer_src, A4(OUT_SRC));
	cr_assert_eq(pkt.info.key.dport, 80);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN);

	/* with max_depth 2 the third layer stays: deepest frame reached */
	ingest_decap_free(D);
	memset(&C, 0, sizeof C);
	CFG.max_depth = 2;
	cr_assert_eq(ingest_decap_new(&CFG, &C, &D), 0);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.vni, 2);
	cr_assert_eq(pkt.decap_error, 0);
	cr_assert_eq(pkt.info.key.dport, 4789);
	ONLY(TV_CTR_DECAP_VXLAN, TV_CTR_DECAP_TOO_DEEP);

	/* with max_depth 0 nothing is removed: outer frame, decap_error */
	ingest_decap_free(D);
	memset(&C, 0, sizeof C);
	CFG.max_depth = 0;
	cr_assert_eq(ingest_decap_new(&CFG, &C, &D), 0);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 1);
	cr_assert_eq(pkt.frame, p.b);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_NONE);
	cr_assert_eq(pkt.tun.vni, TV_VNI_NONE);
	ONLY(TV_CTR_DECAP_TOO_DEEP, TV_CTR_DECAP_FAILED);
}

Test(decap, geneve_in_geneve_l3_overlap)
{
	/* two synthesised layers in a row reuse the scratch buffer */
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_outer4(&p, 6081);
	pb_geneve(&p, 0, 0, 0x0800, 1);
	pb_ipv4(&p, 17, IP4(10, 9, 0, 1), IP4(10, 9, 0, 2));
	pb_udp(&p, 5, 6081);
	pb_geneve(&p, 0, 0, 0x0800, 2);
	pb_ipv4(&p, 6, IN_SRC, IN_DST);
	pb_tcp(&p, 7, 8, TV_TCP_FIN);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_GENEVE);
	cr_assert_eq(pkt.tun.vni, 2);
	cr_assert_eq(pkt.caplen, 14 + 40);
	cr_assert(memcmp(pkt.frame + 14, p.b + p.n - 40, 40) == 0);
	cr_assert_eq(pkt.info.key.sport, 7);
	cr_assert_eq(pkt.info.tcp_flags, TV_TCP_FIN);
}

Test(decap, outer_ipv4_options)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_eth(&p, 0x0800);
	pb_fix(&p, FIX_IPV4);
	pb_u8(&p, 0x46); /* IHL 6: one option word */
	pb_u8(&p, 0);
	pb_be16(&p, 0);
	pb_be32(&p, 0);
	pb_u8(&p, 64);
	pb_u8(&p, 17);
	pb_be16(&p, 0);
	pb_be32(&p, OUT_SRC);
	pb_be32(&p, OUT_DST);
	pb_be32(&p, 0x01010100); /* NOPs, end of options */
	pb_udp(&p, 1, 4789);
	pb_vxlan(&p, 0x08000000u, 31);
	pb_inner_tcp(&p, 0);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.vni, 31);
	cr_assert_eq(pkt.frame, p.b + 54);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN);
}

Test(decap, vxlan_gpe_port_not_vxlan)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_outer4(&p, 4790);
	pb_vxlan(&p, 0x0c000004u, 3); /* GPE: P flag, next protocol */
	pb_fill(&p, 20);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_NONE);
	cr_assert_eq(pkt.tun.vni, TV_VNI_NONE);
	cr_assert_eq(pkt.frame, p.b);
	cr_assert_eq(pkt.info.key.dport, 4790);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED);
}

Test(decap, extra_ports)
{
	pb p;
	tv_pkt pkt;
	ingest_decap_free(D);
	CFG.vxlan_ports[1] = 8472;
	CFG.n_vxlan_ports = 2;
	cr_assert_eq(ingest_decap_new(&CFG, &C, &D), 0);
	pb_init(&p);
	pb_outer4(&p, 8472);
	pb_vxlan(&p, 0x08000000u, 100);
	pb_inner_tcp(&p, 0);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.vni, 100);
}

Test(decap, reserved_bits_ignored_unless_strict)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_outer4(&p, 4789);
	pb_vxlan(&p, 0x88ffff01u, 11);
	pb_inner_tcp(&p, 0);
	pb_done(&p);
	p.b[14 + 20 + 8 + 7] = 0x55; /* reserved byte after the VNI */
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.vni, 11);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN);

	ingest_decap_free(D);
	memset(&C, 0, sizeof C);
	CFG.strict_vxlan = true;
	cr_assert_eq(ingest_decap_new(&CFG, &C, &D), 0);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 1);
	ONLY(TV_CTR_DECAP_VXLAN_BAD_FLAGS, TV_CTR_DECAP_FAILED);
}

Test(decap, not_tunnelled_tcp)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_inner_tcp(&p, 4);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.frame, p.b);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_NONE);
	cr_assert_eq(pkt.tun.vni, TV_VNI_NONE);
	cr_assert_eq(pkt.info.key.dport, 80);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED);
}

Test(decap, big_tcp_total_length_zero)
{
	/* outer IPv4 total 0, UDP length 0, inner IPv4 total 0 (BIG TCP) */
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	mk_vxlan(&p, 5001);
	tv_put_be16(p.b + 14 + 2, 0);
	tv_put_be16(p.b + 14 + 20 + 4, 0);
	tv_put_be16(p.b + 50 + 14 + 2, 0);
	cr_assert_eq(run(INGEST_LINK_ETHERNET, p.b, p.n, (uint32_t)p.n + 70000, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.vni, 5001);
	cr_assert_eq(pkt.info.ip_len, p.n - 50 - 14);
	cr_assert_eq(pkt.info.key.dport, 80);
	cr_assert_eq(pkt.caplen, p.n - 50);
	cr_assert_eq(pkt.origlen, p.n - 50 + 70000);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN, TV_CTR_DECAP_SNAPLEN_CUT);
}

/* An untunnelled Ethernet frame of 54 bytes padded to 60: IPv6 with payload
 * length 0 and next header 99.  The packet is 40 bytes (tshark's view);
 * the 6 bytes of padding are not part of it. */
static const uint8_t v6_plen0_padded[60] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x86, 0xdd,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x63, 0x40,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

Test(decap, ipv6_payload_length_zero_is_not_the_padding)
{
	tv_pkt pkt;
	tv_l3info info;
	cr_assert_eq(run(INGEST_LINK_ETHERNET, v6_plen0_padded, sizeof v6_plen0_padded, 0, &pkt),
	             INGEST_STORE);
	cr_assert_eq(pkt.info.l3, 6);
	cr_assert_eq(pkt.info.key.proto, 99);
	cr_assert_eq(pkt.info.ip_len, 40);
	cr_assert_eq(pkt.caplen, 60);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED);
	cr_assert_eq(ingest_parse_inner(v6_plen0_padded, sizeof v6_plen0_padded, &info), 0);
	cr_assert_eq(info.ip_len, 40);
}

Test(decap, ipv6_jumbogram_length_from_option)
{
	/* RFC 2675: payload length 0, Hop-by-Hop with Jumbo Payload 70008,
	 * UDP length 0; the capture kept 200 bytes */
	static uint8_t b[70100];
	tv_pkt pkt;
	size_t n = 14 + 40 + 8 + 8 + 200;
	memset(b, 0, sizeof b);
	b[12] = 0x86; b[13] = 0xdd;
	b[14] = 0x60;
	b[20] = 0;   /* next header: hop-by-hop */
	b[21] = 64;
	b[22] = 0x20; b[37] = 1; b[38] = 0x20; b[53] = 2;
	b[54] = 17;  /* HBH next header UDP, length 0 (8 bytes) */
	b[55] = 0;
	b[56] = 0xC2; b[57] = 4;
	tv_put_be32(b + 58, 70008);
	tv_put_be16(b + 62, 1000);
	tv_put_be16(b + 64, 2000);
	cr_assert_eq(run(INGEST_LINK_ETHERNET, b, n, 14 + 40 + 70008, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.ip_len, 40 + 70008);
	cr_assert_eq(pkt.info.key.proto, 17);
	cr_assert_eq(pkt.info.key.dport, 2000);
	/* a Jumbo option whose value is not above 65535 is no jumbogram: the
	 * payload is then empty and the Hop-by-Hop header lies outside it */
	memset(&C, 0, sizeof C);
	tv_put_be32(b + 58, 1000);
	cr_assert_eq(run(INGEST_LINK_ETHERNET, b, n, 0, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.l3, 0);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_IPV6_BAD_EXT, TV_CTR_DECAP_INNER_BAD);
}

Test(decap, ipv6_big_tcp_length_from_frame)
{
	/* payload length 0 and more than 65535 bytes in the frame: a BIG TCP
	 * super-packet, whose length only the frame knows */
	static uint8_t b[14 + 40 + 70000];
	tv_pkt pkt;
	memset(b, 0, sizeof b);
	b[12] = 0x86; b[13] = 0xdd;
	b[14] = 0x60;
	b[20] = 6;
	b[21] = 64;
	tv_put_be16(b + 54, 443);
	tv_put_be16(b + 56, 50000);
	b[54 + 12] = 0x50;
	b[54 + 13] = 0x10;
	cr_assert_eq(run(INGEST_LINK_ETHERNET, b, sizeof b, 0, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.ip_len, 40 + 70000);
	cr_assert_eq(pkt.info.key.sport, 443);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED);
}

Test(decap, truncated_inner_origlen_from_ip_total)
{
	/* mirror PacketLength: inner IPv4 says 1500, 64 bytes were copied */
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_outer4(&p, 4789);
	pb_vxlan(&p, 0x08000000u, 42);
	pb_inner_tcp(&p, 10);
	pb_done(&p);
	tv_put_be16(p.b + 50 + 14 + 2, 1500);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.caplen, 64);
	cr_assert_eq(pkt.origlen, 14 + 1500);
	cr_assert_eq(pkt.info.ip_len, 1500);
	cr_assert_eq(pkt.info.has_ports, 1);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN, TV_CTR_DECAP_INNER_TRUNC);
}

Test(decap, snaplen_cut_outer_carries_over)
{
	/* the capture kept 96 of 200 bytes: inner origlen = inner caplen + UDP shortfall */
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_outer4(&p, 4789);
	pb_vxlan(&p, 0x08000000u, 42);
	pb_inner_tcp(&p, 200 - 104);
	pb_done(&p);
	cr_assert_eq(p.n, 200);
	cr_assert_eq(run(INGEST_LINK_ETHERNET, p.b, 96, 200, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.vni, 42);
	cr_assert_eq(pkt.caplen, 96 - 50);
	cr_assert_eq(pkt.origlen, 150);
	cr_assert_eq(pkt.info.ip_len, 136);
	cr_assert_eq(pkt.info.key.dport, 80);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN, TV_CTR_DECAP_SNAPLEN_CUT,
	     TV_CTR_DECAP_INNER_TRUNC);

	/* a non-tunnelled frame keeps the capture's origlen */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_inner_tcp(&p, 100);
	pb_done(&p);
	cr_assert_eq(run(INGEST_LINK_ETHERNET, p.b, 60, (uint32_t)p.n, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.caplen, 60);
	cr_assert_eq(pkt.origlen, p.n);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_SNAPLEN_CUT, TV_CTR_DECAP_INNER_TRUNC);
}

Test(decap, ethernet_padding_trimmed_from_tunnel_payload)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	mk_vxlan(&p, 1);
	pb_fill(&p, 6); /* trailer after the outer IP packet */
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.caplen, p.n - 6 - 50);
}

/* ------------------------------------------------------------------ */
/* Fragments                                                           */
/* ------------------------------------------------------------------ */

static void mk_frag(pb *p, uint16_t id, uint16_t ff, bool with_udp)
{
	pb_outer4(p, 4789);
	pb_vxlan(p, 0x08000000u, 42);
	pb_eth(p, 0x0800);
	pb_ipv4_full(p, 17, IN_SRC, IN_DST, id, ff);
	if (with_udp) {
		pb_be16(p, 5000);
		pb_be16(p, 53);
		pb_be16(p, 3000);
		pb_be16(p, 0);
	}
	pb_fill(p, 24);
	pb_done(p);
}

Test(decap, ipv4_fragments_attributed)
{
	pb p;
	tv_pkt pkt;
	tv_l3info info;

	pb_init(&p);
	mk_frag(&p, 77, 0x2000, true);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.frag, TV_FRAG_FIRST);
	cr_assert_eq(pkt.info.has_ports, 1);
	cr_assert_eq(pkt.info.key.sport, 5000);

	pb_init(&p);
	mk_frag(&p, 77, 0x2000 | 4, false);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.frag, TV_FRAG_LATER);
	cr_assert_eq(pkt.info.has_ports, 1);
	cr_assert_eq(pkt.info.key.sport, 5000);
	cr_assert_eq(pkt.info.key.dport, 53);
	cr_assert_eq(pkt.info.key.proto, 17);
	/* the stateless parser cannot know the ports */
	cr_assert_eq(ingest_parse_inner(pkt.frame, pkt.caplen, &info), 0);
	cr_assert_eq(info.frag, TV_FRAG_LATER);
	cr_assert_eq(info.has_ports, 0);
	cr_assert_eq(info.key.sport, 0);

	pb_init(&p);
	mk_frag(&p, 78, 8, false); /* last fragment of a datagram never seen */
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.frag, TV_FRAG_LATER);
	cr_assert_eq(pkt.info.has_ports, 0);
	cr_assert_eq(C.v[TV_CTR_DECAP_INNER_FRAG], 3);
	cr_assert_eq(C.v[TV_CTR_DECAP_INNER_FRAG_UNK], 1);
	cr_assert_eq(C.v[TV_CTR_DECAP_OK], 3);
}

static tv_l3info frag_info(uint8_t frag, uint32_t id, uint16_t sport, uint16_t dport)
{
	tv_l3info in;
	memset(&in, 0, sizeof in);
	in.l3 = 4;
	in.frag = frag;
	in.frag_id = id;
	in.key.proto = 17;
	in.key.src.b[15] = 1;
	in.key.dst.b[15] = 2;
	if (frag != TV_FRAG_LATER) {
		in.has_ports = 1;
		in.key.sport = sport;
		in.key.dport = dport;
	}
	return in;
}

/* The one table that decapsulation and queries over stored frames use. */
Test(fragports, later_fragments_take_first_fragment_ports_within_one_vni)
{
	ingest_fragports *t;
	tv_l3info in;

	cr_assert_eq(ingest_fragports_new(&t), 0);
	in = frag_info(TV_FRAG_LATER, 9, 0, 0);
	cr_assert_eq(ingest_fragports_apply(t, 42, &in), INGEST_FRAG_UNKNOWN);
	cr_assert_eq(in.has_ports, 0);

	in = frag_info(TV_FRAG_FIRST, 9, 5000, 53);
	cr_assert_eq(ingest_fragports_apply(t, 42, &in), INGEST_FRAG_KEPT);
	in = frag_info(TV_FRAG_LATER, 9, 0, 0);
	cr_assert_eq(ingest_fragports_apply(t, 42, &in), INGEST_FRAG_ATTRIBUTED);
	cr_assert_eq(in.has_ports, 1);
	cr_assert_eq(in.key.sport, 5000);
	cr_assert_eq(in.key.dport, 53);

	/* another mirror session, another IP id: not the same datagram */
	in = frag_info(TV_FRAG_LATER, 9, 0, 0);
	cr_assert_eq(ingest_fragports_apply(t, 43, &in), INGEST_FRAG_UNKNOWN);
	in = frag_info(TV_FRAG_LATER, 10, 0, 0);
	cr_assert_eq(ingest_fragports_apply(t, 42, &in), INGEST_FRAG_UNKNOWN);

	/* not fragments, or no table: untouched */
	in = frag_info(TV_FRAG_NONE, 0, 1, 2);
	cr_assert_eq(ingest_fragports_apply(t, 42, &in), INGEST_FRAG_NONE);
	in = frag_info(TV_FRAG_LATER, 9, 0, 0);
	cr_assert_eq(ingest_fragports_apply(NULL, 42, &in), INGEST_FRAG_NONE);
	cr_assert_eq(in.has_ports, 0);
	ingest_fragports_free(t);
	ingest_fragports_free(NULL);
}

Test(decap, ipv6_fragments_and_ext_headers)
{
	pb p;
	tv_pkt pkt;

	/* hop-by-hop, destination options, fragment (first), TCP */
	pb_init(&p);
	pb_eth(&p, 0x86dd);
	pb_ipv6(&p, 0, V6A, V6B);
	pb_u8(&p, 60); pb_u8(&p, 0); pb_be16(&p, 0); pb_be32(&p, 0);          /* HBH, 8 bytes */
	pb_u8(&p, 44); pb_u8(&p, 1); pb_fill(&p, 14);                           /* dest opts, 16 */
	pb_u8(&p, 6); pb_u8(&p, 0); pb_be16(&p, 0x0001); pb_be32(&p, 0xabcdef01); /* frag M=1 */
	pb_tcp(&p, 443, 50000, TV_TCP_ACK);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.l3, 6);
	cr_assert_eq(pkt.info.key.proto, 6);
	cr_assert_eq(pkt.info.frag, TV_FRAG_FIRST);
	cr_assert_eq(pkt.info.key.sport, 443);

	/* routing header, AH, fragment with offset: ports from the table */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_eth(&p, 0x86dd);
	pb_ipv6(&p, 43, V6A, V6B);
	pb_u8(&p, 51); pb_u8(&p, 0); pb_fill(&p, 6);                            /* routing, 8 */
	pb_u8(&p, 44); pb_u8(&p, 1); pb_fill(&p, 10);                           /* AH, (1+2)*4 = 12 */
	pb_u8(&p, 6); pb_u8(&p, 0); pb_be16(&p, 0x0100); pb_be32(&p, 0xabcdef01); /* offset 32 */
	pb_fill(&p, 16);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.frag, TV_FRAG_LATER);
	cr_assert_eq(pkt.info.key.proto, 6);
	cr_assert_eq(pkt.info.has_ports, 1);
	cr_assert_eq(pkt.info.key.dport, 50000);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_INNER_FRAG);
}

Test(decap, ipv6_atomic_fragment_is_whole)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_eth(&p, 0x86dd);
	pb_ipv6(&p, 44, V6A, V6B);
	pb_u8(&p, 17); pb_u8(&p, 0); pb_be16(&p, 0); pb_be32(&p, 1);
	pb_udp(&p, 1, 2);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.frag, TV_FRAG_NONE);
	cr_assert_eq(pkt.info.key.dport, 2);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED);
}

static void no_reasm(ingest_decap_cfg *c) { c->reasm_max_datagrams = 0; }

Test(decap, outer_fragments_without_reassembly)
{
	/* reassembly off: the first fragment of a VXLAN datagram is
	 * decapsulated, inner cut short; a later fragment has no UDP header:
	 * stored as it is (tests/unit/test_reasm.c has reassembly on) */
	pb p;
	tv_pkt pkt;
	ingest_decap_free(D);
	setup_cfg(no_reasm);
	pb_init(&p);
	pb_eth(&p, 0x0800);
	pb_ipv4_full(&p, 17, OUT_SRC, OUT_DST, 9, 0x2000);
	pb_udp(&p, 1, 4789);
	pb_vxlan(&p, 0x08000000u, 42);
	pb_inner_tcp(&p, 40);
	pb_done(&p);
	tv_put_be16(p.b + 14 + 20 + 4, (uint16_t)(p.n - 34 + 100)); /* UDP length: whole datagram */
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.vni, 42);
	cr_assert_eq(pkt.origlen, pkt.caplen + 100);
	cr_assert_eq(pkt.info.frag, TV_FRAG_NONE);

	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_eth(&p, 0x0800);
	pb_ipv4_full(&p, 17, OUT_SRC, OUT_DST, 9, 100);
	pb_fill(&p, 30);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_NONE);
	cr_assert_eq(pkt.info.frag, TV_FRAG_LATER);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_INNER_FRAG, TV_CTR_DECAP_INNER_FRAG_UNK);
}

/* ------------------------------------------------------------------ */
/* Inner summary details                                               */
/* ------------------------------------------------------------------ */

Test(decap, inner_icmp_and_ip_in_ip)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_outer4(&p, 4789);
	pb_vxlan(&p, 0x08000000u, 1);
	pb_eth(&p, 0x0800);
	pb_ipv4(&p, 1, IN_SRC, IN_DST);
	pb_u8(&p, 3);
	pb_u8(&p, 4);
	pb_be16(&p, 0);
	pb_be32(&p, 0);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.key.proto, 1);
	cr_assert_eq(pkt.info.icmp_type_code, 0x0304);
	cr_assert_eq(pkt.info.has_ports, 0);
	cr_assert_eq(pkt.info.key.sport | pkt.info.key.dport, 0);

	/* 6in4: the outermost inner header is the flow */
	pb_init(&p);
	pb_outer4(&p, 4789);
	pb_vxlan(&p, 0x08000000u, 1);
	pb_eth(&p, 0x0800);
	pb_ipv4(&p, 41, IN_SRC, IN_DST);
	pb_ipv6(&p, 6, V6A, V6B);
	pb_tcp(&p, 1, 2, 0);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.l3, 4);
	cr_assert_eq(pkt.info.key.proto, 41);
	cr_assert_eq(pkt.info.has_ports, 0);
	assert_addr(&pkt.info.key.src, A4(IN_SRC));
}

Test(decap, inner_sctp_ports)
{
	pb p;
	tv_l3info info;
	pb_init(&p);
	pb_eth(&p, 0x0800);
	pb_ipv4(&p, 132, IN_SRC, IN_DST);
	pb_be16(&p, 2905);
	pb_be16(&p, 2906);
	pb_be32(&p, 0);
	pb_be32(&p, 0);
	pb_done(&p);
	cr_assert_eq(ingest_parse_inner(p.b, (uint32_t)p.n, &info), 0);
	cr_assert_eq(info.has_ports, 1);
	cr_assert_eq(info.key.sport, 2905);
	cr_assert_eq(info.key.proto, 132);
}

Test(decap, parse_inner_no_ip_and_garbage)
{
	tv_l3info info;
	static const uint8_t arp[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06 };
	static const uint8_t tiny[5] = { 1, 2, 3, 4, 5 };
	cr_assert_eq(ingest_parse_inner(arp, sizeof arp, &info), 0);
	cr_assert_eq(info.l3, 0);
	cr_assert_eq(info.ethertype, 0x0806);
	cr_assert_eq(ingest_parse_inner(tiny, sizeof tiny, &info), 0);
	cr_assert_eq(info.l3, 0);
	cr_assert_eq(ingest_parse_inner(NULL, 0, &info), 0);
	cr_assert_eq(info.l3, 0);
}

/* ------------------------------------------------------------------ */
/* Link types                                                          */
/* ------------------------------------------------------------------ */

static void mk_bare_ip4(pb *p)
{
	pb_ipv4(p, 17, IN_SRC, IN_DST);
	pb_udp(p, 53, 33333);
	pb_fill(p, 9);
	pb_done(p);
}

static void check_synth(const tv_pkt *pkt, const uint8_t *ip, size_t n, uint16_t et)
{
	static const uint8_t zero12[12];
	cr_assert_eq(pkt->synth_l2, 1);
	cr_assert_eq(pkt->caplen, 14 + n);
	cr_assert(memcmp(pkt->frame, zero12, 12) == 0);
	cr_assert_eq(tv_get_be16(pkt->frame + 12), et);
	cr_assert(memcmp(pkt->frame + 14, ip, n) == 0);
}

Test(decap, raw_ipv4_ipv6_link_types)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	mk_bare_ip4(&p);
	cr_assert_eq(run(INGEST_LINK_RAW, p.b, p.n, 0, &pkt), INGEST_STORE);
	check_synth(&pkt, p.b, p.n, 0x0800);
	cr_assert_eq(pkt.origlen, pkt.caplen);
	cr_assert_eq(pkt.info.key.sport, 53);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_NONE);
	/* 12 is DLT_RAW, what pcap_datalink() says for LINKTYPE_RAW files */
	cr_assert_eq(run(12, p.b, p.n, 0, &pkt), INGEST_STORE);
	check_synth(&pkt, p.b, p.n, 0x0800);
	cr_assert_eq(run(INGEST_LINK_IPV4, p.b, p.n, (uint32_t)p.n + 10, &pkt), INGEST_STORE);
	check_synth(&pkt, p.b, p.n, 0x0800);
	cr_assert_eq(pkt.origlen, pkt.caplen + 10);

	pb_init(&p);
	pb_ipv6(&p, 17, V6A, V6B);
	pb_udp(&p, 1, 2);
	pb_done(&p);
	cr_assert_eq(run(INGEST_LINK_RAW, p.b, p.n, 0, &pkt), INGEST_STORE);
	check_synth(&pkt, p.b, p.n, 0x86dd);
	cr_assert_eq(pkt.info.l3, 6);
	cr_assert_eq(run(INGEST_LINK_IPV6, p.b, p.n, 0, &pkt), INGEST_STORE);
	check_synth(&pkt, p.b, p.n, 0x86dd);
}

Test(decap, null_link_type)
{
	pb p, ip;
	tv_pkt pkt;
	static const uint8_t af[][4] = {
		{ 2, 0, 0, 0 }, { 0, 0, 0, 2 }, { 24, 0, 0, 0 }, { 28, 0, 0, 0 }, { 0, 0, 0, 30 },
	};
	static const uint16_t et[] = { 0x0800, 0x0800, 0x86dd, 0x86dd, 0x86dd };
	size_t i;
	pb_init(&ip);
	mk_bare_ip4(&ip);
	for (i = 0; i < 5; i++) {
		pb_init(&p);
		pb_bytes(&p, af[i], 4);
		pb_bytes(&p, ip.b, ip.n);
		cr_assert_eq(run(INGEST_LINK_NULL, p.b, p.n, 0, &pkt), INGEST_STORE);
		check_synth(&pkt, ip.b, ip.n, et[i]);
	}
	cr_assert_eq(CTR(DECAP_INNER_BAD), 3); /* IPv4 bytes called IPv6 */
	cr_assert_eq(CTR(DECAP_INNER_TRUNC), 0);
}

Test(decap, sll_and_sll2_link_types)
{
	pb p, ip;
	tv_pkt pkt;
	pb_init(&ip);
	mk_bare_ip4(&ip);

	pb_init(&p);
	pb_be16(&p, 0);      /* to us */
	pb_be16(&p, 1);      /* ARPHRD_ETHER */
	pb_be16(&p, 6);
	pb_fill(&p, 8);
	pb_be16(&p, 0x0800);
	pb_bytes(&p, ip.b, ip.n);
	cr_assert_eq(run(INGEST_LINK_LINUX_SLL, p.b, p.n, 0, &pkt), INGEST_STORE);
	check_synth(&pkt, ip.b, ip.n, 0x0800);
	cr_assert_eq(pkt.info.key.sport, 53);

	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_be16(&p, 0x0800);
	pb_be16(&p, 0);
	pb_be32(&p, 2);      /* ifindex */
	pb_be16(&p, 1);
	pb_u8(&p, 4);
	pb_u8(&p, 6);
	pb_fill(&p, 8);
	pb_bytes(&p, ip.b, ip.n);
	cr_assert_eq(run(INGEST_LINK_LINUX_SLL2, p.b, p.n, 0, &pkt), INGEST_STORE);
	check_synth(&pkt, ip.b, ip.n, 0x0800);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED);
}

Test(decap, raw_link_carrying_tunnel)
{
	/* bare IP capture of VXLAN traffic is decapsulated too */
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	mk_vxlan(&p, 66);
	cr_assert_eq(run(INGEST_LINK_RAW, p.b + 14, p.n - 14, 0, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.vni, 66);
	cr_assert_eq(pkt.synth_l2, 0);
	cr_assert_eq(pkt.info.key.dport, 80);
}

Test(decap, raw_link_geneve_l3_then_bad_vxlan_keeps_outer)
{
	/* the outer frame is synthesised, GENEVE synthesises again, the VXLAN
	 * inside is bad: the stored outer frame must still be intact */
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	mk_geneve_vxlan(&p, 0); /* VXLAN without the I flag */
	cr_assert_eq(run(INGEST_LINK_IPV4, p.b + 14, p.n - 14, 0, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 1);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_NONE);
	cr_assert_eq(pkt.tun.has_gwlb, 0);
	check_synth(&pkt, p.b + 14, p.n - 14, 0x0800);
	cr_assert_eq(pkt.info.key.dport, 6081);
	ONLY(TV_CTR_DECAP_VXLAN_BAD_FLAGS, TV_CTR_DECAP_FAILED);
}

Test(decap, huge_bare_ip_cut_to_scratch)
{
	size_t n = 70000;
	uint8_t *b = calloc(1, n);
	tv_pkt pkt;
	b[0] = 0x45; /* IPv4, total length 0 (GSO), TCP */
	b[9] = 6;
	cr_assert_eq(run(INGEST_LINK_RAW, b, n, 0, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.caplen, 65535 + 64);
	cr_assert_eq(pkt.origlen, n + 14);
	cr_assert_eq(CTR(DECAP_SNAPLEN_CUT), 1);
	free(b);
}

Test(decap, unknown_link_type_dropped)
{
	tv_pkt pkt;
	cr_assert_eq(run(147, vxlan_tcp, sizeof vxlan_tcp, 0, &pkt), INGEST_DROP);
	cr_assert_eq(run(9 /* PPP */, vxlan_tcp, sizeof vxlan_tcp, 0, &pkt), INGEST_DROP);
	cr_assert_eq(CTR(SRC_LINKTYPE), 2);
	cr_assert_eq(CTR(DECAP_NOT_TUNNELLED), 0);
}

Test(decap, bad_link_headers_dropped)
{
	static const uint8_t two[2] = { 2, 0 };
	static const uint8_t af99[8] = { 99, 0, 0, 0, 0x45 };
	uint8_t sll[40] = { 0 }, sll2[40] = { 0 };
	tv_pkt pkt;
	cr_assert_eq(run(INGEST_LINK_NULL, two, 2, 0, &pkt), INGEST_DROP);
	cr_assert_eq(run(INGEST_LINK_LINUX_SLL, sll, 15, 0, &pkt), INGEST_DROP);
	cr_assert_eq(run(INGEST_LINK_LINUX_SLL2, sll2, 19, 0, &pkt), INGEST_DROP);
	cr_assert_eq(CTR(SRC_LINK_TRUNC), 3);
	cr_assert_eq(run(INGEST_LINK_NULL, af99, sizeof af99, 0, &pkt), INGEST_DROP);
	sll[15] = 4; /* 802.2 LLC */
	cr_assert_eq(run(INGEST_LINK_LINUX_SLL, sll, sizeof sll, 0, &pkt), INGEST_DROP);
	sll2[1] = 1; /* Novell 802.3 */
	cr_assert_eq(run(INGEST_LINK_LINUX_SLL2, sll2, sizeof sll2, 0, &pkt), INGEST_DROP);
	cr_assert_eq(CTR(SRC_LINK_PROTO), 3);
	/* SLL carrying ARP is an ethertype: stored, not IP */
	sll[14] = 0x08;
	sll[15] = 0x06;
	cr_assert_eq(run(INGEST_LINK_LINUX_SLL, sll, sizeof sll, 0, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.ethertype, 0x0806);
	cr_assert_eq(CTR(DECAP_INNER_NO_IP), 1);
}

/* ------------------------------------------------------------------ */
/* Reject branches: one case per reason                                */
/* ------------------------------------------------------------------ */

Test(decap, eth_truncated)
{
	tv_pkt pkt;
	cr_assert_eq(run(INGEST_LINK_ETHERNET, vxlan_tcp, 13, 0, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.caplen, 13);
	cr_assert_eq(pkt.info.l3, 0);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_ETH_TRUNC, TV_CTR_DECAP_INNER_TRUNC);
	memset(&C, 0, sizeof C);
	cr_assert_eq(run(INGEST_LINK_ETHERNET, NULL, 0, 0, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.caplen, 0);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_ETH_TRUNC, TV_CTR_DECAP_INNER_TRUNC);
}

Test(decap, vlan_truncated_and_too_deep)
{
	pb p;
	tv_pkt pkt;
	int i;
	pb_init(&p);
	pb_eth(&p, 0x8100);
	pb_be16(&p, 5);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_VLAN_TRUNC, TV_CTR_DECAP_INNER_TRUNC);

	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_eth(&p, 0x8100);
	for (i = 0; i < 5; i++)
		pb_vlan(&p, (uint16_t)(i + 1), i < 4 ? 0x8100 : 0x0800);
	pb_ipv4(&p, 17, OUT_SRC, OUT_DST);
	pb_udp(&p, 1, 4789);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.vlan, 1);
	cr_assert_eq(pkt.info.l3, 0);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_VLAN_TOO_DEEP);
}

Test(decap, ipv4_truncated)
{
	tv_pkt pkt;
	cr_assert_eq(run(INGEST_LINK_ETHERNET, vxlan_tcp, 14 + 19, 0, &pkt), INGEST_STORE);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_IPV4_TRUNC, TV_CTR_DECAP_INNER_TRUNC);
	/* options announced but not present */
	memset(&C, 0, sizeof C);
	{
		uint8_t b[14 + 24];
		memcpy(b, vxlan_tcp, sizeof b);
		b[14] = 0x4f;
		cr_assert_eq(run(INGEST_LINK_ETHERNET, b, sizeof b, 0, &pkt), INGEST_STORE);
		ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_IPV4_TRUNC, TV_CTR_DECAP_INNER_TRUNC);
	}
}

Test(decap, ipv4_bad_header)
{
	uint8_t b[sizeof vxlan_tcp];
	tv_pkt pkt;
	memcpy(b, vxlan_tcp, sizeof b);
	b[14] = 0x44; /* IHL 4 */
	cr_assert_eq(run(INGEST_LINK_ETHERNET, b, sizeof b, 0, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 0); /* ports unreadable: not a known tunnel */
	cr_assert_eq(pkt.info.l3, 0);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_IPV4_BAD_HDR, TV_CTR_DECAP_INNER_BAD);
	memset(&C, 0, sizeof C);
	b[14] = 0x65; /* version 6 under ethertype IPv4 */
	cr_assert_eq(run(INGEST_LINK_ETHERNET, b, sizeof b, 0, &pkt), INGEST_STORE);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_IPV4_BAD_HDR, TV_CTR_DECAP_INNER_BAD);
}

Test(decap, ipv4_bad_length)
{
	uint8_t b[sizeof vxlan_tcp];
	tv_pkt pkt;
	memcpy(b, vxlan_tcp, sizeof b);
	b[17] = 19; /* total length below the header */
	cr_assert_eq(run(INGEST_LINK_ETHERNET, b, sizeof b, 0, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 0);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_IPV4_BAD_LEN, TV_CTR_DECAP_INNER_BAD);

	/* total length beyond the frame, nothing cut: a tunnel candidate gone bad */
	memset(&C, 0, sizeof C);
	memcpy(b, vxlan_tcp, sizeof b);
	b[17] = 0xff;
	cr_assert_eq(run(INGEST_LINK_ETHERNET, b, sizeof b, 0, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 1);
	cr_assert_eq(pkt.frame, b);
	cr_assert_eq(pkt.caplen, sizeof b);
	cr_assert_eq(pkt.origlen, sizeof b);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_NONE);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_IPV4_BAD_LEN, TV_CTR_DECAP_INNER_TRUNC);
}

Test(decap, ipv6_outer_rejects)
{
	pb p;
	tv_pkt pkt;

	/* truncated fixed header */
	pb_init(&p);
	pb_eth(&p, 0x86dd);
	pb_ipv6(&p, 17, V6A, V6B);
	cr_assert_eq(run(INGEST_LINK_ETHERNET, p.b, 14 + 39, 0, &pkt), INGEST_STORE);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_IPV6_TRUNC, TV_CTR_DECAP_INNER_TRUNC);

	/* version 4 under ethertype IPv6 */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_eth(&p, 0x86dd);
	pb_ipv6(&p, 17, V6A, V6B);
	pb_udp(&p, 1, 4789);
	pb_done(&p);
	p.b[14] = 0x40;
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_IPV6_BAD_HDR, TV_CTR_DECAP_INNER_BAD);

	/* payload length beyond the frame, nothing cut, UDP 4789: decap_error */
	memset(&C, 0, sizeof C);
	p.b[14] = 0x60;
	tv_put_be16(p.b + 18, 100);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 1);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_IPV6_BAD_LEN, TV_CTR_DECAP_INNER_TRUNC);

	/* extension header running past the payload length */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_eth(&p, 0x86dd);
	pb_ipv6(&p, 0, V6A, V6B);
	pb_u8(&p, 17); pb_u8(&p, 1); pb_fill(&p, 14);
	pb_done(&p);
	tv_put_be16(p.b + 18, 8);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.l3, 0);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_IPV6_BAD_EXT, TV_CTR_DECAP_INNER_BAD);

	/* too many extension headers */
	memset(&C, 0, sizeof C);
	{
		int i;
		pb_init(&p);
		pb_eth(&p, 0x86dd);
		pb_ipv6(&p, 60, V6A, V6B);
		for (i = 0; i < 17; i++) {
			pb_u8(&p, 60); pb_u8(&p, 0); pb_fill(&p, 6);
		}
		pb_done(&p);
	}
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_IPV6_BAD_EXT, TV_CTR_DECAP_INNER_BAD);

	/* extension header cut by the capture: truncated, addresses kept */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_eth(&p, 0x86dd);
	pb_ipv6(&p, 0, V6A, V6B);
	pb_u8(&p, 17); pb_u8(&p, 1); pb_fill(&p, 14);
	pb_udp(&p, 1, 4789);
	pb_done(&p);
	cr_assert_eq(run(INGEST_LINK_ETHERNET, p.b, 14 + 40 + 8, (uint32_t)p.n, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.l3, 6);
	cr_assert_eq(pkt.info.has_ports, 0);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_IPV6_TRUNC, TV_CTR_DECAP_INNER_TRUNC,
	     TV_CTR_DECAP_SNAPLEN_CUT);
}

Test(decap, udp_rejects)
{
	pb p;
	tv_pkt pkt;
	/* UDP header cut */
	pb_init(&p);
	pb_outer4(&p, 4789);
	pb_done(&p);
	cr_assert_eq(run(INGEST_LINK_ETHERNET, p.b, p.n - 3, (uint32_t)p.n, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 0);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_UDP_TRUNC, TV_CTR_DECAP_INNER_TRUNC,
	     TV_CTR_DECAP_SNAPLEN_CUT);

	/* UDP length below 8 on the VXLAN port */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	mk_vxlan(&p, 1);
	tv_put_be16(p.b + 38, 7);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 1);
	cr_assert_eq(pkt.frame, p.b);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_UDP_BAD_LEN);

	/* UDP length beyond the IP payload */
	memset(&C, 0, sizeof C);
	tv_put_be16(p.b + 38, (uint16_t)(p.n - 34 + 1));
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 1);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_UDP_BAD_LEN);

	/* same on an ordinary port: counted, stored, no decap_error */
	memset(&C, 0, sizeof C);
	tv_put_be16(p.b + 36, 53);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 0);
	ONLY(TV_CTR_DECAP_NOT_TUNNELLED, TV_CTR_DECAP_UDP_BAD_LEN);
}

Test(decap, vxlan_rejects)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	mk_vxlan(&p, 5);
	/* header cut (the capture kept 7 of its 8 bytes) */
	cr_assert_eq(run(INGEST_LINK_ETHERNET, p.b, 14 + 20 + 8 + 7, (uint32_t)p.n, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 1);
	cr_assert_eq(pkt.caplen, 49);
	cr_assert_eq(pkt.origlen, p.n);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_VXLAN_TRUNC, TV_CTR_DECAP_SNAPLEN_CUT,
	     TV_CTR_DECAP_INNER_TRUNC);

	memset(&C, 0, sizeof C);
	p.b[42] = 0x00; /* I flag clear */
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 1);
	cr_assert_eq(pkt.info.key.dport, 4789);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_VXLAN_BAD_FLAGS);
}

Test(decap, vxlan_empty_inner_is_inner_trunc)
{
	pb p;
	tv_pkt pkt;
	pb_init(&p);
	pb_outer4(&p, 4789);
	pb_vxlan(&p, 0x08000000u, 5);
	pb_fill(&p, 6);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.vni, 5);
	cr_assert_eq(pkt.caplen, 6);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN, TV_CTR_DECAP_INNER_TRUNC);
}

Test(decap, geneve_rejects)
{
	pb p;
	tv_pkt pkt;

	/* base header cut */
	pb_init(&p);
	mk_geneve_gwlb_l3(&p);
	cr_assert_eq(run(INGEST_LINK_ETHERNET, p.b, 14 + 20 + 8 + 5, (uint32_t)p.n, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 1);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_GENEVE_TRUNC, TV_CTR_DECAP_SNAPLEN_CUT,
	     TV_CTR_DECAP_INNER_TRUNC);

	/* options announced beyond the packet */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_outer4(&p, 6081);
	pb_geneve(&p, 0, 63, 0x6558, 1);
	pb_fill(&p, 20);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_GENEVE_TRUNC);

	/* version 1 */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	mk_geneve_gwlb_l3(&p);
	p.b[42] |= 0x40;
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 1);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_GENEVE_BAD_VER);

	/* unsupported protocol type */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	mk_geneve_gwlb_l3(&p);
	tv_put_be16(p.b + 44, 0x0012); /* not an ethertype (< 0x0600) */
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 1);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_GENEVE_PROTO);
}

Test(decap, geneve_arp_payload)
{
	pb p;
	tv_pkt pkt;
	memset(&C, 0, sizeof C);
	pb_init(&p);
	mk_geneve_gwlb_l3(&p);
	tv_put_be16(p.b + 44, 0x0806); /* ARP, as GCP and zeek's samples carry it */
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.decap_error, 0);
	cr_assert_eq(pkt.synth_l2, 1);
	cr_assert_eq(tv_get_be16(pkt.frame + 12), 0x0806);
	cr_assert_eq(pkt.info.l3, 0);
}

Test(decap, geneve_bad_options)
{
	pb p;
	tv_pkt pkt;

	/* option data longer than the options area */
	pb_init(&p);
	pb_outer4(&p, 6081);
	pb_geneve(&p, 0, 2, 0x0800, 1);
	pb_gopt(&p, 0x0101, 1, 3);
	pb_be32(&p, 0);
	mk_bare_ip4(&p);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_GENEVE_BAD_OPT);

	/* GWLB endpoint option with the wrong length */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_outer4(&p, 6081);
	pb_geneve(&p, 0, 2, 0x0800, 1);
	pb_gopt(&p, 0x0108, 1, 1);
	pb_be32(&p, 0);
	mk_bare_ip4(&p);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_GENEVE_BAD_OPT);

	/* GWLB attachment and cookie with wrong lengths */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_outer4(&p, 6081);
	pb_geneve(&p, 0, 1, 0x0800, 1);
	pb_gopt(&p, 0x0108, 2, 0);
	mk_bare_ip4(&p);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_GENEVE_BAD_OPT);
	memset(&C, 0, sizeof C);
	p.b[14 + 20 + 8 + 8 + 2] = 3;
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	ONLY(TV_CTR_DECAP_FAILED, TV_CTR_DECAP_GENEVE_BAD_OPT);

	/* an options area of 2 bytes cannot hold an option header */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_outer4(&p, 6081);
	pb_geneve(&p, 0, 1, 0x0800, 1);
	pb_gopt(&p, 0x0108, 9, 0); /* unknown GWLB type: skipped */
	mk_bare_ip4(&p);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.has_gwlb, 0);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_GENEVE);
}

Test(decap, inner_rejects)
{
	pb p;
	tv_pkt pkt;

	/* ARP inside VXLAN: not IP */
	pb_init(&p);
	pb_outer4(&p, 4789);
	pb_vxlan(&p, 0x08000000u, 1);
	pb_eth(&p, 0x0806);
	pb_fill(&p, 28);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.l3, 0);
	cr_assert_eq(pkt.info.ethertype, 0x0806);
	cr_assert_eq(pkt.origlen, pkt.caplen);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN, TV_CTR_DECAP_INNER_NO_IP);

	/* inner IPv4 with IHL 3: malformed */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	mk_vxlan(&p, 1);
	p.b[50 + 14] = 0x43;
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.l3, 0);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN, TV_CTR_DECAP_INNER_BAD);

	/* inner TCP header beyond the declared IP length: malformed */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	mk_vxlan(&p, 1);
	tv_put_be16(p.b + 50 + 14 + 2, 22);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.l3, 4);
	cr_assert_eq(pkt.info.has_ports, 0);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN, TV_CTR_DECAP_INNER_BAD);

	/* inner TCP flags cut by the mirror: ports kept, truncated */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	mk_vxlan(&p, 1);
	cr_assert_eq(run(INGEST_LINK_ETHERNET, p.b, 50 + 14 + 20 + 10, (uint32_t)p.n, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.has_ports, 1);
	cr_assert_eq(pkt.info.tcp_flags, 0);
	cr_assert_eq(pkt.origlen, p.n - 50);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN, TV_CTR_DECAP_INNER_TRUNC,
	     TV_CTR_DECAP_SNAPLEN_CUT);

	/* inner ICMP with no type byte */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_outer4(&p, 4789);
	pb_vxlan(&p, 0x08000000u, 1);
	pb_eth(&p, 0x0800);
	pb_ipv4(&p, 1, IN_SRC, IN_DST);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN, TV_CTR_DECAP_INNER_BAD);

	/* inner VLAN cut, and too many inner VLAN tags */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_outer4(&p, 4789);
	pb_vxlan(&p, 0x08000000u, 1);
	pb_eth(&p, 0x8100);
	pb_u8(&p, 0);
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN, TV_CTR_DECAP_INNER_TRUNC);
	memset(&C, 0, sizeof C);
	pb_init(&p);
	pb_outer4(&p, 4789);
	pb_vxlan(&p, 0x08000000u, 1);
	pb_eth(&p, 0x88a8);
	{
		int i;
		for (i = 0; i < 5; i++)
			pb_vlan(&p, 9, i < 4 ? 0x8100 : 0x0800);
	}
	pb_done(&p);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.info.vlan, 9);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_VXLAN, TV_CTR_DECAP_VLAN_TOO_DEEP);

	/* malformed IP inside GENEVE aimed at the VXLAN port: stays the inner frame */
	memset(&C, 0, sizeof C);
	pb_init(&p);
	mk_geneve_vxlan(&p, 0x08000000u);
	p.b[14 + 20 + 8 + 8 + 32] = 0x42;
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.tunnel, TV_TUN_GENEVE);
	cr_assert_eq(pkt.synth_l2, 1);
	ONLY(TV_CTR_DECAP_OK, TV_CTR_DECAP_GENEVE, TV_CTR_DECAP_INNER_BAD);
}

Test(decap, counters_once_per_packet)
{
	/* a frame that fails the outer VLAN walk and the inner one: one count */
	pb p;
	tv_pkt pkt;
	int i;
	pb_init(&p);
	pb_eth(&p, 0x8100);
	for (i = 0; i < 6; i++)
		pb_vlan(&p, 1, 0x8100);
	cr_assert_eq(run_pb(&p, &pkt), INGEST_STORE);
	cr_assert_eq(CTR(DECAP_VLAN_TOO_DEEP), 1);
}

/* Every counter decap owns is reached by the tests above; this replays a
 * compact set and checks none stays at zero. */
Test(decap, every_decap_counter_reachable)
{
	pb p;
	tv_pkt pkt;
	size_t i;
	uint8_t b[sizeof vxlan_tcp];
	static const uint8_t two[2] = { 2, 0 };
	static const uint8_t af99[8] = { 99 };

	run(INGEST_LINK_ETHERNET, vxlan_tcp, sizeof vxlan_tcp, 0, &pkt);  /* OK, VXLAN */
	run(147, vxlan_tcp, sizeof vxlan_tcp, 0, &pkt);                    /* LINKTYPE */
	run(INGEST_LINK_NULL, two, 2, 0, &pkt);                            /* LINK_TRUNC */
	run(INGEST_LINK_NULL, af99, sizeof af99, 0, &pkt);                 /* LINK_PROTO */
	run(INGEST_LINK_ETHERNET, vxlan_tcp, 10, 0, &pkt);                 /* ETH_TRUNC, INNER_TRUNC */
	run(INGEST_LINK_ETHERNET, vxlan_tcp, 40, 200, &pkt);               /* SNAPLEN, NOT_TUNNELLED */
	run(INGEST_LINK_ETHERNET, vxlan_tcp, 14 + 20 + 8 + 4, 200, &pkt);  /* VXLAN_TRUNC, FAILED */
	run(INGEST_LINK_ETHERNET, vxlan_tcp, 14 + 10, 0, &pkt);            /* IPV4_TRUNC */
	memcpy(b, vxlan_tcp, sizeof b);
	b[14] = 0x41;
	run(INGEST_LINK_ETHERNET, b, sizeof b, 0, &pkt);                   /* IPV4_BAD_HDR, INNER_BAD */
	memcpy(b, vxlan_tcp, sizeof b);
	b[17] = 0xf0;
	run(INGEST_LINK_ETHERNET, b, sizeof b, 0, &pkt);                   /* IPV4_BAD_LEN */
	memcpy(b, vxlan_tcp, sizeof b);
	b[39] = 3;
	run(INGEST_LINK_ETHERNET, b, sizeof b, 0, &pkt);                   /* UDP_BAD_LEN */
	run(INGEST_LINK_ETHERNET, vxlan_tcp, 14 + 20 + 5, 0, &pkt);        /* UDP_TRUNC */
	memcpy(b, vxlan_tcp, sizeof b);
	b[42] = 0;
	run(INGEST_LINK_ETHERNET, b, sizeof b, 0, &pkt);                   /* VXLAN_BAD_FLAGS */
	memcpy(b, vxlan_tcp, sizeof b);
	b[12] = 0x81;
	run(INGEST_LINK_ETHERNET, b, 15, 0, &pkt);                         /* VLAN_TRUNC */
	pb_init(&p);
	pb_eth(&p, 0x8100);
	for (i = 0; i < 5; i++)
		pb_vlan(&p, 1, 0x8100);
	run_pb(&p, &pkt);                                                  /* VLAN_TOO_DEEP */
	pb_init(&p);
	pb_eth(&p, 0x86dd);
	pb_ipv6(&p, 0, V6A, V6B);
	pb_u8(&p, 17); pb_u8(&p, 3); pb_fill(&p, 6);
	pb_udp(&p, 1, 4789);
	pb_done(&p);
	run(INGEST_LINK_ETHERNET, p.b, 20, 0, &pkt);                       /* IPV6_TRUNC */
	run_pb(&p, &pkt);                                                  /* IPV6_BAD_EXT */
	p.b[14] = 0x70;
	run_pb(&p, &pkt);                                                  /* IPV6_BAD_HDR */
	pb_init(&p);
	pb_eth(&p, 0x86dd);
	pb_ipv6(&p, 6, V6A, V6B);
	pb_done(&p);
	p.b[19] = 9;
	run_pb(&p, &pkt);                                                  /* IPV6_BAD_LEN */
	pb_init(&p);
	mk_geneve_gwlb_l3(&p);
	run_pb(&p, &pkt);                                                  /* GENEVE */
	run(INGEST_LINK_ETHERNET, p.b, 14 + 20 + 8 + 3, (uint32_t)p.n, &pkt); /* GENEVE_TRUNC */
	p.b[42] = 0x8a;
	run_pb(&p, &pkt);                                                  /* GENEVE_BAD_VER */
	p.b[42] = GWLB_WORDS + 2;
	p.b[14 + 20 + 8 + 8 + 3] = 31;
	run_pb(&p, &pkt);                                                  /* GENEVE_BAD_OPT */
	p.b[14 + 20 + 8 + 8 + 3] = 1;
	p.b[44] = 0x00;
	p.b[45] = 0x12;
	run_pb(&p, &pkt);                                                  /* GENEVE_PROTO */
	pb_init(&p);
	mk_geneve_vxlan(&p, 0x08000000u);
	run_pb(&p, &pkt);                                                  /* GENEVE_VXLAN */
	ingest_decap_free(D);
	CFG.max_depth = 0;
	cr_assert_eq(ingest_decap_new(&CFG, &C, &D), 0);
	run_pb(&p, &pkt);                                                  /* TOO_DEEP */
	pb_init(&p);
	pb_eth(&p, 0x0806);
	run_pb(&p, &pkt);                                                  /* INNER_NO_IP */
	pb_init(&p);
	pb_eth(&p, 0x0800);
	pb_ipv4_full(&p, 6, IN_SRC, IN_DST, 1, 0x0010);
	pb_done(&p);
	run_pb(&p, &pkt);                                                  /* INNER_FRAG, FRAG_UNK */

	for (i = 0; i < sizeof decap_ctrs / sizeof decap_ctrs[0]; i++)
		cr_expect_neq(C.v[decap_ctrs[i]], 0, "%s never counted", tv_counter_name(decap_ctrs[i]));
}

Test(decap, cfg_and_lifecycle)
{
	ingest_decap_cfg cfg;
	ingest_decap *d = (ingest_decap *)&cfg;
	tv_pkt pkt;
	ingest_decap_cfg_default(&cfg);
	cr_assert_eq(cfg.vxlan_ports[0], 4789);
	cr_assert_eq(cfg.n_vxlan_ports, 1);
	cr_assert_eq(cfg.geneve_ports[0], 6081);
	cr_assert_eq(cfg.n_geneve_ports, 1);
	cr_assert_eq(cfg.max_depth, 3);
	cr_assert_eq(cfg.max_vlan, 4);
	cr_assert_eq(cfg.strict_vxlan, false);
	cfg.n_vxlan_ports = INGEST_MAX_PORTS + 1;
	cr_assert_eq(ingest_decap_new(&cfg, NULL, &d), TV_E_RANGE);
	cr_assert_null(d);
	cfg.n_vxlan_ports = 1;
	cfg.max_depth = -1;
	cr_assert_eq(ingest_decap_new(&cfg, NULL, &d), TV_E_RANGE);
	/* NULL cfg and counters: defaults, own counters */
	cr_assert_eq(ingest_decap_new(NULL, NULL, &d), 0);
	cr_assert_eq(ingest_decap_packet(d, INGEST_LINK_ETHERNET, vxlan_tcp, sizeof vxlan_tcp,
	                                 sizeof vxlan_tcp, 0, &pkt), INGEST_STORE);
	cr_assert_eq(pkt.tun.vni, 42);
	ingest_decap_free(d);
	ingest_decap_free(NULL);
}
