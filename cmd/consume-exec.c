/* consume-exec.c - es-consume --exec: at-least-once delivery to a command,
 * a batch of one partition at a time, with retries, narrowing of a failing
 * batch down to the failing records, and a dead-letter topic.
 *
 * A batch's records are kept in memory until the batch is done, so that a
 * retry hands the same bytes again. The command reads them from an
 * anonymous file (memfd) on its stdin: no pipe to block on, whatever it
 * reads. A batch, or a part of it, is committed only when the command
 * exited 0 for it; order inside a partition is kept because the parts of a
 * batch run left to right and a partition has one batch at a time. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "consume.h"

struct brec {
	uint64_t offset;
	int64_t ts;
	size_t at; /* in the arena: key, value, headers */
	uint32_t klen, vlen, hlen;
	uint32_t attempts; /* times handed to CMD */
};

struct range {
	size_t lo, hi;
};

/* READY: the range is to run; RUNNING: its command runs; EXITED: the
 * command ended, its status not yet acted on (committed, retried). */
enum { J_IDLE, J_READY, J_RUNNING, J_EXITED, J_BACKOFF };

struct job {
	struct part *pp;
	int state;
	es_buf arena;
	struct brec *recs;
	size_t n, cap;
	struct range cur;
	struct range *stack; /* the parts of the batch still to run */
	size_t nstack, capstack;
	int narrowing;
	uint32_t attempt; /* runs of the current range */
	int fd;		  /* the current range, formatted (memfd), or -1 */
	pid_t pid;
	int wstatus;	  /* EXITED: how it ended */
	int64_t wake;
	uint64_t retries; /* not yet committed */
	int status;	  /* the last exit status */
};

extern char **environ;

static int chld_pipe[2] = {-1, -1};
static es_topic *dlt;
static es_producer *dlt_prod;

static void on_chld(int sig)
{
	(void)sig;
	int e = errno;
	if (write(chld_pipe[1], "", 1) < 0) {
		/* full: a wake-up is pending anyway */
	}
	errno = e;
}

static void to_record(const struct job *j, size_t i, es_record *r)
{
	const struct brec *b = &j->recs[i];
	const unsigned char *p = (const unsigned char *)j->arena.data + b->at;
	r->offset = b->offset;
	r->timestamp = b->ts;
	r->key_len = b->klen;
	r->key = b->klen == ES_NULL_LEN ? NULL : p;
	p += b->klen == ES_NULL_LEN ? 0 : b->klen;
	r->value_len = b->vlen;
	r->value = b->vlen == ES_NULL_LEN ? NULL : p;
	p += b->vlen == ES_NULL_LEN ? 0 : b->vlen;
	r->headers = p;
	r->headers_len = b->hlen;
}

static void keep(es_buf *a, const void *p, uint32_t len)
{
	if (len != ES_NULL_LEN && es_buf_append(a, p, len))
		cli_die(EX_FAIL, "out of memory");
}

/* Read the next batch of the job's partition; 1 if it has records. */
static int fill(struct job *j)
{
	struct part *pp = j->pp;
	j->n = 0;
	j->arena.len = 0;
	j->nstack = 0;
	j->narrowing = 0;
	j->attempt = 0;
	j->retries = 0;
	while (j->n < o.batch) {
		es_record r;
		es_error err = {{0}};
		int rc = es_reader_next(pp->r, pp->limit, &r, &err);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (rc == ES_ECORRUPT && o.skip_corrupt) {
				cli_warn("%s (skipped)", err.msg);
				if ((rc = es_reader_skip_corrupt(pp->r, &err)))
					cli_die(cli_status(rc), "%s", err.msg);
				continue;
			}
			if (j->n)
				break; /* deliver what is before it first */
			cli_die(cli_status(rc), "%s", err.msg);
		}
		if (j->n == j->cap) {
			j->cap = j->cap ? j->cap * 2 : 64;
			j->recs = realloc(j->recs, j->cap * sizeof *j->recs);
			if (!j->recs)
				cli_die(EX_FAIL, "out of memory");
		}
		struct brec *b = &j->recs[j->n++];
		b->offset = r.offset;
		b->ts = r.timestamp;
		b->at = j->arena.len;
		b->klen = r.key_len;
		b->vlen = r.value_len;
		b->hlen = r.headers_len;
		b->attempts = 0;
		keep(&j->arena, r.key, r.key_len);
		keep(&j->arena, r.value, r.value_len);
		keep(&j->arena, r.headers, r.headers_len);
	}
	if (!j->n)
		return 0;
	j->cur = (struct range){0, j->n};
	j->state = J_READY;
	return 1;
}

