/*
 * test_chunk2.c — the chunk of format version 3 (the code's "v2" layout):
 * packer, block decoder, whole-chunk load (store/FORMAT.md "Chunk").
 *
 * Round trips compare what comes back with what went in, packet by
 * packet, in (ts, seq) order.  Crafted blocks and chunks are built here
 * from the specification (CRC-32C written bitwise below, field offsets
 * from FORMAT.md), so the reject tests check the format and not only that
 * the code agrees with itself.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "../../store/chunk2.h"

/* ----------------------------------------------------------- helpers */

static uint32_t spec_crc(const uint8_t *p, size_t n, uint32_t c)
{
	c = ~c;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void make_tun(tv_tunmeta *t, int k)
{
	memset(t, 0, sizeof *t);
	t->vni = k == 0 ? TV_VNI_NONE : (uint32_t)(1000 + k);
	t->tunnel = (uint8_t)(k % 4);
	t->has_gwlb = (uint8_t)(k % 4 >= 2);
	uint8_t v4[4] = { 10, 0, (uint8_t)k, 1 };
	tv_addr_from_v4(&t->outer_src, v4);
	if (t->has_gwlb) {
		t->gwlb_endpoint = 0x0123456789abcdefull + (uint64_t)k;
		t->gwlb_attachment = 0xfedcba9876543210ull - (uint64_t)k;
		t->gwlb_cookie = 0xc0c0c0c0u + (uint32_t)k;
	}
}

static void make_key(uint8_t key[40], uint32_t flow)
{
	memset(key, 0, 40);
	key[10] = key[11] = 0xff;
	tv_put_be32(key + 12, 0x0a000000u + flow);
	key[26] = key[27] = 0xff;
	tv_put_be32(key + 28, 0xc0a80001u);
	tv_put_be16(key + 32, (uint16_t)(1024 + flow));
	tv_put_be16(key + 34, 443);
	key[36] = 6;
	key[37] = 4;
	key[38] = 1;
}

/* One input packet as the test keeps it. */
typedef struct tpkt {
	uint64_t ts;
	uint32_t caplen, origlen, payload_off;
	uint32_t flow;
	int ctx;
	uint8_t synth, derr;
	uint8_t *frame;
	/* the packet summary (tv_pkt.info), when ip: orders flows */
	bool ip;
	uint8_t proto;
	uint16_t sport, dport;
} tpkt;

enum { PAY_TEXT, PAY_RANDOM, PAY_ZERO };

/* A frame: 54 header-like bytes, then text, random or zero payload. */
static void fill(uint8_t *f, uint32_t caplen, uint32_t flow, int kind)
{
	static const char text[] = "GET /index.html HTTP/1.1\r\nHost: example.com\r\n"
	                           "User-Agent: test\r\nAccept: */*\r\n\r\n";
	for (uint32_t j = 0; j < caplen; j++) {
		if (j < 54)
			f[j] = (uint8_t)(flow * 7 + j);
		else if (kind == PAY_TEXT)
			f[j] = (uint8_t)text[(j - 54) % (sizeof text - 1)];
		else if (kind == PAY_RANDOM)
			f[j] = (uint8_t)rnd();
		else
			f[j] = 0;
	}
}

static void to_pkt(const tpkt *t, tv_pkt *p)
{
	memset(p, 0, sizeof *p);
	p->ts_ns = t->ts;
	p->frame = t->frame;
	p->caplen = t->caplen;
	p->origlen = t->origlen;
	p->synth_l2 = t->synth;
	p->decap_error = t->derr;
	make_tun(&p->tun, t->ctx);
	if (t->ip) {
		p->info.l3 = 4;
		p->info.has_ports = 1;
		p->info.key.proto = t->proto;
		p->info.key.sport = t->sport;
		p->info.key.dport = t->dport;
	}
}

static int add(store_packer *pk, const tpkt *t)
{
	tv_pkt p;
	uint8_t key[40];
	to_pkt(t, &p);
	make_key(key, t->flow);
	return store_packer_add(pk, &p, key, t->payload_off);
}

static void free_pkts(tpkt *t, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(t[i].frame);
	free(t);
}

/* Random packets: nflows flows over up to 5 contexts, timestamps with
 * ties and some going backwards, sizes 0..1514, mixed payloads. */
static tpkt *gen(uint32_t n, uint32_t nflows, uint32_t maxcap)
{
	tpkt *t = calloc(n, sizeof *t);
	uint64_t ts = 1700000000000000000ull;
	cr_assert_not_null(t);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t r = rnd();
		t[i].flow = (uint32_t)(r % nflows);
		t[i].ctx = (int)(t[i].flow % 5);
		ts += (r >> 8) % 4 == 0 ? 0 : (r >> 10) % 3000;
		t[i].ts = (r >> 20) % 17 == 0 ? ts - (r >> 30) % 50000 : ts;
		t[i].caplen = (uint32_t)((r >> 32) % (maxcap + 1));
		t[i].origlen = t[i].caplen + ((r >> 40) % 4 == 0 ? 100 : 0);
		t[i].payload_off = (r >> 44) % 8 == 0 ? 0 : 54;
		t[i].synth = (uint8_t)((r >> 48) % 5 == 1);
		t[i].derr = (uint8_t)((r >> 52) % 7 == 2);
		t[i].frame = malloc(t[i].caplen ? t[i].caplen : 1);
		cr_assert_not_null(t[i].frame);
		fill(t[i].frame, t[i].caplen, t[i].flow, (int)((r >> 56) % 3));
	}
	return t;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	cr_assert_not_null(c);
	memcpy(c, p, n);
	return c;
}

/* Packs all n packets into one chunk (which must fit) and copies it out. */
static uint8_t *pack_all(const store_packer_cfg *cfg, const tpkt *t, uint32_t n, size_t *len,
                         store_hdr *h)
{
	store_packer *pk;
	const uint8_t *c;
	cr_assert_eq(store_packer_new(cfg, &pk), 0);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(add(pk, &t[i]), 0, "packet %u", i);
	cr_assert_eq(store_packer_seal(pk, 7, &c, len, h), 0);
	uint8_t *copy = dup_bytes(c, *len);
	store_packer_free(pk);
	return copy;
}

/*
 * Loads the chunk and checks it against the input: every packet once, in
 * (ts, seq) order, with its bytes, lengths, flags, key and context; the
 * blocks one by one as a query reads them; flows grouped.
 */
static void check_chunk(const uint8_t *c, size_t len, const tpkt *t, uint32_t n)
{
	store_chunk *ck;
	store_hdr h;
	uint32_t *exp = malloc(n * sizeof *exp);
	uint64_t orig = 0, raw = 0, mn = UINT64_MAX, mx = 0;
	cr_assert_not_null(exp);

	/* expected order: stable by ts */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j = i;
		while (j > 0 && t[exp[j - 1]].ts > t[i].ts) {
			exp[j] = exp[j - 1];
			j--;
		}
		exp[j] = i;
		orig += t[i].origlen;
		raw += t[i].caplen;
		mn = t[i].ts < mn ? t[i].ts : mn;
		mx = t[i].ts > mx ? t[i].ts : mx;
	}

	cr_assert_eq(store_chunk_new(&ck), 0);
	cr_assert_eq(store_chunk_load(ck, c, len, STORE_LOAD_HASH, &h), 0);
	cr_assert_eq(h.npkts, n);
	cr_assert_eq(h.first_ts, mn);
	cr_assert_eq(h.last_ts, mx);
	cr_assert_eq(h.orig_bytes, orig);
	cr_assert_eq(h.raw_len, raw);
	cr_assert_eq(store_chunk_count(ck), n);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t bi;
		const store_brec *r = store_chunk_rec(ck, k, &bi);
		const tpkt *w = &t[exp[k]];
		cr_assert_not_null(r);
		cr_assert_eq(r->seq, exp[k], "record %u: seq %u, want %u", k, r->seq, exp[k]);
		cr_assert_eq(r->ts_ns, w->ts);
		cr_assert_eq(r->caplen, w->caplen);
		cr_assert_eq(r->origlen, w->origlen);
		cr_assert_eq(r->flags, (w->synth ? STORE_REC_SYNTH_L2 : 0) | (w->derr ? STORE_REC_DECAP_ERROR : 0));
		const store_block *b = store_chunk_block(ck, bi);
		const store_bflow *f = store_block_flow(b, r->flow);
		uint8_t key[40];
		tv_tunmeta tun;
		make_key(key, w->flow);
		make_tun(&tun, w->ctx);
		cr_assert_eq(memcmp(f->key, key, 40), 0);
		cr_assert_eq(memcmp(f->tun, &tun, sizeof tun), 0);
		const uint8_t *fr = store_chunk_frame(ck, k, NULL);
		cr_assert_not_null(fr);
		cr_assert_eq(memcmp(fr, w->frame, w->caplen), 0, "frame of record %u", k);
	}
	cr_assert_null(store_chunk_rec(ck, n, NULL));
	cr_assert_null(store_chunk_frame(ck, n, NULL));

	/* Each block alone, as a query reads it: header, head, one pread. */
	store_hdr h2;
	store_blkref refs[64];
	const uint8_t *tag;
	uint32_t taglen;
	store_block *blk;
	cr_assert_eq(store_hdr_parse(c, len, &h2), 0);
	cr_assert_eq(memcmp(&h, &h2, sizeof h), 0);
	cr_assert_eq(store_head_parse(&h2, c + 128, h2.head_len, refs, &tag, &taglen), 0);
	cr_assert_eq(store_block_new(&blk), 0);
	uint8_t *seen = calloc(n, 1);
	uint32_t dir = 0;
	for (uint32_t i = 0; i < h2.nblocks; i++) {
		uint8_t *copy = dup_bytes(c + 128 + refs[i].offset, refs[i].len);
		cr_assert_eq(store_block_decode(blk, copy, refs[i].len, &h2, &refs[i]), 0, "block %u", i);
		cr_assert_eq(store_block_nrec(blk), refs[i].nrec);
		dir += store_block_nflows(blk);
		for (uint32_t fi = 0; fi < store_block_nflows(blk); fi++) {
			const store_bflow *f = store_block_flow(blk, fi);
			for (uint32_t k = 0; k < f->nrec; k++) {
				const store_brec *r = store_block_rec(blk, f->first + k);
				cr_assert_eq(r->flow, fi);
				cr_assert_eq(t[r->seq].flow, tv_get_be16(f->key + 32) - 1024u);
				cr_assert_eq(seen[r->seq], 0);
				seen[r->seq] = 1;
				uint8_t scratch[1600];
				const uint8_t *fr = store_block_frame(blk, f->first + k,
				                                      r->caplen <= sizeof scratch ? scratch : NULL);
				cr_assert_eq(memcmp(fr, t[r->seq].frame, r->caplen), 0);
			}
		}
		cr_assert_null(store_block_flow(blk, store_block_nflows(blk)));
		cr_assert_null(store_block_rec(blk, store_block_nrec(blk)));
		cr_assert_null(store_block_frame(blk, store_block_nrec(blk), NULL));
		free(copy);
	}
	cr_assert_eq(dir, h2.nflows);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(seen[i], 1);
	free(seen);
	store_block_free(blk);
	store_chunk_free(ck);
	free(exp);
}

/* ------------------------------------------------------- round trips */

Test(chunk2, roundtrip_many_flows_ties_and_late_packets)
{
	uint32_t n = 3000;
	tpkt *t = gen(n, 400, 1514);
	store_packer_cfg cfg;
	store_packer_cfg_default(&cfg);
	cfg.raw_target = 8u << 20;
	cfg.block_target = 64u << 10; /* 64 blocks hold the 2 MB of section A */
	size_t len;
	store_hdr h;
	uint8_t *c = pack_all(&cfg, t, n, &len, &h);
	cr_assert_eq(h.chunk_id, 7);
	cr_assert_gt(h.nblocks, 1);
	check_chunk(c, len, t, n);
	free(c);
	free_pkts(t, n);
}

