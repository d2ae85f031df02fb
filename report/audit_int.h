/*
 * audit_int.h — the audit's state, shared by audit.c (steps A, C, D, E and
 * the run) and audit_flowlog.c (step B: reading the flow logs).  Only
 * those two files include it.
 */
#ifndef REPORT_AUDIT_INT_H
#define REPORT_AUDIT_INT_H

#include "audit.h"
#include "../index/idx.h"

/* ------------------------------------------------------------ state */

#define MAX_IFACES 65536
#define MAX_STATUS 1000000   /* SKIPDATA/NODATA windows kept */
#define MAX_FINDINGS 200000
#define SERIES_CAP (1u << 20) /* distinct minutes in the series */

typedef struct status_win {
	uint32_t iface, start, end;
	uint8_t status; /* REPORT_FL_STATUS_SKIPDATA / _NODATA */
} status_win;

typedef struct series_pt {
	uint32_t minute; /* unix minute + 1 (0 = empty) */
	uint64_t fl, m;
} series_pt;

/* Address votes of an interface-id that no map or session names: which
 * VNI interfaces own the addresses of its records. */
#define VOTE_CANDS 4
typedef struct iface_votes {
	uint32_t cand[VOTE_CANDS]; /* iface index + 1 */
	uint64_t n[VOTE_CANDS];
} iface_votes;

struct report_audit {
	report_audit_cfg cfg;
	iface_votes *votes; /* parallel to ifaces */
	report_audit_summary sum;
	report_vnimap *map;
	bool own_map;

	report_audit_flow *flows;
	size_t nflows, capflows;
	uint32_t *fh; /* flow index + 1 */
	size_t fhcap;

	report_audit_iface *ifaces;
	size_t nifaces, capifaces;
	uint32_t *eh; /* by ENI name */
	uint32_t *vh; /* by VNI */
	size_t ihcap;

	status_win *status;
	size_t nstatus, capstatus;

	report_audit_finding *findings;
	size_t nfindings, capfindings;

	report_audit_reject *rejects;
	size_t nrejects;

	series_pt *ser;
	size_t sercap, sern;
	uint64_t ser_dropped;
	/* folded series */
	uint32_t *ser_t;
	uint64_t *ser_fl, *ser_m;

	uint32_t arch_first, arch_last; /* archive span, seconds */
	bool arch_empty;
	bool ingest_loss;
	idx_expr *period; /* "after from and before to + 1 s": which mirror records count */
	int err;
};

/* Interfaces: by ENI name (-1 when absent); add one (its index, or -1 when
 * out of memory or past MAX_IFACES, with a->err set); rebuild the hash
 * tables at cap slots. */
int audit_iface_rehash(report_audit *a, size_t cap);
long audit_iface_by_eni(const report_audit *a, const char *eni);
long audit_iface_add(report_audit *a, const char *eni, uint32_t vni);
/* Flows: rebuild the table at cap slots; find (and with create, add) the
 * flow of iface and k, NULL when absent or past the cap. */
int audit_flows_rehash(report_audit *a, size_t cap);
report_audit_flow *audit_flow_get(report_audit *a, uint32_t iface, const tv_5tuple *k, bool create);
/* Adds fl flow-log bytes and m mirror bytes to the minute of t. */
void audit_series_add(report_audit *a, uint32_t t, uint64_t fl, uint64_t m);
/* Step B: streams every flow-log file of the configuration. */
int audit_read_flowlogs(report_audit *a, char *err, size_t cap);

#endif
