/*
 * fuzz_bundle.c — libFuzzer target for case-bundle reading
 * (report/bundle.c): report_bundle_verify() and report_bundle_member_open()
 * over hostile archives (libarchive: tar, zip, gzip, zstd underneath).
 *
 * Two kinds of input:
 *
 *   - anything else: the bytes are the bundle file;
 *   - "TVBNDL1\n" kind entries...: the target builds the archive itself
 *     with libarchive, so that mutations land in member names, types and
 *     contents and in the manifest rather than in compression framing.
 *     kind: 't' tar (pax), 'g' tar.gz, 's' tar.zst, 'z' zip, other: tar.
 *     entry: type u8 (low 2 bits: 0 file, 1 symlink, 2 directory, 3 hard
 *     link; bit 2: leave the size unset where the format allows) |
 *     name length u8 | name | content length u16 LE | content (the link
 *     target for links).  In a member named manifest.json the value of
 *     "manifest_sha256" (64 characters) is replaced by the right self hash,
 *     so a mutated manifest gets past that check to the JSON and the list.
 *
 * The bundle is written to one memfd created once and read by its
 * /proc/self/fd path; member_open's spool goes to a private temporary
 * folder (TMPDIR) made once, and unlinks itself.  PATH is set to that
 * empty folder: report/bundle.c enables every libarchive read filter, and
 * some of them (lrzip, lzop, grzip) exec an external program on input with
 * their magic (corpus: hostile_*_magic_execs_*.bin).
 *
 * Checks: problems come with a NUL-terminated member and message; the
 * count matches the calls; 0 only without problems; what the manifest
 * lists is at most REPORT_BUNDLE_MAX_MEMBERS - 1 safe names; a member
 * handed out by member_open() has the manifest's size and SHA-256.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../report/evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT (1u << 20)
#define MAGIC "TVBNDL1\n"
#define MAGIC_LEN 8

static int mfd = -1;
static char mpath[64];
static char tmpdir[64];
static uint8_t *abuf;
static size_t acap = 4u << 20;

static void cleanup(void)
{
	if (tmpdir[0])
		rmdir(tmpdir);
}

static void setup(void)
{
	mfd = memfd_create("fuzz_bundle", MFD_CLOEXEC);
	if (mfd < 0)
		abort();
	snprintf(mpath, sizeof mpath, "/proc/self/fd/%d", mfd);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/fuzz_bundle.XXXXXX");
	if (!mkdtemp(tmpdir))
		abort();
	setenv("TMPDIR", tmpdir, 1);
	/* libarchive's filter_all runs external decompressors (lrzip, lzop,
	 * grzip) found on PATH for inputs with their magic: point PATH at the
	 * empty private folder so that the fuzzer never runs one */
	setenv("PATH", tmpdir, 1);
	atexit(cleanup);
	abuf = malloc(acap);
	if (!abuf)
		abort();
}

/* Replaces the self hash's digits (if the key is there) by the right ones. */
static void fix_self_hash(char *t, size_t n)
{
	static const char key[] = "\"" REPORT_BUNDLE_SELF_KEY "\"";
	char *p = NULL, *q = t, hex[65];
	uint8_t d[32];
	tv_sha256_ctx h;
	while ((size_t)(q - t) + sizeof key - 1 <= n) {
		char *m = memmem(q, n - (size_t)(q - t), key, sizeof key - 1);
		if (!m)
			break;
		p = m;
		q = m + 1;
	}
	if (!p)
		return;
	p += sizeof key - 1;
	while ((size_t)(p - t) < n && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if ((size_t)(p - t) >= n || *p != ':')
		return;
	p++;
	while ((size_t)(p - t) < n && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if ((size_t)(p - t) + 66 > n || *p != '"' || p[65] != '"')
		return;
	p++;
	memset(p, '0', 64);
	tv_sha256_init(&h);
	tv_sha256_update(&h, t, n);
	tv_sha256_final(&h, d);
	tv_sha256_hex(d, hex);
	memcpy(p, hex, 64);
}

/* Builds an archive from the structured form into abuf; returns its
 * length, 0 when nothing could be built. */
static size_t build(const uint8_t *p, size_t n)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t used = 0, members = 0;
	char kind;
	bool ok = true;

	if (!a || !e || n < 1)
		goto out;
	kind = (char)p[0];
	p++;
	n--;
	if (kind == 'z') {
		archive_write_set_format_zip(a);
	} else {
		archive_write_set_format_pax_restricted(a);
		if (kind == 'g')
			archive_write_add_filter_gzip(a);
		else if (kind == 's')
			archive_write_add_filter_zstd(a);
	}
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_memory(a, abuf, acap, &used) != ARCHIVE_OK) {
		ok = false;
		goto out;
	}
	while (n >= 2 && members < 80) {
		uint8_t type = p[0], nl = p[1];
		char name[256];
		char *content;
		size_t cl;
		if (n < 2u + nl + 2u)
			break;
		memcpy(name, p + 2, nl);
		name[nl] = '\0';
		cl = (size_t)p[2 + nl] | (size_t)p[3 + nl] << 8;
		p += 4u + nl;
		n -= 4u + nl;
		if (cl > n)
			cl = n;
		content = malloc(cl + 1);
		if (!content)
			break;
		memcpy(content, p, cl);
		content[cl] = '\0';
		p += cl;
		n -= cl;
		if (strcmp(name, "manifest.json") == 0)
			fix_self_hash(content, cl);
		archive_entry_clear(e);
		archive_entry_set_pathname(e, name);
		archive_entry_set_perm(e, 0640);
		archive_entry_set_mtime(e, 1764000000, 0);
		switch (type & 3) {
		case 0:
			archive_entry_set_filetype(e, AE_IFREG);
			if (!(type & 4) || kind != 'z')
				archive_entry_set_size(e, (la_int64_t)cl);
			break;
		case 1:
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, content);
			break;
		case 2:
			archive_entry_set_filetype(e, AE_IFDIR);
			break;
		default:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, content);
			break;
		}
		if (archive_write_header(a, e) < ARCHIVE_WARN) {
			free(content);
			ok = false;
			break;
		}
		if ((type & 3) == 0 && cl && archive_write_data(a, content, cl) < 0) {
			free(content);
			ok = false;
			break;
		}
		free(content);
		members++;
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		ok = false;
out:
	if (e)
		archive_entry_free(e);
	if (a)
		archive_write_free(a);
	return ok ? used : 0;
}

