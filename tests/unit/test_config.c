/* test_config.c - topic.yaml parsing, option overrides, rendering, and units */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

static int parse(const char *text, es_config *c, es_error *err)
{
	memset(err, 0, sizeof *err);
	return es_config_parse(text, strlen(text), "topic.yaml", c, err);
}

/* Parse text and expect rc with exactly msg. */
static int fails(const char *text, int rc, const char *msg)
{
	es_config c;
	es_error err;
	int got = parse(text, &c, &err);

	if (got != rc || strcmp(err.msg, msg) != 0) {
		printf("# parse: got %d '%s', want %d '%s'\n", got, err.msg, rc,
		       msg);
		return 0;
	}
	return 1;
}

static int same(const es_config *a, const es_config *b)
{
	return a->format == b->format && a->partitions == b->partitions &&
	       a->segment_bytes == b->segment_bytes &&
	       a->segment_age_ms == b->segment_age_ms &&
	       a->retention_ms == b->retention_ms &&
	       a->retention_bytes == b->retention_bytes &&
	       a->cleanup == b->cleanup &&
	       a->delete_retention_ms == b->delete_retention_ms &&
	       a->compression == b->compression &&
	       a->max_record_bytes == b->max_record_bytes && a->sync == b->sync;
}

#define HEAD "format: 1\npartitions: 2\n"

static void test_defaults(void)
{
	es_config c, p;
	es_error err, *ep = &err;

	es_config_default(&c);
	CHECK(c.format == ES_FORMAT);
	CHECK(c.partitions == 1);
	CHECK(c.segment_bytes == 64ULL << 20);
	CHECK(c.segment_age_ms == 86400000); /* SPEC section 1: 1d */
	CHECK(c.retention_ms == 7LL * 86400000);
	CHECK(c.retention_bytes == 0);
	CHECK(c.cleanup == ES_CLEANUP_DELETE);
	CHECK(c.delete_retention_ms == 86400000);
	CHECK(c.compression == ES_COMPRESSION_NONE);
	CHECK(c.max_record_bytes == 1ULL << 20);
	CHECK(c.sync == ES_SYNC_BATCH);

	/* The two required keys alone give the defaults for the rest. */
	CHECK_OK(parse("format: 1\npartitions: 1\n", &p, &err), ep);
	CHECK(same(&c, &p));
}

static void test_full_file(void)
{
	es_config c;
	es_error err, *ep = &err;
	const char *text =
		"# a topic\n"
		"format: 1\n"
		"partitions: 8\n"
		"segment_bytes: 64MiB     # roll at this size\n"
		"segment_age: 1d\n"
		"retention: \"7d\"\n"
		"retention_bytes: 0\n"
		"cleanup: compact,delete\n"
		"delete_retention: '12h'\n"
		"compression: zlib\n"
		"max_record_bytes: 512K\n"
		"sync: always\n";

	CHECK_OK(parse(text, &c, &err), ep);
	CHECK(c.format == 1);
	CHECK(c.partitions == 8);
	CHECK(c.segment_bytes == 64ULL << 20);
	CHECK(c.segment_age_ms == 86400000);
	CHECK(c.retention_ms == 7LL * 86400000);
	CHECK(c.retention_bytes == 0);
	CHECK(c.cleanup == (ES_CLEANUP_COMPACT | ES_CLEANUP_DELETE));
	CHECK(c.delete_retention_ms == 12LL * 3600000);
	CHECK(c.compression == ES_COMPRESSION_ZLIB);
	CHECK(c.max_record_bytes == 512 * 1024);
	CHECK(c.sync == ES_SYNC_ALWAYS);

	/* Flow style is YAML too; the other cleanup order and sync none. */
	CHECK_OK(parse("{format: 1, partitions: 3, cleanup: \"delete,compact\", "
		       "sync: none, retention: 0, compression: none}",
		       &c, &err),
		 ep);
	CHECK(c.partitions == 3);
	CHECK(c.cleanup == (ES_CLEANUP_COMPACT | ES_CLEANUP_DELETE));
	CHECK(c.sync == ES_SYNC_NONE);
	CHECK(c.retention_ms == 0);

	CHECK_OK(parse("---\nformat: 1\npartitions: 1\ncleanup: compact\n...\n",
		       &c, &err),
		 ep);
	CHECK(c.cleanup == ES_CLEANUP_COMPACT);
}

