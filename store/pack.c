/*
 * pack.c — the chunk writer (store/FORMAT.md "Chunk").
 *
 * Per packet, add() does the entropy test on the payload while it is in
 * the cache, finds the packet's tunnel context and flow in two open-
 * addressing tables (each with a last-hit cache: packets of one flow and
 * one mirror session come in runs), copies the frame into one buffer in
 * arrival order and appends a 32-byte record.  Nothing is allocated once
 * the buffers have grown to a chunk's size.
 *
 * seal() groups the records by flow with one counting pass (each flow's
 * records in arrival order, so only a flow whose timestamps went
 * backwards needs a sort), orders the flows by class (flow_class), lays
 * them out in blocks, and writes each block: section A (contexts,
 * directory, record columns in byte planes, the header area with each
 * record's headers XORed against the previous record of the flow, the
 * payload area) built in one reused buffer and compressed with one
 * reused ZSTD_CCtx, flushed between the parts, the tails copied after
 * it, the CRC over both.  Then the head, the SHA-256 of the body and the
 * header.
 *
 * Why the layout cannot need more than 64 blocks.  A block that shares
 * flows is closed only when it is not empty and the next flow would take
 * it past the target T; that flow then starts the next block.  A block
 * of its own for a large flow holds more than T (layout() says why).  So
 * any two consecutive blocks hold more than T bytes of section A
 * together, and 65 blocks would hold more than 32 T in their first 64.
 * Section A of the chunk is at most the record bytes (28 + alen each)
 * plus 96 bytes (a flow directory entry and a context entry) per piece of
 * a flow, and there are at most (flows + 63) pieces in 64 blocks.  add()
 * refuses a packet that would take that sum, a_bound below, past 32 T.
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
/* for ZSTD_c_stableInBuffer, an experimental parameter (see store_packer_new) */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

_Static_assert(sizeof(tv_tunmeta) == 48, "tv_tunmeta layout changed: update the context hash");

/* Section-A bytes a new piece of a flow may add to a block besides its
 * records: its directory entry and, at worst, a context table entry. */
#define PIECE_OVERHEAD (STORE_V2_DIR_LEN + STORE_CTX_LEN)
#define BLOCK_TARGET_MIN (16u << 10)
/* 32 KiB: a query decodes whole blocks, so a host whose flows are few in
 * each chunk costs about one block's section A per chunk; on the 1 GiB
 * enterprise capture 32 KiB instead of 64 KiB halved what a spread
 * client's query decodes (21.3 -> 11.1 MB) for a store 1.2 % larger. */
#define BLOCK_TARGET_DEFAULT (32u << 10)
#define BLOCK_TARGET_MAX (1u << 20)
/* the entropy test's default threshold (FORMAT.md "Writer's rules") */
#define SPLIT_PCT_DEFAULT 85
/* Header length when the caller does not know where the payload starts. */
#define HLEN_DEFAULT 64
#define HLEN_MAX 0xFFFFu

/* One packet, in arrival order (its index is its seq). */
typedef struct pk_rec {
	uint64_t ts;
	uint32_t off;     /* frame bytes in p->data */
	uint32_t caplen;
	uint32_t origlen;
	uint32_t alen;    /* frame bytes that go to section A */
	uint32_t flow;
	uint16_t flags;   /* STORE_REC_* */
	uint16_t hlen;    /* leading frame bytes that go to the header area
	                   * (the headers; <= alen) */
} pk_rec;

typedef struct pk_flow {
	uint8_t key[STORE_V2_KEY_LEN];
	uint32_t ctx;      /* index in p->ctx */
	uint32_t cls;      /* flow_class() of its first packet */
	uint32_t srv, cli; /* flow_ends() of its first packet */
	uint32_t hash;
	uint32_t nrec;
	uint32_t start;    /* seal: its first position in p->order */
	uint64_t a_bytes;  /* sum of 28 + alen over its records */
	uint64_t last_ts;  /* largest ts so far */
	uint64_t blocks;   /* seal: bitmap of the blocks that hold it */
	bool unsorted;     /* a packet came with a ts below last_ts */
} pk_flow;

typedef struct pk_ctx {
	tv_tunmeta t;
	uint32_t hash;
	uint32_t pad;
} pk_ctx;

/* A run of one flow's records inside one block. */
typedef struct pk_piece {
	uint32_t flow;
	uint32_t pos;   /* first position in p->order */
	uint32_t count;
} pk_piece;

typedef struct pk_block {
	uint32_t piece0, npieces;
	uint32_t nrec;
	uint32_t a_raw;
	uint32_t b_len;
} pk_block;

struct store_packer {
	store_packer_cfg cfg;
	ZSTD_CCtx *cctx;
	uint64_t seed;
	uint16_t thr[257]; /* distinct-byte threshold for m = 1..256 payload bytes */

	uint8_t *data; /* frames in arrival order */
	size_t data_len, data_cap;
	pk_rec *rec;
	size_t rec_cap;
	uint32_t n;

	pk_flow *flow;
	size_t flow_cap;
	uint32_t nflows;
	uint32_t *fslot; /* flow table: 0 empty, else flow index + 1 */
	size_t nfslot;   /* power of two, >= 2 * (nflows + 1) */
	uint32_t last_flow;

	pk_ctx *ctx;
	size_t ctx_cap;
	uint32_t nctx;
	uint32_t *cslot; /* context table, as fslot */
	size_t ncslot;
	uint32_t last_ctx;

	uint64_t first_ts, last_ts, orig_bytes;
	uint64_t a_bound; /* see the top of the file */
	uint64_t a_limit; /* 32 * block_target */
	uint32_t split_pkts;

	uint8_t tag[STORE_MAX_TAG];
	uint32_t taglen;

