/*
 * report.h — the public header of report/.
 *
 * report/ owns everything that turns stored traffic into something a person
 * or another tool reads, and everything that reads the other side of the
 * audit: AWS VPC Flow Log parsing and writing (this file: the field table,
 * formats, the line codec, CloudWatch Logs export lines, and a reader over
 * files, directories and archives), the join of flow logs against the store,
 * the payload look, the report writers and bundles.  Prefix: report_.
 *
 * Library code: nothing here prints or exits; rejects are counted and handed
 * to the caller (STYLE.md §1, §5).
 *
 * Flow-log semantics: /work/shared/reference/aws-mirroring-and-flow-logs.md §1
 * (fields and versions §1.3, '-' for absent values, NODATA/SKIPDATA, the S3
 * header line §1.8, CloudWatch Logs).
 */
#ifndef REPORT_H
#define REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <signal.h>

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
 * confirmed (reference §1.3: a third-party source claims "version 10").  We
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
	uint32_t traffic_path;            /* reference §1.6 codes */
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

/* =====================================================================
 * VNI map: what stands behind each mirror session  (report/vnimap.c)
 *
 * A mirror session's VNI names one source interface.  The map says which
 * ENI, account, VPC, subnet, instance, region, AZ and addresses stand behind
 * each VNI.  It is read from a small text file the user writes, or from the
 * JSON that `aws ec2 describe-traffic-mirror-sessions` prints (plus
 * `describe-network-interfaces` for addresses), with jansson.  Unknown
 * values are empty strings and print as '-', as AWS writes them.
 *
 * Text format (one line per VNI; '#' starts a comment; blank lines skipped):
 *   vni=42 eni=eni-0abc account=111122223333 vpc=vpc-1 subnet=subnet-1
 *          instance=i-1 region=us-east-1 az=use1-az1 addr=10.0.1.5,2600:1f18::5
 * Keys (any order, each at most once, vni required): vni (0..16777215, or
 * "none" for untunnelled traffic), eni, account, vpc, subnet, instance,
 * region, az, addr (comma-separated IPv4/IPv6; the first IPv4 is the
 * primary), session, filter, packet-length.  The AWS field names
 * interface-id, account-id, vpc-id, subnet-id, instance-id and az-id are
 * accepted as aliases.  Values: 1..N bytes of [A-Za-z0-9._:/@+=-] (N = the
 * size of the struct member below minus one).  A VNI listed twice in one file
 * is an error.
 *
 * Several files may be loaded; order does not matter for
 * describe-network-interfaces data, which fills the fields still empty of
 * every VNI whose ENI it describes (and its addresses when it has none).
 * For a VNI given by two files, the later file's values replace the earlier.
 *
 * Interfaces the map does not name get interface-id "vni-<N>" (decimal VNI;
 * "vni-none" for untunnelled traffic): AWS never writes '-' there.
 * ===================================================================== */

#define REPORT_IFACE_MAX_ADDRS 64   /* more in one map entry is an error */
#define REPORT_VNI_MAX 0xFFFFFFu      /* VXLAN and GENEVE VNIs are 24 bits */
/* VNI entries in one map, and interface descriptions in one file: the
 * audit handles 65,536 interfaces, AWS 10,000 mirror sessions per account */
#define REPORT_VNIMAP_MAX_ENTRIES 65536

typedef struct report_iface {
	uint32_t vni;        /* TV_VNI_NONE for untunnelled traffic */
	char name[32];       /* what interface-id shows: eni, else "vni-<N>"; never empty */
	char eni[32];        /* interface-id, e.g. "eni-0a1b2c3d4e5f60789"; "" unknown */
	char account[16];    /* account-id */
	char vpc[32];        /* vpc-id */
	char subnet[32];     /* subnet-id */
	char instance[32];   /* instance-id */
	char region[24];
	char az[24];         /* az-id */
	char session[32];    /* tms-..., from the sessions JSON */
	char filter[32];     /* tmf-..., from the sessions JSON */
	uint32_t packet_length; /* the session's PacketLength (truncation), 0 = whole packets */
	tv_addr addrs[REPORT_IFACE_MAX_ADDRS]; /* the interface's addresses, primary first */
	size_t naddrs;
	bool learned;        /* true: no map entry; name and address were learned from traffic */
} report_iface;

