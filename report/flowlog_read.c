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
 *
 * Bad content is rejected line by line and the reading goes on: a line that
 * holds a byte that is not text (NUL, other control bytes) is one reject, a
 * run of NUL bytes where a line starts (the zero-filled tail or head that a
 * crash or a preallocation leaves) is one reject, and the lines after it are
 * read.  Whether a file is a flow log at all is decided from its first
 * DETECT_LINES rejected lines or DETECT_BYTES bytes, not from its first
 * block: until a record or header line is seen, rejects are held back; when
 * that window ends with binary data among them and no record, the file is
 * refused as one reject (a pcap or a zero-filled file given by mistake)
 * instead of as thousands of lines.
 */
#include "flowlog.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define RBUF_SIZE 65536
#define MAX_DEPTH 32
/* Content detection window: rejects held back while no record or header has
 * been seen in a file, and the bytes read before the verdict at the latest
 * (a NUL run or a line without a newline stops there). */
#define DETECT_LINES 32
#define DETECT_BYTES (16u << 20)
/* Bytes of a stream (stdin, FIFO, device) kept so that it can be read a
 * second time as plain text when an archive format claimed it. */
#define REPLAY_MAX (1u << 20)

enum { RL_ABANDON = -1, RL_END = 0, RL_LINE = 1, RL_ZEROS = 2 };

struct held {
	uint64_t line;
	report_fl_err err;
};

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
	uint64_t max_bytes;       /* decoded bytes per file or member */
	bool stop_outer;          /* an entry passed max_bytes: skip the whole path */

	/* a stream (not a regular file) read through stream_read() */
	int fd;                   /* -1 when the outer reads a regular file */
	bool own_fd;
	char *sbuf;               /* read buffer of stream_read() */
	char *replay;             /* the stream's first bytes, up to REPLAY_MAX */
	size_t replay_len, replay_pos, replay_cap;
	bool recording;           /* stream_read() appends to replay */
	bool replay_lost;         /* more than REPLAY_MAX bytes were read */
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
	uint64_t line_off;        /* offset of the current line */
	bool line_bin;            /* it holds a byte that is not text: */
	unsigned char bin_byte;   /* the first such byte */
	uint64_t bin_off;         /* and its offset */
	uint64_t zero_off, zero_len; /* the NUL run read_line() returned */

	/* content detection of the current entry (see the top) */
	bool found;               /* a record or header line was read */
	bool decided;             /* rejects are no longer held back */
	struct held *held;        /* DETECT_LINES */
	size_t nheld;
	bool held_bin;            /* a held reject is binary data */
	bool held_text;           /* a held reject is a line of text */
	unsigned char first_bin_byte;
	uint64_t first_bin_off, first_bin_line, held_zero_bytes;
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

