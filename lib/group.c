/* group.c - consumer groups: members, partition ownership, durable commits
 * with history, and the replay lock; all with files and flock, no daemon.
 *
 * TOPIC/groups/NAME/
 *   members/PID-NONCE  one per live member, flock'ed LOCK_EX for its life
 *   P.lock             held LOCK_EX by the owner of partition P; holds its pid
 *   commits            per partition P, at byte P * 8192, its committed
 *                      offset, counters and history: two slots written in
 *                      turn (see NOTES 4)
 *   replay.lock        LOCK_EX while es-replay applies; members take it
 *                      LOCK_SH (non-blocking) to acquire a partition
 *
 * NOTES
 * (1) A partition has at most one owner: the holder of P.lock. The kernel
 *     drops the lock when the owner dies, however it dies.
 * (2) An owner reads P's commit only after taking P.lock, and commits before
 *     releasing it, so a record is handed to one member at a time.
 * (3) Lock files are never renamed or unlinked (a lock on an unlinked file
 *     would lock nothing), and are opened O_CLOEXEC so that --exec children
 *     never keep a partition after their parent died.
 * (4) A partition's region holds two slots of COMMIT_SLOT bytes, each a
 *     whole, self-checking commit with a sequence number; a commit writes
 *     the slot not holding the newest one, then fdatasyncs. The newest
 *     valid slot is never overwritten, so a torn write loses only the
 *     commit being made (its batch is delivered again: at-least-once). As
 *     LMDB does with its two meta pages: one fdatasync, no rename, no
 *     directory sync, where --exec commits after every batch.
 * (5) One file for the group, not one per partition: es-lag reads every
 *     group's every partition, and one open and a read per few partitions
 *     cost a tenth of an open, a read and a close each. Owners of
 *     different partitions write different pages of it; it is made under a
 *     temporary name and linked into place, never renamed over (which
 *     would undo the others' commits). An earlier build's P.commit files
 *     (one region each) are read while it is missing, and copied into it
 *     when it is made.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "es-int.h"

#define COMMITS "commits"
#define COMMIT_HDR 48
#define COMMIT_SLOT 4096
#define COMMIT_REGION (2 * COMMIT_SLOT) /* a partition's, at P * REGION */
#define COMMIT_POINT 40
#define HIST_GAP_MS 2000

struct es_group {
	es_topic *t;
	char *name;
	int dirfd, memfd;
	int cfd; /* the commits file, from the first commit on */
	char member[64];
	uint32_t n;
	int *lockfd;		/* per partition, -1 unless owned */
	unsigned char *fresh;	/* acquired, not yet reported */
	unsigned char *give;	/* to release */
	uint32_t owned;
};

