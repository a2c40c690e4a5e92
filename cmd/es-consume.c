/* es-consume.c - read records of a topic to stdout, like cat or tail -f,
 * alone or as a member of a consumer group; --exec is in consume-exec.c */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consume.h"

static const char usage[] =
	"Usage: es-consume [options] TOPIC\n"
	"Write the records of TOPIC to standard output, in offset order per\n"
	"partition: the value and a newline, unless a format is chosen.\n"
	"\n"
	"  -o POS             start at earliest (default), latest, an offset N,\n"
	"                     or -N (N before the end), in each partition\n"
	"      --since TIME   start at the first record at or after TIME\n"
	"      --until TIME   stop each partition at its first record at or after TIME\n"
	"  -p LIST            only these partitions (0,3,5 or 1-3)\n"
	"  -n N               stop after N records\n"
	"  -f, --follow       at the end, wait for new records\n"
	"      --idle-timeout D  with -f: stop after D without a record\n"
	"      --timeout D    stop cleanly after D (committing what was done)\n"
	"  -0                 NUL after each record instead of newline\n"
	"  -K DELIM           print key DELIM value\n"
	"  -F FMT             kcat's format: %t %p %o %k %s %T %K %S %I %h %% \\n \\t \\0\n"
	"  -J                 one JSON object per record\n"
	"      --skip-corrupt warn about a corrupt record and go on (exit 65)\n"
	"\n"
	"Consumer groups:\n"
	"  -g GROUP           resume from GROUP's committed offsets and commit as\n"
	"                     records are handed on; members share partitions\n"
	"      --reset POS    earliest (default) or latest, where GROUP has no commit\n"
	"      --exec CMD     run sh -c CMD per batch, records on its stdin; commit\n"
	"                     when it exits 0 (at-least-once)\n"
	"      --batch N      records per batch, of one partition (default 1000)\n"
	"      --retries N    attempts after a failure (default 3)\n"
	"      --backoff D    first retry delay, doubling (default 1s)\n"
	"      --dead-letter TOPIC  send records that keep failing there, go on\n"
	"  -j N               run up to N partitions' batches at once (default 1)\n"
	"\n"
	"  -h, --help         this help\n"
	"      --version      version\n";

enum { OPT_SINCE = 256, OPT_UNTIL, OPT_IDLE, OPT_TIMEOUT, OPT_SKIP,
       OPT_VERSION, OPT_RESET, OPT_EXEC, OPT_BATCH, OPT_RETRIES, OPT_BACKOFF,
       OPT_DLT };

struct consume_opts o = {.term = '\n', .max = UINT64_MAX, .idle_ms = -1,
			 .timeout_ms = -1, .batch = 1000, .retries = 3,
			 .jobs = 1, .backoff_ms = 1000};

static uint32_t parse_count(const char *s, const char *what, uint64_t lo)
{
	uint64_t v;
	if (cli_parse_u64(s, &v) || v < lo || v > UINT32_MAX)
		cli_usage_error("bad %s '%s'", what, s);
	return (uint32_t)v;
}

void group_open_part(es_topic *t, es_group *g, struct part *pp)
{
	es_error err = {{0}};
	es_commit_info ci;
	uint64_t end;
	int rc = es_partition_end(t, pp->id, &end, &err);
	if (!rc)
		rc = es_reader_open(t, pp->id, &pp->r, &err);
	if (rc)
		cli_die(cli_status(rc), "%s", err.msg);
	/* Only a group that never committed starts from --reset. A commit
	 * that cannot be read now is not the same as none: starting over
	 * would commit over it and skip or repeat records. A damaged one is
	 * read from the earliest offset, so that nothing is skipped. */
	rc = es_group_read(t, o.group, pp->id, &ci, &err);
	if (rc == ES_EFORMAT)
		cli_die(EX_CONFIG_, "%s", err.msg);
	if (rc == ES_ECORRUPT)
		cli_warn("%s; starting from the earliest offset", err.msg);
	else if (rc && rc != ENOENT)
		cli_die(EX_IOERR_, "%s", err.msg);
	uint64_t start = ci.offset;
	if (start == ES_NO_OFFSET)
		start = o.reset_latest && rc != ES_ECORRUPT ? end : 0;
	int clamped = 0;
	if ((rc = es_reader_seek(pp->r, start, &clamped, &err)))
		cli_die(cli_status(rc), "%s", err.msg);
	/* Below the first segment: retention took records unread, unless
	 * the topic only compacts, and the gap is records it superseded. */
	if (clamped && ci.offset != ES_NO_OFFSET &&
	    (es_topic_config(t)->cleanup & ES_CLEANUP_DELETE))
		cli_warn("group '%s', partition %u: committed offset %" PRIu64
			 " is below the first retained offset; starting at %" PRIu64,
			 o.group, pp->id, start, es_reader_position(pp->r));
	pp->active = 1;
	pp->done = 0;
	pp->limit = o.follow ? UINT64_MAX : end;
	pp->emitted = pp->committed = es_reader_position(pp->r);
	if (ci.offset != ES_NO_OFFSET) {
		pp->committed = ci.offset;
	} else {
		/* The reset position becomes the group's: records that arrive
		 * before the first one is read are not skipped by a later run
		 * resetting again. */
		rc = es_group_commit(g, pp->id, pp->emitted, 0, 0, &err);
		if (rc)
			cli_die(cli_status(rc) == EX_FAIL ? EX_IOERR_ : cli_status(rc),
				"%s", err.msg);
	}
	pp->commit_ms = cli_mono_ms();
}

