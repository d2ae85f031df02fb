/*
 * tv.h — types shared by every tapvault module.
 *
 * This is the bottom of the dependency graph: ingest/, store/, index/,
 * report/ and cmd/ may all include it; it includes nothing of ours.
 *
 * Error convention: functions return 0 on success, a
 * negative TV_E_* value for our own failures, or a positive errno for the
 * system's.  tv_strerror() explains both.
 */
#ifndef TV_H
#define TV_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <pthread.h>

#define TV_VERSION "0.1.0"

enum tv_err {
	TV_OK = 0,
	TV_E_FORMAT = -1000, /* input is not in the expected format */
	TV_E_TRUNCATED,      /* input ends before a complete unit */
	TV_E_CORRUPT,        /* stored data fails a check (hash, magic, bounds) */
	TV_E_VERSION,        /* written by a format version we cannot read */
	TV_E_NOMEM,          /* allocation failed or a hard memory cap was hit */
	TV_E_SYNTAX,         /* expression or option value does not parse */
	TV_E_NOTFOUND,       /* no such item */
	TV_E_LMDB,           /* LMDB failed for a reason with no better code */
	TV_E_ZSTD,           /* zstd failed */
	TV_E_HASH,           /* a SHA-256 does not match */
	TV_E_FULL,           /* a store, map or disk limit was reached */
	TV_E_RANGE,          /* a value is out of its allowed range */
	TV_E_LOCKED,         /* another process holds the store */
	TV_E_EXISTS,         /* item exists already */
	TV_E_PCAP,           /* libpcap failed */
	TV_E_IO,             /* short read or write with no errno */
	TV_E_UNSUPPORTED,    /* valid input that this version does not handle */
	TV_E_SYMLINK,        /* a symbolic link where a file or folder was expected (not followed) */
	TV_E_NOTREG,         /* exists and is not a regular file */
	TV_E__END
};

/* Returns a static string; never NULL. err > 0 is an errno value. */
const char *tv_strerror(int err);

/*
 * Addresses: always 16 bytes in network order.  IPv4 is stored as an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) so that one byte order
 * covers both families and CIDR ranges stay contiguous.
 */
typedef struct tv_addr {
	uint8_t b[16];
} tv_addr;

#define TV_ADDR_STRLEN 48

bool tv_addr_is_v4(const tv_addr *a);
void tv_addr_from_v4(tv_addr *a, const uint8_t v4[4]);
void tv_addr_from_v6(tv_addr *a, const uint8_t v6[16]);
/* Parses dotted IPv4 or RFC 4291 IPv6 text. Returns 0 or TV_E_SYNTAX. */
int tv_addr_parse(const char *s, tv_addr *out);
/* Writes the usual text form (dotted quad for IPv4). cap >= TV_ADDR_STRLEN. */
void tv_addr_format(const tv_addr *a, char *buf, size_t cap);

/*
 * Unidirectional 5-tuple.  Fixed layout, padding always zero, so it can be
 * hashed and compared as bytes.  Ports are 0 for protocols without ports
 * (ICMP, as VPC Flow Logs write them).
 */
typedef struct tv_5tuple {
	tv_addr src;
	tv_addr dst;
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
	uint8_t pad[3];
} tv_5tuple;

enum tv_tunnel {
	TV_TUN_NONE = 0,         /* frame was not tunnelled (tap, SPAN) */
	TV_TUN_VXLAN = 1,        /* VXLAN (AWS Traffic Mirroring, Azure vTAP) */
	TV_TUN_GENEVE = 2,       /* GENEVE (AWS GWLB, GCP NSI) */
	TV_TUN_GENEVE_VXLAN = 3, /* GENEVE carrying VXLAN (mirror via a GWLB endpoint) */
};

#define TV_VNI_NONE 0xFFFFFFFFu

/*
 * Tunnel metadata of one packet.  Packets of one mirror session share it,
 * so the store keeps one copy per distinct value per chunk.  Fixed layout,
 * padding zero: compare with memcmp.
 */
typedef struct tv_tunmeta {
	uint32_t vni;         /* innermost VNI, TV_VNI_NONE when untunnelled */
	uint8_t tunnel;       /* enum tv_tunnel */
	uint8_t has_gwlb;     /* 1 when the AWS GWLB options were present */
	uint8_t pad[2];
	tv_addr outer_src;    /* outer source address (the mirror source); zero if none */
	uint64_t gwlb_endpoint;   /* GENEVE option 0x0108/1 */
	uint64_t gwlb_attachment; /* GENEVE option 0x0108/2 */
	uint32_t gwlb_cookie;     /* GENEVE option 0x0108/3 */
	uint32_t pad2;
} tv_tunmeta;

