/*
 * pipeline_file.c — the file source of the write engine (pipeline.c): the
 * reader adds packets to its open chunk and hands each full chunk to the
 * engine, in read order, with its source marks, its counter growth and the
 * flow records emitted meanwhile.  With --threads N > 1 the engine's sealer
 * threads compress the handed-off chunks and its writer thread writes
 * them; with one thread the reader seals and drains the queue itself.
 * Policy: commit when commit_chunks chunks are pending or at a barrier (a
 * flush: the end of a source, a resume decision), one fdatasync per commit.
 */
#include "vault_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * Builders in flight: the reader fills one (v->b), a spare slot waits for
 * the next hand-off, and the rest are queued, being sealed, or waiting for
 * the writer.  Memory: about 4 x raw_target per slot (records, payload,
 * sealed chunk, zstd context).
 */
int file_start(idx_vault *v)
{
	struct fsrc *F;
	struct wpolicy pol;
	int i, rc, n = v->cfg.threads;

	F = calloc(1, sizeof *F);
	if (!F)
		return TV_E_NOMEM;
	v->fs = F;
	F->nslots = n > 1 ? FP_SLOTS(n) : 1;
	/* every seq not yet committed is in a slot or in pend */
	F->nhist = (uint64_t)F->nslots + v->pend_cap + 1;
	F->slots = calloc((size_t)F->nslots, sizeof *F->slots);
	F->hist = calloc(F->nhist, sizeof *F->hist);
	if (!F->slots || !F->hist) {
		rc = TV_E_NOMEM;
		goto fail;
	}
	for (i = 0; i < F->nslots; i++) {
		F->slots[i].worker = -1;
		if ((rc = wseal_new(v, &F->slots[i].seal)) != 0)
			goto fail;
	}
	if (v->ctr)
		F->sent = *v->ctr;
	memset(&pol, 0, sizeof pol);
	pol.thread = n > 1;
	pol.sealers = n > 1 ? n : 0;
	if ((rc = writer_new(v, &pol, F->slots, F->nslots, NULL)) != 0)
		goto fail;
	if ((rc = writer_run(v)) != 0 || (rc = writer_wait_slot(v, &F->spare)) != 0)
		goto fail;
	return 0;
fail:
	file_stop(v);
	return rc;
}

/* Stops the engine (after a flush, or on an error) and frees the slots.
 * Accepts a vault without a file source. */
int file_stop(idx_vault *v)
{
	struct fsrc *F = v->fs;
	int i, rc;
	if (!F)
		return 0;
	rc = writer_stop(v);
	for (i = 0; F->slots && i < F->nslots; i++) {
		wseal_free(&F->slots[i].seal);
		wflows_free(&F->slots[i].fl);
		free(F->slots[i].flows);
	}
	free(F->slots);
	free(F->hist);
	free(F);
	v->fs = NULL;
	return rc;
}

/*
 * Hands the open chunk (or, with barrier, possibly nothing) to the engine
 * and takes the next free packer.  One critical section per chunk; waits
 * only when every slot is in flight.
 */
static int file_handoff(idx_vault *v, bool barrier)
{
	struct fsrc *F = v->fs;
	struct witem *s = F->spare;
	struct fhist *h;
	uint8_t tag[VAULT_TAG_MAX];
	uint32_t taglen;
	bool has = wseal_count(&v->seal) > 0;
	struct wseal tb;
	tv_flowrec *tf;
	size_t tc;
	int k, rc, src;

	if (!has && !barrier)
		return 0;
	if (v->flow_err)
		return v->flow_err;
	if (has) {
		if ((rc = encode_tag(v, v->cur_marks, v->cur_nmarks, tag, &taglen)) != 0 ||
		    (rc = wseal_set_tag(&v->seal, tag, taglen)) != 0)
			return rc;
	}
	if (!s) {
		/* an earlier hand-off found the engine failed */
		rc = writer_wait_slot(v, &F->spare);
		return rc ? rc : TV_E_RANGE;
	}
	/* the spare slot takes the full packer and the flow records; the
	 * reader continues with the spare's empty ones */
	tb = s->seal;
	s->seal = v->seal;
	v->seal = tb;
	tf = s->flows;
	tc = s->flows_cap;
	s->flows = v->flows;
	s->flows_cap = v->flows_cap;
	s->nflows = v->nflows;
	v->flows = tf;
	v->flows_cap = tc;
	v->nflows = 0;
	memcpy(s->marks, v->cur_marks, sizeof s->marks);
	s->nmarks = has ? v->cur_nmarks : 0;
	if (has)
		v->cur_nmarks = 0;
	for (k = 0; k < TV_CTR__COUNT; k++)
		s->delta.v[k] = v->ctr ? v->ctr->v[k] - F->sent.v[k] : 0;
	if (v->ctr)
		F->sent = *v->ctr;
	s->barrier = barrier;
	s->id = 0; /* the writer numbers chunks in append order */
	s->err = 0;
	/* the reader is the only one that queues: this is the item's seq */
	h = &F->hist[v->w->seq % F->nhist];
	memcpy(h->marks, s->marks, sizeof h->marks);
	h->nmarks = s->nmarks;
	if (v->w->pol.sealers) {
		s->state = WI_OPEN;
	} else {
		item_seal(s);
		s->state = WI_READY;
	}
	F->spare = NULL;
	rc = writer_push(v, s, NULL);
	if (rc == 0 && !v->w->pol.thread)
		rc = writer_drain(v);
	src = writer_wait_slot(v, &F->spare);
	return rc ? rc : src;
}

