/*
 * flowout.c — stored flow records written as VPC Flow Logs (vpc.h,
 * "Flow records out"): the record mapping, JSON, the merge/sort of one
 * window's records, and the S3 layout writer.
 *
 * Every text this file writes goes through report_flowlog_format_line(), so
 * whatever we write, our own parser (and Athena's space-delimited table)
 * reads back.
 *
 * report_flows_write is the whole of `tapvault flows`' work: learn the
 * interfaces' addresses when a field needs them, read the records window
 * by window (idx_flows_read_merged), write each one.
 *
 * S3 layout (AWS, "Publish flow logs to Amazon S3"): DIR/AWSLogs/<account>/vpcflowlogs/<region>/
 * <yyyy>/<mm>/<dd>/<account>_vpcflowlogs_<region>_<id>_<YYYYMMDDTHHmmZ>_
 * <hash>.log.gz, one file per 5-minute period of record END times, each
 * starting with the header line.  A file is written under a temporary name
 * in the same folder (tv_outfile: random, O_EXCL|O_NOFOLLOW; every folder
 * level below DIR opened with O_NOFOLLOW) and renamed when finished,
 * because its name holds the hash of its content.  gzip is written by libarchive (raw
 * format + gzip filter) with the timestamp left out of the gzip header, so
 * the same records give the same bytes.
 */
#include "vpc.h"
#include "../index/idx.h"
#include "../ingest/tvfile.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* --------------------------------------------------------------- mapping */

static report_fl_str fl_str(const char *s)
{
	report_fl_str r = { NULL, 0 };
	if (s && s[0]) {
		r.p = s;
		r.len = strlen(s);
	}
	return r;
}

static const tv_addr *primary_v4(const report_iface *ifc)
{
	size_t i;
	for (i = 0; i < ifc->naddrs; i++)
		if (tv_addr_is_v4(&ifc->addrs[i]))
			return &ifc->addrs[i];
	return NULL;
}

