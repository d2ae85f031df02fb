/*
 * ingest.c — `tapvault ingest`: capture files, a UDP listener or an
 * interface into a store.  Options, messages and exit codes; the work is
 * one library call per kind of source:
 *
 *   -r FILE...  idx_ingest_files (index/ingest_files.h): read, decapsulate,
 *               resume, store; --threads N seals chunks on N threads.
 *   -l, -i      idx_capture_* (index/capture.h): one thread per worker,
 *               one writer.  This file keeps the signals: SIGINT/SIGTERM
 *               stop (workers drain their socket for up to a second, emit
 *               their flows and seal), SIGHUP copies the VNI maps again.
 */
#include "cmd.h"
#include "../ingest/ingest.h"
#include "../index/capture.h"
#include "../index/ingest_files.h"
#include "../ingest/tvfile.h"
#include "../store/storedir.h"
#include "../report/vpc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: tapvault ingest -s STORE -r FILE|DIR|- [FILE ...] [OPTIONS]\n"
	        "       tapvault ingest -s STORE -l [ADDR:]PORT | -i IFACE [LIVE OPTIONS]\n"
	        "\n"
	        "Reads pcap or pcapng captures of mirrored traffic, removes the tunnel (VXLAN,\n"
	        "GENEVE, GENEVE+VXLAN), and stores every inner packet in zstd-compressed chunks\n"
	        "indexed by address, port, protocol, 5-tuple, VNI and time.  Frames that are not\n"
	        "tunnelled are stored as they are.  Several files, or a directory (read in the\n"
	        "order of each file's first packet), or '-' for standard input.  A file already\n"
	        "ingested is resumed when the bytes the earlier run read are identical (a\n"
	        "SHA-256 of that prefix is kept), so an interrupted run is simply repeated and a\n"
	        "capture still being written is continued; a different file is stored in full.\n"
	        "\n"
	        "options:\n"
	        "  -s, --store DIR         the store (created if absent)\n"
	        "  -r, --read FILE         a capture file, a directory, or '-'; repeatable;\n"
	        "                          further arguments are more files\n"
	        "      --vxlan-port LIST   UDP ports that carry VXLAN (default 4789)\n"
	        "      --linux-vxlan       also decode Linux's legacy VXLAN port 8472\n"
	        "      --geneve-port LIST  UDP ports that carry GENEVE (default 6081)\n"
	        "      --strict-vxlan      reject VXLAN headers with reserved bits set\n"
	        "      --chunk-size SIZE   seal a chunk at this much raw data (default 1MiB)\n"
	        "      --segment-size SIZE start a new segment file after this (default 1GiB)\n"
	        "      --zstd-level N      zstd compression level 1-19 (default 3)\n"
	        "      --commit-chunks N   chunks per fdatasync + index commit (default 1)\n"
	        "      --threads N         files: threads that compress chunks while the\n"
	        "                          next ones are read (default: CPUs, at most 4;\n"
	        "                          1 reads, compresses and commits in one thread)\n"
	        "      --no-sync           do not fdatasync (tests and benchmarks only)\n"
	        "      --flow-interval S   flow-record aggregation window: 600 (default) or 60\n"
	        "      --flow-max N        flow-table entries before an early flush (default 262144)\n"
	        "      --no-flows          do not synthesise flow records\n"
	        "      --vni-map FILE      copied to STORE/vnimap/ before the store is opened\n"
	        "                          (live: again on SIGHUP), for flows and audit;\n"
	        "                          repeatable\n"
	        "\n"
	        "live sources (run until SIGINT/SIGTERM; SIGHUP copies the VNI maps again):\n"
	        "  -l, --listen [ADDR:]PORT receive the mirror as UDP datagrams (VXLAN; GENEVE\n"
	        "                          with --geneve or a --geneve-port); '[::]:4789' for IPv6\n"
	        "  -i, --interface IFACE   capture with libpcap instead (one worker)\n"
	        "      --geneve            the -l port carries GENEVE (default port 6081)\n"
	        "      --all               -i: store every frame, not only tunnel ports\n"
	        "      --workers N         receive threads, one socket each (default 1)\n"
	        "      --allow CIDR,...    accept mirror traffic only from these senders\n"
	        "      --allow-vni LIST    store only these VNIs (comma-separated)\n"
	        "      --seal-interval DUR seal a chunk this long after its first packet, so\n"
	        "                          queries see it (default 1s; e.g. 500ms, 2s)\n"
	        "      --max-size SIZE     keep at most this much segment data (oldest\n"
	        "                          segments are deleted with their index entries)\n"
	        "      --max-age DUR       delete segments whose newest packet is older\n"
	        "      --flow-max-age DUR  delete flow records of older windows (default 2 x\n"
	        "                          --max-age; unlimited without --max-age)\n"
	        "      --min-free SIZE|N%%  stop storing (counted) while the store's file system\n"
	        "                          has less free; storing starts again once there is\n"
	        "                          (default: 1G or 5%% of it, the smaller)\n"
	        "      --rcvbuf SIZE       socket receive buffer to ask for (default 64M)\n"
	        "      --user NAME         after opening the sockets, chown the store to NAME\n"
	        "                          and drop root (setgroups, setgid, setuid)\n"
	        "  -q, --quiet             no progress line and no summary\n"
	        "  -v, --verbose           print every counter in the summary\n"
	        "  -h, --help              this help\n"
	        "\n"
	        "SIZE takes K, M, G, T suffixes (powers of 1024).  A progress line (bytes,\n"
	        "packets/s, ETA) is drawn on a terminal; nothing when stderr is not one.\n");
}

