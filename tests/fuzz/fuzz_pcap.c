/*
 * fuzz_pcap.c — libFuzzer target for the capture-file source
 * (ingest/source.c over ingest/capfile.c): arbitrary bytes as a pcap or
 * pcapng file, opened through ingest_file_src_open() and read to the end
 * (or to the first error) with ingest_file_src_next(); every packet goes
 * through ingest_decap_packet(), as `tapvault ingest` does.
 *
 * The input is written to one memfd created once (no file on disk) and
 * opened by its /proc/self/fd path, so the real open path (stat, the
 * identity hash, the reader) is exercised.  The decapsulator is kept
 * from input to input, as in a real run.
 *
 * Checks: the source never claims more bytes than the file has; every
 * packet's caplen bytes are read in full (so ASan sees a bad pointer);
 * ordinals count from 0 and file_idx is 0; a decapsulated frame never has
 * caplen > origlen, even when the record says so; an error always comes
 * with a message.  Seeds in tests/fuzz/corpus/fuzz_pcap/ are
 * the first packets of tv-gen captures (classic pcap, nanosecond and
 * microsecond, pcapng) and damaged variants.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT (1u << 20)
#define MAX_PACKETS 10000

static int mfd = -1;
static char mpath[64];
static ingest_decap *dec;
static tv_counters ctr;

static void setup(void)
{
	ingest_decap_cfg cfg;
	mfd = memfd_create("fuzz_pcap", MFD_CLOEXEC);
	if (mfd < 0)
		abort();
	snprintf(mpath, sizeof mpath, "/proc/self/fd/%d", mfd);
	ingest_decap_cfg_default(&cfg);
	if (ingest_decap_new(&cfg, &ctr, &dec) != 0)
		abort();
}

static unsigned touch(const uint8_t *p, uint32_t n)
{
	unsigned s = 0;
	uint32_t i;
	for (i = 0; i < n; i++)
		s += p[i];
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *paths[1];
	ingest_file_src *src = NULL;
	ingest_raw raw;
	tv_pkt pkt;
	char err[512];
	volatile unsigned sink = 0;
	uint64_t n = 0;
	int rc;

	if (mfd < 0)
		setup();
	if (size > MAX_INPUT)
		return 0;
	if (ftruncate(mfd, 0) != 0 || pwrite(mfd, data, size, 0) != (ssize_t)size)
		abort();

	paths[0] = mpath;
	err[0] = '\0';
	rc = ingest_file_src_open(paths, 1, &src, err, sizeof err);
	if (rc != 0) {
		if (src || !err[0])
			abort();
		return 0;
	}
	if (ingest_file_src_count(src) != 1 || ingest_file_src_total_bytes(src) != size)
		abort();
	sink += ingest_file_src_identity(src, 0)[0];
	for (;;) {
		err[0] = '\0';
		rc = ingest_file_src_next(src, &raw, err, sizeof err);
		if (rc <= 0) {
			if (rc < 0 && !err[0])
				abort();
			break;
		}
		if (raw.ordinal != n || raw.file_idx != 0)
			abort();
		sink += touch(raw.data, raw.caplen);
		if (ingest_decap_packet(dec, raw.linktype, raw.data, raw.caplen, raw.origlen, raw.ts_ns,
		                        &pkt) == INGEST_STORE) {
			if (pkt.caplen > pkt.origlen)
				abort();
			sink += touch(pkt.frame, pkt.caplen);
		}
		while (ingest_decap_next(dec, &pkt)) {
			if (pkt.caplen > pkt.origlen)
				abort();
			sink += touch(pkt.frame, pkt.caplen);
		}
		if (ingest_file_src_done_bytes(src) > size)
			abort();
		if (++n >= MAX_PACKETS)
			break;
	}
	ingest_file_src_close(src);
	ingest_decap_flush(dec);
	while (ingest_decap_next(dec, &pkt))
		sink += touch(pkt.frame, pkt.caplen);
	(void)sink;
	return 0;
}
