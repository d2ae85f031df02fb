/*
 * test_tvfile.c — ingest/tvfile.c: new files that never write through a
 * planted link, stale temporary files, folders opened level by level, tree
 * walks that never follow a link; and store_chown_tree (store/storedir.c),
 * which is built on them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "../../ingest/tvfile.h"
#include "../../store/storedir.h"

static char g_dir[64];

static void setup(void)
{
	snprintf(g_dir, sizeof g_dir, "/tmp/tv-tvfile-XXXXXX");
	cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void)
{
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY);
	tv_rmtree_at(fd, g_dir + 5, NULL);
	close(fd);
}

TestSuite(tvfile, .init = setup, .fini = teardown);

static const char *P(const char *name)
{
	static char buf[8][512];
	static int k;
	k = (k + 1) % 8;
	snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
	return buf[k];
}

static void put(const char *name, const char *text)
{
	FILE *f = fopen(P(name), "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static char *get(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Entries of g_dir whose names contain s. */
static int count_names(const char *sub, const char *s)
{
	DIR *d = opendir(P(sub));
	struct dirent *e;
	int n = 0;
	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		n += strstr(e->d_name, s) != NULL;
	closedir(d);
	return n;
}

static void write_all(tv_outfile *o, const char *text)
{
	cr_assert_eq(write(o->fd, text, strlen(text)), (ssize_t)strlen(text));
}

Test(tvfile, new_file_appears_only_at_commit)
{
	tv_outfile o;
	cr_assert_eq(tv_outfile_open(&o, P("out.txt"), 0600, 0), 0);
	write_all(&o, "hello\n");
	cr_assert_eq(access(P("out.txt"), F_OK), -1, "visible before the commit");
	cr_assert_eq(count_names(".", ".tvtmp-"), 1);
	cr_assert_eq(tv_outfile_commit(&o, NULL), 0);
	cr_assert_str_eq(get(P("out.txt")), "hello\n");
	cr_assert_eq(count_names(".", ".tvtmp-"), 0);
	cr_assert_eq(o.fd, -1);
	cr_assert_eq(o.dirfd, -1);
}

Test(tvfile, abort_leaves_nothing)
{
	tv_outfile o;
	cr_assert_eq(tv_outfile_open(&o, P("out.txt"), 0600, 0), 0);
	write_all(&o, "partial");
	tv_outfile_abort(&o);
	tv_outfile_abort(&o); /* twice is harmless */
	cr_assert_eq(access(P("out.txt"), F_OK), -1);
	cr_assert_eq(count_names(".", ".tvtmp-"), 0);
}

Test(tvfile, link_at_final_name_is_refused_and_target_untouched)
{
	tv_outfile o;
	put("victim", "precious\n");
	cr_assert_eq(symlink(P("victim"), P("out.txt")), 0);
	cr_assert_eq(tv_outfile_open(&o, P("out.txt"), 0600, TV_OUT_REPLACE), TV_E_SYMLINK);
	tv_outfile_abort(&o);
	cr_assert_eq(tv_outfile_open(&o, P("out.txt"), 0600, 0), TV_E_SYMLINK);
	tv_outfile_abort(&o);
	/* a dangling link is refused too (O_CREAT would create its target) */
	cr_assert_eq(symlink(P("new-victim"), P("dangling")), 0);
	cr_assert_eq(tv_outfile_open(&o, P("dangling"), 0600, TV_OUT_REPLACE), TV_E_SYMLINK);
	tv_outfile_abort(&o);
	cr_assert_str_eq(get(P("victim")), "precious\n");
	cr_assert_eq(access(P("new-victim"), F_OK), -1);
	cr_assert_eq(count_names(".", ".tvtmp-"), 0);
}