/* What opening the store found and repaired after an interrupted run. */
static void report_recovery(const char *store, const idx_recovery *rec)
{
	if (rec->chunks_indexed && rec->torn_bytes)
		cmd_note("ingest", "%s: recovered after an interrupted run: %llu whole chunks (%llu packets) "
		         "indexed, %llu torn bytes cut from segment %u at offset %llu",
		         store, (unsigned long long)rec->chunks_indexed,
		         (unsigned long long)rec->packets_indexed, (unsigned long long)rec->torn_bytes,
		         rec->torn_segment, (unsigned long long)rec->torn_offset);
	else if (rec->chunks_indexed)
		cmd_note("ingest", "%s: recovered after an interrupted run: %llu whole chunks (%llu packets) "
		         "indexed, no torn tail", store, (unsigned long long)rec->chunks_indexed,
		         (unsigned long long)rec->packets_indexed);
	else if (rec->torn_bytes)
		cmd_note("ingest", "%s: recovered after an interrupted run: %llu torn bytes cut from "
		         "segment %u at offset %llu", store, (unsigned long long)rec->torn_bytes,
		         rec->torn_segment, (unsigned long long)rec->torn_offset);
	if (rec->flows_rebuilt)
		cmd_note("ingest", "%s: the last run did not stop cleanly: %llu flow records of its "
		         "newest windows rebuilt from the stored packets", store,
		         (unsigned long long)rec->flows_rebuilt);
}

/* Says which rule decided what of a capture file is already stored. */
static void report_source_rule(const char *path, const idx_source_resume *r)
{
	switch (r->rule) {
	case IDX_SRC_RESUMED:
		cmd_note("ingest", "resuming %s after %llu packets (prefix of %llu bytes identical)", path,
		         (unsigned long long)r->packets_done, (unsigned long long)r->prefix_len);
		break;
	case IDX_SRC_DIFFERS:
		cmd_note("ingest", "%s is new: its first 64 KiB match a file stored before, but its first "
		         "%llu bytes differ from what was stored; storing all its packets", path,
		         (unsigned long long)r->prefix_len);
		break;
	case IDX_SRC_SHORTER:
		cmd_note("ingest", "%s is new: its first 64 KiB match a file stored before, but it is "
		         "shorter than the %llu bytes stored of it; storing all its packets", path,
		         (unsigned long long)r->prefix_len);
		break;
	case IDX_SRC_UNKNOWN_PREFIX:
		cmd_note("ingest", "%s is new: its first 64 KiB match a file stored by an older tapvault "
		         "that kept no hash of what it read, so it cannot be compared; storing all its "
		         "packets", path);
		break;
	default: break;
	}
}

enum {
	OPT_VXLAN_PORT = 1000,
	OPT_LINUX_VXLAN,
	OPT_GENEVE_PORT,
	OPT_STRICT_VXLAN,
	OPT_CHUNK_SIZE,
	OPT_SEGMENT_SIZE,
	OPT_LEVEL,
	OPT_COMMIT_CHUNKS,
	OPT_THREADS,
	OPT_NO_SYNC,
	OPT_FLOW_INTERVAL,
	OPT_FLOW_MAX,
	OPT_NO_FLOWS,
	OPT_GENEVE,
	OPT_ALL,
	OPT_WORKERS,
	OPT_ALLOW,
	OPT_ALLOW_VNI,
	OPT_SEAL_INTERVAL,
	OPT_MAX_SIZE,
	OPT_MAX_AGE,
	OPT_FLOW_MAX_AGE,
	OPT_MIN_FREE,
	OPT_RCVBUF,
	OPT_VNI_MAP,
	OPT_USER,
};

static const struct option longopts[] = {
	{ "store", required_argument, NULL, 's' },
	{ "read", required_argument, NULL, 'r' },
	{ "vxlan-port", required_argument, NULL, OPT_VXLAN_PORT },
	{ "linux-vxlan", no_argument, NULL, OPT_LINUX_VXLAN },
	{ "geneve-port", required_argument, NULL, OPT_GENEVE_PORT },
	{ "strict-vxlan", no_argument, NULL, OPT_STRICT_VXLAN },
	{ "chunk-size", required_argument, NULL, OPT_CHUNK_SIZE },
	{ "segment-size", required_argument, NULL, OPT_SEGMENT_SIZE },
	{ "zstd-level", required_argument, NULL, OPT_LEVEL },
	{ "commit-chunks", required_argument, NULL, OPT_COMMIT_CHUNKS },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "no-sync", no_argument, NULL, OPT_NO_SYNC },
	{ "flow-interval", required_argument, NULL, OPT_FLOW_INTERVAL },
	{ "flow-max", required_argument, NULL, OPT_FLOW_MAX },
	{ "no-flows", no_argument, NULL, OPT_NO_FLOWS },
	{ "listen", required_argument, NULL, 'l' },
	{ "interface", required_argument, NULL, 'i' },
	{ "geneve", no_argument, NULL, OPT_GENEVE },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "allow-vni", required_argument, NULL, OPT_ALLOW_VNI },
	{ "seal-interval", required_argument, NULL, OPT_SEAL_INTERVAL },
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },
	{ "max-age", required_argument, NULL, OPT_MAX_AGE },
	{ "flow-max-age", required_argument, NULL, OPT_FLOW_MAX_AGE },
	{ "min-free", required_argument, NULL, OPT_MIN_FREE },
	{ "rcvbuf", required_argument, NULL, OPT_RCVBUF },
	{ "vni-map", required_argument, NULL, OPT_VNI_MAP },
	{ "user", required_argument, NULL, OPT_USER },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* ================================================================ live */

#define MAX_VNI_MAPS 16

/* What -l/-i need beyond the capture's own configuration. */
struct live_opts {
	idx_capture_cfg cap;
	const char *listen;     /* -l as given */
	bool flow_age_given;
	const char *vni_maps[MAX_VNI_MAPS];
	int nmaps;
	const char *user;
	bool min_free_given;
};

static void on_map_copied(void *ctx, const char *path, const char *name, int rc)
{
	const char *store = ctx;
	if (rc)
		cmd_err("ingest", "--vni-map %s: copying to %s/%s/%s failed: %s (the copy in the store "
		        "is unchanged)", path, store, STORE_VNIMAP_DIR, name, tv_strerror(rc));
	else
		cmd_note("ingest", "VNI map %s copied to %s/%s/%s", path, store, STORE_VNIMAP_DIR, name);
}

/*
 * Copies each --vni-map file into STORE/vnimap/ (store_vnimap_copy), so
 * that `flows` and `audit` find the map that was in force.  before_writer:
 * at start, before the store is opened, so that no packet is stored
 * without its map beside it (a crash right after the start included); a
 * running writer's copies are left alone, and the start then says the
 * store is locked.  Failures are reported, not fatal.
 */
