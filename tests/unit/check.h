/* check.h - a tiny TAP harness for the library's unit tests */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "es.h"

static int check_count, check_failed, check_current;

#define CHECK(e)                                                          \
	do {                                                              \
		if (!(e)) {                                               \
			printf("# %s:%d: CHECK(%s) failed\n", __FILE__,   \
			       __LINE__, #e);                             \
			check_current = 1;                                \
		}                                                         \
	} while (0)

/* A call that must return 0; on failure print es_strerror and the error. */
static inline const char *check_errmsg(const es_error *e)
{
	return e ? e->msg : "";
}

#define CHECK_OK(call, errp)                                              \
	do {                                                              \
		int rc_ = (call);                                         \
		if (rc_ != 0) {                                           \
			printf("# %s:%d: %s: %s: %s\n", __FILE__,         \
			       __LINE__, #call, es_strerror(rc_),         \
			       check_errmsg(errp));                       \
			check_current = 1;                                \
		}                                                         \
	} while (0)

#define RUN(fn)                                                           \
	do {                                                              \
		check_current = 0;                                        \
		fn();                                                     \
		check_count++;                                            \
		printf("%sok %d - %s\n", check_current ? "not " : "",     \
		       check_count, #fn);                                 \
		fflush(stdout);                                           \
		check_failed += check_current;                            \
	} while (0)

#define DONE() (printf("1..%d\n", check_count), check_failed ? 1 : 0)

/* A fresh empty directory under $TMPDIR (or /tmp); the caller removes it. */
static inline char *check_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	static char path[4096];
	snprintf(path, sizeof path, "%s/es-unit-XXXXXX", base ? base : "/tmp");
	if (!mkdtemp(path)) {
		perror("mkdtemp");
		exit(2);
	}
	return path;
}

static inline void check_rmtree(const char *path)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", path);
}

/* The end of a program that made its files under root: removed if every
 * test passed, kept (and named) for a look if not; the TAP plan line and
 * the exit status. */
static inline int check_finish(const char *root)
{
	if (!check_failed)
		check_rmtree(root);
	else
		printf("# kept %s\n", root);
	return DONE();
}

/* A new topic dir/name of parts partitions, open; segment-bytes and
 * segment-age as given when not NULL. Exits when it cannot be made: no
 * test can run without it. */
static inline es_topic *check_make_topic(const char *dir, const char *name,
					 unsigned parts, const char *seg_bytes,
					 const char *seg_age)
{
	es_config c;
	es_error err = {{0}};
	es_topic *t = NULL;
	char path[4200], n[16];
	es_config_default(&c);
	snprintf(n, sizeof n, "%u", parts);
	CHECK_OK(es_config_set(&c, "partitions", n, &err), &err);
	if (seg_bytes)
		CHECK_OK(es_config_set(&c, "segment-bytes", seg_bytes, &err),
			 &err);
	if (seg_age)
		CHECK_OK(es_config_set(&c, "segment-age", seg_age, &err), &err);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	CHECK_OK(es_topic_create(path, &c, &err), &err);
	CHECK_OK(es_topic_open(path, &t, &err), &err);
	if (!t)
		exit(2);
	return t;
}

#endif
