/*
 * common.c — small helpers shared by the chunk writer (pack.c) and its
 * readers (block.c) (store_int.h).
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>

const uint8_t store_chunk_magic[8] = { 'T', 'V', 'C', 'H', 'U', 'N', 'K', '1' };

void *store_grow(void *buf, size_t *cap, size_t need, size_t elem, bool *ok)
{
	size_t ncap = *cap ? *cap : 16;
	void *nb;
	if (need <= *cap && buf)
		return buf;
	while (ncap < need)
		ncap *= 2;
	nb = realloc(buf, ncap * elem);
	if (!nb) {
		*ok = false;
		return buf;
	}
	*cap = ncap;
	return nb;
}

void store_ctx_put(uint8_t *p, const tv_tunmeta *t)
{
	tv_put_le32(p + CX_VNI, t->vni);
	p[CX_TUNNEL] = t->tunnel;
	p[CX_HAS_GWLB] = t->has_gwlb;
	tv_put_le16(p + CX_RSV1, 0);
	memcpy(p + CX_OUTER_SRC, t->outer_src.b, 16);
	tv_put_le64(p + CX_ENDPOINT, t->gwlb_endpoint);
	tv_put_le64(p + CX_ATTACHMENT, t->gwlb_attachment);
	tv_put_le32(p + CX_COOKIE, t->gwlb_cookie);
	tv_put_le32(p + CX_RSV2, 0);
}

bool store_ctx_get(const uint8_t *p, tv_tunmeta *t)
{
	if (tv_get_le16(p + CX_RSV1) != 0 || tv_get_le32(p + CX_RSV2) != 0)
		return false;
	memset(t, 0, sizeof *t);
	t->vni = tv_get_le32(p + CX_VNI);
	t->tunnel = p[CX_TUNNEL];
	t->has_gwlb = p[CX_HAS_GWLB];
	memcpy(t->outer_src.b, p + CX_OUTER_SRC, 16);
	t->gwlb_endpoint = tv_get_le64(p + CX_ENDPOINT);
	t->gwlb_attachment = tv_get_le64(p + CX_ATTACHMENT);
	t->gwlb_cookie = tv_get_le32(p + CX_COOKIE);
	return true;
}

void store_tun_norm(tv_tunmeta *dst, const tv_tunmeta *src)
{
	memset(dst, 0, sizeof *dst);
	dst->vni = src->vni;
	dst->tunnel = src->tunnel;
	dst->has_gwlb = src->has_gwlb;
	dst->outer_src = src->outer_src;
	dst->gwlb_endpoint = src->gwlb_endpoint;
	dst->gwlb_attachment = src->gwlb_attachment;
	dst->gwlb_cookie = src->gwlb_cookie;
}

void store_xor(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;
		memcpy(&x, dst + i, 8);
		memcpy(&y, src + i, 8);
		x ^= y;
		memcpy(dst + i, &x, 8);
	}
	for (; i < n; i++)
		dst[i] ^= src[i];
}