static void copy_vni_maps(const char *store, const char *const *maps, int n, bool before_writer)
{
	int rc = store_vnimap_copy(store, maps, (size_t)n, before_writer, on_map_copied,
	                           (void *)store, NULL);
	if (rc && rc != TV_E_LOCKED)
		cmd_err("ingest", "--vni-map: cannot copy the maps into %s/%s: %s", store,
		        STORE_VNIMAP_DIR, tv_strerror(rc));
}

/*
 * Gives the store to NAME, then becomes NAME for good.  Runs before the
 * store is opened: from the second start on the store already belongs to
 * NAME, so root must not open, create or chown anything in it by name
 * (NAME could have put links there); store_chown_tree walks through
 * descriptors only, and everything else is done as NAME.
 */
static int drop_root(const char *store, const char *name)
{
	struct passwd *pw = getpwnam(name);
	store_chown_counts cc;
	uint64_t left;
	int rc;
	if (!pw) {
		cmd_err("ingest", "--user %s: no such user", name);
		return EXIT_USAGE;
	}
	rc = store_chown_tree(store, pw->pw_uid, pw->pw_gid, &cc);
	if (rc == TV_E_SYMLINK || rc == EPERM) {
		cmd_err("ingest", "%s: %s; refusing to give it to %s (name the store's real folder, one "
		        "that belongs to root or to %s)", store,
		        rc == EPERM ? "belongs to another user" : tv_strerror(rc), name, name);
		return EXIT_USAGE;
	}
	if (rc) {
		cmd_err("ingest", "%s: cannot give the store to %s: %s (%llu entries failed)", store, name,
		        tv_strerror(rc), (unsigned long long)cc.failed);
		return EXIT_FAILURE;
	}
	left = cc.symlinks + cc.multilinked + cc.special + cc.too_deep;
	if (left)
		cmd_note("ingest", "%s: left %llu entries as they were when giving the store to %s: %llu "
		         "symbolic links (never followed), %llu files with several hard links, %llu special "
		         "files, %llu folders deeper than %d levels", store, (unsigned long long)left, name,
		         (unsigned long long)cc.symlinks, (unsigned long long)cc.multilinked,
		         (unsigned long long)cc.special, (unsigned long long)cc.too_deep, TV_TREE_MAX_DEPTH);
	if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		cmd_err("ingest", "--user %s: cannot drop privileges: %s", name, strerror(errno));
		return EXIT_FAILURE;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		cmd_err("ingest", "--user %s: root could be regained; refusing to run", name);
		return EXIT_FAILURE;
	}
	cmd_note("ingest", "running as %s (uid %u, gid %u)", name, (unsigned)pw->pw_uid,
	         (unsigned)pw->pw_gid);
	return 0;
}

static void print_live_summary(const tv_counters *c, double secs)
{
	char b1[32], b2[32], b3[32];
	cmd_fmt_bytes(c->v[TV_CTR_LIVE_RECEIVED_BYTES], b1, sizeof b1);
	cmd_fmt_bytes(c->v[TV_CTR_STORE_RAW_BYTES], b2, sizeof b2);
	cmd_fmt_bytes(c->v[TV_CTR_STORE_COMP_BYTES], b3, sizeof b3);
	printf("received %llu datagrams (%s) in %.2f s; kernel drops %llu\n",
	       (unsigned long long)c->v[TV_CTR_LIVE_RECEIVED], b1, secs,
	       (unsigned long long)c->v[TV_CTR_LIVE_KERNEL_DROPS]);
	/* rejected = its parts; a tunnel error is no reject: the datagram is
	 * stored as its outer frame */
	printf("rejected %llu (sender %llu, vni %llu, oversize %llu); %llu with tunnel errors "
	       "(stored as outer frames)\n",
	       (unsigned long long)cmd_ctr_live_rejects(c),
	       (unsigned long long)c->v[TV_CTR_LIVE_REJ_SENDER], (unsigned long long)c->v[TV_CTR_LIVE_REJ_VNI],
	       (unsigned long long)c->v[TV_CTR_LIVE_REJ_TRUNC], (unsigned long long)cmd_ctr_tunnel_errors(c));
	printf("stored   %llu packets in %llu chunks: %s raw, %s on disk (ratio %.2f)\n",
	       (unsigned long long)c->v[TV_CTR_STORE_PACKETS], (unsigned long long)c->v[TV_CTR_STORE_CHUNKS],
	       b2, b3,
	       c->v[TV_CTR_STORE_COMP_BYTES]
	               ? (double)c->v[TV_CTR_STORE_RAW_BYTES] / (double)c->v[TV_CTR_STORE_COMP_BYTES]
	               : 0.0);
	if (c->v[TV_CTR_STORE_NOSPACE_PKTS])
		printf("no space %llu packets not stored (too little free space on the store's file "
		       "system)\n", (unsigned long long)c->v[TV_CTR_STORE_NOSPACE_PKTS]);
	if (c->v[TV_CTR_RET_SEGMENTS] || c->v[TV_CTR_RET_FLOWS])
		printf("retention deleted %llu segments (%llu chunks), %llu flow records\n",
		       (unsigned long long)c->v[TV_CTR_RET_SEGMENTS], (unsigned long long)c->v[TV_CTR_RET_CHUNKS],
		       (unsigned long long)c->v[TV_CTR_RET_FLOWS]);
	printf("flows    %llu flow records\n", (unsigned long long)c->v[TV_CTR_FLOW_RECORDS]);
	if (g_cmd.verbose) {
		printf("counters:\n");
		cmd_print_counters(stdout, c, "  ");
	}
}

/* Storing stopped (or started again) for want of free space: how much is
 * kept free, on which file system, and by which rule. */
