/*
 * fuzz_keys.c — libFuzzer target for the index value and key decoders:
 * the stored chunk meta, posting keys and values, time and segment keys,
 * the per-chunk posting list ("cpost") and the totals record.  Whatever
 * decodes must encode back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../index/idx_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	store_chunk_meta m;
	idx_pkey k;
	idx_tot t;
	uint64_t a, b;
	uint32_t seg;
	tv_cur c;
	const uint8_t *tv;
	size_t tvlen;
	int r;

	if (idx_chunk_val_decode(data, size, &m) == 0) {
		uint8_t out[IDX_CHUNK_VAL_LEN];
		idx_chunk_val_encode(&m, out);
		if (memcmp(out, data, sizeof out) != 0)
			abort();
	}
	if (idx_pkey_decode(data, size, &k) == 0) {
		uint8_t tvb[IDX_PTV_MAX], out[IDX_PKEY_MAX];
		size_t n;
		tvb[0] = k.type;
		memcpy(tvb + 1, k.val, k.vlen);
		n = idx_pkey_encode(tvb, 1 + k.vlen, k.chunk_id, out);
		if (n != size || memcmp(out, data, n) != 0)
			abort();
	}
	if (idx_pval_decode(data, size, &a, &b) == 0 && a > b)
		abort();
	if (idx_tkey_decode(data, size, &a, &b) == 0) {
		uint8_t out[IDX_TKEY_LEN];
		idx_tkey_encode(a, b, out);
		if (memcmp(out, data, sizeof out) != 0)
			abort();
	}
	if (idx_skey_decode(data, size, &seg, &a) == 0) {
		uint8_t out[IDX_SKEY_LEN];
		idx_skey_encode(seg, a, out);
		if (memcmp(out, data, sizeof out) != 0)
			abort();
	}
	if (idx_tot_decode(data, size, &t) == 0) {
		uint8_t out[IDX_TOT_LEN];
		idx_tot_encode(&t, out);
		if (memcmp(out, data, sizeof out) != 0)
			abort();
	}
	c = tv_cur_make(data, size);
	while ((r = idx_cpost_next(&c, &tv, &tvlen)) == 1) {
		if (tvlen != 1 + idx_post_vlen(tv[0]) || tv < data || tv + tvlen > data + size)
			abort();
	}
	return 0;
}
