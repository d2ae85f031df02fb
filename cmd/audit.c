/*
 * audit.c — `tapvault audit`: VPC Flow Logs against the archive, and what
 * only the payload shows.  Options, wiring, the report files, exit codes.
 */
#include "cmd.h"
#include "../ingest/tvfile.h"
#include "../index/vault.h"
#include "../report/audit.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATHS 256
#define MAX_OUT 8

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault audit -s STORE --flow-logs F [F ...] [--log-format '${...}']\n"
	        "                      [--vni-map F] [--mirror-filters F] [--sessions F]\n"
	        "                      [--from T] [--to T] [-o report.html|.md|.json|.csv ...]\n"
	        "                      [--fail-on CLASS,...] [--show-secrets]\n"
	        "\n"
	        "Joins AWS VPC Flow Logs with the flows the store synthesised from mirrored\n"
	        "packets, per interface (ENI <-> VNI) and unidirectional 5-tuple, and gives\n"
	        "every flow one class: matched, mirror_fewer, mirror_more, flowlog_only or\n"
	        "mirror_only, with the reason (REJECT, filter excluded, SKIPDATA, traffic flow\n"
	        "logs never record, outside coverage, unexplained, ...).  Then reads the\n"
	        "stored packets for what flow logs cannot show: the protocol actually spoken\n"
	        "against the port, TLS server names, HTTP hosts, DNS names, SSH banners and\n"
	        "cleartext credentials (redacted unless --show-secrets).\n"
	        "\n"
	        "options:\n"
	        "  -s, --store DIR         the store\n"
	        "  -f, --flow-logs F       flow-log files, directories, .gz, tar or zip (repeat;\n"
	        "                          further arguments without an option are flow logs too)\n"
	        "      --log-format FMT    format of files without a header line ('${version} ...')\n"
	        "      --max-log-size SIZE most bytes read from one flow-log file or archive member\n"
	        "                          after decompression (default 1G); the rest of a larger\n"
	        "                          one is skipped and counted (flowlog.rejected.too_large)\n"
	        "      --vni-map F         VNI map: text (vni=N eni=... addr=...), sessions JSON or\n"
	        "                          describe-network-interfaces JSON (repeat)\n"
	        "      --mirror-filters F  describe-traffic-mirror-filters JSON\n"
	        "      --sessions F        describe-traffic-mirror-sessions JSON\n"
	        "      --from T, --to T    audit period (RFC 3339, unix seconds, '2h ago')\n"
	        "  -o, --output FILE       report; the extension picks the form: .html (one\n"
	        "                          self-contained page), .md, .json, .csv (repeat).\n"
	        "                          Without -o, Markdown goes to stdout\n"
	        "      --fail-on LIST      exit 1 when any of these are present: a class\n"
	        "                          (matched, mirror_fewer, mirror_more, flowlog_only,\n"
	        "                          mirror_only), counts_differ, CLASS:REASON, gap (any\n"
	        "                          'unexplained' or flowlog_loss), credentials,\n"
	        "                          protocol_mismatch, any (anything but matched)\n"
	        "      --tolerance-pct P   packets and bytes may differ by P%% and match (default 5)\n"
	        "      --lag DUR           AWS start/end lag tolerated (default 60s)\n"
	        "      --vpc-cidr CIDR     the VPC's CIDR (Amazon DNS is base+2, the router\n"
	        "                          base+1); default: the /16 of the interfaces' addresses\n"
	        "      --max-flows N       cap on distinct flows held (default 4000000)\n"
	        "      --no-payload        do not read the stored packets\n"
	        "      --payload-packets N payload packets looked at per flow (default 8)\n"
	        "      --show-secrets      show credentials in clear in the reports\n"
	        "      --max-rows N        rows per class table in HTML/Markdown (default 200)\n"
	        "  -q, --quiet             no summary or progress on stderr\n"
	        "  -v, --verbose           more detail on stderr\n"
	        "  -h, --help              this help\n"
	        "\n"
	        "exit codes: 0 done; 1 --fail-on matched; 2 bad usage or input; 3 failure.\n");
}

