/*
 * plan2.c — idx_plan2: an expression -> the (chunk id, block bitmap) list
 * that can hold a match (store/FORMAT.md "Index (LMDB)", "Planning").
 *
 * The slices overlapping the root's time window come from v2_stime (from
 * lo - v2_max_slice_dur on: no slice that began earlier reaches lo).  In
 * each slice the expression is evaluated bottom-up as sets of (chunk,
 * blocks) sorted by chunk: a leaf reads its value (or value range) under
 * the slice id in v2_post when the slice is closed, or under each chunk
 * id in v2_opost when it is open; and intersects (bitmaps AND-ed), or
 * unites (OR-ed).  Leaves no posting answers (not, ip, ip6, after, before)
 * stand for the universe of their window, kept symbolic as the identity
 * of and, so "host A and not tcp" costs what "host A" costs.  The plan is
 * a superset: src/dst read the undirected postings, and the exact match
 * is decided per flow when the blocks are read.
 *
 * Every posting read is checked (crc over key and value, structure, bits
 * within the chunk's blocks): a damaged one is an error that names the
 * table and key, never a silently smaller answer.
 */
#include "idx2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hset {
	bool all;          /* every block of every chunk overlapping [lo, hi]; v unused */
	uint64_t lo, hi;
	idx2_hit *v;
	size_t n, cap;
} hset;

typedef struct pctx {
	idx *x;
	MDB_txn *txn;
	const idx_expr *e;
	idx2_plan_stats *st;
	char *where;
	size_t cap;
	/* the slice being planned */
	uint32_t sid;
	idx2_slice s;
	idx2_chunk *recs;  /* its chunk records, each read when first needed */
	uint64_t loaded;   /* bit i: recs[i] is read */
	uint64_t only;     /* bit i: chunk first + i can still matter (an and
	                    * has narrowed the slice to these chunks) */
} pctx;

static MDB_val mv(const void *p, size_t n)
{
	MDB_val v;
	v.mv_data = (void *)(uintptr_t)p;
	v.mv_size = n;
	return v;
}

/* "TABLE key HEX": what a corrupt-entry error names. */
static int corrupt(pctx *c, const char *table, const void *key, size_t klen)
{
	const uint8_t *k = key;
	size_t off;
	int w;
	if (!c->where || c->cap == 0)
		return TV_E_CORRUPT;
	w = snprintf(c->where, c->cap, "%s key ", table);
	off = w > 0 && (size_t)w < c->cap ? (size_t)w : c->cap - 1;
	for (size_t i = 0; i < klen && off + 3 < c->cap; i++, off += 2)
		snprintf(c->where + off, c->cap - off, "%02x", k[i]);
	return TV_E_CORRUPT;
}

static void set_free(hset *s)
{
	free(s->v);
	memset(s, 0, sizeof *s);
}

static int set_push(hset *s, uint64_t id, uint64_t bits)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		idx2_hit *nv = realloc(s->v, nc * sizeof *nv);
		if (!nv)
			return TV_E_NOMEM;
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n].chunk_id = id;
	s->v[s->n].blocks = bits;
	s->v[s->n].first_ts = 0; /* plan_slice fills it in */
	s->n++;
	return 0;
}

static int hit_cmp(const void *a, const void *b)
{
	const idx2_hit *x = a, *y = b;
	return x->chunk_id < y->chunk_id ? -1 : x->chunk_id > y->chunk_id;
}

/* Sorted by chunk, one entry per chunk (bitmaps OR-ed). */
static void set_norm(hset *s)
{
	size_t i, w;
	if (s->n < 2)
		return;
	qsort(s->v, s->n, sizeof *s->v, hit_cmp);
	for (i = 0, w = 0; i < s->n; i++) {
		if (w && s->v[w - 1].chunk_id == s->v[i].chunk_id)
			s->v[w - 1].blocks |= s->v[i].blocks;
		else
			s->v[w++] = s->v[i];
	}
	s->n = w;
}

/* a := a ∩ b, bitmaps AND-ed, empty ones dropped. */
static void set_and(hset *a, const hset *b)
{
	size_t i = 0, j = 0, w = 0;
	while (i < a->n && j < b->n) {
		if (a->v[i].chunk_id < b->v[j].chunk_id) {
			i++;
		} else if (a->v[i].chunk_id > b->v[j].chunk_id) {
			j++;
		} else {
			uint64_t bits = a->v[i].blocks & b->v[j].blocks;
			if (bits) {
				a->v[w] = a->v[i];
				a->v[w++].blocks = bits;
			}
			i++;
			j++;
		}
	}
	a->n = w;
}