Test(tvfile, link_planted_before_commit_is_refused)
{
	tv_outfile o;
	put("victim", "precious\n");
	cr_assert_eq(tv_outfile_open(&o, P("out.txt"), 0600, TV_OUT_REPLACE), 0);
	write_all(&o, "new\n");
	cr_assert_eq(symlink(P("victim"), P("out.txt")), 0);
	cr_assert_eq(tv_outfile_commit(&o, NULL), TV_E_SYMLINK);
	cr_assert_str_eq(get(P("victim")), "precious\n");
	cr_assert_eq(count_names(".", ".tvtmp-"), 0);
	/* without REPLACE anything that appeared is EEXIST */
	cr_assert_eq(tv_outfile_open(&o, P("b.txt"), 0600, 0), 0);
	put("b.txt", "someone else's\n");
	cr_assert_eq(tv_outfile_commit(&o, NULL), EEXIST);
	cr_assert_str_eq(get(P("b.txt")), "someone else's\n");
	cr_assert_eq(count_names(".", ".tvtmp-"), 0);
}

Test(tvfile, existing_file_replaced_only_when_asked)
{
	tv_outfile o;
	put("out.txt", "old\n");
	cr_assert_eq(link(P("out.txt"), P("other-link")), 0);
	cr_assert_eq(tv_outfile_open(&o, P("out.txt"), 0600, 0), EEXIST);
	tv_outfile_abort(&o);
	cr_assert_eq(tv_outfile_open(&o, P("out.txt"), 0600, TV_OUT_REPLACE), 0);
	write_all(&o, "new\n");
	cr_assert_eq(tv_outfile_commit(&o, NULL), 0);
	cr_assert_str_eq(get(P("out.txt")), "new\n");
	/* the file behind the name was replaced, never written into */
	cr_assert_str_eq(get(P("other-link")), "old\n");
}

/* TV_OUT_NOSYNC leaves out the fsyncs only: the file still appears at
 * commit alone, replaces only a regular file, and leaves no temporary. */
Test(tvfile, nosync_commits_the_same_way)
{
	tv_outfile o;
	put("out.txt", "old\n");
	cr_assert_eq(tv_outfile_open(&o, P("out.txt"), 0600, TV_OUT_REPLACE | TV_OUT_NOSYNC), 0);
	write_all(&o, "new\n");
	cr_assert_str_eq(get(P("out.txt")), "old\n");
	cr_assert_eq(tv_outfile_commit(&o, NULL), 0);
	cr_assert_str_eq(get(P("out.txt")), "new\n");
	cr_assert_eq(count_names(".", ".tvtmp-"), 0);
	/* a link put at the name meanwhile is still refused */
	cr_assert_eq(tv_outfile_open(&o, P("out2.txt"), 0600, TV_OUT_REPLACE | TV_OUT_NOSYNC), 0);
	cr_assert_eq(symlink(P("out.txt"), P("out2.txt")), 0);
	cr_assert_eq(tv_outfile_commit(&o, NULL), TV_E_SYMLINK);
	cr_assert_str_eq(get(P("out.txt")), "new\n");
	cr_assert_eq(count_names(".", ".tvtmp-"), 0);
}

Test(tvfile, folder_and_special_files)
{
	tv_outfile o;
	cr_assert_eq(mkdir(P("sub"), 0700), 0);
	cr_assert_eq(tv_outfile_open(&o, P("sub"), 0600, TV_OUT_REPLACE), EISDIR);
	tv_outfile_abort(&o);
	cr_assert_eq(mkfifo(P("fifo"), 0600), 0);
	cr_assert_eq(tv_outfile_open(&o, P("fifo"), 0600, TV_OUT_REPLACE), TV_E_NOTREG);
	tv_outfile_abort(&o);
	cr_assert_eq(tv_outfile_open(&o, "/dev/null", 0600, TV_OUT_SPECIAL), 0);
	cr_assert(o.direct);
	write_all(&o, "discarded");
	cr_assert_eq(tv_outfile_commit(&o, NULL), 0);
	cr_assert_eq(tv_outfile_open(&o, "/dev/null", 0600, 0), TV_E_NOTREG);
	tv_outfile_abort(&o);
}

Test(tvfile, stem_names_the_temporary_file_only)
{
	tv_outfile o;
	put("victim", "precious\n");
	cr_assert_eq(symlink(P("victim"), P("final-abc.gz")), 0);
	cr_assert_eq(tv_outfile_open(&o, P("stem.gz"), 0600, TV_OUT_STEM | TV_OUT_REPLACE), 0);
	cr_assert_eq(count_names(".", ".stem.gz.tvtmp-"), 1);
	write_all(&o, "x");
	cr_assert_eq(tv_outfile_commit(&o, "final-abc.gz"), TV_E_SYMLINK);
	cr_assert_str_eq(get(P("victim")), "precious\n");
	cr_assert_eq(tv_outfile_open(&o, P("stem.gz"), 0600, TV_OUT_STEM), 0);
	cr_assert_eq(tv_outfile_commit(&o, NULL), EINVAL, "a stem is no final name");
	cr_assert_eq(count_names(".", ".tvtmp-"), 0);
}

