/*
 * test_read2.c — idx_read2 on real segments: chunks from store_packer,
 * appended with store_segs, indexed with idx_commit2; every query's
 * packets must equal a brute force over the synthetic input, in time
 * order (capture order for equal times), byte for byte, whatever the block
 * cache's budget; a query reads only the tails of the flows it returns.
 */
#include "index2_synth.h"

#include <inttypes.h>

static void rsetup(void)
{
	synth_real_segs = true;
	setup();
}

typedef struct got {
	size_t n, cap;
	uint64_t *ts;
	uint8_t **frames;
	uint32_t *caplen;
	bool bad_info;
} got;

static int collect(void *ctx, const idx2_pkt *p)
{
	got *g = ctx;
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 1024;
		g->ts = realloc(g->ts, g->cap * sizeof *g->ts);
		g->frames = realloc(g->frames, g->cap * sizeof *g->frames);
		g->caplen = realloc(g->caplen, g->cap * sizeof *g->caplen);
	}
	g->ts[g->n] = p->ts_ns;
	g->caplen[g->n] = p->caplen;
	g->frames[g->n] = malloc(p->caplen);
	memcpy(g->frames[g->n], p->frame, p->caplen);
	if (p->info->l3 != 4)
		g->bad_info = true;
	g->n++;
	return 0;
}

static void got_free(got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->frames[i]);
	free(g->frames);
	free(g->ts);
	free(g->caplen);
	memset(g, 0, sizeof *g);
}

static bool v4is(const uint8_t *a, uint8_t d) { return a[0] == 192 && a[1] == 168 && a[2] == 0 && a[3] == d; }

static bool r_host_port(const sflow *s, uint64_t ts)
{
	(void)ts;
	return (v4is(s->src, 2) || v4is(s->dst, 2)) && s->ports &&
	       (s->sport == 443 || s->dport == 443);
}
static bool r_or_after(const sflow *s, uint64_t ts)
{
	return (s->src[2] == 1 && s->src[3] == 2) ||
	       (s->vni == 102 && ts >= 1700000006000000000ull);
}
static bool r_not_tcp_window(const sflow *s, uint64_t ts)
{
	return s->proto != 6 && ts >= 1700000003000000000ull && ts < 1700000004000000000ull;
}
static bool r_all(const sflow *s, uint64_t ts) { (void)s; (void)ts; return true; }
static bool r_none(const sflow *s, uint64_t ts) { (void)s; (void)ts; return false; }

static const struct {
	const char *text;
	bool (*match)(const sflow *s, uint64_t ts);
} rq[] = {
	{ "host 192.168.0.2 and port 443", r_host_port },
	{ "host 10.0.1.2 or (vni 102 and after 1700000006)", r_or_after },
	{ "not tcp and after 1700000003 and before 1700000004", r_not_tcp_window },
	{ "", r_all },
	{ "host 172.16.0.1", r_none },
};

/* Input packets in (ts, arrival) order: chunks hold runs of arrivals and
 * seq is the arrival position inside a chunk, so this is the order the
 * store promises. */
static size_t *by_time;
static int by_time_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (spkts[x].ts != spkts[y].ts)
		return spkts[x].ts < spkts[y].ts ? -1 : 1;
	return x < y ? -1 : x > y;
}

static void check_queries(idx *x, uint64_t budget, idx2_read_stats *sum)
{
	for (size_t q = 0; q < sizeof rq / sizeof rq[0]; q++) {
		idx_expr *e;
		idx_expr_err err;
		idx2_read_stats st;
		idx2_plan_stats pst;
		got g;
		size_t k = 0;
		char where[128];
		memset(&g, 0, sizeof g);
		cr_assert_eq(idx_expr_parse(rq[q].text, 0, &e, &err), 0);
		cr_assert_eq(idx_read2(x, synth_segs, e, budget, collect, &g, &st, &pst, where,
		                       sizeof where), 0, "%s", rq[q].text);
		for (size_t i = 0; i < NP; i++) {
			const spkt *p = &spkts[by_time[i]];
			if (!rq[q].match(&flows[p->flow], p->ts))
				continue;
			cr_assert_lt(k, g.n, "%s: only %zu packets returned", rq[q].text, g.n);
			cr_assert_eq(g.ts[k], p->ts, "%s: packet %zu", rq[q].text, k);
			cr_assert_eq(g.caplen[k], p->caplen);
			cr_assert_eq(memcmp(g.frames[k], p->frame, p->caplen), 0, "%s: packet %zu",
			             rq[q].text, k);
			k++;
		}
		cr_assert_eq(g.n, k, "%s: %zu packets returned, brute force %zu", rq[q].text, g.n, k);
		cr_assert(!g.bad_info);
		cr_assert_eq(st.matched, k);
		cr_assert_geq(st.pkts_scanned, k);
		cr_assert_geq(st.blocks_read, pst.blocks_planned == 0 ? 0 : 1);
		if (budget == 0)
			cr_assert_eq(st.blocks_read, pst.blocks_planned, "%s", rq[q].text);
		sum->blocks_read += st.blocks_read;
		sum->redecodes += st.redecodes;
		sum->bytes_decoded += st.bytes_decoded;
		got_free(&g);
		idx_expr_free(e);
	}
}

