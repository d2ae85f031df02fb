/*
 * test_flows_formats.c — the flow-record API (idx_flows_put,
 * idx_flow_foreach, idx_flows_count, idx_flows_last_window,
 * idx_flows_drop_*, idx_flows_read_merged) gives the same results on a
 * format-1 index (table flows) and a format-2 index (blocks of v2_flows)
 * for the same records: several windows, several flushes of one window,
 * one flow's records split across flushes, more than one block's worth in
 * a window, IPv6, several VNIs and the untunnelled; merged reads with
 * expressions over 1 and 2 indexes, mixed formats included.  Also: each
 * format keeps its records in its own table, and a merged read of many
 * windows holds one window at a time.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../index/flows2.h"

#define W0 1764000000u /* a multiple of 600 */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

enum { NX = 4 };          /* v1 A, v2 A, v1 B, v2 B */
static char g_dir[NX][64];
static idx *g_x[NX];
#define V1A g_x[0]
#define V2A g_x[1]
#define V1B g_x[2]
#define V2B g_x[3]

static void setup(void)
{
	for (int i = 0; i < NX; i++) {
		idx_cfg cfg;
		strcpy(g_dir[i], "/tmp/tv_flowsfmt_XXXXXX");
		cr_assert_not_null(mkdtemp(g_dir[i]));
		idx_cfg_default(&cfg);
		cfg.writable = true;
		cfg.map_size = (uint64_t)1 << 30;
		cfg.format = (i % 2) ? 2 : 1;
		cr_assert_eq(idx_open(g_dir[i], &cfg, &g_x[i]), 0);
		cr_assert_eq(idx_format(g_x[i]), cfg.format);
	}
}

static void teardown(void)
{
	for (int i = 0; i < NX; i++) {
		idx_close(g_x[i]);
		nftw(g_dir[i], rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	}
}

TestSuite(flows_formats, .init = setup, .fini = teardown);

/* Flow i of a small population: IPv4 and (every 5th) IPv6 clients of a few
 * servers, three interfaces (two VNIs and the untunnelled). */
static void mkflow(tv_flowrec *r, uint32_t i, uint32_t window, uint32_t part)
{
	memset(r, 0, sizeof *r);
	if (i % 5 == 4) {
		uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			          (uint8_t)(i >> 8), (uint8_t)i };
		tv_addr_from_v6(&r->key.src, a);
		a[14] = 0xff;
		a[15] = (uint8_t)(i % 3);
		tv_addr_from_v6(&r->key.dst, a);
		r->ipver = 6;
	} else {
		uint8_t a[4] = { 10, 0, (uint8_t)(i >> 8), (uint8_t)i };
		tv_addr_from_v4(&r->key.src, a);
		a[2] = 200;
		a[3] = (uint8_t)(i % 3);
		tv_addr_from_v4(&r->key.dst, a);
		r->ipver = 4;
	}
	r->key.proto = i % 4 == 3 ? 17 : 6;
	r->key.sport = (uint16_t)(20000 + i);
	r->key.dport = r->key.proto == 17 ? 53 : (i % 2 ? 443 : 80);
	r->tcp_flags = r->key.proto == 6 ? (uint8_t)(part == 0 ? 0x02 : 0x11) : 0;
	uint8_t o[4] = { 172, 31, 0, (uint8_t)(1 + i % 3) };
	tv_addr_from_v4(&r->outer_src, o);
	r->vni = i % 3 == 2 ? TV_VNI_NONE : 100 + i % 3;
	r->window = window;
	r->start = window + (i * 7 + part * 200) % 600;
	r->end = r->start + (i + part) % 13;
	if (r->end >= window + 600)
		r->end = window + 599;
	r->packets = 1 + (i + part) % 50;
	r->bytes = 64 * r->packets + part;
}

/* The same batches into a v1 and a v2 index.  salt makes set B differ from
 * set A while sharing flows with it (so a two-store read merges). */
