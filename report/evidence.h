/*
 * evidence.h — case bundles (writer, reader and check; report/bundle.c)
 * and the store's custody log (report/custody.c) in report/.
 * Prefix: report_.  Used by export, verify, custody and query --bundle.
 */
#ifndef REPORT_EVIDENCE_H
#define REPORT_EVIDENCE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "flowlog.h"

/* =====================================================================
 * Case bundles  (report/bundle.c)
 *
 * A bundle is one archive (tar.zst, tar.gz or zip, chosen by the file name)
 * with flat members: packets.pcap, flows.log and manifest.json (written
 * last; it holds every other member's size and SHA-256, the store's
 * identity, the query and the source chunks).  The README's
 * `tapvault export` section lists the manifest's fields.
 *
 * Reading never extracts: members are hashed as they stream past, the
 * manifest is read into memory (at most REPORT_BUNDLE_MAX_MANIFEST bytes),
 * and a member asked for by name is copied into an unlinked temporary file.
 * A member whose name is absolute, holds '/', '\\' or "..", that is not a
 * regular file (symlink, hard link, directory, device), that declares more
 * than the member limit, or a bundle of more than REPORT_BUNDLE_MAX_MEMBERS
 * entries, is refused.
 * ===================================================================== */

struct idx;
struct idx_expr;

enum report_bundle_kind {
	REPORT_BUNDLE_TAR_ZST = 1,
	REPORT_BUNDLE_TAR_GZ = 2,
	REPORT_BUNDLE_ZIP = 3,
};

#define REPORT_BUNDLE_FORMAT "tapvault-case-bundle"
#define REPORT_BUNDLE_VERSION 1
/* The members' names: the one place that spells them. */
#define REPORT_BUNDLE_PACKETS "packets.pcap"
#define REPORT_BUNDLE_FLOWS "flows.log"
#define REPORT_BUNDLE_AUDIT_HTML "audit.html"
#define REPORT_BUNDLE_AUDIT_JSON "audit.json"
#define REPORT_BUNDLE_MANIFEST "manifest.json"  /* written last */
#define REPORT_BUNDLE_MAX_MEMBERS 64
#define REPORT_BUNDLE_MAX_MANIFEST (16u << 20)
/* Largest member (in the archive and as the manifest declares it) that
 * verify and query --bundle accept unless told otherwise (--max-member-size) */
#define REPORT_BUNDLE_MAX_MEMBER_DEFAULT (64ull << 30) /* 64 GiB */
#define REPORT_BUNDLE_NAME_MAX 128

/* Kind from the file name's suffix (.tar.zst, .tar.gz/.tgz, .zip); 0 when
 * none matches. */
int report_bundle_kind_from_path(const char *path);

/* true when name is a plain member name: 1..127 bytes, not "." or "..", no
 * '/', '\\', control characters or leading '-'. */
bool report_bundle_name_safe(const char *name);

/* One source chunk of the exported packets. */
typedef struct report_bundle_chunk {
	uint64_t id;
	uint32_t segment;
	uint32_t length;
	uint64_t offset;
	uint8_t sha256[32];
	uint64_t packets; /* exported packets that came from it */
} report_bundle_chunk;

/* The manifest's last key: its value is the SHA-256 of manifest.json with
 * that value's 64 hex digits written as '0's, so that a changed byte
 * anywhere in the manifest is found. */
#define REPORT_BUNDLE_SELF_KEY "manifest_sha256"

/* One member as written, or as listed in a manifest. */
typedef struct report_bundle_file {
	char name[REPORT_BUNDLE_NAME_MAX];
	uint64_t size;
	uint8_t sha256[32];
} report_bundle_file;

/* What the manifest says besides the files.  Strings are borrowed (writer)
 * or owned by the info (reader); NULL or "" when not given. */
