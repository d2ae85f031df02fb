/*
 * decap.c — outer Ethernet/IP/UDP, VXLAN, GENEVE (with the AWS GWLB
 * options), GENEVE carrying VXLAN, and the inner L2/L3/L4 summary.
 *
 * Every layer is one small function over a tv_cur cursor: it checks the
 * minimum header, the declared length against what remains, the flags,
 * and hands the rest on.  It returns a verdict; the caller turns the
 * verdict into a counter (STYLE.md §4, §5).  Counters are collected per
 * packet in a "hit" array and added once at the end, so each counter moves
 * at most once per packet.
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

#define ETH_P_IPV4 0x0800u
#define ETH_P_IPV6 0x86DDu
#define ETH_P_TEB 0x6558u /* transparent Ethernet bridging (GENEVE payload is Ethernet) */
#define ETH_P_8021Q 0x8100u
#define ETH_P_8021AD 0x88A8u
#define ETH_P_QINQ_OLD 0x9100u

#define IPPROTO_V_ICMP 1
#define IPPROTO_V_TCP 6
#define IPPROTO_V_UDP 17
#define IPPROTO_V_ICMPV6 58
#define IPPROTO_V_SCTP 132

#define V6_MAX_EXT 16      /* extension headers walked at most */
#define GWLB_CLASS 0x0108u /* AWS Gateway Load Balancer GENEVE option class */

/* Verdicts of one layer parser. */
enum dv {
	DV_OK = 0,
	DV_TRUNC,     /* fewer bytes than the header needs */
	DV_BAD_HDR,   /* version, header length or similar is impossible */
	DV_BAD_LEN,   /* declared length contradicts the header or the frame */
	DV_BAD_EXT,   /* IPv6 extension header chain is broken */
	DV_BAD_FLAGS, /* required flag missing or reserved bit set */
	DV_BAD_OPT,   /* GENEVE option walk failed */
	DV_UNSUP,     /* valid, but a payload type we do not carry */
	DV_TOO_DEEP,  /* more VLAN tags than allowed */
};

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

/* Per-packet context: which counters this packet hits. */
struct dctx {
	ingest_decap *d;
	uint8_t hit[TV_CTR__COUNT];
};

static void note(struct dctx *x, int ctr)
{
	x->hit[ctr] = 1;
}


/* ------------------------------------------------------------------ */
/* Layer parsers                                                       */
/* ------------------------------------------------------------------ */

struct l2hdr {
	uint16_t ethertype;
	uint16_t vlan; /* first VLAN id, 0 if none */
	int ntags;
};

/*
 * Ethernet II (IEEE 802.3, RFC 894).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  Destination MAC (6 bytes)                    |
 * +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                               |                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 * |                    Source MAC (6 bytes)                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          EtherType            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
static enum dv parse_eth(tv_cur *c, struct l2hdr *l2)
{
	memset(l2, 0, sizeof *l2);
	if (!tv_cur_skip(c, 12) || !tv_cur_be16(c, &l2->ethertype))
		return DV_TRUNC;
	return DV_OK;
}

/*
 * VLAN tags: IEEE 802.1Q (TPID 0x8100), 802.1ad S-tag (0x88A8) and the
 * pre-standard QinQ TPID 0x9100, stacked; at most max_vlan are walked.
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |       TPID (ethertype)        | PCP |D|        VLAN id        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      next EtherType / TPID    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * (the TPID is the ethertype already read; the tag adds 4 bytes)
 */
static enum dv parse_vlan(tv_cur *c, int max_vlan, struct l2hdr *l2)
{
	while (l2->ethertype == ETH_P_8021Q || l2->ethertype == ETH_P_8021AD ||
	       l2->ethertype == ETH_P_QINQ_OLD) {
		uint16_t tci, et;
		tv_cur save = *c;
		if (l2->ntags >= max_vlan)
			return DV_TOO_DEEP;
		if (!tv_cur_be16(c, &tci) || !tv_cur_be16(c, &et)) {
			*c = save;
			return DV_TRUNC;
		}
		if (l2->ntags == 0)
			l2->vlan = tci & 0x0fff;
		l2->ntags++;
		l2->ethertype = et;
	}
	return DV_OK;
}

