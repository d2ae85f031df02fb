/*
 * flowlog_read.c — reads flow-log records from files, directories, archives
 * and standard input, one line at a time.
 *
 * Layers, outermost first:
 *   path stack   top-level paths, then directory entries (sorted by name);
 *   outer        a libarchive reader over one path: every filter, every
 *                archive format but mtree (see support_outer_formats), and
 *                "raw" for a plain or compressed file (raw bids lowest, so a
 *                text file that no archive format claims is read as raw; the
 *                tests check this);
 *   inner        for members of a real archive only: a second libarchive
 *                reader with every filter and raw, fed from the outer
 *                member's data, so a tar of S3 .log.gz objects works;
 *   lines        a fixed read buffer and a fixed line buffer (max_line + 1
 *                bytes): memory does not grow with file size.
 */
#include "report.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define RBUF_SIZE 65536
#define MAX_DEPTH 32

struct pend {
	char *path;
	int depth;
};

/* A file or directory already read, by device and inode: the same data
 * reached twice (given twice, or through a symbolic link such as
 * latest -> 2025) is read once, and a link back to a directory being read
 * is a loop. */
struct seen {
	dev_t dev;
	ino_t ino;
	char *path;  /* the path it was first read under */
};

struct report_flowlog_reader {
	report_flowlog_reader_cfg cfg;
	report_fl_format cfg_fmt; /* format for files without a header */
	report_fl_format fmt;     /* format of the current file */
	report_fl_stats st;

	struct pend *stack;       /* paths still to read, top = next */
	size_t nstack, capstack;

	char *path;               /* top-level path being read (owned) */
	struct archive *outer;
	struct archive *inner;    /* NULL when outer is raw */
	struct archive *src;      /* where bytes come from: outer or inner */
	bool outer_raw;
	bool in_entry;            /* an entry is open and not finished */
	uint64_t entries;         /* entries of the current outer archive so far */
	bool outer_failed;        /* the outer archive reported an error */
	bool raw_only;            /* outer was reopened as filters + raw */
	bool reopenable;          /* a regular file: can be opened a second time */
	char *name;               /* display name of the current entry */
	size_t name_cap;
	uint64_t lineno;
	uint64_t offset;          /* decompressed bytes of this entry read so far */

	char *rbuf;
	size_t rpos, rlen;
	bool eof;                 /* src has no more bytes for this entry */
	char *line;
	size_t linelen;
	size_t max_line;
	bool overlong;
	size_t overlong_len;
	char *msgbuf;             /* CloudWatch messages are decoded here */
	char *inbuf;              /* buffer for the inner reader's callback */
	struct seen *seen;        /* files and directories read, in order */
	size_t nseen, capseen;
	uint32_t *seen_slots;     /* open hash over seen: index + 1, 0 = empty */
	size_t nslots;            /* power of two, or 0 */
};

/* ---------------------------------------------------------------------
 * Rejects
 */

__attribute__((format(printf, 5, 6)))
static void reject(report_flowlog_reader *r, int reason, uint64_t line, const report_fl_err *perr,
                   const char *fmt, ...)
{
	report_fl_err e;
	report_fl_reject rj;
	va_list ap;

	if (perr) {
		e = *perr;
	} else {
		memset(&e, 0, sizeof e);
		e.reason = reason;
		va_start(ap, fmt);
		vsnprintf(e.msg, sizeof e.msg, fmt, ap);
		va_end(ap);
	}
	if (e.reason < 0 || e.reason >= REPORT_FL_R__COUNT)
		e.reason = reason;
	r->st.rejected++;
	r->st.by_reason[e.reason]++;
	/* a path read once already, or a loop not followed, is no failed file */
	if (line == 0 && e.reason != REPORT_FL_R_DUPLICATE && e.reason != REPORT_FL_R_LOOP)
		r->st.files_failed++;
	if (r->cfg.on_reject) {
		rj.file = r->name ? r->name : (r->path ? r->path : "?");
		rj.line = line;
		rj.err = &e;
		r->cfg.on_reject(r->cfg.ctx, &rj);
	}
}

/* ---------------------------------------------------------------------
 * Paths
 */

