/*
 * query.c — reading stores: each store's idx2_cursor (planned blocks,
 * exact matching, its chunks merged by time) holds one place in a heap
 * that merges the stores by time (verify.c checks a store against its
 * index).
 */
#include "vault.h"
#include "idx_int.h"
#include "idx2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int idx_rstore_open(const char *dir, idx_rstore *rs)
{
	idx_cfg icfg;
	store_segs_cfg scfg;
	uint8_t uuid[16];
	int rc;

	memset(rs, 0, sizeof *rs);
	idx_cfg_default(&icfg);
	icfg.writable = false;
	rc = idx_open(dir, &icfg, &rs->x);
	if (rc)
		return rc;
	idx_store_uuid(rs->x, uuid);
	store_segs_cfg_default(&scfg);
	scfg.writable = false;
	rc = store_segs_open(dir, uuid, &scfg, &rs->segs);
	if (rc) {
		idx_close(rs->x);
		rs->x = NULL;
		return rc;
	}
	rs->dir = strdup(dir);
	if (!rs->dir) {
		idx_rstore_close(rs);
		return TV_E_NOMEM;
	}
	return 0;
}

/* Whether a whole chunk starts at (segment, offset): a header that passes
 * its checks (CRC included) and a file long enough to hold the chunk. */
static bool chunk_at(store_segs *segs, uint32_t segment, uint64_t offset, uint64_t size)
{
	uint8_t h2[STORE_V2_HDR_LEN];
	store_hdr h;
	if (offset + STORE_V2_HDR_LEN > size ||
	    store_segs_read(segs, segment, offset, STORE_V2_HDR_LEN, h2) != 0 ||
	    store_hdr_parse(h2, sizeof h2, &h) != 0)
		return false;
	return offset + STORE_V2_HDR_LEN + h.body_len <= size;
}

