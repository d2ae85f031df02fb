/*
 * storedir.h — the store directory as a whole (store/storedir.c):
 *
 *   STORE_*_NAME/_DIR  every name inside a store directory (FORMAT.md
 *                   "Directory layout"); nothing else spells them.
 *   store_lock_*    the writer's lock file, STORE/LOCK.
 *   store_chown_tree  gives the whole store directory to another user
 *                   without ever following a link out of it.
 *   store_vnimap_*  the copies of the VNI maps kept in STORE/vnimap/.
 *
 * Part of the store module (prefix store_).
 */
#ifndef STORE_STOREDIR_H
#define STORE_STOREDIR_H

#include "store.h"

/* What store_chown_tree did and left alone. */
typedef struct store_chown_counts {
	uint64_t changed;     /* entries given to uid:gid (those already theirs are not counted) */
	uint64_t symlinks;    /* symbolic links: never followed, left as they are */
	uint64_t multilinked; /* regular files with a second hard link (perhaps to a file
	                       * outside the store): left as they are */
	uint64_t special;     /* FIFOs, sockets, devices (a store makes none): left */
	uint64_t too_deep;    /* folders deeper than TV_TREE_MAX_DEPTH: given, not entered */
	uint64_t vanished;    /* entries removed while the walk ran */
	uint64_t failed;      /* entries that could not be opened or chowned */
} store_chown_counts;

/*
 * Gives DIR and everything below it to uid:gid (the store of `ingest
 * --user`), walking through directory descriptors only: each entry is
 * opened with O_NOFOLLOW relative to its folder's descriptor, checked with
 * fstat and chowned with fchownat on that descriptor, so an entry swapped
 * for a link during the walk can never make root chown a file outside DIR.
 * Links, multiply-linked files and special files are skipped and counted
 * in *c.  DIR is created (0700) when absent.  Returns 0; TV_E_SYMLINK when
 * DIR itself is a symbolic link; EPERM when DIR belongs to a user other
 * than root, uid or the caller; the errno of opening DIR; or the first
 * errno of an entry that failed (the walk goes on; c->failed counts them).
 */
int store_chown_tree(const char *dir, uid_t uid, gid_t gid, store_chown_counts *c);

/* Entries of a store directory (FORMAT.md "Directory layout"). */
#define STORE_LOCK_NAME "LOCK"             /* the writer's flock() */
#define STORE_SEGMENTS_DIR "segments"      /* segment files (store_segs) */
#define STORE_INDEX_DIR "index"            /* the LMDB environment (index/) */
#define STORE_CUSTODY_NAME "custody.log"   /* the export custody log */
#define STORE_VNIMAP_DIR "vnimap"          /* copies of the VNI maps ingest was given */
#define STORE_VNIMAP_MAX_BYTES (64u << 20) /* a larger file is no VNI map (its loader's limit) */

/* DIR/NAME into buf (cap bytes); TV_E_RANGE when it does not fit. */
int store_path(const char *dir, const char *name, char *buf, size_t cap);

/*
 * Takes STORE/LOCK for a writer (created 0600, O_NOFOLLOW; an exclusive
 * flock(), so a crashed writer leaves no stale lock): *fd holds it until
 * closed.  TV_E_LOCKED when another process holds it, else 0 or an errno.
 */
int store_lock_take(const char *dir, int *fd);

/*
 * Whether a writer holds STORE/LOCK now.  Looks, never takes the lock, not
 * even for a moment (an ingest starting then would be refused): the lock
 * file's device and inode are looked up in /proc/locks (proc(5)).  false
 * when there is no lock file or /proc/locks cannot be read.
 */
bool store_lock_held(const char *dir);

/*
 * The copy of the VNI maps live ingest keeps in DIR/vnimap/: the names of
 * the regular files there, sorted, into names (each cap_name bytes, at most
 * max); *n says how many there are in all.  0 with *n = 0 when the folder
 * is absent.  Links are skipped.
 */
int store_vnimap_list(const char *dir, char (*names)[256], size_t max, size_t *n);
/* Opens DIR/vnimap/NAME for reading through descriptors: the last
 * component is never followed (TV_E_SYMLINK) and must be a regular file
 * (TV_E_NOTREG); a FIFO does not block.  *fd_out is the caller's. */
int store_vnimap_open(const char *dir, const char *name, int *fd_out);

/*
 * Copies what src reads (to its end) into DIR/vnimap/NAME, mode 0600: the
 * folder is created with mkdirat and opened with O_NOFOLLOW, the copy is
 * written to a temporary file and renamed over the old copy (a link at the
 * name is refused, TV_E_SYMLINK, never written through).  NAME is a plain
 * file name.  On failure the old copy is unchanged.  0 or an error.
 */
int store_vnimap_put(const char *dir, const char *name, int src);

/* The outcome of one file of store_vnimap_copy: rc 0 copied, else why not
 * (the old copy is unchanged).  name is its name in DIR/vnimap/. */
typedef void (*store_vnimap_copy_fn)(void *ctx, const char *path, const char *name, int rc);

/*
 * Copies each of the n files at paths into DIR/vnimap/ under its last
 * component (store_vnimap_put) and calls done (may be NULL) for each.
 * Only a regular file of at most STORE_VNIMAP_MAX_BYTES is copied (else
 * TV_E_NOTREG or TV_E_RANGE for that file); it is opened with O_NONBLOCK,
 * so a FIFO does not hang the caller.
 * With before_writer (an ingest about to start): DIR is created (0700)
 * when absent and the copies are made while STORE/LOCK is held, released
 * before returning, so a writer that runs now never has its copies
 * replaced (TV_E_LOCKED, nothing copied).  Without: the caller is the
 * writer and holds the lock.  Returns 0, TV_E_LOCKED, or the errno that
 * kept every copy from being made; *failed (may be NULL) counts the files
 * not copied.
 */
int store_vnimap_copy(const char *dir, const char *const *paths, size_t n, bool before_writer,
                      store_vnimap_copy_fn done, void *ctx, size_t *failed);

#endif
