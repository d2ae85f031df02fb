/*
 * expr_match.c — the query language's meaning: whether a packet matches an
 * expression (idx_expr_match), and the time bounds an expression implies
 * (idx_expr_time_bounds), which the planner and the readers use to skip
 * chunks.
 */
#include "idx_int.h"

#include <string.h>

static bool net_has(const idx_xnode *nd, const tv_addr *a)
{
	unsigned full = nd->plen / 8, rest = nd->plen % 8;
	/* IPv4 is stored IPv4-mapped; an IPv6 net (::/0, 2000::/3) must not
	 * take IPv4 traffic in through ::ffff:0:0/96, as tcpdump's does not */
	if (tv_addr_is_v4(a) && !(nd->plen >= 96 && tv_addr_is_v4(&nd->addr)))
		return false;
	if (memcmp(nd->addr.b, a->b, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xFF00u >> rest);
		return (a->b[full] & mask) == nd->addr.b[full];
	}
	return true;
}

static bool dir_test(int dir, bool s, bool d)
{
	switch (dir) {
	case IDX_D_SRC: return s;
	case IDX_D_DST: return d;
	case IDX_D_BOTH: return s && d;
	default: return s || d;
	}
}

static bool match_node(const idx_expr *e, int32_t i, uint64_t ts, const tv_tunmeta *tun,
                       const tv_l3info *info)
{
	const idx_xnode *nd = &e->nodes[i];
	int32_t c;
	switch (nd->kind) {
	case IDX_X_AND:
		for (c = nd->child; c >= 0; c = e->nodes[c].next)
			if (!match_node(e, c, ts, tun, info))
				return false;
		return true;
	case IDX_X_OR:
		for (c = nd->child; c >= 0; c = e->nodes[c].next)
			if (match_node(e, c, ts, tun, info))
				return true;
		return false;
	case IDX_X_NOT:
		return !match_node(e, nd->child, ts, tun, info);
	case IDX_X_HOST:
		return info && info->l3 != 0 && (!nd->ipver || info->l3 == nd->ipver) &&
		       dir_test(nd->dir, memcmp(info->key.src.b, nd->addr.b, 16) == 0,
		                memcmp(info->key.dst.b, nd->addr.b, 16) == 0);
	case IDX_X_NET:
		return info && info->l3 != 0 && (!nd->ipver || info->l3 == nd->ipver) &&
		       dir_test(nd->dir, net_has(nd, &info->key.src), net_has(nd, &info->key.dst));
	case IDX_X_PORT:
		return info && info->has_ports && (!nd->proto || info->key.proto == nd->proto) &&
		       dir_test(nd->dir,
		                info->key.sport >= nd->port_lo && info->key.sport <= nd->port_hi,
		                info->key.dport >= nd->port_lo && info->key.dport <= nd->port_hi);
	case IDX_X_PROTO:
		return info && info->l3 != 0 && (!nd->ipver || info->l3 == nd->ipver) &&
		       info->key.proto == nd->proto;
	case IDX_X_IP:
		return info && info->l3 == 4;
	case IDX_X_IP6:
		return info && info->l3 == 6;
	case IDX_X_VNI:
		return (tun ? tun->vni : TV_VNI_NONE) == nd->vni;
	case IDX_X_AFTER:
		return ts >= nd->ts;
	case IDX_X_BEFORE:
		return ts < nd->ts;
	default:
		return false;
	}
}

bool idx_expr_match(const idx_expr *e, uint64_t ts_ns, const tv_tunmeta *tun,
                    const tv_l3info *info)
{
	if (!e || e->root < 0)
		return true;
	return match_node(e, e->root, ts_ns, tun, info);
}

/* --------------------------------------------------------------- bounds */

void idx_xnode_bounds(const idx_expr *e, int32_t i, uint64_t *lo, uint64_t *hi)
{
	const idx_xnode *nd = &e->nodes[i];
	uint64_t a, b;
	int32_t c;
	bool any;
	*lo = 0;
	*hi = UINT64_MAX;
	switch (nd->kind) {
	case IDX_X_AFTER:
		*lo = nd->ts;
		break;
	case IDX_X_BEFORE:
		if (nd->ts == 0) {
			*lo = 1; /* nothing is before the epoch */
			*hi = 0;
		} else {
			*hi = nd->ts - 1;
		}
		break;
	case IDX_X_AND:
		for (c = nd->child; c >= 0; c = e->nodes[c].next) {
			idx_xnode_bounds(e, c, &a, &b);
			if (a > *lo)
				*lo = a;
			if (b < *hi)
				*hi = b;
		}
		break;
	case IDX_X_OR:
		any = false;
		for (c = nd->child; c >= 0; c = e->nodes[c].next) {
			idx_xnode_bounds(e, c, &a, &b);
			if (a > b)
				continue; /* an empty operand adds nothing */
			if (!any || a < *lo)
				*lo = a;
			if (!any || b > *hi)
				*hi = b;
			any = true;
		}
		if (!any) {
			*lo = 1;
			*hi = 0;
		}
		break;
	default: /* not, and every other primitive: unbounded */
		break;
	}
}

void idx_expr_time_bounds(const idx_expr *e, uint64_t *lo, uint64_t *hi)
{
	if (!e || e->root < 0) {
		*lo = 0;
		*hi = UINT64_MAX;
		return;
	}
	idx_xnode_bounds(e, e->root, lo, hi);
}

void idx_net_last(const tv_addr *net, unsigned plen, tv_addr *last)
{
	unsigned i;
	*last = *net;
	for (i = plen; i < 128; i++)
		last->b[i / 8] |= (uint8_t)(0x80u >> (i % 8));
}
