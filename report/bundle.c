/*
 * bundle.c — forensic case bundles: writing (libarchive, tar.zst, tar.gz,
 * zip), the manifest (jansson), the flow records of a query, and reading a
 * bundle back without ever extracting it.
 *
 * Reading treats a bundle as hostile: every entry is checked (plain name,
 * regular file, declared size within the limit, at most
 * REPORT_BUNDLE_MAX_MEMBERS entries), data is hashed as it streams past in
 * a fixed buffer, and only the manifest (bounded in bytes and in JSON
 * values) is kept in memory.  Nothing is ever written from a bundle except
 * into an unlinked temporary file that the caller asked for, and only after
 * the whole bundle verified: a second pass copies the member, no more bytes
 * than the manifest declares, and checks its SHA-256 again.
 */
#include "evidence.h"
#include "report_int.h"
#include "../index/idx.h"
#include "../ingest/tvfile.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define IOBUF (64u << 10)


static bool ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a > b && strcmp(s + a - b, suf) == 0;
}

int report_bundle_kind_from_path(const char *path)
{
	if (ends_with(path, ".tar.zst") || ends_with(path, ".tzst"))
		return REPORT_BUNDLE_TAR_ZST;
	if (ends_with(path, ".tar.gz") || ends_with(path, ".tgz"))
		return REPORT_BUNDLE_TAR_GZ;
	if (ends_with(path, ".zip"))
		return REPORT_BUNDLE_ZIP;
	return 0;
}

