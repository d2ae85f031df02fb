/*
 * ingest_int.h — internals shared inside ingest/ only (no other folder includes it):
 * the outer-fragment reassembler (reasm.c) as the decapsulator (decap.c)
 * drives it, and the layer parsers and outer-header walk the decapsulator is
 * built from.
 */
#ifndef INGEST_INT_H
#define INGEST_INT_H

#include "ingest.h"

/* A frame after its link header became Ethernet: bytes present, bytes the
 * wire had beyond them, and whether the Ethernet header was synthesised. */
struct ingest_frame {
	const uint8_t *p;
	uint32_t len;
	uint64_t cut;
	uint8_t synth;
};

/*
 * One outer IP fragment as decap.c parsed it.  Offsets are into f.p.
 * IPv4: data_at is the end of the IP header.  IPv6: fh_at is the Fragment
 * header, data_at the byte after it (the fragmentable part, RFC 8200 §4.5).
 */
struct reasm_in {
	struct ingest_frame f;
	uint64_t ts_ns;
	uint8_t ver;       /* 4 or 6 */
	uint8_t proto;     /* IPv4 protocol (part of the key); IPv6: Fragment header's next header */
	int8_t tunnel;     /* first fragment: 1 UDP to a tunnel port, 0 not; later fragments -1 */
	bool more;         /* MF / M flag */
	bool holdable;     /* a later fragment that can be tunnel traffic (UDP) */
	tv_addr src, dst;
	uint32_t id;       /* IPv4 identification or IPv6 fragment identification */
	uint32_t off;      /* fragment offset, bytes */
	uint32_t wire_len; /* fragment data bytes the IP header declares */
	uint32_t cap_len;  /* fragment data bytes present in f */
	uint32_t ip_at, fh_at, data_at;
};

enum reasm_res {
	REASM_PASS = 0, /* not for the reassembler: decapsulate it as it is */
	REASM_HELD,     /* kept; nothing to store now */
	REASM_REJECT,   /* cannot be reassembled (counted): store it as captured, decap_error */
	REASM_DONE,     /* the datagram is whole: *out is the reassembled frame */
};

typedef struct ingest_reasm ingest_reasm;

/* NULL *out (and 0) when cfg turns reassembly off (reasm_max_datagrams 0). */
int reasm_new(const ingest_decap_cfg *cfg, uint64_t seed, ingest_reasm **out);
void reasm_free(ingest_reasm *r); /* accepts NULL */

/* Takes one fragment.  Counters (decap.reasm.*) go straight to ctr: they
 * count fragments, several per call when a datagram is given up.  On
 * REASM_DONE, *out points into r's buffer, valid until the next call on r. */
enum reasm_res reasm_add(ingest_reasm *r, const struct reasm_in *in, tv_counters *ctr,
                         struct ingest_frame *out);
/* Gives up every datagram whose first fragment came more than the timeout
 * before now_ns (capture time). */
void reasm_expire(ingest_reasm *r, uint64_t now_ns, tv_counters *ctr);
/* Gives up every datagram still held (end of input). */
void reasm_flush(ingest_reasm *r, tv_counters *ctr);
/* Remembers that src -> dst carried tunnel traffic: fragments of that pair
 * whose first fragment never came are mirror transport, not user traffic. */
void reasm_note_tunnel_pair(ingest_reasm *r, const tv_addr *src, const tv_addr *dst);
/* Pops one fragment that was given up (as_error 1: store as captured with
 * decap_error) or released (as_error 0: its datagram was not tunnel
 * traffic; decapsulate it as it is).  The frame is copied into r's buffer,
 * valid until the next call on r.  Returns false when none is waiting. */
bool reasm_pop(ingest_reasm *r, struct ingest_frame *f, uint64_t *ts_ns, bool *as_error);

/* ------------------------------------------------------------------
 * Layer parsers (layer.c: Ethernet, VLAN, IPv4, IPv6, UDP; tunnel.c:
 * VXLAN, GENEVE), shared by the decapsulator, the outer-header walk
 * (outer.c) and the inner summary.  Each checks one header over a cursor
 * and returns a verdict; callers turn verdicts into counters.
 * ------------------------------------------------------------------ */

#define ETH_P_IPV4 0x0800u
#define ETH_P_IPV6 0x86DDu
#define ETH_P_TEB 0x6558u /* transparent Ethernet bridging (GENEVE payload is Ethernet) */
#define ETH_P_8021Q 0x8100u
#define ETH_P_8021AD 0x88A8u
#define ETH_P_QINQ_OLD 0x9100u

#define IPPROTO_V_ICMP 1
#define IPPROTO_V_TCP 6
#define IPPROTO_V_UDP 17
#define IPPROTO_V_ICMPV6 58
#define IPPROTO_V_SCTP 132

