/*
 * stats.c — `tapvault stats -s STORE`: totals and counters of a store.
 */
#include "cmd.h"
#include "../index/vault.h"

#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static double seal_ms(const tv_counters *c)
{
	return c->v[TV_CTR_LIVE_SEALS]
	               ? (double)c->v[TV_CTR_LIVE_SEAL_US] / (double)c->v[TV_CTR_LIVE_SEALS] / 1000.0
	               : 0.0;
}

/* name, help, type, value: the figures an operator graphs. */
static void prom(const char *name, const char *help, const char *type, uint64_t v)
{
	printf("# HELP tapvault_%s %s\n# TYPE tapvault_%s %s\ntapvault_%s %llu\n", name, help, name, type,
	       name, (unsigned long long)v);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault stats -s STORE [--format text|json|prometheus]\n"
	        "\n"
	        "Prints the store's totals (chunks, packets, bytes, compression, time span)\n"
	        "and every counter ingest has committed (decapsulation results and rejects by\n"
	        "reason).  Reads a live store without disturbing its writer: counters are as\n"
	        "of the writer's last commit (at most about one seal interval old).  For live\n"
	        "ingest also: datagrams received, kernel drops, rejects by reason, active flows,\n"
	        "seal latency (first packet to queryable), retention deletions.\n"
	        "\n"
	        "options:\n"
	        "  -s, --store DIR     the store\n"
	        "  -f, --format F      text (default), json, or prometheus (text exposition\n"
	        "                      format, for node_exporter's textfile collector)\n"
	        "  -q, --quiet         no notes on stderr\n"
	        "  -h, --help          this help\n");
}

/* What stats shows: read once, printed in one of three formats. */
struct view {
	const char *store;
	idx_totals t;
	tv_counters ctr;
	uint64_t segbytes, pruned;
	int running;
};

static void print_json(const struct view *w)
{
	int i;
	const idx_totals t = w->t;
	const tv_counters ctr = w->ctr;
	const char *store = w->store;
	uint64_t segbytes = w->segbytes, pruned = w->pruned;
	int running = w->running;

	printf("{\"store\":\"%s\",\"chunks\":%llu,\"packets\":%llu,\"bytes\":%llu,"
	       "\"raw_bytes\":%llu,\"compressed_bytes\":%llu,\"segment_bytes\":%llu,"
	       "\"segments\":%u,\"postings\":%llu,\"first_ts_ns\":%llu,\"last_ts_ns\":%llu,"
	       "\"format\":%u,\"slices\":%llu,\"blocks\":%llu,\"flows\":%llu,\"index_bytes\":%llu,"
	       "\"counters\":{",
	       store, (unsigned long long)t.chunks, (unsigned long long)t.packets,
	       (unsigned long long)t.orig_bytes, (unsigned long long)t.raw_bytes,
	       (unsigned long long)t.comp_bytes, (unsigned long long)segbytes, t.segments,
	       (unsigned long long)t.postings, (unsigned long long)t.first_ts,
	       (unsigned long long)t.last_ts, t.format, (unsigned long long)t.slices,
	       (unsigned long long)t.blocks, (unsigned long long)t.flows,
	       (unsigned long long)t.index_bytes);
	for (i = 0; i < TV_CTR__COUNT; i++)
		printf("%s\"%s\":%llu", i ? "," : "", tv_counter_name(i), (unsigned long long)ctr.v[i]);
	printf("},\"live\":{\"writer_running\":%s,\"received\":%llu,\"decapsulated\":%llu,"
	       "\"stored\":%llu,\"kernel_drops\":%llu,\"rejected\":%llu,\"tunnel_errors\":%llu,"
	       "\"no_space\":%llu,"
	       "\"active_flows\":%llu,\"compression_ratio\":%.3f,\"seal_latency_avg_ms\":%.1f,"
	       "\"seals_over_2s\":%llu,\"retention_segments_deleted\":%llu,"
	       "\"retention_bytes_deleted\":%llu,\"pruned_until_ns\":%llu}}\n",
	       running > 0 ? "true" : "false", (unsigned long long)ctr.v[TV_CTR_LIVE_RECEIVED],
	       (unsigned long long)ctr.v[TV_CTR_DECAP_OK], (unsigned long long)ctr.v[TV_CTR_STORE_PACKETS],
	       (unsigned long long)ctr.v[TV_CTR_LIVE_KERNEL_DROPS], (unsigned long long)cmd_ctr_live_rejects(&ctr),
	       (unsigned long long)cmd_ctr_tunnel_errors(&ctr), (unsigned long long)ctr.v[TV_CTR_STORE_NOSPACE_PKTS],
	       (unsigned long long)ctr.v[TV_CTR_FLOW_ACTIVE],
	       t.comp_bytes ? (double)t.raw_bytes / (double)t.comp_bytes : 0.0, seal_ms(&ctr),
	       (unsigned long long)ctr.v[TV_CTR_LIVE_SEAL_SLOW],
	       (unsigned long long)ctr.v[TV_CTR_RET_SEGMENTS], (unsigned long long)ctr.v[TV_CTR_RET_BYTES],
	       (unsigned long long)pruned);
}