static size_t put_set(idx *a, idx *b, uint32_t salt)
{
	static tv_flowrec batch[6000];
	size_t n, total = 0;
	uint32_t i;

	/* flush 1: window W0, 5000 records (two blocks in format 2) */
	for (n = 0, i = 0; i < 5000; i++)
		mkflow(&batch[n++], i + salt, W0, 0);
	cr_assert_eq(idx_flows_put(a, batch, n), 0);
	cr_assert_eq(idx_flows_put(b, batch, n), 0);
	total += n;
	/* flush 2: an early flush of window W0 + 600 interleaved with late
	 * records of flows of flush 1 (the same flows, W0 again) */
	for (n = 0, i = 0; i < 900; i++) {
		mkflow(&batch[n++], i * 3 + salt, W0 + 600, 0);
		if (i % 3 == 0)
			mkflow(&batch[n++], i * 5 + salt, W0, 1);
	}
	cr_assert_eq(idx_flows_put(a, batch, n), 0);
	cr_assert_eq(idx_flows_put(b, batch, n), 0);
	total += n;
	/* flush 3: the rest of window W0 + 600 (flows split across flushes),
	 * then a later window listed first, then window W0 + 1200 */
	for (n = 0, i = 0; i < 600; i++)
		mkflow(&batch[n++], i * 3 + salt, W0 + 600, 2);
	for (i = 0; i < 50; i++)
		mkflow(&batch[n++], i + salt, W0 + 3000, 0);
	for (i = 0; i < 400; i++)
		mkflow(&batch[n++], i + 7 + salt, W0 + 1200, 0);
	cr_assert_eq(idx_flows_put(a, batch, n), 0);
	cr_assert_eq(idx_flows_put(b, batch, n), 0);
	total += n;
	/* flush 4: one record */
	mkflow(&batch[0], 4242 + salt, W0 + 1200, 3);
	cr_assert_eq(idx_flows_put(a, batch, 1), 0);
	cr_assert_eq(idx_flows_put(b, batch, 1), 0);
	return total + 1;
}

/* ------------------------------------------------ recorded API output */

/* A growing byte string: what an API handed out, records in the stored
 * 108-byte layout, so two outputs compare with memcmp. */
typedef struct out {
	uint8_t *p;
	size_t n, cap;
	size_t records;
} out;

static void out_add(out *o, const void *p, size_t n)
{
	if (o->n + n > o->cap) {
		o->cap = (o->n + n) * 2;
		o->p = realloc(o->p, o->cap);
		cr_assert_not_null(o->p);
	}
	memcpy(o->p + o->n, p, n);
	o->n += n;
}

static void out_rec(out *o, const tv_flowrec *r)
{
	uint8_t b[IDX_FLOW_VAL_LEN];
	idx_flow_val_encode(r, b);
	out_add(o, b, sizeof b);
	o->records++;
}

static int foreach_cb(void *ctx, const tv_flowrec *r)
{
	out_rec(ctx, r);
	return 0;
}

static void same(out *a, out *b, const char *what)
{
	cr_assert_eq(a->records, b->records, "%s: %zu records vs %zu", what, a->records, b->records);
	cr_assert_eq(a->n, b->n, "%s", what);
	cr_assert(a->n == 0 || memcmp(a->p, b->p, a->n) == 0, "%s: same records in the same order",
	          what);
	free(a->p);
	free(b->p);
	memset(a, 0, sizeof *a);
	memset(b, 0, sizeof *b);
}

static void foreach_out(idx *x, uint32_t from, uint32_t to, out *o)
{
	memset(o, 0, sizeof *o);
	cr_assert_eq(idx_flow_foreach(x, from, to, foreach_cb, o), 0);
}

static void compare_foreach(idx *v1, idx *v2, uint32_t from, uint32_t to, size_t expect)
{
	out a, b;
	foreach_out(v1, from, to, &a);
	foreach_out(v2, from, to, &b);
	cr_assert_eq(a.records, expect, "windows %u..%u: %zu records", from, to, a.records);
	same(&a, &b, "foreach");
}

static int window_cb(void *ctx, uint32_t w, tv_flowrec *v, size_t n)
{
	out *o = ctx;
	uint8_t wb[8];
	tv_put_le32(wb, w);
	tv_put_le32(wb + 4, (uint32_t)n);
	out_add(o, wb, sizeof wb);
	for (size_t i = 0; i < n; i++)
		out_rec(o, &v[i]);
	return 0;
}

static void merged_out(idx *const *xs, int nx, const char *expr, out *o, idx_flows_read_stats *st)
{
	idx_expr *e = NULL;
	memset(o, 0, sizeof *o);
	if (expr)
		cr_assert_eq(idx_expr_parse(expr, 0, &e, NULL), 0, "%s", expr);
	cr_assert_eq(idx_flows_read_merged(xs, nx, e, window_cb, o, st), 0);
	idx_expr_free(e);
}

