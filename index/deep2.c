/*
 * deep2.c — verify --deep: the index re-derived from
 * the decoded chunks and compared with what is stored.
 *
 * LMDB pages carry no checksum of their own and the v2_post values only
 * a CRC over their own bytes: a posting lost with its key, or one that
 * names the wrong blocks, hides packets from every query that plans
 * through it, and no read notices.  What the index must hold for a chunk
 * is what its flow directories give through idx2_flow_postings (the one
 * implementation that ingest and recovery post with), each value with
 * the OR of the blocks of the flows that give it.  Postings live per slice
 * (v2_post for a closed slice, v2_opost per chunk for the open one), so
 * they are compared a slice at a time, when the walk of the chunks (in id
 * order, so slice by slice) leaves the slice.  Then the whole index:
 * posting keys of slices or chunks no record names (postings that point
 * to nothing), slice records, v2_segs, the totals.  All reads are the
 * caller's snapshot.
 */
#include "deep2.h"
#include "flows2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D2_EXTRA_REPORTS 10

static const char K2_TOTALS[] = "v2_totals";
static const char K2_MAXDUR[] = "v2_max_slice_dur";

typedef struct d2ent {
	idx2_pv pv;
	uint64_t chunk;
	uint64_t blocks;
} d2ent;

typedef struct d2slice {
	uint32_t id;
	bool closed;
	uint64_t first, last; /* chunk ids of its record */
} d2slice;

typedef struct d2seg {
	uint32_t segment;
	idx2_seg s;
} d2seg;

struct idx_deep2 {
	idx *x;
	MDB_txn *txn;
	void (*report)(void *ctx, const char *msg);
	void *ctx;
	uint64_t extra; /* postings and records that point to nothing */

	/* the slice being walked */
	bool in_slice;
	uint32_t sid;
	idx2_slice srec;
	bool have_srec;
	uint64_t base;               /* chunk id of bit 0 below */
	uint64_t seen, skip, bad;    /* bit i: chunk base + i */
	uint64_t s_first_ts, s_last_ts, s_raw;
	d2ent *der, *sto;
	size_t nder, cder, nsto, csto;

	/* the whole walk */
	d2slice *slices;
	size_t nslices, cslices;
	d2seg *segs;
	size_t nsegs, csegs;
	idx2_tot sum;
	uint64_t maxdur;
};

static MDB_val mv(const void *p, size_t n)
{
	MDB_val v;
	v.mv_data = (void *)(uintptr_t)p;
	v.mv_size = n;
	return v;
}

