/*
 * flows.c — `tapvault flows`: the stored flow records as VPC Flow Logs.
 *
 * idx_flows_read_merged reads the records window by window across all
 * stores, merges them (as AWS writes one record per flow, interface and
 * window) and keeps those idx_flowrec_match accepts; this file writes them
 * in the chosen format.  Output is ordered by start time, then VNI, mirror
 * source and 5-tuple: deterministic.
 */
#include "cmd.h"
#include "../store/storedir.h"
#include "../index/vault.h"
#include "../report/vpc.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ACCOUNT REPORT_FLOWS_DEFAULT_ACCOUNT
#define DEFAULT_REGION REPORT_FLOWS_DEFAULT_REGION
#define DEFAULT_FLOW_LOG_ID REPORT_FLOWS_DEFAULT_FLOW_LOG_ID

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault flows -s STORE [-s STORE ...] [EXPR ...] [--format aws|json|csv]\n"
	        "                      [--fields LIST] [--header] [--s3 DIR] [--vni-map FILE ...]\n"
	        "                      [--account ID] [--region R] [--flow-log-id fl-...]\n"
	        "       tapvault flows --help\n"
	        "\n"
	        "Writes the flow records that ingest synthesised (one per unidirectional flow,\n"
	        "interface and 60 s or 600 s window) as AWS VPC Flow Logs write them.  Records\n"
	        "come out by start time, then VNI and 5-tuple.  EXPR is the query language;\n"
	        "a record matches when its addresses, ports, protocol, flags and VNI match\n"
	        "and its [start, end] overlaps the expression's time bounds, so 'after T'\n"
	        "keeps records that end at or after T, 'before T' those that start before T.\n"
	        "\n"
	        "options:\n"
	        "  -s, --store DIR       a store to read; repeat to merge several\n"
	        "  -f, --format F        aws (default: space-separated lines), json (one object\n"
	        "                        per line: typed values, null for '-', plus \"vni\" and\n"
	        "                        \"outer_src\"), csv (a header row, values as AWS writes)\n"
	        "      --fields LIST     custom format: any v2-v8 field names in any order,\n"
	        "                        separated by spaces or commas, with or without ${};\n"
	        "                        the version column says the highest field version\n"
	        "      --header          start with the S3 header line (field names)\n"
	        "      --s3 DIR          write gzip files in AWS's S3 layout under DIR instead:\n"
	        "                        DIR/AWSLogs/ACCOUNT/vpcflowlogs/REGION/yyyy/mm/dd/\n"
	        "                        ACCOUNT_vpcflowlogs_REGION_ID_YYYYMMDDTHHmmZ_HASH.log.gz,\n"
	        "                        one per 5 minutes of record end times, with a header\n"
	        "  -m, --vni-map FILE    what stands behind each VNI: text lines\n"
	        "                        'vni=42 eni=eni-0abc account=... addr=10.0.1.5', or the\n"
	        "                        JSON of aws ec2 describe-traffic-mirror-sessions or\n"
	        "                        describe-network-interfaces; repeatable\n"
	        "      --account ID      account-id for interfaces the map does not place, and\n"
	        "                        the S3 path's account (default: the map's first\n"
	        "                        account, else " DEFAULT_ACCOUNT " in paths, '-' in records)\n"
	        "      --region R        the same for region (default " DEFAULT_REGION " in paths)\n"
	        "      --flow-log-id ID  the flow log id in S3 file names (default " DEFAULT_FLOW_LOG_ID ")\n"
	        "  -v, --verbose         counts on stderr\n"
	        "  -q, --quiet           no notes on stderr\n"
	        "  -h, --help            this help\n"
	        "\n"
	        "Interfaces without a map entry are named vni-<N>; their address is learned as\n"
	        "the one that appears in most of the VNI's records (per IPv4 and IPv6), which\n"
	        "gives flow-direction.\n"
	        "\n"
	        "examples:\n"
	        "  tapvault flows -s S --vni-map sessions.json 'host 10.0.3.7'\n"
	        "  tapvault flows -s S --fields 'version interface-id srcaddr dstaddr flow-direction "
	        "tcp-flags' --header\n"
	        "  tapvault flows -s S --s3 out --account 111122223333 --region eu-west-1\n");
}

struct ctx {
	idx_rstore rs[64];
	int nstores;
	report_vnimap *map;
	report_fl_format fmt;
	int form; /* enum report_flows_form */
};

