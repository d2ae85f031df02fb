/*
 * env.c — the LMDB environment of a store: open/create, meta, chunks,
 * postings write-out, source marks, counters, totals, segment drop.
 *
 * Layouts: store/FORMAT.md ("Index").  LMDB codes are turned into ours
 * here and in plan.c, never passed up (one error space: tv_strerror).
 */
#include "idx_int.h"
#include "idx2.h"
#include "../store/storedir.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#define IDX_MAXDBS 24 /* 9 of version 1, 7 v2_ tables, room for more */
#define IDX_MAP_DEFAULT ((uint64_t)1 << 40)

static const char K_VERSION[] = "format_version";
static const char K_UUID[] = "store_uuid";
static const char K_CREATED[] = "created_ns";
static const char K_MAXDUR[] = "max_chunk_dur";
static const char K_TOTALS[] = "totals";

int idx_lmdb_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS: return 0;
	case MDB_MAP_FULL: return TV_E_FULL;
	case MDB_CORRUPTED:
	case MDB_INVALID:
	case MDB_PAGE_NOTFOUND: return TV_E_CORRUPT;
	case MDB_VERSION_MISMATCH: return TV_E_VERSION;
	case MDB_NOTFOUND: return TV_E_NOTFOUND;
	default: return rc > 0 ? rc : TV_E_LMDB;
	}
}

void idx_cfg_default(idx_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->writable = false;
	cfg->map_size = IDX_MAP_DEFAULT;
}

int idx_txn_begin(idx *x, bool write, MDB_txn **txn)
{
	int rc = mdb_txn_begin(x->env, NULL, write ? 0 : MDB_RDONLY, txn);
	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size and retry. */
		rc = mdb_env_set_mapsize(x->env, 0);
		if (rc == 0)
			rc = mdb_txn_begin(x->env, NULL, write ? 0 : MDB_RDONLY, txn);
	}
	return idx_lmdb_err(rc);
}

static MDB_val mval(const void *p, size_t n)
{
	MDB_val v;
	v.mv_data = (void *)(uintptr_t)p;
	v.mv_size = n;
	return v;
}

static MDB_val mstr(const char *s)
{
	return mval(s, strlen(s));
}

static int get_u64(MDB_txn *txn, MDB_dbi dbi, MDB_val k, uint64_t *v)
{
	MDB_val d;
	int rc = mdb_get(txn, dbi, &k, &d);
	if (rc == MDB_NOTFOUND) {
		*v = 0;
		return 0;
	}
	if (rc)
		return idx_lmdb_err(rc);
	if (d.mv_size != 8)
		return TV_E_CORRUPT;
	*v = tv_get_le64(d.mv_data);
	return 0;
}

static int put_u64(MDB_txn *txn, MDB_dbi dbi, MDB_val k, uint64_t v)
{
	uint8_t b[8];
	MDB_val d = mval(b, 8);
	tv_put_le64(b, v);
	return idx_lmdb_err(mdb_put(txn, dbi, &k, &d, 0));
}

int idx_meta_maxdur(idx *x, MDB_txn *txn, uint64_t *maxdur)
{
	return get_u64(txn, x->db_meta, mstr(K_MAXDUR), maxdur);
}

void idx_tot_encode(const idx_tot *t, uint8_t out[IDX_TOT_LEN])
{
	tv_put_le64(out + 0, t->chunks);
	tv_put_le64(out + 8, t->packets);
	tv_put_le64(out + 16, t->orig_bytes);
	tv_put_le64(out + 24, t->raw_bytes);
	tv_put_le64(out + 32, t->comp_bytes);
	tv_put_le64(out + 40, t->postings);
	tv_put_le64(out + 48, t->segments);
}

int idx_tot_decode(const void *p, size_t n, idx_tot *t)
{
	const uint8_t *b = p;
	/* Longer values are accepted: a later version may append fields. */
	if (n < IDX_TOT_LEN)
		return TV_E_CORRUPT;
	t->chunks = tv_get_le64(b + 0);
	t->packets = tv_get_le64(b + 8);
	t->orig_bytes = tv_get_le64(b + 16);
	t->raw_bytes = tv_get_le64(b + 24);
	t->comp_bytes = tv_get_le64(b + 32);
	t->postings = tv_get_le64(b + 40);
	t->segments = tv_get_le64(b + 48);
	return 0;
}

int idx_tot_load(idx *x, MDB_txn *txn, idx_tot *t)
{
	MDB_val k = mstr(K_TOTALS), d;
	int rc = mdb_get(txn, x->db_meta, &k, &d);
	memset(t, 0, sizeof *t);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return idx_lmdb_err(rc);
	return idx_tot_decode(d.mv_data, d.mv_size, t);
}

