/*
 * test_tails2.c — a block of the chunk read as a query reads it
 * (store/FORMAT.md "Block", "Section B"): store_block_decode_a on the
 * block's header and section A alone, then store_block_tails_put of the
 * flows it returns, each flow's tails checked against its directory
 * entry's CRC; section B no longer under the block CRC; the a_comp of the
 * block table entry.
 *
 * The chunks come from store_packer, some payloads high-entropy so that
 * their tails go to section B.  Whatever a partial read hands out is
 * compared with a whole-block decode of the same bytes, and every partial
 * read gets exactly the bytes it names (malloc'd to size, so that ASan
 * sees a read past them).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../store/chunk2.h"

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	cr_assert_not_null(c);
	memcpy(c, p, n);
	return c;
}

/* A chunk of n packets over nflows flows in blocks of 16 KiB of section A:
 * a 54-byte header, then up to 1400 bytes of payload, random (to section
 * B) in one packet of three, else text.  Its header and block table go to
 * h and refs. */
static uint8_t *split_chunk(uint32_t n, uint32_t nflows, size_t *len, store_hdr *h,
                            store_blkref refs[STORE_V2_MAX_BLOCKS])
{
	static const char text[] = "GET /index.html HTTP/1.1\r\nHost: example.com\r\n";
	store_packer_cfg cfg;
	store_packer *pk;
	const uint8_t *c, *tag;
	uint8_t frame[54 + 1400], key[40];
	uint32_t tl;
	store_packer_cfg_default(&cfg);
	cfg.block_target = 16u << 10;
	cr_assert_eq(store_packer_new(&cfg, &pk), 0);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t r = rnd();
		uint32_t flow = (uint32_t)(r % nflows), caplen = 54 + (uint32_t)((r >> 16) % 1401);
		bool random = (r >> 32) % 3 == 0;
		tv_pkt p;
		memset(&p, 0, sizeof p);
		p.ts_ns = 1000000 + 10ull * i;
		p.frame = frame;
		p.caplen = p.origlen = caplen;
		p.tun.vni = TV_VNI_NONE;
		for (uint32_t j = 0; j < caplen; j++)
			frame[j] = j < 54 ? (uint8_t)(flow * 7 + j)
			                  : random ? (uint8_t)rnd() : (uint8_t)text[j % (sizeof text - 1)];
		memset(key, 0, sizeof key);
		tv_put_be32(key, flow);
		cr_assert_eq(store_packer_add(pk, &p, key, 54), 0);
	}
	cr_assert_eq(store_packer_seal(pk, 1, &c, len, NULL), 0);
	uint8_t *copy = dup_bytes(c, *len);
	store_packer_free(pk);
	cr_assert_eq(store_hdr_parse(copy, *len, h), 0);
	cr_assert_eq(store_head_parse(h, copy + 128, h->head_len, refs, &tag, &tl), 0);
	return copy;
}

/* Flows of a decoded block whose tails are in section B. */
static uint32_t flows_with_tails(const store_block *b)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < store_block_nflows(b); i++)
		n += store_block_flow(b, i)->tail_len > 0;
	return n;
}

/* Gives a the tails of flows f0..f1-1 from exactly their span of the
 * block's section B (sb); returns the copy (borrowed by a) for the
 * caller to free. */
static uint8_t *put_span(store_block *a, uint32_t f0, uint32_t f1, const uint8_t *sb)
{
	const store_bflow *first = store_block_flow(a, f0), *last = store_block_flow(a, f1 - 1);
	size_t n = last->tail_off + last->tail_len - first->tail_off;
	uint8_t *span = dup_bytes(sb + first->tail_off, n);
	cr_assert_eq(store_block_tails_put(a, f0, f1, span, n), 0);
	for (uint32_t i = f0; i < f1; i++) {
		const store_bflow *f = store_block_flow(a, i);
		cr_assert_not_null(f->tails);
		if (f->tail_len)
			cr_assert_eq(f->tails, span + (f->tail_off - first->tail_off));
	}
	return span;
}

/* Every record and frame of a (decode_a, the tails of the flows marked in
 * given put) against w (the whole block decoded): a frame with a tail is
 * handed out exactly when its flow's tails were given, and then it is
 * byte for byte the whole decode's.  Returns the frames withheld. */
