/*
 * reindex.c — `tapvault reindex -s STORE`: rebuilds a lost or corrupt LMDB
 * index from the segment files.
 *
 * The segments are the record; the index can be derived from them.  The
 * library (idx_reindex) takes the store's lock first, builds the new index
 * aside, carries over what only the old index holds (flow records,
 * counters) when it can still be read, and swaps the two in one rename; the
 * old index is kept as STORE/index.old-<time>.
 */
#include "cmd.h"
#include "../index/vault.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault reindex -s STORE\n"
	        "\n"
	        "Rebuilds the store's LMDB index from its segment files, when the index is\n"
	        "lost or corrupt.  Refused, changing nothing, while an ingest runs on the store.\n"
	        "The new index is built aside (STORE/index.build-<pid>): every chunk of every\n"
	        "segment is read, verified and indexed again, with the source marks that let a\n"
	        "repeated ingest skip stored packets.  When the old index can still be read, its\n"
	        "flow records and counters are carried over; otherwise the flow records are\n"
	        "rebuilt from the stored packets (600 s windows) and the counters start again.\n"
	        "Then the new index takes the old one's place in one rename: queries running\n"
	        "meanwhile read the old index, never a partial one, and an interrupted reindex\n"
	        "leaves the old index in place.  The old index is kept as STORE/index.old-<time>.\n"
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
	idx_reindex_report rep;
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
	rc = idx_reindex(store, &rep);
	if (rep.stale_removed)
		cmd_note("reindex", "%s: removed %llu incomplete index build(s) of an interrupted reindex",
		         store, (unsigned long long)rep.stale_removed);
	if (rep.stale_kept)
		cmd_note("reindex", "%s: %llu complete index build(s) of an interrupted reindex kept as "
		         "index.old-*", store, (unsigned long long)rep.stale_kept);
	if (rc == TV_E_LOCKED) {
		cmd_err("reindex", "%s: an ingest is running on this store (it holds %s/LOCK): stop it "
		        "first; nothing was changed", store, store);
		return EXIT_FAILURE;
	}
	if (rc == TV_E_NOTFOUND) {
		cmd_err("reindex", "%s: no segments/ folder: nothing to rebuild an index from", store);
		return EXIT_USAGE;
	}
	if (rc == TV_E_VERSION) {
		/* a store of another format: refused before anything changed */
		cmd_store_error("reindex", store, rc);
		return EXIT_USAGE;
	}
	if (rc) {
		cmd_err("reindex", "%s: rebuilding the index failed: %s; the old index is unchanged",
		        store, tv_strerror(rc));
		return EXIT_FAILURE;
	}
	if (rep.old_dir[0])
		cmd_note("reindex", "%s: the old index is now %s/%s", store, store, rep.old_dir);
	if (!g_cmd.quiet) {
		printf("%s: index rebuilt from the segments: %llu chunks, %llu packets",
		       store, (unsigned long long)rep.rec.chunks_indexed,
		       (unsigned long long)rep.rec.packets_indexed);
		if (rep.rec.torn_bytes)
			printf("; %llu torn bytes cut from segment %u at offset %llu",
			       (unsigned long long)rep.rec.torn_bytes, rep.rec.torn_segment,
			       (unsigned long long)rep.rec.torn_offset);
		printf("\n");
		if (rep.carried)
			printf("%s: carried over from the old index: %llu flow records, %llu counters, "
			       "%llu source marks\n", store, (unsigned long long)rep.carry.flows,
			       (unsigned long long)rep.carry.counters,
			       (unsigned long long)rep.carry.sources);
		else
			printf("%s: %s: %llu flow records rebuilt from the stored packets (600 s windows); "
			       "the ingest counters were only in the old index and start again\n", store,
			       rep.old_err ? tv_strerror(rep.old_err) : "no old index",
			       (unsigned long long)rep.flows_rebuilt);
	}
	return EXIT_OK;
}
