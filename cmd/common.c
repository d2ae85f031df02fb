/*
 * common.c — parsing of sizes and durations, messages, progress lines.
 */
#include "cmd.h"
#include "../index/vault.h"
#include "../store/storedir.h"
#include "../report/vpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

cmd_globals g_cmd;

static void vmsg(const char *kind, const char *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "tapvault%s%s: %s", cmd ? " " : "", cmd ? cmd : "", kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cmd_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", cmd, fmt, ap);
	va_end(ap);
}

void cmd_note(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	if (g_cmd.quiet)
		return;
	va_start(ap, fmt);
	vmsg("", cmd, fmt, ap);
	va_end(ap);
}

int cmd_parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;
	if (!s || !*s || *s == '-' || *s == '+')
		return TV_E_SYNTAX;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return TV_E_SYNTAX;
	if (v < lo || v > hi)
		return TV_E_RANGE;
	*out = v;
	return 0;
}

int cmd_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mul = 1;
	if (!s || !*s || *s == '-')
		return TV_E_SYNTAX;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return TV_E_SYNTAX;
	if (*end) {
		char u = (char)(*end | 0x20);
		switch (u) {
		case 'k': mul = 1ull << 10; break;
		case 'm': mul = 1ull << 20; break;
		case 'g': mul = 1ull << 30; break;
		case 't': mul = 1ull << 40; break;
		case 'b': mul = 1; break;
		default: return TV_E_SYNTAX;
		}
		end++;
		if (*end && strcasecmp(end, "ib") != 0 && strcasecmp(end, "b") != 0)
			return TV_E_SYNTAX;
	}
	if (v * (double)mul > 1.8e19)
		return TV_E_RANGE;
	*out = (uint64_t)(v * (double)mul);
	return 0;
}

int cmd_parse_duration(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;
	if (!s || !*s || *s == '-')
		return TV_E_SYNTAX;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return TV_E_SYNTAX;
	if (*end) {
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400; break;
		default: return TV_E_SYNTAX;
		}
		if (end[1])
			return TV_E_SYNTAX;
	}
	*out = v * mul;
	return 0;
}

void cmd_fmt_bytes(uint64_t n, char *buf, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, cap, "%.2f %s", v, units[u]);
}

void cmd_progress_init(cmd_progress *p)
{
	memset(p, 0, sizeof *p);
	p->enabled = !g_cmd.quiet && isatty(STDERR_FILENO);
	p->start = p->last = tv_clock_mono_ns();
}

void cmd_progress_update(cmd_progress *p, const char *what, uint64_t done, uint64_t total,
                         uint64_t items, const char *unit)
{
	uint64_t now;
	double secs, rate;
	char d[32], t[32], eta[32] = "";
	if (!p->enabled)
		return;
	now = tv_clock_mono_ns();
	if (now - p->last < 250000000ull)
		return;
	p->last = now;
	secs = (double)(now - p->start) / 1e9;
	rate = secs > 0 ? (double)items / secs : 0;
	cmd_fmt_bytes(done, d, sizeof d);
	if (total > 0 && done > 0 && done <= total) {
		double left = secs * (double)(total - done) / (double)done;
		cmd_fmt_bytes(total, t, sizeof t);
		snprintf(eta, sizeof eta, " ETA %d:%02d", (int)left / 60, (int)left % 60);
		fprintf(stderr, "\r%s %s / %s (%3.0f%%) %.0f %s/s%s   ", what, d, t,
		        100.0 * (double)done / (double)total, rate, unit, eta);
	} else {
		fprintf(stderr, "\r%s %s %.0f %s/s   ", what, d, rate, unit);
	}
	p->drawn = 1;
}

void cmd_progress_count(cmd_progress *p, const char *what, uint64_t items, const char *unit)
{
	uint64_t now;
	double secs;
	if (!p->enabled)
		return;
	now = tv_clock_mono_ns();
	if (now - p->last < 250000000ull)
		return;
	p->last = now;
	secs = (double)(now - p->start) / 1e9;
	fprintf(stderr, "\r%s %llu %s (%.0f/s)   ", what, (unsigned long long)items, unit,
	        secs > 0 ? (double)items / secs : 0.0);
	p->drawn = 1;
}