typedef struct report_vnimap report_vnimap;

/* An empty map (every VNI unknown).  0 or TV_E_NOMEM. */
int report_vnimap_new(report_vnimap **out);
/*
 * Adds a file to the map: the text format (above), the
 * describe-traffic-mirror-sessions JSON (TrafficMirrorSessions[]), or the
 * describe-network-interfaces JSON (NetworkInterfaces[]: addresses, subnet,
 * VPC, AZ, instance for ENIs the map names); one JSON object may hold both
 * arrays.  The kind is detected from the content (a '{' first: JSON).
 * Returns 0; TV_E_SYNTAX with err (cap bytes) = "FILE:LINE: what was
 * expected, found 'word'" or "FILE: JSON.PATH: what was expected"; an errno
 * when the file cannot be read; TV_E_NOMEM.  Nothing is added on error.
 */
int report_vnimap_load(report_vnimap *m, const char *path, char *err, size_t cap);
/* The same from a buffer; name is used in messages only. */
int report_vnimap_load_mem(report_vnimap *m, const char *name, const char *text, size_t len,
                           char *err, size_t cap);
/* Entries defined by loaded files (not learned). */
size_t report_vnimap_count(const report_vnimap *m);
/* The i-th entry in VNI order (learned ones included), NULL past the end.
 * Valid until the map is freed. */
const report_iface *report_vnimap_at(const report_vnimap *m, size_t i);
/* The entry for a VNI, or NULL. Valid until the map is freed. */
const report_iface *report_vnimap_find(const report_vnimap *m, uint32_t vni);
/* Entry for a VNI, creating a learned one (name "vni-<N>", no addresses,
 * learned = true) when the map has none.  NULL only on allocation failure.
 * Valid until the map is freed. */
const report_iface *report_vnimap_get(report_vnimap *m, uint32_t vni);
/*
 * Learning, for interfaces without addresses (learned entries, and map
 * entries that give none): report_vnimap_learn() counts, per VNI, in how
 * many flow records each address appears as source or destination;
 * report_vnimap_learn_finish() then gives each such interface, per address
 * family, the address seen in the most records (ties: the mirror source
 * address given to report_vnimap_learn_outer() when it is one of them, else
 * the lowest address), IPv4 first.  Calls for interfaces with addresses are
 * ignored.  Allocates only when its table grows (amortised; no allocation
 * per call once warm); an allocation failure makes the learning incomplete
 * and report_vnimap_learn_error() return TV_E_NOMEM (sticky until finish).
 */
void report_vnimap_learn(report_vnimap *m, uint32_t vni, const tv_addr *src, const tv_addr *dst);
/* The mirror source (outer IP source) of a VNI's record: AWS sends a
 * session's copies from the source ENI's primary IPv4, so it breaks ties. */
void report_vnimap_learn_outer(report_vnimap *m, uint32_t vni, const tv_addr *outer);
int report_vnimap_learn_error(const report_vnimap *m);
void report_vnimap_learn_finish(report_vnimap *m);
/* Whether addr is one of the interface's addresses (direction: egress when
 * the flow's srcaddr is the interface's, ingress when the dstaddr is). */
bool report_iface_has_addr(const report_iface *ifc, const tv_addr *addr);
void report_vnimap_free(report_vnimap *m); /* accepts NULL */

/* =====================================================================
 * Flow records out  (report/flowout.c)
 *
 * Stored flow records (tv_flowrec) as VPC Flow Log records: the codec above
 * writes them, so every output parses back with report_flowlog_parse_line().
 * ===================================================================== */

/*
 * Fills rec from a stored record r of interface ifc (from the VNI map),
 * for the fields of fmt:
 *   version      report_format_version(fmt)
 *   account-id, region: the map's, else def_account / def_region (NULL: '-')
 *   interface-id ifc->name; vpc-id subnet-id instance-id az-id: map or '-'
 *   srcaddr/dstaddr: the packet's, except that the interface's side shows
 *                the interface's primary IPv4 when the packet used another
 *                IPv4 of the interface (reference §1.4)
 *   pkt-srcaddr/pkt-dstaddr: the packet's
 *   flow-direction egress when srcaddr is the interface's, ingress when
 *                dstaddr is, '-' when neither
 *   type IPv4|IPv6; tcp-flags as stored (0 for non-TCP); action ACCEPT;
 *   log-status OK; every other field '-'.
 * rec's strings borrow from ifc, def_account and def_region.
 */
