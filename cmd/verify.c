/*
 * verify.c — `tapvault verify -s STORE`: every chunk against the index.
 */
#include "cmd.h"
#include "../index/vault.h"

#include <getopt.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault verify -s STORE\n"
	        "\n"
	        "Reads every chunk the index lists and checks it against its index entry:\n"
	        "position, header fields, SHA-256 of the compressed frame, zstd's content\n"
	        "checksum and the record layout.  Reports bytes in segment files that no index\n"
	        "entry covers (an interrupted write, recovered by the next ingest).  Read-only.\n"
	        "Exit status 0 when every chunk verifies, 1 naming each chunk that does not,\n"
	        "2 when the store cannot be opened.\n"
	        "\n"
	        "options:\n"
	        "  -s, --store DIR   the store to check\n"
	        "  -q, --quiet       print problems only\n"
	        "  -h, --help        this help\n");
}

static void on_problem(void *ctx, const char *msg)
{
	const char *store = ctx;
	printf("%s: %s\n", store, msg);
}

int cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store = NULL;
	idx_rstore rs;
	idx_verify_report rep;
	int c, rc;

	optind = 0; /* 0: GNU getopt re-initialises (the demo calls several commands) */
	while ((c = getopt_long(argc, argv, "s:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'q': g_cmd.quiet = 1; break;
		case 'v': g_cmd.verbose++; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (!store || optind < argc) {
		cmd_err("verify", optind < argc ? "unexpected argument '%s' (bundles are not supported yet)"
		                                : "no store given: use -s DIR%s",
		        optind < argc ? argv[optind] : "");
		usage(stderr);
		return EXIT_USAGE;
	}
	rc = idx_rstore_open(store, &rs);
	if (rc) {
		cmd_err("verify", "%s: cannot open the store: %s", store,
		        rc == TV_E_NOTFOUND ? "not a tapvault store (no index/ inside)" : tv_strerror(rc));
		return EXIT_USAGE;
	}
	rc = idx_verify_store(&rs, on_problem, (void *)store, &rep);
	idx_rstore_close(&rs);
	if (rc && rc != TV_E_CORRUPT) {
		cmd_err("verify", "%s: verification could not run: %s", store, tv_strerror(rc));
		return EXIT_FAILURE;
	}
	if (!g_cmd.quiet)
		printf("%s: %llu chunks verified, %llu bad, %llu packets, %llu segments%s\n", store,
		       (unsigned long long)rep.chunks_ok, (unsigned long long)rep.chunks_bad,
		       (unsigned long long)rep.packets, (unsigned long long)rep.segments,
		       rep.unindexed_bytes ? ", unindexed tail bytes present" : "");
	return rep.chunks_bad ? EXIT_FOUND : EXIT_OK;
}