Test(chunk2, roundtrip_single_packet_and_empty_frame)
{
	tpkt *t = gen(2, 1, 0);
	size_t len;
	store_hdr h;
	uint8_t *c = pack_all(NULL, t, 1, &len, &h);
	cr_assert_eq(h.nblocks, 1);
	cr_assert_eq(h.nflows, 1);
	cr_assert_eq(h.npkts, 1);
	check_chunk(c, len, t, 1);
	free(c);
	free_pkts(t, 2);
}

Test(chunk2, roundtrip_all_equal_timestamps_keep_arrival_order)
{
	uint32_t n = 500;
	tpkt *t = gen(n, 37, 300);
	for (uint32_t i = 0; i < n; i++)
		t[i].ts = 1700000000000000000ull;
	size_t len;
	uint8_t *c = pack_all(NULL, t, n, &len, NULL);
	check_chunk(c, len, t, n);
	free(c);
	free_pkts(t, n);
}

Test(chunk2, roundtrip_timestamps_reversed)
{
	uint32_t n = 400;
	tpkt *t = gen(n, 5, 200);
	for (uint32_t i = 0; i < n; i++)
		t[i].ts = 1800000000000000000ull - (uint64_t)i * 1000 + (i % 3 == 0 ? 1000 : 0);
	size_t len;
	uint8_t *c = pack_all(NULL, t, n, &len, NULL);
	check_chunk(c, len, t, n);
	free(c);
	free_pkts(t, n);
}

/* The flow class of FORMAT.md "Writer's rules", from its words: IP
 * protocol group (TCP, UDP, other, no IP), then the lower port (the IP
 * protocol number for "other"). */
static uint64_t spec_class(const tpkt *t)
{
	if (!t->ip)
		return 3u << 16;
	uint32_t grp = t->proto == 6 ? 0 : t->proto == 17 ? 1 : 2;
	if (grp == 2)
		return grp << 16 | t->proto;
	uint32_t lo = t->sport < t->dport ? t->sport : t->dport;
	return grp << 16 | lo;
}

/* Flows appear in the chunk by class, then in the order of their first
 * packet; the records of a flow together, by (ts, seq). */
Test(chunk2, flows_ordered_by_class_then_first_arrival)
{
	uint32_t n = 300;
	tpkt *t = gen(n, 12, 100);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t fl = t[i].flow;
		t[i].ip = fl != 11; /* flow 11: no IP layer */
		if (fl % 3 == 0) {
			t[i].proto = 6, t[i].sport = (uint16_t)(1024 + fl), t[i].dport = 443;
		} else if (fl % 3 == 1) {
			t[i].proto = 6, t[i].sport = 443, t[i].dport = (uint16_t)(1024 + fl);
		} else if (fl != 8) {
			t[i].proto = 17, t[i].sport = 5353, t[i].dport = 53;
		} else {
			t[i].proto = 1; /* ICMP: other */
		}
	}
	size_t len;
	uint8_t *c = pack_all(NULL, t, n, &len, NULL);
	store_block *b;
	store_hdr h;
	store_blkref refs[64];
	const uint8_t *tag;
	uint32_t tl;
	cr_assert_eq(store_hdr_parse(c, len, &h), 0);
	cr_assert_eq(h.nblocks, 1);
	cr_assert_eq(store_head_parse(&h, c + 128, h.head_len, refs, &tag, &tl), 0);
	cr_assert_eq(store_block_new(&b), 0);
	cr_assert_eq(store_block_decode(b, c + 128 + refs[0].offset, refs[0].len, &h, refs), 0);
	/* expected: flows by first arrival, then stably by class */
	uint32_t order[12], nf = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j;
		for (j = 0; j < nf && order[j] != t[i].flow; j++)
			;
		if (j == nf)
			order[nf++] = t[i].flow;
	}
	uint64_t cls[12];
	for (uint32_t i = 0; i < nf; i++) {
		uint32_t k;
		for (k = 0; t[k].flow != order[i]; k++)
			;
		cls[i] = spec_class(&t[k]);
	}
	for (uint32_t i = 1; i < nf; i++)
		for (uint32_t j = i; j > 0 && cls[j - 1] > cls[j]; j--) {
			uint64_t tc = cls[j];
			uint32_t to = order[j];
			cls[j] = cls[j - 1], order[j] = order[j - 1];
			cls[j - 1] = tc, order[j - 1] = to;
		}
	cr_assert_eq(store_block_nflows(b), nf);
	for (uint32_t fi = 0; fi < nf; fi++) {
		const store_bflow *f = store_block_flow(b, fi);
		uint8_t key[40];
		make_key(key, order[fi]);
		cr_assert_eq(memcmp(f->key, key, 40), 0, "flow %u: want %u", fi, order[fi]);
		for (uint32_t k = 1; k < f->nrec; k++) {
			const store_brec *p = store_block_rec(b, f->first + k - 1), *q = store_block_rec(b, f->first + k);
			cr_assert(p->ts_ns < q->ts_ns || (p->ts_ns == q->ts_ns && p->seq < q->seq));
		}
	}
	/* the packer lists the flows in the same order */
	store_packer *pk;
	const uint8_t *c2;
	size_t len2;
	cr_assert_eq(store_packer_new(NULL, &pk), 0);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(add(pk, &t[i]), 0);
	cr_assert_eq(store_packer_seal(pk, 7, &c2, &len2, NULL), 0);
	cr_assert_eq(store_packer_nflows(pk), nf);
	for (uint32_t fi = 0; fi < nf; fi++) {
		store_pflow f;
		uint8_t key[40];
		make_key(key, order[fi]);
		cr_assert_eq(store_packer_flow(pk, fi, &f), 0);
		cr_assert_eq(memcmp(f.key, key, 40), 0);
		cr_assert_eq(f.blocks, 1);
	}
	check_chunk(c2, len2, t, n);
	store_packer_free(pk);
	store_block_free(b);
	free(c);
	free_pkts(t, n);
}

static void v4(tv_addr *a, uint32_t ip)
{
	memset(a, 0, sizeof *a);
	a->b[10] = a->b[11] = 0xff;
	tv_put_be32(a->b + 12, ip);
}

/* Within a class, flows by the server's address (the end with the lower
 * port; equal ports or none: the lower address), then the client's, then
 * first arrival; both directions of a connection share the pair. */
Test(chunk2, flows_in_a_class_by_server_then_client)
{
	static const struct {
		uint32_t flow, src, dst;
		uint16_t sport, dport;
		uint8_t proto;
	} in[] = {
		{ 0, 0x0a000009, 0x0a000105, 50000, 443, 6 },  /* srv .1.5 cli .0.9 */
		{ 2, 0x0a000003, 0x0a000105, 50001, 443, 6 },  /* srv .1.5 cli .0.3 */
		{ 3, 0x0a000001, 0x0a000102, 50002, 443, 6 },  /* srv .1.2 */
		{ 1, 0x0a000105, 0x0a000009, 443, 50000, 6 },  /* flow 0 reversed */
		{ 5, 0x0a000002, 0x0a000007, 123, 123, 17 },   /* equal ports: srv .0.2 */
		{ 4, 0x0a000007, 0x0a000002, 123, 123, 17 },   /* flow 5 reversed */
		{ 6, 0x0a000008, 0x0a000004, 0, 0, 1 },        /* ICMP: other */
	};
	static const uint32_t want[] = { 3, 2, 0, 1, 5, 4, 6 };
	uint8_t frame[60], key[40];
	store_packer *pk;
	const uint8_t *c;
	size_t len;
	memset(frame, 0x5a, sizeof frame);
	cr_assert_eq(store_packer_new(NULL, &pk), 0);
	for (uint32_t r = 0; r < 2; r++)
		for (uint32_t i = 0; i < sizeof in / sizeof in[0]; i++) {
			tv_pkt p;
			memset(&p, 0, sizeof p);
			p.ts_ns = 1000 + r * 100 + i;
			p.frame = frame;
			p.caplen = p.origlen = sizeof frame;
			p.info.l3 = 4;
			p.info.has_ports = in[i].proto != 1;
			p.info.key.proto = in[i].proto;
			p.info.key.sport = in[i].sport;
			p.info.key.dport = in[i].dport;
			v4(&p.info.key.src, in[i].src);
			v4(&p.info.key.dst, in[i].dst);
			make_key(key, in[i].flow);
			cr_assert_eq(store_packer_add(pk, &p, key, 54), 0);
		}
	cr_assert_eq(store_packer_seal(pk, 1, &c, &len, NULL), 0);
	cr_assert_eq(store_packer_nflows(pk), 7);
	for (uint32_t fi = 0; fi < 7; fi++) {
		store_pflow f;
		make_key(key, want[fi]);
		cr_assert_eq(store_packer_flow(pk, fi, &f), 0);
		cr_assert_eq(memcmp(f.key, key, 40), 0, "position %u: want flow %u", fi, want[fi]);
	}
	store_packer_free(pk);
}

