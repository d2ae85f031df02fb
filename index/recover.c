/*
 * recover.c — indexing what a crash left past the index, rebuilding flow
 * records, and rebuilding a whole index aside (reindex).
 */
#include "vault_int.h"
#include "recover2.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ recovery */

struct recover2_ctx {
	idx *x;
	store_segs *segs;
	uint32_t segment;
	idx_recovery *rec;
	uint64_t *next_id;
	store_pflow *fl; /* the flows of the chunk being indexed */
	size_t cfl;
};

static int recover2_chunk(void *ctx, const store_chunk_meta *meta, const uint8_t *chunk,
                          size_t len)
{
	struct recover2_ctx *rc = ctx;
	const store_chunk *c = store_segs_scan_chunk(rc->segs);
	idx_source_mark marks[VAULT_MAX_MARKS];
	idx2_chunk_in in;
	idx2_chunk have;
	const uint8_t *tag;
	uint32_t taglen, b, f;
	size_t n = 0;
	int err;

	if (!c)
		return TV_E_VERSION; /* not a scan of this format */
	/* Live workers take chunk ids at seal time, so a chunk with a lower id
	 * can follow the highest indexed one on disk: skip what is indexed. */
	err = idx2_chunk_get(rc->x, meta->chunk_id, &have);
	if (err == 0)
		return have.segment == rc->segment && have.offset == meta->offset ? 0 : TV_E_EXISTS;
	if (err != TV_E_NOTFOUND)
		return err;
	memset(&in, 0, sizeof in);
	if ((err = idx2_chunk_from_sealed(chunk, len, rc->segment, meta->offset, &in.rec)) != 0)
		return err;
	/* one entry per flow directory entry of each block: idx_commit2 ORs
	 * the bitmaps of a flow listed in several blocks */
	for (b = 0; b < store_chunk_nblocks(c); b++) {
		const store_block *blk = store_chunk_block(c, b);
		for (f = 0; f < store_block_nflows(blk); f++) {
			const store_bflow *bf = store_block_flow(blk, f);
			if (n == rc->cfl) {
				size_t nc = rc->cfl ? rc->cfl * 2 : 256;
				store_pflow *t = realloc(rc->fl, nc * sizeof *t);
				if (!t)
					return TV_E_NOMEM;
				rc->fl = t;
				rc->cfl = nc;
			}
			rc->fl[n].key = bf->key;
			rc->fl[n].tun = bf->tun;
			rc->fl[n].blocks = (uint64_t)1 << b;
			rc->fl[n].nrec = bf->nrec;
			n++;
		}
	}
	in.flows = rc->fl;
	in.nflows = n;
	tag = store_chunk_tag(c, &taglen);
	if ((err = idx_commit2(rc->x, &in, 1, marks, decode_tag(tag, taglen, marks), NULL)) != 0)
		return err;
	if (meta->chunk_id >= *rc->next_id)
		*rc->next_id = meta->chunk_id + 1;
	rc->rec->chunks_indexed++;
	rc->rec->packets_indexed += meta->npkts;
	return 0;
}

