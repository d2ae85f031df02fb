/*
 * test_flows2.c — the VPC flow records of index version 2, table v2_flows
 * (store/FORMAT.md "VPC flow records (v2_flows)"): the block codec and
 * every value its strict decoder rejects, put (seq, windows, blocks of at
 * most 4096), read of a window range against the input, and the one
 * delete of a window range.
 *
 * Header offsets and the zstd frame are checked with libzstd directly
 * and the record layout with FORMAT.md's offsets, so the tests check the
 * format and not only that the code agrees with itself.
 */
#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "../../index/flows2.h"

#define W0 1764000000u /* a multiple of 600 */

static char g_dir[256];
static idx *g_x;
static idx2_fbuf *g_b;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void setup(void)
{
	idx_cfg cfg;
	strcpy(g_dir, "/tmp/tv_flows2_XXXXXX");
	cr_assert_not_null(mkdtemp(g_dir));
	idx_cfg_default(&cfg);
	cfg.writable = true;
	cfg.map_size = (uint64_t)1 << 30;
	cr_assert_eq(idx_open(g_dir, &cfg, &g_x), 0);
	cr_assert_eq(idx2_fbuf_new(&g_b), 0);
}

static void teardown(void)
{
	idx2_fbuf_free(g_b);
	idx_close(g_x);
	nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A record like the flow table writes: clients of 10.0.0.0/16 to a few
 * servers; noisy makes every field random (nothing for zstd to find). */
static void mkrec(tv_flowrec *r, uint32_t i, uint32_t window, bool noisy)
{
	uint8_t v4[4] = { 10, 0, (uint8_t)(i >> 8), (uint8_t)i };
	memset(r, 0, sizeof *r);
	tv_addr_from_v4(&r->key.src, v4);
	v4[2] = 200;
	v4[3] = (uint8_t)(i % 7);
	tv_addr_from_v4(&r->key.dst, v4);
	r->key.sport = (uint16_t)(32768 + i);
	r->key.dport = 443;
	r->key.proto = 6;
	r->ipver = 4;
	r->tcp_flags = 0x1b;
	v4[2] = 1;
	v4[3] = 5;
	tv_addr_from_v4(&r->outer_src, v4);
	r->vni = 7;
	r->window = window;
	r->start = window + i % 600;
	r->end = r->start + i % 10;
	r->packets = 1 + i % 100;
	r->bytes = 60 * r->packets + i;
	if (noisy) {
		for (int k = 0; k < 16; k++) {
			r->key.src.b[k] = (uint8_t)rnd();
			r->key.dst.b[k] = (uint8_t)rnd();
			r->outer_src.b[k] = (uint8_t)rnd();
		}
		r->ipver = 6;
		r->key.sport = (uint16_t)rnd();
		r->key.dport = (uint16_t)rnd();
		r->key.proto = (uint8_t)rnd();
		r->tcp_flags = (uint8_t)rnd();
		r->vni = (uint32_t)rnd();
		r->start = window + (uint32_t)(rnd() % 600);
		r->end = r->start + (uint32_t)(rnd() % 600);
		r->packets = rnd();
		r->bytes = rnd();
	}
}

typedef struct collect {
	tv_flowrec *r;
	size_t n, cap;
	size_t stop_at; /* 0: never */
} collect;

static int collect_cb(void *ctx, const tv_flowrec *r)
{
	collect *c = ctx;
	if (c->stop_at && c->n == c->stop_at)
		return 4242;
	cr_assert_lt(c->n, c->cap);
	c->r[c->n++] = *r;
	return 0;
}

static int put_txn(const tv_flowrec *recs, size_t n, uint64_t *blocks)
{
	MDB_txn *txn;
	int rc;
	cr_assert_eq(idx_txn_begin(g_x, true, &txn), 0);
	rc = idx2_flows_put(g_x, txn, g_b, recs, n, blocks);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	return idx_lmdb_err(mdb_txn_commit(txn));
}

static idx_flows_drop_report g_bad; /* the last del_txn's report */

static int del_txn(uint32_t a, uint64_t b, uint64_t *blocks, uint64_t *records)
{
	MDB_txn *txn;
	int rc;
	idx_flows_drop_report r;
	cr_assert_eq(idx_txn_begin(g_x, true, &txn), 0);
	rc = idx2_flows_delete(g_x, txn, a, b, &r);
	*blocks = r.blocks;
	*records = r.records;
	g_bad = r;
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	return idx_lmdb_err(mdb_txn_commit(txn));
}

static uint64_t meta_seq(void)
{
	MDB_txn *txn;
	MDB_val k = { 8, (void *)"flow_seq" }, d;
	uint64_t s = 0;
	cr_assert_eq(idx_txn_begin(g_x, false, &txn), 0);
	if (mdb_get(txn, g_x->db_meta, &k, &d) == 0) {
		cr_assert_eq(d.mv_size, 8);
		s = tv_get_le64(d.mv_data);
	}
	mdb_txn_abort(txn);
	return s;
}

/* Every (window, seq, count) of v2_flows in key order. */
static size_t list_keys(uint32_t *w, uint64_t *seq, uint32_t *count, size_t cap)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	size_t n = 0;
	cr_assert_eq(idx_txn_begin(g_x, false, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, g_x->db2_flows, &cur), 0);
	while (mdb_cursor_get(cur, &k, &d, n ? MDB_NEXT : MDB_FIRST) == 0) {
		cr_assert_lt(n, cap);
		cr_assert_eq(k.mv_size, 12);
		w[n] = tv_get_be32(k.mv_data);
		seq[n] = tv_get_be64((const uint8_t *)k.mv_data + 4);
		count[n] = tv_get_le32(d.mv_data) & 0x7FFFFFFFu;
		n++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

/* The input records of windows lo..hi, window by window, in input order:
 * what a read must give. */
static size_t expected(const tv_flowrec *in, size_t n, uint32_t lo, uint32_t hi, tv_flowrec *out)
{
	size_t k = 0;
	for (uint64_t w = lo; w <= hi; w += 600)
		for (size_t i = 0; i < n; i++)
			if (in[i].window == w)
				out[k++] = in[i];
	return k;
}

/* ------------------------------------------------------------ codec */

/* The raw bytes of a block from n records back to back in the 108-byte
 * layout, as FORMAT.md says: by field groups (the three addresses and the
 * reserved tail whole, every other byte alone), each group for every
 * record in turn; byte j of group g of record i at n * off(g) + i *
 * width(g) + j. */
static void by_groups(const uint8_t *recs, size_t n, uint8_t *out)
{
	size_t off = 0;
	while (off < 108) {
		size_t w = (off == 0 || off == 16 || off == 40) ? 16 : off == 88 ? 20 : 1;
		for (size_t i = 0; i < n; i++)
			memcpy(out + n * off + i * w, recs + i * 108 + off, w);
		off += w;
	}
}

TestSuite(flows2, .init = setup, .fini = teardown);

Test(flows2, block_compressible_layout_is_header_then_one_zstd_frame)
{
	enum { N = 1000 };
	static tv_flowrec in[N];
	static uint8_t recs[N * 108], raw[N * 108], dec[N * 108];
	const uint8_t *v;
	size_t len;
	for (uint32_t i = 0; i < N; i++) {
		mkrec(&in[i], i, W0, false);
		idx_flow_val_encode(&in[i], recs + i * 108);
	}
	by_groups(recs, N, raw);
	cr_assert_eq(idx2_flows_block_encode(g_b, in, N, &v, &len), 0);
	cr_assert_eq(tv_get_le32(v), N, "count, flag clear");
	cr_assert_eq(tv_get_le32(v + 4), N * 108);
	cr_assert_lt(len, (size_t)N * 108 / 4, "similar records compress well: %zu", len);
	cr_assert_eq(ZSTD_getFrameContentSize(v + 8, len - 8), (unsigned long long)N * 108);
	cr_assert_eq(ZSTD_findFrameCompressedSize(v + 8, len - 8), len - 8);
	cr_assert_eq(ZSTD_decompress(dec, sizeof dec, v + 8, len - 8), (size_t)N * 108);
	cr_assert_eq(memcmp(dec, raw, sizeof raw), 0, "the 108-byte record layout, by field groups");
	/* the window (offset 60, u32 LE): four planes of N bytes at N * 60 */
	for (uint32_t i = 0; i < N; i += 97)
		cr_assert_eq((uint32_t)dec[N * 60 + i] | (uint32_t)dec[N * 61 + i] << 8 |
		                 (uint32_t)dec[N * 62 + i] << 16 | (uint32_t)dec[N * 63 + i] << 24,
		             W0, "window of record %u", i);
	/* the destination address, whole: record i at N * 16 + 16 i */
	cr_assert_eq(memcmp(dec + N * 16 + 16 * 5, recs + 5 * 108 + 16, 16), 0);

	const tv_flowrec *out;
	size_t n;
	cr_assert_eq(idx2_flows_block_decode(g_b, W0, v, len, &out, &n), 0);
	cr_assert_eq(n, N);
	cr_assert_eq(memcmp(out, in, sizeof in), 0);
}

/*
 * The encoder keeps the smaller of the zstd frame and the raw records.
 * Valid records always leave zstd something (byte 39 and bytes 88..107
 * are zero), so even random records compress by a few bytes: the check is
 * that the choice follows libzstd's own level-3 size, and the raw form is
 * decoded (and its malformed cases refused) below from hand-made blocks.
 */
Test(flows2, block_keeps_the_smaller_of_frame_and_raw)
{
	tv_flowrec in[3];
	uint8_t recs[3 * 108], raw[3 * 108], z[512];
	const uint8_t *v;
	size_t len, n;
	const tv_flowrec *out;
	for (size_t c = 1; c <= 3; c++) {
		for (uint32_t i = 0; i < c; i++) {
			mkrec(&in[i], i, W0, true);
			idx_flow_val_encode(&in[i], recs + i * 108);
		}
		by_groups(recs, c, raw);
		size_t zl = ZSTD_compress(z, sizeof z, raw, c * 108, 3);
		cr_assert(!ZSTD_isError(zl));
		cr_assert_eq(idx2_flows_block_encode(g_b, in, c, &v, &len), 0);
		if (zl < c * 108) {
			cr_assert_eq(tv_get_le32(v), (uint32_t)c);
			cr_assert_eq(len, 8 + zl, "%zu random records: %zu, zstd %zu", c, len, zl);
		} else {
			cr_assert_eq(tv_get_le32(v), (uint32_t)c | 0x80000000u);
			cr_assert_eq(len, 8 + c * 108);
		}
		cr_assert_eq(idx2_flows_block_decode(g_b, W0, v, len, &out, &n), 0);
		cr_assert_eq(n, c);
		cr_assert_eq(memcmp(out, in, c * sizeof in[0]), 0);
	}
}

Test(flows2, block_raw_form_decodes_to_its_records)
{
	tv_flowrec in[5];
	uint8_t recs[5 * 108], val[8 + 5 * 108];
	const tv_flowrec *out;
	size_t n;
	for (uint32_t i = 0; i < 5; i++) {
		mkrec(&in[i], i, W0, i % 2 == 1);
		idx_flow_val_encode(&in[i], recs + i * 108);
	}
	by_groups(recs, 5, val + 8);
	tv_put_le32(val, 5 | 0x80000000u);
	tv_put_le32(val + 4, 5 * 108);
	cr_assert_eq(idx2_flows_block_decode(g_b, W0, val, sizeof val, &out, &n), 0);
	cr_assert_eq(n, 5);
	cr_assert_eq(memcmp(out, in, sizeof in), 0);
	tv_put_le32(val, 5);
	cr_assert_eq(idx2_flows_block_decode(g_b, W0, val, sizeof val, &out, &n), TV_E_CORRUPT,
	             "the same bytes without the flag are not a zstd frame");
}

Test(flows2, block_encode_refuses_empty_oversized_and_mixed_windows)
{
	static tv_flowrec in[4097];
	const uint8_t *v;
	size_t len;
	for (uint32_t i = 0; i < 4097; i++)
		mkrec(&in[i], i, W0, false);
	cr_assert_eq(idx2_flows_block_encode(g_b, in, 0, &v, &len), TV_E_RANGE);
	cr_assert_eq(idx2_flows_block_encode(g_b, in, 4097, &v, &len), TV_E_RANGE);
	cr_assert_eq(idx2_flows_block_encode(g_b, in, 4096, &v, &len), 0);
	in[5].window = W0 + 600;
	cr_assert_eq(idx2_flows_block_encode(g_b, in, 10, &v, &len), TV_E_RANGE);
}

/* ------------------------------------------------------ corrupt cases */

static uint8_t cbuf[8 + 4096 * 108 + 1024];

static int dec(const void *p, size_t n)
{
	const tv_flowrec *out;
	size_t cnt;
	return idx2_flows_block_decode(g_b, W0, p, n, &out, &cnt);
}

/* A compressed block of c records as the encoder writes it, in cbuf. */
static size_t good_block(uint32_t c)
{
	static tv_flowrec in[64];
	const uint8_t *v;
	size_t len;
	for (uint32_t i = 0; i < c; i++)
		mkrec(&in[i], i, W0, false);
	cr_assert_eq(idx2_flows_block_encode(g_b, in, c, &v, &len), 0);
	cr_assert_eq(tv_get_le32(v) & 0x80000000u, 0);
	memcpy(cbuf, v, len);
	return len;
}

/* A block built by hand from c records back to back (recs, the 108-byte
 * layout): zstd frame (content size flag as given) or raw. */
static size_t hand_block(const uint8_t *recs, uint32_t c, bool as_raw, bool content_size)
{
	static uint8_t raw[4096 * 108];
	by_groups(recs, c, raw);
	tv_put_le32(cbuf, as_raw ? c | 0x80000000u : c);
	tv_put_le32(cbuf + 4, c * 108);
	if (as_raw) {
		memcpy(cbuf + 8, raw, c * 108);
		return 8 + c * 108;
	}
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, content_size ? 1 : 0);
	size_t z = ZSTD_compress2(cc, cbuf + 8, sizeof cbuf - 8, raw, c * 108);
	ZSTD_freeCCtx(cc);
	cr_assert(!ZSTD_isError(z));
	return 8 + z;
}

Test(flows2, decode_rejects_bad_header)
{
	size_t len = good_block(20);
	cr_assert_eq(dec(cbuf, len), 0);
	for (size_t n = 0; n < 8; n++)
		cr_assert_eq(dec(cbuf, n), TV_E_CORRUPT, "value of %zu bytes", n);
	tv_put_le32(cbuf + 4, 20 * 108 + 1);
	cr_assert_eq(dec(cbuf, len), TV_E_CORRUPT, "raw != count x 108");
	tv_put_le32(cbuf + 4, 19 * 108);
	cr_assert_eq(dec(cbuf, len), TV_E_CORRUPT, "raw of another count");
	tv_put_le32(cbuf, 0);
	tv_put_le32(cbuf + 4, 0);
	cr_assert_eq(dec(cbuf, len), TV_E_CORRUPT, "count 0");
	tv_put_le32(cbuf, 0x80000000u);
	cr_assert_eq(dec(cbuf, 8), TV_E_CORRUPT, "raw count 0");
	tv_put_le32(cbuf, 4097);
	tv_put_le32(cbuf + 4, 4097 * 108);
	cr_assert_eq(dec(cbuf, len), TV_E_CORRUPT, "count over 4096");
	tv_put_le32(cbuf, 4097 | 0x80000000u);
	cr_assert_eq(dec(cbuf, 8 + 4097 * 108), TV_E_CORRUPT, "raw count over 4096");
	tv_put_le32(cbuf, 0x40000001u);
	tv_put_le32(cbuf + 4, 108);
	cr_assert_eq(dec(cbuf, len), TV_E_CORRUPT, "other high bits of count");
}

Test(flows2, decode_rejects_bad_zstd_frames)
{
	static uint8_t raw[40 * 108];
	tv_flowrec r;
	size_t len;
	for (uint32_t i = 0; i < 40; i++) {
		mkrec(&r, i, W0, false);
		idx_flow_val_encode(&r, raw + i * 108);
	}
	len = hand_block(raw, 40, false, true);
	cr_assert_eq(dec(cbuf, len), 0, "the hand-made frame is good");
	cbuf[len] = 0;
	cr_assert_eq(dec(cbuf, len + 1), TV_E_CORRUPT, "a trailing byte");
	cr_assert_eq(dec(cbuf, len - 1), TV_E_CORRUPT, "a truncated frame");
	/* the frame holds 39 records, the header says 40 */
	len = hand_block(raw, 39, false, true);
	tv_put_le32(cbuf, 40);
	tv_put_le32(cbuf + 4, 40 * 108);
	cr_assert_eq(dec(cbuf, len), TV_E_CORRUPT, "frame content size != raw");
	/* two frames back to back: each good, their sum is raw */
	size_t l1 = hand_block(raw, 20, false, true) - 8;
	static uint8_t f1[8192];
	memcpy(f1, cbuf + 8, l1);
	size_t l2 = hand_block(raw + 20 * 108, 20, false, true) - 8;
	memmove(cbuf + 8 + l1, cbuf + 8, l2);
	memcpy(cbuf + 8, f1, l1);
	tv_put_le32(cbuf, 40);
	tv_put_le32(cbuf + 4, 40 * 108);
	cr_assert_eq(dec(cbuf, 8 + l1 + l2), TV_E_CORRUPT, "two frames");
	/* a skippable frame after the good one (RFC 8878 3.1.2): libzstd's
	 * decompression skips it, the block is still not one frame */
	len = hand_block(raw, 40, false, true);
	tv_put_le32(cbuf + len, 0x184D2A50u);
	tv_put_le32(cbuf + len + 4, 0);
	cr_assert_eq(ZSTD_decompress(f1, sizeof f1, cbuf + 8, len - 8 + 8), 40 * 108);
	cr_assert_eq(dec(cbuf, len + 8), TV_E_CORRUPT, "a skippable frame after the frame");
	len = hand_block(raw, 40, false, false);
	cr_assert_eq(dec(cbuf, len), TV_E_CORRUPT, "no content size in the frame");
	len = hand_block(raw, 40, false, true);
	cbuf[8] ^= 0xFF;
	cr_assert_eq(dec(cbuf, len), TV_E_CORRUPT, "not a zstd frame (magic)");
	len = hand_block(raw, 40, false, true);
	cbuf[len - 3] ^= 0x55;
	cr_assert_eq(dec(cbuf, len), TV_E_CORRUPT, "damaged compressed data");
}

Test(flows2, decode_rejects_frame_not_smaller_and_raw_of_wrong_length)
{
	static uint8_t raw[2 * 108];
	tv_flowrec r;
	for (uint32_t i = 0; i < 2; i++) {
		mkrec(&r, i, W0, true);
		idx_flow_val_encode(&r, raw + i * 108);
	}
	/* A valid zstd frame holding one raw (stored) block (RFC 8878 3.1.1):
	 * magic, descriptor 0xA0 (4-byte content size, single segment), the
	 * content size, block header (last, type raw, size), the bytes: 12
	 * bytes longer than its content, so never what the encoder writes. */
	uint8_t *f = cbuf + 8;
	tv_put_le32(f, 0xFD2FB528u);
	f[4] = 0xA0;
	tv_put_le32(f + 5, sizeof raw);
	uint32_t bh = 1u | ((uint32_t)sizeof raw << 3);
	f[9] = (uint8_t)bh;
	f[10] = (uint8_t)(bh >> 8);
	f[11] = (uint8_t)(bh >> 16);
	memcpy(f + 12, raw, sizeof raw);
	static uint8_t back[sizeof raw];
	cr_assert_eq(ZSTD_decompress(back, sizeof back, f, 12 + sizeof raw), sizeof raw,
	             "the hand-made frame is valid zstd");
	cr_assert_eq(memcmp(back, raw, sizeof raw), 0);
	tv_put_le32(cbuf, 2);
	tv_put_le32(cbuf + 4, sizeof raw);
	cr_assert_eq(dec(cbuf, 8 + 12 + sizeof raw), TV_E_CORRUPT, "frame not smaller than raw");
	size_t len = hand_block(raw, 2, true, true);
	cr_assert_eq(dec(cbuf, len), 0, "raw form of 2 records");
	cr_assert_eq(dec(cbuf, len - 1), TV_E_CORRUPT, "raw form one byte short");
	cbuf[len] = 0;
	cr_assert_eq(dec(cbuf, len + 1), TV_E_CORRUPT, "raw form one byte long");
}

Test(flows2, decode_rejects_a_bad_record_in_either_form)
{
	static uint8_t raw[10 * 108];
	tv_flowrec r;
	struct {
		size_t off;
		uint8_t val;
		const char *what;
	} bad[] = {
		{ 37, 5, "ip version 5" },
		{ 39, 1, "reserved byte 39" },
		{ 60, 0x11, "window of another block" },
		{ 64 + 3, 0xFF, "start after end" },
	};
	for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
		for (int form = 0; form < 2; form++) {
			for (uint32_t i = 0; i < 10; i++) {
				mkrec(&r, i, W0, false);
				idx_flow_val_encode(&r, raw + i * 108);
			}
			size_t len = hand_block(raw, 10, form == 1, true);
			cr_assert_eq(dec(cbuf, len), 0);
			raw[7 * 108 + bad[b].off] = bad[b].val;
			len = hand_block(raw, 10, form == 1, true);
			cr_assert_eq(dec(cbuf, len), TV_E_CORRUPT, "%s, %s form", bad[b].what,
			             form ? "raw" : "zstd");
		}
	}
	/* good records under the key of another window */
	for (uint32_t i = 0; i < 10; i++) {
		mkrec(&r, i, W0, false);
		idx_flow_val_encode(&r, raw + i * 108);
	}
	size_t len = hand_block(raw, 10, false, true);
	cr_assert_eq(idx2_flows_block_decode(g_b, W0 + 600, cbuf, len, &(const tv_flowrec *){ 0 },
	                                     &(size_t){ 0 }),
	             TV_E_CORRUPT, "records of another window than the key's");
}