/* One key in two mirror sessions is two flows. */
Test(chunk2, same_key_other_context_is_another_flow)
{
	tpkt *t = gen(4, 1, 100);
	t[0].ctx = 1;
	t[1].ctx = 2;
	t[2].ctx = 1;
	t[3].ctx = 2;
	store_packer *pk;
	const uint8_t *c;
	size_t len;
	store_hdr h;
	cr_assert_eq(store_packer_new(NULL, &pk), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(add(pk, &t[i]), 0);
	cr_assert_eq(store_packer_seal(pk, 1, &c, &len, &h), 0);
	cr_assert_eq(h.nflows, 2);
	cr_assert_eq(store_packer_nflows(pk), 2);
	store_pflow f;
	tv_tunmeta tun;
	cr_assert_eq(store_packer_flow(pk, 0, &f), 0);
	make_tun(&tun, 1);
	cr_assert_eq(memcmp(f.tun, &tun, sizeof tun), 0);
	cr_assert_eq(f.nrec, 2);
	cr_assert_eq(store_packer_flow(pk, 1, &f), 0);
	make_tun(&tun, 2);
	cr_assert_eq(memcmp(f.tun, &tun, sizeof tun), 0);
	cr_assert_eq(store_packer_flow(pk, 2, &f), TV_E_RANGE);
	check_chunk(c, len, t, 4);
	store_packer_free(pk);
	free_pkts(t, 4);
}

/* Padding bytes of tv_tunmeta never split a context or a flow. */
Test(chunk2, tunnel_padding_ignored)
{
	tpkt *t = gen(2, 1, 80);
	store_packer *pk;
	tv_pkt p;
	uint8_t key[40];
	const uint8_t *c;
	size_t len;
	store_hdr h;
	cr_assert_eq(store_packer_new(NULL, &pk), 0);
	make_key(key, 0);
	to_pkt(&t[0], &p);
	p.tun.pad[1] = 0x77;
	cr_assert_eq(store_packer_add(pk, &p, key, 54), 0);
	to_pkt(&t[1], &p);
	p.tun.pad2 = 0x1234;
	cr_assert_eq(store_packer_add(pk, &p, key, 54), 0);
	cr_assert_eq(store_packer_seal(pk, 1, &c, &len, &h), 0);
	cr_assert_eq(h.nflows, 1);
	store_packer_free(pk);
	free_pkts(t, 2);
}

/* ------------------------------------------------------ entropy split */

/* alen of the only record of a one-packet chunk. */
static uint32_t alen_of(const uint8_t *frame, uint32_t caplen, uint32_t payload_off,
                        const store_packer_cfg *cfg)
{
	store_packer *pk;
	tv_pkt p;
	uint8_t key[40];
	const uint8_t *c;
	size_t len;
	store_chunk *ck;
	memset(&p, 0, sizeof p);
	p.ts_ns = 1;
	p.frame = frame;
	p.caplen = p.origlen = caplen;
	make_key(key, 1);
	cr_assert_eq(store_packer_new(cfg, &pk), 0);
	cr_assert_eq(store_packer_add(pk, &p, key, payload_off), 0);
	cr_assert_eq(store_packer_seal(pk, 1, &c, &len, NULL), 0);
	cr_assert_eq(store_chunk_new(&ck), 0);
	cr_assert_eq(store_chunk_load(ck, c, len, STORE_LOAD_HASH, NULL), 0);
	const store_brec *r = store_chunk_rec(ck, 0, NULL);
	uint32_t alen = r->alen;
	cr_assert_eq(memcmp(store_chunk_frame(ck, 0, NULL), frame, caplen), 0);
	store_chunk_free(ck);
	store_packer_free(pk);
	return alen;
}

/* Expected distinct values of m random bytes, by the formula. */
static uint32_t spec_threshold(uint32_t m, double frac)
{
	return (uint32_t)ceil(frac * 256.0 * (1.0 - pow(255.0 / 256.0, m)));
}

/* A payload of m bytes with exactly d distinct values. */
static void distinct_payload(uint8_t *p, uint32_t m, uint32_t d)
{
	for (uint32_t i = 0; i < m; i++)
		p[i] = (uint8_t)(i < d ? i * 37 + 11 : (i * 13) % d * 37 + 11);
}

Test(chunk2, entropy_split_rule)
{
	uint8_t f[2000];
	fill(f, sizeof f, 3, PAY_RANDOM);
	/* random payload of 1946 bytes: tail to B */
	cr_assert_eq(alen_of(f, 2000, 54, NULL), 54);
	/* payload offset unknown (0) or past the capture: whole frame in A */
	cr_assert_eq(alen_of(f, 2000, 0, NULL), 2000);
	cr_assert_eq(alen_of(f, 2000, 2000, NULL), 2000);
	cr_assert_eq(alen_of(f, 2000, 5000, NULL), 2000);
	/* fewer than 128 payload bytes: whole */
	cr_assert_eq(alen_of(f, 54 + 127, 54, NULL), 54 + 127);
	cr_assert_eq(alen_of(f, 54 + 128, 54, NULL), 54);
	/* text payload: whole */
	fill(f, sizeof f, 3, PAY_TEXT);
	cr_assert_eq(alen_of(f, 2000, 54, NULL), 2000);
	/* split disabled */
	store_packer_cfg cfg;
	store_packer_cfg_default(&cfg);
	cfg.split_min = 0;
	fill(f, sizeof f, 3, PAY_RANDOM);
	cr_assert_eq(alen_of(f, 2000, 54, &cfg), 2000);
}

/* The threshold sits exactly at 85 % of the expected distinct count, over
 * the first min(256, n) payload bytes only. */
Test(chunk2, entropy_threshold_boundary)
{
	uint8_t f[54 + 600];
	memset(f, 0xAB, 54);
	for (uint32_t m = 128; m <= 256; m += 32) {
		uint32_t thr = spec_threshold(m, 0.85);
		distinct_payload(f + 54, m, thr);
		cr_assert_eq(alen_of(f, 54 + m, 54, NULL), 54, "m %u: %u distinct splits", m, thr);
		distinct_payload(f + 54, m, thr - 1);
		cr_assert_eq(alen_of(f, 54 + m, 54, NULL), 54 + m, "m %u: %u distinct stays", m, thr - 1);
	}
	cr_assert_eq(spec_threshold(256, 0.85), 138);
	cr_assert_eq(spec_threshold(128, 0.85), 86);
	/* bytes past the first 256 do not count */
	distinct_payload(f + 54, 256, 137);
	for (uint32_t i = 256; i < 600; i++)
		f[54 + i] = (uint8_t)rnd();
	cr_assert_eq(alen_of(f, sizeof f, 54, NULL), sizeof f);
}

/* ------------------------------------------------------ block layout */

/* Flows larger than the block target get blocks of their own (a packet
 * larger than the target makes its flow one of them); one larger than 16
 * targets is cut over several blocks, every one of them holding more than
 * a target. */
Test(chunk2, big_flows_get_blocks_of_their_own)
{
	uint32_t n = 400;
	tpkt *t = gen(n, 4, 200);
	free(t[10].frame);
	t[10].flow = 20;
	t[10].caplen = t[10].origlen = STORE_MAX_CAPLEN;
	t[10].frame = malloc(STORE_MAX_CAPLEN);
	fill(t[10].frame, STORE_MAX_CAPLEN, 20, PAY_TEXT);
	t[10].payload_off = 54;
	/* flow 9: 300 text packets of 4000 bytes, 1.2 MB of section A */
	for (uint32_t i = 50; i < 350; i++) {
		free(t[i].frame);
		t[i].flow = 9;
		t[i].ctx = 2;
		t[i].caplen = t[i].origlen = 4000;
		t[i].frame = malloc(4000);
		fill(t[i].frame, 4000, 9, PAY_TEXT);
	}
	store_packer_cfg cfg;
	store_packer_cfg_default(&cfg);
	cfg.raw_target = 4u << 20;
	cfg.block_target = 64u << 10; /* 16 targets: flow 9 is cut once */
	store_packer *pk;
	const uint8_t *c;
	size_t len;
	store_hdr h;
	cr_assert_eq(store_packer_new(&cfg, &pk), 0);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(add(pk, &t[i]), 0);
	cr_assert_eq(store_packer_seal(pk, 7, &c, &len, &h), 0);
	check_chunk(c, len, t, n);

	store_chunk *ck;
	cr_assert_eq(store_chunk_new(&ck), 0);
	cr_assert_eq(store_chunk_load(ck, c, len, 0, NULL), 0);
	uint8_t k9[40], k20[40];
	make_key(k9, 9);
	make_key(k20, 20);
	uint32_t blocks9 = 0;
	for (uint32_t bi = 0; bi < h.nblocks; bi++) {
		const store_block *b = store_chunk_block(ck, bi);
		const store_bflow *f = store_block_flow(b, 0);
		bool big = memcmp(f->key, k9, 40) == 0 || memcmp(f->key, k20, 40) == 0;
		if (big) {
			cr_assert_eq(store_block_nflows(b), 1, "block %u: a big flow shares it", bi);
		}
		if (memcmp(f->key, k9, 40) == 0)
			blocks9++;
		for (uint32_t fi = 1; fi < store_block_nflows(b); fi++) {
			f = store_block_flow(b, fi);
			cr_assert(memcmp(f->key, k9, 40) != 0 && memcmp(f->key, k20, 40) != 0);
		}
	}
	cr_assert_eq(blocks9, 2, "flow 9 is cut once");
	/* every block of a big flow holds more than one target of section A */
	store_blkref refs[64];
	const uint8_t *tag;
	uint32_t tl;
	cr_assert_eq(store_head_parse(&h, c + 128, h.head_len, refs, &tag, &tl), 0);
	for (uint32_t bi = 0; bi < h.nblocks; bi++) {
		const store_bflow *f = store_block_flow(store_chunk_block(ck, bi), 0);
		if (memcmp(f->key, k9, 40) == 0 || memcmp(f->key, k20, 40) == 0)
			cr_assert_gt(refs[bi].a_raw, cfg.block_target);
	}
	/* the packer's bitmap says the same */
	for (uint32_t i = 0; i < store_packer_nflows(pk); i++) {
		store_pflow f;
		cr_assert_eq(store_packer_flow(pk, i, &f), 0);
		if (memcmp(f.key, k9, 40) == 0)
			cr_assert_eq(__builtin_popcountll(f.blocks), 2);
		if (memcmp(f.key, k20, 40) == 0)
			cr_assert_eq(__builtin_popcountll(f.blocks), 1);
	}
	store_chunk_free(ck);
	store_packer_free(pk);
	free_pkts(t, n);
}

/* The packer's per-flow block bitmaps are exactly the blocks whose flow
 * directory holds that flow. */
Test(chunk2, flow_block_bitmaps_match_directories)
{
	uint32_t n = 6000;
	tpkt *t = gen(n, 900, 1400);
	for (uint32_t i = 0; i < n; i++)
		fill(t[i].frame, t[i].caplen, t[i].flow, PAY_TEXT); /* all A: many blocks */
	store_packer_cfg cfg;
	store_packer_cfg_default(&cfg);
	cfg.raw_target = 8u << 20;
	store_packer *pk;
	const uint8_t *c;
	size_t len;
	store_hdr h;
	uint32_t added = 0;
	cr_assert_eq(store_packer_new(&cfg, &pk), 0);
	for (uint32_t i = 0; i < n; i++) {
		int rc = add(pk, &t[i]);
		if (rc == TV_E_FULL)
			break;
		cr_assert_eq(rc, 0);
		added++;
	}
	cr_assert_eq(store_packer_seal(pk, 3, &c, &len, &h), 0);
	cr_assert_gt(h.nblocks, 8);
	check_chunk(c, len, t, added);

	store_chunk *ck;
	cr_assert_eq(store_chunk_new(&ck), 0);
	cr_assert_eq(store_chunk_load(ck, c, len, 0, NULL), 0);
	uint32_t nf = store_packer_nflows(pk);
	uint32_t total = 0;
	for (uint32_t i = 0; i < nf; i++) {
		store_pflow f;
		uint64_t want = 0;
		uint32_t nrec = 0;
		cr_assert_eq(store_packer_flow(pk, i, &f), 0);
		for (uint32_t bi = 0; bi < h.nblocks; bi++) {
			const store_block *b = store_chunk_block(ck, bi);
			for (uint32_t fi = 0; fi < store_block_nflows(b); fi++) {
				const store_bflow *d = store_block_flow(b, fi);
				if (memcmp(d->key, f.key, 40) == 0 && memcmp(d->tun, f.tun, sizeof *f.tun) == 0) {
					want |= 1ull << bi;
					nrec += d->nrec;
				}
			}
		}
		cr_assert_eq(f.blocks, want, "flow %u", i);
		cr_assert_eq(f.nrec, nrec);
		total += f.nrec;
	}
	cr_assert_eq(total, added);
	store_chunk_free(ck);
	store_packer_free(pk);
	free_pkts(t, n);
}

/* Adversarial sizes for the layout: every flow just over half the block
 * target, so each block holds one flow.  add() must say FULL before the
 * chunk would need more than 64 blocks, and the chunk must seal. */
static void fill_to_full(uint32_t per_flow_bytes, uint32_t pkt_len, uint32_t block_target,
                         bool alternate_tiny)
{
	store_packer_cfg cfg;
	store_packer_cfg_default(&cfg);
	cfg.raw_target = 64u << 20;
	cfg.block_target = block_target;
	cfg.split_min = 0;
	store_packer *pk;
	uint8_t *frame = malloc(pkt_len);
	uint8_t key[40];
	tv_pkt p;
	uint32_t i, flow = 0, in_flow = 0;
	int rc = 0;
	fill(frame, pkt_len, 1, PAY_TEXT);
	cr_assert_eq(store_packer_new(&cfg, &pk), 0);
	memset(&p, 0, sizeof p);
	p.frame = frame;
	p.caplen = p.origlen = pkt_len;
	for (i = 0; i < 1000000; i++) {
		p.ts_ns = i;
		make_key(key, flow);
		rc = store_packer_add(pk, &p, key, 54);
		if (rc != 0)
			break;
		in_flow += 28 + pkt_len;
		if (in_flow >= per_flow_bytes || (alternate_tiny && flow % 2 == 1)) {
			flow++;
			in_flow = 0;
		}
	}
	cr_assert_eq(rc, TV_E_FULL);
	cr_assert_not(store_packer_full(pk), "FULL from the block bound, not the raw target");
	uint32_t count = store_packer_count(pk);
	const uint8_t *c;
	size_t len;
	store_hdr h;
	cr_assert_eq(store_packer_seal(pk, 1, &c, &len, &h), 0);
	cr_assert_leq(h.nblocks, 64);
	/* and the bound is not far too cautious: the chunk holds more than
	 * half of the 32 targets of section A the argument allows */
	store_pack_stats st;
	store_packer_stats(pk, &st);
	cr_assert_gt(st.a_raw, 16ull * block_target, "%llu bytes of A in %u blocks",
	             (unsigned long long)st.a_raw, h.nblocks);
	cr_log_info("%u packets, %llu bytes of section A, %u blocks", count,
	            (unsigned long long)st.a_raw, h.nblocks);
	store_chunk *ck;
	cr_assert_eq(store_chunk_new(&ck), 0);
	cr_assert_eq(store_chunk_load(ck, c, len, STORE_LOAD_HASH, NULL), 0);
	cr_assert_eq(store_chunk_count(ck), count);
	store_chunk_free(ck);
	/* after the seal the refused packet goes into the next chunk */
	cr_assert_eq(store_packer_add(pk, &p, key, 54), 0);
	cr_assert_eq(store_packer_count(pk), 1);
	store_packer_free(pk);
	free(frame);
}

Test(chunk2, block_limit_half_target_flows)
{
	fill_to_full(32 * 1024 + 200, 300, 64 * 1024, false);
}

Test(chunk2, block_limit_tiny_flows)
{
	fill_to_full(1, 0, 16 * 1024, false);
}

Test(chunk2, block_limit_big_flows_and_small_target)
{
	fill_to_full(1u << 30, 3000, 16 * 1024, false);
}

/* Flows just over the target (blocks of their own) between one-packet
 * flows (each closed off before the next large one). */
Test(chunk2, block_limit_large_flows_between_tiny_ones)
{
	fill_to_full(64 * 1024 + 100, 3000, 64 * 1024, true);
}

Test(chunk2, raw_target_full_leaves_packer_unchanged)
{
	uint32_t n = 50;
	tpkt *t = gen(n, 3, 0);
	for (uint32_t i = 0; i < n; i++) {
		free(t[i].frame);
		t[i].caplen = t[i].origlen = 30000;
		t[i].frame = malloc(30000);
		fill(t[i].frame, 30000, t[i].flow, PAY_RANDOM);
	}
	store_packer_cfg cfg;
	store_packer_cfg_default(&cfg);
	cfg.raw_target = 100000;
	store_packer *pk;
	cr_assert_eq(store_packer_new(&cfg, &pk), 0);
	for (uint32_t i = 0; i < 3; i++)
		cr_assert_eq(add(pk, &t[i]), 0);
	cr_assert_not(store_packer_full(pk));
	cr_assert_eq(add(pk, &t[3]), TV_E_FULL);
	cr_assert_eq(store_packer_count(pk), 3);
	const uint8_t *c;
	size_t len;
	cr_assert_eq(store_packer_seal(pk, 1, &c, &len, NULL), 0);
	check_chunk(c, len, t, 3);
	/* an empty packer takes a packet larger than the raw target */
	tpkt big = t[3];
	big.caplen = big.origlen = 30000;
	store_packer_cfg_default(&cfg);
	cfg.raw_target = 1000;
	store_packer *pk2;
	cr_assert_eq(store_packer_new(&cfg, &pk2), 0);
	cr_assert_eq(add(pk2, &big), 0);
	cr_assert(store_packer_full(pk2));
	cr_assert_eq(add(pk2, &t[4]), TV_E_FULL);
	cr_assert_eq(store_packer_seal(pk2, 1, &c, &len, NULL), 0);
	check_chunk(c, len, &big, 1);
	store_packer_free(pk2);
	store_packer_free(pk);
	free_pkts(t, n);
}

Test(chunk2, add_rejects_bad_packets)
{
	store_packer *pk;
	tv_pkt p;
	uint8_t key[40], f[10] = { 0 };
	const uint8_t *c;
	size_t len;
	make_key(key, 0);
	cr_assert_eq(store_packer_new(NULL, &pk), 0);
	memset(&p, 0, sizeof p);
	p.caplen = STORE_MAX_CAPLEN + 1;
	p.frame = f;
	cr_assert_eq(store_packer_add(pk, &p, key, 0), TV_E_RANGE);
	p.caplen = 5;
	p.frame = NULL;
	cr_assert_eq(store_packer_add(pk, &p, key, 0), TV_E_RANGE);
	p.frame = f;
	cr_assert_eq(store_packer_add(pk, &p, NULL, 0), TV_E_RANGE);
	cr_assert_eq(store_packer_count(pk), 0);
	cr_assert_eq(store_packer_seal(pk, 1, &c, &len, NULL), TV_E_RANGE);
	cr_assert_eq(store_packer_set_tag(pk, f, STORE_MAX_TAG + 1), TV_E_RANGE);
	store_packer_free(pk);
	store_packer_free(NULL);
}

/* ---------------------------------------------------- tags, ids, reuse */

Test(chunk2, tag_round_trip_and_cleared_by_seal)
{
	tpkt *t = gen(20, 3, 100);
	store_packer *pk;
	store_chunk *ck;
	const uint8_t *c, *tag;
	size_t len;
	uint32_t tl;
	static uint8_t big[STORE_MAX_TAG];
	for (uint32_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 3);
	cr_assert_eq(store_packer_new(NULL, &pk), 0);
	cr_assert_eq(store_chunk_new(&ck), 0);
	cr_assert_eq(store_packer_set_tag(pk, big, sizeof big), 0);
	for (uint32_t i = 0; i < 10; i++)
		cr_assert_eq(add(pk, &t[i]), 0);
	cr_assert_eq(store_packer_seal(pk, 1, &c, &len, NULL), 0);
	cr_assert_eq(store_chunk_load(ck, c, len, STORE_LOAD_HASH, NULL), 0);
	tag = store_chunk_tag(ck, &tl);
	cr_assert_eq(tl, sizeof big);
	cr_assert_eq(memcmp(tag, big, sizeof big), 0);
	/* the next chunk has no tag unless one is set */
	for (uint32_t i = 10; i < 20; i++)
		cr_assert_eq(add(pk, &t[i]), 0);
	cr_assert_eq(store_packer_seal(pk, 2, &c, &len, NULL), 0);
	cr_assert_eq(store_chunk_load(ck, c, len, STORE_LOAD_HASH, NULL), 0);
	store_chunk_tag(ck, &tl);
	cr_assert_eq(tl, 0);
	check_chunk(c, len, t + 10, 10);
	/* a tag set after a seal belongs to the next chunk */
	cr_assert_eq(store_packer_set_tag(pk, (const uint8_t *)"abc", 3), 0);
	cr_assert_eq(store_packer_nflows(pk), 0);
	cr_assert_eq(add(pk, &t[0]), 0);
	cr_assert_eq(store_packer_seal(pk, 3, &c, &len, NULL), 0);
	cr_assert_eq(store_chunk_load(ck, c, len, STORE_LOAD_HASH, NULL), 0);
	tag = store_chunk_tag(ck, &tl);
	cr_assert_eq(tl, 3);
	cr_assert_eq(memcmp(tag, "abc", 3), 0);
	store_chunk_free(ck);
	store_packer_free(pk);
	free_pkts(t, 20);
}

/* A packer reused for many chunks gives the same bytes as a fresh one
 * (apart from nothing: the hash seed must not show in the output). */
Test(chunk2, reuse_gives_same_bytes_as_fresh)
{
	uint32_t n = 800;
	tpkt *t = gen(n, 60, 600);
	store_packer *pk;
	cr_assert_eq(store_packer_new(NULL, &pk), 0);
	for (int round = 0; round < 3; round++) {
		const uint8_t *c;
		size_t len, len2;
		for (uint32_t i = 0; i < n; i++)
			cr_assert_eq(add(pk, &t[i]), 0);
		cr_assert_eq(store_packer_seal(pk, 5, &c, &len, NULL), 0);
		uint8_t *fresh = pack_all(NULL, t, n, &len2, NULL);
		/* pack_all seals with id 7 */
		cr_assert_eq(store_chunk_set_id(fresh, len2, 5), 0);
		cr_assert_eq(len, len2);
		cr_assert_eq(memcmp(c, fresh, len), 0, "round %d", round);
		free(fresh);
	}
	store_packer_reset(pk);
	cr_assert_eq(store_packer_count(pk), 0);
	store_packer_free(pk);
	free_pkts(t, n);
}

Test(chunk2, set_id_rewrites_id_and_crc_only)
{
	tpkt *t = gen(100, 10, 300);
	size_t len;
	uint8_t *c = pack_all(NULL, t, 100, &len, NULL);
	uint8_t *before = dup_bytes(c, len);
	store_hdr h;
	cr_assert_eq(store_chunk_set_id(c, len, 0x1122334455667788ull), 0);
	cr_assert_eq(store_hdr_parse(c, len, &h), 0);
	cr_assert_eq(h.chunk_id, 0x1122334455667788ull);
	cr_assert_eq(tv_get_le64(c + 16), 0x1122334455667788ull);
	cr_assert_eq(tv_get_le32(c + 124), spec_crc(c, 124, 0));
	for (size_t i = 0; i < len; i++)
		if (!(i >= 16 && i < 24) && !(i >= 124 && i < 128))
			cr_assert_eq(c[i], before[i], "byte %zu changed", i);
	check_chunk(c, len, t, 100);
	/* a header that does not check is left alone */
	c[40] ^= 1;
	memcpy(before, c, len);
	cr_assert_eq(store_chunk_set_id(c, len, 9), TV_E_CORRUPT);
	cr_assert_eq(memcmp(c, before, len), 0);
	cr_assert_eq(store_chunk_set_id(c, 100, 9), TV_E_TRUNCATED);
	free(before);
	free(c);
	free_pkts(t, 100);
}

/* ------------------------------------------------- the header, spec'd */

/* Value j of a column of n values of w bytes at col, in byte planes
 * (FORMAT.md "Record columns"). */
static uint64_t col_get(const uint8_t *col, uint32_t n, uint32_t j, unsigned w)
{
	uint64_t v = 0;
	for (unsigned b = 0; b < w; b++)
		v |= (uint64_t)col[b * n + j] << (8 * b);
	return v;
}

Test(chunk2, header_layout_as_specified)
{
	tpkt *t = gen(300, 20, 900);
	size_t len;
	store_hdr h;
	uint8_t *c = pack_all(NULL, t, 300, &len, &h);
	cr_assert_eq(memcmp(c, "TVCHUNK1", 8), 0);
	cr_assert_eq(tv_get_le16(c + 8), 3);
	cr_assert_eq(tv_get_le16(c + 10), 0);
	cr_assert_eq(tv_get_le16(c + 12), h.nblocks);
	cr_assert_eq(tv_get_le16(c + 14), 0);
	cr_assert_eq(tv_get_le64(c + 16), 7);
	cr_assert_eq(tv_get_le64(c + 24), h.first_ts);
	cr_assert_eq(tv_get_le64(c + 32), h.last_ts);
	cr_assert_eq(tv_get_le64(c + 40), h.orig_bytes);
	cr_assert_eq(tv_get_le32(c + 48), 300);
	cr_assert_eq(tv_get_le32(c + 52), h.nflows);
	cr_assert_eq(tv_get_le32(c + 56), h.raw_len);
	cr_assert_eq(tv_get_le32(c + 60), len - 128);
	cr_assert_eq(tv_get_le32(c + 64), 4 + 20 * h.nblocks);
	cr_assert_eq(tv_get_le32(c + 68), 0);
	uint8_t d[32];
	tv_sha256(c + 128, len - 128, d);
	cr_assert_eq(memcmp(c + 72, d, 32), 0);
	for (int i = 104; i < 124; i++)
		cr_assert_eq(c[i], 0);
	cr_assert_eq(tv_get_le32(c + 124), spec_crc(c, 124, 0));
	/* head and blocks: back to back, table entries of 20 bytes, each
	 * block's CRC over 0..27 and section A only, each directory entry's
	 * tail CRC over its records' tails (back to back in section B) */
	const uint8_t *body = c + 128;
	cr_assert_eq(tv_get_le32(body), 0);
	uint32_t pos = tv_get_le32(c + 64), tails = 0;
	for (uint32_t i = 0; i < h.nblocks; i++) {
		const uint8_t *ref = body + 4 + 20 * i;
		cr_assert_eq(tv_get_le32(ref), pos);
		const uint8_t *b = body + pos;
		uint32_t blen = tv_get_le32(ref + 4), a_comp = tv_get_le32(b), a_raw = tv_get_le32(b + 4);
		cr_assert_eq(32 + a_comp + tv_get_le32(b + 8), blen);
		cr_assert_eq(tv_get_le32(b + 12), tv_get_le32(ref + 8));
		cr_assert_eq(a_raw, tv_get_le32(ref + 12));
		cr_assert_eq(a_comp, tv_get_le32(ref + 16));
		cr_assert_eq(tv_get_le32(b + 28), spec_crc(b + 32, a_comp, spec_crc(b, 28, 0)));
		cr_assert_eq(tv_get_le32(b + 24), 0);
		cr_assert_eq(tv_get_le16(b + 22), 0);
		uint8_t *a = malloc(a_raw);
		cr_assert_not_null(a);
		if (tv_get_le16(b + 20) & 1) {
			/* one zstd frame, content size = a_raw, no checksum */
			cr_assert_eq(ZSTD_getFrameContentSize(b + 32, a_comp), a_raw);
			cr_assert_eq((b[36] & 0x04), 0, "no content checksum");
			cr_assert_eq(ZSTD_decompress(a, a_raw, b + 32, a_comp), a_raw);
		} else {
			cr_assert_eq(a_comp, a_raw);
			memcpy(a, b + 32, a_raw);
		}
		uint32_t nrec = tv_get_le32(b + 12), nflows = tv_get_le16(b + 16);
		const uint8_t *dir = a + 48 * tv_get_le16(b + 18), *cols = dir + 52 * nflows;
		const uint8_t *sb = b + 32 + a_comp; /* section B */
		for (uint32_t fi = 0, j = 0; fi < nflows; fi++) {
			const uint8_t *e = dir + 52 * fi, *t0 = sb;
			/* caplen - alen tail bytes per record */
			for (uint32_t k = 0; k < tv_get_le32(e + 44); k++, j++)
				sb += col_get(cols + 12 * nrec, nrec, j, 4) - col_get(cols + 20 * nrec, nrec, j, 4);
			cr_assert_eq(tv_get_le32(e + 48), spec_crc(t0, (size_t)(sb - t0), 0), "block %u entry %u",
			             i, fi);
			tails += sb > t0;
		}
		cr_assert_eq(sb, b + blen);
		free(a);
		pos += blen;
	}
	cr_assert_eq(pos, len - 128);
	cr_assert_gt(tails, 0);
	free(c);
	free_pkts(t, 300);
}

/* ------------------------------------------------------- version gate */

Test(chunk2, a_chunk_of_format_1_or_2_or_of_a_later_version_is_refused)
{
	/* a format-1 chunk as earlier builds wrote it: the magic, version 1
	 * and a 96-byte header of its own layout (its body does not matter:
	 * the version is checked before anything else of the header) */
	static uint8_t c1[96 + 200];
	uint16_t v = 0;
	memcpy(c1, "TVCHUNK1", 8);
	tv_put_le16(c1 + 8, 1);
	cr_assert_eq(store_chunk_version(c1, sizeof c1, &v), 0);
	cr_assert_eq(v, 1);
	cr_assert_eq(store_hdr_parse(c1, sizeof c1, NULL), TV_E_VERSION);
	store_chunk *ck;
	cr_assert_eq(store_chunk_new(&ck), 0);
	cr_assert_eq(store_chunk_load(ck, c1, sizeof c1, STORE_LOAD_HASH, NULL), TV_E_VERSION);
	cr_assert_eq(store_chunk_set_id(c1, sizeof c1, 3), TV_E_VERSION);
	cr_assert_eq(tv_get_le16(c1 + 8), 1, "set_id leaves a refused header unchanged");

	tpkt *t = gen(10, 2, 100);
	size_t len;
	uint8_t *c = pack_all(NULL, t, 10, &len, NULL);
	cr_assert_eq(store_chunk_version(c, len, &v), 0);
	cr_assert_eq(v, 3);
	cr_assert_eq(store_chunk_load(ck, c, len, STORE_LOAD_HASH, NULL), 0);
	/* the same chunk saying version 1 or 2 (before the CRC, which it
	 * keeps), and with that CRC made right: format 2 laid the directory
	 * and the block table out otherwise, so its blocks are never read */
	for (uint16_t old = 1; old <= 2; old++) {
		tv_put_le16(c + 8, old);
		cr_assert_eq(store_hdr_parse(c, len, NULL), TV_E_VERSION);
		cr_assert_eq(store_chunk_load(ck, c, len, STORE_LOAD_HASH, NULL), TV_E_VERSION);
		tv_put_le32(c + 124, spec_crc(c, 124, 0));
		cr_assert_eq(store_hdr_parse(c, len, NULL), TV_E_VERSION);
		cr_assert_eq(store_chunk_load(ck, c, len, STORE_LOAD_HASH, NULL), TV_E_VERSION);
	}

	/* version 0 is not a chunk, 4 is a later version (before the CRC) */
	tv_put_le16(c + 8, 0);
	cr_assert_eq(store_hdr_parse(c, len, NULL), TV_E_FORMAT);
	tv_put_le16(c + 8, 4);
	cr_assert_eq(store_hdr_parse(c, len, NULL), TV_E_VERSION);
	/* magic */
	cr_assert_eq(store_chunk_version((const uint8_t *)"TVCHUNX1xx", 10, &v), TV_E_FORMAT);
	cr_assert_eq(store_chunk_version(c, 9, &v), TV_E_TRUNCATED);
	cr_assert_eq(store_hdr_parse((const uint8_t *)"TVCH", 4, NULL), TV_E_TRUNCATED);
	cr_assert_eq(store_hdr_parse((const uint8_t *)"XVCH", 4, NULL), TV_E_FORMAT);
	store_chunk_free(ck);
	free(c);
	free_pkts(t, 10);
}

/* ------------------------------------------------ damage is detected */

/* A small chunk with several blocks, a tag, tails and zstd blocks. */
static uint8_t *small_chunk(size_t *len, tpkt **tp, uint32_t *np)
{
	uint32_t n = 60;
	tpkt *t = gen(n, 6, 900);
	store_packer_cfg cfg;
	store_packer *pk;
	const uint8_t *c;
	store_packer_cfg_default(&cfg);
	cfg.block_target = 16 * 1024;
	cr_assert_eq(store_packer_new(&cfg, &pk), 0);
	cr_assert_eq(store_packer_set_tag(pk, (const uint8_t *)"tag!", 4), 0);
	for (uint32_t i = 0; i < n; i++) {
		if (i % 4 == 0) {
			fill(t[i].frame, t[i].caplen, t[i].flow, PAY_RANDOM);
			t[i].payload_off = 54;
		}
		cr_assert_eq(add(pk, &t[i]), 0);
	}
	cr_assert_eq(store_packer_seal(pk, 1, &c, len, NULL), 0);
	uint8_t *copy = dup_bytes(c, *len);
	store_packer_free(pk);
	*tp = t;
	*np = n;
	return copy;
}

Test(chunk2, every_bit_flip_is_caught)
{
	size_t len;
	tpkt *t;
	uint32_t n;
	uint8_t *c = small_chunk(&len, &t, &n);
	store_chunk *ck;
	store_hdr h;
	cr_assert_eq(store_chunk_new(&ck), 0);
	cr_assert_eq(store_chunk_load(ck, c, len, STORE_LOAD_HASH, &h), 0);
	cr_assert_geq(h.nblocks, 2);
	size_t tag_lo = 128 + 4, tag_hi = tag_lo + 4;
	bool saw_zstd = false;
	for (uint32_t i = 0; i < h.nblocks; i++)
		saw_zstd |= (tv_get_le16(c + 128 + tv_get_le32(c + 128 + 4 + 4 + 20 * i) + 20) & 1) != 0;
	cr_assert(saw_zstd);
	for (size_t i = 0; i < len; i++) {
		uint8_t bit = (uint8_t)(1u << (i % 8));
		c[i] ^= bit;
		/* with the hash: always */
		int rc = store_chunk_load(ck, c, len, STORE_LOAD_HASH, NULL);
		cr_assert_neq(rc, 0, "flip at %zu not caught with the hash", i);
		cr_assert_eq(store_chunk_count(ck), 0);
		/* without: everywhere but the producer tag, which only the
		 * SHA-256 covers */
		rc = store_chunk_load(ck, c, len, 0, NULL);
		if (i >= tag_lo && i < tag_hi)
			cr_assert_eq(rc, 0);
		else
			cr_assert_neq(rc, 0, "flip at %zu not caught without the hash", i);
		c[i] ^= bit;
	}
	cr_assert_eq(store_chunk_load(ck, c, len, STORE_LOAD_HASH, NULL), 0);
	/* the hash is what catches a flip in the tag */
	c[tag_lo] ^= 1;
	cr_assert_eq(store_chunk_load(ck, c, len, STORE_LOAD_HASH, NULL), TV_E_HASH);
	c[tag_lo] ^= 1;
	store_chunk_free(ck);
	free(c);
	free_pkts(t, n);
}

Test(chunk2, truncated_and_overlong_inputs)
{
	size_t len;
	tpkt *t;
	uint32_t n;
	uint8_t *c = small_chunk(&len, &t, &n);
	store_chunk *ck;
	cr_assert_eq(store_chunk_new(&ck), 0);
	for (size_t l = 0; l < len; l++) {
		uint8_t *cut = dup_bytes(c, l); /* exact size: ASan sees overreads */
		int rc = store_chunk_load(ck, cut, l, STORE_LOAD_HASH, NULL);
		cr_assert_eq(rc, TV_E_TRUNCATED, "len %zu: %d", l, rc);
		free(cut);
	}
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, c, len);
	longer[len] = 0;
	cr_assert_eq(store_chunk_load(ck, longer, len + 1, 0, NULL), TV_E_CORRUPT);
	free(longer);

	/* a block read short or long is refused */
	store_hdr h;
	store_blkref refs[64];
	const uint8_t *tag;
	uint32_t tl;
	store_block *b;
	cr_assert_eq(store_block_new(&b), 0);
	cr_assert_eq(store_hdr_parse(c, len, &h), 0);
	cr_assert_eq(store_head_parse(&h, c + 128, h.head_len - 1, refs, &tag, &tl), TV_E_TRUNCATED);
	cr_assert_eq(store_head_parse(&h, c + 128, h.head_len, refs, &tag, &tl), 0);
	const uint8_t *bb = c + 128 + refs[0].offset;
	for (uint32_t l = 0; l < refs[0].len; l++) {
		uint8_t *cut = dup_bytes(bb, l);
		int rc = store_block_decode(b, cut, l, NULL, NULL);
		cr_assert(rc == (l < 32 ? TV_E_TRUNCATED : TV_E_CORRUPT), "len %u: %d", l, rc);
		cr_assert_eq(store_block_nrec(b), 0);
		free(cut);
	}
	cr_assert_eq(store_block_decode(b, bb, refs[0].len, &h, &refs[0]), 0);
	store_block_free(b);
	store_chunk_free(ck);
	free(c);
	free_pkts(t, n);
}

