/*
 * test_bundle.c — case bundles (report/bundle.c) and the custody log
 * (report/custody.c).
 */
#include <criterion/criterion.h>

#include "rmtmp.h"
#include "chunkrec2.h"
#include "../../report/evidence.h"
#include "../../index/idx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof dir, "/tmp/tv-test-bundle-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void rm_tmp(void)
{
	cr_assert_eq(test_rmtree(dir), 0);
}

TestSuite(bundle, .init = mkdir_tmp, .fini = rm_tmp);

Test(bundle, member_names)
{
	cr_assert(report_bundle_name_safe("packets.pcap"));
	cr_assert(report_bundle_name_safe("manifest.json"));
	cr_assert_not(report_bundle_name_safe(""));
	cr_assert_not(report_bundle_name_safe(NULL));
	cr_assert_not(report_bundle_name_safe("."));
	cr_assert_not(report_bundle_name_safe(".."));
	cr_assert_not(report_bundle_name_safe("../x"));
	cr_assert_not(report_bundle_name_safe("/etc/passwd"));
	cr_assert_not(report_bundle_name_safe("a/b"));
	cr_assert_not(report_bundle_name_safe("a\\..\\b"));
	cr_assert_not(report_bundle_name_safe("-rf"));
	cr_assert_not(report_bundle_name_safe("a\nb"));
	cr_assert_not(report_bundle_name_safe("a\x7f"));
}

Test(bundle, kinds)
{
	cr_assert_eq(report_bundle_kind_from_path("c.tar.zst"), REPORT_BUNDLE_TAR_ZST);
	cr_assert_eq(report_bundle_kind_from_path("/x/c.tar.gz"), REPORT_BUNDLE_TAR_GZ);
	cr_assert_eq(report_bundle_kind_from_path("c.tgz"), REPORT_BUNDLE_TAR_GZ);
	cr_assert_eq(report_bundle_kind_from_path("c.zip"), REPORT_BUNDLE_ZIP);
	cr_assert_eq(report_bundle_kind_from_path("c.tar"), 0);
	cr_assert_eq(report_bundle_kind_from_path(".zip"), 0);
}

static FILE *mem_file(const char *text)
{
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	fputs(text, f);
	return f;
}

struct probs {
	int n;
	char last[512];
};

static void on_prob(void *ctx, const char *member, const char *msg)
{
	struct probs *p = ctx;
	p->n++;
	snprintf(p->last, sizeof p->last, "%s: %s", member, msg);
}

static void write_bundle(const char *path, int kind)
{
	report_bundle_writer *w;
	report_bundle_meta m;
	report_bundle_chunk ch = { .id = 7, .segment = 1, .length = 100, .offset = 64, .packets = 2 };
	FILE *a = mem_file("pcap bytes"), *b = mem_file("flows\n");
	uint64_t size = 0;
	uint8_t sha[32];
	char err[256];

	cr_assert_eq(report_bundle_writer_open(path, kind, &w), 0);
	cr_assert_eq(report_bundle_writer_add(w, "packets.pcap", a, err, sizeof err), 0, "%s", err);
	cr_assert_eq(report_bundle_writer_add(w, "flows.log", b, err, sizeof err), 0, "%s", err);
	cr_assert_neq(report_bundle_writer_add(w, "../x", a, err, sizeof err), 0);
	memset(&m, 0, sizeof m);
	m.tool = "tapvault test";
	m.created_ns = 1764000000000000000ull;
	m.case_id = "K-1";
	m.note = "quote \" backslash \\ newline \n tab \t";
	strcpy(m.store_uuid, "00112233445566778899aabbccddeeff");
	m.query_text = "host 10.0.0.1";
	m.query_norm = "host 10.0.0.1";
	m.time_hi = UINT64_MAX;
	m.packets = 2;
	m.chunks = &ch;
	m.nchunks = 1;
	cr_assert_eq(report_bundle_writer_finish(w, &m, &size, sha, err, sizeof err), 0, "%s", err);
	cr_assert_gt(size, 0);
	fclose(a);
	fclose(b);
}

