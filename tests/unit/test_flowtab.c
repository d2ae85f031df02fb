/*
 * test_flowtab.c — flow table: VPC Flow Log counting rules (tcp-flags,
 * ICMP ports, bytes), window alignment and closing, late and out-of-order
 * packets, the hard cap with early flushes, and a million flows.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../ingest/ingest.h"

/* 1700000400 is a multiple of both 60 and 600. */
#define T0 1700000400ull
#define NS 1000000000ull

#define MAXREC 20000

struct sink {
	tv_flowrec rec[MAXREC];
	size_t n;
	size_t calls;
	size_t max_batch;
};

static void sink_emit(void *ctx, const tv_flowrec *recs, size_t n)
{
	struct sink *s = ctx;
	size_t i;

	cr_assert(n > 0 && n <= INGEST_FLOWTAB_BATCH);
	s->calls++;
	if (n > s->max_batch)
		s->max_batch = n;
	for (i = 0; i < n; i++) {
		const uint8_t *pad = recs[i].pad;
		cr_assert(pad[0] == 0 && pad[1] == 0 && pad[5] == 0);
		cr_assert(recs[i].key.pad[0] == 0 && recs[i].key.pad[1] == 0 && recs[i].key.pad[2] == 0);
		cr_assert(s->n < MAXREC);
		s->rec[s->n++] = recs[i];
	}
}

static struct sink *sink_new(void)
{
	struct sink *s = calloc(1, sizeof(*s));
	cr_assert_not_null(s);
	return s;
}

static ingest_flowtab *ft_make(uint32_t interval, uint32_t max_flows, struct sink *s,
                               tv_counters *ctr)
{
	ingest_flowtab_cfg cfg;
	ingest_flowtab *ft = NULL;

	ingest_flowtab_cfg_default(&cfg);
	cfg.interval = interval;
	cfg.max_flows = max_flows;
	cfg.hash_seed = 0x1234567;
	cr_assert_eq(ingest_flowtab_new(&cfg, sink_emit, s, ctr, &ft), 0);
	return ft;
}

static void v4(tv_addr *a, uint32_t ip)
{
	uint8_t b[4] = { (uint8_t)(ip >> 24), (uint8_t)(ip >> 16), (uint8_t)(ip >> 8), (uint8_t)ip };
	tv_addr_from_v4(a, b);
}

/* A TCP/UDP/ICMP packet over IPv4 in VXLAN VNI 7 from mirror source 10.0.0.1. */
static tv_pkt mkpkt(uint64_t ts_ns, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp,
                    uint8_t proto, uint32_t ip_len, uint8_t flags)
{
	tv_pkt p;

	memset(&p, 0, sizeof(p));
	p.ts_ns = ts_ns;
	p.tun.vni = 7;
	p.tun.tunnel = TV_TUN_VXLAN;
	v4(&p.tun.outer_src, 0x0a000001);
	p.info.l3 = 4;
	p.info.has_ports = (proto == 6 || proto == 17);
	p.info.tcp_flags = flags;
	p.info.ip_len = ip_len;
	v4(&p.info.key.src, src);
	v4(&p.info.key.dst, dst);
	if (p.info.has_ports) {
		p.info.key.sport = sp;
		p.info.key.dport = dp;
	}
	p.info.key.proto = proto;
	return p;
}

static const tv_flowrec *find_rec(const struct sink *s, uint32_t window, uint16_t sport)
{
	size_t i;
	for (i = 0; i < s->n; i++)
		if (s->rec[i].window == window && s->rec[i].key.sport == sport)
			return &s->rec[i];
	return NULL;
}

Test(flowtab, bad_config)
{
	ingest_flowtab_cfg cfg;
	ingest_flowtab *ft = (ingest_flowtab *)&cfg;

	ingest_flowtab_cfg_default(&cfg);
	cr_assert_eq(cfg.interval, 600);
	cr_assert_eq(cfg.max_flows, 262144);
	cfg.interval = 0;
	cr_assert_eq(ingest_flowtab_new(&cfg, NULL, NULL, NULL, &ft), TV_E_RANGE);
	cr_assert_null(ft);
	cfg.interval = 60;
	cfg.max_flows = 0;
	cr_assert_eq(ingest_flowtab_new(&cfg, NULL, NULL, NULL, &ft), TV_E_RANGE);
	ingest_flowtab_free(NULL);
	/* NULL cfg means defaults; NULL emit and counters are allowed. */
	cr_assert_eq(ingest_flowtab_new(NULL, NULL, NULL, NULL, &ft), 0);
	tv_pkt p = mkpkt(T0 * NS, 1, 2, 3, 4, 17, 100, 0);
	ingest_flowtab_add(ft, &p);
	cr_assert_eq(ingest_flowtab_active(ft), 1);
	ingest_flowtab_flush(ft);
	cr_assert_eq(ingest_flowtab_active(ft), 0);
	ingest_flowtab_free(ft);
}