/* ---- crafted blocks: every structure check, with a correct CRC ---- */

/* A block described field by field; build() lays section A out as
 * FORMAT.md says: contexts, directory, record columns (byte planes),
 * header area, payload area. */
typedef struct crec {
	uint64_t ts;
	uint32_t seq, caplen, alen, hlen;
	bool first; /* first record of its directory entry */
} crec;

typedef struct ablk {
	uint8_t hd[2048]; /* contexts and directory */
	uint32_t hd_len;
	crec r[8];
	uint32_t nrec;
	uint16_t nflows, nctx, flags;
	uint16_t rsv1;
	uint32_t rsv2;
	uint8_t a[8192];
	uint32_t a_len;
	uint8_t b[4096];
	uint32_t b_len;
} ablk;

static void a_ctx(ablk *x, int k)
{
	uint8_t *p = x->hd + x->hd_len;
	tv_tunmeta t;
	make_tun(&t, k);
	memset(p, 0, 48);
	tv_put_le32(p, t.vni);
	p[4] = t.tunnel;
	p[5] = t.has_gwlb;
	memcpy(p + 8, t.outer_src.b, 16);
	tv_put_le64(p + 24, t.gwlb_endpoint);
	tv_put_le64(p + 32, t.gwlb_attachment);
	tv_put_le32(p + 40, t.gwlb_cookie);
	x->hd_len += 48;
	x->nctx++;
}

