/*
 * carry.c — what an index holds that the segments cannot give back.
 *
 * reindex derives chunks, postings and source marks from the segment files
 * (index/vault.c, recovery).  Flow records, the ingest counters, the
 * retention mark and the sources of chunks already pruned exist only in the
 * index; when the old index can still be read they are copied into the new
 * one here, in one write transaction (all or nothing).
 *
 * The blocks of flow records (v2_flows) are copied as they are, each
 * decoded first: a block that readers would refuse is not carried.
 */
#include "flows2.h"

#include <errno.h>
#include <stdlib.h>
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
                      int (*check)(void *ctx, const MDB_val *k, const MDB_val *d, uint64_t *n),
                      void *ctx, uint64_t *n)
{
	MDB_cursor *cur;
	MDB_val k, d;
	int rc, g;

	if ((rc = mdb_cursor_open(rt, from, &cur)) != 0)
		return idx_lmdb_err(rc);
	for (g = mdb_cursor_get(cur, &k, &d, MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if ((rc = check(ctx, &k, &d, n)) != 0)
			break;
		if ((rc = mdb_put(wt, to, &k, &d, append ? MDB_APPEND : 0)) != 0) {
			rc = idx_lmdb_err(rc);
			break;
		}
	}
	if (rc == 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	mdb_cursor_close(cur);
	return rc;
}

/* The checks of copy_table: 0 when the entry is sound, and *n counts what
 * it holds. */
static int check_counter(void *ctx, const MDB_val *k, const MDB_val *d, uint64_t *n)
{
	(void)ctx;
	if (k->mv_size == 0 || d->mv_size != 8)
		return TV_E_CORRUPT;
	(*n)++;
	return 0;
}

/* A v2_flows block is decoded whole (strictly, into the one buffer ctx):
 * a block that readers would refuse is not carried. */
static int check_flow_block(void *ctx, const MDB_val *k, const MDB_val *d, uint64_t *n)
{
	const tv_flowrec *recs;
	size_t cnt;
	int rc;
	if (k->mv_size != IDX2_FLOWS_KEY_LEN)
		return TV_E_CORRUPT;
	rc = idx2_flows_block_decode(ctx, tv_get_be32(k->mv_data), d->mv_data, d->mv_size, &recs,
	                             &cnt);
	if (rc)
		return rc;
	*n += cnt;
	return 0;
}

static int meta_u64(MDB_txn *txn, idx *x, const char *name, uint64_t *v)
{
	MDB_val k = mv(name, strlen(name)), d;
	int rc = mdb_get(txn, x->db_meta, &k, &d);
	*v = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return idx_lmdb_err(rc);
	if (d.mv_size != 8)
		return TV_E_CORRUPT;
	*v = tv_get_le64(d.mv_data);
	return 0;
}

static int carry_flows(MDB_txn *wt, idx *dst, MDB_txn *rt, idx *src, uint64_t *n)
{
	idx2_fbuf *b = NULL;
	int rc;

	if ((rc = idx2_fbuf_new(&b)) != 0)
		return rc;
	rc = copy_table(rt, src->db2_flows, wt, dst->db2_flows, true, check_flow_block, b, n);
	idx2_fbuf_free(b);
	return rc;
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
	if ((rc = mdb_stat(wt, dst->db2_flows, &st)) != 0 || st.ms_entries != 0) {
		rc = rc ? idx_lmdb_err(rc) : TV_E_EXISTS;
		goto out;
	}
	if ((rc = copy_table(rt, src->db_counters, wt, dst->db_counters, false, check_counter, NULL,
	                     &r->counters)) != 0 ||
	    (rc = carry_flows(wt, dst, rt, src, &r->flows)) != 0 ||
	    (rc = merge_sources(rt, src->db_sources, wt, dst->db_sources, &r->sources)) != 0)
		goto out;
	for (i = 0; i < sizeof CARRY_META / sizeof CARRY_META[0]; i++) {
		MDB_val k = mv(CARRY_META[i], strlen(CARRY_META[i])), d;
		uint64_t have;
		rc = mdb_get(rt, src->db_meta, &k, &d);
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc == 0 && d.mv_size != 8) {
			rc = TV_E_CORRUPT;
			goto out;
		}
		/* flow_seq never goes down */
		if (rc == 0 && strcmp(CARRY_META[i], "flow_seq") == 0) {
			if ((rc = meta_u64(wt, dst, "flow_seq", &have)) != 0)
				goto out;
			if (have > tv_get_le64(d.mv_data))
				continue;
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