static void say(idx_deep2 *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void say(idx_deep2 *d, const char *fmt, ...)
{
	char msg[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	d->report(d->ctx, msg);
}

/* Something that points to nothing: the first few are named, the rest
 * counted (a damaged tree can hold millions). */
static bool extra_named(idx_deep2 *d)
{
	return d->extra++ < D2_EXTRA_REPORTS;
}

static void hex(const void *p, size_t n, char *out, size_t cap)
{
	const uint8_t *b = p;
	size_t i;
	if (cap)
		out[0] = '\0';
	for (i = 0; i < n && 2 * i + 2 < cap; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* A posting value as a person reads it. */
static void fmt_pv(const idx2_pv *pv, char *buf, size_t cap)
{
	char a[TV_ADDR_STRLEN];
	tv_addr x;
	const uint8_t *v = pv->tv + 1;
	switch (pv->tv[0]) {
	case IDX2_PT_ADDR:
		memcpy(x.b, v, 16);
		tv_addr_format(&x, a, sizeof a);
		snprintf(buf, cap, "host %s", a);
		break;
	case IDX2_PT_PORT:
		snprintf(buf, cap, "port %u proto %u", tv_get_be16(v), v[2]);
		break;
	case IDX2_PT_PROTO:
		snprintf(buf, cap, "proto %u", v[0]);
		break;
	case IDX2_PT_VNI:
		if (tv_get_be32(v) == TV_VNI_NONE)
			snprintf(buf, cap, "vni none");
		else
			snprintf(buf, cap, "vni %u", tv_get_be32(v));
		break;
	default:
		snprintf(buf, cap, "type 0x%02x", pv->tv[0]);
	}
}

/* Where a posting of the current slice is kept: table and key in hex. */
static void where_pv(const idx_deep2 *d, uint64_t chunk, const idx2_pv *pv, char *buf, size_t cap)
{
	uint8_t k[IDX2_OKEY_MAX];
	char h[2 * IDX2_OKEY_MAX + 1];
	size_t n;
	bool open = d->have_srec ? d->srec.state == IDX2_SLICE_OPEN : false;
	if (open)
		n = idx2_okey_encode(chunk, pv, k);
	else
		n = idx2_pkey_encode(d->sid, pv, k);
	hex(k, n, h, sizeof h);
	snprintf(buf, cap, "%s key %s", open ? "v2_opost" : "v2_post", h);
}

int idx_deep2_new(idx *x, MDB_txn *txn, void (*report)(void *ctx, const char *msg), void *ctx,
                  idx_deep2 **out)
{
	idx_deep2 *d = calloc(1, sizeof *d);
	*out = NULL;
	if (!d)
		return TV_E_NOMEM;
	d->x = x;
	d->txn = txn;
	d->report = report;
	d->ctx = ctx;
	*out = d;
	return 0;
}

void idx_deep2_free(idx_deep2 *d)
{
	if (!d)
		return;
	free(d->der);
	free(d->sto);
	free(d->slices);
	free(d->segs);
	free(d);
}

static int ent_push(d2ent **v, size_t *n, size_t *cap, const idx2_pv *pv, uint64_t chunk,
                    uint64_t blocks)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 1024;
		d2ent *t = realloc(*v, nc * sizeof *t);
		if (!t)
			return TV_E_NOMEM;
		*v = t;
		*cap = nc;
	}
	(*v)[*n].pv = *pv;
	(*v)[*n].chunk = chunk;
	(*v)[*n].blocks = blocks;
	(*n)++;
	return 0;
}

static int ent_cmp(const void *a, const void *b)
{
	const d2ent *x = a, *y = b;
	int c = memcmp(x->pv.tv, y->pv.tv, sizeof x->pv.tv);
	if (c)
		return c;
	return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

/* Sorted, equal (value, chunk) merged with their bitmaps OR-ed. */
static void ent_norm(d2ent *v, size_t *n)
{
	size_t i, o = 0;
	if (*n > 1)
		qsort(v, *n, sizeof *v, ent_cmp);
	for (i = 0; i < *n; i++) {
		if (o > 0 && ent_cmp(&v[o - 1], &v[i]) == 0)
			v[o - 1].blocks |= v[i].blocks;
		else
			v[o++] = v[i];
	}
	*n = o;
}

/* ------------------------------------------------- one slice's postings */

/* The stored postings of the current slice, into d->sto. */
static int slice_stored(idx_deep2 *d)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint8_t from[IDX2_OKEY_MAX];
	char h[2 * IDX2_OKEY_MAX + 1];
	int rc = 0, g;
	bool closed = !d->have_srec || d->srec.state == IDX2_SLICE_CLOSED;
	bool open = !d->have_srec || d->srec.state == IDX2_SLICE_OPEN;
	idx2_slice sl;

	d->nsto = 0;
	if (!d->have_srec) {
		/* a slice without its record: its postings are sought under both
		 * tables, over the 64 chunk ids a slice can have from the first
		 * chunk that names it */
		memset(&sl, 0, sizeof sl);
		sl.first_chunk = d->base;
		sl.nchunks = 64;
		sl.state = IDX2_SLICE_CLOSED;
	} else {
		sl = d->srec;
	}
	if (closed) {
		if ((rc = mdb_cursor_open(d->txn, d->x->db2_post, &cur)) != 0)
			return idx_lmdb_err(rc);
		tv_put_be32(from, d->sid);
		k = mv(from, 4);
		for (g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); g == 0;
		     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
			idx2_piter it;
			idx2_pv pv;
			uint32_t s;
			uint64_t chunk, blocks;
			int r;
			if (k.mv_size < 4 || memcmp(k.mv_data, from, 4) != 0)
				break;
			/* the walk at finish names a corrupt key; here it gives none */
			if (idx2_pkey_decode(k.mv_data, k.mv_size, &s, &pv) != 0)
				continue;
			r = idx2_piter_init(&it, k.mv_data, k.mv_size, v.mv_data, v.mv_size, &sl, NULL);
			while (r == 0 && (r = idx2_piter_next(&it, &chunk, &blocks)) == 1) {
				if ((rc = ent_push(&d->sto, &d->nsto, &d->csto, &pv, chunk, blocks)) != 0)
					break;
				r = 0;
			}
			if (rc)
				break;
			if (r < 0 || r > 1) {
				char what[96];
				hex(k.mv_data, k.mv_size, h, sizeof h);
				fmt_pv(&pv, what, sizeof what);
				say(d, "slice %u: the value of the posting %s (v2_post key %s) is corrupt "
				    "(%s): queries for it fail", d->sid, what, h, tv_strerror(r));
			}
		}
		mdb_cursor_close(cur);
		if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
			rc = idx_lmdb_err(g);
		if (rc)
			return rc;
	}
	if (open) {
		uint64_t first = d->have_srec ? d->srec.first_chunk : d->base;
		uint64_t n = d->have_srec ? d->srec.nchunks : 64, i;
		if ((rc = mdb_cursor_open(d->txn, d->x->db2_opost, &cur)) != 0)
			return idx_lmdb_err(rc);
		for (i = 0; i < n && rc == 0; i++) {
			uint64_t chunk = first + i;
			if (!d->have_srec && !(d->seen >> i & 1))
				continue;
			tv_put_be64(from, chunk);
			k = mv(from, 8);
			for (g = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); g == 0;
			     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
				idx2_pv pv;
				uint64_t id, blocks;
				int r;
				if (k.mv_size < 8 || memcmp(k.mv_data, from, 8) != 0)
					break;
				if (idx2_okey_decode(k.mv_data, k.mv_size, &id, &pv) != 0)
					continue;
				r = idx2_oval_decode(k.mv_data, k.mv_size, v.mv_data, v.mv_size, 0, &blocks);
				if (r) {
					char what[96];
					hex(k.mv_data, k.mv_size, h, sizeof h);
					fmt_pv(&pv, what, sizeof what);
					say(d, "chunk %llu: the value of the posting %s (v2_opost key %s) is "
					    "corrupt (%s): queries for it fail", (unsigned long long)chunk, what, h,
					    tv_strerror(r));
					if (i < 64)
						d->bad |= (uint64_t)1 << i;
					continue;
				}
				if ((rc = ent_push(&d->sto, &d->nsto, &d->csto, &pv, id, blocks)) != 0)
					break;
			}
			if (rc == 0 && g != 0 && g != MDB_NOTFOUND)
				rc = idx_lmdb_err(g);
		}
		mdb_cursor_close(cur);
	}
	return rc;
}