/* a := a ∪ b */
static int set_or(hset *a, const hset *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (set_push(a, b->v[i].chunk_id, b->v[i].blocks) != 0)
			return TV_E_NOMEM;
	set_norm(a);
	return 0;
}

/* Chunk record i of the slice, read when first needed. */
static int rec_get(pctx *c, uint32_t i, const idx2_chunk **out)
{
	uint8_t kb[8];
	MDB_val k = mv(kb, 8), d;
	uint64_t id = c->s.first_chunk + i;
	int rc;

	if (!(c->loaded >> i & 1)) {
		tv_put_be64(kb, id);
		c->st->keys_read++;
		rc = mdb_get(c->txn, c->x->db2_chunks, &k, &d);
		if (rc == MDB_NOTFOUND)
			return corrupt(c, "v2_chunks (named by v2_slices) missing,", kb, 8);
		if (rc)
			return idx_lmdb_err(rc);
		if (idx2_chunk_decode(d.mv_data, d.mv_size, id, &c->recs[i]) != 0 ||
		    c->recs[i].slice != c->sid)
			return corrupt(c, "v2_chunks", kb, 8);
		c->loaded |= (uint64_t)1 << i;
	}
	*out = &c->recs[i];
	return 0;
}

static bool overlaps(const idx2_chunk *r, uint64_t lo, uint64_t hi)
{
	return r->last_ts >= lo && r->first_ts <= hi;
}

/* Every block of every chunk of the slice that overlaps [lo, hi]. */
static int universe(pctx *c, uint64_t lo, uint64_t hi, hset *out)
{
	int rc;
	out->all = false;
	out->n = 0;
	for (uint32_t i = 0; i < c->s.nchunks; i++) {
		const idx2_chunk *r;
		if (!(c->only >> i & 1))
			continue;
		if ((rc = rec_get(c, i, &r)) != 0)
			return rc;
		if (overlaps(r, lo, hi) &&
		    (rc = set_push(out, r->chunk_id,
		                   r->nblocks == 64 ? UINT64_MAX : ((uint64_t)1 << r->nblocks) - 1)) != 0)
			return rc;
	}
	return 0;
}

static int materialise(pctx *c, hset *s)
{
	return s->all ? universe(c, s->lo, s->hi, s) : 0;
}

/* Whether key (klen) is past the prefix bound to (tlen). */
static bool past(const MDB_val *k, const uint8_t *to, size_t tlen)
{
	size_t cl = k->mv_size < tlen ? k->mv_size : tlen;
	int cmp = memcmp(k->mv_data, to, cl);
	return cmp > 0 || (cmp == 0 && k->mv_size < tlen);
}

/* The (chunk, blocks) of one v2_post value, those inside [lo, hi]. */
static int post_value(pctx *c, const MDB_val *k, const MDB_val *d, uint64_t lo, uint64_t hi,
                      hset *out)
{
	idx2_piter it;
	uint64_t id, bits;
	int rc;
	/* the bits are checked against each chunk's blocks below, as its
	 * record is read: the records of chunks not named are never read */
	if (idx2_piter_init(&it, k->mv_data, k->mv_size, d->mv_data, d->mv_size, &c->s, NULL) != 0)
		return corrupt(c, "v2_post", k->mv_data, k->mv_size);
	while ((rc = idx2_piter_next(&it, &id, &bits)) == 1) {
		const idx2_chunk *r;
		if (!(c->only >> (id - c->s.first_chunk) & 1))
			continue;
		if ((rc = rec_get(c, (uint32_t)(id - c->s.first_chunk), &r)) != 0)
			return rc;
		if (r->nblocks < 64 && (bits >> r->nblocks) != 0)
			return corrupt(c, "v2_post", k->mv_data, k->mv_size);
		if (overlaps(r, lo, hi) && (rc = set_push(out, id, bits)) != 0)
			return rc;
	}
	return rc == 0 ? 0 : corrupt(c, "v2_post", k->mv_data, k->mv_size);
}

/* One v2_opost value of chunk first + r, when the chunk overlaps [lo, hi]. */
static int opost_value(pctx *c, const MDB_val *k, const MDB_val *d, uint32_t r, uint64_t lo,
                       uint64_t hi, hset *out)
{
	const idx2_chunk *rec;
	uint64_t bits;
	int rc;
	if ((rc = rec_get(c, r, &rec)) != 0)
		return rc;
	if (idx2_oval_decode(k->mv_data, k->mv_size, d->mv_data, d->mv_size, rec->nblocks,
	                     &bits) != 0)
		return corrupt(c, "v2_opost", k->mv_data, k->mv_size);
	if (!overlaps(rec, lo, hi))
		return 0;
	return set_push(out, rec->chunk_id, bits);
}