Test(bundle, write_verify_read)
{
	static const int kinds[] = { REPORT_BUNDLE_TAR_ZST, REPORT_BUNDLE_TAR_GZ, REPORT_BUNDLE_ZIP };
	static const char *const names[] = { "b.tar.zst", "b.tar.gz", "b.zip" };
	size_t i;

	for (i = 0; i < 3; i++) {
		char path[512], err[512], buf[64] = "";
		report_bundle_info *info = NULL;
		struct probs p = { 0, "" };
		uint64_t np = 9;
		FILE *f = NULL;

		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		write_bundle(path, kinds[i]);
		cr_assert_eq(report_bundle_writer_open(path, kinds[i], &(report_bundle_writer *){ NULL }),
		             EEXIST, "an existing bundle must not be overwritten");
		cr_assert_eq(report_bundle_verify(path, 0, on_prob, &p, &np, &info), 0, "%s", p.last);
		cr_assert_eq(np, 0);
		cr_assert_not_null(info);
		cr_assert(info->manifest_ok);
		cr_assert_eq(info->nfiles, 2);
		cr_assert_str_eq(info->meta.case_id, "K-1");
		cr_assert_str_eq(info->meta.note, "quote \" backslash \\ newline \n tab \t");
		cr_assert_str_eq(info->meta.store_uuid, "00112233445566778899aabbccddeeff");
		cr_assert_eq(info->meta.nchunks, 1);
		cr_assert_eq(info->meta.chunks[0].id, 7);
		cr_assert_eq(info->meta.time_hi, UINT64_MAX);
		report_bundle_info_free(info);

		cr_assert_eq(report_bundle_member_open(path, "packets.pcap", 0, &f, err, sizeof err), 0,
		             "%s", err);
		cr_assert_eq(fread(buf, 1, sizeof buf - 1, f), 10);
		cr_assert_str_eq(buf, "pcap bytes");
		fclose(f);
		cr_assert_eq(report_bundle_member_open(path, "nothing", 0, &f, err, sizeof err),
		             TV_E_NOTFOUND);
		/* a member limit below the member's size refuses the bundle */
		cr_assert_eq(report_bundle_member_open(path, "packets.pcap", 4, &f, err, sizeof err),
		             TV_E_FORMAT);
		cr_assert_null(f);
	}
}

Test(bundle, not_an_archive)
{
	char path[512];
	FILE *f;
	snprintf(path, sizeof path, "%s/x.zip", dir);
	f = fopen(path, "w");
	fputs("hello\n", f);
	fclose(f);
	cr_assert_eq(report_bundle_verify(path, 0, NULL, NULL, NULL, NULL), TV_E_FORMAT);
	snprintf(path, sizeof path, "%s/absent.zip", dir);
	cr_assert_eq(report_bundle_verify(path, 0, NULL, NULL, NULL, NULL), ENOENT);
}

static void add_entry(const char *who, uint64_t *seq)
{
	report_custody_entry e;
	char err[512], hash[65];
	memset(&e, 0, sizeof e);
	e.time_ns = 1764000000000000000ull;
	e.examiner = who;
	e.query = "host 10.0.0.1";
	e.bundle = "c.zip";
	e.note = "n\"o\nte";
	cr_assert_eq(report_custody_append(dir, &e, seq, hash, err, sizeof err), 0, "%s", err);
	cr_assert_eq(strlen(hash), 64);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 1 << 16);
	cr_assert_not_null(f);
	cr_assert_gt(fread(buf, 1, (1 << 16) - 1, f), 0);
	fclose(f);
	return buf;
}

static void write_all(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	fputs(text, f);
	fclose(f);
}

