/*
 * fuzz_index2.c — libFuzzer target for the decoders of index version 2
 * (store/FORMAT.md "Index (LMDB)"): chunk and slice records, stime,
 * segs and totals values, posting keys, v2_opost and v2_post values, flow
 * keys and the postings they give.  Whatever a decoder accepts is encoded
 * again and must give the same bytes (the formats have one encoding), and
 * a v2_post value is walked to its end under the slice bounds it names.
 *
 * Input: one selector byte, then the bytes for that decoder.  For the
 * posting values, a key length byte and the key come first; v2_post then
 * takes 9 bytes of slice (first chunk LE64, nchunks) and a byte per chunk
 * of block counts.  CRCs stop most mutations at the door, so selector
 * bit 7 makes the target set the crc right before decoding.  The same
 * file replays the corpus under the normal compiler (replay_main.c).
 */
#include <stdlib.h>
#include <string.h>

#include "../../index/idx2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[IDX2_CHUNK_MAX + IDX2_PVAL_MAX + 64];

static void chunk_case(const uint8_t *p, size_t n, bool fix)
{
	idx2_chunk c;
	uint8_t re[IDX2_CHUNK_MAX];
	if (n > IDX2_CHUNK_MAX + 8)
		return;
	memcpy(buf, p, n);
	if (fix && n >= IDX2_CHUNK_FIXED)
		tv_put_le32(buf + 100, tv_crc32c_extend(tv_crc32c(buf, 100), buf + 104, n - 104));
	if (idx2_chunk_decode(buf, n, n >= 8 ? tv_get_le64(buf) : 0, &c) != 0)
		return;
	if (idx2_chunk_encode(&c, re) != n || memcmp(re, buf, n) != 0)
		abort();
}

static void slice_case(const uint8_t *p, size_t n, bool fix)
{
	idx2_slice s;
	uint8_t re[IDX2_SLICE_LEN];
	if (n > IDX2_SLICE_LEN + 8)
		return;
	memcpy(buf, p, n);
	if (fix && n >= IDX2_SLICE_LEN)
		tv_put_le32(buf + 44, tv_crc32c(buf, 44));
	if (idx2_slice_decode(buf, n, &s) != 0)
		return;
	idx2_slice_encode(&s, re);
	if (memcmp(re, buf, IDX2_SLICE_LEN) != 0)
		abort();
}

static void small_cases(const uint8_t *p, size_t n)
{
	uint64_t a, b;
	uint32_t s;
	idx2_seg sg;
	idx2_tot t;
	idx2_pv pv, pvs[IDX2_FLOW_PV_MAX];
	size_t np;
	if (idx2_stime_key_decode(p, n, &a, &s) == 0 && s == 0)
		abort();
	if (n >= 8)
		(void)idx2_stime_val_decode(p, n, tv_get_le64(p), &b);
	if (idx2_seg_decode(p, n, &sg) == 0 && sg.first_slice > sg.last_slice)
		abort();
	(void)idx2_tot_decode(p, n, &t);
	if (idx2_okey_decode(p, n, &a, &pv) == 0 && 9u + pv.len != n)
		abort();
	if (idx2_pkey_decode(p, n, &s, &pv) == 0 && 5u + pv.len != n)
		abort();
	if (n >= STORE_V2_KEY_LEN && idx2_flow_postings(p, NULL, pvs, &np) == 0) {
		if (np < 1 || np > IDX2_FLOW_PV_MAX)
			abort();
		for (size_t i = 0; i < np; i++)
			if (idx2_pv_check(pvs[i].tv, 1u + pvs[i].len) != 0)
				abort();
	}
}

static void opost_case(const uint8_t *p, size_t n, bool fix)
{
	size_t kl;
	uint64_t bits;
	if (n < 1 || (kl = p[0]) > n - 1 || n - 1 - kl > 64)
		return;
	memcpy(buf, p + 1, n - 1);
	n -= 1 + kl;
	/* fix: the crc over the varint bytes given (keeps their length) */
	if (fix && n >= 5)
		tv_put_le32(buf + kl, tv_crc32c_extend(tv_crc32c(buf, kl), buf + kl + 4, n - 4));
	if (idx2_oval_decode(buf, kl, buf + kl, n, kl % 65, &bits) == 0 && bits == 0)
		abort();
}

static void post_case(const uint8_t *p, size_t n, bool fix)
{
	idx2_slice s;
	idx2_piter it;
	uint8_t nb[IDX2_SLICE_MAX_CHUNKS];
	uint64_t id, bits, prev = 0;
	size_t kl;
	int rc;
	bool any = false;
	if (n < 10 || (kl = p[9]) > n - 10)
		return;
	memset(&s, 0, sizeof s);
	s.first_chunk = tv_get_le64(p);
	s.nchunks = 1 + p[8] % IDX2_SLICE_MAX_CHUNKS;
	if (s.first_chunk > UINT64_MAX - s.nchunks)
		return;
	p += 10;
	n -= 10;
	for (unsigned i = 0; i < s.nchunks; i++)
		nb[i] = (uint8_t)(1 + (i * 7 + kl) % 64);
	if (n - kl > IDX2_PVAL_MAX + 8)
		return;
	memcpy(buf, p, n);
	n -= kl;
	if (fix && n >= 4)
		tv_put_le32(buf + kl, tv_crc32c_extend(tv_crc32c(buf, kl), buf + kl + 4, n - 4));
	if (idx2_piter_init(&it, buf, kl, buf + kl, n, &s, (kl & 1) ? nb : NULL) != 0)
		return;
	while ((rc = idx2_piter_next(&it, &id, &bits)) == 1) {
		if (id < s.first_chunk || id - s.first_chunk >= s.nchunks || bits == 0 ||
		    (any && id <= prev))
			abort();
		any = true;
		prev = id;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool fix;
	if (size < 1)
		return 0;
	fix = (data[0] & 0x80) != 0;
	switch (data[0] & 0x7f) {
	case 0: chunk_case(data + 1, size - 1, fix); break;
	case 1: slice_case(data + 1, size - 1, fix); break;
	case 2: opost_case(data + 1, size - 1, fix); break;
	case 3: post_case(data + 1, size - 1, fix); break;
	default: small_cases(data + 1, size - 1); break;
	}
	return 0;
}
