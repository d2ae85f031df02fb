/*
 * tv-gen — deterministic generator of AWS VPC Traffic Mirroring captures
 * with a known ground truth.  Standalone: libc and libm only.
 *
 * Writes (all optional):
 *   --outer  the capture as the mirror target sees it (VXLAN / GENEVE / GENEVE-in-VXLAN)
 *   --inner  the decapsulated inner Ethernet frames, same timestamps and order
 *   --truth  CSV, one row per unidirectional flow per VNI
 * See testdata/README.md for every option and convention.
 *
 * Model: every conversation is a small script of packet steps (times,
 * directions, flags, payload references) built when it starts; scripts of
 * concurrent conversations are merged through a min-heap on the time of
 * their next step, so the outputs are in non-decreasing time order and the
 * memory held is proportional to the live conversations, not the packets.
 * Packet bytes are produced only when a step is emitted; random payload is
 * counter-based (position -> bytes), so it needs no storage.
 *
 * Two profiles: the default one is a scripted scenario (a few instances, the
 * cases the decapsulator, flow records and audit must get right);
 * --profile enterprise is the benchmark's realistic mix (many hosts, Zipf flow
 * sizes, a beacon, a spread client and a busy server).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* PRNG: xoshiro256** seeded with splitmix64                           */

static uint64_t g_rs[4];

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rnd(void)
{
	uint64_t r = rotl(g_rs[1] * 5, 7) * 9;
	uint64_t t = g_rs[1] << 17;
	g_rs[2] ^= g_rs[0];
	g_rs[3] ^= g_rs[1];
	g_rs[1] ^= g_rs[2];
	g_rs[0] ^= g_rs[3];
	g_rs[2] ^= t;
	g_rs[3] = rotl(g_rs[3], 45);
	return r;
}

static void rnd_seed(uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		g_rs[i] = splitmix64(&x);
}

/* uniform in [0, n) */
static uint32_t rndu(uint32_t n)
{
	if (n == 0)
		return 0;
	return (uint32_t)(((rnd() >> 32) * (uint64_t)n) >> 32);
}

/* uniform in [a, b] */
static uint32_t rndr(uint32_t a, uint32_t b) { return a + rndu(b - a + 1); }

static double rndf(void) { return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0); }

static double rnd_exp(double mean)
{
	double u = rndf();
	if (u < 1e-12)
		u = 1e-12;
	return -mean * log(u);
}

/* Counter-based random bytes: byte i of stream `seed`. */
static void fill_rand(uint8_t *out, uint64_t seed, uint64_t off, size_t len)
{
	uint64_t w = off >> 3;
	size_t skip = (size_t)(off & 7);
	size_t i = 0;
	uint64_t base = seed * 0x9e3779b97f4a7c15ULL;
	while (i < len) {
		uint64_t v = mix64(base + w * 0xd1b54a32d192ed03ULL);
		uint8_t b[8];
		memcpy(b, &v, 8);
		size_t n = 8 - skip;
		if (n > len - i)
			n = len - i;
		memcpy(out + i, b + skip, n);
		i += n;
		skip = 0;
		w++;
	}
}

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

#define NS 1000000000ULL
#define US 1000ULL
#define MS 1000000ULL

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("tv-gen: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die("out of memory (%zu bytes)", n);
	return q;
}

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }
static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static void le16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

/* one's complement sum, not folded */
static uint64_t csum_add(uint64_t s, const uint8_t *p, size_t n)
{
	while (n >= 4) {
		s += ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
		p += 4;
		n -= 4;
	}
	if (n >= 2) {
		s += ((uint32_t)p[0] << 8) | p[1];
		p += 2;
		n -= 2;
	}
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static uint16_t csum_fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* ------------------------------------------------------------------ */
/* configuration and world                                             */

enum { ENC_VXLAN = 0, ENC_GENEVE = 1, ENC_GENEVE_VXLAN = 2 };

typedef struct vnictx {
	uint32_t vni;
	int encap;
	uint8_t eni4[4];       /* source ENI primary IPv4 = instance IPv4 */
	uint8_t inst6[16];
	uint8_t gwlb4[4];      /* GWLB node (outer source of GENEVE) */
	uint8_t mac[6], rtr[6];
	uint32_t pktlen;       /* session PacketLength, 0 = whole packets */
	uint16_t vlan;         /* 802.1Q VID on inner frames, 0 = none */
	uint16_t ipid;         /* outer IPv4 id counter */
	uint16_t ipid2;        /* VXLAN-in-GENEVE IPv4 id counter */
	uint64_t gwlbe_id, attach_id;
	uint32_t next_port;
	char outer_txt[16];    /* truth outer_src */
} vnictx;

static struct cfg {
	uint64_t seed;
	int nvnis;
	int flows;
	double duration;
	uint64_t start;
	const char *outer, *inner, *truth;
	uint64_t target_bytes;
	uint64_t many_flows;
	double geneve_share;
	int geneve_vxlan;
	int ipv6;
	int interleave;
	int summary;
	int linklocal;
	uint32_t trunc_len;
	int n_vlan;
	uint32_t vlan_vni[64];
	const char *flowlog, *audit_truth, *vnimap_out, *filters_out, *sessions_out;
	int profile;           /* PROFILE_DEFAULT or PROFILE_ENTERPRISE */
	uint64_t bytes;        /* enterprise: the size the flow count and duration are scaled to */
	uint32_t relabel;      /* enterprise: copy number K > 0 moves every inner address (and port 53) */
	const char *hosts_out; /* enterprise: the named hosts with their totals */
	int set_flows, set_duration, set_vnis, set_trunc;
} C;

enum { PROFILE_DEFAULT = 0, PROFILE_ENTERPRISE = 1 };

static vnictx *V;
static const uint8_t TARGET4[4] = { 10, 0, 0, 10 };
static const uint8_t GWLBE4[4] = { 10, 0, 0, 20 };
static const uint8_t TARGET_MAC[6] = { 0x0a, 0x3c, 0x5e, 0x10, 0x00, 0x0a };
static const uint8_t TARGET_RTR[6] = { 0x0a, 0xff, 0xc0, 0x00, 0x00, 0x01 };

/* ------------------------------------------------------------------ */
/* conversations                                                       */

enum { ST_TCP = 0, ST_UDP, ST_ICMP, ST_FRAG };
enum { M_BYTES = 0, M_RAND, M_TLS, M_NONE, M_TEXT };
enum { F_FIN = 1, F_SYN = 2, F_RST = 4, F_PSH = 8, F_ACK = 16, F_URG = 32 };

typedef struct step {
	uint64_t t;
	uint32_t msg;     /* message index */
	uint32_t off;     /* offset in message */
	uint32_t len;     /* payload bytes (fragment: bytes of L4 datagram) */
	uint16_t aux;     /* ICMP seq */
	uint16_t fragoff; /* fragment offset in bytes */
	uint8_t dir;      /* 0 client->server, 1 server->client */
	uint8_t flags;    /* TCP flags; ST_FRAG: 1 = more fragments */
	uint8_t kind;
	uint8_t fproto;   /* ST_FRAG: L4 protocol of the datagram */
} step;

typedef struct msg {
	uint32_t kind, len, off;
	uint64_t seed;
	uint32_t hlen;    /* M_TEXT: bytes of the arena at off (headers) before the generated text */
	uint32_t style;   /* M_TEXT: which text generator */
} msg;

typedef struct conv {
	uint64_t t_next;  /* heap key */
	uint64_t id;      /* heap tie-break */
	int is_spawner;
	int spawner_kind;
	struct conv *next_free;
	int vi;
	uint8_t v6, proto, local_is_client, app;
	uint8_t cli[16], srv[16];
	uint16_t sport, dport;
	uint32_t isn[2], nxt[2];
	uint16_t ipid[2];
	uint32_t flowlabel[2];
	uint8_t ttl_remote;
	uint16_t icmp_id;
	uint32_t mss[2];
	uint64_t t, rtt, think, ser, nspb;
	int lastdir;
	uint32_t quick[2];  /* enterprise: segments of dir still ACKed one by one (quick-ACK mode) */
	step *st;
	size_t nst, capst, cur;
	msg *ms;
	size_t nms, capms;
	uint8_t *ar;
	size_t nar, capar;
} conv;

static const char *const APPS[] = {
	"http", "tls", "dns", "ssh", "scan", "ntp", "icmp", "ftp", "bulk", "imds", "icmpv6", "many",
	"syslog", "statsd",
};
enum { A_HTTP, A_TLS, A_DNS, A_SSH, A_SCAN, A_NTP, A_ICMP, A_FTP, A_BULK, A_IMDS, A_ICMP6, A_MANY,
       A_SYSLOG, A_STATSD };

static conv *g_free;
static uint64_t g_convid;
static uint64_t g_t0; /* start in ns */

static conv *conv_alloc(void)
{
	conv *c = g_free;
	if (c) {
		g_free = c->next_free;
		step *st = c->st;
		msg *ms = c->ms;
		uint8_t *ar = c->ar;
		size_t a = c->capst, b = c->capms, d = c->capar;
		memset(c, 0, sizeof *c);
		c->st = st; c->ms = ms; c->ar = ar;
		c->capst = a; c->capms = b; c->capar = d;
	} else {
		c = calloc(1, sizeof *c);
		if (!c)
			die("out of memory");
	}
	c->id = g_convid++;
	c->lastdir = -1;
	return c;
}

static void conv_release(conv *c)
{
	c->next_free = g_free;
	g_free = c;
}

static uint8_t *ar_grow(conv *c, size_t n)
{
	if (c->nar + n > c->capar) {
		size_t cap = c->capar ? c->capar : 4096;
		while (cap < c->nar + n)
			cap *= 2;
		c->ar = xrealloc(c->ar, cap);
		c->capar = cap;
	}
	uint8_t *p = c->ar + c->nar;
	c->nar += n;
	return p;
}

static void ar_put(conv *c, const void *p, size_t n) { memcpy(ar_grow(c, n), p, n); }
static void ar_str(conv *c, const char *s) { ar_put(c, s, strlen(s)); }
static void ar_printf(conv *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ar_printf(conv *c, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("format error");
	if ((size_t)n >= sizeof tmp)
		n = (int)sizeof tmp - 1;
	ar_put(c, tmp, (size_t)n);
}
static void ar_u8(conv *c, uint32_t v) { uint8_t b = (uint8_t)v; ar_put(c, &b, 1); }
static void ar_u16(conv *c, uint32_t v) { put16(ar_grow(c, 2), v); }
static void ar_u32(conv *c, uint32_t v) { put32(ar_grow(c, 4), v); }
static void ar_rand(conv *c, size_t n) { fill_rand(ar_grow(c, n), rnd(), 0, n); }

/* begin a byte message in the arena; returns its index; close with msg_end */
static uint32_t msg_begin(conv *c)
{
	if (c->nms == c->capms) {
		c->capms = c->capms ? c->capms * 2 : 16;
		c->ms = xrealloc(c->ms, c->capms * sizeof *c->ms);
	}
	msg *m = &c->ms[c->nms];
	m->kind = M_BYTES;
	m->off = (uint32_t)c->nar;
	m->len = 0;
	m->seed = 0;
	return (uint32_t)c->nms++;
}

static uint32_t msg_end(conv *c, uint32_t i)
{
	c->ms[i].len = (uint32_t)c->nar - c->ms[i].off;
	return i;
}

static uint32_t msg_text(conv *c, const char *s)
{
	uint32_t m = msg_begin(c);
	ar_str(c, s);
	return msg_end(c, m);
}

static uint32_t msg_gen(conv *c, uint32_t kind, uint32_t len)
{
	uint32_t m = msg_begin(c);
	c->ms[m].kind = kind;
	c->ms[m].len = len;
	c->ms[m].seed = rnd();
	return m;
}

#define TLS_REC 16406u /* 5 header + 16401 body */

/* TLS application-data stream: length adjusted so the last record has >= 22 body bytes */
static uint32_t msg_tls(conv *c, uint32_t len)
{
	if (len < 27)
		len = 27;
	uint32_t r = len % TLS_REC;
	if (r != 0 && r < 27)
		len += 27 - r;
	return msg_gen(c, M_TLS, len);
}

static void text_fill(const msg *m, uint32_t off, uint32_t len, uint8_t *out);

static void msg_fill(const conv *c, uint32_t mi, uint32_t off, uint32_t len, uint8_t *out)
{
	const msg *m = &c->ms[mi];
	if (m->kind == M_TEXT) {
		uint32_t h = 0;
		if (off < m->hlen) {
			h = m->hlen - off < len ? m->hlen - off : len;
			memcpy(out, c->ar + m->off + off, h);
		}
		if (h < len)
			text_fill(m, off + h - m->hlen, len - h, out + h);
		return;
	}
	if (m->kind == M_BYTES) {
		memcpy(out, c->ar + m->off + off, len);
		return;
	}
	fill_rand(out, m->seed, off, len);
	if (m->kind == M_TLS) {
		uint32_t k = off / TLS_REC;
		for (;; k++) {
			uint32_t rs = k * TLS_REC;
			if (rs >= off + len || rs >= m->len)
				break;
			uint32_t body = m->len - rs - 5;
			if (body > TLS_REC - 5)
				body = TLS_REC - 5;
			uint8_t h[5] = { 0x17, 3, 3, (uint8_t)(body >> 8), (uint8_t)body };
			for (uint32_t j = 0; j < 5; j++)
				if (rs + j >= off && rs + j < off + len)
					out[rs + j - off] = h[j];
		}
	}
}

static void st_add(conv *c, int dir, int kind, uint8_t flags, uint32_t mi, uint32_t off, uint32_t len)
{
	if (c->nst == c->capst) {
		c->capst = c->capst ? c->capst * 2 : 32;
		c->st = xrealloc(c->st, c->capst * sizeof *c->st);
	}
	step *s = &c->st[c->nst++];
	memset(s, 0, sizeof *s);
	s->t = c->t;
	s->dir = (uint8_t)dir;
	s->kind = (uint8_t)kind;
	s->flags = flags;
	s->msg = mi;
	s->off = off;
	s->len = len;
	c->lastdir = dir;
}

static int is_local(const conv *c, int dir) { return (dir == 0) == (c->local_is_client != 0); }

/* advance the script clock before a packet from `dir` */
static void adv(conv *c, int dir, uint32_t bytes)
{
	if (c->lastdir < 0)
		return;
	if (dir == c->lastdir)
		c->t += c->ser + (uint64_t)bytes * c->nspb;
	else if (is_local(c, dir))
		c->t += c->think + rndu((uint32_t)(c->think / 2 + 1));
	else
		c->t += c->rtt + rndu((uint32_t)(c->rtt / 8 + 1));
}

/* ------------------------------------------------------------------ */
/* addresses and conversation setup                                    */

static void a4(uint8_t *a, int x, int y, int z, int w)
{
	memset(a, 0, 16);
	a[0] = (uint8_t)x; a[1] = (uint8_t)y; a[2] = (uint8_t)z; a[3] = (uint8_t)w;
}

static void a6(uint8_t *a, const char *txt)
{
	/* tiny parser for the fixed literals used here: full groups with one "::" */
	uint16_t g[8] = { 0 };
	int n = 0, dc = -1;
	const char *p = txt;
	memset(a, 0, 16);
	while (*p && n < 8) {
		if (p[0] == ':' && p[1] == ':') {
			dc = n;
			p += 2;
			continue;
		}
		if (*p == ':') {
			p++;
			continue;
		}
		char *e;
		g[n++] = (uint16_t)strtoul(p, &e, 16);
		p = e;
	}
	int out = 0;
	if (dc < 0)
		dc = n;
	for (int i = 0; i < dc; i++)
		put16(a + 2 * out++, g[i]);
	out = 8 - (n - dc);
	for (int i = dc; i < n; i++)
		put16(a + 2 * out++, g[i]);
}

static uint16_t eph_port(int vi)
{
	vnictx *v = &V[vi];
	v->next_port += 1 + rndu(3);
	if (v->next_port > 60999)
		v->next_port = 32768 + (v->next_port - 61000);
	return (uint16_t)v->next_port;
}

enum { NET_LAN, NET_WAN };

/* a conversation between the instance of vni vi and `remote`, instance as client or server */
static conv *conv_new(int vi, int proto, int app, int v6, const uint8_t *remote,
                      uint16_t sport, uint16_t dport, int local_is_client, int net, uint64_t t)
{
	conv *c = conv_alloc();
	c->vi = vi;
	c->proto = (uint8_t)proto;
	c->app = (uint8_t)app;
	c->v6 = (uint8_t)v6;
	c->local_is_client = (uint8_t)local_is_client;
	uint8_t loc[16];
	if (v6)
		memcpy(loc, V[vi].inst6, 16);
	else
		a4(loc, V[vi].eni4[0], V[vi].eni4[1], V[vi].eni4[2], V[vi].eni4[3]);
	memcpy(local_is_client ? c->cli : c->srv, loc, 16);
	memcpy(local_is_client ? c->srv : c->cli, remote, 16);
	c->sport = sport;
	c->dport = dport;
	c->isn[0] = (uint32_t)rnd();
	c->isn[1] = (uint32_t)rnd();
	c->nxt[0] = c->isn[0];
	c->nxt[1] = c->isn[1];
	c->ipid[0] = (uint16_t)rnd();
	c->ipid[1] = (uint16_t)rnd();
	c->flowlabel[0] = (uint32_t)rnd() & 0xfffff;
	c->flowlabel[1] = (uint32_t)rnd() & 0xfffff;
	c->icmp_id = (uint16_t)rndr(1, 65535);
	c->t = t;
	if (net == NET_LAN) {
		c->rtt = 150 * US + rndu(300) * US;
		c->think = 20 * US + rndu(60) * US;
		c->nspb = 1 + rndu(2);        /* 4-8 Gbit/s */
		c->ser = 2 * US;
		c->mss[0] = c->mss[1] = v6 ? 8941 : 8961;
		c->ttl_remote = 64;
	} else {
		c->rtt = 8 * MS + rndu(80) * MS;
		c->think = 30 * US + rndu(200) * US;
		c->nspb = 8 + rndu(72);       /* 100 Mbit/s .. 1 Gbit/s */
		c->ser = 5 * US;
		c->mss[0] = c->mss[1] = v6 ? 1440 : 1460;
		c->ttl_remote = (uint8_t)rndr(40, 58);
	}
	return c;
}

/* ------------------------------------------------------------------ */
/* TCP script helpers                                                  */

static void tcp_open(conv *c)
{
	adv(c, 0, 0);
	st_add(c, 0, ST_TCP, F_SYN, 0, 0, 0);
	adv(c, 1, 0);
	st_add(c, 1, ST_TCP, F_SYN | F_ACK, 0, 0, 0);
	adv(c, 0, 0);
	st_add(c, 0, ST_TCP, F_ACK, 0, 0, 0);
}

/* send message mi from dir; ack: peer sends a final pure ACK */
static void tcp_send(conv *c, int dir, uint32_t mi, int ack)
{
	uint32_t len = c->ms[mi].len, off = 0, n = 0, mss = c->mss[dir];
	while (off < len) {
		uint32_t seg = len - off < mss ? len - off : mss;
		if (n == 0)
			adv(c, dir, seg);
		else
			c->t += c->ser + (uint64_t)seg * c->nspb;
		uint8_t fl = F_ACK;
		if (off + seg == len || (n % 16) == 15)
			fl |= F_PSH;
		st_add(c, dir, ST_TCP, fl, mi, off, seg);
		off += seg;
		n++;
		if (n % 2 == 0 && off < len) {
			/* stream-interleaved ACK from the receiver */
			c->t += 1 * US + rndu(10) * US;
			st_add(c, !dir, ST_TCP, F_ACK, 0, 0, 0);
			c->lastdir = dir;
		}
	}
	if (ack) {
		adv(c, !dir, 0);
		st_add(c, !dir, ST_TCP, F_ACK, 0, 0, 0);
	}
}

static void tcp_close(conv *c, int first)
{
	adv(c, first, 0);
	st_add(c, first, ST_TCP, F_FIN | F_ACK, 0, 0, 0);
	adv(c, !first, 0);
	st_add(c, !first, ST_TCP, F_FIN | F_ACK, 0, 0, 0);
	adv(c, first, 0);
	st_add(c, first, ST_TCP, F_ACK, 0, 0, 0);
}

static void tcp_rst(conv *c, int dir)
{
	adv(c, dir, 0);
	st_add(c, dir, ST_TCP, F_RST | F_ACK, 0, 0, 0);
}

/* end: mostly FIN, sometimes RST */
static void tcp_end(conv *c, int first)
{
	if (rndu(100) < 12)
		tcp_rst(c, first);
	else
		tcp_close(c, first);
}

static void wait_ns(conv *c, uint64_t ns) { c->t += ns; }

static void udp_send(conv *c, int dir, uint32_t mi)
{
	adv(c, dir, c->ms[mi].len);
	st_add(c, dir, ST_UDP, 0, mi, 0, c->ms[mi].len);
}

static void icmp_echo(conv *c, int dir, uint32_t mi, uint16_t seq)
{
	adv(c, dir, c->ms[mi].len);
	st_add(c, dir, ST_ICMP, 0, mi, 0, c->ms[mi].len);
	c->st[c->nst - 1].aux = seq;
}

/* IPv4 fragments of one datagram (L4 header + message) */
static void frag_send(conv *c, int dir, int l4proto, uint32_t mi, uint16_t seq)
{
	uint32_t total = 8 + c->ms[mi].len; /* UDP and ICMP echo headers are both 8 bytes */
	uint32_t per = 1480, off = 0;
	int first = 1;
	while (off < total) {
		uint32_t n = total - off <= per ? total - off : per;
		if (first)
			adv(c, dir, n);
		else
			c->t += c->ser + (uint64_t)n * c->nspb;
		first = 0;
		st_add(c, dir, ST_FRAG, off + n < total ? 1 : 0, mi, 0, n);
		step *s = &c->st[c->nst - 1];
		s->fragoff = (uint16_t)off;
		s->fproto = (uint8_t)l4proto;
		s->aux = seq;
		off += n;
	}
}

/* ------------------------------------------------------------------ */
/* application payloads                                                */

static const char *const WORDS[] = {
	"the", "cloud", "packet", "mirror", "flow", "log", "order", "invoice", "customer", "region",
	"lorem", "ipsum", "dolor", "sit", "amet", "status", "service", "value", "table", "row",
	"network", "instance", "result", "data", "error", "success", "page", "item", "price", "stock",
};

static void ar_lorem(conv *c, uint32_t n)
{
	uint8_t *p = ar_grow(c, n);
	uint32_t i = 0;
	while (i < n) {
		const char *w = WORDS[rndu(sizeof WORDS / sizeof WORDS[0])];
		size_t l = strlen(w);
		for (size_t j = 0; j < l && i < n; j++)
			p[i++] = (uint8_t)w[j];
		if (i < n)
			p[i++] = (rndu(12) == 0) ? '\n' : ' ';
	}
}

static uint32_t http_req(conv *c, const char *method, const char *path, const char *host,
                         const char *extra, uint32_t bodylen)
{
	static const char *const UA[] = {
		"curl/8.5.0", "python-requests/2.31.0", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
		"aws-sdk-go/1.50.0 (go1.22; linux; amd64)", "Go-http-client/1.1",
	};
	uint32_t m = msg_begin(c);
	ar_printf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n%s", method, path, host,
	          UA[rndu(5)], extra ? extra : "");
	if (bodylen) {
		ar_printf(c, "Content-Type: application/json\r\nContent-Length: %u\r\n\r\n", bodylen);
		uint8_t *b = ar_grow(c, bodylen);
		memset(b, ' ', bodylen);
		const char *j = "{\"order\":";
		size_t jl = strlen(j);
		if (bodylen > jl + 2) {
			memcpy(b, j, jl);
			for (uint32_t i = (uint32_t)jl; i < bodylen - 1; i++)
				b[i] = (uint8_t)('0' + rndu(10));
			b[bodylen - 1] = '}';
		}
	} else {
		ar_str(c, "\r\n");
	}
	return msg_end(c, m);
}

static uint32_t http_resp(conv *c, int code, uint32_t bodylen, const char *ctype)
{
	uint32_t m = msg_begin(c);
	ar_printf(c, "HTTP/1.1 %d %s\r\nServer: nginx/1.24.0\r\nDate: Tue, 25 Nov 2025 16:00:00 GMT\r\n"
	          "Content-Type: %s\r\nContent-Length: %u\r\nConnection: keep-alive\r\n\r\n",
	          code, code == 200 ? "OK" : code == 404 ? "Not Found" : "Created", ctype, bodylen);
	ar_lorem(c, bodylen);
	return msg_end(c, m);
}

static uint32_t tls_client_hello(conv *c, const char *sni)
{
	uint32_t m = msg_begin(c);
	size_t rec = c->nar;
	ar_u8(c, 0x16); ar_u16(c, 0x0301); ar_u16(c, 0);
	size_t hs = c->nar;
	ar_u8(c, 1); ar_u8(c, 0); ar_u16(c, 0);
	ar_u16(c, 0x0303);
	ar_rand(c, 32);
	ar_u8(c, 32); ar_rand(c, 32);
	static const uint16_t cs[] = { 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8 };
	ar_u16(c, (uint32_t)(2 * (sizeof cs / sizeof cs[0])));
	for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
		ar_u16(c, cs[i]);
	ar_u8(c, 1); ar_u8(c, 0);
	size_t ext = c->nar;
	ar_u16(c, 0);
	size_t sl = strlen(sni);
	ar_u16(c, 0x0000); ar_u16(c, (uint32_t)(sl + 5)); ar_u16(c, (uint32_t)(sl + 3)); ar_u8(c, 0);
	ar_u16(c, (uint32_t)sl); ar_put(c, sni, sl);
	ar_u16(c, 0x000a); ar_u16(c, 8); ar_u16(c, 6); ar_u16(c, 0x001d); ar_u16(c, 0x0017); ar_u16(c, 0x0018);
	ar_u16(c, 0x000b); ar_u16(c, 2); ar_u8(c, 1); ar_u8(c, 0);
	ar_u16(c, 0x000d); ar_u16(c, 10); ar_u16(c, 8);
	ar_u16(c, 0x0403); ar_u16(c, 0x0804); ar_u16(c, 0x0401); ar_u16(c, 0x0503);
	ar_u16(c, 0x0010); ar_u16(c, 14); ar_u16(c, 12); ar_u8(c, 2); ar_str(c, "h2");
	ar_u8(c, 8); ar_str(c, "http/1.1");
	ar_u16(c, 0x002b); ar_u16(c, 5); ar_u8(c, 4); ar_u16(c, 0x0304); ar_u16(c, 0x0303);
	ar_u16(c, 0x002d); ar_u16(c, 2); ar_u8(c, 1); ar_u8(c, 1);
	ar_u16(c, 0x0033); ar_u16(c, 38); ar_u16(c, 36); ar_u16(c, 0x001d); ar_u16(c, 32); ar_rand(c, 32);
	put16(c->ar + ext, (uint32_t)(c->nar - ext - 2));
	uint32_t hlen = (uint32_t)(c->nar - hs - 4);
	c->ar[hs + 1] = (uint8_t)(hlen >> 16);
	put16(c->ar + hs + 2, hlen & 0xffff);
	put16(c->ar + rec + 3, (uint32_t)(c->nar - rec - 5));
	return msg_end(c, m);
}

/* ServerHello (TLS 1.3) + ChangeCipherSpec + encrypted handshake as app data */
static uint32_t tls_server_hello(conv *c, uint32_t enc_len)
{
	uint32_t m = msg_begin(c);
	size_t rec = c->nar;
	ar_u8(c, 0x16); ar_u16(c, 0x0303); ar_u16(c, 0);
	size_t hs = c->nar;
	ar_u8(c, 2); ar_u8(c, 0); ar_u16(c, 0);
	ar_u16(c, 0x0303);
	ar_rand(c, 32);
	ar_u8(c, 32); ar_rand(c, 32);
	ar_u16(c, 0x1301); ar_u8(c, 0);
	ar_u16(c, 46);
	ar_u16(c, 0x002b); ar_u16(c, 2); ar_u16(c, 0x0304);
	ar_u16(c, 0x0033); ar_u16(c, 36); ar_u16(c, 0x001d); ar_u16(c, 32); ar_rand(c, 32);
	uint32_t hlen = (uint32_t)(c->nar - hs - 4);
	c->ar[hs + 1] = (uint8_t)(hlen >> 16);
	put16(c->ar + hs + 2, hlen & 0xffff);
	put16(c->ar + rec + 3, (uint32_t)(c->nar - rec - 5));
	ar_u8(c, 0x14); ar_u16(c, 0x0303); ar_u16(c, 1); ar_u8(c, 1);
	ar_u8(c, 0x17); ar_u16(c, 0x0303); ar_u16(c, enc_len); ar_rand(c, enc_len);
	return msg_end(c, m);
}

/* client CCS + Finished (as app data) */
static uint32_t tls_client_finished(conv *c)
{
	uint32_t m = msg_begin(c);
	ar_u8(c, 0x14); ar_u16(c, 0x0303); ar_u16(c, 1); ar_u8(c, 1);
	ar_u8(c, 0x17); ar_u16(c, 0x0303); ar_u16(c, 53); ar_rand(c, 53);
	return msg_end(c, m);
}

/* a TLS 1.3 session: handshake, `rounds` request/response exchanges, close */
static void tls_session(conv *c, const char *sni, int rounds, uint32_t req_max, uint32_t resp_max, int linger_s)
{
	tcp_open(c);
	tcp_send(c, 0, tls_client_hello(c, sni), 0);
	tcp_send(c, 1, tls_server_hello(c, rndr(2000, 4500)), 0);
	tcp_send(c, 0, tls_client_finished(c), 0);
	for (int r = 0; r < rounds; r++) {
		if (r)
			wait_ns(c, (uint64_t)rndu(2000) * MS);
		tcp_send(c, 0, msg_tls(c, rndr(80, req_max)), 0);
		wait_ns(c, rndr(1, 40) * MS);
		tcp_send(c, 1, msg_tls(c, rndr(100, resp_max)), 1);
	}
	if (linger_s)
		wait_ns(c, (uint64_t)rndu((uint32_t)linger_s * 1000) * MS);
	tcp_end(c, rndu(2));
}

static void ssh_pkt_begin(conv *c, size_t *start) { *start = c->nar; ar_u32(c, 0); ar_u8(c, 0); }
static void ssh_pkt_end(conv *c, size_t start)
{
	size_t plen = c->nar - start - 5;
	uint32_t pad = (uint32_t)(8 - ((plen + 5) % 8));
	if (pad < 4)
		pad += 8;
	ar_rand(c, pad);
	put32(c->ar + start, (uint32_t)(plen + pad + 1));
	c->ar[start + 4] = (uint8_t)pad;
}
static void ssh_string(conv *c, const char *s) { ar_u32(c, (uint32_t)strlen(s)); ar_str(c, s); }

static uint32_t ssh_kexinit(conv *c)
{
	uint32_t m = msg_begin(c);
	size_t p;
	ssh_pkt_begin(c, &p);
	ar_u8(c, 20);
	ar_rand(c, 16);
	ssh_string(c, "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ext-info-c");
	ssh_string(c, "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512");
	ssh_string(c, "chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com");
	ssh_string(c, "chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com");
	ssh_string(c, "umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com");
	ssh_string(c, "umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com");
	ssh_string(c, "none,zlib@openssh.com");
	ssh_string(c, "none,zlib@openssh.com");
	ssh_string(c, "");
	ssh_string(c, "");
	ar_u8(c, 0);
	ar_u32(c, 0);
	ssh_pkt_end(c, p);
	return msg_end(c, m);
}

static uint32_t ssh_ecdh_init(conv *c)
{
	uint32_t m = msg_begin(c);
	size_t p;
	ssh_pkt_begin(c, &p);
	ar_u8(c, 30);
	ar_u32(c, 32); ar_rand(c, 32);
	ssh_pkt_end(c, p);
	return msg_end(c, m);
}

static uint32_t ssh_ecdh_reply(conv *c)
{
	uint32_t m = msg_begin(c);
	size_t p;
	ssh_pkt_begin(c, &p);
	ar_u8(c, 31);
	ar_u32(c, 51); ssh_string(c, "ssh-ed25519"); ar_u32(c, 32); ar_rand(c, 32);
	ar_u32(c, 32); ar_rand(c, 32);
	ar_u32(c, 83); ssh_string(c, "ssh-ed25519"); ar_u32(c, 64); ar_rand(c, 64);
	ssh_pkt_end(c, p);
	ssh_pkt_begin(c, &p);
	ar_u8(c, 21);
	ssh_pkt_end(c, p);
	return msg_end(c, m);
}

static uint32_t ssh_newkeys(conv *c)
{
	uint32_t m = msg_begin(c);
	size_t p;
	ssh_pkt_begin(c, &p);
	ar_u8(c, 21);
	ssh_pkt_end(c, p);
	return msg_end(c, m);
}

static void ssh_handshake(conv *c)
{
	tcp_open(c);
	tcp_send(c, 1, msg_text(c, "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n"), 0);
	tcp_send(c, 0, msg_text(c, "SSH-2.0-OpenSSH_9.6\r\n"), 0);
	tcp_send(c, 0, ssh_kexinit(c), 0);
	tcp_send(c, 1, ssh_kexinit(c), 0);
	tcp_send(c, 0, ssh_ecdh_init(c), 0);
	tcp_send(c, 1, ssh_ecdh_reply(c), 0);
	tcp_send(c, 0, ssh_newkeys(c), 0);
	/* user auth, encrypted */
	for (int i = 0; i < 3; i++) {
		tcp_send(c, 0, msg_gen(c, M_RAND, rndr(44, 620)), 0);
		tcp_send(c, 1, msg_gen(c, M_RAND, rndr(44, 120)), 0);
	}
}

/* encrypted SSH packet sizes: 36 + 16*k */
static uint32_t ssh_enc(conv *c, uint32_t maxk) { return msg_gen(c, M_RAND, 36 + 16 * rndu(maxk + 1)); }

static void dns_name(conv *c, const char *name)
{
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		ar_u8(c, (uint32_t)l);
		ar_put(c, p, l);
		p += l;
		if (*p == '.')
			p++;
	}
	ar_u8(c, 0);
}

