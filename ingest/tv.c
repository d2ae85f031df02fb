/*
 * tv.c — error strings, addresses and counter names shared by all modules.
 */
#include "tv.h"

#include <sys/random.h>
#include <signal.h>

#include <arpa/inet.h>
#include <string.h>

static const char *const tv_errs[] = {
	[TV_E_FORMAT - TV_E_FORMAT] = "input is not in the expected format",
	[TV_E_TRUNCATED - TV_E_FORMAT] = "input ends before a complete record",
	[TV_E_CORRUPT - TV_E_FORMAT] = "stored data is corrupt",
	[TV_E_VERSION - TV_E_FORMAT] = "written by a format version this build cannot read",
	[TV_E_NOMEM - TV_E_FORMAT] = "out of memory or over a memory cap",
	[TV_E_SYNTAX - TV_E_FORMAT] = "syntax error",
	[TV_E_NOTFOUND - TV_E_FORMAT] = "not found",
	[TV_E_LMDB - TV_E_FORMAT] = "LMDB index error",
	[TV_E_ZSTD - TV_E_FORMAT] = "zstd error",
	[TV_E_HASH - TV_E_FORMAT] = "SHA-256 does not match",
	[TV_E_FULL - TV_E_FORMAT] = "size limit reached",
	[TV_E_RANGE - TV_E_FORMAT] = "value out of range",
	[TV_E_LOCKED - TV_E_FORMAT] = "store is in use by another process",
	[TV_E_EXISTS - TV_E_FORMAT] = "already exists",
	[TV_E_PCAP - TV_E_FORMAT] = "libpcap error",
	[TV_E_IO - TV_E_FORMAT] = "short read or write",
	[TV_E_UNSUPPORTED - TV_E_FORMAT] = "not supported",
	[TV_E_SYMLINK - TV_E_FORMAT] = "is a symbolic link (not followed)",
	[TV_E_NOTREG - TV_E_FORMAT] = "exists and is not a regular file",
};

const char *tv_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err > 0)
		return strerror(err);
	if (err >= TV_E_FORMAT && err < TV_E__END && tv_errs[err - TV_E_FORMAT])
		return tv_errs[err - TV_E_FORMAT];
	return "unknown error";
}

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool tv_addr_is_v4(const tv_addr *a)
{
	return memcmp(a->b, v4_mapped, 12) == 0;
}

void tv_addr_from_v4(tv_addr *a, const uint8_t v4[4])
{
	memcpy(a->b, v4_mapped, 12);
	memcpy(a->b + 12, v4, 4);
}

void tv_addr_from_v6(tv_addr *a, const uint8_t v6[16])
{
	memcpy(a->b, v6, 16);
}

int tv_addr_parse(const char *s, tv_addr *out)
{
	uint8_t buf[16];
	if (strchr(s, ':') == NULL) {
		if (inet_pton(AF_INET, s, buf) != 1)
			return TV_E_SYNTAX;
		tv_addr_from_v4(out, buf);
		return 0;
	}
	if (inet_pton(AF_INET6, s, buf) != 1)
		return TV_E_SYNTAX;
	tv_addr_from_v6(out, buf);
	return 0;
}

void tv_addr_format(const tv_addr *a, char *buf, size_t cap)
{
	const char *r;
	if (cap == 0)
		return;
	if (tv_addr_is_v4(a))
		r = inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)cap);
	else
		r = inet_ntop(AF_INET6, a->b, buf, (socklen_t)cap);
	if (!r)
		buf[0] = '\0';
}

static const char *const tv_ctr_names[] = {
#define TV_CTR_NAME(id, name) name,
	TV_COUNTERS(TV_CTR_NAME)
#undef TV_CTR_NAME
};

const char *tv_counter_name(int i)
{
	if (i < 0 || i >= TV_CTR__COUNT)
		return NULL;
	return tv_ctr_names[i];
}

int tv_counter_find(const char *name)
{
	int i;
	for (i = 0; i < TV_CTR__COUNT; i++)
		if (strcmp(tv_ctr_names[i], name) == 0)
			return i;
	return -1;
}

uint64_t tv_hash_seed(void)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof s, GRND_NONBLOCK) == (ssize_t)sizeof s && s != 0)
		return s;
	/* no entropy yet: still spreads keys, and the seed only guards the
	 * tables against crafted collisions */
	s = tv_clock_mono_ns() * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&s;
	return s ? s : 1;
}

int tv_thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
