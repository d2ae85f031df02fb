/*
 * expr.c — the query language: tokenizer, recursive-descent parser and
 * AST.  The matcher and time bounds are in expr_match.c, the normal form
 * in expr_format.c; times are parsed by tv_time_parse() (ingest/tvtime.c).
 *
 *   expr    := or
 *   or      := and { ("or" | "||") and }
 *   and     := unary { ("and" | "&&") unary }
 *   unary   := ("not" | "!") unary | "(" expr ")" | primitive
 *   primitive := [ipq] [dir] host ADDR | [ipq] [dir] net CIDR | [ipq] dir ADDR
 *              | [l4q] [dir] port P | [l4q] [dir] portrange P-P
 *              | [ipq] proto PROTO
 *              | tcp | udp | sctp | icmp | icmp6 | ip | ip6
 *              | vni N | vni none | after T | before T | eni ID (reserved)
 *   dir     := src | dst | src or dst | src and dst
 *   ipq     := ip | ip6            (that IP version only)
 *   l4q     := tcp | udp | sctp    (that transport only)
 *   P       := a port number or a service name (services[] below)
 *
 * The qualifiers are pcap-filter(7)'s, in its order.  Precedence is
 * not > and > or, as in C and most query languages; tcpdump gives and/or
 * equal precedence and reads left to right, so a chain that mixes them
 * without parentheses gets a note (idx_expr_note) saying how each reads it.
 * The AST is one allocation: a header and a node array sized by the number
 * of tokens (every node consumes at least one token).
 */
#include "idx_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- lexer */

enum tok_type { TK_END, TK_WORD, TK_LP, TK_RP, TK_NOT, TK_AND, TK_OR, TK_BAD };

typedef struct tok {
	int type;
	int pos, len;
} tok;

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_special(char c)
{
	return c == '(' || c == ')' || c == '!' || c == '&' || c == '|';
}

static bool word_is(const char *s, const tok *t, const char *w)
{
	return t->type == TK_WORD && (size_t)t->len == strlen(w) &&
	       strncasecmp(s + t->pos, w, (size_t)t->len) == 0;
}

static tok lex_at(const char *s, int pos)
{
	tok t;
	while (is_space(s[pos]))
		pos++;
	t.pos = pos;
	t.len = 1;
	switch (s[pos]) {
	case '\0': t.type = TK_END; t.len = 0; return t;
	case '(': t.type = TK_LP; return t;
	case ')': t.type = TK_RP; return t;
	case '!': t.type = TK_NOT; return t;
	case '&':
	case '|':
		if (s[pos + 1] == s[pos]) {
			t.type = s[pos] == '&' ? TK_AND : TK_OR;
			t.len = 2;
		} else {
			t.type = TK_BAD;
		}
		return t;
	default: break;
	}
	while (s[pos + t.len] && !is_space(s[pos + t.len]) && !is_special(s[pos + t.len]))
		t.len++;
	t.type = TK_WORD;
	if (word_is(s, &t, "and"))
		t.type = TK_AND;
	else if (word_is(s, &t, "or"))
		t.type = TK_OR;
	else if (word_is(s, &t, "not"))
		t.type = TK_NOT;
	return t;
}

/* ----------------------------------------------------------- text buffer */

void idx_sb_put(idx_sbuf *s, const char *t)
{
	size_t n = strlen(t);
	if (s->cap == 0)
		return;
	if (s->len + 1 < s->cap) {
		size_t room = s->cap - 1 - s->len;
		if (n > room)
			n = room;
		memcpy(s->b + s->len, t, n);
		s->len += n;
	}
	s->b[s->len] = '\0';
}

bool idx_sb_full(const idx_sbuf *s)
{
	return s->cap == 0 || s->len + 1 >= s->cap;
}

/* ------------------------------------------------------------- services */

/*
 * Service names for port and portrange, built in because a fresh machine
 * or container may have no /etc/services.  Names, numbers and transports
 * are IANA's as Debian's netbase /etc/services lists them, which is what
 * tcpdump reads on Debian and Ubuntu (pcap-filter(7)).  As in libpcap, a
 * name listed for one transport only also limits the match to it
 * ("port ssh" is "tcp port 22"); a name listed for both is the number
 * alone ("port domain" is "port 53").  netbase lists syslog for tcp too,
 * as an alias of shell (rsh, 514/tcp), so tcpdump's "port syslog" is any
 * transport, and so is ours.  Sorted by name (bsearch).
 */
enum { SV_TCP = 1, SV_UDP = 2, SV_BOTH = 3 };

