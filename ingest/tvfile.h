/*
 * tvfile.h — files and folders that another user may be able to reach.
 *
 * tapvault often runs as root and writes into folders that other users can
 * write to (/tmp, a store handed to --user NAME, an S3 export folder).  A
 * path name is not a safe handle there: between two calls another user can
 * put a symbolic link, a hard link or a different folder at that name, and
 * root then writes or chowns a file of that user's choosing.  Everything
 * here works on descriptors instead:
 *
 *   tv_dir_open       opens a folder level by level with openat (creating
 *                     missing levels with mkdirat); a level that is a
 *                     symbolic link is refused, not followed
 *   tv_outfile        a new file: written under a temporary name created with
 *                     O_CREAT|O_EXCL|O_NOFOLLOW in the target's own folder,
 *                     fsync'ed, then renamed to its final name (a link at the
 *                     final name is refused, never written through); an
 *                     interrupted run leaves at most a temporary file, which
 *                     the next run for the same name removes
 *   tv_tree_walk      visits a folder tree through directory descriptors only,
 *                     never following a symbolic link, to a bounded depth
 *
 * Used by every module that writes a file (ingest/ is the ground floor, so
 * store/, index/, report/ and cmd/ can all call it).  Never prints.  All
 * descriptors are O_CLOEXEC.  Linux: fchownat(AT_EMPTY_PATH), O_PATH and
 * renameat2(RENAME_NOREPLACE) (with a link+unlink fallback where a file
 * system does not support it).
 */
#ifndef TVFILE_H
#define TVFILE_H

#include "tv.h"

#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Levels a tree walk descends at most below its start (a store is 3 deep,
 * the S3 layout 9); deeper folders are reported to the visitor, not entered. */
#define TV_TREE_MAX_DEPTH 32

/* tv_dir_open flags */
enum {
	TV_DIR_CREATE = 1, /* create missing levels (mkdirat, mode) */
	TV_DIR_FOLLOW = 2, /* follow symbolic links in levels that exist already: only for a
	                    * path the user typed; levels this call creates are never followed */
};

/*
 * Opens the folder `path` relative to `at` (AT_FDCWD, or a descriptor; an
 * absolute path ignores `at`), one level at a time, each with
 * O_DIRECTORY|O_NOFOLLOW unless TV_DIR_FOLLOW.  Returns 0 with *fd (caller
 * closes), or: TV_E_SYMLINK when a level is a symbolic link (not
 * followed), ENOTDIR when it is something else, TV_E_RANGE for a ".." level
 * without TV_DIR_FOLLOW, an errno.  On error *bad (may be NULL) is the
 * length of the prefix of path that names the level that failed, for the
 * message.  An empty path or "." opens `at` again.
 */
int tv_dir_open(int at, const char *path, unsigned flags, mode_t mode, int *fd, size_t *bad);

/* ------------------------------------------------------------- new files */

/* tv_outfile flags */
enum {
	TV_OUT_REPLACE = 1, /* commit may replace an existing regular file at the final name
	                     * (never a link, folder or anything else); without it an
	                     * existing name of any kind is EEXIST */
	TV_OUT_SPECIAL = 2, /* when the name is an existing FIFO or character device owned by
	                     * the caller or by root (/dev/null, a named pipe Wireshark
	                     * reads), write to it in place: no temporary file, no rename */
	TV_OUT_STEM = 4,    /* the name given at open only names the temporary file (and its
	                     * sweep); the final name is given to tv_outfile_commit, which
	                     * does all the checks (for names that hold a hash of the content) */
	TV_OUT_NOSYNC = 8,  /* commit renames without fsync of the file or the folder: for an
	                     * extract the same command makes again while its data is kept
	                     * (a query's pcap, as tcpdump -w writes one).  The rename still
	                     * leaves no partial file under the name when the command fails;
	                     * after a crash or power loss the file may be empty or short */
};

#define TV_NAME_MAX 255

typedef struct tv_outfile {
	int dirfd;                  /* the folder of the file */
	int fd;                     /* write here (read-write for a temporary file); -1 when none */
	unsigned flags;
	bool direct;                /* fd is an existing special file written in place */
	unsigned swept;             /* stale temporary files of this name removed at open */
	char name[TV_NAME_MAX + 1]; /* final name in dirfd */
	char tmp[TV_NAME_MAX + 1];  /* temporary name in dirfd; "" when none */
} tv_outfile;

/* Makes o safe to abort without an open (all descriptors -1). */
void tv_outfile_init(tv_outfile *o);

