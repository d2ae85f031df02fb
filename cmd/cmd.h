/*
 * cmd.h — what the subcommands of the tapvault program share.  Only cmd/
 * includes it.  cmd/ parses argv, wires the modules together, prints, and
 * owns the exit codes:
 */
#ifndef CMD_H
#define CMD_H

#include "../ingest/tv.h"

#include <stdio.h>
#include <stdlib.h>

/* Our exit codes reuse the names; <stdlib.h>'s EXIT_FAILURE (1) must not
 * shadow ours (3).  stdlib.h is included above, so later includes of it are
 * no-ops and the names below stay ours. */
#undef EXIT_SUCCESS
#undef EXIT_FAILURE

enum {
	EXIT_OK = 0,       /* success */
	EXIT_FOUND = 1,    /* the job ran and found what --fail-on names, or verify found damage */
	EXIT_USAGE = 2,    /* bad usage or bad input */
	EXIT_FAILURE = 3,  /* the job failed (I/O, full disk, locked store, ...) */
};

/* What a command's option parser returns after printing --help: the
 * command then exits with EXIT_OK. */
#define HELP_SHOWN (-1)

/* Global flags parsed before the subcommand and by every subcommand. */
typedef struct cmd_globals {
	int verbose; /* -v, counted */
	int quiet;   /* -q */
} cmd_globals;

extern cmd_globals g_cmd; /* the one global: set once by main */

int cmd_ingest(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_flows(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_custody(int argc, char **argv);
int cmd_audit(int argc, char **argv);
/* custody.c, shared with verify: checks STORE/custody.log's chain, prints
 * each problem (and the entries when print).  EXIT_OK, EXIT_FOUND or
 * EXIT_FAILURE. */
int cmd_custody_check(const char *store, bool print, bool json, uint64_t *entries);

/* Prints "tapvault CMD: " + message to stderr. */
void cmd_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cmd_note(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "64M", "1.5GiB", "1g", "4096" -> bytes. 0 on success. */
int cmd_parse_size(const char *s, uint64_t *out);
/* "30s", "10m", "7d", "2h" or plain seconds -> seconds. */
int cmd_parse_duration(const char *s, uint64_t *out);
/* Integer in [lo, hi]. */
int cmd_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* "4789,8472" -> ports (at most max, each 1-65535); 0, or -1 when malformed. */
int cmd_parse_ports(const char *s, uint16_t *ports, int *n, int max);

/* Human sizes: "1.23 GiB". */
void cmd_fmt_bytes(uint64_t n, char *buf, size_t cap);

/* Wall clock in ns (CLOCK_REALTIME) and monotonic ns. */

/* A progress line on stderr, only when it is a terminal and not -q. */
typedef struct cmd_progress {
	int enabled;
	uint64_t start, last;
	int drawn;
} cmd_progress;

void cmd_progress_init(cmd_progress *p);
/* Redraws at most 4 times a second. total may be 0 (unknown). */
void cmd_progress_update(cmd_progress *p, const char *what, uint64_t done, uint64_t total,
                         uint64_t items, const char *unit);
/* A count without a known total: "what N unit (R/s)". */
void cmd_progress_count(cmd_progress *p, const char *what, uint64_t items, const char *unit);
void cmd_progress_end(cmd_progress *p);

/* Explains why a store could not be opened: the file, the place and the
 * fix (a store of another format, the segment whose header is refused,
 * the corrupt index, ...). */
void cmd_store_error(const char *cmd, const char *dir, int rc);
/* A store of another format than this build's (idx_format_note): says so
 * and what to do, and returns EXIT_USAGE; else EXIT_OK.  Reads only: for
 * commands that must refuse before they change anything in the store. */
int cmd_store_format_check(const char *cmd, const char *dir);

/* Opens n stores read-only into rs (room for n), each once: a store given
 * twice, under another spelling of its path, or as a copy, has the same
 * identity (the UUID in its index) and is read once, with a note.  Notes a
 * store whose index covers less than its segments.  On failure prints why
 * and returns the exit code (the stores opened so far stay open in rs,
 * *nopen of them); else EXIT_OK. */
struct idx_rstore;
int cmd_open_stores(const char *cmd, const char *const *paths, int n, struct idx_rstore *rs,
                    int *nopen);
/* The note of idx_coverage_note on stderr, when there is one. */
void cmd_store_coverage_note(const char *cmd, struct idx_rstore *rs);

/* "tmpfs at /mnt/x (the file system of PATH)", from /proc/self/mountinfo;
 * "the file system of PATH" when that cannot be read. */
void cmd_fs_describe(const char *path, char *buf, size_t cap);

/* Why an output file (tv_outfile) could not be created or finished, as the
 * end of "PATH: cannot create: ...". */
const char *cmd_outfile_why(int rc);

/* A bad expression: the message, the text, and a caret under the word. */
struct idx_expr_err;
void cmd_expr_error(const char *cmd, const char *text, const struct idx_expr_err *e);
/* The parse's note (how and/or were grouped, where tcpdump differs), unless -q. */
struct idx_expr;
void cmd_expr_note(const char *cmd, const struct idx_expr *e);

/* Prints the counters that are non-zero, one "name value" per line. */
void cmd_print_counters(FILE *f, const tv_counters *c, const char *indent);
/* Datagrams live ingest refused: the sum of the parts ingest and stats
 * name (sender, VNI, oversize). */
uint64_t cmd_ctr_live_rejects(const tv_counters *c);
/* Packets whose tunnel header was bad: no rejects, they are stored as their
 * outer frames (README "Decapsulation"). */
uint64_t cmd_ctr_tunnel_errors(const tv_counters *c);

/* No --vni-map given: loads into map the copies ingest keeps in
 * STORE/vnimap/ (vpc.h report_vnimap_load_kept) and says so on stderr.
 * EXIT_OK (also when there are none), or an exit code after a message
 * naming the copy. */
struct report_vnimap;
int cmd_store_vnimaps(const char *cmd, const char *store, struct report_vnimap *map);

/* Joins argv[first..argc) with single spaces into a malloc'd string. */
char *cmd_join_args(int argc, char **argv, int first);

#endif
