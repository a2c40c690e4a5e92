/* test_json.c - unit tests of lib/json.c: --key-field, escaping, -J */
#include "check.h"

#define S(lit) lit, sizeof lit - 1

static es_buf scratch;

/* es_json_field on a literal; returns its code, value in *v. */
static int field(const char *line, size_t len, const char *name,
		 const char **v, size_t *n, es_error *err)
{
	return es_json_field(line, len, name, strlen(name), v, n, &scratch,
			     err);
}

static int field_is(const char *line, size_t len, const char *name,
		    const char *want, size_t want_len)
{
	const char *v;
	size_t n;
	es_error err = {{0}};
	int rc = field(line, len, name, &v, &n, &err);
	if (rc)
		printf("# %s: %s\n", es_strerror(rc), err.msg);
	return rc == 0 && n == want_len && memcmp(v, want, n) == 0;
}

static void test_field_found(void)
{
	const char line[] = "{\"type\":\"LikeCreated\",\"event_id\":"
			    "\"evt_00000001\",\"post_id\":1234,\"user_id\":"
			    "56789,\"ts\":1764180000000}";
	const char *v;
	size_t n;
	es_error err;
	CHECK(field_is(S(line), "post_id", S("1234")));
	CHECK(field_is(S(line), "type", S("LikeCreated")));
	CHECK(field_is(S(line), "ts", S("1764180000000")));
	/* An unescaped string points into the line itself. */
	CHECK_OK(field(S(line), "event_id", &v, &n, &err), &err);
	CHECK(v == line + 34 && n == 12);
	CHECK(field_is(S("{\"x\":-1.5e3}"), "x", S("-1.5e3")));
	CHECK(field_is(S("{\"x\":0.25E+01}"), "x", S("0.25E+01")));
	CHECK(field_is(S(" \t{ \"x\" :\r\n \"a b\" , \"y\":[] }\n "), "x",
		       S("a b")));
	CHECK(field_is(S("{\"x\":\"\"}"), "x", S("")));
	/* The last of a repeated name wins. */
	CHECK(field_is(S("{\"x\":\"1\",\"x\":\"2\"}"), "x", S("2")));
}

static void test_field_missing(void)
{
	const char *v;
	size_t n;
	es_error err;
	CHECK(field(S("{\"user_id\":1}"), "post_id", &v, &n, &err) ==
	      ES_ENOFIELD);
	CHECK(strcmp(err.msg, "no field 'post_id'") == 0);
	CHECK(field(S("{}"), "post_id", &v, &n, &err) == ES_ENOFIELD);
	/* Nested members with the name do not count. */
	CHECK(field(S("{\"a\":{\"post_id\":\"x\"},\"b\":[{\"post_id\":1}]}"),
		    "post_id", &v, &n, &err) == ES_ENOFIELD);
	CHECK(strcmp(err.msg, "no field 'post_id'") == 0);
	/* ... and neither do string values equal to it. */
	CHECK(field(S("{\"a\":\"post_id\"}"), "post_id", &v, &n, &err) ==
	      ES_ENOFIELD);
	/* A prefix is not the name. */
	CHECK(field(S("{\"post\":1,\"post_idx\":2}"), "post_id", &v, &n,
		    &err) == ES_ENOFIELD);
}

static void test_field_not_scalar(void)
{
	static const char *lines[] = {
		"{\"post_id\":{}}", "{\"post_id\":[1]}",
		"{\"post_id\":true}", "{\"post_id\":false}",
		"{\"post_id\":null}",
	};
	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
		const char *v;
		size_t n;
		es_error err;
		CHECK(field(lines[i], strlen(lines[i]), "post_id", &v, &n,
			    &err) == ES_ENOFIELD);
		CHECK(strcmp(err.msg, "field 'post_id' is not a string or a "
				      "number") == 0);
	}
}

