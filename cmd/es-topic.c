/* es-topic.c - create, list, describe, check and alter topics */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static const char usage[] =
	"Usage: es-topic create TOPIC [-p N] [--KEY VALUE]... [--if-missing]\n"
	"       es-topic list [DIR]\n"
	"       es-topic describe [--json] TOPIC\n"
	"       es-topic check [--repair] TOPIC\n"
	"       es-topic alter TOPIC --KEY VALUE...\n"
	"\n"
	"KEY is any topic.yaml key written with hyphens: partitions (-p),\n"
	"segment-bytes, segment-age, retention, retention-bytes, cleanup,\n"
	"delete-retention, compression, max-record-bytes, sync.\n"
	"Relative TOPIC paths resolve against $ES_DIR when it is set.\n";

static const char *const keys[] = {
	"partitions", "segment-bytes", "segment-age", "retention",
	"retention-bytes", "cleanup", "delete-retention", "compression",
	"max-record-bytes", "sync",
};
#define NKEYS (sizeof keys / sizeof *keys)
enum { OPT_IF_MISSING = 256, OPT_JSON, OPT_REPAIR, OPT_VERSION, OPT_KEY0 };

_Noreturn static void help(void)
{
	fputs(usage, stdout);
	exit(0);
}

/* What each subcommand accepts. */
enum { ALLOW_KEYS = 1, ALLOW_IF_MISSING = 2, ALLOW_JSON = 4, ALLOW_REPAIR = 8 };

/* Options shared by the subcommands; anything else is a usage error. */
static int parse(int argc, char **argv, es_config *c, int *set, int *flags,
		 int allow)
{
	struct option opts[NKEYS + 6];
	size_t k = 0;
	for (size_t i = 0; i < NKEYS; i++)
		opts[k++] = (struct option){keys[i], required_argument, 0,
					    OPT_KEY0 + (int)i};
	opts[k++] = (struct option){"if-missing", no_argument, 0, OPT_IF_MISSING};
	opts[k++] = (struct option){"json", no_argument, 0, OPT_JSON};
	opts[k++] = (struct option){"repair", no_argument, 0, OPT_REPAIR};
	opts[k++] = (struct option){"help", no_argument, 0, 'h'};
	opts[k++] = (struct option){"version", no_argument, 0, OPT_VERSION};
	opts[k] = (struct option){0, 0, 0, 0};
	int ch;
	*set = 0;
	*flags = 0;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
		if (ch == 'p')
			ch = OPT_KEY0;
		if (ch >= OPT_KEY0) {
			es_error err = {{0}};
			if (!(allow & ALLOW_KEYS))
				cli_usage_error("%s does not take --%s", argv[1],
						keys[ch - OPT_KEY0]);
			const char *key = keys[ch - OPT_KEY0];
			if (es_config_set(c, key, optarg, &err) != 0)
				cli_usage_error("%s", err.msg);
			*set |= 1 << (ch - OPT_KEY0);
			continue;
		}
		if ((ch == OPT_IF_MISSING && !(allow & ALLOW_IF_MISSING)) ||
		    (ch == OPT_JSON && !(allow & ALLOW_JSON)) ||
		    (ch == OPT_REPAIR && !(allow & ALLOW_REPAIR)))
			cli_usage_error("%s does not take %s", argv[1],
					argv[optind - 1]);
		switch (ch) {
		case OPT_IF_MISSING: *flags |= 1; break;
		case OPT_JSON: *flags |= 2; break;
		case OPT_REPAIR: *flags |= 4; break;
		case 'h': help();
		case OPT_VERSION: cli_version();
		default: cli_usage_error("bad option");
		}
	}
	return optind;
}

static int cmd_create(int argc, char **argv)
{
	es_config c;
	int set, flags;
	es_config_default(&c);
	int i = parse(argc, argv, &c, &set, &flags, ALLOW_KEYS | ALLOW_IF_MISSING);
	if (argc - i != 1)
		cli_usage_error("create takes one TOPIC");
	const char *path = cli_topic_path(argv[i]);
	if ((flags & 1) && es_topic_exists(path))
		return 0;
	es_error err = {{0}};
	int rc = es_topic_create(path, &c, &err);
	if (rc == EEXIST)
		cli_die(EX_CANTCREAT_, "topic '%s' already exists (use "
				       "--if-missing to accept that)", argv[i]);
	if (rc)
		cli_die(rc == ES_EUSAGE ? EX_USAGE_ : EX_CANTCREAT_, "%s",
			err.msg);
	return 0;
}

