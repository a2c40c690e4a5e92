/* config.c - topic.yaml: defaults, parsing (libyaml), overrides, rendering */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "es.h"

/* A topic.yaml is a dozen lines; anything bigger is a mistake, and the cap
 * keeps a hostile file from costing more than this much parsing. */
#define CONFIG_MAX (64 * 1024)

#define PARTITIONS_MAX 100000
#define SEGMENT_BYTES_MIN 64ULL
#define SEGMENT_BYTES_MAX (2ULL << 30) /* positions in a segment are u32 */
#define RECORD_BYTES_MAX (256ULL << 20)

enum {
	K_FORMAT,
	K_PARTITIONS,
	K_SEGMENT_BYTES,
	K_SEGMENT_AGE,
	K_RETENTION,
	K_RETENTION_BYTES,
	K_CLEANUP,
	K_DELETE_RETENTION,
	K_COMPRESSION,
	K_MAX_RECORD_BYTES,
	K_SYNC,
	K_COUNT
};

static const char *const key_names[K_COUNT] = {
	"format",	"partitions",	    "segment_bytes",
	"segment_age",	"retention",	    "retention_bytes",
	"cleanup",	"delete_retention", "compression",
	"max_record_bytes", "sync",
};

static const char SIZE_HINT[] = "use B, KiB, MiB, GiB";
static const char DURATION_HINT[] = "use ms, s, m, h, d, w";

void es_config_default(es_config *c)
{
	memset(c, 0, sizeof *c);
	c->format = ES_FORMAT;
	c->partitions = 1;
	c->segment_bytes = 64ULL << 20;
	c->segment_age_ms = 86400000LL;
	c->retention_ms = 7LL * 86400000;
	c->retention_bytes = 0;
	c->cleanup = ES_CLEANUP_DELETE;
	c->delete_retention_ms = 86400000;
	c->compression = ES_COMPRESSION_NONE;
	c->max_record_bytes = 1ULL << 20;
	c->sync = ES_SYNC_BATCH;
}

/* Why a value was refused; the caller words it for a file or an option. */
enum { P_SYNTAX = 1, P_RANGE, P_NEWER };

struct problem {
	int kind;
	const char *noun;  /* P_SYNTAX: "size", "duration", ... */
	char detail[96];   /* a hint ("use ...") or a range ("must be ...") */
};

static int syntax(struct problem *p, const char *noun, const char *hint)
{
	p->kind = P_SYNTAX;
	p->noun = noun;
	snprintf(p->detail, sizeof p->detail, "%s", hint);
	return -1;
}

static int size_range(struct problem *p, uint64_t lo, uint64_t hi)
{
	char a[32], b[32];

	es_format_size(lo, a, sizeof a);
	es_format_size(hi, b, sizeof b);
	p->kind = P_RANGE;
	snprintf(p->detail, sizeof p->detail, "must be between %s and %s",
		 lo ? a : "0B", b);
	return -1;
}

/* 0, 1 for not a decimal number, 2 for one too big for 64 bits (which is
 * a range problem, not a syntax one: the user did write a number). */
static int parse_uint(const char *v, uint64_t *out)
{
	uint64_t n = 0;
	int big = 0;

	if (!*v)
		return 1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return 1;
		if (n > (UINT64_MAX - 9) / 10)
			big = 1;
		else
			n = n * 10 + (unsigned)(*v - '0');
	}
	*out = n;
	return big ? 2 : 0;
}

/* Validate value v of key id and store it in c; on failure fill p and leave
 * c unchanged. v is NUL-terminated and len is its length, so an embedded
 * NUL (a YAML "\0" escape) cannot hide trailing garbage. */
static int apply(es_config *c, int id, const char *v, size_t len,
		 struct problem *p)
{
	uint64_t n = 0;
	int64_t d;
	int r;