Test(index2_read, packets_equal_brute_force_in_time_order, .init = rsetup, .fini = teardown,
     .timeout = 120)
{
	idx *x = open_store();
	idx2_read_stats a, b;

	commit_range(x, 0, nchunks);
	by_time = malloc(NP * sizeof *by_time);
	for (size_t i = 0; i < NP; i++)
		by_time[i] = i;
	qsort(by_time, NP, sizeof *by_time, by_time_cmp);

	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	check_queries(x, 0, &a);
	cr_assert_eq(a.redecodes, 0, "the default budget holds every block here");
	/* a budget of one block: the same answers, blocks decoded again */
	check_queries(x, 1, &b);
	cr_assert_gt(b.redecodes, 0);
	cr_assert_gt(b.blocks_read, a.blocks_read);
	free(by_time);
	idx_close(x);
}

Test(index2_read, a_host_query_reads_only_its_blocks, .init = rsetup, .fini = teardown,
     .timeout = 120)
{
	idx *x = open_store();
	idx_expr *e;
	idx_expr_err err;
	idx2_read_stats st;
	idx2_plan_stats pst;
	uint64_t total_blocks = 0;

	commit_range(x, 0, nchunks);
	for (size_t i = 0; i < nchunks; i++)
		total_blocks += chunks[i].rec.nblocks;
	/* 10.0.5.4 is the source of flow 103 alone, a quiet flow */
	cr_assert_eq(idx_expr_parse("host 10.0.5.4", 0, &e, &err), 0);
	cr_assert_eq(idx_read2(x, synth_segs, e, 0, NULL, NULL, &st, &pst, NULL, 0), 0);
	cr_assert_gt(st.matched, 0);
	cr_assert_eq(st.pkts_scanned, st.matched, "one flow, no other flow's records scanned");
	cr_assert_leq(st.blocks_read, st.matched, "every block read holds one of its packets");
	cr_assert_lt(st.blocks_read * 5, total_blocks, "%" PRIu64 " of %" PRIu64 " blocks",
	             st.blocks_read, total_blocks);
	idx_expr_free(e);
	idx_close(x);
}

/* A block leaves the cache once its last matching record is handed out:
 * however large the budget, a read of every packet holds about one
 * chunk's blocks at a time, not the whole store (the pages a query
 * touches follow what it still needs). */
Test(index2_read, a_drained_block_leaves_the_cache, .init = rsetup, .fini = teardown,
     .timeout = 120)
{
	idx *x = open_store();
	idx2_read_stats st;
	uint64_t total = 0, biggest = 0;

	commit_range(x, 0, nchunks);
	for (size_t i = 0; i < nchunks; i++) {
		uint64_t sum = 0;
		for (uint16_t k = 0; k < chunks[i].rec.nblocks; k++)
			sum += (uint64_t)chunks[i].rec.blocks[k].len + chunks[i].rec.blocks[k].a_raw;
		total += sum;
		biggest = sum > biggest ? sum : biggest;
	}
	cr_assert_gt(nchunks, 4);
	cr_assert_eq(idx_read2(x, synth_segs, NULL, (uint64_t)1 << 40, NULL, NULL, &st, NULL, NULL, 0),
	             0);
	cr_assert_eq(st.matched, NP);
	cr_assert_eq(st.redecodes, 0);
	cr_assert_gt(st.cache_peak, 0);
	cr_assert_leq(st.cache_peak, 2 * biggest,
	              "%" PRIu64 " bytes held at once; the largest chunk's blocks %" PRIu64
	              ", all %" PRIu64, st.cache_peak, biggest, total);
	idx_close(x);
}

/* "host A and host B and port P and port Q" of a flow directory key. */
static void flow_expr(const uint8_t *key, char *out, size_t cap)
{
	snprintf(out, cap, "host %u.%u.%u.%u and host %u.%u.%u.%u and port %u and port %u", key[12],
	         key[13], key[14], key[15], key[28], key[29], key[30], key[31],
	         (unsigned)(key[32] << 8 | key[33]), (unsigned)(key[34] << 8 | key[35]));
}

static const schunk *chunk_by_id(uint64_t id)
{
	for (size_t i = 0; i < nchunks; i++)
		if (chunks[i].rec.chunk_id == id)
			return &chunks[i];
	cr_assert_fail("no chunk %" PRIu64, id);
	return NULL;
}

