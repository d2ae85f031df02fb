/*
 * chunk2_measure.c — packs a decapsulated capture into version-2 chunks
 * (store_packer) and reports what it costs: stored bytes against the
 * capture and against zstd of the whole capture, CPU time of the packer
 * against zstd's, and optionally the decode side and the work a host
 * query would do.  A benchmark and tuning tool, not part of tapvault:
 * built by `make chunk2-measure` (and `make bench`), never by `make test`.
 *
 *   chunk2-measure [options] FILE.pcap
 *     --raw-target N     frame bytes per chunk (default 1 MiB)
 *     --block-target N   section-A bytes per block (default 32 KiB)
 *     --level N          zstd level of section A (default 3)
 *     --split-min N      payload bytes the entropy test needs (0: never split)
 *     --split-pct N      distinct-byte threshold, percent (default 85)
 *     --repeat N         time the packer (and --zstd-ref) N times; report the
 *                        minimum and the median (a shared machine is noisy)
 *     --zstd-ref         also compress the whole file with libzstd,
 *                        single-threaded (what `zstd -3 -T1` does)
 *     --ref-level N      its level (default 3)
 *     --verify           load every chunk back (store_chunk_load with the
 *                        hash), compare every frame with the capture, time it
 *     --host ADDR        report what reading ADDR's packets would decode:
 *                        blocks holding one of its flows, their section A,
 *                        the tails of its own packets
 *     -o FILE            write the chunks back to back to FILE
 *     --index DIR        index the chunks (index version 2, idx_commit2 in
 *                        batches of 8, flows from each chunk's decoded flow
 *                        directories, as recovery does) into DIR/index, which
 *                        must not exist, and report the size of every table;
 *                        the chunks are written to segments in DIR first
 *     --query EXPR       with --index, read EXPR's packets (idx_read2) and
 *                        report its work: blocks read, bytes decoded against
 *                        bytes returned, wall time (may be given up to 8 times)
 *     --query-out PREFIX write query i's packets to PREFIXi.pcap (ns pcap), to
 *                        compare with tcpdump -w of the same expression
 *
 * The capture is read into memory first and the flow keys computed in a
 * pass of their own, so the packer's CPU time is measured alone (one
 * clock read around the whole pass: per-packet clock reads would cost
 * more than the packer).
 *
 * The flow key is the index's (idx2_flowkey_make); the L4 payload offset
 * is computed here from the headers (IPv4 IHL, IPv6 fixed header, TCP
 * data offset, UDP 8) until ingest reports it.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "../../index/idx2.h"
#include "../../ingest/ingest.h"
#include "../../store/chunk2.h"

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Where the L4 payload starts, or 0 when unknown. */
static uint32_t payload_offset(const uint8_t *f, uint32_t caplen, const tv_l3info *in)
{
	uint32_t off = in->l3_off, l4;
	if (in->l3 == 0 || in->frag == TV_FRAG_LATER)
		return 0;
	if (in->l3 == 4) {
		if (off + 20 > caplen)
			return 0;
		l4 = off + (uint32_t)(f[off] & 0x0f) * 4;
	} else {
		/* only when the next header is the transport itself */
		if (off + 40 > caplen || f[off + 6] != in->key.proto)
			return 0;
		l4 = off + 40;
	}
	if (in->key.proto == 6) {
		if (l4 + 13 > caplen)
			return 0;
		return l4 + (uint32_t)(f[l4 + 12] >> 4) * 4;
	}
	if (in->key.proto == 17)
		return l4 + 8;
	return 0;
}

typedef struct totals {
	uint64_t pkts, caplen_sum, chunks, stored, blocks, a_raw, a_stored, b_len, split_pkts;
	uint64_t flows, dir_entries;
	double read_cpu, key_cpu, pack_cpu, verify_cpu;
	/* --host */
	uint64_t q_chunks, q_blocks, q_flows, q_a_decoded, q_tail, q_returned, q_pkts;
} totals;

