/*
 * crc32c.c — CRC-32C (Castagnoli), the checksum of iSCSI (RFC 3720 §12.1,
 * test vectors in appendix B.4) and ext4: reflected polynomial 0x82F63B78,
 * initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF.
 *
 * Every read of a stored block checks one, so it has to cost next to
 * nothing: on x86-64 with SSE4.2 the crc32 instruction does 8 bytes per
 * step (Intel SDM vol. 2A, "CRC32"; it computes exactly this polynomial);
 * elsewhere, or with TAPVAULT_NO_SSE42 set in the environment (so that the
 * tests can check both paths), tables do 8 bytes per step ("slicing-by-8",
 * Kounavis and Berry, Intel, 2008).
 */
#include "tv.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u

/* tab[0] is the classic byte table; tab[k][b] is the CRC of byte b
 * followed by k zero bytes, so eight lookups advance over eight bytes. */
static uint32_t tab[8][256];
static bool use_hw;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <nmmintrin.h>

static bool cpu_has_sse42(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 20));
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t c64;
	while (n > 0 && ((uintptr_t)p & 7) != 0) {
		c = _mm_crc32_u8(c, *p++);
		n--;
	}
	c64 = c;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c64 = _mm_crc32_u64(c64, w);
		p += 8;
		n -= 8;
	}
	c = (uint32_t)c64;
	while (n-- > 0)
		c = _mm_crc32_u8(c, *p++);
	return c;
}
#else
static bool cpu_has_sse42(void)
{
	return false;
}

static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
	(void)p;
	(void)n;
	return c;
}
#endif

static void crc_init(void)
{
	uint32_t i;
	int k;
	for (i = 0; i < 256; i++) {
		uint32_t c = i;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1u)));
		tab[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			tab[k][i] = (tab[k - 1][i] >> 8) ^ tab[0][tab[k - 1][i] & 0xff];
	use_hw = cpu_has_sse42() && getenv("TAPVAULT_NO_SSE42") == NULL;
}

/* c is the running register (already inverted). */
static uint32_t crc_sw(uint32_t c, const uint8_t *p, size_t n)
{
	while (n > 0 && ((uintptr_t)p & 7) != 0) {
		c = tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
		n--;
	}
	while (n >= 8) {
		uint32_t lo = c ^ tv_get_le32(p), hi = tv_get_le32(p + 4);
		c = tab[7][lo & 0xff] ^ tab[6][(lo >> 8) & 0xff] ^ tab[5][(lo >> 16) & 0xff] ^
		    tab[4][lo >> 24] ^ tab[3][hi & 0xff] ^ tab[2][(hi >> 8) & 0xff] ^
		    tab[1][(hi >> 16) & 0xff] ^ tab[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

uint32_t tv_crc32c_extend(uint32_t crc, const void *data, size_t n)
{
	uint32_t c = ~crc;
	pthread_once(&init_once, crc_init);
	c = use_hw ? crc_hw(c, data, n) : crc_sw(c, data, n);
	return ~c;
}

uint32_t tv_crc32c(const void *data, size_t n)
{
	return tv_crc32c_extend(0, data, n);
}

bool tv_crc32c_hw(void)
{
	pthread_once(&init_once, crc_init);
	return use_hw;
}