/*
 * Posting keys of the slice from type|a up to those whose first bytes are
 * <= type|b (a and b share the type; alen, blen bytes after it).  l4, when
 * not 0, keeps only port keys of that transport (the byte after the port).
 * Closed slice: one range under the slice id in v2_post; open: one range
 * under each chunk id in v2_opost.
 */
static int scan(pctx *c, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t l4,
                uint64_t lo, uint64_t hi, hset *out)
{
	bool closed = c->s.state == IDX2_SLICE_CLOSED;
	uint32_t nrange = closed ? 1 : c->s.nchunks;
	size_t plen = closed ? 4 : 8;
	MDB_cursor *cur;
	int rc = 0, g = 0;

	if ((g = mdb_cursor_open(c->txn, closed ? c->x->db2_post : c->x->db2_opost, &cur)) != 0)
		return idx_lmdb_err(g);
	for (uint32_t r = 0; r < nrange && rc == 0; r++) {
		uint8_t from[IDX2_OKEY_MAX], to[IDX2_OKEY_MAX];
		uint64_t id = c->s.first_chunk + r;
		MDB_val k, d;
		if (!closed && !(c->only >> r & 1))
			continue; /* an and already ruled this chunk out: no seek */
		if (closed) {
			tv_put_be32(from, c->sid);
			tv_put_be32(to, c->sid);
		} else {
			tv_put_be64(from, id);
			tv_put_be64(to, id);
		}
		memcpy(from + plen, a, 1 + alen);
		memcpy(to + plen, b, 1 + blen);
		k = mv(from, plen + 1 + alen);
		for (g = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); g == 0 && rc == 0;
		     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
			const uint8_t *kp = k.mv_data;
			if (past(&k, to, plen + 1 + blen))
				break;
			c->st->keys_read++;
			if (k.mv_size != plen + 1 + idx2_pv_len(a[0]))
				rc = corrupt(c, closed ? "v2_post" : "v2_opost", k.mv_data, k.mv_size);
			else if (l4 && kp[plen + 3] != l4)
				continue;
			else if (closed)
				rc = post_value(c, &k, &d, lo, hi, out);
			else
				rc = opost_value(c, &k, &d, r, lo, hi, out);
		}
		if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
			rc = idx_lmdb_err(g);
	}
	mdb_cursor_close(cur);
	if (rc == 0)
		set_norm(out);
	return rc;
}

/* Order of evaluation inside an and: the likely most selective first. */
#define AND_RANK_MAX 6
static int and_rank(const idx_xnode *nd)
{
	switch (nd->kind) {
	case IDX_X_HOST: return 0;
	case IDX_X_PORT: return nd->port_lo == nd->port_hi ? 1 : 3;
	case IDX_X_VNI: return 2;
	case IDX_X_NET: return 3;
	case IDX_X_AND:
	case IDX_X_OR: return 4;
	case IDX_X_PROTO: return 5;
	default: return AND_RANK_MAX; /* universe: last, and it costs nothing */
	}
}

static int eval(pctx *c, int32_t i, uint64_t lo, uint64_t hi, hset *out);

/* out := out ∩ child.  Once out is a set, the child is evaluated only
 * for its chunks (c->only): the intersection would drop the others. */
static int and_child(pctx *c, int32_t ch, uint64_t lo, uint64_t hi, hset *out)
{
	uint64_t saved = c->only;
	hset r;
	int rc;
	if (!out->all) {
		uint64_t m = 0;
		for (size_t i = 0; i < out->n; i++)
			m |= (uint64_t)1 << (out->v[i].chunk_id - c->s.first_chunk);
		c->only &= m;
	}
	rc = eval(c, ch, lo, hi, &r);
	c->only = saved;
	if (rc)
		return rc;
	if (r.all) {
		/* the universe is the identity of and */
		if (out->all) {
			out->lo = r.lo > out->lo ? r.lo : out->lo;
			out->hi = r.hi < out->hi ? r.hi : out->hi;
		}
		set_free(&r);
	} else if (out->all) {
		set_free(out);
		*out = r;
	} else {
		set_and(out, &r);
		set_free(&r);
	}
	return 0;
}

