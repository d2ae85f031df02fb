/*
 * test_store.c — chunk builder/reader and segment files (store/FORMAT.md).
 *
 * The header CRC and the crafted chunks are computed here independently of
 * store/chunk.c, from the specification, so the tests check the format and
 * not only that the code agrees with itself.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "../../store/store.h"

/* ----------------------------------------------------------- helpers */

static uint32_t spec_crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

static void fix_crc(uint8_t *chunk)
{
	tv_put_le32(chunk + 92, spec_crc32c(chunk, 92));
}

static void fix_sha(uint8_t *chunk, size_t len)
{
	tv_sha256(chunk + 96, len - 96, chunk + 60);
	fix_crc(chunk);
}

static void make_tun(tv_tunmeta *t, int k)
{
	memset(t, 0, sizeof *t);
	t->vni = k == 0 ? TV_VNI_NONE : (uint32_t)(1000 + k);
	t->tunnel = (uint8_t)(k % 4);
	t->has_gwlb = (uint8_t)(k % 4 >= 2);
	uint8_t v4[4] = { 10, 0, (uint8_t)k, 1 };
	tv_addr_from_v4(&t->outer_src, v4);
	if (t->has_gwlb) {
		t->gwlb_endpoint = 0x0123456789abcdefull + (uint64_t)k;
		t->gwlb_attachment = 0xfedcba9876543210ull - (uint64_t)k;
		t->gwlb_cookie = 0xc0c0c0c0u + (uint32_t)k;
	}
}

/* Frame bytes of packet i: a pattern that depends on i. */
static void fill_frame(uint8_t *f, uint32_t caplen, uint32_t i)
{
	for (uint32_t j = 0; j < caplen; j++)
		f[j] = (uint8_t)(i * 31 + j * 7 + (j >> 8));
}

static void make_pkt(tv_pkt *p, uint8_t *frame, uint64_t ts, uint32_t caplen, uint32_t i, int ctx)
{
	memset(p, 0, sizeof *p);
	fill_frame(frame, caplen, i);
	p->ts_ns = ts;
	p->frame = frame;
	p->caplen = caplen;
	p->origlen = caplen + (i % 3 == 0 ? 100 : 0);
	p->synth_l2 = (uint8_t)(i % 5 == 1);
	p->decap_error = (uint8_t)(i % 7 == 2);
	make_tun(&p->tun, ctx);
}