	/* seal */
	uint32_t *order, *tmp;
	size_t order_cap, tmp_cap;
	uint64_t *forder, *ftmp; /* flows in chunk order: class << 32 | index */
	size_t forder_cap, ftmp_cap;
	uint32_t *stamp; /* per context: the block stamp it was last put in */
	uint16_t *cmap;  /* per context: its index in that block's table */
	size_t stamp_cap, cmap_cap;
	uint32_t cur_stamp;
	uint32_t *bctx; /* the contexts of the block being written */
	size_t bctx_cap;
	pk_piece *piece;
	size_t piece_cap;
	uint32_t npieces;
	pk_block blk[STORE_V2_MAX_BLOCKS];
	uint32_t nblocks;
	uint8_t *abuf;
	size_t abuf_cap;
	uint8_t *out;
	size_t out_cap;
	bool sealed;
	store_pack_stats st;
};

void store_packer_cfg_default(store_packer_cfg *cfg)
{
	cfg->raw_target = 1u << 20;
	cfg->block_target = BLOCK_TARGET_DEFAULT;
	cfg->zstd_level = 3;
	cfg->split_min = 128;
	cfg->split_pct = SPLIT_PCT_DEFAULT;
}

/*
 * Distinct byte values expected among m uniformly random bytes:
 * 256 * (1 - (255/256)^m).  thr[m] is the smallest count that is at least
 * pct percent of it (m = 256, pct = 85: 138; m = 128: 86).
 */
static void make_thresholds(uint16_t thr[257], uint32_t pct)
{
	double keep = 1.0;
	uint32_t m;
	thr[0] = 1;
	for (m = 1; m <= 256; m++) {
		double want, t;
		keep *= 255.0 / 256.0;
		want = (double)pct / 100.0 * 256.0 * (1.0 - keep);
		t = (double)(uint32_t)want;
		thr[m] = (uint16_t)(t < want ? t + 1 : t);
	}
}

int store_packer_new(const store_packer_cfg *cfg, store_packer **out)
{
	store_packer *p;
	size_t zr;
	bool ok = true;
	int err = TV_E_NOMEM;
	*out = NULL;
	p = calloc(1, sizeof *p);
	if (!p)
		return TV_E_NOMEM;
	store_packer_cfg_default(&p->cfg);
	if (cfg)
		p->cfg = *cfg;
	if (p->cfg.raw_target == 0)
		p->cfg.raw_target = 1u << 20;
	if (p->cfg.raw_target > STORE_MAX_RAW)
		p->cfg.raw_target = STORE_MAX_RAW;
	if (p->cfg.block_target < BLOCK_TARGET_MIN)
		p->cfg.block_target = p->cfg.block_target ? BLOCK_TARGET_MIN : BLOCK_TARGET_DEFAULT;
	if (p->cfg.block_target > BLOCK_TARGET_MAX)
		p->cfg.block_target = BLOCK_TARGET_MAX;
	if (p->cfg.split_pct == 0 || p->cfg.split_pct > 100)
		p->cfg.split_pct = SPLIT_PCT_DEFAULT;
	p->a_limit = 32ull * p->cfg.block_target;
	make_thresholds(p->thr, p->cfg.split_pct);
	p->seed = tv_hash_seed();

	p->cctx = ZSTD_createCCtx();
	if (!p->cctx)
		goto fail;
	/* No content checksum: the block CRC covers the stored bytes and is
	 * cheaper.  The content size is what readers check a_raw against. */
	zr = ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_compressionLevel, p->cfg.zstd_level);
	if (!ZSTD_isError(zr))
		zr = ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_checksumFlag, 0);
	if (!ZSTD_isError(zr))
		zr = ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_contentSizeFlag, 1);
	if (ZSTD_isError(zr)) {
		err = TV_E_ZSTD;
		goto fail;
	}
	/* compress_a hands zstd section A in three growing pieces of one
	 * buffer that stays put until the frame ends: zstd may then read it
	 * in place instead of copying it into a window buffer of its own.  The
	 * parameter is experimental, so it is set only when the libzstd
	 * running is the one the build saw; refused, the copying mode stays
	 * (same output). */
	if (ZSTD_versionNumber() == ZSTD_VERSION_NUMBER &&
	    ZSTD_isError(ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_stableInBuffer, 1)))
		(void)ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_stableInBuffer, 0);
	/* Preallocate what a typical chunk needs so that steady state never
	 * allocates; larger chunks grow the buffers once. */
	STORE_GROW(p->data, p->data_cap, p->cfg.raw_target, ok);
	STORE_GROW(p->rec, p->rec_cap, 4096, ok);
	STORE_GROW(p->flow, p->flow_cap, 1024, ok);
	STORE_GROW(p->ctx, p->ctx_cap, 16, ok);
	STORE_GROW(p->abuf, p->abuf_cap, (size_t)p->cfg.block_target + STORE_MAX_CAPLEN + 1024, ok);
	if (!ok)
		goto fail;
	p->nfslot = 4096;
	p->fslot = calloc(p->nfslot, sizeof *p->fslot);
	p->ncslot = 64;
	p->cslot = calloc(p->ncslot, sizeof *p->cslot);
	if (!p->fslot || !p->cslot)
		goto fail;
	store_packer_reset(p);
	*out = p;
	return 0;
fail:
	store_packer_free(p);
	return err;
}

void store_packer_free(store_packer *p)
{
	if (!p)
		return;
	ZSTD_freeCCtx(p->cctx);
	free(p->data);
	free(p->rec);
	free(p->flow);
	free(p->fslot);
	free(p->ctx);
	free(p->cslot);
	free(p->order);
	free(p->tmp);
	free(p->forder);
	free(p->ftmp);
	free(p->stamp);
	free(p->cmap);
	free(p->bctx);
	free(p->piece);
	free(p->abuf);
	free(p->out);
	free(p);
}

void store_packer_reset(store_packer *p)
{
	if (p->nflows > 0)
		memset(p->fslot, 0, p->nfslot * sizeof *p->fslot);
	if (p->nctx > 0)
		memset(p->cslot, 0, p->ncslot * sizeof *p->cslot);
	p->data_len = 0;
	p->n = 0;
	p->nflows = 0;
	p->nctx = 0;
	p->last_flow = 0;
	p->last_ctx = 0;
	p->first_ts = p->last_ts = p->orig_bytes = 0;
	p->a_bound = (uint64_t)(STORE_V2_MAX_BLOCKS - 1) * PIECE_OVERHEAD;
	p->split_pkts = 0;
	p->taglen = 0;
	p->nblocks = 0;
	p->npieces = 0;
	p->sealed = false;
}

