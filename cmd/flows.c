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

#define DEFAULT_ACCOUNT "123456789012"
#define DEFAULT_REGION "us-east-1"
#define DEFAULT_FLOW_LOG_ID "fl-tapvault"

enum ofmt { OF_AWS, OF_JSON, OF_CSV };

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
	const idx_expr *e;
	report_vnimap *map;
	report_fl_format fmt;
	enum ofmt of;
	report_s3 *s3;
	const char *def_account, *def_region;
	char obuf[16384];
	uint64_t written;
};

static int cb_learn(void *vc, const tv_flowrec *r)
{
	struct ctx *c = vc;
	report_vnimap_learn_outer(c->map, r->vni, &r->outer_src);
	report_vnimap_learn(c->map, r->vni, &r->key.src, &r->key.dst);
	return report_vnimap_learn_error(c->map);
}

static int put_record(struct ctx *c, const tv_flowrec *r)
{
	const report_iface *ifc = report_vnimap_get(c->map, r->vni);
	report_fl_rec rec;
	size_t len;
	int rc;
	if (!ifc)
		return TV_E_NOMEM;
	report_flowrec_to_fl(r, ifc, &c->fmt, c->def_account, c->def_region, &rec);
	if (c->of == OF_JSON) {
		rc = report_flowrec_json(&c->fmt, &rec, r, c->obuf, sizeof c->obuf, &len);
	} else {
		rc = report_flowlog_format_line(&c->fmt, &rec, c->obuf, sizeof c->obuf, &len);
		if (rc == 0 && c->of == OF_CSV) {
			size_t i;
			for (i = 0; i < len; i++)
				if (c->obuf[i] == ' ')
					c->obuf[i] = ',';
		}
	}
	if (rc)
		return rc;
	c->written++;
	if (c->s3)
		return report_s3_write(c->s3, r->end, c->obuf, len);
	c->obuf[len] = '\n';
	if (fwrite(c->obuf, 1, len + 1, stdout) != len + 1)
		return TV_E_IO;
	return 0;
}

/* One window's matched records, from idx_flows_read_merged. */
static int on_window(void *vc, uint32_t w, tv_flowrec *v, size_t n)
{
	struct ctx *c = vc;
	size_t i;
	int rc;
	/* every record still to come ends at or after this window's start:
	 * the S3 periods before it are complete */
	if (c->s3 && (rc = report_s3_close_before(c->s3, w)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = put_record(c, &v[i])) != 0)
			return rc;
	return 0;
}

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