enum {
	OPT_LOG_FORMAT = 256, OPT_VNI_MAP, OPT_FILTERS, OPT_SESSIONS, OPT_FROM, OPT_TO, OPT_FAIL_ON,
	OPT_TOL, OPT_LAG, OPT_VPC, OPT_MAX_FLOWS, OPT_NO_PAYLOAD, OPT_PL_PACKETS, OPT_SHOW_SECRETS,
	OPT_MAX_ROWS, OPT_MAX_LOG_SIZE,
};

static int parse_cidr(const char *s, tv_addr *base, uint8_t *prefix)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	uint64_t pl;
	size_t n = slash ? (size_t)(slash - s) : 0;
	int i, bits;
	if (!slash || n == 0 || n >= sizeof buf)
		return TV_E_SYNTAX;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (tv_addr_parse(buf, base))
		return TV_E_SYNTAX;
	if (cmd_parse_uint(slash + 1, 0, tv_addr_is_v4(base) ? 32 : 128, &pl))
		return TV_E_SYNTAX;
	bits = (int)pl + (tv_addr_is_v4(base) ? 96 : 0);
	for (i = 0; i < 16; i++) {
		int keep = bits - 8 * i;
		if (keep < 8)
			base->b[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
	*prefix = (uint8_t)bits;
	return 0;
}

static void on_progress(void *ctx, const char *phase, uint64_t done)
{
	cmd_progress_count(ctx, "audit:", done, phase);
}

static const struct option longopts[] = {
	{ "store", required_argument, NULL, 's' },
	{ "flow-logs", required_argument, NULL, 'f' },
	{ "output", required_argument, NULL, 'o' },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "vni-map", required_argument, NULL, OPT_VNI_MAP },
	{ "mirror-filters", required_argument, NULL, OPT_FILTERS },
	{ "sessions", required_argument, NULL, OPT_SESSIONS },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "to", required_argument, NULL, OPT_TO },
	{ "fail-on", required_argument, NULL, OPT_FAIL_ON },
	{ "tolerance-pct", required_argument, NULL, OPT_TOL },
	{ "lag", required_argument, NULL, OPT_LAG },
	{ "vpc-cidr", required_argument, NULL, OPT_VPC },
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
	{ "no-payload", no_argument, NULL, OPT_NO_PAYLOAD },
	{ "payload-packets", required_argument, NULL, OPT_PL_PACKETS },
	{ "show-secrets", no_argument, NULL, OPT_SHOW_SECRETS },
	{ "max-rows", required_argument, NULL, OPT_MAX_ROWS },
	{ "max-log-size", required_argument, NULL, OPT_MAX_LOG_SIZE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What the command line says. */
struct aopts {
	const char *store, *logfmt, *filters, *sessions, *failon;
	const char *paths[MAX_PATHS], *maps[MAX_PATHS], *outs[MAX_OUT];
	size_t npaths, nmaps, nouts;
	report_audit_cfg cfg;
	report_audit_out_cfg ocfg;
	report_fl_format fmt;
};


/* getopt and the checks between options: EXIT_OK, HELP_SHOWN or an exit code. */
static int parse_opts(int argc, char **argv, struct aopts *op)
{
	report_fl_err fe;
	char bad[64];
	uint64_t v, ns;
	int c;

	memset(op, 0, sizeof *op);
	report_audit_cfg_default(&op->cfg);
	optind = 0;
	while ((c = getopt_long(argc, argv, "s:f:o:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': op->store = optarg; break;
		case 'f':
			if (op->npaths == MAX_PATHS) { cmd_err("audit", "at most %d flow-log paths", MAX_PATHS); return EXIT_USAGE; }
			op->paths[op->npaths++] = optarg;
			break;
		case 'o':
			if (op->nouts == MAX_OUT) { cmd_err("audit", "at most %d reports (-o)", MAX_OUT); return EXIT_USAGE; }
			if (!report_audit_fmt_from_name(optarg)) {
				cmd_err("audit", "-o '%s': expected a name ending in .html, .md, .json or .csv", optarg);
				return EXIT_USAGE;
			}
			op->outs[op->nouts++] = optarg;
			break;
		case OPT_LOG_FORMAT: op->logfmt = optarg; break;
		case OPT_VNI_MAP:
			if (op->nmaps == MAX_PATHS) { cmd_err("audit", "at most %d VNI maps", MAX_PATHS); return EXIT_USAGE; }
			op->maps[op->nmaps++] = optarg;
			break;
		case OPT_FILTERS: op->filters = optarg; break;
		case OPT_SESSIONS: op->sessions = optarg; break;
		case OPT_FROM:
		case OPT_TO:
			if (tv_time_parse(optarg, tv_clock_real_ns(), &ns)) {
				cmd_err("audit", "--%s '%s': expected RFC 3339, unix seconds or 'N{s,m,h,d} ago'",
				        c == OPT_FROM ? "from" : "to", optarg);
				return EXIT_USAGE;
			}
			if (ns / 1000000000ull > UINT32_MAX) {
				cmd_err("audit", "--%s '%s': out of range", c == OPT_FROM ? "from" : "to", optarg);
				return EXIT_USAGE;
			}
			if (c == OPT_FROM)
				op->cfg.from = (uint32_t)(ns / 1000000000ull);
			else
				op->cfg.to = (uint32_t)(ns / 1000000000ull);
			break;
		case OPT_FAIL_ON: op->failon = optarg; break;
		case OPT_TOL: {
			char *end;
			errno = 0;
			op->cfg.tolerance_pct = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(op->cfg.tolerance_pct >= 0 && op->cfg.tolerance_pct <= 100)) {
				cmd_err("audit", "--tolerance-pct '%s': expected a percentage 0..100", optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case OPT_LAG:
			if (cmd_parse_duration(optarg, &v) || v > 3600) {
				cmd_err("audit", "--lag '%s': expected a duration up to 1h (e.g. 60s)", optarg);
				return EXIT_USAGE;
			}
			op->cfg.lag = (uint32_t)v;
			break;
		case OPT_VPC:
			if (parse_cidr(optarg, &op->cfg.vpc_base, &op->cfg.vpc_prefix)) {
				cmd_err("audit", "--vpc-cidr '%s': expected a CIDR block such as 10.0.0.0/16", optarg);
				return EXIT_USAGE;
			}
			op->cfg.have_vpc_cidr = true;
			break;
		case OPT_MAX_FLOWS:
			if (cmd_parse_uint(optarg, 1, 1u << 30, &v)) {
				cmd_err("audit", "--max-flows '%s': expected 1..%u", optarg, 1u << 30);
				return EXIT_USAGE;
			}
			op->cfg.max_flows = (size_t)v;
			break;
		case OPT_NO_PAYLOAD: op->cfg.payload = false; break;
		case OPT_PL_PACKETS:
			if (cmd_parse_uint(optarg, 1, 1000000, &v)) {
				cmd_err("audit", "--payload-packets '%s': expected 1..1000000", optarg);
				return EXIT_USAGE;
			}
			op->cfg.payload_packets = (uint32_t)v;
			break;
		case OPT_SHOW_SECRETS: op->ocfg.show_secrets = true; break;
		case OPT_MAX_LOG_SIZE:
			if (cmd_parse_size(optarg, &v) || v == 0) {
				cmd_err("audit", "--max-log-size '%s': expected a size such as 1G", optarg);
				return EXIT_USAGE;
			}
			op->cfg.max_log_bytes = v;
			break;
		case OPT_MAX_ROWS:
			if (cmd_parse_uint(optarg, 1, 10000000, &v)) {
				cmd_err("audit", "--max-rows '%s': expected 1..10000000", optarg);
				return EXIT_USAGE;
			}
			op->ocfg.max_rows = (size_t)v;
			break;
		case 'q': g_cmd.quiet = 1; break;
		case 'v': g_cmd.verbose++; break;
		case 'h': usage(stdout); return HELP_SHOWN;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	for (; optind < argc; optind++) {
		if (op->npaths == MAX_PATHS) { cmd_err("audit", "at most %d flow-log paths", MAX_PATHS); return EXIT_USAGE; }
		op->paths[op->npaths++] = argv[optind];
	}
	if (!op->store) {
		cmd_err("audit", "no store given: use -s DIR");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!op->npaths) {
		cmd_err("audit", "no flow logs given: use --flow-logs FILE|DIR");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (op->cfg.from > op->cfg.to) {
		cmd_err("audit", "--from is after --to");
		return EXIT_USAGE;
	}
	if (op->failon && report_audit_fail_on(NULL, op->failon, NULL, 0, bad, sizeof bad) < 0) {
		cmd_err("audit", "--fail-on: unknown item '%s' (expected a class, CLASS:REASON, counts_differ, gap, "
		                 "credentials, protocol_mismatch or any)", bad);
		return EXIT_USAGE;
	}
	if (op->logfmt) {
		if (report_format_parse(op->logfmt, &op->fmt, &fe)) {
			cmd_err("audit", "--log-format: %s (at byte %zu)", fe.msg, fe.offset);
			return EXIT_USAGE;
		}
		op->cfg.format = &op->fmt;
	}
	return EXIT_OK;
}

/* The VNI maps, the mirror filters and the sessions: EXIT_OK or an exit code. */
static int load_context(const struct aopts *op, report_vnimap **mapp, report_mirrorcfg **mcp)
{
	report_vnimap *map;
	report_mirrorcfg *mc;
	char err[512];
	size_t i;
	int rc;

	if (report_vnimap_new(mapp) || report_mirrorcfg_new(mcp)) {
		cmd_err("audit", "out of memory");
		return EXIT_FAILURE;
	}
	map = *mapp;
	mc = *mcp;
	for (i = 0; i < op->nmaps; i++) {
		rc = report_vnimap_load(map, op->maps[i], err, sizeof err);
		if (rc) {
			cmd_err("audit", "--vni-map: %s", err);
			return EXIT_USAGE;
		}
	}
	/* without --vni-map: the copies kept in the store */
	if (op->nmaps == 0 && (rc = cmd_store_vnimaps("audit", op->store, map)) != EXIT_OK)
		return rc;
	if (op->filters && (rc = report_mirrorcfg_load_filters(mc, op->filters, err, sizeof err))) {
		cmd_err("audit", "--mirror-filters: %s", err);
		return EXIT_USAGE;
	}
	if (op->sessions) {
		if ((rc = report_mirrorcfg_load_sessions(mc, op->sessions, err, sizeof err))) {
			cmd_err("audit", "--sessions: %s", err);
			return EXIT_USAGE;
		}
		/* the map learns ENI, account, filter and PacketLength per VNI too */
		if ((rc = report_vnimap_load(map, op->sessions, err, sizeof err))) {
			cmd_err("audit", "--sessions: %s", err);
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/* Notes on rejected flow-log lines and ingest losses; EXIT_USAGE when no
 * flow-log file could be read, else EXIT_OK. */
static int audit_notes(const report_audit *a)
{
	size_t i;

	{
		const report_audit_summary *s = report_audit_summary_get(a);
		for (i = 0; i < report_audit_nrejects(a) && i < 20; i++) {
			const report_audit_reject *rj = report_audit_reject_get(a, i);
			cmd_note("audit", "%s:%llu: %s", rj->file, (unsigned long long)rj->line, rj->msg);
		}
		if (s->reader.rejected > 20)
			cmd_note("audit", "%llu flow-log lines or files rejected in all (the reports list the first %zu)",
			         (unsigned long long)s->reader.rejected, report_audit_nrejects(a));
		if (s->ingest_loss[0])
			cmd_note("audit", "ingest counted packets it did not store (%s): flows the mirror saw "
			         "fewer packets of are put down to ingest_loss", s->ingest_loss);
		if (s->reader.files_failed && s->reader.files_failed >= s->reader.files) {
			cmd_err("audit", "no flow-log file could be read");
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/* Every -o report (written beside its name and renamed), or Markdown on
 * stdout: EXIT_OK or an exit code. */
static int write_reports(struct aopts *op, const report_audit *a, int argc, char **argv)
{
	char *cmdline;
	size_t i;
	int rc, ret = EXIT_USAGE;

	cmdline = cmd_join_args(argc, argv, 0);
	op->ocfg.store = op->store;
	op->ocfg.command = cmdline;
	for (i = 0; i < op->nouts; i++) {
		/* written beside the name and renamed: a link there is refused, an
		 * earlier report replaced, and a failed run leaves no half report */
		tv_outfile of;
		FILE *f = NULL;
		rc = tv_outfile_open(&of, op->outs[i], 0666, TV_OUT_REPLACE | TV_OUT_SPECIAL);
		if (!rc && !(f = tv_outfile_stdio(&of, "w")))
			rc = errno;
		if (rc) {
			tv_outfile_abort(&of);
			cmd_err("audit", "%s: cannot create: %s", op->outs[i], cmd_outfile_why(rc));
			ret = rc == TV_E_SYMLINK || rc == TV_E_NOTREG || rc == EISDIR ? EXIT_USAGE
			                                                             : EXIT_FAILURE;
			goto out;
		}
		op->ocfg.format = report_audit_fmt_from_name(op->outs[i]);
		rc = report_audit_write(a, &op->ocfg, f);
		if (fclose(f) != 0 && !rc)
			rc = errno;
		if (rc) {
			tv_outfile_abort(&of);
			cmd_err("audit", "%s: write failed: %s", op->outs[i], tv_strerror(rc));
			ret = EXIT_FAILURE;
			goto out;
		}
		rc = tv_outfile_commit(&of, NULL);
		if (rc) {
			cmd_err("audit", "%s: cannot create: %s", op->outs[i], cmd_outfile_why(rc));
			ret = EXIT_FAILURE;
			goto out;
		}
	}
	if (!op->nouts) {
		op->ocfg.format = REPORT_AF_MD;
		if (report_audit_write(a, &op->ocfg, stdout)) {
			cmd_err("audit", "stdout: write failed");
			ret = EXIT_FAILURE;
			goto out;
		}
	}
	ret = EXIT_OK;
out:
	op->ocfg.command = NULL;
	free(cmdline);
	return ret;
}

int cmd_audit(int argc, char **argv)
{
	static struct aopts op;
	report_vnimap *map = NULL;
	report_mirrorcfg *mc = NULL;
	report_audit *a = NULL;
	cmd_progress prog;
	idx_rstore rs;
	bool rs_open = false;
	char err[512], bad[64], hits[512];
	int rc, ret;

	if ((ret = parse_opts(argc, argv, &op)) != EXIT_OK)
		return ret == HELP_SHOWN ? EXIT_OK : ret;
	if ((ret = load_context(&op, &map, &mc)) != EXIT_OK)
		goto done;
	ret = EXIT_USAGE;
	op.cfg.map = map;
	op.cfg.mirror = (op.filters || op.sessions) ? mc : NULL;
	op.cfg.flow_logs = op.paths;
	op.cfg.nflow_logs = op.npaths;
	rc = idx_rstore_open(op.store, &rs);
	if (rc) {
		cmd_store_error("audit", op.store, rc);
		goto done;
	}
	rs_open = true;
	cmd_store_coverage_note("audit", &rs);
	cmd_progress_init(&prog);
	op.cfg.progress = on_progress;
	op.cfg.progress_ctx = &prog;
	rc = report_audit_run(&rs, &op.cfg, &a, err, sizeof err);
	cmd_progress_end(&prog);
	if (rc) {
		cmd_err("audit", "%s", err);
		ret = rc == TV_E_RANGE ? EXIT_USAGE : EXIT_FAILURE;
		goto done;
	}
	if ((ret = audit_notes(a)) != EXIT_OK)
		goto done;
	if ((ret = write_reports(&op, a, argc, argv)) != EXIT_OK)
		goto done;
	{
		const report_audit_summary *s = report_audit_summary_get(a);
		cmd_note("audit", "%llu flows: %llu matched, %llu mirror_fewer, %llu mirror_more, %llu flowlog_only, "
		                  "%llu mirror_only; %llu payload findings (%llu credentials, %llu on a foreign port)",
		         (unsigned long long)s->flows, (unsigned long long)s->by_class[REPORT_AC_MATCHED],
		         (unsigned long long)s->by_class[REPORT_AC_MIRROR_FEWER],
		         (unsigned long long)s->by_class[REPORT_AC_MIRROR_MORE],
		         (unsigned long long)s->by_class[REPORT_AC_FLOWLOG_ONLY],
		         (unsigned long long)s->by_class[REPORT_AC_MIRROR_ONLY], (unsigned long long)s->findings,
		         (unsigned long long)s->credentials, (unsigned long long)s->mismatches);
	}
	ret = EXIT_OK;
	if (op.failon &&
	    report_audit_fail_on(report_audit_summary_get(a), op.failon, hits, sizeof hits, bad, sizeof bad) > 0) {
		cmd_note("audit", "--fail-on %s: found %s", op.failon, hits);
		ret = EXIT_FOUND;
	}
done:
	report_audit_free(a);
	if (rs_open)
		idx_rstore_close(&rs);
	report_mirrorcfg_free(mc);
	report_vnimap_free(map);
	return ret;
}