void report_flowrec_to_fl(const tv_flowrec *r, const report_iface *ifc,
                          const report_fl_format *fmt, const char *def_account,
                          const char *def_region, report_fl_rec *rec);

/*
 * Writes rec as one JSON object (no newline): keys are the format's field
 * names, numbers as numbers, '-' as null; then the non-AWS keys "vni"
 * (number, null when untunnelled) and "outer_src" (the mirror source
 * address, null when none) from r.  Returns like
 * report_flowlog_format_line().
 */
int report_flowrec_json(const report_fl_format *fmt, const report_fl_rec *rec,
                        const tv_flowrec *r, char *buf, size_t cap, size_t *len);

/* S3 layout writer (reference §1.8). */
typedef struct report_s3_cfg {
	const char *dir;          /* DIR: files go to DIR/AWSLogs/... */
	const char *account;      /* path account, e.g. "123456789012" */
	const char *region;       /* path region, e.g. "us-east-1" */
	const char *flow_log_id;  /* e.g. "fl-tapvault" */
	const report_fl_format *fmt; /* for the header line; copied */
	uint64_t max_file_bytes;  /* start another file of the period past this many
	                           * compressed bytes; 0: 75,000,000 as AWS */
} report_s3_cfg;

typedef struct report_s3 report_s3;

/* Validates the cfg (names must be non-empty and free of '/', '_' and
 * blanks except the region's dashes) and creates the writer.  Nothing is
 * written before the first record.  0, TV_E_SYNTAX (err says which), TV_E_NOMEM. */
int report_s3_open(const report_s3_cfg *cfg, report_s3 **out, char *err, size_t cap);
/*
 * Appends one record line (len bytes, no newline) to the file of the
 * 5-minute period that holds `end` (the record's end time), opening it
 * (with the header line) when needed.  Returns 0 or an error with
 * report_s3_error() naming the file.
 */
int report_s3_write(report_s3 *s, uint32_t end, const char *line, size_t len);
/* Finishes the files of every period that ends at or before t (their
 * records are complete): gzip trailer, then the final name
 * <account>_vpcflowlogs_<region>_<id>_<YYYYMMDDTHHmmZ>_<hash>.log.gz where
 * hash is the first 8 hex digits of the SHA-256 of the uncompressed text. */
int report_s3_close_before(report_s3 *s, uint64_t t);
/* Finishes every open file.  Returns the first error. */
int report_s3_finish(report_s3 *s);
/* Files finished so far, records written. */
void report_s3_counts(const report_s3 *s, uint64_t *files, uint64_t *records);
/* The last error as a sentence; "" when none.  Valid until the next call. */
const char *report_s3_error(const report_s3 *s);
/* Removes unfinished temporary files and frees; accepts NULL. */
void report_s3_free(report_s3 *s);

/* =====================================================================
 * Mirror configuration: filters and sessions  (report/mirrorcfg.c)
 *
 * The JSON that `aws ec2 describe-traffic-mirror-filters` and
 * `describe-traffic-mirror-sessions` print (reference §2.8), read with
 * jansson.  Filter rules are evaluated as AWS does (reference §2.2, §2.3):
 * per direction, in ascending rule number, the first matching rule decides
 * (accept: mirrored, reject: not); no matching rule means not mirrored;
 * the network service amazon-dns mirrors all Amazon DNS traffic.  Of the
 * sessions of one ENI the one with the lowest session number whose filter
 * accepts the packet mirrors it.
 * ===================================================================== */

#define REPORT_MIRROR_MAX_RULES 64     /* per direction and filter (AWS allows 10) */
/* Filters and sessions held (AWS allows 10,000 of each per account and
 * region); a filter takes about 8 KB */
