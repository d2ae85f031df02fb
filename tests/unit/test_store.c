/*
 * test_store.c — segment files (store/FORMAT.md "Directory layout",
 * "Segment file", "Durability and recovery"): append, rotation, read,
 * the header and its version, the recovery scan at every cut point,
 * truncation, removal.  The chunks are real ones from store_packer (their
 * own tests are in test_chunk2.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "../../store/chunk2.h"

/* ----------------------------------------------------------- helpers */

static void make_tun(tv_tunmeta *t, int k)
{
	memset(t, 0, sizeof *t);
	t->vni = k == 0 ? TV_VNI_NONE : (uint32_t)(1000 + k);
	t->tunnel = (uint8_t)(k % 4);
	t->has_gwlb = (uint8_t)(k % 4 >= 2);
	uint8_t v4[4] = { 10, 0, (uint8_t)k, 1 };
	tv_addr_from_v4(&t->outer_src, v4);
	if (t->has_gwlb) {
		t->gwlb_endpoint = 0x0123456789abcdefull + (uint64_t)k;
		t->gwlb_attachment = 0xfedcba9876543210ull - (uint64_t)k;
		t->gwlb_cookie = 0xc0c0c0c0u + (uint32_t)k;
	}
}

/* Frame bytes of packet i: a pattern that depends on i. */
static void fill_frame(uint8_t *f, uint32_t caplen, uint32_t i)
{
	for (uint32_t j = 0; j < caplen; j++)
		f[j] = (uint8_t)(i * 31 + j * 7 + (j >> 8));
}

static void make_pkt(tv_pkt *p, uint8_t *frame, uint64_t ts, uint32_t caplen, uint32_t i, int ctx)
{
	memset(p, 0, sizeof *p);
	fill_frame(frame, caplen, i);
	p->ts_ns = ts;
	p->frame = frame;
	p->caplen = caplen;
	p->origlen = caplen + (i % 3 == 0 ? 100 : 0);
	p->synth_l2 = (uint8_t)(i % 5 == 1);
	p->decap_error = (uint8_t)(i % 7 == 2);
	make_tun(&p->tun, ctx);
}

/* Seals n simple packets (a flow per tunnel context) into a malloc'd
 * chunk. */
