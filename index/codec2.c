/*
 * codec2.c — the table codecs of the index, the flow key, and the
 * derivation of a flow's postings (store/FORMAT.md "Index (LMDB)").
 *
 * Decoders are strict: every length, reserved field, crc and bound the
 * format states is checked, and anything else is TV_E_CORRUPT, so that a
 * damaged LMDB page never turns into a wrong answer.
 */
#include "idx2.h"

#include <string.h>

/* ------------------------------------------------------ chunk record */

enum {
	CR_ID = 0, CR_SEGMENT = 8, CR_SLICE = 12, CR_OFFSET = 16, CR_LENGTH = 24, CR_NPKTS = 28,
	CR_FIRST = 32, CR_LAST = 40, CR_ORIG = 48, CR_RAW = 56, CR_NFLOWS = 60, CR_SHA = 64,
	CR_NBLOCKS = 96, CR_RSV = 98, CR_CRC = 100,
};

static uint32_t chunk_crc(const uint8_t *p, size_t n)
{
	uint32_t crc = tv_crc32c(p, CR_CRC);
	return tv_crc32c_extend(crc, p + IDX2_CHUNK_FIXED, n - IDX2_CHUNK_FIXED);
}

size_t idx2_chunk_encode(const idx2_chunk *c, uint8_t out[IDX2_CHUNK_MAX])
{
	size_t n = IDX2_CHUNK_FIXED + (size_t)c->nblocks * STORE_V2_BLKREF_LEN;
	uint16_t i;
	tv_put_le64(out + CR_ID, c->chunk_id);
	tv_put_le32(out + CR_SEGMENT, c->segment);
	tv_put_le32(out + CR_SLICE, c->slice);
	tv_put_le64(out + CR_OFFSET, c->offset);
	tv_put_le32(out + CR_LENGTH, c->length);
	tv_put_le32(out + CR_NPKTS, c->npkts);
	tv_put_le64(out + CR_FIRST, c->first_ts);
	tv_put_le64(out + CR_LAST, c->last_ts);
	tv_put_le64(out + CR_ORIG, c->orig_bytes);
	tv_put_le32(out + CR_RAW, c->raw_len);
	tv_put_le32(out + CR_NFLOWS, c->nflows);
	memcpy(out + CR_SHA, c->sha256, 32);
	tv_put_le16(out + CR_NBLOCKS, c->nblocks);
	tv_put_le16(out + CR_RSV, 0);
	for (i = 0; i < c->nblocks; i++) {
		store_blkref_put(out + IDX2_CHUNK_FIXED + (size_t)i * STORE_V2_BLKREF_LEN,
		                 &c->blocks[i]);
	}
	tv_put_le32(out + CR_CRC, chunk_crc(out, n));
	return n;
}

int idx2_chunk_decode(const void *p, size_t n, uint64_t key_id, idx2_chunk *c)
{
	const uint8_t *b = p;
	uint64_t end;
	uint16_t i;

	memset(c, 0, sizeof *c);
	if (n < IDX2_CHUNK_FIXED)
		return TV_E_CORRUPT;
	c->nblocks = tv_get_le16(b + CR_NBLOCKS);
	if (c->nblocks < 1 || c->nblocks > STORE_V2_MAX_BLOCKS ||
	    n != IDX2_CHUNK_FIXED + (size_t)c->nblocks * STORE_V2_BLKREF_LEN)
		return TV_E_CORRUPT;
	if (tv_get_le32(b + CR_CRC) != chunk_crc(b, n) || tv_get_le16(b + CR_RSV) != 0)
		return TV_E_CORRUPT;
	c->chunk_id = tv_get_le64(b + CR_ID);
	c->segment = tv_get_le32(b + CR_SEGMENT);
	c->slice = tv_get_le32(b + CR_SLICE);
	c->offset = tv_get_le64(b + CR_OFFSET);
	c->length = tv_get_le32(b + CR_LENGTH);
	c->npkts = tv_get_le32(b + CR_NPKTS);
	c->first_ts = tv_get_le64(b + CR_FIRST);
	c->last_ts = tv_get_le64(b + CR_LAST);
	c->orig_bytes = tv_get_le64(b + CR_ORIG);
	c->raw_len = tv_get_le32(b + CR_RAW);
	c->nflows = tv_get_le32(b + CR_NFLOWS);
	memcpy(c->sha256, b + CR_SHA, 32);
	/* the format's maxima bound what a reader allocates for this chunk */
	if (c->chunk_id != key_id || c->first_ts > c->last_ts || c->npkts < 1 ||
	    c->length < STORE_V2_HDR_LEN || c->length - STORE_V2_HDR_LEN > STORE_V2_MAX_BODY ||
	    c->raw_len > STORE_MAX_RAW || c->nflows > c->npkts)
		return TV_E_CORRUPT;
	for (i = 0; i < c->nblocks; i++) {
		store_blkref *r = &c->blocks[i];
		store_blkref_get(b + IDX2_CHUNK_FIXED + (size_t)i * STORE_V2_BLKREF_LEN, r);
		if (store_blkref_check(r) != 0 || r->nrec > c->npkts)
			return TV_E_CORRUPT;
		if (i > 0 && r->offset != (uint64_t)c->blocks[i - 1].offset + c->blocks[i - 1].len)
			return TV_E_CORRUPT;
	}
	end = (uint64_t)c->blocks[c->nblocks - 1].offset + c->blocks[c->nblocks - 1].len;
	if (end != (uint64_t)c->length - STORE_V2_HDR_LEN)
		return TV_E_CORRUPT;
	return 0;
}