int idx_recover2(idx *x, store_segs *segs, idx_recovery *rec, uint64_t *next_chunk_id)
{
	struct recover2_ctx ctx;
	idx2_chunk last;
	uint32_t seg, newest = store_segs_newest(segs);
	uint64_t off = 0;
	int rc;

	*next_chunk_id = 1;
	rc = idx2_chunk_last(x, &last);
	if (rc && rc != TV_E_NOTFOUND)
		return rc;
	if (rc == 0) {
		seg = last.segment;
		off = last.offset + last.length;
		*next_chunk_id = last.chunk_id + 1;
	} else {
		seg = newest ? 1 : 0;
	}
	if (newest == 0)
		return 0;
	memset(&ctx, 0, sizeof ctx);
	ctx.x = x;
	ctx.segs = segs;
	ctx.rec = rec;
	ctx.next_id = next_chunk_id;
	for (; seg <= newest; seg++, off = 0) {
		uint64_t valid_end = 0, torn = 0, iend = 0;
		ctx.segment = seg;
		rc = store_segs_scan(segs, seg, off ? off : STORE_SEG_HDR_LEN, recover2_chunk, &ctx,
		                     &valid_end, &torn);
		if (rc == ENOENT) {
			rc = 0;
			continue; /* a gap left by retention */
		}
		if (rc == TV_E_TRUNCATED)
			rc = TV_E_CORRUPT; /* shorter than the index says: damaged, not torn */
		if (rc)
			break;
		if (!torn)
			continue;
		/* With several writers, indexed chunks of lower ids can lie past
		 * the highest id's chunk.  Never cut indexed data: a chunk the
		 * index lists beyond the bad one means damage, for verify and
		 * reindex to deal with, not a torn tail. */
		if ((rc = idx2_segment_end(x, seg, &iend)) != 0)
			break;
		if (iend > valid_end) {
			rc = TV_E_CORRUPT;
			break;
		}
		if ((rc = store_segs_truncate(segs, seg, valid_end)) != 0)
			break;
		rec->torn_bytes += torn;
		rec->torn_segment = seg;
		rec->torn_offset = valid_end;
	}
	free(ctx.fl);
	return rc;
}

int vault_recover(idx_vault *v, idx_recovery *rec)
{
	return idx_recover2(v->x, v->segs, rec, &v->next_chunk_id);
}

/*
 * Flow records after a crash.  Records are written when their window closes,
 * so a crash loses the records of the windows still open, although their
 * packets are stored (and a re-run skips those packets).  A writable session
 * that synthesises flows sets meta "flows_writer" and clears it on a clean
 * close.  Finding it set at open means the last session died: the records of
 * the newest windows are deleted and rebuilt from the stored packets.  The
 * flow table keeps at most the current and the previous window open, so
 * rebuilding from one interval before the newest committed window covers
 * every window that could be incomplete (a window that never produced a
 * record is rebuilt from its packets too, since every packet after the start
 * is replayed).  Only late packets of windows already closed (its "late"
 * list) can stay lost.
 */

struct rebuild_ctx {
	ingest_flowtab *ft;
	idx_vault *v;
	uint64_t committed; /* records committed along the way */
};

/* A whole store's records (reindex) would not fit in memory at once. */
#define REBUILD_COMMIT_EVERY 65536

static int rebuild_on_packet(void *ctx, int store, const store_rec *r, const tv_l3info *info)
{
	struct rebuild_ctx *rc = ctx;
	tv_pkt p;
	(void)store;
	memset(&p, 0, sizeof p);
	p.ts_ns = r->ts_ns;
	p.frame = r->frame;
	p.caplen = r->caplen;
	p.origlen = r->origlen;
	p.decap_error = (r->flags & STORE_REC_DECAP_ERROR) != 0;
	p.tun = *r->tun;
	p.info = *info;
	ingest_flowtab_add(rc->ft, &p);
	if (rc->v->nflows >= REBUILD_COMMIT_EVERY) {
		size_t n = rc->v->nflows;
		int err = vault_commit_flows(rc->v);
		if (err)
			return err;
		rc->committed += n;
	}
	return 0;
}

int vault_rebuild_flows(idx_vault *v, uint64_t *rebuilt)
{
	uint32_t last = 0, from;
	bool any = false;
	uint64_t dropped = 0;
	char err[256];
	idx_expr *e = NULL;
	idx_rstore rs;
	struct rebuild_ctx ctx;
	ingest_flowtab_cfg fcfg = v->cfg.flowtab;
	int rc;

	*rebuilt = 0;
	if ((rc = idx_flows_last_window(v->x, &last, &any)) != 0)
		return rc;
	from = (any && last > fcfg.interval) ? last - fcfg.interval : 0;
	if ((rc = idx_flows_drop_from(v->x, from, &dropped)) != 0)
		return rc;
	if ((rc = idx_expr_time_window((uint64_t)from * TV_NS_PER_S, 0, &e)) != 0)
		return rc;
	v->nflows = 0;
	ctx.ft = NULL;
	ctx.v = v;
	ctx.committed = 0;
	rc = ingest_flowtab_new(&fcfg, vault_on_flows, v, NULL, &ctx.ft);
	if (rc == 0) {
		memset(&rs, 0, sizeof rs);
		rs.x = v->x;
		rs.segs = v->segs;
		rs.dir = v->dir;
		rc = idx_query_run(&rs, 1, e, false, rebuild_on_packet, &ctx, NULL, err, sizeof err);
	}
	if (rc == 0) {
		ingest_flowtab_flush(ctx.ft);
		*rebuilt = ctx.committed + v->nflows;
		rc = vault_commit_flows(v);
	}
	ingest_flowtab_free(ctx.ft);
	idx_expr_free(e);
	v->nflows = 0;
	return rc;
}