static int tot_store(idx *x, MDB_txn *txn, const idx_tot *t)
{
	uint8_t b[IDX_TOT_LEN];
	MDB_val k = mstr(K_TOTALS), d = mval(b, sizeof b);
	idx_tot_encode(t, b);
	return idx_lmdb_err(mdb_put(txn, x->db_meta, &k, &d, 0));
}

/* ------------------------------------------------------------------ open */

static int meta_init(idx *x, MDB_txn *txn, const idx_cfg *cfg)
{
	uint8_t v[4];
	MDB_val k, d;
	idx_tot t;
	size_t got = 0;
	int rc;

	if (cfg->have_uuid) {
		memcpy(x->uuid, cfg->uuid, 16);
		got = sizeof x->uuid;
	}
	while (got < sizeof x->uuid) {
		ssize_t r = getrandom(x->uuid + got, sizeof x->uuid - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		got += (size_t)r;
	}
	x->format = cfg->format ? cfg->format : IDX_FORMAT_VERSION;
	if (x->format < IDX_FORMAT_MIN || x->format > IDX_FORMAT_MAX)
		return TV_E_RANGE;
	tv_put_le32(v, x->format);
	k = mstr(K_VERSION);
	d = mval(v, 4);
	if ((rc = mdb_put(txn, x->db_meta, &k, &d, 0)) != 0)
		return idx_lmdb_err(rc);
	k = mstr(K_UUID);
	d = mval(x->uuid, 16);
	if ((rc = mdb_put(txn, x->db_meta, &k, &d, 0)) != 0)
		return idx_lmdb_err(rc);
	if ((rc = put_u64(txn, x->db_meta, mstr(K_CREATED), tv_clock_real_ns())) != 0)
		return rc;
	if ((rc = put_u64(txn, x->db_meta, mstr(K_MAXDUR), 0)) != 0)
		return rc;
	memset(&t, 0, sizeof t);
	return tot_store(x, txn, &t);
}

static int meta_check(idx *x, MDB_txn *txn, bool *fresh)
{
	MDB_val k = mstr(K_VERSION), d;
	int rc = mdb_get(txn, x->db_meta, &k, &d);
	*fresh = false;
	if (rc == MDB_NOTFOUND) {
		MDB_stat st;
		if ((rc = mdb_stat(txn, x->db_meta, &st)) != 0)
			return idx_lmdb_err(rc);
		if (st.ms_entries != 0)
			return TV_E_CORRUPT;
		*fresh = true;
		return 0;
	}
	if (rc)
		return idx_lmdb_err(rc);
	if (d.mv_size != 4)
		return TV_E_CORRUPT;
	x->format = tv_get_le32(d.mv_data);
	if (x->format < IDX_FORMAT_MIN || x->format > IDX_FORMAT_MAX)
		return TV_E_VERSION;
	k = mstr(K_UUID);
	if ((rc = mdb_get(txn, x->db_meta, &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? TV_E_CORRUPT : idx_lmdb_err(rc);
	if (d.mv_size != 16)
		return TV_E_CORRUPT;
	memcpy(x->uuid, d.mv_data, 16);
	return 0;
}

/* The tables of index version 2 (FORMAT.md "Index, version 2"), named
 * v2_ while version 1 is still written.  A read-only open of an index
 * made before they existed leaves x->v2 false instead of failing. */
static int open_v2_dbs(idx *x, MDB_txn *txn)
{
	static const char *const names[] = { "v2_chunks", "v2_slices", "v2_stime",
	                                     "v2_post", "v2_opost", "v2_segs", "v2_flows" };
	MDB_dbi *dbis[] = { &x->db2_chunks, &x->db2_slices, &x->db2_stime,
	                    &x->db2_post, &x->db2_opost, &x->db2_segs, &x->db2_flows };
	unsigned flags = x->writable ? MDB_CREATE : 0;
	size_t i;
	x->v2 = false;
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		int rc = mdb_dbi_open(txn, names[i], flags, dbis[i]);
		if (rc == MDB_NOTFOUND && !x->writable)
			return 0;
		if (rc)
			return idx_lmdb_err(rc);
	}
	x->v2 = true;
	return 0;
}

static int open_dbs(idx *x, MDB_txn *txn)
{
	static const char *const names[] = { "chunks", "post", "time", "segs", "sources",
	                                     "counters", "cpost", "flows" };
	MDB_dbi *dbis[] = { &x->db_chunks, &x->db_post, &x->db_time, &x->db_segs,
	                    &x->db_sources, &x->db_counters, &x->db_cpost, &x->db_flows };
	unsigned flags = x->writable ? MDB_CREATE : 0;
	size_t i;
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		int rc = mdb_dbi_open(txn, names[i], flags, dbis[i]);
		if (rc == MDB_NOTFOUND)
			return TV_E_CORRUPT; /* meta says initialised, a table is missing */
		if (rc)
			return idx_lmdb_err(rc);
	}
	return open_v2_dbs(x, txn);
}

int idx_open(const char *store_dir, const idx_cfg *cfg, idx **out)
{
	char path[PATH_MAX], data[PATH_MAX];
	idx_cfg def;
	idx *x = NULL;
	MDB_txn *txn = NULL;
	bool fresh = false;
	int rc, n;

	*out = NULL;
	if (!cfg) {
		idx_cfg_default(&def);
		cfg = &def;
	}
	n = snprintf(path, sizeof path, "%s/%s", store_dir, cfg->name ? cfg->name : STORE_INDEX_DIR);
	if (n < 0 || (size_t)n >= sizeof path)
		return ENAMETOOLONG;
	n = snprintf(data, sizeof data, "%s/data.mdb", path);
	if (n < 0 || (size_t)n >= sizeof data)
		return ENAMETOOLONG;

	if (cfg->writable) {
		if (mkdir(store_dir, 0700) != 0 && errno != EEXIST)
			return errno;
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return errno;
	} else {
		/* A reader must never create a store: look before LMDB does. */
		struct stat st;
		if (stat(data, &st) != 0)
			return errno == ENOENT || errno == ENOTDIR ? TV_E_NOTFOUND : errno;
	}

	x = calloc(1, sizeof *x);
	if (!x)
		return TV_E_NOMEM;
	x->writable = cfg->writable;
	if ((rc = mdb_env_create(&x->env)) != 0) {
		x->env = NULL;
		rc = idx_lmdb_err(rc);
		goto fail;
	}
	if ((rc = mdb_env_set_maxdbs(x->env, IDX_MAXDBS)) != 0 ||
	    (rc = mdb_env_set_mapsize(x->env, (size_t)(cfg->map_size ? cfg->map_size
	                                                            : IDX_MAP_DEFAULT))) != 0) {
		rc = idx_lmdb_err(rc);
		goto fail;
	}
	/* MDB_NOTLS: read transactions belong to the txn object, not the
	 * thread, so a foreach callback may call idx_chunk_get. */
	rc = mdb_env_open(x->env, path, MDB_NOTLS | (cfg->writable ? 0 : MDB_RDONLY), 0600);
	if (rc) {
		rc = rc == ENOENT ? TV_E_NOTFOUND : idx_lmdb_err(rc);
		goto fail;
	}
	if ((rc = idx_txn_begin(x, cfg->writable, &txn)) != 0)
		goto fail;
	rc = mdb_dbi_open(txn, "meta", cfg->writable ? MDB_CREATE : 0, &x->db_meta);
	if (rc) {
		rc = idx_lmdb_err(rc); /* MDB_NOTFOUND: never initialised */
		goto fail;
	}
	if ((rc = meta_check(x, txn, &fresh)) != 0)
		goto fail;
	if (fresh && !cfg->writable) {
		rc = TV_E_NOTFOUND;
		goto fail;
	}
	if ((rc = open_dbs(x, txn)) != 0)
		goto fail;
	if (!fresh && x->format == 2 && !x->v2) {
		rc = TV_E_CORRUPT; /* meta says version 2 and its tables are missing */
		goto fail;
	}
	if (fresh && (rc = meta_init(x, txn, cfg)) != 0)
		goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc) {
		rc = idx_lmdb_err(rc);
		goto fail;
	}
	*out = x;
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	idx_close(x);
	return rc;
}

void idx_close(idx *x)
{
	if (!x)
		return;
	if (x->env)
		mdb_env_close(x->env);
	free(x->c2_ents);
	free(x->c2_tmp);
	free(x);
}

void idx_store_uuid(const idx *x, uint8_t out[16])
{
	memcpy(out, x->uuid, 16);
}

/* --------------------------------------------------------------- sources */

/* "sources" value (FORMAT.md): packets_done u64 | prefix_len u64 |
 * prefix SHA-256 (48 bytes, little-endian).  A value of 8 bytes was
 * written before prefix hashes were kept: packets_done only, prefix
 * unknown (prefix_len 0), so it is never resumed. */
#define IDX_SOURCE_VAL_LEN 48

static void source_val_encode(const idx_source_mark *m, uint8_t out[IDX_SOURCE_VAL_LEN])
{
	tv_put_le64(out, m->packets_done);
	tv_put_le64(out + 8, m->prefix_len);
	memcpy(out + 16, m->prefix_sha256, 32);
}

static int source_val_decode(const void *p, size_t n, idx_source_mark *m)
{
	const uint8_t *b = p;
	memset(m, 0, sizeof *m);
	if (n == 8) {
		m->packets_done = tv_get_le64(b);
		return 0;
	}
	if (n != IDX_SOURCE_VAL_LEN)
		return TV_E_CORRUPT;
	m->packets_done = tv_get_le64(b);
	m->prefix_len = tv_get_le64(b + 8);
	memcpy(m->prefix_sha256, b + 16, 32);
	return 0;
}

/* ---------------------------------------------------------------- commit */

typedef struct post_ref {
	const idx_post_ent *e;
	uint64_t chunk_id;
} post_ref;

static int post_ref_cmp(const void *a, const void *b)
{
	const post_ref *x = a, *y = b;
	/* Keys are zero padded and the type byte fixes the length, so a
	 * memcmp of the padded buffers is the order of the real keys. */
	int c = memcmp(x->e->key, y->e->key, sizeof x->e->key);
	if (c)
		return c;
	return x->chunk_id < y->chunk_id ? -1 : x->chunk_id > y->chunk_id;
}

/* true when the segment already has a chunk in "segs". */
static int seg_known(idx *x, MDB_txn *txn, uint32_t segment, bool *known)
{
	uint8_t kb[IDX_SKEY_LEN];
	MDB_cursor *cur;
	MDB_val k, d;
	int rc;
	*known = false;
	if (x->format == 2) {
		/* v2_segs has one key per segment that holds a chunk */
		if (!x->v2)
			return 0;
		tv_put_be32(kb, segment);
		k = mval(kb, 4);
		rc = mdb_get(txn, x->db2_segs, &k, &d);
		*known = rc == 0;
		return rc == MDB_NOTFOUND ? 0 : idx_lmdb_err(rc);
	}
	if ((rc = mdb_cursor_open(txn, x->db_segs, &cur)) != 0)
		return idx_lmdb_err(rc);
	idx_skey_encode(segment, 0, kb);
	k = mval(kb, sizeof kb);
	rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	if (rc == 0)
		*known = k.mv_size >= 4 && tv_get_be32(k.mv_data) == segment;
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	return idx_lmdb_err(rc);
}

static int put_chunk(idx *x, MDB_txn *txn, const store_chunk_meta *m, const idx_post *p,
                     idx_tot *t, uint64_t *maxdur)
{
	uint8_t kb[8], vb[IDX_CHUNK_VAL_LEN], tk[IDX_TKEY_LEN], sk[IDX_SKEY_LEN], lb[8];
	MDB_val k, d;
	bool known;
	size_t i, total = 0;
	int rc;

	if (m->first_ts > m->last_ts)
		return TV_E_RANGE;
	tv_put_be64(kb, m->chunk_id);
	idx_chunk_val_encode(m, vb);
	k = mval(kb, 8);
	d = mval(vb, sizeof vb);
	rc = mdb_put(txn, x->db_chunks, &k, &d, MDB_NOOVERWRITE);
	if (rc == MDB_KEYEXIST)
		return TV_E_EXISTS;
	if (rc)
		return idx_lmdb_err(rc);

	if ((rc = seg_known(x, txn, m->segment, &known)) != 0)
		return rc;
	if (!known)
		t->segments++;
	idx_skey_encode(m->segment, m->chunk_id, sk);
	k = mval(sk, sizeof sk);
	d = mval(NULL, 0);
	if ((rc = mdb_put(txn, x->db_segs, &k, &d, 0)) != 0)
		return idx_lmdb_err(rc);

	idx_tkey_encode(m->first_ts, m->chunk_id, tk);
	tv_put_le64(lb, m->last_ts);
	k = mval(tk, sizeof tk);
	d = mval(lb, 8);
	if ((rc = mdb_put(txn, x->db_time, &k, &d, 0)) != 0)
		return idx_lmdb_err(rc);

	/* cpost: this chunk's posting values, so that a drop finds them. */
	if (p && p->n) {
		uint8_t *w;
		for (i = 0; i < p->n; i++)
			total += p->ents[i].len;
		k = mval(kb, 8);
		d = mval(NULL, total);
		if ((rc = mdb_put(txn, x->db_cpost, &k, &d, MDB_RESERVE)) != 0)
			return idx_lmdb_err(rc);
		w = d.mv_data;
		for (i = 0; i < p->n; i++) {
			memcpy(w, p->ents[i].key, p->ents[i].len);
			w += p->ents[i].len;
		}
		t->postings += p->n;
	}

	if (m->last_ts - m->first_ts > *maxdur)
		*maxdur = m->last_ts - m->first_ts;
	t->chunks++;
	t->packets += m->npkts;
	t->orig_bytes += m->orig_bytes;
	t->raw_bytes += m->raw_len;
	t->comp_bytes += m->comp_len;
	return 0;
}

static int put_postings(idx *x, MDB_txn *txn, const store_chunk_meta *metas,
                        idx_post *const *posts, size_t n)
{
	size_t i, j, total = 0, r = 0;
	post_ref *refs;
	int rc = 0;

	for (i = 0; i < n; i++)
		if (posts[i])
			total += posts[i]->n;
	if (total == 0)
		return 0;
	refs = malloc(total * sizeof *refs);
	if (!refs)
		return TV_E_NOMEM;
	for (i = 0; i < n; i++)
		for (j = 0; posts[i] && j < posts[i]->n; j++) {
			refs[r].e = &posts[i]->ents[j];
			refs[r].chunk_id = metas[i].chunk_id;
			r++;
		}
	/* Sorted puts touch each leaf page once, in order. */
	qsort(refs, total, sizeof *refs, post_ref_cmp);
	for (r = 0; r < total; r++) {
		uint8_t kb[IDX_PKEY_MAX], vb[IDX_PVAL_LEN];
		MDB_val k, d;
		k = mval(kb, idx_pkey_encode(refs[r].e->key, refs[r].e->len, refs[r].chunk_id, kb));
		idx_pval_encode(refs[r].e->first, refs[r].e->last, vb);
		d = mval(vb, sizeof vb);
		if ((rc = mdb_put(txn, x->db_post, &k, &d, 0)) != 0) {
			rc = idx_lmdb_err(rc);
			break;
		}
	}
	free(refs);
	return rc;
}

/* Source marks: of a stored and a given mark, the one with more packets
 * done is kept (FORMAT.md "Commit").  Shared by both commit paths. */
int idx_marks_put(idx *x, MDB_txn *txn, const idx_source_mark *marks, size_t nmarks)
{
	size_t i;
	int rc;
	for (i = 0; i < nmarks; i++) {
		MDB_val k = mval(marks[i].identity, 40), d;
		idx_source_mark old;
		uint8_t vb[IDX_SOURCE_VAL_LEN];
		rc = mdb_get(txn, x->db_sources, &k, &d);
		if (rc == 0) {
			if ((rc = source_val_decode(d.mv_data, d.mv_size, &old)) != 0)
				return rc;
			if (marks[i].packets_done <= old.packets_done)
				continue;
		} else if (rc != MDB_NOTFOUND) {
			return idx_lmdb_err(rc);
		}
		source_val_encode(&marks[i], vb);
		d = mval(vb, sizeof vb);
		if ((rc = mdb_put(txn, x->db_sources, &k, &d, 0)) != 0)
			return idx_lmdb_err(rc);
	}
	return 0;
}

/* Counter deltas, added to the stored value by name (delta may be NULL). */
int idx_counters_add(idx *x, MDB_txn *txn, const tv_counters *delta)
{
	size_t i;
	int rc;
	for (i = 0; delta && i < TV_CTR__COUNT; i++) {
		MDB_val k;
		uint64_t old;
		if (delta->v[i] == 0)
			continue;
		k = mstr(tv_counter_name((int)i));
		if ((rc = get_u64(txn, x->db_counters, k, &old)) != 0 ||
		    (rc = put_u64(txn, x->db_counters, k, old + delta->v[i])) != 0)
			return rc;
	}
	return 0;
}

int idx_commit(idx *x, const store_chunk_meta *metas, idx_post *const *posts, size_t n,
               const idx_source_mark *marks, size_t nmarks, const tv_counters *delta)
{
	MDB_txn *txn = NULL;
	idx_tot t;
	uint64_t maxdur, maxdur0;
	size_t i;
	int rc;

	if (!x->writable)
		return EROFS;
	for (i = 0; posts && i < n; i++)
		if (posts[i] && posts[i]->err)
			return posts[i]->err; /* incomplete postings would hide packets */
	if ((rc = idx_txn_begin(x, true, &txn)) != 0)
		return rc;
	if ((rc = idx_tot_load(x, txn, &t)) != 0 || (rc = idx_meta_maxdur(x, txn, &maxdur)) != 0)
		goto fail;
	maxdur0 = maxdur;

	for (i = 0; i < n; i++)
		if ((rc = put_chunk(x, txn, &metas[i], posts ? posts[i] : NULL, &t, &maxdur)) != 0)
			goto fail;
	if (posts && (rc = put_postings(x, txn, metas, posts, n)) != 0)
		goto fail;

	if ((rc = idx_marks_put(x, txn, marks, nmarks)) != 0 ||
	    (rc = idx_counters_add(x, txn, delta)) != 0)
		goto fail;

	if ((rc = tot_store(x, txn, &t)) != 0)
		goto fail;
	if (maxdur != maxdur0 && (rc = put_u64(txn, x->db_meta, mstr(K_MAXDUR), maxdur)) != 0)
		goto fail;
	rc = idx_lmdb_err(mdb_txn_commit(txn));
	return rc;
fail:
	mdb_txn_abort(txn);
	return rc;
}

/* ----------------------------------------------------------------- reads */

int idx_source_get(idx *x, const uint8_t identity[40], idx_source_mark *out)
{
	MDB_txn *txn;
	MDB_val k = mval(identity, 40), d;
	int rc = idx_txn_begin(x, false, &txn);
	if (rc)
		return rc;
	rc = idx_lmdb_err(mdb_get(txn, x->db_sources, &k, &d));
	if (rc == 0 && (rc = source_val_decode(d.mv_data, d.mv_size, out)) == 0)
		memcpy(out->identity, identity, 40);
	mdb_txn_abort(txn);
	return rc;
}

int idx_source_list(idx *x, const uint8_t key[IDX_SOURCE_KEY_LEN], idx_source_mark *out,
                    size_t cap, size_t *n)
{
	uint8_t kb[40];
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc = idx_txn_begin(x, false, &txn), g;

	*n = 0;
	if (rc)
		return rc;
	if ((rc = mdb_cursor_open(txn, x->db_sources, &cur)) != 0) {
		mdb_txn_abort(txn);
		return idx_lmdb_err(rc);
	}
	memset(kb, 0, sizeof kb);
	memcpy(kb, key, IDX_SOURCE_KEY_LEN);
	k = mval(kb, sizeof kb);
	for (g = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != 40) {
			rc = TV_E_CORRUPT;
			break;
		}
		if (memcmp(k.mv_data, key, IDX_SOURCE_KEY_LEN) != 0)
			break;
		if (*n < cap) {
			if ((rc = source_val_decode(d.mv_data, d.mv_size, &out[*n])) != 0)
				break;
			memcpy(out[*n].identity, k.mv_data, 40);
		}
		(*n)++;
	}
	if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

int idx_counters_get(idx *x, tv_counters *out)
{
	MDB_txn *txn;
	int i, rc = idx_txn_begin(x, false, &txn);
	memset(out, 0, sizeof *out);
	if (rc)
		return rc;
	for (i = 0; i < TV_CTR__COUNT && rc == 0; i++)
		rc = get_u64(txn, x->db_counters, mstr(tv_counter_name(i)), &out->v[i]);
	mdb_txn_abort(txn);
	return rc;
}

static int chunk_get_txn(idx *x, MDB_txn *txn, uint64_t id, store_chunk_meta *meta)
{
	uint8_t kb[8];
	MDB_val k = mval(kb, 8), d;
	int rc;
	tv_put_be64(kb, id);
	if ((rc = mdb_get(txn, x->db_chunks, &k, &d)) != 0)
		return idx_lmdb_err(rc);
	rc = idx_chunk_val_decode(d.mv_data, d.mv_size, meta);
	if (rc == 0 && meta->chunk_id != id)
		rc = TV_E_CORRUPT;
	return rc;
}

static int take_meta(void *ctx, const store_chunk_meta *m)
{
	*(store_chunk_meta *)ctx = *m;
	return 0;
}

int idx_chunk_get(idx *x, uint64_t chunk_id, store_chunk_meta *meta)
{
	MDB_txn *txn;
	int rc;
	if (x->format == 2) {
		idx2_chunk c;
		if ((rc = idx2_chunk_get(x, chunk_id, &c)) == 0)
			idx2_chunk_meta(&c, meta);
		return rc;
	}
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	rc = chunk_get_txn(x, txn, chunk_id, meta);
	mdb_txn_abort(txn);
	return rc;
}

int idx_chunk_last(idx *x, store_chunk_meta *meta)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc;
	if (x->format == 2)
		return idx2_chunk_foreach(x, take_meta, meta, true);
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, x->db_chunks, &cur)) == 0) {
		rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
		if (rc == 0) {
			rc = idx_chunk_val_decode(d.mv_data, d.mv_size, meta);
			if (rc == 0 && (k.mv_size != 8 || tv_get_be64(k.mv_data) != meta->chunk_id))
				rc = TV_E_CORRUPT;
		} else {
			rc = idx_lmdb_err(rc);
		}
		mdb_cursor_close(cur);
	} else {
		rc = idx_lmdb_err(rc);
	}
	mdb_txn_abort(txn);
	return rc;
}