static uint32_t same_frames(store_block *a, store_block *w, const bool *given)
{
	static uint8_t sa[STORE_MAX_CAPLEN], sw[STORE_MAX_CAPLEN];
	uint32_t withheld = 0;
	for (uint32_t k = 0; k < store_block_nrec(w); k++) {
		const store_brec *ra = store_block_rec(a, k), *rw = store_block_rec(w, k);
		cr_assert(ra->ts_ns == rw->ts_ns && ra->seq == rw->seq && ra->caplen == rw->caplen &&
		          ra->origlen == rw->origlen && ra->alen == rw->alen && ra->hlen == rw->hlen &&
		          ra->a_off == rw->a_off && ra->p_off == rw->p_off && ra->b_off == rw->b_off &&
		          ra->flags == rw->flags && ra->flow == rw->flow, "record %u", k);
		const uint8_t *fa = store_block_frame(a, k, sa), *fw = store_block_frame(w, k, sw);
		cr_assert_not_null(fw);
		cr_assert_eq(fa != NULL, rw->alen == rw->caplen || given[rw->flow], "record %u", k);
		if (fa)
			cr_assert_eq(memcmp(fa, fw, rw->caplen), 0, "record %u", k);
		withheld += fa == NULL;
	}
	return withheld;
}

/* Block by block: decode_a on exactly 32 + a_comp bytes gives the flows
 * and records of the whole decode and no frame with a tail; the tails of
 * a run of flows in the middle make those frames (and only those)
 * available; the rest of the tails make every frame the whole decode's. */
Test(tails2, decode_a_then_tails_as_the_whole_decode)
{
	size_t len;
	store_hdr h;
	store_blkref refs[STORE_V2_MAX_BLOCKS];
	uint8_t *c = split_chunk(600, 120, &len, &h, refs);
	store_block *w, *a;
	static bool given[65536];
	uint32_t withheld_all = 0, withheld_mid = 0;
	cr_assert_gt(h.nblocks, 2);
	cr_assert_eq(store_block_new(&w), 0);
	cr_assert_eq(store_block_new_sharing(w, &a), 0);
	for (uint32_t bi = 0; bi < h.nblocks; bi++) {
		const uint8_t *blk = c + 128 + refs[bi].offset, *sb = blk + 32 + refs[bi].a_comp;
		uint8_t *head_a = dup_bytes(blk, 32 + refs[bi].a_comp);
		cr_assert_eq(store_block_decode(w, blk, refs[bi].len, &h, &refs[bi]), 0);
		cr_assert_eq(store_block_decode_a(a, head_a, 32 + refs[bi].a_comp, &h, &refs[bi]), 0);
		cr_assert_eq(store_block_a_comp(a), refs[bi].a_comp);
		cr_assert_eq(store_block_a_comp(w), refs[bi].a_comp);
		uint32_t nf = store_block_nflows(w), f0 = nf / 3, f1 = nf - nf / 3;
		cr_assert_eq(store_block_nflows(a), nf);
		cr_assert_eq(store_block_nrec(a), store_block_nrec(w));
		for (uint32_t fi = 0; fi < nf; fi++) {
			const store_bflow *fa = store_block_flow(a, fi), *fw = store_block_flow(w, fi);
			cr_assert_eq(memcmp(fa->key, fw->key, STORE_V2_KEY_LEN), 0);
			cr_assert_eq(memcmp(fa->tun, fw->tun, sizeof *fa->tun), 0);
			cr_assert(fa->nrec == fw->nrec && fa->first == fw->first &&
			          fa->tail_off == fw->tail_off && fa->tail_len == fw->tail_len &&
			          fa->tail_crc == fw->tail_crc);
			cr_assert_null(fa->tails);
			cr_assert_not_null(fw->tails);
			given[fi] = false;
		}
		withheld_all += same_frames(a, w, given);
		uint8_t *mid = put_span(a, f0, f1, sb);
		for (uint32_t fi = f0; fi < f1; fi++)
			given[fi] = true;
		withheld_mid += same_frames(a, w, given);
		uint8_t *lo = f0 > 0 ? put_span(a, 0, f0, sb) : NULL;
		uint8_t *hi = f1 < nf ? put_span(a, f1, nf, sb) : NULL;
		for (uint32_t fi = 0; fi < nf; fi++)
			given[fi] = true;
		cr_assert_eq(same_frames(a, w, given), 0);
		free(head_a);
		free(mid);
		free(lo);
		free(hi);
	}
	/* the chunk had tails to withhold, inside and outside the middle run */
	cr_assert_gt(withheld_mid, 0);
	cr_assert_gt(withheld_all, withheld_mid);
	store_block_free(a);
	store_block_free(w);
	free(c);
}

/* The first block of the chunk with tails in at least two flows. */
static uint32_t block_with_tails(const uint8_t *c, const store_hdr *h, const store_blkref *refs)
{
	store_block *b;
	cr_assert_eq(store_block_new(&b), 0);
	for (uint32_t bi = 0; bi < h->nblocks; bi++) {
		cr_assert_eq(store_block_decode(b, c + 128 + refs[bi].offset, refs[bi].len, h, &refs[bi]), 0);
		if (flows_with_tails(b) >= 2) {
			store_block_free(b);
			return bi;
		}
	}
	cr_assert_fail("no block with tails in two flows");
	return 0;
}

