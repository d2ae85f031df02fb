/*
 * fuzz_chunk2.c — libFuzzer target for the chunk readers
 * (store/FORMAT.md "Chunk"): store_hdr_parse, store_head_parse,
 * store_block_decode, store_block_decode_a with store_block_tails_put,
 * and store_chunk_load.  Whatever a reader accepts is walked in full
 * (every flow, record and frame byte), so a check it forgot shows up as
 * an ASan or UBSan report; the walk also checks what the readers promise
 * (flows and records in range, (ts, seq) order, a frame with a tail
 * handed out exactly when its flow's tails were given).  Every block is
 * also read as a query reads it: store_block_decode_a on its first
 * 32 + a_comp bytes, then the tails of a run of flows chosen by the last
 * two input bytes; when the whole block decodes, that must succeed too
 * and give the same records and frame bytes.
 *
 * CRCs and the SHA-256 stop almost every mutation at the door, so two
 * prefixes make the target fix them first:
 *
 *   "TVFIXCRC" chunk...   for every block the block table points at: the
 *                         tail CRC of each flow directory entry when
 *                         section A is stored (flags bit 0 clear), then
 *                         the block CRC (header and section A); then the
 *                         body's SHA-256 and the header CRC; then the
 *                         chunk is loaded: the structure checks across
 *                         header, head and blocks get fuzzed.  A zstd
 *                         section A keeps its tail CRCs (fixing them would
 *                         mean compressing it again, which moves every
 *                         byte after it), so a mutated tail in such a
 *                         block is refused by its tail CRC: it is the
 *                         stored-A seeds ("stored-N") whose directory,
 *                         columns and tails get fuzzed behind every CRC;
 *   "TVBLKRAW" hdr[32] alen u32 A[alen] B...
 *                         a block is built from the given header fields,
 *                         section A (its tail CRCs set from B, then stored,
 *                         or compressed with zstd when bit 0 of the
 *                         header's flags is set) and B, with a_comp, a_raw,
 *                         b_len and the block CRC set right: the checks of
 *                         decoded section A get fuzzed.
 *
 * The tail CRCs are set by walking the directory and record columns as
 * FORMAT.md lays them out; where that layout does not hold they are left
 * as they are (the readers refuse such a block anyway).
 *
 * Anything else is tried as a whole chunk and as a single block.  The
 * seeds in tests/fuzz/corpus/fuzz_chunk2/ come from store_packer: build
 * this file as the Makefile builds build/replay/fuzz_chunk2, with
 * -DFUZZ_CHUNK2_SEEDS instead of replay_main.c, and run it with the folder
 * as its argument to make them again:
 *
 *   make build/libtapvault.a
 *   cc -std=c11 -D_GNU_SOURCE -O2 -DFUZZ_CHUNK2_SEEDS -o build/chunk2-seeds \
 *       tests/fuzz/fuzz_chunk2.c build/libtapvault.a -lpcap -lzstd -llmdb \
 *       -larchive -ljansson -lpthread -lm
 *   build/chunk2-seeds tests/fuzz/corpus/fuzz_chunk2
 *
 * The same file replays the corpus under the normal compiler with
 * tests/fuzz/replay_main.c (make fuzz-replay).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "../../store/chunk2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static store_chunk *chunk;
static store_block *block; /* the whole block */
static store_block *part;  /* the same block read as a query reads it */
static uint8_t *buf, *abuf;
static size_t buf_cap, abuf_cap;
static ZSTD_CCtx *cctx;

static uint8_t *grow(uint8_t **p, size_t *cap, size_t n)
{
	if (n > *cap) {
		uint8_t *nb = realloc(*p, n);
		if (!nb)
			abort();
		*p = nb;
		*cap = n;
	}
	return *p;
}

static uint8_t *room(size_t n)
{
	return grow(&buf, &buf_cap, n);
}