static uint8_t *build_simple(uint32_t n, uint64_t chunk_id, uint64_t ts0, size_t *len)
{
	store_packer *pk;
	uint8_t frame[600], key[STORE_V2_KEY_LEN];
	const uint8_t *c;
	cr_assert_eq(store_packer_new(NULL, &pk), 0);
	for (uint32_t i = 0; i < n; i++) {
		tv_pkt p;
		make_pkt(&p, frame, ts0 + i * 1000, 60 + (i * 37) % 500, i, (int)(i % 3));
		memset(key, 0, sizeof key);
		key[0] = (uint8_t)(i % 3);
		cr_assert_eq(store_packer_add(pk, &p, key, 0), 0);
	}
	cr_assert_eq(store_packer_seal(pk, chunk_id, &c, len, NULL), 0);
	uint8_t *copy = malloc(*len);
	memcpy(copy, c, *len);
	store_packer_free(pk);
	return copy;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static char *mktemp_dir(void)
{
	char *d = strdup("/tmp/tv-store-test-XXXXXX");
	cr_assert_not_null(mkdtemp(d));
	return d;
}

static const uint8_t UUID[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

/* ------------------------------------------------------------ segments */

static store_segs *segs_open(const char *dir, bool writable, uint64_t segsize)
{
	store_segs_cfg cfg;
	store_segs *s;
	store_segs_cfg_default(&cfg);
	cfg.writable = writable;
	cfg.segment_size = segsize;
	cr_assert_eq(store_segs_open(dir, UUID, &cfg, &s), 0);
	return s;
}

static void seg_path(char *out, size_t cap, const char *dir, uint32_t seg)
{
	snprintf(out, cap, "%s/segments/seg-%010u.tvs", dir, seg);
}

Test(segs, append_read_rotate)
{
	char *dir = mktemp_dir();
	store_segs *s = segs_open(dir, true, 2000);
	store_chunk *r;
	struct stat st;
	char path[512];
	uint32_t segs[12];
	uint64_t offs[12];
	size_t lens[12];
	uint8_t *chunks[12];

	cr_assert_eq(store_chunk_new(&r), 0);
	cr_assert_eq(stat(dir, &st), 0);
	snprintf(path, sizeof path, "%s/segments", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	cr_assert_eq(store_segs_newest(s), 0);

	for (int i = 0; i < 12; i++) {
		chunks[i] = build_simple(3 + (uint32_t)i, (uint64_t)i + 1, 1000 * (uint64_t)i, &lens[i]);
		cr_assert_eq(store_segs_append(s, chunks[i], lens[i], &segs[i], &offs[i]), 0);
		cr_assert_eq(store_segs_sync(s), 0);
	}
	/* Offsets and rotation: a new segment once the newest reached 2000. */
	uint32_t cur = 1;
	uint64_t pos = 64;
	for (int i = 0; i < 12; i++) {
		if (pos >= 2000) {
			cur++;
			pos = 64;
		}
		cr_assert_eq(segs[i], cur, "chunk %d", i);
		cr_assert_eq(offs[i], pos, "chunk %d", i);
		pos += lens[i];
	}
	cr_assert_gt(cur, 1);
	cr_assert_eq(store_segs_newest(s), cur);

	/* Files, modes, headers. */
	uint64_t total = 0, one;
	for (uint32_t g = 1; g <= cur; g++) {
		uint8_t h[64];
		seg_path(path, sizeof path, dir, g);
		cr_assert_eq(stat(path, &st), 0);
		cr_assert_eq(st.st_mode & 0777, 0600);
		total += (uint64_t)st.st_size;
		cr_assert_eq(store_segs_size(s, g, &one), 0);
		cr_assert_eq(one, (uint64_t)st.st_size);
		FILE *f = fopen(path, "rb");
		cr_assert_eq(fread(h, 1, 64, f), 64);
		fclose(f);
		cr_assert_eq(memcmp(h, "TVSEGMT1", 8), 0);
		cr_assert_eq(tv_get_le16(h + 8), 3);
		cr_assert_eq(tv_get_le16(h + 10), 0);
		cr_assert_eq(tv_get_le32(h + 12), g);
		cr_assert_arr_eq(h + 16, UUID, 16);
		cr_assert_gt(tv_get_le64(h + 32), 1600000000000000000ull);
		for (int j = 40; j < 64; j++)
			cr_assert_eq(h[j], 0);
	}
	cr_assert_eq(store_segs_size(s, 0, &one), 0);
	cr_assert_eq(one, total);

	uint32_t *ids;
	size_t n;
	cr_assert_eq(store_segs_list(s, &ids, &n), 0);
	cr_assert_eq(n, cur);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(ids[i], i + 1);
	free(ids);

	/* Read back through a read-only handle and the writer. */
	store_segs *ro = segs_open(dir, false, 0);
	for (int i = 0; i < 12; i++) {
		uint8_t *buf = malloc(lens[i]);
		cr_assert_eq(store_segs_read(s, segs[i], offs[i], (uint32_t)lens[i], buf), 0);
		cr_assert_eq(memcmp(buf, chunks[i], lens[i]), 0);
		cr_assert_eq(store_segs_read(ro, segs[i], offs[i], (uint32_t)lens[i], buf), 0);
		cr_assert_eq(memcmp(buf, chunks[i], lens[i]), 0);
		cr_assert_eq(store_chunk_load(r, buf, lens[i], STORE_LOAD_HASH, NULL), 0);
		free(buf);
	}
	uint8_t tmp[100];
	cr_assert_eq(store_segs_read(ro, cur, 1u << 20, 10, tmp), TV_E_TRUNCATED);
	cr_assert_eq(store_segs_read(ro, cur + 5, 64, 10, tmp), ENOENT);
	cr_assert_eq(store_segs_append(ro, chunks[0], lens[0], &segs[0], &offs[0]), EROFS);
	cr_assert_eq(store_segs_truncate(ro, 1, 64), EROFS);
	cr_assert_eq(store_segs_remove(ro, 1), EROFS);
	store_segs_close(ro);

	/* Reopening appends after the end of the newest segment. */
	store_segs_close(s);
	s = segs_open(dir, true, 1u << 20);
	uint32_t sg;
	uint64_t off;
	cr_assert_eq(store_segs_append(s, chunks[0], lens[0], &sg, &off), 0);
	cr_assert_eq(sg, cur);
	cr_assert_eq(off, pos);
	store_segs_close(s);

	/* Another store's uuid. */
	store_segs_cfg cfg;
	store_segs_cfg_default(&cfg);
	uint8_t other[16] = { 9 };
	cr_assert_eq(store_segs_open(dir, other, &cfg, &s), TV_E_CORRUPT);
	cfg.writable = true;
	cr_assert_eq(store_segs_open(dir, other, &cfg, &s), TV_E_CORRUPT);

	for (int i = 0; i < 12; i++)
		free(chunks[i]);
	store_chunk_free(r);
	rm_rf(dir);
	free(dir);
}

Test(segs, readonly_creates_nothing)
{
	char *dir = mktemp_dir();
	char path[512];
	struct stat st;
	store_segs *s;
	store_segs_cfg cfg;
	uint32_t *ids;
	size_t n;
	uint64_t sz;

	s = segs_open(dir, false, 0);
	snprintf(path, sizeof path, "%s/segments", dir);
	cr_assert_eq(stat(path, &st), -1);
	cr_assert_eq(store_segs_newest(s), 0);
	cr_assert_eq(store_segs_list(s, &ids, &n), 0);
	cr_assert_eq(n, 0);
	free(ids);
	cr_assert_eq(store_segs_size(s, 0, &sz), 0);
	cr_assert_eq(sz, 0);
	store_segs_close(s);
	cr_assert_eq(stat(path, &st), -1);

	store_segs_cfg_default(&cfg);
	snprintf(path, sizeof path, "%s/nope", dir);
	cr_assert_eq(store_segs_open(path, UUID, &cfg, &s), ENOENT);
	cfg.writable = true;
	cr_assert_eq(store_segs_open(path, UUID, &cfg, &s), ENOENT);
	rm_rf(dir);
	free(dir);
}

Test(segs, short_newest_segment)
{
	char *dir = mktemp_dir();
	char path[512];
	struct stat st;
	store_segs *s;
	size_t len;
	uint8_t *c = build_simple(4, 1, 0, &len);
	uint32_t sg;
	uint64_t off, ve, torn;

	s = segs_open(dir, true, 1u << 20);
	cr_assert_eq(store_segs_append(s, c, len, &sg, &off), 0);
	store_segs_close(s);
	/* A crash right after creating segment 2: 10 bytes of header. */
	seg_path(path, sizeof path, dir, 2);
	FILE *f = fopen(path, "wb");
	fwrite("TVSEGMT1\x02\x00", 1, 10, f);
	fclose(f);

	s = segs_open(dir, false, 0);
	cr_assert_eq(store_segs_newest(s), 2);
	cr_assert_eq(store_segs_scan(s, 2, 0, NULL, NULL, &ve, &torn), 0);
	cr_assert_eq(ve, 0);
	cr_assert_eq(torn, 10);
	store_segs_close(s);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 10); /* read-only changed nothing */

	s = segs_open(dir, true, 1u << 20);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 64);
	cr_assert_eq(store_segs_append(s, c, len, &sg, &off), 0);
	cr_assert_eq(sg, 2);
	cr_assert_eq(off, 64);
	store_segs_close(s);

	/* A segment of a newer format version is refused, and one of format
	 * 1 or 2 (earlier builds), whose chunks this build does not read. */
	seg_path(path, sizeof path, dir, 2);
	int fd = open(path, O_WRONLY);
	store_segs_cfg cfg;
	store_segs_cfg_default(&cfg);
	cr_assert_eq(cfg.version, 3);
	for (uint8_t v = 1; v <= 4; v += v == 2 ? 2 : 1) {
		uint8_t le[2] = { v, 0 };
		cr_assert_eq(pwrite(fd, le, 2, 8), 2);
		cr_assert_eq(store_segs_open(dir, UUID, &cfg, &s), TV_E_VERSION, "version %u", v);
	}
	close(fd);
	cfg.version = 2; /* no handle of another version either */
	cr_assert_eq(store_segs_open(dir, UUID, &cfg, &s), TV_E_RANGE);
	free(c);
	rm_rf(dir);
	free(dir);
}

typedef struct seen {
	int n;
	uint64_t offs[64];
	uint64_t ids[64];
	int stop_at; /* return 77 at this index; -1 never */
} seen;

static int scan_cb(void *ctx, const store_chunk_meta *m, const uint8_t *chunk, size_t len)
{
	seen *sn = ctx;
	cr_assert_eq(m->length, len);
	cr_assert_eq(memcmp(chunk, "TVCHUNK1", 8), 0);
	if (sn->n == sn->stop_at)
		return 77;
	sn->offs[sn->n] = m->offset;
	sn->ids[sn->n] = m->chunk_id;
	sn->n++;
	return 0;
}

Test(segs, scan_torn_tail_everywhere)
{
	enum { NC = 6 };
	char *dir = mktemp_dir();
	char path[512];
	store_segs *s = segs_open(dir, true, 1u << 30);
	uint64_t ends[NC], starts[NC];
	uint32_t sg;
	uint8_t *whole;
	size_t total;

	for (int i = 0; i < NC; i++) {
		size_t len;
		uint8_t *c = build_simple(2 + (uint32_t)i, 100 + (uint64_t)i, 0, &len);
		cr_assert_eq(store_segs_append(s, c, len, &sg, &starts[i]), 0);
		ends[i] = starts[i] + len;
		free(c);
	}
	cr_assert_eq(store_segs_sync(s), 0);
	store_segs_close(s);
	total = ends[NC - 1];
	seg_path(path, sizeof path, dir, 1);
	whole = malloc(total + 1000);
	FILE *f = fopen(path, "rb");
	cr_assert_eq(fread(whole, 1, total, f), total);
	fclose(f);

	/* Every cut point from the header on. */
	for (size_t cut = 64; cut <= total; cut++) {
		seen sn = { .stop_at = -1 };
		uint64_t ve, torn;
		int good = 0;
		f = fopen(path, "wb");
		fwrite(whole, 1, cut, f);
		fclose(f);
		s = segs_open(dir, false, 0);
		cr_assert_eq(store_segs_scan(s, 1, 0, scan_cb, &sn, &ve, &torn), 0);
		while (good < NC && ends[good] <= cut)
			good++;
		cr_assert_eq(sn.n, good, "cut %zu", cut);
		for (int i = 0; i < good; i++) {
			cr_assert_eq(sn.offs[i], starts[i]);
			cr_assert_eq(sn.ids[i], 100 + (uint64_t)i);
		}
		cr_assert_eq(ve, good ? ends[good - 1] : 64, "cut %zu", cut);
		cr_assert_eq(ve + torn, cut, "cut %zu", cut);
		store_segs_close(s);
	}

	/* Zeros after the last chunk (a torn append on some file systems). */
	memset(whole + total, 0, 1000);
	f = fopen(path, "wb");
	fwrite(whole, 1, total + 1000, f);
	fclose(f);
	s = segs_open(dir, false, 0);
	{
		seen sn = { .stop_at = -1 };
		uint64_t ve, torn;
		cr_assert_eq(store_segs_scan(s, 1, starts[2], scan_cb, &sn, &ve, &torn), 0);
		cr_assert_eq(sn.n, NC - 2);
		cr_assert_eq(sn.offs[0], starts[2]);
		cr_assert_eq(ve, total);
		cr_assert_eq(torn, 1000);
		/* The callback stops the scan. */
		seen st2 = { .stop_at = 3 };
		cr_assert_eq(store_segs_scan(s, 1, 0, scan_cb, &st2, &ve, &torn), 77);
		cr_assert_eq(st2.n, 3);
		cr_assert_eq(ve, starts[3]);
		/* Past the end of the file. */
		cr_assert_eq(store_segs_scan(s, 1, total + 5000, scan_cb, &sn, &ve, &torn), TV_E_TRUNCATED);
	}
	store_segs_close(s);

	/* A damaged byte in chunk 3 (its header, under the CRC): the scan
	 * stops before it. */
	whole[starts[3] + 120] ^= 0x40;
	f = fopen(path, "wb");
	fwrite(whole, 1, total, f);
	fclose(f);
	whole[starts[3] + 120] ^= 0x40;
	s = segs_open(dir, true, 1u << 30);
	{
		seen sn = { .stop_at = -1 };
		uint64_t ve, torn, off, sz;
		cr_assert_eq(store_segs_scan(s, 1, 0, scan_cb, &sn, &ve, &torn), 0);
		cr_assert_eq(sn.n, 3);
		cr_assert_eq(ve, starts[3]);
		cr_assert_eq(torn, total - starts[3]);

		/* Recovery: cut the torn tail, then append goes right there. */
		cr_assert_eq(store_segs_truncate(s, 1, 10), TV_E_RANGE);
		cr_assert_eq(store_segs_truncate(s, 1, total + 1), TV_E_RANGE);
		cr_assert_eq(store_segs_truncate(s, 1, ve), 0);
		cr_assert_eq(store_segs_size(s, 1, &sz), 0);
		cr_assert_eq(sz, ve);
		cr_assert_eq(store_segs_append(s, whole + starts[3], ends[3] - starts[3], &sg, &off), 0);
		cr_assert_eq(sg, 1);
		cr_assert_eq(off, starts[3]);
		seen s2 = { .stop_at = -1 };
		cr_assert_eq(store_segs_scan(s, 1, 0, scan_cb, &s2, &ve, &torn), 0);
		cr_assert_eq(s2.n, 4);
		cr_assert_eq(ve, ends[3]);
		cr_assert_eq(torn, 0);
	}
	store_segs_close(s);
	free(whole);
	rm_rf(dir);
	free(dir);
}

Test(segs, remove_and_never_reuse)
{
	char *dir = mktemp_dir();
	char path[512];
	struct stat st;
	store_segs *s = segs_open(dir, true, 100); /* every chunk in its own segment */
	size_t len;
	uint8_t *c = build_simple(3, 1, 0, &len);
	uint32_t sg, *ids;
	uint64_t off;
	size_t n;
	uint8_t buf[16];

	for (int i = 0; i < 4; i++) {
		cr_assert_eq(store_segs_append(s, c, len, &sg, &off), 0);
		cr_assert_eq(sg, (uint32_t)i + 1);
	}
	cr_assert_eq(store_segs_read(s, 1, 64, 16, buf), 0); /* caches a descriptor */
	cr_assert_eq(store_segs_remove(s, 1), 0);
	seg_path(path, sizeof path, dir, 1);
	cr_assert_eq(stat(path, &st), -1);
	cr_assert_eq(store_segs_read(s, 1, 64, 16, buf), ENOENT);
	cr_assert_eq(store_segs_remove(s, 1), ENOENT);
	cr_assert_eq(store_segs_list(s, &ids, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(ids[0], 2);
	free(ids);

	/* Removing the write segment: the next append starts a new number. */
	cr_assert_eq(store_segs_remove(s, 4), 0);
	cr_assert_eq(store_segs_newest(s), 3);
	cr_assert_eq(store_segs_append(s, c, len, &sg, &off), 0);
	cr_assert_eq(sg, 5);
	cr_assert_eq(off, 64);
	cr_assert_eq(store_segs_newest(s), 5);
	store_segs_close(s);

	/* Stray names are ignored. */
	snprintf(path, sizeof path, "%s/segments/seg-12.tvs", dir);
	fclose(fopen(path, "wb"));
	snprintf(path, sizeof path, "%s/segments/seg-9999999999.tvs", dir);
	fclose(fopen(path, "wb"));
	s = segs_open(dir, false, 0);
	cr_assert_eq(store_segs_list(s, &ids, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(ids[2], 5);
	free(ids);
	store_segs_close(s);
	free(c);
	rm_rf(dir);
	free(dir);
}
