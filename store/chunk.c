/*
 * chunk.c — building and reading chunks (store/FORMAT.md "Chunk").
 *
 * The builder appends each packet as a finished record to one reusable
 * buffer (a bounds check and a memcpy per packet), deduplicates tunnel
 * contexts through a last-hit cache and a small open-addressing table, and
 * at seal time orders, compresses (one reused ZSTD_CCtx) and hashes.
 *
 * The reader decompresses into one reusable buffer (one reused ZSTD_DCtx)
 * and checks every length, index and reserved field before it hands out a
 * record, so that store_reader_get() needs no checks of its own.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

_Static_assert(sizeof(tv_tunmeta) == 48, "tv_tunmeta layout changed: update the context table");

static const uint8_t zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

/* Header field offsets (FORMAT.md "Chunk header"). */
enum {
	CH_MAGIC = 0,
	CH_VERSION = 8,
	CH_FLAGS = 10,
	CH_NCTX = 12,
	CH_CHUNK_ID = 16,
	CH_FIRST_TS = 24,
	CH_LAST_TS = 32,
	CH_ORIG_BYTES = 40,
	CH_NPKTS = 48,
	CH_RAW_LEN = 52,
	CH_COMP_LEN = 56,
	CH_SHA256 = 60,
	CH_CRC = 92,
};

/* Record header offsets (FORMAT.md "Packet record"). */
enum {
	RC_TS = 0,
	RC_CAPLEN = 8,
	RC_ORIGLEN = 12,
	RC_CTX = 16,
	RC_FLAGS = 18,
};

#define REC_FLAGS_KNOWN (STORE_REC_SYNTH_L2 | STORE_REC_DECAP_ERROR)

/* ------------------------------------------------------------ builder */

typedef struct rec_ix {
	uint64_t ts;
	uint32_t off; /* in b->rec; also the arrival order */
	uint32_t len; /* record header + frame */
} rec_ix;

struct store_builder {
	store_builder_cfg cfg;
	ZSTD_CCtx *cctx;

	uint8_t *rec; /* records in arrival order */
	size_t rec_len, rec_cap;
	rec_ix *ix, *ix_tmp;
	size_t ix_cap;
	uint32_t n;

	tv_tunmeta *ctx;
	size_t ctx_cap;
	uint32_t nctx;
	uint32_t *slot; /* open addressing: 0 empty, else context index + 1 */
	size_t nslot;   /* power of two, > 2 * nctx */
	uint32_t last_ctx;

	uint64_t first_ts, max_ts, orig_bytes;
	bool sorted;

	uint8_t tag[STORE_MAX_TAG]; /* producer tag, payload bytes 4.. */
	uint32_t taglen;

	uint8_t *payload; /* tag block + context table + records in order, for zstd */
	size_t payload_cap;
	uint8_t *out; /* header + frame of the sealed chunk */
	size_t out_cap;
};

void store_builder_cfg_default(store_builder_cfg *cfg)
{
	cfg->raw_target = 1u << 20;
	cfg->zstd_level = 3;
}

int store_builder_new(const store_builder_cfg *cfg, store_builder **out)
{
	store_builder *b;
	size_t zr;
	bool ok = true;
	int err = TV_E_NOMEM;
	*out = NULL;
	b = calloc(1, sizeof *b);
	if (!b)
		return TV_E_NOMEM;
	if (cfg)
		b->cfg = *cfg;
	else
		store_builder_cfg_default(&b->cfg);
	if (b->cfg.raw_target == 0 || b->cfg.raw_target > STORE_MAX_RAW)
		b->cfg.raw_target = b->cfg.raw_target ? STORE_MAX_RAW : (1u << 20);
	b->cctx = ZSTD_createCCtx();
	if (!b->cctx)
		goto fail;
	zr = ZSTD_CCtx_setParameter(b->cctx, ZSTD_c_compressionLevel, b->cfg.zstd_level);
	if (!ZSTD_isError(zr))
		zr = ZSTD_CCtx_setParameter(b->cctx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(zr))
		zr = ZSTD_CCtx_setParameter(b->cctx, ZSTD_c_contentSizeFlag, 1);
	if (ZSTD_isError(zr)) {
		err = TV_E_ZSTD;
		goto fail;
	}
	/* Preallocate for a full chunk so that steady state never allocates. */
	STORE_GROW(b->rec, b->rec_cap, b->cfg.raw_target, ok);
	STORE_GROW(b->ix, b->ix_cap, 1024, ok);
	STORE_GROW(b->ctx, b->ctx_cap, 16, ok);
	if (!ok)
		goto fail;
	b->ix_tmp = malloc(b->ix_cap * sizeof *b->ix_tmp);
	b->nslot = 64;
	b->slot = calloc(b->nslot, sizeof *b->slot);
	if (!b->ix_tmp || !b->slot)
		goto fail;
	b->sorted = true;
	*out = b;
	return 0;
fail:
	store_builder_free(b);
	return err;
}

