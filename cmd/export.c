/*
 * export.c — `tapvault export`: a forensic case bundle (packets, flow
 * records, manifest with hashes) plus an entry in the store's custody log.
 */
#include "cmd.h"
#include "../store/storedir.h"
#include "pcapw.h"
#include "../index/vault.h"
#include "../report/audit.h"
#include "../report/evidence.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
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

struct exctx {
	cmd_progress prog;
	FILE *pcap;
	uint64_t max_bytes, bytes, packets, first_ts, last_ts;
	bool over;
	report_bundle_chunk *chunks;
	size_t nchunks, capchunks, last; /* last: index of the chunk of the previous hit */
};

/* The chunk entry for id, inserted in id order when new. */
static report_bundle_chunk *chunk_slot(struct exctx *x, const store_chunk_meta *m)
{
	size_t lo = 0, hi = x->nchunks;
	if (x->last < x->nchunks && x->chunks[x->last].id == m->chunk_id)
		return &x->chunks[x->last];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (x->chunks[mid].id < m->chunk_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == x->nchunks || x->chunks[lo].id != m->chunk_id) {
		if (x->nchunks == x->capchunks) {
			size_t nc = x->capchunks ? x->capchunks * 2 : 64;
			report_bundle_chunk *t = realloc(x->chunks, nc * sizeof *t);
			if (!t)
				return NULL;
			x->chunks = t;
			x->capchunks = nc;
		}
		memmove(&x->chunks[lo + 1], &x->chunks[lo], (x->nchunks - lo) * sizeof *x->chunks);
		x->nchunks++;
		memset(&x->chunks[lo], 0, sizeof x->chunks[lo]);
		x->chunks[lo].id = m->chunk_id;
		x->chunks[lo].segment = m->segment;
		x->chunks[lo].offset = m->offset;
		x->chunks[lo].length = m->length;
		memcpy(x->chunks[lo].sha256, m->sha256, 32);
	}
	x->last = lo;
	return &x->chunks[lo];
}

static int on_hit(void *ctx, const idx_query_hit *h)
{
	struct exctx *x = ctx;
	report_bundle_chunk *c;
	uint64_t add = CMD_PCAP_REC_HDR_LEN + (uint64_t)h->rec->caplen;

	if (x->max_bytes && x->bytes + add > x->max_bytes) {
		x->over = true;
		return TV_E_FULL;
	}
	if (cmd_pcapw_record(x->pcap, h->rec->ts_ns, h->rec->frame, h->rec->caplen,
	                     h->rec->origlen) != 0)
		return TV_E_IO;
	x->bytes += add;
	c = chunk_slot(x, h->chunk);
	if (!c)
		return TV_E_NOMEM;
	c->packets++;
	if (x->packets == 0 || h->rec->ts_ns < x->first_ts)
		x->first_ts = h->rec->ts_ns;
	if (h->rec->ts_ns > x->last_ts)
		x->last_ts = h->rec->ts_ns;
	x->packets++;
	if ((x->packets & 1023) == 0)
		cmd_progress_count(&x->prog, "export:", x->packets, "packets");
	return 0;
}

/* A temporary file next to the bundle, unlinked at once. */
static FILE *temp_near(const char *out)
{
	char tmpl[PATH_MAX];
	const char *slash = strrchr(out, '/');
	int fd;
	FILE *f;
	if (slash)
		snprintf(tmpl, sizeof tmpl, "%.*s/.tapvault-export-XXXXXX", (int)(slash - out), out);
	else
		snprintf(tmpl, sizeof tmpl, ".tapvault-export-XXXXXX");
	fd = mkstemp(tmpl);
	if (fd < 0)
		return NULL;
	unlink(tmpl);
	f = fdopen(fd, "w+b");
	if (!f)
		close(fd);
	return f;
}

/*
 * The audit report of the export's time range, as two temporary files
 * (HTML and JSON) that become bundle members.  Returns 0 or an exit code.
 */
