/*
 * verify.c — `tapvault verify -s STORE`: every chunk against the index and
 * the custody chain; `tapvault verify BUNDLE`: every member of a case
 * bundle against its manifest (and, with -s, its chunks against the store).
 */
#include "cmd.h"
#include "../index/vault.h"
#include "../report/evidence.h"

#include <getopt.h>
#include <sys/stat.h>

/* problems of a bundle printed one by one; a hostile manifest can hold
 * millions */
#define MAX_PRINTED 100

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault verify -s STORE [--deep]\n"
	        "       tapvault verify BUNDLE [-s STORE] [--max-member-size SIZE]\n"
	        "\n"
	        "Reads every chunk the index lists and checks it against its index entry:\n"
	        "position, header, head (producer tag and block table), every block's CRC and\n"
	        "content, and the SHA-256 of the body; the failing part is named.  Fails when\n"
	        "segment files hold bytes that no index entry covers (queries cannot find those\n"
	        "packets: an interrupted ingest or reindex; the next ingest or reindex indexes\n"
	        "them), except at the end of the newest segment while an ingest is writing it.\n"
	        "Read-only.  Checks the hash chain of the store's custody log (STORE/custody.log).\n"
	        "\n"
	        "With --deep, also re-derives the index from the segments and compares it with\n"
	        "the stored one, since LMDB pages carry no checksum of their own: each slice's\n"
	        "postings (address, port, protocol, VNI, with the blocks that hold them) against\n"
	        "what its chunks' flow directories give, then the slice records, segment keys,\n"
	        "running totals, and that every block of flow records decodes.  The first\n"
	        "difference of each chunk is named.  It decodes every block: about as long as a\n"
	        "reindex.\n"
	        "\n"
	        "With a BUNDLE (from 'tapvault export'): reads it without extracting anything,\n"
	        "recomputes the SHA-256 of every member and names each member that does not\n"
	        "match manifest.json, is missing, or is extra, and checks that the manifest\n"
	        "parses and is unaltered.  Unsafe members (absolute paths, '..', links, huge\n"
	        "sizes) are refused.  With -s as well, every source chunk the manifest lists is\n"
	        "compared with the store's index (same store, same SHA-256).  The first %d\n"
	        "problems are printed, then their count.\n"
	        "\n"
	        "Exit status 0 when everything verifies, 1 naming each chunk, custody entry or\n"
	        "member that does not, 2 when the store or bundle cannot be opened.\n"
	        "\n"
	        "options:\n"
	        "  -s, --store DIR   the store to check\n"
	        "      --deep        also compare the index with what the segments give\n"
	        "      --max-member-size SIZE\n"
	        "                    largest bundle member accepted, in the archive and as the\n"
	        "                    manifest lists it (default 64G); a larger one refuses the\n"
	        "                    bundle\n"
	        "  -q, --quiet       print problems only\n"
	        "  -v, --verbose     accepted for symmetry; no extra output\n"
	        "  -h, --help        this help\n",
	        MAX_PRINTED);
}

static void on_problem(void *ctx, const char *msg)
{
	const char *store = ctx;
	printf("%s: %s\n", store, msg);
}

struct printed {
	const char *bundle;
	uint64_t n;
};

/* The first MAX_PRINTED problems; verify_bundle() prints the count. */
static void on_member_problem(void *ctx, const char *member, const char *msg)
{
	struct printed *p = ctx;
	if (p->n++ < MAX_PRINTED)
		printf("%s: %s%s%s\n", p->bundle, member, *member ? ": " : "", msg);
}

/* Problems of tying the bundle to the store: few (one per source chunk
 * at most), all printed. */
static void on_tie_problem(void *ctx, const char *member, const char *msg)
{
	printf("%s: %s: %s\n", (const char *)ctx, member, msg);
}

/* The manifest's chunks against the store they came from: 0 all match, 1
 * problems printed, -1 the store cannot be opened. */
static int tie_chunks(const char *bundle, const report_bundle_info *info, const char *store,
                      uint64_t *pruned)
{
	idx_rstore rs;
	int rc = idx_rstore_open(store, &rs);
	if (rc) {
		cmd_store_error("verify", store, rc);
		return -1;
	}
	rc = report_bundle_tie_chunks(rs.x, info, store, on_tie_problem, (void *)bundle, pruned);
	idx_rstore_close(&rs);
	return rc ? 1 : 0;
}