int idx_segment_end(idx *x, uint32_t segment, uint64_t *end)
{
	uint8_t kb[IDX_SKEY_LEN];
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc, g;

	if (x->format == 2)
		return idx2_segment_end(x, segment, end);
	*end = 0;
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, x->db_segs, &cur)) != 0) {
		mdb_txn_abort(txn);
		return idx_lmdb_err(rc);
	}
	idx_skey_encode(segment, 0, kb);
	k = mval(kb, sizeof kb);
	for (g = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		uint32_t seg;
		uint64_t id;
		store_chunk_meta m;
		if ((rc = idx_skey_decode(k.mv_data, k.mv_size, &seg, &id)) != 0)
			break;
		if (seg != segment)
			break;
		if ((rc = chunk_get_txn(x, txn, id, &m)) != 0) {
			if (rc == TV_E_NOTFOUND)
				rc = TV_E_CORRUPT;
			break;
		}
		if (m.offset + m.length > *end)
			*end = m.offset + m.length;
	}
	if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

int idx_segment_known(idx *x, uint32_t segment, bool *known)
{
	MDB_txn *txn;
	int rc = idx_txn_begin(x, false, &txn);
	*known = false;
	if (rc)
		return rc;
	rc = seg_known(x, txn, segment, known);
	mdb_txn_abort(txn);
	return rc;
}

