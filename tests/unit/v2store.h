/*
 * v2store.h — two stores of one capture, for the tests that compare them
 * (test_query2.c): the capture is decapsulated with the library once;
 * every packet goes to a store through the vault (what ingest does: the
 * write engine, its tags, chunk numbering and commits) and to another
 * through store_packer, store_segs and idx_commit2 directly.
 * tv-gen, built beside the tests (BUILD/tv-gen), makes the captures.
 * Included by one test file each (static functions), not a module.
 */
#ifndef V2STORE_H
#define V2STORE_H

#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../index/idx2.h"
#include "../../index/vault.h"
#include "../../ingest/ingest.h"

/* BUILD/tv-gen, from this test's own path (BUILD/tests/test_x). */
static void v2_tvgen_path(char out[PATH_MAX])
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	cr_assert_gt(n, 0);
	self[n] = '\0';
	snprintf(out, PATH_MAX, "%s/../tv-gen", dirname(self));
	cr_assert_eq(access(out, X_OK), 0, "%s is missing: build it first (make all)", out);
}

/* Runs tv-gen with args (NULL-terminated, at most 30). */
static void v2_tvgen(const char *const *args)
{
	char path[PATH_MAX];
	char *argv[32];
	int status, n = 0;
	pid_t pid;
	v2_tvgen_path(path);
	argv[n++] = path;
	for (; args[n - 1] && n < 31; n++)
		argv[n] = (char *)(uintptr_t)args[n - 1];
	argv[n] = NULL;
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execv(path, argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "tv-gen failed");
}

/* Where the L4 payload starts (store_packer_add's payload_off): after
 * the TCP or UDP header of a first or only fragment, else 0 (unknown:
 * the frame stays whole in section A). */
static uint32_t v2_payload_off(const uint8_t *f, uint32_t caplen, const tv_l3info *in)
{
	uint32_t l4;
	if (in->l3 == 0 || in->frag == TV_FRAG_LATER)
		return 0;
	if (in->l3 == 4) {
		if (in->l3_off + 20 > caplen)
			return 0;
		l4 = in->l3_off + (uint32_t)(f[in->l3_off] & 0x0f) * 4;
	} else {
		if (in->l3_off + 40 > caplen || f[in->l3_off + 6] != in->key.proto)
			return 0; /* extension headers: unknown */
		l4 = in->l3_off + 40;
	}
	if (in->key.proto == 6)
		return l4 + 13 > caplen ? 0 : l4 + (uint32_t)(f[l4 + 12] >> 4) * 4;
	if (in->key.proto == 17)
		return l4 + 8;
	return 0;
}

typedef struct v2_writer {
	idx *x;
	store_segs *segs;
	store_packer *pk;
	uint64_t next_id;
	uint64_t chunks, packets;
} v2_writer;

static void v2_seal(v2_writer *w)
{
	const uint8_t *p;
	size_t len;
	uint32_t seg;
	uint64_t off;
	idx2_chunk_in in;
	store_pflow *fl;
	uint32_t n;

	cr_assert_eq(store_packer_seal(w->pk, w->next_id, &p, &len, NULL), 0);
	cr_assert_eq(store_segs_append(w->segs, p, len, &seg, &off), 0);
	memset(&in, 0, sizeof in);
	cr_assert_eq(idx2_chunk_from_sealed(p, len, seg, off, &in.rec), 0);
	n = store_packer_nflows(w->pk);
	fl = calloc(n, sizeof *fl);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(store_packer_flow(w->pk, i, &fl[i]), 0);
	in.flows = fl;
	in.nflows = n;
	cr_assert_eq(idx_commit2(w->x, &in, 1, NULL, 0, NULL), 0);
	free(fl);
	w->next_id++;
	w->chunks++;
}

