/*
 * layer.c — Ethernet, VLAN, IPv4 and IPv6 (with extension headers) and UDP,
 * one function per header over a tv_cur cursor.  Each checks the minimum
 * header, the declared length against what remains and the flags, and
 * returns a verdict (enum dv); the decapsulator counts it.
 */
#include "ingest_int.h"

#include <string.h>

#define V6_MAX_EXT 16 /* extension headers walked at most */

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
enum dv layer_eth(tv_cur *c, struct l2hdr *l2)
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
enum dv layer_vlan(tv_cur *c, int max_vlan, struct l2hdr *l2)
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
enum dv layer_ipv4(tv_cur *c, struct l3hdr *h)
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
enum dv layer_ipv6(tv_cur *c, struct l3hdr *h)
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
enum dv layer_udp(const struct l3hdr *h, struct udphdr_v *u)
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