static const struct service {
	const char *name;
	uint16_t port;
	uint8_t tr;
} services[] = {
	{ "bgp", 179, SV_TCP },
	{ "bootpc", 68, SV_UDP },
	{ "bootps", 67, SV_UDP },
	{ "dhcpv6-client", 546, SV_UDP },
	{ "dhcpv6-server", 547, SV_UDP },
	{ "domain", 53, SV_BOTH },
	{ "domain-s", 853, SV_BOTH },
	{ "epmap", 135, SV_TCP },
	{ "ftp", 21, SV_TCP },
	{ "ftp-data", 20, SV_TCP },
	{ "git", 9418, SV_TCP },
	{ "http", 80, SV_TCP },
	{ "http-alt", 8080, SV_TCP },
	{ "https", 443, SV_BOTH },
	{ "imap", 143, SV_TCP },
	{ "imap2", 143, SV_TCP },
	{ "imaps", 993, SV_TCP },
	{ "ipsec-nat-t", 4500, SV_UDP },
	{ "isakmp", 500, SV_UDP },
	{ "kerberos", 88, SV_BOTH },
	{ "kpasswd", 464, SV_BOTH },
	{ "ldap", 389, SV_BOTH },
	{ "ldaps", 636, SV_BOTH },
	{ "mdns", 5353, SV_UDP },
	{ "microsoft-ds", 445, SV_TCP },
	{ "ms-sql-m", 1434, SV_UDP },
	{ "ms-sql-s", 1433, SV_TCP },
	{ "ms-wbt-server", 3389, SV_TCP },
	{ "mysql", 3306, SV_TCP },
	{ "netbios-dgm", 138, SV_UDP },
	{ "netbios-ns", 137, SV_UDP },
	{ "netbios-ssn", 139, SV_TCP },
	{ "nfs", 2049, SV_BOTH },
	{ "nntp", 119, SV_TCP },
	{ "ntp", 123, SV_UDP },
	{ "openvpn", 1194, SV_BOTH },
	{ "pop3", 110, SV_TCP },
	{ "pop3s", 995, SV_TCP },
	{ "postgres", 5432, SV_TCP },
	{ "postgresql", 5432, SV_TCP },
	{ "radius", 1812, SV_BOTH },
	{ "radius-acct", 1813, SV_BOTH },
	{ "redis", 6379, SV_TCP },
	{ "rsync", 873, SV_TCP },
	{ "sip", 5060, SV_BOTH },
	{ "sip-tls", 5061, SV_BOTH },
	{ "smtp", 25, SV_TCP },
	{ "snmp", 161, SV_BOTH },
	{ "snmp-trap", 162, SV_BOTH },
	{ "socks", 1080, SV_TCP },
	{ "ssh", 22, SV_TCP },
	{ "submission", 587, SV_TCP },
	{ "submissions", 465, SV_TCP },
	{ "sunrpc", 111, SV_BOTH },
	{ "syslog", 514, SV_BOTH },
	{ "telnet", 23, SV_TCP },
	{ "tftp", 69, SV_UDP },
	{ "www", 80, SV_TCP },
	{ "x11", 6000, SV_TCP },
	{ "xmpp-client", 5222, SV_TCP },
};

typedef struct wordkey {
	const char *s;
	size_t n;
} wordkey;

static int service_cmp(const void *key, const void *elem)
{
	const wordkey *k = key;
	const char *name = ((const struct service *)elem)->name;
	int c = strncasecmp(k->s, name, k->n);
	if (c == 0 && name[k->n] != '\0')
		return -1; /* the word is a prefix of the name */
	return c;
}

static const struct service *service_find(const char *s, size_t n)
{
	wordkey k = { s, n };
	return bsearch(&k, services, sizeof services / sizeof services[0], sizeof services[0],
	               service_cmp);
}

static uint8_t service_proto(const struct service *sv)
{
	return sv->tr == SV_TCP ? 6 : sv->tr == SV_UDP ? 17 : 0;
}

bool idx_service_at(size_t i, const char **name, uint16_t *port, uint8_t *proto)
{
	if (i >= sizeof services / sizeof services[0])
		return false;
	*name = services[i].name;
	*port = services[i].port;
	*proto = service_proto(&services[i]);
	return true;
}

/* The transport names that qualify port and portrange. */
const char *idx_l4_name(uint8_t proto)
{
	switch (proto) {
	case 6: return "tcp";
	case 17: return "udp";
	case 132: return "sctp";
	default: return "?";
	}
}

/* --------------------------------------------------------------- parser */

/* One operand of an and/or chain, kept while the chain is parsed so that
 * a chain mixing both can be described in the grouping note. */
typedef struct seqent {
	int pos, end; /* its text */
	int op;       /* TK_AND or TK_OR before it; TK_END for the first */
} seqent;

#define NOTE_MAX 1024

typedef struct parser {
	const char *s;
	uint64_t now;
	tok cur, prev;
	idx_expr *e;
	int cap;
	int depth;
	idx_expr_err *err;
	seqent *seq;    /* a stack: the operands of the chains being parsed */
	int nseq;
	int mixed;      /* chains that mix and/or without parentheses */
	int note_pos;   /* where the chain the note describes starts, -1 none */
	char note[NOTE_MAX];
} parser;

static void advance(parser *p)
{
	p->prev = p->cur;
	p->cur = lex_at(p->s, p->cur.pos + p->cur.len);
}

static tok peek(const parser *p, int k)
{
	tok t = p->cur;
	while (k-- > 0 && t.type != TK_END)
		t = lex_at(p->s, t.pos + t.len);
	return t;
}

__attribute__((format(printf, 3, 4)))
static int fail_at(parser *p, const tok *t, const char *fmt, ...)
{
	va_list ap;
	if (p->err) {
		p->err->pos = t->pos;
		p->err->len = t->len;
		va_start(ap, fmt);
		vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
		va_end(ap);
	}
	return TV_E_SYNTAX;
}

/* Printable (shortened) text of a token for messages. */
static const char *tok_text(const parser *p, const tok *t, char *buf, size_t cap)
{
	size_t n = (size_t)t->len;
	if (t->type == TK_END)
		return "end of expression";
	if (n > 40)
		n = 40;
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, p->s + t->pos, n);
	buf[n] = '\0';
	return buf;
}

