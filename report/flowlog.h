/*
 * flowlog.h — AWS VPC Flow Logs in report/: the field table (v2-v8),
 * formats (an ordered list of fields), the line codec, CloudWatch Logs
 * export lines, and a reader over files, directories and archives
 * (report/flowlog.c, report/flowlog_read.c).  Prefix: report_.
 *
 * Library code: nothing here prints or exits; rejects are counted and handed
 * to the caller.
 *
 * Flow-log semantics follow AWS's documentation: "Flow log records"
 * (https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html):
 * the fields and the version that introduced each, '-' for an absent value,
 * NODATA and SKIPDATA records; "Flow log files" for S3
 * (https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-s3.html): the
 * header line of field names and the object layout.
 */
#ifndef REPORT_FLOWLOG_H
#define REPORT_FLOWLOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "../ingest/tv.h"

/* =====================================================================
 * Flow-log fields
 * ===================================================================== */

/*
 * Every field AWS documents for VPC Flow Logs, versions 2 to 8, in the
 * documented table order.  The numeric values are part of the API (bit
 * (1 << id) in report_fl_rec.present) but not of any file format.
 *
 * resource-id and encryption-status: AWS's version for them could not be
 * confirmed (AWS's field table does not say; a third-party source claims
 * "version 10").  We
 * treat both as version 8, the highest version we can document
 * (REPORT_FL_VERSION_UNCONFIRMED), so that report_format_version() of a
 * format using them says 8.  Change that one constant when AWS's number is
 * known.
 */
enum report_fl_field {
	/* version 2: the default format, in this order */
	REPORT_FL_F_VERSION = 0,
	REPORT_FL_F_ACCOUNT_ID,
	REPORT_FL_F_INTERFACE_ID,
	REPORT_FL_F_SRCADDR,
	REPORT_FL_F_DSTADDR,
	REPORT_FL_F_SRCPORT,
	REPORT_FL_F_DSTPORT,
	REPORT_FL_F_PROTOCOL,
	REPORT_FL_F_PACKETS,
	REPORT_FL_F_BYTES,
	REPORT_FL_F_START,
	REPORT_FL_F_END,
	REPORT_FL_F_ACTION,
	REPORT_FL_F_LOG_STATUS,
	/* version 3 */
	REPORT_FL_F_VPC_ID,
	REPORT_FL_F_SUBNET_ID,
	REPORT_FL_F_INSTANCE_ID,
	REPORT_FL_F_TCP_FLAGS,
	REPORT_FL_F_TYPE,
	REPORT_FL_F_PKT_SRCADDR,
	REPORT_FL_F_PKT_DSTADDR,
	/* version 4 */
	REPORT_FL_F_REGION,
	REPORT_FL_F_AZ_ID,
	REPORT_FL_F_SUBLOCATION_TYPE,
	REPORT_FL_F_SUBLOCATION_ID,
	/* version 5 */
	REPORT_FL_F_PKT_SRC_AWS_SERVICE,
	REPORT_FL_F_PKT_DST_AWS_SERVICE,
	REPORT_FL_F_FLOW_DIRECTION,
	REPORT_FL_F_TRAFFIC_PATH,
	/* version 7 */
	REPORT_FL_F_ECS_CLUSTER_ARN,
	REPORT_FL_F_ECS_CLUSTER_NAME,
	REPORT_FL_F_ECS_CONTAINER_INSTANCE_ARN,
	REPORT_FL_F_ECS_CONTAINER_INSTANCE_ID,
	REPORT_FL_F_ECS_CONTAINER_ID,
	REPORT_FL_F_ECS_SECOND_CONTAINER_ID,
	REPORT_FL_F_ECS_SERVICE_NAME,
	REPORT_FL_F_ECS_TASK_DEFINITION_ARN,
	REPORT_FL_F_ECS_TASK_ARN,
	REPORT_FL_F_ECS_TASK_ID,
	/* version 8 */
	REPORT_FL_F_REJECT_REASON,
	/* version unknown, treated as 8 (see above) */
	REPORT_FL_F_RESOURCE_ID,
	REPORT_FL_F_ENCRYPTION_STATUS,
	REPORT_FL_F__KNOWN,          /* number of known fields (42) */
	REPORT_FL_F_OTHER = 255,     /* a ${name} we do not know: a string column */
};

#define REPORT_FL_VERSION_UNCONFIRMED 8