static void test_field_escaped(void)
{
	/* Escapes in the value are decoded into scratch. */
	CHECK(field_is(S("{\"k\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}"), "k",
		       S("a\"b\\c/d\b\f\n\r\t")));
	CHECK(field_is(S("{\"k\":\"\\u00e9\\u20AC\\ud834\\udd1e\"}"), "k",
		       S("\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e")));
	CHECK(field_is(S("{\"k\":\"a\\u0000b\"}"), "k", S("a\0b")));
	/* An escaped member name matches its decoded form. */
	CHECK(field_is(S("{\"\\u0070ost_id\":\"p1\"}"), "post_id", S("p1")));
	CHECK(field_is(S("{\"caf\\u00e9\":7}"), "caf\xc3\xa9", S("7")));
	/* Raw UTF-8 passes through. */
	CHECK(field_is(S("{\"k\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}"), "k",
		       S("caf\xc3\xa9 \xf0\x9f\x98\x80")));
	/* A long value crosses the 16-byte fast path. */
	CHECK(field_is(S("{\"k\":\"0123456789abcdef0123456789abcdef\\n"
			 "0123456789abcdef\"}"),
		       "k",
		       S("0123456789abcdef0123456789abcdef\n"
			 "0123456789abcdef")));
}

static void test_invalid(void)
{
	static const struct {
		const char *line;
		size_t len;
		const char *msg;
	} t[] = {
		{ S(""), "column 1: unexpected end of input" },
		{ S("   "), "column 4: unexpected end of input" },
		{ S("[]"), "column 1: not a JSON object" },
		{ S("\"x\""), "column 1: not a JSON object" },
		{ S("\xef\xbb\xbf{}"), "column 1: not a JSON object" },
		{ S("{"), "column 2: unexpected end of input" },
		{ S("{\"a\":1,}"), "column 8: expected a member name" },
		{ S("{'a':1}"), "column 2: expected a member name" },
		{ S("{\"a\" 1}"), "column 6: expected ':'" },
		{ S("{\"a\":}"), "column 6: unexpected character '}'" },
		{ S("{\"a\":01}"), "column 7: invalid number" },
		{ S("{\"a\":1.}"), "column 8: invalid number" },
		{ S("{\"a\":-}"), "column 7: invalid number" },
		{ S("{\"a\":1e}"), "column 8: invalid number" },
		{ S("{\"a\":.5}"), "column 6: unexpected character '.'" },
		{ S("{\"a\":+1}"), "column 6: unexpected character '+'" },
		{ S("{\"a\":NaN}"), "column 6: unexpected character 'N'" },
		{ S("{\"a\":tru}"), "column 6: invalid literal" },
		{ S("{\"a\":nul"), "column 6: invalid literal" },
		{ S("{\"a\":\"x\ty\"}"), "column 8: control character in string" },
		{ S("{\"a\":\"\\x\"}"), "column 7: invalid escape" },
		{ S("{\"a\":\"\\u12g4\"}"), "column 7: invalid \\u escape" },
		{ S("{\"a\":\"\\u12\"}"), "column 7: invalid \\u escape" },
		{ S("{\"a\":\"\\ud800\"}"), "column 7: lone surrogate in \\u escape" },
		{ S("{\"a\":\"\\udc00\"}"), "column 7: lone surrogate in \\u escape" },
		{ S("{\"a\":\"\\ud800\\u0041\"}"),
		  "column 7: lone surrogate in \\u escape" },
		{ S("{\"a\":\"\xff\"}"), "column 7: invalid UTF-8 in string" },
		{ S("{\"a\":\"\xc0\xaf\"}"), "column 7: invalid UTF-8 in string" },
		{ S("{\"a\":\"\xed\xa0\x80\"}"), "column 7: invalid UTF-8 in string" },
		{ S("{\"\xe2\x82\":1}"), "column 3: invalid UTF-8 in string" },
		{ S("{\"a\":\"abc"), "column 10: unterminated string" },
		{ S("{\"a\":\"abc\\"), "column 10: unterminated string" },
		{ S("{\"a\":1} x"), "column 9: unexpected data after the object" },
		{ S("{\"a\":1}{}"), "column 8: unexpected data after the object" },
		{ S("{\"a\":1 \"b\":2}"), "column 8: expected ',' or '}'" },
		{ S("{\"a\":[1 2]}"), "column 9: expected ',' or ']'" },
		{ S("{\"a\":[1,]}"), "column 9: unexpected character ']'" },
		{ S("{\"a\":[}"), "column 7: unexpected character '}'" },
		{ S("{\"a\":{\"b\"}}"), "column 10: expected ':'" },
		{ S("{\"a\":{1:2}}"), "column 7: expected a member name" },
		{ S("{\"a\":[[[]]"), "column 11: unexpected end of input" },
		{ S("{\"a\":\x01}"), "column 6: unexpected byte 0x01" },
		{ S("{\"a\":1\0}"), "column 7: expected ',' or '}'" },
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		const char *v;
		size_t n;
		es_error err = {{0}};
		int rc = field(t[i].line, t[i].len, "a", &v, &n, &err);
		if (rc != ES_EBADJSON || strcmp(err.msg, t[i].msg) != 0) {
			printf("# case %zu: rc %d, '%s', want '%s'\n", i, rc,
			       err.msg, t[i].msg);
			check_current = 1;
		}
		/* The envelope parser validates with the same scanner. */
		es_envelope e = {0};
		es_error err2 = {{0}};
		CHECK(es_envelope_parse(&e, t[i].line, t[i].len, &err2) ==
		      ES_EBADJSON);
		CHECK(strcmp(err.msg, err2.msg) == 0);
		es_envelope_free(&e);
	}
}

