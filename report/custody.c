/*
 * custody.c — the store's chain-of-custody log (STORE/custody.log).
 *
 * One JSON object per line.  An entry is first serialised without its hash
 * as  {"seq":N,...,"prev":"<hex>"} ; its hash is the SHA-256 of exactly
 * those bytes; the line on disk is the same text with the closing '}'
 * replaced by  ,"hash":"<hex>"}  and a newline.  A reader recomputes the
 * hash from the line's own bytes, so no JSON re-serialisation (and no
 * jansson version) is involved in checking the chain.
 *
 * Appends hold an exclusive flock over "read the last entry, write the
 * next", so two exports at once still make one chain.
 */
#include "evidence.h"
#include "report_int.h"
#include "../index/idx.h"
#include "../store/storedir.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_TAIL_LEN 75 /* ,"hash":" + 64 hex + "} */


static bool is_hex64(const char *s)
{
	int i;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/*
 * Checks one line (len bytes, no newline) against its own hash.  On
 * success *root is the parsed entry (caller decrefs) and hash gets the
 * stored hash.  Returns 0, or TV_E_HASH (hash differs: *root still set
 * when the body parses), or TV_E_FORMAT with why set.
 */
static int check_line(const char *line, size_t len, char hash[65], json_t **root,
                      const char **why)
{
	char *body;
	uint8_t d[32];
	char hex[65];
	json_error_t jerr;
	size_t blen;

	*root = NULL;
	if (len < HASH_TAIL_LEN + 2 || line[0] != '{' ||
	    memcmp(line + len - HASH_TAIL_LEN, ",\"hash\":\"", 9) != 0 ||
	    memcmp(line + len - 2, "\"}", 2) != 0 || !is_hex64(line + len - 66)) {
		*why = "not an entry: it does not end with ,\"hash\":\"<64 hex digits>\"}";
		return TV_E_FORMAT;
	}
	memcpy(hash, line + len - 66, 64);
	hash[64] = '\0';
	blen = len - HASH_TAIL_LEN + 1;
	body = malloc(blen + 1);
	if (!body)
		return TV_E_NOMEM;
	memcpy(body, line, blen - 1);
	body[blen - 1] = '}';
	body[blen] = '\0';
	tv_sha256(body, blen, d);
	tv_sha256_hex(d, hex);
	*root = json_loadb(body, blen, JSON_REJECT_DUPLICATES, &jerr);
	free(body);
	if (!*root || !json_is_object(*root)) {
		json_decref(*root);
		*root = NULL;
		*why = "not an entry: the JSON does not parse";
		return TV_E_FORMAT;
	}
	if (strcmp(hex, hash) != 0) {
		*why = "its hash does not match its content: the entry was altered";
		return TV_E_HASH;
	}
	return 0;
}

static const char *jget(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static uint64_t jgetu(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v) : 0;
}

static void fill_entry(json_t *o, report_custody_entry *e)
{
	const char *t = jget(o, "time"), *h = jget(o, "bundle_sha256");
	size_t i;
	memset(e, 0, sizeof *e);
	if (t)
		tv_time_parse(t, 0, &e->time_ns);
	e->action = jget(o, "action");
	e->examiner = jget(o, "examiner");
	e->uid = (uint32_t)jgetu(o, "uid");
	e->user = jget(o, "user");
	e->host = jget(o, "host");
	e->case_id = jget(o, "case");
	e->query = jget(o, "query");
	e->bundle = jget(o, "bundle");
	e->bundle_path = jget(o, "bundle_path");
	e->bundle_size = jgetu(o, "bundle_size");
	e->note = jget(o, "note");
	if (h && strlen(h) == 64 && is_hex64(h))
		for (i = 0; i < 32; i++) {
			unsigned hi = (unsigned)(h[2 * i] <= '9' ? h[2 * i] - '0' : h[2 * i] - 'a' + 10);
			unsigned lo = (unsigned)(h[2 * i + 1] <= '9' ? h[2 * i + 1] - '0' : h[2 * i + 1] - 'a' + 10);
			e->bundle_sha256[i] = (uint8_t)(hi << 4 | lo);
		}
}

/* STORE/custody.log: the store names its files (storedir.h). */
static char *log_path(const char *store_dir)
{
	size_t n = strlen(store_dir) + sizeof STORE_CUSTODY_NAME + 2;
	char *p = malloc(n);
	if (p && store_path(store_dir, STORE_CUSTODY_NAME, p, n) != 0) {
		free(p);
		p = NULL;
	}
	return p;
}

static json_t *jstr(const char *s)
{
	return (s && *s) ? json_string(s) : json_null();
}

/* Reads the last line of fd (size bytes) into the caller's buffer. */
static int last_line(int fd, uint64_t size, char *buf, size_t cap, size_t *len)
{
	size_t want = size < cap ? (size_t)size : cap;
	ssize_t got;
	size_t i;

	got = pread(fd, buf, want, (off_t)(size - want));
	if (got < 0)
		return errno;
	if ((size_t)got != want)
		return TV_E_IO;
	if (want == 0 || buf[want - 1] != '\n')
		return TV_E_TRUNCATED;
	for (i = want - 1; i > 0 && buf[i - 1] != '\n'; i--)
		;
	if (i == 0 && want < size)
		return TV_E_RANGE; /* longer than a line may be */
	memmove(buf, buf + i, want - 1 - i);
	*len = want - 1 - i;
	buf[*len] = '\0';
	return 0;
}

/* The chain so far, under the lock: never extend a broken one (the log is
 * one line per export, so this stays cheap).  *prev and *seq get the last
 * entry's hash and the next number. */
static int chain_tail(int fd, uint64_t size, const char *store_dir, const char *path, char prev[65],
                      uint64_t *seq, char *err, size_t cap)
{
	uint64_t nent = 0, nbad = 0;
	size_t len = 0;
	json_t *root = NULL;
	const char *why = NULL;
	char *buf = NULL;
	int rc;

	rc = report_custody_verify(store_dir, NULL, NULL, NULL, &nent, &nbad, NULL);
	if (rc) {
		report_seterr(err, cap, "%s: the custody chain is broken (%llu problems); refusing to "
		       "extend it (see 'tapvault custody -s %s')", path, (unsigned long long)nbad,
		       store_dir);
		return TV_E_CORRUPT;
	}
	buf = malloc(REPORT_CUSTODY_MAX_LINE + 2);
	if (!buf)
		return TV_E_NOMEM;
	rc = last_line(fd, size, buf, REPORT_CUSTODY_MAX_LINE + 1, &len);
	if (rc) {
		report_seterr(err, cap, "%s: the last entry is %s; refusing to chain onto it "
		       "(check it with 'tapvault custody')", path,
		       rc == TV_E_TRUNCATED ? "incomplete (no newline)" : "unreadable");
		free(buf);
		return TV_E_CORRUPT;
	}
	rc = check_line(buf, len, prev, &root, &why);
	if (rc == 0)
		*seq = jgetu(root, "seq") + 1;
	json_decref(root);
	if (rc) {
		report_seterr(err, cap, "%s: the last entry is broken (%s); refusing to chain onto it "
		       "(check it with 'tapvault custody')", path, why ? why : tv_strerror(rc));
		rc = TV_E_CORRUPT;
	}
	free(buf);
	return rc;
}

/* The entry without its hash, as compact JSON in field order (malloc'd;
 * NULL when out of memory). */
static char *entry_body(const report_custody_entry *e, uint64_t seq, const char *prev)
{
	char tbuf[48], bhex[65];
	char *body;
	json_t *o = json_object();
	if (!o)
		return NULL;
	tv_time_format(e->time_ns, tbuf, sizeof tbuf);
	tv_sha256_hex(e->bundle_sha256, bhex);
	json_object_set_new(o, "seq", json_integer((json_int_t)seq));
	json_object_set_new(o, "time", json_string(tbuf));
	json_object_set_new(o, "action", jstr(e->action ? e->action : "export"));
	json_object_set_new(o, "examiner", jstr(e->examiner));
	json_object_set_new(o, "uid", json_integer(e->uid));
	json_object_set_new(o, "user", jstr(e->user));
	json_object_set_new(o, "host", jstr(e->host));
	json_object_set_new(o, "case", jstr(e->case_id));
	json_object_set_new(o, "query", json_string(e->query ? e->query : ""));
	json_object_set_new(o, "bundle", jstr(e->bundle));
	json_object_set_new(o, "bundle_path", jstr(e->bundle_path));
	json_object_set_new(o, "bundle_size", json_integer((json_int_t)e->bundle_size));
	json_object_set_new(o, "bundle_sha256", json_string(bhex));
	json_object_set_new(o, "note", jstr(e->note));
	json_object_set_new(o, "prev", json_string(prev));
	body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return body;
}

/* Appends the line and makes it durable; on failure cuts the file back to
 * size: never half an entry, or the chain would refuse every later export. */
static int append_line(int fd, const char *path, const char *line, size_t llen, off_t size, char *err,
                       size_t cap)
{
	size_t off;
	for (off = 0; off < llen;) {
		ssize_t w = write(fd, line + off, llen - off);
		if (w < 0) {
			int rc = errno;
			if (errno == EINTR)
				continue;
			report_seterr(err, cap, "%s: write failed: %s", path, strerror(errno));
			if (ftruncate(fd, size) == 0)
				(void)fdatasync(fd);
			return rc;
		}
		off += (size_t)w;
	}
	if (fdatasync(fd) != 0) {
		int rc = errno;
		report_seterr(err, cap, "%s: fdatasync failed: %s", path, strerror(errno));
		if (ftruncate(fd, size) == 0)
			(void)fdatasync(fd);
		return rc;
	}
	return 0;
}

int report_custody_append(const char *store_dir, const report_custody_entry *e, uint64_t *seq_out,
                          char hash_hex[65], char *err, size_t cap)
{
	char *path = log_path(store_dir), *body = NULL, *line = NULL;
	char prev[65], hex[65];
	uint64_t seq = 1;
	struct stat st;
	uint8_t d[32];
	size_t blen, llen;
	int fd = -1, rc;

	if (!path)
		return TV_E_NOMEM;
	memset(prev, '0', 64);
	prev[64] = '\0';
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = errno;
		report_seterr(err, cap, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) {
		rc = errno;
		report_seterr(err, cap, "%s: cannot lock: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = TV_E_FORMAT;
		report_seterr(err, cap, "%s: not a regular file", path);
		goto out;
	}
	/* O_NOFOLLOW stops a symbolic link; a second hard link may lead to any
	 * file of the store owner's choosing (the store may belong to the
	 * ingest's --user while root exports) */
	if (st.st_nlink != 1) {
		rc = TV_E_NOTREG;
		report_seterr(err, cap, "%s: has %lu hard links; refusing to append to a file that is "
		              "also elsewhere", path, (unsigned long)st.st_nlink);
		goto out;
	}
	if (st.st_size > 0 &&
	    (rc = chain_tail(fd, (uint64_t)st.st_size, store_dir, path, prev, &seq, err, cap)) != 0)
		goto out;

	body = entry_body(e, seq, prev);
	if (!body) {
		rc = TV_E_NOMEM;
		goto out;
	}
	blen = strlen(body);
	if (blen + HASH_TAIL_LEN > REPORT_CUSTODY_MAX_LINE) {
		rc = TV_E_RANGE;
		report_seterr(err, cap, "custody entry longer than %d bytes (a very long note or query?)",
		       REPORT_CUSTODY_MAX_LINE);
		goto out;
	}
	tv_sha256(body, blen, d);
	tv_sha256_hex(d, hex);
	llen = blen - 1 + HASH_TAIL_LEN + 1;
	line = malloc(llen + 1);
	if (!line) {
		rc = TV_E_NOMEM;
		goto out;
	}
	snprintf(line, llen + 1, "%.*s,\"hash\":\"%s\"}\n", (int)(blen - 1), body, hex);
	if ((rc = append_line(fd, path, line, llen, st.st_size, err, cap)) != 0)
		goto out;
	if (st.st_size == 0) {
		/* a new file: make its directory entry durable too */
		int dfd = open(store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	if (seq_out)
		*seq_out = seq;
	if (hash_hex)
		memcpy(hash_hex, hex, 65);
	rc = 0;
out:
	if (fd >= 0)
		close(fd); /* releases the lock */
	free(body);
	free(line);
	free(path);
	return rc;
}

static void cproblem(report_bundle_problem_fn fn, void *ctx, uint64_t *n, uint64_t lineno,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void cproblem(report_bundle_problem_fn fn, void *ctx, uint64_t *n, uint64_t lineno,
                     const char *fmt, ...)
{
	char where[64], msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(where, sizeof where, STORE_CUSTODY_NAME " line %llu", (unsigned long long)lineno);
	(*n)++;
	if (fn)
		fn(ctx, where, msg);
}

int report_custody_verify(const char *store_dir, report_custody_entry_fn entry,
                          report_bundle_problem_fn problem, void *ctx, uint64_t *entries,
                          uint64_t *nproblems, char head_hex[65])
{
	char *path = log_path(store_dir), *line = NULL;
	char prev_hash[65], hash[65];
	uint64_t lineno = 0, n = 0, np = 0, prev_seq = 0;
	size_t lcap = 0;
	ssize_t len;
	FILE *f;
	int rc = 0, fd;

	if (entries)
		*entries = 0;
	if (nproblems)
		*nproblems = 0;
	if (head_hex)
		head_hex[0] = '\0';
	if (!path)
		return TV_E_NOMEM;
	memset(prev_hash, '0', 64);
	prev_hash[64] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = errno == ENOENT ? 0 : errno;
		free(path);
		return rc;
	}
	f = fdopen(fd, "rb");
	if (!f) {
		rc = errno;
		close(fd);
		free(path);
		return rc;
	}
	while ((len = getline(&line, &lcap, f)) >= 0) {
		json_t *root = NULL;
		const char *why = NULL;
		report_custody_entry ce;
		uint64_t seq = 0;
		bool nl = len > 0 && line[len - 1] == '\n';
		int r;

		lineno++;
		if (nl)
			line[--len] = '\0';
		if (!nl)
			cproblem(problem, ctx, &np, lineno, "incomplete: the last line has no newline "
			                                    "(an interrupted append?)");
		if ((size_t)len > REPORT_CUSTODY_MAX_LINE) {
			cproblem(problem, ctx, &np, lineno, "longer than %d bytes: not an entry",
			         REPORT_CUSTODY_MAX_LINE);
			continue;
		}
		n++;
		r = check_line(line, (size_t)len, hash, &root, &why);
		if (r == TV_E_NOMEM) {
			rc = r;
			break;
		}
		if (root) {
			const char *pv = jget(root, "prev");
			seq = jgetu(root, "seq");
			fill_entry(root, &ce);
			if (r)
				cproblem(problem, ctx, &np, lineno, "entry %llu: %s", (unsigned long long)seq, why);
			if (seq != prev_seq + 1)
				cproblem(problem, ctx, &np, lineno,
				         "entry %llu follows entry %llu: %s", (unsigned long long)seq,
				         (unsigned long long)prev_seq,
				         seq > prev_seq + 1 ? "entries are missing (removed)"
				                            : "out of sequence (altered or reordered)");
			if (!pv || strcmp(pv, prev_hash) != 0)
				cproblem(problem, ctx, &np, lineno,
				         "entry %llu: \"prev\" is not the hash of the entry before it: an entry "
				         "before it was removed or altered",
				         (unsigned long long)seq);
			if (entry)
				entry(ctx, lineno, seq, &ce, line, r == 0);
			prev_seq = seq;
		} else {
			cproblem(problem, ctx, &np, lineno, "%s", why ? why : "not an entry");
			if (entry)
				entry(ctx, lineno, 0, NULL, line, false);
			prev_seq++;
		}
		json_decref(root);
		/* chain on the stored hash, so one altered entry is named once */
		if (r == 0 || r == TV_E_HASH)
			memcpy(prev_hash, hash, 65);
		else
			prev_hash[0] = '\0';
	}
	if (rc == 0 && ferror(f))
		rc = errno ? errno : TV_E_IO;
	fclose(f);
	free(line);
	free(path);
	if (entries)
		*entries = n;
	if (nproblems)
		*nproblems = np;
	if (head_hex && n > 0)
		memcpy(head_hex, prev_hash, 65);
	if (rc)
		return rc;
	return np ? TV_E_CORRUPT : 0;
}

/* report_custody_find_bundle: the entries that exported the file */
struct custody_find {
	uint8_t sha[32];
	uint64_t seq;
};

static void on_find_entry(void *ctx, uint64_t lineno, uint64_t seq, const report_custody_entry *e,
                          const char *line, bool ok)
{
	struct custody_find *cf = ctx;
	(void)lineno;
	(void)line;
	if (ok && e && memcmp(e->bundle_sha256, cf->sha, 32) == 0)
		cf->seq = seq;
}

static void on_find_problem(void *ctx, const char *member, const char *msg)
{
	(void)ctx;
	(void)member;
	(void)msg; /* the chain is judged by report_custody_verify's own callers */
}

int report_custody_find_bundle(const char *store_dir, const char *path, uint64_t *seq)
{
	struct custody_find cf;
	uint8_t buf[65536];
	tv_sha256_ctx h;
	uint64_t entries = 0, np = 0;
	ssize_t n;
	int fd, rc = 0;

	*seq = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	tv_sha256_init(&h);
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = errno;
			break;
		}
		tv_sha256_update(&h, buf, (size_t)n);
	}
	close(fd);
	if (rc)
		return rc;
	memset(&cf, 0, sizeof cf);
	tv_sha256_final(&h, cf.sha);
	(void)report_custody_verify(store_dir, on_find_entry, on_find_problem, &cf, &entries, &np, NULL);
	*seq = cf.seq;
	return 0;
}