#define REPORT_MIRROR_MAX_FILTERS 10000
#define REPORT_MIRROR_MAX_SESSIONS 65536

typedef struct report_mirror_rule {
	uint32_t number;      /* RuleNumber */
	bool accept;          /* RuleAction accept (else reject) */
	int16_t protocol;     /* -1: any */
	tv_addr src, dst;     /* CIDR bases (IPv4 mapped) */
	uint8_t src_len, dst_len; /* prefix lengths on the 128-bit form */
	bool src_v6, dst_v6;
	int32_t sport_lo, sport_hi, dport_lo, dport_hi; /* -1: any */
	char id[32];          /* TrafficMirrorFilterRuleId */
} report_mirror_rule;

typedef struct report_mirror_filter {
	char id[32];          /* tmf-... */
	bool amazon_dns;      /* NetworkServices has "amazon-dns" */
	size_t ningress, negress;
	report_mirror_rule ingress[REPORT_MIRROR_MAX_RULES]; /* sorted by number */
	report_mirror_rule egress[REPORT_MIRROR_MAX_RULES];
} report_mirror_filter;

typedef struct report_mirror_session {
	char id[32];          /* tms-... */
	char eni[32];         /* NetworkInterfaceId */
	char filter[32];      /* TrafficMirrorFilterId */
	char target[32];      /* TrafficMirrorTargetId */
	uint32_t vni;         /* VirtualNetworkId */
	uint32_t number;      /* SessionNumber (1 = first) */
	uint32_t packet_length; /* 0: whole packets */
} report_mirror_session;

typedef struct report_mirrorcfg report_mirrorcfg;

int report_mirrorcfg_new(report_mirrorcfg **out);
void report_mirrorcfg_free(report_mirrorcfg *m); /* accepts NULL */
/* Adds the filters of a describe-traffic-mirror-filters JSON file (or a
 * single filter object).  TV_E_FORMAT with err naming the file, the JSON
 * path and what was expected. */
int report_mirrorcfg_load_filters(report_mirrorcfg *m, const char *path, char *err, size_t cap);
/* Adds the sessions of a describe-traffic-mirror-sessions JSON file. */
int report_mirrorcfg_load_sessions(report_mirrorcfg *m, const char *path, char *err, size_t cap);
/* Same, from text in memory (tests, fuzzing); name is used in messages. */
int report_mirrorcfg_load_filters_text(report_mirrorcfg *m, const char *text, size_t len,
                                       const char *name, char *err, size_t cap);
int report_mirrorcfg_load_sessions_text(report_mirrorcfg *m, const char *text, size_t len,
                                        const char *name, char *err, size_t cap);

size_t report_mirrorcfg_nfilters(const report_mirrorcfg *m);
size_t report_mirrorcfg_nsessions(const report_mirrorcfg *m);
/* i-th filter / session in load order; NULL when out of range.  Valid until
 * the next load or free. */
const report_mirror_filter *report_mirrorcfg_filter(const report_mirrorcfg *m, size_t i);
const report_mirror_session *report_mirrorcfg_session(const report_mirrorcfg *m, size_t i);
const report_mirror_filter *report_mirrorcfg_filter_find(const report_mirrorcfg *m, const char *id);

enum report_mirror_verdict {
	REPORT_MIRROR_UNKNOWN = 0,   /* nothing loaded that applies */
	REPORT_MIRROR_ACCEPTED,      /* a rule (or amazon-dns) says mirror */
	REPORT_MIRROR_REJECTED,      /* the first matching rule is a reject rule */
	REPORT_MIRROR_NO_RULE,       /* no rule of the direction matches */
	REPORT_MIRROR_NO_SESSION,    /* sessions are loaded and none has this ENI */
};

enum report_mirror_dir { REPORT_MIRROR_INGRESS = 1, REPORT_MIRROR_EGRESS = 2 };

typedef struct report_mirror_decision {
	int verdict;              /* enum report_mirror_verdict */
	uint32_t rule_number;     /* the deciding rule, 0 when none */
	bool by_amazon_dns;       /* decided by the amazon-dns network service */
	const char *filter_id;    /* borrowed; "" when none */
	const char *session_id;   /* borrowed; "" when none */
	uint32_t vni;             /* of the deciding session; TV_VNI_NONE when none */
} report_mirror_decision;

