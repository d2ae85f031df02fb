/*
 * reasm.c — reassembly of outer IP fragments of tunnel traffic.
 *
 * A VXLAN or GENEVE datagram bigger than the path MTU arrives as IPv4
 * fragments (RFC 791) or IPv6 fragments (RFC 8200 §4.5).  Only the first
 * one carries the UDP header that says "tunnel"; the others are bare
 * slices of the datagram.  The reassembler puts them back together so the
 * inner packet is stored whole; what it cannot put together is stored as
 * the outer frames as captured, flagged decap_error, and counted by reason.
 *
 * What is held.  A first fragment with UDP to a tunnel port, and a later
 * fragment whose protocol is UDP (it may belong to a tunnel datagram whose
 * first fragment comes later: fragments arrive in any order).  When the
 * first fragment turns out not to be tunnel traffic, the held ones are
 * released as ordinary packets (decap.reasm.not_tunnel) and the datagram's
 * entry stays as "pass" so its other fragments go straight through.
 *
 * Keys.  IPv4: source, destination, protocol, identification (RFC 791).
 * IPv6: source, destination, identification (RFC 8200 §4.5).
 *
 * Memory.  Everything is allocated in reasm_new() and never again:
 *   - a table of max_datagrams entries with a seeded hash index, and an age
 *     list in order of creation (timeouts and eviction take the oldest);
 *   - a pool of RA_BLOCK-byte blocks that holds the captured frames, two
 *     times max_bytes: held fragments may use max_bytes (the oldest
 *     datagrams are given up to make room: decap.reasm.table_full); the
 *     other half holds given-up fragments until the caller takes them;
 *   - one fragment slot per block, and one output buffer.
 * A fragment is copied into blocks once; the reassembled frame is built
 * in the output buffer once.
 *
 * Limits, each counted (per fragment stored as captured):
 *   timeout      the first fragment of the datagram came more than the
 *                timeout (capture time) before the current packet;
 *   table_full   the entry or byte limit was reached: the oldest datagram
 *                is given up for the new one;
 *   overlap      two fragments cover the same bytes differently (the whole
 *                datagram is given up: RFC 5722 for IPv6, and the safe
 *                choice for IPv4 where overlaps are an evasion technique);
 *   duplicate    a fragment exactly equal to one already held (the
 *                datagram goes on);
 *   too_big      the datagram would exceed 65535 bytes (IPv4 total length,
 *                IPv6 payload length) or a fragment frame the block pool's
 *                per-fragment limit;
 *   too_many_fragments  more than RA_MAX_FRAGS fragments;
 *   malformed    a non-last fragment whose length is not a multiple of 8,
 *                two different ends, or data past the end;
 *   incomplete   still waiting at the end of the input (reasm_flush).
 * A datagram given up keeps its entry until the timeout, so its later
 * fragments are stored as captured too (same reason).  A reassembled
 * datagram frees its entry at once; a copy of one of its fragments that
 * comes later waits like any fragment and is given up.
 *
 * Fragments whose first fragment never came cannot say whether they were
 * tunnel traffic.  They are stored as captured with decap_error when their
 * address pair carried tunnel traffic before (the mirror source to the
 * target), else released as ordinary packets, as they would have been
 * without reassembly.
 *
 * The reassembled frame is the first fragment's link and IP headers, then
 * the data of every fragment in offset order.  The IPv4 header gets the
 * total length, no MF, offset 0 and a new checksum; the IPv6 header the
 * payload length, and its Fragment header offset 0 and M 0 (an atomic
 * fragment, RFC 6946), so the frame parses as a whole datagram.  Bytes a
 * capture cut from a fragment (snap length) stay missing: the frame is cut
 * at the first missing byte and its true length is the datagram's.
 */
#include "ingest_int.h"

#include <stdlib.h>
#include <string.h>

#define RA_BLOCK 2048u
#define RA_MAX_FRAGS 64u             /* fragments of one datagram */
#define RA_MAX_FRAME (65535u + 256u) /* frame bytes of one fragment */
#define RA_BUF_CAP (2u * 65536u)     /* reassembled frame: headers + 65535 + IPv6 40 */
#define RA_NIL UINT32_MAX
#define RA_PAIRS 256u

