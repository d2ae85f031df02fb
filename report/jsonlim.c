/*
 * jsonlim.c — JSON from files a user hands over (bundle manifests, VNI
 * maps, mirror filters and sessions), parsed with jansson within bounds.
 *
 * jansson builds the whole tree, and a small text makes a large tree: an
 * empty object "{}" costs 3 bytes of text and about 230 bytes of memory, so
 * 60 MiB of them take 4.8 GB.  Before json_loadb() one pass over the text,
 * with no memory of its own, counts what the tree would hold (RFC 8259
 * grammar: values, object members, nesting) and refuses a text past the
 * limits, naming the byte offset where a limit was passed.
 */
#include "report_int.h"
#include "flowlog.h"

#include <stdbool.h>
#include <string.h>

/*
 * Counts values (every object, array, string, number and literal; an
 * object key is a string and counts too), objects and the nesting depth.
 * Malformed text is not judged here: jansson reports it with its line.
 * Returns 0, or TV_E_RANGE with err set.
 */
static int prescan(const char *t, size_t len, const report_json_limits *lim, const char *name,
                   char *err, size_t cap)
{
	size_t i, values = 0, objects = 0, depth = 0;
	bool in_str = false, esc = false, in_tok = false;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"' || c == '{' || c == '[') {
			in_tok = false;
			if (++values > lim->max_values) {
				report_seterr(err, cap, "%s: more than %zu JSON values (at byte %zu): refused; "
				                        "far more than such a file holds",
				              name, lim->max_values, i);
				return TV_E_RANGE;
			}
			if (c == '"') {
				in_str = true;
				continue;
			}
			if (c == '{' && ++objects > lim->max_objects) {
				report_seterr(err, cap, "%s: more than %zu JSON objects (at byte %zu): refused; "
				                        "far more than such a file holds",
				              name, lim->max_objects, i);
				return TV_E_RANGE;
			}
			if (++depth > lim->max_depth) {
				report_seterr(err, cap, "%s: JSON nested deeper than %zu levels (at byte %zu): "
				                        "refused",
				              name, lim->max_depth, i);
				return TV_E_RANGE;
			}
			continue;
		}
		if (c == '}' || c == ']') {
			if (depth > 0)
				depth--;
			in_tok = false;
			continue;
		}
		/* numbers and true/false/null: one value per run of such bytes */
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '+' || c == '.' ||
		    (c >= 'A' && c <= 'Z')) {
			if (!in_tok && ++values > lim->max_values) {
				report_seterr(err, cap, "%s: more than %zu JSON values (at byte %zu): refused; "
				                        "far more than such a file holds",
				              name, lim->max_values, i);
				return TV_E_RANGE;
			}
			in_tok = true;
			continue;
		}
		in_tok = false;
	}
	return 0;
}

json_t *report_json_load(const char *text, size_t len, const report_json_limits *lim,
                         const char *name, json_error_t *jerr, char *err, size_t cap)
{
	static const report_json_limits dflt = { REPORT_JSON_MAX_DEPTH, REPORT_JSON_MAX_VALUES,
		                                     REPORT_JSON_MAX_OBJECTS };
	json_t *root;

	if (!lim)
		lim = &dflt;
	memset(jerr, 0, sizeof *jerr);
	if (prescan(text, len, lim, name, err, cap) != 0)
		return NULL;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, jerr);
	if (!root)
		report_seterr(err, cap, "%s:%d:%d: not valid JSON: %s", name, jerr->line, jerr->column,
		              jerr->text);
	return root;
}
