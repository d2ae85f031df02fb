/*
 * post.c — the per-chunk posting collector and the index key codecs.
 *
 * While a chunk is built, every packet adds its distinct values (addresses,
 * port+protocol, protocol, 5-tuple, VNI) with the first and last time they
 * were seen.  An open-addressing hash over a dense entry array: slots hold
 * entry indexes, entries remember their slot so that a reset clears only
 * what was used.  Both arrays keep their size across resets, so once warm a
 * packet costs no allocation.
 */
#include "idx_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define POST_SLOTS0 16384u
#define POST_ENTS0 1024u

/* ----------------------------------------------------------- key codecs */

size_t idx_post_vlen(uint8_t type)
{
	switch (type) {
	case IDX_PT_ADDR: return 16;
	case IDX_PT_FLOW: return 37;
	case IDX_PT_PORT: return 3;
	case IDX_PT_PROTO: return 1;
	case IDX_PT_VNI: return 4;
	default: return 0;
	}
}

size_t idx_pkey_encode(const uint8_t *tv, size_t tvlen, uint64_t chunk_id, uint8_t out[IDX_PKEY_MAX])
{
	if (tvlen > IDX_PTV_MAX)
		tvlen = IDX_PTV_MAX;
	memcpy(out, tv, tvlen);
	tv_put_be64(out + tvlen, chunk_id);
	return tvlen + 8;
}

int idx_pkey_decode(const void *p, size_t n, idx_pkey *k)
{
	tv_cur c = tv_cur_make(p, n);
	size_t vlen;
	if (!tv_cur_u8(&c, &k->type))
		return TV_E_CORRUPT;
	vlen = idx_post_vlen(k->type);
	if (vlen == 0 || c.left != vlen + 8)
		return TV_E_CORRUPT;
	tv_cur_bytes(&c, k->val, vlen);
	k->vlen = vlen;
	tv_cur_be64(&c, &k->chunk_id);
	return 0;
}

void idx_pval_encode(uint64_t first, uint64_t last, uint8_t out[IDX_PVAL_LEN])
{
	tv_put_le64(out, first);
	tv_put_le64(out + 8, last);
}

int idx_pval_decode(const void *p, size_t n, uint64_t *first, uint64_t *last)
{
	const uint8_t *b = p;
	if (n != IDX_PVAL_LEN)
		return TV_E_CORRUPT;
	*first = tv_get_le64(b);
	*last = tv_get_le64(b + 8);
	if (*first > *last)
		return TV_E_CORRUPT;
	return 0;
}

void idx_tkey_encode(uint64_t first_ts, uint64_t chunk_id, uint8_t out[IDX_TKEY_LEN])
{
	out[0] = 'T';
	tv_put_be64(out + 1, first_ts);
	tv_put_be64(out + 9, chunk_id);
}

int idx_tkey_decode(const void *p, size_t n, uint64_t *first_ts, uint64_t *chunk_id)
{
	const uint8_t *b = p;
	if (n != IDX_TKEY_LEN || b[0] != 'T')
		return TV_E_CORRUPT;
	*first_ts = tv_get_be64(b + 1);
	*chunk_id = tv_get_be64(b + 9);
	return 0;
}

void idx_skey_encode(uint32_t segment, uint64_t chunk_id, uint8_t out[IDX_SKEY_LEN])
{
	tv_put_be32(out, segment);
	tv_put_be64(out + 4, chunk_id);
}

int idx_skey_decode(const void *p, size_t n, uint32_t *segment, uint64_t *chunk_id)
{
	const uint8_t *b = p;
	if (n != IDX_SKEY_LEN)
		return TV_E_CORRUPT;
	*segment = tv_get_be32(b);
	*chunk_id = tv_get_be64(b + 4);
	return 0;
}

