/*
 * test_prefix.c — the prefix hash of a capture file (ingest/prefix.c), in
 * the caller's thread and on its own thread: every digest equals the
 * SHA-256 of that many leading bytes, whatever the posts in between, after
 * the caller closed its descriptor, and across a restart; a post past the
 * end of the file or backwards fails, and the failure stays until a start.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../ingest/ingest.h"

#define FILE_LEN (3u * 1024 * 1024 + 77)

static uint8_t *data;

/* A temporary file of FILE_LEN pseudo-random bytes, already unlinked;
 * returns its descriptor. */
static int make_file(void)
{
	char path[] = "/tmp/tv-prefix-XXXXXX";
	uint32_t x = 12345;
	size_t i;
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	unlink(path);
	if (!data) {
		data = malloc(FILE_LEN);
		cr_assert_not_null(data);
		for (i = 0; i < FILE_LEN; i++) {
			x = x * 1103515245u + 12345u;
			data[i] = (uint8_t)(x >> 16);
		}
	}
	cr_assert_eq(write(fd, data, FILE_LEN), (ssize_t)FILE_LEN);
	return fd;
}

static void expect_prefix(ingest_prefix *p, uint64_t n)
{
	uint8_t want[32], got[32];
	tv_sha256(data, (size_t)n, want);
	cr_assert_eq(ingest_prefix_len(p), n);
	cr_assert_eq(ingest_prefix_digest(p, got), 0);
	cr_assert(memcmp(want, got, 32) == 0, "digest of the first %llu bytes",
	          (unsigned long long)n);
}

static void posts_and_digests(bool threaded)
{
	/* packet ends: small steps, repeats (two packets of one frame), a
	 * jump of more than the hasher's buffer, and the whole file */
	static const uint64_t at[] = { 0, 24, 24, 1538, 70000, 70000, 131072, 131073, 700001,
	                               700064, 2000000, 2000001, FILE_LEN - 1, FILE_LEN };
	ingest_prefix *p;
	size_t i, k;
	int fd = make_file();

	cr_assert_eq(ingest_prefix_new(threaded, &p), 0);
	cr_assert_eq(ingest_prefix_start(p, fd), 0);
	close(fd); /* the object reads its own duplicate */
	for (i = 0; i < sizeof at / sizeof at[0]; i++) {
		cr_assert_eq(ingest_prefix_post(p, at[i]), 0);
		if (i % 3 == 2)
			expect_prefix(p, at[i]);
	}
	expect_prefix(p, FILE_LEN);
	/* many small posts, a digest now and then (as chunks are handed off) */
	fd = make_file();
	cr_assert_eq(ingest_prefix_start(p, fd), 0);
	for (k = 0, i = 1; i <= 4000; i++) {
		k += 1 + (i * 7919u) % 1500u;
		cr_assert_eq(ingest_prefix_post(p, k), 0);
		if (i % 500 == 0)
			expect_prefix(p, k);
	}
	expect_prefix(p, k);
	/* a start while the hasher may still be at work: the old file is dropped */
	cr_assert_eq(ingest_prefix_post(p, FILE_LEN), 0);
	cr_assert_eq(ingest_prefix_start(p, fd), 0);
	expect_prefix(p, 0);
	cr_assert_eq(ingest_prefix_advance(p, 999999), 0);
	expect_prefix(p, 999999);
	close(fd);
	ingest_prefix_free(p);
}

Test(prefix, digests_in_the_callers_thread)
{
	posts_and_digests(false);
}

Test(prefix, digests_on_a_thread)
{
	posts_and_digests(true);
}

static void failures(bool threaded)
{
	ingest_prefix *p;
	uint8_t d[32];
	int fd = make_file();

	cr_assert_eq(ingest_prefix_new(threaded, &p), 0);
	cr_assert_eq(ingest_prefix_start(p, fd), 0);
	cr_assert_eq(ingest_prefix_post(p, 5000), 0);
	cr_assert_eq(ingest_prefix_post(p, 4999), TV_E_RANGE);
	/* past the end: the file was cut since it was read */
	cr_assert_eq(ingest_prefix_advance(p, FILE_LEN + 1), TV_E_TRUNCATED);
	cr_assert_eq(ingest_prefix_digest(p, d), TV_E_TRUNCATED);
	cr_assert_eq(ingest_prefix_post(p, FILE_LEN + 2), TV_E_TRUNCATED);
	/* a start clears it */
	cr_assert_eq(ingest_prefix_start(p, fd), 0);
	cr_assert_eq(ingest_prefix_advance(p, 100), 0);
	expect_prefix(p, 100);
	/* the digest of a post past the end fails, not the post (threaded) */
	cr_assert_eq(ingest_prefix_start(p, fd), 0);
	cr_assert_eq(ingest_prefix_post(p, 10), 0);
	ingest_prefix_post(p, (uint64_t)FILE_LEN + 4096);
	cr_assert_eq(ingest_prefix_digest(p, d), TV_E_TRUNCATED);
	/* no file */
	cr_assert_eq(ingest_prefix_start(p, -1), 0);
	expect_prefix(p, 0);
	ingest_prefix_post(p, 1);
	cr_assert_neq(ingest_prefix_digest(p, d), 0);
	close(fd);
	ingest_prefix_free(p);
}

Test(prefix, failures_in_the_callers_thread)
{
	failures(false);
}

Test(prefix, failures_on_a_thread)
{
	failures(true);
}
