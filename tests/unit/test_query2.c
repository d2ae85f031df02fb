/*
 * test_query2.c — idx_query_run: the same packets in a store written
 * through the vault (as ingest stores them) and in one written directly
 * (store_packer, idx_commit2) give byte-identical pcap output, alone and
 * as two stores merged in any pair of writers; --verify (export) reads
 * the whole chunk and fails on a changed byte outside the planned blocks,
 * naming segment and offset.
 */
#include "v2store.h"
#include "rmtmp.h"
#include "../../report/evidence.h"

#include <fcntl.h>
#include <inttypes.h>

static char tdir[64];
static char a1[128], a2[128], b1[128], b2[128];

static void gen(const char *out, const char *seed, const char *start)
{
	const char *args[] = { "--outer", out, "--seed", seed, "--flows", "60",
		               "--duration", "240", "--start", start, NULL };
	v2_tvgen(args);
}

static void setup(void)
{
	char pa[160], pb[160];
	store_packer_cfg pc;
	strcpy(tdir, "/tmp/tv-query2-XXXXXX");
	cr_assert_not_null(mkdtemp(tdir));
	snprintf(pa, sizeof pa, "%s/a.pcap", tdir);
	snprintf(pb, sizeof pb, "%s/b.pcap", tdir);
	snprintf(a1, sizeof a1, "%s/a1", tdir);
	snprintf(a2, sizeof a2, "%s/a2", tdir);
	snprintf(b1, sizeof b1, "%s/b1", tdir);
	snprintf(b2, sizeof b2, "%s/b2", tdir);
	/* two captures that overlap in time: the merge interleaves them */
	gen(pa, "5", "1764000000");
	gen(pb, "6", "1764000030");
	store_packer_cfg_default(&pc);
	pc.raw_target = 96u << 10; /* many chunks of several blocks */
	pc.block_target = 16u << 10;
	cr_assert_gt(v2_build(pa, a2, a1, &pc), 1000);
	cr_assert_gt(v2_build(pb, b2, b1, &pc), 1000);
}

static void teardown(void)
{
	cr_assert_eq(test_rmtree(tdir), 0);
}

typedef struct out {
	FILE *f;
	uint64_t n;
} out;

static int to_pcap(void *ctx, int store, const store_rec *rec, const tv_l3info *info)
{
	out *o = ctx;
	(void)store;
	(void)info;
	o->n++;
	return report_pcapw_record(o->f, rec->ts_ns, rec->frame, rec->caplen, rec->origlen) ? TV_E_IO
	                                                                                     : 0;
}

/* The pcap a query writes (as `query -w`), malloc'd into *buf. */
static void run(const char *const *dirs, int n, const char *text, bool verify, char **buf,
                size_t *len, uint64_t *npkts, idx_query_stats *st)
{
	idx_rstore rs[4];
	idx_expr *e;
	idx_expr_err perr;
	char err[1024];
	out o;
	int rc;

	cr_assert_eq(idx_expr_parse(text, 0, &e, &perr), 0, "%s: %s", text, perr.msg);
	for (int i = 0; i < n; i++)
		cr_assert_eq(idx_rstore_open(dirs[i], &rs[i]), 0, "%s", dirs[i]);
	o.f = open_memstream(buf, len);
	o.n = 0;
	report_pcapw_header(o.f);
	rc = idx_query_run(rs, n, e, verify, to_pcap, &o, st, err, sizeof err);
	cr_assert_eq(rc, 0, "%s: %s", text, err);
	cr_assert_eq(fclose(o.f), 0);
	*npkts = o.n;
	for (int i = 0; i < n; i++)
		idx_rstore_close(&rs[i]);
	idx_expr_free(e);
}

/* Expressions whose answers differ, each matching some packets of the
 * first capture (seeds 5 and 6 of tv-gen's default profile): addresses,
 * nets, ports, protocols, VNIs, time bounds, not/or, IPv6, and DNS and
 * ICMP answers that come as IP fragments (the later ones match a port
 * through the ports ingest attributed to them). */