static void test_depth(void)
{
	enum { BIG = 200000 };
	char *line = malloc(BIG * 2 + 16);
	const char *v;
	size_t n, k;
	es_error err;
	/* 511 arrays inside the top-level object: 512 containers, the limit. */
	for (k = 511; k <= 512; k++) {
		n = 0;
		memcpy(line, "{\"a\":", 5), n = 5;
		memset(line + n, '[', k), n += k;
		memset(line + n, ']', k), n += k;
		memcpy(line + n, ",\"b\":2}", 7), n += 7;
		int rc = field(line, n, "b", &v, &n, &err);
		if (k == 511)
			CHECK(rc == 0);
		else
			CHECK(rc == ES_EBADJSON &&
			      strcmp(err.msg, "column 517: nesting too deep") ==
				      0);
	}
	/* Far deeper input fails the same way, without recursion. */
	memcpy(line, "{\"a\":", 5);
	memset(line + 5, '[', BIG);
	CHECK(field(line, BIG + 5, "a", &v, &n, &err) == ES_EBADJSON);
	CHECK(strcmp(err.msg, "column 517: nesting too deep") == 0);
	for (k = 0, n = 5; k < BIG / 8; k++)
		memcpy(line + n, "{\"a\":[", 6), n += 6;
	CHECK(field(line, n, "a", &v, &n, &err) == ES_EBADJSON);
	CHECK(strstr(err.msg, "nesting too deep") != NULL);
	/* Mixed objects and arrays close in the right order. */
	CHECK(field_is(S("{\"a\":[{\"b\":[{},[],{\"c\":[1,{\"d\":null}]}]}],"
			 "\"e\":\"ok\"}"),
		       "e", S("ok")));
	CHECK(field(S("{\"a\":[{\"b\":[}]]}"), "a", &v, &n, &err) ==
	      ES_EBADJSON);
	free(line);
}

