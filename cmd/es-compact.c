/* es-compact.c - apply retention, key compaction and compression */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char usage[] =
	"Usage: es-compact [options] TOPIC...\n"
	"Apply each topic's policy (topic.yaml: retention, retention_bytes,\n"
	"cleanup, delete_retention, compression) to its closed segments.\n"
	"\n"
	"  -n, --dry-run          say what would be done, change nothing\n"
	"      --keep-unconsumed  never delete records a group has not read\n"
	"      --memory SIZE      bound for the key map (default 16MiB)\n"
	"      --wait             wait for another es-compact of the topic\n"
	"  -h, --help             this help\n"
	"      --version          version\n";

enum { OPT_KEEP = 256, OPT_MEMORY, OPT_WAIT, OPT_VERSION };

struct run {
	const char *topic;
	int dry;
};

static void human(uint64_t v, char *buf, size_t cap)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double d = (double)v;
	int i = 0;
	while (d >= 1024 && i < 4) {
		d /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, cap, "%" PRIu64 "B", v);
	else
		snprintf(buf, cap, "%.1f%s", d, u[i]);
}

static void on_report(void *arg, const es_compact_report *r)
{
	struct run *run = arg;
	char b0[32], b1[32];
	human(r->bytes_before, b0, sizeof b0);
	human(r->bytes_after, b1, sizeof b1);
	out_printf("%s/%u: segments %u -> %u, records %" PRIu64 " -> %" PRIu64
		   ", bytes %s -> %s; %s%u segments deleted, %" PRIu64
		   " records compacted, %u segments compressed",
		   run->topic, r->partition, r->segments_before, r->segments_after,
		   r->records_before, r->records_after, b0, b1,
		   run->dry ? "would be: " : "", r->deleted, r->compacted,
		   r->compressed);
	if (r->passes > 1)
		out_printf(" (%u key passes)", r->passes);
	out_str("\n");
}

static void on_unread(void *arg, const char *group, uint32_t p, uint64_t n)
{
	struct run *run = arg;
	cli_warn("%s/%u: group '%s' had not read %" PRIu64 " record%s that "
		 "retention %s (use --keep-unconsumed to keep them)",
		 run->topic, p, group, n, n == 1 ? "" : "s",
		 run->dry ? "would delete" : "deleted");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dry-run", no_argument, 0, 'n'},
		{"keep-unconsumed", no_argument, 0, OPT_KEEP},
		{"memory", required_argument, 0, OPT_MEMORY},
		{"wait", no_argument, 0, OPT_WAIT},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, OPT_VERSION},
		{0, 0, 0, 0},
	};
	es_compact_opts o = {0};
	int wait = 0, ch;
	cli_init("es-compact");
	cli_signals();
	while ((ch = getopt_long(argc, argv, "nh", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': o.dry_run = 1; break;
		case OPT_KEEP: o.keep_unconsumed = 1; break;
		case OPT_MEMORY:
			if (es_parse_size(optarg, &o.memory) || o.memory < 4096)
				cli_usage_error("bad --memory '%s' (a size, at least "
						"4KiB)", optarg);
			break;
		case OPT_WAIT: wait = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		case OPT_VERSION: cli_version();
		default: cli_usage_error("bad option");
		}
	}
	if (optind >= argc)
		cli_usage_error("missing TOPIC");
	o.now_ms = cli_wall_ms();
	int status = 0;
	for (int i = optind; i < argc && !cli_signal; i++) {
		es_topic *t = cli_open_topic(argv[i]);
		struct run run = {argv[i], o.dry_run};
		es_error err = {{0}};
		int rc = es_topic_compact(t, &o, wait, on_report, on_unread, &run,
					  &err);
		es_topic_close(t);
		if (rc) {
			cli_error("%s", err.msg);
			if (!status)
				status = cli_status(rc);
		}
	}
	out_finish();
	cli_exit(status);
}