/* TCP flag bits as VPC Flow Logs write them ("tcp-flags" in "Flow log
 * records", https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html). */
enum {
	TV_TCP_FIN = 0x01,
	TV_TCP_SYN = 0x02,
	TV_TCP_RST = 0x04,
	TV_TCP_PSH = 0x08,
	TV_TCP_ACK = 0x10,
	TV_TCP_URG = 0x20,
};

enum tv_frag {
	TV_FRAG_NONE = 0,  /* not a fragment */
	TV_FRAG_FIRST = 1, /* offset 0, more fragments follow: carries the ports */
	TV_FRAG_LATER = 2, /* offset > 0: ports come from the fragment table, if known */
};

/*
 * What the inner-frame parser learns from one Ethernet frame.  Filled by
 * ingest_parse_inner(); also used by the query matcher on stored frames.
 */
typedef struct tv_l3info {
	uint8_t l3;        /* 0 = no IP layer found, 4 or 6 */
	uint8_t has_ports; /* TCP, UDP or SCTP ports are in key (or came from the fragment table) */
	uint8_t tcp_flags; /* raw TCP flags byte (FIN..URG as on the wire, low 6 bits) */
	uint8_t frag;      /* enum tv_frag */
	uint32_t ip_len;   /* IP total length incl. IP header (the true size), 0 if no IP */
	uint32_t l3_off;   /* offset of the IP header in the frame */
	uint16_t vlan;     /* first 802.1Q VLAN id of the inner frame, 0 if none */
	uint16_t ethertype;/* ethertype after VLAN tags */
	uint16_t icmp_type_code; /* type<<8 | code for ICMP/ICMPv6, else 0 */
	uint16_t pad;
	uint32_t frag_id;  /* IP identification of a fragment (frag != 0), else 0 */
	uint32_t pad2;
	tv_5tuple key;     /* zeroed when l3 == 0 */
} tv_l3info;

/*
 * One decapsulated packet, as the store keeps it: the inner frame is always
 * an Ethernet frame (a header is synthesised when the tunnel or link type
 * carried bare IP; synth_l2 says so).
 */
typedef struct tv_pkt {
	uint64_t ts_ns;       /* capture time, ns since the Unix epoch, UTC */
	const uint8_t *frame; /* inner Ethernet frame; borrowed, see producer */
	uint32_t caplen;      /* bytes at frame */
	uint32_t origlen;     /* true length of the inner frame on the wire */
	uint8_t synth_l2;     /* 1 when the Ethernet header was synthesised */
	uint8_t decap_error;  /* 1 when a tunnel was seen but could not be removed:
	                       * frame is then the outer frame as captured */
	uint8_t pad[6];
	tv_tunmeta tun;
	tv_l3info info;
} tv_pkt;

/*
 * One VPC-Flow-Log-like record: a unidirectional flow of one interface
 * (VNI + mirror source) within one aggregation window.  Fixed layout,
 * padding zero.
 */
typedef struct tv_flowrec {
	tv_5tuple key;
	tv_addr outer_src;  /* mirror source address: with vni, the interface */
	uint32_t vni;       /* TV_VNI_NONE when untunnelled */
	uint32_t window;    /* window start, unix seconds, a multiple of the interval (UTC) */
	uint32_t start;     /* unix seconds of the first packet in the window */
	uint32_t end;       /* unix seconds of the last packet in the window */
	uint64_t packets;
	uint64_t bytes;     /* sum of IP total length (true size, also when truncated) */
	uint8_t tcp_flags;  /* AWS rule: FIN|SYN|RST|PSH|URG OR-ed; ACK (16) only on SYN packets */
	uint8_t ipver;      /* 4 or 6 */
	uint8_t pad[6];
} tv_flowrec;

/*
 * Counters.  One flat array of uint64_t with stable dotted names, so that
 * stats, reports and the store all speak the same words.  New counters are
 * appended before TV_CTR__COUNT; the store saves them by name, so the order
 * may change between versions.
 */