/* What the IPv4 and IPv6 parsers learn; shared by outer and inner use. */
struct l3hdr {
	uint8_t ver;
	uint8_t proto;         /* upper-layer protocol (after IPv6 ext headers) */
	bool have_addrs;       /* src/dst are valid even if the verdict is not OK */
	bool later_frag;       /* fragment offset > 0: no L4 header here */
	bool first_frag;       /* offset 0 with more fragments following */
	bool len_from_rest;    /* declared length 0: length is what was captured */
	bool jumbo;            /* IPv6 length from a Jumbo Payload option (RFC 2675) */
	bool frag_more;        /* MF / M: more fragments follow */
	uint32_t frag_off;     /* fragment offset in bytes */
	uint32_t frag_id;
	const uint8_t *ip;     /* the IP header */
	const uint8_t *fh;     /* IPv6 Fragment header, NULL if none */
	const uint8_t *frag_data; /* first byte after the IP header (IPv4) or the
	                           * Fragment header (IPv6): the fragmentable part */
	tv_addr src;
	tv_addr dst;
	uint32_t total;        /* IP length incl. header: declared, or captured if 0 */
	uint32_t shortfall;    /* declared bytes missing from the capture */
	bool l4_short;         /* l4 holds fewer bytes than declared */
	tv_cur l4;             /* upper-layer bytes present, bounded by the declared length */
};

/*
 * IPv4, RFC 791.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version|  IHL  |Type of Service|          Total Length         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Identification        |Flags|      Fragment Offset    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Time to Live |    Protocol   |         Header Checksum       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       Source Address                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Destination Address                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Options                    |    Padding    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Total Length 0 is what Linux writes for BIG TCP and what GSO/TSO
 * captures on the sender show: the length is then the captured rest
 * (as tcpdump does), not an error.  Total Length above what is present
 * is returned as OK with a shortfall: the caller decides whether a cut is
 * plausible (snaplen, mirror truncation) or an error.
 */
static enum dv parse_ipv4(tv_cur *c, struct l3hdr *h)
{
	tv_cur hc = *c;
	uint8_t vihl, tos, ttl, proto;
	uint16_t tot, id, ff, csum;
	uint8_t a[4];
	uint32_t hlen, present;

	memset(h, 0, sizeof *h);
	if (!tv_cur_u8(&hc, &vihl))
		return DV_TRUNC;
	if ((vihl >> 4) != 4)
		return DV_BAD_HDR;
	if (!tv_cur_u8(&hc, &tos) || !tv_cur_be16(&hc, &tot) ||
	    !tv_cur_be16(&hc, &id) || !tv_cur_be16(&hc, &ff) || !tv_cur_u8(&hc, &ttl) ||
	    !tv_cur_u8(&hc, &proto) || !tv_cur_be16(&hc, &csum))
		return DV_TRUNC;
	if (!tv_cur_bytes(&hc, a, 4))
		return DV_TRUNC;
	tv_addr_from_v4(&h->src, a);
	if (!tv_cur_bytes(&hc, a, 4))
		return DV_TRUNC;
	tv_addr_from_v4(&h->dst, a);
	(void)tos;
	(void)ttl;
	(void)csum;
	hlen = (uint32_t)(vihl & 0x0f) * 4;
	if (hlen < 20)
		return DV_BAD_HDR;
	if (hlen > c->left)
		return DV_TRUNC;
	h->have_addrs = true;
	h->ver = 4;
	h->proto = proto;
	h->frag_id = id;
	h->ip = c->p;
	h->frag_data = c->p + hlen;
	h->frag_off = (uint32_t)(ff & 0x1fff) * 8;
	h->frag_more = (ff & 0x2000) != 0;
	present = c->left > UINT32_MAX ? UINT32_MAX : (uint32_t)c->left;
	if (tot == 0) {
		h->len_from_rest = true;
		h->total = present;
	} else {
		if (tot < hlen)
			return DV_BAD_LEN;
		h->total = tot;
	}
	if (h->total > present) {
		h->shortfall = h->total - present;
		h->l4_short = true;
	}
	if ((ff & 0x1fff) != 0)
		h->later_frag = true;
	else if (ff & 0x2000)
		h->first_frag = true;
	h->l4 = tv_cur_make(c->p + hlen, (h->total < present ? h->total : present) - hlen);
	tv_cur_skip(c, hlen);
	return DV_OK;
}