/* Copies a word into buf (NUL-terminated); false when it does not fit. */
static bool tok_copy(const parser *p, const tok *t, char *buf, size_t cap)
{
	if (t->type != TK_WORD || (size_t)t->len >= cap)
		return false;
	memcpy(buf, p->s + t->pos, (size_t)t->len);
	buf[t->len] = '\0';
	return true;
}

static bool parse_uint(const char *s, size_t n, uint64_t max, uint64_t *v)
{
	size_t i;
	*v = 0;
	if (n == 0 || n > 10)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return *v <= max;
}

static int new_node(parser *p, int kind, int32_t *out)
{
	idx_xnode *nd;
	if (p->e->n >= p->cap)
		return TV_E_NOMEM; /* cannot happen: nodes <= tokens */
	nd = &p->e->nodes[p->e->n];
	memset(nd, 0, sizeof *nd);
	nd->kind = (uint8_t)kind;
	nd->child = nd->next = -1;
	*out = p->e->n++;
	return 0;
}

/* Protocol names after "proto": the keywords, and the /etc/protocols names
 * tcpdump users meet (ipv6-icmp is what tcpdump itself accepts for 58). */
static const struct {
	const char *name;
	uint8_t num;
} proto_names[] = {
	{ "icmp", 1 }, { "igmp", 2 }, { "tcp", 6 }, { "udp", 17 }, { "gre", 47 },
	{ "esp", 50 }, { "ah", 51 }, { "icmp6", 58 }, { "icmpv6", 58 }, { "ipv6-icmp", 58 },
	{ "ospf", 89 }, { "pim", 103 }, { "vrrp", 112 }, { "sctp", 132 },
};

/* A protocol name or number.  tcpdump needs a backslash before names that
 * are also keywords ("ip proto \tcp"); it is accepted and not needed. */
static bool proto_lookup(const parser *p, const tok *t, uint8_t *num)
{
	size_t i, n;
	const char *w;
	uint64_t v;
	if (t->type != TK_WORD)
		return false;
	w = p->s + t->pos;
	n = (size_t)t->len;
	if (n > 1 && w[0] == '\\') {
		w++;
		n--;
	}
	for (i = 0; i < sizeof proto_names / sizeof proto_names[0]; i++)
		if (strlen(proto_names[i].name) == n && strncasecmp(w, proto_names[i].name, n) == 0) {
			*num = proto_names[i].num;
			return true;
		}
	if (parse_uint(w, n, 255, &v)) {
		*num = (uint8_t)v;
		return true;
	}
	return false;
}

const char *idx_dir_name(int dir)
{
	switch (dir) {
	case IDX_D_SRC: return "src ";
	case IDX_D_DST: return "dst ";
	case IDX_D_BOTH: return "src and dst ";
	default: return "";
	}
}

/* "ip host A" takes IPv4 text, "ip6 host A" IPv6 text (::ffff:A
 * included), as tcpdump's do. */
static int ipver_check(parser *p, const tok *t, int ipver, bool v6text, const char *what)
{
	char tb[48];
	if (ipver == 4 && v6text)
		return fail_at(p, t, "'ip' needs an IPv4 %s; '%s' is IPv6 (ip6 takes it)", what,
		               tok_text(p, t, tb, sizeof tb));
	if (ipver == 6 && !v6text)
		return fail_at(p, t, "'ip6' needs an IPv6 %s; '%s' is IPv4 (ip takes it)", what,
		               tok_text(p, t, tb, sizeof tb));
	return 0;
}

static int parse_host(parser *p, int dir, int ipver, const tok *kw, int32_t *out)
{
	char buf[64], kb[48];
	tv_addr a;
	idx_xnode *nd;
	int rc;
	if (!tok_copy(p, &p->cur, buf, sizeof buf) || tv_addr_parse(buf, &a) != 0)
		return fail_at(p, &p->cur, "expected an address after '%s'",
		               kw ? tok_text(p, kw, kb, sizeof kb) : "host");
	if ((rc = ipver_check(p, &p->cur, ipver, strchr(buf, ':') != NULL, "address")) != 0)
		return rc;
	if ((rc = new_node(p, IDX_X_HOST, out)) != 0)
		return rc;
	nd = &p->e->nodes[*out];
	nd->dir = (uint8_t)dir;
	nd->ipver = (uint8_t)ipver;
	nd->addr = a;
	advance(p);
	return 0;
}

