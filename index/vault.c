/*
 * vault.c — the write path and recovery of a store directory.
 *
 * Durability order (FORMAT.md): a sealed chunk is appended to its segment,
 * the segment is fdatasync'ed, and only then are the chunk's metadata,
 * postings and source marks committed to LMDB in one transaction.  A crash
 * at any point leaves either an indexed chunk, or whole unindexed chunks
 * past the index (indexed again on the next open, with their source marks
 * from the chunk tag), or a torn tail (cut off and counted).
 */
#include "vault.h"
#include "../ingest/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Chunk tag written by the vault (FORMAT.md "chunk tag"): u8 version (1),
 * u8 count, then count marks of 48 bytes: source identity (40) and the
 * ordinal just past the last packet of that source in the chunk (u64 LE).
 */
#define VAULT_MAX_MARKS 8
#define VAULT_MARK_LEN 48

struct pending {
	store_chunk_meta meta;
	idx_post *post;
	idx_source_mark marks[VAULT_MAX_MARKS];
	size_t nmarks;
};

struct idx_vault {
	idx_vault_cfg cfg;
	idx *x;
	store_segs *segs;
	store_builder *b;
	idx_post *cur_post;
	idx_source_mark cur_marks[VAULT_MAX_MARKS];
	size_t cur_nmarks;
	struct pending *pend;
	size_t npend;
	uint64_t next_chunk_id;
	tv_counters *ctr;
	tv_counters committed; /* ctr as of the last commit */
	int lock_fd;
	store_reader *rd;      /* recovery */
	ingest_flowtab *ft;    /* NULL when flows are off */
	tv_flowrec *flows;     /* records emitted, not yet committed */
	size_t nflows, flows_cap;
	int flow_err;          /* first error of the emit callback */
};

void idx_vault_cfg_default(idx_vault_cfg *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	store_builder_cfg_default(&cfg->builder);
	store_segs_cfg_default(&cfg->segs);
	idx_cfg_default(&cfg->index);
	cfg->segs.writable = true;
	cfg->index.writable = true;
	cfg->commit_chunks = 1;
	cfg->flows = true;
	ingest_flowtab_cfg_default(&cfg->flowtab);
}

/* Flow-table callback: keeps records until the next commit. */
static void vault_on_flows(void *ctx, const tv_flowrec *recs, size_t n)
{
	idx_vault *v = ctx;
	if (v->nflows + n > v->flows_cap) {
		size_t nc = (v->nflows + n) * 2;
		tv_flowrec *t = realloc(v->flows, nc * sizeof *t);
		if (!t) {
			v->flow_err = TV_E_NOMEM;
			return;
		}
		v->flows = t;
		v->flows_cap = nc;
	}
	memcpy(v->flows + v->nflows, recs, n * sizeof *recs);
	v->nflows += n;
}

/* Flow records are derived data: committed after the chunks they come
 * from, in their own transaction. */
static int vault_commit_flows(idx_vault *v)
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

idx *idx_vault_index(idx_vault *v)
{
	return v->x;
}

static void encode_tag(const idx_source_mark *marks, size_t n, uint8_t *tag, uint32_t *len)
{
	size_t i;
	tag[0] = 1;
	tag[1] = (uint8_t)n;
	for (i = 0; i < n; i++) {
		memcpy(tag + 2 + i * VAULT_MARK_LEN, marks[i].identity, 40);
		tv_put_le64(tag + 2 + i * VAULT_MARK_LEN + 40, marks[i].packets_done);
	}
	*len = (uint32_t)(2 + n * VAULT_MARK_LEN);
}

static size_t decode_tag(const uint8_t *tag, uint32_t len, idx_source_mark *marks)
{
	size_t i, n;
	if (!tag || len < 2 || tag[0] != 1)
		return 0;
	n = tag[1];
	if (n > VAULT_MAX_MARKS || len != 2 + n * VAULT_MARK_LEN)
		return 0;
	for (i = 0; i < n; i++) {
		memcpy(marks[i].identity, tag + 2 + i * VAULT_MARK_LEN, 40);
		marks[i].packets_done = tv_get_le64(tag + 2 + i * VAULT_MARK_LEN + 40);
	}
	return n;
}