	if (strlen(v) != len)
		v = "\x01"; /* parses as nothing below */
	switch (id) {
	case K_FORMAT:
		r = parse_uint(v, &n);
		if (r == 1)
			return syntax(p, "number", "use a whole number");
		if (r == 2 || n > ES_FORMAT) {
			p->kind = P_NEWER;
			return -1;
		}
		if (n < 1) {
			p->kind = P_RANGE;
			snprintf(p->detail, sizeof p->detail,
				 "must be at least 1");
			return -1;
		}
		c->format = (int)n;
		return 0;
	case K_PARTITIONS:
		r = parse_uint(v, &n);
		if (r == 1)
			return syntax(p, "number", "use a whole number");
		if (r == 2 || n < 1 || n > PARTITIONS_MAX) {
			p->kind = P_RANGE;
			snprintf(p->detail, sizeof p->detail,
				 "must be between 1 and %d", PARTITIONS_MAX);
			return -1;
		}
		c->partitions = (uint32_t)n;
		return 0;
	case K_SEGMENT_BYTES:
	case K_RETENTION_BYTES:
	case K_MAX_RECORD_BYTES:
		if (es_parse_size(v, &n))
			return syntax(p, "size", SIZE_HINT);
		if (id == K_SEGMENT_BYTES) {
			if (n < SEGMENT_BYTES_MIN || n > SEGMENT_BYTES_MAX)
				return size_range(p, SEGMENT_BYTES_MIN,
						  SEGMENT_BYTES_MAX);
			c->segment_bytes = n;
		} else if (id == K_MAX_RECORD_BYTES) {
			if (n < 1 || n > RECORD_BYTES_MAX)
				return size_range(p, 1, RECORD_BYTES_MAX);
			c->max_record_bytes = n;
		} else {
			c->retention_bytes = n;
		}
		return 0;
	case K_SEGMENT_AGE:
	case K_RETENTION:
	case K_DELETE_RETENTION:
		if (es_parse_duration(v, &d))
			return syntax(p, "duration", DURATION_HINT);
		if (id == K_SEGMENT_AGE) {
			/* Zero would roll a segment at every append. */
			if (d <= 0) {
				p->kind = P_RANGE;
				snprintf(p->detail, sizeof p->detail,
					 "must be more than 0");
				return -1;
			}
			c->segment_age_ms = d;
		} else if (id == K_RETENTION) {
			c->retention_ms = d;
		} else {
			c->delete_retention_ms = d;
		}
		return 0;
	case K_CLEANUP:
		if (strcmp(v, "delete") == 0)
			c->cleanup = ES_CLEANUP_DELETE;
		else if (strcmp(v, "compact") == 0)
			c->cleanup = ES_CLEANUP_COMPACT;
		else if (strcmp(v, "compact,delete") == 0 ||
			 strcmp(v, "delete,compact") == 0)
			c->cleanup = ES_CLEANUP_COMPACT | ES_CLEANUP_DELETE;
		else
			return syntax(p, "value",
				      "use delete, compact or compact,delete");
		return 0;
	case K_COMPRESSION:
		if (strcmp(v, "none") == 0)
			c->compression = ES_COMPRESSION_NONE;
		else if (strcmp(v, "zlib") == 0)
			c->compression = ES_COMPRESSION_ZLIB;
		else
			return syntax(p, "value", "use none or zlib");
		return 0;
	case K_SYNC:
		if (strcmp(v, "always") == 0)
			c->sync = ES_SYNC_ALWAYS;
		else if (strcmp(v, "batch") == 0)
			c->sync = ES_SYNC_BATCH;
		else if (strcmp(v, "none") == 0)
			c->sync = ES_SYNC_NONE;
		else
			return syntax(p, "value", "use always, batch or none");
		return 0;
	}
	return -1;
}

static int find_key(const char *k, size_t len)
{
	for (int i = 0; i < K_COUNT; i++)
		if (strlen(key_names[i]) == len &&
		    memcmp(key_names[i], k, len) == 0)
			return i;
	return -1;
}

/* A value as the subject of a message: cut short so that a 60KB scalar
 * cannot crowd out the position, control bytes shown as '?' so that the
 * message stays one line on a terminal. */