/* The capture in memory, so that the timed pass measures the packer. */
typedef struct capture {
	uint8_t *data;
	size_t len, cap;
	struct cpkt {
		uint64_t ts;
		uint64_t off;
		uint32_t caplen, origlen, poff;
		uint8_t key[40];
		tv_l3info info;
	} *p;
	size_t n, ncap;
} capture;

typedef struct ctx {
	store_packer *pk;
	bool have_host;
	tv_addr host;
	totals t;
	uint64_t next_id;
	uint8_t *arena; /* the chunks, back to back */
	size_t alen, acap;
	uint64_t *chunk_off;
	size_t nchunk_cap;
} ctx;

static bool host_key(const ctx *c, const uint8_t *key)
{
	return memcmp(key, c->host.b, 16) == 0 || memcmp(key + 16, c->host.b, 16) == 0;
}

/* Seals and keeps the chunk; the host's blocks come from the flow list. */
static int seal(ctx *c)
{
	const uint8_t *chunk;
	size_t len;
	store_hdr h;
	store_pack_stats st;
	int err = store_packer_seal(c->pk, c->next_id++, &chunk, &len, &h);
	if (err)
		return err;
	store_packer_stats(c->pk, &st);
	c->t.stored += len;
	c->t.blocks += st.nblocks;
	c->t.a_raw += st.a_raw;
	c->t.a_stored += st.a_stored;
	c->t.b_len += st.b_len;
	c->t.split_pkts += st.split_pkts;
	c->t.flows += store_packer_nflows(c->pk);
	c->t.dir_entries += h.nflows;
	if (c->alen + len > c->acap || c->t.chunks == c->nchunk_cap) {
		c->acap = (c->alen + len) * 2;
		c->arena = realloc(c->arena, c->acap);
		c->nchunk_cap = c->nchunk_cap ? c->nchunk_cap * 2 : 1024;
		c->chunk_off = realloc(c->chunk_off, c->nchunk_cap * sizeof *c->chunk_off);
		if (!c->arena || !c->chunk_off)
			return TV_E_NOMEM;
	}
	memcpy(c->arena + c->alen, chunk, len);
	c->chunk_off[c->t.chunks++] = c->alen;
	c->alen += len;

	if (c->have_host) {
		store_blkref refs[STORE_V2_MAX_BLOCKS];
		const uint8_t *tag;
		uint32_t tl, i;
		uint64_t blocks = 0;
		if (store_head_parse(&h, chunk + STORE_V2_HDR_LEN, h.head_len, refs, &tag, &tl) != 0)
			return TV_E_CORRUPT;
		for (i = 0; i < store_packer_nflows(c->pk); i++) {
			store_pflow f;
			store_packer_flow(c->pk, i, &f);
			if (host_key(c, f.key)) {
				blocks |= f.blocks;
				c->t.q_flows++;
			}
		}
		for (i = 0; i < h.nblocks; i++)
			if (blocks & (1ull << i)) {
				c->t.q_blocks++;
				c->t.q_a_decoded += refs[i].a_raw;
			}
		c->t.q_chunks += blocks != 0;
	}
	return 0;
}

/* Loads every chunk back; checks every frame against the capture (by
 * seq, in arrival order) and, for --host, adds up the tails a query
 * would copy. */