/* -------------------------------------------------- put, read, delete */

Test(flows2, put_then_read_gives_the_records_in_window_then_input_order)
{
	enum { N = 12000 };
	static tv_flowrec in[N], exp[N], got[N];
	uint32_t wins[4] = { W0 + 1200, W0, W0 + 600, W0 + 3000 };
	uint64_t blocks;
	/* interleaved windows; W0 gets 4096 + 1 + ... records: several blocks */
	for (uint32_t i = 0; i < N; i++)
		mkrec(&in[i], i, wins[i % 7 == 0 ? 3 : (i % 3)], false);
	cr_assert_eq(put_txn(in, N, &blocks), 0);
	size_t per[4] = { 0 };
	for (uint32_t i = 0; i < N; i++)
		for (int k = 0; k < 4; k++)
			per[k] += in[i].window == wins[k];
	uint64_t want_blocks = 0;
	for (int k = 0; k < 4; k++)
		want_blocks += (per[k] + 4095) / 4096;
	cr_assert_eq(blocks, want_blocks);
	cr_assert_eq(meta_seq(), want_blocks, "one seq per block");

	uint32_t kw[16], cnt[16];
	uint64_t ks[16];
	size_t nk = list_keys(kw, ks, cnt, 16);
	cr_assert_eq(nk, want_blocks);
	uint64_t total = 0;
	for (size_t i = 0; i < nk; i++) {
		cr_assert_leq(cnt[i], 4096);
		total += cnt[i];
		if (i)
			cr_assert(kw[i] > kw[i - 1] || (kw[i] == kw[i - 1] && ks[i] > ks[i - 1]));
		cr_assert_eq(ks[i], i + 1, "windows are written in increasing order");
	}
	cr_assert_eq(total, N);

	collect c = { got, 0, N, 0 };
	cr_assert_eq(idx2_flows_read(g_x, NULL, g_b, 0, UINT32_MAX, collect_cb, &c), 0);
	size_t ne = expected(in, N, W0, W0 + 3000, exp);
	cr_assert_eq(ne, N);
	cr_assert_eq(c.n, N);
	cr_assert_eq(memcmp(got, exp, N * sizeof got[0]), 0);

	/* a second flush continues the sequence and lands after the first in
	 * its window */
	tv_flowrec more[3];
	for (uint32_t i = 0; i < 3; i++)
		mkrec(&more[i], 50000 + i, W0, false);
	cr_assert_eq(put_txn(more, 3, &blocks), 0);
	cr_assert_eq(blocks, 1);
	cr_assert_eq(meta_seq(), want_blocks + 1);
	c.n = 0;
	cr_assert_eq(idx2_flows_read(g_x, NULL, g_b, W0, W0, collect_cb, &c), 0);
	cr_assert_eq(c.n, per[1] + 3);
	cr_assert_eq(memcmp(&got[per[1]], more, sizeof more), 0);
	cr_assert_eq(put_txn(more, 0, &blocks), 0, "nothing to write");
	cr_assert_eq(blocks, 0);
}

