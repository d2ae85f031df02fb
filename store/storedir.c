/*
 * storedir.c — the store directory as a whole (store.h, "The store
 * directory"): the names in it, the writer's lock, giving it to the user
 * an ingest runs as, and the copies of the VNI maps kept in it.
 *
 * Root chowns a folder that, from the second start on, already belongs to
 * that user, who may have been compromised through the network input it
 * parses.  So every entry is reached through descriptors only
 * (tv_tree_walk: openat with O_NOFOLLOW from the folder above, fstat and
 * fchownat(AT_EMPTY_PATH) on the descriptor opened): a folder swapped for a
 * symbolic link in the meantime is seen as the link and left alone, and
 * nothing outside the store is ever reached by name.  A file with a second
 * hard link may be a link to a file outside the store, so it keeps its
 * owner too.
 */
#include "storedir.h"
#include "../ingest/tvfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int store_path(const char *dir, const char *name, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= cap ? TV_E_RANGE : 0;
}

int store_lock_take(const char *dir, int *fd_out)
{
	char path[4096];
	int fd, rc;
	if ((rc = store_path(dir, STORE_LOCK_NAME, path, sizeof path)) != 0)
		return rc;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? TV_E_LOCKED : e;
	}
	*fd_out = fd;
	return 0;
}

/* A line of /proc/locks: "N: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF";
 * a waiter's line has "->" after the colon. */
static bool lock_line_holds(const char *line, const struct stat *st)
{
	char type[16], mode[16], rw[16];
	unsigned maj, min;
	unsigned long long ino;
	long pid;
	const char *p = strchr(line, ':');
	if (!p)
		return false;
	p++;
	while (*p == ' ')
		p++;
	if (strncmp(p, "->", 2) == 0)
		return false;
	if (sscanf(p, "%15s %15s %15s %ld %x:%x:%llu", type, mode, rw, &pid, &maj, &min, &ino) != 7)
		return false;
	return strcmp(type, "FLOCK") == 0 && ino == (unsigned long long)st->st_ino &&
	       maj == major(st->st_dev) && min == minor(st->st_dev);
}

bool store_lock_held(const char *dir)
{
	char path[4096], line[256];
	struct stat st;
	FILE *f;
	bool held = false;

	if (store_path(dir, STORE_LOCK_NAME, path, sizeof path) != 0 || stat(path, &st) != 0)
		return false;
	f = fopen("/proc/locks", "re");
	if (!f)
		return false;
	while (!held && fgets(line, sizeof line, f))
		held = lock_line_holds(line, &st);
	fclose(f);
	return held;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int store_vnimap_list(const char *dir, char (*names)[256], size_t max, size_t *n)
{
	struct dirent *e;
	struct stat st;
	DIR *d;
	int sfd = -1, vfd = -1, rc;

	*n = 0;
	rc = tv_dir_open(AT_FDCWD, dir, TV_DIR_FOLLOW, 0, &sfd, NULL);
	if (!rc)
		rc = tv_dir_open(sfd, STORE_VNIMAP_DIR, 0, 0, &vfd, NULL);
	if (sfd >= 0)
		close(sfd);
	if (rc)
		return rc == ENOENT ? 0 : rc;
	d = fdopendir(vfd);
	if (!d) {
		rc = errno;
		close(vfd);
		return rc;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= 256)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (*n < max)
			snprintf(names[*n], 256, "%s", e->d_name);
		(*n)++;
	}
	closedir(d);
	qsort(names, *n < max ? *n : max, sizeof names[0], name_cmp);
	return 0;
}

