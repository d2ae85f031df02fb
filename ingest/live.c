/*
 * live.c — live sources: the mirror as UDP datagrams (recvmmsg, one
 * SO_REUSEPORT socket per worker), and an interface through libpcap.
 *
 * A UDP socket hands us the datagram payload only: the VXLAN or GENEVE
 * header and what follows.  So that decapsulation has one code path, each
 * datagram is received INGEST_LIVE_HEADROOM bytes into its buffer and a
 * synthetic outer frame is written in front of it:
 *
 *   Ethernet (14)   dst 00:00:00:00:00:00  src 00:00:00:00:00:00  type 0800|86dd
 *   IPv4 (20)       ver 4, ihl 5, total = 28 + payload, ttl 64, proto 17,
 *                   src = sender, dst = local address (0 when bound to any)
 *    or IPv6 (40)   payload length = 8 + payload, next header 17, hop limit 64
 *   UDP (8)         sport = sender's port, dport = listening port,
 *                   length = 8 + payload, checksum 0
 *
 * The IPv4 checksum is left 0: decap does not check outer checksums (a
 * mirror copy cut by the session's packet length or the target's MTU
 * carries checksums that were not recomputed, so none are checked).
 */
#include "ingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif
#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif
#ifndef SK_MEMINFO_DROPS
#define SK_MEMINFO_DROPS 8
#endif

/* ------------------------------------------------------------ allowlist */

static bool addr_in_net(const tv_addr *a, const tv_addr *net, unsigned plen)
{
	unsigned full = plen / 8, rem = plen % 8;
	if (memcmp(a->b, net->b, full) != 0)
		return false;
	if (rem) {
		uint8_t m = (uint8_t)(0xFF << (8 - rem));
		if ((a->b[full] & m) != (net->b[full] & m))
			return false;
	}
	return true;
}

int ingest_allow_parse(ingest_allow *a, const char *list, const char **bad)
{
	char buf[1024], *tok, *save = NULL;
	if (bad)
		*bad = NULL;
	if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf)
		return TV_E_RANGE;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(tok, '/');
		tv_addr ad;
		unsigned long plen;
		bool v4;
		int i;
		while (*tok == ' ')
			tok++;
		if (slash)
			*slash = '\0';
		if (tv_addr_parse(tok, &ad) != 0)
			goto syntax;
		v4 = tv_addr_is_v4(&ad) && !strchr(tok, ':');
		if (slash) {
			char *end;
			errno = 0;
			plen = strtoul(slash + 1, &end, 10);
			if (errno || *end || end == slash + 1 || plen > (v4 ? 32u : 128u))
				goto syntax;
		} else {
			plen = v4 ? 32 : 128;
		}
		if (v4)
			plen += 96;
		if (a->n >= INGEST_ALLOW_MAX)
			return TV_E_RANGE;
		/* keep the network address only */
		for (i = (int)plen; i < 128; i++)
			ad.b[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
		a->net[a->n] = ad;
		a->plen[a->n] = (uint8_t)plen;
		a->n++;
	}
	return 0;
syntax:
	if (bad)
		*bad = list + (tok - buf);
	return TV_E_SYNTAX;
}

bool ingest_allow_match(const ingest_allow *a, const tv_addr *addr)
{
	int i;
	if (!a || a->n == 0)
		return true;
	for (i = 0; i < a->n; i++)
		if (addr_in_net(addr, &a->net[i], a->plen[i]))
			return true;
	return false;
}

int ingest_listen_parse(const char *s, uint16_t def_port, tv_addr *addr, bool *v6, uint16_t *port)
{
	char host[128];
	const char *ps = NULL;
	unsigned long p;
	char *end;
	size_t n;

	memset(addr, 0, sizeof *addr);
	addr->b[10] = addr->b[11] = 0xFF; /* 0.0.0.0 as mapped */
	*v6 = false;
	*port = def_port;
	host[0] = '\0';
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || (size_t)(rb - s - 1) >= sizeof host)
			return TV_E_SYNTAX;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		if (rb[1] == ':')
			ps = rb + 2;
		else if (rb[1] != '\0')
			return TV_E_SYNTAX;
	} else if (strchr(s, ':') && strchr(s, ':') == strrchr(s, ':')) {
		const char *c = strchr(s, ':');
		n = (size_t)(c - s);
		if (n >= sizeof host)
			return TV_E_SYNTAX;
		memcpy(host, s, n);
		host[n] = '\0';
		ps = c + 1;
	} else if (strchr(s, ':') || strchr(s, '.')) {
		if (strlen(s) >= sizeof host)
			return TV_E_SYNTAX;
		snprintf(host, sizeof host, "%s", s); /* an address alone */
	} else {
		ps = s; /* a port alone */
	}
	if (ps) {
		errno = 0;
		p = strtoul(ps, &end, 10);
		if (errno || *end || end == ps || p < 1 || p > 65535)
			return TV_E_SYNTAX;
		*port = (uint16_t)p;
	}
	if (host[0]) {
		if (tv_addr_parse(host, addr) != 0)
			return TV_E_SYNTAX;
		*v6 = strchr(host, ':') != NULL;
	}
	return 0;
}