/* Format the range to run into an anonymous file, ahead of its start. */
static void stage(struct job *j)
{
	static es_buf fmt;
	if (j->fd >= 0)
		return;
	fmt.len = 0;
	for (size_t i = j->cur.lo; i < j->cur.hi; i++) {
		es_record r;
		to_record(j, i, &r);
		format_record(&fmt, j->pp->id, &r);
	}
	int fd = memfd_create("es-batch", MFD_CLOEXEC);
	if (fd < 0 || es_write_all(fd, fmt.data, fmt.len) ||
	    lseek(fd, 0, SEEK_SET) != 0)
		cli_die(EX_IOERR_, "cannot stage a batch: %s", strerror(errno));
	j->fd = fd;
}

/* The command's environment: ours without any ES_* variable we set, then
 * those, for this batch. Built once (the topic and group whole, however
 * long a path the topic is, and every variable, however many); a batch
 * only rewrites its numbers. */
static char **command_env(const struct job *j)
{
	static char **envp, *vars[7], nums[5][64];
	if (!envp) {
		size_t tl = strlen(o.topic) + sizeof "ES_TOPIC=";
		size_t gl = strlen(o.group) + sizeof "ES_GROUP=";
		size_t n = 0, ne = 0;
		for (char **e = environ; *e; e++)
			n++;
		if (!(vars[0] = malloc(tl)) || !(vars[1] = malloc(gl)) ||
		    !(envp = malloc((n + 8) * sizeof *envp)))
			cli_die(EX_FAIL, "out of memory");
		snprintf(vars[0], tl, "ES_TOPIC=%s", o.topic);
		snprintf(vars[1], gl, "ES_GROUP=%s", o.group);
		static const char *const names[5] = {
			"ES_PARTITION=", "ES_FIRST_OFFSET=", "ES_LAST_OFFSET=",
			"ES_COUNT=", "ES_ATTEMPT="};
		for (int k = 0; k < 5; k++) {
			vars[2 + k] = nums[k];
			strcpy(nums[k], names[k]);
		}
		for (char **e = environ; *e; e++) {
			int ours = 0; /* replaced below, never doubled */
			for (int k = 0; k < 7 && !ours; k++)
				ours = !strncmp(*e, vars[k], strcspn(vars[k], "=") + 1);
			if (!ours)
				envp[ne++] = *e;
		}
		for (int k = 0; k < 7; k++)
			envp[ne++] = vars[k];
		envp[ne] = NULL;
	}
	uint64_t v[5] = {j->pp->id, j->recs[j->cur.lo].offset,
			 j->recs[j->cur.hi - 1].offset, j->cur.hi - j->cur.lo,
			 j->attempt};
	for (int k = 0; k < 5; k++) {
		char *at = strchr(nums[k], '=') + 1;
		at[es_u64_dec(at, v[k])] = 0;
	}
	return envp;
}