/*
 * IPv6 extension headers walked to the upper layer (RFC 8200 §4; AH is
 * RFC 4302, whose length counts 4-byte units minus 2).
 *
 * Hop-by-Hop (0), Routing (43), Destination Options (60):
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Next Header  |  Hdr Ext Len  |  (Hdr Ext Len + 1) * 8 bytes  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * Fragment (44), 8 bytes:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         Identification                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * On entry h->l4 holds the payload present and h->l4_short says whether
 * the declared payload goes beyond it.  A header running past the
 * declared payload is BAD_EXT; past only the captured bytes, TRUNC.
 */
static enum dv parse_ipv6_ext(struct l3hdr *h)
{
	tv_cur *c = &h->l4;
	uint8_t nh = h->proto;
	int n;

	for (n = 0;; n++) {
		uint8_t next, hl;
		uint16_t offm;
		uint32_t id;
		size_t len;
		tv_cur save = *c;

		if (nh != 0 && nh != 43 && nh != 44 && nh != 60 && nh != 51)
			break;
		if (n >= V6_MAX_EXT)
			return DV_BAD_EXT;
		if (!tv_cur_u8(c, &next) || !tv_cur_u8(c, &hl)) {
			*c = save;
			return h->l4_short ? DV_TRUNC : DV_BAD_EXT;
		}
		if (nh == 44) {
			if (!tv_cur_be16(c, &offm) || !tv_cur_be32(c, &id)) {
				*c = save;
				return h->l4_short ? DV_TRUNC : DV_BAD_EXT;
			}
			if ((offm & 0xfff8) != 0)
				h->later_frag = true;
			else if (offm & 1)
				h->first_frag = true;
			/* offset 0 and M 0: an atomic fragment (RFC 6946), whole */
			h->frag_id = id;
			h->frag_off = offm & 0xfff8u;
			h->frag_more = (offm & 1) != 0;
			h->fh = save.p;
			h->frag_data = c->p;
		} else {
			len = nh == 51 ? ((size_t)hl + 2) * 4 : ((size_t)hl + 1) * 8;
			if (!tv_cur_skip(c, len - 2)) {
				*c = save;
				return h->l4_short ? DV_TRUNC : DV_BAD_EXT;
			}
		}
		nh = next;
		h->proto = nh;
		if (h->later_frag)
			break; /* the rest is a fragment of the upper layer */
	}
	return DV_OK;
}

/*
 * The Jumbo Payload option (RFC 2675 §2) of a Hop-by-Hop Options header
 * that starts at c:
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Next Header  |  Hdr Ext Len  |  options: Pad1 (type 0) is one byte,
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  any other type is type, length, data
 * |  Option Type  |  Opt Data Len |  0xC2, 4
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Jumbo Payload Length                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Returns the length (which the RFC requires to exceed 65535), or 0 when
 * there is no such option or the header is not all present.
 */
static uint32_t v6_jumbo_len(tv_cur c)
{
	uint8_t next, hl, type, len;
	uint32_t v;
	size_t optlen;
	tv_cur opts;

	if (!tv_cur_u8(&c, &next) || !tv_cur_u8(&c, &hl))
		return 0;
	optlen = ((size_t)hl + 1) * 8 - 2;
	if (optlen > c.left)
		return 0;
	opts = tv_cur_make(c.p, optlen);
	while (tv_cur_u8(&opts, &type)) {
		if (type == 0)
			continue;
		if (!tv_cur_u8(&opts, &len))
			return 0;
		if (type == 0xC2 && len == 4)
			return tv_cur_be32(&opts, &v) && v > 65535 ? v : 0;
		if (!tv_cur_skip(&opts, len))
			return 0;
	}
	return 0;
}

/*
 * IPv6, RFC 8200.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version| Traffic Class |           Flow Label                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Payload Length        |  Next Header  |   Hop Limit   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  Source Address (128 bits)                    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               Destination Address (128 bits)                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Payload Length 0 is an empty payload (40 bytes in all, as tshark counts
 * it), except in two cases where the frame holds the length:
 *  - a jumbogram (RFC 2675): a Hop-by-Hop header follows at once and holds
 *    a Jumbo Payload option, whose value is the length;
 *  - a BIG TCP / GSO super-packet: Linux writes 0 when the payload does not
 *    fit 16 bits, so more than 65535 bytes follow the header in the frame;
 *    the length is then what was captured.
 * Anything else in the frame after a Payload Length of 0 (Ethernet
 * padding of a short frame) is not part of the packet.
 */