/* A query reads a block's header and section A, then only the tails of
 * the flows it returns: for each flow with tails, the bytes read are at
 * most the planned blocks' 32 + a_comp plus the frames returned, less
 * than the planned blocks whole. */
Test(index2_read, a_query_reads_only_the_tails_it_returns, .init = rsetup, .fini = teardown,
     .timeout = 120)
{
	idx *x = open_store();
	store_block *b;
	size_t tried = 0;

	commit_range(x, 0, nchunks);
	cr_assert_eq(store_block_new(&b), 0);
	for (size_t ci = 0; ci < nchunks && tried < 20; ci++) {
		const schunk *c = &chunks[ci];
		for (uint16_t k = 0; k < c->rec.nblocks && tried < 20; k++) {
			const store_blkref *ref = &c->rec.blocks[k];
			cr_assert_eq(store_block_decode(b, c->bytes + 128 + ref->offset, ref->len, NULL, ref), 0);
			for (uint32_t f = 0; f < store_block_nflows(b) && tried < 20; f++) {
				const store_bflow *fl = store_block_flow(b, f);
				idx_expr *e;
				idx_expr_err err;
				idx2_read_stats st;
				idx2_hit *hits;
				size_t nh;
				got g;
				uint64_t head = 0, whole = 0, returned = 0;
				char text[160];
				if (fl->tail_len == 0 || fl->key[37] != 4 || !(fl->key[38] & 1))
					continue;
				flow_expr(fl->key, text, sizeof text);
				cr_assert_eq(idx_expr_parse(text, 0, &e, &err), 0, "%s", text);
				cr_assert_eq(idx_plan2(x, e, &hits, &nh, NULL, NULL, 0), 0);
				for (size_t h = 0; h < nh; h++) {
					const schunk *hc = chunk_by_id(hits[h].chunk_id);
					for (uint16_t j = 0; j < hc->rec.nblocks; j++)
						if (hits[h].blocks >> j & 1) {
							head += STORE_V2_BLK_HDR_LEN + hc->rec.blocks[j].a_comp;
							whole += hc->rec.blocks[j].len;
						}
				}
				free(hits);
				memset(&g, 0, sizeof g);
				cr_assert_eq(idx_read2(x, synth_segs, e, 0, collect, &g, &st, NULL, NULL, 0), 0);
				for (size_t i = 0; i < g.n; i++)
					returned += g.caplen[i];
				cr_assert_gt(g.n, 0, "%s", text);
				cr_assert_gt(st.bytes_read, head, "%s: its tails were read", text);
				cr_assert_leq(st.bytes_read, head + returned, "%s", text);
				if (head + returned < whole)
					tried++;
				cr_assert_lt(st.bytes_read, whole, "%s: other flows' tails were read", text);
				got_free(&g);
				idx_expr_free(e);
			}
		}
	}
	cr_assert_geq(tried, 5, "flows with tails beside others' tails");
	store_block_free(b);
	idx_close(x);
}

/* Each flow's tails are under a CRC of their own: a changed byte in one
 * flow's tails fails a query that returns that flow (naming the block),
 * and not a query of another flow of the same block, which never reads
 * it. */