/* The first account (or region) the map names, in VNI order, or NULL. */
static const char *map_first(const report_vnimap *m, bool region)
{
	const report_iface *f;
	size_t i;
	for (i = 0; (f = report_vnimap_at(m, i)) != NULL; i++) {
		const char *v = region ? f->region : f->account;
		if (!f->learned && v[0])
			return v;
	}
	return NULL;
}

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
			if (strcmp(optarg, "aws") == 0) c->of = OF_AWS;
			else if (strcmp(optarg, "json") == 0) c->of = OF_JSON;
			else if (strcmp(optarg, "csv") == 0) c->of = OF_CSV;
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
	if (op->header && c->of != OF_AWS) {
		cmd_err("flows", "--header is for --format aws (csv always starts with a header row)");
		return EXIT_USAGE;
	}
	if (op->s3dir && op->fmt_given && c->of != OF_AWS) {
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

int cmd_flows(int argc, char **argv)
{
	static struct ctx c;
	struct fopts op;
	int i, rc, ret = EXIT_OK;
	char *text = NULL, err[4400];
	idx_expr *e = NULL;
	idx_expr_err perr;
	uint32_t from, to;
	bool need_learn = false, have_windows;
	idx_flows_read_stats rst;

	memset(&c, 0, sizeof c);
	report_format_default(&c.fmt);
	c.of = OF_AWS;
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
	c.e = e;
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
	/* records: the map's account-id and region, else --account/--region,
	 * else '-'; S3 paths: --account/--region, else the map's first, else
	 * the placeholders */
	c.def_account = op.account;
	c.def_region = op.region;
	if ((ret = cmd_open_stores("flows", op.stores, op.nst, c.rs, &c.nstores)) != EXIT_OK)
		goto out;
	have_windows = idx_flows_window_range(e, &from, &to);
	/* learning is needed only for fields that depend on the interface's addresses */
	for (i = 0; i < (int)c.fmt.n; i++)
		if (c.fmt.id[i] == REPORT_FL_F_SRCADDR || c.fmt.id[i] == REPORT_FL_F_DSTADDR ||
		    c.fmt.id[i] == REPORT_FL_F_FLOW_DIRECTION)
			need_learn = true;
	if (need_learn && have_windows) {
		for (i = 0; i < c.nstores; i++) {
			rc = idx_flow_foreach(c.rs[i].x, from, to, cb_learn, &c);
			if (rc) {
				cmd_err("flows", "%s: reading flow records: %s", c.rs[i].dir, tv_strerror(rc));
				ret = EXIT_FAILURE;
				goto out;
			}
		}
		report_vnimap_learn_finish(c.map);
	}
	if (op.s3dir) {
		report_s3_cfg sc;
		memset(&sc, 0, sizeof sc);
		sc.dir = op.s3dir;
		sc.account = op.account ? op.account : map_first(c.map, false) ? map_first(c.map, false) : DEFAULT_ACCOUNT;
		sc.region = op.region ? op.region : map_first(c.map, true) ? map_first(c.map, true) : DEFAULT_REGION;
		sc.flow_log_id = op.flid;
		sc.fmt = &c.fmt;
		rc = report_s3_open(&sc, &c.s3, err, sizeof err);
		if (rc) {
			cmd_err("flows", "--s3: %s", rc == TV_E_NOMEM ? "out of memory" : err);
			ret = rc == TV_E_NOMEM ? EXIT_FAILURE : EXIT_USAGE;
			goto out;
		}
	} else {
		static char sobuf[1 << 16];
		setvbuf(stdout, sobuf, _IOFBF, sizeof sobuf);
		if (c.of == OF_CSV || (c.of == OF_AWS && op.header)) {
			char h[4096];
			size_t k;
			report_format_write(&c.fmt, true, h, sizeof h);
			if (c.of == OF_CSV)
				for (k = 0; h[k]; k++)
					if (h[k] == ' ')
						h[k] = ',';
			printf("%s\n", h);
		}
	}
	{
		idx *xs[64];
		for (i = 0; i < c.nstores; i++)
			xs[i] = c.rs[i].x;
		rc = idx_flows_read_merged(xs, c.nstores, e, on_window, &c, &rst);
	}
	if (rc == 0 && c.s3)
		rc = report_s3_finish(c.s3);
	if (rc) {
		if (c.s3 && report_s3_error(c.s3)[0])
			cmd_err("flows", "--s3: %s", report_s3_error(c.s3));
		else if (rc == TV_E_IO)
			cmd_err("flows", "write failed (disk full or closed pipe?)");
		else
			cmd_err("flows", "%s", tv_strerror(rc));
		ret = EXIT_FAILURE;
	}
	if (!c.s3 && fflush(stdout) != 0)
		ret = EXIT_FAILURE;
	if (c.s3 && ret == EXIT_OK && !g_cmd.quiet) {
		uint64_t files, recs;
		report_s3_counts(c.s3, &files, &recs);
		cmd_note("flows", "%llu records in %llu files under %s/AWSLogs/",
		         (unsigned long long)recs, (unsigned long long)files, op.s3dir);
	}
	if (g_cmd.verbose) {
		char ex[512];
		idx_expr_format(e, ex, sizeof ex);
		fprintf(stderr, "flows: %s\nflows: windows %u..%u; %llu stored records read, %llu merged "
		        "into others, %llu written\n", ex, from, to, (unsigned long long)rst.read,
		        (unsigned long long)rst.merged, (unsigned long long)c.written);
	}
out:
	for (i = 0; i < c.nstores; i++)
		idx_rstore_close(&c.rs[i]);
	report_s3_free(c.s3);
	report_vnimap_free(c.map);
	idx_expr_free(e);
	free(text);
	return ret;
}
