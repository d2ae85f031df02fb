/*
 * block.c — the chunk readers (store/FORMAT.md "Chunk"):
 * the header and head, one block, a whole chunk.
 *
 * Every length, count, index and reserved field is checked before
 * anything is handed out, so the accessors are plain array reads.  A
 * query reads single blocks, and of a block its header and section A
 * (one pread, located by the block table) and then only the tails of the
 * flows it returns, so the block's CRC covers its header and section A
 * and each flow directory entry carries the CRC of its tails: what is
 * read is checked on every read.  The SHA-256 of the body is for verify
 * and recovery.
 *
 * Section A is decoded into one reusable buffer per block reader (one
 * reused ZSTD_DCtx); section B is left where the caller read it and only
 * the tails of the records that are returned are copied.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static const uint8_t zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

/* ------------------------------------------------------ header, head */

int store_chunk_version(const uint8_t *p, size_t len, uint16_t *version)
{
	size_t m = len < sizeof store_chunk_magic ? len : sizeof store_chunk_magic;
	if (memcmp(p, store_chunk_magic, m) != 0)
		return TV_E_FORMAT;
	if (len < H2_VERSION + 2)
		return TV_E_TRUNCATED;
	*version = tv_get_le16(p + H2_VERSION);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int store_hdr_parse(const uint8_t *p, size_t len, store_hdr *out)
{
	store_hdr h;
	uint16_t version;
	int err;

	err = store_chunk_version(p, len, &version);
	if (err)
		return err;
	if (version == 0)
		return TV_E_FORMAT;
	if (version != STORE_FORMAT_VERSION)
		return TV_E_VERSION;
	if (len < STORE_V2_HDR_LEN)
		return TV_E_TRUNCATED;
	if (tv_get_le32(p + H2_CRC) != tv_crc32c(p, H2_CRC))
		return TV_E_CORRUPT;
	if (tv_get_le16(p + H2_FLAGS) != 0 || tv_get_le16(p + H2_RSV1) != 0 ||
	    tv_get_le32(p + H2_RSV2) != 0 || !all_zero(p + H2_RSV3, H2_CRC - H2_RSV3))
		return TV_E_CORRUPT;

	memset(&h, 0, sizeof h);
	h.nblocks = tv_get_le16(p + H2_NBLOCKS);
	h.chunk_id = tv_get_le64(p + H2_CHUNK_ID);
	h.first_ts = tv_get_le64(p + H2_FIRST_TS);
	h.last_ts = tv_get_le64(p + H2_LAST_TS);
	h.orig_bytes = tv_get_le64(p + H2_ORIG_BYTES);
	h.npkts = tv_get_le32(p + H2_NPKTS);
	h.nflows = tv_get_le32(p + H2_NFLOWS);
	h.raw_len = tv_get_le32(p + H2_RAW_LEN);
	h.body_len = tv_get_le32(p + H2_BODY_LEN);
	h.head_len = tv_get_le32(p + H2_HEAD_LEN);
	memcpy(h.sha256, p + H2_SHA256, 32);

	if (h.nblocks < 1 || h.nblocks > STORE_V2_MAX_BLOCKS || h.npkts < 1 ||
	    h.first_ts > h.last_ts || h.nflows < h.nblocks || h.nflows > h.npkts ||
	    h.raw_len > STORE_MAX_RAW || (uint64_t)h.raw_len > (uint64_t)h.npkts * STORE_MAX_CAPLEN ||
	    h.head_len < 4u + h.nblocks * STORE_V2_BLKREF_LEN ||
	    h.head_len > 4u + STORE_MAX_TAG + h.nblocks * STORE_V2_BLKREF_LEN ||
	    (uint64_t)h.body_len < (uint64_t)h.head_len + (uint64_t)h.nblocks * STORE_V2_BLK_HDR_LEN ||
	    h.body_len > STORE_V2_MAX_BODY)
		return TV_E_CORRUPT;
	if (out)
		*out = h;
	return 0;
}

void store_blkref_put(uint8_t *p, const store_blkref *r)
{
	tv_put_le32(p + BR_OFFSET, r->offset);
	tv_put_le32(p + BR_LEN, r->len);
	tv_put_le32(p + BR_NREC, r->nrec);
	tv_put_le32(p + BR_A_RAW, r->a_raw);
	tv_put_le32(p + BR_A_COMP, r->a_comp);
}

void store_blkref_get(const uint8_t *p, store_blkref *r)
{
	r->offset = tv_get_le32(p + BR_OFFSET);
	r->len = tv_get_le32(p + BR_LEN);
	r->nrec = tv_get_le32(p + BR_NREC);
	r->a_raw = tv_get_le32(p + BR_A_RAW);
	r->a_comp = tv_get_le32(p + BR_A_COMP);
}

int store_blkref_check(const store_blkref *r)
{
	/* at least a block header and its section A, which zstd's worst case
	 * bounds; what its records need of section A */
	if (r->len < STORE_V2_BLK_HDR_LEN || r->len > STORE_V2_MAX_BLOCK_LEN ||
	    r->a_comp > r->len - STORE_V2_BLK_HDR_LEN ||
	    (uint64_t)r->a_comp > (uint64_t)r->a_raw + r->a_raw / 256 + 64 || r->nrec < 1 ||
	    r->a_raw > STORE_V2_MAX_A_RAW || (uint64_t)r->a_raw < STORE_V2_MIN_A_RAW(r->nrec))
		return TV_E_CORRUPT;
	return 0;
}

int store_head_parse(const store_hdr *h, const uint8_t *head, size_t len,
                     store_blkref refs[STORE_V2_MAX_BLOCKS], const uint8_t **tag,
                     uint32_t *taglen)
{
	uint64_t pos = h->head_len, nrec = 0, a_sum = 0;
	uint32_t tl, i;
	const uint8_t *t;

	if (len < h->head_len)
		return TV_E_TRUNCATED;
	tl = tv_get_le32(head);
	if (tl > STORE_MAX_TAG || 4u + tl + (uint32_t)h->nblocks * STORE_V2_BLKREF_LEN != h->head_len)
		return TV_E_CORRUPT;
	t = head + 4 + tl;
	for (i = 0; i < h->nblocks; i++, t += STORE_V2_BLKREF_LEN) {
		store_blkref *r = &refs[i];
		store_blkref_get(t, r);
		/* back to back, in table order */
		if (r->offset != pos || store_blkref_check(r) != 0)
			return TV_E_CORRUPT;
		pos += r->len;
		nrec += r->nrec;
		a_sum += r->a_raw;
	}
	if (pos != h->body_len || nrec != h->npkts || a_sum > STORE_V2_MAX_A_CHUNK)
		return TV_E_CORRUPT;
	*tag = head + 4;
	*taglen = tl;
	return 0;
}

/* -------------------------------------------------------------- block */

struct store_block {
	ZSTD_DCtx *dctx;
	bool own_dctx;
	uint8_t *a; /* section A, decoded */
	size_t a_cap;
	tv_tunmeta *ctx;
	size_t ctx_cap;
	store_bflow *flows;
	size_t flows_cap;
	store_brec *recs;
	size_t recs_cap;
	uint32_t nctx, nflows, nrec;
	uint32_t a_comp, b_len;
	uint8_t *scratch; /* STORE_MAX_CAPLEN bytes, maybe shared */
	bool own_scratch;
	uint64_t decoded;
};

static store_block *block_make(ZSTD_DCtx *dctx, uint8_t *scratch)
{
	store_block *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->dctx = dctx;
	b->scratch = scratch;
	return b;
}

int store_block_new(store_block **out)
{
	store_block *b;
	*out = NULL;
	b = block_make(NULL, NULL);
	if (!b)
		return TV_E_NOMEM;
	b->own_dctx = b->own_scratch = true;
	b->dctx = ZSTD_createDCtx();
	b->scratch = malloc(STORE_MAX_CAPLEN);
	if (!b->dctx || !b->scratch) {
		store_block_free(b);
		return TV_E_NOMEM;
	}
	*out = b;
	return 0;
}

int store_block_new_sharing(store_block *with, store_block **out)
{
	*out = block_make(with->dctx, with->scratch);
	return *out ? 0 : TV_E_NOMEM;
}

void store_block_free(store_block *b)
{
	if (!b)
		return;
	if (b->own_dctx)
		ZSTD_freeDCtx(b->dctx);
	if (b->own_scratch)
		free(b->scratch);
	free(b->a);
	free(b->ctx);
	free(b->flows);
	free(b->recs);
	free(b);
}

/* Decodes section A (a_comp stored bytes at s) into b->a. */
static int decode_a(store_block *b, const uint8_t *s, uint32_t a_comp, uint32_t a_raw, bool zstd)
{
	bool ok = true;
	if (!zstd) {
		if (a_comp != a_raw)
			return TV_E_CORRUPT;
	} else {
		unsigned long long fcs;
		size_t fsz;
		/* RFC 8878 §3.1.1: one frame, no skippable frame, whose header
		 * declares the content size, ending exactly at a_comp. */
		if (a_comp < 6 || memcmp(s, zstd_magic, 4) != 0 ||
		    a_comp > ZSTD_compressBound(a_raw))
			return TV_E_CORRUPT;
		fcs = ZSTD_getFrameContentSize(s, a_comp);
		if (fcs == ZSTD_CONTENTSIZE_UNKNOWN || fcs == ZSTD_CONTENTSIZE_ERROR || fcs != a_raw)
			return TV_E_CORRUPT;
		fsz = ZSTD_findFrameCompressedSize(s, a_comp);
		if (ZSTD_isError(fsz) || fsz != a_comp)
			return TV_E_CORRUPT;
	}
	STORE_GROW(b->a, b->a_cap, a_raw, ok);
	if (!ok)
		return TV_E_NOMEM;
	if (!zstd) {
		memcpy(b->a, s, a_raw);
	} else {
		size_t zr = ZSTD_decompressDCtx(b->dctx, b->a, a_raw, s, a_comp);
		if (ZSTD_isError(zr) || zr != a_raw)
			return TV_E_CORRUPT;
	}
	return 0;
}

/* Checks decoded section A: context table, flow directory, records. */
static int index_a(store_block *b, uint32_t a_raw, uint32_t b_len, const store_hdr *h)
{
	uint8_t *a = b->a;
	const uint8_t *c_ts, *c_seq, *c_cap, *c_extra, *c_alen, *c_hlen, *c_flags;
	uint64_t need, b_off = 0, nrec_sum = 0, hsum = 0;
	uint32_t i, k, ri = 0;
	size_t pos, h_pos, n = b->nrec;
	bool ok = true;

	STORE_GROW(b->ctx, b->ctx_cap, b->nctx, ok);
	STORE_GROW(b->flows, b->flows_cap, b->nflows, ok);
	STORE_GROW(b->recs, b->recs_cap, b->nrec, ok);
	if (!ok)
		return TV_E_NOMEM;

	for (i = 0; i < b->nctx; i++)
		if (!store_ctx_get(a + (size_t)i * STORE_CTX_LEN, &b->ctx[i]))
			return TV_E_CORRUPT;
	pos = (size_t)b->nctx * STORE_CTX_LEN;
	for (i = 0; i < b->nflows; i++, pos += STORE_V2_DIR_LEN) {
		const uint8_t *d = a + pos;
		uint16_t ctx = tv_get_le16(d + FD_CTX);
		uint32_t fn = tv_get_le32(d + FD_NREC);
		if (ctx >= b->nctx || tv_get_le16(d + FD_RSV) != 0 || fn < 1 ||
		    nrec_sum + fn > b->nrec)
			return TV_E_CORRUPT;
		b->flows[i].key = d + FD_KEY;
		b->flows[i].tun = &b->ctx[ctx];
		b->flows[i].nrec = fn;
		b->flows[i].first = (uint32_t)nrec_sum;
		b->flows[i].tail_crc = tv_get_le32(d + FD_TAIL_CRC);
		b->flows[i].tails = NULL;
		nrec_sum += fn;
	}
	if (nrec_sum != b->nrec)
		return TV_E_CORRUPT;

	/* the record columns (FORMAT.md "Section A"), byte planes; a_raw
	 * covers them */
	c_ts = a + pos;
	c_seq = c_ts + 8 * n;
	c_cap = c_seq + 4 * n;
	c_extra = c_cap + 4 * n;
	c_alen = c_extra + 4 * n;
	c_hlen = c_alen + 4 * n;
	c_flags = c_hlen + 2 * n;
	pos += (size_t)STORE_V2_REC_HDR_LEN * n;
	/* the header area, then the payload area from pos */
	for (ri = 0; ri < n; ri++)
		hsum += store_col_get(c_hlen, n, ri, 2);
	if (hsum > a_raw - pos)
		return TV_E_CORRUPT;
	h_pos = pos;
	pos += (size_t)hsum;

	for (i = 0, ri = 0; i < b->nflows; i++) {
		const store_brec *prev = NULL;
		b->flows[i].tail_off = (uint32_t)b_off;
		for (k = 0; k < b->flows[i].nrec; k++, ri++) {
			store_brec *o = &b->recs[ri];
			uint64_t ts = store_col_get(c_ts, n, ri, 8);
			uint32_t seq = (uint32_t)store_col_get(c_seq, n, ri, 4);
			uint32_t hlen = (uint32_t)store_col_get(c_hlen, n, ri, 2);
			if (prev) {
				/* deltas from the previous record of the flow: time
				 * never goes back, equal times keep capture order */
				if (ts > UINT64_MAX - prev->ts_ns)
					return TV_E_CORRUPT;
				ts += prev->ts_ns;
				seq += prev->seq;
				if (ts == prev->ts_ns && seq <= prev->seq)
					return TV_E_CORRUPT;
			}
			o->ts_ns = ts;
			o->seq = seq;
			o->caplen = (uint32_t)store_col_get(c_cap, n, ri, 4);
			o->origlen = o->caplen + (uint32_t)store_col_get(c_extra, n, ri, 4);
			o->alen = (uint32_t)store_col_get(c_alen, n, ri, 4);
			o->flags = (uint16_t)store_col_get(c_flags, n, ri, 2);
			o->flow = (uint16_t)i;
			/* the header bytes lie within the area (hsum is their sum) */
			if (o->caplen > STORE_MAX_CAPLEN || o->alen > o->caplen || hlen > o->alen ||
			    o->alen - hlen > a_raw - pos || (o->flags & ~STORE_REC_FLAGS_KNOWN) != 0)
				return TV_E_CORRUPT;
			if (h && (o->seq >= h->npkts || o->ts_ns < h->first_ts || o->ts_ns > h->last_ts))
				return TV_E_CORRUPT;
			o->a_off = (uint32_t)h_pos;
			o->hlen = hlen;
			o->p_off = (uint32_t)pos;
			if (prev)
				store_xor(a + h_pos, a + prev->a_off, hlen < prev->hlen ? hlen : prev->hlen);
			h_pos += hlen;
			pos += o->alen - hlen;
			need = (uint64_t)o->caplen - o->alen;
			if (need > b_len - b_off)
				return TV_E_CORRUPT;
			o->b_off = (uint32_t)b_off;
			b_off += need;
			prev = o;
		}
		b->flows[i].tail_len = (uint32_t)b_off - b->flows[i].tail_off;
		/* no tails: nothing to give, nothing to check */
		if (b->flows[i].tail_len == 0 && b->flows[i].tail_crc != 0)
			return TV_E_CORRUPT;
	}
	if (pos != a_raw || b_off != b_len)
		return TV_E_CORRUPT;
	return 0;
}

/* Checks the block's first 32 + a_comp bytes (p, given a_len bytes, and
 * the block's whole stored length full_len when known: 0 otherwise) and
 * decodes section A; no flow has its tails yet. */
static int decode_head_a(store_block *b, const uint8_t *p, size_t a_len, uint64_t full_len,
                         const store_hdr *h, const store_blkref *ref)
{
	uint32_t a_comp, a_raw, b_len, nrec, flags;
	uint16_t nflows, nctx;
	int err;

	b->nrec = b->nflows = b->nctx = 0;
	b->a_comp = b->b_len = 0;
	if (a_len < STORE_V2_BLK_HDR_LEN)
		return TV_E_TRUNCATED;
	a_comp = tv_get_le32(p + BH_A_COMP);
	a_raw = tv_get_le32(p + BH_A_RAW);
	b_len = tv_get_le32(p + BH_B_LEN);
	nrec = tv_get_le32(p + BH_NREC);
	nflows = tv_get_le16(p + BH_NFLOWS);
	nctx = tv_get_le16(p + BH_NCTX);
	flags = tv_get_le16(p + BH_FLAGS);
	/* the caller read exactly the block (or its header and section A):
	 * its lengths must add up */
	if ((uint64_t)STORE_V2_BLK_HDR_LEN + a_comp != a_len ||
	    (full_len && (uint64_t)STORE_V2_BLK_HDR_LEN + a_comp + b_len != full_len))
		return TV_E_CORRUPT;
	if (ref && ((uint64_t)STORE_V2_BLK_HDR_LEN + a_comp + b_len != ref->len ||
	            ref->a_comp != a_comp || ref->nrec != nrec || ref->a_raw != a_raw))
		return TV_E_CORRUPT;
	if (tv_get_le32(p + BH_CRC) !=
	    tv_crc32c_extend(tv_crc32c(p, BH_CRC), p + STORE_V2_BLK_HDR_LEN, a_comp))
		return TV_E_CORRUPT;
	if ((flags & ~BH_FLAG_ZSTD) != 0 || tv_get_le16(p + BH_RSV1) != 0 ||
	    tv_get_le32(p + BH_RSV2) != 0 || nrec < 1 || nflows < 1 || nctx < 1 || nctx > nflows ||
	    nflows > nrec || a_raw > STORE_V2_MAX_A_RAW ||
	    (uint64_t)a_raw < (uint64_t)nctx * STORE_CTX_LEN + (uint64_t)nflows * STORE_V2_DIR_LEN +
	                          (uint64_t)nrec * STORE_V2_REC_HDR_LEN)
		return TV_E_CORRUPT;

	err = decode_a(b, p + STORE_V2_BLK_HDR_LEN, a_comp, a_raw, (flags & BH_FLAG_ZSTD) != 0);
	if (err)
		return err;
	b->decoded += a_raw;
	b->nctx = nctx;
	b->nflows = nflows;
	b->nrec = nrec;
	err = index_a(b, a_raw, b_len, h);
	if (err) {
		b->nrec = b->nflows = b->nctx = 0;
		return err;
	}
	b->a_comp = a_comp;
	b->b_len = b_len;
	return 0;
}

int store_block_decode_a(store_block *b, const uint8_t *p, size_t len, const store_hdr *h,
                         const store_blkref *ref)
{
	return decode_head_a(b, p, len, 0, h, ref);
}

int store_block_decode(store_block *b, const uint8_t *p, size_t len, const store_hdr *h,
                       const store_blkref *ref)
{
	uint32_t a_comp;
	int err;

	b->nrec = b->nflows = b->nctx = 0;
	if (len < STORE_V2_BLK_HDR_LEN)
		return TV_E_TRUNCATED;
	a_comp = tv_get_le32(p + BH_A_COMP);
	if ((uint64_t)STORE_V2_BLK_HDR_LEN + a_comp > len)
		return TV_E_CORRUPT;
	err = decode_head_a(b, p, STORE_V2_BLK_HDR_LEN + (size_t)a_comp, len, h, ref);
	if (err)
		return err;
	err = store_block_tails_put(b, 0, b->nflows, p + STORE_V2_BLK_HDR_LEN + a_comp, b->b_len);
	if (err) {
		b->nrec = b->nflows = b->nctx = 0;
		return err == TV_E_RANGE ? TV_E_CORRUPT : err;
	}
	return 0;
}

uint32_t store_block_a_comp(const store_block *b)
{
	return b->nrec ? b->a_comp : 0;
}

int store_block_tails_put(store_block *b, uint32_t f0, uint32_t f1, const uint8_t *p,
                          size_t len)
{
	static const uint8_t none[1];
	uint32_t i, start;

	if (f0 >= f1 || f1 > b->nflows)
		return TV_E_RANGE;
	start = b->flows[f0].tail_off;
	if (len != (uint64_t)b->flows[f1 - 1].tail_off + b->flows[f1 - 1].tail_len - start)
		return TV_E_RANGE;
	for (i = f0; i < f1; i++) {
		const store_bflow *f = &b->flows[i];
		if (f->tail_len && tv_crc32c(p + (f->tail_off - start), f->tail_len) != f->tail_crc)
			return TV_E_CORRUPT;
	}
	for (i = f0; i < f1; i++)
		b->flows[i].tails = b->flows[i].tail_len ? p + (b->flows[i].tail_off - start) : none;
	return 0;
}

uint32_t store_block_nflows(const store_block *b)
{
	return b->nflows;
}

uint32_t store_block_nrec(const store_block *b)
{
	return b->nrec;
}

const store_bflow *store_block_flow(const store_block *b, uint32_t i)
{
	return i < b->nflows ? &b->flows[i] : NULL;
}

const store_brec *store_block_rec(const store_block *b, uint32_t i)
{
	return i < b->nrec ? &b->recs[i] : NULL;
}

const uint8_t *store_block_frame(store_block *b, uint32_t i, uint8_t *scratch)
{
	const store_brec *r;
	uint32_t tail;
	if (i >= b->nrec)
		return NULL;
	r = &b->recs[i];
	tail = r->caplen - r->alen;
	if (tail && !b->flows[r->flow].tails)
		return NULL; /* store_block_decode_a: its flow's tails not given */
	/* in one piece: headers only, or (hlen 0) payload only */
	if (tail == 0 && r->hlen == r->alen)
		return b->a + r->a_off;
	if (tail == 0 && r->hlen == 0)
		return b->a + r->p_off;
	if (!scratch)
		scratch = b->scratch;
	memcpy(scratch, b->a + r->a_off, r->hlen);
	memcpy(scratch + r->hlen, b->a + r->p_off, r->alen - r->hlen);
	if (tail) {
		const store_bflow *f = &b->flows[r->flow];
		memcpy(scratch + r->alen, f->tails + (r->b_off - f->tail_off), tail);
		b->decoded += tail;
	}
	return scratch;
}

uint64_t store_block_decoded(const store_block *b)
{
	return b->decoded;
}

/* ------------------------------------------------------- whole chunk */

/* One record of the chunk, by position in (ts, seq) order after a load. */
typedef struct ck_ord {
	uint64_t ts;
	uint32_t rec;
	uint32_t blk;
} ck_ord;

struct store_chunk {
	ZSTD_DCtx *dctx;  /* shared by the blocks */
	uint8_t *scratch; /* shared by the blocks */
	store_block *blk[STORE_V2_MAX_BLOCKS];
	store_blkref refs[STORE_V2_MAX_BLOCKS];
	uint32_t nblocks;
	const uint8_t *tag;
	uint32_t taglen;
	uint64_t *seen; /* bitmap of the seqs met */
	size_t seen_cap;
	ck_ord *ord, *tmp;
	size_t ord_cap, tmp_cap;
	uint32_t n;
};

int store_chunk_new(store_chunk **out)
{
	store_chunk *c = calloc(1, sizeof *c);
	*out = NULL;
	if (!c)
		return TV_E_NOMEM;
	c->dctx = ZSTD_createDCtx();
	c->scratch = malloc(STORE_MAX_CAPLEN);
	if (!c->dctx || !c->scratch) {
		store_chunk_free(c);
		return TV_E_NOMEM;
	}
	*out = c;
	return 0;
}

void store_chunk_free(store_chunk *c)
{
	uint32_t i;
	if (!c)
		return;
	for (i = 0; i < STORE_V2_MAX_BLOCKS; i++)
		store_block_free(c->blk[i]);
	ZSTD_freeDCtx(c->dctx);
	free(c->scratch);
	free(c->seen);
	free(c->ord);
	free(c->tmp);
	free(c);
}

/* Stable bottom-up merge sort by ts; the input is in seq order. */
static void sort_ord(ck_ord *a, ck_ord *tmp, uint32_t n)
{
	ck_ord *src = a, *dst = tmp;
	size_t width, i;
	for (i = 1; i < n && a[i - 1].ts <= a[i].ts; i++)
		;
	if (i >= n)
		return; /* capture order is usually time order already */
	for (width = 1; width < n; width *= 2) {
		size_t lo;
		for (lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t x = lo, y = mid, k = lo;
			while (x < mid && y < hi)
				dst[k++] = src[y].ts < src[x].ts ? src[y++] : src[x++];
			while (x < mid)
				dst[k++] = src[x++];
			while (y < hi)
				dst[k++] = src[y++];
		}
		{
			ck_ord *sw = src;
			src = dst;
			dst = sw;
		}
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof *a);
}

int store_chunk_load(store_chunk *c, const uint8_t *p, size_t len, unsigned flags,
                     store_hdr *hdr)
{
	store_hdr h;
	const uint8_t *body;
	uint64_t orig = 0, raw = 0, min_ts = UINT64_MAX, max_ts = 0, nflows = 0;
	uint32_t i, k;
	bool ok = true;
	int err;

	c->n = 0;
	c->nblocks = 0;
	err = store_hdr_parse(p, len, &h);
	if (err)
		return err;
	if (len - STORE_V2_HDR_LEN < h.body_len)
		return TV_E_TRUNCATED;
	if (len - STORE_V2_HDR_LEN > h.body_len)
		return TV_E_CORRUPT;
	body = p + STORE_V2_HDR_LEN;
	if (flags & STORE_LOAD_HASH) {
		uint8_t d[32];
		tv_sha256(body, h.body_len, d);
		if (memcmp(d, h.sha256, 32) != 0)
			return TV_E_HASH;
	}
	err = store_head_parse(&h, body, h.body_len, c->refs, &c->tag, &c->taglen);
	if (err)
		return err;

	STORE_GROW(c->seen, c->seen_cap, ((size_t)h.npkts + 63) / 64, ok);
	STORE_GROW(c->ord, c->ord_cap, h.npkts, ok);
	STORE_GROW(c->tmp, c->tmp_cap, h.npkts, ok);
	if (!ok)
		return TV_E_NOMEM;
	memset(c->seen, 0, ((size_t)h.npkts + 63) / 64 * sizeof *c->seen);

	for (i = 0; i < h.nblocks; i++) {
		store_block *b = c->blk[i];
		if (!b) {
			b = block_make(c->dctx, c->scratch);
			if (!b)
				return TV_E_NOMEM;
			c->blk[i] = b;
		}
		err = store_block_decode(b, body + c->refs[i].offset, c->refs[i].len, &h, &c->refs[i]);
		if (err)
			return err;
		nflows += b->nflows;
		for (k = 0; k < b->nrec; k++) {
			const store_brec *r = &b->recs[k];
			uint64_t bit = 1ull << (r->seq & 63);
			if (c->seen[r->seq >> 6] & bit)
				return TV_E_CORRUPT; /* a seq twice */
			c->seen[r->seq >> 6] |= bit;
			c->ord[r->seq].ts = r->ts_ns;
			c->ord[r->seq].rec = k;
			c->ord[r->seq].blk = i;
			orig += r->origlen;
			raw += r->caplen;
			if (r->ts_ns < min_ts)
				min_ts = r->ts_ns;
			if (r->ts_ns > max_ts)
				max_ts = r->ts_ns;
		}
	}
	/* The blocks hold npkts records (head check) with distinct seqs below
	 * npkts (block check, bitmap), so every seq occurs exactly once. */
	if (nflows != h.nflows || min_ts != h.first_ts || max_ts != h.last_ts ||
	    orig != h.orig_bytes || raw != h.raw_len)
		return TV_E_CORRUPT;
	sort_ord(c->ord, c->tmp, h.npkts);
	c->nblocks = h.nblocks;
	c->n = h.npkts;
	if (hdr)
		*hdr = h;
	return 0;
}

const uint8_t *store_chunk_tag(const store_chunk *c, uint32_t *len)
{
	*len = c->n ? c->taglen : 0;
	return c->n ? c->tag : NULL;
}

uint32_t store_chunk_nblocks(const store_chunk *c)
{
	return c->nblocks;
}

const store_block *store_chunk_block(const store_chunk *c, uint32_t i)
{
	return i < c->nblocks ? c->blk[i] : NULL;
}

uint32_t store_chunk_count(const store_chunk *c)
{
	return c->n;
}

const store_brec *store_chunk_rec(const store_chunk *c, uint32_t k, uint32_t *block)
{
	if (k >= c->n)
		return NULL;
	if (block)
		*block = c->ord[k].blk;
	return &c->blk[c->ord[k].blk]->recs[c->ord[k].rec];
}

const uint8_t *store_chunk_frame(store_chunk *c, uint32_t k, uint8_t *scratch)
{
	if (k >= c->n)
		return NULL;
	return store_block_frame(c->blk[c->ord[k].blk], c->ord[k].rec, scratch);
}
