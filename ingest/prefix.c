/*
 * prefix.c — the SHA-256 of the first n bytes of a capture file, carried
 * forward as the file is read.
 *
 * A file is resumed only when the bytes an earlier run consumed are
 * identical (index/vault.c "source marks"), so the store keeps, with each
 * source mark, the length of the consumed prefix and its SHA-256.  This
 * object computes that hash: it reads the file through its own pread()
 * calls on the descriptor libpcap reads from (so it hashes the same file,
 * and never moves libpcap's position), and only ever moves forward, so a
 * file is hashed once however often the digest is asked for.
 */
#include "ingest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREFIX_BUF (256u * 1024)

struct ingest_prefix {
	int fd;
	tv_sha256_ctx h;
	uint64_t len;   /* bytes hashed into h */
	uint8_t *buf;   /* bytes [buf_off, buf_off + buf_n) of the file */
	uint64_t buf_off;
	size_t buf_n;
};

int ingest_prefix_new(ingest_prefix **out)
{
	ingest_prefix *p = calloc(1, sizeof *p);
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
	*out = p;
	return 0;
}

void ingest_prefix_free(ingest_prefix *p)
{
	if (!p)
		return;
	free(p->buf);
	free(p);
}

void ingest_prefix_start(ingest_prefix *p, int fd)
{
	p->fd = fd;
	p->len = 0;
	p->buf_off = 0;
	p->buf_n = 0;
	tv_sha256_init(&p->h);
}

int ingest_prefix_advance(ingest_prefix *p, uint64_t to)
{
	while (p->len < to) {
		uint64_t in_buf;
		size_t take;
		if (p->len < p->buf_off || p->len >= p->buf_off + p->buf_n) {
			ssize_t n;
			if (p->fd < 0)
				return EBADF;
			do
				n = pread(p->fd, p->buf, PREFIX_BUF, (off_t)p->len);
			while (n < 0 && errno == EINTR);
			if (n < 0)
				return errno;
			if (n == 0)
				return TV_E_TRUNCATED; /* the file ends before `to` */
			p->buf_off = p->len;
			p->buf_n = (size_t)n;
		}
		in_buf = p->buf_off + p->buf_n - p->len;
		take = (size_t)(in_buf < to - p->len ? in_buf : to - p->len);
		tv_sha256_update(&p->h, p->buf + (p->len - p->buf_off), take);
		p->len += take;
	}
	return p->len == to ? 0 : TV_E_RANGE; /* never backwards */
}

uint64_t ingest_prefix_len(const ingest_prefix *p)
{
	return p->len;
}

void ingest_prefix_digest(const ingest_prefix *p, uint8_t out[32])
{
	tv_sha256_ctx copy = p->h;
	tv_sha256_final(&copy, out);
}
