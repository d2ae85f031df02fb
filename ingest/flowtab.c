/*
 * flowtab.c — VPC-Flow-Log-like records from decapsulated packets.
 *
 * A record is one unidirectional flow of one interface within one
 * aggregation window (the maximum aggregation interval of VPC Flow Logs,
 * 60 or 600 s: https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs.html):
 * key (VNI, mirror source, 5-tuple), packets, bytes (IP total length, also
 * for truncated mirror copies), start/end (unix seconds of the first/last
 * packet in the window), tcp-flags, IP version (field meanings: "Flow log
 * records", https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html).
 *
 * Memory.  Everything is allocated in ingest_flowtab_new() and never again:
 *   - a slab of max_flows entries (struct ft_ent, 104 bytes each);
 *   - a hash index: a power of two >= 2 * max_flows bucket heads (uint32),
 *     chained through slab indices, so the load factor stays <= 0.5;
 *   - one emit buffer of INGEST_FLOWTAB_BATCH records.
 * An entry is one (flow, window): the window is part of the key, so a
 * mildly out-of-order packet finds the entry of its own window.
 *
 * Windows.  w = floor(ts_s / interval) * interval.  `closed_upto` is a
 * window boundary: every window with w + interval <= closed_upto is
 * closed.  It moves forward only, in two ways:
 *   - a packet whose window w is newer than any seen moves it to
 *     w - interval (the window two before w closes; the one just before w
 *     stays open for stragglers);
 *   - ingest_flowtab_advance(now) moves it to the last boundary at or
 *     before now - INGEST_FLOWTAB_GRACE.
 * So at most two windows are open, w_max - interval and w_max; they live in
 * a ring of two lists indexed by (w / interval) & 1.  Each time closed_upto
 * moves, the closed lists are emitted (and the entries freed) in one pass
 * over the list, never over the slab.
 *
 * Late packets.  A packet whose window is already closed goes into an entry
 * on the `late` list (looked up like any other, so late packets of one flow
 * and window share an entry).  The late list is emitted whenever closed_upto
 * moves next, before the closing windows (its windows are older), and at
 * flush.  The flow then has two records for that window; they sum to its
 * totals.
 *
 * Early flush.  When an insert finds the slab full, every live entry is
 * emitted and the table cleared (flow.early_flushes counts these), then
 * the insert proceeds.  Sums stay exact; a flow may get several records
 * for one window.  Which windows are open does not change.
 *
 * Mirror transport.  Packets with decap_error (a tunnel seen but not
 * removed, e.g. an outer fragment that could not be reassembled) are the
 * outer frames as captured: counted in flow.skipped_decap_error, never a
 * record.
 *
 * Fragments.  The decapsulator gives later IP fragments the ports of their
 * first fragment when it saw it (has_ports = 1).  When it did not, the key
 * keeps has_ports == 0 and we count them in the flow with ports 0 for that
 * address pair and protocol, like ICMP: the bytes are not lost, and the
 * audit can tell such a flow by its ports.
 *
 * Order.  Records are emitted per window, oldest first (late list first),
 * and within a list in insertion order (when the flow was first seen in
 * that window).  Nothing depends on the hash seed or slab positions, so
 * the output is the same for every seed.
 */
#include "ingest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FT_NIL UINT32_MAX
#define FT_NS 1000000000ull

/*
 * Hash key: 64 bytes, no implicit padding, zeroed before it is filled, so it
 * is hashed and compared as bytes.  t.pad[0] holds the IP version so that
 * an IPv6 packet between IPv4-mapped addresses never merges with IPv4.
 */
struct ft_key {
	tv_5tuple t;
	tv_addr outer_src;
	uint32_t vni;
	uint32_t window;
};
_Static_assert(sizeof(struct ft_key) == 64, "ft_key must have no padding");

/*
 * One flow in one window.  Key and counters sit together on purpose: a hit
 * reads the key and updates the counters, so they share cache lines.
 */
struct ft_ent {
	struct ft_key k;
	uint64_t packets;
	uint64_t bytes;
	uint32_t start;
	uint32_t end;
	uint32_t hnext;    /* next entry in the hash chain */
	uint32_t lnext;    /* next entry in its window list, or in the free list */
	uint32_t hash;     /* low 32 bits of the key hash: bucket and quick compare */
	uint8_t tcp_flags; /* AWS rule, see ft_tcp_flags() */
	uint8_t pad[3];
};

struct ft_list {
	uint32_t head;
	uint32_t tail;
	uint32_t n;
	uint32_t win; /* window of its entries; meaningful when n > 0 */
};

