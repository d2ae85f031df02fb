/*
 * decap.c — the decapsulator: link types turned into Ethernet, outer
 * fragments through the reassembler, the tunnel loop (VXLAN, GENEVE with
 * the AWS GWLB options, GENEVE carrying VXLAN), and the inner L2/L3/L4
 * summary.
 *
 * Every layer is one small function over a tv_cur cursor (layer.c,
 * tunnel.c; the outer walk in outer.c): it checks the minimum header, the
 * declared length against what remains, the flags, and hands the rest on.
 * It returns a verdict; this file turns the verdict into a counter, so
 * that no reject goes uncounted.  Counters are collected per packet in a
 * "hit" array and added once at the end, so each counter moves at most
 * once per packet.
 *
 * The rule for what is stored (README.md, "Decapsulation"):
 *  - a frame with no tunnel is stored as it is (tunnel NONE, vni NONE);
 *  - a frame whose UDP port names a tunnel but whose outer IP/UDP is
 *    malformed, or whose tunnel header is bad, or that needs more tunnel
 *    layers than max_depth before any could be removed, is stored as the
 *    outer frame as captured with decap_error = 1 (counted decap.failed);
 *  - a frame with more nested tunnels than max_depth after some were
 *    removed is stored as the deepest frame reached (decap.too_deep);
 *  - otherwise the innermost frame is stored, even if it is truncated or
 *    malformed (counted inner.*);
 *  - an outer IP fragment that may be tunnel traffic goes to the
 *    reassembler (reasm.c) first: the datagram it completes is
 *    decapsulated as one frame; a fragment it cannot reassemble is stored
 *    as captured with decap_error (the counters say why).
 * Link types other than Ethernet become Ethernet by synthesising a 14-byte
 * header (both MACs zero, the ethertype of the payload).
 */
#include "ingest_int.h"

#include <stdlib.h>
#include <string.h>

#define SCRATCH_CAP (65535u + 64u)
#define ETH_HLEN 14u



struct ingest_decap {
	ingest_decap_cfg cfg;
	tv_counters *ctr;
	tv_counters own_ctr; /* used when the caller passes no counters */
	ingest_reasm *ra;    /* NULL when reassembly is off */
	ingest_fragports *fp; /* ports for later inner fragments */
	/* Two buffers, so that the outer frame synthesised from a non-Ethernet
	 * link type survives a GENEVE L3 payload synthesised after it (needed
	 * when a deeper layer fails and the outer frame is stored). */
	uint8_t linkbuf[SCRATCH_CAP];
	uint8_t tunbuf[SCRATCH_CAP];
};

/* Per-packet context: which counters this packet hits (one byte each,
 * rounded up to whole 8-byte words for flush_counters). */
struct dctx {
	ingest_decap *d;
	uint8_t hit[(TV_CTR__COUNT + 7) & ~7];
};

static void note(struct dctx *x, int ctr)
{
	x->hit[ctr] = 1;
}


/* ------------------------------------------------------------------ */
/* Inner summary                                                       */
/* ------------------------------------------------------------------ */

enum {
	IS_NO_IP = 1u << 0,
	IS_TRUNC = 1u << 1,
	IS_BAD = 1u << 2,
	IS_FRAG = 1u << 3,
	IS_VLAN_DEEP = 1u << 4,
};

/*
 * TCP (RFC 9293), UDP (RFC 768), SCTP (RFC 9260): the ports are the first
 * 4 bytes of each; TCP flags are byte 13.  ICMP (RFC 792) and ICMPv6
 * (RFC 4443): type and code are the first 2 bytes.
 */
static unsigned parse_l4(const struct l3hdr *h, tv_l3info *info)
{
	tv_cur c = h->l4;
	unsigned fail = h->l4_short ? IS_TRUNC : IS_BAD;
	uint8_t type, code, flags;

	switch (h->proto) {
	case IPPROTO_V_TCP:
	case IPPROTO_V_UDP:
	case IPPROTO_V_SCTP:
		if (!tv_cur_be16(&c, &info->key.sport) || !tv_cur_be16(&c, &info->key.dport)) {
			info->key.sport = 0;
			return fail;
		}
		info->has_ports = 1;
		if (h->proto == IPPROTO_V_TCP) {
			if (!tv_cur_skip(&c, 9) || !tv_cur_u8(&c, &flags))
				return fail;
			info->tcp_flags = flags & 0x3f;
		}
		return 0;
	case IPPROTO_V_ICMP:
	case IPPROTO_V_ICMPV6:
		if (!tv_cur_u8(&c, &type) || !tv_cur_u8(&c, &code))
			return fail;
		info->icmp_type_code = (uint16_t)(type << 8 | code);
		return 0;
	default:
		return 0;
	}
}

