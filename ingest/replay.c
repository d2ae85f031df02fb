/*
 * replay.c — the sending side of `tapvault replay`: the tunnel payloads of
 * captures as paced UDP datagrams, a stand-in for a traffic mirror in tests.
 */
#include "ingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A replay in progress: its options, sockets and destination. */
struct replay {
	const ingest_replay_opts *o;
	ingest_replay_result *res;
	int fds[INGEST_REPLAY_MAX_SOCKETS];
	struct sockaddr_storage dst;
	socklen_t dlen;
	uint64_t t0;
};

static void sleep_ns(uint64_t ns)
{
	struct timespec t = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	nanosleep(&t, NULL);
}

static bool stopped(const ingest_replay_opts *o)
{
	return o->stop && *o->stop;
}

static void set_dst(struct replay *r)
{
	const ingest_replay_opts *o = r->o;
	memset(&r->dst, 0, sizeof r->dst);
	if (o->v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&r->dst;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(o->port);
		memcpy(&s6->sin6_addr, o->addr.b, 16);
		r->dlen = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&r->dst;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(o->port);
		memcpy(&s4->sin_addr, o->addr.b + 12, 4);
		r->dlen = sizeof *s4;
	}
}

/* One datagram; a full local queue is waited out.  The byte count sent or
 * -1 with errno. */
static ssize_t send_one(struct replay *r, const uint8_t *pl, uint32_t len, uint16_t sport)
{
	ssize_t w;
	int tries;
	for (tries = 0;; tries++) {
		w = sendto(r->fds[sport % (unsigned)r->o->nsock], pl, len, 0, (struct sockaddr *)&r->dst,
		           r->dlen);
		if (w >= 0 || (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) || tries > 1000)
			return w;
		sleep_ns(100000); /* the local queue is full: wait, do not drop */
	}
}

/* One pass over the captures: paced sends until their end, a stop, the
 * count or the time limit.  INGEST_REPLAY_OK or the status of a failure. */
static int send_pass(struct replay *r, ingest_file_src *src)
{
	const ingest_replay_opts *o = r->o;
	ingest_replay_result *res = r->res;

	for (;;) {
		ingest_raw raw;
		const uint8_t *pl;
		uint32_t len;
		uint16_t sport;
		uint64_t now;
		ssize_t w;
		int rc;
		if (stopped(o) || res->sent >= o->max_count)
			return INGEST_REPLAY_OK;
		rc = ingest_file_src_next(src, &raw, res->err, sizeof res->err);
		if (rc == 0)
			return INGEST_REPLAY_OK;
		if (rc < 0)
			return INGEST_REPLAY_EREAD;
		if (!ingest_tunnel_payload(o->dcfg, raw.linktype, raw.data, raw.caplen, &pl, &len, &sport)) {
			res->skipped++;
			continue;
		}
		now = tv_clock_mono_ns();
		if (now - r->t0 >= o->max_secs * 1000000000u) {
			res->timed_out = true;
			return INGEST_REPLAY_OK;
		}
		if (o->pps) {
			/* datagram number `sent` is due at t0 + sent / pps */
			uint64_t due = r->t0 + (uint64_t)((double)res->sent * 1e9 / (double)o->pps);
			if (due > now + 50000)
				sleep_ns(due - now);
		}
		w = send_one(r, pl, len, sport);
		if (w < 0) {
			int e = errno;
			if (res->send_err++ == 0)
				res->send_errno = e;
			if (e != ECONNREFUSED && e != ENOBUFS)
				return INGEST_REPLAY_ESEND;
			continue;
		}
		res->sent++;
		res->bytes += (uint64_t)w;
	}
}

static int open_sockets(struct replay *r)
{
	int i;
	for (i = 0; i < r->o->nsock; i++) {
		int sb = 4 << 20;
		r->fds[i] = socket(r->dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (r->fds[i] < 0) {
			snprintf(r->res->err, sizeof r->res->err, "socket: %s", strerror(errno));
			return INGEST_REPLAY_ESOCKET;
		}
		(void)setsockopt(r->fds[i], SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
	}
	return INGEST_REPLAY_OK;
}

int ingest_replay_run(const ingest_replay_opts *o, ingest_replay_result *res)
{
	struct replay r;
	uint64_t loop;
	int i, ret;

	memset(res, 0, sizeof *res);
	memset(&r, 0, sizeof r);
	r.o = o;
	r.res = res;
	for (i = 0; i < INGEST_REPLAY_MAX_SOCKETS; i++)
		r.fds[i] = -1;
	set_dst(&r);
	if ((ret = open_sockets(&r)) != INGEST_REPLAY_OK)
		goto out;
	r.t0 = tv_clock_mono_ns();
	for (loop = 0; loop < o->loops && !stopped(o) && !res->timed_out && res->sent < o->max_count;
	     loop++) {
		ingest_file_src *src = NULL;
		if (ingest_file_src_open(o->files, o->nfiles, &src, res->err, sizeof res->err) != 0) {
			ret = INGEST_REPLAY_EOPEN;
			break;
		}
		ret = send_pass(&r, src);
		ingest_file_src_close(src);
		if (ret != INGEST_REPLAY_OK)
			break;
	}
	res->elapsed_ns = tv_clock_mono_ns() - r.t0;
out:
	for (i = 0; i < INGEST_REPLAY_MAX_SOCKETS; i++)
		if (r.fds[i] >= 0)
			close(r.fds[i]);
	res->status = ret;
	return ret;
}