static int verify(ctx *c, const capture *cap, bool check)
{
	store_chunk *ck;
	uint64_t base = 0, ci;
	double t0 = cpu_now();
	if (store_chunk_new(&ck) != 0)
		return TV_E_NOMEM;
	for (ci = 0; ci < c->t.chunks; ci++) {
		uint64_t end = ci + 1 < c->t.chunks ? c->chunk_off[ci + 1] : c->alen;
		uint32_t k, bi;
		int err = store_chunk_load(ck, c->arena + c->chunk_off[ci], end - c->chunk_off[ci],
		                           STORE_LOAD_HASH, NULL);
		if (err)
			return err;
		for (k = 0; check && k < store_chunk_count(ck); k++) {
			const store_brec *r = store_chunk_rec(ck, k, NULL);
			const uint8_t *fr = store_chunk_frame(ck, k, NULL);
			const struct cpkt *p = &cap->p[base + r->seq];
			if (base + r->seq >= cap->n || r->caplen != p->caplen || r->ts_ns != p->ts ||
			    memcmp(fr, cap->data + p->off, r->caplen) != 0)
				return TV_E_CORRUPT;
		}
		for (bi = 0; c->have_host && bi < store_chunk_nblocks(ck); bi++) {
			const store_block *b = store_chunk_block(ck, bi);
			uint32_t fi;
			for (fi = 0; fi < store_block_nflows(b); fi++) {
				const store_bflow *f = store_block_flow(b, fi);
				if (!host_key(c, f->key))
					continue;
				for (k = 0; k < f->nrec; k++) {
					const store_brec *r = store_block_rec(b, f->first + k);
					c->t.q_tail += r->caplen - r->alen;
					c->t.q_returned += r->caplen;
					c->t.q_pkts++;
				}
			}
		}
		base += store_chunk_count(ck);
	}
	c->t.verify_cpu = cpu_now() - t0;
	store_chunk_free(ck);
	return base == cap->n ? 0 : TV_E_CORRUPT;
}

#define MAX_REPEAT 50

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sorts v; returns the minimum, *median the median. */
static double min_median(double *v, int n, double *median)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	*median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return v[0];
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct qout {
	uint64_t bytes;
	pcap_dumper_t *dump;
} qout;

static int count_pkt(void *arg, const idx2_pkt *p)
{
	qout *o = arg;
	o->bytes += p->caplen;
	if (o->dump) {
		struct pcap_pkthdr h;
		h.ts.tv_sec = (time_t)(p->ts_ns / 1000000000u);
		h.ts.tv_usec = (suseconds_t)(p->ts_ns % 1000000000u); /* ns: a nano pcap */
		h.caplen = p->caplen;
		h.len = p->origlen;
		pcap_dump((u_char *)o->dump, &h, p->frame);
	}
	return 0;
}

/* Reads each query's packets from the indexed segments and reports the work. */
static int run_queries(idx *x, store_segs *segs, const char *const *queries, int nq,
                       const char *out_prefix)
{
	for (int q = 0; q < nq; q++) {
		pcap_t *dead = NULL;
		qout o = { 0, NULL };
		idx_expr *e;
		idx_expr_err err;
		idx2_read_stats st;
		idx2_plan_stats pst;
		double t0;
		int rc;
		if ((rc = idx_expr_parse(queries[q], tv_clock_real_ns(), &e, &err)) != 0) {
			fprintf(stderr, "chunk2-measure: --query '%s': %s\n", queries[q], err.msg);
			return rc;
		}
		if (out_prefix) {
			char name[4096];
			snprintf(name, sizeof name, "%s%d.pcap", out_prefix, q);
			dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 262144,
			                                            PCAP_TSTAMP_PRECISION_NANO);
			if (!dead || !(o.dump = pcap_dump_open(dead, name))) {
				fprintf(stderr, "chunk2-measure: cannot write %s\n", name);
				return EIO;
			}
		}
		t0 = wall_now();
		rc = idx_read2(x, segs, e, 0, count_pkt, &o, &st, &pst, NULL, 0);
		t0 = wall_now() - t0;
		idx_expr_free(e);
		if (o.dump)
			pcap_dump_close(o.dump);
		if (dead)
			pcap_close(dead);
		if (rc)
			return rc;
		printf("query            '%s': %llu packets, %llu bytes; %.4f s; slices %llu, keys %llu, "
		       "chunks %llu, blocks planned %llu read %llu, bytes read %llu, decoded %llu "
		       "(%.1fx returned), scanned %llu\n",
		       queries[q], (unsigned long long)st.matched, (unsigned long long)o.bytes, t0,
		       (unsigned long long)pst.slices_visited, (unsigned long long)pst.keys_read,
		       (unsigned long long)pst.chunks_planned, (unsigned long long)pst.blocks_planned,
		       (unsigned long long)st.blocks_read, (unsigned long long)st.bytes_read,
		       (unsigned long long)st.bytes_decoded,
		       o.bytes ? (double)st.bytes_decoded / (double)o.bytes : 0.0,
		       (unsigned long long)st.pkts_scanned);
	}
	return 0;
}