static void report_no_space(const char *store, const struct live_opts *o, const tv_counters *snap,
                            bool stopped)
{
	idx_free_space fs;
	char fsd[4400], keep[32], avail[32], size[32], rule[80];
	cmd_fs_describe(store, fsd, sizeof fsd);
	if (idx_live_keep_free(&o->cap.live, store, &fs) != 0)
		memset(&fs, 0, sizeof fs);
	cmd_fmt_bytes(fs.keep, keep, sizeof keep);
	cmd_fmt_bytes(fs.avail, avail, sizeof avail);
	cmd_fmt_bytes(fs.size, size, sizeof size);
	if (o->min_free_given)
		snprintf(rule, sizeof rule, "as --min-free asks");
	else
		snprintf(rule, sizeof rule, "the default: the smaller of 1 GiB and 5%% of its %s", size);
	if (stopped)
		cmd_err("ingest", "%s: not storing: keeping %s free on %s, %s; %s free now; %llu packets "
		        "not stored so far", store, keep, fsd, rule, avail,
		        (unsigned long long)snap->v[TV_CTR_STORE_NOSPACE_PKTS]);
	else
		cmd_note("ingest", "%s: storing again: %s free on %s, keeping %s", store, avail, fsd, keep);
}

/* Opens the socket(s) or the interface; says where it listens. */
static int live_open(struct live_opts *o, idx_capture **cap)
{
	idx_capture_cfg *cc = &o->cap;
	char err[512];
	int rc;

	if (cc->iface && cc->workers > 1) {
		cmd_note("ingest", "-i captures through one libpcap handle: using 1 worker, not %d",
		         cc->workers);
		cc->workers = 1;
	}
	cc->listen = o->listen != NULL;
	if (o->listen && ingest_listen_parse(o->listen, cc->geneve ? 6081 : 4789, &cc->addr, &cc->v6,
	                                     &cc->port) != 0) {
		cmd_err("ingest", "-l '%s': expected [ADDR:]PORT, [IPv6]:PORT or ADDR", o->listen);
		return EXIT_USAGE;
	}
	rc = idx_capture_open(cc, cap, err, sizeof err);
	if (rc && o->listen) {
		cmd_err("ingest", "-l %s: %s", o->listen, err);
		return rc == EADDRINUSE || rc == EACCES ? EXIT_FAILURE : EXIT_USAGE;
	}
	if (rc) {
		cmd_err("ingest", "-i %s", err);
		return EXIT_FAILURE;
	}
	if (o->listen) {
		char gb[32], ab[32], as[TV_ADDR_STRLEN];
		ingest_udp_cfg ucfg;
		ingest_udp_cfg_default(&ucfg);
		if (cc->rcvbuf)
			ucfg.rcvbuf = (int)cc->rcvbuf;
		tv_addr_format(&cc->addr, as, sizeof as);
		if (cc->v6 && tv_addr_is_v4(&cc->addr))
			snprintf(as, sizeof as, "::");
		cmd_fmt_bytes((uint64_t)idx_capture_rcvbuf(*cap), gb, sizeof gb);
		cmd_fmt_bytes((uint64_t)ucfg.rcvbuf, ab, sizeof ab);
		cmd_note("ingest", "listening on %s port %u (%s) with %d worker(s); receive buffer %s "
		         "granted (%s asked)%s",
		         as, cc->port, cc->geneve ? "GENEVE" : "VXLAN", cc->workers, gb, ab,
		         idx_capture_rcvbuf(*cap) < ucfg.rcvbuf ? ": raise net.core.rmem_max or run as root"
		                                                : "");
	} else {
		cmd_note("ingest", "capturing on %s%s", cc->iface, cc->all ? " (every frame)" : "");
	}
	return EXIT_OK;
}

/* The main thread while the workers run: signals, the writer's state, the
 * free-space guard's messages.  Returns EXIT_OK or EXIT_FAILURE. */
static int live_wait(const char *store, const struct live_opts *o, idx_capture *cap,
                     const sigset_t *set)
{
	uint64_t last_log = tv_clock_mono_ns(), last_nospace = 0, nospace_stored = 0;
	int stopped_by = 0, ret = EXIT_OK;
	bool nospace = false;

	while (!idx_capture_stopped(cap)) {
		struct timespec to = { 0, 250000000 };
		tv_counters snap;
		int werr, sig = sigtimedwait(set, NULL, &to);
		if (sig == SIGINT || sig == SIGTERM) {
			stopped_by = sig;
			break;
		}
		if (sig == SIGHUP) {
			cmd_note("ingest", "SIGHUP: copying the VNI maps again");
			copy_vni_maps(store, o->vni_maps, o->nmaps, false);
		}
		idx_capture_status(cap, &snap, &werr);
		if (werr) {
			cmd_err("ingest", "%s: the writer stopped: %s", store, tv_strerror(werr));
			ret = EXIT_FAILURE;
			break;
		}
		if (snap.v[TV_CTR_STORE_NOSPACE_PKTS] > last_nospace) {
			report_no_space(store, o, &snap, true);
			last_nospace = snap.v[TV_CTR_STORE_NOSPACE_PKTS];
			nospace_stored = snap.v[TV_CTR_STORE_PACKETS];
			nospace = true;
		} else if (nospace && snap.v[TV_CTR_STORE_PACKETS] > nospace_stored) {
			report_no_space(store, o, &snap, false);
			nospace = false;
		}
		if (g_cmd.verbose && tv_clock_mono_ns() - last_log >= 10000000000ull) {
			last_log = tv_clock_mono_ns();
			cmd_note("ingest", "received %llu, stored %llu, kernel drops %llu, rejected %llu",
			         (unsigned long long)snap.v[TV_CTR_LIVE_RECEIVED],
			         (unsigned long long)snap.v[TV_CTR_STORE_PACKETS],
			         (unsigned long long)snap.v[TV_CTR_LIVE_KERNEL_DROPS],
			         (unsigned long long)cmd_ctr_live_rejects(&snap));
		}
	}
	if (stopped_by)
		cmd_note("ingest", "%s: storing what was received", stopped_by == SIGINT ? "SIGINT" : "SIGTERM");
	return ret;
}

static void live_finish_err(void *ctx, const char *msg)
{
	cmd_err("ingest", "%s: %s", (const char *)ctx, msg);
}

