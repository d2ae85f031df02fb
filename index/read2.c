/*
 * read2.c — idx_read2: the packets of a query, from the planned blocks of
 * the chunks (store/FORMAT.md "Reading").
 *
 * Chunks are taken in (first_ts, chunk id) order and opened only when the
 * merge reaches their first_ts: opening reads each planned block's header
 * and section A (one pread), evaluates the expression once per flow
 * directory entry (or per record when the expression has a time bound),
 * keeps the matching records as sorted (ts, seq, block, record)
 * references, and reads the tails of the flows that matched (one pread
 * per run of such flows, each flow checked against its CRC); no other
 * flow's tails are read.  A heap of open chunks hands records out in (ts,
 * chunk id, seq) order; a frame is assembled only when its record is
 * handed out.  Decoded blocks live in a cache with a byte budget, so
 * memory does not grow with how many chunks overlap in time; a block
 * leaves it once its last record is handed out, and one evicted before
 * that is read and decoded again when one of its records is due
 * (counted).
 *
 * The one implementation is the pull form (idx2_cursor): the multi-store
 * merge of idx_query_run takes one packet at a time from each store;
 * idx_read2 is a loop over a cursor.
 */
#include "idx2.h"

#include "../ingest/ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rref {
	uint64_t ts;
	uint32_t seq;
	uint16_t block;
	uint32_t rec;
} rref;

typedef struct ochunk {
	idx2_chunk r;
	store_hdr h;       /* what store_block_decode_a checks records against */
	rref *refs;
	size_t n, pos;
	uint64_t decoded;  /* blocks decoded once (a second decode is a redecode) */
	uint32_t left[STORE_V2_MAX_BLOCKS]; /* references of each block not handed out yet */
} ochunk;

typedef struct centry {
	uint64_t chunk_id;
	uint16_t block;
	bool used;
	uint64_t tick;
	uint64_t bytes;
	store_block *b;
	uint8_t *buf;      /* the block's header and section A as stored */
	size_t bufcap;
	uint8_t *tbuf;     /* its section B, where the tails read lie */
	size_t tbufcap;
} centry;

/* A planned chunk and where the merge must open it. */
typedef struct pending {
	uint64_t first_ts;
	idx2_hit hit;
} pending;

struct idx2_cursor {
	idx *x;
	store_segs *segs;
	const idx_expr *e;
	uint64_t lo, hi;
	bool timed;        /* e has after/before: evaluate per record */
	unsigned flags;    /* IDX2_READ_* */
	idx2_read_stats st0, *st;
	centry *cache;
	size_t ncache, capcache;
	store_block *base; /* owns the zstd context and frame scratch the cached blocks share */
	uint64_t cache_bytes, budget, tick;
	ochunk **heap;
	size_t nheap;
	pending *pd;       /* planned chunks in (first_ts, chunk id) order */
	size_t npd, next;
	ochunk *done;      /* the chunk of the packet handed out last, once drained */
	uint8_t *scratch;  /* STORE_MAX_CAPLEN bytes for frames with a tail */
	uint8_t *vbuf;     /* IDX2_READ_VERIFY: a piece of the chunk being hashed */
	tv_l3info info;    /* of the packet handed out last */
	idx2_pkt pkt;
	char where[192];   /* the place of the last failure */
};

typedef struct idx2_cursor rctx;

static void chunk_free(ochunk *c)
{
	if (c) {
		free(c->refs);
		free(c);
	}
}

/* Drops least recently used blocks until need more bytes fit the budget. */
static void cache_evict(rctx *c, uint64_t need, const centry *keep)
{
	while (c->cache_bytes + need > c->budget) {
		centry *old = NULL;
		for (size_t i = 0; i < c->ncache; i++)
			if (c->cache[i].used && &c->cache[i] != keep &&
			    (!old || c->cache[i].tick < old->tick))
				old = &c->cache[i];
		if (!old)
			return; /* a block larger than the budget is still kept alone */
		old->used = false;
		c->cache_bytes -= old->bytes;
	}
}

static int cache_slot(rctx *c, centry **out)
{
	for (size_t i = 0; i < c->ncache; i++)
		if (!c->cache[i].used) {
			*out = &c->cache[i];
			return 0;
		}
	if (c->ncache == c->capcache) {
		size_t nc = c->capcache ? 2 * c->capcache : 16;
		centry *n = realloc(c->cache, nc * sizeof *n);
		if (!n)
			return TV_E_NOMEM;
		memset(n + c->capcache, 0, (nc - c->capcache) * sizeof *n);
		c->cache = n;
		c->capcache = nc;
	}
	*out = &c->cache[c->ncache++];
	return 0;
}