static const char *const EXPRS[] = {
	NULL,
	"host 10.0.1.7",
	"vni 101",
	"tcp and port 443",
	"ip6 and udp",
	"net 2001:db8::/32 and not vni 100",
	"after 1764000300 and before 1764000900",
	"not before 1764000900",
	"dst host 10.0.200.1 or src port 20011",
};

/* Every expression over stores xs (v1) and ys (v2 or mixed): the same
 * windows, records, order and statistics.  Returns the records matched
 * over all expressions, and the records merged. */
static void compare_merged(idx *const *xs, idx *const *ys, int n, uint64_t *matched,
                           uint64_t *merged)
{
	*matched = *merged = 0;
	for (size_t i = 0; i < sizeof EXPRS / sizeof EXPRS[0]; i++) {
		out a, b;
		idx_flows_read_stats sa, sb;
		merged_out(xs, n, EXPRS[i], &a, &sa);
		merged_out(ys, n, EXPRS[i], &b, &sb);
		cr_assert_eq(sa.from, sb.from);
		cr_assert_eq(sa.to, sb.to);
		cr_assert_eq(sa.read, sb.read, "%s: read %llu vs %llu", EXPRS[i] ? EXPRS[i] : "(all)",
		             (unsigned long long)sa.read, (unsigned long long)sb.read);
		cr_assert_eq(sa.merged, sb.merged);
		cr_assert_eq(sa.matched, sb.matched);
		*matched += sa.matched;
		*merged += sa.merged;
		same(&a, &b, EXPRS[i] ? EXPRS[i] : "(all)");
	}
}

/* A foreach callback that stops after `left` records with 77. */
typedef struct stopper {
	out *o;
	int left;
} stopper;

static int stop_cb(void *ctx, const tv_flowrec *r)
{
	stopper *s = ctx;
	if (s->left-- == 0)
		return 77;
	out_rec(s->o, r);
	return 0;
}

/* ------------------------------------------------------------- tests */

Test(flows_formats, each_format_keeps_its_records_in_its_own_table)
{
	size_t n = put_set(V1A, V2A, 0);
	MDB_txn *txn;
	MDB_stat s1, s2;
	cr_assert_eq(idx_txn_begin(V1A, false, &txn), 0);
	cr_assert_eq(mdb_stat(txn, V1A->db_flows, &s1), 0);
	cr_assert_eq(mdb_stat(txn, V1A->db2_flows, &s2), 0);
	mdb_txn_abort(txn);
	cr_assert_eq(s1.ms_entries, n);
	cr_assert_eq(s2.ms_entries, 0);
	cr_assert_eq(idx_txn_begin(V2A, false, &txn), 0);
	cr_assert_eq(mdb_stat(txn, V2A->db_flows, &s1), 0);
	cr_assert_eq(mdb_stat(txn, V2A->db2_flows, &s2), 0);
	mdb_txn_abort(txn);
	cr_assert_eq(s1.ms_entries, 0);
	/* W0: 5000 + 300 (two flushes: 4096 + 904, 300), W0 + 600: 2,
	 * W0 + 1200: 2, W0 + 3000: 1 */
	cr_assert_eq(s2.ms_entries, 3 + 2 + 2 + 1, "%zu blocks", (size_t)s2.ms_entries);
}

Test(flows_formats, foreach_count_and_last_window_agree)
{
	size_t n = put_set(V1A, V2A, 0);
	uint64_t c1, c2;
	uint32_t w1, w2;
	bool a1, a2;

	cr_assert_eq(idx_flows_count(V1A, &c1), 0);
	cr_assert_eq(idx_flows_count(V2A, &c2), 0);
	cr_assert_eq(c1, n);
	cr_assert_eq(c2, n);
	cr_assert_eq(idx_flows_last_window(V1A, &w1, &a1), 0);
	cr_assert_eq(idx_flows_last_window(V2A, &w2, &a2), 0);
	cr_assert(a1 && a2);
	cr_assert_eq(w1, W0 + 3000);
	cr_assert_eq(w2, W0 + 3000);

	compare_foreach(V1A, V2A, 0, UINT32_MAX, n);
	compare_foreach(V1A, V2A, W0, W0, 5300);
	compare_foreach(V1A, V2A, W0 + 600, W0 + 1200, 1500 + 401);
	compare_foreach(V1A, V2A, W0 + 1, W0 + 599, 0);
	compare_foreach(V1A, V2A, W0 + 1200, UINT32_MAX, 401 + 50);
	compare_foreach(V1A, V2A, W0 + 3001, UINT32_MAX, 0);

	/* a callback that stops: both stop at the same record with its value */
	out a, b;
	int stop_at = 4100;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	stopper s1 = { &a, stop_at }, s2 = { &b, stop_at };
	cr_assert_eq(idx_flow_foreach(V1A, 0, UINT32_MAX, stop_cb, &s1), 77);
	cr_assert_eq(idx_flow_foreach(V2A, 0, UINT32_MAX, stop_cb, &s2), 77);
	cr_assert_eq(a.records, (size_t)stop_at);
	same(&a, &b, "stopped foreach");
}

