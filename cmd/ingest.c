/*
 * ingest.c — `tapvault ingest`: capture files into a store.
 */
#include "cmd.h"
#include "../ingest/ingest.h"
#include "../index/vault.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault ingest -s STORE -r FILE|DIR|- [FILE ...] [OPTIONS]\n"
	        "\n"
	        "Reads pcap or pcapng captures of mirrored traffic, removes the tunnel (VXLAN,\n"
	        "GENEVE, GENEVE+VXLAN), and stores every inner packet in zstd-compressed chunks\n"
	        "indexed by address, port, protocol, 5-tuple, VNI and time.  Frames that are not\n"
	        "tunnelled are stored as they are.  Several files, or a directory (read in the\n"
	        "order of each file's first packet), or '-' for standard input.  A file already\n"
	        "ingested is recognised (by its first 64 KiB and size) and only the packets not\n"
	        "yet stored are added, so an interrupted run can simply be repeated.\n"
	        "\n"
	        "options:\n"
	        "  -s, --store DIR         the store (created if absent)\n"
	        "  -r, --read FILE         a capture file, a directory, or '-'; repeatable;\n"
	        "                          further arguments are more files\n"
	        "      --vxlan-port LIST   UDP ports that carry VXLAN (default 4789)\n"
	        "      --linux-vxlan       also decode Linux's legacy VXLAN port 8472\n"
	        "      --geneve-port LIST  UDP ports that carry GENEVE (default 6081)\n"
	        "      --strict-vxlan      reject VXLAN headers with reserved bits set\n"
	        "      --chunk-size SIZE   seal a chunk at this much raw data (default 1MiB)\n"
	        "      --segment-size SIZE start a new segment file after this (default 1GiB)\n"
	        "      --zstd-level N      zstd compression level 1-19 (default 3)\n"
	        "      --commit-chunks N   chunks per fdatasync + index commit (default 1)\n"
	        "      --no-sync           do not fdatasync (tests and benchmarks only)\n"
	        "      --flow-interval S   flow-record aggregation window: 600 (default) or 60\n"
	        "      --flow-max N        flow-table entries before an early flush (default 262144)\n"
	        "      --no-flows          do not synthesise flow records\n"
	        "  -q, --quiet             no progress line and no summary\n"
	        "  -v, --verbose           print every counter in the summary\n"
	        "  -h, --help              this help\n"
	        "\n"
	        "SIZE takes K, M, G, T suffixes (powers of 1024).  A progress line (bytes,\n"
	        "packets/s, ETA) is drawn on a terminal; nothing when stderr is not one.\n");
}

static int parse_ports(const char *s, uint16_t *ports, int *n, int max)
{
	char buf[256], *tok, *save = NULL;
	snprintf(buf, sizeof buf, "%s", s);
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		if (*n >= max || cmd_parse_uint(tok, 1, 65535, &v) != 0)
			return -1;
		ports[(*n)++] = (uint16_t)v;
	}
	return *n > 0 ? 0 : -1;
}

enum {
	OPT_VXLAN_PORT = 1000,
	OPT_LINUX_VXLAN,
	OPT_GENEVE_PORT,
	OPT_STRICT_VXLAN,
	OPT_CHUNK_SIZE,
	OPT_SEGMENT_SIZE,
	OPT_ZSTD_LEVEL,
	OPT_COMMIT_CHUNKS,
	OPT_NO_SYNC,
	OPT_FLOW_INTERVAL,
	OPT_FLOW_MAX,
	OPT_NO_FLOWS,
};