int idx_rstore_coverage(idx_rstore *rs, idx_coverage *cov)
{
	uint32_t *ids = NULL;
	size_t n = 0, i;
	int rc;

	memset(cov, 0, sizeof *cov);
	cov->writer = idx_store_writer_active(rs->dir);
	if ((rc = store_segs_list(rs->segs, &ids, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		uint64_t size = 0, end = 0;
		bool known = false;
		/* a running writer's newest segment may hold a chunk written
		 * and not yet committed (the commit follows its fdatasync) */
		if (cov->writer && i + 1 == n)
			break;
		if (store_segs_size(rs->segs, ids[i], &size) != 0 || size <= STORE_SEG_HDR_LEN)
			continue;
		if ((rc = idx2_segment_known(rs->x, ids[i], &known)) != 0)
			break;
		if (!known) {
			end = STORE_SEG_HDR_LEN;
		} else if (i + 1 == n) {
			/* older segments were complete when the next began; a gap
			 * inside them is damage, which verify reads every chunk for */
			if ((rc = idx2_segment_end(rs->x, ids[i], &end)) != 0)
				break;
		} else {
			continue;
		}
		/* only whole chunks hide packets; a torn tail holds none (the
		 * next ingest cuts it) */
		if (size <= end || !chunk_at(rs->segs, ids[i], end, size))
			continue;
		if (!cov->unindexed_bytes) {
			cov->segment = ids[i];
			cov->offset = end;
		}
		if (!known)
			cov->segments_unindexed++;
		cov->unindexed_bytes += size - end;
	}
	free(ids);
	return rc;
}

int idx_coverage_note(const char *dir, const idx_coverage *cov, char *buf, size_t cap)
{
	if (cap)
		buf[0] = '\0';
	if (!cov->unindexed_bytes)
		return 0;
	snprintf(buf, cap,
	         "%s: the index covers less than the segments: chunks in %llu bytes (%u segment "
	         "file(s) the index names no chunk of; from segment %u offset %llu on) are not "
	         "indexed, and this answer leaves out their packets (an interrupted ingest or "
	         "reindex: the next ingest, or 'tapvault reindex -s %s', indexes them)",
	         dir, (unsigned long long)cov->unindexed_bytes, cov->segments_unindexed, cov->segment,
	         (unsigned long long)cov->offset, dir);
	return 1;
}

void idx_rstore_close(idx_rstore *rs)
{
	if (!rs)
		return;
	store_segs_close(rs->segs);
	idx_close(rs->x);
	free(rs->dir);
	memset(rs, 0, sizeof *rs);
}

/* A store's cursor and the packet it hands out next. */
struct qcur {
	idx2_cursor *cur;
	store_chunk_meta meta; /* the chunk of the packet in rec */
	int store;
	store_rec rec;
	tv_l3info info;
};

/* Takes a store's next packet into c (*more false at the end).  The
 * cursor matched it already. */
static int qcur_next(struct qcur *c, bool *more, const char *dir, char *err, size_t cap)
{
	const idx2_pkt *p;
	int rc = idx2_cursor_next(c->cur, &p);
	*more = false;
	if (rc) {
		snprintf(err, cap, "%s: %s: %s", dir, idx2_cursor_where(c->cur), tv_strerror(rc));
		return rc;
	}
	if (!p)
		return 0;
	c->rec.ts_ns = p->ts_ns;
	c->rec.caplen = p->caplen;
	c->rec.origlen = p->origlen;
	c->rec.flags = p->flags;
	c->rec.tun = p->tun;
	c->rec.frame = p->frame;
	c->info = *p->info;
	if (c->meta.chunk_id != p->chunk->chunk_id || c->meta.length == 0)
		idx2_chunk_meta(p->chunk, &c->meta);
	*more = true;
	return 0;
}

/* (ts, store): each cursor hands out its store in (ts, chunk id, seq). */
static bool qcur_less(const struct qcur *a, const struct qcur *b)
{
	if (a->rec.ts_ns != b->rec.ts_ns)
		return a->rec.ts_ns < b->rec.ts_ns;
	return a->store < b->store;
}

static void heap_push(struct qcur **h, size_t *n, struct qcur *c)
{
	size_t i = (*n)++;
	h[i] = c;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!qcur_less(h[i], h[p]))
			break;
		struct qcur *t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

static struct qcur *heap_pop(struct qcur **h, size_t *n)
{
	struct qcur *top = h[0];
	size_t i = 0;
	h[0] = h[--(*n)];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < *n && qcur_less(h[l], h[m]))
			m = l;
		if (r < *n && qcur_less(h[r], h[m]))
			m = r;
		if (m == i)
			break;
		struct qcur *t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
	return top;
}

/* One cursor per store, their block caches sharing one budget, each
 * holding its first packet in the heap. */
static int open_cursors(idx_rstore *stores, int nstores, const idx_expr *e, bool verify_hash,
                        struct qcur *cs, idx2_read_stats *r2, struct qcur **heap, size_t *nheap,
                        idx_query_stats *st, char *err, size_t cap)
{
	int s, rc;
	for (s = 0; s < nstores; s++) {
		struct qcur *c = &cs[s];
		idx2_plan_stats ps;
		idx2_tot tot;
		char where[256];
		bool more;
		c->store = s;
		rc = idx2_cursor_open(stores[s].x, stores[s].segs, e,
		                      IDX2_CACHE_DEFAULT / (uint64_t)nstores,
		                      verify_hash ? IDX2_READ_VERIFY : 0, &r2[s], &ps, where, sizeof where,
		                      &c->cur);
		if (rc) {
			snprintf(err, cap, "%s: planning the query failed: %s%s%s", stores[s].dir,
			         tv_strerror(rc), where[0] ? ": " : "", where);
			return rc;
		}
		if ((rc = idx2_tot_get(stores[s].x, &tot)) != 0) {
			snprintf(err, cap, "%s: reading the index totals failed: %s", stores[s].dir,
			         tv_strerror(rc));
			return rc;
		}
		st->plan.keys_read += ps.keys_read;
		st->plan.chunks_total += tot.chunks;
		st->plan.chunks_planned += ps.chunks_planned;
		if ((rc = qcur_next(c, &more, stores[s].dir, err, cap)) != 0)
			return rc;
		if (more)
			heap_push(heap, nheap, c);
	}
	return 0;
}

/* One of cb and hcb is set. */
static int query_run(idx_rstore *stores, int nstores, const idx_expr *e, bool verify_hash,
                     idx_query_cb cb, idx_query_hit_cb hcb, void *ctx, idx_query_stats *st,
                     char *err, size_t cap)
{
	struct qcur **heap = NULL, *cs = NULL;
	idx2_read_stats *r2 = NULL;
	size_t nheap = 0;
	idx_query_stats dummy;
	int s, rc = 0;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	heap = calloc((size_t)nstores + 1, sizeof *heap);
	cs = calloc((size_t)nstores + 1, sizeof *cs);
	r2 = calloc((size_t)nstores + 1, sizeof *r2);
	if (!heap || !cs || !r2) {
		rc = TV_E_NOMEM;
		goto out;
	}
	if ((rc = open_cursors(stores, nstores, e, verify_hash, cs, r2, heap, &nheap, st, err,
	                       cap)) != 0)
		goto out;
	while (nheap > 0) {
		struct qcur *c = heap_pop(heap, &nheap);
		bool more;
		st->packets_matched++;
		if (hcb) {
			idx_query_hit hit;
			hit.store = c->store;
			hit.chunk = &c->meta;
			hit.rec = &c->rec;
			hit.info = &c->info;
			rc = hcb(ctx, &hit);
		} else {
			rc = cb(ctx, c->store, &c->rec, &c->info);
		}
		if (rc)
			goto out;
		if ((rc = qcur_next(c, &more, stores[c->store].dir, err, cap)) != 0)
			goto out;
		if (more)
			heap_push(heap, &nheap, c);
	}
out:
	for (s = 0; cs && s < nstores; s++) {
		if (!cs[s].cur)
			continue;
		idx2_cursor_close(cs[s].cur);
		st->chunks_read += r2[s].chunks_read;
		st->chunks_missing += r2[s].chunks_missing;
		st->bytes_read += r2[s].bytes_read;
		st->blocks_read += r2[s].blocks_read;
		st->bytes_decoded += r2[s].bytes_decoded;
		st->packets_scanned += r2[s].pkts_scanned;
	}
	free(cs);
	free(r2);
	free(heap);
	return rc;
}

int idx_query_run(idx_rstore *stores, int nstores, const idx_expr *e, bool verify_hash,
                  idx_query_cb cb, void *ctx, idx_query_stats *st, char *err, size_t cap)
{
	return query_run(stores, nstores, e, verify_hash, cb, NULL, ctx, st, err, cap);
}

int idx_query_run_hits(idx_rstore *stores, int nstores, const idx_expr *e, bool verify_hash,
                       idx_query_hit_cb cb, void *ctx, idx_query_stats *st, char *err, size_t cap)
{
	return query_run(stores, nstores, e, verify_hash, NULL, cb, ctx, st, err, cap);
}
