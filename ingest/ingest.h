/*
 * ingest.h — packet sources and decapsulation.
 *
 * ingest/ turns captured frames into tv_pkt values: outer Ethernet/IP/UDP,
 * VXLAN, GENEVE (with the AWS GWLB options), GENEVE-in-VXLAN, and the inner
 * Ethernet/VLAN/IP/L4 summary.  It knows nothing of the on-disk format.
 */
#ifndef INGEST_H
#define INGEST_H

#include "tv.h"

#include <signal.h>
#include <stdio.h>

/* pcap link types we accept (values from the tcpdump link-type list). */
enum {
	INGEST_LINK_NULL = 0,       /* BSD loopback */
	INGEST_LINK_ETHERNET = 1,
	INGEST_LINK_RAW = 101,      /* bare IPv4/IPv6 */
	INGEST_LINK_LINUX_SLL = 113,
	INGEST_LINK_IPV4 = 228,
	INGEST_LINK_IPV6 = 229,
	INGEST_LINK_LINUX_SLL2 = 276,
};

#define INGEST_MAX_PORTS 8

typedef struct ingest_decap_cfg {
	uint16_t vxlan_ports[INGEST_MAX_PORTS]; /* default {4789} */
	int n_vxlan_ports;
	uint16_t geneve_ports[INGEST_MAX_PORTS]; /* default {6081} */
	int n_geneve_ports;
	int max_depth;        /* tunnel layers removed at most; default 3 */
	int max_vlan;         /* VLAN tags walked at most per Ethernet header; default 4 */
	bool strict_vxlan;    /* true: reserved bits must be zero (default false:
	                       * RFC 7348 says ignore them; only the I flag is required) */
	/* Outer IP reassembly of tunnel traffic (README.md, "Decapsulation"). */
	uint32_t reasm_max_datagrams; /* datagrams waiting for fragments at once;
	                               * default 4096; 0 turns reassembly off */
	uint32_t reasm_max_bytes;     /* captured bytes those may hold; default 4 MiB */
	uint32_t reasm_timeout_ms;    /* capture time a datagram waits for its
	                               * fragments after the first came; default 30000 */
	bool tunnel_only;     /* drop (and count in decap.reasm.not_tunnel) outer
	                       * fragments that turn out not to be tunnel traffic,
	                       * instead of storing them: for a capture filter that
	                       * admits every UDP fragment (ingest -i); default false */
} ingest_decap_cfg;

#define INGEST_REASM_MAX_DATAGRAMS (1u << 20)
#define INGEST_REASM_MAX_BYTES (1u << 30)

void ingest_decap_cfg_default(ingest_decap_cfg *cfg);

/* Decapsulator state: a scratch buffer for synthesised Ethernet headers,
 * a small table that attributes later IP fragments to their flow, and the
 * outer-fragment reassembler (preallocated: nothing is allocated per
 * packet). */
typedef struct ingest_decap ingest_decap;

/* Creates a decapsulator.  Counters are added to *ctr, which the caller owns
 * and must keep alive until ingest_decap_free().  TV_E_RANGE for a bad cfg
 * (reasm_max_bytes must hold one 64 KiB datagram). */
int ingest_decap_new(const ingest_decap_cfg *cfg, tv_counters *ctr, ingest_decap **out);
void ingest_decap_free(ingest_decap *d); /* accepts NULL */

enum ingest_verdict {
	INGEST_STORE = 0, /* pkt is filled: store it */
	INGEST_DROP = 1,  /* not storable (e.g. unknown link type); counted */
	INGEST_HELD = 2,  /* an outer fragment of tunnel traffic, kept until its
	                   * datagram is whole: nothing to store for it now */
};

