/*
 * audit.h — the audit in report/: the payload look (report/payload.c),
 * the join of flow logs against the archive with one class and reason per
 * flow (report/audit.c) and the report writers: HTML, Markdown, JSON, CSV
 * (report/audit_out.c).  Prefix: report_.
 */
#ifndef REPORT_AUDIT_H
#define REPORT_AUDIT_H

#include <stdio.h>

#include "vpc.h"

/* =====================================================================
 * Payload look  (report/payload.c)
 *
 * What a flow log cannot show, read from the first payload bytes of stored
 * packets: the application protocol actually spoken, TLS server names,
 * HTTP hosts and methods, DNS names asked, SSH banners, and cleartext
 * credentials (HTTP Basic, FTP/POP3 USER/PASS, IMAP LOGIN, Telnet).  One
 * packet at a time, no reassembly: the first segment of each of these
 * messages carries what we look for.  Every parser is a bounds-checked
 * cursor over untrusted bytes.
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
 * reason (the README's `tapvault audit` section has the rules).
 * ===================================================================== */

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

/*
 * --fail-on: evaluates a list of items (separated by commas or blanks)
 * against an audit's summary.  An item is a class ("mirror_only"),
 * CLASS:REASON ("flowlog_only:unexplained"), counts_differ (a flow in
 * mirror_fewer or mirror_more), gap (a flow of any class whose reason is
 * unexplained or flowlog_loss), credentials, protocol_mismatch, or any (a
 * flow of any class but matched).  s NULL: only checks the list.  hits
 * (hcap bytes; may be NULL) gets the items present, comma-separated, in
 * list order ("" when none).  Returns how many items are present (0 when
 * s is NULL), or TV_E_SYNTAX with bad (cap bytes) holding the first item
 * that is none of these.
 */
int report_audit_fail_on(const report_audit_summary *s, const char *list, char *hits, size_t hcap,
                         char *bad, size_t cap);
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

#endif