/* A difference that belongs to chunk `chunk` of the current slice: the
 * first one of each chunk is reported; one of a chunk the walk never saw
 * (no record) is a posting that points to nothing. */
static bool chunk_first_diff(idx_deep2 *d, uint64_t chunk, bool *unknown)
{
	uint64_t i = chunk - d->base;
	*unknown = chunk < d->base || i >= 64 || !(d->seen >> i & 1);
	if (*unknown)
		return extra_named(d);
	if ((d->skip | d->bad) >> i & 1)
		return false;
	d->bad |= (uint64_t)1 << i;
	return true;
}

static void slice_compare(idx_deep2 *d)
{
	size_t i = 0, j = 0;
	char what[96], where[160];
	bool unknown;
	ent_norm(d->der, &d->nder);
	ent_norm(d->sto, &d->nsto);
	while (i < d->nder || j < d->nsto) {
		int c = i == d->nder ? 1 : j == d->nsto ? -1 : ent_cmp(&d->der[i], &d->sto[j]);
		if (c < 0) {
			const d2ent *e = &d->der[i++];
			if (!chunk_first_diff(d, e->chunk, &unknown))
				continue;
			fmt_pv(&e->pv, what, sizeof what);
			where_pv(d, e->chunk, &e->pv, where, sizeof where);
			say(d, "chunk %llu: the index lacks the posting %s (blocks 0x%llx) that its flows "
			    "give: queries for it leave the chunk's packets out (%s)",
			    (unsigned long long)e->chunk, what, (unsigned long long)e->blocks, where);
		} else if (c > 0) {
			const d2ent *e = &d->sto[j++];
			if (!chunk_first_diff(d, e->chunk, &unknown))
				continue;
			fmt_pv(&e->pv, what, sizeof what);
			where_pv(d, e->chunk, &e->pv, where, sizeof where);
			if (unknown)
				say(d, "the index holds the posting %s for chunk %llu, which has no record in "
				    "v2_chunks: it points to nothing (%s)", what, (unsigned long long)e->chunk,
				    where);
			else
				say(d, "chunk %llu: the index lists the posting %s (blocks 0x%llx), which none "
				    "of its flows gives (%s)", (unsigned long long)e->chunk, what,
				    (unsigned long long)e->blocks, where);
		} else {
			const d2ent *a = &d->der[i++], *b = &d->sto[j++];
			if (a->blocks == b->blocks || !chunk_first_diff(d, a->chunk, &unknown))
				continue;
			fmt_pv(&a->pv, what, sizeof what);
			where_pv(d, a->chunk, &a->pv, where, sizeof where);
			say(d, "chunk %llu: the posting %s names blocks 0x%llx in the index, but its flows "
			    "are in blocks 0x%llx (%s)", (unsigned long long)a->chunk, what,
			    (unsigned long long)b->blocks, (unsigned long long)a->blocks, where);
		}
	}
}

