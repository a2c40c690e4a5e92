/* es-lag.c - how far behind are the consumer groups: lag, age, rate, a
 * Burrow-like status per group and partition, and partition skew per
 * topic; as a table, JSON, Prometheus text or a monitoring-plugins check.
 *
 * NOTES
 * (1) Metadata only: per partition the head and segment list
 *     (es_lookup_open, with the partition's facts); per group its commits
 *     (es_commits) and the owners' locks that /proc/locks lists as held;
 *     one record per partition and distinct committed offset (the oldest
 *     unprocessed one, for its timestamp), and for AT-RISK the last
 *     record of the oldest segment. Nothing grows with the data.
 * (2) The status rules are in es-lag(1), and in judge() below, worst first.
 * (3) One frame is rendered whole into a buffer, then written in one go:
 *     to stdout, over the previous frame (--watch on a terminal), or to
 *     FILE.tmp.PID renamed over FILE (-o), so readers never see half. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
	"Usage: es-lag [options] [TOPIC...]\n"
	"Show how far each consumer group is behind, per partition, with a\n"
	"status (OK LAGGING STALLED STOPPED AT-RISK LOST), and the partition\n"
	"skew of each topic. Without TOPIC: every topic below $ES_DIR or '.'.\n"
	"\n"
	"  -g, --group GROUP    only this group\n"
	"  -J, --json           one JSON document\n"
	"      --prometheus     Prometheus text exposition format\n"
	"  -o, --output FILE    write to FILE, atomically (any output form)\n"
	"      --stall D        STALLED after D without progress (default:\n"
	"                       60s, or 10 times the usual commit gap if longer)\n"
	"      --watch [SEC]    redraw every SEC seconds (default 2) until ^C\n"
	"\n"
	"Checks (monitoring-plugins exit status 0 OK, 1 WARNING, 2 CRITICAL,\n"
	"3 UNKNOWN, and a one-line summary with perfdata):\n"
	"      --warn-lag N  --crit-lag N    lag in records greater than N\n"
	"      --warn-age D  --crit-age D    oldest unprocessed record older than D\n"
	"      --warn-status LIST  --crit-status LIST\n"
	"                       statuses that count, e.g. STOPPED,LOST\n"
	"\n"
	"  -h, --help           this help\n"
	"      --version        version\n";

enum { ST_OK, ST_LAGGING, ST_STALLED, ST_STOPPED, ST_AT_RISK, ST_LOST, ST_N };
static const char *const st_name[ST_N] = {"OK", "LAGGING", "STALLED",
					  "STOPPED", "AT-RISK", "LOST"};
static const char *const st_colour[ST_N] = {"32", "33", "31", "31", "1;35",
					    "1;31"};

#define WINDOW 10	      /* commit points judged, as Burrow's window */
#define GROUP_BATCH 32	      /* groups whose commits are read together */
#define RATE_MIN_MS 2000      /* a rate over less time is noise */
#define STALL_MIN_MS 60000    /* default --stall, unless 10 gaps are longer */
#define RISK_MARGIN 10	      /* percent of retention: AT-RISK before it */