static int eval_and(pctx *c, const idx_xnode *nd, uint64_t lo, uint64_t hi, hset *out)
{
	int rc = 0;
	out->all = true;
	out->lo = lo;
	out->hi = hi;
	for (int rank = 0; rank <= AND_RANK_MAX && rc == 0; rank++) {
		for (int32_t ch = nd->child; ch >= 0 && rc == 0; ch = c->e->nodes[ch].next) {
			if (and_rank(&c->e->nodes[ch]) != rank)
				continue;
			if (!out->all && out->n == 0)
				return 0; /* already empty: the rest cannot add */
			rc = and_child(c, ch, lo, hi, out);
		}
	}
	return rc;
}

static int eval_or(pctx *c, const idx_xnode *nd, uint64_t lo, uint64_t hi, hset *out)
{
	int rc = 0;
	for (int32_t ch = nd->child; ch >= 0 && rc == 0; ch = c->e->nodes[ch].next) {
		hset r;
		if ((rc = eval(c, ch, lo, hi, &r)) != 0)
			break;
		if ((rc = materialise(c, &r)) == 0)
			rc = set_or(out, &r);
		set_free(&r);
	}
	return rc;
}

static int eval(pctx *c, int32_t i, uint64_t lo, uint64_t hi, hset *out)
{
	const idx_xnode *nd = &c->e->nodes[i];
	uint8_t a[1 + IDX2_PV_MAX], b[1 + IDX2_PV_MAX];
	uint64_t nlo, nhi;
	int rc = 0;

	memset(out, 0, sizeof *out);
	idx_xnode_bounds(c->e, i, &nlo, &nhi);
	lo = nlo > lo ? nlo : lo;
	hi = nhi < hi ? nhi : hi;
	if (lo > hi)
		return 0; /* no time can match: empty */

	switch (nd->kind) {
	case IDX_X_AND:
		rc = eval_and(c, nd, lo, hi, out);
		break;
	case IDX_X_OR:
		rc = eval_or(c, nd, lo, hi, out);
		break;
	case IDX_X_HOST:
		a[0] = IDX2_PT_ADDR;
		memcpy(a + 1, nd->addr.b, 16);
		rc = scan(c, a, 16, a, 16, 0, lo, hi, out);
		break;
	case IDX_X_NET: {
		tv_addr last;
		idx_net_last(&nd->addr, nd->plen, &last);
		a[0] = b[0] = IDX2_PT_ADDR;
		memcpy(a + 1, nd->addr.b, 16);
		memcpy(b + 1, last.b, 16);
		rc = scan(c, a, 16, b, 16, 0, lo, hi, out);
		break;
	}
	case IDX_X_PORT:
		/* one port of one transport is one exact key; otherwise the
		 * port range, keys of other transports skipped when one is named */
		a[0] = b[0] = IDX2_PT_PORT;
		tv_put_be16(a + 1, nd->port_lo);
		tv_put_be16(b + 1, nd->port_hi);
		if (nd->proto && nd->port_lo == nd->port_hi) {
			a[3] = nd->proto;
			rc = scan(c, a, 3, a, 3, 0, lo, hi, out);
		} else {
			rc = scan(c, a, 2, b, 2, nd->proto, lo, hi, out);
		}
		break;
	case IDX_X_PROTO:
		a[0] = IDX2_PT_PROTO;
		a[1] = nd->proto;
		rc = scan(c, a, 1, a, 1, 0, lo, hi, out);
		break;
	case IDX_X_VNI:
		a[0] = IDX2_PT_VNI;
		tv_put_be32(a + 1, nd->vni);
		rc = scan(c, a, 4, a, 4, 0, lo, hi, out);
		break;
	default:
		/* not, ip, ip6, after, before: no posting narrows them */
		out->all = true;
		out->lo = lo;
		out->hi = hi;
		break;
	}
	if (rc)
		set_free(out);
	return rc;
}

/* Plans one slice and appends its hits to all. */
static int plan_slice(pctx *c, uint64_t lo, uint64_t hi, hset *all)
{
	hset r;
	int rc;
	c->loaded = 0;
	c->only = UINT64_MAX;
	c->st->slices_visited++;
	if (!c->e || c->e->root < 0) {
		memset(&r, 0, sizeof r);
		r.all = true;
		r.lo = lo;
		r.hi = hi;
	} else if ((rc = eval(c, c->e->root, 0, UINT64_MAX, &r)) != 0) {
		return rc;
	}
	if ((rc = materialise(c, &r)) == 0)
		for (size_t i = 0; i < r.n && rc == 0; i++) {
			const idx2_chunk *rec;
			/* every chunk of a hit had its record read (and kept) */
			if ((rc = rec_get(c, (uint32_t)(r.v[i].chunk_id - c->s.first_chunk), &rec)) == 0 &&
			    (rc = set_push(all, r.v[i].chunk_id, r.v[i].blocks)) == 0)
				all->v[all->n - 1].first_ts = rec->first_ts;
		}
	set_free(&r);
	return rc;
}

