/*
 * reindex.c — `tapvault reindex -s STORE`: rebuilds a lost or corrupt LMDB
 * index from the segment files.
 *
 * The segments are the record; the index can be derived from them.  The old
 * index directory is moved aside (never deleted), and opening the store for
 * writing runs the ordinary crash recovery over every segment from the
 * start: each chunk that verifies is indexed with its postings and its
 * source marks (the chunk tag), a torn tail is cut.
 */
#include "cmd.h"
#include "../index/vault.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault reindex -s STORE\n"
	        "\n"
	        "Rebuilds the store's LMDB index from its segment files, when the index is\n"
	        "lost or corrupt.  STORE/index is moved aside to STORE/index.old-<time> (it is\n"
	        "not deleted), then every chunk of every segment is read, verified and indexed\n"
	        "again, with the source marks that let a repeated ingest skip stored packets.\n"
	        "Counters and flow records lived only in the old index: they are not rebuilt.\n"
	        "No ingest may run on the store meanwhile.\n"
	        "\n"
	        "options:\n"
	        "  -s, --store DIR   the store\n"
	        "  -q, --quiet       no summary\n"
	        "  -h, --help        this help\n");
}

int cmd_reindex(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store = NULL;
	char idxdir[4096], old[4200], segdir[4096];
	idx_vault_cfg cfg;
	idx_recovery rec;
	idx_vault *v = NULL;
	struct stat st;
	tv_counters ctr;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "s:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'q': g_cmd.quiet = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (!store || optind < argc) {
		cmd_err("reindex", "give the store with -s DIR");
		usage(stderr);
		return EXIT_USAGE;
	}
	snprintf(segdir, sizeof segdir, "%s/segments", store);
	if (stat(segdir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		cmd_err("reindex", "%s: no segments/ folder: nothing to rebuild an index from", store);
		return EXIT_USAGE;
	}
	snprintf(idxdir, sizeof idxdir, "%s/index", store);
	if (stat(idxdir, &st) == 0) {
		snprintf(old, sizeof old, "%s/index.old-%lld", store, (long long)time(NULL));
		if (rename(idxdir, old) != 0) {
			cmd_err("reindex", "%s: cannot move the old index aside to %s: %s", idxdir, old,
			        strerror(errno));
			return EXIT_FAILURE;
		}
		cmd_note("reindex", "%s: the old index is now %s", store, old);
	}
	idx_vault_cfg_default(&cfg);
	cfg.flows = false;
	/* the new index takes the identity the segments carry */
	if (store_segs_read_uuid(store, cfg.index.uuid) == 0)
		cfg.index.have_uuid = true;
	memset(&ctr, 0, sizeof ctr);
	rc = idx_vault_open(store, &cfg, &ctr, &rec, &v);
	if (rc == 0)
		rc = idx_vault_close(v);
	if (rc) {
		cmd_store_error("reindex", store, rc);
		return EXIT_FAILURE;
	}
	if (!g_cmd.quiet) {
		printf("%s: index rebuilt from the segments: %llu chunks, %llu packets",
		       store, (unsigned long long)rec.chunks_indexed,
		       (unsigned long long)rec.packets_indexed);
		if (rec.torn_bytes)
			printf("; %llu torn bytes cut from segment %u at offset %llu",
			       (unsigned long long)rec.torn_bytes, rec.torn_segment,
			       (unsigned long long)rec.torn_offset);
		printf("\n");
	}
	return EXIT_OK;
}