enum { CHK_OK, CHK_WARNING, CHK_CRITICAL, CHK_UNKNOWN };
static const char *const chk_name[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

static struct {
	const char *group;
	int json, prom;
	const char *output;
	int64_t stall_ms; /* -1: adaptive */
	int watch;
	int64_t watch_ms;
	int check; /* any threshold given */
	int64_t warn_lag, crit_lag, warn_age, crit_age; /* -1: none */
	unsigned warn_st, crit_st;			 /* bit per status */
	int tty, colour;
} o = {.stall_ms = -1, .watch_ms = 2000, .warn_lag = -1, .crit_lag = -1,
       .warn_age = -1, .crit_age = -1};

/* One group x partition. -1 (or a negative rate) is "unknown", shown "-". */
struct row {
	int has_commit;
	uint64_t committed, lag;
	int64_t age_ms, since_commit_ms, eta_ms, commit_ts;
	double rate;
	int owner; /* pid; -1 owned, pid unknown; 0 none */
	uint64_t retries, dead;
	double retry_rate; /* retries a minute over the window; < 0 unknown */
	int status;
	int level; /* CHK_* against the thresholds */
};

struct group {
	char *name;
	size_t members;
	int *owners; /* per partition: pid, 0 for none */
	es_commits *commits; /* while its topic is collected */
	struct row *rows; /* one per partition */
	int status;
	uint64_t lag, retries, dead;
	double retry_rate; /* the sum of its partitions' */
	int64_t max_age;
};

struct part {
	es_partition_info pi;
	uint64_t kept_from; /* see collect_topic */
	uint64_t ts_off; /* the last lookup, shared by groups at one offset */
	int64_t ts;
};

struct topic {
	char *name; /* as given, or as found below the directory walked */
	char *path;
	int status; /* exit status of a failure to read it, or 0 */
	char *error;
	es_topic *t;
	es_config cfg;
	struct part *parts;
	struct group *groups;
	size_t ngroups;
	/* For the partition being looked at, one at a time. */
	es_lookup *look; /* of the partition being judged */
	uint64_t records, bytes;
	double rskew, bskew; /* max/mean; < 0 when the mean is 0 */
	uint32_t hot;
};

static struct topic *topics;
static size_t ntopics;
static es_locktable *locks; /* of this frame; NULL: probe every lock file */
static int64_t now_ms;

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		cli_die(EX_FAIL, "out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		cli_die(EX_FAIL, "out of memory");
	return p;
}

static void add_topic(const char *name, const char *path)
{
	static size_t cap;
	if (ntopics == cap) {
		cap = cap ? cap * 2 : 16;
		topics = realloc(topics, cap * sizeof *topics);
		if (!topics)
			cli_die(EX_FAIL, "out of memory");
	}
	memset(&topics[ntopics], 0, sizeof *topics);
	topics[ntopics].name = xstrdup(name);
	topics[ntopics].path = xstrdup(path);
	ntopics++;
}

static void found_topic(void *arg, const char *rel, const char *path)
{
	(void)arg;
	add_topic(rel, path);
}

/* ---- collecting ---------------------------------------------------------- */

static void topic_fail(struct topic *tp, int status, const char *fmt,
		       const char *detail)
{
	char msg[1024];
	snprintf(msg, sizeof msg, fmt, detail);
	if (!tp->status) {
		tp->status = status;
		tp->error = xstrdup(msg);
	}
}

/* The timestamp of the first record at or after off, or -1. */
static int64_t record_ts(struct topic *tp, uint32_t p, uint64_t off)
{
	struct part *pp = &tp->parts[p];
	if (pp->ts_off == off)
		return pp->ts;
	pp->ts_off = off;
	pp->ts = -1;
	es_error err = {{0}};
	int64_t ts;
	int rc = es_lookup_ts(tp->look, off, pp->pi.next_offset, &ts, &err);
	if (rc < 0 || rc > 1) {
		cli_warn("topic '%s': %s", tp->name, err.msg);
		return -1;
	}
	if (rc == 1)
		pp->ts = ts;
	return pp->ts;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Lag, age, rate, ETA and status of one group x partition: the rules of
 * es-lag(1), worst first. */
static void judge(struct topic *tp, uint32_t p, const es_commit_info *ci,
		  struct row *r)
{
	struct part *pp = &tp->parts[p];
	uint64_t end = pp->pi.next_offset, first = pp->pi.first_offset;
	r->committed = ci->offset;
	r->lag = end > ci->offset ? end - ci->offset : 0;
	r->commit_ts = ci->time_ms;
	r->since_commit_ms = ci->time_ms >= 0 && now_ms > ci->time_ms
				     ? now_ms - ci->time_ms : 0;
	/* The oldest unprocessed record still there. */
	uint64_t next = ci->offset > first ? ci->offset : first;
	int64_t ts = -1;
	r->age_ms = 0;
	if (r->lag) {
		ts = record_ts(tp, p, next);
		r->age_ms = ts < 0 ? -1 : ts < now_ms ? now_ms - ts : 0;
	}
	/* The window: the newest WINDOW commit points, then now. */
	uint32_t n = ci->nhist, w0 = n > WINDOW ? n - WINDOW : 0;
	const es_commit_point *h = ci->hist;
	int behind_all = n > 0; /* lag > 0 at every point of the window */
	for (uint32_t i = w0; i < n; i++)
		if (h[i].end <= h[i].offset)
			behind_all = 0;
	double prate = -1;
	if (n - w0 >= 2 && now_ms - h[w0].time_ms >= RATE_MIN_MS &&
	    ci->offset >= h[w0].offset) {
		double secs = (double)(now_ms - h[w0].time_ms) / 1000;
		r->rate = (double)(ci->offset - h[w0].offset) / secs;
		prate = end >= h[w0].end ? (double)(end - h[w0].end) / secs : 0;
		if (ci->retries >= h[w0].retries)
			r->retry_rate = (double)(ci->retries - h[w0].retries) *
					60 / secs;
	}
	/* Stalled since the last commit, or since the oldest unprocessed
	 * record came if the group had caught up at that commit. */
	int64_t since = ci->time_ms;
	if (n && h[n - 1].end <= h[n - 1].offset && ts > since)
		since = ts < now_ms ? ts : now_ms;
	int64_t stall = o.stall_ms;
	if (stall < 0) {
		int64_t gaps[WINDOW];
		uint32_t k = 0;
		for (uint32_t i = w0 + 1; i < n; i++)
			gaps[k++] = h[i].time_ms - h[i - 1].time_ms;
		stall = STALL_MIN_MS;
		if (k) {
			qsort(gaps, k, sizeof *gaps, cmp_i64);
			if (10 * gaps[k / 2] > stall)
				stall = 10 * gaps[k / 2];
		}
	}
	int deletes = tp->cfg.cleanup & ES_CLEANUP_DELETE;
	int at_risk = r->lag && next < pp->kept_from;
	int stopped = r->lag && r->owner == 0;
	int stalled = r->lag && since >= 0 && now_ms - since > stall;
	/* Only retention takes records unread: compaction's gaps are skipped
	 * by readers, as Kafka's are. */
	if (deletes && ci->offset < first && end > ci->offset)
		r->status = ST_LOST;
	else if (at_risk)
		r->status = ST_AT_RISK;
	else if (stopped)
		r->status = ST_STOPPED;
	else if (stalled)
		r->status = ST_STALLED;
	else if (r->lag && behind_all &&
		 r->lag > h[w0].end - h[w0].offset)
		r->status = ST_LAGGING;
	else
		r->status = ST_OK;
	/* Time to catch up: what is left, at what the group gains; none for
	 * a partition nobody reads, whatever status outranks that. */
	uint64_t left = end > next ? end - next : 0;
	if (left && r->rate > prate && !stopped && !stalled) {
		double eta = (double)left / (r->rate - prate) * 1000;
		r->eta_ms = eta < 9e15 ? (int64_t)eta : -1;
	}
}

/* One group's row of partition p: its commit, owner and verdict. */
static void collect_row(struct topic *tp, struct group *g, uint32_t p)
{
	es_error err = {{0}};
	struct row *r = &g->rows[p];
	r->age_ms = r->since_commit_ms = r->eta_ms = -1;
	r->commit_ts = -1;
	r->rate = -1;
	es_commit_info ci;
	int rc = g->commits ? es_commits_read(g->commits, p, &ci, &err)
			    : es_group_read(tp->t, g->name, p, &ci, &err);
	if (rc && rc != ENOENT)
		cli_warn("topic '%s': %s", tp->name, err.msg);
	r->owner = g->owners[p];
	if (rc || ci.offset == ES_NO_OFFSET)
		return;
	r->has_commit = 1;
	r->retries = ci.retries;
	r->dead = ci.dead_letters;
	r->retry_rate = -1;
	judge(tp, p, &ci, r);
	g->lag += r->lag;
	g->retries += r->retries;
	if (r->retry_rate > 0)
		g->retry_rate += r->retry_rate;
	g->dead += r->dead;
	if (r->age_ms > g->max_age)
		g->max_age = r->age_ms;
	if (r->status > g->status)
		g->status = r->status;
}

static void collect_topic(struct topic *tp)
{
	es_error err = {{0}};
	int rc = es_topic_open(tp->path, &tp->t, &err);
	if (rc == ENOENT) {
		topic_fail(tp, EX_NOINPUT_, "no topic '%s'", tp->name);
		return;
	}
	if (rc) {
		topic_fail(tp, cli_status(rc), "%s", err.msg);
		return;
	}
	tp->cfg = *es_topic_config(tp->t);
	uint32_t np = tp->cfg.partitions;
	tp->parts = xcalloc(np, sizeof *tp->parts);
	for (uint32_t p = 0; p < np; p++)
		tp->parts[p].ts_off = UINT64_MAX;

	char **names;
	size_t ng;
	if ((rc = es_group_list(tp->t, &names, &ng, &err))) {
		char msg[600];
		snprintf(msg, sizeof msg, "topic '%s': cannot list groups: %s",
			 tp->name, err.msg[0] ? err.msg : es_strerror(rc));
		topic_fail(tp, cli_status(rc), "%s", msg);
		return;
	}
	tp->groups = xcalloc(ng, sizeof *tp->groups);
	for (size_t i = 0; i < ng; i++) {
		if (o.group && strcmp(o.group, names[i])) {
			free(names[i]);
			continue;
		}
		struct group *g = &tp->groups[tp->ngroups++];
		g->name = names[i];
		g->rows = xcalloc(np, sizeof *g->rows);
		int pids[1];
		if ((rc = es_group_members(tp->t, g->name, pids, 0, &g->members,
					   &err)))
			cli_warn("topic '%s': %s", tp->name, err.msg);
		/* A lock is held by a live member, or by the --exec handler
		 * of a dead one, which outlives it. */
		g->owners = xcalloc(np, sizeof *g->owners);
		es_group_owners(tp->t, g->name, locks, np, g->owners);
	}
	free(names);
	/* Partition by partition: its facts, then its groups, which share
	 * the segment the facts opened for their oldest unprocessed records;
	 * GROUP_BATCH groups at a time, each with its commits reader open (a
	 * buffer each), so that memory stays small however many groups. */
	uint64_t rmax = 0, bmax = 0;
	for (size_t g0 = 0; g0 == 0 || g0 < tp->ngroups; g0 += GROUP_BATCH) {
		size_t g1 = g0 + GROUP_BATCH < tp->ngroups ? g0 + GROUP_BATCH
							   : tp->ngroups;
		for (size_t k = g0; k < g1; k++) {
			struct group *g = &tp->groups[k];
			if ((rc = es_commits_open(tp->t, g->name, &g->commits, &err)))
				cli_warn("topic '%s': %s", tp->name, err.msg);
		}
		for (uint32_t p = 0; p < np; p++) {
			es_partition_info *pi = &tp->parts[p].pi;
			if ((rc = es_lookup_open(tp->t, p, g0 ? NULL : pi, &tp->look,
						 &err))) {
				tp->look = NULL;
				topic_fail(tp, cli_status(rc), "%s", err.msg);
				return;
			}
			if (!g0) {
				/* Where retention would keep from, were its
				 * limits RISK_MARGIN per cent less: records
				 * below are about to go. Once per partition. */
				tp->parts[p].kept_from = es_lookup_retained_from(
					tp->look, now_ms, 100 - RISK_MARGIN);
				uint64_t recs = pi->next_offset - pi->first_offset;
				tp->records += recs;
				tp->bytes += pi->bytes;
				if (recs > rmax) {
					rmax = recs;
					tp->hot = p;
				}
				if (pi->bytes > bmax)
					bmax = pi->bytes;
			}
			for (size_t k = g0; k < g1; k++)
				collect_row(tp, &tp->groups[k], p);
			es_lookup_close(tp->look);
			tp->look = NULL;
		}
		for (size_t k = g0; k < g1; k++) {
			es_commits_close(tp->groups[k].commits);
			tp->groups[k].commits = NULL;
		}
	}
	tp->rskew = tp->records ? (double)rmax * np / (double)tp->records : -1;
	tp->bskew = tp->bytes ? (double)bmax * np / (double)tp->bytes : -1;
}

static void close_topic(struct topic *tp)
{
	es_lookup_close(tp->look);
	tp->look = NULL;
	for (size_t g = 0; g < tp->ngroups; g++) {
		es_commits_close(tp->groups[g].commits);
		tp->groups[g].commits = NULL;
	}
	es_topic_close(tp->t);
	tp->t = NULL;
}

static void free_results(void)
{
	for (size_t i = 0; i < ntopics; i++) {
		struct topic *tp = &topics[i];
		for (size_t g = 0; g < tp->ngroups; g++) {
			free(tp->groups[g].name);
			free(tp->groups[g].rows);
			free(tp->groups[g].owners);
		}
		free(tp->groups);
		free(tp->parts);
		free(tp->error);
		tp->groups = NULL;
		tp->parts = NULL;
		tp->error = NULL;
		tp->ngroups = 0;
		tp->status = 0;
		tp->records = tp->bytes = 0;
	}
}

/* ---- thresholds ---------------------------------------------------------- */

struct verdict {
	int state;
	size_t rows, over, crit, groups;
	size_t status_count[ST_N];
	uint64_t max_lag;
	int64_t max_age;
	const struct topic *lag_t, *age_t;
	const char *lag_g, *age_g;
	uint32_t lag_p, age_p;
	const char *error; /* the first topic that could not be read */
	int error_status;
};

static int over(int64_t v, int64_t limit)
{
	return limit >= 0 && v > limit;
}

static void evaluate(struct verdict *v)
{
	memset(v, 0, sizeof *v);
	v->max_age = 0;
	int worst = CHK_OK;
	for (size_t i = 0; i < ntopics; i++) {
		struct topic *tp = &topics[i];
		if (tp->status) {
			if (!v->error) {
				v->error = tp->error;
				v->error_status = tp->status;
			}
			continue;
		}
		v->groups += tp->ngroups;
		for (size_t k = 0; k < tp->ngroups; k++) {
			struct group *g = &tp->groups[k];
			for (uint32_t p = 0; p < tp->cfg.partitions; p++) {
				struct row *r = &g->rows[p];
				if (!r->has_commit)
					continue;
				v->rows++;
				v->status_count[r->status]++;
				if (!v->lag_t || r->lag > v->max_lag) {
					v->max_lag = r->lag;
					v->lag_t = tp, v->lag_g = g->name, v->lag_p = p;
				}
				if (!v->age_t || r->age_ms > v->max_age) {
					v->max_age = r->age_ms;
					v->age_t = tp, v->age_g = g->name, v->age_p = p;
				}
				int64_t lag = r->lag > INT64_MAX ? INT64_MAX
								 : (int64_t)r->lag;
				unsigned bit = 1u << r->status;
				if (over(lag, o.crit_lag) || over(r->age_ms, o.crit_age) ||
				    (o.crit_st & bit))
					r->level = CHK_CRITICAL;
				else if (over(lag, o.warn_lag) ||
					 over(r->age_ms, o.warn_age) ||
					 (o.warn_st & bit))
					r->level = CHK_WARNING;
				else
					r->level = CHK_OK;
				if (r->level != CHK_OK)
					v->over++;
				if (r->level == CHK_CRITICAL)
					v->crit++;
				if (r->level == CHK_CRITICAL ||
				    (r->level == CHK_WARNING && worst != CHK_CRITICAL))
					worst = r->level;
			}
		}
	}
	if (o.group && !v->groups && !v->error) {
		static char msg[300];
		snprintf(msg, sizeof msg, "no group '%s'", o.group);
		v->error = msg;
		v->error_status = EX_NOINPUT_;
	}
	if (worst == CHK_OK && (v->error || (o.check && !ntopics)))
		worst = CHK_UNKNOWN;
	v->state = worst;
}

/* ---- formatting helpers -------------------------------------------------- */

static void bprintf(es_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void bprintf(es_buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof tmp) {
		if (es_buf_reserve(b, (size_t)n + 1))
			cli_die(EX_FAIL, "out of memory");
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
		b->len += (size_t)n;
		return;
	}
	if (es_buf_append(b, tmp, (size_t)n))
		cli_die(EX_FAIL, "out of memory");
}

static void bput(es_buf *b, const char *s)
{
	if (es_buf_append(b, s, strlen(s)))
		cli_die(EX_FAIL, "out of memory");
}

/* v in decimal at buf, NUL-terminated; the end. A table has a dozen
 * numbers a row and thousands of rows: snprintf was a fifth of the time. */
static char *put_u64(char *buf, uint64_t v)
{
	buf += es_u64_dec(buf, v);
	*buf = 0;
	return buf;
}

/* Two digits, then unit, at buf. */
static char *put_2(char *buf, unsigned v, char unit)
{
	*buf++ = (char)('0' + v / 10);
	*buf++ = (char)('0' + v % 10);
	*buf++ = unit;
	*buf = 0;
	return buf;
}

/* 45s, 3m12s, 2h05m, 3d04h; "-" when unknown. */
static void fmt_dur(char *buf, size_t cap, int64_t ms)
{
	(void)cap; /* 48: the longest is 20 digits and 4 more */
	if (ms < 0) {
		strcpy(buf, "-");
		return;
	}
	uint64_t s = (uint64_t)ms / 1000;
	char *e;
	if (s < 60) {
		e = put_u64(buf, s);
		*e++ = 's';
		*e = 0;
	} else if (s < 3600) {
		e = put_u64(buf, s / 60);
		*e++ = 'm';
		put_2(e, (unsigned)(s % 60), 's');
	} else if (s < 86400) {
		e = put_u64(buf, s / 3600);
		*e++ = 'h';
		put_2(e, (unsigned)(s / 60 % 60), 'm');
	} else {
		e = put_u64(buf, s / 86400);
		*e++ = 'd';
		put_2(e, (unsigned)(s / 3600 % 24), 'h');
	}
}

/* Seconds from ms, as short as exact: 75, 0.5, 1.25. */
static void fmt_secs(char *buf, size_t cap, int64_t ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, cap, "%" PRId64, ms / 1000);
	else {
		snprintf(buf, cap, "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
		char *e = buf + strlen(buf);
		while (e[-1] == '0')
			*--e = 0;
	}
}

static void fmt_rate(char *buf, size_t cap, double rate)
{
	if (rate < 0)
		strcpy(buf, "-");
	else
		snprintf(buf, cap, rate < 100 ? "%.1f" : "%.0f", rate);
}

static void fmt_u64(char *buf, size_t cap, int known, uint64_t v)
{
	(void)cap;
	if (known)
		put_u64(buf, v);
	else
		strcpy(buf, "-");
}

static void fmt_owner(char *buf, size_t cap, int owner)
{
	(void)cap;
	if (owner > 0)
		put_u64(buf, (uint64_t)owner);
	else
		strcpy(buf, owner < 0 ? "?" : "-");
}

static void fmt_skew(char *buf, size_t cap, double skew)
{
	if (skew < 0)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.2f", skew);
}

/* ---- the table ----------------------------------------------------------- */

#define MAXCOL 14

struct table {
	size_t ncol, nrows, cap;
	const char *const *head;
	const char *right; /* 'r' per right-aligned column */
	int status_col;	   /* -1: none */
	size_t *cells;	   /* where each cell's text starts in text */
	es_buf text;	   /* the cells, each NUL-terminated */
	size_t w[MAXCOL];  /* column widths so far */
};

/* A row: cells[c] is names[c] when that is set (names are not cut). */
static void tab_row(struct table *t, char cells[][48], const char *const *names)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->cells = realloc(t->cells, t->cap * t->ncol * sizeof *t->cells);
		if (!t->cells)
			cli_die(EX_FAIL, "out of memory");
	}
	for (size_t c = 0; c < t->ncol; c++) {
		const char *s = names && names[c] ? names[c] : cells[c];
		size_t l = strlen(s);
		t->cells[t->nrows * t->ncol + c] = t->text.len;
		if (es_buf_append(&t->text, s, l + 1))
			cli_die(EX_FAIL, "out of memory");
		if (l > t->w[c])
			t->w[c] = l;
	}
	t->nrows++;
}