Test(flows2, read_of_a_window_range_crosses_window_boundaries)
{
	enum { NW = 8, PER = 700 };
	static tv_flowrec in[NW * PER], exp[NW * PER], got[NW * PER];
	uint64_t blocks;
	for (uint32_t i = 0; i < NW * PER; i++)
		mkrec(&in[i], i, W0 + 600 * (i % NW), false);
	cr_assert_eq(put_txn(in, NW * PER, &blocks), 0);
	cr_assert_eq(blocks, NW);
	struct {
		uint32_t from, to, lo, hi;
	} q[] = {
		{ W0 + 600, W0 + 1800, W0 + 600, W0 + 1800 },    /* three windows, both ends in */
		{ W0 + 601, W0 + 1799, W0 + 1200, W0 + 1200 },   /* bounds inside windows */
		{ 0, W0, W0, W0 },                               /* from before the first */
		{ W0 + 4200, UINT32_MAX, W0 + 4200, W0 + 4200 }, /* the last one */
	};
	for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
		collect c = { got, 0, NW * PER, 0 };
		cr_assert_eq(idx2_flows_read(g_x, NULL, g_b, q[k].from, q[k].to, collect_cb, &c), 0);
		size_t ne = expected(in, NW * PER, q[k].lo, q[k].hi, exp);
		cr_assert_eq(c.n, ne, "query %zu: %zu records, want %zu", k, c.n, ne);
		cr_assert_eq(memcmp(got, exp, ne * sizeof got[0]), 0, "query %zu", k);
	}
	collect c = { got, 0, NW * PER, 0 };
	cr_assert_eq(idx2_flows_read(g_x, NULL, g_b, W0 + 4201, UINT32_MAX, collect_cb, &c), 0);
	cr_assert_eq(c.n, 0, "after the last window");
	c.stop_at = PER + 5;
	cr_assert_eq(idx2_flows_read(g_x, NULL, g_b, 0, UINT32_MAX, collect_cb, &c), 4242,
	             "the callback's value stops the read");
	cr_assert_eq(c.n, PER + 5);

	/* inside the caller's write transaction, before it commits */
	MDB_txn *txn;
	tv_flowrec late;
	mkrec(&late, 99, W0 + 4800, false);
	cr_assert_eq(idx_txn_begin(g_x, true, &txn), 0);
	cr_assert_eq(idx2_flows_put(g_x, txn, g_b, &late, 1, NULL), 0);
	c = (collect){ got, 0, NW * PER, 0 };
	cr_assert_eq(idx2_flows_read(g_x, txn, g_b, W0 + 4800, W0 + 4800, collect_cb, &c), 0);
	cr_assert_eq(c.n, 1);
	mdb_txn_abort(txn);
	c.n = 0;
	cr_assert_eq(idx2_flows_read(g_x, NULL, g_b, W0 + 4800, W0 + 4800, collect_cb, &c), 0);
	cr_assert_eq(c.n, 0, "aborted with the caller's transaction");
}