/* How a field's text is checked and stored. */
enum report_fl_kind {
	REPORT_FL_KIND_INT = 1,   /* decimal, at most 32 bits (some fields less) */
	REPORT_FL_KIND_INT64,     /* decimal, 64 bits (packets, bytes) */
	REPORT_FL_KIND_ADDR,      /* IPv4 or IPv6 text -> tv_addr */
	REPORT_FL_KIND_STRING,    /* any non-blank text; some have a fixed value set */
};

/* Canonical name ("log-status"); NULL for ids that are not known fields. */
const char *report_fl_field_name(int id);
/* Version that introduced the field (2..8); 0 for unknown ids. */
int report_fl_field_version(int id);
/* enum report_fl_kind; REPORT_FL_KIND_STRING for REPORT_FL_F_OTHER. */
int report_fl_field_kind(int id);
/*
 * Looks a name up (len bytes, no NUL needed).  Underscores count as dashes
 * and ASCII case is ignored, because some exports (Athena, OpenSearch) write
 * "log_status".  Returns the id or -1.
 */
int report_fl_field_find(const char *name, size_t len);

/* =====================================================================
 * Formats: an ordered list of fields
 * ===================================================================== */

#define REPORT_FL_MAX_FIELDS 64
#define REPORT_FL_NAME_MAX 64   /* bytes of an unknown field's name, with the NUL */

typedef struct report_fl_format {
	uint32_t n;                              /* number of columns, 1..64 */
	uint8_t id[REPORT_FL_MAX_FIELDS];        /* enum report_fl_field */
	/* The name of each REPORT_FL_F_OTHER column ('_' turned into '-');
	 * empty for known columns. */
	char other_name[REPORT_FL_MAX_FIELDS][REPORT_FL_NAME_MAX];
} report_fl_format;

/*
 * Why a line, a format or a file was rejected.  Counted per reason in
 * report_fl_stats; report_fl_reason_name() gives the stable dotted name.
 */
enum report_fl_reason {
	REPORT_FL_R_FIELD_COUNT = 0, /* wrong number of fields for the format */
	REPORT_FL_R_NUMBER,          /* a number field is not a decimal number */
	REPORT_FL_R_RANGE,           /* a number is too large for its field */
	REPORT_FL_R_ADDR,            /* an address field is not IPv4/IPv6 text */
	REPORT_FL_R_VALUE,           /* a value outside the field's set (action, log-status, ...) */
	REPORT_FL_R_CHAR,            /* a control character inside a field */
	REPORT_FL_R_HEADER,          /* a header line that is not a valid field list */
	REPORT_FL_R_JSON,            /* a JSON (CloudWatch) line without a usable "message" */
	REPORT_FL_R_TOO_LONG,        /* a line longer than the reader's maximum */
	REPORT_FL_R_SYNTAX,          /* a format string that does not parse */
	REPORT_FL_R_NOT_TEXT,        /* a line or NUL run holding binary data, or a whole
	                              * file that is binary data before any record */
	REPORT_FL_R_IO,              /* a whole file: cannot be opened, read or decompressed */
	REPORT_FL_R_DUPLICATE,       /* a file or directory reached a second time (same device
	                              * and inode): read once; not a failure */
	REPORT_FL_R_LOOP,            /* a symbolic link that leads back to a directory that
	                              * contains it: not followed; not a failed file */
	REPORT_FL_R_TOO_LARGE,       /* a whole file: more decoded bytes than the reader's maximum */
	REPORT_FL_R_SUM_OVERFLOW,    /* a record whose counts make a 64-bit sum wrap (audit) */
	REPORT_FL_R__COUNT
};

/* "flowlog.rejected.field_count" ...; NULL when out of range. */
const char *report_fl_reason_name(int reason);

/*
 * What went wrong, where.  Filled by the parsers on failure.
 *   field:  1-based column (or format token) number; 0 when the error is not
 *           about one column (e.g. too few fields).
 *   offset: 0-based byte offset in the line (or format string) of the
 *           offending token, or of the end of the line for too few fields.
 *   msg:    a sentence for a person, e.g.
 *           "field 9 (packets): expected a number, found 'abc'",
 *           "expected 14 fields, found 13".  Always NUL-terminated.
 */
typedef struct report_fl_err {
	int reason;     /* enum report_fl_reason */
	int field;
	size_t offset;
	char msg[192];
} report_fl_err;

/*
 * Parses an AWS --log-format string: "${version} ${vpc-id} ...", tokens
 * separated by spaces or tabs (runs allowed).  Unknown ${names} become
 * REPORT_FL_F_OTHER string columns.  Errors (TV_E_SYNTAX, *err filled with
 * the token number and byte offset): a token that is not ${name}, a name with
 * characters other than letters, digits, '-', '_' or '.', a name longer than
 * 63 bytes, a field listed twice, more than 64 fields, no field at all.
 * err may be NULL.
 */
