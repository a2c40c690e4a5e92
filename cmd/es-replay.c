/* es-replay.c - move a consumer group's committed offsets, with a plan first
 *
 * With --execute the plan (target offset per partition) is first written
 * durably to the group's replay.plan, then applied partition by partition
 * under the replay lock, then removed. A run that finds a plan left by an
 * interrupted one finishes it first, so running the same command again
 * after an interruption ends at the same offsets (--shift included). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
	"Usage: es-replay -g GROUP [--to earliest|latest|N | --to-time TIME |\n"
	"                 --shift +-N] [-p LIST] [--execute] [--wait] TOPIC\n"
	"Plan (and with --execute, apply) a new committed offset for each\n"
	"partition of GROUP.\n"
	"\n"
	"  -g, --group GROUP  the consumer group\n"
	"      --to POS       earliest, latest, or an offset N (default earliest)\n"
	"      --to-time TIME the first record at or after TIME\n"
	"      --shift +-N    move by N records (back with -N: replay them)\n"
	"  -p LIST            only these partitions (0,3,5 or 1-3)\n"
	"      --execute      apply the plan (without it, only print it)\n"
	"      --wait         wait for the group's members to go\n"
	"      --timeout D    give up waiting after D (exit 75)\n"
	"  -J                 the plan as JSON\n"
	"  -h, --help         this help\n"
	"      --version      version\n";

enum { OPT_TO = 256, OPT_TO_TIME, OPT_SHIFT, OPT_EXECUTE, OPT_WAIT,
       OPT_TIMEOUT, OPT_VERSION };

struct row {
	uint32_t p;
	uint64_t now;	 /* ES_NO_OFFSET: no commit */
	uint64_t after;
	uint64_t first, end;
	int clamped;
	double rate; /* records/s from the commit history; 0 unknown */
};

static void fmt_duration(double s, char *buf, size_t cap)
{
	if (s < 0) {
		snprintf(buf, cap, "unknown");
		return;
	}
	uint64_t v = (uint64_t)(s + 0.5);
	if (v < 60)
		snprintf(buf, cap, "%" PRIu64 "s", v);
	else if (v < 3600)
		snprintf(buf, cap, "%" PRIu64 "m%02" PRIu64 "s", v / 60, v % 60);
	else
		snprintf(buf, cap, "%" PRIu64 "h%02" PRIu64 "m", v / 3600,
			 v / 60 % 60);
}

/* Records/s over the recent commit history (the last 10 minutes of it, and
 * only since the last time the offset went back, as after a replay), or 0
 * when there is none. */
static double history_rate(const es_commit_info *ci)
{
	if (ci->nhist < 2)
		return 0;
	const es_commit_point *b = &ci->hist[ci->nhist - 1];
	uint32_t i = ci->nhist - 1;
	while (i > 0 && ci->hist[i - 1].offset <= ci->hist[i].offset &&
	       b->time_ms - ci->hist[i - 1].time_ms <= 600000)
		i--;
	const es_commit_point *a = &ci->hist[i];
	if (b->time_ms <= a->time_ms || b->offset <= a->offset)
		return 0;
	return (double)(b->offset - a->offset) * 1000.0 /
	       (double)(b->time_ms - a->time_ms);
}

/* The offset of the first record at or after ts, or the end. */
static uint64_t offset_at_time(es_topic *t, uint32_t p, int64_t ts,
			       uint64_t end)
{
	es_reader *r;
	es_error err = {{0}};
	int rc = es_reader_open(t, p, &r, &err);
	if (!rc)
		rc = es_reader_seek_time(r, ts, &err);
	es_record rec;
	uint64_t off = end;
	if (!rc && (rc = es_reader_next(r, end, &rec, &err)) == 1)
		off = rec.offset;
	es_reader_close(r);
	if (rc < 0)
		cli_die(cli_status(rc), "%s", err.msg);
	return off;
}

/* replay.plan: "es-replay plan 2", the request, then "P OFFSET BEFORE"
 * lines (BEFORE: the commit when planned, "-" for none; version 1 had no
 * BEFORE). */
static int plan_path(char *buf, size_t cap, const char *topic,
		     const char *group)
{
	return snprintf(buf, cap, "%s/groups/%s/replay.plan", topic, group) >=
	       (int)cap;
}