static void close_part(struct part *pp)
{
	es_reader_close(pp->r);
	pp->r = NULL;
	pp->active = 0;
}

int group_rebalance(es_topic *t, es_group *g, struct part *parts,
		    int release, int greedy,
		    void (*commit_fn)(es_group *, struct part *))
{
	es_error err = {{0}};
	int rc = es_group_rebalance(g, release, greedy, &err);
	if (rc < 0)
		cli_die(cli_status(-rc), "%s", err.msg);
	int changed = 0;
	uint32_t p;
	while (es_group_should_release(g, &p)) {
		if (parts[p].active) {
			commit_fn(g, &parts[p]);
			close_part(&parts[p]);
		}
		es_group_release(g, p);
		changed = 1;
	}
	while (es_group_acquired(g, &p)) {
		group_open_part(t, g, &parts[p]);
		changed = 1;
	}
	return changed;
}

/* Pipe mode: what was written to stdout is handed on. */
static es_buf obuf;

static int flush_out(void)
{
	if (obuf.len) {
		out_write(obuf.data, obuf.len);
		obuf.len = 0;
	}
	return out_flush();
}

static void pipe_commit(es_group *g, struct part *pp)
{
	if (!g || pp->emitted == pp->committed)
		return;
	/* Never commit what is not yet out of our buffers. */
	if (flush_out() != 0)
		return;
	es_error err = {{0}};
	int rc = es_group_commit(g, pp->id, pp->emitted, 0, 0, &err);
	if (rc)
		cli_die(cli_status(rc) == EX_FAIL ? EX_IOERR_ : cli_status(rc),
			"%s", err.msg);
	pp->committed = pp->emitted;
	pp->commit_ms = cli_mono_ms();
}

