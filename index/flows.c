/*
 * flows.c — synthesised VPC Flow Log records, the API every caller uses
 * (idx.h), over the blocks of table v2_flows (index/flows2.c): one record
 * layout (IDX_FLOW_VAL_LEN bytes, little-endian, store/FORMAT.md "VPC flow
 * records"), the puts, reads, drops and counts, the one flow-record match,
 * and the merged read of several stores.
 */
#include "flows2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void idx_flow_val_encode(const tv_flowrec *r, uint8_t out[IDX_FLOW_VAL_LEN])
{
	uint8_t *p = out;
	memcpy(p, r->key.src.b, 16);
	memcpy(p + 16, r->key.dst.b, 16);
	tv_put_le16(p + 32, r->key.sport);
	tv_put_le16(p + 34, r->key.dport);
	p[36] = r->key.proto;
	p[37] = r->ipver;
	p[38] = r->tcp_flags;
	p[39] = 0;
	memcpy(p + 40, r->outer_src.b, 16);
	tv_put_le32(p + 56, r->vni);
	tv_put_le32(p + 60, r->window);
	tv_put_le32(p + 64, r->start);
	tv_put_le32(p + 68, r->end);
	tv_put_le64(p + 72, r->packets);
	tv_put_le64(p + 80, r->bytes);
	memset(p + 88, 0, IDX_FLOW_VAL_LEN - 88);
}

int idx_flow_val_decode(const void *v, size_t n, tv_flowrec *r)
{
	const uint8_t *p = v;
	if (n != IDX_FLOW_VAL_LEN)
		return TV_E_CORRUPT;
	memset(r, 0, sizeof *r);
	memcpy(r->key.src.b, p, 16);
	memcpy(r->key.dst.b, p + 16, 16);
	r->key.sport = tv_get_le16(p + 32);
	r->key.dport = tv_get_le16(p + 34);
	r->key.proto = p[36];
	r->ipver = p[37];
	r->tcp_flags = p[38];
	memcpy(r->outer_src.b, p + 40, 16);
	r->vni = tv_get_le32(p + 56);
	r->window = tv_get_le32(p + 60);
	r->start = tv_get_le32(p + 64);
	r->end = tv_get_le32(p + 68);
	r->packets = tv_get_le64(p + 72);
	r->bytes = tv_get_le64(p + 80);
	if ((r->ipver != 4 && r->ipver != 6) || r->start > r->end || p[39] != 0)
		return TV_E_CORRUPT;
	return 0;
}

/* The batch as blocks, in one write transaction.  The buffer lives for
 * the call: a put is one flush of the flow table. */
int idx_flows_put(idx *x, const tv_flowrec *recs, size_t n)
{
	idx2_fbuf *b = NULL;
	MDB_txn *txn = NULL;
	int rc;

	if (!x->writable)
		return EROFS;
	if (n == 0)
		return 0;
	if ((rc = idx2_fbuf_new(&b)) != 0)
		return rc;
	if ((rc = idx_txn_begin(x, true, &txn)) != 0)
		goto out;
	if ((rc = idx2_flows_put(x, txn, b, recs, n, NULL)) != 0)
		mdb_txn_abort(txn);
	else
		rc = idx_lmdb_err(mdb_txn_commit(txn));
out:
	idx2_fbuf_free(b);
	return rc;
}

int idx_flow_foreach(idx *x, uint32_t from, uint32_t to, idx_flow_cb cb, void *ctx)
{
	return idx_flows_foreach_buf(x, NULL, from, to, cb, ctx);
}

int idx_flows_foreach_buf(idx *x, idx2_fbuf *b, uint32_t from, uint32_t to, idx_flow_cb cb,
                          void *ctx)
{
	idx2_fbuf *own = NULL;
	int rc;

	if (!b && (rc = idx2_fbuf_new(&own)) != 0)
		return rc;
	rc = idx2_flows_read(x, NULL, b ? b : own, from, to, cb, ctx);
	idx2_fbuf_free(own);
	return rc;
}