static void spawn(es_group *g, struct job *j)
{
	stage(j);
	int fd = j->fd;
	j->fd = -1;
	for (size_t i = j->cur.lo; i < j->cur.hi; i++)
		j->recs[i].attempts++;
	j->attempt++;
	out_flush(); /* the command shares our stdout */
	/* posix_spawn (vfork-like) rather than fork: no copy of our page
	 * tables for a child that execs at once; a batch's cost is the
	 * command's start, not ours. */
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 0);
	/* The handler keeps its partition's lock: if we are killed while it
	 * runs, no other member takes the partition (and runs these records)
	 * until the handler is done too. dup2 onto itself clears
	 * close-on-exec. */
	int lfd = es_group_lock_fd(g, j->pp->id);
	if (lfd >= 0)
		posix_spawn_file_actions_adddup2(&fa, lfd, lfd);
	posix_spawnattr_init(&sa);
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	/* Ignored signals stay ignored across exec: undo ours. */
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGXFSZ);
	sigaddset(&dfl, SIGCHLD);
	posix_spawnattr_setsigmask(&sa, &none);
	posix_spawnattr_setsigdefault(&sa, &dfl);
	posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	char *argv[] = {"sh", "-c", (char *)o.exec, NULL};
	char **envp = command_env(j);
	pid_t pid;
	int rc = posix_spawn(&pid, "/bin/sh", &fa, &sa, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	if (rc)
		cli_die(EX_TEMPFAIL_, "cannot start sh: %s", strerror(rc));
	close(fd);
	j->pid = pid;
	j->state = J_RUNNING;
}

static void commit_to(es_group *g, struct job *j, uint64_t offset,
		      uint64_t dead)
{
	es_error err = {{0}};
	int rc = es_group_commit(g, j->pp->id, offset, j->retries, dead, &err);
	if (rc)
		cli_die(cli_status(rc) == EX_FAIL ? EX_IOERR_ : cli_status(rc),
			"%s", err.msg);
	j->retries = 0;
	j->pp->committed = offset;
	j->pp->commit_ms = cli_mono_ms();
}

static void dead_letter(es_topic *t, struct job *j, size_t i)
{
	es_error err = {{0}};
	int rc;
	if (!dlt) {
		const char *path = cli_topic_path(o.dead_letter);
		if (!es_topic_exists(path)) {
			es_config c;
			es_config_default(&c);
			c.partitions = es_topic_config(t)->partitions;
			rc = es_topic_create(path, &c, &err);
			if (rc && rc != EEXIST)
				cli_die(EX_CANTCREAT_, "%s", err.msg);
		}
		dlt = cli_open_topic(o.dead_letter);
		if ((rc = es_producer_open(dlt, es_topic_config(dlt)->sync,
					   &dlt_prod, &err)))
			cli_die(cli_status(rc), "%s", err.msg);
	}
	es_record r;
	to_record(j, i, &r);
	es_buf h = {0};
	es_buf_append(&h, r.headers, r.headers_len);
	char num[4][32];
	snprintf(num[0], 32, "%u", j->pp->id);
	snprintf(num[1], 32, "%" PRIu64, r.offset);
	snprintf(num[2], 32, "%u", j->recs[i].attempts);
	snprintf(num[3], 32, "%d", j->status);
	const char *names[6] = {"es.origin.topic", "es.origin.partition",
				"es.origin.offset", "es.group", "es.attempts",
				"es.exit.status"};
	const char *vals[6] = {o.topic, num[0], num[1], o.group, num[2], num[3]};
	for (int k = 0; k < 6; k++)
		es_header_add(&h, names[k], strlen(names[k]), vals[k],
			      strlen(vals[k]));
	uint32_t n = es_topic_config(dlt)->partitions;
	int part = r.key_len == ES_NULL_LEN ? (int)(j->pp->id % n) : -1;
	rc = es_producer_add(dlt_prod, part, r.key, r.key_len, r.value,
			     r.value_len, h.data, (uint32_t)h.len, r.timestamp,
			     NULL, &err);
	if (!rc)
		rc = es_producer_flush(dlt_prod, NULL, NULL, &err);
	es_buf_free(&h);
	if (rc)
		cli_die(cli_status(rc), "dead-letter topic '%s': %s", o.dead_letter,
			err.msg);
	cli_warn("partition %u, offset %" PRIu64 ": command failed (exit status "
		 "%d) %u times; sent to '%s'", j->pp->id, r.offset, j->status,
		 j->recs[i].attempts, o.dead_letter);
}

/* The range that just ran is done (succeeded or dead-lettered): on to the
 * next part of the batch, or the next batch. */
static void next_part(struct job *j)
{
	j->attempt = 0;
	if (j->nstack) {
		j->cur = j->stack[--j->nstack];
		j->state = J_READY;
	} else {
		j->state = J_IDLE;
	}
}