/* ============================================================= reindex */

/*
 * The new index is built under STORE/index.build-<pid> with a marker file
 * inside; the marker goes once the build is complete and durable, then the
 * build and STORE/index trade places in one rename (RENAME_EXCHANGE), and
 * the old index is moved to STORE/index.old-<time>.  A reader opens either
 * the old index or the complete new one; a kill leaves the old index in
 * place (and a marked build, removed by the next reindex) or the new one.
 */
#define REINDEX_MARK "BUILDING"
#define REINDEX_BUILD "index.build-"

static int fsync_dirfd(int dfd)
{
	return fsync(dfd) != 0 ? errno : 0;
}

/* Moves STORE/<from> to STORE/index.old-<time>[-n], never over anything. */
static int move_aside(int sfd, const char *from, char *to, size_t cap)
{
	long long t = (long long)time(NULL);
	int i;
	for (i = 0; i < 100; i++) {
		if (i == 0)
			snprintf(to, cap, "index.old-%lld", t);
		else
			snprintf(to, cap, "index.old-%lld-%d", t, i);
		if (renameat2(sfd, from, sfd, to, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return errno;
	}
	return EEXIST;
}

/* Removes an incomplete build (it holds the marker): only the files LMDB
 * and the marker make.  Returns true when it was one and is gone. */
static bool remove_build(int sfd, const char *name)
{
	static const char *const files[] = { "data.mdb", "lock.mdb", REINDEX_MARK };
	size_t i;
	int bfd = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0)
		return false;
	if (faccessat(bfd, REINDEX_MARK, F_OK, AT_SYMLINK_NOFOLLOW) != 0) {
		close(bfd);
		return false;
	}
	for (i = 0; i < sizeof files / sizeof files[0]; i++)
		unlinkat(bfd, files[i], 0);
	close(bfd);
	return unlinkat(sfd, name, AT_REMOVEDIR) == 0;
}

/* Builds left by an interrupted reindex: a marked one is incomplete and
 * is removed; an unmarked one is a complete index and is moved aside,
 * never deleted. */
static int clean_builds(int sfd, idx_reindex_report *rep)
{
	DIR *d;
	struct dirent *e;
	int dfd = dup(sfd), rc = 0;

	if (dfd < 0)
		return errno;
	d = fdopendir(dfd);
	if (!d) {
		rc = errno;
		close(dfd);
		return rc;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char aside[64];
		struct stat st;
		if (strncmp(e->d_name, REINDEX_BUILD, strlen(REINDEX_BUILD)) != 0)
			continue;
		if (fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (remove_build(sfd, e->d_name)) {
			rep->stale_removed++;
			continue;
		}
		if (faccessat(sfd, e->d_name, F_OK, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if ((rc = move_aside(sfd, e->d_name, aside, sizeof aside)) == 0)
			rep->stale_kept++;
	}
	closedir(d);
	return rc;
}

int idx_reindex(const char *dir, idx_reindex_report *rep)
{
	char build[64];
	idx_vault_cfg cfg;
	char why[256];
	idx_cfg ocfg;
	idx *old = NULL;
	idx_vault *v = NULL;
	tv_counters ctr;
	struct stat st;
	int sfd, bfd = -1, mfd, lfd = -1, rc;
	bool had_old;

	memset(rep, 0, sizeof *rep);
	sfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return errno == ENOENT ? TV_E_NOTFOUND : errno;
	if (fstatat(sfd, STORE_SEGMENTS_DIR, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
		close(sfd);
		return TV_E_NOTFOUND;
	}
	/* a store of another format is not rebuilt, and nothing in it changes */
	if (idx_format_note(dir, why, sizeof why)) {
		close(sfd);
		return TV_E_VERSION;
	}
	/* before anything changes: an ingest holds the lock while it runs */
	if ((rc = store_lock_take(dir, &lfd)) != 0)
		goto out;
	if ((rc = clean_builds(sfd, rep)) != 0)
		goto out;
	snprintf(build, sizeof build, REINDEX_BUILD "%ld", (long)getpid());
	if (mkdirat(sfd, build, 0700) != 0) {
		rc = errno;
		goto out;
	}
	bfd = openat(sfd, build, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bfd < 0) {
		rc = errno;
		goto out;
	}
	mfd = openat(bfd, REINDEX_MARK, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (mfd < 0) {
		rc = errno;
		goto out;
	}
	close(mfd);
	if ((rc = fsync_dirfd(bfd)) != 0 || (rc = fsync_dirfd(sfd)) != 0)
		goto out;

	had_old = fstatat(sfd, STORE_INDEX_DIR, &st, AT_SYMLINK_NOFOLLOW) == 0;
	idx_cfg_default(&ocfg);
	if (had_old && (rep->old_err = idx_open(dir, &ocfg, &old)) != 0)
		old = NULL;
	idx_vault_cfg_default(&cfg);
	cfg.flows = false;
	cfg.index.name = build;
	/* the new index keeps the store's identity (that of the segments
	 * when there is no old index to ask) */
	if (old) {
		idx_store_uuid(old, cfg.index.uuid);
		cfg.index.have_uuid = true;
	} else if (store_segs_read_uuid(dir, cfg.index.uuid) == 0) {
		cfg.index.have_uuid = true;
	}
	memset(&ctr, 0, sizeof ctr);
	if ((rc = vault_open(dir, &cfg, &ctr, &rep->rec, false, &v)) != 0)
		goto out;
	if (old) {
		rc = idx_carry(v->x, old, &rep->carry);
		if (rc == 0)
			rep->carried = true;
		else
			rep->old_err = rc;
		idx_close(old);
		old = NULL;
	}
	if (!rep->carried && (rc = vault_rebuild_flows(v, &rep->flows_rebuilt)) != 0)
		goto out;
	rc = idx_vault_close(v);
	v = NULL;
	if (rc)
		goto out;
	/* complete and durable (LMDB syncs every commit): drop the marker */
	if (unlinkat(bfd, REINDEX_MARK, 0) != 0) {
		rc = errno;
		goto out;
	}
	if ((rc = fsync_dirfd(bfd)) != 0)
		goto out;
	if (had_old && renameat2(sfd, build, sfd, STORE_INDEX_DIR, RENAME_EXCHANGE) == 0) {
		/* the build's name now holds the old index */
		if ((rc = move_aside(sfd, build, rep->old_dir, sizeof rep->old_dir)) != 0)
			goto out;
	} else if (had_old && errno != EINVAL && errno != ENOSYS) {
		rc = errno;
		goto out;
	} else if (had_old && ((rc = move_aside(sfd, STORE_INDEX_DIR, rep->old_dir, sizeof rep->old_dir)) != 0 ||
	                       renameat(sfd, build, sfd, STORE_INDEX_DIR) != 0)) {
		/* a file system without RENAME_EXCHANGE: for a moment there is
		 * no index (readers fail, they never see a partial one) */
		rc = rc ? rc : errno;
		goto out;
	} else if (!had_old && renameat(sfd, build, sfd, STORE_INDEX_DIR) != 0) {
		rc = errno;
		goto out;
	}
	rc = fsync_dirfd(sfd);
out:
	if (v)
		idx_vault_close(v);
	idx_close(old);
	if (rc && bfd >= 0)
		remove_build(sfd, build); /* only while it still holds the marker */
	if (bfd >= 0)
		close(bfd);
	if (lfd >= 0)
		close(lfd);
	close(sfd);
	return rc;
}

