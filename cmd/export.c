/*
 * export.c — `tapvault export`: a forensic case bundle (packets, flow
 * records, manifest with hashes) plus an entry in the store's custody log.
 */
#include "cmd.h"
#include "../store/storedir.h"
#include "../index/vault.h"
#include "../report/audit.h"
#include "../report/evidence.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault export -s STORE [EXPR ...] -o CASE.tar.zst|CASE.tar.gz|CASE.zip\n"
	        "                       [--case ID] [--examiner NAME] [--note TEXT] [--max-bytes SIZE]\n"
	        "       tapvault export --help\n"
	        "\n"
	        "Writes a case bundle: packets.pcap (the packets of 'tapvault query EXPR -w',\n"
	        "byte for byte), flows.log (their flow records, AWS VPC Flow Logs v2 with a\n"
	        "header line) and manifest.json (tool, store identity, query, times, examiner,\n"
	        "case, note, every member's size and SHA-256, and the SHA-256 of every source\n"
	        "chunk).  The archive type follows the name given to -o.  Every export is\n"
	        "appended to the store's hash-chained custody log (STORE/custody.log; see\n"
	        "'tapvault custody').  An existing file is never overwritten.  The bundle is\n"
	        "written under a temporary name beside it and renamed when complete: SIGINT or\n"
	        "SIGTERM remove it (exit 130 or 143), and the next export of the same name\n"
	        "removes one that SIGKILL left.  The export runs at low CPU and I/O priority and\n"
	        "reads the index without blocking an ingest.\n"
	        "\n"
	        "options:\n"
	        "  -s, --store DIR       the store to export from\n"
	        "  -o, --output FILE     the bundle to create (.tar.zst, .tar.gz or .zip)\n"
	        "      --case ID         case identifier, recorded in the manifest and the log\n"
	        "      --examiner NAME   who exports (default: the login name)\n"
	        "      --note TEXT       free text, recorded in the manifest and the log\n"
	        "      --max-bytes SIZE  refuse (exit 3, no bundle) when packets.pcap would be\n"
	        "                        larger than SIZE (e.g. 500M, 2G)\n"
	        "      --flow-logs F     also audit these VPC Flow Logs over the export's time\n"
	        "                        range and add the report (audit.html, audit.json);\n"
	        "                        repeatable; files, directories, .gz, tar or zip\n"
	        "      --vni-map F       VNI map for that audit (as 'tapvault audit'); repeatable\n"
	        "  -q, --quiet           print nothing on success\n"
	        "  -v, --verbose         print the plan statistics on stderr\n"
	        "  -h, --help            this help\n"
	        "\n"
	        "EXPR is the query language of 'tapvault query --help'.\n"
	        "\n"
	        "example:\n"
	        "  tapvault export -s /var/lib/tapvault 'host 10.0.3.7 and after 1h ago' \\\n"
	        "      -o case-4711.tar.zst --case 4711 --examiner 'J. Doe' --note 'ssh brute force'\n");
}

enum {
	OPT_CASE = 1000,
	OPT_EXAMINER,
	OPT_NOTE,
	OPT_MAX_BYTES,
	OPT_FLOW_LOGS,
	OPT_VNI_MAP,
};

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
	g_stop = sig;
}

