/*
 * test_index2.c — the index (store/FORMAT.md "Index (LMDB)"): table
 * codecs and their reject cases, the postings of a flow, idx_commit2 on
 * real chunks, idx_plan2 against a brute-force scan of what was committed.
 *
 * CRCs of crafted values are computed here bitwise from the definition
 * (CRC-32C, reflected, polynomial 0x82F63B78), and field offsets come from
 * FORMAT.md, so the tests check the format and not only that the code
 * agrees with itself.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../index/idx2.h"

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

/* The chunk record's crc: bytes 0..99, then the block table. */
static void chunk_fix_crc(uint8_t *p, size_t n)
{
	uint32_t c = spec_crc(p, 100, 0);
	c = spec_crc(p + 104, n - 104, c);
	tv_put_le32(p + 100, c);
}

static void sample_chunk(idx2_chunk *c, uint16_t nblocks)
{
	memset(c, 0, sizeof *c);
	c->chunk_id = 77;
	c->segment = 3;
	c->slice = 9;
	c->offset = 4096;
	c->npkts = 1000;
	c->first_ts = 1000000000ull;
	c->last_ts = 2000000000ull;
	c->orig_bytes = 123456;
	c->raw_len = 120000;
	c->nflows = 50;
	for (int i = 0; i < 32; i++)
		c->sha256[i] = (uint8_t)(i * 7);
	c->nblocks = nblocks;
	uint32_t off = 4 + 20u * nblocks;
	for (uint16_t i = 0; i < nblocks; i++) {
		c->blocks[i].offset = off;
		c->blocks[i].len = 1000 + i;
		c->blocks[i].nrec = 10 + i;
		c->blocks[i].a_raw = 5000 + i;
		c->blocks[i].a_comp = 300 + i;
		off += c->blocks[i].len;
	}
	c->length = 128 + off;
}

/* ------------------------------------------------------ chunk record */

Test(index2_codec, chunk_record_round_trip_and_layout)
{
	idx2_chunk c, d;
	uint8_t b[IDX2_CHUNK_MAX];
	sample_chunk(&c, 3);
	size_t n = idx2_chunk_encode(&c, b);
	cr_assert_eq(n, 104 + 3 * 20);
	cr_assert_eq(tv_get_le64(b + 0), 77);
	cr_assert_eq(tv_get_le32(b + 8), 3);
	cr_assert_eq(tv_get_le32(b + 12), 9);
	cr_assert_eq(tv_get_le64(b + 16), 4096);
	cr_assert_eq(tv_get_le32(b + 28), 1000);
	cr_assert_eq(tv_get_le64(b + 32), 1000000000ull);
	cr_assert_eq(tv_get_le32(b + 60), 50);
	cr_assert_eq(b[64 + 5], 35);
	cr_assert_eq(tv_get_le16(b + 96), 3);
	cr_assert_eq(tv_get_le32(b + 104 + 20 + 4), 1001);
	cr_assert_eq(tv_get_le32(b + 104 + 20 + 12), 5001);
	cr_assert_eq(tv_get_le32(b + 104 + 20 + 16), 301);
	uint32_t want = spec_crc(b, 100, 0);
	want = spec_crc(b + 104, n - 104, want);
	cr_assert_eq(tv_get_le32(b + 100), want);
	cr_assert_eq(idx2_chunk_decode(b, n, 77, &d), 0);
	cr_assert_eq(memcmp(&c, &d, sizeof c), 0);
}

Test(index2_codec, chunk_record_rejects_every_malformed_case)
{
	idx2_chunk c, d;
	uint8_t b[IDX2_CHUNK_MAX], t[IDX2_CHUNK_MAX];
	sample_chunk(&c, 3);
	size_t n = idx2_chunk_encode(&c, b);

	/* any flipped bit: the crc */
	for (size_t i = 0; i < n; i++) {
		memcpy(t, b, n);
		t[i] ^= 0x10;
		cr_assert_eq(idx2_chunk_decode(t, n, 77, &d), TV_E_CORRUPT, "byte %zu", i);
	}
	/* lengths */
	cr_assert_eq(idx2_chunk_decode(b, n - 1, 77, &d), TV_E_CORRUPT);
	cr_assert_eq(idx2_chunk_decode(b, 103, 77, &d), TV_E_CORRUPT);
	memcpy(t, b, n);
	t[n] = 0;
	cr_assert_eq(idx2_chunk_decode(t, n + 1, 77, &d), TV_E_CORRUPT);
	/* the id of another key */
	cr_assert_eq(idx2_chunk_decode(b, n, 78, &d), TV_E_CORRUPT);

	/* fields under a correct crc */
	struct { size_t off; int kind; uint64_t v; } cases[] = {
		{ 96, 2, 0 },        /* nblocks 0 */
		{ 96, 2, 65 },       /* nblocks 65 */
		{ 96, 2, 2 },        /* nblocks that does not match the length */
		{ 98, 2, 1 },        /* reserved */
		{ 32, 8, 3000000000ull }, /* first_ts > last_ts */
		{ 28, 4, 0 },        /* npkts 0 */
		{ 104 + 20 + 0, 4, 4 + 60 + 999 }, /* block 1 not right after block 0 */
		{ 104 + 4, 4, 31 },  /* block 0 shorter than its header */
		{ 104 + 16, 4, 1000 - 32 + 1 }, /* block 0's section A past its end */
		{ 104 + 40 + 8, 4, 0 }, /* block 2 without records */
		{ 24, 4, 128 + 4 + 60 + 3003 + 1 }, /* the last block does not end the chunk */
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		memcpy(t, b, n);
		if (cases[k].kind == 2)
			tv_put_le16(t + cases[k].off, (uint16_t)cases[k].v);
		else if (cases[k].kind == 4)
			tv_put_le32(t + cases[k].off, (uint32_t)cases[k].v);
		else
			tv_put_le64(t + cases[k].off, cases[k].v);
		chunk_fix_crc(t, n);
		cr_assert_eq(idx2_chunk_decode(t, n, 77, &d), TV_E_CORRUPT, "case %zu", k);
	}
	/* section A stored longer than zstd's worst case for its a_raw (400:
	 * at most 400 + 1 + 64), or a_raw below what its 10 records need */
	memcpy(t, b, n);
	tv_put_le32(t + 104 + 12, 400);
	tv_put_le32(t + 104 + 16, 465);
	chunk_fix_crc(t, n);
	cr_assert_eq(idx2_chunk_decode(t, n, 77, &d), 0, "the worst case itself");
	tv_put_le32(t + 104 + 16, 466);
	chunk_fix_crc(t, n);
	cr_assert_eq(idx2_chunk_decode(t, n, 77, &d), TV_E_CORRUPT);
	tv_put_le32(t + 104 + 12, 100 + 28 * 10 - 1);
	tv_put_le32(t + 104 + 16, 300);
	chunk_fix_crc(t, n);
	cr_assert_eq(idx2_chunk_decode(t, n, 77, &d), TV_E_CORRUPT);
	/* and the same path accepts the unchanged record with a recomputed crc */
	memcpy(t, b, n);
	chunk_fix_crc(t, n);
	cr_assert_eq(idx2_chunk_decode(t, n, 77, &d), 0);
}

/* ------------------------------------------------------ slice record */