static enum dv parse_ipv6(tv_cur *c, struct l3hdr *h)
{
	tv_cur hc = *c;
	uint32_t vtf, present, jumbo;
	uint16_t plen;
	uint8_t nh, hop, a[16];

	memset(h, 0, sizeof *h);
	if (hc.left >= 1 && (hc.p[0] >> 4) != 6)
		return DV_BAD_HDR;
	if (!tv_cur_be32(&hc, &vtf) || !tv_cur_be16(&hc, &plen) || !tv_cur_u8(&hc, &nh) ||
	    !tv_cur_u8(&hc, &hop))
		return DV_TRUNC;
	(void)hop;
	if (!tv_cur_bytes(&hc, a, 16))
		return DV_TRUNC;
	tv_addr_from_v6(&h->src, a);
	if (!tv_cur_bytes(&hc, a, 16))
		return DV_TRUNC;
	tv_addr_from_v6(&h->dst, a);
	(void)vtf;
	h->have_addrs = true;
	h->ver = 6;
	h->proto = nh;
	h->ip = c->p;
	present = hc.left > UINT32_MAX - 40 ? UINT32_MAX - 40 : (uint32_t)hc.left;
	if (plen != 0) {
		h->total = 40u + plen;
	} else if (nh == 0 && (jumbo = v6_jumbo_len(hc)) != 0) {
		h->jumbo = true;
		h->total = jumbo > UINT32_MAX - 40 ? UINT32_MAX : 40 + jumbo;
	} else if (present > 65535) {
		h->len_from_rest = true;
		h->total = 40 + present;
	} else {
		h->total = 40;
	}
	if (h->total - 40 > present) {
		h->shortfall = h->total - 40 - present;
		h->l4_short = true;
	}
	h->l4 = tv_cur_make(hc.p, h->total - 40 < present ? h->total - 40 : present);
	*c = hc;
	return parse_ipv6_ext(h);
}

struct udphdr_v {
	uint16_t sport;
	uint16_t dport;
	uint32_t shortfall; /* payload bytes declared but not present */
	tv_cur payload;
};

/*
 * UDP, RFC 768 (length 0 allowed with a jumbogram, RFC 2675 §4, or when
 * the IP length was 0 as in BIG TCP / GSO captures: the payload is the
 * rest of the IP payload).
 *
 *  0      7 8     15 16    23 24    31
 * +--------+--------+--------+--------+
 * |   Source Port   | Destination Port|
 * +--------+--------+--------+--------+
 * |     Length      |    Checksum     |
 * +--------+--------+--------+--------+
 */
static enum dv parse_udp(const struct l3hdr *h, struct udphdr_v *u)
{
	tv_cur c = h->l4;
	uint16_t ulen, csum;
	size_t declared_ip_payload;

	memset(u, 0, sizeof *u);
	if (!tv_cur_be16(&c, &u->sport) || !tv_cur_be16(&c, &u->dport) ||
	    !tv_cur_be16(&c, &ulen) || !tv_cur_be16(&c, &csum))
		return DV_TRUNC;
	(void)csum;
	if (ulen == 0 && (h->len_from_rest || h->jumbo)) {
		u->payload = c;
		return DV_OK;
	}
	if (ulen < 8)
		return DV_BAD_LEN;
	/* The UDP length may not exceed the IP payload, except in a first
	 * fragment (the datagram continues in later fragments). */
	declared_ip_payload = h->l4.left + (h->l4_short ? h->shortfall : 0);
	if (ulen > declared_ip_payload && !h->first_frag && !h->len_from_rest)
		return DV_BAD_LEN;
	if ((size_t)ulen - 8 <= c.left) {
		u->payload = tv_cur_make(c.p, (size_t)ulen - 8);
	} else {
		u->payload = c;
		u->shortfall = (uint32_t)((size_t)ulen - 8 - c.left);
	}
	return DV_OK;
}

