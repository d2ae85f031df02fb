/*
 * sha256.c — SHA-256 as specified in FIPS 180-4 (August 2015), §4.1.2,
 * §4.2.2, §5.1.1, §5.3.3 and §6.2.
 *
 * Written from the specification so that chunk hashes, bundle manifests and
 * custody records need no crypto library.  Whole 64-byte blocks are
 * compressed straight from the caller's buffer; only a partial block is
 * copied into ctx->buf.
 */
#include "tv.h"

#include <pthread.h>
#include <stdlib.h>

#include <string.h>

/* §4.2.2: the first 32 bits of the fractional parts of the cube roots of
 * the first 64 primes. */
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
/* §4.1.2 */
#define CH(x, y, z) (((x) & (y)) ^ (~(x) & (z)))
#define MAJ(x, y, z) (((x) & (y)) ^ ((x) & (z)) ^ ((y) & (z)))
#define BSIG0(x) (ROTR(x, 2) ^ ROTR(x, 13) ^ ROTR(x, 22))
#define BSIG1(x) (ROTR(x, 6) ^ ROTR(x, 11) ^ ROTR(x, 25))
#define SSIG0(x) (ROTR(x, 7) ^ ROTR(x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROTR(x, 17) ^ ROTR(x, 19) ^ ((x) >> 10))

/* §6.2.2: compresses nblocks consecutive 64-byte blocks into h. */
static void sha256_blocks_portable(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	uint32_t w[64];
	while (nblocks--) {
		uint32_t a, b, c, d, e, f, g, hh;
		int t;
		for (t = 0; t < 16; t++)
			w[t] = tv_get_be32(p + 4 * t);
		for (t = 16; t < 64; t++)
			w[t] = SSIG1(w[t - 2]) + w[t - 7] + SSIG0(w[t - 15]) + w[t - 16];
		a = h[0]; b = h[1]; c = h[2]; d = h[3];
		e = h[4]; f = h[5]; g = h[6]; hh = h[7];
		for (t = 0; t < 64; t++) {
			uint32_t t1 = hh + BSIG1(e) + CH(e, f, g) + K[t] + w[t];
			uint32_t t2 = BSIG0(a) + MAJ(a, b, c);
			hh = g; g = f; f = e; e = d + t1;
			d = c; c = b; b = a; a = t1 + t2;
		}
		h[0] += a; h[1] += b; h[2] += c; h[3] += d;
		h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
		p += 64;
	}
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/*
 * The same compression function with the x86 SHA extensions (SHA-NI),
 * used when the processor has them: several times faster, and the chunk
 * hash is most of ingest's CPU time without it.  State is kept in the
 * register order the instructions want: ABEF and CDGH.  Each
 * sha256rnds2 does two rounds; sha256msg1/msg2 extend the message
 * schedule four words at a time (Intel, "Intel SHA Extensions", 2013).
 */
#include <cpuid.h>
#include <immintrin.h>

#define SHA_NI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

SHA_NI_TARGET static void sha256_blocks_ni(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i st0, st1, tmp, msg, m[4], save0, save1;
	int g;

	tmp = _mm_loadu_si128((const __m128i *)(const void *)&h[0]); /* DCBA */
	st1 = _mm_loadu_si128((const __m128i *)(const void *)&h[4]); /* HGFE */
	tmp = _mm_shuffle_epi32(tmp, 0xB1);                          /* CDAB */
	st1 = _mm_shuffle_epi32(st1, 0x1B);                          /* EFGH */
	st0 = _mm_alignr_epi8(tmp, st1, 8);                          /* ABEF */
	st1 = _mm_blend_epi16(st1, tmp, 0xF0);                       /* CDGH */

	for (; nblocks > 0; nblocks--, p += 64) {
		save0 = st0;
		save1 = st1;
		/* unrolled whole: m[] stays in registers and the conditions
		 * below vanish (measured: 0.80 -> 1.23 GB/s on the dev VM) */
#pragma GCC unroll 16
		for (g = 0; g < 16; g++) {
			__m128i *cur = &m[g & 3], *prev = &m[(g + 3) & 3], *next = &m[(g + 1) & 3];
			if (g < 4)
				*cur = _mm_shuffle_epi8(
				        _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * g)), bswap);
			msg = _mm_add_epi32(*cur, _mm_loadu_si128((const __m128i *)(const void *)&K[4 * g]));
			st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
			if (g >= 3 && g <= 14) {
				tmp = _mm_alignr_epi8(*cur, *prev, 4);
				*next = _mm_add_epi32(*next, tmp);
				*next = _mm_sha256msg2_epu32(*next, *cur);
			}
			msg = _mm_shuffle_epi32(msg, 0x0E);
			st0 = _mm_sha256rnds2_epu32(st0, st1, msg);
			if (g >= 1 && g <= 12)
				*prev = _mm_sha256msg1_epu32(*prev, *cur);
		}
		st0 = _mm_add_epi32(st0, save0);
		st1 = _mm_add_epi32(st1, save1);
	}

	tmp = _mm_shuffle_epi32(st0, 0x1B);    /* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xB1);    /* DCHG */
	st0 = _mm_blend_epi16(tmp, st1, 0xF0); /* DCBA */
	st1 = _mm_alignr_epi8(st1, tmp, 8);    /* HGFE */
	_mm_storeu_si128((__m128i *)(void *)&h[0], st0);
	_mm_storeu_si128((__m128i *)(void *)&h[4], st1);
}