static void test_utf8(void)
{
	static const struct {
		const char *s;
		size_t n;
		int ok;
	} t[] = {
		{ S(""), 1 },
		{ S("abc"), 1 },
		{ S("\xc3\xa9"), 1 },
		{ S("\xe2\x82\xac"), 1 },
		{ S("\xf0\x9d\x84\x9e"), 1 },
		{ S("\xf4\x8f\xbf\xbf"), 1 },	  /* U+10FFFF */
		{ S("\xed\x9f\xbf"), 1 },	  /* U+D7FF */
		{ S("\xee\x80\x80"), 1 },	  /* U+E000 */
		{ S("\xc2\x80"), 1 },		  /* U+0080 */
		{ S("\xe0\xa0\x80"), 1 },	  /* U+0800 */
		{ S("\xf0\x90\x80\x80"), 1 },	  /* U+10000 */
		{ S("0123456789abcdef\xc3\xa9xyz"), 1 },
		{ S("a\0b"), 1 },
		{ S("\xc0\x80"), 0 },		  /* overlong NUL */
		{ S("\xc1\xbf"), 0 },		  /* overlong */
		{ S("\xe0\x80\x80"), 0 },	  /* overlong */
		{ S("\xe0\x9f\xbf"), 0 },	  /* overlong */
		{ S("\xf0\x8f\xbf\xbf"), 0 },	  /* overlong */
		{ S("\xed\xa0\x80"), 0 },	  /* U+D800 */
		{ S("\xed\xbf\xbf"), 0 },	  /* U+DFFF */
		{ S("\xf4\x90\x80\x80"), 0 },	  /* U+110000 */
		{ S("\xf5\x80\x80\x80"), 0 },
		{ S("\xff"), 0 },
		{ S("\x80"), 0 },		  /* lone continuation */
		{ S("\xc3"), 0 },		  /* truncated */
		{ S("\xe2\x82"), 0 },
		{ S("\xf0\x9d\x84"), 0 },
		{ S("\xc3\x28"), 0 },
		{ S("abcdefgh\xff"), 0 },
		{ S("abcdefghijklmnop\xe2\x82"), 0 },
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++)
		if (es_utf8_valid(t[i].s, t[i].n) != t[i].ok) {
			printf("# utf8 case %zu\n", i);
			check_current = 1;
		}
}

static int str_is(const char *in, size_t n, const char *want, size_t wn)
{
	es_buf b = {0};
	int ok = es_json_append_string(&b, in, n) == 0 && b.len == wn &&
		 memcmp(b.data, want, wn) == 0;
	es_buf_free(&b);
	return ok;
}

static void test_escape(void)
{
	CHECK(str_is(S(""), S("\"\"")));
	CHECK(str_is(S("plain"), S("\"plain\"")));
	CHECK(str_is(S("a\"b\\c"), S("\"a\\\"b\\\\c\"")));
	CHECK(str_is(S("\b\f\n\r\t"), S("\"\\b\\f\\n\\r\\t\"")));
	CHECK(str_is(S("\x01\x1f\0"), S("\"\\u0001\\u001f\\u0000\"")));
	CHECK(str_is(S("\x7f/caf\xc3\xa9"), S("\"\x7f/caf\xc3\xa9\"")));
	CHECK(str_is(S("0123456789abcdef0123456789abcdef\"x"),
		     S("\"0123456789abcdef0123456789abcdef\\\"x\"")));
	/* Escaping many controls grows the buffer as it goes. */
	char in[1000], want[6002];
	memset(in, 1, sizeof in);
	want[0] = '"';
	for (size_t i = 0; i < sizeof in; i++)
		memcpy(want + 1 + 6 * i, "\\u0001", 6);
	want[6001] = '"';
	CHECK(str_is(in, sizeof in, want, sizeof want));
	/* What it writes, the scanner reads back. */
	es_buf b = {0};
	char all[256];
	for (int i = 0; i < 128; i++)
		all[i] = (char)i;
	es_buf_append(&b, "{\"k\":", 5);
	es_json_append_string(&b, all, 128);
	es_buf_append(&b, "}", 1);
	CHECK(field_is(b.data, b.len, "k", all, 128));
	es_buf_free(&b);
}