int idx_chunk_foreach(idx *x, idx_chunk_cb cb, void *ctx)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc, g;
	if (x->format == 2)
		return idx2_chunk_foreach(x, cb, ctx, false);
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, x->db_chunks, &cur)) != 0) {
		mdb_txn_abort(txn);
		return idx_lmdb_err(rc);
	}
	for (g = mdb_cursor_get(cur, &k, &d, MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		store_chunk_meta m;
		if ((rc = idx_chunk_val_decode(d.mv_data, d.mv_size, &m)) != 0)
			break;
		if ((rc = cb(ctx, &m)) != 0)
			break;
	}
	if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

/*
 * first_ts is the first "time" key.  last_ts is the largest last_ts, found
 * by walking "time" backwards from the newest start: a chunk ending after
 * the newest start F began no earlier than F - max_chunk_dur, so the walk
 * stops there instead of reading every chunk.
 */
static int time_extent(idx *x, MDB_txn *txn, uint64_t *first, uint64_t *last)
{
	MDB_cursor *cur;
	MDB_val k, d;
	uint64_t maxdur, f, id, newest;
	int rc, g;

	*first = *last = 0;
	if ((rc = idx_meta_maxdur(x, txn, &maxdur)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, x->db_time, &cur)) != 0)
		return idx_lmdb_err(rc);
	g = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
	if (g == 0 && (rc = idx_tkey_decode(k.mv_data, k.mv_size, first, &id)) == 0)
		g = mdb_cursor_get(cur, &k, &d, MDB_LAST);
	if (rc == 0 && g == 0 && (rc = idx_tkey_decode(k.mv_data, k.mv_size, &newest, &id)) == 0) {
		for (; g == 0; g = mdb_cursor_get(cur, &k, &d, MDB_PREV)) {
			if ((rc = idx_tkey_decode(k.mv_data, k.mv_size, &f, &id)) != 0)
				break;
			if (newest > maxdur && f < newest - maxdur)
				break;
			if (d.mv_size != 8) {
				rc = TV_E_CORRUPT;
				break;
			}
			if (tv_get_le64(d.mv_data) > *last)
				*last = tv_get_le64(d.mv_data);
		}
	}
	if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
		rc = idx_lmdb_err(g);
	mdb_cursor_close(cur);
	return rc;
}