static int run_live(const char *store, struct live_opts *o, tv_counters *ctr)
{
	idx_capture *cap = NULL;
	idx_recovery rec;
	sigset_t set;
	uint64_t t0 = tv_clock_mono_ns();
	int rc, ret, step, wk;

	umask(077);
	/* Signals go to the main thread only, taken with sigtimedwait.
	 * Blocked from the start: a SIGTERM while the store is recovered
	 * (after "listening on") is then a clean stop, not a kill. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if ((ret = live_open(o, &cap)) != EXIT_OK)
		return ret;
	if (o->user && (ret = drop_root(store, o->user)) != 0)
		goto out;
	copy_vni_maps(store, o->vni_maps, o->nmaps, true);
	/* the threads inherit the mask set above */
	rc = idx_capture_start(cap, store, ctr, &rec, &step, &wk);
	if (rc) {
		/* the store was opened (and recovered) before a later step failed */
		if (step != IDX_CAPTURE_STEP_OPEN)
			report_recovery(store, &rec);
		if (step == IDX_CAPTURE_STEP_OPEN)
			cmd_store_error("ingest", store, rc);
		else if (step == IDX_CAPTURE_STEP_WRITER)
			cmd_err("ingest", "%s: cannot start the writer: %s", store, tv_strerror(rc));
		else
			cmd_err("ingest", "cannot start worker %d: %s", wk, tv_strerror(rc));
		ret = step == IDX_CAPTURE_STEP_OPEN && (rc == TV_E_VERSION || rc == TV_E_CORRUPT)
		              ? EXIT_USAGE : EXIT_FAILURE;
		goto out;
	}
	report_recovery(store, &rec);
	ret = live_wait(store, o, cap, &set);
	if (idx_capture_finish(cap, live_finish_err, (void *)store) != 0)
		ret = EXIT_FAILURE;
	cap = NULL;
	if (!g_cmd.quiet)
		print_live_summary(ctr, (double)(tv_clock_mono_ns() - t0) / 1e9);
out:
	idx_capture_finish(cap, NULL, NULL);
	return ret;
}

/* "30s", "10m", "500ms" -> ns */
static int parse_dur_ns(const char *s, uint64_t *ns)
{
	size_t n = strlen(s);
	uint64_t v;
	if (n > 2 && strcmp(s + n - 2, "ms") == 0) {
		char b[32];
		if (n - 2 >= sizeof b)
			return -1;
		memcpy(b, s, n - 2);
		b[n - 2] = '\0';
		if (cmd_parse_uint(b, 1, 86400000, &v))
			return -1;
		*ns = v * 1000000u;
		return 0;
	}
	if (cmd_parse_duration(s, &v) || v == 0 || v > 100ull * 365 * 86400)
		return -1;
	*ns = v * 1000000000u;
	return 0;
}


/* Everything `ingest` was told. */
struct ingest_opts {
	const char *store;
	const char **files;
	int nfiles;
	bool linux_vxlan;
	int threads;               /* 0: not given */
	ingest_decap_cfg dcfg;
	idx_vault_cfg vcfg;
	struct live_opts lo;
};

/* --min-free SIZE or N%. */
static int parse_min_free(struct ingest_opts *o, const char *arg)
{
	size_t n = strlen(arg);
	uint64_t val;
	if (n > 1 && arg[n - 1] == '%') {
		char b[16];
		snprintf(b, sizeof b, "%.*s", (int)(n - 1), arg);
		if (cmd_parse_uint(b, 0, 90, &val)) {
			cmd_err("ingest", "--min-free '%s': expected a size or 0%%-90%%", arg);
			return -1;
		}
		o->lo.cap.live.min_free_pct = (uint32_t)val;
		o->lo.cap.live.min_free = 0;
	} else if (cmd_parse_size(arg, &val) == 0) {
		o->lo.cap.live.min_free = val;
		o->lo.cap.live.min_free_pct = 0;
	} else {
		cmd_err("ingest", "--min-free '%s': expected a size (1G) or a percentage (5%%)", arg);
		return -1;
	}
	o->lo.min_free_given = true;
	o->lo.cap.live.min_free_auto = false;
	return 0;
}

/* --allow-vni N[,N...] */
static int parse_allow_vni(struct ingest_opts *o, const char *arg)
{
	char buf[65536], *tok, *save = NULL;
	uint64_t val;
	snprintf(buf, sizeof buf, "%s", arg);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->lo.cap.nvnis >= IDX_CAPTURE_MAX_VNIS || cmd_parse_uint(tok, 0, 16777215, &val)) {
			cmd_err("ingest", "--allow-vni: '%s': expected VNIs 0-16777215, at most %d", tok,
			        IDX_CAPTURE_MAX_VNIS);
			return -1;
		}
		o->lo.cap.vnis[o->lo.cap.nvnis++] = (uint32_t)val;
	}
	return 0;
}

/* The options of live sources.  0: taken, 1: not one of them, -1: bad
 * (said on stderr). */
