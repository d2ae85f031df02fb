/*
 * rmtmp.h — removes a test's temporary folder (an absolute or relative
 * path) with tv_rmtree_at on its parent's descriptor: links inside are
 * removed as links, never followed, and no shell is involved.
 */
#ifndef TEST_RMTMP_H
#define TEST_RMTMP_H

#include "../../ingest/tvfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

/* 0, or an errno (the path too long, its parent not openable, a removal
 * that failed). */
static inline int test_rmtree(const char *path)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	size_t plen = slash ? (size_t)(slash - path) : 0;
	int pfd, rc;

	if (plen >= sizeof parent)
		return ENAMETOOLONG;
	if (slash) {
		memcpy(parent, path, plen);
		parent[plen] = 0;
		if (plen == 0)
			strcpy(parent, "/");
	} else {
		strcpy(parent, ".");
	}
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return errno;
	rc = tv_rmtree_at(pfd, name, NULL);
	close(pfd);
	return rc;
}

#endif
