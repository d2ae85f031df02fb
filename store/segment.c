/*
 * segment.c — the append-only segment files of one store
 * (store/FORMAT.md "Directory layout", "Segment file", "Durability and
 * recovery").
 *
 * One store_segs handle is used by one thread at a time.  Only the newest
 * segment is written, through one O_RDWR descriptor; reads of other
 * segments go through a small cache of O_RDONLY descriptors, each opened
 * once and checked against the segment header when it is opened.
 */
#include "store.h"
#include "chunk2.h"
#include "storedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const uint8_t seg_magic[8] = { 'T', 'V', 'S', 'E', 'G', 'M', 'T', '1' };

/* Segment header field offsets (FORMAT.md "Segment header"). */
enum {
	SH_MAGIC = 0,
	SH_VERSION = 8,
	SH_FLAGS = 10,
	SH_SEGMENT = 12,
	SH_UUID = 16,
	SH_CREATED = 32,
	SH_RESERVED = 40,
};

#define SEG_NAME_LEN 18 /* "seg-" + 10 digits + ".tvs" */
#define FD_CACHE 8

struct store_segs {
	store_segs_cfg cfg;
	char *segdir;
	int dirfd; /* -1: read-only and segments/ does not exist yet */
	uint8_t uuid[16];
	bool check_uuid;

	uint32_t newest;  /* highest segment number present */
	uint32_t maxseen; /* highest number ever seen or made: never reused */

	int wfd; /* newest segment, O_RDWR; -1 when none is open */
	uint32_t wseg;
	uint64_t wsize;
	bool wdirty;

	struct {
		uint32_t seg; /* 0 = free */
		int fd;
	} cache[FD_CACHE];
	unsigned cache_next;

	store_chunk *ck;  /* for scan */
	bool ck_live;     /* ck holds the chunk a scan's callback is given */
	uint8_t *sbuf;
	size_t sbuf_cap;
};

void store_segs_cfg_default(store_segs_cfg *cfg)
{
	cfg->segment_size = (uint64_t)1 << 30;
	cfg->writable = false;
	cfg->sync = true;
	cfg->version = STORE_FORMAT_VERSION;
}

static void seg_name(char out[SEG_NAME_LEN + 1], uint32_t seg)
{
	snprintf(out, SEG_NAME_LEN + 1, "seg-%010u.tvs", (unsigned)seg);
}

/* Exactly "seg-" 10 digits ".tvs", value 1..UINT32_MAX. */
static bool seg_parse_name(const char *name, uint32_t *seg)
{
	uint64_t v = 0;
	int i;
	if (strlen(name) != SEG_NAME_LEN || memcmp(name, "seg-", 4) != 0 ||
	    memcmp(name + 14, ".tvs", 4) != 0)
		return false;
	for (i = 4; i < 14; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (v == 0 || v > UINT32_MAX)
		return false;
	*seg = (uint32_t)v;
	return true;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	size_t done = 0;
	while (done < len) {
		ssize_t k = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (k == 0)
			break;
		done += (size_t)k;
	}
	*got = done;
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t k = pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(off + done));
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (k == 0)
			return TV_E_IO;
		done += (size_t)k;
	}
	return 0;
}