/*
 * Decapsulates one captured frame.  data/caplen are what the capture holds,
 * origlen what the wire had.  On INGEST_STORE, *pkt is filled; pkt->frame
 * points into data or into d's buffers and stays valid until the next
 * call on d.  Every reason a frame is not fully decapsulated is counted in
 * the counters given to ingest_decap_new(); such frames are still stored
 * (as the deepest Ethernet frame reached) unless the link type cannot be
 * turned into Ethernet.  The rule is documented in README.md ("Decapsulation").
 *
 * Outer IP fragments of tunnel traffic are reassembled: the call that
 * brings the last missing fragment returns the whole datagram's inner
 * packet (ts_ns of that last fragment); the others return INGEST_HELD.
 * Fragments that cannot be reassembled come back from ingest_decap_next().
 * So the caller's loop is: store what ingest_decap_packet() returned, then
 * call ingest_decap_next() until it returns 0.
 */
int ingest_decap_packet(ingest_decap *d, int linktype, const uint8_t *data,
                        uint32_t caplen, uint32_t origlen, uint64_t ts_ns,
                        tv_pkt *pkt);

/*
 * Packets that became ready during the previous call on d and are not its
 * result: outer fragments given up (timeout, a limit, overlap, ...: stored
 * as captured with decap_error, counted by reason) or released (their
 * datagram was not tunnel traffic: decapsulated as they are).  Returns 1
 * with *pkt filled (pkt->frame valid until the next call on d), 0 when
 * nothing is waiting.  ts_ns is each fragment's own capture time.
 */
int ingest_decap_next(ingest_decap *d, tv_pkt *pkt);

/* End of input: gives up every datagram still waiting for fragments
 * (decap.reasm.incomplete); ingest_decap_next() then returns them. */
void ingest_decap_flush(ingest_decap *d);

/*
 * Parses an inner Ethernet frame for its L3/L4 summary, with no state:
 * used on stored frames by queries.  Later fragments get no ports.
 * Returns 0 (info filled, info->l3 == 0 when there is no IP layer).
 */
int ingest_parse_inner(const uint8_t *frame, uint32_t caplen, tv_l3info *info);

/*
 * Fragment-port attribution (fragports.c): later IP fragments carry no
 * ports; they take those of the first fragment of their datagram (same
 * addresses, protocol, IP identification and VNI), if it was seen before
 * them.  Decapsulation and queries over stored frames use this one table,
 * so that flow records and query results agree.  Fixed size (about
 * 256 KiB), allocated once; a collision only loses an attribution.
 */
typedef struct ingest_fragports ingest_fragports;

int ingest_fragports_new(ingest_fragports **out); /* TV_E_NOMEM */
void ingest_fragports_free(ingest_fragports *t);  /* accepts NULL */

enum ingest_frag_res {
	INGEST_FRAG_NONE = 0,   /* not a fragment, or a first fragment without ports */
	INGEST_FRAG_KEPT,       /* a first fragment: its ports are remembered */
	INGEST_FRAG_ATTRIBUTED, /* a later fragment: info got its first fragment's ports */
	INGEST_FRAG_UNKNOWN,    /* a later fragment whose first fragment was not seen */
};

/* Remembers or attributes info (filled by ingest_parse_inner() or the
 * decapsulator) of a packet of mirror session vni.  t NULL: nothing is
 * attributed (INGEST_FRAG_NONE). */
enum ingest_frag_res ingest_fragports_apply(ingest_fragports *t, uint32_t vni, tv_l3info *info);

/* ---------------------------------------------------------------------
 * Flow table: unidirectional flows per (VNI, mirror source, 5-tuple) per
 * aggregation window, as VPC Flow Logs count them.  Entries come from a
 * preallocated slab with a hard cap; when it is full the table emits its
 * entries early (counted in flow.early_flushes) instead of growing, so the
 * records of a flow still sum to its totals.
 *
 * Windows are [w, w + interval) with w a multiple of the interval (UTC).
 * At most two windows are open: the newest one a packet fell in, and the
 * one before it.  A window closes (its records are emitted) when a packet
 * two windows later arrives, or when ingest_flowtab_advance() passes its
 * end plus INGEST_FLOWTAB_GRACE seconds.  A packet for a window that has
 * already closed is counted in a new entry for that window, emitted at the
 * next close: such a flow then has two records for one window, which sum
 * to its totals.  Likewise an early flush can split a flow's window into
 * several records.  Later IP fragments that the decapsulator could not
 * attribute (has_ports == 0) are counted in the flow with ports 0 for
 * their address pair and protocol.  The details are in flowtab.c.
 */

