/*
 * main.c — the tapvault program: dispatch to one subcommand.
 */
#include "cmd.h"

#include <stdlib.h>
#include <string.h>

static const struct subcmd {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} subcmds[] = {
	{ "ingest", cmd_ingest, "read mirrored traffic, strip the tunnel, store and index every packet" },
	{ "query", cmd_query, "pull packets out as pcap, text, JSON or a count" },
	{ "verify", cmd_verify, "check every chunk of a store against its index" },
	{ "stats", cmd_stats, "print chunk, packet, byte, compression and counter totals" },
	{ "replay", cmd_replay, "send a capture's VXLAN/GENEVE payloads over UDP (tests, checks)" },
	{ "flows", cmd_flows, "the stored flow records as AWS VPC Flow Logs (text, JSON, CSV, S3 layout)" },
	{ "export", cmd_export, "write a case bundle (packets, flows, manifest) and log it" },
	{ "custody", cmd_custody, "print a store's custody log and check its hash chain" },
	{ "audit", cmd_audit, "VPC Flow Logs against the archive, and what only the payload shows" },
	{ "reindex", cmd_reindex, "rebuild a lost or corrupt index from the segment files" },
	{ "demo", cmd_demo, "the whole story on generated traffic, in one go" },
};

static void usage(FILE *f)
{
	size_t i;
	fprintf(f,
	        "usage: tapvault [-q] [-v] COMMAND [OPTIONS] [ARGS]\n"
	        "       tapvault --help | --version\n"
	        "\n"
	        "tapvault keeps cloud-mirrored traffic (AWS VPC Traffic Mirroring VXLAN, GWLB\n"
	        "GENEVE) in a compressed, indexed archive and pulls packets back out.\n"
	        "\n"
	        "commands:\n");
	for (i = 0; i < sizeof subcmds / sizeof subcmds[0]; i++)
		fprintf(f, "  %-8s %s\n", subcmds[i].name, subcmds[i].summary);
	fprintf(f,
	        "\n"
	        "global options:\n"
	        "  -q, --quiet     no progress and no notes on stderr\n"
	        "  -v, --verbose   more detail (repeat for more)\n"
	        "  -h, --help      this help; 'tapvault COMMAND --help' for a command\n"
	        "  -V, --version   print the version\n"
	        "\n"
	        "exit codes: 0 success; 1 the job ran and found a problem (verify) or what\n"
	        "--fail-on names; 2 bad usage or bad input; 3 the job failed (I/O, locked store).\n"
	        "See README.md and tapvault(1) for the expression language and examples.\n");
}

int main(int argc, char **argv)
{
	int i = 1;
	size_t k;

	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];
		if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			g_cmd.quiet = 1;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			g_cmd.verbose++;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("tapvault %s\n", TV_VERSION);
			return EXIT_OK;
		} else {
			fprintf(stderr, "tapvault: unknown option '%s' before the command\n", a);
			usage(stderr);
			return EXIT_USAGE;
		}
		i++;
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[i], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	for (k = 0; k < sizeof subcmds / sizeof subcmds[0]; k++)
		if (strcmp(argv[i], subcmds[k].name) == 0)
			return subcmds[k].fn(argc - i, argv + i);
	fprintf(stderr, "tapvault: unknown command '%s' (try 'tapvault --help')\n", argv[i]);
	return EXIT_USAGE;
}
