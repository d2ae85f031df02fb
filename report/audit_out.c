/*
 * audit_out.c — the audit's reports: one self-contained HTML page (inline
 * CSS, inline SVG charts drawn here, no script, no external font or file),
 * Markdown for terminals, JSON (fields as the README's `tapvault audit` section lists them) and
 * CSV.
 *
 * Credentials are redacted unless cfg->show_secrets.  Every flow row carries
 * a ready `tapvault query` command that pulls the flow's packets.
 */
#include "audit.h"
#include "../index/idx.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int report_audit_fmt_from_name(const char *path)
{
	const char *dot = path ? strrchr(path, '.') : NULL;
	if (!dot)
		return 0;
	if (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm"))
		return REPORT_AF_HTML;
	if (!strcasecmp(dot, ".md"))
		return REPORT_AF_MD;
	if (!strcasecmp(dot, ".json"))
		return REPORT_AF_JSON;
	if (!strcasecmp(dot, ".csv"))
		return REPORT_AF_CSV;
	return 0;
}

/* ------------------------------------------------------------ helpers */

typedef struct out {
	FILE *f;
	const report_audit *a;
	const report_audit_out_cfg *cfg;
	const report_audit_summary *s;
	uint32_t *order; /* flows sorted by class, then discrepancy */
	size_t n;
} out;

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void html_str(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* Markdown table cell: '|' escaped, no newlines. */
static void md_str(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', f);
		else
			fputc(*s, f);
	}
}

static void csv_str(FILE *f, const char *s)
{
	bool q = strpbrk(s, ",\"\n\r") != NULL;
	if (!q) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void fmt_time(uint32_t t, char *buf, size_t cap)
{
	char *p;
	if (!t) {
		snprintf(buf, cap, "-");
		return;
	}
	tv_time_format((uint64_t)t * 1000000000ull, buf, cap);
	p = strchr(buf, '.');
	if (p) {
		p[0] = 'Z';
		p[1] = '\0';
	}
}

static void fmt_bytes(uint64_t n, char *buf, size_t cap)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, cap, "%" PRIu64 " B", n);
	else
		snprintf(buf, cap, "%.1f %s", v, u[i]);
}

static const char *proto_name(uint8_t p, char *buf, size_t cap)
{
	switch (p) {
	case 6: return "tcp";
	case 17: return "udp";
	case 1: return "icmp";
	case 58: return "icmp6";
	default: snprintf(buf, cap, "%u", p); return buf;
	}
}

static const char *dir_name(int d)
{
	return d == REPORT_MIRROR_EGRESS ? "egress" : d == REPORT_MIRROR_INGRESS ? "ingress" : "-";
}

static const char *cred_name(int c)
{
	switch (c) {
	case REPORT_CRED_HTTP_BASIC: return "http_basic";
	case REPORT_CRED_FTP_USER: return "user_command";
	case REPORT_CRED_FTP_PASS: return "user_pass";
	case REPORT_CRED_IMAP_LOGIN: return "imap_login";
	case REPORT_CRED_TELNET: return "telnet_login";
	default: return "";
	}
}

static const char *iface_name(const report_audit *a, const report_audit_flow *fl, char *buf, size_t cap)
{
	const report_audit_iface *i = report_audit_iface_get(a, fl->iface);
	if (i && i->eni[0])
		return i->eni;
	if (fl->vni != TV_VNI_NONE)
		snprintf(buf, cap, "vni-%u", fl->vni);
	else
		snprintf(buf, cap, "-");
	return buf;
}

static uint64_t diff_bytes(const report_audit_flow *f)
{
	return f->fl_bytes > f->m_bytes ? f->fl_bytes - f->m_bytes : f->m_bytes - f->fl_bytes;
}

static const report_audit *g_sort_a;
static int cmp_order(const void *x, const void *y)
{
	const report_audit_flow *p = report_audit_flow_get(g_sort_a, *(const uint32_t *)x);
	const report_audit_flow *q = report_audit_flow_get(g_sort_a, *(const uint32_t *)y);
	uint64_t dp, dq;
	if (p->cls != q->cls)
		return p->cls < q->cls ? -1 : 1;
	dp = diff_bytes(p) + (p->cls == REPORT_AC_MATCHED ? p->m_bytes : 0);
	dq = diff_bytes(q) + (q->cls == REPORT_AC_MATCHED ? q->m_bytes : 0);
	if (dp != dq)
		return dp > dq ? -1 : 1;
	return *(const uint32_t *)x < *(const uint32_t *)y ? -1 : 1;
}

static void query_cmd(const out *o, const report_audit_flow *fl, char *buf, size_t cap)
{
	char expr[512];
	report_audit_flow_expr(o->a, fl, expr, sizeof expr);
	snprintf(buf, cap, "tapvault query -s %s '%s' -w flow.pcap", o->cfg->store ? o->cfg->store : "STORE",
	         expr);
}

static void secret_text(const out *o, const char *s, char *buf, size_t cap)
{
	if (o->cfg->show_secrets)
		snprintf(buf, cap, "%s", s);
	else
		report_redact(s, buf, cap);
}

/* ---------------------------------------------------------------- JSON */

static void json_flow_common(const out *o, const report_audit_flow *fl)
{
	char s[TV_ADDR_STRLEN], d[TV_ADDR_STRLEN], nb[32], pb[8];
	FILE *f = o->f;
	tv_addr_format(&fl->key.src, s, sizeof s);
	tv_addr_format(&fl->key.dst, d, sizeof d);
	fputs("\"interface\":", f);
	json_str(f, iface_name(o->a, fl, nb, sizeof nb));
	if (fl->vni != TV_VNI_NONE)
		fprintf(f, ",\"vni\":%u", fl->vni);
	else
		fputs(",\"vni\":null", f);
	fprintf(f, ",\"direction\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\",\"sport\":%u,\"dport\":%u,\"proto\":\"%s\"",
	        dir_name(fl->direction), s, d, fl->key.sport, fl->key.dport, proto_name(fl->key.proto, pb, sizeof pb));
}