typedef struct ingest_flowtab ingest_flowtab;

/* Seconds after a window's end during which ingest_flowtab_advance() still
 * keeps it open for packets that arrive late (mirror and capture queues). */
#define INGEST_FLOWTAB_GRACE 5
/* Records handed to the emit callback per call, at most. */
#define INGEST_FLOWTAB_BATCH 4096
/* Largest accepted max_flows. */
#define INGEST_FLOWTAB_MAX_FLOWS (1u << 28)

typedef struct ingest_flowtab_cfg {
	uint32_t interval;  /* aggregation window in seconds: 600 (default) or 60;
	                     * any value in 1..86400 is accepted */
	uint32_t max_flows; /* hard cap on live entries; default 262144 */
	uint64_t hash_seed; /* 0 (default): seeded from getrandom(); other: fixed
	                     * seed (tests, reproducible profiling).  Output order
	                     * never depends on the seed. */
} ingest_flowtab_cfg;

void ingest_flowtab_cfg_default(ingest_flowtab_cfg *cfg);

/* Receives finished records in batches of at most INGEST_FLOWTAB_BATCH;
 * recs is valid only during the call.  Within a batch, records are ordered
 * by window, then by the order their flows were first seen in it.  The
 * callback must not call back into the same table. */
typedef void (*ingest_flow_emit)(void *ctx, const tv_flowrec *recs, size_t n);

/* cfg NULL means defaults.  emit may be NULL (records are counted, then
 * dropped).  ctr is owned by the caller and must outlive the table; NULL
 * means the table keeps its own.  Returns 0, TV_E_RANGE for a bad cfg or
 * TV_E_NOMEM. */
int ingest_flowtab_new(const ingest_flowtab_cfg *cfg, ingest_flow_emit emit, void *ctx,
                       tv_counters *ctr, ingest_flowtab **out);
void ingest_flowtab_free(ingest_flowtab *ft); /* accepts NULL; does not emit */
/* Counts one packet (packets without IP are counted in flow.skipped_not_ip,
 * packets with decap_error, the mirror's own transport, in
 * flow.skipped_decap_error).
 * A packet two windows later than the oldest open window first closes it.
 * Never allocates. */
void ingest_flowtab_add(ingest_flowtab *ft, const tv_pkt *pkt);
/* Emits every window that ended at or before now_ns - INGEST_FLOWTAB_GRACE
 * seconds (live sources call it on a timer; file sources rely on packet
 * time). */
void ingest_flowtab_advance(ingest_flowtab *ft, uint64_t now_ns);
/* Emits everything still open (shutdown). Not counted as an early flush. */
void ingest_flowtab_flush(ingest_flowtab *ft);
/* Live entries (flow-windows) in the table. */
size_t ingest_flowtab_active(const ingest_flowtab *ft);
/* Bytes held by the table (slab + hash + emit buffer), fixed after creation. */
size_t ingest_flowtab_memory(const ingest_flowtab *ft);

/* ---------------------------------------------------------------------
 * Capture file sources: pcap and pcapng, read by ingest/capfile.c (not
 * libpcap, which refuses pcapng files whose interfaces differ in link type
 * or snap length, and wraps times after 2038-01-19).
 */

typedef struct ingest_file_src ingest_file_src;

/* One packet as read from a capture, before decapsulation.  data is
 * borrowed and valid until the next ingest_file_src_next(). */