/* The cached block k of a chunk, or NULL. */
static centry *cache_find(rctx *c, uint64_t chunk_id, uint16_t k)
{
	for (size_t i = 0; i < c->ncache; i++)
		if (c->cache[i].used && c->cache[i].chunk_id == chunk_id && c->cache[i].block == k)
			return &c->cache[i];
	return NULL;
}

/* Gives the slot of block k of a chunk back once none of its records is
 * still to be handed out: its buffers serve the next block read, so a
 * query touches about as much memory as it holds blocks it still needs,
 * not the whole budget. */
static void cache_release(rctx *c, uint64_t chunk_id, uint16_t k)
{
	centry *e = cache_find(c, chunk_id, k);
	if (e) {
		e->used = false;
		c->cache_bytes -= e->bytes;
	}
}

/* "v2_chunks key HEX", as idx_plan2 names a corrupt entry. */
static void where_chunk_key(char *where, size_t cap, uint64_t id)
{
	if (cap)
		snprintf(where, cap, "v2_chunks key %016llx", (unsigned long long)id);
}

/* Names the chunk (and block, when known) of a failure in c->where. */
static int fail_at(rctx *c, const idx2_chunk *r, int block, uint64_t offset, int rc)
{
	if (block >= 0)
		snprintf(c->where, sizeof c->where, "segment %u offset %llu (chunk %llu, block %d)",
		         r->segment, (unsigned long long)offset, (unsigned long long)r->chunk_id, block);
	else
		snprintf(c->where, sizeof c->where, "segment %u offset %llu (chunk %llu)", r->segment,
		         (unsigned long long)offset, (unsigned long long)r->chunk_id);
	return rc;
}

/* Block k of chunk o, decoded: from the cache, or its header and section
 * A read (one pread) and decoded; its flows' tails are read apart
 * (tails_get). */
static int block_get(rctx *c, ochunk *o, uint16_t k, centry **out)
{
	const store_blkref *ref = &o->r.blocks[k];
	uint64_t at = o->r.offset + STORE_V2_HDR_LEN + ref->offset;
	uint32_t alen = STORE_V2_BLK_HDR_LEN + ref->a_comp;
	centry *e = NULL;
	int rc;

	if ((e = cache_find(c, o->r.chunk_id, k)) != NULL) {
		e->tick = ++c->tick;
		*out = e;
		return 0;
	}
	cache_evict(c, (uint64_t)alen + ref->a_raw, NULL);
	if ((rc = cache_slot(c, &e)) != 0)
		return rc;
	if (!e->b && (rc = store_block_new_sharing(c->base, &e->b)) != 0)
		return rc;
	if (e->bufcap < alen) {
		uint8_t *nb = realloc(e->buf, alen);
		if (!nb)
			return TV_E_NOMEM;
		e->buf = nb;
		e->bufcap = alen;
	}
	rc = store_segs_read(c->segs, o->r.segment, at, alen, e->buf);
	if (rc)
		return fail_at(c, &o->r, k, at, rc);
	c->st->blocks_read++;
	c->st->bytes_read += alen;
	{
		uint64_t before = store_block_decoded(e->b);
		if ((rc = store_block_decode_a(e->b, e->buf, alen, &o->h, ref)) != 0)
			return fail_at(c, &o->r, k, at, rc);
		c->st->bytes_decoded += store_block_decoded(e->b) - before;
	}
	if (o->decoded & ((uint64_t)1 << k))
		c->st->redecodes++;
	o->decoded |= (uint64_t)1 << k;
	e->used = true;
	e->chunk_id = o->r.chunk_id;
	e->block = k;
	e->tick = ++c->tick;
	e->bytes = (uint64_t)alen + ref->a_raw;
	c->cache_bytes += e->bytes;
	if (c->cache_bytes > c->st->cache_peak)
		c->st->cache_peak = c->cache_bytes;
	*out = e;
	return 0;
}

/* The tails of flows f0..f1-1 of cached block k of chunk o: one pread of
 * their span of section B (they lie back to back), checked against each
 * flow's CRC by store_block_tails_put. */
