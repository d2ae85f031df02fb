/*
 * store_int.h — helpers and byte offsets shared by the files of store/
 * only (STYLE.md §2).  The offsets are those of store/FORMAT.md.
 */
#ifndef STORE_INT_H
#define STORE_INT_H

#include "store.h"

/* The 8-byte magic that starts every chunk header, of every version. */
extern const uint8_t store_chunk_magic[8];

/* Context table entry (48 bytes, the same in versions 1 and 2). */
enum {
	CX_VNI = 0,
	CX_TUNNEL = 4,
	CX_HAS_GWLB = 5,
	CX_RSV1 = 6,
	CX_OUTER_SRC = 8,
	CX_ENDPOINT = 24,
	CX_ATTACHMENT = 32,
	CX_COOKIE = 40,
	CX_RSV2 = 44,
};

void store_ctx_put(uint8_t *p, const tv_tunmeta *t);
/* Decodes one entry; false when a reserved field is not zero. */
bool store_ctx_get(const uint8_t *p, tv_tunmeta *t);
/* The same tunnel metadata with every padding byte zero, so that two
 * equal values compare equal with memcmp. */
void store_tun_norm(tv_tunmeta *dst, const tv_tunmeta *src);

/*
 * Returns buf grown to hold at least need elements of elem bytes (capacity
 * doubles, never shrinks).  When memory runs out it returns buf unchanged
 * and clears *ok, so several GROWs can share one check.
 */
void *store_grow(void *buf, size_t *cap, size_t need, size_t elem, bool *ok);
#define STORE_GROW(ptr, cap, need, ok) \
	((ptr) = store_grow((ptr), &(cap), (need), sizeof *(ptr), &(ok)))

#endif