static int parse_net(parser *p, int dir, int ipver, int32_t *out)
{
	char buf[80], tb[48];
	char *slash;
	tv_addr a;
	uint64_t len;
	unsigned plen, i;
	bool v4;
	idx_xnode *nd;
	int rc;
	tok t = p->cur;

	if (!tok_copy(p, &t, buf, sizeof buf))
		return fail_at(p, &t, "expected a network (ADDR/LEN) after 'net'");
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (tv_addr_parse(buf, &a) != 0)
		return fail_at(p, &t, "expected a network (ADDR/LEN) after 'net'");
	v4 = strchr(buf, ':') == NULL;
	if (slash) {
		if (!parse_uint(slash + 1, strlen(slash + 1), v4 ? 32 : 128, &len))
			return fail_at(p, &t, "prefix length of '%s' must be 0-%d",
			               tok_text(p, &t, tb, sizeof tb), v4 ? 32 : 128);
	} else {
		len = v4 ? 32 : 128;
	}
	plen = (unsigned)len + (v4 ? 96 : 0);
	for (i = plen; i < 128; i++)
		if (a.b[i / 8] & (0x80u >> (i % 8)))
			return fail_at(p, &t, "non-network bits set in '%s'",
			               tok_text(p, &t, tb, sizeof tb));
	if ((rc = ipver_check(p, &t, ipver, !v4, "network")) != 0)
		return rc;
	if ((rc = new_node(p, IDX_X_NET, out)) != 0)
		return rc;
	nd = &p->e->nodes[*out];
	nd->dir = (uint8_t)dir;
	nd->ipver = (uint8_t)ipver;
	nd->addr = a;
	nd->plen = (uint8_t)plen;
	nd->v4 = v4;
	advance(p);
	return 0;
}

/* A port number or service name; *proto is the transport a name limits
 * the match to (0: any, and always for a number). */
static bool port_word(const char *w, size_t n, uint16_t *port, uint8_t *proto)
{
	uint64_t v;
	const struct service *sv;
	if (parse_uint(w, n, 65535, &v)) {
		*port = (uint16_t)v;
		*proto = 0;
		return true;
	}
	if (n == 0 || (sv = service_find(w, n)) == NULL)
		return false;
	*port = sv->port;
	*proto = service_proto(sv);
	return true;
}

/*
 * port P | portrange P-P, P a number or a service name.  Names may hold
 * '-' (ftp-data), so a range is split at the one '-' that leaves a port on
 * both sides.  The transport of a range is that of its two ends when they
 * agree, else any (libpcap's rule).  qual is the "tcp|udp|sctp" before it.
 */
static int parse_port(parser *p, int dir, uint8_t qual, bool range, int32_t *out)
{
	tok t = p->cur;
	uint16_t lo = 0, hi = 0;
	uint8_t proto = 0;
	idx_xnode *nd;
	int rc;
	const char *w = p->s + t.pos;
	char tb[48];

	if (!range) {
		if (t.type != TK_WORD || !port_word(w, (size_t)t.len, &lo, &proto))
			return fail_at(p, &t,
			               "expected a port number (0-65535) or a service name after 'port'");
		hi = lo;
	} else {
		int i, splits = 0;
		for (i = 1; t.type == TK_WORD && i < t.len - 1; i++) {
			uint16_t a, b;
			uint8_t pa, pb;
			if (w[i] != '-' || !port_word(w, (size_t)i, &a, &pa) ||
			    !port_word(w + i + 1, (size_t)(t.len - i - 1), &b, &pb))
				continue;
			splits++;
			lo = a;
			hi = b;
			proto = pa == pb ? pa : 0;
		}
		if (splits == 0)
			return fail_at(p, &t, "expected a port range N-M (0-65535 or service names) "
			                      "after 'portrange'");
		if (splits > 1)
			return fail_at(p, &t, "port range '%s' splits at more than one '-'",
			               tok_text(p, &t, tb, sizeof tb));
		if (lo > hi)
			return fail_at(p, &t, "port range N-M needs N <= M");
	}
	if (qual && proto && proto != qual) {
		if (!range)
			return fail_at(p, &t, "service '%s' is %s only (port %u)",
			               tok_text(p, &t, tb, sizeof tb), idx_l4_name(proto), (unsigned)lo);
		return fail_at(p, &t, "services '%s' are %s only (ports %u-%u)",
		               tok_text(p, &t, tb, sizeof tb), idx_l4_name(proto), (unsigned)lo,
		               (unsigned)hi);
	}
	if ((rc = new_node(p, IDX_X_PORT, out)) != 0)
		return rc;
	nd = &p->e->nodes[*out];
	nd->dir = (uint8_t)dir;
	nd->port_lo = lo;
	nd->port_hi = hi;
	nd->range = range;
	nd->proto = qual ? qual : proto;
	advance(p);
	return 0;
}

/* after/before: one word, or "N ago"/"Nu ago" words, or "N u ago". */
static int parse_time(parser *p, int kind, const tok *kw, int32_t *out)
{
	char buf[96], kb[16];
	tok t1 = p->cur, t2 = peek(p, 1), t3 = peek(p, 2), last = t1;
	int nwords = 1, rc;
	size_t len;
	uint64_t ts;
	tok span;

	if (t1.type == TK_WORD && t2.type == TK_WORD && word_is(p->s, &t2, "ago")) {
		nwords = 2;
		last = t2;
	} else if (t1.type == TK_WORD && t2.type == TK_WORD && t3.type == TK_WORD &&
	           word_is(p->s, &t3, "ago")) {
		nwords = 3;
		last = t3;
	}
	span.type = TK_WORD;
	span.pos = t1.pos;
	span.len = last.pos + last.len - t1.pos;
	if (t1.type != TK_WORD) {
		span = t1;
		goto bad;
	}
	/* Join the words with single spaces. */
	{
		tok w = t1;
		int i;
		len = 0;
		for (i = 0; i < nwords; i++) {
			if (len + (size_t)w.len + 2 > sizeof buf)
				goto bad;
			if (i)
				buf[len++] = ' ';
			memcpy(buf + len, p->s + w.pos, (size_t)w.len);
			len += (size_t)w.len;
			w = lex_at(p->s, w.pos + w.len);
		}
		buf[len] = '\0';
	}
	rc = tv_time_parse(buf, p->now, &ts);
	if (rc == TV_E_RANGE)
		return fail_at(p, &span, "time '%s' is out of range (1970 to 2554)", buf);
	if (rc)
		goto bad;
	if ((rc = new_node(p, kind, out)) != 0)
		return rc;
	p->e->nodes[*out].ts = ts;
	while (nwords--)
		advance(p);
	return 0;
bad:
	return fail_at(p, &span,
	               "expected a time after '%s' (RFC 3339, unix seconds or 'N{s,m,h,d} ago')",
	               tok_text(p, kw, kb, sizeof kb));
}

