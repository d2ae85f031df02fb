/*
 * test_index.c — the LMDB index: create/reopen, version refusal, commit and
 * plan with exact chunk sets, plan cost on 10000 chunks, source marks,
 * counters (with names from a newer version), totals, segment drop,
 * read-only open of a missing store.
 */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
	cfg.format = 1; /* these tests check the version-1 tables (idx_commit) */
	rc = idx_open(dir, &cfg, &x);
	cr_assert_eq(rc, 0, "idx_open: %s", tv_strerror(rc));
	return x;
}

static store_chunk_meta meta(uint64_t id, uint32_t seg, uint64_t off, uint64_t first, uint64_t last)
{
	store_chunk_meta m;
	memset(&m, 0, sizeof m);
	m.chunk_id = id;
	m.segment = seg;
	m.offset = off;
	m.length = 1000;
	m.first_ts = first;
	m.last_ts = last;
	m.npkts = 10;
	m.raw_len = 2000;
	m.comp_len = 900;
	m.nctx = 1;
	m.orig_bytes = 3000;
	m.sha256[0] = (uint8_t)id;
	return m;
}

static void add(idx_post *p, uint64_t ts, uint32_t vni, const char *src, const char *dst,
                uint8_t proto, uint16_t sp, uint16_t dp, bool ports)
{
	tv_tunmeta tun;
	tv_l3info info;
	memset(&tun, 0, sizeof tun);
	memset(&info, 0, sizeof info);
	tun.vni = vni;
	if (src) {
		info.l3 = strchr(src, ':') ? 6 : 4;
		cr_assert_eq(tv_addr_parse(src, &info.key.src), 0);
		cr_assert_eq(tv_addr_parse(dst, &info.key.dst), 0);
		info.key.proto = proto;
		info.key.sport = sp;
		info.key.dport = dp;
		info.has_ports = ports;
	}
	idx_post_add(p, ts, vni == TV_VNI_NONE ? NULL : &tun, &info);
}

static void plan_is(idx *x, const char *text, const uint64_t *want, size_t nwant)
{
	idx_expr *e;
	idx_expr_err err;
	uint64_t *ids;
	size_t n, i;
	idx_plan_stats st;
	int rc = idx_expr_parse(text, 0, &e, &err);
	cr_assert_eq(rc, 0, "'%s': %s", text, err.msg);
	rc = idx_plan(x, e, &ids, &n, &st);
	cr_assert_eq(rc, 0, "plan '%s': %s", text, tv_strerror(rc));
	cr_assert_eq(n, nwant, "'%s': %zu chunks, want %zu (first %llu)", text, n, nwant,
	             n ? (unsigned long long)ids[0] : 0ull);
	for (i = 0; i < n; i++)
		cr_assert_eq(ids[i], want[i], "'%s': ids[%zu] = %llu, want %llu", text, i,
		             (unsigned long long)ids[i], (unsigned long long)want[i]);
	cr_assert_eq(st.chunks_planned, n);
	free(ids);
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

TestSuite(index, .init = setup, .fini = teardown);

Test(index, create_reopen_uuid)
{
	uint8_t u1[16], u2[16], zero[16] = { 0 };
	struct stat st;
	char path[512];
	idx *x = open_rw(g_dir);
	idx_totals t;
	store_chunk_meta m;

	idx_store_uuid(x, u1);
	cr_assert_neq(memcmp(u1, zero, 16), 0);
	cr_assert_eq(idx_chunk_last(x, &m), TV_E_NOTFOUND);
	cr_assert_eq(idx_totals_get(x, &t), 0);
	cr_assert_eq(t.chunks, 0);
	cr_assert_eq(t.first_ts, 0);
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
		m = meta(1, 1, 0, 1, 2);
		cr_assert_eq(idx_commit(x, &m, NULL, 1, NULL, 0, NULL), EROFS);
		idx_close(x);
	}
	idx_close(NULL);
}

