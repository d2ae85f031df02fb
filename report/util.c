/*
 * util.c — small helpers shared by report/ (report_int.h).
 */
#include "report_int.h"

#include <stdarg.h>
#include <stdio.h>

void report_seterr(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	if (!err || !cap)
		return;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}
