/*
 * bundle_write.c — writing a forensic case bundle: libarchive (tar.zst,
 * tar.gz, zip), each member streamed and hashed, the manifest (jansson)
 * last with every other member's size and SHA-256 and its own, then the
 * bundle hashed as it is on disk; withdrawing a bundle; and the flow
 * records of a query as the flows.log member.
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
	w->buf = malloc(REPORT_IOBUF);
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
		size_t want = (uint64_t)end - done < REPORT_IOBUF ? (size_t)((uint64_t)end - done) : REPORT_IOBUF;
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
		tv_sha256_hex(w->files[i].sha256, hex);
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
		tv_sha256_hex(c->sha256, hex);
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
	digits = report_bundle_self_hash_find(text, len);
	if (!digits) {
		free(text);
		return NULL;
	}
	report_bundle_self_hash(text, len, digits, d);
	tv_sha256_hex(d, hex);
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
	while ((got = pread(w->out.fd, w->buf, REPORT_IOBUF, (off_t)total)) > 0) {
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
	buf = malloc(REPORT_IOBUF);
	if (!buf) {
		rc = TV_E_NOMEM;
		goto out;
	}
	tv_sha256_init(&h);
	while ((got = read(fd, buf, REPORT_IOBUF)) > 0) {
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