struct ingest_flowtab {
	uint32_t interval;
	uint32_t max_flows;
	uint64_t seed;
	ingest_flow_emit emit;
	void *ctx;
	tv_counters *ctr;
	tv_counters own_ctr; /* used when the caller passes no counters */

	struct ft_ent *slab;
	uint32_t used;      /* slab entries ever handed out since the last reset */
	uint32_t free_head; /* freed entries, linked through lnext */
	uint32_t live;

	uint32_t *bucket;
	uint32_t mask;      /* bucket count - 1 */

	tv_flowrec *out;
	size_t nout;

	struct ft_list ring[2]; /* the open windows, by (w / interval) & 1 */
	struct ft_list late;    /* entries for windows already closed */
	uint64_t closed_upto;
	uint32_t w_max;
	bool seen;

	size_t mem;
};

void ingest_flowtab_cfg_default(ingest_flowtab_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->interval = 600;
	cfg->max_flows = 262144;
	cfg->hash_seed = 0;
}

/*
 * Seeded 64-bit hash over the key's eight words: xor, multiply, xorshift per
 * word, then the MurmurHash3 finaliser.  Each round is a bijection of the
 * state, and the state starts from a random seed, so collisions cannot be
 * chosen without knowing it.  Not a cryptographic MAC.
 */
/*
 * tcp-flags as AWS writes them ("Flow log records", tcp-flags): FIN, SYN, RST, PSH, URG
 * OR-ed; ACK (16) only from packets that also carry SYN, so that SYN-ACK
 * reads 18 and a flow of pure ACKs reads 0.
 */
static uint8_t ft_tcp_flags(uint8_t raw)
{
	uint8_t f = raw & (TV_TCP_FIN | TV_TCP_SYN | TV_TCP_RST | TV_TCP_PSH | TV_TCP_URG);
	if ((raw & TV_TCP_SYN) && (raw & TV_TCP_ACK))
		f |= TV_TCP_ACK;
	return f;
}

int ingest_flowtab_new(const ingest_flowtab_cfg *cfg, ingest_flow_emit emit, void *ctx,
                       tv_counters *ctr, ingest_flowtab **out)
{
	ingest_flowtab_cfg def;
	ingest_flowtab *ft = NULL;
	size_t nb;
	int rc = TV_E_NOMEM;

	*out = NULL;
	if (!cfg) {
		ingest_flowtab_cfg_default(&def);
		cfg = &def;
	}
	if (cfg->interval < 1 || cfg->interval > 86400 ||
	    cfg->max_flows < 1 || cfg->max_flows > INGEST_FLOWTAB_MAX_FLOWS)
		return TV_E_RANGE;

	nb = 2;
	while (nb < 2 * (size_t)cfg->max_flows)
		nb <<= 1;

	ft = calloc(1, sizeof(*ft));
	if (!ft)
		goto fail;
	ft->interval = cfg->interval;
	ft->max_flows = cfg->max_flows;
	ft->seed = cfg->hash_seed ? cfg->hash_seed : tv_hash_seed();
	ft->emit = emit;
	ft->ctx = ctx;
	ft->ctr = ctr ? ctr : &ft->own_ctr;
	/* Not zeroed: entries are written in full when handed out, and pages
	 * of a large cap are only touched as flows arrive. */
	ft->slab = malloc((size_t)cfg->max_flows * sizeof(*ft->slab));
	ft->bucket = malloc(nb * sizeof(*ft->bucket));
	ft->out = malloc((size_t)INGEST_FLOWTAB_BATCH * sizeof(*ft->out));
	if (!ft->slab || !ft->bucket || !ft->out)
		goto fail;
	ft->mask = (uint32_t)(nb - 1);
	memset(ft->bucket, 0xff, nb * sizeof(*ft->bucket));
	ft->free_head = FT_NIL;
	ft->late.head = ft->late.tail = FT_NIL;
	ft->ring[0] = ft->ring[1] = ft->late;
	ft->mem = sizeof(*ft) + (size_t)cfg->max_flows * sizeof(*ft->slab) +
	          nb * sizeof(*ft->bucket) + (size_t)INGEST_FLOWTAB_BATCH * sizeof(*ft->out);
	*out = ft;
	return 0;
fail:
	ingest_flowtab_free(ft);
	return rc;
}

void ingest_flowtab_free(ingest_flowtab *ft)
{
	if (!ft)
		return;
	free(ft->slab);
	free(ft->bucket);
	free(ft->out);
	free(ft);
}

