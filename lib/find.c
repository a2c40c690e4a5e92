/* find.c - the topics below a directory, for es-topic list and es-lag. A
 * directory with a topic.yaml is a topic and is not searched further; any
 * other directory is searched. The commands ask the library rather than
 * read directories themselves, so that a store that is not a directory
 * tree can answer the same question. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "es-int.h"

/* A subdirectory (symbolic links are not followed), not hidden: hidden
 * ones include a topic being created. */
static int visible_dir(int dfd, const es_dirent *e)
{
	struct stat st;
	if (e->name[0] == '.')
		return 0;
	if (e->type == DT_DIR)
		return 1;
	return e->type == DT_UNKNOWN &&
	       fstatat(dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

static int find_below(const char *root, const char *rel,
		      es_topic_found_fn *fn, void *arg)
{
	char dir[8192];
	size_t rl = strlen(root);
	int sep = rl && root[rl - 1] != '/';
	snprintf(dir, sizeof dir, "%s%s%s", root, *rel && sep ? "/" : "", rel);
	char **names;
	size_t n;
	int rc = es_sorted_names(AT_FDCWD, dir, visible_dir, &names, &n);
	if (rc == ENOMEM)
		return rc;
	if (rc) {
		fn(arg, rel, dir, rc);
		return 0;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		char sub[4096], path[8192];
		int toolong =
			snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "",
				 names[i]) >= (int)sizeof sub ||
			snprintf(path, sizeof path, "%s%s%s", root,
				 sep ? "/" : "", sub) >= (int)sizeof path;
		if (toolong)
			continue;
		if (es_topic_exists(path))
			fn(arg, sub, path, 0);
		else
			rc = find_below(root, sub, fn, arg);
	}
	es_names_free(names, n);
	return rc;
}

int es_topic_find(const char *root, es_topic_found_fn *fn, void *arg)
{
	return find_below(root, "", fn, arg);
}