Test(flowtab, single_flow_totals)
{
	struct sink *s = sink_new();
	tv_counters ctr = { { 0 } };
	ingest_flowtab *ft = ft_make(600, 1024, s, &ctr);
	uint64_t bytes = 0;
	int i;

	for (i = 0; i < 10; i++) {
		/* Truncated copies: ip_len is the true size, not what was kept. */
		tv_pkt p = mkpkt((T0 + 3 + (uint64_t)i * 7) * NS + 999999999ull, 0xc0a80001, 0xc0a80002,
		                 40000, 443, 6, 1500 - (uint32_t)i, 0x18);
		p.caplen = 64;
		bytes += 1500 - (uint32_t)i;
		ingest_flowtab_add(ft, &p);
	}
	cr_assert_eq(s->n, 0);
	cr_assert_eq(ingest_flowtab_active(ft), 1);
	ingest_flowtab_flush(ft);
	cr_assert_eq(s->n, 1);
	const tv_flowrec *r = &s->rec[0];
	cr_assert_eq(r->packets, 10);
	cr_assert_eq(r->bytes, bytes);
	cr_assert_eq(r->window, T0);
	cr_assert_eq(r->start, T0 + 3);
	cr_assert_eq(r->end, T0 + 3 + 63);
	cr_assert_eq(r->ipver, 4);
	cr_assert_eq(r->vni, 7);
	cr_assert_eq(r->tcp_flags, 8); /* PSH-ACK: PSH only */
	cr_assert_eq(r->key.sport, 40000);
	cr_assert_eq(r->key.dport, 443);
	cr_assert_eq(r->key.proto, 6);
	tv_addr a;
	v4(&a, 0xc0a80001);
	cr_assert(memcmp(&r->key.src, &a, sizeof(a)) == 0);
	v4(&a, 0x0a000001);
	cr_assert(memcmp(&r->outer_src, &a, sizeof(a)) == 0);
	cr_assert_eq(ctr.v[TV_CTR_FLOW_RECORDS], 1);
	cr_assert_eq(ctr.v[TV_CTR_FLOW_EARLY_FLUSH], 0);
	/* A second flush has nothing left. */
	ingest_flowtab_flush(ft);
	cr_assert_eq(s->n, 1);
	ingest_flowtab_free(ft);
	free(s);
}

Test(flowtab, not_ip_counted)
{
	struct sink *s = sink_new();
	tv_counters ctr = { { 0 } };
	ingest_flowtab *ft = ft_make(600, 16, s, &ctr);
	tv_pkt p = mkpkt(T0 * NS, 1, 2, 3, 4, 17, 100, 0);

	p.info.l3 = 0;
	memset(&p.info.key, 0, sizeof(p.info.key));
	ingest_flowtab_add(ft, &p);
	ingest_flowtab_add(ft, &p);
	cr_assert_eq(ctr.v[TV_CTR_FLOW_NO_IP], 2);
	cr_assert_eq(ingest_flowtab_active(ft), 0);
	ingest_flowtab_flush(ft);
	cr_assert_eq(s->n, 0);
	ingest_flowtab_free(ft);
	free(s);
}

/* A frame stored as captured because its tunnel could not be removed (an
 * outer fragment that was never reassembled, a bad VXLAN header) is mirror
 * transport: it has an IP 5-tuple, the outer one, but is no flow. */
Test(flowtab, mirror_transport_is_no_flow)
{
	struct sink *s = sink_new();
	tv_counters ctr = { { 0 } };
	ingest_flowtab *ft = ft_make(600, 16, s, &ctr);
	tv_pkt p = mkpkt(T0 * NS, 0x0a000001, 0x0a000002, 0, 0, 17, 68, 0);

	p.tun.vni = TV_VNI_NONE;
	p.tun.tunnel = TV_TUN_NONE;
	p.decap_error = 1;
	ingest_flowtab_add(ft, &p);
	cr_assert_eq(ctr.v[TV_CTR_FLOW_DECAP_ERROR], 1);
	cr_assert_eq(ingest_flowtab_active(ft), 0);
	ingest_flowtab_flush(ft);
	cr_assert_eq(s->n, 0);
	ingest_flowtab_free(ft);
	free(s);
}

