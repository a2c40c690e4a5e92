/* fs.c - file helpers: whole writes, durable replacement of small files,
 * directory syncs. Every durable update in es goes through these. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "es-int.h"

int es_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int es_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
	const char *c = p;
	while (n) {
		ssize_t w = pwrite(fd, c, n, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (w == 0)
			return EIO;
		c += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

ssize_t es_pread_full(int fd, void *p, size_t n, off_t off)
{
	char *c = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, c + got, n - got, off + (off_t)got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int es_fsync_dir(int dirfd)
{
	return fsync(dirfd) == 0 ? 0 : errno;
}

int es_replace_file(int dirfd, const char *name, const void *p, size_t n)
{
	char tmp[512];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", name) >= (int)sizeof tmp)
		return ENAMETOOLONG;
	/* A stale temp file is a crashed writer's: nobody else writes it, since
	 * callers hold the lock that guards name. */
	unlinkat(dirfd, tmp, 0);
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno;
	int rc = es_write_all(fd, p, n);
	if (!rc && fsync(fd) != 0)
		rc = errno;
	if (close(fd) != 0 && !rc)
		rc = errno;
	if (!rc && renameat(dirfd, tmp, dirfd, name) != 0)
		rc = errno;
	if (rc) {
		unlinkat(dirfd, tmp, 0);
		return rc;
	}
	return es_fsync_dir(dirfd);
}

int es_read_small(int dirfd, const char *name, es_buf *b, size_t max)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	b->len = 0;
	int rc = 0;
	for (;;) {
		if ((rc = es_buf_reserve(b, 4096)))
			break;
		ssize_t r = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = errno;
			break;
		}
		if (r == 0)
			break;
		b->len += (size_t)r;
		if (b->len > max) {
			rc = EFBIG;
			break;
		}
	}
	close(fd);
	if (!rc)
		b->data[b->len] = 0;
	return rc;
}

int64_t es_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void es_err(es_error *err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void es_dirscan_start(es_dirscan *s, int fd, int from_start)
{
	s->fd = fd;
	s->pos = s->len = 0;
	s->rc = 0;
	if (from_start && lseek(fd, 0, SEEK_SET) != 0)
		s->rc = errno ? errno : EIO;
}

int es_dirscan_next(es_dirscan *s, es_dirent *e)
{
	for (;;) {
		if (s->rc)
			return 0;
		if (s->pos >= s->len) {
			ssize_t n = getdents64(s->fd, s->buf, sizeof s->buf);
			if (n <= 0) {
				s->rc = n < 0 ? errno : 0;
				s->len = 0;
				return 0;
			}
			s->len = (size_t)n;
			s->pos = 0;
		}
		/* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type,
		 * then the name; read by offset, the buffer has no alignment
		 * for the struct. */
		const char *d = s->buf + s->pos;
		unsigned short reclen;
		memcpy(&reclen, d + 16, sizeof reclen);
		if (reclen < 20 || reclen > s->len - s->pos) {
			s->rc = EIO;
			return 0;
		}
		s->pos += reclen;
		const char *name = d + 19;
		if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
			continue;
		memcpy(&e->ino, d, sizeof e->ino);
		e->type = (unsigned char)d[18];
		e->name = name;
		return 1;
	}
}

int es_seg_list(int pdirfd, int rewind, uint64_t **bases, size_t *n)
{
	es_dirscan *d = malloc(sizeof *d);
	if (!d)
		return ENOMEM;
	es_dirscan_start(d, pdirfd, rewind);
	uint64_t *v = NULL;
	size_t k = 0, cap = 0;
	es_dirent e;
	int rc = 0;
	while (es_dirscan_next(d, &e)) {
		const char *s = e.name;
		size_t i = 0;
		uint64_t base = 0;
		while (i < ES_SEG_NAME_LEN && s[i] >= '0' && s[i] <= '9')
			base = base * 10 + (uint64_t)(s[i++] - '0');
		if (i != ES_SEG_NAME_LEN ||
		    (strcmp(s + i, ".log") != 0 && strcmp(s + i, ".zlog") != 0))
			continue;
		if (k == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *nv = realloc(v, cap * sizeof *v);
			if (!nv) {
				rc = ENOMEM;
				break;
			}
			v = nv;
		}
		v[k++] = base;
	}
	if (!rc)
		rc = d->rc;
	free(d);
	if (rc) {
		free(v);
		return rc;
	}
	if (k > 1)
		qsort(v, k, sizeof *v, cmp_u64);
	/* BASE.log and BASE.zlog both exist for a moment while es-compact
	 * installs a compressed segment: one segment. */
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (u == 0 || v[u - 1] != v[i])
			v[u++] = v[i];
	*bases = v;
	*n = u;
	return 0;
}

int es_seg_open(int pdirfd, uint64_t base, int *z)
{
	char name[40];
	es_seg_name(name, base, "log");
	int fd = openat(pdirfd, name, O_RDONLY | O_CLOEXEC);
	*z = 0;
	if (fd < 0 && errno == ENOENT) {
		es_seg_name(name, base, "zlog");
		fd = openat(pdirfd, name, O_RDONLY | O_CLOEXEC);
		*z = fd >= 0;
	}
	return fd;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void es_names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int es_sorted_names(int parent, const char *sub,
		    int (*keep)(int dfd, const es_dirent *e), char ***names,
		    size_t *n)
{
	*names = NULL;
	*n = 0;
	int fd = openat(parent, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : errno;
	es_dirscan *d = malloc(sizeof *d);
	if (!d) {
		close(fd);
		return ENOMEM;
	}
	es_dirscan_start(d, fd, 0);
	es_dirent e;
	char **v = NULL;
	size_t k = 0, cap = 0;
	int rc = 0;
	while (es_dirscan_next(d, &e)) {
		if (!keep(fd, &e))
			continue;
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
		rc = d->rc;
	free(d);
	close(fd);
	if (rc) {
		es_names_free(v, k);
		return rc;
	}
	if (k > 1)
		qsort(v, k, sizeof *v, cmp_str);
	*names = v;
	*n = k;
	return 0;
}
