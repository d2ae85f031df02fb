/*
 * prefix.c — the SHA-256 of the first n bytes of a capture file, carried
 * forward as the file is read.
 *
 * A file is resumed only when the bytes an earlier run consumed are
 * identical (index/vault.c "source marks"), so the store keeps, with each
 * source mark, the length of the consumed prefix and its SHA-256.  This
 * object computes that hash: it reads the file through its own pread()
 * calls on a duplicate of the descriptor the capture reader reads from (so
 * it hashes the same file, never moves the reader's position, and can
 * finish a file the reader has closed already), and only ever moves
 * forward, so a file is hashed once however often the digest is asked for.
 *
 * Threaded, the hashing runs on a thread of its own: the reader posts how
 * far the hash must reach (once per packet: an atomic store, and a wake-up
 * once PREFIX_WAKE bytes are waiting), and only a digest needs the hash to
 * get there; what the hasher has not reached by then (it may not have been
 * given a CPU) the caller hashes itself.  Nobody hashes past the posted
 * length, so the state stands exactly at the last post whenever no step is
 * under way: the digest is of that prefix, whatever the reader has read
 * beyond it.
 */
#include "ingest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREFIX_BUF (256u * 1024)
/* The idle hasher is woken when this many bytes wait (70 us of hashing at
 * SHA-NI speed): about once per this many bytes the reader posts. */
#define PREFIX_WAKE (128u * 1024)

struct ingest_prefix {
	bool threaded;
	uint64_t want;         /* the last length posted (the caller's) */
	/* the hash: the hasher's while busy, else under mu */
	int fd;                /* a duplicate, owned; -1: none */
	tv_sha256_ctx h;
	uint64_t len;          /* bytes hashed into h */
	uint8_t *buf;          /* bytes [buf_off, buf_off + buf_n) of the file */
	uint64_t buf_off;
	size_t buf_n;
	/* threaded */
	pthread_mutex_t mu;
	pthread_cond_t work;   /* hasher: bytes to hash, or stop */
	pthread_cond_t idle;   /* waiters: the hasher's step ended */
	_Atomic uint64_t target;  /* = want, for the hasher */
	_Atomic uint64_t wake_at; /* the sleeping hasher wants a post of this; else UINT64_MAX */
	_Atomic int err;          /* first error since the start (sticky) */
	bool busy;             /* someone (hasher or caller) hashes outside mu */
	int waiters;           /* callers waiting for a step to end: the hasher
	                        * goes on without waiting for PREFIX_WAKE bytes */
	bool stop;
	bool started;
	pthread_t th;
};

/*
 * One step from byte `at` (the hashed length) towards `to`: hashes what the
 * read-ahead buffer holds of [at, to), reading PREFIX_BUF bytes from `at`
 * first when it holds none of them.  Sets *n to the bytes hashed; returns
 * 0, TV_E_TRUNCATED (the file ends at `at`) or an errno.
 */
static int hash_step(ingest_prefix *p, int fd, uint64_t at, uint64_t to, size_t *n)
{
	uint64_t in_buf;
	*n = 0;
	if (at < p->buf_off || at >= p->buf_off + p->buf_n) {
		ssize_t got;
		if (fd < 0)
			return EBADF;
		do
			got = pread(fd, p->buf, PREFIX_BUF, (off_t)at);
		while (got < 0 && errno == EINTR);
		if (got < 0)
			return errno;
		if (got == 0)
			return TV_E_TRUNCATED; /* the file ends before `to` */
		p->buf_off = at;
		p->buf_n = (size_t)got;
	}
	in_buf = p->buf_off + p->buf_n - at;
	*n = (size_t)(in_buf < to - at ? in_buf : to - at);
	tv_sha256_update(&p->h, p->buf + (at - p->buf_off), *n);
	return 0;
}

/* In the caller's thread (not threaded): hashes up to `to`. */
static int hash_to(ingest_prefix *p, uint64_t to)
{
	while (p->len < to) {
		size_t n;
		int rc = hash_step(p, p->fd, p->len, to, &n);
		if (rc)
			return rc;
		p->len += n;
	}
	return 0;
}

/* Threaded: one hash_step towards `to` with mu released (busy says a step
 * is in progress); entered and left with mu held.  A failure is kept in
 * err, which only a start clears. */
static void step_unlocked(ingest_prefix *p, uint64_t to)
{
	uint64_t at = p->len;
	int fd = p->fd, rc;
	size_t n;
	p->busy = true;
	pthread_mutex_unlock(&p->mu);
	rc = hash_step(p, fd, at, to, &n);
	pthread_mutex_lock(&p->mu);
	p->busy = false;
	if (rc)
		atomic_store(&p->err, rc);
	else
		p->len += n;
}