static void a_flow(ablk *x, uint32_t flow, uint16_t ctx, uint32_t nrec)
{
	uint8_t *p = x->hd + x->hd_len;
	make_key(p, flow);
	tv_put_le16(p + 40, ctx);
	tv_put_le16(p + 42, 0);
	tv_put_le32(p + 44, nrec);
	tv_put_le32(p + 48, 0); /* tail CRC: build() */
	x->hd_len += 52;
	x->nflows++;
}

/* Frame byte i of the record with this seq. */
static uint8_t fbyte(uint32_t seq, uint32_t i)
{
	return (uint8_t)(seq * 29 + i);
}

static void a_rec(ablk *x, bool first, uint64_t ts, uint32_t seq, uint32_t caplen, uint32_t alen,
                  uint32_t hlen)
{
	crec *r = &x->r[x->nrec++];
	r->first = first;
	r->ts = ts;
	r->seq = seq;
	r->caplen = caplen;
	r->alen = alen;
	r->hlen = hlen;
}

/* Value j of a column of n values of w bytes at col, in byte planes
 * (FORMAT.md "Record columns"). */
static void col_set(uint8_t *col, uint32_t n, uint32_t j, unsigned w, uint64_t v)
{
	for (unsigned b = 0; b < w; b++)
		col[b * n + j] = (uint8_t)(v >> (8 * b));
}

