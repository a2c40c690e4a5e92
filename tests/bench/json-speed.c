/* json-speed.c - speed of the JSON code of lib/json.c on ~100-byte lines
 *
 * es_json_field (es-produce --key-field), es_json_format_record
 * (es-consume -J) and es_envelope_parse (es-produce -J).
 *
 * Build and run:
 *   make build/libes.a
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Ilib -o build/json-speed \
 *       tests/bench/json-speed.c build/libes.a && build/json-speed [N]
 *
 * The lines have the shape of the benchmark's workload (peers/gen-likes.c):
 * {"type":"LikeCreated","event_id":"evt_00000001","post_id":1234,...}
 * Each figure is the best of a few passes over N lines (default 1M) held
 * in memory, so it measures the code, not I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "es.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 42;

static uint64_t next(void) /* splitmix64, as gen-likes */
{
	uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void report(const char *what, size_t n, size_t bytes, double secs)
{
	printf("%-28s %10.0f lines/s %8.0f MB/s\n", what, (double)n / secs,
	       (double)bytes / secs / 1e6);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	size_t *off = malloc((n + 1) * sizeof *off);
	es_buf text = {0}, scratch = {0}, out = {0};
	es_error err;
	uint64_t ts = 1764180000000ull, sum = 0;
	char line[256];

	/* Half the lines carry post_id as a number (gen-likes), half as a
	 * string (the brief's example). */
	for (size_t i = 0; i < n; i++) {
		int len;
		ts += next() % 3;
		unsigned post = (unsigned)(next() % 10000) + 1,
			 user = (unsigned)(next() % 100000) + 1;
		if (i % 2)
			len = snprintf(line, sizeof line,
				       "{\"type\":\"LikeCreated\",\"event_id\":"
				       "\"evt_%08zu\",\"post_id\":%u,\"user_id\":"
				       "%u,\"ts\":%llu}",
				       i + 1, post, user,
				       (unsigned long long)ts);
		else
			len = snprintf(line, sizeof line,
				       "{\"type\":\"LikeCreated\",\"event_id\":"
				       "\"e-%08zu\",\"post_id\":\"p-%05u\","
				       "\"user_id\":\"u-%06u\",\"ts\":%llu}",
				       i + 1, post, user,
				       (unsigned long long)ts);
		off[i] = text.len;
		if (es_buf_append(&text, line, (size_t)len))
			return 1;
	}
	off[n] = text.len;

	double best = 1e9;
	for (int pass = 0; pass < 5; pass++) {
		double t0 = now();
		for (size_t i = 0; i < n; i++) {
			const char *v;
			size_t vl;
			if (es_json_field(text.data + off[i], off[i + 1] - off[i],
					  "post_id", 7, &v, &vl, &scratch,
					  &err)) {
				fprintf(stderr, "json-speed: %s\n", err.msg);
				return 1;
			}
			sum += vl + (unsigned char)v[0];
		}
		double t = now() - t0;
		if (t < best)
			best = t;
	}
	report("es_json_field(post_id)", n, text.len, best);

	/* -J both ways: format each line as a record value, parse it back. */
	es_buf env = {0}, hdr = {0};
	size_t *eoff = malloc((n + 1) * sizeof *eoff);
	static char keys[10000][8];
	es_header_add(&hdr, "source", 6, "bench", 5);
	for (int i = 0; i < 10000; i++)
		snprintf(keys[i], sizeof keys[i], "p-%d", i);
	best = 1e9;
	for (int pass = 0; pass < 3; pass++) {
		env.len = 0;
		double t0 = now();
		for (size_t i = 0; i < n; i++) {
			es_record r = {
				.offset = i,
				.timestamp = (int64_t)(1764180000000ull + i),
				.key = (const unsigned char *)keys[i % 10000],
				.key_len = (uint32_t)strlen(keys[i % 10000]),
				.value = (const unsigned char *)text.data + off[i],
				.value_len = (uint32_t)(off[i + 1] - off[i]),
				.headers = (const unsigned char *)hdr.data,
				.headers_len = (uint32_t)hdr.len,
			};
			eoff[i] = env.len;
			if (es_json_format_record(&env, "likes", (uint32_t)(i % 8),
						  &r))
				return 1;
		}
		eoff[n] = env.len;
		double t = now() - t0;
		if (t < best)
			best = t;
	}
	report("es_json_format_record", n, env.len, best);

	es_envelope e = {0};
	best = 1e9;
	for (int pass = 0; pass < 3; pass++) {
		double t0 = now();
		for (size_t i = 0; i < n; i++) {
			if (es_envelope_parse(&e, env.data + eoff[i],
					      eoff[i + 1] - eoff[i] - 1, &err)) {
				fprintf(stderr, "json-speed: %s\n", err.msg);
				return 1;
			}
			sum += e.value.len;
		}
		double t = now() - t0;
		if (t < best)
			best = t;
	}
	report("es_envelope_parse", n, env.len, best);
	printf("(%zu lines, %.1f bytes/line; checksum %llu)\n", n,
	       (double)text.len / (double)n, (unsigned long long)sum);

	es_envelope_free(&e);
	es_buf_free(&env);
	es_buf_free(&hdr);
	es_buf_free(&text);
	es_buf_free(&scratch);
	es_buf_free(&out);
	free(off);
	free(eoff);
	return 0;
}
