/*
 * replay.c — `tapvault replay FILE --to HOST:PORT`: sends the tunnel
 * payloads of a capture (the UDP payload of each VXLAN/GENEVE packet, from
 * the tunnel header on) as UDP datagrams, paced, bounded in count and time.
 *
 * It stands in for the mirror in tests and checks.  AWS varies the outer
 * source port by inner flow; to keep that property (SO_REUSEPORT listeners
 * hash senders by address and port) the datagrams go out through --sockets
 * sockets, chosen by the captured outer source port, so one inner flow
 * always leaves from one socket.  Only loopback destinations are accepted
 * unless --allow-remote is given.
 */
#include "cmd.h"
#include "../ingest/ingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REPLAY_MAX_SOCKETS 64

static volatile sig_atomic_t replay_stop;

static void on_replay_stop(int sig)
{
	(void)sig;
	replay_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault replay FILE [FILE ...] --to HOST:PORT [--pps N] [--loop N]\n"
	        "                       [--max-seconds S] [--count N] [--sockets N] [--allow-remote]\n"
	        "\n"
	        "Sends the tunnel payload of every VXLAN or GENEVE packet in the captures (the\n"
	        "UDP payload, from the VXLAN/GENEVE header on) as one UDP datagram to HOST:PORT,\n"
	        "at a paced rate: a stand-in for a traffic mirror, for tests and checks of\n"
	        "'tapvault ingest -l'.  Other frames and IP fragments are skipped (counted).\n"
	        "Only loopback destinations (127.0.0.0/8, ::1) unless --allow-remote.\n"
	        "\n"
	        "options:\n"
	        "      --to HOST:PORT      destination (IPv6 as [::1]:4789)\n"
	        "      --pps N             datagrams per second; 0 = as fast as possible\n"
	        "                          (default 10000)\n"
	        "      --loop N            send the captures N times (default 1)\n"
	        "      --max-seconds S     stop after S seconds (default 60)\n"
	        "      --count N           stop after N datagrams\n"
	        "      --sockets N         source sockets, chosen by the captured outer UDP source\n"
	        "                          port (default 8)\n"
	        "      --vxlan-port LIST   tunnel ports to pick from the capture (default 4789)\n"
	        "      --geneve-port LIST  (default 6081)\n"
	        "      --allow-remote      allow a destination outside loopback\n"
	        "  -q, --quiet             no summary\n"
	        "  -h, --help              this help\n"
	        "\n"
	        "Prints 'sent N packets, B bytes in S s (R pps)'; exit 0 when everything was\n"
	        "sent, 3 when sending failed.\n");
}

static bool is_loopback(const tv_addr *a, bool v6)
{
	static const uint8_t lo6[16] = { [15] = 1 };
	if (!v6 || tv_addr_is_v4(a))
		return tv_addr_is_v4(a) && a->b[12] == 127;
	return memcmp(a->b, lo6, 16) == 0;
}

enum {
	OPT_TO = 1000,
	OPT_PPS,
	OPT_LOOP,
	OPT_MAX_SECONDS,
	OPT_COUNT,
	OPT_SOCKETS,
	OPT_VXLAN_PORT,
	OPT_GENEVE_PORT,
	OPT_ALLOW_REMOTE,
};

static void sleep_ns(uint64_t ns)
{
	struct timespec t = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	nanosleep(&t, NULL);
}