static void test_bad_values(void)
{
	CHECK(fails("format: x\npartitions: 1\n", ES_ECONFIG,
		    "topic.yaml:1:9: bad number 'x' for 'format' (use a whole "
		    "number)"));
	CHECK(fails("format: 0\npartitions: 1\n", ES_ECONFIG,
		    "topic.yaml:1:9: 'format' must be at least 1"));
	CHECK(fails(HEAD "partitions: 1\n", ES_ECONFIG,
		    "topic.yaml:3:1: duplicate key 'partitions'"));
	CHECK(fails("format: 1\npartitions: 0\n", ES_ECONFIG,
		    "topic.yaml:2:13: 'partitions' must be between 1 and 100000"));
	CHECK(fails("format: 1\npartitions: 100001\n", ES_ECONFIG,
		    "topic.yaml:2:13: 'partitions' must be between 1 and 100000"));
	CHECK(fails("format: 1\npartitions: -1\n", ES_ECONFIG,
		    "topic.yaml:2:13: bad number '-1' for 'partitions' (use a "
		    "whole number)"));
	CHECK(fails("format: 1\npartitions: 99999999999999999999999\n",
		    ES_ECONFIG,
		    "topic.yaml:2:13: 'partitions' must be between 1 and 100000"));
	CHECK(fails(HEAD "segment_bytes: abc\n", ES_ECONFIG,
		    "topic.yaml:3:16: bad size 'abc' for 'segment_bytes' (use B, "
		    "KiB, MiB, GiB)"));
	CHECK(fails(HEAD "segment_bytes: 63\n", ES_ECONFIG,
		    "topic.yaml:3:16: 'segment_bytes' must be between 64B and "
		    "2GiB"));
	CHECK(fails(HEAD "segment_bytes: 3GiB\n", ES_ECONFIG,
		    "topic.yaml:3:16: 'segment_bytes' must be between 64B and "
		    "2GiB"));
	CHECK(fails(HEAD "segment_age: 0\n", ES_ECONFIG,
		    "topic.yaml:3:14: 'segment_age' must be more than 0"));
	CHECK(fails(HEAD "segment_age: 10\n", ES_ECONFIG,
		    "topic.yaml:3:14: bad duration '10' for 'segment_age' (use "
		    "ms, s, m, h, d, w)"));
	CHECK(fails(HEAD "retention: soon\n", ES_ECONFIG,
		    "topic.yaml:3:12: bad duration 'soon' for 'retention' (use "
		    "ms, s, m, h, d, w)"));
	CHECK(fails(HEAD "retention_bytes: 1TiB\n", ES_ECONFIG,
		    "topic.yaml:3:18: bad size '1TiB' for 'retention_bytes' "
		    "(use B, KiB, MiB, GiB)"));
	CHECK(fails(HEAD "cleanup: purge\n", ES_ECONFIG,
		    "topic.yaml:3:10: bad value 'purge' for 'cleanup' (use "
		    "delete, compact or compact,delete)"));
	CHECK(fails(HEAD "delete_retention: -1d\n", ES_ECONFIG,
		    "topic.yaml:3:19: bad duration '-1d' for 'delete_retention' "
		    "(use ms, s, m, h, d, w)"));
	CHECK(fails(HEAD "compression: gzip\n", ES_ECONFIG,
		    "topic.yaml:3:14: bad value 'gzip' for 'compression' (use "
		    "none or zlib)"));
	CHECK(fails(HEAD "max_record_bytes: 0\n", ES_ECONFIG,
		    "topic.yaml:3:19: 'max_record_bytes' must be between 1B and "
		    "256MiB"));
	CHECK(fails(HEAD "max_record_bytes: 1 MiB\n", ES_ECONFIG,
		    "topic.yaml:3:19: bad size '1 MiB' for 'max_record_bytes' "
		    "(use B, KiB, MiB, GiB)"));
	CHECK(fails(HEAD "sync: sometimes\n", ES_ECONFIG,
		    "topic.yaml:3:7: bad value 'sometimes' for 'sync' (use "
		    "always, batch or none)"));
	CHECK(fails(HEAD "sync:\n", ES_ECONFIG,
		    "topic.yaml:3:6: missing value for 'sync'"));
	/* A quoted value points at its opening quote; a NUL cannot hide
	 * trailing bytes. */
	CHECK(fails(HEAD "retention: \"1d\\0x\"\n", ES_ECONFIG,
		    "topic.yaml:3:12: bad duration '1d?x' for 'retention' (use "
		    "ms, s, m, h, d, w)"));
}