int idx2_chunk_from_sealed(const uint8_t *chunk, size_t len, uint32_t segment, uint64_t offset,
                           idx2_chunk *c)
{
	store_hdr h;
	const uint8_t *tag;
	uint32_t taglen;
	int rc;

	if ((rc = store_hdr_parse(chunk, len, &h)) != 0)
		return rc;
	if (len < (size_t)STORE_V2_HDR_LEN + h.head_len)
		return TV_E_TRUNCATED;
	memset(c, 0, sizeof *c);
	rc = store_head_parse(&h, chunk + STORE_V2_HDR_LEN, len - STORE_V2_HDR_LEN, c->blocks, &tag,
	                      &taglen);
	if (rc)
		return rc;
	c->chunk_id = h.chunk_id;
	c->segment = segment;
	c->offset = offset;
	c->length = STORE_V2_HDR_LEN + h.body_len;
	c->npkts = h.npkts;
	c->first_ts = h.first_ts;
	c->last_ts = h.last_ts;
	c->orig_bytes = h.orig_bytes;
	c->raw_len = h.raw_len;
	c->nflows = h.nflows;
	memcpy(c->sha256, h.sha256, 32);
	c->nblocks = h.nblocks;
	return 0;
}

/* ------------------------------------------------------ slice record */

enum {
	SR_FIRST = 0, SR_NCHUNKS = 8, SR_SEGMENT = 12, SR_FIRST_TS = 16, SR_LAST_TS = 24,
	SR_RAW = 32, SR_STATE = 40, SR_CRC = 44,
};

void idx2_slice_encode(const idx2_slice *s, uint8_t out[IDX2_SLICE_LEN])
{
	tv_put_le64(out + SR_FIRST, s->first_chunk);
	tv_put_le32(out + SR_NCHUNKS, s->nchunks);
	tv_put_le32(out + SR_SEGMENT, s->segment);
	tv_put_le64(out + SR_FIRST_TS, s->first_ts);
	tv_put_le64(out + SR_LAST_TS, s->last_ts);
	tv_put_le64(out + SR_RAW, s->raw_bytes);
	tv_put_le32(out + SR_STATE, s->state);
	tv_put_le32(out + SR_CRC, tv_crc32c(out, SR_CRC));
}

int idx2_slice_decode(const void *p, size_t n, idx2_slice *s)
{
	const uint8_t *b = p;
	memset(s, 0, sizeof *s);
	if (n != IDX2_SLICE_LEN || tv_get_le32(b + SR_CRC) != tv_crc32c(b, SR_CRC))
		return TV_E_CORRUPT;
	s->first_chunk = tv_get_le64(b + SR_FIRST);
	s->nchunks = tv_get_le32(b + SR_NCHUNKS);
	s->segment = tv_get_le32(b + SR_SEGMENT);
	s->first_ts = tv_get_le64(b + SR_FIRST_TS);
	s->last_ts = tv_get_le64(b + SR_LAST_TS);
	s->raw_bytes = tv_get_le64(b + SR_RAW);
	s->state = tv_get_le32(b + SR_STATE);
	if (s->nchunks < 1 || s->nchunks > IDX2_SLICE_MAX_CHUNKS ||
	    s->first_chunk > UINT64_MAX - s->nchunks || s->first_ts > s->last_ts ||
	    (s->state != IDX2_SLICE_OPEN && s->state != IDX2_SLICE_CLOSED))
		return TV_E_CORRUPT;
	return 0;
}

