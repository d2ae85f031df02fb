/*
 * bundle.c — forensic case bundles: names and kinds, the manifest's self
 * hash, and reading a bundle back without ever extracting it (verify,
 * member open).  Writing is in bundle_write.c.
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

/* ============================================================ self hash */

/* Finds the 64 hex digits of the self hash in text; NULL when absent. */
char *report_bundle_self_hash_find(char *text, size_t len)
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
void report_bundle_self_hash(const char *text, size_t len, const char *digits, uint8_t out[32])
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
		got = archive_read_data(a, s->buf, REPORT_IOBUF);
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
				size_t nc = s->manifest_cap ? s->manifest_cap : REPORT_IOBUF;
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
		s->buf = malloc(REPORT_IOBUF);
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
	if (archive_read_open_fd(a, fd, REPORT_IOBUF) != ARCHIVE_OK) {
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

/* The manifest's own SHA-256 (its self-hash field) against its content. */
static void check_self_hash(struct scan *s)
{
	char *digits;
	uint8_t want[32], got[32];

	digits = report_bundle_self_hash_find(s->manifest, s->manifest_len);
	if (!digits) {
		problem(s, REPORT_BUNDLE_MANIFEST, "has no \"" REPORT_BUNDLE_SELF_KEY "\": altered or not a "
		                          "tapvault manifest");
	} else {
		char hex[65];
		memcpy(hex, digits, 64);
		hex[64] = '\0';
		report_bundle_self_hash(s->manifest, s->manifest_len, digits, got);
		if (!unhex32(hex, want) || memcmp(want, got, 32) != 0)
			problem(s, REPORT_BUNDLE_MANIFEST, "its own SHA-256 (" REPORT_BUNDLE_SELF_KEY
			                          ") does not match its content: altered");
	}
}

/* The "files" list: each entry {name, size, sha256}, safe, within the
 * member limit, listed once.  Sets info->manifest_ok. */
static void manifest_files(struct scan *s, report_bundle_info *info, json_t *files)
{
	json_t *v;
	size_t i, j;

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
}

/* The descriptive fields and the source chunks into info->meta. */
static int manifest_meta(struct scan *s, report_bundle_info *info, json_t *root)
{
	json_t *chunks, *v, *store, *q, *pk, *fl;
	size_t i;

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
	return 0;
}

/* Every listed member against what the scan saw, and every seen member
 * against the list. */
static void check_members(struct scan *s, const report_bundle_info *info)
{
	size_t i, j;

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
			tv_sha256_hex(sn->sha256, a);
			tv_sha256_hex(f->sha256, b);
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
}

/* Parses the manifest into info and checks it against what was seen. */
static int check_manifest(struct scan *s, report_bundle_info *info)
{
	json_t *root, *files, *v;
	json_error_t jerr;
	char msg[512];
	size_t i;
	int rc;

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
	check_self_hash(s);
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
	manifest_files(s, info, files);

	rc = manifest_meta(s, info, root);
	json_decref(root);
	if (rc)
		return rc;
	check_members(s, info);
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

int report_bundle_tie_chunks(struct idx *x, const report_bundle_info *info, const char *store,
                             report_bundle_problem_fn fn, void *ctx, uint64_t *pruned)
{
	uint8_t uuid[16];
	char hex[33], msg[512], member[48];
	size_t i;
	int rc, bad = 0;

	*pruned = 0;
	idx_store_uuid(x, uuid);
	for (i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", uuid[i]);
	if (strcmp(hex, info->meta.store_uuid) != 0) {
		snprintf(msg, sizeof msg, "made from store %s, but %s is store %s", info->meta.store_uuid,
		         store, hex);
		fn(ctx, REPORT_BUNDLE_MANIFEST, msg);
		return TV_E_CORRUPT;
	}
	for (i = 0; i < info->meta.nchunks; i++) {
		const report_bundle_chunk *c = &info->meta.chunks[i];
		store_chunk_meta m;
		snprintf(member, sizeof member, "chunk %llu", (unsigned long long)c->id);
		rc = idx_chunk_get(x, c->id, &m);
		if (rc == TV_E_NOTFOUND) {
			(*pruned)++;
			continue;
		}
		if (rc) {
			snprintf(msg, sizeof msg, "cannot be read from the index: %s", tv_strerror(rc));
			fn(ctx, member, msg);
			bad++;
			continue;
		}
		if (memcmp(m.sha256, c->sha256, 32) != 0 || m.segment != c->segment ||
		    m.offset != c->offset) {
			snprintf(msg, sizeof msg,
			         "the store's chunk (segment %u offset %llu) differs from the one the manifest "
			         "lists (segment %u offset %llu, SHA-256 %s)",
			         m.segment, (unsigned long long)m.offset, c->segment,
			         (unsigned long long)c->offset,
			         memcmp(m.sha256, c->sha256, 32) ? "differs" : "equal");
			fn(ctx, member, msg);
			bad++;
		}
	}
	return bad ? TV_E_CORRUPT : 0;
}