/* One flow per flag combination (source port = case number). */
Test(flowtab, aws_tcp_flags)
{
	static const struct {
		uint8_t raw[3];
		int n;
		uint8_t want;
	} c[] = {
		{ { TV_TCP_SYN }, 1, 2 },
		{ { TV_TCP_SYN | TV_TCP_ACK }, 1, 18 },
		{ { TV_TCP_FIN | TV_TCP_ACK }, 1, 1 },
		{ { TV_TCP_ACK }, 1, 0 },
		{ { TV_TCP_RST }, 1, 4 },
		{ { TV_TCP_PSH }, 1, 8 },
		{ { TV_TCP_PSH | TV_TCP_ACK }, 1, 8 },
		{ { TV_TCP_URG | TV_TCP_ACK }, 1, 32 },
		{ { TV_TCP_RST | TV_TCP_ACK }, 1, 4 },
		{ { 0 }, 1, 0 },
		/* OR over the flow: client SYN, ACK, FIN-ACK -> 3 (AWS,
		 * "Flow log records": tcp-flags is the OR over the window). */
		{ { TV_TCP_SYN, TV_TCP_ACK, TV_TCP_FIN | TV_TCP_ACK }, 3, 3 },
		/* server SYN-ACK, ACK, FIN-ACK -> 19. */
		{ { TV_TCP_SYN | TV_TCP_ACK, TV_TCP_ACK, TV_TCP_FIN | TV_TCP_ACK }, 3, 19 },
		/* ECE/CWR (0x40/0x80) are not flow-log flags. */
		{ { 0xc0 | TV_TCP_ACK }, 1, 0 },
	};
	struct sink *s = sink_new();
	ingest_flowtab *ft = ft_make(600, 64, s, NULL);
	size_t i;
	int j;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		for (j = 0; j < c[i].n; j++) {
			tv_pkt p = mkpkt((T0 + 1) * NS, 1, 2, (uint16_t)(1000 + i), 80, 6, 40, c[i].raw[j]);
			ingest_flowtab_add(ft, &p);
		}
	/* Not TCP: a flags byte (garbage here) is never used. */
	tv_pkt u = mkpkt((T0 + 1) * NS, 1, 2, 999, 53, 17, 40, 0x3f);
	ingest_flowtab_add(ft, &u);
	ingest_flowtab_flush(ft);
	cr_assert_eq(s->n, sizeof(c) / sizeof(c[0]) + 1);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const tv_flowrec *r = find_rec(s, T0, (uint16_t)(1000 + i));
		cr_assert_not_null(r);
		cr_assert_eq(r->tcp_flags, c[i].want, "case %zu: got %u want %u", i, r->tcp_flags,
		             c[i].want);
		cr_assert_eq(r->packets, (uint64_t)c[i].n);
	}
	cr_assert_eq(find_rec(s, T0, 999)->tcp_flags, 0);
	ingest_flowtab_free(ft);
	free(s);
}

Test(flowtab, icmp_ports_zero_and_unattributed_fragments)
{
	struct sink *s = sink_new();
	ingest_flowtab *ft = ft_make(600, 64, s, NULL);
	int i;

	/* ICMP echo: ports 0 by construction; 4 pings of 84 bytes = 336
	 * (AWS counts IP total lengths). */
	for (i = 0; i < 4; i++) {
		tv_pkt p = mkpkt((T0 + 10 + (uint64_t)i) * NS, 1, 2, 0, 0, 1, 84, 0);
		p.info.icmp_type_code = 8 << 8;
		ingest_flowtab_add(ft, &p);
	}
	/* has_ports == 0 wins even if a producer left numbers in the key. */
	tv_pkt q = mkpkt((T0 + 20) * NS, 1, 2, 0, 0, 1, 84, 0);
	q.info.key.sport = 77;
	q.info.key.dport = 88;
	ingest_flowtab_add(ft, &q);

	/* UDP: first fragment with ports, one attributed later fragment, and
	 * two later fragments the decapsulator could not attribute. */
	tv_pkt f1 = mkpkt((T0 + 30) * NS, 3, 4, 5353, 53, 17, 1500, 0);
	f1.info.frag = TV_FRAG_FIRST;
	ingest_flowtab_add(ft, &f1);
	tv_pkt f2 = f1;
	f2.info.frag = TV_FRAG_LATER;
	f2.info.ip_len = 500;
	ingest_flowtab_add(ft, &f2);
	tv_pkt f3 = mkpkt((T0 + 31) * NS, 3, 4, 0, 0, 17, 700, 0);
	f3.info.has_ports = 0;
	f3.info.frag = TV_FRAG_LATER;
	ingest_flowtab_add(ft, &f3);
	ingest_flowtab_add(ft, &f3);

	ingest_flowtab_flush(ft);
	cr_assert_eq(s->n, 3);
	/* Order: first seen first. */
	cr_assert_eq(s->rec[0].key.proto, 1);
	cr_assert_eq(s->rec[0].key.sport, 0);
	cr_assert_eq(s->rec[0].key.dport, 0);
	cr_assert_eq(s->rec[0].packets, 5);
	cr_assert_eq(s->rec[0].bytes, 5 * 84);
	cr_assert_eq(s->rec[0].tcp_flags, 0);
	cr_assert_eq(s->rec[1].key.sport, 5353);
	cr_assert_eq(s->rec[1].packets, 2);
	cr_assert_eq(s->rec[1].bytes, 2000);
	cr_assert_eq(s->rec[2].key.proto, 17);
	cr_assert_eq(s->rec[2].key.sport, 0);
	cr_assert_eq(s->rec[2].key.dport, 0);
	cr_assert_eq(s->rec[2].packets, 2);
	cr_assert_eq(s->rec[2].bytes, 1400);
	ingest_flowtab_free(ft);
	free(s);
}