int idx_flows_drop_range(idx *x, uint32_t a, uint64_t b, idx_flows_drop_report *r)
{
	idx_flows_drop_report own;
	MDB_txn *txn;
	int rc;

	if (!r)
		r = &own;
	memset(r, 0, sizeof *r);
	if (!x->writable)
		return EROFS;
	if (b <= a)
		return 0;
	if ((rc = idx_txn_begin(x, true, &txn)) != 0)
		return rc;
	if ((rc = idx2_flows_delete(x, txn, a, b, r)) != 0) {
		mdb_txn_abort(txn);
		memset(r, 0, sizeof *r);
		return rc;
	}
	if ((rc = idx_lmdb_err(mdb_txn_commit(txn))) != 0)
		memset(r, 0, sizeof *r);
	return rc;
}

int idx_flows_drop_before(idx *x, uint32_t before, uint64_t *dropped)
{
	idx_flows_drop_report r;
	int rc = idx_flows_drop_range(x, 0, before, &r);
	if (dropped)
		*dropped = r.records;
	return rc;
}

int idx_flows_drop_from(idx *x, uint32_t from, uint64_t *dropped)
{
	idx_flows_drop_report r;
	int rc = idx_flows_drop_range(x, from, (uint64_t)UINT32_MAX + 1, &r);
	if (dropped)
		*dropped = r.records;
	return rc;
}

/* The sum of the blocks' counts (nothing is decompressed). */
int idx_flows_count(idx *x, uint64_t *n)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc, g;

	*n = 0;
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, x->db2_flows, &cur)) != 0) {
		mdb_txn_abort(txn);
		return idx_lmdb_err(rc);
	}
	for (g = mdb_cursor_get(cur, &k, &d, MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		uint32_t c;
		if (k.mv_size != IDX2_FLOWS_KEY_LEN ||
		    (rc = idx2_flows_block_count(d.mv_data, d.mv_size, &c)) != 0) {
			rc = TV_E_CORRUPT;
			break;
		}
		*n += c;
	}
	if (rc == 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc)
		*n = 0;
	return rc;
}

int idx_flows_last_window(idx *x, uint32_t *w, bool *any)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int rc;

	*any = false;
	*w = 0;
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	rc = mdb_cursor_open(txn, x->db2_flows, &cur);
	if (rc == 0) {
		rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
		/* A malformed last key still has a window (its first 4
		 * bytes, zero-padded: where it sorts).  Saying "no records"
		 * would make the crash rebuild drop every window from 0. */
		if (rc == 0 && k.mv_size > 0) {
			uint8_t wb[4] = { 0 };
			memcpy(wb, k.mv_data, k.mv_size < 4 ? k.mv_size : 4);
			*w = tv_get_be32(wb);
			*any = true;
		}
		if (rc == MDB_NOTFOUND)
			rc = 0;
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	return idx_lmdb_err(rc);
}

int idx_meta_u64_get(idx *x, const char *name, uint64_t *v)
{
	MDB_txn *txn;
	MDB_val k, d;
	int rc;
	*v = 0;
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	k.mv_data = (void *)name;
	k.mv_size = strlen(name);
	rc = mdb_get(txn, x->db_meta, &k, &d);
	if (rc == 0 && d.mv_size == 8)
		*v = tv_get_le64(d.mv_data);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? 0 : idx_lmdb_err(rc);
}

int idx_meta_u64_set(idx *x, const char *name, uint64_t v)
{
	MDB_txn *txn;
	MDB_val k, d;
	uint8_t b[8];
	int rc;
	if (!x->writable)
		return EROFS;
	if ((rc = idx_txn_begin(x, true, &txn)) != 0)
		return rc;
	tv_put_le64(b, v);
	k.mv_data = (void *)name;
	k.mv_size = strlen(name);
	d.mv_data = b;
	d.mv_size = 8;
	rc = mdb_put(txn, x->db_meta, &k, &d, 0);
	if (rc) {
		mdb_txn_abort(txn);
		return idx_lmdb_err(rc);
	}
	return idx_lmdb_err(mdb_txn_commit(txn));
}

/* ------------------------------------------- the flow-record match, reading */