/* The slice record against the chunks that name it, and its v2_stime key. */
static int slice_record_check(idx_deep2 *d)
{
	const idx2_slice *s = &d->srec;
	uint64_t full = s->nchunks >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << s->nchunks) - 1;
	uint8_t kb[IDX2_STIME_KEY_LEN];
	char h[2 * IDX2_STIME_KEY_LEN + 1];
	MDB_val k, v;
	uint64_t last;
	int rc;

	if ((d->seen & full) != full) {
		unsigned i;
		for (i = 0; i < s->nchunks && (d->seen >> i & 1); i++)
			;
		say(d, "slice %u (v2_slices key %08x) lists chunks %llu..%llu, but chunk %llu has no "
		    "record in v2_chunks", d->sid, d->sid, (unsigned long long)s->first_chunk,
		    (unsigned long long)(s->first_chunk + s->nchunks - 1),
		    (unsigned long long)(s->first_chunk + i));
	} else if (s->first_ts != d->s_first_ts || s->last_ts != d->s_last_ts ||
	           s->raw_bytes != d->s_raw) {
		say(d, "slice %u (v2_slices key %08x) says %llu..%llu ns and %llu raw bytes, its chunks "
		    "%llu..%llu ns and %llu: time-bounded queries may skip it", d->sid, d->sid,
		    (unsigned long long)s->first_ts, (unsigned long long)s->last_ts,
		    (unsigned long long)s->raw_bytes, (unsigned long long)d->s_first_ts,
		    (unsigned long long)d->s_last_ts, (unsigned long long)d->s_raw);
	}
	if (s->last_ts - s->first_ts > d->maxdur)
		d->maxdur = s->last_ts - s->first_ts;
	idx2_stime_key(s->first_ts, d->sid, kb);
	k = mv(kb, sizeof kb);
	rc = mdb_get(d->txn, d->x->db2_stime, &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return idx_lmdb_err(rc);
	hex(kb, sizeof kb, h, sizeof h);
	if (rc == MDB_NOTFOUND)
		say(d, "slice %u: its v2_stime key %s is missing: queries find none of its %u chunks",
		    d->sid, h, s->nchunks);
	else if (idx2_stime_val_decode(v.mv_data, v.mv_size, s->first_ts, &last) != 0 ||
	         last != s->last_ts)
		say(d, "slice %u: its v2_stime key %s does not hold its last_ts %llu: time-bounded "
		    "queries may skip it", d->sid, h, (unsigned long long)s->last_ts);
	return 0;
}