static int parse_live_opt(struct ingest_opts *o, int c, const char *arg)
{
	struct live_opts *lo = &o->lo;
	uint64_t val;
	const char *bad;
	int rc;

	switch (c) {
	case 'l': lo->listen = arg; return 0;
	case 'i': lo->cap.iface = arg; return 0;
	case OPT_GENEVE: lo->cap.geneve = true; return 0;
	case OPT_ALL: lo->cap.all = true; return 0;
	case OPT_WORKERS:
		if (cmd_parse_uint(arg, 1, 256, &val)) {
			cmd_err("ingest", "--workers '%s': expected a number from 1 to 256", arg);
			return -1;
		}
		lo->cap.workers = (int)val;
		return 0;
	case OPT_ALLOW:
		if ((rc = ingest_allow_parse(&lo->cap.allow, arg, &bad)) != 0) {
			if (rc == TV_E_RANGE)
				cmd_err("ingest", "--allow: more than %d networks", INGEST_ALLOW_MAX);
			else
				cmd_err("ingest", "--allow: '%s': expected CIDR[,CIDR...] "
				        "(10.0.0.0/16, 2001:db8::/32, or an address)", bad ? bad : arg);
			return -1;
		}
		return 0;
	case OPT_ALLOW_VNI: return parse_allow_vni(o, arg);
	case OPT_SEAL_INTERVAL:
		if (parse_dur_ns(arg, &val) || val < 10000000u || val > 3600000000000ull) {
			cmd_err("ingest", "--seal-interval '%s': expected 10ms to 1h (e.g. 1s, 500ms)", arg);
			return -1;
		}
		lo->cap.live.seal_interval_ns = val;
		return 0;
	case OPT_MAX_SIZE:
		if (cmd_parse_size(arg, &val) || val < (256u << 10)) {
			cmd_err("ingest", "--max-size '%s': expected a size of at least 256K", arg);
			return -1;
		}
		lo->cap.live.max_size = val;
		return 0;
	case OPT_MAX_AGE:
		if (parse_dur_ns(arg, &val)) {
			cmd_err("ingest", "--max-age '%s': expected a duration (90m, 7d)", arg);
			return -1;
		}
		lo->cap.live.max_age_ns = val;
		return 0;
	case OPT_FLOW_MAX_AGE:
		if (parse_dur_ns(arg, &val)) {
			cmd_err("ingest", "--flow-max-age '%s': expected a duration (30d)", arg);
			return -1;
		}
		lo->cap.live.flow_max_age_ns = val;
		lo->flow_age_given = true;
		return 0;
	case OPT_MIN_FREE: return parse_min_free(o, arg);
	case OPT_RCVBUF:
		if (cmd_parse_size(arg, &val) || val < 4096 || val > (1u << 30)) {
			cmd_err("ingest", "--rcvbuf '%s': expected a size from 4K to 1G", arg);
			return -1;
		}
		lo->cap.rcvbuf = val;
		return 0;
	case OPT_VNI_MAP:
		if (lo->nmaps >= MAX_VNI_MAPS) {
			cmd_err("ingest", "--vni-map: at most %d files", MAX_VNI_MAPS);
			return -1;
		}
		lo->vni_maps[lo->nmaps++] = arg;
		return 0;
	case OPT_USER: lo->user = arg; return 0;
	default: return 1;
	}
}

/* Decapsulation and store options.  0: taken, 1: not one of them, -1: bad. */
static int parse_store_opt(struct ingest_opts *o, int c, const char *arg)
{
	ingest_decap_cfg *d = &o->dcfg;
	idx_vault_cfg *vc = &o->vcfg;
	uint64_t val;

	switch (c) {
	case OPT_VXLAN_PORT:
		if (cmd_parse_ports(arg, d->vxlan_ports, &d->n_vxlan_ports, INGEST_MAX_PORTS - 1)) {
			cmd_err("ingest", "--vxlan-port '%s': expected a comma-separated list of ports 1-65535", arg);
			return -1;
		}
		return 0;
	case OPT_LINUX_VXLAN: o->linux_vxlan = true; return 0;
	case OPT_GENEVE_PORT:
		if (cmd_parse_ports(arg, d->geneve_ports, &d->n_geneve_ports, INGEST_MAX_PORTS)) {
			cmd_err("ingest", "--geneve-port '%s': expected a comma-separated list of ports 1-65535", arg);
			return -1;
		}
		return 0;
	case OPT_STRICT_VXLAN: d->strict_vxlan = true; return 0;
	case OPT_CHUNK_SIZE:
		if (cmd_parse_size(arg, &val) || val < 4096 || val > (64u << 20)) {
			cmd_err("ingest", "--chunk-size '%s': expected a size from 4K to 64M", arg);
			return -1;
		}
		vc->packer.raw_target = (uint32_t)val;
		return 0;
	case OPT_SEGMENT_SIZE:
		if (cmd_parse_size(arg, &val) || val < (64u << 10)) {
			cmd_err("ingest", "--segment-size '%s': expected a size of at least 64K", arg);
			return -1;
		}
		vc->segs.segment_size = val;
		return 0;
	case OPT_LEVEL:
		if (cmd_parse_uint(arg, 1, 19, &val)) {
			cmd_err("ingest", "--zstd-level '%s': expected a number from 1 to 19", arg);
			return -1;
		}
		vc->packer.zstd_level = (int)val;
		return 0;
	case OPT_COMMIT_CHUNKS:
		if (cmd_parse_uint(arg, 1, 64, &val)) {
			cmd_err("ingest", "--commit-chunks '%s': expected a number from 1 to 64", arg);
			return -1;
		}
		vc->commit_chunks = (uint32_t)val;
		return 0;
	case OPT_THREADS:
		if (cmd_parse_uint(arg, 1, 64, &val)) {
			cmd_err("ingest", "--threads '%s': expected a number from 1 to 64", arg);
			return -1;
		}
		o->threads = (int)val;
		return 0;
	case OPT_NO_SYNC: vc->segs.sync = false; return 0;
	case OPT_FLOW_INTERVAL:
		if (cmd_parse_uint(arg, 1, 86400, &val) || (val != 60 && val != 600)) {
			cmd_err("ingest", "--flow-interval '%s': expected 60 or 600 (seconds), "
			        "the two aggregation intervals VPC Flow Logs offer", arg);
			return -1;
		}
		vc->flowtab.interval = (uint32_t)val;
		return 0;
	case OPT_FLOW_MAX:
		if (cmd_parse_uint(arg, 1024, 1u << 28, &val)) {
			cmd_err("ingest", "--flow-max '%s': expected a number from 1024 to 268435456", arg);
			return -1;
		}
		vc->flowtab.max_flows = (uint32_t)val;
		return 0;
	case OPT_NO_FLOWS: vc->flows = false; return 0;
	default: return 1;
	}
}

/* Live sources: defaults that follow from other options, then run. */
static int ingest_live(struct ingest_opts *o, tv_counters *ctr)
{
	struct live_opts *lo = &o->lo;
	idx_vault_cfg *vc = &o->vcfg;

	if (o->linux_vxlan && o->dcfg.n_vxlan_ports < INGEST_MAX_PORTS)
		o->dcfg.vxlan_ports[o->dcfg.n_vxlan_ports++] = 8472;
	if (lo->cap.live.max_age_ns && !lo->flow_age_given)
		lo->cap.live.flow_max_age_ns = 2 * lo->cap.live.max_age_ns;
	/* without --min-free the library keeps the smaller of 1 GiB and
	 * 5 % of the store's own file system free (idx_live_keep_free) */
	lo->cap.live.min_free_auto = !lo->min_free_given;
	if (lo->cap.live.max_size && lo->cap.live.max_size < 4 * vc->segs.segment_size) {
		uint64_t seg = lo->cap.live.max_size / 4;
		if (seg < (64u << 10))
			seg = 64u << 10;
		cmd_note("ingest", "--max-size is under 4 segments: segments of %llu bytes instead",
		         (unsigned long long)seg);
		vc->segs.segment_size = seg;
	}
	if (vc->packer.raw_target > vc->segs.segment_size / 2)
		vc->packer.raw_target = (uint32_t)(vc->segs.segment_size / 2 < 4096
		                                            ? 4096 : vc->segs.segment_size / 2);
	lo->cap.decap = o->dcfg;
	lo->cap.vault = *vc;
	return run_live(o->store, lo, ctr);
}

