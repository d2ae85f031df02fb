/*
 * test_verify2.c — verify and verify --deep on a store of this format
 * (3), and its segments: real chunks from store_packer, appended with
 * store_segs, indexed with idx_commit2; then each kind of damage is made,
 * on disk or in LMDB, and must be found and named.
 */
#include "index2_synth.h"
#include "../../index/vault.h"
#include "../../index/recover2.h"

#include <fcntl.h>
#include <unistd.h>

static void vsetup(void)
{
	synth_real_segs = true;
	setup();
}

typedef struct msgs {
	char text[64][640];
	size_t n;
} msgs;

static void on_msg(void *ctx, const char *msg)
{
	msgs *m = ctx;
	if (m->n < 64)
		snprintf(m->text[m->n], sizeof m->text[m->n], "%s", msg);
	m->n++;
}

static bool said(const msgs *m, const char *a, const char *b)
{
	for (size_t i = 0; i < m->n && i < 64; i++)
		if (strstr(m->text[i], a) && (!b || strstr(m->text[i], b)))
			return true;
	return false;
}

static void dump(const msgs *m)
{
	for (size_t i = 0; i < m->n && i < 64; i++)
		fprintf(stderr, "  | %s\n", m->text[i]);
}

/* Indexes chunks [0, upto) and closes the writer's handles, so the store
 * is at rest as after an ingest. */
static void build(size_t upto)
{
	idx *x = open_store();
	commit_range(x, 0, upto);
	idx_close(x);
	store_segs_close(synth_segs);
	synth_segs = NULL;
}

static int verify(bool deep, msgs *m, idx_verify_report *rep)
{
	idx_rstore rs;
	int rc;
	memset(m, 0, sizeof *m);
	cr_assert_eq(idx_rstore_open(store_dir, &rs), 0);
	rc = idx_verify_store(&rs, deep, on_msg, m, rep);
	idx_rstore_close(&rs);
	return rc;
}

static void seg_path(uint32_t seg, char *out, size_t cap)
{
	snprintf(out, cap, "%s/segments/seg-%010u.tvs", store_dir, seg);
}