typedef struct ingest_raw {
	uint64_t ts_ns;
	const uint8_t *data;
	uint32_t caplen;
	uint32_t origlen;
	int linktype;
	uint64_t ordinal;  /* 0-based index of the packet in its file */
	uint32_t file_idx; /* index into the expanded file list */
	uint64_t file_end; /* offset in the file just past this packet's record
	                    * (0 for standard input) */
} ingest_raw;

/*
 * Opens a list of paths: files, directories (every regular file inside,
 * ordered by the timestamp of their first packet, then by name), or "-"
 * for standard input.  Nothing is read beyond each file's first packet
 * until ingest_file_src_next().  On error, errbuf (cap bytes) names the
 * file and what is wrong.
 */
int ingest_file_src_open(const char *const *paths, int npaths, ingest_file_src **out,
                         char *errbuf, size_t cap);
void ingest_file_src_close(ingest_file_src *s); /* accepts NULL */

/* Returns 1 with *raw filled, 0 at the end of all files, or a negative
 * error with errbuf naming the file, the packet, the byte offset and what
 * is wrong, and raw->file_idx the file.  After an error the file is closed:
 * a next call goes on with the next file (the packets before the error
 * were returned). */
int ingest_file_src_next(ingest_file_src *s, ingest_raw *raw, char *errbuf, size_t cap);

/* Files after expansion of directories, in reading order. */
int ingest_file_src_count(const ingest_file_src *s);
const char *ingest_file_src_path(const ingest_file_src *s, int i);
/* Identity of file i: SHA-256 of its first 64 KiB, then 8 zero bytes
 * (40 bytes).  The first 32 bytes are the key under which the store looks
 * for earlier runs of the file; it resumes one only when the whole prefix
 * that run consumed is identical (idx_vault_source_begin), so a file that
 * grew since (still being written) is resumed and a different file with
 * the same start is not.  All zero for standard input. */
const uint8_t *ingest_file_src_identity(const ingest_file_src *s, int i);
/* Sum of sizes of all regular files, and bytes consumed so far (for progress). */
uint64_t ingest_file_src_total_bytes(const ingest_file_src *s);
uint64_t ingest_file_src_done_bytes(const ingest_file_src *s);
/* The descriptor of the file being read (valid until the next file is
 * opened), for ingest_prefix_start; -1 for standard input or when none is
 * open. */
int ingest_file_src_fd(const ingest_file_src *s);

/*
 * The SHA-256 of a capture file's first n bytes, carried forward as it is
 * read (ingest/prefix.c).  It reads with pread() on a duplicate of the
 * given descriptor, so it hashes the very file the capture reader reads
 * without moving the reader's position.  It only moves forward: hashing a
 * file costs one pass however often the digest is asked for.  Threaded,
 * the hashing runs on a thread of the object's own and only a digest (or
 * ingest_prefix_advance) waits for it; else each post hashes in the
 * caller's thread.  One caller thread at a time.
 */
typedef struct ingest_prefix ingest_prefix;

int ingest_prefix_new(bool threaded, ingest_prefix **out);
void ingest_prefix_free(ingest_prefix *p); /* accepts NULL; joins the thread */
/* Starts over at byte 0 of fd (-1: no file; every post then fails).  fd
 * is duplicated: the caller may close it at any time after.  Returns 0 or
 * an errno of dup(), which later posts and digests also return. */
int ingest_prefix_start(ingest_prefix *p, int fd);
/* The hash is to cover the first `to` bytes.  Threaded, it returns at once
 * with the first error of the hashing so far (a later one comes from the
 * next post or digest); else it hashes now.  TV_E_RANGE when `to` is below
 * the last post; TV_E_TRUNCATED when the file ends before `to`; or an
 * errno.  An error stays until the next start. */
int ingest_prefix_post(ingest_prefix *p, uint64_t to);
/* A post that returns once the bytes are hashed (or the hashing failed). */
int ingest_prefix_advance(ingest_prefix *p, uint64_t to);
/* The length of the last post. */
uint64_t ingest_prefix_len(const ingest_prefix *p);
/* SHA-256 of the first ingest_prefix_len() bytes; waits for the hashing.
 * 0, or the error of the hashing (out not set). */