static void print_prometheus(const struct view *w)
{
	int i;
	const idx_totals t = w->t;
	const tv_counters ctr = w->ctr;
	uint64_t segbytes = w->segbytes, pruned = w->pruned;
	int running = w->running;

	printf("# HELP tapvault_chunks Chunks in the store.\n# TYPE tapvault_chunks gauge\n"
	       "tapvault_chunks %llu\n", (unsigned long long)t.chunks);
	printf("# HELP tapvault_packets Packets in the store.\n# TYPE tapvault_packets gauge\n"
	       "tapvault_packets %llu\n", (unsigned long long)t.packets);
	printf("# HELP tapvault_index_bytes Bytes of index pages in use.\n# TYPE tapvault_index_bytes gauge\n"
	       "tapvault_index_bytes %llu\n", (unsigned long long)t.index_bytes);
	printf("# HELP tapvault_segment_bytes Bytes of segment files.\n# TYPE tapvault_segment_bytes gauge\n"
	       "tapvault_segment_bytes %llu\n", (unsigned long long)segbytes);
	prom("writer_running", "1 while an ingest holds the store.", "gauge", running > 0);
	prom("received_total", "Datagrams or frames received by live ingest.", "counter",
	     ctr.v[TV_CTR_LIVE_RECEIVED]);
	prom("kernel_drops_total", "Datagrams the kernel dropped (socket or ring full).", "counter",
	     ctr.v[TV_CTR_LIVE_KERNEL_DROPS]);
	prom("rejected_total", "Datagrams rejected (sender, VNI, size).", "counter", cmd_ctr_live_rejects(&ctr));
	prom("tunnel_errors_total", "Packets with a bad tunnel header, stored as outer frames.",
	     "counter", cmd_ctr_tunnel_errors(&ctr));
	prom("stored_packets_total", "Packets stored.", "counter", ctr.v[TV_CTR_STORE_PACKETS]);
	prom("no_space_packets_total", "Packets not stored for lack of free space.", "counter",
	     ctr.v[TV_CTR_STORE_NOSPACE_PKTS]);
	prom("active_flows", "Flow-table entries at the last commit.", "gauge", ctr.v[TV_CTR_FLOW_ACTIVE]);
	prom("seal_latency_microseconds_sum", "First packet to queryable, summed over seals.", "counter",
	     ctr.v[TV_CTR_LIVE_SEAL_US]);
	prom("seal_latency_microseconds_count", "Seals measured.", "counter", ctr.v[TV_CTR_LIVE_SEALS]);
	prom("retention_segments_deleted_total", "Segments deleted by retention.", "counter",
	     ctr.v[TV_CTR_RET_SEGMENTS]);
	prom("pruned_until_seconds", "Packets before this time may have been pruned.", "gauge",
	     pruned / 1000000000u);
	printf("# HELP tapvault_counter Ingest counters by dotted name.\n# TYPE tapvault_counter counter\n");
	for (i = 0; i < TV_CTR__COUNT; i++)
		printf("tapvault_counter{name=\"%s\"} %llu\n", tv_counter_name(i), (unsigned long long)ctr.v[i]);
}