static int pipe_run(es_topic *t, es_group *g, struct part *parts, uint32_t np,
		    es_watch *watch, int64_t until)
{
	int64_t started = cli_mono_ms(), last_record = started, last_rebalance = started;
	uint64_t count = 0, corrupt = 0;
	es_error err = {{0}};
	int rc;
	for (;;) {
		if (count >= o.max || cli_signal)
			break;
		int progressed = 0, active = 0;
		for (uint32_t i = 0; i < np && count < o.max && !cli_signal; i++) {
			struct part *pp = &parts[i];
			if (!pp->active || pp->done)
				continue;
			active++;
			/* A turn per partition, so that one busy partition
			 * does not starve the others in follow mode. */
			for (int k = 0; k < 4096 && count < o.max; k++) {
				es_record rec;
				rc = es_reader_next(pp->r, pp->limit, &rec, &err);
				if (rc == 1) {
					if (until >= 0 &&
					    es_reader_max_ts(pp->r) >= until) {
						pp->done = 1;
						break;
					}
					format_record(&obuf, pp->id, &rec);
					pp->emitted = rec.offset + 1;
					count++;
					progressed = 1;
					if (obuf.len >= (256u << 10) && flush_out())
						goto done;
					continue;
				}
				if (rc == 0) {
					if (!o.follow)
						pp->done = 1;
					break;
				}
				if (rc == ES_ECORRUPT && o.skip_corrupt) {
					cli_warn("%s (skipped)", err.msg);
					corrupt++;
					if ((rc = es_reader_skip_corrupt(pp->r, &err)))
						cli_die(cli_status(rc), "%s", err.msg);
					continue;
				}
				/* Everything before it goes out (and is
				 * committed) first. */
				flush_out();
				for (uint32_t j = 0; j < np; j++)
					if (parts[j].active)
						pipe_commit(g, &parts[j]);
				cli_die(cli_status(rc), "%s", err.msg);
			}
		}
		int64_t now = cli_mono_ms();
		if (progressed)
			last_record = now;
		if (g) {
			/* Commit a few times a second, not per record: each
			 * commit is two fsyncs. */
			for (uint32_t i = 0; i < np; i++)
				if (parts[i].active && now - parts[i].commit_ms >= 200)
					pipe_commit(g, &parts[i]);
			if (o.follow && now - last_rebalance >= 500) {
				group_rebalance(t, g, parts, 1, 0, pipe_commit);
				last_rebalance = now;
			}
			if (!o.follow && !active) {
				/* Done with ours: take any free partition that
				 * still has records, as a later cron run would.
				 * Ours stay ours until exit, so this ends. */
				for (uint32_t i = 0; i < np; i++)
					if (parts[i].active)
						pipe_commit(g, &parts[i]);
				if (!group_rebalance(t, g, parts, 0, 1, pipe_commit))
					break;
				continue;
			}
		} else if (!active) {
			break;
		}
		if (o.timeout_ms >= 0 && now - started >= o.timeout_ms)
			break;
		if (progressed || !o.follow)
			continue;
		/* Caught up: flush, commit, then sleep until a partition
		 * publishes (or it is time to look at the group again). */
		if (flush_out() == EPIPE)
			goto done;
		for (uint32_t i = 0; g && i < np; i++)
			if (parts[i].active)
				pipe_commit(g, &parts[i]);
		int wait = g ? 500 : -1;
		if (o.idle_ms >= 0) {
			int64_t left = o.idle_ms - (now - last_record);
			if (left <= 0)
				break;
			if (wait < 0 || left < wait)
				wait = (int)left;
		}
		if (o.timeout_ms >= 0) {
			int64_t left = o.timeout_ms - (now - started);
			if (wait < 0 || left < wait)
				wait = (int)(left > 0 ? left : 0);
		}
		struct pollfd pfd = {es_watch_fd(watch), POLLIN, 0};
		if (poll(&pfd, 1, wait) > 0)
			es_watch_drain(watch);
	}
done:;
	int status = 0;
	if (flush_out() == EPIPE) {
		/* The reader went away (| head): not an error. */
	} else if (corrupt) {
		cli_warn("%" PRIu64 " corrupt records skipped", corrupt);
		status = EX_DATAERR_;
	}
	for (uint32_t i = 0; g && i < np; i++)
		if (parts[i].active)
			pipe_commit(g, &parts[i]);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"since", required_argument, 0, OPT_SINCE},
		{"until", required_argument, 0, OPT_UNTIL},
		{"follow", no_argument, 0, 'f'},
		{"idle-timeout", required_argument, 0, OPT_IDLE},
		{"timeout", required_argument, 0, OPT_TIMEOUT},
		{"skip-corrupt", no_argument, 0, OPT_SKIP},
		{"group", required_argument, 0, 'g'},
		{"reset", required_argument, 0, OPT_RESET},
		{"exec", required_argument, 0, OPT_EXEC},
		{"batch", required_argument, 0, OPT_BATCH},
		{"retries", required_argument, 0, OPT_RETRIES},
		{"backoff", required_argument, 0, OPT_BACKOFF},
		{"dead-letter", required_argument, 0, OPT_DLT},
		{"jobs", required_argument, 0, 'j'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, OPT_VERSION},
		{0, 0, 0, 0},
	};
	const char *pos = NULL, *plist = NULL;
	int64_t since = -1, until = -1;
	int ch;
	cli_init("es-consume");
	cli_signals();
	/* A closed pipe (| head) shows as EPIPE: stop quietly, clean up. */
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt_long(argc, argv, "o:p:n:f0K:F:Jg:j:h", opts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'o': pos = optarg; break;
		case 'p': plist = optarg; break;
		case 'n':
			if (cli_parse_u64(optarg, &o.max))
				cli_usage_error("bad count '%s'", optarg);
			break;
		case 'f': o.follow = 1; break;
		case '0': o.term = 0; break;
		case 'K': o.fmt = FMT_KEY; o.kdelim = optarg; break;
		case 'F': o.fmt = FMT_FORMAT; o.format = optarg; break;
		case 'J': o.fmt = FMT_JSON; break;
		case 'g': o.group = optarg; break;
		case 'j': o.jobs = parse_count(optarg, "job count", 1); break;
		case OPT_SINCE:
			if (cli_parse_time(optarg, &since))
				cli_usage_error("bad time '%s'", optarg);
			break;
		case OPT_UNTIL:
			if (cli_parse_time(optarg, &until))
				cli_usage_error("bad time '%s'", optarg);
			break;
		case OPT_IDLE:
			if (es_parse_duration(optarg, &o.idle_ms))
				cli_usage_error("bad duration '%s'", optarg);
			break;
		case OPT_TIMEOUT:
			if (es_parse_duration(optarg, &o.timeout_ms))
				cli_usage_error("bad duration '%s'", optarg);
			break;
		case OPT_SKIP: o.skip_corrupt = 1; break;
		case OPT_RESET:
			if (!strcmp(optarg, "latest"))
				o.reset_latest = 1;
			else if (strcmp(optarg, "earliest"))
				cli_usage_error("bad --reset '%s' (earliest or latest)",
						optarg);
			break;
		case OPT_EXEC: o.exec = optarg; break;
		case OPT_BATCH: o.batch = parse_count(optarg, "batch size", 1); break;
		case OPT_RETRIES: o.retries = parse_count(optarg, "retry count", 0); break;
		case OPT_BACKOFF:
			if (es_parse_duration(optarg, &o.backoff_ms))
				cli_usage_error("bad duration '%s'", optarg);
			break;
		case OPT_DLT: o.dead_letter = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		case OPT_VERSION: cli_version();
		default: cli_usage_error("bad option");
		}
	}
	if (argc - optind != 1)
		cli_usage_error(optind >= argc ? "missing TOPIC" : "too many arguments");
	if (pos && since >= 0)
		cli_usage_error("-o and --since are exclusive");
	if (o.group && (pos || since >= 0 || plist))
		cli_usage_error("-g takes its position from the group: -o, --since "
				"and -p do not apply (see es-replay)");
	if (o.exec && !o.group)
		cli_usage_error("--exec needs a group (-g), to commit to");
	if (!o.exec && (o.dead_letter || o.jobs > 1))
		cli_usage_error("--dead-letter and -j go with --exec");
	if (o.exec && (o.max != UINT64_MAX || until >= 0))
		cli_usage_error("-n and --until do not apply to --exec (use "
				"--timeout)");
	if (o.group && !es_group_name_ok(o.group))
		cli_usage_error("bad group name '%s' (letters, digits, '.', '_', '-')",
				o.group);
	o.topic = argv[optind];
	es_topic *t = cli_open_topic(o.topic);
	uint32_t np = es_topic_config(t)->partitions;
	unsigned char *want = malloc(np);
	struct part *parts = calloc(np, sizeof *parts);
	if (!want || !parts)
		cli_die(EX_FAIL, "out of memory");
	memset(want, 1, np);
	if (plist && cli_parse_partitions(plist, np, want))
		cli_usage_error("bad partition list '%s' (topic has %u partitions)",
				plist, np);
	int latest = 0, from_end = 0;
	uint64_t off = 0;
	if (pos) {
		if (!strcmp(pos, "earliest"))
			off = 0;
		else if (!strcmp(pos, "latest"))
			latest = 1;
		else if (pos[0] == '-' && !cli_parse_u64(pos + 1, &off))
			from_end = 1;
		else if (cli_parse_u64(pos, &off))
			cli_usage_error("bad position '%s' (earliest, latest, N or -N)",
					pos);
	}
	/* Watch before the first read, so that nothing published in between
	 * is missed. */
	es_watch *watch = NULL;
	es_error err = {{0}};
	int rc;
	if ((o.follow || o.exec) && (rc = es_watch_open(t, &watch, &err)))
		cli_die(cli_status(rc), "%s", err.msg);
	for (uint32_t p = 0; p < np; p++)
		parts[p].id = p;
	es_group *g = NULL;
	if (o.group) {
		if ((rc = es_group_join(t, o.group, &g, &err)))
			cli_die(cli_status(rc), "%s", err.msg);
		group_rebalance(t, g, parts, 0, 0, NULL);
	} else {
		for (uint32_t p = 0; p < np; p++) {
			struct part *pp = &parts[p];
			if (!want[p])
				continue;
			uint64_t end;
			if ((rc = es_partition_end(t, p, &end, &err)) ||
			    (rc = es_reader_open(t, p, &pp->r, &err)))
				cli_die(cli_status(rc), "%s", err.msg);
			pp->active = 1;
			pp->limit = o.follow ? UINT64_MAX : end;
			int clamped = 0;
			if (since >= 0)
				rc = es_reader_seek_time(pp->r, since, &err);
			else if (latest)
				rc = es_reader_seek(pp->r, end, NULL, &err);
			else if (from_end)
				rc = es_reader_seek(pp->r, off > end ? 0 : end - off,
						    NULL, &err);
			else
				rc = es_reader_seek(pp->r, off, &clamped, &err);
			if (rc)
				cli_die(cli_status(rc), "%s", err.msg);
			if (clamped && pos && strcmp(pos, "earliest"))
				cli_warn("partition %u: offset %" PRIu64 " is below the "
					 "first retained offset; starting at %" PRIu64,
					 p, off, es_reader_position(pp->r));
		}
	}
	free(want);
	int status = o.exec ? exec_run(t, g, parts, np, watch)
			    : pipe_run(t, g, parts, np, watch, until);
	for (uint32_t i = 0; i < np; i++)
		es_reader_close(parts[i].r);
	es_group_leave(g);
	free(parts);
	es_watch_close(watch);
	es_topic_close(t);
	es_buf_free(&obuf);
	if (!cli_signal && out_error() != EPIPE)
		out_finish();
	cli_exit(status);
}