enum { RA_OPEN = 1, RA_PASS, RA_DEAD };

struct ra_key {
	tv_addr src;
	tv_addr dst;
	uint32_t id;
	uint8_t ver;
	uint8_t proto; /* 0 for IPv6 */
	uint8_t pad[2];
};

struct ra_frag {
	uint32_t next;    /* next fragment of the datagram, or in the pending queue */
	uint32_t block;   /* first block of the frame copy */
	uint32_t len;     /* frame bytes held */
	uint32_t cut;     /* frame bytes the capture did not keep */
	uint32_t off, wire_len, cap_len;
	uint32_t ip_at, fh_at, data_at;
	uint64_t ts_ns;
	uint8_t synth;
	uint8_t as_error; /* pending: store as captured with decap_error */
	uint8_t pad[6];
};

struct ra_ent {
	struct ra_key k;
	uint64_t created;  /* capture time of the first fragment seen */
	uint32_t hnext;    /* hash chain; RA_NIL ends it */
	uint32_t older, newer; /* age list */
	uint32_t frags;    /* held fragments (arrival order) */
	uint32_t nfrags;
	uint32_t blocks;   /* blocks held */
	uint32_t end;      /* datagram data length, once the last fragment came */
	uint32_t sum;      /* data bytes held (no overlaps, so sum == end means whole) */
	int dead_ctr;      /* RA_DEAD: the counter of later fragments */
	uint8_t state;     /* 0 free, RA_OPEN, RA_PASS, RA_DEAD */
	int8_t tunnel;     /* 1 first fragment was tunnel traffic; -1 not seen yet */
	uint8_t have_last;
	uint8_t dead_error; /* RA_DEAD: later fragments are stored with decap_error */
};

struct ra_pair {
	tv_addr src, dst;
	uint8_t used;
};

struct ingest_reasm {
	uint32_t max_ent;
	uint32_t nent;
	uint32_t mask;
	uint32_t *bucket;
	struct ra_ent *ent;
	uint32_t free_ent;     /* free entries chained through hnext */
	uint32_t oldest, newest;
	uint64_t timeout_ns;
	uint64_t seed;

	uint32_t nblocks;      /* pool size */
	uint32_t max_held;     /* blocks open datagrams may hold */
	uint32_t held;
	uint8_t *pool;
	uint32_t *bnext;       /* block chains and the free list */
	uint32_t free_block;
	uint32_t nfree;
	struct ra_frag *frag;  /* one slot per block */
	uint32_t free_frag;

	uint32_t pend_head, pend_tail;

	struct ra_pair pairs[RA_PAIRS];
	uint8_t *buf;          /* output: reassembled or popped frame */
};

/* ------------------------------------------------------------------ */
/* Object                                                              */
/* ------------------------------------------------------------------ */

int reasm_new(const ingest_decap_cfg *cfg, uint64_t seed, ingest_reasm **out)
{
	ingest_reasm *r;
	uint32_t i, nb, half, nbucket = 1;

	*out = NULL;
	if (cfg->reasm_max_datagrams == 0)
		return 0;
	if (cfg->reasm_max_datagrams > INGEST_REASM_MAX_DATAGRAMS ||
	    cfg->reasm_max_bytes < RA_MAX_FRAME || cfg->reasm_max_bytes > INGEST_REASM_MAX_BYTES)
		return TV_E_RANGE;
	r = calloc(1, sizeof *r);
	if (!r)
		return TV_E_NOMEM;
	r->max_ent = cfg->reasm_max_datagrams;
	while (nbucket < 2 * r->max_ent)
		nbucket <<= 1;
	r->mask = nbucket - 1;
	half = (cfg->reasm_max_bytes + RA_BLOCK - 1) / RA_BLOCK;
	nb = 2 * half;
	r->nblocks = nb;
	r->max_held = half;
	r->timeout_ns = (uint64_t)cfg->reasm_timeout_ms * 1000000ull;
	r->seed = seed;
	r->bucket = malloc((size_t)nbucket * sizeof *r->bucket);
	r->ent = calloc(r->max_ent, sizeof *r->ent);
	r->pool = malloc((size_t)nb * RA_BLOCK);
	r->bnext = malloc((size_t)nb * sizeof *r->bnext);
	r->frag = calloc(nb, sizeof *r->frag);
	r->buf = malloc(RA_BUF_CAP);
	if (!r->bucket || !r->ent || !r->pool || !r->bnext || !r->frag || !r->buf) {
		reasm_free(r);
		return TV_E_NOMEM;
	}
	for (i = 0; i < nbucket; i++)
		r->bucket[i] = RA_NIL;
	for (i = 0; i < r->max_ent; i++)
		r->ent[i].hnext = i + 1 < r->max_ent ? i + 1 : RA_NIL;
	r->free_ent = 0;
	for (i = 0; i < nb; i++) {
		r->bnext[i] = i + 1 < nb ? i + 1 : RA_NIL;
		r->frag[i].next = i + 1 < nb ? i + 1 : RA_NIL;
	}
	r->free_block = 0;
	r->nfree = nb;
	r->free_frag = 0;
	r->oldest = r->newest = RA_NIL;
	r->pend_head = r->pend_tail = RA_NIL;
	*out = r;
	return 0;
}

