/*
 * test_payload.c — the payload look (report/payload.c): TLS ClientHello SNI,
 * HTTP request line, Host and Basic credentials, DNS questions, SSH banners,
 * FTP/POP3 USER/PASS, IMAP LOGIN, Telnet, protocols on foreign ports, every
 * prefix of each message (no read past the end: run under SAN=1), redaction,
 * and locating the payload in a stored frame.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../report/audit.h"

/* A TLS 1.3 ClientHello with SNI "example.com" (record + handshake). */
static size_t client_hello(uint8_t *b, const char *sni)
{
	size_t n = 0, sl = strlen(sni), ext, hs, rec;
	b[n++] = 22; b[n++] = 3; b[n++] = 1; rec = n; n += 2;            /* record */
	b[n++] = 1; hs = n; n += 3;                                      /* handshake */
	b[n++] = 3; b[n++] = 3;                                          /* legacy version */
	memset(b + n, 0xab, 32); n += 32;                                /* random */
	b[n++] = 0;                                                      /* session id */
	b[n++] = 0; b[n++] = 2; b[n++] = 0x13; b[n++] = 0x01;             /* cipher suites */
	b[n++] = 1; b[n++] = 0;                                          /* compression */
	ext = n; n += 2;
	b[n++] = 0; b[n++] = 0;                                          /* server_name */
	b[n++] = 0; b[n++] = (uint8_t)(sl + 5);
	b[n++] = 0; b[n++] = (uint8_t)(sl + 3);
	b[n++] = 0; b[n++] = 0; b[n++] = (uint8_t)sl;
	memcpy(b + n, sni, sl); n += sl;
	b[ext] = (uint8_t)((n - ext - 2) >> 8); b[ext + 1] = (uint8_t)(n - ext - 2);
	b[hs] = 0; b[hs + 1] = (uint8_t)((n - hs - 3) >> 8); b[hs + 2] = (uint8_t)(n - hs - 3);
	b[rec] = (uint8_t)((n - rec - 2) >> 8); b[rec + 1] = (uint8_t)(n - rec - 2);
	return n;
}

/* Looks at every prefix of p from a heap copy of exactly that size, so that
 * a read past the end is caught by ASan. */
static void all_prefixes(const uint8_t *p, size_t n, uint8_t proto, uint16_t sp, uint16_t dp)
{
	size_t i;
	report_payload out;
	for (i = 0; i <= n; i++) {
		uint8_t *c = malloc(i ? i : 1);
		memcpy(c, p, i);
		report_payload_look(c, i, proto, sp, dp, &out);
		cr_assert(strlen(out.sni) < sizeof out.sni);
		free(c);
	}
}

Test(payload, tls_sni)
{
	uint8_t b[256];
	report_payload o;
	size_t n = client_hello(b, "example.com");
	cr_assert_eq(report_payload_look(b, n, 6, 50000, 443, &o), REPORT_APP_TLS);
	cr_assert_str_eq(o.sni, "example.com");
	all_prefixes(b, n, 6, 50000, 443);
	/* cut inside the name: TLS, no SNI */
	cr_assert_eq(report_payload_look(b, n - 3, 6, 50000, 443, &o), REPORT_APP_TLS);
	cr_assert_str_eq(o.sni, "");
	/* a bad record version is not TLS */
	b[1] = 2;
	cr_assert_eq(report_payload_look(b, n, 6, 50000, 443, &o), REPORT_APP_UNKNOWN);
}

Test(payload, tls_lying_lengths)
{
	uint8_t b[256];
	report_payload o;
	size_t n = client_hello(b, "a.example");
	b[n - 9 - 3] = 0xff; /* server_name list length far beyond the data */
	report_payload_look(b, n, 6, 1, 443, &o);
	cr_assert_str_eq(o.sni, "");
}

static const char HTTP[] = "POST /api/v1/orders HTTP/1.1\r\nHost: orders.internal.example.net:8080\r\n"
                           "Authorization: Basic c3ZjLW9yZGVyczpXaW50ZXIyMDI1IQ==\r\nContent-Length: 3\r\n\r\nabc";