/* One flow over three 60 s windows: three records, emitted as windows close. */
Test(flowtab, windows_60)
{
	static const uint64_t off[] = { 10, 50, 70, 119, 125, 170 };
	struct sink *s = sink_new();
	ingest_flowtab *ft = ft_make(60, 64, s, NULL);
	uint64_t pk = 0, by = 0;
	size_t i;

	for (i = 0; i < 6; i++) {
		tv_pkt p = mkpkt((T0 + off[i]) * NS + 500000000ull, 1, 2, 1111, 80, 6, 100 + (uint32_t)i,
		                 i == 0 ? TV_TCP_SYN : TV_TCP_ACK);
		ingest_flowtab_add(ft, &p);
		if (i == 3)
			cr_assert_eq(s->n, 0); /* window T0 stays open during T0+60 */
		if (i == 4)
			cr_assert_eq(s->n, 1); /* a packet in T0+120 closes T0 */
	}
	cr_assert_eq(ingest_flowtab_active(ft), 2);
	ingest_flowtab_flush(ft);
	cr_assert_eq(s->n, 3);
	static const uint32_t win[] = { 0, 60, 120 }, st[] = { 10, 70, 125 }, en[] = { 50, 119, 170 };
	for (i = 0; i < 3; i++) {
		const tv_flowrec *r = &s->rec[i];
		cr_assert_eq(r->window, T0 + win[i]);
		cr_assert_eq(r->start, T0 + st[i]);
		cr_assert_eq(r->end, T0 + en[i]);
		cr_assert_eq(r->packets, 2);
		pk += r->packets;
		by += r->bytes;
	}
	cr_assert_eq(s->rec[0].tcp_flags, 2);
	cr_assert_eq(s->rec[1].tcp_flags, 0);
	cr_assert_eq(pk, 6);
	cr_assert_eq(by, 100 + 101 + 102 + 103 + 104 + 105);
	ingest_flowtab_free(ft);
	free(s);
}

Test(flowtab, windows_600)
{
	struct sink *s = sink_new();
	ingest_flowtab *ft = ft_make(600, 64, s, NULL);
	/* T0 + 599.999 is the last instant of window T0; T0 + 600 starts the next. */
	tv_pkt a = mkpkt((T0 + 599) * NS + 999999999ull, 1, 2, 1, 2, 17, 10, 0);
	tv_pkt b = mkpkt((T0 + 600) * NS, 1, 2, 1, 2, 17, 20, 0);
	tv_pkt c = mkpkt((T0 + 5) * NS, 1, 2, 1, 2, 17, 30, 0);

	ingest_flowtab_add(ft, &c);
	ingest_flowtab_add(ft, &a);
	ingest_flowtab_add(ft, &b);
	ingest_flowtab_flush(ft);
	cr_assert_eq(s->n, 2);
	cr_assert_eq(s->rec[0].window, T0);
	cr_assert_eq(s->rec[0].window % 600, 0);
	cr_assert_eq(s->rec[0].start, T0 + 5);
	cr_assert_eq(s->rec[0].end, T0 + 599);
	cr_assert_eq(s->rec[0].packets, 2);
	cr_assert_eq(s->rec[0].bytes, 40);
	cr_assert_eq(s->rec[1].window, T0 + 600);
	cr_assert_eq(s->rec[1].start, T0 + 600);
	cr_assert_eq(s->rec[1].bytes, 20);

	/* Alignment is to UTC multiples, not to the first packet. */
	s->n = 0;
	tv_pkt d = mkpkt((T0 + 1234) * NS, 1, 2, 1, 2, 17, 1, 0);
	ingest_flowtab_add(ft, &d);
	ingest_flowtab_flush(ft);
	cr_assert_eq(s->rec[0].window, T0 + 1200);
	ingest_flowtab_free(ft);
	free(s);
}