int es_group_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 128 || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* The group directory, created (durably) when create is set. */
static int group_dir(es_topic *t, const char *name, int create, es_error *err)
{
	if (!es_group_name_ok(name)) {
		es_err(err, "bad group name '%s' (use letters, digits, '.', '_', '-')",
		       name);
		return -ES_EUSAGE;
	}
	char path[300];
	snprintf(path, sizeof path, "groups/%s", name);
	int fd = openat(t->dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 || !create || errno != ENOENT) {
		if (fd < 0) {
			int rc = errno;
			if (rc != ENOENT)
				es_err(err, "cannot open group '%s': %s", name,
				       strerror(rc));
			else
				es_err(err, "no group '%s'", name);
			return -rc;
		}
		return fd;
	}
	if ((mkdirat(t->dirfd, "groups", 0755) != 0 && errno != EEXIST) ||
	    (mkdirat(t->dirfd, path, 0755) != 0 && errno != EEXIST)) {
		int rc = errno;
		es_err(err, "cannot create group '%s': %s", name, strerror(rc));
		return -rc;
	}
	int gfd = openat(t->dirfd, "groups", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (gfd >= 0) {
		fsync(gfd);
		close(gfd);
	}
	fd = openat(t->dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int rc = errno;
		es_err(err, "cannot open group '%s': %s", name, strerror(rc));
		return -rc;
	}
	if (mkdirat(fd, "members", 0755) != 0 && errno != EEXIST) {
		int rc = errno;
		close(fd);
		es_err(err, "cannot create group '%s': %s", name, strerror(rc));
		return -rc;
	}
	fsync(fd);
	return fd;
}

/* Remove name if it is the temporary commits file of a creator that died
 * (a kill between its link and its unlink leaves it). */
static void sweep_commits_tmp(int gfd, const char *name)
{
	long pid;
	if (!strncmp(name, COMMITS ".tmp.", sizeof COMMITS + 4) &&
	    (pid = atol(name + sizeof COMMITS + 4)) > 0 &&
	    kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		unlinkat(gfd, name, 0);
}

int es_group_join(es_topic *t, const char *name, es_group **out, es_error *err)
{
	int dfd = group_dir(t, name, 1, err);
	if (dfd < 0)
		return -dfd;
	/* Another member may have made the group and not yet its members/:
	 * make sure of it here. */
	if (mkdirat(dfd, "members", 0755) != 0 && errno != EEXIST) {
		int rc = errno;
		close(dfd);
		es_err(err, "cannot join group '%s': %s", name, strerror(rc));
		return rc;
	}
	es_group *g = calloc(1, sizeof *g);
	if (!g) {
		close(dfd);
		return ENOMEM;
	}
	g->t = t;
	g->dirfd = dfd;
	g->memfd = -1;
	g->cfd = -1;
	es_dirscan *d = malloc(sizeof *d);
	if (d) {
		es_dirent e;
		es_dirscan_start(d, dfd, 0);
		while (es_dirscan_next(d, &e))
			sweep_commits_tmp(dfd, e.name);
		free(d);
	}
	g->n = t->cfg.partitions;
	g->name = strdup(name);
	g->lockfd = malloc(g->n * sizeof *g->lockfd);
	g->fresh = calloc(g->n, 1);
	g->give = calloc(g->n, 1);
	if (!g->name || !g->lockfd || !g->fresh || !g->give) {
		es_group_leave(g);
		return ENOMEM;
	}
	for (uint32_t i = 0; i < g->n; i++)
		g->lockfd[i] = -1;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(g->member, sizeof g->member, "members/%d-%lld%09ld",
		 (int)getpid(), (long long)ts.tv_sec, ts.tv_nsec);
	/* The member file appears already locked: made and locked under a
	 * hidden name, then renamed (the lock is the inode's). Made unlocked
	 * under its own name, another member's liveness probe could take it
	 * for a dead member's in between, and remove it. */
	char tmp[80];
	snprintf(tmp, sizeof tmp, "members/.%s", g->member + strlen("members/"));
	g->memfd = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (g->memfd < 0 || flock(g->memfd, LOCK_EX) != 0 ||
	    renameat(dfd, tmp, dfd, g->member) != 0) {
		int rc = errno;
		es_err(err, "cannot join group '%s': %s", name, strerror(rc));
		unlinkat(dfd, tmp, 0);
		es_group_leave(g);
		return rc;
	}
	*out = g;
	return 0;
}

void es_group_leave(es_group *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; g->lockfd && i < g->n; i++)
		es_group_release(g, i);
	if (g->memfd >= 0) {
		unlinkat(g->dirfd, g->member, 0);
		close(g->memfd);
	}
	if (g->cfd >= 0)
		close(g->cfd);
	close(g->dirfd);
	free(g->name);
	free(g->lockfd);
	free(g->fresh);
	free(g->give);
	free(g);
}

/* A live member's file; a dead member's is removed on the way. */
static int member_alive(int dfd, const es_dirent *e)
{
	const char *name = e->name;
	if (name[0] == '.') {
		/* A joining member's, or one left by a crash while joining:
		 * only an old one is swept. */
		struct stat st;
		if (strcmp(name, ".") && strcmp(name, "..") &&
		    fstatat(dfd, name, &st, 0) == 0 && time(NULL) - st.st_mtime > 60)
			unlinkat(dfd, name, 0);
		return 0;
	}
	int mfd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (mfd < 0)
		return 0;
	/* Getting the lock means its holder is gone. */
	int dead = flock(mfd, LOCK_SH | LOCK_NB) == 0;
	if (dead)
		unlinkat(dfd, name, 0);
	close(mfd);
	return !dead;
}

static int live_members(int gfd, char ***names, size_t *n)
{
	return es_sorted_names(gfd, "members", member_alive, names, n);
}

int es_group_owns(const es_group *g, uint32_t p);

static int try_acquire(es_group *g, uint32_t p)
{
	char name[32];
	snprintf(name, sizeof name, "%u.lock", p);
	int fd = openat(g->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return 0;
	}
	/* The owner's pid, for es-lag and es-replay's messages. */
	char pid[24];
	int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == 0)
		es_pwrite_all(fd, pid, (size_t)len, 0);
	g->lockfd[p] = fd;
	g->fresh[p] = 1;
	g->owned++;
	return 1;
}