int store_packer_set_tag(store_packer *p, const uint8_t *tag, uint32_t len)
{
	if (len > STORE_MAX_TAG)
		return TV_E_RANGE;
	if (p->sealed)
		store_packer_reset(p);
	if (len)
		memcpy(p->tag, tag, len);
	p->taglen = len;
	return 0;
}

uint32_t store_packer_count(const store_packer *p)
{
	return p->sealed ? 0 : p->n;
}

uint64_t store_packer_first_ts(const store_packer *p)
{
	return p->sealed ? 0 : p->first_ts;
}

bool store_packer_full(const store_packer *p)
{
	return !p->sealed && p->data_len >= p->cfg.raw_target;
}

/*
 * The entropy test (FORMAT.md "Writer's rules"): how many of the frame's
 * bytes stay in section A.  Payloads whose first bytes look random (TLS
 * records, compressed files) would cost zstd time for nothing.  The
 * threshold (85 % of the distinct count of random bytes) is 4 to 5
 * standard deviations below that count, so random payloads still go to
 * B, while structured ones that zstd halves (TLS handshakes) stay in A.
 */
static uint32_t split_alen(const store_packer *p, const uint8_t *f, uint32_t caplen, uint32_t off)
{
	/* one byte per value, summed eight at a time: no dependency from one
	 * payload byte to the next, unlike a bitmap */
	uint64_t seen[32], d = 0;
	uint32_t n, m, i;
	if (p->cfg.split_min == 0 || off == 0 || off >= caplen)
		return caplen;
	n = caplen - off;
	if (n < p->cfg.split_min)
		return caplen;
	m = n < 256 ? n : 256;
	memset(seen, 0, sizeof seen);
	for (i = 0; i < m; i++)
		((uint8_t *)seen)[f[off + i]] = 1;
	for (i = 0; i < 32; i++)
		d += seen[i];
	/* each byte of d now holds a partial count (at most 32 each) */
	d = (d & 0x00FF00FF00FF00FFull) + ((d >> 8) & 0x00FF00FF00FF00FFull);
	d = (d & 0x0000FFFF0000FFFFull) + ((d >> 16) & 0x0000FFFF0000FFFFull);
	d = (d & 0xFFFFFFFFull) + (d >> 32);
	return d >= p->thr[m] ? off : caplen;
}

/*
 * Flows that carry the same kind of traffic compress better side by side
 * (HTTP next to HTTP, DNS next to DNS, TLS record headers next to TLS
 * record headers): on a generated enterprise mix, ordering flows by this
 * class made section A 7 % smaller than first-arrival order.  The class
 * comes from the packet summary the caller filled (tv_pkt.info): the IP
 * protocol group, then the lower of the two ports, which is mostly the
 * service.  Both directions of a connection share it, so they stay next
 * to each other (flow_ends orders within the class) and a host's query
 * finds them in one block; separating the directions saved 0.7 % more
 * but doubled the blocks such a query reads.  The class only orders
 * flows; nothing reads it back.
 */
static uint32_t flow_class(const tv_l3info *in)
{
	uint32_t grp, port = 0;
	if (in->l3 == 0)
		return 3u << 16;
	switch (in->key.proto) {
	case 6:
		grp = 0;
		break;
	case 17:
		grp = 1;
		break;
	default:
		grp = 2;
		port = in->key.proto;
		break;
	}
	if (grp < 2 && in->has_ports)
		port = in->key.sport < in->key.dport ? in->key.sport : in->key.dport;
	return grp << 16 | port;
}

/* The last 3 bytes of an address (of an IPv4 address in IPv4-mapped form,
 * its last 24 bits): a sort key that keeps one host's flows together. */
static uint32_t addr24(const tv_addr *a)
{
	return (uint32_t)a->b[13] << 16 | (uint32_t)a->b[14] << 8 | a->b[15];
}

/*
 * Within a class, flows are ordered by their server's address, then their
 * client's (FORMAT.md "Writer's rules"): one server's flows side by side
 * share more bytes (addresses, MACs, options), and a host's flows in a
 * chunk land in fewer blocks, so a query for it decodes less.  On the 256
 * MiB enterprise capture, against first arrival within the class: section
 * A 120 KB smaller; the blocks decoded for the client host 103 -> 88, for
 * the beacon 23 -> 21, for the busy server 985 -> 620.  The server is the
 * end with the lower port (the class's port); without ports, or with equal
 * ones, the end with the lower key; so both directions of a connection
 * get the same pair.
 */
static void flow_ends(const tv_l3info *in, uint32_t *srv, uint32_t *cli)
{
	uint32_t s = addr24(&in->key.src), d = addr24(&in->key.dst);
	bool src_serves;
	if (in->l3 == 0) {
		*srv = *cli = 0;
		return;
	}
	if (in->has_ports && in->key.sport != in->key.dport)
		src_serves = in->key.sport < in->key.dport;
	else
		src_serves = s < d;
	*srv = src_serves ? s : d;
	*cli = src_serves ? d : s;
}

/* How many of the alen section-A bytes of a frame are headers, as far as
 * the caller knows (FORMAT.md "Writer's rules", hlen). */
static uint16_t header_len(uint32_t payload_off, uint32_t alen)
{
	uint32_t x = payload_off == 0 ? HLEN_DEFAULT : payload_off;
	if (x > alen)
		x = alen;
	return (uint16_t)(x > HLEN_MAX ? HLEN_MAX : x);
}

/* Looks t up; returns its index, or nctx with *slot where it would go. */
static uint32_t ctx_find(const store_packer *p, const tv_tunmeta *t, uint32_t h, size_t *slot)
{
	size_t mask = p->ncslot - 1, i = h & mask;
	for (;;) {
		uint32_t v = p->cslot[i];
		if (v == 0) {
			*slot = i;
			return p->nctx;
		}
		if (p->ctx[v - 1].hash == h && memcmp(&p->ctx[v - 1].t, t, sizeof *t) == 0)
			return v - 1;
		i = (i + 1) & mask;
	}
}