/* ------------------------------------------------------------ UDP source */

struct ingest_udp {
	ingest_udp_cfg cfg;
	int fd;
	int rcvbuf;
	bool have_ovfl;
	uint32_t last_ovfl;
	uint8_t *bufs;          /* batch * (HEADROOM + DGRAM_MAX) */
	struct mmsghdr *msgs;
	struct iovec *iov;
	struct sockaddr_storage *from;
	uint8_t *ctl;           /* batch * CTL_LEN */
};

#define SLOT_LEN (INGEST_LIVE_HEADROOM + INGEST_LIVE_DGRAM_MAX)
#define CTL_LEN 128

void ingest_udp_cfg_default(ingest_udp_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->addr.b[10] = cfg->addr.b[11] = 0xFF;
	cfg->port = 4789;
	cfg->rcvbuf = 64 << 20;
	cfg->batch = 64;
	cfg->timeout_ms = 100;
}

int ingest_udp_open(const ingest_udp_cfg *cfg, ingest_udp **out, char *errbuf, size_t cap)
{
	ingest_udp *u;
	struct sockaddr_storage ss;
	socklen_t sl;
	struct timeval tv;
	char as[TV_ADDR_STRLEN];
	int one = 1, rc;
	const char *what = "socket";
	socklen_t ol;

	*out = NULL;
	u = calloc(1, sizeof *u);
	if (!u)
		return TV_E_NOMEM;
	u->cfg = *cfg;
	if (u->cfg.batch < 1)
		u->cfg.batch = 1;
	if (u->cfg.batch > INGEST_LIVE_BATCH_MAX)
		u->cfg.batch = INGEST_LIVE_BATCH_MAX;
	u->fd = -1;
	tv_addr_format(&cfg->addr, as, sizeof as);
	u->bufs = malloc((size_t)u->cfg.batch * SLOT_LEN);
	u->msgs = calloc((size_t)u->cfg.batch, sizeof *u->msgs);
	u->iov = calloc((size_t)u->cfg.batch, sizeof *u->iov);
	u->from = calloc((size_t)u->cfg.batch, sizeof *u->from);
	u->ctl = calloc((size_t)u->cfg.batch, CTL_LEN);
	if (!u->bufs || !u->msgs || !u->iov || !u->from || !u->ctl) {
		ingest_udp_close(u);
		return TV_E_NOMEM;
	}
	memset(&ss, 0, sizeof ss);
	if (cfg->v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(cfg->port);
		memcpy(&s6->sin6_addr, cfg->addr.b, 16);
		if (tv_addr_is_v4(&cfg->addr))
			memset(&s6->sin6_addr, 0, 16); /* "::" given as v6 */
		sl = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(cfg->port);
		memcpy(&s4->sin_addr, cfg->addr.b + 12, 4);
		sl = sizeof *s4;
	}
	u->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u->fd < 0)
		goto sys_fail;
	what = "SO_REUSEPORT";
	if (setsockopt(u->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
		goto sys_fail;
	what = "SO_TIMESTAMPNS";
	if (setsockopt(u->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0)
		goto sys_fail;
	/* SO_RXQ_OVFL is best effort: without it drops are read from nothing. */
	u->have_ovfl = setsockopt(u->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) == 0;
	/* As root, SO_RCVBUFFORCE passes net.core.rmem_max; else the kernel
	 * caps SO_RCVBUF there.  What was granted is read back and reported. */
	if (cfg->rcvbuf > 0 &&
	    setsockopt(u->fd, SOL_SOCKET, SO_RCVBUFFORCE, &cfg->rcvbuf, sizeof cfg->rcvbuf) != 0)
		(void)setsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &cfg->rcvbuf, sizeof cfg->rcvbuf);
	ol = sizeof u->rcvbuf;
	if (getsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &u->rcvbuf, &ol) != 0)
		u->rcvbuf = 0;
	tv.tv_sec = cfg->timeout_ms / 1000;
	tv.tv_usec = (cfg->timeout_ms % 1000) * 1000;
	what = "SO_RCVTIMEO";
	if (setsockopt(u->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
		goto sys_fail;
	what = "bind";
	if (bind(u->fd, (struct sockaddr *)&ss, sl) != 0)
		goto sys_fail;
	*out = u;
	return 0;
sys_fail:
	rc = errno;
	snprintf(errbuf, cap, "%s%s%s port %u: %s: %s", cfg->v6 ? "[" : "", cfg->v6 ? "::" : as,
	         cfg->v6 ? "]" : "", cfg->port, what, strerror(rc));
	ingest_udp_close(u);
	return rc;
}

void ingest_udp_close(ingest_udp *u)
{
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	free(u->bufs);
	free(u->msgs);
	free(u->iov);
	free(u->from);
	free(u->ctl);
	free(u);
}

int ingest_udp_rcvbuf(const ingest_udp *u)
{
	return u->rcvbuf;
}

/* Writes the synthetic outer frame that ends just before `payload` and
 * returns its start.  See the diagram at the top of this file. */
static uint8_t *synth_outer(uint8_t *payload, uint32_t len, const struct sockaddr_storage *from,
                            const tv_addr *local, uint16_t lport, tv_addr *sender)
{
	uint8_t *udp = payload - 8, *ip, *eth;
	uint16_t sport;
	if (from->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)from;
		ip = udp - 40;
		memset(ip, 0, 40);
		ip[0] = 0x60;
		tv_put_be16(ip + 4, (uint16_t)(8 + len));
		ip[6] = 17;
		ip[7] = 64;
		memcpy(ip + 8, &s6->sin6_addr, 16);
		if (!tv_addr_is_v4(local))
			memcpy(ip + 24, local->b, 16);
		sport = ntohs(s6->sin6_port);
		tv_addr_from_v6(sender, (const uint8_t *)&s6->sin6_addr);
		eth = ip - 14;
		tv_put_be16(eth + 12, 0x86DD);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)from;
		ip = udp - 20;
		memset(ip, 0, 20);
		ip[0] = 0x45;
		tv_put_be16(ip + 2, (uint16_t)(28 + len));
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = 17;
		memcpy(ip + 12, &s4->sin_addr, 4);
		if (tv_addr_is_v4(local))
			memcpy(ip + 16, local->b + 12, 4);
		sport = ntohs(s4->sin_port);
		tv_addr_from_v4(sender, (const uint8_t *)&s4->sin_addr);
		eth = ip - 14;
		tv_put_be16(eth + 12, 0x0800);
	}
	memset(eth, 0, 12);
	tv_put_be16(udp, sport);
	tv_put_be16(udp + 2, lport);
	tv_put_be16(udp + 4, (uint16_t)(8 + len));
	tv_put_be16(udp + 6, 0);
	return eth;
}