/*
 * Starts the file `path` (a name the user gave: its folder is opened as
 * given, following links, as any program does; only the last component is
 * guarded).  Removes stale temporary files of the same name left by a run
 * that was killed (only files of this user that no living process holds
 * locked; counted in o->swept), then creates the temporary file
 * ".NAME.tvtmp-PID-XXXXXX" (random, O_EXCL|O_NOFOLLOW, mode & ~umask) beside
 * the final name and locks it (flock) for as long as it is written.
 *
 * Refused at once (nothing created): the final name is a symbolic link
 * (TV_E_SYMLINK), a folder (EISDIR), another kind of file (TV_E_NOTREG,
 * unless TV_OUT_SPECIAL accepts it), or an existing regular file without
 * TV_OUT_REPLACE (EEXIST).  Always call tv_outfile_commit() or
 * tv_outfile_abort() afterwards, also on error.
 */
int tv_outfile_open(tv_outfile *o, const char *path, mode_t mode, unsigned flags);
/* The same inside the folder dirfd (duplicated; the caller keeps its own),
 * for a plain name (no '/'). */
int tv_outfile_openat(tv_outfile *o, int dirfd, const char *name, mode_t mode, unsigned flags);

/* A stdio stream on a duplicate of o->fd (NULL with errno on failure).  The
 * caller must fclose() it, and check that, before tv_outfile_commit(). */
FILE *tv_outfile_stdio(tv_outfile *o, const char *mode);

/*
 * Finishes the file: fsync (not with TV_OUT_NOSYNC), then renames the
 * temporary file to `name` (NULL: the name given at open) without replacing
 * anything but, with TV_OUT_REPLACE, a regular file; then fsyncs the folder
 * (not with TV_OUT_NOSYNC).  A special file is
 * only closed.  Returns 0, or EEXIST / TV_E_SYMLINK / TV_E_NOTREG / EISDIR
 * when something appeared at the final name meanwhile, or an errno; on any
 * error the temporary file is removed.  o is closed afterwards either way.
 */
int tv_outfile_commit(tv_outfile *o, const char *name);
/* Removes the temporary file (if any) and closes o; accepts an initialised,
 * failed or committed o.  Uses only unlinkat and close. */
void tv_outfile_abort(tv_outfile *o);

/*
 * Removes the temporary files of `name` in dirfd that tv_outfile left when
 * its process was killed: a regular file named ".NAME.tvtmp-*", owned by
 * the effective user, with one link, that no process holds locked.  Adds
 * their number to *removed (may be NULL).  Best effort: returns 0 or the
 * errno of reading the folder.
 */
int tv_outfile_sweep(int dirfd, const char *name, unsigned *removed);

/* ------------------------------------------------------------ tree walks */

/* What a tree walk shows its visitor: one entry, never followed. */
typedef struct tv_tree_ent {
	int parent;            /* descriptor of the folder that holds the entry */
	const char *name;      /* its name there ("." for the start when it is `at` itself) */
	int fd;                /* O_PATH|O_NOFOLLOW descriptor of the entry itself; -1 when err */
	const struct stat *st; /* fstat of fd; NULL when err */
	int depth;             /* 0 for the start */
	int err;               /* non-zero: the entry could not be opened (fd -1, st NULL;
	                        * ENOENT: it vanished meanwhile), or, with fd and st set, a
	                        * folder that is not entered: TV_E_RANGE when deeper than
	                        * max_depth, else the errno of opening it for reading */
} tv_tree_ent;

enum tv_tree_act {
	TV_TREE_CONTINUE = 0, /* go on (into a folder when called before it) */
	TV_TREE_PRUNE,        /* do not enter this folder */
	TV_TREE_STOP,         /* end the walk: tv_tree_walk returns ECANCELED */
};

/*
 * The visitor is called for every entry before it is entered (after =
 * false), and once more for each folder after its contents (after = true,
 * not after PRUNE or when err is set).  Symbolic links are passed as links, never
 * followed; a folder is entered through openat on its own descriptor, so a
 * name swapped for a link while the walk runs leads nowhere else.
 */
typedef enum tv_tree_act (*tv_tree_fn)(void *ctx, const tv_tree_ent *e, bool after);

/*
 * Walks the entry `name` of folder `at` ("." for `at` itself) and, when it
 * is a folder, everything below it to max_depth levels.  Returns 0; the
 * errno of opening the start (ENOENT, ...) without calling the visitor;
 * TV_E_NOMEM; or ECANCELED when the visitor said STOP.
 */
int tv_tree_walk(int at, const char *name, int max_depth, tv_tree_fn fn, void *ctx);

/* Counts of a tree removal; each skip is something left in place. */
typedef struct tv_rmtree_counts {
	uint64_t removed;  /* entries unlinked (links as links, never their targets) */
	uint64_t too_deep; /* folders below TV_TREE_MAX_DEPTH, left with their contents */
	uint64_t failed;   /* entries unlinkat refused (first error returned) */
} tv_rmtree_counts;

/* Removes the entry `name` of folder `at` and, when it is a folder,
 * everything below it, walking with tv_tree_walk (a link is removed, what
 * it points to is not touched).  An absent name is not an error.  Returns 0
 * or the first errno; *c (may be NULL) is set to what happened. */
int tv_rmtree_at(int at, const char *name, tv_rmtree_counts *c);

#endif