void store_builder_free(store_builder *b)
{
	if (!b)
		return;
	ZSTD_freeCCtx(b->cctx);
	free(b->rec);
	free(b->ix);
	free(b->ix_tmp);
	free(b->ctx);
	free(b->slot);
	free(b->payload);
	free(b->out);
	free(b);
}

void store_builder_reset(store_builder *b)
{
	if (b->nctx > 0)
		memset(b->slot, 0, b->nslot * sizeof *b->slot);
	b->rec_len = 0;
	b->n = 0;
	b->nctx = 0;
	b->last_ctx = 0;
	b->first_ts = 0;
	b->max_ts = 0;
	b->orig_bytes = 0;
	b->sorted = true;
	b->taglen = 0;
}

int store_builder_set_tag(store_builder *b, const uint8_t *tag, uint32_t len)
{
	if (len > STORE_MAX_TAG)
		return TV_E_RANGE;
	if (len)
		memcpy(b->tag, tag, len);
	b->taglen = len;
	return 0;
}

/* Finds t in the table; returns its index, or nctx (not present) with
 * *slot_out set to the empty slot where it belongs. */
static uint32_t ctx_find(const store_builder *b, const tv_tunmeta *t, size_t *slot_out)
{
	size_t mask = b->nslot - 1, i = (size_t)tv_hash64(t, sizeof *t, 0) & mask;
	for (;;) {
		uint32_t v = b->slot[i];
		if (v == 0) {
			*slot_out = i;
			return b->nctx;
		}
		if (memcmp(&b->ctx[v - 1], t, sizeof *t) == 0)
			return v - 1;
		i = (i + 1) & mask;
	}
}

/* Makes room for one more context; rehashes when the table gets half full. */
static int ctx_reserve(store_builder *b)
{
	uint32_t i;
	bool ok = true;
	STORE_GROW(b->ctx, b->ctx_cap, (size_t)b->nctx + 1, ok);
	if (!ok)
		return TV_E_NOMEM;
	if (((size_t)b->nctx + 1) * 2 <= b->nslot)
		return 0;
	{
		size_t nn = b->nslot * 2;
		uint32_t *ns = calloc(nn, sizeof *ns);
		if (!ns)
			return TV_E_NOMEM;
		free(b->slot);
		b->slot = ns;
		b->nslot = nn;
		for (i = 0; i < b->nctx; i++) {
			size_t s = (size_t)tv_hash64(&b->ctx[i], sizeof b->ctx[i], 0) & (nn - 1);
			while (ns[s] != 0)
				s = (s + 1) & (nn - 1);
			ns[s] = i + 1;
		}
	}
	return 0;
}