/* qtype 1 A, 28 AAAA, 16 TXT; answers: n records */
static void dns_exchange(conv *c, uint16_t id, const char *name, int qtype, int nans, int edns)
{
	uint32_t q = msg_begin(c);
	ar_u16(c, id); ar_u16(c, 0x0100); ar_u16(c, 1); ar_u16(c, 0); ar_u16(c, 0); ar_u16(c, edns ? 1 : 0);
	dns_name(c, name); ar_u16(c, (uint32_t)qtype); ar_u16(c, 1);
	if (edns) {
		ar_u8(c, 0); ar_u16(c, 41); ar_u16(c, 4096); ar_u32(c, 0); ar_u16(c, 0);
	}
	msg_end(c, q);
	uint32_t r = msg_begin(c);
	ar_u16(c, id); ar_u16(c, 0x8180); ar_u16(c, 1); ar_u16(c, (uint32_t)nans); ar_u16(c, 0);
	ar_u16(c, edns ? 1 : 0);
	dns_name(c, name); ar_u16(c, (uint32_t)qtype); ar_u16(c, 1);
	for (int i = 0; i < nans; i++) {
		ar_u16(c, 0xc00c); ar_u16(c, (uint32_t)qtype); ar_u16(c, 1); ar_u32(c, rndr(30, 3600));
		if (qtype == 1) {
			ar_u16(c, 4);
			ar_u8(c, rndr(3, 223)); ar_u8(c, rndu(256)); ar_u8(c, rndu(256)); ar_u8(c, rndr(1, 254));
		} else if (qtype == 28) {
			ar_u16(c, 16);
			ar_u16(c, 0x2600); ar_u16(c, 0x1f18); ar_rand(c, 12);
		} else {
			uint32_t l = rndr(200, 250);
			ar_u16(c, l + 1); ar_u8(c, l);
			uint8_t *b = ar_grow(c, l);
			static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
			for (uint32_t k = 0; k < l; k++)
				b[k] = (uint8_t)b64[rndu(64)];
		}
	}
	if (edns) {
		ar_u8(c, 0); ar_u16(c, 41); ar_u16(c, 4096); ar_u32(c, 0); ar_u16(c, 0);
	}
	msg_end(c, r);
	if (c->ms[r].len + 8 > 1480 && !c->v6) {
		adv(c, 0, 0);
		st_add(c, 0, ST_UDP, 0, q, 0, c->ms[q].len);
		wait_ns(c, rndr(1, 30) * MS);
		frag_send(c, 1, 17, r, 0);
	} else {
		udp_send(c, 0, q);
		wait_ns(c, rndr(50, 2000) * US);
		udp_send(c, 1, r);
	}
}

static uint32_t ntp_msg(conv *c, int server, uint64_t t_ns)
{
	uint32_t m = msg_begin(c);
	uint64_t secs = t_ns / NS + 2208988800ULL;
	uint32_t frac = (uint32_t)(((t_ns % NS) << 32) / NS);
	if (!server) {
		ar_u8(c, 0x23); ar_u8(c, 0); ar_u8(c, 6); ar_u8(c, 0xe9);
		ar_u32(c, 0); ar_u32(c, 0); ar_u32(c, 0);
		ar_u32(c, 0); ar_u32(c, 0); ar_u32(c, 0); ar_u32(c, 0); ar_u32(c, 0); ar_u32(c, 0);
		ar_u32(c, (uint32_t)secs); ar_u32(c, frac);
	} else {
		ar_u8(c, 0x24); ar_u8(c, 1); ar_u8(c, 6); ar_u8(c, 0xe7);
		ar_u32(c, 0); ar_u32(c, 0x00000010); ar_str(c, "AMZN");
		ar_u32(c, (uint32_t)secs); ar_u32(c, 0);
		ar_u32(c, (uint32_t)secs); ar_u32(c, frac);
		ar_u32(c, (uint32_t)secs); ar_u32(c, frac);
		ar_u32(c, (uint32_t)secs); ar_u32(c, frac);
	}
	return msg_end(c, m);
}

static uint32_t ping_payload(conv *c, uint32_t n, uint64_t t_ns)
{
	uint32_t m = msg_begin(c);
	uint8_t *p = ar_grow(c, n);
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i + 0x10);
	if (n >= 16) {
		le32(p, (uint32_t)(t_ns / NS));
		le32(p + 4, 0);
		le32(p + 8, (uint32_t)((t_ns % NS) / 1000));
		le32(p + 12, 0);
	}
	return msg_end(c, m);
}

/* ------------------------------------------------------------------ */
/* remote endpoints                                                    */

typedef struct site { const char *host; int a, b, cc, d; } site;
static const site SITES[] = {
	{ "www.example.com", 93, 184, 215, 14 },
	{ "api.github.com", 140, 82, 112, 6 },
	{ "objects.githubusercontent.com", 185, 199, 108, 133 },
	{ "deb.debian.org", 151, 101, 2, 132 },
	{ "sts.us-east-1.amazonaws.com", 209, 54, 177, 164 },
	{ "ec2.us-east-1.amazonaws.com", 52, 94, 236, 248 },
	{ "www.google.com", 142, 250, 72, 100 },
	{ "login.microsoftonline.com", 20, 190, 151, 7 },
	{ "hooks.slack.com", 34, 226, 58, 11 },
	{ "api.stripe.com", 54, 187, 174, 169 },
	{ "registry.npmjs.org", 104, 16, 3, 35 },
	{ "pypi.org", 151, 101, 64, 223 },
};
#define NSITES (sizeof SITES / sizeof SITES[0])

typedef struct site6 { const char *host; const char *addr; } site6;
static const site6 SITES6[] = {
	{ "www.cloudflare.com", "2606:4700::6810:84e5" },
	{ "www.google.com", "2607:f8b0:4004:c1b::68" },
	{ "pypi.org", "2a04:4e42::223" },
	{ "s3.dualstack.us-east-1.amazonaws.com", "2600:1fa0:80b4:db49::3" },
};
#define NSITES6 (sizeof SITES6 / sizeof SITES6[0])

static void site_addr(uint8_t *a, const site *s) { a4(a, s->a, s->b, s->cc, s->d); }

/* ------------------------------------------------------------------ */
/* heap                                                                */

static conv **H;
static size_t Hn, Hcap;

static int hless(const conv *a, const conv *b)
{
	if (a->t_next != b->t_next)
		return a->t_next < b->t_next;
	return a->id < b->id;
}

static void hpush(conv *c)
{
	if (Hn == Hcap) {
		Hcap = Hcap ? Hcap * 2 : 256;
		H = xrealloc(H, Hcap * sizeof *H);
	}
	size_t i = Hn++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!hless(c, H[p]))
			break;
		H[i] = H[p];
		i = p;
	}
	H[i] = c;
}

static conv *hpop(void)
{
	conv *top = H[0];
	conv *last = H[--Hn];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const conv *best = last;
		if (l < Hn && hless(H[l], best)) {
			m = l;
			best = H[l];
		}
		if (r < Hn && hless(H[r], best))
			m = r;
		if (m == i)
			break;
		H[i] = H[m];
		i = m;
	}
	if (Hn)
		H[i] = last;
	return top;
}

static uint64_t g_floor; /* --no-interleave: next conversation starts after this */

/* make a finished script live */
static void conv_start(conv *c)
{
	if (c->nst == 0) {
		conv_release(c);
		return;
	}
	if (!C.interleave) {
		uint64_t shift = 0;
		if (c->st[0].t < g_floor)
			shift = g_floor - c->st[0].t;
		for (size_t i = 0; i < c->nst; i++)
			c->st[i].t += shift;
		g_floor = c->st[c->nst - 1].t + 1 * MS;
	}
	c->cur = 0;
	c->t_next = c->st[0].t;
	hpush(c);
}

