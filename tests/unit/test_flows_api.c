/*
 * test_flows_api.c — the flow-record API (idx_flows_put, idx_flow_foreach,
 * idx_flows_count, idx_flows_last_window, idx_flows_drop_*,
 * idx_flows_read_merged, idx_carry) over the blocks of v2_flows, against
 * what was put: several windows, several flushes of one window, one
 * flow's records split across flushes, more than one block's worth in a
 * window, IPv6, several VNIs and the untunnelled.  A read hands out the
 * records in window order, and within a window in the order of the puts
 * and of each batch (FORMAT.md "VPC flow records"); a merged read of one
 * or two indexes gives, per window, every record of it merged
 * (idx_flowrecs_merge) and matched (idx_flowrec_match).  Also: a merged
 * read of many windows holds one window at a time; reindex's carry; drops
 * past malformed entries.
 *
 * (Until format 1 was removed this file compared each call on a format-1
 * index with the same call on a format-2 one; the records put are now the
 * reference.)
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

enum { NX = 2 };          /* stores A and B */
static char g_dir[NX][64];
static idx *g_x[NX];
#define XA g_x[0]
#define XB g_x[1]

/* What was put into each store, in put order (the reference). */
static tv_flowrec *g_in[NX];
static size_t g_nin[NX], g_cin[NX];

static int store_no(const idx *x)
{
	for (int i = 0; i < NX; i++)
		if (g_x[i] == x)
			return i;
	cr_assert_fail("not a store of the test");
	return -1;
}

/* idx_flows_put, remembered. */
static void put(idx *x, const tv_flowrec *v, size_t n)
{
	int s = store_no(x);
	cr_assert_eq(idx_flows_put(x, v, n), 0);
	if (g_nin[s] + n > g_cin[s]) {
		g_cin[s] = (g_nin[s] + n) * 2;
		g_in[s] = realloc(g_in[s], g_cin[s] * sizeof *g_in[s]);
		cr_assert_not_null(g_in[s]);
	}
	memcpy(g_in[s] + g_nin[s], v, n * sizeof *v);
	g_nin[s] += n;
}

/* Forgets what a drop of windows [a, b) deleted. */
static void forget(idx *x, uint32_t a, uint64_t b)
{
	int s = store_no(x);
	size_t k = 0;
	for (size_t i = 0; i < g_nin[s]; i++)
		if (g_in[s][i].window < a || g_in[s][i].window >= b)
			g_in[s][k++] = g_in[s][i];
	g_nin[s] = k;
}

static void setup(void)
{
	for (int i = 0; i < NX; i++) {
		idx_cfg cfg;
		strcpy(g_dir[i], "/tmp/tv_flowsapi_XXXXXX");
		cr_assert_not_null(mkdtemp(g_dir[i]));
		idx_cfg_default(&cfg);
		cfg.writable = true;
		cfg.map_size = (uint64_t)1 << 30;
		cr_assert_eq(idx_open(g_dir[i], &cfg, &g_x[i]), 0);
		g_nin[i] = 0;
	}
}

static void teardown(void)
{
	for (int i = 0; i < NX; i++) {
		idx_close(g_x[i]);
		nftw(g_dir[i], rm_cb, 16, FTW_DEPTH | FTW_PHYS);
		free(g_in[i]);
		g_in[i] = NULL;
		g_nin[i] = g_cin[i] = 0;
	}
}

TestSuite(flows_api, .init = setup, .fini = teardown);

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

/* The same batches into one index.  salt makes set B differ from set A
 * while sharing flows with it (so a two-store read merges). */