static int find_status(const char *s)
{
	for (int i = 0; i < ST_N; i++)
		if (!strcmp(s, st_name[i]))
			return i;
	return -1;
}

/* Aligned on a terminal, tab-separated otherwise; the status column
 * coloured when asked. Long names (topics, groups) stay whole. */
static void tab_render(es_buf *b, struct table *t)
{
	size_t *w = t->w;
	for (size_t c = 0; c < t->ncol; c++)
		if (strlen(t->head[c]) > w[c])
			w[c] = strlen(t->head[c]);
	for (size_t i = 0; i <= t->nrows; i++) {
		for (size_t c = 0; c < t->ncol; c++) {
			const char *s = i ? t->text.data + t->cells[(i - 1) * t->ncol + c]
					  : t->head[c];
			int last = c + 1 == t->ncol;
			if (!o.tty) {
				bput(b, s);
				bput(b, last ? "\n" : "\t");
				continue;
			}
			int pad = (int)(w[c] - strlen(s));
			int st = i && (int)c == t->status_col ? find_status(s) : -1;
			if (t->right[c] == 'r')
				bprintf(b, "%*s", pad, "");
			if (st >= 0 && o.colour)
				bprintf(b, "\033[%sm%s\033[0m", st_colour[st], s);
			else
				bput(b, s);
			if (last)
				bput(b, "\n");
			else
				bprintf(b, "%*s", t->right[c] == 'r' ? 2 : pad + 2, "");
		}
	}
	free(t->cells);
	es_buf_free(&t->text);
	t->cells = NULL;
	t->nrows = t->cap = 0;
	memset(t->w, 0, sizeof t->w);
}