void report_flowrec_to_fl(const tv_flowrec *r, const report_iface *ifc,
                          const report_fl_format *fmt, const char *def_account,
                          const char *def_region, report_fl_rec *rec)
{
	uint64_t want = 0;
	uint32_t i;
	bool egress, ingress;
	const tv_addr *p4 = primary_v4(ifc);

	for (i = 0; i < fmt->n; i++)
		if (fmt->id[i] < REPORT_FL_F__KNOWN)
			want |= 1ull << fmt->id[i];
	memset(rec, 0, sizeof *rec);
#define PUT(id, stmt) do { if ((want >> (id)) & 1u) { stmt; rec->present |= 1ull << (id); } } while (0)
#define PUTS(id, field, s) do { report_fl_str v_ = fl_str(s); \
	if (v_.p && ((want >> (id)) & 1u)) { rec->field = v_; rec->present |= 1ull << (id); } } while (0)

	egress = report_iface_has_addr(ifc, &r->key.src);
	ingress = !egress && report_iface_has_addr(ifc, &r->key.dst);

	PUT(REPORT_FL_F_VERSION, rec->version = (uint32_t)report_format_version(fmt));
	PUTS(REPORT_FL_F_ACCOUNT_ID, account_id, ifc->account[0] ? ifc->account : def_account);
	PUTS(REPORT_FL_F_INTERFACE_ID, interface_id, ifc->name);
	PUT(REPORT_FL_F_SRCADDR, rec->srcaddr = r->key.src);
	PUT(REPORT_FL_F_DSTADDR, rec->dstaddr = r->key.dst);
	/* AWS ("Flow log records", srcaddr/dstaddr): the interface's side
	 * shows its primary private IPv4 */
	if (p4 && egress && tv_addr_is_v4(&r->key.src))
		rec->srcaddr = (want >> REPORT_FL_F_SRCADDR) & 1u ? *p4 : rec->srcaddr;
	if (p4 && ingress && tv_addr_is_v4(&r->key.dst))
		rec->dstaddr = (want >> REPORT_FL_F_DSTADDR) & 1u ? *p4 : rec->dstaddr;
	PUT(REPORT_FL_F_SRCPORT, rec->srcport = r->key.sport);
	PUT(REPORT_FL_F_DSTPORT, rec->dstport = r->key.dport);
	PUT(REPORT_FL_F_PROTOCOL, rec->protocol = r->key.proto);
	PUT(REPORT_FL_F_PACKETS, rec->packets = r->packets);
	PUT(REPORT_FL_F_BYTES, rec->bytes = r->bytes);
	PUT(REPORT_FL_F_START, rec->start = r->start);
	PUT(REPORT_FL_F_END, rec->end = r->end);
	PUT(REPORT_FL_F_ACTION, rec->action = REPORT_FL_ACTION_ACCEPT);
	PUT(REPORT_FL_F_LOG_STATUS, rec->log_status = REPORT_FL_STATUS_OK);
	PUTS(REPORT_FL_F_VPC_ID, vpc_id, ifc->vpc);
	PUTS(REPORT_FL_F_SUBNET_ID, subnet_id, ifc->subnet);
	PUTS(REPORT_FL_F_INSTANCE_ID, instance_id, ifc->instance);
	PUT(REPORT_FL_F_TCP_FLAGS, rec->tcp_flags = r->tcp_flags);
	PUT(REPORT_FL_F_TYPE, rec->type = r->ipver == 6 ? REPORT_FL_TYPE_IPV6 : REPORT_FL_TYPE_IPV4);
	PUT(REPORT_FL_F_PKT_SRCADDR, rec->pkt_srcaddr = r->key.src);
	PUT(REPORT_FL_F_PKT_DSTADDR, rec->pkt_dstaddr = r->key.dst);
	PUTS(REPORT_FL_F_REGION, region, ifc->region[0] ? ifc->region : def_region);
	PUTS(REPORT_FL_F_AZ_ID, az_id, ifc->az);
	if (egress)
		PUT(REPORT_FL_F_FLOW_DIRECTION, rec->flow_direction = REPORT_FL_DIR_EGRESS);
	else if (ingress)
		PUT(REPORT_FL_F_FLOW_DIRECTION, rec->flow_direction = REPORT_FL_DIR_INGRESS);
#undef PUT
#undef PUTS
}

/* ------------------------------------------------------------------ JSON */

static bool jput(char *buf, size_t cap, size_t *o, const char *s, size_t n)
{
	if (n >= cap - *o)
		return false;
	memcpy(buf + *o, s, n);
	*o += n;
	buf[*o] = '\0';
	return true;
}

/* A JSON string: our tokens have no control characters, but quotes and
 * backslashes are escaped all the same. */
static bool jstr(char *buf, size_t cap, size_t *o, const char *s, size_t n)
{
	size_t i;
	if (!jput(buf, cap, o, "\"", 1))
		return false;
	for (i = 0; i < n; i++) {
		if ((s[i] == '"' || s[i] == '\\') && !jput(buf, cap, o, "\\", 1))
			return false;
		if (!jput(buf, cap, o, s + i, 1))
			return false;
	}
	return jput(buf, cap, o, "\"", 1);
}