static const char *quote(const char *s, size_t len, char *buf, size_t cap)
{
	size_t max = cap - 4, n = len < max ? len : max;

	if (len > max)
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--; /* do not cut a UTF-8 sequence in two */
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		buf[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	if (len > n)
		memcpy(buf + n, "...", 4);
	else
		buf[n] = '\0';
	return buf;
}

/* ---- parsing ------------------------------------------------------------- */

struct parse {
	const char *name;
	const char *text;
	size_t len;
	int rc;		/* the first error wins, except a newer format */
	es_error err;
	es_config c;
	unsigned seen;	/* bit per K_* */
};

__attribute__((format(printf, 4, 5)))
static void fail_at(struct parse *ps, int rc, yaml_mark_t m, const char *fmt,
		    ...)
{
	va_list ap;
	int n;

	/* "format: 2" explains every later surprise, so it beats an earlier
	 * unknown key that a newer es would know. */
	if (ps->rc && !(rc == ES_EFORMAT && ps->rc == ES_ECONFIG))
		return;
	ps->rc = rc;
	n = snprintf(ps->err.msg, sizeof ps->err.msg, "%s:%zu:%zu: ", ps->name,
		     m.line + 1, m.column + 1);
	if (n < 0 || (size_t)n >= sizeof ps->err.msg)
		return;
	va_start(ap, fmt);
	vsnprintf(ps->err.msg + n, sizeof ps->err.msg - (size_t)n, fmt, ap);
	va_end(ap);
}

static void yaml_failure(struct parse *ps, yaml_parser_t *y)
{
	yaml_mark_t m = y->problem_mark;
	const char *problem = y->problem ? y->problem : "invalid YAML";

	if (y->error == YAML_MEMORY_ERROR) {
		if (!ps->rc) {
			ps->rc = ENOMEM;
			snprintf(ps->err.msg, sizeof ps->err.msg,
				 "%s: out of memory", ps->name);
		}
		return;
	}
	if (y->error == YAML_READER_ERROR) {
		/* The reader decodes ahead of the scanner and reports a byte
		 * offset only; count lines up to it ourselves. */
		size_t off = y->problem_offset < ps->len ? y->problem_offset
							 : ps->len;
		memset(&m, 0, sizeof m);
		for (size_t i = 0; i < off; i++) {
			unsigned char ch = (unsigned char)ps->text[i];
			if (ch == '\n') {
				m.line++;
				m.column = 0;
			} else if ((ch & 0xc0) != 0x80) {
				m.column++;
			}
		}
	}
	if (y->context)
		fail_at(ps, ES_ECONFIG, m, "%s (%s at %zu:%zu)", problem,
			y->context, y->context_mark.line + 1,
			y->context_mark.column + 1);
	else
		fail_at(ps, ES_ECONFIG, m, "%s", problem);
}

static const char *node_kind(yaml_event_type_t t)
{
	switch (t) {
	case YAML_MAPPING_START_EVENT: return "a mapping";
	case YAML_SEQUENCE_START_EVENT: return "a sequence";
	case YAML_ALIAS_EVENT: return "an alias";
	default: return "a scalar";
	}
}

static void pair(struct parse *ps, int id, const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct problem p;
	char q[64];

	if (len == 0 && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		fail_at(ps, ES_ECONFIG, ev->start_mark,
			"missing value for '%s'", key_names[id]);
		return;
	}
	if (apply(&ps->c, id, v, len, &p) == 0)
		return;
	quote(v, len, q, sizeof q);
	if (p.kind == P_NEWER)
		fail_at(ps, ES_EFORMAT, ev->start_mark,
			"format %s is newer than this es supports (%d)", q,
			ES_FORMAT);
	else if (p.kind == P_RANGE)
		fail_at(ps, ES_ECONFIG, ev->start_mark, "'%s' %s",
			key_names[id], p.detail);
	else
		fail_at(ps, ES_ECONFIG, ev->start_mark,
			"bad %s '%s' for '%s' (%s)", p.noun, q, key_names[id],
			p.detail);
}

/*
 * The walk over libyaml's events, for a document that must be one flat
 * mapping of scalar keys to scalar values:
 *  (1) the first error is kept and the walk goes on to the end of the
 *      document, only so that a newer `format:` anywhere can take over;
 *  (2) a collection in the wrong place is skipped whole (skip counts its
 *      depth), so that the walk stays in step with key/value order;
 *  (3) nothing is kept from one event to the next but a key number and
 *      marks, so memory does not grow with the input.
 */
static void walk(struct parse *ps, yaml_parser_t *y)
{
	yaml_mark_t end = { 0, 0, 0 };
	int docs = 0, in_map = 0, want_key = 1, skip = 0, key = -1, done = 0;
	char q[64];

	while (!done) {
		yaml_event_t ev;
		int node = 0; /* a whole key or value just ended */

		if (!yaml_parser_parse(y, &ev)) {
			yaml_failure(ps, y);
			return;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			if (!docs)
				end = ev.start_mark;
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				fail_at(ps, ES_ECONFIG, ev.start_mark,
					"only one document is allowed");
				done = 1;
			}
			break;
		case YAML_DOCUMENT_END_EVENT:
			end = ev.start_mark;
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_ALIAS_EVENT:
		case YAML_SCALAR_EVENT:
			if (skip) {
				if (ev.type == YAML_MAPPING_START_EVENT ||
				    ev.type == YAML_SEQUENCE_START_EVENT)
					skip++;
				break;
			}
			if (!in_map) {
				if (ev.type == YAML_MAPPING_START_EVENT) {
					in_map = 1;
					break;
				}
				/* "---" alone is an empty document, a null. */
				if (ev.type == YAML_SCALAR_EVENT &&
				    ev.data.scalar.length == 0 &&
				    ev.data.scalar.style ==
					    YAML_PLAIN_SCALAR_STYLE)
					break;
				fail_at(ps, ES_ECONFIG, ev.start_mark,
					"expected a mapping of keys to values, "
					"found %s", node_kind(ev.type));
				done = 1;
				break;
			}
			if (ev.type != YAML_SCALAR_EVENT) {
				if (want_key)
					fail_at(ps, ES_ECONFIG, ev.start_mark,
						"expected a key, found %s",
						node_kind(ev.type));
				else if (key >= 0)
					fail_at(ps, ES_ECONFIG, ev.start_mark,
						"expected a single value for "
						"'%s', found %s",
						key_names[key],
						node_kind(ev.type));
				if (ev.type == YAML_ALIAS_EVENT)
					node = 1;
				else
					skip = 1;
				key = -1;
				break;
			}
			node = 1;
			if (!want_key) {
				if (key >= 0)
					pair(ps, key, &ev);
				break;
			}
			key = find_key((const char *)ev.data.scalar.value,
				       ev.data.scalar.length);
			if (key < 0) {
				quote((const char *)ev.data.scalar.value,
				      ev.data.scalar.length, q, sizeof q);
				fail_at(ps, ES_ECONFIG, ev.start_mark,
					"unknown key '%s'", q);
			} else if (ps->seen & (1u << key)) {
				fail_at(ps, ES_ECONFIG, ev.start_mark,
					"duplicate key '%s'", key_names[key]);
				key = -1;
			} else {
				ps->seen |= 1u << key;
			}
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (skip) {
				node = --skip == 0;
				break;
			}
			in_map = 0;
			end = ev.start_mark;
			break;
		default:
			break;
		}
		if (node)
			want_key = !want_key;
		yaml_event_delete(&ev);
	}
	if (ps->rc)
		return;
	if (!(ps->seen & (1u << K_FORMAT)))
		fail_at(ps, ES_ECONFIG, end, "missing required key 'format'");
	else if (!(ps->seen & (1u << K_PARTITIONS)))
		fail_at(ps, ES_ECONFIG, end,
			"missing required key 'partitions'");
}

