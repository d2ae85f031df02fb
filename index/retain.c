/*
 * retain.c — what retention needs from the index: the newest time of one
 * segment, and the "pruned_until" mark that lets a query say that part of
 * its time range was deleted on purpose (not lost).
 *
 * meta "pruned_until" (u64 LE, ns): the largest last_ts of any chunk that
 * retention removed.  Packets older than it may be gone; newer ones were
 * never pruned.  Absent (0) until the first segment is dropped.  It is
 * written before the drop itself, so after a crash between the two the mark
 * is at worst early, never late.  Declared in vault.h.
 */
#include "idx_int.h"
#include "vault.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char K_PRUNED[] = "pruned_until";

int idx_segment_last_ts(idx *x, uint32_t segment, uint64_t *last_ts, uint64_t *nchunks)
{
	uint8_t kb[IDX_SKEY_LEN], ck[8];
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc, g;

	*last_ts = 0;
	if (nchunks)
		*nchunks = 0;
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, x->db_segs, &cur)) != 0) {
		mdb_txn_abort(txn);
		return idx_lmdb_err(rc);
	}
	idx_skey_encode(segment, 0, kb);
	k.mv_data = kb;
	k.mv_size = sizeof kb;
	for (g = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		uint32_t seg;
		uint64_t id;
		MDB_val ckv, cd;
		store_chunk_meta m;
		if ((rc = idx_skey_decode(k.mv_data, k.mv_size, &seg, &id)) != 0)
			break;
		if (seg != segment)
			break;
		tv_put_be64(ck, id);
		ckv.mv_data = ck;
		ckv.mv_size = 8;
		if ((rc = mdb_get(txn, x->db_chunks, &ckv, &cd)) != 0) {
			rc = rc == MDB_NOTFOUND ? TV_E_CORRUPT : idx_lmdb_err(rc);
			break;
		}
		if ((rc = idx_chunk_val_decode(cd.mv_data, cd.mv_size, &m)) != 0)
			break;
		if (m.last_ts > *last_ts)
			*last_ts = m.last_ts;
		if (nchunks)
			(*nchunks)++;
	}
	if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

int idx_pruned_until_get(idx *x, uint64_t *until_ns)
{
	MDB_txn *txn;
	MDB_val k, d;
	int rc;

	*until_ns = 0;
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	k.mv_data = (void *)(uintptr_t)K_PRUNED;
	k.mv_size = sizeof K_PRUNED - 1;
	rc = mdb_get(txn, x->db_meta, &k, &d);
	if (rc == MDB_NOTFOUND) {
		rc = 0;
	} else if (rc) {
		rc = idx_lmdb_err(rc);
	} else if (d.mv_size != 8) {
		rc = TV_E_CORRUPT;
	} else {
		*until_ns = tv_get_le64(d.mv_data);
	}
	mdb_txn_abort(txn);
	return rc;
}

int idx_pruned_until_raise(idx *x, uint64_t until_ns)
{
	uint8_t b[8];
	MDB_txn *txn;
	MDB_val k, d;
	int rc;

	if (!x->writable)
		return EROFS;
	if ((rc = idx_txn_begin(x, true, &txn)) != 0)
		return rc;
	k.mv_data = (void *)(uintptr_t)K_PRUNED;
	k.mv_size = sizeof K_PRUNED - 1;
	rc = mdb_get(txn, x->db_meta, &k, &d);
	if (rc == 0 && d.mv_size == 8 && tv_get_le64(d.mv_data) >= until_ns) {
		mdb_txn_abort(txn);
		return 0;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return idx_lmdb_err(rc);
	}
	tv_put_le64(b, until_ns);
	d.mv_data = b;
	d.mv_size = 8;
	if ((rc = mdb_put(txn, x->db_meta, &k, &d, 0)) != 0) {
		mdb_txn_abort(txn);
		return idx_lmdb_err(rc);
	}
	return idx_lmdb_err(mdb_txn_commit(txn));
}

int idx_pruned_note(idx_rstore *stores, int nstores, const idx_expr *e, char *buf, size_t cap)
{
	uint64_t lo, hi, until;
	char t[48];
	int i;

	if (cap)
		buf[0] = '\0';
	idx_expr_time_bounds(e, &lo, &hi);
	if (lo > hi)
		return 0;
	for (i = 0; i < nstores; i++) {
		if (idx_pruned_until_get(stores[i].x, &until) != 0 || until == 0 || lo >= until)
			continue;
		tv_time_format(until, t, sizeof t);
		snprintf(buf, cap, "note: %s: data before %s was pruned by retention", stores[i].dir, t);
		return 1;
	}
	return 0;
}