int report_flowrec_json(const report_fl_format *fmt, const report_fl_rec *rec,
                        const tv_flowrec *r, char *buf, size_t cap, size_t *len)
{
	char line[8192], num[TV_ADDR_STRLEN + 16];
	size_t ll, o = 0, p = 0;
	uint32_t i;
	int rc;

	if (cap == 0)
		return TV_E_FULL;
	buf[0] = '\0';
	rc = report_flowlog_format_line(fmt, rec, line, sizeof line, &ll);
	if (rc)
		return rc;
	if (!jput(buf, cap, &o, "{", 1))
		goto full;
	for (i = 0; i < fmt->n; i++) {
		const char *tok = line + p, *name;
		size_t tl = 0;
		int id = fmt->id[i];
		while (p + tl < ll && line[p + tl] != ' ')
			tl++;
		p += tl + 1;
		name = id == REPORT_FL_F_OTHER ? fmt->other_name[i] : report_fl_field_name(id);
		if ((i && !jput(buf, cap, &o, ",", 1)) || !jstr(buf, cap, &o, name, strlen(name)) ||
		    !jput(buf, cap, &o, ":", 1))
			goto full;
		if (tl == 1 && tok[0] == '-') {
			if (!jput(buf, cap, &o, "null", 4))
				goto full;
		} else if (report_fl_field_kind(id) == REPORT_FL_KIND_INT ||
		           report_fl_field_kind(id) == REPORT_FL_KIND_INT64) {
			if (!jput(buf, cap, &o, tok, tl))
				goto full;
		} else if (!jstr(buf, cap, &o, tok, tl)) {
			goto full;
		}
	}
	if (r->vni == TV_VNI_NONE)
		snprintf(num, sizeof num, ",\"vni\":null");
	else
		snprintf(num, sizeof num, ",\"vni\":%u", r->vni);
	if (!jput(buf, cap, &o, num, strlen(num)))
		goto full;
	{
		static const tv_addr zero;
		char a[TV_ADDR_STRLEN];
		if (memcmp(r->outer_src.b, zero.b, 16) == 0) {
			if (!jput(buf, cap, &o, ",\"outer_src\":null", 17))
				goto full;
		} else {
			tv_addr_format(&r->outer_src, a, sizeof a);
			if (!jput(buf, cap, &o, ",\"outer_src\":", 13) || !jstr(buf, cap, &o, a, strlen(a)))
				goto full;
		}
	}
	if (!jput(buf, cap, &o, "}", 1))
		goto full;
	if (len)
		*len = o;
	return 0;
full:
	buf[0] = '\0';
	return TV_E_FULL;
}

/* -------------------------------------------------------------- S3 files */

#define S3_PERIOD 300u
#define S3_MAX_OPEN 16
#define S3_DEFAULT_MAX_BYTES 75000000ull

struct s3file {
	uint32_t period;     /* start of the 5-minute period, unix seconds */
	struct archive *a;
	tv_outfile out;      /* the temporary file in the day's folder */
	char dir[4096];      /* that folder, for messages */
	tv_sha256_ctx sha;
};

struct report_s3 {
	char *dir, *account, *region, *id;
	report_fl_format fmt;
	char header[4096];
	size_t header_len;
	uint64_t max_bytes;
	int rootfd;          /* DIR, opened at the first file; -1 before */
	struct s3file f[S3_MAX_OPEN];
	int nopen;
	uint64_t files, records;
	char err[4400];
};

static bool name_ok(const char *s, bool allow_underscore)
{
	if (!s || !s[0] || strlen(s) > 200)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || (allow_underscore && c == '_')))
			return false;
	}
	return true;
}

int report_s3_open(const report_s3_cfg *cfg, report_s3 **out, char *err, size_t cap)
{
	report_s3 *s;
	*out = NULL;
	if (!cfg->dir || !cfg->dir[0]) {
		snprintf(err, cap, "no output folder");
		return TV_E_SYNTAX;
	}
	if (!name_ok(cfg->account, false)) {
		snprintf(err, cap, "account '%s': expected letters, digits, '-' and '.'",
		         cfg->account ? cfg->account : "");
		return TV_E_SYNTAX;
	}
	if (!name_ok(cfg->region, false)) {
		snprintf(err, cap, "region '%s': expected letters, digits, '-' and '.'",
		         cfg->region ? cfg->region : "");
		return TV_E_SYNTAX;
	}
	if (!name_ok(cfg->flow_log_id, false)) {
		snprintf(err, cap, "flow log id '%s': expected letters, digits, '-' and '.'",
		         cfg->flow_log_id ? cfg->flow_log_id : "");
		return TV_E_SYNTAX;
	}
	s = calloc(1, sizeof *s);
	if (!s)
		return TV_E_NOMEM;
	s->rootfd = -1;
	s->dir = strdup(cfg->dir);
	s->account = strdup(cfg->account);
	s->region = strdup(cfg->region);
	s->id = strdup(cfg->flow_log_id);
	s->fmt = *cfg->fmt;
	s->max_bytes = cfg->max_file_bytes ? cfg->max_file_bytes : S3_DEFAULT_MAX_BYTES;
	if (!s->dir || !s->account || !s->region || !s->id) {
		report_s3_free(s);
		return TV_E_NOMEM;
	}
	if (report_format_write(&s->fmt, true, s->header, sizeof s->header - 1) != 0) {
		report_s3_free(s);
		snprintf(err, cap, "the header line is too long");
		return TV_E_SYNTAX;
	}
	s->header_len = strlen(s->header);
	s->header[s->header_len++] = '\n';
	*out = s;
	return 0;
}

