/*
 * env.c — the LMDB environment of a store: open/create, the format
 * check, meta, source marks and counters.  The tables of the chunks and
 * their postings are written by commit2.c and read by tables2.c and
 * plan2.c.
 *
 * Layouts: store/FORMAT.md ("Index").  LMDB codes are turned into ours
 * here (idx_lmdb_err), never passed up (one error space: tv_strerror).
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

#define IDX_MAXDBS 24 /* meta, sources, counters, 7 v2_ tables, room for more */
#define IDX_MAP_DEFAULT ((uint64_t)1 << 40)

static const char K_VERSION[] = "format_version";
static const char K_UUID[] = "store_uuid";
static const char K_CREATED[] = "created_ns";

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

/* ------------------------------------------------------------------ open */

static int meta_init(idx *x, MDB_txn *txn, const idx_cfg *cfg)
{
	uint8_t v[4];
	MDB_val k, d;
	size_t got = 0;
	int rc;

	if (cfg->format != 0 && cfg->format != IDX_FORMAT_VERSION)
		return TV_E_RANGE;
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
	tv_put_le32(v, IDX_FORMAT_VERSION);
	k = mstr(K_VERSION);
	d = mval(v, 4);
	if ((rc = mdb_put(txn, x->db_meta, &k, &d, 0)) != 0)
		return idx_lmdb_err(rc);
	k = mstr(K_UUID);
	d = mval(x->uuid, 16);
	if ((rc = mdb_put(txn, x->db_meta, &k, &d, 0)) != 0)
		return idx_lmdb_err(rc);
	return put_u64(txn, x->db_meta, mstr(K_CREATED), tv_clock_real_ns());
}

/* The format version in meta: 0 and *found false when there is none (a
 * fresh environment), TV_E_CORRUPT when it is not a u32. */
static int meta_version(MDB_txn *txn, MDB_dbi meta, uint32_t *version, bool *found)
{
	MDB_val k = mstr(K_VERSION), d;
	int rc = mdb_get(txn, meta, &k, &d);
	*version = 0;
	*found = false;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return idx_lmdb_err(rc);
	if (d.mv_size != 4)
		return TV_E_CORRUPT;
	*version = tv_get_le32(d.mv_data);
	*found = true;
	return 0;
}

static int meta_check(idx *x, MDB_txn *txn, bool *fresh)
{
	MDB_val k, d;
	uint32_t version;
	bool found;
	int rc = meta_version(txn, x->db_meta, &version, &found);
	*fresh = false;
	if (rc)
		return rc;
	if (!found) {
		MDB_stat st;
		if ((rc = mdb_stat(txn, x->db_meta, &st)) != 0)
			return idx_lmdb_err(rc);
		if (st.ms_entries != 0)
			return TV_E_CORRUPT;
		*fresh = true;
		return 0;
	}
	/* one format is read: an older or newer one is refused whole, before
	 * any of its tables is looked at (idx_format_note says why) */
	if (version != IDX_FORMAT_VERSION)
		return TV_E_VERSION;
	k = mstr(K_UUID);
	if ((rc = mdb_get(txn, x->db_meta, &k, &d)) != 0)
		return rc == MDB_NOTFOUND ? TV_E_CORRUPT : idx_lmdb_err(rc);
	if (d.mv_size != 16)
		return TV_E_CORRUPT;
	memcpy(x->uuid, d.mv_data, 16);
	return 0;
}

/* The tables (FORMAT.md "Index (LMDB)").  A writable open creates the
 * missing ones; a read-only open of an initialised index finds them all,
 * else it is damaged. */
static int open_dbs(idx *x, MDB_txn *txn)
{
	static const char *const names[] = { "sources", "counters", "v2_chunks", "v2_slices",
	                                     "v2_stime", "v2_post", "v2_opost", "v2_segs",
	                                     "v2_flows" };
	MDB_dbi *dbis[] = { &x->db_sources, &x->db_counters, &x->db2_chunks, &x->db2_slices,
	                    &x->db2_stime, &x->db2_post, &x->db2_opost, &x->db2_segs,
	                    &x->db2_flows };
	unsigned flags = x->writable ? MDB_CREATE : 0;
	size_t i;
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		int rc = mdb_dbi_open(txn, names[i], flags, dbis[i]);
		if (rc == MDB_NOTFOUND)
			return TV_E_CORRUPT; /* meta says initialised, a table is missing */
		if (rc)
			return idx_lmdb_err(rc);
	}
	return 0;
}