static void json_finding(const out *o, const report_audit_finding *g)
{
	FILE *f = o->f;
	char buf[128];
	fprintf(f, "{\"app\":\"%s\",\"port_app\":\"%s\",\"protocol_mismatch\":%s", report_app_name(g->app),
	        report_app_name(g->port_app), g->mismatch ? "true" : "false");
	if (g->sni[0]) { fputs(",\"tls_sni\":", f); json_str(f, g->sni); }
	if (g->method[0]) {
		fputs(",\"http_method\":", f); json_str(f, g->method);
		fputs(",\"http_path\":", f); json_str(f, g->path);
	}
	if (g->host[0]) { fputs(",\"http_host\":", f); json_str(f, g->host); }
	if (g->dns_names[0]) {
		char tmp[256], *tok, *save = NULL;
		bool first = true;
		snprintf(tmp, sizeof tmp, "%s", g->dns_names);
		fputs(",\"dns_names\":[", f);
		for (tok = strtok_r(tmp, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			if (!first)
				fputc(',', f);
			json_str(f, tok);
			first = false;
		}
		fputc(']', f);
	}
	if (g->banner[0]) { fputs(",\"banner\":", f); json_str(f, g->banner); }
	if (g->cred) {
		fprintf(f, ",\"credential\":{\"kind\":\"%s\",\"user\":", cred_name(g->cred));
		json_str(f, g->user);
		secret_text(o, g->secret, buf, sizeof buf);
		fputs(",\"secret\":", f);
		json_str(f, buf);
		fprintf(f, ",\"redacted\":%s}", o->cfg->show_secrets ? "false" : "true");
	}
	fprintf(f, ",\"packets_looked\":%u}", g->packets_looked);
}

static void write_json(const out *o)
{
	FILE *f = o->f;
	const report_audit_summary *s = o->s;
	char ta[48], tb[48], cmdq[1024];
	size_t i;
	int c, r;
	bool first;

	fmt_time(s->from, ta, sizeof ta);
	fmt_time(s->to, tb, sizeof tb);
	fprintf(f, "{\"tapvault_audit\":1,\"version\":\"%s\",", TV_VERSION);
	fputs("\"command\":", f);
	json_str(f, o->cfg->command ? o->cfg->command : "");
	fputs(",\"store\":", f);
	json_str(f, o->cfg->store ? o->cfg->store : "");
	fprintf(f, ",\"period\":{\"from\":\"%s\",\"to\":\"%s\",\"from_unix\":%u,\"to_unix\":%u}", ta, tb, s->from, s->to);
	if (s->have_vpc) {
		char vb[TV_ADDR_STRLEN];
		tv_addr_format(&s->vpc_base, vb, sizeof vb);
		fprintf(f, ",\"vpc_cidr\":\"%s/%u\"", vb, tv_addr_is_v4(&s->vpc_base) ? s->vpc_prefix - 96 : s->vpc_prefix);
	} else {
		fputs(",\"vpc_cidr\":null", f);
	}
	fprintf(f, ",\"totals\":{\"flows\":%" PRIu64 ",\"flows_not_audited\":%" PRIu64
	           ",\"flowlog_packets\":%" PRIu64 ",\"flowlog_bytes\":%" PRIu64 ",\"mirror_packets\":%" PRIu64
	           ",\"mirror_bytes\":%" PRIu64 ",\"mirror_records\":%" PRIu64 ",\"flowlog_records_used\":%" PRIu64
	           ",\"flowlog_records_outside_period\":%" PRIu64 ",\"classes\":{",
	        s->flows, s->flows_dropped_cap, s->fl_packets, s->fl_bytes, s->m_packets, s->m_bytes,
	        s->mirror_records, s->flowlog_records_used, s->flowlog_records_outside_period);
	for (c = 0; c < REPORT_AC__COUNT; c++)
		fprintf(f, "%s\"%s\":%" PRIu64, c ? "," : "", report_audit_class_name(c), s->by_class[c]);
	fputs("},\"reasons\":{", f);
	for (c = 0; c < REPORT_AC__COUNT; c++) {
		fprintf(f, "%s\"%s\":{", c ? "," : "", report_audit_class_name(c));
		first = true;
		for (r = 0; r < REPORT_AR__COUNT; r++) {
			if (!s->by_reason[c][r])
				continue;
			fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", r ? report_audit_reason_name(r) : "none",
			        s->by_reason[c][r]);
			first = false;
		}
		fputc('}', f);
	}
	fprintf(f, "},\"payload\":{\"packets_scanned\":%" PRIu64 ",\"findings\":%" PRIu64
	           ",\"findings_not_kept\":%" PRIu64 ",\"credentials\":%" PRIu64 ",\"protocol_mismatches\":%" PRIu64 "}}",
	        s->payload_packets_scanned, s->findings, s->findings_dropped, s->credentials, s->mismatches);

	fprintf(f, ",\"flowlog_reader\":{\"files\":%" PRIu64 ",\"files_failed\":%" PRIu64 ",\"lines\":%" PRIu64
	           ",\"records\":%" PRIu64 ",\"headers\":%" PRIu64 ",\"blank\":%" PRIu64 ",\"json\":%" PRIu64
	           ",\"nodata\":%" PRIu64 ",\"skipdata\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"rejected_by_reason\":{",
	        s->reader.files, s->reader.files_failed, s->reader.lines, s->reader.records, s->reader.headers,
	        s->reader.blank, s->reader.json, s->reader.nodata, s->reader.skipdata, s->reader.rejected);
	first = true;
	for (r = 0; r < REPORT_FL_R__COUNT; r++) {
		if (!s->reader.by_reason[r])
			continue;
		fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", report_fl_reason_name(r), s->reader.by_reason[r]);
		first = false;
	}
	fputs("}},\"flowlog_rejects\":[", f);
	for (i = 0; i < report_audit_nrejects(o->a); i++) {
		const report_audit_reject *rj = report_audit_reject_get(o->a, i);
		fputs(i ? ",{\"file\":" : "{\"file\":", f);
		json_str(f, rj->file);
		fprintf(f, ",\"line\":%" PRIu64 ",\"reason\":\"%s\",\"message\":", rj->line, report_fl_reason_name(rj->reason));
		json_str(f, rj->msg);
		fputc('}', f);
	}
	fputs("],\"ingest_loss\":", f);
	json_str(f, s->ingest_loss);
	fputs(",\"ingest_counters\":{", f);
	first = true;
	for (c = 0; c < TV_CTR__COUNT; c++) {
		if (!s->ingest.v[c])
			continue;
		fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", tv_counter_name(c), s->ingest.v[c]);
		first = false;
	}
	fputs("},\"interfaces\":[", f);
	first = true;
	for (i = 0; i < report_audit_nifaces(o->a); i++) {
		const report_audit_iface *ifc = report_audit_iface_get(o->a, i);
		char a1[48], a2[48], b1[48], b2[48];
		if (!ifc->flows && !ifc->in_flowlog && !ifc->in_mirror && !ifc->eni[0])
			continue; /* an interface-id merged into its VNI's interface */
		fmt_time(ifc->fl_first, a1, sizeof a1);
		fmt_time(ifc->fl_last, a2, sizeof a2);
		fmt_time(ifc->m_first, b1, sizeof b1);
		fmt_time(ifc->m_last, b2, sizeof b2);
		fputs(first ? "{\"interface\":" : ",{\"interface\":", f);
		first = false;
		json_str(f, ifc->eni[0] ? ifc->eni : "-");
		if (ifc->vni != TV_VNI_NONE)
			fprintf(f, ",\"vni\":%u", ifc->vni);
		else
			fputs(",\"vni\":null", f);
		fprintf(f, ",\"binding\":\"%s\",\"flowlog\":{\"first\":\"%s\",\"last\":\"%s\",\"bytes\":%" PRIu64
		           ",\"skipdata_windows\":%u,\"nodata_windows\":%u},\"mirror\":{\"first\":\"%s\",\"last\":\"%s\",\"bytes\":%" PRIu64
		           "},\"flows\":%" PRIu64 "}",
		        ifc->vni == TV_VNI_NONE ? "none" : ifc->learned ? "learned" : "map",
		        a1, a2, ifc->fl_bytes, ifc->skip_windows, ifc->nodata_windows, b1, b2, ifc->m_bytes, ifc->flows);
	}
	fputs("],\"flows\":[", f);
	for (i = 0; i < o->n; i++) {
		const report_audit_flow *fl = report_audit_flow_get(o->a, o->order[i]);
		char a1[48], a2[48], b1[48], b2[48];
		fmt_time(fl->fl_first, a1, sizeof a1);
		fmt_time(fl->fl_last, a2, sizeof a2);
		fmt_time(fl->m_first, b1, sizeof b1);
		fmt_time(fl->m_last, b2, sizeof b2);
		fprintf(f, "%s{\"class\":\"%s\",\"reason\":\"%s\",", i ? "," : "", report_audit_class_name(fl->cls),
		        fl->reason ? report_audit_reason_name(fl->reason) : "none");
		json_flow_common(o, fl);
		fprintf(f, ",\"flowlog\":{\"records\":%u,\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		           ",\"reject_records\":%u,\"reject_packets\":%" PRIu64 ",\"reject_bytes\":%" PRIu64
		           ",\"first\":\"%s\",\"last\":\"%s\",\"tcp_flags\":%u,\"outside_archive_packets\":%" PRIu64 "}",
		        fl->fl_records, fl->fl_packets, fl->fl_bytes, fl->fl_reject_records, fl->fl_reject_packets,
		        fl->fl_reject_bytes, a1, a2, fl->fl_flags, fl->fl_outside_packets);
		fprintf(f, ",\"mirror\":{\"records\":%u,\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		           ",\"first\":\"%s\",\"last\":\"%s\",\"tcp_flags\":%u,\"skipdata_packets\":%" PRIu64
		           ",\"nodata_packets\":%" PRIu64 ",\"outside_coverage_packets\":%" PRIu64 "}",
		        fl->m_records, fl->m_packets, fl->m_bytes, b1, b2, fl->m_flags, fl->m_skip_packets,
		        fl->m_nodata_packets, fl->m_outside_packets);
		fprintf(f, ",\"filter\":{\"verdict\":\"%s\",\"rule\":%u}", report_mirror_verdict_name(fl->verdict),
		        fl->rule_number);
		query_cmd(o, fl, cmdq, sizeof cmdq);
		fputs(",\"query\":", f);
		json_str(f, cmdq);
		fputs(",\"payload\":", f);
		if (fl->finding >= 0)
			json_finding(o, report_audit_finding_get(o->a, (size_t)fl->finding));
		else
			fputs("null", f);
		fputc('}', f);
	}
	fprintf(f, "],\"series\":{\"step_s\":%u,\"points\":[", s->series_step);
	for (i = 0; i < s->series_n; i++) {
		uint32_t t;
		uint64_t a1, b1;
		report_audit_series_get(o->a, i, &t, &a1, &b1);
		fprintf(f, "%s[%u,%" PRIu64 ",%" PRIu64 "]", i ? "," : "", t, a1, b1);
	}
	fputs("]}}\n", f);
}