static void render_table(es_buf *b)
{
	static const char *const h1[] = {
		"GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET",
		"LAG", "AGE", "LAST-COMMIT", "OWNER", "RATE", "ETA", "STATUS"};
	static const char *const h2[] = {"GROUP", "TOPIC", "MEMBERS", "LAG",
					 "MAX-AGE", "RETRIES", "RETRIES/MIN",
					 "DEAD-LETTERS", "STATUS"};
	static const char *const h3[] = {"TOPIC", "PARTITIONS", "RECORDS",
					 "BYTES", "RECORDS-SKEW", "BYTES-SKEW",
					 "HOT-PARTITION"};
	struct table t1 = {12, 0, 0, h1, "llrrrrrrrrrl", 11, NULL, {0}, {0}};
	struct table t2 = {9, 0, 0, h2, "llrrrrrrl", 8, NULL, {0}, {0}};
	struct table t3 = {7, 0, 0, h3, "lrrrrrr", -1, NULL, {0}, {0}};
	char c[MAXCOL][48];
	for (size_t i = 0; i < ntopics; i++) {
		struct topic *tp = &topics[i];
		if (tp->status)
			continue;
		uint32_t np = tp->cfg.partitions;
		for (size_t k = 0; k < tp->ngroups; k++) {
			struct group *g = &tp->groups[k];
			const char *names[MAXCOL] = {g->name, tp->name};
			for (uint32_t p = 0; p < np; p++) {
				struct row *r = &g->rows[p];
				int h = r->has_commit;
				put_u64(c[2], p);
				fmt_u64(c[3], 48, h, r->committed);
				fmt_u64(c[4], 48, 1, tp->parts[p].pi.next_offset);
				fmt_u64(c[5], 48, h, r->lag);
				fmt_dur(c[6], 48, h ? r->age_ms : -1);
				fmt_dur(c[7], 48, r->since_commit_ms);
				fmt_owner(c[8], 48, r->owner);
				fmt_rate(c[9], 48, r->rate);
				fmt_dur(c[10], 48, r->eta_ms);
				strcpy(c[11], st_name[r->status]);
				tab_row(&t1, c, names);
			}
			snprintf(c[2], 48, "%zu", g->members);
			snprintf(c[3], 48, "%" PRIu64, g->lag);
			fmt_dur(c[4], 48, g->max_age);
			snprintf(c[5], 48, "%" PRIu64, g->retries);
			snprintf(c[6], 48, "%.1f", g->retry_rate);
			snprintf(c[7], 48, "%" PRIu64, g->dead);
			snprintf(c[8], 48, "%s", st_name[g->status]);
			tab_row(&t2, c, names);
		}
		const char *tname[MAXCOL] = {tp->name};
		snprintf(c[1], 48, "%u", np);
		snprintf(c[2], 48, "%" PRIu64, tp->records);
		snprintf(c[3], 48, "%" PRIu64, tp->bytes);
		fmt_skew(c[4], 48, tp->rskew);
		fmt_skew(c[5], 48, tp->bskew);
		snprintf(c[6], 48, "%u", tp->hot);
		tab_row(&t3, c, tname);
	}
	tab_render(b, &t1);
	bput(b, "\n");
	tab_render(b, &t2);
	bput(b, "\n");
	tab_render(b, &t3);
}