static const char *const exprs[] = {
	"",
	"host 10.0.1.155",
	"net 10.0.2.0/24",
	"port 53",
	"udp and port 53",
	"tcp and port 443",
	"icmp",
	"ip6",
	"ip6 and tcp",
	"not tcp",
	"host 10.0.1.155 or port 123",
	"after 1764000050 and before 1764000100",
	"not (after 1764000050 and before 1764000200)",
	"tcp and not port 443 and after 1764000020",
	"portrange 1-1024 and not udp",
	"vni 1289 or vni 1768",
	"vni 2381 and not tcp",
	/* answers of 1.1.1.1 to 10.0.4.141, two of them later fragments */
	"udp and src port 53 and dst host 10.0.4.141",
	"icmp and host 8.8.8.8",
};

static void compare(const char *const *d1, const char *const *d2, int n, uint64_t *total)
{
	for (size_t q = 0; q < sizeof exprs / sizeof exprs[0]; q++) {
		char *p1 = NULL, *p2 = NULL;
		size_t l1 = 0, l2 = 0;
		uint64_t n1, n2;
		idx_query_stats s1, s2;
		run(d1, n, exprs[q], false, &p1, &l1, &n1, &s1);
		run(d2, n, exprs[q], false, &p2, &l2, &n2, &s2);
		cr_assert_eq(n1, n2, "'%s': %" PRIu64 " packets from %s, %" PRIu64 " from %s", exprs[q],
		             n1, d1[0], n2, d2[0]);
		cr_assert_eq(l1, l2, "'%s'", exprs[q]);
		cr_assert_eq(memcmp(p1, p2, l1), 0, "'%s': the pcaps differ", exprs[q]);
		cr_assert_gt(n1, 0, "'%s' matches nothing: the comparison proves nothing", exprs[q]);
		cr_assert_eq(s1.packets_matched, n1);
		cr_assert_eq(s2.packets_matched, n2);
		cr_assert_gt(s2.blocks_read, 0);
		cr_assert_geq(s2.bytes_decoded, l2 - 24 - 16 * n2, "'%s'", exprs[q]);
		*total += n1;
		free(p1);
		free(p2);
	}
}

Test(query2, one_store_through_the_vault_or_direct_gives_identical_pcaps, .init = setup,
     .fini = teardown, .timeout = 240)
{
	const char *v[] = { a1 }, *d[] = { a2 };
	uint64_t total = 0;
	compare(v, d, 1, &total);
	cr_assert_gt(total, 1000);
}

Test(query2, two_stores_of_either_or_mixed_writers_give_identical_pcaps, .init = setup,
     .fini = teardown, .timeout = 240)
{
	const char *v[] = { a1, b1 }, *d[] = { a2, b2 }, *m1[] = { a1, b2 }, *m2[] = { a2, b1 };
	uint64_t total = 0;
	compare(v, d, 2, &total);
	compare(v, m1, 2, &total);
	compare(v, m2, 2, &total);
	cr_assert_gt(total, 1000);
}

/* A block of a chunk that "host 10.0.1.155" does not plan, and its
 * offset in the segment: where a flipped byte hides from a query. */
static bool unplanned_byte(const char *dir, uint32_t *seg, uint64_t *off, uint64_t *chunk)
{
	idx_cfg cfg;
	idx *x;
	idx_expr *e;
	idx_expr_err perr;
	idx2_hit *hits;
	size_t n;
	bool found = false;

	idx_cfg_default(&cfg);
	cfg.writable = false;
	cr_assert_eq(idx_open(dir, &cfg, &x), 0);
	cr_assert_eq(idx_expr_parse("host 10.0.1.155", 0, &e, &perr), 0);
	cr_assert_eq(idx_plan2(x, e, &hits, &n, NULL, NULL, 0), 0);
	for (size_t i = 0; i < n && !found; i++) {
		idx2_chunk c;
		cr_assert_eq(idx2_chunk_get(x, hits[i].chunk_id, &c), 0);
		for (uint16_t k = 0; k < c.nblocks; k++)
			if (!((hits[i].blocks >> k) & 1)) {
				*seg = c.segment;
				/* a byte in the middle of the block's stored bytes */
				*off = c.offset + STORE_V2_HDR_LEN + c.blocks[k].offset + c.blocks[k].len / 2;
				*chunk = c.chunk_id;
				found = true;
				break;
			}
	}
	free(hits);
	idx_expr_free(e);
	idx_close(x);
	return found;
}