Test(payload, http_basic)
{
	report_payload o;
	cr_assert_eq(report_payload_look((const uint8_t *)HTTP, strlen(HTTP), 6, 40000, 8080, &o), REPORT_APP_HTTP);
	cr_assert_str_eq(o.method, "POST");
	cr_assert_str_eq(o.path, "/api/v1/orders");
	cr_assert_str_eq(o.host, "orders.internal.example.net:8080");
	cr_assert_eq(o.cred, REPORT_CRED_HTTP_BASIC);
	cr_assert_str_eq(o.user, "svc-orders");
	cr_assert_str_eq(o.secret, "Winter2025!");
	all_prefixes((const uint8_t *)HTTP, strlen(HTTP), 6, 40000, 8080);
}

Test(payload, http_on_8443_and_responses)
{
	static const char get[] = "GET /download/agent.sh HTTP/1.1\r\nHost: updates.example-cdn.net\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	static const char notv[] = "GETX / HTTP/1.1\r\n";
	report_payload o;
	cr_assert_eq(report_payload_look((const uint8_t *)get, strlen(get), 6, 40000, 8443, &o), REPORT_APP_HTTP);
	cr_assert_neq(report_app_by_port(8443), REPORT_APP_HTTP);
	cr_assert_eq(report_payload_look((const uint8_t *)resp, strlen(resp), 6, 80, 40000, &o), REPORT_APP_HTTP);
	cr_assert_eq(report_payload_look((const uint8_t *)notv, strlen(notv), 6, 1, 80, &o), REPORT_APP_UNKNOWN);
}

Test(payload, dns_query)
{
	/* id 0x1234, RD, 1 question: deb.debian.org A IN */
	static const uint8_t q[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	                             3, 'd', 'e', 'b', 6, 'd', 'e', 'b', 'i', 'a', 'n', 3, 'o', 'r', 'g', 0,
	                             0, 1, 0, 1 };
	uint8_t bad[sizeof q];
	report_payload o;
	cr_assert_eq(report_payload_look(q, sizeof q, 17, 40000, 53, &o), REPORT_APP_DNS);
	cr_assert_str_eq(o.dns_name, "deb.debian.org");
	cr_assert_eq(o.dns_qtype, 1);
	all_prefixes(q, sizeof q, 17, 40000, 53);
	memcpy(bad, q, sizeof q);
	bad[12] = 64; /* label longer than 63 */
	cr_assert_eq(report_payload_look(bad, sizeof bad, 17, 1, 53, &o), REPORT_APP_UNKNOWN);
	memcpy(bad, q, sizeof q);
	bad[5] = 2; /* two questions */
	cr_assert_eq(report_payload_look(bad, sizeof bad, 17, 1, 53, &o), REPORT_APP_UNKNOWN);
}

Test(payload, ssh_banner_on_443)
{
	static const char b[] = "SSH-2.0-OpenSSH_9.6\r\n";
	report_payload o;
	cr_assert_eq(report_payload_look((const uint8_t *)b, strlen(b), 6, 40000, 443, &o), REPORT_APP_SSH);
	cr_assert_str_eq(o.banner, "SSH-2.0-OpenSSH_9.6");
	cr_assert_eq(report_app_by_port(443), REPORT_APP_TLS);
}