static int slice_end(idx_deep2 *d)
{
	int rc;
	if (!d->in_slice)
		return 0;
	d->in_slice = false;
	if ((rc = slice_stored(d)) != 0)
		return rc;
	slice_compare(d);
	if (d->have_srec && (rc = slice_record_check(d)) != 0)
		return rc;
	if (d->nslices == d->cslices) {
		size_t nc = d->cslices ? d->cslices * 2 : 64;
		d2slice *t = realloc(d->slices, nc * sizeof *t);
		if (!t)
			return TV_E_NOMEM;
		d->slices = t;
		d->cslices = nc;
	}
	d->slices[d->nslices].id = d->sid;
	d->slices[d->nslices].closed = !d->have_srec || d->srec.state == IDX2_SLICE_CLOSED;
	d->slices[d->nslices].first = d->have_srec ? d->srec.first_chunk : d->base;
	d->slices[d->nslices].last = d->have_srec ? d->srec.first_chunk + d->srec.nchunks - 1
	                                          : d->base + 63;
	d->nslices++;
	return 0;
}

static int slice_begin(idx_deep2 *d, const idx2_chunk *rec)
{
	uint8_t kb[4];
	MDB_val k = mv(kb, 4), v;
	int rc;

	d->in_slice = true;
	d->sid = rec->slice;
	d->have_srec = false;
	d->seen = d->skip = d->bad = 0;
	d->s_first_ts = UINT64_MAX;
	d->s_last_ts = 0;
	d->s_raw = 0;
	d->nder = d->nsto = 0;
	d->base = rec->chunk_id;
	tv_put_be32(kb, rec->slice);
	rc = mdb_get(d->txn, d->x->db2_slices, &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return idx_lmdb_err(rc);
	if (rc == 0 && idx2_slice_decode(v.mv_data, v.mv_size, &d->srec) == 0) {
		d->have_srec = true;
		d->base = d->srec.first_chunk;
	} else {
		say(d, "chunk %llu: its slice %u has %s in v2_slices (key %08x): queries find none of "
		    "its chunks", (unsigned long long)rec->chunk_id, rec->slice,
		    rc == MDB_NOTFOUND ? "no record" : "a corrupt record", rec->slice);
	}
	return 0;
}

static int seg_track(idx_deep2 *d, const idx2_chunk *rec)
{
	d2seg *g = d->nsegs ? &d->segs[d->nsegs - 1] : NULL;
	if (g && g->segment == rec->segment) {
		g->s.last_slice = rec->slice;
		g->s.last_chunk = rec->chunk_id;
		return 0;
	}
	if (d->nsegs == d->csegs) {
		size_t nc = d->csegs ? d->csegs * 2 : 16;
		d2seg *t = realloc(d->segs, nc * sizeof *t);
		if (!t)
			return TV_E_NOMEM;
		d->segs = t;
		d->csegs = nc;
	}
	g = &d->segs[d->nsegs++];
	g->segment = rec->segment;
	g->s.first_slice = g->s.last_slice = rec->slice;
	g->s.first_chunk = g->s.last_chunk = rec->chunk_id;
	return 0;
}

int idx_deep2_chunk(idx_deep2 *d, const idx2_chunk *rec, const store_chunk *c)
{
	uint64_t i, bit;
	uint32_t b, f;
	int rc;

	if (!d->in_slice || rec->slice != d->sid) {
		if ((rc = slice_end(d)) != 0)
			return rc;
		if ((rc = slice_begin(d, rec)) != 0)
			return rc;
	}
	d->sum.chunks++;
	d->sum.packets += rec->npkts;
	d->sum.orig_bytes += rec->orig_bytes;
	d->sum.raw_bytes += rec->raw_len;
	d->sum.stored_bytes += rec->length;
	d->sum.blocks += rec->nblocks;
	d->sum.flows += rec->nflows;
	if ((rc = seg_track(d, rec)) != 0)
		return rc;

	i = rec->chunk_id - d->base;
	if (rec->chunk_id < d->base || i >= 64 ||
	    (d->have_srec && (i >= d->srec.nchunks || rec->segment != d->srec.segment))) {
		say(d, "chunk %llu: its record names slice %u, which %s: queries through the slice "
		    "miss it", (unsigned long long)rec->chunk_id, rec->slice,
		    d->have_srec && rec->segment != d->srec.segment && i < d->srec.nchunks
		            ? "is in another segment"
		            : "does not hold it");
		return 0;
	}
	bit = (uint64_t)1 << i;
	d->seen |= bit;
	if (rec->first_ts < d->s_first_ts)
		d->s_first_ts = rec->first_ts;
	if (rec->last_ts > d->s_last_ts)
		d->s_last_ts = rec->last_ts;
	d->s_raw += rec->raw_len;
	if (!c) {
		d->skip |= bit;
		return 0;
	}
	for (b = 0; b < store_chunk_nblocks(c); b++) {
		const store_block *blk = store_chunk_block(c, b);
		for (f = 0; f < store_block_nflows(blk); f++) {
			const store_bflow *fl = store_block_flow(blk, f);
			idx2_pv pv[IDX2_FLOW_PV_MAX];
			size_t n, k;
			if (idx2_flow_postings(fl->key, fl->tun, pv, &n) != 0) {
				if (!(d->bad & bit))
					say(d, "chunk %llu: block %u, flow directory entry %u: a malformed flow "
					    "key, which gives no posting", (unsigned long long)rec->chunk_id, b, f);
				d->bad |= bit;
				continue;
			}
			for (k = 0; k < n; k++)
				if ((rc = ent_push(&d->der, &d->nder, &d->cder, &pv[k], rec->chunk_id,
				                   (uint64_t)1 << b)) != 0)
					return rc;
		}
	}
	return 0;
}

/* ------------------------------------------------------- whole index */

static int slice_cmp(const void *a, const void *b)
{
	const d2slice *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static const d2slice *slice_find(const idx_deep2 *d, uint32_t id)
{
	d2slice key;
	key.id = id;
	return bsearch(&key, d->slices, d->nslices, sizeof *d->slices, slice_cmp);
}

/* The open slice that holds chunk id, or NULL (open slices are few: one). */
static const d2slice *open_slice_of(const idx_deep2 *d, uint64_t chunk)
{
	size_t i;
	for (i = 0; i < d->nslices; i++)
		if (!d->slices[i].closed && chunk >= d->slices[i].first && chunk <= d->slices[i].last)
			return &d->slices[i];
	return NULL;
}

/* Counts the keys of a table; cb (may be NULL) sees each. */
static int walk(idx_deep2 *d, MDB_dbi dbi, uint64_t *n,
                void (*cb)(idx_deep2 *d, const MDB_val *k, const MDB_val *v))
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, g;
	*n = 0;
	if ((rc = mdb_cursor_open(d->txn, dbi, &cur)) != 0)
		return idx_lmdb_err(rc);
	for (g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		(*n)++;
		if (cb)
			cb(d, &k, &v);
	}
	mdb_cursor_close(cur);
	return g == MDB_NOTFOUND ? 0 : idx_lmdb_err(g);
}

static void post_key(idx_deep2 *d, const MDB_val *k, const MDB_val *v)
{
	char h[2 * IDX2_PKEY_MAX + 1], what[96];
	const d2slice *s;
	uint32_t sid;
	idx2_pv pv;
	(void)v;
	hex(k->mv_data, k->mv_size < IDX2_PKEY_MAX ? k->mv_size : IDX2_PKEY_MAX, h, sizeof h);
	if (idx2_pkey_decode(k->mv_data, k->mv_size, &sid, &pv) != 0) {
		if (extra_named(d))
			say(d, "v2_post key %s (%zu bytes) is corrupt: it points to nothing", h,
			    k->mv_size);
		return;
	}
	s = slice_find(d, sid);
	if (s && s->closed)
		return;
	if (extra_named(d)) {
		fmt_pv(&pv, what, sizeof what);
		say(d, "the index holds the posting %s under slice %u (v2_post key %s), %s: it points "
		    "to nothing", what, sid, h,
		    s ? "which is open (its postings are in v2_opost)" : "which no chunk record names");
	}
}

static void opost_key(idx_deep2 *d, const MDB_val *k, const MDB_val *v)
{
	char h[2 * IDX2_OKEY_MAX + 1], what[96];
	uint64_t chunk;
	idx2_pv pv;
	(void)v;
	hex(k->mv_data, k->mv_size < IDX2_OKEY_MAX ? k->mv_size : IDX2_OKEY_MAX, h, sizeof h);
	if (idx2_okey_decode(k->mv_data, k->mv_size, &chunk, &pv) != 0) {
		if (extra_named(d))
			say(d, "v2_opost key %s (%zu bytes) is corrupt: it points to nothing", h,
			    k->mv_size);
		return;
	}
	if (open_slice_of(d, chunk))
		return;
	if (extra_named(d)) {
		fmt_pv(&pv, what, sizeof what);
		say(d, "the index holds the posting %s for chunk %llu in v2_opost (key %s), but no open "
		    "slice holds that chunk: it points to nothing", what, (unsigned long long)chunk, h);
	}
}

static void slices_key(idx_deep2 *d, const MDB_val *k, const MDB_val *v)
{
	(void)v;
	if (k->mv_size == 4 && slice_find(d, tv_get_be32(k->mv_data)))
		return;
	if (extra_named(d)) {
		char h[2 * 8 + 1];
		hex(k->mv_data, k->mv_size < 8 ? k->mv_size : 8, h, sizeof h);
		say(d, "v2_slices key %s: a slice record that no chunk record names: it points to "
		    "nothing", h);
	}
}

static void segs_key(idx_deep2 *d, const MDB_val *k, const MDB_val *v)
{
	idx2_seg s;
	uint32_t seg;
	size_t i;
	if (k->mv_size != 4 || idx2_seg_decode(v->mv_data, v->mv_size, &s) != 0) {
		say(d, "v2_segs: a key of %zu bytes or its value is corrupt: retention cannot drop "
		    "that segment's chunks", k->mv_size);
		return;
	}
	seg = tv_get_be32(k->mv_data);
	for (i = 0; i < d->nsegs; i++)
		if (d->segs[i].segment == seg)
			break;
	if (i == d->nsegs) {
		if (extra_named(d))
			say(d, "v2_segs key %08x: segment %u, of which no chunk record names a chunk: it "
			    "points to nothing", seg, seg);
		return;
	}
	if (memcmp(&s, &d->segs[i].s, sizeof s) != 0)
		say(d, "v2_segs key %08x: segment %u holds slices %u..%u and chunks %llu..%llu in the "
		    "index, its chunk records say slices %u..%u and chunks %llu..%llu: retention would "
		    "drop the wrong ones", seg, seg, s.first_slice, s.last_slice,
		    (unsigned long long)s.first_chunk, (unsigned long long)s.last_chunk,
		    d->segs[i].s.first_slice, d->segs[i].s.last_slice,
		    (unsigned long long)d->segs[i].s.first_chunk,
		    (unsigned long long)d->segs[i].s.last_chunk);
}

/* The VPC flow records (v2_flows): every block must decode
 * (idx2_flows_block_decode: its structure, the zstd frame, each record and
 * its window). */
static int flow_blocks(idx_deep2 *d)
{
	idx2_fbuf *b = NULL;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t n = 0, bad = 0;
	int rc, g;

	if ((rc = idx2_fbuf_new(&b)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(d->txn, d->x->db2_flows, &cur)) != 0) {
		idx2_fbuf_free(b);
		return idx_lmdb_err(rc);
	}
	for (g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0; g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const tv_flowrec *recs;
		size_t nr;
		n++;
		if (k.mv_size == 12 &&
		    idx2_flows_block_decode(b, tv_get_be32(k.mv_data), v.mv_data, v.mv_size, &recs, &nr) == 0)
			continue;
		if (bad++ < D2_EXTRA_REPORTS)
			say(d, "v2_flows: flow-record block %llu (window %u, seq %llu) is corrupt",
			    (unsigned long long)n, k.mv_size >= 4 ? tv_get_be32(k.mv_data) : 0,
			    (unsigned long long)(k.mv_size == 12 ? tv_get_be64((const uint8_t *)k.mv_data + 4) : 0));
	}
	if (bad > D2_EXTRA_REPORTS)
		say(d, "... and %llu more corrupt flow-record blocks",
		    (unsigned long long)(bad - D2_EXTRA_REPORTS));
	mdb_cursor_close(cur);
	idx2_fbuf_free(b);
	return g == MDB_NOTFOUND ? 0 : idx_lmdb_err(g);
}

int idx_deep2_finish(idx_deep2 *d)
{
	uint64_t npost, nopost, nslices, nstime, nsegs, maxdur = 0;
	MDB_val k, v;
	idx2_tot t;
	size_t i;
	int rc;

	if ((rc = slice_end(d)) != 0)
		return rc;
	if (d->nslices > 1)
		qsort(d->slices, d->nslices, sizeof *d->slices, slice_cmp);
	for (i = 1; i < d->nslices; i++)
		if (d->slices[i].id == d->slices[i - 1].id)
			say(d, "slice %u: its chunks are not consecutive in v2_chunks (other slices lie "
			    "between them)", d->slices[i].id);
	if ((rc = flow_blocks(d)) != 0 ||
	    (rc = walk(d, d->x->db2_post, &npost, post_key)) != 0 ||
	    (rc = walk(d, d->x->db2_opost, &nopost, opost_key)) != 0 ||
	    (rc = walk(d, d->x->db2_slices, &nslices, slices_key)) != 0 ||
	    (rc = walk(d, d->x->db2_stime, &nstime, NULL)) != 0 ||
	    (rc = walk(d, d->x->db2_segs, &nsegs, segs_key)) != 0)
		return rc;
	for (i = 0; i < d->nsegs; i++) {
		uint8_t kb[4];
		tv_put_be32(kb, d->segs[i].segment);
		k = mv(kb, 4);
		if ((rc = mdb_get(d->txn, d->x->db2_segs, &k, &v)) == MDB_NOTFOUND)
			say(d, "segment %u holds chunks %llu..%llu, but v2_segs has no key for it: "
			    "retention cannot drop them", d->segs[i].segment,
			    (unsigned long long)d->segs[i].s.first_chunk,
			    (unsigned long long)d->segs[i].s.last_chunk);
		else if (rc)
			return idx_lmdb_err(rc);
	}
	if (d->extra > D2_EXTRA_REPORTS)
		say(d, "... and %llu more index entries that point to nothing",
		    (unsigned long long)(d->extra - D2_EXTRA_REPORTS));
	if (nstime != nslices)
		say(d, "v2_stime holds %llu keys for %llu slice records", (unsigned long long)nstime,
		    (unsigned long long)nslices);

	d->sum.postings = npost + nopost;
	d->sum.segments = d->nsegs;
	d->sum.slices = d->nslices;
	memset(&t, 0, sizeof t);
	k = mv(K2_TOTALS, sizeof K2_TOTALS - 1);
	rc = mdb_get(d->txn, d->x->db_meta, &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return idx_lmdb_err(rc);
	if (rc == 0 && idx2_tot_decode(v.mv_data, v.mv_size, &t) != 0) {
		say(d, "meta v2_totals is corrupt");
	} else if (memcmp(&t, &d->sum, sizeof t) != 0) {
		say(d, "the running totals (meta v2_totals) disagree with the index: chunks %llu/%llu, "
		    "packets %llu/%llu, orig bytes %llu/%llu, raw bytes %llu/%llu, stored bytes "
		    "%llu/%llu, postings %llu/%llu, segments %llu/%llu, slices %llu/%llu, blocks "
		    "%llu/%llu, flows %llu/%llu (stored/derived): stats report wrong figures",
		    (unsigned long long)t.chunks, (unsigned long long)d->sum.chunks,
		    (unsigned long long)t.packets, (unsigned long long)d->sum.packets,
		    (unsigned long long)t.orig_bytes, (unsigned long long)d->sum.orig_bytes,
		    (unsigned long long)t.raw_bytes, (unsigned long long)d->sum.raw_bytes,
		    (unsigned long long)t.stored_bytes, (unsigned long long)d->sum.stored_bytes,
		    (unsigned long long)t.postings, (unsigned long long)d->sum.postings,
		    (unsigned long long)t.segments, (unsigned long long)d->sum.segments,
		    (unsigned long long)t.slices, (unsigned long long)d->sum.slices,
		    (unsigned long long)t.blocks, (unsigned long long)d->sum.blocks,
		    (unsigned long long)t.flows, (unsigned long long)d->sum.flows);
	}
	k = mv(K2_MAXDUR, sizeof K2_MAXDUR - 1);
	rc = mdb_get(d->txn, d->x->db_meta, &k, &v);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return idx_lmdb_err(rc);
	if (rc == 0 && v.mv_size == 8)
		maxdur = tv_get_le64(v.mv_data);
	if ((rc == 0 && v.mv_size != 8) || maxdur < d->maxdur)
		say(d, "meta v2_max_slice_dur is %llu ns, but a slice spans %llu ns: time-bounded "
		    "queries may skip it", (unsigned long long)maxdur, (unsigned long long)d->maxdur);
	return 0;
}