static const struct option longopts[] = {
	{ "store", required_argument, NULL, 's' },
	{ "read", required_argument, NULL, 'r' },
	{ "vxlan-port", required_argument, NULL, OPT_VXLAN_PORT },
	{ "linux-vxlan", no_argument, NULL, OPT_LINUX_VXLAN },
	{ "geneve-port", required_argument, NULL, OPT_GENEVE_PORT },
	{ "strict-vxlan", no_argument, NULL, OPT_STRICT_VXLAN },
	{ "chunk-size", required_argument, NULL, OPT_CHUNK_SIZE },
	{ "segment-size", required_argument, NULL, OPT_SEGMENT_SIZE },
	{ "zstd-level", required_argument, NULL, OPT_ZSTD_LEVEL },
	{ "commit-chunks", required_argument, NULL, OPT_COMMIT_CHUNKS },
	{ "no-sync", no_argument, NULL, OPT_NO_SYNC },
	{ "flow-interval", required_argument, NULL, OPT_FLOW_INTERVAL },
	{ "flow-max", required_argument, NULL, OPT_FLOW_MAX },
	{ "no-flows", no_argument, NULL, OPT_NO_FLOWS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cmd_ingest(int argc, char **argv)
{
	const char *store = NULL;
	const char **files;
	int nfiles = 0, c, rc, ret = EXIT_OK, linux_vxlan = 0;
	ingest_decap_cfg dcfg;
	idx_vault_cfg vcfg;
	idx_recovery rec;
	tv_counters ctr;
	ingest_file_src *src = NULL;
	ingest_decap *dec = NULL;
	idx_vault *v = NULL;
	cmd_progress prog;
	char err[1024];
	uint64_t t0, val;
	int cur_file = -1;
	uint64_t cur_done = 0;
	const uint8_t *cur_id = NULL;
	static const uint8_t zero_id[40];

	files = calloc((size_t)argc + 1, sizeof *files);
	if (!files)
		return EXIT_FAILURE;
	ingest_decap_cfg_default(&dcfg);
	idx_vault_cfg_default(&vcfg);
	memset(&ctr, 0, sizeof ctr);

	optind = 0; /* 0: GNU getopt re-initialises (the demo calls several commands) */
	while ((c = getopt_long(argc, argv, "s:r:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'r': files[nfiles++] = optarg; break;
		case 'q': g_cmd.quiet = 1; break;
		case 'v': g_cmd.verbose++; break;
		case 'h': usage(stdout); free(files); return EXIT_OK;
		case OPT_VXLAN_PORT:
			if (parse_ports(optarg, dcfg.vxlan_ports, &dcfg.n_vxlan_ports, INGEST_MAX_PORTS - 1)) {
				cmd_err("ingest", "--vxlan-port '%s': expected a comma-separated list of ports 1-65535", optarg);
				goto usage_fail;
			}
			break;
		case OPT_LINUX_VXLAN: linux_vxlan = 1; break;
		case OPT_GENEVE_PORT:
			if (parse_ports(optarg, dcfg.geneve_ports, &dcfg.n_geneve_ports, INGEST_MAX_PORTS)) {
				cmd_err("ingest", "--geneve-port '%s': expected a comma-separated list of ports 1-65535", optarg);
				goto usage_fail;
			}
			break;
		case OPT_STRICT_VXLAN: dcfg.strict_vxlan = true; break;
		case OPT_CHUNK_SIZE:
			if (cmd_parse_size(optarg, &val) || val < 4096 || val > (64u << 20)) {
				cmd_err("ingest", "--chunk-size '%s': expected a size from 4K to 64M", optarg);
				goto usage_fail;
			}
			vcfg.builder.raw_target = (uint32_t)val;
			break;
		case OPT_SEGMENT_SIZE:
			if (cmd_parse_size(optarg, &val) || val < (64u << 10)) {
				cmd_err("ingest", "--segment-size '%s': expected a size of at least 64K", optarg);
				goto usage_fail;
			}
			vcfg.segs.segment_size = val;
			break;
		case OPT_ZSTD_LEVEL:
			if (cmd_parse_uint(optarg, 1, 19, &val)) {
				cmd_err("ingest", "--zstd-level '%s': expected a number from 1 to 19", optarg);
				goto usage_fail;
			}
			vcfg.builder.zstd_level = (int)val;
			break;
		case OPT_COMMIT_CHUNKS:
			if (cmd_parse_uint(optarg, 1, 64, &val)) {
				cmd_err("ingest", "--commit-chunks '%s': expected a number from 1 to 64", optarg);
				goto usage_fail;
			}
			vcfg.commit_chunks = (uint32_t)val;
			break;
		case OPT_NO_SYNC: vcfg.segs.sync = false; break;
		case OPT_FLOW_INTERVAL:
			if (cmd_parse_uint(optarg, 1, 86400, &val) || (val != 60 && val != 600)) {
				cmd_err("ingest", "--flow-interval '%s': expected 60 or 600 (seconds), "
				        "the two aggregation intervals VPC Flow Logs offer", optarg);
				goto usage_fail;
			}
			vcfg.flowtab.interval = (uint32_t)val;
			break;
		case OPT_FLOW_MAX:
			if (cmd_parse_uint(optarg, 1024, 1u << 28, &val)) {
				cmd_err("ingest", "--flow-max '%s': expected a number from 1024 to 268435456", optarg);
				goto usage_fail;
			}
			vcfg.flowtab.max_flows = (uint32_t)val;
			break;
		case OPT_NO_FLOWS: vcfg.flows = false; break;
		default: goto usage_fail;
		}
	}
	while (optind < argc)
		files[nfiles++] = argv[optind++];
	if (!store) {
		cmd_err("ingest", "no store given: use -s DIR");
		goto usage_fail;
	}
	if (nfiles == 0) {
		cmd_err("ingest", "nothing to read: give -r FILE, a directory, or -");
		goto usage_fail;
	}
	if (linux_vxlan && dcfg.n_vxlan_ports < INGEST_MAX_PORTS)
		dcfg.vxlan_ports[dcfg.n_vxlan_ports++] = 8472;

	rc = ingest_file_src_open(files, nfiles, &src, err, sizeof err);
	if (rc) {
		cmd_err("ingest", "%s", err);
		ret = EXIT_USAGE;
		goto out;
	}
	rc = idx_vault_open(store, &vcfg, &ctr, &rec, &v);
	if (rc) {
		cmd_err("ingest", "%s: cannot open the store: %s", store, tv_strerror(rc));
		ret = rc == TV_E_VERSION || rc == TV_E_CORRUPT ? EXIT_USAGE : EXIT_FAILURE;
		goto out;
	}
	if (rec.chunks_indexed || rec.torn_bytes)
		cmd_note("ingest", "%s: recovered after an interrupted run: %llu whole chunks (%llu packets) "
		         "indexed, %llu torn bytes cut from segment %u at offset %llu",
		         store, (unsigned long long)rec.chunks_indexed,
		         (unsigned long long)rec.packets_indexed, (unsigned long long)rec.torn_bytes,
		         rec.torn_segment, (unsigned long long)rec.torn_offset);
	rc = ingest_decap_new(&dcfg, &ctr, &dec);
	if (rc) {
		cmd_err("ingest", "%s", tv_strerror(rc));
		ret = EXIT_FAILURE;
		goto out;
	}
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	cmd_progress_init(&prog);
	t0 = cmd_mono_ns();
	for (;;) {
		ingest_raw raw;
		tv_pkt pkt;
		if (stop_requested) {
			cmd_note("ingest", "interrupted: storing what was read");
			break;
		}
		rc = ingest_file_src_next(src, &raw, err, sizeof err);
		if (rc == 0)
			break;
		if (rc < 0) {
			cmd_progress_end(&prog);
			cmd_err("ingest", "%s", err);
			ctr.v[TV_CTR_SRC_READ_ERRORS]++;
			ret = EXIT_USAGE;
			break;
		}
		if ((int)raw.file_idx != cur_file) {
			cur_file = (int)raw.file_idx;
			cur_id = ingest_file_src_identity(src, cur_file);
			if (cur_id && memcmp(cur_id, zero_id, 40) == 0)
				cur_id = NULL; /* standard input: no identity */
			cur_done = 0;
			if (cur_id && idx_source_get(idx_vault_index(v), cur_id, &cur_done) == 0 && cur_done)
				cmd_note("ingest", "%s: %llu packets are already stored; skipping them",
				         ingest_file_src_path(src, cur_file), (unsigned long long)cur_done);
		}
		if (raw.ordinal < cur_done) {
			ctr.v[TV_CTR_SRC_SKIPPED_DUP]++;
			continue;
		}
		ctr.v[TV_CTR_SRC_PACKETS]++;
		ctr.v[TV_CTR_SRC_BYTES] += raw.caplen;
		if (ingest_decap_packet(dec, raw.linktype, raw.data, raw.caplen, raw.origlen, raw.ts_ns,
		                        &pkt) != INGEST_STORE)
			continue;
		rc = idx_vault_add(v, &pkt, cur_id, raw.ordinal);
		if (rc) {
			cmd_progress_end(&prog);
			cmd_err("ingest", "%s: storing failed: %s", store, tv_strerror(rc));
			ret = EXIT_FAILURE;
			break;
		}
		if ((ctr.v[TV_CTR_SRC_PACKETS] & 1023) == 0)
			cmd_progress_update(&prog, "ingest", ingest_file_src_done_bytes(src),
			                    ingest_file_src_total_bytes(src), ctr.v[TV_CTR_SRC_PACKETS], "pkt");
	}
	cmd_progress_end(&prog);
	rc = idx_vault_close(v);
	v = NULL;
	if (rc) {
		cmd_err("ingest", "%s: final commit failed: %s", store, tv_strerror(rc));
		ret = EXIT_FAILURE;
	}
	if (!g_cmd.quiet) {
		double secs = (double)(cmd_mono_ns() - t0) / 1e9;
		char b1[32], b2[32], b3[32];
		uint64_t rejected = 0;
		int i;
		cmd_fmt_bytes(ctr.v[TV_CTR_SRC_BYTES], b1, sizeof b1);
		cmd_fmt_bytes(ctr.v[TV_CTR_STORE_RAW_BYTES], b2, sizeof b2);
		cmd_fmt_bytes(ctr.v[TV_CTR_STORE_COMP_BYTES], b3, sizeof b3);
		for (i = TV_CTR_DECAP_ETH_TRUNC; i <= TV_CTR_DECAP_TOO_DEEP; i++)
			rejected += ctr.v[i];
		printf("read     %llu packets (%s) from %d file(s) in %.2f s (%.0f packets/s)\n",
		       (unsigned long long)ctr.v[TV_CTR_SRC_PACKETS], b1, ingest_file_src_count(src), secs,
		       secs > 0 ? (double)ctr.v[TV_CTR_SRC_PACKETS] / secs : 0.0);
		if (ctr.v[TV_CTR_SRC_SKIPPED_DUP])
			printf("skipped  %llu packets already in the store\n",
			       (unsigned long long)ctr.v[TV_CTR_SRC_SKIPPED_DUP]);
		printf("decap    %llu tunnelled (vxlan %llu, geneve %llu, geneve+vxlan %llu), "
		       "%llu not tunnelled, %llu with tunnel errors\n",
		       (unsigned long long)ctr.v[TV_CTR_DECAP_OK], (unsigned long long)ctr.v[TV_CTR_DECAP_VXLAN],
		       (unsigned long long)ctr.v[TV_CTR_DECAP_GENEVE],
		       (unsigned long long)ctr.v[TV_CTR_DECAP_GENEVE_VXLAN],
		       (unsigned long long)ctr.v[TV_CTR_DECAP_NOT_TUNNELLED], (unsigned long long)rejected);
		printf("stored   %llu packets in %llu chunks: %s raw, %s on disk (ratio %.2f)\n",
		       (unsigned long long)ctr.v[TV_CTR_STORE_PACKETS],
		       (unsigned long long)ctr.v[TV_CTR_STORE_CHUNKS], b2, b3,
		       ctr.v[TV_CTR_STORE_COMP_BYTES]
		               ? (double)ctr.v[TV_CTR_STORE_RAW_BYTES] / (double)ctr.v[TV_CTR_STORE_COMP_BYTES]
		               : 0.0);
		if (vcfg.flows)
			printf("flows    %llu flow records (%u s windows)%s\n",
			       (unsigned long long)ctr.v[TV_CTR_FLOW_RECORDS], vcfg.flowtab.interval,
			       ctr.v[TV_CTR_FLOW_EARLY_FLUSH] ? ", flow table flushed early (cap reached)" : "");
		if (ctr.v[TV_CTR_SRC_LINKTYPE])
			printf("dropped  %llu packets of an unsupported link type\n",
			       (unsigned long long)ctr.v[TV_CTR_SRC_LINKTYPE]);
		if (g_cmd.verbose) {
			printf("counters:\n");
			cmd_print_counters(stdout, &ctr, "  ");
		}
	}
out:
	idx_vault_close(v);
	ingest_decap_free(dec);
	ingest_file_src_close(src);
	free(files);
	return ret;
usage_fail:
	usage(stderr);
	free(files);
	return EXIT_USAGE;
}