/* Packets slightly out of order land in their own, still open, window. */
Test(flowtab, out_of_order_within_grace)
{
	struct sink *s = sink_new();
	ingest_flowtab *ft = ft_make(60, 64, s, NULL);
	tv_pkt p;

	p = mkpkt((T0 + 59) * NS + 900000000ull, 1, 2, 5, 6, 17, 10, 0);
	ingest_flowtab_add(ft, &p);
	p = mkpkt((T0 + 61) * NS, 1, 2, 5, 6, 17, 20, 0);
	ingest_flowtab_add(ft, &p);
	p = mkpkt((T0 + 58) * NS, 1, 2, 5, 6, 17, 40, 0); /* older window, still open */
	ingest_flowtab_add(ft, &p);
	p = mkpkt((T0 + 60) * NS, 1, 2, 5, 6, 17, 80, 0); /* out of order inside T0+60 */
	ingest_flowtab_add(ft, &p);
	cr_assert_eq(ingest_flowtab_active(ft), 2);

	/* Live clock: T0+60 ended, but within the grace the window stays open. */
	ingest_flowtab_advance(ft, (T0 + 60 + INGEST_FLOWTAB_GRACE) * NS - 1);
	cr_assert_eq(s->n, 0);
	ingest_flowtab_advance(ft, (T0 + 60 + INGEST_FLOWTAB_GRACE) * NS);
	cr_assert_eq(s->n, 1);
	cr_assert_eq(s->rec[0].window, T0);
	cr_assert_eq(s->rec[0].packets, 2);
	cr_assert_eq(s->rec[0].bytes, 50);
	cr_assert_eq(s->rec[0].start, T0 + 58);
	cr_assert_eq(s->rec[0].end, T0 + 59);
	cr_assert_eq(ingest_flowtab_active(ft), 1);

	ingest_flowtab_flush(ft);
	cr_assert_eq(s->n, 2);
	cr_assert_eq(s->rec[1].window, T0 + 60);
	cr_assert_eq(s->rec[1].packets, 2);
	cr_assert_eq(s->rec[1].start, T0 + 60);
	cr_assert_eq(s->rec[1].end, T0 + 61);
	ingest_flowtab_free(ft);
	free(s);
}

/* A packet for a closed window is counted in a new record for that window. */
Test(flowtab, late_packet_for_closed_window)
{
	struct sink *s = sink_new();
	tv_counters ctr = { { 0 } };
	ingest_flowtab *ft = ft_make(60, 64, s, &ctr);
	tv_pkt p;

	p = mkpkt((T0 + 10) * NS, 1, 2, 5, 6, 17, 10, 0);
	ingest_flowtab_add(ft, &p);
	p = mkpkt((T0 + 125) * NS, 1, 2, 5, 6, 17, 20, 0); /* closes T0 */
	ingest_flowtab_add(ft, &p);
	cr_assert_eq(s->n, 1);

	p = mkpkt((T0 + 30) * NS, 1, 2, 5, 6, 17, 40, 0); /* late, twice: one entry */
	ingest_flowtab_add(ft, &p);
	p = mkpkt((T0 + 20) * NS, 1, 2, 5, 6, 17, 80, 0);
	ingest_flowtab_add(ft, &p);
	cr_assert_eq(s->n, 1);
	cr_assert_eq(ingest_flowtab_active(ft), 2);

	/* Next close (packet in T0+240 closes T0+120): late entry first. */
	p = mkpkt((T0 + 250) * NS, 1, 2, 5, 6, 17, 160, 0);
	ingest_flowtab_add(ft, &p);
	cr_assert_eq(s->n, 3);
	cr_assert_eq(s->rec[1].window, T0);
	cr_assert_eq(s->rec[1].packets, 2);
	cr_assert_eq(s->rec[1].bytes, 120);
	cr_assert_eq(s->rec[1].start, T0 + 20);
	cr_assert_eq(s->rec[1].end, T0 + 30);
	cr_assert_eq(s->rec[2].window, T0 + 120);
	/* Two records for window T0; they sum to what the flow sent in it. */
	cr_assert_eq(s->rec[0].packets + s->rec[1].packets, 3);
	cr_assert_eq(s->rec[0].bytes + s->rec[1].bytes, 130);

	/* After advance() closed everything, a packet is late too; flush emits it. */
	ingest_flowtab_advance(ft, (T0 + 400) * NS);
	cr_assert_eq(s->n, 4);
	p = mkpkt((T0 + 300) * NS, 1, 2, 5, 6, 17, 1, 0);
	ingest_flowtab_add(ft, &p);
	ingest_flowtab_flush(ft);
	cr_assert_eq(s->n, 5);
	cr_assert_eq(s->rec[4].window, T0 + 300);
	cr_assert_eq(ctr.v[TV_CTR_FLOW_RECORDS], 5);
	cr_assert_eq(ctr.v[TV_CTR_FLOW_EARLY_FLUSH], 0);
	ingest_flowtab_free(ft);
	free(s);
}

