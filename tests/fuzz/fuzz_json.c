/* fuzz_json.c - fuzz the JSON scanner and the -J record/envelope round trip */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "es.h"

#define ASSERT(e)                                                          \
	do {                                                               \
		if (!(e)) {                                                \
			fprintf(stderr, "%s:%d: ASSERT(%s) failed\n",      \
				__FILE__, __LINE__, #e);                   \
			abort();                                           \
		}                                                          \
	} while (0)

static int same(const void *a, size_t an, const void *b, size_t bn)
{
	return an == bn && (!an || !memcmp(a, b, an));
}

/* Is h's name the same as a later header's in the block? The slow,
 * obvious way, to check the library's de-duplication. */
static int repeated_later(const unsigned char *block, uint32_t len,
			  uint32_t after, const es_header *h)
{
	es_header g;
	while (es_header_next(block, len, &after, &g) == 1)
		if (same(g.name, g.name_len, h->name, h->name_len))
			return 1;
	return 0;
}

/* Do parsed headers hold exactly the last value of each name of want? */
static int same_headers(const es_buf *got, const unsigned char *want,
			uint32_t want_len)
{
	uint32_t pos = 0, n_got = 0, n_want = 0;
	es_header g, w;
	while (es_header_next((const unsigned char *)got->data,
			      (uint32_t)got->len, &pos, &g) == 1) {
		uint32_t p2 = 0;
		int found = 0;
		n_got++;
		while (es_header_next(want, want_len, &p2, &w) == 1)
			if (same(w.name, w.name_len, g.name, g.name_len) &&
			    !repeated_later(want, want_len, p2, &w))
				found = same(w.value, w.value_len, g.value,
					     g.value_len);
		if (!found)
			return 0;
	}
	ASSERT(pos == got->len);
	pos = 0;
	while (es_header_next(want, want_len, &pos, &w) == 1)
		n_want += !repeated_later(want, want_len, pos, &w);
	return n_got == n_want;
}

/* Format r, check the line, parse it back and compare. */
static void roundtrip(const char *topic, uint32_t partition,
		      const es_record *r)
{
	es_buf out = {0}, scratch = {0};
	es_envelope e = {0};
	es_error err = {{0}};
	const char *v;
	size_t vl;
	char num[32];

	ASSERT(es_json_format_record(&out, topic, partition, r) == 0);
	/* One line: a newline only at the end. */
	ASSERT(out.len > 0 && out.data[out.len - 1] == '\n');
	ASSERT(!memchr(out.data, '\n', out.len - 1));
	ASSERT(es_json_field(out.data, out.len - 1, "offset", 6, &v, &vl,
			     &scratch, &err) == 0);
	snprintf(num, sizeof num, "%llu", (unsigned long long)r->offset);
	ASSERT(same(v, vl, num, strlen(num)));
	int rc = es_json_field(out.data, out.len - 1, "topic", 5, &v, &vl,
			       &scratch, &err);
	if (es_utf8_valid(topic, strlen(topic)))
		ASSERT(rc == 0 && same(v, vl, topic, strlen(topic)));
	else
		ASSERT(rc == ES_ENOFIELD);

	rc = es_envelope_parse(&e, out.data, out.len - 1, &err);
	if (r->timestamp < 0) { /* the envelope refuses it */
		ASSERT(rc == ES_EBADJSON);
		goto done;
	}
	if (rc)
		fprintf(stderr, "%s: %.*s", err.msg, (int)out.len, out.data);
	ASSERT(rc == 0);
	if (r->key_len == ES_NULL_LEN)
		ASSERT(e.key_null && e.key.len == 0);
	else
		ASSERT(!e.key_null && same(e.key.data, e.key.len, r->key,
					   r->key_len));
	if (r->value_len == ES_NULL_LEN)
		ASSERT(e.value_null && e.value.len == 0);
	else
		ASSERT(!e.value_null && same(e.value.data, e.value.len,
					     r->value, r->value_len));
	ASSERT(e.has_partition && e.partition == partition);
	ASSERT(e.has_timestamp && e.timestamp == r->timestamp);
	ASSERT(same_headers(&e.headers, r->headers, r->headers_len));
done:
	es_buf_free(&out);
	es_buf_free(&scratch);
	es_envelope_free(&e);
}

/* Bytes of the input, read front to back; zeros past the end. */
struct reader {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct reader *r, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++) {
		v = v << 8 | (r->n ? *r->p : 0);
		if (r->n)
			r->p++, r->n--;
	}
	return v;
}

static const uint8_t *take_bytes(struct reader *r, size_t *n)
{
	const uint8_t *p = r->p;
	if (*n > r->n)
		*n = r->n;
	r->p += *n;
	r->n -= *n;
	return p;
}

