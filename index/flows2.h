/*
 * flows2.h — the VPC flow records of the index (store/FORMAT.md "VPC flow
 * records (v2_flows)"): the records of one flush of one 600 s window are
 * one block, a zstd frame of 108-byte records (idx_flow_val_encode), under
 * key window BE32 | seq BE64.
 *
 * Called by index/flows.c (the idx_flows_* API) and by index/carry.c.
 *
 * Memory: an idx2_fbuf holds everything one block needs (zstd contexts,
 * the raw records, the encoded value, the decoded records), allocated
 * once and reused: nothing is allocated per record or per block.
 */
#ifndef FLOWS2_H
#define FLOWS2_H

#include "idx_int.h"

#define IDX2_FLOWS_KEY_LEN 12            /* window BE32 | seq BE64 */
#define IDX2_FLOWS_HDR 8                 /* count u32 LE | raw u32 LE */
#define IDX2_FLOWS_BLOCK_MAX 4096        /* records per block */
#define IDX2_FLOWS_RAW_FLAG 0x80000000u  /* in count: the records follow uncompressed */
#define IDX2_FLOWS_RAW_MAX (IDX2_FLOWS_BLOCK_MAX * IDX_FLOW_VAL_LEN)
#define IDX2_FLOWS_ZLEVEL 3

typedef struct idx2_fbuf idx2_fbuf;

/* TV_E_NOMEM when an allocation fails. */
int idx2_fbuf_new(idx2_fbuf **out);
void idx2_fbuf_free(idx2_fbuf *b); /* accepts NULL */

/*
 * Encodes n records (1..IDX2_FLOWS_BLOCK_MAX, all of one window) as one
 * block value: a zstd frame (level 3, content size set) when it is smaller
 * than the raw records, else the raw records with the flag in count.
 * *val points into b and stays valid until b is used again.
 * TV_E_RANGE for n out of range or records of different windows.
 */
int idx2_flows_block_encode(idx2_fbuf *b, const tv_flowrec *recs, size_t n, const uint8_t **val,
                            size_t *len);

/*
 * Decodes a block value strictly: TV_E_CORRUPT unless the value is at
 * least 8 bytes, count (flag cleared) is 1..4096, raw == count x 108, and
 * either (flag set) exactly raw bytes follow, or (flag clear) exactly one
 * zstd frame follows, shorter than raw, whose content size is set and
 * equals raw and which decompresses to raw bytes; and every record passes
 * idx_flow_val_decode and has the window of the key.  *recs points into b
 * (valid until b is used again).
 */
int idx2_flows_block_decode(idx2_fbuf *b, uint32_t window, const void *val, size_t len,
                            const tv_flowrec **recs, size_t *n);

/*
 * Stores n records in the caller's write transaction (so it can share
 * one with idx_commit2): per window, in increasing window order, blocks of
 * at most 4096 records in their input order, each under the next seq from
 * meta "flow_seq", which is updated.  n == 0 writes nothing.  *blocks (may
 * be NULL) gets the number of blocks written.  On error the caller aborts
 * the transaction.
 */
int idx2_flows_put(idx *x, MDB_txn *txn, idx2_fbuf *b, const tv_flowrec *recs, size_t n,
                   uint64_t *blocks);

/*
 * Hands every record of windows from..to (both included, as
 * idx_flow_foreach) to cb, in key order (window, seq, position in the
 * block).  txn: the caller's (read or write), or NULL for a read
 * transaction of its own.  A key that is not 12 bytes or a block that
 * does not decode is TV_E_CORRUPT.  cb returning non-zero stops the read
 * with that value.
 */
int idx2_flows_read(idx *x, MDB_txn *txn, idx2_fbuf *b, uint32_t from, uint32_t to,
                    idx_flow_cb cb, void *ctx);

/*
 * Deletes the blocks of windows in [a, b) in the caller's write
 * transaction: the one implementation for retention (a = 0, b = the
 * oldest window kept) and the crash rebuild of the newest windows (a = the
 * first rebuilt window, b = 2^32: to the end).  Values are not
 * decompressed.  An entry whose key is not 12 bytes or whose header is
 * not well formed (idx2_flows_block_count) is deleted too when its window
 * (the key's first 4 bytes, zero-padded) is in the range, so retention and
 * the rebuild always make progress; r counts it in bad and keeps the key
 * of the first one.  r (may be NULL) is filled.
 */
int idx2_flows_delete(idx *x, MDB_txn *txn, uint32_t a, uint64_t b, idx_flows_drop_report *r);

/* The header of a block value alone: TV_E_CORRUPT unless it is at least 8
 * bytes with count (flag cleared) 1..4096 and raw == count x 108. */
int idx2_flows_block_count(const void *val, size_t len, uint32_t *count);

/* idx_flow_foreach with the caller's buffer (NULL: one of its own for the
 * call), so a reader of many windows allocates it once. */
int idx_flows_foreach_buf(idx *x, idx2_fbuf *b, uint32_t from, uint32_t to, idx_flow_cb cb,
                          void *ctx);

#endif