/*
 * Decides whether AWS would mirror a packet of flow k on interface eni in
 * direction dir (enum report_mirror_dir).  amazon_dns says the flow is
 * Amazon DNS traffic (the caller knows the VPC's resolver address).  When
 * no sessions are loaded and exactly one filter is, that filter applies to
 * every interface.  Ports are compared only for TCP (6) and UDP (17).
 */
void report_mirrorcfg_eval(const report_mirrorcfg *m, const char *eni, int dir, const tv_5tuple *k,
                           bool amazon_dns, report_mirror_decision *d);
/* "accepted", "rejected", "no_rule", "no_session", "unknown". */
const char *report_mirror_verdict_name(int v);

/* =====================================================================
 * Payload look  (report/payload.c)
 *
 * What a flow log cannot show, read from the first payload bytes of stored
 * packets: the application protocol actually spoken, TLS server names,
 * HTTP hosts and methods, DNS names asked, SSH banners, and cleartext
 * credentials (HTTP Basic, FTP/POP3 USER/PASS, IMAP LOGIN, Telnet).  One
 * packet at a time, no reassembly: the first segment of each of these
 * messages carries what we look for.  Every parser is a bounds-checked
 * cursor over untrusted bytes (STYLE.md §4).
 * ===================================================================== */

enum report_app {
	REPORT_APP_UNKNOWN = 0,
	REPORT_APP_TLS,
	REPORT_APP_HTTP,
	REPORT_APP_DNS,
	REPORT_APP_SSH,
	REPORT_APP_FTP,
	REPORT_APP_POP3,
	REPORT_APP_IMAP,
	REPORT_APP_TELNET,
	REPORT_APP_SMTP,
	REPORT_APP__COUNT
};

/* "tls", "http", ... ; "unknown". */
const char *report_app_name(int app);
/* The application the port is registered for (80/8080/8000 http, 443/8443/
 * 993/995/465 tls, 22 ssh, 53 dns, 21 ftp, 110 pop3, 143 imap, 23 telnet,
 * 25/587 smtp); REPORT_APP_UNKNOWN for other ports. */
int report_app_by_port(uint16_t port);

enum report_cred {
	REPORT_CRED_NONE = 0,
	REPORT_CRED_HTTP_BASIC,    /* user and secret from the decoded header */
	REPORT_CRED_FTP_USER,      /* USER name (FTP or POP3) */
	REPORT_CRED_FTP_PASS,      /* PASS secret (FTP or POP3) */
	REPORT_CRED_IMAP_LOGIN,    /* tag LOGIN user secret */
	REPORT_CRED_TELNET,        /* a cleartext login prompt in a Telnet session */
};

#define REPORT_PL_TEXT 128

/* What one packet's payload shows.  Strings are NUL-terminated, printable
 * ASCII (other bytes are written as '?'), truncated to fit. */
typedef struct report_payload {
	int app;                          /* enum report_app, UNKNOWN when nothing matched */
	int cred;                         /* enum report_cred */
	char sni[REPORT_PL_TEXT];         /* TLS ClientHello server_name */
	char host[REPORT_PL_TEXT];        /* HTTP Host header */
	char method[16];                  /* HTTP request method */
	char path[REPORT_PL_TEXT];        /* HTTP request target */
	char dns_name[REPORT_PL_TEXT];    /* first DNS question name */
	uint16_t dns_qtype;
	char banner[REPORT_PL_TEXT];      /* SSH banner or server greeting line */
	char user[64];                    /* credential user name */
	char secret[64];                  /* credential secret (callers redact) */
} report_payload;

/*
 * Looks at one packet's L4 payload (n bytes; proto 6 or 17; the ports say
 * which parsers are worth trying first, but every detector runs, so a
 * protocol on a foreign port is found).  Returns the detected app (also in
 * out->app).  Never reads outside [p, p + n).
 */
int report_payload_look(const uint8_t *p, size_t n, uint8_t proto, uint16_t sport, uint16_t dport,
                        report_payload *out);