/* ----------------------------------------------------------------- CSV */

static void write_csv(const out *o)
{
	FILE *f = o->f;
	size_t i;
	fputs("class,reason,interface,vni,direction,src,dst,sport,dport,proto,flowlog_records,flowlog_packets,"
	      "flowlog_bytes,flowlog_reject_packets,mirror_records,mirror_packets,mirror_bytes,flowlog_first,"
	      "flowlog_last,mirror_first,mirror_last,filter_verdict,filter_rule,app,port_app,protocol_mismatch,"
	      "tls_sni,http_host,dns_names,credential,query\n", f);
	for (i = 0; i < o->n; i++) {
		const report_audit_flow *fl = report_audit_flow_get(o->a, o->order[i]);
		const report_audit_finding *g = fl->finding >= 0 ? report_audit_finding_get(o->a, (size_t)fl->finding) : NULL;
		char s[TV_ADDR_STRLEN], d[TV_ADDR_STRLEN], nb[32], pb[8], q[1024];
		char a1[48], a2[48], b1[48], b2[48];
		tv_addr_format(&fl->key.src, s, sizeof s);
		tv_addr_format(&fl->key.dst, d, sizeof d);
		fmt_time(fl->fl_first, a1, sizeof a1);
		fmt_time(fl->fl_last, a2, sizeof a2);
		fmt_time(fl->m_first, b1, sizeof b1);
		fmt_time(fl->m_last, b2, sizeof b2);
		fprintf(f, "%s,%s,", report_audit_class_name(fl->cls), fl->reason ? report_audit_reason_name(fl->reason) : "none");
		csv_str(f, iface_name(o->a, fl, nb, sizeof nb));
		if (fl->vni != TV_VNI_NONE)
			fprintf(f, ",%u", fl->vni);
		else
			fputs(",", f);
		fprintf(f, ",%s,%s,%s,%u,%u,%s,%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%u,%" PRIu64 ",%" PRIu64
		           ",%s,%s,%s,%s,%s,%u,",
		        dir_name(fl->direction), s, d, fl->key.sport, fl->key.dport, proto_name(fl->key.proto, pb, sizeof pb),
		        fl->fl_records, fl->fl_packets, fl->fl_bytes, fl->fl_reject_packets, fl->m_records, fl->m_packets,
		        fl->m_bytes, a1, a2, b1, b2, report_mirror_verdict_name(fl->verdict), fl->rule_number);
		if (g) {
			char sec[80], cred[200];
			fprintf(f, "%s,%s,%s,", report_app_name(g->app), report_app_name(g->port_app), g->mismatch ? "yes" : "no");
			csv_str(f, g->sni);
			fputc(',', f);
			csv_str(f, g->host);
			fputc(',', f);
			csv_str(f, g->dns_names);
			fputc(',', f);
			secret_text(o, g->secret, sec, sizeof sec);
			if (g->cred)
				snprintf(cred, sizeof cred, "%s %s:%s", cred_name(g->cred), g->user, sec);
			else
				cred[0] = '\0';
			csv_str(f, cred);
			fputc(',', f);
		} else {
			fputs(",,,,,,,", f);
		}
		query_cmd(o, fl, q, sizeof q);
		csv_str(f, q);
		fputc('\n', f);
	}
}