static void *hasher_main(void *arg)
{
	ingest_prefix *p = arg;
	pthread_setname_np(pthread_self(), "tv-prefix");
	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		uint64_t tgt = atomic_load(&p->target);
		if (atomic_load(&p->err) || p->busy || p->len >= tgt ||
		    (!p->waiters && tgt - p->len < PREFIX_WAKE)) {
			if (p->waiters)
				pthread_cond_broadcast(&p->idle);
			/* Sleep until a post reaches wake_at (never after an
			 * error: only a start clears it).  wake_at is stored
			 * before target is read again, and a post stores target
			 * before it reads wake_at (both sequentially consistent):
			 * either this sees the post, or the post sees wake_at and
			 * signals under mu. */
			if (!atomic_load(&p->err) && !p->busy) {
				atomic_store(&p->wake_at, p->len + PREFIX_WAKE);
				tgt = atomic_load(&p->target);
				if (tgt > p->len && (p->waiters || tgt - p->len >= PREFIX_WAKE)) {
					atomic_store(&p->wake_at, UINT64_MAX);
					continue;
				}
			}
			pthread_cond_wait(&p->work, &p->mu);
			continue;
		}
		step_unlocked(p, tgt);
		if (p->waiters)
			pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int ingest_prefix_new(bool threaded, ingest_prefix **out)
{
	ingest_prefix *p = calloc(1, sizeof *p);
	int rc;
	*out = NULL;
	if (!p)
		return TV_E_NOMEM;
	p->buf = malloc(PREFIX_BUF);
	if (!p->buf) {
		free(p);
		return TV_E_NOMEM;
	}
	p->fd = -1;
	tv_sha256_init(&p->h);
	atomic_init(&p->target, 0);
	atomic_init(&p->wake_at, UINT64_MAX);
	atomic_init(&p->err, 0);
	if (threaded) {
		p->threaded = true;
		pthread_mutex_init(&p->mu, NULL);
		pthread_cond_init(&p->work, NULL);
		pthread_cond_init(&p->idle, NULL);
		rc = tv_thread_start(&p->th, hasher_main, p); /* takes no signals */
		if (rc) {
			ingest_prefix_free(p);
			return rc;
		}
		p->started = true;
	}
	*out = p;
	return 0;
}

void ingest_prefix_free(ingest_prefix *p)
{
	if (!p)
		return;
	if (p->threaded) {
		if (p->started) {
			pthread_mutex_lock(&p->mu);
			p->stop = true;
			pthread_cond_signal(&p->work);
			pthread_mutex_unlock(&p->mu);
			pthread_join(p->th, NULL);
		}
		pthread_cond_destroy(&p->idle);
		pthread_cond_destroy(&p->work);
		pthread_mutex_destroy(&p->mu);
	}
	if (p->fd >= 0)
		close(p->fd);
	free(p->buf);
	free(p);
}

int ingest_prefix_start(ingest_prefix *p, int fd)
{
	int nfd = -1, rc = 0;
	if (fd >= 0 && (nfd = dup(fd)) < 0)
		rc = errno;
	if (p->threaded) {
		/* no new piece of the old file; wait for the one in hand */
		pthread_mutex_lock(&p->mu);
		atomic_store(&p->target, 0);
		p->waiters++;
		while (p->busy)
			pthread_cond_wait(&p->idle, &p->mu);
		p->waiters--;
	}
	if (p->fd >= 0)
		close(p->fd);
	p->fd = nfd;
	p->len = 0;
	p->buf_off = 0;
	p->buf_n = 0;
	p->want = 0;
	tv_sha256_init(&p->h);
	atomic_store(&p->err, rc);
	atomic_store(&p->wake_at, PREFIX_WAKE); /* as the sleeping hasher would now want */
	if (p->threaded)
		pthread_mutex_unlock(&p->mu);
	return rc;
}

int ingest_prefix_post(ingest_prefix *p, uint64_t to)
{
	int rc;
	if (to < p->want)
		return TV_E_RANGE; /* never backwards */
	p->want = to;
	if (!p->threaded) {
		if ((rc = atomic_load_explicit(&p->err, memory_order_relaxed)) != 0)
			return rc;
		rc = hash_to(p, to);
		if (rc)
			atomic_store_explicit(&p->err, rc, memory_order_relaxed);
		return rc;
	}
	atomic_store(&p->target, to);
	if (to >= atomic_load(&p->wake_at)) {
		pthread_mutex_lock(&p->mu);
		atomic_store(&p->wake_at, UINT64_MAX); /* one wake-up is enough */
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->mu);
	}
	return atomic_load_explicit(&p->err, memory_order_relaxed);
}

/*
 * Threaded: returns with mu held once the hash stands at the last post (or
 * failed).  When the hasher is not at work (asleep, or not given a CPU:
 * with every core busy sealing that can take milliseconds) the caller
 * hashes the rest itself; it waits only for a step the hasher is in.
 */
static int wait_hashed(ingest_prefix *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->len < p->want && !atomic_load(&p->err)) {
		if (p->busy) {
			p->waiters++;
			pthread_cond_wait(&p->idle, &p->mu);
			p->waiters--;
			continue;
		}
		step_unlocked(p, p->want);
	}
	/* a hasher that slept through the caller's steps wakes on later posts */
	atomic_store(&p->wake_at, p->len + PREFIX_WAKE);
	return atomic_load(&p->err);
}

int ingest_prefix_advance(ingest_prefix *p, uint64_t to)
{
	int rc = ingest_prefix_post(p, to);
	if (rc || !p->threaded)
		return rc;
	rc = wait_hashed(p);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

uint64_t ingest_prefix_len(const ingest_prefix *p)
{
	return p->want;
}

int ingest_prefix_digest(ingest_prefix *p, uint8_t out[32])
{
	tv_sha256_ctx copy;
	int rc;
	if (p->threaded) {
		rc = wait_hashed(p);
		copy = p->h;
		pthread_mutex_unlock(&p->mu);
	} else {
		rc = atomic_load_explicit(&p->err, memory_order_relaxed);
		copy = p->h;
	}
	if (rc)
		return rc;
	tv_sha256_final(&copy, out);
	return 0;
}