Test(index2_codec, slice_record_round_trip_and_rejects)
{
	idx2_slice s, r;
	memset(&s, 0, sizeof s);
	s.first_chunk = 100;
	s.nchunks = 64;
	s.segment = 2;
	s.first_ts = 5;
	s.last_ts = 9;
	s.raw_bytes = 777;
	s.state = IDX2_SLICE_CLOSED;
	uint8_t b[IDX2_SLICE_LEN], t[IDX2_SLICE_LEN];
	idx2_slice_encode(&s, b);
	cr_assert_eq(tv_get_le64(b), 100);
	cr_assert_eq(tv_get_le32(b + 8), 64);
	cr_assert_eq(tv_get_le32(b + 40), 2);
	cr_assert_eq(tv_get_le32(b + 44), spec_crc(b, 44, 0));
	cr_assert_eq(idx2_slice_decode(b, sizeof b, &r), 0);
	cr_assert_eq(memcmp(&s, &r, sizeof s), 0);
	for (size_t i = 0; i < sizeof b; i++) {
		memcpy(t, b, sizeof b);
		t[i] ^= 1;
		cr_assert_eq(idx2_slice_decode(t, sizeof t, &r), TV_E_CORRUPT);
	}
	cr_assert_eq(idx2_slice_decode(b, 47, &r), TV_E_CORRUPT);
	struct { size_t off; int w; uint64_t v; } cases[] = {
		{ 8, 4, 0 }, { 8, 4, 65 }, { 40, 4, 0 }, { 40, 4, 3 },
		{ 16, 8, 10 },                    /* first_ts > last_ts */
		{ 0, 8, UINT64_MAX - 63 },        /* ids wrap */
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		memcpy(t, b, sizeof b);
		if (cases[k].w == 4)
			tv_put_le32(t + cases[k].off, (uint32_t)cases[k].v);
		else
			tv_put_le64(t + cases[k].off, cases[k].v);
		tv_put_le32(t + 44, spec_crc(t, 44, 0));
		cr_assert_eq(idx2_slice_decode(t, sizeof t, &r), TV_E_CORRUPT, "case %zu", k);
	}
}

Test(index2_codec, stime_segs_totals)
{
	uint8_t k[IDX2_STIME_KEY_LEN], v[8];
	uint64_t f, l;
	uint32_t s;
	idx2_stime_key(0x0102030405060708ull, 0x0a0b0c0d, k);
	cr_assert_eq(k[0], 1);
	cr_assert_eq(k[11], 0x0d);
	cr_assert_eq(idx2_stime_key_decode(k, sizeof k, &f, &s), 0);
	cr_assert_eq(f, 0x0102030405060708ull);
	cr_assert_eq(s, 0x0a0b0c0d);
	cr_assert_eq(idx2_stime_key_decode(k, 11, &f, &s), TV_E_CORRUPT);
	tv_put_le64(v, 5);
	cr_assert_eq(idx2_stime_val_decode(v, 8, 5, &l), 0);
	cr_assert_eq(idx2_stime_val_decode(v, 8, 6, &l), TV_E_CORRUPT);
	cr_assert_eq(idx2_stime_val_decode(v, 7, 5, &l), TV_E_CORRUPT);

	idx2_seg sg = { 1, 3, 10, 200 }, sr;
	uint8_t sb[IDX2_SEGS_VAL_LEN];
	idx2_seg_encode(&sg, sb);
	cr_assert_eq(idx2_seg_decode(sb, sizeof sb, &sr), 0);
	cr_assert_eq(memcmp(&sg, &sr, sizeof sg), 0);
	tv_put_le32(sb, 4);
	cr_assert_eq(idx2_seg_decode(sb, sizeof sb, &sr), TV_E_CORRUPT);
	cr_assert_eq(idx2_seg_decode(sb, 23, &sr), TV_E_CORRUPT);

	idx2_tot t = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, u;
	uint8_t tb[IDX2_TOT_LEN + 8];
	idx2_tot_encode(&t, tb);
	cr_assert_eq(tv_get_le64(tb + 72), 10);
	cr_assert_eq(idx2_tot_decode(tb, IDX2_TOT_LEN + 8, &u), 0);
	cr_assert_eq(memcmp(&t, &u, sizeof t), 0);
	cr_assert_eq(idx2_tot_decode(tb, IDX2_TOT_LEN - 1, &u), TV_E_CORRUPT);
}

/* ----------------------------------------------------- flow postings */

static void v4key(uint8_t key[40], uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp,
                  uint8_t proto, bool ports)
{
	tv_l3info in;
	uint8_t a[4];
	memset(&in, 0, sizeof in);
	in.l3 = 4;
	in.has_ports = ports;
	tv_put_be32(a, src);
	tv_addr_from_v4(&in.key.src, a);
	tv_put_be32(a, dst);
	tv_addr_from_v4(&in.key.dst, a);
	in.key.sport = sp;
	in.key.dport = dp;
	in.key.proto = proto;
	idx2_flowkey_make(&in, key);
}

static bool has_pv(const idx2_pv *pv, size_t n, const uint8_t *tv, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (pv[i].len + 1u == len && memcmp(pv[i].tv, tv, len) == 0)
			return true;
	return false;
}

Test(index2_codec, flow_postings_of_a_tcp_flow)
{
	uint8_t key[40];
	idx2_pv pv[IDX2_FLOW_PV_MAX];
	size_t n;
	tv_tunmeta tun;
	memset(&tun, 0, sizeof tun);
	tun.vni = 4242;
	v4key(key, 0x0a000001, 0xc0a80002, 51000, 443, 6, true);
	/* the key as FORMAT.md lays it out */
	cr_assert_eq(key[10], 0xff);
	cr_assert_eq(key[15], 1);
	cr_assert_eq(tv_get_be32(key + 28), 0xc0a80002);
	cr_assert_eq(tv_get_be32(key + 32), (51000u << 16) | 443u);
	cr_assert_eq(key[36], 6);
	cr_assert_eq(key[37], 4);
	cr_assert_eq(key[38], 1);
	cr_assert_eq(key[39], 0);

	cr_assert_eq(idx2_flow_postings(key, &tun, pv, &n), 0);
	cr_assert_eq(n, 6);
	uint8_t a[17] = { 'A' }, p[4] = { 'P', 0x01, 0xbb, 6 }, r[2] = { 'R', 6 };
	uint8_t v[5] = { 'V', 0, 0, 0x10, 0x92 };
	memcpy(a + 1, key, 16);
	cr_assert(has_pv(pv, n, a, 17));
	memcpy(a + 1, key + 16, 16);
	cr_assert(has_pv(pv, n, a, 17));
	cr_assert(has_pv(pv, n, p, 4));
	p[1] = 51000 >> 8;
	p[2] = 51000 & 0xff;
	cr_assert(has_pv(pv, n, p, 4));
	cr_assert(has_pv(pv, n, r, 2));
	cr_assert(has_pv(pv, n, v, 5));
}