/*
 * The socket's drop count (sk_drops) is cumulative.  SO_RXQ_OVFL hands it
 * over with each datagram as it stood when that datagram was queued, so
 * drops after the last datagram of a burst would never be seen;
 * ingest_udp_sync_drops reads the current value.  Both feed this: only a
 * forward move counts (a queued datagram carries an older value than one
 * read since), in u32 arithmetic for the wrap.
 */
static void drops_seen(ingest_udp *u, uint32_t drops, tv_counters *ctr)
{
	uint32_t d = drops - u->last_ovfl;
	if (d == 0 || d > UINT32_MAX / 2)
		return;
	ctr->v[TV_CTR_LIVE_KERNEL_DROPS] += d;
	u->last_ovfl = drops;
}

int ingest_udp_sync_drops(ingest_udp *u, tv_counters *ctr)
{
	/* SO_MEMINFO (Linux 3.17): the socket's memory counters; the drop
	 * count is SK_MEMINFO_DROPS (linux/sock_diag.h, index 8) */
	uint32_t mem[16];
	socklen_t len = sizeof mem;
	memset(mem, 0, sizeof mem);
	if (getsockopt(u->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0)
		return errno;
	if (len < (SK_MEMINFO_DROPS + 1) * sizeof mem[0])
		return TV_E_UNSUPPORTED;
	drops_seen(u, mem[SK_MEMINFO_DROPS], ctr);
	return 0;
}

int ingest_udp_recv(ingest_udp *u, ingest_raw *raws, int max, bool nowait, tv_counters *ctr,
                    int *nraw, int *got)
{
	uint64_t batch_ts;
	int i, n, k = 0;

	*got = 0;
	*nraw = 0;
	if (max > u->cfg.batch)
		max = u->cfg.batch;
	if (max < 1)
		return 0;
	for (i = 0; i < max; i++) {
		u->iov[i].iov_base = u->bufs + (size_t)i * SLOT_LEN + INGEST_LIVE_HEADROOM;
		u->iov[i].iov_len = INGEST_LIVE_DGRAM_MAX;
		memset(&u->msgs[i].msg_hdr, 0, sizeof u->msgs[i].msg_hdr);
		u->msgs[i].msg_hdr.msg_name = &u->from[i];
		u->msgs[i].msg_hdr.msg_namelen = sizeof u->from[i];
		u->msgs[i].msg_hdr.msg_iov = &u->iov[i];
		u->msgs[i].msg_hdr.msg_iovlen = 1;
		u->msgs[i].msg_hdr.msg_control = u->ctl + (size_t)i * CTL_LEN;
		u->msgs[i].msg_hdr.msg_controllen = CTL_LEN;
	}
	n = recvmmsg(u->fd, u->msgs, (unsigned)max, nowait ? MSG_DONTWAIT : MSG_WAITFORONE, NULL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		ctr->v[TV_CTR_LIVE_RECV_ERRORS]++;
		return errno;
	}
	batch_ts = tv_clock_real_ns();
	*got = n;
	for (i = 0; i < n; i++) {
		struct msghdr *mh = &u->msgs[i].msg_hdr;
		struct cmsghdr *cm;
		uint8_t *payload = u->bufs + (size_t)i * SLOT_LEN + INGEST_LIVE_HEADROOM;
		uint32_t len = u->msgs[i].msg_len;
		uint64_t ts = batch_ts;
		tv_addr sender;
		uint8_t *frame;

		for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET)
				continue;
			if (cm->cmsg_type == SCM_TIMESTAMPNS &&
			    cm->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
				struct timespec t;
				memcpy(&t, CMSG_DATA(cm), sizeof t);
				ts = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
			} else if (cm->cmsg_type == SO_RXQ_OVFL && cm->cmsg_len >= CMSG_LEN(4)) {
				uint32_t ov;
				memcpy(&ov, CMSG_DATA(cm), 4);
				drops_seen(u, ov, ctr);
			}
		}
		ctr->v[TV_CTR_LIVE_RECEIVED]++;
		ctr->v[TV_CTR_LIVE_RECEIVED_BYTES] += len;
		if (mh->msg_flags & MSG_TRUNC) {
			ctr->v[TV_CTR_LIVE_REJ_TRUNC]++;
			continue;
		}
		frame = synth_outer(payload, len, &u->from[i], &u->cfg.addr, u->cfg.port, &sender);
		if (!ingest_allow_match(u->cfg.allow, &sender)) {
			ctr->v[TV_CTR_LIVE_REJ_SENDER]++;
			continue;
		}
		raws[k].ts_ns = ts;
		raws[k].data = frame;
		raws[k].caplen = (uint32_t)(payload + len - frame);
		raws[k].origlen = raws[k].caplen;
		raws[k].linktype = INGEST_LINK_ETHERNET;
		raws[k].ordinal = 0;
		raws[k].file_idx = 0;
		k++;
	}
	*nraw = k;
	return 0;
}