static long dead_pid(void)
{
	pid_t p = fork();
	cr_assert_geq(p, 0);
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	return (long)p;
}

Test(tvfile, stale_temporary_files_of_the_name_are_swept)
{
	char name[128];
	tv_outfile o;
	int lockfd;
	long dead = dead_pid();
	/* killed runs of this name: removed */
	snprintf(name, sizeof name, ".case.tar.zst.tvtmp-%ld-ABCDEFGH", dead);
	put(name, "stale");
	snprintf(name, sizeof name, ".case.tar.zst.tvtmp-%ld-ABCDEFGI", dead);
	put(name, "stale");
	/* a living writer's (pid alive): kept */
	snprintf(name, sizeof name, ".case.tar.zst.tvtmp-%ld-ABCDEFGH", (long)getppid());
	put(name, "alive");
	/* held locked although its pid is gone (another pid namespace): kept */
	snprintf(name, sizeof name, ".case.tar.zst.tvtmp-%ld-LOCKEDXX", dead);
	put(name, "locked");
	lockfd = open(P(name), O_RDONLY);
	cr_assert_eq(flock(lockfd, LOCK_EX), 0);
	/* another name's, and names that only look alike: kept */
	snprintf(name, sizeof name, ".other.tvtmp-%ld-ABCDEFGH", dead);
	put(name, "other");
	snprintf(name, sizeof name, ".case.tar.zst.tvtmp-%ld-SHORT", dead);
	put(name, "odd");
	/* a link named like a stale file: kept, and its target too */
	put("victim", "precious\n");
	snprintf(name, sizeof name, ".case.tar.zst.tvtmp-%ld-LINKLINK", dead);
	cr_assert_eq(symlink(P("victim"), P(name)), 0);

	cr_assert_eq(tv_outfile_open(&o, P("case.tar.zst"), 0600, 0), 0);
	cr_assert_eq(o.swept, 2);
	tv_outfile_abort(&o);
	cr_assert_eq(count_names(".", ".case.tar.zst.tvtmp-"), 4);
	cr_assert_eq(count_names(".", ".other.tvtmp-"), 1);
	cr_assert_str_eq(get(P("victim")), "precious\n");
	close(lockfd);
}

Test(tvfile, another_users_stale_file_is_kept)
{
	char name[128];
	tv_outfile o;
	if (geteuid() != 0)
		cr_skip_test("needs root to make a file of another user");
	snprintf(name, sizeof name, ".r.txt.tvtmp-%ld-ABCDEFGH", dead_pid());
	put(name, "theirs");
	cr_assert_eq(chown(P(name), 65534, 65534), 0);
	cr_assert_eq(tv_outfile_open(&o, P("r.txt"), 0600, 0), 0);
	cr_assert_eq(o.swept, 0);
	tv_outfile_abort(&o);
	cr_assert_str_eq(get(P(name)), "theirs");
}

