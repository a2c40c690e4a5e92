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

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The names of dir's subdirectories (symbolic links are not followed),
 * sorted; hidden ones left out, a topic being created among them. */
static int subdirs(const char *dir, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	es_dirscan *s = malloc(sizeof *s);
	if (!s) {
		close(fd);
		return ENOMEM;
	}
	es_dirscan_start(s, fd, 0);
	es_dirent e;
	char **v = NULL;
	size_t k = 0, cap = 0;
	int rc = 0;
	while (es_dirscan_next(s, &e)) {
		if (e.name[0] == '.')
			continue;
		if (e.type != DT_DIR) {
			struct stat st;
			if (e.type != DT_UNKNOWN ||
			    fstatat(fd, e.name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
			    !S_ISDIR(st.st_mode))
				continue;
		}
		if (k == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nv = realloc(v, nc * sizeof *v);
			if (!nv) {
				rc = ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		if (!(v[k] = strdup(e.name))) {
			rc = ENOMEM;
			break;
		}
		k++;
	}
	if (!rc)
		rc = s->rc;
	free(s);
	close(fd);
	if (rc) {
		free_names(v, k);
		return rc;
	}
	if (k > 1)
		qsort(v, k, sizeof *v, cmp_name);
	*names = v;
	*n = k;
	return 0;
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
	int rc = subdirs(dir, &names, &n);
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
	free_names(names, n);
	return rc;
}

int es_topic_find(const char *root, es_topic_found_fn *fn, void *arg)
{
	return find_below(root, "", fn, arg);
}
