/*
 * resume.c — which earlier run a capture file continues (source marks).
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

/* Candidates for a file: every mark whose identity starts with key, the
 * newest of each identity. */
void cand_put(idx_source_mark *c, size_t *n, const idx_source_mark *m)
{
	size_t i;
	for (i = 0; i < *n; i++)
		if (memcmp(c[i].identity, m->identity, 40) == 0) {
			if (m->packets_done > c[i].packets_done)
				c[i] = *m;
			return;
		}
	if (*n < VAULT_MAX_CANDS)
		c[(*n)++] = *m;
}

static int cand_cmp(const void *a, const void *b)
{
	const idx_source_mark *x = a, *y = b;
	return x->prefix_len < y->prefix_len ? -1 : x->prefix_len > y->prefix_len;
}

static int source_candidates(idx_vault *v, const uint8_t key[IDX_SOURCE_KEY_LEN],
                             idx_source_mark *c, size_t *n)
{
	size_t i, k, got = 0;
	int rc;

	*n = 0;
	if ((rc = settle_marks(v, v->cur_marks, v->cur_nmarks)) != 0)
		return rc;
	for (i = 0; i < v->cur_nmarks; i++)
		if (memcmp(v->cur_marks[i].identity, key, IDX_SOURCE_KEY_LEN) == 0)
			cand_put(c, n, &v->cur_marks[i]);
	if (v->fs)
		file_candidates(v, key, c, n);
	{
		idx_source_mark stored[VAULT_MAX_CANDS];
		if ((rc = idx_source_list(v->x, key, stored, VAULT_MAX_CANDS, &got)) != 0)
			return rc;
		for (k = 0; k < got && k < VAULT_MAX_CANDS; k++)
			cand_put(c, n, &stored[k]);
	}
	return 0;
}

int idx_vault_source_begin(idx_vault *v, const uint8_t *key, int fd,
                           idx_source_resume *res)
{
	idx_source_mark *c = NULL;
	uint8_t d[32];
	uint64_t variant = 0;
	size_t n = 0, i, best = SIZE_MAX;
	int rc;

	memset(res, 0, sizeof *res);
	/* the marks of the file before keep the hash of what it consumed */
	if ((rc = settle_marks(v, v->cur_marks, v->cur_nmarks)) != 0)
		return rc;
	v->src_active = false;
	if (!key || fd < 0)
		return 0;
	/* with sealer threads the hashing gets a thread too: off the reader's
	 * path; --threads 1 hashes in the reader, as it does everything else */
	if (!v->src_hash && (rc = ingest_prefix_new(v->cfg.threads > 1, &v->src_hash)) != 0)
		return rc;
	c = malloc(VAULT_MAX_CANDS * sizeof *c);
	if (!c)
		return TV_E_NOMEM;
	if ((rc = source_candidates(v, key, c, &n)) != 0)
		goto out;
	qsort(c, n, sizeof *c, cand_cmp);
	if ((rc = ingest_prefix_start(v->src_hash, fd)) != 0)
		goto out;
	res->rule = n ? IDX_SRC_UNKNOWN_PREFIX : IDX_SRC_UNSEEN;
	for (i = 0; i < n; i++) {
		uint64_t var = tv_get_be64(c[i].identity + IDX_SOURCE_KEY_LEN);
		if (var >= variant)
			variant = var + 1;
		if (c[i].prefix_len == 0)
			continue; /* written before prefix hashes: cannot be compared */
		if (res->rule == IDX_SRC_SHORTER)
			continue; /* longer ones cannot match either */
		rc = ingest_prefix_advance(v->src_hash, c[i].prefix_len);
		if (rc == TV_E_TRUNCATED) {
			if (best == SIZE_MAX) {
				res->rule = IDX_SRC_SHORTER;
				res->prefix_len = c[i].prefix_len;
			}
			rc = 0;
			continue;
		}
		if (rc || (rc = ingest_prefix_digest(v->src_hash, d)) != 0)
			goto out;
		if (memcmp(d, c[i].prefix_sha256, 32) == 0) {
			best = i;
		} else if (best == SIZE_MAX) {
			res->rule = IDX_SRC_DIFFERS;
			res->prefix_len = c[i].prefix_len;
		}
	}
	if (best != SIZE_MAX) {
		res->rule = IDX_SRC_RESUMED;
		res->packets_done = c[best].packets_done;
		res->prefix_len = c[best].prefix_len;
		memcpy(res->identity, c[best].identity, 40);
	} else {
		memcpy(res->identity, key, IDX_SOURCE_KEY_LEN);
		tv_put_be64(res->identity + IDX_SOURCE_KEY_LEN, variant);
	}
	/* the hash must stand where the next added packet starts */
	if (ingest_prefix_len(v->src_hash) != res->prefix_len || best == SIZE_MAX) {
		if ((rc = ingest_prefix_start(v->src_hash, fd)) != 0 ||
		    (best != SIZE_MAX && (rc = ingest_prefix_advance(v->src_hash, res->prefix_len)) != 0))
			goto out;
	}
	memcpy(v->src_identity, res->identity, 40);
	v->src_active = true;
out:
	free(c);
	return rc;
}