size_t ingest_flowtab_active(const ingest_flowtab *ft)
{
	return ft->live;
}

size_t ingest_flowtab_memory(const ingest_flowtab *ft)
{
	return ft->mem;
}

/* ---- emitting -------------------------------------------------------- */

static void ft_hand_over(ingest_flowtab *ft)
{
	if (ft->nout == 0)
		return;
	ft->ctr->v[TV_CTR_FLOW_RECORDS] += ft->nout;
	if (ft->emit)
		ft->emit(ft->ctx, ft->out, ft->nout);
	ft->nout = 0;
}

static void ft_emit_ent(ingest_flowtab *ft, const struct ft_ent *e)
{
	tv_flowrec *r = &ft->out[ft->nout];

	memset(r, 0, sizeof(*r));
	r->key = e->k.t;
	memset(r->key.pad, 0, sizeof(r->key.pad));
	r->outer_src = e->k.outer_src;
	r->vni = e->k.vni;
	r->window = e->k.window;
	r->start = e->start;
	r->end = e->end;
	r->packets = e->packets;
	r->bytes = e->bytes;
	r->tcp_flags = e->tcp_flags;
	r->ipver = e->k.t.pad[0];
	if (++ft->nout == INGEST_FLOWTAB_BATCH)
		ft_hand_over(ft);
}

static void ft_unlink_hash(ingest_flowtab *ft, uint32_t idx)
{
	uint32_t *pp = &ft->bucket[ft->slab[idx].hash & ft->mask];

	while (*pp != idx)
		pp = &ft->slab[*pp].hnext;
	*pp = ft->slab[idx].hnext;
}

/*
 * Emits a list.  With `release`, each entry is also taken out of the hash
 * and freed; without, the caller resets the whole table afterwards.
 */
static void ft_emit_list(ingest_flowtab *ft, struct ft_list *l, bool release)
{
	uint32_t i, next;

	for (i = l->head; i != FT_NIL; i = next) {
		struct ft_ent *e = &ft->slab[i];
		next = e->lnext;
		ft_emit_ent(ft, e);
		if (release) {
			ft_unlink_hash(ft, i);
			e->lnext = ft->free_head;
			ft->free_head = i;
			ft->live--;
		}
	}
	l->head = l->tail = FT_NIL;
	l->n = 0;
}

/* Forgets every entry: O(buckets) memset, cheaper than unlinking them one
 * by one when all go. */
static void ft_reset(ingest_flowtab *ft)
{
	memset(ft->bucket, 0xff, ((size_t)ft->mask + 1) * sizeof(*ft->bucket));
	ft->used = 0;
	ft->free_head = FT_NIL;
	ft->live = 0;
}

/* The open lists in window order, oldest first; returns how many. */
static int ft_ring_order(ingest_flowtab *ft, struct ft_list *ord[2])
{
	int n = 0;
	struct ft_list *a = &ft->ring[0], *b = &ft->ring[1];

	if (a->n && b->n && b->win < a->win) {
		struct ft_list *t = a;
		a = b;
		b = t;
	}
	if (a->n)
		ord[n++] = a;
	if (b->n)
		ord[n++] = b;
	return n;
}

/* Emits every live entry and clears the table. */
static void ft_emit_all(ingest_flowtab *ft)
{
	struct ft_list *ord[2];
	int i, n = ft_ring_order(ft, ord);

	ft_emit_list(ft, &ft->late, false);
	for (i = 0; i < n; i++)
		ft_emit_list(ft, ord[i], false);
	ft_reset(ft);
	ft_hand_over(ft);
}

/* Moves closed_upto forward to cu and emits what that closes. */
static void ft_close_upto(ingest_flowtab *ft, uint64_t cu)
{
	struct ft_list *ord[2];
	uint64_t closing;
	bool release;
	int i, n;

	if (cu <= ft->closed_upto)
		return;
	ft->closed_upto = cu;

	n = ft_ring_order(ft, ord);
	while (n > 0 && (uint64_t)ord[n - 1]->win + ft->interval > cu)
		n--; /* the newer ones stay open */
	closing = ft->late.n;
	for (i = 0; i < n; i++)
		closing += ord[i]->n;
	if (closing == 0)
		return;
	release = closing != ft->live;
	ft_emit_list(ft, &ft->late, release);
	for (i = 0; i < n; i++)
		ft_emit_list(ft, ord[i], release);
	if (!release)
		ft_reset(ft);
	ft_hand_over(ft);
}

/* ---- counting -------------------------------------------------------- */

