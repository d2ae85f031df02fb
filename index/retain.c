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
#include "vault_int.h"
#include "idx2.h"

#include <stdlib.h>
#include <unistd.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char K_PRUNED[] = "pruned_until";

/* The slices v2_segs lists for the segment (a slice's chunks have
 * consecutive ids, so their counts sum to the segment's chunks). */
int idx_segment_last_ts(idx *x, uint32_t segment, uint64_t *last_ts, uint64_t *nchunks)
{
	uint8_t kb[4];
	MDB_txn *txn;
	MDB_val k, d;
	idx2_seg sg;
	uint32_t sid;
	int rc;

	*last_ts = 0;
	if (nchunks)
		*nchunks = 0;
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	tv_put_be32(kb, segment);
	k.mv_data = kb;
	k.mv_size = sizeof kb;
	rc = mdb_get(txn, x->db2_segs, &k, &d);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return 0;
	}
	if (rc == 0)
		rc = idx2_seg_decode(d.mv_data, d.mv_size, &sg);
	else
		rc = idx_lmdb_err(rc);
	for (sid = sg.first_slice; rc == 0 && sid - 1 < sg.last_slice; sid++) {
		idx2_slice sl;
		tv_put_be32(kb, sid);
		k.mv_data = kb;
		k.mv_size = sizeof kb;
		if ((rc = mdb_get(txn, x->db2_slices, &k, &d)) != 0) {
			rc = rc == MDB_NOTFOUND ? TV_E_CORRUPT : idx_lmdb_err(rc);
			break;
		}
		if ((rc = idx2_slice_decode(d.mv_data, d.mv_size, &sl)) != 0)
			break;
		if (sl.segment != segment) {
			rc = TV_E_CORRUPT;
			break;
		}
		if (sl.last_ts > *last_ts)
			*last_ts = sl.last_ts;
		if (nchunks)
			*nchunks += sl.nchunks;
	}
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

/* ---------------------------------------------------------- retention */

/* Drops one segment: mark, index entries, then the file (FORMAT.md
 * "Drop of a segment"; the order leaves at worst an orphan file, which the
 * next start removes). */
static int live_drop_segment(idx_vault *v, uint32_t seg, uint64_t bytes)
{
	uint64_t last = 0, nch = 0, dropped = 0;
	int rc = idx_segment_last_ts(v->x, seg, &last, &nch);
	if (rc)
		return rc;
	if (last && (rc = idx_pruned_until_raise(v->x, last)) != 0)
		return rc;
	rc = idx_segment_drop2(v->x, seg, &dropped);
	if (rc)
		return rc;
	rc = store_segs_remove(v->segs, seg);
	if (rc && rc != ENOENT)
		return rc;
	v->w->total.v[TV_CTR_RET_SEGMENTS]++;
	v->w->total.v[TV_CTR_RET_CHUNKS] += dropped;
	v->w->total.v[TV_CTR_RET_BYTES] += bytes;
	return 0;
}

