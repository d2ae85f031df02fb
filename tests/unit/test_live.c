/* Unit tests for ingest/live.c: allowlist, listen address, tunnel payload. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "../../ingest/ingest.h"

static tv_addr A(const char *s)
{
	tv_addr a;
	cr_assert_eq(tv_addr_parse(s, &a), 0, "%s", s);
	return a;
}

Test(allow, cidrs_and_rejects)
{
	ingest_allow al = { 0 };
	const char *bad;
	tv_addr a;
	a = A("192.0.2.1");
	cr_assert(ingest_allow_match(&al, &a), "empty list allows all");
	cr_assert_eq(ingest_allow_parse(&al, "10.0.0.0/16,2001:db8::/32,192.0.2.7", &bad), 0);
	cr_assert_eq(al.n, 3);
	a = A("10.0.255.1");
	cr_assert(ingest_allow_match(&al, &a));
	a = A("10.1.0.1");
	cr_assert_not(ingest_allow_match(&al, &a));
	a = A("2001:db8:ffff::1");
	cr_assert(ingest_allow_match(&al, &a));
	a = A("192.0.2.7");
	cr_assert(ingest_allow_match(&al, &a));
	a = A("192.0.2.8");
	cr_assert_not(ingest_allow_match(&al, &a));
	cr_assert_eq(ingest_allow_parse(&al, "10.0.0.0/33", &bad), TV_E_SYNTAX);
	cr_assert_str_eq(bad, "10.0.0.0/33");
	cr_assert_eq(ingest_allow_parse(&al, "10.0.0.0/8,nonsense", &bad), TV_E_SYNTAX);
	cr_assert_str_eq(bad, "nonsense");
	cr_assert_eq(ingest_allow_parse(&al, "10.0.0.0/", &bad), TV_E_SYNTAX);
}

Test(listen, forms)
{
	tv_addr a;
	bool v6;
	uint16_t p;
	cr_assert_eq(ingest_listen_parse("4790", 4789, &a, &v6, &p), 0);
	cr_assert_eq(p, 4790);
	cr_assert_not(v6);
	cr_assert_eq(ingest_listen_parse("127.0.0.1:5000", 4789, &a, &v6, &p), 0);
	cr_assert_eq(p, 5000);
	cr_assert_eq(a.b[12], 127);
	cr_assert_eq(ingest_listen_parse("[::1]:6081", 4789, &a, &v6, &p), 0);
	cr_assert(v6);
	cr_assert_eq(p, 6081);
	cr_assert_eq(a.b[15], 1);
	cr_assert_eq(ingest_listen_parse("10.0.0.10", 4789, &a, &v6, &p), 0);
	cr_assert_eq(p, 4789);
	cr_assert_eq(ingest_listen_parse("127.0.0.1:0", 4789, &a, &v6, &p), TV_E_SYNTAX);
	cr_assert_eq(ingest_listen_parse("127.0.0.1:70000", 4789, &a, &v6, &p), TV_E_SYNTAX);
	cr_assert_eq(ingest_listen_parse("[::1", 4789, &a, &v6, &p), TV_E_SYNTAX);
	cr_assert_eq(ingest_listen_parse("host:80", 4789, &a, &v6, &p), TV_E_SYNTAX);
}

/* Ethernet + IPv4 + UDP 4789 + VXLAN + 4 bytes */
static const uint8_t vx[] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00,
	0x45, 0, 0, 44, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 1, 5, 10, 0, 0, 10,
	0xc0, 0x01, 0x12, 0xb5, 0, 24, 0, 0,
	0x08, 0, 0, 0, 0, 0x03, 0xe9, 0,
	0xde, 0xad, 0xbe, 0xef,
};

Test(tunnel_payload, vxlan_and_rejects)
{
	ingest_decap_cfg cfg;
	const uint8_t *pl;
	uint32_t len;
	uint16_t sport;
	uint8_t f[sizeof vx];
	ingest_decap_cfg_default(&cfg);
	cr_assert_eq(ingest_tunnel_payload(&cfg, INGEST_LINK_ETHERNET, vx, sizeof vx, &pl, &len, &sport), 1);
	cr_assert_eq(len, 12);
	cr_assert_eq(pl, vx + 42);
	cr_assert_eq(sport, 0xc001);
	cr_assert_eq(ingest_tunnel_payload(&cfg, INGEST_LINK_RAW, vx, sizeof vx, &pl, &len, &sport), 0);
	cr_assert_eq(ingest_tunnel_payload(&cfg, INGEST_LINK_ETHERNET, vx, 40, &pl, &len, &sport), 0);
	memcpy(f, vx, sizeof f);
	f[37] = 0x11; /* another port */
	cr_assert_eq(ingest_tunnel_payload(&cfg, INGEST_LINK_ETHERNET, f, sizeof f, &pl, &len, &sport), 0);
	memcpy(f, vx, sizeof f);
	f[20] = 0x20; /* more fragments */
	cr_assert_eq(ingest_tunnel_payload(&cfg, INGEST_LINK_ETHERNET, f, sizeof f, &pl, &len, &sport), 0);
	memcpy(f, vx, sizeof f);
	f[23] = 6; /* TCP */
	cr_assert_eq(ingest_tunnel_payload(&cfg, INGEST_LINK_ETHERNET, f, sizeof f, &pl, &len, &sport), 0);
	/* a capture cut short: the payload is what is there */
	cr_assert_eq(ingest_tunnel_payload(&cfg, INGEST_LINK_ETHERNET, vx, sizeof vx - 2, &pl, &len, &sport), 1);
	cr_assert_eq(len, 10);
}

