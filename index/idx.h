/*
 * idx.h — the LMDB index, the expression language and the query planner.
 *
 * Prefix idx_ (index_ would collide with libc's index()).
 *
 * The LMDB environment lives in STORE/index/.  Keys are big-endian
 * fields, so LMDB's byte order is numeric and time order.  The layouts are
 * specified in store/FORMAT.md ("Index"); keep them in step.
 *
 * Postings point at the blocks of chunks, not at packets: for each
 * distinct address, port (with protocol), protocol and VNI of the flows
 * of a slice of chunks there is one key whose value lists the chunks and,
 * per chunk, a bitmap of the blocks that hold such a flow.  A query plans
 * (chunk, blocks) pairs from key ranges and reads only those blocks
 * (idx2.h: the tables, the commit, the planner and the reader).
 */
#ifndef IDX_H
#define IDX_H

#include "../ingest/tv.h"
#include "../store/store.h"

/* The one store format this build reads and writes (store/FORMAT.md):
 * meta "format_version" of every index it opens.  A store of another
 * format (1 or 2, which earlier builds wrote, or a newer one) is refused
 * whole (idx_format_note says why). */
#define IDX_FORMAT_VERSION 3

typedef struct idx idx;

typedef struct idx_cfg {
	bool writable;
	uint64_t map_size; /* LMDB map size; default 1 TiB (sparse) */
	bool have_uuid;    /* creating: take uuid instead of a random one (reindex
	                    * adopts the identity written in the segments) */
	uint8_t uuid[16];
	const char *name;  /* the index directory inside the store; NULL: "index"
	                    * (reindex builds under another name, then swaps) */
	uint32_t format;   /* creating: 0 or IDX_FORMAT_VERSION, else TV_E_RANGE */
} idx_cfg;

void idx_cfg_default(idx_cfg *cfg);

/*
 * Opens (creating when writable and absent, 0700/0600) the index in DIR/index
 * (DIR/cfg->name).
 * A new index gets a random 16-byte store id and format IDX_FORMAT_VERSION;
 * an existing one of any other format is refused with TV_E_VERSION before
 * anything in it is read or written (idx_format_note says what it is).
 */
int idx_open(const char *store_dir, const idx_cfg *cfg, idx **out);
void idx_close(idx *x); /* accepts NULL */

/* The store's identity (16 random bytes chosen at creation). */
void idx_store_uuid(const idx *x, uint8_t out[16]);

/*
 * Why a store cannot be opened when that is its format: reads (only) the
 * meta "format_version" of DIR/index, or when there is no index the
 * version in the first segment's header, and when it is not
 * IDX_FORMAT_VERSION writes what it is and what to do into buf and
 * returns 1, e.g. "store format 2 is no longer supported (this tapvault
 * reads format 3); ingest the source captures again into a new store".
 * Else 0 (buf "").  For the message of a TV_E_VERSION, and for commands
 * that must refuse before they change anything in the store.
 */
int idx_format_note(const char *store_dir, char *buf, size_t cap);

/* ------------------------------------------------------ source marks */

/*
 * Progress of one source file.  identity: the SHA-256 of the file's first
 * 64 KiB (ingest_file_src_identity) then a variant number (u64 BE) that
 * tells apart different files with the same first 64 KiB.  packets_done:
 * how many of its packets (by ordinal) are in committed chunks.
 * prefix_len and prefix_sha256: the bytes of the file consumed up to the
 * end of packet packets_done - 1, and their SHA-256; a later run resumes
 * the file only when its first prefix_len bytes hash the same.  prefix_len
 * 0 means unknown (a record written before prefix hashes): never resumed.
 */
#define IDX_SOURCE_KEY_LEN 32
typedef struct idx_source_mark {
	uint8_t identity[40];
	uint64_t packets_done;
	uint64_t prefix_len;
	uint8_t prefix_sha256[32];
} idx_source_mark;

/* Source marks are committed with the chunks they cover (idx_commit2):
 * of a stored and a given mark, the one with the larger packets_done is
 * kept. */

/* The committed mark of a source identity; TV_E_NOTFOUND when never seen. */
int idx_source_get(idx *x, const uint8_t identity[40], idx_source_mark *out);
/* Every committed mark whose identity starts with key (IDX_SOURCE_KEY_LEN
 * bytes), in identity order: at most cap into out, *n says how many
 * there are in all. */
int idx_source_list(idx *x, const uint8_t key[IDX_SOURCE_KEY_LEN], idx_source_mark *out,
                    size_t cap, size_t *n);

/* What reindex carried from an old index into the new one (index/carry.c):
 * counter entries, flow records, source marks taken. */
typedef struct idx_carry_report {
	uint64_t counters, flows, sources;
} idx_carry_report;

/* Stored counter totals. */
int idx_counters_get(idx *x, tv_counters *out);

/* The index record of a chunk as store_chunk_meta (its place in the
 * segments, its figures and the SHA-256 of its body); TV_E_NOTFOUND when
 * the index has no such chunk.  (index/tables2.c) */