/* DIR/NAME/ and DIR/NAME/data.mdb, NAME the index directory. */
static int idx_paths(const char *store_dir, const char *name, char *path, char *data, size_t cap)
{
	int n = snprintf(path, cap, "%s/%s", store_dir, name ? name : STORE_INDEX_DIR);
	if (n < 0 || (size_t)n >= cap)
		return ENAMETOOLONG;
	n = snprintf(data, cap, "%s/data.mdb", path);
	if (n < 0 || (size_t)n >= cap)
		return ENAMETOOLONG;
	return 0;
}

int idx_open(const char *store_dir, const idx_cfg *cfg, idx **out)
{
	char path[PATH_MAX], data[PATH_MAX];
	idx_cfg def;
	idx *x = NULL;
	MDB_txn *txn = NULL;
	bool fresh = false;
	int rc;

	*out = NULL;
	if (!cfg) {
		idx_cfg_default(&def);
		cfg = &def;
	}
	if ((rc = idx_paths(store_dir, cfg->name, path, data, sizeof path)) != 0)
		return rc;

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

/* ------------------------------------------------- a format refused */

/* meta "format_version" of an existing index, read-only and without the
 * checks of idx_open: TV_E_NOTFOUND when there is no index or it holds
 * no version. */
static int format_found(const char *store_dir, uint32_t *version)
{
	char path[PATH_MAX], data[PATH_MAX];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi meta;
	struct stat st;
	bool found = false;
	int rc;

	if ((rc = idx_paths(store_dir, NULL, path, data, sizeof path)) != 0)
		return rc;
	if (stat(data, &st) != 0)
		return errno == ENOENT || errno == ENOTDIR ? TV_E_NOTFOUND : errno;
	if ((rc = mdb_env_create(&env)) != 0)
		return idx_lmdb_err(rc);
	if ((rc = mdb_env_set_maxdbs(env, IDX_MAXDBS)) == 0 &&
	    (rc = mdb_env_open(env, path, MDB_NOTLS | MDB_RDONLY, 0600)) == 0 &&
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) == 0 &&
	    (rc = mdb_dbi_open(txn, "meta", 0, &meta)) == 0)
		rc = meta_version(txn, meta, version, &found);
	else
		rc = idx_lmdb_err(rc);
	if (rc == 0 && !found)
		rc = TV_E_NOTFOUND;
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return rc;
}

/* The index and the segments of a store are of one format. */
_Static_assert(IDX_FORMAT_VERSION == STORE_FORMAT_VERSION, "one format version");

/* What a store of format `version` (not IDX_FORMAT_VERSION) is, and what
 * to do with it. */
static void format_text(unsigned version, char *buf, size_t cap)
{
	if (version != 0 && version < IDX_FORMAT_VERSION)
		snprintf(buf, cap, "store format %u is no longer supported (this tapvault reads format "
		         "%d); ingest the source captures again into a new store", version,
		         IDX_FORMAT_VERSION);
	else if (version > IDX_FORMAT_VERSION)
		snprintf(buf, cap, "store format %u is newer than this tapvault reads (format %d); use "
		         "a newer tapvault", version, IDX_FORMAT_VERSION);
	else
		snprintf(buf, cap, "store format %u is not valid (this tapvault reads format %d)",
		         version, IDX_FORMAT_VERSION);
}

int idx_format_note(const char *store_dir, char *buf, size_t cap)
{
	uint8_t uuid[16];
	uint32_t version;
	uint16_t segver;

	if (cap)
		buf[0] = '\0';
	if (format_found(store_dir, &version) == 0) {
		if (version == IDX_FORMAT_VERSION)
			return 0;
		format_text(version, buf, cap);
		return 1;
	}
	/* no index (reindex rebuilds one): the segments say what the store is */
	if (store_segs_read_ident(store_dir, uuid, &segver) == 0 && segver != STORE_FORMAT_VERSION) {
		format_text(segver, buf, cap);
		return 1;
	}
	return 0;
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

/* Source marks: of a stored and a given mark, the one with more packets
 * done is kept (FORMAT.md "Commit").  Part of every idx_commit2. */
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
