/*
 * carry.c — what an index holds that the segments cannot give back.
 *
 * reindex derives chunks, postings and source marks from the segment files
 * (index/vault.c, recovery).  Flow records, the ingest counters, the
 * retention mark and the sources of chunks already pruned exist only in the
 * index; when the old index can still be read they are copied into the new
 * one here, in one write transaction (all or nothing).
 *
 * Flow records are kept in the format of each index: table "flows" on
 * format 1, blocks of v2_flows on format 2.  Between indexes of one format
 * the entries are copied as they are (each checked first); between formats
 * the records are read in key order and written anew in dst's format.
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

static int check_flow(void *ctx, const MDB_val *k, const MDB_val *d, uint64_t *n)
{
	tv_flowrec r;
	int rc;
	(void)ctx;
	if (k->mv_size != 12)
		return TV_E_CORRUPT;
	if ((rc = idx_flow_val_decode(d->mv_data, d->mv_size, &r)) != 0)
		return rc;
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

/* ------------------------------------------ flow records across formats */

/* Writes src's records, read in key order, into dst's format: format 1
 * one entry per record under the next seq; format 2 blocks of the runs of
 * one window (at most 4096 records each), as idx2_flows_put makes them. */
struct reformat {
	idx *dst;
	MDB_txn *wt;
	idx2_fbuf *b;      /* dst format 2: the encoder's buffer */
	tv_flowrec *run;   /* dst format 2: IDX2_FLOWS_BLOCK_MAX records of one window */
	size_t nrun;
	uint64_t seq;      /* dst format 1: the last seq given */
	uint64_t n;
};

static int reformat_flush(struct reformat *f)
{
	int rc = 0;
	if (f->nrun)
		rc = idx2_flows_put(f->dst, f->wt, f->b, f->run, f->nrun, NULL);
	f->nrun = 0;
	return rc;
}

static int reformat_rec(void *ctx, const tv_flowrec *r)
{
	struct reformat *f = ctx;
	int rc;

	f->n++;
	if (f->run) {
		if (f->nrun && (f->nrun == IDX2_FLOWS_BLOCK_MAX || f->run[0].window != r->window) &&
		    (rc = reformat_flush(f)) != 0)
			return rc;
		f->run[f->nrun++] = *r;
		return 0;
	}
	uint8_t kb[12], vb[IDX_FLOW_VAL_LEN];
	MDB_val k = { sizeof kb, kb }, d = { sizeof vb, vb };
	tv_put_be32(kb, r->window);
	tv_put_be64(kb + 4, ++f->seq);
	idx_flow_val_encode(r, vb);
	/* key order: windows do not decrease and seq grows */
	return idx_lmdb_err(mdb_put(f->wt, f->dst->db_flows, &k, &d, MDB_APPEND));
}

/* Format 1 records of src in key order, each checked, to cb. */
static int read_flows1(idx *src, MDB_txn *rt, idx_flow_cb cb, void *ctx)
{
	MDB_cursor *cur;
	MDB_val k, d;
	int rc = 0, g;

	if ((rc = mdb_cursor_open(rt, src->db_flows, &cur)) != 0)
		return idx_lmdb_err(rc);
	for (g = mdb_cursor_get(cur, &k, &d, MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		tv_flowrec r;
		if (k.mv_size != 12) {
			rc = TV_E_CORRUPT;
			break;
		}
		if ((rc = idx_flow_val_decode(d.mv_data, d.mv_size, &r)) != 0 ||
		    (rc = cb(ctx, &r)) != 0)
			break;
	}
	if (rc == 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	mdb_cursor_close(cur);
	return rc;
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

static int carry_flows(idx *dst, MDB_txn *wt, idx *src, MDB_txn *rt, uint64_t *n)
{
	struct reformat f;
	int rc;

	memset(&f, 0, sizeof f);
	if ((rc = idx2_fbuf_new(&f.b)) != 0)
		return rc;
	if (idx_format(src) == idx_format(dst)) {
		if (idx_format(src) == 2)
			rc = copy_table(rt, src->db2_flows, wt, dst->db2_flows, true, check_flow_block,
			                f.b, n);
		else
			rc = copy_table(rt, src->db_flows, wt, dst->db_flows, true, check_flow, NULL, n);
		goto out;
	}
	f.dst = dst;
	f.wt = wt;
	if (idx_format(dst) == 2 && !(f.run = malloc(IDX2_FLOWS_BLOCK_MAX * sizeof *f.run))) {
		rc = TV_E_NOMEM;
		goto out;
	}
	if (idx_format(dst) == 1 && (rc = meta_u64(wt, dst, "flow_seq", &f.seq)) != 0)
		goto out;
	if (idx_format(src) == 2)
		rc = idx2_flows_read(src, rt, f.b, 0, UINT32_MAX, reformat_rec, &f);
	else
		rc = read_flows1(src, rt, reformat_rec, &f);
	if (rc == 0 && f.run)
		rc = reformat_flush(&f);
	if (rc == 0 && !f.run && f.n) {
		uint8_t sb[8];
		MDB_val k = mv("flow_seq", 8), d = mv(sb, 8);
		tv_put_le64(sb, f.seq);
		rc = idx_lmdb_err(mdb_put(wt, dst->db_meta, &k, &d, 0));
	}
	*n = f.n;
out:
	free(f.run);
	idx2_fbuf_free(f.b);
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
	if ((rc = mdb_stat(wt, dst->db_flows, &st)) != 0 || st.ms_entries != 0 ||
	    (dst->v2 && ((rc = mdb_stat(wt, dst->db2_flows, &st)) != 0 || st.ms_entries != 0))) {
		rc = rc ? idx_lmdb_err(rc) : TV_E_EXISTS;
		goto out;
	}
	if ((rc = copy_table(rt, src->db_counters, wt, dst->db_counters, false, check_counter, NULL,
	                     &r->counters)) != 0 ||
	    (rc = carry_flows(dst, wt, src, rt, &r->flows)) != 0 ||
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
		/* flow_seq never goes down: records rewritten into format 1
		 * take a seq each, which can pass the old index's count */
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