Test(flows_formats, empty_indexes_agree)
{
	uint64_t c1 = 9, c2 = 9, d1 = 9, d2 = 9;
	uint32_t w1 = 9, w2 = 9;
	bool a1 = true, a2 = true;
	cr_assert_eq(idx_flows_count(V1A, &c1), 0);
	cr_assert_eq(idx_flows_count(V2A, &c2), 0);
	cr_assert(c1 == 0 && c2 == 0);
	cr_assert_eq(idx_flows_last_window(V1A, &w1, &a1), 0);
	cr_assert_eq(idx_flows_last_window(V2A, &w2, &a2), 0);
	cr_assert(!a1 && !a2 && w1 == 0 && w2 == 0);
	cr_assert_eq(idx_flows_drop_before(V1A, UINT32_MAX, &d1), 0);
	cr_assert_eq(idx_flows_drop_before(V2A, UINT32_MAX, &d2), 0);
	cr_assert(d1 == 0 && d2 == 0);
	cr_assert_eq(idx_flows_put(V2A, NULL, 0), 0);
	compare_foreach(V1A, V2A, 0, UINT32_MAX, 0);
	uint64_t m, g;
	idx *xs[1] = { V1A }, *ys[1] = { V2A };
	compare_merged(xs, ys, 1, &m, &g);
	cr_assert_eq(m, 0);
}

Test(flows_formats, merged_reads_of_one_store_agree)
{
	put_set(V1A, V2A, 0);
	idx *xs[1] = { V1A }, *ys[1] = { V2A };
	uint64_t matched, merged;
	compare_merged(xs, ys, 1, &matched, &merged);
	/* not vacuous: records were matched and flows split across flushes
	 * were merged */
	cr_assert_gt(matched, 1000);
	cr_assert_gt(merged, 100);
}

Test(flows_formats, merged_reads_of_two_stores_agree_in_any_mix_of_formats)
{
	put_set(V1A, V2A, 0);
	put_set(V1B, V2B, 3);
	idx *v1[2] = { V1A, V1B }, *v2[2] = { V2A, V2B }, *m12[2] = { V1A, V2B }, *m21[2] = { V2A, V1B };
	uint64_t matched, merged, matched1, merged1;
	compare_merged(v1, v2, 2, &matched, &merged);
	compare_merged(v1, m12, 2, &matched1, &merged1);
	compare_merged(v1, m21, 2, &matched1, &merged1);
	/* the second store's records of the same flows merged into the first's */
	idx *one[1] = { V1A };
	uint64_t matched_one, merged_one;
	compare_merged(one, one, 1, &matched_one, &merged_one);
	cr_assert_gt(merged, merged_one + 1000);
	cr_assert_gt(matched, 1000);
}