typedef struct report_bundle_meta {
	const char *tool;         /* "tapvault 0.1.0" */
	uint64_t created_ns;
	const char *case_id;
	const char *examiner;
	const char *note;
	const char *store_path;   /* absolute */
	char store_uuid[33];      /* hex */
	const char *query_text;   /* as typed */
	const char *query_norm;   /* idx_expr_format */
	uint64_t time_lo, time_hi; /* idx_expr_time_bounds: 0 / UINT64_MAX unbounded */
	uint64_t packets;
	uint64_t first_ts, last_ts; /* of the exported packets; 0 when none */
	uint64_t flow_records;
	uint64_t max_bytes;       /* 0 = no limit */
	const report_bundle_chunk *chunks;
	size_t nchunks;
} report_bundle_meta;

typedef struct report_bundle_writer report_bundle_writer;

/*
 * Starts the bundle `path`: the archive is written under a temporary name
 * beside it (".NAME.tvtmp-PID-XXXXXX", O_CREAT|O_EXCL|O_NOFOLLOW, 0640; see
 * ingest/tvfile.h) and only finish renames it to path, so an interrupted
 * export never leaves a partial bundle under the bundle's name.  An
 * existing path of any kind is never overwritten (EEXIST; TV_E_SYMLINK for a
 * link).  Temporary files of the same name left by a killed export of this
 * user are removed first (report_bundle_writer_swept says how many).
 * Nothing is left behind when report_bundle_writer_abort() is called.
 */
int report_bundle_writer_open(const char *path, int kind, report_bundle_writer **out);
unsigned report_bundle_writer_swept(const report_bundle_writer *w);
/* While *flag is non-zero (set by a signal handler), add and finish stop
 * between blocks and return EINTR with err "interrupted"; the caller then
 * calls abort.  flag must outlive the writer. */
void report_bundle_writer_cancel_on(report_bundle_writer *w, const volatile sig_atomic_t *flag);
/* Adds a member with the contents of f (read from its start to its end,
 * with a bounded buffer), hashing it as it goes.  At most
 * REPORT_BUNDLE_MAX_MEMBERS - 1 members.  err says what failed. */
int report_bundle_writer_add(report_bundle_writer *w, const char *name, FILE *f, char *err,
                             size_t cap);
/* Writes manifest.json from meta and the members added so far, closes the
 * archive, returns the bundle's size and SHA-256 (read back from disk),
 * fsyncs and renames it to its name (never replacing anything there).  The
 * writer is freed whatever the result; on failure nothing is left. */
int report_bundle_writer_finish(report_bundle_writer *w, const report_bundle_meta *meta,
                                uint64_t *size, uint8_t sha256[32], char *err, size_t cap);
/* Stops, removes the temporary file, frees.  Accepts NULL. */
void report_bundle_writer_abort(report_bundle_writer *w);
/* Removes the finished bundle at path again (when its custody entry could
 * not be written), but only if path is still a regular file of that size
 * and SHA-256: never a file someone put there meanwhile.  Returns 0,
 * TV_E_HASH when it is not that file (left alone), or an errno. */
int report_bundle_withdraw(const char *path, uint64_t size, const uint8_t sha256[32]);

/*
 * Writes the store's flow records that match e as flows.log: the default
 * v2 header line, then one AWS v2 line per record.  A record matches when
 * the expression matches its 5-tuple, VNI and mirror source at a time
 * inside both its [start, end] and the expression's time bounds (records
 * whose span lies outside those bounds are skipped).  *n gets the count.
 */
int report_bundle_write_flows(struct idx *x, const struct idx_expr *e, FILE *f, uint64_t *n);

/* What a bundle's manifest says, from report_bundle_verify(). */
typedef struct report_bundle_info {
	report_bundle_meta meta;  /* strings and chunks owned by the info */
	report_bundle_file *files; /* the manifest's file list */
	size_t nfiles;
	bool manifest_ok;         /* manifest.json present and valid */
} report_bundle_info;