static const struct option longopts[] = {
	{ "to", required_argument, NULL, OPT_TO },
	{ "pps", required_argument, NULL, OPT_PPS },
	{ "loop", required_argument, NULL, OPT_LOOP },
	{ "max-seconds", required_argument, NULL, OPT_MAX_SECONDS },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "sockets", required_argument, NULL, OPT_SOCKETS },
	{ "vxlan-port", required_argument, NULL, OPT_VXLAN_PORT },
	{ "geneve-port", required_argument, NULL, OPT_GENEVE_PORT },
	{ "allow-remote", no_argument, NULL, OPT_ALLOW_REMOTE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The command line, the sockets and the counters of one replay. */
struct replay {
	const char *to;
	const char **files;
	int nfiles, nsock;
	uint64_t pps, loops, max_secs, max_count;
	bool allow_remote;
	ingest_decap_cfg dcfg;
	int fds[REPLAY_MAX_SOCKETS];
	struct sockaddr_storage dst;
	socklen_t dlen;
	uint64_t sent, bytes, skipped, send_err, t0;
	bool timed_out;
};


/* getopt: EXIT_OK, HELP_SHOWN or EXIT_USAGE (usage printed). */
static int parse_opts(int argc, char **argv, struct replay *r)
{
	uint64_t val;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TO: r->to = optarg; break;
		case OPT_PPS:
			if (cmd_parse_uint(optarg, 0, 100000000, &r->pps)) {
				cmd_err("replay", "--pps '%s': expected a number from 0 to 100000000", optarg);
				goto usage_fail;
			}
			break;
		case OPT_LOOP:
			if (cmd_parse_uint(optarg, 1, 1000000, &r->loops)) {
				cmd_err("replay", "--loop '%s': expected a number from 1 to 1000000", optarg);
				goto usage_fail;
			}
			break;
		case OPT_MAX_SECONDS:
			if (cmd_parse_uint(optarg, 1, 86400, &r->max_secs)) {
				cmd_err("replay", "--max-seconds '%s': expected 1 to 86400", optarg);
				goto usage_fail;
			}
			break;
		case OPT_COUNT:
			if (cmd_parse_uint(optarg, 1, UINT64_MAX, &r->max_count)) {
				cmd_err("replay", "--count '%s': expected a positive number", optarg);
				goto usage_fail;
			}
			break;
		case OPT_SOCKETS:
			if (cmd_parse_uint(optarg, 1, REPLAY_MAX_SOCKETS, &val)) {
				cmd_err("replay", "--sockets '%s': expected 1 to %d", optarg, REPLAY_MAX_SOCKETS);
				goto usage_fail;
			}
			r->nsock = (int)val;
			break;
		case OPT_VXLAN_PORT:
			if (cmd_parse_ports(optarg, r->dcfg.vxlan_ports, &r->dcfg.n_vxlan_ports, INGEST_MAX_PORTS)) {
				cmd_err("replay", "--vxlan-port '%s': expected ports 1-65535", optarg);
				goto usage_fail;
			}
			break;
		case OPT_GENEVE_PORT:
			if (cmd_parse_ports(optarg, r->dcfg.geneve_ports, &r->dcfg.n_geneve_ports, INGEST_MAX_PORTS)) {
				cmd_err("replay", "--geneve-port '%s': expected ports 1-65535", optarg);
				goto usage_fail;
			}
			break;
		case OPT_ALLOW_REMOTE: r->allow_remote = true; break;
		case 'q': g_cmd.quiet = 1; break;
		case 'h': usage(stdout); return HELP_SHOWN;
		default: goto usage_fail;
		}
	}
	while (optind < argc)
		r->files[r->nfiles++] = argv[optind++];
	if (r->nfiles == 0) {
		cmd_err("replay", "no capture given");
		goto usage_fail;
	}
	if (!r->to) {
		cmd_err("replay", "no destination given: use --to HOST:PORT");
		goto usage_fail;
	}
	return EXIT_OK;
usage_fail:
	usage(stderr);
	return EXIT_USAGE;
}

/* --to into r->dst: an address (loopback unless --allow-remote) and port. */
static int resolve_to(struct replay *r)
{
	tv_addr addr;
	uint16_t port;
	bool v6 = false;

	if (ingest_listen_parse(r->to, 4789, &addr, &v6, &port) != 0) {
		cmd_err("replay", "--to '%s': expected HOST:PORT with HOST an address", r->to);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!is_loopback(&addr, v6) && !r->allow_remote) {
		cmd_err("replay", "--to '%s': not a loopback address (127.0.0.0/8, ::1); "
		        "give --allow-remote to send elsewhere", r->to);
		return EXIT_USAGE;
	}
	memset(&r->dst, 0, sizeof r->dst);
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&r->dst;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, addr.b, 16);
		r->dlen = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&r->dst;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, addr.b + 12, 4);
		r->dlen = sizeof *s4;
	}
	return EXIT_OK;
}

/* One pass over the captures: paced sends until their end, a stop, the
 * count or the time limit.  EXIT_OK or the exit code of a failure. */