/* One retention pass: oldest segments first, never the one being written. */
int live_retention(idx_vault *v)
{
	struct live *L = v->live;
	uint32_t *ids = NULL, newest, floor;
	uint64_t *sizes = NULL, total = 0, now = tv_clock_real_ns();
	size_t n = 0, i;
	int rc;

	L->last_pass = tv_clock_mono_ns();
	if ((rc = store_segs_list(v->segs, &ids, &n)) != 0)
		return rc;
	sizes = calloc(n ? n : 1, sizeof *sizes);
	if (!sizes) {
		free(ids);
		return TV_E_NOMEM;
	}
	for (i = 0; i < n; i++) {
		if (store_segs_size(v->segs, ids[i], &sizes[i]) != 0)
			sizes[i] = 0; /* vanished: nothing to count */
		total += sizes[i];
	}
	newest = store_segs_newest(v->segs);
	/* Chunks appended in this writer pass and not yet committed (v->pend)
	 * are in pend[0]'s segment or later: the index does not know them, so
	 * a segment from there on holds data that must not go (the commit
	 * that follows would name chunks of a deleted file). */
	floor = v->npend ? v->pend[0].meta.segment : newest;
	for (i = 0; i < n && ids[i] != newest && ids[i] < floor; i++) {
		bool drop = false;
		if (L->cfg.max_size && total > L->cfg.max_size) {
			drop = true;
		} else if (L->cfg.max_age_ns && now > L->cfg.max_age_ns) {
			uint64_t last = 0, nch = 0;
			if ((rc = idx_segment_last_ts(v->x, ids[i], &last, &nch)) != 0)
				break;
			drop = nch == 0 || last < now - L->cfg.max_age_ns;
		}
		if (!drop)
			break;
		if ((rc = live_drop_segment(v, ids[i], sizes[i])) != 0)
			break;
		total -= sizes[i];
	}
	L->seg_bytes = total;
	free(ids);
	free(sizes);
	if (rc)
		return rc;
	if (L->cfg.flow_max_age_ns && tv_clock_mono_ns() - L->last_flow_pass > 10000000000ull) {
		uint64_t dropped = 0;
		L->last_flow_pass = tv_clock_mono_ns();
		if (now > L->cfg.flow_max_age_ns) {
			uint64_t before = (now - L->cfg.flow_max_age_ns) / 1000000000u;
			rc = idx_flows_drop_before(v->x, before > UINT32_MAX ? UINT32_MAX : (uint32_t)before,
			                           &dropped);
			v->w->total.v[TV_CTR_RET_FLOWS] += dropped;
		}
	}
	return rc;
}

/* Removes segment files older than the newest that the index names no
 * chunk of: left when a crash fell between idx_segment_drop and the file's
 * removal.  Only run when retention is on (nothing else makes them). */
int live_remove_orphans(idx_vault *v)
{
	uint32_t *ids = NULL, newest = store_segs_newest(v->segs);
	size_t n = 0, i;
	int rc = store_segs_list(v->segs, &ids, &n);
	if (rc)
		return rc;
	for (i = 0; i < n && ids[i] != newest; i++) {
		uint64_t last, nch;
		if ((rc = idx_segment_last_ts(v->x, ids[i], &last, &nch)) != 0)
			break;
		if (nch == 0 && (rc = store_segs_remove(v->segs, ids[i])) != 0 && rc != ENOENT)
			break;
		rc = 0;
	}
	free(ids);
	return rc;
}

int idx_live_keep_free(const idx_live_cfg *cfg, const char *dir, idx_free_space *fs)
{
	struct statvfs sv;
	memset(fs, 0, sizeof *fs);
	/* the store's own file system, wherever the process runs from */
	if (statvfs(dir, &sv) != 0)
		return errno;
	fs->size = (uint64_t)sv.f_blocks * sv.f_frsize;
	fs->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (cfg->min_free_auto) {
		/* the smaller of 1 GiB and 5 %: either guard alone would keep a
		 * small disk from storing anything, or a large one too full */
		fs->keep = fs->size / 20 < (1ull << 30) ? fs->size / 20 : 1ull << 30;
	} else {
		uint64_t pct = fs->size / 100 * cfg->min_free_pct;
		fs->keep = cfg->min_free > pct ? cfg->min_free : pct;
	}
	return 0;
}

/* Free space check before an append: statvfs is cheap next to a fdatasync.
 * Measured every time, so storing starts again as soon as space is freed
 * (or the file system grows). */
bool live_space_ok(idx_vault *v, size_t len)
{
	struct live *L = v->live;
	idx_free_space fs;
	if (!L->cfg.min_free_auto && !L->cfg.min_free && !L->cfg.min_free_pct)
		return true;
	if (idx_live_keep_free(&L->cfg, v->dir, &fs) != 0)
		return true; /* cannot tell: the write itself will say ENOSPC */
	return fs.avail >= fs.keep + len;
}