int ingest_prefix_digest(ingest_prefix *p, uint8_t out[32]);

/*
 * One capture file as a stream of packets (capfile.c): classic pcap
 * (microsecond or nanosecond magic, either byte order, the modified
 * format's 24-byte record headers, versions 2.0-2.4) and pcapng (every
 * section; each interface with its own link type, snap length, if_tsresol
 * and if_tsoffset; enhanced, simple and obsolete packet blocks; other
 * blocks skipped).  Reads fp (not closed by close) front to back, so pipes
 * work.  Times are unsigned: pcap seconds run to 2106.
 */
typedef struct ingest_capfile ingest_capfile;

#define INGEST_CAP_MAX_CAPLEN 262144u     /* captured bytes of one packet */
#define INGEST_CAP_MAX_BLOCK (16u << 20)  /* bytes of one pcapng block */
#define INGEST_CAP_MAX_IFACES 65536u      /* interfaces of one pcapng section */

/* Reads the file header (pcap) or the first section header (pcapng).
 * TV_E_FORMAT (not a capture, unsupported version), TV_E_TRUNCATED,
 * TV_E_NOMEM or an errno, with errbuf saying what was found. */
int ingest_capfile_open(FILE *fp, ingest_capfile **out, char *errbuf, size_t cap);
/* Returns 1 with raw's ts_ns, data, caplen, origlen and linktype filled
 * (data valid until the next call), 0 at the end of the file, or an error:
 * TV_E_TRUNCATED (the file ends inside a record), TV_E_FORMAT (a record or
 * block that breaks the format), TV_E_NOMEM or an errno; errbuf says what
 * and at which byte offset. */
int ingest_capfile_next(ingest_capfile *r, ingest_raw *raw, char *errbuf, size_t cap);
/* Bytes consumed from fp so far. */
uint64_t ingest_capfile_offset(const ingest_capfile *r);
bool ingest_capfile_is_pcapng(const ingest_capfile *r);
void ingest_capfile_close(ingest_capfile *r); /* accepts NULL; does not close fp */

/* ---------------------------------------------------------------------
 * Live sources.
 *
 * UDP (-l): the mirror arrives as UDP datagrams whose payload starts at the
 * VXLAN/GENEVE header; the outer IP/UDP headers are gone.  Each datagram is
 * received into a buffer with INGEST_LIVE_HEADROOM bytes reserved in front,
 * where a synthetic outer frame is written (Ethernet, IPv4 or IPv6 with the
 * sender's address as source and the local address as destination, UDP with
 * the sender's port and the listening port), so ingest_decap_packet() is the
 * one decapsulation path and tv_tunmeta.outer_src is the mirror source.  The
 * synthetic frame is INGEST_LINK_ETHERNET; caplen = origlen = the frame.
 *
 * One socket per worker thread, bound with SO_REUSEPORT: the kernel hashes
 * each sender address and port to one socket, and AWS varies the outer
 * source port by inner flow, so a flow stays on one worker.  Kernel drops
 * (SO_RXQ_OVFL, cumulative per socket) are added to live.kernel_drops.
 *
 * Interface (-i): libpcap in immediate mode with a large ring buffer and a
 * capture filter for the tunnel ports; drops reported by pcap_stats() are
 * added to live.kernel_drops.  One capture handle, so one worker.
 */

#define INGEST_LIVE_HEADROOM 64    /* >= 14 + 40 + 8, rounded */
#define INGEST_LIVE_DGRAM_MAX 65536 /* largest datagram payload received */
#define INGEST_LIVE_BATCH_MAX 256