/* Lays out section A and B from the fields: ts and seq as deltas within
 * a directory entry, origlen = caplen + 4, flags SYNTH_L2, frame bytes
 * 0..hlen in the header area (the first min(hlen, previous hlen) XORed
 * with the previous record's when not the first of its entry), hlen..alen
 * in the payload area, the rest in B; then each directory entry's tail CRC
 * (the entries follow the contexts; a first record starts the next one). */
static void build(ablk *x)
{
	uint32_t n = x->nrec, c0 = x->hd_len, hsum = 0, e = 0, t0 = 0;
	memcpy(x->a, x->hd, x->hd_len);
	for (uint32_t j = 0; j < n; j++)
		hsum += x->r[j].hlen;
	uint32_t h = c0 + 28 * n, pl = h + hsum;
	x->b_len = 0;
	for (uint32_t j = 0; j < n; j++) {
		const crec *r = &x->r[j], *pv = j ? &x->r[j - 1] : NULL;
		uint32_t xl = r->first ? 0 : (r->hlen < pv->hlen ? r->hlen : pv->hlen);
		col_set(x->a + c0, n, j, 8, r->first ? r->ts : r->ts - pv->ts);
		col_set(x->a + c0 + 8 * n, n, j, 4, r->first ? r->seq : r->seq - pv->seq);
		col_set(x->a + c0 + 12 * n, n, j, 4, r->caplen);
		col_set(x->a + c0 + 16 * n, n, j, 4, 4);
		col_set(x->a + c0 + 20 * n, n, j, 4, r->alen);
		col_set(x->a + c0 + 24 * n, n, j, 2, r->hlen);
		col_set(x->a + c0 + 26 * n, n, j, 2, 1);
		for (uint32_t i = 0; i < r->caplen; i++) {
			uint8_t v = fbyte(r->seq, i);
			if (i < xl)
				v ^= fbyte(pv->seq, i);
			if (i < r->hlen)
				x->a[h++] = v;
			else if (i < r->alen)
				x->a[pl++] = v;
			else
				x->b[x->b_len++] = v;
		}
		/* an entry without tails gets the CRC of no bytes, 0 */
		if (j + 1 == n || x->r[j + 1].first) {
			tv_put_le32(x->a + 48 * x->nctx + 52 * e++ + 48, spec_crc(x->b + t0, x->b_len - t0, 0));
			t0 = x->b_len;
		}
	}
	x->a_len = pl;
}

/* The valid base: two contexts, three flows, five records, two tails,
 * two records stored XORed with their predecessor (record 1 over the 60
 * header bytes of record 0, record 4 over 40 of record 3's 54), one frame
 * in both areas (record 4: 40 header bytes, 40 payload bytes). */
static void base_block(ablk *x)
{
	memset(x, 0, sizeof *x);
	a_ctx(x, 1);
	a_ctx(x, 2);
	a_flow(x, 1, 0, 2);
	a_flow(x, 2, 1, 1);
	a_flow(x, 3, 0, 2);
	a_rec(x, true, 100, 0, 60, 60, 60);
	a_rec(x, false, 100, 3, 300, 54, 54);
	a_rec(x, true, 90, 1, 0, 0, 0);
	a_rec(x, true, 95, 2, 200, 54, 54);
	a_rec(x, false, 120, 4, 80, 80, 40);
	build(x);
}

/* Offsets in the base's section A: directory entry i (after the two
 * contexts of 48 bytes; entries of 52), the columns (5 values each, in
 * byte planes). */
#define BASE_DIR(i) (2 * 48 + 52 * (i))
#define C0 BASE_DIR(3)
#define COL_TS C0, 8
#define COL_SEQ C0 + 40, 4
#define COL_CAP C0 + 60, 4
#define COL_EXTRA C0 + 80, 4
#define COL_ALEN C0 + 100, 4
#define COL_HLEN C0 + 120, 2
#define COL_FLAGS C0 + 130, 2
/* Sets value j of column COL_* of the base block x. */
#define COLSET(col, j, v) colset_(x.a, col, j, v)
static void colset_(uint8_t *a, uint32_t off, unsigned w, uint32_t j, uint64_t v)
{
	col_set(a + off, 5, j, w, v);
}

/* Sets the CRC of the block at out: bytes 0..27 of its header, continued
 * over the a_comp bytes of section A (not over B). */
static void crc_fix(uint8_t *out)
{
	tv_put_le32(out + 28, spec_crc(out + 32, tv_get_le32(out), spec_crc(out, 28, 0)));
}

/* Serialises x with section A stored (zstd when level > 0) and a correct
 * CRC; returns the length. */
static size_t emit(const ablk *x, uint8_t *out, int level)
{
	uint32_t a_comp = x->a_len;
	uint16_t flags = x->flags;
	if (level > 0) {
		size_t zr = ZSTD_compress(out + 32, 8192, x->a, x->a_len, level);
		cr_assert(!ZSTD_isError(zr));
		a_comp = (uint32_t)zr;
		flags |= 1;
	} else {
		memcpy(out + 32, x->a, x->a_len);
	}
	memcpy(out + 32 + a_comp, x->b, x->b_len);
	tv_put_le32(out, a_comp);
	tv_put_le32(out + 4, x->a_len);
	tv_put_le32(out + 8, x->b_len);
	tv_put_le32(out + 12, x->nrec);
	tv_put_le16(out + 16, x->nflows);
	tv_put_le16(out + 18, x->nctx);
	tv_put_le16(out + 20, flags);
	tv_put_le16(out + 22, x->rsv1);
	tv_put_le32(out + 24, x->rsv2);
	crc_fix(out);
	return 32 + a_comp + x->b_len;
}

static int decode_crafted(const ablk *x, int level)
{
	static uint8_t out[16384];
	store_block *b;
	size_t len = emit(x, out, level);
	/* exactly len bytes, so that ASan sees any read past them */
	uint8_t *exact = dup_bytes(out, len);
	cr_assert_eq(store_block_new(&b), 0);
	int rc = store_block_decode(b, exact, len, NULL, NULL);
	if (rc == 0) {
		/* every accessor on what was accepted */
		for (uint32_t i = 0; i < store_block_nrec(b); i++)
			cr_assert_not_null(store_block_frame(b, i, NULL));
	} else {
		cr_assert_eq(store_block_nrec(b), 0);
		cr_assert_eq(store_block_nflows(b), 0);
	}
	store_block_free(b);
	free(exact);
	return rc;
}

/* The same block read as a query reads it: store_block_decode_a on exactly
 * its first 32 + a_comp bytes (the return value), then the tails of all
 * its flows from exactly section B (*rc_tails).  A frame with a tail is
 * handed out only once the tails are in. */
static int decode_crafted_a(const ablk *x, int level, int *rc_tails)
{
	static uint8_t out[16384];
	store_block *b;
	size_t a_len = emit(x, out, level) - x->b_len;
	uint8_t *head_a = dup_bytes(out, a_len), *sb = dup_bytes(out + a_len, x->b_len);
	cr_assert_eq(store_block_new(&b), 0);
	int rc = store_block_decode_a(b, head_a, a_len, NULL, NULL);
	*rc_tails = -1;
	if (rc == 0) {
		cr_assert_eq(store_block_a_comp(b), a_len - 32);
		*rc_tails = store_block_tails_put(b, 0, store_block_nflows(b), sb, x->b_len);
		for (uint32_t i = 0; i < store_block_nrec(b); i++) {
			const store_brec *r = store_block_rec(b, i);
			bool given = r->caplen == r->alen || *rc_tails == 0;
			cr_assert_eq(store_block_frame(b, i, NULL) != NULL, given, "record %u", i);
		}
	} else {
		cr_assert_eq(store_block_nrec(b), 0);
		cr_assert_eq(store_block_a_comp(b), 0);
	}
	store_block_free(b);
	free(head_a);
	free(sb);
	return rc;
}

Test(chunk2, crafted_base_block_decodes)
{
	ablk x;
	store_block *b;
	static uint8_t out[16384];
	int rc_tails;
	base_block(&x);
	cr_assert_eq(decode_crafted(&x, 0), 0);
	cr_assert_eq(decode_crafted(&x, 3), 0);
	cr_assert_eq(decode_crafted_a(&x, 0, &rc_tails), 0);
	cr_assert_eq(rc_tails, 0);
	cr_assert_eq(decode_crafted_a(&x, 3, &rc_tails), 0);
	cr_assert_eq(rc_tails, 0);
	size_t len = emit(&x, out, 0);
	cr_assert_eq(store_block_new(&b), 0);
	cr_assert_eq(store_block_decode(b, out, len, NULL, NULL), 0);
	cr_assert_eq(store_block_nflows(b), 3);
	cr_assert_eq(store_block_nrec(b), 5);
	const store_bflow *f = store_block_flow(b, 1);
	cr_assert_eq(f->nrec, 1);
	cr_assert_eq(f->first, 2);
	cr_assert_eq(f->tun->vni, 1002);
	const store_brec *r = store_block_rec(b, 1);
	cr_assert_eq(r->ts_ns, 100);
	cr_assert_eq(r->seq, 3);
	cr_assert_eq(r->caplen, 300);
	cr_assert_eq(r->origlen, 304);
	cr_assert_eq(r->alen, 54);
	cr_assert_eq(r->flags, STORE_REC_SYNTH_L2);
	cr_assert_eq(r->flow, 0);
	r = store_block_rec(b, 4);
	cr_assert_eq(r->ts_ns, 120);
	cr_assert_eq(r->seq, 4);
	cr_assert_eq(r->flow, 2);
	/* frames: in place without a tail, assembled with one; XOR undone */
	uint64_t d0 = store_block_decoded(b);
	cr_assert_eq(d0, x.a_len);
	const uint8_t *fr = store_block_frame(b, 0, NULL);
	for (uint32_t i = 0; i < 60; i++)
		cr_assert_eq(fr[i], fbyte(0, i));
	cr_assert_eq(store_block_decoded(b), d0);
	uint8_t mine[300];
	fr = store_block_frame(b, 1, mine);
	cr_assert_eq(fr, mine);
	for (uint32_t i = 0; i < 300; i++)
		cr_assert_eq(fr[i], fbyte(3, i), "byte %u", i);
	cr_assert_eq(store_block_decoded(b), d0 + 246);
	fr = store_block_frame(b, 3, NULL);
	for (uint32_t i = 0; i < 200; i++)
		cr_assert_eq(fr[i], fbyte(2, i));
	cr_assert_eq(store_block_decoded(b), d0 + 246 + 146);
	fr = store_block_frame(b, 4, NULL);
	for (uint32_t i = 0; i < 80; i++)
		cr_assert_eq(fr[i], fbyte(4, i), "byte %u", i);
	store_block_free(b);
}

