/*
 * test_index2.c — the index of format version 2 (store/FORMAT.md "Index,
 * version 2"): table codecs and their reject cases, the postings of a
 * flow, idx_commit2 on real version-2 chunks, idx_plan2 against a
 * brute-force scan of what was committed.
 *
 * CRCs of crafted values are computed here bitwise from the definition
 * (CRC-32C, reflected, polynomial 0x82F63B78), and field offsets come from
 * FORMAT.md, so the tests check the format and not only that the code
 * agrees with itself.
 */
#include <criterion/criterion.h>
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
	uint32_t off = 4 + 16u * nblocks;
	for (uint16_t i = 0; i < nblocks; i++) {
		c->blocks[i].offset = off;
		c->blocks[i].len = 1000 + i;
		c->blocks[i].nrec = 10 + i;
		c->blocks[i].a_raw = 5000 + i;
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
	cr_assert_eq(n, 104 + 3 * 16);
	cr_assert_eq(tv_get_le64(b + 0), 77);
	cr_assert_eq(tv_get_le32(b + 8), 3);
	cr_assert_eq(tv_get_le32(b + 12), 9);
	cr_assert_eq(tv_get_le64(b + 16), 4096);
	cr_assert_eq(tv_get_le32(b + 28), 1000);
	cr_assert_eq(tv_get_le64(b + 32), 1000000000ull);
	cr_assert_eq(tv_get_le32(b + 60), 50);
	cr_assert_eq(b[64 + 5], 35);
	cr_assert_eq(tv_get_le16(b + 96), 3);
	cr_assert_eq(tv_get_le32(b + 104 + 16 + 4), 1001);
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
		{ 104 + 16 + 0, 4, 4 + 48 + 999 }, /* block 1 not right after block 0 */
		{ 104 + 4, 4, 31 },  /* block 0 shorter than its header */
		{ 104 + 32 + 8, 4, 0 }, /* block 2 without records */
		{ 24, 4, 128 + 4 + 48 + 3003 + 1 }, /* the last block does not end the chunk */
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
	uint8_t vni[4] = { 0, 0, 1, 2 }, k[IDX2_OKEY_MAX], v[IDX2_OVAL_LEN], t[IDX2_OVAL_LEN];
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

	idx2_oval_encode(k, kl, 0x5, v);
	uint32_t c = spec_crc(k, kl, 0);
	cr_assert_eq(tv_get_le32(v), spec_crc(v + 4, 8, c));
	cr_assert_eq(idx2_oval_decode(k, kl, v, sizeof v, 3, &bits), 0);
	cr_assert_eq(bits, 5);
	cr_assert_eq(idx2_oval_decode(k, kl, v, sizeof v, 2, &bits), TV_E_CORRUPT, "bit 2 of 2 blocks");
	cr_assert_eq(idx2_oval_decode(k, kl, v, 11, 3, &bits), TV_E_CORRUPT);
	k[3] ^= 4; /* a flipped key bit is seen through the value's crc */
	cr_assert_eq(idx2_oval_decode(k, kl, v, sizeof v, 3, &bits), TV_E_CORRUPT);
	k[3] ^= 4;
	memcpy(t, v, sizeof v);
	t[11] ^= 0x80;
	cr_assert_eq(idx2_oval_decode(k, kl, t, sizeof t, 0, &bits), TV_E_CORRUPT);
	idx2_oval_encode(k, kl, 0, t);
	cr_assert_eq(idx2_oval_decode(k, kl, t, sizeof t, 0, &bits), TV_E_CORRUPT, "zero bitmap");
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