/* ---- JSON ---------------------------------------------------------------- */

static void jstr(es_buf *b, const char *s)
{
	if (es_json_append_name(b, s))
		cli_die(EX_FAIL, "out of memory");
}

static void jsecs(es_buf *b, const char *key, int64_t ms)
{
	if (ms < 0)
		bprintf(b, ",\"%s\":null", key);
	else
		bprintf(b, ",\"%s\":%" PRId64 ".%03" PRId64, key, ms / 1000,
			ms % 1000);
}

static void render_json(es_buf *b, const struct verdict *v)
{
	/* The worst status of any partition. */
	int worst = ST_OK;
	for (int s = 0; s < ST_N; s++)
		if (v->status_count[s])
			worst = s;
	bprintf(b, "{\"time\":%" PRId64 ",\"status\":\"%s\"", now_ms,
		st_name[worst]);
	if (o.check)
		bprintf(b, ",\"check\":\"%s\"", chk_name[v->state]);
	bput(b, ",\"topics\":[");
	int first = 1;
	for (size_t i = 0; i < ntopics; i++) {
		struct topic *tp = &topics[i];
		bput(b, first ? "{\"topic\":" : ",{\"topic\":");
		first = 0;
		jstr(b, tp->name);
		if (tp->status) {
			bput(b, ",\"error\":");
			jstr(b, tp->error);
			bput(b, "}");
			continue;
		}
		uint32_t np = tp->cfg.partitions;
		bprintf(b, ",\"partitions\":%u,\"records\":%" PRIu64
			   ",\"bytes\":%" PRIu64, np, tp->records, tp->bytes);
		if (tp->rskew < 0)
			bput(b, ",\"records_skew\":null,\"bytes_skew\":null");
		else
			bprintf(b, ",\"records_skew\":%.3f,\"bytes_skew\":%.3f",
				tp->rskew, tp->bskew < 0 ? 0 : tp->bskew);
		bprintf(b, ",\"hot_partition\":%u,\"partition_stats\":[", tp->hot);
		for (uint32_t p = 0; p < np; p++) {
			es_partition_info *pi = &tp->parts[p].pi;
			bprintf(b, "%s{\"partition\":%u,\"first_offset\":%" PRIu64
				   ",\"log_end_offset\":%" PRIu64 ",\"records\":%" PRIu64
				   ",\"bytes\":%" PRIu64 ",\"segments\":%u}",
				p ? "," : "", p, pi->first_offset, pi->next_offset,
				pi->next_offset - pi->first_offset, pi->bytes,
				pi->segments);
		}
		bput(b, "],\"groups\":[");
		for (size_t k = 0; k < tp->ngroups; k++) {
			struct group *g = &tp->groups[k];
			bput(b, k ? ",{\"group\":" : "{\"group\":");
			jstr(b, g->name);
			bprintf(b, ",\"members\":%zu,\"status\":\"%s\",\"lag\":%" PRIu64,
				g->members, st_name[g->status], g->lag);
			jsecs(b, "max_age_seconds", g->max_age);
			bprintf(b, ",\"retries\":%" PRIu64 ",\"retries_per_minute\":%.1f"
				   ",\"dead_letters\":%" PRIu64 ",\"partitions\":[",
				   g->retries, g->retry_rate, g->dead);
			for (uint32_t p = 0; p < np; p++) {
				struct row *r = &g->rows[p];
				bprintf(b, "%s{\"partition\":%u", p ? "," : "", p);
				if (r->has_commit)
					bprintf(b, ",\"current_offset\":%" PRIu64
						   ",\"lag\":%" PRIu64, r->committed, r->lag);
				else
					bput(b, ",\"current_offset\":null,\"lag\":null");
				bprintf(b, ",\"log_end_offset\":%" PRIu64,
					tp->parts[p].pi.next_offset);
				jsecs(b, "age_seconds", r->has_commit ? r->age_ms : -1);
				jsecs(b, "last_commit_seconds", r->since_commit_ms);
				if (r->commit_ts >= 0)
					bprintf(b, ",\"last_commit_time\":%" PRId64,
						r->commit_ts);
				else
					bput(b, ",\"last_commit_time\":null");
				if (r->owner > 0)
					bprintf(b, ",\"owner\":%d", r->owner);
				else
					bprintf(b, ",\"owner\":null");
				bprintf(b, ",\"owned\":%s", r->owner ? "true" : "false");
				if (r->rate >= 0)
					bprintf(b, ",\"rate\":%.3f", r->rate);
				else
					bput(b, ",\"rate\":null");
				jsecs(b, "eta_seconds", r->eta_ms);
				uint64_t fo = tp->parts[p].pi.first_offset;
				bprintf(b, ",\"lost_records\":%" PRIu64,
					r->status == ST_LOST ? fo - r->committed : 0);
				bprintf(b, ",\"retries\":%" PRIu64 ",\"dead_letters\":%" PRIu64
					   ",\"status\":\"%s\"}", r->retries, r->dead,
					st_name[r->status]);
			}
			bput(b, "]}");
		}
		bput(b, "]}");
	}
	bput(b, "]}\n");
}

/* ---- Prometheus ----------------------------------------------------------- */

/* A label; the format wants UTF-8, so a name that is not gets '?' for
 * its other bytes. */