int idx_chunk_get(idx *x, uint64_t chunk_id, store_chunk_meta *meta);

/* Totals over all chunks (for stats), from running totals kept in meta:
 * no scan of the chunks.  first_ts/last_ts are 0 when the index is empty.
 * (index/tables2.c) */
typedef struct idx_totals {
	uint64_t chunks, packets, orig_bytes, raw_bytes;
	uint64_t comp_bytes;  /* chunk bytes stored in the segments, headers included */
	uint64_t postings;
	uint64_t first_ts, last_ts;
	uint32_t segments;
	uint32_t format;      /* IDX_FORMAT_VERSION */
	uint64_t slices, blocks, flows; /* the index's slices, the chunks' blocks
	                                 * and flow directory entries */
	uint64_t index_bytes; /* pages the index uses (LMDB's last page + 1) */
} idx_totals;
int idx_totals_get(idx *x, idx_totals *t);

/* ------------------------------------------------------ flow records */

/*
 * Flow records (VPC Flow Log semantics, tv_flowrec) live in their own table,
 * keyed by window start then a store-wide sequence number, so that a time
 * range is one key range and records of one window keep their order.  They
 * are not tied to chunks: pruning packets leaves them in place.
 */

/* Appends n records in one write transaction. */
int idx_flows_put(idx *x, const tv_flowrec *recs, size_t n);

typedef int (*idx_flow_cb)(void *ctx, const tv_flowrec *r);
/* Visits the records whose window start is in [from, to] (unix seconds), in
 * key order; cb returning non-zero stops with that value. */
int idx_flow_foreach(idx *x, uint32_t from, uint32_t to, idx_flow_cb cb, void *ctx);
/* Deletes the records of windows that start before `before`. */
int idx_flows_drop_before(idx *x, uint32_t before, uint64_t *dropped);
/* Number of stored flow records. */
int idx_flows_count(idx *x, uint64_t *n);
/* Window start of the newest record (*any false when there is none). */
int idx_flows_last_window(idx *x, uint32_t *w, bool *any);
/* Deletes the records of windows that start at or after `from`. */
int idx_flows_drop_from(idx *x, uint32_t from, uint64_t *dropped);

/* A small u64 in the meta table by name (absent reads as 0). */
int idx_meta_u64_get(idx *x, const char *name, uint64_t *v);

/* What a delete of flow records did (idx_flows_drop_range). */
typedef struct idx_flows_drop_report {
	uint64_t records;     /* records deleted */
	uint64_t blocks;      /* v2_flows blocks deleted (well formed) */
	uint64_t bad;         /* entries of the range with a malformed key or value,
	                       * deleted too (what they held is not counted) */
	uint32_t bad_window;  /* the first such entry's key: window (first 4 bytes), */
	uint64_t bad_seq;     /* seq (next 8 bytes), both zero-padded, */
	uint32_t bad_key_len; /* and its length in bytes */
} idx_flows_drop_report;

/*
 * Deletes the flow records of windows that start in [a, b) (b up to 2^32)
 * in one write transaction: the one delete behind
 * idx_flows_drop_before and idx_flows_drop_from.  An entry of the range
 * whose key or value is malformed is deleted as well, so retention and the
 * crash rebuild make progress past it; r says how many and names the
 * first.  r may be NULL.
 */
int idx_flows_drop_range(idx *x, uint32_t a, uint64_t b, idx_flows_drop_report *r);
int idx_meta_u64_set(idx *x, const char *name, uint64_t v);

/* ------------------------------------------------------- expressions */

/*
 * The query language (README "tapvault query", "Expressions"; pcap-filter(7) for the
 * tcpdump forms):
 *   host A | src host A | dst host A | net CIDR | src net CIDR | dst net CIDR
 *   port P | src port P | dst port P | portrange P-P    (P: number or service name)
 *   tcp | udp | sctp | icmp | icmp6 | ip | ip6 | proto N | proto NAME
 *   ip|ip6 in front of host, net, proto (that IP version only);
 *   tcp|udp|sctp in front of port, portrange (that transport only)
 *   vni N | after T | before T
 *   EXPR and EXPR | EXPR or EXPR | not EXPR | ( EXPR )     (also && || !)
 * Times T: RFC 3339 (2026-11-27T14:00:00Z, with offset or fraction),
 * unix seconds (1700000000 or 1700000000.25), or a relative "10m ago"
 * (units s, m, h, d).  Adjacent primitives without an operator are an
 * error.  An empty expression matches everything.  not binds tightest,
 * then and, then or (tcpdump: and/or equal, left to right).
 */
typedef struct idx_expr idx_expr;

typedef struct idx_expr_err {
	int pos;        /* byte offset of the offending word in the text */
	int len;        /* its length */
	char msg[160];  /* what was expected */
} idx_expr_err;