/*
 * VXLAN, RFC 7348 §5.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |R|R|R|R|I|R|R|R|            Reserved                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                VXLAN Network Identifier (VNI) |   Reserved    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The I flag must be set.  The RFC says reserved bits "MUST be ignored on
 * receipt"; strict mode rejects them (e.g. to keep VXLAN-GPE or GBP
 * traffic sent to 4789 apart).  The payload is an Ethernet frame.
 */
static enum dv parse_vxlan(tv_cur *c, bool strict, uint32_t *vni)
{
	tv_cur hc = *c;
	uint32_t w0, w1;
	if (!tv_cur_be32(&hc, &w0) || !tv_cur_be32(&hc, &w1))
		return DV_TRUNC;
	if (!(w0 & 0x08000000u))
		return DV_BAD_FLAGS;
	if (strict && ((w0 & ~0x08000000u) != 0 || (w1 & 0xffu) != 0))
		return DV_BAD_FLAGS;
	*vni = w1 >> 8;
	*c = hc;
	return DV_OK;
}

struct geneve_v {
	uint16_t proto;
	uint32_t vni;
	uint8_t has_gwlb;
	uint64_t gwlb_endpoint;
	uint64_t gwlb_attachment;
	uint32_t gwlb_cookie;
};

/* Like tv_cur_be64, written so that gcc -O1 sees both halves initialised. */
static bool cur_be64(tv_cur *c, uint64_t *v)
{
	uint32_t hi = 0, lo = 0;
	if (c->left < 8)
		return false;
	tv_cur_be32(c, &hi);
	tv_cur_be32(c, &lo);
	*v = ((uint64_t)hi << 32) | lo;
	return true;
}

/*
 * One GENEVE option, RFC 8926 §3.5; the AWS GWLB options (class 0x0108)
 * are kept, others skipped.  A known GWLB type with a length other than
 * AWS documents is BAD_OPT (AWS's own sample code rejects it).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Option Class         |      Type     |R|R|R| Length  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      Variable-Length Option Data (Length * 4 bytes)           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
static enum dv parse_geneve_opt(tv_cur *opts, struct geneve_v *g)
{
	uint16_t cls;
	uint8_t type, len;
	tv_cur data;

	if (!tv_cur_be16(opts, &cls) || !tv_cur_u8(opts, &type) || !tv_cur_u8(opts, &len))
		return DV_BAD_OPT;
	len &= 0x1f;
	data = tv_cur_make(opts->p, opts->left);
	if (!tv_cur_skip(opts, (size_t)len * 4))
		return DV_BAD_OPT;
	if (cls != GWLB_CLASS)
		return DV_OK;
	switch (type) {
	case 1:
		if (len != 2 || !cur_be64(&data, &g->gwlb_endpoint))
			return DV_BAD_OPT;
		g->has_gwlb = 1;
		break;
	case 2:
		if (len != 2 || !cur_be64(&data, &g->gwlb_attachment))
			return DV_BAD_OPT;
		g->has_gwlb = 1;
		break;
	case 3:
		if (len != 1 || !tv_cur_be32(&data, &g->gwlb_cookie))
			return DV_BAD_OPT;
		g->has_gwlb = 1;
		break;
	default:
		break;
	}
	return DV_OK;
}

/*
 * GENEVE, RFC 8926 §3.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |        Virtual Network Identifier (VNI)       |    Reserved   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Variable-Length Options                    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Version 0 only.  Opt Len counts 4-byte units.  Protocol Type 0x6558
 * carries Ethernet; 0x0800 / 0x86DD carry a bare IP packet (AWS GWLB,
 * GCP NSI).  O and C are not checked: a passive recorder keeps control
 * packets and has no critical options to honour.
 */
static enum dv parse_geneve(tv_cur *c, struct geneve_v *g)
{
	tv_cur hc = *c, opts;
	uint8_t b0, b1;
	uint32_t w1;
	size_t optlen;