bool idx_flowrec_match(const idx_expr *e, const tv_flowrec *r)
{
	uint64_t lo, hi, s, end;
	tv_tunmeta tun;
	tv_l3info in;
	int32_t i;

	if (!e)
		return true;
	idx_expr_time_bounds(e, &lo, &hi);
	/* a record's times are whole seconds: it covers [start, end + 1s) */
	s = (uint64_t)r->start * TV_NS_PER_S;
	end = (uint64_t)r->end * TV_NS_PER_S + TV_NS_PER_S - 1;
	if (lo > hi || end < lo || s > hi)
		return false;
	memset(&tun, 0, sizeof tun);
	memset(&in, 0, sizeof in);
	tun.vni = r->vni;
	tun.tunnel = r->vni == TV_VNI_NONE ? TV_TUN_NONE : TV_TUN_VXLAN;
	tun.outer_src = r->outer_src;
	in.l3 = r->ipver;
	in.key = r->key;
	in.has_ports = r->key.proto == 6 || r->key.proto == 17 || r->key.proto == 132;
	in.tcp_flags = r->tcp_flags;
	/* Does the expression hold at some instant of [s, end]?  With the
	 * record's other fields fixed it changes value only where a time
	 * condition flips ("after T" and "before T" both at T), so s and every
	 * such T inside (s, end] are all the instants to try, whatever the
	 * nots and ors around the time conditions. */
	if (idx_expr_match(e, s, &tun, &in))
		return true;
	for (i = 0; i < e->n; i++) {
		const idx_xnode *x = &e->nodes[i];
		if ((x->kind == IDX_X_AFTER || x->kind == IDX_X_BEFORE) && x->ts > s && x->ts <= end &&
		    idx_expr_match(e, x->ts, &tun, &in))
			return true;
	}
	return false;
}

bool idx_flows_window_range(const idx_expr *e, uint32_t *from, uint32_t *to)
{
	uint64_t lo = 0, hi = UINT64_MAX, los, his;

	if (e)
		idx_expr_time_bounds(e, &lo, &hi);
	*from = 1;
	*to = 0;
	if (lo > hi)
		return false;
	los = lo / TV_NS_PER_S;
	his = hi / TV_NS_PER_S;
	if (los > UINT32_MAX)
		return false;
	*from = los > IDX_FLOW_MAX_WINDOW ? (uint32_t)(los - IDX_FLOW_MAX_WINDOW) : 0;
	*to = his > UINT32_MAX ? UINT32_MAX : (uint32_t)his;
	return true;
}

static int cmp_u32(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b;
}

/* The identity of a record: interface, flow, IP version, window. */
static int cmp_ident(const tv_flowrec *a, const tv_flowrec *b)
{
	int c;
	if ((c = cmp_u32(a->vni, b->vni)) != 0)
		return c;
	if ((c = memcmp(a->outer_src.b, b->outer_src.b, 16)) != 0)
		return c;
	if ((c = memcmp(a->key.src.b, b->key.src.b, 16)) != 0)
		return c;
	if ((c = memcmp(a->key.dst.b, b->key.dst.b, 16)) != 0)
		return c;
	if ((c = cmp_u32(a->key.sport, b->key.sport)) != 0)
		return c;
	if ((c = cmp_u32(a->key.dport, b->key.dport)) != 0)
		return c;
	if ((c = cmp_u32(a->key.proto, b->key.proto)) != 0)
		return c;
	if ((c = cmp_u32(a->ipver, b->ipver)) != 0)
		return c;
	return cmp_u32(a->window, b->window);
}

static int qcmp_ident(const void *x, const void *y)
{
	return cmp_ident(x, y);
}

static int qcmp_out(const void *x, const void *y)
{
	const tv_flowrec *a = x, *b = y;
	int c;
	if ((c = cmp_u32(a->start, b->start)) != 0)
		return c;
	if ((c = cmp_ident(a, b)) != 0)
		return c;
	return cmp_u32(a->end, b->end);
}

