/*
 * pipeline_seal.c — the open chunk of a write-engine source: a packer
 * (flow-clustered blocks; the writer posts the flows it lists), each
 * packet with its flow key and where its payload starts.
 */
#include "vault_int.h"

#include <stdlib.h>
#include <string.h>

int wseal_new(const idx_vault *v, struct wseal *s)
{
	memset(s, 0, sizeof *s);
	return store_packer_new(&v->cfg.packer, &s->pk);
}

void wseal_free(struct wseal *s)
{
	store_packer_free(s->pk);
	s->pk = NULL;
}

bool wseal_ok(const struct wseal *s)
{
	return s->pk != NULL;
}

/*
 * Where the L4 payload starts in the frame, for the packer's entropy
 * split: 0 (unknown: the frame stays whole in section A) unless the
 * transport header is TCP or UDP right after the IP header, whole in the
 * captured bytes.  IPv6 extension headers and later fragments give 0.
 */
static uint32_t payload_off(const tv_pkt *p)
{
	const tv_l3info *in = &p->info;
	const uint8_t *f = p->frame;
	uint32_t off = in->l3_off, l4;

	if (!in->has_ports || in->frag == TV_FRAG_LATER || !f)
		return 0;
	if (in->l3 == 4) {
		if ((uint64_t)off + 20 > p->caplen)
			return 0;
		l4 = off + (uint32_t)(f[off] & 0x0f) * 4;
	} else if (in->l3 == 6) {
		if ((uint64_t)off + 40 > p->caplen || f[off + 6] != in->key.proto)
			return 0;
		l4 = off + 40;
	} else {
		return 0;
	}
	if (in->key.proto == 17)
		return (uint64_t)l4 + 8 <= p->caplen ? l4 + 8 : 0;
	if (in->key.proto == 6) {
		uint32_t doff;
		if ((uint64_t)l4 + 20 > p->caplen)
			return 0;
		doff = (uint32_t)(f[l4 + 12] >> 4) * 4;
		return doff >= 20 && (uint64_t)l4 + doff <= p->caplen ? l4 + doff : 0;
	}
	return 0;
}

/* Adds a packet.  TV_E_FULL: hand the chunk off and add again (the
 * packet is not in it). */
int wseal_add(struct wseal *s, const tv_pkt *pkt)
{
	uint8_t key[STORE_V2_KEY_LEN];

	idx2_flowkey_make(&pkt->info, key);
	return store_packer_add(s->pk, pkt, key, payload_off(pkt));
}

uint32_t wseal_count(const struct wseal *s)
{
	return store_packer_count(s->pk);
}

bool wseal_full(const struct wseal *s)
{
	return store_packer_full(s->pk);
}

int wseal_set_tag(struct wseal *s, const uint8_t *tag, uint32_t len)
{
	return store_packer_set_tag(s->pk, tag, len);
}

void wseal_reset(struct wseal *s)
{
	store_packer_reset(s->pk);
}

/* Copies the flows of the chunk the packer just sealed (they are borrowed
 * until its next add) into f, whose buffers grow to a chunk's flow count
 * and are then reused. */
static int wflows_copy(struct wflows *f, const store_packer *pk)
{
	uint32_t i, n = store_packer_nflows(pk);
	store_pflow *fl;
	uint8_t *keys;
	tv_tunmeta *tun;
	int rc;

	if (n > f->cap) {
		size_t nc = n < 256 ? 256 : (size_t)n + n / 2;
		if ((fl = realloc(f->fl, nc * sizeof *fl)) != NULL)
			f->fl = fl;
		if ((keys = realloc(f->keys, nc * STORE_V2_KEY_LEN)) != NULL)
			f->keys = keys;
		if ((tun = realloc(f->tun, nc * sizeof *tun)) != NULL)
			f->tun = tun;
		if (!fl || !keys || !tun)
			return TV_E_NOMEM;
		f->cap = nc;
	}
	for (i = 0; i < n; i++) {
		store_pflow pf;
		if ((rc = store_packer_flow(pk, i, &pf)) != 0)
			return rc;
		memcpy(f->keys + (size_t)i * STORE_V2_KEY_LEN, pf.key, STORE_V2_KEY_LEN);
		f->tun[i] = *pf.tun;
		f->fl[i] = pf;
		f->fl[i].key = f->keys + (size_t)i * STORE_V2_KEY_LEN;
		f->fl[i].tun = &f->tun[i];
	}
	f->n = n;
	return 0;
}

void wflows_free(struct wflows *f)
{
	free(f->fl);
	free(f->keys);
	free(f->tun);
	memset(f, 0, sizeof *f);
}

/*
 * Seals the open chunk (it must hold a packet) with id (the writer
 * numbers it again in append order); *chunk points into s until the next
 * add or reset.  The chunk's flows go to fl and meta gets its header's
 * figures.
 */
int wseal_seal(struct wseal *s, uint64_t id, const uint8_t **chunk, size_t *len,
               store_chunk_meta *meta, struct wflows *fl)
{
	store_hdr h;
	int rc;

	if ((rc = store_packer_seal(s->pk, id, chunk, len, &h)) != 0)
		return rc;
	if ((rc = wflows_copy(fl, s->pk)) != 0)
		return rc;
	memset(meta, 0, sizeof *meta);
	meta->chunk_id = h.chunk_id;
	meta->length = (uint32_t)*len;
	meta->first_ts = h.first_ts;
	meta->last_ts = h.last_ts;
	meta->npkts = h.npkts;
	meta->raw_len = h.raw_len;
	meta->orig_bytes = h.orig_bytes;
	memcpy(meta->sha256, h.sha256, sizeof meta->sha256);
	return 0;
}