Test(bundle, custody_chain)
{
	char path[512], *orig, *t, *l2, *l3;
	struct probs p = { 0, "" };
	uint64_t seq = 0, n = 0, np = 0;

	cr_assert_eq(report_custody_verify(dir, NULL, on_prob, &p, &n, &np, NULL), 0);
	cr_assert_eq(n, 0);
	add_entry("ann", &seq);
	cr_assert_eq(seq, 1);
	add_entry("bob", &seq);
	add_entry("cy", &seq);
	cr_assert_eq(seq, 3);
	cr_assert_eq(report_custody_verify(dir, NULL, on_prob, &p, &n, &np, NULL), 0, "%s", p.last);
	cr_assert_eq(n, 3);

	snprintf(path, sizeof path, "%s/custody.log", dir);
	orig = read_all(path);
	/* altered entry 2 */
	t = strdup(orig);
	l2 = strstr(t, "\"bob\"");
	cr_assert_not_null(l2);
	l2[1] = 'B';
	write_all(path, t);
	p.n = 0;
	cr_assert_eq(report_custody_verify(dir, NULL, on_prob, &p, &n, &np, NULL), TV_E_CORRUPT);
	cr_assert_eq(np, 1);
	cr_assert(strstr(p.last, "line 2") && strstr(p.last, "altered"), "%s", p.last);
	cr_assert_eq(report_custody_append(dir, &(report_custody_entry){ .query = "x" }, NULL, NULL,
	                                   NULL, 0), TV_E_CORRUPT);
	free(t);
	/* entry 2 removed */
	t = strdup(orig);
	l2 = strchr(t, '\n') + 1;
	l3 = strchr(l2, '\n') + 1;
	memmove(l2, l3, strlen(l3) + 1);
	write_all(path, t);
	p.n = 0;
	cr_assert_eq(report_custody_verify(dir, NULL, on_prob, &p, &n, &np, NULL), TV_E_CORRUPT);
	cr_assert_eq(n, 2);
	cr_assert(strstr(p.last, "line 2"), "%s", p.last);
	free(t);
	/* a torn last line */
	t = strdup(orig);
	t[strlen(t) - 5] = '\0';
	write_all(path, t);
	cr_assert_eq(report_custody_verify(dir, NULL, NULL, NULL, &n, &np, NULL), TV_E_CORRUPT);
	free(t);
	write_all(path, orig);
	cr_assert_eq(report_custody_verify(dir, NULL, NULL, NULL, &n, &np, NULL), 0);
	free(orig);
}

/* ------------------------------------------------ a bundle tied to a store */

struct tie_probs {
	int n;
	char members[8][48];
	char last[512];
};

static void on_tie(void *ctx, const char *member, const char *msg)
{
	struct tie_probs *p = ctx;
	if (p->n < 8)
		snprintf(p->members[p->n], sizeof p->members[0], "%s", member);
	p->n++;
	snprintf(p->last, sizeof p->last, "%s", msg);
}

/* A chunk record of one packet at (seg, off), 1000 bytes long. */
static void tie_rec(crec2 *c, uint64_t id, uint32_t seg, uint64_t off)
{
	uint64_t t = 1764000000000000000ull + id;
	crec2_init(c, id, seg, off, 1000, t, t, 1);
	crec2_flow(c, 7, "10.0.0.1", "10.0.0.2", 17, 1000, 53, true);
}

static report_bundle_chunk tie_chunk(const crec2 *r)
{
	const idx2_chunk *m = &r->in.rec;
	report_bundle_chunk c;
	memset(&c, 0, sizeof c);
	c.id = m->chunk_id;
	c.segment = m->segment;
	c.offset = m->offset;
	c.length = m->length;
	memcpy(c.sha256, m->sha256, 32);
	return c;
}