static void print_text(const struct view *w)
{
	char a[48], b[48], s1[32], s2[32], s3[32];
	const idx_totals t = w->t;
	const tv_counters ctr = w->ctr;
	const char *store = w->store;
	uint64_t segbytes = w->segbytes, pruned = w->pruned;
	int running = w->running;

	tv_time_format(t.first_ts, a, sizeof a);
	tv_time_format(t.last_ts, b, sizeof b);
	cmd_fmt_bytes(t.orig_bytes, s1, sizeof s1);
	cmd_fmt_bytes(t.raw_bytes, s2, sizeof s2);
	cmd_fmt_bytes(segbytes, s3, sizeof s3);
	printf("store       %s\n", store);
	printf("chunks      %llu in %u segment(s)\n", (unsigned long long)t.chunks, t.segments);
	printf("packets     %llu (%s on the wire)\n", (unsigned long long)t.packets, s1);
	printf("stored      %s raw, %s on disk, compression ratio %.2f\n", s2, s3,
	       t.comp_bytes ? (double)t.raw_bytes / (double)t.comp_bytes : 0.0);
	if (t.packets)
		printf("time        %s .. %s\n", a, b);
	cmd_fmt_bytes(t.index_bytes, s1, sizeof s1);
	printf("postings    %llu\n", (unsigned long long)t.postings);
	printf("format      %u: %llu slices, %llu blocks, %llu flows; index %s\n", t.format,
	       (unsigned long long)t.slices, (unsigned long long)t.blocks,
	       (unsigned long long)t.flows, s1);
	if (running >= 0)
		printf("writer      %s\n", running ? "an ingest is running on this store" : "none");
	if (ctr.v[TV_CTR_LIVE_RECEIVED] || ctr.v[TV_CTR_LIVE_KERNEL_DROPS]) {
		printf("live        received %llu, decapsulated %llu, stored %llu, kernel drops %llu, "
		       "rejected %llu (sender %llu, vni %llu, oversize %llu), tunnel errors %llu (stored as "
		       "outer frames)\n",
		       (unsigned long long)ctr.v[TV_CTR_LIVE_RECEIVED], (unsigned long long)ctr.v[TV_CTR_DECAP_OK],
		       (unsigned long long)ctr.v[TV_CTR_STORE_PACKETS],
		       (unsigned long long)ctr.v[TV_CTR_LIVE_KERNEL_DROPS], (unsigned long long)cmd_ctr_live_rejects(&ctr),
		       (unsigned long long)ctr.v[TV_CTR_LIVE_REJ_SENDER], (unsigned long long)ctr.v[TV_CTR_LIVE_REJ_VNI],
		       (unsigned long long)ctr.v[TV_CTR_LIVE_REJ_TRUNC], (unsigned long long)cmd_ctr_tunnel_errors(&ctr));
		printf("            active flows %llu, seal latency %.1f ms average (%llu seals, %llu over 2 s)\n",
		       (unsigned long long)ctr.v[TV_CTR_FLOW_ACTIVE], seal_ms(&ctr),
		       (unsigned long long)ctr.v[TV_CTR_LIVE_SEALS], (unsigned long long)ctr.v[TV_CTR_LIVE_SEAL_SLOW]);
	}
	if (ctr.v[TV_CTR_STORE_NOSPACE_PKTS])
		printf("no space    %llu packets not stored (--min-free)\n",
		       (unsigned long long)ctr.v[TV_CTR_STORE_NOSPACE_PKTS]);
	if (ctr.v[TV_CTR_RET_SEGMENTS] || pruned) {
		char pt[48], rb[32];
		tv_time_format(pruned, pt, sizeof pt);
		cmd_fmt_bytes(ctr.v[TV_CTR_RET_BYTES], rb, sizeof rb);
		printf("retention   %llu segments (%llu chunks, %s) deleted; data before %s pruned\n",
		       (unsigned long long)ctr.v[TV_CTR_RET_SEGMENTS], (unsigned long long)ctr.v[TV_CTR_RET_CHUNKS],
		       rb, pt);
	}
	printf("counters:\n");
	cmd_print_counters(stdout, &ctr, "  ");
}

int cmd_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store = NULL, *fmt = "text";
	idx_rstore rs;
	struct view w;
	int c, rc;

	optind = 0; /* 0: GNU getopt re-initialises (the demo calls several commands) */
	while ((c = getopt_long(argc, argv, "s:f:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'f': fmt = optarg; break;
		case 'q': g_cmd.quiet = 1; break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (strcmp(fmt, "text") && strcmp(fmt, "json") && strcmp(fmt, "prometheus")) {
		cmd_err("stats", "--format '%s': expected text, json or prometheus", fmt);
		return EXIT_USAGE;
	}
	if (!store) {
		cmd_err("stats", "no store given: use -s DIR");
		usage(stderr);
		return EXIT_USAGE;
	}
	rc = idx_rstore_open(store, &rs);
	if (rc) {
		cmd_store_error("stats", store, rc);
		return EXIT_USAGE;
	}
	cmd_store_coverage_note("stats", &rs);
	memset(&w, 0, sizeof w);
	w.store = store;
	rc = idx_totals_get(rs.x, &w.t);
	if (rc == 0)
		rc = idx_counters_get(rs.x, &w.ctr);
	if (rc == 0)
		rc = store_segs_size(rs.segs, 0, &w.segbytes);
	if (rc == 0)
		rc = idx_pruned_until_get(rs.x, &w.pruned);
	idx_rstore_close(&rs);
	w.running = idx_store_writer_active(store);
	if (rc) {
		cmd_err("stats", "%s: %s", store, tv_strerror(rc));
		return EXIT_FAILURE;
	}
	if (strcmp(fmt, "json") == 0)
		print_json(&w);
	else if (strcmp(fmt, "prometheus") == 0)
		print_prometheus(&w);
	else
		print_text(&w);
	return EXIT_OK;
}
