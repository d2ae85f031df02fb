/*
 * flows.c — the "flows" table: synthesised VPC Flow Log records.
 *
 * Key:   window start u32 BE | sequence u64 BE   (12 bytes)
 * Value: IDX_FLOW_VAL_LEN bytes, little-endian (store/FORMAT.md, "flows").
 * The sequence number is kept in meta "flow_seq" and grows with every
 * record, so one flow may have several records in a window (early flush of
 * a full flow table, late packets) and they never overwrite each other.
 */
#include "idx_int.h"

#include <errno.h>
#include <string.h>

#define K_FLOW_SEQ "flow_seq"

void idx_flow_val_encode(const tv_flowrec *r, uint8_t out[IDX_FLOW_VAL_LEN])
{
	uint8_t *p = out;
	memcpy(p, r->key.src.b, 16);
	memcpy(p + 16, r->key.dst.b, 16);
	tv_put_le16(p + 32, r->key.sport);
	tv_put_le16(p + 34, r->key.dport);
	p[36] = r->key.proto;
	p[37] = r->ipver;
	p[38] = r->tcp_flags;
	p[39] = 0;
	memcpy(p + 40, r->outer_src.b, 16);
	tv_put_le32(p + 56, r->vni);
	tv_put_le32(p + 60, r->window);
	tv_put_le32(p + 64, r->start);
	tv_put_le32(p + 68, r->end);
	tv_put_le64(p + 72, r->packets);
	tv_put_le64(p + 80, r->bytes);
	memset(p + 88, 0, IDX_FLOW_VAL_LEN - 88);
}

int idx_flow_val_decode(const void *v, size_t n, tv_flowrec *r)
{
	const uint8_t *p = v;
	if (n != IDX_FLOW_VAL_LEN)
		return TV_E_CORRUPT;
	memset(r, 0, sizeof *r);
	memcpy(r->key.src.b, p, 16);
	memcpy(r->key.dst.b, p + 16, 16);
	r->key.sport = tv_get_le16(p + 32);
	r->key.dport = tv_get_le16(p + 34);
	r->key.proto = p[36];
	r->ipver = p[37];
	r->tcp_flags = p[38];
	memcpy(r->outer_src.b, p + 40, 16);
	r->vni = tv_get_le32(p + 56);
	r->window = tv_get_le32(p + 60);
	r->start = tv_get_le32(p + 64);
	r->end = tv_get_le32(p + 68);
	r->packets = tv_get_le64(p + 72);
	r->bytes = tv_get_le64(p + 80);
	if ((r->ipver != 4 && r->ipver != 6) || r->start > r->end || p[39] != 0)
		return TV_E_CORRUPT;
	return 0;
}

int idx_flows_put(idx *x, const tv_flowrec *recs, size_t n)
{
	MDB_txn *txn = NULL;
	MDB_val k, d;
	uint8_t kb[12], vb[IDX_FLOW_VAL_LEN], sb[8];
	uint64_t seq = 0;
	size_t i;
	int rc;

	if (!x->writable)
		return EROFS;
	if (n == 0)
		return 0;
	if ((rc = idx_txn_begin(x, true, &txn)) != 0)
		return rc;
	k.mv_data = (void *)K_FLOW_SEQ;
	k.mv_size = strlen(K_FLOW_SEQ);
	rc = mdb_get(txn, x->db_meta, &k, &d);
	if (rc == 0 && d.mv_size == 8)
		seq = tv_get_le64(d.mv_data);
	else if (rc != MDB_NOTFOUND && rc != 0)
		goto fail;
	for (i = 0; i < n; i++) {
		MDB_val fk = { sizeof kb, kb }, fv = { sizeof vb, vb };
		tv_put_be32(kb, recs[i].window);
		tv_put_be64(kb + 4, ++seq);
		idx_flow_val_encode(&recs[i], vb);
		if ((rc = mdb_put(txn, x->db_flows, &fk, &fv, 0)) != 0)
			goto fail;
	}
	tv_put_le64(sb, seq);
	d.mv_data = sb;
	d.mv_size = 8;
	if ((rc = mdb_put(txn, x->db_meta, &k, &d, 0)) != 0)
		goto fail;
	return idx_lmdb_err(mdb_txn_commit(txn));
fail:
	mdb_txn_abort(txn);
	return idx_lmdb_err(rc);
}

