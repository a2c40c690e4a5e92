/* topic.c - topic directories: create, open, alter, per-partition facts,
 * and the watch that wakes followers.
 *
 * Layout (es-format(5)):  TOPIC/topic.yaml  TOPIC/N/ (a partition: lock,
 * head, BASE.log, BASE.index)  TOPIC/groups/GROUP/ */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "es-int.h"

int es_topic_exists(const char *path)
{
	char p[4096];
	struct stat st;
	if (snprintf(p, sizeof p, "%s/topic.yaml", path) >= (int)sizeof p)
		return 0;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int es_partition_dir(es_topic *t, uint32_t p, es_error *err)
{
	char name[16];
	snprintf(name, sizeof name, "%u", p);
	int fd = openat(t->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int rc = errno;
		es_err(err, "cannot open partition %u of '%s': %s", p, t->path,
		       strerror(rc));
		return -rc;
	}
	return fd;
}

/* A partition directory with its lock, an empty head and the first
 * segment, every file and directory entry synced. */
static int partition_create(int tdir, uint32_t p, es_error *err)
{
	char name[16];
	snprintf(name, sizeof name, "%u", p);
	int rc = 0, fd = -1, dfd = -1;
	const char *step = "create";
	if (mkdirat(tdir, name, 0755) != 0 && errno != EEXIST)
		goto fail;
	step = "open";
	dfd = openat(tdir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		goto fail;
	static const char *const files[] = {"lock", "00000000000000000000.log",
					    "00000000000000000000.index"};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		step = "create file in";
		fd = openat(dfd, files[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0 || fsync(fd) != 0 || close(fd) != 0)
			goto fail;
		fd = -1;
	}
	unsigned char hb[ES_HEAD_SIZE];
	es_head h = {0, 0, 0, -1, 0};
	es_head_pack(hb, &h);
	step = "write the head of";
	if ((rc = es_replace_file(dfd, "head", hb, sizeof hb))) {
		errno = rc;
		goto fail;
	}
	step = "sync";
	if (fsync(dfd) != 0)
		goto fail;
	close(dfd);
	return 0;
fail:
	rc = errno;
	es_err(err, "cannot %s partition directory '%s': %s", step, name,
	       strerror(rc));
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

static int write_config(int tdir, const es_config *c, es_error *err)
{
	es_buf b = {0};
	int rc = es_config_format(c, &b);
	if (!rc)
		rc = es_replace_file(tdir, "topic.yaml", b.data, b.len);
	if (rc)
		es_err(err, "cannot write topic.yaml: %s", es_strerror(rc));
	es_buf_free(&b);
	return rc;
}

/* Remove a directory tree made by a creator (no symlinks followed). */
static void remove_tree(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					      O_CLOEXEC);
	es_dirscan *d = fd >= 0 ? malloc(sizeof *d) : NULL;
	if (d) {
		es_dirent e;
		es_dirscan_start(d, fd, 0);
		while (es_dirscan_next(d, &e))
			if (unlinkat(fd, e.name, 0) != 0 &&
			    (errno == EISDIR || errno == EPERM))
				remove_tree(fd, e.name);
		free(d);
	}
	if (fd >= 0)
		close(fd);
	unlinkat(parent, name, AT_REMOVEDIR);
}

/* Temporary directories of creators that died (".NAME.tmp.PID"). */
static void sweep_stale(int parent, const char *base)
{
	es_dirscan *d = malloc(sizeof *d);
	if (!d)
		return;
	char prefix[300];
	snprintf(prefix, sizeof prefix, ".%s.tmp.", base);
	size_t pl = strlen(prefix);
	es_dirent e;
	es_dirscan_start(d, parent, 1);
	while (es_dirscan_next(d, &e)) {
		if (strncmp(e.name, prefix, pl) != 0)
			continue;
		long pid = strtol(e.name + pl, NULL, 10);
		if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
			remove_tree(parent, e.name);
	}
	free(d);
}

/* A topic appears whole or not at all: it is built in a temporary
 * directory beside its name, every file synced, then renamed into place.
 * A crash leaves only a temporary directory, which the next creator of
 * that name removes; two creators racing: one rename wins, the other gets
 * EEXIST and finds a complete topic. */
int es_topic_create(const char *path, const es_config *c, es_error *err)
{
	char parent[4096], base[256], tmp[300];
	snprintf(parent, sizeof parent, "%s", path);
	char *slash = strrchr(parent, '/');
	while (slash && slash[1] == 0 && slash > parent) { /* trailing '/' */
		*slash = 0;
		slash = strrchr(parent, '/');
	}
	const char *name = slash ? slash + 1 : parent;
	if (!*name || strlen(name) >= sizeof base) {
		es_err(err, "bad topic path '%s'", path);
		return ES_EUSAGE;
	}
	memcpy(base, name, strlen(name) + 1);
	if (slash == parent)
		parent[1] = 0;
	else if (slash)
		*slash = 0;
	else
		strcpy(parent, ".");
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0) {
		int rc = errno;
		es_err(err, "cannot create '%s': %s", path, strerror(rc));
		return rc;
	}
	if (es_topic_exists(path)) {
		close(pfd);
		es_err(err, "'%s' already exists", path);
		return EEXIST;
	}
	sweep_stale(pfd, base);
	snprintf(tmp, sizeof tmp, ".%s.tmp.%ld", base, (long)getpid());
	remove_tree(pfd, tmp);
	int rc = 0;
	if (mkdirat(pfd, tmp, 0755) != 0) {
		rc = errno;
		es_err(err, "cannot create '%s': %s", path, strerror(rc));
		close(pfd);
		return rc;
	}
	int tdir = openat(pfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tdir < 0) {
		rc = errno;
		es_err(err, "cannot open '%s': %s", path, strerror(rc));
	}
	if (!rc && mkdirat(tdir, "groups", 0755) != 0) {
		rc = errno;
		es_err(err, "cannot create '%s/groups': %s", path, strerror(rc));
	}
	for (uint32_t p = 0; !rc && p < c->partitions; p++)
		rc = partition_create(tdir, p, err);
	if (!rc)
		rc = write_config(tdir, c, err);
	if (!rc && fsync(tdir) != 0) {
		rc = errno;
		es_err(err, "cannot sync '%s': %s", path, strerror(rc));
	}
	if (tdir >= 0)
		close(tdir);
	/* An empty directory at the name is replaced; anything else wins. */
	if (!rc && renameat(pfd, tmp, pfd, base) != 0) {
		rc = errno == ENOTEMPTY ? EEXIST : errno;
		es_err(err, rc == EEXIST ? "'%s' already exists"
					  : "cannot create '%s': %s",
		       path, strerror(rc));
	}
	if (rc)
		remove_tree(pfd, tmp);
	else if (fsync(pfd) != 0) {
		rc = errno;
		es_err(err, "cannot sync the directory of '%s': %s", path,
		       strerror(rc));
	}
	close(pfd);
	return rc;
}

int es_topic_open(const char *path, es_topic **out, es_error *err)
{
	es_topic *t = calloc(1, sizeof *t);
	if (!t)
		return ENOMEM;
	t->lockfs = -1;
	t->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->dirfd < 0 || !es_topic_exists(path)) {
		int rc = t->dirfd < 0 ? errno : ENOENT;
		if (rc == ENOTDIR)
			rc = ENOENT;
		if (rc == ENOENT)
			es_err(err, "no topic '%s'", path);
		else
			es_err(err, "cannot open topic '%s': %s", path,
			       strerror(rc));
		if (t->dirfd >= 0)
			close(t->dirfd);
		free(t);
		return rc;
	}
	char cfgpath[4096];
	snprintf(cfgpath, sizeof cfgpath, "%s/topic.yaml", path);
	int rc = es_config_load(cfgpath, &t->cfg, err);
	if (!rc && !(t->path = strdup(path)))
		rc = ENOMEM;
	if (rc) {
		close(t->dirfd);
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void es_topic_close(es_topic *t)
{
	if (!t)
		return;
	close(t->dirfd);
	free(t->path);
	free(t);
}

const es_config *es_topic_config(const es_topic *t)
{
	return &t->cfg;
}

const char *es_topic_path(const es_topic *t)
{
	return t->path;
}

int es_topic_alter(es_topic *t, const es_config *c, es_error *err)
{
	if (c->partitions < t->cfg.partitions) {
		es_err(err, "partitions can only grow (from %u, not to %u)",
		       t->cfg.partitions, c->partitions);
		return ES_EUSAGE;
	}
	/* Serialise alters: the lock of partition 0 is as good as any. */
	int lfd = openat(t->dirfd, "0/lock", O_RDWR | O_CLOEXEC);
	if (lfd < 0 || flock(lfd, LOCK_EX) != 0) {
		int rc = errno;
		es_err(err, "cannot lock '%s': %s", t->path, strerror(rc));
		if (lfd >= 0)
			close(lfd);
		return rc;
	}
	int rc = 0;
	/* New partitions first, so that the configuration never names a
	 * partition that does not exist. */
	for (uint32_t p = t->cfg.partitions; !rc && p < c->partitions; p++)
		rc = partition_create(t->dirfd, p, err);
	if (!rc && c->partitions > t->cfg.partitions && fsync(t->dirfd) != 0)
		rc = errno;
	if (!rc)
		rc = write_config(t->dirfd, c, err);
	if (!rc)
		t->cfg = *c;
	close(lfd);
	return rc;
}

int es_partition_end(es_topic *t, uint32_t p, uint64_t *next, es_error *err)
{
	int dfd = es_partition_dir(t, p, err);
	if (dfd < 0)
		return -dfd;
	int fd = openat(dfd, "head", O_RDONLY | O_CLOEXEC);
	close(dfd);
	if (fd < 0) {
		int rc = errno;
		es_err(err, "partition %u: cannot open the head: %s", p,
		       strerror(rc));
		return rc;
	}
	es_head h;
	int rc = es_head_read(fd, &h);
	close(fd);
	if (rc) {
		es_err(err, "partition %u: bad head file: %s", p, es_strerror(rc));
		return rc;
	}
	*next = h.next;
	return 0;
}

struct es_watch {
	int fd;
};

int es_watch_open(es_topic *t, es_watch **out, es_error *err)
{
	es_watch *w = calloc(1, sizeof *w);
	if (!w)
		return ENOMEM;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		int rc = errno;
		es_err(err, "cannot watch '%s': %s", t->path, strerror(rc));
		free(w);
		return rc;
	}
	/* Writers rewrite each partition's head after every sync. */
	for (uint32_t p = 0; p < t->cfg.partitions; p++) {
		char path[4200];
		snprintf(path, sizeof path, "%s/%u/head", t->path, p);
		if (inotify_add_watch(w->fd, path, IN_MODIFY) < 0) {
			int rc = errno;
			es_err(err, "cannot watch '%s': %s", path, strerror(rc));
			close(w->fd);
			free(w);
			return rc;
		}
	}
	*out = w;
	return 0;
}

int es_watch_fd(const es_watch *w)
{
	return w->fd;
}

void es_watch_drain(es_watch *w)
{
	char buf[4096];
	while (read(w->fd, buf, sizeof buf) > 0)
		;
}

void es_watch_close(es_watch *w)
{
	if (!w)
		return;
	close(w->fd);
	free(w);
}