int idx_cpost_next(tv_cur *c, const uint8_t **tv, size_t *tvlen)
{
	size_t vlen;
	if (c->left == 0)
		return 0;
	vlen = idx_post_vlen(c->p[0]);
	if (vlen == 0 || 1 + vlen > c->left)
		return TV_E_CORRUPT;
	*tv = c->p;
	*tvlen = 1 + vlen;
	tv_cur_skip(c, 1 + vlen);
	return 1;
}

/*
 * "chunks" value, 96 bytes little-endian:
 *   0 chunk_id u64 | 8 segment u32 | 12 length u32 | 16 offset u64 |
 *  24 first_ts u64 | 32 last_ts u64 | 40 npkts u32 | 44 raw_len u32 |
 *  48 comp_len u32 | 52 nctx u32 | 56 orig_bytes u64 | 64 sha256[32]
 */
void idx_chunk_val_encode(const store_chunk_meta *m, uint8_t out[IDX_CHUNK_VAL_LEN])
{
	tv_put_le64(out + 0, m->chunk_id);
	tv_put_le32(out + 8, m->segment);
	tv_put_le32(out + 12, m->length);
	tv_put_le64(out + 16, m->offset);
	tv_put_le64(out + 24, m->first_ts);
	tv_put_le64(out + 32, m->last_ts);
	tv_put_le32(out + 40, m->npkts);
	tv_put_le32(out + 44, m->raw_len);
	tv_put_le32(out + 48, m->comp_len);
	tv_put_le32(out + 52, m->nctx);
	tv_put_le64(out + 56, m->orig_bytes);
	memcpy(out + 64, m->sha256, 32);
}

int idx_chunk_val_decode(const void *p, size_t n, store_chunk_meta *m)
{
	const uint8_t *b = p;
	if (n != IDX_CHUNK_VAL_LEN)
		return TV_E_CORRUPT;
	memset(m, 0, sizeof *m);
	m->chunk_id = tv_get_le64(b + 0);
	m->segment = tv_get_le32(b + 8);
	m->length = tv_get_le32(b + 12);
	m->offset = tv_get_le64(b + 16);
	m->first_ts = tv_get_le64(b + 24);
	m->last_ts = tv_get_le64(b + 32);
	m->npkts = tv_get_le32(b + 40);
	m->raw_len = tv_get_le32(b + 44);
	m->comp_len = tv_get_le32(b + 48);
	m->nctx = tv_get_le32(b + 52);
	m->orig_bytes = tv_get_le64(b + 56);
	memcpy(m->sha256, b + 64, 32);
	if (m->first_ts > m->last_ts)
		return TV_E_CORRUPT;
	return 0;
}

/* ------------------------------------------------------------ collector */

int idx_post_new(idx_post **out)
{
	idx_post *p;
	*out = NULL;
	p = calloc(1, sizeof *p);
	if (!p)
		return TV_E_NOMEM;
	p->nslots = POST_SLOTS0;
	p->slots = calloc(p->nslots, sizeof *p->slots);
	p->cap = POST_ENTS0;
	p->ents = malloc(p->cap * sizeof *p->ents);
	if (!p->slots || !p->ents) {
		idx_post_free(p);
		return TV_E_NOMEM;
	}
	/* A seeded hash: addresses come from the network, and a fixed hash
	 * would let a sender pick values that all collide. */
	p->seed = tv_hash_seed();
	*out = p;
	return 0;
}

void idx_post_free(idx_post *p)
{
	if (!p)
		return;
	free(p->slots);
	free(p->ents);
	free(p);
}

void idx_post_reset(idx_post *p)
{
	size_t i;
	for (i = 0; i < p->n; i++)
		p->slots[p->ents[i].slot] = 0;
	p->n = 0;
	p->err = 0;
}

size_t idx_post_count(const idx_post *p)
{
	return p->n;
}

int idx_post_error(const idx_post *p)
{
	return p->err;
}