Test(tvfile, dir_open_creates_levels_and_refuses_links)
{
	int top, fd;
	size_t bad;
	cr_assert_eq(mkdir(P("top"), 0700), 0);
	cr_assert_eq(mkdir(P("elsewhere"), 0700), 0);
	top = open(P("top"), O_RDONLY | O_DIRECTORY);
	cr_assert_eq(tv_dir_open(top, "a/b/c", TV_DIR_CREATE, 0700, &fd, &bad), 0);
	close(fd);
	cr_assert_eq(access(P("top/a/b/c"), F_OK), 0);
	cr_assert_eq(symlink(P("elsewhere"), P("top/a/link")), 0);
	cr_assert_eq(tv_dir_open(top, "a/link/x", TV_DIR_CREATE, 0700, &fd, &bad), TV_E_SYMLINK);
	cr_assert_eq(bad, strlen("a/link"));
	cr_assert_eq(access(P("elsewhere/x"), F_OK), -1, "created through the link");
	/* a dangling link: not followed to create its target */
	cr_assert_eq(symlink(P("nowhere"), P("top/a/dang")), 0);
	cr_assert_eq(tv_dir_open(top, "a/dang", TV_DIR_CREATE, 0700, &fd, &bad), TV_E_SYMLINK);
	cr_assert_eq(access(P("nowhere"), F_OK), -1);
	cr_assert_eq(tv_dir_open(top, "a/../b", TV_DIR_CREATE, 0700, &fd, &bad), TV_E_RANGE);
	put("top/file", "x");
	cr_assert_eq(tv_dir_open(top, "file/x", TV_DIR_CREATE, 0700, &fd, &bad), ENOTDIR);
	/* FOLLOW: the user's own path, links and all */
	cr_assert_eq(tv_dir_open(top, "a/link", TV_DIR_FOLLOW, 0, &fd, &bad), 0);
	close(fd);
	close(top);
}

