/*
 * index2_synth.h — synthetic input for the index tests (test_index2.c,
 * test_read2.c, test_verify2.c): NP packets of NF flows, packed into
 * real chunks with store_packer, kept with their flows and,
 * for the read tests, every input packet.  Included by one test file
 * each (static functions), not a module.
 */
#ifndef INDEX2_SYNTH_H
#define INDEX2_SYNTH_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmtmp.h"
#include "../../index/idx2.h"

/* ============================================ commit: synthetic input */

#define NF 300       /* flows */
#define NP 18000     /* packets */
#define SEG1_CHUNKS 70

typedef struct sflow {
	uint8_t src[4], dst[4];
	uint16_t sport, dport;
	uint8_t proto;
	bool ports;
	uint32_t vni;
	uint8_t key[40];
	tv_tunmeta tun;
} sflow;

typedef struct schunk {
	uint8_t *bytes;
	size_t len;
	idx2_chunk rec;
	store_pflow *flows;
	size_t nflows;
	uint8_t *keys;
	tv_tunmeta *tuns;
	int *fid;            /* the synthetic flow of each packer flow */
} schunk;

/* One input packet, in arrival order (the read tests' brute force). */
typedef struct spkt {
	uint64_t ts;
	uint32_t caplen;
	int flow;
	uint8_t *frame;
} spkt;

static sflow flows[NF];
static spkt *spkts;
/* When set, sealed chunks are appended to these segments and indexed at
 * the place they were written (the read tests); else the places are
 * made up: chunks 1..SEG1_CHUNKS in segment 1, the rest in 2. */
static store_segs *synth_segs;
static schunk *chunks;
static size_t nchunks;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void make_flows(void)
{
	for (int f = 0; f < NF; f++) {
		sflow *s = &flows[f];
		tv_l3info in;
		memset(s, 0, sizeof *s);
		s->src[0] = 10;
		s->src[2] = (uint8_t)(f % 7);
		s->src[3] = (uint8_t)(f % 50 + 1);
		s->dst[0] = 192;
		s->dst[1] = 168;
		s->dst[3] = (uint8_t)(f % 5 + 1);
		if (f % 10 == 0) {
			s->proto = 1;
		} else if (f % 3 == 0) {
			s->proto = 17;
			s->ports = true;
			s->sport = (uint16_t)(20000 + f);
			s->dport = 53;
		} else {
			s->proto = 6;
			s->ports = true;
			s->sport = (uint16_t)(40000 + f);
			s->dport = f % 2 ? 443 : 80;
		}
		s->vni = f % 11 == 0 ? TV_VNI_NONE : (uint32_t)(100 + f % 3);
		s->tun.vni = s->vni;
		s->tun.tunnel = s->vni == TV_VNI_NONE ? TV_TUN_NONE : TV_TUN_VXLAN;
		memset(&in, 0, sizeof in);
		in.l3 = 4;
		in.has_ports = s->ports;
		tv_addr_from_v4(&in.key.src, s->src);
		tv_addr_from_v4(&in.key.dst, s->dst);
		in.key.sport = s->sport;
		in.key.dport = s->dport;
		in.key.proto = s->proto;
		idx2_flowkey_make(&in, s->key);
	}
}

static int flow_of(const store_pflow *pf)
{
	for (int f = 0; f < NF; f++)
		if (memcmp(flows[f].key, pf->key, 40) == 0 && flows[f].vni == pf->tun->vni)
			return f;
	return -1;
}

static void keep_sealed(store_packer *pk, uint64_t id, uint64_t *seg_off)
{
	const uint8_t *p;
	size_t len;
	cr_assert_eq(store_packer_seal(pk, id, &p, &len, NULL), 0);
	chunks = realloc(chunks, (nchunks + 1) * sizeof *chunks);
	schunk *c = &chunks[nchunks++];
	uint32_t seg = id <= SEG1_CHUNKS ? 1 : 2;
	uint64_t off = seg_off[seg];
	c->bytes = malloc(len);
	memcpy(c->bytes, p, len);
	c->len = len;
	if (synth_segs)
		cr_assert_eq(store_segs_append(synth_segs, c->bytes, len, &seg, &off), 0);
	cr_assert_eq(idx2_chunk_from_sealed(c->bytes, len, seg, off, &c->rec), 0);
	if (!synth_segs)
		seg_off[seg] += len;
	c->nflows = store_packer_nflows(pk);
	c->flows = calloc(c->nflows, sizeof *c->flows);
	c->keys = malloc(c->nflows * 40);
	c->tuns = calloc(c->nflows, sizeof *c->tuns);
	c->fid = calloc(c->nflows, sizeof *c->fid);
	for (size_t i = 0; i < c->nflows; i++) {
		store_pflow f;
		cr_assert_eq(store_packer_flow(pk, (uint32_t)i, &f), 0);
		memcpy(c->keys + 40 * i, f.key, 40);
		c->tuns[i] = *f.tun;
		c->flows[i] = f;
		c->flows[i].key = c->keys + 40 * i;
		c->flows[i].tun = &c->tuns[i];
		c->fid[i] = flow_of(&c->flows[i]);
		cr_assert_geq(c->fid[i], 0);
	}
}

/* NP packets of NF flows, a few flows much busier than the rest, packed
 * into small chunks (32 KiB, blocks of 16 KiB) so that there are many
 * chunks of several blocks: chunks 1..70 in segment 1, the rest in 2.
 * One flow in five carries random payload, which goes to section B. */