/* --fields: names separated by blanks or commas, with or without ${}. */
static int fields_parse(const char *s, report_fl_format *fmt)
{
	char buf[4096];
	size_t o = 0;
	const char *p = s;
	while (*p) {
		const char *w;
		size_t n;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		w = p;
		while (*p && *p != ' ' && *p != '\t' && *p != ',')
			p++;
		n = (size_t)(p - w);
		if (n > 3 && w[0] == '$' && w[1] == '{' && w[n - 1] == '}') {
			w += 2;
			n -= 3;
		}
		if (report_fl_field_find(w, n) < 0) {
			cmd_err("flows", "--fields: unknown field '%.*s' (the VPC Flow Logs v2-v8 names, "
			        "e.g. version, account-id, interface-id, srcaddr, flow-direction)", (int)n, w);
			return EXIT_USAGE;
		}
		if (o + n + 5 >= sizeof buf) {
			cmd_err("flows", "--fields: too long");
			return EXIT_USAGE;
		}
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s${%.*s}", o ? " " : "", (int)n, w);
	}
	if (o == 0) {
		cmd_err("flows", "--fields: no field given");
		return EXIT_USAGE;
	}
	{
		report_fl_err e;
		if (report_format_parse(buf, fmt, &e) != 0) {
			cmd_err("flows", "--fields: %s", e.msg);
			return EXIT_USAGE;
		}
	}
	return 0;
}

enum { OPT_FIELDS = 256, OPT_HEADER, OPT_S3, OPT_ACCOUNT, OPT_REGION, OPT_FLID };

static const struct option longopts[] = {
	{ "store", required_argument, NULL, 's' },
	{ "format", required_argument, NULL, 'f' },
	{ "fields", required_argument, NULL, OPT_FIELDS },
	{ "header", no_argument, NULL, OPT_HEADER },
	{ "s3", required_argument, NULL, OPT_S3 },
	{ "vni-map", required_argument, NULL, 'm' },
	{ "account", required_argument, NULL, OPT_ACCOUNT },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "flow-log-id", required_argument, NULL, OPT_FLID },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What the command line says, apart from the expression. */
struct fopts {
	const char *stores[64], *maps[64];
	int nst, nmaps;
	bool header, fmt_given;
	const char *s3dir, *account, *region, *flid;
};


