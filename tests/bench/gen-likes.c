/* gen-likes.c - the benchmark's workload: deterministic JSON-lines like events
 *
 * Usage: gen-likes [N [SEED [POSTS [ZIPF_S [REMOVED_PCT]]]]]  > likes.jsonl
 *   N            events (default 1000000)
 *   SEED         splitmix64 seed (default 42)
 *   POSTS        post_id ranges over 1..POSTS (default 10000)
 *   ZIPF_S       Zipf exponent of post_id (default 1.0: post 1 gets ~10 %)
 *   REMOVED_PCT  percent of events that are LikeRemoved (default 0)
 *
 * One event per line, ~97 bytes:
 *   {"type":"LikeCreated","event_id":"evt_00000001","post_id":17,
 *    "user_id":52311,"ts":1764180000001}
 * user_id is uniform over 1..100000; ts starts at 1764180000000 and grows by
 * 0, 1 or 2 ms per event (about one event per ms).
 *
 * The algorithm is the one of the peers' generator (shared/peers/gen-likes.c):
 * splitmix64, and post_id drawn by inverse CDF (binary search over the
 * cumulative Zipf weights). With REMOVED_PCT 0 it draws the same numbers in
 * the same order, so `gen-likes 1000000 42` is byte for byte the peers' file
 * (sha256 e5a030c8...fbf8663f) and our figures compare with theirs. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t state;

static uint64_t next(void) /* splitmix64 */
{
	uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1) from the top 53 bits. */
static double unif(void)
{
	return (double)(next() >> 11) * (1.0 / 9007199254740992.0);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	int posts = argc > 3 ? atoi(argv[3]) : 10000;
	double s = argc > 4 ? atof(argv[4]) : 1.0;
	int removed = argc > 5 ? atoi(argv[5]) : 0;
	static char obuf[1 << 16];
	uint64_t ts = 1764180000000ULL;
	double *cdf, acc = 0;

	state = argc > 2 ? strtoull(argv[2], NULL, 10) : 42;
	if (n < 0 || posts < 1 || removed < 0 || removed > 100) {
		fprintf(stderr, "usage: gen-likes [N [SEED [POSTS [ZIPF_S "
				"[REMOVED_PCT]]]]]\n");
		return 64;
	}
	cdf = malloc(sizeof *cdf * (size_t)posts);
	if (!cdf) {
		perror("gen-likes");
		return 1;
	}
	for (int k = 1; k <= posts; k++) {
		acc += 1.0 / pow(k, s);
		cdf[k - 1] = acc;
	}
	for (int k = 0; k < posts; k++)
		cdf[k] /= acc;
	setvbuf(stdout, obuf, _IOFBF, sizeof obuf);

	for (long i = 1; i <= n; i++) {
		double u = unif();
		int lo = 0, hi = posts - 1;
		while (lo < hi) { /* first k with cdf[k] >= u */
			int mid = (lo + hi) / 2;
			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		int user = (int)(next() % 100000) + 1;
		ts += next() % 3;
		/* Only drawn when asked for, so that the default stream
		 * stays the peers' one. */
		const char *type = removed && (int)(next() % 100) < removed
				   ? "LikeRemoved" : "LikeCreated";
		printf("{\"type\":\"%s\",\"event_id\":\"evt_%08ld\","
		       "\"post_id\":%d,\"user_id\":%d,\"ts\":%llu}\n",
		       type, i, lo + 1, user, (unsigned long long)ts);
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		perror("gen-likes: write");
		return 1;
	}
	free(cdf);
	return 0;
}