static int export_audit(idx_rstore *rs, const idx_expr *e, const char *store,
                        const char *const *flowlogs, int nfl, const char *const *maps, int nmaps,
                        const char *out, FILE **html, FILE **json)
{
	report_audit_cfg cfg;
	report_audit_out_cfg ocfg;
	report_vnimap *map = NULL;
	report_audit *a = NULL;
	uint64_t lo, hi;
	char err[1024];
	int i, rc, ret = EXIT_OK;

	report_audit_cfg_default(&cfg);
	idx_expr_time_bounds(e, &lo, &hi);
	cfg.from = lo == 0 ? 0 : (uint32_t)(lo / 1000000000ull);
	cfg.to = hi >= (uint64_t)UINT32_MAX * 1000000000ull ? UINT32_MAX
	                                                    : (uint32_t)(hi / 1000000000ull);
	cfg.flow_logs = flowlogs;
	cfg.nflow_logs = (size_t)nfl;
	if ((rc = report_vnimap_new(&map)) != 0) {
		cmd_err("export", "%s", tv_strerror(rc));
		return EXIT_FAILURE;
	}
	for (i = 0; i < nmaps; i++) {
		if ((rc = report_vnimap_load(map, maps[i], err, sizeof err)) != 0) {
			cmd_err("export", "--vni-map %s", err);
			ret = EXIT_USAGE;
			goto done;
		}
	}
	cfg.map = map;
	rc = report_audit_run(rs, &cfg, &a, err, sizeof err);
	if (rc) {
		cmd_err("export", "the audit for the bundle failed: %s", err);
		ret = rc == TV_E_RANGE ? EXIT_USAGE : EXIT_FAILURE;
		goto done;
	}
	*html = temp_near(out);
	*json = temp_near(out);
	if (!*html || !*json) {
		cmd_err("export", "cannot create a temporary file next to %s: %s", out, strerror(errno));
		ret = EXIT_FAILURE;
		goto done;
	}
	memset(&ocfg, 0, sizeof ocfg);
	ocfg.store = store;
	ocfg.command = "tapvault export --flow-logs";
	ocfg.max_rows = 200;
	ocfg.format = REPORT_AF_HTML;
	rc = report_audit_write(a, &ocfg, *html);
	ocfg.format = REPORT_AF_JSON;
	if (!rc)
		rc = report_audit_write(a, &ocfg, *json);
	if (rc || fflush(*html) != 0 || fflush(*json) != 0) {
		cmd_err("export", "writing the audit report failed: %s", strerror(rc ? rc : errno));
		ret = EXIT_FAILURE;
		goto done;
	}
	if (!g_cmd.quiet) {
		const report_audit_summary *sm = report_audit_summary_get(a);
		printf("audit: %llu flows: %llu matched, %llu mirror_fewer, %llu mirror_more, "
		       "%llu flowlog_only, %llu mirror_only\n",
		       (unsigned long long)sm->flows, (unsigned long long)sm->by_class[REPORT_AC_MATCHED],
		       (unsigned long long)sm->by_class[REPORT_AC_MIRROR_FEWER],
		       (unsigned long long)sm->by_class[REPORT_AC_MIRROR_MORE],
		       (unsigned long long)sm->by_class[REPORT_AC_FLOWLOG_ONLY],
		       (unsigned long long)sm->by_class[REPORT_AC_MIRROR_ONLY]);
	}
done:
	report_audit_free(a);
	report_vnimap_free(map);
	return ret;
}

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

/* Opens the bundle writer (*wp) and streams every member but the manifest
 * into it.  From here on a file exists under a temporary name beside the
 * bundle: SIGINT and SIGTERM only set a flag, the writer stops between
 * blocks and the temporary file is removed.  (Until now every temporary
 * file was unlinked at creation, and the default action leaves nothing.)
 * EXIT_OK or an exit code (*wp NULL then). */