static int cmd_alter(int argc, char **argv)
{
	es_config c;
	int set, flags;
	es_config_default(&c);
	int i = parse(argc, argv, &c, &set, &flags, ALLOW_KEYS);
	if (argc - i != 1)
		cli_usage_error("alter takes one TOPIC");
	if (!set)
		cli_usage_error("alter needs at least one --KEY VALUE");
	es_topic *t = cli_open_topic(argv[i]);
	/* Only the keys given, over the current configuration. */
	es_config now = *es_topic_config(t);
	es_error err = {{0}};
	for (size_t k = 0; k < NKEYS; k++) {
		char v[32];
		if (!(set & 1 << k))
			continue;
		if (es_config_get(&c, keys[k], v, sizeof v) != 0 ||
		    es_config_set(&now, keys[k], v, &err) != 0)
			cli_die(EX_FAIL, "--%s: %s", keys[k], err.msg);
	}
	int rc = es_topic_alter(t, &now, &err);
	es_topic_close(t);
	if (rc)
		cli_die(cli_status(rc), "%s", err.msg);
	return 0;
}

/* es-topic list prints paths as found below DIR, or, for the default
 * $ES_DIR, relative to it (TOPIC arguments resolve against it). */
static void print_topic(void *arg, const char *rel, const char *path)
{
	out_printf("%s\n", *(int *)arg ? path : rel);
}

static int cmd_list(int argc, char **argv)
{
	es_config c;
	int set, flags;
	int i = parse(argc, argv, &c, &set, &flags, 0);
	if (argc - i > 1)
		cli_usage_error("list takes at most one DIR");
	const char *dir = argc - i == 1 ? argv[i] : getenv("ES_DIR");
	if (!dir || !*dir)
		dir = ".";
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		cli_die(EX_NOINPUT_, "no directory '%s'", dir);
	int full = argc - i == 1 && strcmp(dir, ".") != 0;
	cli_find_topics(dir, print_topic, &full);
	return 0;
}

static int cmd_describe(int argc, char **argv)
{
	es_config dummy;
	int set, flags;
	int i = parse(argc, argv, &dummy, &set, &flags, ALLOW_JSON);
	if (argc - i != 1)
		cli_usage_error("describe takes one TOPIC");
	es_topic *t = cli_open_topic(argv[i]);
	const es_config *c = es_topic_config(t);
	int json = flags & 2;
	if (json) {
		es_buf s = {0};
		if (es_json_append_name(&s, argv[i]))
			cli_die(EX_FAIL, "out of memory");
		out_str("{\"topic\":");
		out_write(s.data, s.len);
		es_buf_free(&s);
		out_str(",\"config\":{");
	} else {
		out_printf("topic: %s\n", argv[i]);
	}
	/* The configuration as topic.yaml says it; in JSON the two numbers
	 * as numbers, the sizes and durations with their units. */
	const char *key;
	for (size_t k = 0; (key = es_config_key(k)); k++) {
		char v[32];
		if (es_config_get(c, key, v, sizeof v) != 0)
			cli_die(EX_FAIL, "%s: topic.yaml: bad value for '%s'",
				argv[i], key);
		if (!json)
			out_printf("%s: %s\n", key, v);
		else if (!strcmp(key, "format") || !strcmp(key, "partitions"))
			out_printf("%s\"%s\":%s", k ? "," : "", key, v);
		else
			out_printf("%s\"%s\":\"%s\"", k ? "," : "", key, v);
	}
	if (json)
		out_str("},\"partitions\":[");
	else
		out_printf("\n%-9s %12s %12s %8s %12s  %-24s  %s\n", "PARTITION",
			   "FIRST", "NEXT", "SEGMENTS", "BYTES", "OLDEST", "NEWEST");
	for (uint32_t p = 0; p < c->partitions; p++) {
		es_partition_info pi;
		es_error err = {{0}};
		int rc = es_partition_stat(t, p, &pi, &err);
		if (rc)
			cli_die(cli_status(rc), "%s", err.msg);
		char old[40], new[40];
		cli_iso_time(pi.oldest_ts, old, sizeof old);
		cli_iso_time(pi.newest_ts, new, sizeof new);
		if (json)
			out_printf("%s{\"partition\":%u,\"first_offset\":%llu,"
				   "\"next_offset\":%llu,\"segments\":%u,"
				   "\"bytes\":%llu,\"oldest_timestamp\":%lld,"
				   "\"newest_timestamp\":%lld}",
				   p ? "," : "", p,
				   (unsigned long long)pi.first_offset,
				   (unsigned long long)pi.next_offset, pi.segments,
				   (unsigned long long)pi.bytes,
				   (long long)pi.oldest_ts, (long long)pi.newest_ts);
		else
			out_printf("%-9u %12llu %12llu %8u %12llu  %-24s  %s\n",
				   p, (unsigned long long)pi.first_offset,
				   (unsigned long long)pi.next_offset, pi.segments,
				   (unsigned long long)pi.bytes, old, new);
	}
	if (json)
		out_str("]}\n");
	es_topic_close(t);
	return 0;
}