static int ar_err(report_s3 *s, struct s3file *f, const char *what)
{
	snprintf(s->err, sizeof s->err, "%s/%s: %s: %s", f->dir, f->out.tmp, what,
	         f->a && archive_error_string(f->a) ? archive_error_string(f->a) : "libarchive failed");
	return TV_E_IO;
}

static int dir_err(report_s3 *s, const char *base, const char *rel, size_t bad, int rc)
{
	snprintf(s->err, sizeof s->err, "%s%s%.*s: cannot %s: %s%s", base, rel ? "/" : "",
	         rel ? (int)bad : 0, rel ? rel : "", rel ? "create" : "open", tv_strerror(rc),
	         rc == TV_E_SYMLINK ? "; refusing to write through it" : "");
	return rc;
}

static int file_open(report_s3 *s, uint32_t period, struct s3file *f)
{
	struct archive_entry *ent;
	tv_civil tm;
	char rel[1024], stem[TV_NAME_MAX + 1];
	size_t bad = 0;
	int rc, dfd;

	memset(f, 0, sizeof *f);
	tv_outfile_init(&f->out);
	f->period = period;
	tv_time_civil((uint64_t)period * TV_NS_PER_S, &tm);
	if (s->rootfd < 0) {
		/* DIR is the user's: followed as typed, created when missing */
		rc = tv_dir_open(AT_FDCWD, s->dir, TV_DIR_FOLLOW | TV_DIR_CREATE, 0755, &s->rootfd, &bad);
		if (rc)
			return dir_err(s, s->dir, NULL, 0, rc);
	}
	/* every level below DIR is ours: made with mkdirat, opened with
	 * O_NOFOLLOW, a link planted there is refused */
	snprintf(rel, sizeof rel, "AWSLogs/%s/vpcflowlogs/%s/%04d/%02u/%02u", s->account, s->region,
	         (int)tm.year, tm.month, tm.day);
	snprintf(f->dir, sizeof f->dir, "%s/%s", s->dir, rel);
	rc = tv_dir_open(s->rootfd, rel, TV_DIR_CREATE, 0755, &dfd, &bad);
	if (rc)
		return dir_err(s, s->dir, rel, bad, rc);
	/* the final name holds the content's hash: known at the end only */
	snprintf(stem, sizeof stem, "%s_vpcflowlogs_%s_%s_%04d%02u%02uT%02u%02uZ.log.gz", s->account,
	         s->region, s->id, (int)tm.year, tm.month, tm.day, tm.hour,
	         tm.min);
	rc = tv_outfile_openat(&f->out, dfd, stem, 0666, TV_OUT_STEM | TV_OUT_REPLACE);
	close(dfd);
	if (rc) {
		snprintf(s->err, sizeof s->err, "%s: cannot create a temporary file: %s", f->dir,
		         tv_strerror(rc));
		return rc;
	}
	f->a = archive_write_new();
	if (!f->a)
		return TV_E_NOMEM;
	if (archive_write_add_filter_gzip(f->a) != ARCHIVE_OK ||
	    archive_write_set_format_raw(f->a) != ARCHIVE_OK)
		return ar_err(s, f, "cannot set up gzip");
	/* no time in the gzip header: the same records give the same bytes */
	(void)archive_write_set_filter_option(f->a, "gzip", "timestamp", NULL);
	if (archive_write_open_fd(f->a, f->out.fd) != ARCHIVE_OK)
		return ar_err(s, f, "cannot create");
	ent = archive_entry_new();
	if (!ent)
		return TV_E_NOMEM;
	archive_entry_set_filetype(ent, AE_IFREG);
	archive_entry_set_pathname(ent, "flowlog");
	rc = archive_write_header(f->a, ent);
	archive_entry_free(ent);
	if (rc != ARCHIVE_OK)
		return ar_err(s, f, "cannot start");
	tv_sha256_init(&f->sha);
	if (archive_write_data(f->a, s->header, s->header_len) != (la_ssize_t)s->header_len)
		return ar_err(s, f, "write failed");
	tv_sha256_update(&f->sha, s->header, s->header_len);
	return 0;
}

