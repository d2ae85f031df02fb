/*
 * carry.c — what an index holds that the segments cannot give back.
 *
 * reindex derives chunks, postings and source marks from the segment files
 * (index/vault.c, recovery).  Flow records, the ingest counters, the
 * retention mark and the sources of chunks already pruned exist only in the
 * index; when the old index can still be read they are copied into the new
 * one here, in one write transaction (all or nothing).
 */
#include "idx_int.h"

#include <errno.h>
#include <string.h>

/* meta entries that are not derived from the chunks */
static const char *const CARRY_META[] = { "created_ns", "flow_seq", "flows_writer",
                                          "pruned_until" };

static MDB_val mv(const void *p, size_t n)
{
	MDB_val v;
	v.mv_data = (void *)(uintptr_t)p;
	v.mv_size = n;
	return v;
}

/* Copies every entry of one table; check says whether a value is sound. */
static int copy_table(MDB_txn *rt, MDB_dbi from, MDB_txn *wt, MDB_dbi to, bool append,
                      int (*check)(const MDB_val *k, const MDB_val *d), uint64_t *n)
{
	MDB_cursor *cur;
	MDB_val k, d;
	int rc, g;

	if ((rc = mdb_cursor_open(rt, from, &cur)) != 0)
		return idx_lmdb_err(rc);
	for (g = mdb_cursor_get(cur, &k, &d, MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (check && (rc = check(&k, &d)) != 0)
			break;
		if ((rc = mdb_put(wt, to, &k, &d, append ? MDB_APPEND : 0)) != 0) {
			rc = idx_lmdb_err(rc);
			break;
		}
		(*n)++;
	}
	if (rc == 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	mdb_cursor_close(cur);
	return rc;
}

static int check_counter(const MDB_val *k, const MDB_val *d)
{
	return k->mv_size > 0 && d->mv_size == 8 ? 0 : TV_E_CORRUPT;
}

static int check_flow(const MDB_val *k, const MDB_val *d)
{
	tv_flowrec r;
	if (k->mv_size != 12)
		return TV_E_CORRUPT;
	return idx_flow_val_decode(d->mv_data, d->mv_size, &r);
}

/* Sources: the record with more packets done wins (the new index has the
 * marks of every chunk still on disk; the old one may know more). */
static int merge_sources(MDB_txn *rt, MDB_dbi from, MDB_txn *wt, MDB_dbi to, uint64_t *n)
{
	MDB_cursor *cur;
	MDB_val k, d, have;
	int rc = 0, g;

	if ((rc = mdb_cursor_open(rt, from, &cur)) != 0)
		return idx_lmdb_err(rc);
	for (g = mdb_cursor_get(cur, &k, &d, MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != 40 || (d.mv_size != 8 && d.mv_size != 48)) {
			rc = TV_E_CORRUPT;
			break;
		}
		rc = mdb_get(wt, to, &k, &have);
		if (rc == 0 && have.mv_size >= 8 &&
		    tv_get_le64(have.mv_data) >= tv_get_le64(d.mv_data)) {
			continue;
		} else if (rc != 0 && rc != MDB_NOTFOUND) {
			rc = idx_lmdb_err(rc);
			break;
		}
		if ((rc = mdb_put(wt, to, &k, &d, 0)) != 0) {
			rc = idx_lmdb_err(rc);
			break;
		}
		(*n)++;
	}
	if (rc == 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	mdb_cursor_close(cur);
	return rc;
}

int idx_carry(idx *dst, idx *src, idx_carry_report *r)
{
	MDB_txn *rt = NULL, *wt = NULL;
	MDB_stat st;
	size_t i;
	int rc;

	memset(r, 0, sizeof *r);
	if (!dst->writable)
		return EROFS;
	if ((rc = idx_txn_begin(src, false, &rt)) != 0)
		return rc;
	if ((rc = idx_txn_begin(dst, true, &wt)) != 0)
		goto out;
	/* flow records are appended in key order: the new index has none */
	if ((rc = mdb_stat(wt, dst->db_flows, &st)) != 0 || st.ms_entries != 0) {
		rc = rc ? idx_lmdb_err(rc) : TV_E_EXISTS;
		goto out;
	}
	if ((rc = copy_table(rt, src->db_counters, wt, dst->db_counters, false, check_counter,
	                     &r->counters)) != 0 ||
	    (rc = copy_table(rt, src->db_flows, wt, dst->db_flows, true, check_flow, &r->flows)) != 0 ||
	    (rc = merge_sources(rt, src->db_sources, wt, dst->db_sources, &r->sources)) != 0)
		goto out;
	for (i = 0; i < sizeof CARRY_META / sizeof CARRY_META[0]; i++) {
		MDB_val k = mv(CARRY_META[i], strlen(CARRY_META[i])), d;
		rc = mdb_get(rt, src->db_meta, &k, &d);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc == 0 && d.mv_size != 8) {
			rc = TV_E_CORRUPT;
			goto out;
		}
		if (rc == 0)
			rc = mdb_put(wt, dst->db_meta, &k, &d, 0);
		if (rc) {
			rc = idx_lmdb_err(rc);
			goto out;
		}
	}
	rc = idx_lmdb_err(mdb_txn_commit(wt));
	wt = NULL;
out:
	if (wt)
		mdb_txn_abort(wt);
	mdb_txn_abort(rt);
	return rc;
}