Test(index, version_refused)
{
	idx *x = open_rw(g_dir);
	MDB_txn *txn;
	MDB_val k = { 14, (void *)"format_version" }, d;
	uint8_t v[4];
	idx_cfg cfg;

	tv_put_le32(v, IDX_FORMAT_MAX + 1);
	d.mv_size = 4;
	d.mv_data = v;
	cr_assert_eq(mdb_txn_begin(x->env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_put(txn, x->db_meta, &k, &d, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	idx_close(x);

	idx_cfg_default(&cfg);
	cfg.writable = true;
	cr_assert_eq(idx_open(g_dir, &cfg, &x), TV_E_VERSION);
	cr_assert_null(x);
	cfg.writable = false;
	cr_assert_eq(idx_open(g_dir, &cfg, &x), TV_E_VERSION);
	cr_assert_null(x);
}

Test(index, format_chosen_at_creation_kept_and_reported)
{
	char d0[512], d1[512], d2[512];
	idx *x;
	idx_cfg cfg;

	snprintf(d0, sizeof d0, "%s/f0", g_dir);
	snprintf(d1, sizeof d1, "%s/f1", g_dir);
	snprintf(d2, sizeof d2, "%s/f2", g_dir);
	idx_cfg_default(&cfg);
	cfg.writable = true;
	cr_assert_eq(idx_open(d0, &cfg, &x), 0);
	cr_assert_eq(idx_format(x), IDX_FORMAT_VERSION);
	cr_assert_eq(IDX_FORMAT_VERSION, 2, "a new store has format 2");
	idx_close(x);
	cfg.format = 1;
	cr_assert_eq(idx_open(d1, &cfg, &x), 0);
	cr_assert_eq(idx_format(x), 1);
	idx_close(x);
	cfg.format = 2;
	cr_assert_eq(idx_open(d2, &cfg, &x), 0);
	cr_assert_eq(idx_format(x), 2);
	idx_close(x);
	/* an existing index keeps its format whatever the caller asks */
	cfg.format = 1;
	cr_assert_eq(idx_open(d2, &cfg, &x), 0);
	cr_assert_eq(idx_format(x), 2);
	idx_close(x);
	cfg.writable = false;
	cfg.format = 0;
	cr_assert_eq(idx_open(d1, &cfg, &x), 0);
	cr_assert_eq(idx_format(x), 1);
	idx_close(x);
	cfg.writable = true;
	cfg.format = 3;
	snprintf(d1, sizeof d1, "%s/f3", g_dir);
	cr_assert_eq(idx_open(d1, &cfg, &x), TV_E_RANGE);
	cr_assert_null(x);
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
	idx_post *p;
	store_chunk_meta m;
	int rc = 0;
	uint64_t i;
	idx_cfg_default(&cfg);
	cfg.writable = true;
	cfg.map_size = 1 << 20; /* 1 MiB */
	cfg.format = 1; /* version-1 chunk records and postings (idx_commit) */
	cr_assert_eq(idx_open(g_dir, &cfg, &x), 0);
	cr_assert_eq(idx_post_new(&p), 0);
	for (i = 0; i < 200 && rc == 0; i++) {
		uint32_t j;
		idx_post_reset(p);
		for (j = 0; j < 1000; j++) {
			char a[32];
			snprintf(a, sizeof a, "10.%u.%u.%u", (unsigned)(i & 255), j >> 8, j & 255);
			add(p, i * S, 1, a, "10.255.255.255", 6, 1, 2, true);
		}
		m = meta(i + 1, 1, i * 1000, i * S, i * S);
		rc = idx_commit(x, &m, &p, 1, NULL, 0, NULL);
	}
	cr_assert_eq(rc, TV_E_FULL, "got %d", rc);
	idx_post_free(p);
	idx_close(x);
}

/* ---------------------------------------------------------- small store */

static void build_small(idx *x)
{
	idx_post *p[6];
	store_chunk_meta m[6];
	size_t i;
	for (i = 0; i < 6; i++)
		cr_assert_eq(idx_post_new(&p[i]), 0);
	/* 1: seg 1, 100 s, tcp 10.0.0.1:40000 -> 10.0.0.2:22, vni 5 */
	m[0] = meta(1, 1, 64, 100 * S, 101 * S);
	add(p[0], 100 * S, 5, "10.0.0.1", "10.0.0.2", 6, 40000, 22, true);
	add(p[0], 101 * S, 5, "10.0.0.2", "10.0.0.1", 6, 22, 40000, true);
	/* 2: seg 1, 200 s, udp 10.0.0.3:53 -> 10.0.0.4:53, vni 5 */
	m[1] = meta(2, 1, 1064, 200 * S, 201 * S);
	add(p[1], 200 * S, 5, "10.0.0.3", "10.0.0.4", 17, 53, 53, true);
	/* 3: seg 2, 300 s, tcp v6 :1234 -> :443, vni 6 */
	m[2] = meta(3, 2, 64, 300 * S, 301 * S);
	add(p[2], 300 * S, 6, "2001:db8::1", "2001:db8::2", 6, 1234, 443, true);
	/* 4: seg 2, 400 s, icmp 10.1.0.1 -> 10.0.0.1, untunnelled */
	m[3] = meta(4, 2, 1064, 400 * S, 401 * S);
	add(p[3], 400 * S, TV_VNI_NONE, "10.1.0.1", "10.0.0.1", 1, 0, 0, false);
	/* 5: seg 3, 500 s, a frame without IP, vni 7 */
	m[4] = meta(5, 3, 64, 500 * S, 501 * S);
	add(p[4], 500 * S, 7, NULL, NULL, 0, 0, 0, false);
	/* 6: seg 3, 600..900 s (a long chunk), udp 10.0.0.1:5000 -> 8.8.8.8:53 */
	m[5] = meta(6, 3, 1064, 600 * S, 900 * S);
	add(p[5], 600 * S, 8, "10.0.0.1", "8.8.8.8", 17, 5000, 53, true);
	add(p[5], 900 * S, 8, "10.0.0.1", "8.8.8.8", 17, 5000, 53, true);

	/* two batches */
	cr_assert_eq(idx_commit(x, m, p, 3, NULL, 0, NULL), 0);
	cr_assert_eq(idx_commit(x, m + 3, p + 3, 3, NULL, 0, NULL), 0);
	for (i = 0; i < 6; i++)
		idx_post_free(p[i]);
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
		/* NULL expression and NULL stats */
		uint64_t *ids;
		size_t n;
		cr_assert_eq(idx_plan(x, NULL, &ids, &n, NULL), 0);
		cr_assert_eq(n, 6);
		free(ids);
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
	store_chunk_meta m, got;
	idx_totals t;
	uint64_t end, postings;
	build_small(x);

	cr_assert_eq(idx_chunk_last(x, &got), 0);
	cr_assert_eq(got.chunk_id, 6);
	m = meta(6, 3, 1064, 600 * S, 900 * S);
	cr_assert_eq(memcmp(&got, &m, sizeof m), 0);
	cr_assert_eq(idx_chunk_get(x, 3, &got), 0);
	cr_assert_eq(got.segment, 2);
	cr_assert_eq(got.first_ts, 300 * S);
	cr_assert_eq(idx_chunk_get(x, 99, &got), TV_E_NOTFOUND);

	cr_assert_eq(idx_segment_end(x, 2, &end), 0);
	cr_assert_eq(end, 2064);
	cr_assert_eq(idx_segment_end(x, 9, &end), 0);
	cr_assert_eq(end, 0);

	cr_assert_eq(idx_totals_get(x, &t), 0);
	cr_assert_eq(t.chunks, 6);
	cr_assert_eq(t.packets, 60);
	cr_assert_eq(t.orig_bytes, 18000);
	cr_assert_eq(t.raw_bytes, 12000);
	cr_assert_eq(t.comp_bytes, 5400);
	cr_assert_eq(t.segments, 3);
	cr_assert_eq(t.first_ts, 100 * S);
	cr_assert_eq(t.last_ts, 900 * S);
	postings = db_entries(x, x->db_post);
	cr_assert_eq(t.postings, postings);
	cr_assert_gt(postings, 20);

	/* a chunk id that is already there: the whole batch is refused */
	{
		store_chunk_meta two[2] = { meta(7, 4, 0, 1000 * S, 1000 * S),
		                            meta(3, 4, 0, 1000 * S, 1000 * S) };
		cr_assert_eq(idx_commit(x, two, NULL, 2, NULL, 0, NULL), TV_E_EXISTS);
		cr_assert_eq(idx_chunk_get(x, 7, &got), TV_E_NOTFOUND);
		two[0].first_ts = 2000 * S;
		cr_assert_eq(idx_commit(x, two, NULL, 1, NULL, 0, NULL), TV_E_RANGE);
	}

	/* drop segment 1 (chunks 1, 2) */
	{
		uint64_t dropped;
		cr_assert_eq(idx_segment_drop(x, 1, &dropped), 0);
		cr_assert_eq(dropped, 2);
		cr_assert_eq(idx_segment_drop(x, 1, &dropped), 0);
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
	cr_assert_eq(t.packets, 40);
	cr_assert_eq(t.first_ts, 300 * S);
	cr_assert_eq(t.postings, db_entries(x, x->db_post));
	cr_assert_eq(db_entries(x, x->db_cpost), 4);
	cr_assert_eq(db_entries(x, x->db_time), 4);
	cr_assert_eq(db_entries(x, x->db_segs), 4);

	/* drop segment 3 (the long chunk): last_ts comes down */
	cr_assert_eq(idx_segment_drop(x, 3, NULL), 0);
	cr_assert_eq(idx_totals_get(x, &t), 0);
	cr_assert_eq(t.last_ts, 401 * S);
	cr_assert_eq(idx_segment_drop(x, 2, NULL), 0);
	PLAN(x, "");
	PLAN(x, "host 10.0.0.1");
	PLAN(x, "net ::/0");
	cr_assert_eq(db_entries(x, x->db_post), 0);
	cr_assert_eq(db_entries(x, x->db_chunks), 0);
	cr_assert_eq(idx_totals_get(x, &t), 0);
	cr_assert_eq(t.chunks, 0);
	cr_assert_eq(t.postings, 0);
	cr_assert_eq(t.segments, 0);
	cr_assert_eq(t.first_ts, 0);
	cr_assert_eq(idx_chunk_last(x, &got), TV_E_NOTFOUND);
	idx_close(x);
}

static int count_cb(void *ctx, const store_chunk_meta *m)
{
	uint64_t *n = ctx;
	cr_assert_eq(m->chunk_id, *n + 1);
	(*n)++;
	return m->chunk_id == 4 ? 42 : 0;
}

Test(index, foreach)
{
	idx *x = open_rw(g_dir);
	uint64_t n = 0;
	build_small(x);
	cr_assert_eq(idx_chunk_foreach(x, count_cb, &n), 42);
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
	cr_assert_eq(idx_commit(x, NULL, NULL, 0, mk, 2, &d), 0);

	cr_assert_eq(idx_source_get(x, mk[0].identity, &sm), 0);
	cr_assert_eq(sm.packets_done, 100);
	/* marks only go forward, and the prefix goes with the count */
	mk[0].packets_done = 50;
	mk[0].prefix_len = 5000;
	cr_assert_eq(idx_commit(x, NULL, NULL, 0, mk, 1, NULL), 0);
	cr_assert_eq(idx_source_get(x, mk[0].identity, &sm), 0);
	cr_assert_eq(sm.packets_done, 100);
	cr_assert_eq(sm.prefix_len, 0);
	mk[0].packets_done = 150;
	mk[0].prefix_len = 9000;
	memset(mk[0].prefix_sha256, 0x5A, 32);
	cr_assert_eq(idx_commit(x, NULL, NULL, 0, mk, 1, NULL), 0);
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
		cr_assert_eq(idx_commit(x, NULL, NULL, 0, &mk[1], 1, NULL), 0);
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
	cr_assert_eq(idx_commit(x, NULL, NULL, 0, NULL, 0, &d), 0);
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

Test(index, post_collector)
{
	idx_post *p;
	uint32_t i;
	cr_assert_eq(idx_post_new(&p), 0);
	add(p, 5, 1, "10.0.0.1", "10.0.0.2", 6, 1, 2, true);
	/* V, A, A, R, P, P, F */
	cr_assert_eq(idx_post_count(p), 7);
	add(p, 3, 1, "10.0.0.1", "10.0.0.2", 6, 1, 2, true);
	cr_assert_eq(idx_post_count(p), 7);
	add(p, 9, 1, "10.0.0.2", "10.0.0.1", 6, 2, 1, true);
	cr_assert_eq(idx_post_count(p), 8); /* only the reverse 5-tuple is new */
	add(p, 9, 1, "10.0.0.2", "10.0.0.1", 1, 0, 0, false);
	cr_assert_eq(idx_post_count(p), 10); /* R 1 and F with proto 1 */
	add(p, 9, 2, NULL, NULL, 0, 0, 0, false);
	cr_assert_eq(idx_post_count(p), 11); /* only V 2 */
	for (i = 0; i < p->n; i++)
		if (p->ents[i].key[0] == IDX_PT_ADDR && p->ents[i].key[16] == 1) {
			cr_assert_eq(p->ents[i].first, 3);
			cr_assert_eq(p->ents[i].last, 9);
		}
	idx_post_reset(p);
	cr_assert_eq(idx_post_count(p), 0);
	/* grow well past the initial table */
	for (i = 0; i < 60000; i++) {
		char a[32];
		snprintf(a, sizeof a, "10.%u.%u.1", i >> 8, i & 255);
		add(p, i, 1, a, "10.255.255.255", 6, 1, 2, true);
	}
	cr_assert_eq(idx_post_error(p), 0);
	/* V, dst A, R, 2 P, and per packet a src A and a 5-tuple */
	cr_assert_eq(idx_post_count(p), 5 + 2 * 60000);
	idx_post_reset(p);
	cr_assert_eq(idx_post_count(p), 0);
	add(p, 1, 1, "10.0.0.1", "10.0.0.2", 6, 1, 2, true);
	cr_assert_eq(idx_post_count(p), 7);
	idx_post_free(p);
	idx_post_free(NULL);
}

/* ------------------------------------------------------- 10000 chunks */

#define BIG 10000

Test(index, plan_cost_big, .timeout = 120)
{
	idx *x = open_rw(g_dir);
	idx_post *p[100];
	store_chunk_meta m[100];
	uint64_t i;
	size_t j;
	idx_expr *e;
	uint64_t *ids;
	size_t n;
	idx_plan_stats st;
	idx_totals t;

	for (j = 0; j < 100; j++)
		cr_assert_eq(idx_post_new(&p[j]), 0);
	for (i = 1; i <= BIG; i++) {
		char a[32];
		j = (size_t)((i - 1) % 100);
		idx_post_reset(p[j]);
		snprintf(a, sizeof a, "10.100.%u.%u", (unsigned)(i >> 8), (unsigned)(i & 255));
		add(p[j], i * 10 * S, (uint32_t)(i % 10), a, "172.16.0.1", 6,
		    (uint16_t)(1024 + i % 1000), 80, true);
		if (i == 17 || i == 4242 || i == 9999)
			add(p[j], i * 10 * S + S, (uint32_t)(i % 10), "192.0.2.7", "172.16.0.1", 17,
			    999, 53, true);
		m[j] = meta(i, (uint32_t)(i / 1000), (i % 1000) * 1000, i * 10 * S, i * 10 * S + 5 * S);
		if (j == 99)
			cr_assert_eq(idx_commit(x, m, p, 100, NULL, 0, NULL), 0);
	}
	for (j = 0; j < 100; j++)
		idx_post_free(p[j]);

	cr_assert_eq(idx_totals_get(x, &t), 0);
	cr_assert_eq(t.chunks, BIG);
	cr_assert_eq(t.segments, 11);

	PLAN(x, "host 192.0.2.7", 17, 4242, 9999);
	PLAN(x, "host 192.0.2.7 and tcp", 17, 4242, 9999);
	PLAN(x, "host 192.0.2.7 and udp and vni 2", 4242);
	PLAN(x, "port 53", 17, 4242, 9999);
	PLAN(x, "host 10.100.0.5", 5);

	cr_assert_eq(idx_expr_parse("host 192.0.2.7", 0, &e, NULL), 0);
	cr_assert_eq(idx_plan(x, e, &ids, &n, &st), 0);
	cr_assert_eq(st.keys_read, 3);
	cr_assert_eq(st.chunks_total, BIG);
	cr_assert_eq(st.chunks_planned, 3);
	free(ids);
	idx_expr_free(e);

	/* the planner probes the small side instead of reading all of tcp */
	cr_assert_eq(idx_expr_parse("tcp and host 192.0.2.7 and not udp", 0, &e, NULL), 0);
	cr_assert_eq(idx_plan(x, e, &ids, &n, &st), 0);
	cr_assert_eq(n, 3);
	cr_assert_leq(st.keys_read, 6);
	free(ids);
	idx_expr_free(e);

	/* tcpdump's forms plan no more chunks and read no more keys than
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
			uint64_t *ids2, keys;
			size_t n2;
			cr_assert_eq(idx_expr_parse(pairs[k][1], 0, &e, NULL), 0);
			cr_assert_eq(idx_plan(x, e, &ids2, &n2, &st), 0);
			keys = st.keys_read;
			idx_expr_free(e);
			cr_assert_eq(idx_expr_parse(pairs[k][0], 0, &e, NULL), 0);
			cr_assert_eq(idx_plan(x, e, &ids, &n, &st), 0);
			idx_expr_free(e);
			/* a subset of the long form's plan (both sorted) */
			{
				size_t a = 0, b = 0;
				for (; a < n; a++) {
					while (b < n2 && ids2[b] < ids[a])
						b++;
					cr_assert(b < n2 && ids2[b] == ids[a],
					          "'%s' plans chunk %llu, '%s' does not", pairs[k][0],
					          (unsigned long long)ids[a], pairs[k][1]);
				}
			}
			cr_assert_leq(st.keys_read, keys, "'%s' read %llu keys, '%s' %llu",
			              pairs[k][0], (unsigned long long)st.keys_read, pairs[k][1],
			              (unsigned long long)keys);
			free(ids);
			free(ids2);
		}
		cr_assert_eq(idx_expr_parse("udp port 53", 0, &e, NULL), 0);
		cr_assert_eq(idx_plan(x, e, &ids, &n, &st), 0);
		cr_assert_eq(n, 3);
		cr_assert_eq(st.keys_read, 3);
		free(ids);
		idx_expr_free(e);
		/* tcp port 80 is in every chunk; udp port 80 in none */
		cr_assert_eq(idx_expr_parse("udp port 80", 0, &e, NULL), 0);
		cr_assert_eq(idx_plan(x, e, &ids, &n, &st), 0);
		cr_assert_eq(n, 0);
		cr_assert_eq(st.keys_read, 0);
		free(ids);
		idx_expr_free(e);
	}

	/* a time window reads only the chunks near it */
	cr_assert_eq(idx_expr_parse("after 50000 and before 50100", 0, &e, NULL), 0);
	cr_assert_eq(idx_plan(x, e, &ids, &n, &st), 0);
	cr_assert_eq(n, 10); /* chunks 5000..5009 */
	cr_assert_eq(ids[0], 5000);
	cr_assert_leq(st.keys_read, 12);
	free(ids);
	idx_expr_free(e);

	/* a host with a time window: postings outside it are skipped */
	PLAN(x, "host 192.0.2.7 and after 42000 and before 99990", 4242);
	PLAN(x, "host 192.0.2.7 and after 42421.5", 9999);

	/* drop one segment: chunks 4000..4999 */
	{
		uint64_t dropped;
		cr_assert_eq(idx_segment_drop(x, 4, &dropped), 0);
		cr_assert_eq(dropped, 1000);
	}
	PLAN(x, "host 192.0.2.7", 17, 9999);
	cr_assert_eq(idx_totals_get(x, &t), 0);
	cr_assert_eq(t.chunks, BIG - 1000);
	cr_assert_eq(t.postings, db_entries(x, x->db_post));
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