/* The L4 payload of a stored Ethernet frame whose l3info is given: *off and
 * *len; false when the frame has no TCP/UDP payload (or is a later fragment). */
bool report_payload_locate(const uint8_t *frame, uint32_t caplen, const tv_l3info *info,
                           size_t *off, size_t *len);

/* Writes s redacted: first character, then '*' for the rest (at most 8),
 * e.g. "W*******".  "" stays "". */
void report_redact(const char *s, char *out, size_t cap);

/* =====================================================================
 * The audit: flow logs against the archive  (report/audit.c)
 *
 * Every (interface, unidirectional 5-tuple) seen on either side over the
 * audit period is one flow, and every flow gets exactly one class with one
 * reason (doc-drafts/audit.md has the rules).
 * ===================================================================== */

#include <stdio.h>

struct idx_rstore;

enum report_audit_class {
	REPORT_AC_MATCHED = 0,
	REPORT_AC_MIRROR_FEWER,    /* counts differ: the mirror saw fewer */
	REPORT_AC_MIRROR_MORE,     /* counts differ: the mirror saw more */
	REPORT_AC_FLOWLOG_ONLY,
	REPORT_AC_MIRROR_ONLY,
	REPORT_AC__COUNT
};

enum report_audit_reason {
	REPORT_AR_NONE = 0,              /* matched */
	/* mirror saw fewer */
	REPORT_AR_MIRROR_LOSS,           /* mirror copies dropped (congestion), no ingest loss counted */
	REPORT_AR_INGEST_LOSS,           /* ingest counted losses (summary.ingest_loss names them) */
	/* mirror saw more / mirror only */
	REPORT_AR_SKIPDATA,              /* windows the flow log marked SKIPDATA */
	REPORT_AR_NODATA,                /* windows the flow log marked NODATA */
	REPORT_AR_OUTSIDE_COVERAGE,      /* outside the flow log's time span for the interface */
	REPORT_AR_FLOWLOG_LOSS,          /* the flow log counted less, unexplained */
	REPORT_AR_NOT_LOGGED_AMAZON_DNS, /* to/from the VPC resolver (base+2, 169.254.169.253) */
	REPORT_AR_NOT_LOGGED_IMDS,       /* 169.254.169.254 */
	REPORT_AR_NOT_LOGGED_TIME_SYNC,  /* 169.254.169.123 */
	REPORT_AR_NOT_LOGGED_DHCP,       /* UDP 67/68 */
	REPORT_AR_NOT_LOGGED_WINDOWS_ACTIVATION, /* TCP 1688 (KMS) */
	REPORT_AR_NOT_LOGGED_VPC_ROUTER, /* VPC base+1 */
	/* flow log only */
	REPORT_AR_REJECT,                /* action REJECT: dropped before mirroring */
	REPORT_AR_FILTER_EXCLUDED,       /* the mirror filter does not mirror it */
	REPORT_AR_NOT_MIRRORED_IFACE,    /* no mirror session for the interface */
	REPORT_AR_TIME_NOT_COVERED,      /* outside the archive's time span */
	REPORT_AR_UNEXPLAINED,           /* a gap: nothing explains it */
	REPORT_AR__COUNT
};

const char *report_audit_class_name(int c);   /* "matched", "mirror_fewer", ... */
const char *report_audit_reason_name(int r);  /* "", "mirror_loss", ... */
/* A sentence for a person saying what the reason means and what to check. */
const char *report_audit_reason_text(int r);
int report_audit_class_find(const char *name); /* -1 when unknown */

