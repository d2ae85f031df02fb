/*
 * test_crc32c.c — CRC-32C against the check value and the RFC 3720
 * appendix B.4 vectors, and against a bitwise implementation written here
 * from the definition, at every alignment and many lengths, whole and
 * continued with tv_crc32c_extend.  `make unit` runs this file twice: as
 * is (the SSE4.2 path on a processor that has it) and with
 * TAPVAULT_NO_SSE42=1 (the table path).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../ingest/tv.h"

static uint32_t ref_crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

Test(crc32c, path_follows_environment)
{
	if (getenv("TAPVAULT_NO_SSE42"))
		cr_assert(!tv_crc32c_hw(), "TAPVAULT_NO_SSE42 set but the SSE4.2 path is in use");
	else
		cr_log_info("crc32c: %s path", tv_crc32c_hw() ? "SSE4.2" : "table");
}

Test(crc32c, check_value)
{
	cr_assert_eq(tv_crc32c("123456789", 9), 0xE3069283u);
	cr_assert_eq(tv_crc32c("", 0), 0u);
	cr_assert_eq(tv_crc32c(NULL, 0), 0u);
}

Test(crc32c, rfc3720_vectors)
{
	uint8_t b[48];
	memset(b, 0, 32);
	cr_assert_eq(tv_crc32c(b, 32), 0x8A9136AAu);
	memset(b, 0xff, 32);
	cr_assert_eq(tv_crc32c(b, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	cr_assert_eq(tv_crc32c(b, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	cr_assert_eq(tv_crc32c(b, 32), 0x113FDB5Cu);
	/* the iSCSI read command PDU of B.4 */
	static const uint8_t pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	cr_assert_eq(tv_crc32c(pdu, sizeof pdu), 0xD9963A56u);
}

Test(crc32c, matches_bitwise_at_every_alignment)
{
	enum { N = 1200 };
	uint8_t *buf = malloc(N + 16);
	uint32_t x = 12345;
	cr_assert_not_null(buf);
	for (size_t i = 0; i < N + 16; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t align = 0; align < 8; align++)
		for (size_t n = 0; n < N; n += (n < 80 ? 1 : 37)) {
			const uint8_t *p = buf + align;
			uint32_t want = ref_crc32c(p, n);
			cr_assert_eq(tv_crc32c(p, n), want, "align %zu len %zu", align, n);
			/* split anywhere: continuing gives the same value */
			for (size_t cut = 0; cut <= n; cut += (n / 5 + 1)) {
				uint32_t c = tv_crc32c(p, cut);
				c = tv_crc32c_extend(c, p + cut, n - cut);
				cr_assert_eq(c, want, "align %zu len %zu cut %zu", align, n, cut);
			}
			cr_assert_eq(tv_crc32c_extend(0, p, n), want);
		}
	free(buf);
}

Test(crc32c, one_bit_flip_changes_it)
{
	uint8_t b[256];
	for (int i = 0; i < 256; i++)
		b[i] = (uint8_t)(i * 7);
	uint32_t c0 = tv_crc32c(b, sizeof b);
	for (int bit = 0; bit < 256 * 8; bit += 13) {
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_neq(tv_crc32c(b, sizeof b), c0, "bit %d", bit);
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}
