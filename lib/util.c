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
	char tmp[20];
	size_t n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while (v /= 10);
	for (size_t i = 0; i < n; i++)
		o[i] = tmp[n - 1 - i];
	return n;
}
