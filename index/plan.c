/*
 * plan.c — expression -> the sorted set of chunk ids that can hold a match.
 *
 * Each leaf reads one key range of "post" (its value, any chunk), keeping
 * chunks whose [first,last] for that value overlaps the time bounds in
 * force at that node.  and intersects, or unites.  Leaves that no posting
 * answers (not, ip, ip6, after, before, the empty expression) stand for
 * the universe: every chunk of the time range, read from "time" — but only
 * when nothing narrower is beside them in an and, where the universe is the
 * identity and costs nothing.  So the work grows with what matches, not
 * with the archive.  The plan is a superset: the exact matcher decides.
 */
#include "idx_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct idset {
	bool all;          /* every chunk of [lo, hi]; v unused */
	uint64_t lo, hi;
	uint64_t *v;
	size_t n, cap;
} idset;

typedef struct pctx {
	idx *x;
	MDB_txn *txn;
	const idx_expr *e;
	uint64_t maxdur;
	idx_plan_stats *st;
} pctx;

static void set_free(idset *s)
{
	free(s->v);
	memset(s, 0, sizeof *s);
}

static int set_push(idset *s, uint64_t id)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		uint64_t *nv = realloc(s->v, nc * sizeof *nv);
		if (!nv)
			return TV_E_NOMEM;
		s->v = nv;
		s->cap = nc;
	}
	s->v[s->n++] = id;
	return 0;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void set_sort_unique(idset *s)
{
	size_t i, w;
	bool sorted = true;
	for (i = 1; i < s->n && sorted; i++)
		sorted = s->v[i - 1] < s->v[i];
	if (sorted)
		return;
	qsort(s->v, s->n, sizeof *s->v, u64_cmp);
	for (i = 0, w = 0; i < s->n; i++)
		if (w == 0 || s->v[w - 1] != s->v[i])
			s->v[w++] = s->v[i];
	s->n = w;
}

/* a := a ∩ b (both sorted, unique, materialised). */
static void set_and(idset *a, const idset *b)
{
	size_t i = 0, j = 0, w = 0;
	while (i < a->n && j < b->n) {
		if (a->v[i] < b->v[j])
			i++;
		else if (a->v[i] > b->v[j])
			j++;
		else {
			a->v[w++] = a->v[i];
			i++;
			j++;
		}
	}
	a->n = w;
}

/* a := a ∪ b */
static int set_or(idset *a, const idset *b)
{
	size_t i = 0, j = 0, w = 0, cap = a->n + b->n;
	uint64_t *m;
	if (b->n == 0)
		return 0;
	m = malloc(cap * sizeof *m);
	if (!m)
		return TV_E_NOMEM;
	while (i < a->n || j < b->n) {
		if (j >= b->n || (i < a->n && a->v[i] < b->v[j]))
			m[w++] = a->v[i++];
		else if (i >= a->n || b->v[j] < a->v[i])
			m[w++] = b->v[j++];
		else {
			m[w++] = a->v[i++];
			j++;
		}
	}
	free(a->v);
	a->v = m;
	a->n = w;
	a->cap = cap;
	return 0;
}

/* Every chunk overlapping [lo, hi], from "time": start at lo - maxdur,
 * since no chunk that began earlier can reach lo. */