static void file_abort(struct s3file *f)
{
	if (f->a) {
		archive_write_free(f->a); /* the descriptor stays the outfile's */
		f->a = NULL;
	}
	tv_outfile_abort(&f->out);
}

static int file_finish(report_s3 *s, struct s3file *f)
{
	uint8_t d[32];
	char hex[65], final[TV_NAME_MAX + 1];
	tv_civil tm;
	int rc;

	if (archive_write_close(f->a) != ARCHIVE_OK) {
		rc = ar_err(s, f, "cannot finish");
		file_abort(f);
		return rc;
	}
	archive_write_free(f->a);
	f->a = NULL;
	tv_sha256_final(&f->sha, d);
	tv_sha256_hex(d, hex);
	tv_time_civil((uint64_t)f->period * TV_NS_PER_S, &tm);
	snprintf(final, sizeof final, "%s_vpcflowlogs_%s_%s_%04d%02u%02uT%02u%02uZ_%.8s.log.gz",
	         s->account, s->region, s->id, (int)tm.year, tm.month, tm.day,
	         tm.hour, tm.min, hex);
	/* the same name means the same content (its hash): a file of an earlier
	 * run is replaced, a link or anything else there is refused */
	rc = tv_outfile_commit(&f->out, final);
	if (rc) {
		snprintf(s->err, sizeof s->err, "%.2000s/%s: cannot create: %s%s", f->dir, final,
		         tv_strerror(rc), rc == TV_E_SYMLINK ? "; refusing to replace it" : "");
		return rc;
	}
	s->files++;
	return 0;
}

/* Finishes open file i and removes it from the list. */
static int close_at(report_s3 *s, int i)
{
	int rc = file_finish(s, &s->f[i]);
	memmove(&s->f[i], &s->f[i + 1], (size_t)(s->nopen - i - 1) * sizeof s->f[0]);
	s->nopen--;
	return rc;
}

int report_s3_write(report_s3 *s, uint32_t end, const char *line, size_t len)
{
	uint32_t period = end - end % S3_PERIOD;
	struct s3file *f = NULL;
	int i, rc;

	s->err[0] = '\0';
	for (i = 0; i < s->nopen; i++)
		if (s->f[i].period == period)
			f = &s->f[i];
	if (!f) {
		if (s->nopen == S3_MAX_OPEN) {
			/* too many periods at once (very long windows): finish the
			 * oldest; a period may have several files, as at AWS */
			int old = 0;
			for (i = 1; i < s->nopen; i++)
				if (s->f[i].period < s->f[old].period)
					old = i;
			if ((rc = close_at(s, old)) != 0)
				return rc;
		}
		f = &s->f[s->nopen];
		rc = file_open(s, period, f);
		if (rc) {
			file_abort(f);
			return rc;
		}
		s->nopen++;
	}
	if (archive_write_data(f->a, line, len) != (la_ssize_t)len ||
	    archive_write_data(f->a, "\n", 1) != 1)
		return ar_err(s, f, "write failed");
	tv_sha256_update(&f->sha, line, len);
	tv_sha256_update(&f->sha, "\n", 1);
	s->records++;
	if ((uint64_t)archive_filter_bytes(f->a, -1) >= s->max_bytes)
		return close_at(s, (int)(f - s->f));
	return 0;
}

