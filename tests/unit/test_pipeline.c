/*
 * test_pipeline.c — the write pipeline of a vault (index/pipeline*.c):
 * sealers -> one ordered writer -> fdatasync -> one index transaction.
 *
 * Checked from the outside, through what a reader sees in the index and the
 * segment files: chunk order, commit batching, a failed write in the middle
 * of a batch (RLIMIT_FSIZE makes the segment append fail with EFBIG, as a
 * full disk would with ENOSPC), and shutdown; for both sources of the one
 * engine (the file reader, single-threaded and with sealer threads, and
 * live workers) and both flush policies (file: commit_chunks or a flush;
 * live: every writer pass, within the seal interval).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../index/vault.h"
#include "../../index/idx2.h"

#define FRAME 1000

static char g_dir[64];
static uint64_t g_rand = 0x9e3779b97f4a7c15ull;

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void setup(void)
{
	snprintf(g_dir, sizeof g_dir, "/tmp/tv-pipe-XXXXXX");
	cr_assert_not_null(mkdtemp(g_dir));
	strcat(g_dir, "/st");
}

static void teardown(void)
{
	char *slash = strrchr(g_dir, '/');
	*slash = '\0';
	nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Incompressible frames, so that chunk sizes follow the packet count. */
static void make_pkt(tv_pkt *p, uint8_t *frame, uint64_t i)
{
	size_t j;
	memset(p, 0, sizeof *p);
	for (j = 0; j < FRAME; j++) {
		g_rand ^= g_rand << 13;
		g_rand ^= g_rand >> 7;
		g_rand ^= g_rand << 17;
		frame[j] = (uint8_t)g_rand;
	}
	p->ts_ns = 1700000000000000000ull + i * 1000;
	p->frame = frame;
	p->caplen = FRAME;
	p->origlen = FRAME;
	p->tun.vni = (uint32_t)(i % 4);
}

static void cfg_small(idx_vault_cfg *c, int threads, uint32_t commit_chunks)
{
	idx_vault_cfg_default(c);
	c->packer.raw_target = 16 * 1024; /* ~16 packets per chunk */
	c->segs.sync = false;
	c->flows = false;
	c->threads = threads;
	c->commit_chunks = commit_chunks;
}

static int add_n(idx_vault *v, uint64_t from, uint64_t n)
{
	static uint8_t frame[FRAME];
	uint64_t i;
	int rc;
	for (i = from; i < from + n; i++) {
		tv_pkt p;
		make_pkt(&p, frame, i);
		if ((rc = idx_vault_add(v, &p, NULL)) != 0)
			return rc;
	}
	return 0;
}

struct chunks {
	store_chunk_meta m[4096];
	size_t n;
};

static int collect(void *ctx, const idx2_chunk *r)
{
	struct chunks *c = ctx;
	if (c->n < 4096)
		idx2_chunk_meta(r, &c->m[c->n]);
	c->n++;
	return 0;
}

/* What a reader sees now: the indexed chunks in id order. */
static void indexed(struct chunks *c)
{
	idx_rstore rs;
	c->n = 0;
	cr_assert_eq(idx_rstore_open(g_dir, &rs), 0);
	cr_assert_eq(idx2_chunk_foreach(rs.x, collect, c), 0);
	idx_rstore_close(&rs);
}

static uint64_t packets_in(const struct chunks *c)
{
	uint64_t n = 0;
	size_t i;
	for (i = 0; i < c->n; i++)
		n += c->m[i].npkts;
	return n;
}

static void no_problem(void *ctx, const char *msg)
{
	(void)ctx;
	cr_log_error("verify: %s", msg);
}

/* Ids 1..n without a gap, and in each segment the offsets grow with the
 * id: the writer appended them in id order. */
static void ids_in_order(const struct chunks *c)
{
	size_t i;
	for (i = 0; i < c->n; i++) {
		cr_assert_eq(c->m[i].chunk_id, i + 1, "chunk %zu has id %llu", i,
		             (unsigned long long)c->m[i].chunk_id);
		if (i && c->m[i].segment == c->m[i - 1].segment)
			cr_assert_gt(c->m[i].offset, c->m[i - 1].offset, "chunk %zu before chunk %zu on disk",
			             i, i - 1);
		if (i)
			cr_assert_geq(c->m[i].segment, c->m[i - 1].segment);
	}
}