int es_group_rebalance(es_group *g, int release, int greedy, es_error *err)
{
	char **names;
	size_t nm;
	int rc = live_members(g->dirfd, &names, &nm);
	if (rc) {
		es_err(err, "group '%s': cannot list members: %s", g->name,
		       strerror(rc));
		return -rc;
	}
	size_t rank = 0;
	const char *me = g->member + strlen("members/");
	for (size_t i = 0; i < nm; i++)
		if (!strcmp(names[i], me))
			rank = i;
	es_names_free(names, nm);
	if (nm == 0) /* our own file vanished: count ourselves anyway */
		nm = 1;
	uint32_t share = g->n / (uint32_t)nm + (rank < g->n % nm ? 1 : 0);
	memset(g->give, 0, g->n);
	if (release && g->owned > share) {
		uint32_t extra = g->owned - share;
		for (uint32_t p = g->n; p-- > 0 && extra;)
			if (g->lockfd[p] >= 0) {
				g->give[p] = 1;
				extra--;
			}
	}
	if (!greedy && g->owned >= share)
		return 0;
	/* No partition is taken while a replay applies. */
	int rfd = openat(g->dirfd, "replay.lock", O_RDWR | O_CREAT | O_CLOEXEC,
			 0644);
	if (rfd < 0 || flock(rfd, LOCK_SH | LOCK_NB) != 0) {
		if (rfd >= 0)
			close(rfd);
		return 0;
	}
	int got = 0;
	/* Start at a different place per member so they do not all race for
	 * partition 0. */
	uint32_t start = (uint32_t)((rank * g->n) / nm);
	for (uint32_t k = 0; k < g->n && (greedy || g->owned < share); k++) {
		uint32_t p = (start + k) % g->n;
		if (g->lockfd[p] < 0)
			got += try_acquire(g, p);
	}
	close(rfd);
	return got;
}

int es_group_lock_fd(const es_group *g, uint32_t p)
{
	return es_group_owns(g, p) ? g->lockfd[p] : -1;
}

int es_group_owns(const es_group *g, uint32_t p)
{
	return p < g->n && g->lockfd[p] >= 0;
}

int es_group_acquired(es_group *g, uint32_t *p)
{
	for (uint32_t i = 0; i < g->n; i++)
		if (g->fresh[i]) {
			g->fresh[i] = 0;
			*p = i;
			return 1;
		}
	return 0;
}

int es_group_should_release(es_group *g, uint32_t *p)
{
	for (uint32_t i = 0; i < g->n; i++)
		if (g->give[i]) {
			*p = i;
			return 1;
		}
	return 0;
}

void es_group_keep(es_group *g, uint32_t p)
{
	if (p < g->n)
		g->give[p] = 0;
}

void es_group_release(es_group *g, uint32_t p)
{
	if (p >= g->n || g->lockfd[p] < 0)
		return;
	/* Closing the descriptor drops the lock. */
	close(g->lockfd[p]);
	g->lockfd[p] = -1;
	g->fresh[p] = g->give[p] = 0;
	g->owned--;
}

/* Commit file: "ESGC", u32 version 1, u64 offset, i64 time, u64 retries,
 * u64 dead letters, u32 history count, u32 reserved, then count points of
 * {i64 time, u64 offset, u64 end, u64 retries, u64 dead letters} (the
 * counters as they were then, for rates), then u32 CRC-32C of all before
 * it. */
/* One slot; *seq is its sequence number. The record's length follows from
 * its history count; the rest of the slot is zeros. */
