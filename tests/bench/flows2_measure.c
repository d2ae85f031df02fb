/*
 * flows2_measure.c — what the VPC flow records of a store take in the
 * version-1 table "flows" (one LMDB value per record) against the
 * version-2 table v2_flows (one zstd block per flush and window,
 * index/flows2.c).  A measuring tool, not built by make test:
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -o build/flows2-measure tests/bench/flows2_measure.c \
 *      build/libtapvault.a -lpcap -lzstd -llmdb -larchive -ljansson -lpthread -lm
 *   build/flows2-measure STORE SCRATCH_DIR
 *
 * It reads every record of STORE's "flows" table with its key, groups
 * them into blocks two ways, stores each grouping with idx2_flows_put in
 * a fresh index under SCRATCH_DIR (which must not exist; it is left for
 * the caller to delete), reads it back with idx2_flows_read and compares
 * with the input, and prints the LMDB pages each table takes:
 *
 *   window: all the records of a window in one flush (blocks of 4096),
 *           what a flush at window close writes;
 *   runs:   a block per run of consecutive sequence numbers inside one
 *           window: version 1 gives one flush consecutive numbers, so
 *           this is at least as many blocks as the flushes wrote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../index/flows2.h"

typedef struct rec {
	tv_flowrec r;
	uint64_t seq;
} rec;

static uint64_t table_bytes(idx *x, MDB_dbi dbi, MDB_stat *st)
{
	MDB_txn *txn;
	if (idx_txn_begin(x, false, &txn) != 0)
		return 0;
	mdb_stat(txn, dbi, st);
	mdb_txn_abort(txn);
	return (uint64_t)(st->ms_branch_pages + st->ms_leaf_pages + st->ms_overflow_pages) *
	       st->ms_psize;
}

/* The sum of the table's value lengths. */
static uint64_t value_bytes(idx *x, MDB_dbi dbi)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	uint64_t sum = 0;
	if (idx_txn_begin(x, false, &txn) != 0)
		return 0;
	if (mdb_cursor_open(txn, dbi, &cur) == 0) {
		for (int rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
			sum += d.mv_size;
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	return sum;
}

static int load(idx *x, rec **out, size_t *n)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	size_t cap = 1024, cnt = 0;
	rec *v = malloc(cap * sizeof *v);
	int rc;
	if (!v || (rc = idx_txn_begin(x, false, &txn)) != 0)
		return 1;
	if (mdb_cursor_open(txn, x->db_flows, &cur) != 0)
		return 1;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (cnt == cap) {
			rec *nv = realloc(v, (cap *= 2) * sizeof *v);
			if (!nv)
				return 1;
			v = nv;
		}
		if (k.mv_size != 12 || idx_flow_val_decode(d.mv_data, d.mv_size, &v[cnt].r) != 0) {
			fprintf(stderr, "flows2-measure: a malformed entry in table flows\n");
			return 1;
		}
		v[cnt].seq = tv_get_be64((const uint8_t *)k.mv_data + 4);
		cnt++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	*out = v;
	*n = cnt;
	return 0;
}

typedef struct cmp_ctx {
	const tv_flowrec *want;
	size_t n, at;
	int bad;
} cmp_ctx;

static int cmp_cb(void *ctx, const tv_flowrec *r)
{
	cmp_ctx *c = ctx;
	if (c->at >= c->n || memcmp(r, &c->want[c->at], sizeof *r) != 0)
		c->bad = 1;
	c->at++;
	return 0;
}

/* Stores v (in key order) in a new index at dir, a block per group. */
static int store_v2(const char *dir, const rec *v, size_t n, bool by_runs, tv_flowrec *tmp)
{
	idx_cfg cfg;
	idx *x = NULL;
	idx2_fbuf *b = NULL;
	MDB_txn *txn;
	MDB_stat st;
	uint64_t blocks = 0, nb, bytes;
	size_t i = 0;
	cmp_ctx cc = { tmp, n, 0, 0 };

	idx_cfg_default(&cfg);
	cfg.writable = true;
	cfg.map_size = (uint64_t)4 << 30;
	if (idx_open(dir, &cfg, &x) != 0 || idx2_fbuf_new(&b) != 0)
		return 1;
	if (idx_txn_begin(x, true, &txn) != 0)
		return 1;
	while (i < n) {
		size_t j = i + 1;
		while (j < n && v[j].r.window == v[i].r.window &&
		       (!by_runs || v[j].seq == v[j - 1].seq + 1))
			j++;
		for (size_t k = i; k < j; k++)
			tmp[k] = v[k].r;
		if (idx2_flows_put(x, txn, b, tmp + i, j - i, &nb) != 0)
			return 1;
		blocks += nb;
		i = j;
	}
	if (mdb_txn_commit(txn) != 0)
		return 1;
	bytes = table_bytes(x, x->db2_flows, &st);
	if (idx2_flows_read(x, NULL, b, 0, UINT32_MAX, cmp_cb, &cc) != 0 || cc.bad || cc.at != n) {
		fprintf(stderr, "flows2-measure: the v2 read differs from the input\n");
		return 1;
	}
	printf("v2_flows (%s): %llu blocks, values %llu bytes (%.2f bytes/record), "
	       "%llu LMDB bytes (%zu leaf, %zu overflow pages), %.2f bytes/record; read back equal\n",
	       by_runs ? "runs" : "window", (unsigned long long)blocks,
	       (unsigned long long)value_bytes(x, x->db2_flows),
	       (double)value_bytes(x, x->db2_flows) / (double)n, (unsigned long long)bytes,
	       st.ms_leaf_pages, st.ms_overflow_pages, (double)bytes / (double)n);
	idx2_fbuf_free(b);
	idx_close(x);
	return 0;
}

int main(int argc, char **argv)
{
	idx_cfg cfg;
	idx *x = NULL;
	rec *v;
	size_t n;
	MDB_stat st;
	uint64_t v1;
	char d1[4096], d2[4096];

	if (argc != 3) {
		fprintf(stderr, "usage: flows2-measure STORE SCRATCH_DIR\n");
		return 2;
	}
	idx_cfg_default(&cfg);
	if (idx_open(argv[1], &cfg, &x) != 0) {
		fprintf(stderr, "flows2-measure: cannot open the index of %s\n", argv[1]);
		return 1;
	}
	if (load(x, &v, &n) != 0 || n == 0)
		return 1;
	v1 = table_bytes(x, x->db_flows, &st);
	printf("flows (v1): %zu records, %llu LMDB bytes (%zu leaf pages), %.2f bytes/record\n", n,
	       (unsigned long long)v1, st.ms_leaf_pages, (double)v1 / (double)n);
	idx_close(x);
	tv_flowrec *tmp = malloc(n * sizeof *tmp);
	if (!tmp)
		return 1;
	snprintf(d1, sizeof d1, "%s/window", argv[2]);
	snprintf(d2, sizeof d2, "%s/runs", argv[2]);
	if (mkdir(argv[2], 0700) != 0 || mkdir(d1, 0700) != 0 || mkdir(d2, 0700) != 0) {
		fprintf(stderr, "flows2-measure: cannot create %s\n", argv[2]);
		return 1;
	}
	/* in key order the expected read order is the input order */
	for (size_t i = 0; i < n; i++)
		tmp[i] = v[i].r;
	if (store_v2(d1, v, n, false, tmp) != 0 || store_v2(d2, v, n, true, tmp) != 0)
		return 1;
	free(tmp);
	free(v);
	return 0;
}
