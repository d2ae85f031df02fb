/*
 * query.c — `tapvault query`: packets out of one or more stores.
 */
#include "cmd.h"
#include "../ingest/tvfile.h"
#include "../index/vault.h"
#include "../report/evidence.h"

#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum qfmt { QF_PCAP, QF_TEXT, QF_JSON, QF_COUNT };

/* The pcap output's stdio buffer: a query writes up to the whole archive. */
static char pcap_obuf[256 << 10];

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault query -s STORE [-s STORE ...] [EXPR ...] [-w FILE|-]\n"
	        "       tapvault query --bundle CASE.tar.zst|.tar.gz|.zip [EXPR ...] [-w FILE|-]\n"
	        "                      [--max-member-size SIZE] [--format pcap|text|json|count]\n"
	        "                      [--bpf FILTER]\n"
	        "       tapvault query --help\n"
	        "\n"
	        "Prints or writes every stored packet that matches EXPR, in timestamp order,\n"
	        "merging several stores by time.  Only chunks that can hold a match are read.\n"
	        "\n"
	        "options:\n"
	        "  -s, --store DIR     a store to read; repeat to merge several\n"
	        "      --bundle FILE   read the packets of a case bundle (tapvault export)\n"
	        "                      instead of a store; checked against its manifest first,\n"
	        "                      and nothing is written when it does not verify\n"
	        "      --max-member-size SIZE\n"
	        "                      with --bundle: largest member accepted, in the archive and\n"
	        "                      as the manifest lists it (default 64G); packets.pcap is\n"
	        "                      copied to $TMPDIR, never more than the manifest declares\n"
	        "  -w, --write FILE    write a pcap file (Ethernet, nanosecond timestamps) that\n"
	        "                      Wireshark and tcpdump read; '-' writes it to stdout\n"
	        "  -f, --format F      pcap, text (one tcpdump-like line per packet, with VNI),\n"
	        "                      json (one object per line), or count; default text, or\n"
	        "                      pcap with -w\n"
	        "      --bpf FILTER    narrow further with a libpcap filter on the inner frame\n"
	        "      --verify        check each chunk's SHA-256 while reading\n"
	        "  -c, --count-max N   stop after N packets\n"
	        "  -v, --verbose       print plan statistics on stderr\n"
	        "  -q, --quiet         no notes on stderr (such as the retention note)\n"
	        "  -h, --help          this help\n"
	        "\n"
	        "EXPR (words are joined; quote it or not):\n"
	        "  host A | src host A | dst host A     IPv4 or IPv6 address\n"
	        "  net CIDR | src net CIDR | dst net CIDR\n"
	        "  port P | src port P | dst port P | portrange P-P   P: number or service name\n"
	        "  tcp | udp | sctp | icmp | icmp6 | ip | ip6 | proto N|NAME\n"
	        "  ip|ip6 host|net|proto ...   tcp|udp|sctp [src|dst] port|portrange ...\n"
	        "  vni N                                 VXLAN/GENEVE network identifier\n"
	        "  after T | before T                    T: RFC 3339, unix seconds, or '10m ago'\n"
	        "  EXPR and EXPR | EXPR or EXPR | not EXPR | ( EXPR )   (also && || !)\n"
	        "\n"
	        "examples:\n"
	        "  tapvault query -s /var/lib/tapvault 'host 10.0.3.7 and port 22' -w ssh.pcap\n"
	        "  tapvault query -s S 'vni 42 and after 2026-11-27T14:00:00Z and before 2026-11-27T14:05:00Z'\n"
	        "  ssh target tapvault query -s S host 10.0.3.7 -w - | wireshark -k -i -\n");
}

struct qout {
	enum qfmt fmt;
	FILE *f;
	struct bpf_program bpf;
	int use_bpf;
	uint64_t max, n;
};

static const char *proto_name(uint8_t p)
{
	switch (p) {
	case 1: return "ICMP";
	case 6: return "TCP";
	case 17: return "UDP";
	case 58: return "ICMP6";
	case 132: return "SCTP";
	default: return NULL;
	}
}

