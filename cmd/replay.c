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

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

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

/* The command line of one replay. */
struct replay {
	const char *to;
	const char **files;
	int nfiles, nsock;
	uint64_t pps, loops, max_secs, max_count;
	bool allow_remote;
	ingest_decap_cfg dcfg;
	tv_addr addr;
	bool v6;
	uint16_t port;
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
			if (cmd_parse_uint(optarg, 1, INGEST_REPLAY_MAX_SOCKETS, &val)) {
				cmd_err("replay", "--sockets '%s': expected 1 to %d", optarg, INGEST_REPLAY_MAX_SOCKETS);
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

/* --to: an address (loopback unless --allow-remote) and port. */
static int resolve_to(struct replay *r)
{
	if (ingest_listen_parse(r->to, 4789, &r->addr, &r->v6, &r->port) != 0) {
		cmd_err("replay", "--to '%s': expected HOST:PORT with HOST an address", r->to);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!is_loopback(&r->addr, r->v6) && !r->allow_remote) {
		cmd_err("replay", "--to '%s': not a loopback address (127.0.0.0/8, ::1); "
		        "give --allow-remote to send elsewhere", r->to);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* What the library reports, printed; the exit code. */
static int report(const struct replay *r, const ingest_replay_result *res)
{
	int ret = EXIT_OK;

	if (res->status == INGEST_REPLAY_ESOCKET || res->status == INGEST_REPLAY_EOPEN) {
		cmd_err("replay", "%s", res->err);
		return res->status == INGEST_REPLAY_EOPEN ? EXIT_USAGE : EXIT_FAILURE;
	}
	if (res->send_err)
		cmd_err("replay", "sendto %s: %s", r->to, strerror(res->send_errno));
	if (res->status == INGEST_REPLAY_EREAD) {
		cmd_err("replay", "%s", res->err);
		ret = EXIT_USAGE;
	} else if (res->status == INGEST_REPLAY_ESEND) {
		ret = EXIT_FAILURE;
	}
	if (!g_cmd.quiet) {
		double secs = (double)res->elapsed_ns / 1e9;
		printf("sent %llu packets, %llu bytes in %.2f s (%.0f pps)\n", (unsigned long long)res->sent,
		       (unsigned long long)res->bytes, secs, secs > 0 ? (double)res->sent / secs : 0.0);
		if (res->skipped)
			printf("skipped %llu frames that are not VXLAN/GENEVE datagrams (or are IP fragments)\n",
			       (unsigned long long)res->skipped);
		if (res->send_err)
			printf("failed %llu sends\n", (unsigned long long)res->send_err);
	}
	if (res->timed_out)
		cmd_note("replay", "stopped after --max-seconds %llu", (unsigned long long)r->max_secs);
	if (res->send_err && ret == EXIT_OK)
		ret = EXIT_FAILURE;
	return ret;
}

int cmd_replay(int argc, char **argv)
{
	static struct replay r;
	static ingest_replay_result res;
	ingest_replay_opts o;
	int ret = EXIT_OK;

	memset(&r, 0, sizeof r);
	r.nsock = 8;
	r.pps = 10000;
	r.loops = 1;
	r.max_secs = 60;
	r.max_count = UINT64_MAX;
	r.files = calloc((size_t)argc + 1, sizeof *r.files);
	if (!r.files)
		return EXIT_FAILURE;
	ingest_decap_cfg_default(&r.dcfg);
	if ((ret = parse_opts(argc, argv, &r)) != EXIT_OK || (ret = resolve_to(&r)) != EXIT_OK) {
		free(r.files);
		return ret == HELP_SHOWN ? EXIT_OK : ret;
	}
	memset(&o, 0, sizeof o);
	o.files = r.files;
	o.nfiles = r.nfiles;
	o.addr = r.addr;
	o.v6 = r.v6;
	o.port = r.port;
	o.nsock = r.nsock;
	o.pps = r.pps;
	o.loops = r.loops;
	o.max_secs = r.max_secs;
	o.max_count = r.max_count;
	o.dcfg = &r.dcfg;
	o.stop = &replay_stop;
	replay_stop = 0;
	signal(SIGINT, on_replay_stop);
	signal(SIGTERM, on_replay_stop);
	ingest_replay_run(&o, &res);
	ret = report(&r, &res);
	free(r.files);
	return ret;
}
