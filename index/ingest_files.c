/*
 * ingest_files.c — capture files into a store (ingest_files.h).
 *
 * Files are read and decapsulated in the calling thread; with
 * cfg.vault.threads > 1 full chunks are sealed by the vault's threads and
 * committed in order by the write engine's writer thread (pipeline.c)
 * while this thread reads on.
 */
#include "ingest_files.h"

#include <stdio.h>
#include <string.h>

struct run {
	const idx_files_cfg *cfg;
	tv_counters *ctr;
	idx_files_result *res;
	ingest_file_src *src;
	ingest_decap *dec;
	idx_vault *v;
	int cur_file;
	uint64_t cur_done;         /* packets of the current file already stored */
	const uint8_t *cur_id;     /* its identity; NULL: standard input */
	idx_file_pos pos;
	tv_pkt pkt;
};

static void emit(struct run *r, idx_files_event *ev)
{
	if (r->cfg->cb)
		r->cfg->cb(r->cfg->ctx, ev);
}

static int fail(struct run *r, int step, int err)
{
	if (!r->res->step) {
		r->res->step = step;
		r->res->err = err;
	}
	return err;
}

/* Stores pkt (when have) and every packet the decapsulator has ready after
 * it, all under the source position of the frame just read. */
static int store_ready(struct run *r, bool have)
{
	const idx_file_pos *pos = r->cur_id ? &r->pos : NULL;
	int rc;
	for (;;) {
		if (have && (rc = idx_vault_add(r->v, &r->pkt, pos)) != 0)
			return rc;
		if (!ingest_decap_next(r->dec, &r->pkt))
			return 0;
		have = true;
	}
}

/* A frame of another file than the one before: the earlier file's outer
 * fragments are stored (a re-run resumes file by file), and the vault is
 * told which earlier run, if any, the new file continues. */
static int next_file(struct run *r, int file_idx)
{
	static const uint8_t zero_id[40];
	idx_source_resume res;
	idx_files_event ev;
	const char *path;
	int rc;

	ingest_decap_flush(r->dec);
	if ((rc = store_ready(r, false)) != 0)
		return fail(r, IDX_FILES_STEP_STORE, rc);
	r->cur_file = file_idx;
	path = ingest_file_src_path(r->src, file_idx);
	r->cur_id = ingest_file_src_identity(r->src, file_idx);
	if (r->cur_id && memcmp(r->cur_id, zero_id, 40) == 0)
		r->cur_id = NULL; /* standard input: no identity */
	rc = idx_vault_source_begin(r->v, r->cur_id, ingest_file_src_fd(r->src), &res);
	if (rc) {
		snprintf(r->res->path, sizeof r->res->path, "%s", path ? path : "?");
		return fail(r, IDX_FILES_STEP_COMPARE, rc);
	}
	r->cur_done = res.packets_done;
	memset(&ev, 0, sizeof ev);
	ev.kind = IDX_FILES_SOURCE;
	ev.path = path;
	ev.res = &res;
	emit(r, &ev);
	return 0;
}

/* A cut or unreadable file: its packets up to the fault are stored; it is
 * named, counted, and the next file is read (evidence in the later files is
 * not left behind).  Returns false when reading cannot go on. */
static bool read_error(struct run *r, const ingest_raw *raw, const char *msg, int rc)
{
	idx_files_event ev;
	const char *p;
	memset(&ev, 0, sizeof ev);
	ev.kind = IDX_FILES_READ_ERROR;
	ev.msg = msg;
	emit(r, &ev);
	r->ctr->v[TV_CTR_SRC_READ_ERRORS]++;
	r->res->read_errors++;
	if (rc == TV_E_NOMEM)
		return false;
	if (r->res->nbad < IDX_FILES_BAD_NAMED) {
		p = ingest_file_src_path(r->src, (int)raw->file_idx);
		snprintf(r->res->bad[r->res->nbad], sizeof r->res->bad[0], "%s",
		         p ? (strcmp(p, "-") == 0 ? "standard input" : p) : "?");
	}
	r->res->nbad++;
	return true;
}

/* One frame read: skipped when an earlier run stored it, else decapsulated
 * and stored. */