static int totals1(idx *x, idx_totals *out);

int idx_totals_get(idx *x, idx_totals *out)
{
	MDB_envinfo ei;
	MDB_stat es;
	int rc;
	if (x->format == 2)
		rc = idx2_totals(x, out);
	else
		rc = totals1(x, out);
	if (rc == 0 && mdb_env_info(x->env, &ei) == 0 && mdb_env_stat(x->env, &es) == 0)
		out->index_bytes = ((uint64_t)ei.me_last_pgno + 1) * es.ms_psize;
	out->format = x->format;
	return rc;
}

static int totals1(idx *x, idx_totals *out)
{
	MDB_txn *txn;
	idx_tot t;
	int rc;
	memset(out, 0, sizeof *out);
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	if ((rc = idx_tot_load(x, txn, &t)) == 0 &&
	    (rc = time_extent(x, txn, &out->first_ts, &out->last_ts)) == 0) {
		out->chunks = t.chunks;
		out->packets = t.packets;
		out->orig_bytes = t.orig_bytes;
		out->raw_bytes = t.raw_bytes;
		out->comp_bytes = t.comp_bytes;
		out->postings = t.postings;
		out->segments = t.segments > UINT32_MAX ? UINT32_MAX : (uint32_t)t.segments;
	}
	mdb_txn_abort(txn);
	return rc;
}

