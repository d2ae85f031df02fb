/*
 * workbound.h — the work bound of a query's answer (issue 12, "Work per
 * query"): the bytes a query decodes stay under
 *
 *     16 x (bytes of the packets returned)
 *   + 64 KiB x max(1, raw_len / 1 MiB) for each matching flow in each chunk,
 *
 * where a matching flow in a chunk is one (chunk id, unidirectional 5-tuple,
 * VNI) of the answer's packets and raw_len is that chunk's raw length.
 * One definition for the test that asserts it (tests/unit/test_work2.c) and
 * the bench that reports it (tests/bench/work_bound.c).  Static functions,
 * included by one file each; not a module.
 *
 * Use: zero a wb_work, pass wb_on_hit and it to idx_query_run_hits, then
 * wb_bound(); wb_free() releases the flow list.
 */
#ifndef WORKBOUND_H
#define WORKBOUND_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../index/idx2.h"
#include "../../index/vault.h"

/* A matching flow in one chunk: (chunk, unidirectional 5-tuple, VNI). */
typedef struct wb_fc {
	uint64_t chunk;
	uint32_t raw_len;
	uint32_t vni;
	tv_5tuple key;
} wb_fc;

/* The answer: its packets and bytes (caplen), its flow-chunks (v[0..n)). */
typedef struct wb_work {
	uint64_t bytes, packets;
	wb_fc *v;
	size_t n, cap;
} wb_work;

/* idx_query_hit_cb: counts the packet, adds its flow-chunk when new.
 * Returns -1 (stopping the query) when the list cannot grow. */
static int wb_on_hit(void *ctx, const idx_query_hit *h)
{
	wb_work *w = ctx;
	wb_fc f;
	w->bytes += h->rec->caplen;
	w->packets++;
	memset(&f, 0, sizeof f);
	f.chunk = h->chunk->chunk_id;
	f.raw_len = h->chunk->raw_len;
	f.vni = h->rec->tun->vni;
	f.key = h->info->key;
	for (size_t i = 0; i < w->n; i++)
		if (memcmp(&w->v[i], &f, sizeof f) == 0)
			return 0;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		wb_fc *v = realloc(w->v, cap * sizeof *v);
		if (!v)
			return -1;
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n++] = f;
	return 0;
}

/* 64 KiB per flow-chunk, scaled by chunks larger than 1 MiB raw. */
static double wb_allowance(const wb_work *w)
{
	double a = 0;
	for (size_t i = 0; i < w->n; i++) {
		double mib = (double)w->v[i].raw_len / (1 << 20);
		a += 65536.0 * (mib > 1.0 ? mib : 1.0);
	}
	return a;
}

static double wb_bound(const wb_work *w)
{
	return 16.0 * (double)w->bytes + wb_allowance(w);
}

static void wb_free(wb_work *w)
{
	free(w->v);
	w->v = NULL;
	w->n = w->cap = 0;
}

#endif