static void tcp_flag_text(uint8_t f, char buf[8])
{
	char *p = buf;
	if (f & TV_TCP_FIN) *p++ = 'F';
	if (f & TV_TCP_SYN) *p++ = 'S';
	if (f & TV_TCP_RST) *p++ = 'R';
	if (f & TV_TCP_PSH) *p++ = 'P';
	if (f & TV_TCP_URG) *p++ = 'U';
	if (f & TV_TCP_ACK) *p++ = '.';
	*p = '\0';
	if (p == buf)
		strcpy(buf, "none");
}

static void print_text(FILE *f, const store_rec *r, const tv_l3info *in)
{
	char ts[48], s[TV_ADDR_STRLEN], d[TV_ADDR_STRLEN], fl[8];
	const char *pn;
	tv_time_format(r->ts_ns, ts, sizeof ts);
	fprintf(f, "%s ", ts);
	if (r->tun->vni != TV_VNI_NONE)
		fprintf(f, "vni %u ", r->tun->vni);
	if (in->l3 == 0) {
		fprintf(f, "ethertype 0x%04x, length %u\n", in->ethertype, r->origlen);
		return;
	}
	tv_addr_format(&in->key.src, s, sizeof s);
	tv_addr_format(&in->key.dst, d, sizeof d);
	pn = proto_name(in->key.proto);
	fprintf(f, "%s ", in->l3 == 4 ? "IP" : "IP6");
	if (in->has_ports)
		fprintf(f, "%s.%u > %s.%u: ", s, in->key.sport, d, in->key.dport);
	else
		fprintf(f, "%s > %s: ", s, d);
	if (pn)
		fprintf(f, "%s", pn);
	else
		fprintf(f, "proto %u", in->key.proto);
	if (in->key.proto == 6) {
		tcp_flag_text(in->tcp_flags, fl);
		fprintf(f, " [%s]", fl);
	}
	if (in->key.proto == 1 || in->key.proto == 58)
		fprintf(f, " type %u code %u", in->icmp_type_code >> 8, in->icmp_type_code & 0xff);
	fprintf(f, ", ip length %u", in->ip_len);
	if (r->caplen < r->origlen)
		fprintf(f, " (stored %u of %u bytes)", r->caplen, r->origlen);
	fputc('\n', f);
}

static void print_json(FILE *f, const store_rec *r, const tv_l3info *in)
{
	char ts[48], s[TV_ADDR_STRLEN], d[TV_ADDR_STRLEN], o[TV_ADDR_STRLEN];
	static const char *const tun[] = { "none", "vxlan", "geneve", "geneve+vxlan" };
	tv_time_format(r->ts_ns, ts, sizeof ts);
	fprintf(f, "{\"ts\":\"%s\",\"ts_ns\":%llu,\"tunnel\":\"%s\"", ts, (unsigned long long)r->ts_ns,
	        r->tun->tunnel < 4 ? tun[r->tun->tunnel] : "?");
	if (r->tun->vni != TV_VNI_NONE) {
		tv_addr_format(&r->tun->outer_src, o, sizeof o);
		fprintf(f, ",\"vni\":%u,\"outer_src\":\"%s\"", r->tun->vni, o);
	}
	if (r->tun->has_gwlb)
		fprintf(f, ",\"gwlb_endpoint\":\"vpce-%016llx\",\"gwlb_attachment\":\"%016llx\",\"gwlb_cookie\":\"%08x\"",
		        (unsigned long long)r->tun->gwlb_endpoint, (unsigned long long)r->tun->gwlb_attachment,
		        r->tun->gwlb_cookie);
	if (in->l3) {
		tv_addr_format(&in->key.src, s, sizeof s);
		tv_addr_format(&in->key.dst, d, sizeof d);
		fprintf(f, ",\"ipver\":%u,\"src\":\"%s\",\"dst\":\"%s\",\"proto\":%u", in->l3, s, d, in->key.proto);
		if (in->has_ports)
			fprintf(f, ",\"sport\":%u,\"dport\":%u", in->key.sport, in->key.dport);
		if (in->key.proto == 6)
			fprintf(f, ",\"tcp_flags\":%u", in->tcp_flags);
		fprintf(f, ",\"ip_len\":%u", in->ip_len);
		if (in->frag)
			fprintf(f, ",\"frag\":\"%s\"", in->frag == TV_FRAG_FIRST ? "first" : "later");
	} else {
		fprintf(f, ",\"ethertype\":%u", in->ethertype);
	}
	fprintf(f, ",\"caplen\":%u,\"len\":%u", r->caplen, r->origlen);
	if (r->flags & STORE_REC_DECAP_ERROR)
		fprintf(f, ",\"decap_error\":true");
	fprintf(f, "}\n");
}