/* ------------------------------------------------ stime, segs, totals */

void idx2_stime_key(uint64_t first_ts, uint32_t slice, uint8_t out[IDX2_STIME_KEY_LEN])
{
	tv_put_be64(out, first_ts);
	tv_put_be32(out + 8, slice);
}

int idx2_stime_key_decode(const void *p, size_t n, uint64_t *first_ts, uint32_t *slice)
{
	if (n != IDX2_STIME_KEY_LEN)
		return TV_E_CORRUPT;
	*first_ts = tv_get_be64(p);
	*slice = tv_get_be32((const uint8_t *)p + 8);
	return *slice == 0 ? TV_E_CORRUPT : 0;
}

int idx2_stime_val_decode(const void *p, size_t n, uint64_t first_ts, uint64_t *last_ts)
{
	if (n != 8)
		return TV_E_CORRUPT;
	*last_ts = tv_get_le64(p);
	return *last_ts < first_ts ? TV_E_CORRUPT : 0;
}

void idx2_seg_encode(const idx2_seg *s, uint8_t out[IDX2_SEGS_VAL_LEN])
{
	tv_put_le32(out, s->first_slice);
	tv_put_le32(out + 4, s->last_slice);
	tv_put_le64(out + 8, s->first_chunk);
	tv_put_le64(out + 16, s->last_chunk);
}

int idx2_seg_decode(const void *p, size_t n, idx2_seg *s)
{
	const uint8_t *b = p;
	if (n != IDX2_SEGS_VAL_LEN)
		return TV_E_CORRUPT;
	s->first_slice = tv_get_le32(b);
	s->last_slice = tv_get_le32(b + 4);
	s->first_chunk = tv_get_le64(b + 8);
	s->last_chunk = tv_get_le64(b + 16);
	if (s->first_slice == 0 || s->first_slice > s->last_slice ||
	    s->first_chunk > s->last_chunk)
		return TV_E_CORRUPT;
	return 0;
}

void idx2_tot_encode(const idx2_tot *t, uint8_t out[IDX2_TOT_LEN])
{
	const uint64_t v[10] = { t->chunks, t->packets, t->orig_bytes, t->raw_bytes,
	                         t->stored_bytes, t->postings, t->segments, t->slices,
	                         t->blocks, t->flows };
	for (size_t i = 0; i < 10; i++)
		tv_put_le64(out + 8 * i, v[i]);
}

int idx2_tot_decode(const void *p, size_t n, idx2_tot *t)
{
	const uint8_t *b = p;
	uint64_t *v[10] = { &t->chunks, &t->packets, &t->orig_bytes, &t->raw_bytes,
	                    &t->stored_bytes, &t->postings, &t->segments, &t->slices,
	                    &t->blocks, &t->flows };
	/* Longer values are accepted: a later version may append fields. */
	if (n < IDX2_TOT_LEN)
		return TV_E_CORRUPT;
	for (size_t i = 0; i < 10; i++)
		*v[i] = tv_get_le64(b + 8 * i);
	return 0;
}

/* ---------------------------------------------------------- postings */

size_t idx2_pv_len(uint8_t type)
{
	switch (type) {
	case IDX2_PT_ADDR: return 16;
	case IDX2_PT_PORT: return 3;
	case IDX2_PT_PROTO: return 1;
	case IDX2_PT_VNI: return 4;
	default: return 0;
	}
}

int idx2_pv_check(const uint8_t *tv, size_t n)
{
	if (n < 1 || idx2_pv_len(tv[0]) == 0 || n != 1 + idx2_pv_len(tv[0]))
		return TV_E_CORRUPT;
	return 0;
}

/* Flow key fields (FORMAT.md "The flow key"). */
enum { FK_SRC = 0, FK_DST = 16, FK_SPORT = 32, FK_DPORT = 34, FK_PROTO = 36, FK_VER = 37,
       FK_FLAGS = 38, FK_RSV = 39 };
#define FK_HAS_PORTS 0x01

void idx2_flowkey_make(const tv_l3info *info, uint8_t key[STORE_V2_KEY_LEN])
{
	memset(key, 0, STORE_V2_KEY_LEN);
	if (!info || (info->l3 != 4 && info->l3 != 6))
		return;
	memcpy(key + FK_SRC, info->key.src.b, 16);
	memcpy(key + FK_DST, info->key.dst.b, 16);
	if (info->has_ports) {
		tv_put_be16(key + FK_SPORT, info->key.sport);
		tv_put_be16(key + FK_DPORT, info->key.dport);
		key[FK_FLAGS] = FK_HAS_PORTS;
	}
	key[FK_PROTO] = info->key.proto;
	key[FK_VER] = info->l3;
}

