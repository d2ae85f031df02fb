/*
 * commit2.c — idx_commit2, the one write path of the index
 * (store/FORMAT.md "Index (LMDB)", "Commit").
 *
 * One LMDB write transaction per batch.  Chunks are committed in id order
 * into the open slice; a chunk's postings (distinct type|value with the
 * OR of their blocks) go to v2_opost under keys chunk-first, so every
 * commit appends at the end of that tree.  When a slice closes (another
 * segment, a gap in the ids, 64 chunks or 64 MiB raw), its v2_opost range
 * is folded into one v2_post key per value, keys slice-first, so these
 * too are appended at the end; the v2_opost range is deleted.  Pages
 * written thus grow with the data, not with the size of the trees.
 */
#include "idx2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char K2_TOTALS[] = "v2_totals";
static const char K2_MAXDUR[] = "v2_max_slice_dur";
static const char K2_OPEN[] = "v2_open_slice";

/* One posting of one chunk while a batch or a slice fold is built. */
typedef struct pent {
	uint64_t chunk;
	uint64_t blocks;
	idx2_pv pv;
} pent;

typedef struct cstate {
	idx *x;
	MDB_txn *txn;
	idx2_tot t;
	uint64_t maxdur;
	uint32_t last_slice;   /* highest slice id ever given (0: none) */
	uint64_t last_chunk;   /* highest chunk id indexed */
	bool have_chunk;
	uint32_t open_id;      /* 0: no open slice */
	idx2_slice open;
	bool stime_stored;     /* the open slice has a v2_stime key under stime_first */
	uint64_t stime_first;
	pent *ents;            /* scratch (x->c2_ents, given back at the end) */
	pent *tmp;             /* pents_sort's, as large as ents */
	size_t nents, cap;
} cstate;

static MDB_val mv(const void *p, size_t n)
{
	MDB_val v;
	v.mv_data = (void *)(uintptr_t)p;
	v.mv_size = n;
	return v;
}

static MDB_val ms(const char *s)
{
	return mv(s, strlen(s));
}

/* A meta value of exactly n bytes into out; absent: false in *found. */
static int meta_get(cstate *c, const char *name, void *out, size_t n, bool *found)
{
	MDB_val k = ms(name), d;
	int rc = mdb_get(c->txn, c->x->db_meta, &k, &d);
	*found = false;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return idx_lmdb_err(rc);
	if (d.mv_size < n || (n != IDX2_TOT_LEN && d.mv_size != n))
		return TV_E_CORRUPT;
	memcpy(out, d.mv_data, n);
	*found = true;
	return 0;
}

static int meta_put(cstate *c, const char *name, const void *p, size_t n)
{
	MDB_val k = ms(name), d = mv(p, n);
	return idx_lmdb_err(mdb_put(c->txn, c->x->db_meta, &k, &d, 0));
}

/* Last key of a table (keys of klen bytes, big-endian id); 0 when empty. */
static int last_key(cstate *c, MDB_dbi dbi, size_t klen, uint64_t *id, bool *any)
{
	MDB_cursor *cur;
	MDB_val k, d;
	int rc = mdb_cursor_open(c->txn, dbi, &cur);
	*any = false;
	*id = 0;
	if (rc)
		return idx_lmdb_err(rc);
	rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return idx_lmdb_err(rc);
	if (k.mv_size != klen)
		return TV_E_CORRUPT;
	*id = klen == 8 ? tv_get_be64(k.mv_data) : tv_get_be32(k.mv_data);
	*any = true;
	return 0;
}