Test(flowtab, ipv6_keys)
{
	struct sink *s = sink_new();
	ingest_flowtab *ft = ft_make(600, 64, s, NULL);
	tv_pkt p = mkpkt((T0 + 1) * NS, 0, 0, 546, 547, 17, 200, 0);
	tv_addr a, b;

	cr_assert_eq(tv_addr_parse("2001:db8::1", &a), 0);
	cr_assert_eq(tv_addr_parse("2001:db8::2", &b), 0);
	p.info.l3 = 6;
	p.info.key.src = a;
	p.info.key.dst = b;
	ingest_flowtab_add(ft, &p);
	ingest_flowtab_add(ft, &p);
	p.info.key.dst = a;
	p.info.key.src = b; /* the reverse direction is another flow */
	ingest_flowtab_add(ft, &p);

	/* An IPv6 packet between IPv4-mapped addresses is not the IPv4 flow. */
	tv_pkt q4 = mkpkt((T0 + 1) * NS, 0x01020304, 0x05060708, 9, 9, 17, 50, 0);
	tv_pkt q6 = q4;
	q6.info.l3 = 6;
	ingest_flowtab_add(ft, &q4);
	ingest_flowtab_add(ft, &q6);

	ingest_flowtab_flush(ft);
	cr_assert_eq(s->n, 4);
	cr_assert_eq(s->rec[0].ipver, 6);
	cr_assert_eq(s->rec[0].packets, 2);
	cr_assert(memcmp(&s->rec[0].key.src, &a, sizeof(a)) == 0);
	cr_assert(memcmp(&s->rec[0].key.dst, &b, sizeof(b)) == 0);
	cr_assert_eq(s->rec[1].packets, 1);
	cr_assert(memcmp(&s->rec[1].key.src, &b, sizeof(b)) == 0);
	cr_assert_eq(s->rec[2].ipver, 4);
	cr_assert_eq(s->rec[3].ipver, 6);
	ingest_flowtab_free(ft);
	free(s);
}

Test(flowtab, interfaces_stay_separate)
{
	struct sink *s = sink_new();
	ingest_flowtab *ft = ft_make(600, 64, s, NULL);
	tv_pkt p = mkpkt((T0 + 1) * NS, 1, 2, 3, 4, 6, 100, 0);

	ingest_flowtab_add(ft, &p);      /* VNI 7, mirror source 10.0.0.1 */
	p.tun.vni = 8;                   /* same 5-tuple, other VNI */
	ingest_flowtab_add(ft, &p);
	ingest_flowtab_add(ft, &p);
	p.tun.vni = 7;
	v4(&p.tun.outer_src, 0x0a000002); /* same VNI, other mirror source */
	ingest_flowtab_add(ft, &p);
	ingest_flowtab_add(ft, &p);
	ingest_flowtab_add(ft, &p);
	p.tun.vni = TV_VNI_NONE;          /* untunnelled */
	memset(&p.tun.outer_src, 0, sizeof(p.tun.outer_src));
	ingest_flowtab_add(ft, &p);
	ingest_flowtab_flush(ft);

	cr_assert_eq(s->n, 4);
	cr_assert_eq(s->rec[0].vni, 7);
	cr_assert_eq(s->rec[0].packets, 1);
	cr_assert_eq(s->rec[1].vni, 8);
	cr_assert_eq(s->rec[1].packets, 2);
	cr_assert_eq(s->rec[2].vni, 7);
	cr_assert_eq(s->rec[2].packets, 3);
	cr_assert_eq(s->rec[2].outer_src.b[15], 2);
	cr_assert_eq(s->rec[3].vni, TV_VNI_NONE);
	ingest_flowtab_free(ft);
	free(s);
}