static void verify_deep(void)
{
	idx_rstore rs;
	idx_verify_report rep;
	cr_assert_eq(idx_rstore_open(g_dir, &rs), 0);
	cr_assert_eq(idx_verify_store(&rs, true, no_problem, NULL, &rep), 0);
	cr_assert_eq(rep.chunks_bad, 0);
	cr_assert_eq(rep.unindexed_bytes, 0);
	idx_rstore_close(&rs);
}

TestSuite(pipeline, .init = setup, .fini = teardown, .timeout = 120);

/* Four sealers take chunks of the same size each: they finish in any
 * order, and the writer still appends and commits them in id order. */
static void threaded_chunks_committed_in_id_order_run(void)
{
	idx_vault_cfg cfg;
	idx_vault *v;
	tv_counters ctr;
	struct chunks *c = calloc(1, sizeof *c);
	enum { N = 3000 };

	memset(&ctr, 0, sizeof ctr);
	cfg_small(&cfg, 4, 1);
	cfg.segs.segment_size = 256 * 1024; /* several segments */
	cr_assert_eq(idx_vault_open(g_dir, &cfg, &ctr, NULL, &v), 0);
	cr_assert_eq(add_n(v, 0, N), 0);
	cr_assert_eq(idx_vault_close(v), 0);
	indexed(c);
	cr_assert_gt(c->n, 100, "only %zu chunks", c->n);
	ids_in_order(c);
	cr_assert_eq(packets_in(c), N);
	cr_assert_eq(ctr.v[TV_CTR_STORE_PACKETS], N);
	cr_assert_eq(ctr.v[TV_CTR_STORE_CHUNKS], c->n);
	verify_deep();
	free(c);
}

Test(pipeline, threaded_chunks_committed_in_id_order)
{
	threaded_chunks_committed_in_id_order_run();
}


/* commit_chunks 8: a reader sees nothing of a batch until its eighth
 * chunk is sealed, then all eight at once. */
static void commits_in_batches_of_commit_chunks_run(void)
{
	idx_vault_cfg cfg;
	idx_vault *v;
	struct chunks *c = calloc(1, sizeof *c);
	uint64_t i, sealed_before = 0;
	static uint8_t frame[FRAME];
	size_t seen_sizes[4] = { 0 };
	int nseen = 0;

	cfg_small(&cfg, 1, 8);
	cr_assert_eq(idx_vault_open(g_dir, &cfg, NULL, NULL, &v), 0);
	for (i = 0; i < 600; i++) {
		tv_pkt p;
		make_pkt(&p, frame, i);
		cr_assert_eq(idx_vault_add(v, &p, NULL), 0);
		if (i % 16 == 15) {
			indexed(c);
			cr_assert_eq(c->n % 8, 0, "a reader saw %zu chunks: not a whole batch", c->n);
			if (c->n != sealed_before && nseen < 4)
				seen_sizes[nseen++] = c->n;
			sealed_before = c->n;
		}
	}
	cr_assert_geq(nseen, 3, "batches seen: %d", nseen);
	cr_assert_eq(seen_sizes[0], 8);
	cr_assert_eq(seen_sizes[1], 16);
	/* the flush commits the partial batch */
	cr_assert_eq(idx_vault_flush(v), 0);
	indexed(c);
	cr_assert_eq(packets_in(c), 600);
	cr_assert_eq(idx_vault_close(v), 0);
	ids_in_order(c);
	verify_deep();
	free(c);
}

Test(pipeline, commits_in_batches_of_commit_chunks)
{
	commits_in_batches_of_commit_chunks_run();
}


/*
 * A write fails in the middle of a batch: the chunks of earlier batches
 * are committed, nothing after the failed chunk is, the error is returned,
 * and the packets not stored are counted.  After the next open (recovery)
 * the store verifies, and holds whole chunks only, in id order.
 */