void report_bundle_info_free(report_bundle_info *info); /* accepts NULL */

/* Called once per problem; member is the member it is about ("" for the
 * bundle as a whole).  Pointers valid during the call. */
typedef void (*report_bundle_problem_fn)(void *ctx, const char *member, const char *msg);

/*
 * Reads the whole bundle once and checks: every entry is a safe regular
 * file within the limits; manifest.json is there, parses within the JSON
 * count limits and has the expected format and version; every listed file
 * is present once with the listed size and SHA-256; nothing else is
 * present.  max_member: the largest member size accepted, in the archive
 * and as the manifest lists it (0: REPORT_BUNDLE_MAX_MEMBER_DEFAULT).  A
 * bundle cut short says "truncated" in its problems.
 * Returns 0 when everything holds, TV_E_CORRUPT when problems were
 * reported (*nproblems of them; may be NULL), or an error when the file
 * cannot be read at all (ENOENT, TV_E_FORMAT: not a tar or zip archive,
 * TV_E_TRUNCATED: it ends before its first member, TV_E_UNSUPPORTED: not
 * a regular file).
 * *info (may be NULL) gets what the manifest says when it parsed; caller
 * frees with report_bundle_info_free().
 */
int report_bundle_verify(const char *path, uint64_t max_member, report_bundle_problem_fn fn,
                         void *ctx, uint64_t *nproblems, report_bundle_info **info);

/*
 * Copies one member (e.g. "packets.pcap") into an unlinked temporary file
 * in $TMPDIR (or /tmp), rewound.  First the whole bundle is read and every
 * entry checked as in report_bundle_verify(), writing nothing: an unsafe
 * entry or a listed size past max_member refuses the bundle (TV_E_FORMAT);
 * any other problem (a member or the manifest altered, missing or extra)
 * is TV_E_HASH; the member not in the bundle is TV_E_NOTFOUND;
 * TV_E_TRUNCATED, TV_E_UNSUPPORTED as there.  Then the member is copied
 * in a second reading of the same open file, never more bytes than the
 * manifest declares, and its SHA-256 checked again (TV_E_HASH when it
 * changed); TV_E_FULL when $TMPDIR has no room for the declared size.
 * err says which member and why.  *out is the caller's to fclose.
 */
int report_bundle_member_open(const char *path, const char *name, uint64_t max_member,
                              FILE **out, char *err, size_t cap);

/*
 * Ties a bundle's manifest (info, from report_bundle_verify) to the store
 * x it says it came from: the store's identity must be the manifest's, and
 * every source chunk the manifest lists must be in x's index with the same
 * segment, offset and SHA-256.  A chunk x no longer holds (pruned by
 * retention) is counted in *pruned, not a problem.  Each problem goes to fn
 * (member REPORT_BUNDLE_MANIFEST for another store, which ends the check,
 * else "chunk N"); store names x in the messages.  Returns 0, or
 * TV_E_CORRUPT when problems were reported.
 */
int report_bundle_tie_chunks(struct idx *x, const report_bundle_info *info, const char *store,
                             report_bundle_problem_fn fn, void *ctx, uint64_t *pruned);

/* ---------------------------------------------- a bundle's packets, matched */

typedef struct report_bundle_packets report_bundle_packets;
struct idx_query_stats;
struct store_rec;
struct tv_l3info;

/*
 * Opens the packets member of a bundle for matching with e, after the whole
 * bundle has been checked (report_bundle_member_open).  Returns 0; the
 * member_open codes (an errno, or negative with err set); TV_E_UNSUPPORTED
 * when e names a VNI (a pcap carries no tunnel metadata); TV_E_FORMAT when
 * libpcap cannot read the member or its link type is not Ethernet.
 * Nothing is written anywhere before this succeeds.
 */
int report_bundle_packets_open(const char *bundle, const struct idx_expr *e, uint64_t max_member,
                               report_bundle_packets **out, char *err, size_t cap);
