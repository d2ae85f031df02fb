/*
 * flowlog.c — the AWS VPC Flow Log field table, formats and line codec.
 *
 * AWS: "Flow log records"
 * (https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html).
 *
 *   record  = field *( SP field )          AWS writes single spaces
 *   field   = "-" / value                  "-": does not apply / unknown
 *   format  = "${" name "}" *( SP "${" name "}" )     (--log-format)
 *   header  = name *( SP name )            (first line of an S3 object)
 *
 * A record line is split into tokens with a cursor over the bytes (every step
 * checks what is left), the token count is checked against
 * the format, then every token is checked by its field's kind and stored in
 * a typed slot of report_fl_rec found through the table below.
 */
#include "flowlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

/* ---------------------------------------------------------------------
 * Field table
 */

enum fl_store {
	ST_U8 = 1, ST_U16, ST_U32, ST_U64, ST_ADDR, ST_STR, ST_ENUM,
};

struct fl_def {
	const char *name;
	uint8_t version;
	uint8_t kind;              /* enum report_fl_kind */
	uint8_t store;             /* enum fl_store */
	uint16_t off;              /* offset of the value in report_fl_rec */
	uint64_t max;              /* numbers: largest accepted value */
	const char *const *values; /* ST_ENUM: allowed texts, stored as index + 1 */
	bool dash_ok;              /* '-' accepted (absent) */
};

static const char *const v_action[] = { "ACCEPT", "REJECT", NULL };
static const char *const v_status[] = { "OK", "NODATA", "SKIPDATA", NULL };
static const char *const v_dir[] = { "ingress", "egress", NULL };
static const char *const v_type[] = { "IPv4", "IPv6", "EFA", NULL };

#define OFF(m) ((uint16_t)offsetof(report_fl_rec, m))
#define U32MAX 0xFFFFFFFFull
#define U64MAX 0xFFFFFFFFFFFFFFFFull

#define F_INT(n, v, st, m, mx) { n, v, REPORT_FL_KIND_INT, st, OFF(m), mx, NULL, true }
#define F_I64(n, v, m) { n, v, REPORT_FL_KIND_INT64, ST_U64, OFF(m), U64MAX, NULL, true }
#define F_ADR(n, v, m) { n, v, REPORT_FL_KIND_ADDR, ST_ADDR, OFF(m), 0, NULL, true }
#define F_STR(n, v, m) { n, v, REPORT_FL_KIND_STRING, ST_STR, OFF(m), 0, NULL, true }
#define F_ENM(n, v, m, vals, dash) { n, v, REPORT_FL_KIND_STRING, ST_ENUM, OFF(m), 0, vals, dash }