/* Commits every pending chunk: one fdatasync, one LMDB transaction. */
static int vault_commit(idx_vault *v)
{
	store_chunk_meta metas[64];
	idx_post *posts[64];
	idx_source_mark marks[64 * VAULT_MAX_MARKS];
	tv_counters delta;
	size_t i, j, nm = 0;
	int rc, k;

	if (v->npend == 0)
		return 0;
	rc = store_segs_sync(v->segs);
	if (rc)
		return rc;
	for (i = 0; i < v->npend; i++) {
		metas[i] = v->pend[i].meta;
		posts[i] = v->pend[i].post;
		for (j = 0; j < v->pend[i].nmarks; j++)
			marks[nm++] = v->pend[i].marks[j];
	}
	for (k = 0; k < TV_CTR__COUNT; k++)
		delta.v[k] = v->ctr ? v->ctr->v[k] - v->committed.v[k] : 0;
	rc = idx_commit(v->x, metas, posts, v->npend, marks, nm, &delta);
	if (rc)
		return rc;
	if (v->ctr)
		v->committed = *v->ctr;
	for (i = 0; i < v->npend; i++)
		idx_post_reset(v->pend[i].post);
	v->npend = 0;
	return vault_commit_flows(v);
}

/* Seals the open chunk and appends it to its segment; commits when enough
 * chunks are pending. */
static int vault_seal(idx_vault *v)
{
	uint8_t tag[2 + VAULT_MAX_MARKS * VAULT_MARK_LEN];
	uint32_t taglen;
	const uint8_t *chunk;
	size_t len;
	struct pending *p;
	idx_post *swap;
	int rc;

	if (store_builder_count(v->b) == 0)
		return 0;
	encode_tag(v->cur_marks, v->cur_nmarks, tag, &taglen);
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
		v->ctr->v[TV_CTR_STORE_CHUNKS]++;
		v->ctr->v[TV_CTR_STORE_RAW_BYTES] += p->meta.raw_len;
		v->ctr->v[TV_CTR_STORE_COMP_BYTES] += p->meta.length;
	}
	if (v->npend >= v->cfg.commit_chunks)
		return vault_commit(v);
	return 0;
}

int idx_vault_add(idx_vault *v, const tv_pkt *pkt, const uint8_t *src_identity, uint64_t ordinal)
{
	int rc;
	size_t i;

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
		for (i = 0; i < v->cur_nmarks; i++)
			if (memcmp(v->cur_marks[i].identity, src_identity, 40) == 0)
				break;
		if (i == v->cur_nmarks) {
			memcpy(v->cur_marks[i].identity, src_identity, 40);
			v->cur_nmarks++;
		}
		v->cur_marks[i].packets_done = ordinal + 1;
	}
	idx_post_add(v->cur_post, pkt->ts_ns, &pkt->tun, &pkt->info);
	if (v->ft)
		ingest_flowtab_add(v->ft, pkt);
	if (v->ctr) {
		v->ctr->v[TV_CTR_STORE_PACKETS]++;
		v->ctr->v[TV_CTR_STORE_BYTES] += pkt->origlen;
	}
	if (store_builder_full(v->b))
		return vault_seal(v);
	return 0;
}

int idx_vault_flush(idx_vault *v)
{
	int rc = vault_seal(v);
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
	return vault_commit_flows(v);
}

/* ------------------------------------------------------------ recovery */

struct recover_ctx {
	idx_vault *v;
	uint32_t segment;
	idx_recovery *rec;
};

static int recover_chunk(void *ctx, const store_chunk_meta *meta, const uint8_t *chunk, size_t len)
{
	struct recover_ctx *rc = ctx;
	idx_vault *v = rc->v;
	struct pending *p = &v->pend[0];
	const uint8_t *tag;
	uint32_t taglen, i, n;
	int err;

	err = store_reader_load(v->rd, chunk, len, true, NULL);
	if (err)
		return err;
	idx_post_reset(p->post);
	n = store_reader_count(v->rd);
	for (i = 0; i < n; i++) {
		store_rec r;
		tv_l3info info;
		store_reader_get(v->rd, i, &r);
		ingest_parse_inner(r.frame, r.caplen, &info);
		idx_post_add(p->post, r.ts_ns, r.tun, &info);
	}
	tag = store_reader_tag(v->rd, &taglen);
	p->nmarks = decode_tag(tag, taglen, p->marks);
	p->meta = *meta;
	p->meta.segment = rc->segment;
	p->meta.length = (uint32_t)len;
	err = idx_commit(v->x, &p->meta, &p->post, 1, p->marks, p->nmarks, NULL);
	if (err)
		return err;
	if (meta->chunk_id >= v->next_chunk_id)
		v->next_chunk_id = meta->chunk_id + 1;
	rc->rec->chunks_indexed++;
	rc->rec->packets_indexed += n;
	return 0;
}