/* Seals n simple packets into a malloc'd chunk. */
static uint8_t *build_simple(uint32_t n, uint64_t chunk_id, uint64_t ts0, size_t *len,
                             store_chunk_meta *meta)
{
	store_builder *b;
	store_builder_cfg cfg;
	uint8_t frame[600];
	const uint8_t *c;
	store_builder_cfg_default(&cfg);
	cr_assert_eq(store_builder_new(&cfg, &b), 0);
	for (uint32_t i = 0; i < n; i++) {
		tv_pkt p;
		make_pkt(&p, frame, ts0 + i * 1000, 60 + (i * 37) % 500, i, (int)(i % 3));
		cr_assert_eq(store_builder_add(b, &p), 0);
	}
	cr_assert_eq(store_builder_seal(b, chunk_id, &c, len, meta), 0);
	uint8_t *copy = malloc(*len);
	memcpy(copy, c, *len);
	store_builder_free(b);
	return copy;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static char *mktemp_dir(void)
{
	char *d = strdup("/tmp/tv-store-test-XXXXXX");
	cr_assert_not_null(mkdtemp(d));
	return d;
}

static const uint8_t UUID[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* ------------------------------------------------- builder and reader */

Test(chunk, crc32c_check_value)
{
	/* The check value FORMAT.md gives for the header CRC. */
	cr_assert_eq(spec_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
}

Test(chunk, roundtrip_sorted_stably)
{
	enum { N = 5000 };
	store_builder *b;
	store_reader *r;
	store_builder_cfg cfg;
	static uint8_t frames[N][1600];
	static tv_pkt pk[N];
	static uint32_t order[N];
	store_chunk_meta m, m2;
	const uint8_t *c;
	size_t len;
	uint64_t orig = 0, mn = UINT64_MAX, mx = 0;

	store_builder_cfg_default(&cfg);
	cfg.raw_target = 16u << 20;
	cr_assert_eq(store_builder_new(&cfg, &b), 0);
	for (uint32_t i = 0; i < N; i++) {
		/* Mostly increasing, every 10th packet 5 us late, many ties. */
		uint64_t ts = 1700000000000000000ull + (uint64_t)(i / 4) * 1000;
		if (i % 10 == 9)
			ts -= 5000;
		uint32_t caplen = (i * 97) % 1600;
		make_pkt(&pk[i], frames[i], ts, caplen, i, (int)(i % 5));
		if (i % 11 == 0)
			pk[i].tun.pad[0] = 0x55; /* padding must not split a context */
		cr_assert_eq(store_builder_add(b, &pk[i]), 0);
		orig += pk[i].origlen;
		mn = ts < mn ? ts : mn;
		mx = ts > mx ? ts : mx;
	}
	cr_assert_eq(store_builder_count(b), N);
	cr_assert_eq(store_builder_first_ts(b), mn);

	/* Expected order: stable sort by ts (insertion sort). */
	for (uint32_t i = 0; i < N; i++) {
		uint32_t j = i;
		while (j > 0 && pk[order[j - 1]].ts_ns > pk[i].ts_ns) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}

	cr_assert_eq(store_builder_seal(b, 42, &c, &len, &m), 0);
	cr_assert_eq(store_builder_count(b), 0);
	cr_assert_eq(m.chunk_id, 42);
	cr_assert_eq(m.npkts, N);
	cr_assert_eq(m.nctx, 5);
	cr_assert_eq(m.first_ts, mn);
	cr_assert_eq(m.last_ts, mx);
	cr_assert_eq(m.orig_bytes, orig);
	cr_assert_eq(m.length, len);
	cr_assert_eq(m.comp_len + 96, len);

	/* The header as the spec lays it out. */
	cr_assert_eq(memcmp(c, "TVCHUNK1", 8), 0);
	cr_assert_eq(tv_get_le16(c + 8), 1);
	cr_assert_eq(tv_get_le16(c + 10), 0);
	cr_assert_eq(tv_get_le32(c + 12), 5);
	cr_assert_eq(tv_get_le64(c + 16), 42);
	cr_assert_eq(tv_get_le64(c + 24), mn);
	cr_assert_eq(tv_get_le64(c + 32), mx);
	cr_assert_eq(tv_get_le64(c + 40), orig);
	cr_assert_eq(tv_get_le32(c + 48), N);
	cr_assert_eq(tv_get_le32(c + 52), m.raw_len);
	cr_assert_eq(tv_get_le32(c + 56), m.comp_len);
	uint8_t d[32];
	tv_sha256(c + 96, m.comp_len, d);
	cr_assert_arr_eq(c + 60, d, 32);
	cr_assert_arr_eq(m.sha256, d, 32);
	cr_assert_eq(tv_get_le32(c + 92), spec_crc32c(c, 92));
	cr_assert_eq(ZSTD_getFrameContentSize(c + 96, m.comp_len), m.raw_len);

	cr_assert_eq(store_chunk_header_parse(c, len, &m2), 0);
	cr_assert_eq(memcmp(&m, &m2, sizeof m), 0);

	cr_assert_eq(store_reader_new(&r), 0);
	cr_assert_eq(store_reader_load(r, c, len, true, &m2), 0);
	cr_assert_eq(memcmp(&m, &m2, sizeof m), 0);
	cr_assert_eq(store_reader_count(r), N);
	for (uint32_t k = 0; k < N; k++) {
		store_rec rec;
		const tv_pkt *p = &pk[order[k]];
		tv_tunmeta want;
		store_reader_get(r, k, &rec);
		cr_assert_eq(rec.ts_ns, p->ts_ns, "record %u", k);
		cr_assert_eq(rec.caplen, p->caplen);
		cr_assert_eq(rec.origlen, p->origlen);
		cr_assert_eq(rec.flags, (p->synth_l2 ? STORE_REC_SYNTH_L2 : 0u) |
		                        (p->decap_error ? STORE_REC_DECAP_ERROR : 0u));
		cr_assert_eq(memcmp(rec.frame, p->frame, p->caplen), 0, "frame of record %u", k);
		make_tun(&want, (int)(order[k] % 5));
		cr_assert_eq(memcmp(rec.tun, &want, sizeof want), 0);
	}
	store_reader_free(r);
	store_builder_free(b);
}

Test(chunk, reuse_and_sorted_fast_path)
{
	store_builder *b;
	store_reader *r;
	uint8_t frame[300];
	const uint8_t *c;
	size_t len;
	store_chunk_meta m;
	cr_assert_eq(store_builder_new(NULL, &b), 0);
	cr_assert_eq(store_reader_new(&r), 0);
	for (int round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < 100; i++) {
			tv_pkt p;
			make_pkt(&p, frame, 1000 + i, 200, i + (uint32_t)round, round);
			cr_assert_eq(store_builder_add(b, &p), 0);
		}
		cr_assert_eq(store_builder_seal(b, (uint64_t)round, &c, &len, &m), 0);
		cr_assert_eq(m.nctx, 1);
		cr_assert_eq(store_reader_load(r, c, len, true, NULL), 0);
		cr_assert_eq(store_reader_count(r), 100);
		for (uint32_t i = 0; i < 100; i++) {
			store_rec rec;
			uint8_t want[300];
			store_reader_get(r, i, &rec);
			fill_frame(want, 200, i + (uint32_t)round);
			cr_assert_eq(rec.ts_ns, 1000 + i);
			cr_assert_eq(memcmp(rec.frame, want, 200), 0);
			cr_assert_eq(rec.tun->vni, round == 0 ? TV_VNI_NONE : (uint32_t)(1000 + round));
		}
	}
	/* Sealing nothing is refused. */
	cr_assert_eq(store_builder_seal(b, 9, &c, &len, &m), TV_E_RANGE);
	store_reader_free(r);
	store_builder_free(b);
}

Test(chunk, builder_limits)
{
	store_builder *b;
	store_builder_cfg cfg;
	static uint8_t big[STORE_MAX_CAPLEN + 1];
	static uint8_t frame[5000];
	tv_pkt p;
	const uint8_t *c;
	size_t len;
	store_chunk_meta m;
	uint32_t n = 0;
	int rc;

	store_builder_cfg_default(&cfg);
	cfg.raw_target = 4096;
	cr_assert_eq(store_builder_new(&cfg, &b), 0);
	cr_assert(!store_builder_full(b));
	do {
		make_pkt(&p, frame, 5 + n, 300, n, 1);
		rc = store_builder_add(b, &p);
		if (rc == 0)
			n++;
	} while (rc == 0);
	cr_assert_eq(rc, TV_E_FULL);
	/* 48 for the context, then 320 per record: 12 fit in 4096. */
	cr_assert_eq(n, 12);
	cr_assert_eq(store_builder_count(b), 12);
	cr_assert(!store_builder_full(b));
	cr_assert_eq(store_builder_seal(b, 1, &c, &len, &m), 0);
	cr_assert_leq(m.raw_len, 4096);

	/* Exactly reaching the target makes the builder full. */
	make_pkt(&p, frame, 1, 4096 - 48 - 20, 0, 1);
	cr_assert_eq(store_builder_add(b, &p), 0);
	cr_assert(store_builder_full(b));
	make_pkt(&p, frame, 1, 0, 0, 1);
	cr_assert_eq(store_builder_add(b, &p), TV_E_FULL);
	store_builder_reset(b);
	cr_assert_eq(store_builder_count(b), 0);

	/* A packet larger than the target goes into an empty builder. */
	memset(&p, 0, sizeof p);
	p.frame = big;
	p.caplen = STORE_MAX_CAPLEN;
	p.origlen = STORE_MAX_CAPLEN;
	cr_assert_eq(store_builder_add(b, &p), 0);
	cr_assert(store_builder_full(b));
	cr_assert_eq(store_builder_add(b, &p), TV_E_FULL);
	cr_assert_eq(store_builder_seal(b, 2, &c, &len, &m), 0);

	/* caplen over the format limit, or no frame. */
	p.caplen = STORE_MAX_CAPLEN + 1;
	cr_assert_eq(store_builder_add(b, &p), TV_E_RANGE);
	p.caplen = 10;
	p.frame = NULL;
	cr_assert_eq(store_builder_add(b, &p), TV_E_RANGE);
	store_builder_free(b);
}

Test(chunk, context_limit)
{
	store_builder *b;
	store_builder_cfg cfg;
	store_reader *r;
	uint8_t frame[4] = { 1, 2, 3, 4 };
	tv_pkt p;
	const uint8_t *c;
	size_t len;
	store_chunk_meta m;

	store_builder_cfg_default(&cfg);
	cfg.raw_target = STORE_MAX_RAW;
	cr_assert_eq(store_builder_new(&cfg, &b), 0);
	memset(&p, 0, sizeof p);
	p.frame = frame;
	p.caplen = 4;
	p.origlen = 4;
	for (uint32_t i = 0; i < STORE_MAX_CTX; i++) {
		p.ts_ns = i;
		p.tun.vni = i;
		cr_assert_eq(store_builder_add(b, &p), 0);
		/* the same context again: no new entry */
		cr_assert_eq(store_builder_add(b, &p), 0);
	}
	p.tun.vni = STORE_MAX_CTX;
	cr_assert_eq(store_builder_add(b, &p), TV_E_FULL);
	p.tun.vni = 77; /* an old one still fits */
	cr_assert_eq(store_builder_add(b, &p), 0);
	cr_assert_eq(store_builder_seal(b, 1, &c, &len, &m), 0);
	cr_assert_eq(m.nctx, STORE_MAX_CTX);
	cr_assert_eq(store_reader_new(&r), 0);
	cr_assert_eq(store_reader_load(r, c, len, true, NULL), 0);
	cr_assert_eq(store_reader_count(r), 2 * STORE_MAX_CTX + 1);
	store_rec rec;
	store_reader_get(r, 2 * STORE_MAX_CTX, &rec);
	cr_assert_eq(rec.tun->vni, 77);
	store_reader_get(r, 2 * 1000 + 1, &rec);
	cr_assert_eq(rec.tun->vni, 1000);
	store_reader_free(r);
	store_builder_free(b);
}

/* ------------------------------------------------- reader error paths */

static int load(const uint8_t *c, size_t len, bool verify)
{
	store_reader *r;
	int rc;
	cr_assert_eq(store_reader_new(&r), 0);
	rc = store_reader_load(r, c, len, verify, NULL);
	if (rc != 0)
		cr_assert_eq(store_reader_count(r), 0);
	store_reader_free(r);
	return rc;
}

Test(chunk_err, header_fields)
{
	size_t len;
	store_chunk_meta m;
	uint8_t *c = build_simple(50, 7, 1000, &len, &m);
	uint8_t *x = malloc(len);

	cr_assert_eq(load(c, len, true), 0);

	memcpy(x, c, len);
	x[0] = 'X';
	cr_assert_eq(load(x, len, true), TV_E_FORMAT);

	memcpy(x, c, len);
	tv_put_le16(x + 8, 2);
	cr_assert_eq(load(x, len, true), TV_E_VERSION); /* before the CRC */
	fix_crc(x);
	cr_assert_eq(load(x, len, true), TV_E_VERSION);

	memcpy(x, c, len);
	tv_put_le16(x + 8, 0);
	fix_crc(x);
	cr_assert_eq(load(x, len, true), TV_E_FORMAT);

	memcpy(x, c, len);
	tv_put_le16(x + 10, 1); /* reserved flags */
	cr_assert_eq(load(x, len, true), TV_E_CORRUPT); /* CRC */
	fix_crc(x);
	cr_assert_eq(load(x, len, true), TV_E_CORRUPT); /* flags */

	memcpy(x, c, len);
	x[92] ^= 1; /* the CRC itself */
	cr_assert_eq(load(x, len, true), TV_E_CORRUPT);

	/* Limits in the header. */
	static const struct {
		int off, width;
		uint64_t val;
	} lim[] = {
		{ 12, 4, 0 },               /* nctx 0 */
		{ 12, 4, 65536 },           /* nctx too big */
		{ 48, 4, 0 },               /* npkts 0 */
		{ 48, 4, 0xFFFFFFFF },      /* npkts cannot fit raw_len */
		{ 52, 4, (64u << 20) + 1 }, /* raw_len over 64 MiB */
		{ 56, 4, 0 },               /* comp_len 0 */
		{ 56, 4, 0xFFFFFFF0 },      /* comp_len over the bound */
		{ 24, 8, UINT64_MAX },      /* first_ts > last_ts */
	};
	for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
		memcpy(x, c, len);
		if (lim[i].width == 4)
			tv_put_le32(x + lim[i].off, (uint32_t)lim[i].val);
		else
			tv_put_le64(x + lim[i].off, lim[i].val);
		fix_crc(x);
		cr_assert_eq(load(x, len, true), TV_E_CORRUPT, "limit %zu", i);
		cr_assert_eq(store_chunk_header_parse(x, len, NULL), TV_E_CORRUPT);
	}

	/* Header fields that only the payload can refute. */
	static const int cross[] = { 24, 32, 40, 52 };
	for (size_t i = 0; i < sizeof cross / sizeof cross[0]; i++) {
		memcpy(x, c, len);
		if (cross[i] == 52)
			tv_put_le32(x + 52, m.raw_len - 1);
		else if (cross[i] == 24)
			tv_put_le64(x + 24, m.first_ts + 1);
		else
			tv_put_le64(x + cross[i], tv_get_le64(x + cross[i]) - 1);
		fix_crc(x);
		cr_assert_eq(load(x, len, true), TV_E_CORRUPT, "cross %d", cross[i]);
	}
	/* npkts one less: the records overrun it. */
	memcpy(x, c, len);
	tv_put_le32(x + 48, 49);
	fix_crc(x);
	cr_assert_eq(load(x, len, true), TV_E_CORRUPT);
	free(x);
	free(c);
}

Test(chunk_err, payload_hash_and_lengths)
{
	size_t len;
	store_chunk_meta m;
	uint8_t *c = build_simple(80, 7, 1000, &len, &m);
	uint8_t *x = malloc(len + 16);

	/* Every payload byte flipped: the SHA-256 catches it.  Without the hash,
	 * zstd (content checksum or decoding) or the record checks catch every
	 * flip that changes the content.  Some bits do not (the frame header's
	 * unused bit, entropy-stream padding): those decode to the very same
	 * records, which zstd's XXH64 confirms and we check again here. */
	store_reader *orig, *r;
	cr_assert_eq(store_reader_new(&orig), 0);
	cr_assert_eq(store_reader_new(&r), 0);
	cr_assert_eq(store_reader_load(orig, c, len, true, NULL), 0);
	for (size_t i = 96; i < len; i++) {
		memcpy(x, c, len);
		x[i] ^= 0x10;
		cr_assert_eq(load(x, len, true), TV_E_HASH, "byte %zu", i);
		int rc = store_reader_load(r, x, len, false, NULL);
		cr_assert(rc == TV_E_CORRUPT || rc == 0, "byte %zu: %d", i, rc);
		if (rc != 0)
			continue;
		cr_assert_eq(store_reader_count(r), 80);
		for (uint32_t k = 0; k < 80; k++) {
			store_rec ra, rb;
			store_reader_get(orig, k, &ra);
			store_reader_get(r, k, &rb);
			cr_assert_eq(ra.ts_ns, rb.ts_ns);
			cr_assert_eq(ra.caplen, rb.caplen);
			cr_assert_eq(memcmp(ra.frame, rb.frame, ra.caplen), 0);
		}
	}
	store_reader_free(orig);
	store_reader_free(r);
	/* The stored hash itself damaged. */
	memcpy(x, c, len);
	x[60] ^= 1;
	fix_crc(x);
	cr_assert_eq(load(x, len, true), TV_E_HASH);
	cr_assert_eq(load(x, len, false), 0);

	/* Cut anywhere: truncated. */
	for (size_t cut = 0; cut < len; cut++)
		cr_assert_eq(load(c, cut, true), TV_E_TRUNCATED, "cut %zu", cut);
	/* Prefixes of something else are not chunks. */
	cr_assert_eq(store_chunk_header_parse((const uint8_t *)"TVX", 3, NULL), TV_E_FORMAT);
	cr_assert_eq(store_chunk_header_parse((const uint8_t *)"TVC", 3, NULL), TV_E_TRUNCATED);

	/* Trailing bytes. */
	memcpy(x, c, len);
	x[len] = 0;
	cr_assert_eq(load(x, len + 1, true), TV_E_CORRUPT);
	free(x);
	free(c);
}

/* A chunk around an arbitrary payload, with a valid header, hash and CRC:
 * zstd flags chosen by the caller. */
typedef struct craft {
	uint32_t nctx, npkts;
	uint64_t first_ts, last_ts, orig_bytes;
	int checksum, content_size, twice;
	int64_t raw_len_delta;
} craft;

static uint8_t *craft_chunk(const uint8_t *payload, size_t plen, const craft *k, size_t *len)
{
	size_t bound = ZSTD_compressBound(plen);
	uint8_t *c = calloc(1, 96 + 2 * bound);
	ZSTD_CCtx *z = ZSTD_createCCtx();
	size_t zr;
	ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, k->checksum);
	ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, k->content_size);
	zr = ZSTD_compress2(z, c + 96, bound, payload, plen);
	cr_assert(!ZSTD_isError(zr));
	if (k->twice) {
		size_t zr2 = ZSTD_compress2(z, c + 96 + zr, bound, payload, plen);
		cr_assert(!ZSTD_isError(zr2));
		zr += zr2;
	}
	ZSTD_freeCCtx(z);
	memcpy(c, "TVCHUNK1", 8);
	tv_put_le16(c + 8, 1);
	tv_put_le32(c + 12, k->nctx);
	tv_put_le64(c + 16, 99);
	tv_put_le64(c + 24, k->first_ts);
	tv_put_le64(c + 32, k->last_ts);
	tv_put_le64(c + 40, k->orig_bytes);
	tv_put_le32(c + 48, k->npkts);
	tv_put_le32(c + 52, (uint32_t)((int64_t)plen + k->raw_len_delta));
	tv_put_le32(c + 56, (uint32_t)zr);
	*len = 96 + zr;
	fix_sha(c, *len);
	return c;
}

