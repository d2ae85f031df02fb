/*
 * idx_int.h — internals shared by the files of index/ (and its tests and
 * fuzz targets).  Nothing outside index/ and tests/ includes this.
 *
 * Byte layouts are specified in store/FORMAT.md ("Index").
 */
#ifndef IDX_INT_H
#define IDX_INT_H

#include "idx.h"

#include <lmdb.h>

/* --------------------------------------------------------- environment */

struct pent;

struct idx {
	MDB_env *env;
	MDB_dbi db_meta, db_sources, db_counters;
	/* the chunks, slices and postings (index/idx2.h) */
	MDB_dbi db2_chunks, db2_slices, db2_stime, db2_post, db2_opost, db2_segs;
	MDB_dbi db2_flows; /* index/flows2.c */
	uint8_t uuid[16];
	bool writable;
	/* commit2.c's scratch of postings, kept from one write transaction to
	 * the next (only the one write transaction at a time uses it) */
	struct pent *c2_ents, *c2_tmp;
	size_t c2_cap;
};

/* LMDB return code -> our error space (TV_E_*, or an errno; tv_strerror() explains both). */
int idx_lmdb_err(int rc);
/* mdb_txn_begin that adopts a map grown by another process. */
int idx_txn_begin(idx *x, bool write, MDB_txn **txn);
/* The parts of idx_commit2 kept in the shared tables (env.c). */
int idx_marks_put(idx *x, MDB_txn *txn, const idx_source_mark *marks, size_t nmarks);
int idx_counters_add(idx *x, MDB_txn *txn, const tv_counters *delta);

/* A VPC flow record: fixed little-endian serialisation of tv_flowrec
 * (FORMAT.md "VPC flow records"), the records of a v2_flows block. */
#define IDX_FLOW_VAL_LEN 108
void idx_flow_val_encode(const tv_flowrec *r, uint8_t out[IDX_FLOW_VAL_LEN]);
int idx_flow_val_decode(const void *p, size_t n, tv_flowrec *r);

/* What reindex copies from the old index (index/carry.c): counters, flow
 * records, source marks (the one with more packets done wins), and the meta
 * entries that are not derived from chunks (created_ns, flow_seq,
 * flows_writer, pruned_until).  One write transaction of dst: all or
 * nothing.  dst must hold no flow records.  TV_E_CORRUPT when src holds an
 * entry of the wrong shape. */
int idx_carry(idx *dst, idx *src, idx_carry_report *r);

/* ---------------------------------------------------------- expressions */

enum idx_xkind {
	IDX_X_AND = 1, IDX_X_OR, IDX_X_NOT,
	IDX_X_HOST, IDX_X_NET, IDX_X_PORT, IDX_X_PROTO,
	IDX_X_IP, IDX_X_IP6, IDX_X_VNI, IDX_X_AFTER, IDX_X_BEFORE,
};

enum idx_xdir { IDX_D_ANY = 0, IDX_D_SRC, IDX_D_DST, IDX_D_BOTH };

/*
 * One AST node.  and/or are n-ary: child is the first operand, next links
 * the operands (a chain "a and b and c" is one node, so the tree is only as
 * deep as the parentheses and the nots, which the parser caps).
 */
typedef struct idx_xnode {
	uint8_t kind;       /* enum idx_xkind */
	uint8_t dir;        /* enum idx_xdir, for host/net/port */
	uint8_t plen;       /* net: prefix length in the 128-bit space */
	uint8_t proto;      /* proto; port: the transport it is limited to by
	                     * "tcp|udp|sctp port" or a one-transport service
	                     * name (0 = any) */
	uint8_t range;      /* port: written as portrange */
	uint8_t v4;         /* net: written as IPv4 */
	uint8_t ipver;      /* host, net, proto: 4 or 6 under "ip"/"ip6", else 0 */
	uint16_t port_lo, port_hi;
	int32_t child, next;
	uint32_t vni;
	uint64_t ts;        /* after/before */
	tv_addr addr;       /* host; net: the network address */
} idx_xnode;

/* Nesting limits of the parser (expr.c, parse_unary): levels that count,
 * and every parenthesis and not; the tree is at most 2 * MAXDEPTH + 3
 * nodes deep, which bounds the recursion of the matcher and the planner. */
#define IDX_X_MAXDEPTH 64
#define IDX_X_MAXNEST (2 * IDX_X_MAXDEPTH + 2)

struct idx_expr {
	int32_t root;       /* -1 = empty expression (matches everything) */
	int32_t n;
	char *note;         /* idx_expr_note(); malloc'd, or NULL */
	idx_xnode nodes[];
};

/* Entry i of the built-in service table (for tests): false past the end.
 * *proto is the transport the name limits a port to (0 = any). */
bool idx_service_at(size_t i, const char **name, uint16_t *port, uint8_t *proto);

/* [lo, hi] of node i (lo > hi: matches nothing). */
void idx_xnode_bounds(const idx_expr *e, int32_t i, uint64_t *lo, uint64_t *hi);
/* Last address of the network (host bits set). */
void idx_net_last(const tv_addr *net, unsigned plen, tv_addr *last);


/* Shared by the expression parser (expr.c) and its normal form
 * (expr_format.c): a text buffer that cuts at its capacity and stays
 * NUL-terminated, and the words of a direction and a transport. */
typedef struct idx_sbuf {
	char *b;
	size_t cap, len;
} idx_sbuf;

void idx_sb_put(idx_sbuf *s, const char *t);
bool idx_sb_full(const idx_sbuf *s);
const char *idx_dir_name(int dir);     /* "src ", "dst ", "src and dst ", "" */
const char *idx_l4_name(uint8_t proto); /* "tcp", "udp", "sctp", "?" */

#endif
