/* latency.c - produce-to-follow latency: time from writing a line into a
 * producer's stdin to reading it back from a following consumer's stdout
 *
 * Usage: latency [-n N] [-r RATE] [-w WARMUP] [-t SECS] PRODUCER CONSUMER
 *        latency [-n N] [-r RATE] -S FILE
 *   PRODUCER  shell command whose stdin takes the records, for example
 *             'bin/es-produce --key-field post_id --sync batch T'
 *   CONSUMER  shell command that prints them back, one per line, for
 *             example 'bin/es-consume -f T'
 *   -n N      records measured (default 3000)
 *   -r RATE   records per second, paced (default 1000)
 *   -w WARMUP records sent first, one at a time, each waited for, and not
 *             counted: they prove both ends are up (default 20)
 *   -t SECS   how long to wait for a record before giving up (default 10)
 *   -S FILE   the baseline instead: append one ~100-byte line to FILE and
 *             fdatasync it, N times at RATE; the latency of a record is the
 *             time of its write + fdatasync, the floor under a producer that
 *             makes each record durable before a consumer may see it
 *
 * Each record is a ~100-byte JSON line like the benchmark's workload,
 *   {"type":"LikeCreated","seq":17,"post_id":4242,"sent_ns":123...,"pad":"..."}
 * carrying its send time on CLOCK_MONOTONIC, taken just before the write(2)
 * to the producer. The consumer's output is read concurrently (one poll loop,
 * no threads), so a slow record does not hold back the pacing of the next
 * ones: record i is sent at start + i / RATE, or at once if that is past.
 * Latency of a record = time it is read back - its sent_ns.
 *
 * Prints one line, key=value, for scripts:
 *   n=3000 rate=1000 lost=0 dup=0 p50_ms=0.412 p90_ms=... p99_ms=1.234 max_ms=3.456
 * (with -S, lost and dup are 0).
 * Exit 0 if every record came back exactly once, 1 otherwise, 64 on usage. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "latency: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Run `sh -c CMD` with its stdin (to_child) or stdout (!to_child) on a pipe;
 * return the pid and our end of the pipe. */
static pid_t spawn(const char *cmd, int to_child, int *fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		/* Its own process group, so that reap() also ends what a
		 * non-exec'ing shell or a wrapper started. */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(p[to_child ? 0 : 1], to_child ? 0 : 1) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	close(p[to_child ? 0 : 1]);
	*fd = p[to_child ? 1 : 0];
	return pid;
}

static uint64_t rng = 7;

static uint64_t next(void) /* splitmix64 */
{
	uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void send_one(int fd, long seq)
{
	char line[160];
	int len = snprintf(line, sizeof line,
			   "{\"type\":\"LikeCreated\",\"seq\":%ld,\"post_id\":%d,"
			   "\"sent_ns\":%" PRIu64 ",\"pad\":\"%.*s\"}\n",
			   seq, (int)(next() % 10000) + 1, now_ns(), 12,
			   "xxxxxxxxxxxxxxxxxxxxxxxx");
	/* A pipe write under PIPE_BUF is atomic and, with a live reader
	 * draining it, does not block long enough to matter. */
	if (write(fd, line, (size_t)len) != len)
		die("write to producer");
}

/* State of the read side. */
static char rbuf[1 << 16];
static size_t rlen;
static uint64_t *lat; /* per seq, 0 until seen */
static long nseq, received, dups, strays;

/* Parse the complete lines in rbuf; keep a partial last line. */
static void take_lines(uint64_t t)
{
	char *p = rbuf, *end = rbuf + rlen, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
		char *s = memmem(p, (size_t)(nl - p), "\"seq\":", 6);
		char *u = memmem(p, (size_t)(nl - p), "\"sent_ns\":", 10);
		if (s && u) {
			long seq = strtol(s + 6, NULL, 10);
			uint64_t sent = strtoull(u + 10, NULL, 10);
			if (seq < 0 || seq >= nseq)
				strays++;
			else if (lat[seq])
				dups++;
			else {
				lat[seq] = t > sent ? t - sent : 1;
				received++;
			}
		} else {
			strays++;
		}
		p = nl + 1;
	}
	rlen = (size_t)(end - p);
	memmove(rbuf, p, rlen);
}

/* Wait until `deadline` (ns, monotonic) reading what the consumer prints;
 * return early once record `want` has arrived (want >= 0) or every record
 * has (ALL). Return -1 at EOF. */
#define ALL (-2)
static int pump(int fd, uint64_t deadline, long want)
{
	for (;;) {
		uint64_t t = now_ns();
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		struct timespec to;
		ssize_t r;

		if ((want >= 0 && lat[want]) || (want == ALL && received >= nseq))
			return 0;
		if (t >= deadline)
			return 0;
		to.tv_sec = (time_t)((deadline - t) / 1000000000u);
		to.tv_nsec = (long)((deadline - t) % 1000000000u);
		if (ppoll(&pf, 1, &to, NULL) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (!pf.revents)
			continue;
		if (rlen == sizeof rbuf) /* a line longer than the buffer */
			rlen = 0;
		r = read(fd, rbuf + rlen, sizeof rbuf - rlen);
		if (r < 0 && errno != EINTR && errno != EAGAIN)
			die("read from consumer");
		if (r == 0)
			return -1;
		if (r > 0) {
			rlen += (size_t)r;
			take_lines(now_ns());
		}
	}
}

/* Send sig (if any) to pid's process group, wait up to `limit` ns for pid
 * to exit, then SIGKILL the group: a wrapper that does not pass the signal
 * on (strace) must not hang the benchmark. Then end what is left of the
 * group (a follower orphaned by its shell). Return pid's wait status. */
static int reap(pid_t pid, uint64_t limit, int sig)
{
	uint64_t dl = now_ns() + limit;
	int st = 0;

	if (sig)
		kill(-pid, sig);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now_ns() >= dl) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			break;
		}
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	kill(-pid, SIGKILL);
	return st;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double pct_ms(const uint64_t *v, long n, double p)
{
	long k = (long)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1e6;
}