/* ------------------------------------------------------------------ drop */

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static int drop_chunk(idx *x, MDB_txn *txn, uint64_t id, idx_tot *t)
{
	uint8_t kb[8], tk[IDX_TKEY_LEN];
	store_chunk_meta m;
	MDB_val k, d;
	int rc;

	if ((rc = chunk_get_txn(x, txn, id, &m)) != 0)
		return rc == TV_E_NOTFOUND ? TV_E_CORRUPT : rc;
	tv_put_be64(kb, id);

	k = mval(kb, 8);
	rc = mdb_get(txn, x->db_cpost, &k, &d);
	if (rc == 0) {
		/* Copy: deleting from "post" may move pages under d. */
		size_t len = d.mv_size;
		uint8_t *list = malloc(len ? len : 1);
		tv_cur c;
		const uint8_t *tv;
		size_t tvlen;
		int r;
		if (!list)
			return TV_E_NOMEM;
		memcpy(list, d.mv_data, len);
		c = tv_cur_make(list, len);
		while ((r = idx_cpost_next(&c, &tv, &tvlen)) == 1) {
			uint8_t pk[IDX_PKEY_MAX];
			MDB_val pkv = mval(pk, idx_pkey_encode(tv, tvlen, id, pk));
			rc = mdb_del(txn, x->db_post, &pkv, NULL);
			if (rc && rc != MDB_NOTFOUND)
				break;
			rc = 0;
			t->postings = sub_sat(t->postings, 1);
		}
		free(list);
		if (rc)
			return idx_lmdb_err(rc);
		if (r < 0)
			return r;
		k = mval(kb, 8);
		if ((rc = mdb_del(txn, x->db_cpost, &k, NULL)) != 0)
			return idx_lmdb_err(rc);
	} else if (rc != MDB_NOTFOUND) {
		return idx_lmdb_err(rc);
	}

	idx_tkey_encode(m.first_ts, id, tk);
	k = mval(tk, sizeof tk);
	rc = mdb_del(txn, x->db_time, &k, NULL);
	if (rc && rc != MDB_NOTFOUND)
		return idx_lmdb_err(rc);
	k = mval(kb, 8);
	if ((rc = mdb_del(txn, x->db_chunks, &k, NULL)) != 0)
		return idx_lmdb_err(rc);

	t->chunks = sub_sat(t->chunks, 1);
	t->packets = sub_sat(t->packets, m.npkts);
	t->orig_bytes = sub_sat(t->orig_bytes, m.orig_bytes);
	t->raw_bytes = sub_sat(t->raw_bytes, m.raw_len);
	t->comp_bytes = sub_sat(t->comp_bytes, m.comp_len);
	return 0;
}

