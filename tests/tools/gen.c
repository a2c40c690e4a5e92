/* gen.c - paced generator of unique numbered lines for the crash and fault
 * tests: "PREFIX-N\n" for N = FIRST, FIRST+1, ..., COUNT lines (0: until
 * killed), written BURST lines at a time with PAUSE_US microseconds between
 * bursts, so that a producer reading it group-commits many small batches.
 * With KEYS > 0 each line is keyed for es-produce -K: "kM:PREFIX-N" with
 * M = N % KEYS.
 *
 * Build: gcc -std=c11 -O2 -D_GNU_SOURCE -o gen tests/tools/gen.c
 * Usage: gen PREFIX FIRST COUNT BURST PAUSE_US [KEYS] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(1, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: gen PREFIX FIRST COUNT BURST PAUSE_US [KEYS]\n");
		return 64;
	}
	const char *prefix = argv[1];
	unsigned long long n = strtoull(argv[2], NULL, 10);
	unsigned long long count = strtoull(argv[3], NULL, 10);
	unsigned long burst = strtoul(argv[4], NULL, 10);
	unsigned long pause_us = strtoul(argv[5], NULL, 10);
	unsigned long long keys = argc > 6 ? strtoull(argv[6], NULL, 10) : 0;
	unsigned long long end = count ? n + count : 0;
	static char buf[1 << 16];
	if (!burst)
		burst = 1;
	for (;;) {
		size_t len = 0;
		for (unsigned long i = 0; i < burst && (!end || n < end); i++) {
			if (len + 128 > sizeof buf) {
				if (write_all(buf, len))
					return 1;
				len = 0;
			}
			if (keys)
				len += (size_t)snprintf(buf + len, sizeof buf - len,
							"k%llu:", n % keys);
			len += (size_t)snprintf(buf + len, sizeof buf - len,
						"%s-%llu\n", prefix, n++);
		}
		if (len && write_all(buf, len))
			return 1;
		if (end && n >= end)
			return 0;
		if (pause_us) {
			struct timespec ts = {(time_t)(pause_us / 1000000),
					      (long)(pause_us % 1000000) * 1000};
			nanosleep(&ts, NULL);
		}
	}
}