static size_t put_set(idx *a, uint32_t salt)
{
	static tv_flowrec batch[6000];
	size_t n, total = 0;
	uint32_t i;

	/* flush 1: window W0, 5000 records (two blocks in format 2) */
	for (n = 0, i = 0; i < 5000; i++)
		mkflow(&batch[n++], i + salt, W0, 0);
	put(a, batch, n);
	total += n;
	/* flush 2: an early flush of window W0 + 600 interleaved with late
	 * records of flows of flush 1 (the same flows, W0 again) */
	for (n = 0, i = 0; i < 900; i++) {
		mkflow(&batch[n++], i * 3 + salt, W0 + 600, 0);
		if (i % 3 == 0)
			mkflow(&batch[n++], i * 5 + salt, W0, 1);
	}
	put(a, batch, n);
	total += n;
	/* flush 3: the rest of window W0 + 600 (flows split across flushes),
	 * then a later window listed first, then window W0 + 1200 */
	for (n = 0, i = 0; i < 600; i++)
		mkflow(&batch[n++], i * 3 + salt, W0 + 600, 2);
	for (i = 0; i < 50; i++)
		mkflow(&batch[n++], i + salt, W0 + 3000, 0);
	for (i = 0; i < 400; i++)
		mkflow(&batch[n++], i + 7 + salt, W0 + 1200, 0);
	put(a, batch, n);
	total += n;
	/* flush 4: one record */
	mkflow(&batch[0], 4242 + salt, W0 + 1200, 3);
	put(a, batch, 1);
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

/* A record put, by window and then put order. */
typedef struct ord {
	uint32_t w;
	size_t i;
} ord;

static int ord_cmp(const void *a, const void *b)
{
	const ord *x = a, *y = b;
	if (x->w != y->w)
		return x->w < y->w ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* What a read of windows from..to of x must hand out: the records put,
 * in window order, within a window in the order they were put. */
static void expect_foreach(idx *x, uint32_t from, uint32_t to, out *o)
{
	int s = store_no(x);
	ord *v = calloc(g_nin[s] + 1, sizeof *v);
	size_t n = 0;
	cr_assert_not_null(v);
	memset(o, 0, sizeof *o);
	for (size_t i = 0; i < g_nin[s]; i++)
		if (g_in[s][i].window >= from && g_in[s][i].window <= to) {
			v[n].w = g_in[s][i].window;
			v[n++].i = i;
		}
	qsort(v, n, sizeof *v, ord_cmp);
	for (size_t i = 0; i < n; i++)
		out_rec(o, &g_in[s][v[i].i]);
	free(v);
}

static void check_foreach(idx *x, uint32_t from, uint32_t to, size_t expect)
{
	out a, b;
	foreach_out(x, from, to, &a);
	expect_foreach(x, from, to, &b);
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

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* What a merged read of xs must give: for each window start in the
 * expression's window range that holds records, in increasing order,
 * every store's records of it, merged, then matched. */
static void expect_merged(idx *const *xs, int nx, const char *expr, out *o,
                          idx_flows_read_stats *st)
{
	idx_expr *e = NULL;
	uint32_t from, to, *ws;
	size_t nw = 0, total = 0;
	tv_flowrec *v;

	memset(o, 0, sizeof *o);
	memset(st, 0, sizeof *st);
	if (expr)
		cr_assert_eq(idx_expr_parse(expr, 0, &e, NULL), 0, "%s", expr);
	for (int k = 0; k < nx; k++)
		total += g_nin[store_no(xs[k])];
	ws = calloc(total + 1, sizeof *ws);
	v = calloc(total + 1, sizeof *v);
	cr_assert(ws && v);
	if (idx_flows_window_range(e, &from, &to)) {
		st->from = from;
		st->to = to;
		for (int k = 0; k < nx; k++) {
			int s = store_no(xs[k]);
			for (size_t i = 0; i < g_nin[s]; i++)
				if (g_in[s][i].window >= from && g_in[s][i].window <= to)
					ws[nw++] = g_in[s][i].window;
		}
	}
	qsort(ws, nw, sizeof *ws, u32_cmp);
	for (size_t i = 0; i < nw; i++) {
		size_t n = 0, m, kept = 0;
		if (i && ws[i] == ws[i - 1])
			continue;
		for (int k = 0; k < nx; k++) {
			int s = store_no(xs[k]);
			for (size_t j = 0; j < g_nin[s]; j++)
				if (g_in[s][j].window == ws[i])
					v[n++] = g_in[s][j];
		}
		m = idx_flowrecs_merge(v, n);
		for (size_t j = 0; j < m; j++)
			if (idx_flowrec_match(e, &v[j]))
				v[kept++] = v[j];
		st->read += n;
		st->merged += n - m;
		st->matched += kept;
		window_cb(o, ws[i], v, kept);
	}
	free(ws);
	free(v);
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

/* Every expression over stores xs: the windows, records, order and
 * statistics that the records put give.  Returns the records matched over
 * all expressions, and the records merged. */
static void check_merged(idx *const *xs, int n, uint64_t *matched, uint64_t *merged)
{
	*matched = *merged = 0;
	for (size_t i = 0; i < sizeof EXPRS / sizeof EXPRS[0]; i++) {
		out a, b;
		idx_flows_read_stats sa, sb;
		merged_out(xs, n, EXPRS[i], &a, &sa);
		expect_merged(xs, n, EXPRS[i], &b, &sb);
		cr_assert_eq(sa.from, sb.from);
		cr_assert_eq(sa.to, sb.to);
		cr_assert_eq(sa.read, sb.read, "%s: read %llu, put %llu", EXPRS[i] ? EXPRS[i] : "(all)",
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

static uint64_t blocks(idx *x)
{
	MDB_txn *txn;
	MDB_stat st;
	cr_assert_eq(idx_txn_begin(x, false, &txn), 0);
	cr_assert_eq(mdb_stat(txn, x->db2_flows, &st), 0);
	mdb_txn_abort(txn);
	return st.ms_entries;
}

/* ------------------------------------------------------------- tests */

Test(flows_api, a_put_is_blocks_of_at_most_4096_records_per_window)
{
	put_set(XA, 0);
	/* W0: 5000 + 300 (two flushes: 4096 + 904, 300), W0 + 600: 2,
	 * W0 + 1200: 2, W0 + 3000: 1 */
	cr_assert_eq(blocks(XA), 3 + 2 + 2 + 1, "%llu blocks", (unsigned long long)blocks(XA));
}

Test(flows_api, foreach_count_and_last_window)
{
	size_t n = put_set(XA, 0);
	uint64_t c;
	uint32_t w;
	bool any;

	cr_assert_eq(idx_flows_count(XA, &c), 0);
	cr_assert_eq(c, n);
	cr_assert_eq(idx_flows_last_window(XA, &w, &any), 0);
	cr_assert(any);
	cr_assert_eq(w, W0 + 3000);

	check_foreach(XA, 0, UINT32_MAX, n);
	check_foreach(XA, W0, W0, 5300);
	check_foreach(XA, W0 + 600, W0 + 1200, 1500 + 401);
	check_foreach(XA, W0 + 1, W0 + 599, 0);
	check_foreach(XA, W0 + 1200, UINT32_MAX, 401 + 50);
	check_foreach(XA, W0 + 3001, UINT32_MAX, 0);

	/* a callback that stops: at the record it says, with its value */
	out a, b;
	int stop_at = 4100;
	memset(&a, 0, sizeof a);
	stopper s1 = { &a, stop_at };
	cr_assert_eq(idx_flow_foreach(XA, 0, UINT32_MAX, stop_cb, &s1), 77);
	cr_assert_eq(a.records, (size_t)stop_at);
	expect_foreach(XA, 0, UINT32_MAX, &b);
	cr_assert_eq(memcmp(a.p, b.p, a.n), 0, "the first records");
	free(a.p);
	free(b.p);
}

Test(flows_api, an_empty_index)
{
	uint64_t c = 9, d = 9;
	uint32_t w = 9;
	bool any = true;
	cr_assert_eq(idx_flows_count(XA, &c), 0);
	cr_assert_eq(c, 0);
	cr_assert_eq(idx_flows_last_window(XA, &w, &any), 0);
	cr_assert(!any && w == 0);
	cr_assert_eq(idx_flows_drop_before(XA, UINT32_MAX, &d), 0);
	cr_assert_eq(d, 0);
	cr_assert_eq(idx_flows_put(XA, NULL, 0), 0);
	check_foreach(XA, 0, UINT32_MAX, 0);
	uint64_t m, g;
	idx *xs[1] = { XA };
	check_merged(xs, 1, &m, &g);
	cr_assert_eq(m, 0);
}

Test(flows_api, merged_reads_of_one_store)
{
	put_set(XA, 0);
	idx *xs[1] = { XA };
	uint64_t matched, merged;
	check_merged(xs, 1, &matched, &merged);
	/* not vacuous: records were matched and flows split across flushes
	 * were merged */
	cr_assert_gt(matched, 1000);
	cr_assert_gt(merged, 100);
}

Test(flows_api, merged_reads_of_two_stores)
{
	put_set(XA, 0);
	put_set(XB, 3);
	idx *two[2] = { XA, XB }, *one[1] = { XA };
	uint64_t matched, merged, matched_one, merged_one;
	check_merged(two, 2, &matched, &merged);
	/* the second store's records of the same flows merged into the first's */
	check_merged(one, 1, &matched_one, &merged_one);
	cr_assert_gt(merged, merged_one + 1000);
	cr_assert_gt(matched, 1000);
}

Test(flows_api, drops)
{
	size_t n = put_set(XA, 0);
	uint64_t d, c;

	cr_assert_eq(idx_flows_drop_before(XA, W0, &d), 0);
	cr_assert_eq(d, 0);
	/* retention: windows before W0 + 600 (not at a window start: W0 + 1) */
	cr_assert_eq(idx_flows_drop_before(XA, W0 + 1, &d), 0);
	cr_assert_eq(d, 5300);
	forget(XA, 0, W0 + 1);
	check_foreach(XA, 0, UINT32_MAX, n - 5300);
	/* the crash rebuild: windows from W0 + 1200 */
	cr_assert_eq(idx_flows_drop_from(XA, W0 + 1200, &d), 0);
	cr_assert_eq(d, 451);
	forget(XA, W0 + 1200, (uint64_t)1 << 32);
	check_foreach(XA, 0, UINT32_MAX, 1500);
	cr_assert_eq(idx_flows_count(XA, &c), 0);
	cr_assert_eq(c, 1500);
	uint32_t w;
	bool any;
	cr_assert_eq(idx_flows_last_window(XA, &w, &any), 0);
	cr_assert(any && w == W0 + 600);
	idx *xs[1] = { XA };
	uint64_t m, g;
	check_merged(xs, 1, &m, &g);
	/* a put after the drops continues the sequence */
	tv_flowrec r;
	mkflow(&r, 1, W0 + 600, 9);
	put(XA, &r, 1);
	check_foreach(XA, 0, UINT32_MAX, 1501);
	cr_assert_eq(idx_flows_drop_from(XA, 0, &d), 0);
	cr_assert_eq(d, 1501);
	cr_assert_eq(idx_flows_count(XA, &c), 0);
	cr_assert_eq(c, 0);
}

Test(flows_api, a_read_only_open_reads_and_refuses_writes)
{
	size_t n = put_set(XA, 0);
	idx *ro;
	idx_cfg cfg;
	out a, b;
	idx_cfg_default(&cfg);
	cr_assert_eq(idx_open(g_dir[0], &cfg, &ro), 0);
	foreach_out(ro, 0, UINT32_MAX, &a);
	foreach_out(XA, 0, UINT32_MAX, &b);
	cr_assert_eq(a.records, n);
	same(&a, &b, "read-only foreach");
	uint64_t d;
	cr_assert_eq(idx_flows_drop_before(ro, UINT32_MAX, &d), EROFS);
	cr_assert_eq(idx_flows_put(ro, NULL, 1), EROFS);
	idx_close(ro);
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

Test(flows_api, a_merged_read_of_many_windows_stays_bounded)
{
	enum { NW = 100, PER = 100 };
	static tv_flowrec batch[PER];
	static size_t use1[NW], use2[NW];
	for (uint32_t w = 0; w < NW; w++) {
		for (uint32_t i = 0; i < PER; i++)
			mkflow(&batch[i], i, W0 + 600 * w, 0);
		cr_assert_eq(idx_flows_put(XA, batch, PER), 0);
		cr_assert_eq(idx_flows_put(XB, batch, PER), 0);
	}
	idx_flows_read_stats st;
	idx *xs[1] = { XB }, *ys[2] = { XA, XB };
	cr_assert_eq(idx_flows_read_merged(xs, 1, NULL, heap_cb, use1, &st), 0);
	cr_assert_eq(st.read, NW * PER);
	cr_assert_eq(idx_flows_read_merged(ys, 2, NULL, heap_cb, use2, &st), 0);
	cr_assert_eq(st.merged, NW * PER);
	cr_assert_eq(use1[NW - 1], use1[19], "%zu then %zu bytes", use1[19], use1[NW - 1]);
	cr_assert_eq(use2[NW - 1], use2[19], "%zu then %zu bytes", use2[19], use2[NW - 1]);
}

/* --------------------------------------------------------------- carry */

/* A fresh writable index, as reindex makes the new one. */
static idx *fresh(char dir[64])
{
	idx_cfg cfg;
	idx *x;
	strcpy(dir, "/tmp/tv_flowscarry_XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	idx_cfg_default(&cfg);
	cfg.writable = true;
	cfg.map_size = (uint64_t)1 << 30;
	cr_assert_eq(idx_open(dir, &cfg, &x), 0);
	return x;
}

static void gone(idx *x, char dir[64])
{
	idx_close(x);
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* reindex keeps the flow records: the same records in the same order,
 * the blocks as they were, the old seq never given again. */
Test(flows_api, carry_keeps_the_flow_records)
{
	size_t n = put_set(XA, 0);
	uint64_t src_seq, c, seq;
	char dir[64];
	idx *dst = fresh(dir);
	idx_carry_report rep;
	out a, b;

	cr_assert_eq(idx_meta_u64_get(XA, "flow_seq", &src_seq), 0);
	cr_assert_eq(idx_carry(dst, XA, &rep), 0);
	cr_assert_eq(rep.flows, n, "%llu records", (unsigned long long)rep.flows);
	foreach_out(dst, 0, UINT32_MAX, &a);
	foreach_out(XA, 0, UINT32_MAX, &b);
	same(&a, &b, "carried");
	cr_assert_eq(idx_flows_count(dst, &c), 0);
	cr_assert_eq(c, n);
	cr_assert_eq(blocks(dst), blocks(XA), "the blocks as they were");
	cr_assert_eq(idx_meta_u64_get(dst, "flow_seq", &seq), 0);
	cr_assert_geq(seq, src_seq);
	cr_assert_geq(seq, blocks(dst), "a seq for every block");
	/* a put after the carry takes a new key */
	tv_flowrec r;
	mkflow(&r, 77, W0 + 3000, 5);
	cr_assert_eq(idx_flows_put(dst, &r, 1), 0);
	cr_assert_eq(idx_flows_count(dst, &c), 0);
	cr_assert_eq(c, n + 1);
	gone(dst, dir);
}

/* A block readers would refuse is not carried, and nothing is: one
 * transaction.  A new index that holds flow records already is refused. */
Test(flows_api, carry_refuses_a_corrupt_block_and_a_dst_with_records)
{
	put_set(XA, 0);
	char dir[64];
	idx *dst = fresh(dir);
	idx_carry_report rep;
	tv_flowrec r;
	uint64_t c;
	mkflow(&r, 1, W0, 0);
	cr_assert_eq(idx_flows_put(dst, &r, 1), 0);
	cr_assert_eq(idx_carry(dst, XA, &rep), TV_E_EXISTS);
	gone(dst, dir);

	/* a block whose zstd frame is cut: its header alone is sound */
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	static uint8_t kb[12], vb[1 << 20];
	cr_assert_eq(idx_txn_begin(XA, true, &txn), 0);
	cr_assert_eq(mdb_cursor_open(txn, XA->db2_flows, &cur), 0);
	cr_assert_eq(mdb_cursor_get(cur, &k, &d, MDB_LAST), 0);
	cr_assert_lt(d.mv_size, sizeof vb);
	memcpy(kb, k.mv_data, 12);
	memcpy(vb, d.mv_data, d.mv_size);
	k.mv_data = kb;
	d.mv_data = vb;
	d.mv_size--;
	mdb_cursor_close(cur);
	cr_assert_eq(mdb_put(txn, XA->db2_flows, &k, &d, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	dst = fresh(dir);
	cr_assert_eq(idx_carry(dst, XA, &rep), TV_E_CORRUPT);
	cr_assert_eq(idx_flows_count(dst, &c), 0);
	cr_assert_eq(c, 0);
	gone(dst, dir);
}

/* ------------------------------------------- malformed entries in drops */

/* Retention and the crash rebuild must get past an entry they cannot
 * read: it is deleted with its range and named. */
Test(flows_api, drops_delete_and_name_malformed_entries)
{
	put_set(XA, 0);
	MDB_txn *txn;
	uint8_t kb[11], vb[8] = { 0 };
	MDB_val k = { sizeof kb, kb }, d = { sizeof vb, vb };
	/* an 11-byte key among the keys of window W0 */
	tv_put_be32(kb, W0);
	memset(kb + 4, 0x80, 7);
	cr_assert_eq(idx_txn_begin(XA, true, &txn), 0);
	cr_assert_eq(mdb_put(txn, XA->db2_flows, &k, &d, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	uint64_t dropped, c;
	cr_assert_eq(idx_flows_drop_before(XA, W0 + 600, &dropped), 0);
	cr_assert_eq(dropped, 5300, "%llu", (unsigned long long)dropped);
	forget(XA, 0, W0 + 600);
	cr_assert_eq(idx_flows_count(XA, &c), 0);
	cr_assert_eq(c, 1500 + 401 + 50, "every record of W0 went");

	/* the report names it */
	tv_put_be32(kb, W0 + 1200);
	cr_assert_eq(idx_txn_begin(XA, true, &txn), 0);
	cr_assert_eq(mdb_put(txn, XA->db2_flows, &k, &d, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	idx_flows_drop_report r;
	cr_assert_eq(idx_flows_drop_range(XA, W0 + 1200, (uint64_t)1 << 32, &r), 0);
	forget(XA, W0 + 1200, (uint64_t)1 << 32);
	cr_assert_eq(r.records, 451);
	cr_assert_eq(r.blocks, 3);
	cr_assert_eq(r.bad, 1);
	cr_assert_eq(r.bad_window, W0 + 1200);
	cr_assert_eq(r.bad_seq, 0x8080808080808000ull);
	cr_assert_eq(r.bad_key_len, 11);
	check_foreach(XA, 0, UINT32_MAX, 1500);
}

/* The crash rebuild drops the windows from (last window - interval): a
 * malformed last key must not read as "no records" (a drop from 0). */
Test(flows_api, last_window_of_a_malformed_last_key_is_where_it_sorts)
{
	put_set(XA, 0);
	MDB_txn *txn;
	uint8_t kb[5] = { 0 }, vb[8] = { 0 };
	MDB_val k = { sizeof kb, kb }, d = { sizeof vb, vb };
	tv_put_be32(kb, W0 + 3600);
	cr_assert_eq(idx_txn_begin(XA, true, &txn), 0);
	cr_assert_eq(mdb_put(txn, XA->db2_flows, &k, &d, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	uint32_t w;
	bool any;
	cr_assert_eq(idx_flows_last_window(XA, &w, &any), 0);
	cr_assert(any);
	cr_assert_eq(w, W0 + 3600);
	uint64_t dropped, c;
	cr_assert_eq(idx_flows_drop_from(XA, w - 600, &dropped), 0);
	cr_assert_eq(idx_flows_count(XA, &c), 0);
	cr_assert_eq(c, 5300 + 1500 + 401, "older windows kept");
}
