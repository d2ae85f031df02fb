/*
 * fuzz_flows2.c — libFuzzer target for the block decoder of v2_flows
 * (store/FORMAT.md "VPC flow records (v2_flows)", index/flows2.c).
 *
 * Input: the key's window (u32 LE), then the block value.  Whatever the
 * decoder accepts must hold 1..4096 records of that window; encoded again
 * they must decode to the same records, and the new value must be no
 * longer than the raw form.  The same file replays the corpus under the
 * normal compiler (replay_main.c).
 */
#include <stdlib.h>
#include <string.h>

#include "../../index/flows2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static idx2_fbuf *b1, *b2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const tv_flowrec *recs, *again;
	const uint8_t *val;
	size_t n, n2, len;
	uint32_t window;

	if (!b1 && (idx2_fbuf_new(&b1) != 0 || idx2_fbuf_new(&b2) != 0))
		abort();
	if (size < 4)
		return 0;
	window = tv_get_le32(data);
	if (idx2_flows_block_decode(b1, window, data + 4, size - 4, &recs, &n) != 0)
		return 0;
	if (n == 0 || n > IDX2_FLOWS_BLOCK_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if (recs[i].window != window || recs[i].start > recs[i].end)
			abort();
	if (idx2_flows_block_encode(b2, recs, n, &val, &len) != 0)
		abort();
	if (len > IDX2_FLOWS_HDR + n * IDX_FLOW_VAL_LEN)
		abort();
	if (idx2_flows_block_decode(b2, window, val, len, &again, &n2) != 0 || n2 != n ||
	    memcmp(again, recs, n * sizeof *recs) != 0)
		abort();
	return 0;
}