int idx_segment_drop(idx *x, uint32_t segment, uint64_t *chunks_dropped)
{
	uint8_t kb[IDX_SKEY_LEN];
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	uint64_t *ids = NULL, ndrop = 0;
	size_t n = 0, cap = 0, i;
	idx_tot t;
	int rc, g;

	if (chunks_dropped)
		*chunks_dropped = 0;
	if (!x->writable)
		return EROFS;
	if ((rc = idx_txn_begin(x, true, &txn)) != 0)
		return rc;
	if ((rc = idx_tot_load(x, txn, &t)) != 0)
		goto fail;
	if ((rc = mdb_cursor_open(txn, x->db_segs, &cur)) != 0) {
		rc = idx_lmdb_err(rc);
		goto fail;
	}
	/* Collect first, delete after: no cursor is walked while it shrinks. */
	idx_skey_encode(segment, 0, kb);
	k = mval(kb, sizeof kb);
	for (g = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		uint32_t seg;
		uint64_t id;
		if ((rc = idx_skey_decode(k.mv_data, k.mv_size, &seg, &id)) != 0)
			goto fail;
		if (seg != segment)
			break;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			uint64_t *ni = realloc(ids, nc * sizeof *ni);
			if (!ni) {
				rc = TV_E_NOMEM;
				goto fail;
			}
			ids = ni;
			cap = nc;
		}
		ids[n++] = id;
	}
	if (g != 0 && g != MDB_NOTFOUND) {
		rc = idx_lmdb_err(g);
		goto fail;
	}
	mdb_cursor_close(cur);
	cur = NULL;

	for (i = 0; i < n; i++) {
		if ((rc = drop_chunk(x, txn, ids[i], &t)) != 0)
			goto fail;
		idx_skey_encode(segment, ids[i], kb);
		k = mval(kb, sizeof kb);
		if ((rc = mdb_del(txn, x->db_segs, &k, NULL)) != 0) {
			rc = idx_lmdb_err(rc);
			goto fail;
		}
		ndrop++;
	}
	if (n) {
		t.segments = sub_sat(t.segments, 1);
		if ((rc = tot_store(x, txn, &t)) != 0)
			goto fail;
	}
	rc = idx_lmdb_err(mdb_txn_commit(txn));
	txn = NULL;
	if (rc == 0 && chunks_dropped)
		*chunks_dropped = ndrop;
	free(ids);
	return rc;
fail:
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	free(ids);
	return rc;
}

uint32_t idx_format(const idx *x)
{
	return x->format;
}