static void test_keys(void)
{
	CHECK(fails(HEAD "retension: 1d\n", ES_ECONFIG,
		    "topic.yaml:3:1: unknown key 'retension'"));
	CHECK(fails(HEAD "  \n\n  # x\nsegment-bytes: 1MiB\n", ES_ECONFIG,
		    "topic.yaml:6:1: unknown key 'segment-bytes'"));
	CHECK(fails("format: 1\n", ES_ECONFIG,
		    "topic.yaml:2:1: missing required key 'partitions'"));
	CHECK(fails("partitions: 1\n", ES_ECONFIG,
		    "topic.yaml:2:1: missing required key 'format'"));
	CHECK(fails("", ES_ECONFIG,
		    "topic.yaml:1:1: missing required key 'format'"));
	CHECK(fails("# only a comment\n", ES_ECONFIG,
		    "topic.yaml:2:1: missing required key 'format'"));
	CHECK(fails("---\n", ES_ECONFIG,
		    "topic.yaml:2:1: missing required key 'format'"));
}

static void test_format_newer(void)
{
	char want[128], text[64];

	snprintf(text, sizeof text, "format: %d\npartitions: 1\n",
		 ES_FORMAT + 1);
	snprintf(want, sizeof want,
		 "topic.yaml:1:9: format %d is newer than this es supports (%d)",
		 ES_FORMAT + 1, ES_FORMAT);
	CHECK(fails(text, ES_EFORMAT, want));
	/* A newer format explains keys this es does not know: it wins over
	 * the unknown key before it. */
	CHECK(fails("compression: zstd\nformat: 7\n", ES_EFORMAT,
		    "topic.yaml:2:9: format 7 is newer than this es supports "
		    "(1)"));
	CHECK(fails("format: 99999999999999999999999\npartitions: 1\n",
		    ES_EFORMAT,
		    "topic.yaml:1:9: format 99999999999999999999999 is newer "
		    "than this es supports (1)"));
}

static void test_structure(void)
{
	CHECK(fails("format: 1\npartitions: 2\n- x\n", ES_ECONFIG,
		    "topic.yaml:3:1: did not find expected key (while parsing a "
		    "block mapping at 1:1)"));
	CHECK(fails("format: 1\npartitions: 2\nx\n", ES_ECONFIG,
		    "topic.yaml:4:1: could not find expected ':' (while scanning "
		    "a simple key at 3:1)"));
	CHECK(fails("format: 1\n\tpartitions: 2\n", ES_ECONFIG,
		    "topic.yaml:2:1: found a tab character that violates "
		    "indentation (while scanning a plain scalar at 1:9)"));
	CHECK(fails("- format: 1\n", ES_ECONFIG,
		    "topic.yaml:1:1: expected a mapping of keys to values, found "
		    "a sequence"));
	CHECK(fails("just words\n", ES_ECONFIG,
		    "topic.yaml:1:1: expected a mapping of keys to values, found "
		    "a scalar"));
	CHECK(fails(HEAD "sync: [batch]\n", ES_ECONFIG,
		    "topic.yaml:3:7: expected a single value for 'sync', found a "
		    "sequence"));
	CHECK(fails("format: &f 1\npartitions: *f\n", ES_ECONFIG,
		    "topic.yaml:2:13: expected a single value for 'partitions', "
		    "found an alias"));
	CHECK(fails("? [a]\n: 1\nformat: 1\n", ES_ECONFIG,
		    "topic.yaml:1:3: expected a key, found a sequence"));
	CHECK(fails(HEAD "---\nformat: 1\n", ES_ECONFIG,
		    "topic.yaml:3:1: only one document is allowed"));
	CHECK(fails(HEAD "sync: \"batch\n", ES_ECONFIG,
		    "topic.yaml:4:1: found unexpected end of stream (while "
		    "scanning a quoted scalar at 3:7)"));
	CHECK(fails("format: 1\npartitions: \xff\n", ES_ECONFIG,
		    "topic.yaml:2:13: invalid leading UTF-8 octet"));

	/* The name is the caller's, a full path included. */
	es_config c;
	es_error err, *ep = &err;
	CHECK(es_config_parse("format: 1\n", 10, "/t/orders/topic.yaml", &c,
			      &err) == ES_ECONFIG);
	CHECK(strcmp(err.msg, "/t/orders/topic.yaml:2:1: missing required "
			      "key 'partitions'") == 0);
	/* Only len bytes count: what follows is not part of the file. */
	CHECK_OK(es_config_parse(HEAD "sync: nonsense", strlen(HEAD), "t", &c,
				 &err),
		 ep);
}

