/*
 * recover2.h — recovery of a store (index/recover.c): the chunks
 * a crash left past the index are indexed with idx_commit2, a torn tail
 * is cut.  Internal to index/ and its tests.
 */
#ifndef RECOVER2_H
#define RECOVER2_H

#include "idx2.h"
#include "vault.h"

/*
 * From the end of the last chunk in v2_chunks (the first segment's first
 * chunk when there is none) to the end of the newest segment of segs
 * (writable, STORE_FORMAT_VERSION): every chunk store_segs_scan finds whole and
 * verified (its SHA-256 and every block) is indexed through idx_commit2,
 * its record from its header and head (idx2_chunk_from_sealed), its flows
 * from the decoded blocks' directories, its source marks from its
 * producer tag.  Each segment's torn tail is cut (store_segs_truncate),
 * unless the index names a chunk beyond it (TV_E_CORRUPT: damage, left
 * to verify and reindex).  *next_chunk_id receives the id after the
 * highest indexed.  rec counts what was done.
 */
int idx_recover2(idx *x, store_segs *segs, idx_recovery *rec, uint64_t *next_chunk_id);

#endif