static int send_pass(struct replay *r, ingest_file_src *src, char *err, size_t cap)
{
	int ret = EXIT_OK, rc;

	for (;;) {
		ingest_raw raw;
		const uint8_t *pl;
		uint32_t len;
		uint16_t sport;
		uint64_t now;
		ssize_t w;
		int tries;
		if (replay_stop || r->sent >= r->max_count)
			break;
		rc = ingest_file_src_next(src, &raw, err, cap);
		if (rc == 0)
			break;
		if (rc < 0) {
			cmd_err("replay", "%s", err);
			ret = EXIT_USAGE;
			break;
		}
		if (!ingest_tunnel_payload(&r->dcfg, raw.linktype, raw.data, raw.caplen, &pl, &len, &sport)) {
			r->skipped++;
			continue;
		}
		now = tv_clock_mono_ns();
		if (now - r->t0 >= r->max_secs * 1000000000u) {
			r->timed_out = true;
			break;
		}
		if (r->pps) {
			/* datagram number `sent` is due at t0 + sent / pps */
			uint64_t due = r->t0 + (uint64_t)((double)r->sent * 1e9 / (double)r->pps);
			if (due > now + 50000)
				sleep_ns(due - now);
		}
		for (tries = 0;; tries++) {
			w = sendto(r->fds[sport % (unsigned)r->nsock], pl, len, 0, (struct sockaddr *)&r->dst, r->dlen);
			if (w >= 0 || (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) || tries > 1000)
				break;
			sleep_ns(100000); /* the local queue is full: wait, do not drop */
		}
		if (w < 0) {
			r->send_err++;
			if (r->send_err == 1)
				cmd_err("replay", "sendto %s: %s", r->to, strerror(errno));
			if (errno != ECONNREFUSED && errno != ENOBUFS) {
				ret = EXIT_FAILURE;
				break;
			}
			continue;
		}
		r->sent++;
		r->bytes += (uint64_t)w;
	}
	return ret;
}

int cmd_replay(int argc, char **argv)
{
	static struct replay r;
	int i, ret = EXIT_OK;
	uint64_t loop;
	char err[1024];

	memset(&r, 0, sizeof r);
	r.nsock = 8;
	r.pps = 10000;
	r.loops = 1;
	r.max_secs = 60;
	r.max_count = UINT64_MAX;
	r.files = calloc((size_t)argc + 1, sizeof *r.files);
	if (!r.files)
		return EXIT_FAILURE;
	for (i = 0; i < REPLAY_MAX_SOCKETS; i++)
		r.fds[i] = -1;
	ingest_decap_cfg_default(&r.dcfg);
	if ((ret = parse_opts(argc, argv, &r)) != EXIT_OK || (ret = resolve_to(&r)) != EXIT_OK) {
		free(r.files);
		return ret == HELP_SHOWN ? EXIT_OK : ret;
	}
	for (i = 0; i < r.nsock; i++) {
		int sb = 4 << 20;
		r.fds[i] = socket(r.dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (r.fds[i] < 0) {
			cmd_err("replay", "socket: %s", strerror(errno));
			ret = EXIT_FAILURE;
			goto out;
		}
		(void)setsockopt(r.fds[i], SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
	}
	replay_stop = 0;
	signal(SIGINT, on_replay_stop);
	signal(SIGTERM, on_replay_stop);
	r.t0 = tv_clock_mono_ns();
	for (loop = 0; loop < r.loops && !replay_stop && !r.timed_out && r.sent < r.max_count; loop++) {
		ingest_file_src *src = NULL;
		int rc = ingest_file_src_open(r.files, r.nfiles, &src, err, sizeof err);
		if (rc) {
			cmd_err("replay", "%s", err);
			ret = EXIT_USAGE;
			goto out;
		}
		ret = send_pass(&r, src, err, sizeof err);
		ingest_file_src_close(src);
		if (ret != EXIT_OK)
			break;
	}
	if (!g_cmd.quiet) {
		double secs = (double)(tv_clock_mono_ns() - r.t0) / 1e9;
		printf("sent %llu packets, %llu bytes in %.2f s (%.0f pps)\n", (unsigned long long)r.sent,
		       (unsigned long long)r.bytes, secs, secs > 0 ? (double)r.sent / secs : 0.0);
		if (r.skipped)
			printf("skipped %llu frames that are not VXLAN/GENEVE datagrams (or are IP fragments)\n",
			       (unsigned long long)r.skipped);
		if (r.send_err)
			printf("failed %llu sends\n", (unsigned long long)r.send_err);
	}
	if (r.timed_out)
		cmd_note("replay", "stopped after --max-seconds %llu", (unsigned long long)r.max_secs);
	if (r.send_err && ret == EXIT_OK)
		ret = EXIT_FAILURE;
out:
	for (i = 0; i < REPLAY_MAX_SOCKETS; i++)
		if (r.fds[i] >= 0)
			close(r.fds[i]);
	free(r.files);
	return ret;
}
