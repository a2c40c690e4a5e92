/* cli.c - messages, exit statuses, signals and checked output for every
 * command. Messages look like "es-consume: cannot open ...: reason". */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

const char *cli_name = "es";
const char *cli_create_hint = "";
volatile sig_atomic_t cli_signal;

void cli_init(const char *name)
{
	cli_name = name;
}

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	char buf[2048];
	vsnprintf(buf, sizeof buf, fmt, ap);
	fprintf(stderr, "%s: %s%s\n", cli_name, prefix, buf);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
}

void cli_die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	out_flush();
	exit(status);
}

void cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", cli_name);
	exit(EX_USAGE_);
}

int cli_status(int rc)
{
	switch (rc) {
	case 0: return 0;
	case ENOENT: return EX_NOINPUT_;
	case EEXIST: return EX_CANTCREAT_;
	case ES_ECONFIG: case ES_EFORMAT: return EX_CONFIG_;
	case ES_ECORRUPT: case ES_ETOOBIG: case ES_EBADJSON: case ES_ENOFIELD:
		return EX_DATAERR_;
	case ES_EUSAGE: return EX_USAGE_;
	case ES_ELOCKED: case ES_EBUSY: return EX_TEMPFAIL_;
	case ENOSPC: case EIO: case EDQUOT: case EFBIG: case EROFS:
		return EX_IOERR_;
	}
	return EX_FAIL;
}

static void on_signal(int sig)
{
	if (!cli_signal)
		cli_signal = sig;
}

void cli_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGXFSZ, SIG_IGN);
}

void cli_exit(int status)
{
	out_flush();
	if (cli_signal) {
		int sig = cli_signal;
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig);
	}
	exit(status);
}

void cli_version(void)
{
	printf("%s (es) %s, format %d\n", cli_name, ES_VERSION, ES_FORMAT);
	exit(0);
}

const char *cli_topic_path(const char *arg)
{
	static char buf[PATH_MAX];
	const char *dir = getenv("ES_DIR");
	if (arg[0] == '/' || !dir || !*dir)
		return arg;
	if (snprintf(buf, sizeof buf, "%s/%s", dir, arg) >= (int)sizeof buf)
		cli_die(EX_USAGE_, "topic path too long: '%s'", arg);
	return buf;
}

/* Room to hold every partition of a topic open at once (a reader or a
 * writer keeps about five files open, a group's member one more): the
 * soft limit on open files goes up as far as that needs, within the hard
 * one. A shell's default of 1024 would stop at about 200 partitions. */
static void files_for(uint32_t partitions)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)partitions * 8 + 256;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want
			      ? rl.rlim_max : want;
	setrlimit(RLIMIT_NOFILE, &rl); /* if not, EMFILE says so later */
}

es_topic *cli_open_topic(const char *arg)
{
	es_topic *t;
	es_error err = {{0}};
	int rc = es_topic_open(cli_topic_path(arg), &t, &err);
	if (rc == ENOENT)
		cli_die(EX_NOINPUT_, "no topic '%s' (create it with es-topic create%s)",
			arg, cli_create_hint);
	if (rc)
		cli_die(cli_status(rc), "%s", err.msg);
	files_for(es_topic_config(t)->partitions);
	return t;
}

int cli_parse_u64(const char *s, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int cli_parse_partitions(const char *s, uint32_t n, unsigned char *set)
{
	memset(set, 0, n);
	if (!*s)
		return -1;
	while (*s) {
		char *end;
		errno = 0;
		if (*s < '0' || *s > '9')
			return -1;
		unsigned long a = strtoul(s, &end, 10), b = a;
		if (*end == '-') {
			if (end[1] < '0' || end[1] > '9')
				return -1;
			b = strtoul(end + 1, &end, 10);
		}
		if (errno || a > b || b >= n)
			return -1;
		for (unsigned long i = a; i <= b; i++)
			set[i] = 1;
		if (*end == ',' && end[1])
			end++;
		else if (*end)
			return -1;
		s = end;
	}
	return 0;
}

static char obuf[1 << 18];
static size_t olen;
static int oerr;

int out_error(void)
{
	return oerr;
}

int out_flush(void)
{
	if (olen && !oerr)
		oerr = es_write_all(1, obuf, olen);
	olen = 0;
	return oerr;
}

void out_write(const void *p, size_t n)
{
	if (oerr)
		return;
	if (olen + n > sizeof obuf) {
		out_flush();
		if (n > sizeof obuf) {
			if (!oerr)
				oerr = es_write_all(1, p, n);
			return;
		}
	}
	if (n)
		memcpy(obuf + olen, p, n);
	olen += n;
}

void out_str(const char *s)
{
	out_write(s, strlen(s));
}

void out_printf(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		out_write(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

void out_finish(void)
{
	int rc = out_flush();
	if (!rc && close(1) != 0 && errno != EBADF)
		rc = errno;
	if (rc == EPIPE)
		exit(0);
	if (rc)
		cli_die(EX_IOERR_, "cannot write to standard output: %s",
			strerror(rc));
}

struct found {
	void (*fn)(void *arg, const char *rel, const char *path);
	void *arg;
};

static void found(void *arg, const char *rel, const char *path, int err)
{
	struct found *f = arg;
	if (err)
		cli_warn("cannot read directory '%s': %s", path, strerror(err));
	else
		f->fn(f->arg, rel, path);
}

void cli_find_topics(const char *root,
		     void (*fn)(void *arg, const char *rel, const char *path),
		     void *arg)
{
	struct found f = { fn, arg };
	if (es_topic_find(root, found, &f) != 0)
		cli_die(EX_FAIL, "out of memory");
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cli_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int64_t cli_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int cli_parse_time(const char *s, int64_t *ms)
{
	return es_parse_time(s, cli_wall_ms(), ms) ? -1 : 0;
}

void cli_iso_time(int64_t ms, char *buf, size_t cap)
{
	if (ms < 0) {
		snprintf(buf, cap, "-");
		return;
	}
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, cap - n, ".%03dZ", (int)(ms % 1000));
}