	memset(g, 0, sizeof *g);
	if (!tv_cur_u8(&hc, &b0) || !tv_cur_u8(&hc, &b1) || !tv_cur_be16(&hc, &g->proto) ||
	    !tv_cur_be32(&hc, &w1))
		return DV_TRUNC;
	(void)b1;
	if ((b0 >> 6) != 0)
		return DV_BAD_HDR;
	g->vni = w1 >> 8;
	optlen = (size_t)(b0 & 0x3f) * 4;
	if (optlen > hc.left)
		return DV_TRUNC;
	opts = tv_cur_make(hc.p, optlen);
	tv_cur_skip(&hc, optlen);
	while (opts.left > 0) {
		enum dv v = parse_geneve_opt(&opts, g);
		if (v != DV_OK)
			return v;
	}
	/* Any ethertype is carried: 0x6558 is an Ethernet frame, anything else
	 * (IPv4, IPv6, ARP as zeek's geneve-arp capture shows) gets a synthesised
	 * Ethernet header.  Values below 0x0600 are not ethertypes. */
	if (g->proto < 0x0600)
		return DV_UNSUP;
	*c = hc;
	return DV_OK;
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
	if (parse_eth(&c, &l2) != DV_OK)
		return IS_TRUNC;
	v = parse_vlan(&c, max_vlan, &l2);
	info->vlan = l2.vlan;
	info->ethertype = l2.ethertype;
	if (v == DV_TRUNC)
		return IS_TRUNC;
	if (v == DV_TOO_DEEP)
		return IS_VLAN_DEEP;
	l3_off = (uint32_t)(len - c.left);
	if (l2.ethertype == ETH_P_IPV4)
		v = parse_ipv4(&c, &h);
	else if (l2.ethertype == ETH_P_IPV6)
		v = parse_ipv6(&c, &h);
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

/* ------------------------------------------------------------------ */
/* Outer layers and the tunnel loop                                    */
/* ------------------------------------------------------------------ */

enum cand { CAND_NONE = 0, CAND_VXLAN, CAND_GENEVE };

struct outer {
	enum cand kind;
	bool bad;           /* an IP/UDP layer was malformed */
	bool len_from_rest; /* no declared length: the frame's own cut applies */
	tv_addr src;
	tv_addr dst;
	uint32_t shortfall; /* tunnel payload bytes declared but not captured */
	tv_cur payload;     /* UDP payload */
};

static bool port_in(const uint16_t *ports, int n, uint16_t p)
{
	int i;
	for (i = 0; i < n; i++)
		if (ports[i] == p)
			return true;
	return false;
}

/*
 * Looks for a tunnel in frame f: Ethernet, VLANs, IPv4/IPv6, UDP to a
 * configured port.  top: this is the captured frame, so reasons are
 * counted (inside a tunnel, IP problems belong to the inner frame and are
 * counted by the inner summary).  maybe_cut: an IP length longer than the
 * bytes present is plausible (the capture or the mirror cut the packet).
 */
static void outer_parse(struct dctx *x, const struct ingest_frame *f, bool top, bool maybe_cut,
                        struct outer *o)
{
	const ingest_decap_cfg *cfg = &x->d->cfg;
	tv_cur c = tv_cur_make(f->p, f->len);
	struct l2hdr l2;
	struct l3hdr h;
	struct udphdr_v u;
	enum dv v;

