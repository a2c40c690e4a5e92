/* fuzz_segment.c - libFuzzer: any bytes as the active segment of a
 * one-partition topic, then read, check, repair, append and read again.
 *
 * Input: one mode byte, then the segment. The mode picks the head: 0 no
 * head file content (a crash before the first publish), 1 published up to
 * byte 0 (everything is an unpublished tail), 2 published up to the end
 * (everything is durable). Bit 2 of the mode asks for sync none. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "es-int.h"

static char top[64], path[128], pdir[160];
static es_topic *topic;

static void rm_files(const char *dir, int keep_lock)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' ||
		    (keep_lock && strcmp(e->d_name, "lock") == 0))
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
}

static void cleanup(void)
{
	char p[512];
	if (topic)
		es_topic_close(topic);
	rm_files(pdir, 0);
	rmdir(pdir);
	snprintf(p, sizeof p, "%s/groups", path);
	rmdir(p);
	snprintf(p, sizeof p, "%s/topic.yaml", path);
	unlink(p);
	rmdir(path);
	rmdir(top);
}

/* One topic for the whole run, on tmpfs when there is one: the target
 * only rewrites its files between inputs. */
static int setup(void)
{
	es_config c;
	es_error err;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(top, sizeof top, "%s/es-fuzz-XXXXXX", base);
	if (!mkdtemp(top))
		return -1;
	snprintf(path, sizeof path, "%s/t", top);
	snprintf(pdir, sizeof pdir, "%s/0", path);
	es_config_default(&c);
	if (es_topic_create(path, &c, &err) || es_topic_open(path, &topic, &err))
		return -1;
	atexit(cleanup);
	return 0;
}

static void put(const char *name, const void *p, size_t n)
{
	char f[256];
	snprintf(f, sizeof f, "%s/%s", pdir, name);
	int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || es_write_all(fd, p, n) != 0)
		abort();
	close(fd);
}

static void on_problem(void *arg, const es_problem *p)
{
	int *n = arg;
	if (!p->segment || !p->what || p->partition != 0 ||
	    p->kind < ES_PROBLEM_TORN_TAIL)
		abort();
	if (p->kind == ES_PROBLEM_CORRUPT || p->kind == ES_PROBLEM_TORN_TAIL)
		(*n)++;
}

/* Read everything, skipping damage a bounded number of times; the reader
 * may only ever say "a record", "the end" or "corrupt". Returns the last
 * code and the offset of the last record in *last (UINT64_MAX if none). */
static int read_all(int skip, uint64_t *last)
{
	es_reader *r;
	es_error err;
	es_record rec;
	int rc, skips = 0;
	uint64_t prev = 0;
	int have = 0;
	*last = UINT64_MAX;
	if (es_reader_open(topic, 0, &r, &err) != 0)
		abort();
	for (int k = 0; k < 100000; k++) {
		rc = es_reader_next(r, UINT64_MAX, &rec, &err);
		if (rc == 1) {
			/* Offsets only grow. */
			if (have && rec.offset <= prev)
				abort();
			prev = rec.offset;
			have = 1;
			*last = rec.offset;
			continue;
		}
		if (rc == ES_ECORRUPT && skip && skips++ < 8) {
			if (es_reader_skip_corrupt(r, &err) != 0)
				break;
			continue;
		}
		if (rc != 0 && rc != ES_ECORRUPT)
			abort();
		break;
	}
	es_reader_close(r);
	return rc;
}

static void seeks(const uint8_t *data, size_t size)
{
	es_reader *r;
	es_error err;
	es_record rec;
	if (es_reader_open(topic, 0, &r, &err) != 0)
		abort();
	/* Seek to offsets and times the input itself names. */
	for (size_t at = 8; at + 16 <= size && at < 8 + 36 * 4; at += 36) {
		uint64_t off = get64(data + at);
		int64_t ts = (int64_t)get64(data + at + 8);
		int rc;
		if (es_reader_seek(r, off, NULL, &err) == 0) {
			rc = es_reader_next(r, UINT64_MAX, &rec, &err);
			if (rc == 1 && rec.offset < off)
				abort();
			if (rc != 1 && rc != 0 && rc != ES_ECORRUPT)
				abort();
		}
		if (es_reader_seek_time(r, ts, &err) == 0) {
			rc = es_reader_next(r, UINT64_MAX, &rec, &err);
			if (rc == 1 && es_reader_max_ts(r) < ts)
				abort();
			if (rc != 1 && rc != 0 && rc != ES_ECORRUPT)
				abort();
		}
	}
	es_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!topic && setup() != 0)
		abort();
	if (size < 1)
		return 0;
	int mode = data[0] & 3, sync = data[0] & 4 ? ES_SYNC_NONE : ES_SYNC_BATCH;
	const uint8_t *seg = data + 1;
	size_t len = size - 1;

	/* A fresh partition: this segment, an empty index, the head. */
	rm_files(pdir, 1);
	put("00000000000000000000.log", seg, len);
	put("00000000000000000000.index", "", 0);
	unsigned char hb[ES_HEAD_SIZE];
	es_head h = {0, 0, mode == 2 ? len : 0, -1, 0};
	es_head_pack(hb, &h);
	put("head", hb, mode ? sizeof hb : 0);

	uint64_t last;
	if (mode)
		read_all(1, &last);
	if (mode)
		seeks(seg, len);

	es_error err;
	int found = 0, again = 0;
	if (es_topic_check(topic, 0, on_problem, &found, &err) != 0)
		abort();
	if (es_topic_check(topic, 1, on_problem, &found, &err) != 0)
		abort();
	/* After a repair nothing is left to find. */
	if (es_topic_check(topic, 0, on_problem, &again, &err) != 0 || again)
		abort();

	/* And the next writer can append, and it reads back last. */
	es_producer *p;
	if (es_producer_open(topic, sync, &p, &err) != 0)
		abort();
	int added = es_producer_add(p, 0, "k", 1, "fuzz", 4, NULL, 0, -1, NULL,
				    &err);
	int rc = added ? added : es_producer_flush(p, NULL, NULL, &err);
	es_producer_close(p);
	if (rc != 0)
		abort();
	uint64_t end;
	if (es_partition_end(topic, 0, &end, &err) != 0 || end == 0)
		abort();
	if (read_all(0, &last) != 0 || last != end - 1)
		abort();
	return 0;
}
