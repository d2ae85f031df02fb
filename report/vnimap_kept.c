/*
 * vnimap_kept.c — the VNI maps ingest keeps in STORE/vnimap/ (vpc.h,
 * report_vnimap_load_kept), which flows and audit load when they are given
 * no --vni-map: the copy made when the packets were stored says what the
 * VNIs stood for then.
 */
#include "vpc.h"
#include "../store/storedir.h"

#include <stdio.h>
#include <string.h>

int report_vnimap_load_kept(report_vnimap *m, const char *store, report_vnimap_kept *k)
{
	char names[REPORT_VNIMAP_KEPT_MAX][256], where[4400], err[512];
	size_t i, used = 0;
	int rc, fd;

	memset(k, 0, sizeof *k);
	if ((rc = store_path(store, STORE_VNIMAP_DIR, k->dir, sizeof k->dir)) != 0) {
		snprintf(k->err, sizeof k->err, "%s: path too long", store);
		return rc;
	}
	if ((rc = store_vnimap_list(store, names, REPORT_VNIMAP_KEPT_MAX, &k->n)) != 0) {
		snprintf(k->err, sizeof k->err, "%s: %s", k->dir, tv_strerror(rc));
		return rc;
	}
	if (k->n > REPORT_VNIMAP_KEPT_MAX) {
		snprintf(k->err, sizeof k->err, "%s holds %zu files; give the maps with --vni-map", k->dir,
		         k->n);
		return TV_E_RANGE;
	}
	for (i = 0; i < k->n; i++) {
		snprintf(where, sizeof where, "%s/%s", k->dir, names[i]);
		if ((rc = store_vnimap_open(store, names[i], &fd)) != 0) {
			snprintf(k->err, sizeof k->err, "%s (a VNI map kept in the store): %s", where,
			         tv_strerror(rc));
			return rc;
		}
		if ((rc = report_vnimap_load_fd(m, fd, where, err, sizeof err)) != 0) {
			k->content = true;
			snprintf(k->err, sizeof k->err, "%s (a VNI map kept in the store; --vni-map replaces them)",
			         err);
			return rc;
		}
		if (used < sizeof k->names)
			used += (size_t)snprintf(k->names + used, sizeof k->names - used, "%s%s",
			                         i ? ", " : "", names[i]);
	}
	return 0;
}