int report_s3_close_before(report_s3 *s, uint64_t t)
{
	int i = 0, rc = 0, r;
	while (i < s->nopen) {
		if ((uint64_t)s->f[i].period + S3_PERIOD <= t) {
			r = close_at(s, i);
			if (r && !rc)
				rc = r;
		} else {
			i++;
		}
	}
	return rc;
}

int report_s3_finish(report_s3 *s)
{
	return report_s3_close_before(s, UINT64_MAX);
}

void report_s3_counts(const report_s3 *s, uint64_t *files, uint64_t *records)
{
	if (files)
		*files = s->files;
	if (records)
		*records = s->records;
}

const char *report_s3_error(const report_s3 *s)
{
	return s->err;
}

void report_s3_free(report_s3 *s)
{
	int i;
	if (!s)
		return;
	for (i = 0; i < s->nopen; i++)
		file_abort(&s->f[i]);
	if (s->rootfd >= 0)
		close(s->rootfd);
	free(s->dir);
	free(s->account);
	free(s->region);
	free(s->id);
	free(s);
}

/* ---------------------------------------------------- report_flows_write */

struct flows_run {
	const report_flows_opts *o;
	report_s3 *s3;
	uint64_t written;
	char line[16384];
};

static int learn_one(void *ctx, const tv_flowrec *r)
{
	report_vnimap *map = ctx;
	report_vnimap_learn_outer(map, r->vni, &r->outer_src);
	report_vnimap_learn(map, r->vni, &r->key.src, &r->key.dst);
	return report_vnimap_learn_error(map);
}

/* Whether a field of fmt shows the interface's side of the flow. */
static bool needs_addresses(const report_fl_format *fmt)
{
	uint32_t i;
	for (i = 0; i < fmt->n; i++)
		if (fmt->id[i] == REPORT_FL_F_SRCADDR || fmt->id[i] == REPORT_FL_F_DSTADDR ||
		    fmt->id[i] == REPORT_FL_F_FLOW_DIRECTION)
			return true;
	return false;
}

/* CSV is the AWS line with commas: no field value holds a blank. */
static void blanks_to_commas(char *s, size_t len)
{
	size_t i;
	for (i = 0; i < len; i++)
		if (s[i] == ' ')
			s[i] = ',';
}

static int put_record(struct flows_run *run, const tv_flowrec *r)
{
	const report_flows_opts *o = run->o;
	const report_iface *ifc = report_vnimap_get(o->map, r->vni);
	report_fl_rec rec;
	size_t len;
	int rc;

	if (!ifc)
		return TV_E_NOMEM;
	report_flowrec_to_fl(r, ifc, o->fmt, o->account, o->region, &rec);
	if (o->form == REPORT_FLOWS_JSON) {
		rc = report_flowrec_json(o->fmt, &rec, r, run->line, sizeof run->line, &len);
	} else {
		rc = report_flowlog_format_line(o->fmt, &rec, run->line, sizeof run->line, &len);
		if (rc == 0 && o->form == REPORT_FLOWS_CSV)
			blanks_to_commas(run->line, len);
	}
	if (rc)
		return rc;
	run->written++;
	if (run->s3)
		return report_s3_write(run->s3, r->end, run->line, len);
	run->line[len] = '\n';
	if (fwrite(run->line, 1, len + 1, o->out) != len + 1)
		return TV_E_IO;
	return 0;
}

/* One window's matched records, from idx_flows_read_merged. */
static int on_window(void *ctx, uint32_t w, tv_flowrec *v, size_t n)
{
	struct flows_run *run = ctx;
	size_t i;
	int rc;
	/* every record still to come ends at or after this window's start:
	 * the S3 periods before it are complete */
	if (run->s3 && (rc = report_s3_close_before(run->s3, w)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = put_record(run, &v[i])) != 0)
			return rc;
	return 0;
}