/* the same conversation as seen on the peer's mirrored ENI (east-west) */
static void conv_mirror_copy(const conv *a, int vi_b)
{
	conv *b = conv_alloc();
	uint64_t id = b->id;
	step *st = b->st; msg *ms = b->ms; uint8_t *ar = b->ar;
	size_t cst = b->capst, cms = b->capms, car = b->capar;
	*b = *a;
	b->id = id;
	b->st = st; b->ms = ms; b->ar = ar;
	b->capst = cst; b->capms = cms; b->capar = car;
	b->vi = vi_b;
	b->local_is_client = !a->local_is_client;
	if (b->capst < a->nst) { b->st = xrealloc(b->st, a->nst * sizeof *b->st); b->capst = a->nst; }
	if (b->capms < a->nms) { b->ms = xrealloc(b->ms, a->nms * sizeof *b->ms); b->capms = a->nms; }
	if (b->capar < a->nar) { b->ar = xrealloc(b->ar, a->nar); b->capar = a->nar; }
	memcpy(b->st, a->st, a->nst * sizeof *b->st);
	memcpy(b->ms, a->ms, a->nms * sizeof *b->ms);
	if (a->nar)
		memcpy(b->ar, a->ar, a->nar);
	uint64_t prev = 0;
	for (size_t i = 0; i < b->nst; i++) {
		/* packets from A reach B ~40 us later; packets from B left B ~40 us earlier */
		uint64_t t = b->st[i].t;
		t = (b->st[i].dir == 0) == (a->local_is_client != 0) ? t + 40 * US : t - 40 * US;
		if (t < prev)
			t = prev;
		b->st[i].t = t;
		prev = t;
	}
	/* already placed relative to its original: no --no-interleave shift */
	b->cur = 0;
	b->t_next = b->st[0].t;
	if (b->st[b->nst - 1].t + 1 * MS > g_floor)
		g_floor = b->st[b->nst - 1].t + 1 * MS;
	hpush(b);
}

/* ------------------------------------------------------------------ */
/* output                                                              */

typedef struct pout {
	FILE *f;
	const char *path;
	uint8_t *buf;
	size_t n, cap;
	uint64_t bytes;
} pout;

static pout O_outer, O_inner;

static void pout_flush(pout *o)
{
	if (o->f && o->n) {
		if (fwrite(o->buf, 1, o->n, o->f) != o->n)
			die("%s: write failed: %s", o->path, strerror(errno));
	}
	o->n = 0;
}

static void pout_open(pout *o, const char *path)
{
	o->path = path;
	o->cap = 8u << 20;
	o->buf = xrealloc(NULL, o->cap);
	if (path) {
		o->f = fopen(path, "wb");
		if (!o->f)
			die("%s: %s", path, strerror(errno));
	}
	uint8_t h[24];
	le32(h, 0xa1b23c4d);
	le16(h + 4, 2);
	le16(h + 6, 4);
	le32(h + 8, 0);
	le32(h + 12, 0);
	le32(h + 16, 262144);
	le32(h + 20, 1);
	memcpy(o->buf, h, 24);
	o->n = 24;
	o->bytes = 24;
}

static void pout_rec(pout *o, uint64_t ts, const uint8_t *p, uint32_t caplen, uint32_t origlen)
{
	if (o->n + 16 + caplen > o->cap)
		pout_flush(o);
	uint8_t *h = o->buf + o->n;
	le32(h, (uint32_t)(ts / NS));
	le32(h + 4, (uint32_t)(ts % NS));
	le32(h + 8, caplen);
	le32(h + 12, origlen);
	if (o->f)
		memcpy(h + 16, p, caplen);
	o->n += 16 + caplen;
	o->bytes += 16 + caplen;
	if (!o->f)
		o->n = 0;
}

static void pout_close(pout *o)
{
	pout_flush(o);
	if (o->f && fclose(o->f) != 0)
		die("%s: close failed: %s", o->path, strerror(errno));
	o->f = NULL;
	free(o->buf);
	o->buf = NULL;
}

/* ------------------------------------------------------------------ */
/* truth table                                                         */

typedef struct fkey {
	uint32_t vi;
	uint8_t v6, proto;
	uint16_t sport, dport;
	uint8_t src[16], dst[16];
} fkey;

typedef struct fent {
	fkey k;
	uint64_t packets, bytes, first, last;
	uint8_t aws, raw, app;
} fent;

static fent *FE;
static size_t FEn, FEcap;
static uint32_t *FH; /* index+1, 0 empty */
static size_t FHcap;

static uint64_t fkey_hash(const fkey *k)
{
	uint64_t h = 0x12345678abcdefULL;
	const uint8_t *p = (const uint8_t *)k;
	for (size_t i = 0; i + 8 <= sizeof *k; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = mix64(h ^ w);
	}
	return h;
}

static void fh_rehash(size_t cap)
{
	free(FH);
	FH = calloc(cap, sizeof *FH);
	if (!FH)
		die("out of memory");
	FHcap = cap;
	for (size_t i = 0; i < FEn; i++) {
		size_t j = fkey_hash(&FE[i].k) & (cap - 1);
		while (FH[j])
			j = (j + 1) & (cap - 1);
		FH[j] = (uint32_t)(i + 1);
	}
}

static fent *truth_get(const fkey *k, int app)
{
	if ((FEn + 1) * 2 > FHcap)
		fh_rehash(FHcap ? FHcap * 2 : 4096);
	size_t j = fkey_hash(k) & (FHcap - 1);
	while (FH[j]) {
		fent *e = &FE[FH[j] - 1];
		if (memcmp(&e->k, k, sizeof *k) == 0)
			return e;
		j = (j + 1) & (FHcap - 1);
	}
	if (FEn == FEcap) {
		FEcap = FEcap ? FEcap * 2 : 4096;
		FE = xrealloc(FE, FEcap * sizeof *FE);
	}
	fent *e = &FE[FEn];
	memset(e, 0, sizeof *e);
	e->k = *k;
	e->app = (uint8_t)app;
	FH[j] = (uint32_t)(++FEn);
	return e;
}