static int add_members(const struct eopts *op, struct exctx *x, FILE *fflows, FILE *faudit_html,
                       FILE *faudit_json, report_bundle_writer **wp)
{
	report_bundle_writer *w;
	char err[1024];
	int rc, ret;

	*wp = NULL;
	catch_stop();
	rc = report_bundle_writer_open(op->out, op->kind, wp);
	w = *wp;
	if (rc) {
		cmd_err("export", "%s: cannot create: %s", op->out,
		        rc == EEXIST ? "exists already; a bundle is never overwritten" : tv_strerror(rc));
		return rc == EEXIST || rc == TV_E_SYMLINK || rc == TV_E_NOTREG || rc == EISDIR
		              ? EXIT_USAGE : EXIT_FAILURE;
	}
	report_bundle_writer_cancel_on(w, &g_stop);
	if (report_bundle_writer_swept(w))
		cmd_note("export", "%s: removed %u temporary file(s) that an interrupted export left", op->out,
		         report_bundle_writer_swept(w));
	rc = report_bundle_writer_add(w, REPORT_BUNDLE_PACKETS, x->pcap, err, sizeof err);
	if (!rc)
		rc = report_bundle_writer_add(w, REPORT_BUNDLE_FLOWS, fflows, err, sizeof err);
	if (!rc && faudit_html)
		rc = report_bundle_writer_add(w, REPORT_BUNDLE_AUDIT_HTML, faudit_html, err, sizeof err);
	if (!rc && faudit_json)
		rc = report_bundle_writer_add(w, REPORT_BUNDLE_AUDIT_JSON, faudit_json, err, sizeof err);
	if (rc) {
		report_bundle_writer_abort(w);
		*wp = NULL;
		ret = g_stop ? stopped(op->out) : EXIT_FAILURE;
		if (!g_stop)
			cmd_err("export", "%s: %s", op->out, err);
		return ret;
	}
	return EXIT_OK;
}

/* The custody entry of the bundle just written; when it cannot be
 * appended, the bundle is withdrawn.  EXIT_OK or EXIT_FAILURE. */
static int record_custody(const struct eopts *op, const char *examiner, const char *storeabs,
                          const char *outabs, uint64_t created_ns, const char *norm, const char *user,
                          const char *host, uint64_t size, const uint8_t sha[32], uint64_t *seq,
                          char chainhex[65])
{
	report_custody_entry ce;
	char err[1024];
	int rc;

	memset(&ce, 0, sizeof ce);
	ce.time_ns = created_ns;
	ce.action = "export";
	ce.examiner = examiner;
	ce.uid = (uint32_t)getuid();
	ce.user = user;
	ce.host = host;
	ce.case_id = op->case_id;
	ce.query = norm;
	ce.bundle = op->out;
	ce.bundle_path = outabs;
	ce.bundle_size = size;
	memcpy(ce.bundle_sha256, sha, 32);
	ce.note = op->note;
	err[0] = '\0';
	rc = report_custody_append(storeabs, &ce, seq, chainhex, err, sizeof err);
	if (rc) {
		/* an export that the custody log does not know of must not exist
		 * (removed only while it is still the file just written) */
		int wr = report_bundle_withdraw(op->out, size, sha);
		cmd_err("export", "%s; %s", err[0] ? err : tv_strerror(rc),
		        wr == 0 ? "the bundle was removed again"
		                : "the bundle could not be removed again: delete it");
		return EXIT_FAILURE;
	}
	return EXIT_OK;
}

/* The matching packets into the temporary pcap x->pcap, every chunk
 * checked against its SHA-256 as it is read (evidence from a damaged chunk
 * must not go into a bundle unnoticed), within --max-bytes.  EXIT_OK or
 * an exit code. */
