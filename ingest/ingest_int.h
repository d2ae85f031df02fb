/*
 * ingest_int.h — internals shared inside ingest/ only (no other folder includes it):
 * the outer-fragment reassembler (reasm.c) as the decapsulator (decap.c)
 * drives it.
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

#endif
