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

int cmd_replay(int argc, char **argv)
{
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
	const char *to = NULL;
	const char **files;
	int nfiles = 0, c, i, ret = EXIT_OK, nsock = 8, fds[REPLAY_MAX_SOCKETS];
	uint64_t pps = 10000, loops = 1, max_secs = 60, max_count = UINT64_MAX, val;
	uint64_t sent = 0, bytes = 0, skipped = 0, send_err = 0, t0, loop;
	bool allow_remote = false, v6 = false, timed_out = false;
	ingest_decap_cfg dcfg;
	struct sockaddr_storage dst;
	socklen_t dlen;
	tv_addr addr;
	uint16_t port;
	char err[1024];

	files = calloc((size_t)argc + 1, sizeof *files);
	if (!files)
		return EXIT_FAILURE;
	for (i = 0; i < REPLAY_MAX_SOCKETS; i++)
		fds[i] = -1;
	ingest_decap_cfg_default(&dcfg);
	optind = 0;
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_TO: to = optarg; break;
		case OPT_PPS:
			if (cmd_parse_uint(optarg, 0, 100000000, &pps)) {
				cmd_err("replay", "--pps '%s': expected a number from 0 to 100000000", optarg);
				goto usage_fail;
			}
			break;
		case OPT_LOOP:
			if (cmd_parse_uint(optarg, 1, 1000000, &loops)) {
				cmd_err("replay", "--loop '%s': expected a number from 1 to 1000000", optarg);
				goto usage_fail;
			}
			break;
		case OPT_MAX_SECONDS:
			if (cmd_parse_uint(optarg, 1, 86400, &max_secs)) {
				cmd_err("replay", "--max-seconds '%s': expected 1 to 86400", optarg);
				goto usage_fail;
			}
			break;
		case OPT_COUNT:
			if (cmd_parse_uint(optarg, 1, UINT64_MAX, &max_count)) {
				cmd_err("replay", "--count '%s': expected a positive number", optarg);
				goto usage_fail;
			}
			break;
		case OPT_SOCKETS:
			if (cmd_parse_uint(optarg, 1, REPLAY_MAX_SOCKETS, &val)) {
				cmd_err("replay", "--sockets '%s': expected 1 to %d", optarg, REPLAY_MAX_SOCKETS);
				goto usage_fail;
			}
			nsock = (int)val;
			break;
		case OPT_VXLAN_PORT:
			if (cmd_parse_ports(optarg, dcfg.vxlan_ports, &dcfg.n_vxlan_ports, INGEST_MAX_PORTS)) {
				cmd_err("replay", "--vxlan-port '%s': expected ports 1-65535", optarg);
				goto usage_fail;
			}
			break;
		case OPT_GENEVE_PORT:
			if (cmd_parse_ports(optarg, dcfg.geneve_ports, &dcfg.n_geneve_ports, INGEST_MAX_PORTS)) {
				cmd_err("replay", "--geneve-port '%s': expected ports 1-65535", optarg);
				goto usage_fail;
			}
			break;
		case OPT_ALLOW_REMOTE: allow_remote = true; break;
		case 'q': g_cmd.quiet = 1; break;
		case 'h': usage(stdout); free(files); return EXIT_OK;
		default: goto usage_fail;
		}
	}
	while (optind < argc)
		files[nfiles++] = argv[optind++];
	if (nfiles == 0) {
		cmd_err("replay", "no capture given");
		goto usage_fail;
	}
	if (!to) {
		cmd_err("replay", "no destination given: use --to HOST:PORT");
		goto usage_fail;
	}
	if (ingest_listen_parse(to, 4789, &addr, &v6, &port) != 0) {
		cmd_err("replay", "--to '%s': expected HOST:PORT with HOST an address", to);
		goto usage_fail;
	}
	if (!is_loopback(&addr, v6) && !allow_remote) {
		cmd_err("replay", "--to '%s': not a loopback address (127.0.0.0/8, ::1); "
		        "give --allow-remote to send elsewhere", to);
		free(files);
		return EXIT_USAGE;
	}
	memset(&dst, 0, sizeof dst);
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&dst;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, addr.b, 16);
		dlen = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&dst;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, addr.b + 12, 4);
		dlen = sizeof *s4;
	}
	for (i = 0; i < nsock; i++) {
		int sb = 4 << 20;
		fds[i] = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0) {
			cmd_err("replay", "socket: %s", strerror(errno));
			ret = EXIT_FAILURE;
			goto out;
		}
		(void)setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
	}
	replay_stop = 0;
	signal(SIGINT, on_replay_stop);
	signal(SIGTERM, on_replay_stop);
	t0 = tv_clock_mono_ns();
	for (loop = 0; loop < loops && !replay_stop && !timed_out && sent < max_count; loop++) {
		ingest_file_src *src = NULL;
		int rc = ingest_file_src_open(files, nfiles, &src, err, sizeof err);
		if (rc) {
			cmd_err("replay", "%s", err);
			ret = EXIT_USAGE;
			goto out;
		}
		for (;;) {
			ingest_raw raw;
			const uint8_t *pl;
			uint32_t len;
			uint16_t sport;
			uint64_t now;
			ssize_t w;
			int tries;
			if (replay_stop || sent >= max_count)
				break;
			rc = ingest_file_src_next(src, &raw, err, sizeof err);
			if (rc == 0)
				break;
			if (rc < 0) {
				cmd_err("replay", "%s", err);
				ret = EXIT_USAGE;
				break;
			}
			if (!ingest_tunnel_payload(&dcfg, raw.linktype, raw.data, raw.caplen, &pl, &len, &sport)) {
				skipped++;
				continue;
			}
			now = tv_clock_mono_ns();
			if (now - t0 >= max_secs * 1000000000u) {
				timed_out = true;
				break;
			}
			if (pps) {
				/* datagram number `sent` is due at t0 + sent / pps */
				uint64_t due = t0 + (uint64_t)((double)sent * 1e9 / (double)pps);
				if (due > now + 50000)
					sleep_ns(due - now);
			}
			for (tries = 0;; tries++) {
				w = sendto(fds[sport % (unsigned)nsock], pl, len, 0, (struct sockaddr *)&dst, dlen);
				if (w >= 0 || (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) || tries > 1000)
					break;
				sleep_ns(100000); /* the local queue is full: wait, do not drop */
			}
			if (w < 0) {
				send_err++;
				if (send_err == 1)
					cmd_err("replay", "sendto %s: %s", to, strerror(errno));
				if (errno != ECONNREFUSED && errno != ENOBUFS) {
					ret = EXIT_FAILURE;
					break;
				}
				continue;
			}
			sent++;
			bytes += (uint64_t)w;
		}
		ingest_file_src_close(src);
		if (ret != EXIT_OK)
			break;
	}
	if (!g_cmd.quiet) {
		double secs = (double)(tv_clock_mono_ns() - t0) / 1e9;
		printf("sent %llu packets, %llu bytes in %.2f s (%.0f pps)\n", (unsigned long long)sent,
		       (unsigned long long)bytes, secs, secs > 0 ? (double)sent / secs : 0.0);
		if (skipped)
			printf("skipped %llu frames that are not VXLAN/GENEVE datagrams (or are IP fragments)\n",
			       (unsigned long long)skipped);
		if (send_err)
			printf("failed %llu sends\n", (unsigned long long)send_err);
	}
	if (timed_out)
		cmd_note("replay", "stopped after --max-seconds %llu", (unsigned long long)max_secs);
	if (send_err && ret == EXIT_OK)
		ret = EXIT_FAILURE;
out:
	for (i = 0; i < REPLAY_MAX_SOCKETS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(files);
	return ret;
usage_fail:
	usage(stderr);
	free(files);
	return EXIT_USAGE;
}
