/* es-produce.c - append records from stdin or files to a topic, durably */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
	"Usage: es-produce [options] TOPIC [FILE...]\n"
	"Append one record per input line (or NUL-delimited with -0).\n"
	"\n"
	"  -0                 records end with NUL, not newline\n"
	"  -K DELIM           split each record at the first DELIM into key, value\n"
	"  -Z                 an empty value is null (a tombstone)\n"
	"  -k KEY             one key for every record\n"
	"      --key-field NAME  the key is this top-level field of a JSON line\n"
	"  -J                 read the JSON envelope that es-consume -J writes\n"
	"  -H NAME=VALUE      add a header to every record (repeatable)\n"
	"  -p N               write every record to partition N\n"
	"      --sync MODE    always | batch | none (default: the topic's)\n"
	"      --ack          print PARTITION<TAB>OFFSET per record once durable\n"
	"      --reject FILE  write bad records to FILE and go on (exit 65)\n"
	"      --create       create the topic if it does not exist\n"
	"  -h, --help         this help\n"
	"      --version      version\n";

enum { OPT_KEY_FIELD = 256, OPT_SYNC, OPT_ACK, OPT_REJECT, OPT_CREATE,
       OPT_VERSION };

static struct {
	char delim;
	const char *kdelim;
	size_t kdelim_len;
	int null_empty, json, ack, partition;
	const char *key, *key_field;
	size_t key_field_len;
	es_buf headers;
	int sync;
	int reject_fd;
	const char *reject_path;
} o = {.delim = '\n', .partition = -1, .sync = -1, .reject_fd = -1};

/* A batch waits for the one being synced; past this size, so does input. */
#define BATCH_MAX (8u << 20)

static es_producer *prod;
static uint64_t rejected;
static es_buf scratch;
static es_envelope env;
static es_buf hdrs; /* envelope headers plus -H ones */

static int print_ack(void *arg, uint32_t p, uint64_t off)
{
	(void)arg;
	char buf[48];
	int n = snprintf(buf, sizeof buf, "%u\t%llu\n", p,
			 (unsigned long long)off);
	out_write(buf, (size_t)n);
	return 0;
}

/* wait: make everything buffered durable (and its acks printed) before
 * returning; otherwise hand the batch to the committer and go on parsing.
 * On failure, say how many records are durable, so a caller can resume. */
static void commit(int wait)
{
	es_error err = {{0}};
	es_ack_fn ack = o.ack ? print_ack : NULL;
	int rc = wait ? es_producer_flush(prod, ack, NULL, &err)
		      : es_producer_submit(prod, ack, NULL, &err);
	if (rc) {
		out_flush();
		cli_die(cli_status(rc) == EX_FAIL ? EX_IOERR_ : cli_status(rc),
			"%s; %llu records durable before it", err.msg,
			(unsigned long long)es_producer_durable(prod));
	}
	if (wait && o.ack && out_flush() != 0)
		cli_die(EX_IOERR_, "cannot write acknowledgements: %s",
			strerror(errno));
}

/* A record that cannot be written: reject it or stop. */
static void bad_record(const char *file, uint64_t line, const char *rec,
		       size_t len, int rc, const char *msg)
{
	if (o.reject_fd < 0) {
		commit(1);
		cli_die(cli_status(rc), "%s:%llu: %s", file,
			(unsigned long long)line, msg);
	}
	cli_warn("%s:%llu: %s (rejected)", file, (unsigned long long)line, msg);
	rejected++;
	if (es_write_all(o.reject_fd, rec, len) ||
	    es_write_all(o.reject_fd, &o.delim, 1))
		cli_die(EX_IOERR_, "cannot write '%s': %s", o.reject_path,
			strerror(errno));
}