/* Writes the packed chunks to segments in DIR, indexes them into
 * DIR/index, reports the tables and runs the queries. */
static int index_chunks(const ctx *c, const char *dir, const char *const *queries, int nq,
                        const char *out_prefix)
{
	enum { BATCH = 8 };
	static const char *const names[] = { "v2_chunks", "v2_slices", "v2_stime", "v2_post",
	                                     "v2_opost", "v2_segs" };
	idx_cfg cfg;
	idx *x = NULL;
	store_segs *segs = NULL;
	store_segs_cfg scfg;
	uint8_t uuid[16];
	store_chunk *ck[BATCH] = { NULL };
	store_pflow *fl[BATCH] = { NULL };
	size_t flcap[BATCH] = { 0 };
	idx2_chunk_in in[BATCH];
	MDB_txn *txn;
	uint64_t ci, total = 0;
	double t0, cpu = 0;
	int rc;

	idx_cfg_default(&cfg);
	cfg.writable = true;
	cfg.format = IDX_FORMAT_VERSION;
	if ((rc = idx_open(dir, &cfg, &x)) != 0)
		return rc;
	idx_store_uuid(x, uuid);
	store_segs_cfg_default(&scfg);
	scfg.writable = true;
	scfg.sync = false;
	scfg.version = STORE_FORMAT_VERSION; /* the segments of a store of this format */
	if ((rc = store_segs_open(dir, uuid, &scfg, &segs)) != 0)
		goto out;
	for (int i = 0; i < BATCH; i++)
		if ((rc = store_chunk_new(&ck[i])) != 0)
			goto out;
	for (ci = 0; ci < c->t.chunks;) {
		size_t n = 0;
		for (; ci < c->t.chunks && n < BATCH; ci++, n++) {
			uint64_t off = c->chunk_off[ci];
			uint64_t end = ci + 1 < c->t.chunks ? c->chunk_off[ci + 1] : c->alen, soff;
			uint32_t seg;
			size_t nf = 0;
			/* the packer numbered chunks from 0; the index takes them from 1 */
			if ((rc = store_chunk_set_id(c->arena + off, end - off, ci + 1)) != 0 ||
			    (rc = store_segs_append(segs, c->arena + off, end - off, &seg, &soff)) != 0 ||
			    (rc = store_chunk_load(ck[n], c->arena + off, end - off, 0, NULL)) != 0 ||
			    (rc = idx2_chunk_from_sealed(c->arena + off, end - off, seg, soff,
			                                 &in[n].rec)) != 0)
				goto out;
			for (uint32_t b = 0; b < store_chunk_nblocks(ck[n]); b++) {
				const store_block *bl = store_chunk_block(ck[n], b);
				for (uint32_t f = 0; f < store_block_nflows(bl); f++) {
					const store_bflow *d = store_block_flow(bl, f);
					if (nf == flcap[n]) {
						flcap[n] = flcap[n] ? 2 * flcap[n] : 4096;
						fl[n] = realloc(fl[n], flcap[n] * sizeof *fl[n]);
						if (!fl[n]) {
							rc = TV_E_NOMEM;
							goto out;
						}
					}
					fl[n][nf].key = d->key;
					fl[n][nf].tun = d->tun;
					fl[n][nf].blocks = (uint64_t)1 << b;
					fl[n][nf].nrec = d->nrec;
					nf++;
				}
			}
			in[n].flows = fl[n];
			in[n].nflows = nf;
		}
		t0 = cpu_now();
		rc = idx_commit2(x, in, n, NULL, 0, NULL);
		cpu += cpu_now() - t0;
		if (rc)
			goto out;
	}
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		goto out;
	printf("index v2         %llu chunks; commit cpu %.3f s\n", (unsigned long long)c->t.chunks,
	       cpu);
	{
		MDB_dbi dbis[] = { x->db2_chunks, x->db2_slices, x->db2_stime, x->db2_post,
		                   x->db2_opost, x->db2_segs };
		for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
			MDB_stat st;
			MDB_cursor *cur;
			MDB_val k, d;
			uint64_t kv = 0, pages;
			mdb_stat(txn, dbis[i], &st);
			pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
			mdb_cursor_open(txn, dbis[i], &cur);
			while (mdb_cursor_get(cur, &k, &d, MDB_NEXT) == 0)
				kv += k.mv_size + d.mv_size;
			mdb_cursor_close(cur);
			total += pages * st.ms_psize;
			printf("  %-10s %8llu entries, %10llu key+value bytes, %6llu pages = %10llu bytes\n",
			       names[i], (unsigned long long)st.ms_entries, (unsigned long long)kv,
			       (unsigned long long)pages, (unsigned long long)pages * st.ms_psize);
		}
	}
	mdb_txn_abort(txn);
	printf("index v2 total   %llu bytes in pages = %.0f per chunk = %.2f%% of the stored chunks\n",
	       (unsigned long long)total, c->t.chunks ? (double)total / (double)c->t.chunks : 0.0,
	       c->t.stored ? 100.0 * (double)total / (double)c->t.stored : 0.0);
	rc = run_queries(x, segs, queries, nq, out_prefix);