int es_config_parse(const char *text, size_t len, const char *name,
		    es_config *c, es_error *err)
{
	struct parse ps;
	yaml_parser_t y;

	memset(&ps, 0, sizeof ps);
	ps.name = name ? name : "topic.yaml";
	ps.text = text ? text : "";
	ps.len = text ? len : 0;
	es_config_default(&ps.c);
	if (ps.len > CONFIG_MAX) {
		if (err)
			snprintf(err->msg, sizeof err->msg,
				 "%s: too large (%zu bytes; the limit is "
				 "64KiB)", ps.name, ps.len);
		return ES_ECONFIG;
	}
	if (!yaml_parser_initialize(&y)) {
		if (err)
			snprintf(err->msg, sizeof err->msg, "%s: out of memory",
				 ps.name);
		return ENOMEM;
	}
	yaml_parser_set_input_string(&y, (const unsigned char *)ps.text,
				     ps.len);
	walk(&ps, &y);
	yaml_parser_delete(&y);
	if (ps.rc) {
		if (err)
			*err = ps.err;
		return ps.rc;
	}
	*c = ps.c;
	return 0;
}

int es_config_load(const char *path, es_config *c, es_error *err)
{
	char *buf;
	size_t len = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno;
		if (err)
			snprintf(err->msg, sizeof err->msg,
				 "cannot open '%s': %s", path, strerror(rc));
		return rc;
	}
	/* One byte more than the limit tells "too large" from "just fits"
	 * without trusting st_size, which a growing file can outrun. */
	buf = malloc(CONFIG_MAX + 1);
	if (!buf) {
		close(fd);
		if (err)
			snprintf(err->msg, sizeof err->msg, "%s: out of memory",
				 path);
		return ENOMEM;
	}
	while (len < CONFIG_MAX + 1) {
		ssize_t n = read(fd, buf + len, CONFIG_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = errno;
			if (err)
				snprintf(err->msg, sizeof err->msg,
					 "cannot read '%s': %s", path,
					 strerror(rc));
			free(buf);
			close(fd);
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > CONFIG_MAX) {
		free(buf);
		if (err)
			snprintf(err->msg, sizeof err->msg,
				 "%s: too large (over 64KiB); is it a "
				 "topic.yaml?", path);
		return ES_ECONFIG;
	}
	rc = es_config_parse(buf, len, path, c, err);
	free(buf);
	return rc;
}