static void fmt_addr(char *out, size_t cap, const uint8_t *a, int v6)
{
	if (!v6) {
		snprintf(out, cap, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		return;
	}
	/* RFC 5952: longest run (>= 2) of zero groups -> "::", lower-case hex */
	uint16_t g[8];
	for (int i = 0; i < 8; i++)
		g[i] = (uint16_t)((a[2 * i] << 8) | a[2 * i + 1]);
	int bs = -1, bl = 0;
	for (int i = 0; i < 8;) {
		if (g[i] == 0) {
			int j = i;
			while (j < 8 && g[j] == 0)
				j++;
			if (j - i > bl && j - i >= 2) {
				bs = i;
				bl = j - i;
			}
			i = j;
		} else {
			i++;
		}
	}
	size_t n = 0;
	out[0] = 0;
	for (int i = 0; i < 8; i++) {
		if (i == bs) {
			n += (size_t)snprintf(out + n, cap - n, "::");
			i += bl - 1;
			continue;
		}
		if (i > 0 && i != bs + bl)
			n += (size_t)snprintf(out + n, cap - n, ":");
		n += (size_t)snprintf(out + n, cap - n, "%x", g[i]);
	}
}

static void truth_write(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("%s: %s", path, strerror(errno));
	static char buf[1 << 20];
	setvbuf(f, buf, _IOFBF, sizeof buf);
	fputs("vni,outer_src,src,dst,sport,dport,proto,packets,bytes,first_ns,last_ns,tcp_flags_aws,tcp_flags_raw,app\n", f);
	char s[64], d[64];
	for (size_t i = 0; i < FEn; i++) {
		const fent *e = &FE[i];
		fmt_addr(s, sizeof s, e->k.src, e->k.v6);
		fmt_addr(d, sizeof d, e->k.dst, e->k.v6);
		fprintf(f, "%u,%s,%s,%s,%u,%u,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%u,%u,%s\n",
		        V[e->k.vi].vni, V[e->k.vi].outer_txt, s, d, e->k.sport, e->k.dport, e->k.proto,
		        e->packets, e->bytes, e->first, e->last, e->aws, e->raw, APPS[e->app]);
	}
	if (fflush(f) != 0 || ferror(f) || fclose(f) != 0)
		die("%s: write failed", path);
}

/* ------------------------------------------------------------------ */
/* the VPC Flow Log the VPC would have delivered (--flowlog), with     */
/* known, injected disagreements (--audit-truth), the VNI map, and the */
/* mirror filter and session JSON that explain some of them            */
/*                                                                     */
/* Records: per ENI (VNI index), unidirectional 5-tuple and 60 s       */
/* window aligned to multiples of 60, as on Nitro instances;         */
/* bytes = sum of IP total lengths, tcp-flags as AWS ORs them, start/end = */
/* first/last packet second plus a small deterministic lag (0..2 s;    */
/* none in the last window before the coverage cut).  No random        */
/* numbers are drawn, so the capture and truth are unchanged.          */

#define FL_WIN 60

static uint64_t g_dur_ns; /* defined with the scenario builders */

typedef struct wkey {
	fkey k;
	uint32_t window;
} wkey;

typedef struct went {
	wkey w;
	uint32_t fe;        /* index of the flow in FE */
	uint32_t seq;       /* creation order */
	uint64_t packets, bytes, first, last;
	uint8_t aws;
} went;

static went *WE;
static size_t WEn, WEcap;
static uint32_t *WH;
static size_t WHcap;

static uint64_t wkey_hash(const wkey *k)
{
	return mix64(fkey_hash(&k->k) ^ ((uint64_t)k->window * 0x9e3779b97f4a7c15ULL));
}

static void wh_rehash(size_t cap)
{
	free(WH);
	WH = calloc(cap, sizeof *WH);
	if (!WH)
		die("out of memory");
	WHcap = cap;
	for (size_t i = 0; i < WEn; i++) {
		size_t j = wkey_hash(&WE[i].w) & (cap - 1);
		while (WH[j])
			j = (j + 1) & (cap - 1);
		WH[j] = (uint32_t)(i + 1);
	}
}

static void flog_add(const fkey *k, const fent *fe, uint64_t ts, uint32_t iplen, uint8_t aws)
{
	wkey w;
	memset(&w, 0, sizeof w);
	w.k = *k;
	w.window = (uint32_t)(ts / NS / FL_WIN * FL_WIN);
	if ((WEn + 1) * 2 > WHcap)
		wh_rehash(WHcap ? WHcap * 2 : 4096);
	size_t j = wkey_hash(&w) & (WHcap - 1);
	went *e = NULL;
	while (WH[j]) {
		went *x = &WE[WH[j] - 1];
		if (memcmp(&x->w, &w, sizeof w) == 0) {
			e = x;
			break;
		}
		j = (j + 1) & (WHcap - 1);
	}
	if (!e) {
		if (WEn == WEcap) {
			WEcap = WEcap ? WEcap * 2 : 4096;
			WE = xrealloc(WE, WEcap * sizeof *WE);
		}
		e = &WE[WEn];
		memset(e, 0, sizeof *e);
		e->w = w;
		e->fe = (uint32_t)(fe - FE);
		e->seq = (uint32_t)WEn;
		e->first = ts;
		WH[j] = (uint32_t)(++WEn);
	}
	e->packets++;
	e->bytes += iplen;
	e->last = ts;
	e->aws |= aws;
}

static const char *const ACCOUNT = "123456789012";

static void eni_name(char *out, size_t cap, int vi)
{
	snprintf(out, cap, "eni-0%016" PRIx64, (uint64_t)(mix64(0xe11ULL ^ V[vi].vni) & 0x0fffffffffffffffULL));
}

/* per-flow verdicts of the injection plan */
enum { FX_NONE, FX_NOTLOG_DNS, FX_NOTLOG_IMDS, FX_NOTLOG_NTP, FX_DROP, FX_DOUBLE, FX_HALF };

static int is4(const uint8_t *a, int x, int y, int z, int w) { return a[0] == x && a[1] == y && a[2] == z && a[3] == w; }

static int fx_of(const fent *e)
{
	const fkey *k = &e->k;
	static const uint8_t dns6[16] = { 0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x53 };
	for (int s = 0; s < 2; s++) {
		const uint8_t *a = s ? k->dst : k->src;
		if (!k->v6 && is4(a, 10, 0, 0, 2))
			return FX_NOTLOG_DNS;
		if (k->v6 && memcmp(a, dns6, 16) == 0)
			return FX_NOTLOG_DNS;
		if (!k->v6 && is4(a, 169, 254, 169, 254))
			return FX_NOTLOG_IMDS;
		if (!k->v6 && is4(a, 169, 254, 169, 123))
			return FX_NOTLOG_NTP;
	}
	/* the FTP server's replies: the flow log says half (flow-log loss) */
	if (k->proto == 6 && k->sport == 21 && e->packets >= 4)
		return FX_HALF;
	uint64_t h = mix64(fkey_hash(k) ^ 0xa0d17ULL) % 40;
	if (h == 0)
		return FX_DROP;
	if (h == 1)
		return FX_DOUBLE;
	if (h == 2 && e->packets >= 4)
		return FX_HALF;
	return FX_NONE;
}

static int went_cmp(const void *x, const void *y)
{
	const went *a = x, *b = y;
	if (a->w.window != b->w.window)
		return a->w.window < b->w.window ? -1 : 1;
	if (a->w.k.vi != b->w.k.vi)
		return a->w.k.vi < b->w.k.vi ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

typedef struct flagg {
	uint64_t m_pk, fl_pk, skip_pk, out_pk;
	uint64_t m_by, fl_by, skip_by, out_by;
	int written;
} flagg;

/* the audit's default tolerance: 5 % of the larger count */
static int within5(uint64_t x, uint64_t y)
{
	uint64_t hi = x > y ? x : y, d = x > y ? x - y : y - x;
	return (double)d <= 0.05 * (double)hi;
}

static void fl_line(FILE *f, int vi, const char *src, const char *dst, unsigned sp, unsigned dp, unsigned proto,
                    uint64_t pk, uint64_t by, uint64_t st, uint64_t en, const char *action, unsigned flags,
                    const char *dir, int v6)
{
	char eni[40];
	eni_name(eni, sizeof eni, vi);
	fprintf(f, "5 %s %s %s %s %u %u %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %s OK vpc-0a1b2c3d4e5f60718 subnet-0%015x i-0%016" PRIx64 " %u %s %s %s %s\n",
	        ACCOUNT, eni, src, dst, sp, dp, proto, pk, by, st, en, action, 0x100u + (unsigned)vi,
	        (uint64_t)(mix64(0x1ULL ^ V[vi].vni) & 0x0fffffffffffffffULL), flags, v6 ? "IPv6" : "IPv4", src, dst, dir);
}

static void flowlog_write(void)
{
	uint64_t t0s = g_t0 / NS;
	uint64_t dur_s = g_dur_ns / NS;
	uint32_t w_cut = (uint32_t)((t0s + dur_s * 9 / 10) / FL_WIN * FL_WIN);
	uint32_t w_skip = (uint32_t)((t0s + dur_s * 4 / 10) / FL_WIN * FL_WIN);
	int skip_vi = 0;
	char s[64], d[64];
	FILE *f = NULL, *tf = NULL;

	qsort(WE, WEn, sizeof *WE, went_cmp);
	flagg *ag = calloc(FEn ? FEn : 1, sizeof *ag);
	uint32_t *cov_last = calloc((size_t)C.nvnis, sizeof *cov_last);
	if (!ag || !cov_last)
		die("out of memory");
	if (C.flowlog) {
		f = fopen(C.flowlog, "w");
		if (!f)
			die("%s: %s", C.flowlog, strerror(errno));
		fputs("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
		      "action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr flow-direction\n", f);
	}
	int skip_written = 0;
	for (size_t i = 0; i < WEn; i++) {
		const went *e = &WE[i];
		const fent *fe = &FE[e->fe];
		flagg *a = &ag[e->fe];
		int fx = fx_of(fe);
		a->m_pk += e->packets;
		a->m_by += e->bytes;
		if (e->w.window >= w_cut) {
			a->out_pk += e->packets;
			a->out_by += e->bytes;
			continue;
		}
		if ((int)e->w.k.vi == skip_vi && e->w.window == w_skip) {
			a->skip_pk += e->packets;
			a->skip_by += e->bytes;
			if (!skip_written && f) {
				char eni[40];
				eni_name(eni, sizeof eni, skip_vi);
				fprintf(f, "5 %s %s - - - - - - - %u %u - SKIPDATA vpc-0a1b2c3d4e5f60718 - - - - - - -\n",
				        ACCOUNT, eni, w_skip, w_skip + FL_WIN - 1);
			}
			skip_written = 1;
			continue;
		}
		if (fx == FX_NOTLOG_DNS || fx == FX_NOTLOG_IMDS || fx == FX_NOTLOG_NTP || fx == FX_DROP)
			continue;
		uint64_t pk = e->packets, by = e->bytes;
		if (fx == FX_DOUBLE) {
			pk *= 2;
			by *= 2;
		} else if (fx == FX_HALF) {
			pk = (pk + 1) / 2;
			by = (by + 1) / 2;
		}
		a->fl_pk += pk;
		a->fl_by += by;
		a->written = 1;
		uint32_t lag = e->w.window + FL_WIN >= w_cut ? 0 : (uint32_t)(mix64(e->seq ^ 0x1a6ULL) % 3);
		uint64_t st = e->first / NS + lag, en = e->last / NS + lag;
		if ((uint32_t)en > cov_last[e->w.k.vi])
			cov_last[e->w.k.vi] = (uint32_t)en;
		if (f) {
			const vnictx *v = &V[e->w.k.vi];
			int egress = e->w.k.v6 ? memcmp(e->w.k.src, v->inst6, 8) == 0 : memcmp(e->w.k.src, v->eni4, 4) == 0;
			fmt_addr(s, sizeof s, e->w.k.src, e->w.k.v6);
			fmt_addr(d, sizeof d, e->w.k.dst, e->w.k.v6);
			fl_line(f, (int)e->w.k.vi, s, d, e->w.k.sport, e->w.k.dport, e->w.k.proto, pk, by, st, en, "ACCEPT",
			        e->w.k.proto == 6 ? e->aws : 0, egress ? "egress" : "ingress", e->w.k.v6);
		}
	}
	/* flow-log-only records: REJECT, filter-excluded, an interface without a
	 * session, an unexplained gap, a record from before the archive */
	int vdb = C.nvnis >= 3 ? 2 : C.nvnis - 1, vapp = C.nvnis >= 2 ? 1 : 0;
	uint32_t tr = (uint32_t)(t0s + dur_s * 45 / 100), tx = (uint32_t)(t0s + dur_s * 47 / 100);
	char e0[20], edb[20], eapp[20];
	snprintf(e0, sizeof e0, "%u.%u.%u.%u", V[0].eni4[0], V[0].eni4[1], V[0].eni4[2], V[0].eni4[3]);
	snprintf(edb, sizeof edb, "%u.%u.%u.%u", V[vdb].eni4[0], V[vdb].eni4[1], V[vdb].eni4[2], V[vdb].eni4[3]);
	snprintf(eapp, sizeof eapp, "%u.%u.%u.%u", V[vapp].eni4[0], V[vapp].eni4[1], V[vapp].eni4[2], V[vapp].eni4[3]);
	if (f) {
		fl_line(f, 0, "45.155.205.233", e0, 51234, 3389, 6, 2, 88, tr, tr + 3, "REJECT", 2, "ingress", 0);
		fl_line(f, 0, "45.155.205.233", e0, 51235, 23, 6, 1, 44, tr + 1, tr + 1, "REJECT", 2, "ingress", 0);
		fl_line(f, vdb, "10.0.150.20", edb, 40112, 5432, 6, 14, 2210, tx, tx + 9, "ACCEPT", 27, "ingress", 0);
		fl_line(f, vdb, edb, "10.0.150.20", 5432, 40112, 6, 12, 5120, tx, tx + 9, "ACCEPT", 27, "egress", 0);
		fl_line(f, vapp, eapp, "198.51.100.200", 41000, 443, 6, 9, 1730, tx + 2, tx + 20, "ACCEPT", 27, "egress", 0);
		fl_line(f, vapp, eapp, "93.184.216.34", 41001, 80, 6, 6, 600, t0s - 600, t0s - 590, "ACCEPT", 27, "egress", 0);
		/* an ENI no mirror session covers */
		fprintf(f, "5 %s eni-0c0ffee0000000001 10.0.99.17 52.94.1.10 43210 443 6 10 2400 %u %u ACCEPT OK "
		           "vpc-0a1b2c3d4e5f60718 subnet-0c0ffee000000001 i-0c0ffee0000000001 27 IPv4 10.0.99.17 52.94.1.10 egress\n",
		        ACCOUNT, tx + 5, tx + 30);
		if (fflush(f) != 0 || ferror(f) || fclose(f) != 0)
			die("%s: write failed", C.flowlog);
	}
	if (C.audit_truth) {
		tf = fopen(C.audit_truth, "w");
		if (!tf)
			die("%s: %s", C.audit_truth, strerror(errno));
		fputs("class,reason,interface,vni,src,dst,sport,dport,proto\n", tf);
		for (size_t i = 0; i < FEn; i++) {
			const fent *e = &FE[i];
			const flagg *a = &ag[i];
			const char *cls, *why;
			int fx = fx_of(e);
			char eni[40];
			if (fx == FX_NOTLOG_DNS || fx == FX_NOTLOG_IMDS || fx == FX_NOTLOG_NTP) {
				cls = "mirror_only";
				why = fx == FX_NOTLOG_DNS ? "not_logged_amazon_dns" : fx == FX_NOTLOG_IMDS ? "not_logged_imds"
				                                                                           : "not_logged_time_sync";
			} else if (!a->written) {
				cls = "mirror_only";
				if (a->skip_pk + a->out_pk == 0)
					why = "unexplained"; /* dropped from the flow log */
				else
					why = a->skip_pk >= a->out_pk ? "skipdata" : "outside_coverage";
			} else if (within5(a->m_pk, a->fl_pk) && within5(a->m_by, a->fl_by)) {
				cls = "matched";
				why = "none";
			} else if (a->fl_pk > a->m_pk || (a->fl_pk == a->m_pk && a->fl_by > a->m_by)) {
				cls = "mirror_fewer"; /* the flow log was inflated: FX_DOUBLE */
				why = "mirror_loss";
			} else {
				uint64_t xp = a->skip_pk + a->out_pk, xb = a->skip_by + a->out_by;
				cls = "mirror_more";
				if (xp && within5(a->m_pk - xp, a->fl_pk) && within5(a->m_by - xb, a->fl_by))
					why = a->skip_pk >= a->out_pk ? "skipdata" : "outside_coverage";
				else
					why = "flowlog_loss"; /* FX_HALF */
			}
			eni_name(eni, sizeof eni, (int)e->k.vi);
			fmt_addr(s, sizeof s, e->k.src, e->k.v6);
			fmt_addr(d, sizeof d, e->k.dst, e->k.v6);
			fprintf(tf, "%s,%s,%s,%u,%s,%s,%u,%u,%u\n", cls, why, eni, V[e->k.vi].vni, s, d, e->k.sport, e->k.dport,
			        e->k.proto);
		}
		char en0[40], endb[40], enapp[40];
		eni_name(en0, sizeof en0, 0);
		eni_name(endb, sizeof endb, vdb);
		eni_name(enapp, sizeof enapp, vapp);
		fprintf(tf, "flowlog_only,reject,%s,%u,45.155.205.233,%s,51234,3389,6\n", en0, V[0].vni, e0);
		fprintf(tf, "flowlog_only,reject,%s,%u,45.155.205.233,%s,51235,23,6\n", en0, V[0].vni, e0);
		fprintf(tf, "flowlog_only,filter_excluded,%s,%u,10.0.150.20,%s,40112,5432,6\n", endb, V[vdb].vni, edb);
		fprintf(tf, "flowlog_only,filter_excluded,%s,%u,%s,10.0.150.20,5432,40112,6\n", endb, V[vdb].vni, edb);
		fprintf(tf, "flowlog_only,unexplained,%s,%u,%s,198.51.100.200,41000,443,6\n", enapp, V[vapp].vni, eapp);
		fprintf(tf, "flowlog_only,time_not_covered,%s,%u,%s,93.184.216.34,41001,80,6\n", enapp, V[vapp].vni, eapp);
		fprintf(tf, "flowlog_only,interface_not_mirrored,eni-0c0ffee0000000001,,10.0.99.17,52.94.1.10,43210,443,6\n");
		if (fflush(tf) != 0 || ferror(tf) || fclose(tf) != 0)
			die("%s: write failed", C.audit_truth);
	}
	free(ag);
	free(cov_last);
}

/* The VNI map (text: one line per VNI) and the mirror configuration. */
static void mirrorcfg_write(void)
{
	char eni[40], a6txt[64];
	if (C.vnimap_out) {
		FILE *f = fopen(C.vnimap_out, "w");
		if (!f)
			die("%s: %s", C.vnimap_out, strerror(errno));
		fputs("# tv-gen VNI map: one mirror session (VNI) per line\n", f);
		for (int i = 0; i < C.nvnis; i++) {
			const vnictx *v = &V[i];
			eni_name(eni, sizeof eni, i);
			fmt_addr(a6txt, sizeof a6txt, v->inst6, 1);
			fprintf(f, "vni=%u eni=%s account=%s vpc=vpc-0a1b2c3d4e5f60718 subnet=subnet-0%015x "
			           "instance=i-0%016" PRIx64 " region=us-east-1 az=use1-az%d addr=%u.%u.%u.%u%s%s\n",
			        v->vni, eni, ACCOUNT, 0x100u + (unsigned)i, (uint64_t)(mix64(0x1ULL ^ v->vni) & 0x0fffffffffffffffULL),
			        1 + i % 6, v->eni4[0], v->eni4[1], v->eni4[2], v->eni4[3], C.ipv6 ? "," : "", C.ipv6 ? a6txt : "");
		}
		if (fflush(f) != 0 || ferror(f) || fclose(f) != 0)
			die("%s: write failed", C.vnimap_out);
	}
	if (C.sessions_out) {
		FILE *f = fopen(C.sessions_out, "w");
		if (!f)
			die("%s: %s", C.sessions_out, strerror(errno));
		fputs("{\n    \"TrafficMirrorSessions\": [", f);
		for (int i = 0; i < C.nvnis; i++) {
			const vnictx *v = &V[i];
			eni_name(eni, sizeof eni, i);
			fprintf(f, "%s\n        {\n            \"TrafficMirrorSessionId\": \"tms-0%016" PRIx64 "\",\n"
			           "            \"TrafficMirrorTargetId\": \"tmt-0a1b2c3d4e5f60001\",\n"
			           "            \"TrafficMirrorFilterId\": \"tmf-0a1b2c3d4e5f60001\",\n"
			           "            \"NetworkInterfaceId\": \"%s\",\n            \"OwnerId\": \"%s\",\n",
			        i ? "," : "", (uint64_t)(mix64(0x5ULL ^ v->vni) & 0x0fffffffffffffffULL), eni, ACCOUNT);
			if (v->pktlen)
				fprintf(f, "            \"PacketLength\": %u,\n", v->pktlen);
			fprintf(f, "            \"SessionNumber\": 1,\n            \"VirtualNetworkId\": %u,\n"
			           "            \"Description\": \"tv-gen session %d\",\n            \"Tags\": []\n        }",
			        v->vni, i);
		}
		fputs("\n    ]\n}\n", f);
		if (fflush(f) != 0 || ferror(f) || fclose(f) != 0)
			die("%s: write failed", C.sessions_out);
	}
	if (C.filters_out) {
		FILE *f = fopen(C.filters_out, "w");
		if (!f)
			die("%s: %s", C.filters_out, strerror(errno));
		static const char *const dirs[2] = { "ingress", "egress" };
		fputs("{\n    \"TrafficMirrorFilters\": [\n        {\n"
		      "            \"TrafficMirrorFilterId\": \"tmf-0a1b2c3d4e5f60001\",\n", f);
		for (int dd = 0; dd < 2; dd++) {
			fprintf(f, "            \"%s\": [\n", dd ? "EgressFilterRules" : "IngressFilterRules");
			fprintf(f, "                {\"TrafficMirrorFilterRuleId\": \"tmfr-0a1b2c3d4e5f6%04d\", "
			           "\"TrafficMirrorFilterId\": \"tmf-0a1b2c3d4e5f60001\", \"TrafficDirection\": \"%s\", "
			           "\"RuleNumber\": 100, \"RuleAction\": \"reject\", \"Protocol\": 6, "
			           "\"SourceCidrBlock\": \"0.0.0.0/0\", \"DestinationCidrBlock\": \"0.0.0.0/0\", "
			           "\"%s\": {\"FromPort\": 5432, \"ToPort\": 5432}, "
			           "\"Description\": \"PostgreSQL is not mirrored\"},\n",
			        dd * 10 + 1, dirs[dd], dd ? "SourcePortRange" : "DestinationPortRange");
			fprintf(f, "                {\"TrafficMirrorFilterRuleId\": \"tmfr-0a1b2c3d4e5f6%04d\", "
			           "\"TrafficMirrorFilterId\": \"tmf-0a1b2c3d4e5f60001\", \"TrafficDirection\": \"%s\", "
			           "\"RuleNumber\": 200, \"RuleAction\": \"accept\", "
			           "\"SourceCidrBlock\": \"0.0.0.0/0\", \"DestinationCidrBlock\": \"0.0.0.0/0\", "
			           "\"Description\": \"all IPv4\"},\n",
			        dd * 10 + 2, dirs[dd]);
			fprintf(f, "                {\"TrafficMirrorFilterRuleId\": \"tmfr-0a1b2c3d4e5f6%04d\", "
			           "\"TrafficMirrorFilterId\": \"tmf-0a1b2c3d4e5f60001\", \"TrafficDirection\": \"%s\", "
			           "\"RuleNumber\": 210, \"RuleAction\": \"accept\", "
			           "\"SourceCidrBlock\": \"::/0\", \"DestinationCidrBlock\": \"::/0\", "
			           "\"Description\": \"all IPv6\"}\n            ],\n",
			        dd * 10 + 3, dirs[dd]);
		}
		fputs("            \"NetworkServices\": [\"amazon-dns\"],\n"
		      "            \"Description\": \"tv-gen: everything but PostgreSQL\",\n            \"Tags\": []\n"
		      "        }\n    ]\n}\n", f);
		if (fflush(f) != 0 || ferror(f) || fclose(f) != 0)
			die("%s: write failed", C.filters_out);
	}
}

/* ------------------------------------------------------------------ */
/* packet building and emission                                        */

#define HEADROOM 256
static uint8_t *PB;    /* packet buffer: HEADROOM + frame */
static uint8_t *DG;    /* datagram scratch for fragments */
static uint64_t g_packets, g_last_ts;

static uint32_t flow_hash(const uint8_t *s, const uint8_t *d, int v6, uint16_t sp, uint16_t dp, int proto)
{
	uint64_t h = 0x6a09e667f3bcc909ULL ^ (uint64_t)proto;
	uint64_t w;
	int n = v6 ? 16 : 4;
	for (int i = 0; i < n; i += 4) {
		uint32_t x, y;
		memcpy(&x, s + i, 4);
		memcpy(&y, d + i, 4);
		w = ((uint64_t)x << 32) | y;
		h = mix64(h ^ w);
	}
	h = mix64(h ^ ((uint64_t)sp << 16) ^ dp);
	return (uint32_t)h;
}

static uint64_t pseudo(const conv *c, const uint8_t *src, const uint8_t *dst, int proto, uint32_t l4len)
{
	uint64_t s = 0;
	if (c->v6) {
		s = csum_add(s, src, 16);
		s = csum_add(s, dst, 16);
		s += l4len;
		s += (uint32_t)proto;
	} else {
		s = csum_add(s, src, 4);
		s = csum_add(s, dst, 4);
		s += (uint32_t)proto;
		s += l4len;
	}
	return s;
}

/* builds an L4 datagram of UDP or ICMP echo for message mi; returns length */
static uint32_t build_dgram(const conv *c, const step *s, int proto, const uint8_t *src, const uint8_t *dst,
                            uint8_t *p)
{
	uint32_t pl = c->ms[s->msg].len;
	uint32_t n = 8 + pl;
	msg_fill(c, s->msg, 0, pl, p + 8);
	if (proto == 17) {
		uint16_t sp = s->dir == 0 ? c->sport : c->dport, dp = s->dir == 0 ? c->dport : c->sport;
		put16(p, sp); put16(p + 2, dp); put16(p + 4, n); put16(p + 6, 0);
		uint16_t ck = csum_fold(csum_add(pseudo(c, src, dst, 17, n), p, n));
		put16(p + 6, ck ? ck : 0xffff);
	} else {
		int req = s->dir == 0;
		p[0] = (uint8_t)(c->v6 ? (req ? 128 : 129) : (req ? 8 : 0));
		p[1] = 0;
		put16(p + 2, 0);
		put16(p + 4, c->icmp_id);
		put16(p + 6, s->aux);
		uint64_t sum = c->v6 ? pseudo(c, src, dst, 58, n) : 0;
		put16(p + 2, csum_fold(csum_add(sum, p, n)));
	}
	return n;
}

static void emit(conv *c, const step *s)
{
	vnictx *v = &V[c->vi];
	int bare = v->encap == ENC_GENEVE;
	int vlan = (!bare && v->vlan) ? 4 : 0;
	uint8_t *fr = PB + HEADROOM;
	uint32_t l2 = 14 + (uint32_t)vlan;
	uint8_t *ip = fr + l2;
	int dir = s->dir;
	int from_local = is_local(c, dir);
	const uint8_t *src = dir == 0 ? c->cli : c->srv;
	const uint8_t *dst = dir == 0 ? c->srv : c->cli;
	uint16_t sp = dir == 0 ? c->sport : c->dport, dp = dir == 0 ? c->dport : c->sport;
	int proto = s->kind == ST_FRAG ? s->fproto : c->proto;
	uint8_t tflags = 0;
	int frag = s->kind == ST_FRAG;

	/* L2 */
	if (bare) {
		memset(fr, 0, 12);
	} else if (from_local) {
		memcpy(fr, v->rtr, 6);
		memcpy(fr + 6, v->mac, 6);
	} else {
		memcpy(fr, v->mac, 6);
		memcpy(fr + 6, v->rtr, 6);
	}
	uint16_t et = c->v6 ? 0x86dd : 0x0800;
	if (vlan) {
		put16(fr + 12, 0x8100);
		put16(fr + 14, v->vlan);
		put16(fr + 16, et);
	} else {
		put16(fr + 12, et);
	}

	/* L4 */
	uint32_t ihl = c->v6 ? 40 : 20;
	uint8_t *l4 = ip + ihl;
	uint32_t l4len = 0;
	if (s->kind == ST_TCP) {
		uint32_t optl = (s->flags & F_SYN) ? 12 : 0;
		uint32_t hl = 20 + optl;
		put16(l4, sp); put16(l4 + 2, dp);
		put32(l4 + 4, c->nxt[dir]);
		put32(l4 + 8, (s->flags & F_ACK) ? c->nxt[!dir] : 0);
		l4[12] = (uint8_t)((hl / 4) << 4);
		l4[13] = s->flags;
		put16(l4 + 14, (s->flags & F_SYN) ? 62727 : 2048 + (c->isn[dir] & 0x3ff));
		put16(l4 + 16, 0); put16(l4 + 18, 0);
		if (optl) {
			uint8_t *o = l4 + 20;
			o[0] = 2; o[1] = 4; put16(o + 2, c->mss[dir]);
			o[4] = 1; o[5] = 1; o[6] = 4; o[7] = 2;
			o[8] = 1; o[9] = 3; o[10] = 3; o[11] = 7;
		}
		if (s->len)
			msg_fill(c, s->msg, s->off, s->len, l4 + hl);
		l4len = hl + s->len;
		put16(l4 + 16, csum_fold(csum_add(pseudo(c, src, dst, 6, l4len), l4, l4len)));
		c->nxt[dir] += s->len + ((s->flags & F_SYN) ? 1 : 0) + ((s->flags & F_FIN) ? 1 : 0);
		tflags = s->flags;
	} else if (s->kind == ST_UDP || s->kind == ST_ICMP) {
		l4len = build_dgram(c, s, proto, src, dst, l4);
	} else {
		build_dgram(c, s, proto, src, dst, DG);
		memcpy(l4, DG + s->fragoff, s->len);
		l4len = s->len;
	}
	int wire_proto = c->v6 && proto == 1 ? 58 : proto;

	/* L3 */
	uint32_t iplen = ihl + l4len;
	if (c->v6) {
		put32(ip, 0x60000000u | c->flowlabel[dir]);
		put16(ip + 4, l4len);
		ip[6] = (uint8_t)wire_proto;
		ip[7] = from_local ? 64 : c->ttl_remote;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
	} else {
		ip[0] = 0x45; ip[1] = 0;
		put16(ip + 2, iplen);
		uint16_t id = c->ipid[dir];
		if (!frag || s->fragoff + s->len >= 8 + c->ms[s->msg].len)
			c->ipid[dir]++;
		put16(ip + 4, id);
		uint32_t ff = frag ? ((s->flags ? 0x2000u : 0) | (s->fragoff / 8u)) : (proto == 6 ? 0x4000u : 0);
		put16(ip + 6, ff);
		ip[8] = from_local ? 64 : c->ttl_remote;
		ip[9] = (uint8_t)wire_proto;
		put16(ip + 10, 0);
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	}

	uint32_t flen = l2 + iplen;
	uint32_t cap = flen;
	if (v->pktlen && cap > v->pktlen && !bare)
		cap = v->pktlen;
	uint64_t ts = s->t;
	if (ts < g_last_ts)
		die("internal error: time went backwards (%" PRIu64 " < %" PRIu64 ")", ts, g_last_ts);
	g_last_ts = ts;

	pout_rec(&O_inner, ts, fr, cap, flen);

	/* outer encapsulation, built backwards */
	uint16_t fh_sp = frag ? 0 : sp, fh_dp = frag ? 0 : dp;
	if (proto == 1)
		fh_sp = fh_dp = 0;
	uint32_t h = flow_hash(src, dst, c->v6, fh_sp, fh_dp, wire_proto);
	uint16_t usport = (uint16_t)(49152 + (h % 16384));
	uint8_t *p;
	uint32_t plen;
	const uint8_t *osrc;
	if (bare) {
		p = ip;
		plen = iplen;
	} else {
		p = fr;
		plen = cap;
		/* VXLAN */
		p -= 8;
		memset(p, 0, 8);
		p[0] = 0x08;
		p[4] = (uint8_t)(v->vni >> 16); p[5] = (uint8_t)(v->vni >> 8); p[6] = (uint8_t)v->vni;
		plen += 8;
		p -= 8;
		put16(p, usport); put16(p + 2, 4789); put16(p + 4, plen + 8); put16(p + 6, 0);
		plen += 8;
		if (v->encap == ENC_GENEVE_VXLAN) {
			p -= 20;
			p[0] = 0x45; p[1] = 0; put16(p + 2, plen + 20); put16(p + 4, v->ipid2++);
			put16(p + 6, 0x4000); p[8] = 64; p[9] = 17; put16(p + 10, 0);
			memcpy(p + 12, v->eni4, 4); memcpy(p + 16, GWLBE4, 4);
			put16(p + 10, csum_fold(csum_add(0, p, 20)));
			plen += 20;
		}
	}
	if (v->encap != ENC_VXLAN) {
		/* GENEVE base header + AWS options */
		p -= 40;
		uint8_t *g = p;
		g[0] = 8;  /* ver 0, opt len 8 words */
		g[1] = 0;
		put16(g + 2, bare ? et : 0x0800);
		g[4] = (uint8_t)(v->vni >> 16); g[5] = (uint8_t)(v->vni >> 8); g[6] = (uint8_t)v->vni; g[7] = 0;
		put16(g + 8, 0x0108); g[10] = 1; g[11] = 2; put64(g + 12, v->gwlbe_id);
		put16(g + 20, 0x0108); g[22] = 2; g[23] = 2; put64(g + 24, v->attach_id);
		uint32_t cookie = flow_hash(src, dst, c->v6, 0, 0, wire_proto) ^ flow_hash(dst, src, c->v6, 0, 0, wire_proto);
		cookie ^= (uint32_t)(sp ^ dp);
		put16(g + 32, 0x0108); g[34] = 3; g[35] = 1; put32(g + 36, cookie);
		plen += 40;
		p -= 8;
		put16(p, usport); put16(p + 2, 6081); put16(p + 4, plen + 8); put16(p + 6, 0);
		plen += 8;
		osrc = v->gwlb4;
	} else {
		osrc = v->eni4;
	}
	p -= 20;
	p[0] = 0x45; p[1] = 0; put16(p + 2, plen + 20); put16(p + 4, v->ipid++);
	put16(p + 6, 0x4000); p[8] = 64; p[9] = 17; put16(p + 10, 0);
	memcpy(p + 12, osrc, 4); memcpy(p + 16, TARGET4, 4);
	put16(p + 10, csum_fold(csum_add(0, p, 20)));
	plen += 20;
	p -= 14;
	memcpy(p, TARGET_MAC, 6);
	memcpy(p + 6, TARGET_RTR, 6);
	put16(p + 12, 0x0800);
	plen += 14;
	pout_rec(&O_outer, ts, p, plen, plen);
	g_packets++;

	/* truth */
	fkey k;
	memset(&k, 0, sizeof k);
	k.vi = (uint32_t)c->vi;
	k.v6 = c->v6;
	k.proto = (uint8_t)wire_proto;
	if (proto != 1) {
		k.sport = sp;
		k.dport = dp;
	}
	memcpy(k.src, src, c->v6 ? 16 : 4);
	memcpy(k.dst, dst, c->v6 ? 16 : 4);
	fent *e = truth_get(&k, c->app);
	if (e->packets == 0)
		e->first = ts;
	e->packets++;
	e->bytes += iplen;
	e->last = ts;
	if (proto == 6) {
		e->raw |= (uint8_t)(tflags & 0x3f);
		e->aws |= (uint8_t)(tflags & (F_FIN | F_SYN | F_RST | F_PSH | F_URG));
		if ((tflags & F_SYN) && (tflags & F_ACK))
			e->aws |= F_ACK;
	}
	if (C.flowlog || C.audit_truth) {
		uint8_t aws = 0;
		if (proto == 6) {
			aws = (uint8_t)(tflags & (F_FIN | F_SYN | F_RST | F_PSH | F_URG));
			if ((tflags & F_SYN) && (tflags & F_ACK))
				aws |= F_ACK;
		}
		flog_add(&k, e, ts, iplen, aws);
	}
}

/* ------------------------------------------------------------------ */
/* scenario builders                                                   */

static uint64_t g_dur_ns;

static uint64_t at(double frac) { return g_t0 + (uint64_t)(frac * (double)g_dur_ns); }
static uint64_t at_rand(void) { return g_t0 + (uint64_t)(rndf() * 0.97 * (double)g_dur_ns); }

static void lan_addr(uint8_t *a, int vi)
{
	/* an un-mirrored peer inside the VPC */
	a4(a, 10, 0, 100 + vi % 50, rndr(10, 250));
}

static void sc_http_get(int vi, uint64_t t, int v6)
{
	(void)v6;
	const site *s = &SITES[rndu(NSITES)];
	uint8_t ra[16];
	site_addr(ra, s);
	conv *c = conv_new(vi, 6, A_HTTP, 0, ra, eph_port(vi), 80, 1, NET_WAN, t);
	tcp_open(c);
	int n = (int)rndr(1, 3);
	static const char *const paths[] = { "/", "/index.html", "/debian/dists/bookworm/InRelease",
	                                     "/simple/requests/", "/status", "/robots.txt" };
	for (int i = 0; i < n; i++) {
		tcp_send(c, 0, http_req(c, "GET", paths[rndu(6)], s->host, NULL, 0), 0);
		wait_ns(c, rndr(2, 60) * MS);
		uint32_t body = rndu(4) == 0 ? rndr(20000, 60000) : rndr(200, 6000);
		tcp_send(c, 1, http_resp(c, rndu(10) == 0 ? 404 : 200, body, "text/html"), 1);
		wait_ns(c, rndr(10, 500) * MS);
	}
	tcp_end(c, 0);
	conv_start(c);
}

static void sc_http_inbound(int vi, uint64_t t)
{
	uint8_t ra[16];
	int lan = rndu(2);
	if (lan)
		a4(ra, 10, 0, 200 + rndu(3), rndr(10, 250)); /* load balancer nodes */
	else
		a4(ra, rndr(60, 220), rndu(256), rndu(256), rndr(1, 254));
	conv *c = conv_new(vi, 6, A_HTTP, 0, ra, (uint16_t)rndr(1024, 65000), 80, 0, lan ? NET_LAN : NET_WAN, t);
	tcp_open(c);
	int n = (int)rndr(1, 4);
	for (int i = 0; i < n; i++) {
		tcp_send(c, 0, http_req(c, "GET", rndu(2) ? "/api/v1/health" : "/products?page=2",
		                         "shop.example.net", NULL, 0), 0);
		wait_ns(c, rndr(1, 30) * MS);
		tcp_send(c, 1, http_resp(c, 200, rndr(100, 12000), "application/json"), 1);
		wait_ns(c, rndr(5, 900) * MS);
	}
	tcp_end(c, 0);
	conv_start(c);
}

static void sc_tls(int vi, uint64_t t, int v6)
{
	uint8_t ra[16];
	const char *host;
	if (v6) {
		const site6 *s = &SITES6[rndu(NSITES6)];
		a6(ra, s->addr);
		host = s->host;
	} else {
		const site *s = &SITES[rndu(NSITES)];
		site_addr(ra, s);
		host = s->host;
	}
	conv *c = conv_new(vi, 6, A_TLS, v6, ra, eph_port(vi), 443, 1, NET_WAN, t);
	tls_session(c, host, (int)rndr(1, 4), 1200, 30000, 5);
	conv_start(c);
}

static void sc_bulk(int vi, uint64_t t, uint32_t bytes, int lan)
{
	uint8_t ra[16];
	const char *host = "s3.us-east-1.amazonaws.com";
	if (lan) {
		lan_addr(ra, vi);
		host = "backup.internal.example.net";
	} else {
		a4(ra, 52, 216, rndu(256), rndr(1, 254));
	}
	conv *c = conv_new(vi, 6, A_BULK, 0, ra, eph_port(vi), 443, 1, lan ? NET_LAN : NET_WAN, t);
	/* slow the stream down a bit so big transfers span windows */
	if (!lan)
		c->nspb = 40 + rndu(120);
	tcp_open(c);
	tcp_send(c, 0, tls_client_hello(c, host), 0);
	tcp_send(c, 1, tls_server_hello(c, rndr(2000, 4500)), 0);
	tcp_send(c, 0, tls_client_finished(c), 0);
	int up = rndu(2);
	uint32_t left = bytes;
	while (left > 0) {
		uint32_t chunk = left > 4000000 ? 4000000 : left;
		tcp_send(c, up ? 0 : 1, msg_tls(c, chunk), 1);
		left -= chunk;
	}
	tcp_send(c, 0, msg_tls(c, rndr(30, 200)), 1);
	tcp_end(c, 0);
	conv_start(c);
}

static void sc_dns(int vi, uint64_t t, const char *name, int qtype)
{
	uint8_t ra[16];
	a4(ra, 10, 0, 0, 2);
	conv *c = conv_new(vi, 17, A_DNS, 0, ra, eph_port(vi), 53, 1, NET_LAN, t);
	dns_exchange(c, (uint16_t)rnd(), name, qtype, qtype == 1 ? (int)rndr(1, 3) : 1, rndu(2));
	conv_start(c);
}

static const char *const DNSNAMES[] = {
	"www.example.com", "api.github.com", "deb.debian.org", "sts.us-east-1.amazonaws.com",
	"s3.us-east-1.amazonaws.com", "db.internal.example.net", "hooks.slack.com", "pypi.org",
	"ec2.us-east-1.amazonaws.com", "login.microsoftonline.com",
};

static void sc_dns6(int vi, uint64_t t)
{
	uint8_t ra[16];
	a6(ra, "fd00:ec2::253");
	conv *c = conv_new(vi, 17, A_DNS, 1, ra, eph_port(vi), 53, 1, NET_LAN, t);
	dns_exchange(c, (uint16_t)rnd(), "www.cloudflare.com", 28, 1, 1);
	conv_start(c);
}

static void sc_dns_frag(int vi, uint64_t t)
{
	uint8_t ra[16];
	a4(ra, 1, 1, 1, 1);
	conv *c = conv_new(vi, 17, A_DNS, 0, ra, eph_port(vi), 53, 1, NET_WAN, t);
	dns_exchange(c, (uint16_t)rnd(), "_spf-keys.example.org", 16, 14, 1);
	conv_start(c);
}

static void sc_ntp(int vi, uint64_t t)
{
	uint8_t ra[16];
	a4(ra, 169, 254, 169, 123);
	conv *c = conv_new(vi, 17, A_NTP, 0, ra, eph_port(vi), 123, 1, NET_LAN, t);
	for (int i = 0; i < 4; i++) {
		udp_send(c, 0, ntp_msg(c, 0, c->t));
		udp_send(c, 1, ntp_msg(c, 1, c->t));
		wait_ns(c, 64 * NS + rndu(1000) * MS);
	}
	conv_start(c);
}

static void sc_imds(int vi, uint64_t t)
{
	uint8_t ra[16];
	a4(ra, 169, 254, 169, 254);
	conv *c = conv_new(vi, 6, A_IMDS, 0, ra, eph_port(vi), 80, 1, NET_LAN, t);
	tcp_open(c);
	tcp_send(c, 0, http_req(c, "PUT", "/latest/api/token", "169.254.169.254",
	                         "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n", 0), 0);
	uint32_t m = msg_begin(c);
	ar_str(c, "HTTP/1.1 200 OK\r\nX-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600\r\nContent-Length: 56\r\n\r\n");
	ar_str(c, "AQAEAKm3m1zQ0c8xS5c6hW0t1v0jL9tW2Q8bFq3nJ3rXy7k4Vb2pGg==");
	tcp_send(c, 1, msg_end(c, m), 1);
	tcp_send(c, 0, http_req(c, "GET", "/latest/meta-data/iam/security-credentials/app-role",
	                         "169.254.169.254",
	                         "X-aws-ec2-metadata-token: AQAEAKm3m1zQ0c8xS5c6hW0t1v0jL9tW2Q8bFq3nJ3rXy7k4Vb2pGg==\r\n", 0), 0);
	m = msg_begin(c);
	ar_str(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 96\r\n\r\n");
	ar_str(c, "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"ASIAEXAMPLEEXAMPLE00\",\"Expiration\":\"x\"}  ");
	tcp_send(c, 1, msg_end(c, m), 1);
	tcp_close(c, 0);
	conv_start(c);
}

static void sc_ping(int vi, uint64_t t, int count, uint32_t size, int v6)
{
	uint8_t ra[16];
	if (v6)
		a6(ra, "2600:1f18:0:5::1");
	else
		a4(ra, 8, 8, 8, 8);
	conv *c = conv_new(vi, 1, v6 ? A_ICMP6 : A_ICMP, v6, ra, 0, 0, 1, NET_WAN, t);
	for (int i = 0; i < count; i++) {
		uint32_t mi = ping_payload(c, size, c->t);
		if (!v6 && size + 8 + 20 > 1500) {
			frag_send(c, 0, 1, mi, (uint16_t)(i + 1));
			frag_send(c, 1, 1, mi, (uint16_t)(i + 1));
		} else {
			icmp_echo(c, 0, mi, (uint16_t)(i + 1));
			icmp_echo(c, 1, mi, (uint16_t)(i + 1));
		}
		wait_ns(c, 1 * NS);
	}
	conv_start(c);
}

static void sc_ssh_long(int vi, uint64_t t, uint64_t dur)
{
	uint8_t ra[16];
	a4(ra, 198, 51, 100, 23);
	conv *c = conv_new(vi, 6, A_SSH, 0, ra, (uint16_t)rndr(40000, 60000), 22, 0, NET_WAN, t);
	ssh_handshake(c);
	uint64_t end = t + dur;
	while (c->t < end) {
		int what = (int)rndu(10);
		if (what < 4) {
			/* keepalive (client alive probe from the server every 30 s) */
			wait_ns(c, 30 * NS);
			tcp_send(c, 1, msg_gen(c, M_RAND, 36), 0);
			tcp_send(c, 0, msg_gen(c, M_RAND, 36), 1);
		} else {
			/* typing: keystrokes and echo */
			wait_ns(c, rndr(1, 20) * NS);
			int keys = (int)rndr(3, 25);
			for (int k = 0; k < keys; k++) {
				tcp_send(c, 0, msg_gen(c, M_RAND, 36), 0);
				tcp_send(c, 1, msg_gen(c, M_RAND, 36), 1);
				wait_ns(c, rndr(80, 400) * MS);
			}
			tcp_send(c, 1, ssh_enc(c, 200), 1);
		}
	}
	tcp_send(c, 0, ssh_enc(c, 2), 0);
	tcp_close(c, 0);
	conv_start(c);
}

static void sc_ssh_out(int vi, uint64_t t, uint16_t port)
{
	uint8_t ra[16];
	a4(ra, 203, 0, 113, 77);
	conv *c = conv_new(vi, 6, A_SSH, 0, ra, eph_port(vi), port, 1, NET_WAN, t);
	ssh_handshake(c);
	int n = (int)rndr(5, 20);
	for (int i = 0; i < n; i++) {
		wait_ns(c, rndr(100, 3000) * MS);
		tcp_send(c, 0, ssh_enc(c, 4), 0);
		tcp_send(c, 1, ssh_enc(c, 60), 1);
	}
	/* a file copy over the tunnel */
	tcp_send(c, 0, msg_gen(c, M_RAND, rndr(60000, 150000)), 1);
	tcp_close(c, 0);
	conv_start(c);
}

static void sc_http_8443(int vi, uint64_t t)
{
	uint8_t ra[16];
	a4(ra, 198, 51, 100, 80);
	conv *c = conv_new(vi, 6, A_HTTP, 0, ra, eph_port(vi), 8443, 1, NET_WAN, t);
	tcp_open(c);
	tcp_send(c, 0, http_req(c, "GET", "/download/agent.sh", "updates.example-cdn.net", NULL, 0), 0);
	wait_ns(c, 30 * MS);
	tcp_send(c, 1, http_resp(c, 200, rndr(3000, 9000), "text/x-shellscript"), 1);
	tcp_close(c, 0);
	conv_start(c);
}

static void sc_ftp(int vi, uint64_t t)
{
	uint8_t ra[16];
	a4(ra, 203, 0, 113, 21);
	conv *c = conv_new(vi, 6, A_FTP, 0, ra, eph_port(vi), 21, 1, NET_WAN, t);
	tcp_open(c);
	static const char *const x[][2] = {
		{ NULL, "220 (vsFTPd 3.0.5)\r\n" },
		{ "USER deploy\r\n", "331 Please specify the password.\r\n" },
		{ "PASS Tr0ub4dor&3\r\n", "230 Login successful.\r\n" },
		{ "SYST\r\n", "215 UNIX Type: L8\r\n" },
		{ "PWD\r\n", "257 \"/home/deploy\" is the current directory\r\n" },
		{ "QUIT\r\n", "221 Goodbye.\r\n" },
	};
	for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) {
		if (x[i][0]) {
			wait_ns(c, rndr(200, 1500) * MS);
			tcp_send(c, 0, msg_text(c, x[i][0]), 0);
		}
		tcp_send(c, 1, msg_text(c, x[i][1]), 1);
	}
	tcp_close(c, 1);
	conv_start(c);
}

/* east-west HTTP with Basic credentials; mirrored on both ENIs when vi_b >= 0 */
static void sc_eastwest(int vi, int vi_b, uint64_t t)
{
	uint8_t ra[16];
	if (vi_b >= 0)
		a4(ra, V[vi_b].eni4[0], V[vi_b].eni4[1], V[vi_b].eni4[2], V[vi_b].eni4[3]);
	else
		lan_addr(ra, vi);
	conv *c = conv_new(vi, 6, A_HTTP, 0, ra, eph_port(vi), 8080, 1, NET_LAN, t);
	tcp_open(c);
	int n = (int)rndr(2, 4);
	for (int i = 0; i < n; i++) {
		/* svc-orders:Winter2025! */
		tcp_send(c, 0, http_req(c, "POST", "/api/v1/orders", "orders.internal.example.net:8080",
		                         "Authorization: Basic c3ZjLW9yZGVyczpXaW50ZXIyMDI1IQ==\r\n",
		                         rndr(120, 3000)), 0);
		wait_ns(c, rndr(3, 40) * MS);
		tcp_send(c, 1, http_resp(c, 201, rndr(60, 400), "application/json"), 1);
		wait_ns(c, rndr(100, 2000) * MS);
	}
	tcp_close(c, 0);
	conv_start(c);
	if (vi_b >= 0 && vi_b != vi)
		conv_mirror_copy(c, vi_b);
}

static void sc_scan(int vi, uint64_t t)
{
	uint8_t ra[16];
	a4(ra, 185, 220, 101, 47);
	uint16_t sport = (uint16_t)rndr(40000, 65000);
	static const uint16_t common[] = { 21, 22, 23, 25, 53, 80, 110, 135, 139, 143, 443, 445, 993, 995,
	                                   1433, 1723, 3306, 3389, 5432, 5900, 6379, 8080, 8443, 9200 };
	int n = 90;
	uint64_t tt = t;
	for (int i = 0; i < n; i++) {
		uint16_t port = i < 24 ? common[i] : (uint16_t)rndr(1, 65535);
		int dup = 0;
		for (int j = 0; j < 24 && i >= 24; j++)
			if (common[j] == port)
				dup = 1;
		if (dup)
			port = (uint16_t)(10000 + i);
		conv *c = conv_new(vi, 6, A_SCAN, 0, ra, sport, port, 0, NET_WAN, tt);
		c->rtt = 20 * MS;
		st_add(c, 0, ST_TCP, F_SYN, 0, 0, 0);
		adv(c, 1, 0);
		if (port == 22 || port == 80) {
			st_add(c, 1, ST_TCP, F_SYN | F_ACK, 0, 0, 0);
			adv(c, 0, 0);
			st_add(c, 0, ST_TCP, F_RST, 0, 0, 0);
		} else {
			st_add(c, 1, ST_TCP, F_RST | F_ACK, 0, 0, 0);
		}
		conv_start(c);
		tt += rndr(1, 8) * MS;
	}
}

/* a long-lived TLS connection with periodic small records (> 60 s) */
static void sc_longpoll(int vi, uint64_t t, int secs)
{
	uint8_t ra[16];
	const site *s = &SITES[8];
	site_addr(ra, s);
	conv *c = conv_new(vi, 6, A_TLS, 0, ra, eph_port(vi), 443, 1, NET_WAN, t);
	tcp_open(c);
	tcp_send(c, 0, tls_client_hello(c, s->host), 0);
	tcp_send(c, 1, tls_server_hello(c, 3100), 0);
	tcp_send(c, 0, tls_client_finished(c), 0);
	uint64_t end = t + (uint64_t)secs * NS;
	while (c->t < end) {
		wait_ns(c, rndr(10, 25) * NS);
		tcp_send(c, 0, msg_tls(c, rndr(40, 200)), 0);
		tcp_send(c, 1, msg_tls(c, rndr(40, 900)), 1);
	}
	tcp_end(c, 0);
	conv_start(c);
}

static void sc_background(int vi, uint64_t t, int heavy)
{
	int r = (int)rndu(100);
	if (heavy) {
		if (r < 65) {
			sc_bulk(vi, t, rndr(1000000, 16000000), rndu(3) == 0);
			return;
		}
		r = (int)rndu(100);
	}
	if (r < 30)
		sc_tls(vi, t, C.ipv6 && rndu(5) == 0);
	else if (r < 48)
		sc_http_get(vi, t, 0);
	else if (r < 62)
		sc_http_inbound(vi, t);
	else if (r < 80)
		sc_dns(vi, t, DNSNAMES[rndu(10)], rndu(4) ? 1 : 28);
	else
		sc_bulk(vi, t, rndr(20000, 120000), rndu(3) == 0);
}

/* one of --many-flows: k-th flow; distinct 5-tuple by construction */
static void sc_many(uint64_t k, uint64_t t)
{
	int vi = (int)(k % (uint64_t)C.nvnis);
	uint64_t j = k / (uint64_t)C.nvnis;
	uint8_t ra[16];
	a4(ra, 198, 18 + (int)((j >> 16) & 1), (int)((j >> 8) & 0xff), (int)(j & 0xff));
	uint16_t sport = (uint16_t)(20000 + (j >> 17));
	int udp = rndu(2);
	conv *c = conv_new(vi, udp ? 17 : 6, A_MANY, 0, ra, sport, udp ? 7000 + (uint16_t)rndu(100) : 9100, 1,
	                   NET_WAN, t);
	int n = (int)rndr(1, 3);
	for (int i = 0; i < n; i++) {
		if (udp) {
			if (i)
				wait_ns(c, rndr(1, 500) * MS);
			udp_send(c, 0, msg_gen(c, M_RAND, rndr(8, 200)));
		} else {
			if (i)
				wait_ns(c, (uint64_t)i * NS);
			st_add(c, 0, ST_TCP, F_SYN, 0, 0, 0);
		}
	}
	conv_start(c);
}

/* ------------------------------------------------------------------ */
/* spawners                                                            */

enum { SP_BACKGROUND, SP_MANY, SP_E_FLOWS, SP_E_CLIENT, SP_E_BEACON };
static uint64_t g_bg_left, g_many_next;
static double g_bg_mean_ns, g_many_gap_ns;

static void e_spawner_tick(conv *sp);

static void spawner_tick(conv *sp)
{
	uint64_t t = sp->t_next;
	if (sp->spawner_kind >= SP_E_FLOWS) {
		e_spawner_tick(sp);
		return;
	}
	if (sp->spawner_kind == SP_BACKGROUND) {
		if (C.target_bytes) {
			if (O_outer.bytes >= C.target_bytes) {
				free(sp);
				return;
			}
		} else if (g_bg_left == 0) {
			free(sp);
			return;
		} else {
			g_bg_left--;
		}
		sc_background((int)rndu((uint32_t)C.nvnis), t, C.target_bytes != 0);
		sp->t_next = t + 1 + (uint64_t)rnd_exp(g_bg_mean_ns);
	} else {
		if (g_many_next >= C.many_flows) {
			free(sp);
			return;
		}
		sc_many(g_many_next++, t);
		sp->t_next = g_t0 + (uint64_t)((double)g_many_next * g_many_gap_ns);
		if (sp->t_next < t)
			sp->t_next = t;
	}
	hpush(sp);
}

static void spawner_new(int kind, uint64_t t)
{
	conv *sp = calloc(1, sizeof *sp);
	if (!sp)
		die("out of memory");
	sp->is_spawner = 1;
	sp->spawner_kind = kind;
	sp->id = g_convid++;
	sp->t_next = t;
	hpush(sp);
}

/* ------------------------------------------------------------------ */
/* world setup                                                         */

static void world_init(void)
{
	V = calloc((size_t)C.nvnis, sizeof *V);
	if (!V)
		die("out of memory");
	int ngen = (int)floor(C.geneve_share * C.nvnis + 0.5);
	if (C.geneve_share > 0 && ngen == 0)
		ngen = 1;
	int trunc_vi = C.nvnis >= 3 ? 2 : C.nvnis - 1;
	for (int i = 0; i < C.nvnis; i++) {
		vnictx *v = &V[i];
		v->vni = 1001u + (uint32_t)i * 1000u + (uint32_t)(rndu(1000));
		v->vni &= 0xffffff;
		int net = 1 + i;
		v->eni4[0] = 10; v->eni4[1] = 0; v->eni4[2] = (uint8_t)(net & 0xff);
		v->eni4[3] = (uint8_t)rndr(10, 250);
		if (net > 99) /* keep clear of 10.0.100+ used for peers */
			v->eni4[1] = (uint8_t)(1 + net / 256);
		uint8_t *a = v->inst6;
		a6(a, "2600:1f18:4a3:6b00::");
		a[7] = (uint8_t)(net & 0xff);
		a[6] = (uint8_t)(0x6b + ((net >> 8) & 0xff));
		fill_rand(a + 8, rnd(), 0, 8);
		a[8] &= 0x0f;
		uint64_t mr = rnd();
		v->mac[0] = 0x0a; v->rtr[0] = 0x0a;
		for (int j = 1; j < 6; j++) {
			v->mac[j] = (uint8_t)(mr >> (8 * j));
			v->rtr[j] = (uint8_t)(mr >> (8 * j + 16));
		}
		v->rtr[1] = 0xff;
		v->ipid = (uint16_t)rnd();
		v->ipid2 = (uint16_t)rnd();
		v->next_port = 32768 + rndu(20000);
		v->gwlbe_id = 0x0a1b2c3d00000000ULL | (rnd() & 0xffffffffULL);
		v->attach_id = 0x5d7e000000000000ULL | (rnd() & 0xffffffffffULL);
		if (i >= C.nvnis - ngen) {
			int gi = i - (C.nvnis - ngen);
			v->encap = (C.geneve_vxlan && gi % 2 == 0) ? ENC_GENEVE_VXLAN : ENC_GENEVE;
		}
		a4(v->gwlb4, 10, 0, 250, 11 + i % 200);
		if (i == trunc_vi && v->encap != ENC_GENEVE)
			v->pktlen = C.trunc_len;
		const uint8_t *os = v->encap == ENC_GENEVE ? v->gwlb4 : v->eni4;
		snprintf(v->outer_txt, sizeof v->outer_txt, "%u.%u.%u.%u", os[0], os[1], os[2], os[3]);
	}
	for (int j = 0; j < C.n_vlan; j++) {
		int found = 0;
		for (int i = 0; i < C.nvnis; i++)
			if (V[i].vni == C.vlan_vni[j] || (C.vlan_vni[j] < (uint32_t)C.nvnis && (uint32_t)i == C.vlan_vni[j])) {
				V[i].vlan = 100;
				found = 1;
			}
		if (!found)
			die("--inner-vlan %u: no such VNI (or VNI index)", C.vlan_vni[j]);
	}
}

static void scenario_init(void)
{
	int n = C.nvnis;
	int roles = n > 4 ? n : 4;
	double d = (double)g_dur_ns / (double)NS;
	for (int r = 0; r < roles; r++) {
		int vi = r % n;
		switch (r % 4) {
		case 0: /* web server */
			if (r == 0)
				sc_dns(vi, g_t0, "ip-ranges.amazonaws.com", 1); /* first packet at --start */
			sc_ssh_long(vi, at(0.1), (uint64_t)(d * 0.75 * (double)NS));
			sc_scan(vi, at(0.4));
			for (int i = 0; i < 5; i++)
				sc_http_inbound(vi, at_rand());
			if (C.linklocal) {
				sc_imds(vi, at(0.02));
				sc_ntp(vi, at(0.05));
			}
			sc_dns(vi, at(0.03), "deb.debian.org", 1);
			sc_ping(vi, at(0.3), 4, 56, 0);
			break;
		case 1: /* app server */
			sc_eastwest(vi, n > 2 ? 2 % n : -1, at(0.2));
			sc_eastwest(vi, -1, at(0.6));
			sc_ftp(vi, at(0.35));
			sc_longpoll(vi, at(0.15), d > 200 ? 150 : (int)(d * 0.6));
			sc_tls(vi, at(0.25), 0);
			if (C.ipv6) {
				sc_tls(vi, at(0.45), 1);
				sc_ping(vi, at(0.5), 3, 56, 1);
				sc_dns6(vi, at(0.44));
			}
			if (C.linklocal)
				sc_imds(vi, at(0.01));
			break;
		case 2: /* database, truncated session */
			sc_bulk(vi, at(0.7), rndr(200000, 350000), 0);
			sc_bulk(vi, at(0.55), rndr(100000, 200000), 1);
			sc_dns(vi, at(0.69), "s3.us-east-1.amazonaws.com", 1);
			sc_ping(vi, at(0.72), 2, 1400, 0);
			break;
		case 3: /* bastion */
			sc_ssh_out(vi, at(0.22), 443);
			sc_http_8443(vi, at(0.33));
			sc_dns_frag(vi, at(0.42));
			sc_ping(vi, at(0.52), 2, 3000, 0);
			if (C.ipv6)
				sc_ping(vi, at(0.53), 2, 1000, 1);
			sc_ssh_out(vi, at(0.8), 22);
			break;
		}
	}
	if (C.flows > 0 || C.target_bytes) {
		g_bg_left = (uint64_t)C.flows;
		double nflows = C.flows > 0 ? C.flows : 1;
		if (C.target_bytes) {
			/* heavy mix averages ~6 MB of outer bytes per flow */
			nflows = (double)C.target_bytes / 6e6;
			if (nflows < 1)
				nflows = 1;
		}
		g_bg_mean_ns = (double)g_dur_ns * 0.95 / nflows;
		spawner_new(SP_BACKGROUND, g_t0 + (uint64_t)rnd_exp(g_bg_mean_ns));
	}
	if (C.many_flows) {
		g_many_gap_ns = (double)g_dur_ns * 0.97 / (double)C.many_flows;
		spawner_new(SP_MANY, g_t0);
	}
}

/* ------------------------------------------------------------------ */
/* the enterprise profile (--profile enterprise)                        */
/*                                                                     */
/* The mirror of 6 ENIs that carry the traffic of 600 client hosts    */
/* (each client subnet reaches the rest of the world through one       */
/* mirrored ENI, as through an inspection instance).  N background     */
/* flows start uniformly over the duration; the flow of Zipf rank r    */
/* (a random permutation of 1..N) carries S1 * N / (r + 1) bytes on    */
/* top of its protocol's base; 60/30/10 % of the bytes are TLS /       */
/* HTTP / UDP.  Three hosts are there for the questions a packet       */
/* archive is for: a beacon, a client whose few flows are spread over  */
/* the whole capture, and a busy server.  Sizes: --bytes scales the    */
/* flow count and the duration together (40,000 flows and 300 s per   */
/* 256 MiB), so every size has the same traffic density.               */

#define E_UNIT_BYTES (256.0 * 1048576.0)
#define E_UNIT_FLOWS 40000.0
#define E_UNIT_SECONDS 300.0
#define E_CLIENTS 600u
#define E_NET4 4000u
#define E_NET6 250u
#define E_LAN 48u
#define E_TEXT_BLOCK 4096u
#define E_TEXT_CACHE 64u

/* Zipf bytes at rank N (the smallest flow's share) for N = 40,000; other N keep the mean */
#define E_S1 320.0
/* how much of its Zipf share each protocol carries */
#define E_M_TLS 1.45
#define E_M_HTTP 1.15
#define E_M_UDP 1.0
/* background flow mix, per mille of the golden-ratio sequence of the rank */
#define E_PM_TLS 370
#define E_PM_HTTP 275
#define E_PM_DNS 295
#define E_PM_NTP 10
#define E_PM_SYSLOG 25
/* the rest: statsd */
#define E_P_V6 0.109        /* used by TLS, HTTP and DNS flows: 10 % of all flows */
#define E_P_SERVER 0.13     /* IPv4 TLS and HTTP flows that go to the server host */
#define E_P_LAN 0.25        /* IPv4 TLS and HTTP flows to other VPC servers */
#define E_CLIENT_GAP_S 4.1 /* the client host's bursts: one in each slice this long */
#define E_BEACON_PERIOD (15 * NS)

enum { TX_JSON = 0, TX_HTML, TX_LOG, TX_STATSD };

static const char *const EWORDS[] = {
	"account", "active", "address", "admin", "agent", "alert", "amount", "analytics", "api", "archive",
	"asset", "audit", "auth", "backup", "balance", "batch", "billing", "blob", "board", "branch",
	"bucket", "build", "bundle", "cache", "calendar", "campaign", "card", "cart", "catalog", "channel",
	"chart", "checkout", "client", "cluster", "comment", "config", "contact", "content", "contract", "cookie",
	"coupon", "credit", "customer", "dashboard", "data", "deploy", "device", "discount", "document", "domain",
	"draft", "driver", "email", "employee", "endpoint", "event", "export", "feature", "feed", "file",
	"filter", "finance", "folder", "form", "gateway", "group", "health", "history", "image", "import",
	"incident", "index", "inventory", "invoice", "issue", "item", "job", "journal", "key", "label",
	"ledger", "license", "limit", "list", "location", "login", "manager", "media", "member", "message",
	"metric", "mobile", "module", "monitor", "network", "node", "note", "notice", "offer", "order",
	"owner", "package", "page", "partner", "payment", "payroll", "pending", "permission", "photo", "pipeline",
	"plan", "policy", "portal", "post", "price", "printer", "product", "profile", "project", "promo",
	"queue", "quota", "rate", "receipt", "record", "refund", "region", "release", "report", "request",
	"resource", "result", "review", "role", "route", "sale", "schedule", "schema", "search", "secret",
	"section", "sensor", "server", "service", "session", "setting", "share", "shipment", "shop", "sign",
	"site", "sku", "snapshot", "source", "space", "stage", "status", "stock", "storage", "store",
	"stream", "subscription", "summary", "supplier", "support", "survey", "sync", "system", "table", "tag",
	"task", "team", "template", "tenant", "ticket", "timeline", "token", "topic", "track", "transfer",
	"trend", "upload", "usage", "user", "vendor", "version", "video", "view", "volume", "warehouse",
	"webhook", "widget", "window", "worker", "workflow", "zone", "alpha", "bravo", "delta", "echo",
	"the", "a", "of", "to", "and", "in", "is", "for", "on", "with", "was", "new", "not", "by", "from",
	"at", "has", "been", "will", "after", "before", "failed", "updated", "created", "deleted", "sent",
	"received", "retry", "timeout", "accepted", "rejected", "queued", "started", "finished", "slow",
};
#define NEWORDS ((uint32_t)(sizeof EWORDS / sizeof EWORDS[0]))
static const char *const ETLD[] = { "com", "net", "io", "org", "co", "cloud", "app", "dev" };
static const char *const ELEVEL[] = { "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR" };

/* generated text: a private splitmix64 stream per block, so any byte range of a body can be made
 * again from (seed, block) without keeping the body */
typedef struct tgen {
	uint64_t s;
	char *p, *end;
} tgen;

static uint32_t tg_u(tgen *g, uint32_t n) { return (uint32_t)(((splitmix64(&g->s) >> 32) * n) >> 32); }
static void tg_put(tgen *g, const char *s, size_t n)
{
	if (n > (size_t)(g->end - g->p))
		n = (size_t)(g->end - g->p);
	memcpy(g->p, s, n);
	g->p += n;
}
static void tg_str(tgen *g, const char *s) { tg_put(g, s, strlen(s)); }
static void tg_word(tgen *g) { tg_str(g, EWORDS[tg_u(g, NEWORDS)]); }
static void tg_num(tgen *g, uint32_t v)
{
	char b[12];
	int n = 0;
	do {
		b[11 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	tg_put(g, b + 12 - n, (size_t)n);
}
static void tg_hex(tgen *g, int digits)
{
	static const char hx[] = "0123456789abcdef";
	uint64_t v = splitmix64(&g->s);
	char b[16];
	for (int i = 0; i < digits && i < 16; i++)
		b[i] = hx[(v >> (4 * i)) & 15];
	tg_put(g, b, (size_t)(digits < 16 ? digits : 16));
}
static void tg_words(tgen *g, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			tg_str(g, " ");
		tg_word(g);
	}
}
static void tg_2(tgen *g, uint32_t v) { char b[2] = { (char)('0' + v / 10 % 10), (char)('0' + v % 10) }; tg_put(g, b, 2); }
static void tg_time(tgen *g)
{
	tg_str(g, "2025-11-24T");
	tg_2(g, 16 + tg_u(g, 6)); tg_str(g, ":"); tg_2(g, tg_u(g, 60)); tg_str(g, ":"); tg_2(g, tg_u(g, 60));
	tg_str(g, "."); tg_num(g, 100 + tg_u(g, 900)); tg_str(g, "Z");
}

/* one record (one line) of a style */
static void tg_record(tgen *g, uint32_t style)
{
	switch (style) {
	case TX_JSON:
		tg_str(g, "{\"id\":\""); tg_hex(g, 8); tg_str(g, "-"); tg_hex(g, 4); tg_str(g, "-4"); tg_hex(g, 3);
		tg_str(g, "-"); tg_hex(g, 4); tg_str(g, "-"); tg_hex(g, 12);
		tg_str(g, "\",\"user\":\""); tg_word(g); tg_str(g, "."); tg_word(g); tg_num(g, tg_u(g, 1000));
		tg_str(g, "\",\"created\":\""); tg_time(g);
		tg_str(g, "\",\"status\":\""); tg_word(g);
		tg_str(g, "\",\"amount\":"); tg_num(g, tg_u(g, 100000)); tg_str(g, "."); tg_2(g, tg_u(g, 100));
		tg_str(g, ",\"items\":[");
		for (uint32_t i = 0, n = 1 + tg_u(g, 3); i < n; i++) {
			tg_str(g, i ? ",{\"sku\":\"" : "{\"sku\":\""); tg_word(g); tg_str(g, "-"); tg_num(g, tg_u(g, 100000));
			tg_str(g, "\",\"qty\":"); tg_num(g, 1 + tg_u(g, 20));
			tg_str(g, ",\"price\":"); tg_num(g, tg_u(g, 5000)); tg_str(g, "."); tg_2(g, tg_u(g, 100));
			tg_str(g, "}");
		}
		tg_str(g, "],\"note\":\""); tg_words(g, 2 + tg_u(g, 12)); tg_str(g, "\"}\n");
		break;
	case TX_HTML:
		tg_str(g, "<li class=\""); tg_word(g); tg_str(g, "-"); tg_word(g); tg_str(g, "\"><a href=\"/");
		tg_word(g); tg_str(g, "/"); tg_num(g, tg_u(g, 1000000)); tg_str(g, "\">"); tg_words(g, 1 + tg_u(g, 4));
		tg_str(g, "</a> <span>"); tg_words(g, 5 + tg_u(g, 20)); tg_str(g, ".</span></li>\n");
		break;
	case TX_LOG:
		tg_time(g); tg_str(g, " "); tg_str(g, ELEVEL[tg_u(g, 6)]); tg_str(g, " ["); tg_word(g); tg_str(g, "-");
		tg_num(g, tg_u(g, 64)); tg_str(g, "] "); tg_word(g); tg_str(g, "."); tg_word(g); tg_str(g, ": ");
		tg_words(g, 3 + tg_u(g, 14)); tg_str(g, " id="); tg_hex(g, 16); tg_str(g, " ms=");
		tg_num(g, tg_u(g, 5000)); tg_str(g, "\n");
		break;
	default:
		tg_word(g); tg_str(g, "."); tg_word(g); tg_str(g, "."); tg_word(g); tg_str(g, ":");
		tg_num(g, tg_u(g, 10000));
		if (tg_u(g, 2)) {
			tg_str(g, "."); tg_num(g, tg_u(g, 1000)); tg_str(g, "|ms|@0.");
			tg_num(g, 1 + tg_u(g, 9));
		} else {
			tg_str(g, tg_u(g, 2) ? "|c" : "|g");
		}
		tg_str(g, "\n");
		break;
	}
}

typedef struct tblk {
	uint64_t seed;
	uint32_t style, blk, valid, used;
	uint8_t b[E_TEXT_BLOCK];
} tblk;
static tblk *TB;

/* block blk of a body: records until at least `need` bytes; a record that does not fit the rest
 * of the block becomes spaces and a newline, so each block is whole lines */
static const uint8_t *text_block(uint64_t seed, uint32_t style, uint32_t blk, uint32_t need)
{
	if (!TB) {
		TB = calloc(E_TEXT_CACHE, sizeof *TB);
		if (!TB)
			die("out of memory");
	}
	tblk *e = &TB[mix64(seed ^ ((uint64_t)blk << 8) ^ style) % E_TEXT_CACHE];
	if (e->used && e->seed == seed && e->style == style && e->blk == blk && e->valid >= need)
		return e->b;
	e->used = 1;
	e->seed = seed;
	e->style = style;
	e->blk = blk;
	tgen g;
	g.s = mix64(seed ^ (0x7e47ULL + (uint64_t)blk * 0x9e3779b97f4a7c15ULL));
	char line[2048];
	uint32_t n = 0;
	while (n < need && n < E_TEXT_BLOCK) {
		g.p = line;
		g.end = line + sizeof line;
		tg_record(&g, style);
		uint32_t l = (uint32_t)(g.p - line);
		if (n + l <= E_TEXT_BLOCK) {
			memcpy(e->b + n, line, l);
			n += l;
		} else {
			memset(e->b + n, ' ', E_TEXT_BLOCK - n);
			e->b[E_TEXT_BLOCK - 1] = '\n';
			n = E_TEXT_BLOCK;
		}
	}
	e->valid = n;
	return e->b;
}

static void text_fill(const msg *m, uint32_t off, uint32_t len, uint8_t *out)
{
	while (len) {
		uint32_t blk = off / E_TEXT_BLOCK, in = off % E_TEXT_BLOCK;
		uint32_t n = E_TEXT_BLOCK - in < len ? E_TEXT_BLOCK - in : len;
		memcpy(out, text_block(m->seed, m->style, blk, in + n) + in, n);
		out += n;
		off += n;
		len -= n;
	}
}

/* a message: the headers written to the arena since msg_begin, then `body` bytes of generated text */
static uint32_t msg_text_end(conv *c, uint32_t mi, uint32_t style, uint32_t body)
{
	msg *m = &c->ms[mi];
	m->hlen = (uint32_t)c->nar - m->off;
	m->len = m->hlen + body;
	m->kind = M_TEXT;
	m->style = style;
	m->seed = rnd();
	return mi;
}

/* ------------------------------------------------------------------ */
/* enterprise hosts                                                     */

typedef struct ehost {
	uint8_t a4[16], a6[16];
	int vi;
	uint32_t next_port;
	char name[48];
} ehost;

typedef struct epool {
	ehost *h;
	double *cum;
	uint32_t n;
} epool;

static struct {
	uint64_t nflows, next;   /* background flows */
	uint64_t client_slice;   /* the client host's bursts so far */
	uint32_t *rank;          /* Zipf rank of background flow k: a permutation of 1..nflows */
	double s1;               /* bytes at rank nflows */
	uint64_t t_end;
	epool cli, net4, net6, lan;
	ehost beacon, c2, client, server, resolver, ntp, syslog, statsd;
	uint16_t dns_port;
} E;

/* a VPC address 10.0.x.y; copy K of --relabel has it at 10.K.x.y */
static void e_vpc4(uint8_t *a, int x, int y) { a4(a, 10, (int)C.relabel, x, y); }

static void e_relabel6(uint8_t *a)
{
	if (C.relabel)
		put16(a, 0x3ff0u | C.relabel);
}

/* a public unicast IPv4 address; copy K has public address `idx` at 100.64.0.0/10 + (K << 18) + idx */
static void e_public4(uint8_t *a, uint32_t idx)
{
	for (;;) {
		int x = (int)rndr(1, 223), y = (int)rndu(256), z = (int)rndu(256), w = (int)rndr(1, 254);
		if (x == 10 || x == 127 || (x == 100 && y >= 64 && y < 128) || (x == 169 && y == 254) ||
		    (x == 172 && y >= 16 && y < 32) || (x == 192 && y == 168) || (x == 192 && y == 0) ||
		    (x == 198 && (y == 18 || y == 19 || y == 51)) || (x == 203 && y == 0))
			continue;
		a4(a, x, y, z, w);
		break;
	}
	if (C.relabel)
		a4(a, 100, (int)(64 + (C.relabel << 2) + ((idx >> 16) & 3)), (int)((idx >> 8) & 0xff), (int)(idx & 0xff));
}

static void e_name(char *out, size_t cap, int internal)
{
	const char *w1 = EWORDS[rndu(200)], *w2 = EWORDS[rndu(200)];
	if (internal)
		snprintf(out, cap, "%s-%s.corp.internal", w1, w2);
	else if (rndu(3) == 0)
		snprintf(out, cap, "%s%u.%s.%s", w1, rndu(100), w2, ETLD[rndu(8)]);
	else
		snprintf(out, cap, "%s.%s%s.%s", rndu(2) ? "www" : "api", w1, w2, ETLD[rndu(8)]);
}

/* client host idx: 10.0.(16 + idx % 208).(10 + idx / 208), behind VNI idx % vnis */
static void e_client_host(ehost *h, uint32_t idx)
{
	memset(h, 0, sizeof *h);
	h->vi = (int)(idx % (uint32_t)C.nvnis);
	e_vpc4(h->a4, (int)(16 + idx % 208), (int)(10 + (idx / 208) % 240));
	memcpy(h->a6, V[h->vi].inst6, 8);
	fill_rand(h->a6 + 8, rnd(), 0, 8);
	e_relabel6(h->a6);
	h->next_port = 32768 + rndu(28000);
	snprintf(h->name, sizeof h->name, "ip-10-0-%u-%u", h->a4[2], h->a4[3]);
}

static void pool_weights(epool *p, double expo)
{
	p->cum = xrealloc(NULL, p->n * sizeof *p->cum);
	double sum = 0;
	for (uint32_t i = 0; i < p->n; i++)
		sum += 1.0 / pow((double)(i + 1), expo);
	double acc = 0;
	for (uint32_t i = 0; i < p->n; i++) {
		acc += 1.0 / pow((double)(i + 1), expo) / sum;
		p->cum[i] = acc;
	}
	p->cum[p->n - 1] = 1.0;
}

static ehost *pool_pick(const epool *p)
{
	double u = rndf();
	uint32_t lo = 0, hi = p->n - 1;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (p->cum[mid] >= u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return &p->h[lo];
}

static uint16_t e_port(ehost *h)
{
	h->next_port += 1 + rndu(7);
	if (h->next_port > 60999)
		h->next_port = 32768 + (h->next_port - 61000);
	return (uint16_t)h->next_port;
}

static double harmonic(double n) { return log(n) + 0.5772156649 + 1.0 / (2.0 * n); }

static void e_init(void)
{
	static const uint16_t pfx6[][2] = {
		{ 0x2606, 0x4700 }, { 0x2a04, 0x4e42 }, { 0x2600, 0x9000 }, { 0x2620, 0x01ec },
		{ 0x2a00, 0x1450 }, { 0x2607, 0xf8b0 },
	};
	double scale = (double)C.bytes / E_UNIT_BYTES;
	E.nflows = C.set_flows ? (uint64_t)C.flows : (uint64_t)llround(E_UNIT_FLOWS * scale);
	E.t_end = g_t0 + g_dur_ns;
	E.s1 = E.nflows ? E_S1 * (harmonic(E_UNIT_FLOWS + 1) - 1) / (harmonic((double)E.nflows + 1) - 1) : 0;
	E.dns_port = C.relabel ? 10053 : 53;

	E.cli.n = E_CLIENTS;
	E.cli.h = xrealloc(NULL, E.cli.n * sizeof *E.cli.h);
	for (uint32_t i = 0; i < E.cli.n; i++)
		e_client_host(&E.cli.h[i], i);
	pool_weights(&E.cli, 1.0);
	e_client_host(&E.beacon, E_CLIENTS);
	e_client_host(&E.client, E_CLIENTS + 1);

	E.net4.n = E_NET4;
	E.net4.h = xrealloc(NULL, E.net4.n * sizeof *E.net4.h);
	for (uint32_t i = 0; i < E.net4.n; i++) {
		ehost *h = &E.net4.h[i];
		memset(h, 0, sizeof *h);
		e_public4(h->a4, i);
		e_name(h->name, sizeof h->name, 0);
	}
	pool_weights(&E.net4, 1.2);
	E.net6.n = C.ipv6 ? E_NET6 : 1;
	E.net6.h = xrealloc(NULL, E.net6.n * sizeof *E.net6.h);
	for (uint32_t i = 0; i < E.net6.n; i++) {
		ehost *h = &E.net6.h[i];
		memset(h, 0, sizeof *h);
		uint32_t k = rndu(6);
		put16(h->a6, pfx6[k][0]);
		put16(h->a6 + 2, pfx6[k][1]);
		fill_rand(h->a6 + 4, rnd(), 0, 12);
		e_relabel6(h->a6);
		e_name(h->name, sizeof h->name, 0);
	}
	pool_weights(&E.net6, 1.2);
	E.lan.n = E_LAN;
	E.lan.h = xrealloc(NULL, E.lan.n * sizeof *E.lan.h);
	for (uint32_t i = 0; i < E.lan.n; i++) {
		ehost *h = &E.lan.h[i];
		memset(h, 0, sizeof *h);
		e_vpc4(h->a4, (int)(240 + i % 8), (int)(20 + i / 8));
		e_name(h->name, sizeof h->name, 1);
	}
	pool_weights(&E.lan, 1.0);

	memset(&E.server, 0, sizeof E.server);
	e_vpc4(E.server.a4, 240, 10);
	snprintf(E.server.name, sizeof E.server.name, "api.corp.internal");
	memset(&E.resolver, 0, sizeof E.resolver);
	e_vpc4(E.resolver.a4, 0, 2);
	a6(E.resolver.a6, "fd00:ec2::253");
	e_relabel6(E.resolver.a6);
	memset(&E.ntp, 0, sizeof E.ntp);
	e_vpc4(E.ntp.a4, 240, 123);
	memset(&E.syslog, 0, sizeof E.syslog);
	e_vpc4(E.syslog.a4, 241, 5);
	memset(&E.statsd, 0, sizeof E.statsd);
	e_vpc4(E.statsd.a4, 241, 6);
	memset(&E.c2, 0, sizeof E.c2);
	e_public4(E.c2.a4, (1u << 18) - 1);
	snprintf(E.c2.name, sizeof E.c2.name, "cdn-%u.%s-%s.%s", rndu(90) + 10, EWORDS[rndu(200)],
	         EWORDS[rndu(200)], ETLD[rndu(8)]);

	/* ranks: a uniform random permutation (Fisher-Yates), so the sizes are exactly Zipf's */
	if (E.nflows > 0xfffffff0u)
		die("--flows: too many for the enterprise profile");
	E.rank = xrealloc(NULL, E.nflows * sizeof *E.rank);
	for (uint64_t k = 0; k < E.nflows; k++)
		E.rank[k] = (uint32_t)(k + 1);
	for (uint64_t k = E.nflows; k > 1; k--) {
		uint32_t j = rndu((uint32_t)k);
		uint32_t x = E.rank[k - 1];
		E.rank[k - 1] = E.rank[j];
		E.rank[j] = x;
	}

	E.next = 0;
	uint64_t t1 = g_t0 + (uint64_t)(rndf() * (double)g_dur_ns / (double)(E.nflows ? E.nflows : 1));
	uint64_t t2 = g_t0 + (uint64_t)(rndf() * E_CLIENT_GAP_S * (double)NS);
	uint64_t t3 = g_t0 + (uint64_t)rndu(15000) * MS + rndu(1000000);
	if (E.nflows)
		spawner_new(SP_E_FLOWS, t1);
	if (t2 < E.t_end)
		spawner_new(SP_E_CLIENT, t2);
	if (t3 < E.t_end)
		spawner_new(SP_E_BEACON, t3);
}

/* ------------------------------------------------------------------ */
/* enterprise conversations                                             */

static conv *e_conv(const ehost *cl, const ehost *sv, int proto, int app, int v6, uint16_t sport, uint16_t dport,
                    int lan, uint64_t t)
{
	conv *c = conv_alloc();
	c->vi = cl->vi;
	c->proto = (uint8_t)proto;
	c->app = (uint8_t)app;
	c->v6 = (uint8_t)v6;
	c->local_is_client = 1;
	memcpy(c->cli, v6 ? cl->a6 : cl->a4, 16);
	memcpy(c->srv, v6 ? sv->a6 : sv->a4, 16);
	c->sport = sport;
	c->dport = dport;
	c->isn[0] = (uint32_t)rnd();
	c->isn[1] = (uint32_t)rnd();
	c->nxt[0] = c->isn[0];
	c->nxt[1] = c->isn[1];
	c->ipid[0] = (uint16_t)rnd();
	c->ipid[1] = (uint16_t)rnd();
	c->flowlabel[0] = (uint32_t)rnd() & 0xfffff;
	c->flowlabel[1] = (uint32_t)rnd() & 0xfffff;
	c->t = t;
	c->mss[0] = c->mss[1] = v6 ? 1440 : 1460;
	c->quick[0] = c->quick[1] = 16;
	if (lan) {
		c->rtt = 200 * US + rndu(800) * US;
		c->think = 20 * US + rndu(60) * US;
		c->nspb = 1 + rndu(4);
		c->ser = 2 * US;
		c->ttl_remote = 64;
	} else {
		c->rtt = 3 * MS + rndu(40) * MS;
		c->think = 30 * US + rndu(200) * US;
		c->nspb = 8 + rndu(72);
		c->ser = 5 * US;
		c->ttl_remote = (uint8_t)rndr(40, 58);
	}
	return c;
}

/* dir's data in MSS-sized segments.  The receiver ACKs every second segment at once and an odd
 * last one when its delayed-ACK timer runs out (40 ms, Linux's minimum), unless `reply`: it then
 * answers with data first and the ACK rides on that (RFC 9293 3.8.6.3). */
static void e_send(conv *c, int dir, uint32_t mi, int reply)
{
	uint32_t len = c->ms[mi].len, off = 0, n = 0, mss = c->mss[dir];
	while (off < len) {
		uint32_t seg = len - off < mss ? len - off : mss;
		if (n == 0)
			adv(c, dir, seg);
		else
			c->t += c->ser + (uint64_t)seg * c->nspb;
		st_add(c, dir, ST_TCP, (uint8_t)(F_ACK | (off + seg == len ? F_PSH : 0)), mi, off, seg);
		off += seg;
		n++;
		/* a new connection's receiver ACKs each full segment at first (Linux's quick-ACK mode) */
		int quick = c->quick[dir] > 0 && seg == mss && off < len;
		if (c->quick[dir] > 0)
			c->quick[dir]--;
		if (quick) {
			c->t += 1 * US + rndu(10) * US;
			st_add(c, !dir, ST_TCP, F_ACK, 0, 0, 0);
			c->lastdir = dir;
			n = 0;
		} else if (n % 2 == 0) {
			c->t += 1 * US + rndu(10) * US;
			st_add(c, !dir, ST_TCP, F_ACK, 0, 0, 0);
			c->lastdir = dir;
		}
	}
	if (n % 2 == 1 && !reply) {
		c->t += 40 * MS;
		st_add(c, !dir, ST_TCP, F_ACK, 0, 0, 0);
	}
}

/* the civil date of unix second s (days to y-m-d: Howard Hinnant's algorithm) */
static void e_civil(uint64_t s, unsigned *y, unsigned *mo, unsigned *d, unsigned *wday)
{
	uint64_t days = s / 86400;
	int64_t z = (int64_t)days + 719468, era = z / 146097;
	uint64_t doe = (uint64_t)(z - era * 146097);
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	uint64_t m = mp < 10 ? mp + 3 : mp - 9;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*mo = (unsigned)m;
	*y = (unsigned)(yoe + (uint64_t)era * 400 + (m <= 2));
	*wday = (unsigned)(days % 7); /* 0 = Thursday */
}

static void e_date(conv *c)
{
	static const char *const dn[] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed" };
	static const char *const mn[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	uint64_t s = c->t / NS, sod = s % 86400;
	unsigned y, mo, d, wd;
	e_civil(s, &y, &mo, &d, &wd);
	ar_printf(c, "Date: %s, %02u %s %04u %02u:%02u:%02u GMT\r\n", dn[wd], d, mn[mo - 1], y,
	          (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60));
}

static void e_uuid(conv *c)
{
	uint64_t a = rnd(), b = rnd();
	ar_printf(c, "%08x-%04x-4%03x-%04x-%012" PRIx64, (unsigned)(a >> 32), (unsigned)(a >> 16 & 0xffff),
	          (unsigned)(a & 0xfff), (unsigned)(b >> 48), (uint64_t)(b & 0xffffffffffffULL));
}

static uint32_t e_http_req(conv *c, const char *host, uint32_t body)
{
	static const char *const UA[] = {
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"python-requests/2.32.3", "Go-http-client/1.1", "okhttp/4.12.0", "curl/8.5.0",
		"aws-sdk-java/2.29.6 Linux/6.1 OpenJDK_64-Bit_Server_VM/21.0.5",
	};
	uint32_t m = msg_begin(c);
	const char *w1 = EWORDS[rndu(NEWORDS)], *w2 = EWORDS[rndu(200)];
	ar_printf(c, "%s ", body ? (rndu(4) ? "POST" : "PUT") : "GET");
	switch (rndu(4)) {
	case 0: ar_printf(c, "/api/v%u/%s/%u", 1 + rndu(3), w1, rndu(10000000)); break;
	case 1: ar_printf(c, "/%s/%s?page=%u&q=%s", w1, w2, 1 + rndu(50), EWORDS[rndu(NEWORDS)]); break;
	case 2: ar_printf(c, "/static/%s-%08x.%s", w1, (unsigned)rnd(), rndu(2) ? "js" : "css"); break;
	default: ar_printf(c, "/%s/%s/%u/%s", w2, w1, rndu(100000), EWORDS[rndu(NEWORDS)]); break;
	}
	ar_printf(c, " HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: %s\r\nAccept-Language: en-US,en;q=0.9\r\n"
	          "Cookie: sid=%016" PRIx64 "%016" PRIx64 "; _ga=GA1.2.%u.%u\r\nX-Request-Id: ",
	          host, UA[rndu(7)], rndu(2) ? "application/json" : "text/html,application/xhtml+xml,*/*;q=0.8",
	          rnd(), rnd(), rndu(2000000000), 1700000000 + rndu(60000000));
	e_uuid(c);
	ar_str(c, "\r\n");
	if (body) {
		ar_printf(c, "Content-Type: application/json\r\nContent-Length: %u\r\n\r\n", body);
		return msg_text_end(c, m, TX_JSON, body);
	}
	ar_str(c, "\r\n");
	return msg_end(c, m);
}

static uint32_t e_http_resp(conv *c, uint32_t body)
{
	static const char *const CT[] = { "application/json", "text/html; charset=utf-8", "text/plain; charset=utf-8" };
	static const uint32_t ST[] = { TX_JSON, TX_HTML, TX_LOG };
	uint32_t k = rndu(10) < 5 ? 0 : rndu(3);
	uint32_t m = msg_begin(c);
	ar_printf(c, "HTTP/1.1 200 OK\r\n");
	e_date(c);
	ar_printf(c, "Server: %s\r\nContent-Type: %s\r\nContent-Length: %u\r\nETag: \"%016" PRIx64 "\"\r\n"
	          "Cache-Control: %s\r\nX-Request-Id: ", rndu(2) ? "nginx/1.24.0" : "envoy", CT[k], body, rnd(),
	          rndu(2) ? "no-store" : "max-age=300");
	e_uuid(c);
	ar_str(c, "\r\nConnection: keep-alive\r\n\r\n");
	return msg_text_end(c, m, ST[k], body);
}

/* a pause between requests; after 200 ms (about an RTO) both ends are back in quick-ACK mode */
static void e_idle(conv *c, uint64_t ns)
{
	wait_ns(c, ns);
	if (ns >= 200 * MS)
		c->quick[0] = c->quick[1] = 16;
}

/* rounds of a connection that carries `bytes`: more requests for bigger flows */
static int e_rounds(double bytes)
{
	int r = 1 + (int)rndu(2) + (int)(1.5 * log2(1.0 + bytes / 10000.0));
	return r > 16 ? 16 : r;
}

static void e_tls_flow(const ehost *cl, const ehost *sv, int v6, int lan, uint64_t t, double bytes, uint64_t linger)
{
	conv *c = e_conv(cl, sv, 6, A_TLS, v6, e_port((ehost *)cl), 443, lan, t);
	tcp_open(c);
	e_send(c, 0, tls_client_hello(c, sv->name), 1);
	e_send(c, 1, tls_server_hello(c, rndu(5) < 3 ? rndr(60, 300) : rndr(1500, 3500)), 1);
	e_send(c, 0, tls_client_finished(c), 1);
	/* TLS 1.3: the server's NewSessionTicket after the client's Finished */
	e_send(c, 1, msg_tls(c, rndr(200, 520)), 1);
	int rounds = e_rounds(bytes);
	for (int r = 0; r < rounds; r++) {
		if (r)
			e_idle(c, (uint64_t)rndu(150) * MS);
		e_send(c, 0, msg_tls(c, rndr(90, 900)), 1);
		wait_ns(c, (uint64_t)rndr(1, 30) * MS);
		e_send(c, 1, msg_tls(c, (uint32_t)(bytes / rounds)), 0);
	}
	wait_ns(c, linger);
	/* a close_notify alert before the FIN, answered half of the time */
	int first = (int)rndu(2);
	e_send(c, first, msg_tls(c, 24), 1);
	if (rndu(2))
		e_send(c, !first, msg_tls(c, 24), 1);
	tcp_end(c, first);
	conv_start(c);
}

/* one_shot: a single request, and the client closes at once (its FIN carries the last ACK) */
static void e_http_flow(const ehost *cl, const ehost *sv, int v6, int lan, uint64_t t, double bytes, uint64_t linger,
                        int one_shot)
{
	uint16_t dport = lan ? 8080 : 80;
	conv *c = e_conv(cl, sv, 6, A_HTTP, v6, e_port((ehost *)cl), dport, lan, t);
	tcp_open(c);
	int rounds = one_shot ? 1 : e_rounds(bytes);
	for (int r = 0; r < rounds; r++) {
		if (r)
			e_idle(c, (uint64_t)rndr(5, 150) * MS);
		e_send(c, 0, e_http_req(c, sv->name, rndu(5) == 0 ? rndr(60, 1500) : 0), 1);
		wait_ns(c, (uint64_t)rndr(1, 40) * MS);
		e_send(c, 1, e_http_resp(c, (uint32_t)(bytes / rounds)), one_shot);
	}
	wait_ns(c, one_shot ? (uint64_t)rndr(50, 5000) * US : linger);
	tcp_end(c, 0);
	conv_start(c);
}

/* a query and its answer: a CNAME to a CDN name and 1-4 addresses, as most names resolve today */
static void e_dns_exchange(conv *c, uint16_t id, const char *name, int qtype, int edns)
{
	uint32_t q = msg_begin(c);
	ar_u16(c, id); ar_u16(c, 0x0100); ar_u16(c, 1); ar_u16(c, 0); ar_u16(c, 0); ar_u16(c, edns ? 1 : 0);
	dns_name(c, name); ar_u16(c, (uint32_t)qtype); ar_u16(c, 1);
	if (edns) {
		ar_u8(c, 0); ar_u16(c, 41); ar_u16(c, 1232); ar_u32(c, 0); ar_u16(c, 0);
	}
	msg_end(c, q);
	int nans = (int)rndr(1, 4);
	uint32_t r = msg_begin(c);
	size_t base = c->nar;
	ar_u16(c, id); ar_u16(c, 0x8180); ar_u16(c, 1); ar_u16(c, (uint32_t)nans + 1); ar_u16(c, 0);
	ar_u16(c, edns ? 1 : 0);
	dns_name(c, name); ar_u16(c, (uint32_t)qtype); ar_u16(c, 1);
	char cname[96];
	snprintf(cname, sizeof cname, "%s-%u.%s.%s%s.net", EWORDS[rndu(200)], rndu(1000), rndu(2) ? "edge" : "g",
	         EWORDS[rndu(200)], rndu(2) ? "cdn" : "-lb");
	ar_u16(c, 0xc00c); ar_u16(c, 5); ar_u16(c, 1); ar_u32(c, rndr(30, 3600));
	size_t rdl = c->nar;
	ar_u16(c, 0);
	uint32_t target = (uint32_t)(c->nar - base);
	dns_name(c, cname);
	put16(c->ar + rdl, (uint32_t)(c->nar - rdl - 2));
	for (int i = 0; i < nans; i++) {
		ar_u16(c, 0xc000 | target); ar_u16(c, (uint32_t)qtype); ar_u16(c, 1); ar_u32(c, rndr(20, 300));
		if (qtype == 1) {
			ar_u16(c, 4);
			ar_u8(c, rndr(3, 223)); ar_u8(c, rndu(256)); ar_u8(c, rndu(256)); ar_u8(c, rndr(1, 254));
		} else {
			ar_u16(c, 16);
			ar_u16(c, 0x2600); ar_u16(c, 0x9000); ar_rand(c, 12);
		}
	}
	if (edns) {
		ar_u8(c, 0); ar_u16(c, 41); ar_u16(c, 1232); ar_u32(c, 0); ar_u16(c, 0);
	}
	msg_end(c, r);
	udp_send(c, 0, q);
	wait_ns(c, (uint64_t)rndr(50, 2000) * US);
	udp_send(c, 1, r);
}

static void e_dns_flow(const ehost *cl, int v6, uint64_t t)
{
	conv *c = e_conv(cl, &E.resolver, 17, A_DNS, v6, e_port((ehost *)cl), E.dns_port, 1, t);
	char name[64];
	if (rndu(2))
		snprintf(name, sizeof name, "%s", pool_pick(&E.net4)->name);
	else
		e_name(name, sizeof name, (int)rndu(3) == 0);
	uint16_t id = (uint16_t)rnd();
	int edns = (int)rndu(2);
	e_dns_exchange(c, id, name, 1, edns);
	if (rndu(10) < 6) {
		wait_ns(c, (uint64_t)rndr(20, 900) * US);
		e_dns_exchange(c, (uint16_t)(id + 1), name, 28, edns);
	}
	conv_start(c);
}

static void e_ntp_flow(const ehost *cl, uint64_t t)
{
	conv *c = e_conv(cl, &E.ntp, 17, A_NTP, 0, e_port((ehost *)cl), 123, 1, t);
	int n = 1 + (int)rndu(2);
	uint64_t poll = 64 * NS + rndu(1000) * MS;
	if (t + poll + NS > E.t_end)
		n = 1;
	for (int i = 0; i < n; i++) {
		if (i)
			wait_ns(c, poll);
		udp_send(c, 0, ntp_msg(c, 0, c->t));
		udp_send(c, 1, ntp_msg(c, 1, c->t));
	}
	conv_start(c);
}

/* one-way UDP messages (syslog, statsd) that carry about `bytes`, in bursts (a statsd flush, a
 * burst of log lines) spread over at most the rest of the capture */
static void e_udp_stream(const ehost *cl, int app, uint64_t t, double bytes)
{
	const ehost *sv = app == A_SYSLOG ? &E.syslog : &E.statsd;
	uint16_t dport = app == A_SYSLOG ? 514 : 8125;
	conv *c = e_conv(cl, sv, 17, app, 0, e_port((ehost *)cl), dport, 1, t);
	uint32_t lo = app == A_SYSLOG ? 120 : 300, hi = app == A_SYSLOG ? 1100 : 1400;
	uint32_t n = (uint32_t)(bytes / ((lo + hi) / 2.0));
	if (n < 1)
		n = 1;
	double gap = (app == A_SYSLOG ? 8.0 : 10.0) * NS;
	uint32_t burst = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (burst) {
			burst--;
			wait_ns(c, (uint64_t)rndr(50, 2000) * US);
		} else if (i) {
			/* never past the end of the capture: the rest shares what is left */
			double left = c->t < E.t_end ? (double)(E.t_end - c->t) : 1e6;
			double g = rnd_exp(gap);
			if (g > left / (n - i + 1))
				g = left / (n - i + 1);
			wait_ns(c, 1 + (uint64_t)g);
			burst = rndu(8);
		} else {
			burst = rndu(8);
		}
		uint32_t m = msg_begin(c);
		if (app == A_SYSLOG) {
			/* RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG */
			uint64_t s = c->t / NS, sod = s % 86400;
			unsigned y, mo, d, wd;
			e_civil(s, &y, &mo, &d, &wd);
			ar_printf(c, "<%u>1 %04u-%02u-%02uT%02u:%02u:%02u.%06uZ %s %s %u - - ", 128 + rndu(64), y, mo, d,
			          (unsigned)(sod / 3600), (unsigned)(sod / 60 % 60), (unsigned)(sod % 60),
			          (unsigned)(c->t % NS / 1000), cl->name, EWORDS[rndu(200)], 100 + rndu(60000));
			msg_text_end(c, m, TX_LOG, rndr(lo, hi) - 50);
		} else {
			msg_text_end(c, m, TX_STATSD, rndr(lo, hi));
		}
		udp_send(c, 0, m);
	}
	conv_start(c);
}

/* the beacon: every 15 s, SYN, SYN/ACK, ACK, a small TLS record each way (the answer with FIN),
 * FIN/ACK, ACK: 7 packets */
static void e_beacon(uint64_t t)
{
	conv *c = e_conv(&E.beacon, &E.c2, 6, A_TLS, 0, e_port(&E.beacon), 443, 0, t);
	tcp_open(c);
	uint32_t q = msg_tls(c, rndr(180, 320)), a = msg_tls(c, rndr(90, 260));
	adv(c, 0, c->ms[q].len);
	st_add(c, 0, ST_TCP, F_ACK | F_PSH, q, 0, c->ms[q].len);
	wait_ns(c, (uint64_t)rndr(2, 20) * MS);
	adv(c, 1, c->ms[a].len);
	st_add(c, 1, ST_TCP, F_ACK | F_PSH | F_FIN, a, 0, c->ms[a].len);
	adv(c, 0, 0);
	st_add(c, 0, ST_TCP, F_ACK | F_FIN, 0, 0, 0);
	adv(c, 1, 0);
	st_add(c, 1, ST_TCP, F_ACK, 0, 0, 0);
	conv_start(c);
}

/* the client host: bursts of 1-4 small API calls to the server host */
static void e_client_burst(uint64_t t)
{
	int n = 1 + (int)rndu(4);
	for (int i = 0; i < n; i++)
		e_http_flow(&E.client, &E.server, 0, 1, t + (uint64_t)rndu(400) * MS, rndr(100, 1000), 0, 1);
}

/* background flow k: its Zipf rank sets its size and its protocol (the golden-ratio sequence of the
 * rank: every run of ranks has the whole mix, so the byte shares do not hang on where the few
 * largest flows fall), draws set its ends */
static void e_flow(uint64_t k, uint64_t t)
{
	double z = (double)E.nflows / (double)(E.rank[k] + 1);
	double zb = E.s1 * z;
	double gr = (double)E.rank[k] * 0.6180339887498949;
	uint32_t pm = (uint32_t)((gr - floor(gr)) * 1000.0);
	const ehost *cl = pool_pick(&E.cli);
	int v6 = C.ipv6 && rndf() < E_P_V6;
	uint64_t linger = (uint64_t)rndu(50) * MS;
	if (pm < E_PM_HTTP + E_PM_TLS) {
		int tls = pm >= E_PM_HTTP;
		double u = rndf();
		const ehost *sv;
		int lan;
		if (!v6 && u < E_P_SERVER) {
			sv = &E.server;
			lan = 1;
		} else if (!v6 && u < E_P_SERVER + E_P_LAN) {
			sv = pool_pick(&E.lan);
			lan = 1;
		} else {
			sv = v6 ? pool_pick(&E.net6) : pool_pick(&E.net4);
			lan = 0;
		}
		if (tls)
			e_tls_flow(cl, sv, v6, lan, t, rndr(100, 800) + E_M_TLS * zb, linger);
		else
			e_http_flow(cl, sv, v6, lan, t, rndr(100, 1000) + E_M_HTTP * zb, linger, 0);
	} else if (pm < E_PM_HTTP + E_PM_TLS + E_PM_DNS) {
		e_dns_flow(cl, v6, t);
	} else if (pm < E_PM_HTTP + E_PM_TLS + E_PM_DNS + E_PM_NTP) {
		e_ntp_flow(cl, t);
	} else if (pm < E_PM_HTTP + E_PM_TLS + E_PM_DNS + E_PM_NTP + E_PM_SYSLOG) {
		e_udp_stream(cl, A_SYSLOG, t, rndr(400, 10000) + E_M_UDP * zb);
	} else {
		e_udp_stream(cl, A_STATSD, t, rndr(800, 15000) + E_M_UDP * zb);
	}
}

static void e_spawner_tick(conv *sp)
{
	uint64_t t = sp->t_next;
	switch (sp->spawner_kind) {
	case SP_E_FLOWS:
		e_flow(E.next, t);
		if (++E.next >= E.nflows) {
			free(sp);
			return;
		}
		/* flow k starts in the k-th of nflows equal slices of the duration */
		sp->t_next = g_t0 + (uint64_t)(((double)E.next + rndf()) * (double)g_dur_ns / (double)E.nflows);
		if (sp->t_next < t)
			sp->t_next = t;
		break;
	case SP_E_CLIENT:
		/* one burst at a random time in each slice, so the count does not vary */
		e_client_burst(t);
		E.client_slice++;
		sp->t_next = g_t0 + (uint64_t)(((double)E.client_slice + rndf()) * E_CLIENT_GAP_S * (double)NS);
		if (sp->t_next < t)
			sp->t_next = t;
		break;
	default:
		e_beacon(t);
		sp->t_next = t + E_BEACON_PERIOD + rndu(100) * MS - 50 * MS;
		break;
	}
	if (sp->t_next >= E.t_end) {
		free(sp);
		return;
	}
	hpush(sp);
}

/* --hosts: the named hosts with their totals from the truth */
static void e_hosts_write(const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("%s: %s", path, strerror(errno));
	fputs("role,addr,packets,bytes,flows,first_ns,last_ns\n", f);
	const struct { const char *role; const ehost *h; } R[] = {
		{ "beacon", &E.beacon }, { "beacon_peer", &E.c2 }, { "client", &E.client }, { "server", &E.server },
	};
	for (size_t r = 0; r < sizeof R / sizeof R[0]; r++) {
		uint64_t pk = 0, by = 0, fl = 0, first = UINT64_MAX, last = 0;
		for (size_t i = 0; i < FEn; i++) {
			const fent *e = &FE[i];
			if (e->k.v6 || (memcmp(e->k.src, R[r].h->a4, 4) != 0 && memcmp(e->k.dst, R[r].h->a4, 4) != 0))
				continue;
			pk += e->packets;
			by += e->bytes;
			fl++;
			if (e->first < first)
				first = e->first;
			if (e->last > last)
				last = e->last;
		}
		char a[64];
		fmt_addr(a, sizeof a, R[r].h->a4, 0);
		fprintf(f, "%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n", R[r].role, a, pk, by, fl,
		        fl ? first : 0, last);
	}
	if (fflush(f) != 0 || ferror(f) || fclose(f) != 0)
		die("%s: write failed", path);
}

static void e_free(void)
{
	free(E.rank);
	free(E.cli.h); free(E.cli.cum);
	free(E.net4.h); free(E.net4.cum);
	free(E.net6.h); free(E.net6.cum);
	free(E.lan.h); free(E.lan.cum);
	free(TB);
}

/* ------------------------------------------------------------------ */
/* command line                                                        */

static void usage(FILE *f)
{
	fputs("usage: tv-gen [options]\n"
	      "  --outer FILE        mirrored capture (VXLAN/GENEVE as the target sees it)\n"
	      "  --inner FILE        decapsulated inner Ethernet frames\n"
	      "  --truth FILE        CSV ground truth, one row per unidirectional flow per VNI\n"
	      "  --summary           print packets, flows, vnis, outer_bytes to stdout\n"
	      "  --seed N            PRNG seed (default 1)\n"
	      "  --vnis N            mirror sessions / source ENIs (default 4, 1..4096)\n"
	      "  --flows N           background web/bulk flows (default 60)\n"
	      "  --duration S        traffic time in seconds (default 900)\n"
	      "  --start T           first timestamp, unix seconds (default 1764000000)\n"
	      "  --target-bytes N    keep adding heavy background flows until the outer file is ~N bytes\n"
	      "  --many-flows N      add N distinct 1-3 packet UDP/TCP flows\n"
	      "  --geneve-share P    fraction of VNIs delivered by a GWLB (GENEVE, 0..1, default 0)\n"
	      "  --geneve-vxlan      GENEVE VNIs alternate with GENEVE-carrying-VXLAN (mirror via GWLBE)\n"
	      "  --no-ipv6           no IPv6 traffic\n"
	      "  --no-linklocal      no IMDS (169.254.169.254) / NTP (169.254.169.123) traffic\n"
	      "  --packet-length N   PacketLength of the truncating session (default 128, 0 = off)\n"
	      "  --inner-vlan VNI    802.1Q tag (VID 100) on inner frames of that VNI (value or index)\n"
	      "  --interleave        interleave concurrent conversations (default)\n"
	      "  --no-interleave     one conversation after another\n"
	      "  --flowlog FILE      the VPC Flow Log (v5 fields, header line) the VPC would have\n"
	      "                      delivered, with known disagreements injected\n"
	      "  --audit-truth FILE  CSV: the class and reason the audit must find per flow\n"
	      "  --vni-map FILE      the VNI map (text: vni= eni= addr= ...)\n"
	      "  --mirror-filters FILE  describe-traffic-mirror-filters JSON of the sessions\n"
	      "  --mirror-sessions FILE describe-traffic-mirror-sessions JSON\n"
	      "  --profile NAME      default, or enterprise: many client hosts, Zipf flow sizes,\n"
	      "                      TLS/HTTP/UDP 60/30/10 %% of bytes, a beacon, a spread client\n"
	      "                      and a busy server (6 VNIs, no truncation)\n"
	      "  --bytes SIZE        enterprise: scale (K/M/G suffixes; default 256M = 40,000 flows\n"
	      "                      over 300 s); --flows and --duration override\n"
	      "  --relabel K         enterprise: copy K (1..15) with every inner address moved to\n"
	      "                      ranges the original never uses, and port 53 moved to 10053\n"
	      "  --hosts FILE        enterprise: CSV of the beacon, its peer, the client and the\n"
	      "                      server host, with their packets, bytes and flows\n"
	      "  --help              this text\n", f);
}

/* N with an optional K, M, G or T suffix (powers of 1024) */
static uint64_t parse_size(const char *opt, const char *s)
{
	char *e;
	errno = 0;
	if (!s || !*s || *s == '-')
		die("%s: expected a size", opt);
	unsigned long long v = strtoull(s, &e, 10);
	int sh = 0;
	if (*e == 'K' || *e == 'k')
		sh = 10;
	else if (*e == 'M' || *e == 'm')
		sh = 20;
	else if (*e == 'G' || *e == 'g')
		sh = 30;
	else if (*e == 'T' || *e == 't')
		sh = 40;
	if (sh)
		e++;
	if (errno || *e || e == s)
		die("%s: '%s' is not a size (N with an optional K, M, G or T suffix)", opt, s);
	if (v == 0 || v > (1ULL << 46) >> sh)
		die("%s: '%s' is out of range 1..64T", opt, s);
	return (uint64_t)v << sh;
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi)
{
	char *e;
	errno = 0;
	if (!s || !*s || *s == '-')
		die("%s: expected a number", opt);
	unsigned long long v = strtoull(s, &e, 0);
	if (errno || *e)
		die("%s: '%s' is not a number", opt, s);
	if (v < lo || v > hi)
		die("%s: %llu is out of range %" PRIu64 "..%" PRIu64, opt, v, lo, hi);
	return v;
}

static double parse_dbl(const char *opt, const char *s, double lo, double hi)
{
	char *e;
	errno = 0;
	if (!s || !*s)
		die("%s: expected a number", opt);
	double v = strtod(s, &e);
	if (errno || *e || !(v >= lo && v <= hi))
		die("%s: '%s' is not a number in %g..%g", opt, s, lo, hi);
	return v;
}

/* Built twice: as the tv-gen program, and (-DTVGEN_LIB) into tapvault for
 * `tapvault demo`, which runs it in a child process (it keeps global state
 * and exits on error). */
#ifdef TVGEN_LIB
int tvgen_main(int argc, char **argv);
int tvgen_main(int argc, char **argv)
#else
int main(int argc, char **argv)
#endif
{
	C.seed = 1;
	C.nvnis = 4;
	C.flows = 60;
	C.duration = 900;
	C.start = 1764000000ULL;
	C.ipv6 = 1;
	C.interleave = 1;
	C.linklocal = 1;
	C.trunc_len = 128;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV() do { if (!val) die("%s needs a value", a); i++; } while (0)
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--outer")) { NEEDV(); C.outer = val; }
		else if (!strcmp(a, "--inner")) { NEEDV(); C.inner = val; }
		else if (!strcmp(a, "--truth")) { NEEDV(); C.truth = val; }
		else if (!strcmp(a, "--summary")) C.summary = 1;
		else if (!strcmp(a, "--seed")) { NEEDV(); C.seed = parse_u64(a, val, 0, UINT64_MAX); }
		else if (!strcmp(a, "--vnis")) { NEEDV(); C.nvnis = (int)parse_u64(a, val, 1, 4096); C.set_vnis = 1; }
		else if (!strcmp(a, "--flows")) { NEEDV(); C.flows = (int)parse_u64(a, val, 0, 10000000); C.set_flows = 1; }
		else if (!strcmp(a, "--duration")) { NEEDV(); C.duration = parse_dbl(a, val, 10, 30 * 86400); C.set_duration = 1; }
		else if (!strcmp(a, "--profile")) {
			NEEDV();
			if (!strcmp(val, "default"))
				C.profile = PROFILE_DEFAULT;
			else if (!strcmp(val, "enterprise"))
				C.profile = PROFILE_ENTERPRISE;
			else
				die("--profile: '%s' is not a profile (default, enterprise)", val);
		}
		else if (!strcmp(a, "--bytes")) { NEEDV(); C.bytes = parse_size(a, val); }
		else if (!strcmp(a, "--relabel")) { NEEDV(); C.relabel = (uint32_t)parse_u64(a, val, 0, 15); }
		else if (!strcmp(a, "--hosts")) { NEEDV(); C.hosts_out = val; }
		else if (!strcmp(a, "--start")) { NEEDV(); C.start = parse_u64(a, val, 0, 4000000000ULL); }
		else if (!strcmp(a, "--target-bytes")) { NEEDV(); C.target_bytes = parse_u64(a, val, 1, UINT64_MAX / 2); }
		else if (!strcmp(a, "--many-flows")) { NEEDV(); C.many_flows = parse_u64(a, val, 0, 50000000); }
		else if (!strcmp(a, "--geneve-share")) { NEEDV(); C.geneve_share = parse_dbl(a, val, 0, 1); }
		else if (!strcmp(a, "--geneve-vxlan")) C.geneve_vxlan = 1;
		else if (!strcmp(a, "--no-ipv6")) C.ipv6 = 0;
		else if (!strcmp(a, "--no-linklocal")) C.linklocal = 0;
		else if (!strcmp(a, "--interleave")) C.interleave = 1;
		else if (!strcmp(a, "--no-interleave")) C.interleave = 0;
		else if (!strcmp(a, "--flowlog")) { NEEDV(); C.flowlog = val; }
		else if (!strcmp(a, "--audit-truth")) { NEEDV(); C.audit_truth = val; }
		else if (!strcmp(a, "--vni-map")) { NEEDV(); C.vnimap_out = val; }
		else if (!strcmp(a, "--mirror-filters")) { NEEDV(); C.filters_out = val; }
		else if (!strcmp(a, "--mirror-sessions")) { NEEDV(); C.sessions_out = val; }
		else if (!strcmp(a, "--packet-length")) { NEEDV(); C.trunc_len = (uint32_t)parse_u64(a, val, 0, 8500); C.set_trunc = 1; }
		else if (!strcmp(a, "--inner-vlan")) {
			NEEDV();
			if (C.n_vlan >= 64)
				die("--inner-vlan: at most 64");
			C.vlan_vni[C.n_vlan++] = (uint32_t)parse_u64(a, val, 0, 0xffffff);
		} else {
			usage(stderr);
			die("unknown option '%s'", a);
		}
#undef NEEDV
	}
	if (C.trunc_len && C.trunc_len < 14)
		die("--packet-length: must be 0 or >= 14");
	if (C.profile == PROFILE_ENTERPRISE) {
		/* the scripted scenario's options have no meaning here */
		if (C.target_bytes)
			die("--target-bytes: not with --profile enterprise (--bytes sets its size)");
		if (C.many_flows)
			die("--many-flows: not with --profile enterprise");
		if (!C.interleave)
			die("--no-interleave: not with --profile enterprise");
		if (C.flowlog || C.audit_truth)
			die("--flowlog and --audit-truth: the injected disagreements belong to the default profile");
		if (!C.bytes)
			C.bytes = 256ULL << 20;
		if (!C.set_vnis)
			C.nvnis = 6;
		if (!C.set_trunc)
			C.trunc_len = 0;
		if (!C.set_duration)
			C.duration = E_UNIT_SECONDS * (double)C.bytes / E_UNIT_BYTES;
	} else if (C.bytes || C.relabel || C.hosts_out) {
		die("--bytes, --relabel and --hosts: only with --profile enterprise");
	}

	rnd_seed(C.seed);
	g_t0 = C.start * NS;
	g_dur_ns = (uint64_t)(C.duration * (double)NS);
	PB = xrealloc(NULL, HEADROOM + 70000);
	DG = xrealloc(NULL, 70000);
	pout_open(&O_outer, C.outer);
	pout_open(&O_inner, C.inner);

	world_init();
	if (C.profile == PROFILE_ENTERPRISE)
		e_init();
	else
		scenario_init();

	while (Hn) {
		conv *c = hpop();
		if (c->is_spawner) {
			spawner_tick(c);
			continue;
		}
		emit(c, &c->st[c->cur]);
		c->cur++;
		if (c->cur < c->nst) {
			c->t_next = c->st[c->cur].t;
			hpush(c);
		} else {
			conv_release(c);
		}
	}

	pout_close(&O_outer);
	pout_close(&O_inner);
	if (C.truth)
		truth_write(C.truth);
	if (C.hosts_out)
		e_hosts_write(C.hosts_out);
	if (C.flowlog || C.audit_truth)
		flowlog_write();
	mirrorcfg_write();
	if (C.summary) {
		printf("packets=%" PRIu64 "\nflows=%zu\nvnis=%d\nouter_bytes=%" PRIu64 "\ninner_bytes=%" PRIu64
		       "\nfirst_ns=%" PRIu64 "\nlast_ns=%" PRIu64 "\n",
		       g_packets, FEn, C.nvnis, O_outer.bytes, O_inner.bytes, g_t0, g_last_ts);
		if (C.profile == PROFILE_ENTERPRISE) {
			char b[64], cl[64], sv[64];
			fmt_addr(b, sizeof b, E.beacon.a4, 0);
			fmt_addr(cl, sizeof cl, E.client.a4, 0);
			fmt_addr(sv, sizeof sv, E.server.a4, 0);
			printf("profile=enterprise\nbackground_flows=%" PRIu64 "\nduration_s=%.3f\nbeacon_host=%s\n"
			       "client_host=%s\nserver_host=%s\n", E.nflows, C.duration, b, cl, sv);
		}
	}
	while (g_free) {
		conv *c = g_free;
		g_free = c->next_free;
		free(c->st);
		free(c->ms);
		free(c->ar);
		free(c);
	}
	e_free();
	free(H); free(FE); free(FH); free(V); free(PB); free(DG); free(WE); free(WH);
	if (fflush(stdout) != 0)
		return 1;
	return 0;
}