static int parse_or(parser *p, int32_t *out, int *h);

enum prim_type { PT_NONE, PT_HOST, PT_NET, PT_PORT, PT_RANGE, PT_PROTO };

static bool is_word(const parser *p, const tok *t, const char *const *ws)
{
	for (; *ws; ws++)
		if (word_is(p->s, t, *ws))
			return true;
	return false;
}

static const char *const qual_words[] = { "ip", "ip6", "tcp", "udp", "sctp",
	                                  "icmp", "icmp6", "icmpv6", NULL };
static const char *const after_qual[] = { "host", "net", "port", "portrange", "proto",
	                                  "src", "dst", NULL };

/*
 * A primitive that is a keyword alone (tcp, udp, sctp, icmp, icmp6, ip,
 * ip6) or a keyword and its value (vni, after, before); otherwise the
 * error that says what kw should have been.
 */
static int parse_keyword(parser *p, const tok *kw, int32_t *out)
{
	char tb[48], qb[48];
	uint8_t proto;
	uint64_t v;
	int rc;

	if (word_is(p->s, kw, "tcp") || word_is(p->s, kw, "udp") || word_is(p->s, kw, "sctp") ||
	    word_is(p->s, kw, "icmp") || word_is(p->s, kw, "icmp6") ||
	    word_is(p->s, kw, "icmpv6")) {
		proto_lookup(p, kw, &proto);
		if ((rc = new_node(p, IDX_X_PROTO, out)) != 0)
			return rc;
		p->e->nodes[*out].proto = proto;
		advance(p);
		return 0;
	}
	if (word_is(p->s, kw, "ip") || word_is(p->s, kw, "ip6")) {
		if ((rc = new_node(p, word_is(p->s, kw, "ip") ? IDX_X_IP : IDX_X_IP6, out)) != 0)
			return rc;
		advance(p);
		return 0;
	}
	if (word_is(p->s, kw, "vni")) {
		advance(p);
		if (word_is(p->s, &p->cur, "none"))
			v = TV_VNI_NONE;
		else if (p->cur.type != TK_WORD ||
		         !parse_uint(p->s + p->cur.pos, (size_t)p->cur.len, 16777215, &v))
			return fail_at(p, &p->cur,
			               "expected a VNI (0-16777215 or 'none') after 'vni'");
		if ((rc = new_node(p, IDX_X_VNI, out)) != 0)
			return rc;
		p->e->nodes[*out].vni = (uint32_t)v;
		advance(p);
		return 0;
	}
	if (word_is(p->s, kw, "eni")) {
		advance(p);
		if (p->cur.type != TK_WORD)
			return fail_at(p, &p->cur, "expected an interface id after 'eni'");
		return fail_at(p, kw, "eni needs a VNI map (not yet supported)");
	}
	if (word_is(p->s, kw, "after") || word_is(p->s, kw, "before")) {
		int kind = word_is(p->s, kw, "after") ? IDX_X_AFTER : IDX_X_BEFORE;
		advance(p);
		return parse_time(p, kind, kw, out);
	}
	if (kw->type == TK_BAD)
		return fail_at(p, kw, "unexpected character '%c'", p->s[kw->pos]);
	{
		/* tcpdump reads a bare address as host, and a bare value after
		 * and/or with the keywords of the primitive before it */
		char buf[64];
		tv_addr a;
		uint16_t port;
		if (tok_copy(p, kw, buf, sizeof buf) && tv_addr_parse(buf, &a) == 0)
			return fail_at(p, kw, "unexpected address '%s': write 'host %s' (no keyword "
			                       "is implied or repeated, as tcpdump would)",
			               tok_text(p, kw, tb, sizeof tb), tok_text(p, kw, qb, sizeof qb));
		if (kw->type == TK_WORD && port_word(p->s + kw->pos, (size_t)kw->len, &port, &proto))
			return fail_at(p, kw, "unexpected word '%s': write its keyword, e.g. 'port %s' "
			                       "(no keyword is repeated, as tcpdump would)",
			               tok_text(p, kw, tb, sizeof tb), tok_text(p, kw, qb, sizeof qb));
	}
	return fail_at(p, kw,
	               "unexpected word '%s': expected host, net, port, portrange, proto, tcp, "
	               "udp, icmp, ip, ip6, vni, after, before, not or '('",
	               tok_text(p, kw, tb, sizeof tb));
}

/*
 * [qualifier] [dir] type id, as pcap-filter(7) orders them: host, net and
 * proto take ip or ip6 (that IP version only), port and portrange take
 * tcp, udp or sctp (that transport only).  A protocol word followed by one
 * of these keywords is a qualifier; alone it is a primitive.
 */
