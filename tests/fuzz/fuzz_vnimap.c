/*
 * fuzz_vnimap.c — libFuzzer target for the VNI map loader (report/vnimap.c):
 * the text format and the describe-traffic-mirror-sessions /
 * describe-network-interfaces JSON, then the learning pass over it.
 *
 * The input is split at form feeds ('\f', which neither format uses) into
 * up to four files loaded one after another into one fresh map, as several
 * --vni-map options are: the first through report_vnimap_load() on its
 * path (a memfd created once, opened by /proc/self/fd, so nothing is
 * written to disk), the others through report_vnimap_load_mem() on
 * exact-size copies, so a read past the end is caught.
 *
 * Checks: a failed load adds nothing and says why (a NUL-terminated
 * message); entries come in ascending VNI order, each VNI once, with a
 * non-empty NUL-terminated name and at most REPORT_IFACE_MAX_ADDRS
 * addresses; find() agrees with at(); learning then gives every entry
 * without addresses at most one address per family.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../report/vpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT (256u << 10)
#define MAX_PARTS 4

static int mfd = -1;
static char mpath[64];

static void check_str(const char *s, size_t cap, bool nonempty)
{
	size_t n = strnlen(s, cap);
	if (n == cap || (nonempty && n == 0))
		abort();
}

static void check_map(const report_vnimap *m)
{
	const report_iface *f, *prev = NULL;
	size_t i, defined = 0;
	for (i = 0; (f = report_vnimap_at(m, i)) != NULL; i++) {
		check_str(f->name, sizeof f->name, true);
		check_str(f->eni, sizeof f->eni, false);
		check_str(f->account, sizeof f->account, false);
		check_str(f->vpc, sizeof f->vpc, false);
		check_str(f->subnet, sizeof f->subnet, false);
		check_str(f->instance, sizeof f->instance, false);
		check_str(f->region, sizeof f->region, false);
		check_str(f->az, sizeof f->az, false);
		check_str(f->session, sizeof f->session, false);
		check_str(f->filter, sizeof f->filter, false);
		if (f->naddrs > REPORT_IFACE_MAX_ADDRS)
			abort();
		if (f->vni != TV_VNI_NONE && f->vni > REPORT_VNI_MAX)
			abort();
		if (prev && prev->vni >= f->vni)
			abort(); /* ascending, each VNI once */
		if (report_vnimap_find(m, f->vni) != f)
			abort();
		if (f->naddrs && !report_iface_has_addr(f, &f->addrs[f->naddrs - 1]))
			abort();
		if (!f->learned)
			defined++;
		prev = f;
	}
	if (defined != report_vnimap_count(m))
		abort();
}

static void load_part(report_vnimap *m, const uint8_t *p, size_t n, int idx)
{
	char err[512];
	size_t before = report_vnimap_count(m), nat = 0;
	int rc;

	while (report_vnimap_at(m, nat))
		nat++;
	memset(err, 0x55, sizeof err);
	if (idx == 0) {
		if (ftruncate(mfd, 0) != 0 || pwrite(mfd, p, n, 0) != (ssize_t)n)
			abort();
		rc = report_vnimap_load(m, mpath, err, sizeof err);
	} else {
		char *copy = malloc(n ? n : 1);
		if (!copy)
			return;
		memcpy(copy, p, n);
		rc = report_vnimap_load_mem(m, "part", copy, n, err, sizeof err);
		free(copy);
	}
	if (rc != 0) {
		size_t after = 0;
		check_str(err, sizeof err, true);
		while (report_vnimap_at(m, after))
			after++;
		if (report_vnimap_count(m) != before || after != nat)
			abort(); /* nothing is added on error */
	}
	check_map(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const addrs[] = { "10.0.1.5", "10.0.1.6", "2600:1f18::5", "198.51.100.7",
	                                     "fd00:ec2::253" };
	report_vnimap *m;
	tv_addr a[5];
	const uint8_t *p = data, *end = data + size;
	const report_iface *f;
	size_t i;
	int part;

	if (mfd < 0) {
		mfd = memfd_create("fuzz_vnimap", MFD_CLOEXEC);
		if (mfd < 0)
			abort();
		snprintf(mpath, sizeof mpath, "/proc/self/fd/%d", mfd);
	}
	if (size > MAX_INPUT)
		return 0;
	if (report_vnimap_new(&m) != 0)
		abort();
	for (part = 0; part < MAX_PARTS && p <= end; part++) {
		const uint8_t *ff = memchr(p, '\f', (size_t)(end - p));
		size_t n = ff ? (size_t)(ff - p) : (size_t)(end - p);
		load_part(m, p, n, part);
		if (!ff)
			break;
		p = ff + 1;
	}

	/* learning over the loaded entries and a few unnamed VNIs */
	for (i = 0; i < 5; i++)
		if (tv_addr_parse(addrs[i], &a[i]) != 0)
			abort();
	for (i = 0; (f = report_vnimap_at(m, i)) != NULL && i < 16; i++) {
		uint32_t vni = f->vni;
		report_vnimap_learn(m, vni, &a[i % 5], &a[(i + 1) % 5]);
		report_vnimap_learn(m, vni, &a[(i + 2) % 5], &a[i % 5]);
		report_vnimap_learn_outer(m, vni, &a[i % 5]);
	}
	for (i = 0; i < 3; i++) {
		uint32_t vni = size ? (uint32_t)data[i % size] * 65537u : (uint32_t)i;
		if (!report_vnimap_get(m, vni & REPORT_VNI_MAX))
			abort();
		report_vnimap_learn(m, vni & REPORT_VNI_MAX, &a[i], &a[i + 1]);
	}
	if (report_vnimap_learn_error(m) != 0)
		abort();
	report_vnimap_learn_finish(m);
	check_map(m);
	report_vnimap_free(m);
	return 0;
}
