/*
 * flows_parse.c — an end-to-end helper: reads flow-log files (plain, gzip,
 * directories; header lines switch the format) with the project's own
 * reader and line parser (report_flowlog_reader_*, report_flowlog_parse_line)
 * and prints every record back in its format with
 * report_flowlog_format_line(), one per line, prefixed with the field names
 * of its format and a tab.  Any rejected line or file makes it exit 1 after
 * saying which and why.  Built by the t_flows_*.sh tests against
 * libtapvault.a.
 *
 *   flows_parse PATH...
 */
#include <stdio.h>
#include <string.h>

#include "../../report/flowlog.h"

static int rejects;

static void on_reject(void *ctx, const report_fl_reject *rj)
{
	(void)ctx;
	fprintf(stderr, "reject %s:%llu: %s\n", rj->file, (unsigned long long)rj->line, rj->err->msg);
	rejects++;
}

int main(int argc, char **argv)
{
	report_flowlog_reader_cfg cfg;
	report_flowlog_reader *r;
	report_fl_rec rec;
	report_fl_where w;
	static char line[65536], head[8192];
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: flows_parse PATH...\n");
		return 2;
	}
	memset(&cfg, 0, sizeof cfg);
	cfg.on_reject = on_reject;
	if (report_flowlog_reader_open(&cfg, (const char *const *)(argv + 1), (size_t)(argc - 1), &r) != 0)
		return 2;
	while ((rc = report_flowlog_reader_next(r, &rec, &w)) == 0) {
		if (report_format_write(w.fmt, true, head, sizeof head) != 0 ||
		    report_flowlog_format_line(w.fmt, &rec, line, sizeof line, NULL) != 0) {
			fprintf(stderr, "%s:%llu: the record does not format back\n", w.file,
			        (unsigned long long)w.line);
			rejects++;
			continue;
		}
		printf("%s\t%s\n", head, line);
	}
	report_flowlog_reader_free(r);
	if (rc != TV_E_NOTFOUND) {
		fprintf(stderr, "reader failed: %s\n", tv_strerror(rc));
		return 2;
	}
	return rejects ? 1 : 0;
}
