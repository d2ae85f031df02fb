/*
 * source.c — capture files as a packet source (pcap and pcapng, read by
 * capfile.c).
 *
 * A list of paths is expanded once at open: directories contribute their
 * regular files, ordered by the timestamp of each file's first packet (then
 * by name), so a folder of rotated captures is read in time order.  "-"
 * reads standard input.  Timestamps are always nanoseconds.
 */
#include "ingest.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SRC_ID_PREFIX (64 * 1024)
/* The stdio buffer of a capture file: glibc ignores setvbuf's size when
 * it is not given the buffer (it then reads st_blksize, 4 KiB, at a time),
 * so the source owns it.  64 KiB stays in the cache between read() and the
 * copies out of it: reading the 270 MB enterprise capture took 0.10 s of
 * CPU with 4 KiB, 0.06 s with 64 KiB, 0.06-0.08 s with 1 MiB. */
#define SRC_STDIO_BUF (64u << 10)

struct src_file {
	char *path;
	uint64_t size;
	uint64_t first_ts;
	uint8_t identity[40];
};

struct ingest_file_src {
	struct src_file *files;
	int nfiles;
	int cap;
	int cur;          /* index of the open file, -1 before the first */
	FILE *fp;         /* the open file (stdin for "-") */
	char *iobuf;      /* fp's buffer (SRC_STDIO_BUF bytes; not stdin's) */
	ingest_capfile *cf;
	uint64_t ordinal;
	uint64_t done_before; /* bytes of files already finished */
	uint64_t total;
};

static int src_add(ingest_file_src *s, const char *path)
{
	struct src_file *f;
	if (s->nfiles == s->cap) {
		int ncap = s->cap ? s->cap * 2 : 16;
		struct src_file *n = realloc(s->files, (size_t)ncap * sizeof *n);
		if (!n)
			return TV_E_NOMEM;
		s->files = n;
		s->cap = ncap;
	}
	f = &s->files[s->nfiles];
	memset(f, 0, sizeof *f);
	f->path = strdup(path);
	if (!f->path)
		return TV_E_NOMEM;
	s->nfiles++;
	return 0;
}

/* Identity = SHA-256 of the first 64 KiB (then 8 zero bytes). */
static int src_identify(struct src_file *f, char *errbuf, size_t cap)
{
	FILE *fp;
	static const size_t bufsz = SRC_ID_PREFIX;
	uint8_t *buf;
	size_t n;
	struct stat st;

	if (strcmp(f->path, "-") == 0)
		return 0;
	if (stat(f->path, &st) != 0) {
		snprintf(errbuf, cap, "%s: %s", f->path, strerror(errno));
		return errno;
	}
	f->size = (uint64_t)st.st_size;
	fp = fopen(f->path, "rb");
	if (!fp) {
		int e = errno;
		snprintf(errbuf, cap, "%s: %s", f->path, strerror(e));
		return e;
	}
	buf = malloc(bufsz);
	if (!buf) {
		fclose(fp);
		return TV_E_NOMEM;
	}
	n = fread(buf, 1, bufsz, fp);
	fclose(fp);
	tv_sha256(buf, n, f->identity);
	free(buf);
	/* Not the size: a capture that is still being written (tcpdump -G,
	 * an interrupted copy) grows, and must stay the same source so that a
	 * re-run resumes after the packets already stored instead of storing
	 * them again.  Bytes 32..39 stay zero (room for a later refinement). */
	memset(f->identity + 32, 0, 8);
	return 0;
}

/* Reads the first packet's time so that a directory can be ordered. */
static void src_first_ts(struct src_file *f)
{
	char eb[256];
	ingest_capfile *cf = NULL;
	ingest_raw raw;
	FILE *fp = fopen(f->path, "rb");
	f->first_ts = UINT64_MAX;
	if (!fp)
		return;
	if (ingest_capfile_open(fp, &cf, eb, sizeof eb) == 0 &&
	    ingest_capfile_next(cf, &raw, eb, sizeof eb) == 1)
		f->first_ts = raw.ts_ns;
	ingest_capfile_close(cf);
	fclose(fp);
}

static int src_cmp(const void *a, const void *b)
{
	const struct src_file *x = a, *y = b;
	if (x->first_ts != y->first_ts)
		return x->first_ts < y->first_ts ? -1 : 1;
	return strcmp(x->path, y->path);
}

static int src_add_dir(ingest_file_src *s, const char *dir, char *errbuf, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int first = s->nfiles, rc = 0;
	if (!d) {
		int err = errno;
		snprintf(errbuf, cap, "%s: %s", dir, strerror(err));
		return err;
	}
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		rc = src_add(s, path);
		if (rc)
			break;
		src_first_ts(&s->files[s->nfiles - 1]);
	}
	closedir(d);
	if (rc)
		return rc;
	if (s->nfiles == first) {
		snprintf(errbuf, cap, "%s: directory holds no capture files", dir);
		return TV_E_NOTFOUND;
	}
	qsort(s->files + first, (size_t)(s->nfiles - first), sizeof *s->files, src_cmp);
	return 0;
}