static int parse_primitive(parser *p, int32_t *out)
{
	tok kw = p->cur, qt, tt;
	char tb[48], qb[48];
	int dir = IDX_D_ANY, type = PT_NONE, ipver = 0, rc;
	uint8_t l4 = 0, proto;
	bool qualified = false, have_dir = false;
	idx_xnode *nd;

	qt = kw;
	if (is_word(p, &kw, qual_words)) {
		tok n1 = peek(p, 1);
		if (is_word(p, &n1, after_qual)) {
			qualified = true;
			if (word_is(p->s, &kw, "ip"))
				ipver = 4;
			else if (word_is(p->s, &kw, "ip6"))
				ipver = 6;
			else if (word_is(p->s, &kw, "tcp"))
				l4 = 6;
			else if (word_is(p->s, &kw, "udp"))
				l4 = 17;
			else if (word_is(p->s, &kw, "sctp"))
				l4 = 132;
			advance(p);
			kw = p->cur;
		}
	}
	if (word_is(p->s, &kw, "src") || word_is(p->s, &kw, "dst")) {
		tok n1 = peek(p, 1), n2 = peek(p, 2);
		bool src = word_is(p->s, &kw, "src");
		dir = src ? IDX_D_SRC : IDX_D_DST;
		if (src && (n1.type == TK_OR || n1.type == TK_AND) && word_is(p->s, &n2, "dst")) {
			dir = n1.type == TK_OR ? IDX_D_ANY : IDX_D_BOTH;
			advance(p);
			advance(p);
			kw = p->cur; /* 'dst' */
		}
		advance(p);
		have_dir = true;
	}
	tt = p->cur;
	if (word_is(p->s, &tt, "host"))
		type = PT_HOST;
	else if (word_is(p->s, &tt, "net"))
		type = PT_NET;
	else if (word_is(p->s, &tt, "port"))
		type = PT_PORT;
	else if (word_is(p->s, &tt, "portrange"))
		type = PT_RANGE;
	else if (word_is(p->s, &tt, "proto") && !have_dir)
		type = PT_PROTO;
	if (type != PT_NONE) {
		kw = tt;
		advance(p);
	} else if (have_dir) {
		/* "src 10.0.0.1": host is implied, as in tcpdump */
		char buf[64];
		tv_addr a;
		if (!tok_copy(p, &tt, buf, sizeof buf) || tv_addr_parse(buf, &a) != 0)
			return fail_at(p, &tt,
			               "expected host, net, port, portrange or an address after '%s'",
			               tok_text(p, &kw, tb, sizeof tb));
		type = PT_HOST;
	}
	if (qualified) {
		bool l3type = type == PT_HOST || type == PT_NET || type == PT_PROTO;
		if ((ipver && !l3type) || (l4 && l3type) || (!ipver && !l4))
			return fail_at(p, &tt,
			               "'%s' cannot qualify '%s': host, net and proto take ip or ip6; "
			               "port and portrange take tcp, udp or sctp",
			               tok_text(p, &qt, qb, sizeof qb), tok_text(p, &tt, tb, sizeof tb));
	}
	switch (type) {
	case PT_HOST: return parse_host(p, dir, ipver, &kw, out);
	case PT_NET: return parse_net(p, dir, ipver, out);
	case PT_PORT: return parse_port(p, dir, l4, false, out);
	case PT_RANGE: return parse_port(p, dir, l4, true, out);
	case PT_PROTO:
		if (!proto_lookup(p, &p->cur, &proto))
			return fail_at(p, &p->cur,
			               "expected a protocol name or number (0-255) after 'proto'");
		if ((rc = new_node(p, IDX_X_PROTO, out)) != 0)
			return rc;
		nd = &p->e->nodes[*out];
		nd->proto = proto;
		nd->ipver = (uint8_t)ipver;
		advance(p);
		return 0;
	default:
		break;
	}

	return parse_keyword(p, &kw, out);
}

/*
 * Nesting: *h is the number of nots and parentheses that hold something
 * other than an and chain, on the deepest path.  At most IDX_X_MAXDEPTH.
 * Parentheses around an and chain do not count because the normal form
 * adds them inside every or: so the normal form of an accepted expression
 * nests no deeper by this count, and at most 2 * IDX_X_MAXDEPTH + 1 in
 * all, which IDX_X_MAXNEST (the guard of this recursion) allows.
 */