/* getopt and the checks between options: EXIT_OK, HELP_SHOWN or an exit code. */
static int parse_opts(int argc, char **argv, struct fopts *op, struct ctx *c)
{
	int o, rc;

	memset(op, 0, sizeof *op);
	op->flid = DEFAULT_FLOW_LOG_ID;
	optind = 0; /* 0: GNU getopt re-initialises (the demo calls several commands) */
	while ((o = getopt_long(argc, argv, "s:f:m:vqh", longopts, NULL)) != -1) {
		switch (o) {
		case 's':
			if (op->nst == 64) {
				cmd_err("flows", "at most 64 stores");
				return EXIT_USAGE;
			}
			op->stores[op->nst++] = optarg;
			break;
		case 'f':
			op->fmt_given = true;
			if (strcmp(optarg, "aws") == 0) c->form = REPORT_FLOWS_AWS;
			else if (strcmp(optarg, "json") == 0) c->form = REPORT_FLOWS_JSON;
			else if (strcmp(optarg, "csv") == 0) c->form = REPORT_FLOWS_CSV;
			else {
				cmd_err("flows", "--format '%s': expected aws, json or csv", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_FIELDS:
			if ((rc = fields_parse(optarg, &c->fmt)) != 0)
				return rc;
			break;
		case OPT_HEADER: op->header = true; break;
		case OPT_S3: op->s3dir = optarg; break;
		case 'm':
			if (op->nmaps == 64) {
				cmd_err("flows", "at most 64 --vni-map files");
				return EXIT_USAGE;
			}
			op->maps[op->nmaps++] = optarg;
			break;
		case OPT_ACCOUNT: op->account = optarg; break;
		case OPT_REGION: op->region = optarg; break;
		case OPT_FLID: op->flid = optarg; break;
		case 'v': g_cmd.verbose++; break;
		case 'q': g_cmd.quiet = 1; break;
		case 'h': usage(stdout); return HELP_SHOWN;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (op->nst == 0) {
		cmd_err("flows", "no store given: use -s DIR");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (op->header && c->form != REPORT_FLOWS_AWS) {
		cmd_err("flows", "--header is for --format aws (csv always starts with a header row)");
		return EXIT_USAGE;
	}
	if (op->s3dir && op->fmt_given && c->form != REPORT_FLOWS_AWS) {
		cmd_err("flows", "--s3 writes AWS text files; leave --format out (or use aws)");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Without --vni-map: the VNI maps kept in the one store.  With several
 * stores none of theirs: one VNI may stand for other interfaces in each. */
static int store_maps(const struct fopts *op, report_vnimap *map)
{
	char names[1][256];
	size_t n = 0;
	int k;

	if (op->nmaps)
		return EXIT_OK;
	if (op->nst == 1)
		return cmd_store_vnimaps("flows", op->stores[0], map);
	for (k = 0; k < op->nst; k++)
		if (store_vnimap_list(op->stores[k], names, 1, &n) == 0 && n) {
			cmd_note("flows", "%d stores: the VNI maps kept in them are not used (a VNI may "
			         "stand for other interfaces in each); give --vni-map", op->nst);
			break;
		}
	return EXIT_OK;
}

/* What report_flows_write could not do, said; the exit code. */
static int flows_failed(const struct ctx *c, const struct fopts *op, int rc,
                        const report_flows_result *res)
{
	switch (res->step) {
	case REPORT_FLOWS_STEP_LEARN:
		cmd_err("flows", "%s: reading flow records: %s", c->rs[res->store].dir, tv_strerror(rc));
		return EXIT_FAILURE;
	case REPORT_FLOWS_STEP_S3_OPEN:
		cmd_err("flows", "--s3: %s", rc == TV_E_NOMEM ? "out of memory" : res->err);
		return rc == TV_E_NOMEM ? EXIT_FAILURE : EXIT_USAGE;
	default:
		if (op->s3dir && res->err[0])
			cmd_err("flows", "--s3: %s", res->err);
		else if (rc == TV_E_IO)
			cmd_err("flows", "write failed (disk full or closed pipe?)");
		else
			cmd_err("flows", "%s", tv_strerror(rc));
		return EXIT_FAILURE;
	}
}

int cmd_flows(int argc, char **argv)
{
	static struct ctx c;
	static report_flows_result res;
	struct fopts op;
	report_flows_opts fo;
	idx *xs[64];
	int i, rc, ret = EXIT_OK;
	char *text = NULL, err[4400];
	idx_expr *e = NULL;
	idx_expr_err perr;

	memset(&c, 0, sizeof c);
	report_format_default(&c.fmt);
	c.form = REPORT_FLOWS_AWS;
	if ((ret = parse_opts(argc, argv, &op, &c)) != EXIT_OK)
		return ret == HELP_SHOWN ? EXIT_OK : ret;
	text = cmd_join_args(argc, argv, optind);
	if (!text)
		return EXIT_FAILURE;
	if ((rc = idx_expr_parse(text, tv_clock_real_ns(), &e, &perr)) != 0) {
		cmd_expr_error("flows", text, &perr);
		ret = EXIT_USAGE;
		goto out;
	}
	cmd_expr_note("flows", e);
	if ((rc = report_vnimap_new(&c.map)) != 0) {
		ret = EXIT_FAILURE;
		goto out;
	}
	for (i = 0; i < op.nmaps; i++) {
		rc = report_vnimap_load(c.map, op.maps[i], err, sizeof err);
		if (rc) {
			cmd_err("flows", "--vni-map %s", err);
			ret = rc == TV_E_NOMEM ? EXIT_FAILURE : EXIT_USAGE;
			goto out;
		}
	}
	if ((ret = store_maps(&op, c.map)) != EXIT_OK)
		goto out;
	if ((ret = cmd_open_stores("flows", op.stores, op.nst, c.rs, &c.nstores)) != EXIT_OK)
		goto out;
	for (i = 0; i < c.nstores; i++)
		xs[i] = c.rs[i].x;
	memset(&fo, 0, sizeof fo);
	fo.xs = xs;
	fo.nx = c.nstores;
	fo.expr = e;
	fo.map = c.map;
	fo.fmt = &c.fmt;
	fo.form = c.form;
	fo.header = op.header;
	/* records: the map's account-id and region, else --account/--region,
	 * else '-'; S3 paths: --account/--region, else the map's first, else
	 * the placeholders */
	fo.account = op.account;
	fo.region = op.region;
	fo.s3_dir = op.s3dir;
	fo.flow_log_id = op.flid;
	if (!op.s3dir) {
		static char sobuf[1 << 16];
		setvbuf(stdout, sobuf, _IOFBF, sizeof sobuf);
		fo.out = stdout;
	}
	rc = report_flows_write(&fo, &res);
	if (rc)
		ret = flows_failed(&c, &op, rc, &res);
	if (!op.s3dir && fflush(stdout) != 0)
		ret = EXIT_FAILURE;
	if (op.s3dir && ret == EXIT_OK && !g_cmd.quiet)
		cmd_note("flows", "%llu records in %llu files under %s/AWSLogs/",
		         (unsigned long long)res.written, (unsigned long long)res.s3_files, op.s3dir);
	if (g_cmd.verbose) {
		char ex[512];
		idx_expr_format(e, ex, sizeof ex);
		fprintf(stderr, "flows: %s\nflows: windows %u..%u; %llu stored records read, %llu merged "
		        "into others, %llu written\n", ex, res.from, res.to, (unsigned long long)res.read,
		        (unsigned long long)res.merged, (unsigned long long)res.written);
	}
out:
	for (i = 0; i < c.nstores; i++)
		idx_rstore_close(&c.rs[i]);
	report_vnimap_free(c.map);
	idx_expr_free(e);
	free(text);
	return ret;
}