/* tails_put checks each flow's bytes against its CRC and takes none of a
 * range with a bad one; bounds and a length other than the span are
 * TV_E_RANGE. */
Test(tails2, tails_put_refuses_damage_and_bad_ranges)
{
	size_t len;
	store_hdr h;
	store_blkref refs[STORE_V2_MAX_BLOCKS];
	uint8_t *c = split_chunk(200, 40, &len, &h, refs);
	const store_blkref *r = &refs[block_with_tails(c, &h, refs)];
	const uint8_t *blk = c + 128 + r->offset;
	uint32_t b_len = r->len - 32 - r->a_comp;
	uint8_t *sb = dup_bytes(blk + 32 + r->a_comp, b_len);
	store_block *a;
	cr_assert_eq(store_block_new(&a), 0);
	cr_assert_eq(store_block_tails_put(a, 0, 1, sb, 0), TV_E_RANGE, "nothing decoded");
	cr_assert_eq(store_block_decode_a(a, blk, 32 + r->a_comp, &h, r), 0);
	uint32_t nf = store_block_nflows(a);
	cr_assert_eq(store_block_tails_put(a, 1, 1, sb, 0), TV_E_RANGE);
	cr_assert_eq(store_block_tails_put(a, 2, 1, sb, 0), TV_E_RANGE);
	cr_assert_eq(store_block_tails_put(a, 0, nf + 1, sb, b_len), TV_E_RANGE);
	cr_assert_eq(store_block_tails_put(a, nf, nf + 1, sb, 0), TV_E_RANGE);
	cr_assert_eq(store_block_tails_put(a, 0, nf, sb, b_len - 1), TV_E_RANGE);
	cr_assert_eq(store_block_tails_put(a, 0, nf, sb, b_len + 1), TV_E_RANGE);
	/* any byte flipped: the whole range and the flow alone are refused,
	 * and none of the range's flows has tails; another flow still takes
	 * its own */
	for (uint32_t i = 0; i < b_len; i++) {
		uint32_t fi = 0;
		while (store_block_flow(a, fi)->tail_off + store_block_flow(a, fi)->tail_len <= i)
			fi++;
		const store_bflow *f = store_block_flow(a, fi);
		uint32_t other = fi + 1 < nf ? fi + 1 : 0;
		const store_bflow *o = store_block_flow(a, other);
		sb[i] ^= (uint8_t)(1u << (i % 8));
		cr_assert_eq(store_block_tails_put(a, 0, nf, sb, b_len), TV_E_CORRUPT, "byte %u", i);
		for (uint32_t k = 0; k < nf; k++)
			cr_assert_null(store_block_flow(a, k)->tails);
		cr_assert_eq(store_block_tails_put(a, fi, fi + 1, sb + f->tail_off, f->tail_len),
		             TV_E_CORRUPT);
		cr_assert_null(f->tails);
		for (uint32_t k = f->first; k < f->first + f->nrec; k++)
			if (store_block_rec(a, k)->alen < store_block_rec(a, k)->caplen)
				cr_assert_null(store_block_frame(a, k, NULL));
		cr_assert_eq(store_block_tails_put(a, other, other + 1, sb + o->tail_off, o->tail_len), 0);
		sb[i] ^= (uint8_t)(1u << (i % 8));
		/* forget the other flow's tails again */
		cr_assert_eq(store_block_decode_a(a, blk, 32 + r->a_comp, &h, r), 0);
	}
	cr_assert_eq(store_block_tails_put(a, 0, nf, sb, b_len), 0);
	for (uint32_t k = 0; k < store_block_nrec(a); k++)
		cr_assert_not_null(store_block_frame(a, k, NULL));
	store_block_free(a);
	free(sb);
	free(c);
}

/* The block CRC covers the header and section A only: a byte flipped in
 * section B fails the whole decode (its flow's tail CRC) but not a read
 * of the header and section A; one flipped before B fails both. */