static uint32_t flow_find(const store_packer *p, const uint8_t *key, uint32_t ci, uint32_t h,
                          size_t *slot)
{
	size_t mask = p->nfslot - 1, i = h & mask;
	for (;;) {
		uint32_t v = p->fslot[i];
		if (v == 0) {
			*slot = i;
			return p->nflows;
		}
		if (p->flow[v - 1].hash == h && p->flow[v - 1].ctx == ci &&
		    memcmp(p->flow[v - 1].key, key, STORE_V2_KEY_LEN) == 0)
			return v - 1;
		i = (i + 1) & mask;
	}
}

/* Doubles a table of slots (0 empty, else index + 1) when one more entry
 * would fill it past half; entry i's hash is the u32 at hash_off in the
 * i-th element of ents (stride bytes each). */
static int table_reserve(uint32_t **slots, size_t *nslot, uint32_t used, const void *ents,
                         size_t stride, size_t hash_off)
{
	size_t nn, mask, i;
	uint32_t *ns;
	if (((size_t)used + 1) * 2 <= *nslot)
		return 0;
	nn = *nslot * 2;
	mask = nn - 1;
	ns = calloc(nn, sizeof *ns);
	if (!ns)
		return TV_E_NOMEM;
	for (i = 0; i < used; i++) {
		uint32_t h;
		size_t s;
		memcpy(&h, (const uint8_t *)ents + i * stride + hash_off, sizeof h);
		s = h & mask;
		while (ns[s] != 0)
			s = (s + 1) & mask;
		ns[s] = (uint32_t)i + 1;
	}
	free(*slots);
	*slots = ns;
	*nslot = nn;
	return 0;
}

int store_packer_add(store_packer *p, const tv_pkt *pkt, const uint8_t *flowkey,
                     uint32_t payload_off)
{
	tv_tunmeta t;
	uint32_t ci, fi, alen, ch = 0, fh;
	size_t cslot = 0, fslot = 0;
	bool newctx = false, newflow;
	uint64_t add_a;
	pk_rec *r;
	pk_flow *f;

	if (pkt->caplen > STORE_MAX_CAPLEN || (pkt->caplen > 0 && !pkt->frame) || !flowkey)
		return TV_E_RANGE;
	if (p->sealed)
		store_packer_reset(p);

	store_tun_norm(&t, &pkt->tun);
	alen = split_alen(p, pkt->frame, pkt->caplen, payload_off);

	if (p->nctx > 0 && memcmp(&p->ctx[p->last_ctx].t, &t, sizeof t) == 0) {
		ci = p->last_ctx;
	} else {
		ch = (uint32_t)tv_hash64(&t, sizeof t, p->seed);
		ci = ctx_find(p, &t, ch, &cslot);
		newctx = ci == p->nctx;
	}
	if (!newctx && p->nflows > 0 && p->flow[p->last_flow].ctx == ci &&
	    memcmp(p->flow[p->last_flow].key, flowkey, STORE_V2_KEY_LEN) == 0) {
		fi = p->last_flow;
		fh = p->flow[fi].hash;
		newflow = false;
	} else {
		fh = (uint32_t)tv_hash64(flowkey, STORE_V2_KEY_LEN, p->seed ^ ci);
		fi = newctx ? p->nflows : flow_find(p, flowkey, ci, fh, &fslot);
		newflow = fi == p->nflows;
	}

	add_a = STORE_V2_REC_HDR_LEN + (uint64_t)alen + (newflow ? PIECE_OVERHEAD : 0);
	if (p->n > 0 && (p->data_len + pkt->caplen > p->cfg.raw_target ||
	                 p->a_bound + add_a > p->a_limit))
		return TV_E_FULL;

	/* Reserve everything first, so that a failure leaves p as it was. */
	{
		bool ok = true;
		STORE_GROW(p->data, p->data_cap, p->data_len + pkt->caplen, ok);
		STORE_GROW(p->rec, p->rec_cap, (size_t)p->n + 1, ok);
		if (newflow)
			STORE_GROW(p->flow, p->flow_cap, (size_t)p->nflows + 1, ok);
		if (newctx)
			STORE_GROW(p->ctx, p->ctx_cap, (size_t)p->nctx + 1, ok);
		if (!ok)
			return TV_E_NOMEM;
	}
	if (newctx && table_reserve(&p->cslot, &p->ncslot, p->nctx, p->ctx, sizeof *p->ctx,
	                            offsetof(pk_ctx, hash)) != 0)
		return TV_E_NOMEM;
	if (newflow && table_reserve(&p->fslot, &p->nfslot, p->nflows, p->flow, sizeof *p->flow,
	                             offsetof(pk_flow, hash)) != 0)
		return TV_E_NOMEM;

	if (newctx) {
		ctx_find(p, &t, ch, &cslot); /* the table may have been rebuilt */
		p->ctx[ci].t = t;
		p->ctx[ci].hash = ch;
		p->ctx[ci].pad = 0;
		p->cslot[cslot] = ci + 1;
		p->nctx++;
	}
	p->last_ctx = ci;
	if (newflow) {
		fi = p->nflows;
		flow_find(p, flowkey, ci, fh, &fslot);
		f = &p->flow[fi];
		memcpy(f->key, flowkey, STORE_V2_KEY_LEN);
		f->ctx = ci;
		f->cls = flow_class(&pkt->info);
		flow_ends(&pkt->info, &f->srv, &f->cli);
		f->hash = fh;
		f->nrec = 0;
		f->a_bytes = 0;
		f->last_ts = pkt->ts_ns;
		f->unsorted = false;
		p->fslot[fslot] = fi + 1;
		p->nflows++;
	}
	p->last_flow = fi;
	f = &p->flow[fi];
	if (pkt->ts_ns < f->last_ts)
		f->unsorted = true;
	else
		f->last_ts = pkt->ts_ns;
	f->nrec++;
	f->a_bytes += STORE_V2_REC_HDR_LEN + (uint64_t)alen;

	r = &p->rec[p->n];
	r->ts = pkt->ts_ns;
	r->off = (uint32_t)p->data_len;
	r->caplen = pkt->caplen;
	r->origlen = pkt->origlen;
	r->alen = alen;
	r->flow = fi;
	r->flags = (uint16_t)((pkt->synth_l2 ? STORE_REC_SYNTH_L2 : 0) |
	                      (pkt->decap_error ? STORE_REC_DECAP_ERROR : 0));
	r->hlen = header_len(payload_off, alen);
	if (pkt->caplen)
		memcpy(p->data + p->data_len, pkt->frame, pkt->caplen);

	if (p->n == 0) {
		p->first_ts = p->last_ts = pkt->ts_ns;
	} else {
		if (pkt->ts_ns < p->first_ts)
			p->first_ts = pkt->ts_ns;
		if (pkt->ts_ns > p->last_ts)
			p->last_ts = pkt->ts_ns;
	}
	p->n++;
	p->data_len += pkt->caplen;
	p->orig_bytes += pkt->origlen;
	p->a_bound += add_a;
	if (alen < pkt->caplen)
		p->split_pkts++;
	return 0;
}

