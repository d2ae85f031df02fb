/*
 * report_int.h — helpers shared by the files of report/ only.
 */
#ifndef REPORT_INT_H
#define REPORT_INT_H

#include <jansson.h>
#include <stddef.h>

/* Formats an error message into err (cap bytes); does nothing when err is
 * NULL or cap is 0.  Library code hands messages to cmd/, never prints. */
void report_seterr(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Limits on the tree jansson would build from a JSON file a user hands
 * over.  The defaults hold a real describe-network-interfaces output of
 * some ten thousand interfaces and a bundle manifest of a hundred thousand
 * source chunks, and keep the tree under about 150 MB.
 */
typedef struct report_json_limits {
	size_t max_depth;
	size_t max_values;   /* objects, arrays, strings (keys too), numbers, literals */
	size_t max_objects;
} report_json_limits;

#define REPORT_JSON_MAX_DEPTH 32
#define REPORT_JSON_MAX_VALUES 1000000
#define REPORT_JSON_MAX_OBJECTS 150000

/*
 * Parses text (len bytes, from the file called name) with
 * JSON_REJECT_DUPLICATES after checking it against lim (NULL: the
 * defaults) in a pass that allocates nothing.  Returns the root (the
 * caller's to json_decref), or NULL with err = "NAME: more than N JSON
 * values (at byte B): refused" or "NAME:LINE:COL: not valid JSON: ..." (a
 * duplicate key is such an error); *jerr is jansson's error (zeroed when
 * a limit refused the text).
 */
json_t *report_json_load(const char *text, size_t len, const report_json_limits *lim,
                         const char *name, json_error_t *jerr, char *err, size_t cap);

/* Bundles (bundle.c, bundle_write.c): the I/O buffer size; where the 64
 * hex digits of the manifest's self hash are in text (NULL when absent;
 * the last occurrence of the key, the writer puts it last); the SHA-256 of
 * text with those digits read as '0's. */
#define REPORT_IOBUF (64u << 10)
char *report_bundle_self_hash_find(char *text, size_t len);
void report_bundle_self_hash(const char *text, size_t len, const char *digits, unsigned char out[32]);

#endif
