/* locktable.c - the system's table of flock locks (/proc/locks), read once,
 * so that es-lag probes only the lock files that are held: a probe is an
 * open, a flock and a close, and es-lag would make one per group and
 * partition. The table is a hint that may only say "not held" where the
 * kernel would: it is used only where it lists every holder (see
 * es_locktable_covers), and a file it lists is still probed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "es-int.h"

struct lock {
	uint64_t ino;
	unsigned major, minor;
};

struct es_locktable {
	struct lock *v; /* of the files with a granted flock lock, by inode */
	size_t n;
};

static int cmp_ino(const void *a, const void *b)
{
	uint64_t x = ((const struct lock *)a)->ino, y = ((const struct lock *)b)->ino;
	return x < y ? -1 : x > y;
}

/* A line: "ID: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INODE START END"; a
 * waiter's has "->" after the ID and holds nothing. */
static int line_lock(const char *s, struct lock *l)
{
	const char *p = strchr(s, ':');
	if (!p)
		return 0;
	p++;
	while (*p == ' ')
		p++;
	if (strncmp(p, "FLOCK", 5) != 0)
		return 0;
	/* The device and inode: the first field with two colons. */
	for (const char *f = p; (f = strchr(f, ' ')); ) {
		while (*f == ' ')
			f++;
		const char *c1 = strchr(f, ':'), *sp = strchr(f, ' ');
		const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c1 && c2 && (!sp || c2 < sp)) {
			/* MAJ and MIN in hexadecimal, the inode in decimal. */
			char *e1, *e2, *e3;
			errno = 0;
			unsigned long maj = strtoul(f, &e1, 16);
			unsigned long min = strtoul(c1 + 1, &e2, 16);
			unsigned long long v = strtoull(c2 + 1, &e3, 10);
			if (errno || e1 != c1 || e2 != c2 || e3 == c2 + 1)
				return 0;
			l->major = (unsigned)maj;
			l->minor = (unsigned)min;
			l->ino = v;
			return 1;
		}
	}
	return 0;
}

int es_locktable_read(es_locktable **out)
{
	*out = NULL;
	/* /proc/locks shows only the locks of processes in the reader's pid
	 * namespace (Linux 4.12 and later): it is whole only from the
	 * initial one, whose namespace inode number is fixed. */
	char ns[64];
	ssize_t k = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
	if (k <= 0)
		return ENOENT;
	ns[k] = 0;
	if (strcmp(ns, "pid:[4026531836]") != 0)
		return ENOENT;
	FILE *f = fopen("/proc/locks", "re");
	if (!f)
		return errno;
	int rc = es_locktable_parse(f, out);
	fclose(f);
	return rc;
}

int es_locktable_parse(FILE *f, es_locktable **out)
{
	*out = NULL;
	es_locktable *lt = calloc(1, sizeof *lt);
	size_t cap = 0;
	char line[256];
	int rc = 0;
	while (lt && fgets(line, sizeof line, f)) {
		struct lock lk;
		size_t len = strlen(line);
		if (len && line[len - 1] != '\n' && !feof(f)) {
			rc = EINVAL; /* a line we do not understand */
			break;
		}
		if (!line_lock(line, &lk))
			continue;
		if (lt->n == cap) {
			cap = cap ? cap * 2 : 64;
			struct lock *v = realloc(lt->v, cap * sizeof *v);
			if (!v) {
				rc = ENOMEM;
				break;
			}
			lt->v = v;
		}
		lt->v[lt->n++] = lk;
	}
	if (!lt)
		rc = ENOMEM;
	else if (ferror(f) && !rc)
		rc = EIO;
	if (rc) {
		es_locktable_free(lt);
		return rc;
	}
	/* With no locks (a quiet machine) lt->v is NULL, which qsort may not
	 * be given even with a count of 0. */
	if (lt->n > 1)
		qsort(lt->v, lt->n, sizeof *lt->v, cmp_ino);
	*out = lt;
	return 0;
}

void es_locktable_free(es_locktable *lt)
{
	if (!lt)
		return;
	free(lt->v);
	free(lt);
}

int es_locktable_has(const es_locktable *lt, uint64_t ino)
{
	size_t lo = 0, hi = lt->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (lt->v[mid].ino == ino)
			return 1;
		if (lt->v[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int es_locktable_on_dev(const es_locktable *lt, uint64_t dev)
{
	for (size_t i = 0; i < lt->n; i++)
		if (lt->v[i].major == major(dev) && lt->v[i].minor == minor(dev))
			return 1;
	return 0;
}

int es_locktable_covers(int dirfd)
{
	/* Local file systems only: a lock held on another machine (NFS, a
	 * cluster file system) is in that machine's table, not ours. On the
	 * first four, a file's st_dev is also the device the table shows;
	 * btrfs (a device per subvolume) and overlayfs may differ there, so
	 * only inode numbers are compared. */
	static const struct {
		unsigned long type;
		int same_dev;
	} local[] = {
		{0xEF53, 1},	 /* ext2, ext3, ext4 */
		{0x58465342, 1}, /* xfs */
		{0x01021994, 1}, /* tmpfs */
		{0xF2F52010, 1}, /* f2fs */
		{0x9123683E, 0}, /* btrfs */
		{0x794C7630, 0}, /* overlayfs */
		{0x2FC12FC1, 0}, /* zfs */
	};
	struct statfs sf;
	if (fstatfs(dirfd, &sf) != 0)
		return 0;
	for (size_t i = 0; i < sizeof local / sizeof *local; i++)
		if ((unsigned long)sf.f_type == local[i].type)
			return local[i].same_dev ? 2 : 1;
	return 0;
}
