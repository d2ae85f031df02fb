/*
 * query.c — reading a store: planned chunks merged by time and exact
 * matching (verify.c checks a store against its index).
 *
 * Stores of both formats merge in one heap: a version-1 store's planned
 * chunks each hold a place in it; a version-2 store holds one, its
 * idx2_cursor, which merges that store's chunks itself.
 */
#include "vault.h"
#include "idx_int.h"
#include "idx2.h"
#include "../ingest/ingest.h"

#include <errno.h>
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
	scfg.version = (uint16_t)idx_format(rs->x);
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
	uint8_t hdr[STORE_CHUNK_HDR_LEN];
	store_chunk_meta m;
	if (store_segs_version(segs) == STORE_V2_VERSION) {
		uint8_t h2[STORE_V2_HDR_LEN];
		store_hdr h;
		if (offset + STORE_V2_HDR_LEN > size ||
		    store_segs_read(segs, segment, offset, STORE_V2_HDR_LEN, h2) != 0 ||
		    store_hdr_parse(h2, sizeof h2, &h) != 0)
			return false;
		return offset + STORE_V2_HDR_LEN + h.body_len <= size;
	}
	if (offset + STORE_CHUNK_HDR_LEN > size ||
	    store_segs_read(segs, segment, offset, STORE_CHUNK_HDR_LEN, hdr) != 0 ||
	    store_chunk_header_parse(hdr, sizeof hdr, &m) != 0)
		return false;
	return offset + m.length <= size;
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
		if ((rc = idx_segment_known(rs->x, ids[i], &known)) != 0)
			break;
		if (!known) {
			end = STORE_SEG_HDR_LEN;
		} else if (i + 1 == n) {
			/* older segments were complete when the next began; a gap
			 * inside them is damage, which verify reads every chunk for */
			if ((rc = idx_segment_end(rs->x, ids[i], &end)) != 0)
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

/* One planned chunk of one store. */
struct qchunk {
	store_chunk_meta meta;
	int store;
};

/* A loaded chunk being merged, or a version-2 store's cursor. */
struct qcur {
	store_reader *rd;
	idx2_cursor *cur;      /* set: the packets come from it */
	store_chunk_meta meta; /* the chunk loaded in rd, or of the packet in rec */
	int store;
	uint32_t i, n;
	store_rec rec;
	tv_l3info info;
	uint64_t order; /* tie-break: planned position */
};

struct qstate {
	const idx_expr *e;
	uint64_t lo, hi;
	idx_query_stats *st;
	/* later IP fragments get the ports of their first fragment, as ingest
	 * gave them (flow records count them so); NULL: no attribution */
	ingest_fragports *frag;
};

static int qchunk_cmp(const void *a, const void *b)
{
	const struct qchunk *x = a, *y = b;
	if (x->meta.first_ts != y->meta.first_ts)
		return x->meta.first_ts < y->meta.first_ts ? -1 : 1;
	if (x->store != y->store)
		return x->store < y->store ? -1 : 1;
	return x->meta.chunk_id < y->meta.chunk_id ? -1 : (x->meta.chunk_id > y->meta.chunk_id);
}

/* Advances c to its next matching record; false when the chunk is done. */
static bool qcur_next(struct qstate *q, struct qcur *c)
{
	while (c->i < c->n) {
		store_reader_get(c->rd, c->i++, &c->rec);
		q->st->packets_scanned++;
		if (c->rec.ts_ns < q->lo || c->rec.ts_ns > q->hi)
			continue;
		ingest_parse_inner(c->rec.frame, c->rec.caplen, &c->info);
		(void)ingest_fragports_apply(q->frag, c->rec.tun->vni, &c->info);
		if (idx_expr_match(q->e, c->rec.ts_ns, c->rec.tun, &c->info))
			return true;
	}
	return false;
}

/* The index record of a version-2 chunk, as the query's callers see
 * chunks (case bundles list segment, offset, length and SHA-256). */
static void meta_from2(const idx2_chunk *r, store_chunk_meta *m)
{
	memset(m, 0, sizeof *m);
	m->chunk_id = r->chunk_id;
	m->segment = r->segment;
	m->length = r->length;
	m->offset = r->offset;
	m->first_ts = r->first_ts;
	m->last_ts = r->last_ts;
	m->npkts = r->npkts;
	m->raw_len = r->raw_len;
	m->comp_len = r->length - STORE_V2_HDR_LEN; /* the body, which the SHA-256 covers */
	m->orig_bytes = r->orig_bytes;
	memcpy(m->sha256, r->sha256, 32);
}

/* Takes a version-2 store's next packet into c (*more false at the end).
 * The cursor matched it already. */
static int qcur2_next(struct qcur *c, bool *more, const char *dir, char *err, size_t cap)
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
		meta_from2(p->chunk, &c->meta);
	*more = true;
	return 0;
}

