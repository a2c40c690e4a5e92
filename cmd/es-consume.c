/* es-consume.c - read records of a topic to stdout, like cat or tail -f */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

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
	"      --timeout D    stop cleanly after D\n"
	"  -0                 NUL after each record instead of newline\n"
	"  -K DELIM           print key DELIM value\n"
	"  -F FMT             kcat's format: %t %p %o %k %s %T %K %S %I %h %% \\n \\t \\0\n"
	"  -J                 one JSON object per record\n"
	"      --skip-corrupt warn about a corrupt record and go on (exit 65)\n"
	"  -h, --help         this help\n"
	"      --version      version\n";

enum { OPT_SINCE = 256, OPT_UNTIL, OPT_IDLE, OPT_TIMEOUT, OPT_SKIP,
       OPT_VERSION };

enum { FMT_PLAIN, FMT_KEY, FMT_FORMAT, FMT_JSON };

static struct {
	const char *topic; /* as given, for %t and -J */
	int fmt;
	char term;
	const char *kdelim, *format;
	int follow, skip_corrupt;
	uint64_t max;
	int64_t idle_ms, timeout_ms;
} o = {.term = '\n', .max = UINT64_MAX, .idle_ms = -1, .timeout_ms = -1};

static es_buf jbuf;

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void iso_time(int64_t ms, char *buf, size_t cap)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, cap - n, ".%03dZ", (int)(ms % 1000));
}

static void put_bytes(const unsigned char *p, uint32_t len)
{
	if (len != ES_NULL_LEN)
		out_write(p, len);
}

static void put_headers(const es_record *r)
{
	uint32_t pos = 0;
	es_header h;
	int first = 1;
	while (es_header_next(r->headers, r->headers_len, &pos, &h) == 1) {
		if (!first)
			out_write(",", 1);
		first = 0;
		out_write(h.name, h.name_len);
		out_write("=", 1);
		out_write(h.value, h.value_len);
	}
}

static void put_format(uint32_t part, const es_record *r)
{
	char num[64];
	for (const char *f = o.format; *f; f++) {
		if (*f == '\\' && f[1]) {
			f++;
			char c = *f == 'n' ? '\n' : *f == 't' ? '\t' : *f == '0' ? 0
			       : *f == 'r' ? '\r' : *f;
			out_write(&c, 1);
			continue;
		}
		if (*f != '%' || !f[1]) {
			out_write(f, 1);
			continue;
		}
		switch (*++f) {
		case 't': out_str(o.topic); break;
		case 'p': out_printf("%u", part); break;
		case 'o': out_printf("%" PRIu64, r->offset); break;
		case 'k': put_bytes(r->key, r->key_len); break;
		case 's': put_bytes(r->value, r->value_len); break;
		case 'T': out_printf("%" PRId64, r->timestamp); break;
		case 'K':
			out_printf("%lld", r->key_len == ES_NULL_LEN ? -1LL
					   : (long long)r->key_len);
			break;
		case 'S':
			out_printf("%lld", r->value_len == ES_NULL_LEN ? -1LL
					   : (long long)r->value_len);
			break;
		case 'I':
			iso_time(r->timestamp, num, sizeof num);
			out_str(num);
			break;
		case 'h': put_headers(r); break;
		case '%': out_write("%", 1); break;
		default: out_write(f - 1, 2);
		}
	}
}

static void emit(uint32_t part, const es_record *r)
{
	switch (o.fmt) {
	case FMT_PLAIN:
		put_bytes(r->value, r->value_len);
		out_write(&o.term, 1);
		break;
	case FMT_KEY:
		put_bytes(r->key, r->key_len);
		out_str(o.kdelim);
		put_bytes(r->value, r->value_len);
		out_write(&o.term, 1);
		break;
	case FMT_FORMAT:
		put_format(part, r);
		break;
	case FMT_JSON:
		jbuf.len = 0;
		if (es_json_format_record(&jbuf, o.topic, part, r) != 0)
			cli_die(EX_FAIL, "out of memory");
		if (o.term != '\n' && jbuf.len)
			jbuf.data[jbuf.len - 1] = o.term;
		out_write(jbuf.data, jbuf.len);
		break;
	}
}

struct part {
	uint32_t id;
	es_reader *r;
	uint64_t limit; /* end offset seen at start (without -f) */
	int done;
};