int ingest_file_src_open(const char *const *paths, int npaths, ingest_file_src **out,
                         char *errbuf, size_t cap)
{
	ingest_file_src *s;
	int i, rc = 0;

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return TV_E_NOMEM;
	s->cur = -1;
	for (i = 0; i < npaths && rc == 0; i++) {
		struct stat st;
		if (strcmp(paths[i], "-") == 0) {
			rc = src_add(s, "-");
			continue;
		}
		if (stat(paths[i], &st) != 0) {
			rc = errno;
			snprintf(errbuf, cap, "%s: %s", paths[i], strerror(rc));
			break;
		}
		if (S_ISDIR(st.st_mode))
			rc = src_add_dir(s, paths[i], errbuf, cap);
		else
			rc = src_add(s, paths[i]);
	}
	for (i = 0; i < s->nfiles && rc == 0; i++) {
		rc = src_identify(&s->files[i], errbuf, cap);
		s->total += s->files[i].size;
	}
	if (rc) {
		ingest_file_src_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void ingest_file_src_close(ingest_file_src *s)
{
	int i;
	if (!s)
		return;
	ingest_capfile_close(s->cf);
	if (s->fp && s->fp != stdin)
		fclose(s->fp);
	for (i = 0; i < s->nfiles; i++)
		free(s->files[i].path);
	free(s->files);
	free(s->iobuf);
	free(s);
}

/* Where the reader stands in the current file: just past the last record
 * it returned (0 before the first). */
static uint64_t src_offset(const ingest_file_src *s)
{
	return s->cf ? ingest_capfile_offset(s->cf) : 0;
}

static const char *src_name(const struct src_file *f)
{
	return strcmp(f->path, "-") == 0 ? "standard input" : f->path;
}

static void src_close_cur(ingest_file_src *s)
{
	ingest_capfile_close(s->cf);
	s->cf = NULL;
	if (s->fp && s->fp != stdin)
		fclose(s->fp);
	s->fp = NULL;
}

static int src_open_next(ingest_file_src *s, char *errbuf, size_t cap)
{
	struct src_file *f;
	char why[256];
	int rc;
	if (s->cf || s->fp) {
		src_close_cur(s);
		if (s->cur >= 0)
			s->done_before += s->files[s->cur].size;
	}
	s->cur++;
	if (s->cur >= s->nfiles)
		return 0;
	f = &s->files[s->cur];
	if (strcmp(f->path, "-") == 0) {
		/* stdin outlives the source, so it keeps glibc's own buffer
		 * (st_blksize; setvbuf without a buffer would not change it) */
		s->fp = stdin;
	} else {
		if (!s->iobuf && !(s->iobuf = malloc(SRC_STDIO_BUF)))
			return TV_E_NOMEM;
		s->fp = fopen(f->path, "rb");
		if (!s->fp) {
			snprintf(errbuf, cap, "%s: %s", f->path, strerror(errno));
			return TV_E_IO;
		}
		/* one file at a time: the previous one was closed above */
		setvbuf(s->fp, s->iobuf, _IOFBF, SRC_STDIO_BUF);
	}
	rc = ingest_capfile_open(s->fp, &s->cf, why, sizeof why);
	if (rc) {
		snprintf(errbuf, cap, "%s: not a pcap or pcapng capture: %s", src_name(f), why);
		return rc == TV_E_NOMEM ? rc : rc > 0 ? TV_E_IO : TV_E_FORMAT;
	}
	s->ordinal = 0;
	return 1;
}

int ingest_file_src_next(ingest_file_src *s, ingest_raw *raw, char *errbuf, size_t cap)
{
	for (;;) {
		char why[384];
		int rc;
		if (!s->cf) {
			rc = src_open_next(s, errbuf, cap);
			if (rc < 0)
				raw->file_idx = (uint32_t)s->cur;
			if (rc <= 0)
				return rc;
		}
		rc = ingest_capfile_next(s->cf, raw, why, sizeof why);
		if (rc == 1) {
			raw->ordinal = s->ordinal++;
			raw->file_idx = (uint32_t)s->cur;
			raw->file_end = src_offset(s);
			return 1;
		}
		if (rc == 0) {
			rc = src_open_next(s, errbuf, cap);
			if (rc < 0)
				raw->file_idx = (uint32_t)s->cur;
			if (rc <= 0)
				return rc;
			continue;
		}
		snprintf(errbuf, cap, "%s: packet %llu near byte offset %llu: %s (the packets before it "
		         "were read)", src_name(&s->files[s->cur]), (unsigned long long)s->ordinal + 1,
		         (unsigned long long)ingest_capfile_offset(s->cf), why);
		/* the rest of this file cannot be trusted: a next call goes on
		 * with the next file */
		raw->file_idx = (uint32_t)s->cur;
		src_close_cur(s);
		s->done_before += s->files[s->cur].size;
		/* an errno from the stream is an I/O error; the rest are the reader's */
		return rc > 0 ? TV_E_IO : rc;
	}
}

int ingest_file_src_count(const ingest_file_src *s)
{
	return s->nfiles;
}

const char *ingest_file_src_path(const ingest_file_src *s, int i)
{
	return (i >= 0 && i < s->nfiles) ? s->files[i].path : NULL;
}

const uint8_t *ingest_file_src_identity(const ingest_file_src *s, int i)
{
	return (i >= 0 && i < s->nfiles) ? s->files[i].identity : NULL;
}

uint64_t ingest_file_src_total_bytes(const ingest_file_src *s)
{
	return s->total;
}

int ingest_file_src_fd(const ingest_file_src *s)
{
	if (!s->fp || s->fp == stdin || s->cur < 0 || s->cur >= s->nfiles)
		return -1;
	return fileno(s->fp);
}

uint64_t ingest_file_src_done_bytes(const ingest_file_src *s)
{
	return s->done_before + (s->cf ? ingest_capfile_offset(s->cf) : 0);
}