void reasm_free(ingest_reasm *r)
{
	if (!r)
		return;
	free(r->bucket);
	free(r->ent);
	free(r->pool);
	free(r->bnext);
	free(r->frag);
	free(r->buf);
	free(r);
}

/* ------------------------------------------------------------------ */
/* Blocks and fragment slots                                           */
/* ------------------------------------------------------------------ */

static uint32_t blocks_for(uint32_t len)
{
	return len == 0 ? 1 : (len + RA_BLOCK - 1) / RA_BLOCK;
}

/* Copies len bytes into a fresh chain; the caller checked nfree. */
static uint32_t blocks_store(ingest_reasm *r, const uint8_t *p, uint32_t len)
{
	uint32_t need = blocks_for(len), head = r->free_block, b = head, i;
	for (i = 0; i < need; i++) {
		uint32_t n = len > RA_BLOCK ? RA_BLOCK : len;
		if (n)
			memcpy(r->pool + (size_t)b * RA_BLOCK, p, n);
		p += n;
		len -= n;
		if (i + 1 == need) {
			r->free_block = r->bnext[b];
			r->bnext[b] = RA_NIL;
		} else {
			b = r->bnext[b];
		}
	}
	r->nfree -= need;
	return head;
}

/* Copies n bytes from offset off of a chain into dst. */
static void blocks_read(const ingest_reasm *r, uint32_t b, uint32_t off, uint8_t *dst, uint32_t n)
{
	while (off >= RA_BLOCK) {
		b = r->bnext[b];
		off -= RA_BLOCK;
	}
	while (n > 0) {
		uint32_t k = RA_BLOCK - off < n ? RA_BLOCK - off : n;
		memcpy(dst, r->pool + (size_t)b * RA_BLOCK + off, k);
		dst += k;
		n -= k;
		off = 0;
		b = r->bnext[b];
	}
}

static void blocks_release(ingest_reasm *r, uint32_t b)
{
	while (b != RA_NIL) {
		uint32_t next = r->bnext[b];
		r->bnext[b] = r->free_block;
		r->free_block = b;
		r->nfree++;
		b = next;
	}
}

static void frag_release(ingest_reasm *r, uint32_t fi)
{
	blocks_release(r, r->frag[fi].block);
	r->frag[fi].next = r->free_frag;
	r->free_frag = fi;
}

static void pend_push(ingest_reasm *r, uint32_t fi, bool as_error)
{
	r->frag[fi].as_error = as_error;
	r->frag[fi].next = RA_NIL;
	if (r->pend_tail == RA_NIL)
		r->pend_head = fi;
	else
		r->frag[r->pend_tail].next = fi;
	r->pend_tail = fi;
}

/* ------------------------------------------------------------------ */
/* Entries                                                             */
/* ------------------------------------------------------------------ */

static uint64_t key_hash(const ingest_reasm *r, const struct ra_key *k)
{
	return tv_hash64(k, sizeof *k, r->seed);
}

static void key_make(struct ra_key *k, const struct reasm_in *in)
{
	memset(k, 0, sizeof *k);
	k->src = in->src;
	k->dst = in->dst;
	k->id = in->id;
	k->ver = in->ver;
	k->proto = in->ver == 4 ? in->proto : 0;
}

