/*
 * deep.c — verify --deep: the index re-derived from the segments and
 * compared with what is stored.
 *
 * LMDB pages carry no checksum of their own, so one flipped bit in a
 * posting key hides a chunk from every query that plans through it, and
 * nothing else notices.  For every chunk, what the index must hold is what
 * its records give through idx_post_chunk (the code recovery and reindex
 * index chunks with, calling idx_post_add as ingest does); this file only
 * compares: the chunk record, its time and segs keys, its cpost list and
 * every posting key with its time range.  Then the whole index: posting keys
 * that no chunk lists, the running totals, the flow records.  All reads are
 * one LMDB snapshot.
 */
#include "idx_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEEP_UNSURE 4096
#define DEEP_EXTRA_REPORTS 10

struct dent {
	uint8_t key[40]; /* type | value, zero padded (as idx_post_ent) */
	uint8_t len;
	uint64_t first, last;
};

struct idx_deep {
	idx *x;
	MDB_txn *txn;
	idx_post *p;
	idx_frag_unsure *unsure;
	size_t nunsure;
	struct dent *a, *b; /* derived, listed (cpost) */
	size_t acap, bcap;
	idx_tot sum;
	uint64_t maxdur;
	uint32_t *segs;     /* segments seen (for totals.segments) */
	size_t nsegs, segcap;
};

int idx_deep_new(idx *x, idx_deep **out)
{
	idx_deep *d = calloc(1, sizeof *d);
	int rc;
	*out = NULL;
	if (!d)
		return TV_E_NOMEM;
	d->x = x;
	d->unsure = malloc(DEEP_UNSURE * sizeof *d->unsure);
	if (!d->unsure || (rc = idx_post_new(&d->p)) != 0) {
		free(d->unsure);
		free(d);
		return TV_E_NOMEM;
	}
	*out = d;
	return 0;
}

void idx_deep_free(idx_deep *d)
{
	if (!d)
		return;
	if (d->txn)
		mdb_txn_abort(d->txn);
	idx_post_free(d->p);
	free(d->unsure);
	free(d->a);
	free(d->b);
	free(d->segs);
	free(d);
}

/* The snapshot is taken at the first chunk, after the caller's own walk of
 * the chunks began, so it holds every chunk that walk sees (or, under a
 * running retention, fewer: those are skipped). */
static int deep_txn(idx_deep *d)
{
	return d->txn ? 0 : idx_txn_begin(d->x, false, &d->txn);
}

static MDB_val mv(const void *p, size_t n)
{
	MDB_val v;
	v.mv_data = (void *)(uintptr_t)p;
	v.mv_size = n;
	return v;
}

/* A posting value as a person reads it. */
static void fmt_posting(const uint8_t *k, size_t len, char *buf, size_t cap)
{
	char a[TV_ADDR_STRLEN], b[TV_ADDR_STRLEN];
	tv_addr x, y;
	switch (k[0]) {
	case IDX_PT_ADDR:
		memcpy(x.b, k + 1, 16);
		tv_addr_format(&x, a, sizeof a);
		snprintf(buf, cap, "host %s", a);
		break;
	case IDX_PT_PORT:
		snprintf(buf, cap, "port %u proto %u", tv_get_be16(k + 1), k[3]);
		break;
	case IDX_PT_PROTO:
		snprintf(buf, cap, "proto %u", k[1]);
		break;
	case IDX_PT_VNI:
		if (tv_get_be32(k + 1) == TV_VNI_NONE)
			snprintf(buf, cap, "vni none");
		else
			snprintf(buf, cap, "vni %u", tv_get_be32(k + 1));
		break;
	case IDX_PT_FLOW:
		memcpy(x.b, k + 1, 16);
		memcpy(y.b, k + 17, 16);
		tv_addr_format(&x, a, sizeof a);
		tv_addr_format(&y, b, sizeof b);
		snprintf(buf, cap, "5-tuple %s port %u > %s port %u proto %u", a, tv_get_be16(k + 33), b,
		         tv_get_be16(k + 35), k[37]);
		break;
	default:
		snprintf(buf, cap, "type 0x%02x (%zu bytes)", k[0], len);
	}
}

static int dent_cmp(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;
	return memcmp(x->key, y->key, sizeof x->key);
}

static int grow(struct dent **v, size_t *cap, size_t need)
{
	if (need > *cap) {
		size_t nc = need * 2;
		struct dent *n = realloc(*v, nc * sizeof *n);
		if (!n)
			return TV_E_NOMEM;
		*v = n;
		*cap = nc;
	}
	return 0;
}