static int commit_unpack(const unsigned char *p, size_t slot, es_commit_info *c,
			 uint32_t *seq)
{
	if (slot < COMMIT_HDR + 4 || memcmp(p, "ESGC", 4) != 0)
		return ES_ECORRUPT;
	uint32_t nh = get32(p + 40);
	size_t len = COMMIT_HDR + (size_t)nh * COMMIT_POINT + 4;
	if (nh > ES_COMMIT_HISTORY || len > slot ||
	    es_crc32c(0, p, len - 4) != get32(p + len - 4))
		return ES_ECORRUPT;
	*seq = get32(p + 44);
	if (get32(p + 4) != 1)
		return ES_EFORMAT;
	c->offset = get64(p + 8);
	c->time_ms = (int64_t)get64(p + 16);
	c->retries = get64(p + 24);
	c->dead_letters = get64(p + 32);
	c->nhist = nh;
	for (uint32_t i = 0; i < nh; i++) {
		const unsigned char *q = p + COMMIT_HDR + i * COMMIT_POINT;
		c->hist[i].time_ms = (int64_t)get64(q);
		c->hist[i].offset = get64(q + 8);
		c->hist[i].end = get64(q + 16);
		c->hist[i].retries = get64(q + 24);
		c->hist[i].dead_letters = get64(q + 32);
	}
	return 0;
}