struct probs {
	uint64_t n;
};

static void on_problem(void *ctx, const char *member, const char *msg)
{
	struct probs *pr = ctx;
	if (!member || !msg || !*msg)
		abort();
#ifdef FUZZ_DEBUG
	fprintf(stderr, "  problem: %s: %s\n", member, msg);
#endif
	(void)strlen(member);
	pr->n++;
}

static void check_member(const char *name, uint64_t max_member, const report_bundle_info *info)
{
	FILE *f = NULL;
	char err[700];
	uint8_t buf[4096], d[32];
	tv_sha256_ctx h;
	uint64_t total = 0;
	size_t got, i;
	int rc;

	memset(err, 0x55, sizeof err);
	rc = report_bundle_member_open(mpath, name, max_member, &f, err, sizeof err);
	if (rc != 0) {
		if (f || strnlen(err, sizeof err) == sizeof err || !err[0])
			abort();
		return;
	}
	if (!f)
		abort();
	tv_sha256_init(&h);
	while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
		tv_sha256_update(&h, buf, got);
		total += got;
	}
	tv_sha256_final(&h, d);
	fclose(f);
	/* it verified: the same file verified as a whole a moment ago */
	if (!info || !info->manifest_ok)
		abort();
	for (i = 0; i < info->nfiles; i++)
		if (strcmp(info->files[i].name, name) == 0)
			break;
	if (i == info->nfiles || info->files[i].size != total || memcmp(info->files[i].sha256, d, 32))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	report_bundle_info *info = NULL;
	struct probs pr = { 0 };
	uint64_t np = 12345;
	size_t len, i;
	const uint8_t *bytes = data;
	int rc;

	if (mfd < 0)
		setup();
	if (size > MAX_INPUT)
		return 0;
	len = size;
	if (size >= MAGIC_LEN && memcmp(data, MAGIC, MAGIC_LEN) == 0) {
		len = build(data + MAGIC_LEN, size - MAGIC_LEN);
		if (!len)
			return 0;
		bytes = abuf;
	}
	if (ftruncate(mfd, 0) != 0 || pwrite(mfd, bytes, len, 0) != (ssize_t)len)
		abort();

	rc = report_bundle_verify(mpath, 0, on_problem, &pr, &np, &info);
#ifdef FUZZ_DEBUG
	fprintf(stderr, "verify: %d, %llu problems, %zu bytes\n", rc, (unsigned long long)np, len);
#endif
	if (np != pr.n)
		abort();
	if (rc == 0 && pr.n != 0)
		abort();
	if (rc == TV_E_CORRUPT && pr.n == 0)
		abort();
	if (rc != 0 && rc != TV_E_CORRUPT && info)
		abort();
	if (info) {
		if (info->nfiles >= REPORT_BUNDLE_MAX_MEMBERS)
			abort();
		for (i = 0; i < info->nfiles; i++)
			if (!report_bundle_name_safe(info->files[i].name))
				abort();
		(void)strnlen(info->meta.store_uuid, sizeof info->meta.store_uuid);
	}
	if (rc == 0 || rc == TV_E_CORRUPT) {
		/* member_open refuses anything that does not verify, so only
		 * a clean bundle may hand a member out */
		if (rc == 0) {
			check_member("packets.pcap", 0, info);
			check_member("flows.log", 0, info);
		} else {
			FILE *f = NULL;
			char err[256];
			if (report_bundle_member_open(mpath, "packets.pcap", 0, &f, err, sizeof err) == 0)
				abort();
		}
		/* a small member limit */
		{
			FILE *f = NULL;
			char err[256];
			if (report_bundle_member_open(mpath, "flows.log", 64, &f, err, sizeof err) == 0)
				fclose(f);
		}
	}
	report_bundle_info_free(info);
	return 0;
}
