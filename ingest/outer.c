/*
 * outer.c — the outer headers of a captured frame: Ethernet, VLAN tags,
 * IPv4 or IPv6, UDP to a tunnel port.  The decapsulator, its reassembler
 * and replay all find the tunnel payload through these functions.
 */
#include "ingest_int.h"

#include <string.h>

static bool port_in(const uint16_t *ports, int n, uint16_t p)
{
	int i;
	for (i = 0; i < n; i++)
		if (ports[i] == p)
			return true;
	return false;
}

static void note(uint8_t *hit, int ctr)
{
	if (hit)
		hit[ctr] = 1;
}

void outer_parse(const ingest_decap_cfg *cfg, uint8_t *hit, const struct ingest_frame *f,
                 bool maybe_cut, struct outer *o)
{
	tv_cur c = tv_cur_make(f->p, f->len);
	struct l2hdr l2;
	struct l3hdr h;
	struct udphdr_v u;
	enum dv v;

	memset(o, 0, sizeof *o);
	if (layer_eth(&c, &l2) != DV_OK) {
		note(hit, TV_CTR_DECAP_ETH_TRUNC);
		return;
	}
	v = layer_vlan(&c, cfg->max_vlan, &l2);
	if (v != DV_OK) {
		note(hit, v == DV_TRUNC ? TV_CTR_DECAP_VLAN_TRUNC : TV_CTR_DECAP_VLAN_TOO_DEEP);
		return;
	}
	if (l2.ethertype == ETH_P_IPV4) {
		v = layer_ipv4(&c, &h);
		if (v == DV_OK && h.shortfall && !maybe_cut)
			v = DV_BAD_LEN;
		if (v != DV_OK)
			note(hit, v == DV_TRUNC ? TV_CTR_DECAP_IPV4_TRUNC
			        : v == DV_BAD_HDR ? TV_CTR_DECAP_IPV4_BAD_HDR
			                          : TV_CTR_DECAP_IPV4_BAD_LEN);
	} else if (l2.ethertype == ETH_P_IPV6) {
		v = layer_ipv6(&c, &h);
		if (v == DV_OK && h.shortfall && !maybe_cut)
			v = DV_BAD_LEN;
		if (v != DV_OK)
			note(hit, v == DV_TRUNC ? TV_CTR_DECAP_IPV6_TRUNC
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
	v = layer_udp(&h, &u);
	if (v == DV_TRUNC) {
		note(hit, TV_CTR_DECAP_UDP_TRUNC);
		o->bad = true;
		return;
	}
	if (v != DV_OK) {
		note(hit, TV_CTR_DECAP_UDP_BAD_LEN);
		o->bad = true;
	}
	if (port_in(cfg->vxlan_ports, cfg->n_vxlan_ports, u.dport))
		o->kind = CAND_VXLAN;
	else if (port_in(cfg->geneve_ports, cfg->n_geneve_ports, u.dport))
		o->kind = CAND_GENEVE;
	o->frag = h.first_frag;
	o->sport = u.sport;
	o->src = h.src;
	o->dst = h.dst;
	o->payload = u.payload;
	o->shortfall = u.shortfall;
	o->len_from_rest = h.len_from_rest;
}

/*
 * Is f an outer IPv4 or IPv6 fragment for the reassembler?  Fills *in with
 * the datagram's key, the fragment's place and, for a first fragment,
 * whether it is UDP to a tunnel port.  A fragment whose IP header is
 * malformed, or that declares more bytes than the frame has without the
 * capture having cut it, is left to the ordinary path (and counted there).
 */
bool outer_fragment(const ingest_decap_cfg *cfg, const struct ingest_frame *f, struct reasm_in *in)
{
	tv_cur c = tv_cur_make(f->p, f->len);
	struct l2hdr l2;
	struct l3hdr h;
	enum dv v;
	uint32_t hdr, present_end;

	if (layer_eth(&c, &l2) != DV_OK || layer_vlan(&c, cfg->max_vlan, &l2) != DV_OK)
		return false;
	if (l2.ethertype == ETH_P_IPV4)
		v = layer_ipv4(&c, &h);
	else if (l2.ethertype == ETH_P_IPV6)
		v = layer_ipv6(&c, &h);
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

/*
 * Replay takes what the decapsulator would take as a tunnel packet: the
 * same walk, with a capture cut allowed (the UDP payload is what is
 * there).  Frames the decapsulator would store with decap_error (a
 * malformed outer IP or UDP header on a tunnel port) and IP fragments are
 * not replayed.  Only Ethernet captures: a datagram from any other link
 * type would be sent the same, but replay has promised Ethernet only.
 */
int ingest_tunnel_payload(const ingest_decap_cfg *cfg, int linktype, const uint8_t *data,
                          uint32_t caplen, const uint8_t **payload, uint32_t *len,
                          uint16_t *sport)
{
	struct ingest_frame f;
	struct outer o;

	if (linktype != INGEST_LINK_ETHERNET)
		return 0;
	memset(&f, 0, sizeof f);
	f.p = data;
	f.len = data ? caplen : 0;
	outer_parse(cfg, NULL, &f, true, &o);
	if (o.kind == CAND_NONE || o.bad || o.frag)
		return 0;
	*payload = o.payload.p;
	*len = (uint32_t)o.payload.left;
	*sport = o.sport;
	return 1;
}