/* The first account (or region) the map names, in VNI order, or NULL. */
static const char *map_first(const report_vnimap *m, bool region)
{
	const report_iface *f;
	size_t i;
	for (i = 0; (f = report_vnimap_at(m, i)) != NULL; i++) {
		const char *v = region ? f->region : f->account;
		if (!f->learned && v[0])
			return v;
	}
	return NULL;
}

static int open_s3(const report_flows_opts *o, report_s3 **s3, report_flows_result *res)
{
	report_s3_cfg sc;
	const char *acc = map_first(o->map, false), *reg = map_first(o->map, true);
	int rc;

	memset(&sc, 0, sizeof sc);
	sc.dir = o->s3_dir;
	sc.account = o->account ? o->account : acc ? acc : REPORT_FLOWS_DEFAULT_ACCOUNT;
	sc.region = o->region ? o->region : reg ? reg : REPORT_FLOWS_DEFAULT_REGION;
	sc.flow_log_id = o->flow_log_id ? o->flow_log_id : REPORT_FLOWS_DEFAULT_FLOW_LOG_ID;
	sc.fmt = o->fmt;
	rc = report_s3_open(&sc, s3, res->err, sizeof res->err);
	if (rc)
		res->step = REPORT_FLOWS_STEP_S3_OPEN;
	return rc;
}

/* The header line of AWS (when asked) and CSV (always) to out. */
static int put_header(const report_flows_opts *o)
{
	char h[4096];
	if (o->form == REPORT_FLOWS_JSON || (o->form == REPORT_FLOWS_AWS && !o->header))
		return 0;
	report_format_write(o->fmt, true, h, sizeof h);
	if (o->form == REPORT_FLOWS_CSV)
		blanks_to_commas(h, strlen(h));
	return fprintf(o->out, "%s\n", h) < 0 ? TV_E_IO : 0;
}

int report_flows_write(const report_flows_opts *o, report_flows_result *res)
{
	struct flows_run *run;
	idx_flows_read_stats rst;
	bool have_windows;
	int i, rc = 0;

	memset(res, 0, sizeof *res);
	memset(&rst, 0, sizeof rst);
	if (o->nx < 1 || o->nx > 64 || (o->s3_dir && o->form != REPORT_FLOWS_AWS) || (!o->s3_dir && !o->out))
		return TV_E_RANGE;
	run = calloc(1, sizeof *run);
	if (!run)
		return TV_E_NOMEM;
	run->o = o;
	have_windows = idx_flows_window_range(o->expr, &res->from, &res->to);
	if (have_windows && needs_addresses(o->fmt)) {
		for (i = 0; i < o->nx && !rc; i++) {
			rc = idx_flow_foreach(o->xs[i], res->from, res->to, learn_one, o->map);
			if (rc) {
				res->step = REPORT_FLOWS_STEP_LEARN;
				res->store = i;
			}
		}
		if (rc)
			goto out;
		report_vnimap_learn_finish(o->map);
	}
	if (o->s3_dir)
		rc = open_s3(o, &run->s3, res);
	else
		rc = put_header(o);
	if (rc)
		goto out;
	rc = idx_flows_read_merged(o->xs, o->nx, o->expr, on_window, run, &rst);
	if (rc == 0 && run->s3)
		rc = report_s3_finish(run->s3);
	if (rc) {
		res->step = REPORT_FLOWS_STEP_WRITE;
		if (run->s3)
			snprintf(res->err, sizeof res->err, "%s", report_s3_error(run->s3));
	}
out:
	if (res->step == REPORT_FLOWS_STEP_NONE && rc)
		res->step = REPORT_FLOWS_STEP_WRITE;
	res->read = rst.read;
	res->merged = rst.merged;
	res->written = run->written;
	if (run->s3) {
		uint64_t recs;
		report_s3_counts(run->s3, &res->s3_files, &recs);
	}
	report_s3_free(run->s3);
	free(run);
	return rc;
}