size_t idx_flowrecs_merge(tv_flowrec *v, size_t n)
{
	size_t i, k = 0;
	if (n == 0)
		return 0;
	qsort(v, n, sizeof *v, qcmp_ident);
	for (i = 1; i < n; i++) {
		tv_flowrec *d = &v[k];
		if (cmp_ident(d, &v[i]) == 0) {
			d->packets += v[i].packets;
			d->bytes += v[i].bytes;
			d->tcp_flags |= v[i].tcp_flags;
			if (v[i].start < d->start)
				d->start = v[i].start;
			if (v[i].end > d->end)
				d->end = v[i].end;
		} else {
			v[++k] = v[i];
		}
	}
	n = k + 1;
	qsort(v, n, sizeof *v, qcmp_out);
	return n;
}

struct merged_ctx {
	tv_flowrec *v;
	size_t n, cap;
	idx2_fbuf *b; /* one block buffer for the whole read */
	idx_flows_read_stats *st;
};

/* The smallest window start in [from, to] that x holds records of, from
 * the keys alone (nothing decoded: the window is read next anyway). */
static int next_window(idx *x, uint32_t from, uint32_t to, uint32_t *w, bool *found)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	uint8_t kb[12];
	int rc;

	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	rc = mdb_cursor_open(txn, x->db2_flows, &cur);
	if (rc == 0) {
		tv_put_be32(kb, from);
		memset(kb + 4, 0, 8);
		k.mv_data = kb;
		k.mv_size = sizeof kb;
		rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
		if (rc == 0 && k.mv_size != 12) {
			rc = TV_E_CORRUPT;
		} else if (rc == 0) {
			uint32_t kw = tv_get_be32(k.mv_data);
			if (kw <= to && (!*found || kw < *w)) {
				*w = kw;
				*found = true;
			}
		} else if (rc == MDB_NOTFOUND) {
			rc = 0;
		} else {
			rc = idx_lmdb_err(rc);
		}
		mdb_cursor_close(cur);
	} else {
		rc = idx_lmdb_err(rc);
	}
	mdb_txn_abort(txn);
	return rc;
}

static int cb_collect(void *vc, const tv_flowrec *r)
{
	struct merged_ctx *c = vc;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 4096;
		tv_flowrec *p = realloc(c->v, nc * sizeof *p);
		if (!p)
			return TV_E_NOMEM;
		c->v = p;
		c->cap = nc;
	}
	c->v[c->n++] = *r;
	c->st->read++;
	return 0;
}

/* One window: every store's records of window w, merged, then matched. */
static int merged_window(struct merged_ctx *c, idx *const *xs, int nx, const idx_expr *e, uint32_t w,
                         idx_flow_window_cb cb, void *ctx)
{
	size_t i, k = 0, n;
	int s, rc;
	c->n = 0;
	for (s = 0; s < nx; s++)
		if ((rc = idx_flows_foreach_buf(xs[s], c->b, w, w, cb_collect, c)) != 0)
			return rc;
	n = idx_flowrecs_merge(c->v, c->n);
	c->st->merged += c->n - n;
	for (i = 0; i < n; i++)
		if (idx_flowrec_match(e, &c->v[i]))
			c->v[k++] = c->v[i];
	c->st->matched += k;
	return cb(ctx, w, c->v, k);
}

int idx_flows_read_merged(idx *const *xs, int nx, const idx_expr *e, idx_flow_window_cb cb, void *ctx,
                          idx_flows_read_stats *st)
{
	struct merged_ctx c;
	uint32_t cur, to, w = 0;
	bool found;
	int s, rc = 0;

	memset(&c, 0, sizeof c);
	memset(st, 0, sizeof *st);
	c.st = st;
	if (!idx_flows_window_range(e, &cur, &to))
		return 0;
	st->from = cur;
	st->to = to;
	if ((rc = idx2_fbuf_new(&c.b)) != 0)
		return rc;
	/* the next window start any store holds, then that window in every
	 * store: memory holds one window's records (and one block buffer) */
	for (;;) {
		found = false;
		for (s = 0; s < nx; s++)
			if ((rc = next_window(xs[s], cur, to, &w, &found)) != 0)
				goto out;
		if (!found)
			break;
		if ((rc = merged_window(&c, xs, nx, e, w, cb, ctx)) != 0)
			break;
		if (w >= to)
			break;
		cur = w + 1;
	}
out:
	idx2_fbuf_free(c.b);
	free(c.v);
	return rc;
}
