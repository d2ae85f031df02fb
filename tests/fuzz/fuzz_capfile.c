/*
 * fuzz_capfile.c — libFuzzer target for the pcap / pcapng reader
 * (ingest/capfile.c) on its own: arbitrary bytes read through fmemopen(),
 * front to back as from a pipe, to the end or the first error.
 *
 * Checks: a packet's captured length is at most INGEST_CAP_MAX_CAPLEN and
 * every byte of it is readable (ASan sees a bad pointer); the reader never
 * claims to have consumed more bytes than the input has; an error always
 * comes with a message; after the end, the end stays the end.  Seeds in
 * tests/fuzz/corpus/fuzz_capfile/ are small files written by
 * tests/fuzz/capfile_seeds.py: each pcap magic in both byte orders, the
 * modified format, old versions, and pcapng with several sections,
 * interfaces of different link types and snap lengths, time resolutions
 * and offsets, simple, obsolete and skipped blocks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PACKETS 20000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ingest_capfile *r = NULL;
	ingest_raw raw;
	volatile unsigned sink = 0;
	char err[512];
	FILE *fp;
	int rc, n = 0;

	if (size == 0 || size > (1u << 20))
		return 0;
	fp = fmemopen((void *)data, size, "rb");
	if (!fp)
		abort();
	err[0] = '\0';
	rc = ingest_capfile_open(fp, &r, err, sizeof err);
	if (rc != 0) {
		if (r || !err[0])
			abort();
		fclose(fp);
		return 0;
	}
	for (;;) {
		uint32_t i;
		err[0] = '\0';
		rc = ingest_capfile_next(r, &raw, err, sizeof err);
		if (ingest_capfile_offset(r) > size)
			abort();
		if (rc != 1)
			break;
		if (raw.caplen > INGEST_CAP_MAX_CAPLEN || (raw.caplen && !raw.data))
			abort();
		for (i = 0; i < raw.caplen; i++)
			sink += raw.data[i];
		if (++n >= MAX_PACKETS)
			break;
	}
	if (rc < 0 && !err[0])
		abort();
	if (rc == 0 && ingest_capfile_next(r, &raw, err, sizeof err) != 0)
		abort();
	ingest_capfile_close(r);
	fclose(fp);
	(void)sink;
	return 0;
}