static void test_load(void)
{
	char *dir = check_tmpdir();
	char path[4200];
	es_config c;
	es_error err, *ep = &err;
	FILE *f;

	snprintf(path, sizeof path, "%s/topic.yaml", dir);
	CHECK(es_config_load(path, &c, &err) == ENOENT);
	CHECK(strstr(err.msg, path) != NULL);

	f = fopen(path, "w");
	fputs("format: 1\npartitions: 4\nretention: 3d\n", f);
	fclose(f);
	CHECK_OK(es_config_load(path, &c, &err), ep);
	CHECK(c.partitions == 4 && c.retention_ms == 3LL * 86400000);

	f = fopen(path, "w");
	fputs("format: 1\npartitions: 4\nretention: 3x\n", f);
	fclose(f);
	CHECK(es_config_load(path, &c, &err) == ES_ECONFIG);
	CHECK(strncmp(err.msg, path, strlen(path)) == 0);
	CHECK(strstr(err.msg, ":3:12: bad duration '3x'") != NULL);

	/* A file that is not a topic.yaml must not be read whole. */
	f = fopen(path, "w");
	fputs("format: 1\npartitions: 4\n", f);
	for (int i = 0; i < 7000; i++)
		fputs("# padding\n", f);
	fclose(f);
	CHECK(es_config_load(path, &c, &err) == ES_ECONFIG);
	CHECK(strstr(err.msg, "too large") != NULL);

	CHECK(es_config_load(dir, &c, &err) == EISDIR);
	check_rmtree(dir);
}

static void test_set(void)
{
	es_config c, d;
	es_error err, *ep = &err;

	es_config_default(&c);
	CHECK_OK(es_config_set(&c, "segment-bytes", "1MiB", &err), ep);
	CHECK(c.segment_bytes == 1 << 20);
	CHECK_OK(es_config_set(&c, "segment_bytes", "2048", &err), ep);
	CHECK(c.segment_bytes == 2048);
	CHECK_OK(es_config_set(&c, "delete-retention", "90m", &err), ep);
	CHECK(c.delete_retention_ms == 90LL * 60000);
	CHECK_OK(es_config_set(&c, "partitions", "16", &err), ep);
	CHECK(c.partitions == 16);
	CHECK_OK(es_config_set(&c, "cleanup", "compact", &err), ep);
	CHECK(c.cleanup == ES_CLEANUP_COMPACT);
	CHECK_OK(es_config_set(&c, "sync", "none", &err), ep);
	CHECK(c.sync == ES_SYNC_NONE);

	d = c;
	CHECK(es_config_set(&c, "retention", "soon", &err) == ES_EUSAGE);
	CHECK(strcmp(err.msg, "bad value 'soon' for --retention: use ms, s, "
			      "m, h, d, w") == 0);
	CHECK(es_config_set(&c, "partitions", "0", &err) == ES_EUSAGE);
	CHECK(strcmp(err.msg, "bad value '0' for --partitions: must be "
			      "between 1 and 100000") == 0);
	CHECK(es_config_set(&c, "max_record_bytes", "1GiB", &err) ==
	      ES_EUSAGE);
	CHECK(strcmp(err.msg, "bad value '1GiB' for --max-record-bytes: must "
			      "be between 1B and 256MiB") == 0);
	CHECK(es_config_set(&c, "x", "1", &err) == ES_EUSAGE);
	CHECK(strcmp(err.msg, "unknown setting 'x'") == 0);
	CHECK(es_config_set(&c, "format", "1", &err) == ES_EUSAGE);
	CHECK(same(&c, &d)); /* failures change nothing */
}