static int on_packet(void *ctx, int store, const store_rec *r, const tv_l3info *in)
{
	struct qout *o = ctx;
	(void)store;
	if (o->use_bpf) {
		struct pcap_pkthdr h;
		memset(&h, 0, sizeof h);
		h.caplen = r->caplen;
		h.len = r->origlen;
		if (!pcap_offline_filter(&o->bpf, &h, r->frame))
			return 0;
	}
	o->n++;
	switch (o->fmt) {
	case QF_PCAP: report_pcapw_record(o->f, r->ts_ns, r->frame, r->caplen, r->origlen); break;
	case QF_TEXT: print_text(o->f, r, in); break;
	case QF_JSON: print_json(o->f, r, in); break;
	case QF_COUNT: break;
	}
	if (ferror(o->f))
		return TV_E_IO;
	return (o->max && o->n >= o->max) ? 1 : 0;
}

static const struct option longopts[] = {
	{ "store", required_argument, NULL, 's' },
	{ "write", required_argument, NULL, 'w' },
	{ "format", required_argument, NULL, 'f' },
	{ "bpf", required_argument, NULL, 'b' },
	{ "verify", no_argument, NULL, 'V' },
	{ "count-max", required_argument, NULL, 'c' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "bundle", required_argument, NULL, 'B' },
	{ "max-member-size", required_argument, NULL, 'M' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What the command line says, apart from the expression. */
struct qopts {
	const char *stores[64];
	int nstores, fmt_given;
	const char *wfile, *bpf, *bundle;
	bool verify;
	uint64_t max_member;
};


/* getopt and the checks between options: EXIT_OK, HELP_SHOWN or an exit code. */
static int parse_opts(int argc, char **argv, struct qopts *op, struct qout *o)
{
	uint64_t val;
	int c;

	memset(op, 0, sizeof *op);
	optind = 0; /* 0: GNU getopt re-initialises (the demo calls several commands) */
	while ((c = getopt_long(argc, argv, "s:w:f:c:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (op->nstores == 64) {
				cmd_err("query", "at most 64 stores");
				return EXIT_USAGE;
			}
			op->stores[op->nstores++] = optarg;
			break;
		case 'w': op->wfile = optarg; break;
		case 'f':
			op->fmt_given = 1;
			if (strcmp(optarg, "pcap") == 0) o->fmt = QF_PCAP;
			else if (strcmp(optarg, "text") == 0) o->fmt = QF_TEXT;
			else if (strcmp(optarg, "json") == 0) o->fmt = QF_JSON;
			else if (strcmp(optarg, "count") == 0) o->fmt = QF_COUNT;
			else {
				cmd_err("query", "--format '%s': expected pcap, text, json or count", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'b': op->bpf = optarg; break;
		case 'B': op->bundle = optarg; break;
		case 'M':
			if (cmd_parse_size(optarg, &op->max_member) || op->max_member == 0) {
				cmd_err("query", "--max-member-size '%s': expected a size such as 64G", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'V': op->verify = true; break;
		case 'c':
			if (cmd_parse_uint(optarg, 1, UINT64_MAX, &val)) {
				cmd_err("query", "--count-max '%s': expected a positive number", optarg);
				return EXIT_USAGE;
			}
			o->max = val;
			break;
		case 'v': g_cmd.verbose++; break;
		case 'q': g_cmd.quiet = 1; break;
		case 'h': usage(stdout); return HELP_SHOWN;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (op->bundle && op->nstores) {
		cmd_err("query", "--bundle and -s: read either a bundle or stores");
		return EXIT_USAGE;
	}
	if (op->nstores == 0 && !op->bundle) {
		cmd_err("query", "no store given: use -s DIR");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (op->wfile && !op->fmt_given)
		o->fmt = QF_PCAP;
	if (op->wfile && o->fmt != QF_PCAP) {
		cmd_err("query", "-w writes pcap; use --format pcap (or leave --format out)");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int cmd_query(int argc, char **argv)
{
	struct qopts op;
	int i, rc, ret = EXIT_OK;
	char *text = NULL;
	idx_expr *e = NULL;
	idx_expr_err perr;
	idx_rstore rs[64];
	int nopen = 0;
	struct qout o;
	idx_query_stats st;
	char err[1024];
	pcap_t *dead = NULL;
	report_bundle_packets *bp = NULL;
	tv_outfile wout;

	memset(&o, 0, sizeof o);
	tv_outfile_init(&wout);
	o.fmt = QF_TEXT;
	if ((ret = parse_opts(argc, argv, &op, &o)) != EXIT_OK)
		return ret == HELP_SHOWN ? EXIT_OK : ret;
	text = cmd_join_args(argc, argv, optind);
	if (!text)
		return EXIT_FAILURE;
	rc = idx_expr_parse(text, tv_clock_real_ns(), &e, &perr);
	if (rc) {
		cmd_expr_error("query", text, &perr);
		ret = EXIT_USAGE;
		goto out;
	}
	cmd_expr_note("query", e);
	if (op.bpf) {
		dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 262144, PCAP_TSTAMP_PRECISION_NANO);
		if (!dead || pcap_compile(dead, &o.bpf, op.bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
			cmd_err("query", "--bpf '%s': %s", op.bpf, dead ? pcap_geterr(dead) : "libpcap failed");
			ret = EXIT_USAGE;
			goto out;
		}
		o.use_bpf = 1;
	}
	if ((ret = cmd_open_stores("query", op.stores, op.nstores, rs, &nopen)) != EXIT_OK)
		goto out;
	/* before any output is created: a refused bundle writes nothing, not
	 * even an empty pcap or a count of 0 */
	if (op.bundle && (rc = report_bundle_packets_open(op.bundle, e, op.max_member, &bp, err, sizeof err)) != 0) {
		if (rc == TV_E_UNSUPPORTED)
			cmd_err("query", "--bundle: %s", err);
		else if (rc == TV_E_FORMAT)
			cmd_err("query", "%s", err);
		else
			cmd_err("query", "%s: %s", op.bundle, err);
		ret = rc == ENOENT || rc == EACCES || rc > 0 ? EXIT_FAILURE : EXIT_USAGE;
		goto out;
	}
	if (o.fmt == QF_PCAP) {
		if (!op.wfile || strcmp(op.wfile, "-") == 0) {
			if (isatty(STDOUT_FILENO)) {
				cmd_err("query", "refusing to write pcap to a terminal: use -w FILE, or pipe it");
				ret = EXIT_USAGE;
				goto out;
			}
			o.f = stdout;
		} else {
			/* written beside FILE and renamed at the end: a link at FILE is
			 * refused, an existing pcap replaced; a FIFO or device of the
			 * user's (a pipe Wireshark reads) is written in place.  Not
			 * fsync'ed, as tcpdump -w's is not: the same query makes it
			 * again while its packets are kept (strace: the file's and the
			 * folder's fsync took about 1.3 ms of a 12 ms beacon query, and
			 * right after a bench's ingest runs the query's times spread
			 * over 21.9-29.1 ms) */
			rc = tv_outfile_open(&wout, op.wfile, 0666,
			                     TV_OUT_REPLACE | TV_OUT_SPECIAL | TV_OUT_NOSYNC);
			if (!rc && !(o.f = tv_outfile_stdio(&wout, "wb")))
				rc = errno;
			if (rc) {
				cmd_err("query", "%s: cannot create: %s", op.wfile, cmd_outfile_why(rc));
				ret = rc == TV_E_SYMLINK || rc == TV_E_NOTREG || rc == EISDIR ? EXIT_USAGE
				                                                             : EXIT_FAILURE;
				goto out;
			}
		}
		/* whole pieces to the kernel, not stdio's 4 KiB (glibc sizes its
		 * own buffer by st_blksize and ignores a size without a buffer) */
		setvbuf(o.f, pcap_obuf, _IOFBF, sizeof pcap_obuf);
		report_pcapw_header(o.f);
	} else {
		o.f = stdout;
	}
	if (op.bundle) {
		rc = report_bundle_packets_query(bp, e, on_packet, &o, &st, err, sizeof err);
		if (rc == TV_E_FORMAT) {
			cmd_err("query", "%s", err);
			ret = EXIT_USAGE;
			rc = 0;
		}
	} else {
		{ char pn[4200]; if (idx_pruned_note(rs, nopen, e, pn, sizeof pn)) cmd_note("query", "%s", pn); } /* retention */
	rc = idx_query_run(rs, nopen, e, op.verify, on_packet, &o, &st, err, sizeof err);
	}
	if (rc < 0 || rc > 1) {
		cmd_err("query", "%s", rc == TV_E_IO ? "write failed (disk full or closed pipe?)" : err);
		ret = EXIT_FAILURE;
	}
	if (o.fmt == QF_COUNT && ret == EXIT_OK)
		printf("%llu\n", (unsigned long long)o.n);
	if (o.f && o.f != stdout) {
		if (fclose(o.f) != 0) {
			cmd_err("query", "%s: write failed: %s", op.wfile, strerror(errno));
			ret = EXIT_FAILURE;
		}
		o.f = NULL;
		/* a failed query leaves no partial pcap behind */
		if (ret == EXIT_OK && (rc = tv_outfile_commit(&wout, NULL)) != 0) {
			cmd_err("query", "%s: cannot create: %s", op.wfile, cmd_outfile_why(rc));
			ret = EXIT_FAILURE;
		}
	} else if (o.f == stdout && fflush(stdout) != 0) {
		ret = EXIT_FAILURE;
	}
	if (g_cmd.verbose) {
		char ex[512];
		idx_expr_format(e, ex, sizeof ex);
		fprintf(stderr,
		        "query: %s\nplan: %llu of %llu chunks planned (%llu index keys read); "
		        "%llu chunks read (%llu bytes), %llu missing; %llu blocks read, %llu bytes "
		        "decoded; %llu packets scanned, %llu matched, %llu written\n",
		        ex, (unsigned long long)st.plan.chunks_planned,
		        (unsigned long long)st.plan.chunks_total, (unsigned long long)st.plan.keys_read,
		        (unsigned long long)st.chunks_read, (unsigned long long)st.bytes_read,
		        (unsigned long long)st.chunks_missing, (unsigned long long)st.blocks_read,
		        (unsigned long long)st.bytes_decoded, (unsigned long long)st.packets_scanned,
		        (unsigned long long)st.packets_matched, (unsigned long long)o.n);
	}
out:
	tv_outfile_abort(&wout);
	report_bundle_packets_close(bp);
	for (i = 0; i < nopen; i++)
		idx_rstore_close(&rs[i]);
	if (o.use_bpf)
		pcap_freecode(&o.bpf);
	if (dead)
		pcap_close(dead);
	idx_expr_free(e);
	free(text);
	return ret;
}