/* Probed once per process (sealers hash on several threads at once). */
static pthread_once_t sha_ni_once = PTHREAD_ONCE_INIT;
static int sha_ni_ok;

static void sha_ni_probe(void)
{
	unsigned a, b, c, d;
	int ok = 0;
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 19)) && (c & (1u << 9)) &&
	    __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)))
		ok = 1;
	if (getenv("TAPVAULT_NO_SHA_NI"))
		ok = 0; /* lets the tests check both paths */
	sha_ni_ok = ok;
}

static int sha_ni_usable(void)
{
	pthread_once(&sha_ni_once, sha_ni_probe);
	return sha_ni_ok;
}

static void sha256_blocks(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	if (sha_ni_usable())
		sha256_blocks_ni(h, p, nblocks);
	else
		sha256_blocks_portable(h, p, nblocks);
}
#else
static void sha256_blocks(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
	sha256_blocks_portable(h, p, nblocks);
}
#endif

void tv_sha256_init(tv_sha256_ctx *s)
{
	/* §5.3.3 */
	static const uint32_t h0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};
	memcpy(s->h, h0, sizeof h0);
	s->nbytes = 0;
	s->nbuf = 0;
}

void tv_sha256_update(tv_sha256_ctx *s, const void *data, size_t n)
{
	const uint8_t *p = data;
	s->nbytes += n;
	if (s->nbuf > 0) {
		size_t take = 64 - s->nbuf;
		if (take > n)
			take = n;
		memcpy(s->buf + s->nbuf, p, take);
		s->nbuf += take;
		p += take;
		n -= take;
		if (s->nbuf < 64)
			return;
		sha256_blocks(s->h, s->buf, 1);
		s->nbuf = 0;
	}
	if (n >= 64) {
		sha256_blocks(s->h, p, n / 64);
		p += n - n % 64;
		n %= 64;
	}
	if (n > 0) {
		memcpy(s->buf, p, n);
		s->nbuf = n;
	}
}

void tv_sha256_final(tv_sha256_ctx *s, uint8_t out[32])
{
	/* §5.1.1: a 1 bit, zeros to 56 mod 64, then the bit length big-endian. */
	uint64_t bits = s->nbytes * 8;
	int i;
	s->buf[s->nbuf++] = 0x80;
	if (s->nbuf > 56) {
		memset(s->buf + s->nbuf, 0, 64 - s->nbuf);
		sha256_blocks(s->h, s->buf, 1);
		s->nbuf = 0;
	}
	memset(s->buf + s->nbuf, 0, 56 - s->nbuf);
	tv_put_be64(s->buf + 56, bits);
	sha256_blocks(s->h, s->buf, 1);
	for (i = 0; i < 8; i++)
		tv_put_be32(out + 4 * i, s->h[i]);
	memset(s, 0, sizeof *s);
}

void tv_sha256(const void *data, size_t n, uint8_t out[32])
{
	tv_sha256_ctx s;
	tv_sha256_init(&s);
	tv_sha256_update(&s, data, n);
	tv_sha256_final(&s, out);
}

void tv_sha256_hex(const uint8_t d[32], char out[65])
{
	static const char hex[] = "0123456789abcdef";
	int i;
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
}