typedef struct report_audit_cfg {
	const char *const *flow_logs;    /* paths (files, dirs, archives, "-") */
	size_t nflow_logs;
	const report_fl_format *format;  /* --log-format; NULL: header or default */
	report_vnimap *map;              /* may be NULL; learned entries are added */
	const report_mirrorcfg *mirror;  /* may be NULL */
	uint32_t from, to;               /* audit period, unix seconds; 0/UINT32_MAX: all */
	double tolerance_pct;            /* default 5 */
	uint32_t lag;                    /* seconds of AWS start/end lag tolerated; default 60 */
	bool have_vpc_cidr;              /* else derived from the map's addresses */
	tv_addr vpc_base;                /* network address (IPv4 mapped) */
	uint8_t vpc_prefix;              /* on the 128-bit form */
	size_t max_flows;                /* cap on distinct flows; default 4,000,000 */
	bool payload;                    /* read stored packets for payload findings; default true */
	uint32_t payload_packets;        /* payload packets looked at per flow; default 8 */
	size_t max_rejects;              /* rejected flow-log lines kept for the report; default 100 */
	uint64_t max_log_bytes;          /* reader's max_bytes; 0: REPORT_FL_MAX_BYTES_DEFAULT */
	/* Progress, for a terminal: called every 65536 flow-log lines and every
	 * 65536 stored packets looked at; phase is "flow-log lines" or "packets". */
	void (*progress)(void *ctx, const char *phase, uint64_t done);
	void *progress_ctx;
} report_audit_cfg;

void report_audit_cfg_default(report_audit_cfg *cfg);

typedef struct report_audit_flow {
	tv_5tuple key;
	uint32_t vni;            /* TV_VNI_NONE for an interface without a session */
	uint32_t iface;          /* index into the interfaces */
	uint8_t cls;             /* enum report_audit_class */
	uint8_t reason;          /* enum report_audit_reason */
	uint8_t direction;       /* enum report_mirror_dir, 0 unknown */
	uint8_t verdict;         /* enum report_mirror_verdict of the filter */
	uint8_t fl_flags, m_flags;
	uint8_t pad[2];
	uint32_t rule_number;
	uint32_t fl_records, fl_reject_records, m_records;
	uint32_t fl_first, fl_last;   /* flow-log start/end, unix seconds; 0 when none */
	uint32_t m_first, m_last;     /* mirror first/last packet seconds; 0 when none */
	uint64_t fl_packets, fl_bytes;             /* ACCEPT records */
	uint64_t fl_reject_packets, fl_reject_bytes;
	uint64_t m_packets, m_bytes;
	uint64_t m_skip_packets, m_nodata_packets, m_outside_packets; /* mirror packets explained */
	uint64_t m_skip_bytes, m_nodata_bytes, m_outside_bytes;
	uint64_t fl_outside_packets, fl_outside_bytes; /* ACCEPT counts outside the archive's span */
	int32_t finding;         /* index of the payload finding, -1 none */
	uint32_t payload_looked; /* payload packets looked at */
} report_audit_flow;

typedef struct report_audit_iface {
	char eni[32];            /* "" when only a VNI is known */
	uint32_t vni;            /* TV_VNI_NONE when the ENI has no session */
	bool learned;            /* the ENI<->VNI binding was learned from addresses */
	bool in_flowlog, in_mirror;
	uint32_t fl_first, fl_last;   /* flow-log coverage (start/end of its records) */
	uint32_t m_first, m_last;
	uint64_t fl_bytes, m_bytes, flows;
	uint32_t skip_windows, nodata_windows;
} report_audit_iface;

typedef struct report_audit_finding {
	uint32_t flow;           /* index of the flow */
	int app;                 /* enum report_app detected */
	int port_app;            /* what the service port says */
	bool mismatch;           /* app known, port_app known, and different */
	int cred;                /* strongest enum report_cred seen */
	char sni[REPORT_PL_TEXT], host[REPORT_PL_TEXT], method[16], path[REPORT_PL_TEXT];
	char dns_names[256];     /* distinct names, space separated */
	char banner[REPORT_PL_TEXT];
	char user[64], secret[64]; /* not redacted: writers redact unless asked */
	uint32_t packets_looked;
} report_audit_finding;

/* A rejected flow-log line kept for the report. */
typedef struct report_audit_reject {
	char file[256];
	uint64_t line;
	int reason;              /* enum report_fl_reason */
	char msg[192];
} report_audit_reject;