/* ------------------------------------------------------------ Markdown */

static void write_md(const out *o)
{
	FILE *f = o->f;
	const report_audit_summary *s = o->s;
	char ta[48], tb[48], x[32], y[32];
	size_t i, start;
	int c, r;

	fmt_time(s->from, ta, sizeof ta);
	fmt_time(s->to, tb, sizeof tb);
	fprintf(f, "# tapvault audit\n\nPeriod %s to %s. Store `%s`.\n\n", ta, tb, o->cfg->store ? o->cfg->store : "");
	if (o->cfg->command)
		fprintf(f, "Command: `%s`\n\n", o->cfg->command);
	fmt_bytes(s->fl_bytes, x, sizeof x);
	fmt_bytes(s->m_bytes, y, sizeof y);
	fprintf(f, "| | flow logs | mirror |\n|---|---:|---:|\n| packets | %" PRIu64 " | %" PRIu64 " |\n| bytes | %s | %s |\n\n",
	        s->fl_packets, s->m_packets, x, y);
	fprintf(f, "## Classes (%" PRIu64 " flows)\n\n| class | reason | flows |\n|---|---|---:|\n", s->flows);
	for (c = 0; c < REPORT_AC__COUNT; c++)
		for (r = 0; r < REPORT_AR__COUNT; r++)
			if (s->by_reason[c][r])
				fprintf(f, "| %s | %s | %" PRIu64 " |\n", report_audit_class_name(c),
				        r ? report_audit_reason_name(r) : "-", s->by_reason[c][r]);
	if (s->flows_dropped_cap)
		fprintf(f, "\n%" PRIu64 " flows were not audited: the flow table's cap was reached (--max-flows).\n",
		        s->flows_dropped_cap);
	if (s->ingest_loss[0])
		fprintf(f, "\nIngest counted packets it did not store (%s): mirror_fewer is put down to "
		        "ingest_loss.\n", s->ingest_loss);
	fputs("\n## Ingest counters (they explain differences)\n\n| counter | value |\n|---|---:|\n", f);
	for (c = 0; c < TV_CTR__COUNT; c++)
		if (s->ingest.v[c])
			fprintf(f, "| %s | %" PRIu64 " |\n", tv_counter_name(c), s->ingest.v[c]);
	fprintf(f, "\n## Flow-log input\n\n%" PRIu64 " files, %" PRIu64 " lines, %" PRIu64 " records, %" PRIu64
	           " headers, %" PRIu64 " NODATA, %" PRIu64 " SKIPDATA, %" PRIu64 " rejected.\n\n",
	        s->reader.files, s->reader.lines, s->reader.records, s->reader.headers, s->reader.nodata,
	        s->reader.skipdata, s->reader.rejected);
	for (i = 0; i < report_audit_nrejects(o->a); i++) {
		const report_audit_reject *rj = report_audit_reject_get(o->a, i);
		fprintf(f, "- `%s:%" PRIu64 "` %s: ", rj->file, rj->line, report_fl_reason_name(rj->reason));
		md_str(f, rj->msg);
		fputc('\n', f);
	}
	start = 0;
	for (c = 0; c < REPORT_AC__COUNT; c++) {
		size_t shown = 0, j;
		if (!s->by_class[c])
			continue;
		fprintf(f, "\n## %s (%" PRIu64 ")\n\n| interface | dir | flow | reason | flow log pkts/bytes | mirror pkts/bytes | query |\n|---|---|---|---|---:|---:|---|\n",
		        report_audit_class_name(c), s->by_class[c]);
		for (j = start; j < o->n; j++) {
			const report_audit_flow *fl = report_audit_flow_get(o->a, o->order[j]);
			char sa[TV_ADDR_STRLEN], da[TV_ADDR_STRLEN], nb[32], pb[8], q[1024], expr[512];
			if (fl->cls != c)
				break;
			if (shown++ >= (o->cfg->max_rows ? o->cfg->max_rows : 200))
				continue;
			tv_addr_format(&fl->key.src, sa, sizeof sa);
			tv_addr_format(&fl->key.dst, da, sizeof da);
			report_audit_flow_expr(o->a, fl, expr, sizeof expr);
			(void)q;
			fprintf(f, "| %s | %s | %s %s:%u → %s:%u | %s | %" PRIu64 " / %" PRIu64 " | %" PRIu64 " / %" PRIu64 " | `",
			        iface_name(o->a, fl, nb, sizeof nb), dir_name(fl->direction), proto_name(fl->key.proto, pb, sizeof pb),
			        sa, fl->key.sport, da, fl->key.dport, fl->reason ? report_audit_reason_name(fl->reason) : "-",
			        fl->fl_packets + fl->fl_reject_packets, fl->fl_bytes + fl->fl_reject_bytes, fl->m_packets, fl->m_bytes);
			md_str(f, expr);
			fputs("` |\n", f);
		}
		if (shown > (o->cfg->max_rows ? o->cfg->max_rows : 200))
			fprintf(f, "\n(%zu more rows in the JSON or CSV report)\n", shown - (o->cfg->max_rows ? o->cfg->max_rows : 200));
		start = j;
	}
	fprintf(f, "\n## Payload findings (%" PRIu64 ")\n\n| interface | flow | app | port says | details |\n|---|---|---|---|---|\n",
	        s->findings);
	for (i = 0; i < report_audit_nfindings(o->a) && i < 1000; i++) {
		const report_audit_finding *g = report_audit_finding_get(o->a, i);
		const report_audit_flow *fl = report_audit_flow_get(o->a, g->flow);
		char sa[TV_ADDR_STRLEN], da[TV_ADDR_STRLEN], nb[32], sec[80];
		tv_addr_format(&fl->key.src, sa, sizeof sa);
		tv_addr_format(&fl->key.dst, da, sizeof da);
		fprintf(f, "| %s | %s:%u → %s:%u | %s%s | %s | ", iface_name(o->a, fl, nb, sizeof nb), sa, fl->key.sport, da,
		        fl->key.dport, report_app_name(g->app), g->mismatch ? " (**wrong port**)" : "",
		        report_app_name(g->port_app));
		if (g->sni[0]) { fputs("SNI ", f); md_str(f, g->sni); fputc(' ', f); }
		if (g->method[0]) { md_str(f, g->method); fputc(' ', f); md_str(f, g->path); fputc(' ', f); }
		if (g->host[0]) { fputs("Host ", f); md_str(f, g->host); fputc(' ', f); }
		if (g->dns_names[0]) { fputs("DNS ", f); md_str(f, g->dns_names); fputc(' ', f); }
		if (g->banner[0]) { fputs("banner ", f); md_str(f, g->banner); fputc(' ', f); }
		if (g->cred) {
			secret_text(o, g->secret, sec, sizeof sec);
			fprintf(f, "**credential %s** ", cred_name(g->cred));
			md_str(f, g->user);
			fputc(':', f);
			md_str(f, sec);
		}
		fputs(" |\n", f);
	}
}