/*
 * Fills info from an Ethernet frame; returns IS_* bits for what went
 * wrong (0 = a clean IP packet or a clean non-IP frame reported by
 * IS_NO_IP).  frag_id receives the IP identification of fragments.
 * IP-in-IP (protocol 4, 41) is not entered: the outermost inner IP header
 * is the flow.
 */
static unsigned inner_parse(const uint8_t *f, size_t len, int max_vlan, tv_l3info *info,
                            uint32_t *frag_id)
{
	tv_cur c = tv_cur_make(f, len);
	struct l2hdr l2;
	struct l3hdr h;
	enum dv v;
	unsigned st = 0;
	uint32_t l3_off;

	memset(info, 0, sizeof *info);
	*frag_id = 0;
	if (layer_eth(&c, &l2) != DV_OK)
		return IS_TRUNC;
	v = layer_vlan(&c, max_vlan, &l2);
	info->vlan = l2.vlan;
	info->ethertype = l2.ethertype;
	if (v == DV_TRUNC)
		return IS_TRUNC;
	if (v == DV_TOO_DEEP)
		return IS_VLAN_DEEP;
	l3_off = (uint32_t)(len - c.left);
	if (l2.ethertype == ETH_P_IPV4)
		v = layer_ipv4(&c, &h);
	else if (l2.ethertype == ETH_P_IPV6)
		v = layer_ipv6(&c, &h);
	else
		return IS_NO_IP;

	if (v == DV_TRUNC && !(h.have_addrs && h.ver == 6))
		return IS_TRUNC;
	if (v != DV_OK && v != DV_TRUNC)
		return IS_BAD;
	/* OK, or IPv6 whose extension chain is cut short: addresses known */
	info->l3 = h.ver;
	info->ip_len = h.total;
	info->l3_off = l3_off;
	info->key.src = h.src;
	info->key.dst = h.dst;
	info->key.proto = h.proto;
	if (v == DV_TRUNC)
		return IS_TRUNC;
	if (h.l4_short)
		st |= IS_TRUNC;
	if (h.later_frag || h.first_frag) {
		st |= IS_FRAG;
		info->frag = h.later_frag ? TV_FRAG_LATER : TV_FRAG_FIRST;
		*frag_id = h.frag_id;
	}
	if (!h.later_frag)
		st |= parse_l4(&h, info);
	return st;
}

