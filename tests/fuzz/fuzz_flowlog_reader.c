/*
 * fuzz_flowlog_reader.c — libFuzzer target for the flow-log reader
 * (report/flowlog_read.c): the input is a whole file (text, zeros, binary,
 * gzip/zstd, tar or zip), read through an in-memory file with a short line
 * limit so that overlong lines, NUL runs, held rejects and the verdict "not
 * a flow-log file" are all reached.  Checks the counters agree: every
 * record returned is counted, rejects never exceed lines plus files, and
 * the reader stays at its end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../report/flowlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	uint64_t n, files;
};

static void on_reject(void *p, const report_fl_reject *rj)
{
	struct ctx *c = p;
	c->n++;
	if (rj->line == 0)
		c->files++;
	if (!rj->file || strnlen(rj->err->msg, sizeof rj->err->msg) == sizeof rj->err->msg)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	report_flowlog_reader_cfg cfg;
	report_flowlog_reader *r;
	report_fl_rec rec;
	report_fl_where w;
	const report_fl_stats *st;
	struct ctx c = { 0, 0 };
	char path[64];
	const char *paths[1] = { path };
	uint64_t n = 0;
	int fd, rc;

	fd = memfd_create("fuzz_flowlog_reader", 0);
	if (fd < 0)
		return 0;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	memset(&cfg, 0, sizeof cfg);
	cfg.max_line = 200;
	cfg.max_bytes = 1u << 20;
	cfg.on_reject = on_reject;
	cfg.ctx = &c;
	if (report_flowlog_reader_open(&cfg, paths, 1, &r) != 0) {
		close(fd);
		return 0;
	}
	while ((rc = report_flowlog_reader_next(r, &rec, &w)) == 0) {
		n++;
		if (!w.file || !w.fmt || w.line == 0)
			abort();
	}
	if (rc != TV_E_NOTFOUND && rc != TV_E_NOMEM)
		abort();
	if (rc == TV_E_NOTFOUND && report_flowlog_reader_next(r, &rec, &w) != TV_E_NOTFOUND)
		abort();
	st = report_flowlog_reader_stats(r);
	if (st->records != n || st->rejected != c.n || st->files_failed != c.files)
		abort();
	/* a zero run is a reject between two lines at most */
	if (st->rejected > 2 * (st->lines + st->files) + 2)
		abort();
	report_flowlog_reader_free(r);
	close(fd);
	return 0;
}