int store_builder_add(store_builder *b, const tv_pkt *pkt)
{
	tv_tunmeta t;
	uint32_t ci;
	size_t slot = 0, need, payload;
	bool newctx = false;
	uint8_t *p;

	if (pkt->caplen > STORE_MAX_CAPLEN || (pkt->caplen > 0 && !pkt->frame))
		return TV_E_RANGE;

	/* Normalise so that padding never makes two equal contexts differ. */
	store_tun_norm(&t, &pkt->tun);

	if (b->nctx > 0 && memcmp(&b->ctx[b->last_ctx], &t, sizeof t) == 0) {
		ci = b->last_ctx;
	} else {
		ci = ctx_find(b, &t, &slot);
		newctx = ci == b->nctx;
	}

	need = STORE_REC_HDR_LEN + (size_t)pkt->caplen;
	payload = ((size_t)b->nctx + newctx) * STORE_CTX_LEN + b->rec_len + need;
	if (b->n > 0 && payload > b->cfg.raw_target)
		return TV_E_FULL;
	/* room is kept for the largest tag block, set only at seal time */
	if (payload > STORE_MAX_RAW - STORE_TAG_HDR_LEN - STORE_MAX_TAG || (newctx && b->nctx >= STORE_MAX_CTX) || b->n == UINT32_MAX)
		return TV_E_FULL;

	if (b->rec_len + need > b->rec_cap) {
		bool ok = true;
		STORE_GROW(b->rec, b->rec_cap, b->rec_len + need, ok);
		if (!ok)
			return TV_E_NOMEM;
	}
	if (b->n == b->ix_cap) {
		bool ok = true;
		rec_ix *nt;
		STORE_GROW(b->ix, b->ix_cap, (size_t)b->n + 1, ok);
		if (!ok)
			return TV_E_NOMEM;
		nt = realloc(b->ix_tmp, b->ix_cap * sizeof *nt);
		if (!nt)
			return TV_E_NOMEM;
		b->ix_tmp = nt;
	}
	if (newctx) {
		if (ctx_reserve(b) != 0)
			return TV_E_NOMEM;
		ctx_find(b, &t, &slot); /* the table may have been rebuilt */
		b->ctx[ci] = t;
		b->slot[slot] = ci + 1;
		b->nctx++;
	}
	b->last_ctx = ci;

	p = b->rec + b->rec_len;
	tv_put_le64(p + RC_TS, pkt->ts_ns);
	tv_put_le32(p + RC_CAPLEN, pkt->caplen);
	tv_put_le32(p + RC_ORIGLEN, pkt->origlen);
	tv_put_le16(p + RC_CTX, (uint16_t)ci);
	tv_put_le16(p + RC_FLAGS, (uint16_t)((pkt->synth_l2 ? STORE_REC_SYNTH_L2 : 0) |
	                                     (pkt->decap_error ? STORE_REC_DECAP_ERROR : 0)));
	if (pkt->caplen)
		memcpy(p + STORE_REC_HDR_LEN, pkt->frame, pkt->caplen);

	b->ix[b->n].ts = pkt->ts_ns;
	b->ix[b->n].off = (uint32_t)b->rec_len;
	b->ix[b->n].len = (uint32_t)need;
	if (b->n == 0) {
		b->first_ts = b->max_ts = pkt->ts_ns;
	} else {
		if (pkt->ts_ns < b->max_ts)
			b->sorted = false;
		else
			b->max_ts = pkt->ts_ns;
		if (pkt->ts_ns < b->first_ts)
			b->first_ts = pkt->ts_ns;
	}
	b->n++;
	b->rec_len += need;
	b->orig_bytes += pkt->origlen;
	return 0;
}

bool store_builder_full(const store_builder *b)
{
	return (size_t)b->nctx * STORE_CTX_LEN + b->rec_len >= b->cfg.raw_target;
}

uint32_t store_builder_count(const store_builder *b)
{
	return b->n;
}

uint64_t store_builder_first_ts(const store_builder *b)
{
	return b->first_ts;
}