/* Verdicts of one layer parser. */
enum dv {
	DV_OK = 0,
	DV_TRUNC,     /* fewer bytes than the header needs */
	DV_BAD_HDR,   /* version, header length or similar is impossible */
	DV_BAD_LEN,   /* declared length contradicts the header or the frame */
	DV_BAD_EXT,   /* IPv6 extension header chain is broken */
	DV_BAD_FLAGS, /* required flag missing or reserved bit set */
	DV_BAD_OPT,   /* GENEVE option walk failed */
	DV_UNSUP,     /* valid, but a payload type we do not carry */
	DV_TOO_DEEP,  /* more VLAN tags than allowed */
};

struct l2hdr {
	uint16_t ethertype;
	uint16_t vlan; /* first VLAN id, 0 if none */
	int ntags;
};

/* What the IPv4 and IPv6 parsers learn; shared by outer and inner use. */
struct l3hdr {
	uint8_t ver;
	uint8_t proto;         /* upper-layer protocol (after IPv6 ext headers) */
	bool have_addrs;       /* src/dst are valid even if the verdict is not OK */
	bool later_frag;       /* fragment offset > 0: no L4 header here */
	bool first_frag;       /* offset 0 with more fragments following */
	bool len_from_rest;    /* declared length 0: length is what was captured */
	bool jumbo;            /* IPv6 length from a Jumbo Payload option (RFC 2675) */
	bool frag_more;        /* MF / M: more fragments follow */
	uint32_t frag_off;     /* fragment offset in bytes */
	uint32_t frag_id;
	const uint8_t *ip;     /* the IP header */
	const uint8_t *fh;     /* IPv6 Fragment header, NULL if none */
	const uint8_t *frag_data; /* first byte after the IP header (IPv4) or the
	                           * Fragment header (IPv6): the fragmentable part */
	tv_addr src;
	tv_addr dst;
	uint32_t total;        /* IP length incl. header: declared, or captured if 0 */
	uint32_t shortfall;    /* declared bytes missing from the capture */
	bool l4_short;         /* l4 holds fewer bytes than declared */
	tv_cur l4;             /* upper-layer bytes present, bounded by the declared length */
};

struct udphdr_v {
	uint16_t sport;
	uint16_t dport;
	uint32_t shortfall; /* payload bytes declared but not present */
	tv_cur payload;
};

struct geneve_v {
	uint16_t proto;
	uint32_t vni;
	uint8_t has_gwlb;
	uint64_t gwlb_endpoint;
	uint64_t gwlb_attachment;
	uint32_t gwlb_cookie;
};

enum dv layer_eth(tv_cur *c, struct l2hdr *l2);
/* Walks VLAN tags (802.1Q, 802.1ad, 0x9100) after layer_eth(), at most max_vlan. */
enum dv layer_vlan(tv_cur *c, int max_vlan, struct l2hdr *l2);
/* IPv4 / IPv6 header at c; on OK (and on TRUNC with have_addrs) *h is
 * filled and h->l4 holds the upper-layer bytes present. */
enum dv layer_ipv4(tv_cur *c, struct l3hdr *h);
enum dv layer_ipv6(tv_cur *c, struct l3hdr *h);
/* The UDP header at the start of h->l4. */
enum dv layer_udp(const struct l3hdr *h, struct udphdr_v *u);
/* VXLAN / GENEVE header at c; on OK c is moved past it. */
enum dv layer_vxlan(tv_cur *c, bool strict, uint32_t *vni);
enum dv layer_geneve(tv_cur *c, struct geneve_v *g);

/* ------------------------------------------------------------------
 * The outer headers of a captured frame (outer.c): the one walk from an
 * Ethernet frame to the UDP payload on a tunnel port, used by the
 * decapsulator and by replay.
 * ------------------------------------------------------------------ */

enum cand { CAND_NONE = 0, CAND_VXLAN, CAND_GENEVE };

struct outer {
	enum cand kind;
	bool bad;           /* an IP/UDP layer was malformed */
	bool len_from_rest; /* no declared length: the frame's own cut applies */
	bool frag;          /* a first IP fragment: the datagram goes on in later ones */
	uint16_t sport;     /* UDP source port */
	tv_addr src;
	tv_addr dst;
	uint32_t shortfall; /* tunnel payload bytes declared but not captured */
	tv_cur payload;     /* UDP payload */
};

/*
 * Looks for a tunnel in frame f: Ethernet, VLANs, IPv4/IPv6, UDP to one of
 * cfg's ports.  hit (TV_CTR__COUNT flags, or NULL) receives the reasons a
 * layer was rejected: the captured frame's are counted; inside a tunnel IP
 * problems belong to the inner frame and are counted by the inner summary.
 * maybe_cut: an IP length longer than the bytes present is plausible (the
 * capture or the mirror cut the packet).
 */
void outer_parse(const ingest_decap_cfg *cfg, uint8_t *hit, const struct ingest_frame *f,
                 bool maybe_cut, struct outer *o);

/* Is f an outer IP fragment for the reassembler?  (outer.c) */
bool outer_fragment(const ingest_decap_cfg *cfg, const struct ingest_frame *f,
                    struct reasm_in *in);

#endif