Test(index2_read, a_damaged_tail_fails_only_its_own_flow, .init = rsetup, .fini = teardown,
     .timeout = 120)
{
	idx *x = open_store();
	store_block *b;
	const store_bflow *bad = NULL, *other = NULL;
	const schunk *c = NULL;
	uint16_t k = 0;
	char tbad[160], tother[160], where[256], path[512];
	idx_expr *e;
	idx_expr_err err;
	got g;
	uint8_t byte;
	int fd;

	commit_range(x, 0, nchunks);
	cr_assert_eq(store_block_new(&b), 0);
	/* a block with a flow with tails and a flow between two other hosts */
	for (size_t ci = 0; ci < nchunks && !other; ci++) {
		c = &chunks[ci];
		for (k = 0; k < c->rec.nblocks && !other; k++) {
			const store_blkref *ref = &c->rec.blocks[k];
			cr_assert_eq(store_block_decode(b, c->bytes + 128 + ref->offset, ref->len, NULL, ref), 0);
			bad = other = NULL;
			for (uint32_t f = 0; f < store_block_nflows(b); f++) {
				const store_bflow *fl = store_block_flow(b, f);
				if (fl->key[37] != 4 || !(fl->key[38] & 1))
					continue;
				if (!bad && fl->tail_len > 0)
					bad = fl;
				else if (bad && memcmp(fl->key + 12, bad->key + 12, 4) != 0 &&
				         memcmp(fl->key + 12, bad->key + 28, 4) != 0 &&
				         memcmp(fl->key + 28, bad->key + 12, 4) != 0 &&
				         memcmp(fl->key + 28, bad->key + 28, 4) != 0)
					other = fl;
			}
		}
	}
	cr_assert_not_null(other, "no block with two such flows");
	k--;
	flow_expr(bad->key, tbad, sizeof tbad);
	flow_expr(other->key, tother, sizeof tother);

	/* one byte in the middle of its tails, in the segment file */
	snprintf(path, sizeof path, "%s/segments/seg-%010u.tvs", store_dir, c->rec.segment);
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	off_t at = (off_t)(c->rec.offset + 128 + c->rec.blocks[k].offset + STORE_V2_BLK_HDR_LEN +
	                   c->rec.blocks[k].a_comp + bad->tail_off + bad->tail_len / 2);
	cr_assert_eq(pread(fd, &byte, 1, at), 1);
	byte ^= 0x40;
	cr_assert_eq(pwrite(fd, &byte, 1, at), 1);
	close(fd);

	cr_assert_eq(idx_expr_parse(tbad, 0, &e, &err), 0);
	memset(&g, 0, sizeof g);
	cr_assert_eq(idx_read2(x, synth_segs, e, 0, collect, &g, NULL, NULL, where, sizeof where),
	             TV_E_CORRUPT, "%s", tbad);
	char want[64];
	snprintf(want, sizeof want, "(chunk %" PRIu64 ", block %u)", c->rec.chunk_id, k);
	cr_assert(strstr(where, want), "%s", where);
	got_free(&g);
	idx_expr_free(e);

	cr_assert_eq(idx_expr_parse(tother, 0, &e, &err), 0);
	memset(&g, 0, sizeof g);
	cr_assert_eq(idx_read2(x, synth_segs, e, 0, collect, &g, NULL, NULL, where, sizeof where), 0,
	             "%s: %s", tother, where);
	cr_assert_gt(g.n, 0);
	got_free(&g);
	idx_expr_free(e);
	store_block_free(b);
	idx_close(x);
}

/* A record whose crc holds but whose sizes pass the format's maxima is
 * corrupt: a reader would allocate what it says (up to 4 GiB a block). */
Test(index2_read, a_chunk_record_beyond_the_format_maxima_is_corrupt, .init = rsetup,
     .fini = teardown)
{
	uint8_t buf[IDX2_CHUNK_MAX];
	idx2_chunk r = chunks[0].rec, dec;
	size_t n;
	uint16_t last = (uint16_t)(r.nblocks - 1);

	n = idx2_chunk_encode(&r, buf);
	cr_assert_eq(idx2_chunk_decode(buf, n, r.chunk_id, &dec), 0, "the unchanged record");

	/* the last block as long as a u32 allows, the chunk with it */
	r = chunks[0].rec;
	r.blocks[last].len = UINT32_MAX - 4096 - r.blocks[last].offset;
	r.length = STORE_V2_HDR_LEN + r.blocks[last].offset + r.blocks[last].len;
	n = idx2_chunk_encode(&r, buf);
	cr_assert_eq(idx2_chunk_decode(buf, n, r.chunk_id, &dec), TV_E_CORRUPT);

	/* a block just over the largest a block can be, the body still legal */
	r = chunks[0].rec;
	r.blocks[last].len = (uint32_t)STORE_V2_MAX_BLOCK_LEN + 1;
	r.length = STORE_V2_HDR_LEN + r.blocks[last].offset + r.blocks[last].len;
	cr_assert_leq((uint64_t)r.length - STORE_V2_HDR_LEN, STORE_V2_MAX_BODY);
	n = idx2_chunk_encode(&r, buf);
	cr_assert_eq(idx2_chunk_decode(buf, n, r.chunk_id, &dec), TV_E_CORRUPT);
	r.blocks[last].len--;
	r.length--;
	n = idx2_chunk_encode(&r, buf);
	cr_assert_eq(idx2_chunk_decode(buf, n, r.chunk_id, &dec), 0, "the largest block is legal");

	/* section A past its maximum (the block cache charges it) */
	r = chunks[0].rec;
	r.blocks[0].a_raw = STORE_V2_MAX_A_RAW + 1;
	n = idx2_chunk_encode(&r, buf);
	cr_assert_eq(idx2_chunk_decode(buf, n, r.chunk_id, &dec), TV_E_CORRUPT);

	/* more records in a block than in the chunk; more frame bytes than a chunk holds */
	r = chunks[0].rec;
	r.blocks[0].nrec = r.npkts + 1;
	n = idx2_chunk_encode(&r, buf);
	cr_assert_eq(idx2_chunk_decode(buf, n, r.chunk_id, &dec), TV_E_CORRUPT);
	r = chunks[0].rec;
	r.raw_len = STORE_MAX_RAW + 1;
	n = idx2_chunk_encode(&r, buf);
	cr_assert_eq(idx2_chunk_decode(buf, n, r.chunk_id, &dec), TV_E_CORRUPT);
}