static int tails_get(rctx *c, ochunk *o, centry *e, uint32_t f0, uint32_t f1)
{
	const store_blkref *ref = &o->r.blocks[e->block];
	const store_bflow *a = store_block_flow(e->b, f0), *z = store_block_flow(e->b, f1 - 1);
	uint32_t b_len = ref->len - STORE_V2_BLK_HDR_LEN - ref->a_comp;
	uint32_t len = z->tail_off + z->tail_len - a->tail_off;
	uint64_t at = o->r.offset + STORE_V2_HDR_LEN + ref->offset + STORE_V2_BLK_HDR_LEN +
	              ref->a_comp + a->tail_off;
	int rc;

	if (len == 0)
		return 0;
	cache_evict(c, len, e);
	if (e->tbufcap < b_len) {
		/* grown only at the first tails of a decode: no tails given
		 * before point into it */
		free(e->tbuf);
		e->tbufcap = 0;
		if (!(e->tbuf = malloc(b_len)))
			return TV_E_NOMEM;
		e->tbufcap = b_len;
	}
	rc = store_segs_read(c->segs, o->r.segment, at, len, e->tbuf + a->tail_off);
	if (rc)
		return fail_at(c, &o->r, e->block, at, rc);
	c->st->bytes_read += len;
	if ((rc = store_block_tails_put(e->b, f0, f1, e->tbuf + a->tail_off, len)) != 0)
		return fail_at(c, &o->r, e->block, at, rc == TV_E_RANGE ? TV_E_CORRUPT : rc);
	e->bytes += len;
	c->cache_bytes += len;
	if (c->cache_bytes > c->st->cache_peak)
		c->st->cache_peak = c->cache_bytes;
	return 0;
}

/* The packet summary a flow key gives (FORMAT.md "The flow key"). */
static void key_info(const uint8_t *key, tv_l3info *in)
{
	memset(in, 0, sizeof *in);
	in->l3 = key[37];
	if (in->l3 == 0)
		return;
	in->has_ports = key[38] & 1;
	memcpy(in->key.src.b, key, 16);
	memcpy(in->key.dst.b, key + 16, 16);
	in->key.sport = (uint16_t)(key[32] << 8 | key[33]);
	in->key.dport = (uint16_t)(key[34] << 8 | key[35]);
	in->key.proto = key[36];
}

static int ref_push(ochunk *o, size_t *cap, uint64_t ts, uint32_t seq, uint16_t blk, uint32_t rec)
{
	if (o->n == *cap) {
		size_t nc = *cap ? 2 * *cap : 256;
		rref *n = realloc(o->refs, nc * sizeof *n);
		if (!n)
			return TV_E_NOMEM;
		o->refs = n;
		*cap = nc;
	}
	o->refs[o->n].ts = ts;
	o->refs[o->n].seq = seq;
	o->refs[o->n].block = blk;
	o->refs[o->n].rec = rec;
	o->n++;
	return 0;
}