Test(tvfile, rmtree_removes_links_not_their_targets)
{
	int dfd;
	tv_rmtree_counts c;
	cr_assert_eq(mkdir(P("keep"), 0700), 0);
	put("keep/f", "precious\n");
	cr_assert_eq(mkdir(P("t"), 0700), 0);
	cr_assert_eq(mkdir(P("t/sub"), 0700), 0);
	put("t/sub/x", "x");
	cr_assert_eq(symlink(P("keep"), P("t/dirlink")), 0);
	cr_assert_eq(symlink(P("keep/f"), P("t/sub/filelink")), 0);
	dfd = open(g_dir, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(tv_rmtree_at(dfd, "t", &c), 0);
	cr_assert_eq(c.removed, 5);
	cr_assert_eq(c.failed, 0);
	cr_assert_eq(access(P("t"), F_OK), -1);
	cr_assert_str_eq(get(P("keep/f")), "precious\n");
	cr_assert_eq(tv_rmtree_at(dfd, "t", &c), 0, "absent is not an error");
	close(dfd);
}

Test(tvfile, tree_walk_is_bounded)
{
	char rel[512] = "";
	int dfd, i, fd;
	tv_rmtree_counts c;
	for (i = 0; i < TV_TREE_MAX_DEPTH + 2; i++)
		strcat(rel, i ? "/d" : "deep");
	dfd = open(g_dir, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(tv_dir_open(dfd, rel, TV_DIR_CREATE, 0700, &fd, NULL), 0);
	close(fd);
	memset(&c, 0, sizeof c);
	cr_assert_eq(tv_rmtree_at(dfd, "deep", &c), ENOTEMPTY);
	cr_assert_eq(c.too_deep, 1);
	close(dfd);
}

Test(tvfile, chown_tree_never_leaves_the_store)
{
	store_chown_counts c;
	struct stat st;
	if (geteuid() != 0)
		cr_skip_test("needs root to chown");
	put("victim", "precious\n");
	cr_assert_eq(mkdir(P("outside"), 0755), 0);
	put("outside/f", "precious\n");
	cr_assert_eq(mkdir(P("st"), 0700), 0);
	cr_assert_eq(mkdir(P("st/segments"), 0700), 0);
	put("st/segments/seg", "data");
	put("st/LOCK", "");
	cr_assert_eq(symlink(P("outside"), P("st/l")), 0);
	cr_assert_eq(symlink(P("victim"), P("st/segments/fl")), 0);
	cr_assert_eq(link(P("victim"), P("st/hard")), 0);
	cr_assert_eq(mkfifo(P("st/fifo"), 0600), 0);
	cr_assert_eq(store_chown_tree(P("st"), 65534, 65534, &c), 0);
	cr_assert_eq(c.changed, 4, "st, segments, seg, LOCK: %llu", (unsigned long long)c.changed);
	cr_assert_eq(c.symlinks, 2);
	cr_assert_eq(c.multilinked, 1);
	cr_assert_eq(c.special, 1);
	cr_assert_eq(stat(P("st/segments/seg"), &st), 0);
	cr_assert_eq(st.st_uid, 65534);
	cr_assert_eq(stat(P("victim"), &st), 0);
	cr_assert_eq(st.st_uid, 0, "a hard link made root chown a file outside");
	cr_assert_eq(stat(P("outside/f"), &st), 0);
	cr_assert_eq(st.st_uid, 0, "a symbolic link made root chown a file outside");
	/* the store itself must not be a link */
	cr_assert_eq(symlink(P("outside"), P("st2")), 0);
	cr_assert_eq(store_chown_tree(P("st2"), 65534, 65534, &c), TV_E_SYMLINK);
	cr_assert_eq(stat(P("outside"), &st), 0);
	cr_assert_eq(st.st_uid, 0);
	/* nor a third user's folder */
	cr_assert_eq(mkdir(P("st3"), 0700), 0);
	cr_assert_eq(chown(P("st3"), 1234, 1234), 0);
	cr_assert_eq(store_chown_tree(P("st3"), 65534, 65534, &c), EPERM);
	/* a store that does not exist yet is made */
	cr_assert_eq(store_chown_tree(P("st4"), 65534, 65534, &c), 0);
	cr_assert_eq(stat(P("st4"), &st), 0);
	cr_assert_eq(st.st_uid, 65534);
	cr_assert_eq(st.st_mode & 07777, 0700);
}

Test(tvfile, vnimap_copy_refuses_links)
{
	int src;
	put("map.txt", "vni=1 eni=eni-1\n");
	put("victim", "precious\n");
	cr_assert_eq(mkdir(P("st"), 0700), 0);
	src = open(P("map.txt"), O_RDONLY);
	cr_assert_eq(store_vnimap_put(P("st"), "map.txt", src), 0);
	close(src);
	cr_assert_str_eq(get(P("st/vnimap/map.txt")), "vni=1 eni=eni-1\n");
	cr_assert_eq(symlink(P("victim"), P("st/vnimap/other.txt")), 0);
	src = open(P("map.txt"), O_RDONLY);
	cr_assert_eq(store_vnimap_put(P("st"), "other.txt", src), TV_E_SYMLINK);
	close(src);
	cr_assert_str_eq(get(P("victim")), "precious\n");
	/* the vnimap folder swapped for a link: refused, nothing written there */
	cr_assert_eq(mkdir(P("st2"), 0700), 0);
	cr_assert_eq(mkdir(P("elsewhere"), 0700), 0);
	cr_assert_eq(symlink(P("elsewhere"), P("st2/vnimap")), 0);
	src = open(P("map.txt"), O_RDONLY);
	cr_assert_eq(store_vnimap_put(P("st2"), "map.txt", src), TV_E_SYMLINK);
	close(src);
	cr_assert_eq(count_names("elsewhere", "map"), 0);
}

Test(tvfile, vnimap_read_never_follows_a_link_nor_blocks_on_a_fifo)
{
	char buf[64];
	ssize_t n;
	int src, fd = -1;
	put("map.txt", "vni=1 eni=eni-1\n");
	put("victim", "secret\n");
	cr_assert_eq(mkdir(P("st"), 0700), 0);
	src = open(P("map.txt"), O_RDONLY);
	cr_assert_eq(store_vnimap_put(P("st"), "map.txt", src), 0);
	close(src);
	cr_assert_eq(store_vnimap_open(P("st"), "map.txt", &fd), 0);
	n = read(fd, buf, sizeof buf - 1);
	cr_assert_eq(n, 16);
	close(fd);
	/* the copy swapped for a link to another file after the listing */
	cr_assert_eq(unlink(P("st/vnimap/map.txt")), 0);
	cr_assert_eq(symlink(P("victim"), P("st/vnimap/map.txt")), 0);
	cr_assert_eq(store_vnimap_open(P("st"), "map.txt", &fd), TV_E_SYMLINK);
	cr_assert_eq(fd, -1);
	/* a FIFO: refused at once, not waited on */
	cr_assert_eq(mkfifo(P("st/vnimap/p.txt"), 0600), 0);
	cr_assert_eq(store_vnimap_open(P("st"), "p.txt", &fd), TV_E_NOTREG);
	/* a name that would leave the folder */
	cr_assert_eq(store_vnimap_open(P("st"), "../x", &fd), EINVAL);
}