static void make_input(void)
{
	store_packer_cfg cfg;
	store_packer *pk;
	uint8_t frame[600];
	uint64_t seg_off[3] = { 0, 64, 64 }, id = 1;

	make_flows();
	store_packer_cfg_default(&cfg);
	cfg.raw_target = 32u << 10;
	cfg.block_target = 16u << 10;
	cr_assert_eq(store_packer_new(&cfg, &pk), 0);
	spkts = calloc(NP, sizeof *spkts);
	for (uint32_t i = 0; i < NP; i++) {
		int f = rnd() % 3 == 0 ? (int)(rnd() % 10) : (int)(rnd() % NF);
		sflow *s = &flows[f];
		tv_pkt pkt;
		uint32_t l4 = s->proto == 6 ? 20 : 8, pay = 40 + (uint32_t)(rnd() % 360);
		uint32_t caplen = 14 + 20 + l4 + pay;
		memset(frame, 0, sizeof frame);
		frame[12] = 0x08;
		frame[14] = 0x45;
		tv_put_be16(frame + 16, (uint16_t)(caplen - 14));
		frame[22] = 64;
		frame[23] = s->proto;
		memcpy(frame + 26, s->src, 4);
		memcpy(frame + 30, s->dst, 4);
		tv_put_be16(frame + 34, s->sport);
		tv_put_be16(frame + 36, s->dport);
		if (s->proto == 6)
			frame[46] = 0x50; /* TCP data offset: 20 bytes */
		else if (s->proto == 17)
			tv_put_be16(frame + 38, (uint16_t)(8 + pay));
		if (f % 5 == 2 && pay >= 128) {
			/* random bytes (a generator of their own, so that the
			 * packets' flows stay what they were): the payload goes to
			 * section B, as TLS records do, and is read per flow */
			uint64_t z = 0x2545f4914f6cdd1dull * (i + 1);
			for (uint32_t j = 0; j < pay; j++) {
				z = z * 6364136223846793005ull + 1442695040888963407ull;
				frame[34 + l4 + j] = (uint8_t)(z >> 56);
			}
		} else {
			for (uint32_t j = 0; j < pay; j++)
				frame[34 + l4 + j] = (uint8_t)('a' + (j * 7 + i) % 26);
		}
		memset(&pkt, 0, sizeof pkt);
		pkt.ts_ns = 1700000000000000000ull + (uint64_t)i * 1000000 + rnd() % 3000000;
		pkt.frame = frame;
		pkt.caplen = pkt.origlen = caplen;
		pkt.tun = s->tun;
		pkt.info.l3 = 4;
		pkt.info.has_ports = s->ports;
		pkt.info.l3_off = 14;
		pkt.info.ip_len = caplen - 14;
		tv_addr_from_v4(&pkt.info.key.src, s->src);
		tv_addr_from_v4(&pkt.info.key.dst, s->dst);
		pkt.info.key.sport = s->sport;
		pkt.info.key.dport = s->dport;
		pkt.info.key.proto = s->proto;
		spkts[i].ts = pkt.ts_ns;
		spkts[i].caplen = caplen;
		spkts[i].flow = f;
		spkts[i].frame = malloc(caplen);
		memcpy(spkts[i].frame, frame, caplen);
		int rc = store_packer_add(pk, &pkt, s->key, 34 + l4);
		if (rc == TV_E_FULL) {
			keep_sealed(pk, id++, seg_off);
			rc = store_packer_add(pk, &pkt, s->key, 34 + l4);
		}
		cr_assert_eq(rc, 0);
	}
	keep_sealed(pk, id, seg_off);
	store_packer_free(pk);
}

static void free_input(void)
{
	for (size_t i = 0; i < nchunks; i++) {
		free(chunks[i].bytes);
		free(chunks[i].flows);
		free(chunks[i].keys);
		free(chunks[i].tuns);
		free(chunks[i].fid);
	}
	free(chunks);
	chunks = NULL;
	nchunks = 0;
	for (size_t i = 0; spkts && i < NP; i++)
		free(spkts[i].frame);
	free(spkts);
	spkts = NULL;
}

static char store_dir[64];
/* The store id of the index and of the segment headers, so that the
 * store opens as a whole (idx_rstore_open checks that they agree). */
static const uint8_t synth_uuid[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static idx *open_store(void)
{
	idx_cfg cfg;
	idx *x;
	idx_cfg_default(&cfg);
	cfg.writable = true;
	cfg.map_size = 256u << 20;
	cfg.format = IDX_FORMAT_VERSION;
	cfg.have_uuid = true;
	memcpy(cfg.uuid, synth_uuid, 16);
	cr_assert_eq(idx_open(store_dir, &cfg, &x), 0);
	return x;
}

static bool synth_real_segs; /* setup opens synth_segs in the store */

static void setup(void)
{
	strcpy(store_dir, "/tmp/tv-index2-XXXXXX");
	cr_assert_not_null(mkdtemp(store_dir));
	if (synth_real_segs) {
		store_segs_cfg cfg;
		store_segs_cfg_default(&cfg);
		cfg.writable = true;
		cfg.sync = false;
		cfg.version = STORE_FORMAT_VERSION;
		cr_assert_eq(store_segs_open(store_dir, synth_uuid, &cfg, &synth_segs), 0);
	}
	make_input();
}

static void teardown(void)
{
	free_input();
	store_segs_close(synth_segs);
	synth_segs = NULL;
	cr_assert_eq(test_rmtree(store_dir), 0);
}

static void commit_range(idx *x, size_t from, size_t to)
{
	idx2_chunk_in in[16];
	for (size_t i = from; i < to;) {
		size_t n = 0;
		for (; i < to && n < 7; i++, n++) {
			in[n].rec = chunks[i].rec;
			in[n].flows = chunks[i].flows;
			in[n].nflows = chunks[i].nflows;
		}
		cr_assert_eq(idx_commit2(x, in, n, NULL, 0, NULL), 0);
	}
}


#endif