/* ---------------------------------------------------------------- HTML */

static const char *const CLASS_COLOR[REPORT_AC__COUNT] = {
	"#2e7d32", "#ef6c00", "#6a1b9a", "#c62828", "#1565c0",
};

static const char CSS[] =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1b1f23;background:#f6f8fa}"
	"header{background:#24292f;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}"
	"header p{margin:4px 0 0;color:#c9d1d9}main{padding:16px 28px}"
	"section{background:#fff;border:1px solid #d0d7de;border-radius:6px;margin:0 0 16px;padding:12px 16px}"
	"h2{font-size:17px;margin:4px 0 10px}h3{font-size:15px;margin:14px 0 6px}"
	".cards{display:flex;flex-wrap:wrap;gap:10px}.card{border-radius:6px;padding:8px 14px;color:#fff;min-width:120px}"
	".card b{display:block;font-size:22px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}"
	"table{border-collapse:collapse;width:100%;font-size:12.5px}th,td{border-bottom:1px solid #eaeef2;padding:4px 6px;text-align:left;vertical-align:top}"
	"th{background:#f6f8fa;position:sticky;top:0}td.n{text-align:right;font-variant-numeric:tabular-nums}"
	"code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f6f8fa;padding:1px 4px;border-radius:4px;word-break:break-all}"
	".warn{color:#b35900;font-weight:600}.muted{color:#57606a}details summary{cursor:pointer;font-weight:600}"
	"svg text{font:11px system-ui,sans-serif;fill:#57606a}";

static void svg_series(const out *o)
{
	FILE *f = o->f;
	const report_audit_summary *s = o->s;
	const int W = 640, H = 220, L = 60, R = 10, T = 12, B = 30;
	uint64_t mx = 1;
	size_t i, n = s->series_n;
	int side;
	char buf[48];
	for (i = 0; i < n; i++) {
		uint32_t t;
		uint64_t a1, b1;
		report_audit_series_get(o->a, i, &t, &a1, &b1);
		if (a1 > mx) mx = a1;
		if (b1 > mx) mx = b1;
	}
	fprintf(f, "<svg viewBox=\"0 0 %d %d\" width=\"100%%\" role=\"img\" aria-label=\"bytes over time\">", W, H);
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#8c959f\"/>", L, H - B, W - R, H - B);
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#8c959f\"/>", L, T, L, H - B);
	for (i = 0; i <= 4; i++) {
		int y = H - B - (int)((H - B - T) * i / 4);
		fmt_bytes(mx * i / 4, buf, sizeof buf);
		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#eaeef2\"/><text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>",
		        L, y, W - R, y, L - 4, y + 4, buf);
	}
	if (n) {
		char t0[48], t1[48];
		fmt_time(s->from, t0, sizeof t0);
		fmt_time(s->to, t1, sizeof t1);
		fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>", L, H - 10, t0,
		        W - R, H - 10, t1);
	}
	for (side = 0; side < 2 && n; side++) {
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" %spoints=\"", side ? "#1565c0" : "#ef6c00",
		        side ? "1.6" : "2.4", side ? "stroke-dasharray=\"4 2\" " : "");
		for (i = 0; i < n; i++) {
			uint32_t t;
			uint64_t a1, b1;
			double x, y;
			report_audit_series_get(o->a, i, &t, &a1, &b1);
			x = L + (n > 1 ? (double)(W - L - R) * (double)i / (double)(n - 1) : 0);
			y = H - B - (double)(H - B - T) * (double)(side ? b1 : a1) / (double)mx;
			fprintf(f, "%.1f,%.1f ", x, y);
		}
		fputs("\"/>", f);
	}
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"4\" fill=\"#ef6c00\"/><text x=\"%d\" y=\"%d\">flow logs</text>"
	           "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"4\" fill=\"#1565c0\"/><text x=\"%d\" y=\"%d\">mirror</text></svg>",
	        W - 170, T, W - 154, T + 6, W - 90, T, W - 74, T + 6);
	fprintf(f, "<p class=\"muted\">Bytes per %u s from each side (flow-log records by their start time, mirror records by their first packet).</p>",
	        s->series_step);
}

static void svg_classes(const out *o)
{
	FILE *f = o->f;
	const report_audit_summary *s = o->s;
	const int W = 640, rowh = 26, L = 110;
	uint64_t mx = 1;
	int c;
	for (c = 0; c < REPORT_AC__COUNT; c++)
		if (s->by_class[c] > mx)
			mx = s->by_class[c];
	fprintf(f, "<svg viewBox=\"0 0 %d %d\" width=\"100%%\" role=\"img\" aria-label=\"flows per class\">", W,
	        rowh * REPORT_AC__COUNT + 6);
	for (c = 0; c < REPORT_AC__COUNT; c++) {
		int y = 4 + c * rowh;
		double w = (double)(W - L - 70) * (double)s->by_class[c] / (double)mx;
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" rx=\"3\"/>"
		           "<text x=\"%.1f\" y=\"%d\">%" PRIu64 "</text>",
		        L - 6, y + 15, report_audit_class_name(c), L, y + 2, w < 1 && s->by_class[c] ? 1.0 : w, rowh - 8,
		        CLASS_COLOR[c], L + w + 6, y + 15, s->by_class[c]);
	}
	fputs("</svg>", f);
}