static int collect_packets(const struct eopts *op, idx_rstore *rs, const idx_expr *e, struct exctx *x,
                           idx_query_stats *st)
{
	char err[1024];
	int rc;

	if (op->max_bytes && op->max_bytes < CMD_PCAP_HDR_LEN) {
		cmd_err("export", "--max-bytes %llu: smaller than a pcap header",
		        (unsigned long long)op->max_bytes);
		return EXIT_USAGE;
	}
	cmd_pcapw_header(x->pcap);
	x->bytes = CMD_PCAP_HDR_LEN;
	cmd_progress_init(&x->prog);
	rc = idx_query_run_hits(rs, 1, e, true, on_hit, x, st, err, sizeof err);
	cmd_progress_end(&x->prog);
	if (x->over) {
		char lim[32];
		cmd_fmt_bytes(op->max_bytes, lim, sizeof lim);
		cmd_err("export", "the packets exceed --max-bytes %s (stopped after %llu packets); "
		                  "no bundle was written: narrow the expression or raise the limit",
		        lim, (unsigned long long)x->packets);
		return EXIT_FAILURE;
	}
	if (rc) {
		cmd_err("export", "%s", rc == TV_E_IO ? "writing the temporary pcap failed (disk full?)"
		                                      : err);
		return EXIT_FAILURE;
	}
	if (fflush(x->pcap) != 0 || ferror(x->pcap)) {
		cmd_err("export", "writing the temporary pcap failed: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	return EXIT_OK;
}

/* The manifest's description of the bundle.  The strings are borrowed:
 * tool and norm are the caller's buffers (filled here), the rest the
 * caller's too; the chunk list is x's. */
static void fill_meta(report_bundle_meta *meta, const struct eopts *op, const char *examiner,
                      idx_rstore *rs, const idx_expr *e, const char *text, const char *storeabs,
                      const struct exctx *x, uint64_t nflows, char tool[64], char norm[2048])
{
	uint8_t uuid[16];
	char uuidhex[33];
	int i;

	memset(meta, 0, sizeof *meta);
	snprintf(tool, 64, "tapvault %s", TV_VERSION);
	idx_store_uuid(rs->x, uuid);
	for (i = 0; i < 16; i++)
		snprintf(uuidhex + 2 * i, 3, "%02x", uuid[i]);
	idx_expr_format(e, norm, 2048);
	meta->tool = tool;
	meta->created_ns = tv_clock_real_ns();
	meta->case_id = op->case_id;
	meta->examiner = examiner;
	meta->note = op->note;
	meta->store_path = storeabs;
	memcpy(meta->store_uuid, uuidhex, sizeof uuidhex);
	meta->query_text = text;
	meta->query_norm = norm;
	idx_expr_time_bounds(e, &meta->time_lo, &meta->time_hi);
	meta->packets = x->packets;
	meta->first_ts = x->first_ts;
	meta->last_ts = x->last_ts;
	meta->flow_records = nflows;
	meta->max_bytes = op->max_bytes;
	meta->chunks = x->chunks;
	meta->nchunks = x->nchunks;
}

int cmd_export(int argc, char **argv)
{
	static struct eopts op;
	const char *examiner;
	char *text = NULL, norm[2048], err[1024], storeabs[PATH_MAX], outabs[PATH_MAX];
	char shahex[65], chainhex[65], user[256] = "", host[256] = "", tool[64];
	uint8_t sha[32];
	uint64_t nflows = 0, size = 0, seq = 0;
	idx_expr *e = NULL;
	idx_expr_err perr;
	idx_rstore rs;
	bool rs_open = false;
	struct exctx x;
	idx_query_stats st;
	report_bundle_writer *w = NULL;
	report_bundle_meta meta;
	struct passwd *pw;
	FILE *fflows = NULL, *faudit_html = NULL, *faudit_json = NULL;
	int rc, ret = EXIT_OK;

	memset(&x, 0, sizeof x);
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
	rs_open = true;
	cmd_store_coverage_note("export", &rs);
	if (!realpath(op.store, storeabs))
		snprintf(storeabs, sizeof storeabs, "%s", op.store);

	pw = getpwuid(getuid());
	if (pw && pw->pw_name)
		snprintf(user, sizeof user, "%s", pw->pw_name);
	if (gethostname(host, sizeof host - 1) != 0)
		host[0] = '\0';
	examiner = op.examiner && *op.examiner ? op.examiner : user[0] ? user : NULL;

	x.max_bytes = op.max_bytes;
	x.pcap = temp_near(op.out);
	fflows = temp_near(op.out);
	if (!x.pcap || !fflows) {
		cmd_err("export", "%s: cannot create a temporary file beside it: %s", op.out, strerror(errno));
		ret = EXIT_FAILURE;
		goto out;
	}
	if ((ret = collect_packets(&op, &rs, e, &x, &st)) != EXIT_OK)
		goto out;
	rc = report_bundle_write_flows(rs.x, e, fflows, &nflows);
	if (rc || fflush(fflows) != 0) {
		cmd_err("export", "%s: reading the flow records failed: %s", op.store,
		        tv_strerror(rc ? rc : TV_E_IO));
		ret = EXIT_FAILURE;
		goto out;
	}

	if (op.nfl > 0) {
		rc = export_audit(&rs, e, op.store, op.flowlogs, op.nfl, op.maps, op.nmaps, op.out, &faudit_html,
		                  &faudit_json);
		if (rc) {
			ret = rc;
			goto out;
		}
	}

	/* From here on a file exists under a temporary name beside the bundle:
	 * SIGINT and SIGTERM only set a flag, the writer stops between blocks
	 * and the temporary file is removed.  (Until now every temporary file
	 * was unlinked at creation, and the default action leaves nothing.) */
	ret = add_members(&op, &x, fflows, faudit_html, faudit_json, &w);
	if (ret != EXIT_OK)
		goto out;
	fill_meta(&meta, &op, examiner, &rs, e, text, storeabs, &x, nflows, tool, norm);
	rc = report_bundle_writer_finish(w, &meta, &size, sha, err, sizeof err);
	w = NULL;
	if (rc && g_stop) {
		ret = stopped(op.out);
		goto out;
	}
	if (rc) {
		cmd_err("export", "%s: %s", op.out, err[0] ? err : tv_strerror(rc));
		ret = rc == EEXIST ? EXIT_USAGE : EXIT_FAILURE;
		goto out;
	}
	/* the bundle exists: a signal from now on waits for its custody entry */
	tv_sha256_hex(sha, shahex);
	if (!realpath(op.out, outabs))
		snprintf(outabs, sizeof outabs, "%s", op.out);

	ret = record_custody(&op, examiner, storeabs, outabs, meta.created_ns, norm, user, host, size, sha,
	                     &seq, chainhex);
	if (ret != EXIT_OK)
		goto out;
	if (!g_cmd.quiet) {
		char sz[32];
		cmd_fmt_bytes(size, sz, sizeof sz);
		printf("%s: %llu packets from %zu chunks, %llu flow records, %s\n", op.out,
		       (unsigned long long)x.packets, x.nchunks, (unsigned long long)nflows, sz);
		printf("sha256 %s\n", shahex);
		printf("custody entry %llu in %s/%s\n", (unsigned long long)seq, storeabs,
		       STORE_CUSTODY_NAME);
	}
	if (g_cmd.verbose)
		fprintf(stderr, "export: %s; %llu of %llu chunks planned, %llu read\n", norm,
		        (unsigned long long)st.plan.chunks_planned,
		        (unsigned long long)st.plan.chunks_total, (unsigned long long)st.chunks_read);
out:
	report_bundle_writer_abort(w);
	if (x.pcap)
		fclose(x.pcap);
	if (fflows)
		fclose(fflows);
	if (faudit_html)
		fclose(faudit_html);
	if (faudit_json)
		fclose(faudit_json);
	free(x.chunks);
	if (rs_open)
		idx_rstore_close(&rs);
	idx_expr_free(e);
	free(text);
	return ret;
}
