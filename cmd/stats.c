/*
 * stats.c — `tapvault stats -s STORE`: totals and counters of a store.
 */
#include "cmd.h"
#include "../index/vault.h"

#include <getopt.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault stats -s STORE [--format text|json|prometheus]\n"
	        "\n"
	        "Prints the store's totals (chunks, packets, bytes, compression, time span)\n"
	        "and every counter ingest has committed (decapsulation results and rejects by\n"
	        "reason).  Reads a live store without disturbing its writer.\n"
	        "\n"
	        "options:\n"
	        "  -s, --store DIR     the store\n"
	        "  -f, --format F      text (default), json, or prometheus (text exposition\n"
	        "                      format, for node_exporter's textfile collector)\n"
	        "  -h, --help          this help\n");
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
	idx_totals t;
	tv_counters ctr;
	uint64_t segbytes = 0;
	char a[48], b[48], s1[32], s2[32], s3[32];
	int c, rc, i;

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
		cmd_err("stats", "%s: cannot open the store: %s", store,
		        rc == TV_E_NOTFOUND ? "not a tapvault store (no index/ inside)" : tv_strerror(rc));
		return EXIT_USAGE;
	}
	rc = idx_totals_get(rs.x, &t);
	if (rc == 0)
		rc = idx_counters_get(rs.x, &ctr);
	if (rc == 0)
		rc = store_segs_size(rs.segs, 0, &segbytes);
	idx_rstore_close(&rs);
	if (rc) {
		cmd_err("stats", "%s: %s", store, tv_strerror(rc));
		return EXIT_FAILURE;
	}
	if (strcmp(fmt, "json") == 0) {
		printf("{\"store\":\"%s\",\"chunks\":%llu,\"packets\":%llu,\"bytes\":%llu,"
		       "\"raw_bytes\":%llu,\"compressed_bytes\":%llu,\"segment_bytes\":%llu,"
		       "\"segments\":%u,\"postings\":%llu,\"first_ts_ns\":%llu,\"last_ts_ns\":%llu,"
		       "\"counters\":{",
		       store, (unsigned long long)t.chunks, (unsigned long long)t.packets,
		       (unsigned long long)t.orig_bytes, (unsigned long long)t.raw_bytes,
		       (unsigned long long)t.comp_bytes, (unsigned long long)segbytes, t.segments,
		       (unsigned long long)t.postings, (unsigned long long)t.first_ts,
		       (unsigned long long)t.last_ts);
		for (i = 0; i < TV_CTR__COUNT; i++)
			printf("%s\"%s\":%llu", i ? "," : "", tv_counter_name(i), (unsigned long long)ctr.v[i]);
		printf("}}\n");
		return EXIT_OK;
	}
	if (strcmp(fmt, "prometheus") == 0) {
		printf("# HELP tapvault_chunks Chunks in the store.\n# TYPE tapvault_chunks gauge\n"
		       "tapvault_chunks %llu\n", (unsigned long long)t.chunks);
		printf("# HELP tapvault_packets Packets in the store.\n# TYPE tapvault_packets gauge\n"
		       "tapvault_packets %llu\n", (unsigned long long)t.packets);
		printf("# HELP tapvault_segment_bytes Bytes of segment files.\n# TYPE tapvault_segment_bytes gauge\n"
		       "tapvault_segment_bytes %llu\n", (unsigned long long)segbytes);
		printf("# HELP tapvault_counter Ingest counters by dotted name.\n# TYPE tapvault_counter counter\n");
		for (i = 0; i < TV_CTR__COUNT; i++)
			printf("tapvault_counter{name=\"%s\"} %llu\n", tv_counter_name(i), (unsigned long long)ctr.v[i]);
		return EXIT_OK;
	}
	idx_time_format(t.first_ts, a, sizeof a);
	idx_time_format(t.last_ts, b, sizeof b);
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
	printf("postings    %llu\n", (unsigned long long)t.postings);
	printf("counters:\n");
	cmd_print_counters(stdout, &ctr, "  ");
	return EXIT_OK;
}