typedef struct report_audit_summary {
	uint32_t from, to;                 /* the period audited (after defaults) */
	uint64_t flows;
	uint64_t by_class[REPORT_AC__COUNT];
	uint64_t by_reason[REPORT_AC__COUNT][REPORT_AR__COUNT];
	uint64_t fl_bytes, m_bytes, fl_packets, m_packets;
	uint64_t mirror_records, flowlog_records_used, flowlog_records_outside_period;
	uint64_t flows_dropped_cap;        /* flows not audited because max_flows was hit */
	uint64_t findings, findings_dropped, credentials, mismatches;
	uint64_t payload_packets_scanned;
	report_fl_stats reader;            /* the flow-log reader's counters */
	tv_counters ingest;                /* idx_counters_get of the store */
	bool have_ingest;
	/* the ingest-side loss counters of the store that are non-zero
	 * ("store.no_space.packets 4152, live.kernel_drops 12"); when there
	 * are any, mirror_fewer is put down to ingest_loss.  "" when none */
	char ingest_loss[512];
	tv_addr vpc_base;
	uint8_t vpc_prefix;
	bool have_vpc;
	uint32_t series_step;              /* seconds per point of the series */
	size_t series_n;
} report_audit_summary;

typedef struct report_audit report_audit;

/*
 * Runs the audit of one store: reads the store's flow records (twice: once
 * to collect, once to place them against the flow log's coverage), streams
 * the flow logs, classifies every flow, and (cfg->payload) reads the stored
 * packets of the period once for payload findings.  Memory: bounded by
 * cfg->max_flows flows and the number of interfaces; flows past the cap are
 * counted, not audited.  err (cap bytes) explains a failure.
 * Returns 0, TV_E_NOMEM, TV_E_RANGE (bad cfg) or a store error.
 */
int report_audit_run(struct idx_rstore *rs, const report_audit_cfg *cfg, report_audit **out,
                     char *err, size_t cap);
void report_audit_free(report_audit *a); /* accepts NULL */

const report_audit_summary *report_audit_summary_get(const report_audit *a);
size_t report_audit_nflows(const report_audit *a);
const report_audit_flow *report_audit_flow_get(const report_audit *a, size_t i);
size_t report_audit_nifaces(const report_audit *a);
const report_audit_iface *report_audit_iface_get(const report_audit *a, size_t i);
size_t report_audit_nfindings(const report_audit *a);
const report_audit_finding *report_audit_finding_get(const report_audit *a, size_t i);
size_t report_audit_nrejects(const report_audit *a);
const report_audit_reject *report_audit_reject_get(const report_audit *a, size_t i);
/* Bytes per series_step from each side; i < series_n; t = from + i*step. */
void report_audit_series_get(const report_audit *a, size_t i, uint32_t *t, uint64_t *fl_bytes,
                             uint64_t *m_bytes);

/* =====================================================================
 * Audit reports  (report/audit_out.c)
 * ===================================================================== */

enum report_audit_fmt { REPORT_AF_HTML = 1, REPORT_AF_MD, REPORT_AF_JSON, REPORT_AF_CSV };

typedef struct report_audit_out_cfg {
	int format;               /* enum report_audit_fmt */
	bool show_secrets;        /* credentials in clear (default: redacted) */
	const char *store;        /* store path, for the ready `tapvault query` commands */
	const char *command;      /* the command line, shown in the report; may be NULL */
	size_t max_rows;          /* rows per class table in HTML/Markdown; default 200 */
} report_audit_out_cfg;

/* REPORT_AF_* from a file name's extension (.html/.htm, .md, .json, .csv); 0 unknown. */
int report_audit_fmt_from_name(const char *path);
/* Writes the report to f.  Returns 0 or an errno value on a write error. */
int report_audit_write(const report_audit *a, const report_audit_out_cfg *cfg, FILE *f);
/* The `tapvault query` expression that pulls one flow's packets. */
void report_audit_flow_expr(const report_audit *a, const report_audit_flow *fl, char *buf, size_t cap);

/* =====================================================================
 * Case bundles  (report/bundle.c)
 *
 * A bundle is one archive (tar.zst, tar.gz or zip, chosen by the file name)
 * with flat members: packets.pcap, flows.log and manifest.json (written
 * last; it holds every other member's size and SHA-256, the store's
 * identity, the query and the source chunks).  The schema is in
 * doc-drafts/bundles.md.
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

#define REPORT_CUSTODY_FILE "custody.log"
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

#endif