/* Sender allowlist: CIDRs in the 16-byte address space (IPv4 mapped). */
#define INGEST_ALLOW_MAX 64
typedef struct ingest_allow {
	int n;                          /* 0: everyone is allowed */
	tv_addr net[INGEST_ALLOW_MAX];
	uint8_t plen[INGEST_ALLOW_MAX]; /* in the 128-bit space */
} ingest_allow;

/* Parses "CIDR,CIDR,..." (a bare address means /32 or /128) and appends to
 * *a.  TV_E_SYNTAX with *bad (may be NULL) at the offending item; TV_E_RANGE
 * when more than INGEST_ALLOW_MAX. */
int ingest_allow_parse(ingest_allow *a, const char *list, const char **bad);
bool ingest_allow_match(const ingest_allow *a, const tv_addr *addr);

/* "[ADDR:]PORT", "[v6addr]:PORT" or "ADDR" (with def_port).  addr is
 * the wildcard (0.0.0.0) when absent.  0 or TV_E_SYNTAX. */
int ingest_listen_parse(const char *s, uint16_t def_port, tv_addr *addr, bool *v6,
                        uint16_t *port);

typedef struct ingest_udp_cfg {
	tv_addr addr;         /* local address to bind */
	bool v6;              /* bind an AF_INET6 socket (also when addr is ::) */
	uint16_t port;
	int rcvbuf;           /* requested receive buffer, bytes; default 64 MiB */
	int batch;            /* datagrams per recvmmsg; default 64 */
	int timeout_ms;       /* a receive call returns 0 after this; default 100 */
	const ingest_allow *allow; /* senders accepted; NULL: all */
} ingest_udp_cfg;

void ingest_udp_cfg_default(ingest_udp_cfg *cfg);

typedef struct ingest_udp ingest_udp;

/* Opens and binds one socket (SO_REUSEPORT, SO_TIMESTAMPNS, SO_RXQ_OVFL,
 * the receive buffer: SO_RCVBUFFORCE, else SO_RCVBUF).  cfg is copied
 * (allow is borrowed and must outlive the socket).  On error errbuf names
 * the address and the call that failed. */
int ingest_udp_open(const ingest_udp_cfg *cfg, ingest_udp **out, char *errbuf, size_t cap);
void ingest_udp_close(ingest_udp *u); /* accepts NULL */
/* Receive buffer the kernel granted (what getsockopt reports). */
int ingest_udp_rcvbuf(const ingest_udp *u);
/* Adds to live.kernel_drops what the kernel dropped for this socket since
 * last seen (SO_MEMINFO), also when no datagram followed the drops (the
 * end of a burst: SO_RXQ_OVFL only arrives with a datagram).  Call on a
 * timer and before the last counters are sent.  0, or an errno. */
int ingest_udp_sync_drops(ingest_udp *u, tv_counters *ctr);

/*
 * Receives up to max (<= cfg.batch) datagrams; raws[i] are filled with the
 * synthetic frames (data borrowed from u, valid until the next call).
 * Counts live.received, live.received_bytes, live.kernel_drops,
 * live.rejected.sender (not in the allowlist: not returned),
 * live.rejected.truncated (larger than INGEST_LIVE_DGRAM_MAX: not
 * returned) and live.receive_errors in *ctr.  nowait: do not wait for the
 * first datagram.  Returns 0 with *nraw raws filled (0 on timeout or when
 * every datagram was rejected; *got says how many were received), or a
 * positive errno.
 */
int ingest_udp_recv(ingest_udp *u, ingest_raw *raws, int max, bool nowait, tv_counters *ctr,
                    int *nraw, int *got);

typedef struct ingest_iface ingest_iface;

typedef struct ingest_iface_cfg {
	int buffer_size;     /* ring buffer bytes; default 64 MiB */
	int snaplen;         /* default 262144 */
	bool all;            /* no capture filter (also untunnelled traffic) */
	const ingest_decap_cfg *ports; /* tunnel ports for the filter */
} ingest_iface_cfg;