static int state_load(cstate *c)
{
	uint8_t b[IDX2_TOT_LEN];
	uint64_t v;
	bool found, any;
	int rc;

	if ((rc = meta_get(c, K2_TOTALS, b, IDX2_TOT_LEN, &found)) != 0)
		return rc;
	if (found && (rc = idx2_tot_decode(b, IDX2_TOT_LEN, &c->t)) != 0)
		return rc;
	if ((rc = meta_get(c, K2_MAXDUR, b, 8, &found)) != 0)
		return rc;
	c->maxdur = found ? tv_get_le64(b) : 0;
	if ((rc = last_key(c, c->x->db2_slices, 4, &v, &any)) != 0)
		return rc;
	c->last_slice = (uint32_t)v;
	if ((rc = last_key(c, c->x->db2_chunks, 8, &c->last_chunk, &c->have_chunk)) != 0)
		return rc;
	if ((rc = meta_get(c, K2_OPEN, b, 4, &found)) != 0)
		return rc;
	c->open_id = found ? tv_get_le32(b) : 0;
	if (c->open_id) {
		uint8_t kb[4];
		MDB_val k = mv(kb, 4), d;
		tv_put_be32(kb, c->open_id);
		if ((rc = mdb_get(c->txn, c->x->db2_slices, &k, &d)) != 0)
			return rc == MDB_NOTFOUND ? TV_E_CORRUPT : idx_lmdb_err(rc);
		if ((rc = idx2_slice_decode(d.mv_data, d.mv_size, &c->open)) != 0)
			return rc;
		if (c->open.state != IDX2_SLICE_OPEN)
			return TV_E_CORRUPT;
		c->stime_stored = true;
		c->stime_first = c->open.first_ts;
	}
	return 0;
}

static int ents_push(cstate *c, uint64_t chunk, uint64_t blocks, const idx2_pv *pv)
{
	if (c->nents == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 1024;
		pent *ne = realloc(c->ents, nc * sizeof *ne), *nt;
		if (!ne)
			return TV_E_NOMEM;
		c->ents = ne;
		nt = realloc(c->tmp, nc * sizeof *nt);
		if (!nt)
			return TV_E_NOMEM;
		c->tmp = nt;
		c->cap = nc;
	}
	c->ents[c->nents].chunk = chunk;
	c->ents[c->nents].blocks = blocks;
	c->ents[c->nents].pv = *pv;
	c->nents++;
	return 0;
}

/* type|value, then chunk: the zero padding of tv keeps this in the order
 * LMDB gives the keys (one type, one length).  The 17 bytes of tv compared
 * as two big-endian words and a byte are memcmp's order. */
_Static_assert(sizeof(((idx2_pv *)0)->tv) == 17, "idx2_pv.tv changed: update pent_before");

static bool pent_before(const pent *x, const pent *y)
{
	uint64_t a = tv_get_be64(x->pv.tv), b = tv_get_be64(y->pv.tv);
	if (a == b) {
		a = tv_get_be64(x->pv.tv + 8);
		b = tv_get_be64(y->pv.tv + 8);
		if (a == b) {
			a = x->pv.tv[16];
			b = y->pv.tv[16];
			if (a == b) {
				a = x->chunk;
				b = y->chunk;
			}
		}
	}
	return a < b;
}

/* Sorts c->ents in pent_before order: a bottom-up merge sort through
 * c->tmp, with the comparison inline (qsort's call and memcmp per
 * comparison were 3 % of file ingest's CPU). */