static const struct fl_def fl_defs[REPORT_FL_F__KNOWN] = {
	[REPORT_FL_F_VERSION] = F_INT("version", 2, ST_U32, version, U32MAX),
	[REPORT_FL_F_ACCOUNT_ID] = F_STR("account-id", 2, account_id),
	[REPORT_FL_F_INTERFACE_ID] = F_STR("interface-id", 2, interface_id),
	[REPORT_FL_F_SRCADDR] = F_ADR("srcaddr", 2, srcaddr),
	[REPORT_FL_F_DSTADDR] = F_ADR("dstaddr", 2, dstaddr),
	[REPORT_FL_F_SRCPORT] = F_INT("srcport", 2, ST_U16, srcport, 65535),
	[REPORT_FL_F_DSTPORT] = F_INT("dstport", 2, ST_U16, dstport, 65535),
	[REPORT_FL_F_PROTOCOL] = F_INT("protocol", 2, ST_U8, protocol, 255),
	[REPORT_FL_F_PACKETS] = F_I64("packets", 2, packets),
	[REPORT_FL_F_BYTES] = F_I64("bytes", 2, bytes),
	[REPORT_FL_F_START] = F_INT("start", 2, ST_U32, start, U32MAX),
	[REPORT_FL_F_END] = F_INT("end", 2, ST_U32, end, U32MAX),
	[REPORT_FL_F_ACTION] = F_ENM("action", 2, action, v_action, true),
	/* AWS documents log-status as never '-': a '-' there means the
	 * format does not match the file, so it is rejected. */
	[REPORT_FL_F_LOG_STATUS] = F_ENM("log-status", 2, log_status, v_status, false),
	[REPORT_FL_F_VPC_ID] = F_STR("vpc-id", 3, vpc_id),
	[REPORT_FL_F_SUBNET_ID] = F_STR("subnet-id", 3, subnet_id),
	[REPORT_FL_F_INSTANCE_ID] = F_STR("instance-id", 3, instance_id),
	[REPORT_FL_F_TCP_FLAGS] = F_INT("tcp-flags", 3, ST_U8, tcp_flags, 255),
	[REPORT_FL_F_TYPE] = F_ENM("type", 3, type, v_type, true),
	[REPORT_FL_F_PKT_SRCADDR] = F_ADR("pkt-srcaddr", 3, pkt_srcaddr),
	[REPORT_FL_F_PKT_DSTADDR] = F_ADR("pkt-dstaddr", 3, pkt_dstaddr),
	[REPORT_FL_F_REGION] = F_STR("region", 4, region),
	[REPORT_FL_F_AZ_ID] = F_STR("az-id", 4, az_id),
	[REPORT_FL_F_SUBLOCATION_TYPE] = F_STR("sublocation-type", 4, sublocation_type),
	[REPORT_FL_F_SUBLOCATION_ID] = F_STR("sublocation-id", 4, sublocation_id),
	[REPORT_FL_F_PKT_SRC_AWS_SERVICE] = F_STR("pkt-src-aws-service", 5, pkt_src_aws_service),
	[REPORT_FL_F_PKT_DST_AWS_SERVICE] = F_STR("pkt-dst-aws-service", 5, pkt_dst_aws_service),
	[REPORT_FL_F_FLOW_DIRECTION] = F_ENM("flow-direction", 5, flow_direction, v_dir, true),
	[REPORT_FL_F_TRAFFIC_PATH] = F_INT("traffic-path", 5, ST_U32, traffic_path, U32MAX),
	[REPORT_FL_F_ECS_CLUSTER_ARN] = F_STR("ecs-cluster-arn", 7, ecs_cluster_arn),
	[REPORT_FL_F_ECS_CLUSTER_NAME] = F_STR("ecs-cluster-name", 7, ecs_cluster_name),
	[REPORT_FL_F_ECS_CONTAINER_INSTANCE_ARN] =
		F_STR("ecs-container-instance-arn", 7, ecs_container_instance_arn),
	[REPORT_FL_F_ECS_CONTAINER_INSTANCE_ID] =
		F_STR("ecs-container-instance-id", 7, ecs_container_instance_id),
	[REPORT_FL_F_ECS_CONTAINER_ID] = F_STR("ecs-container-id", 7, ecs_container_id),
	[REPORT_FL_F_ECS_SECOND_CONTAINER_ID] =
		F_STR("ecs-second-container-id", 7, ecs_second_container_id),
	[REPORT_FL_F_ECS_SERVICE_NAME] = F_STR("ecs-service-name", 7, ecs_service_name),
	[REPORT_FL_F_ECS_TASK_DEFINITION_ARN] =
		F_STR("ecs-task-definition-arn", 7, ecs_task_definition_arn),
	[REPORT_FL_F_ECS_TASK_ARN] = F_STR("ecs-task-arn", 7, ecs_task_arn),
	[REPORT_FL_F_ECS_TASK_ID] = F_STR("ecs-task-id", 7, ecs_task_id),
	[REPORT_FL_F_REJECT_REASON] = F_STR("reject-reason", 8, reject_reason),
	[REPORT_FL_F_RESOURCE_ID] = F_STR("resource-id", REPORT_FL_VERSION_UNCONFIRMED, resource_id),
	[REPORT_FL_F_ENCRYPTION_STATUS] = F_INT("encryption-status", REPORT_FL_VERSION_UNCONFIRMED,
	                                        ST_U32, encryption_status, U32MAX),
};

