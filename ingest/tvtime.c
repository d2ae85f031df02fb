/*
 * tvtime.c — time as tapvault keeps it: one unsigned 64-bit count of
 * nanoseconds since the Unix epoch (UTC), read from the clocks, parsed from
 * what people type (RFC 3339, unix seconds, "10m ago") and written as
 * RFC 3339 UTC.  Dates are proleptic Gregorian (no time zones, no leap
 * seconds), so no libc time zone state is read.
 */
#include "tv.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>


/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;
	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly n digits at s. */
static bool digits_n(const char *s, int n, unsigned *v)
{
	int i;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

/* "." and 1 to 9 digits -> ns; *s advanced.  No fraction is fine. */
static bool parse_frac(const char **s, uint64_t *ns)
{
	const char *p = *s;
	int n = 0;
	uint64_t v = 0;
	*ns = 0;
	if (*p != '.')
		return true;
	p++;
	while (is_digit(*p)) {
		if (++n > 9)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (n == 0)
		return false;
	while (n++ < 9)
		v *= 10;
	*ns = v;
	*s = p;
	return true;
}

static bool secs_to_ns(uint64_t secs, uint64_t frac, uint64_t *out)
{
	if (secs > (UINT64_MAX - frac) / TV_NS_PER_S)
		return false;
	*out = secs * TV_NS_PER_S + frac;
	return true;
}

/* RFC 3339 date-time: 2026-11-27T14:00:00[.f]Z or ...+01:00 */
static int parse_rfc3339(const char *s, uint64_t *out)
{
	unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	uint64_t frac;
	int64_t secs, off = 0;
	bool leap;

	if (!digits_n(s, 4, &y) || s[4] != '-' || !digits_n(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits_n(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits_n(s + 11, 2, &h) || s[13] != ':' || !digits_n(s + 14, 2, &mi) ||
	    s[16] != ':' || !digits_n(s + 17, 2, &sec))
		return TV_E_SYNTAX;
	s += 19;
	if (!parse_frac(&s, &frac))
		return TV_E_SYNTAX;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1;
		if (!digits_n(s + 1, 2, &oh) || s[3] != ':' || !digits_n(s + 4, 2, &om) || oh > 23 ||
		    om > 59)
			return TV_E_SYNTAX;
		off = sign * (int64_t)(oh * 3600 + om * 60);
		s += 6;
	} else {
		return TV_E_SYNTAX;
	}
	if (*s)
		return TV_E_SYNTAX;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 ||
	    mi > 59 || sec > 60) /* 60: a leap second, counted as the next minute's :00 */
		return TV_E_SYNTAX;
	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	if (secs < 0)
		return TV_E_RANGE;
	if (!secs_to_ns((uint64_t)secs, frac, out))
		return TV_E_RANGE;
	return 0;
}

static int unit_ns(const char *u, size_t n, uint64_t *ns)
{
	if (n != 1)
		return TV_E_SYNTAX;
	switch (u[0]) {
	case 's': *ns = TV_NS_PER_S; return 0;
	case 'm': *ns = 60 * TV_NS_PER_S; return 0;
	case 'h': *ns = 3600 * TV_NS_PER_S; return 0;
	case 'd': *ns = 86400 * TV_NS_PER_S; return 0;
	default: return TV_E_SYNTAX;
	}
}

int tv_time_parse(const char *s, uint64_t now_ns, uint64_t *out_ns)
{
	const char *p = s;
	uint64_t v = 0, frac;
	int n = 0;

	if (!s || !*s)
		return TV_E_SYNTAX;
	if (strlen(s) >= 10 && s[4] == '-')
		return parse_rfc3339(s, out_ns);

	while (is_digit(*p)) {
		if (++n > 19)
			return TV_E_RANGE;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (n == 0)
		return TV_E_SYNTAX;
	if (*p == '.' || *p == '\0') {
		/* unix seconds */
		if (!parse_frac(&p, &frac) || *p)
			return TV_E_SYNTAX;
		return secs_to_ns(v, frac, out_ns) ? 0 : TV_E_RANGE;
	}
	/* "N u ago" or "Nu ago" */
	{
		const char *u;
		size_t ul;
		uint64_t un;
		int rc;
		while (*p == ' ')
			p++;
		u = p;
		while (*p && *p != ' ')
			p++;
		ul = (size_t)(p - u);
		if ((rc = unit_ns(u, ul, &un)) != 0)
			return rc;
		while (*p == ' ')
			p++;
		if (strncasecmp(p, "ago", 3) != 0 || p[3] != '\0')
			return TV_E_SYNTAX;
		if (v > now_ns / un)
			return TV_E_RANGE;
		*out_ns = now_ns - v * un;
		return 0;
	}
}

void tv_time_format(uint64_t ns, char *buf, size_t cap)
{
	uint64_t secs = ns / TV_NS_PER_S;
	unsigned frac = (unsigned)(ns % TV_NS_PER_S), m, d;
	int64_t y, days = (int64_t)(secs / 86400);
	unsigned sod = (unsigned)(secs % 86400);
	if (cap == 0)
		return;
	civil_from_days(days, &y, &m, &d);
	snprintf(buf, cap, "%04lld-%02u-%02uT%02u:%02u:%02u.%09uZ", (long long)y, m, d, sod / 3600,
	         sod / 60 % 60, sod % 60, frac);
}


void tv_time_civil(uint64_t ns, tv_civil *c)
{
	uint64_t secs = ns / TV_NS_PER_S;
	unsigned sod = (unsigned)(secs % 86400);
	civil_from_days((int64_t)(secs / 86400), &c->year, &c->month, &c->day);
	c->hour = sod / 3600;
	c->min = sod / 60 % 60;
	c->sec = sod % 60;
	c->nsec = (unsigned)(ns % TV_NS_PER_S);
}

uint64_t tv_clock_real_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return t.tv_sec < 0 ? 0 : (uint64_t)t.tv_sec * TV_NS_PER_S + (uint64_t)t.tv_nsec;
}

uint64_t tv_clock_mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * TV_NS_PER_S + (uint64_t)t.tv_nsec;
}