	memset(o, 0, sizeof *o);
	if (parse_eth(&c, &l2) != DV_OK) {
		if (top)
			note(x, TV_CTR_DECAP_ETH_TRUNC);
		return;
	}
	v = parse_vlan(&c, cfg->max_vlan, &l2);
	if (v != DV_OK) {
		if (top)
			note(x, v == DV_TRUNC ? TV_CTR_DECAP_VLAN_TRUNC : TV_CTR_DECAP_VLAN_TOO_DEEP);
		return;
	}
	if (l2.ethertype == ETH_P_IPV4) {
		v = parse_ipv4(&c, &h);
		if (v == DV_OK && h.shortfall && !maybe_cut)
			v = DV_BAD_LEN;
		if (v != DV_OK && top)
			note(x, v == DV_TRUNC ? TV_CTR_DECAP_IPV4_TRUNC
			        : v == DV_BAD_HDR ? TV_CTR_DECAP_IPV4_BAD_HDR
			                          : TV_CTR_DECAP_IPV4_BAD_LEN);
	} else if (l2.ethertype == ETH_P_IPV6) {
		v = parse_ipv6(&c, &h);
		if (v == DV_OK && h.shortfall && !maybe_cut)
			v = DV_BAD_LEN;
		if (v != DV_OK && top)
			note(x, v == DV_TRUNC ? TV_CTR_DECAP_IPV6_TRUNC
			        : v == DV_BAD_HDR ? TV_CTR_DECAP_IPV6_BAD_HDR
			        : v == DV_BAD_LEN ? TV_CTR_DECAP_IPV6_BAD_LEN
			                          : TV_CTR_DECAP_IPV6_BAD_EXT);
	} else {
		return;
	}
	if (v != DV_OK) {
		o->bad = true;
		/* Only a length that overruns the frame still lets us read the
		 * UDP ports, which decide decap_error. */
		if (v != DV_BAD_LEN || !h.shortfall)
			return;
	}
	if (h.proto != IPPROTO_V_UDP || h.later_frag)
		return;
	v = parse_udp(&h, &u);
	if (v == DV_TRUNC) {
		if (top)
			note(x, TV_CTR_DECAP_UDP_TRUNC);
		o->bad = true;
		return;
	}
	if (v != DV_OK) {
		if (top)
			note(x, TV_CTR_DECAP_UDP_BAD_LEN);
		o->bad = true;
	}
	if (port_in(cfg->vxlan_ports, cfg->n_vxlan_ports, u.dport))
		o->kind = CAND_VXLAN;
	else if (port_in(cfg->geneve_ports, cfg->n_geneve_ports, u.dport))
		o->kind = CAND_GENEVE;
	o->src = h.src;
	o->dst = h.dst;
	o->payload = u.payload;
	o->shortfall = u.shortfall;
	o->len_from_rest = h.len_from_rest;
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

static void flush_counters(struct dctx *x)
{
	int i;
	for (i = 0; i < TV_CTR__COUNT; i++)
		if (x->hit[i])
			x->d->ctr->v[i]++;
}

/*
 * Is f an outer IPv4 or IPv6 fragment for the reassembler?  Fills *in with
 * the datagram's key, the fragment's place and, for a first fragment,
 * whether it is UDP to a tunnel port.  A fragment whose IP header is
 * malformed, or that declares more bytes than the frame has without the
 * capture having cut it, is left to the ordinary path (and counted there).
 */
static bool outer_fragment(const ingest_decap *d, const struct ingest_frame *f, struct reasm_in *in)
{
	const ingest_decap_cfg *cfg = &d->cfg;
	tv_cur c = tv_cur_make(f->p, f->len);
	struct l2hdr l2;
	struct l3hdr h;
	enum dv v;
	uint32_t hdr, present_end;

	if (parse_eth(&c, &l2) != DV_OK || parse_vlan(&c, cfg->max_vlan, &l2) != DV_OK)
		return false;
	if (l2.ethertype == ETH_P_IPV4)
		v = parse_ipv4(&c, &h);
	else if (l2.ethertype == ETH_P_IPV6)
		v = parse_ipv6(&c, &h);
	else
		return false;
	if (v != DV_OK || !(h.first_frag || h.later_frag) || h.len_from_rest || h.jumbo ||
	    !h.frag_data || (h.shortfall && f->cut == 0))
		return false;
	hdr = (uint32_t)(h.frag_data - h.ip);
	if (h.total < hdr)
		return false;
	memset(in, 0, sizeof *in);
	in->f = *f;
	in->ver = h.ver;
	in->proto = h.proto;
	in->src = h.src;
	in->dst = h.dst;
	in->id = h.frag_id;
	in->off = h.frag_off;
	in->more = h.frag_more;
	in->ip_at = (uint32_t)(h.ip - f->p);
	in->fh_at = h.fh ? (uint32_t)(h.fh - f->p) : 0;
	in->data_at = (uint32_t)(h.frag_data - f->p);
	in->wire_len = h.total - hdr;
	present_end = (uint32_t)(h.l4.p + h.l4.left - f->p);
	in->cap_len = present_end > in->data_at ? present_end - in->data_at : 0;
	in->holdable = h.proto == IPPROTO_V_UDP;
	in->tunnel = -1;
	if (in->off == 0) {
		tv_cur u = h.l4;
		uint16_t sport, dport;
		in->tunnel = 0;
		if (h.proto == IPPROTO_V_UDP && tv_cur_be16(&u, &sport) && tv_cur_be16(&u, &dport) &&
		    (port_in(cfg->vxlan_ports, cfg->n_vxlan_ports, dport) ||
		     port_in(cfg->geneve_ports, cfg->n_geneve_ports, dport)))
			in->tunnel = 1;
	}
	return true;
}

/* How decap_frame treats a frame. */
enum dmode {
	DM_NORMAL = 0, /* outer fragments go to the reassembler */
	DM_WHOLE,      /* a reassembled datagram or a released fragment: no reassembly */
	DM_ERROR,      /* a fragment that cannot be reassembled: store as captured */
};

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
	int depth = 0;
	unsigned st;
	uint32_t frag_id;
	uint64_t olen;
	tv_addr pair_src, pair_dst;

