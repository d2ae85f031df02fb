/*
 * payload.c — what the first payload bytes of a packet say, which a flow log
 * cannot: the protocol actually spoken, names, banners and cleartext
 * credentials.  One packet at a time; every parser is a tv_cur cursor over
 * untrusted bytes that checks each length against what remains.
 *
 * Why not nDPI: its
 * 4.2 API (Debian bookworm) classifies well but does not hand out the
 * evidence we report (the HTTP Authorization value, full FTP passwords), so
 * these extractors would be needed anyway.
 */
#include "audit.h"

#include <string.h>
#include <strings.h>

static const char *const APP_NAMES[REPORT_APP__COUNT] = {
	"unknown", "tls", "http", "dns", "ssh", "ftp", "pop3", "imap", "telnet", "smtp",
};

const char *report_app_name(int app)
{
	return app >= 0 && app < REPORT_APP__COUNT ? APP_NAMES[app] : "unknown";
}

int report_app_by_port(uint16_t port)
{
	switch (port) {
	case 80: case 8080: case 8000: case 8008: return REPORT_APP_HTTP;
	case 443: case 8443: case 993: case 995: case 465: case 636: return REPORT_APP_TLS;
	case 22: return REPORT_APP_SSH;
	case 53: return REPORT_APP_DNS;
	case 21: return REPORT_APP_FTP;
	case 110: return REPORT_APP_POP3;
	case 143: return REPORT_APP_IMAP;
	case 23: return REPORT_APP_TELNET;
	case 25: case 587: return REPORT_APP_SMTP;
	default: return REPORT_APP_UNKNOWN;
	}
}

void report_redact(const char *s, char *out, size_t cap)
{
	size_t n = strlen(s), i, k = 0;
	if (cap == 0)
		return;
	if (n == 0 || cap < 2) {
		out[0] = '\0';
		return;
	}
	out[k++] = s[0];
	for (i = 1; i < n && i <= 8 && k + 1 < cap; i++)
		out[k++] = '*';
	out[k] = '\0';
}