_Static_assert(REPORT_FL_F__KNOWN <= 64, "present is a 64-bit mask");
_Static_assert(REPORT_FL_MAX_FIELDS <= 64, "other_present is a 64-bit mask");

const char *report_fl_field_name(int id)
{
	if (id < 0 || id >= REPORT_FL_F__KNOWN)
		return NULL;
	return fl_defs[id].name;
}

int report_fl_field_version(int id)
{
	if (id < 0 || id >= REPORT_FL_F__KNOWN)
		return 0;
	return fl_defs[id].version;
}

int report_fl_field_kind(int id)
{
	if (id < 0 || id >= REPORT_FL_F__KNOWN)
		return REPORT_FL_KIND_STRING;
	return fl_defs[id].kind;
}

static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int report_fl_field_find(const char *name, size_t len)
{
	int id;
	for (id = 0; id < REPORT_FL_F__KNOWN; id++) {
		const char *k = fl_defs[id].name;
		size_t i;
		if (strlen(k) != len)
			continue;
		for (i = 0; i < len; i++) {
			char c = name[i] == '_' ? '-' : ascii_lower(name[i]);
			if (c != k[i])
				break;
		}
		if (i == len)
			return id;
	}
	return -1;
}

static const char *const fl_reason_names[REPORT_FL_R__COUNT] = {
	[REPORT_FL_R_FIELD_COUNT] = "flowlog.rejected.field_count",
	[REPORT_FL_R_NUMBER] = "flowlog.rejected.bad_number",
	[REPORT_FL_R_RANGE] = "flowlog.rejected.out_of_range",
	[REPORT_FL_R_ADDR] = "flowlog.rejected.bad_address",
	[REPORT_FL_R_VALUE] = "flowlog.rejected.bad_value",
	[REPORT_FL_R_CHAR] = "flowlog.rejected.control_character",
	[REPORT_FL_R_HEADER] = "flowlog.rejected.bad_header",
	[REPORT_FL_R_JSON] = "flowlog.rejected.bad_json",
	[REPORT_FL_R_TOO_LONG] = "flowlog.rejected.line_too_long",
	[REPORT_FL_R_SYNTAX] = "flowlog.rejected.bad_format",
	[REPORT_FL_R_NOT_TEXT] = "flowlog.rejected.not_text",
	[REPORT_FL_R_IO] = "flowlog.rejected.read_error",
	[REPORT_FL_R_DUPLICATE] = "flowlog.rejected.duplicate",
	[REPORT_FL_R_LOOP] = "flowlog.rejected.symlink_loop",
	[REPORT_FL_R_TOO_LARGE] = "flowlog.rejected.too_large",
	[REPORT_FL_R_SUM_OVERFLOW] = "flowlog.rejected.sum_overflow",
};

const char *report_fl_reason_name(int reason)
{
	if (reason < 0 || reason >= REPORT_FL_R__COUNT)
		return NULL;
	return fl_reason_names[reason];
}

/* ---------------------------------------------------------------------
 * Errors
 */