/* Stable bottom-up merge sort of record indices by ts (equal ts keep
 * their order, which is seq order). */
static void sort_by_ts(const pk_rec *rec, uint32_t *a, uint32_t *tmp, uint32_t n)
{
	uint32_t *src = a, *dst = tmp;
	size_t width;
	for (width = 1; width < n; width *= 2) {
		size_t lo;
		for (lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				dst[k++] = rec[src[j]].ts < rec[src[i]].ts ? src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		{
			uint32_t *sw = src;
			src = dst;
			dst = sw;
		}
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof *a);
}

/* Bottom-up merge sort of u64 keys. */
static void sort_u64(uint64_t *a, uint64_t *tmp, uint32_t n)
{
	uint64_t *src = a, *dst = tmp;
	size_t width;
	for (width = 1; width < n; width *= 2) {
		size_t lo;
		for (lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				dst[k++] = src[j] < src[i] ? src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		{
			uint64_t *sw = src;
			src = dst;
			dst = sw;
		}
	}
	if (src != a)
		memcpy(a, src, (size_t)n * sizeof *a);
}

/*
 * order[] = record indices grouped by flow, each flow by (ts, seq);
 * forder[] = the flows in chunk order (class << 32 | flow index): by class,
 * server, client, then first arrival.  Two sorts of 64-bit keys: by (client,
 * index), then by (class, server, rank in the first).  Ranks fit 22 bits:
 * every flow takes at least 124 bytes of a_bound <= 32 MiB.
 */
_Static_assert(32ull * BLOCK_TARGET_MAX / (STORE_V2_REC_HDR_LEN + PIECE_OVERHEAD) < (1u << 22),
               "a flow's rank no longer fits the 22 bits of group()'s sort key");
_Static_assert((3u << 16 | 0xFFFFu) < (1u << 18),
               "flow_class() no longer fits the 18 bits of group()'s sort key");

static void group(store_packer *p)
{
	uint32_t i, pos = 0;
	for (i = 0; i < p->nflows; i++)
		p->forder[i] = (uint64_t)p->flow[i].cli << 32 | i;
	sort_u64(p->forder, p->ftmp, p->nflows);
	for (i = 0; i < p->nflows; i++) {
		const pk_flow *f = &p->flow[(uint32_t)p->forder[i]];
		p->tmp[i] = (uint32_t)p->forder[i];
		p->forder[i] = (uint64_t)f->cls << 46 | (uint64_t)f->srv << 22 | i;
	}
	sort_u64(p->forder, p->ftmp, p->nflows);
	for (i = 0; i < p->nflows; i++) {
		uint32_t fi = p->tmp[p->forder[i] & 0x3FFFFF];
		p->forder[i] = (uint64_t)p->flow[fi].cls << 32 | fi;
	}
	for (i = 0; i < p->nflows; i++) {
		p->flow[i].start = pos;
		p->tmp[i] = pos;
		pos += p->flow[i].nrec;
	}
	for (i = 0; i < p->n; i++)
		p->order[p->tmp[p->rec[i].flow]++] = i;
	for (i = 0; i < p->nflows; i++)
		if (p->flow[i].unsorted)
			sort_by_ts(p->rec, p->order + p->flow[i].start, p->tmp, p->flow[i].nrec);
}

/* Starts a new context stamp: "in the current block" is stamp == cur. */
static void next_stamp(store_packer *p)
{
	if (++p->cur_stamp == 0) {
		memset(p->stamp, 0, p->nctx * sizeof *p->stamp);
		p->cur_stamp = 1;
	}
}

static void close_block(store_packer *p, uint32_t a, uint32_t b_len, uint32_t nrec)
{
	pk_block *bk = &p->blk[p->nblocks];
	bk->npieces = p->npieces - bk->piece0;
	bk->a_raw = a;
	bk->b_len = b_len;
	bk->nrec = nrec;
	p->nblocks++;
	if (p->nblocks < STORE_V2_MAX_BLOCKS)
		p->blk[p->nblocks].piece0 = p->npieces;
	next_stamp(p);
}

/* Opens a piece of flow fi at order position pos in the current block;
 * NULL when the chunk has no block left (cannot happen: see the top). */
static pk_piece *open_piece(store_packer *p, uint32_t fi, uint32_t pos)
{
	pk_piece *pc;
	pk_flow *f = &p->flow[fi];
	if (p->nblocks >= STORE_V2_MAX_BLOCKS)
		return NULL;
	pc = &p->piece[p->npieces++];
	pc->flow = fi;
	pc->pos = pos;
	pc->count = 0;
	p->stamp[f->ctx] = p->cur_stamp;
	f->blocks |= 1ull << p->nblocks;
	return pc;
}

/* Section-A bytes of a block of its own for one large flow, before it is
 * cut (16 block targets, at least target + 512 KiB so that a cut piece
 * always holds more than one target even after a 256 KiB record). */
static uint64_t big_target(uint64_t T)
{
	uint64_t tb = 16 * T;
	if (tb > (4u << 20))
		tb = 4u << 20;
	if (tb < T + (512u << 10))
		tb = T + (512u << 10);
	return tb;
}

/*
 * FORMAT.md "Writer's rules", blocks.  Flows in chunk order.  A flow that
 * fits the block target T (with its directory and context entries) is
 * kept whole and closes the block it would take past T.  A larger flow
 * gets blocks of its own: a query for it decodes only its own bytes, and
 * for the others it is never in the way.  Those blocks hold up to
 * big_target() bytes each, cut at record boundaries, except that a
 * remainder that would fit T is kept with the piece before it; so every
 * such block holds more than T, which keeps the argument at the top
 * true.  Fills blk[], piece[] and every flow's block bitmap.
 */
static int layout(store_packer *p)
{
	const uint64_t T = p->cfg.block_target, TB = big_target(T);
	uint64_t a = 0, b_len = 0, need, left;
	uint32_t nrec = 0, oi, k;

	p->nblocks = 0;
	p->npieces = 0;
	p->blk[0].piece0 = 0;
	next_stamp(p);
#define CLOSE()                                                     \
	do {                                                        \
		close_block(p, (uint32_t)a, (uint32_t)b_len, nrec); \
		a = b_len = 0;                                      \
		nrec = 0;                                           \
	} while (0)
	for (oi = 0; oi < p->nflows; oi++) {
		uint32_t fi = (uint32_t)p->forder[oi];
		pk_flow *f = &p->flow[fi];
		pk_piece *pc = NULL;
		f->blocks = 0;
		if (f->a_bytes + PIECE_OVERHEAD <= T) {
			need = f->a_bytes + STORE_V2_DIR_LEN +
			       (p->stamp[f->ctx] == p->cur_stamp ? 0 : STORE_CTX_LEN);
			if (a > 0 && a + need > T) {
				CLOSE();
				need = f->a_bytes + PIECE_OVERHEAD;
			}
			pc = open_piece(p, fi, f->start);
			if (!pc)
				return TV_E_RANGE;
			pc->count = f->nrec;
			a += need;
			nrec += f->nrec;
			for (k = 0; k < f->nrec; k++) {
				const pk_rec *r = &p->rec[p->order[f->start + k]];
				b_len += r->caplen - r->alen;
			}
			continue;
		}
		if (a > 0)
			CLOSE();
		left = f->a_bytes;
		for (k = 0; k < f->nrec; k++) {
			const pk_rec *r = &p->rec[p->order[f->start + k]];
			uint64_t rs = STORE_V2_REC_HDR_LEN + (uint64_t)r->alen;
			if (pc && a + rs > TB && left + PIECE_OVERHEAD > T) {
				CLOSE();
				pc = NULL;
			}
			if (!pc) {
				pc = open_piece(p, fi, f->start + k);
				if (!pc)
					return TV_E_RANGE;
				a += PIECE_OVERHEAD; /* a fresh block: its context is new */
			}
			pc->count++;
			a += rs;
			left -= rs;
			nrec++;
			b_len += r->caplen - r->alen;
		}
		CLOSE();
	}
	if (a > 0)
		CLOSE();
#undef CLOSE
	return 0;
}

/*
 * Compresses section A (n bytes at src) into one zstd frame at dst (cap
 * bytes) with its content size, flushed after the record columns (cut1)
 * and after the header area (cut2): each part gets zstd blocks of its
 * own, with their own literal and sequence statistics (headers XORed to
 * near-zero bytes, payload text and DNS names do not look alike).  On the
 * 256 MiB enterprise capture, section A with the headers and payloads
 * of each record side by side, in one run, was 4.8 % larger; byte planes
 * for the columns saved 1 % more.  Matches still reach across the cuts.
 * Returns the frame's length or a zstd error code; a frame that would
 * not fit cap is an error too.
 */
static size_t compress_a(ZSTD_CCtx *z, uint8_t *dst, size_t cap, const uint8_t *src,
                         size_t cut1, size_t cut2, size_t n)
{
	ZSTD_outBuffer out = { dst, cap, 0 };
	const size_t end[3] = { cut1, cut2, n };
	size_t zr = ZSTD_CCtx_reset(z, ZSTD_reset_session_only), from = 0;
	unsigned part;
	if (!ZSTD_isError(zr))
		zr = ZSTD_CCtx_setPledgedSrcSize(z, n);
	for (part = 0; part < 3 && !ZSTD_isError(zr); part++) {
		ZSTD_inBuffer in = { src, end[part], from };
		ZSTD_EndDirective how = part == 2 ? ZSTD_e_end : ZSTD_e_flush;
		/* with room for the bound, one call consumes and flushes all;
		 * a call that makes no progress means the output is full */
		do {
			size_t before = in.pos + out.pos;
			zr = ZSTD_compressStream2(z, &out, &in, how);
			if (!ZSTD_isError(zr) && zr != 0 && in.pos + out.pos == before)
				zr = (size_t)-ZSTD_error_dstSize_tooSmall;
		} while (!ZSTD_isError(zr) && zr != 0);
		from = end[part];
	}
	return ZSTD_isError(zr) ? zr : out.pos;
}

/*
 * Writes block bi at q (room for 32 + ZSTD_compressBound(a_raw) + b_len
 * bytes) and returns its stored length in *len.
 */
static int write_block(store_packer *p, uint32_t bi, uint8_t *q, uint32_t *len,
                       uint32_t *a_comp_out)
{
	const pk_block *bk = &p->blk[bi];
	const pk_piece *pc = &p->piece[bk->piece0];
	uint32_t nctx = 0, i, k, a_comp, flags;
	uint8_t *a = p->abuf, *b;
	size_t zr, meta, hdr_end;

	/* the block's context table: each context once, in first use order */
	next_stamp(p);
	for (i = 0; i < bk->npieces; i++) {
		uint32_t c = p->flow[pc[i].flow].ctx;
		if (p->stamp[c] != p->cur_stamp) {
			p->stamp[c] = p->cur_stamp;
			p->cmap[c] = (uint16_t)nctx;
			p->bctx[nctx++] = c;
		}
	}
	for (i = 0; i < nctx; i++, a += STORE_CTX_LEN)
		store_ctx_put(a, &p->ctx[p->bctx[i]].t);
	for (i = 0; i < bk->npieces; i++, a += STORE_V2_DIR_LEN) {
		const pk_flow *f = &p->flow[pc[i].flow];
		memcpy(a + FD_KEY, f->key, STORE_V2_KEY_LEN);
		tv_put_le16(a + FD_CTX, p->cmap[f->ctx]);
		tv_put_le16(a + FD_RSV, 0);
		tv_put_le32(a + FD_NREC, pc[i].count);
		/* the CRC of the piece's tails, which a query reads apart */
		{
			uint32_t crc = 0; /* the CRC-32C of no bytes */
			for (k = 0; k < pc[i].count; k++) {
				const pk_rec *r = &p->rec[p->order[pc[i].pos + k]];
				if (r->alen < r->caplen)
					crc = tv_crc32c_extend(crc, p->data + r->off + r->alen,
					                       r->caplen - r->alen);
			}
			tv_put_le32(a + FD_TAIL_CRC, crc);
		}
	}
	/* the record columns (FORMAT.md "Section A"), then the header area
	 * and the payload area */
	{
		const size_t n = bk->nrec;
		uint8_t *c_ts = a, *c_seq = c_ts + 8 * n, *c_cap = c_seq + 4 * n;
		uint8_t *c_extra = c_cap + 4 * n, *c_alen = c_extra + 4 * n;
		uint8_t *c_hlen = c_alen + 4 * n, *c_flags = c_hlen + 2 * n;
		uint8_t *h = c_flags + 2 * n, *pl;
		size_t j = 0, hsum = 0;
		meta = (size_t)(h - p->abuf);
		for (i = 0; i < bk->npieces; i++)
			for (k = 0; k < pc[i].count; k++)
				hsum += p->rec[p->order[pc[i].pos + k]].hlen;
		pl = h + hsum;
		for (i = 0; i < bk->npieces; i++) {
			const pk_rec *prev = NULL;
			uint32_t pseq = 0;
			for (k = 0; k < pc[i].count; k++, j++) {
				uint32_t seq = p->order[pc[i].pos + k];
				const pk_rec *r = &p->rec[seq];
				const uint8_t *src = p->data + r->off;
				store_col_put(c_ts, n, j, 8, prev ? r->ts - prev->ts : r->ts);
				store_col_put(c_seq, n, j, 4, seq - pseq);
				store_col_put(c_cap, n, j, 4, r->caplen);
				store_col_put(c_extra, n, j, 4, r->origlen - r->caplen);
				store_col_put(c_alen, n, j, 4, r->alen);
				store_col_put(c_hlen, n, j, 2, r->hlen);
				store_col_put(c_flags, n, j, 2, r->flags);
				memcpy(h, src, r->hlen);
				if (prev)
					store_xor(h, p->data + prev->off,
					          r->hlen < prev->hlen ? r->hlen : prev->hlen);
				h += r->hlen;
				memcpy(pl, src + r->hlen, r->alen - r->hlen);
				pl += r->alen - r->hlen;
				prev = r;
				pseq = seq;
			}
		}
		hdr_end = meta + hsum;
		a = pl;
	}
	if ((size_t)(a - p->abuf) != bk->a_raw)
		return TV_E_RANGE; /* layout and writer disagree: a bug */

	zr = compress_a(p->cctx, q + STORE_V2_BLK_HDR_LEN, ZSTD_compressBound(bk->a_raw), p->abuf,
	                meta, hdr_end, bk->a_raw);
	if (ZSTD_isError(zr))
		return TV_E_ZSTD;
	if (zr < bk->a_raw) {
		a_comp = (uint32_t)zr;
		flags = BH_FLAG_ZSTD;
	} else {
		memcpy(q + STORE_V2_BLK_HDR_LEN, p->abuf, bk->a_raw);
		a_comp = bk->a_raw;
		flags = 0;
	}

	b = q + STORE_V2_BLK_HDR_LEN + a_comp;
	for (i = 0; i < bk->npieces; i++)
		for (k = 0; k < pc[i].count; k++) {
			const pk_rec *r = &p->rec[p->order[pc[i].pos + k]];
			if (r->alen < r->caplen) {
				memcpy(b, p->data + r->off + r->alen, r->caplen - r->alen);
				b += r->caplen - r->alen;
			}
		}

	tv_put_le32(q + BH_A_COMP, a_comp);
	tv_put_le32(q + BH_A_RAW, bk->a_raw);
	tv_put_le32(q + BH_B_LEN, bk->b_len);
	tv_put_le32(q + BH_NREC, bk->nrec);
	tv_put_le16(q + BH_NFLOWS, (uint16_t)bk->npieces);
	tv_put_le16(q + BH_NCTX, (uint16_t)nctx);
	tv_put_le16(q + BH_FLAGS, (uint16_t)flags);
	tv_put_le16(q + BH_RSV1, 0);
	tv_put_le32(q + BH_RSV2, 0);
	tv_put_le32(q + BH_CRC,
	            tv_crc32c_extend(tv_crc32c(q, BH_CRC), q + STORE_V2_BLK_HDR_LEN, a_comp));
	*len = STORE_V2_BLK_HDR_LEN + a_comp + bk->b_len;
	*a_comp_out = a_comp;
	p->st.a_raw += bk->a_raw;
	p->st.a_stored += a_comp;
	p->st.b_len += bk->b_len;
	return 0;
}

static void put_hdr_crc(uint8_t *h)
{
	tv_put_le32(h + H2_CRC, tv_crc32c(h, H2_CRC));
}

int store_packer_seal(store_packer *p, uint64_t chunk_id, const uint8_t **chunk, size_t *len,
                      store_hdr *hdr)
{
	size_t head_len, cap, pos;
	uint32_t i, nflows_dir = 0;
	uint8_t *h, *body;
	bool ok = true;
	int err;

	if (p->sealed || p->n == 0)
		return TV_E_RANGE;
	STORE_GROW(p->order, p->order_cap, p->n, ok);
	STORE_GROW(p->forder, p->forder_cap, p->nflows, ok);
	STORE_GROW(p->ftmp, p->ftmp_cap, p->nflows, ok);
	STORE_GROW(p->tmp, p->tmp_cap, p->n > p->nflows ? p->n : p->nflows, ok);
	STORE_GROW(p->stamp, p->stamp_cap, p->nctx, ok);
	STORE_GROW(p->cmap, p->cmap_cap, p->nctx, ok);
	STORE_GROW(p->bctx, p->bctx_cap, p->nctx, ok);
	STORE_GROW(p->piece, p->piece_cap, (size_t)p->nflows + STORE_V2_MAX_BLOCKS, ok);
	if (!ok)
		return TV_E_NOMEM;
	/* a fresh stamp array: no context is in any block yet */
	memset(p->stamp, 0, p->nctx * sizeof *p->stamp);
	p->cur_stamp = 0;

	group(p);
	err = layout(p);
	if (err)
		return err;

	head_len = 4 + (size_t)p->taglen + (size_t)p->nblocks * STORE_V2_BLKREF_LEN;
	cap = STORE_V2_HDR_LEN + head_len;
	for (i = 0; i < p->nblocks; i++) {
		if (p->blk[i].a_raw > p->abuf_cap) {
			STORE_GROW(p->abuf, p->abuf_cap, p->blk[i].a_raw, ok);
			if (!ok)
				return TV_E_NOMEM;
		}
		cap += STORE_V2_BLK_HDR_LEN + ZSTD_compressBound(p->blk[i].a_raw) + p->blk[i].b_len;
	}
	STORE_GROW(p->out, p->out_cap, cap, ok);
	if (!ok)
		return TV_E_NOMEM;

	memset(&p->st, 0, sizeof p->st);
	h = p->out;
	body = h + STORE_V2_HDR_LEN;
	pos = head_len;
	for (i = 0; i < p->nblocks; i++) {
		store_blkref ref;
		err = write_block(p, i, body + pos, &ref.len, &ref.a_comp);
		if (err)
			return err;
		ref.offset = (uint32_t)pos;
		ref.nrec = p->blk[i].nrec;
		ref.a_raw = p->blk[i].a_raw;
		store_blkref_put(body + 4 + p->taglen + (size_t)i * STORE_V2_BLKREF_LEN, &ref);
		pos += ref.len;
		nflows_dir += p->blk[i].npieces;
	}
	tv_put_le32(body, p->taglen);
	if (p->taglen)
		memcpy(body + 4, p->tag, p->taglen);

	memset(h, 0, STORE_V2_HDR_LEN);
	memcpy(h + H2_MAGIC, store_chunk_magic, sizeof store_chunk_magic);
	tv_put_le16(h + H2_VERSION, STORE_FORMAT_VERSION);
	tv_put_le16(h + H2_NBLOCKS, (uint16_t)p->nblocks);
	tv_put_le64(h + H2_CHUNK_ID, chunk_id);
	tv_put_le64(h + H2_FIRST_TS, p->first_ts);
	tv_put_le64(h + H2_LAST_TS, p->last_ts);
	tv_put_le64(h + H2_ORIG_BYTES, p->orig_bytes);
	tv_put_le32(h + H2_NPKTS, p->n);
	tv_put_le32(h + H2_NFLOWS, nflows_dir);
	tv_put_le32(h + H2_RAW_LEN, (uint32_t)p->data_len);
	tv_put_le32(h + H2_BODY_LEN, (uint32_t)pos);
	tv_put_le32(h + H2_HEAD_LEN, (uint32_t)head_len);
	tv_sha256(body, pos, h + H2_SHA256);
	put_hdr_crc(h);

	if (hdr) {
		memset(hdr, 0, sizeof *hdr);
		hdr->chunk_id = chunk_id;
		hdr->first_ts = p->first_ts;
		hdr->last_ts = p->last_ts;
		hdr->orig_bytes = p->orig_bytes;
		hdr->npkts = p->n;
		hdr->nflows = nflows_dir;
		hdr->raw_len = (uint32_t)p->data_len;
		hdr->body_len = (uint32_t)pos;
		hdr->head_len = (uint32_t)head_len;
		hdr->nblocks = (uint16_t)p->nblocks;
		memcpy(hdr->sha256, h + H2_SHA256, 32);
	}
	p->st.nblocks = p->nblocks;
	p->st.split_pkts = p->split_pkts;
	p->sealed = true;
	*chunk = p->out;
	*len = STORE_V2_HDR_LEN + pos;
	return 0;
}

uint32_t store_packer_nflows(const store_packer *p)
{
	return p->sealed ? p->nflows : 0;
}

int store_packer_flow(const store_packer *p, uint32_t i, store_pflow *f)
{
	const pk_flow *pf;
	if (!p->sealed || i >= p->nflows)
		return TV_E_RANGE;
	pf = &p->flow[(uint32_t)p->forder[i]];
	f->key = pf->key;
	f->tun = &p->ctx[pf->ctx].t;
	f->blocks = pf->blocks;
	f->nrec = pf->nrec;
	return 0;
}

void store_packer_stats(const store_packer *p, store_pack_stats *st)
{
	if (p->sealed)
		*st = p->st;
	else
		memset(st, 0, sizeof *st);
}

int store_chunk_set_id(uint8_t *chunk, size_t len, uint64_t chunk_id)
{
	int err = store_hdr_parse(chunk, len, NULL);
	if (err)
		return err;
	tv_put_le64(chunk + H2_CHUNK_ID, chunk_id);
	put_hdr_crc(chunk);
	return 0;
}
