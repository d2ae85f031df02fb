/*
 * pipeline.c — the write path of a store directory.
 *
 * Durability order (FORMAT.md): a sealed chunk is appended to its segment,
 * the segment is fdatasync'ed, and only then are the chunk's metadata,
 * postings and source marks committed to LMDB in one transaction.  A crash
 * at any point leaves either an indexed chunk, or whole unindexed chunks
 * past the index (indexed again on the next open, with their source marks
 * from the chunk tag), or a torn tail (cut off and counted).
 */
#include "vault_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* Flow-table callback: keeps records until the next commit. */

int flows_append(tv_flowrec **buf, size_t *n, size_t *cap, const tv_flowrec *recs, size_t k)
{
	if (*n + k > *cap) {
		size_t nc = (*n + k) * 2;
		tv_flowrec *t = realloc(*buf, nc * sizeof *t);
		if (!t)
			return TV_E_NOMEM;
		*buf = t;
		*cap = nc;
	}
	memcpy(*buf + *n, recs, k * sizeof *recs);
	*n += k;
	return 0;
}

void vault_on_flows(void *ctx, const tv_flowrec *recs, size_t n)
{
	idx_vault *v = ctx;
	if (v->fp) {
		fp_queue_flows(v, recs, n);
		return;
	}
	if (flows_append(&v->flows, &v->nflows, &v->flows_cap, recs, n) != 0)
		v->flow_err = TV_E_NOMEM;
}

/* Flow records are derived data: committed after the chunks they come
 * from, in their own transaction. */
int vault_commit_flows(idx_vault *v)
{
	int rc;
	if (v->flow_err)
		return v->flow_err;
	if (v->nflows == 0)
		return 0;
	rc = idx_flows_put(v->x, v->flows, v->nflows);
	if (rc == 0)
		v->nflows = 0;
	return rc;
}

/*
 * The mark of the file being read carries the hash of the bytes consumed up
 * to its last added packet, and src_hash stands exactly there (it is moved
 * on only when a packet is added).  The digest is taken only when the mark
 * leaves the open chunk (a seal, a hand-off) or another file starts, not per
 * packet.
 */
void settle_marks(idx_vault *v, idx_source_mark *marks, size_t n)
{
	size_t i;
	if (!v->src_active)
		return;
	for (i = 0; i < n; i++)
		if (memcmp(marks[i].identity, v->src_identity, 40) == 0 &&
		    ingest_prefix_len(v->src_hash) == marks[i].prefix_len)
			ingest_prefix_digest(v->src_hash, marks[i].prefix_sha256);
}

void encode_tag(idx_vault *v, idx_source_mark *marks, size_t n, uint8_t *tag,
                uint32_t *len)
{
	size_t i;
	uint8_t *m;
	settle_marks(v, marks, n);
	tag[0] = VAULT_TAG_VERSION;
	tag[1] = (uint8_t)n;
	for (i = 0; i < n; i++) {
		m = tag + 2 + i * VAULT_MARK_LEN;
		memcpy(m, marks[i].identity, 40);
		tv_put_le64(m + 40, marks[i].packets_done);
		tv_put_le64(m + 48, marks[i].prefix_len);
		memcpy(m + 56, marks[i].prefix_sha256, 32);
	}
	*len = (uint32_t)(2 + n * VAULT_MARK_LEN);
}

/* Tags of another layout (version 1 kept no prefix hash) give no marks:
 * the chunk is still indexed, and its file is stored afresh if ingested
 * again (duplicates, never a silent skip). */
size_t decode_tag(const uint8_t *tag, uint32_t len, idx_source_mark *marks)
{
	size_t i, n;
	const uint8_t *m;
	if (!tag || len < 2 || tag[0] != VAULT_TAG_VERSION)
		return 0;
	n = tag[1];
	if (n > VAULT_MAX_MARKS || len != 2 + n * VAULT_MARK_LEN)
		return 0;
	for (i = 0; i < n; i++) {
		m = tag + 2 + i * VAULT_MARK_LEN;
		memcpy(marks[i].identity, m, 40);
		marks[i].packets_done = tv_get_le64(m + 40);
		marks[i].prefix_len = tv_get_le64(m + 48);
		memcpy(marks[i].prefix_sha256, m + 56, 32);
	}
	return n;
}

/*
 * The one commit of the write path; every LMDB commit of a vault goes
 * through here.  pend[0..n) are chunks already appended to their
 * segments: sync makes them durable (one fdatasync) before anything names
 * them (FORMAT.md's durability order; recovery passes false, its chunks
 * were on disk before the open).  Then their metadata, postings and source
 * marks are committed, VAULT_COMMIT_MAX chunks per LMDB transaction, and
 * delta (the counter growth; NULL: none) goes with the last one.  n == 0
 * with a delta commits the counters alone; n == 0 without one does
 * nothing.  The posting collectors are reset once committed (kept on
 * error, the caller decides).
 */
int vault_commit_chunks(idx_vault *v, struct pending *pend, size_t n, const tv_counters *delta,
                        bool sync)
{
	store_chunk_meta metas[VAULT_COMMIT_MAX];
	idx_post *posts[VAULT_COMMIT_MAX];
	idx_source_mark marks[VAULT_COMMIT_MAX * VAULT_MAX_MARKS];
	size_t i, j, done = 0;
	int rc;

	if (n == 0 && !delta)
		return 0;
	if (n && sync && (rc = store_segs_sync(v->segs)) != 0)
		return rc;
	do {
		size_t k = n - done, nm = 0;
		if (k > VAULT_COMMIT_MAX)
			k = VAULT_COMMIT_MAX;
		for (i = 0; i < k; i++) {
			metas[i] = pend[done + i].meta;
			posts[i] = pend[done + i].post;
			for (j = 0; j < pend[done + i].nmarks; j++)
				marks[nm++] = pend[done + i].marks[j];
		}
		rc = idx_commit(v->x, metas, posts, k, marks, nm, done + k >= n ? delta : NULL);
		if (rc)
			return rc;
		done += k;
	} while (done < n);
	for (i = 0; i < n; i++)
		idx_post_reset(pend[i].post);
	return 0;
}