static void push(struct job *j, struct range r)
{
	if (j->nstack == j->capstack) {
		j->capstack = j->capstack ? j->capstack * 2 : 16;
		j->stack = realloc(j->stack, j->capstack * sizeof *j->stack);
		if (!j->stack)
			cli_die(EX_FAIL, "out of memory");
	}
	j->stack[j->nstack++] = r;
}

/* Returns 0, or an exit status to stop with (75). */
static int finished(es_topic *t, es_group *g, struct job *j, int wstatus)
{
	j->pid = 0;
	j->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
					: 128 + WTERMSIG(wstatus);
	if (j->status == 0) {
		commit_to(g, j, j->recs[j->cur.hi - 1].offset + 1, 0);
		next_part(j);
		return 0;
	}
	j->retries++;
	size_t len = j->cur.hi - j->cur.lo;
	if (len > 1 && (j->narrowing || j->attempt > o.retries)) {
		/* Narrow: run each half; only failing records remain. */
		size_t mid = j->cur.lo + len / 2;
		push(j, (struct range){mid, j->cur.hi});
		j->cur.hi = mid;
		j->narrowing = 1;
		j->attempt = 0;
		j->state = J_READY;
		return 0;
	}
	if (j->attempt <= o.retries) {
		int64_t delay = o.backoff_ms;
		for (uint32_t k = 1; k < j->attempt && delay < 3600000; k++)
			delay *= 2;
		j->wake = cli_mono_ms() + delay;
		j->state = J_BACKOFF;
		return 0;
	}
	/* One record that keeps failing. */
	const struct brec *b = &j->recs[j->cur.lo];
	if (o.dead_letter) {
		dead_letter(t, j, j->cur.lo);
		commit_to(g, j, b->offset + 1, 1);
		next_part(j);
		return 0;
	}
	commit_to(g, j, b->offset, 0);
	cli_error("partition %u, offset %" PRIu64 ": command failed (exit status "
		  "%d) after %u attempts; committed up to it, so the next run "
		  "retries it", j->pp->id, b->offset, j->status, b->attempts);
	j->state = J_IDLE;
	j->n = 0;
	return EX_TEMPFAIL_;
}

static void exec_commit_fn(es_group *g, struct part *pp)
{
	(void)g;
	(void)pp; /* every finished batch is committed already */
}

