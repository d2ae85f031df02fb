/*
 * vpc.h — what stands behind the mirror, in report/: the VNI map (which
 * interface, account and addresses each VNI carries; report/vnimap.c), the
 * store's flow records written as that VPC's flow logs, also in AWS's S3
 * layout (report/flowout.c), and the mirror configuration: filters and
 * sessions as the AWS CLI describes them (report/mirrorcfg.c).
 * Prefix: report_.  Used by flows and audit.
 */
#ifndef REPORT_VPC_H
#define REPORT_VPC_H

#include "flowlog.h"

#include <stdio.h>

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
/* The same from an open descriptor, which it takes over (closed on return);
 * name is used in messages only. */
int report_vnimap_load_fd(report_vnimap *m, int fd, const char *name, char *err, size_t cap);

/* The VNI maps ingest keeps in STORE/vnimap/, loaded by
 * report_vnimap_load_kept (report/vnimap_kept.c). */
#define REPORT_VNIMAP_KEPT_MAX 64
typedef struct report_vnimap_kept {
	size_t n;                 /* maps kept in the folder (may be > the max) */
	char dir[4096];           /* STORE/vnimap, for messages */
	char names[1024];         /* the names loaded, ", "-separated (cut when long) */
	bool content;             /* the error is a kept map's content (not its reading) */
	char err[4800];           /* the error as a sentence: which file and what */
} report_vnimap_kept;

/*
 * Loads every regular file in STORE/vnimap/ into m, in name order,
 * through descriptors (store_vnimap_list and store_vnimap_open: never a
 * link, never blocking on a FIFO).  A store without the folder has none
 * (k->n 0).  Returns 0; TV_E_RANGE when it holds more than
 * REPORT_VNIMAP_KEPT_MAX files (none loaded) or the path is too long; the
 * error of reading the folder or opening a file; or the error of
 * report_vnimap_load_fd for a file whose content is bad (k->content set).
 * k->err then says which and why.  Maps loaded before a failing one stay
 * in m.
 */
int report_vnimap_load_kept(report_vnimap *m, const char *store, report_vnimap_kept *k);
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
 *                IPv4 of the interface (AWS, "Flow log records":
 *                srcaddr/dstaddr of an interface with several addresses)
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

/* S3 layout writer (AWS, "Publish flow logs to Amazon S3":
 * https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-s3.html). */
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

/* ------------------------------------------- `flows`: one call per run */

struct idx;
struct idx_expr;

/* What the S3 paths say when neither the caller nor the map says more. */
#define REPORT_FLOWS_DEFAULT_ACCOUNT "123456789012"
#define REPORT_FLOWS_DEFAULT_REGION "us-east-1"
#define REPORT_FLOWS_DEFAULT_FLOW_LOG_ID "fl-tapvault"

enum report_flows_form {
	REPORT_FLOWS_AWS = 0, /* the format's space-separated lines */
	REPORT_FLOWS_JSON,    /* report_flowrec_json, one object per line */
	REPORT_FLOWS_CSV,     /* a header row, then the lines with commas */
};

typedef struct report_flows_opts {
	struct idx *const *xs;        /* the stores, open; at most 64 */
	int nx;
	const struct idx_expr *expr;  /* which records (idx_flows_read_merged) */
	report_vnimap *map;           /* the interfaces; learned into when a
	                               * field needs the interface's address */
	const report_fl_format *fmt;
	int form;                     /* enum report_flows_form */
	bool header;                  /* AWS: the header line first */
	const char *account, *region; /* for records the map does not place
	                               * (NULL: '-'), and the S3 path's */
	/* s3_dir NULL: lines to out; else gzip files in AWS's S3 layout under
	 * s3_dir (form must be AWS); the path's account and region are
	 * account/region, else the map's first, else the defaults above */
	FILE *out;
	const char *s3_dir;
	const char *flow_log_id;      /* NULL: REPORT_FLOWS_DEFAULT_FLOW_LOG_ID */
} report_flows_opts;

enum report_flows_step {
	REPORT_FLOWS_STEP_NONE = 0,
	REPORT_FLOWS_STEP_LEARN,   /* reading store `store` for the interfaces' addresses */
	REPORT_FLOWS_STEP_S3_OPEN, /* the S3 options (err says which) */
	REPORT_FLOWS_STEP_WRITE,   /* reading records or writing them (err: the S3
	                            * file, "" for out) */
};

typedef struct report_flows_result {
	int step;                  /* enum report_flows_step that failed */
	int store;                 /* STEP_LEARN: the index into xs */
	char err[4400];
	uint32_t from, to;         /* window starts read */
	uint64_t read, merged;     /* stored records read, merged into others */
	uint64_t written;          /* records written */
	uint64_t s3_files;         /* S3 files finished */
} report_flows_result;

/*
 * Writes the stored flow records of the stores that match expr, merged as
 * AWS writes one record per flow, interface and window, ordered by start
 * time, VNI, mirror source and 5-tuple, in the form asked for.  When a
 * field of fmt depends on the interface's addresses (srcaddr, dstaddr,
 * flow-direction), the records of the expression's windows are read once
 * before to learn the addresses of interfaces the map gives none.
 * Returns 0 or the error of the step res->step.  Nothing is printed.
 */
int report_flows_write(const report_flows_opts *o, report_flows_result *res);

/* =====================================================================
 * Mirror configuration: filters and sessions  (report/mirrorcfg.c)
 *
 * The JSON that `aws ec2 describe-traffic-mirror-filters` and
 * `describe-traffic-mirror-sessions` print, read with jansson.  Filter
 * rules are evaluated as AWS's Traffic Mirroring guide says ("Traffic
 * mirror filters", "Traffic mirror sessions";
 * https://docs.aws.amazon.com/vpc/latest/mirroring/):
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

#endif
