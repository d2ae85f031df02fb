/*
 * storedir.c — the store directory as a whole (store.h, "The store
 * directory"): giving it to the user an ingest runs as, and the copies of
 * the VNI maps kept in it.
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
#include "store.h"
#include "../ingest/tvfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