/* (ts, store, then the store's own order): a version-1 store's chunks by
 * their planned position, records in chunk order; a version-2 store has
 * one place (its cursor orders by chunk id, seq). */
static bool qcur_less(const struct qcur *a, const struct qcur *b)
{
	if (a->rec.ts_ns != b->rec.ts_ns)
		return a->rec.ts_ns < b->rec.ts_ns;
	if (a->store != b->store)
		return a->store < b->store;
	return a->order < b->order;
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

/* The chunks each store's index plans for e, all stores in one array. */
static int query_plan(idx_rstore *stores, int nstores, const idx_expr *e, struct qchunk **qcp,
                      size_t *nqcp, idx_query_stats *st, char *err, size_t cap)
{
	struct qchunk *qc = NULL;
	size_t nqc = 0, capqc = 0, i;
	int s, rc = 0;

	for (s = 0; s < nstores; s++) {
		uint64_t *ids = NULL;
		size_t n = 0;
		idx_plan_stats ps;
		if (idx_format(stores[s].x) == 2)
			continue; /* planned by its cursor */
		rc = idx_plan(stores[s].x, e, &ids, &n, &ps);
		if (rc) {
			snprintf(err, cap, "%s: planning the query failed: %s", stores[s].dir, tv_strerror(rc));
			goto out;
		}
		st->plan.keys_read += ps.keys_read;
		st->plan.chunks_total += ps.chunks_total;
		st->plan.chunks_planned += ps.chunks_planned;
		if (nqc + n > capqc) {
			size_t nc = (nqc + n) * 2 + 16;
			struct qchunk *t = realloc(qc, nc * sizeof *qc);
			if (!t) {
				free(ids);
				rc = TV_E_NOMEM;
				goto out;
			}
			qc = t;
			capqc = nc;
		}
		for (i = 0; i < n; i++) {
			rc = idx_chunk_get(stores[s].x, ids[i], &qc[nqc].meta);
			if (rc == TV_E_NOTFOUND) {
				st->chunks_missing++; /* pruned between plan and read */
				rc = 0;
				continue;
			}
			if (rc) {
				free(ids);
				snprintf(err, cap, "%s: chunk %llu: %s", stores[s].dir,
				         (unsigned long long)ids[i], tv_strerror(rc));
				goto out;
			}
			qc[nqc++].store = s;
		}
		free(ids);
	}
out:
	*qcp = qc;
	*nqcp = nqc;
	return rc;
}

/* Version-2 stores: one cursor each, their block caches sharing one
 * budget, each holding its first packet in the heap. */
static int open_v2_cursors(idx_rstore *stores, int nstores, const idx_expr *e, bool verify_hash,
                           struct qcur *c2, idx2_read_stats *r2, struct qcur **heap, size_t *nheap,
                           idx_query_stats *st, char *err, size_t cap)
{
	int s, nv2 = 0, rc;
	for (s = 0; s < nstores; s++)
		nv2 += idx_format(stores[s].x) == 2;
	for (s = 0; s < nstores; s++) {
		struct qcur *c = &c2[s];
		idx2_plan_stats ps;
		idx2_tot tot;
		char where[256];
		bool more;
		if (idx_format(stores[s].x) != 2)
			continue;
		c->store = s;
		rc = idx2_cursor_open(stores[s].x, stores[s].segs, e, IDX2_CACHE_DEFAULT / (uint64_t)nv2,
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
		if ((rc = qcur2_next(c, &more, stores[s].dir, err, cap)) != 0)
			return rc;
		if (more)
			heap_push(heap, nheap, c);
	}
	return 0;
}

/* Reads and loads one planned version-1 chunk into c's reader.  ENOENT
 * (counted as missing) when its segment was pruned meanwhile. */
static int load_v1_chunk(idx_rstore *rs, const struct qchunk *k, struct qcur *c, uint8_t **buf,
                         size_t *bufcap, bool verify_hash, idx_query_stats *st, char *err,
                         size_t cap)
{
	int rc;
	if (k->meta.length > *bufcap) {
		uint8_t *nb = realloc(*buf, k->meta.length);
		if (!nb)
			return TV_E_NOMEM;
		*buf = nb;
		*bufcap = k->meta.length;
	}
	rc = store_segs_read(rs->segs, k->meta.segment, k->meta.offset, k->meta.length, *buf);
	if (rc == ENOENT) {
		st->chunks_missing++;
		return ENOENT;
	}
	if (rc == 0)
		rc = store_reader_load(c->rd, *buf, k->meta.length, verify_hash, NULL);
	if (rc) {
		snprintf(err, cap, "%s: segment %u offset %llu (chunk %llu): %s", rs->dir,
		         k->meta.segment, (unsigned long long)k->meta.offset,
		         (unsigned long long)k->meta.chunk_id, tv_strerror(rc));
		return rc;
	}
	st->chunks_read++;
	st->bytes_read += k->meta.length;
	st->blocks_read++; /* a version-1 chunk decodes as one piece */
	st->bytes_decoded += k->meta.raw_len;
	return 0;
}

/* One of cb and hcb is set. */
static int query_run(idx_rstore *stores, int nstores, const idx_expr *e, bool verify_hash,
                     idx_query_cb cb, idx_query_hit_cb hcb, void *ctx, idx_query_stats *st,
                     char *err, size_t cap)
{
	struct qchunk *qc = NULL;
	size_t nqc = 0, next = 0, nheap = 0, nfree = 0, ncur = 0, i;
	struct qcur **heap = NULL, **freel = NULL, *curs = NULL, *c2 = NULL;
	idx2_read_stats *r2 = NULL;
	int s;
	uint8_t *buf = NULL;
	size_t bufcap = 0;
	struct qstate q;
	idx_query_stats dummy;
	int rc = 0;

	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	q.e = e;
	q.st = st;
	if (ingest_fragports_new(&q.frag) != 0)
		q.frag = NULL; /* no attribution, still correct otherwise */
	idx_expr_time_bounds(e, &q.lo, &q.hi);

	rc = query_plan(stores, nstores, e, &qc, &nqc, st, err, cap);
	if (rc)
		goto out;
	if (nqc > 1)
		qsort(qc, nqc, sizeof *qc, qchunk_cmp);

	/* at most every chunk is open at once; usually a handful */
	heap = calloc(nqc + (size_t)nstores + 1, sizeof *heap);
	freel = calloc(nqc + 1, sizeof *freel);
	curs = calloc(nqc + 1, sizeof *curs);
	c2 = calloc((size_t)nstores + 1, sizeof *c2);
	r2 = calloc((size_t)nstores + 1, sizeof *r2);
	if (!heap || !freel || !curs || !c2 || !r2) {
		rc = TV_E_NOMEM;
		goto out;
	}
	if ((rc = open_v2_cursors(stores, nstores, e, verify_hash, c2, r2, heap, &nheap, st, err,
	                          cap)) != 0)
		goto out;

	for (;;) {
		struct qcur *c;
		while (next < nqc && (nheap == 0 || qc[next].meta.first_ts <= heap[0]->rec.ts_ns)) {
			struct qchunk *k = &qc[next];
			if (nfree > 0) {
				c = freel[--nfree];
			} else {
				c = &curs[ncur++];
				rc = store_reader_new(&c->rd);
				if (rc)
					goto out;
			}
			rc = load_v1_chunk(&stores[k->store], k, c, &buf, &bufcap, verify_hash, st, err, cap);
			if (rc == ENOENT) {
				freel[nfree++] = c; /* segment pruned by retention meanwhile */
				next++;
				rc = 0;
				continue;
			}
			if (rc)
				goto out;
			c->store = k->store;
			c->meta = k->meta;
			c->i = 0;
			c->n = store_reader_count(c->rd);
			c->order = next;
			next++;
			if (qcur_next(&q, c))
				heap_push(heap, &nheap, c);
			else
				freel[nfree++] = c;
		}
		if (nheap == 0)
			break;
		c = heap_pop(heap, &nheap);
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
		if (c->cur) {
			bool more;
			if ((rc = qcur2_next(c, &more, stores[c->store].dir, err, cap)) != 0)
				goto out;
			if (more)
				heap_push(heap, &nheap, c);
		} else if (qcur_next(&q, c)) {
			heap_push(heap, &nheap, c);
		} else {
			freel[nfree++] = c;
		}
	}
out:
	for (s = 0; c2 && s < nstores; s++) {
		if (!c2[s].cur)
			continue;
		idx2_cursor_close(c2[s].cur);
		st->chunks_read += r2[s].chunks_read;
		st->chunks_missing += r2[s].chunks_missing;
		st->bytes_read += r2[s].bytes_read;
		st->blocks_read += r2[s].blocks_read;
		st->bytes_decoded += r2[s].bytes_decoded;
		st->packets_scanned += r2[s].pkts_scanned;
	}
	free(c2);
	free(r2);
	for (i = 0; i < ncur; i++)
		store_reader_free(curs[i].rd);
	free(curs);
	free(heap);
	free(freel);
	free(buf);
	free(qc);
	ingest_fragports_free(q.frag);
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