int report_format_parse(const char *s, report_fl_format *fmt, report_fl_err *err);

/*
 * Parses an S3 header line: the field names without ${}, e.g.
 * "version account-id interface-id ...".  Underscores are accepted for
 * dashes.  len bytes (a trailing "\r\n" is ignored).  Same errors as
 * report_format_parse() (TV_E_SYNTAX, reason REPORT_FL_R_HEADER).
 */
int report_format_from_header(const char *line, size_t len, report_fl_format *fmt,
                              report_fl_err *err);

/* The default (version 2) format: the 14 v2 fields in table order. */
void report_format_default(report_fl_format *fmt);

/*
 * What AWS writes in the version column for this format: the highest version
 * among its fields (unknown names count as 2), never less than 2.
 */
int report_format_version(const report_fl_format *fmt);

/* Column index of field id in fmt, or -1. */
int report_format_find(const report_fl_format *fmt, int id);

/*
 * Writes the format as text into buf (cap bytes, NUL-terminated): as an S3
 * header line ("version account-id ...") when header is true, else as a
 * --log-format string ("${version} ${account-id} ...").
 * Returns 0, or TV_E_FULL when cap is too small (buf then holds "").
 */
int report_format_write(const report_fl_format *fmt, bool header, char *buf, size_t cap);

/* =====================================================================
 * Records
 * ===================================================================== */

/* A borrowed slice of text.  Not NUL-terminated. */
typedef struct report_fl_str {
	const char *p;
	size_t len;
} report_fl_str;

enum report_fl_action { REPORT_FL_ACTION_ACCEPT = 1, REPORT_FL_ACTION_REJECT = 2 };
enum report_fl_status {
	REPORT_FL_STATUS_OK = 1,
	REPORT_FL_STATUS_NODATA = 2,
	REPORT_FL_STATUS_SKIPDATA = 3,
};
enum report_fl_direction { REPORT_FL_DIR_INGRESS = 1, REPORT_FL_DIR_EGRESS = 2 };
enum report_fl_type { REPORT_FL_TYPE_IPV4 = 1, REPORT_FL_TYPE_IPV6 = 2, REPORT_FL_TYPE_EFA = 3 };

/*
 * One flow-log record.  A typed value for every known field and one bit per
 * field in `present`: bit (1 << id) is set when the line had a value, clear
 * when it had '-' or the format has no such column (the format tells which).
 * Values of fields whose bit is clear are zero.
 *
 * Lifetime: string fields (report_fl_str) and `other` point into the buffer
 * that was parsed (the line, or the caller's msgbuf for CloudWatch lines);
 * they are valid as long as that buffer is unchanged.  Records from the
 * reader are valid until the next report_flowlog_reader_next() call.
 * Copy what you keep.
 */
typedef struct report_fl_rec {
	uint64_t present;                 /* bit per enum report_fl_field */
	uint64_t other_present;           /* bit per column index, for REPORT_FL_F_OTHER columns */

	uint32_t version;
	report_fl_str account_id;         /* may be "unknown" for AWS-service ENIs */
	report_fl_str interface_id;
	tv_addr srcaddr;
	tv_addr dstaddr;
	uint16_t srcport;
	uint16_t dstport;
	uint8_t protocol;
	uint8_t action;                   /* enum report_fl_action */
	uint8_t log_status;               /* enum report_fl_status */
	uint8_t tcp_flags;                /* TV_TCP_* bits, 0..255 */
	uint64_t packets;
	uint64_t bytes;
	uint32_t start;                   /* unix seconds */
	uint32_t end;

	report_fl_str vpc_id;
	report_fl_str subnet_id;
	report_fl_str instance_id;
	uint8_t type;                     /* enum report_fl_type */
	uint8_t flow_direction;           /* enum report_fl_direction */
	uint8_t pad[2];
	uint32_t traffic_path;            /* AWS's traffic-path codes (1-8) */
	tv_addr pkt_srcaddr;
	tv_addr pkt_dstaddr;

	report_fl_str region;
	report_fl_str az_id;
	report_fl_str sublocation_type;
	report_fl_str sublocation_id;
	report_fl_str pkt_src_aws_service;
	report_fl_str pkt_dst_aws_service;

	report_fl_str ecs_cluster_arn;
	report_fl_str ecs_cluster_name;
	report_fl_str ecs_container_instance_arn;
	report_fl_str ecs_container_instance_id;
	report_fl_str ecs_container_id;
	report_fl_str ecs_second_container_id;
	report_fl_str ecs_service_name;
	report_fl_str ecs_task_definition_arn;
	report_fl_str ecs_task_arn;
	report_fl_str ecs_task_id;

	report_fl_str reject_reason;
	report_fl_str resource_id;
	uint32_t encryption_status;       /* 0..3 as documented; any 32-bit value accepted */

	/* Values of REPORT_FL_F_OTHER columns, by column index; {NULL, 0}
	 * when '-' or when the column is a known field. */
	report_fl_str other[REPORT_FL_MAX_FIELDS];
} report_fl_rec;

