/*
 * verify.c — the full verification of a store against its index: every
 * indexed chunk read and checked, chunks past the index and torn tails
 * named, and with --deep the index re-derived and compared (deep.c).
 */
#include "vault.h"
#include "idx_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vctx {
	idx_rstore *rs;
	store_reader *rd;
	uint8_t *buf;
	size_t cap;
	idx_verify_cb cb;
	void *cbctx;
	idx_verify_report *rep;
	uint64_t *seg_end; /* indexed end per segment, by position in the list */
	uint32_t *segs;
	size_t nsegs;
	idx_deep *deep;    /* --deep: the index re-derived and compared */
	int err;           /* a failure that stops the walk */
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

static int verify_chunk(void *ctx, const store_chunk_meta *m)
{
	struct vctx *v = ctx;
	store_chunk_meta got;
	size_t i;
	int rc;

	if (m->length > v->cap) {
		uint8_t *nb = realloc(v->buf, m->length);
		if (!nb)
			return TV_E_NOMEM;
		v->buf = nb;
		v->cap = m->length;
	}
	for (i = 0; i < v->nsegs; i++)
		if (v->segs[i] == m->segment && v->seg_end[i] < m->offset + m->length)
			v->seg_end[i] = m->offset + m->length;
	rc = store_segs_read(v->rs->segs, m->segment, m->offset, m->length, v->buf);
	if (rc) {
		v->rep->chunks_bad++;
		vreport(v, "chunk %llu: segment %u offset %llu length %u: cannot read: %s",
		        (unsigned long long)m->chunk_id, m->segment, (unsigned long long)m->offset,
		        m->length, tv_strerror(rc));
		return 0;
	}
	rc = store_reader_load(v->rd, v->buf, m->length, true, &got);
	if (rc) {
		v->rep->chunks_bad++;
		vreport(v, "chunk %llu: segment %u offset %llu: %s",
		        (unsigned long long)m->chunk_id, m->segment, (unsigned long long)m->offset,
		        tv_strerror(rc));
		return 0;
	}
	if (got.chunk_id != m->chunk_id || got.npkts != m->npkts || got.first_ts != m->first_ts ||
	    got.last_ts != m->last_ts || got.raw_len != m->raw_len || got.comp_len != m->comp_len ||
	    memcmp(got.sha256, m->sha256, 32) != 0) {
		v->rep->chunks_bad++;
		vreport(v, "chunk %llu: segment %u offset %llu: the chunk header disagrees with the index "
		        "(the file holds chunk %llu with %u packets)",
		        (unsigned long long)m->chunk_id, m->segment, (unsigned long long)m->offset,
		        (unsigned long long)got.chunk_id, got.npkts);
		return 0;
	}
	if (v->deep) {
		char msg[512];
		rc = idx_deep_chunk(v->deep, m, &got, v->rd, msg, sizeof msg);
		if (rc < 0 || rc > 1)
			return rc;
		if (rc == 1) {
			v->rep->index_bad++;
			vreport(v, "%s", msg);
		}
	}
	v->rep->chunks_ok++;
	v->rep->packets += got.npkts;
	return 0;
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
	rc = store_reader_new(&v.rd);
	if (rc)
		return rc;
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
	if (deep && (rc = idx_deep_new(rs->x, &v.deep)) != 0)
		goto out;
	rc = idx_chunk_foreach(rs->x, verify_chunk, &v);
	if (rc)
		goto out;
	/* whole-index counts only hold still when nothing writes */
	if (v.deep && (rc = idx_deep_finish(v.deep, !writer, deep_report, &v)) < 0)
		goto out;
	rc = 0;
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
		if ((rc = store_segs_scan(rs->segs, v.segs[i], end, NULL, NULL, &valid, &torn)) != 0 &&
		    rc != TV_E_VERSION) {
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
	idx_deep_free(v.deep);
	store_reader_free(v.rd);
	free(v.buf);
	free(v.segs);
	free(v.seg_end);
	return rc;
}