	memset(pkt, 0, sizeof *pkt);
	pkt->ts_ns = ts_ns;
	pkt->tun.vni = TV_VNI_NONE;

	if (mode == DM_NORMAL && d->ra) {
		struct reasm_in in;
		struct ingest_frame whole;
		if (outer_fragment(d, &link, &in)) {
			in.ts_ns = ts_ns;
			switch (reasm_add(d->ra, &in, d->ctr, &whole)) {
			case REASM_HELD:
				return INGEST_HELD;
			case REASM_REJECT:
				mode = DM_ERROR;
				break;
			case REASM_DONE:
				/* the datagram is counted once, as itself */
				memset(x->hit, 0, sizeof x->hit);
				link = whole;
				mode = DM_WHOLE;
				break;
			case REASM_PASS:
				if (d->cfg.tunnel_only) {
					d->ctr->v[TV_CTR_REASM_NOT_TUNNEL]++;
					return INGEST_DROP;
				}
				break;
			}
		}
	}
	if (link.cut > 0)
		note(x, TV_CTR_DECAP_SNAPLEN_CUT);

	cur = link;
	memset(&pair_src, 0, sizeof pair_src);
	memset(&pair_dst, 0, sizeof pair_dst);
	for (; mode != DM_ERROR;) {
		struct ingest_frame next;
		uint32_t vni = 0;
		uint64_t dropped = 0;

		outer_parse(x, &cur, depth == 0, depth > 0 || cur.cut > 0, &o);
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
		next.synth = 0;
		if (o.kind == CAND_VXLAN) {
			enum dv v = parse_vxlan(&o.payload, d->cfg.strict_vxlan, &vni);
			if (v != DV_OK) {
				note(x, vxlan_ctr[v]);
				failed = true;
				break;
			}
			next.p = o.payload.p;
			next.len = (uint32_t)o.payload.left;
			saw_vxlan = true;
			if (depth == 0)
				first_kind = TV_TUN_VXLAN;
		} else {
			struct geneve_v g;
			enum dv v = parse_geneve(&o.payload, &g);
			if (v != DV_OK) {
				note(x, geneve_ctr(v));
				failed = true;
				break;
			}
			vni = g.vni;
			if (g.proto == ETH_P_TEB) {
				next.p = o.payload.p;
				next.len = (uint32_t)o.payload.left;
			} else {
				next.len = synth_eth(d->tunbuf, g.proto, o.payload.p, o.payload.left,
				                     &dropped);
				next.p = d->tunbuf;
				next.synth = 1;
			}
			if (g.has_gwlb) {
				pkt->tun.has_gwlb = 1;
				pkt->tun.gwlb_endpoint = g.gwlb_endpoint;
				pkt->tun.gwlb_attachment = g.gwlb_attachment;
				pkt->tun.gwlb_cookie = g.gwlb_cookie;
			}
			if (depth == 0)
				first_kind = TV_TUN_GENEVE;
		}
		if (depth == 0) {
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

	pkt->frame = cur.p;
	pkt->caplen = cur.len;
	pkt->synth_l2 = cur.synth;

	st = inner_parse(cur.p, cur.len, d->cfg.max_vlan, &pkt->info, &frag_id);
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
	olen = (uint64_t)cur.len + cur.cut;
	if (pkt->tun.tunnel != TV_TUN_NONE && pkt->info.l3 != 0 &&
	    (uint64_t)pkt->info.l3_off + pkt->info.ip_len > olen)
		olen = (uint64_t)pkt->info.l3_off + pkt->info.ip_len;
	pkt->origlen = olen > UINT32_MAX ? UINT32_MAX : (uint32_t)olen;
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
