/*
 * deep2.h — verify --deep (index/deep2.c): what the
 * index must hold, re-derived from the decoded chunks, compared with
 * what v2_chunks, v2_slices, v2_stime, v2_post, v2_opost, v2_segs and
 * the totals hold.  Internal to index/ (verify.c) and its tests.
 */
#ifndef DEEP2_H
#define DEEP2_H

#include "idx2.h"

typedef struct idx_deep2 idx_deep2;

/* Reports go to report(ctx, msg), one call per difference.  txn is the
 * caller's read snapshot, the one its walk of v2_chunks reads: every
 * comparison sees the same index. */
int idx_deep2_new(idx *x, MDB_txn *txn, void (*report)(void *ctx, const char *msg), void *ctx,
                  idx_deep2 **out);
void idx_deep2_free(idx_deep2 *d); /* accepts NULL */

/*
 * One chunk, in increasing chunk id order: rec its v2_chunks record, c the
 * chunk as loaded from its segment (store_chunk_load), or NULL when it
 * could not be read or failed its checks (its postings are then neither
 * derived nor compared).  The postings of a slice are compared when the
 * walk leaves it (at the first chunk of the next slice, or at finish);
 * the first difference of each chunk is reported.  Returns 0 or an error
 * (TV_E_NOMEM, LMDB).
 */
int idx_deep2_chunk(idx_deep2 *d, const idx2_chunk *rec, const store_chunk *c);

/* After the last chunk: the last slice, then the whole index: posting
 * keys, slices and v2_segs values no chunk accounts for, the totals and
 * v2_max_slice_dur.  Returns 0 or an error (differences go to report
 * only, so that no count is taken for an errno). */
int idx_deep2_finish(idx_deep2 *d);

#endif
