/*
 * export.c — one export: the packets, flow records and (with flow logs)
 * the audit of an expression, written as a case bundle and entered in the
 * store's custody log.  `tapvault export` is its command.
 */
#include "evidence.h"
#include "audit.h"
#include "report_int.h"
#include "../index/vault.h"
#include "../ingest/tv.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct exctx {
	const report_export_events *ev;
	FILE *pcap;
	uint64_t max_bytes, bytes, packets, first_ts, last_ts;
	bool over;
	report_bundle_chunk *chunks;
	size_t nchunks, capchunks, last; /* last: index of the chunk of the previous hit */
};

/* Everything an export holds between its steps. */
struct export_run {
	const report_export_opts *o;
	const report_export_events *ev;
	report_export_result *res;
	struct exctx x;
	FILE *fflows, *faudit_html, *faudit_json;
	char user[256], host[256];
	const char *examiner;
	idx_query_stats st;
};

static int fail(report_export_result *res, enum report_export_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Sets the outcome and its message; returns the status. */
static int fail(report_export_result *res, enum report_export_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->err, sizeof res->err, fmt, ap);
	va_end(ap);
	res->status = st;
	return st;
}

static bool cancelled(const report_export_opts *o)
{
	return o->cancel && *o->cancel;
}

/* The chunk entry for id, inserted in id order when new. */
static report_bundle_chunk *chunk_slot(struct exctx *x, const store_chunk_meta *m)
{
	size_t lo = 0, hi = x->nchunks;
	if (x->last < x->nchunks && x->chunks[x->last].id == m->chunk_id)
		return &x->chunks[x->last];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (x->chunks[mid].id < m->chunk_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == x->nchunks || x->chunks[lo].id != m->chunk_id) {
		if (x->nchunks == x->capchunks) {
			size_t nc = x->capchunks ? x->capchunks * 2 : 64;
			report_bundle_chunk *t = realloc(x->chunks, nc * sizeof *t);
			if (!t)
				return NULL;
			x->chunks = t;
			x->capchunks = nc;
		}
		memmove(&x->chunks[lo + 1], &x->chunks[lo], (x->nchunks - lo) * sizeof *x->chunks);
		x->nchunks++;
		memset(&x->chunks[lo], 0, sizeof x->chunks[lo]);
		x->chunks[lo].id = m->chunk_id;
		x->chunks[lo].segment = m->segment;
		x->chunks[lo].offset = m->offset;
		x->chunks[lo].length = m->length;
		memcpy(x->chunks[lo].sha256, m->sha256, 32);
	}
	x->last = lo;
	return &x->chunks[lo];
}

static int on_hit(void *ctx, const idx_query_hit *h)
{
	struct exctx *x = ctx;
	report_bundle_chunk *c;
	uint64_t add = REPORT_PCAP_REC_HDR_LEN + (uint64_t)h->rec->caplen;

	if (x->max_bytes && x->bytes + add > x->max_bytes) {
		x->over = true;
		return TV_E_FULL;
	}
	if (report_pcapw_record(x->pcap, h->rec->ts_ns, h->rec->frame, h->rec->caplen,
	                        h->rec->origlen) != 0)
		return TV_E_IO;
	x->bytes += add;
	c = chunk_slot(x, h->chunk);
	if (!c)
		return TV_E_NOMEM;
	c->packets++;
	if (x->packets == 0 || h->rec->ts_ns < x->first_ts)
		x->first_ts = h->rec->ts_ns;
	if (h->rec->ts_ns > x->last_ts)
		x->last_ts = h->rec->ts_ns;
	x->packets++;
	if ((x->packets & 1023) == 0 && x->ev->packets)
		x->ev->packets(x->ev->ctx, x->packets, false);
	return 0;
}

/* A temporary file next to the bundle, unlinked at once. */
static FILE *temp_near(const char *out)
{
	char tmpl[PATH_MAX];
	const char *slash = strrchr(out, '/');
	int fd;
	FILE *f;
	if (slash)
		snprintf(tmpl, sizeof tmpl, "%.*s/.tapvault-export-XXXXXX", (int)(slash - out), out);
	else
		snprintf(tmpl, sizeof tmpl, ".tapvault-export-XXXXXX");
	fd = mkstemp(tmpl);
	if (fd < 0)
		return NULL;
	unlink(tmpl);
	f = fdopen(fd, "w+b");
	if (!f)
		close(fd);
	return f;
}