/* Payload writer for hand-made chunks. */
typedef struct pw {
	uint8_t b[4096];
	size_t n;
} pw;

/* Every payload starts with the producer tag block: here an empty tag. */
static void pw_start(pw *w)
{
	memset(w, 0, sizeof *w);
	w->n = 4;
}

static void pw_ctx(pw *w, uint32_t vni, uint16_t rsv1, uint32_t rsv2)
{
	uint8_t *p = w->b + w->n;
	memset(p, 0, 48);
	tv_put_le32(p, vni);
	p[4] = 1;
	tv_put_le16(p + 6, rsv1);
	p[8 + 15] = 9;
	tv_put_le32(p + 44, rsv2);
	w->n += 48;
}

static void pw_rec(pw *w, uint64_t ts, uint32_t caplen, uint32_t real, uint32_t origlen,
                   uint16_t ctx, uint16_t flags)
{
	uint8_t *p = w->b + w->n;
	tv_put_le64(p, ts);
	tv_put_le32(p + 8, caplen);
	tv_put_le32(p + 12, origlen);
	tv_put_le16(p + 16, ctx);
	tv_put_le16(p + 18, flags);
	memset(p + 20, 0xab, real);
	w->n += 20 + real;
}

/* Two contexts, three records: ts 10, 20, 20; caplen 5, 0, 7; origlen 5, 60, 9. */
static void good_payload(pw *w, craft *k)
{
	pw_start(w);
	pw_ctx(w, 100, 0, 0);
	pw_ctx(w, 200, 0, 0);
	pw_rec(w, 10, 5, 5, 5, 0, 0);
	pw_rec(w, 20, 0, 0, 60, 1, STORE_REC_SYNTH_L2);
	pw_rec(w, 20, 7, 7, 9, 1, STORE_REC_SYNTH_L2 | STORE_REC_DECAP_ERROR);
	memset(k, 0, sizeof *k);
	k->nctx = 2;
	k->npkts = 3;
	k->first_ts = 10;
	k->last_ts = 20;
	k->orig_bytes = 74;
	k->checksum = 1;
	k->content_size = 1;
}