static int parse_unary(parser *p, int32_t *out, int *h)
{
	int rc;
	char tb[48];
	*h = 0;
	if (p->depth >= IDX_X_MAXNEST)
		return fail_at(p, &p->cur,
		               "expression nested too deeply (more than %d parentheses and nots)",
		               IDX_X_MAXNEST);
	switch (p->cur.type) {
	case TK_NOT: {
		int32_t child, n;
		tok nt = p->cur;
		p->depth++;
		advance(p);
		rc = parse_unary(p, &child, h);
		p->depth--;
		if (rc)
			return rc;
		if (++*h > IDX_X_MAXDEPTH)
			return fail_at(p, &nt, "expression nested too deeply (more than %d levels)",
			               IDX_X_MAXDEPTH);
		if ((rc = new_node(p, IDX_X_NOT, &n)) != 0)
			return rc;
		p->e->nodes[n].child = child;
		*out = n;
		return 0;
	}
	case TK_LP: {
		tok open = p->cur;
		p->depth++;
		advance(p);
		rc = parse_or(p, out, h);
		p->depth--;
		if (rc)
			return rc;
		if (p->cur.type == TK_END)
			return fail_at(p, &open, "unbalanced parenthesis");
		if (p->cur.type != TK_RP)
			return fail_at(p, &p->cur, "unexpected word '%s': expected and, or or ')'",
			               tok_text(p, &p->cur, tb, sizeof tb));
		if (p->e->nodes[*out].kind != IDX_X_AND && ++*h > IDX_X_MAXDEPTH)
			return fail_at(p, &open, "expression nested too deeply (more than %d levels)",
			               IDX_X_MAXDEPTH);
		advance(p);
		return 0;
	}
	case TK_END:
	case TK_RP:
	case TK_AND:
	case TK_OR:
		if (p->prev.len > 0) {
			char pb[48];
			return fail_at(p, &p->cur, "expected an expression after '%s'",
			               tok_text(p, &p->prev, pb, sizeof pb));
		}
		if (p->cur.type == TK_RP)
			return fail_at(p, &p->cur, "unbalanced parenthesis");
		return fail_at(p, &p->cur, "unexpected word '%s': expected an expression",
		               tok_text(p, &p->cur, tb, sizeof tb));
	default:
		return parse_primitive(p, out);
	}
}

/* Appends operand o to the n-ary node n, splicing o's own operands in when
 * it is the same operator, so "(a and b) and c" is one node. */
static void nary_add(idx_expr *e, int32_t n, int32_t *tail, int32_t o)
{
	int32_t first = o, last = o;
	if (e->nodes[o].kind == e->nodes[n].kind) {
		first = e->nodes[o].child;
		for (last = first; e->nodes[last].next >= 0; last = e->nodes[last].next)
			;
	}
	if (*tail < 0)
		e->nodes[n].child = first;
	else
		e->nodes[*tail].next = first;
	*tail = last;
}

/* --------------------------------------------------------- grouping note */

/* Text of the expression from pos to end, its white space runs made one
 * space, so that the note stays on one line. */
static void note_text(idx_sbuf *s, const char *t, int pos, int end)
{
	char c[2] = { 0, 0 };
	bool sp = false;
	int i;
	for (i = pos; i < end && !idx_sb_full(s); i++) {
		if (is_space(t[i])) {
			sp = true;
			continue;
		}
		if (sp)
			idx_sb_put(s, " ");
		sp = false;
		c[0] = t[i];
		idx_sb_put(s, c);
	}
}

/*
 * A chain a OP b OP c ... that mixes and and or: how it was read (and
 * before or), and how tcpdump reads it (left to right, pcap-filter(7)
 * gives and and or equal precedence).
 */
static void note_render(parser *p, const seqent *q, int n)
{
	idx_sbuf s = { p->note, sizeof p->note, 0 };
	int i;
	p->note[0] = '\0';
	idx_sb_put(&s, "read as (");
	for (i = 0; i < n; i++) {
		if (i)
			idx_sb_put(&s, q[i].op == TK_OR ? ") or (" : " and ");
		note_text(&s, p->s, q[i].pos, q[i].end);
	}
	idx_sb_put(&s, "); tcpdump reads 'and'/'or' left to right at equal precedence: ");
	for (i = 1; i < n && !idx_sb_full(&s); i++)
		idx_sb_put(&s, "(");
	for (i = 0; i < n; i++) {
		if (i)
			idx_sb_put(&s, q[i].op == TK_OR ? " or " : " and ");
		note_text(&s, p->s, q[i].pos, q[i].end);
		if (i)
			idx_sb_put(&s, ")");
	}
	if (idx_sb_full(&s))
		memcpy(p->note + s.len - 3, "...", 3);
}

static void seq_push(parser *p, int pos, int op)
{
	/* cannot overflow: one entry per operand, at least one token each */
	if (p->nseq < p->cap) {
		p->seq[p->nseq].pos = pos;
		p->seq[p->nseq].end = p->prev.pos + p->prev.len;
		p->seq[p->nseq].op = op;
		p->nseq++;
	}
}

/* The chain whose operands start at seq[base] is complete: note it when it
 * mixes and and or (the outermost, leftmost such chain is described), and
 * drop its operands. */
static void seq_done(parser *p, int base)
{
	int i, nand = 0, nor = 0;
	for (i = base + 1; i < p->nseq; i++) {
		if (p->seq[i].op == TK_AND)
			nand++;
		else
			nor++;
	}
	if (nand && nor) {
		p->mixed++;
		if (p->note_pos < 0 || p->seq[base].pos < p->note_pos) {
			p->note_pos = p->seq[base].pos;
			note_render(p, p->seq + base, p->nseq - base);
		}
	}
	p->nseq = base;
}

/* ----------------------------------------------------------- and / or */

static int parse_and(parser *p, int32_t *out, int *h)
{
	int32_t first, n, tail = -1, o;
	int rc, pos = p->cur.pos, ho;
	if ((rc = parse_unary(p, &first, h)) != 0)
		return rc;
	seq_push(p, pos, TK_END);
	if (p->cur.type != TK_AND) {
		*out = first;
		return 0;
	}
	if ((rc = new_node(p, IDX_X_AND, &n)) != 0)
		return rc;
	nary_add(p->e, n, &tail, first);
	while (p->cur.type == TK_AND) {
		advance(p);
		pos = p->cur.pos;
		if ((rc = parse_unary(p, &o, &ho)) != 0)
			return rc;
		if (ho > *h)
			*h = ho;
		seq_push(p, pos, TK_AND);
		nary_add(p->e, n, &tail, o);
	}
	*out = n;
	return 0;
}