static void fail_mid_batch(int threads)
{
	idx_vault_cfg cfg;
	idx_vault *v;
	idx_recovery rec;
	tv_counters ctr;
	struct chunks *c = calloc(1, sizeof *c);
	struct rlimit rl, old;
	uint64_t added = 0;
	int rc = 0;

	memset(&ctr, 0, sizeof ctr);
	cfg_small(&cfg, threads, 4);
	cr_assert_eq(idx_vault_open(g_dir, &cfg, &ctr, NULL, &v), 0);
	/* the segment may grow to ~22 chunks; the index is in its own file,
	 * far below the limit at this size */
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl = old;
	rl.rlim_cur = 360 * 1024;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	while (rc == 0 && added < 5000) {
		rc = add_n(v, added, 100);
		added += 100;
	}
	if (rc == 0)
		rc = idx_vault_flush(v);
	cr_assert_neq(rc, 0, "no write failed below the file size limit");
	cr_assert(rc == EFBIG || rc == ENOSPC, "error %d: %s", rc, tv_strerror(rc));
	idx_vault_close(v); /* returns the error again */
	indexed(c);
	ids_in_order(c);
	cr_assert_gt(c->n, 0, "nothing was committed before the failure");
	cr_assert_lt(packets_in(c), added);
	cr_assert_gt(ctr.v[TV_CTR_STORE_LOST], 0, "packets not stored are not counted");
	/* what the caller's summary says is stored is what the index holds */
	cr_assert_eq(ctr.v[TV_CTR_STORE_PACKETS], packets_in(c),
	             "stored per the counters %llu, per the index %llu",
	             (unsigned long long)ctr.v[TV_CTR_STORE_PACKETS],
	             (unsigned long long)packets_in(c));
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);

	/* recovery: whole chunks past the index are indexed, a torn tail is cut */
	memset(&ctr, 0, sizeof ctr);
	cr_assert_eq(idx_vault_open(g_dir, &cfg, &ctr, &rec, &v), 0);
	cr_assert_eq(idx_vault_close(v), 0);
	indexed(c);
	ids_in_order(c);
	verify_deep();
	free(c);
}

static void failure_mid_batch_single_thread_run(void)
{
	fail_mid_batch(1);
}

Test(pipeline, failure_mid_batch_single_thread)
{
	failure_mid_batch_single_thread_run();
}


static void failure_mid_batch_threaded_run(void)
{
	fail_mid_batch(3);
}

Test(pipeline, failure_mid_batch_threaded)
{
	failure_mid_batch_threaded_run();
}


/* Closing without a flush: every packet handed to the vault is committed
 * (threaded file ingest: what is queued, being sealed or waiting for the
 * writer is drained first). */
static void close_commits_all_accepted_work_run(void)
{
	idx_vault_cfg cfg;
	idx_vault *v;
	tv_counters ctr;
	struct chunks *c = calloc(1, sizeof *c);
	tv_counters stored;
	idx_rstore rs;

	memset(&ctr, 0, sizeof ctr);
	cfg_small(&cfg, 4, 3);
	cr_assert_eq(idx_vault_open(g_dir, &cfg, &ctr, NULL, &v), 0);
	cr_assert_eq(add_n(v, 0, 1237), 0); /* ends inside a chunk and inside a batch */
	cr_assert_eq(idx_vault_close(v), 0);
	indexed(c);
	cr_assert_eq(packets_in(c), 1237);
	cr_assert_eq(ctr.v[TV_CTR_STORE_LOST], 0);
	cr_assert_eq(idx_rstore_open(g_dir, &rs), 0);
	cr_assert_eq(idx_counters_get(rs.x, &stored), 0);
	idx_rstore_close(&rs);
	cr_assert_eq(stored.v[TV_CTR_STORE_PACKETS], 1237, "committed counters say %llu",
	             (unsigned long long)stored.v[TV_CTR_STORE_PACKETS]);
	ids_in_order(c);
	verify_deep();
	free(c);
}

Test(pipeline, close_commits_all_accepted_work)
{
	close_commits_all_accepted_work_run();
}