/*
 * Replay walks the outer headers with the decapsulator's own parser, so it
 * replays exactly what ingest would decapsulate: an IPv6 outer header with
 * extension headers, and a pre-standard 0x9100 VLAN tag, are tunnel
 * traffic; a UDP length beyond the IP payload is a malformed outer header
 * (ingest stores it with decap_error) and is not replayed.
 */
Test(tunnel_payload, same_outer_walk_as_decap)
{
	ingest_decap_cfg cfg;
	const uint8_t *pl;
	uint32_t len;
	uint16_t sport;
	uint8_t f[sizeof vx + 4], v6[14 + 40 + 8 + 8 + 12];
	size_t n = 0;

	ingest_decap_cfg_default(&cfg);
	/* UDP length 40 in an IP packet of 44 bytes: 16 more than there is room for */
	memcpy(f, vx, sizeof vx);
	f[38] = 0;
	f[39] = 40;
	cr_assert_eq(ingest_tunnel_payload(&cfg, INGEST_LINK_ETHERNET, f, sizeof vx, &pl, &len, &sport), 0);

	/* a 0x9100 tag in front of the same datagram */
	memcpy(f, vx, 12);
	f[12] = 0x91; f[13] = 0x00; f[14] = 0x00; f[15] = 0x07;
	memcpy(f + 16, vx + 12, sizeof vx - 12);
	cr_assert_eq(ingest_tunnel_payload(&cfg, INGEST_LINK_ETHERNET, f, sizeof f, &pl, &len, &sport), 1);
	cr_assert_eq(pl, f + 46);
	cr_assert_eq(len, 12);

	/* IPv6, a Hop-by-Hop header (8 bytes), UDP 4789, VXLAN, 4 bytes */
	memset(v6, 0, sizeof v6);
	v6[12] = 0x86; v6[13] = 0xdd;
	n = 14;
	v6[n] = 0x60;
	v6[n + 5] = 8 + 8 + 12; /* payload length */
	v6[n + 6] = 0;          /* next: Hop-by-Hop */
	v6[n + 7] = 64;
	v6[n + 23] = 1;
	v6[n + 39] = 2;
	n += 40;
	v6[n] = 17; /* Hop-by-Hop: next UDP, length 0 (8 bytes), PadN */
	v6[n + 2] = 1;
	v6[n + 3] = 4;
	n += 8;
	v6[n] = 0xc0; v6[n + 1] = 0x02; v6[n + 2] = 0x12; v6[n + 3] = 0xb5;
	v6[n + 5] = 8 + 12;
	n += 8;
	v6[n] = 0x08;
	cr_assert_eq(ingest_tunnel_payload(&cfg, INGEST_LINK_ETHERNET, v6, sizeof v6, &pl, &len, &sport), 1);
	cr_assert_eq(pl, v6 + n);
	cr_assert_eq(len, 12);
	cr_assert_eq(sport, 0xc002);
}

Test(udp, loopback_roundtrip)
{
	ingest_udp_cfg cfg;
	ingest_udp *u = NULL;
	ingest_raw raws[4];
	tv_counters ctr = { { 0 } };
	char err[256];
	int n = 0, got = 0, port, rc = EADDRINUSE;
	ingest_udp_cfg_default(&cfg);
	tv_addr_parse("127.0.0.1", &cfg.addr);
	cfg.rcvbuf = 1 << 20;
	/* A port no socket holds: the kernel picks one for a plain socket (no
	 * SO_REUSEPORT, so a port shared by another test run is never given),
	 * which is released and then bound with SO_REUSEPORT by the code under
	 * test.  A fixed port could be joined by a concurrent run. */
	for (port = 0; port < 100 && rc; port++) {
		struct sockaddr_in sa = { 0 };
		socklen_t sl = sizeof sa;
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(0x7f000001);
		cr_assert(fd >= 0);
		cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
		cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
		close(fd);
		cfg.port = ntohs(sa.sin_port);
		rc = ingest_udp_open(&cfg, &u, err, sizeof err);
	}
	cr_assert_eq(rc, 0, "%s", err);
	{
		struct sockaddr_in sa = { 0 };
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		sa.sin_family = AF_INET;
		sa.sin_port = htons(cfg.port);
		sa.sin_addr.s_addr = htonl(0x7f000001);
		cr_assert_eq(sendto(fd, vx + 42, 12, 0, (struct sockaddr *)&sa, sizeof sa), 12);
		close(fd);
	}
	cr_assert_eq(ingest_udp_recv(u, raws, 4, false, &ctr, &n, &got), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(raws[0].caplen, 14 + 20 + 8 + 12);
	cr_assert_eq(raws[0].data[12], 0x08);
	cr_assert_eq(raws[0].data[14 + 12], 127, "outer source = the sender");
	cr_assert_eq(tv_get_be16(raws[0].data + 14 + 20 + 2), cfg.port);
	cr_assert_eq(memcmp(raws[0].data + 42, vx + 42, 12), 0);
	cr_assert_eq(ctr.v[TV_CTR_LIVE_RECEIVED], 1);
	cr_assert_neq(raws[0].ts_ns, 0);
	ingest_udp_close(u);
}