void ingest_iface_cfg_default(ingest_iface_cfg *cfg);
int ingest_iface_open(const char *name, const ingest_iface_cfg *cfg, ingest_iface **out,
                      char *errbuf, size_t cap);
void ingest_iface_close(ingest_iface *i); /* accepts NULL */

typedef void (*ingest_raw_cb)(void *ctx, const ingest_raw *raw);
/* Waits up to timeout_ms for packets, then hands at most max of them to cb
 * (raw valid during the call).  Adds new drops of pcap_stats() to
 * live.kernel_drops and counts live.received.  Returns the number handled,
 * or TV_E_PCAP with errbuf set. */
int ingest_iface_dispatch(ingest_iface *i, int max, int timeout_ms, ingest_raw_cb cb, void *ctx,
                          tv_counters *ctr, char *errbuf, size_t cap);

/* A libpcap time (struct timeval with nanoseconds in tv_usec, as asked for
 * with PCAP_TSTAMP_PRECISION_NANO) as ns since the epoch.  Negative seconds
 * are libpcap's sign extension of an unsigned 32-bit field and are read
 * back as that field (2038-01-19T03:14:08Z to 2106). */
uint64_t ingest_pcap_ts_ns(long long sec, long long frac_ns);

/*
 * Replay support: the tunnel payload (from the VXLAN or GENEVE header on)
 * of one captured Ethernet frame, found by the decapsulator's own outer
 * walk (outer.c): VLAN tags, IPv4 or IPv6 (extension headers walked), UDP
 * to one of cfg's tunnel ports.  Returns 1 with *payload and *len (into
 * data; a capture cut short gives what is there) and *sport (the outer UDP
 * source port); 0 for any other frame, an IP fragment, or a malformed
 * outer IP or UDP header (which ingest stores with decap_error).
 */
int ingest_tunnel_payload(const ingest_decap_cfg *cfg, int linktype, const uint8_t *data,
                          uint32_t caplen, const uint8_t **payload, uint32_t *len,
                          uint16_t *sport);

/* ---- replay (ingest/replay.c) ----
 * Sends the tunnel payload of every VXLAN/GENEVE packet of captures as one
 * UDP datagram each to one destination, paced at pps (0: unpaced), loops
 * times, bounded by max_count datagrams and max_secs.  The datagrams leave
 * through nsock sockets chosen by the captured outer source port, so one
 * inner flow always leaves from one socket (as AWS varies the source port by
 * flow).  A full local queue (ENOBUFS, EAGAIN) is waited out, not dropped. */
#define INGEST_REPLAY_MAX_SOCKETS 64

typedef struct ingest_replay_opts {
	const char *const *files;
	int nfiles;
	tv_addr addr;            /* destination */
	bool v6;
	uint16_t port;
	int nsock;               /* 1..INGEST_REPLAY_MAX_SOCKETS */
	uint64_t pps, loops, max_secs, max_count;
	const ingest_decap_cfg *dcfg; /* the tunnel ports */
	const volatile sig_atomic_t *stop; /* checked before each datagram */
} ingest_replay_opts;

enum ingest_replay_status {
	INGEST_REPLAY_OK = 0,
	INGEST_REPLAY_EOPEN,     /* a capture cannot be opened; err says why */
	INGEST_REPLAY_EREAD,     /* a capture cannot be read; err says why */
	INGEST_REPLAY_ESOCKET,   /* no socket: err says why */
	INGEST_REPLAY_ESEND,     /* a send failed with an error other than
	                          * ECONNREFUSED or ENOBUFS */
};

typedef struct ingest_replay_result {
	enum ingest_replay_status status;
	uint64_t sent, bytes, skipped, send_err;
	int send_errno;          /* of the first failed send */
	bool timed_out;          /* max_secs ended it */
	uint64_t elapsed_ns;
	char err[1024];
} ingest_replay_result;

/* Returns res->status. */
int ingest_replay_run(const ingest_replay_opts *o, ingest_replay_result *res);


#endif