bool report_bundle_name_safe(const char *name)
{
	size_t i, n;
	if (!name)
		return false;
	n = strlen(name);
	if (n == 0 || n >= REPORT_BUNDLE_NAME_MAX || name[0] == '-' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static void hex32(const uint8_t d[32], char out[65])
{
	tv_sha256_hex(d, out);
}

static bool unhex32(const char *s, uint8_t out[32])
{
	int i;
	if (!s || strlen(s) != 64)
		return false;
	for (i = 0; i < 64; i++) {
		char c = s[i];
		int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
		if (v < 0)
			return false;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return true;
}

/* ================================================================ writer */

struct report_bundle_writer {
	struct archive *a;
	tv_outfile out; /* a temporary name beside the bundle until finish renames it */
	const volatile sig_atomic_t *cancel;
	int kind;
	uint64_t mtime;
	report_bundle_file files[REPORT_BUNDLE_MAX_MEMBERS];
	size_t nfiles;
	uint8_t *buf;
};

int report_bundle_writer_open(const char *path, int kind, report_bundle_writer **out)
{
	report_bundle_writer *w;
	int r = ARCHIVE_OK, rc;

	*out = NULL;
	if (kind < REPORT_BUNDLE_TAR_ZST || kind > REPORT_BUNDLE_ZIP)
		return TV_E_RANGE;
	w = calloc(1, sizeof *w);
	if (!w)
		return TV_E_NOMEM;
	tv_outfile_init(&w->out);
	w->kind = kind;
	w->buf = malloc(IOBUF);
	if (!w->buf) {
		rc = TV_E_NOMEM;
		goto fail;
	}
	/* no flag: an existing name of any kind is EEXIST, never replaced */
	rc = tv_outfile_open(&w->out, path, 0640, 0);
	if (rc)
		goto fail;
	w->a = archive_write_new();
	if (!w->a) {
		rc = TV_E_NOMEM;
		goto fail;
	}
	switch (kind) {
	case REPORT_BUNDLE_TAR_ZST:
		r = archive_write_set_format_pax_restricted(w->a);
		if (r == ARCHIVE_OK)
			r = archive_write_add_filter_zstd(w->a);
		break;
	case REPORT_BUNDLE_TAR_GZ:
		r = archive_write_set_format_pax_restricted(w->a);
		if (r == ARCHIVE_OK)
			r = archive_write_add_filter_gzip(w->a);
		break;
	default:
		r = archive_write_set_format_zip(w->a);
		break;
	}
	if (r == ARCHIVE_OK)
		r = archive_write_set_bytes_in_last_block(w->a, 1);
	if (r == ARCHIVE_OK)
		r = archive_write_open_fd(w->a, w->out.fd);
	if (r != ARCHIVE_OK) {
		rc = TV_E_UNSUPPORTED;
		goto fail;
	}
	w->mtime = (uint64_t)time(NULL);
	*out = w;
	return 0;
fail:
	report_bundle_writer_abort(w);
	return rc;
}

unsigned report_bundle_writer_swept(const report_bundle_writer *w)
{
	return w ? w->out.swept : 0;
}

void report_bundle_writer_cancel_on(report_bundle_writer *w, const volatile sig_atomic_t *flag)
{
	w->cancel = flag;
}

static bool cancelled(const report_bundle_writer *w, char *err, size_t cap)
{
	if (!w->cancel || !*w->cancel)
		return false;
	report_seterr(err, cap, "interrupted");
	return true;
}

void report_bundle_writer_abort(report_bundle_writer *w)
{
	if (!w)
		return;
	if (w->a)
		archive_write_free(w->a); /* closes the archive; the fd is the outfile's */
	tv_outfile_abort(&w->out);
	free(w->buf);
	free(w);
}

static int add_header(report_bundle_writer *w, const char *name, uint64_t size, char *err,
                      size_t cap)
{
	struct archive_entry *e;
	int r;

	if (!report_bundle_name_safe(name)) {
		report_seterr(err, cap, "'%s': not a plain member name", name);
		return TV_E_RANGE;
	}
	if (w->nfiles >= REPORT_BUNDLE_MAX_MEMBERS) {
		report_seterr(err, cap, "more than %d members", REPORT_BUNDLE_MAX_MEMBERS);
		return TV_E_RANGE;
	}
	e = archive_entry_new();
	if (!e)
		return TV_E_NOMEM;
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0444);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, (time_t)w->mtime, 0);
	r = archive_write_header(w->a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK) {
		report_seterr(err, cap, "%s: %s", name, archive_error_string(w->a));
		return TV_E_IO;
	}
	snprintf(w->files[w->nfiles].name, REPORT_BUNDLE_NAME_MAX, "%s", name);
	w->files[w->nfiles].size = size;
	return 0;
}

static int add_data(report_bundle_writer *w, const char *name, const void *p, size_t n,
                    char *err, size_t cap)
{
	la_ssize_t got = archive_write_data(w->a, p, n);
	if (got < 0 || (size_t)got != n) {
		report_seterr(err, cap, "%s: %s", name, archive_error_string(w->a));
		return TV_E_IO;
	}
	return 0;
}

int report_bundle_writer_add(report_bundle_writer *w, const char *name, FILE *f, char *err,
                             size_t cap)
{
	tv_sha256_ctx h;
	off_t end;
	uint64_t done = 0;
	int rc;

	if (fflush(f) != 0 || fseeko(f, 0, SEEK_END) != 0 || (end = ftello(f)) < 0 ||
	    fseeko(f, 0, SEEK_SET) != 0) {
		rc = errno ? errno : TV_E_IO;
		report_seterr(err, cap, "%s: cannot read the temporary file: %s", name, strerror(errno));
		return rc;
	}
	rc = add_header(w, name, (uint64_t)end, err, cap);
	if (rc)
		return rc;
	tv_sha256_init(&h);
	while (done < (uint64_t)end) {
		size_t want = (uint64_t)end - done < IOBUF ? (size_t)((uint64_t)end - done) : IOBUF;
		size_t got;
		if (cancelled(w, err, cap))
			return EINTR;
		got = fread(w->buf, 1, want, f);
		if (got == 0) {
			report_seterr(err, cap, "%s: temporary file shrank while being archived", name);
			return TV_E_IO;
		}
		tv_sha256_update(&h, w->buf, got);
		rc = add_data(w, name, w->buf, got, err, cap);
		if (rc)
			return rc;
		done += got;
	}
	tv_sha256_final(&h, w->files[w->nfiles].sha256);
	w->nfiles++;
	return 0;
}

static json_t *jstr_or_null(const char *s)
{
	return (s && *s) ? json_string(s) : json_null();
}

static json_t *jtime_or_null(uint64_t ns, bool present)
{
	char buf[48];
	if (!present)
		return json_null();
	tv_time_format(ns, buf, sizeof buf);
	return json_string(buf);
}

/* Finds the 64 hex digits of the self hash in text; NULL when absent. */
static char *find_self_hash(char *text, size_t len)
{
	static const char key[] = "\"" REPORT_BUNDLE_SELF_KEY "\"";
	char *p = NULL, *q = text;
	size_t klen = sizeof key - 1;
	/* the last occurrence: a note could contain the key text, escaped
	 * quotes aside; the writer puts the real key last */
	while ((size_t)(q - text) + klen <= len) {
		char *m = memmem(q, len - (size_t)(q - text), key, klen);
		if (!m)
			break;
		p = m;
		q = m + 1;
	}
	if (!p)
		return NULL;
	p += klen;
	while ((size_t)(p - text) < len && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if ((size_t)(p - text) >= len || *p != ':')
		return NULL;
	p++;
	while ((size_t)(p - text) < len && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if ((size_t)(p - text) + 66 > len || *p != '"' || p[65] != '"')
		return NULL;
	return p + 1;
}

/* SHA-256 of text with the self hash's digits read as '0's. */
static void self_hash(const char *text, size_t len, const char *digits, uint8_t out[32])
{
	static const char zeros[64] = "0000000000000000000000000000000000000000000000000000000000000000";
	tv_sha256_ctx h;
	size_t off = (size_t)(digits - text);
	tv_sha256_init(&h);
	tv_sha256_update(&h, text, off);
	tv_sha256_update(&h, zeros, 64);
	tv_sha256_update(&h, text + off + 64, len - off - 64);
	tv_sha256_final(&h, out);
}

static char *manifest_text(const report_bundle_writer *w, const report_bundle_meta *m)
{
	json_t *root = json_object(), *store, *query, *pk, *fl, *files, *chunks;
	char hex[65], zeros[65];
	char *text = NULL, *digits;
	uint8_t d[32];
	size_t i, len;

	if (!root)
		return NULL;
	memset(zeros, '0', 64);
	zeros[64] = '\0';
	json_object_set_new(root, "format", json_string(REPORT_BUNDLE_FORMAT));
	json_object_set_new(root, "version", json_integer(REPORT_BUNDLE_VERSION));
	json_object_set_new(root, "tool", jstr_or_null(m->tool));
	json_object_set_new(root, "created", jtime_or_null(m->created_ns, true));
	json_object_set_new(root, "case", jstr_or_null(m->case_id));
	json_object_set_new(root, "examiner", jstr_or_null(m->examiner));
	json_object_set_new(root, "note", jstr_or_null(m->note));

	store = json_object();
	json_object_set_new(store, "uuid", json_string(m->store_uuid));
	json_object_set_new(store, "path", jstr_or_null(m->store_path));
	json_object_set_new(root, "store", store);

	query = json_object();
	json_object_set_new(query, "text", json_string(m->query_text ? m->query_text : ""));
	json_object_set_new(query, "normalised", json_string(m->query_norm ? m->query_norm : ""));
	json_object_set_new(query, "from", jtime_or_null(m->time_lo, m->time_lo != 0));
	json_object_set_new(query, "to", jtime_or_null(m->time_hi, m->time_hi != UINT64_MAX));
	json_object_set_new(root, "query", query);

	pk = json_object();
	json_object_set_new(pk, "file", json_string(REPORT_BUNDLE_PACKETS));
	json_object_set_new(pk, "count", json_integer((json_int_t)m->packets));
	json_object_set_new(pk, "first", jtime_or_null(m->first_ts, m->packets > 0));
	json_object_set_new(pk, "last", jtime_or_null(m->last_ts, m->packets > 0));
	json_object_set_new(pk, "max_bytes", m->max_bytes ? json_integer((json_int_t)m->max_bytes)
	                                                  : json_null());
	json_object_set_new(root, "packets", pk);

	fl = json_object();
	json_object_set_new(fl, "file", json_string(REPORT_BUNDLE_FLOWS));
	json_object_set_new(fl, "format", json_string("aws-v2"));
	json_object_set_new(fl, "records", json_integer((json_int_t)m->flow_records));
	json_object_set_new(root, "flows", fl);

	files = json_array();
	for (i = 0; i < w->nfiles; i++) {
		json_t *o = json_object();
		hex32(w->files[i].sha256, hex);
		json_object_set_new(o, "name", json_string(w->files[i].name));
		json_object_set_new(o, "size", json_integer((json_int_t)w->files[i].size));
		json_object_set_new(o, "sha256", json_string(hex));
		json_array_append_new(files, o);
	}
	json_object_set_new(root, "files", files);

	chunks = json_array();
	for (i = 0; i < m->nchunks; i++) {
		const report_bundle_chunk *c = &m->chunks[i];
		json_t *o = json_object();
		hex32(c->sha256, hex);
		json_object_set_new(o, "id", json_integer((json_int_t)c->id));
		json_object_set_new(o, "segment", json_integer((json_int_t)c->segment));
		json_object_set_new(o, "offset", json_integer((json_int_t)c->offset));
		json_object_set_new(o, "length", json_integer((json_int_t)c->length));
		json_object_set_new(o, "sha256", json_string(hex));
		json_object_set_new(o, "packets", json_integer((json_int_t)c->packets));
		json_array_append_new(chunks, o);
	}
	json_object_set_new(root, "chunks", chunks);
	json_object_set_new(root, REPORT_BUNDLE_SELF_KEY, json_string(zeros));

	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		return NULL;
	len = strlen(text);
	{
		/* the member ends with a newline; the hash covers it */
		char *t = realloc(text, len + 2);
		if (!t) {
			free(text);
			return NULL;
		}
		text = t;
		text[len++] = '\n';
		text[len] = '\0';
	}
	digits = find_self_hash(text, len);
	if (!digits) {
		free(text);
		return NULL;
	}
	self_hash(text, len, digits, d);
	hex32(d, hex);
	memcpy(digits, hex, 64);
	return text;
}

int report_bundle_writer_finish(report_bundle_writer *w, const report_bundle_meta *meta,
                                uint64_t *size, uint8_t sha256[32], char *err, size_t cap)
{
	char *text = NULL;
	size_t len;
	tv_sha256_ctx h;
	uint64_t total = 0;
	ssize_t got;
	int rc;

	text = manifest_text(w, meta);
	if (!text) {
		rc = TV_E_NOMEM;
		report_seterr(err, cap, REPORT_BUNDLE_MANIFEST ": cannot build it");
		goto fail;
	}
	len = strlen(text);
	rc = add_header(w, REPORT_BUNDLE_MANIFEST, len, err, cap);
	if (!rc)
		rc = add_data(w, REPORT_BUNDLE_MANIFEST, text, len, err, cap);
	if (rc)
		goto fail;
	if (archive_write_close(w->a) != ARCHIVE_OK) {
		report_seterr(err, cap, "closing the archive: %s", archive_error_string(w->a));
		rc = TV_E_IO;
		goto fail;
	}
	archive_write_free(w->a);
	w->a = NULL;
	/* hash what is on disk, not what we meant to write; tv_outfile_commit
	 * fsyncs before the rename */
	tv_sha256_init(&h);
	while ((got = pread(w->out.fd, w->buf, IOBUF, (off_t)total)) > 0) {
		if (cancelled(w, err, cap)) {
			rc = EINTR;
			goto fail;
		}
		tv_sha256_update(&h, w->buf, (size_t)got);
		total += (uint64_t)got;
	}
	if (got < 0) {
		rc = errno;
		report_seterr(err, cap, "reading the bundle back: %s", strerror(errno));
		goto fail;
	}
	tv_sha256_final(&h, sha256);
	*size = total;
	if (cancelled(w, err, cap)) {
		rc = EINTR;
		goto fail;
	}
	rc = tv_outfile_commit(&w->out, NULL);
	if (rc) {
		report_seterr(err, cap, "%s", rc == EEXIST ? "appeared meanwhile; a bundle is never "
		                                             "overwritten" : tv_strerror(rc));
		goto fail;
	}
	free(text);
	free(w->buf);
	free(w);
	return 0;
fail:
	free(text);
	report_bundle_writer_abort(w);
	return rc;
}

int report_bundle_withdraw(const char *path, uint64_t size, const uint8_t sha256[32])
{
	tv_sha256_ctx h;
	struct stat st, again;
	uint8_t d[32], *buf = NULL;
	uint64_t total = 0;
	ssize_t got;
	int fd, rc;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstat(fd, &st) != 0) {
		rc = errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		rc = TV_E_HASH;
		goto out;
	}
	buf = malloc(IOBUF);
	if (!buf) {
		rc = TV_E_NOMEM;
		goto out;
	}
	tv_sha256_init(&h);
	while ((got = read(fd, buf, IOBUF)) > 0) {
		tv_sha256_update(&h, buf, (size_t)got);
		total += (uint64_t)got;
	}
	tv_sha256_final(&h, d);
	if (got < 0 || total != size || memcmp(d, sha256, 32) != 0) {
		rc = got < 0 ? errno : TV_E_HASH;
		goto out;
	}
	/* the name still leads to the file just checked */
	if (lstat(path, &again) != 0 || again.st_dev != st.st_dev || again.st_ino != st.st_ino) {
		rc = TV_E_HASH;
		goto out;
	}
	rc = unlink(path) != 0 ? errno : 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* ================================================================= flows */

struct flowctx {
	const idx_expr *e;
	FILE *f;
	report_fl_format fmt;
	uint64_t n;
	char line[1024];
};

static int flow_one(void *ctx, const tv_flowrec *fr)
{
	struct flowctx *c = ctx;
	report_fl_rec r;
	size_t len;
	int rc;

	if (!idx_flowrec_match(c->e, fr))
		return 0;
	memset(&r, 0, sizeof r);
	r.present = (1ull << REPORT_FL_F_VERSION) | (1ull << REPORT_FL_F_SRCADDR) |
	            (1ull << REPORT_FL_F_DSTADDR) | (1ull << REPORT_FL_F_SRCPORT) |
	            (1ull << REPORT_FL_F_DSTPORT) | (1ull << REPORT_FL_F_PROTOCOL) |
	            (1ull << REPORT_FL_F_PACKETS) | (1ull << REPORT_FL_F_BYTES) |
	            (1ull << REPORT_FL_F_START) | (1ull << REPORT_FL_F_END) |
	            (1ull << REPORT_FL_F_ACTION) | (1ull << REPORT_FL_F_LOG_STATUS);
	r.version = 2;
	r.srcaddr = fr->key.src;
	r.dstaddr = fr->key.dst;
	r.srcport = fr->key.sport;
	r.dstport = fr->key.dport;
	r.protocol = fr->key.proto;
	r.packets = fr->packets;
	r.bytes = fr->bytes;
	r.start = fr->start;
	r.end = fr->end;
	r.action = REPORT_FL_ACTION_ACCEPT;
	r.log_status = REPORT_FL_STATUS_OK;
	rc = report_flowlog_format_line(&c->fmt, &r, c->line, sizeof c->line, &len);
	if (rc)
		return rc;
	c->line[len++] = '\n';
	if (fwrite(c->line, 1, len, c->f) != len)
		return TV_E_IO;
	c->n++;
	return 0;
}

int report_bundle_write_flows(struct idx *x, const struct idx_expr *e, FILE *f, uint64_t *n)
{
	struct flowctx c;
	uint32_t from, to;
	int rc;

	memset(&c, 0, sizeof c);
	c.e = e;
	c.f = f;
	report_format_default(&c.fmt);
	*n = 0;
	rc = report_format_write(&c.fmt, true, c.line, sizeof c.line);
	if (rc)
		return rc;
	if (fprintf(f, "%s\n", c.line) < 0)
		return TV_E_IO;
	if (!idx_flows_window_range(e, &from, &to))
		return 0;
	rc = idx_flow_foreach(x, from, to, flow_one, &c);
	*n = c.n;
	return rc;
}

/* ================================================================ reading */

struct seen {
	char name[REPORT_BUNDLE_NAME_MAX];
	uint64_t size;
	uint8_t sha256[32];
	int count;
};

struct scan {
	uint64_t max_member;
	report_bundle_problem_fn fn;
	void *ctx;
	uint64_t problems;
	bool unsafe;      /* an entry was refused */
	bool fatal;       /* reading stopped early */
	const char *want; /* member to copy into spool */
	FILE *spool;
	uint64_t spool_max; /* bytes the manifest declares for it */
	bool spool_found;
	bool spool_over;  /* it holds more than spool_max */
	uint8_t spool_sha256[32];
	uint64_t spool_size;
	bool stop_after_want; /* the second pass ends with the member */
	uint64_t file_size;
	bool truncated;   /* the reading failed at the end of the file */
	char *manifest;
	size_t manifest_len, manifest_cap;
	struct seen seen[REPORT_BUNDLE_MAX_MEMBERS];
	size_t nseen;
	uint8_t *buf;
};

static void problem(struct scan *s, const char *member, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct scan *s, const char *member, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	s->problems++;
	if (s->fn)
		s->fn(s->ctx, member ? member : "", msg);
}

/* A printable copy of an untrusted name for messages. */
static void show_name(const char *name, char *out, size_t cap)
{
	size_t i, o = 0;
	if (!name) {
		snprintf(out, cap, "(no name)");
		return;
	}
	for (i = 0; name[i] && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

/*
 * Whether a read failure is the end of a cut file (an export interrupted, a
 * copy that stopped): libarchive says the input is truncated, or the whole
 * file was consumed and zlib wanted more input (Z_BUF_ERROR, -5: how a zip
 * member cut short fails).  A damaged byte fails otherwise (Z_DATA_ERROR, a
 * zstd checksum) and is not called truncated.
 */
static bool at_cut_end(const struct scan *s, struct archive *a)
{
	const char *e = archive_error_string(a);
	if (!e)
		return false;
	if (strstr(e, "runcated") || strstr(e, "nexpected end") || strstr(e, "premature"))
		return true;
	return strstr(e, "(-5)") && s->file_size > 0 &&
	       archive_filter_bytes(a, -1) >= (la_int64_t)s->file_size;
}

/* read_entry(): the wanted member is read and stop_after_want is set */
#define ENTRY_DONE (-2)

static int read_entry(struct scan *s, struct archive *a, struct archive_entry *ent)
{
	char shown[REPORT_BUNDLE_NAME_MAX * 4 + 16];
	const char *name = archive_entry_pathname(ent);
	struct seen *sn = NULL;
	tv_sha256_ctx h;
	uint64_t total = 0;
	size_t i;
	la_ssize_t got;
	bool is_manifest, is_want;

	show_name(name, shown, sizeof shown);
	if (!report_bundle_name_safe(name)) {
		s->unsafe = true;
		problem(s, shown, "unsafe member name (absolute path, '..', a folder part or a "
		                  "control character): refused, nothing is extracted");
		return archive_read_data_skip(a) == ARCHIVE_OK ? 0 : -1;
	}
	if (archive_entry_filetype(ent) != AE_IFREG || archive_entry_hardlink(ent) ||
	    archive_entry_symlink(ent)) {
		const char *target = archive_entry_symlink(ent) ? archive_entry_symlink(ent)
		                                                : archive_entry_hardlink(ent);
		char t[REPORT_BUNDLE_NAME_MAX * 4 + 16];
		show_name(target ? target : "", t, sizeof t);
		s->unsafe = true;
		problem(s, shown, "not a regular file (%s%s%s): refused, no link is followed",
		        archive_entry_symlink(ent) ? "symbolic link to '" :
		        archive_entry_hardlink(ent) ? "hard link to '" : "type ",
		        (archive_entry_symlink(ent) || archive_entry_hardlink(ent)) ? t : "other",
		        (archive_entry_symlink(ent) || archive_entry_hardlink(ent)) ? "'" : "");
		return archive_read_data_skip(a) == ARCHIVE_OK ? 0 : -1;
	}
	if (archive_entry_size_is_set(ent) &&
	    (archive_entry_size(ent) < 0 || (uint64_t)archive_entry_size(ent) > s->max_member)) {
		s->unsafe = true;
		problem(s, shown, "declares %lld bytes, more than the limit of %llu: refused",
		        (long long)archive_entry_size(ent), (unsigned long long)s->max_member);
		return -1; /* do not read or skip over a size we refuse */
	}
	for (i = 0; i < s->nseen; i++)
		if (strcmp(s->seen[i].name, name) == 0)
			sn = &s->seen[i];
	if (sn) {
		sn->count++;
		problem(s, shown, "appears more than once in the bundle");
		return archive_read_data_skip(a) == ARCHIVE_OK ? 0 : -1;
	}
	sn = &s->seen[s->nseen++];
	snprintf(sn->name, sizeof sn->name, "%s", name);
	sn->count = 1;
	is_manifest = strcmp(name, REPORT_BUNDLE_MANIFEST) == 0;
	is_want = s->want && strcmp(name, s->want) == 0;
	tv_sha256_init(&h);
	for (;;) {
		got = archive_read_data(a, s->buf, IOBUF);
		if (got == 0)
			break;
		if (got < 0) {
			if (at_cut_end(s, a)) {
				s->truncated = true;
				problem(s, shown, "truncated: the bundle ends inside this member after %llu "
				                  "bytes (%s); an interrupted export or copy?",
				        (unsigned long long)total, archive_error_string(a));
			} else {
				problem(s, shown, "cannot be read: %s", archive_error_string(a));
			}
			return -1;
		}
		total += (uint64_t)got;
		if (total > s->max_member) {
			s->unsafe = true;
			problem(s, shown, "holds more than the limit of %llu bytes: refused",
			        (unsigned long long)s->max_member);
			return -1;
		}
		tv_sha256_update(&h, s->buf, (size_t)got);
		if (is_manifest) {
			char *nm;
			if (s->manifest_len + (size_t)got > REPORT_BUNDLE_MAX_MANIFEST) {
				problem(s, shown, "larger than %u bytes: refused", REPORT_BUNDLE_MAX_MANIFEST);
				return -1;
			}
			if (s->manifest_len + (size_t)got + 1 > s->manifest_cap) {
				/* doubling: a 16 MiB manifest is not copied 256 times */
				size_t nc = s->manifest_cap ? s->manifest_cap : IOBUF;
				while (nc < s->manifest_len + (size_t)got + 1)
					nc *= 2;
				nm = realloc(s->manifest, nc);
				if (!nm)
					return TV_E_NOMEM;
				s->manifest = nm;
				s->manifest_cap = nc;
			}
			memcpy(s->manifest + s->manifest_len, s->buf, (size_t)got);
			s->manifest_len += (size_t)got;
			s->manifest[s->manifest_len] = '\0';
		}
		if (is_want && s->spool) {
			if (total > s->spool_max) {
				/* never more on disk than the manifest declared */
				s->spool_over = true;
				problem(s, shown, "holds more than the %llu bytes the manifest declares: refused",
				        (unsigned long long)s->spool_max);
				return -1;
			}
			if (fwrite(s->buf, 1, (size_t)got, s->spool) != (size_t)got)
				return errno ? errno : TV_E_IO;
		}
	}
	if (archive_entry_size_is_set(ent) && (uint64_t)archive_entry_size(ent) != total) {
		problem(s, shown, "declares %lld bytes but holds %llu", (long long)archive_entry_size(ent),
		        (unsigned long long)total);
	}
	sn->size = total;
	tv_sha256_final(&h, sn->sha256);
	if (is_want) {
		s->spool_found = true;
		s->spool_size = total;
		memcpy(s->spool_sha256, sn->sha256, 32);
		if (s->stop_after_want)
			return ENTRY_DONE;
	}
	return 0;
}

/*
 * Reads every entry of the bundle open on fd (from its start).  Returns 0
 * (problems counted in s), or an error when the file is not an archive at
 * all (TV_E_FORMAT), ends before its first member (TV_E_TRUNCATED), or
 * cannot be read.
 */
static int scan_archive(int fd, struct scan *s)
{
	struct archive *a;
	struct archive_entry *ent;
	size_t entries = 0;
	int r, rc = 0;

	if (s->file_size == 0)
		return TV_E_TRUNCATED; /* created, never written */
	if (lseek(fd, 0, SEEK_SET) != 0)
		return errno;
	if (!s->buf)
		s->buf = malloc(IOBUF);
	a = archive_read_new();
	if (!a || !s->buf) {
		if (a)
			archive_read_free(a);
		return TV_E_NOMEM;
	}
	/* only what export writes: "all" would let libarchive run external
	 * programs (lrzip, lzop, grzip) found on $PATH for hostile input */
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_zip(a);
	if (archive_read_open_fd(a, fd, IOBUF) != ARCHIVE_OK) {
		int e = archive_errno(a);
		/* libarchive reports "not an archive" as EILSEQ
		 * (ARCHIVE_ERRNO_FILE_FORMAT); keep only system errors */
		rc = (e == ENOENT || e == EACCES || e == EISDIR || e == EIO || e == ENOTDIR ||
		      e == ELOOP || e == ENOMEM) ? e : at_cut_end(s, a) ? TV_E_TRUNCATED : TV_E_FORMAT;
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			if (entries == 0) {
				rc = at_cut_end(s, a) ? TV_E_TRUNCATED : TV_E_FORMAT;
				goto out;
			}
			s->fatal = true;
			if (at_cut_end(s, a)) {
				s->truncated = true;
				problem(s, "", "truncated: the bundle ends after %zu members (%s); an "
				               "interrupted export or copy?",
				        entries, archive_error_string(a));
			} else {
				problem(s, "", "the archive is damaged after %zu members: %s", entries,
				        archive_error_string(a));
			}
			break;
		}
		if (++entries > REPORT_BUNDLE_MAX_MEMBERS) {
			s->fatal = true;
			s->unsafe = true;
			problem(s, "", "more than %d members: refused", REPORT_BUNDLE_MAX_MEMBERS);
			break;
		}
		r = read_entry(s, a, ent);
		if (r == ENTRY_DONE) /* the wanted member; nothing after it is needed */
			goto out;
		if (r > 0 || r == TV_E_NOMEM) {
			rc = r;
			goto out;
		}
		if (r < 0) {
			s->fatal = true;
			break;
		}
	}
	if (entries == 0 && !s->fatal)
		problem(s, "", "the archive is empty");
out:
	archive_read_free(a);
	return rc;
}

static char *jdup(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

static uint64_t jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : 0;
}

static uint64_t jtime(json_t *o, const char *key, uint64_t dflt)
{
	json_t *v = json_object_get(o, key);
	uint64_t t;
	if (!json_is_string(v) || tv_time_parse(json_string_value(v), 0, &t) != 0)
		return dflt;
	return t;
}

void report_bundle_info_free(report_bundle_info *info)
{
	if (!info)
		return;
	free((char *)info->meta.tool);
	free((char *)info->meta.case_id);
	free((char *)info->meta.examiner);
	free((char *)info->meta.note);
	free((char *)info->meta.store_path);
	free((char *)info->meta.query_text);
	free((char *)info->meta.query_norm);
	free((report_bundle_chunk *)info->meta.chunks);
	free(info->files);
	free(info);
}

/* Parses the manifest into info and checks it against what was seen. */
static int check_manifest(struct scan *s, report_bundle_info *info)
{
	json_t *root, *files, *chunks, *v, *store, *q, *pk, *fl;
	json_error_t jerr;
	char msg[512];
	char *digits;
	uint8_t want[32], got[32];
	size_t i, j;

	if (!s->manifest) {
		bool seen = false;
		for (i = 0; i < s->nseen; i++)
			seen |= strcmp(s->seen[i].name, REPORT_BUNDLE_MANIFEST) == 0;
		if (!seen && !s->fatal)
			problem(s, REPORT_BUNDLE_MANIFEST, "missing: the bundle has no manifest");
		else if (seen)
			problem(s, REPORT_BUNDLE_MANIFEST, "is empty");
		return 0;
	}
	digits = find_self_hash(s->manifest, s->manifest_len);
	if (!digits) {
		problem(s, REPORT_BUNDLE_MANIFEST, "has no \"" REPORT_BUNDLE_SELF_KEY "\": altered or not a "
		                          "tapvault manifest");
	} else {
		char hex[65];
		memcpy(hex, digits, 64);
		hex[64] = '\0';
		self_hash(s->manifest, s->manifest_len, digits, got);
		if (!unhex32(hex, want) || memcmp(want, got, 32) != 0)
			problem(s, REPORT_BUNDLE_MANIFEST, "its own SHA-256 (" REPORT_BUNDLE_SELF_KEY
			                          ") does not match its content: altered");
	}
	root = report_json_load(s->manifest, s->manifest_len, NULL, REPORT_BUNDLE_MANIFEST, &jerr, msg,
	                        sizeof msg);
	if (!root && jerr.text[0] == '\0') {
		/* past a count limit: the message says which, with "manifest.json: " */
		problem(s, REPORT_BUNDLE_MANIFEST, "%s", msg + strlen(REPORT_BUNDLE_MANIFEST ": "));
		return 0;
	}
	if (!root || !json_is_object(root)) {
		problem(s, REPORT_BUNDLE_MANIFEST, "does not parse as a JSON object: %s (line %d, column %d)",
		        root ? "not an object" : jerr.text, root ? 0 : jerr.line, root ? 0 : jerr.column);
		json_decref(root);
		return 0;
	}
	v = json_object_get(root, "format");
	if (!json_is_string(v) || strcmp(json_string_value(v), REPORT_BUNDLE_FORMAT) != 0) {
		problem(s, REPORT_BUNDLE_MANIFEST, "\"format\" is not \"%s\"", REPORT_BUNDLE_FORMAT);
		json_decref(root);
		return 0;
	}
	v = json_object_get(root, "version");
	if (!json_is_integer(v) || json_integer_value(v) != REPORT_BUNDLE_VERSION) {
		problem(s, REPORT_BUNDLE_MANIFEST, "\"version\" is not %d (a newer tapvault wrote it?)",
		        REPORT_BUNDLE_VERSION);
		json_decref(root);
		return 0;
	}
	files = json_object_get(root, "files");
	if (!json_is_array(files) || json_array_size(files) >= REPORT_BUNDLE_MAX_MEMBERS) {
		problem(s, REPORT_BUNDLE_MANIFEST, "\"files\" is not a list of at most %d entries",
		        REPORT_BUNDLE_MAX_MEMBERS - 1);
		json_decref(root);
		return 0;
	}
	info->files = calloc(json_array_size(files) + 1, sizeof *info->files);
	if (!info->files) {
		json_decref(root);
		return TV_E_NOMEM;
	}
	info->manifest_ok = true;
	json_array_foreach(files, i, v) {
		json_t *n = json_object_get(v, "name"), *sz = json_object_get(v, "size");
		json_t *h = json_object_get(v, "sha256");
		report_bundle_file *f = &info->files[info->nfiles];
		if (!json_is_string(n) || !report_bundle_name_safe(json_string_value(n)) ||
		    strcmp(json_string_value(n), REPORT_BUNDLE_MANIFEST) == 0 || !json_is_integer(sz) ||
		    json_integer_value(sz) < 0 || !json_is_string(h) ||
		    !unhex32(json_string_value(h), f->sha256)) {
			problem(s, REPORT_BUNDLE_MANIFEST, "\"files\" entry %zu is not {name, size, sha256}", i + 1);
			info->manifest_ok = false;
			continue;
		}
		snprintf(f->name, sizeof f->name, "%s", json_string_value(n));
		f->size = (uint64_t)json_integer_value(sz);
		if (f->size > s->max_member) {
			s->unsafe = true;
			problem(s, REPORT_BUNDLE_MANIFEST, "lists '%s' of %llu bytes, more than the limit of %llu: "
			                          "refused (raise --max-member-size to read it)",
			        f->name, (unsigned long long)f->size, (unsigned long long)s->max_member);
			info->manifest_ok = false;
			continue;
		}
		for (j = 0; j < info->nfiles; j++)
			if (strcmp(info->files[j].name, f->name) == 0)
				break;
		if (j < info->nfiles) {
			problem(s, REPORT_BUNDLE_MANIFEST, "lists '%s' twice", f->name);
			info->manifest_ok = false;
			continue;
		}
		info->nfiles++;
	}

	store = json_object_get(root, "store");
	q = json_object_get(root, "query");
	pk = json_object_get(root, "packets");
	fl = json_object_get(root, "flows");
	info->meta.tool = jdup(root, "tool");
	info->meta.created_ns = jtime(root, "created", 0);
	info->meta.case_id = jdup(root, "case");
	info->meta.examiner = jdup(root, "examiner");
	info->meta.note = jdup(root, "note");
	info->meta.store_path = jdup(store, "path");
	v = json_object_get(store, "uuid");
	if (json_is_string(v))
		snprintf(info->meta.store_uuid, sizeof info->meta.store_uuid, "%s", json_string_value(v));
	info->meta.query_text = jdup(q, "text");
	info->meta.query_norm = jdup(q, "normalised");
	info->meta.time_lo = jtime(q, "from", 0);
	info->meta.time_hi = jtime(q, "to", UINT64_MAX);
	info->meta.packets = jint(pk, "count");
	info->meta.first_ts = jtime(pk, "first", 0);
	info->meta.last_ts = jtime(pk, "last", 0);
	info->meta.max_bytes = jint(pk, "max_bytes");
	info->meta.flow_records = jint(fl, "records");
	chunks = json_object_get(root, "chunks");
	if (json_is_array(chunks) && json_array_size(chunks) > 0) {
		report_bundle_chunk *cs = calloc(json_array_size(chunks), sizeof *cs);
		size_t n = 0, nbad = 0, first_bad = 0;
		if (!cs) {
			json_decref(root);
			return TV_E_NOMEM;
		}
		json_array_foreach(chunks, i, v) {
			json_t *h = json_object_get(v, "sha256");
			if (!json_is_object(v) || !json_is_string(h) ||
			    !unhex32(json_string_value(h), cs[n].sha256)) {
				/* one problem for all of them: a hostile list is long */
				if (nbad++ == 0)
					first_bad = i + 1;
				continue;
			}
			cs[n].id = jint(v, "id");
			cs[n].segment = (uint32_t)jint(v, "segment");
			cs[n].offset = jint(v, "offset");
			cs[n].length = (uint32_t)jint(v, "length");
			cs[n].packets = jint(v, "packets");
			n++;
		}
		info->meta.chunks = cs;
		info->meta.nchunks = n;
		if (nbad == 1)
			problem(s, REPORT_BUNDLE_MANIFEST, "\"chunks\" entry %zu has no valid sha256", first_bad);
		else if (nbad > 1)
			problem(s, REPORT_BUNDLE_MANIFEST, "%zu \"chunks\" entries have no valid sha256, the first "
			                          "is entry %zu",
			        nbad, first_bad);
	}
	json_decref(root);

	/* the members against the list */
	for (i = 0; i < info->nfiles; i++) {
		const report_bundle_file *f = &info->files[i];
		struct seen *sn = NULL;
		char a[65], b[65];
		for (j = 0; j < s->nseen; j++)
			if (strcmp(s->seen[j].name, f->name) == 0)
				sn = &s->seen[j];
		if (!sn) {
			if (!s->fatal)
				problem(s, f->name, "missing: listed in the manifest but not in the bundle");
			else
				problem(s, f->name, "not checked: the bundle could not be read that far");
			continue;
		}
		if (sn->size != f->size) {
			problem(s, f->name, "size %llu differs from the manifest's %llu",
			        (unsigned long long)sn->size, (unsigned long long)f->size);
			continue;
		}
		if (memcmp(sn->sha256, f->sha256, 32) != 0) {
			hex32(sn->sha256, a);
			hex32(f->sha256, b);
			problem(s, f->name, "SHA-256 %s differs from the manifest's %s", a, b);
		}
	}
	for (j = 0; j < s->nseen; j++) {
		bool listed = strcmp(s->seen[j].name, REPORT_BUNDLE_MANIFEST) == 0;
		for (i = 0; i < info->nfiles && !listed; i++)
			listed = strcmp(s->seen[j].name, info->files[i].name) == 0;
		if (!listed)
			problem(s, s->seen[j].name, "extra: in the bundle but not listed in the manifest");
	}
	return 0;
}

/* Opens the bundle read-only into *fd: both passes read this one file,
 * so it must be a regular file (TV_E_UNSUPPORTED otherwise). */
static int open_bundle(const char *path, struct scan *s, int *fd)
{
	struct stat sb;
	int e;
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (*fd < 0)
		return errno;
	if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		e = errno;
		if (!e)
			e = S_ISDIR(sb.st_mode) ? EISDIR : TV_E_UNSUPPORTED;
		close(*fd);
		*fd = -1;
		return e;
	}
	s->file_size = (uint64_t)sb.st_size;
	return 0;
}

int report_bundle_verify(const char *path, uint64_t max_member, report_bundle_problem_fn fn,
                         void *ctx, uint64_t *nproblems, report_bundle_info **out)
{
	struct scan s;
	report_bundle_info *info;
	int fd, rc;

	if (out)
		*out = NULL;
	if (nproblems)
		*nproblems = 0;
	memset(&s, 0, sizeof s);
	s.max_member = max_member ? max_member : REPORT_BUNDLE_MAX_MEMBER_DEFAULT;
	s.fn = fn;
	s.ctx = ctx;
	rc = open_bundle(path, &s, &fd);
	if (rc)
		return rc;
	info = calloc(1, sizeof *info);
	if (!info) {
		close(fd);
		return TV_E_NOMEM;
	}
	info->meta.time_hi = UINT64_MAX;
	rc = scan_archive(fd, &s);
	close(fd);
	if (!rc)
		rc = check_manifest(&s, info);
	free(s.manifest);
	free(s.buf);
	if (nproblems)
		*nproblems = s.problems;
	if (rc) {
		report_bundle_info_free(info);
		return rc;
	}
	if (out)
		*out = info;
	else
		report_bundle_info_free(info);
	return s.problems ? TV_E_CORRUPT : 0;
}

struct firstproblem {
	char msg[600];
	bool set;
};

static void keep_first(void *ctx, const char *member, const char *msg)
{
	struct firstproblem *p = ctx;
	if (p->set)
		return;
	p->set = true;
	snprintf(p->msg, sizeof p->msg, "%s%s%s", member, *member ? ": " : "", msg);
}

static const char *scan_error(int rc)
{
	if (rc == TV_E_FORMAT)
		return "not a tar or zip archive";
	if (rc == TV_E_TRUNCATED)
		return "truncated: the file ends before its first member can be read (an interrupted "
		       "export or copy?)";
	return tv_strerror(rc);
}

int report_bundle_member_open(const char *path, const char *name, uint64_t max_member,
                              FILE **out, char *err, size_t cap)
{
	struct scan s;
	struct firstproblem fp;
	report_bundle_info *info = NULL;
	const report_bundle_file *lf = NULL;
	struct seen *sn = NULL;
	char tmpl[4096];
	const char *tmpdir = getenv("TMPDIR");
	struct statvfs vfs;
	size_t i;
	int fd = -1, sfd, rc;

	*out = NULL;
	memset(&s, 0, sizeof s);
	memset(&fp, 0, sizeof fp);
	s.max_member = max_member ? max_member : REPORT_BUNDLE_MAX_MEMBER_DEFAULT;
	s.fn = keep_first;
	s.ctx = &fp;
	rc = open_bundle(path, &s, &fd);
	if (rc) {
		report_seterr(err, cap, "%s", rc == TV_E_UNSUPPORTED ? "not a regular file (a bundle is "
		                                                      "read twice): copy it to a file first"
		                                                    : strerror(rc));
		return rc;
	}
	info = calloc(1, sizeof *info);
	if (!info) {
		rc = TV_E_NOMEM;
		goto fail;
	}

	/* pass 1: the whole bundle against its manifest, nothing written */
	rc = scan_archive(fd, &s);
	if (rc) {
		report_seterr(err, cap, "%s", scan_error(rc));
		goto fail;
	}
	rc = check_manifest(&s, info);
	if (rc)
		goto fail;
	if (s.unsafe || s.fatal) {
		report_seterr(err, cap, "refusing the bundle: %s", fp.msg);
		rc = TV_E_FORMAT;
		goto fail;
	}
	for (i = 0; i < info->nfiles; i++)
		if (strcmp(info->files[i].name, name) == 0)
			lf = &info->files[i];
	for (i = 0; i < s.nseen; i++)
		if (strcmp(s.seen[i].name, name) == 0)
			sn = &s.seen[i];
	if (!info->manifest_ok) {
		report_seterr(err, cap, "%s", fp.set ? fp.msg : REPORT_BUNDLE_MANIFEST ": not usable");
		rc = TV_E_FORMAT;
		goto fail;
	}
	if (s.problems) {
		/* evidence is read only from a bundle that verifies as a whole */
		report_seterr(err, cap, "the bundle does not verify (%s); run 'tapvault verify' on it", fp.msg);
		rc = TV_E_HASH;
		goto fail;
	}
	if (!sn || !lf) {
		report_seterr(err, cap, "%s: %s", name, !sn ? "not in the bundle" : "not listed in the manifest");
		rc = TV_E_NOTFOUND;
		goto fail;
	}
	if (sn->count != 1 || sn->size != lf->size || memcmp(sn->sha256, lf->sha256, 32) != 0) {
		report_seterr(err, cap, "%s: does not match the manifest (size or SHA-256): the bundle was "
		                 "altered; run 'tapvault verify' on it", name);
		rc = TV_E_HASH;
		goto fail;
	}

	/* pass 2: the member into an unlinked temporary file, at most the
	 * size the manifest declares, where there is room for it */
	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	snprintf(tmpl, sizeof tmpl, "%s/tapvault-bundle-XXXXXX", tmpdir);
	sfd = mkstemp(tmpl);
	if (sfd < 0) {
		rc = errno;
		report_seterr(err, cap, "%s: cannot create a temporary file: %s", tmpl, strerror(rc));
		goto fail;
	}
	unlink(tmpl); /* nothing stays behind, whatever happens */
	if (fstatvfs(sfd, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize < lf->size) {
		close(sfd);
		report_seterr(err, cap, "%s: %llu bytes, but %s has %llu bytes free: set TMPDIR to a "
		                        "larger folder",
		              name, (unsigned long long)lf->size, tmpdir,
		              (unsigned long long)vfs.f_bavail * (unsigned long long)vfs.f_frsize);
		rc = TV_E_FULL;
		goto fail;
	}
	s.spool = fdopen(sfd, "w+b");
	if (!s.spool) {
		rc = errno;
		close(sfd);
		goto fail;
	}
	s.want = name;
	s.spool_max = lf->size;
	s.stop_after_want = true;
	s.nseen = 0;
	s.problems = 0;
	s.unsafe = s.fatal = false;
	free(s.manifest);
	s.manifest = NULL;
	s.manifest_len = s.manifest_cap = 0;
	memset(&fp, 0, sizeof fp);
	rc = scan_archive(fd, &s);
	if (rc) {
		report_seterr(err, cap, "%s", scan_error(rc));
		goto fail;
	}
	if (s.problems || !s.spool_found || s.spool_size != lf->size ||
	    memcmp(s.spool_sha256, lf->sha256, 32) != 0) {
		report_seterr(err, cap, "%s: changed while it was read (%s): run 'tapvault verify' on it",
		              name, fp.set ? fp.msg : "size or SHA-256 differs from the first reading");
		rc = TV_E_HASH;
		goto fail;
	}
	if (fflush(s.spool) != 0 || fseeko(s.spool, 0, SEEK_SET) != 0) {
		rc = errno ? errno : TV_E_IO;
		report_seterr(err, cap, "temporary file: %s", strerror(errno));
		goto fail;
	}
	*out = s.spool;
	s.spool = NULL;
	rc = 0;
fail:
	if (s.spool)
		fclose(s.spool);
	if (fd >= 0)
		close(fd);
	free(s.manifest);
	free(s.buf);
	report_bundle_info_free(info);
	return rc;
}