static void svg_coverage(const out *o)
{
	FILE *f = o->f;
	const report_audit_summary *s = o->s;
	const int W = 640, rowh = 30, L = 250, R = 10;
	size_t i, n = 0, k = 0;
	double span = s->to > s->from ? (double)(s->to - s->from) : 1;
	for (i = 0; i < report_audit_nifaces(o->a); i++) {
		const report_audit_iface *ifc = report_audit_iface_get(o->a, i);
		if (ifc->flows)
			n++;
	}
	if (n > 60)
		n = 60;
	fprintf(f, "<svg viewBox=\"0 0 %d %zu\" width=\"100%%\" role=\"img\" aria-label=\"coverage per interface\">", W, rowh * n + 8);
	for (i = 0; i < report_audit_nifaces(o->a) && k < n; i++) {
		const report_audit_iface *ifc = report_audit_iface_get(o->a, i);
		char name[64];
		int y = 4 + (int)k * rowh;
		if (!ifc->flows)
			continue;
		k++;
		if (ifc->vni != TV_VNI_NONE)
			snprintf(name, sizeof name, "%s (vni %u)", ifc->eni[0] ? ifc->eni : "-", ifc->vni);
		else
			snprintf(name, sizeof name, "%s (no session)", ifc->eni[0] ? ifc->eni : "-");
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", L - 6, y + 16);
		html_str(f, name);
		fputs("</text>", f);
		if (ifc->in_flowlog) {
			double x0 = L + (W - L - R) * ((double)(ifc->fl_first > s->from ? ifc->fl_first - s->from : 0) / span);
			double x1 = L + (W - L - R) * ((double)(ifc->fl_last > s->from ? ifc->fl_last - s->from : 0) / span);
			fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"9\" fill=\"#ef6c00\" rx=\"2\"/>", x0, y + 4,
			        x1 - x0 < 1 ? 1 : x1 - x0);
		}
		if (ifc->in_mirror) {
			double x0 = L + (W - L - R) * ((double)(ifc->m_first > s->from ? ifc->m_first - s->from : 0) / span);
			double x1 = L + (W - L - R) * ((double)(ifc->m_last > s->from ? ifc->m_last - s->from : 0) / span);
			fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"9\" fill=\"#1565c0\" rx=\"2\"/>", x0, y + 15,
			        x1 - x0 < 1 ? 1 : x1 - x0);
		}
	}
	fputs("</svg><p class=\"muted\">Per interface: the time the flow logs cover (orange) and the mirror saw traffic (blue).</p>", f);
}

static void svg_top(const out *o)
{
	FILE *f = o->f;
	const int W = 640, rowh = 22, L = 300;
	uint32_t top[10];
	size_t nt = 0, i, j;
	uint64_t mx = 1;
	for (i = 0; i < o->n; i++) {
		const report_audit_flow *fl = report_audit_flow_get(o->a, o->order[i]);
		uint64_t d = diff_bytes(fl);
		if (fl->cls == REPORT_AC_MATCHED || d == 0)
			continue;
		if (nt < 10) {
			top[nt++] = o->order[i];
		} else if (d > diff_bytes(report_audit_flow_get(o->a, top[9]))) {
			top[9] = o->order[i];
		} else {
			continue;
		}
		for (j = nt - 1; j > 0 && diff_bytes(report_audit_flow_get(o->a, top[j])) >
		                          diff_bytes(report_audit_flow_get(o->a, top[j - 1])); j--) {
			uint32_t t = top[j];
			top[j] = top[j - 1];
			top[j - 1] = t;
		}
	}
	if (!nt) {
		fputs("<p>No discrepancies.</p>", f);
		return;
	}
	mx = diff_bytes(report_audit_flow_get(o->a, top[0]));
	if (!mx)
		mx = 1;
	fprintf(f, "<svg viewBox=\"0 0 %d %zu\" width=\"100%%\" role=\"img\" aria-label=\"top discrepancies\">", W, rowh * nt + 6);
	for (i = 0; i < nt; i++) {
		const report_audit_flow *fl = report_audit_flow_get(o->a, top[i]);
		char sa[TV_ADDR_STRLEN], da[TV_ADDR_STRLEN], lab[160], b[32], pb[8];
		double w;
		int y = 3 + (int)i * rowh;
		tv_addr_format(&fl->key.src, sa, sizeof sa);
		tv_addr_format(&fl->key.dst, da, sizeof da);
		snprintf(lab, sizeof lab, "%s %s:%u → %s:%u", proto_name(fl->key.proto, pb, sizeof pb), sa, fl->key.sport, da,
		         fl->key.dport);
		fmt_bytes(diff_bytes(fl), b, sizeof b);
		w = (double)(W - L - 80) * (double)diff_bytes(fl) / (double)mx;
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", L - 6, y + 14);
		html_str(f, lab);
		fprintf(f, "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" rx=\"3\"><title>%s / %s</title></rect>"
		           "<text x=\"%.1f\" y=\"%d\">%s</text>",
		        L, y + 3, w < 1 ? 1 : w, rowh - 7, CLASS_COLOR[fl->cls], report_audit_class_name(fl->cls),
		        fl->reason ? report_audit_reason_name(fl->reason) : "-", L + (w < 1 ? 1 : w) + 6, y + 14, b);
	}
	fputs("</svg><p class=\"muted\">Largest byte differences between the two sides, coloured by class.</p>", f);
}

static void html_finding_cell(const out *o, const report_audit_finding *g)
{
	FILE *f = o->f;
	char sec[80];
	fprintf(f, "%s", report_app_name(g->app));
	if (g->mismatch)
		fprintf(f, " <span class=\"warn\">on a %s port</span>", report_app_name(g->port_app));
	if (g->sni[0]) { fputs("<br>SNI <code>", f); html_str(f, g->sni); fputs("</code>", f); }
	if (g->method[0]) { fputs("<br><code>", f); html_str(f, g->method); fputc(' ', f); html_str(f, g->path); fputs("</code>", f); }
	if (g->host[0]) { fputs("<br>Host <code>", f); html_str(f, g->host); fputs("</code>", f); }
	if (g->dns_names[0]) { fputs("<br>DNS <code>", f); html_str(f, g->dns_names); fputs("</code>", f); }
	if (g->banner[0]) { fputs("<br>banner <code>", f); html_str(f, g->banner); fputs("</code>", f); }
	if (g->cred) {
		secret_text(o, g->secret, sec, sizeof sec);
		fprintf(f, "<br><span class=\"warn\">cleartext credential (%s)</span> <code>", cred_name(g->cred));
		html_str(f, g->user);
		fputc(':', f);
		html_str(f, sec);
		fputs("</code>", f);
	}
}