Test(index2_codec, flow_postings_distinct_values_no_ports_no_ip)
{
	uint8_t key[40];
	idx2_pv pv[IDX2_FLOW_PV_MAX];
	size_t n;
	/* a flow to itself, same port both ways: each value once */
	v4key(key, 0x0a000001, 0x0a000001, 53, 53, 17, true);
	cr_assert_eq(idx2_flow_postings(key, NULL, pv, &n), 0);
	cr_assert_eq(n, 4);
	uint8_t v[5] = { 'V', 0xff, 0xff, 0xff, 0xff };
	cr_assert(has_pv(pv, n, v, 5), "untunnelled VNI");
	/* ICMP: no port postings */
	v4key(key, 0x0a000001, 0x0a000002, 0, 0, 1, false);
	cr_assert_eq(idx2_flow_postings(key, NULL, pv, &n), 0);
	cr_assert_eq(n, 4);
	for (size_t i = 0; i < n; i++)
		cr_assert_neq(pv[i].tv[0], 'P');
	/* no IP layer: the VNI only */
	idx2_flowkey_make(NULL, key);
	cr_assert_eq(idx2_flow_postings(key, NULL, pv, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(pv[0].tv[0], 'V');
}

Test(index2_codec, flow_key_rejects)
{
	uint8_t key[40], t[40];
	idx2_pv pv[IDX2_FLOW_PV_MAX];
	size_t n;
	v4key(key, 1, 2, 3, 4, 6, true);
	memcpy(t, key, 40);
	t[39] = 1;
	cr_assert_eq(idx2_flow_postings(t, NULL, pv, &n), TV_E_CORRUPT);
	memcpy(t, key, 40);
	t[38] = 2;
	cr_assert_eq(idx2_flow_postings(t, NULL, pv, &n), TV_E_CORRUPT);
	memcpy(t, key, 40);
	t[37] = 5;
	cr_assert_eq(idx2_flow_postings(t, NULL, pv, &n), TV_E_CORRUPT);
	memcpy(t, key, 40);
	t[37] = 0; /* no IP layer, but addresses */
	cr_assert_eq(idx2_flow_postings(t, NULL, pv, &n), TV_E_CORRUPT);
}

/* ---------------------------------------------------- opost and post */

static void pv_make(idx2_pv *pv, uint8_t type, const uint8_t *val, size_t len)
{
	memset(pv, 0, sizeof *pv);
	pv->tv[0] = type;
	pv->len = (uint8_t)len;
	memcpy(pv->tv + 1, val, len);
}

Test(index2_codec, opost_key_value)
{
	idx2_pv pv, q;
	uint8_t vni[4] = { 0, 0, 1, 2 }, k[IDX2_OKEY_MAX], v[IDX2_OVAL_MAX], t[IDX2_OVAL_MAX + 1];
	uint64_t id, bits;
	pv_make(&pv, 'V', vni, 4);
	size_t kl = idx2_okey_encode(0x1122334455667788ull, &pv, k);
	cr_assert_eq(kl, 13);
	cr_assert_eq(k[0], 0x11);
	cr_assert_eq(k[8], 'V');
	cr_assert_eq(idx2_okey_decode(k, kl, &id, &q), 0);
	cr_assert_eq(id, 0x1122334455667788ull);
	cr_assert_eq(memcmp(&q, &pv, sizeof pv), 0);
	cr_assert_eq(idx2_okey_decode(k, kl - 1, &id, &q), TV_E_CORRUPT);
	k[8] = 'F';
	cr_assert_eq(idx2_okey_decode(k, kl, &id, &q), TV_E_CORRUPT, "no 5-tuple type");
	k[8] = 'V';

	/* crc32c, then the bitmap as a shortest-form LEB128 varint */
	size_t vl = idx2_oval_encode(k, kl, 0x5, v);
	uint32_t c = spec_crc(k, kl, 0);
	cr_assert_eq(vl, 5);
	cr_assert_eq(v[4], 0x05);
	cr_assert_eq(tv_get_le32(v), spec_crc(v + 4, 1, c));
	cr_assert_eq(idx2_oval_decode(k, kl, v, vl, 3, &bits), 0);
	cr_assert_eq(bits, 5);
	cr_assert_eq(idx2_oval_decode(k, kl, v, vl, 2, &bits), TV_E_CORRUPT, "bit 2 of 2 blocks");
	cr_assert_eq(idx2_oval_decode(k, kl, v, 4, 3, &bits), TV_E_CORRUPT, "no varint");
	k[3] ^= 4; /* a flipped key bit is seen through the value's crc */
	cr_assert_eq(idx2_oval_decode(k, kl, v, vl, 3, &bits), TV_E_CORRUPT);
	k[3] ^= 4;
	memcpy(t, v, vl);
	t[4] ^= 0x02;
	cr_assert_eq(idx2_oval_decode(k, kl, t, vl, 0, &bits), TV_E_CORRUPT);
	vl = idx2_oval_encode(k, kl, 0, t);
	cr_assert_eq(idx2_oval_decode(k, kl, t, vl, 0, &bits), TV_E_CORRUPT, "zero bitmap");
	/* lengths 5..14: bit 63 set takes 10 bytes */
	vl = idx2_oval_encode(k, kl, 0x8000000000000001ull, v);
	cr_assert_eq(vl, 14);
	cr_assert_eq(idx2_oval_decode(k, kl, v, vl, 64, &bits), 0);
	cr_assert_eq(bits, 0x8000000000000001ull);
	cr_assert_eq(idx2_oval_decode(k, kl, v, vl, 63, &bits), TV_E_CORRUPT, "bit 63 of 63 blocks");
	vl = idx2_oval_encode(k, kl, 0x80, v); /* 80 01 */
	cr_assert_eq(vl, 6);
	cr_assert_eq(idx2_oval_decode(k, kl, v, vl, 0, &bits), 0);
	cr_assert_eq(bits, 0x80);
	/* a varint that is not the whole value, or not its shortest form, each
	 * with a right crc */
	memcpy(t, v, vl);
	t[vl] = 0;
	tv_put_le32(t, spec_crc(t + 4, vl - 4 + 1, c));
	cr_assert_eq(idx2_oval_decode(k, kl, t, vl + 1, 0, &bits), TV_E_CORRUPT, "a byte after it");
	t[4] = 0x85;
	t[5] = 0x00; /* 5 in two bytes */
	tv_put_le32(t, spec_crc(t + 4, 2, c));
	cr_assert_eq(idx2_oval_decode(k, kl, t, 6, 0, &bits), TV_E_CORRUPT, "not the shortest form");
	t[4] = 0x85; /* cut short */
	tv_put_le32(t, spec_crc(t + 4, 1, c));
	cr_assert_eq(idx2_oval_decode(k, kl, t, 5, 0, &bits), TV_E_CORRUPT, "cut short");
}

Test(index2_codec, varints)
{
	uint8_t b[16];
	uint64_t vals[] = { 0, 1, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX };
	for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		size_t n = idx2_varint_put(b, vals[i]);
		tv_cur c = tv_cur_make(b, n);
		uint64_t v;
		cr_assert(idx2_varint_get(&c, &v));
		cr_assert_eq(v, vals[i]);
		cr_assert_eq(c.left, 0);
		c = tv_cur_make(b, n - 1);
		cr_assert(!idx2_varint_get(&c, &v), "short");
	}
	uint8_t nonmin[2] = { 0x81, 0x00 }, big[10], eleven[11];
	tv_cur c = tv_cur_make(nonmin, 2);
	uint64_t v;
	cr_assert(!idx2_varint_get(&c, &v));
	memset(big, 0xff, 9);
	big[9] = 0x02; /* bit 64 */
	c = tv_cur_make(big, 10);
	cr_assert(!idx2_varint_get(&c, &v));
	memset(eleven, 0x80, 10);
	eleven[10] = 1;
	c = tv_cur_make(eleven, 11);
	cr_assert(!idx2_varint_get(&c, &v));
}

/* Reads a whole v2_post value into arrays; returns the decoder's code. */
static int read_post(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                     const idx2_slice *s, const uint8_t *nb, uint64_t *ids, uint64_t *bits,
                     size_t *n)
{
	idx2_piter it;
	int rc = idx2_piter_init(&it, k, kl, v, vl, s, nb);
	*n = 0;
	if (rc)
		return rc;
	while ((rc = idx2_piter_next(&it, &ids[*n], &bits[*n])) == 1)
		(*n)++;
	return rc;
}

/* A post value built by hand: the crc fixed after the entries. */
static size_t craft_post(const uint8_t *k, size_t kl, const uint64_t *raw, size_t nraw,
                         uint8_t *out)
{
	size_t len = 4;
	for (size_t i = 0; i < nraw; i++)
		len += idx2_varint_put(out + len, raw[i]);
	tv_put_le32(out, spec_crc(out + 4, len - 4, spec_crc(k, kl, 0)));
	return len;
}

Test(index2_codec, post_value_round_trip_and_rejects)
{
	idx2_pv pv;
	uint8_t port[3] = { 0, 53, 17 }, k[IDX2_PKEY_MAX], v[IDX2_PVAL_MAX], t[IDX2_PVAL_MAX];
	idx2_slice s = { 1000, 10, 1, 0, 1, 0, IDX2_SLICE_CLOSED };
	uint8_t nb[10] = { 1, 2, 3, 64, 5, 6, 7, 8, 9, 10 };
	uint64_t ids[] = { 1000, 1003, 1009 }, bits[] = { 1, UINT64_MAX, 0x3ff };
	uint64_t gi[70], gb[70];
	size_t n;

	pv_make(&pv, 'P', port, 3);
	size_t kl = idx2_pkey_encode(7, &pv, k);
	cr_assert_eq(kl, 8);
	cr_assert_eq(tv_get_be32(k), 7);
	size_t vl = idx2_pval_encode(k, kl, 1000, ids, bits, 3, v);
	cr_assert_eq(v[4], 0, "first delta from the slice's first chunk");
	cr_assert_eq(v[5], 1);
	cr_assert_eq(v[6], 3);
	cr_assert_eq(tv_get_le32(v), spec_crc(v + 4, vl - 4, spec_crc(k, kl, 0)));
	cr_assert_eq(read_post(k, kl, v, vl, &s, nb, gi, gb, &n), 0);
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_eq(gi[i], ids[i]);
		cr_assert_eq(gb[i], bits[i]);
	}
	/* any flipped bit of key or value */
	for (size_t i = 0; i < vl; i++) {
		memcpy(t, v, vl);
		t[i] ^= 0x20;
		cr_assert_lt(read_post(k, kl, t, vl, &s, nb, gi, gb, &n), 0);
	}
	k[5] ^= 1;
	cr_assert_eq(read_post(k, kl, v, vl, &s, nb, gi, gb, &n), TV_E_CORRUPT);
	k[5] ^= 1;
	/* too short, too long */
	cr_assert_eq(read_post(k, kl, v, 5, &s, nb, gi, gb, &n), TV_E_CORRUPT);
	cr_assert_eq(read_post(k, kl, v, IDX2_PVAL_MAX + 1, &s, nb, gi, gb, &n), TV_E_CORRUPT);

	struct { uint64_t raw[6]; size_t n; const char *what; } bad[] = {
		{ { 10, 1 }, 2, "first delta leaves the slice" },
		{ { 9, 1, 1, 1 }, 4, "second delta leaves the slice" },
		{ { 0, 1, 0, 1 }, 4, "the same chunk twice" },
		{ { 0, 0 }, 2, "zero bitmap" },
		{ { 0, 2 }, 2, "bit 1 of a one-block chunk" },
		{ { 2, 8 }, 2, "bit 3 of a three-block chunk" },
		{ { 0 }, 1, "a delta without a bitmap" },
		{ { (uint64_t)-1, 1 }, 2, "a delta that wraps" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t bl = craft_post(k, kl, bad[i].raw, bad[i].n, t);
		cr_assert_eq(read_post(k, kl, t, bl, &s, nb, gi, gb, &n), TV_E_CORRUPT, "%s",
		             bad[i].what);
	}
	/* a non-shortest varint under a correct crc */
	t[4] = 0x80;
	t[5] = 0x00;
	t[6] = 1;
	tv_put_le32(t, spec_crc(t + 4, 3, spec_crc(k, kl, 0)));
	cr_assert_eq(read_post(k, kl, t, 7, &s, nb, gi, gb, &n), TV_E_CORRUPT);
	/* without the per-chunk block counts the bitmap bound is not checked */
	uint64_t ok[2] = { 0, 2 };
	size_t bl = craft_post(k, kl, ok, 2, t);
	cr_assert_eq(read_post(k, kl, t, bl, &s, NULL, gi, gb, &n), 0);
	cr_assert_eq(n, 1);
}

Test(index2_codec, post_key_rejects)
{
	uint8_t k[8] = { 0, 0, 0, 1, 'P', 0, 53, 17 };
	uint32_t s;
	idx2_pv pv;
	cr_assert_eq(idx2_pkey_decode(k, 8, &s, &pv), 0);
	cr_assert_eq(s, 1);
	cr_assert_eq(idx2_pkey_decode(k, 7, &s, &pv), TV_E_CORRUPT);
	k[3] = 0;
	cr_assert_eq(idx2_pkey_decode(k, 8, &s, &pv), TV_E_CORRUPT, "slice 0");
	k[3] = 1;
	k[4] = 'Q';
	cr_assert_eq(idx2_pkey_decode(k, 8, &s, &pv), TV_E_CORRUPT);
}

#include "index2_synth.h"

/* ------------------------------------------------- expected postings */

typedef struct xpost {
	uint8_t tv[17];
	uint64_t chunk, bits;
} xpost;

static int xpost_cmp(const void *a, const void *b)
{
	const xpost *x = a, *y = b;
	int r = memcmp(x->tv, y->tv, 17);
	return r ? r : (x->chunk < y->chunk ? -1 : x->chunk > y->chunk);
}

/* Adds (tv, chunk, bits), OR-ed into an equal entry at or after from. */
static void xadd(xpost **v, size_t *n, size_t from, const uint8_t *tv, size_t len,
                 uint64_t chunk, uint64_t bits)
{
	for (size_t i = from; i < *n; i++)
		if ((*v)[i].chunk == chunk && memcmp((*v)[i].tv, tv, len) == 0 &&
		    (len == 17 || (*v)[i].tv[len] == 0)) {
			(*v)[i].bits |= bits;
			return;
		}
	if (*n == 0 || (*n >= 16 && (*n & (*n - 1)) == 0))
		*v = realloc(*v, (*n < 16 ? 16 : 2 * *n) * sizeof **v); /* doubling */
	memset(&(*v)[*n], 0, sizeof **v);
	memcpy((*v)[*n].tv, tv, len);
	(*v)[*n].chunk = chunk;
	(*v)[*n].bits = bits;
	(*n)++;
}

/* What the postings must be, from the synthetic flows (not through
 * idx2_flow_postings): per chunk, per value, the OR of its flows' blocks. */
static void expected_postings(xpost **v, size_t *n)
{
	*v = NULL;
	*n = 0;
	for (size_t c = 0; c < nchunks; c++) {
		uint64_t id = chunks[c].rec.chunk_id;
		size_t f0 = *n; /* this chunk's entries */
		for (size_t i = 0; i < chunks[c].nflows; i++) {
			const sflow *s = &flows[chunks[c].fid[i]];
			uint64_t b = chunks[c].flows[i].blocks;
			uint8_t tv[17];
			memset(tv, 0, sizeof tv);
			tv[0] = 'A';
			memset(tv + 11, 0xff, 2);
			memcpy(tv + 13, s->src, 4);
			xadd(v, n, f0, tv, 17, id, b);
			memcpy(tv + 13, s->dst, 4);
			xadd(v, n, f0, tv, 17, id, b);
			if (s->ports) {
				uint8_t p[4] = { 'P', (uint8_t)(s->sport >> 8), (uint8_t)s->sport, s->proto };
				xadd(v, n, f0, p, 4, id, b);
				p[1] = (uint8_t)(s->dport >> 8);
				p[2] = (uint8_t)s->dport;
				xadd(v, n, f0, p, 4, id, b);
			}
			uint8_t r[2] = { 'R', s->proto }, vn[5] = { 'V' };
			xadd(v, n, f0, r, 2, id, b);
			tv_put_be32(vn + 1, s->vni);
			xadd(v, n, f0, vn, 5, id, b);
		}
	}
	qsort(*v, *n, sizeof **v, xpost_cmp);
}

/* Every posting the index holds, read from v2_post and v2_opost. */
static void stored_postings(idx *x, xpost **v, size_t *n, size_t *npost, size_t *nopost)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	*v = NULL;
	*n = *npost = *nopost = 0;
	cr_assert_eq(idx_txn_begin(x, false, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, x->db2_post, &cur), 0);
	while (mdb_cursor_get(cur, &k, &d, MDB_NEXT) == 0) {
		uint32_t sid;
		idx2_pv pv;
		idx2_slice s;
		uint8_t sk[4];
		MDB_val K = { 4, sk }, D;
		idx2_piter it;
		uint64_t id, bits;
		int rc;
		cr_assert_eq(idx2_pkey_decode(k.mv_data, k.mv_size, &sid, &pv), 0);
		tv_put_be32(sk, sid);
		cr_assert_eq(mdb_get(txn, x->db2_slices, &K, &D), 0);
		cr_assert_eq(idx2_slice_decode(D.mv_data, D.mv_size, &s), 0);
		cr_assert_eq(s.state, IDX2_SLICE_CLOSED);
		cr_assert_eq(idx2_piter_init(&it, k.mv_data, k.mv_size, d.mv_data, d.mv_size, &s, NULL), 0);
		while ((rc = idx2_piter_next(&it, &id, &bits)) == 1)
			xadd(v, n, *n, pv.tv, 1u + pv.len, id, bits);
		cr_assert_eq(rc, 0);
		(*npost)++;
	}
	mdb_cursor_close(cur);
	cr_assert_eq(mdb_cursor_open(txn, x->db2_opost, &cur), 0);
	while (mdb_cursor_get(cur, &k, &d, MDB_NEXT) == 0) {
		uint64_t id, bits;
		idx2_pv pv;
		cr_assert_eq(idx2_okey_decode(k.mv_data, k.mv_size, &id, &pv), 0);
		cr_assert_eq(idx2_oval_decode(k.mv_data, k.mv_size, d.mv_data, d.mv_size, 0, &bits), 0);
		xadd(v, n, *n, pv.tv, 1u + pv.len, id, bits);
		(*nopost)++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	qsort(*v, *n, sizeof **v, xpost_cmp);
}

/* The slices the rules give for chunks 1..nchunks: segment 1 holds 70
 * chunks (a full slice of 64, then 6), segment 2 the rest. */
static void check_tables(idx *x)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	uint32_t expect_sid = 1;
	size_t c = 0;
	uint64_t maxdur = 0;

	cr_assert_eq(idx_txn_begin(x, false, &txn), 0);
	/* chunk records */
	for (size_t i = 0; i < nchunks; i++) {
		uint8_t kb[8];
		MDB_val K = { 8, kb }, D;
		idx2_chunk r, want = chunks[i].rec;
		tv_put_be64(kb, want.chunk_id);
		cr_assert_eq(mdb_get(txn, x->db2_chunks, &K, &D), 0);
		cr_assert_eq(idx2_chunk_decode(D.mv_data, D.mv_size, want.chunk_id, &r), 0);
		want.slice = r.slice;
		cr_assert_eq(memcmp(&r, &want, sizeof r), 0, "chunk %zu", i);
	}
	/* slices, in id order, covering the chunks in runs */
	cr_assert_eq(mdb_cursor_open(txn, x->db2_slices, &cur), 0);
	while (mdb_cursor_get(cur, &k, &d, MDB_NEXT) == 0) {
		idx2_slice s;
		uint32_t sid = tv_get_be32(k.mv_data);
		uint64_t first = UINT64_MAX, last = 0, raw = 0;
		cr_assert_eq(sid, expect_sid++);
		cr_assert_eq(idx2_slice_decode(d.mv_data, d.mv_size, &s), 0);
		cr_assert_eq(s.first_chunk, chunks[c].rec.chunk_id);
		size_t want_n = chunks[c].rec.segment == 1 ? (c == 0 ? 64 : SEG1_CHUNKS - 64)
		                                           : (nchunks - c > 64 ? 64 : nchunks - c);
		cr_assert_eq(s.nchunks, want_n, "slice %u", sid);
		for (size_t j = c; j < c + want_n; j++) {
			cr_assert_eq(chunks[j].rec.segment, s.segment);
			first = chunks[j].rec.first_ts < first ? chunks[j].rec.first_ts : first;
			last = chunks[j].rec.last_ts > last ? chunks[j].rec.last_ts : last;
			raw += chunks[j].rec.raw_len;
			idx2_chunk r;
			cr_assert_eq(idx2_chunk_get(x, chunks[j].rec.chunk_id, &r), 0);
			cr_assert_eq(r.slice, sid);
		}
		c += want_n;
		cr_assert_eq(s.first_ts, first);
		cr_assert_eq(s.last_ts, last);
		cr_assert_eq(s.raw_bytes, raw);
		cr_assert_eq(s.state, c == nchunks ? IDX2_SLICE_OPEN : IDX2_SLICE_CLOSED);
		maxdur = last - first > maxdur ? last - first : maxdur;
		/* its time key */
		uint8_t tk[12], tv8[8];
		uint64_t lt;
		MDB_val K = { 12, tk }, D;
		idx2_stime_key(first, sid, tk);
		cr_assert_eq(mdb_get(txn, x->db2_stime, &K, &D), 0);
		cr_assert_eq(idx2_stime_val_decode(D.mv_data, D.mv_size, first, &lt), 0);
		cr_assert_eq(lt, last);
		(void)tv8;
	}
	mdb_cursor_close(cur);
	cr_assert_eq(c, nchunks);
	MDB_stat st;
	cr_assert_eq(mdb_stat(txn, x->db2_stime, &st), 0);
	cr_assert_eq(st.ms_entries, expect_sid - 1, "one time key per slice");
	/* segments */
	for (uint32_t seg = 1; seg <= 2; seg++) {
		uint8_t kb[4];
		MDB_val K = { 4, kb }, D;
		idx2_seg s;
		tv_put_be32(kb, seg);
		cr_assert_eq(mdb_get(txn, x->db2_segs, &K, &D), 0);
		cr_assert_eq(idx2_seg_decode(D.mv_data, D.mv_size, &s), 0);
		cr_assert_eq(s.first_chunk, seg == 1 ? 1 : SEG1_CHUNKS + 1);
		cr_assert_eq(s.last_chunk, seg == 1 ? SEG1_CHUNKS : nchunks);
		cr_assert_eq(s.first_slice, seg == 1 ? 1 : 3);
		cr_assert_eq(s.last_slice, seg == 1 ? 2 : expect_sid - 1);
	}
	/* meta */
	uint64_t v;
	cr_assert_eq(idx_meta_u64_get(x, "v2_max_slice_dur", &v), 0);
	cr_assert_eq(v, maxdur);
	MDB_val K = { 13, (void *)"v2_open_slice" }, D;
	cr_assert_eq(mdb_get(txn, x->db_meta, &K, &D), 0);
	cr_assert_eq(D.mv_size, 4);
	cr_assert_eq(tv_get_le32(D.mv_data), expect_sid - 1);
	mdb_txn_abort(txn);
}