static void plabel(es_buf *b, const char *name, const char *v)
{
	int utf8 = es_utf8_valid(v, strlen(v));
	bprintf(b, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			bprintf(b, "\\%c", *v);
		else if (*v == '\n')
			bput(b, "\\n");
		else if (!utf8 && (unsigned char)*v >= 0x80)
			bput(b, "?");
		else if (es_buf_append(b, v, 1))
			cli_die(EX_FAIL, "out of memory");
	}
	bput(b, "\"");
}

static void phead(es_buf *b, const char *name, const char *type,
		  const char *help)
{
	bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prow_labels(es_buf *b, const char *metric, const struct topic *tp,
			const char *group, int64_t p)
{
	bprintf(b, "%s{", metric);
	plabel(b, "topic", tp->name);
	if (group) {
		bput(b, ",");
		plabel(b, "group", group);
	}
	if (p >= 0)
		bprintf(b, ",partition=\"%" PRId64 "\"", p);
}

enum { M_LAG, M_AGE, M_COMMITTED, M_COMMIT_TIME, M_RATE, M_ETA, M_OWNED,
       M_RETRIES, M_DEAD, M_NROW };

static void render_prom(es_buf *b)
{
	static const char *const meta[M_NROW][3] = {
		{"es_consumer_lag_records", "gauge",
		 "Records between the group's committed offset and the log end offset."},
		{"es_consumer_lag_seconds", "gauge",
		 "Age of the oldest unprocessed record, by its timestamp; 0 without lag."},
		{"es_consumer_committed_offset", "gauge",
		 "The group's committed offset: the next offset it will process."},
		{"es_consumer_last_commit_timestamp_seconds", "gauge",
		 "When the group last committed, in seconds since the epoch."},
		{"es_consumer_rate_records_per_second", "gauge",
		 "Records the group committed per second over its recent commit history."},
		{"es_consumer_eta_seconds", "gauge",
		 "Estimated time for the group to catch up, while it gains on the producers."},
		{"es_consumer_owned", "gauge",
		 "1 when a live member of the group owns the partition, else 0."},
		{"es_consumer_retries_total", "counter",
		 "Handler attempts after a failure (es-consume --exec), in all."},
		{"es_consumer_dead_letters_total", "counter",
		 "Records sent to the dead-letter topic, in all."},
	};
	for (int m = 0; m < M_NROW; m++) {
		phead(b, meta[m][0], meta[m][1], meta[m][2]);
		for (size_t i = 0; i < ntopics; i++) {
			struct topic *tp = &topics[i];
			for (size_t k = 0; !tp->status && k < tp->ngroups; k++) {
				struct group *g = &tp->groups[k];
				for (uint32_t p = 0; p < tp->cfg.partitions; p++) {
					struct row *r = &g->rows[p];
					if (!r->has_commit && m != M_OWNED)
						continue;
					if ((m == M_AGE && r->age_ms < 0) ||
					    (m == M_RATE && r->rate < 0) ||
					    (m == M_ETA && r->eta_ms < 0))
						continue;
					prow_labels(b, meta[m][0], tp, g->name, p);
					bput(b, "} ");
					switch (m) {
					case M_LAG: bprintf(b, "%" PRIu64, r->lag); break;
					case M_AGE: bprintf(b, "%.3f", (double)r->age_ms / 1000); break;
					case M_COMMITTED: bprintf(b, "%" PRIu64, r->committed); break;
					case M_COMMIT_TIME:
						bprintf(b, "%.3f", (double)r->commit_ts / 1000);
						break;
					case M_RATE: bprintf(b, "%.3f", r->rate); break;
					case M_ETA: bprintf(b, "%.3f", (double)r->eta_ms / 1000); break;
					case M_OWNED: bput(b, r->owner ? "1" : "0"); break;
					case M_RETRIES: bprintf(b, "%" PRIu64, r->retries); break;
					case M_DEAD: bprintf(b, "%" PRIu64, r->dead); break;
					}
					bput(b, "\n");
				}
			}
		}
	}
	phead(b, "es_consumer_status", "gauge",
	      "1 for the partition's status (OK, LAGGING, STALLED, STOPPED, AT-RISK, LOST), 0 for the others.");
	for (size_t i = 0; i < ntopics; i++) {
		struct topic *tp = &topics[i];
		for (size_t k = 0; !tp->status && k < tp->ngroups; k++) {
			struct group *g = &tp->groups[k];
			for (uint32_t p = 0; p < tp->cfg.partitions; p++)
				for (int s = 0; s < ST_N; s++) {
					prow_labels(b, "es_consumer_status", tp, g->name, p);
					bprintf(b, ",status=\"%s\"} %d\n", st_name[s],
						g->rows[p].status == s);
				}
		}
	}
	phead(b, "es_consumer_group_members", "gauge",
	      "Live members of the group.");
	for (size_t i = 0; i < ntopics; i++) {
		struct topic *tp = &topics[i];
		for (size_t k = 0; !tp->status && k < tp->ngroups; k++) {
			prow_labels(b, "es_consumer_group_members", tp,
				    tp->groups[k].name, -1);
			bprintf(b, "} %zu\n", tp->groups[k].members);
		}
	}
	static const char *const pmeta[4][2] = {
		{"es_partition_end_offset", "The log end offset: the offset of the next record appended."},
		{"es_partition_first_offset", "The first retained offset."},
		{"es_partition_records", "Records retained: log end offset minus first offset."},
		{"es_partition_size_bytes", "Bytes of the partition's segment and index files."},
	};
	for (int m = 0; m < 4; m++) {
		phead(b, pmeta[m][0], "gauge", pmeta[m][1]);
		for (size_t i = 0; i < ntopics; i++) {
			struct topic *tp = &topics[i];
			for (uint32_t p = 0; !tp->status && p < tp->cfg.partitions; p++) {
				es_partition_info *pi = &tp->parts[p].pi;
				uint64_t v = m == 0 ? pi->next_offset
					   : m == 1 ? pi->first_offset
					   : m == 2 ? pi->next_offset - pi->first_offset
						    : pi->bytes;
				prow_labels(b, pmeta[m][0], tp, NULL, p);
				bprintf(b, "} %" PRIu64 "\n", v);
			}
		}
	}
	phead(b, "es_topic_partition_skew_ratio", "gauge",
	      "The largest partition over the mean partition, by records or by bytes.");
	for (size_t i = 0; i < ntopics; i++) {
		struct topic *tp = &topics[i];
		if (tp->status)
			continue;
		for (int m = 0; m < 2; m++) {
			double v = m ? tp->bskew : tp->rskew;
			prow_labels(b, "es_topic_partition_skew_ratio", tp, NULL, -1);
			bprintf(b, ",by=\"%s\"} %.3f\n", m ? "bytes" : "records",
				v < 0 ? 1.0 : v);
		}
	}
}

/* ---- the check's summary line ----------------------------------------------- */

static void perf(es_buf *b, const char *label, const char *value,
		 const char *uom, int64_t warn, int64_t crit, int secs)
{
	char w[32] = "", c[32] = "";
	if (warn >= 0) {
		if (secs)
			fmt_secs(w, sizeof w, warn);
		else
			snprintf(w, sizeof w, "%" PRId64, warn);
	}
	if (crit >= 0) {
		if (secs)
			fmt_secs(c, sizeof c, crit);
		else
			snprintf(c, sizeof c, "%" PRId64, crit);
	}
	bprintf(b, "%s=%s%s;%s;%s;0", label, value, uom, w, c);
}

static void render_summary(es_buf *b, const struct verdict *v)
{
	bprintf(b, "ES-LAG %s - ", chk_name[v->state]);
	const char *sep = "";
	if (v->state == CHK_UNKNOWN) {
		bput(b, v->error ? v->error : "no topics");
		sep = ", ";
	}
	if (v->rows || v->state != CHK_UNKNOWN) {
		if (v->over)
			bprintf(b, "%s%zu of %zu partitions over thresholds", sep,
				v->over, v->rows);
		else
			bprintf(b, "%s%zu partitions of %zu groups within thresholds",
				sep, v->rows, v->groups);
		if (v->crit && v->crit != v->over)
			bprintf(b, " (%zu critical)", v->crit);
		bprintf(b, ", max lag %" PRIu64, v->max_lag);
		if (v->lag_t && v->max_lag)
			bprintf(b, " (%s/%s/%u)", v->lag_t->name, v->lag_g, v->lag_p);
		char d[32];
		fmt_dur(d, sizeof d, v->max_age);
		bprintf(b, ", max age %s", d);
		if (v->age_t && v->max_age >= 1000)
			bprintf(b, " (%s/%s/%u)", v->age_t->name, v->age_g, v->age_p);
		for (int s = ST_N - 1; s > ST_OK; s--)
			if (v->status_count[s])
				bprintf(b, ", %zu %s", v->status_count[s], st_name[s]);
	}
	if (v->error && v->state != CHK_UNKNOWN)
		bprintf(b, ", %s", v->error);
	if (v->rows) {
		char lag[32], age[32];
		snprintf(lag, sizeof lag, "%" PRIu64, v->max_lag);
		fmt_secs(age, sizeof age, v->max_age / 1000 * 1000);
		bput(b, " | ");
		perf(b, "lag", lag, "", o.warn_lag, o.crit_lag, 0);
		bput(b, " ");
		perf(b, "age", age, "s", o.warn_age, o.crit_age, 1);
	}
	bput(b, "\n");
}

/* ---- output ---------------------------------------------------------------- */

/* Write FILE.tmp.PID, sync it, rename it over FILE: a reader (node_exporter's
 * textfile collector) sees the old file or the new one, whole. 0, -errno
 * when the file cannot be created, or an errno. */
static int write_atomic(const char *file, const es_buf *b)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", file, (int)getpid()) >=
	    (int)sizeof tmp)
		return ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int rc = es_write_all(fd, b->data, b->len);
	if (!rc && fsync(fd) != 0)
		rc = errno;
	if (close(fd) != 0 && !rc)
		rc = errno;
	if (!rc && rename(tmp, file) != 0)
		rc = errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* Copy a frame for the terminal: at most rows lines of at most cols
 * columns (colour sequences take none), each line cleared to its end, the
 * rest of the screen cleared, no newline after the last line: nothing
 * scrolls, nothing blinks. */
