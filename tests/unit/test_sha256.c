/*
 * test_sha256.c — SHA-256 against the FIPS 180-4 / NIST CSRC example
 * vectors, and incremental updates split at every offset.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../ingest/tv.h"

static void hex_of(const void *data, size_t n, char out[65])
{
	uint8_t d[32];
	tv_sha256(data, n, d);
	tv_sha256_hex(d, out);
}

Test(sha256, empty)
{
	char h[65];
	hex_of("", 0, h);
	cr_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(sha256, abc)
{
	char h[65];
	hex_of("abc", 3, h);
	cr_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(sha256, msg448)
{
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char h[65];
	cr_assert_eq(strlen(m), 56);
	hex_of(m, strlen(m), h);
	cr_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, msg896)
{
	const char *m = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	                "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	char h[65];
	cr_assert_eq(strlen(m), 112);
	hex_of(m, strlen(m), h);
	cr_assert_str_eq(h, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

Test(sha256, million_a)
{
	size_t n = 1000000;
	char *m = malloc(n);
	char h[65];
	uint8_t d[32];
	tv_sha256_ctx s;
	cr_assert_not_null(m);
	memset(m, 'a', n);
	hex_of(m, n, h);
	cr_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* The same in odd-sized pieces. */
	tv_sha256_init(&s);
	for (size_t off = 0; off < n;) {
		size_t k = n - off < 997 ? n - off : 997;
		tv_sha256_update(&s, m + off, k);
		off += k;
	}
	tv_sha256_final(&s, d);
	tv_sha256_hex(d, h);
	cr_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(m);
}

/* Padding edge cases: lengths 55, 56, 63, 64 straddle the length field. */
Test(sha256, padding_edges)
{
	static const struct {
		size_t n;
		const char *hex;
	} v[] = {
		{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
		{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
	};
	char m[64], h[65];
	memset(m, 'a', sizeof m);
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		hex_of(m, v[i].n, h);
		cr_assert_str_eq(h, v[i].hex, "length %zu", v[i].n);
	}
}

Test(sha256, split_every_offset)
{
	uint8_t msg[200], whole[32], part[32];
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)(i * 7 + 3);
	tv_sha256(msg, sizeof msg, whole);
	for (size_t a = 0; a <= 130; a++) {
		tv_sha256_ctx s;
		tv_sha256_init(&s);
		tv_sha256_update(&s, msg, a);
		tv_sha256_update(&s, msg + a, sizeof msg - a);
		tv_sha256_final(&s, part);
		cr_assert_arr_eq(whole, part, 32, "split at %zu", a);
		/* Three pieces, with an empty update in between. */
		for (size_t b = a; b <= 130; b += 13) {
			tv_sha256_init(&s);
			tv_sha256_update(&s, msg, a);
			tv_sha256_update(&s, msg + a, 0);
			tv_sha256_update(&s, msg + a, b - a);
			tv_sha256_update(&s, msg + b, sizeof msg - b);
			tv_sha256_final(&s, part);
			cr_assert_arr_eq(whole, part, 32, "split at %zu,%zu", a, b);
		}
	}
}

Test(sha256, hex_format)
{
	uint8_t d[32];
	char h[65];
	for (int i = 0; i < 32; i++)
		d[i] = (uint8_t)(i * 8 + 15);
	tv_sha256_hex(d, h);
	cr_assert_eq(strlen(h), 64);
	cr_assert_eq(strncmp(h, "0f171f", 6), 0);
}