/* Commits every pending chunk: one fdatasync, one LMDB transaction. */
static int vault_commit(idx_vault *v)
{
	tv_counters delta;
	bool any = false;
	int rc, k;

	for (k = 0; k < TV_CTR__COUNT; k++) {
		delta.v[k] = v->ctr ? v->ctr->v[k] - v->committed.v[k] : 0;
		any = any || delta.v[k];
	}
	/* nothing to store, but the counters (rejects, drops) still count */
	if (v->npend == 0 && (!any || v->live))
		return 0;
	rc = vault_commit_chunks(v, v->pend, v->npend, &delta, true);
	if (rc)
		return rc;
	if (v->ctr)
		v->committed = *v->ctr;
	v->npend = 0;
	return vault_commit_flows(v);
}

/* Seals the open chunk and appends it to its segment; commits when enough
 * chunks are pending.  Threaded: hands the open chunk to the pool. */
static int vault_seal(idx_vault *v)
{
	uint8_t tag[VAULT_TAG_MAX];
	uint32_t taglen;
	const uint8_t *chunk;
	size_t len;
	struct pending *p;
	idx_post *swap;
	int rc;

	if (v->fp)
		return fp_handoff(v, false);
	if (store_builder_count(v->b) == 0)
		return 0;
	encode_tag(v, v->cur_marks, v->cur_nmarks, tag, &taglen);
	rc = store_builder_set_tag(v->b, tag, taglen);
	if (rc)
		return rc;
	p = &v->pend[v->npend];
	rc = store_builder_seal(v->b, v->next_chunk_id, &chunk, &len, &p->meta);
	if (rc)
		return rc;
	rc = store_segs_append(v->segs, chunk, len, &p->meta.segment, &p->meta.offset);
	if (rc)
		return rc;
	p->meta.length = (uint32_t)len;
	v->next_chunk_id++;
	/* the pending slot's collector becomes free for the next chunk */
	swap = p->post;
	p->post = v->cur_post;
	v->cur_post = swap;
	memcpy(p->marks, v->cur_marks, sizeof p->marks);
	p->nmarks = v->cur_nmarks;
	v->cur_nmarks = 0;
	v->npend++;
	if (v->ctr) {
		/* counted once the chunk is in its segment, not as packets are
		 * added: a failed write (a full disk) stores none of them */
		v->ctr->v[TV_CTR_STORE_CHUNKS]++;
		v->ctr->v[TV_CTR_STORE_PACKETS] += p->meta.npkts;
		v->ctr->v[TV_CTR_STORE_BYTES] += p->meta.orig_bytes;
		v->ctr->v[TV_CTR_STORE_RAW_BYTES] += p->meta.raw_len;
		v->ctr->v[TV_CTR_STORE_COMP_BYTES] += p->meta.length;
	}
	if (v->npend >= v->cfg.commit_chunks)
		return vault_commit(v);
	return 0;
}

int idx_vault_add(idx_vault *v, const tv_pkt *pkt, const idx_file_pos *pos)
{
	const uint8_t *src_identity = pos && v->src_active ? v->src_identity : NULL;
	int rc;
	size_t i;

	v->added++; /* stored only once its chunk is written (vault_seal, fp_take) */
	if (src_identity) {
		for (i = 0; i < v->cur_nmarks; i++)
			if (memcmp(v->cur_marks[i].identity, src_identity, 40) == 0)
				break;
		if (i == v->cur_nmarks && i == VAULT_MAX_MARKS) {
			rc = vault_seal(v);
			if (rc)
				return rc;
			i = 0;
		}
	}
	rc = store_builder_add(v->b, pkt);
	if (rc == TV_E_FULL) {
		rc = vault_seal(v);
		if (rc)
			return rc;
		rc = store_builder_add(v->b, pkt);
	}
	if (rc)
		return rc;
	if (src_identity) {
		/* the packet is in the open chunk: the hash moves past it */
		if ((rc = ingest_prefix_advance(v->src_hash, pos->file_end)) != 0)
			return rc;
		for (i = 0; i < v->cur_nmarks; i++)
			if (memcmp(v->cur_marks[i].identity, src_identity, 40) == 0)
				break;
		if (i == v->cur_nmarks) {
			memset(&v->cur_marks[i], 0, sizeof v->cur_marks[i]);
			memcpy(v->cur_marks[i].identity, src_identity, 40);
			v->cur_nmarks++;
		}
		v->cur_marks[i].packets_done = pos->ordinal + 1;
		v->cur_marks[i].prefix_len = pos->file_end;
	}
	idx_post_add(v->cur_post, pkt->ts_ns, &pkt->tun, &pkt->info);
	if (v->ft)
		ingest_flowtab_add(v->ft, pkt);
	if (store_builder_full(v->b))
		return vault_seal(v);
	return 0;
}

int idx_vault_flush(idx_vault *v)
{
	int rc;
	if (v->fp)
		return fp_flush(v);
	rc = vault_seal(v);
	if (rc)
		return rc;
	rc = vault_commit(v);
	if (rc)
		return rc;
	return vault_commit_flows(v);
}

int idx_vault_tick(idx_vault *v, uint64_t now_ns)
{
	if (v->ft)
		ingest_flowtab_advance(v->ft, now_ns);
	if (v->fp)
		return v->flow_err; /* the records go with the next hand-off */
	return vault_commit_flows(v);
}