Test(tails2, section_b_is_under_the_tail_crcs_only)
{
	size_t len;
	store_hdr h;
	store_blkref refs[STORE_V2_MAX_BLOCKS];
	uint8_t *c = split_chunk(120, 24, &len, &h, refs);
	const store_blkref *r = &refs[block_with_tails(c, &h, refs)];
	uint8_t *blk = dup_bytes(c + 128 + r->offset, r->len);
	uint32_t a_len = 32 + r->a_comp;
	store_block *b;
	cr_assert_lt(a_len, r->len);
	cr_assert_eq(store_block_new(&b), 0);
	for (uint32_t i = 0; i < r->len; i++) {
		blk[i] ^= (uint8_t)(1u << (i % 8));
		cr_assert_eq(store_block_decode(b, blk, r->len, NULL, NULL), TV_E_CORRUPT, "byte %u", i);
		cr_assert_eq(store_block_nrec(b), 0);
		int rc = store_block_decode_a(b, blk, a_len, NULL, NULL);
		cr_assert_eq(rc, i < a_len ? TV_E_CORRUPT : 0, "byte %u: %d", i, rc);
		blk[i] ^= (uint8_t)(1u << (i % 8));
	}
	cr_assert_eq(store_block_decode(b, blk, r->len, &h, r), 0);
	store_block_free(b);
	free(blk);
	free(c);
}

/* decode_a takes exactly 32 + a_comp bytes, and a block table entry whose
 * a_comp (or len) is not the block's is refused by both decoders. */
Test(tails2, decode_a_length_and_table_entry)
{
	size_t len;
	store_hdr h;
	store_blkref refs[STORE_V2_MAX_BLOCKS];
	uint8_t *c = split_chunk(120, 24, &len, &h, refs);
	const store_blkref *r = &refs[block_with_tails(c, &h, refs)];
	const uint8_t *blk = c + 128 + r->offset;
	uint32_t a_len = 32 + r->a_comp;
	store_block *b;
	cr_assert_eq(store_block_new(&b), 0);
	for (int d = -1; d <= 1; d += 2) {
		uint8_t *p = dup_bytes(blk, a_len + d);
		cr_assert_eq(store_block_decode_a(b, p, a_len + d, &h, r), TV_E_CORRUPT, "%+d", d);
		cr_assert_eq(store_block_decode_a(b, p, a_len + d, NULL, NULL), TV_E_CORRUPT, "%+d", d);
		cr_assert_eq(store_block_nrec(b), 0);
		cr_assert_eq(store_block_a_comp(b), 0);
		free(p);
	}
	cr_assert_eq(store_block_decode_a(b, blk, r->len, NULL, NULL), TV_E_CORRUPT, "the whole block");
	cr_assert_eq(store_block_decode_a(b, blk, 31, NULL, NULL), TV_E_TRUNCATED);
	store_blkref bad = *r;
	for (int d = -1; d <= 1; d += 2) {
		bad.a_comp = r->a_comp + d;
		cr_assert_eq(store_block_decode_a(b, blk, a_len, &h, &bad), TV_E_CORRUPT);
		cr_assert_eq(store_block_decode(b, blk, r->len, &h, &bad), TV_E_CORRUPT);
		bad.a_comp = r->a_comp;
		bad.len = r->len + d;
		cr_assert_eq(store_block_decode_a(b, blk, a_len, &h, &bad), TV_E_CORRUPT);
		bad.len = r->len;
	}
	cr_assert_eq(store_block_decode_a(b, blk, a_len, &h, &bad), 0);
	cr_assert_eq(store_block_a_comp(b), r->a_comp);
	store_block_free(b);
	free(c);
}

/* The head refuses a table entry whose a_comp leaves no room for the
 * block header within len (a_comp <= len - 32). */
Test(tails2, head_refuses_a_comp_past_the_block)
{
	size_t len;
	store_hdr h;
	store_blkref refs[STORE_V2_MAX_BLOCKS], got[STORE_V2_MAX_BLOCKS];
	const uint8_t *tag;
	uint32_t tl;
	uint8_t *c = split_chunk(120, 24, &len, &h, refs);
	uint8_t *head = dup_bytes(c + 128, h.head_len);
	uint8_t *e = head + 4 + tv_get_le32(head) + 20 * (h.nblocks - 1); /* the last entry */
	cr_assert_eq(tv_get_le32(e + 16), refs[h.nblocks - 1].a_comp);
	tv_put_le32(e + 16, refs[h.nblocks - 1].len - 32);
	cr_assert_eq(store_head_parse(&h, head, h.head_len, got, &tag, &tl), 0);
	cr_assert_eq(got[h.nblocks - 1].a_comp, refs[h.nblocks - 1].len - 32);
	tv_put_le32(e + 16, refs[h.nblocks - 1].len - 31);
	cr_assert_eq(store_head_parse(&h, head, h.head_len, got, &tag, &tl), TV_E_CORRUPT);
	tv_put_le32(e + 16, 0xFFFFFFFFu);
	cr_assert_eq(store_head_parse(&h, head, h.head_len, got, &tag, &tl), TV_E_CORRUPT);
	free(head);
	free(c);
}
