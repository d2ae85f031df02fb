/*
 * chunkrec2.h — index records of chunks that no segment holds (their bytes
 * are never read): what idx_commit2 takes, for the tests of the tables,
 * the planner and the readers of chunk records (test_index.c,
 * test_bundle.c).  Included by one test file each (static functions), not
 * a module.
 */
#ifndef CHUNKREC2_H
#define CHUNKREC2_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../index/idx2.h"

#define CREC2_MAX_FLOWS 64

/* One chunk of one block and its flows.  The flows point into the struct:
 * keep it where it is until it is committed. */
typedef struct crec2 {
	idx2_chunk_in in;
	store_pflow fl[CREC2_MAX_FLOWS];
	uint8_t key[CREC2_MAX_FLOWS][STORE_V2_KEY_LEN];
	tv_tunmeta tun[CREC2_MAX_FLOWS];
} crec2;

/* A chunk of `length` bytes at (seg, off) holding npkts packets of times
 * first..last, in one block; orig_bytes 300 and raw_len 200 a packet, the
 * SHA-256 names the id.  No flows yet (crec2_flow adds them). */
static void crec2_init(crec2 *c, uint64_t id, uint32_t seg, uint64_t off, uint32_t length,
                       uint64_t first, uint64_t last, uint32_t npkts)
{
	idx2_chunk *r = &c->in.rec;
	memset(c, 0, sizeof *c);
	r->chunk_id = id;
	r->segment = seg;
	r->offset = off;
	r->length = length;
	r->first_ts = first;
	r->last_ts = last;
	r->npkts = npkts;
	r->orig_bytes = 300ull * npkts;
	r->raw_len = 200u * npkts;
	r->sha256[0] = (uint8_t)id;
	r->sha256[31] = 0xab;
	r->nblocks = 1;
	/* the head (an empty tag and one block table entry), then the block */
	r->blocks[0].offset = 4 + STORE_V2_BLKREF_LEN;
	r->blocks[0].len = length - STORE_V2_HDR_LEN - r->blocks[0].offset;
	r->blocks[0].nrec = npkts;
	r->blocks[0].a_raw = (uint32_t)STORE_V2_MIN_A_RAW(npkts); /* the least it may say */
	c->in.flows = c->fl;
}

/* Adds the flow of a packet: its addresses, protocol and ports (src NULL:
 * a frame without IP), its VNI (TV_VNI_NONE: untunnelled). */
static void crec2_flow(crec2 *c, uint32_t vni, const char *src, const char *dst, uint8_t proto,
                       uint16_t sp, uint16_t dp, bool ports)
{
	size_t n = c->in.nflows;
	tv_l3info info;

	cr_assert_lt(n, CREC2_MAX_FLOWS);
	cr_assert_lt(n, c->in.rec.npkts, "a chunk has no more flows than packets");
	memset(&info, 0, sizeof info);
	if (src) {
		info.l3 = strchr(src, ':') ? 6 : 4;
		cr_assert_eq(tv_addr_parse(src, &info.key.src), 0);
		cr_assert_eq(tv_addr_parse(dst, &info.key.dst), 0);
		info.key.proto = proto;
		info.key.sport = sp;
		info.key.dport = dp;
		info.has_ports = ports;
	}
	idx2_flowkey_make(&info, c->key[n]);
	memset(&c->tun[n], 0, sizeof c->tun[n]);
	c->tun[n].vni = vni;
	c->tun[n].tunnel = vni == TV_VNI_NONE ? TV_TUN_NONE : TV_TUN_VXLAN;
	c->fl[n].key = c->key[n];
	c->fl[n].tun = &c->tun[n];
	c->fl[n].blocks = 1;
	c->fl[n].nrec = 1;
	c->in.nflows = n + 1;
	c->in.rec.nflows = (uint32_t)(n + 1);
}

/* Commits chunks c[0..n) in one batch. */
static int crec2_commit(idx *x, crec2 *c, size_t n)
{
	idx2_chunk_in *in = calloc(n ? n : 1, sizeof *in);
	int rc;
	cr_assert_not_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = c[i].in;
	rc = idx_commit2(x, in, n, NULL, 0, NULL);
	free(in);
	return rc;
}

#endif
