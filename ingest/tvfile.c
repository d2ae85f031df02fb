/*
 * tvfile.c — descriptor-based folder walks and safe new files (tvfile.h).
 *
 * The rule behind every function here: a name is looked up once, relative
 * to a descriptor we already trust, with O_NOFOLLOW; after that we act on
 * the descriptor we got (fstat, fchownat(AT_EMPTY_PATH), openat(fd, "."))
 * and never on the name again, except for unlinkat/renameat, which change
 * only the entry in a folder we hold and never follow a link.
 */
#include "tvfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#define TMP_TAG ".tvtmp-"
#define TMP_RAND 8

/* ---------------------------------------------------------------- folders */

int tv_dir_open(int at, const char *path, unsigned flags, mode_t mode, int *out, size_t *bad)
{
	const bool follow = (flags & TV_DIR_FOLLOW) != 0;
	const char *p = path;
	char comp[TV_NAME_MAX + 1];
	int cur, next, rc;

	*out = -1;
	if (bad)
		*bad = 0;
	/* O_PATH: a level needs only search permission to be passed through */
	cur = openat(path[0] == '/' ? AT_FDCWD : at, path[0] == '/' ? "/" : ".",
	             O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return errno;
	while (*p) {
		size_t n;
		while (*p == '/')
			p++;
		if (!*p)
			break;
		n = strcspn(p, "/");
		if (n > TV_NAME_MAX) {
			rc = ENAMETOOLONG;
			goto fail_at;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (strcmp(comp, ".") == 0) {
			p += n;
			continue;
		}
		if (strcmp(comp, "..") == 0 && !follow) {
			rc = TV_E_RANGE;
			goto fail_at;
		}
		next = openat(cur, comp, O_PATH | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
		if (next < 0 && errno == ENOENT && (flags & TV_DIR_CREATE)) {
			if (mkdirat(cur, comp, mode) != 0 && errno != EEXIST) {
				rc = errno;
				goto fail_at;
			}
			/* whoever made it, a level we create is never a link */
			next = openat(cur, comp, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		}
		if (next < 0) {
			struct stat st;
			rc = errno;
			if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				if (S_ISLNK(st.st_mode))
					rc = TV_E_SYMLINK;
				else if (!S_ISDIR(st.st_mode))
					rc = ENOTDIR;
			}
			goto fail_at;
		}
		close(cur);
		cur = next;
		p += n;
	}
	/* readable when we may (fsync and readdir need it), else the O_PATH one */
	next = openat(cur, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (next >= 0) {
		close(cur);
		cur = next;
	}
	*out = cur;
	return 0;
fail_at:
	if (bad)
		*bad = (size_t)(p - path) + strcspn(p, "/");
	close(cur);
	return rc;
}

/* -------------------------------------------------------------- new files */

static bool plain_name(const char *name)
{
	return name && name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0 && strlen(name) <= TV_NAME_MAX;
}

/* ".NAME.tvtmp-": the part of a temporary name that says whose it is.  NAME
 * is shortened so that the whole temporary name fits in TV_NAME_MAX. */
static size_t tmp_prefix(const char *name, char *buf, size_t cap)
{
	/* room for the pid (10 digits), '-' and the random part */
	size_t keep = TV_NAME_MAX - 1 - (sizeof TMP_TAG - 1) - 10 - 1 - TMP_RAND;
	size_t n = strlen(name);
	if (n > keep)
		n = keep;
	return (size_t)snprintf(buf, cap, ".%.*s%s", (int)n, name, TMP_TAG);
}

static void random_chars(char *out, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t r[16];
	size_t i;
	if (n > sizeof r)
		n = sizeof r;
	if (getrandom(r, n, GRND_NONBLOCK) != (ssize_t)n) {
		/* only uniqueness matters here (O_EXCL guards the rest) */
		static unsigned seq;
		uint64_t x;
		x = tv_clock_mono_ns() * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() << 20 ^ ++seq;
		for (i = 0; i < n; i++, x = x * 6364136223846793005ull + 1442695040888963407ull)
			r[i] = (uint8_t)(x >> 56);
	}
	for (i = 0; i < n; i++)
		out[i] = set[r[i] % (sizeof set - 1)];
	out[n] = '\0';
}

void tv_outfile_init(tv_outfile *o)
{
	memset(o, 0, sizeof *o);
	o->dirfd = -1;
	o->fd = -1;
}

/* An existing special file the caller may write in place: a FIFO or a
 * character device of the caller or of root, never another user's (a
 * planted FIFO would receive the data). */
static int open_special(tv_outfile *o, const struct stat *st)
{
	struct stat now;
	int fd;
	if (!(S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode)) ||
	    (st->st_uid != geteuid() && st->st_uid != 0))
		return TV_E_NOTREG;
	fd = openat(o->dirfd, o->name, O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstat(fd, &now) != 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
		close(fd);
		return TV_E_NOTREG;
	}
	o->fd = fd;
	o->direct = true;
	return 0;
}

static int outfile_start(tv_outfile *o, const char *name, mode_t mode, unsigned flags)
{
	char prefix[TV_NAME_MAX + 1], rnd[TMP_RAND + 1];
	struct stat st;
	int tries, fd = -1;

	o->flags = flags;
	if (!plain_name(name))
		return name && strlen(name) > TV_NAME_MAX ? ENAMETOOLONG : EISDIR;
	snprintf(o->name, sizeof o->name, "%s", name);
	if (flags & TV_OUT_STEM) {
		/* nothing to check before the real name is known */
	} else if (fstatat(o->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			return TV_E_SYMLINK;
		if (S_ISDIR(st.st_mode))
			return EISDIR;
		if (!S_ISREG(st.st_mode))
			return (flags & TV_OUT_SPECIAL) ? open_special(o, &st) : TV_E_NOTREG;
		if (!(flags & TV_OUT_REPLACE))
			return EEXIST;
	} else if (errno != ENOENT) {
		return errno;
	}
	(void)tv_outfile_sweep(o->dirfd, name, &o->swept);
	tmp_prefix(name, prefix, sizeof prefix);
	for (tries = 0; tries < 64; tries++) {
		random_chars(rnd, TMP_RAND);
		if (snprintf(o->tmp, sizeof o->tmp, "%s%ld-%s", prefix, (long)getpid(), rnd) >=
		    (int)sizeof o->tmp) {
			o->tmp[0] = '\0'; /* cannot happen: tmp_prefix leaves room */
			return ENAMETOOLONG;
		}
		fd = openat(o->dirfd, o->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		int e = errno;
		o->tmp[0] = '\0'; /* not ours: never remove it */
		return e;
	}
	/* held until close: a later sweep sees the file is alive (a file system
	 * without flock only makes the sweep keep it) */
	(void)flock(fd, LOCK_EX | LOCK_NB);
	o->fd = fd;
	return 0;
}

int tv_outfile_open(tv_outfile *o, const char *path, mode_t mode, unsigned flags)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int rc;

	tv_outfile_init(o);
	if (!slash) {
		snprintf(dir, sizeof dir, ".");
	} else if (slash == path) {
		snprintf(dir, sizeof dir, "/");
	} else {
		if ((size_t)(slash - path) >= sizeof dir)
			return ENAMETOOLONG;
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	}
	/* the folder is the user's own choice: followed as any program would */
	rc = tv_dir_open(AT_FDCWD, dir, TV_DIR_FOLLOW, 0, &o->dirfd, NULL);
	if (rc)
		return rc;
	return outfile_start(o, slash ? slash + 1 : path, mode, flags);
}

int tv_outfile_openat(tv_outfile *o, int dirfd, const char *name, mode_t mode, unsigned flags)
{
	tv_outfile_init(o);
	o->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (o->dirfd < 0)
		return errno;
	return outfile_start(o, name, mode, flags);
}

FILE *tv_outfile_stdio(tv_outfile *o, const char *mode)
{
	int fd;
	FILE *f;
	if (o->fd < 0) {
		errno = EBADF;
		return NULL;
	}
	fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	f = fdopen(fd, mode);
	if (!f) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return f;
}

/* rename without replacing: renameat2, or link + unlink where the file
 * system does not support RENAME_NOREPLACE */
static int rename_noreplace(int dirfd, const char *from, const char *to)
{
	if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return errno;
	if (linkat(dirfd, from, dirfd, to, 0) != 0)
		return errno;
	(void)unlinkat(dirfd, from, 0);
	return 0;
}

static void outfile_close(tv_outfile *o)
{
	if (o->fd >= 0)
		close(o->fd);
	if (o->dirfd >= 0)
		close(o->dirfd);
	o->fd = o->dirfd = -1;
	o->direct = false;
}

int tv_outfile_commit(tv_outfile *o, const char *name)
{
	const char *final = name ? name : o->name;
	int rc;

	if (o->fd < 0)
		return EBADF;
	if (o->direct) {
		rc = close(o->fd) != 0 ? errno : 0;
		o->fd = -1;
		outfile_close(o);
		return rc;
	}
	/* a stem is no final name */
	if (!plain_name(final) || (!name && (o->flags & TV_OUT_STEM))) {
		rc = EINVAL;
		goto fail;
	}
	if (!(o->flags & TV_OUT_NOSYNC) && fsync(o->fd) != 0) {
		rc = errno;
		goto fail;
	}
	rc = rename_noreplace(o->dirfd, o->tmp, final);
	if (rc == EEXIST && (o->flags & TV_OUT_REPLACE)) {
		struct stat st;
		/* replace a regular file only: a link put there is never written
		 * through, and (racing with renameat, which does not follow it
		 * either) at worst replaced, its target untouched */
		if (fstatat(o->dirfd, final, &st, AT_SYMLINK_NOFOLLOW) != 0)
			rc = errno == ENOENT ? rename_noreplace(o->dirfd, o->tmp, final) : errno;
		else if (S_ISLNK(st.st_mode))
			rc = TV_E_SYMLINK;
		else if (S_ISDIR(st.st_mode))
			rc = EISDIR;
		else if (!S_ISREG(st.st_mode))
			rc = TV_E_NOTREG;
		else
			rc = renameat(o->dirfd, o->tmp, o->dirfd, final) != 0 ? errno : 0;
	}
	if (rc)
		goto fail;
	o->tmp[0] = '\0';
	if (!(o->flags & TV_OUT_NOSYNC))
		(void)fsync(o->dirfd); /* the new name durable too; an O_PATH folder cannot */
	rc = close(o->fd) != 0 ? errno : 0;
	o->fd = -1;
	outfile_close(o);
	return rc;
fail:
	tv_outfile_abort(o);
	return rc;
}

void tv_outfile_abort(tv_outfile *o)
{
	if (o->tmp[0] && o->dirfd >= 0)
		(void)unlinkat(o->dirfd, o->tmp, 0);
	o->tmp[0] = '\0';
	outfile_close(o);
}

/* The pid in a temporary name that starts with prefix, or 0 when the rest
 * is not "PID-XXXXXXXX". */
static long tmp_owner(const char *ent, const char *prefix, size_t plen)
{
	const char *p = ent + plen;
	char *end;
	long pid;
	if (strncmp(ent, prefix, plen) != 0 || *p < '1' || *p > '9')
		return 0;
	pid = strtol(p, &end, 10);
	if (*end != '-' || strlen(end + 1) != TMP_RAND || pid <= 0)
		return 0;
	return pid;
}

int tv_outfile_sweep(int dirfd, const char *name, unsigned *removed)
{
	char prefix[TV_NAME_MAX + 1];
	struct dirent *e;
	size_t plen;
	DIR *d;
	int dfd;

	if (!plain_name(name))
		return EINVAL;
	plen = tmp_prefix(name, prefix, sizeof prefix);
	dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno;
	d = fdopendir(dfd);
	if (!d) {
		int rc = errno;
		close(dfd);
		return rc;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st, again;
		long pid = tmp_owner(e->d_name, prefix, plen);
		int fd;
		if (pid == 0 || pid == (long)getpid())
			continue;
		/* its writer still runs (or a process reuses the number): keep it */
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* ours alone: another user's file, or a link to one, is never removed */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
		    st.st_nlink == 1 && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
		    fstatat(dfd, e->d_name, &again, AT_SYMLINK_NOFOLLOW) == 0 &&
		    again.st_dev == st.st_dev && again.st_ino == st.st_ino &&
		    unlinkat(dfd, e->d_name, 0) == 0 && removed)
			(*removed)++;
		close(fd);
	}
	closedir(d);
	return 0;
}

/* ------------------------------------------------------------- tree walks */

static int walk(int parent, const char *name, int depth, int max_depth, tv_tree_fn fn, void *ctx)
{
	tv_tree_ent e;
	struct stat st;
	struct dirent *de;
	enum tv_tree_act act;
	DIR *d = NULL;
	int fd, dfd = -1, rc = 0;

	memset(&e, 0, sizeof e);
	e.parent = parent;
	e.name = name;
	e.depth = depth;
	e.fd = -1;
	fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		e.err = errno;
		if (fd >= 0)
			close(fd);
		if (depth == 0)
			return e.err; /* the start itself: the caller's error */
		return fn(ctx, &e, false) == TV_TREE_STOP ? ECANCELED : 0;
	}
	e.fd = fd;
	e.st = &st;
	if (S_ISDIR(st.st_mode)) {
		if (depth >= max_depth) {
			e.err = TV_E_RANGE;
		} else {
			/* through the descriptor: the folder we looked at, whatever
			 * its name means by now */
			dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd < 0)
				e.err = errno;
		}
	}
	act = fn(ctx, &e, false);
	if (act == TV_TREE_STOP) {
		rc = ECANCELED;
		goto out;
	}
	if (dfd < 0 || act == TV_TREE_PRUNE)
		goto out;
	d = fdopendir(dfd);
	if (!d) {
		rc = errno == ENOMEM ? TV_E_NOMEM : errno;
		goto out;
	}
	dfd = -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = walk(dirfd(d), de->d_name, depth + 1, max_depth, fn, ctx);
		if (rc)
			goto out;
	}
	if (fn(ctx, &e, true) == TV_TREE_STOP)
		rc = ECANCELED;
out:
	if (d)
		closedir(d);
	if (dfd >= 0)
		close(dfd);
	close(fd);
	return rc;
}