static int push(report_flowlog_reader *r, const char *path, int depth)
{
	char *p;
	if (r->nstack == r->capstack) {
		size_t nc = r->capstack ? r->capstack * 2 : 16;
		struct pend *ns = realloc(r->stack, nc * sizeof *ns);
		if (!ns)
			return TV_E_NOMEM;
		r->stack = ns;
		r->capstack = nc;
	}
	p = strdup(path);
	if (!p)
		return TV_E_NOMEM;
	r->stack[r->nstack].path = p;
	r->stack[r->nstack].depth = depth;
	r->nstack++;
	return 0;
}

static int set_name(report_flowlog_reader *r, const char *a, const char *b)
{
	size_t need = strlen(a) + (b ? strlen(b) + 1 : 0) + 1;
	if (need > r->name_cap) {
		char *nn = realloc(r->name, need);
		if (!nn)
			return TV_E_NOMEM;
		r->name = nn;
		r->name_cap = need;
	}
	if (b)
		snprintf(r->name, r->name_cap, "%s:%s", a, b);
	else
		snprintf(r->name, r->name_cap, "%s", a);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dots(const struct dirent *e)
{
	return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

/* Pushes a directory's entries so that they pop in name order. */
static int push_dir(report_flowlog_reader *r, const char *dir, int depth)
{
	struct dirent **ents = NULL;
	int n, i, rc = 0;

	n = scandir(dir, &ents, not_dots, by_name);
	if (n < 0) {
		int e = errno;
		set_name(r, dir, NULL);
		reject(r, REPORT_FL_R_IO, 0, NULL, "cannot read directory: %s", strerror(e));
		return 0;
	}
	for (i = n - 1; i >= 0; i--) {
		if (rc == 0) {
			size_t need = strlen(dir) + strlen(ents[i]->d_name) + 2;
			char *p = malloc(need);
			if (!p) {
				rc = TV_E_NOMEM;
			} else {
				bool slash = dir[0] && dir[strlen(dir) - 1] == '/';
				snprintf(p, need, "%s%s%s", dir, slash ? "" : "/", ents[i]->d_name);
				rc = push(r, p, depth + 1);
				free(p);
			}
		}
		free(ents[i]);
	}
	free(ents);
	return rc;
}

static size_t seen_hash(dev_t dev, ino_t ino, size_t mask)
{
	uint64_t h = ((uint64_t)dev * 0x9E3779B97F4A7C15ull) ^ (uint64_t)ino;
	h ^= h >> 31;
	h *= 0xBF58476D1CE4E5B9ull;
	h ^= h >> 29;
	return (size_t)h & mask;
}

/* The entry for (dev, ino), or NULL. */
static const struct seen *seen_find(const report_flowlog_reader *r, dev_t dev, ino_t ino)
{
	size_t mask, j;
	if (!r->nslots)
		return NULL;
	mask = r->nslots - 1;
	for (j = seen_hash(dev, ino, mask); r->seen_slots[j]; j = (j + 1) & mask) {
		const struct seen *e = &r->seen[r->seen_slots[j] - 1];
		if (e->dev == dev && e->ino == ino)
			return e;
	}
	return NULL;
}

static int seen_add(report_flowlog_reader *r, const struct stat *sb, const char *path)
{
	size_t mask, j, i;
	if (r->nseen == r->capseen) {
		size_t nc = r->capseen ? r->capseen * 2 : 64;
		struct seen *ns = realloc(r->seen, nc * sizeof *ns);
		if (!ns)
			return TV_E_NOMEM;
		r->seen = ns;
		r->capseen = nc;
	}
	if ((r->nseen + 1) * 2 > r->nslots) {
		size_t nn = r->nslots ? r->nslots * 2 : 128;
		uint32_t *sl = calloc(nn, sizeof *sl);
		if (!sl)
			return TV_E_NOMEM;
		free(r->seen_slots);
		r->seen_slots = sl;
		r->nslots = nn;
		for (i = 0; i < r->nseen; i++) {
			for (j = seen_hash(r->seen[i].dev, r->seen[i].ino, nn - 1); sl[j]; j = (j + 1) & (nn - 1))
				;
			sl[j] = (uint32_t)(i + 1);
		}
	}
	r->seen[r->nseen].path = strdup(path);
	if (!r->seen[r->nseen].path)
		return TV_E_NOMEM;
	r->seen[r->nseen].dev = sb->st_dev;
	r->seen[r->nseen].ino = sb->st_ino;
	mask = r->nslots - 1;
	for (j = seen_hash(sb->st_dev, sb->st_ino, mask); r->seen_slots[j]; j = (j + 1) & mask)
		;
	r->seen_slots[j] = (uint32_t)(++r->nseen);
	return 0;
}

/* true when path lies inside directory dir (dir is a prefix followed by '/') */
static bool path_inside(const char *dir, const char *path)
{
	size_t n = strlen(dir);
	if (n && dir[n - 1] == '/')
		n--;
	return strncmp(dir, path, n) == 0 && path[n] == '/';
}

/* ---------------------------------------------------------------------
 * Archives
 */

static void close_entry(report_flowlog_reader *r)
{
	if (r->inner) {
		archive_read_free(r->inner);
		r->inner = NULL;
	}
	r->src = NULL;
	r->in_entry = false;
}

static void close_outer(report_flowlog_reader *r)
{
	close_entry(r);
	if (r->outer) {
		archive_read_free(r->outer);
		r->outer = NULL;
	}
	free(r->path);
	r->path = NULL;
}

static la_ssize_t inner_read(struct archive *a, void *ctx, const void **buf)
{
	report_flowlog_reader *r = ctx;
	la_ssize_t n = archive_read_data(r->outer, r->inbuf, RBUF_SIZE);
	(void)a;
	if (n < 0) {
		archive_set_error(a, EIO, "%s", archive_error_string(r->outer));
		return -1;
	}
	*buf = r->inbuf;
	return n;
}

/*
 * Every filter; every format of archive_read_support_format_all() except
 * mtree; then raw.  Raw bids lowest, so text that no archive format claims is
 * read as raw.  mtree is left out because its bidder claims text: a file that
 * starts with "#mtree", or whose lines look like "name key=value", would be
 * taken for an mtree spec and its lines for file names (the test
 * plain_text_is_raw has such a file).  Nobody ships flow logs as mtree.
 */
/*
 * The compressions a flow-log file may use, all decoded in-process.
 * archive_read_support_filter_all() would also let libarchive start
 * external programs (lrzip, lzop, grzip) found on $PATH for a file that
 * merely starts with their magic bytes.
 */
static void support_filters(struct archive *a)
{
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_lz4(a);
	archive_read_support_filter_compress(a);
}

static void support_outer_formats(struct archive *a)
{
	support_filters(a);
	archive_read_support_format_7zip(a);
	archive_read_support_format_ar(a);
	archive_read_support_format_cab(a);
	archive_read_support_format_cpio(a);
	archive_read_support_format_empty(a);
	archive_read_support_format_iso9660(a);
	archive_read_support_format_lha(a);
	archive_read_support_format_rar(a);
	archive_read_support_format_rar5(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_warc(a);
	archive_read_support_format_xar(a);
	archive_read_support_format_zip(a);
	archive_read_support_format_raw(a);
}

/*
 * Opens r->path as r->outer: with every format, or (raw_only) with the
 * filters and raw only.  Returns 1, 0 when it failed (reported) or
 * TV_E_NOMEM.
 */
static int open_outer(report_flowlog_reader *r, bool is_stdin, bool raw_only)
{
	int rc;
	r->outer = archive_read_new();
	if (!r->outer)
		return TV_E_NOMEM;
	if (raw_only) {
		support_filters(r->outer);
		archive_read_support_format_raw(r->outer);
	} else {
		support_outer_formats(r->outer);
	}
	if (is_stdin)
		rc = archive_read_open_fd(r->outer, STDIN_FILENO, RBUF_SIZE);
	else
		rc = archive_read_open_filename(r->outer, r->path, RBUF_SIZE);
	if (rc != ARCHIVE_OK) {
		reject(r, REPORT_FL_R_IO, 0, NULL, "cannot open: %s",
		       archive_error_string(r->outer) ? archive_error_string(r->outer)
		                                      : "unknown libarchive error");
		archive_read_free(r->outer);
		r->outer = NULL;
		return 0;
	}
	r->entries = 0;
	r->outer_failed = false;
	r->raw_only = raw_only;
	return 1;
}

/*
 * Opens the next path from the stack as r->outer.  Returns 1 when an outer
 * archive is open, 0 when the stack is empty, or TV_E_NOMEM.
 */
static int open_next_path(report_flowlog_reader *r)
{
	while (r->nstack > 0) {
		struct pend pd = r->stack[--r->nstack];
		bool is_stdin = strcmp(pd.path, "-") == 0;
		struct stat sb;
		int rc;

		r->path = pd.path;
		if (set_name(r, pd.path, NULL) != 0)
			return TV_E_NOMEM;
		if (!is_stdin) {
			if (stat(pd.path, &sb) != 0) {
				reject(r, REPORT_FL_R_IO, 0, NULL, "cannot open: %s", strerror(errno));
				goto next;
			}
			if (S_ISDIR(sb.st_mode) || S_ISREG(sb.st_mode)) {
				const struct seen *was = seen_find(r, sb.st_dev, sb.st_ino);
				if (was && S_ISDIR(sb.st_mode) && path_inside(was->path, pd.path)) {
					reject(r, REPORT_FL_R_LOOP, 0, NULL,
					       "a symbolic link loop: it leads back to %s, which contains it; "
					       "not followed", was->path);
					goto next;
				}
				if (was) {
					reject(r, REPORT_FL_R_DUPLICATE, 0, NULL,
					       "the same %s as %s (device %u:%u, inode %llu): read once",
					       S_ISDIR(sb.st_mode) ? "directory" : "file", was->path,
					       major(sb.st_dev), minor(sb.st_dev), (unsigned long long)sb.st_ino);
					goto next;
				}
				if (seen_add(r, &sb, pd.path) != 0)
					return TV_E_NOMEM;
			}
			if (S_ISDIR(sb.st_mode)) {
				if (pd.depth >= MAX_DEPTH) {
					reject(r, REPORT_FL_R_IO, 0, NULL,
					       "directory more than %d levels deep, skipped", MAX_DEPTH);
					goto next;
				}
				rc = push_dir(r, pd.path, pd.depth);
				if (rc != 0)
					return rc;
				goto next;
			}
			/* Inside directories only regular files: a FIFO or socket
			 * there would block or fail.  Paths named on the command
			 * line are read whatever they are (<(zcat ...), /dev/fd/N). */
			if (pd.depth > 0 && !S_ISREG(sb.st_mode))
				goto next;
		}
		rc = open_outer(r, is_stdin, false);
		if (rc < 0)
			return rc;
		if (rc == 0)
			goto next;
		r->reopenable = !is_stdin && S_ISREG(sb.st_mode);
		return 1;
next:
		free(r->path);
		r->path = NULL;
	}
	return 0;
}

/*
 * Advances r->outer to its next regular-file entry and sets up r->src.
 * Returns 1 when an entry is open, 0 when the outer archive is done (or
 * failed: reported), TV_E_NOMEM.
 */
static int open_next_entry(report_flowlog_reader *r)
{
	struct archive_entry *e;

	close_entry(r);
	for (;;) {
		int rc = archive_read_next_header(r->outer, &e);
		const char *mname;
		if (rc == ARCHIVE_EOF) {
			if (r->entries == 0 && !r->outer_failed)
				r->st.files++; /* an empty file is still a file read */
			return 0;
		}
		r->entries++;
		if (rc < ARCHIVE_WARN && r->entries == 1 && !r->raw_only && r->reopenable) {
			/* An archive format claimed the file by its first bytes
			 * but cannot read it: a text whose first record starts
			 * with a cpio magic ("070707", an account id can), or a
			 * damaged archive.  Read it again as a plain stream; a
			 * damaged archive then shows up as not text. */
			archive_read_free(r->outer);
			r->outer = NULL;
			rc = open_outer(r, false, true);
			if (rc <= 0)
				return rc;
			continue;
		}
		if (rc < ARCHIVE_WARN) {
			r->outer_failed = true;
			if (set_name(r, r->path, NULL) != 0)
				return TV_E_NOMEM;
			reject(r, REPORT_FL_R_IO, 0, NULL, "cannot read: %s",
			       archive_error_string(r->outer) ? archive_error_string(r->outer)
			                                      : "unknown libarchive error");
			return 0;
		}
		r->outer_raw = archive_format(r->outer) == ARCHIVE_FORMAT_RAW;
		if (r->outer_raw) {
			if (set_name(r, strcmp(r->path, "-") == 0 ? "-" : r->path, NULL) != 0)
				return TV_E_NOMEM;
			r->src = r->outer;
		} else {
			if (archive_entry_filetype(e) != AE_IFREG)
				continue;
			mname = archive_entry_pathname(e);
			if (set_name(r, r->path, mname ? mname : "?") != 0)
				return TV_E_NOMEM;
			r->inner = archive_read_new();
			if (!r->inner)
				return TV_E_NOMEM;
			support_filters(r->inner);
			archive_read_support_format_raw(r->inner);
			if (archive_read_open(r->inner, r, NULL, inner_read, NULL) != ARCHIVE_OK ||
			    (rc = archive_read_next_header(r->inner, &e)) < ARCHIVE_WARN) {
				r->st.files++;
				reject(r, REPORT_FL_R_IO, 0, NULL, "cannot read: %s",
				       archive_error_string(r->inner) ? archive_error_string(r->inner)
				                                      : "unknown libarchive error");
				close_entry(r);
				continue;
			}
			if (rc == ARCHIVE_EOF) { /* an empty member */
				r->st.files++;
				close_entry(r);
				continue;
			}
			r->src = r->inner;
		}
		r->st.files++;
		r->in_entry = true;
		r->lineno = 0;
		r->offset = 0;
		r->rpos = r->rlen = 0;
		r->eof = false;
		r->linelen = 0;
		r->overlong = false;
		r->fmt = r->cfg_fmt;
		return 1;
	}
}

/* ---------------------------------------------------------------------
 * Lines
 */

static bool binary_byte(unsigned char c)
{
	return c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v' &&
	       c != 0x1b;
}

/* Refills rbuf.  Returns 1 with bytes, 0 at the end, -1 on a reported error. */
static int refill(report_flowlog_reader *r)
{
	la_ssize_t n;
	size_t i;
	if (r->eof)
		return 0;
	n = archive_read_data(r->src, r->rbuf, RBUF_SIZE);
	if (n < 0) {
		reject(r, REPORT_FL_R_IO, 0, NULL, "read error after %llu bytes: %s",
		       (unsigned long long)r->offset,
		       archive_error_string(r->src) ? archive_error_string(r->src) : "unknown");
		return -1;
	}
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	for (i = 0; i < (size_t)n; i++) {
		if (binary_byte((unsigned char)r->rbuf[i])) {
			reject(r, REPORT_FL_R_NOT_TEXT, 0, NULL,
			       "not a text file (byte 0x%02x at offset %llu), skipped",
			       (unsigned char)r->rbuf[i], (unsigned long long)(r->offset + i));
			return -1;
		}
	}
	r->offset += (uint64_t)n;
	r->rpos = 0;
	r->rlen = (size_t)n;
	return 1;
}

/* Reads the next line into r->line.  1: a line, 0: end of entry, -1: abandon. */
static int read_line(report_flowlog_reader *r)
{
	r->linelen = 0;
	r->overlong = false;
	r->overlong_len = 0;
	for (;;) {
		const char *s, *nl;
		size_t n, take;
		int rc;

		if (r->rpos == r->rlen) {
			rc = refill(r);
			if (rc < 0)
				return -1;
			if (rc == 0)
				return (r->linelen > 0 || r->overlong) ? 1 : 0;
		}
		s = r->rbuf + r->rpos;
		n = r->rlen - r->rpos;
		nl = memchr(s, '\n', n);
		take = nl ? (size_t)(nl - s) : n;
		if (!r->overlong && take > r->max_line - r->linelen) {
			r->overlong = true;
			r->overlong_len = r->linelen;
		}
		if (r->overlong)
			r->overlong_len += take;
		else {
			memcpy(r->line + r->linelen, s, take);
			r->linelen += take;
		}
		r->rpos += take + (nl ? 1 : 0);
		if (nl)
			return 1;
	}
}

static const char *skip_blanks(const char *s, size_t n, size_t *left)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	*left = n;
	return s;
}

/* ---------------------------------------------------------------------
 * API
 */

int report_flowlog_reader_open(const report_flowlog_reader_cfg *cfg, const char *const *paths,
                               size_t npaths, report_flowlog_reader **out)
{
	report_flowlog_reader *r;
	size_t i;
	int rc = TV_E_NOMEM;

	*out = NULL;
	if (npaths == 0 || !paths)
		return TV_E_RANGE;
	r = calloc(1, sizeof *r);
	if (!r)
		return TV_E_NOMEM;
	if (cfg)
		r->cfg = *cfg;
	if (r->cfg.format)
		r->cfg_fmt = *r->cfg.format;
	else
		report_format_default(&r->cfg_fmt);
	r->cfg.format = NULL;
	r->max_line = r->cfg.max_line ? r->cfg.max_line : REPORT_FL_MAX_LINE_DEFAULT;
	r->rbuf = malloc(RBUF_SIZE);
	r->inbuf = malloc(RBUF_SIZE);
	r->line = malloc(r->max_line + 1);
	r->msgbuf = malloc(r->max_line + 1);
	if (!r->rbuf || !r->inbuf || !r->line || !r->msgbuf)
		goto fail;
	for (i = npaths; i > 0; i--) {
		rc = push(r, paths[i - 1], 0);
		if (rc != 0)
			goto fail;
	}
	*out = r;
	return 0;
fail:
	report_flowlog_reader_free(r);
	return rc;
}

int report_flowlog_reader_next(report_flowlog_reader *r, report_fl_rec *rec,
                               report_fl_where *where)
{
	for (;;) {
		report_fl_err err;
		const char *s;
		size_t n;
		int rc;

		if (!r->in_entry) {
			if (!r->outer) {
				rc = open_next_path(r);
				if (rc < 0)
					return rc;
				if (rc == 0)
					return TV_E_NOTFOUND;
			}
			rc = open_next_entry(r);
			if (rc < 0)
				return rc;
			if (rc == 0) {
				close_outer(r);
				continue;
			}
		}

		rc = read_line(r);
		if (rc <= 0) {
			close_entry(r);
			continue;
		}
		r->lineno++;
		r->st.lines++;
		if (r->overlong) {
			reject(r, REPORT_FL_R_TOO_LONG, r->lineno, NULL,
			       "line of %zu bytes is longer than %zu, skipped", r->overlong_len,
			       r->max_line);
			continue;
		}
		s = r->line;
		n = r->linelen;
		/* A UTF-8 byte order mark, as some editors and exports write. */
		if (r->lineno == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
			s += 3;
			n -= 3;
		}
		{
			size_t left;
			const char *t = skip_blanks(s, n, &left);
			if (left > 0 && t[0] == '{') {
				rc = report_flowlog_parse_cwl(&r->fmt, t, left, r->msgbuf, r->max_line + 1,
				                              rec, &err);
				if (rc >= 0) {
					/* the message is what counts from here on */
					s = r->msgbuf;
					n = strlen(r->msgbuf);
				}
				if (rc == REPORT_FL_LINE_RECORD)
					r->st.json++;
			} else {
				rc = report_flowlog_parse_line(&r->fmt, s, n, rec, &err);
			}
		}
		if (rc == REPORT_FL_LINE_BLANK) {
			r->st.blank++;
			continue;
		}
		if (rc == REPORT_FL_LINE_HEADER) {
			report_fl_format f;
			if (report_format_from_header(s, n, &f, &err) != 0) {
				reject(r, REPORT_FL_R_HEADER, r->lineno, &err, "%s", "");
				continue;
			}
			r->fmt = f;
			r->st.headers++;
			continue;
		}
		if (rc != REPORT_FL_LINE_RECORD) {
			reject(r, err.reason, r->lineno, &err, "%s", "");
			continue;
		}
		r->st.records++;
		if (report_fl_has(rec, REPORT_FL_F_LOG_STATUS)) {
			if (rec->log_status == REPORT_FL_STATUS_NODATA)
				r->st.nodata++;
			else if (rec->log_status == REPORT_FL_STATUS_SKIPDATA)
				r->st.skipdata++;
		}
		where->file = r->name;
		where->line = r->lineno;
		where->fmt = &r->fmt;
		return 0;
	}
}

const report_fl_stats *report_flowlog_reader_stats(const report_flowlog_reader *r)
{
	return &r->st;
}

void report_flowlog_reader_free(report_flowlog_reader *r)
{
	if (!r)
		return;
	close_outer(r);
	while (r->nstack > 0)
		free(r->stack[--r->nstack].path);
	free(r->stack);
	while (r->nseen > 0)
		free(r->seen[--r->nseen].path);
	free(r->seen);
	free(r->seen_slots);
	free(r->name);
	free(r->rbuf);
	free(r->inbuf);
	free(r->line);
	free(r->msgbuf);
	free(r);
}
