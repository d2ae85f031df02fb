/*
 * report_int.h — helpers shared by the files of report/ only.
 */
#ifndef REPORT_INT_H
#define REPORT_INT_H

#include <stddef.h>

/* Formats an error message into err (cap bytes); does nothing when err is
 * NULL or cap is 0.  Library code hands messages to cmd/, never prints. */
void report_seterr(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