/* ------------------------------------------------------- interface (pcap) */

struct ingest_iface {
	pcap_t *p;
	int fd;
	int linktype;
	uint64_t last_drops;
	ingest_raw_cb cb;
	void *ctx;
	tv_counters *ctr;
};

void ingest_iface_cfg_default(ingest_iface_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->buffer_size = 64 << 20;
	cfg->snaplen = 262144;
}

int ingest_iface_open(const char *name, const ingest_iface_cfg *cfg, ingest_iface **out,
                      char *errbuf, size_t cap)
{
	char perr[PCAP_ERRBUF_SIZE];
	char filter[512];
	struct bpf_program prog;
	ingest_iface *i;
	int rc, k;
	size_t n;

	*out = NULL;
	i = calloc(1, sizeof *i);
	if (!i)
		return TV_E_NOMEM;
	i->p = pcap_create(name, perr);
	if (!i->p) {
		snprintf(errbuf, cap, "%s: %s", name, perr);
		free(i);
		return TV_E_PCAP;
	}
	pcap_set_snaplen(i->p, cfg->snaplen);
	pcap_set_promisc(i->p, 0);
	pcap_set_immediate_mode(i->p, 1);
	pcap_set_buffer_size(i->p, cfg->buffer_size);
	pcap_set_tstamp_precision(i->p, PCAP_TSTAMP_PRECISION_NANO);
	rc = pcap_activate(i->p);
	if (rc < 0) {
		snprintf(errbuf, cap, "%s: %s", name, pcap_geterr(i->p));
		goto fail;
	}
	i->linktype = pcap_datalink(i->p);
	if (!cfg->all) {
		/* Inbound tunnel datagrams, and the UDP fragments the port test
		 * cannot see (later IPv4 fragments, IPv6 with a Fragment header):
		 * the decapsulator reassembles tunnel datagrams and, with
		 * tunnel_only, drops the fragments that are not (cmd/ingest.c). */
		size_t start;
		n = (size_t)snprintf(filter, sizeof filter, "(udp and (");
		start = n;
		for (k = 0; cfg->ports && k < cfg->ports->n_vxlan_ports && n < sizeof filter; k++)
			n += (size_t)snprintf(filter + n, sizeof filter - n, "%sdst port %u",
			                      n > start ? " or " : "", cfg->ports->vxlan_ports[k]);
		for (k = 0; cfg->ports && k < cfg->ports->n_geneve_ports && n < sizeof filter; k++)
			n += (size_t)snprintf(filter + n, sizeof filter - n, "%sdst port %u",
			                      n > start ? " or " : "", cfg->ports->geneve_ports[k]);
		if (n < sizeof filter)
			snprintf(filter + n, sizeof filter - n,
			         ")) or (ip[9] = 17 and ip[6:2] & 0x1fff != 0)"
			         " or (ip6[6] = 44 and ip6[40] = 17)");
		if (pcap_compile(i->p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
		    pcap_setfilter(i->p, &prog) != 0) {
			snprintf(errbuf, cap, "%s: capture filter '%s': %s", name, filter, pcap_geterr(i->p));
			goto fail;
		}
		pcap_freecode(&prog);
	}
	if (pcap_setnonblock(i->p, 1, perr) != 0) {
		snprintf(errbuf, cap, "%s: %s", name, perr);
		goto fail;
	}
	i->fd = pcap_get_selectable_fd(i->p);
	*out = i;
	return 0;
fail:
	pcap_close(i->p);
	free(i);
	return TV_E_PCAP;
}

void ingest_iface_close(ingest_iface *i)
{
	if (!i)
		return;
	pcap_close(i->p);
	free(i);
}

static void iface_pkt(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	ingest_iface *i = (ingest_iface *)user;
	ingest_raw raw;
	/* nanosecond precision was asked for: tv_usec holds nanoseconds */
	raw.ts_ns = ingest_pcap_ts_ns(h->ts.tv_sec, h->ts.tv_usec);
	raw.data = bytes;
	raw.caplen = h->caplen;
	raw.origlen = h->len;
	raw.linktype = i->linktype;
	raw.ordinal = 0;
	raw.file_idx = 0;
	i->ctr->v[TV_CTR_LIVE_RECEIVED]++;
	i->ctr->v[TV_CTR_LIVE_RECEIVED_BYTES] += h->caplen;
	i->cb(i->ctx, &raw);
}

int ingest_iface_dispatch(ingest_iface *i, int max, int timeout_ms, ingest_raw_cb cb, void *ctx,
                          tv_counters *ctr, char *errbuf, size_t cap)
{
	struct pcap_stat ps;
	int n;
	if (i->fd >= 0) {
		struct pollfd pfd = { i->fd, POLLIN, 0 };
		(void)poll(&pfd, 1, timeout_ms); /* a timeout just dispatches nothing */
	}
	i->cb = cb;
	i->ctx = ctx;
	i->ctr = ctr;
	n = pcap_dispatch(i->p, max, iface_pkt, (u_char *)i);
	if (n < 0) {
		snprintf(errbuf, cap, "%s", pcap_geterr(i->p));
		return TV_E_PCAP;
	}
	if (pcap_stats(i->p, &ps) == 0) {
		uint64_t d = (uint64_t)ps.ps_drop + ps.ps_ifdrop;
		if (d > i->last_drops)
			ctr->v[TV_CTR_LIVE_KERNEL_DROPS] += d - i->last_drops;
		i->last_drops = d;
	}
	return n;
}

uint64_t ingest_pcap_ts_ns(long long sec, long long frac_ns)
{
	/* The seconds of a capture are unsigned 32-bit (pcap files, the
	 * kernel's TPACKET headers); libpcap can pass them through a signed
	 * 32-bit field, so from 2038-01-19T03:14:08Z on they come out
	 * negative.  Read them back as the unsigned value they were. */
	uint64_t s = sec < 0 ? (uint64_t)(uint32_t)sec : (uint64_t)sec;
	return s * 1000000000u + (frac_ns > 0 ? (uint64_t)frac_ns : 0);
}