/* What idx_ingest_files reports as it goes. */
struct files_ui {
	const char *store;
	cmd_progress prog;
};

static void files_event(void *ctx, const idx_files_event *ev)
{
	struct files_ui *ui = ctx;
	switch (ev->kind) {
	case IDX_FILES_RECOVERED: report_recovery(ui->store, ev->rec); break;
	case IDX_FILES_SOURCE: report_source_rule(ev->path, ev->res); break;
	case IDX_FILES_READ_ERROR:
		cmd_progress_end(&ui->prog);
		cmd_err("ingest", "%s", ev->msg);
		break;
	case IDX_FILES_PROGRESS:
		cmd_progress_update(&ui->prog, "ingest", ev->done_bytes, ev->total_bytes, ev->packets, "pkt");
		break;
	case IDX_FILES_INTERRUPTED: cmd_note("ingest", "interrupted: storing what was read"); break;
	default: break;
	}
}

/* The error of idx_ingest_files, said once; returns the exit code. */
static int files_failed(const char *store, const idx_files_result *r)
{
	switch (r->step) {
	case IDX_FILES_STEP_SOURCES:
		cmd_err("ingest", "%s", r->msg);
		return EXIT_USAGE;
	case IDX_FILES_STEP_OPEN:
		cmd_store_error("ingest", store, r->err);
		return r->err == TV_E_VERSION || r->err == TV_E_CORRUPT ? EXIT_USAGE : EXIT_FAILURE;
	case IDX_FILES_STEP_DECAP:
		cmd_err("ingest", "%s", tv_strerror(r->err));
		return EXIT_FAILURE;
	case IDX_FILES_STEP_COMPARE:
		cmd_err("ingest", "%s: cannot compare it with what is stored: %s", r->path,
		        tv_strerror(r->err));
		break;
	case IDX_FILES_STEP_STORE:
		cmd_err("ingest", "%s: storing failed: %s", store, tv_strerror(r->err));
		break;
	case IDX_FILES_STEP_CLOSE:
		cmd_err("ingest", "%s: final commit failed: %s", store, tv_strerror(r->err));
		break;
	default: break;
	}
	if (r->close_err)
		cmd_err("ingest", "%s: final commit failed: %s", store, tv_strerror(r->close_err));
	return EXIT_FAILURE;
}

static void print_files_summary(const tv_counters *ctr, const idx_files_result *r,
                                const idx_vault_cfg *vc)
{
	double secs = (double)r->elapsed_ns / 1e9;
	char b1[32], b2[32], b3[32];
	uint64_t rejected = cmd_ctr_tunnel_errors(ctr);
	int i;
	cmd_fmt_bytes(ctr->v[TV_CTR_SRC_BYTES], b1, sizeof b1);
	cmd_fmt_bytes(ctr->v[TV_CTR_STORE_RAW_BYTES], b2, sizeof b2);
	cmd_fmt_bytes(ctr->v[TV_CTR_STORE_COMP_BYTES], b3, sizeof b3);
	printf("read     %llu packets (%s) from %d file(s) in %.2f s (%.0f packets/s)\n",
	       (unsigned long long)ctr->v[TV_CTR_SRC_PACKETS], b1, r->nfiles, secs,
	       secs > 0 ? (double)ctr->v[TV_CTR_SRC_PACKETS] / secs : 0.0);
	if (r->nbad) {
		printf("faults   %d file(s) not read to the end (packets before each fault are stored):",
		       r->nbad);
		for (i = 0; i < r->nbad && i < IDX_FILES_BAD_NAMED; i++)
			printf(" %s", r->bad[i]);
		printf("%s\n", r->nbad > IDX_FILES_BAD_NAMED ? " ..." : "");
	}
	if (ctr->v[TV_CTR_SRC_SKIPPED_DUP])
		printf("skipped  %llu packets already in the store\n",
		       (unsigned long long)ctr->v[TV_CTR_SRC_SKIPPED_DUP]);
	printf("decap    %llu tunnelled (vxlan %llu, geneve %llu, geneve+vxlan %llu), "
	       "%llu not tunnelled, %llu with tunnel errors\n",
	       (unsigned long long)ctr->v[TV_CTR_DECAP_OK], (unsigned long long)ctr->v[TV_CTR_DECAP_VXLAN],
	       (unsigned long long)ctr->v[TV_CTR_DECAP_GENEVE],
	       (unsigned long long)ctr->v[TV_CTR_DECAP_GENEVE_VXLAN],
	       (unsigned long long)ctr->v[TV_CTR_DECAP_NOT_TUNNELLED], (unsigned long long)rejected);
	printf("stored   %llu packets in %llu chunks: %s raw, %s on disk (ratio %.2f)\n",
	       (unsigned long long)ctr->v[TV_CTR_STORE_PACKETS],
	       (unsigned long long)ctr->v[TV_CTR_STORE_CHUNKS], b2, b3,
	       ctr->v[TV_CTR_STORE_COMP_BYTES]
	               ? (double)ctr->v[TV_CTR_STORE_RAW_BYTES] / (double)ctr->v[TV_CTR_STORE_COMP_BYTES]
	               : 0.0);
	if (ctr->v[TV_CTR_STORE_LOST])
		printf("lost     %llu packets read but not stored: the store could not be written "
		       "(the error above); an ingest of the same files again adds them\n",
		       (unsigned long long)ctr->v[TV_CTR_STORE_LOST]);
	if (vc->flows)
		printf("flows    %llu flow records (%u s windows)%s\n",
		       (unsigned long long)ctr->v[TV_CTR_FLOW_RECORDS], vc->flowtab.interval,
		       ctr->v[TV_CTR_FLOW_EARLY_FLUSH] ? ", flow table flushed early (cap reached)" : "");
	if (ctr->v[TV_CTR_SRC_LINKTYPE])
		printf("dropped  %llu packets of an unsupported link type\n",
		       (unsigned long long)ctr->v[TV_CTR_SRC_LINKTYPE]);
	if (g_cmd.verbose) {
		printf("counters:\n");
		cmd_print_counters(stdout, ctr, "  ");
	}
}