/* The audit report's two members (HTML and JSON) into temporary files. */
static int write_audit(struct export_run *r, report_audit *a)
{
	report_audit_out_cfg ocfg;
	int rc;

	r->faudit_html = temp_near(r->o->out);
	r->faudit_json = temp_near(r->o->out);
	if (!r->faudit_html || !r->faudit_json)
		return fail(r->res, REPORT_EXPORT_FAILED, "cannot create a temporary file next to %s: %s",
		            r->o->out, strerror(errno));
	memset(&ocfg, 0, sizeof ocfg);
	ocfg.store = r->o->store;
	ocfg.command = "tapvault export --flow-logs";
	ocfg.max_rows = 200;
	ocfg.format = REPORT_AF_HTML;
	rc = report_audit_write(a, &ocfg, r->faudit_html);
	ocfg.format = REPORT_AF_JSON;
	if (!rc)
		rc = report_audit_write(a, &ocfg, r->faudit_json);
	if (rc || fflush(r->faudit_html) != 0 || fflush(r->faudit_json) != 0)
		return fail(r->res, REPORT_EXPORT_FAILED, "writing the audit report failed: %s",
		            strerror(rc ? rc : errno));
	return REPORT_EXPORT_OK;
}

/* The audit of the export's time range (flow logs against the store). */
static int export_audit(struct export_run *r)
{
	const report_export_opts *o = r->o;
	report_audit_cfg cfg;
	report_vnimap *map = NULL;
	report_audit *a = NULL;
	uint64_t lo, hi;
	char err[1024];
	size_t i;
	int rc, ret = REPORT_EXPORT_OK;

	report_audit_cfg_default(&cfg);
	idx_expr_time_bounds(o->expr, &lo, &hi);
	cfg.from = lo == 0 ? 0 : (uint32_t)(lo / 1000000000ull);
	cfg.to = hi >= (uint64_t)UINT32_MAX * 1000000000ull ? UINT32_MAX
	                                                    : (uint32_t)(hi / 1000000000ull);
	cfg.flow_logs = o->flow_logs;
	cfg.nflow_logs = o->nflow_logs;
	if ((rc = report_vnimap_new(&map)) != 0)
		return fail(r->res, REPORT_EXPORT_FAILED, "%s", tv_strerror(rc));
	for (i = 0; i < o->nvni_maps; i++) {
		if ((rc = report_vnimap_load(map, o->vni_maps[i], err, sizeof err)) != 0) {
			ret = fail(r->res, REPORT_EXPORT_USAGE, "--vni-map %s", err);
			goto done;
		}
	}
	cfg.map = map;
	rc = report_audit_run(o->rs, &cfg, &a, err, sizeof err);
	if (rc) {
		ret = fail(r->res, rc == TV_E_RANGE ? REPORT_EXPORT_USAGE : REPORT_EXPORT_FAILED,
		           "the audit for the bundle failed: %s", err);
		goto done;
	}
	if ((ret = write_audit(r, a)) != REPORT_EXPORT_OK)
		goto done;
	if (r->ev->audit)
		r->ev->audit(r->ev->ctx, report_audit_summary_get(a));
done:
	report_audit_free(a);
	report_vnimap_free(map);
	return ret;
}

/* The matching packets into the temporary pcap, every chunk checked
 * against its SHA-256 as it is read (evidence from a damaged chunk must
 * not go into a bundle unnoticed; a chunk is read whole once
 * for it, though the packets come from its planned blocks), within
 * max_bytes. */
static int collect_packets(struct export_run *r)
{
	struct exctx *x = &r->x;
	char err[1024];
	int rc;

	if (r->o->max_bytes && r->o->max_bytes < REPORT_PCAP_HDR_LEN)
		return fail(r->res, REPORT_EXPORT_USAGE, "--max-bytes %llu: smaller than a pcap header",
		            (unsigned long long)r->o->max_bytes);
	report_pcapw_header(x->pcap);
	x->bytes = REPORT_PCAP_HDR_LEN;
	rc = idx_query_run_hits(r->o->rs, 1, r->o->expr, true, on_hit, x, &r->st, err, sizeof err);
	if (r->ev->packets)
		r->ev->packets(r->ev->ctx, x->packets, true);
	r->res->packets = x->packets;
	if (x->over) {
		r->res->status = REPORT_EXPORT_OVER;
		return REPORT_EXPORT_OVER;
	}
	if (rc)
		return fail(r->res, REPORT_EXPORT_FAILED, "%s",
		            rc == TV_E_IO ? "writing the temporary pcap failed (disk full?)" : err);
	if (fflush(x->pcap) != 0 || ferror(x->pcap))
		return fail(r->res, REPORT_EXPORT_FAILED, "writing the temporary pcap failed: %s",
		            strerror(errno));
	return REPORT_EXPORT_OK;
}