static void test_base64(void)
{
	/* RFC 4648 section 10. */
	static const char *v[][2] = {
		{ "", "" },	     { "f", "Zg==" },	      { "fo", "Zm8=" },
		{ "foo", "Zm9v" },   { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
		es_buf b = {0};
		CHECK(es_base64_append(&b, v[i][0], strlen(v[i][0])) == 0);
		CHECK(b.len == strlen(v[i][1]) &&
		      (!b.len || memcmp(b.data, v[i][1], b.len) == 0));
		es_buf_free(&b);
		/* And decoding, through the envelope. */
		char line[100];
		es_envelope e = {0};
		es_error err;
		snprintf(line, sizeof line, "{\"value_b64\":\"%s\"}", v[i][1]);
		CHECK_OK(es_envelope_parse(&e, line, strlen(line), &err), &err);
		CHECK(e.value.len == strlen(v[i][0]) &&
		      (!e.value.len ||
		       memcmp(e.value.data, v[i][0], e.value.len) == 0));
		es_envelope_free(&e);
	}
	es_buf b = {0};
	CHECK(es_base64_append(&b, S("\xff\xfe\x00\x01")) == 0);
	CHECK(b.len == 8 && memcmp(b.data, "//4AAQ==", 8) == 0);
	es_buf_free(&b);
}

/* A record with headers from name=value pairs. */
static es_buf hdrs;

static void mkrec(es_record *r, const char *key, uint32_t key_len,
		  const char *value, uint32_t value_len)
{
	memset(r, 0, sizeof *r);
	r->key = (const unsigned char *)key;
	r->key_len = key_len;
	r->value = (const unsigned char *)value;
	r->value_len = value_len;
	r->headers = (const unsigned char *)hdrs.data;
	r->headers_len = (uint32_t)hdrs.len;
}

static void test_format_exact(void)
{
	es_buf out = {0};
	es_record r;
	hdrs.len = 0;
	es_header_add(&hdrs, "a", 1, "1", 1);
	mkrec(&r, "k1", 2, "hello", 5);
	r.offset = 5;
	r.timestamp = 1764150000000;
	CHECK(es_json_format_record(&out, "likes", 3, &r) == 0);
	const char want[] =
		"{\"topic\":\"likes\",\"partition\":3,\"offset\":5,"
		"\"timestamp\":1764150000000,\"key\":\"k1\",\"value\":"
		"\"hello\",\"headers\":{\"a\":\"1\"}}\n";
	CHECK(out.len == sizeof want - 1 &&
	      memcmp(out.data, want, out.len) == 0);

	/* Null key, tombstone, no headers, a topic to escape. */
	out.len = 0;
	hdrs.len = 0;
	mkrec(&r, NULL, ES_NULL_LEN, NULL, ES_NULL_LEN);
	r.offset = 18446744073709551615u;
	CHECK(es_json_format_record(&out, "a\"b", 4294967295u, &r) == 0);
	const char want2[] =
		"{\"topic\":\"a\\\"b\",\"partition\":4294967295,\"offset\":"
		"18446744073709551615,\"timestamp\":0,\"key\":null,\"value\":"
		"null,\"headers\":{}}\n";
	CHECK(out.len == sizeof want2 - 1 &&
	      memcmp(out.data, want2, out.len) == 0);

	/* Bytes that are not UTF-8 go to *_b64; the repeated header keeps
	 * its last value. */
	out.len = 0;
	es_header_add(&hdrs, "h", 1, "1", 1);
	es_header_add(&hdrs, "bin", 3, "\xff", 1);
	es_header_add(&hdrs, "h", 1, "2", 1);
	mkrec(&r, "\xff", 1, "\0\xfe", 2);
	CHECK(es_json_format_record(&out, "t\xff", 0, &r) == 0);
	const char want3[] =
		"{\"topic_b64\":\"dP8=\",\"partition\":0,\"offset\":0,"
		"\"timestamp\":0,\"key_b64\":\"/w==\",\"value_b64\":\"AP4=\","
		"\"headers\":{\"h\":\"2\"},\"headers_b64\":{\"Ymlu\":\"/w==\"}}\n";
	CHECK(out.len == sizeof want3 - 1 &&
	      memcmp(out.data, want3, out.len) == 0);
	/* A corrupt header block is reported, and nothing is written. */
	out.len = 0;
	r.headers_len = 3;
	CHECK(es_json_format_record(&out, "t", 0, &r) == ES_ECORRUPT);
	CHECK(out.len == 0);
	es_buf_free(&out);
}

/* Format r, parse it back, and compare. want_hdrs: the headers expected
 * back (repeats removed), as an encoded block. */
static int roundtrip(const es_record *r, uint32_t partition,
		     const es_buf *want_hdrs)
{
	es_buf out = {0};
	es_envelope e = {0};
	es_error err = {{0}};
	int ok = 1;
	if (es_json_format_record(&out, "topic", partition, r) != 0)
		return 0;
	if (es_envelope_parse(&e, out.data, out.len - 1, &err) != 0) {
		printf("# parse: %s\n", err.msg);
		ok = 0;
		goto done;
	}
	if (r->key_len == ES_NULL_LEN)
		ok &= e.key_null;
	else
		ok &= !e.key_null && e.key.len == r->key_len &&
		      (!r->key_len || !memcmp(e.key.data, r->key, r->key_len));
	if (r->value_len == ES_NULL_LEN)
		ok &= e.value_null;
	else
		ok &= !e.value_null && e.value.len == r->value_len &&
		      (!r->value_len ||
		       !memcmp(e.value.data, r->value, r->value_len));
	ok &= e.has_partition && e.partition == partition;
	ok &= e.has_timestamp && e.timestamp == r->timestamp;
	/* Headers: the same set, each name once. */
	uint32_t pos = 0, n1 = 0, n2 = 0;
	es_header h, g;
	while (es_header_next((const unsigned char *)e.headers.data,
			      (uint32_t)e.headers.len, &pos, &h) == 1) {
		n1++;
		uint32_t p2 = 0;
		int found = 0;
		while (es_header_next((const unsigned char *)want_hdrs->data,
				      (uint32_t)want_hdrs->len, &p2, &g) == 1)
			if (g.name_len == h.name_len &&
			    !memcmp(g.name, h.name, h.name_len))
				found = g.value_len == h.value_len &&
					!memcmp(g.value, h.value, h.value_len);
		ok &= found;
	}
	pos = 0;
	while (es_header_next((const unsigned char *)want_hdrs->data,
			      (uint32_t)want_hdrs->len, &pos, &g) == 1)
		n2++;
	ok &= n1 == n2;
done:
	es_buf_free(&out);
	es_envelope_free(&e);
	return ok;
}

static void test_roundtrip(void)
{
	es_record r;
	es_buf want = {0};
	char bin[256];
	for (int i = 0; i < 256; i++)
		bin[i] = (char)(255 - i);

	hdrs.len = 0;
	mkrec(&r, bin, 256, bin + 200, 56);
	r.timestamp = 1764150000123;
	CHECK(roundtrip(&r, 7, &want));
	mkrec(&r, "\0\0", 2, "a\0b\xff", 4);
	CHECK(roundtrip(&r, 0, &want));
	mkrec(&r, NULL, ES_NULL_LEN, "v", 1); /* null key */
	CHECK(roundtrip(&r, 1, &want));
	mkrec(&r, "k", 1, NULL, ES_NULL_LEN); /* tombstone */
	CHECK(roundtrip(&r, 2, &want));
	mkrec(&r, "", 0, "", 0); /* empty, not null */
	CHECK(roundtrip(&r, 3, &want));
	mkrec(&r, "caf\xc3\xa9\n\"", 7, "\x01\x7f", 2);
	r.timestamp = INT64_MAX;
	CHECK(roundtrip(&r, UINT32_MAX, &want));

	/* Headers: a repeat, non-UTF-8 names and values, binary bytes. */
	es_header_add(&hdrs, "es.origin.topic", 15, "likes", 5);
	es_header_add(&hdrs, "x", 1, "first", 5);
	es_header_add(&hdrs, "\xff\x00", 2, "v", 1);
	es_header_add(&hdrs, "bin", 3, "\0\xfe", 2);
	es_header_add(&hdrs, "x", 1, "last", 4);
	es_header_add(&hdrs, "", 0, "", 0);
	es_header_add(&hdrs, "\xff\x00", 2, "w", 1);
	es_header_add(&want, "es.origin.topic", 15, "likes", 5);
	es_header_add(&want, "bin", 3, "\0\xfe", 2);
	es_header_add(&want, "x", 1, "last", 4);
	es_header_add(&want, "", 0, "", 0);
	es_header_add(&want, "\xff\x00", 2, "w", 1);
	mkrec(&r, "k", 1, "v", 1);
	r.timestamp = 1;
	CHECK(roundtrip(&r, 0, &want));

	/* Many headers take the sorting path of de-duplication. */
	hdrs.len = want.len = 0;
	for (int i = 0; i < 100; i++) {
		char name[16], value[16];
		snprintf(name, sizeof name, "h%d", i % 30);
		snprintf(value, sizeof value, "v%d", i);
		es_header_add(&hdrs, name, strlen(name), value, strlen(value));
		if (i >= 70)
			es_header_add(&want, name, strlen(name), value,
				      strlen(value));
	}
	mkrec(&r, "k", 1, "v", 1);
	CHECK(roundtrip(&r, 0, &want));
	es_buf_free(&want);
}

static int env_fails(const char *line, size_t len, const char *msg)
{
	es_envelope e = {0};
	es_error err = {{0}};
	int rc = es_envelope_parse(&e, line, len, &err);
	es_envelope_free(&e);
	if (rc != ES_EBADJSON || strcmp(err.msg, msg) != 0) {
		printf("# got %d '%s', want '%s'\n", rc, err.msg, msg);
		return 0;
	}
	return 1;
}

static void test_envelope(void)
{
	es_envelope e = {0};
	es_error err;
	/* Binary safe: \u0000 is a NUL byte. Unknown members are ignored. */
	CHECK_OK(es_envelope_parse(&e, S("{\"topic\":\"t\",\"offset\":9,"
					 "\"extra\":[{},null],\"key\":\"\\u0000"
					 "k\",\"value\":\"a\\u0000b\"}"),
				   &err),
		 &err);
	CHECK(!e.key_null && e.key.len == 2 && !memcmp(e.key.data, "\0k", 2));
	CHECK(!e.value_null && e.value.len == 3 &&
	      !memcmp(e.value.data, "a\0b", 3));
	CHECK(!e.has_partition && !e.has_timestamp && e.headers.len == 0);
	/* A minimal envelope: no key, a tombstone; buffers are reset. */
	CHECK_OK(es_envelope_parse(&e, S("{\"value\":null}"), &err), &err);
	CHECK(e.key_null && e.value_null && e.key.len == 0 &&
	      e.value.len == 0);
	CHECK_OK(es_envelope_parse(&e, S("{\"key\":null,\"value\":\"\","
					 "\"partition\":null,\"headers\":"
					 "{\"a\\n\":\"\\u00e9\",\"b\":\"\"}}"),
				   &err),
		 &err);
	CHECK(e.key_null && !e.value_null && e.value.len == 0);
	uint32_t pos = 0;
	es_header h;
	CHECK(es_header_next((unsigned char *)e.headers.data,
			     (uint32_t)e.headers.len, &pos, &h) == 1 &&
	      h.name_len == 2 && !memcmp(h.name, "a\n", 2) &&
	      h.value_len == 2 && !memcmp(h.value, "\xc3\xa9", 2));
	/* headers_b64 with an escaped base64 text, and the later of a
	 * repeated name across the two objects wins. */
	CHECK_OK(es_envelope_parse(&e, S("{\"value\":\"v\",\"headers_b64\":"
					 "{\"\\u0059Q==\":\"/w==\"},"
					 "\"headers\":{\"a\":\"x\"}}"),
				   &err),
		 &err);
	pos = 0;
	CHECK(es_header_next((unsigned char *)e.headers.data,
			     (uint32_t)e.headers.len, &pos, &h) == 1 &&
	      h.name_len == 1 && h.name[0] == 'a' && h.value_len == 1 &&
	      h.value[0] == 'x');
	CHECK(es_header_next((unsigned char *)e.headers.data,
			     (uint32_t)e.headers.len, &pos, &h) == 0);
	CHECK_OK(es_envelope_parse(&e, S("{\"value\":\"v\",\"partition\":"
					 "4294967295,\"timestamp\":0}"),
				   &err),
		 &err);
	CHECK(e.has_partition && e.partition == UINT32_MAX &&
	      e.has_timestamp && e.timestamp == 0);
	es_envelope_free(&e);

	CHECK(env_fails(S("{\"key\":\"k\"}"),
			"column 1: no 'value' or 'value_b64'"));
	CHECK(env_fails(S("{\"value\":\"v\",\"value_b64\":\"\"}"),
			"column 26: both 'value' and 'value_b64'"));
	CHECK(env_fails(S("{\"key\":1,\"value\":\"v\"}"),
			"column 8: 'key' is not a string or null"));
	CHECK(env_fails(S("{\"value\":[]}"),
			"column 10: 'value' is not a string or null"));
	CHECK(env_fails(S("{\"value_b64\":\"Zm9\"}"),
			"column 14: bad base64 in 'value_b64'"));
	CHECK(env_fails(S("{\"value_b64\":\"Zh==\"}"),
			"column 14: bad base64 in 'value_b64'"));
	CHECK(env_fails(S("{\"value_b64\":\"Zm=v\"}"),
			"column 14: bad base64 in 'value_b64'"));
	CHECK(env_fails(S("{\"key_b64\":\"Zm 9\",\"value\":null}"),
			"column 12: bad base64 in 'key_b64'"));
	CHECK(env_fails(S("{\"value\":\"v\",\"headers\":{\"a\":1}}"),
			"column 29: a value in 'headers' is not a string"));
	CHECK(env_fails(S("{\"value\":\"v\",\"headers\":[]}"),
			"column 24: 'headers' is not an object"));
	CHECK(env_fails(S("{\"value\":\"v\",\"headers_b64\":{\"!\":\"\"}}"),
			"column 29: bad base64 in 'headers_b64'"));
	CHECK(env_fails(S("{\"value\":\"v\",\"partition\":-1}"),
			"column 26: 'partition' is not a non-negative integer"));
	CHECK(env_fails(S("{\"value\":\"v\",\"partition\":1.0}"),
			"column 26: 'partition' is not a non-negative integer"));
	CHECK(env_fails(S("{\"value\":\"v\",\"partition\":4294967296}"),
			"column 26: 'partition' is too large"));
	CHECK(env_fails(S("{\"value\":\"v\",\"timestamp\":\"1\"}"),
			"column 26: 'timestamp' is not a non-negative integer"));
	CHECK(env_fails(S("{\"value\":\"v\",\"timestamp\":9223372036854775808}"),
			"column 26: 'timestamp' is too large"));
	CHECK(env_fails(S("{\"value\":\"v\",\"timestamp\":-5}"),
			"column 26: 'timestamp' is not a non-negative integer"));
}

/* The numbers of -J (partition, offset, timestamp) against printf: every
 * digit count, each side of each power of ten, and the largest. */
static void test_u64_dec(void)
{
	char got[24], want[24];
	int bad = 0;
	uint64_t p = 1;
	for (int k = 0; k <= 19; k++, p *= 10) {
		uint64_t v[] = { p - 1, p, p + 1, p * 3 + 7, p / 3 };
		for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
			memset(got, 'x', sizeof got);
			size_t n = es_u64_dec(got, v[i]);
			snprintf(want, sizeof want, "%llu", (unsigned long long)v[i]);
			bad += n != strlen(want) || memcmp(got, want, n) != 0 ||
			       got[n] != 'x';
		}
	}
	for (uint64_t v = 0; v < 100000; v += 7) {
		size_t n = es_u64_dec(got, v);
		snprintf(want, sizeof want, "%llu", (unsigned long long)v);
		bad += n != strlen(want) || memcmp(got, want, n) != 0;
	}
	size_t n = es_u64_dec(got, UINT64_MAX);
	CHECK(n == 20 && !memcmp(got, "18446744073709551615", 20));
	CHECK(bad == 0);
}

int main(void)
{
	RUN(test_field_found);
	RUN(test_field_missing);
	RUN(test_field_not_scalar);
	RUN(test_field_escaped);
	RUN(test_invalid);
	RUN(test_depth);
	RUN(test_utf8);
	RUN(test_escape);
	RUN(test_base64);
	RUN(test_format_exact);
	RUN(test_roundtrip);
	RUN(test_envelope);
	RUN(test_u64_dec);
	es_buf_free(&scratch);
	es_buf_free(&hdrs);
	return DONE();
}