struct check_tally {
	unsigned corrupt, torn, index;
};

static void on_problem(void *arg, const es_problem *p)
{
	struct check_tally *n = arg;
	static const char *const kinds[] = {"", "torn tail", "index", "corrupt",
					    "repair"};
	if (p->kind == ES_PROBLEM_CORRUPT)
		n->corrupt++;
	else if (p->kind == ES_PROBLEM_TORN_TAIL)
		n->torn++;
	else if (p->kind == ES_PROBLEM_INDEX)
		n->index++;
	out_printf("partition %u, segment %s, offset %llu, byte %llu: %s: %s%s%s\n",
		   p->partition, p->segment, (unsigned long long)p->offset,
		   (unsigned long long)p->position, kinds[p->kind], p->what,
		   p->repair ? ": " : "", p->repair ? p->repair : "");
}

static int cmd_check(int argc, char **argv)
{
	es_config dummy;
	int set, flags;
	int i = parse(argc, argv, &dummy, &set, &flags, ALLOW_REPAIR);
	if (argc - i != 1)
		cli_usage_error("check takes one TOPIC");
	es_topic *t = cli_open_topic(argv[i]);
	struct check_tally n = {0};
	es_error err = {{0}};
	int repair = flags & 4;
	int rc = es_topic_check(t, repair, on_problem, &n, &err);
	if (rc)
		cli_die(cli_status(rc), "%s", err.msg);
	out_printf("%s: %u partitions checked: %u corrupt, %u torn tail, "
		   "%u index%s\n",
		   argv[i], es_topic_config(t)->partitions, n.corrupt, n.torn,
		   n.index, repair && (n.corrupt + n.torn + n.index) ? ": repaired"
								     : "");
	es_topic_close(t);
	return n.corrupt && !repair ? EX_DATAERR_ : 0;
}

int main(int argc, char **argv)
{
	cli_init("es-topic");
	cli_signals();
	if (argc < 2)
		cli_usage_error("missing subcommand (create, list, describe, "
				"check, alter)");
	const char *sub = argv[1];
	int rc;
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help"))
		help();
	if (!strcmp(sub, "--version"))
		cli_version();
	if (!strcmp(sub, "create"))
		rc = cmd_create(argc, argv);
	else if (!strcmp(sub, "list"))
		rc = cmd_list(argc, argv);
	else if (!strcmp(sub, "describe"))
		rc = cmd_describe(argc, argv);
	else if (!strcmp(sub, "check"))
		rc = cmd_check(argc, argv);
	else if (!strcmp(sub, "alter"))
		rc = cmd_alter(argc, argv);
	else
		cli_usage_error("unknown subcommand '%s'", sub);
	out_finish();
	return rc;
}