static void test_round_trip(void)
{
	es_config c, back;
	es_error err, *ep = &err;
	es_buf b = { 0 };
	const char *head = "# es topic configuration; see es-format(5)\n";

	es_config_default(&c);
	CHECK(es_config_format(&c, &b) == 0);
	CHECK(b.data && strncmp(b.data, head, strlen(head)) == 0);
	CHECK(b.data[b.len] == '\0' && strlen(b.data) == b.len);
	CHECK(strstr(b.data, "\nsegment_bytes: 64MiB ") != NULL);
	CHECK(strstr(b.data, "\nretention: 7d ") != NULL);
	CHECK(strstr(b.data, "\nmax_record_bytes: 1MiB ") != NULL);
	CHECK_OK(parse(b.data, &back, &err), ep);
	CHECK(same(&c, &back));
	es_buf_free(&b);

	c.partitions = 100000;
	c.segment_bytes = 1000;
	c.segment_age_ms = 1500;
	c.retention_ms = 0;
	c.retention_bytes = 3ULL << 40;
	c.cleanup = ES_CLEANUP_COMPACT | ES_CLEANUP_DELETE;
	c.delete_retention_ms = 90 * 60000;
	c.compression = ES_COMPRESSION_ZLIB;
	c.max_record_bytes = 256ULL << 20;
	c.sync = ES_SYNC_ALWAYS;
	CHECK(es_config_format(&c, &b) == 0);
	CHECK(strstr(b.data, "\nsegment_bytes: 1000B ") != NULL);
	CHECK(strstr(b.data, "\ncleanup: compact,delete ") != NULL);
	CHECK_OK(parse(b.data, &back, &err), ep);
	CHECK(same(&c, &back));
	es_buf_free(&b);

	/* Writing what the next open would refuse helps nobody. */
	c.partitions = 0;
	CHECK(es_config_format(&c, &b) == ES_EUSAGE);
	CHECK(b.len == 0);
	es_buf_free(&b);
}

/* Key by key, what es-topic describe shows: every key once, in the file's
 * order, and each value set back gives the same configuration. */
static void test_get(void)
{
	static const char *const order[] = {
		"format", "partitions", "segment_bytes", "segment_age",
		"retention", "retention_bytes", "cleanup", "delete_retention",
		"compression", "max_record_bytes", "sync"
	};
	es_config c, d;
	es_error err, *ep = &err;
	char v[32];
	size_t n = 0;
	const char *key;

	es_config_default(&c);
	c.partitions = 12;
	c.retention_bytes = 5ULL << 30;
	c.cleanup = ES_CLEANUP_COMPACT;
	c.compression = ES_COMPRESSION_ZLIB;
	c.sync = ES_SYNC_NONE;
	es_config_default(&d);
	for (; (key = es_config_key(n)); n++) {
		CHECK(n < sizeof order / sizeof *order && !strcmp(key, order[n]));
		CHECK(es_config_get(&c, key, v, sizeof v) == 0);
		if (!strcmp(key, "format"))
			CHECK(!strcmp(v, "1"));
		else
			CHECK_OK(es_config_set(&d, key, v, &err), ep);
	}
	CHECK(n == sizeof order / sizeof *order);
	CHECK(same(&c, &d));
	CHECK(es_config_get(&c, "retention_bytes", v, sizeof v) == 0 &&
	      !strcmp(v, "5GiB"));
	CHECK(es_config_get(&c, "retention-bytes", v, sizeof v) == 0 &&
	      !strcmp(v, "5GiB"));
	CHECK(es_config_get(&c, "cleanup", v, sizeof v) == 0 &&
	      !strcmp(v, "compact"));
	CHECK(es_config_get(&c, "sync", v, sizeof v) == 0 && !strcmp(v, "none"));
	CHECK(es_config_get(&c, "partitions", v, sizeof v) == 0 &&
	      !strcmp(v, "12"));
	CHECK(es_config_get(&c, "nope", v, sizeof v) == ES_EUSAGE);
	c.sync = 7;
	CHECK(es_config_get(&c, "sync", v, sizeof v) == ES_EUSAGE);
}