static void screen_frame(es_buf *out, const es_buf *f, int rows, int cols)
{
	bput(out, "\033[H");
	const char *p = f->data, *end = f->data + f->len;
	for (int row = 0; row < rows && p < end; row++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		int col = 0;
		for (const char *q = p; q < le;) {
			if (*q == '\033') {
				const char *m = memchr(q, 'm', (size_t)(le - q));
				m = m ? m + 1 : le;
				es_buf_append(out, q, (size_t)(m - q));
				q = m;
				continue;
			}
			if (((unsigned char)*q & 0xc0) != 0x80 && col++ >= cols) {
				q++;
				continue;
			}
			if (col <= cols)
				es_buf_append(out, q, 1);
			q++;
		}
		bput(out, "\033[0m\033[K");
		p = nl ? nl + 1 : end;
		if (row + 1 < rows && p < end)
			bput(out, "\n");
	}
	bput(out, "\033[J");
}

/* Topics are independent: a worker per core takes the next one. Most of
 * the time goes to system calls (opening commit and lock files), so two
 * cores take half the time. */
static atomic_size_t next_topic;

static void *worker(void *arg)
{
	(void)arg;
	size_t i;
	while ((i = atomic_fetch_add(&next_topic, 1)) < ntopics) {
		collect_topic(&topics[i]);
		close_topic(&topics[i]);
	}
	return NULL;
}

static void collect_all(void)
{
	pthread_t th[7];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = cpus > 1 ? (size_t)cpus - 1 : 0, started = 0;
	if (n > 7)
		n = 7;
	if (n >= ntopics)
		n = ntopics ? ntopics - 1 : 0;
	atomic_store(&next_topic, 0);
	es_locktable_read(&locks);
	for (size_t i = 0; i < n; i++)
		if (pthread_create(&th[started], NULL, worker, NULL) == 0)
			started++;
	worker(NULL);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	es_locktable_free(locks);
	locks = NULL;
}

static int readable(void)
{
	for (size_t i = 0; i < ntopics; i++)
		if (!topics[i].status)
			return 1;
	return 0;
}

static void frame(es_buf *b, struct verdict *v)
{
	now_ms = cli_wall_ms();
	free_results();
	collect_all();
	evaluate(v);
	b->len = 0;
	if (o.json)
		render_json(b, v);
	else if (o.prom)
		render_prom(b);
	else if (o.check)
		render_summary(b, v);
	else if ((ntopics == 0 || readable()) && !(o.group && !v->groups))
		render_table(b);
}

static void emit(const es_buf *b, int first)
{
	if (o.output) {
		int rc = write_atomic(o.output, b);
		if (rc < 0)
			cli_die(EX_CANTCREAT_, "cannot create '%s.tmp.%d': %s",
				o.output, (int)getpid(), strerror(-rc));
		if (rc)
			cli_die(EX_IOERR_, "cannot write '%s': %s", o.output,
				strerror(rc));
		return;
	}
	if (!o.watch || !o.tty) {
		if (o.watch && !first)
			out_str("\n");
		out_write(b->data, b->len);
		if (o.watch)
			out_flush();
		return;
	}
	struct winsize ws;
	int rows = 24, cols = 80;
	if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
		rows = ws.ws_row, cols = ws.ws_col;
	static es_buf screen;
	screen.len = 0;
	if (first)
		bput(&screen, "\033[?25l\033[H\033[2J");
	/* A title line, as watch(1) has, that shows the frame is fresh. */
	es_buf f = {0};
	time_t s = (time_t)(now_ms / 1000);
	struct tm tm;
	char when[32], every[32];
	localtime_r(&s, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
	fmt_secs(every, sizeof every, o.watch_ms);
	int pad = cols - 15 - (int)strlen(every); /* the time at the right */
	bprintf(&f, "Every %ss: es-lag%*s\n\n", every, pad > 21 ? pad : 21, when);
	es_buf_append(&f, b->data, b->len);
	while (f.len && f.data[f.len - 1] == '\n')
		f.len--;
	screen_frame(&screen, &f, rows, cols);
	es_buf_free(&f);
	out_write(screen.data, screen.len);
	out_flush();
}

static unsigned parse_statuses(const char *s)
{
	unsigned bits = 0;
	char *copy = xstrdup(s), *save = NULL;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		int st = find_status(w);
		if (st < 0)
			cli_usage_error("bad status '%s' (OK, LAGGING, STALLED, "
					"STOPPED, AT-RISK, LOST)", w);
		bits |= 1u << st;
	}
	free(copy);
	if (!bits)
		cli_usage_error("empty status list");
	return bits;
}

