/* util.c - error strings, the growable buffer, and small helpers */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "es.h"

const char *es_strerror(int rc)
{
	switch (rc) {
	case 0: return "success";
	case ES_ECORRUPT: return "corrupt data";
	case ES_EFORMAT: return "unsupported format";
	case ES_ECONFIG: return "bad configuration";
	case ES_ELOCKED: return "locked by another process";
	case ES_ETOOBIG: return "record too large";
	case ES_EBADJSON: return "invalid JSON";
	case ES_ENOFIELD: return "missing key field";
	case ES_EUSAGE: return "invalid argument";
	case ES_EBUSY: return "busy";
	}
	if (rc > 0)
		return strerror(rc);
	return "unknown error";
}

int es_buf_reserve(es_buf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < extra) {
		if (cap > SIZE_MAX / 2)
			return ENOMEM;
		cap *= 2;
	}
	char *p = realloc(b->data, cap);
	if (!p)
		return ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int es_buf_append(es_buf *b, const void *p, size_t n)
{
	int rc = es_buf_reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void es_buf_free(es_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

size_t es_u64_dec(char *o, uint64_t v)
{
	/* Two digits a division, written in place from the end: es-consume
	 * -J writes three numbers a record, a timestamp of 13 digits among
	 * them. */
	static const char pairs[] =
		"00010203040506070809101112131415161718192021222324"
		"25262728293031323334353637383940414243444546474849"
		"50515253545556575859606162636465666768697071727374"
		"75767778798081828384858687888990919293949596979899";
	size_t n = 1;
	for (uint64_t p = 10; n < 20 && v >= p; p *= 10)
		n++;
	char *e = o + n;
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);
		v /= 100;
		e -= 2;
		memcpy(e, pairs + 2 * r, 2);
	}
	if (v >= 10)
		memcpy(e - 2, pairs + 2 * v, 2);
	else
		e[-1] = (char)('0' + v);
	return n;
}
