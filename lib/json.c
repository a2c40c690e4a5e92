/* json.c - JSON for --key-field and -J: a one-pass validating scanner */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#define LOAD16(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define STORE16(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))
#endif

#include "es.h"

/*
 * NOTES ON THE DESIGN
 *
 * (1) One scanner validates the whole line (RFC 8259) in a single pass and
 *     never recurses: nesting is kept in a bit stack, one bit per open
 *     container, so a hostile line costs at most MAX_DEPTH bits of stack.
 * (2) --key-field is the hot path of es-produce (millions of lines a
 *     second): strings are skipped 16 bytes at a time (SSE2) and copied
 *     only when they hold escapes; nothing is allocated per line.
 * (3) Strings are validated as they are skipped: escapes (a \u high
 *     surrogate must be followed by a low one), no raw control bytes,
 *     strict UTF-8. So any string the scanner accepts unescapes to valid
 *     UTF-8, and unescaping needs no further checks.
 * (4) The -J envelope is binary safe by this rule: bytes that are valid
 *     UTF-8 are a JSON string ("key", "value", "headers"); other bytes are
 *     base64 (RFC 4648, padded) in "key_b64", "value_b64", and, for a
 *     header whose name or value is not UTF-8, in a second object
 *     "headers_b64" mapping base64 name to base64 value, written only when
 *     needed. A topic name that is not UTF-8 is written as "topic_b64".
 * (5) JSON objects keep one value per name, so a record with a repeated
 *     header name is written with its last value only (SPEC 5), and a
 *     parsed envelope keeps the last of repeated header names, across
 *     "headers" and "headers_b64" in the order they appear.
 */

typedef unsigned char uc;

/* Containers open at once, the top-level object included. */
#define MAX_DEPTH 512

/* The scanner's inner pieces are inlined into their few callers even
 * where gcc would not: a call per string or number costs a tenth of the
 * time on short lines. */
#define HOT static inline __attribute__((always_inline))

enum { T_STRING = 1, T_NUMBER, T_OBJECT, T_ARRAY, T_TRUE, T_FALSE, T_NULL };

/* Where a scan is and how to report: columns count from base. */
struct scan {
	const uc *base, *end;
	es_error *err;
};

/* One member of an object. For a string, val..val_end is its content
 * without the quotes; otherwise the value's text. at is where the value
 * starts (its quote for a string), for messages. */
struct member {
	const uc *name, *val, *val_end, *at;
	size_t name_len;
	int name_esc, val_esc, type;
};

/* Bytes that end a fast run inside a JSON string: quote, backslash,
 * controls and anything non-ASCII (checked as UTF-8). */