/* ---- options ------------------------------------------------------------- */

/* A key as options write it, with hyphens, or as topic.yaml does. */
static int option_key(const char *key)
{
	char k[32];
	size_t n = strlen(key);
	if (n >= sizeof k)
		return -1;
	for (size_t i = 0; i <= n; i++)
		k[i] = key[i] == '-' ? '_' : key[i];
	return find_key(k, n);
}

int es_config_set(es_config *c, const char *key, const char *value,
		  es_error *err)
{
	char opt[32], q[64];
	struct problem p;

	if (!key)
		key = "";
	size_t n = strlen(key);
	int id = option_key(key);
	if (id < 0) {
		if (err)
			snprintf(err->msg, sizeof err->msg,
				 "unknown setting '%s'",
				 quote(key, n, q, sizeof q));
		return ES_EUSAGE;
	}
	for (size_t i = 0; i <= n; i++)
		opt[i] = key[i] == '_' ? '-' : key[i];
	/* The format belongs to the bytes on disk, not to the user. */
	if (id == K_FORMAT) {
		if (err)
			snprintf(err->msg, sizeof err->msg,
				 "'format' cannot be set: it is fixed by the "
				 "data on disk");
		return ES_EUSAGE;
	}
	if (!value)
		value = "";
	if (apply(c, id, value, strlen(value), &p) == 0)
		return 0;
	if (err)
		snprintf(err->msg, sizeof err->msg,
			 "bad value '%s' for --%s: %s",
			 quote(value, strlen(value), q, sizeof q), opt,
			 p.detail);
	return ES_EUSAGE;
}

/* ---- rendering ----------------------------------------------------------- */

/* What es_config_parse would accept: rendering anything else would write a
 * topic.yaml that the next open refuses. */