void cmd_progress_end(cmd_progress *p)
{
	if (p->enabled && p->drawn)
		fprintf(stderr, "\r\033[K");
	p->drawn = 0;
}

uint64_t cmd_ctr_live_rejects(const tv_counters *c)
{
	return c->v[TV_CTR_LIVE_REJ_SENDER] + c->v[TV_CTR_LIVE_REJ_VNI] + c->v[TV_CTR_LIVE_REJ_TRUNC];
}

uint64_t cmd_ctr_tunnel_errors(const tv_counters *c)
{
	uint64_t r = 0;
	int i;
	for (i = TV_CTR_DECAP_ETH_TRUNC; i <= TV_CTR_DECAP_TOO_DEEP; i++)
		r += c->v[i];
	return r;
}

void cmd_print_counters(FILE *f, const tv_counters *c, const char *indent)
{
	int i;
	for (i = 0; i < TV_CTR__COUNT; i++)
		if (c->v[i])
			fprintf(f, "%s%-36s %llu\n", indent, tv_counter_name(i),
			        (unsigned long long)c->v[i]);
}

char *cmd_join_args(int argc, char **argv, int first)
{
	size_t len = 1;
	int i;
	char *s;
	for (i = first; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (i = first; i < argc; i++) {
		if (i > first)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

const char *cmd_outfile_why(int rc)
{
	switch (rc) {
	case TV_E_SYMLINK:
		return "it is a symbolic link; refusing to write through it or replace it";
	case TV_E_NOTREG:
		return "it exists and is not a regular file";
	case EISDIR:
		return "it is a folder";
	case EEXIST:
		return "it exists already";
	default:
		return tv_strerror(rc);
	}
}

void cmd_store_error(const char *cmd, const char *dir, int rc)
{
	char why[600];
	switch (rc) {
	case TV_E_NOTFOUND:
		cmd_err(cmd, "%s: not a tapvault store (no index/ inside); check the -s path", dir);
		return;
	case TV_E_LOCKED:
		cmd_err(cmd, "%s: another tapvault ingest is writing to this store (%s/LOCK is held); "
		        "one writer per store", dir, dir);
		return;
	case TV_E_VERSION:
	case TV_E_CORRUPT:
	case TV_E_FORMAT:
		/* a store of another format first: nothing else in it is read */
		if (cmd_store_format_check(cmd, dir) != EXIT_OK)
			return;
		if (store_segs_diagnose(dir, NULL, why, sizeof why)) {
			cmd_err(cmd, "%s: cannot open the store: %s", dir, why);
			return;
		}
		if (rc == TV_E_VERSION)
			cmd_err(cmd, "%s/index: written by a version of LMDB or of the index that this "
			        "build cannot read (it reads store format %d); use a newer tapvault", dir,
			        IDX_FORMAT_VERSION);
		else
			cmd_err(cmd, "%s: the store is damaged: its LMDB index (%s/index/data.mdb) is "
			        "corrupt, or a segment file is shorter than the index says.  Nothing was "
			        "changed.  'tapvault verify -s %s' names the damaged chunks; "
			        "'tapvault reindex -s %s' rebuilds the index from what the segments hold",
			        dir, dir, dir, dir);
		return;
	default:
		cmd_err(cmd, "%s: cannot open the store: %s", dir, tv_strerror(rc));
	}
}

int cmd_store_format_check(const char *cmd, const char *dir)
{
	char why[256];
	if (!idx_format_note(dir, why, sizeof why))
		return EXIT_OK;
	cmd_err(cmd, "%s: %s", dir, why);
	return EXIT_USAGE;
}

void cmd_store_coverage_note(const char *cmd, struct idx_rstore *rs)
{
	idx_coverage cov;
	char note[4600];
	if (idx_rstore_coverage(rs, &cov) == 0 && idx_coverage_note(rs->dir, &cov, note, sizeof note))
		cmd_note(cmd, "%s", note);
}

int cmd_open_stores(const char *cmd, const char *const *paths, int n, struct idx_rstore *rs,
                    int *nopen)
{
	uint8_t (*ids)[16] = NULL;
	int i, j, rc;

	*nopen = 0;
	ids = calloc(n > 0 ? (size_t)n : 1, sizeof *ids);
	if (!ids)
		return EXIT_FAILURE;
	for (i = 0; i < n; i++) {
		rc = idx_rstore_open(paths[i], &rs[*nopen]);
		if (rc) {
			cmd_store_error(cmd, paths[i], rc);
			free(ids);
			return EXIT_USAGE;
		}
		/* the same store under another path (or twice) is the same data:
		 * its identity says so, whatever the spelling */
		idx_store_uuid(rs[*nopen].x, ids[*nopen]);
		for (j = 0; j < *nopen; j++)
			if (memcmp(ids[j], ids[*nopen], 16) == 0)
				break;
		if (j < *nopen) {
			char hex[33];
			int k;
			for (k = 0; k < 16; k++)
				snprintf(hex + 2 * k, 3, "%02x", ids[j][k]);
			cmd_note(cmd, "%s is the same store as %s (store id %s): read once", paths[i],
			         rs[j].dir, hex);
			idx_rstore_close(&rs[*nopen]);
			continue;
		}
		cmd_store_coverage_note(cmd, &rs[*nopen]);
		(*nopen)++;
	}
	free(ids);
	return EXIT_OK;
}

void cmd_fs_describe(const char *path, char *buf, size_t cap)
{
	char real[4096], line[4096], best[4096] = "";
	struct stat st;
	FILE *f;

	snprintf(buf, cap, "the file system of %s", path);
	if (stat(path, &st) != 0 || !realpath(path, real))
		return;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return;
	/* proc(5): ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE ...;
	 * the mount of the store's device whose mount point is the longest
	 * prefix of its path (bind mounts share a device) */
	while (fgets(line, sizeof line, f)) {
		unsigned maj, min;
		char mnt[4096], type[64];
		const char *dash;
		size_t n;
		if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &maj, &min, mnt) != 3 ||
		    maj != major(st.st_dev) || min != minor(st.st_dev))
			continue;
		dash = strstr(line, " - ");
		if (!dash || sscanf(dash + 3, "%63s", type) != 1)
			continue;
		n = strlen(mnt);
		if (strncmp(real, mnt, n) != 0 || (n > 1 && real[n] != '/' && real[n] != '\0'))
			continue;
		if (strlen(mnt) >= strlen(best)) {
			snprintf(best, sizeof best, "%s", mnt);
			snprintf(buf, cap, "%s at %s (the file system of %s)", type, mnt, path);
		}
	}
	fclose(f);
}

void cmd_expr_error(const char *cmd, const char *text, const idx_expr_err *e)
{
	int i;
	cmd_err(cmd, "bad expression: %s", e->msg);
	fprintf(stderr, "  %s\n  ", text);
	for (i = 0; i < e->pos; i++)
		fputc(' ', stderr);
	for (i = 0; i < (e->len > 0 ? e->len : 1); i++)
		fputc('^', stderr);
	fputc('\n', stderr);
}

void cmd_expr_note(const char *cmd, const idx_expr *e)
{
	const char *n = idx_expr_note(e);
	if (n)
		cmd_note(cmd, "note: %s", n);
}

int cmd_parse_ports(const char *s, uint16_t *ports, int *n, int max)
{
	char buf[256], *tok, *save = NULL;
	snprintf(buf, sizeof buf, "%s", s);
	*n = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;
		if (*n >= max || cmd_parse_uint(tok, 1, 65535, &v) != 0)
			return -1;
		ports[(*n)++] = (uint16_t)v;
	}
	return *n > 0 ? 0 : -1;
}

int cmd_store_vnimaps(const char *cmd, const char *store, struct report_vnimap *map)
{
	static report_vnimap_kept k; /* large (messages): not on the stack */
	int rc;

	if (!store)
		return EXIT_OK;
	rc = report_vnimap_load_kept(map, store, &k);
	if (rc) {
		cmd_err(cmd, "%s", k.err);
		/* a bad map, too many or a path too long: the user's to fix (or
		 * to give --vni-map); reading or opening failed: the system's */
		if (rc == TV_E_NOMEM)
			return EXIT_FAILURE;
		return k.content || rc == TV_E_RANGE ? EXIT_USAGE : EXIT_FAILURE;
	}
	if (k.n)
		cmd_note(cmd, "no --vni-map given: using the VNI maps kept in %s: %s", k.dir, k.names);
	return EXIT_OK;
}
