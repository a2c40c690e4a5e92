/* test_group.c - a group's commits file (regions, slots, holes, damage),
 * reading it partition after partition, owners told by the lock table,
 * and directory scans longer than one read */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check.h"
#include "es-int.h"

#define NP 20 /* partitions: more than two chunks of es_commits_read */

static char root[4096];

static es_topic *mk(const char *name, uint32_t parts)
{
	return check_make_topic(root, name, parts, NULL, NULL);
}

/* A member of group "g" owning every partition. */
static es_group *own_all(es_topic *t)
{
	es_group *g = NULL;
	es_error err = {{0}};
	CHECK_OK(es_group_join(t, "g", &g, &err), &err);
	if (!g)
		exit(2);
	CHECK(es_group_rebalance(g, 0, 1, &err) == NP);
	return g;
}

static void commits_path(char *buf, es_topic *t)
{
	snprintf(buf, 4200, "%s/groups/g/commits", t->path);
}

static void poke(es_topic *t, off_t at, const void *p, size_t n)
{
	char path[4200];
	commits_path(path, t);
	int fd = open(path, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, p, n, at) == (ssize_t)n);
	if (fd >= 0)
		close(fd);
}

static uint32_t seq_at(es_topic *t, off_t at)
{
	char path[4200];
	unsigned char b[4] = {0};
	commits_path(path, t);
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, b, 4, at + 44) == 4);
	if (fd >= 0)
		close(fd);
	return get32(b);
}

/* Every partition read both ways: es_group_read, and es_commits_read in
 * the order given. want[p] is the offset, or ES_NO_OFFSET for none. */
static void expect_commits(es_topic *t, const uint64_t *want,
			   const uint32_t *order)
{
	es_error err = {{0}};
	es_commits *c = NULL;
	CHECK_OK(es_commits_open(t, "g", &c, &err), &err);
	for (uint32_t i = 0; i < NP && c; i++) {
		uint32_t p = order ? order[i] : i;
		es_commit_info a, b;
		int ra = es_group_read(t, "g", p, &a, &err);
		int rb = es_commits_read(c, p, &b, &err);
		if (want[p] == ES_NO_OFFSET) {
			CHECK(ra == ENOENT && rb == ENOENT);
			CHECK(a.offset == ES_NO_OFFSET && b.offset == ES_NO_OFFSET);
		} else {
			CHECK(ra == 0 && rb == 0);
			CHECK(a.offset == want[p] && b.offset == want[p]);
			CHECK(a.nhist >= 1 && b.nhist == a.nhist);
		}
		if (a.offset != b.offset || a.offset != want[p])
			printf("# partition %u: want %llu, read %llu and %llu\n", p,
			       (unsigned long long)want[p],
			       (unsigned long long)a.offset,
			       (unsigned long long)b.offset);
	}
	es_commits_close(c);
}

