/*
 * expr_format.c — an expression's normal form (idx_expr_format): the text
 * logs, manifests and the custody log record, which parses back to the
 * same expression.
 */
#include "idx_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const char *ipver_name(int ipver)
{
	return ipver == 4 ? "ip " : ipver == 6 ? "ip6 " : "";
}

static void format_node(const idx_expr *e, int32_t i, idx_sbuf *s)
{
	const idx_xnode *nd = &e->nodes[i];
	char buf[96];
	int32_t c;
	switch (nd->kind) {
	case IDX_X_AND:
	case IDX_X_OR:
		for (c = nd->child; c >= 0; c = e->nodes[c].next) {
			/* An or inside an and needs parentheses; an and inside
			 * an or gets them too, so that tcpdump, which gives
			 * and/or equal precedence, reads the text the same way
			 * (and the parse gives no note).  n-ary nodes never hold
			 * their own kind. */
			int k = e->nodes[c].kind;
			bool par = (nd->kind == IDX_X_AND && k == IDX_X_OR) ||
			           (nd->kind == IDX_X_OR && k == IDX_X_AND);
			if (c != nd->child)
				idx_sb_put(s, nd->kind == IDX_X_AND ? " and " : " or ");
			if (par)
				idx_sb_put(s, "(");
			format_node(e, c, s);
			if (par)
				idx_sb_put(s, ")");
		}
		break;
	case IDX_X_NOT: {
		int k = e->nodes[nd->child].kind;
		bool par = k == IDX_X_AND || k == IDX_X_OR;
		idx_sb_put(s, par ? "not (" : "not ");
		format_node(e, nd->child, s);
		if (par)
			idx_sb_put(s, ")");
		break;
	}
	case IDX_X_HOST:
		idx_sb_put(s, ipver_name(nd->ipver));
		idx_sb_put(s, idx_dir_name(nd->dir));
		idx_sb_put(s, "host ");
		if (nd->ipver == 6) /* ::ffff:A stays IPv6 text, as ip6 needs */
			inet_ntop(AF_INET6, nd->addr.b, buf, sizeof buf);
		else
			tv_addr_format(&nd->addr, buf, sizeof buf);
		idx_sb_put(s, buf);
		break;
	case IDX_X_NET:
		idx_sb_put(s, ipver_name(nd->ipver));
		idx_sb_put(s, idx_dir_name(nd->dir));
		idx_sb_put(s, "net ");
		if (nd->v4 && nd->plen >= 96 && tv_addr_is_v4(&nd->addr)) {
			inet_ntop(AF_INET, nd->addr.b + 12, buf, sizeof buf);
			idx_sb_put(s, buf);
			snprintf(buf, sizeof buf, "/%u", nd->plen - 96u);
		} else {
			/* Always the IPv6 form, so ::ffff:0:0/95 stays IPv6. */
			inet_ntop(AF_INET6, nd->addr.b, buf, sizeof buf);
			idx_sb_put(s, buf);
			snprintf(buf, sizeof buf, "/%u", (unsigned)nd->plen);
		}
		idx_sb_put(s, buf);
		break;
	case IDX_X_PORT:
		if (nd->proto) {
			idx_sb_put(s, idx_l4_name(nd->proto));
			idx_sb_put(s, " ");
		}
		idx_sb_put(s, idx_dir_name(nd->dir));
		if (nd->range)
			snprintf(buf, sizeof buf, "portrange %u-%u", (unsigned)nd->port_lo,
			         (unsigned)nd->port_hi);
		else
			snprintf(buf, sizeof buf, "port %u", (unsigned)nd->port_lo);
		idx_sb_put(s, buf);
		break;
	case IDX_X_PROTO:
		if (nd->ipver) {
			snprintf(buf, sizeof buf, "%sproto %u", ipver_name(nd->ipver),
			         (unsigned)nd->proto);
			idx_sb_put(s, buf);
			break;
		}
		switch (nd->proto) {
		case 1: idx_sb_put(s, "icmp"); break;
		case 6: idx_sb_put(s, "tcp"); break;
		case 17: idx_sb_put(s, "udp"); break;
		case 58: idx_sb_put(s, "icmp6"); break;
		default:
			snprintf(buf, sizeof buf, "proto %u", (unsigned)nd->proto);
			idx_sb_put(s, buf);
		}
		break;
	case IDX_X_IP:
		idx_sb_put(s, "ip");
		break;
	case IDX_X_IP6:
		idx_sb_put(s, "ip6");
		break;
	case IDX_X_VNI:
		if (nd->vni == TV_VNI_NONE)
			snprintf(buf, sizeof buf, "vni none");
		else
			snprintf(buf, sizeof buf, "vni %u", (unsigned)nd->vni);
		idx_sb_put(s, buf);
		break;
	case IDX_X_AFTER:
	case IDX_X_BEFORE:
		idx_sb_put(s, nd->kind == IDX_X_AFTER ? "after " : "before ");
		tv_time_format(nd->ts, buf, sizeof buf);
		idx_sb_put(s, buf);
		break;
	default:
		break;
	}
}

void idx_expr_format(const idx_expr *e, char *buf, size_t cap)
{
	idx_sbuf s = { buf, cap, 0 };
	if (cap == 0)
		return;
	buf[0] = '\0';
	if (!e || e->root < 0)
		return;
	format_node(e, e->root, &s);
}