Test(flows_formats, drops_agree)
{
	size_t n = put_set(V1A, V2A, 0);
	uint64_t d1, d2, c1, c2;

	cr_assert_eq(idx_flows_drop_before(V1A, W0, &d1), 0);
	cr_assert_eq(idx_flows_drop_before(V2A, W0, &d2), 0);
	cr_assert(d1 == 0 && d2 == 0);
	/* retention: windows before W0 + 600 (not at a window start: W0 + 1) */
	cr_assert_eq(idx_flows_drop_before(V1A, W0 + 1, &d1), 0);
	cr_assert_eq(idx_flows_drop_before(V2A, W0 + 1, &d2), 0);
	cr_assert_eq(d1, 5300);
	cr_assert_eq(d2, 5300);
	compare_foreach(V1A, V2A, 0, UINT32_MAX, n - 5300);
	/* the crash rebuild: windows from W0 + 1200 */
	cr_assert_eq(idx_flows_drop_from(V1A, W0 + 1200, &d1), 0);
	cr_assert_eq(idx_flows_drop_from(V2A, W0 + 1200, &d2), 0);
	cr_assert_eq(d1, 451);
	cr_assert_eq(d2, 451);
	compare_foreach(V1A, V2A, 0, UINT32_MAX, 1500);
	cr_assert_eq(idx_flows_count(V1A, &c1), 0);
	cr_assert_eq(idx_flows_count(V2A, &c2), 0);
	cr_assert(c1 == 1500 && c2 == 1500);
	uint32_t w1, w2;
	bool a1, a2;
	cr_assert_eq(idx_flows_last_window(V1A, &w1, &a1), 0);
	cr_assert_eq(idx_flows_last_window(V2A, &w2, &a2), 0);
	cr_assert(a1 && a2 && w1 == W0 + 600 && w2 == W0 + 600);
	idx *xs[1] = { V1A }, *ys[1] = { V2A };
	uint64_t m, g;
	compare_merged(xs, ys, 1, &m, &g);
	/* puts after the drops continue both sequences */
	tv_flowrec r;
	mkflow(&r, 1, W0 + 600, 9);
	cr_assert_eq(idx_flows_put(V1A, &r, 1), 0);
	cr_assert_eq(idx_flows_put(V2A, &r, 1), 0);
	compare_foreach(V1A, V2A, 0, UINT32_MAX, 1501);
	cr_assert_eq(idx_flows_drop_from(V1A, 0, &d1), 0);
	cr_assert_eq(idx_flows_drop_from(V2A, 0, &d2), 0);
	cr_assert(d1 == 1501 && d2 == 1501);
	cr_assert_eq(idx_flows_count(V2A, &c2), 0);
	cr_assert_eq(c2, 0);
}

Test(flows_formats, a_read_only_open_reads_the_format_it_finds)
{
	size_t n = put_set(V1A, V2A, 0);
	idx *ro[2];
	for (int i = 0; i < 2; i++) {
		idx_cfg cfg;
		idx_cfg_default(&cfg); /* format 0: an existing index keeps its own */
		cr_assert_eq(idx_open(g_dir[i], &cfg, &ro[i]), 0);
		cr_assert_eq(idx_format(ro[i]), (uint32_t)i + 1);
	}
	compare_foreach(ro[0], ro[1], 0, UINT32_MAX, n);
	uint64_t d;
	cr_assert_eq(idx_flows_drop_before(ro[1], UINT32_MAX, &d), EROFS);
	cr_assert_eq(idx_flows_put(ro[1], NULL, 1), EROFS);
	idx_close(ro[0]);
	idx_close(ro[1]);
}

/* Memory: a merged read holds one window's records and one block buffer,
 * whatever the number of windows: the heap in use while handing out the
 * 100th window is what it was at the 20th. */
static int heap_cb(void *ctx, uint32_t w, tv_flowrec *v, size_t n)
{
	size_t *use = ctx;
	(void)v;
	cr_assert_eq(n, 100);
	size_t k = (w - W0) / 600;
	use[k] = mallinfo2().uordblks;
	return 0;
}

Test(flows_formats, a_merged_read_of_many_windows_stays_bounded)
{
	enum { NW = 100, PER = 100 };
	static tv_flowrec batch[PER];
	static size_t use1[NW], use2[NW];
	for (uint32_t w = 0; w < NW; w++) {
		for (uint32_t i = 0; i < PER; i++)
			mkflow(&batch[i], i, W0 + 600 * w, 0);
		cr_assert_eq(idx_flows_put(V1A, batch, PER), 0);
		cr_assert_eq(idx_flows_put(V2A, batch, PER), 0);
	}
	idx_flows_read_stats st;
	idx *xs[1] = { V2A }, *ys[2] = { V1A, V2A };
	cr_assert_eq(idx_flows_read_merged(xs, 1, NULL, heap_cb, use1, &st), 0);
	cr_assert_eq(st.read, NW * PER);
	cr_assert_eq(idx_flows_read_merged(ys, 2, NULL, heap_cb, use2, &st), 0);
	cr_assert_eq(st.merged, NW * PER);
	cr_assert_eq(use1[NW - 1], use1[19], "%zu then %zu bytes", use1[19], use1[NW - 1]);
	cr_assert_eq(use2[NW - 1], use2[19], "%zu then %zu bytes", use2[19], use2[NW - 1]);
}