static void test_sizes_durations(void)
{
	static const struct {
		const char *s;
		uint64_t v;
	} sizes[] = {
		{ "0", 0 },	    { "1", 1 },		{ "1000", 1000 },
		{ "7B", 7 },	    { "1K", 1024 },	{ "2KiB", 2048 },
		{ "64M", 64 << 20 }, { "64MiB", 64 << 20 }, { "1G", 1 << 30 },
		{ "3GiB", 3ULL << 30 },
		{ "18446744073709551615", UINT64_MAX },
		{ "17179869183GiB", 17179869183ULL << 30 },
	};
	static const char *bad_sizes[] = {
		"", " 1", "1 ", "-1", "+1", "1kb", "1KB", "1 MiB", "1.5MiB",
		"1T", "MiB", "18446744073709551616", "17179869184GiB", "1b",
		"0x10",
	};
	static const struct {
		const char *s;
		int64_t v;
	} durs[] = {
		{ "0", 0 },	   { "0s", 0 },		   { "1500ms", 1500 },
		{ "2s", 2000 },	   { "5m", 300000 },	   { "1h", 3600000 },
		{ "7d", 604800000 }, { "2w", 1209600000 },
		{ "9223372036854775807ms", INT64_MAX },
	};
	static const char *bad_durs[] = {
		"", "10", "1", "-1s", "1 s", "1.5h", "1y", "1H", "s", "1hm",
		"9223372036854775808ms", "15250284452472w",
	};
	uint64_t u;
	int64_t d;
	char buf[32];

	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		u = 12345;
		CHECK(es_parse_size(sizes[i].s, &u) == 0 && u == sizes[i].v);
	}
	for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++)
		if (es_parse_size(bad_sizes[i], &u) != ES_EUSAGE) {
			printf("# size '%s' accepted\n", bad_sizes[i]);
			CHECK(0);
		}
	for (size_t i = 0; i < sizeof durs / sizeof *durs; i++) {
		d = 12345;
		CHECK(es_parse_duration(durs[i].s, &d) == 0 && d == durs[i].v);
	}
	for (size_t i = 0; i < sizeof bad_durs / sizeof *bad_durs; i++)
		if (es_parse_duration(bad_durs[i], &d) != ES_EUSAGE) {
			printf("# duration '%s' accepted\n", bad_durs[i]);
			CHECK(0);
		}

	es_format_size(67108864, buf, sizeof buf);
	CHECK(strcmp(buf, "64MiB") == 0);
	es_format_size(1000, buf, sizeof buf);
	CHECK(strcmp(buf, "1000B") == 0);
	es_format_size(0, buf, sizeof buf);
	CHECK(strcmp(buf, "0") == 0);
	es_format_size(1536, buf, sizeof buf);
	CHECK(strcmp(buf, "3KiB") != 0 && strcmp(buf, "1536B") == 0);
	es_format_size(5ULL << 30, buf, sizeof buf);
	CHECK(strcmp(buf, "5GiB") == 0);
	es_format_duration(604800000, buf, sizeof buf);
	CHECK(strcmp(buf, "7d") == 0);
	es_format_duration(1500, buf, sizeof buf);
	CHECK(strcmp(buf, "1500ms") == 0);
	es_format_duration(0, buf, sizeof buf);
	CHECK(strcmp(buf, "0") == 0);
	es_format_duration(90 * 60000, buf, sizeof buf);
	CHECK(strcmp(buf, "90m") == 0);
	es_format_duration(INT64_MAX, buf, sizeof buf);
	CHECK(es_parse_duration(buf, &d) == 0 && d == INT64_MAX);
	es_format_size(UINT64_MAX, buf, sizeof buf);
	CHECK(es_parse_size(buf, &u) == 0 && u == UINT64_MAX);
	es_format_size(67108864, buf, 3); /* truncated, still terminated */
	CHECK(strcmp(buf, "64") == 0);
}