/*
 * Hands each packet that matches e (idx_expr_match, the store query's
 * matcher) to cb, in file order, as store 0 with no tunnel metadata.  cb's
 * non-zero return stops with that value (1: enough).  st is zeroed and
 * counts packets scanned and matched.  TV_E_FORMAT, with err, when the
 * member cannot be read to its end.
 */
int report_bundle_packets_query(report_bundle_packets *bp, const struct idx_expr *e,
                                int (*cb)(void *ctx, int store, const struct store_rec *rec,
                                          const struct tv_l3info *info),
                                void *ctx, struct idx_query_stats *st, char *err, size_t cap);
void report_bundle_packets_close(report_bundle_packets *bp); /* accepts NULL */

/* =====================================================================
 * Custody log  (report/custody.c)
 *
 * STORE/custody.log: one JSON object per line, append-only, 0600, written
 * with O_APPEND under an exclusive flock and fdatasync'ed.  Each entry has
 * "seq" (1, 2, ...), "prev" (the "hash" of the entry before, 64 zeros for
 * the first) and, last, "hash": the SHA-256 (hex) of the line's bytes from
 * its '{' up to but excluding ',"hash":"', followed by '}'.  That is, of
 * the entry as written without its hash.  Altering an entry breaks its
 * hash; removing one breaks the next entry's "prev" and "seq".
 * ===================================================================== */

#define REPORT_CUSTODY_MAX_LINE 65536

typedef struct report_custody_entry {
	uint64_t time_ns;
	const char *action;       /* "export" */
	const char *examiner;
	uint32_t uid;
	const char *user;
	const char *host;
	const char *case_id;
	const char *query;        /* normalised */
	const char *bundle;       /* file name as given */
	const char *bundle_path;  /* absolute */
	uint64_t bundle_size;
	uint8_t bundle_sha256[32];
	const char *note;
} report_custody_entry;

/* Appends one entry to STORE/custody.log.  *seq and hash (both may be
 * NULL) get the new entry's number and hash.  The whole chain is checked
 * first (under the lock); a broken one is refused (TV_E_CORRUPT) rather
 * than extended. */
int report_custody_append(const char *store_dir, const report_custody_entry *e, uint64_t *seq,
                          char hash_hex[65], char *err, size_t cap);

/* Called for each entry in order: its line number, its fields (NULL when
 * the line does not parse; strings valid during the call), the line itself
 * (without the newline) and whether its own hash holds. */
typedef void (*report_custody_entry_fn)(void *ctx, uint64_t lineno, uint64_t seq,
                                        const report_custody_entry *e, const char *line,
                                        bool ok);

/*
 * Reads STORE/custody.log and checks the chain.  Every break is given to
 * problem (member = "custody.log line N", msg says what: hash mismatch,
 * prev mismatch, seq gap, unparsable).  A missing log is an empty one
 * (*entries 0).  Returns 0, TV_E_CORRUPT when problems were reported, or an
 * errno.  entry may be NULL.  head_hex (may be NULL) gets the last entry's
 * hash ("" when empty).
 */
int report_custody_verify(const char *store_dir, report_custody_entry_fn entry,
                          report_bundle_problem_fn problem, void *ctx, uint64_t *entries,
                          uint64_t *nproblems, char head_hex[65]);

/*
 * The custody entry of STORE that exported exactly the file at path: the
 * SHA-256 of path's bytes is the entry's bundle SHA-256 and the entry's
 * own hash holds.  A manifest carries its own hash, which anyone can
 * recompute after changing a member; the custody log is what ties the
 * file to the store.  *seq gets the number of the last such entry, 0 when
 * there is none (no log, or a log that cannot be read, has none: the
 * chain itself is judged by report_custody_verify).  Returns 0, or the
 * errno of reading path.
 */
int report_custody_find_bundle(const char *store_dir, const char *path, uint64_t *seq);