/* Flips one byte of segment 1 at off. */
static void flip(uint64_t off)
{
	char p[128];
	uint8_t b;
	seg_path(1, p, sizeof p);
	int fd = open(p, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x20;
	cr_assert_eq(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

Test(verify2, a_clean_store_verifies_normal_and_deep, .init = vsetup, .fini = teardown,
     .timeout = 60)
{
	msgs m;
	idx_verify_report rep;
	build(nchunks);
	cr_assert_gt(nchunks, 64, "the fixture must close a slice: %zu chunks", nchunks);
	for (int deep = 0; deep < 2; deep++) {
		int rc = verify(deep, &m, &rep);
		if (rc || m.n)
			dump(&m);
		cr_assert_eq(rc, 0, "deep %d", deep);
		cr_assert_eq(m.n, 0);
		cr_assert_eq(rep.chunks_ok, nchunks);
		cr_assert_eq(rep.chunks_bad, 0);
		cr_assert_eq(rep.packets, NP);
		cr_assert_eq(rep.index_bad, 0);
		cr_assert_eq(rep.unindexed_bytes + rep.torn_bytes, 0);
	}
}

Test(verify2, a_flipped_byte_in_a_block_is_named, .init = vsetup, .fini = teardown,
     .timeout = 60)
{
	msgs m;
	idx_verify_report rep;
	size_t k = 5;
	char want[64];
	build(nchunks);
	cr_assert_geq(chunks[k].rec.nblocks, 2);
	flip(chunks[k].rec.offset + STORE_V2_HDR_LEN + chunks[k].rec.blocks[1].offset + 40);
	cr_assert_eq(verify(false, &m, &rep), TV_E_CORRUPT);
	dump(&m);
	snprintf(want, sizeof want, "chunk %llu:", (unsigned long long)chunks[k].rec.chunk_id);
	cr_assert(said(&m, want, "block 1 "));
	cr_assert_eq(rep.chunks_bad, 1);
	cr_assert_eq(rep.chunks_ok, nchunks - 1);
	/* deep leaves the damaged chunk to the plain check, and still
	 * compares the others: nothing else is reported */
	cr_assert_eq(verify(true, &m, &rep), TV_E_CORRUPT);
	cr_assert_eq(rep.index_bad, 0);
	cr_assert_eq(m.n, 1);
}

Test(verify2, a_flipped_byte_in_the_head_is_named, .init = vsetup, .fini = teardown,
     .timeout = 60)
{
	msgs m;
	idx_verify_report rep;
	char want[64];
	build(nchunks);
	/* the producer tag's length, the first field of the head */
	flip(chunks[7].rec.offset + STORE_V2_HDR_LEN + 1);
	cr_assert_eq(verify(false, &m, &rep), TV_E_CORRUPT);
	dump(&m);
	snprintf(want, sizeof want, "chunk %llu:", (unsigned long long)chunks[7].rec.chunk_id);
	cr_assert(said(&m, want, "the head"));
	cr_assert_eq(rep.chunks_bad, 1);
}

Test(verify2, a_flipped_byte_in_the_header_is_named, .init = vsetup, .fini = teardown,
     .timeout = 60)
{
	msgs m;
	idx_verify_report rep;
	char want[64];
	build(nchunks);
	flip(chunks[9].rec.offset + 30); /* first_ts, under hdr_crc */
	cr_assert_eq(verify(false, &m, &rep), TV_E_CORRUPT);
	dump(&m);
	snprintf(want, sizeof want, "chunk %llu:", (unsigned long long)chunks[9].rec.chunk_id);
	cr_assert(said(&m, want, "the chunk header"));
	cr_assert_eq(rep.chunks_bad, 1);
}

/* A byte of one flow's tails (section B, under that flow's CRC and not
 * the block's) fails verify too, naming the block. */
Test(verify2, a_flipped_byte_in_a_flows_tails_is_named, .init = vsetup, .fini = teardown,
     .timeout = 60)
{
	msgs m;
	idx_verify_report rep;
	store_block *b;
	char want[64], what[32];
	uint64_t at = 0;
	size_t k;
	build(nchunks);
	cr_assert_eq(store_block_new(&b), 0);
	for (k = 0; k < nchunks && !at; k++)
		for (uint16_t j = 0; j < chunks[k].rec.nblocks && !at; j++) {
			const store_blkref *r = &chunks[k].rec.blocks[j];
			cr_assert_eq(store_block_decode(b, chunks[k].bytes + 128 + r->offset, r->len, NULL, r),
			             0);
			for (uint32_t f = 0; f < store_block_nflows(b) && !at; f++)
				if (store_block_flow(b, f)->tail_len > 0) {
					at = chunks[k].rec.offset + STORE_V2_HDR_LEN + r->offset +
					     STORE_V2_BLK_HDR_LEN + r->a_comp + store_block_flow(b, f)->tail_off;
					snprintf(what, sizeof what, "block %u ", j);
				}
		}
	store_block_free(b);
	cr_assert_neq(at, 0, "no chunk holds tails");
	k--;
	flip(at);
	cr_assert_eq(verify(false, &m, &rep), TV_E_CORRUPT);
	dump(&m);
	snprintf(want, sizeof want, "chunk %llu:", (unsigned long long)chunks[k].rec.chunk_id);
	cr_assert(said(&m, want, what));
	cr_assert_eq(rep.chunks_bad, 1);
}

/* A chunk header of format 2 (its version field; the header CRC made
 * right) in a store of format 3 is named with both versions. */
Test(verify2, a_chunk_header_of_format_2_is_named, .init = vsetup, .fini = teardown,
     .timeout = 60)
{
	msgs m;
	idx_verify_report rep;
	char want[64];
	build(nchunks);
	{
		char p[128];
		uint8_t h[128];
		seg_path(1, p, sizeof p);
		int fd = open(p, O_RDWR);
		cr_assert_geq(fd, 0);
		cr_assert_eq(pread(fd, h, sizeof h, (off_t)chunks[4].rec.offset), (ssize_t)sizeof h);
		tv_put_le16(h + 8, 2);
		tv_put_le32(h + 124, tv_crc32c(h, 124));
		cr_assert_eq(pwrite(fd, h, sizeof h, (off_t)chunks[4].rec.offset), (ssize_t)sizeof h);
		close(fd);
	}
	cr_assert_eq(verify(false, &m, &rep), TV_E_CORRUPT);
	dump(&m);
	snprintf(want, sizeof want, "chunk %llu:", (unsigned long long)chunks[4].rec.chunk_id);
	cr_assert(said(&m, want, "the chunk header is of format version 2, the store's is 3"));
}

/* Opens the index for writing and hands out a write transaction. */
static idx *wopen(MDB_txn **txn)
{
	idx *x = open_store();
	cr_assert_eq(idx_txn_begin(x, true, txn), 0);
	return x;
}

static void wclose(idx *x, MDB_txn *txn)
{
	cr_assert_eq(mdb_txn_commit(txn), 0);
	idx_close(x);
}

Test(verify2, a_missing_posting_is_found_by_deep_only, .init = vsetup, .fini = teardown,
     .timeout = 60)
{
	msgs m;
	idx_verify_report rep;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	idx2_slice s;
	idx2_piter it;
	idx2_pv pv;
	uint32_t sid;
	uint64_t chunk, blocks;
	char want[64];

	build(nchunks);
	idx *x = wopen(&txn);
	cr_assert_eq(mdb_cursor_open(txn, x->db2_post, &cur), 0);
	/* a key in the middle of slice 1 */
	for (int i = 0; i < 40; i++)
		cr_assert_eq(mdb_cursor_get(cur, &k, &d, i ? MDB_NEXT : MDB_FIRST), 0);
	cr_assert_eq(idx2_pkey_decode(k.mv_data, k.mv_size, &sid, &pv), 0);
	uint8_t sk[4];
	tv_put_be32(sk, sid);
	MDB_val K = { 4, sk }, D;
	cr_assert_eq(mdb_get(txn, x->db2_slices, &K, &D), 0);
	cr_assert_eq(idx2_slice_decode(D.mv_data, D.mv_size, &s), 0);
	cr_assert_eq(idx2_piter_init(&it, k.mv_data, k.mv_size, d.mv_data, d.mv_size, &s, NULL), 0);
	cr_assert_eq(idx2_piter_next(&it, &chunk, &blocks), 1);
	cr_assert_eq(mdb_cursor_del(cur, 0), 0);
	mdb_cursor_close(cur);
	wclose(x, txn);

	cr_assert_eq(verify(false, &m, &rep), 0, "the plain verify does not read postings");
	cr_assert_eq(verify(true, &m, &rep), TV_E_CORRUPT);
	dump(&m);
	snprintf(want, sizeof want, "chunk %llu: the index lacks the posting",
	         (unsigned long long)chunk);
	cr_assert(said(&m, want, "v2_post key "));
	cr_assert(said(&m, "running totals", NULL), "the totals count the lost key");
	cr_assert_geq(rep.index_bad, 2);
	cr_assert_eq(rep.chunks_bad, 0);
}

Test(verify2, extra_postings_are_found_by_deep, .init = vsetup, .fini = teardown, .timeout = 60)
{
	msgs m;
	idx_verify_report rep;
	MDB_txn *txn;
	idx2_pv pv;
	uint8_t kb[IDX2_OKEY_MAX], vb[IDX2_PVAL_MAX];
	size_t kn, vn;
	uint64_t c0 = chunks[0].rec.chunk_id, blocks = 1;
	char want[96];

	build(nchunks);
	idx *x = wopen(&txn);
	/* host 172.16.0.1 under slice 1, for its first chunk: no flow gives it */
	memset(&pv, 0, sizeof pv);
	pv.len = 16;
	pv.tv[0] = IDX2_PT_ADDR;
	pv.tv[11] = pv.tv[12] = 0xff;
	pv.tv[13] = 172;
	pv.tv[14] = 16;
	pv.tv[16] = 1;
	kn = idx2_pkey_encode(chunks[0].rec.slice ? chunks[0].rec.slice : 1, &pv, kb);
	vn = idx2_pval_encode(kb, kn, c0, &c0, &blocks, 1, vb);
	MDB_val K = { kn, kb }, D = { vn, vb };
	cr_assert_eq(mdb_put(txn, x->db2_post, &K, &D, 0), 0);
	/* an open-slice posting for a chunk the index does not have */
	kn = idx2_okey_encode(chunks[nchunks - 1].rec.chunk_id + 1000, &pv, kb);
	D.mv_size = idx2_oval_encode(kb, kn, 1, vb);
	K.mv_size = kn;
	cr_assert_eq(mdb_put(txn, x->db2_opost, &K, &D, 0), 0);
	wclose(x, txn);

	cr_assert_eq(verify(true, &m, &rep), TV_E_CORRUPT);
	dump(&m);
	snprintf(want, sizeof want, "chunk %llu: the index lists the posting host 172.16.0.1",
	         (unsigned long long)c0);
	cr_assert(said(&m, want, "none of its flows gives"));
	snprintf(want, sizeof want, "for chunk %llu in v2_opost",
	         (unsigned long long)(chunks[nchunks - 1].rec.chunk_id + 1000));
	cr_assert(said(&m, want, "points to nothing"));
	cr_assert_eq(rep.chunks_bad, 0);
}

Test(verify2, wrong_block_bits_are_found_by_deep, .init = vsetup, .fini = teardown,
     .timeout = 60)
{
	msgs m;
	idx_verify_report rep;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	uint64_t id, blocks;
	idx2_pv pv;
	uint8_t vb[IDX2_OVAL_MAX];
	char want[64];

	build(nchunks);
	idx *x = wopen(&txn);
	/* the open slice: change the bitmap of its first posting */
	cr_assert_eq(mdb_cursor_open(txn, x->db2_opost, &cur), 0);
	cr_assert_eq(mdb_cursor_get(cur, &k, &d, MDB_FIRST), 0);
	cr_assert_eq(idx2_okey_decode(k.mv_data, k.mv_size, &id, &pv), 0);
	cr_assert_eq(idx2_oval_decode(k.mv_data, k.mv_size, d.mv_data, d.mv_size, 0, &blocks), 0);
	MDB_val D = { 0, vb };
	D.mv_size = idx2_oval_encode(k.mv_data, k.mv_size, blocks ^ 1 ? blocks ^ 1 : 2, vb);
	cr_assert_eq(mdb_cursor_put(cur, &k, &D, MDB_CURRENT), 0);
	mdb_cursor_close(cur);
	wclose(x, txn);

	cr_assert_eq(verify(true, &m, &rep), TV_E_CORRUPT);
	dump(&m);
	snprintf(want, sizeof want, "chunk %llu: the posting ", (unsigned long long)id);
	cr_assert(said(&m, want, "v2_opost key "));
	cr_assert_eq(rep.index_bad, 1);
}

Test(verify2, a_chunk_record_that_disagrees_is_named, .init = vsetup, .fini = teardown,
     .timeout = 60)
{
	msgs m;
	idx_verify_report rep;
	MDB_txn *txn;
	idx2_chunk c = chunks[3].rec;
	uint8_t kb[8], vb[IDX2_CHUNK_MAX];
	char want[64];

	build(nchunks);
	idx *x = wopen(&txn);
	tv_put_be64(kb, c.chunk_id);
	MDB_val K = { 8, kb }, D;
	cr_assert_eq(mdb_get(txn, x->db2_chunks, &K, &D), 0);
	cr_assert_eq(idx2_chunk_decode(D.mv_data, D.mv_size, c.chunk_id, &c), 0);
	c.npkts++;
	D.mv_size = idx2_chunk_encode(&c, vb);
	D.mv_data = vb;
	cr_assert_eq(mdb_put(txn, x->db2_chunks, &K, &D, 0), 0);
	wclose(x, txn);

	cr_assert_eq(verify(false, &m, &rep), TV_E_CORRUPT);
	dump(&m);
	snprintf(want, sizeof want, "chunk %llu:", (unsigned long long)c.chunk_id);
	cr_assert(said(&m, want, "disagrees with the index"));
	cr_assert_eq(rep.chunks_bad, 1);
	/* deep also finds the packet total off by the one */
	cr_assert_eq(verify(true, &m, &rep), TV_E_CORRUPT);
	cr_assert(said(&m, "running totals", NULL));
}

struct scan_seen {
	size_t n;
	uint64_t ids[8];
	bool decoded;
};

static int scan_cb(void *ctx, const store_chunk_meta *meta, const uint8_t *chunk, size_t len)
{
	struct scan_seen *s = ctx;
	const store_chunk *c = store_segs_scan_chunk(synth_segs);
	(void)chunk;
	s->decoded = c && store_chunk_count(c) == meta->npkts && len == meta->length;
	if (s->n < 8)
		s->ids[s->n] = meta->chunk_id;
	s->n++;
	return 0;
}

Test(verify2, chunks_past_the_index_and_a_torn_tail_are_found_and_cut, .init = vsetup,
     .fini = teardown, .timeout = 60)
{
	msgs m;
	idx_verify_report rep;
	store_segs_cfg cfg;
	uint64_t valid, torn, end;
	struct scan_seen seen;
	const schunk *last = &chunks[nchunks - 1];
	char p[128];

	build(nchunks - 1); /* the last chunk is written, not indexed */
	seg_path(1, p, sizeof p);
	int fd = open(p, O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, last->bytes, 300), 300); /* a torn chunk after it */
	close(fd);
	end = last->rec.offset + last->len;

	cr_assert_eq(verify(false, &m, &rep), TV_E_CORRUPT);
	dump(&m);
	cr_assert_eq(rep.unindexed_bytes, last->len);
	cr_assert_eq(rep.torn_bytes, 300);
	cr_assert(said(&m, "whole chunks", "not in the index"));
	cr_assert(said(&m, "300 bytes after offset", "no whole chunk"));

	/* recovery's scan: the unindexed chunk decoded, the torn one cut */
	store_segs_cfg_default(&cfg);
	cfg.writable = true;
	cfg.version = STORE_FORMAT_VERSION;
	cr_assert_eq(store_segs_open(store_dir, synth_uuid, &cfg, &synth_segs), 0);
	memset(&seen, 0, sizeof seen);
	cr_assert_eq(store_segs_scan(synth_segs, 1, last->rec.offset, scan_cb, &seen, &valid, &torn),
	             0);
	cr_assert_eq(seen.n, 1);
	cr_assert_eq(seen.ids[0], last->rec.chunk_id);
	cr_assert(seen.decoded);
	cr_assert_eq(valid, end);
	cr_assert_eq(torn, 300);
	cr_assert_eq(store_segs_truncate(synth_segs, 1, valid), 0);
	idx *x = open_store();
	commit_range(x, nchunks - 1, nchunks);
	idx_close(x);
	store_segs_close(synth_segs);
	synth_segs = NULL;

	cr_assert_eq(verify(true, &m, &rep), 0);
	cr_assert_eq(m.n, 0);
	cr_assert_eq(rep.chunks_ok, nchunks);
}

/* Writes segment `seg` of the store as a copy of segment 1's header with
 * the given version and number (and no chunk). */
static void fake_segment(uint32_t seg, uint16_t version)
{
	char p[128];
	uint8_t h[STORE_SEG_HDR_LEN];
	seg_path(1, p, sizeof p);
	int fd = open(p, O_RDONLY);
	cr_assert_eq(pread(fd, h, sizeof h, 0), (ssize_t)sizeof h);
	close(fd);
	cr_assert_eq(tv_get_le16(h + 8), 3, "a format-3 store's segment says version 3");
	tv_put_le16(h + 8, version);
	tv_put_le32(h + 12, seg);
	seg_path(seg, p, sizeof p);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, h, sizeof h), (ssize_t)sizeof h);
	close(fd);
}