Test(index2_commit, batches_slices_postings_and_every_table, .init = setup, .fini = teardown,
     .timeout = 120)
{
	idx *x = open_store();
	xpost *want, *got;
	size_t nwant, ngot, npost, nopost;
	idx2_tot t;

	cr_assert_gt(nchunks, 130, "the input makes %zu chunks", nchunks);
	cr_assert_lt(nchunks, 64 + 64 + SEG1_CHUNKS, "three slices in segment 2 at most");
	commit_range(x, 0, nchunks);
	check_tables(x);

	expected_postings(&want, &nwant);
	stored_postings(x, &got, &ngot, &npost, &nopost);
	cr_assert_eq(ngot, nwant);
	for (size_t i = 0; i < nwant; i++)
		cr_assert_eq(memcmp(&got[i], &want[i], sizeof want[i]), 0, "posting %zu", i);
	/* the open slice's postings are in v2_opost, the closed ones' in v2_post */
	cr_assert_gt(npost, 0);
	cr_assert_gt(nopost, 0);

	cr_assert_eq(idx2_tot_get(x, &t), 0);
	uint64_t pk = 0, raw = 0, blocks = 0, fl = 0;
	for (size_t i = 0; i < nchunks; i++) {
		pk += chunks[i].rec.npkts;
		raw += chunks[i].rec.raw_len;
		blocks += chunks[i].rec.nblocks;
		fl += chunks[i].rec.nflows;
	}
	cr_assert_eq(t.chunks, nchunks);
	cr_assert_eq(t.packets, NP);
	cr_assert_eq(pk, NP);
	cr_assert_eq(t.raw_bytes, raw);
	cr_assert_eq(t.blocks, blocks);
	cr_assert_gt(blocks, nchunks, "chunks of several blocks");
	cr_assert_eq(t.flows, fl);
	cr_assert_eq(t.postings, npost + nopost);
	cr_assert_eq(t.segments, 2);
	free(want);
	free(got);
	idx_close(x);

	/* the same answers after reopening */
	x = open_store();
	check_tables(x);
	idx_close(x);
}