int idx2_flowkey_check(const uint8_t key[STORE_V2_KEY_LEN])
{
	uint8_t ver = key[FK_VER];
	if (key[FK_RSV] != 0 || (key[FK_FLAGS] & ~FK_HAS_PORTS) != 0)
		return TV_E_CORRUPT;
	if (ver == 0) {
		for (size_t i = 0; i < STORE_V2_KEY_LEN; i++)
			if (key[i] != 0)
				return TV_E_CORRUPT;
		return 0;
	}
	return ver == 4 || ver == 6 ? 0 : TV_E_CORRUPT;
}

static void pv_set(idx2_pv *pv, uint8_t type, const uint8_t *val, size_t len)
{
	memset(pv, 0, sizeof *pv);
	pv->len = (uint8_t)len;
	pv->tv[0] = type;
	memcpy(pv->tv + 1, val, len);
}

/* Appends pv unless an equal value is there already. */
static void pv_add(idx2_pv *out, size_t *n, const idx2_pv *pv)
{
	for (size_t i = 0; i < *n; i++)
		if (out[i].len == pv->len && memcmp(out[i].tv, pv->tv, 1u + pv->len) == 0)
			return;
	out[(*n)++] = *pv;
}

int idx2_flow_postings(const uint8_t key[STORE_V2_KEY_LEN], const tv_tunmeta *tun,
                       idx2_pv out[IDX2_FLOW_PV_MAX], size_t *n)
{
	uint8_t v[4];
	idx2_pv pv;
	int rc;

	*n = 0;
	if ((rc = idx2_flowkey_check(key)) != 0)
		return rc;
	if (key[FK_VER] != 0) {
		pv_set(&pv, IDX2_PT_ADDR, key + FK_SRC, 16);
		pv_add(out, n, &pv);
		pv_set(&pv, IDX2_PT_ADDR, key + FK_DST, 16);
		pv_add(out, n, &pv);
		if (key[FK_FLAGS] & FK_HAS_PORTS) {
			memcpy(v, key + FK_SPORT, 2);
			v[2] = key[FK_PROTO];
			pv_set(&pv, IDX2_PT_PORT, v, 3);
			pv_add(out, n, &pv);
			memcpy(v, key + FK_DPORT, 2);
			pv_set(&pv, IDX2_PT_PORT, v, 3);
			pv_add(out, n, &pv);
		}
		pv_set(&pv, IDX2_PT_PROTO, key + FK_PROTO, 1);
		pv_add(out, n, &pv);
	}
	tv_put_be32(v, tun ? tun->vni : TV_VNI_NONE);
	pv_set(&pv, IDX2_PT_VNI, v, 4);
	pv_add(out, n, &pv);
	return 0;
}

/* ------------------------------------------------------------ opost */

size_t idx2_okey_encode(uint64_t chunk_id, const idx2_pv *pv, uint8_t out[IDX2_OKEY_MAX])
{
	tv_put_be64(out, chunk_id);
	memcpy(out + 8, pv->tv, 1u + pv->len);
	return 9u + pv->len;
}

static int pv_decode(const uint8_t *tv, size_t n, idx2_pv *pv)
{
	if (idx2_pv_check(tv, n) != 0)
		return TV_E_CORRUPT;
	memset(pv, 0, sizeof *pv);
	pv->len = (uint8_t)(n - 1);
	memcpy(pv->tv, tv, n);
	return 0;
}

int idx2_okey_decode(const void *p, size_t n, uint64_t *chunk_id, idx2_pv *pv)
{
	if (n < 9)
		return TV_E_CORRUPT;
	*chunk_id = tv_get_be64(p);
	return pv_decode((const uint8_t *)p + 8, n - 8, pv);
}

size_t idx2_oval_encode(const uint8_t *key, size_t klen, uint64_t blocks,
                        uint8_t out[IDX2_OVAL_MAX])
{
	size_t n = idx2_varint_put(out + 4, blocks);
	tv_put_le32(out, tv_crc32c_extend(tv_crc32c(key, klen), out + 4, n));
	return 4 + n;
}

