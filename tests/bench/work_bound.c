/*
 * work_bound.c — the work bound of a query's answer on a store, for the
 * enterprise bench (tests/bench/bench_enterprise.sh): the bound the
 * beaconing-host and client-host queries must stay under, by the one
 * definition tests/unit/test_work2.c asserts (tests/unit/workbound.h).
 * A benchmark tool, built by `make bench`, never by `make test`:
 *
 *   build/work-bound STORE EXPR
 *
 * Runs EXPR on STORE as `tapvault query` does (idx_query_run_hits) and
 * prints one line:
 *
 *   packets=N bytes=N flow_chunks=N allowance=N bound=N chunks_planned=N
 *   chunks_total=N chunks_read=N blocks_read=N bytes_decoded=N
 *
 * bytes are the caplen of the packets returned; flow_chunks the distinct
 * (chunk, unidirectional 5-tuple, VNI) among them; bound = 16 x bytes +
 * allowance.  Exit 0, or 2 with a message on stderr.
 */
#include <inttypes.h>
#include <stdio.h>

#include "../unit/workbound.h"

int main(int argc, char **argv)
{
	idx_rstore rs;
	idx_expr *e = NULL;
	idx_expr_err perr;
	idx_query_stats st;
	wb_work w;
	char err[1024] = "";
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: work-bound STORE EXPR\n");
		return 2;
	}
	if (idx_expr_parse(argv[2], 0, &e, &perr) != 0) {
		fprintf(stderr, "work-bound: '%s': at byte %d: %s\n", argv[2], perr.pos, perr.msg);
		return 2;
	}
	if ((rc = idx_rstore_open(argv[1], &rs)) != 0) {
		fprintf(stderr, "work-bound: %s: cannot open the store: %s\n", argv[1], tv_strerror(rc));
		idx_expr_free(e);
		return 2;
	}
	memset(&w, 0, sizeof w);
	memset(&st, 0, sizeof st);
	rc = idx_query_run_hits(&rs, 1, e, false, wb_on_hit, &w, &st, err, sizeof err);
	if (rc != 0)
		fprintf(stderr, "work-bound: %s: query '%s' failed: %s\n", argv[1], argv[2],
		        err[0] ? err : tv_strerror(rc));
	else
		printf("packets=%" PRIu64 " bytes=%" PRIu64 " flow_chunks=%zu allowance=%.0f bound=%.0f "
		       "chunks_planned=%" PRIu64 " chunks_total=%" PRIu64 " chunks_read=%" PRIu64
		       " blocks_read=%" PRIu64 " bytes_decoded=%" PRIu64 "\n",
		       w.packets, w.bytes, w.n, wb_allowance(&w), wb_bound(&w),
		       (uint64_t)st.plan.chunks_planned, (uint64_t)st.plan.chunks_total,
		       st.chunks_read, st.blocks_read, st.bytes_decoded);
	wb_free(&w);
	idx_rstore_close(&rs);
	idx_expr_free(e);
	return rc == 0 ? 0 : 2;
}