/* Output does not depend on the hash seed. */
Test(flowtab, order_independent_of_seed)
{
	struct sink *s1 = sink_new(), *s2 = sink_new();
	ingest_flowtab_cfg cfg;
	ingest_flowtab *a, *b;
	uint32_t i;

	ingest_flowtab_cfg_default(&cfg);
	cfg.interval = 60;
	cfg.max_flows = 300;
	cfg.hash_seed = 1;
	cr_assert_eq(ingest_flowtab_new(&cfg, sink_emit, s1, NULL, &a), 0);
	cfg.hash_seed = 0; /* random */
	cr_assert_eq(ingest_flowtab_new(&cfg, sink_emit, s2, NULL, &b), 0);
	for (i = 0; i < 5000; i++) {
		uint32_t f = (i * 2654435761u) % 997;
		tv_pkt p = mkpkt((T0 + i / 20) * NS, 0x0b000000 + f, 2, (uint16_t)f, 80, 6, 60 + f, 0);
		ingest_flowtab_add(a, &p);
		ingest_flowtab_add(b, &p);
	}
	ingest_flowtab_flush(a);
	ingest_flowtab_flush(b);
	cr_assert_eq(s1->n, s2->n);
	cr_assert(memcmp(s1->rec, s2->rec, s1->n * sizeof(tv_flowrec)) == 0);
	/* Ordered by window. */
	for (i = 1; i < s1->n; i++)
		cr_assert_leq(s1->rec[i - 1].window, s1->rec[i].window);
	ingest_flowtab_free(a);
	ingest_flowtab_free(b);
	free(s1);
	free(s2);
}

/* Hard cap: 5000 flows through a 1000-entry table. */
Test(flowtab, cap_early_flush)
{
	struct sink *s = sink_new();
	tv_counters ctr = { { 0 } };
	ingest_flowtab *ft = ft_make(600, 1000, s, &ctr);
	size_t mem = ingest_flowtab_memory(ft);
	static uint64_t pk[5000], by[5000];
	uint32_t f, r;
	size_t i;

	cr_assert_gt(mem, 1000 * sizeof(tv_flowrec));
	/* One pass of 5000 new flows: an early flush at flows 1001, 2001, 3001, 4001. */
	for (f = 0; f < 5000; f++) {
		tv_pkt p = mkpkt((T0 + 1) * NS, 0x0a010000 + f, 0x0a020000, (uint16_t)f, 443, 6, 100 + f, 0);
		ingest_flowtab_add(ft, &p);
		cr_assert_leq(ingest_flowtab_active(ft), 1000);
	}
	cr_assert_eq(ctr.v[TV_CTR_FLOW_EARLY_FLUSH], 4);
	cr_assert_eq(s->n, 4000);
	cr_assert_eq(ingest_flowtab_active(ft), 1000);
	/* Two more passes: each flow gets more records, sums stay exact. */
	for (r = 0; r < 2; r++)
		for (f = 0; f < 5000; f++) {
			tv_pkt p = mkpkt((T0 + 2 + r) * NS, 0x0a010000 + f, 0x0a020000, (uint16_t)f, 443, 6,
			                 100 + f, 0);
			ingest_flowtab_add(ft, &p);
		}
	ingest_flowtab_flush(ft);
	cr_assert_eq(ingest_flowtab_memory(ft), mem);
	cr_assert_eq(ingest_flowtab_active(ft), 0);
	cr_assert_eq(ctr.v[TV_CTR_FLOW_RECORDS], s->n);
	cr_assert_eq(s->max_batch, 1000);
	for (i = 0; i < s->n; i++) {
		const tv_flowrec *rec = &s->rec[i];
		f = rec->key.sport;
		cr_assert_lt(f, 5000);
		cr_assert_eq(rec->key.src.b[14] * 256 + rec->key.src.b[15], f);
		cr_assert_eq(rec->window, T0);
		pk[f] += rec->packets;
		by[f] += rec->bytes;
	}
	for (f = 0; f < 5000; f++) {
		cr_assert_eq(pk[f], 3, "flow %u", f);
		cr_assert_eq(by[f], 3 * (100 + (uint64_t)f));
	}
	ingest_flowtab_free(ft);
	free(s);
}

/* Order-independent checksum of what the records say. */
struct acc {
	uint64_t recs, packets, bytes, weighted, flags;
	uint32_t last_window;
	bool ordered;
};

static uint64_t flow_weight(uint32_t id)
{
	uint64_t x = id * 0x9e3779b97f4a7c15ull;
	return (x ^ (x >> 29)) | 1;
}

static void acc_emit(void *ctx, const tv_flowrec *recs, size_t n)
{
	struct acc *a = ctx;
	size_t i;

	for (i = 0; i < n; i++) {
		const tv_flowrec *r = &recs[i];
		uint32_t id = tv_get_be32(r->key.src.b + 12);
		a->recs++;
		a->packets += r->packets;
		a->bytes += r->bytes;
		a->weighted += flow_weight(id) * r->packets + (flow_weight(id) >> 7) * r->bytes;
		a->flags += r->tcp_flags;
	}
}