static int post_grow_slots(idx_post *p)
{
	size_t ns = p->nslots * 2, i, mask = ns - 1;
	uint32_t *s = calloc(ns, sizeof *s);
	if (!s)
		return TV_E_NOMEM;
	for (i = 0; i < p->n; i++) {
		size_t j = (size_t)tv_hash64(p->ents[i].key, 40, p->seed) & mask;
		while (s[j])
			j = (j + 1) & mask;
		s[j] = (uint32_t)(i + 1);
		p->ents[i].slot = (uint32_t)j;
	}
	free(p->slots);
	p->slots = s;
	p->nslots = ns;
	return 0;
}

static void post_put(idx_post *p, const uint8_t key[40], size_t len, uint64_t ts)
{
	size_t mask, j;
	idx_post_ent *e;
	if (p->err)
		return;
	mask = p->nslots - 1;
	j = (size_t)tv_hash64(key, 40, p->seed) & mask;
	while (p->slots[j]) {
		e = &p->ents[p->slots[j] - 1];
		if (e->len == len && memcmp(e->key, key, 40) == 0) {
			if (ts < e->first)
				e->first = ts;
			if (ts > e->last)
				e->last = ts;
			return;
		}
		j = (j + 1) & mask;
	}
	/* New value.  Grow at load 0.7; both growths are amortised and are
	 * kept across resets. */
	if ((p->n + 1) * 10 > p->nslots * 7) {
		if (p->nslots >= ((size_t)1 << 31) || post_grow_slots(p) != 0) {
			p->err = TV_E_NOMEM;
			return;
		}
		mask = p->nslots - 1;
		j = (size_t)tv_hash64(key, 40, p->seed) & mask;
		while (p->slots[j])
			j = (j + 1) & mask;
	}
	if (p->n == p->cap) {
		idx_post_ent *ne = realloc(p->ents, p->cap * 2 * sizeof *ne);
		if (!ne) {
			p->err = TV_E_NOMEM;
			return;
		}
		p->ents = ne;
		p->cap *= 2;
	}
	e = &p->ents[p->n];
	e->first = e->last = ts;
	e->slot = (uint32_t)j;
	e->len = (uint8_t)len;
	memcpy(e->key, key, 40);
	p->slots[j] = (uint32_t)(++p->n);
}

void idx_post_add(idx_post *p, uint64_t ts_ns, const tv_tunmeta *tun, const tv_l3info *info)
{
	uint8_t k[40];
	uint16_t sport = 0, dport = 0;

	memset(k, 0, sizeof k);
	k[0] = IDX_PT_VNI;
	tv_put_be32(k + 1, tun ? tun->vni : TV_VNI_NONE);
	post_put(p, k, 5, ts_ns);

	/* A frame without an IP layer gets only its VNI posting: `not …`
	 * queries plan every chunk of their time range anyway. */
	if (!info || info->l3 == 0)
		return;

	memset(k, 0, sizeof k);
	k[0] = IDX_PT_ADDR;
	memcpy(k + 1, info->key.src.b, 16);
	post_put(p, k, 17, ts_ns);
	memcpy(k + 1, info->key.dst.b, 16);
	post_put(p, k, 17, ts_ns);

	memset(k, 0, sizeof k);
	k[0] = IDX_PT_PROTO;
	k[1] = info->key.proto;
	post_put(p, k, 2, ts_ns);

	if (info->has_ports) {
		sport = info->key.sport;
		dport = info->key.dport;
		k[0] = IDX_PT_PORT;
		tv_put_be16(k + 1, sport);
		k[3] = info->key.proto;
		post_put(p, k, 4, ts_ns);
		tv_put_be16(k + 1, dport);
		post_put(p, k, 4, ts_ns);
	}

	memset(k, 0, sizeof k);
	k[0] = IDX_PT_FLOW;
	memcpy(k + 1, info->key.src.b, 16);
	memcpy(k + 17, info->key.dst.b, 16);
	tv_put_be16(k + 33, sport);
	tv_put_be16(k + 35, dport);
	k[37] = info->key.proto;
	post_put(p, k, 38, ts_ns);
}