static int fsync_retry(int fd, bool data_only)
{
	int rc;
	do
		rc = data_only ? fdatasync(fd) : fsync(fd);
	while (rc != 0 && errno == EINTR);
	return rc != 0 ? errno : 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* FORMAT.md "Segment header", reader rules 2-4. */
static int seg_hdr_check(const store_segs *s, const uint8_t *h, uint32_t seg)
{
	uint16_t version;
	if (memcmp(h + SH_MAGIC, seg_magic, sizeof seg_magic) != 0)
		return TV_E_FORMAT;
	version = tv_get_le16(h + SH_VERSION);
	if (version == 0)
		return TV_E_FORMAT;
	/* a segment of another version (format 1's, or a newer one) is
	 * refused whole: its chunks are never guessed at */
	if (version != s->cfg.version)
		return TV_E_VERSION;
	if (tv_get_le16(h + SH_FLAGS) != 0 || !all_zero(h + SH_RESERVED, STORE_SEG_HDR_LEN - SH_RESERVED) ||
	    tv_get_le32(h + SH_SEGMENT) != seg)
		return TV_E_CORRUPT;
	if (s->check_uuid && memcmp(h + SH_UUID, s->uuid, 16) != 0)
		return TV_E_CORRUPT;
	return 0;
}

/*
 * Checks the header of an open segment.  *empty is set when the file holds
 * no header yet (shorter than 64 bytes, or 64 zero bytes and nothing else:
 * a crash right after creation).
 */
static int seg_fd_check(const store_segs *s, int fd, uint32_t seg, bool *empty, uint64_t *size)
{
	uint8_t h[STORE_SEG_HDR_LEN];
	struct stat st;
	size_t got;
	int err;
	*empty = false;
	if (fstat(fd, &st) != 0)
		return errno;
	*size = (uint64_t)st.st_size;
	if (*size < STORE_SEG_HDR_LEN) {
		*empty = true;
		return 0;
	}
	err = pread_full(fd, h, sizeof h, 0, &got);
	if (err)
		return err;
	if (got < sizeof h) { /* shrank under us */
		*empty = true;
		return 0;
	}
	if (*size == STORE_SEG_HDR_LEN && all_zero(h, sizeof h)) {
		*empty = true;
		return 0;
	}
	return seg_hdr_check(s, h, seg);
}

static void seg_hdr_make(const store_segs *s, uint8_t h[STORE_SEG_HDR_LEN], uint32_t seg)
{
	uint64_t now = tv_clock_real_ns();
	memset(h, 0, STORE_SEG_HDR_LEN);
	memcpy(h + SH_MAGIC, seg_magic, sizeof seg_magic);
	tv_put_le16(h + SH_VERSION, s->cfg.version);
	tv_put_le16(h + SH_FLAGS, 0);
	tv_put_le32(h + SH_SEGMENT, seg);
	memcpy(h + SH_UUID, s->uuid, 16);
	tv_put_le64(h + SH_CREATED, now);
}

/* Cuts fd to zero and writes a fresh header; synced when sync is set. */
static int seg_write_hdr(const store_segs *s, int fd, uint32_t seg)
{
	uint8_t h[STORE_SEG_HDR_LEN];
	int err;
	seg_hdr_make(s, h, seg);
	if (ftruncate(fd, 0) != 0)
		return errno;
	err = pwrite_full(fd, h, sizeof h, 0);
	if (!err && s->cfg.sync)
		err = fsync_retry(fd, true);
	return err;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int store_segs_list(store_segs *s, uint32_t **ids, size_t *n)
{
	DIR *d;
	struct dirent *e;
	uint32_t *v = NULL;
	size_t cnt = 0, cap = 0;
	int dfd;
	*ids = NULL;
	*n = 0;
	if (s->dirfd < 0)
		return 0;
	dfd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno;
	d = fdopendir(dfd);
	if (!d) {
		int err = errno;
		close(dfd);
		return err;
	}
	while ((e = readdir(d)) != NULL) {
		uint32_t seg;
		if (!seg_parse_name(e->d_name, &seg))
			continue;
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			uint32_t *nv = realloc(v, ncap * sizeof *nv);
			if (!nv) {
				free(v);
				closedir(d);
				return TV_E_NOMEM;
			}
			v = nv;
			cap = ncap;
		}
		v[cnt++] = seg;
	}
	closedir(d);
	if (cnt > 1)
		qsort(v, cnt, sizeof *v, cmp_u32);
	*ids = v;
	*n = cnt;
	return 0;
}

static int segs_find_newest(store_segs *s, uint32_t *newest)
{
	uint32_t *ids;
	size_t n;
	int err = store_segs_list(s, &ids, &n);
	if (err)
		return err;
	*newest = n ? ids[n - 1] : 0;
	free(ids);
	return 0;
}

int store_segs_open(const char *dir, const uint8_t store_uuid[16], const store_segs_cfg *cfg,
                    store_segs **out)
{
	store_segs *s;
	size_t dl = strlen(dir);
	int err, i;
	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return TV_E_NOMEM;
	s->dirfd = -1;
	s->wfd = -1;
	for (i = 0; i < FD_CACHE; i++)
		s->cache[i].fd = -1;
	if (cfg)
		s->cfg = *cfg;
	else
		store_segs_cfg_default(&s->cfg);
	if (s->cfg.segment_size == 0)
		s->cfg.segment_size = (uint64_t)1 << 30;
	if (s->cfg.version == 0)
		s->cfg.version = STORE_FORMAT_VERSION;
	if (s->cfg.version != STORE_FORMAT_VERSION) {
		err = TV_E_RANGE;
		goto fail;
	}
	if (store_uuid) {
		memcpy(s->uuid, store_uuid, 16);
		s->check_uuid = true;
	} else if (s->cfg.writable) {
		err = TV_E_RANGE; /* a writer must stamp its segments */
		goto fail;
	}
	s->segdir = malloc(dl + sizeof "/" STORE_SEGMENTS_DIR);
	if (!s->segdir) {
		err = TV_E_NOMEM;
		goto fail;
	}
	memcpy(s->segdir, dir, dl);
	memcpy(s->segdir + dl, "/" STORE_SEGMENTS_DIR, sizeof "/" STORE_SEGMENTS_DIR);

	if (s->cfg.writable) {
		if (mkdir(s->segdir, 0700) == 0) {
			/* Make the new directory entry durable. */
			int pfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (pfd < 0) {
				err = errno;
				goto fail;
			}
			err = s->cfg.sync ? fsync_retry(pfd, false) : 0;
			close(pfd);
			if (err)
				goto fail;
		} else if (errno != EEXIST) {
			err = errno;
			goto fail;
		}
	}
	s->dirfd = open(s->segdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		struct stat st;
		err = errno;
		/* Read-only on a store that has no segments yet: empty. */
		if (err != ENOENT || s->cfg.writable || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
			goto fail;
	}

	err = segs_find_newest(s, &s->newest);
	if (err)
		goto fail;
	s->maxseen = s->newest;

	if (s->newest) {
		char name[SEG_NAME_LEN + 1];
		bool empty;
		uint64_t size;
		int fd;
		seg_name(name, s->newest);
		fd = openat(s->dirfd, name, (s->cfg.writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (fd < 0) {
			err = errno;
			goto fail;
		}
		err = seg_fd_check(s, fd, s->newest, &empty, &size);
		if (!err && empty && s->cfg.writable) {
			err = seg_write_hdr(s, fd, s->newest);
			size = STORE_SEG_HDR_LEN;
		}
		if (err) {
			close(fd);
			goto fail;
		}
		if (s->cfg.writable) {
			s->wfd = fd;
			s->wseg = s->newest;
			s->wsize = size;
		} else {
			s->cache[0].seg = s->newest;
			s->cache[0].fd = fd;
			s->cache_next = 1;
		}
	}
	*out = s;
	return 0;
fail:
	store_segs_close(s);
	return err;
}

void store_segs_close(store_segs *s)
{
	int i;
	if (!s)
		return;
	if (s->wfd >= 0) {
		if (s->wdirty && s->cfg.sync)
			(void)fsync_retry(s->wfd, true);
		close(s->wfd);
	}
	for (i = 0; i < FD_CACHE; i++)
		if (s->cache[i].fd >= 0)
			close(s->cache[i].fd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	store_chunk_free(s->ck);
	free(s->sbuf);
	free(s->segdir);
	free(s);
}

uint32_t store_segs_newest(const store_segs *s)
{
	return s->newest;
}

const store_chunk *store_segs_scan_chunk(const store_segs *s)
{
	return s->ck_live ? s->ck : NULL;
}

/* Starts segment maxseen + 1 and makes it the write segment. */
static int segs_rotate(store_segs *s)
{
	char name[SEG_NAME_LEN + 1];
	uint32_t seg;
	int fd, err;
	if (s->maxseen == UINT32_MAX)
		return TV_E_FULL;
	seg = s->maxseen + 1;
	if (s->wfd >= 0) {
		if (s->wdirty && s->cfg.sync) {
			err = fsync_retry(s->wfd, true);
			if (err)
				return err;
		}
		close(s->wfd);
		s->wfd = -1;
		s->wdirty = false;
	}
	seg_name(name, seg);
	fd = openat(s->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	err = seg_write_hdr(s, fd, seg);
	if (!err && s->cfg.sync)
		err = fsync_retry(s->dirfd, false);
	if (err) {
		close(fd);
		unlinkat(s->dirfd, name, 0);
		return err;
	}
	s->wfd = fd;
	s->wseg = seg;
	s->wsize = STORE_SEG_HDR_LEN;
	s->maxseen = seg;
	s->newest = seg;
	return 0;
}

int store_segs_append(store_segs *s, const uint8_t *chunk, size_t len, uint32_t *segment,
                      uint64_t *offset)
{
	int err;
	if (!s->cfg.writable)
		return EROFS;
	if (s->wfd < 0 || (s->wsize >= s->cfg.segment_size && s->wsize > STORE_SEG_HDR_LEN)) {
		err = segs_rotate(s);
		if (err)
			return err;
	}
	err = pwrite_full(s->wfd, chunk, len, s->wsize);
	if (err) {
		/* Leave no partial chunk behind for recovery to find. */
		if (ftruncate(s->wfd, (off_t)s->wsize) != 0) {
			/* recovery will cut it */
		}
		return err;
	}
	*segment = s->wseg;
	*offset = s->wsize;
	s->wsize += len;
	s->wdirty = true;
	return 0;
}

int store_segs_sync(store_segs *s)
{
	int err;
	if (!s->cfg.sync || s->wfd < 0 || !s->wdirty)
		return 0;
	err = fsync_retry(s->wfd, true);
	if (err)
		return err;
	s->wdirty = false;
	return 0;
}

static void cache_drop(store_segs *s, uint32_t seg)
{
	int i;
	for (i = 0; i < FD_CACHE; i++) {
		if (s->cache[i].fd >= 0 && s->cache[i].seg == seg) {
			close(s->cache[i].fd);
			s->cache[i].fd = -1;
			s->cache[i].seg = 0;
		}
	}
}

/* A descriptor to read segment seg (checked header); borrowed from s. */
static int segs_fd(store_segs *s, uint32_t seg, int *fd_out)
{
	char name[SEG_NAME_LEN + 1];
	bool empty;
	uint64_t size;
	unsigned i;
	int fd, err;
	if (seg == 0)
		return TV_E_RANGE;
	if (s->wfd >= 0 && seg == s->wseg) {
		*fd_out = s->wfd;
		return 0;
	}
	for (i = 0; i < FD_CACHE; i++) {
		if (s->cache[i].fd >= 0 && s->cache[i].seg == seg) {
			*fd_out = s->cache[i].fd;
			return 0;
		}
	}
	if (s->dirfd < 0)
		return ENOENT;
	seg_name(name, seg);
	fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	err = seg_fd_check(s, fd, seg, &empty, &size);
	if (err) {
		close(fd);
		return err;
	}
	i = s->cache_next++ % FD_CACHE;
	if (s->cache[i].fd >= 0)
		close(s->cache[i].fd);
	s->cache[i].seg = seg;
	s->cache[i].fd = fd;
	*fd_out = fd;
	return 0;
}

int store_segs_read(store_segs *s, uint32_t segment, uint64_t offset, uint32_t len, uint8_t *buf)
{
	size_t got;
	int fd, err = segs_fd(s, segment, &fd);
	if (err)
		return err;
	err = pread_full(fd, buf, len, offset, &got);
	if (err)
		return err;
	return got < len ? TV_E_TRUNCATED : 0;
}

int store_segs_size(store_segs *s, uint32_t segment, uint64_t *bytes)
{
	char name[SEG_NAME_LEN + 1];
	struct stat st;
	*bytes = 0;
	if (segment != 0) {
		if (s->dirfd < 0)
			return ENOENT;
		seg_name(name, segment);
		if (fstatat(s->dirfd, name, &st, 0) != 0)
			return errno;
		*bytes = (uint64_t)st.st_size;
		return 0;
	} else {
		uint32_t *ids;
		size_t n, i;
		int err = store_segs_list(s, &ids, &n);
		if (err)
			return err;
		for (i = 0; i < n; i++) {
			seg_name(name, ids[i]);
			if (fstatat(s->dirfd, name, &st, 0) != 0) {
				if (errno == ENOENT) /* removed meanwhile */
					continue;
				err = errno;
				free(ids);
				return err;
			}
			*bytes += (uint64_t)st.st_size;
		}
		free(ids);
		return 0;
	}
}

/* A chunk header as the scan's callback sees it (store.h). */
static void meta_from_hdr(const store_hdr *h, store_chunk_meta *m)
{
	memset(m, 0, sizeof *m);
	m->chunk_id = h->chunk_id;
	m->length = STORE_V2_HDR_LEN + h->body_len;
	m->first_ts = h->first_ts;
	m->last_ts = h->last_ts;
	m->npkts = h->npkts;
	m->raw_len = h->raw_len;
	m->orig_bytes = h->orig_bytes;
	memcpy(m->sha256, h->sha256, 32);
}

int store_segs_scan(store_segs *s, uint32_t segment, uint64_t offset, store_scan_cb cb,
                    void *ctx, uint64_t *valid_end, uint64_t *torn)
{
	uint8_t hdr[STORE_V2_HDR_LEN];
	const size_t hlen = STORE_V2_HDR_LEN;
	store_hdr h;
	struct stat st;
	uint64_t size, pos;
	size_t got;
	int fd, err;

	*valid_end = 0;
	*torn = 0;
	err = segs_fd(s, segment, &fd);
	if (err)
		return err;
	if (fstat(fd, &st) != 0)
		return errno;
	size = (uint64_t)st.st_size;
	if (size < STORE_SEG_HDR_LEN) {
		*torn = size;
		return 0;
	}
	pos = offset < STORE_SEG_HDR_LEN ? STORE_SEG_HDR_LEN : offset;
	if (pos > size) {
		/* The caller believes in bytes the file no longer has. */
		*valid_end = size;
		return TV_E_TRUNCATED;
	}
	/* segs_fd refused a segment whose header has another version: a chunk
	 * of another version in it was not written by this store */
	if (!s->ck && (err = store_chunk_new(&s->ck)) != 0)
		return err;
	for (;;) {
		store_chunk_meta m;
		if (size - pos < hlen)
			break;
		err = pread_full(fd, hdr, hlen, pos, &got);
		if (err)
			return err;
		if (got < hlen)
			break; /* shrank under us */
		err = store_hdr_parse(hdr, hlen, &h);
		if (err == TV_E_VERSION)
			goto other_version;
		if (err)
			break;
		meta_from_hdr(&h, &m);
		if (m.length > size - pos)
			break;
		if (m.length > s->sbuf_cap) {
			uint8_t *nb = realloc(s->sbuf, m.length);
			if (!nb)
				return TV_E_NOMEM;
			s->sbuf = nb;
			s->sbuf_cap = m.length;
		}
		err = pread_full(fd, s->sbuf, m.length, pos, &got);
		if (err)
			return err;
		if (got < m.length)
			break;
		/* the whole chunk, checked as recovery needs it: the hash and
		 * everything it decodes to */
		err = store_chunk_load(s->ck, s->sbuf, m.length, STORE_LOAD_HASH, &h);
		if (err == TV_E_VERSION)
			goto other_version;
		if (err == TV_E_NOMEM)
			return err;
		if (err)
			break;
		meta_from_hdr(&h, &m);
		m.segment = segment;
		m.offset = pos;
		s->ck_live = true;
		err = cb ? cb(ctx, &m, s->sbuf, m.length) : 0;
		s->ck_live = false;
		if (err) {
			*valid_end = pos;
			return err;
		}
		pos += m.length;
	}
	*valid_end = pos;
	*torn = size - pos;
	return 0;
other_version:
	/* A chunk of another version than its segment's was not written by
	 * this store's writer as a torn tail: never cut it. */
	*valid_end = pos;
	*torn = size - pos;
	return TV_E_VERSION;
}

int store_segs_truncate(store_segs *s, uint32_t segment, uint64_t offset)
{
	char name[SEG_NAME_LEN + 1];
	struct stat st;
	int fd, err;
	bool own;
	if (!s->cfg.writable)
		return EROFS;
	if (segment == 0 || (offset > 0 && offset < STORE_SEG_HDR_LEN))
		return TV_E_RANGE;
	own = s->wfd >= 0 && segment == s->wseg;
	if (own) {
		fd = s->wfd;
	} else {
		seg_name(name, segment);
		fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return errno;
	}
	if (fstat(fd, &st) != 0) {
		err = errno;
		goto out;
	}
	if (offset > (uint64_t)st.st_size) {
		err = TV_E_RANGE;
		goto out;
	}
	if (ftruncate(fd, (off_t)offset) != 0) {
		err = errno;
		goto out;
	}
	if (own && offset == 0) {
		/* The write segment keeps a header at all times. */
		err = seg_write_hdr(s, fd, segment);
		if (err)
			goto out;
		offset = STORE_SEG_HDR_LEN;
	}
	err = fsync_retry(fd, false);
	if (!err && own) {
		s->wsize = offset;
		s->wdirty = false;
	}
out:
	if (!own)
		close(fd);
	return err;
}

int store_segs_remove(store_segs *s, uint32_t segment)
{
	char name[SEG_NAME_LEN + 1];
	int err;
	if (!s->cfg.writable)
		return EROFS;
	if (segment == 0)
		return TV_E_RANGE;
	seg_name(name, segment);
	if (unlinkat(s->dirfd, name, 0) != 0)
		return errno;
	cache_drop(s, segment);
	if (s->wfd >= 0 && segment == s->wseg) {
		close(s->wfd);
		s->wfd = -1;
		s->wseg = 0;
		s->wsize = 0;
		s->wdirty = false;
	}
	err = fsync_retry(s->dirfd, false);
	if (err)
		return err;
	if (segment == s->newest)
		return segs_find_newest(s, &s->newest);
	return 0;
}

int store_segs_diagnose(const char *dir, const uint8_t store_uuid[16], char *buf, size_t cap)
{
	char path[4096];
	DIR *d;
	struct dirent *e;
	int found = 0;

	snprintf(path, sizeof path, "%s/" STORE_SEGMENTS_DIR, dir);
	d = opendir(path);
	if (!d) {
		snprintf(buf, cap, "%s: %s", path, strerror(errno));
		return 1;
	}
	while (!found && (e = readdir(d)) != NULL) {
		uint8_t h[STORE_SEG_HDR_LEN];
		uint32_t seg;
		size_t got = 0;
		int fd, err;
		if (!seg_parse_name(e->d_name, &seg))
			continue;
		snprintf(path, sizeof path, "%s/" STORE_SEGMENTS_DIR "/%s", dir, e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(buf, cap, "%s: %s", path, strerror(errno));
			found = 1;
			break;
		}
		err = pread_full(fd, h, sizeof h, 0, &got);
		close(fd);
		if (err || got < sizeof h)
			continue; /* short: a crash at creation, not a refusal */
		if (memcmp(h + SH_MAGIC, seg_magic, sizeof seg_magic) != 0) {
			snprintf(buf, cap, "%s: offset 0: not a tapvault segment (expected the magic TVSEGMT1)",
			         path);
			found = 1;
		} else if (tv_get_le16(h + SH_VERSION) > STORE_FORMAT_VERSION) {
			snprintf(buf, cap, "%s: offset 8: segment format version %u; this build reads "
			         "version %u (use a newer tapvault)", path, tv_get_le16(h + SH_VERSION),
			         STORE_FORMAT_VERSION);
			found = 1;
		} else if (tv_get_le16(h + SH_VERSION) != 0 &&
		           tv_get_le16(h + SH_VERSION) != STORE_FORMAT_VERSION) {
			snprintf(buf, cap, "%s: offset 8: segment format version %u is no longer supported "
			         "(this tapvault reads format %u): the file comes from a store of format %u; "
			         "move it out of %s/" STORE_SEGMENTS_DIR " and ingest its source captures "
			         "again into a new store",
			         path, tv_get_le16(h + SH_VERSION), STORE_FORMAT_VERSION,
			         tv_get_le16(h + SH_VERSION), dir);
			found = 1;
		} else if (tv_get_le16(h + SH_VERSION) == 0) {
			snprintf(buf, cap, "%s: offset 8: segment format version 0 is not valid", path);
			found = 1;
		} else if (tv_get_le32(h + SH_SEGMENT) != seg) {
			snprintf(buf, cap, "%s: offset %d: the header says segment %u, the name says %u",
			         path, SH_SEGMENT, tv_get_le32(h + SH_SEGMENT), seg);
			found = 1;
		} else if (store_uuid && memcmp(h + SH_UUID, store_uuid, 16) != 0) {
			snprintf(buf, cap, "%s: offset %d: the segment belongs to another store "
			         "(its store id differs from the index's)", path, SH_UUID);
			found = 1;
		} else if (tv_get_le16(h + SH_FLAGS) != 0 ||
		           !all_zero(h + SH_RESERVED, STORE_SEG_HDR_LEN - SH_RESERVED)) {
			snprintf(buf, cap, "%s: reserved header bits are set (damaged header)", path);
			found = 1;
		}
	}
	closedir(d);
	return found;
}

int store_segs_read_uuid(const char *dir, uint8_t uuid[16])
{
	uint16_t version;
	return store_segs_read_ident(dir, uuid, &version);
}

int store_segs_read_ident(const char *dir, uint8_t uuid[16], uint16_t *version)
{
	char path[4096];
	DIR *d;
	struct dirent *e;
	uint32_t best = UINT32_MAX;
	int rc = TV_E_NOTFOUND;

	snprintf(path, sizeof path, "%s/" STORE_SEGMENTS_DIR, dir);
	d = opendir(path);
	if (!d)
		return errno;
	while ((e = readdir(d)) != NULL) {
		uint8_t h[STORE_SEG_HDR_LEN];
		uint32_t seg;
		size_t got = 0;
		int fd;
		struct stat st;
		if (!seg_parse_name(e->d_name, &seg) || seg >= best)
			continue;
		/* relative to the listed folder, never through a link, never
		 * waiting on a FIFO: only a regular file is read */
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    pread_full(fd, h, sizeof h, 0, &got) == 0 && got == sizeof h &&
		    memcmp(h + SH_MAGIC, seg_magic, sizeof seg_magic) == 0 &&
		    tv_get_le16(h + SH_VERSION) != 0) {
			memcpy(uuid, h + SH_UUID, 16);
			*version = tv_get_le16(h + SH_VERSION);
			best = seg;
			rc = 0;
		}
		close(fd);
	}
	closedir(d);
	return rc;
}