static int one_frame(struct run *r, const ingest_raw *raw)
{
	bool have;
	int rc;
	if ((int)raw->file_idx != r->cur_file && (rc = next_file(r, (int)raw->file_idx)) != 0)
		return rc;
	if (raw->ordinal < r->cur_done) {
		r->ctr->v[TV_CTR_SRC_SKIPPED_DUP]++;
		return 0;
	}
	r->ctr->v[TV_CTR_SRC_PACKETS]++;
	r->ctr->v[TV_CTR_SRC_BYTES] += raw->caplen;
	r->pos.ordinal = raw->ordinal;
	r->pos.file_end = raw->file_end;
	have = ingest_decap_packet(r->dec, raw->linktype, raw->data, raw->caplen, raw->origlen,
	                           raw->ts_ns, &r->pkt) == INGEST_STORE;
	if ((rc = store_ready(r, have)) != 0)
		return fail(r, IDX_FILES_STEP_STORE, rc);
	return 0;
}

static int read_all(struct run *r)
{
	char err[1024];
	idx_files_event ev;
	uint64_t before;
	int rc, first = 0;

	for (;;) {
		ingest_raw raw;
		if (r->cfg->stop && *r->cfg->stop) {
			memset(&ev, 0, sizeof ev);
			ev.kind = IDX_FILES_INTERRUPTED;
			emit(r, &ev);
			break;
		}
		rc = ingest_file_src_next(r->src, &raw, err, sizeof err);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (!read_error(r, &raw, err, rc))
				break;
			continue;
		}
		before = r->ctr->v[TV_CTR_SRC_PACKETS];
		if ((rc = one_frame(r, &raw)) != 0) {
			if (r->res->step == IDX_FILES_STEP_STORE)
				return rc;
			first = rc; /* a file that cannot be compared: stop reading */
			break;
		}
		if (r->ctr->v[TV_CTR_SRC_PACKETS] != before && (r->ctr->v[TV_CTR_SRC_PACKETS] & 1023) == 0) {
			memset(&ev, 0, sizeof ev);
			ev.kind = IDX_FILES_PROGRESS;
			ev.done_bytes = ingest_file_src_done_bytes(r->src);
			ev.total_bytes = ingest_file_src_total_bytes(r->src);
			ev.packets = r->ctr->v[TV_CTR_SRC_PACKETS];
			emit(r, &ev);
		}
	}
	/* end of input: outer fragments still waiting are stored as captured */
	ingest_decap_flush(r->dec);
	if ((rc = store_ready(r, false)) != 0)
		return fail(r, IDX_FILES_STEP_STORE, rc);
	return first;
}

int idx_ingest_files(const idx_files_cfg *cfg, tv_counters *ctr, idx_files_result *res)
{
	struct run r;
	idx_recovery rec;
	idx_files_event ev;
	uint64_t t0;
	int rc, crc;

	memset(res, 0, sizeof *res);
	memset(&r, 0, sizeof r);
	r.cfg = cfg;
	r.ctr = ctr;
	r.res = res;
	r.cur_file = -1;
	rc = ingest_file_src_open(cfg->files, cfg->nfiles, &r.src, res->msg, sizeof res->msg);
	if (rc)
		return fail(&r, IDX_FILES_STEP_SOURCES, rc);
	if ((rc = idx_vault_open(cfg->store, &cfg->vault, ctr, &rec, &r.v)) != 0) {
		fail(&r, IDX_FILES_STEP_OPEN, rc);
		goto out;
	}
	memset(&ev, 0, sizeof ev);
	ev.kind = IDX_FILES_RECOVERED;
	ev.rec = &rec;
	emit(&r, &ev);
	if ((rc = ingest_decap_new(&cfg->decap, ctr, &r.dec)) != 0) {
		fail(&r, IDX_FILES_STEP_DECAP, rc);
		goto out;
	}
	res->opened = true;
	t0 = tv_clock_mono_ns();
	rc = read_all(&r);
	crc = idx_vault_close(r.v);
	r.v = NULL;
	/* with threads a storing error is also the close's: say it once */
	if (crc && crc != rc) {
		if (rc)
			res->close_err = crc;
		else
			rc = fail(&r, IDX_FILES_STEP_CLOSE, crc);
	}
	res->elapsed_ns = tv_clock_mono_ns() - t0;
out:
	res->nfiles = ingest_file_src_count(r.src);
	idx_vault_close(r.v);
	ingest_decap_free(r.dec);
	ingest_file_src_close(r.src);
	return rc;
}
