/*
 * test_work2.c — the work a query does on a version-2 store follows its
 * matches: on a generated enterprise-like capture (tv-gen --profile
 * enterprise: many concurrent flows, a beacon, a spread client), the bytes
 * decoded for the beaconing host and the spread client stay under
 * 16 x the bytes of the packets returned + 64 KiB per matching flow per
 * 1 MiB of raw chunk (workbound.h, the bench's definition too).  Asserted
 * on the query's counters, never on time.
 */
#include "v2store.h"
#include "rmtmp.h"
#include "workbound.h"

#include <fcntl.h>
#include <inttypes.h>

static char tdir[64], store[128], hosts[128];

static void setup(void)
{
	char pcap[160];
	strcpy(tdir, "/tmp/tv-work2-XXXXXX");
	cr_assert_not_null(mkdtemp(tdir));
	snprintf(pcap, sizeof pcap, "%s/e.pcap", tdir);
	snprintf(hosts, sizeof hosts, "%s/hosts.csv", tdir);
	snprintf(store, sizeof store, "%s/v2", tdir);
	/* 150 s: ten beacon connections; about 18 MiB of frames, 1 MiB chunks */
	const char *args[] = { "--outer", pcap, "--hosts", hosts, "--seed", "3", "--profile",
		               "enterprise", "--bytes", "12000000", "--duration", "150", "--flows",
		               "3000", NULL };
	v2_tvgen(args);
	cr_assert_gt(v2_build(pcap, store, NULL, NULL), 20000);
}

static void teardown(void)
{
	cr_assert_eq(test_rmtree(tdir), 0);
}

typedef struct host {
	char addr[64];
	uint64_t packets, flows;
} host;

/* The row of role in tv-gen's --hosts file. */
static host host_get(const char *role)
{
	FILE *f = fopen(hosts, "r");
	char line[512];
	host h;
	memset(&h, 0, sizeof h);
	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f)) {
		char r[32];
		if (sscanf(line, "%31[^,],%63[^,],%" SCNu64 ",%*u,%" SCNu64, r, h.addr, &h.packets,
		           &h.flows) == 4 &&
		    strcmp(r, role) == 0) {
			fclose(f);
			return h;
		}
	}
	fclose(f);
	cr_assert_fail("%s: no %s row", hosts, role);
	return h;
}

static void check(const char *role, uint64_t min_flows)
{
	host h = host_get(role);
	idx_rstore rs;
	idx_expr *e;
	idx_expr_err perr;
	idx_query_stats st;
	char text[96], err[1024];
	wb_work w;
	double bound;

	cr_assert_geq(h.flows, min_flows, "%s: %" PRIu64 " flows", role, h.flows);
	snprintf(text, sizeof text, "host %s", h.addr);
	cr_assert_eq(idx_expr_parse(text, 0, &e, &perr), 0);
	cr_assert_eq(idx_rstore_open(store, &rs), 0);
	memset(&w, 0, sizeof w);
	cr_assert_eq(idx_query_run_hits(&rs, 1, e, false, wb_on_hit, &w, &st, err, sizeof err), 0,
	             "%s", err);
	cr_assert_eq(w.packets, h.packets, "%s: the answer holds the truth's packets", text);
	bound = wb_bound(&w);
	cr_log_info("%s: %" PRIu64 " packets, %" PRIu64 " bytes returned, %zu flow-chunks; %" PRIu64
	            " of %" PRIu64 " chunks planned, %" PRIu64 " blocks read, %" PRIu64
	            " bytes decoded, bound %.0f",
	            text, w.packets, w.bytes, w.n, st.plan.chunks_planned, st.plan.chunks_total,
	            st.blocks_read, st.bytes_decoded, bound);
	cr_assert_gt(st.bytes_decoded, 0);
	cr_assert_lt((double)st.bytes_decoded, bound,
	             "%s: %" PRIu64 " bytes decoded for %" PRIu64 " returned in %zu flow-chunks", text,
	             st.bytes_decoded, w.bytes, w.n);
	/* a flow's records lie in few blocks: not a whole chunk per chunk touched */
	cr_assert_lt(st.blocks_read, 3 * w.n + st.chunks_read, "%s", text);
	wb_free(&w);
	idx_rstore_close(&rs);
	idx_expr_free(e);
}

Test(work2, beacon_host_decodes_within_the_work_formula, .init = setup, .fini = teardown,
     .timeout = 240)
{
	check("beacon", 10);
}

Test(work2, spread_client_decodes_within_the_work_formula, .init = setup, .fini = teardown,
     .timeout = 240)
{
	check("client", 50);
}
