/*
 * custody.c — `tapvault custody -s STORE`: print the custody log and check
 * its hash chain.
 */
#include "cmd.h"
#include "../store/storedir.h"
#include "../index/idx.h"
#include "../report/evidence.h"

#include <getopt.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault custody -s STORE [--json]\n"
	        "\n"
	        "Prints the store's custody log (STORE/custody.log: one entry per export: who,\n"
	        "when, which query, which bundle with its size and SHA-256, which case) and\n"
	        "checks its hash chain.  Exit status 0 when the chain holds, 1 naming each\n"
	        "entry that was altered or follows a removed one, 2 when the store cannot be\n"
	        "read.\n"
	        "\n"
	        "options:\n"
	        "  -s, --store DIR   the store\n"
	        "      --json        print the entries as stored (one JSON object per line)\n"
	        "  -q, --quiet       print problems only\n"
	        "  -v, --verbose     accepted for symmetry; no extra output\n"
	        "  -h, --help        this help\n");
}

/* Prints untrusted text with control characters escaped (a note may hold
 * newlines or terminal escapes). */
static void put_safe(const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

struct cctx {
	const char *store;
	bool json;
};

static void on_entry(void *ctx, uint64_t lineno, uint64_t seq, const report_custody_entry *e,
                     const char *line, bool ok)
{
	struct cctx *c = ctx;
	char t[48], h[65];
	(void)lineno;
	if (g_cmd.quiet)
		return;
	if (c->json || !e) {
		printf("%s\n", line);
		return;
	}
	tv_time_format(e->time_ns, t, sizeof t);
	tv_sha256_hex(e->bundle_sha256, h);
	printf("#%llu %s ", (unsigned long long)seq, t);
	put_safe(e->action ? e->action : "?");
	fputs(" by ", stdout);
	put_safe(e->examiner ? e->examiner : "-");
	fputs(" (user ", stdout);
	put_safe(e->user ? e->user : "-");
	printf(" uid %u on ", e->uid);
	put_safe(e->host ? e->host : "-");
	printf(")%s\n    case ", ok ? "" : "  [ALTERED]");
	put_safe(e->case_id ? e->case_id : "-");
	fputs(", query '", stdout);
	put_safe(e->query ? e->query : "");
	fputs("'\n    bundle ", stdout);
	put_safe(e->bundle_path ? e->bundle_path : "-");
	printf(" (%llu bytes, sha256 %s)\n", (unsigned long long)e->bundle_size, h);
	if (e->note) {
		fputs("    note: ", stdout);
		put_safe(e->note);
		putchar('\n');
	}
}

static void on_problem(void *ctx, const char *member, const char *msg)
{
	struct cctx *c = ctx;
	printf("%s: %s: %s\n", c->store, member, msg);
}

int cmd_custody_check(const char *store, bool print, bool json, uint64_t *entries)
{
	struct cctx c = { store, json };
	uint64_t n = 0, np = 0;
	char head[65];
	int rc;

	rc = report_custody_verify(store, print ? on_entry : NULL, on_problem, &c, &n, &np, head);
	if (entries)
		*entries = n;
	if (rc && rc != TV_E_CORRUPT) {
		cmd_err(print ? "custody" : "verify", "%s/%s: cannot read: %s", store,
		        STORE_CUSTODY_NAME, tv_strerror(rc));
		return EXIT_FAILURE;
	}
	if (print && !g_cmd.quiet) {
		if (n == 0)
			printf("%s: no custody entries (nothing was exported yet)\n", store);
		else
			printf("%s: %llu custody entries, %s; head %s\n", store, (unsigned long long)n,
			       np ? "the chain is BROKEN" : "the chain holds", head);
	}
	return np ? EXIT_FOUND : EXIT_OK;
}

int cmd_custody(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store = NULL;
	bool json = false;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "s:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'j': json = true; break;
		case 'q': g_cmd.quiet = 1; break;
		case 'v': g_cmd.verbose++; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (!store || optind < argc) {
		cmd_err("custody", optind < argc ? "unexpected argument '%s'" : "no store given: use -s DIR%s",
		        optind < argc ? argv[optind] : "");
		usage(stderr);
		return EXIT_USAGE;
	}
	{
		char p[4096];
		if (store_path(store, STORE_INDEX_DIR, p, sizeof p) != 0 || access(p, F_OK) != 0) {
			cmd_err("custody", "%s: not a tapvault store (no index/ inside)", store);
			return EXIT_USAGE;
		}
	}
	return cmd_custody_check(store, true, json, NULL);
}
