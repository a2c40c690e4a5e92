/* killat.c - LD_PRELOAD shim: SIGKILL the process at its Nth file-system
 * call, counted across all its threads in the order they happen (strace's
 * inject counts per syscall name and per thread, so it cannot name "the
 * 17th I/O call of the run"). Used by tests/crash.bats to crash a small
 * workload at every step that changes or locks a file.
 *
 * Counted calls: open openat write pwrite pwrite64 fsync fdatasync ftruncate
 * rename renameat unlink unlinkat mkdir mkdirat flock sync_file_range close.
 *
 * Environment:
 *   KILLAT_N=N      kill at the Nth counted call (before making it);
 *                   0 or unset: never kill, just count
 *   KILLAT_LOG=FILE append "N NAME" for the kill, or "total N" at exit
 *
 * Build: gcc -shared -fPIC -O2 -D_GNU_SOURCE -o killat.so tests/tools/killat.c -ldl */
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static unsigned long target;
static unsigned long count; /* atomically incremented */
static const char *logpath;

static void note(const char *what, unsigned long n)
{
	if (!logpath)
		return;
	char buf[128];
	int len = snprintf(buf, sizeof buf, "%s %lu\n", what, n);
	ssize_t (*w)(int, const void *, size_t) =
		(ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	int (*o)(const char *, int, ...) =
		(int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	int (*c)(int) = (int (*)(int))dlsym(RTLD_NEXT, "close");
	int fd = o(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (w(fd, buf, (size_t)len) < 0) {
			/* nothing to do: the log is a diagnostic */
		}
		c(fd);
	}
}

__attribute__((constructor)) static void init(void)
{
	const char *n = getenv("KILLAT_N");
	target = n ? strtoul(n, NULL, 10) : 0;
	logpath = getenv("KILLAT_LOG");
}

__attribute__((destructor)) static void fini(void)
{
	if (!target)
		note("total", __atomic_load_n(&count, __ATOMIC_SEQ_CST));
}

static void step(const char *name)
{
	unsigned long n = __atomic_add_fetch(&count, 1, __ATOMIC_SEQ_CST);
	if (target && n == target) {
		note(name, n);
		kill(getpid(), SIGKILL);
		for (;;)
			pause();
	}
}

#define REAL(name) \
	static __typeof__(name) *real; \
	if (!real) \
		real = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

int open(const char *path, int flags, ...)
{
	REAL(open);
	va_list ap;
	va_start(ap, flags);
	mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
	va_end(ap);
	step("open");
	return real(path, flags, mode);
}

int openat(int dfd, const char *path, int flags, ...)
{
	REAL(openat);
	va_list ap;
	va_start(ap, flags);
	mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
	va_end(ap);
	step("openat");
	return real(dfd, path, flags, mode);
}

ssize_t write(int fd, const void *p, size_t n)
{
	REAL(write);
	step("write");
	return real(fd, p, n);
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t off)
{
	REAL(pwrite);
	step("pwrite");
	return real(fd, p, n, off);
}

ssize_t pwrite64(int fd, const void *p, size_t n, off_t off)
{
	REAL(pwrite64);
	step("pwrite64");
	return real(fd, p, n, off);
}

int fsync(int fd)
{
	REAL(fsync);
	step("fsync");
	return real(fd);
}

int fdatasync(int fd)
{
	REAL(fdatasync);
	step("fdatasync");
	return real(fd);
}

int ftruncate(int fd, off_t len)
{
	REAL(ftruncate);
	step("ftruncate");
	return real(fd, len);
}

int rename(const char *a, const char *b)
{
	REAL(rename);
	step("rename");
	return real(a, b);
}

int renameat(int da, const char *a, int db, const char *b)
{
	REAL(renameat);
	step("renameat");
	return real(da, a, db, b);
}

int unlink(const char *p)
{
	REAL(unlink);
	step("unlink");
	return real(p);
}

int unlinkat(int d, const char *p, int f)
{
	REAL(unlinkat);
	step("unlinkat");
	return real(d, p, f);
}

int mkdir(const char *p, mode_t m)
{
	REAL(mkdir);
	step("mkdir");
	return real(p, m);
}

int mkdirat(int d, const char *p, mode_t m)
{
	REAL(mkdirat);
	step("mkdirat");
	return real(d, p, m);
}

int flock(int fd, int op)
{
	REAL(flock);
	step("flock");
	return real(fd, op);
}

int sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
	REAL(sync_file_range);
	step("sync_file_range");
	return real(fd, off, n, flags);
}

int close(int fd)
{
	REAL(close);
	step("close");
	return real(fd);
}