static int load_crafted(const pw *w, const craft *k)
{
	size_t len;
	uint8_t *c = craft_chunk(w->b, w->n, k, &len);
	int rc = load(c, len, true);
	free(c);
	return rc;
}

Test(chunk_err, crafted_payloads)
{
	pw w;
	craft k;
	store_reader *r;
	size_t len;
	uint8_t *c;

	good_payload(&w, &k);
	c = craft_chunk(w.b, w.n, &k, &len);
	cr_assert_eq(store_reader_new(&r), 0);
	cr_assert_eq(store_reader_load(r, c, len, true, NULL), 0);
	cr_assert_eq(store_reader_count(r), 3);
	store_rec rec;
	store_reader_get(r, 2, &rec);
	cr_assert_eq(rec.caplen, 7);
	cr_assert_eq(rec.origlen, 9);
	cr_assert_eq(rec.tun->vni, 200);
	cr_assert_eq(rec.tun->outer_src.b[15], 9);
	cr_assert_eq(rec.flags, STORE_REC_SYNTH_L2 | STORE_REC_DECAP_ERROR);
	cr_assert_eq(rec.frame[6], 0xab);
	store_reader_get(r, 3, &rec); /* out of range: zeroed, no read */
	cr_assert_null(rec.frame);
	free(c);

	/* A record whose caplen runs past the payload (hash valid). */
	good_payload(&w, &k);
	w.n -= 27;
	pw_rec(&w, 20, 8, 7, 8, 1, 0);
	k.orig_bytes = 5 + 60 + 8;
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);

	/* caplen huge (overflow bait). */
	good_payload(&w, &k);
	w.n -= 27;
	pw_rec(&w, 20, 0xFFFFFFF0u, 7, 9, 1, 0);
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);

	/* caplen over 262144, even though the bytes are there. */
	{
		static uint8_t big[4 + 48 + 20 + 262145];
		memset(big, 0, sizeof big);
		tv_put_le64(big + 52, 5);
		tv_put_le32(big + 52 + 8, 262145);
		tv_put_le32(big + 52 + 12, 262145);
		craft kb = { .nctx = 1, .npkts = 1, .first_ts = 5, .last_ts = 5,
		             .orig_bytes = 262145, .checksum = 1, .content_size = 1 };
		c = craft_chunk(big, sizeof big, &kb, &len);
		cr_assert_eq(load(c, len, true), TV_E_CORRUPT);
		free(c);
		/* ...and the same at the limit is fine. */
		tv_put_le32(big + 52 + 8, 262144);
		tv_put_le32(big + 52 + 12, 262144);
		kb.orig_bytes = 262144;
		c = craft_chunk(big, sizeof big - 1, &kb, &len);
		cr_assert_eq(load(c, len, true), 0);
		free(c);
	}

	/* Context index out of range. */
	good_payload(&w, &k);
	w.n -= 27;
	pw_rec(&w, 20, 7, 7, 9, 2, 0);
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);

	/* Reserved record flag bits. */
	good_payload(&w, &k);
	w.n -= 27;
	pw_rec(&w, 20, 7, 7, 9, 1, 0x0004);
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);

	/* Reserved context fields. */
	good_payload(&w, &k);
	pw_start(&w);
	pw_ctx(&w, 100, 1, 0);
	pw_ctx(&w, 200, 0, 0);
	pw_rec(&w, 10, 5, 5, 5, 0, 0);
	pw_rec(&w, 20, 0, 0, 60, 1, 0);
	pw_rec(&w, 20, 7, 7, 9, 1, 0);
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);
	pw_start(&w);
	pw_ctx(&w, 100, 0, 0);
	pw_ctx(&w, 200, 0, 1);
	pw_rec(&w, 10, 5, 5, 5, 0, 0);
	pw_rec(&w, 20, 0, 0, 60, 1, 0);
	pw_rec(&w, 20, 7, 7, 9, 1, 0);
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);

	/* Timestamps out of order. */
	pw_start(&w);
	pw_ctx(&w, 100, 0, 0);
	pw_ctx(&w, 200, 0, 0);
	pw_rec(&w, 10, 5, 5, 5, 0, 0);
	pw_rec(&w, 30, 0, 0, 60, 1, 0);
	pw_rec(&w, 20, 7, 7, 9, 1, 0);
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);

	/* Bytes left over after the last record. */
	good_payload(&w, &k);
	w.b[w.n++] = 0;
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);
	/* A record header cut short at the end. */
	good_payload(&w, &k);
	k.npkts = 4;
	w.b[w.n++] = 0;
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);

	/* Header sums and bounds that disagree with the records. */
	good_payload(&w, &k);
	k.orig_bytes = 75;
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);
	good_payload(&w, &k);
	k.last_ts = 21;
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);
	good_payload(&w, &k);
	k.first_ts = 9;
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);

	/* zstd frame properties. */
	good_payload(&w, &k);
	k.checksum = 0;
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);
	good_payload(&w, &k);
	k.content_size = 0;
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);
	good_payload(&w, &k);
	k.raw_len_delta = 1; /* header says one more than the frame */
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);
	good_payload(&w, &k);
	k.twice = 1; /* two frames */
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);

	/* Not zstd at all (raw bytes with a valid hash). */
	good_payload(&w, &k);
	c = craft_chunk(w.b, w.n, &k, &len);
	c[96] = 0;
	fix_sha(c, len);
	cr_assert_eq(load(c, len, true), TV_E_CORRUPT);
	free(c);

	/* A failed load leaves nothing loaded; the reader still works after. */
	good_payload(&w, &k);
	c = craft_chunk(w.b, w.n, &k, &len);
	cr_assert_eq(store_reader_load(r, c, len - 1, true, NULL), TV_E_TRUNCATED);
	cr_assert_eq(store_reader_count(r), 0);
	cr_assert_eq(store_reader_load(r, c, len, true, NULL), 0);
	cr_assert_eq(store_reader_count(r), 3);
	free(c);
	store_reader_free(r);
}