out:
	for (int i = 0; i < BATCH; i++) {
		store_chunk_free(ck[i]);
		free(fl[i]);
	}
	idx_close(x);
	store_segs_close(segs);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: chunk2-measure [--raw-target N] [--block-target N] [--level N] [--repeat N]\n"
	                "         [--split-min N] [--split-pct N] [--zstd-ref] [--ref-level N] [--verify]\n"
	                "         [--host ADDR] [-o FILE] [--index DIR [--query EXPR]... [--query-out PREFIX]] FILE.pcap\n");
	exit(2);
}

/* What `zstd -L -T1` does to the file: one frame, streaming, level L. */
static int zstd_ref(const char *path, int level, uint64_t *out_bytes, double *cpu)
{
	FILE *f = fopen(path, "rb");
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t in_cap = ZSTD_CStreamInSize(), out_cap = ZSTD_CStreamOutSize();
	uint8_t *ib = malloc(in_cap), *ob = malloc(out_cap);
	double t0 = cpu_now();
	uint64_t total = 0;
	long fsz;
	if (!f || !cc || !ib || !ob)
		return -1;
	fseek(f, 0, SEEK_END);
	fsz = ftell(f);
	fseek(f, 0, SEEK_SET);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setPledgedSrcSize(cc, (unsigned long long)fsz);
	for (;;) {
		size_t n = fread(ib, 1, in_cap, f);
		bool last = n < in_cap;
		ZSTD_inBuffer in = { ib, n, 0 };
		bool done = false;
		while (!done) {
			ZSTD_outBuffer o = { ob, out_cap, 0 };
			size_t r = ZSTD_compressStream2(cc, &o, &in, last ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(r))
				return -1;
			total += o.pos;
			done = last ? r == 0 : in.pos == in.size;
		}
		if (last)
			break;
	}
	*cpu = cpu_now() - t0;
	*out_bytes = total;
	fclose(f);
	ZSTD_freeCCtx(cc);
	free(ib);
	free(ob);
	return 0;
}

