/*
 * flows2.c — the VPC flow records of the index, table v2_flows
 * (store/FORMAT.md "VPC flow records (v2_flows)").
 *
 * One 108-byte LMDB value per record (what format 1 kept) takes about 137
 * bytes a record with LMDB's node and page overhead.  The records of one
 * flush of one window have much in common (the window, addresses of a
 * few subnets, the VNI, the mirror source, zero padding), so a zstd frame
 * of them is a fraction of that, and a block is one LMDB value instead of
 * thousands.  One record layout, one codec (idx_flow_val_*); a block
 * stores its records by field groups (regroup), which zstd compresses
 * better.
 */
#include "flows2.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define K_FLOW_SEQ "flow_seq" /* shared with index/flows.c: one sequence per store */

struct idx2_fbuf {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	size_t val_cap;
	uint8_t *raw;      /* IDX2_FLOWS_RAW_MAX: the raw bytes (records by groups) */
	uint8_t *recb;     /* IDX2_FLOWS_RAW_MAX: the records back to back */
	uint8_t *val;      /* val_cap: header then frame or raw records */
	tv_flowrec *recs;  /* IDX2_FLOWS_BLOCK_MAX decoded records */
};

int idx2_fbuf_new(idx2_fbuf **out)
{
	idx2_fbuf *b = calloc(1, sizeof *b);
	*out = NULL;
	if (!b)
		return TV_E_NOMEM;
	b->val_cap = IDX2_FLOWS_HDR + ZSTD_compressBound(IDX2_FLOWS_RAW_MAX);
	b->cctx = ZSTD_createCCtx();
	b->dctx = ZSTD_createDCtx();
	b->raw = malloc(IDX2_FLOWS_RAW_MAX);
	b->recb = malloc(IDX2_FLOWS_RAW_MAX);
	b->val = malloc(b->val_cap);
	b->recs = malloc(IDX2_FLOWS_BLOCK_MAX * sizeof *b->recs);
	if (!b->cctx || !b->dctx || !b->raw || !b->recb || !b->val || !b->recs) {
		idx2_fbuf_free(b);
		return TV_E_NOMEM;
	}
	*out = b;
	return 0;
}

void idx2_fbuf_free(idx2_fbuf *b)
{
	if (!b)
		return;
	ZSTD_freeCCtx(b->cctx);
	ZSTD_freeDCtx(b->dctx);
	free(b->raw);
	free(b->recb);
	free(b->val);
	free(b->recs);
	free(b);
}

/* ------------------------------------------------------------ codec */

/*
 * The raw bytes of a block (FORMAT.md "VPC flow records"): the records in
 * the 108-byte layout, stored by field groups, each group for every
 * record in turn.  The three addresses and the reserved tail are groups
 * of their own width; every other byte (ports, protocol, times, counts,
 * little-endian) is a group of one byte, so a field's high bytes, mostly
 * equal from record to record, end up side by side.  On the 256 MiB
 * enterprise capture (20 blocks of up to 4096 records) the frames were
 * 12.6 % smaller than of the records back to back.
 */
static unsigned group_width(unsigned off)
{
	switch (off) {
	case 0:
	case 16:
	case 40:
		return 16;
	case 88:
		return 20;
	default:
		return 1;
	}
}

/* n records back to back (108 bytes each) to the raw bytes (to_raw), or
 * back: the group at off (every group before it is off bytes per record)
 * holds record i's w bytes at n * off + i * w.  A group at a time, with
 * copies of a fixed size. */
static void regroup(const uint8_t *src, uint8_t *dst, size_t n, bool to_raw)
{
	unsigned off, w;
	size_t i;
	for (off = 0; off < IDX_FLOW_VAL_LEN; off += w) {
		size_t ss, ds;
		const uint8_t *s;
		uint8_t *d;
		w = group_width(off);
		ss = to_raw ? IDX_FLOW_VAL_LEN : w;
		ds = to_raw ? w : IDX_FLOW_VAL_LEN;
		s = src + (to_raw ? off : n * off);
		d = dst + (to_raw ? n * off : off);
		switch (w) {
		case 1:
			for (i = 0; i < n; i++)
				d[i * ds] = s[i * ss];
			break;
		case 16:
			for (i = 0; i < n; i++)
				memcpy(d + i * ds, s + i * ss, 16);
			break;
		default:
			for (i = 0; i < n; i++)
				memcpy(d + i * ds, s + i * ss, 20);
			break;
		}
	}
}