static void one_record(const char *file, uint64_t line, const char *rec,
		       size_t len, int64_t now)
{
	const char *key = NULL, *val = rec;
	uint32_t klen = ES_NULL_LEN, vlen = (uint32_t)len;
	const char *hb = o.headers.data;
	uint32_t hlen = (uint32_t)o.headers.len;
	int part = o.partition;
	int64_t ts = now;
	es_error err; /* filled only on error: zeroing 512 bytes per record
		       * was a tenth of es-produce's time */
	int rc;
	err.msg[0] = 0;
	if (len > UINT32_MAX - 1) {
		bad_record(file, line, rec, len, ES_ETOOBIG, "record too large");
		return;
	}
	if (o.json) {
		if ((rc = es_envelope_parse(&env, rec, len, &err))) {
			bad_record(file, line, rec, len, rc, err.msg);
			return;
		}
		key = env.key_null ? NULL : env.key.data;
		klen = env.key_null ? ES_NULL_LEN : (uint32_t)env.key.len;
		val = env.value_null ? NULL : env.value.data;
		vlen = env.value_null ? ES_NULL_LEN : (uint32_t)env.value.len;
		if (env.has_timestamp)
			ts = env.timestamp;
		if (env.has_partition && part < 0) {
			/* Past any partition count: refused, not wrapped to
			 * a negative "none". */
			if (env.partition > INT32_MAX) {
				snprintf(err.msg, sizeof err.msg,
					 "partition %u out of range", env.partition);
				bad_record(file, line, rec, len, ES_EBADJSON, err.msg);
				return;
			}
			part = (int)env.partition;
		}
		if (env.headers.len) {
			hdrs.len = 0;
			es_buf_append(&hdrs, env.headers.data, env.headers.len);
			es_buf_append(&hdrs, o.headers.data, o.headers.len);
			hb = hdrs.data;
			hlen = (uint32_t)hdrs.len;
		}
	} else if (o.key_field) {
		size_t kl;
		rc = es_json_field(rec, len, o.key_field, o.key_field_len, &key,
				   &kl, &scratch, &err);
		if (rc) {
			bad_record(file, line, rec, len, rc, err.msg);
			return;
		}
		klen = (uint32_t)kl;
	} else if (o.kdelim) {
		const char *d = memmem(rec, len, o.kdelim, o.kdelim_len);
		if (d) {
			key = rec;
			klen = (uint32_t)(d - rec);
			val = d + o.kdelim_len;
			vlen = (uint32_t)(len - klen - o.kdelim_len);
		}
	} else if (o.key) {
		key = o.key;
		klen = (uint32_t)strlen(o.key);
	}
	if (o.null_empty && vlen == 0)
		vlen = ES_NULL_LEN;
	rc = es_producer_add(prod, part, key, klen, val, vlen, hb, hlen, ts,
			     NULL, &err);
	if (rc == ES_EUSAGE) /* -J named a partition the topic lacks */
		rc = ES_EBADJSON;
	if (rc)
		bad_record(file, line, rec, len, rc, err.msg);
	if (o.sync == ES_SYNC_ALWAYS)
		commit(1); /* durable before the next record is read */
	else if (es_producer_pending(prod) >= BATCH_MAX)
		commit(0);
}

/* Would a read of fd block? Then the input paused: time to commit. */
static int input_paused(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, 0) == 0;
}

