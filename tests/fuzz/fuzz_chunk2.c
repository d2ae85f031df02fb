/*
 * fuzz_chunk2.c — libFuzzer target for the version-2 chunk readers
 * (store/FORMAT.md "Chunk"): store_hdr_parse, store_head_parse,
 * store_block_decode and store_chunk_load.  Whatever a reader accepts is
 * walked in full (every flow, record and frame byte), so a check it
 * forgot shows up as an ASan or UBSan report; the walk also checks what
 * the readers promise (flows and records in range, (ts, seq) order).
 *
 * CRCs and the SHA-256 stop almost every mutation at the door, so two
 * prefixes make the target fix them first:
 *
 *   "TVFIXCRC" chunk...   every block CRC the block table points at, the
 *                         body's SHA-256 and the header CRC are set right,
 *                         then the chunk is loaded: the structure checks
 *                         across header, head and blocks get fuzzed;
 *   "TVBLKRAW" hdr[32] alen u32 A[alen] B...
 *                         a block is built from the given header fields,
 *                         section A (stored, or compressed with zstd when
 *                         bit 0 of the header's flags is set) and B, with
 *                         a_comp, a_raw, b_len and the CRC set right: the
 *                         checks of decoded section A get fuzzed.
 *
 * Anything else is tried as a whole chunk and as a single block.  The
 * seeds in tests/fuzz/corpus/fuzz_chunk2/ come from store_packer: build
 * this file with -DFUZZ_CHUNK2_SEEDS and run it with the folder as its
 * argument to make them again.  The same file replays the corpus under
 * the normal compiler with tests/fuzz/replay_main.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "../../store/chunk2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static store_chunk *chunk;
static store_block *block;
static uint8_t *buf;
static size_t buf_cap;
static ZSTD_CCtx *cctx;

static uint8_t *room(size_t n)
{
	if (n > buf_cap) {
		uint8_t *nb = realloc(buf, n);
		if (!nb)
			abort();
		buf = nb;
		buf_cap = n;
	}
	return buf;
}

static uint32_t sum_bytes(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

/* Touches everything a decoded block hands out and checks its promises. */
static uint32_t walk_block(store_block *b)
{
	static uint8_t scratch[STORE_MAX_CAPLEN];
	uint32_t i, k, s = 0, nf = store_block_nflows(b), nr = store_block_nrec(b), total = 0;
	for (i = 0; i < nf; i++) {
		const store_bflow *f = store_block_flow(b, i);
		if (!f || f->nrec == 0 || f->first != total || f->first + f->nrec > nr)
			abort();
		total += f->nrec;
		s += sum_bytes(f->key, STORE_V2_KEY_LEN) + f->tun->vni + f->tun->tunnel;
		for (k = 0; k < f->nrec; k++) {
			const store_brec *r = store_block_rec(b, f->first + k);
			const uint8_t *fr;
			if (!r || r->flow != i || r->alen > r->caplen || r->caplen > STORE_MAX_CAPLEN ||
			    (r->flags & ~(STORE_REC_SYNTH_L2 | STORE_REC_DECAP_ERROR)) != 0)
				abort();
			if (k > 0) {
				const store_brec *q = store_block_rec(b, f->first + k - 1);
				if (r->ts_ns < q->ts_ns || (r->ts_ns == q->ts_ns && r->seq <= q->seq))
					abort();
			}
			fr = store_block_frame(b, f->first + k, (k & 1) ? scratch : NULL);
			if (!fr)
				abort();
			s += sum_bytes(fr, r->caplen) + r->origlen + r->seq;
		}
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

static void try_chunk(const uint8_t *p, size_t n)
{
	store_hdr h;
	int rc;
	if (store_hdr_parse(p, n, &h) == 0 && n >= STORE_V2_HDR_LEN + (size_t)h.head_len) {
		store_blkref refs[STORE_V2_MAX_BLOCKS];
		const uint8_t *tag;
		uint32_t tl, i;
		if (store_head_parse(&h, p + STORE_V2_HDR_LEN, n - STORE_V2_HDR_LEN, refs, &tag, &tl) == 0)
			for (i = 0; i < h.nblocks; i++)
				if (STORE_V2_HDR_LEN + (uint64_t)refs[i].offset + refs[i].len <= n &&
				    store_block_decode(block, p + STORE_V2_HDR_LEN + refs[i].offset, refs[i].len,
				                       &h, &refs[i]) == 0)
					(void)walk_block(block);
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

static void try_block(const uint8_t *p, size_t n)
{
	int rc = store_block_decode(block, p, n, NULL, NULL);
	if (rc == 0)
		(void)walk_block(block);
	else if (store_block_nrec(block) != 0)
		abort();
}

/* Sets every CRC and the hash of a chunk, reading only what is there. */
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
			uint64_t ref = STORE_V2_HDR_LEN + 4 + (uint64_t)taglen + 16u * i, off, len;
			if (ref + 16 > n)
				break;
			off = tv_get_le32(c + ref);
			len = tv_get_le32(c + ref + 4);
			if (len >= 32 && STORE_V2_HDR_LEN + off + len <= n) {
				uint8_t *b = c + STORE_V2_HDR_LEN + off;
				tv_put_le32(b + 28, tv_crc32c_extend(tv_crc32c(b, 28), b + 32, len - 32));
			}
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
	const uint8_t *hdr = d + 8, *a;
	uint32_t alen, a_comp;
	size_t blen;
	uint8_t *o;
	bool zstd;
	if (n < 8 + 32 + 4)
		return 0;
	alen = tv_get_le32(d + 40);
	if (alen > n - 44 || alen > (1u << 20))
		return 0;
	a = d + 44;
	blen = n - 44 - alen;
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
	memcpy(o + 32 + a_comp, a + alen, blen);
	tv_put_le32(o, a_comp);
	tv_put_le32(o + 4, alen);
	tv_put_le32(o + 8, (uint32_t)blen);
	tv_put_le32(o + 28, tv_crc32c_extend(tv_crc32c(o, 28), o + 32, a_comp + blen));
	return 32 + a_comp + blen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!chunk && (store_chunk_new(&chunk) != 0 || store_block_new(&block) != 0))
		abort();
	if (size >= 8 && memcmp(data, "TVFIXCRC", 8) == 0) {
		uint8_t *c = room(size - 8 ? size - 8 : 1);
		memcpy(c, data + 8, size - 8);
		fix_chunk(c, size - 8);
		try_chunk(c, size - 8);
		return 0;
	}
	if (size >= 8 && memcmp(data, "TVBLKRAW", 8) == 0) {
		size_t n = make_block(data, size);
		if (n)
			try_block(buf, n);
		return 0;
	}
	try_chunk(data, size);
	try_block(data, size);
	return 0;
}

#ifdef FUZZ_CHUNK2_SEEDS
/* Seeds: valid chunks from the packer, as is and with the CRC-fixing
 * prefix, some damaged, and blocks in the raw form. */
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
		size_t len;
		uint8_t *c = pack(k[i].n, k[i].flows, k[i].cap, k[i].tag, (uint32_t)i + 1, &len);
		store_hdr h;
		store_blkref refs[STORE_V2_MAX_BLOCKS];
		const uint8_t *tag;
		uint32_t tl, b;
		snprintf(name, sizeof name, "chunk-%zu", i);
		put(argv[1], name, NULL, c, len);
		snprintf(name, sizeof name, "fixcrc-%zu", i);
		put(argv[1], name, "TVFIXCRC", c, len);
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
			/* the raw form needs section A decoded: take it from a
			 * block stored without zstd, or skip */
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