int idx2_flows_block_encode(idx2_fbuf *b, const tv_flowrec *recs, size_t n, const uint8_t **val,
                            size_t *len)
{
	size_t raw = n * IDX_FLOW_VAL_LEN, z, i;

	if (n == 0 || n > IDX2_FLOWS_BLOCK_MAX)
		return TV_E_RANGE;
	for (i = 0; i < n; i++) {
		if (recs[i].window != recs[0].window)
			return TV_E_RANGE;
		idx_flow_val_encode(&recs[i], b->recb + i * IDX_FLOW_VAL_LEN);
	}
	regroup(b->recb, b->raw, n, true);
	/* ZSTD_compressCCtx writes the content size (the default of
	 * ZSTD_c_contentSizeFlag), which the decoder requires. */
	z = ZSTD_compressCCtx(b->cctx, b->val + IDX2_FLOWS_HDR, b->val_cap - IDX2_FLOWS_HDR, b->raw,
	                      raw, IDX2_FLOWS_ZLEVEL);
	if (ZSTD_isError(z))
		return TV_E_ZSTD;
	tv_put_le32(b->val + 4, (uint32_t)raw);
	if (z < raw) {
		tv_put_le32(b->val, (uint32_t)n);
		*len = IDX2_FLOWS_HDR + z;
	} else {
		tv_put_le32(b->val, (uint32_t)n | IDX2_FLOWS_RAW_FLAG);
		memcpy(b->val + IDX2_FLOWS_HDR, b->raw, raw);
		*len = IDX2_FLOWS_HDR + raw;
	}
	*val = b->val;
	return 0;
}

/* The header: count (flag cleared) 1..4096 and raw == count x 108. */
static int block_head(const uint8_t *p, size_t len, uint32_t *count, bool *is_raw)
{
	uint32_t c, raw;
	if (len < IDX2_FLOWS_HDR)
		return TV_E_CORRUPT;
	c = tv_get_le32(p);
	raw = tv_get_le32(p + 4);
	*is_raw = (c & IDX2_FLOWS_RAW_FLAG) != 0;
	c &= ~IDX2_FLOWS_RAW_FLAG;
	if (c == 0 || c > IDX2_FLOWS_BLOCK_MAX || raw != c * IDX_FLOW_VAL_LEN)
		return TV_E_CORRUPT;
	*count = c;
	return 0;
}

int idx2_flows_block_decode(idx2_fbuf *b, uint32_t window, const void *val, size_t len,
                            const tv_flowrec **recs, size_t *n)
{
	const uint8_t *p = val, *raw;
	size_t rawlen, zlen, i;
	uint32_t count;
	bool is_raw;
	int rc;

	if ((rc = block_head(p, len, &count, &is_raw)) != 0)
		return rc;
	rawlen = (size_t)count * IDX_FLOW_VAL_LEN;
	zlen = len - IDX2_FLOWS_HDR;
	if (is_raw) {
		if (zlen != rawlen)
			return TV_E_CORRUPT;
		raw = p + IDX2_FLOWS_HDR;
	} else {
		unsigned long long fcs;
		size_t fsz, got;
		/* The encoder stores raw records when the frame is not smaller,
		 * so a frame that is not smaller is not a block it wrote. */
		if (zlen >= rawlen)
			return TV_E_CORRUPT;
		fcs = ZSTD_getFrameContentSize(p + IDX2_FLOWS_HDR, zlen);
		if (fcs == ZSTD_CONTENTSIZE_UNKNOWN || fcs == ZSTD_CONTENTSIZE_ERROR || fcs != rawlen)
			return TV_E_CORRUPT;
		fsz = ZSTD_findFrameCompressedSize(p + IDX2_FLOWS_HDR, zlen);
		if (ZSTD_isError(fsz) || fsz != zlen)
			return TV_E_CORRUPT;
		got = ZSTD_decompressDCtx(b->dctx, b->raw, IDX2_FLOWS_RAW_MAX, p + IDX2_FLOWS_HDR, zlen);
		if (ZSTD_isError(got) || got != rawlen)
			return TV_E_CORRUPT;
		raw = b->raw;
	}
	regroup(raw, b->recb, count, false);
	for (i = 0; i < count; i++) {
		if (idx_flow_val_decode(b->recb + i * IDX_FLOW_VAL_LEN, IDX_FLOW_VAL_LEN,
		                        &b->recs[i]) != 0 ||
		    b->recs[i].window != window)
			return TV_E_CORRUPT;
	}
	*recs = b->recs;
	*n = count;
	return 0;
}