/* Opens the bundle writer (*wp) and streams every member but the manifest
 * into it.  From here on a file exists under a temporary name beside the
 * bundle: the caller's cancel flag stops the writer between blocks and the
 * temporary file is removed.  (Until now every temporary file was unlinked
 * at creation.)  *wp is NULL on failure. */
static int add_members(struct export_run *r, report_bundle_writer **wp)
{
	const report_export_opts *o = r->o;
	report_bundle_writer *w;
	char err[1024];
	int rc;

	*wp = NULL;
	if (r->ev->writing)
		r->ev->writing(r->ev->ctx);
	rc = report_bundle_writer_open(o->out, o->kind, wp);
	w = *wp;
	if (rc)
		return fail(r->res,
		            rc == EEXIST || rc == TV_E_SYMLINK || rc == TV_E_NOTREG || rc == EISDIR
		                    ? REPORT_EXPORT_USAGE : REPORT_EXPORT_FAILED,
		            "%s: cannot create: %s", o->out,
		            rc == EEXIST ? "exists already; a bundle is never overwritten" : tv_strerror(rc));
	if (o->cancel)
		report_bundle_writer_cancel_on(w, o->cancel);
	if (report_bundle_writer_swept(w) && r->ev->swept)
		r->ev->swept(r->ev->ctx, report_bundle_writer_swept(w));
	rc = report_bundle_writer_add(w, REPORT_BUNDLE_PACKETS, r->x.pcap, err, sizeof err);
	if (!rc)
		rc = report_bundle_writer_add(w, REPORT_BUNDLE_FLOWS, r->fflows, err, sizeof err);
	if (!rc && r->faudit_html)
		rc = report_bundle_writer_add(w, REPORT_BUNDLE_AUDIT_HTML, r->faudit_html, err, sizeof err);
	if (!rc && r->faudit_json)
		rc = report_bundle_writer_add(w, REPORT_BUNDLE_AUDIT_JSON, r->faudit_json, err, sizeof err);
	if (rc) {
		report_bundle_writer_abort(w);
		*wp = NULL;
		if (cancelled(o)) {
			r->res->status = REPORT_EXPORT_STOPPED;
			return REPORT_EXPORT_STOPPED;
		}
		return fail(r->res, REPORT_EXPORT_FAILED, "%s: %s", o->out, err);
	}
	return REPORT_EXPORT_OK;
}

/* The custody entry of the bundle just written; when it cannot be
 * appended, the bundle is withdrawn. */
static int record_custody(struct export_run *r, uint64_t created_ns, const uint8_t sha[32])
{
	const report_export_opts *o = r->o;
	report_export_result *res = r->res;
	report_custody_entry ce;
	char err[1024], outabs[PATH_MAX];
	int rc;

	if (!realpath(o->out, outabs))
		snprintf(outabs, sizeof outabs, "%s", o->out);
	memset(&ce, 0, sizeof ce);
	ce.time_ns = created_ns;
	ce.action = "export";
	ce.examiner = r->examiner;
	ce.uid = (uint32_t)getuid();
	ce.user = r->user;
	ce.host = r->host;
	ce.case_id = o->case_id;
	ce.query = res->query_norm;
	ce.bundle = o->out;
	ce.bundle_path = outabs;
	ce.bundle_size = res->size;
	memcpy(ce.bundle_sha256, sha, 32);
	ce.note = o->note;
	err[0] = '\0';
	rc = report_custody_append(res->store_abs, &ce, &res->custody_seq, res->custody_hash_hex, err,
	                           sizeof err);
	if (rc) {
		/* an export that the custody log does not know of must not exist
		 * (removed only while it is still the file just written) */
		int wr = report_bundle_withdraw(o->out, res->size, sha);
		return fail(res, REPORT_EXPORT_FAILED, "%s; %s", err[0] ? err : tv_strerror(rc),
		            wr == 0 ? "the bundle was removed again"
		                    : "the bundle could not be removed again: delete it");
	}
	return REPORT_EXPORT_OK;
}

/* The manifest's description of the bundle.  The strings are borrowed:
 * tool is the caller's buffer (filled here), the rest r's. */