static size_t commit_pack(unsigned char *p, const es_commit_info *c,
			  uint32_t seq)
{
	memset(p, 0, COMMIT_SLOT);
	memcpy(p, "ESGC", 4);
	put32(p + 4, 1);
	put64(p + 8, c->offset);
	put64(p + 16, (uint64_t)c->time_ms);
	put64(p + 24, c->retries);
	put64(p + 32, c->dead_letters);
	put32(p + 40, c->nhist);
	put32(p + 44, seq);
	for (uint32_t i = 0; i < c->nhist; i++) {
		unsigned char *q = p + COMMIT_HDR + i * COMMIT_POINT;
		put64(q, (uint64_t)c->hist[i].time_ms);
		put64(q + 8, c->hist[i].offset);
		put64(q + 16, c->hist[i].end);
		put64(q + 24, c->hist[i].retries);
		put64(q + 32, c->hist[i].dead_letters);
	}
	size_t len = COMMIT_HDR + (size_t)c->nhist * COMMIT_POINT;
	put32(p + len, es_crc32c(0, p, len));
	return len + 4;
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Partition p's region of the commits file into b (COMMIT_REGION bytes):
 * what lies past the end of the file reads as zeros, as a hole does. */
static int read_region(int fd, uint32_t p, unsigned char *b)
{
	off_t at = (off_t)p * COMMIT_REGION;
	/* Whole at once is the rule; anything short is looked at again, as
	 * the end of the file or a read that stopped early. */
	ssize_t n = pread(fd, b, COMMIT_REGION, at);
	if (n >= 0 && n < COMMIT_REGION) {
		ssize_t m = es_pread_full(fd, b + n, COMMIT_REGION - (size_t)n,
					  at + n);
		n = m < 0 ? m : n + m;
	}
	if (n < 0)
		return errno;
	memset(b + n, 0, COMMIT_REGION - (size_t)n);
	return 0;
}

/* The newest valid slot of a region: 0, ENOENT (no commit), ES_ECORRUPT,
 * ES_EFORMAT. *slot is where it is, *seq its number. */
static int parse_region(const unsigned char *b, const char *group, uint32_t p,
			es_commit_info *c, int *slot, uint32_t *seq,
			es_error *err)
{
	memset(c, 0, sizeof *c);
	c->offset = ES_NO_OFFSET;
	c->time_ms = -1;
	*slot = -1;
	*seq = 0;
	int rc = 0;
	for (int k = 0; k < 2; k++) {
		es_commit_info ck;
		uint32_t sk;
		const unsigned char *at = b + k * COMMIT_SLOT;
		if (!memcmp(at, "ESGC", 4) && get32(at + 4) != 1) {
			rc = ES_EFORMAT;
			break;
		}
		/* Sequence numbers wrap: the newer is ahead by less than half. */
		if (commit_unpack(at, COMMIT_SLOT, &ck, &sk) == 0 &&
		    (*slot < 0 || (int32_t)(sk - *seq) > 0)) {
			*c = ck;
			*slot = k;
			*seq = sk;
		}
	}
	/* No valid slot: never committed if the second slot was never
	 * written, whatever the first holds (a first commit that did not
	 * complete: it was not acknowledged); damage otherwise. */
	if (rc == 0 && *slot < 0)
		rc = all_zero(b + COMMIT_SLOT, COMMIT_SLOT) ? ENOENT : ES_ECORRUPT;
	if (rc && rc != ENOENT)
		es_err(err, "group '%s', partition %u: damaged commit in "
		       "groups/%s/" COMMITS ": %s", group, p, group,
		       es_strerror(rc));
	if (rc) {
		memset(c, 0, sizeof *c);
		c->offset = ES_NO_OFFSET;
		c->time_ms = -1;
	}
	return rc;
}

/* The partition P of a per-partition file's name, "P" and then suffix
 * (".lock"; ".commit", an earlier build's commit file, which held the same
 * two slots as a region), or -1. */
static long name_partition(const char *name, const char *suffix)
{
	long p = 0;
	const char *s = name;
	if (*s < '0' || *s > '9' || (*s == '0' && s[1] != '.'))
		return -1;
	while (*s >= '0' && *s <= '9' && p < 1000000)
		p = p * 10 + (*s++ - '0');
	return strcmp(s, suffix) == 0 ? p : -1;
}

/* Make the commits file: under a temporary name, with the regions of an
 * earlier build's P.commit files if there are any, synced, then linked
 * into place. A link never replaces a file, so a member that made it
 * first wins and nothing it committed is undone; the file is never
 * renamed over. The old files go once the new one is in place. */
static int make_commits(int gfd)
{
	char tmp[64];
	snprintf(tmp, sizeof tmp, COMMITS ".tmp.%d", (int)getpid());
	unlinkat(gfd, tmp, 0); /* ours, from a run killed here */
	int fd = openat(gfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	es_dirscan *d = malloc(sizeof *d);
	int rc = d ? 0 : ENOMEM, legacy = 0;
	es_dirent e;
	if (d)
		es_dirscan_start(d, gfd, 1);
	while (!rc && d && es_dirscan_next(d, &e)) {
		long p = name_partition(e.name, ".commit");
		if (p < 0) {
			sweep_commits_tmp(gfd, e.name);
			continue;
		}
		/* Each old file is copied whole, or the new file is not made:
		 * the old ones are removed once it is in place. One that is
		 * gone was removed by a member whose commits file is in place
		 * already, and our link will find it there. */
		unsigned char b[COMMIT_REGION];
		int ofd = openat(gfd, e.name, O_RDONLY | O_CLOEXEC);
		if (ofd < 0) {
			if (errno != ENOENT)
				rc = errno;
			continue;
		}
		rc = read_region(ofd, 0, b);
		close(ofd);
		if (!rc)
			rc = es_pwrite_all(fd, b, sizeof b, (off_t)p * COMMIT_REGION);
		legacy = 1;
	}
	if (!rc && d && d->rc)
		rc = d->rc;
	free(d);
	if (!rc && fsync(fd) != 0)
		rc = errno;
	if (!rc && linkat(gfd, tmp, gfd, COMMITS, 0) != 0)
		rc = errno;
	if (!rc && es_fsync_dir(gfd) != 0)
		rc = errno;
	unlinkat(gfd, tmp, 0);
	close(fd);
	if (rc == EEXIST) /* made by another member just now */
		return openat(gfd, COMMITS, O_RDWR | O_CLOEXEC);
	if (rc) {
		errno = rc;
		return -1;
	}
	if (legacy && (d = malloc(sizeof *d))) {
		es_dirscan_start(d, gfd, 1);
		while (es_dirscan_next(d, &e))
			if (name_partition(e.name, ".commit") >= 0)
				unlinkat(gfd, e.name, 0);
		free(d);
	}
	return openat(gfd, COMMITS, O_RDWR | O_CLOEXEC);
}

/* The commits file of a group directory, opened for writing; made if
 * missing, durably. Never replaced: other partitions' owners write to it
 * at the same time. */
static int open_commits_rw(int gfd)
{
	int fd = openat(gfd, COMMITS, O_RDWR | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	return make_commits(gfd);
}

static int write_commit(es_topic *t, int fd, const char *group, uint32_t p,
			uint64_t offset, uint64_t retries, uint64_t dead,
			es_error *err)
{
	unsigned char b[COMMIT_REGION];
	es_commit_info c;
	int slot;
	uint32_t seq;
	int rc = read_region(fd, p, b);
	if (!rc)
		rc = parse_region(b, group, p, &c, &slot, &seq, NULL);
	if (rc && rc != ENOENT && rc != ES_ECORRUPT) {
		es_err(err, "group '%s', partition %u: cannot read the commit: %s",
		       group, p, es_strerror(rc));
		return rc;
	}
	uint64_t end = offset;
	es_partition_end(t, p, &end, NULL);
	int64_t now = es_now_ms();
	c.offset = offset;
	c.time_ms = now;
	c.retries += retries;
	c.dead_letters += dead;
	es_commit_point pt = {now, offset, end, c.retries, c.dead_letters};
	/* One point per few seconds, the newest overwritten in between, so
	 * that a bounded history spans minutes of activity. */
	if (c.nhist > 1 && now - c.hist[c.nhist - 2].time_ms < HIST_GAP_MS) {
		c.hist[c.nhist - 1] = pt;
	} else {
		if (c.nhist == ES_COMMIT_HISTORY) {
			memmove(c.hist, c.hist + 1,
				(ES_COMMIT_HISTORY - 1) * sizeof *c.hist);
			c.nhist--;
		}
		c.hist[c.nhist++] = pt;
	}
	/* The slot not holding the newest commit; with none, the first (a
	 * damaged second slot is then left as it is: the first is newer). */
	int to = rc ? 0 : !slot;
	commit_pack(b, &c, rc ? 1 : seq + 1);
	rc = es_pwrite_all(fd, b, COMMIT_SLOT,
			   (off_t)p * COMMIT_REGION + to * COMMIT_SLOT);
	if (!rc && fdatasync(fd) != 0)
		rc = errno;
	if (rc)
		es_err(err, "group '%s', partition %u: cannot commit: %s", group,
		       p, strerror(rc));
	return rc;
}

int es_group_commit(es_group *g, uint32_t p, uint64_t offset,
		    uint64_t retries, uint64_t dead_letters, es_error *err)
{
	if (!es_group_owns(g, p)) {
		es_err(err, "group '%s': partition %u is not ours to commit",
		       g->name, p);
		return ES_ELOCKED;
	}
	if (g->cfd < 0 && (g->cfd = open_commits_rw(g->dirfd)) < 0) {
		int rc = errno;
		es_err(err, "group '%s': cannot open its commits: %s", g->name,
		       strerror(rc));
		return rc;
	}
	return write_commit(g->t, g->cfd, g->name, p, offset, retries,
			    dead_letters, err);
}

static void no_commit(es_commit_info *info)
{
	memset(info, 0, sizeof *info);
	info->offset = ES_NO_OFFSET;
	info->time_ms = -1;
}

/* A group's commits file for reading: an fd, or -errno (-ENOENT: no group,
 * or no commit yet). */
static int open_commits_ro(es_topic *t, const char *group, es_error *err)
{
	if (!es_group_name_ok(group)) {
		es_err(err, "bad group name '%s'", group);
		return -ES_EUSAGE;
	}
	/* Straight from the topic directory: no open of the group's. */
	char path[200];
	snprintf(path, sizeof path, "groups/%s/" COMMITS, group);
	int fd = openat(t->dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		es_err(err, "group '%s': cannot open its commits: %s", group,
		       strerror(errno));
	return fd < 0 ? -errno : fd;
}

/* Partition p's commit file of an earlier build, read while the group has
 * no commits file yet (its first commit by this build makes one of them):
 * -errno, or an fd. */
static int open_legacy(es_topic *t, const char *group, uint32_t p)
{
	char path[300];
	snprintf(path, sizeof path, "groups/%s/%u.commit", group, p);
	int fd = openat(t->dirfd, path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Does the group have an earlier build's commit files? */
static int has_legacy(es_topic *t, const char *group)
{
	char path[300];
	snprintf(path, sizeof path, "groups/%s", group);
	int gfd = openat(t->dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	es_dirscan *d = gfd >= 0 ? malloc(sizeof *d) : NULL;
	int found = 0;
	if (d) {
		es_dirent e;
		es_dirscan_start(d, gfd, 0);
		while (!found && es_dirscan_next(d, &e))
			found = name_partition(e.name, ".commit") >= 0;
		free(d);
	}
	if (gfd >= 0)
		close(gfd);
	return found;
}

/* Partition p's commit from region at of the file fd; closes fd. */
static int read_commit_fd(int fd, uint32_t at, const char *group, uint32_t p,
			  es_commit_info *info, es_error *err)
{
	unsigned char b[COMMIT_REGION];
	int slot;
	uint32_t seq;
	int rc = read_region(fd, at, b);
	close(fd);
	if (rc) {
		es_err(err, "group '%s', partition %u: cannot read the commit: %s",
		       group, p, strerror(rc));
		return rc;
	}
	return parse_region(b, group, p, info, &slot, &seq, err);
}

/* Partition p's commit while the group had no commits file: from its
 * earlier build's file, or, if that went meanwhile, from the commits file
 * another member's first commit moved it into (in place before any old
 * file goes). */
static int read_legacy(es_topic *t, const char *group, uint32_t p,
		       es_commit_info *info, es_error *err)
{
	int fd = open_legacy(t, group, p);
	if (fd >= 0) /* a legacy file is partition p's region alone */
		return read_commit_fd(fd, 0, group, p, info, err);
	if (fd != -ENOENT) {
		es_err(err, "group '%s', partition %u: cannot open "
		       "groups/%s/%u.commit: %s", group, p, group, p,
		       strerror(-fd));
		return -fd;
	}
	fd = open_commits_ro(t, group, err);
	return fd < 0 ? -fd : read_commit_fd(fd, p, group, p, info, err);
}

int es_group_read(es_topic *t, const char *group, uint32_t p,
		  es_commit_info *info, es_error *err)
{
	no_commit(info);
	int fd = open_commits_ro(t, group, err);
	if (fd == -ENOENT)
		return read_legacy(t, group, p, info, err);
	if (fd < 0)
		return -fd;
	return read_commit_fd(fd, p, group, p, info, err);
}

/* Regions read in one go by es_commits_read: a few partitions' worth, so
 * that memory stays small whatever the partition count. */
#define COMMITS_CHUNK 8

struct es_commits {
	es_topic *t;
	char *group;
	int fd;	    /* -1: no commits file */
	int legacy; /* none, but an earlier build's P.commit files */
	uint32_t first, n; /* the regions in buf */
	unsigned char buf[COMMITS_CHUNK * COMMIT_REGION];
};

int es_commits_open(es_topic *t, const char *group, es_commits **out,
		    es_error *err)
{
	es_commits *c = calloc(1, sizeof *c);
	if (!c || !(c->group = strdup(group))) {
		free(c);
		return ENOMEM;
	}
	c->t = t;
	c->fd = open_commits_ro(t, group, err);
	if (c->fd < 0 && c->fd != -ENOENT) {
		int rc = -c->fd;
		es_commits_close(c);
		return rc;
	}
	/* Asked once, not at every partition. */
	c->legacy = c->fd < 0 && has_legacy(t, group);
	*out = c;
	return 0;
}

int es_commits_read(es_commits *c, uint32_t p, es_commit_info *info,
		    es_error *err)
{
	no_commit(info);
	if (c->fd < 0) /* none yet: an earlier build's files, if any */
		return c->legacy ? read_legacy(c->t, c->group, p, info, err)
				 : ENOENT;
	if (p < c->first || p >= c->first + c->n) {
		c->n = 0;
		ssize_t n = es_pread_full(c->fd, c->buf, sizeof c->buf,
					  (off_t)p * COMMIT_REGION);
		if (n < 0) {
			int rc = errno;
			es_err(err, "group '%s', partition %u: cannot read the "
			       "commit: %s", c->group, p, strerror(rc));
			return rc;
		}
		memset(c->buf + n, 0, sizeof c->buf - (size_t)n);
		c->first = p;
		c->n = COMMITS_CHUNK;
	}
	int slot;
	uint32_t seq;
	return parse_region(c->buf + (size_t)(p - c->first) * COMMIT_REGION,
			    c->group, p, info, &slot, &seq, err);
}

void es_commits_close(es_commits *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->group);
	free(c);
}

int es_group_write(es_topic *t, const char *group, uint32_t p,
		   uint64_t offset, es_error *err)
{
	int gfd = group_dir(t, group, 1, err);
	if (gfd < 0)
		return -gfd;
	int rc, fd = open_commits_rw(gfd);
	if (fd < 0) {
		rc = errno;
		es_err(err, "group '%s': cannot open its commits: %s", group,
		       strerror(rc));
	} else {
		rc = write_commit(t, fd, group, p, offset, 0, 0, err);
		close(fd);
	}
	close(gfd);
	return rc;
}

int es_group_members(es_topic *t, const char *group, int *pids, size_t max,
		     size_t *n, es_error *err)
{
	*n = 0;
	if (!es_group_name_ok(group)) {
		es_err(err, "bad group name '%s'", group);
		return ES_EUSAGE;
	}
	/* From the topic directory: no open of the group's (es-lag lists
	 * the members of every group). A missing group has none. */
	char path[300];
	snprintf(path, sizeof path, "groups/%s/members", group);
	char **names;
	size_t k;
	int rc = es_sorted_names(t->dirfd, path, member_alive, &names, &k);
	if (rc) {
		es_err(err, "group '%s': cannot list members: %s", group,
		       strerror(rc));
		return rc;
	}
	for (size_t i = 0; i < k; i++)
		if (i < max)
			pids[i] = atoi(names[i]);
	*n = k;
	es_names_free(names, k);
	return 0;
}

/* Probe a lock file: a lock we cannot share is a live owner's, and the
 * file holds its pid. */
static void owner_probe(int dirfd, const char *path, int *pid)
{
	*pid = 0;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
		char buf[24] = {0};
		if (es_pread_full(fd, buf, sizeof buf - 1, 0) > 0)
			*pid = atoi(buf);
		if (*pid <= 0)
			*pid = -1; /* owned, pid unknown */
	}
	close(fd);
}

int es_group_owner(es_topic *t, const char *group, uint32_t p, int *pid)
{
	char name[300];
	snprintf(name, sizeof name, "groups/%s/%u.lock", group, p);
	owner_probe(t->dirfd, name, pid);
	return 0;
}


int es_group_owners(es_topic *t, const char *group, const es_locktable *locks,
		    uint32_t np, int *pids)
{
	for (uint32_t p = 0; p < np; p++)
		pids[p] = 0;
	if (!es_group_name_ok(group))
		return ES_EUSAGE;
	if (locks && t->lockfs < 0) {
		struct stat st;
		t->lockfs = es_locktable_covers(t->dirfd);
		if (t->lockfs == 2 && fstat(t->dirfd, &st) == 0)
			t->dev = (uint64_t)st.st_dev;
		else if (t->lockfs == 2)
			t->lockfs = 1;
	}
	/* No lock at all on the topic's file system: nothing to look at. */
	if (locks && t->lockfs == 2 && !es_locktable_on_dev(locks, t->dev))
		return 0;
	char path[300];
	snprintf(path, sizeof path, "groups/%s", group);
	int gfd = openat(t->dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (gfd < 0)
		return errno == ENOENT ? 0 : errno;
	char name[32];
	int listed = 0;
	es_dirscan *d = locks && t->lockfs > 0 ? malloc(sizeof *d) : NULL;
	if (d) {
		/* Only the held ones, told by their inode numbers. */
		es_dirscan_start(d, gfd, 0);
		es_dirent e;
		while (es_dirscan_next(d, &e)) {
			long p = name_partition(e.name, ".lock");
			if (p >= 0 && p < (long)np && es_locktable_has(locks, e.ino))
				owner_probe(gfd, e.name, &pids[p]);
		}
		listed = d->rc == 0;
		free(d);
	}
	for (uint32_t p = 0; !listed && p < np; p++) {
		snprintf(name, sizeof name, "%u.lock", p);
		owner_probe(gfd, name, &pids[p]);
	}
	close(gfd);
	return 0;
}

static int group_name_keep(int dfd, const es_dirent *e)
{
	(void)dfd;
	return es_group_name_ok(e->name);
}

int es_group_list(es_topic *t, char ***names, size_t *n, es_error *err)
{
	int rc = es_sorted_names(t->dirfd, "groups", group_name_keep, names, n);
	if (rc)
		es_err(err, "cannot list the groups of '%s': %s", t->path,
		       strerror(rc));
	return rc;
}

int es_group_lock_replay(es_topic *t, const char *group, int *handle,
			 es_error *err)
{
	int gfd = group_dir(t, group, 1, err);
	if (gfd < 0)
		return -gfd;
	int fd = openat(gfd, "replay.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	close(gfd);
	if (fd < 0) {
		int rc = errno;
		es_err(err, "group '%s': cannot open the replay lock: %s", group,
		       strerror(rc));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		es_err(err, "group '%s': another replay is running", group);
		return ES_ELOCKED;
	}
	*handle = fd;
	return 0;
}

void es_group_unlock_replay(int handle)
{
	if (handle >= 0)
		close(handle);
}