static int parse_time_opt(const char *s, int64_t *ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return es_parse_time(s, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
			     ms);
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
	while ((ch = getopt_long(argc, argv, "o:p:n:f0K:F:Jh", opts, NULL)) != -1) {
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
		case OPT_SINCE:
			if (parse_time_opt(optarg, &since))
				cli_usage_error("bad time '%s'", optarg);
			break;
		case OPT_UNTIL:
			if (parse_time_opt(optarg, &until))
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
		case 'h': fputs(usage, stdout); return 0;
		case OPT_VERSION: cli_version();
		default: cli_usage_error("bad option");
		}
	}
	if (argc - optind != 1)
		cli_usage_error(optind >= argc ? "missing TOPIC" : "too many arguments");
	if (pos && since >= 0)
		cli_usage_error("-o and --since are exclusive");
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
	/* Position: "latest", "earliest", N, or -N. */
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
	if (o.follow && (rc = es_watch_open(t, &watch, &err)))
		cli_die(cli_status(rc), "%s", err.msg);
	uint32_t n = 0;
	for (uint32_t p = 0; p < np; p++) {
		if (!want[p])
			continue;
		struct part *pp = &parts[n++];
		pp->id = p;
		uint64_t end;
		if ((rc = es_partition_end(t, p, &end, &err)) ||
		    (rc = es_reader_open(t, p, &pp->r, &err)))
			cli_die(cli_status(rc), "%s", err.msg);
		pp->limit = o.follow ? UINT64_MAX : end;
		int clamped = 0;
		if (since >= 0)
			rc = es_reader_seek_time(pp->r, since, &err);
		else if (latest)
			rc = es_reader_seek(pp->r, end, NULL, &err);
		else if (from_end)
			rc = es_reader_seek(pp->r, off > end ? 0 : end - off, NULL,
					    &err);
		else
			rc = es_reader_seek(pp->r, off, &clamped, &err);
		if (rc)
			cli_die(cli_status(rc), "%s", err.msg);
		if (clamped)
			cli_warn("partition %u: offset %" PRIu64 " is below the "
				 "first retained offset; starting at %" PRIu64,
				 p, off, es_reader_position(pp->r));
	}
	free(want);
	int64_t started = mono_ms(), last_record = started;
	uint64_t count = 0, corrupt = 0;
	int status = 0;
	uint32_t active = n;
	while (count < o.max && active && !cli_signal) {
		int progressed = 0;
		for (uint32_t i = 0; i < n && count < o.max && !cli_signal; i++) {
			struct part *pp = &parts[i];
			if (pp->done)
				continue;
			/* A turn per partition, so that one busy partition
			 * does not starve the others in follow mode. */
			for (int k = 0; k < 4096 && count < o.max; k++) {
				es_record rec;
				rc = es_reader_next(pp->r, pp->limit, &rec, &err);
				if (rc == 1) {
					if (until >= 0 &&
					    es_reader_max_ts(pp->r) >= until) {
						pp->done = 1;
						active--;
						break;
					}
					emit(pp->id, &rec);
					count++;
					progressed = 1;
					continue;
				}
				if (rc == 0) {
					if (!o.follow) {
						pp->done = 1;
						active--;
					}
					break;
				}
				if (rc == ES_ECORRUPT && o.skip_corrupt) {
					cli_warn("%s (skipped)", err.msg);
					corrupt++;
					if ((rc = es_reader_skip_corrupt(pp->r, &err)))
						cli_die(cli_status(rc), "%s", err.msg);
					continue;
				}
				out_flush();
				cli_die(cli_status(rc), "%s", err.msg);
			}
			if (out_error() == EPIPE)
				goto done;
		}
		int64_t now = mono_ms();
		if (progressed)
			last_record = now;
		if (o.timeout_ms >= 0 && now - started >= o.timeout_ms)
			break;
		if (progressed || !o.follow || !active)
			continue;
		/* Caught up: flush, then sleep until a partition publishes. */
		if (out_flush() == EPIPE)
			goto done;
		int wait = -1;
		if (o.idle_ms >= 0) {
			int64_t left = o.idle_ms - (now - last_record);
			if (left <= 0)
				break;
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
done:
	if (out_flush() == EPIPE) {
		/* The reader went away (| head): that is not an error. */
		status = 0;
	} else if (corrupt) {
		cli_warn("%" PRIu64 " corrupt records skipped", corrupt);
		status = EX_DATAERR_;
	}
	for (uint32_t i = 0; i < n; i++)
		es_reader_close(parts[i].r);
	free(parts);
	es_watch_close(watch);
	es_topic_close(t);
	es_buf_free(&jbuf);
	if (!cli_signal)
		out_finish();
	cli_exit(status);
}
