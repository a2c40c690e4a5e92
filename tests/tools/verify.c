/* verify.c - check a dump of a topic against what must be in it.
 *
 * Usage: verify DUMP [MUST...]
 *   DUMP   `es-consume -F '%p %o %s\n' TOPIC` of the whole topic
 *   MUST   a file of "P O VALUE" lines that must all be in DUMP (a dump, a
 *          follower's output), or acks=FILE,PREFIX,FIRST: an es-produce
 *          --ack file for input lines "PREFIX-N" from N = FIRST on, whose
 *          line k promises the record "P O PREFIX-(FIRST+k-1)"
 * In MUST files only complete lines count: a killed writer's last line
 * without its newline is not a promise.
 *
 * Checks: in each partition of DUMP, offsets start at 0, dense and in
 * order; no value appears twice (test values are unique); every MUST line
 * is in DUMP. Prints the first 20 violations to stderr; exit 1 if any.
 *
 * Build: gcc -std=c11 -O2 -D_GNU_SOURCE -o verify tests/tools/verify.c */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long nbad;

__attribute__((format(printf, 1, 2))) static void bad(const char *fmt, ...)
{
	if (++nbad > 20)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("verify: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* A set of strings (open addressing), each with a payload string. */
struct set {
	char **key, **val;
	size_t cap, n;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static size_t slot(struct set *s, const char *k)
{
	size_t i = hash(k) & (s->cap - 1);
	while (s->key[i] && strcmp(s->key[i], k))
		i = (i + 1) & (s->cap - 1);
	return i;
}

static const char *get(struct set *s, const char *k)
{
	if (!s->cap)
		return NULL;
	size_t i = slot(s, k);
	return s->key[i] ? s->val[i] : NULL;
}

static void put(struct set *s, char *k, char *v)
{
	if (2 * (s->n + 1) > s->cap) {
		struct set t = {0};
		t.cap = s->cap ? s->cap * 2 : 1024;
		t.key = calloc(t.cap, sizeof *t.key);
		t.val = calloc(t.cap, sizeof *t.val);
		if (!t.key || !t.val) {
			perror("verify");
			exit(2);
		}
		for (size_t i = 0; i < s->cap; i++)
			if (s->key[i]) {
				size_t j = slot(&t, s->key[i]);
				t.key[j] = s->key[i];
				t.val[j] = s->val[i];
			}
		free(s->key);
		free(s->val);
		t.n = s->n;
		*s = t;
	}
	size_t i = slot(s, k);
	if (!s->key[i])
		s->n++;
	s->key[i] = k;
	s->val[i] = v;
}

static FILE *open_or_die(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "verify: cannot open '%s'\n", path);
		exit(2);
	}
	return f;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: verify DUMP [MUST...]\n");
		return 2;
	}
	struct set lines = {0}, values = {0};
	enum { MAXP = 4096 };
	static unsigned long long next[MAXP];
	char *l = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long nr = 0;
	FILE *f = open_or_die(argv[1]);
	while ((len = getline(&l, &cap, f)) > 0) {
		nr++;
		if (l[len - 1] == '\n')
			l[--len] = 0;
		unsigned p;
		unsigned long long o;
		int at = 0;
		if (sscanf(l, "%u %llu %n", &p, &o, &at) != 2 || !at || p >= MAXP) {
			bad("dump line %lu malformed: %s", nr, l);
			continue;
		}
		if (o != next[p])
			bad("partition %u: offset %llu where %llu was due (dump line %lu)",
			    p, o, next[p], nr);
		next[p] = o + 1;
		char *line = strdup(l), *val = line + at;
		const char *was = get(&values, val);
		if (was)
			bad("value twice: %s, and %s", was, line);
		put(&values, val, line);
		put(&lines, line, line);
	}
	fclose(f);
	for (int i = 2; i < argc; i++) {
		const char *prefix = NULL, *path = argv[i];
		unsigned long long first = 0, k = 0;
		char pathbuf[4096];
		if (!strncmp(argv[i], "acks=", 5)) {
			char *c1 = strchr(argv[i] + 5, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
			if (!c2) {
				fprintf(stderr, "verify: bad '%s'\n", argv[i]);
				return 2;
			}
			snprintf(pathbuf, sizeof pathbuf, "%.*s", (int)(c1 - argv[i] - 5), argv[i] + 5);
			path = pathbuf;
			*c2 = 0;
			prefix = c1 + 1;
			first = strtoull(c2 + 1, NULL, 10);
		}
		f = open_or_die(path);
		nr = 0;
		while ((len = getline(&l, &cap, f)) > 0) {
			nr++;
			if (l[len - 1] != '\n')
				break; /* a torn last line: no promise */
			l[--len] = 0;
			char want[512];
			const char *w = l;
			if (prefix) {
				unsigned p;
				unsigned long long o;
				int at = 0;
				if (sscanf(l, "%u\t%llu%n", &p, &o, &at) != 2 || l[at]) {
					bad("%s line %lu: bad ack: %s", path, nr, l);
					continue;
				}
				snprintf(want, sizeof want, "%u %llu %s-%llu", p, o, prefix,
					 first + k++);
				w = want;
			}
			if (get(&lines, w))
				continue;
			const char *v = strchr(w, ' ');
			v = v ? strchr(v + 1, ' ') : NULL;
			const char *there = v ? get(&values, v + 1) : NULL;
			bad("missing: %s (from %s); the value is %s", w, path,
			    there ? there : "nowhere");
		}
		fclose(f);
	}
	free(l);
	if (nbad > 20)
		fprintf(stderr, "verify: ... %lu problems in all\n", nbad);
	return nbad ? 1 : 0;
}
