/*
 * tables2.c — the readers of the chunk tables that are not the planner's
 * or the commit's: chunk records one at a time, in id order or the last,
 * the end of a segment's chunks, whether a segment is known, and the
 * totals (idx.h's idx_chunk_get and idx_totals_get, for stats, bundles,
 * audit; the rest for recovery, coverage and tests).
 */
#include "idx2.h"

#include <string.h>

static MDB_val mv(const void *p, size_t n)
{
	MDB_val v;
	v.mv_data = (void *)(uintptr_t)p;
	v.mv_size = n;
	return v;
}

/* A chunk record as the chunk metadata of idx.h.  sha256 is the body's
 * hash, which is what a chunk header carries. */
void idx2_chunk_meta(const idx2_chunk *c, store_chunk_meta *m)
{
	memset(m, 0, sizeof *m);
	m->chunk_id = c->chunk_id;
	m->segment = c->segment;
	m->length = c->length;
	m->offset = c->offset;
	m->first_ts = c->first_ts;
	m->last_ts = c->last_ts;
	m->npkts = c->npkts;
	m->raw_len = c->raw_len;
	m->orig_bytes = c->orig_bytes;
	memcpy(m->sha256, c->sha256, sizeof m->sha256);
}

int idx_chunk_get(idx *x, uint64_t chunk_id, store_chunk_meta *meta)
{
	idx2_chunk c;
	int rc = idx2_chunk_get(x, chunk_id, &c);
	if (rc == 0)
		idx2_chunk_meta(&c, meta);
	return rc;
}

/* Every chunk from the first (or only the last) in one read transaction. */
static int chunk_walk(idx *x, idx2_chunk_cb cb, void *ctx, idx2_chunk *last)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc, g;

	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, x->db2_chunks, &cur)) != 0) {
		mdb_txn_abort(txn);
		return idx_lmdb_err(rc);
	}
	for (g = mdb_cursor_get(cur, &k, &d, last ? MDB_LAST : MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		idx2_chunk c;
		if (k.mv_size != 8) {
			rc = TV_E_CORRUPT;
			break;
		}
		if ((rc = idx2_chunk_decode(d.mv_data, d.mv_size, tv_get_be64(k.mv_data), &c)) != 0)
			break;
		if (last) {
			*last = c;
			break;
		}
		if ((rc = cb(ctx, &c)) != 0)
			break;
	}
	if (rc == 0 && g == MDB_NOTFOUND && last)
		rc = TV_E_NOTFOUND;
	else if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

int idx2_chunk_foreach(idx *x, idx2_chunk_cb cb, void *ctx)
{
	return chunk_walk(x, cb, ctx, NULL);
}

int idx2_chunk_last(idx *x, idx2_chunk *c)
{
	return chunk_walk(x, NULL, NULL, c);
}

int idx2_segment_end(idx *x, uint32_t segment, uint64_t *end)
{
	MDB_txn *txn;
	uint8_t kb[4], cb[8];
	MDB_val k = mv(kb, 4), d;
	idx2_seg s;
	idx2_chunk c;
	int rc;

	*end = 0;
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	tv_put_be32(kb, segment);
	rc = mdb_get(txn, x->db2_segs, &k, &d);
	if (rc == MDB_NOTFOUND) {
		rc = 0;
	} else if (rc) {
		rc = idx_lmdb_err(rc);
	} else if ((rc = idx2_seg_decode(d.mv_data, d.mv_size, &s)) == 0) {
		/* chunks are appended in id order: the last one ends the segment */
		tv_put_be64(cb, s.last_chunk);
		k = mv(cb, 8);
		rc = mdb_get(txn, x->db2_chunks, &k, &d);
		if (rc)
			rc = rc == MDB_NOTFOUND ? TV_E_CORRUPT : idx_lmdb_err(rc);
		else if ((rc = idx2_chunk_decode(d.mv_data, d.mv_size, s.last_chunk, &c)) == 0)
			*end = c.offset + c.length;
	}
	mdb_txn_abort(txn);
	return rc;
}

int idx2_segment_known(idx *x, uint32_t segment, bool *known)
{
	MDB_txn *txn;
	uint8_t kb[4];
	MDB_val k = mv(kb, 4), d;
	int rc;

	*known = false;
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	/* v2_segs has one key per segment that holds a chunk */
	tv_put_be32(kb, segment);
	rc = mdb_get(txn, x->db2_segs, &k, &d);
	*known = rc == 0;
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? 0 : idx_lmdb_err(rc);
}

/*
 * Totals and the time extent: first_ts is the first v2_stime key; last_ts
 * the largest last_ts of the slices that began at most v2_max_slice_dur
 * before the newest one (no earlier slice can end later).
 */
static int totals(idx *x, idx_totals *out)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	idx2_tot t;
	uint64_t maxdur = 0, newest = 0, f, l;
	uint32_t sid;
	int rc, g;

	memset(out, 0, sizeof *out);
	if ((rc = idx2_tot_get(x, &t)) != 0)
		return rc;
	out->chunks = t.chunks;
	out->packets = t.packets;
	out->orig_bytes = t.orig_bytes;
	out->raw_bytes = t.raw_bytes;
	out->comp_bytes = t.stored_bytes;
	out->postings = t.postings;
	out->segments = t.segments > UINT32_MAX ? UINT32_MAX : (uint32_t)t.segments;
	out->slices = t.slices;
	out->blocks = t.blocks;
	out->flows = t.flows;
	if (t.chunks == 0)
		return 0;
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	k = mv("v2_max_slice_dur", 16);
	rc = mdb_get(txn, x->db_meta, &k, &d);
	if (rc == 0 && d.mv_size == 8)
		maxdur = tv_get_le64(d.mv_data);
	else if (rc == 0)
		rc = TV_E_CORRUPT;
	else
		rc = rc == MDB_NOTFOUND ? 0 : idx_lmdb_err(rc);
	if (rc == 0 && (rc = mdb_cursor_open(txn, x->db2_stime, &cur)) != 0)
		rc = idx_lmdb_err(rc);
	else if (rc == 0) {
		g = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
		if (g == 0)
			rc = idx2_stime_key_decode(k.mv_data, k.mv_size, &out->first_ts, &sid);
		if (rc == 0 && g == 0)
			g = mdb_cursor_get(cur, &k, &d, MDB_LAST);
		for (; rc == 0 && g == 0; g = mdb_cursor_get(cur, &k, &d, MDB_PREV)) {
			if ((rc = idx2_stime_key_decode(k.mv_data, k.mv_size, &f, &sid)) != 0 ||
			    (rc = idx2_stime_val_decode(d.mv_data, d.mv_size, f, &l)) != 0)
				break;
			if (!newest)
				newest = f;
			if (newest > maxdur && f < newest - maxdur)
				break;
			if (l > out->last_ts)
				out->last_ts = l;
		}
		if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
			rc = idx_lmdb_err(g);
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	return rc;
}

int idx_totals_get(idx *x, idx_totals *out)
{
	MDB_envinfo ei;
	MDB_stat es;
	int rc = totals(x, out);
	if (rc == 0 && mdb_env_info(x->env, &ei) == 0 && mdb_env_stat(x->env, &es) == 0)
		out->index_bytes = ((uint64_t)ei.me_last_pgno + 1) * es.ms_psize;
	out->format = IDX_FORMAT_VERSION;
	return rc;
}