static int rref_cmp(const void *a, const void *b)
{
	const rref *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The records of flow fl of block k inside the window (and matching a
 * timed expression), as references. */
static int scan_flow(rctx *c, ochunk *o, store_block *b, uint16_t k, const store_bflow *fl,
                     const tv_l3info *in, size_t *cap)
{
	int rc;
	for (uint32_t i = fl->first; i < fl->first + fl->nrec; i++) {
		const store_brec *r = store_block_rec(b, i);
		if (r->ts_ns < c->lo || r->ts_ns > c->hi)
			continue;
		if (c->timed && !idx_expr_match(c->e, r->ts_ns, fl->tun, in))
			continue;
		c->st->pkts_scanned++;
		if ((rc = ref_push(o, cap, r->ts_ns, r->seq, k, i)) != 0)
			return rc;
	}
	return 0;
}

/* The matching records of one planned block, and the tails of their
 * flows. */
static int scan_block(rctx *c, ochunk *o, uint16_t k, size_t *cap)
{
	store_block *b;
	centry *e;
	size_t n0 = o->n;
	uint32_t run = UINT32_MAX, run_end = 0; /* flows whose tails are to be read */
	int rc;
	if ((rc = block_get(c, o, k, &e)) != 0)
		return rc;
	b = e->b;
	for (uint32_t f = 0; f < store_block_nflows(b); f++) {
		const store_bflow *fl = store_block_flow(b, f);
		size_t nf = o->n;
		tv_l3info in;
		key_info(fl->key, &in);
		if ((c->timed || idx_expr_match(c->e, c->lo, fl->tun, &in)) &&
		    (rc = scan_flow(c, o, b, k, fl, &in, cap)) != 0)
			return rc;
		/* the tails of consecutive flows that return a packet are read
		 * in one piece; a flow in between without tails does not cut it */
		if (o->n > nf) {
			if (run == UINT32_MAX)
				run = f;
			run_end = f + 1;
		} else if (fl->tail_len && run != UINT32_MAX) {
			if ((rc = tails_get(c, o, e, run, run_end)) != 0)
				return rc;
			run = UINT32_MAX;
		}
	}
	if (run != UINT32_MAX && (rc = tails_get(c, o, e, run, run_end)) != 0)
		return rc;
	o->left[k] = (uint32_t)(o->n - n0);
	if (o->left[k] == 0)
		cache_release(c, o->r.chunk_id, k);
	return 0;
}

#define VERIFY_PIECE ((uint32_t)1 << 20)

/*
 * IDX2_READ_VERIFY: the whole chunk read once, in pieces, its header
 * checked (store_hdr_parse) against the index record and its body hashed:
 * a changed byte anywhere in the chunk fails the read, also outside the
 * planned blocks.  ENOENT passes through (the segment was pruned).
 */
static int chunk_verify(rctx *c, const idx2_chunk *r)
{
	uint8_t d[32];
	store_hdr h;
	tv_sha256_ctx sh;
	uint64_t pos;
	int rc;

	if (!c->vbuf && !(c->vbuf = malloc(VERIFY_PIECE)))
		return TV_E_NOMEM;
	if ((rc = store_segs_read(c->segs, r->segment, r->offset, STORE_V2_HDR_LEN, c->vbuf)) != 0)
		return rc == ENOENT ? rc : fail_at(c, r, -1, r->offset, rc);
	c->st->bytes_read += STORE_V2_HDR_LEN;
	if ((rc = store_hdr_parse(c->vbuf, STORE_V2_HDR_LEN, &h)) != 0)
		return fail_at(c, r, -1, r->offset, rc);
	if (h.chunk_id != r->chunk_id || (uint64_t)STORE_V2_HDR_LEN + h.body_len != r->length ||
	    memcmp(h.sha256, r->sha256, 32) != 0)
		return fail_at(c, r, -1, r->offset, TV_E_CORRUPT);
	tv_sha256_init(&sh);
	for (pos = STORE_V2_HDR_LEN; pos < r->length;) {
		uint32_t n = r->length - pos < VERIFY_PIECE ? (uint32_t)(r->length - pos) : VERIFY_PIECE;
		if ((rc = store_segs_read(c->segs, r->segment, r->offset + pos, n, c->vbuf)) != 0)
			return fail_at(c, r, -1, r->offset + pos, rc);
		tv_sha256_update(&sh, c->vbuf, n);
		c->st->bytes_read += n;
		pos += n;
	}
	tv_sha256_final(&sh, d);
	if (memcmp(d, r->sha256, 32) != 0)
		return fail_at(c, r, -1, r->offset, TV_E_HASH);
	c->st->chunks_verified++;
	return 0;
}

/* Opens a planned chunk: its references, sorted (none, or a chunk pruned
 * since the plan: *out NULL). */
static int chunk_open(rctx *c, const idx2_hit *hit, ochunk **out)
{
	ochunk *o = calloc(1, sizeof *o);
	size_t cap = 0;
	int rc;

	*out = NULL;
	if (!o)
		return TV_E_NOMEM;
	if ((rc = idx2_chunk_get(c->x, hit->chunk_id, &o->r)) != 0) {
		if (rc == TV_E_NOTFOUND) {
			c->st->chunks_missing++; /* dropped by retention after the plan */
			rc = 0;
		} else {
			where_chunk_key(c->where, sizeof c->where, hit->chunk_id);
		}
		goto fail;
	}
	if (o->r.nblocks < 64 && (hit->blocks >> o->r.nblocks) != 0) {
		where_chunk_key(c->where, sizeof c->where, hit->chunk_id);
		rc = TV_E_CORRUPT;
		goto fail;
	}
	if (c->flags & IDX2_READ_VERIFY) {
		rc = chunk_verify(c, &o->r);
		if (rc == ENOENT) {
			c->st->chunks_missing++; /* its segment was pruned after the plan */
			rc = 0;
			goto fail;
		}
		if (rc)
			goto fail;
	}
	o->h.chunk_id = o->r.chunk_id;
	o->h.first_ts = o->r.first_ts;
	o->h.last_ts = o->r.last_ts;
	o->h.npkts = o->r.npkts;
	o->h.nblocks = o->r.nblocks;
	for (uint16_t k = 0; k < o->r.nblocks; k++) {
		if (!((hit->blocks >> k) & 1))
			continue;
		rc = scan_block(c, o, k, &cap);
		if (rc == ENOENT && o->decoded == 0) {
			c->st->chunks_missing++; /* its segment was pruned after the plan */
			rc = 0;
			goto fail;
		}
		if (rc)
			goto fail;
	}
	c->st->chunks_read++;
	if (o->n == 0) {
		chunk_free(o);
		return 0;
	}
	qsort(o->refs, o->n, sizeof *o->refs, rref_cmp);
	*out = o;
	return 0;
fail:
	chunk_free(o);
	return rc;
}

/* Heap of open chunks by their next reference (ts, chunk id, seq). */
static bool before(const ochunk *a, const ochunk *b)
{
	const rref *x = &a->refs[a->pos], *y = &b->refs[b->pos];
	if (x->ts != y->ts)
		return x->ts < y->ts;
	if (a->r.chunk_id != b->r.chunk_id)
		return a->r.chunk_id < b->r.chunk_id;
	return x->seq < y->seq;
}

static void heap_down(rctx *c, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < c->nheap && before(c->heap[l], c->heap[m]))
			m = l;
		if (l + 1 < c->nheap && before(c->heap[l + 1], c->heap[m]))
			m = l + 1;
		if (m == i)
			return;
		ochunk *t = c->heap[i];
		c->heap[i] = c->heap[m];
		c->heap[m] = t;
		i = m;
	}
}

