/*
 * vault.c — a store directory opened for writing as one object: segment
 * files (store/) plus the LMDB index (index/), under the store's lock.
 * Opening recovers what a crash left (recover.c); the write path is in
 * pipeline.c.
 */
#include "vault_int.h"

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

void idx_vault_cfg_default(idx_vault_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	store_packer_cfg_default(&cfg->packer);
	store_segs_cfg_default(&cfg->segs);
	idx_cfg_default(&cfg->index);
	cfg->segs.writable = true;
	cfg->index.writable = true;
	cfg->commit_chunks = 1;
	cfg->flows = true;
	cfg->threads = 1;
	ingest_flowtab_cfg_default(&cfg->flowtab);
}

idx *idx_vault_index(idx_vault *v)
{
	return v->x;
}

int vault_open(const char *dir, const idx_vault_cfg *cfg, tv_counters *ctr,
               idx_recovery *rec, bool lock, idx_vault **out)
{
	idx_vault *v;
	uint8_t uuid[16];
	idx_recovery dummy;
	int rc;

	*out = NULL;
	if (!rec)
		rec = &dummy;
	memset(rec, 0, sizeof *rec);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errno;
	v = calloc(1, sizeof *v);
	if (!v)
		return TV_E_NOMEM;
	v->cfg = *cfg;
	if (v->cfg.commit_chunks == 0)
		v->cfg.commit_chunks = 1;
	if (v->cfg.commit_chunks > 64)
		v->cfg.commit_chunks = 64;
	v->ctr = ctr;
	if (ctr)
		v->stored0 = ctr->v[TV_CTR_STORE_PACKETS];
	v->lock_fd = -1;
	v->dir = strdup(dir);
	if (!v->dir) {
		rc = TV_E_NOMEM;
		goto fail;
	}
	if (lock && (rc = store_lock_take(dir, &v->lock_fd)) != 0)
		goto fail;
	rc = idx_open(dir, &v->cfg.index, &v->x);
	if (rc)
		goto fail;
	idx_store_uuid(v->x, uuid);
	rc = store_segs_open(dir, uuid, &v->cfg.segs, &v->segs);
	if (rc)
		goto fail;
	rc = wseal_new(v, &v->seal);
	if (rc)
		goto fail;
	if (v->cfg.threads < 1)
		v->cfg.threads = 1;
	if (v->cfg.threads > FP_MAX_THREADS)
		v->cfg.threads = FP_MAX_THREADS;
	/* the chunks of one commit, or of one live pass */
	v->pend_cap = W_BATCH;
	v->pend = calloc(v->pend_cap, sizeof *v->pend);
	v->in2 = calloc(v->pend_cap, sizeof *v->in2);
	if (!v->pend || !v->in2) {
		rc = TV_E_NOMEM;
		goto fail;
	}
	if (v->cfg.flows) {
		rc = ingest_flowtab_new(&v->cfg.flowtab, vault_on_flows, v, ctr, &v->ft);
		if (rc)
			goto fail;
	}
	rc = vault_recover(v, rec);
	if (rc == 0 && v->cfg.flows) {
		uint64_t was = 0;
		rc = idx_meta_u64_get(v->x, FLOWS_WRITER_KEY, &was);
		if (rc == 0 && was)
			rc = vault_rebuild_flows(v, &rec->flows_rebuilt);
		if (rc == 0 && (rc = idx_meta_u64_set(v->x, FLOWS_WRITER_KEY, 1)) == 0)
			v->flows_session = true;
	}
	if (rc)
		goto fail;
	if ((rc = file_start(v)) != 0)
		goto fail;
	*out = v;
	return 0;
fail:
	v->npend = 0;
	idx_vault_close(v);
	return rc;
}

int idx_vault_open(const char *dir, const idx_vault_cfg *cfg, tv_counters *ctr,
                   idx_recovery *rec, idx_vault **out)
{
	char why[256];
	/* a store of another format is refused before anything in it changes
	 * (idx_open would refuse its index, but only after the lock, and
	 * segments alone would be refused after a new index is made).  Not in
	 * vault_open: reindex checks before it opens the old index, whose
	 * environment must not be opened twice in one process. */
	*out = NULL;
	if (idx_format_note(dir, why, sizeof why)) {
		if (rec)
			memset(rec, 0, sizeof *rec);
		return TV_E_VERSION;
	}
	return vault_open(dir, cfg, ctr, rec, true, out);
}

bool idx_store_writer_active(const char *dir)
{
	return store_lock_held(dir);
}

int idx_vault_close(idx_vault *v)
{
	int rc = 0;
	size_t i;
	if (!v)
		return 0;
	if (v->live)
		rc = idx_vault_live_stop(v);
	if (v->x && v->segs && wseal_ok(&v->seal)) {
		if (v->ft)
			ingest_flowtab_flush(v->ft);
		int frc = idx_vault_flush(v);
		if (rc == 0)
			rc = frc;
	}
	file_stop(v); /* its error is the flush's */
	if (v->ctr && !v->live) {
		/* added but never written to a segment (a failed write, a full
		 * disk): not stored; the summary says so */
		uint64_t stored = v->ctr->v[TV_CTR_STORE_PACKETS] - v->stored0;
		if (v->added > stored)
			v->ctr->v[TV_CTR_STORE_LOST] += v->added - stored;
	}
	/* a clean close: every record is written; a later open needs no rebuild */
	if (rc == 0 && v->flows_session && v->x)
		rc = idx_meta_u64_set(v->x, FLOWS_WRITER_KEY, 0);
	ingest_flowtab_free(v->ft);
	ingest_prefix_free(v->src_hash);
	free(v->dir);
	free(v->flows);
	if (v->pend)
		for (i = 0; i < v->pend_cap; i++)
			wflows_free(&v->pend[i].fl);
	free(v->pend);
	free(v->in2);
	wseal_free(&v->seal);
	store_segs_close(v->segs);
	idx_close(v->x);
	if (v->lock_fd >= 0)
		close(v->lock_fd);
	free(v);
	return rc;
}