static int parse_or(parser *p, int32_t *out, int *h)
{
	int32_t first, n, tail = -1, o;
	int rc, base = p->nseq, mark, ho;
	if ((rc = parse_and(p, &first, h)) != 0)
		return rc;
	if (p->cur.type != TK_OR) {
		seq_done(p, base);
		*out = first;
		return 0;
	}
	if ((rc = new_node(p, IDX_X_OR, &n)) != 0)
		return rc;
	nary_add(p->e, n, &tail, first);
	while (p->cur.type == TK_OR) {
		advance(p);
		mark = p->nseq;
		if ((rc = parse_and(p, &o, &ho)) != 0)
			return rc;
		if (ho > *h)
			*h = ho;
		if (mark < p->nseq)
			p->seq[mark].op = TK_OR;
		nary_add(p->e, n, &tail, o);
	}
	seq_done(p, base);
	*out = n;
	return 0;
}

/* The note as the caller sees it: the chain, and how many more there are. */
static int note_finish(parser *p)
{
	char more[80] = "";
	size_t n;
	if (p->mixed == 0)
		return 0;
	if (p->mixed > 1)
		snprintf(more, sizeof more, "; %d other group%s mix%s 'and' and 'or' too",
		         p->mixed - 1, p->mixed > 2 ? "s" : "", p->mixed > 2 ? "" : "es");
	n = strlen(p->note) + strlen(more) + 1;
	p->e->note = malloc(n);
	if (!p->e->note)
		return TV_E_NOMEM;
	snprintf(p->e->note, n, "%s%s", p->note, more);
	return 0;
}

int idx_expr_parse(const char *text, uint64_t now_ns, idx_expr **out, idx_expr_err *err)
{
	parser *p;
	int ntok = 0, pos = 0, rc, h;
	tok t;
	char tb[48];

	*out = NULL;
	if (err) {
		err->pos = err->len = 0;
		err->msg[0] = '\0';
	}
	if (!text)
		text = "";
	for (t = lex_at(text, 0); t.type != TK_END; t = lex_at(text, pos)) {
		pos = t.pos + t.len;
		if (++ntok > 1000000) {
			if (err) {
				err->pos = t.pos;
				err->len = t.len;
				snprintf(err->msg, sizeof err->msg, "expression too long");
			}
			return TV_E_SYNTAX;
		}
	}
	p = calloc(1, sizeof *p);
	if (!p)
		return TV_E_NOMEM;
	p->s = text;
	p->now = now_ns;
	p->err = err;
	p->cap = ntok;
	p->note_pos = -1;
	p->e = malloc(sizeof *p->e + (size_t)(ntok ? ntok : 1) * sizeof(idx_xnode));
	if (p->e)
		p->e->note = NULL;
	p->seq = malloc((size_t)(ntok ? ntok : 1) * sizeof *p->seq);
	if (!p->e || !p->seq) {
		rc = TV_E_NOMEM;
		goto fail;
	}
	p->e->root = -1;
	p->e->n = 0;
	p->cur = lex_at(text, 0);
	p->prev.type = TK_END;
	p->prev.pos = p->prev.len = 0;
	if (p->cur.type == TK_END)
		goto done;
	rc = parse_or(p, &p->e->root, &h);
	if (rc == 0 && p->cur.type != TK_END) {
		if (p->cur.type == TK_RP)
			rc = fail_at(p, &p->cur, "unbalanced parenthesis");
		else
			rc = fail_at(p, &p->cur,
			             "unexpected word '%s': expected and, or or end of expression",
			             tok_text(p, &p->cur, tb, sizeof tb));
	}
	if (rc == 0)
		rc = note_finish(p);
	if (rc)
		goto fail;
done:
	*out = p->e;
	free(p->seq);
	free(p);
	return 0;
fail:
	idx_expr_free(p->e);
	free(p->seq);
	free(p);
	return rc;
}

int idx_expr_time_window(uint64_t from_ns, uint64_t before_ns, idx_expr **out)
{
	idx_expr *e = calloc(1, sizeof *e + 3 * sizeof(idx_xnode));
	int32_t i;
	*out = NULL;
	if (!e)
		return TV_E_NOMEM;
	for (i = 0; i < 3; i++)
		e->nodes[i].child = e->nodes[i].next = -1;
	e->nodes[0].kind = IDX_X_AFTER;
	e->nodes[0].ts = from_ns;
	e->n = 1;
	e->root = 0;
	if (before_ns) {
		e->nodes[1].kind = IDX_X_BEFORE;
		e->nodes[1].ts = before_ns;
		e->nodes[2].kind = IDX_X_AND;
		e->nodes[2].child = 0;
		e->nodes[0].next = 1;
		e->n = 3;
		e->root = 2;
	}
	*out = e;
	return 0;
}

void idx_expr_free(idx_expr *e)
{
	if (!e)
		return;
	free(e->note);
	free(e);
}

const char *idx_expr_note(const idx_expr *e)
{
	return e ? e->note : NULL;
}