static inline bool report_fl_has(const report_fl_rec *r, int id)
{
	return id >= 0 && id < REPORT_FL_F__KNOWN && (r->present >> id) & 1u;
}

/* What kind of line report_flowlog_parse_line() saw (non-negative returns). */
enum report_fl_line {
	REPORT_FL_LINE_RECORD = 0, /* *rec holds the record */
	REPORT_FL_LINE_HEADER = 1, /* an S3 header line: call report_format_from_header() */
	REPORT_FL_LINE_BLANK = 2,  /* empty or only spaces/tabs: nothing to do */
};

/*
 * Parses one record line (len bytes; a trailing "\n", "\r\n" or "\r" is
 * ignored) with format fmt.
 *
 * Fields are separated by spaces or tabs.  AWS writes single spaces; runs of
 * blanks and leading/trailing blanks are tolerated (AWS's own documentation
 * shows a double space), but the number of fields must equal fmt->n:
 * "expected 14 fields, found 13".  Each field is checked by kind: numbers are
 * decimal digits with overflow and per-field range checks (ports 0..65535,
 * protocol and tcp-flags 0..255, counters 64 bits, times and others 32 bits),
 * addresses IPv4/IPv6 text, action ACCEPT|REJECT, log-status
 * OK|NODATA|SKIPDATA (never '-'), flow-direction ingress|egress, type
 * IPv4|IPv6|EFA; '-' means absent for every other field.  Control characters
 * (0x00-0x1f other than tab, 0x7f) are rejected in any field.  NODATA and
 * SKIPDATA records with '-' in the 5-tuple are ordinary records.  The version
 * column is not compared with the format's version (real files disagree).
 *
 * A line whose first field is a known field name (report_fl_field_find()) is a
 * header line: returns REPORT_FL_LINE_HEADER without touching *rec.
 *
 * Returns REPORT_FL_LINE_RECORD / _HEADER / _BLANK, or TV_E_FORMAT with *err
 * filled (err may be NULL).  Never returns an errno value.
 */
int report_flowlog_parse_line(const report_fl_format *fmt, const char *line, size_t len,
                              report_fl_rec *rec, report_fl_err *err);

/* True when the line's first field is a known field name (a header line). */
bool report_flowlog_is_header(const char *line, size_t len);

/*
 * Parses one CloudWatch Logs export line: a JSON object with a "message"
 * string that holds the record (other keys such as "timestamp",
 * "ingestionTime", "logStreamName" are ignored).  The message is copied into
 * msgbuf (cap msgcap) and parsed there with report_flowlog_parse_line(), so
 * rec's strings point into msgbuf; error offsets are offsets in the message.
 * Returns like report_flowlog_parse_line(), or TV_E_FORMAT with reason
 * REPORT_FL_R_JSON when the line is not a JSON object with a "message"
 * string, or REPORT_FL_R_TOO_LONG when the message does not fit msgbuf.
 */
int report_flowlog_parse_cwl(const report_fl_format *fmt, const char *line, size_t len,
                             char *msgbuf, size_t msgcap, report_fl_rec *rec,
                             report_fl_err *err);

/*
 * Writes rec as AWS writes it: the format's fields in order, separated by
 * single spaces, '-' for absent values, numbers in decimal, addresses in the
 * usual text form (dotted quad for IPv4), no newline.  buf gets a NUL; *len
 * (may be NULL) the length without it.
 *
 * Returns 0; TV_E_FULL when cap is too small; TV_E_FORMAT when the record
 * cannot be written so that it parses back: log-status absent or out of its
 * set, an enum value out of its set, or a present string that is empty or
 * holds blanks or control characters.  parse(format(rec)) == rec for every
 * record the parser produces.
 */
int report_flowlog_format_line(const report_fl_format *fmt, const report_fl_rec *rec,
                               char *buf, size_t cap, size_t *len);

/* =====================================================================
 * Reader: flow-log files, directories, archives
 * ===================================================================== */

#define REPORT_FL_MAX_LINE_DEFAULT 65536
/* Decoded bytes of one file or archive member.  AWS closes a flow-log file
 * at 75 MB (gzip), about 10 times that as text. */
