/*
 * fuzz_chunk.c — libFuzzer target for the chunk reader (store/FORMAT.md
 * "Chunk").  Arbitrary bytes go to store_reader_load(), once without and
 * once with the SHA-256 check (without it, the fuzzer gets past the hash
 * into zstd and the record checks); every record of a chunk that loads is
 * read in full, so a check the reader forgot shows up as an ASan report.
 *
 * A chunk's header CRC and zstd's content checksum stop almost every
 * mutation before the record checks, so an input that starts with
 * "TVPAYLD!" is a payload instead: the target wraps it into a chunk with a
 * correct frame, hash and CRC (header fields taken from the input), which
 * lets the fuzzer reach the context and record validation directly.
 *
 *   "TVPAYLD!" | nctx u32 | npkts u32 | first_ts u64 | last_ts u64 |
 *   orig_bytes u64 | flags u16 | version u16 | payload ...   (LE, 44 bytes)
 *
 * Seeds in tests/fuzz/corpus/fuzz_chunk/ are valid and damaged chunks, and
 * payloads, made by store_builder.  The same file replays the corpus under
 * the normal compiler with tests/fuzz/replay_main.c.
 */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "../../store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static store_reader *reader; /* created once, reused like the real readers */
static ZSTD_CCtx *cctx;
static uint8_t *wrap_buf;
static size_t wrap_cap;

#define PAYLOAD_MAGIC "TVPAYLD!"
#define PAYLOAD_HDR 44

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	while (n--) {
		int k;
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

/* Builds header + zstd frame around a fuzzed payload; returns its length,
 * or 0 when the input cannot be wrapped. */
static size_t wrap_payload(const uint8_t *data, size_t size)
{
	const uint8_t *pl = data + PAYLOAD_HDR;
	size_t plen = size - PAYLOAD_HDR, bound, zr;
	uint8_t *h;
	if (plen > (1u << 20))
		return 0;
	bound = ZSTD_compressBound(plen);
	if (STORE_CHUNK_HDR_LEN + bound > wrap_cap) {
		uint8_t *nb = realloc(wrap_buf, STORE_CHUNK_HDR_LEN + bound);
		if (!nb)
			abort();
		wrap_buf = nb;
		wrap_cap = STORE_CHUNK_HDR_LEN + bound;
	}
	if (!cctx) {
		cctx = ZSTD_createCCtx();
		if (!cctx)
			abort();
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
		ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	}
	zr = ZSTD_compress2(cctx, wrap_buf + STORE_CHUNK_HDR_LEN, bound, pl, plen);
	if (ZSTD_isError(zr))
		abort();
	h = wrap_buf;
	memset(h, 0, STORE_CHUNK_HDR_LEN);
	memcpy(h, "TVCHUNK1", 8);
	tv_put_le16(h + 8, tv_get_le16(data + 42));  /* version */
	tv_put_le16(h + 10, tv_get_le16(data + 40)); /* flags */
	tv_put_le32(h + 12, tv_get_le32(data + 8));  /* nctx */
	tv_put_le64(h + 16, 1);                      /* chunk id */
	tv_put_le64(h + 24, tv_get_le64(data + 16)); /* first_ts */
	tv_put_le64(h + 32, tv_get_le64(data + 24)); /* last_ts */
	tv_put_le64(h + 40, tv_get_le64(data + 32)); /* orig_bytes */
	tv_put_le32(h + 48, tv_get_le32(data + 12)); /* npkts */
	tv_put_le32(h + 52, (uint32_t)plen);
	tv_put_le32(h + 56, (uint32_t)zr);
	tv_sha256(h + STORE_CHUNK_HDR_LEN, zr, h + 60);
	tv_put_le32(h + 92, crc32c(h, 92));
	return STORE_CHUNK_HDR_LEN + zr;
}

static void walk(const store_reader *r, const store_chunk_meta *m)
{
	uint32_t i, n = store_reader_count(r);
	uint64_t sum = 0, prev = 0;
	if (n != m->npkts)
		abort();
	for (i = 0; i < n; i++) {
		store_rec rec;
		uint32_t j;
		store_reader_get(r, i, &rec);
		if (rec.ts_ns < prev || rec.caplen > STORE_MAX_CAPLEN ||
		    (rec.flags & ~(uint32_t)(STORE_REC_SYNTH_L2 | STORE_REC_DECAP_ERROR)) != 0)
			abort();
		prev = rec.ts_ns;
		/* Touch every byte the reader hands out. */
		for (j = 0; j < rec.caplen; j++)
			sum += rec.frame[j];
		sum += rec.tun->vni + rec.tun->tunnel + rec.tun->gwlb_cookie;
		sum += rec.origlen;
	}
	if (n && (m->first_ts > m->last_ts))
		abort();
	/* Keep the compiler from dropping the reads. */
	if (sum == 0x1234567890abcdefull)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	store_chunk_meta m;
	int rc;
	if (!reader && store_reader_new(&reader) != 0)
		abort();
	if (size >= PAYLOAD_HDR && memcmp(data, PAYLOAD_MAGIC, 8) == 0) {
		size = wrap_payload(data, size);
		if (size == 0)
			return 0;
		data = wrap_buf;
	}
	(void)store_chunk_header_parse(data, size, &m);

	rc = store_reader_load(reader, data, size, false, &m);
	if (rc == 0)
		walk(reader, &m);
	else if (store_reader_count(reader) != 0)
		abort();

	rc = store_reader_load(reader, data, size, true, &m);
	if (rc == 0)
		walk(reader, &m);
	else if (store_reader_count(reader) != 0)
		abort();
	return 0;
}