int main(int argc, char **argv)
{
	store_packer_cfg cfg;
	ctx c;
	capture cap;
	char err[PCAP_ERRBUF_SIZE];
	const char *path = NULL, *out_path = NULL, *index_dir = NULL, *queries[8], *qprefix = NULL;
	int nq = 0;
	bool do_ref = false, do_verify = false;
	pcap_t *pc;
	struct pcap_pkthdr *ph;
	const u_char *data;
	uint64_t file_bytes = 24;
	double t0, pack_times[MAX_REPEAT], pack_median, zstd_times[MAX_REPEAT];
	size_t k;
	int i, rc, rep, repeat = 1, ref_level = 3;

	store_packer_cfg_default(&cfg);
	memset(&c, 0, sizeof c);
	memset(&cap, 0, sizeof cap);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--raw-target") && v)
			cfg.raw_target = (uint32_t)strtoul(v, NULL, 0), i++;
		else if (!strcmp(a, "--block-target") && v)
			cfg.block_target = (uint32_t)strtoul(v, NULL, 0), i++;
		else if (!strcmp(a, "--level") && v)
			cfg.zstd_level = atoi(v), i++;
		else if (!strcmp(a, "--split-min") && v)
			cfg.split_min = (uint32_t)strtoul(v, NULL, 0), i++;
		else if (!strcmp(a, "--split-pct") && v)
			cfg.split_pct = (uint32_t)strtoul(v, NULL, 0), i++;
		else if (!strcmp(a, "--repeat") && v) {
			repeat = atoi(v);
			if (repeat < 1 || repeat > MAX_REPEAT)
				usage();
			i++;
		} else if (!strcmp(a, "--zstd-ref"))
			do_ref = true;
		else if (!strcmp(a, "--verify"))
			do_verify = true;
		else if (!strcmp(a, "--host") && v) {
			if (tv_addr_parse(v, &c.host) != 0)
				usage();
			c.have_host = true;
			i++;
		} else if (!strcmp(a, "-o") && v)
			out_path = v, i++;
		else if (!strcmp(a, "--index") && v)
			index_dir = v, i++;
		else if (!strcmp(a, "--query") && v && nq < 8)
			queries[nq++] = v, i++;
		else if (!strcmp(a, "--query-out") && v)
			qprefix = v, i++;
		else if (a[0] == '-' || path)
			usage();
		else
			path = a;
	}
	if (!path)
		usage();

	/* 1. read the capture into memory */
	t0 = cpu_now();
	pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	if (!pc) {
		fprintf(stderr, "chunk2-measure: %s: %s\n", path, err);
		return 2;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		fprintf(stderr, "chunk2-measure: %s: link type %d, expected Ethernet (a decapsulated capture)\n",
		        path, pcap_datalink(pc));
		return 2;
	}
	while ((rc = pcap_next_ex(pc, &ph, &data)) == 1) {
		struct cpkt *p;
		if (cap.len + ph->caplen > cap.cap) {
			cap.cap = (cap.len + ph->caplen) * 2;
			cap.data = realloc(cap.data, cap.cap);
		}
		if (cap.n == cap.ncap) {
			cap.ncap = cap.ncap ? cap.ncap * 2 : 65536;
			cap.p = realloc(cap.p, cap.ncap * sizeof *cap.p);
		}
		if (!cap.data || !cap.p) {
			fprintf(stderr, "chunk2-measure: out of memory\n");
			return 2;
		}
		p = &cap.p[cap.n++];
		p->ts = (uint64_t)ph->ts.tv_sec * 1000000000ull + (uint64_t)ph->ts.tv_usec;
		p->off = cap.len;
		p->caplen = ph->caplen;
		p->origlen = ph->len;
		memcpy(cap.data + cap.len, data, ph->caplen);
		cap.len += ph->caplen;
		file_bytes += 16 + ph->caplen;
	}
	if (rc != PCAP_ERROR_BREAK) {
		fprintf(stderr, "chunk2-measure: %s: %s\n", path, pcap_geterr(pc));
		return 2;
	}
	pcap_close(pc);
	c.t.read_cpu = cpu_now() - t0;
	c.t.pkts = cap.n;
	c.t.caplen_sum = cap.len;

	/* 2. flow keys and payload offsets (ingest's work, timed apart) */
	t0 = cpu_now();
	for (k = 0; k < cap.n; k++) {
		struct cpkt *p = &cap.p[k];
		tv_l3info in;
		const uint8_t *f = cap.data + p->off;
		ingest_parse_inner(f, p->caplen, &in);
		p->info = in;
		idx2_flowkey_make(&in, p->key);
		p->poff = payload_offset(f, p->caplen, &in);
	}
	c.t.key_cpu = cpu_now() - t0;

	/* 3. the packer, timed as a whole; where its chunks go is allocated
	 * and touched first, so that page faults of the tool do not count */
	c.acap = cap.len + cap.len / 8 + (64u << 20);
	c.nchunk_cap = cap.len / 4096 + 1024;
	c.arena = malloc(c.acap);
	c.chunk_off = malloc(c.nchunk_cap * sizeof *c.chunk_off);
	if (!c.arena || !c.chunk_off) {
		fprintf(stderr, "chunk2-measure: out of memory\n");
		return 2;
	}
	memset(c.arena, 0xA5, c.acap); /* not 0: malloc + memset 0 may become calloc */
	if (store_packer_new(&cfg, &c.pk) != 0) {
		fprintf(stderr, "chunk2-measure: out of memory\n");
		return 2;
	}
	for (rep = 0; rep < repeat; rep++) {
		/* every pass packs the same chunks; the figures are of the last */
		c.t.chunks = c.t.stored = c.t.blocks = c.t.a_raw = c.t.a_stored = c.t.b_len = 0;
		c.t.split_pkts = c.t.flows = c.t.dir_entries = 0;
		c.t.q_chunks = c.t.q_blocks = c.t.q_flows = c.t.q_a_decoded = 0;
		c.alen = 0;
		c.next_id = 0;
		t0 = cpu_now();
		for (k = 0; k < cap.n; k++) {
			const struct cpkt *p = &cap.p[k];
			tv_pkt pk;
			memset(&pk, 0, sizeof pk);
			pk.ts_ns = p->ts;
			pk.frame = cap.data + p->off;
			pk.caplen = p->caplen;
			pk.origlen = p->origlen;
			pk.tun.vni = TV_VNI_NONE;
			pk.info = p->info;
			rc = store_packer_add(c.pk, &pk, p->key, p->poff);
			if (rc == TV_E_FULL) {
				rc = seal(&c);
				if (rc == 0)
					rc = store_packer_add(c.pk, &pk, p->key, p->poff);
			}
			if (rc != 0) {
				fprintf(stderr, "chunk2-measure: packet %zu: %s\n", k + 1, tv_strerror(rc));
				return 1;
			}
		}
		if (store_packer_count(c.pk) > 0 && (rc = seal(&c)) != 0) {
			fprintf(stderr, "chunk2-measure: seal: %s\n", tv_strerror(rc));
			return 1;
		}
		pack_times[rep] = cpu_now() - t0;
	}
	c.t.pack_cpu = min_median(pack_times, repeat, &pack_median);

	if (out_path) {
		FILE *o = fopen(out_path, "wb");
		if (!o || fwrite(c.arena, 1, c.alen, o) != c.alen || fclose(o) != 0) {
			perror(out_path);
			return 1;
		}
	}
	if ((do_verify || c.have_host) && (rc = verify(&c, &cap, do_verify)) != 0) {
		fprintf(stderr, "chunk2-measure: reading the chunks back: %s\n", tv_strerror(rc));
		return 1;
	}

	printf("input            %s: %llu packets, %llu frame bytes, %llu pcap bytes\n", path,
	       (unsigned long long)c.t.pkts, (unsigned long long)c.t.caplen_sum,
	       (unsigned long long)file_bytes);
	printf("config           raw_target %u block_target %u level %d split_min %u split_pct %u\n",
	       cfg.raw_target, cfg.block_target, cfg.zstd_level, cfg.split_min, cfg.split_pct);
	printf("chunks           %llu, blocks %llu (%.1f per chunk), flows %llu, directory entries %llu\n",
	       (unsigned long long)c.t.chunks, (unsigned long long)c.t.blocks,
	       c.t.chunks ? (double)c.t.blocks / (double)c.t.chunks : 0.0,
	       (unsigned long long)c.t.flows, (unsigned long long)c.t.dir_entries);
	printf("section A        %llu raw -> %llu stored (%.3f); B %llu; packets split %llu (%.1f%%)\n",
	       (unsigned long long)c.t.a_raw, (unsigned long long)c.t.a_stored,
	       c.t.a_raw ? (double)c.t.a_stored / (double)c.t.a_raw : 0.0,
	       (unsigned long long)c.t.b_len, (unsigned long long)c.t.split_pkts,
	       c.t.pkts ? 100.0 * (double)c.t.split_pkts / (double)c.t.pkts : 0.0);
	printf("stored           %llu bytes = %.4f of the pcap\n", (unsigned long long)c.t.stored,
	       (double)c.t.stored / (double)file_bytes);
	printf("cpu              packer %.3f s (add + seal; min of %d, median %.3f); flow keys %.3f s; "
	       "pcap read %.3f s\n",
	       c.t.pack_cpu, repeat, pack_median, c.t.key_cpu, c.t.read_cpu);
	if (do_verify)
		printf("verify           every frame identical; load with hash %.3f s (%.0f MB/s of frames)\n",
		       c.t.verify_cpu, (double)c.t.caplen_sum / 1e6 / c.t.verify_cpu);
	if (c.have_host)
		printf("host             %llu packets, %llu bytes returned; %llu flows in %llu chunks, "
		       "%llu blocks; decoded: section A %llu + tails %llu = %llu (%.1fx returned)\n",
		       (unsigned long long)c.t.q_pkts, (unsigned long long)c.t.q_returned,
		       (unsigned long long)c.t.q_flows, (unsigned long long)c.t.q_chunks,
		       (unsigned long long)c.t.q_blocks, (unsigned long long)c.t.q_a_decoded,
		       (unsigned long long)c.t.q_tail,
		       (unsigned long long)(c.t.q_a_decoded + c.t.q_tail),
		       c.t.q_returned ? (double)(c.t.q_a_decoded + c.t.q_tail) / (double)c.t.q_returned : 0.0);
	if (do_ref) {
		uint64_t zb = 0;
		double zmin, zmed;
		for (rep = 0; rep < repeat; rep++)
			if (zstd_ref(path, ref_level, &zb, &zstd_times[rep]) != 0) {
				fprintf(stderr, "chunk2-measure: zstd reference failed\n");
				return 1;
			}
		zmin = min_median(zstd_times, repeat, &zmed);
		printf("zstd reference   level %d, one thread, whole file: %llu bytes, cpu %.3f s "
		       "(min of %d, median %.3f)\n",
		       ref_level, (unsigned long long)zb, zmin, repeat, zmed);
		printf("ratio            stored / zstd %.4f; packer cpu / zstd cpu: min %.3f, median %.3f\n",
		       (double)c.t.stored / (double)zb, c.t.pack_cpu / zmin, pack_median / zmed);
	}
	if (index_dir && (rc = index_chunks(&c, index_dir, queries, nq, qprefix)) != 0) {
		fprintf(stderr, "chunk2-measure: indexing into %s: %s\n", index_dir, tv_strerror(rc));
		return 1;
	}
	store_packer_free(c.pk);
	free(c.arena);
	free(c.chunk_off);
	free(cap.data);
	free(cap.p);
	return 0;
}