Test(flows2, delete_removes_exactly_the_windows_in_the_half_open_range)
{
	enum { NW = 10, PER = 300 };
	static tv_flowrec in[NW * PER], exp[NW * PER], got[NW * PER];
	uint64_t blocks, nb, nr;
	for (uint32_t i = 0; i < NW * PER; i++)
		mkrec(&in[i], i, W0 + 600 * (i % NW), false);
	cr_assert_eq(put_txn(in, NW * PER, &blocks), 0);
	cr_assert_eq(put_txn(in, PER, &blocks), 0, "a second block in some windows");
	cr_assert_eq(del_txn(W0 + 1200, W0 + 1200, &nb, &nr), 0);
	cr_assert_eq(nb, 0, "empty range");
	/* [W0 + 1200, W0 + 3000): windows 2, 3, 4 (each 2 blocks of 30 + 300) */
	cr_assert_eq(del_txn(W0 + 1200, W0 + 3000, &nb, &nr), 0);
	cr_assert_eq(nb, 6);
	cr_assert_eq(nr, 3 * (PER + PER / NW));
	collect c = { got, 0, NW * PER, 0 };
	cr_assert_eq(idx2_flows_read(g_x, NULL, g_b, 0, UINT32_MAX, collect_cb, &c), 0);
	size_t ne = expected(in, NW * PER, W0, W0 + 600, exp);
	ne += expected(in, NW * PER, W0 + 3000, W0 + 5400, exp + ne);
	cr_assert_eq(c.n, ne + PER - 3 * (PER / NW));
	/* retention: everything before W0 + 600 */
	cr_assert_eq(del_txn(0, W0 + 600, &nb, &nr), 0);
	cr_assert_eq(nb, 2);
	cr_assert_eq(nr, PER + PER / NW);
	/* the crash rebuild: from W0 + 4800 to the end */
	cr_assert_eq(del_txn(W0 + 4800, (uint64_t)1 << 32, &nb, &nr), 0);
	cr_assert_eq(nb, 2 * 2);
	uint32_t kw[32], cnt[32];
	uint64_t ks[32];
	size_t nk = list_keys(kw, ks, cnt, 32);
	cr_assert_eq(nk, 2 * 4, "windows 1, 5, 6, 7 are left");
	for (size_t i = 0; i < nk; i++)
		cr_assert(kw[i] == W0 + 600 || (kw[i] >= W0 + 3000 && kw[i] <= W0 + 4200), "%u",
		          kw[i]);
	cr_assert_eq(del_txn(0, (uint64_t)1 << 32, &nb, &nr), 0);
	cr_assert_eq(nb, 8);
	cr_assert_eq(list_keys(kw, ks, cnt, 32), 0);
	cr_assert_eq(del_txn(0, (uint64_t)1 << 32, &nb, &nr), 0, "empty table");
	cr_assert_eq(nb, 0);
}