static int verify_bundle(const char *bundle, const char *store, uint64_t max_member)
{
	report_bundle_info *info = NULL;
	uint64_t np = 0, pruned = 0, cseq = 0;
	struct printed pr = { bundle, 0 };
	struct stat sb;
	int rc, tie = 0, ctie = 0;

	rc = report_bundle_verify(bundle, max_member, on_member_problem, &pr, &np, &info);
	if (pr.n > MAX_PRINTED)
		printf("%s: %llu more problems not printed\n", bundle,
		       (unsigned long long)(pr.n - MAX_PRINTED));
	if (rc == TV_E_TRUNCATED) {
		cmd_err("verify", "%s: truncated: %llu bytes, which end before its first member can be "
		                  "read (an interrupted export or copy?)",
		        bundle, stat(bundle, &sb) == 0 ? (unsigned long long)sb.st_size : 0ull);
		return EXIT_USAGE;
	}
	if (rc && rc != TV_E_CORRUPT) {
		cmd_err("verify", "%s: %s", bundle,
		        rc == TV_E_FORMAT        ? "not a case bundle (not a tar or zip archive)"
		        : rc == TV_E_UNSUPPORTED ? "not a regular file (copy it to a file first)"
		                                 : tv_strerror(rc));
		return EXIT_USAGE;
	}
	if (store && info && info->manifest_ok) {
		tie = tie_chunks(bundle, info, store, &pruned);
		if (tie < 0) {
			report_bundle_info_free(info);
			return EXIT_USAGE;
		}
		/* the manifest's own hash proves nothing against a deliberate
		 * change; the store's custody log holds the hash of the file */
		rc = report_custody_find_bundle(store, bundle, &cseq);
		if (rc) {
			cmd_err("verify", "%s: %s", bundle, tv_strerror(rc));
			report_bundle_info_free(info);
			return EXIT_USAGE;
		}
		ctie = cseq ? 0 : 1;
		if (ctie > 0) {
			printf("%s: its SHA-256 is in no custody entry of %s: this exact file was not "
			       "exported from that store (altered and re-hashed, or from another store)\n",
			       bundle, store);
			np++;
		}
	}
	if (!g_cmd.quiet) {
		if (np == 0 && info)
			printf("%s: %zu members match the manifest; case %s, %llu packets, %llu flow "
			       "records, %zu source chunks, store %s\n",
			       bundle, info->nfiles + 1, info->meta.case_id ? info->meta.case_id : "-",
			       (unsigned long long)info->meta.packets,
			       (unsigned long long)info->meta.flow_records, info->meta.nchunks,
			       info->meta.store_uuid[0] ? info->meta.store_uuid : "-");
		else
			printf("%s: %llu problems: the bundle does NOT verify\n", bundle,
			       (unsigned long long)np);
		if (store && info && info->manifest_ok && tie == 0)
			printf("%s: %zu source chunks match %s%s\n", bundle,
			       info->meta.nchunks - (size_t)pruned, store,
			       pruned ? " (the rest were pruned by retention)" : "");
		if (store && info && info->manifest_ok && ctie == 0 && cseq)
			printf("%s: exported from %s as custody entry %llu\n", bundle, store,
			       (unsigned long long)cseq);
	}
	report_bundle_info_free(info);
	return (np || tie) ? EXIT_FOUND : EXIT_OK;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "max-member-size", required_argument, NULL, 'M' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "deep", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store = NULL;
	bool deep = false;
	idx_rstore rs;
	idx_verify_report rep;
	uint64_t centries = 0, max_member = 0;
	int c, rc, cret;

	optind = 0; /* 0: GNU getopt re-initialises (the demo calls several commands) */
	while ((c = getopt_long(argc, argv, "s:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'M':
			if (cmd_parse_size(optarg, &max_member) || max_member == 0) {
				cmd_err("verify", "--max-member-size '%s': expected a size such as 64G", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'q': g_cmd.quiet = 1; break;
		case 'v': g_cmd.verbose++; break;
		case 'D': deep = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind + 1 == argc && deep) {
		cmd_err("verify", "--deep checks a store's index: use it with -s STORE alone");
		return EXIT_USAGE;
	}
	if (optind + 1 == argc)
		return verify_bundle(argv[optind], store, max_member);
	if (!store || optind < argc) {
		cmd_err("verify", optind < argc ? "unexpected argument '%s' (one bundle at a time)"
		                                : "no store or bundle given: use -s DIR or BUNDLE%s",
		        optind < argc ? argv[optind + 1] : "");
		usage(stderr);
		return EXIT_USAGE;
	}
	rc = idx_rstore_open(store, &rs);
	if (rc) {
		cmd_store_error("verify", store, rc);
		return EXIT_USAGE;
	}
	rc = idx_verify_store(&rs, deep, on_problem, (void *)store, &rep);
	idx_rstore_close(&rs);
	if (rc && rc != TV_E_CORRUPT) {
		cmd_err("verify", "%s: verification could not run: %s", store, tv_strerror(rc));
		return EXIT_FAILURE;
	}
	cret = cmd_custody_check(store, false, false, &centries);
	if (!g_cmd.quiet) {
		printf("%s: %llu chunks verified, %llu bad, %llu packets, %llu segments", store,
		       (unsigned long long)rep.chunks_ok, (unsigned long long)rep.chunks_bad,
		       (unsigned long long)rep.packets, (unsigned long long)rep.segments);
		if (rep.unindexed_bytes)
			printf("; the index covers less than the segments: %llu bytes not indexed",
			       (unsigned long long)rep.unindexed_bytes);
		if (rep.torn_bytes)
			printf("; %llu torn bytes past the index (no whole chunk)",
			       (unsigned long long)rep.torn_bytes);
		if (rep.unindexed_in_flight)
			printf("; %llu bytes being written by the running ingest",
			       (unsigned long long)rep.unindexed_in_flight);
		if (deep)
			printf("; index compared with the segments: %s",
			       rep.index_bad ? "it DIFFERS" : "it matches");
		printf("\n");
	}
	if (!g_cmd.quiet && centries)
		printf("%s: %llu custody entries, %s\n", store, (unsigned long long)centries,
		       cret == EXIT_OK ? "the chain holds" : "the chain is BROKEN");
	if (cret == EXIT_FAILURE)
		return EXIT_FAILURE;
	return (rep.chunks_bad || rep.unindexed_bytes || rep.index_bad || cret == EXIT_FOUND)
	               ? EXIT_FOUND : EXIT_OK;
}