int tv_tree_walk(int at, const char *name, int max_depth, tv_tree_fn fn, void *ctx)
{
	return walk(at, name, 0, max_depth, fn, ctx);
}

struct rmctx {
	tv_rmtree_counts *c;
	int first_err;
};

static void rm_result(struct rmctx *r, int ok)
{
	if (ok) {
		r->c->removed++;
	} else {
		r->c->failed++;
		if (!r->first_err)
			r->first_err = errno;
	}
}

static enum tv_tree_act rm_visit(void *ctx, const tv_tree_ent *e, bool after)
{
	struct rmctx *r = ctx;
	if (e->err == ENOENT)
		return TV_TREE_CONTINUE; /* gone already */
	if (e->err == TV_E_RANGE) {
		r->c->too_deep++;
		return TV_TREE_PRUNE;
	}
	if (e->err) {
		r->c->failed++;
		if (!r->first_err)
			r->first_err = e->err;
		return TV_TREE_PRUNE;
	}
	if (S_ISDIR(e->st->st_mode)) {
		if (after)
			rm_result(r, unlinkat(e->parent, e->name, AT_REMOVEDIR) == 0);
		return TV_TREE_CONTINUE;
	}
	/* a link is removed as a link: unlinkat never follows */
	rm_result(r, unlinkat(e->parent, e->name, 0) == 0);
	return TV_TREE_CONTINUE;
}

int tv_rmtree_at(int at, const char *name, tv_rmtree_counts *c)
{
	tv_rmtree_counts local;
	struct rmctx r;
	int rc;

	r.c = c ? c : &local;
	memset(r.c, 0, sizeof *r.c);
	r.first_err = 0;
	if (!plain_name(name))
		return EINVAL;
	rc = tv_tree_walk(at, name, TV_TREE_MAX_DEPTH, rm_visit, &r);
	if (rc == ENOENT)
		return 0;
	if (rc)
		return rc;
	if (r.first_err)
		return r.first_err;
	return r.c->too_deep ? ENOTEMPTY : 0;
}
