/*
 * test_index.c — the LMDB index: create/reopen, the refusal of a store of
 * another format (format 1 included) with its version named, chunk
 * records, totals, segment ends and drops, the planner's chunk sets for
 * every expression form and its cost on 10000 chunks, source marks,
 * counters (with names from a newer version), a full map, flow-record
 * drops and the flow-record match, read-only open of a missing store.
 */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chunkrec2.h"
#include "../../index/idx.h"
#include "../../index/idx_int.h"

#define S 1000000000ull

static char g_dir[256];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void setup(void)
{
	strcpy(g_dir, "/tmp/tv_idx_XXXXXX");
	cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void)
{
	nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static idx *open_rw(const char *dir)
{
	idx_cfg cfg;
	idx *x = NULL;
	int rc;
	idx_cfg_default(&cfg);
	cfg.writable = true;
	cfg.map_size = (uint64_t)1 << 30;
	rc = idx_open(dir, &cfg, &x);
	cr_assert_eq(rc, 0, "idx_open: %s", tv_strerror(rc));
	return x;
}

/* A chunk of 10 packets at (seg, off), 1000 bytes long. */
static void rec(crec2 *c, uint64_t id, uint32_t seg, uint64_t off, uint64_t first, uint64_t last)
{
	crec2_init(c, id, seg, off, 1000, first, last, 10);
}

static void plan_is(idx *x, const char *text, const uint64_t *want, size_t nwant)
{
	idx_expr *e;
	idx_expr_err err;
	idx2_hit *hits;
	size_t n, i;
	idx2_plan_stats st;
	char where[128];
	int rc = idx_expr_parse(text, 0, &e, &err);
	cr_assert_eq(rc, 0, "'%s': %s", text, err.msg);
	rc = idx_plan2(x, e, &hits, &n, &st, where, sizeof where);
	cr_assert_eq(rc, 0, "plan '%s': %s %s", text, tv_strerror(rc), where);
	cr_assert_eq(n, nwant, "'%s': %zu chunks, want %zu (first %llu)", text, n, nwant,
	             n ? (unsigned long long)hits[0].chunk_id : 0ull);
	for (i = 0; i < n; i++)
		cr_assert_eq(hits[i].chunk_id, want[i], "'%s': chunk[%zu] = %llu, want %llu", text, i,
		             (unsigned long long)hits[i].chunk_id, (unsigned long long)want[i]);
	cr_assert_eq(st.chunks_planned, n);
	free(hits);
	idx_expr_free(e);
}

#define PLAN(x, text, ...)                                                     \
	do {                                                                   \
		static const uint64_t w_[] = { 0, __VA_ARGS__ };               \
		plan_is(x, text, w_ + 1, sizeof w_ / sizeof w_[0] - 1);        \
	} while (0)

static uint64_t db_entries(idx *x, MDB_dbi dbi)
{
	MDB_txn *txn;
	MDB_stat st;
	cr_assert_eq(mdb_txn_begin(x->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_stat(txn, dbi, &st), 0);
	mdb_txn_abort(txn);
	return st.ms_entries;
}

/* The posting keys of closed and open slices. */
static uint64_t postings(idx *x)
{
	return db_entries(x, x->db2_post) + db_entries(x, x->db2_opost);
}

/* Plans idx_plan2 with its statistics; returns the chunks planned. */
static size_t plan_cost(idx *x, const char *text, idx2_plan_stats *st, idx2_hit **hits)
{
	idx_expr *e;
	size_t n;
	cr_assert_eq(idx_expr_parse(text, 0, &e, NULL), 0, "%s", text);
	cr_assert_eq(idx_plan2(x, e, hits, &n, st, NULL, 0), 0, "%s", text);
	idx_expr_free(e);
	return n;
}

TestSuite(index, .init = setup, .fini = teardown);

Test(index, create_reopen_uuid)
{
	uint8_t u1[16], u2[16], zero[16] = { 0 };
	struct stat st;
	char path[512];
	idx *x = open_rw(g_dir);
	idx_totals t;
	idx2_chunk last;
	static crec2 c;

	idx_store_uuid(x, u1);
	cr_assert_neq(memcmp(u1, zero, 16), 0);
	cr_assert_eq(idx2_chunk_last(x, &last), TV_E_NOTFOUND);
	cr_assert_eq(idx_totals_get(x, &t), 0);
	cr_assert_eq(t.chunks, 0);
	cr_assert_eq(t.first_ts, 0);
	cr_assert_eq(t.format, IDX_FORMAT_VERSION);
	idx_close(x);

	snprintf(path, sizeof path, "%s/index", g_dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	snprintf(path, sizeof path, "%s/index/data.mdb", g_dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);

	x = open_rw(g_dir);
	idx_store_uuid(x, u2);
	cr_assert_eq(memcmp(u1, u2, 16), 0);
	idx_close(x);

	{
		idx_cfg cfg;
		idx_cfg_default(&cfg);
		cr_assert_eq(cfg.writable, false);
		cr_assert_eq(cfg.map_size, (uint64_t)1 << 40);
		cr_assert_eq(idx_open(g_dir, &cfg, &x), 0);
		idx_store_uuid(x, u2);
		cr_assert_eq(memcmp(u1, u2, 16), 0);
		rec(&c, 1, 1, 64, 1, 2);
		crec2_flow(&c, 1, "10.0.0.1", "10.0.0.2", 6, 1, 2, true);
		cr_assert_eq(crec2_commit(x, &c, 1), EROFS);
		idx_close(x);
	}
	idx_close(NULL);
}

/* Makes DIR/index by hand, as env.c lays it out: table "meta" with
 * "format_version" (u32 LE) and "store_uuid" (16 bytes), nothing else. */
static void make_index(const char *dir, uint32_t version)
{
	char path[512];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta;
	uint8_t v[4], uuid[16];
	MDB_val kv = { 14, (void *)"format_version" }, dv = { 4, v };
	MDB_val ku = { 10, (void *)"store_uuid" }, du = { 16, uuid };

	cr_assert_eq(mkdir(dir, 0700), 0);
	snprintf(path, sizeof path, "%s/index", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	tv_put_le32(v, version);
	memset(uuid, 0x5a, sizeof uuid);
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 4), 0);
	cr_assert_eq(mdb_env_open(env, path, 0, 0600), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta), 0);
	cr_assert_eq(mdb_put(txn, meta, &kv, &dv, 0), 0);
	cr_assert_eq(mdb_put(txn, meta, &ku, &du, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* The bytes of a file (at most cap), for a before/after comparison. */
static size_t file_bytes(const char *path, uint8_t *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;
	cr_assert_geq(fd, 0, "%s", path);
	n = read(fd, buf, cap);
	close(fd);
	cr_assert_gt(n, 0);
	return (size_t)n;
}

static bool exists(const char *dir, const char *name)
{
	char path[1024];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

/* A store of format 1 or 2 (what earlier builds wrote) is refused whole,
 * by every open, with nothing in it changed; the note names the version
 * and what to do.  A newer format is refused the same way. */
Test(index, formats_1_2_and_newer_formats_refused)
{
	static uint8_t before[1 << 16], after[1 << 16];
	char d1[512], d3[512], data[600], note[256], want[256];
	size_t nb, na;
	idx *x = (idx *)1;
	idx_cfg cfg;

	for (unsigned old = 1; old <= 2; old++) {
		snprintf(d1, sizeof d1, "%s/f%u", g_dir, old);
		make_index(d1, old);
		snprintf(data, sizeof data, "%s/index/data.mdb", d1);
		nb = file_bytes(data, before, sizeof before);

		idx_cfg_default(&cfg);
		cr_assert_eq(idx_open(d1, &cfg, &x), TV_E_VERSION);
		cr_assert_null(x);
		cfg.writable = true;
		cr_assert_eq(idx_open(d1, &cfg, &x), TV_E_VERSION);
		cr_assert_null(x);
		cfg.format = old; /* asking for it does not help */
		cr_assert_eq(idx_open(d1, &cfg, &x), TV_E_VERSION);
		na = file_bytes(data, after, sizeof after);
		cr_assert_eq(na, nb);
		cr_assert_eq(memcmp(before, after, nb), 0, "the refused index was written to");
		cr_assert_not(exists(d1, "segments"));

		cr_assert_eq(idx_format_note(d1, note, sizeof note), 1);
		snprintf(want, sizeof want, "store format %u is no longer supported (this tapvault "
		         "reads format 3); ingest the source captures again into a new store", old);
		cr_assert_str_eq(note, want);
	}

	snprintf(d3, sizeof d3, "%s/f4", g_dir);
	make_index(d3, 4);
	cfg.format = 0;
	cr_assert_eq(idx_open(d3, &cfg, &x), TV_E_VERSION);
	cr_assert_eq(idx_format_note(d3, note, sizeof note), 1);
	cr_assert_str_eq(note, "store format 4 is newer than this tapvault reads (format 3); use a "
	                       "newer tapvault");

	/* a store of this build's format: nothing to say */
	x = open_rw(g_dir);
	idx_close(x);
	cr_assert_eq(idx_format_note(g_dir, note, sizeof note), 0);
	cr_assert_str_eq(note, "");
	/* nor about a folder that is no store */
	snprintf(d3, sizeof d3, "%s/none", g_dir);
	cr_assert_eq(idx_format_note(d3, note, sizeof note), 0);
}

/* No index left (reindex would build one): the segments' version says it. */
Test(index, format_1_segments_without_an_index_are_named)
{
	static const uint8_t magic[8] = { 'T', 'V', 'S', 'E', 'G', 'M', 'T', '1' };
	uint8_t h[64];
	char path[512], note[256];
	int fd;

	snprintf(path, sizeof path, "%s/segments", g_dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	memset(h, 0, sizeof h);
	memcpy(h, magic, 8);
	tv_put_le16(h + 8, 1); /* version */
	tv_put_le32(h + 12, 1); /* segment number */
	memset(h + 16, 0x77, 16);
	snprintf(path, sizeof path, "%s/segments/seg-0000000001.tvs", g_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, h, sizeof h), (ssize_t)sizeof h);
	close(fd);
	cr_assert_eq(idx_format_note(g_dir, note, sizeof note), 1);
	cr_assert(strstr(note, "store format 1 is no longer supported"), "%s", note);
}

Test(index, a_new_index_has_format_3_and_no_other_can_be_made)
{
	char d[512];
	idx *x;
	idx_cfg cfg;
	uint64_t v;

	idx_cfg_default(&cfg);
	cfg.writable = true;
	cr_assert_eq(IDX_FORMAT_VERSION, 3);
	x = open_rw(g_dir);
	{
		MDB_txn *txn;
		MDB_val k = { 14, (void *)"format_version" }, dv;
		cr_assert_eq(mdb_txn_begin(x->env, NULL, MDB_RDONLY, &txn), 0);
		cr_assert_eq(mdb_get(txn, x->db_meta, &k, &dv), 0);
		cr_assert_eq(dv.mv_size, 4);
		cr_assert_eq(tv_get_le32(dv.mv_data), 3);
		mdb_txn_abort(txn);
	}
	cr_assert_eq(idx_meta_u64_get(x, "created_ns", &v), 0);
	cr_assert_gt(v, 0);
	idx_close(x);
	cfg.format = 3;
	cr_assert_eq(idx_open(g_dir, &cfg, &x), 0);
	idx_close(x);
	snprintf(d, sizeof d, "%s/f1", g_dir);
	for (uint32_t f = 1; f <= 4; f += f == 2 ? 2 : 1) {
		cfg.format = f;
		cr_assert_eq(idx_open(d, &cfg, &x), TV_E_RANGE, "format %u", f);
		cr_assert_null(x);
	}
}

Test(index, readonly_missing_creates_nothing)
{
	char dir[512];
	struct stat st;
	idx *x = (idx *)1;
	idx_cfg cfg;
	idx_cfg_default(&cfg);

	snprintf(dir, sizeof dir, "%s/nostore", g_dir);
	cr_assert_eq(idx_open(dir, &cfg, &x), TV_E_NOTFOUND);
	cr_assert_null(x);
	cr_assert_eq(stat(dir, &st), -1);
	cr_assert_eq(errno, ENOENT);

	/* a store directory without an index */
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(idx_open(dir, &cfg, &x), TV_E_NOTFOUND);
	snprintf(dir, sizeof dir, "%s/nostore/index", g_dir);
	cr_assert_eq(stat(dir, &st), -1);
}

Test(index, lmdb_error_mapping)
{
	cr_assert_eq(idx_lmdb_err(0), 0);
	cr_assert_eq(idx_lmdb_err(MDB_MAP_FULL), TV_E_FULL);
	cr_assert_eq(idx_lmdb_err(MDB_CORRUPTED), TV_E_CORRUPT);
	cr_assert_eq(idx_lmdb_err(MDB_INVALID), TV_E_CORRUPT);
	cr_assert_eq(idx_lmdb_err(MDB_PAGE_NOTFOUND), TV_E_CORRUPT);
	cr_assert_eq(idx_lmdb_err(MDB_VERSION_MISMATCH), TV_E_VERSION);
	cr_assert_eq(idx_lmdb_err(MDB_NOTFOUND), TV_E_NOTFOUND);
	cr_assert_eq(idx_lmdb_err(ENOSPC), ENOSPC);
	cr_assert_eq(idx_lmdb_err(MDB_BAD_TXN), TV_E_LMDB);
}

Test(index, map_full)
{
	idx_cfg cfg;
	idx *x;
	crec2 *c = calloc(1, sizeof *c);
	int rc = 0;
	uint64_t i;
	idx_cfg_default(&cfg);
	cfg.writable = true;
	cfg.map_size = 1 << 20; /* 1 MiB */
	cr_assert_eq(idx_open(g_dir, &cfg, &x), 0);
	/* chunks of 60 flows of their own addresses: a posting key each */
	for (i = 0; i < 2000 && rc == 0; i++) {
		uint32_t j;
		crec2_init(c, i + 1, 1, 64 + i * 1000, 1000, i * S, i * S, 60);
		for (j = 0; j < 60; j++) {
			char a[32];
			snprintf(a, sizeof a, "10.%u.%u.%u", (unsigned)(i >> 8 & 255), (unsigned)(i & 255), j);
			crec2_flow(c, 1, a, "10.255.255.255", 6, 1, 2, true);
		}
		rc = crec2_commit(x, c, 1);
	}
	cr_assert_eq(rc, TV_E_FULL, "got %d after %llu chunks", rc, (unsigned long long)i);
	free(c);
	idx_close(x);
}

/* ---------------------------------------------------------- small store */

static void build_small(idx *x)
{
	static crec2 c[6];
	/* 1: seg 1, 100 s, tcp 10.0.0.1:40000 <-> 10.0.0.2:22, vni 5 */
	rec(&c[0], 1, 1, 64, 100 * S, 101 * S);
	crec2_flow(&c[0], 5, "10.0.0.1", "10.0.0.2", 6, 40000, 22, true);
	crec2_flow(&c[0], 5, "10.0.0.2", "10.0.0.1", 6, 22, 40000, true);
	/* 2: seg 1, 200 s, udp 10.0.0.3:53 -> 10.0.0.4:53, vni 5 */
	rec(&c[1], 2, 1, 1064, 200 * S, 201 * S);
	crec2_flow(&c[1], 5, "10.0.0.3", "10.0.0.4", 17, 53, 53, true);
	/* 3: seg 2, 300 s, tcp v6 :1234 -> :443, vni 6 */
	rec(&c[2], 3, 2, 64, 300 * S, 301 * S);
	crec2_flow(&c[2], 6, "2001:db8::1", "2001:db8::2", 6, 1234, 443, true);
	/* 4: seg 2, 400 s, icmp 10.1.0.1 -> 10.0.0.1, untunnelled */
	rec(&c[3], 4, 2, 1064, 400 * S, 401 * S);
	crec2_flow(&c[3], TV_VNI_NONE, "10.1.0.1", "10.0.0.1", 1, 0, 0, false);
	/* 5: seg 3, 500 s, a frame without IP, vni 7 */
	rec(&c[4], 5, 3, 64, 500 * S, 501 * S);
	crec2_flow(&c[4], 7, NULL, NULL, 0, 0, 0, false);
	/* 6: seg 3, 600..900 s (a long chunk), udp 10.0.0.1:5000 -> 8.8.8.8:53 */
	rec(&c[5], 6, 3, 1064, 600 * S, 900 * S);
	crec2_flow(&c[5], 8, "10.0.0.1", "8.8.8.8", 17, 5000, 53, true);

	/* two batches; a slice per segment, the last one open (its postings
	 * in v2_opost, the others' in v2_post) */
	cr_assert_eq(crec2_commit(x, c, 3), 0);
	cr_assert_eq(crec2_commit(x, c + 3, 3), 0);
}

Test(index, plan_small)
{
	idx *x = open_rw(g_dir);
	build_small(x);

	PLAN(x, "host 10.0.0.1", 1, 4, 6);
	PLAN(x, "src host 10.0.0.1", 1, 4, 6); /* plan is a superset; the matcher decides */
	PLAN(x, "host 10.0.0.1 and after 550", 6);
	PLAN(x, "host 10.0.0.1 and before 150", 1);
	PLAN(x, "host 10.0.0.1 and after 101 and before 400", 1); /* 1 ends at 101 s */
	PLAN(x, "host 10.0.0.1 and after 101.5 and before 400");
	PLAN(x, "host 10.0.0.1 and after 101.5", 4, 6);
	PLAN(x, "host 9.9.9.9");
	PLAN(x, "net 10.0.0.0/8", 1, 2, 4, 6);
	PLAN(x, "net 10.0.0.0/30", 1, 2, 4, 6);
	PLAN(x, "net 10.0.0.2/31", 1, 2);
	PLAN(x, "net 10.0.0.4/32", 2);
	PLAN(x, "net 10.1.0.0/16", 4);
	PLAN(x, "net 2001:db8::/32", 3);
	PLAN(x, "net ::/0", 1, 2, 3, 4, 6);
	PLAN(x, "port 53", 2, 6);
	PLAN(x, "port 22", 1);
	PLAN(x, "dst port 22", 1);
	PLAN(x, "port 0");
	PLAN(x, "portrange 400-500", 3);
	PLAN(x, "portrange 0-65535", 1, 2, 3, 6);
	PLAN(x, "tcp", 1, 3);
	PLAN(x, "udp", 2, 6);
	PLAN(x, "icmp", 4);
	PLAN(x, "proto 0");
	PLAN(x, "proto 255");
	PLAN(x, "vni 5", 1, 2);
	PLAN(x, "vni none", 4);
	PLAN(x, "vni 7", 5);
	PLAN(x, "after 250 and before 450", 3, 4);
	PLAN(x, "after 700", 6); /* chunk 6 began at 600 s and runs to 900 s */
	PLAN(x, "after 900", 6);
	PLAN(x, "after 900.000000001");
	PLAN(x, "before 100");
	PLAN(x, "before 100.000000001", 1);
	PLAN(x, "before 0");
	PLAN(x, "not tcp", 1, 2, 3, 4, 5, 6);
	PLAN(x, "not tcp and after 450", 5, 6);
	PLAN(x, "tcp or udp", 1, 2, 3, 6);
	PLAN(x, "host 10.0.0.1 and udp", 6);
	PLAN(x, "udp and host 10.0.0.1", 6);
	PLAN(x, "host 10.0.0.1 and vni 5 and tcp", 1);
	PLAN(x, "(host 10.0.0.1 or vni 7) and after 450", 5, 6);
	PLAN(x, "host 10.0.0.1 or after 450", 1, 4, 5, 6);
	PLAN(x, "(host 10.0.0.3 and after 150 and before 250) or (vni 7 and after 450)", 2, 5);
	PLAN(x, "(tcp and before 150) or (udp and after 150)", 1, 2, 6);
	PLAN(x, "ip6", 1, 2, 3, 4, 5, 6);
	PLAN(x, "ip and before 250", 1, 2);
	PLAN(x, "", 1, 2, 3, 4, 5, 6);
	PLAN(x, "not not vni 5", 1, 2, 3, 4, 5, 6);
	{
		/* NULL expression and NULL stats: every block of every chunk */
		idx2_hit *hits;
		size_t n, i;
		cr_assert_eq(idx_plan2(x, NULL, &hits, &n, NULL, NULL, 0), 0);
		cr_assert_eq(n, 6);
		for (i = 0; i < n; i++)
			cr_assert_eq(hits[i].blocks, 1);
		free(hits);
	}
	idx_close(x);
}

/* tcpdump's forms: the chunks that can hold a match. */
Test(index, plan_tcpdump_forms)
{
	idx *x = open_rw(g_dir);
	build_small(x);

	PLAN(x, "tcp port 22", 1);
	PLAN(x, "port ssh", 1);
	PLAN(x, "tcp src port 40000", 1);
	PLAN(x, "udp port 22");
	PLAN(x, "tcp port 53");
	PLAN(x, "udp port 53", 2, 6);
	PLAN(x, "udp dst port 53", 2, 6);
	PLAN(x, "udp port domain", 2, 6);
	PLAN(x, "port domain", 2, 6);
	PLAN(x, "sctp port 53");
	PLAN(x, "tcp portrange 400-500", 3);
	PLAN(x, "udp portrange 400-500");
	PLAN(x, "tcp portrange 0-65535", 1, 3);
	PLAN(x, "udp portrange 0-65535", 2, 6);
	PLAN(x, "tcp port 443 and ip6 host 2001:db8::2", 3);
	PLAN(x, "ip host 10.0.0.1", 1, 4, 6);
	PLAN(x, "ip6 host 2001:db8::1", 3);
	PLAN(x, "ip net 10.0.0.0/30", 1, 2, 4, 6);
	PLAN(x, "ip6 net 2001:db8::/32", 3);
	PLAN(x, "ip proto 6", 1, 3); /* a superset: the matcher decides */
	PLAN(x, "ip6 proto 17", 2, 6);
	PLAN(x, "host 10.0.0.1 and udp port 53", 6);
	PLAN(x, "not tcp port 22", 1, 2, 3, 4, 5, 6);
	idx_close(x);
}

Test(index, chunks_totals_segments)
{
	idx *x = open_rw(g_dir);
	store_chunk_meta got;
	idx2_chunk last;
	idx_totals t;
	uint64_t end;
	static crec2 two[2];
	build_small(x);

	cr_assert_eq(idx2_chunk_last(x, &last), 0);
	cr_assert_eq(last.chunk_id, 6);
	cr_assert_eq(last.segment, 3);
	cr_assert_eq(last.offset, 1064);
	cr_assert_eq(last.first_ts, 600 * S);
	cr_assert_eq(last.last_ts, 900 * S);
	cr_assert_eq(last.slice, 3);
	cr_assert_eq(idx_chunk_get(x, 3, &got), 0);
	cr_assert_eq(got.chunk_id, 3);
	cr_assert_eq(got.segment, 2);
	cr_assert_eq(got.offset, 64);
	cr_assert_eq(got.length, 1000);
	cr_assert_eq(got.first_ts, 300 * S);
	cr_assert_eq(got.last_ts, 301 * S);
	cr_assert_eq(got.npkts, 10);
	cr_assert_eq(got.raw_len, 2000);
	cr_assert_eq(got.orig_bytes, 3000);
	cr_assert_eq(got.sha256[0], 3);
	cr_assert_eq(got.sha256[31], 0xab);
	cr_assert_eq(idx_chunk_get(x, 99, &got), TV_E_NOTFOUND);

	cr_assert_eq(idx2_segment_end(x, 2, &end), 0);
	cr_assert_eq(end, 2064);
	cr_assert_eq(idx2_segment_end(x, 9, &end), 0);
	cr_assert_eq(end, 0);

	cr_assert_eq(idx_totals_get(x, &t), 0);
	cr_assert_eq(t.chunks, 6);
	cr_assert_eq(t.packets, 60);
	cr_assert_eq(t.orig_bytes, 18000);
	cr_assert_eq(t.raw_bytes, 12000);
	cr_assert_eq(t.comp_bytes, 6000);
	cr_assert_eq(t.segments, 3);
	cr_assert_eq(t.slices, 3);
	cr_assert_eq(t.blocks, 6);
	cr_assert_eq(t.flows, 7);
	cr_assert_eq(t.first_ts, 100 * S);
	cr_assert_eq(t.last_ts, 900 * S);
	cr_assert_eq(t.postings, postings(x));
	cr_assert_gt(t.postings, 20);
	cr_assert_gt(t.index_bytes, 0);

	/* a chunk id that is already there: the whole batch is refused */
	rec(&two[0], 7, 4, 64, 1000 * S, 1000 * S);
	crec2_flow(&two[0], 9, "10.9.9.9", "10.0.0.1", 6, 1, 2, true);
	rec(&two[1], 3, 4, 1064, 1000 * S, 1000 * S);
	crec2_flow(&two[1], 9, "10.9.9.9", "10.0.0.1", 6, 1, 2, true);
	cr_assert_eq(crec2_commit(x, two, 2), TV_E_EXISTS);
	cr_assert_eq(idx_chunk_get(x, 7, &got), TV_E_NOTFOUND);
	two[0].in.rec.first_ts = 2000 * S;
	cr_assert_eq(crec2_commit(x, two, 1), TV_E_RANGE);
	cr_assert_eq(idx_chunk_get(x, 7, &got), TV_E_NOTFOUND);

	/* drop segment 1 (chunks 1, 2) */
	{
		uint64_t dropped;
		cr_assert_eq(idx_segment_drop2(x, 1, &dropped), 0);
		cr_assert_eq(dropped, 2);
		cr_assert_eq(idx_segment_drop2(x, 1, &dropped), 0);
		cr_assert_eq(dropped, 0);
	}
	PLAN(x, "host 10.0.0.1", 4, 6);
	PLAN(x, "port 22");
	PLAN(x, "vni 5");
	PLAN(x, "", 3, 4, 5, 6);
	cr_assert_eq(idx_chunk_get(x, 1, &got), TV_E_NOTFOUND);
	cr_assert_eq(idx_totals_get(x, &t), 0);
	cr_assert_eq(t.chunks, 4);
	cr_assert_eq(t.segments, 2);
	cr_assert_eq(t.slices, 2);
	cr_assert_eq(t.packets, 40);
	cr_assert_eq(t.first_ts, 300 * S);
	cr_assert_eq(t.postings, postings(x));
	cr_assert_eq(db_entries(x, x->db2_chunks), 4);
	cr_assert_eq(db_entries(x, x->db2_stime), 2);
	cr_assert_eq(db_entries(x, x->db2_segs), 2);

	/* drop segment 3 (the long chunk): last_ts comes down */
	cr_assert_eq(idx_segment_drop2(x, 3, NULL), 0);
	cr_assert_eq(idx_totals_get(x, &t), 0);
	cr_assert_eq(t.last_ts, 401 * S);
	cr_assert_eq(idx_segment_drop2(x, 2, NULL), 0);
	PLAN(x, "");
	PLAN(x, "host 10.0.0.1");
	PLAN(x, "net ::/0");
	cr_assert_eq(postings(x), 0);
	cr_assert_eq(db_entries(x, x->db2_chunks), 0);
	cr_assert_eq(db_entries(x, x->db2_slices), 0);
	cr_assert_eq(idx_totals_get(x, &t), 0);
	cr_assert_eq(t.chunks, 0);
	cr_assert_eq(t.postings, 0);
	cr_assert_eq(t.segments, 0);
	cr_assert_eq(t.first_ts, 0);
	cr_assert_eq(idx2_chunk_last(x, &last), TV_E_NOTFOUND);
	idx_close(x);
}

static int count_cb(void *ctx, const idx2_chunk *c)
{
	uint64_t *n = ctx;
	cr_assert_eq(c->chunk_id, *n + 1);
	(*n)++;
	return c->chunk_id == 4 ? 42 : 0;
}

Test(index, foreach)
{
	idx *x = open_rw(g_dir);
	uint64_t n = 0;
	build_small(x);
	cr_assert_eq(idx2_chunk_foreach(x, count_cb, &n), 42);
	cr_assert_eq(n, 4);
	idx_close(x);
}

Test(index, sources_and_counters)
{
	idx *x = open_rw(g_dir);
	idx_source_mark mk[2], sm;
	tv_counters d, got;
	MDB_txn *txn;
	MDB_val k = { 14, (void *)"future.counter" }, dv;
	uint8_t b[8];

	memset(mk, 0, sizeof mk);
	memset(mk[0].identity, 0xAA, 40);
	memset(mk[1].identity, 0xBB, 40);
	mk[0].packets_done = 100;
	mk[1].packets_done = 5;
	memset(&d, 0, sizeof d);
	d.v[TV_CTR_SRC_PACKETS] = 7;
	d.v[TV_CTR_FLOW_NO_IP] = 3;
	cr_assert_eq(idx_commit2(x, NULL, 0, mk, 2, &d), 0);

	cr_assert_eq(idx_source_get(x, mk[0].identity, &sm), 0);
	cr_assert_eq(sm.packets_done, 100);
	/* marks only go forward, and the prefix goes with the count */
	mk[0].packets_done = 50;
	mk[0].prefix_len = 5000;
	cr_assert_eq(idx_commit2(x, NULL, 0, mk, 1, NULL), 0);
	cr_assert_eq(idx_source_get(x, mk[0].identity, &sm), 0);
	cr_assert_eq(sm.packets_done, 100);
	cr_assert_eq(sm.prefix_len, 0);
	mk[0].packets_done = 150;
	mk[0].prefix_len = 9000;
	memset(mk[0].prefix_sha256, 0x5A, 32);
	cr_assert_eq(idx_commit2(x, NULL, 0, mk, 1, NULL), 0);
	cr_assert_eq(idx_source_get(x, mk[0].identity, &sm), 0);
	cr_assert_eq(sm.packets_done, 150);
	cr_assert_eq(sm.prefix_len, 9000);
	cr_assert_eq(memcmp(sm.prefix_sha256, mk[0].prefix_sha256, 32), 0);
	{
		uint8_t other[40];
		idx_source_mark list[4];
		size_t n = 0;
		memset(other, 0xCC, 40);
		cr_assert_eq(idx_source_get(x, other, &sm), TV_E_NOTFOUND);
		/* every variant of one key, and no other key */
		memcpy(&mk[1], &mk[0], sizeof mk[1]);
		mk[1].identity[39] = 0x01;
		mk[1].packets_done = 3;
		cr_assert_eq(idx_commit2(x, NULL, 0, &mk[1], 1, NULL), 0);
		cr_assert_eq(idx_source_list(x, mk[0].identity, list, 4, &n), 0);
		cr_assert_eq(n, 2);
		cr_assert_eq(list[0].packets_done, 3); /* ...01 sorts before ...AA */
		cr_assert_eq(list[0].identity[39], 0x01);
		cr_assert_eq(list[1].packets_done, 150);
		cr_assert_eq(idx_source_list(x, other, list, 4, &n), 0);
		cr_assert_eq(n, 0);
	}

	/* a counter written by a newer version */
	tv_put_le64(b, 42);
	dv.mv_size = 8;
	dv.mv_data = b;
	cr_assert_eq(mdb_txn_begin(x->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_put(txn, x->db_counters, &k, &dv, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	idx_close(x);

	x = open_rw(g_dir);
	cr_assert_eq(idx_commit2(x, NULL, 0, NULL, 0, &d), 0);
	cr_assert_eq(idx_counters_get(x, &got), 0);
	cr_assert_eq(got.v[TV_CTR_SRC_PACKETS], 14);
	cr_assert_eq(got.v[TV_CTR_FLOW_NO_IP], 6);
	cr_assert_eq(got.v[TV_CTR_STORE_CHUNKS], 0);
	cr_assert_eq(mdb_txn_begin(x->env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(mdb_get(txn, x->db_counters, &k, &dv), 0);
	cr_assert_eq(dv.mv_size, 8);
	cr_assert_eq(tv_get_le64(dv.mv_data), 42);
	mdb_txn_abort(txn);
	idx_close(x);
}

/* ------------------------------------------------------- 10000 chunks */

#define BIG 10000

/* A subset of the other plan (both sorted by chunk id). */
static void is_subset(const idx2_hit *a, size_t na, const idx2_hit *b, size_t nb, const char *ta,
                      const char *tb)
{
	size_t i, j = 0;
	for (i = 0; i < na; i++) {
		while (j < nb && b[j].chunk_id < a[i].chunk_id)
			j++;
		cr_assert(j < nb && b[j].chunk_id == a[i].chunk_id && (a[i].blocks & ~b[j].blocks) == 0,
		          "'%s' plans chunk %llu, '%s' does not", ta,
		          (unsigned long long)a[i].chunk_id, tb);
	}
}

/*
 * 10000 chunks of one flow each (segments of 1000, slices of at most 64),
 * three of them with a second flow of 192.0.2.7.  The planner visits the
 * slices in the time range (one v2_stime key and one slice record each),
 * then reads the keys and records of what matches: its work grows with the
 * slices (the archive / 64) and with what matches, never with the chunks
 * of the archive.
 */
Test(index, plan_cost_big, .timeout = 120)
{
	idx *x = open_rw(g_dir);
	crec2 *c = calloc(100, sizeof *c);
	uint64_t i, keys_host;
	size_t j, n, n2;
	idx2_plan_stats st, st2;
	idx2_hit *hits, *hits2;
	idx_totals t;

	cr_assert_not_null(c);
	for (i = 1; i <= BIG; i++) {
		char a[32];
		j = (size_t)((i - 1) % 100);
		crec2_init(&c[j], i, (uint32_t)(i / 1000) + 1, (i % 1000) * 1000 + 64, 1000, i * 10 * S,
		           i * 10 * S + 5 * S, 10);
		snprintf(a, sizeof a, "10.100.%u.%u", (unsigned)(i >> 8), (unsigned)(i & 255));
		crec2_flow(&c[j], (uint32_t)(i % 10), a, "172.16.0.1", 6, (uint16_t)(1024 + i % 1000),
		           80, true);
		if (i == 17 || i == 4242 || i == 9999)
			crec2_flow(&c[j], (uint32_t)(i % 10), "192.0.2.7", "172.16.0.1", 17, 999, 53, true);
		if (j == 99)
			cr_assert_eq(crec2_commit(x, c, 100), 0);
	}
	free(c);

	cr_assert_eq(idx_totals_get(x, &t), 0);
	cr_assert_eq(t.chunks, BIG);
	cr_assert_eq(t.segments, 11);
	cr_assert_gt(t.slices, BIG / 64);
	cr_assert_lt(t.slices, BIG / 64 + 12, "%llu slices", (unsigned long long)t.slices);

	PLAN(x, "host 192.0.2.7", 17, 4242, 9999);
	PLAN(x, "host 192.0.2.7 and tcp", 17, 4242, 9999);
	PLAN(x, "host 192.0.2.7 and udp and vni 2", 4242);
	PLAN(x, "port 53", 17, 4242, 9999);
	PLAN(x, "host 10.100.0.5", 5);

	n = plan_cost(x, "host 192.0.2.7", &st, &hits);
	cr_assert_eq(n, 3);
	cr_assert_eq(st.chunks_planned, 3);
	cr_assert_eq(st.slices_visited, t.slices);
	keys_host = st.keys_read;
	cr_assert_leq(keys_host, 2 * t.slices + 4 * 3, "%llu keys", (unsigned long long)keys_host);
	free(hits);

	/* the planner probes the small side instead of reading all of tcp:
	 * the tcp posting of a slice is read only where the host is */
	n = plan_cost(x, "tcp and host 192.0.2.7 and not udp", &st, &hits);
	cr_assert_eq(n, 3);
	cr_assert_leq(st.keys_read, keys_host + 2 * 3, "%llu keys, the host alone %llu",
	              (unsigned long long)st.keys_read, (unsigned long long)keys_host);
	free(hits);

	/* tcpdump's forms plan no more blocks and read no more keys than
	 * their long forms; a port of one transport reads only its keys */
	{
		static const char *const pairs[][2] = {
			{ "udp port 53", "udp and port 53" },
			{ "tcp port 53", "tcp and port 53" },
			{ "udp dst port domain", "udp and dst port 53" },
			{ "host 192.0.2.7 and udp port 53", "host 192.0.2.7 and udp and port 53" },
			{ "udp port 53 and host 192.0.2.7", "udp and port 53 and host 192.0.2.7" },
			{ "ip host 192.0.2.7", "host 192.0.2.7" },
			{ "ip6 host 2001:db8::7", "host 2001:db8::7" },
			{ "ip proto 17 and host 192.0.2.7", "udp and host 192.0.2.7" },
			{ "udp portrange 50-60", "udp and portrange 50-60" },
		};
		size_t k;
		for (k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
			n2 = plan_cost(x, pairs[k][1], &st2, &hits2);
			n = plan_cost(x, pairs[k][0], &st, &hits);
			is_subset(hits, n, hits2, n2, pairs[k][0], pairs[k][1]);
			cr_assert_leq(st.keys_read, st2.keys_read, "'%s' read %llu keys, '%s' %llu",
			              pairs[k][0], (unsigned long long)st.keys_read, pairs[k][1],
			              (unsigned long long)st2.keys_read);
			free(hits);
			free(hits2);
		}
		/* udp port 53 is in three chunks; tcp port 80 in every chunk,
		 * udp port 80 in none: no more keys than the slices' */
		n = plan_cost(x, "udp port 53", &st, &hits);
		cr_assert_eq(n, 3);
		cr_assert_leq(st.keys_read, 2 * t.slices + 3 * 2);
		free(hits);
		n = plan_cost(x, "udp port 80", &st, &hits);
		cr_assert_eq(n, 0);
		cr_assert_eq(st.keys_read, 2 * t.slices, "only the slices' keys");
		free(hits);
	}

	/* a time window reads only the slices near it: their time keys,
	 * records and at most every chunk record of each */
	n = plan_cost(x, "after 50000 and before 50100", &st, &hits);
	cr_assert_eq(n, 10); /* chunks 5000..5009 */
	cr_assert_eq(hits[0].chunk_id, 5000);
	cr_assert_leq(st.slices_visited, 2);
	cr_assert_leq(st.keys_read, 3 * (2 + IDX2_SLICE_MAX_CHUNKS), "%llu keys",
	              (unsigned long long)st.keys_read);
	free(hits);

	/* a host with a time window: chunks outside it are skipped (a chunk
	 * is kept when its [first_ts, last_ts] meets the window: 4242 spans
	 * 42420..42425 s) */
	PLAN(x, "host 192.0.2.7 and after 42000 and before 99990", 4242);
	PLAN(x, "host 192.0.2.7 and after 42425", 4242, 9999);
	PLAN(x, "host 192.0.2.7 and after 42425.000000001", 9999);

	/* drop one segment: chunks 4000..4999 */
	{
		uint64_t dropped;
		cr_assert_eq(idx_segment_drop2(x, 5, &dropped), 0);
		cr_assert_eq(dropped, 1000);
	}
	PLAN(x, "host 192.0.2.7", 17, 9999);
	cr_assert_eq(idx_totals_get(x, &t), 0);
	cr_assert_eq(t.chunks, BIG - 1000);
	cr_assert_eq(t.postings, postings(x));
	idx_close(x);
}

static tv_flowrec frec(uint32_t window, uint32_t start, uint32_t end, const char *src, uint16_t sport)
{
	tv_flowrec r;
	memset(&r, 0, sizeof r);
	r.window = window;
	r.start = start;
	r.end = end;
	r.ipver = 4;
	r.key.proto = 6;
	r.key.sport = sport;
	r.key.dport = 443;
	cr_assert_eq(tv_addr_parse(src, &r.key.src), 0);
	cr_assert_eq(tv_addr_parse("10.0.0.2", &r.key.dst), 0);
	r.vni = 7;
	r.packets = 1;
	r.bytes = 60;
	return r;
}

/* the one delete loop, from both ends */
Test(index, flows_drop_before_and_from)
{
	idx *x = open_rw(g_dir);
	tv_flowrec v[5];
	uint64_t n = 99, left;
	v[0] = frec(60, 60, 61, "10.0.0.1", 1);
	v[1] = frec(120, 120, 121, "10.0.0.1", 2);
	v[2] = frec(120, 125, 130, "10.0.0.1", 3);
	v[3] = frec(180, 180, 181, "10.0.0.1", 4);
	v[4] = frec(240, 240, 241, "10.0.0.1", 5);
	cr_assert_eq(idx_flows_put(x, v, 5), 0);
	cr_assert_eq(idx_flows_drop_before(x, 0, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(idx_flows_drop_before(x, 121, &n), 0);
	cr_assert_eq(n, 3, "dropped %llu", (unsigned long long)n);
	cr_assert_eq(idx_flows_count(x, &left), 0);
	cr_assert_eq(left, 2);
	cr_assert_eq(idx_flows_drop_from(x, 200, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(idx_flows_drop_from(x, 0, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(idx_flows_count(x, &left), 0);
	cr_assert_eq(left, 0);
	idx_close(x);
}

static bool match_text(const char *text, const tv_flowrec *r)
{
	idx_expr *e = NULL;
	idx_expr_err err;
	bool m;
	cr_assert_eq(idx_expr_parse(text, 0, &e, &err), 0, "%s: %s", text, err.msg);
	m = idx_flowrec_match(e, r);
	idx_expr_free(e);
	return m;
}

/* non-time fields match, and [start, end] overlaps the time bounds */
Test(index, flowrec_match_overlap)
{
	tv_flowrec r = frec(1000, 1010, 1020, "10.0.0.1", 1234);
	cr_assert(idx_flowrec_match(NULL, &r));
	cr_assert(match_text("host 10.0.0.1", &r));
	cr_assert_not(match_text("host 10.0.0.9", &r));
	/* spans T: kept by both sides */
	cr_assert(match_text("after 1015", &r));
	cr_assert(match_text("before 1015", &r));
	/* the end second counts whole */
	cr_assert(match_text("after 1020.5", &r));
	cr_assert_not(match_text("after 1021", &r));
	cr_assert(match_text("before 1010.5", &r));
	cr_assert_not(match_text("before 1010", &r));
	cr_assert(match_text("after 1015 and before 1016 and port 443", &r));
	cr_assert_not(match_text("after 1015 and before 1016 and port 80", &r));
	cr_assert_not(match_text("after 1015 and before 1015", &r));
	/* nots and ors around time conditions: the same rule, exactly */
	cr_assert(match_text("not before 1015", &r));
	cr_assert(match_text("not (before 1015)", &r));
	cr_assert(match_text("before 1 or after 1015", &r));
	cr_assert(match_text("after 1015 or host 10.0.0.9", &r));
	cr_assert(match_text("not after 1015", &r));
	cr_assert_not(match_text("not before 1021", &r));
	cr_assert_not(match_text("before 1 or after 1021", &r));
	cr_assert_not(match_text("not (after 1005 and before 1030)", &r));
	cr_assert(match_text("not (after 1005 and before 1015)", &r));
}