static int valid(const es_config *c)
{
	return c->format >= 1 && c->format <= ES_FORMAT &&
	       c->partitions >= 1 && c->partitions <= PARTITIONS_MAX &&
	       c->segment_bytes >= SEGMENT_BYTES_MIN &&
	       c->segment_bytes <= SEGMENT_BYTES_MAX &&
	       c->segment_age_ms > 0 && c->retention_ms >= 0 &&
	       c->delete_retention_ms >= 0 && c->cleanup >= 1 &&
	       c->cleanup <= 3 && c->compression >= ES_COMPRESSION_NONE &&
	       c->compression <= ES_COMPRESSION_ZLIB &&
	       c->max_record_bytes >= 1 &&
	       c->max_record_bytes <= RECORD_BYTES_MAX &&
	       c->sync >= ES_SYNC_NONE && c->sync <= ES_SYNC_ALWAYS;
}

/* Each key's comment in a topic.yaml that es writes. */
static const char *const key_comments[K_COUNT] = {
	[K_FORMAT] = "on-disk layout version; do not edit",
	[K_PARTITIONS] = "may grow, never shrink",
	[K_SEGMENT_BYTES] = "roll the active segment at this size",
	[K_SEGMENT_AGE] = "... or at this age",
	[K_RETENTION] = "keep closed segments this long; 0 = forever",
	[K_RETENTION_BYTES] = "per partition; 0 = no limit",
	[K_CLEANUP] = "delete | compact | compact,delete",
	[K_DELETE_RETENTION] = "how long tombstones survive compaction",
	[K_COMPRESSION] = "none | zlib: for closed segments",
	[K_MAX_RECORD_BYTES] = "larger records are refused",
	[K_SYNC] = "always | batch | none",
};

/* A value as topic.yaml says it, the inverse of apply. */
static void value_of(const es_config *c, int id, char *v, size_t size)
{
	static const char *const cleanup[] = { "", "delete", "compact",
					       "compact,delete" };
	static const char *const sync[] = { "none", "batch", "always" };
	switch (id) {
	case K_FORMAT: snprintf(v, size, "%d", c->format); break;
	case K_PARTITIONS: snprintf(v, size, "%u", (unsigned)c->partitions); break;
	case K_SEGMENT_BYTES: es_format_size(c->segment_bytes, v, size); break;
	case K_SEGMENT_AGE: es_format_duration(c->segment_age_ms, v, size); break;
	case K_RETENTION: es_format_duration(c->retention_ms, v, size); break;
	case K_RETENTION_BYTES: es_format_size(c->retention_bytes, v, size); break;
	case K_CLEANUP: snprintf(v, size, "%s", cleanup[c->cleanup]); break;
	case K_DELETE_RETENTION:
		es_format_duration(c->delete_retention_ms, v, size);
		break;
	case K_COMPRESSION:
		snprintf(v, size, "%s", c->compression ? "zlib" : "none");
		break;
	case K_MAX_RECORD_BYTES: es_format_size(c->max_record_bytes, v, size); break;
	case K_SYNC: snprintf(v, size, "%s", sync[c->sync]); break;
	}
}

const char *es_config_key(size_t i)
{
	return i < K_COUNT ? key_names[i] : NULL;
}

int es_config_get(const es_config *c, const char *key, char *value,
		  size_t size)
{
	int id = option_key(key);
	if (id < 0 || !valid(c))
		return ES_EUSAGE;
	value_of(c, id, value, size);
	return 0;
}

int es_config_format(const es_config *c, es_buf *b)
{
	static const char head[] = "# es topic configuration; see es-format(5)\n";
	size_t start = b->len;

	if (!valid(c))
		return ES_EUSAGE;
	int rc = es_buf_append(b, head, sizeof head - 1);
	for (int id = 0; id < K_COUNT && !rc; id++) {
		char v[32], l[160];
		value_of(c, id, v, sizeof v);
		int n = snprintf(l, sizeof l, "%s: %-*s # %s\n", key_names[id],
				 (int)(24 - strlen(key_names[id])), v,
				 key_comments[id]);
		rc = n < 0 || (size_t)n >= sizeof l ? ENOMEM
						    : es_buf_append(b, l, (size_t)n);
	}
	if (!rc)
		rc = es_buf_reserve(b, 1);
	if (rc) {
		b->len = start; /* no half-written configuration */
		return rc;
	}
	b->data[b->len] = '\0';
	return 0;
}