static void flip(const char *dir, uint32_t seg, uint64_t off)
{
	char path[256];
	uint8_t b;
	int fd;
	snprintf(path, sizeof path, "%s/segments/seg-%010u.tvs", dir, seg);
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x5a;
	cr_assert_eq(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

Test(query2, verify_fails_on_a_changed_byte_outside_the_planned_blocks, .init = setup,
     .fini = teardown, .timeout = 240)
{
	const char *v2[] = { a2 };
	char *p = NULL, *q = NULL;
	size_t l = 0, lq = 0;
	uint64_t n, nq, chunk = 0;
	uint32_t seg = 0;
	uint64_t off = 0;
	idx_query_stats st;
	idx_rstore rs;
	idx_expr *e;
	idx_expr_err perr;
	char err[1024], want[128];
	out o;

	cr_assert(unplanned_byte(a2, &seg, &off, &chunk), "every block of the host's chunks planned");
	run(v2, 1, "host 10.0.1.155", true, &p, &l, &n, &st);
	cr_assert_gt(n, 0);
	cr_assert_gt(st.bytes_read, 0);
	flip(a2, seg, off);
	/* without --verify: the planned blocks alone are read, the answer holds */
	run(v2, 1, "host 10.0.1.155", false, &q, &lq, &nq, &st);
	cr_assert_eq(nq, n);
	cr_assert_eq(lq, l);
	cr_assert_eq(memcmp(p, q, l), 0);
	free(q);
	q = NULL;
	/* with it (export): the chunk's SHA-256 fails, naming the place */
	cr_assert_eq(idx_expr_parse("host 10.0.1.155", 0, &e, &perr), 0);
	cr_assert_eq(idx_rstore_open(a2, &rs), 0);
	o.f = open_memstream(&q, &lq);
	o.n = 0;
	cr_assert_eq(idx_query_run(&rs, 1, e, true, to_pcap, &o, &st, err, sizeof err), TV_E_HASH,
	             "%s", err);
	fclose(o.f);
	snprintf(want, sizeof want, "segment %u offset ", seg);
	cr_assert_not_null(strstr(err, want), "%s", err);
	snprintf(want, sizeof want, "(chunk %" PRIu64 ")", chunk);
	cr_assert_not_null(strstr(err, want), "%s", err);
	cr_assert_not_null(strstr(err, a2), "%s", err);
	idx_rstore_close(&rs);
	idx_expr_free(e);
	free(p);
	free(q);
}

/* Opens dir's index for writing and runs f on it in one write transaction. */
static void with_index(const char *dir, void (*f)(idx *x, MDB_txn *txn))
{
	idx_cfg cfg;
	idx *x;
	MDB_txn *txn;
	idx_cfg_default(&cfg);
	cfg.writable = true;
	cr_assert_eq(idx_open(dir, &cfg, &x), 0);
	cr_assert_eq(idx_txn_begin(x, true, &txn), 0);
	f(x, txn);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	idx_close(x);
}

/* Chunk 3's record, its crc intact, says its last block is 4 GiB long. */
static void huge_record(idx *x, MDB_txn *txn)
{
	uint8_t kb[8], buf[IDX2_CHUNK_MAX];
	MDB_val k = { 8, kb }, d;
	idx2_chunk r;
	uint16_t last;
	tv_put_be64(kb, 3);
	cr_assert_eq(mdb_get(txn, x->db2_chunks, &k, &d), 0);
	cr_assert_eq(idx2_chunk_decode(d.mv_data, d.mv_size, 3, &r), 0);
	last = (uint16_t)(r.nblocks - 1);
	r.blocks[last].len = UINT32_MAX - 4096 - r.blocks[last].offset;
	r.length = STORE_V2_HDR_LEN + r.blocks[last].offset + r.blocks[last].len;
	d.mv_size = idx2_chunk_encode(&r, buf);
	d.mv_data = buf;
	cr_assert_eq(mdb_put(txn, x->db2_chunks, &k, &d, 0), 0);
}

/* Every posting value (folded and open slice) with one byte changed. */
static void flip_postings(idx *x, MDB_txn *txn)
{
	MDB_dbi dbs[2] = { x->db2_post, x->db2_opost };
	size_t n = 0;
	for (int i = 0; i < 2; i++) {
		MDB_cursor *cur;
		MDB_val k, d;
		cr_assert_eq(mdb_cursor_open(txn, dbs[i], &cur), 0);
		while (mdb_cursor_get(cur, &k, &d, MDB_NEXT) == 0) {
			uint8_t v[IDX2_PVAL_MAX + IDX2_OVAL_MAX];
			cr_assert_leq(d.mv_size, sizeof v);
			memcpy(v, d.mv_data, d.mv_size);
			v[d.mv_size - 1] ^= 0x01;
			d.mv_data = v;
			cr_assert_eq(mdb_cursor_put(cur, &k, &d, MDB_CURRENT), 0);
			n++;
		}
		mdb_cursor_close(cur);
	}
	cr_assert_gt(n, 0);
}

static void query_fails(const char *dir, const char *text, int want, const char *where)
{
	idx_rstore rs;
	idx_expr *e;
	idx_expr_err perr;
	char err[1024];
	char *buf = NULL;
	size_t len = 0;
	out o;
	cr_assert_eq(idx_expr_parse(text, 0, &e, &perr), 0);
	cr_assert_eq(idx_rstore_open(dir, &rs), 0);
	o.f = open_memstream(&buf, &len);
	o.n = 0;
	err[0] = '\0';
	cr_assert_eq(idx_query_run(&rs, 1, e, false, to_pcap, &o, NULL, err, sizeof err), want,
	             "'%s': %s", text, err);
	fclose(o.f);
	free(buf);
	cr_assert_not_null(strstr(err, dir), "%s", err);
	cr_assert_not_null(strstr(err, where), "'%s': %s", text, err);
	idx_rstore_close(&rs);
	idx_expr_free(e);
}

Test(query2, a_corrupt_chunk_record_or_posting_fails_naming_table_and_key, .init = setup,
     .fini = teardown, .timeout = 240)
{
	with_index(a2, huge_record);
	query_fails(a2, "", TV_E_CORRUPT, "v2_chunks key 0000000000000003");
	with_index(b2, flip_postings);
	query_fails(b2, "host 10.0.1.155 or port 53", TV_E_CORRUPT, "post key ");
}

static report_export_result *export(const char *dir, const char *text, const char *bundle)
{
	static report_export_result res;
	report_export_opts o;
	idx_rstore rs;
	idx_expr *e;
	idx_expr_err perr;
	cr_assert_eq(idx_expr_parse(text, 0, &e, &perr), 0);
	cr_assert_eq(idx_rstore_open(dir, &rs), 0);
	memset(&o, 0, sizeof o);
	memset(&res, 0, sizeof res);
	o.rs = &rs;
	o.expr = e;
	o.query_text = text;
	o.store = dir;
	o.out = bundle;
	o.kind = REPORT_BUNDLE_TAR_GZ;
	o.examiner = "test";
	report_export_run(&o, &res, NULL);
	idx_rstore_close(&rs);
	idx_expr_free(e);
	return &res;
}

Test(query2, export_of_a_v2_store_lists_its_chunks_and_fails_on_a_changed_byte, .init = setup,
     .fini = teardown, .timeout = 240)
{
	char out1[160], out2[160], want[64];
	report_export_result *r;
	uint64_t chunk = 0, off = 0, packets;
	uint32_t seg = 0;

	snprintf(out1, sizeof out1, "%s/case1.tar.gz", tdir);
	snprintf(out2, sizeof out2, "%s/case2.tar.gz", tdir);
	cr_assert(unplanned_byte(a2, &seg, &off, &chunk));
	r = export(a2, "host 10.0.1.155", out1);
	cr_assert_eq(r->status, REPORT_EXPORT_OK, "%s", r->err);
	cr_assert_gt(r->packets, 0);
	cr_assert_gt(r->nchunks, 0);
	cr_assert_eq(r->chunks_read, r->nchunks, "every chunk read gave a packet here");
	packets = r->packets;
	flip(a2, seg, off);
	r = export(a2, "host 10.0.1.155", out2);
	cr_assert_eq(r->status, REPORT_EXPORT_FAILED, "%" PRIu64 " packets exported", packets);
	snprintf(want, sizeof want, "segment %u offset ", seg);
	cr_assert_not_null(strstr(r->err, want), "%s", r->err);
	cr_assert_eq(access(out2, F_OK), -1, "a failed export leaves no bundle");
}