/* =====================================================================
 * pcap records  (report/pcapw.c)
 *
 * The pcap file `query -w` writes and a bundle's packets.pcap holds, the
 * same bytes for the same packets: classic pcap, little-endian,
 * nanosecond magic, snaplen 262144, LINKTYPE_ETHERNET.
 * ===================================================================== */

#define REPORT_PCAP_HDR_LEN 24
#define REPORT_PCAP_REC_HDR_LEN 16

/* Both return 0 or TV_E_IO (check ferror later as well: stdio buffers). */
int report_pcapw_header(FILE *f);
int report_pcapw_record(FILE *f, uint64_t ts_ns, const uint8_t *frame, uint32_t caplen,
                        uint32_t origlen);

/* =====================================================================
 * One export  (report/export.c)
 *
 * The packets of an expression (every chunk checked against its SHA-256
 * as it is read), their flow records and, when flow logs are given, the
 * audit of the expression's time range, written as one bundle and entered
 * in the store's custody log.  Every member is first written to a
 * temporary file beside the bundle that is unlinked at creation; the
 * bundle itself is written under a temporary name and renamed when
 * complete (report_bundle_writer_*).  An export that the custody log
 * cannot record is withdrawn.  Nothing is printed: progress and notes go
 * to the events, the outcome to the result.
 * ===================================================================== */

struct report_audit_summary;

typedef struct report_export_opts {
	struct idx_rstore *rs;        /* open; the caller closes it */
	const struct idx_expr *expr;
	const char *query_text;       /* as the user wrote it */
	const char *store;            /* the store's name as given */
	const char *out;              /* the bundle; must not exist */
	int kind;                     /* enum report_bundle_kind */
	const char *case_id, *examiner, *note; /* may be NULL; examiner defaults
	                                        * to the login name */
	uint64_t max_bytes;           /* 0: no limit on packets.pcap */
	const char *const *flow_logs; /* audited when nflow_logs > 0 */
	size_t nflow_logs;
	const char *const *vni_maps;
	size_t nvni_maps;
	/* when *cancel becomes non-zero the bundle writer stops between blocks
	 * and removes its temporary file */
	const volatile sig_atomic_t *cancel;
} report_export_opts;

/* All may be NULL. */
typedef struct report_export_events {
	void *ctx;
	/* every 1024 packets, and once with done true after the last */
	void (*packets)(void *ctx, uint64_t packets, bool done);
	/* the audit is written (only with flow logs) */
	void (*audit)(void *ctx, const struct report_audit_summary *sm);
	/* called just before the bundle's temporary file is created: from
	 * here on a file exists under a temporary name, which the writer
	 * removes when *cancel is set */
	void (*writing)(void *ctx);
	/* the writer removed n temporary files an interrupted export left */
	void (*swept)(void *ctx, unsigned n);
} report_export_events;

enum report_export_status {
	REPORT_EXPORT_OK = 0,
	REPORT_EXPORT_USAGE,   /* the options or the files named cannot work; err says why */
	REPORT_EXPORT_FAILED,  /* err says why */
	REPORT_EXPORT_OVER,    /* packets.pcap would pass max_bytes (after .packets) */
	REPORT_EXPORT_STOPPED, /* *cancel was set while the bundle was written */
};

typedef struct report_export_result {
	enum report_export_status status;
	char err[1280];
	uint64_t packets, nchunks, flow_records;
	uint64_t size;                 /* of the bundle */
	char sha256_hex[65];           /* of the bundle */
	uint64_t custody_seq;
	char custody_hash_hex[65];
	char store_abs[4096];          /* the store's real path (as given when none) */
	char query_norm[2048];
	uint64_t chunks_planned, chunks_total, chunks_read;
} report_export_result;

/* Runs one export.  Returns res->status.  ev may be NULL. */
int report_export_run(const report_export_opts *o, report_export_result *res,
                      const report_export_events *ev);

#endif