int idx2_oval_decode(const uint8_t *key, size_t klen, const void *p, size_t n,
                     unsigned nblocks, uint64_t *blocks)
{
	const uint8_t *b = p;
	tv_cur c;
	if (n < 5 || n > IDX2_OVAL_MAX ||
	    tv_get_le32(b) != tv_crc32c_extend(tv_crc32c(key, klen), b + 4, n - 4))
		return TV_E_CORRUPT;
	c = tv_cur_make(b + 4, n - 4);
	if (!idx2_varint_get(&c, blocks) || c.left != 0)
		return TV_E_CORRUPT;
	if (*blocks == 0 || nblocks > STORE_V2_MAX_BLOCKS)
		return TV_E_CORRUPT;
	if (nblocks >= 1 && nblocks < 64 && (*blocks >> nblocks) != 0)
		return TV_E_CORRUPT;
	return 0;
}

/* ------------------------------------------------------------- post */

size_t idx2_pkey_encode(uint32_t slice, const idx2_pv *pv, uint8_t out[IDX2_PKEY_MAX])
{
	tv_put_be32(out, slice);
	memcpy(out + 4, pv->tv, 1u + pv->len);
	return 5u + pv->len;
}

int idx2_pkey_decode(const void *p, size_t n, uint32_t *slice, idx2_pv *pv)
{
	if (n < 5)
		return TV_E_CORRUPT;
	*slice = tv_get_be32(p);
	if (*slice == 0)
		return TV_E_CORRUPT;
	return pv_decode((const uint8_t *)p + 4, n - 4, pv);
}

size_t idx2_varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

bool idx2_varint_get(tv_cur *c, uint64_t *v)
{
	uint64_t r = 0;
	for (unsigned i = 0; i < 10; i++) {
		uint8_t b;
		if (!tv_cur_u8(c, &b))
			return false;
		if (i == 9 && b > 1)
			return false; /* more than 64 bits */
		r |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (i > 0 && b == 0)
				return false; /* not the shortest form */
			*v = r;
			return true;
		}
	}
	return false;
}

size_t idx2_pval_encode(const uint8_t *key, size_t klen, uint64_t first_chunk,
                        const uint64_t *chunks, const uint64_t *blocks, size_t n,
                        uint8_t out[IDX2_PVAL_MAX])
{
	size_t len = 4;
	uint64_t prev = first_chunk;
	for (size_t i = 0; i < n && i < IDX2_SLICE_MAX_CHUNKS; i++) {
		len += idx2_varint_put(out + len, chunks[i] - prev);
		len += idx2_varint_put(out + len, blocks[i]);
		prev = chunks[i];
	}
	tv_put_le32(out, tv_crc32c_extend(tv_crc32c(key, klen), out + 4, len - 4));
	return len;
}

int idx2_piter_init(idx2_piter *it, const uint8_t *key, size_t klen, const void *p, size_t n,
                    const idx2_slice *s, const uint8_t *nblocks)
{
	const uint8_t *b = p;
	memset(it, 0, sizeof *it);
	if (n < 4 + 2 || n > IDX2_PVAL_MAX ||
	    tv_get_le32(b) != tv_crc32c_extend(tv_crc32c(key, klen), b + 4, n - 4))
		return TV_E_CORRUPT;
	it->c = tv_cur_make(b + 4, n - 4);
	it->first = s->first_chunk;
	it->next_min = s->first_chunk;
	it->end = s->first_chunk + s->nchunks; /* the decoder checked it does not wrap past 2^64 */
	it->nblocks = nblocks;
	return 0;
}

int idx2_piter_next(idx2_piter *it, uint64_t *chunk, uint64_t *blocks)
{
	uint64_t d, id, bits;
	if (it->c.left == 0)
		return it->started ? 0 : TV_E_CORRUPT; /* an empty list is not a posting */
	if (!idx2_varint_get(&it->c, &d) || !idx2_varint_get(&it->c, &bits))
		return TV_E_CORRUPT;
	if (it->started && d == 0)
		return TV_E_CORRUPT; /* each chunk once, in increasing order */
	id = (it->started ? it->next_min - 1 : it->first) + d;
	if (d > it->end - it->first || id < it->next_min || id >= it->end || bits == 0)
		return TV_E_CORRUPT;
	if (it->nblocks) {
		unsigned nb = it->nblocks[id - it->first];
		if (nb < 1 || nb > 64 || (nb < 64 && (bits >> nb) != 0))
			return TV_E_CORRUPT;
	}
	it->started = true;
	it->next_min = id + 1;
	*chunk = id;
	*blocks = bits;
	return 1;
}