Test(payload, ftp_pop_imap_telnet)
{
	report_payload o;
	static const char u[] = "USER deploy\r\n", p[] = "PASS Tr0ub4dor&3\r\n", g[] = "220 (vsFTPd 3.0.5)\r\n";
	static const char im[] = "a001 LOGIN alice s3cret\r\n";
	static const uint8_t tn[] = { 255, 253, 24, 255, 253, 32 };
	static const char prompt[] = "\r\nDebian GNU/Linux 12\r\nweb1 login: ";
	cr_assert_eq(report_payload_look((const uint8_t *)u, strlen(u), 6, 40000, 21, &o), REPORT_APP_FTP);
	cr_assert_eq(o.cred, REPORT_CRED_FTP_USER);
	cr_assert_str_eq(o.user, "deploy");
	cr_assert_eq(report_payload_look((const uint8_t *)p, strlen(p), 6, 40000, 21, &o), REPORT_APP_FTP);
	cr_assert_eq(o.cred, REPORT_CRED_FTP_PASS);
	cr_assert_str_eq(o.secret, "Tr0ub4dor&3");
	cr_assert_eq(report_payload_look((const uint8_t *)p, strlen(p), 6, 40000, 110, &o), REPORT_APP_POP3);
	cr_assert_eq(report_payload_look((const uint8_t *)g, strlen(g), 6, 21, 40000, &o), REPORT_APP_FTP);
	cr_assert_eq(report_payload_look((const uint8_t *)im, strlen(im), 6, 40000, 143, &o), REPORT_APP_IMAP);
	cr_assert_str_eq(o.user, "alice");
	cr_assert_str_eq(o.secret, "s3cret");
	cr_assert_eq(report_payload_look(tn, sizeof tn, 6, 23, 40000, &o), REPORT_APP_TELNET);
	cr_assert_eq(report_payload_look((const uint8_t *)prompt, strlen(prompt), 6, 23, 40000, &o), REPORT_APP_TELNET);
	cr_assert_eq(o.cred, REPORT_CRED_TELNET);
	/* a USER line without its line end is not taken */
	cr_assert_eq(report_payload_look((const uint8_t *)u, 8, 6, 40000, 21, &o), REPORT_APP_UNKNOWN);
	all_prefixes((const uint8_t *)im, strlen(im), 6, 40000, 143);
}

Test(payload, random_bytes_are_unknown)
{
	uint8_t b[1400];
	uint64_t x = 88172645463325252ull;
	size_t i;
	int hits = 0, k;
	report_payload o;
	for (k = 0; k < 200; k++) {
		for (i = 0; i < sizeof b; i++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			b[i] = (uint8_t)x;
		}
		hits += report_payload_look(b, sizeof b, 17, 7000, 7001, &o) != REPORT_APP_UNKNOWN;
		hits += report_payload_look(b, sizeof b, 6, 7000, 443, &o) != REPORT_APP_UNKNOWN;
	}
	cr_assert_eq(hits, 0);
}

Test(payload, redact)
{
	char b[32];
	report_redact("Winter2025!", b, sizeof b);
	cr_assert_str_eq(b, "W********");
	report_redact("ab", b, sizeof b);
	cr_assert_str_eq(b, "a*");
	report_redact("", b, sizeof b);
	cr_assert_str_eq(b, "");
	report_redact("secret", b, 3);
	cr_assert_str_eq(b, "s*");
}

Test(payload, locate_in_frame)
{
	uint8_t f[14 + 20 + 20 + 4] = { 0 };
	tv_l3info info;
	size_t off, len;
	f[12] = 0x08;
	f[14] = 0x45; f[16] = 0; f[17] = 44; f[23] = 6;
	f[14 + 20 + 12] = 5 << 4;
	memcpy(f + 54, "SSH-", 4);
	memset(&info, 0, sizeof info);
	info.l3 = 4; info.has_ports = 1; info.l3_off = 14; info.ip_len = 44; info.key.proto = 6;
	cr_assert(report_payload_locate(f, sizeof f, &info, &off, &len));
	cr_assert_eq(off, 54);
	cr_assert_eq(len, 4);
	/* a data offset beyond the frame */
	f[14 + 20 + 12] = 15 << 4;
	cr_assert_not(report_payload_locate(f, sizeof f, &info, &off, &len));
	/* a later fragment has no L4 header */
	f[14 + 20 + 12] = 5 << 4;
	info.frag = TV_FRAG_LATER;
	cr_assert_not(report_payload_locate(f, sizeof f, &info, &off, &len));
}
