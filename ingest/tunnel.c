/*
 * tunnel.c — the tunnel headers AWS VPC Traffic Mirroring and Gateway Load
 * Balancer send: VXLAN (RFC 7348) and GENEVE (RFC 8926) with the GWLB
 * options.
 */
#include "ingest_int.h"

#include <string.h>

#define GWLB_CLASS 0x0108u /* AWS Gateway Load Balancer GENEVE option class */

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
enum dv layer_vxlan(tv_cur *c, bool strict, uint32_t *vni)
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
enum dv layer_geneve(tv_cur *c, struct geneve_v *g)
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