/* Each mutation of the base must be refused although its CRC is right;
 * one of the header or section A also by a reader of those alone. */
#define REJECT(stmt)                                                              \
	do {                                                                      \
		ablk x;                                                           \
		int rc_tails;                                                     \
		base_block(&x);                                                   \
		stmt;                                                             \
		cr_assert_eq(decode_crafted(&x, 0), TV_E_CORRUPT, "%s", #stmt);    \
		cr_assert_eq(decode_crafted_a(&x, 0, &rc_tails), TV_E_CORRUPT, "%s", #stmt); \
	} while (0)
/* A mutation of section B or of a tail CRC: the whole block is refused;
 * its header and section A decode, and then its tails are refused. */
#define REJECT_TAILS(stmt)                                                        \
	do {                                                                      \
		ablk x;                                                           \
		int rc_tails;                                                     \
		base_block(&x);                                                   \
		stmt;                                                             \
		cr_assert_eq(decode_crafted(&x, 0), TV_E_CORRUPT, "%s", #stmt);    \
		cr_assert_eq(decode_crafted_a(&x, 0, &rc_tails), 0, "%s", #stmt);  \
		cr_assert_eq(rc_tails, TV_E_CORRUPT, "%s", #stmt);                 \
	} while (0)

Test(chunk2, crafted_block_header_rejects)
{
	REJECT(x.flags = 2);
	REJECT(x.flags = 0x8000);
	REJECT(x.rsv1 = 1);
	REJECT(x.rsv2 = 1);
	REJECT(x.nrec = 0);
	REJECT(x.nrec = 6);
	REJECT(x.nrec = 4);
	REJECT(x.nflows = 0);
	REJECT(x.nflows = 6); /* more flows than records */
	REJECT(x.nctx = 0);
	REJECT(x.nctx = 4);   /* more contexts than flows */
	REJECT(x.nflows = 2); /* A then holds bytes the records do not explain */
	REJECT(x.a_len -= 1);
	REJECT(x.b_len -= 1);
	REJECT((x.a[x.a_len] = 0, x.a_len += 1));
	REJECT((x.b[x.b_len] = 0, x.b_len += 1));
	REJECT(x.a_len = C0 + 28 * 5 - 1); /* the columns do not fit */
}

Test(chunk2, crafted_directory_and_record_rejects)
{
	/* context table reserved fields */
	REJECT(x.a[6] = 1);
	REJECT(x.a[48 + 44] = 1);
	/* flow directory: ctx out of range, reserved, nrec 0, sums */
	REJECT(tv_put_le16(x.a + BASE_DIR(0) + 40, 2));
	REJECT(x.a[BASE_DIR(0) + 42] = 1);
	REJECT(tv_put_le32(x.a + BASE_DIR(1) + 44, 0));
	REJECT(tv_put_le32(x.a + BASE_DIR(1) + 44, 2));
	REJECT(tv_put_le32(x.a + BASE_DIR(0) + 44, 0xFFFFFFFFu));
	/* tail CRCs: not 0 for an entry without tails (entry 1); any tail
	 * byte or CRC changed (entries 0 and 2 have tails) */
	REJECT(tv_put_le32(x.a + BASE_DIR(1) + 48, 1));
	REJECT_TAILS(x.b[0] ^= 1);
	REJECT_TAILS(x.b[245] ^= 0x80);
	REJECT_TAILS(x.b[246] ^= 1);
	REJECT_TAILS(x.b[x.b_len - 1] ^= 1);
	REJECT_TAILS(x.a[BASE_DIR(0) + 48] ^= 1);
	REJECT_TAILS(x.a[BASE_DIR(2) + 51] ^= 0x80);
	/* record columns */
	REJECT(COLSET(COL_FLAGS, 0, 4));  /* unknown flag */
	REJECT(COLSET(COL_FLAGS, 2, 0x8000));
	REJECT(COLSET(COL_ALEN, 0, 61)); /* alen > caplen */
	REJECT(COLSET(COL_CAP, 0, 262145));
	REJECT(COLSET(COL_CAP, 0, 59));   /* below alen */
	REJECT(COLSET(COL_ALEN, 0, 0xFFFFFFF0u));
	REJECT(COLSET(COL_CAP, 0, 0xFFFFFFF0u));
	REJECT(COLSET(COL_ALEN, 4, 81)); /* past the end of A */
	/* header lengths: at most the record's section-A bytes; the areas
	 * within a_raw */
	REJECT(COLSET(COL_HLEN, 0, 61));
	REJECT(COLSET(COL_HLEN, 2, 1));
	REJECT(COLSET(COL_HLEN, 3, 55));
	REJECT(COLSET(COL_HLEN, 4, 81));
	REJECT((COLSET(COL_HLEN, 4, 0xFFFF), COLSET(COL_ALEN, 4, 0xFFFF),
	        COLSET(COL_CAP, 4, 0xFFFF)));
	/* order within a flow: a time delta past 2^64, or an equal time
	 * whose seq does not increase */
	REJECT(COLSET(COL_TS, 1, UINT64_MAX));
	REJECT(COLSET(COL_TS, 4, UINT64_MAX - 94));
	REJECT(COLSET(COL_SEQ, 1, 0));
}

/* hlen only moves bytes between the two areas: any split of a record's
 * section-A bytes decodes, with the XOR over min(hlen, previous hlen). */
Test(chunk2, crafted_header_split)
{
	for (uint32_t h4 = 0; h4 <= 80; h4 += 8) {
		for (uint32_t h3 = 0; h3 <= 54; h3 += 27) {
			ablk x;
			static uint8_t out[16384];
			store_block *b;
			base_block(&x);
			x.r[3].hlen = h3;
			x.r[4].hlen = h4;
			build(&x);
			size_t len = emit(&x, out, (h4 & 8) ? 3 : 0);
			cr_assert_eq(store_block_new(&b), 0);
			cr_assert_eq(store_block_decode(b, out, len, NULL, NULL), 0, "h3 %u h4 %u", h3, h4);
			for (uint32_t k = 0; k < 5; k++) {
				const store_brec *r = store_block_rec(b, k);
				const uint8_t *fr = store_block_frame(b, k, NULL);
				cr_assert_eq(r->hlen, x.r[k].hlen);
				for (uint32_t i = 0; i < r->caplen; i++)
					cr_assert_eq(fr[i], fbyte(r->seq, i), "h3 %u h4 %u rec %u byte %u", h3,
					             h4, k, i);
			}
			store_block_free(b);
		}
	}
}

Test(chunk2, crafted_block_chunk_checks)
{
	ablk x;
	static uint8_t out[16384];
	store_block *b;
	store_hdr h;
	store_blkref ref;
	base_block(&x);
	size_t len = emit(&x, out, 3);
	cr_assert_eq(store_block_new(&b), 0);
	memset(&h, 0, sizeof h);
	h.npkts = 5;
	h.first_ts = 90;
	h.last_ts = 120;
	ref.offset = 0;
	ref.len = (uint32_t)len;
	ref.nrec = 5;
	ref.a_raw = x.a_len;
	ref.a_comp = tv_get_le32(out);
	cr_assert_eq(store_block_decode(b, out, len, &h, &ref), 0);
	h.npkts = 4; /* seq 4 out of range */
	cr_assert_eq(store_block_decode(b, out, len, &h, &ref), TV_E_CORRUPT);
	h.npkts = 5;
	h.first_ts = 91;
	cr_assert_eq(store_block_decode(b, out, len, &h, &ref), TV_E_CORRUPT);
	h.first_ts = 90;
	h.last_ts = 119;
	cr_assert_eq(store_block_decode(b, out, len, &h, &ref), TV_E_CORRUPT);
	h.last_ts = 120;
	ref.nrec = 4;
	cr_assert_eq(store_block_decode(b, out, len, &h, &ref), TV_E_CORRUPT);
	ref.nrec = 5;
	ref.a_raw++;
	cr_assert_eq(store_block_decode(b, out, len, &h, &ref), TV_E_CORRUPT);
	ref.a_raw--;
	ref.len++;
	cr_assert_eq(store_block_decode(b, out, len, &h, &ref), TV_E_CORRUPT);
	ref.len--;
	ref.a_comp--;
	cr_assert_eq(store_block_decode(b, out, len, &h, &ref), TV_E_CORRUPT);
	ref.a_comp++;
	cr_assert_eq(store_block_decode(b, out, len, &h, &ref), 0);
	store_block_free(b);
}

/* Section A that claims zstd but is not one exact frame of a_raw bytes. */
Test(chunk2, crafted_zstd_rejects)
{
	ablk x;
	static uint8_t out[16384];
	store_block *b;
	base_block(&x);
	cr_assert_eq(store_block_new(&b), 0);

	/* stored raw but flagged zstd */
	x.flags = 1;
	cr_assert_eq(decode_crafted(&x, 0), TV_E_CORRUPT);
	x.flags = 0;

	/* a frame without a content size */
	{
		ZSTD_CCtx *cc = ZSTD_createCCtx();
		ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
		size_t zr = ZSTD_compress2(cc, out + 32, 8192, x.a, x.a_len);
		cr_assert(!ZSTD_isError(zr));
		ZSTD_freeCCtx(cc);
		uint32_t a_comp = (uint32_t)zr;
		memcpy(out + 32 + a_comp, x.b, x.b_len);
		tv_put_le32(out, a_comp);
		tv_put_le32(out + 4, x.a_len);
		tv_put_le32(out + 8, x.b_len);
		tv_put_le32(out + 12, x.nrec);
		tv_put_le16(out + 16, x.nflows);
		tv_put_le16(out + 18, x.nctx);
		tv_put_le16(out + 20, 1);
		tv_put_le16(out + 22, 0);
		tv_put_le32(out + 24, 0);
		crc_fix(out);
		cr_assert_eq(store_block_decode(b, out, 32 + a_comp + x.b_len, NULL, NULL), TV_E_CORRUPT);
	}
	/* a frame whose content size differs from a_raw: claim one more */
	{
		size_t len = emit(&x, out, 3);
		tv_put_le32(out + 4, x.a_len + 1);
		crc_fix(out);
		cr_assert_eq(store_block_decode(b, out, len, NULL, NULL), TV_E_CORRUPT);
	}
	/* a frame followed by a byte inside a_comp */
	{
		size_t len = emit(&x, out, 3);
		uint32_t a_comp = tv_get_le32(out);
		memmove(out + 32 + a_comp + 1, out + 32 + a_comp, x.b_len);
		out[32 + a_comp] = 0;
		tv_put_le32(out, a_comp + 1);
		len++;
		crc_fix(out);
		cr_assert_eq(store_block_decode(b, out, len, NULL, NULL), TV_E_CORRUPT);
	}
	/* a_raw past 16 MiB */
	{
		size_t len = emit(&x, out, 0);
		tv_put_le32(out + 4, (16u << 20) + 1);
		crc_fix(out);
		cr_assert_eq(store_block_decode(b, out, len, NULL, NULL), TV_E_CORRUPT);
	}
	/* a skippable frame instead of a zstd frame */
	{
		size_t len = emit(&x, out, 3);
		tv_put_le32(out + 32, 0x184D2A50u);
		crc_fix(out);
		cr_assert_eq(store_block_decode(b, out, len, NULL, NULL), TV_E_CORRUPT);
	}
	/* damaged compressed bytes under a correct CRC */
	{
		size_t len = emit(&x, out, 3);
		uint32_t a_comp = tv_get_le32(out);
		for (uint32_t i = 6; i < a_comp; i++) {
			out[32 + i] ^= 0x5a;
			crc_fix(out);
			int rc = store_block_decode(b, out, len, NULL, NULL);
			/* zstd may decode garbage into valid-looking A; either way
			 * nothing unchecked is handed out */
			cr_assert(rc == 0 || rc == TV_E_CORRUPT, "byte %u: %d", i, rc);
			out[32 + i] ^= 0x5a;
		}
	}
	store_block_free(b);
}

/* ------------------------ crafted chunks: the checks across blocks ---- */

/* Recomputes the block CRCs, the SHA-256 and the header CRC of a chunk
 * after an edit, from the specification (reading only what lies inside
 * the buffer).  The tail CRCs are left: they lie in section A, which the
 * edits below do not touch. */
static void refix(uint8_t *c, size_t len)
{
	uint32_t nblocks = tv_get_le16(c + 12), body_len = tv_get_le32(c + 60);
	uint8_t *body = c + 128;
	if (len >= 128 + 4) {
		uint32_t taglen = tv_get_le32(body);
		for (uint32_t i = 0; i < nblocks && 128 + 4 + (uint64_t)taglen + 20 * (i + 1) <= len; i++) {
			uint8_t *ref = body + 4 + taglen + 20 * i;
			uint64_t off = tv_get_le32(ref), bl = tv_get_le32(ref + 4);
			if (bl >= 32 && 128 + off + bl <= len && 32 + (uint64_t)tv_get_le32(body + off) <= bl)
				crc_fix(body + off);
		}
	}
	if (128 + (uint64_t)body_len <= len)
		tv_sha256(body, body_len, c + 72);
	tv_put_le32(c + 124, spec_crc(c, 124, 0));
}

typedef void (*mutator)(uint8_t *c, size_t len);

static int load_mutated(mutator m)
{
	size_t len;
	tpkt *t;
	uint32_t n;
	uint8_t *c = small_chunk(&len, &t, &n);
	store_chunk *ck;
	m(c, len);
	refix(c, len);
	cr_assert_eq(store_chunk_new(&ck), 0);
	int rc = store_chunk_load(ck, c, len, STORE_LOAD_HASH, NULL);
	if (rc != 0)
		cr_assert_eq(store_chunk_count(ck), 0);
	store_chunk_free(ck);
	free(c);
	free_pkts(t, n);
	return rc;
}

static void m_none(uint8_t *c, size_t len) { (void)c; (void)len; }
static void m_flags(uint8_t *c, size_t len) { (void)len; c[10] = 1; }
static void m_rsv14(uint8_t *c, size_t len) { (void)len; c[14] = 1; }
static void m_rsv68(uint8_t *c, size_t len) { (void)len; c[70] = 1; }
static void m_rsv104(uint8_t *c, size_t len) { (void)len; c[110] = 1; }
static void m_nblocks0(uint8_t *c, size_t len) { (void)len; tv_put_le16(c + 12, 0); }
static void m_nblocks65(uint8_t *c, size_t len) { (void)len; tv_put_le16(c + 12, 65); }
static void m_npkts0(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 48, 0); }
static void m_npkts_more(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 48, tv_get_le32(c + 48) + 1); }
static void m_ts_swap(uint8_t *c, size_t len) { (void)len; tv_put_le64(c + 24, tv_get_le64(c + 32) + 1); }
static void m_first_ts(uint8_t *c, size_t len) { (void)len; tv_put_le64(c + 24, tv_get_le64(c + 24) - 1); }
static void m_last_ts(uint8_t *c, size_t len) { (void)len; tv_put_le64(c + 32, tv_get_le64(c + 32) + 1); }
static void m_orig(uint8_t *c, size_t len) { (void)len; tv_put_le64(c + 40, tv_get_le64(c + 40) + 1); }
static void m_raw(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 56, tv_get_le32(c + 56) - 1); }
static void m_raw_huge(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 56, (64u << 20) + 1); }
static void m_nflows_more(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 52, tv_get_le32(c + 52) + 1); }
static void m_nflows_less(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 52, tv_get_le32(c + 52) - 1); }
static void m_nflows_lt_blocks(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 52, 1); }
static void m_nflows_gt_pkts(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 52, tv_get_le32(c + 48) + 1); }
static void m_head_small(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 64, 3); }
static void m_head_big(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 64, 4 + 4097 + 20 * tv_get_le16(c + 12)); }
static void m_head_off(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 64, tv_get_le32(c + 64) + 20); }
static void m_body_small(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 60, tv_get_le32(c + 64) + 1); }
static void m_body_huge(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 60, 0xFFFFFFF0u); }
static void m_taglen(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 128, 5); }
static void m_taglen_huge(uint8_t *c, size_t len) { (void)len; tv_put_le32(c + 128, 4097); }
/* block table: the first entry's fields, then swap two blocks */
static uint8_t *ref0(uint8_t *c) { return c + 128 + 4 + tv_get_le32(c + 128); }
static void m_ref_off(uint8_t *c, size_t len) { (void)len; tv_put_le32(ref0(c), tv_get_le32(ref0(c)) + 1); }
static void m_ref_len(uint8_t *c, size_t len) { (void)len; tv_put_le32(ref0(c) + 4, tv_get_le32(ref0(c) + 4) - 1); }
static void m_ref_len31(uint8_t *c, size_t len) { (void)len; tv_put_le32(ref0(c) + 4, 31); }
static void m_ref_nrec(uint8_t *c, size_t len) { (void)len; tv_put_le32(ref0(c) + 8, tv_get_le32(ref0(c) + 8) + 1); }
static void m_ref_nrec0(uint8_t *c, size_t len) { (void)len; tv_put_le32(ref0(c) + 8, 0); }
static void m_ref_araw(uint8_t *c, size_t len) { (void)len; tv_put_le32(ref0(c) + 12, tv_get_le32(ref0(c) + 12) + 1); }
static void m_ref_araw_huge(uint8_t *c, size_t len) { (void)len; tv_put_le32(ref0(c) + 12, (16u << 20) + 1); }
static void m_ref_acomp(uint8_t *c, size_t len) { (void)len; tv_put_le32(ref0(c) + 16, tv_get_le32(ref0(c) + 16) - 1); }
static void m_ref_acomp_huge(uint8_t *c, size_t len) { (void)len; tv_put_le32(ref0(c) + 16, tv_get_le32(ref0(c) + 4) - 31); }
static void m_swap_blocks(uint8_t *c, size_t len)
{
	(void)len;
	uint8_t *r = ref0(c);
	uint8_t t[16];
	/* exchange the table entries of blocks 0 and 1 (offsets stay) */
	memcpy(t, r + 4, 16);
	memcpy(r + 4, r + 20 + 4, 16);
	memcpy(r + 20 + 4, t, 16);
}