/*
 * Whether a port or 5-tuple posting may differ from what the records give
 * because ingest took a later fragment's ports from its first fragment:
 * the key must match such a fragment (protocol for a port, addresses and
 * protocol for a 5-tuple), and each end of the stored range must be the
 * derived end or such a fragment's time.
 */
static bool frag_explains(const idx_deep *d, const uint8_t *k, uint64_t first, uint64_t last,
                          const struct dent *derived)
{
	bool any = false, f_ok = derived && first == derived->first,
	     l_ok = derived && last == derived->last;
	size_t i, n = d->nunsure < DEEP_UNSURE ? d->nunsure : DEEP_UNSURE;
	if (k[0] != IDX_PT_PORT && k[0] != IDX_PT_FLOW)
		return false;
	if (d->nunsure > DEEP_UNSURE)
		return true; /* more than we kept: cannot tell, do not accuse */
	for (i = 0; i < n; i++) {
		const idx_frag_unsure *u = &d->unsure[i];
		if (k[0] == IDX_PT_PORT ? u->proto != k[3]
		                        : (u->proto != k[37] || memcmp(u->src.b, k + 1, 16) != 0 ||
		                           memcmp(u->dst.b, k + 17, 16) != 0))
			continue;
		any = true;
		f_ok = f_ok || u->ts == first;
		l_ok = l_ok || u->ts == last;
	}
	return any && f_ok && l_ok;
}