int ingest_parse_inner(const uint8_t *frame, uint32_t caplen, tv_l3info *info)
{
	uint32_t id;
	(void)inner_parse(frame, caplen, 4, info, &id);
	info->frag_id = info->frag ? id : 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Link types and synthesised Ethernet headers                          */
/* ------------------------------------------------------------------ */

/*
 * Writes 14 bytes (MACs zero, ethertype) and the payload into buf
 * (SCRATCH_CAP bytes); payload beyond the buffer is cut and returned in
 * *dropped.  memmove: the payload may already lie inside buf.
 */
static uint32_t synth_eth(uint8_t *buf, uint16_t ethertype, const uint8_t *payload, size_t n,
                          uint64_t *dropped)
{
	size_t room = SCRATCH_CAP - ETH_HLEN;
	*dropped = 0;
	if (n > room) {
		*dropped = n - room;
		n = room;
	}
	if (n > 0)
		memmove(buf + ETH_HLEN, payload, n);
	memset(buf, 0, 12);
	tv_put_be16(buf + 12, ethertype);
	return (uint32_t)(ETH_HLEN + n);
}

/*
 * Link-layer headers turned into Ethernet (values from tcpdump.org's
 * link-type list):
 *
 * NULL (0): 4-byte address family in the capturing host's byte order;
 *   2 = IPv4, 24/28/30 = IPv6 (NetBSD/OpenBSD, FreeBSD, Darwin).
 * RAW (101, and 12, the DLT_RAW value libpcap's pcap_datalink() returns
 *   for such files on Linux): bare IPv4 or IPv6, told apart by the version
 *   nibble.
 * IPV4 (228), IPV6 (229): bare IP of that version.
 * LINUX_SLL (113), 16 bytes:
 *   | packet type:2 | ARPHRD:2 | addr len:2 | addr:8 | protocol:2 |
 * LINUX_SLL2 (276), 20 bytes:
 *   | protocol:2 | reserved:2 | ifindex:4 | ARPHRD:2 | pkt type:1 | addr len:1 | addr:8 |
 *   The SLL protocol is an ethertype; values below 0x0600 (802.3, 802.2
 *   LLC, CAN, ...) are not Ethernet payloads and are refused.
 *
 * Returns 0 with *out filled, or the counter of the reason to drop.
 */
static int link_to_eth(ingest_decap *d, int linktype, const uint8_t *data, uint32_t caplen,
                       uint64_t cut, struct ingest_frame *out)
{
	tv_cur c = tv_cur_make(data, caplen);
	uint16_t et = 0;
	uint64_t dropped;

	out->cut = cut;
	out->synth = 0;
	switch (linktype) {
	case INGEST_LINK_ETHERNET:
		out->p = data;
		out->len = caplen;
		return 0;
	case INGEST_LINK_RAW:
	case 12: /* DLT_RAW: what pcap_datalink() reports for LINKTYPE_RAW files */
		et = (caplen > 0 && (data[0] >> 4) == 6) ? ETH_P_IPV6 : ETH_P_IPV4;
		break;
	case INGEST_LINK_IPV4:
		et = ETH_P_IPV4;
		break;
	case INGEST_LINK_IPV6:
		et = ETH_P_IPV6;
		break;
	case INGEST_LINK_NULL: {
		uint32_t le, be;
		if (c.left < 4)
			return TV_CTR_SRC_LINK_TRUNC;
		le = tv_get_le32(c.p);
		be = tv_get_be32(c.p);
		if (le == 2 || be == 2)
			et = ETH_P_IPV4;
		else if (le == 24 || le == 28 || le == 30 || be == 24 || be == 28 || be == 30)
			et = ETH_P_IPV6;
		else
			return TV_CTR_SRC_LINK_PROTO;
		tv_cur_skip(&c, 4);
		break;
	}
	case INGEST_LINK_LINUX_SLL:
		if (!tv_cur_skip(&c, 14) || !tv_cur_be16(&c, &et))
			return TV_CTR_SRC_LINK_TRUNC;
		if (et < 0x0600)
			return TV_CTR_SRC_LINK_PROTO;
		break;
	case INGEST_LINK_LINUX_SLL2:
		if (!tv_cur_be16(&c, &et) || !tv_cur_skip(&c, 18))
			return TV_CTR_SRC_LINK_TRUNC;
		if (et < 0x0600)
			return TV_CTR_SRC_LINK_PROTO;
		break;
	default:
		return TV_CTR_SRC_LINKTYPE;
	}
	out->len = synth_eth(d->linkbuf, et, c.p, c.left, &dropped);
	out->p = d->linkbuf;
	out->cut += dropped;
	out->synth = 1;
	return 0;
}

static const int vxlan_ctr[] = {
	[DV_TRUNC] = TV_CTR_DECAP_VXLAN_TRUNC,
	[DV_BAD_FLAGS] = TV_CTR_DECAP_VXLAN_BAD_FLAGS,
};

static int geneve_ctr(enum dv v)
{
	switch (v) {
	case DV_TRUNC: return TV_CTR_DECAP_GENEVE_TRUNC;
	case DV_BAD_HDR: return TV_CTR_DECAP_GENEVE_BAD_VER;
	case DV_BAD_OPT: return TV_CTR_DECAP_GENEVE_BAD_OPT;
	default: return TV_CTR_DECAP_GENEVE_PROTO;
	}
}

/* A packet hits a handful of the counters: the flags are read eight at a
 * time and only a word with one set is looked into (a byte per counter
 * was 5 % of the reader thread's time). */
static void flush_counters(struct dctx *x)
{
	size_t w, i;
	for (w = 0; w < sizeof x->hit; w += 8) {
		uint64_t v;
		memcpy(&v, x->hit + w, 8);
		if (v == 0)
			continue;
		for (i = w; i < w + 8; i++)
			if (x->hit[i])
				x->d->ctr->v[i]++;
	}
}

/* How decap_frame treats a frame. */
enum dmode {
	DM_NORMAL = 0, /* outer fragments go to the reassembler */
	DM_WHOLE,      /* a reassembled datagram or a released fragment: no reassembly */
	DM_ERROR,      /* a fragment that cannot be reassembled: store as captured */
};

/*
 * Outer fragments go to the reassembler first.  Returns INGEST_HELD or
 * INGEST_DROP when the frame ends here; otherwise -1, with *link the
 * frame to decapsulate (the whole datagram once it is complete) and *mode
 * how to treat it.
 */
static int reasm_step(ingest_decap *d, struct dctx *x, struct ingest_frame *link, uint64_t ts_ns,
                      enum dmode *mode)
{
	struct reasm_in in;
	struct ingest_frame whole;

	if (*mode != DM_NORMAL || !d->ra || !outer_fragment(&d->cfg, link, &in))
		return -1;
	in.ts_ns = ts_ns;
	switch (reasm_add(d->ra, &in, d->ctr, &whole)) {
	case REASM_HELD:
		return INGEST_HELD;
	case REASM_REJECT:
		*mode = DM_ERROR;
		break;
	case REASM_DONE:
		/* the datagram is counted once, as itself */
		memset(x->hit, 0, sizeof x->hit);
		*link = whole;
		*mode = DM_WHOLE;
		break;
	case REASM_PASS:
		if (d->cfg.tunnel_only) {
			d->ctr->v[TV_CTR_REASM_NOT_TUNNEL]++;
			return INGEST_DROP;
		}
		break;
	}
	return -1;
}

/*
 * Removes the VXLAN or GENEVE header of o's payload: *next is the frame it
 * carries (an Ethernet header is synthesised for a GENEVE L3 payload),
 * *vni its VNI, GWLB options go to pkt.  Returns the tunnel kind
 * (TV_TUN_VXLAN, TV_TUN_GENEVE), or TV_TUN_NONE with the reason noted.
 */
static uint8_t tunnel_remove(ingest_decap *d, struct dctx *x, struct outer *o,
                             struct ingest_frame *next, uint32_t *vni, uint64_t *dropped,
                             tv_pkt *pkt)
{
	struct geneve_v g;
	enum dv v;

	next->synth = 0;
	*dropped = 0;
	if (o->kind == CAND_VXLAN) {
		v = layer_vxlan(&o->payload, d->cfg.strict_vxlan, vni);
		if (v != DV_OK) {
			note(x, vxlan_ctr[v]);
			return TV_TUN_NONE;
		}
		next->p = o->payload.p;
		next->len = (uint32_t)o->payload.left;
		return TV_TUN_VXLAN;
	}
	v = layer_geneve(&o->payload, &g);
	if (v != DV_OK) {
		note(x, geneve_ctr(v));
		return TV_TUN_NONE;
	}
	*vni = g.vni;
	if (g.proto == ETH_P_TEB) {
		next->p = o->payload.p;
		next->len = (uint32_t)o->payload.left;
	} else {
		next->len = synth_eth(d->tunbuf, g.proto, o->payload.p, o->payload.left, dropped);
		next->p = d->tunbuf;
		next->synth = 1;
	}
	if (g.has_gwlb) {
		pkt->tun.has_gwlb = 1;
		pkt->tun.gwlb_endpoint = g.gwlb_endpoint;
		pkt->tun.gwlb_attachment = g.gwlb_attachment;
		pkt->tun.gwlb_cookie = g.gwlb_cookie;
	}
	return TV_TUN_GENEVE;
}

/*
 * The frame to store is cur: its L3/L4 summary (with the reasons it is
 * not a clean IP packet counted), the ports of a later fragment, and its
 * true length.
 */
static void inner_summary(ingest_decap *d, struct dctx *x, const struct ingest_frame *cur,
                          tv_pkt *pkt)
{
	unsigned st;
	uint32_t frag_id;
	uint64_t olen;

	pkt->frame = cur->p;
	pkt->caplen = cur->len;
	pkt->synth_l2 = cur->synth;

	st = inner_parse(cur->p, cur->len, d->cfg.max_vlan, &pkt->info, &frag_id);
	pkt->info.frag_id = pkt->info.frag ? frag_id : 0;
	if (st & IS_NO_IP)
		note(x, TV_CTR_DECAP_INNER_NO_IP);
	if (st & IS_TRUNC)
		note(x, TV_CTR_DECAP_INNER_TRUNC);
	if (st & IS_BAD)
		note(x, TV_CTR_DECAP_INNER_BAD);
	if (st & IS_VLAN_DEEP)
		note(x, TV_CTR_DECAP_VLAN_TOO_DEEP);
	if (st & IS_FRAG) {
		note(x, TV_CTR_DECAP_INNER_FRAG);
		if (ingest_fragports_apply(d->fp, pkt->tun.vni, &pkt->info) == INGEST_FRAG_UNKNOWN)
			note(x, TV_CTR_DECAP_INNER_FRAG_UNK);
	}

	/* True length: what the capture (or the tunnel's declared length)
	 * says was cut; for tunnelled packets also what the inner IP header
	 * says, which covers the mirror's PacketLength and MTU truncation. */
	olen = (uint64_t)cur->len + cur->cut;
	if (pkt->tun.tunnel != TV_TUN_NONE && pkt->info.l3 != 0 &&
	    (uint64_t)pkt->info.l3_off + pkt->info.ip_len > olen)
		olen = (uint64_t)pkt->info.l3_off + pkt->info.ip_len;
	pkt->origlen = olen > UINT32_MAX ? UINT32_MAX : (uint32_t)olen;
}

/*
 * Decapsulates one frame whose link header is already Ethernet (link).
 * Counters are noted in x; the caller flushes them unless the result is
 * INGEST_HELD (the fragment is counted when it is finally stored).
 */
static int decap_frame(ingest_decap *d, struct dctx *x, struct ingest_frame link, uint64_t ts_ns,
                       enum dmode mode, tv_pkt *pkt)
{
	struct ingest_frame cur;
	struct outer o;
	uint8_t first_kind = TV_TUN_NONE;
	bool saw_vxlan = false, failed = false, too_deep = false;
	int depth = 0, r;
	tv_addr pair_src, pair_dst;

	memset(pkt, 0, sizeof *pkt);
	pkt->ts_ns = ts_ns;
	pkt->tun.vni = TV_VNI_NONE;

	if ((r = reasm_step(d, x, &link, ts_ns, &mode)) >= 0)
		return r;
	if (link.cut > 0)
		note(x, TV_CTR_DECAP_SNAPLEN_CUT);

	cur = link;
	memset(&pair_src, 0, sizeof pair_src);
	memset(&pair_dst, 0, sizeof pair_dst);
	for (; mode != DM_ERROR;) {
		struct ingest_frame next;
		uint32_t vni = 0;
		uint64_t dropped = 0;
		uint8_t kind;

		outer_parse(&d->cfg, depth == 0 ? x->hit : NULL, &cur, depth > 0 || cur.cut > 0, &o);
		if (o.kind == CAND_NONE)
			break;
		if (o.bad) {
			/* Outer IP/UDP malformed on a tunnel port.  Inside a tunnel
			 * this is just the inner packet's problem. */
			if (depth == 0)
				failed = true;
			break;
		}
		if (depth >= d->cfg.max_depth) {
			note(x, TV_CTR_DECAP_TOO_DEEP);
			if (depth == 0)
				failed = true;
			else
				too_deep = true;
			break;
		}
		kind = tunnel_remove(d, x, &o, &next, &vni, &dropped, pkt);
		if (kind == TV_TUN_NONE) {
			failed = true;
			break;
		}
		if (kind == TV_TUN_VXLAN)
			saw_vxlan = true;
		if (depth == 0) {
			first_kind = kind;
			pkt->tun.outer_src = o.src;
			pair_src = o.src;
			pair_dst = o.dst;
		}
		pkt->tun.vni = vni;
		/* Bytes missing from the tunnel payload: the UDP length says so
		 * exactly, unless the outer packet declared no length at all. */
		next.cut = (o.len_from_rest ? cur.cut : o.shortfall) + dropped;
		cur = next;
		depth++;
	}

	if (failed || mode == DM_ERROR) {
		note(x, TV_CTR_DECAP_FAILED);
		memset(&pkt->tun, 0, sizeof pkt->tun);
		pkt->tun.vni = TV_VNI_NONE;
		pkt->decap_error = 1;
		cur = link;
	} else if (depth == 0) {
		note(x, TV_CTR_DECAP_NOT_TUNNELLED);
	} else {
		if (first_kind == TV_TUN_GENEVE && saw_vxlan)
			pkt->tun.tunnel = TV_TUN_GENEVE_VXLAN;
		else
			pkt->tun.tunnel = first_kind;
		note(x, pkt->tun.tunnel == TV_TUN_VXLAN ? TV_CTR_DECAP_VXLAN
		        : pkt->tun.tunnel == TV_TUN_GENEVE ? TV_CTR_DECAP_GENEVE
		                                           : TV_CTR_DECAP_GENEVE_VXLAN);
		if (!too_deep)
			note(x, TV_CTR_DECAP_OK);
		/* later fragments of this pair whose first never comes are mirror transport */
		reasm_note_tunnel_pair(d->ra, &pair_src, &pair_dst);
	}
	inner_summary(d, x, &cur, pkt);
	return INGEST_STORE;
}

int ingest_decap_packet(ingest_decap *d, int linktype, const uint8_t *data,
                        uint32_t caplen, uint32_t origlen, uint64_t ts_ns,
                        tv_pkt *pkt)
{
	struct dctx x;
	struct ingest_frame link;
	int r;

	x.d = d;
	memset(x.hit, 0, sizeof x.hit);
	if (data == NULL)
		caplen = 0;
	/* datagrams whose fragments stopped coming are given up first */
	reasm_expire(d->ra, ts_ns, d->ctr);

	r = link_to_eth(d, linktype, data, caplen, origlen > caplen ? origlen - caplen : 0, &link);
	if (r != 0) {
		memset(pkt, 0, sizeof *pkt);
		pkt->ts_ns = ts_ns;
		pkt->tun.vni = TV_VNI_NONE;
		if (origlen > caplen)
			note(&x, TV_CTR_DECAP_SNAPLEN_CUT);
		note(&x, r);
		flush_counters(&x);
		return INGEST_DROP;
	}
	r = decap_frame(d, &x, link, ts_ns, DM_NORMAL, pkt);
	if (r != INGEST_HELD)
		flush_counters(&x);
	return r;
}

int ingest_decap_next(ingest_decap *d, tv_pkt *pkt)
{
	struct dctx x;
	struct ingest_frame f;
	uint64_t ts;
	bool as_error;

	do {
		if (!reasm_pop(d->ra, &f, &ts, &as_error))
			return 0;
	} while (!as_error && d->cfg.tunnel_only); /* counted when released */
	x.d = d;
	memset(x.hit, 0, sizeof x.hit);
	decap_frame(d, &x, f, ts, as_error ? DM_ERROR : DM_WHOLE, pkt);
	flush_counters(&x);
	return 1;
}

void ingest_decap_flush(ingest_decap *d)
{
	reasm_flush(d->ra, d->ctr);
}

/* ------------------------------------------------------------------ */
/* Object                                                              */
/* ------------------------------------------------------------------ */

void ingest_decap_cfg_default(ingest_decap_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->vxlan_ports[0] = 4789;
	cfg->n_vxlan_ports = 1;
	cfg->geneve_ports[0] = 6081;
	cfg->n_geneve_ports = 1;
	cfg->max_depth = 3;
	cfg->max_vlan = 4;
	cfg->strict_vxlan = false;
	cfg->reasm_max_datagrams = 4096;
	cfg->reasm_max_bytes = 4u << 20;
	cfg->reasm_timeout_ms = 30000;
}

int ingest_decap_new(const ingest_decap_cfg *cfg, tv_counters *ctr, ingest_decap **out)
{
	ingest_decap *d;
	ingest_decap_cfg def;
	int rc;

	*out = NULL;
	if (cfg == NULL) {
		ingest_decap_cfg_default(&def);
		cfg = &def;
	}
	if (cfg->n_vxlan_ports < 0 || cfg->n_vxlan_ports > INGEST_MAX_PORTS ||
	    cfg->n_geneve_ports < 0 || cfg->n_geneve_ports > INGEST_MAX_PORTS ||
	    cfg->max_depth < 0 || cfg->max_depth > 16 || cfg->max_vlan < 0 || cfg->max_vlan > 16)
		return TV_E_RANGE;
	d = calloc(1, sizeof *d);
	if (d == NULL)
		return TV_E_NOMEM;
	d->cfg = *cfg;
	d->ctr = ctr ? ctr : &d->own_ctr;
	rc = ingest_fragports_new(&d->fp);
	if (rc == 0)
		rc = reasm_new(cfg, tv_hash_seed(), &d->ra);
	if (rc) {
		ingest_fragports_free(d->fp);
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void ingest_decap_free(ingest_decap *d)
{
	if (!d)
		return;
	reasm_free(d->ra);
	ingest_fragports_free(d->fp);
	free(d);
}