static void write_plan(const char *path, const char *req, struct row *rows,
		       uint32_t n)
{
	char tmp[4300];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		cli_die(EX_CANTCREAT_, "cannot write '%s': %s", tmp, strerror(errno));
	fprintf(f, "es-replay plan 2\n%s\n", req);
	for (uint32_t i = 0; i < n; i++) {
		fprintf(f, "%u %" PRIu64, rows[i].p, rows[i].after);
		if (rows[i].now == ES_NO_OFFSET)
			fprintf(f, " -\n");
		else
			fprintf(f, " %" PRIu64 "\n", rows[i].now);
	}
	fprintf(f, "end\n");
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 ||
	    rename(tmp, path) != 0)
		cli_die(EX_IOERR_, "cannot write '%s': %s", path, strerror(errno));
	char dir[4300];
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = 0;
	FILE *d = fopen(dir, "r");
	if (d) {
		fsync(fileno(d));
		fclose(d);
	}
}

/* Apply a plan file; returns 1 if there was one (a complete one). A plan
 * left by another run (left) is checked against the group's commits. */
static int apply_plan(es_topic *t, const char *group, const char *path,
		      int left, char *req, size_t reqcap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[512];
	int v2 = 0;
	int ok = fgets(line, sizeof line, f) &&
		 ((v2 = !strcmp(line, "es-replay plan 2\n")) ||
		  !strcmp(line, "es-replay plan 1\n")) &&
		 fgets(req, (int)reqcap, f);
	uint32_t p;
	uint64_t off;
	char before[32];
	int complete = 0;
	/* Check it whole before applying any of it: a torn plan is no plan. */
	long body = ftell(f);
	while (ok && fgets(line, sizeof line, f)) {
		if (!strcmp(line, "end\n")) {
			complete = 1;
			break;
		}
		if (sscanf(line, "%u %" SCNu64 " %31s", &p, &off, before) != 2 + v2)
			ok = 0;
	}
	if (!ok || !complete) {
		fclose(f);
		unlink(path);
		return 0;
	}
	fseek(f, body, SEEK_SET);
	while (fgets(line, sizeof line, f) && strcmp(line, "end\n")) {
		es_error err = {{0}};
		strcpy(before, "?");
		sscanf(line, "%u %" SCNu64 " %31s", &p, &off, before);
		/* A plan left by a run killed part way is finished only where
		 * the group is still where it was planned from (or where the
		 * plan puts it): members may have gone on since. */
		if (v2 && left) {
			es_commit_info ci;
			int rc = es_group_read(t, group, p, &ci, &err);
			if (rc && rc != ENOENT)
				cli_die(cli_status(rc), "%s", err.msg);
			char now[32] = "-";
			if (ci.offset != ES_NO_OFFSET)
				snprintf(now, sizeof now, "%" PRIu64, ci.offset);
			if (strcmp(now, before) != 0 && ci.offset != off) {
				cli_warn("partition %u: the group is at %s, not at %s "
					 "as planned: the interrupted replay is not "
					 "applied there", p, now, before);
				continue;
			}
		}
		int rc = es_group_write(t, group, p, off, &err);
		if (rc)
			cli_die(cli_status(rc) == EX_FAIL ? EX_IOERR_ : cli_status(rc),
				"%s", err.msg);
	}
	fclose(f);
	if (unlink(path) != 0)
		cli_die(EX_IOERR_, "cannot remove '%s': %s", path, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"group", required_argument, 0, 'g'},
		{"to", required_argument, 0, OPT_TO},
		{"to-time", required_argument, 0, OPT_TO_TIME},
		{"shift", required_argument, 0, OPT_SHIFT},
		{"execute", no_argument, 0, OPT_EXECUTE},
		{"wait", no_argument, 0, OPT_WAIT},
		{"timeout", required_argument, 0, OPT_TIMEOUT},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, OPT_VERSION},
		{0, 0, 0, 0},
	};
	const char *group = NULL, *to = NULL, *plist = NULL;
	int64_t to_time = -1, shift = 0, timeout_ms = -1;
	int have_shift = 0, execute = 0, wait = 0, json = 0, ntargets = 0, ch;
	cli_init("es-replay");
	cli_signals();
	while ((ch = getopt_long(argc, argv, "g:p:Jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'g': group = optarg; break;
		case 'p': plist = optarg; break;
		case 'J': json = 1; break;
		case OPT_TO: to = optarg; ntargets++; break;
		case OPT_TO_TIME:
			if (cli_parse_time(optarg, &to_time))
				cli_usage_error("bad time '%s'", optarg);
			ntargets++;
			break;
		case OPT_SHIFT: {
			char *end;
			errno = 0;
			long long v = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg ||
			    (optarg[0] != '+' && optarg[0] != '-'))
				cli_usage_error("bad shift '%s' (+N or -N)", optarg);
			shift = v;
			have_shift = 1;
			ntargets++;
			break;
		}
		case OPT_EXECUTE: execute = 1; break;
		case OPT_WAIT: wait = 1; break;
		case OPT_TIMEOUT:
			if (es_parse_duration(optarg, &timeout_ms))
				cli_usage_error("bad duration '%s'", optarg);
			break;
		case 'h': fputs(usage, stdout); return 0;
		case OPT_VERSION: cli_version();
		default: cli_usage_error("bad option");
		}
	}
	if (argc - optind != 1)
		cli_usage_error(optind >= argc ? "missing TOPIC" : "too many arguments");
	if (!group)
		cli_usage_error("missing -g GROUP");
	if (!es_group_name_ok(group))
		cli_usage_error("bad group name '%s'", group);
	if (ntargets > 1)
		cli_usage_error("--to, --to-time and --shift are exclusive");
	uint64_t to_off = 0;
	int to_latest = 0;
	if (to && !strcmp(to, "earliest"))
		to = NULL; /* the default: the first retained record */
	if (to) {
		if (!strcmp(to, "latest"))
			to_latest = 1;
		else if (cli_parse_u64(to, &to_off))
			cli_usage_error("bad --to '%s' (earliest, latest or N)", to);
	}
	const char *name = argv[optind];
	es_topic *t = cli_open_topic(name);
	uint32_t np = es_topic_config(t)->partitions;
	unsigned char *want = malloc(np);
	struct row *rows = calloc(np, sizeof *rows);
	if (!want || !rows)
		cli_die(EX_FAIL, "out of memory");
	memset(want, 1, np);
	if (plist && cli_parse_partitions(plist, np, want))
		cli_usage_error("bad partition list '%s' (topic has %u partitions)",
				plist, np);
	char request[1024];
	snprintf(request, sizeof request, "to=%s to-time=%lld shift=%lld p=%s",
		 to ? to : "earliest", (long long)to_time,
		 (long long)(have_shift ? shift : 0), plist ? plist : "all");

	/* Members: a plan may be printed while they run, never applied. */
	int lock = -1;
	int64_t started = cli_mono_ms();
	for (;;) {
		es_error err = {{0}};
		int pids[16];
		size_t nm = 0;
		int rc;
		if (execute &&
		    (rc = es_group_lock_replay(t, group, &lock, &err)) != 0) {
			if (rc != ES_ELOCKED || !wait)
				cli_die(cli_status(rc), "%s", err.msg);
		} else if ((rc = es_group_members(t, group, pids, 16, &nm, &err))) {
			cli_die(cli_status(rc), "%s", err.msg);
		}
		int other_replay = lock < 0 && execute;
		if (other_replay) {
			nm = 1; /* another replay: wait as for a member */
		} else if (nm && execute) {
			es_group_unlock_replay(lock);
			lock = -1;
		}
		if (!nm)
			break;
		char who[200] = "";
		for (size_t i = 0; i < nm && i < 16 && !other_replay; i++)
			snprintf(who + strlen(who), sizeof who - strlen(who), "%s%d",
				 i ? ", " : "", pids[i]);
		if (!execute) {
			cli_warn("group '%s' has %zu live member%s (pid %s): this "
				 "plan cannot be applied while they run", group, nm,
				 nm == 1 ? "" : "s", who);
			break;
		}
		if (!wait)
			cli_die(EX_TEMPFAIL_, "group '%s' has %zu live member%s "
				"(pid %s); stop them or use --wait", group, nm,
				nm == 1 ? "" : "s", who[0] ? who : "?");
		if (cli_signal)
			cli_exit(EX_TEMPFAIL_);
		if (timeout_ms >= 0 && cli_mono_ms() - started >= timeout_ms) {
			if (other_replay)
				cli_die(EX_TEMPFAIL_, "group '%s': another replay is "
					"still running after --timeout", group);
			cli_die(EX_TEMPFAIL_, "group '%s' still has live members "
				"(pid %s) after --timeout", group, who[0] ? who : "?");
		}
		usleep(100000);
	}

	char path[4200];
	if (plan_path(path, sizeof path, es_topic_path(t), group))
		cli_die(EX_USAGE_, "topic path too long");
	if (execute) {
		char old[1024] = "";
		if (apply_plan(t, group, path, 1, old, sizeof old)) {
			old[strcspn(old, "\n")] = 0;
			cli_warn("finished an interrupted replay (%s)", old);
			if (!strcmp(old, request)) {
				es_group_unlock_replay(lock);
				es_topic_close(t);
				out_finish();
				cli_exit(0);
			}
		}
	}

	uint32_t n = 0, clamped = 0;
	for (uint32_t p = 0; p < np; p++) {
		if (!want[p])
			continue;
		struct row *r = &rows[n++];
		es_partition_info pi;
		es_commit_info ci;
		es_error err = {{0}};
		int rc = es_partition_stat(t, p, &pi, &err);
		if (rc)
			cli_die(cli_status(rc), "%s", err.msg);
		rc = es_group_read(t, group, p, &ci, &err);
		if (rc && rc != ENOENT)
			cli_die(cli_status(rc), "%s", err.msg);
		r->p = p;
		r->now = ci.offset;
		r->first = pi.first_offset;
		r->end = pi.next_offset;
		r->rate = history_rate(&ci);
		int64_t target;
		if (to_time >= 0)
			target = (int64_t)offset_at_time(t, p, to_time, r->end);
		else if (have_shift)
			target = (int64_t)(r->now == ES_NO_OFFSET ? r->first : r->now) +
				 shift;
		else if (to_latest)
			target = (int64_t)r->end;
		else if (to)
			target = (int64_t)to_off;
		else
			target = (int64_t)r->first;
		if (target < (int64_t)r->first) {
			r->clamped = target < (int64_t)r->first && (to || have_shift);
			target = (int64_t)r->first;
		} else if (target > (int64_t)r->end) {
			r->clamped = 1;
			target = (int64_t)r->end;
		}
		if (r->clamped) {
			clamped++;
			cli_warn("partition %u: target outside the retained range "
				 "[%" PRIu64 ", %" PRIu64 "], clamped to %" PRId64,
				 p, r->first, r->end, target);
		}
		r->after = (uint64_t)target;
	}

	/* The plan. */
	double total_est = 0;
	int est_known = 1;
	if (json) {
		es_buf s = {0};
		if (es_json_append_name(&s, name))
			cli_die(EX_FAIL, "out of memory");
		out_str("{\"topic\":");
		out_write(s.data, s.len);
		es_buf_free(&s);
		out_printf(",\"group\":\"%s\",\"execute\":%s,\"partitions\":[",
			   group, execute ? "true" : "false");
	}
	else
		out_printf("%-9s %15s %15s %12s %12s  %s\n", "PARTITION",
			   "COMMITTED-NOW", "COMMITTED-AFTER", "REDELIVERED",
			   "SKIPPED", "ESTIMATE");
	for (uint32_t i = 0; i < n; i++) {
		struct row *r = &rows[i];
		uint64_t from = r->now == ES_NO_OFFSET ? r->first : r->now;
		uint64_t again = from > r->after ? from - r->after : 0;
		uint64_t skipped = r->after > from ? r->after - from : 0;
		double est = again == 0 ? 0 : r->rate > 0 ? (double)again / r->rate
							  : -1;
		if (est < 0)
			est_known = 0;
		else if (est > total_est)
			total_est = est;
		char nowbuf[24], estbuf[32];
		if (r->now == ES_NO_OFFSET)
			snprintf(nowbuf, sizeof nowbuf, "-");
		else
			snprintf(nowbuf, sizeof nowbuf, "%" PRIu64, r->now);
		fmt_duration(est, estbuf, sizeof estbuf);
		if (json) {
			out_printf("%s{\"partition\":%u,\"committed_now\":%s,"
				   "\"committed_after\":%" PRIu64 ",\"redelivered\":%"
				   PRIu64 ",\"skipped\":%" PRIu64 ",\"clamped\":%s,"
				   "\"estimate_seconds\":",
				   i ? "," : "", r->p,
				   r->now == ES_NO_OFFSET ? "null" : nowbuf, r->after,
				   again, skipped, r->clamped ? "true" : "false");
			if (est < 0)
				out_str("null}");
			else
				out_printf("%.1f}", est);
		} else {
			out_printf("%-9u %15s %15" PRIu64 " %12" PRIu64 " %12" PRIu64
				   "  %s\n", r->p, nowbuf, r->after, again, skipped,
				   estbuf);
		}
	}
	char totbuf[32];
	fmt_duration(est_known ? total_est : -1, totbuf, sizeof totbuf);
	if (json && est_known)
		out_printf("],\"estimate_seconds\":%.1f}\n", total_est);
	else if (json)
		out_str("],\"estimate_seconds\":null}\n");
	if (!json)
		out_printf("estimated replay time: %s%s\n", totbuf,
			   execute ? "" : " (plan only: add --execute to apply)");
	if (execute) {
		if (out_flush() != 0)
			cli_die(EX_IOERR_, "cannot write to standard output");
		write_plan(path, request, rows, n);
		char done[1024];
		/* Just planned, under the replay lock, from the commits
		 * as they are. */
		apply_plan(t, group, path, 0, done, sizeof done);
		es_group_unlock_replay(lock);
	}
	free(rows);
	free(want);
	es_topic_close(t);
	out_finish();
	(void)clamped; /* a clamped replay is still a success */
	cli_exit(0);
}