static uint32_t ft_alloc(ingest_flowtab *ft)
{
	uint32_t i = ft->free_head;

	if (i != FT_NIL) {
		ft->free_head = ft->slab[i].lnext;
		return i;
	}
	if (ft->used < ft->max_flows)
		return ft->used++;
	return FT_NIL;
}

static void ft_list_append(ingest_flowtab *ft, struct ft_list *l, uint32_t idx)
{
	ft->slab[idx].lnext = FT_NIL;
	if (l->tail == FT_NIL)
		l->head = idx;
	else
		ft->slab[l->tail].lnext = idx;
	l->tail = idx;
	l->n++;
}

void ingest_flowtab_add(ingest_flowtab *ft, const tv_pkt *pkt)
{
	const tv_l3info *in = &pkt->info;
	struct ft_key k;
	struct ft_ent *e;
	uint64_t ts_s, h;
	uint32_t sec, w, idx, h32;

	/* A frame stored as captured because its tunnel could not be removed
	 * is the mirror's own transport, not traffic of the mirrored
	 * interface: it never becomes a flow record. */
	if (pkt->decap_error) {
		ft->ctr->v[TV_CTR_FLOW_DECAP_ERROR]++;
		return;
	}
	if (in->l3 != 4 && in->l3 != 6) {
		ft->ctr->v[TV_CTR_FLOW_NO_IP]++;
		return;
	}

	/* tv_flowrec holds 32-bit seconds (good until 2106); later times are
	 * pinned to the last second rather than wrapped. */
	ts_s = pkt->ts_ns / FT_NS;
	sec = ts_s > UINT32_MAX ? UINT32_MAX : (uint32_t)ts_s;
	w = sec - sec % ft->interval;

	if (!ft->seen || w > ft->w_max) {
		ft->seen = true;
		ft->w_max = w;
		if (w >= ft->interval)
			ft_close_upto(ft, (uint64_t)w - ft->interval);
	}

	memset(&k, 0, sizeof(k));
	k.t.src = in->key.src;
	k.t.dst = in->key.dst;
	k.t.proto = in->key.proto;
	if (in->has_ports) {
		k.t.sport = in->key.sport;
		k.t.dport = in->key.dport;
	}
	k.t.pad[0] = in->l3;
	k.outer_src = pkt->tun.outer_src;
	k.vni = pkt->tun.vni;
	k.window = w;

	h = tv_hash64(&k, sizeof k, ft->seed);
	h32 = (uint32_t)h;
	for (idx = ft->bucket[h32 & ft->mask]; idx != FT_NIL; idx = e->hnext) {
		e = &ft->slab[idx];
		if (e->hash == h32 && memcmp(&e->k, &k, sizeof(k)) == 0)
			goto found;
	}

	idx = ft_alloc(ft);
	if (idx == FT_NIL) {
		ft->ctr->v[TV_CTR_FLOW_EARLY_FLUSH]++;
		ft_emit_all(ft);
		idx = ft_alloc(ft);
	}
	e = &ft->slab[idx];
	e->k = k;
	e->packets = 0;
	e->bytes = 0;
	e->start = sec;
	e->end = sec;
	e->hash = h32;
	e->tcp_flags = 0;
	memset(e->pad, 0, sizeof(e->pad));
	e->hnext = ft->bucket[h32 & ft->mask];
	ft->bucket[h32 & ft->mask] = idx;
	ft->live++;
	if ((uint64_t)w + ft->interval <= ft->closed_upto) {
		ft_list_append(ft, &ft->late, idx);
	} else {
		/* Open windows are w_max and w_max - interval, so the two ring
		 * slots never hold different open windows at once. */
		struct ft_list *l = &ft->ring[(w / ft->interval) & 1];
		if (l->n == 0)
			l->win = w;
		ft_list_append(ft, l, idx);
	}

found:
	e->packets++;
	e->bytes += in->ip_len;
	if (sec < e->start)
		e->start = sec;
	if (sec > e->end)
		e->end = sec;
	if (in->key.proto == 6)
		e->tcp_flags |= ft_tcp_flags(in->tcp_flags);
}

void ingest_flowtab_advance(ingest_flowtab *ft, uint64_t now_ns)
{
	uint64_t now_s = now_ns / FT_NS;

	if (now_s < INGEST_FLOWTAB_GRACE)
		return;
	now_s -= INGEST_FLOWTAB_GRACE;
	ft_close_upto(ft, now_s - now_s % ft->interval);
}

void ingest_flowtab_flush(ingest_flowtab *ft)
{
	if (ft->live)
		ft_emit_all(ft);
}