/* The input as raw JSON: both readers, and they must agree. */
static void raw(const uint8_t *data, size_t size)
{
	es_buf scratch = {0};
	es_envelope e = {0};
	es_error err = {{0}}, err2 = {{0}};
	const char *v;
	size_t vl;
	int rc = es_json_field((const char *)data, size, "key", 3, &v, &vl,
			       &scratch, &err);
	ASSERT(rc == 0 || rc == ES_EBADJSON || rc == ES_ENOFIELD);
	if (rc == 0) /* a string unescapes to UTF-8; a number is ASCII */
		ASSERT(es_utf8_valid(v, vl));
	if (rc == ES_EBADJSON)
		ASSERT(!strncmp(err.msg, "column ", 7));
	int rc2 = es_envelope_parse(&e, (const char *)data, size, &err2);
	ASSERT(rc2 == 0 || rc2 == ES_EBADJSON);
	if (rc == ES_EBADJSON) /* one scanner: the same first error */
		ASSERT(rc2 == ES_EBADJSON && !strcmp(err.msg, err2.msg));
	if (rc2 == 0) {
		/* What the envelope reader accepts, the writer reproduces. */
		es_record r = {
			.offset = 1,
			.timestamp = e.timestamp,
			.key = (const unsigned char *)e.key.data,
			.key_len = e.key_null ? ES_NULL_LEN :
						(uint32_t)e.key.len,
			.value = (const unsigned char *)e.value.data,
			.value_len = e.value_null ? ES_NULL_LEN :
						    (uint32_t)e.value.len,
			.headers = (const unsigned char *)e.headers.data,
			.headers_len = (uint32_t)e.headers.len,
		};
		roundtrip("t", e.partition, &r);
	}
	es_buf_free(&scratch);
	es_envelope_free(&e);

	/* Writers: a UTF-8 string escapes and reads back; any bytes go
	 * through base64 and back. */
	es_buf b = {0};
	es_envelope e2 = {0};
	if (es_utf8_valid(data, size)) {
		es_buf_append(&b, "{\"k\":", 5);
		ASSERT(es_json_append_string(&b, data, size) == 0);
		es_buf_append(&b, "}", 1);
		ASSERT(es_json_field(b.data, b.len, "k", 1, &v, &vl, &scratch,
				     &err) == 0);
		ASSERT(same(v, vl, data, size));
		es_buf_free(&scratch);
	}
	b.len = 0;
	es_buf_append(&b, "{\"value_b64\":\"", 14);
	ASSERT(es_base64_append(&b, data, size) == 0);
	es_buf_append(&b, "\"}", 2);
	ASSERT(es_envelope_parse(&e2, b.data, b.len, &err) == 0);
	ASSERT(same(e2.value.data, e2.value.len, data, size));
	es_envelope_free(&e2);
	es_buf_free(&b);
}

/* The input as a record: flags, timestamp, partition, topic, key, value,
 * then headers with short names, so that names repeat. */
static void record(const uint8_t *data, size_t size)
{
	struct reader rd = { data, size };
	es_buf hdrs = {0};
	es_record r = {0};
	char topic[17];
	unsigned flags = (unsigned)take(&rd, 1);
	r.timestamp = (int64_t)take(&rd, 8);
	if (!(flags & 8)) /* mostly valid timestamps */
		r.timestamp &= INT64_MAX;
	r.offset = take(&rd, 8);
	uint32_t partition = (uint32_t)take(&rd, 4);
	size_t n = take(&rd, 1) % 17;
	const uint8_t *t = take_bytes(&rd, &n);
	memcpy(topic, t, n);
	topic[n] = 0; /* a C string: it ends at its first NUL */
	n = take(&rd, 1);
	r.key = take_bytes(&rd, &n);
	r.key_len = flags & 1 ? ES_NULL_LEN : (uint32_t)n;
	n = take(&rd, 2);
	r.value = take_bytes(&rd, &n);
	r.value_len = flags & 2 ? ES_NULL_LEN : (uint32_t)n;
	while (rd.n) {
		size_t nl = take(&rd, 1) % 4, vl;
		const uint8_t *name = take_bytes(&rd, &nl);
		vl = take(&rd, 1);
		const uint8_t *value = take_bytes(&rd, &vl);
		ASSERT(es_header_add(&hdrs, (const char *)name, nl,
				     (const char *)value, vl) == 0);
	}
	r.headers = (const unsigned char *)hdrs.data;
	r.headers_len = (uint32_t)hdrs.len;
	roundtrip(topic, partition, &r);
	es_buf_free(&hdrs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	raw(data, size);
	record(data, size);
	return 0;
}