Test(verify2, an_older_segment_in_a_version3_store_is_refused_and_named, .init = vsetup,
     .fini = teardown, .timeout = 60)
{
	idx_rstore rs;
	store_segs_cfg cfg;
	store_segs *s;
	char why[600];
	uint64_t valid, torn;
	build(nchunks);
	fake_segment(2, 2);
	cr_assert_eq(idx_rstore_open(store_dir, &rs), TV_E_VERSION);
	store_segs_cfg_default(&cfg);
	cfg.writable = true;
	cr_assert_eq(store_segs_open(store_dir, synth_uuid, &cfg, &s), TV_E_VERSION);
	cr_assert_eq(store_segs_diagnose(store_dir, NULL, why, sizeof why), 1);
	cr_assert(strstr(why, "seg-0000000002.tvs: offset 8: segment format version 2 is no longer "
	                      "supported (this tapvault reads format 3)"), "%s", why);
	cr_assert(strstr(why, "move it out of"), "%s", why);
	/* not the newest: refused at its first read */
	fake_segment(3, STORE_FORMAT_VERSION);
	cfg.writable = false;
	cr_assert_eq(store_segs_open(store_dir, synth_uuid, &cfg, &s), 0);
	cr_assert_eq(store_segs_scan(s, 1, 0, NULL, NULL, &valid, &torn), 0);
	cr_assert_eq(store_segs_scan(s, 2, 0, NULL, NULL, &valid, &torn), TV_E_VERSION);
	store_segs_close(s);
	/* no handle of another version */
	for (uint16_t v = 1; v <= 4; v += v == 2 ? 2 : 1) {
		cfg.version = v;
		cr_assert_eq(store_segs_open(store_dir, synth_uuid, &cfg, &s), TV_E_RANGE, "%u", v);
	}
}