Test(chunk2, crafted_chunk_rejects)
{
	cr_assert_eq(load_mutated(m_none), 0);
	mutator bad[] = {
		m_flags, m_rsv14, m_rsv68, m_rsv104, m_nblocks0, m_nblocks65, m_npkts0,
		m_npkts_more, m_ts_swap, m_first_ts, m_last_ts, m_orig, m_raw, m_raw_huge,
		m_nflows_more, m_nflows_less, m_nflows_lt_blocks, m_nflows_gt_pkts, m_head_small,
		m_head_big, m_head_off, m_body_small, m_body_huge, m_taglen, m_taglen_huge,
		m_ref_off, m_ref_len, m_ref_len31, m_ref_nrec, m_ref_nrec0, m_ref_araw,
		m_ref_araw_huge, m_ref_acomp, m_ref_acomp_huge, m_swap_blocks,
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = load_mutated(bad[i]);
		cr_assert(rc == TV_E_CORRUPT || rc == TV_E_TRUNCATED, "mutation %zu: %d", i, rc);
	}
}

/*
 * A chunk assembled here from crafted blocks, so that the cross-block
 * rules can be broken one at a time with every CRC and the hash right:
 * a seq twice, a seq missing, ts bounds.
 */
static size_t crafted_chunk(uint8_t *c, ablk *blocks, uint32_t nb, uint32_t npkts, uint64_t first,
                            uint64_t last, uint64_t orig, uint32_t raw, uint32_t nflows)
{
	uint32_t head_len = 4 + 20 * nb, pos = head_len;
	memset(c, 0, 128);
	memcpy(c, "TVCHUNK1", 8);
	tv_put_le16(c + 8, 3);
	tv_put_le16(c + 12, (uint16_t)nb);
	tv_put_le64(c + 16, 1);
	tv_put_le64(c + 24, first);
	tv_put_le64(c + 32, last);
	tv_put_le64(c + 40, orig);
	tv_put_le32(c + 48, npkts);
	tv_put_le32(c + 52, nflows);
	tv_put_le32(c + 56, raw);
	tv_put_le32(c + 64, head_len);
	tv_put_le32(c + 128, 0);
	for (uint32_t i = 0; i < nb; i++) {
		size_t bl = emit(&blocks[i], c + 128 + pos, 0);
		uint8_t *ref = c + 128 + 4 + 20 * i;
		tv_put_le32(ref, pos);
		tv_put_le32(ref + 4, (uint32_t)bl);
		tv_put_le32(ref + 8, blocks[i].nrec);
		tv_put_le32(ref + 12, blocks[i].a_len);
		tv_put_le32(ref + 16, blocks[i].a_len); /* stored: a_comp = a_raw */
		pos += (uint32_t)bl;
	}
	tv_put_le32(c + 60, pos);
	refix(c, 128 + pos);
	return 128 + pos;
}

static int load_two_blocks(uint32_t seq_b1_last, uint32_t npkts, uint64_t first, uint64_t last)
{
	static ablk bl[2];
	static uint8_t c[65536];
	base_block(&bl[0]); /* seqs 0..4, ts 90..120, origlen caplen+4 */
	memset(&bl[1], 0, sizeof bl[1]);
	a_ctx(&bl[1], 3);
	a_flow(&bl[1], 9, 0, 2);
	a_rec(&bl[1], true, 130, 5, 40, 40, 0);
	a_rec(&bl[1], false, 131, seq_b1_last, 50, 50, 30);
	build(&bl[1]);
	uint64_t orig = 60 + 300 + 0 + 200 + 80 + 40 + 50 + 7 * 4;
	uint32_t raw = 60 + 300 + 0 + 200 + 80 + 40 + 50;
	size_t len = crafted_chunk(c, bl, 2, npkts, first, last, orig, raw, 4);
	store_chunk *ck;
	cr_assert_eq(store_chunk_new(&ck), 0);
	int rc = store_chunk_load(ck, c, len, STORE_LOAD_HASH, NULL);
	if (rc == 0) {
		/* (ts, seq) order across blocks */
		uint64_t pts = 0;
		for (uint32_t k = 0; k < store_chunk_count(ck); k++) {
			const store_brec *r = store_chunk_rec(ck, k, NULL);
			cr_assert_geq(r->ts_ns, pts);
			pts = r->ts_ns;
		}
	}
	store_chunk_free(ck);
	return rc;
}

Test(chunk2, crafted_chunk_sequence_rules)
{
	cr_assert_eq(load_two_blocks(6, 7, 90, 131), 0);
	/* seq 3 twice (block 0 has it) and 6 missing */
	cr_assert_eq(load_two_blocks(3, 7, 90, 131), TV_E_CORRUPT);
	/* seq past npkts */
	cr_assert_eq(load_two_blocks(7, 7, 90, 131), TV_E_CORRUPT);
	/* ts bounds that the records do not reach or pass */
	cr_assert_eq(load_two_blocks(6, 7, 89, 131), TV_E_CORRUPT);
	cr_assert_eq(load_two_blocks(6, 7, 90, 132), TV_E_CORRUPT);
	cr_assert_eq(load_two_blocks(6, 7, 91, 131), TV_E_CORRUPT);
}