static void test_commits_regions(void)
{
	es_topic *t = mk("regions", NP);
	es_error err = {{0}};
	uint64_t want[NP];
	for (uint32_t p = 0; p < NP; p++)
		want[p] = ES_NO_OFFSET;

	/* No group yet, then a group with no commit yet: no commits file. */
	expect_commits(t, want, NULL);
	es_group *g = own_all(t);
	expect_commits(t, want, NULL);

	/* Regions 0, 9 and 17 (chunks 0, 1 and 2); the rest holes, or past
	 * the end of the file. */
	CHECK_OK(es_group_commit(g, 0, 5, 0, 0, &err), &err);
	CHECK_OK(es_group_commit(g, 9, 7, 0, 0, &err), &err);
	CHECK_OK(es_group_commit(g, 17, 3, 0, 0, &err), &err);
	want[0] = 5, want[9] = 7, want[17] = 3;
	char path[4200];
	struct stat st;
	commits_path(path, t);
	CHECK(stat(path, &st) == 0 && st.st_size == 17 * 8192 + 4096);
	expect_commits(t, want, NULL);
	uint32_t backwards[NP];
	for (uint32_t i = 0; i < NP; i++)
		backwards[i] = NP - 1 - i;
	expect_commits(t, want, backwards);

	/* Slots in turn: 9's second commit goes to its second slot. */
	CHECK(seq_at(t, 9 * 8192) == 1 && seq_at(t, 9 * 8192 + 4096) == 0);
	CHECK_OK(es_group_commit(g, 9, 8, 2, 1, &err), &err);
	CHECK(seq_at(t, 9 * 8192) == 1 && seq_at(t, 9 * 8192 + 4096) == 2);
	CHECK_OK(es_group_commit(g, 9, 9, 0, 0, &err), &err);
	CHECK(seq_at(t, 9 * 8192) == 3 && seq_at(t, 9 * 8192 + 4096) == 2);
	want[9] = 9;
	expect_commits(t, want, NULL);
	es_commit_info ci;
	CHECK_OK(es_group_read(t, "g", 9, &ci, &err), &err);
	CHECK(ci.retries == 2 && ci.dead_letters == 1);

	/* The newest slot torn: the older one is the commit. */
	static const char junk[] = "torn torn torn";
	poke(t, 9 * 8192 + 60, junk, sizeof junk);
	want[9] = 8;
	expect_commits(t, want, NULL);

	/* A first commit that never completed: garbage in the first slot,
	 * the second never written. No commit, and no complaint. */
	poke(t, 18 * 8192 + 8, junk, sizeof junk);
	CHECK(es_group_read(t, "g", 18, &ci, &err) == ENOENT);
	expect_commits(t, want, NULL);

	/* Both slots bad: damage, named. */
	poke(t, 18 * 8192 + 4096 + 8, junk, sizeof junk);
	err.msg[0] = 0;
	CHECK(es_group_read(t, "g", 18, &ci, &err) == ES_ECORRUPT);
	CHECK(ci.offset == ES_NO_OFFSET);
	CHECK(strstr(err.msg, "partition 18") && strstr(err.msg, "groups/g/commits"));
	/* A commit there starts afresh. */
	CHECK_OK(es_group_commit(g, 18, 2, 0, 0, &err), &err);
	want[18] = 2;
	expect_commits(t, want, NULL);

	/* A newer version is neither read nor taken for damage. */
	unsigned char v2[4];
	put32(v2, 2);
	poke(t, 17 * 8192 + 4, v2, 4);
	CHECK(es_group_read(t, "g", 17, &ci, &err) == ES_EFORMAT);

	/* Not ours: refused, the region untouched. */
	es_group_release(g, 0);
	CHECK(es_group_commit(g, 0, 99, 0, 0, &err) == ES_ELOCKED);
	CHECK_OK(es_group_read(t, "g", 0, &ci, &err), &err);
	CHECK(ci.offset == 5);
	es_group_leave(g);
	es_topic_close(t);
}

/* Owners from the lock table agree with a probe of every lock file. */
static void test_owners(void)
{
	es_topic *t = mk("owners", NP);
	es_locktable *lt = NULL;
	int a[NP], b[NP];
	int rc = es_locktable_read(&lt);
	/* Only a process outside the initial pid namespace goes without. */
	CHECK(rc == 0 || rc == ENOENT);
	CHECK((rc == 0) == (lt != NULL));
	CHECK(es_group_owners(t, "g", lt, NP, a) == 0);
	for (uint32_t p = 0; p < NP; p++)
		CHECK(a[p] == 0);
	es_locktable_free(lt);

	es_group *g = own_all(t);
	es_group_release(g, 3);
	es_group_release(g, 11);
	lt = NULL;
	CHECK(es_locktable_read(&lt) == rc);
	CHECK(es_group_owners(t, "g", lt, NP, a) == 0);
	CHECK(es_group_owners(t, "g", NULL, NP, b) == 0);
	for (uint32_t p = 0; p < NP; p++) {
		int want = p == 3 || p == 11 ? 0 : (int)getpid();
		CHECK(a[p] == want && b[p] == want);
		int one = -2;
		CHECK(es_group_owner(t, "g", p, &one) == 0 && one == want);
	}
	es_locktable_free(lt);
	es_group_leave(g);
	/* A group that does not exist has no owners. */
	CHECK(es_group_owners(t, "nobody", NULL, NP, a) == 0 && a[0] == 0);
	es_topic_close(t);
}