Test(verify2, recovery_indexes_whole_chunks_past_the_index_and_cuts_the_torn_tail,
     .init = vsetup, .fini = teardown, .timeout = 60)
{
	msgs m;
	idx_verify_report rep;
	idx_recovery rec;
	store_segs_cfg cfg;
	uint64_t next = 0, pkts = 0, size;
	const size_t lost = 3;
	const schunk *last = &chunks[nchunks - 1];
	char p[128];

	build(nchunks - lost); /* a crash after the segment write, before the commit */
	for (size_t i = nchunks - lost; i < nchunks; i++)
		pkts += chunks[i].rec.npkts;
	seg_path(1, p, sizeof p);
	int fd = open(p, O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, last->bytes, 700), 700); /* and a torn chunk after them */
	close(fd);

	store_segs_cfg_default(&cfg);
	cfg.writable = true;
	cfg.version = STORE_FORMAT_VERSION;
	cr_assert_eq(store_segs_open(store_dir, synth_uuid, &cfg, &synth_segs), 0);
	idx *x = open_store();
	memset(&rec, 0, sizeof rec);
	cr_assert_eq(idx_recover2(x, synth_segs, &rec, &next), 0);
	cr_assert_eq(rec.chunks_indexed, lost);
	cr_assert_eq(rec.packets_indexed, pkts);
	cr_assert_eq(rec.torn_bytes, 700);
	cr_assert_eq(rec.torn_segment, 1);
	cr_assert_eq(rec.torn_offset, last->rec.offset + last->len);
	cr_assert_eq(next, last->rec.chunk_id + 1);
	cr_assert_eq(store_segs_size(synth_segs, 1, &size), 0);
	cr_assert_eq(size, last->rec.offset + last->len);
	/* a second run finds nothing more to do */
	memset(&rec, 0, sizeof rec);
	cr_assert_eq(idx_recover2(x, synth_segs, &rec, &next), 0);
	cr_assert_eq(rec.chunks_indexed + rec.torn_bytes, 0);
	idx_close(x);
	store_segs_close(synth_segs);
	synth_segs = NULL;

	/* what recovery posted from the decoded blocks is what the packer's
	 * flows gave at ingest, and what deep derives */
	int rc = verify(true, &m, &rep);
	if (rc)
		dump(&m);
	cr_assert_eq(rc, 0);
	cr_assert_eq(rep.chunks_ok, nchunks);
	cr_assert_eq(rep.packets, NP);
}