static const uc str_stop[256] = {
	[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

/* Bytes that es_json_append_string must escape. */
static const uc str_escape[256] = {
	[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

/* How es_json_append_string escapes a byte: the letter of its two-byte
 * escape (n for a newline), or 0 for \u00XX. */
static const char esc_short[256] = {
	['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
	['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
};

/* The letters that may follow a backslash, \u aside. */
static const uc esc_letter[256] = {
	['"'] = 1, ['\\'] = 1, ['/'] = 1, ['b'] = 1, ['f'] = 1, ['n'] = 1,
	['r'] = 1, ['t'] = 1,
};

/* The byte a two-byte escape stands for (a newline for n). */
static const uc unesc_short[256] = {
	['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b', ['f'] = '\f',
	['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
};

/* Hex digit value + 1; 0 for a byte that is not a hex digit. */
static const uc hex_val[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6,
	['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12,
	['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11,
	['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static const char b64_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int fail(const struct scan *s, const uc *p, const char *what)
{
	if (s->err)
		snprintf(s->err->msg, sizeof s->err->msg, "column %zu: %s",
			 (size_t)(p - s->base) + 1, what);
	return ES_EBADJSON;
}

/* "unexpected ..." naming the byte at p, or the end of the input. */
static int fail_at(const struct scan *s, const uc *p)
{
	char what[64];
	if (p >= s->end)
		return fail(s, p, "unexpected end of input");
	if (*p >= 0x21 && *p < 0x7f)
		snprintf(what, sizeof what, "unexpected character '%c'", *p);
	else
		snprintf(what, sizeof what, "unexpected byte 0x%02x", *p);
	return fail(s, p, what);
}

static inline const uc *skip_ws(const uc *p, const uc *end)
{
	/* One compare for the usual case, a byte that is not whitespace. */
	while (p < end && *p <= ' ' &&
	       (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* Length of the strict UTF-8 sequence at p (p[0] >= 0x80), or 0 when it is
 * invalid: overlong, a surrogate, above U+10FFFF or truncated. */
static inline size_t utf8_seq(const uc *p, const uc *end)
{
	size_t avail = (size_t)(end - p);
	uc c = p[0], lo = 0x80, hi = 0xbf;
	if (c < 0xc2)
		return 0; /* a continuation byte, or an overlong C0/C1 lead */
	if (c < 0xe0)
		return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c < 0xf0) {
		if (c == 0xe0)
			lo = 0xa0; /* overlong below U+0800 */
		else if (c == 0xed)
			hi = 0x9f; /* U+D800..U+DFFF, surrogates */
		if (avail < 3 || p[1] < lo || p[1] > hi ||
		    (p[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (c == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
		if (avail < 4 || p[1] < lo || p[1] > hi ||
		    (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

int es_utf8_valid(const void *vp, size_t n)
{
	const uc *p = vp, *end = p + n;
	for (;;) {
		/* Most keys and values are ASCII: check 8 bytes at once. */
		while (end - p >= 8) {
			uint64_t w;
			memcpy(&w, p, 8);
			if (w & 0x8080808080808080ull)
				break;
			p += 8;
		}
		while (p < end && *p < 0x80)
			p++;
		if (p == end)
			return 1;
		size_t k = utf8_seq(p, end);
		if (!k)
			return 0;
		p += k;
	}
}

static inline int hex4(const uc *p)
{
	int a = hex_val[p[0]], b = hex_val[p[1]], c = hex_val[p[2]],
	    d = hex_val[p[3]];
	if (!a || !b || !c || !d)
		return -1;
	return (a - 1) << 12 | (b - 1) << 8 | (c - 1) << 4 | (d - 1);
}

/* Check the escape at p (a backslash); return its length, or 0 with err. */
static size_t scan_escape(const struct scan *s, const uc *p)
{
	if (s->end - p < 2)
		return fail(s, p, "unterminated string"), 0;
	switch (p[1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
	case 't':
		return 2;
	case 'u':
		break;
	default:
		return fail(s, p, "invalid escape"), 0;
	}
	int u = s->end - p >= 6 ? hex4(p + 2) : -1;
	if (u < 0)
		return fail(s, p, "invalid \\u escape"), 0;
	if (u >= 0xdc00 && u <= 0xdfff)
		return fail(s, p, "lone surrogate in \\u escape"), 0;
	if (u < 0xd800 || u > 0xdbff)
		return 6;
	/* A high surrogate must be followed by \u and a low one. */
	int l = s->end - p >= 12 && p[6] == '\\' && p[7] == 'u' ?
			hex4(p + 8) : -1;
	if (l < 0xdc00 || l > 0xdfff)
		return fail(s, p, "lone surrogate in \\u escape"), 0;
	return 12;
}

/* p is just past an opening quote. Return the address of the closing
 * quote, or NULL (err filled); *esc is set when the string has escapes. */
HOT const uc *scan_string(const struct scan *s, const uc *p, int *esc)
{
	const uc *end = s->end;
	size_t k;
	for (;;) {
#ifdef __SSE2__
		/* A signed compare below 0x20 catches the controls and every
		 * byte >= 0x80 at once. */
		const __m128i quote = _mm_set1_epi8('"');
		const __m128i bslash = _mm_set1_epi8('\\');
		const __m128i space = _mm_set1_epi8(0x20);
		while (end - p >= 16) {
			__m128i v = LOAD16(p);
			__m128i m = _mm_or_si128(
				_mm_or_si128(_mm_cmpeq_epi8(v, quote),
					     _mm_cmpeq_epi8(v, bslash)),
				_mm_cmplt_epi8(v, space));
			unsigned bits = (unsigned)_mm_movemask_epi8(m);
			if (bits) {
				p += __builtin_ctz(bits);
				goto stop;
			}
			p += 16;
		}
#endif
		while (p < end && !str_stop[*p])
			p++;
		if (p == end) {
			fail(s, p, "unterminated string");
			return NULL;
		}
#ifdef __SSE2__
	stop:
#endif
		if (*p == '"')
			return p;
		if (*p == '\\') {
			/* \" and friends inline; \u and errors out of line. */
			if (end - p >= 2 && esc_letter[p[1]])
				k = 2;
			else if (!(k = scan_escape(s, p)))
				return NULL;
			*esc = 1;
		} else if (*p < 0x20) {
			fail(s, p, "control character in string");
			return NULL;
		} else if (!(k = utf8_seq(p, end))) {
			fail(s, p, "invalid UTF-8 in string");
			return NULL;
		}
		p += k;
	}
}

static inline int is_digit(uc c)
{
	return c >= '0' && c <= '9';
}

/* Skip a run of digits; timestamps make runs of 13. */
static inline const uc *skip_digits(const uc *p, const uc *end)
{
#ifdef __SSE2__
	if (end - p >= 16) {
		/* Signed compares: bytes >= 0x80 count as below '0'. */
		__m128i v = LOAD16(p);
		__m128i m = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8('0')),
					 _mm_cmpgt_epi8(v, _mm_set1_epi8('9')));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);
		if (bits)
			return p + __builtin_ctz(bits);
		p += 16;
	}
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (end - p >= 8) {
		/* A byte is a digit when its high nibble is 3, and still is
		 * after adding 6. A carry out of a byte >= 0xfa only
		 * disturbs the bytes after that non-digit (little-endian). */
		uint64_t w, x;
		memcpy(&w, p, 8);
		x = ((w & 0xf0f0f0f0f0f0f0f0ull) ^ 0x3030303030303030ull) |
		    (((w + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull) ^
		     0x3030303030303030ull);
		if (x)
			return p + (__builtin_ctzll(x) >> 3);
		p += 8;
	}
#endif
	while (p < end && is_digit(*p))
		p++;
	return p;
}

/* A number at p, by the grammar of RFC 8259 section 6. */
HOT const uc *scan_number(const struct scan *s, const uc *p)
{
	const uc *end = s->end;
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0') {
		p++;
	} else if (p < end && is_digit(*p)) {
		p = skip_digits(p + 1, end);
	} else {
		fail(s, p, "invalid number");
		return NULL;
	}
	if (p < end && *p == '.') {
		if (++p == end || !is_digit(*p)) {
			fail(s, p, "invalid number");
			return NULL;
		}
		p = skip_digits(p + 1, end);
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || !is_digit(*p)) {
			fail(s, p, "invalid number");
			return NULL;
		}
		p = skip_digits(p + 1, end);
	}
	if (p < end && is_digit(*p)) { /* "01": a leading zero */
		fail(s, p, "invalid number");
		return NULL;
	}
	return p;
}

static const uc *scan_literal(const struct scan *s, const uc *p,
			      const char *word, size_t n)
{
	if ((size_t)(s->end - p) < n || memcmp(p, word, n) != 0) {
		fail(s, p, "invalid literal");
		return NULL;
	}
	return p + n;
}

/* Scan one value at p (no leading whitespace) inside depth open
 * containers; return the address just after it, or NULL (err filled).
 * Containers are followed with a bit stack instead of recursion. */
static const uc *scan_value(const struct scan *s, const uc *p, int depth,
			    int *type)
{
	const uc *end = s->end;
	uint64_t objs[MAX_DEPTH / 64]; /* bit d: container d is an object */
	int d = 0, t = 0, esc, obj;
#define IS_OBJECT(i) (objs[(i) / 64] >> ((i) % 64) & 1)
value:
	if (p == end) {
		fail_at(s, p);
		return NULL;
	}
	switch (*p) {
	case '"':
		if (!(p = scan_string(s, p + 1, &esc)))
			return NULL;
		p++;
		t = T_STRING;
		goto after;
	case '-': case '0': case '1': case '2': case '3': case '4': case '5':
	case '6': case '7': case '8': case '9':
		if (!(p = scan_number(s, p)))
			return NULL;
		t = T_NUMBER;
		goto after;
	case 't':
		p = scan_literal(s, p, "true", 4);
		t = T_TRUE;
		break;
	case 'f':
		p = scan_literal(s, p, "false", 5);
		t = T_FALSE;
		break;
	case 'n':
		p = scan_literal(s, p, "null", 4);
		t = T_NULL;
		break;
	case '{':
	case '[':
		if (depth + d >= MAX_DEPTH) {
			fail(s, p, "nesting too deep");
			return NULL;
		}
		obj = *p == '{';
		if (obj)
			objs[d / 64] |= 1ull << (d % 64);
		else
			objs[d / 64] &= ~(1ull << (d % 64));
		d++;
		p = skip_ws(p + 1, end);
		if (p < end && *p == (obj ? '}' : ']')) {
			p++;
			goto close;
		}
		if (obj)
			goto member;
		goto value;
	default:
		fail_at(s, p);
		return NULL;
	}
	if (!p)
		return NULL;
	goto after;
member:
	if (p == end || *p != '"') {
		fail(s, p, p == end ? "unexpected end of input" :
				      "expected a member name");
		return NULL;
	}
	if (!(p = scan_string(s, p + 1, &esc)))
		return NULL;
	p = skip_ws(p + 1, end);
	if (p == end || *p != ':') {
		fail(s, p, p == end ? "unexpected end of input" :
				      "expected ':'");
		return NULL;
	}
	p = skip_ws(p + 1, end);
	goto value;
close:
	d--;
	t = IS_OBJECT(d) ? T_OBJECT : T_ARRAY;
after:
	if (d == 0) {
		*type = t;
		return p;
	}
	p = skip_ws(p, end);
	obj = IS_OBJECT(d - 1);
	if (p < end && *p == ',') {
		p = skip_ws(p + 1, end);
		if (obj)
			goto member;
		goto value;
	}
	if (p < end && *p == (obj ? '}' : ']')) {
		p++;
		goto close;
	}
	fail(s, p, p == end ? "unexpected end of input" :
		   obj	    ? "expected ',' or '}'" :
			      "expected ',' or ']'");
	return NULL;
#undef IS_OBJECT
}

/* Walking the members of an object. */
struct walk {
	struct scan s;
	const uc *p;
	int depth, first;
};

/* p is at the object's '{'; depth counts it. */
static inline void walk_begin(struct walk *w, const uc *p, int depth)
{
	w->p = p + 1;
	w->depth = depth;
	w->first = 1;
}

/* The next member: 1 with m filled, 0 after the closing brace (w->p is
 * just past it), or ES_EBADJSON. */
HOT int walk_next(struct walk *w, struct member *m)
{
	const uc *end = w->s.end, *p = skip_ws(w->p, end), *q;
	if (p < end && *p == '}' && w->first) {
		w->p = p + 1;
		return 0;
	}
	if (!w->first) {
		if (p < end && *p == '}') {
			w->p = p + 1;
			return 0;
		}
		if (p == end || *p != ',')
			return fail(&w->s, p, p == end ?
					"unexpected end of input" :
					"expected ',' or '}'");
		p = skip_ws(p + 1, end);
	}
	w->first = 0;
	if (p == end || *p != '"')
		return fail(&w->s, p, p == end ? "unexpected end of input" :
						"expected a member name");
	m->name = p + 1;
	m->name_esc = 0;
	if (!(q = scan_string(&w->s, p + 1, &m->name_esc)))
		return ES_EBADJSON;
	m->name_len = (size_t)(q - m->name);
	p = q + 1;
	if (p < end && *p != ':')
		p = skip_ws(p, end);
	if (p == end || *p != ':')
		return fail(&w->s, p, p == end ? "unexpected end of input" :
						"expected ':'");
	p++;
	if (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p = skip_ws(p, end);
	m->at = p;
	m->val_esc = 0;
	if (p < end && *p == '"') {
		m->val = p + 1;
		if (!(q = scan_string(&w->s, p + 1, &m->val_esc)))
			return ES_EBADJSON;
		m->val_end = q;
		m->type = T_STRING;
		w->p = q + 1;
	} else if (p < end && (is_digit(*p) || *p == '-')) {
		m->val = p;
		if (!(q = scan_number(&w->s, p)))
			return ES_EBADJSON;
		m->val_end = q;
		m->type = T_NUMBER;
		w->p = q;
	} else {
		m->val = p;
		if (!(q = scan_value(&w->s, p, w->depth, &m->type)))
			return ES_EBADJSON;
		m->val_end = q;
		w->p = q;
	}
	return 1;
}

/* Start a walk of the top-level object of a line. */
static inline int walk_line(struct walk *w, const uc *line, size_t len,
		     es_error *err)
{
	w->s.base = line;
	w->s.end = line + len;
	w->s.err = err;
	const uc *p = skip_ws(line, w->s.end);
	if (p == w->s.end)
		return fail(&w->s, p, "unexpected end of input");
	if (*p != '{')
		return fail(&w->s, p, "not a JSON object");
	walk_begin(w, p, 1);
	return 0;
}

/* After the top-level object: only whitespace may follow. */
static int walk_end(const struct walk *w)
{
	const uc *p = skip_ws(w->p, w->s.end);
	if (p != w->s.end)
		return fail(&w->s, p, "unexpected data after the object");
	return 0;
}

/* Decode the (valid) escape at p into out; advance *pp; return the bytes
 * written (at most 4, never more than the escape's length). */
static size_t decode_escape(const uc **pp, uc *out)
{
	const uc *p = *pp;
	unsigned cp;
	switch (p[1]) {
	case 'b': out[0] = '\b'; break;
	case 'f': out[0] = '\f'; break;
	case 'n': out[0] = '\n'; break;
	case 'r': out[0] = '\r'; break;
	case 't': out[0] = '\t'; break;
	case 'u':
		cp = (unsigned)hex4(p + 2);
		if (cp >= 0xd800 && cp <= 0xdbff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) +
			     ((unsigned)hex4(p + 8) - 0xdc00);
			*pp = p + 12;
		} else {
			*pp = p + 6;
		}
		if (cp < 0x80) {
			out[0] = (uc)cp;
			return 1;
		}
		if (cp < 0x800) {
			out[0] = (uc)(0xc0 | cp >> 6);
			out[1] = (uc)(0x80 | (cp & 0x3f));
			return 2;
		}
		if (cp < 0x10000) {
			out[0] = (uc)(0xe0 | cp >> 12);
			out[1] = (uc)(0x80 | (cp >> 6 & 0x3f));
			out[2] = (uc)(0x80 | (cp & 0x3f));
			return 3;
		}
		out[0] = (uc)(0xf0 | cp >> 18);
		out[1] = (uc)(0x80 | (cp >> 12 & 0x3f));
		out[2] = (uc)(0x80 | (cp >> 6 & 0x3f));
		out[3] = (uc)(0x80 | (cp & 0x3f));
		return 4;
	default: out[0] = p[1]; break; /* " \ / */
	}
	*pp = p + 2;
	return 1;
}

/* Append the unescaped content of a validated string. */
static int unescape_append(es_buf *b, const uc *p, const uc *end)
{
	/* Unescaping never makes a string longer; 16 bytes of slack let
	 * the copy loop store whole blocks. */
	int rc = es_buf_reserve(b, (size_t)(end - p) + 16);
	if (rc)
		return rc;
	uc *o = (uc *)b->data + b->len;
	for (;;) {
#ifdef __SSE2__
		const __m128i bslash = _mm_set1_epi8('\\');
		while (end - p >= 16) {
			__m128i v = LOAD16(p);
			STORE16(o, v);
			unsigned bits = (unsigned)_mm_movemask_epi8(
				_mm_cmpeq_epi8(v, bslash));
			if (bits) {
				p += __builtin_ctz(bits);
				o += __builtin_ctz(bits);
				goto stop;
			}
			p += 16;
			o += 16;
		}
#endif
		while (p < end && *p != '\\')
			*o++ = *p++;
		if (p == end)
			break;
#ifdef __SSE2__
	stop:
#endif
		if (p[1] != 'u') { /* the common \" and \\ in JSON values */
			*o++ = unesc_short[p[1]];
			p += 2;
		} else {
			o += decode_escape(&p, o);
		}
	}
	b->len = (size_t)((char *)o - b->data);
	return 0;
}

/* Does the content of a validated string equal name? */
static int string_equals(const uc *p, const uc *end, int esc,
			 const char *name, size_t n)
{
	if (!esc)
		return (size_t)(end - p) == n && memcmp(p, name, n) == 0;
	const uc *q = (const uc *)name, *qend = q + n;
	uc tmp[4];
	while (p < end) {
		size_t k = 1;
		const uc *got = p;
		if (*p == '\\')
			k = decode_escape(&p, tmp), got = tmp;
		else
			p++;
		if ((size_t)(qend - q) < k || memcmp(q, got, k) != 0)
			return 0;
		q += k;
	}
	return q == qend;
}

static void field_msg(es_error *err, const char *fmt, const char *name,
		      size_t n)
{
	if (err)
		snprintf(err->msg, sizeof err->msg, fmt,
			 (int)(n > 256 ? 256 : n), name);
}

int es_json_field(const char *line, size_t len, const char *name,
		  size_t name_len, const char **val, size_t *val_len,
		  es_buf *scratch, es_error *err)
{
	/* The walk of walk_next, written out: this is the hot path of
	 * es-produce --key-field, and keeping the found value in locals
	 * rather than a member structure saves a good part of the time. */
	struct scan s = { (const uc *)line, (const uc *)line + len, err };
	const uc *end = s.end, *p = skip_ws(s.base, end), *q, *v;
	const uc *fv = NULL, *fv_end = NULL;
	int ftype = 0, fesc = 0, esc, type, match, rc;
	if (p == end)
		return fail(&s, p, "unexpected end of input");
	if (*p != '{')
		return fail(&s, p, "not a JSON object");
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}') {
		p++;
		goto done;
	}
	for (;;) {
		if (p == end || *p != '"')
			return fail(&s, p, p == end ?
						   "unexpected end of input" :
						   "expected a member name");
		esc = 0;
		if (!(q = scan_string(&s, p + 1, &esc)))
			return ES_EBADJSON;
		/* Most names differ from NAME in length or first byte. */
		if (esc)
			match = string_equals(p + 1, q, 1, name, name_len);
		else
			match = (size_t)(q - p - 1) == name_len &&
				(!name_len || (p[1] == (uc)name[0] &&
					       !memcmp(p + 1, name, name_len)));
		p = q + 1;
		if (p < end && *p != ':')
			p = skip_ws(p, end);
		if (p == end || *p != ':')
			return fail(&s, p, p == end ?
						   "unexpected end of input" :
						   "expected ':'");
		p = skip_ws(p + 1, end);
		v = p;
		esc = 0;
		if (p < end && *p == '"') {
			if (!(q = scan_string(&s, p + 1, &esc)))
				return ES_EBADJSON;
			v = p + 1;
			p = q + 1;
			type = T_STRING;
		} else if (p < end && (is_digit(*p) || *p == '-')) {
			if (!(p = scan_number(&s, p)))
				return ES_EBADJSON;
			type = T_NUMBER;
		} else if (!(p = scan_value(&s, p, 1, &type))) {
			return ES_EBADJSON;
		}
		if (match) { /* the last one wins, as in most parsers */
			fv = v;
			fv_end = type == T_STRING ? p - 1 : p;
			ftype = type;
			fesc = esc;
		}
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}') {
			p++;
			break;
		}
		return fail(&s, p, p == end ? "unexpected end of input" :
					      "expected ',' or '}'");
	}
done:
	p = skip_ws(p, end);
	if (p != end)
		return fail(&s, p, "unexpected data after the object");
	if (!ftype) {
		field_msg(err, "no field '%.*s'", name, name_len);
		return ES_ENOFIELD;
	}
	if (ftype != T_STRING && ftype != T_NUMBER) {
		field_msg(err, "field '%.*s' is not a string or a number", name,
			  name_len);
		return ES_ENOFIELD;
	}
	if (fesc) {
		if (!scratch)
			return EINVAL;
		scratch->len = 0;
		if ((rc = unescape_append(scratch, fv, fv_end)))
			return rc;
		*val = scratch->data;
		*val_len = scratch->len;
		return 0;
	}
	*val = (const char *)fv;
	*val_len = (size_t)(fv_end - fv);
	return 0;
}

/* ---- writing ----------------------------------------------------------- */

int es_json_append_name(es_buf *b, const char *s)
{
	size_t n = strlen(s);
	if (es_utf8_valid(s, n))
		return es_json_append_string(b, s, n);
	/* Not UTF-8: each byte as the code point of its value, which keeps
	 * the JSON valid and the name recognisable. */
	static const char hex[] = "0123456789abcdef";
	size_t start = b->len;
	int rc = es_buf_reserve(b, 6 * n + 2);
	if (rc)
		return rc;
	char *o = b->data + b->len;
	*o++ = '"';
	for (const uc *p = (const uc *)s; *p; p++) {
		if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
			*o++ = (char)*p;
			continue;
		}
		memcpy(o, "\\u00", 4);
		o[4] = hex[*p >> 4];
		o[5] = hex[*p & 15];
		o += 6;
	}
	*o++ = '"';
	b->len = start + (size_t)(o - (b->data + start));
	return 0;
}

int es_json_append_string(es_buf *b, const void *vp, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uc *p = vp, *end = p + n;
	size_t start = b->len;
	int rc;
	/* A small string gets room for its worst case at once; a large one
	 * grows when an escape needs it. The 16 bytes of slack let the copy
	 * loop store whole blocks. Invariant: lim - o >= (end - p) + 17. */
	if ((rc = es_buf_reserve(b, (n <= 4096 ? 6 * n : n) + 2 + 16)))
		return rc;
	char *o = b->data + b->len, *lim = b->data + b->cap;
	*o++ = '"';
	for (;;) {
#ifdef __SSE2__
		const __m128i quote = _mm_set1_epi8('"');
		const __m128i bslash = _mm_set1_epi8('\\');
		const __m128i c1f = _mm_set1_epi8(0x1f);
		while (end - p >= 16) {
			__m128i v = LOAD16(p);
			/* unsigned v <= 0x1f  <=>  max(v, 0x1f) == 0x1f */
			__m128i m = _mm_or_si128(
				_mm_or_si128(_mm_cmpeq_epi8(v, quote),
					     _mm_cmpeq_epi8(v, bslash)),
				_mm_cmpeq_epi8(_mm_max_epu8(v, c1f), c1f));
			STORE16(o, v);
			unsigned bits = (unsigned)_mm_movemask_epi8(m);
			if (bits) {
				p += __builtin_ctz(bits);
				o += __builtin_ctz(bits);
				goto stop;
			}
			p += 16;
			o += 16;
		}
#endif
		while (p < end && !str_escape[*p])
			*o++ = (char)*p++;
		if (p == end)
			break;
#ifdef __SSE2__
	stop:
#endif
		if ((size_t)(lim - o) < 6 + (size_t)(end - p) + 16) {
			b->len = (size_t)(o - b->data);
			rc = es_buf_reserve(b, 6 + (size_t)(end - p) + 16);
			if (rc) {
				b->len = start;
				return rc;
			}
			o = b->data + b->len;
			lim = b->data + b->cap;
		}
		if (esc_short[*p]) {
			o[0] = '\\';
			o[1] = esc_short[*p];
			o += 2;
		} else {
			memcpy(o, "\\u00", 4);
			o[4] = hex[*p >> 4];
			o[5] = hex[*p & 15];
			o += 6;
		}
		p++;
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	return 0;
}

int es_base64_append(es_buf *b, const void *vp, size_t n)
{
	const uc *p = vp;
	int rc = es_buf_reserve(b, (n + 2) / 3 * 4);
	if (rc)
		return rc;
	char *o = b->data + b->len;
	size_t i = 0;
	for (; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
			     p[i + 2];
		o[0] = b64_chars[v >> 18];
		o[1] = b64_chars[v >> 12 & 63];
		o[2] = b64_chars[v >> 6 & 63];
		o[3] = b64_chars[v & 63];
		o += 4;
	}
	if (n - i) {
		uint32_t v = (uint32_t)p[i] << 16 |
			     (n - i == 2 ? (uint32_t)p[i + 1] << 8 : 0);
		o[0] = b64_chars[v >> 18];
		o[1] = b64_chars[v >> 12 & 63];
		o[2] = n - i == 2 ? b64_chars[v >> 6 & 63] : '=';
		o[3] = '=';
		o += 4;
	}
	b->len = (size_t)(o - b->data);
	return 0;
}

/* Base64 digit value + 1; 0 for a byte outside the standard alphabet. */
static const uc b64_val[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27,
	['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
	['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37,
	['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47,
	['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52,
	['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56, ['4'] = 57,
	['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62,
	['+'] = 63, ['/'] = 64,
};

/* Decode padded standard base64; out may be p itself (each quad is read
 * before its three bytes are written, and they land below it). Strict:
 * whole quads, padding only at the end, unused bits zero, so that one byte
 * string has one encoding. Returns the length, or -1. */
static long b64_decode(const uc *p, size_t n, uc *out)
{
	if (n % 4)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		unsigned a = b64_val[p[i]], b = b64_val[p[i + 1]],
			 c = b64_val[p[i + 2]], d = b64_val[p[i + 3]];
		if (!a || !b)
			return -1;
		if (i + 4 == n && p[i + 3] == '=') {
			if (p[i + 2] == '=') {
				if ((b - 1) & 15)
					return -1;
				out[o++] = (uc)((a - 1) << 2 | (b - 1) >> 4);
				break;
			}
			if (!c || ((c - 1) & 3))
				return -1;
			uint32_t v = (a - 1) << 12 | (b - 1) << 6 | (c - 1);
			out[o++] = (uc)(v >> 10);
			out[o++] = (uc)(v >> 2);
			break;
		}
		if (!c || !d)
			return -1;
		uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 |
			     (d - 1);
		out[o++] = (uc)(v >> 16);
		out[o++] = (uc)(v >> 8);
		out[o++] = (uc)v;
	}
	return (long)o;
}

/* Append a string literal. */
#define APPEND_LIT(b, lit) es_buf_append((b), (lit), sizeof(lit) - 1)

/* Append "name":"text" or "name_b64":"base64" (leading comma included). */
static int append_bytes(es_buf *out, const char *name, size_t name_len,
			const uc *p, size_t n)
{
	int rc, utf8 = es_utf8_valid(p, n);
	if ((rc = es_buf_reserve(out, name_len + 16)))
		return rc;
	char *o = out->data + out->len;
	memcpy(o, ",\"", 2);
	if (name_len)
		memcpy(o + 2, name, name_len);
	o += 2 + name_len;
	if (utf8) {
		memcpy(o, "\":", 2);
		out->len = (size_t)(o + 2 - out->data);
		return es_json_append_string(out, p, n);
	}
	memcpy(o, "_b64\":\"", 7);
	out->len = (size_t)(o + 7 - out->data);
	if ((rc = es_base64_append(out, p, n)))
		return rc;
	return es_buf_append(out, "\"", 1);
}

/* The headers of a block, each marked when no later header has its name
 * (NOTES (5)). Up to HDR_SMALL live on the stack. */
#define HDR_SMALL 16

struct hent {
	es_header h;
	uint32_t start, end; /* its bytes in the block */
	int keep;
};

struct hlist {
	struct hent *v, small[HDR_SMALL];
	size_t n;
};

static int hent_cmp(const void *a, const void *b)
{
	const struct hent *x = *(const struct hent *const *)a,
			  *y = *(const struct hent *const *)b;
	size_t n = x->h.name_len < y->h.name_len ? x->h.name_len :
						   y->h.name_len;
	int c = n ? memcmp(x->h.name, y->h.name, n) : 0;
	if (c)
		return c;
	if (x->h.name_len != y->h.name_len)
		return x->h.name_len < y->h.name_len ? -1 : 1;
	return x < y ? -1 : x > y; /* then in block order */
}

static void hlist_free(struct hlist *l)
{
	if (l->v != l->small)
		free(l->v);
	l->v = l->small;
	l->n = 0;
}

/* Load and mark; 0, ES_ECORRUPT or ENOMEM (the list is then empty). */
static int hlist_load(struct hlist *l, const uc *block, uint32_t len)
{
	size_t cap = HDR_SMALL;
	uint32_t pos = 0, prev = 0;
	es_header h;
	int rc;
	l->v = l->small;
	l->n = 0;
	while ((rc = es_header_next(block, len, &pos, &h)) == 1) {
		if (l->n == cap) {
			struct hent *v = l->v == l->small ? NULL : l->v;
			if (cap > SIZE_MAX / 2 / sizeof *v ||
			    !(v = realloc(v, 2 * cap * sizeof *v))) {
				hlist_free(l);
				return ENOMEM;
			}
			if (l->v == l->small)
				memcpy(v, l->small, sizeof l->small);
			l->v = v;
			cap *= 2;
		}
		l->v[l->n++] = (struct hent){ h, prev, pos, 1 };
		prev = pos;
	}
	if (rc < 0) {
		hlist_free(l);
		return rc;
	}
	if (l->n <= HDR_SMALL) {
		for (size_t i = 0; i < l->n; i++)
			for (size_t j = i + 1; j < l->n && l->v[i].keep; j++)
				if (l->v[i].h.name_len == l->v[j].h.name_len &&
				    !memcmp(l->v[i].h.name, l->v[j].h.name,
					    l->v[i].h.name_len))
					l->v[i].keep = 0;
		return 0;
	}
	/* Many headers: sort pointers by name, then block order, so that
	 * the last of each run of equal names is the one to keep. */
	struct hent **ord = malloc(l->n * sizeof *ord);
	if (!ord) {
		hlist_free(l);
		return ENOMEM;
	}
	for (size_t i = 0; i < l->n; i++)
		ord[i] = &l->v[i];
	qsort(ord, l->n, sizeof *ord, hent_cmp);
	for (size_t i = 0; i + 1 < l->n; i++)
		if (ord[i]->h.name_len == ord[i + 1]->h.name_len &&
		    (!ord[i]->h.name_len ||
		     !memcmp(ord[i]->h.name, ord[i + 1]->h.name,
			     ord[i]->h.name_len)))
			ord[i]->keep = 0;
	free(ord);
	return 0;
}

/* Append the "headers" object, and "headers_b64" when a header is not
 * UTF-8 (NOTES (4) and (5)). */
static int format_headers(es_buf *out, const es_record *r)
{
	struct hlist l;
	int rc, b64 = 0;
	if (!r->headers_len)
		return APPEND_LIT(out, ",\"headers\":{}");
	if ((rc = hlist_load(&l, r->headers, r->headers_len)))
		return rc;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].keep &&
		    (!es_utf8_valid(l.v[i].h.name, l.v[i].h.name_len) ||
		     !es_utf8_valid(l.v[i].h.value, l.v[i].h.value_len)))
			l.v[i].keep = 2, b64 = 1;
	for (int pass = 1; pass <= 1 + b64; pass++) {
		int first = 1;
		rc = pass == 1 ? APPEND_LIT(out, ",\"headers\":{") :
				 APPEND_LIT(out, ",\"headers_b64\":{");
		for (size_t i = 0; !rc && i < l.n; i++) {
			const es_header *h = &l.v[i].h;
			if (l.v[i].keep != pass)
				continue;
			if (!first && (rc = es_buf_append(out, ",", 1)))
				break;
			first = 0;
			if (pass == 1)
				rc = es_json_append_string(out, h->name,
							   h->name_len) ||
				     es_buf_append(out, ":", 1) ||
				     es_json_append_string(out, h->value,
							   h->value_len);
			else
				rc = es_buf_append(out, "\"", 1) ||
				     es_base64_append(out, h->name,
						      h->name_len) ||
				     APPEND_LIT(out, "\":\"") ||
				     es_base64_append(out, h->value,
						      h->value_len) ||
				     es_buf_append(out, "\"", 1);
			if (rc)
				rc = ENOMEM; /* the only failure of these */
		}
		if (rc || (rc = es_buf_append(out, "}", 1)))
			break;
	}
	hlist_free(&l);
	return rc;
}

int es_json_format_record(es_buf *out, const char *topic, uint32_t partition,
			  const es_record *r)
{
	size_t start = out->len, tlen = strlen(topic);
	int rc;
	if (es_utf8_valid(topic, tlen)) {
		if ((rc = APPEND_LIT(out, "{\"topic\":")) ||
		    (rc = es_json_append_string(out, topic, tlen)))
			goto fail;
	} else {
		if ((rc = APPEND_LIT(out, "{\"topic_b64\":\"")) ||
		    (rc = es_base64_append(out, topic, tlen)) ||
		    (rc = es_buf_append(out, "\"", 1)))
			goto fail;
	}
	if ((rc = es_buf_reserve(out, 96)))
		goto fail;
	char *o = out->data + out->len;
	memcpy(o, ",\"partition\":", 13), o += 13;
	o += es_u64_dec(o, partition);
	memcpy(o, ",\"offset\":", 10), o += 10;
	o += es_u64_dec(o, r->offset);
	memcpy(o, ",\"timestamp\":", 13), o += 13;
	if (r->timestamp < 0)
		*o++ = '-';
	o += es_u64_dec(o, r->timestamp < 0 ? 0 - (uint64_t)r->timestamp :
					   (uint64_t)r->timestamp);
	out->len = (size_t)(o - out->data);
	if (r->key_len == ES_NULL_LEN)
		rc = APPEND_LIT(out, ",\"key\":null");
	else
		rc = append_bytes(out, "key", 3, r->key, r->key_len);
	if (rc)
		goto fail;
	if (r->value_len == ES_NULL_LEN)
		rc = APPEND_LIT(out, ",\"value\":null");
	else
		rc = append_bytes(out, "value", 5, r->value, r->value_len);
	if (rc || (rc = format_headers(out, r)) ||
	    (rc = APPEND_LIT(out, "}\n")))
		goto fail;
	return 0;
fail:
	out->len = start; /* nothing half-written */
	return rc;
}

/* ---- reading the envelope --------------------------------------------- */

/* The members es_envelope_parse looks at; the last of a repeated name
 * wins, as in es_json_field. */
enum { M_KEY, M_KEY_B64, M_VALUE, M_VALUE_B64, M_HEADERS, M_HEADERS_B64,
       M_PARTITION, M_TIMESTAMP, M_COUNT };
static const char *const member_names[M_COUNT] = {
	"key", "key_b64", "value", "value_b64", "headers", "headers_b64",
	"partition", "timestamp",
};

static int member_kind(const struct member *m)
{
	const uc *n = m->name;
	if (m->name_esc) { /* rare: "\u006bey" */
		for (int i = 0; i < M_COUNT; i++)
			if (string_equals(n, n + m->name_len, 1,
					  member_names[i],
					  strlen(member_names[i])))
				return i;
		return -1;
	}
	/* By length first: most lines name "topic" and "offset" too. */
	switch (m->name_len) {
	case 3:
		return !memcmp(n, "key", 3) ? M_KEY : -1;
	case 5:
		return !memcmp(n, "value", 5) ? M_VALUE : -1;
	case 7:
		return !memcmp(n, "headers", 7) ? M_HEADERS :
		       !memcmp(n, "key_b64", 7) ? M_KEY_B64 : -1;
	case 9:
		return !memcmp(n, "timestamp", 9) ? M_TIMESTAMP :
		       !memcmp(n, "partition", 9) ? M_PARTITION :
		       !memcmp(n, "value_b64", 9) ? M_VALUE_B64 : -1;
	case 11:
		return !memcmp(n, "headers_b64", 11) ? M_HEADERS_B64 : -1;
	}
	return -1;
}

static int bad(const struct scan *s, const struct member *m,
	       const char *fmt, const char *name)
{
	char what[128];
	snprintf(what, sizeof what, fmt, name);
	return fail(s, m->at, what);
}

/* The bytes of a string member into b (appended): unescaped, and decoded
 * from base64 when b64. */
static int member_bytes(const struct scan *s, const struct member *m,
			int b64, es_buf *b, const char *name)
{
	size_t start = b->len;
	int rc;
	if (!b64 || m->val_esc) {
		if ((rc = unescape_append(b, m->val, m->val_end)))
			return rc;
		if (!b64)
			return 0;
		uc *p = (uc *)b->data + start;
		long n = b64_decode(p, b->len - start, p);
		if (n < 0)
			return bad(s, m, "bad base64 in '%s'", name);
		b->len = start + (size_t)n;
		return 0;
	}
	size_t n = (size_t)(m->val_end - m->val);
	if ((rc = es_buf_reserve(b, n / 4 * 3)))
		return rc;
	long k = b64_decode(m->val, n, (uc *)b->data + start);
	if (k < 0)
		return bad(s, m, "bad base64 in '%s'", name);
	b->len = start + (size_t)k;
	return 0;
}

/* A non-negative integer member, at most max. */
static int member_uint(const struct scan *s, const struct member *m,
		       uint64_t max, uint64_t *v, const char *name)
{
	uint64_t x = 0, lim = max / 10, last = max % 10;
	if (m->type != T_NUMBER)
		return bad(s, m, "'%s' is not a non-negative integer", name);
	for (const uc *p = m->val; p < m->val_end; p++) {
		if (!is_digit(*p))
			return bad(s, m, "'%s' is not a non-negative integer",
				   name);
		uint64_t d = (uint64_t)(*p - '0');
		if (x > lim || (x == lim && d > last))
			return bad(s, m, "'%s' is too large", name);
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

/* Add the members of a "headers" (b64 = 0) or "headers_b64" object.
 * key and value are scratch for unescaping (the envelope's own key and
 * value buffers, not yet filled). */
static int add_headers(es_envelope *e, const struct scan *s,
		       const struct member *obj, int b64)
{
	const char *what = b64 ? "headers_b64" : "headers";
	struct walk w = { .s = *s };
	struct member m;
	int rc;
	if (obj->type == T_NULL)
		return 0;
	if (obj->type != T_OBJECT)
		return bad(s, obj, "'%s' is not an object", what);
	walk_begin(&w, obj->val, 2);
	while ((rc = walk_next(&w, &m)) == 1) {
		const char *name = (const char *)m.name,
			   *value = (const char *)m.val;
		size_t name_len = m.name_len,
		       value_len = (size_t)(m.val_end - m.val);
		if (m.type != T_STRING)
			return bad(s, &m, "a value in '%s' is not a string",
				   what);
		if (b64 || m.name_esc) {
			struct member nm = { .val = m.name,
					     .val_end = m.name + m.name_len,
					     .at = m.name - 1,
					     .val_esc = m.name_esc };
			e->key.len = 0;
			if ((rc = member_bytes(s, &nm, b64, &e->key, what)))
				return rc;
			name = e->key.data ? e->key.data : "";
			name_len = e->key.len;
		}
		if (b64 || m.val_esc) {
			e->value.len = 0;
			if ((rc = member_bytes(s, &m, b64, &e->value, what)))
				return rc;
			value = e->value.data ? e->value.data : "";
			value_len = e->value.len;
		}
		if ((rc = es_header_add(&e->headers, name, name_len, value,
					value_len))) {
			if (rc == ENOMEM)
				return rc;
			return bad(s, &m, "a header in '%s' is too large",
				   what);
		}
	}
	return rc;
}

/* Keep only the last header of each name, in place (NOTES (5)). */
static int dedupe_headers(es_buf *block)
{
	struct hlist l;
	size_t o = 0;
	int rc = hlist_load(&l, (const uc *)block->data, (uint32_t)block->len);
	if (rc)
		return rc;
	for (size_t i = 0; i < l.n; i++) {
		/* Moving an entry down never touches the ones after it. */
		if (l.v[i].keep) {
			size_t k = l.v[i].end - l.v[i].start;
			memmove(block->data + o, block->data + l.v[i].start, k);
			o += k;
		}
	}
	block->len = o;
	hlist_free(&l);
	return 0;
}

int es_envelope_parse(es_envelope *e, const char *line, size_t len,
		      es_error *err)
{
	struct walk w;
	struct member m, mem[M_COUNT];
	const uc *open;
	int rc, kind;
	uint64_t v;

	e->key.len = e->value.len = e->headers.len = 0;
	e->key_null = 1;
	e->value_null = 0;
	e->has_partition = e->has_timestamp = 0;
	e->partition = 0;
	e->timestamp = 0;
	for (int i = 0; i < M_COUNT; i++)
		mem[i].type = 0;
	if ((rc = walk_line(&w, (const uc *)line, len, err)))
		return rc;
	open = w.p - 1;
	while ((rc = walk_next(&w, &m)) == 1)
		if ((kind = member_kind(&m)) >= 0)
			mem[kind] = m;
	if (rc < 0 || (rc = walk_end(&w)))
		return rc;
	const struct scan *s = &w.s;

	/* Headers first: they use key and value as scratch. */
	struct member *h1 = &mem[M_HEADERS], *h2 = &mem[M_HEADERS_B64];
	if (h1->type || h2->type) {
		int b64_first = h2->type && (!h1->type || h2->at < h1->at);
		if ((mem[b64_first ? M_HEADERS_B64 : M_HEADERS].type &&
		     (rc = add_headers(e, s, b64_first ? h2 : h1,
				       b64_first))) ||
		    (mem[b64_first ? M_HEADERS : M_HEADERS_B64].type &&
		     (rc = add_headers(e, s, b64_first ? h1 : h2,
				       !b64_first))))
			return rc;
		if (e->headers.len && (rc = dedupe_headers(&e->headers)))
			return rc; /* ENOMEM: we wrote the block ourselves */
		e->key.len = e->value.len = 0;
	}

	if (mem[M_KEY].type && mem[M_KEY_B64].type)
		return bad(s, &mem[M_KEY_B64], "both '%s' and 'key_b64'",
			   "key");
	if (mem[M_KEY].type == T_STRING) {
		e->key_null = 0;
		if ((rc = member_bytes(s, &mem[M_KEY], 0, &e->key, "key")))
			return rc;
	} else if (mem[M_KEY].type && mem[M_KEY].type != T_NULL) {
		return bad(s, &mem[M_KEY], "'%s' is not a string or null",
			   "key");
	}
	if (mem[M_KEY_B64].type) {
		if (mem[M_KEY_B64].type != T_STRING)
			return bad(s, &mem[M_KEY_B64], "'%s' is not a string",
				   "key_b64");
		e->key_null = 0;
		if ((rc = member_bytes(s, &mem[M_KEY_B64], 1, &e->key,
				       "key_b64")))
			return rc;
	}

	if (mem[M_VALUE].type && mem[M_VALUE_B64].type)
		return bad(s, &mem[M_VALUE_B64], "both '%s' and 'value_b64'",
			   "value");
	if (!mem[M_VALUE].type && !mem[M_VALUE_B64].type)
		return fail(s, open, "no 'value' or 'value_b64'");
	if (mem[M_VALUE].type == T_STRING) {
		if ((rc = member_bytes(s, &mem[M_VALUE], 0, &e->value,
				       "value")))
			return rc;
	} else if (mem[M_VALUE].type == T_NULL) {
		e->value_null = 1;
	} else if (mem[M_VALUE].type) {
		return bad(s, &mem[M_VALUE], "'%s' is not a string or null",
			   "value");
	}
	if (mem[M_VALUE_B64].type) {
		if (mem[M_VALUE_B64].type != T_STRING)
			return bad(s, &mem[M_VALUE_B64],
				   "'%s' is not a string", "value_b64");
		if ((rc = member_bytes(s, &mem[M_VALUE_B64], 1, &e->value,
				       "value_b64")))
			return rc;
	}

	/* null stands for absent, as jq writes a missing field. */
	if (mem[M_PARTITION].type && mem[M_PARTITION].type != T_NULL) {
		if ((rc = member_uint(s, &mem[M_PARTITION], UINT32_MAX, &v,
				      "partition")))
			return rc;
		e->has_partition = 1;
		e->partition = (uint32_t)v;
	}
	if (mem[M_TIMESTAMP].type && mem[M_TIMESTAMP].type != T_NULL) {
		if ((rc = member_uint(s, &mem[M_TIMESTAMP], INT64_MAX, &v,
				      "timestamp")))
			return rc;
		e->has_timestamp = 1;
		e->timestamp = (int64_t)v;
	}
	return 0;
}

void es_envelope_free(es_envelope *e)
{
	es_buf_free(&e->key);
	es_buf_free(&e->value);
	es_buf_free(&e->headers);
}