/* ------------------------------------------------------------ segments */

static store_segs *segs_open(const char *dir, bool writable, uint64_t segsize)
{
	store_segs_cfg cfg;
	store_segs *s;
	store_segs_cfg_default(&cfg);
	cfg.writable = writable;
	cfg.segment_size = segsize;
	cr_assert_eq(store_segs_open(dir, UUID, &cfg, &s), 0);
	return s;
}

static void seg_path(char *out, size_t cap, const char *dir, uint32_t seg)
{
	snprintf(out, cap, "%s/segments/seg-%010u.tvs", dir, seg);
}

Test(segs, append_read_rotate)
{
	char *dir = mktemp_dir();
	store_segs *s = segs_open(dir, true, 2000);
	store_reader *r;
	struct stat st;
	char path[512];
	uint32_t segs[12];
	uint64_t offs[12];
	size_t lens[12];
	uint8_t *chunks[12];

	cr_assert_eq(store_reader_new(&r), 0);
	cr_assert_eq(stat(dir, &st), 0);
	snprintf(path, sizeof path, "%s/segments", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	cr_assert_eq(store_segs_newest(s), 0);

	for (int i = 0; i < 12; i++) {
		store_chunk_meta m;
		chunks[i] = build_simple(3 + (uint32_t)i, (uint64_t)i + 1, 1000 * (uint64_t)i, &lens[i], &m);
		cr_assert_eq(store_segs_append(s, chunks[i], lens[i], &segs[i], &offs[i]), 0);
		cr_assert_eq(store_segs_sync(s), 0);
	}
	/* Offsets and rotation: a new segment once the newest reached 2000. */
	uint32_t cur = 1;
	uint64_t pos = 64;
	for (int i = 0; i < 12; i++) {
		if (pos >= 2000) {
			cur++;
			pos = 64;
		}
		cr_assert_eq(segs[i], cur, "chunk %d", i);
		cr_assert_eq(offs[i], pos, "chunk %d", i);
		pos += lens[i];
	}
	cr_assert_gt(cur, 1);
	cr_assert_eq(store_segs_newest(s), cur);

	/* Files, modes, headers. */
	uint64_t total = 0, one;
	for (uint32_t g = 1; g <= cur; g++) {
		uint8_t h[64];
		seg_path(path, sizeof path, dir, g);
		cr_assert_eq(stat(path, &st), 0);
		cr_assert_eq(st.st_mode & 0777, 0600);
		total += (uint64_t)st.st_size;
		cr_assert_eq(store_segs_size(s, g, &one), 0);
		cr_assert_eq(one, (uint64_t)st.st_size);
		FILE *f = fopen(path, "rb");
		cr_assert_eq(fread(h, 1, 64, f), 64);
		fclose(f);
		cr_assert_eq(memcmp(h, "TVSEGMT1", 8), 0);
		cr_assert_eq(tv_get_le16(h + 8), 1);
		cr_assert_eq(tv_get_le16(h + 10), 0);
		cr_assert_eq(tv_get_le32(h + 12), g);
		cr_assert_arr_eq(h + 16, UUID, 16);
		cr_assert_gt(tv_get_le64(h + 32), 1600000000000000000ull);
		for (int j = 40; j < 64; j++)
			cr_assert_eq(h[j], 0);
	}
	cr_assert_eq(store_segs_size(s, 0, &one), 0);
	cr_assert_eq(one, total);

	uint32_t *ids;
	size_t n;
	cr_assert_eq(store_segs_list(s, &ids, &n), 0);
	cr_assert_eq(n, cur);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(ids[i], i + 1);
	free(ids);

	/* Read back through a read-only handle and the writer. */
	store_segs *ro = segs_open(dir, false, 0);
	for (int i = 0; i < 12; i++) {
		uint8_t *buf = malloc(lens[i]);
		cr_assert_eq(store_segs_read(s, segs[i], offs[i], (uint32_t)lens[i], buf), 0);
		cr_assert_eq(memcmp(buf, chunks[i], lens[i]), 0);
		cr_assert_eq(store_segs_read(ro, segs[i], offs[i], (uint32_t)lens[i], buf), 0);
		cr_assert_eq(memcmp(buf, chunks[i], lens[i]), 0);
		cr_assert_eq(store_reader_load(r, buf, lens[i], true, NULL), 0);
		free(buf);
	}
	uint8_t tmp[100];
	cr_assert_eq(store_segs_read(ro, cur, 1u << 20, 10, tmp), TV_E_TRUNCATED);
	cr_assert_eq(store_segs_read(ro, cur + 5, 64, 10, tmp), ENOENT);
	cr_assert_eq(store_segs_append(ro, chunks[0], lens[0], &segs[0], &offs[0]), EROFS);
	cr_assert_eq(store_segs_truncate(ro, 1, 64), EROFS);
	cr_assert_eq(store_segs_remove(ro, 1), EROFS);
	store_segs_close(ro);

	/* Reopening appends after the end of the newest segment. */
	store_segs_close(s);
	s = segs_open(dir, true, 1u << 20);
	uint32_t sg;
	uint64_t off;
	cr_assert_eq(store_segs_append(s, chunks[0], lens[0], &sg, &off), 0);
	cr_assert_eq(sg, cur);
	cr_assert_eq(off, pos);
	store_segs_close(s);

	/* Another store's uuid. */
	store_segs_cfg cfg;
	store_segs_cfg_default(&cfg);
	uint8_t other[16] = { 9 };
	cr_assert_eq(store_segs_open(dir, other, &cfg, &s), TV_E_CORRUPT);
	cfg.writable = true;
	cr_assert_eq(store_segs_open(dir, other, &cfg, &s), TV_E_CORRUPT);

	for (int i = 0; i < 12; i++)
		free(chunks[i]);
	store_reader_free(r);
	rm_rf(dir);
	free(dir);
}

Test(segs, readonly_creates_nothing)
{
	char *dir = mktemp_dir();
	char path[512];
	struct stat st;
	store_segs *s;
	store_segs_cfg cfg;
	uint32_t *ids;
	size_t n;
	uint64_t sz;

	s = segs_open(dir, false, 0);
	snprintf(path, sizeof path, "%s/segments", dir);
	cr_assert_eq(stat(path, &st), -1);
	cr_assert_eq(store_segs_newest(s), 0);
	cr_assert_eq(store_segs_list(s, &ids, &n), 0);
	cr_assert_eq(n, 0);
	free(ids);
	cr_assert_eq(store_segs_size(s, 0, &sz), 0);
	cr_assert_eq(sz, 0);
	store_segs_close(s);
	cr_assert_eq(stat(path, &st), -1);

	store_segs_cfg_default(&cfg);
	snprintf(path, sizeof path, "%s/nope", dir);
	cr_assert_eq(store_segs_open(path, UUID, &cfg, &s), ENOENT);
	cfg.writable = true;
	cr_assert_eq(store_segs_open(path, UUID, &cfg, &s), ENOENT);
	rm_rf(dir);
	free(dir);
}

Test(segs, short_newest_segment)
{
	char *dir = mktemp_dir();
	char path[512];
	struct stat st;
	store_segs *s;
	size_t len;
	store_chunk_meta m;
	uint8_t *c = build_simple(4, 1, 0, &len, &m);
	uint32_t sg;
	uint64_t off, ve, torn;

	s = segs_open(dir, true, 1u << 20);
	cr_assert_eq(store_segs_append(s, c, len, &sg, &off), 0);
	store_segs_close(s);
	/* A crash right after creating segment 2: 10 bytes of header. */
	seg_path(path, sizeof path, dir, 2);
	FILE *f = fopen(path, "wb");
	fwrite("TVSEGMT1\x01\x00", 1, 10, f);
	fclose(f);

	s = segs_open(dir, false, 0);
	cr_assert_eq(store_segs_newest(s), 2);
	cr_assert_eq(store_segs_scan(s, 2, 0, NULL, NULL, &ve, &torn), 0);
	cr_assert_eq(ve, 0);
	cr_assert_eq(torn, 10);
	store_segs_close(s);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 10); /* read-only changed nothing */

	s = segs_open(dir, true, 1u << 20);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 64);
	cr_assert_eq(store_segs_append(s, c, len, &sg, &off), 0);
	cr_assert_eq(sg, 2);
	cr_assert_eq(off, 64);
	store_segs_close(s);

	/* A segment of a newer format version is refused. */
	seg_path(path, sizeof path, dir, 2);
	int fd = open(path, O_WRONLY);
	uint8_t v2[2] = { 2, 0 };
	cr_assert_eq(pwrite(fd, v2, 2, 8), 2);
	close(fd);
	store_segs_cfg cfg;
	store_segs_cfg_default(&cfg);
	cr_assert_eq(store_segs_open(dir, UUID, &cfg, &s), TV_E_VERSION);
	free(c);
	rm_rf(dir);
	free(dir);
}