static uint32_t ent_find(const ingest_reasm *r, const struct ra_key *k)
{
	uint32_t i = r->bucket[key_hash(r, k) & r->mask];
	for (; i != RA_NIL; i = r->ent[i].hnext)
		if (memcmp(&r->ent[i].k, k, sizeof *k) == 0)
			return i;
	return RA_NIL;
}

/* Unlinks entry i from its chain and the age list and frees it; its
 * fragments must be gone already. */
static void ent_remove(ingest_reasm *r, uint32_t i)
{
	struct ra_ent *e = &r->ent[i];
	uint32_t *pp = &r->bucket[key_hash(r, &e->k) & r->mask];
	while (*pp != i)
		pp = &r->ent[*pp].hnext;
	*pp = e->hnext;
	if (e->older != RA_NIL)
		r->ent[e->older].newer = e->newer;
	else
		r->oldest = e->newer;
	if (e->newer != RA_NIL)
		r->ent[e->newer].older = e->older;
	else
		r->newest = e->older;
	memset(e, 0, sizeof *e);
	e->hnext = r->free_ent;
	r->free_ent = i;
	r->nent--;
}

static bool pair_known(const ingest_reasm *r, const tv_addr *src, const tv_addr *dst)
{
	const struct ra_pair *p = &r->pairs[(src->b[15] ^ (src->b[14] << 1) ^ dst->b[15] ^
	                                     (dst->b[13] << 2)) & (RA_PAIRS - 1)];
	return p->used && memcmp(&p->src, src, sizeof *src) == 0 &&
	       memcmp(&p->dst, dst, sizeof *dst) == 0;
}

void reasm_note_tunnel_pair(ingest_reasm *r, const tv_addr *src, const tv_addr *dst)
{
	struct ra_pair *p;
	if (!r)
		return;
	p = &r->pairs[(src->b[15] ^ (src->b[14] << 1) ^ dst->b[15] ^ (dst->b[13] << 2)) &
	              (RA_PAIRS - 1)];
	p->src = *src;
	p->dst = *dst;
	p->used = 1;
}

/*
 * Gives up the fragments entry i holds: they go to the pending queue, as
 * captured with decap_error (counted under ctr_id) when the datagram is
 * known to be tunnel traffic, else as ordinary packets (not_tunnel).
 * Returns whether they were errors.
 */
static bool ent_give_up(ingest_reasm *r, uint32_t i, int ctr_id, tv_counters *ctr)
{
	struct ra_ent *e = &r->ent[i];
	bool as_error = e->tunnel == 1 || pair_known(r, &e->k.src, &e->k.dst);
	uint32_t fi = e->frags;
	while (fi != RA_NIL) {
		uint32_t next = r->frag[fi].next;
		pend_push(r, fi, as_error);
		ctr->v[as_error ? ctr_id : TV_CTR_REASM_NOT_TUNNEL]++;
		fi = next;
	}
	r->held -= e->blocks;
	e->frags = RA_NIL;
	e->nfrags = 0;
	e->blocks = 0;
	e->sum = 0;
	return as_error;
}

/* Marks entry i dead after a failure: later fragments follow the same fate. */
static void ent_kill(ingest_reasm *r, uint32_t i, int ctr_id, tv_counters *ctr)
{
	struct ra_ent *e = &r->ent[i];
	e->dead_error = ent_give_up(r, i, ctr_id, ctr);
	e->dead_ctr = ctr_id;
	e->state = RA_DEAD;
}

/* Frees the oldest entry (giving up what it holds); false when none. */
static bool evict_oldest(ingest_reasm *r, uint32_t keep, tv_counters *ctr)
{
	uint32_t i = r->oldest;
	while (i != RA_NIL && i == keep)
		i = r->ent[i].newer;
	if (i == RA_NIL)
		return false;
	if (r->ent[i].state == RA_OPEN)
		ent_give_up(r, i, TV_CTR_REASM_TABLE_FULL, ctr);
	ent_remove(r, i);
	return true;
}