/* -------------------------------------------------------------- put */

static int seq_get(idx *x, MDB_txn *txn, uint64_t *seq)
{
	MDB_val k = { strlen(K_FLOW_SEQ), (void *)K_FLOW_SEQ }, d;
	int rc = mdb_get(txn, x->db_meta, &k, &d);
	*seq = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return idx_lmdb_err(rc);
	if (d.mv_size != 8)
		return TV_E_CORRUPT;
	*seq = tv_get_le64(d.mv_data);
	return 0;
}

static int seq_set(idx *x, MDB_txn *txn, uint64_t seq)
{
	uint8_t sb[8];
	MDB_val k = { strlen(K_FLOW_SEQ), (void *)K_FLOW_SEQ }, d = { sizeof sb, sb };
	tv_put_le64(sb, seq);
	return idx_lmdb_err(mdb_put(txn, x->db_meta, &k, &d, 0));
}

/* Writes the records of window w found from recs[from] on, in blocks of at
 * most 4096, copied into b->recs (the encoder's input) in input order. */
static int put_window(idx *x, MDB_txn *txn, idx2_fbuf *b, const tv_flowrec *recs, size_t n,
                      size_t from, uint32_t w, uint64_t *seq, uint64_t *blocks)
{
	tv_flowrec *grp = b->recs;
	size_t i, k = 0;
	int rc;

	for (i = from; i <= n; i++) {
		if (i < n && recs[i].window != w)
			continue;
		if (i < n)
			grp[k++] = recs[i];
		if (k == IDX2_FLOWS_BLOCK_MAX || (i == n && k > 0)) {
			uint8_t kb[IDX2_FLOWS_KEY_LEN];
			const uint8_t *v;
			size_t vlen;
			MDB_val mk = { sizeof kb, kb }, mv;
			if ((rc = idx2_flows_block_encode(b, grp, k, &v, &vlen)) != 0)
				return rc;
			tv_put_be32(kb, w);
			tv_put_be64(kb + 4, ++*seq);
			mv.mv_data = (void *)v;
			mv.mv_size = vlen;
			if ((rc = mdb_put(txn, x->db2_flows, &mk, &mv, MDB_NOOVERWRITE)) != 0)
				return rc == MDB_KEYEXIST ? TV_E_CORRUPT : idx_lmdb_err(rc);
			(*blocks)++;
			k = 0;
		}
	}
	return 0;
}

int idx2_flows_put(idx *x, MDB_txn *txn, idx2_fbuf *b, const tv_flowrec *recs, size_t n,
                   uint64_t *blocks)
{
	uint64_t seq, nb = 0;
	uint64_t prev = 0; /* windows below this are written (window + 1 of the last) */
	int rc;

	if (blocks)
		*blocks = 0;
	if (!x->writable)
		return EROFS;
	if (n == 0)
		return 0;
	if ((rc = seq_get(x, txn, &seq)) != 0)
		return rc;
	/* Windows in increasing order, one pass over the batch per distinct
	 * window: a flush holds one or two windows, so this stays linear and
	 * needs no sorted copy of the batch. */
	for (;;) {
		size_t i, first = n;
		uint32_t w = 0;
		for (i = 0; i < n; i++) {
			if (recs[i].window >= prev && (first == n || recs[i].window < w)) {
				w = recs[i].window;
				first = i;
			}
		}
		if (first == n)
			break;
		if ((rc = put_window(x, txn, b, recs, n, first, w, &seq, &nb)) != 0)
			return rc;
		prev = (uint64_t)w + 1;
	}
	if ((rc = seq_set(x, txn, seq)) != 0)
		return rc;
	if (blocks)
		*blocks = nb;
	return 0;
}

/* ------------------------------------------------------------- read */