/* The page's head, the summary cards and the charts. */
static void html_summary(const out *o)
{
	FILE *f = o->f;
	const report_audit_summary *s = o->s;
	char ta[48], tb[48], x[32], y[32];
	int c, r;

	fmt_time(s->from, ta, sizeof ta);
	fmt_time(s->to, tb, sizeof tb);
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
	      "<title>tapvault audit</title><style>", f);
	fputs(CSS, f);
	fputs("</style></head><body><header><h1>tapvault audit: VPC Flow Logs against the mirror archive</h1><p>", f);
	fprintf(f, "%s &mdash; %s &middot; store <code style=\"color:#fff;background:#57606a\">", ta, tb);
	html_str(f, o->cfg->store ? o->cfg->store : "");
	fputs("</code></p></header><main>", f);

	/* summary cards */
	fputs("<section><h2>Summary</h2><div class=\"cards\">", f);
	for (c = 0; c < REPORT_AC__COUNT; c++)
		fprintf(f, "<div class=\"card\" style=\"background:%s\"><b>%" PRIu64 "</b>%s</div>", CLASS_COLOR[c], s->by_class[c],
		        report_audit_class_name(c));
	fmt_bytes(s->fl_bytes, x, sizeof x);
	fmt_bytes(s->m_bytes, y, sizeof y);
	fprintf(f, "</div><p>%" PRIu64 " flows (interface + unidirectional 5-tuple). Flow logs: %" PRIu64 " packets, %s. "
	           "Mirror: %" PRIu64 " packets, %s. Payload: %" PRIu64 " findings, %" PRIu64 " cleartext credentials, %" PRIu64
	           " protocols on a foreign port.</p>",
	        s->flows, s->fl_packets, x, s->m_packets, y, s->findings, s->credentials, s->mismatches);
	if (s->flows_dropped_cap)
		fprintf(f, "<p class=\"warn\">%" PRIu64 " flows were not audited: the flow table's cap was reached (--max-flows).</p>",
		        s->flows_dropped_cap);
	if (o->cfg->command) {
		fputs("<p class=\"muted\">Command: <code>", f);
		html_str(f, o->cfg->command);
		fputs("</code></p>", f);
	}
	fputs("</section>", f);

	fputs("<div class=\"grid\"><section><h2>Bytes over time</h2>", f);
	svg_series(o);
	fputs("</section><section><h2>Flows per class</h2>", f);
	svg_classes(o);
	fputs("<table><tr><th>class</th><th>reason</th><th>flows</th></tr>", f);
	for (c = 0; c < REPORT_AC__COUNT; c++)
		for (r = 0; r < REPORT_AR__COUNT; r++)
			if (s->by_reason[c][r])
				fprintf(f, "<tr><td>%s</td><td title=\"%s\">%s</td><td class=\"n\">%" PRIu64 "</td></tr>",
				        report_audit_class_name(c), report_audit_reason_text(r), r ? report_audit_reason_name(r) : "-",
				        s->by_reason[c][r]);
	fputs("</table>", f);
	if (s->ingest_loss[0]) {
		fputs("<p>Ingest counted packets it did not store (<code>", f);
		html_str(f, s->ingest_loss);
		fputs("</code>): <i>mirror_fewer</i> is put down to <i>ingest_loss</i>.</p>", f);
	}
	fputs("</section><section><h2>Coverage per interface</h2>", f);
	svg_coverage(o);
	fputs("</section><section><h2>Top discrepancies</h2>", f);
	svg_top(o);
	fputs("</section></div>", f);
}

/* The ingest counters and the flow-log input with its rejected lines. */
static void html_inputs(const out *o)
{
	FILE *f = o->f;
	const report_audit_summary *s = o->s;
	size_t i;
	int c;

	/* ingest counters and flow-log input */
	fputs("<div class=\"grid\"><section><h2>Ingest counters</h2><p class=\"muted\">Drops, truncation and decapsulation "
	      "errors at ingest explain differences.</p><table><tr><th>counter</th><th>value</th></tr>", f);
	for (c = 0; c < TV_CTR__COUNT; c++)
		if (s->ingest.v[c])
			fprintf(f, "<tr><td><code>%s</code></td><td class=\"n\">%" PRIu64 "</td></tr>", tv_counter_name(c), s->ingest.v[c]);
	fprintf(f, "</table></section><section><h2>Flow-log input</h2><table>"
	           "<tr><td>files</td><td class=\"n\">%" PRIu64 "</td></tr><tr><td>lines</td><td class=\"n\">%" PRIu64 "</td></tr>"
	           "<tr><td>records</td><td class=\"n\">%" PRIu64 "</td></tr><tr><td>header lines</td><td class=\"n\">%" PRIu64 "</td></tr>"
	           "<tr><td>NODATA / SKIPDATA</td><td class=\"n\">%" PRIu64 " / %" PRIu64 "</td></tr>"
	           "<tr><td>rejected</td><td class=\"n\">%" PRIu64 "</td></tr></table>",
	        s->reader.files, s->reader.lines, s->reader.records, s->reader.headers, s->reader.nodata, s->reader.skipdata,
	        s->reader.rejected);
	if (report_audit_nrejects(o->a)) {
		fputs("<h3>Rejected lines</h3><table><tr><th>where</th><th>reason</th><th>what</th></tr>", f);
		for (i = 0; i < report_audit_nrejects(o->a); i++) {
			const report_audit_reject *rj = report_audit_reject_get(o->a, i);
			fputs("<tr><td><code>", f);
			html_str(f, rj->file);
			fprintf(f, ":%" PRIu64 "</code></td><td>%s</td><td>", rj->line, report_fl_reason_name(rj->reason));
			html_str(f, rj->msg);
			fputs("</td></tr>", f);
		}
		fputs("</table>", f);
	}
	fputs("</section></div>", f);
}