static void fill_meta(report_bundle_meta *meta, struct export_run *r, char tool[64])
{
	const report_export_opts *o = r->o;
	uint8_t uuid[16];
	char uuidhex[33];
	int i;

	memset(meta, 0, sizeof *meta);
	snprintf(tool, 64, "tapvault %s", TV_VERSION);
	idx_store_uuid(o->rs->x, uuid);
	for (i = 0; i < 16; i++)
		snprintf(uuidhex + 2 * i, 3, "%02x", uuid[i]);
	meta->tool = tool;
	meta->created_ns = tv_clock_real_ns();
	meta->case_id = o->case_id;
	meta->examiner = r->examiner;
	meta->note = o->note;
	meta->store_path = r->res->store_abs;
	memcpy(meta->store_uuid, uuidhex, sizeof uuidhex);
	meta->query_text = o->query_text;
	meta->query_norm = r->res->query_norm;
	idx_expr_time_bounds(o->expr, &meta->time_lo, &meta->time_hi);
	meta->packets = r->x.packets;
	meta->first_ts = r->x.first_ts;
	meta->last_ts = r->x.last_ts;
	meta->flow_records = r->res->flow_records;
	meta->max_bytes = o->max_bytes;
	meta->chunks = r->x.chunks;
	meta->nchunks = r->x.nchunks;
}

/* Who exports, from where: the login name, the host name and the
 * examiner (the login name unless one is given). */
static void identify(struct export_run *r)
{
	struct passwd *pw = getpwuid(getuid());
	if (pw && pw->pw_name)
		snprintf(r->user, sizeof r->user, "%s", pw->pw_name);
	if (gethostname(r->host, sizeof r->host - 1) != 0)
		r->host[0] = '\0';
	r->examiner = r->o->examiner && *r->o->examiner ? r->o->examiner
	              : r->user[0]                     ? r->user
	                                               : NULL;
}

/* The bundle from the members already collected, then its custody entry. */
static int write_bundle(struct export_run *r)
{
	report_export_result *res = r->res;
	report_bundle_writer *w = NULL;
	report_bundle_meta meta;
	char err[1024], tool[64];
	uint8_t sha[32];
	int rc;

	if ((rc = add_members(r, &w)) != REPORT_EXPORT_OK)
		return rc;
	fill_meta(&meta, r, tool);
	err[0] = '\0';
	rc = report_bundle_writer_finish(w, &meta, &res->size, sha, err, sizeof err);
	if (rc && cancelled(r->o)) {
		res->status = REPORT_EXPORT_STOPPED;
		return REPORT_EXPORT_STOPPED;
	}
	if (rc)
		return fail(res, rc == EEXIST ? REPORT_EXPORT_USAGE : REPORT_EXPORT_FAILED, "%s: %s",
		            r->o->out, err[0] ? err : tv_strerror(rc));
	/* the bundle exists: from here on it is finished with its custody entry */
	tv_sha256_hex(sha, res->sha256_hex);
	return record_custody(r, meta.created_ns, sha);
}

static int export_steps(struct export_run *r)
{
	const report_export_opts *o = r->o;
	report_export_result *res = r->res;
	int rc;

	r->x.pcap = temp_near(o->out);
	r->fflows = temp_near(o->out);
	if (!r->x.pcap || !r->fflows)
		return fail(res, REPORT_EXPORT_FAILED, "%s: cannot create a temporary file beside it: %s",
		            o->out, strerror(errno));
	if ((rc = collect_packets(r)) != REPORT_EXPORT_OK)
		return rc;
	res->nchunks = r->x.nchunks;
	res->chunks_planned = r->st.plan.chunks_planned;
	res->chunks_total = r->st.plan.chunks_total;
	res->chunks_read = r->st.chunks_read;
	rc = report_bundle_write_flows(o->rs->x, o->expr, r->fflows, &res->flow_records);
	if (rc || fflush(r->fflows) != 0)
		return fail(res, REPORT_EXPORT_FAILED, "%s: reading the flow records failed: %s", o->store,
		            tv_strerror(rc ? rc : TV_E_IO));
	if (o->nflow_logs > 0 && (rc = export_audit(r)) != REPORT_EXPORT_OK)
		return rc;
	return write_bundle(r);
}

int report_export_run(const report_export_opts *o, report_export_result *res,
                      const report_export_events *ev)
{
	static const report_export_events none;
	struct export_run r;
	int ret;

	memset(res, 0, sizeof *res);
	memset(&r, 0, sizeof r);
	r.o = o;
	r.ev = ev ? ev : &none;
	r.res = res;
	r.x.ev = r.ev;
	r.x.max_bytes = o->max_bytes;
	{
		char abs[PATH_MAX];
		snprintf(res->store_abs, sizeof res->store_abs, "%s",
		         realpath(o->store, abs) ? abs : o->store);
	}
	idx_expr_format(o->expr, res->query_norm, sizeof res->query_norm);
	identify(&r);
	ret = export_steps(&r);
	if (r.x.pcap)
		fclose(r.x.pcap);
	if (r.fflows)
		fclose(r.fflows);
	if (r.faudit_html)
		fclose(r.faudit_html);
	if (r.faudit_json)
		fclose(r.faudit_json);
	free(r.x.chunks);
	return ret;
}