typedef struct seen {
	int n;
	uint64_t offs[64];
	uint64_t ids[64];
	int stop_at; /* return 77 at this index; -1 never */
} seen;

static int scan_cb(void *ctx, const store_chunk_meta *m, const uint8_t *chunk, size_t len)
{
	seen *sn = ctx;
	cr_assert_eq(m->length, len);
	cr_assert_eq(memcmp(chunk, "TVCHUNK1", 8), 0);
	if (sn->n == sn->stop_at)
		return 77;
	sn->offs[sn->n] = m->offset;
	sn->ids[sn->n] = m->chunk_id;
	sn->n++;
	return 0;
}

Test(segs, scan_torn_tail_everywhere)
{
	enum { NC = 6 };
	char *dir = mktemp_dir();
	char path[512];
	store_segs *s = segs_open(dir, true, 1u << 30);
	uint64_t ends[NC], starts[NC];
	uint32_t sg;
	uint8_t *whole;
	size_t total;

	for (int i = 0; i < NC; i++) {
		size_t len;
		store_chunk_meta m;
		uint8_t *c = build_simple(2 + (uint32_t)i, 100 + (uint64_t)i, 0, &len, &m);
		cr_assert_eq(store_segs_append(s, c, len, &sg, &starts[i]), 0);
		ends[i] = starts[i] + len;
		free(c);
	}
	cr_assert_eq(store_segs_sync(s), 0);
	store_segs_close(s);
	total = ends[NC - 1];
	seg_path(path, sizeof path, dir, 1);
	whole = malloc(total + 1000);
	FILE *f = fopen(path, "rb");
	cr_assert_eq(fread(whole, 1, total, f), total);
	fclose(f);

	/* Every cut point from the header on. */
	for (size_t cut = 64; cut <= total; cut++) {
		seen sn = { .stop_at = -1 };
		uint64_t ve, torn;
		int good = 0;
		f = fopen(path, "wb");
		fwrite(whole, 1, cut, f);
		fclose(f);
		s = segs_open(dir, false, 0);
		cr_assert_eq(store_segs_scan(s, 1, 0, scan_cb, &sn, &ve, &torn), 0);
		while (good < NC && ends[good] <= cut)
			good++;
		cr_assert_eq(sn.n, good, "cut %zu", cut);
		for (int i = 0; i < good; i++) {
			cr_assert_eq(sn.offs[i], starts[i]);
			cr_assert_eq(sn.ids[i], 100 + (uint64_t)i);
		}
		cr_assert_eq(ve, good ? ends[good - 1] : 64, "cut %zu", cut);
		cr_assert_eq(ve + torn, cut, "cut %zu", cut);
		store_segs_close(s);
	}

	/* Zeros after the last chunk (a torn append on some file systems). */
	memset(whole + total, 0, 1000);
	f = fopen(path, "wb");
	fwrite(whole, 1, total + 1000, f);
	fclose(f);
	s = segs_open(dir, false, 0);
	{
		seen sn = { .stop_at = -1 };
		uint64_t ve, torn;
		cr_assert_eq(store_segs_scan(s, 1, starts[2], scan_cb, &sn, &ve, &torn), 0);
		cr_assert_eq(sn.n, NC - 2);
		cr_assert_eq(sn.offs[0], starts[2]);
		cr_assert_eq(ve, total);
		cr_assert_eq(torn, 1000);
		/* The callback stops the scan. */
		seen st2 = { .stop_at = 3 };
		cr_assert_eq(store_segs_scan(s, 1, 0, scan_cb, &st2, &ve, &torn), 77);
		cr_assert_eq(st2.n, 3);
		cr_assert_eq(ve, starts[3]);
		/* Past the end of the file. */
		cr_assert_eq(store_segs_scan(s, 1, total + 5000, scan_cb, &sn, &ve, &torn), TV_E_TRUNCATED);
	}
	store_segs_close(s);

	/* A damaged byte in chunk 3: the scan stops before it. */
	whole[starts[3] + 120] ^= 0x40;
	f = fopen(path, "wb");
	fwrite(whole, 1, total, f);
	fclose(f);
	whole[starts[3] + 120] ^= 0x40;
	s = segs_open(dir, true, 1u << 30);
	{
		seen sn = { .stop_at = -1 };
		uint64_t ve, torn, off, sz;
		cr_assert_eq(store_segs_scan(s, 1, 0, scan_cb, &sn, &ve, &torn), 0);
		cr_assert_eq(sn.n, 3);
		cr_assert_eq(ve, starts[3]);
		cr_assert_eq(torn, total - starts[3]);

		/* Recovery: cut the torn tail, then append goes right there. */
		cr_assert_eq(store_segs_truncate(s, 1, 10), TV_E_RANGE);
		cr_assert_eq(store_segs_truncate(s, 1, total + 1), TV_E_RANGE);
		cr_assert_eq(store_segs_truncate(s, 1, ve), 0);
		cr_assert_eq(store_segs_size(s, 1, &sz), 0);
		cr_assert_eq(sz, ve);
		cr_assert_eq(store_segs_append(s, whole + starts[3], ends[3] - starts[3], &sg, &off), 0);
		cr_assert_eq(sg, 1);
		cr_assert_eq(off, starts[3]);
		seen s2 = { .stop_at = -1 };
		cr_assert_eq(store_segs_scan(s, 1, 0, scan_cb, &s2, &ve, &torn), 0);
		cr_assert_eq(s2.n, 4);
		cr_assert_eq(ve, ends[3]);
		cr_assert_eq(torn, 0);
	}
	store_segs_close(s);
	free(whole);
	rm_rf(dir);
	free(dir);
}