/* One section per class: its flows, at most max_rows of them. */
static void html_classes(const out *o)
{
	FILE *f = o->f;
	const report_audit_summary *s = o->s;
	size_t start = 0;
	size_t maxr = o->cfg->max_rows ? o->cfg->max_rows : 200;
	int c;

	/* per class */
	for (c = 0; c < REPORT_AC__COUNT; c++) {
		size_t shown = 0, j;
		if (!s->by_class[c]) {
			continue;
		}
		fprintf(f, "<section><h2 style=\"color:%s\">%s (%" PRIu64 ")</h2>", CLASS_COLOR[c], report_audit_class_name(c),
		        s->by_class[c]);
		fprintf(f, "<details%s><summary>%" PRIu64 " flows</summary><table><tr><th>interface</th><th>dir</th><th>flow</th><th>reason</th>"
		           "<th>flow log<br>pkts / bytes</th><th>mirror<br>pkts / bytes</th><th>filter</th><th>payload</th><th>pull the packets</th></tr>",
		        c == REPORT_AC_MATCHED ? "" : " open", s->by_class[c]);
		for (j = start; j < o->n; j++) {
			const report_audit_flow *fl = report_audit_flow_get(o->a, o->order[j]);
			char sa[TV_ADDR_STRLEN], da[TV_ADDR_STRLEN], nb[32], pb[8], q[1024];
			if (fl->cls != c)
				break;
			if (shown++ >= maxr)
				continue;
			tv_addr_format(&fl->key.src, sa, sizeof sa);
			tv_addr_format(&fl->key.dst, da, sizeof da);
			fputs("<tr><td>", f);
			html_str(f, iface_name(o->a, fl, nb, sizeof nb));
			fprintf(f, "</td><td>%s</td><td><code>%s ", dir_name(fl->direction), proto_name(fl->key.proto, pb, sizeof pb));
			html_str(f, sa);
			fprintf(f, ":%u &rarr; ", fl->key.sport);
			html_str(f, da);
			fprintf(f, ":%u</code></td><td title=\"%s\">%s</td><td class=\"n\">%" PRIu64 " / %" PRIu64, fl->key.dport,
			        report_audit_reason_text(fl->reason), fl->reason ? report_audit_reason_name(fl->reason) : "-",
			        fl->fl_packets, fl->fl_bytes);
			if (fl->fl_reject_records)
				fprintf(f, "<br>REJECT %" PRIu64 " / %" PRIu64, fl->fl_reject_packets, fl->fl_reject_bytes);
			fprintf(f, "</td><td class=\"n\">%" PRIu64 " / %" PRIu64 "</td><td>%s", fl->m_packets, fl->m_bytes,
			        report_mirror_verdict_name(fl->verdict));
			if (fl->rule_number)
				fprintf(f, " (rule %u)", fl->rule_number);
			fputs("</td><td>", f);
			if (fl->finding >= 0)
				html_finding_cell(o, report_audit_finding_get(o->a, (size_t)fl->finding));
			fputs("</td><td><code>", f);
			query_cmd(o, fl, q, sizeof q);
			html_str(f, q);
			fputs("</code></td></tr>", f);
		}
		fputs("</table>", f);
		if (shown > maxr)
			fprintf(f, "<p class=\"muted\">%zu more rows: see the JSON or CSV report.</p>", shown - maxr);
		fputs("</details></section>", f);
		start = j;
	}
}

/* The payload findings, credentials and mismatches first. */
static void html_findings(const out *o)
{
	FILE *f = o->f;
	const report_audit_summary *s = o->s;
	size_t i;
	int r;

	/* payload findings */
	fprintf(f, "<section><h2>What only the payload shows (%" PRIu64 ")</h2><p class=\"muted\">Application protocol "
	           "against the port, TLS server names, HTTP hosts, DNS names, banners and cleartext credentials%s.</p>"
	           "<table><tr><th>interface</th><th>flow</th><th>class</th><th>finding</th></tr>",
	        s->findings, o->cfg->show_secrets ? "" : " (secrets redacted; --show-secrets reveals them)");
	/* credentials and mismatches first */
	for (r = 0; r < 2; r++) {
		for (i = 0; i < report_audit_nfindings(o->a) && i < 5000; i++) {
			const report_audit_finding *g = report_audit_finding_get(o->a, i);
			const report_audit_flow *fl = report_audit_flow_get(o->a, g->flow);
			char sa[TV_ADDR_STRLEN], da[TV_ADDR_STRLEN], nb[32], pb[8];
			bool hot = g->cred || g->mismatch;
			if ((r == 0) != hot)
				continue;
			tv_addr_format(&fl->key.src, sa, sizeof sa);
			tv_addr_format(&fl->key.dst, da, sizeof da);
			fputs("<tr><td>", f);
			html_str(f, iface_name(o->a, fl, nb, sizeof nb));
			fprintf(f, "</td><td><code>%s ", proto_name(fl->key.proto, pb, sizeof pb));
			html_str(f, sa);
			fprintf(f, ":%u &rarr; ", fl->key.sport);
			html_str(f, da);
			fprintf(f, ":%u</code></td><td>%s</td><td>", fl->key.dport, report_audit_class_name(fl->cls));
			html_finding_cell(o, g);
			fputs("</td></tr>", f);
		}
	}
	fputs("</table></section>", f);
}

static void write_html(const out *o)
{
	FILE *f = o->f;

	html_summary(o);
	html_inputs(o);
	html_classes(o);
	html_findings(o);
	fprintf(f, "<p class=\"muted\">tapvault %s. Classes and reasons: see the README section &ldquo;The audit&rdquo;.</p>",
	        TV_VERSION);
	fputs("</main></body></html>\n", f);
}

int report_audit_write(const report_audit *a, const report_audit_out_cfg *cfg, FILE *f)
{
	out o;
	size_t i;
	memset(&o, 0, sizeof o);
	o.f = f;
	o.a = a;
	o.cfg = cfg;
	o.s = report_audit_summary_get(a);
	o.n = report_audit_nflows(a);
	o.order = malloc((o.n ? o.n : 1) * sizeof *o.order);
	if (!o.order)
		return ENOMEM;
	for (i = 0; i < o.n; i++)
		o.order[i] = (uint32_t)i;
	g_sort_a = a;
	qsort(o.order, o.n, sizeof *o.order, cmp_order);
	g_sort_a = NULL;
	switch (cfg->format) {
	case REPORT_AF_JSON: write_json(&o); break;
	case REPORT_AF_CSV: write_csv(&o); break;
	case REPORT_AF_MD: write_md(&o); break;
	default: write_html(&o); break;
	}
	free(o.order);
	if (fflush(f) != 0 || ferror(f))
		return errno ? errno : EIO;
	return 0;
}