/* The table from lines in the kernel's format: held flock locks only,
 * found whatever their order; none at all on a quiet machine. */
static es_locktable *parse_locks(const char *text, int *rc)
{
	FILE *f = tmpfile();
	CHECK(f != NULL);
	if (!f)
		return NULL;
	fputs(text, f);
	rewind(f);
	es_locktable *lt = (es_locktable *)1;
	*rc = es_locktable_parse(f, &lt);
	fclose(f);
	return lt;
}

static void test_locktable_parse(void)
{
	int rc = -1;
	es_locktable *lt = parse_locks("", &rc);
	CHECK(rc == 0 && lt != NULL);
	CHECK(es_locktable_has(lt, 0) == 0 && es_locktable_has(lt, 5000) == 0);
	CHECK(es_locktable_on_dev(lt, makedev(8, 1)) == 0);
	es_locktable_free(lt);

	lt = parse_locks(
		"1: FLOCK  ADVISORY  WRITE 1234 08:01:5000 0 EOF\n"
		"1: -> FLOCK  ADVISORY  WRITE 1235 08:01:6000 0 EOF\n"
		"2: POSIX  ADVISORY  WRITE 99 08:01:7000 0 EOF\n"
		"3: OFDLCK ADVISORY  READ  -1 08:01:7001 0 EOF\n"
		"4: FLOCK  ADVISORY  WRITE 1236 fd:02:42 0 EOF\n"
		"5: FLOCK  ADVISORY  WRITE 1237 08:01:300 0 EOF", &rc);
	CHECK(rc == 0 && lt != NULL);
	CHECK(es_locktable_has(lt, 5000) && es_locktable_has(lt, 42) &&
	      es_locktable_has(lt, 300));
	/* A waiter holds nothing; POSIX and OFD locks are not flock's. */
	CHECK(!es_locktable_has(lt, 6000) && !es_locktable_has(lt, 7000) &&
	      !es_locktable_has(lt, 7001));
	CHECK(es_locktable_on_dev(lt, makedev(0xfd, 2)));
	CHECK(es_locktable_on_dev(lt, makedev(8, 1)));
	CHECK(!es_locktable_on_dev(lt, makedev(8, 2)));
	es_locktable_free(lt);

	/* A line longer than any the kernel writes: not a table to trust. */
	char text[600];
	memset(text, 'x', 400);
	strcpy(text + 400, "\n1: FLOCK  ADVISORY  WRITE 1 08:01:9 0 EOF\n");
	lt = parse_locks(text, &rc);
	CHECK(rc == EINVAL && lt == NULL);
}

/* A directory of more entries than one getdents64 returns. */
static void test_dirscan(void)
{
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/many", root);
	CHECK(mkdir(dir, 0755) == 0);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	enum { N = 1500 };
	for (int i = 0; i < N; i++) {
		char name[64];
		snprintf(name, sizeof name, "a-rather-long-file-name-%04d", i);
		int fd = openat(dfd, name, O_WRONLY | O_CREAT, 0644);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
	}
	static unsigned char seen[N];
	es_dirscan *s = malloc(sizeof *s);
	for (int round = 0; round < 2 && s; round++) {
		memset(seen, 0, sizeof seen);
		es_dirscan_start(s, dfd, round); /* the second: rewound */
		es_dirent e;
		int n = 0, bad = 0;
		while (es_dirscan_next(s, &e)) {
			int i;
			if (sscanf(e.name, "a-rather-long-file-name-%d", &i) != 1 ||
			    i < 0 || i >= N || seen[i] || e.type != DT_REG)
				bad++;
			else
				seen[i] = 1;
			n++;
		}
		CHECK(s->rc == 0 && n == N && bad == 0);
	}
	free(s);
	close(dfd);
}

int main(void)
{
	snprintf(root, sizeof root, "%s", check_tmpdir());
	RUN(test_commits_regions);
	RUN(test_owners);
	RUN(test_locktable_parse);
	RUN(test_dirscan);
	return check_finish(root);
}