int idx_flow_foreach(idx *x, uint32_t from, uint32_t to, idx_flow_cb cb, void *ctx)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	uint8_t kb[12];
	int rc, op = MDB_SET_RANGE;

	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, x->db_flows, &cur)) != 0) {
		rc = idx_lmdb_err(rc);
		goto out;
	}
	tv_put_be32(kb, from);
	memset(kb + 4, 0, 8);
	k.mv_data = kb;
	k.mv_size = sizeof kb;
	for (;;) {
		tv_flowrec r;
		rc = mdb_cursor_get(cur, &k, &d, (MDB_cursor_op)op);
		op = MDB_NEXT;
		if (rc == MDB_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc) {
			rc = idx_lmdb_err(rc);
			break;
		}
		if (k.mv_size != 12) {
			rc = TV_E_CORRUPT;
			break;
		}
		if (tv_get_be32(k.mv_data) > to)
			break;
		if ((rc = idx_flow_val_decode(d.mv_data, d.mv_size, &r)) != 0)
			break;
		if ((rc = cb(ctx, &r)) != 0)
			break;
	}
out:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

int idx_flows_drop_before(idx *x, uint32_t before, uint64_t *dropped)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	uint64_t n = 0;
	int rc;

	if (dropped)
		*dropped = 0;
	if (!x->writable)
		return EROFS;
	if ((rc = idx_txn_begin(x, true, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, x->db_flows, &cur)) != 0)
		goto fail;
	while ((rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST)) == 0) {
		if (k.mv_size != 12 || tv_get_be32(k.mv_data) >= before)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			goto fail;
		n++;
	}
	if (rc != 0 && rc != MDB_NOTFOUND)
		goto fail;
	mdb_cursor_close(cur);
	if (dropped)
		*dropped = n;
	return idx_lmdb_err(mdb_txn_commit(txn));
fail:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return idx_lmdb_err(rc);
}

int idx_flows_count(idx *x, uint64_t *n)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc = idx_txn_begin(x, false, &txn);
	if (rc)
		return rc;
	rc = idx_lmdb_err(mdb_stat(txn, x->db_flows, &st));
	mdb_txn_abort(txn);
	*n = rc ? 0 : st.ms_entries;
	return rc;
}

int idx_flows_last_window(idx *x, uint32_t *w, bool *any)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	int rc;

	*any = false;
	*w = 0;
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	rc = mdb_cursor_open(txn, x->db_flows, &cur);
	if (rc == 0) {
		rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
		if (rc == 0 && k.mv_size == 12) {
			*w = tv_get_be32(k.mv_data);
			*any = true;
		}
		if (rc == MDB_NOTFOUND)
			rc = 0;
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	return idx_lmdb_err(rc);
}

int idx_flows_drop_from(idx *x, uint32_t from, uint64_t *dropped)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, d;
	uint8_t kb[12];
	uint64_t n = 0;
	int rc;

	if (dropped)
		*dropped = 0;
	if (!x->writable)
		return EROFS;
	if ((rc = idx_txn_begin(x, true, &txn)) != 0)
		return rc;
	if ((rc = mdb_cursor_open(txn, x->db_flows, &cur)) != 0)
		goto fail;
	tv_put_be32(kb, from);
	memset(kb + 4, 0, 8);
	k.mv_data = kb;
	k.mv_size = sizeof kb;
	rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	while (rc == 0) {
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			goto fail;
		n++;
		rc = mdb_cursor_get(cur, &k, &d, MDB_GET_CURRENT);
		if (rc == MDB_NOTFOUND || rc == EINVAL)
			break;
		if (rc == 0)
			continue;
	}
	if (rc != 0 && rc != MDB_NOTFOUND && rc != EINVAL)
		goto fail;
	mdb_cursor_close(cur);
	if (dropped)
		*dropped = n;
	return idx_lmdb_err(mdb_txn_commit(txn));
fail:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return idx_lmdb_err(rc);
}

int idx_meta_u64_get(idx *x, const char *name, uint64_t *v)
{
	MDB_txn *txn;
	MDB_val k, d;
	int rc;
	*v = 0;
	if ((rc = idx_txn_begin(x, false, &txn)) != 0)
		return rc;
	k.mv_data = (void *)name;
	k.mv_size = strlen(name);
	rc = mdb_get(txn, x->db_meta, &k, &d);
	if (rc == 0 && d.mv_size == 8)
		*v = tv_get_le64(d.mv_data);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? 0 : idx_lmdb_err(rc);
}

int idx_meta_u64_set(idx *x, const char *name, uint64_t v)
{
	MDB_txn *txn;
	MDB_val k, d;
	uint8_t b[8];
	int rc;
	if (!x->writable)
		return EROFS;
	if ((rc = idx_txn_begin(x, true, &txn)) != 0)
		return rc;
	tv_put_le64(b, v);
	k.mv_data = (void *)name;
	k.mv_size = strlen(name);
	d.mv_data = b;
	d.mv_size = 8;
	rc = mdb_put(txn, x->db_meta, &k, &d, 0);
	if (rc) {
		mdb_txn_abort(txn);
		return idx_lmdb_err(rc);
	}
	return idx_lmdb_err(mdb_txn_commit(txn));
}