int idx2_flows_read(idx *x, MDB_txn *txn, idx2_fbuf *b, uint32_t from, uint32_t to,
                    idx_flow_cb cb, void *ctx)
{
	MDB_txn *own = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	uint8_t kb[IDX2_FLOWS_KEY_LEN];
	MDB_cursor_op op = MDB_SET_RANGE;
	int rc;

	if (!txn) {
		if ((rc = idx_txn_begin(x, false, &own)) != 0)
			return rc;
		txn = own;
	}
	if ((rc = mdb_cursor_open(txn, x->db2_flows, &cur)) != 0) {
		rc = idx_lmdb_err(rc);
		goto out;
	}
	tv_put_be32(kb, from);
	memset(kb + 4, 0, 8);
	k.mv_data = kb;
	k.mv_size = sizeof kb;
	for (;;) {
		const tv_flowrec *recs;
		size_t n, i;
		uint32_t w;
		rc = mdb_cursor_get(cur, &k, &d, op);
		op = MDB_NEXT;
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc) {
			rc = idx_lmdb_err(rc);
			break;
		}
		if (k.mv_size != IDX2_FLOWS_KEY_LEN) {
			rc = TV_E_CORRUPT;
			break;
		}
		w = tv_get_be32(k.mv_data);
		if (w > to)
			break;
		if ((rc = idx2_flows_block_decode(b, w, d.mv_data, d.mv_size, &recs, &n)) != 0)
			break;
		for (i = 0; i < n && rc == 0; i++)
			rc = cb(ctx, &recs[i]);
		if (rc)
			break;
	}
out:
	if (cur)
		mdb_cursor_close(cur);
	if (own)
		mdb_txn_abort(own);
	return rc;
}

/* ----------------------------------------------------------- delete */

int idx2_flows_block_count(const void *val, size_t len, uint32_t *count)
{
	bool is_raw;
	return block_head(val, len, count, &is_raw);
}

/* The window a key sorts under: its first 4 bytes, zero-padded when it is
 * shorter (a prefix sorts just before the keys it begins). */
static uint32_t key_window(const MDB_val *k)
{
	uint8_t w[4] = { 0 };
	memcpy(w, k->mv_data, k->mv_size < 4 ? k->mv_size : 4);
	return tv_get_be32(w);
}

/* Counts a malformed entry in r->bad and keeps the key of the first. */
static void note_bad(idx_flows_drop_report *r, const MDB_val *k)
{
	uint8_t kb[IDX2_FLOWS_KEY_LEN] = { 0 };
	if (r->bad++ != 0)
		return;
	memcpy(kb, k->mv_data, k->mv_size < sizeof kb ? k->mv_size : sizeof kb);
	r->bad_window = tv_get_be32(kb);
	r->bad_seq = tv_get_be64(kb + 4);
	r->bad_key_len = (uint32_t)k->mv_size;
}

int idx2_flows_delete(idx *x, MDB_txn *txn, uint32_t a, uint64_t b, idx_flows_drop_report *r)
{
	idx_flows_drop_report own;
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	uint8_t kb[IDX2_FLOWS_KEY_LEN];
	int rc;

	if (!r)
		r = &own;
	memset(r, 0, sizeof *r);
	if (!x->writable)
		return EROFS;
	if (b <= a)
		return 0;
	if ((rc = mdb_cursor_open(txn, x->db2_flows, &cur)) != 0)
		return idx_lmdb_err(rc);
	/* Seek again after each delete: where LMDB leaves a cursor after
	 * mdb_cursor_del at the end of a page or of the table is not a
	 * position to read from.  Every key found sorts at or after (a, 0),
	 * so its window is >= a and each pass deletes one entry. */
	for (;;) {
		uint32_t count;
		tv_put_be32(kb, a);
		memset(kb + 4, 0, 8);
		k.mv_data = kb;
		k.mv_size = sizeof kb;
		if ((rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE)) != 0)
			break;
		if (key_window(&k) >= b)
			break;
		/* A malformed entry goes too: what it held cannot be read,
		 * and stopping here would stop retention and the rebuild for
		 * good.  Its key is reported. */
		if (k.mv_size != IDX2_FLOWS_KEY_LEN ||
		    idx2_flows_block_count(d.mv_data, d.mv_size, &count) != 0) {
			note_bad(r, &k);
			count = 0;
		} else {
			r->blocks++;
		}
		if ((rc = mdb_cursor_del(cur, 0)) != 0) {
			rc = idx_lmdb_err(rc);
			goto out;
		}
		r->records += count;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		rc = idx_lmdb_err(rc);
		goto out;
	}
	rc = 0;
out:
	mdb_cursor_close(cur);
	return rc;
}