static void put_raw(const void *key, size_t klen, const void *val, size_t vlen)
{
	MDB_txn *txn;
	MDB_val k = { klen, (void *)key }, d = { vlen, (void *)val };
	cr_assert_eq(idx_txn_begin(g_x, true, &txn), 0);
	cr_assert_eq(mdb_put(txn, g_x->db2_flows, &k, &d, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

/* A stored value or key of the wrong shape: read refuses it; delete
 * removes it with its range (retention and the rebuild must get past it)
 * and reports its key. */
Test(flows2, read_refuses_and_delete_removes_malformed_entries)
{
	tv_flowrec in[4];
	uint64_t blocks, nb, nr;
	for (uint32_t i = 0; i < 4; i++)
		mkrec(&in[i], i, W0 + 600 * i, false);
	cr_assert_eq(put_txn(in, 4, &blocks), 0);
	uint8_t kb[12], vb[8] = { 0 };
	tv_put_be32(kb, W0 + 1200);
	tv_put_be64(kb + 4, 1000);
	put_raw(kb, 12, vb, 8); /* count 0 */
	static tv_flowrec got[8];
	collect c = { got, 0, 8, 0 };
	cr_assert_eq(idx2_flows_read(g_x, NULL, g_b, 0, UINT32_MAX, collect_cb, &c), TV_E_CORRUPT);
	c.n = 0;
	cr_assert_eq(idx2_flows_read(g_x, NULL, g_b, 0, W0 + 600, collect_cb, &c), 0,
	             "a range before it reads");
	cr_assert_eq(c.n, 2);
	/* a range that holds it and one good block: both go, the bad one
	 * is named */
	cr_assert_eq(del_txn(W0 + 1200, W0 + 1800, &nb, &nr), 0);
	cr_assert_eq(nb, 1, "the well-formed block of window 2");
	cr_assert_eq(nr, 1);
	cr_assert_eq(g_bad.bad, 1);
	cr_assert_eq(g_bad.bad_window, W0 + 1200);
	cr_assert_eq(g_bad.bad_seq, 1000);
	cr_assert_eq(g_bad.bad_key_len, 12);
	c.n = 0;
	cr_assert_eq(idx2_flows_read(g_x, NULL, g_b, 0, UINT32_MAX, collect_cb, &c), 0,
	             "readable again");
	cr_assert_eq(c.n, 3);
	cr_assert_eq(del_txn(0, W0 + 1200, &nb, &nr), 0);
	cr_assert_eq(nb, 2);
	cr_assert_eq(g_bad.bad, 0);

	/* a value under 8 bytes, a key of 11 bytes and a key of 3 bytes
	 * inside the range; a bad key after it stays */
	tv_put_be32(kb, W0 + 1800);
	tv_put_be64(kb + 4, 2000);
	put_raw(kb, 12, vb, 5);
	uint8_t sk[11];
	tv_put_be32(sk, W0 + 2400);
	memset(sk + 4, 0xEE, 7);
	put_raw(sk, 11, vb, 8);
	uint8_t tk[3];
	memcpy(tk, sk, 3);
	tk[2]++; /* sorts after every key of window W0 + 2400 */
	put_raw(tk, 3, vb, 8);
	uint8_t late[12] = { 0xFF, 0xFF, 0xFF, 0xFF, 1 };
	put_raw(late, 5, vb, 8);
	c.n = 0;
	cr_assert_eq(idx2_flows_read(g_x, NULL, g_b, W0 + 2400, UINT32_MAX, collect_cb, &c),
	             TV_E_CORRUPT);
	cr_assert_eq(del_txn(W0 + 1800, UINT32_MAX, &nb, &nr), 0);
	cr_assert_eq(nb, 1, "window 3's block");
	cr_assert_eq(nr, 1);
	cr_assert_eq(g_bad.bad, 3);
	cr_assert_eq(g_bad.bad_window, W0 + 1800, "the first in key order is named");
	cr_assert_eq(g_bad.bad_seq, 2000);
	cr_assert_eq(g_bad.bad_key_len, 12);
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	cr_assert_eq(idx_txn_begin(g_x, false, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, g_x->db2_flows, &cur), 0);
	cr_assert_eq(mdb_cursor_get(cur, &k, &d, MDB_FIRST), 0);
	cr_assert_eq(k.mv_size, 5, "only the key of window 0xFFFFFFFF is left");
	cr_assert_eq(mdb_cursor_get(cur, &k, &d, MDB_NEXT), MDB_NOTFOUND);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	cr_assert_eq(del_txn(0, (uint64_t)1 << 32, &nb, &nr), 0);
	cr_assert_eq(g_bad.bad, 1);
	cr_assert_eq(g_bad.bad_window, 0xFFFFFFFFu);
	cr_assert_eq(g_bad.bad_seq, 0x0100000000000000ull);
	cr_assert_eq(g_bad.bad_key_len, 5);
}