int idx_vault_add(idx_vault *v, const tv_pkt *pkt, const idx_file_pos *pos)
{
	const uint8_t *src_identity = pos && v->src_active ? v->src_identity : NULL;
	int rc;
	size_t i;

	if (!v->fs)
		return TV_E_RANGE; /* live ingest runs (or the engine failed to start) */
	v->added++; /* stored only once its chunk is committed (pipeline.c) */
	if (src_identity) {
		for (i = 0; i < v->cur_nmarks; i++)
			if (memcmp(v->cur_marks[i].identity, src_identity, 40) == 0)
				break;
		if (i == v->cur_nmarks && i == VAULT_MAX_MARKS) {
			rc = file_handoff(v, false);
			if (rc)
				return rc;
			i = 0;
		}
	}
	rc = wseal_add(&v->seal, pkt);
	if (rc == TV_E_FULL) {
		rc = file_handoff(v, false);
		if (rc)
			return rc;
		rc = wseal_add(&v->seal, pkt);
	}
	if (rc)
		return rc;
	if (src_identity) {
		/* the packet is in the open chunk: the hash moves past it */
		if ((rc = ingest_prefix_post(v->src_hash, pos->file_end)) != 0)
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
	if (v->ft)
		ingest_flowtab_add(v->ft, pkt);
	if (wseal_full(&v->seal))
		return file_handoff(v, false);
	return 0;
}

/* Hands off the open chunk as a barrier and waits until everything handed
 * off is committed; then the store counters the writer added are in the
 * caller's block (for its summary). */
int idx_vault_flush(idx_vault *v)
{
	int rc, wrc;
	if (!v->fs)
		return 0; /* live ingest commits through its own stop */
	rc = file_handoff(v, true);
	wrc = writer_wait_done(v, v->w->seq);
	/* the writer is idle (or stopped): its totals are stable */
	writer_fold(v, false);
	return rc ? rc : wrc;
}

int idx_vault_tick(idx_vault *v, uint64_t now_ns)
{
	if (v->ft)
		ingest_flowtab_advance(v->ft, now_ns);
	return v->flow_err; /* the records go with the next hand-off */
}

/* Source marks handed off but not committed yet, whose identity starts
 * with key (resume.c: what the writer will commit counts as stored). */
void file_candidates(idx_vault *v, const uint8_t *key, idx_source_mark *c, size_t *n)
{
	struct fsrc *F = v->fs;
	uint64_t seq, from, to;
	size_t i;

	/* done_seq is read before resume.c reads the index, so a slot
	 * committed in between is seen by that read transaction. */
	pthread_mutex_lock(&v->w->mu);
	from = v->w->done_seq;
	pthread_mutex_unlock(&v->w->mu);
	to = v->w->seq;
	if (to - from > F->nhist)
		from = to - F->nhist;
	for (seq = from; seq < to; seq++) {
		const struct fhist *h = &F->hist[seq % F->nhist];
		for (i = 0; i < h->nmarks; i++)
			if (memcmp(h->marks[i].identity, key, IDX_SOURCE_KEY_LEN) == 0)
				cand_put(c, n, &h->marks[i]);
	}
}