/* A million distinct flows (two packets each, three 600 s windows) through
 * a 65536-entry table. */
Test(flowtab, million_flows, .timeout = 60)
{
	const uint32_t nflows = 1000000;
	struct acc a;
	tv_counters ctr = { { 0 } };
	ingest_flowtab_cfg cfg;
	ingest_flowtab *ft;
	uint64_t want_pk = 0, want_by = 0, want_w = 0, want_fl = 0;
	struct timespec t0, t1;
	uint32_t i, pass;
	size_t mem;

	memset(&a, 0, sizeof(a));
	ingest_flowtab_cfg_default(&cfg);
	cfg.max_flows = 65536;
	cr_assert_eq(ingest_flowtab_new(&cfg, acc_emit, &a, &ctr, &ft), 0);
	mem = ingest_flowtab_memory(ft);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < nflows; i++) {
			/* Time rises through the run: 1800 s for each pass. */
			uint64_t ts = (T0 + pass * 1800) * NS + (uint64_t)i * 1800 * (NS / nflows);
			uint32_t len = 40 + (i % 1400) + pass;
			uint8_t fl = pass == 0 ? TV_TCP_SYN : TV_TCP_FIN | TV_TCP_ACK;
			tv_pkt p = mkpkt(ts, 0x0a000000 + i, 0x0b000001, (uint16_t)(1024 + i % 60000), 443,
			                 6, len, fl);
			ingest_flowtab_add(ft, &p);
			want_pk++;
			want_by += len;
			want_w += flow_weight(0x0a000000 + i) + (flow_weight(0x0a000000 + i) >> 7) * len;
		}
	ingest_flowtab_flush(ft);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Each flow's two packets are 1800 s apart: different windows, one
	 * record each, no flags merged. */
	want_fl = (uint64_t)nflows * (2 + 1);

	cr_assert_eq(a.packets, want_pk);
	cr_assert_eq(a.bytes, want_by);
	cr_assert_eq(a.weighted, want_w);
	cr_assert_eq(a.flags, want_fl);
	cr_assert_eq(a.recs, ctr.v[TV_CTR_FLOW_RECORDS]);
	cr_assert_eq(a.recs, 2ull * nflows); /* early flushes fall between windows' flows */
	cr_assert_gt(ctr.v[TV_CTR_FLOW_EARLY_FLUSH], 0);
	cr_assert_eq(ingest_flowtab_memory(ft), mem);
	fprintf(stderr, "flowtab million_flows: %u packets in %.3f s, %llu early flushes, memory %zu bytes\n",
	        2 * nflows, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	        (unsigned long long)ctr.v[TV_CTR_FLOW_EARLY_FLUSH], mem);
	ingest_flowtab_free(ft);
}

/* Many packets per flow over many flows, against a reference count. */
Test(flowtab, random_mix_sums)
{
	enum { NF = 3000, NP = 200000 };
	static uint64_t pk[NF], by[NF];
	struct acc a;
	tv_counters ctr = { { 0 } };
	ingest_flowtab_cfg cfg;
	ingest_flowtab *ft;
	uint64_t x = 88172645463325252ull, t = T0 * NS, want_w = 0;
	uint32_t i;

	memset(&a, 0, sizeof(a));
	ingest_flowtab_cfg_default(&cfg);
	cfg.interval = 60;
	cfg.max_flows = 512;
	cr_assert_eq(ingest_flowtab_new(&cfg, acc_emit, &a, &ctr, &ft), 0);
	for (i = 0; i < NP; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t f = (uint32_t)(x % NF);
		uint32_t len = 20 + (uint32_t)((x >> 20) % 1480);
		/* mostly forward in time, sometimes up to 70 s back */
		t += (x >> 40) % 3000000ull;
		uint64_t ts = ((x >> 32) % 16 == 0) ? t - ((x >> 8) % 70) * NS : t;
		tv_pkt p = mkpkt(ts, 0x0c000000 + f, 1, 7, 7, 17, len, 0);
		ingest_flowtab_add(ft, &p);
		if (i % 5000 == 0)
			ingest_flowtab_advance(ft, t);
		pk[f]++;
		by[f] += len;
	}
	ingest_flowtab_flush(ft);
	for (i = 0; i < NF; i++)
		want_w += flow_weight(0x0c000000 + i) * pk[i] + (flow_weight(0x0c000000 + i) >> 7) * by[i];
	cr_assert_eq(a.packets, NP);
	cr_assert_eq(a.weighted, want_w);
	cr_assert_eq(a.recs, ctr.v[TV_CTR_FLOW_RECORDS]);
	ingest_flowtab_free(ft);
}