static void produce_fd(int fd, const char *file, size_t max_rec)
{
	/* Room for the longest record and its framing (a key, JSON, base64). */
	size_t cap = 2 * max_rec + (64u << 10), start = 0, end = 0;
	if (cap < (1u << 20))
		cap = 1u << 20;
	char *buf = malloc(cap);
	uint64_t line = 0;
	int oversized = 0;
	uint64_t over_len = 0;
	if (!buf)
		cli_die(EX_FAIL, "out of memory");
	for (;;) {
		/* Group commit: sync when the input pauses (so that an
		 * acknowledgement never waits for more input); otherwise hand
		 * the batch over as soon as the committer is free, so that
		 * batches grow with the load and a sync follows every read. */
		int pending = es_producer_pending(prod) > 0;
		if (o.sync == ES_SYNC_ALWAYS || pending ||
		    es_producer_unreaped(prod)) {
			/* A batch handed over and not yet acknowledged counts
			 * too: the next read may bring no whole line. */
			if (o.sync == ES_SYNC_ALWAYS || input_paused(fd))
				commit(1);
			else if (pending && !es_producer_busy(prod))
				commit(0);
		}
		/* A signal that came during the sync above: stop before the
		 * read, which would wait for more input. */
		if (cli_signal)
			break;
		if (start > 0) {
			memmove(buf, buf + start, end - start);
			end -= start;
			start = 0;
		}
		if (end == cap) {
			/* A record longer than any allowed: skip to its end. */
			if (!oversized) {
				oversized = 1;
				over_len = 0;
				if (o.reject_fd < 0) {
					commit(1);
					cli_die(EX_DATAERR_, "%s:%llu: record over "
					        "max_record_bytes (%zu)", file,
						(unsigned long long)line + 1, max_rec);
				}
				cli_warn("%s:%llu: record over max_record_bytes "
					 "(%zu) (rejected)", file,
					 (unsigned long long)line + 1, max_rec);
				rejected++;
			}
			if (es_write_all(o.reject_fd, buf, end))
				cli_die(EX_IOERR_, "cannot write '%s': %s",
					o.reject_path, strerror(errno));
			over_len += end;
			start = end = 0;
		}
		ssize_t n = read(fd, buf + end, cap - end);
		if (n < 0) {
			if (errno == EINTR && cli_signal)
				break;
			if (errno == EINTR)
				continue;
			cli_die(EX_IOERR_, "cannot read '%s': %s", file,
				strerror(errno));
		}
		if (n == 0)
			break;
		end += (size_t)n;
		int64_t now = cli_wall_ms();
		char *p = buf + start, *e = buf + end, *d;
		while ((d = memchr(p, o.delim, (size_t)(e - p)))) {
			line++;
			if (oversized) {
				if (es_write_all(o.reject_fd, p, (size_t)(d - p + 1)))
					cli_die(EX_IOERR_, "cannot write '%s'",
						o.reject_path);
				oversized = 0;
			} else {
				one_record(file, line, p, (size_t)(d - p), now);
			}
			p = d + 1;
		}
		start = (size_t)(p - buf);
		if (cli_signal)
			break;
	}
	if (cli_signal) {
		if (end > start)
			cli_warn("interrupted: a partial record of %zu bytes "
				 "(no delimiter yet) was not written", end - start);
	} else if (oversized) {
		if (es_write_all(o.reject_fd, buf + start, end - start) ||
		    es_write_all(o.reject_fd, &o.delim, 1))
			cli_die(EX_IOERR_, "cannot write '%s'", o.reject_path);
	} else if (end > start) {
		/* A last record without a delimiter is a record too. */
		one_record(file, line + 1, buf + start, end - start, cli_wall_ms());
	}
	commit(1);
	free(buf);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"key-field", required_argument, 0, OPT_KEY_FIELD},
		{"sync", required_argument, 0, OPT_SYNC},
		{"ack", no_argument, 0, OPT_ACK},
		{"reject", required_argument, 0, OPT_REJECT},
		{"create", no_argument, 0, OPT_CREATE},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, OPT_VERSION},
		{0, 0, 0, 0},
	};
	int ch, create = 0;
	cli_init("es-produce");
	cli_signals();
	while ((ch = getopt_long(argc, argv, "0K:Zk:JH:p:h", opts, NULL)) != -1) {
		switch (ch) {
		case '0': o.delim = 0; break;
		case 'K':
			if (!*optarg)
				cli_usage_error("-K needs a non-empty delimiter");
			o.kdelim = optarg;
			o.kdelim_len = strlen(optarg);
			break;
		case 'Z': o.null_empty = 1; break;
		case 'k': o.key = optarg; break;
		case 'J': o.json = 1; break;
		case 'H': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg)
				cli_usage_error("bad header '%s' (use NAME=VALUE)",
						optarg);
			if (es_header_add(&o.headers, optarg, (size_t)(eq - optarg),
					  eq + 1, strlen(eq + 1)) != 0)
				cli_usage_error("header '%.40s...' is too large",
						optarg);
			break;
		}
		case 'p': {
			uint64_t v;
			if (cli_parse_u64(optarg, &v) || v > INT32_MAX)
				cli_usage_error("bad partition '%s'", optarg);
			o.partition = (int)v;
			break;
		}
		case OPT_KEY_FIELD:
			o.key_field = optarg;
			o.key_field_len = strlen(optarg);
			break;
		case OPT_SYNC:
			if (!strcmp(optarg, "always")) o.sync = ES_SYNC_ALWAYS;
			else if (!strcmp(optarg, "batch")) o.sync = ES_SYNC_BATCH;
			else if (!strcmp(optarg, "none")) o.sync = ES_SYNC_NONE;
			else cli_usage_error("bad --sync '%s' (always, batch or none)",
					     optarg);
			break;
		case OPT_ACK: o.ack = 1; break;
		case OPT_REJECT: o.reject_path = optarg; break;
		case OPT_CREATE: create = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		case OPT_VERSION: cli_version();
		default: cli_usage_error("bad option");
		}
	}
	if (optind >= argc)
		cli_usage_error("missing TOPIC");
	if ((o.key != NULL) + (o.kdelim != NULL) + (o.key_field != NULL) +
		    o.json > 1)
		cli_usage_error("-k, -K, --key-field and -J are exclusive");
	const char *name = argv[optind++];
	const char *path = cli_topic_path(name);
	if (create && !es_topic_exists(path)) {
		es_config c;
		es_error err = {{0}};
		es_config_default(&c);
		int rc = es_topic_create(path, &c, &err);
		if (rc && rc != EEXIST) /* EEXIST: another producer won */
			cli_die(EX_CANTCREAT_, "%s", err.msg);
	}
	cli_create_hint = ", or use --create";
	es_topic *t = cli_open_topic(name);
	const es_config *c = es_topic_config(t);
	if (o.partition >= 0 && (uint32_t)o.partition >= c->partitions)
		cli_usage_error("partition %d out of range (topic has %u)",
				o.partition, c->partitions);
	if (o.sync < 0)
		o.sync = c->sync;
	if (o.reject_path) {
		o.reject_fd = open(o.reject_path,
				   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (o.reject_fd < 0)
			cli_die(EX_CANTCREAT_, "cannot create '%s': %s",
				o.reject_path, strerror(errno));
	}
	es_error err = {{0}};
	int rc = es_producer_open(t, o.sync, &prod, &err);
	if (rc)
		cli_die(cli_status(rc), "%s", err.msg);
	size_t max_rec = (size_t)c->max_record_bytes;
	if (optind == argc) {
		produce_fd(0, "stdin", max_rec);
	} else {
		for (int i = optind; i < argc && !cli_signal; i++) {
			int fd = strcmp(argv[i], "-") ? open(argv[i], O_RDONLY | O_CLOEXEC)
						     : 0;
			if (fd < 0)
				cli_die(EX_NOINPUT_, "cannot open '%s': %s", argv[i],
					strerror(errno));
			produce_fd(fd, fd ? argv[i] : "stdin", max_rec);
			if (fd)
				close(fd);
		}
	}
	commit(1);
	if (o.reject_fd >= 0 && (fsync(o.reject_fd) != 0 || close(o.reject_fd)))
		cli_die(EX_IOERR_, "cannot write '%s': %s", o.reject_path,
			strerror(errno));
	es_producer_close(prod);
	es_topic_close(t);
	es_envelope_free(&env);
	es_buf_free(&scratch);
	es_buf_free(&hdrs);
	es_buf_free(&o.headers);
	out_flush();
	if (rejected)
		cli_warn("%llu records rejected, written to '%s'",
			 (unsigned long long)rejected, o.reject_path);
	cli_exit(rejected ? EX_DATAERR_ : 0);
}