/* Stable bottom-up merge sort of the record index by (ts, arrival). */
static void sort_ix(rec_ix *a, rec_ix *tmp, uint32_t n)
{
	size_t width;
	rec_ix *src = a, *dst = tmp;
	for (width = 1; width < n; width *= 2) {
		size_t lo;
		for (lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				dst[k++] = src[j].ts < src[i].ts ? src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		{
			rec_ix *sw = src;
			src = dst;
			dst = sw;
		}
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof *a);
}

int store_builder_seal(store_builder *b, uint64_t chunk_id, const uint8_t **chunk, size_t *len,
                       store_chunk_meta *meta)
{
	size_t tag_len = STORE_TAG_HDR_LEN + b->taglen;
	size_t ctx_len = (size_t)b->nctx * STORE_CTX_LEN;
	size_t raw_len = tag_len + ctx_len + b->rec_len;
	size_t bound, zr, comp_len;
	bool ok = true;
	uint64_t last_ts;
	uint32_t i;
	uint8_t *h, *q;

	if (b->n == 0)
		return TV_E_RANGE;
	bound = ZSTD_compressBound(raw_len);
	STORE_GROW(b->payload, b->payload_cap, raw_len, ok);
	STORE_GROW(b->out, b->out_cap, STORE_CHUNK_HDR_LEN + bound, ok);
	if (!ok)
		return TV_E_NOMEM;

	tv_put_le32(b->payload, b->taglen);
	if (b->taglen)
		memcpy(b->payload + STORE_TAG_HDR_LEN, b->tag, b->taglen);
	for (i = 0; i < b->nctx; i++)
		store_ctx_put(b->payload + tag_len + (size_t)i * STORE_CTX_LEN, &b->ctx[i]);
	q = b->payload + tag_len + ctx_len;
	if (b->sorted) {
		memcpy(q, b->rec, b->rec_len);
		last_ts = b->max_ts;
	} else {
		sort_ix(b->ix, b->ix_tmp, b->n);
		for (i = 0; i < b->n; i++) {
			memcpy(q, b->rec + b->ix[i].off, b->ix[i].len);
			q += b->ix[i].len;
		}
		last_ts = b->ix[b->n - 1].ts;
	}

	zr = ZSTD_CCtx_reset(b->cctx, ZSTD_reset_session_only);
	if (!ZSTD_isError(zr))
		zr = ZSTD_compress2(b->cctx, b->out + STORE_CHUNK_HDR_LEN, bound, b->payload, raw_len);
	if (ZSTD_isError(zr))
		return TV_E_ZSTD;
	comp_len = zr;

	h = b->out;
	memcpy(h + CH_MAGIC, store_chunk_magic, sizeof store_chunk_magic);
	tv_put_le16(h + CH_VERSION, STORE_FORMAT_VERSION);
	tv_put_le16(h + CH_FLAGS, 0);
	tv_put_le32(h + CH_NCTX, b->nctx);
	tv_put_le64(h + CH_CHUNK_ID, chunk_id);
	tv_put_le64(h + CH_FIRST_TS, b->first_ts);
	tv_put_le64(h + CH_LAST_TS, last_ts);
	tv_put_le64(h + CH_ORIG_BYTES, b->orig_bytes);
	tv_put_le32(h + CH_NPKTS, b->n);
	tv_put_le32(h + CH_RAW_LEN, (uint32_t)raw_len);
	tv_put_le32(h + CH_COMP_LEN, (uint32_t)comp_len);
	tv_sha256(h + STORE_CHUNK_HDR_LEN, comp_len, h + CH_SHA256);
	tv_put_le32(h + CH_CRC, tv_crc32c(h, CH_CRC));

	if (meta) {
		memset(meta, 0, sizeof *meta);
		meta->chunk_id = chunk_id;
		meta->length = (uint32_t)(STORE_CHUNK_HDR_LEN + comp_len);
		meta->first_ts = b->first_ts;
		meta->last_ts = last_ts;
		meta->npkts = b->n;
		meta->raw_len = (uint32_t)raw_len;
		meta->comp_len = (uint32_t)comp_len;
		meta->nctx = b->nctx;
		meta->orig_bytes = b->orig_bytes;
		memcpy(meta->sha256, h + CH_SHA256, 32);
	}
	*chunk = b->out;
	*len = STORE_CHUNK_HDR_LEN + comp_len;
	store_builder_reset(b);
	return 0;
}

/* ------------------------------------------------------------- reader */

struct store_reader {
	ZSTD_DCtx *dctx;
	uint8_t *buf; /* the decoded payload */
	size_t buf_cap;
	tv_tunmeta *ctx;
	size_t ctx_cap;
	uint32_t *off; /* offset of each record in buf */
	const uint8_t *tag; /* into buf */
	uint32_t taglen;
	size_t off_cap;
	uint32_t n;
};

int store_reader_new(store_reader **out)
{
	store_reader *r = calloc(1, sizeof *r);
	*out = NULL;
	if (!r)
		return TV_E_NOMEM;
	r->dctx = ZSTD_createDCtx();
	if (!r->dctx) {
		free(r);
		return TV_E_NOMEM;
	}
	*out = r;
	return 0;
}

void store_reader_free(store_reader *r)
{
	if (!r)
		return;
	ZSTD_freeDCtx(r->dctx);
	free(r->buf);
	free(r->ctx);
	free(r->off);
	free(r);
}

int store_chunk_header_parse(const uint8_t *hdr, size_t len, store_chunk_meta *meta)
{
	uint16_t version;
	uint32_t nctx, npkts, raw_len, comp_len;
	uint64_t first_ts, last_ts;

	if (len < STORE_CHUNK_HDR_LEN) {
		size_t m = len < sizeof store_chunk_magic ? len : sizeof store_chunk_magic;
		return memcmp(hdr, store_chunk_magic, m) != 0 ? TV_E_FORMAT : TV_E_TRUNCATED;
	}
	if (memcmp(hdr + CH_MAGIC, store_chunk_magic, sizeof store_chunk_magic) != 0)
		return TV_E_FORMAT;
	version = tv_get_le16(hdr + CH_VERSION);
	if (version > STORE_FORMAT_VERSION)
		return TV_E_VERSION;
	if (version == 0)
		return TV_E_FORMAT;
	if (tv_get_le32(hdr + CH_CRC) != tv_crc32c(hdr, CH_CRC))
		return TV_E_CORRUPT;
	if (tv_get_le16(hdr + CH_FLAGS) != 0)
		return TV_E_CORRUPT;

	nctx = tv_get_le32(hdr + CH_NCTX);
	npkts = tv_get_le32(hdr + CH_NPKTS);
	raw_len = tv_get_le32(hdr + CH_RAW_LEN);
	comp_len = tv_get_le32(hdr + CH_COMP_LEN);
	first_ts = tv_get_le64(hdr + CH_FIRST_TS);
	last_ts = tv_get_le64(hdr + CH_LAST_TS);
	if (npkts == 0 || nctx == 0 || nctx > STORE_MAX_CTX || first_ts > last_ts ||
	    raw_len > STORE_MAX_RAW ||
	    STORE_TAG_HDR_LEN + (uint64_t)nctx * STORE_CTX_LEN + (uint64_t)npkts * STORE_REC_HDR_LEN >
	            raw_len ||
	    comp_len == 0 || comp_len > ZSTD_compressBound(raw_len))
		return TV_E_CORRUPT;

	if (meta) {
		memset(meta, 0, sizeof *meta);
		meta->chunk_id = tv_get_le64(hdr + CH_CHUNK_ID);
		meta->length = STORE_CHUNK_HDR_LEN + comp_len;
		meta->first_ts = first_ts;
		meta->last_ts = last_ts;
		meta->npkts = npkts;
		meta->raw_len = raw_len;
		meta->comp_len = comp_len;
		meta->nctx = nctx;
		meta->orig_bytes = tv_get_le64(hdr + CH_ORIG_BYTES);
		memcpy(meta->sha256, hdr + CH_SHA256, 32);
	}
	return 0;
}

/* Checks the decoded payload against the header and indexes the records. */
static int reader_index(store_reader *r, const store_chunk_meta *m)
{
	tv_cur c = tv_cur_make(r->buf, m->raw_len);
	uint64_t prev_ts = 0, orig = 0;
	uint32_t i;

	bool ok = true;

	uint32_t taglen;

	STORE_GROW(r->ctx, r->ctx_cap, m->nctx, ok);
	STORE_GROW(r->off, r->off_cap, m->npkts, ok);
	if (!ok)
		return TV_E_NOMEM;

	/* the producer tag block */
	if (c.left < STORE_TAG_HDR_LEN)
		return TV_E_CORRUPT;
	taglen = tv_get_le32(c.p);
	tv_cur_skip(&c, STORE_TAG_HDR_LEN);
	if (taglen > STORE_MAX_TAG || !tv_cur_skip(&c, taglen))
		return TV_E_CORRUPT;
	r->tag = c.p - taglen;
	r->taglen = taglen;

	for (i = 0; i < m->nctx; i++) {
		const uint8_t *p = c.p;
		if (!tv_cur_skip(&c, STORE_CTX_LEN) || !store_ctx_get(p, &r->ctx[i]))
			return TV_E_CORRUPT;
	}

	for (i = 0; i < m->npkts; i++) {
		const uint8_t *p = c.p;
		uint64_t ts;
		uint32_t caplen;
		if (!tv_cur_skip(&c, STORE_REC_HDR_LEN))
			return TV_E_CORRUPT;
		ts = tv_get_le64(p + RC_TS);
		caplen = tv_get_le32(p + RC_CAPLEN);
		if (caplen > STORE_MAX_CAPLEN || !tv_cur_skip(&c, caplen))
			return TV_E_CORRUPT;
		if (tv_get_le16(p + RC_CTX) >= m->nctx ||
		    (tv_get_le16(p + RC_FLAGS) & ~REC_FLAGS_KNOWN) != 0)
			return TV_E_CORRUPT;
		if (i == 0 ? ts != m->first_ts : ts < prev_ts)
			return TV_E_CORRUPT;
		prev_ts = ts;
		orig += tv_get_le32(p + RC_ORIGLEN);
		r->off[i] = (uint32_t)(p - r->buf);
	}
	if (c.left != 0 || prev_ts != m->last_ts || orig != m->orig_bytes)
		return TV_E_CORRUPT;
	return 0;
}

int store_reader_load(store_reader *r, const uint8_t *chunk, size_t len, bool verify_hash,
                      store_chunk_meta *meta)
{
	store_chunk_meta m;
	const uint8_t *frame;
	unsigned long long fcs;
	size_t fsz, zr;
	bool ok = true;
	int err;

	r->n = 0;
	err = store_chunk_header_parse(chunk, len, &m);
	if (err)
		return err;
	if (len - STORE_CHUNK_HDR_LEN < m.comp_len)
		return TV_E_TRUNCATED;
	if (len - STORE_CHUNK_HDR_LEN > m.comp_len)
		return TV_E_CORRUPT;
	frame = chunk + STORE_CHUNK_HDR_LEN;

	if (verify_hash) {
		uint8_t d[32];
		tv_sha256(frame, m.comp_len, d);
		if (memcmp(d, m.sha256, 32) != 0)
			return TV_E_HASH;
	}

	/* RFC 8878 §3.1.1: magic, then the frame header descriptor whose bit 2
	 * is Content_Checksum_flag.  We insist on it so that zstd checks the
	 * payload even when the caller skips the SHA-256. */
	if (m.comp_len < 5 || memcmp(frame, zstd_magic, 4) != 0 || (frame[4] & 0x04) == 0)
		return TV_E_CORRUPT;
	fcs = ZSTD_getFrameContentSize(frame, m.comp_len);
	if (fcs == ZSTD_CONTENTSIZE_UNKNOWN || fcs == ZSTD_CONTENTSIZE_ERROR ||
	    fcs > STORE_MAX_RAW || fcs != m.raw_len)
		return TV_E_CORRUPT;
	fsz = ZSTD_findFrameCompressedSize(frame, m.comp_len);
	if (ZSTD_isError(fsz) || fsz != m.comp_len)
		return TV_E_CORRUPT;

	STORE_GROW(r->buf, r->buf_cap, m.raw_len, ok);
	if (!ok)
		return TV_E_NOMEM;
	zr = ZSTD_decompressDCtx(r->dctx, r->buf, m.raw_len, frame, m.comp_len);
	if (ZSTD_isError(zr) || zr != m.raw_len)
		return TV_E_CORRUPT;

	err = reader_index(r, &m);
	if (err)
		return err;
	r->n = m.npkts;
	if (meta)
		*meta = m;
	return 0;
}

const uint8_t *store_reader_tag(const store_reader *r, uint32_t *len)
{
	*len = r->n ? r->taglen : 0;
	return r->n ? r->tag : NULL;
}

uint32_t store_reader_count(const store_reader *r)
{
	return r->n;
}

void store_reader_get(const store_reader *r, uint32_t i, store_rec *rec)
{
	const uint8_t *p;
	if (i >= r->n) {
		memset(rec, 0, sizeof *rec);
		return;
	}
	p = r->buf + r->off[i];
	rec->ts_ns = tv_get_le64(p + RC_TS);
	rec->caplen = tv_get_le32(p + RC_CAPLEN);
	rec->origlen = tv_get_le32(p + RC_ORIGLEN);
	rec->flags = tv_get_le16(p + RC_FLAGS);
	rec->tun = &r->ctx[tv_get_le16(p + RC_CTX)];
	rec->frame = p + STORE_REC_HDR_LEN;
}