static int check_meta(idx_deep *d, const store_chunk_meta *m, const store_chunk_meta *hdr,
                      char *msg, size_t cap)
{
	uint8_t kb[IDX_TKEY_LEN], sk[IDX_SKEY_LEN], ck[8];
	store_chunk_meta have;
	MDB_val k, v;
	int rc;

	/* the record in this snapshot; gone means pruned meanwhile */
	tv_put_be64(ck, m->chunk_id);
	k = mv(ck, 8);
	rc = mdb_get(d->txn, d->x->db_chunks, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 2;
	if (rc)
		return idx_lmdb_err(rc);
	if (idx_chunk_val_decode(v.mv_data, v.mv_size, &have) != 0 || have.chunk_id != m->chunk_id) {
		snprintf(msg, cap, "chunk %llu: its index record is corrupt", (unsigned long long)m->chunk_id);
		return 1;
	}
	if (have.orig_bytes != hdr->orig_bytes || have.nctx != hdr->nctx ||
	    have.length != STORE_CHUNK_HDR_LEN + hdr->comp_len || have.npkts != hdr->npkts ||
	    have.first_ts != hdr->first_ts || have.last_ts != hdr->last_ts ||
	    have.raw_len != hdr->raw_len || have.comp_len != hdr->comp_len ||
	    memcmp(have.sha256, hdr->sha256, 32) != 0) {
		snprintf(msg, cap, "chunk %llu: its index record disagrees with the chunk in segment %u "
		         "offset %llu (packets %u/%u, bytes %llu/%llu, contexts %u/%u, length %u/%u)",
		         (unsigned long long)m->chunk_id, m->segment, (unsigned long long)m->offset,
		         have.npkts, hdr->npkts, (unsigned long long)have.orig_bytes,
		         (unsigned long long)hdr->orig_bytes, have.nctx, hdr->nctx, have.length,
		         STORE_CHUNK_HDR_LEN + hdr->comp_len);
		return 1;
	}
	idx_tkey_encode(m->first_ts, m->chunk_id, kb);
	k = mv(kb, sizeof kb);
	rc = mdb_get(d->txn, d->x->db_time, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return idx_lmdb_err(rc);
	if (rc || v.mv_size != 8 || tv_get_le64(v.mv_data) != m->last_ts) {
		snprintf(msg, cap, "chunk %llu: its time key (first packet %llu ns) is %s: queries by time "
		         "and 'not' queries miss it", (unsigned long long)m->chunk_id,
		         (unsigned long long)m->first_ts, rc ? "missing" : "wrong");
		return 1;
	}
	idx_skey_encode(m->segment, m->chunk_id, sk);
	k = mv(sk, sizeof sk);
	rc = mdb_get(d->txn, d->x->db_segs, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return idx_lmdb_err(rc);
	if (rc) {
		snprintf(msg, cap, "chunk %llu: its segs key (segment %u) is missing: retention would "
		         "not drop it with its segment", (unsigned long long)m->chunk_id, m->segment);
		return 1;
	}
	return 0;
}

/* What the running totals must add up to: the chunk as its segment holds
 * it (the header), whatever its index entries say. */
static int deep_sums(idx_deep *d, const store_chunk_meta *m, const store_chunk_meta *hdr)
{
	d->sum.chunks++;
	d->sum.packets += hdr->npkts;
	d->sum.orig_bytes += hdr->orig_bytes;
	d->sum.raw_bytes += hdr->raw_len;
	d->sum.comp_bytes += hdr->comp_len;
	if (hdr->last_ts - hdr->first_ts > d->maxdur)
		d->maxdur = hdr->last_ts - hdr->first_ts;
	if (d->nsegs == 0 || d->segs[d->nsegs - 1] != m->segment) {
		if (d->nsegs == d->segcap) {
			size_t nc = d->segcap ? d->segcap * 2 : 64;
			uint32_t *ns = realloc(d->segs, nc * sizeof *ns);
			if (!ns)
				return TV_E_NOMEM;
			d->segs = ns;
			d->segcap = nc;
		}
		d->segs[d->nsegs++] = m->segment;
	}
	return 0;
}

int idx_deep_chunk(idx_deep *d, const store_chunk_meta *m, const store_chunk_meta *hdr,
                   const store_reader *rd, char *msg, size_t cap)
{
	uint8_t ck[8];
	char what[200];
	MDB_val k, v;
	size_t na = 0, nb = 0, i, j;
	bool meta_bad;
	tv_cur c;
	int rc;

	if ((rc = deep_txn(d)) != 0)
		return rc;
	rc = check_meta(d, m, hdr, msg, cap);
	if (rc == 2)
		return 0; /* pruned since the walk read it */
	if (rc < 0 || rc > 1)
		return rc;
	meta_bad = rc == 1;
	if ((rc = deep_sums(d, m, hdr)) != 0)
		return rc;

	/* what the index lists for this chunk, and what it must hold */
	tv_put_be64(ck, m->chunk_id);
	k = mv(ck, 8);
	rc = mdb_get(d->txn, d->x->db_cpost, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return idx_lmdb_err(rc);
	c = tv_cur_make(rc ? NULL : v.mv_data, rc ? 0 : v.mv_size);
	for (;;) {
		const uint8_t *tv;
		size_t tvlen;
		int r = idx_cpost_next(&c, &tv, &tvlen);
		if (r == 0)
			break;
		if (r < 0) {
			if (!meta_bad)
				snprintf(msg, cap, "chunk %llu: its list of postings (cpost) is corrupt after "
				         "%zu entries", (unsigned long long)m->chunk_id, nb);
			return 1;
		}
		if ((rc = grow(&d->b, &d->bcap, nb + 1)) != 0)
			return rc;
		memset(d->b[nb].key, 0, 40);
		memcpy(d->b[nb].key, tv, tvlen);
		d->b[nb].len = (uint8_t)tvlen;
		nb++;
	}
	d->sum.postings += nb;
	if (meta_bad)
		return 1;
	qsort(d->b, nb, sizeof *d->b, dent_cmp);

	idx_post_chunk(d->p, rd, d->unsure, DEEP_UNSURE, &d->nunsure);
	if (idx_post_error(d->p))
		return idx_post_error(d->p);
	if ((rc = grow(&d->a, &d->acap, d->p->n + 1)) != 0)
		return rc;
	for (i = 0; i < d->p->n; i++) {
		memcpy(d->a[i].key, d->p->ents[i].key, 40);
		d->a[i].len = d->p->ents[i].len;
		d->a[i].first = d->p->ents[i].first;
		d->a[i].last = d->p->ents[i].last;
	}
	na = d->p->n;
	qsort(d->a, na, sizeof *d->a, dent_cmp);

	/* both sorted: walk them side by side */
	for (i = 0, j = 0; i < na || j < nb;) {
		uint8_t pk[IDX_PKEY_MAX];
		uint64_t first, last;
		const struct dent *want;
		int cmp = i < na && j < nb ? dent_cmp(&d->a[i], &d->b[j]) : i < na ? -1 : 1;
		if (cmp < 0) {
			/* the chunk gives it, the index does not list it; only a
			 * later fragment's portless 5-tuple may be missing (ingest
			 * knew its ports) */
			const struct dent *a = &d->a[i++];
			if (a->key[0] == IDX_PT_FLOW && tv_get_be16(a->key + 33) == 0 &&
			    tv_get_be16(a->key + 35) == 0 && frag_explains(d, a->key, a->first, a->last, a))
				continue;
			fmt_posting(a->key, a->len, what, sizeof what);
			snprintf(msg, cap, "chunk %llu: the index lacks the posting %s that its packets give: "
			         "queries for it miss this chunk", (unsigned long long)m->chunk_id, what);
			return 1;
		}
		want = cmp == 0 ? &d->a[i++] : NULL;
		fmt_posting(d->b[j].key, d->b[j].len, what, sizeof what);
		k = mv(pk, idx_pkey_encode(d->b[j].key, d->b[j].len, m->chunk_id, pk));
		j++;
		rc = mdb_get(d->txn, d->x->db_post, &k, &v);
		if (rc && rc != MDB_NOTFOUND)
			return idx_lmdb_err(rc);
		if (rc) {
			snprintf(msg, cap, "chunk %llu: the posting %s is missing from the index (its key "
			         "is damaged or gone): queries for it miss this chunk",
			         (unsigned long long)m->chunk_id, what);
			return 1;
		}
		if (idx_pval_decode(v.mv_data, v.mv_size, &first, &last) != 0) {
			snprintf(msg, cap, "chunk %llu: the posting %s has a corrupt value",
			         (unsigned long long)m->chunk_id, what);
			return 1;
		}
		if (!want && !frag_explains(d, d->b[j - 1].key, first, last, NULL)) {
			snprintf(msg, cap, "chunk %llu: the index lists the posting %s, which none of its "
			         "packets gives", (unsigned long long)m->chunk_id, what);
			return 1;
		}
		if (want && (first != want->first || last != want->last) &&
		    !frag_explains(d, d->b[j - 1].key, first, last, want)) {
			snprintf(msg, cap, "chunk %llu: the posting %s covers %llu..%llu ns in the index, "
			         "but its packets give %llu..%llu ns: time-bounded queries may miss it",
			         (unsigned long long)m->chunk_id, what, (unsigned long long)first,
			         (unsigned long long)last, (unsigned long long)want->first,
			         (unsigned long long)want->last);
			return 1;
		}
	}

	return 0;
}

static int u32cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Posting keys that no chunk lists: a damaged key points a value at a
 * chunk (or a chunk at a value) it does not hold.  Only read when the
 * counts disagree. */
static int find_extra_postings(idx_deep *d, void (*report)(void *, const char *), void *ctx,
                               int *problems)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, g, shown = 0;
	if ((rc = mdb_cursor_open(d->txn, d->x->db_post, &cur)) != 0)
		return idx_lmdb_err(rc);
	for (g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0 && shown < DEEP_EXTRA_REPORTS;
	     g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char msg[400], what[200];
		uint8_t ck[8];
		idx_pkey pk;
		MDB_val kk, cv;
		bool listed = false;
		if (idx_pkey_decode(k.mv_data, k.mv_size, &pk) != 0) {
			snprintf(msg, sizeof msg, "a posting key of %zu bytes (type 0x%02x) is corrupt",
			         k.mv_size, k.mv_size ? ((const uint8_t *)k.mv_data)[0] : 0);
			report(ctx, msg);
			shown++;
			continue;
		}
		tv_put_be64(ck, pk.chunk_id);
		kk = mv(ck, 8);
		if (mdb_get(d->txn, d->x->db_cpost, &kk, &cv) == 0) {
			tv_cur c = tv_cur_make(cv.mv_data, cv.mv_size);
			const uint8_t *tv;
			size_t tvlen;
			while (!listed && idx_cpost_next(&c, &tv, &tvlen) == 1)
				listed = tvlen == 1 + pk.vlen && tv[0] == pk.type &&
				         memcmp(tv + 1, pk.val, pk.vlen) == 0;
		}
		if (listed)
			continue;
		{
			uint8_t full[40];
			memset(full, 0, sizeof full);
			full[0] = pk.type;
			memcpy(full + 1, pk.val, pk.vlen);
			fmt_posting(full, 1 + pk.vlen, what, sizeof what);
		}
		snprintf(msg, sizeof msg, "the index holds a posting %s for chunk %llu, which that chunk "
		         "does not list (a damaged key: queries for it read the wrong chunk)", what,
		         (unsigned long long)pk.chunk_id);
		report(ctx, msg);
		shown++;
	}
	mdb_cursor_close(cur);
	*problems += shown ? shown : 1;
	if (!shown)
		report(ctx, "the post table holds more keys than the chunks list, and none was found "
		            "unlisted (the chunk walk and the table disagree)");
	return 0;
}

int idx_deep_finish(idx_deep *d, bool check_counts, void (*report)(void *ctx, const char *msg),
                    void *ctx)
{
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_stat st;
	char msg[400];
	idx_tot t;
	uint64_t maxdur = 0, nflows = 0;
	size_t i, nseg = 0;
	int rc, g, problems = 0;

	if ((rc = deep_txn(d)) != 0)
		return rc;
	/* flow records: each must decode */
	if ((rc = mdb_cursor_open(d->txn, d->x->db_flows, &cur)) != 0)
		return idx_lmdb_err(rc);
	for (g = mdb_cursor_get(cur, &k, &v, MDB_FIRST); g == 0; g = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		tv_flowrec r;
		nflows++;
		if (k.mv_size != 12 || idx_flow_val_decode(v.mv_data, v.mv_size, &r) != 0) {
			if (problems++ < DEEP_EXTRA_REPORTS) {
				snprintf(msg, sizeof msg, "flow record %llu (window %u) is corrupt",
				         (unsigned long long)nflows, k.mv_size >= 4 ? tv_get_be32(k.mv_data) : 0);
				report(ctx, msg);
			}
		}
	}
	mdb_cursor_close(cur);
	if (g != MDB_NOTFOUND)
		return idx_lmdb_err(g);
	if (!check_counts)
		return problems;

	if ((rc = mdb_stat(d->txn, d->x->db_post, &st)) != 0)
		return idx_lmdb_err(rc);
	if (st.ms_entries != d->sum.postings && (rc = find_extra_postings(d, report, ctx, &problems)) != 0)
		return rc;
	if ((rc = mdb_stat(d->txn, d->x->db_time, &st)) != 0)
		return idx_lmdb_err(rc);
	if (st.ms_entries != d->sum.chunks) {
		snprintf(msg, sizeof msg, "the time table holds %llu keys for %llu chunks",
		         (unsigned long long)st.ms_entries, (unsigned long long)d->sum.chunks);
		report(ctx, msg);
		problems++;
	}
	if ((rc = mdb_stat(d->txn, d->x->db_segs, &st)) != 0)
		return idx_lmdb_err(rc);
	if (st.ms_entries != d->sum.chunks) {
		snprintf(msg, sizeof msg, "the segs table holds %llu keys for %llu chunks",
		         (unsigned long long)st.ms_entries, (unsigned long long)d->sum.chunks);
		report(ctx, msg);
		problems++;
	}
	qsort(d->segs, d->nsegs, sizeof *d->segs, u32cmp);
	for (i = 0; i < d->nsegs; i++)
		if (i == 0 || d->segs[i] != d->segs[i - 1])
			nseg++;
	d->sum.segments = nseg;
	if ((rc = idx_tot_load(d->x, d->txn, &t)) != 0 || (rc = idx_meta_maxdur(d->x, d->txn, &maxdur)) != 0)
		return rc;
	if (memcmp(&t, &d->sum, sizeof t) != 0) {
		snprintf(msg, sizeof msg, "the running totals disagree with the chunks: chunks %llu/%llu, "
		         "packets %llu/%llu, bytes %llu/%llu, raw %llu/%llu, compressed %llu/%llu, "
		         "postings %llu/%llu, segments %llu/%llu (index/derived): stats are wrong",
		         (unsigned long long)t.chunks, (unsigned long long)d->sum.chunks,
		         (unsigned long long)t.packets, (unsigned long long)d->sum.packets,
		         (unsigned long long)t.orig_bytes, (unsigned long long)d->sum.orig_bytes,
		         (unsigned long long)t.raw_bytes, (unsigned long long)d->sum.raw_bytes,
		         (unsigned long long)t.comp_bytes, (unsigned long long)d->sum.comp_bytes,
		         (unsigned long long)t.postings, (unsigned long long)d->sum.postings,
		         (unsigned long long)t.segments, (unsigned long long)d->sum.segments);
		report(ctx, msg);
		problems++;
	}
	if (maxdur < d->maxdur) {
		snprintf(msg, sizeof msg, "max_chunk_dur is %llu ns, but a chunk spans %llu ns: time "
		         "queries can miss chunks that start earlier", (unsigned long long)maxdur,
		         (unsigned long long)d->maxdur);
		report(ctx, msg);
		problems++;
	}
	return problems;
}