static void heap_push(rctx *c, ochunk *o)
{
	size_t i = c->nheap++;
	c->heap[i] = o;
	while (i > 0 && before(c->heap[i], c->heap[(i - 1) / 2])) {
		ochunk *t = c->heap[i];
		c->heap[i] = c->heap[(i - 1) / 2];
		c->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

/* Hands out the top chunk's next record into c->pkt. */
static int emit(rctx *c)
{
	ochunk *o = c->heap[0];
	const rref *r = &o->refs[o->pos];
	const store_brec *br;
	const store_bflow *fl;
	store_block *b;
	centry *e;
	tv_l3info *in = &c->info;
	idx2_pkt *p = &c->pkt;
	int rc;

	if ((rc = block_get(c, o, r->block, &e)) != 0)
		return rc;
	b = e->b;
	br = store_block_rec(b, r->rec);
	fl = store_block_flow(b, br->flow);
	/* a block read again after eviction: its tails, a flow at a time */
	if (fl->tail_len && !fl->tails && (rc = tails_get(c, o, e, br->flow, br->flow + 1u)) != 0)
		return rc;
	memset(p, 0, sizeof *p);
	p->ts_ns = br->ts_ns;
	p->chunk_id = o->r.chunk_id;
	p->chunk = &o->r;
	p->seq = br->seq;
	p->caplen = br->caplen;
	p->origlen = br->origlen;
	p->flags = br->flags;
	p->tun = fl->tun;
	{
		uint64_t d0 = store_block_decoded(b);
		p->frame = store_block_frame(b, r->rec, c->scratch);
		if (!p->frame) /* its tails were read above: cannot happen */
			return fail_at(c, &o->r, r->block, o->r.offset, TV_E_CORRUPT);
		c->st->bytes_decoded += store_block_decoded(b) - d0;
	}
	(void)ingest_parse_inner(p->frame, p->caplen, in);
	if (!in->has_ports && (fl->key[38] & 1) && in->l3 == fl->key[37]) {
		in->has_ports = 1; /* a later fragment: ingest attributed the ports */
		in->key.sport = (uint16_t)(fl->key[32] << 8 | fl->key[33]);
		in->key.dport = (uint16_t)(fl->key[34] << 8 | fl->key[35]);
	}
	p->info = in;
	c->st->matched++;
	/* the frame stays where it is until the next call: a released slot
	 * is only reused by the next block read */
	if (--o->left[r->block] == 0)
		cache_release(c, o->r.chunk_id, r->block);
	if (++o->pos == o->n) {
		/* drained: p->chunk points into it until the next call */
		c->heap[0] = c->heap[--c->nheap];
		c->done = o;
	}
	if (c->nheap)
		heap_down(c, 0);
	return 0;
}

static int pending_cmp(const void *a, const void *b)
{
	const pending *x = a, *y = b;
	if (x->first_ts != y->first_ts)
		return x->first_ts < y->first_ts ? -1 : 1;
	return x->hit.chunk_id < y->hit.chunk_id ? -1 : x->hit.chunk_id > y->hit.chunk_id;
}

static bool has_time(const idx_expr *e)
{
	for (int32_t i = 0; e && i < e->n; i++)
		if (e->nodes[i].kind == IDX_X_AFTER || e->nodes[i].kind == IDX_X_BEFORE)
			return true;
	return false;
}

/* The merge step: a chunk is opened once the smallest record handed out
 * next is not before its first_ts, so nothing unopened can come earlier. */
int idx2_cursor_next(idx2_cursor *c, const idx2_pkt **out)
{
	int rc;

	*out = NULL;
	chunk_free(c->done);
	c->done = NULL;
	while (c->next < c->npd &&
	       (c->nheap == 0 || c->pd[c->next].first_ts <= c->heap[0]->refs[c->heap[0]->pos].ts)) {
		ochunk *o;
		if ((rc = chunk_open(c, &c->pd[c->next++].hit, &o)) != 0)
			return rc;
		if (o)
			heap_push(c, o);
	}
	if (c->nheap == 0)
		return 0;
	if ((rc = emit(c)) != 0)
		return rc;
	*out = &c->pkt;
	return 0;
}

void idx2_cursor_close(idx2_cursor *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nheap; i++)
		chunk_free(c->heap[i]);
	chunk_free(c->done);
	for (size_t i = 0; i < c->ncache; i++) {
		store_block_free(c->cache[i].b);
		free(c->cache[i].buf);
		free(c->cache[i].tbuf);
	}
	free(c->cache);
	store_block_free(c->base);
	free(c->heap);
	free(c->pd);
	free(c->scratch);
	free(c->vbuf);
	free(c);
}

const char *idx2_cursor_where(const idx2_cursor *c)
{
	return c->where;
}

int idx2_cursor_open(idx *x, store_segs *segs, const idx_expr *e, uint64_t cache_bytes,
                     unsigned flags, idx2_read_stats *st, idx2_plan_stats *pst, char *where,
                     size_t cap, idx2_cursor **out)
{
	idx2_hit *hits = NULL;
	size_t n = 0;
	rctx *c;
	int rc;

	*out = NULL;
	if (cap)
		where[0] = '\0';
	if (!(c = calloc(1, sizeof *c)))
		return TV_E_NOMEM;
	c->st = st ? st : &c->st0;
	memset(c->st, 0, sizeof *c->st);
	if ((rc = idx_plan2(x, e, &hits, &n, pst, where, cap)) != 0)
		goto fail;
	c->x = x;
	c->segs = segs;
	c->e = e;
	c->flags = flags;
	c->budget = cache_bytes ? cache_bytes : IDX2_CACHE_DEFAULT;
	c->lo = 0;
	c->hi = UINT64_MAX;
	if (e && e->root >= 0)
		idx_xnode_bounds(e, e->root, &c->lo, &c->hi);
	c->timed = has_time(e);
	c->pd = malloc((n ? n : 1) * sizeof *c->pd);
	c->heap = malloc((n ? n : 1) * sizeof *c->heap);
	c->scratch = malloc(STORE_MAX_CAPLEN);
	if ((rc = store_block_new(&c->base)) != 0)
		goto fail;
	if (!c->pd || !c->heap || !c->scratch) {
		rc = TV_E_NOMEM;
		goto fail;
	}
	/* the plan read each chunk's record: a chunk dropped by retention
	 * since is found missing when it is opened */
	for (size_t i = 0; i < n; i++) {
		c->pd[i].first_ts = hits[i].first_ts;
		c->pd[i].hit = hits[i];
	}
	c->npd = n;
	if (n > 1)
		qsort(c->pd, n, sizeof *c->pd, pending_cmp);
	free(hits);
	*out = c;
	return 0;
fail:
	free(hits);
	idx2_cursor_close(c);
	return rc;
}

int idx_read2(idx *x, store_segs *segs, const idx_expr *e, uint64_t cache_bytes,
              idx2_pkt_cb cb, void *ctx, idx2_read_stats *st, idx2_plan_stats *pst,
              char *where, size_t cap)
{
	idx2_cursor *c;
	const idx2_pkt *p;
	int rc;

	if ((rc = idx2_cursor_open(x, segs, e, cache_bytes, 0, st, pst, where, cap, &c)) != 0)
		return rc;
	while ((rc = idx2_cursor_next(c, &p)) == 0 && p)
		if (cb && (rc = cb(ctx, p)) != 0)
			break;
	if (rc && cap && !where[0])
		snprintf(where, cap, "%s", c->where);
	idx2_cursor_close(c);
	return rc;
}