Test(verify2, recovery_stops_at_a_damaged_chunk_and_cuts_from_there, .init = vsetup,
     .fini = teardown, .timeout = 60)
{
	idx_recovery rec;
	store_segs_cfg cfg;
	uint64_t next = 0;
	const schunk *a = &chunks[nchunks - 2], *b = &chunks[nchunks - 1];

	build(nchunks - 2);
	/* the first unindexed chunk has a flipped byte in a block: it and all
	 * after it are a torn tail, as in version 1 */
	flip(a->rec.offset + STORE_V2_HDR_LEN + a->rec.blocks[0].offset + 40);
	store_segs_cfg_default(&cfg);
	cfg.writable = true;
	cfg.version = STORE_FORMAT_VERSION;
	cr_assert_eq(store_segs_open(store_dir, synth_uuid, &cfg, &synth_segs), 0);
	idx *x = open_store();
	memset(&rec, 0, sizeof rec);
	cr_assert_eq(idx_recover2(x, synth_segs, &rec, &next), 0);
	cr_assert_eq(rec.chunks_indexed, 0);
	cr_assert_eq(rec.torn_bytes, a->len + b->len);
	cr_assert_eq(rec.torn_offset, a->rec.offset);
	cr_assert_eq(next, a->rec.chunk_id);
	idx_close(x);
}