/* The slice named by a v2_stime key, checked against it. */
static int slice_load(pctx *c, const MDB_val *tk, uint64_t first_ts, uint64_t last_ts)
{
	uint8_t kb[4];
	MDB_val k = mv(kb, 4), d;
	int rc;
	tv_put_be32(kb, c->sid);
	c->st->keys_read++;
	rc = mdb_get(c->txn, c->x->db2_slices, &k, &d);
	if (rc == MDB_NOTFOUND)
		return corrupt(c, "v2_stime (its slice is missing)", tk->mv_data, tk->mv_size);
	if (rc)
		return idx_lmdb_err(rc);
	if (idx2_slice_decode(d.mv_data, d.mv_size, &c->s) != 0)
		return corrupt(c, "v2_slices", kb, 4);
	if (c->s.first_ts != first_ts || c->s.last_ts != last_ts)
		return corrupt(c, "v2_stime (differs from its slice)", tk->mv_data, tk->mv_size);
	return 0;
}

/* Every slice overlapping [lo, hi], from v2_stime, planned in turn. */
static int walk_slices(pctx *c, uint64_t lo, uint64_t hi, uint64_t maxdur, hset *all)
{
	uint8_t kb[IDX2_STIME_KEY_LEN];
	MDB_cursor *cur;
	MDB_val k, d;
	int rc = 0, g;

	if ((g = mdb_cursor_open(c->txn, c->x->db2_stime, &cur)) != 0)
		return idx_lmdb_err(g);
	idx2_stime_key(lo > maxdur ? lo - maxdur : 0, 0, kb);
	k = mv(kb, sizeof kb);
	for (g = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); g == 0 && rc == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		uint64_t first, last;
		c->st->keys_read++;
		if (idx2_stime_key_decode(k.mv_data, k.mv_size, &first, &c->sid) != 0 ||
		    idx2_stime_val_decode(d.mv_data, d.mv_size, first, &last) != 0) {
			rc = corrupt(c, "v2_stime", k.mv_data, k.mv_size);
			break;
		}
		if (first > hi)
			break;
		if (last < lo)
			continue;
		if ((rc = slice_load(c, &k, first, last)) == 0)
			rc = plan_slice(c, lo, hi, all);
	}
	mdb_cursor_close(cur);
	if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	return rc;
}

int idx_plan2(idx *x, const idx_expr *e, idx2_hit **hits, size_t *n, idx2_plan_stats *st,
              char *where, size_t cap)
{
	idx2_plan_stats dummy;
	hset all;
	pctx c;
	MDB_val k, d;
	uint64_t lo = 0, hi = UINT64_MAX, maxdur = 0;
	int rc;

	*hits = NULL;
	*n = 0;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	if (where && cap)
		where[0] = 0;
	memset(&c, 0, sizeof c);
	memset(&all, 0, sizeof all);
	c.x = x;
	c.e = e;
	c.st = st;
	c.where = where;
	c.cap = cap;
	if (!(c.recs = calloc(IDX2_SLICE_MAX_CHUNKS, sizeof *c.recs)))
		return TV_E_NOMEM;
	if ((rc = idx_txn_begin(x, false, &c.txn)) != 0)
		goto out_free;
	k = mv("v2_max_slice_dur", 16);
	rc = mdb_get(c.txn, x->db_meta, &k, &d);
	if (rc == 0 && d.mv_size == 8)
		maxdur = tv_get_le64(d.mv_data);
	else if (rc == 0)
		rc = corrupt(&c, "meta", k.mv_data, k.mv_size);
	else
		rc = rc == MDB_NOTFOUND ? 0 : idx_lmdb_err(rc);
	if (rc)
		goto out;
	if (e && e->root >= 0)
		idx_xnode_bounds(e, e->root, &lo, &hi);
	if (lo <= hi && (rc = walk_slices(&c, lo, hi, maxdur, &all)) != 0)
		goto out;
	set_norm(&all);
	for (size_t i = 0; i < all.n; i++)
		st->blocks_planned += (uint64_t)__builtin_popcountll(all.v[i].blocks);
	st->chunks_planned = all.n;
	*hits = all.v;
	*n = all.n;
	all.v = NULL;
out:
	mdb_txn_abort(c.txn);
out_free:
	set_free(&all);
	free(c.recs);
	return rc;
}