/* --------------------------------------------------------------- carry */

/* A fresh writable index of a format, as reindex makes the new one. */
static idx *fresh(char dir[64], uint32_t format)
{
	idx_cfg cfg;
	idx *x;
	strcpy(dir, "/tmp/tv_flowscarry_XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	idx_cfg_default(&cfg);
	cfg.writable = true;
	cfg.map_size = (uint64_t)1 << 30;
	cfg.format = format;
	cr_assert_eq(idx_open(dir, &cfg, &x), 0);
	return x;
}

static void gone(idx *x, char dir[64])
{
	idx_close(x);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t entries(idx *x, bool v2)
{
	MDB_txn *txn;
	MDB_stat st;
	cr_assert_eq(idx_txn_begin(x, false, &txn), 0);
	cr_assert_eq(mdb_stat(txn, v2 ? x->db2_flows : x->db_flows, &st), 0);
	mdb_txn_abort(txn);
	return st.ms_entries;
}

/* reindex keeps the flow records: from either format into either, the
 * same records in the same order, the old seq never given again. */
Test(flows_formats, carry_keeps_the_flow_records_in_any_pair_of_formats)
{
	size_t n = put_set(V1A, V2A, 0);
	for (int s = 0; s < 2; s++) {
		idx *src = s ? V2A : V1A;
		uint64_t src_seq;
		cr_assert_eq(idx_meta_u64_get(src, "flow_seq", &src_seq), 0);
		for (uint32_t f = 1; f <= 2; f++) {
			char dir[64];
			idx *dst = fresh(dir, f);
			idx_carry_report rep;
			uint64_t c, seq;
			cr_assert_eq(idx_carry(dst, src, &rep), 0, "format %d -> %u", s + 1, f);
			cr_assert_eq(rep.flows, n, "format %d -> %u: %llu records", s + 1, f,
			             (unsigned long long)rep.flows);
			compare_foreach(V1A, dst, 0, UINT32_MAX, n);
			cr_assert_eq(idx_flows_count(dst, &c), 0);
			cr_assert_eq(c, n);
			cr_assert_eq(entries(dst, f == 1), 0, "nothing in the other format's table");
			if (f == (uint32_t)s + 1)
				cr_assert_eq(entries(dst, f == 2), entries(src, f == 2),
				             "same format: the entries as they were");
			cr_assert_eq(idx_meta_u64_get(dst, "flow_seq", &seq), 0);
			cr_assert_geq(seq, src_seq);
			cr_assert_geq(seq, entries(dst, f == 2), "a seq for every entry");
			/* a put after the carry takes a new key (v1 would
			 * overwrite a record under a seq given twice) */
			tv_flowrec r;
			mkflow(&r, 77, W0 + 3000, 5);
			cr_assert_eq(idx_flows_put(dst, &r, 1), 0);
			cr_assert_eq(idx_flows_count(dst, &c), 0);
			cr_assert_eq(c, n + 1);
			gone(dst, dir);
		}
	}
}

/* A block readers would refuse is not carried, and nothing is: one
 * transaction.  A new index that holds flow records already is refused. */
Test(flows_formats, carry_refuses_a_corrupt_block_and_a_dst_with_records)
{
	put_set(V1A, V2A, 0);
	char dir[64];
	idx *dst = fresh(dir, 2);
	idx_carry_report rep;
	tv_flowrec r;
	mkflow(&r, 1, W0, 0);
	cr_assert_eq(idx_flows_put(dst, &r, 1), 0);
	cr_assert_eq(idx_carry(dst, V2A, &rep), TV_E_EXISTS);
	gone(dst, dir);

	/* a block whose zstd frame is cut: its header alone is sound */
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	static uint8_t kb[12], vb[1 << 20];
	cr_assert_eq(idx_txn_begin(V2A, true, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, V2A->db2_flows, &cur), 0);
	cr_assert_eq(mdb_cursor_get(cur, &k, &d, MDB_LAST), 0);
	cr_assert_lt(d.mv_size, sizeof vb);
	memcpy(kb, k.mv_data, 12);
	memcpy(vb, d.mv_data, d.mv_size);
	k.mv_data = kb;
	d.mv_data = vb;
	d.mv_size--;
	mdb_cursor_close(cur);
	cr_assert_eq(mdb_put(txn, V2A->db2_flows, &k, &d, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	for (uint32_t f = 1; f <= 2; f++) {
		uint64_t c;
		dst = fresh(dir, f);
		cr_assert_eq(idx_carry(dst, V2A, &rep), TV_E_CORRUPT, "into format %u", f);
		cr_assert_eq(idx_flows_count(dst, &c), 0);
		cr_assert_eq(c, 0);
		gone(dst, dir);
	}
}

/* ------------------------------------------- malformed entries in drops */

/* Retention and the crash rebuild must get past an entry they cannot
 * read: on both formats it is deleted with its range and named. */
Test(flows_formats, drops_delete_and_name_malformed_entries_on_both_formats)
{
	put_set(V1A, V2A, 0);
	for (int i = 0; i < 2; i++) {
		idx *x = i ? V2A : V1A;
		MDB_txn *txn;
		uint8_t kb[11], vb[8] = { 0 };
		MDB_val k = { sizeof kb, kb }, d = { sizeof vb, vb };
		/* an 11-byte key among the keys of window W0 */
		tv_put_be32(kb, W0);
		memset(kb + 4, 0x80, 7);
		cr_assert_eq(idx_txn_begin(x, true, &txn), 0);
		cr_assert_eq(mdb_put(txn, i ? x->db2_flows : x->db_flows, &k, &d, 0), 0);
		cr_assert_eq(mdb_txn_commit(txn), 0);
		uint64_t dropped, c;
		cr_assert_eq(idx_flows_drop_before(x, W0 + 600, &dropped), 0, "format %d", i + 1);
		cr_assert_eq(dropped, 5300, "format %d: %llu", i + 1, (unsigned long long)dropped);
		cr_assert_eq(idx_flows_count(x, &c), 0);
		cr_assert_eq(c, 1500 + 401 + 50, "format %d: every record of W0 went", i + 1);

		/* the report names it */
		tv_put_be32(kb, W0 + 1200);
		cr_assert_eq(idx_txn_begin(x, true, &txn), 0);
		cr_assert_eq(mdb_put(txn, i ? x->db2_flows : x->db_flows, &k, &d, 0), 0);
		cr_assert_eq(mdb_txn_commit(txn), 0);
		idx_flows_drop_report r;
		cr_assert_eq(idx_flows_drop_range(x, W0 + 1200, (uint64_t)1 << 32, &r), 0);
		cr_assert_eq(r.records, 451);
		cr_assert_eq(r.blocks, i ? 3 : 0);
		cr_assert_eq(r.bad, 1);
		cr_assert_eq(r.bad_window, W0 + 1200);
		cr_assert_eq(r.bad_seq, 0x8080808080808000ull);
		cr_assert_eq(r.bad_key_len, 11);
	}
	compare_foreach(V1A, V2A, 0, UINT32_MAX, 1500);
}

/* The crash rebuild drops the windows from (last window - interval): a
 * malformed last key must not read as "no records" (a drop from 0). */
Test(flows_formats, last_window_of_a_malformed_last_key_is_where_it_sorts)
{
	put_set(V1A, V2A, 0);
	for (int i = 0; i < 2; i++) {
		idx *x = i ? V2A : V1A;
		MDB_txn *txn;
		uint8_t kb[5] = { 0 }, vb[8] = { 0 };
		MDB_val k = { sizeof kb, kb }, d = { sizeof vb, vb };
		tv_put_be32(kb, W0 + 3600);
		cr_assert_eq(idx_txn_begin(x, true, &txn), 0);
		cr_assert_eq(mdb_put(txn, i ? x->db2_flows : x->db_flows, &k, &d, 0), 0);
		cr_assert_eq(mdb_txn_commit(txn), 0);
		uint32_t w;
		bool any;
		cr_assert_eq(idx_flows_last_window(x, &w, &any), 0);
		cr_assert(any, "format %d", i + 1);
		cr_assert_eq(w, W0 + 3600);
		uint64_t dropped, c;
		cr_assert_eq(idx_flows_drop_from(x, w - 600, &dropped), 0);
		cr_assert_eq(idx_flows_count(x, &c), 0);
		cr_assert_eq(c, 5300 + 1500 + 401, "format %d: older windows kept", i + 1);
	}
}
