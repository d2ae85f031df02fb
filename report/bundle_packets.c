/*
 * bundle_packets.c — the packets of a case bundle, matched like stored
 * packets (query --bundle).  The packets member is copied into an unlinked
 * temporary file only after the whole bundle has been checked (safe names,
 * no links, sizes; the member's SHA-256 against the manifest), then read
 * with libpcap, parsed with the ingest's inner parser and matched with
 * idx_expr_match, the matcher the store's query uses.  A pcap carries no
 * tunnel metadata, so an expression that names a VNI is refused.
 */
#include "evidence.h"
#include "report_int.h"
#include "../index/vault.h"
#include "../ingest/ingest.h"

#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

struct report_bundle_packets {
	pcap_t *p;
	char name[1100]; /* "BUNDLE: packets.pcap", for messages */
};

int report_bundle_packets_open(const char *bundle, const struct idx_expr *e, uint64_t max_member,
                               report_bundle_packets **out, char *err, size_t cap)
{
	char ebuf[PCAP_ERRBUF_SIZE], norm[2048];
	report_bundle_packets *bp;
	FILE *fp = NULL;
	int rc, lt;

	*out = NULL;
	idx_expr_format(e, norm, sizeof norm);
	if (strncmp(norm, "vni ", 4) == 0 || strstr(norm, " vni ") || strstr(norm, "(vni ")) {
		report_seterr(err, cap, "'vni' cannot be matched: a bundle's " REPORT_BUNDLE_PACKETS
		              " carries no tunnel metadata (export with the vni in the expression instead)");
		return TV_E_UNSUPPORTED;
	}
	bp = calloc(1, sizeof *bp);
	if (!bp)
		return TV_E_NOMEM;
	snprintf(bp->name, sizeof bp->name, "%s: " REPORT_BUNDLE_PACKETS, bundle);
	rc = report_bundle_member_open(bundle, REPORT_BUNDLE_PACKETS, max_member, &fp, err, cap);
	if (rc) {
		free(bp);
		return rc;
	}
	bp->p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	if (!bp->p) {
		fclose(fp);
		report_seterr(err, cap, "%s: %s", bp->name, ebuf);
		free(bp);
		return TV_E_FORMAT;
	}
	lt = pcap_datalink(bp->p);
	if (lt != DLT_EN10MB) {
		const char *ln = pcap_datalink_val_to_name(lt);
		report_seterr(err, cap, "%s: link type %s (%d), expected Ethernet", bp->name, ln ? ln : "unknown",
		              lt);
		report_bundle_packets_close(bp);
		return TV_E_FORMAT;
	}
	*out = bp;
	return 0;
}

int report_bundle_packets_query(report_bundle_packets *bp, const struct idx_expr *e, idx_query_cb cb,
                                void *ctx, idx_query_stats *st, char *err, size_t cap)
{
	tv_tunmeta tun;
	uint64_t lo, hi;
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc = 0, r;

	memset(st, 0, sizeof *st);
	memset(&tun, 0, sizeof tun);
	tun.vni = TV_VNI_NONE;
	idx_expr_time_bounds(e, &lo, &hi);
	while ((r = pcap_next_ex(bp->p, &h, &data)) == 1) {
		store_rec rec;
		tv_l3info info;
		memset(&rec, 0, sizeof rec);
		rec.ts_ns = ingest_pcap_ts_ns(h->ts.tv_sec, h->ts.tv_usec);
		rec.caplen = h->caplen;
		rec.origlen = h->len;
		rec.tun = &tun;
		rec.frame = data;
		st->packets_scanned++;
		if (rec.ts_ns < lo || rec.ts_ns > hi)
			continue;
		ingest_parse_inner(data, h->caplen, &info);
		if (!idx_expr_match(e, rec.ts_ns, &tun, &info))
			continue;
		st->packets_matched++;
		if ((rc = cb(ctx, 0, &rec, &info)) != 0)
			break;
	}
	if (r == -1) {
		report_seterr(err, cap, "%s: %s", bp->name, pcap_geterr(bp->p));
		return TV_E_FORMAT;
	}
	return rc;
}

void report_bundle_packets_close(report_bundle_packets *bp)
{
	if (!bp)
		return;
	if (bp->p)
		pcap_close(bp->p);
	free(bp);
}