static void pents_sort(cstate *c)
{
	pent *src = c->ents, *dst = c->tmp, *sw;
	size_t n = c->nents, width, lo;
	for (width = 1; width < n; width *= 2) {
		for (lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				dst[k++] = pent_before(&src[j], &src[i]) ? src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		sw = src;
		src = dst;
		dst = sw;
	}
	if (src != c->ents)
		memcpy(c->ents, src, n * sizeof *src);
}

/* The open slice's record and its v2_stime key (moved when first_ts went down). */
static int slice_flush(cstate *c)
{
	uint8_t kb[4], vb[IDX2_SLICE_LEN], tk[IDX2_STIME_KEY_LEN], tv8[8];
	MDB_val k = mv(kb, 4), d = mv(vb, sizeof vb);
	int rc;

	tv_put_be32(kb, c->open_id);
	idx2_slice_encode(&c->open, vb);
	if ((rc = mdb_put(c->txn, c->x->db2_slices, &k, &d, 0)) != 0)
		return idx_lmdb_err(rc);
	if (c->stime_stored && c->stime_first != c->open.first_ts) {
		idx2_stime_key(c->stime_first, c->open_id, tk);
		k = mv(tk, sizeof tk);
		if ((rc = mdb_del(c->txn, c->x->db2_stime, &k, NULL)) != 0)
			return rc == MDB_NOTFOUND ? TV_E_CORRUPT : idx_lmdb_err(rc);
	}
	idx2_stime_key(c->open.first_ts, c->open_id, tk);
	tv_put_le64(tv8, c->open.last_ts);
	k = mv(tk, sizeof tk);
	d = mv(tv8, 8);
	if ((rc = mdb_put(c->txn, c->x->db2_stime, &k, &d, 0)) != 0)
		return idx_lmdb_err(rc);
	c->stime_stored = true;
	c->stime_first = c->open.first_ts;
	if (c->open.last_ts - c->open.first_ts > c->maxdur)
		c->maxdur = c->open.last_ts - c->open.first_ts;
	return 0;
}

/* Moves the open slice's v2_opost range into c->ents, deleting it. */
static int opost_take(cstate *c, uint64_t first, uint64_t last)
{
	uint8_t sk[8];
	MDB_cursor *cur;
	MDB_val k, d;
	int rc, g;

	if ((g = mdb_cursor_open(c->txn, c->x->db2_opost, &cur)) != 0)
		return idx_lmdb_err(g);
	tv_put_be64(sk, first);
	for (;;) {
		uint64_t id, bits;
		idx2_pv pv;
		k = mv(sk, sizeof sk);
		if ((g = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE)) != 0)
			break;
		if ((rc = idx2_okey_decode(k.mv_data, k.mv_size, &id, &pv)) != 0)
			goto out;
		if (id > last)
			break;
		if ((rc = idx2_oval_decode(k.mv_data, k.mv_size, d.mv_data, d.mv_size, 0, &bits)) != 0 ||
		    (rc = ents_push(c, id, bits, &pv)) != 0)
			goto out;
		if ((g = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	rc = g == 0 || g == MDB_NOTFOUND ? 0 : idx_lmdb_err(g);
out:
	mdb_cursor_close(cur);
	return rc;
}

/* Closes the open slice: its v2_opost range becomes one v2_post key per
 * value (FORMAT.md "Closing a slice"). */
static int slice_close(cstate *c)
{
	uint64_t ids[IDX2_SLICE_MAX_CHUNKS], bits[IDX2_SLICE_MAX_CHUNKS];
	uint8_t kb[IDX2_PKEY_MAX], vb[IDX2_PVAL_MAX];
	size_t i, j, taken;
	int rc;

	c->nents = 0;
	rc = opost_take(c, c->open.first_chunk, c->open.first_chunk + c->open.nchunks - 1);
	if (rc)
		return rc;
	taken = c->nents;
	if (c->nents > 1)
		pents_sort(c);
	for (i = 0; i < c->nents; i = j) {
		size_t n = 0, kl, vl;
		MDB_val k, d;
		for (j = i; j < c->nents && memcmp(c->ents[j].pv.tv, c->ents[i].pv.tv,
		                                   sizeof c->ents[i].pv.tv) == 0; j++) {
			if (n == IDX2_SLICE_MAX_CHUNKS || (n && ids[n - 1] >= c->ents[j].chunk))
				return TV_E_CORRUPT; /* one key per chunk and value */
			ids[n] = c->ents[j].chunk;
			bits[n++] = c->ents[j].blocks;
		}
		kl = idx2_pkey_encode(c->open_id, &c->ents[i].pv, kb);
		vl = idx2_pval_encode(kb, kl, c->open.first_chunk, ids, bits, n, vb);
		k = mv(kb, kl);
		d = mv(vb, vl);
		/* slice-first keys of the newest slice: always at the end */
		if ((rc = mdb_put(c->txn, c->x->db2_post, &k, &d, MDB_APPEND)) != 0)
			return rc == MDB_KEYEXIST ? TV_E_CORRUPT : idx_lmdb_err(rc);
		c->t.postings++;
	}
	c->t.postings = c->t.postings >= taken ? c->t.postings - taken : 0;
	c->nents = 0;
	c->open.state = IDX2_SLICE_CLOSED;
	if ((rc = slice_flush(c)) != 0)
		return rc;
	c->open_id = 0;
	c->stime_stored = false;
	return 0;
}

/* The caller's chunk: what the format requires of it before anything is put. */
static int chunk_check(cstate *c, const idx2_chunk_in *in)
{
	const idx2_chunk *r = &in->rec;
	uint8_t kb[8];
	MDB_val k = mv(kb, 8), d;
	uint64_t all;
	size_t i;
	int rc;

	if (r->nblocks < 1 || r->nblocks > STORE_V2_MAX_BLOCKS || r->first_ts > r->last_ts ||
	    r->npkts < 1 || in->nflows < 1 || (in->nflows && !in->flows))
		return TV_E_RANGE;
	all = r->nblocks == 64 ? UINT64_MAX : (((uint64_t)1 << r->nblocks) - 1);
	for (i = 0; i < in->nflows; i++)
		if (in->flows[i].blocks == 0 || (in->flows[i].blocks & ~all) != 0)
			return TV_E_RANGE;
	if (!c->have_chunk || r->chunk_id > c->last_chunk)
		return 0;
	tv_put_be64(kb, r->chunk_id);
	rc = mdb_get(c->txn, c->x->db2_chunks, &k, &d);
	if (rc == 0)
		return TV_E_EXISTS;
	return rc == MDB_NOTFOUND ? TV_E_RANGE : idx_lmdb_err(rc);
}

/* The chunk's postings, distinct type|value with OR-ed blocks, to v2_opost. */
static int chunk_postings(cstate *c, const idx2_chunk_in *in)
{
	size_t i, j, w;
	int rc;

	c->nents = 0;
	for (i = 0; i < in->nflows; i++) {
		idx2_pv pv[IDX2_FLOW_PV_MAX];
		size_t n;
		if ((rc = idx2_flow_postings(in->flows[i].key, in->flows[i].tun, pv, &n)) != 0)
			return rc;
		for (j = 0; j < n; j++)
			if ((rc = ents_push(c, in->rec.chunk_id, in->flows[i].blocks, &pv[j])) != 0)
				return rc;
	}
	if (c->nents > 1)
		pents_sort(c);
	for (i = 0, w = 0; i < c->nents; i++) {
		if (w && memcmp(c->ents[w - 1].pv.tv, c->ents[i].pv.tv, sizeof c->ents[i].pv.tv) == 0)
			c->ents[w - 1].blocks |= c->ents[i].blocks;
		else
			c->ents[w++] = c->ents[i];
	}
	for (i = 0; i < w; i++) {
		uint8_t kb[IDX2_OKEY_MAX], vb[IDX2_OVAL_MAX];
		size_t kl = idx2_okey_encode(in->rec.chunk_id, &c->ents[i].pv, kb);
		size_t vl = idx2_oval_encode(kb, kl, c->ents[i].blocks, vb);
		MDB_val k = mv(kb, kl), d = mv(vb, vl);
		/* chunk-first keys of the newest chunk: always at the end */
		if ((rc = mdb_put(c->txn, c->x->db2_opost, &k, &d, MDB_APPEND)) != 0)
			return rc == MDB_KEYEXIST ? TV_E_CORRUPT : idx_lmdb_err(rc);
	}
	c->t.postings += w;
	c->nents = 0;
	return 0;
}

static int segs_update(cstate *c, uint32_t segment, uint64_t chunk_id)
{
	uint8_t kb[4], vb[IDX2_SEGS_VAL_LEN];
	MDB_val k = mv(kb, 4), d;
	idx2_seg s;
	int rc;

	tv_put_be32(kb, segment);
	rc = mdb_get(c->txn, c->x->db2_segs, &k, &d);
	if (rc == MDB_NOTFOUND) {
		s.first_slice = c->open_id;
		s.first_chunk = chunk_id;
		c->t.segments++;
	} else if (rc) {
		return idx_lmdb_err(rc);
	} else if ((rc = idx2_seg_decode(d.mv_data, d.mv_size, &s)) != 0) {
		return rc;
	}
	s.last_slice = c->open_id;
	s.last_chunk = chunk_id;
	idx2_seg_encode(&s, vb);
	d = mv(vb, sizeof vb);
	return idx_lmdb_err(mdb_put(c->txn, c->x->db2_segs, &k, &d, 0));
}

static int commit_one(cstate *c, const idx2_chunk_in *in)
{
	const idx2_chunk *r = &in->rec;
	uint8_t kb[8], vb[IDX2_CHUNK_MAX];
	idx2_chunk rec;
	MDB_val k, d;
	int rc;

	if ((rc = chunk_check(c, in)) != 0)
		return rc;
	if (c->open_id && (c->open.segment != r->segment ||
	                   c->open.nchunks >= IDX2_SLICE_MAX_CHUNKS ||
	                   c->open.raw_bytes + r->raw_len > IDX2_SLICE_MAX_RAW ||
	                   r->chunk_id != c->open.first_chunk + c->open.nchunks) &&
	    (rc = slice_close(c)) != 0)
		return rc;
	if (!c->open_id) {
		if (c->last_slice == UINT32_MAX)
			return TV_E_FULL;
		c->open_id = ++c->last_slice;
		memset(&c->open, 0, sizeof c->open);
		c->open.first_chunk = r->chunk_id;
		c->open.segment = r->segment;
		c->open.first_ts = r->first_ts;
		c->open.last_ts = r->last_ts;
		c->open.state = IDX2_SLICE_OPEN;
		c->stime_stored = false;
		c->t.slices++;
	}

	rec = *r;
	rec.slice = c->open_id;
	tv_put_be64(kb, r->chunk_id);
	k = mv(kb, 8);
	d = mv(vb, idx2_chunk_encode(&rec, vb));
	rc = mdb_put(c->txn, c->x->db2_chunks, &k, &d, MDB_NOOVERWRITE | MDB_APPEND);
	if (rc)
		return rc == MDB_KEYEXIST ? TV_E_EXISTS : idx_lmdb_err(rc);
	if ((rc = chunk_postings(c, in)) != 0)
		return rc;

	c->open.nchunks++;
	if (r->first_ts < c->open.first_ts)
		c->open.first_ts = r->first_ts;
	if (r->last_ts > c->open.last_ts)
		c->open.last_ts = r->last_ts;
	c->open.raw_bytes += r->raw_len;
	if ((rc = segs_update(c, r->segment, r->chunk_id)) != 0)
		return rc;
	c->t.chunks++;
	c->t.packets += r->npkts;
	c->t.orig_bytes += r->orig_bytes;
	c->t.raw_bytes += r->raw_len;
	c->t.stored_bytes += r->length;
	c->t.blocks += r->nblocks;
	c->t.flows += r->nflows;
	c->last_chunk = r->chunk_id;
	c->have_chunk = true;
	return 0;
}

static int state_store(cstate *c)
{
	uint8_t b[IDX2_TOT_LEN];
	int rc;
	if (c->open_id && (rc = slice_flush(c)) != 0)
		return rc;
	idx2_tot_encode(&c->t, b);
	if ((rc = meta_put(c, K2_TOTALS, b, IDX2_TOT_LEN)) != 0)
		return rc;
	tv_put_le64(b, c->maxdur);
	if ((rc = meta_put(c, K2_MAXDUR, b, 8)) != 0)
		return rc;
	tv_put_le32(b, c->open_id);
	return meta_put(c, K2_OPEN, b, 4);
}

/* Gives the scratch back to x for the next transaction: a commit's
 * postings (up to a slice's) need no fresh pages each time. */
static void cstate_end(cstate *c)
{
	c->x->c2_ents = c->ents;
	c->x->c2_tmp = c->tmp;
	c->x->c2_cap = c->cap;
}

/* The write transaction of a commit or a drop, with the slice state and
 * totals loaded; on error nothing is left open. */
static int cstate_begin(idx *x, cstate *c)
{
	int rc;
	if (!x->writable)
		return EROFS;
	memset(c, 0, sizeof *c);
	c->x = x;
	if ((rc = idx_txn_begin(x, true, &c->txn)) != 0)
		return rc;
	c->ents = x->c2_ents;
	c->tmp = x->c2_tmp;
	c->cap = x->c2_cap;
	if ((rc = state_load(c)) != 0) {
		cstate_end(c);
		mdb_txn_abort(c->txn);
	}
	return rc;
}

int idx_commit2(idx *x, const idx2_chunk_in *chunks, size_t n, const idx_source_mark *marks,
                size_t nmarks, const tv_counters *delta)
{
	cstate c;
	size_t i;
	int rc;

	if ((rc = cstate_begin(x, &c)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = commit_one(&c, &chunks[i])) != 0)
			goto fail;
	if ((rc = state_store(&c)) != 0 || (rc = idx_marks_put(x, c.txn, marks, nmarks)) != 0 ||
	    (rc = idx_counters_add(x, c.txn, delta)) != 0)
		goto fail;
	cstate_end(&c);
	return idx_lmdb_err(mdb_txn_commit(c.txn));
fail:
	cstate_end(&c);
	mdb_txn_abort(c.txn);
	return rc;
}

/* ------------------------------------------------------------ drop */

/* Deletes the keys of dbi from `from` while their first plen bytes are
 * <= to (big-endian ids); *n counts them. */
static int del_range(cstate *c, MDB_dbi dbi, const uint8_t *from, const uint8_t *to, size_t plen,
                     uint64_t *n)
{
	MDB_cursor *cur;
	MDB_val k, d;
	int g;
	*n = 0;
	if ((g = mdb_cursor_open(c->txn, dbi, &cur)) != 0)
		return idx_lmdb_err(g);
	for (;;) {
		k = mv(from, plen);
		if ((g = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE)) != 0)
			break;
		if (k.mv_size < plen || memcmp(k.mv_data, to, plen) > 0)
			break;
		if ((g = mdb_cursor_del(cur, 0)) != 0)
			break;
		(*n)++;
	}
	mdb_cursor_close(cur);
	return g == 0 || g == MDB_NOTFOUND ? 0 : idx_lmdb_err(g);
}

/* The slices of the segment: records and time keys. */
static int drop_slices(cstate *c, uint32_t segment, const idx2_seg *sg)
{
	for (uint32_t sid = sg->first_slice; sid - 1 < sg->last_slice; sid++) {
		uint8_t kb[4], tk[IDX2_STIME_KEY_LEN];
		MDB_val k = mv(kb, 4), d;
		idx2_slice s;
		int rc;
		tv_put_be32(kb, sid);
		if ((rc = mdb_get(c->txn, c->x->db2_slices, &k, &d)) != 0)
			return rc == MDB_NOTFOUND ? TV_E_CORRUPT : idx_lmdb_err(rc);
		if ((rc = idx2_slice_decode(d.mv_data, d.mv_size, &s)) != 0)
			return rc;
		if (s.segment != segment)
			return TV_E_CORRUPT;
		if ((rc = mdb_del(c->txn, c->x->db2_slices, &k, NULL)) != 0)
			return idx_lmdb_err(rc);
		idx2_stime_key(s.first_ts, sid, tk);
		k = mv(tk, sizeof tk);
		if ((rc = mdb_del(c->txn, c->x->db2_stime, &k, NULL)) != 0)
			return rc == MDB_NOTFOUND ? TV_E_CORRUPT : idx_lmdb_err(rc);
		c->t.slices = c->t.slices ? c->t.slices - 1 : 0;
		if (sid == c->open_id) {
			c->open_id = 0;
			c->stime_stored = false;
		}
	}
	return 0;
}

static uint64_t sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* The chunk records of the segment, subtracted from the totals. */
static int drop_chunks(cstate *c, uint32_t segment, const idx2_seg *sg, uint64_t *n)
{
	MDB_cursor *cur;
	MDB_val k, d;
	uint8_t kb[8];
	int rc = 0, g;
	*n = 0;
	if ((g = mdb_cursor_open(c->txn, c->x->db2_chunks, &cur)) != 0)
		return idx_lmdb_err(g);
	tv_put_be64(kb, sg->first_chunk);
	for (;;) {
		idx2_chunk r;
		k = mv(kb, 8);
		if ((g = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE)) != 0)
			break;
		if (k.mv_size != 8 || tv_get_be64(k.mv_data) > sg->last_chunk)
			break;
		if ((rc = idx2_chunk_decode(d.mv_data, d.mv_size, tv_get_be64(k.mv_data), &r)) != 0)
			break;
		if (r.segment != segment) {
			rc = TV_E_CORRUPT;
			break;
		}
		c->t.chunks = sub(c->t.chunks, 1);
		c->t.packets = sub(c->t.packets, r.npkts);
		c->t.orig_bytes = sub(c->t.orig_bytes, r.orig_bytes);
		c->t.raw_bytes = sub(c->t.raw_bytes, r.raw_len);
		c->t.stored_bytes = sub(c->t.stored_bytes, r.length);
		c->t.blocks = sub(c->t.blocks, r.nblocks);
		c->t.flows = sub(c->t.flows, r.nflows);
		if ((g = mdb_cursor_del(cur, 0)) != 0)
			break;
		(*n)++;
	}
	mdb_cursor_close(cur);
	if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	return rc;
}

int idx_segment_drop2(idx *x, uint32_t segment, uint64_t *chunks_dropped)
{
	uint8_t kb[4], a[8], b[8];
	MDB_val k = mv(kb, 4), d;
	idx2_seg sg;
	cstate c;
	uint64_t n, dropped = 0;
	int rc;

	if (chunks_dropped)
		*chunks_dropped = 0;
	if ((rc = cstate_begin(x, &c)) != 0)
		return rc;
	tv_put_be32(kb, segment);
	rc = mdb_get(c.txn, x->db2_segs, &k, &d);
	if (rc == MDB_NOTFOUND) {
		cstate_end(&c);
		mdb_txn_abort(c.txn);
		return 0;
	}
	if (rc) {
		rc = idx_lmdb_err(rc);
		goto fail;
	}
	if ((rc = idx2_seg_decode(d.mv_data, d.mv_size, &sg)) != 0)
		goto fail;
	/* postings: the closed slices' one range, the open slice's chunks */
	tv_put_be32(a, sg.first_slice);
	tv_put_be32(b, sg.last_slice);
	if ((rc = del_range(&c, x->db2_post, a, b, 4, &n)) != 0)
		goto fail;
	c.t.postings = sub(c.t.postings, n);
	tv_put_be64(a, sg.first_chunk);
	tv_put_be64(b, sg.last_chunk);
	if ((rc = del_range(&c, x->db2_opost, a, b, 8, &n)) != 0)
		goto fail;
	c.t.postings = sub(c.t.postings, n);
	if ((rc = drop_slices(&c, segment, &sg)) != 0 ||
	    (rc = drop_chunks(&c, segment, &sg, &dropped)) != 0)
		goto fail;
	k = mv(kb, 4);
	if ((rc = mdb_del(c.txn, x->db2_segs, &k, NULL)) != 0) {
		rc = idx_lmdb_err(rc);
		goto fail;
	}
	c.t.segments = sub(c.t.segments, 1);
	if ((rc = state_store(&c)) != 0)
		goto fail;
	cstate_end(&c);
	if ((rc = idx_lmdb_err(mdb_txn_commit(c.txn))) == 0 && chunks_dropped)
		*chunks_dropped = dropped;
	return rc;
fail:
	cstate_end(&c);
	mdb_txn_abort(c.txn);
	return rc;
}

/* ----------------------------------------------------------- reads */

int idx2_tot_get(idx *x, idx2_tot *t)
{
	MDB_txn *txn;
	MDB_val k = ms(K2_TOTALS), d;
	int rc;

	memset(t, 0, sizeof *t);
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	rc = mdb_get(txn, x->db_meta, &k, &d);
	if (rc == 0)
		rc = idx2_tot_decode(d.mv_data, d.mv_size, t);
	else
		rc = rc == MDB_NOTFOUND ? 0 : idx_lmdb_err(rc);
	mdb_txn_abort(txn);
	return rc;
}

int idx2_chunk_get(idx *x, uint64_t chunk_id, idx2_chunk *c)
{
	MDB_txn *txn;
	uint8_t kb[8];
	MDB_val k = mv(kb, 8), d;
	int rc;

	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	tv_put_be64(kb, chunk_id);
	rc = mdb_get(txn, x->db2_chunks, &k, &d);
	if (rc == 0)
		rc = idx2_chunk_decode(d.mv_data, d.mv_size, chunk_id, c);
	else
		rc = idx_lmdb_err(rc);
	mdb_txn_abort(txn);
	return rc;
}