/* Every key and value of the v2 tables and meta, concatenated. */
static size_t dump(idx *x, uint8_t **out)
{
	MDB_txn *txn;
	MDB_dbi dbs[] = { x->db2_chunks, x->db2_slices, x->db2_stime, x->db2_post, x->db2_opost,
	                  x->db2_segs, x->db_meta, x->db_sources, x->db_counters };
	size_t n = 0, cap = 0;
	*out = NULL;
	cr_assert_eq(idx_txn_begin(x, false, &txn), 0);
	for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
		MDB_cursor *cur;
		MDB_val k, d;
		cr_assert_eq(mdb_cursor_open(txn, dbs[i], &cur), 0);
		while (mdb_cursor_get(cur, &k, &d, MDB_NEXT) == 0) {
			if (n + k.mv_size + d.mv_size + 1 > cap) {
				cap = 2 * cap + k.mv_size + d.mv_size + 4096;
				*out = realloc(*out, cap);
			}
			memcpy(*out + n, k.mv_data, k.mv_size);
			memcpy(*out + n + k.mv_size, d.mv_data, d.mv_size);
			n += k.mv_size + d.mv_size;
			(*out)[n++] = (uint8_t)i;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	return n;
}

Test(index2_commit, a_failed_batch_writes_nothing, .init = setup, .fini = teardown,
     .timeout = 120)
{
	idx *x = open_store();
	idx2_chunk_in in[3];
	uint8_t *before, *after;
	size_t nb, na;
	tv_counters delta;
	idx_source_mark mark;

	commit_range(x, 0, 66); /* a closed slice, and an open one */
	nb = dump(x, &before);
	memset(&delta, 0, sizeof delta);
	delta.v[0] = 5;
	memset(&mark, 0, sizeof mark);
	mark.identity[0] = 1;
	mark.packets_done = 9;

	/* a new chunk, then one indexed already: TV_E_EXISTS, nothing stays */
	for (int i = 0; i < 2; i++) {
		size_t c = i == 0 ? 66 : 3;
		in[i].rec = chunks[c].rec;
		in[i].flows = chunks[c].flows;
		in[i].nflows = chunks[c].nflows;
	}
	cr_assert_eq(idx_commit2(x, in, 2, &mark, 1, &delta), TV_E_EXISTS);
	na = dump(x, &after);
	cr_assert_eq(na, nb);
	cr_assert_eq(memcmp(before, after, nb), 0);
	free(after);

	/* the same id twice in one batch */
	in[1] = in[0];
	cr_assert_eq(idx_commit2(x, in, 2, NULL, 0, NULL), TV_E_EXISTS);
	/* ids that go down, past a gap: out of order */
	in[0].rec = chunks[69].rec;
	in[0].flows = chunks[69].flows;
	in[0].nflows = chunks[69].nflows;
	in[1].rec = chunks[67].rec;
	in[1].flows = chunks[67].flows;
	in[1].nflows = chunks[67].nflows;
	cr_assert_eq(idx_commit2(x, in, 2, NULL, 0, NULL), TV_E_RANGE);
	/* a malformed flow key in the second chunk; a slice would close first */
	store_pflow bad[1];
	uint8_t badkey[40];
	memcpy(badkey, chunks[67].flows[0].key, 40);
	badkey[39] = 1;
	bad[0] = chunks[67].flows[0];
	bad[0].key = badkey;
	in[0].rec = chunks[66].rec;
	in[0].flows = chunks[66].flows;
	in[0].nflows = chunks[66].nflows;
	in[1].flows = bad;
	in[1].nflows = 1;
	cr_assert_eq(idx_commit2(x, in, 2, NULL, 0, NULL), TV_E_CORRUPT);
	/* a block bit past the chunk's blocks */
	bad[0] = chunks[66].flows[0];
	bad[0].blocks = (uint64_t)1 << chunks[66].rec.nblocks;
	in[0].flows = bad;
	in[0].nflows = 1;
	cr_assert_eq(idx_commit2(x, in, 1, NULL, 0, NULL), TV_E_RANGE);

	na = dump(x, &after);
	cr_assert_eq(na, nb);
	cr_assert_eq(memcmp(before, after, nb), 0);
	free(after);
	free(before);

	/* and the rest still commits, to the same tables as in one go */
	commit_range(x, 66, nchunks);
	check_tables(x);
	idx_close(x);
}

/* ============================================== plan: brute force */

static bool v4eq(const uint8_t *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
	return a[0] == b0 && a[1] == b1 && a[2] == b2 && a[3] == b3;
}

static bool q_host(const sflow *s) { return v4eq(s->dst, 192, 168, 0, 2) || v4eq(s->src, 192, 168, 0, 2); }
static bool q_port443(const sflow *s) { return s->ports && (s->sport == 443 || s->dport == 443); }
static bool q_vni(const sflow *s) { return s->vni == 101; }
static bool q_udp(const sflow *s) { return s->proto == 17; }
static bool q_or(const sflow *s) { return v4eq(s->src, 10, 0, 1, 2) || s->vni == 102; }
static bool q_all(const sflow *s) { (void)s; return true; }
static bool q_net(const sflow *s) { return s->src[0] == 10 && s->src[1] == 0 && s->src[2] == 2; }
static bool q_port53(const sflow *s) { return s->ports && (s->sport == 53 || s->dport == 53); }
static bool q_untun(const sflow *s) { return s->vni == TV_VNI_NONE; }

typedef struct pquery {
	const char *text;
	bool (*match)(const sflow *s);
	uint64_t lo, hi; /* the time window the expression implies */
	/* an and of two leaves: blocks that hold a flow of each (the plan
	 * intersects block bitmaps; the exact match is decided per flow
	 * when the blocks are read) */
	bool (*and2)(const sflow *s);
} pquery;

#define T0 1700000000000000000ull
static const pquery queries[] = {
	{ "host 192.168.0.2", q_host, 0, UINT64_MAX, NULL },
	{ "host 192.168.0.2 and port 443", q_host, 0, UINT64_MAX, q_port443 },
	{ "host 192.168.0.2 and after 1700000004.5 and before 1700000009.25", q_host,
	  T0 + 4500000000ull, T0 + 9250000000ull - 1, NULL },
	{ "after 1700000011 and before 1700000012", q_all, T0 + 11000000000ull,
	  T0 + 12000000000ull - 1, NULL },
	{ "vni 101", q_vni, 0, UINT64_MAX, NULL },
	{ "vni none", q_untun, 0, UINT64_MAX, NULL },
	{ "udp and not host 10.0.0.1", q_udp, 0, UINT64_MAX, NULL },
	{ "host 10.0.1.2 or vni 102", q_or, 0, UINT64_MAX, NULL },
	{ "", q_all, 0, UINT64_MAX, NULL },
	{ "net 10.0.2.0/24", q_net, 0, UINT64_MAX, NULL },
	{ "port 53", q_port53, 0, UINT64_MAX, NULL },
	{ "host 172.16.0.1", NULL, 0, UINT64_MAX, NULL }, /* no such host */
};

static size_t committed; /* chunks 0..committed-1 are in the index */

static size_t brute(const pquery *q, idx2_hit *out)
{
	size_t n = 0;
	for (size_t c = 0; c < committed; c++) {
		const idx2_chunk *r = &chunks[c].rec;
		uint64_t bits = 0, bits2 = 0;
		if (r->last_ts < q->lo || r->first_ts > q->hi || !q->match)
			continue;
		for (size_t i = 0; i < chunks[c].nflows; i++) {
			if (q->match(&flows[chunks[c].fid[i]]))
				bits |= chunks[c].flows[i].blocks;
			if (q->and2 && q->and2(&flows[chunks[c].fid[i]]))
				bits2 |= chunks[c].flows[i].blocks;
		}
		if (q->and2)
			bits &= bits2;
		if (bits) {
			out[n].chunk_id = r->chunk_id;
			out[n++].blocks = bits;
		}
	}
	return n;
}

static void check_plans(idx *x)
{
	idx2_hit *want = calloc(nchunks, sizeof *want);
	for (size_t qi = 0; qi < sizeof queries / sizeof queries[0]; qi++) {
		const pquery *q = &queries[qi];
		idx_expr *e;
		idx_expr_err err;
		idx2_hit *got;
		idx2_plan_stats st;
		size_t n, nw = brute(q, want);
		char where[128];
		cr_assert_eq(idx_expr_parse(q->text, 0, &e, &err), 0, "%s", q->text);
		cr_assert_eq(idx_plan2(x, e, &got, &n, &st, where, sizeof where), 0, "%s", q->text);
		cr_assert_eq(n, nw, "%s: %zu chunks planned, brute force %zu", q->text, n, nw);
		for (size_t i = 0; i < n; i++) {
			cr_assert_eq(got[i].chunk_id, want[i].chunk_id, "%s", q->text);
			cr_assert_eq(got[i].blocks, want[i].blocks, "%s chunk %" PRIu64, q->text,
			             got[i].chunk_id);
			/* the cursor opens the chunk by it */
			cr_assert_eq(got[i].first_ts, chunks[got[i].chunk_id - 1].rec.first_ts,
			             "%s chunk %" PRIu64, q->text, got[i].chunk_id);
		}
		cr_assert_eq(st.chunks_planned, n);
		uint64_t nb = 0;
		for (size_t i = 0; i < n; i++)
			nb += (uint64_t)__builtin_popcountll(got[i].blocks);
		cr_assert_eq(st.blocks_planned, nb);
		if (n)
			cr_assert_gt(st.slices_visited, 0);
		free(got);
		idx_expr_free(e);
	}
	free(want);
}

Test(index2_plan, plans_equal_brute_force_on_closed_and_open_slices, .init = setup,
     .fini = teardown, .timeout = 120)
{
	idx *x = open_store();
	/* a store whose newest slice is open with a few chunks, then one
	 * whose every slice but the last is closed */
	commit_range(x, 0, 67);
	committed = 67;
	check_plans(x);
	committed = nchunks;
	commit_range(x, 67, nchunks);
	check_plans(x);
	idx_close(x);
}

/* Flips one bit of the first value of a table, in place. */
static void flip_first(idx *x, MDB_dbi dbi, size_t byte, uint8_t *key, size_t *klen)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	uint8_t buf[IDX2_PVAL_MAX];
	cr_assert_eq(idx_txn_begin(x, true, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, dbi, &cur), 0);
	cr_assert_eq(mdb_cursor_get(cur, &k, &d, MDB_FIRST), 0);
	memcpy(key, k.mv_data, k.mv_size);
	*klen = k.mv_size;
	memcpy(buf, d.mv_data, d.mv_size);
	buf[byte] ^= 0x01;
	d.mv_data = buf;
	cr_assert_eq(mdb_cursor_put(cur, &k, &d, MDB_CURRENT), 0);
	mdb_cursor_close(cur);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

static void plan_fails_naming(idx *x, const char *text, const char *table)
{
	idx_expr *e;
	idx_expr_err err;
	idx2_hit *got;
	size_t n;
	char where[160];
	cr_assert_eq(idx_expr_parse(text, 0, &e, &err), 0);
	cr_assert_eq(idx_plan2(x, e, &got, &n, NULL, where, sizeof where), TV_E_CORRUPT, "%s", text);
	cr_assert_null(got);
	cr_assert(strncmp(where, table, strlen(table)) == 0 && strstr(where, " key "),
	          "where: %s", where);
	idx_expr_free(e);
}

Test(index2_plan, a_flipped_bit_in_a_posting_is_an_error_naming_it, .init = setup,
     .fini = teardown, .timeout = 120)
{
	idx *x = open_store();
	uint8_t key[64];
	size_t kl;
	char text[96];
	idx2_pv pv;
	uint32_t sid;
	uint64_t cid;

	commit_range(x, 0, 67);
	/* the first v2_post key: an address of slice 1; flip a bit of its entries */
	flip_first(x, x->db2_post, 5, key, &kl);
	cr_assert_eq(idx2_pkey_decode(key, kl, &sid, &pv), 0);
	cr_assert_eq(pv.tv[0], 'A');
	snprintf(text, sizeof text, "host %u.%u.%u.%u", pv.tv[13], pv.tv[14], pv.tv[15], pv.tv[16]);
	plan_fails_naming(x, text, "v2_post");
	flip_first(x, x->db2_post, 5, key, &kl); /* back as it was */
	/* the first v2_opost key: an address of chunk 65 (open slice); byte 4
	 * is the first of its bitmap varint */
	flip_first(x, x->db2_opost, 4, key, &kl);
	cr_assert_eq(idx2_okey_decode(key, kl, &cid, &pv), 0);
	cr_assert_eq(cid, 65);
	snprintf(text, sizeof text, "host %u.%u.%u.%u and after 1", pv.tv[13], pv.tv[14],
	         pv.tv[15], pv.tv[16]);
	plan_fails_naming(x, text, "v2_opost");
	flip_first(x, x->db2_opost, 4, key, &kl); /* back as it was */
	/* a v2_post value with a correct crc whose bitmap names a block the
	 * chunk does not have */
	{
		MDB_txn *txn;
		MDB_cursor *cur;
		MDB_val k, d;
		idx2_slice s;
		idx2_piter it;
		uint64_t ids[64], bits[64];
		size_t n = 0;
		uint8_t sk[4], vb[IDX2_PVAL_MAX];
		cr_assert_eq(idx_txn_begin(x, true, &txn), 0);
		cr_assert_eq(mdb_cursor_open(txn, x->db2_post, &cur), 0);
		cr_assert_eq(mdb_cursor_get(cur, &k, &d, MDB_FIRST), 0);
		memcpy(key, k.mv_data, k.mv_size);
		kl = k.mv_size;
		memcpy(sk, key, 4);
		MDB_val K = { 4, sk }, D;
		cr_assert_eq(mdb_get(txn, x->db2_slices, &K, &D), 0);
		cr_assert_eq(idx2_slice_decode(D.mv_data, D.mv_size, &s), 0);
		cr_assert_eq(idx2_piter_init(&it, key, kl, d.mv_data, d.mv_size, &s, NULL), 0);
		while (idx2_piter_next(&it, &ids[n], &bits[n]) == 1)
			n++;
		cr_assert_lt(chunks[ids[0] - 1].rec.nblocks, 64);
		bits[0] |= (uint64_t)1 << chunks[ids[0] - 1].rec.nblocks;
		d.mv_data = vb;
		d.mv_size = idx2_pval_encode(key, kl, s.first_chunk, ids, bits, n, vb);
		cr_assert_eq(mdb_cursor_put(cur, &k, &d, MDB_CURRENT), 0);
		mdb_cursor_close(cur);
		cr_assert_eq(mdb_txn_commit(txn), 0);
		cr_assert_eq(idx2_pkey_decode(key, kl, &sid, &pv), 0);
		snprintf(text, sizeof text, "host %u.%u.%u.%u", pv.tv[13], pv.tv[14], pv.tv[15],
		         pv.tv[16]);
		plan_fails_naming(x, text, "v2_post");
	}
	/* a query that meets neither damaged posting still answers */
	idx_expr *e;
	idx_expr_err err;
	idx2_hit *got;
	size_t n;
	cr_assert_eq(idx_expr_parse("vni 102", 0, &e, &err), 0);
	cr_assert_eq(idx_plan2(x, e, &got, &n, NULL, NULL, 0), 0);
	cr_assert_gt(n, 0);
	free(got);
	idx_expr_free(e);
	idx_close(x);
}

/* ------------------------------------------------------------ drop */

Test(index2_commit, segment_drop_leaves_exactly_the_other_segment, .init = setup,
     .fini = teardown, .timeout = 120)
{
	idx *x = open_store();
	xpost *want, *got;
	size_t nwant, ngot, npost, nopost, w;
	uint64_t dropped;
	idx2_tot t;

	commit_range(x, 0, nchunks);
	cr_assert_eq(idx_segment_drop2(x, 7, &dropped), 0);
	cr_assert_eq(dropped, 0, "a segment the index does not know");
	cr_assert_eq(idx_segment_drop2(x, 1, &dropped), 0);
	cr_assert_eq(dropped, SEG1_CHUNKS);

	/* postings: exactly those of segment 2's chunks */
	expected_postings(&want, &nwant);
	for (size_t i = w = 0; i < nwant; i++)
		if (want[i].chunk > SEG1_CHUNKS)
			want[w++] = want[i];
	stored_postings(x, &got, &ngot, &npost, &nopost);
	cr_assert_eq(ngot, w);
	for (size_t i = 0; i < w; i++)
		cr_assert_eq(memcmp(&got[i], &want[i], sizeof want[i]), 0, "posting %zu", i);
	free(want);
	free(got);

	/* chunk records, slices, time keys, segs, totals */
	idx2_chunk r;
	cr_assert_eq(idx2_chunk_get(x, SEG1_CHUNKS, &r), TV_E_NOTFOUND);
	cr_assert_eq(idx2_chunk_get(x, SEG1_CHUNKS + 1, &r), 0);
	cr_assert_eq(r.slice, 3);
	MDB_txn *txn;
	MDB_stat st;
	MDB_val k, d;
	MDB_cursor *cur;
	cr_assert_eq(idx_txn_begin(x, false, &txn), 0);
	cr_assert_eq(mdb_stat(txn, x->db2_slices, &st), 0);
	size_t nsl = st.ms_entries;
	cr_assert_eq(mdb_stat(txn, x->db2_stime, &st), 0);
	cr_assert_eq(st.ms_entries, nsl);
	cr_assert_eq(mdb_cursor_open(txn, x->db2_slices, &cur), 0);
	cr_assert_eq(mdb_cursor_get(cur, &k, &d, MDB_FIRST), 0);
	cr_assert_eq(tv_get_be32(k.mv_data), 3, "slices 1 and 2 are gone");
	mdb_cursor_close(cur);
	cr_assert_eq(mdb_stat(txn, x->db2_segs, &st), 0);
	cr_assert_eq(st.ms_entries, 1);
	mdb_txn_abort(txn);

	uint64_t pk = 0, raw = 0, blocks = 0;
	for (size_t i = SEG1_CHUNKS; i < nchunks; i++) {
		pk += chunks[i].rec.npkts;
		raw += chunks[i].rec.raw_len;
		blocks += chunks[i].rec.nblocks;
	}
	cr_assert_eq(idx2_tot_get(x, &t), 0);
	cr_assert_eq(t.chunks, nchunks - SEG1_CHUNKS);
	cr_assert_eq(t.packets, pk);
	cr_assert_eq(t.raw_bytes, raw);
	cr_assert_eq(t.blocks, blocks);
	cr_assert_eq(t.postings, npost + nopost);
	cr_assert_eq(t.segments, 1);
	cr_assert_eq(t.slices, nsl);

	/* the planner answers from what is left */
	idx_expr *e;
	idx_expr_err err;
	idx2_hit *hits;
	size_t n;
	cr_assert_eq(idx_expr_parse("", 0, &e, &err), 0);
	cr_assert_eq(idx_plan2(x, e, &hits, &n, NULL, NULL, 0), 0);
	cr_assert_eq(n, nchunks - SEG1_CHUNKS);
	cr_assert_eq(hits[0].chunk_id, SEG1_CHUNKS + 1);
	free(hits);
	idx_expr_free(e);

	/* dropping the segment of the open slice too: an empty index that
	 * takes new chunks again */
	cr_assert_eq(idx_segment_drop2(x, 2, &dropped), 0);
	cr_assert_eq(dropped, nchunks - SEG1_CHUNKS);
	cr_assert_eq(idx2_tot_get(x, &t), 0);
	cr_assert_eq(t.chunks + t.postings + t.slices + t.segments + t.packets, 0);
	cr_assert_eq(idx_txn_begin(x, false, &txn), 0);
	MDB_dbi all[] = { x->db2_chunks, x->db2_slices, x->db2_stime, x->db2_post, x->db2_opost,
	                  x->db2_segs };
	for (size_t i = 0; i < 6; i++) {
		cr_assert_eq(mdb_stat(txn, all[i], &st), 0);
		cr_assert_eq(st.ms_entries, 0, "table %zu", i);
	}
	mdb_txn_abort(txn);
	idx_close(x);
}