static void v2_add(v2_writer *w, const tv_pkt *pkt)
{
	uint8_t key[STORE_V2_KEY_LEN];
	uint32_t poff = v2_payload_off(pkt->frame, pkt->caplen, &pkt->info);
	int rc;
	idx2_flowkey_make(&pkt->info, key);
	rc = store_packer_add(w->pk, pkt, key, poff);
	if (rc == TV_E_FULL) {
		v2_seal(w);
		rc = store_packer_add(w->pk, pkt, key, poff);
	}
	cr_assert_eq(rc, 0);
	w->packets++;
}

/*
 * Decapsulates the outer capture at pcap_path and stores every packet in
 * a new store at dir2 written directly (pcfg: NULL for the packer's
 * defaults) and, when dir1 is not NULL, in a new store at dir1 through
 * the vault, with the same packer settings.  Returns the packets stored.
 */
static uint64_t v2_build(const char *pcap_path, const char *dir2, const char *dir1,
                         const store_packer_cfg *pcfg)
{
	char perr[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline_with_tstamp_precision(pcap_path, PCAP_TSTAMP_PRECISION_NANO,
	                                                     perr);
	ingest_decap_cfg dcfg;
	ingest_decap *d;
	tv_counters ctr, vctr;
	idx_vault *v = NULL;
	v2_writer w;
	idx_cfg icfg;
	store_segs_cfg scfg;
	uint8_t uuid[16];
	struct pcap_pkthdr *h;
	const u_char *data;
	tv_pkt pkt;
	int linktype, rc;

	cr_assert_not_null(pc, "%s: %s", pcap_path, perr);
	linktype = pcap_datalink(pc);
	memset(&ctr, 0, sizeof ctr);
	memset(&vctr, 0, sizeof vctr);
	ingest_decap_cfg_default(&dcfg);
	cr_assert_eq(ingest_decap_new(&dcfg, &ctr, &d), 0);

	memset(&w, 0, sizeof w);
	w.next_id = 1;
	idx_cfg_default(&icfg);
	icfg.writable = true;
	icfg.map_size = 1ull << 30;
	cr_assert_eq(idx_open(dir2, &icfg, &w.x), 0);
	idx_store_uuid(w.x, uuid);
	store_segs_cfg_default(&scfg);
	scfg.writable = true;
	scfg.sync = false;
	cr_assert_eq(store_segs_open(dir2, uuid, &scfg, &w.segs), 0);
	cr_assert_eq(store_packer_new(pcfg, &w.pk), 0);

	if (dir1) {
		idx_vault_cfg vcfg;
		idx_vault_cfg_default(&vcfg);
		vcfg.segs.sync = false;
		if (pcfg)
			vcfg.packer = *pcfg;
		cr_assert_eq(idx_vault_open(dir1, &vcfg, &vctr, NULL, &v), 0);
	}

	for (;;) {
		rc = pcap_next_ex(pc, &h, &data);
		if (rc == -2)
			break;
		cr_assert_eq(rc, 1, "%s: %s", pcap_path, pcap_geterr(pc));
		rc = ingest_decap_packet(d, linktype, data, h->caplen, h->len,
		                         (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec,
		                         &pkt);
		if (rc == INGEST_STORE) {
			v2_add(&w, &pkt);
			if (v)
				cr_assert_eq(idx_vault_add(v, &pkt, NULL), 0);
		}
		while (ingest_decap_next(d, &pkt) == 1) {
			v2_add(&w, &pkt);
			if (v)
				cr_assert_eq(idx_vault_add(v, &pkt, NULL), 0);
		}
	}
	ingest_decap_flush(d);
	while (ingest_decap_next(d, &pkt) == 1) {
		v2_add(&w, &pkt);
		if (v)
			cr_assert_eq(idx_vault_add(v, &pkt, NULL), 0);
	}
	if (store_packer_count(w.pk) > 0)
		v2_seal(&w);
	if (v)
		cr_assert_eq(idx_vault_close(v), 0);
	store_packer_free(w.pk);
	store_segs_close(w.segs);
	idx_close(w.x);
	ingest_decap_free(d);
	pcap_close(pc);
	return w.packets;
}

#endif
