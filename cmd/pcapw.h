/*
 * pcapw.h — the pcap records `query -w` writes, shared by query and export
 * so that a bundle's packets.pcap has the same bytes as `query EXPR -w`.
 * Classic pcap, little-endian, nanosecond magic, snaplen 262144, Ethernet.
 */
#ifndef CMD_PCAPW_H
#define CMD_PCAPW_H

#include <stdint.h>
#include <stdio.h>

#define CMD_PCAP_HDR_LEN 24
#define CMD_PCAP_REC_HDR_LEN 16

/* Both return 0 or TV_E_IO (check ferror later as well: stdio buffers). */
int cmd_pcapw_header(FILE *f);
int cmd_pcapw_record(FILE *f, uint64_t ts_ns, const uint8_t *frame, uint32_t caplen,
                     uint32_t origlen);

#endif