static void emit(report_flowlog_reader *r, uint64_t line, const report_fl_err *pe)
{
	report_fl_err e = *pe;
	report_fl_reject rj;

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

__attribute__((format(printf, 4, 0)))
static void make_err(report_fl_err *e, int reason, const report_fl_err *perr, const char *fmt,
                     va_list ap)
{
	if (perr) {
		*e = *perr;
	} else {
		memset(e, 0, sizeof *e);
		e->reason = reason;
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	}
	if (e->reason < 0 || e->reason >= REPORT_FL_R__COUNT)
		e->reason = reason;
}

__attribute__((format(printf, 5, 6)))
static void reject(report_flowlog_reader *r, int reason, uint64_t line, const report_fl_err *perr,
                   const char *fmt, ...)
{
	report_fl_err e;
	va_list ap;

	va_start(ap, fmt);
	make_err(&e, reason, perr, fmt, ap);
	va_end(ap);
	emit(r, line, &e);
}

/*
 * Ends the content-detection window of the entry.  With binary data among
 * the held rejects, the entry is refused as a whole: one reject, and true
 * (the caller skips the rest).  Else the held rejects are given out in order.
 */
static bool decide(report_flowlog_reader *r)
{
	report_fl_err e;
	size_t i;

	r->decided = true;
	if (r->held_bin) {
		memset(&e, 0, sizeof e);
		e.reason = REPORT_FL_R_NOT_TEXT;
		e.offset = (size_t)r->first_bin_off;
		if (!r->held_text && r->held_zero_bytes > 0)
			snprintf(e.msg, sizeof e.msg,
			         "not a flow-log file: only zero bytes (%llu read), as an unwritten "
			         "or crash-cut file or an empty tar archive has; skipped",
			         (unsigned long long)r->held_zero_bytes);
		else
			snprintf(e.msg, sizeof e.msg,
			         "not a flow-log file: byte 0x%02x at offset %llu (line %llu) is not text "
			         "and no record came before it; expected text lines of flow-log fields; "
			         "skipped",
			         r->first_bin_byte, (unsigned long long)r->first_bin_off,
			         (unsigned long long)r->first_bin_line);
		r->nheld = 0;
		emit(r, 0, &e);
		return true;
	}
	for (i = 0; i < r->nheld; i++)
		emit(r, r->held[i].line, &r->held[i].err);
	r->nheld = 0;
	return false;
}

/* A record or header line: the entry is a flow log, the held rejects go
 * out as they are. */
static void found(report_flowlog_reader *r)
{
	if (r->found)
		return;
	r->found = true;
	r->held_bin = false;
	decide(r);
}

/*
 * A rejected line (or NUL run) of the current entry.  Held back while the
 * entry has shown no record yet; true when that made the entry refused.
 * bin: the line holds binary data (byte at offset); zeros: its length when
 * it is a NUL run.
 */
static bool line_reject(report_flowlog_reader *r, uint64_t line, const report_fl_err *e, bool bin,
                        unsigned char byte, uint64_t offset, uint64_t zeros)
{
	if (r->found || r->decided) {
		emit(r, line, e);
		return false;
	}
	r->held[r->nheld].line = line;
	r->held[r->nheld].err = *e;
	r->nheld++;
	if (bin && !r->held_bin) {
		r->held_bin = true;
		r->first_bin_byte = byte;
		r->first_bin_off = offset;
		r->first_bin_line = line;
	}
	if (zeros)
		r->held_zero_bytes += zeros;
	else
		r->held_text = true;
	if (r->nheld == DETECT_LINES || r->offset >= DETECT_BYTES)
		return decide(r);
	return false;
}

/* Resets the per-entry detection state. */
static void detect_reset(report_flowlog_reader *r)
{
	r->found = false;
	r->decided = false;
	r->nheld = 0;
	r->held_bin = r->held_text = false;
	r->held_zero_bytes = 0;
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
	uint64_t k[2] = { (uint64_t)dev, (uint64_t)ino };
	return (size_t)tv_hash64(k, sizeof k, 0) & mask;
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
	if (r->own_fd && r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->own_fd = false;
	r->replay_len = r->replay_pos = 0;
	r->recording = r->replay_lost = false;
	r->stop_outer = false;
	free(r->path);
	r->path = NULL;
}

/*
 * Reads a stream that cannot be opened twice, keeping its first REPLAY_MAX
 * bytes while r->recording, and serving them again first after a rewind
 * (replay_pos = 0).
 */
static la_ssize_t stream_read(struct archive *a, void *ctx, const void **buf)
{
	report_flowlog_reader *r = ctx;
	ssize_t n;

	if (r->replay_pos < r->replay_len) {
		*buf = r->replay + r->replay_pos;
		n = (ssize_t)(r->replay_len - r->replay_pos);
		r->replay_pos = r->replay_len;
		return n;
	}
	do
		n = read(r->fd, r->sbuf, RBUF_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	if (r->recording && n > 0) {
		if ((size_t)n > REPLAY_MAX - r->replay_len) {
			r->replay_lost = true;
			r->recording = false;
		} else {
			if (r->replay_len + (size_t)n > r->replay_cap) {
				size_t nc = r->replay_cap ? r->replay_cap : RBUF_SIZE;
				char *p;
				while (nc < r->replay_len + (size_t)n)
					nc *= 2;
				p = realloc(r->replay, nc);
				if (!p) {
					archive_set_error(a, ENOMEM, "out of memory");
					return -1;
				}
				r->replay = p;
				r->replay_cap = nc;
			}
			memcpy(r->replay + r->replay_len, r->sbuf, (size_t)n);
			r->replay_len += (size_t)n;
			r->replay_pos = r->replay_len;
		}
	}
	*buf = r->sbuf;
	return n;
}

/* Whether the current path can be read again from its start. */
static bool can_reread(const report_flowlog_reader *r)
{
	return r->reopenable || (r->fd >= 0 && !r->replay_lost);
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
 * filters and raw only.  A regular file is opened by name (archive formats
 * may seek in it); anything else (stdin, a FIFO, a device) through
 * stream_read(), the first time with its beginning recorded, after that
 * replayed.  Returns 1, 0 when it failed (reported) or TV_E_NOMEM.
 */
static int open_outer(report_flowlog_reader *r, bool is_stdin, bool is_reg, bool raw_only)
{
	int rc;
	if (!is_reg && r->fd < 0) {
		if (is_stdin) {
			r->fd = STDIN_FILENO;
		} else {
			r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
			if (r->fd < 0) {
				reject(r, REPORT_FL_R_IO, 0, NULL, "cannot open: %s", strerror(errno));
				return 0;
			}
			r->own_fd = true;
		}
		r->replay_len = r->replay_pos = 0;
		r->recording = true;
		r->replay_lost = false;
	} else if (!is_reg) {
		r->recording = false;
		r->replay_pos = 0; /* read the recorded start again */
	}
	r->outer = archive_read_new();
	if (!r->outer)
		return TV_E_NOMEM;
	if (raw_only) {
		support_filters(r->outer);
		archive_read_support_format_raw(r->outer);
	} else {
		support_outer_formats(r->outer);
	}
	if (!is_reg)
		rc = archive_read_open(r->outer, r, NULL, stream_read, NULL);
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
		r->reopenable = !is_stdin && S_ISREG(sb.st_mode);
		rc = open_outer(r, is_stdin, r->reopenable, false);
		if (rc < 0)
			return rc;
		if (rc == 0)
			goto next;
		return 1;
next:
		close_outer(r);
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
		/* An archive format claimed the file by its first bytes but
		 * holds no member or cannot read the first: a text whose first
		 * record starts with a cpio magic ("070707", an account id
		 * can), zero blocks before a text (tar reads two as the end of
		 * an empty archive), or a damaged archive.  Read it again as a
		 * plain stream: the text is read, zeros and a damaged archive
		 * show up as not text.  An empty file stays an empty file. */
		bool claimed_empty = rc == ARCHIVE_EOF && r->entries == 0 &&
		                     archive_format(r->outer) != ARCHIVE_FORMAT_EMPTY;
		bool claimed_bad = rc < ARCHIVE_WARN && r->entries == 0;
		if ((claimed_empty || claimed_bad) && !r->raw_only && can_reread(r)) {
			archive_read_free(r->outer);
			r->outer = NULL;
			rc = open_outer(r, strcmp(r->path, "-") == 0, r->reopenable, true);
			if (rc <= 0)
				return rc;
			continue;
		}
		if (rc == ARCHIVE_EOF) {
			if (r->entries == 0 && !r->outer_failed)
				r->st.files++; /* an empty file is still a file read */
			return 0;
		}
		r->entries++;
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
		detect_reset(r);
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

/*
 * Refills rbuf.  Returns 1 with bytes, 0 at the end, -1 on a reported error
 * (a read error, or more than max_bytes in the entry).
 */
static int refill(report_flowlog_reader *r)
{
	la_ssize_t n;
	if (r->eof)
		return 0;
	n = archive_read_data(r->src, r->rbuf, RBUF_SIZE);
	if (n < 0) {
		if (r->found || r->decided || r->nheld == 0 || !decide(r))
			reject(r, REPORT_FL_R_IO, 0, NULL, "read error after %llu bytes: %s",
			       (unsigned long long)r->offset,
			       archive_error_string(r->src) ? archive_error_string(r->src) : "unknown");
		return -1;
	}
	if (n == 0) {
		r->eof = true;
		return 0;
	}
	if ((uint64_t)n > r->max_bytes - r->offset) {
		r->stop_outer = true;
		if (r->found || r->decided || r->nheld == 0 || !decide(r))
			reject(r, REPORT_FL_R_TOO_LARGE, 0, NULL,
			       "more than %llu bytes after decompression (line %llu); the rest is "
			       "skipped: a decompression bomb, or raise --max-log-size",
			       (unsigned long long)r->max_bytes, (unsigned long long)r->lineno + 1);
		return -1;
	}
	r->offset += (uint64_t)n;
	r->rpos = 0;
	r->rlen = (size_t)n;
	return 1;
}

/* Offset of the next unread byte. */
static uint64_t read_pos(const report_flowlog_reader *r)
{
	return r->offset - (uint64_t)(r->rlen - r->rpos);
}

/* Skips a run of NUL bytes that starts at rpos; its start and length go to
 * zero_off and zero_len.  While nothing was found, stops at DETECT_BYTES
 * (/dev/zero ends nowhere).  RL_ZEROS or RL_ABANDON. */
static int skip_zeros(report_flowlog_reader *r)
{
	r->zero_off = read_pos(r);
	r->zero_len = 0;
	for (;;) {
		const char *s = r->rbuf + r->rpos;
		size_t n = r->rlen - r->rpos, i = 0;
		int rc;
		while (i < n && s[i] == '\0')
			i++;
		r->rpos += i;
		r->zero_len += i;
		if (r->rpos < r->rlen)
			return RL_ZEROS;
		if (!r->found && !r->decided && r->offset >= DETECT_BYTES)
			return RL_ZEROS;
		rc = refill(r);
		if (rc < 0)
			return RL_ABANDON;
		if (rc == 0)
			return RL_ZEROS;
	}
}

/*
 * Reads the next line into r->line: RL_LINE (line_bin tells whether it holds
 * binary data), RL_ZEROS for a NUL run where a line starts, RL_END at the end
 * of the entry, RL_ABANDON after a reported error.
 */
static int read_line(report_flowlog_reader *r)
{
	r->linelen = 0;
	r->overlong = false;
	r->overlong_len = 0;
	r->line_bin = false;
	r->line_off = read_pos(r);
	for (;;) {
		const char *s, *nl;
		size_t n, take, i;
		int rc;

		if (r->rpos == r->rlen) {
			rc = refill(r);
			if (rc < 0)
				return RL_ABANDON;
			if (rc == 0)
				return (r->linelen > 0 || r->overlong) ? RL_LINE : RL_END;
			if (r->linelen == 0 && !r->overlong)
				r->line_off = read_pos(r);
		}
		s = r->rbuf + r->rpos;
		n = r->rlen - r->rpos;
		if (r->linelen == 0 && !r->overlong) {
			/* empty lines are counted here in bulk: a file of newlines
			 * costs no more than a file of zeros */
			size_t k = 0, nls = 0;
			while (k < n && (s[k] == '\n' || (s[k] == '\r' && k + 1 < n && s[k + 1] == '\n'))) {
				nls += s[k] == '\n';
				k++;
			}
			if (k > 0) {
				r->lineno += nls;
				r->st.lines += nls;
				r->st.blank += nls;
				r->rpos += k;
				r->line_off = read_pos(r);
				continue;
			}
			if (s[0] == '\0')
				return skip_zeros(r);
		}
		nl = memchr(s, '\n', n);
		take = nl ? (size_t)(nl - s) : n;
		for (i = 0; !r->line_bin && i < take; i++)
			if (binary_byte((unsigned char)s[i])) {
				r->line_bin = true;
				r->bin_byte = (unsigned char)s[i];
				r->bin_off = read_pos(r) + i;
			}
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
			return RL_LINE;
		/* a binary line without a newline before anything was found:
		 * the verdict needs no more of it */
		if (r->line_bin && r->overlong && !r->found && !r->decided &&
		    r->offset >= DETECT_BYTES)
			return RL_LINE;
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
	r->max_bytes = r->cfg.max_bytes ? r->cfg.max_bytes : REPORT_FL_MAX_BYTES_DEFAULT;
	r->fd = -1;
	r->rbuf = malloc(RBUF_SIZE);
	r->inbuf = malloc(RBUF_SIZE);
	r->sbuf = malloc(RBUF_SIZE);
	r->held = malloc(DETECT_LINES * sizeof *r->held);
	r->line = malloc(r->max_line + 1);
	r->msgbuf = malloc(r->max_line + 1);
	if (!r->rbuf || !r->inbuf || !r->sbuf || !r->held || !r->line || !r->msgbuf)
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
		if (rc == RL_ABANDON) {
			if (r->stop_outer)
				close_outer(r); /* skipping the rest would decompress it */
			else
				close_entry(r);
			continue;
		}
		if (rc == RL_END) {
			if (!r->found && !r->decided && r->nheld > 0)
				decide(r);
			close_entry(r);
			continue;
		}
		if (rc == RL_ZEROS) {
			memset(&err, 0, sizeof err);
			err.reason = REPORT_FL_R_NOT_TEXT;
			snprintf(err.msg, sizeof err.msg,
			         "%llu zero bytes from offset %llu (a zero-filled region, as a crash "
			         "leaves), skipped",
			         (unsigned long long)r->zero_len, (unsigned long long)r->zero_off);
			if (line_reject(r, r->lineno + 1, &err, true, 0, r->zero_off, r->zero_len) ||
			    (!r->found && !r->decided && r->offset >= DETECT_BYTES && decide(r)))
				close_entry(r);
			continue;
		}
		r->lineno++;
		r->st.lines++;
		if (r->line_bin || r->overlong) {
			memset(&err, 0, sizeof err);
			if (r->line_bin) {
				err.reason = REPORT_FL_R_NOT_TEXT;
				err.offset = (size_t)(r->bin_off - r->line_off);
				snprintf(err.msg, sizeof err.msg,
				         "byte 0x%02x at offset %llu (column %llu) is not text; expected a "
				         "flow-log record; line skipped",
				         r->bin_byte, (unsigned long long)r->bin_off,
				         (unsigned long long)(r->bin_off - r->line_off + 1));
			} else {
				err.reason = REPORT_FL_R_TOO_LONG;
				snprintf(err.msg, sizeof err.msg, "line of %zu bytes is longer than %zu, skipped",
				         r->overlong_len, r->max_line);
			}
			if (line_reject(r, r->lineno, &err, r->line_bin, r->bin_byte, r->bin_off, 0))
				close_entry(r);
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
				err.reason = REPORT_FL_R_HEADER;
				if (line_reject(r, r->lineno, &err, false, 0, 0, 0))
					close_entry(r);
				continue;
			}
			r->fmt = f;
			r->st.headers++;
			found(r);
			continue;
		}
		if (rc != REPORT_FL_LINE_RECORD) {
			if (err.reason < 0 || err.reason >= REPORT_FL_R__COUNT)
				err.reason = REPORT_FL_R_FIELD_COUNT;
			if (line_reject(r, r->lineno, &err, false, 0, 0, 0))
				close_entry(r);
			continue;
		}
		found(r); /* the held rejects come out before the first record */
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
	free(r->sbuf);
	free(r->replay);
	free(r->held);
	free(r->line);
	free(r->msgbuf);
	free(r);
}
