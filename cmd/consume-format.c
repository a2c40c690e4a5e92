/* consume-format.c - es-consume's output formats: plain, -K, -F, -J */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "consume.h"

/* Inline, not es_buf_append: every record passes here, and the buffer
 * only grows on the first few. */
static inline void put(es_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len < n && es_buf_reserve(b, n))
		cli_die(EX_FAIL, "out of memory");
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void put_bytes(es_buf *b, const unsigned char *p, uint32_t len)
{
	if (len != ES_NULL_LEN)
		put(b, p, len);
}

static void put_printf(es_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put_printf(es_buf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	put(b, tmp, (size_t)n);
}

static void put_iso(es_buf *b, int64_t ms)
{
	char buf[48];
	cli_iso_time(ms, buf, sizeof buf);
	put(b, buf, strlen(buf));
}

/* Headers as kcat prints them: name=value,name=value */
static void put_headers(es_buf *b, const es_record *r)
{
	uint32_t pos = 0;
	es_header h;
	int first = 1;
	while (es_header_next(r->headers, r->headers_len, &pos, &h) == 1) {
		if (!first)
			put(b, ",", 1);
		first = 0;
		put(b, h.name, h.name_len);
		put(b, "=", 1);
		put(b, h.value, h.value_len);
	}
}

static void put_format(es_buf *b, uint32_t part, const es_record *r)
{
	for (const char *f = o.format; *f; f++) {
		if (*f == '\\' && f[1]) {
			f++;
			char c = *f == 'n' ? '\n' : *f == 't' ? '\t' : *f == '0' ? 0
			       : *f == 'r' ? '\r' : *f;
			put(b, &c, 1);
			continue;
		}
		if (*f != '%' || !f[1]) {
			put(b, f, 1);
			continue;
		}
		switch (*++f) {
		case 't': put(b, o.topic, strlen(o.topic)); break;
		case 'p': put_printf(b, "%u", part); break;
		case 'o': put_printf(b, "%" PRIu64, r->offset); break;
		case 'k': put_bytes(b, r->key, r->key_len); break;
		case 's': put_bytes(b, r->value, r->value_len); break;
		case 'T': put_printf(b, "%" PRId64, r->timestamp); break;
		case 'K':
			put_printf(b, "%lld", r->key_len == ES_NULL_LEN ? -1LL
					      : (long long)r->key_len);
			break;
		case 'S':
			put_printf(b, "%lld", r->value_len == ES_NULL_LEN ? -1LL
					      : (long long)r->value_len);
			break;
		case 'I': put_iso(b, r->timestamp); break;
		case 'h': put_headers(b, r); break;
		case '%': put(b, "%", 1); break;
		default: put(b, f - 1, 2);
		}
	}
}

void format_record(es_buf *b, uint32_t part, const es_record *r)
{
	switch (o.fmt) {
	case FMT_PLAIN:
		put_bytes(b, r->value, r->value_len);
		put(b, &o.term, 1);
		break;
	case FMT_KEY:
		put_bytes(b, r->key, r->key_len);
		put(b, o.kdelim, strlen(o.kdelim));
		put_bytes(b, r->value, r->value_len);
		put(b, &o.term, 1);
		break;
	case FMT_FORMAT:
		put_format(b, part, r);
		break;
	case FMT_JSON: {
		size_t at = b->len;
		if (es_json_format_record(b, o.topic, part, r) != 0)
			cli_die(EX_FAIL, "out of memory");
		if (o.term != '\n' && b->len > at)
			b->data[b->len - 1] = o.term;
		break;
	}
	}
}