/* Capture files: one library call; this prints and picks the exit code. */
static int ingest_files(struct ingest_opts *o, tv_counters *ctr)
{
	static idx_files_result res; /* large (file names): not on the stack */
	struct files_ui ui;
	idx_files_cfg fc;
	int ret = EXIT_OK;

	if (o->linux_vxlan && o->dcfg.n_vxlan_ports < INGEST_MAX_PORTS)
		o->dcfg.vxlan_ports[o->dcfg.n_vxlan_ports++] = 8472;
	if (!o->threads) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		o->threads = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (int)ncpu;
	}
	o->vcfg.threads = o->threads;
	memset(&fc, 0, sizeof fc);
	fc.store = o->store;
	fc.files = o->files;
	fc.nfiles = o->nfiles;
	fc.decap = o->dcfg;
	fc.vault = o->vcfg;
	fc.stop = &stop_requested;
	fc.cb = files_event;
	fc.ctx = &ui;
	ui.store = o->store;
	cmd_progress_init(&ui.prog);
	copy_vni_maps(o->store, o->lo.vni_maps, o->lo.nmaps, true);
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	if (idx_ingest_files(&fc, ctr, &res) != 0) {
		cmd_progress_end(&ui.prog);
		ret = files_failed(o->store, &res);
		if (!res.opened)
			return ret;
	}
	cmd_progress_end(&ui.prog);
	if (ret == EXIT_OK && res.read_errors)
		ret = EXIT_USAGE;
	if (!g_cmd.quiet)
		print_files_summary(ctr, &res, &o->vcfg);
	return ret;
}

/* Which source, and options that belong to the other kind. 0 or -1. */
/* Each --vni-map must load as a VNI map before anything is copied or
 * stored: a map that `flows` and `audit` would refuse later is refused
 * now, naming the file and the line.  Returns the number of bad maps. */
static int check_vni_maps(const struct live_opts *lo)
{
	int i, bad = 0;
	for (i = 0; i < lo->nmaps; i++) {
		report_vnimap *m = NULL;
		char err[512];
		int rc = report_vnimap_new(&m);
		err[0] = 0;
		if (rc == 0)
			rc = report_vnimap_load(m, lo->vni_maps[i], err, sizeof err);
		report_vnimap_free(m);
		if (rc) {
			cmd_err("ingest", "--vni-map %s", err[0] ? err : tv_strerror(rc));
			bad++;
		}
	}
	return bad;
}

static int check_sources(const struct ingest_opts *o)
{
	const struct live_opts *lo = &o->lo;
	bool live = lo->listen || lo->cap.iface;
	if (!o->store) {
		cmd_err("ingest", "no store given: use -s DIR");
		return -1;
	}
	if (live && (o->nfiles || (lo->listen && lo->cap.iface))) {
		cmd_err("ingest", "give one source: -r FILE..., -l [ADDR:]PORT or -i IFACE");
		return -1;
	}
	if (o->threads && live) {
		cmd_err("ingest", "--threads is for capture files (-r); live sources use --workers");
		return -1;
	}
	if (live)
		return 0;
	if (lo->cap.live.max_size || lo->cap.live.max_age_ns || lo->cap.workers > 1 || lo->user ||
	    lo->cap.nvnis || lo->cap.allow.n) {
		cmd_err("ingest", "--max-size, --max-age, --workers, --allow, --allow-vni and --user "
		        "are for live sources (-l, -i)");
		return -1;
	}
	if (o->nfiles == 0) {
		cmd_err("ingest", "nothing to read: give -r FILE, a directory, or -");
		return -1;
	}
	return 0;
}

int cmd_ingest(int argc, char **argv)
{
	static struct ingest_opts o; /* large (VNI list): not on the stack */
	tv_counters ctr;
	int c, rc, ret;

	memset(&o, 0, sizeof o);
	o.files = calloc((size_t)argc + 1, sizeof *o.files);
	if (!o.files)
		return EXIT_FAILURE;
	ingest_decap_cfg_default(&o.dcfg);
	idx_vault_cfg_default(&o.vcfg);
	memset(&ctr, 0, sizeof ctr);
	o.lo.cap.workers = 1;
	idx_live_cfg_default(&o.lo.cap.live);

	optind = 0; /* 0: GNU getopt re-initialises (the demo calls several commands) */
	while ((c = getopt_long(argc, argv, "s:r:l:i:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o.store = optarg; break;
		case 'r': o.files[o.nfiles++] = optarg; break;
		case 'q': g_cmd.quiet = 1; break;
		case 'v': g_cmd.verbose++; break;
		case 'h': usage(stdout); free(o.files); return EXIT_OK;
		default:
			rc = parse_live_opt(&o, c, optarg);
			if (rc == 1)
				rc = parse_store_opt(&o, c, optarg);
			if (rc != 0)
				goto usage_fail;
		}
	}
	while (optind < argc)
		o.files[o.nfiles++] = argv[optind++];
	if (check_sources(&o) != 0)
		goto usage_fail;
	if (check_vni_maps(&o.lo) != 0) {
		free(o.files);
		return EXIT_USAGE;
	}
	/* a store of another format is refused before anything in it changes
	 * (the VNI maps are copied, and --user chowns, before it is opened) */
	if ((ret = cmd_store_format_check("ingest", o.store)) != EXIT_OK) {
		free(o.files);
		return ret;
	}
	if (o.lo.listen || o.lo.cap.iface)
		ret = ingest_live(&o, &ctr);
	else
		ret = ingest_files(&o, &ctr);
	free(o.files);
	return ret;
usage_fail:
	usage(stderr);
	free(o.files);
	return EXIT_USAGE;
}