/* Frees the oldest entry holding blocks, other than keep; false when none. */
static bool evict_for_bytes(ingest_reasm *r, uint32_t keep, tv_counters *ctr)
{
	uint32_t i;
	for (i = r->oldest; i != RA_NIL; i = r->ent[i].newer) {
		if (i != keep && r->ent[i].blocks > 0) {
			ent_give_up(r, i, TV_CTR_REASM_TABLE_FULL, ctr);
			ent_remove(r, i);
			return true;
		}
	}
	return false;
}

static uint32_t ent_create(ingest_reasm *r, const struct ra_key *k, uint64_t ts, tv_counters *ctr)
{
	uint32_t i, h;
	struct ra_ent *e;
	if (r->nent >= r->max_ent && !evict_oldest(r, RA_NIL, ctr))
		return RA_NIL;
	i = r->free_ent;
	e = &r->ent[i];
	r->free_ent = e->hnext;
	memset(e, 0, sizeof *e);
	e->k = *k;
	e->created = ts;
	e->frags = RA_NIL;
	e->tunnel = -1;
	h = (uint32_t)(key_hash(r, k) & r->mask);
	e->hnext = r->bucket[h];
	r->bucket[h] = i;
	e->older = r->newest;
	e->newer = RA_NIL;
	if (r->newest != RA_NIL)
		r->ent[r->newest].newer = i;
	else
		r->oldest = i;
	r->newest = i;
	r->nent++;
	return i;
}

/* ------------------------------------------------------------------ */
/* Reassembly                                                          */
/* ------------------------------------------------------------------ */