static uint32_t sum_bytes(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

/* Touches everything a decoded block hands out and checks its promises:
 * a frame is missing exactly when it has a tail and its flow's tails were
 * not given; the flows' tails lie back to back in record order. */
static uint32_t walk_block(store_block *b)
{
	static uint8_t scratch[STORE_MAX_CAPLEN];
	uint32_t i, k, s = 0, nf = store_block_nflows(b), nr = store_block_nrec(b), total = 0;
	uint64_t toff = 0;
	for (i = 0; i < nf; i++) {
		const store_bflow *f = store_block_flow(b, i);
		if (!f || f->nrec == 0 || f->first != total || f->first + f->nrec > nr ||
		    f->tail_off != toff || (f->tail_len == 0 && f->tail_crc != 0))
			abort();
		total += f->nrec;
		s += sum_bytes(f->key, STORE_V2_KEY_LEN) + f->tun->vni + f->tun->tunnel;
		for (k = 0; k < f->nrec; k++) {
			const store_brec *r = store_block_rec(b, f->first + k);
			const uint8_t *fr;
			if (!r || r->flow != i || r->alen > r->caplen || r->caplen > STORE_MAX_CAPLEN ||
			    r->b_off != toff ||
			    (r->flags & ~(STORE_REC_SYNTH_L2 | STORE_REC_DECAP_ERROR)) != 0)
				abort();
			if (k > 0) {
				const store_brec *q = store_block_rec(b, f->first + k - 1);
				if (r->ts_ns < q->ts_ns || (r->ts_ns == q->ts_ns && r->seq <= q->seq))
					abort();
			}
			toff += r->caplen - r->alen;
			fr = store_block_frame(b, f->first + k, (k & 1) ? scratch : NULL);
			if (!fr != (r->alen < r->caplen && !f->tails))
				abort();
			s += (fr ? sum_bytes(fr, r->caplen) : 0) + r->origlen + r->seq;
		}
		if (f->tail_len != toff - f->tail_off)
			abort();
	}
	if (total != nr || store_block_flow(b, nf) || store_block_rec(b, nr))
		abort();
	return s;
}

static uint32_t walk_chunk(store_chunk *c, const store_hdr *h)
{
	uint32_t k, n = store_chunk_count(c), s = 0, tl;
	uint64_t prev_ts = 0;
	uint32_t prev_seq = 0;
	const uint8_t *tag = store_chunk_tag(c, &tl);
	if (n != h->npkts || store_chunk_nblocks(c) != h->nblocks || tl > STORE_MAX_TAG)
		abort();
	s += tag ? sum_bytes(tag, tl) : 0;
	for (k = 0; k < n; k++) {
		uint32_t bi;
		const store_brec *r = store_chunk_rec(c, k, &bi);
		const uint8_t *fr = store_chunk_frame(c, k, NULL);
		if (!r || !fr || bi >= h->nblocks || r->seq >= n || r->ts_ns < h->first_ts ||
		    r->ts_ns > h->last_ts)
			abort();
		if (k > 0 && (r->ts_ns < prev_ts || (r->ts_ns == prev_ts && r->seq <= prev_seq)))
			abort();
		prev_ts = r->ts_ns;
		prev_seq = r->seq;
		s += sum_bytes(fr, r->caplen);
	}
	if (store_chunk_rec(c, n, NULL))
		abort();
	return s;
}

/*
 * Reads the block at p (n bytes, with h and ref when known) as a query
 * does: store_block_decode_a on its first 32 + a_comp bytes, then the
 * tails of flows f0..f1-1 chosen by sel (when they lie within the n
 * bytes).  whole says that block holds the whole decode of the same
 * bytes: then both must succeed and give its records and frames.
 */
static void try_parts(const uint8_t *p, size_t n, const store_hdr *h, const store_blkref *ref,
                      uint32_t sel, bool whole)
{
	static uint8_t s1[STORE_MAX_CAPLEN], s2[STORE_MAX_CAPLEN];
	const store_bflow *lo, *hi;
	uint32_t a_comp, nf, f0, f1, k;
	uint64_t off, span;
	int rc;
	if (n < STORE_V2_BLK_HDR_LEN)
		return;
	a_comp = tv_get_le32(p);
	if (STORE_V2_BLK_HDR_LEN + (uint64_t)a_comp > n) {
		if (whole)
			abort();
		return;
	}
	rc = store_block_decode_a(part, p, STORE_V2_BLK_HDR_LEN + a_comp, h, ref);
	if (rc != 0) {
		if (whole || store_block_nrec(part) != 0 || store_block_a_comp(part) != 0)
			abort();
		return;
	}
	nf = store_block_nflows(part);
	if (store_block_a_comp(part) != a_comp ||
	    (whole && (nf != store_block_nflows(block) ||
	               store_block_nrec(part) != store_block_nrec(block))))
		abort();
	f0 = (sel & 0xffff) % nf;
	f1 = f0 + 1 + (sel >> 16) % (nf - f0);
	if (store_block_tails_put(part, f1, f0, p, 0) != TV_E_RANGE ||
	    store_block_tails_put(part, f0, nf + 1, p, 0) != TV_E_RANGE)
		abort();
	lo = store_block_flow(part, f0);
	hi = store_block_flow(part, f1 - 1);
	off = STORE_V2_BLK_HDR_LEN + (uint64_t)a_comp + lo->tail_off;
	span = (uint64_t)hi->tail_off + hi->tail_len - lo->tail_off;
	if (off + span <= n) {
		rc = store_block_tails_put(part, f0, f1, p + off, span);
		if ((whole && rc != 0) || (rc != 0 && rc != TV_E_CORRUPT))
			abort();
		if (rc == 0 && span > 0 && store_block_tails_put(part, f0, f1, p + off, span - 1) != TV_E_RANGE)
			abort();
	}
	(void)walk_block(part);
	if (!whole)
		return;
	for (k = 0; k < store_block_nrec(part); k++) {
		const store_brec *a = store_block_rec(part, k), *w = store_block_rec(block, k);
		const uint8_t *fa = store_block_frame(part, k, s1), *fw = store_block_frame(block, k, s2);
		if (a->ts_ns != w->ts_ns || a->seq != w->seq || a->caplen != w->caplen ||
		    a->alen != w->alen || a->flow != w->flow || !fw ||
		    (fa && memcmp(fa, fw, w->caplen) != 0))
			abort();
	}
}

static void try_chunk(const uint8_t *p, size_t n, uint32_t sel)
{
	store_hdr h;
	int rc;
	if (store_hdr_parse(p, n, &h) == 0 && n >= STORE_V2_HDR_LEN + (size_t)h.head_len) {
		store_blkref refs[STORE_V2_MAX_BLOCKS];
		const uint8_t *tag;
		uint32_t tl, i;
		if (store_head_parse(&h, p + STORE_V2_HDR_LEN, n - STORE_V2_HDR_LEN, refs, &tag, &tl) == 0)
			for (i = 0; i < h.nblocks; i++) {
				const uint8_t *b = p + STORE_V2_HDR_LEN + refs[i].offset;
				bool whole;
				if (STORE_V2_HDR_LEN + (uint64_t)refs[i].offset + refs[i].len > n)
					continue;
				whole = store_block_decode(block, b, refs[i].len, &h, &refs[i]) == 0;
				if (whole)
					(void)walk_block(block);
				try_parts(b, refs[i].len, &h, &refs[i], sel + i, whole);
			}
	}
	rc = store_chunk_load(chunk, p, n, 0, &h);
	if (rc == 0)
		(void)walk_chunk(chunk, &h);
	else if (store_chunk_count(chunk) != 0)
		abort();
	rc = store_chunk_load(chunk, p, n, STORE_LOAD_HASH, &h);
	if (rc == 0)
		(void)walk_chunk(chunk, &h);
	else if (store_chunk_count(chunk) != 0)
		abort();
}

static void try_block(const uint8_t *p, size_t n, uint32_t sel)
{
	int rc = store_block_decode(block, p, n, NULL, NULL);
	if (rc == 0)
		(void)walk_block(block);
	else if (store_block_nrec(block) != 0)
		abort();
	try_parts(p, n, NULL, NULL, sel, rc == 0);
}

/* Value j of a column of n values of w bytes at col, in byte planes
 * (FORMAT.md "Record columns"). */
static uint64_t col_get(const uint8_t *col, uint32_t n, uint32_t j, unsigned w)
{
	uint64_t v = 0;
	unsigned b;
	for (b = 0; b < w; b++)
		v |= (uint64_t)col[(size_t)b * n + j] << (8 * b);
	return v;
}

/* Sets the tail CRC of every flow directory entry of decoded section A
 * (a_len bytes; nctx, nflows and nrec from the block header) over its
 * records' tails in section B (b_len bytes), as FORMAT.md lays them out;
 * stops where that layout does not hold. */
static void fix_tails(uint8_t *a, size_t a_len, const uint8_t *hdr, const uint8_t *b, size_t b_len)
{
	uint32_t nrec = tv_get_le32(hdr + 12), nflows = tv_get_le16(hdr + 16), i, k, j = 0;
	uint64_t dir = 48ull * tv_get_le16(hdr + 18), cols = dir + 52ull * nflows, off = 0;
	if (cols + 28ull * nrec > a_len)
		return;
	for (i = 0; i < nflows; i++) {
		uint8_t *d = a + dir + 52ull * i;
		uint32_t fn = tv_get_le32(d + 44);
		uint64_t start = off;
		for (k = 0; k < fn && j < nrec; k++, j++) {
			uint64_t cap = col_get(a + cols + 12ull * nrec, nrec, j, 4);
			uint64_t alen = col_get(a + cols + 20ull * nrec, nrec, j, 4);
			if (alen < cap)
				off += cap - alen;
		}
		if (off > b_len)
			return;
		tv_put_le32(d + 48, tv_crc32c(b + start, off - start)); /* 0 for no bytes */
	}
}

/* Sets what the CRCs and the hash of a chunk cover, reading only what is
 * there: tail CRCs of stored sections A, block CRCs, SHA-256, header CRC. */
static void fix_chunk(uint8_t *c, size_t n)
{
	uint32_t nblocks, body_len, taglen, i;
	if (n < STORE_V2_HDR_LEN)
		return;
	nblocks = tv_get_le16(c + 12);
	body_len = tv_get_le32(c + 60);
	if (n >= STORE_V2_HDR_LEN + 4) {
		taglen = tv_get_le32(c + STORE_V2_HDR_LEN);
		for (i = 0; i < nblocks && i < STORE_V2_MAX_BLOCKS; i++) {
			uint64_t ref = STORE_V2_HDR_LEN + 4 + (uint64_t)taglen + STORE_V2_BLKREF_LEN * i;
			uint64_t off, len, a_comp;
			uint8_t *b;
			if (ref + STORE_V2_BLKREF_LEN > n)
				break;
			off = tv_get_le32(c + ref);
			len = tv_get_le32(c + ref + 4);
			if (len < 32 || STORE_V2_HDR_LEN + off + len > n)
				continue;
			b = c + STORE_V2_HDR_LEN + off;
			a_comp = tv_get_le32(b);
			if (32 + a_comp > len)
				continue;
			if ((tv_get_le16(b + 20) & 1) == 0)
				fix_tails(b + 32, a_comp, b, b + 32 + a_comp, len - 32 - a_comp);
			tv_put_le32(b + 28, tv_crc32c_extend(tv_crc32c(b, 28), b + 32, a_comp));
		}
	}
	if (STORE_V2_HDR_LEN + (uint64_t)body_len <= n)
		tv_sha256(c + STORE_V2_HDR_LEN, body_len, c + 72);
	tv_put_le32(c + 124, tv_crc32c(c, 124));
}

/* "TVBLKRAW" hdr[32] alen u32 A[alen] B...: returns the block's length in
 * buf, or 0 when the input is too short. */
static size_t make_block(const uint8_t *d, size_t n)
{
	const uint8_t *hdr = d + 8, *b;
	uint32_t alen, a_comp;
	size_t blen;
	uint8_t *o, *a;
	bool zstd;
	if (n < 8 + 32 + 4)
		return 0;
	alen = tv_get_le32(d + 40);
	if (alen > n - 44 || alen > (1u << 20))
		return 0;
	blen = n - 44 - alen;
	b = d + 44 + alen;
	a = grow(&abuf, &abuf_cap, alen ? alen : 1);
	memcpy(a, d + 44, alen);
	fix_tails(a, alen, hdr, b, blen);
	zstd = (tv_get_le16(hdr + 20) & 1) != 0;
	o = room(32 + ZSTD_compressBound(alen) + blen);
	memcpy(o, hdr, 32);
	if (zstd) {
		size_t zr;
		if (!cctx) {
			cctx = ZSTD_createCCtx();
			if (!cctx)
				abort();
			ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
		}
		zr = ZSTD_compress2(cctx, o + 32, ZSTD_compressBound(alen), a, alen);
		if (ZSTD_isError(zr))
			abort();
		a_comp = (uint32_t)zr;
	} else {
		memcpy(o + 32, a, alen);
		a_comp = alen;
	}
	memcpy(o + 32 + a_comp, b, blen);
	tv_put_le32(o, a_comp);
	tv_put_le32(o + 4, alen);
	tv_put_le32(o + 8, (uint32_t)blen);
	tv_put_le32(o + 28, tv_crc32c_extend(tv_crc32c(o, 28), o + 32, a_comp));
	return 32 + a_comp + blen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the run of flows whose tails a query reads: from the last two bytes */
	uint32_t sel = size >= 2 ? (uint32_t)data[size - 1] | (uint32_t)data[size - 2] << 16 : 0;
	if (!chunk && (store_chunk_new(&chunk) != 0 || store_block_new(&block) != 0 ||
	               store_block_new_sharing(block, &part) != 0))
		abort();
	if (size >= 8 && memcmp(data, "TVFIXCRC", 8) == 0) {
		uint8_t *c = room(size - 8 ? size - 8 : 1);
		memcpy(c, data + 8, size - 8);
		fix_chunk(c, size - 8);
		try_chunk(c, size - 8, sel);
		return 0;
	}
	if (size >= 8 && memcmp(data, "TVBLKRAW", 8) == 0) {
		size_t n = make_block(data, size);
		if (n)
			try_block(buf, n, sel);
		return 0;
	}
	try_chunk(data, size, sel);
	try_block(data, size, sel);
	return 0;
}

#ifdef FUZZ_CHUNK2_SEEDS
/* Seeds: valid chunks from the packer, as is and with the CRC-fixing
 * prefix (also with every section A stored), some damaged, single blocks
 * and blocks in the raw form. */
static void put(const char *dir, const char *name, const char *prefix, const uint8_t *p, size_t n)
{
	char path[4096];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || (prefix && fwrite(prefix, 1, 8, f) != 8) || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static uint8_t *pack(uint32_t npkts, uint32_t nflows, uint32_t maxcap, bool tag, uint32_t seed,
                     size_t *len)
{
	store_packer *pk;
	store_packer_cfg cfg;
	const uint8_t *c;
	uint8_t frame[2000], key[40], *copy;
	uint32_t x = seed, i, j;
	store_packer_cfg_default(&cfg);
	cfg.block_target = 16 << 10;
	if (store_packer_new(&cfg, &pk) != 0)
		exit(1);
	if (tag)
		store_packer_set_tag(pk, (const uint8_t *)"seed-tag", 8);
	for (i = 0; i < npkts; i++) {
		tv_pkt p;
		uint32_t flow;
		x = x * 1103515245u + 12345u;
		flow = (x >> 8) % nflows;
		memset(&p, 0, sizeof p);
		p.ts_ns = 1700000000000000000ull + i * 1000ull - ((x >> 4) % 5 == 0 ? 3000 : 0);
		p.caplen = (x >> 12) % (maxcap + 1);
		p.origlen = p.caplen + (i % 4 == 0 ? 10 : 0);
		p.frame = frame;
		p.synth_l2 = (uint8_t)(i % 7 == 3);
		p.tun.vni = 100 + flow % 3;
		p.info.l3 = 4;
		p.info.has_ports = 1;
		p.info.key.proto = flow % 2 ? 6 : 17;
		p.info.key.sport = (uint16_t)(1000 + flow);
		p.info.key.dport = flow % 2 ? 443 : 53;
		for (j = 0; j < p.caplen; j++) {
			x = x * 1103515245u + 12345u;
			frame[j] = j < 54 ? (uint8_t)(flow + j) : (flow % 3 == 0 ? (uint8_t)(x >> 16) : (uint8_t)('a' + j % 26));
		}
		memset(key, 0, sizeof key);
		key[0] = (uint8_t)flow;
		if (store_packer_add(pk, &p, key, 54) != 0)
			exit(1);
	}
	if (store_packer_seal(pk, seed, &c, len, NULL) != 0)
		exit(1);
	copy = malloc(*len);
	memcpy(copy, c, *len);
	store_packer_free(pk);
	return copy;
}

/* The chunk c with every section A stored as it is (flags bit 0 clear):
 * blocks, table, body_len and every CRC and the hash made right, so that
 * TVFIXCRC fixes the tail CRCs of all its blocks after a mutation. */
static uint8_t *stored_form(const uint8_t *c, size_t len, size_t *out_len)
{
	store_hdr h;
	store_blkref refs[STORE_V2_MAX_BLOCKS];
	store_chunk *ck;
	const uint8_t *tag;
	uint32_t tl, i, pos;
	size_t cap = len;
	uint8_t *o;
	if (store_hdr_parse(c, len, &h) != 0 ||
	    store_head_parse(&h, c + STORE_V2_HDR_LEN, len - STORE_V2_HDR_LEN, refs, &tag, &tl) != 0)
		exit(1);
	for (i = 0; i < h.nblocks; i++)
		cap += refs[i].a_raw;
	o = malloc(cap);
	if (!o)
		exit(1);
	memcpy(o, c, STORE_V2_HDR_LEN + h.head_len);
	pos = h.head_len;
	for (i = 0; i < h.nblocks; i++) {
		const uint8_t *b = c + STORE_V2_HDR_LEN + refs[i].offset;
		uint8_t *q = o + STORE_V2_HDR_LEN + pos;
		uint32_t b_len = refs[i].len - 32 - refs[i].a_comp;
		store_blkref r = refs[i];
		memcpy(q, b, 32);
		if (tv_get_le16(b + 20) & 1) {
			if (ZSTD_decompress(q + 32, r.a_raw, b + 32, r.a_comp) != r.a_raw)
				exit(1);
		} else {
			memcpy(q + 32, b + 32, r.a_raw);
		}
		tv_put_le32(q, r.a_raw);
		tv_put_le16(q + 20, tv_get_le16(b + 20) & ~1u);
		memcpy(q + 32 + r.a_raw, b + 32 + r.a_comp, b_len);
		r.offset = pos;
		r.len = 32 + r.a_raw + b_len;
		r.a_comp = r.a_raw;
		store_blkref_put(o + STORE_V2_HDR_LEN + 4 + tl + STORE_V2_BLKREF_LEN * i, &r);
		pos += r.len;
	}
	tv_put_le32(o + 60, pos);
	*out_len = STORE_V2_HDR_LEN + (size_t)pos;
	fix_chunk(o, *out_len);
	if (store_chunk_new(&ck) != 0 || store_chunk_load(ck, o, *out_len, STORE_LOAD_HASH, NULL) != 0)
		exit(1);
	store_chunk_free(ck);
	return o;
}

int main(int argc, char **argv)
{
	static const struct {
		uint32_t n, flows, cap;
		bool tag;
	} k[] = { { 1, 1, 60, false }, { 12, 3, 300, true }, { 40, 6, 900, false }, { 60, 20, 400, true }, { 150, 10, 900, true } };
	char name[64];
	size_t i;
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (i = 0; i < sizeof k / sizeof k[0]; i++) {
		size_t len, slen;
		uint8_t *c = pack(k[i].n, k[i].flows, k[i].cap, k[i].tag, (uint32_t)i + 1, &len);
		uint8_t *st = stored_form(c, len, &slen);
		store_hdr h;
		store_blkref refs[STORE_V2_MAX_BLOCKS];
		const uint8_t *tag;
		uint32_t tl, b;
		snprintf(name, sizeof name, "chunk-%zu", i);
		put(argv[1], name, NULL, c, len);
		snprintf(name, sizeof name, "fixcrc-%zu", i);
		put(argv[1], name, "TVFIXCRC", c, len);
		snprintf(name, sizeof name, "stored-%zu", i);
		put(argv[1], name, "TVFIXCRC", st, slen);
		free(st);
		/* damaged: a flipped bit in the last block, and a cut */
		c[len - 1] ^= 0x10;
		snprintf(name, sizeof name, "flip-%zu", i);
		put(argv[1], name, NULL, c, len);
		c[len - 1] ^= 0x10;
		snprintf(name, sizeof name, "cut-%zu", i);
		put(argv[1], name, NULL, c, len / 2);
		/* each block alone, and in the raw form for the first */
		if (store_hdr_parse(c, len, &h) != 0 ||
		    store_head_parse(&h, c + STORE_V2_HDR_LEN, len - STORE_V2_HDR_LEN, refs, &tag, &tl) != 0)
			return 1;
		for (b = 0; b < h.nblocks && b < 2; b++) {
			const uint8_t *bp = c + STORE_V2_HDR_LEN + refs[b].offset;
			snprintf(name, sizeof name, "block-%zu-%u", i, b);
			put(argv[1], name, NULL, bp, refs[b].len);
		}
		if (h.nblocks > 0) {
			/* the raw form: section A decoded */
			const uint8_t *bp = c + STORE_V2_HDR_LEN + refs[0].offset;
			uint32_t a_comp = tv_get_le32(bp), a_raw = tv_get_le32(bp + 4);
			uint8_t *raw = malloc(32 + 4 + (size_t)a_raw + tv_get_le32(bp + 8));
			size_t rl;
			memcpy(raw, bp, 32);
			tv_put_le32(raw + 32, a_raw);
			if (tv_get_le16(bp + 20) & 1) {
				if (ZSTD_decompress(raw + 36, a_raw, bp + 32, a_comp) != a_raw)
					return 1;
			} else {
				memcpy(raw + 36, bp + 32, a_raw);
			}
			memcpy(raw + 36 + a_raw, bp + 32 + a_comp, tv_get_le32(bp + 8));
			rl = 36 + (size_t)a_raw + tv_get_le32(bp + 8);
			snprintf(name, sizeof name, "blkraw-%zu", i);
			put(argv[1], name, "TVBLKRAW", raw, rl);
			free(raw);
		}
		free(c);
	}
	return 0;
}
#endif