static int universe(pctx *c, uint64_t lo, uint64_t hi, idset *out)
{
	uint8_t kb[IDX_TKEY_LEN];
	MDB_cursor *cur;
	MDB_val k, d;
	int rc = 0, g;

	out->all = false;
	out->n = 0;
	if (lo > hi)
		return 0;
	if ((g = mdb_cursor_open(c->txn, c->x->db_time, &cur)) != 0)
		return idx_lmdb_err(g);
	idx_tkey_encode(lo > c->maxdur ? lo - c->maxdur : 0, 0, kb);
	k.mv_data = kb;
	k.mv_size = sizeof kb;
	for (g = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		uint64_t first, id, last;
		c->st->keys_read++;
		if ((rc = idx_tkey_decode(k.mv_data, k.mv_size, &first, &id)) != 0)
			break;
		if (first > hi)
			break;
		if (d.mv_size != 8) {
			rc = TV_E_CORRUPT;
			break;
		}
		last = tv_get_le64(d.mv_data);
		if (last >= lo && (rc = set_push(out, id)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	if (rc == 0)
		set_sort_unique(out);
	return rc;
}

static int materialise(pctx *c, idset *s)
{
	if (!s->all)
		return 0;
	return universe(c, s->lo, s->hi, s);
}

/*
 * Posting keys from `from` up to those whose first elen bytes are <= `to`
 * (from and to share the type byte; to is a prefix bound).  l4, when not
 * 0, keeps only port keys of that transport (the byte after the port).
 */
static int scan(pctx *c, const uint8_t *from, size_t flen, const uint8_t *to, size_t tlen,
                uint8_t l4, uint64_t lo, uint64_t hi, idset *out)
{
	MDB_cursor *cur;
	MDB_val k, d;
	int rc = 0, g;

	if ((g = mdb_cursor_open(c->txn, c->x->db_post, &cur)) != 0)
		return idx_lmdb_err(g);
	k.mv_data = (void *)(uintptr_t)from;
	k.mv_size = flen;
	for (g = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		size_t cl = k.mv_size < tlen ? k.mv_size : tlen;
		int cmp = memcmp(k.mv_data, to, cl);
		uint64_t first, last;
		idx_pkey pk;
		if (cmp > 0 || (cmp == 0 && k.mv_size < tlen))
			break;
		c->st->keys_read++;
		if (l4 && (k.mv_size < 4 || ((const uint8_t *)k.mv_data)[3] != l4))
			continue;
		if ((rc = idx_pkey_decode(k.mv_data, k.mv_size, &pk)) != 0 ||
		    (rc = idx_pval_decode(d.mv_data, d.mv_size, &first, &last)) != 0)
			break;
		if (last >= lo && first <= hi && (rc = set_push(out, pk.chunk_id)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	if (rc == 0)
		set_sort_unique(out);
	return rc;
}

/*
 * For an exact-valued leaf (host, proto, vni, one port of one transport)
 * beside a small set in an and:
 * look up value|id for each id instead of reading the value's whole range,
 * so "host A and tcp" costs what host A costs, not what tcp costs.
 */
#define PROBE_MAX 4096

static bool probe_key(const idx_xnode *nd, uint8_t *k, size_t *klen)
{
	switch (nd->kind) {
	case IDX_X_HOST:
		k[0] = IDX_PT_ADDR;
		memcpy(k + 1, nd->addr.b, 16);
		*klen = 17;
		return true;
	case IDX_X_PROTO:
		k[0] = IDX_PT_PROTO;
		k[1] = nd->proto;
		*klen = 2;
		return true;
	case IDX_X_VNI:
		k[0] = IDX_PT_VNI;
		tv_put_be32(k + 1, nd->vni);
		*klen = 5;
		return true;
	case IDX_X_PORT:
		if (!nd->proto || nd->port_lo != nd->port_hi)
			return false;
		k[0] = IDX_PT_PORT;
		tv_put_be16(k + 1, nd->port_lo);
		k[3] = nd->proto;
		*klen = 4;
		return true;
	default:
		return false;
	}
}

static int probe(pctx *c, const uint8_t *prefix, size_t plen, uint64_t lo, uint64_t hi, idset *s)
{
	size_t i, w = 0;
	for (i = 0; i < s->n; i++) {
		uint8_t kb[IDX_PKEY_MAX];
		MDB_val k, d;
		uint64_t first, last;
		int rc;
		k.mv_data = kb;
		k.mv_size = idx_pkey_encode(prefix, plen, s->v[i], kb);
		c->st->keys_read++;
		rc = mdb_get(c->txn, c->x->db_post, &k, &d);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return idx_lmdb_err(rc);
		if ((rc = idx_pval_decode(d.mv_data, d.mv_size, &first, &last)) != 0)
			return rc;
		if (last >= lo && first <= hi)
			s->v[w++] = s->v[i];
	}
	s->n = w;
	return 0;
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

static int eval(pctx *c, int32_t i, uint64_t lo, uint64_t hi, idset *out);

/* out := out ∩ child */
static int and_child(pctx *c, int32_t ch, uint64_t lo, uint64_t hi, idset *out)
{
	idset r;
	uint8_t pk[IDX_PTV_MAX];
	size_t pkl;
	int rc;

	if (!out->all && out->n <= PROBE_MAX && probe_key(&c->e->nodes[ch], pk, &pkl))
		return probe(c, pk, pkl, lo, hi, out);
	if ((rc = eval(c, ch, lo, hi, &r)) != 0)
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

static int eval(pctx *c, int32_t i, uint64_t lo, uint64_t hi, idset *out)
{
	const idx_xnode *nd = &c->e->nodes[i];
	uint8_t a[IDX_PTV_MAX], b[IDX_PTV_MAX];
	uint64_t nlo, nhi;
	int32_t ch;
	int rc = 0;

	memset(out, 0, sizeof *out);
	idx_xnode_bounds(c->e, i, &nlo, &nhi);
	if (nlo > lo)
		lo = nlo;
	if (nhi < hi)
		hi = nhi;
	if (lo > hi)
		return 0; /* no time can match: empty */

	switch (nd->kind) {
	case IDX_X_AND: {
		int rank;
		out->all = true;
		out->lo = lo;
		out->hi = hi;
		for (rank = 0; rank <= AND_RANK_MAX && rc == 0; rank++) {
			for (ch = nd->child; ch >= 0 && rc == 0; ch = c->e->nodes[ch].next) {
				if (and_rank(&c->e->nodes[ch]) != rank)
					continue;
				if (!out->all && out->n == 0)
					break; /* already empty: the rest cannot add */
				rc = and_child(c, ch, lo, hi, out);
			}
		}
		break;
	}
	case IDX_X_OR:
		for (ch = nd->child; ch >= 0; ch = c->e->nodes[ch].next) {
			idset r;
			if ((rc = eval(c, ch, lo, hi, &r)) != 0)
				break;
			if ((rc = materialise(c, &r)) == 0)
				rc = set_or(out, &r);
			set_free(&r);
			if (rc)
				break;
		}
		break;
	case IDX_X_HOST:
		a[0] = IDX_PT_ADDR;
		memcpy(a + 1, nd->addr.b, 16);
		rc = scan(c, a, 17, a, 17, 0, lo, hi, out);
		break;
	case IDX_X_NET: {
		tv_addr last;
		idx_net_last(&nd->addr, nd->plen, &last);
		a[0] = b[0] = IDX_PT_ADDR;
		memcpy(a + 1, nd->addr.b, 16);
		memcpy(b + 1, last.b, 16);
		rc = scan(c, a, 17, b, 17, 0, lo, hi, out);
		break;
	}
	case IDX_X_PORT:
		/* the proto byte follows the port: one port of one transport
		 * is one exact prefix; otherwise the port range, its keys of
		 * other transports skipped when one is named */
		a[0] = b[0] = IDX_PT_PORT;
		tv_put_be16(a + 1, nd->port_lo);
		tv_put_be16(b + 1, nd->port_hi);
		if (nd->proto && nd->port_lo == nd->port_hi) {
			a[3] = nd->proto;
			rc = scan(c, a, 4, a, 4, 0, lo, hi, out);
		} else {
			rc = scan(c, a, 3, b, 3, nd->proto, lo, hi, out);
		}
		break;
	case IDX_X_PROTO:
		a[0] = IDX_PT_PROTO;
		a[1] = nd->proto;
		rc = scan(c, a, 2, a, 2, 0, lo, hi, out);
		break;
	case IDX_X_VNI:
		a[0] = IDX_PT_VNI;
		tv_put_be32(a + 1, nd->vni);
		rc = scan(c, a, 5, a, 5, 0, lo, hi, out);
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

int idx_plan(idx *x, const idx_expr *e, uint64_t **ids, size_t *n, idx_plan_stats *st)
{
	idx_plan_stats dummy;
	idx_tot t;
	idset r;
	pctx c;
	int rc;

	*ids = NULL;
	*n = 0;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	memset(&c, 0, sizeof c);
	memset(&r, 0, sizeof r);
	c.x = x;
	c.e = e;
	c.st = st;
	if ((rc = idx_txn_begin(x, false, &c.txn)) != 0)
		return rc;
	if ((rc = idx_tot_load(x, c.txn, &t)) != 0 ||
	    (rc = idx_meta_maxdur(x, c.txn, &c.maxdur)) != 0)
		goto out;
	st->chunks_total = t.chunks;
	if (!e || e->root < 0) {
		r.all = true;
		r.lo = 0;
		r.hi = UINT64_MAX;
	} else if ((rc = eval(&c, e->root, 0, UINT64_MAX, &r)) != 0) {
		goto out;
	}
	if ((rc = materialise(&c, &r)) != 0)
		goto out;
	*ids = r.v;
	*n = r.n;
	st->chunks_planned = r.n;
	r.v = NULL;
out:
	set_free(&r);
	mdb_txn_abort(c.txn);
	return rc;
}
