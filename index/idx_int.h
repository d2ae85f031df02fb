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
	MDB_dbi db_meta, db_chunks, db_post, db_time, db_segs, db_sources, db_counters, db_cpost;
	MDB_dbi db_flows; /* index/flows.c */
	/* version 2 (index/idx2.h); v2 false: a read-only index without them */
	MDB_dbi db2_chunks, db2_slices, db2_stime, db2_post, db2_opost, db2_segs;
	MDB_dbi db2_flows; /* index/flows2.c */
	bool v2;
	uint32_t format;   /* meta "format_version": 1 or 2 */
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
/* meta "max_chunk_dur" (0 when absent). */
int idx_meta_maxdur(idx *x, MDB_txn *txn, uint64_t *maxdur);

/* Running totals kept in meta "totals" (7 x u64 LE, in this order). */
typedef struct idx_tot {
	uint64_t chunks, packets, orig_bytes, raw_bytes, comp_bytes, postings, segments;
} idx_tot;
#define IDX_TOT_LEN 56
void idx_tot_encode(const idx_tot *t, uint8_t out[IDX_TOT_LEN]);
int idx_tot_decode(const void *p, size_t n, idx_tot *t);
int idx_tot_load(idx *x, MDB_txn *txn, idx_tot *t);

/* The parts of a commit that both index versions write (env.c). */
int idx_marks_put(idx *x, MDB_txn *txn, const idx_source_mark *marks, size_t nmarks);
int idx_counters_add(idx *x, MDB_txn *txn, const tv_counters *delta);

/* "flows" value: fixed little-endian serialisation of tv_flowrec. */
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

/* ------------------------------------------------------------ key codecs */

/* "chunks" value: fixed little-endian serialisation of store_chunk_meta. */
#define IDX_CHUNK_VAL_LEN 96
void idx_chunk_val_encode(const store_chunk_meta *m, uint8_t out[IDX_CHUNK_VAL_LEN]);
/* TV_E_CORRUPT unless exactly IDX_CHUNK_VAL_LEN bytes with first_ts <= last_ts. */
int idx_chunk_val_decode(const void *p, size_t n, store_chunk_meta *m);

/* Posting types (first byte of a "post" key). */
enum {
	IDX_PT_ADDR = 'A',  /* addr16 */
	IDX_PT_FLOW = 'F',  /* src16 dst16 sport_be16 dport_be16 proto8 */
	IDX_PT_PORT = 'P',  /* port_be16 proto8 */
	IDX_PT_PROTO = 'R', /* proto8 */
	IDX_PT_VNI = 'V',   /* vni_be32 (0xFFFFFFFF = untunnelled) */
};
#define IDX_PVAL_MAX 37                    /* longest value ('F') */
#define IDX_PTV_MAX (1 + IDX_PVAL_MAX)     /* type | value */
#define IDX_PKEY_MAX (IDX_PTV_MAX + 8)     /* type | value | chunk id */
#define IDX_PVAL_LEN 16                    /* first_ts LE, last_ts LE */

/* Length of the value that follows a type byte; 0 for an unknown type. */
size_t idx_post_vlen(uint8_t type);

typedef struct idx_pkey {
	uint8_t type;
	uint8_t val[IDX_PVAL_MAX];
	size_t vlen;
	uint64_t chunk_id;
} idx_pkey;

/* Writes type|val|chunk id BE into out; returns its length. */
size_t idx_pkey_encode(const uint8_t *tv, size_t tvlen, uint64_t chunk_id, uint8_t out[IDX_PKEY_MAX]);
/* TV_E_CORRUPT for an unknown type or a length that does not fit it. */
int idx_pkey_decode(const void *p, size_t n, idx_pkey *k);
void idx_pval_encode(uint64_t first, uint64_t last, uint8_t out[IDX_PVAL_LEN]);
int idx_pval_decode(const void *p, size_t n, uint64_t *first, uint64_t *last);

/* "time" key: 'T' | first_ts BE | chunk id BE (17 bytes); value last_ts LE. */
#define IDX_TKEY_LEN 17
void idx_tkey_encode(uint64_t first_ts, uint64_t chunk_id, uint8_t out[IDX_TKEY_LEN]);
int idx_tkey_decode(const void *p, size_t n, uint64_t *first_ts, uint64_t *chunk_id);

/* "segs" key: segment BE32 | chunk id BE64 (12 bytes); empty value. */
#define IDX_SKEY_LEN 12
void idx_skey_encode(uint32_t segment, uint64_t chunk_id, uint8_t out[IDX_SKEY_LEN]);
int idx_skey_decode(const void *p, size_t n, uint32_t *segment, uint64_t *chunk_id);

/*
 * "cpost" value: the concatenated type|value of every posting of a chunk.
 * Each entry is self-delimiting through its type byte.  Returns 1 with
 * tv and tvlen set to the next entry, 0 at the end, TV_E_CORRUPT on a bad
 * type or a short entry.
 */
int idx_cpost_next(tv_cur *c, const uint8_t **tv, size_t *tvlen);

/* --------------------------------------------------------- posting set */

typedef struct idx_post_ent {
	uint64_t first, last;
	uint32_t slot;                 /* where it sits in slots[] (cheap reset) */
	uint8_t len;                   /* bytes used of key */
	uint8_t key[40];               /* type | value, zero padded */
} idx_post_ent;

struct idx_post {
	uint32_t *slots;   /* entry index + 1; 0 = empty */
	size_t nslots;     /* power of two */
	idx_post_ent *ents;
	size_t n, cap;
	uint64_t seed;
	int err;           /* sticky: an allocation failed, postings are incomplete */
};

/*
 * The postings a loaded chunk gives, from its stored records: each frame is
 * parsed (ingest_parse_inner) and added with idx_post_add, the calls ingest
 * makes for each packet.  Used by recovery and reindex to index a chunk, and
 * by verify --deep to re-derive what the index must hold for it: one
 * implementation.  One thing a single chunk cannot give back: ingest takes
 * the ports of a later IP fragment from the first fragment of its datagram
 * (a table across chunks); such records are listed in unsure (up to cap,
 * *nunsure counts all; unsure may be NULL) so that a comparison can allow
 * the port postings ingest may have given them.  p is reset first.
 */
typedef struct idx_frag_unsure {
	tv_addr src, dst;
	uint8_t proto;
	uint64_t ts;
} idx_frag_unsure;
void idx_post_chunk(idx_post *p, const store_reader *rd, idx_frag_unsure *unsure, size_t cap,
                    size_t *nunsure);

/* verify --deep (index/deep.c): compares what the index holds for each
 * chunk with what its records give (idx_post_chunk). */
typedef struct idx_deep idx_deep;
int idx_deep_new(idx *x, idx_deep **out);
void idx_deep_free(idx_deep *d);
/* One chunk: m its index record (as the caller's walk read it), hdr and rd
 * the chunk as loaded from its segment (store_reader_load).  Returns 0 when
 * the index holds exactly what the chunk gives, 1 with the first difference
 * in msg, or an error. */
int idx_deep_chunk(idx_deep *d, const store_chunk_meta *m, const store_chunk_meta *hdr,
                   const store_reader *rd, char *msg, size_t cap);
/* After every chunk: posting keys no chunk lists, totals, time and segs
 * entries, flow records.  check_counts false (a writer is running: the
 * index moves) skips the whole-index counts.  Calls report for each
 * difference; returns how many there were, or an error. */
int idx_deep_finish(idx_deep *d, bool check_counts, void (*report)(void *ctx, const char *msg),
                    void *ctx);

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