static int time_is(const char *s, int64_t now, int64_t want)
{
	int64_t ms = 12345;
	int rc = es_parse_time(s, now, &ms);

	if (rc != 0 || ms != want) {
		printf("# time '%s': rc %d, %lld, want %lld\n", s, rc,
		       (long long)ms, (long long)want);
		return 0;
	}
	return 1;
}

static void test_time(void)
{
	const int64_t t = 1795687200000LL; /* 2026-11-26T10:00:00Z */
	const int64_t now = 1800000000000LL;
	static const char *bad[] = {
		"", "now", "2026-11-26T", "2026-13-01", "2026-00-10",
		"2026-02-29", "2026-04-31", "2026-11-26 24:00",
		"2026-11-26 10:60", "2026-11-26 10:00:60", "2026-11-26T10:00:00Q",
		"2026-11-26T10:00:00+01", "2026-11-26T10:00:00+24:00",
		"2026-11-26T10:00:00.Z", "26-11-26", "2026-1-26", "2026-11-26 ",
		" 2026-11-26", "2026-11-26 10", "@", "@1x", "@99999999999999999999",
		"-", "-1", "-soon", "+1h", "2026-11-26T10:00:00Zjunk",
	};
	int64_t ms;

	CHECK(time_is("2026-11-26T10:00:00Z", 0, t));
	CHECK(time_is("2026-11-26t10:00:00z", 0, t));
	CHECK(time_is("2026-11-26 10:00:00Z", 0, t));
	CHECK(time_is("2026-11-26T10:00:00.123Z", 0, t + 123));
	CHECK(time_is("2026-11-26T10:00:00.5Z", 0, t + 500));
	CHECK(time_is("2026-11-26T10:00:00.123456789Z", 0, t + 123));
	CHECK(time_is("2026-11-26T11:00:00+01:00", 0, t));
	CHECK(time_is("2026-11-26T04:30:00-05:30", 0, t));
	CHECK(time_is("2028-02-29T00:00:00Z", 0, 1835395200000LL));
	CHECK(time_is("1970-01-01T00:00:00Z", 0, 0));
	CHECK(time_is("@1795687200000", 0, t));
	CHECK(time_is("@0", 0, 0));
	CHECK(time_is("-1h", now, now - 3600000));
	CHECK(time_is("-7d", now, now - 7 * 86400000LL));
	CHECK(time_is("-0", now, now));

	/* Local forms read TZ through mktime; pin it for the test only. */
	setenv("TZ", "UTC", 1);
	tzset();
	CHECK(time_is("2026-11-26", 0, t - 10 * 3600000LL));
	CHECK(time_is("2026-11-26 10:00", 0, t));
	CHECK(time_is("2026-11-26 10:00:00", 0, t));
	CHECK(time_is("2026-11-26T10:00", 0, t));
	CHECK(time_is("2026-11-26T10:00:00.250", 0, t + 250));
	setenv("TZ", "EST5", 1);
	tzset();
	CHECK(time_is("2026-11-26 05:00:00", 0, t));
	unsetenv("TZ");
	tzset();

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (es_parse_time(bad[i], now, &ms) != ES_EUSAGE) {
			printf("# time '%s' accepted\n", bad[i]);
			CHECK(0);
		}
	CHECK(es_parse_time("-9223372036854775807ms", -10, &ms) == ES_EUSAGE);
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_full_file);
	RUN(test_bad_values);
	RUN(test_keys);
	RUN(test_format_newer);
	RUN(test_structure);
	RUN(test_load);
	RUN(test_set);
	RUN(test_round_trip);
	RUN(test_get);
	RUN(test_sizes_durations);
	RUN(test_time);
	return DONE();
}