/* Quotes at most 40 bytes of s, escaping what is not printable ASCII. */
static void quote(char *out, size_t cap, const char *s, size_t n)
{
	size_t o = 0, i;
	const size_t lim = 40;
	if (cap == 0)
		return;
	for (i = 0; i < n && i < lim; i++) {
		unsigned char c = (unsigned char)s[i];
		int w;
		if (c >= 0x20 && c < 0x7f)
			w = snprintf(out + o, cap - o, "%c", c);
		else
			w = snprintf(out + o, cap - o, "\\x%02x", c);
		if (w < 0 || (size_t)w >= cap - o) {
			out[o] = '\0';
			return;
		}
		o += (size_t)w;
	}
	if (i < n && cap - o > 3) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

__attribute__((format(printf, 5, 6)))
static int fail(report_fl_err *err, int reason, int field, size_t offset, const char *fmt, ...)
{
	va_list ap;
	if (err) {
		err->reason = reason;
		err->field = field;
		err->offset = offset;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
	}
	return TV_E_FORMAT;
}

/* ---------------------------------------------------------------------
 * Tokens
 */

static bool is_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Length without a trailing "\n", "\r\n" or "\r". */
static size_t chomp(const char *s, size_t len)
{
	if (len > 0 && s[len - 1] == '\n')
		len--;
	if (len > 0 && s[len - 1] == '\r')
		len--;
	return len;
}

struct tok {
	size_t off;
	size_t len;
};

/* Next blank-separated token from c; false at the end of the line. */
static bool next_tok(tv_cur *c, const uint8_t *base, struct tok *t)
{
	uint8_t b;
	while (c->left > 0 && is_blank(c->p[0]))
		tv_cur_skip(c, 1);
	if (c->left == 0)
		return false;
	t->off = (size_t)(c->p - base);
	t->len = 0;
	while (c->left > 0 && !is_blank(c->p[0])) {
		tv_cur_u8(c, &b);
		t->len++;
	}
	return true;
}

/* ---------------------------------------------------------------------
 * Formats
 */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* Adds one field name to fmt; tokno is 1-based, off its offset. */
static int format_add(report_fl_format *fmt, const char *name, size_t len, int tokno,
                      size_t off, int reason, report_fl_err *err)
{
	char q[200];
	size_t i;
	int id;
	uint32_t k;

	quote(q, sizeof q, name, len);
	if (len == 0)
		return fail(err, reason, tokno, off, "field %d: empty field name", tokno);
	for (i = 0; i < len; i++)
		if (!name_char(name[i]))
			return fail(err, reason, tokno, off,
			            "field %d: '%s' is not a field name (letters, digits, '-', '_', '.')",
			            tokno, q);
	if (fmt->n >= REPORT_FL_MAX_FIELDS)
		return fail(err, reason, tokno, off, "field %d: more than %d fields", tokno,
		            REPORT_FL_MAX_FIELDS);
	if (len >= REPORT_FL_NAME_MAX)
		return fail(err, reason, tokno, off, "field %d: name '%s' longer than %d bytes",
		            tokno, q, REPORT_FL_NAME_MAX - 1);
	id = report_fl_field_find(name, len);
	for (k = 0; k < fmt->n; k++) {
		bool dup;
		if (id >= 0) {
			dup = fmt->id[k] == id;
		} else {
			const char *o = fmt->other_name[k];
			dup = fmt->id[k] == REPORT_FL_F_OTHER && strlen(o) == len;
			for (i = 0; dup && i < len; i++)
				dup = o[i] == (name[i] == '_' ? '-' : name[i]);
		}
		if (dup)
			return fail(err, reason, tokno, off, "field %d: '%s' is listed twice", tokno, q);
	}
	k = fmt->n++;
	memset(fmt->other_name[k], 0, REPORT_FL_NAME_MAX);
	if (id >= 0) {
		fmt->id[k] = (uint8_t)id;
	} else {
		fmt->id[k] = REPORT_FL_F_OTHER;
		for (i = 0; i < len; i++)
			fmt->other_name[k][i] = name[i] == '_' ? '-' : name[i];
	}
	return 0;
}

static void format_clear(report_fl_format *fmt)
{
	fmt->n = 0;
}

int report_format_parse(const char *s, report_fl_format *fmt, report_fl_err *err)
{
	tv_cur c = tv_cur_make(s, strlen(s));
	struct tok t;
	int tokno = 0, rc;

	format_clear(fmt);
	while (next_tok(&c, (const uint8_t *)s, &t)) {
		const char *p = s + t.off;
		char q[200];
		tokno++;
		if (t.len < 3 || p[0] != '$' || p[1] != '{' || p[t.len - 1] != '}') {
			quote(q, sizeof q, p, t.len);
			rc = fail(err, REPORT_FL_R_SYNTAX, tokno, t.off,
			          "field %d at offset %zu: expected ${name}, found '%s'", tokno, t.off, q);
			goto fail;
		}
		rc = format_add(fmt, p + 2, t.len - 3, tokno, t.off, REPORT_FL_R_SYNTAX, err);
		if (rc != 0)
			goto fail;
	}
	if (fmt->n == 0) {
		rc = fail(err, REPORT_FL_R_SYNTAX, 0, 0, "format has no fields");
		goto fail;
	}
	return 0;
fail:
	format_clear(fmt);
	return TV_E_SYNTAX;
}

int report_format_from_header(const char *line, size_t len, report_fl_format *fmt,
                              report_fl_err *err)
{
	tv_cur c;
	struct tok t;
	int tokno = 0;

	len = chomp(line, len);
	c = tv_cur_make(line, len);
	format_clear(fmt);
	while (next_tok(&c, (const uint8_t *)line, &t)) {
		tokno++;
		if (format_add(fmt, line + t.off, t.len, tokno, t.off, REPORT_FL_R_HEADER, err) != 0) {
			format_clear(fmt);
			return TV_E_SYNTAX;
		}
	}
	if (fmt->n == 0) {
		fail(err, REPORT_FL_R_HEADER, 0, 0, "header line has no fields");
		return TV_E_SYNTAX;
	}
	return 0;
}

void report_format_default(report_fl_format *fmt)
{
	uint32_t i;
	memset(fmt, 0, sizeof *fmt);
	for (i = 0; i <= REPORT_FL_F_LOG_STATUS; i++)
		fmt->id[i] = (uint8_t)i;
	fmt->n = REPORT_FL_F_LOG_STATUS + 1;
}

int report_format_version(const report_fl_format *fmt)
{
	int v = 2;
	uint32_t i;
	for (i = 0; i < fmt->n && i < REPORT_FL_MAX_FIELDS; i++) {
		int fv = report_fl_field_version(fmt->id[i]);
		if (fv > v)
			v = fv;
	}
	return v;
}

int report_format_find(const report_fl_format *fmt, int id)
{
	uint32_t i;
	for (i = 0; i < fmt->n && i < REPORT_FL_MAX_FIELDS; i++)
		if (fmt->id[i] == id)
			return (int)i;
	return -1;
}

/* Appends n bytes to buf at *o, keeping room for the NUL. */
static bool put(char *buf, size_t cap, size_t *o, const char *s, size_t n)
{
	if (n >= cap - *o)
		return false;
	memcpy(buf + *o, s, n);
	*o += n;
	buf[*o] = '\0';
	return true;
}

static const char *col_name(const report_fl_format *fmt, uint32_t i)
{
	if (fmt->id[i] == REPORT_FL_F_OTHER)
		return fmt->other_name[i];
	return report_fl_field_name(fmt->id[i]);
}

int report_format_write(const report_fl_format *fmt, bool header, char *buf, size_t cap)
{
	size_t o = 0;
	uint32_t i;
	if (cap == 0)
		return TV_E_FULL;
	buf[0] = '\0';
	for (i = 0; i < fmt->n && i < REPORT_FL_MAX_FIELDS; i++) {
		const char *nm = col_name(fmt, i);
		bool ok = true;
		if (!nm)
			nm = "";
		if (i > 0)
			ok = put(buf, cap, &o, " ", 1);
		if (ok && !header)
			ok = put(buf, cap, &o, "${", 2);
		if (ok)
			ok = put(buf, cap, &o, nm, strlen(nm));
		if (ok && !header)
			ok = put(buf, cap, &o, "}", 1);
		if (!ok) {
			buf[0] = '\0';
			return TV_E_FULL;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * Record lines
 */

bool report_flowlog_is_header(const char *line, size_t len)
{
	tv_cur c = tv_cur_make(line, chomp(line, len));
	struct tok t;
	if (!next_tok(&c, (const uint8_t *)line, &t))
		return false;
	return report_fl_field_find(line + t.off, t.len) >= 0;
}

static void *slot(report_fl_rec *rec, const struct fl_def *d)
{
	return (char *)rec + d->off;
}

static const void *cslot(const report_fl_rec *rec, const struct fl_def *d)
{
	return (const char *)rec + d->off;
}

/* Parses one token of column col (0-based) into rec. */
static int parse_field(const report_fl_format *fmt, uint32_t col, const char *line,
                       const struct tok *t, report_fl_rec *rec, report_fl_err *err)
{
	const char *p = line + t->off;
	const int id = fmt->id[col];
	const int fno = (int)col + 1;
	const struct fl_def *d;
	const char *nm = col_name(fmt, col);
	char q[200];
	size_t i;

	quote(q, sizeof q, p, t->len);
	for (i = 0; i < t->len; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch < 0x20 || ch == 0x7f)
			return fail(err, REPORT_FL_R_CHAR, fno, t->off + i,
			            "field %d (%s): control character 0x%02x in '%s'", fno, nm, ch, q);
	}

	if (id == REPORT_FL_F_OTHER) {
		if (t->len == 1 && p[0] == '-')
			return 0;
		rec->other[col].p = p;
		rec->other[col].len = t->len;
		rec->other_present |= 1ull << col;
		return 0;
	}
	if (id >= REPORT_FL_F__KNOWN)
		return fail(err, REPORT_FL_R_VALUE, fno, t->off, "field %d: bad field id %d in format",
		            fno, id);
	d = &fl_defs[id];
	if (t->len == 1 && p[0] == '-' && d->dash_ok)
		return 0;

	switch (d->store) {
	case ST_U8:
	case ST_U16:
	case ST_U32:
	case ST_U64: {
		uint64_t v = 0;
		bool over = false;
		for (i = 0; i < t->len; i++) {
			unsigned dg;
			if (p[i] < '0' || p[i] > '9')
				return fail(err, REPORT_FL_R_NUMBER, fno, t->off,
				            "field %d (%s): expected a number, found '%s'", fno, nm, q);
			dg = (unsigned)(p[i] - '0');
			if (v > (U64MAX - dg) / 10)
				over = true;
			else
				v = v * 10 + dg;
		}
		if (over || v > d->max)
			return fail(err, REPORT_FL_R_RANGE, fno, t->off,
			            "field %d (%s): number '%s' is out of range (max %llu)", fno, nm, q,
			            (unsigned long long)d->max);
		if (d->store == ST_U8)
			*(uint8_t *)slot(rec, d) = (uint8_t)v;
		else if (d->store == ST_U16)
			*(uint16_t *)slot(rec, d) = (uint16_t)v;
		else if (d->store == ST_U32)
			*(uint32_t *)slot(rec, d) = (uint32_t)v;
		else
			*(uint64_t *)slot(rec, d) = v;
		break;
	}
	case ST_ADDR: {
		char a[TV_ADDR_STRLEN];
		if (t->len >= sizeof a)
			return fail(err, REPORT_FL_R_ADDR, fno, t->off,
			            "field %d (%s): expected an IPv4 or IPv6 address, found '%s'", fno,
			            nm, q);
		memcpy(a, p, t->len);
		a[t->len] = '\0';
		if (tv_addr_parse(a, (tv_addr *)slot(rec, d)) != 0)
			return fail(err, REPORT_FL_R_ADDR, fno, t->off,
			            "field %d (%s): expected an IPv4 or IPv6 address, found '%s'", fno,
			            nm, q);
		break;
	}
	case ST_STR: {
		report_fl_str *s = slot(rec, d);
		s->p = p;
		s->len = t->len;
		break;
	}
	case ST_ENUM: {
		char want[96];
		size_t o = 0;
		int k;
		for (k = 0; d->values[k]; k++) {
			if (strlen(d->values[k]) == t->len && memcmp(d->values[k], p, t->len) == 0) {
				*(uint8_t *)slot(rec, d) = (uint8_t)(k + 1);
				break;
			}
		}
		if (d->values[k])
			break;
		want[0] = '\0';
		for (k = 0; d->values[k]; k++) {
			const char *sep = "";
			if (k > 0)
				sep = (d->values[k + 1] || d->dash_ok) ? ", " : " or ";
			o += (size_t)snprintf(want + o, sizeof want - o, "%s%s", sep, d->values[k]);
		}
		if (d->dash_ok)
			snprintf(want + o, sizeof want - o, " or -");
		return fail(err, REPORT_FL_R_VALUE, fno, t->off, "field %d (%s): expected %s, found '%s'",
		            fno, nm, want, q);
	}
	default:
		return fail(err, REPORT_FL_R_VALUE, fno, t->off, "field %d (%s): internal table error",
		            fno, nm);
	}
	rec->present |= 1ull << id;
	return 0;
}

int report_flowlog_parse_line(const report_fl_format *fmt, const char *line, size_t len,
                              report_fl_rec *rec, report_fl_err *err)
{
	struct tok toks[REPORT_FL_MAX_FIELDS];
	struct tok t;
	tv_cur c;
	uint32_t n = 0, i;
	size_t extra_off = 0;
	int rc;

	if (fmt->n == 0 || fmt->n > REPORT_FL_MAX_FIELDS)
		return fail(err, REPORT_FL_R_FIELD_COUNT, 0, 0, "format has %u fields (1 to %d)",
		            fmt->n, REPORT_FL_MAX_FIELDS);
	len = chomp(line, len);
	c = tv_cur_make(line, len);
	while (next_tok(&c, (const uint8_t *)line, &t)) {
		if (n == 0 && report_fl_field_find(line + t.off, t.len) >= 0)
			return REPORT_FL_LINE_HEADER;
		if (n < fmt->n && n < REPORT_FL_MAX_FIELDS)
			toks[n] = t;
		else if (n == fmt->n)
			extra_off = t.off;
		n++;
	}
	if (n == 0)
		return REPORT_FL_LINE_BLANK;
	if (n != fmt->n) {
		if (n > fmt->n)
			return fail(err, REPORT_FL_R_FIELD_COUNT, (int)fmt->n + 1, extra_off,
			            "expected %u fields, found %u", fmt->n, n);
		return fail(err, REPORT_FL_R_FIELD_COUNT, 0, len, "expected %u fields, found %u",
		            fmt->n, n);
	}

	memset(rec, 0, sizeof *rec);
	for (i = 0; i < n; i++) {
		rc = parse_field(fmt, i, line, &toks[i], rec, err);
		if (rc != 0) {
			memset(rec, 0, sizeof *rec);
			return rc;
		}
	}
	return REPORT_FL_LINE_RECORD;
}

int report_flowlog_parse_cwl(const report_fl_format *fmt, const char *line, size_t len,
                             char *msgbuf, size_t msgcap, report_fl_rec *rec,
                             report_fl_err *err)
{
	json_error_t jerr;
	json_t *root, *msg;
	size_t n;
	int rc;

	len = chomp(line, len);
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return fail(err, REPORT_FL_R_JSON, 0, jerr.position > 0 ? (size_t)jerr.position : 0,
		            "not a JSON line: %s", jerr.text);
	msg = json_is_object(root) ? json_object_get(root, "message") : NULL;
	if (!msg || !json_is_string(msg)) {
		json_decref(root);
		return fail(err, REPORT_FL_R_JSON, 0, 0, "JSON line has no \"message\" string");
	}
	n = json_string_length(msg);
	if (n >= msgcap) {
		json_decref(root);
		return fail(err, REPORT_FL_R_TOO_LONG, 0, 0,
		            "JSON \"message\" of %zu bytes is longer than %zu", n,
		            msgcap > 0 ? msgcap - 1 : 0);
	}
	memcpy(msgbuf, json_string_value(msg), n);
	msgbuf[n] = '\0';
	json_decref(root);
	rc = report_flowlog_parse_line(fmt, msgbuf, n, rec, err);
	return rc;
}

/* A string that parses back as itself: non-empty, no blanks or controls. */
static bool str_ok(const report_fl_str *s)
{
	size_t i;
	if (!s->p || s->len == 0)
		return false;
	for (i = 0; i < s->len; i++) {
		unsigned char ch = (unsigned char)s->p[i];
		if (ch <= 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

int report_flowlog_format_line(const report_fl_format *fmt, const report_fl_rec *rec,
                               char *buf, size_t cap, size_t *len)
{
	size_t o = 0;
	uint32_t i;
	int rc = 0;

	if (cap == 0)
		return TV_E_FULL;
	buf[0] = '\0';
	for (i = 0; i < fmt->n && i < REPORT_FL_MAX_FIELDS; i++) {
		const int id = fmt->id[i];
		char num[TV_ADDR_STRLEN];
		const char *s = "-";
		size_t n = 1;

		if (i > 0 && !put(buf, cap, &o, " ", 1))
			goto full;
		if (id == REPORT_FL_F_OTHER) {
			if ((rec->other_present >> i) & 1u) {
				if (!str_ok(&rec->other[i]))
					goto bad;
				s = rec->other[i].p;
				n = rec->other[i].len;
			}
		} else if (id < REPORT_FL_F__KNOWN && report_fl_has(rec, id)) {
			const struct fl_def *d = &fl_defs[id];
			const void *v = cslot(rec, d);
			unsigned long long u = 0;
			switch (d->store) {
			case ST_U8: u = *(const uint8_t *)v; break;
			case ST_U16: u = *(const uint16_t *)v; break;
			case ST_U32: u = *(const uint32_t *)v; break;
			case ST_U64: u = *(const uint64_t *)v; break;
			default: break;
			}
			switch (d->store) {
			case ST_U8:
			case ST_U16:
			case ST_U32:
			case ST_U64:
				if (u > d->max)
					goto bad;
				n = (size_t)snprintf(num, sizeof num, "%llu", u);
				s = num;
				break;
			case ST_ADDR:
				tv_addr_format(v, num, sizeof num);
				s = num;
				n = strlen(num);
				if (n == 0)
					goto bad;
				break;
			case ST_STR:
				if (!str_ok(v))
					goto bad;
				s = ((const report_fl_str *)v)->p;
				n = ((const report_fl_str *)v)->len;
				break;
			case ST_ENUM: {
				uint8_t e = *(const uint8_t *)v;
				int k;
				for (k = 0; d->values[k] && k + 1 != e; k++)
					;
				if (e == 0 || !d->values[k])
					goto bad;
				s = d->values[k];
				n = strlen(s);
				break;
			}
			default:
				goto bad;
			}
		} else if (id < REPORT_FL_F__KNOWN && !fl_defs[id].dash_ok) {
			goto bad;
		}
		if (!put(buf, cap, &o, s, n))
			goto full;
	}
	if (len)
		*len = o;
	return 0;
full:
	rc = TV_E_FULL;
	goto fail;
bad:
	rc = TV_E_FORMAT;
fail:
	buf[0] = '\0';
	if (len)
		*len = 0;
	return rc;
}