static void report(uint64_t *v, long m, long n, long rate)
{
	qsort(v, (size_t)m, sizeof *v, cmp_u64);
	printf("n=%ld rate=%ld lost=%ld dup=%ld p50_ms=%.3f p90_ms=%.3f "
	       "p99_ms=%.3f max_ms=%.3f\n", n, rate, n - m, dups,
	       pct_ms(v, m, 50), pct_ms(v, m, 90), pct_ms(v, m, 99),
	       (double)v[m - 1] / 1e6);
	if (fflush(stdout) == EOF)
		die("write");
}

/* -S: the same pacing, each record appended to a file and fdatasync'ed. */
static int sync_baseline(const char *path, long n, long rate)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	uint64_t *v = malloc(sizeof *v * (size_t)n), start, period;
	char line[] = "{\"type\":\"LikeCreated\",\"event_id\":\"evt_00000001\","
		      "\"post_id\":4242,\"user_id\":52311,\"ts\":1764180000001}\n";

	if (fd < 0)
		die(path);
	if (!v)
		die("malloc");
	period = 1000000000u / (uint64_t)rate;
	start = now_ns();
	for (long i = 0; i < n; i++) {
		uint64_t due = start + (uint64_t)i * period, t = now_ns();
		if (t < due) {
			struct timespec ts = {(time_t)((due - t) / 1000000000u),
					      (long)((due - t) % 1000000000u)};
			nanosleep(&ts, NULL);
		}
		t = now_ns();
		if (write(fd, line, sizeof line - 1) != (ssize_t)sizeof line - 1)
			die(path);
		if (fdatasync(fd))
			die(path);
		v[i] = now_ns() - t;
	}
	close(fd);
	unlink(path);
	report(v, n, n, rate);
	return 0;
}

int main(int argc, char **argv)
{
	const char *sync_file = NULL;
	long n = 3000, warm = 20, rate = 1000, wait_s = 10;
	int opt, pfd, cfd, st, bad = 0;
	pid_t prod, cons;
	uint64_t start, period, limit;

	while ((opt = getopt(argc, argv, "n:r:w:t:S:")) != -1) {
		switch (opt) {
		case 'S': sync_file = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'r': rate = atol(optarg); break;
		case 'w': warm = atol(optarg); break;
		case 't': wait_s = atol(optarg); break;
		default: goto usage;
		}
	}
	if (sync_file && argc == optind && n > 0 && rate > 0)
		return sync_baseline(sync_file, n, rate);
	if (sync_file || argc - optind != 2 || n < 1 || rate < 1 || warm < 1 || wait_s < 1)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	nseq = warm + n;
	lat = calloc((size_t)nseq, sizeof *lat);
	if (!lat)
		die("calloc");
	limit = (uint64_t)wait_s * 1000000000u;

	cons = spawn(argv[optind + 1], 0, &cfd);
	prod = spawn(argv[optind], 1, &pfd);

	/* Warm-up: one at a time, so that the measured records do not pay
	 * for process start-up or the consumer's first scan. */
	for (long i = 0; i < warm; i++) {
		send_one(pfd, i);
		if (pump(cfd, now_ns() + limit, i) < 0 || !lat[i]) {
			fprintf(stderr, "latency: warm-up record %ld did not "
					"come back within %lds\n", i, wait_s);
			bad = 1;
			goto out;
		}
	}

	period = 1000000000u / (uint64_t)rate;
	start = now_ns();
	for (long i = 0; i < n; i++) {
		if (pump(cfd, start + (uint64_t)i * period, -1) < 0)
			break;
		send_one(pfd, warm + i);
	}
	/* Drain: wait for the last records, up to the limit. */
	pump(cfd, now_ns() + limit, ALL);

out:
	close(pfd);
	st = reap(prod, limit, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "latency: producer failed (status %d)\n", st);
		bad = 1;
	}
	close(cfd);
	reap(cons, 2000000000u, SIGTERM);
	if (bad)
		return 1;

	{
		uint64_t *v = malloc(sizeof *v * (size_t)n);
		long m = 0;
		if (!v)
			die("malloc");
		for (long i = warm; i < nseq; i++)
			if (lat[i])
				v[m++] = lat[i];
		if (!m) {
			fprintf(stderr, "latency: no record came back\n");
			return 1;
		}
		report(v, m, n, rate);
		return n - m || dups || strays ? 1 : 0;
	}
usage:
	fprintf(stderr, "usage: latency [-n N] [-r RATE] [-w WARMUP] [-t SECS] "
			"PRODUCER-CMD CONSUMER-CMD\n"
			"       latency [-n N] [-r RATE] -S FILE\n");
	return 64;
}