int exec_run(es_topic *t, es_group *g, struct part *parts, uint32_t np,
	     es_watch *watch)
{
	struct job *jobs = calloc(np, sizeof *jobs);
	unsigned char *give = calloc(np, 1);
	if (!jobs || !give || pipe2(chld_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		cli_die(EX_FAIL, "cannot set up --exec: %s", strerror(errno));
	for (uint32_t i = 0; i < np; i++) {
		jobs[i].pp = &parts[i];
		jobs[i].fd = -1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	int64_t started = cli_mono_ms(), last_work = started, last_rebalance = started;
	int status = 0, stopping = 0;
	uint32_t running = 0, rr = 0;
	for (;;) {
		int64_t now = cli_mono_ms();
		if (cli_signal || status ||
		    (o.timeout_ms >= 0 && now - started >= o.timeout_ms))
			stopping = 1;
		/* Start what is staged before anything else: a command's start
		 * is the critical path, and the commits and reads below then run
		 * while it starts and runs (on another core, when there is one).
		 * A batch is committed a little later; at-least-once either way. */
		for (uint32_t k = 0; k < np && !stopping && running < o.jobs; k++) {
			struct job *j = &jobs[(rr + k) % np];
			if (j->pp->active && j->state == J_READY && j->fd >= 0) {
				spawn(g, j);
				running++;
			}
		}
		/* Act on the commands that ended: commit, retry, narrow. */
		for (uint32_t i = 0; i < np; i++) {
			if (jobs[i].state != J_EXITED)
				continue;
			int st = finished(t, g, &jobs[i], jobs[i].wstatus);
			if (st && !status) {
				status = st;
				stopping = 1;
			}
			last_work = cli_mono_ms();
		}
		/* Read and stage the next batches; start what can start, a
		 * partition after another. */
		int pending = 0;
		for (uint32_t k = 0; k < np; k++) {
			struct job *j = &jobs[(rr + k) % np];
			if (!j->pp->active)
				continue;
			if (j->state == J_BACKOFF && now >= j->wake)
				j->state = J_READY;
			if (j->state == J_IDLE && !stopping && !j->pp->done &&
			    !give[j->pp->id]) {
				if (fill(j))
					last_work = now;
				else if (!o.follow)
					j->pp->done = 1;
			}
			if (j->state != J_IDLE)
				pending = 1;
			if (j->state == J_READY && !stopping && running < o.jobs) {
				spawn(g, j);
				running++;
			}
			if (j->state == J_READY && !stopping)
				stage(j);
		}
		rr++;
		if (stopping && !running)
			break;
		if (!pending && !stopping) {
			if (!o.follow) {
				int more = 0;
				for (uint32_t i = 0; i < np; i++)
					if (parts[i].active && !parts[i].done)
						more = 1;
				if (!more &&
				    !group_rebalance(t, g, parts, 0, 1, exec_commit_fn))
					break;
				continue;
			}
			if (o.idle_ms >= 0 && now - last_work >= o.idle_ms)
				break;
		}
		if (o.follow && now - last_rebalance >= 500) {
			es_error err = {{0}};
			int rc = es_group_rebalance(g, 1, 0, &err);
			if (rc < 0)
				cli_die(cli_status(-rc), "%s", err.msg);
			uint32_t p;
			while (es_group_should_release(g, &p)) {
				give[p] = 1;
				es_group_keep(g, p);
			}
			while (es_group_acquired(g, &p)) {
				give[p] = 0;
				group_open_part(t, g, &parts[p]);
			}
			last_rebalance = now;
		}
		/* Give partitions away at a batch boundary: a batch not yet
		 * handed to its command is simply left for the next owner. */
		for (uint32_t p = 0; p < np; p++) {
			if (!give[p] || jobs[p].state == J_RUNNING ||
			    jobs[p].state == J_EXITED)
				continue;
			if (jobs[p].fd >= 0)
				close(jobs[p].fd);
			jobs[p].fd = -1;
			jobs[p].state = J_IDLE;
			es_reader_close(parts[p].r);
			parts[p].r = NULL;
			parts[p].active = 0;
			es_group_release(g, p);
			give[p] = 0;
		}
		/* Sleep until a child ends, records arrive, a backoff ends, or
		 * it is time to look at the group. */
		int wait = 500;
		for (uint32_t i = 0; i < np; i++)
			if (jobs[i].state == J_BACKOFF) {
				int64_t left = jobs[i].wake - now;
				if (left < wait)
					wait = left > 0 ? (int)left : 0;
			}
		if (!o.follow && !running && !pending)
			wait = 0;
		if (o.timeout_ms >= 0 && !stopping) {
			int64_t left = o.timeout_ms - (now - started);
			if (left < wait)
				wait = left > 0 ? (int)left : 0;
		}
		struct pollfd pfd[2] = {{chld_pipe[0], POLLIN, 0},
					{watch ? es_watch_fd(watch) : -1, POLLIN, 0}};
		if (running || pending || o.follow)
			poll(pfd, 2, wait);
		char buf[64];
		while (read(chld_pipe[0], buf, sizeof buf) > 0)
			;
		if (watch)
			es_watch_drain(watch);
		int ws;
		pid_t pid;
		while ((pid = waitpid(-1, &ws, WNOHANG)) > 0) {
			for (uint32_t i = 0; i < np; i++) {
				if (jobs[i].state != J_RUNNING || jobs[i].pid != pid)
					continue;
				running--;
				jobs[i].state = J_EXITED;
				jobs[i].wstatus = ws;
			}
		}
	}
	for (uint32_t i = 0; i < np; i++) {
		if (jobs[i].fd >= 0)
			close(jobs[i].fd);
		es_buf_free(&jobs[i].arena);
		free(jobs[i].recs);
		free(jobs[i].stack);
	}
	free(jobs);
	free(give);
	if (dlt_prod)
		es_producer_close(dlt_prod);
	if (dlt)
		es_topic_close(dlt);
	close(chld_pipe[0]);
	close(chld_pipe[1]);
	return status;
}