static int64_t parse_count(const char *s, const char *what)
{
	uint64_t v;
	if (cli_parse_u64(s, &v) || v > INT64_MAX)
		cli_usage_error("bad %s '%s'", what, s);
	return (int64_t)v;
}

static int64_t parse_dur(const char *s, const char *what)
{
	int64_t ms;
	if (es_parse_duration(s, &ms) || ms < 0)
		cli_usage_error("bad %s '%s' (a duration: 90s, 5m, 1h)", what, s);
	return ms;
}

/* --watch's SEC: seconds, fractions allowed, or a duration. */
static int parse_interval(const char *s, int64_t *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end != s && !*end && !errno && v >= 0.1 && v <= 86400 &&
	    s[0] >= '0' && s[0] <= '9') {
		*ms = (int64_t)(v * 1000 + 0.5);
		return 0;
	}
	if (s[0] >= '0' && s[0] <= '9' && !es_parse_duration(s, ms) && *ms >= 100)
		return 0;
	return -1;
}

enum { OPT_PROM = 256, OPT_STALL, OPT_WATCH, OPT_WARN_LAG, OPT_CRIT_LAG,
       OPT_WARN_AGE, OPT_CRIT_AGE, OPT_WARN_ST, OPT_CRIT_ST, OPT_VERSION };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"group", required_argument, 0, 'g'},
		{"json", no_argument, 0, 'J'},
		{"prometheus", no_argument, 0, OPT_PROM},
		{"output", required_argument, 0, 'o'},
		{"stall", required_argument, 0, OPT_STALL},
		{"watch", optional_argument, 0, OPT_WATCH},
		{"warn-lag", required_argument, 0, OPT_WARN_LAG},
		{"crit-lag", required_argument, 0, OPT_CRIT_LAG},
		{"warn-age", required_argument, 0, OPT_WARN_AGE},
		{"crit-age", required_argument, 0, OPT_CRIT_AGE},
		{"warn-status", required_argument, 0, OPT_WARN_ST},
		{"crit-status", required_argument, 0, OPT_CRIT_ST},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, OPT_VERSION},
		{0, 0, 0, 0},
	};
	cli_init("es-lag");
	cli_signals();
	int ch;
	while ((ch = getopt_long(argc, argv, "g:Jo:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'g':
			if (!es_group_name_ok(optarg))
				cli_usage_error("bad group name '%s'", optarg);
			o.group = optarg;
			break;
		case 'J': o.json = 1; break;
		case OPT_PROM: o.prom = 1; break;
		case 'o': o.output = optarg; break;
		case OPT_STALL: o.stall_ms = parse_dur(optarg, "--stall"); break;
		case OPT_WATCH:
			o.watch = 1;
			/* --watch SEC as well as --watch=SEC */
			if (!optarg && optind < argc &&
			    !parse_interval(argv[optind], &o.watch_ms))
				optind++;
			else if (optarg && parse_interval(optarg, &o.watch_ms))
				cli_usage_error("bad --watch interval '%s'", optarg);
			break;
		case OPT_WARN_LAG: o.warn_lag = parse_count(optarg, "--warn-lag"); break;
		case OPT_CRIT_LAG: o.crit_lag = parse_count(optarg, "--crit-lag"); break;
		case OPT_WARN_AGE: o.warn_age = parse_dur(optarg, "--warn-age"); break;
		case OPT_CRIT_AGE: o.crit_age = parse_dur(optarg, "--crit-age"); break;
		case OPT_WARN_ST: o.warn_st = parse_statuses(optarg); break;
		case OPT_CRIT_ST: o.crit_st = parse_statuses(optarg); break;
		case 'h': fputs(usage, stdout); return 0;
		case OPT_VERSION: cli_version();
		default: cli_usage_error("bad option");
		}
	}
	if (o.json && o.prom)
		cli_usage_error("-J and --prometheus are exclusive");
	o.check = o.warn_lag >= 0 || o.crit_lag >= 0 || o.warn_age >= 0 ||
		  o.crit_age >= 0 || o.warn_st || o.crit_st;
	o.tty = !o.output && isatty(1);
	const char *nc = getenv("NO_COLOR");
	o.colour = o.tty && !(nc && *nc);
	if (optind < argc) {
		for (int i = optind; i < argc; i++)
			add_topic(argv[i], cli_topic_path(argv[i]));
	} else {
		const char *dir = getenv("ES_DIR");
		if (!dir || !*dir)
			dir = ".";
		struct stat st;
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			if (o.check) {
				cli_error("no directory '%s'", dir);
				out_printf("ES-LAG UNKNOWN - no directory '%s'\n", dir);
				out_finish();
				return CHK_UNKNOWN;
			}
			cli_die(EX_NOINPUT_, "no directory '%s'", dir);
		}
		cli_find_topics(dir, found_topic, NULL);
	}
	es_buf b = {0};
	struct verdict v;
	for (int first = 1;; first = 0) {
		frame(&b, &v);
		for (size_t i = 0; i < ntopics && (first || !o.watch); i++)
			if (topics[i].status)
				cli_error("%s", topics[i].error);
		if (first && v.error && v.error_status && o.group && !v.groups &&
		    readable())
			cli_error("%s", v.error);
		emit(&b, first);
		if (!o.watch)
			break;
		if (out_error())
			cli_die(EX_IOERR_, "cannot write to standard output: %s",
				strerror(out_error()));
		/* Sleep to the next frame; SIGINT/SIGTERM cut it short. */
		struct timespec ts = {o.watch_ms / 1000, o.watch_ms % 1000 * 1000000};
		while (!cli_signal && nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		if (cli_signal)
			break;
	}
	if (o.watch && o.tty) {
		out_str("\033[?25h\n");
		out_flush();
	}
	int status = 0;
	if (o.check)
		status = v.state;
	else if (v.error)
		status = v.error_status;
	free_results();
	es_buf_free(&b);
	if (cli_signal)
		cli_exit(status);
	out_finish();
	return status;
}