static int vault_recover(idx_vault *v, idx_recovery *rec)
{
	store_chunk_meta last;
	uint32_t seg, newest = store_segs_newest(v->segs);
	uint64_t off = 0;
	int rc;

	rc = idx_chunk_last(v->x, &last);
	if (rc == 0) {
		seg = last.segment;
		off = last.offset + last.length;
		v->next_chunk_id = last.chunk_id + 1;
	} else if (rc == TV_E_NOTFOUND) {
		seg = newest ? 1 : 0;
		v->next_chunk_id = 1;
	} else {
		return rc;
	}
	if (newest == 0)
		return 0;
	for (; seg <= newest; seg++, off = 0) {
		struct recover_ctx ctx = { v, seg, rec };
		uint64_t valid_end = 0, torn = 0;
		rc = store_segs_scan(v->segs, seg, off ? off : STORE_SEG_HDR_LEN, recover_chunk, &ctx,
		                     &valid_end, &torn);
		if (rc == ENOENT)
			continue; /* a gap left by retention */
		if (rc)
			return rc;
		if (torn) {
			rc = store_segs_truncate(v->segs, seg, valid_end);
			if (rc)
				return rc;
			rec->torn_bytes += torn;
			rec->torn_segment = seg;
			rec->torn_offset = valid_end;
		}
	}
	return 0;
}

static int vault_lock(const char *dir, int *fd_out)
{
	char path[4096];
	int fd;
	snprintf(path, sizeof path, "%s/LOCK", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? TV_E_LOCKED : e;
	}
	*fd_out = fd;
	return 0;
}

int idx_vault_open(const char *dir, const idx_vault_cfg *cfg, tv_counters *ctr,
                   idx_recovery *rec, idx_vault **out)
{
	idx_vault *v;
	uint8_t uuid[16];
	idx_recovery dummy;
	size_t i;
	int rc;

	*out = NULL;
	if (!rec)
		rec = &dummy;
	memset(rec, 0, sizeof *rec);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errno;
	v = calloc(1, sizeof *v);
	if (!v)
		return TV_E_NOMEM;
	v->cfg = *cfg;
	if (v->cfg.commit_chunks == 0)
		v->cfg.commit_chunks = 1;
	if (v->cfg.commit_chunks > 64)
		v->cfg.commit_chunks = 64;
	v->ctr = ctr;
	if (ctr)
		v->committed = *ctr;
	v->lock_fd = -1;
	rc = vault_lock(dir, &v->lock_fd);
	if (rc)
		goto fail;
	rc = idx_open(dir, &v->cfg.index, &v->x);
	if (rc)
		goto fail;
	idx_store_uuid(v->x, uuid);
	rc = store_segs_open(dir, uuid, &v->cfg.segs, &v->segs);
	if (rc)
		goto fail;
	rc = store_builder_new(&v->cfg.builder, &v->b);
	if (rc)
		goto fail;
	rc = store_reader_new(&v->rd);
	if (rc)
		goto fail;
	v->pend = calloc(v->cfg.commit_chunks, sizeof *v->pend);
	if (!v->pend) {
		rc = TV_E_NOMEM;
		goto fail;
	}
	for (i = 0; i < v->cfg.commit_chunks; i++) {
		rc = idx_post_new(&v->pend[i].post);
		if (rc)
			goto fail;
	}
	rc = idx_post_new(&v->cur_post);
	if (rc)
		goto fail;
	if (v->cfg.flows) {
		rc = ingest_flowtab_new(&v->cfg.flowtab, vault_on_flows, v, ctr, &v->ft);
		if (rc)
			goto fail;
	}
	rc = vault_recover(v, rec);
	if (rc)
		goto fail;
	*out = v;
	return 0;
fail:
	v->npend = 0;
	idx_vault_close(v);
	return rc;
}

int idx_vault_close(idx_vault *v)
{
	int rc = 0;
	size_t i;
	if (!v)
		return 0;
	if (v->x && v->segs && v->b) {
		if (v->ft)
			ingest_flowtab_flush(v->ft);
		rc = idx_vault_flush(v);
	}
	ingest_flowtab_free(v->ft);
	free(v->flows);
	if (v->pend)
		for (i = 0; i < v->cfg.commit_chunks; i++)
			idx_post_free(v->pend[i].post);
	free(v->pend);
	idx_post_free(v->cur_post);
	store_reader_free(v->rd);
	store_builder_free(v->b);
	store_segs_close(v->segs);
	idx_close(v->x);
	if (v->lock_fd >= 0)
		close(v->lock_fd);
	free(v);
	return rc;
}
