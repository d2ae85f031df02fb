/*
 * pcapw.c — the pcap records of `query -w` and a bundle's packets.pcap.
 */
#include "evidence.h"
#include "../ingest/tv.h"

int report_pcapw_header(FILE *f)
{
	uint8_t h[REPORT_PCAP_HDR_LEN];
	tv_put_le32(h, 0xa1b23c4d); /* nanosecond pcap */
	tv_put_le16(h + 4, 2);
	tv_put_le16(h + 6, 4);
	tv_put_le32(h + 8, 0);
	tv_put_le32(h + 12, 0);
	tv_put_le32(h + 16, 262144);
	tv_put_le32(h + 20, 1); /* LINKTYPE_ETHERNET */
	return fwrite(h, 1, sizeof h, f) == sizeof h ? 0 : TV_E_IO;
}

int report_pcapw_record(FILE *f, uint64_t ts_ns, const uint8_t *frame, uint32_t caplen,
                        uint32_t origlen)
{
	uint8_t h[REPORT_PCAP_REC_HDR_LEN];
	tv_put_le32(h, (uint32_t)(ts_ns / 1000000000ull));
	tv_put_le32(h + 4, (uint32_t)(ts_ns % 1000000000ull));
	tv_put_le32(h + 8, caplen);
	tv_put_le32(h + 12, origlen);
	if (fwrite(h, 1, sizeof h, f) != sizeof h)
		return TV_E_IO;
	if (caplen && fwrite(frame, 1, caplen, f) != caplen)
		return TV_E_IO;
	return 0;
}