Test(bundle, tie_chunks_to_the_store)
{
	static crec2 m[2];
	report_bundle_chunk ch[4];
	report_bundle_info info;
	struct tie_probs p;
	uint8_t uuid[16];
	uint64_t pruned = 9;
	idx_cfg cfg;
	idx *x = NULL;
	int i;

	tie_rec(&m[0], 1, 1, 64);
	tie_rec(&m[1], 2, 1, 1064);
	idx_cfg_default(&cfg);
	cfg.writable = true;
	cfg.map_size = (uint64_t)1 << 26;
	cr_assert_eq(idx_open(dir, &cfg, &x), 0);
	cr_assert_eq(crec2_commit(x, m, 2), 0);
	idx_store_uuid(x, uuid);
	memset(&info, 0, sizeof info);
	for (i = 0; i < 16; i++)
		snprintf(info.meta.store_uuid + 2 * i, 3, "%02x", uuid[i]);
	ch[0] = tie_chunk(&m[0]);
	ch[1] = tie_chunk(&m[1]);
	info.meta.chunks = ch;
	info.meta.nchunks = 2;

	/* the same chunks: nothing to say */
	memset(&p, 0, sizeof p);
	cr_assert_eq(report_bundle_tie_chunks(x, &info, "S", on_tie, &p, &pruned), 0, "%s", p.last);
	cr_assert_eq(p.n, 0);
	cr_assert_eq(pruned, 0);

	/* a chunk the store no longer holds is pruned, not a problem */
	ch[2] = tie_chunk(&m[1]);
	ch[2].id = 77;
	info.meta.nchunks = 3;
	cr_assert_eq(report_bundle_tie_chunks(x, &info, "S", on_tie, &p, &pruned), 0);
	cr_assert_eq(pruned, 1);

	/* another SHA-256, another offset: each named by its chunk */
	ch[0].sha256[5] ^= 1;
	ch[1].offset = 2000;
	cr_assert_eq(report_bundle_tie_chunks(x, &info, "S", on_tie, &p, &pruned), TV_E_CORRUPT);
	cr_assert_eq(p.n, 2);
	cr_assert_str_eq(p.members[0], "chunk 1");
	cr_assert_str_eq(p.members[1], "chunk 2");
	cr_assert(strstr(p.last, "offset 1064") && strstr(p.last, "offset 2000") &&
	          strstr(p.last, "SHA-256 equal"), "%s", p.last);

	/* another store: said once, about the manifest, and no chunk is looked at */
	memset(&p, 0, sizeof p);
	info.meta.store_uuid[0] = info.meta.store_uuid[0] == '0' ? '1' : '0';
	cr_assert_eq(report_bundle_tie_chunks(x, &info, "S", on_tie, &p, &pruned), TV_E_CORRUPT);
	cr_assert_eq(p.n, 1);
	cr_assert_str_eq(p.members[0], REPORT_BUNDLE_MANIFEST);
	cr_assert(strstr(p.last, "made from store") && strstr(p.last, "but S is store"), "%s", p.last);
	idx_close(x);
}

Test(bundle, custody_finds_the_exported_file)
{
	static const char body[] = "the bundle's bytes\n";
	report_custody_entry e;
	char path[512], other[512], err[512];
	uint8_t sha[32];
	tv_sha256_ctx h;
	uint64_t seq = 99;

	snprintf(path, sizeof path, "%s/c.zip", dir);
	snprintf(other, sizeof other, "%s/d.zip", dir);
	write_all(path, body);
	write_all(other, "something else\n");
	/* no log: no entry */
	cr_assert_eq(report_custody_find_bundle(dir, path, &seq), 0);
	cr_assert_eq(seq, 0);

	tv_sha256_init(&h);
	tv_sha256_update(&h, body, sizeof body - 1);
	tv_sha256_final(&h, sha);
	add_entry("ann", NULL);
	memset(&e, 0, sizeof e);
	e.query = "host 10.0.0.1";
	e.bundle = "c.zip";
	e.bundle_size = sizeof body - 1;
	memcpy(e.bundle_sha256, sha, 32);
	cr_assert_eq(report_custody_append(dir, &e, NULL, NULL, err, sizeof err), 0, "%s", err);
	add_entry("bob", NULL);

	cr_assert_eq(report_custody_find_bundle(dir, path, &seq), 0);
	cr_assert_eq(seq, 2);
	cr_assert_eq(report_custody_find_bundle(dir, other, &seq), 0);
	cr_assert_eq(seq, 0);
	snprintf(other, sizeof other, "%s/absent.zip", dir);
	cr_assert_eq(report_custody_find_bundle(dir, other, &seq), ENOENT);
}