int store_vnimap_open(const char *dir, const char *name, int *fd_out)
{
	struct stat st;
	int sfd = -1, vfd = -1, fd = -1, rc;

	*fd_out = -1;
	if (!name[0] || name[0] == '.' || strchr(name, '/'))
		return EINVAL;
	rc = tv_dir_open(AT_FDCWD, dir, TV_DIR_FOLLOW, 0, &sfd, NULL);
	if (!rc)
		rc = tv_dir_open(sfd, STORE_VNIMAP_DIR, 0, 0, &vfd, NULL);
	if (!rc) {
		/* O_NONBLOCK: a FIFO planted under the name does not block the open */
		fd = openat(vfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			rc = errno == ELOOP ? TV_E_SYMLINK : errno;
		else if (fstat(fd, &st) != 0)
			rc = errno;
		else if (!S_ISREG(st.st_mode))
			rc = TV_E_NOTREG;
	}
	if (sfd >= 0)
		close(sfd);
	if (vfd >= 0)
		close(vfd);
	if (rc) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

struct chown_ctx {
	uid_t uid;
	gid_t gid;
	store_chown_counts *c;
	int first_err;
};

static void failed(struct chown_ctx *x, int err)
{
	x->c->failed++;
	if (!x->first_err)
		x->first_err = err;
}

static enum tv_tree_act chown_visit(void *ctx, const tv_tree_ent *e, bool after)
{
	struct chown_ctx *x = ctx;
	if (after)
		return TV_TREE_CONTINUE;
	if (e->err == ENOENT) {
		x->c->vanished++;
		return TV_TREE_CONTINUE;
	}
	if (!e->st) {
		failed(x, e->err);
		return TV_TREE_CONTINUE;
	}
	if (S_ISLNK(e->st->st_mode)) {
		x->c->symlinks++;
		return TV_TREE_CONTINUE;
	}
	if (!S_ISDIR(e->st->st_mode) && !S_ISREG(e->st->st_mode)) {
		x->c->special++;
		return TV_TREE_CONTINUE;
	}
	if (S_ISREG(e->st->st_mode) && e->st->st_nlink > 1) {
		x->c->multilinked++;
		return TV_TREE_CONTINUE;
	}
	/* the folder itself is still ours to give when its contents are not
	 * reachable (too deep, unreadable) */
	if (e->err == TV_E_RANGE)
		x->c->too_deep++;
	else if (e->err)
		failed(x, e->err);
	if (e->st->st_uid == x->uid && e->st->st_gid == x->gid)
		return TV_TREE_CONTINUE;
	if (fchownat(e->fd, "", x->uid, x->gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
		failed(x, errno);
	else
		x->c->changed++;
	return TV_TREE_CONTINUE;
}

int store_chown_tree(const char *dir, uid_t uid, gid_t gid, store_chown_counts *c)
{
	struct chown_ctx x;
	struct stat st;
	int dfd, rc;

	memset(c, 0, sizeof *c);
	memset(&x, 0, sizeof x);
	x.uid = uid;
	x.gid = gid;
	x.c = c;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return errno;
	/* The folders above the store are the administrator's choice; the store
	 * itself must not be a link: in a folder others can write, a link
	 * planted at the store's name would hand its target to uid. */
	dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		rc = errno;
		if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
			rc = TV_E_SYMLINK;
		return rc;
	}
	/* a folder of a third user (a mistyped home directory, say) is not
	 * given away */
	if (fstat(dfd, &st) != 0) {
		rc = errno;
		close(dfd);
		return rc;
	}
	if (st.st_uid != 0 && st.st_uid != uid && st.st_uid != geteuid()) {
		close(dfd);
		return EPERM;
	}
	rc = tv_tree_walk(dfd, ".", TV_TREE_MAX_DEPTH, chown_visit, &x);
	close(dfd);
	return rc ? rc : x.first_err;
}

int store_vnimap_put(const char *dir, const char *name, int src)
{
	tv_outfile o;
	char buf[65536];
	ssize_t n;
	int sfd = -1, vfd = -1, rc;

	tv_outfile_init(&o);
	rc = tv_dir_open(AT_FDCWD, dir, TV_DIR_FOLLOW, 0, &sfd, NULL);
	if (!rc)
		rc = tv_dir_open(sfd, STORE_VNIMAP_DIR, TV_DIR_CREATE, 0700, &vfd, NULL);
	if (!rc)
		rc = tv_outfile_openat(&o, vfd, name, 0600, TV_OUT_REPLACE);
	while (!rc && (n = read(src, buf, sizeof buf)) != 0) {
		if (n < 0)
			rc = errno == EINTR ? 0 : errno;
		else if (write(o.fd, buf, (size_t)n) != n)
			rc = errno ? errno : TV_E_IO;
	}
	if (!rc)
		rc = tv_outfile_commit(&o, NULL);
	else
		tv_outfile_abort(&o);
	if (vfd >= 0)
		close(vfd);
	if (sfd >= 0)
		close(sfd);
	return rc;
}

int store_vnimap_copy(const char *dir, const char *const *paths, size_t n, bool before_writer,
                      store_vnimap_copy_fn done, void *ctx, size_t *failed)
{
	size_t i, nfail = 0;
	int lfd = -1, rc = 0;

	if (failed)
		*failed = 0;
	if (n == 0)
		return 0;
	if (before_writer) {
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return errno;
		if ((rc = store_lock_take(dir, &lfd)) != 0)
			return rc;
	}
	for (i = 0; i < n; i++) {
		const char *base = strrchr(paths[i], '/');
		int in;
		base = base ? base + 1 : paths[i];
		/* O_NONBLOCK: a FIFO must not hang the open; only a regular file
		 * of at most STORE_VNIMAP_MAX_BYTES is copied */
		in = open(paths[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (in < 0) {
			rc = errno;
		} else {
			struct stat sb;
			if (fstat(in, &sb) != 0)
				rc = errno;
			else if (!S_ISREG(sb.st_mode))
				rc = TV_E_NOTREG;
			else if (sb.st_size > STORE_VNIMAP_MAX_BYTES)
				rc = TV_E_RANGE;
			else
				rc = store_vnimap_put(dir, base, in);
			close(in);
		}
		if (rc)
			nfail++;
		if (done)
			done(ctx, paths[i], base, rc);
	}
	if (lfd >= 0)
		close(lfd);
	if (failed)
		*failed = nfail;
	return 0;
}