#define TV_COUNTERS(X) \
	X(SRC_PACKETS,          "source.packets") \
	X(SRC_BYTES,            "source.bytes") \
	X(SRC_LINKTYPE,         "source.unsupported_linktype") \
	X(SRC_SKIPPED_DUP,      "source.already_stored") \
	X(SRC_READ_ERRORS,      "source.read_errors") \
	X(DECAP_OK,             "decap.ok") \
	X(DECAP_NOT_TUNNELLED,  "decap.not_tunnelled") \
	X(DECAP_VXLAN,          "decap.vxlan.packets") \
	X(DECAP_GENEVE,         "decap.geneve.packets") \
	X(DECAP_GENEVE_VXLAN,   "decap.geneve_vxlan.packets") \
	X(DECAP_ETH_TRUNC,      "decap.eth.truncated") \
	X(DECAP_VLAN_TRUNC,     "decap.vlan.truncated") \
	X(DECAP_VLAN_TOO_DEEP,  "decap.vlan.too_deep") \
	X(DECAP_IPV4_TRUNC,     "decap.ipv4.truncated") \
	X(DECAP_IPV4_BAD_HDR,   "decap.ipv4.bad_header") \
	X(DECAP_IPV4_BAD_LEN,   "decap.ipv4.bad_length") \
	X(DECAP_IPV6_TRUNC,     "decap.ipv6.truncated") \
	X(DECAP_IPV6_BAD_EXT,   "decap.ipv6.bad_ext_header") \
	X(DECAP_UDP_TRUNC,      "decap.udp.truncated") \
	X(DECAP_UDP_BAD_LEN,    "decap.udp.bad_length") \
	X(DECAP_VXLAN_TRUNC,    "decap.vxlan.truncated") \
	X(DECAP_VXLAN_BAD_FLAGS,"decap.vxlan.bad_flags") \
	X(DECAP_GENEVE_TRUNC,   "decap.geneve.truncated") \
	X(DECAP_GENEVE_BAD_VER, "decap.geneve.bad_version") \
	X(DECAP_GENEVE_BAD_OPT, "decap.geneve.bad_option") \
	X(DECAP_GENEVE_PROTO,   "decap.geneve.unsupported_protocol") \
	X(DECAP_TOO_DEEP,       "decap.too_deep") \
	X(DECAP_INNER_NO_IP,    "inner.not_ip") \
	X(DECAP_INNER_TRUNC,    "inner.truncated") \
	X(DECAP_INNER_BAD,      "inner.malformed") \
	X(DECAP_INNER_FRAG,     "inner.fragments") \
	X(DECAP_INNER_FRAG_UNK, "inner.fragments_unattributed") \
	X(DECAP_SNAPLEN_CUT,    "inner.cut_short") \
	X(STORE_PACKETS,        "store.packets") \
	X(STORE_BYTES,          "store.bytes") \
	X(STORE_CHUNKS,         "store.chunks") \
	X(STORE_RAW_BYTES,      "store.raw_bytes") \
	X(STORE_COMP_BYTES,     "store.compressed_bytes") \
	X(FLOW_RECORDS,         "flow.records") \
	X(FLOW_EARLY_FLUSH,     "flow.early_flushes") \
	X(FLOW_NO_IP,           "flow.skipped_not_ip") \
	X(SRC_LINK_TRUNC,       "source.link_header_truncated") \
	X(SRC_LINK_PROTO,       "source.unsupported_link_protocol") \
	X(DECAP_IPV6_BAD_HDR,   "decap.ipv6.bad_header") \
	X(DECAP_IPV6_BAD_LEN,   "decap.ipv6.bad_length") \
	X(DECAP_FAILED,         "decap.failed") \
	X(LIVE_RECEIVED,        "live.received") \
	X(LIVE_RECEIVED_BYTES,  "live.received_bytes") \
	X(LIVE_KERNEL_DROPS,    "live.kernel_drops") \
	X(LIVE_REJ_SENDER,      "live.rejected.sender") \
	X(LIVE_REJ_VNI,         "live.rejected.vni") \
	X(LIVE_REJ_TRUNC,       "live.rejected.truncated") \
	X(LIVE_RECV_ERRORS,     "live.receive_errors") \
	X(LIVE_SEALS,           "live.seals") \
	X(LIVE_SEAL_US,         "live.seal_latency_us_sum") \
	X(LIVE_SEAL_SLOW,       "live.seals_over_2s") \
	X(LIVE_QUEUE_WAITS,     "live.queue_full_waits") \
	X(FLOW_ACTIVE,          "flow.active") \
	X(STORE_NOSPACE_PKTS,   "store.no_space.packets") \
	X(STORE_NOSPACE_CHUNKS, "store.no_space.chunks") \
	X(RET_SEGMENTS,         "retention.segments_deleted") \
	X(RET_CHUNKS,           "retention.chunks_deleted") \
	X(RET_BYTES,            "retention.bytes_deleted") \
	X(RET_FLOWS,            "retention.flow_records_deleted") \
	X(REASM_FRAGMENTS,      "decap.reasm.fragments") \
	X(REASM_DATAGRAMS,      "decap.reasm.datagrams") \
	X(REASM_TIMEOUT,        "decap.reasm.timeout") \
	X(REASM_TABLE_FULL,     "decap.reasm.table_full") \
	X(REASM_OVERLAP,        "decap.reasm.overlap") \
	X(REASM_DUPLICATE,      "decap.reasm.duplicate") \
	X(REASM_TOO_BIG,        "decap.reasm.too_big") \
	X(REASM_TOO_MANY,       "decap.reasm.too_many_fragments") \
	X(REASM_MALFORMED,      "decap.reasm.malformed") \
	X(REASM_INCOMPLETE,     "decap.reasm.incomplete") \
	X(REASM_NOT_TUNNEL,     "decap.reasm.not_tunnel") \
	X(FLOW_DECAP_ERROR,     "flow.skipped_decap_error") \
	X(STORE_LOST,           "store.lost_on_error")