/* SIGINT and SIGTERM set g_stop (no SA_RESTART: a blocking write returns). */
static void catch_stop(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* The message and exit code (128 + signal, as the shell reports a death
 * by that signal) of an export stopped by g_stop. */
static int stopped(const char *out)
{
	cmd_err("export", "%s: interrupted by %s; no bundle was written and its temporary file was "
	        "removed", out, g_stop == SIGINT ? "SIGINT" : "SIGTERM");
	return 128 + (int)g_stop;
}

/* Best effort: never starve a live ingest on the same machine. */
static void lower_priority(void)
{
	int cur;
	errno = 0;
	cur = getpriority(PRIO_PROCESS, 0);
	if (errno == 0 && cur < 10)
		(void)setpriority(PRIO_PROCESS, 0, 10);
#ifdef SYS_ioprio_set
	/* IOPRIO_WHO_PROCESS = 1, IOPRIO_CLASS_IDLE = 3 << IOPRIO_CLASS_SHIFT (13) */
	if (syscall(SYS_ioprio_set, 1, 0, 3 << 13) != 0 && g_cmd.verbose)
		cmd_note("export", "could not set the idle I/O class: %s", strerror(errno));
#endif
}

static const struct option longopts[] = {
	{ "store", required_argument, NULL, 's' },
	{ "output", required_argument, NULL, 'o' },
	{ "case", required_argument, NULL, OPT_CASE },
	{ "examiner", required_argument, NULL, OPT_EXAMINER },
	{ "note", required_argument, NULL, OPT_NOTE },
	{ "max-bytes", required_argument, NULL, OPT_MAX_BYTES },
	{ "flow-logs", required_argument, NULL, OPT_FLOW_LOGS },
	{ "vni-map", required_argument, NULL, OPT_VNI_MAP },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What the command line says, apart from the expression. */
struct eopts {
	const char *store, *out, *case_id, *examiner, *note;
	uint64_t max_bytes;
	const char *flowlogs[64], *maps[16];
	int nfl, nmaps, kind;
};


/* getopt and the checks that need no store: EXIT_OK, HELP_SHOWN or an
 * exit code. */
static int parse_opts(int argc, char **argv, struct eopts *op)
{
	int c;

	memset(op, 0, sizeof *op);
	optind = 0;
	while ((c = getopt_long(argc, argv, "s:o:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': op->store = optarg; break;
		case 'o': op->out = optarg; break;
		case OPT_CASE: op->case_id = optarg; break;
		case OPT_EXAMINER: op->examiner = optarg; break;
		case OPT_NOTE: op->note = optarg; break;
		case OPT_MAX_BYTES:
			if (cmd_parse_size(optarg, &op->max_bytes) || op->max_bytes == 0) {
				cmd_err("export", "--max-bytes '%s': expected a size such as 500M or 2G", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_FLOW_LOGS:
			if (op->nfl == 64) {
				cmd_err("export", "--flow-logs: at most 64");
				return EXIT_USAGE;
			}
			op->flowlogs[op->nfl++] = optarg;
			break;
		case OPT_VNI_MAP:
			if (op->nmaps == 16) {
				cmd_err("export", "--vni-map: at most 16");
				return EXIT_USAGE;
			}
			op->maps[op->nmaps++] = optarg;
			break;
		case 'q': g_cmd.quiet = 1; break;
		case 'v': g_cmd.verbose++; break;
		case 'h': usage(stdout); return HELP_SHOWN;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (!op->store || !op->out) {
		cmd_err("export", !op->store ? "no store given: use -s DIR" : "no bundle given: use -o FILE");
		usage(stderr);
		return EXIT_USAGE;
	}
	op->kind = report_bundle_kind_from_path(op->out);
	if (!op->kind) {
		cmd_err("export", "%s: the name must end in .tar.zst, .tar.gz or .zip (that picks the "
		                  "archive type)", op->out);
		return EXIT_USAGE;
	}
	{
		/* early, before the query's work; the writer checks again */
		struct stat ost;
		if (lstat(op->out, &ost) == 0) {
			cmd_err("export", "%s: %s; a bundle is never overwritten", op->out,
			        S_ISLNK(ost.st_mode) ? "is a symbolic link (not followed)" : "exists already");
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/* The library's progress and notes, printed as the command always did. */
struct export_print {
	cmd_progress prog;
};

static void ev_packets(void *ctx, uint64_t packets, bool done)
{
	struct export_print *p = ctx;
	if (done)
		cmd_progress_end(&p->prog);
	else
		cmd_progress_count(&p->prog, "export:", packets, "packets");
}

static void ev_audit(void *ctx, const report_audit_summary *sm)
{
	(void)ctx;
	if (g_cmd.quiet)
		return;
	printf("audit: %llu flows: %llu matched, %llu mirror_fewer, %llu mirror_more, "
	       "%llu flowlog_only, %llu mirror_only\n",
	       (unsigned long long)sm->flows, (unsigned long long)sm->by_class[REPORT_AC_MATCHED],
	       (unsigned long long)sm->by_class[REPORT_AC_MIRROR_FEWER],
	       (unsigned long long)sm->by_class[REPORT_AC_MIRROR_MORE],
	       (unsigned long long)sm->by_class[REPORT_AC_FLOWLOG_ONLY],
	       (unsigned long long)sm->by_class[REPORT_AC_MIRROR_ONLY]);
}

/* From here on a file exists under a temporary name beside the bundle:
 * SIGINT and SIGTERM only set a flag, the writer stops between blocks and
 * the temporary file is removed.  (Until now every temporary file was
 * unlinked at creation, and the default action leaves nothing.) */
static void ev_writing(void *ctx)
{
	(void)ctx;
	catch_stop();
}

static const char *g_out;

static void ev_swept(void *ctx, unsigned n)
{
	(void)ctx;
	cmd_note("export", "%s: removed %u temporary file(s) that an interrupted export left", g_out, n);
}

/* The exit code of an export that did not finish, after its message. */
static int export_failed(const struct eopts *op, const report_export_result *res)
{
	char lim[32];

	switch (res->status) {
	case REPORT_EXPORT_STOPPED:
		return stopped(op->out);
	case REPORT_EXPORT_OVER:
		cmd_fmt_bytes(op->max_bytes, lim, sizeof lim);
		cmd_err("export", "the packets exceed --max-bytes %s (stopped after %llu packets); "
		                  "no bundle was written: narrow the expression or raise the limit",
		        lim, (unsigned long long)res->packets);
		return EXIT_FAILURE;
	case REPORT_EXPORT_USAGE:
		cmd_err("export", "%s", res->err);
		return EXIT_USAGE;
	default:
		cmd_err("export", "%s", res->err);
		return EXIT_FAILURE;
	}
}

int cmd_export(int argc, char **argv)
{
	static struct eopts op;
	static report_export_result res;
	char *text = NULL;
	idx_expr *e = NULL;
	idx_expr_err perr;
	idx_rstore rs;
	report_export_opts eo;
	struct export_print pr;
	report_export_events ev = { &pr, ev_packets, ev_audit, ev_writing, ev_swept };
	int rc, ret = EXIT_OK;

	if ((ret = parse_opts(argc, argv, &op)) != EXIT_OK)
		return ret == HELP_SHOWN ? EXIT_OK : ret;
	text = cmd_join_args(argc, argv, optind);
	if (!text)
		return EXIT_FAILURE;
	rc = idx_expr_parse(text, tv_clock_real_ns(), &e, &perr);
	if (rc) {
		cmd_expr_error("export", text, &perr);
		ret = EXIT_USAGE;
		goto out;
	}
	cmd_expr_note("export", e);
	lower_priority();

	rc = idx_rstore_open(op.store, &rs);
	if (rc) {
		cmd_store_error("export", op.store, rc);
		ret = EXIT_USAGE;
		goto out;
	}
	cmd_store_coverage_note("export", &rs);

	memset(&eo, 0, sizeof eo);
	eo.rs = &rs;
	eo.expr = e;
	eo.query_text = text;
	eo.store = op.store;
	eo.out = op.out;
	eo.kind = op.kind;
	eo.case_id = op.case_id;
	eo.examiner = op.examiner;
	eo.note = op.note;
	eo.max_bytes = op.max_bytes;
	eo.flow_logs = op.flowlogs;
	eo.nflow_logs = (size_t)op.nfl;
	eo.vni_maps = op.maps;
	eo.nvni_maps = (size_t)op.nmaps;
	eo.cancel = &g_stop;
	g_out = op.out;
	cmd_progress_init(&pr.prog);
	if (report_export_run(&eo, &res, &ev) != REPORT_EXPORT_OK) {
		ret = export_failed(&op, &res);
		goto close;
	}
	if (!g_cmd.quiet) {
		char sz[32];
		cmd_fmt_bytes(res.size, sz, sizeof sz);
		printf("%s: %llu packets from %llu chunks, %llu flow records, %s\n", op.out,
		       (unsigned long long)res.packets, (unsigned long long)res.nchunks,
		       (unsigned long long)res.flow_records, sz);
		printf("sha256 %s\n", res.sha256_hex);
		printf("custody entry %llu in %s/%s\n", (unsigned long long)res.custody_seq, res.store_abs,
		       STORE_CUSTODY_NAME);
	}
	if (g_cmd.verbose)
		fprintf(stderr, "export: %s; %llu of %llu chunks planned, %llu read\n", res.query_norm,
		        (unsigned long long)res.chunks_planned, (unsigned long long)res.chunks_total,
		        (unsigned long long)res.chunks_read);
close:
	idx_rstore_close(&rs);
out:
	idx_expr_free(e);
	free(text);
	return ret;
}