/* A block of VPC flow records that does not decode is named by --deep;
 * the records written by idx_flows_put beside it are not reported. */
Test(verify2, a_corrupt_flow_record_block_is_found_by_deep, .init = vsetup, .fini = teardown,
     .timeout = 60)
{
	msgs m;
	idx_verify_report rep;
	MDB_txn *txn;
	tv_flowrec r;
	uint8_t kb[12], junk[40];

	build(nchunks);
	idx *x = open_store();
	memset(&r, 0, sizeof r);
	r.window = 1700000000u / 600 * 600;
	r.start = r.window;
	r.end = r.window + 1;
	r.packets = 1;
	r.bytes = 60;
	r.key.proto = 6;
	r.ipver = 4;
	r.vni = 1;
	cr_assert_eq(idx_flows_put(x, &r, 1), 0);
	idx_close(x);
	cr_assert_eq(verify(true, &m, &rep), 0, "a sound flow-record block is reported");

	x = wopen(&txn);
	tv_put_be32(kb, r.window + 600);
	tv_put_be64(kb + 4, 99);
	memset(junk, 0xa5, sizeof junk);
	MDB_val K = { sizeof kb, kb }, D = { sizeof junk, junk };
	cr_assert_eq(mdb_put(txn, x->db2_flows, &K, &D, 0), 0);
	wclose(x, txn);
	cr_assert_eq(verify(false, &m, &rep), 0, "the plain verify does not read flow records");
	cr_assert_eq(verify(true, &m, &rep), TV_E_CORRUPT);
	dump(&m);
	cr_assert(said(&m, "v2_flows: flow-record block", "seq 99"));
}