/* Copies n bytes as printable ASCII into dst (cap), '?' for the rest. */
static void copy_text(char *dst, size_t cap, const uint8_t *p, size_t n)
{
	size_t i;
	if (cap == 0)
		return;
	if (n > cap - 1)
		n = cap - 1;
	for (i = 0; i < n; i++)
		dst[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	dst[n] = '\0';
}

/* Length of the line at c (up to CR or LF); *full says a line end was found. */
static size_t line_len(const tv_cur *c, bool *full)
{
	size_t i;
	for (i = 0; i < c->left; i++)
		if (c->p[i] == '\r' || c->p[i] == '\n') {
			*full = true;
			return i;
		}
	*full = false;
	return c->left;
}

/* Advances past one line and its line end. */
static void skip_line(tv_cur *c)
{
	bool full;
	size_t n = line_len(c, &full);
	tv_cur_skip(c, n);
	if (c->left && c->p[0] == '\r')
		tv_cur_skip(c, 1);
	if (c->left && c->p[0] == '\n')
		tv_cur_skip(c, 1);
}

static bool starts_with(const tv_cur *c, const char *s)
{
	size_t n = strlen(s);
	return c->left >= n && memcmp(c->p, s, n) == 0;
}

static bool starts_with_ci(const tv_cur *c, const char *s)
{
	size_t n = strlen(s);
	return c->left >= n && strncasecmp((const char *)c->p, s, n) == 0;
}

/* ------------------------------------------------------------------ TLS */

/*
 * TLS record (RFC 8446 §5.1) carrying a ClientHello (§4.1.2):
 *
 *   record:     type(1)=22  legacy_version(2)=0x03xx  length(2)
 *   handshake:  msg_type(1)=1  length(3)
 *   hello:      version(2) random(32) session_id<0..32> cipher_suites<2..2^16-2>
 *               compression_methods<1..2^8-1> extensions<0..2^16-1>
 *   extension:  type(2) length(2) data;  server_name (0, RFC 6066 §3):
 *               list_length(2) { name_type(1)=0 length(2) host_name }
 *
 * A ServerHello (msg_type 2) or any other record header with a sane version
 * also counts as TLS.  The record may be cut by the segment: we read what is
 * there and stop at the first short field.
 */
static bool look_tls(tv_cur c, report_payload *out)
{
	uint8_t type, maj, min, hs, b;
	uint16_t rlen, v, n16, ext_len;
	uint32_t hlen;
	tv_cur h, ex;

	if (!tv_cur_u8(&c, &type) || !tv_cur_u8(&c, &maj) || !tv_cur_u8(&c, &min) || !tv_cur_be16(&c, &rlen))
		return false;
	if (type < 20 || type > 23 || maj != 3 || min > 4 || rlen == 0 || rlen > 16384 + 2048)
		return false;
	if (type != 22)
		return false; /* application data alone is not proof enough */
	h = c;
	if (h.left > rlen)
		h.left = rlen;
	if (!tv_cur_u8(&h, &hs) || (hs != 1 && hs != 2))
		return false;
	if (!tv_cur_u8(&h, &b) || !tv_cur_be16(&h, &n16))
		return false;
	hlen = ((uint32_t)b << 16) | n16;
	if (hlen < 38)
		return false;
	if (!tv_cur_be16(&h, &v) || (v >> 8) != 3)
		return false;
	out->app = REPORT_APP_TLS;
	if (hs != 1)
		return true;
	if (!tv_cur_skip(&h, 32) || !tv_cur_u8(&h, &b) || b > 32 || !tv_cur_skip(&h, b))
		return true;
	if (!tv_cur_be16(&h, &n16) || !tv_cur_skip(&h, n16))
		return true;
	if (!tv_cur_u8(&h, &b) || !tv_cur_skip(&h, b))
		return true;
	if (!tv_cur_be16(&h, &ext_len))
		return true;
	ex = h;
	if (ex.left > ext_len)
		ex.left = ext_len;
	while (ex.left >= 4) {
		uint16_t et, el;
		tv_cur_be16(&ex, &et);
		tv_cur_be16(&ex, &el);
		if (el > ex.left)
			return true;
		if (et == 0) {
			tv_cur sn = tv_cur_make(ex.p, el);
			uint16_t list, nl;
			uint8_t nt;
			if (!tv_cur_be16(&sn, &list))
				return true;
			if (sn.left > list)
				sn.left = list;
			while (tv_cur_u8(&sn, &nt) && tv_cur_be16(&sn, &nl)) {
				if (nl > sn.left)
					return true;
				if (nt == 0) {
					copy_text(out->sni, sizeof out->sni, sn.p, nl);
					return true;
				}
				tv_cur_skip(&sn, nl);
			}
			return true;
		}
		tv_cur_skip(&ex, el);
	}
	return true;
}

/* ----------------------------------------------------------------- HTTP */

/* Base64 (RFC 4648 §4) of n bytes into out (cap, NUL added); false on bad input. */
static bool b64_decode(const uint8_t *p, size_t n, char *out, size_t cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t i, k = 0;
	for (i = 0; i < n; i++) {
		int v;
		uint8_t ch = p[i];
		if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
		else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
		else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
		else if (ch == '+') v = 62;
		else if (ch == '/') v = 63;
		else if (ch == '=') break;
		else return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (k + 1 >= cap)
				return false;
			out[k++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[k] = '\0';
	return k > 0;
}

static const char *const METHODS[] = { "GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE" };

/*
 * HTTP/1.x request (RFC 9112 §3): method SP request-target SP HTTP-version
 * CRLF, then header fields "name: value" CRLF.  We take Host and an
 * Authorization with the Basic scheme (RFC 7617: base64 of user ":" pass).
 * A response status line "HTTP/1.x NNN" also counts as HTTP.
 */
static bool look_http(tv_cur c, report_payload *out)
{
	size_t i, n, sp1 = 0, sp2 = 0;
	bool full;
	const char *m = NULL;

	if (starts_with(&c, "HTTP/1.") && c.left >= 12 && c.p[8] == ' ' && c.p[9] >= '1' && c.p[9] <= '5') {
		out->app = REPORT_APP_HTTP;
		return true;
	}
	for (i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++) {
		size_t ml = strlen(METHODS[i]);
		if (c.left > ml && memcmp(c.p, METHODS[i], ml) == 0 && c.p[ml] == ' ') {
			m = METHODS[i];
			break;
		}
	}
	if (!m)
		return false;
	n = line_len(&c, &full);
	for (i = 0; i < n; i++)
		if (c.p[i] == ' ') {
			if (!sp1)
				sp1 = i;
			else if (!sp2)
				sp2 = i;
		}
	/* the version must be there when the line is complete; a cut line is
	 * accepted when the target looks like one */
	if (full) {
		if (!sp2 || n - sp2 - 1 < 8 || memcmp(c.p + sp2 + 1, "HTTP/1.", 7) != 0)
			return false;
	} else if (n < sp1 + 2 || (c.p[sp1 + 1] != '/' && c.p[sp1 + 1] != '*' && c.p[sp1 + 1] != 'h')) {
		return false;
	}
	out->app = REPORT_APP_HTTP;
	snprintf(out->method, sizeof out->method, "%s", m);
	copy_text(out->path, sizeof out->path, c.p + sp1 + 1, (sp2 ? sp2 : n) - sp1 - 1);
	skip_line(&c);
	while (c.left) {
		size_t ll = line_len(&c, &full);
		tv_cur v;
		if (ll == 0)
			break; /* end of the header section */
		if (ll > 6 && strncasecmp((const char *)c.p, "host:", 5) == 0) {
			v = tv_cur_make(c.p + 5, ll - 5);
			while (v.left && (v.p[0] == ' ' || v.p[0] == '\t'))
				tv_cur_skip(&v, 1);
			copy_text(out->host, sizeof out->host, v.p, v.left);
		} else if (ll > 14 && strncasecmp((const char *)c.p, "authorization:", 14) == 0) {
			char dec[160];
			v = tv_cur_make(c.p + 14, ll - 14);
			while (v.left && (v.p[0] == ' ' || v.p[0] == '\t'))
				tv_cur_skip(&v, 1);
			if (starts_with_ci(&v, "basic ")) {
				tv_cur_skip(&v, 6);
				while (v.left && v.p[0] == ' ')
					tv_cur_skip(&v, 1);
				while (v.left && (v.p[v.left - 1] == ' ' || v.p[v.left - 1] == '\t'))
					v.left--;
				if (b64_decode(v.p, v.left, dec, sizeof dec)) {
					char *colon = strchr(dec, ':');
					out->cred = REPORT_CRED_HTTP_BASIC;
					if (colon) {
						*colon = '\0';
						copy_text(out->user, sizeof out->user, (const uint8_t *)dec, strlen(dec));
						copy_text(out->secret, sizeof out->secret, (const uint8_t *)colon + 1,
						          strlen(colon + 1));
					} else {
						copy_text(out->secret, sizeof out->secret, (const uint8_t *)dec, strlen(dec));
					}
				}
			}
		}
		if (!full)
			break;
		skip_line(&c);
	}
	return true;
}

/* ------------------------------------------------------------------ SSH */

/* RFC 4253 §4.2: "SSH-protoversion-softwareversion SP comments CR LF". */
static bool look_ssh(tv_cur c, report_payload *out)
{
	bool full;
	size_t n;
	if (!starts_with(&c, "SSH-2.0-") && !starts_with(&c, "SSH-1.99-") && !starts_with(&c, "SSH-1.5-"))
		return false;
	n = line_len(&c, &full);
	if (n > 255)
		n = 255;
	out->app = REPORT_APP_SSH;
	copy_text(out->banner, sizeof out->banner, c.p, n);
	return true;
}

/* ------------------------------------------------------------------ DNS */

/*
 * DNS message (RFC 1035 §4.1): header of 12 bytes (id, flags, qdcount,
 * ancount, nscount, arcount), then questions: QNAME as labels (length byte
 * 1..63 then bytes, 0 ends; a first question has no compression pointer),
 * QTYPE(2) QCLASS(2).  Over TCP (RFC 1035 §4.2.2) a 2-byte length comes
 * first.  Strict checks keep random UDP payload from passing: opcode 0..2,
 * 1 question, labels of letters, digits, '-', '_', class IN/CH/ANY.
 */
static bool look_dns(tv_cur c, uint8_t proto, report_payload *out)
{
	uint16_t id, flags, qd, an, ns, ar, qtype, qclass;
	uint8_t len;
	char name[REPORT_PL_TEXT];
	size_t k = 0;
	int labels = 0;

	if (proto == 6) {
		uint16_t tl;
		if (!tv_cur_be16(&c, &tl) || tl < 17 || tl > c.left + 4096)
			return false;
	}
	if (!tv_cur_be16(&c, &id) || !tv_cur_be16(&c, &flags) || !tv_cur_be16(&c, &qd) ||
	    !tv_cur_be16(&c, &an) || !tv_cur_be16(&c, &ns) || !tv_cur_be16(&c, &ar))
		return false;
	(void)id;
	if (((flags >> 11) & 0xf) > 2 || (flags & 0x0040) || qd != 1 || an > 256 || ns > 256 || ar > 256)
		return false;
	for (;;) {
		size_t i;
		if (!tv_cur_u8(&c, &len))
			return false;
		if (len == 0)
			break;
		if (len > 63 || len > c.left || ++labels > 127)
			return false;
		for (i = 0; i < len; i++) {
			uint8_t ch = c.p[i];
			if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			      ch == '-' || ch == '_'))
				return false;
		}
		if (k && k + 1 < sizeof name)
			name[k++] = '.';
		for (i = 0; i < len && k + 1 < sizeof name; i++)
			name[k++] = (char)c.p[i];
		tv_cur_skip(&c, len);
	}
	if (!tv_cur_be16(&c, &qtype) || !tv_cur_be16(&c, &qclass))
		return false;
	if (qclass != 1 && qclass != 3 && qclass != 255)
		return false;
	if (qtype == 0)
		return false;
	name[k] = '\0';
	out->app = REPORT_APP_DNS;
	snprintf(out->dns_name, sizeof out->dns_name, "%s", k ? name : ".");
	out->dns_qtype = qtype;
	return true;
}

/* ------------------------------------------- FTP, POP3, IMAP, SMTP, Telnet */

/* A command line "VERB arg" (verb case-insensitive); arg copied into dst. */
static bool cmd_arg(tv_cur c, const char *verb, char *dst, size_t cap)
{
	size_t vl = strlen(verb), n;
	bool full;
	if (c.left <= vl || strncasecmp((const char *)c.p, verb, vl) != 0 || c.p[vl] != ' ')
		return false;
	n = line_len(&c, &full);
	if (!full || n <= vl + 1 || n > 512)
		return false;
	copy_text(dst, cap, c.p + vl + 1, n - vl - 1);
	return true;
}

/*
 * FTP (RFC 959 §4.1.1 USER/PASS; greeting "220"), POP3 (RFC 1939 §7
 * USER/PASS; greeting "+OK"), IMAP (RFC 3501 §6.2.3 "tag LOGIN user pass";
 * greeting "* OK"), SMTP (RFC 5321 "220 ... ESMTP"/"EHLO"), Telnet (RFC 854
 * IAC option negotiation, and cleartext "login:" prompts).
 */
static bool look_text_login(tv_cur c, uint16_t sport, uint16_t dport, report_payload *out)
{
	bool full;
	size_t n;
	bool pop = sport == 110 || dport == 110;

	if (cmd_arg(c, "USER", out->user, sizeof out->user)) {
		out->app = pop ? REPORT_APP_POP3 : REPORT_APP_FTP;
		out->cred = REPORT_CRED_FTP_USER;
		return true;
	}
	if (cmd_arg(c, "PASS", out->secret, sizeof out->secret)) {
		out->app = pop ? REPORT_APP_POP3 : REPORT_APP_FTP;
		out->cred = REPORT_CRED_FTP_PASS;
		return true;
	}
	/* IMAP: tag SP LOGIN SP user SP pass */
	{
		size_t i, t;
		n = line_len(&c, &full);
		for (t = 0; t < n && t < 32 && c.p[t] != ' '; t++)
			;
		if (full && t > 0 && t < n && n - t > 7 && strncasecmp((const char *)c.p + t + 1, "LOGIN ", 6) == 0) {
			const uint8_t *a = c.p + t + 7;
			size_t al = n - t - 7;
			for (i = 0; i < al && a[i] != ' '; i++)
				;
			if (i > 0 && i < al) {
				copy_text(out->user, sizeof out->user, a, i);
				copy_text(out->secret, sizeof out->secret, a + i + 1, al - i - 1);
				out->app = REPORT_APP_IMAP;
				out->cred = REPORT_CRED_IMAP_LOGIN;
				return true;
			}
		}
	}
	n = line_len(&c, &full);
	if (full && n >= 4) {
		if (memcmp(c.p, "220", 3) == 0 && (c.p[3] == ' ' || c.p[3] == '-')) {
			tv_cur l = tv_cur_make(c.p, n);
			size_t i;
			bool smtp = false;
			for (i = 0; i + 4 <= l.left; i++)
				if (strncasecmp((const char *)l.p + i, "SMTP", 4) == 0)
					smtp = true;
			out->app = smtp ? REPORT_APP_SMTP : REPORT_APP_FTP;
			copy_text(out->banner, sizeof out->banner, c.p, n);
			return true;
		}
		if (memcmp(c.p, "+OK", 3) == 0 && (pop || n > 4)) {
			if (pop) {
				out->app = REPORT_APP_POP3;
				copy_text(out->banner, sizeof out->banner, c.p, n);
				return true;
			}
		}
		if (n > 5 && memcmp(c.p, "* OK ", 5) == 0) {
			out->app = REPORT_APP_IMAP;
			copy_text(out->banner, sizeof out->banner, c.p, n);
			return true;
		}
	}
	/* Telnet: IAC (255) followed by WILL/WONT/DO/DONT (251..254) or SB (250) */
	if (c.left >= 3 && c.p[0] == 255 && c.p[1] >= 250 && c.p[1] <= 254) {
		out->app = REPORT_APP_TELNET;
		return true;
	}
	if (sport == 23 || dport == 23) {
		size_t i;
		for (i = 0; i + 6 <= c.left && i < 512; i++)
			if (strncasecmp((const char *)c.p + i, "login:", 6) == 0 ||
			    (i + 9 <= c.left && strncasecmp((const char *)c.p + i, "password:", 9) == 0)) {
				out->app = REPORT_APP_TELNET;
				out->cred = REPORT_CRED_TELNET;
				return true;
			}
	}
	return false;
}

int report_payload_look(const uint8_t *p, size_t n, uint8_t proto, uint16_t sport, uint16_t dport,
                        report_payload *out)
{
	tv_cur c = tv_cur_make(p, n);
	memset(out, 0, sizeof *out);
	if (n == 0 || (proto != 6 && proto != 17))
		return REPORT_APP_UNKNOWN;
	if (proto == 17) {
		/* UDP: DNS only (QUIC and others are not looked at) */
		look_dns(c, proto, out);
		return out->app;
	}
	if (look_tls(c, out) || look_ssh(c, out) || look_http(c, out) || look_text_login(c, sport, dport, out))
		return out->app;
	if ((sport == 53 || dport == 53) && look_dns(c, proto, out))
		return out->app;
	memset(out, 0, sizeof *out);
	return REPORT_APP_UNKNOWN;
}

/*
 * Locates the TCP/UDP payload of a stored frame from the parser's l3info:
 * IPv4 header length from IHL (RFC 791), IPv6 fixed 40 bytes followed
 * directly by TCP/UDP (frames with extension headers are not looked into),
 * then the TCP data offset (RFC 9293 §3.1) or 8 bytes of UDP.
 */
bool report_payload_locate(const uint8_t *frame, uint32_t caplen, const tv_l3info *info, size_t *off,
                           size_t *len)
{
	tv_cur c;
	size_t l4, iplen_cap;
	uint8_t b, proto;
	if (!info->l3 || !info->has_ports || info->frag == TV_FRAG_LATER || info->l3_off >= caplen)
		return false;
	proto = info->key.proto;
	if (proto != 6 && proto != 17)
		return false;
	c = tv_cur_make(frame + info->l3_off, caplen - info->l3_off);
	/* limit to the IP packet (drop Ethernet padding) */
	iplen_cap = info->ip_len;
	if (iplen_cap && c.left > iplen_cap)
		c.left = iplen_cap;
	if (info->l3 == 4) {
		size_t ihl;
		if (!tv_cur_u8(&c, &b) || (b >> 4) != 4)
			return false;
		ihl = (size_t)(b & 0xf) * 4;
		if (ihl < 20 || !tv_cur_skip(&c, ihl - 1))
			return false;
		if (frame[info->l3_off + 9] != proto)
			return false;
	} else {
		if (c.left < 40 || (c.p[0] >> 4) != 6 || c.p[6] != proto)
			return false;
		tv_cur_skip(&c, 40);
	}
	if (proto == 6) {
		size_t doff;
		if (c.left < 13)
			return false;
		doff = (size_t)(c.p[12] >> 4) * 4;
		if (doff < 20 || !tv_cur_skip(&c, doff))
			return false;
	} else if (!tv_cur_skip(&c, 8)) {
		return false;
	}
	l4 = (size_t)(c.p - frame);
	*off = l4;
	*len = c.left;
	return c.left > 0;
}