/* RFC 1071 checksum of an IPv4 header. */
static uint16_t ip_csum(const uint8_t *p, uint32_t n)
{
	uint32_t s = 0, i;
	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Builds the whole datagram of entry i into r->buf; false when the
 * headers and data do not fit the limits (too_big). */
static bool build(ingest_reasm *r, uint32_t i, struct ingest_frame *out)
{
	struct ra_ent *e = &r->ent[i];
	uint32_t order[RA_MAX_FRAGS], n = 0, fi, k, hdr, contig = 0;
	const struct ra_frag *first;
	bool cut = false;

	for (fi = e->frags; fi != RA_NIL; fi = r->frag[fi].next) {
		/* insertion sort by offset: at most RA_MAX_FRAGS */
		k = n++;
		while (k > 0 && r->frag[order[k - 1]].off > r->frag[fi].off) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = fi;
	}
	first = &r->frag[order[0]];
	hdr = first->data_at;
	if ((uint64_t)hdr + e->end > RA_BUF_CAP)
		return false;
	blocks_read(r, first->block, 0, r->buf, hdr);
	for (k = 0; k < n; k++) {
		const struct ra_frag *f = &r->frag[order[k]];
		if (f->cap_len)
			blocks_read(r, f->block, f->data_at, r->buf + hdr + f->off, f->cap_len);
		if (!cut) {
			contig = f->off + f->cap_len;
			cut = f->cap_len < f->wire_len;
		}
	}
	if (e->k.ver == 4) {
		uint8_t *ip = r->buf + first->ip_at;
		uint32_t hlen = (uint32_t)(ip[0] & 0x0f) * 4;
		if (hlen + e->end > 65535)
			return false;
		tv_put_be16(ip + 2, (uint16_t)(hlen + e->end));
		tv_put_be16(ip + 6, (uint16_t)(tv_get_be16(ip + 6) & 0x4000)); /* keep DF */
		tv_put_be16(ip + 10, 0);
		tv_put_be16(ip + 10, ip_csum(ip, hlen));
	} else {
		uint8_t *ip = r->buf + first->ip_at;
		uint32_t plen = hdr - first->ip_at - 40 + e->end;
		if (plen > 65535)
			return false;
		tv_put_be16(ip + 4, (uint16_t)plen);
		tv_put_be16(r->buf + first->fh_at + 2, 0);
	}
	out->p = r->buf;
	out->len = hdr + contig;
	out->cut = (uint64_t)(e->end - contig);
	out->synth = first->synth;
	return true;
}

/* Is [off, off+len) already held?  1: the same fragment again, -1: a
 * different overlap, 0: no overlap. */
static int overlap(const ingest_reasm *r, const struct ra_ent *e, const struct reasm_in *in)
{
	uint32_t fi, end = in->off + in->wire_len;
	for (fi = e->frags; fi != RA_NIL; fi = r->frag[fi].next) {
		const struct ra_frag *f = &r->frag[fi];
		uint32_t fend = f->off + f->wire_len;
		uint32_t n;
		if (in->off >= fend || f->off >= end)
			continue;
		if (f->off != in->off || f->wire_len != in->wire_len)
			return -1;
		/* same place: the same bytes, as far as both captures kept them */
		n = f->cap_len < in->cap_len ? f->cap_len : in->cap_len;
		{
			uint8_t tmp[256];
			uint32_t done = 0;
			while (done < n) {
				uint32_t k = n - done < sizeof tmp ? n - done : (uint32_t)sizeof tmp;
				blocks_read(r, f->block, f->data_at + done, tmp, k);
				if (memcmp(tmp, in->f.p + in->data_at + done, k) != 0)
					return -1;
				done += k;
			}
		}
		return 1;
	}
	return 0;
}

/* Fails entry i for reason ctr_id; the current fragment shares its fate. */
static enum reasm_res fail_current(ingest_reasm *r, uint32_t i, int ctr_id, tv_counters *ctr)
{
	ent_kill(r, i, ctr_id, ctr);
	if (!r->ent[i].dead_error)
		return REASM_PASS;
	ctr->v[ctr_id]++;
	return REASM_REJECT;
}

enum reasm_res reasm_add(ingest_reasm *r, const struct reasm_in *in, tv_counters *ctr,
                         struct ingest_frame *out)
{
	struct ra_key k;
	struct ra_ent *e;
	struct ra_frag *f;
	uint32_t i, fi, need, end;
	int ov;

	key_make(&k, in);
	i = ent_find(r, &k);
	if (i == RA_NIL) {
		if (in->off == 0 && in->tunnel == 1)
			reasm_note_tunnel_pair(r, &in->src, &in->dst);
		if (in->off == 0 ? in->tunnel != 1 : !in->holdable) {
			/* remember a non-tunnel datagram so its later fragments pass */
			if (in->off == 0 && in->more && in->holdable) {
				i = ent_create(r, &k, in->ts_ns, ctr);
				if (i != RA_NIL)
					r->ent[i].state = RA_PASS;
			}
			return REASM_PASS;
		}
		i = ent_create(r, &k, in->ts_ns, ctr);
		if (i == RA_NIL)
			return REASM_PASS; /* max_datagrams 0 is refused at creation */
		r->ent[i].state = RA_OPEN;
	}
	e = &r->ent[i];
	if (e->state == RA_PASS)
		return REASM_PASS;
	if (e->state == RA_DEAD) {
		if (!e->dead_error)
			return REASM_PASS;
		ctr->v[e->dead_ctr]++;
		return REASM_REJECT;
	}
	if (in->off == 0 && e->tunnel != 1) {
		/* the first fragment: it says what the held ones are (a second
		 * first fragment is checked as a duplicate or an overlap below) */
		if (in->tunnel != 1) {
			/* what was held belongs to a datagram that is not tunnel traffic */
			e->tunnel = 0;
			ent_give_up(r, i, TV_CTR_REASM_NOT_TUNNEL, ctr);
			e->state = RA_PASS;
			return REASM_PASS;
		}
		e->tunnel = 1;
		reasm_note_tunnel_pair(r, &in->src, &in->dst);
	}

	end = in->off + in->wire_len;
	if (e->nfrags >= RA_MAX_FRAGS)
		return fail_current(r, i, TV_CTR_REASM_TOO_MANY, ctr);
	if (in->f.len > RA_MAX_FRAME ||
	    (uint64_t)end + (in->data_at - in->ip_at) > (in->ver == 4 ? 65535u : 65535u + 40u))
		return fail_current(r, i, TV_CTR_REASM_TOO_BIG, ctr);
	if ((in->more && (in->wire_len % 8 != 0 || in->wire_len == 0)) ||
	    (e->have_last && end > e->end) || (!in->more && e->have_last && end != e->end))
		return fail_current(r, i, TV_CTR_REASM_MALFORMED, ctr);
	if (!in->more) {
		for (fi = e->frags; fi != RA_NIL; fi = r->frag[fi].next)
			if (r->frag[fi].off + r->frag[fi].wire_len > end)
				return fail_current(r, i, TV_CTR_REASM_MALFORMED, ctr);
	}
	ov = overlap(r, e, in);
	if (ov < 0)
		return fail_current(r, i, TV_CTR_REASM_OVERLAP, ctr);
	if (ov > 0) {
		if (e->tunnel != 1 && !pair_known(r, &e->k.src, &e->k.dst))
			return REASM_PASS;
		ctr->v[TV_CTR_REASM_DUPLICATE]++;
		return REASM_REJECT;
	}

	need = blocks_for(in->f.len);
	while (r->held + need > r->max_held && evict_for_bytes(r, i, ctr))
		;
	e = &r->ent[i];
	if (r->held + need > r->max_held || r->nfree < need || r->free_frag == RA_NIL)
		return fail_current(r, i, TV_CTR_REASM_TABLE_FULL, ctr);

	fi = r->free_frag;
	f = &r->frag[fi];
	r->free_frag = f->next;
	memset(f, 0, sizeof *f);
	f->block = blocks_store(r, in->f.p, in->f.len);
	f->len = in->f.len;
	f->cut = in->f.cut > UINT32_MAX ? UINT32_MAX : (uint32_t)in->f.cut;
	f->off = in->off;
	f->wire_len = in->wire_len;
	f->cap_len = in->cap_len;
	f->ip_at = in->ip_at;
	f->fh_at = in->fh_at;
	f->data_at = in->data_at;
	f->ts_ns = in->ts_ns;
	f->synth = in->f.synth;
	f->next = e->frags;
	e->frags = fi;
	e->nfrags++;
	e->blocks += need;
	e->sum += in->wire_len;
	r->held += need;
	ctr->v[TV_CTR_REASM_FRAGMENTS]++;
	if (!in->more) {
		e->have_last = 1;
		e->end = end;
	}

	if (e->tunnel != 1 || !e->have_last || e->sum != e->end)
		return REASM_HELD;
	if (!build(r, i, out)) {
		ent_kill(r, i, TV_CTR_REASM_TOO_BIG, ctr);
		return REASM_HELD; /* the fragments wait in the pending queue */
	}
	ctr->v[TV_CTR_REASM_DATAGRAMS]++;
	for (fi = e->frags; fi != RA_NIL;) {
		uint32_t next = r->frag[fi].next;
		frag_release(r, fi);
		fi = next;
	}
	r->held -= e->blocks;
	e->frags = RA_NIL;
	/* the entry goes at once: slots are for datagrams still waiting */
	ent_remove(r, i);
	return REASM_DONE;
}

void reasm_expire(ingest_reasm *r, uint64_t now_ns, tv_counters *ctr)
{
	if (!r)
		return;
	while (r->oldest != RA_NIL) {
		uint32_t i = r->oldest;
		struct ra_ent *e = &r->ent[i];
		if (now_ns < e->created || now_ns - e->created <= r->timeout_ns)
			break;
		if (e->state == RA_OPEN)
			ent_give_up(r, i, TV_CTR_REASM_TIMEOUT, ctr);
		ent_remove(r, i);
	}
}

void reasm_flush(ingest_reasm *r, tv_counters *ctr)
{
	if (!r)
		return;
	while (r->oldest != RA_NIL) {
		uint32_t i = r->oldest;
		if (r->ent[i].state == RA_OPEN)
			ent_give_up(r, i, TV_CTR_REASM_INCOMPLETE, ctr);
		ent_remove(r, i);
	}
}

bool reasm_pop(ingest_reasm *r, struct ingest_frame *out, uint64_t *ts_ns, bool *as_error)
{
	uint32_t fi;
	struct ra_frag *f;
	if (!r || r->pend_head == RA_NIL)
		return false;
	fi = r->pend_head;
	f = &r->frag[fi];
	r->pend_head = f->next;
	if (r->pend_head == RA_NIL)
		r->pend_tail = RA_NIL;
	blocks_read(r, f->block, 0, r->buf, f->len);
	out->p = r->buf;
	out->len = f->len;
	out->cut = f->cut;
	out->synth = f->synth;
	*ts_ns = f->ts_ns;
	*as_error = f->as_error;
	frag_release(r, fi);
	return true;
}