enum tv_counter {
#define TV_CTR_ENUM(id, name) TV_CTR_##id,
	TV_COUNTERS(TV_CTR_ENUM)
#undef TV_CTR_ENUM
	TV_CTR__COUNT
};

typedef struct tv_counters {
	uint64_t v[TV_CTR__COUNT];
} tv_counters;

/* Stable dotted name of counter i; NULL when out of range. */
const char *tv_counter_name(int i);
/* Index of the counter with this name, or -1. */
int tv_counter_find(const char *name);

/*
 * The one hash of tapvault's in-memory tables (flow tables, posting sets,
 * fragment and reassembly tables, the packer's flow index, VNI maps...):
 * seeded, 8 bytes per step (xor, multiply, xorshift), then the MurmurHash3
 * 64-bit finaliser.  Not for anything stored: a table's layout may change,
 * its contents may not.  Seeds come from tv_hash_seed() so that crafted
 * keys (fragment ids, ports) cannot aim at one bucket.
 */
static inline uint64_t tv_hash64(const void *data, size_t n, uint64_t seed)
{
	const uint8_t *p = (const uint8_t *)data;
	uint64_t h = seed ^ 0x6a09e667f3bcc908ull ^ (uint64_t)n, w;
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h ^= w;
		h *= 0x9e3779b97f4a7c15ull;
		h ^= h >> 31;
	}
	if (n) {
		w = 0;
		memcpy(&w, p, n);
		h ^= w;
		h *= 0x9e3779b97f4a7c15ull;
		h ^= h >> 31;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* A random non-zero seed (getrandom; the clock and an address when the
 * kernel has no entropy yet, early at boot). */
uint64_t tv_hash_seed(void);

/*
 * Time (ingest/tvtime.c).  Every time in tapvault is one uint64_t of
 * nanoseconds since the Unix epoch, UTC; files and keys hold it as such.
 */
#define TV_NS_PER_S 1000000000ull

uint64_t tv_clock_real_ns(void); /* CLOCK_REALTIME (0 before 1970) */
uint64_t tv_clock_mono_ns(void); /* CLOCK_MONOTONIC, for intervals */

/* Parses RFC 3339 (2026-11-27T14:00:00Z, with a fraction or an offset),
 * unix seconds with an optional fraction (1700000000.25), or "N{s,m,h,d}
 * ago" counted back from now_ns.  0, TV_E_SYNTAX, or TV_E_RANGE (before
 * 1970, or past 2^64 ns). */
int tv_time_parse(const char *s, uint64_t now_ns, uint64_t *out_ns);
/* RFC 3339 UTC with nanoseconds: 2026-11-27T14:00:00.123456789Z; cap >= 40. */
void tv_time_format(uint64_t ns, char *buf, size_t cap);

/* A UTC date and time of day (proleptic Gregorian, no leap seconds). */
typedef struct tv_civil {
	int64_t year;
	unsigned month, day, hour, min, sec, nsec;
} tv_civil;
void tv_time_civil(uint64_t ns, tv_civil *c);

/*
 * SHA-256 (FIPS 180-4), written here so that hashes need no extra library.
 * Implemented in ingest/sha256.c.
 */
typedef struct tv_sha256_ctx {
	uint32_t h[8];
	uint64_t nbytes;
	uint8_t buf[64];
	size_t nbuf;
} tv_sha256_ctx;

void tv_sha256_init(tv_sha256_ctx *s);
void tv_sha256_update(tv_sha256_ctx *s, const void *data, size_t n);
void tv_sha256_final(tv_sha256_ctx *s, uint8_t out[32]);
void tv_sha256(const void *data, size_t n, uint8_t out[32]);
/* Lower-case hex of a 32-byte digest into out (65 bytes with the NUL). */
void tv_sha256_hex(const uint8_t d[32], char out[65]);

/*
 * CRC-32C (Castagnoli; reflected polynomial 0x82F63B78, initial value and
 * final XOR 0xFFFFFFFF, as iSCSI and ext4 use it: "123456789" gives
 * 0xE3069283).  Implemented in ingest/crc32c.c with the SSE4.2 crc32
 * instruction when the processor has it (and TAPVAULT_NO_SSE42 is not
 * set), else with tables.  Thread-safe.
 *
 * tv_crc32c_extend continues a finished CRC over more bytes:
 * extend(tv_crc32c(a), b) is the CRC of a followed by b, and
 * extend(0, p, n) equals tv_crc32c(p, n).
 */
uint32_t tv_crc32c(const void *data, size_t n);
uint32_t tv_crc32c_extend(uint32_t crc, const void *data, size_t n);
/* true when the SSE4.2 path is in use (for tests and diagnostics). */
bool tv_crc32c_hw(void);

/*
 * Cursor over untrusted bytes, never a struct laid over them.  Every reader checks
 * n > c->left before touching memory and returns false on short input,
 * leaving the cursor unchanged.
 */
typedef struct tv_cur {
	const uint8_t *p;
	size_t left;
} tv_cur;

static inline tv_cur tv_cur_make(const void *p, size_t n)
{
	tv_cur c = { (const uint8_t *)p, n };
	return c;
}

static inline bool tv_cur_skip(tv_cur *c, size_t n)
{
	if (n > c->left)
		return false;
	c->p += n;
	c->left -= n;
	return true;
}

static inline bool tv_cur_u8(tv_cur *c, uint8_t *v)
{
	if (c->left < 1)
		return false;
	*v = c->p[0];
	c->p++;
	c->left--;
	return true;
}

static inline bool tv_cur_be16(tv_cur *c, uint16_t *v)
{
	if (c->left < 2)
		return false;
	*v = (uint16_t)((c->p[0] << 8) | c->p[1]);
	c->p += 2;
	c->left -= 2;
	return true;
}

static inline bool tv_cur_be32(tv_cur *c, uint32_t *v)
{
	if (c->left < 4)
		return false;
	*v = ((uint32_t)c->p[0] << 24) | ((uint32_t)c->p[1] << 16) |
	     ((uint32_t)c->p[2] << 8) | (uint32_t)c->p[3];
	c->p += 4;
	c->left -= 4;
	return true;
}

static inline bool tv_cur_be64(tv_cur *c, uint64_t *v)
{
	uint32_t hi, lo;
	if (c->left < 8)
		return false;
	tv_cur_be32(c, &hi);
	tv_cur_be32(c, &lo);
	*v = ((uint64_t)hi << 32) | lo;
	return true;
}

static inline bool tv_cur_bytes(tv_cur *c, void *dst, size_t n)
{
	size_t i;
	if (n > c->left)
		return false;
	for (i = 0; i < n; i++)
		((uint8_t *)dst)[i] = c->p[i];
	c->p += n;
	c->left -= n;
	return true;
}

/* Little-endian helpers for on-disk formats (fixed width, never native structs). */
static inline void tv_put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void tv_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void tv_put_le64(uint8_t *p, uint64_t v) { tv_put_le32(p, (uint32_t)v); tv_put_le32(p + 4, (uint32_t)(v >> 32)); }
static inline uint16_t tv_get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t tv_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t tv_get_le64(const uint8_t *p) { return (uint64_t)tv_get_le32(p) | ((uint64_t)tv_get_le32(p + 4) << 32); }
static inline void tv_put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void tv_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void tv_put_be64(uint8_t *p, uint64_t v) { tv_put_be32(p, (uint32_t)(v >> 32)); tv_put_be32(p + 4, (uint32_t)v); }
static inline uint16_t tv_get_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t tv_get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline uint64_t tv_get_be64(const uint8_t *p) { return ((uint64_t)tv_get_be32(p) << 32) | tv_get_be32(p + 4); }

/* pthread_create with every signal blocked in the new thread: the
 * library's threads (sealers, writer, prefix hasher, live workers) take no
 * signals, so the caller's thread handles them.  Returns pthread_create's
 * result. */
int tv_thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

#endif