/* now_ns anchors "ago".  On TV_E_SYNTAX, err says where and why. */
int idx_expr_parse(const char *text, uint64_t now_ns, idx_expr **out, idx_expr_err *err);
void idx_expr_free(idx_expr *e); /* accepts NULL */
/* The expression "after from_ns" (and "before before_ns" when before_ns is
 * not 0), built without text: for the library's own time-range reads. */
int idx_expr_time_window(uint64_t from_ns, uint64_t before_ns, idx_expr **out);

/* NULL, or one line (no newline) that a user comparing with tcpdump should
 * read: today, how a chain that mixes and and or without parentheses was
 * grouped, and how tcpdump would group it.  The library never prints it.
 * Valid until idx_expr_free(e). */
const char *idx_expr_note(const idx_expr *e);

/* Exact match of one packet.  info comes from ingest_parse_inner() on the
 * stored frame; ports match only when info->has_ports. */
bool idx_expr_match(const idx_expr *e, uint64_t ts_ns, const tv_tunmeta *tun,
                    const tv_l3info *info);

/* The time bounds the expression implies for every match, [lo, hi] in ns
 * (0 and UINT64_MAX when unbounded; lo > hi when no time can match, e.g.
 * "before 0" or "after T and before T"). */
void idx_expr_time_bounds(const idx_expr *e, uint64_t *lo, uint64_t *hi);

/* Writes a normalised text form (for logs, manifests, custody): keywords
 * lower case, one space, parentheses where precedence needs them and
 * around an and inside an or (so tcpdump groups it the same way),
 * proto 6/17/1/58 as tcp/udp/icmp/icmp6, ports as numbers ("port ssh" is
 * "tcp port 22"), times as RFC 3339 UTC with ns.
 * Parsing the result gives the same expression.  Truncated to cap - 1. */
void idx_expr_format(const idx_expr *e, char *buf, size_t cap);



/* ------------------------------------------- matching and reading flow records */

/* The longest window `ingest --flow-interval` makes (seconds): a record that
 * covers time t is in a window that starts after t - IDX_FLOW_MAX_WINDOW. */
#define IDX_FLOW_MAX_WINDOW 600u

/*
 * The one flow-record match, used by flows, export and audit.  A record
 * matches e when its non-time fields (addresses, ports, protocol, TCP flags
 * seen, VNI, mirror source) match the expression and its [start, end]
 * overlaps the expression's time bounds (idx_expr_time_bounds; a record's
 * end second counts whole).  So "after T" keeps a record that ends at or
 * after T, "before T" one that starts before T: a record that spans T is
 * kept by both.  Exactly: the expression holds at some instant of the
 * record's [start, end] with its other fields (tried at start and at every
 * time condition's T inside), so "not before T" and "after T" agree, as do
 * nots and ors around time conditions.  NULL e matches every record.
 */
bool idx_flowrec_match(const idx_expr *e, const tv_flowrec *r);

/* The window starts [*from, *to] that can hold a record matching e (NULL:
 * all).  Returns false, with *from > *to, when none can. */
bool idx_flows_window_range(const idx_expr *e, uint32_t *from, uint32_t *to);

/* Merges the records of one flow, interface (VNI, mirror source), IP
 * version and window into one (counts added, flags or-ed, the earliest
 * start and latest end), as AWS writes one record per flow and window;
 * several come from early flushes, late packets or several stores.  Output
 * order: start, VNI, mirror source, srcaddr, dstaddr, srcport, dstport,
 * protocol, IP version, window, end.  Returns the new count. */
size_t idx_flowrecs_merge(tv_flowrec *v, size_t n);

typedef struct idx_flows_read_stats {
	uint32_t from, to;  /* window starts read */
	uint64_t read;      /* stored records read */
	uint64_t merged;    /* merged into others */
	uint64_t matched;   /* handed to the callback */
} idx_flows_read_stats;

/* Called once per window start w that holds records, in increasing order,
 * with that window's records from every store, merged and matched (n may be
 * 0).  v is valid until the callback returns; it may reorder v.  Non-zero
 * stops the read with that value. */
typedef int (*idx_flow_window_cb)(void *ctx, uint32_t w, tv_flowrec *v, size_t n);

/*
 * Reads the flow records of nx stores that match e, one window at a time
 * (memory holds one window's records): output is ordered by start time,
 * then identity, and deterministic.  st is filled (always).
 */
int idx_flows_read_merged(idx *const *xs, int nx, const idx_expr *e, idx_flow_window_cb cb, void *ctx,
                          idx_flows_read_stats *st);

/* ----------------------------------------------------------- planner */

/* What the plans of a query cost, summed over its stores (the planner is
 * idx_plan2, idx2.h). */
typedef struct idx_plan_stats {
	uint64_t keys_read;      /* posting, slice-time, slice and chunk-record keys read */
	uint64_t chunks_total;   /* chunks in the indexes */
	uint64_t chunks_planned; /* chunks the plans say to read */
} idx_plan_stats;

#endif