#define REPORT_FL_MAX_BYTES_DEFAULT (1ull << 30)

typedef struct report_fl_stats {
	uint64_t files;        /* files and archive members opened */
	uint64_t files_failed; /* of those (or paths), skipped as not text or unreadable */
	uint64_t lines;        /* lines read, all kinds */
	uint64_t records;      /* records returned */
	uint64_t headers;      /* header lines (format switches) */
	uint64_t blank;        /* empty lines, skipped */
	uint64_t json;         /* CloudWatch JSON lines among the records */
	uint64_t nodata;       /* records with log-status NODATA */
	uint64_t skipdata;     /* records with log-status SKIPDATA */
	uint64_t rejected;     /* lines and files rejected, all reasons */
	uint64_t by_reason[REPORT_FL_R__COUNT];
} report_fl_stats;

/* A rejected line or file, handed to the callback.  Pointers are valid
 * during the call only. */
typedef struct report_fl_reject {
	const char *file;  /* display name, "dir/a.log" or "b.tar:member.log"; "-" for stdin */
	uint64_t line;     /* 1-based line number; 0 for a whole-file reject */
	const report_fl_err *err;
} report_fl_reject;

typedef void (*report_fl_reject_fn)(void *ctx, const report_fl_reject *rj);

typedef struct report_flowlog_reader_cfg {
	/* Format for files without a header line (--log-format); NULL: the
	 * default v2 format.  Copied at open. */
	const report_fl_format *format;
	/* Longest accepted line in bytes without the newline; 0: 64 KiB.
	 * Longer lines are rejected (REPORT_FL_R_TOO_LONG) and skipped. */
	size_t max_line;
	/* Most bytes read from one file or archive member after decompression;
	 * 0: REPORT_FL_MAX_BYTES_DEFAULT.  Past it the rest of that path is
	 * skipped (REPORT_FL_R_TOO_LARGE): the records before it were returned. */
	uint64_t max_bytes;
	/* Called for every reject; may be NULL (the stats still count). */
	report_fl_reject_fn on_reject;
	void *ctx;
} report_flowlog_reader_cfg;

typedef struct report_flowlog_reader report_flowlog_reader;

/* Where a record came from.  Valid until the next reader call. */
typedef struct report_fl_where {
	const char *file;              /* display name, as in report_fl_reject */
	uint64_t line;                 /* 1-based line number in that file or member */
	const report_fl_format *fmt;   /* the format the line was parsed with */
} report_fl_where;

/*
 * Opens a reader over paths (copied): regular files, directories (walked
 * recursively, entries sorted by byte order of their names, "." and ".."
 * skipped, at most 32 levels deep) and "-" for standard input.  Each file is
 * read through libarchive, so plain text, gzip/bzip2/xz/zstd-compressed text,
 * and tar, tar.gz and zip archives of many such files all work; members that
 * are themselves compressed (a tar of .log.gz objects) are decompressed too.
 * Every archive format of libarchive's "all" set is tried except mtree (its
 * bidder claims some texts); a regular file that an archive format claims
 * but cannot read (a text starting with a cpio magic such as an account id
 * "070707...") is read again as a plain stream.
 * Reading streams line by line in O(1) memory in the file size.
 *
 * Per file (and per archive member) the format is: a header line if the file
 * has one (a header later in the file switches the format from there on),
 * else cfg->format, else the default v2 format.  Lines starting with '{' are
 * CloudWatch Logs JSON lines.
 *
 * Nothing is opened before the first report_flowlog_reader_next().  Returns
 * 0, TV_E_NOMEM, or TV_E_RANGE for npaths == 0.
 */
int report_flowlog_reader_open(const report_flowlog_reader_cfg *cfg, const char *const *paths,
                               size_t npaths, report_flowlog_reader **out);

/*
 * Returns the next record: 0 with *rec and *where filled; TV_E_NOTFOUND when
 * every path is read; TV_E_NOMEM on allocation failure.  Bad lines, overlong
 * lines, non-text files and unreadable paths are counted, given to
 * cfg->on_reject and skipped: they never stop the reading.  rec's strings and
 * where's pointers are valid until the next call or report_flowlog_reader_free().
 */
int report_flowlog_reader_next(report_flowlog_reader *r, report_fl_rec *rec,
                               report_fl_where *where);

/* Counters so far.  Valid until report_flowlog_reader_free(). */
const report_fl_stats *report_flowlog_reader_stats(const report_flowlog_reader *r);

/* Closes everything; accepts NULL. */
void report_flowlog_reader_free(report_flowlog_reader *r);

#endif