/* Opens the vault in g_dir with cfg and starts live ingest with two
 * workers (no free-space reserve). */
static idx_vault *live_open_two(const idx_vault_cfg *cfg, tv_counters *ctr, idx_vault_worker *w[2])
{
	idx_live_cfg lcfg;
	idx_vault *v;
	idx_live_cfg_default(&lcfg);
	lcfg.nworkers = 2;
	lcfg.min_free_auto = false;
	cr_assert_eq(idx_vault_open(g_dir, cfg, ctr, NULL, &v), 0);
	cr_assert_eq(idx_vault_live_start(v, &lcfg), 0);
	cr_assert_eq(idx_vault_worker_new(v, 0, &w[0]), 0);
	cr_assert_eq(idx_vault_worker_new(v, 1, &w[1]), 0);
	return v;
}

/* Live: two workers seal their own chunks; after they finish and the
 * writer stops, everything they accepted is committed, counters included. */
static void live_stop_commits_all_accepted_work_run(void)
{
	idx_vault_cfg cfg;
	idx_vault *v;
	idx_vault_worker *w[2];
	tv_counters ctr;
	struct chunks *c = calloc(1, sizeof *c);
	static uint8_t frame[FRAME];
	uint64_t i, mono = 1;

	memset(&ctr, 0, sizeof ctr);
	cfg_small(&cfg, 1, 1);
	v = live_open_two(&cfg, &ctr, w);
	for (i = 0; i < 999; i++) {
		tv_pkt p;
		make_pkt(&p, frame, i);
		cr_assert_eq(idx_vault_worker_add(w[i % 2], &p, mono++), 0);
	}
	cr_assert_eq(idx_vault_worker_finish(w[0]), 0);
	cr_assert_eq(idx_vault_worker_finish(w[1]), 0);
	cr_assert_eq(idx_vault_live_stop(v), 0);
	cr_assert_eq(idx_vault_close(v), 0);
	indexed(c);
	cr_assert_eq(packets_in(c), 999);
	cr_assert_eq(ctr.v[TV_CTR_STORE_PACKETS], 999);
	verify_deep();
	free(c);
}

Test(pipeline, live_stop_commits_all_accepted_work)
{
	live_stop_commits_all_accepted_work_run();
}


/* The reader of indexed_by_another_process: this test binary run again
 * with TV_PIPELINE_READER=DIR (a fresh exec, so it inherits no lock that a
 * thread of the writing process held: a fork without exec of a threaded
 * process could hang in the child, as it did under ASan).  Prints
 * "CHUNKS PACKETS", or "-1 0" when the index cannot be read. */
__attribute__((constructor)) static void pipeline_reader_main(void)
{
	const char *dir = getenv("TV_PIPELINE_READER");
	struct chunks *c;
	idx_rstore rs;
	long long n = -1;
	unsigned long long pk = 0;
	if (!dir)
		return;
	c = calloc(1, sizeof *c);
	if (c && idx_rstore_open(dir, &rs) == 0) {
		if (idx2_chunk_foreach(rs.x, collect, c) == 0) {
			n = (long long)c->n;
			pk = (unsigned long long)packets_in(c);
		}
		idx_rstore_close(&rs);
	}
	printf("%lld %llu\n", n, pk);
	fflush(stdout);
	_exit(0);
}

/* The number of indexed chunks, as a reader in another process sees it:
 * LMDB does not support opening an environment twice in one process while
 * a thread of it commits (one process, one set of POSIX locks). */
