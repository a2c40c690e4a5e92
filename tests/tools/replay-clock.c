/* replay-clock.c - LD_PRELOAD shim: CLOCK_REALTIME reads ES_TEST_NOW_MS
 * (milliseconds since the epoch) when it is set, so that a test can make
 * commits "at" chosen times and know the commit history, hence es-replay's
 * estimate, in advance, without writing commit files by hand. Other clocks
 * (CLOCK_MONOTONIC: --wait, --timeout) are left alone.
 *
 * Build: gcc -shared -fPIC -O2 -o replay-clock.so tests/tools/replay-clock.c -ldl
 * Use:   ES_TEST_NOW_MS=1764180000000 LD_PRELOAD=./replay-clock.so es-replay ... */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

int clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	const char *now = getenv("ES_TEST_NOW_MS");
	if (id == CLOCK_REALTIME && now && *now) {
		long long ms = atoll(now);
		ts->tv_sec = (time_t)(ms / 1000);
		ts->tv_nsec = (long)(ms % 1000) * 1000000;
		return 0;
	}
	if (!real)
		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT,
								    "clock_gettime");
	return real(id, ts);
}
