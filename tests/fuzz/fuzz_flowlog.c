/*
 * fuzz_flowlog.c — libFuzzer target for the flow-log line codec
 * (report/flowlog.c): the line parser over arbitrary bytes with the default
 * format and with a custom format of every field plus unknown names, the
 * CloudWatch JSON line parser, the header and --log-format parsers, and the
 * writer: every record that parses must format, and the formatted line must
 * parse back to the same line (parse(format(rec)) == rec, checked on text).
 *
 * The input is also split at its first newline: the first part is used as a
 * --log-format string, the rest as a line in that format.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../report/flowlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CUSTOM                                                                                    \
	"${ecs-task-id} ${version} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} "          \
	"${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${vpc-id} ${tcp-flags} ${type} " \
	"${pkt-srcaddr} ${pkt-dstaddr} ${flow-direction} ${traffic-path} ${tgw-id} "                   \
	"${reject-reason} ${encryption-status}"

static void check_round_trip(const report_fl_format *f, const char *line, size_t len)
{
	report_fl_rec r, r2;
	report_fl_err e;
	char out[8192], out2[8192];
	size_t n, n2;
	int rc;

	rc = report_flowlog_parse_line(f, line, len, &r, &e);
	if (rc == TV_E_FORMAT) {
		if (strnlen(e.msg, sizeof e.msg) == sizeof e.msg)
			abort();
		return;
	}
	if (rc != REPORT_FL_LINE_RECORD)
		return;
	if (report_flowlog_format_line(f, &r, out, sizeof out, &n) != 0)
		abort(); /* every parsed record must be writable */
	if (report_flowlog_parse_line(f, out, n, &r2, &e) != REPORT_FL_LINE_RECORD)
		abort();
	if (r2.present != r.present || r2.other_present != r.other_present)
		abort();
	if (report_flowlog_format_line(f, &r2, out2, sizeof out2, &n2) != 0)
		abort();
	if (n != n2 || memcmp(out, out2, n) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static report_fl_format def, custom;
	static int ready;
	report_fl_format f;
	report_fl_rec r;
	report_fl_err e;
	char *line, *z, msg[4096];
	const uint8_t *nl;

	if (!ready) {
		report_format_default(&def);
		if (report_format_parse(CUSTOM, &custom, NULL) != 0)
			abort();
		ready = 1;
	}
	/* exact-size copy, so that a read past the end is caught */
	line = malloc(size ? size : 1);
	if (!line)
		return 0;
	memcpy(line, data, size);

	check_round_trip(&def, line, size);
	check_round_trip(&custom, line, size);
	(void)report_flowlog_is_header(line, size);
	if (report_format_from_header(line, size, &f, &e) == 0) {
		char buf[REPORT_FL_MAX_FIELDS * (REPORT_FL_NAME_MAX + 4)];
		if (report_format_write(&f, true, buf, sizeof buf) != 0)
			abort();
	}
	(void)report_flowlog_parse_cwl(&def, line, size, msg, sizeof msg, &r, &e);

	/* first line: a --log-format string; the rest: a line in it */
	nl = memchr(data, '\n', size);
	if (nl) {
		size_t flen = (size_t)(nl - data);
		z = malloc(flen + 1);
		if (z) {
			memcpy(z, data, flen);
			z[flen] = '\0';
			if (report_format_parse(z, &f, &e) == 0) {
				(void)report_format_version(&f);
				check_round_trip(&f, line + flen + 1, size - flen - 1);
			}
			free(z);
		}
	}
	free(line);
	return 0;
}
