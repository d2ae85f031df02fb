/*
 * verify.c — the full verification of a store against its index: every
 * indexed chunk read and checked, chunks past the index and torn tails
 * named, and with --deep the index re-derived and compared (deep2.c).
 *
 * As store/FORMAT.md "Verification" says: every v2_chunks record against
 * its chunk (store_chunk_load, the failing part named); deep compares
 * each slice's postings with what the chunks' flow directories give, then
 * slices, v2_segs and the totals, all in the walk's one read snapshot.
 */
#include "vault.h"
#include "idx_int.h"
#include "deep2.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vctx {
	idx_rstore *rs;
	uint8_t *buf;
	size_t cap;
	idx_verify_cb cb;
	void *cbctx;
	idx_verify_report *rep;
	uint64_t *seg_end; /* indexed end per segment, by position in the list */
	uint32_t *segs;
	size_t nsegs;
	store_chunk *ck;
	idx_deep2 *deep2;  /* --deep: the index re-derived and compared */
};

static void vreport(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void vreport(struct vctx *v, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (v->cb)
		v->cb(v->cbctx, msg);
}

static void deep_report(void *ctx, const char *msg);

/* Where a segment's indexed chunks end, for the walk past the index. */
static void seg_end_note(struct vctx *v, uint32_t segment, uint64_t end)
{
	size_t i;
	for (i = 0; i < v->nsegs; i++)
		if (v->segs[i] == segment && v->seg_end[i] < end)
			v->seg_end[i] = end;
}

static int buf_fit(struct vctx *v, size_t len)
{
	if (len > v->cap) {
		uint8_t *nb = realloc(v->buf, len);
		if (!nb)
			return TV_E_NOMEM;
		v->buf = nb;
		v->cap = len;
	}
	return 0;
}

/*
 * Names the part of a chunk that fails (store_chunk_load says
 * only how): the header, the head, a block (its CRC or content), or the
 * SHA-256 over what no CRC covers, the producer tag and block table.
 * p/len are the chunk as read (len from the index record).
 */
static void chunk2_blame(struct vctx *v, const uint8_t *p, size_t len, int lrc, char *out,
                         size_t cap)
{
	store_blkref refs[STORE_V2_MAX_BLOCKS];
	const uint8_t *tag;
	uint32_t taglen, i;
	uint16_t ver;
	store_hdr h;
	store_block *b = NULL;
	int rc = store_hdr_parse(p, len, &h);

	if (rc == TV_E_VERSION && store_chunk_version(p, len, &ver) == 0) {
		snprintf(out, cap, "the chunk header is of format version %u, the store's is %u", ver,
		         (unsigned)STORE_FORMAT_VERSION);
		return;
	}
	if (rc) {
		snprintf(out, cap, "the chunk header (%d bytes) fails its checks: %s", STORE_V2_HDR_LEN,
		         tv_strerror(rc));
		return;
	}
	if ((uint64_t)STORE_V2_HDR_LEN + h.body_len != len) {
		snprintf(out, cap, "the chunk header says %llu bytes, the index %zu",
		         (unsigned long long)STORE_V2_HDR_LEN + h.body_len, len);
		return;
	}
	rc = store_head_parse(&h, p + STORE_V2_HDR_LEN, h.body_len, refs, &tag, &taglen);
	if (rc) {
		snprintf(out, cap, "the head (producer tag and block table, %u bytes after the header) "
		         "fails its checks: %s", h.head_len, tv_strerror(rc));
		return;
	}
	if (store_block_new(&b) == 0) {
		for (i = 0; i < h.nblocks; i++) {
			rc = store_block_decode(b, p + STORE_V2_HDR_LEN + refs[i].offset, refs[i].len, &h,
			                        &refs[i]);
			if (rc) {
				snprintf(out, cap, "block %u (%u bytes at chunk offset %u) fails its checks: %s",
				         i, refs[i].len, STORE_V2_HDR_LEN + refs[i].offset, tv_strerror(rc));
				store_block_free(b);
				return;
			}
		}
		store_block_free(b);
	}
	if (lrc == TV_E_HASH)
		snprintf(out, cap, "the SHA-256 of the body differs from the header's, and every block "
		         "passes its CRC: bytes of the head (producer tag or block table) changed");
	else
		snprintf(out, cap, "%s", tv_strerror(lrc));
	(void)v;
}

/* One chunk against its v2_chunks record. */
static int verify_chunk2(struct vctx *v, const idx2_chunk *rec)
{
	store_blkref refs[STORE_V2_MAX_BLOCKS];
	const uint8_t *tag;
	uint32_t taglen;
	store_hdr h;
	char why[400];
	int rc;

	seg_end_note(v, rec->segment, rec->offset + rec->length);
	if ((rc = buf_fit(v, rec->length)) != 0)
		return rc;
	rc = store_segs_read(v->rs->segs, rec->segment, rec->offset, rec->length, v->buf);
	if (rc) {
		v->rep->chunks_bad++;
		vreport(v, "chunk %llu: segment %u offset %llu length %u: cannot read: %s",
		        (unsigned long long)rec->chunk_id, rec->segment, (unsigned long long)rec->offset,
		        rec->length, tv_strerror(rc));
		return v->deep2 ? idx_deep2_chunk(v->deep2, rec, NULL) : 0;
	}
	rc = store_chunk_load(v->ck, v->buf, rec->length, STORE_LOAD_HASH, &h);
	if (rc == TV_E_NOMEM)
		return rc;
	if (rc) {
		v->rep->chunks_bad++;
		chunk2_blame(v, v->buf, rec->length, rc, why, sizeof why);
		vreport(v, "chunk %llu: segment %u offset %llu: %s", (unsigned long long)rec->chunk_id,
		        rec->segment, (unsigned long long)rec->offset, why);
		return v->deep2 ? idx_deep2_chunk(v->deep2, rec, NULL) : 0;
	}
	/* the head passed inside the load; its block table must be the record's */
	rc = store_head_parse(&h, v->buf + STORE_V2_HDR_LEN, h.body_len, refs, &tag, &taglen);
	if (rc || h.chunk_id != rec->chunk_id || h.npkts != rec->npkts ||
	    h.first_ts != rec->first_ts || h.last_ts != rec->last_ts ||
	    h.orig_bytes != rec->orig_bytes || h.raw_len != rec->raw_len ||
	    h.nflows != rec->nflows || h.nblocks != rec->nblocks ||
	    memcmp(h.sha256, rec->sha256, 32) != 0 ||
	    memcmp(refs, rec->blocks, h.nblocks * sizeof refs[0]) != 0) {
		v->rep->chunks_bad++;
		vreport(v, "chunk %llu: segment %u offset %llu: the chunk header disagrees with the index "
		        "(the file holds chunk %llu with %u packets in %u blocks, the v2_chunks record "
		        "says %u packets in %u blocks)",
		        (unsigned long long)rec->chunk_id, rec->segment, (unsigned long long)rec->offset,
		        (unsigned long long)h.chunk_id, h.npkts, h.nblocks, rec->npkts, rec->nblocks);
		return v->deep2 ? idx_deep2_chunk(v->deep2, rec, NULL) : 0;
	}
	v->rep->chunks_ok++;
	v->rep->packets += h.npkts;
	return v->deep2 ? idx_deep2_chunk(v->deep2, rec, v->ck) : 0;
}

/* Every v2_chunks record, in id order, in one read snapshot (which the
 * deep comparison shares). */
static int walk_chunks2(struct vctx *v, bool deep)
{
	idx *x = v->rs->x;
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int rc, g;

	if ((rc = store_chunk_new(&v->ck)) != 0)
		return rc;
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	if (deep && (rc = idx_deep2_new(x, txn, deep_report, v, &v->deep2)) != 0)
		goto out;
	if ((rc = mdb_cursor_open(txn, x->db2_chunks, &cur)) != 0) {
		rc = idx_lmdb_err(rc);
		goto out;
	}
	for (g = mdb_cursor_get(cur, &k, &d, MDB_FIRST); g == 0;
	     g = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		idx2_chunk rec;
		if (k.mv_size != 8 || idx2_chunk_decode(d.mv_data, d.mv_size, tv_get_be64(k.mv_data),
		                                        &rec) != 0) {
			char h[2 * 8 + 1] = "";
			size_t i;
			for (i = 0; i < k.mv_size && i < 8; i++)
				snprintf(h + 2 * i, 3, "%02x", ((const uint8_t *)k.mv_data)[i]);
			v->rep->index_bad++;
			vreport(v, "v2_chunks key %s (%zu bytes): the chunk record is corrupt: queries "
			        "cannot read that chunk", h, k.mv_size);
			continue;
		}
		if ((rc = verify_chunk2(v, &rec)) != 0)
			goto out;
	}
	if (g != MDB_NOTFOUND) {
		rc = idx_lmdb_err(g);
		goto out;
	}
	if (v->deep2)
		rc = idx_deep2_finish(v->deep2);
out:
	if (cur)
		mdb_cursor_close(cur);
	idx_deep2_free(v->deep2);
	v->deep2 = NULL;
	mdb_txn_abort(txn);
	return rc;
}

static void deep_report(void *ctx, const char *msg)
{
	struct vctx *v = ctx;
	v->rep->index_bad++;
	vreport(v, "%s", msg);
}

int idx_verify_store(idx_rstore *rs, bool deep, idx_verify_cb cb, void *ctx,
                     idx_verify_report *rep)
{
	struct vctx v;
	idx_verify_report dummy;
	size_t i;
	uint64_t valid, torn;
	bool writer;
	int rc;

	if (!rep)
		rep = &dummy;
	memset(rep, 0, sizeof *rep);
	memset(&v, 0, sizeof v);
	v.rs = rs;
	v.cb = cb;
	v.cbctx = ctx;
	v.rep = rep;
	rc = store_segs_list(rs->segs, &v.segs, &v.nsegs);
	if (rc)
		goto out;
	v.seg_end = calloc(v.nsegs + 1, sizeof *v.seg_end);
	if (!v.seg_end) {
		rc = TV_E_NOMEM;
		goto out;
	}
	rep->segments = v.nsegs;
	writer = idx_store_writer_active(rs->dir);
	if ((rc = walk_chunks2(&v, deep)) != 0)
		goto out;
	for (i = 0; i < v.nsegs; i++) {
		uint64_t size = 0, end = v.seg_end[i] ? v.seg_end[i] : STORE_SEG_HDR_LEN;
		if (store_segs_size(rs->segs, v.segs[i], &size) != 0)
			continue;
		if (size <= end)
			continue;
		if (writer && i + 1 == v.nsegs) {
			/* appended by the running ingest, committed after its sync */
			rep->unindexed_in_flight += size - end;
			continue;
		}
		/* whole chunks past the index hide packets from every query; a
		 * torn tail after them holds none */
		valid = end;
		rc = store_segs_scan(rs->segs, v.segs[i], end, NULL, NULL, &valid, &torn);
		if (rc == TV_E_VERSION) {
			uint8_t h[10];
			uint16_t ver = 0;
			if (store_segs_read(rs->segs, v.segs[i], valid, sizeof h, h) == 0)
				(void)store_chunk_version(h, sizeof h, &ver);
			rep->unindexed_bytes += size - valid;
			vreport(&v, "segment %u: offset %llu: a chunk of format version %u in a segment "
			        "of version %u (it was not written there by this store; nothing cuts it): "
			        "its %llu bytes to the end of the file are not in the index",
			        v.segs[i], (unsigned long long)valid, ver, STORE_FORMAT_VERSION,
			        (unsigned long long)(size - valid));
			size = valid;
			rc = 0;
		} else if (rc != 0) {
			vreport(&v, "segment %u: cannot read past offset %llu: %s", v.segs[i],
			        (unsigned long long)end, tv_strerror(rc));
			rep->unindexed_bytes += size - end;
			rc = 0;
			continue;
		}
		rc = 0;
		if (valid > end) {
			rep->unindexed_bytes += valid - end;
			vreport(&v, "segment %u: whole chunks in the %llu bytes after offset %llu are not "
			        "in the index: the index covers less than the segments and queries leave "
			        "their packets out (an interrupted ingest or reindex; the next ingest, or "
			        "reindex, indexes them)",
			        v.segs[i], (unsigned long long)(valid - end), (unsigned long long)end);
		}
		if (size > valid) {
			rep->torn_bytes += size - valid;
			vreport(&v, "segment %u: %llu bytes after offset %llu are not in the index and are "
			        "no whole chunk (an interrupted write; the next ingest cuts them): they hide "
			        "no packet",
			        v.segs[i], (unsigned long long)(size - valid), (unsigned long long)valid);
		}
	}
	if (rep->chunks_bad || rep->unindexed_bytes || rep->index_bad)
		rc = TV_E_CORRUPT;
out:
	store_chunk_free(v.ck);
	free(v.buf);
	free(v.segs);
	free(v.seg_end);
	return rc;
}