static size_t indexed_by_another_process(uint64_t *pkts)
{
	extern char **environ;
	char var[128], out[128], *argv[] = { (char *)"test_pipeline", NULL };
	char **envp;
	posix_spawn_file_actions_t fa;
	size_t ne = 0, i, got = 0;
	long long n = -1;
	unsigned long long pk = 0;
	int fd[2], st;
	pid_t pid;
	ssize_t r;

	while (environ[ne])
		ne++;
	envp = calloc(ne + 2, sizeof *envp);
	cr_assert_not_null(envp);
	for (i = 0; i < ne; i++)
		envp[i] = environ[i];
	snprintf(var, sizeof var, "TV_PIPELINE_READER=%s", g_dir);
	envp[ne] = var;
	cr_assert_eq(pipe(fd), 0);
	cr_assert_eq(posix_spawn_file_actions_init(&fa), 0);
	cr_assert_eq(posix_spawn_file_actions_adddup2(&fa, fd[1], 1), 0);
	cr_assert_eq(posix_spawn_file_actions_addclose(&fa, fd[0]), 0);
	cr_assert_eq(posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	close(fd[1]);
	while (got < sizeof out - 1 && (r = read(fd[0], out + got, sizeof out - 1 - got)) > 0)
		got += (size_t)r;
	out[got] = 0;
	close(fd[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert_eq(sscanf(out, "%lld %llu", &n, &pk), 2, "the reader printed '%s'", out);
	cr_assert_neq(n, -1, "the other process could not read the index");
	if (pkts)
		*pkts = pk;
	return (size_t)n;
}

/* File policy with sealer threads: no commit holds fewer than
 * commit_chunks chunks before the flush (a writer that falls behind may
 * put more into one), so what a reader sees grows by 8 or more at a time;
 * the flush commits the rest. */
static void threaded_commits_hold_at_least_commit_chunks_run(void)
{
	idx_vault_cfg cfg;
	idx_vault *v;
	struct chunks *c = calloc(1, sizeof *c);
	uint64_t i;
	static uint8_t frame[FRAME];
	size_t before = 0;
	int grew = 0;

	cfg_small(&cfg, 3, 8);
	cr_assert_eq(idx_vault_open(g_dir, &cfg, NULL, NULL, &v), 0);
	for (i = 0; i < 3000; i++) {
		tv_pkt p;
		make_pkt(&p, frame, i);
		cr_assert_eq(idx_vault_add(v, &p, NULL), 0);
		if (i % 8 == 7) {
			size_t n = indexed_by_another_process(NULL);
			cr_assert_geq(n, before);
			cr_assert(n == before || n - before >= 8,
			          "a reader saw %zu chunks after %zu: a commit of fewer than 8", n, before);
			grew += n != before;
			before = n;
		}
	}
	cr_assert_gt(grew, 5, "the reader saw commits only %d times", grew);
	cr_assert_eq(idx_vault_close(v), 0);
	indexed(c);
	cr_assert_eq(packets_in(c), 3000, "%llu of 3000 packets in %zu chunks",
	             (unsigned long long)packets_in(c), c->n);
	ids_in_order(c);
	verify_deep();
	free(c);
}

Test(pipeline, threaded_commits_hold_at_least_commit_chunks)
{
	threaded_commits_hold_at_least_commit_chunks_run();
}


/* Live policy: a chunk is committed within its seal interval (plus one
 * writer pass) while the worker keeps running, with no stop and no flush. */
static void live_commits_within_the_seal_interval_run(void)
{
	idx_vault_cfg cfg;
	idx_live_cfg lcfg;
	idx_vault *v;
	idx_vault_worker *w;
	tv_counters ctr, snap;
	static uint8_t frame[FRAME];
	uint64_t i, t0, seen = 0;
	int err = 0;

	memset(&ctr, 0, sizeof ctr);
	cfg_small(&cfg, 1, 64);
	idx_live_cfg_default(&lcfg);
	lcfg.nworkers = 1;
	lcfg.min_free_auto = false;
	lcfg.seal_interval_ns = 100000000; /* 100 ms */
	cr_assert_eq(idx_vault_open(g_dir, &cfg, &ctr, NULL, &v), 0);
	cr_assert_eq(idx_vault_live_start(v, &lcfg), 0);
	cr_assert_eq(idx_vault_worker_new(v, 0, &w), 0);
	t0 = tv_clock_mono_ns();
	for (i = 0; i < 5; i++) { /* far less than a chunk */
		tv_pkt p;
		make_pkt(&p, frame, i);
		cr_assert_eq(idx_vault_worker_add(w, &p, t0), 0);
	}
	memset(&snap, 0, sizeof snap);
	while ((seen < 5 || snap.v[TV_CTR_STORE_PACKETS] < 5) &&
	       tv_clock_mono_ns() - t0 < 3000000000ull) {
		usleep(10000);
		cr_assert_eq(idx_vault_worker_tick(w, tv_clock_real_ns(), tv_clock_mono_ns()), 0);
		indexed_by_another_process(&seen);
		idx_vault_live_status(v, &snap, &err); /* as of the writer's last pass */
	}
	cr_assert_eq(seen, 5, "after %llu ms a reader sees %llu of 5 packets",
	             (unsigned long long)((tv_clock_mono_ns() - t0) / 1000000),
	             (unsigned long long)seen);
	cr_assert_lt(tv_clock_mono_ns() - t0, 1000000000ull, "visible only after %llu ms",
	             (unsigned long long)((tv_clock_mono_ns() - t0) / 1000000));
	cr_assert_eq(err, 0);
	cr_assert_eq(snap.v[TV_CTR_STORE_PACKETS], 5);
	cr_assert_eq(idx_vault_worker_finish(w), 0);
	cr_assert_eq(idx_vault_live_stop(v), 0);
	cr_assert_eq(idx_vault_close(v), 0);
	cr_assert_eq(ctr.v[TV_CTR_STORE_PACKETS], 5);
	cr_assert_eq(ctr.v[TV_CTR_LIVE_SEALS], 1);
	verify_deep();
}

Test(pipeline, live_commits_within_the_seal_interval)
{
	live_commits_within_the_seal_interval_run();
}


/*
 * Live: a write fails in the middle of the writer's work (the file size
 * limit stands in for a full disk).  The writer stops with the error, the
 * workers see it, and the counters say exactly what the index holds; the
 * store verifies after the next open.
 */
static void live_failure_mid_batch_run(void)
{
	idx_vault_cfg cfg;
	idx_vault *v;
	idx_vault_worker *w[2];
	idx_recovery rec;
	tv_counters ctr;
	struct chunks *c = calloc(1, sizeof *c);
	struct rlimit rl, old;
	static uint8_t frame[FRAME];
	uint64_t i, mono = 1;
	int rc = 0, src;

	memset(&ctr, 0, sizeof ctr);
	cfg_small(&cfg, 1, 1);
	v = live_open_two(&cfg, &ctr, w);
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl = old;
	rl.rlim_cur = 360 * 1024;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	for (i = 0; i < 20000 && rc == 0; i++) {
		tv_pkt p;
		make_pkt(&p, frame, i);
		rc = idx_vault_worker_add(w[i % 2], &p, mono++);
	}
	src = idx_vault_worker_finish(w[0]);
	if (!rc)
		rc = src;
	src = idx_vault_worker_finish(w[1]);
	if (!rc)
		rc = src;
	src = idx_vault_live_stop(v);
	cr_assert(src == EFBIG || src == ENOSPC, "writer error %d: %s", src, tv_strerror(src));
	cr_assert(rc == 0 || rc == src, "worker error %d", rc);
	idx_vault_close(v);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	indexed(c);
	cr_assert_gt(c->n, 0, "nothing was committed before the failure");
	cr_assert_lt(packets_in(c), i);
	cr_assert_eq(ctr.v[TV_CTR_STORE_PACKETS], packets_in(c),
	             "stored per the counters %llu, per the index %llu",
	             (unsigned long long)ctr.v[TV_CTR_STORE_PACKETS],
	             (unsigned long long)packets_in(c));
	memset(&ctr, 0, sizeof ctr);
	cr_assert_eq(idx_vault_open(g_dir, &cfg, &ctr, &rec, &v), 0);
	cr_assert_eq(idx_vault_close(v), 0);
	verify_deep();
	free(c);
}

Test(pipeline, live_failure_mid_batch)
{
	live_failure_mid_batch_run();
}

/* An Ethernet + IPv4 + TCP header at the front of a FRAME-byte frame, so
 * that what a deep verify parses agrees with the packet's tv_l3info. */
static void ipv4_tcp_header(uint8_t *f, const uint8_t src[4], const uint8_t dst[4],
                            uint16_t sport, uint16_t dport)
{
	memset(f, 0, 54);
	f[12] = 0x08; /* IPv4 */
	f[14] = 0x45;
	f[16] = (uint8_t)((FRAME - 14) >> 8);
	f[17] = (uint8_t)(FRAME - 14);
	f[22] = 64;
	f[23] = 6; /* TCP */
	memcpy(f + 26, src, 4);
	memcpy(f + 30, dst, 4);
	f[34] = (uint8_t)(sport >> 8);
	f[35] = (uint8_t)sport;
	f[36] = (uint8_t)(dport >> 8);
	f[37] = (uint8_t)dport;
	f[46] = 0x50; /* data offset 5 */
	f[47] = 0x18; /* PSH ACK */
}

/* Live: a window that closes with more flow records than one hand-off
 * holds (IDX_LIVE_FLOWS_BATCH, 8192) reaches the store in several
 * batches, each record once, and no more than 2 x IDX_LIVE_FLOWS_BATCH
 * records wait for the writer at any time (without the bound all 30,000
 * of a worker's records are queued at once).  Two workers, 30,000
 * one-packet flows each in the first 60 s window; a packet two windows
 * later closes it. */
static void live_flow_window_in_batches_run(void)
{
	enum { PER = 30000 };
	idx_vault_cfg cfg;
	idx_vault *v;
	idx_vault_worker *w[2];
	tv_counters ctr;
	static uint8_t frame[FRAME];
	uint64_t i, mono = 1, n = 0;
	idx_rstore rs;
	int k;

	memset(&ctr, 0, sizeof ctr);
	cfg_small(&cfg, 1, 1);
	cfg.packer.raw_target = 256 * 1024;
	cfg.flows = true;
	cfg.flowtab.interval = 60;
	v = live_open_two(&cfg, &ctr, w);
	for (i = 0; i < 2 * PER + 2; i++) {
		tv_pkt p;
		uint8_t a[4] = { 10, 1, (uint8_t)(i >> 8), (uint8_t)i };
		uint8_t b[4] = { 10, 2, 0, 1 };
		make_pkt(&p, frame, i);
		ipv4_tcp_header(frame, a, b, (uint16_t)(1024 + i / 256), 443);
		if (i >= 2 * PER)
			p.ts_ns += 150ull * 1000000000ull; /* two windows on */
		p.info.l3 = 4;
		p.info.has_ports = 1;
		p.info.ip_len = FRAME - 14;
		p.info.l3_off = 14;
		tv_addr_from_v4(&p.info.key.src, a);
		tv_addr_from_v4(&p.info.key.dst, b);
		p.info.key.sport = (uint16_t)(1024 + i / 256);
		p.info.key.dport = 443;
		p.info.key.proto = 6;
		cr_assert_eq(idx_vault_worker_add(w[i % 2], &p, mono++), 0);
	}
	for (k = 0; k < 2; k++)
		cr_assert_eq(idx_vault_worker_finish(w[k]), 0);
	cr_assert_leq(idx_vault_live_flows_peak(v), 2 * IDX_LIVE_FLOWS_BATCH,
	              "flow records queued at once: %zu", idx_vault_live_flows_peak(v));
	cr_assert_geq(idx_vault_live_flows_peak(v), IDX_LIVE_FLOWS_BATCH);
	cr_assert_eq(idx_vault_live_stop(v), 0);
	cr_assert_eq(idx_vault_close(v), 0);
	cr_assert_eq(idx_rstore_open(g_dir, &rs), 0);
	cr_assert_eq(idx_flows_count(rs.x, &n), 0);
	idx_rstore_close(&rs);
	/* 2 x PER flows in the first window, and the two late packets' own */
	cr_assert_eq(n, 2 * PER + 2, "flow records stored: %llu", (unsigned long long)n);
	cr_assert_eq(ctr.v[TV_CTR_FLOW_RECORDS], 2 * PER + 2);
	verify_deep();
}

Test(pipeline, live_flow_window_in_batches)
{
	live_flow_window_in_batches_run();
}