Test(segs, remove_and_never_reuse)
{
	char *dir = mktemp_dir();
	char path[512];
	struct stat st;
	store_segs *s = segs_open(dir, true, 100); /* every chunk in its own segment */
	size_t len;
	store_chunk_meta m;
	uint8_t *c = build_simple(3, 1, 0, &len, &m);
	uint32_t sg, *ids;
	uint64_t off;
	size_t n;
	uint8_t buf[16];

	for (int i = 0; i < 4; i++) {
		cr_assert_eq(store_segs_append(s, c, len, &sg, &off), 0);
		cr_assert_eq(sg, (uint32_t)i + 1);
	}
	cr_assert_eq(store_segs_read(s, 1, 64, 16, buf), 0); /* caches a descriptor */
	cr_assert_eq(store_segs_remove(s, 1), 0);
	seg_path(path, sizeof path, dir, 1);
	cr_assert_eq(stat(path, &st), -1);
	cr_assert_eq(store_segs_read(s, 1, 64, 16, buf), ENOENT);
	cr_assert_eq(store_segs_remove(s, 1), ENOENT);
	cr_assert_eq(store_segs_list(s, &ids, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(ids[0], 2);
	free(ids);

	/* Removing the write segment: the next append starts a new number. */
	cr_assert_eq(store_segs_remove(s, 4), 0);
	cr_assert_eq(store_segs_newest(s), 3);
	cr_assert_eq(store_segs_append(s, c, len, &sg, &off), 0);
	cr_assert_eq(sg, 5);
	cr_assert_eq(off, 64);
	cr_assert_eq(store_segs_newest(s), 5);
	store_segs_close(s);

	/* Stray names are ignored. */
	snprintf(path, sizeof path, "%s/segments/seg-12.tvs", dir);
	fclose(fopen(path, "wb"));
	snprintf(path, sizeof path, "%s/segments/seg-9999999999.tvs", dir);
	fclose(fopen(path, "wb"));
	s = segs_open(dir, false, 0);
	cr_assert_eq(store_segs_list(s, &ids, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(ids[2], 5);
	free(ids);
	store_segs_close(s);
	free(c);
	rm_rf(dir);
	free(dir);
}

Test(chunk, producer_tag)
{
	store_builder *b;
	store_reader *r;
	store_builder_cfg cfg;
	store_chunk_meta m;
	const uint8_t *chunk, *t;
	uint8_t frame[60] = { 0 }, tag[100];
	size_t len;
	uint32_t tl, i;
	tv_pkt p;
	pw w;
	craft k;

	for (i = 0; i < sizeof tag; i++)
		tag[i] = (uint8_t)(i * 7);
	store_builder_cfg_default(&cfg);
	cr_assert_eq(store_builder_new(&cfg, &b), 0);
	cr_assert_eq(store_reader_new(&r), 0);
	memset(&p, 0, sizeof p);
	p.frame = frame;
	p.caplen = p.origlen = sizeof frame;
	p.ts_ns = 5;
	p.tun.vni = 1;
	cr_assert_eq(store_builder_add(b, &p), 0);
	cr_assert_eq(store_builder_set_tag(b, tag, STORE_MAX_TAG + 1), TV_E_RANGE);
	cr_assert_eq(store_builder_set_tag(b, tag, sizeof tag), 0);
	cr_assert_eq(store_builder_seal(b, 1, &chunk, &len, &m), 0);
	cr_assert_eq(store_reader_load(r, chunk, len, true, NULL), 0);
	t = store_reader_tag(r, &tl);
	cr_assert_eq(tl, sizeof tag);
	cr_assert_eq(memcmp(t, tag, sizeof tag), 0);
	/* the tag is cleared by seal: the next chunk has none */
	cr_assert_eq(store_builder_add(b, &p), 0);
	cr_assert_eq(store_builder_seal(b, 2, &chunk, &len, &m), 0);
	cr_assert_eq(store_reader_load(r, chunk, len, true, NULL), 0);
	store_reader_tag(r, &tl);
	cr_assert_eq(tl, 0);
	store_builder_free(b);
	store_reader_free(r);

	/* a tag length that runs past the payload, and one over the limit */
	good_payload(&w, &k);
	tv_put_le32(w.b, 4000);
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);
	good_payload(&w, &k);
	tv_put_le32(w.b, STORE_MAX_TAG + 1);
	cr_assert_eq(load_crafted(&w, &k), TV_E_CORRUPT);
}
