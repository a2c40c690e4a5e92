/* fuzz_record.c - libFuzzer: es_record_decode over any bytes, as a reader
 * walks a segment, and es_header_next over every header block */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "es-int.h"

/* Walk a header block: every header lies inside it, the walk moves
 * forward, and it ends with 0 exactly at the end or with ES_ECORRUPT. */
static void walk_headers(const unsigned char *block, uint32_t len)
{
	uint32_t pos = 0, prev = 0;
	es_header h;
	int rc;
	while ((rc = es_header_next(block, len, &pos, &h)) == 1) {
		const char *lo = (const char *)block, *hi = lo + len;
		if (pos <= prev || pos > len || h.name < lo ||
		    h.name + h.name_len > hi || h.value < lo ||
		    h.value + h.value_len > hi)
			abort();
		/* Touch every byte, so ASan sees any overread. */
		volatile unsigned char sink = 0;
		for (size_t i = 0; i < h.name_len; i++)
			sink ^= (unsigned char)h.name[i];
		for (size_t i = 0; i < h.value_len; i++)
			sink ^= (unsigned char)h.value[i];
		(void)sink;
		prev = pos;
	}
	if (rc == 0 ? pos < len : rc != ES_ECORRUPT)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The raw bytes as a header block too. */
	walk_headers(data, size > UINT32_MAX ? UINT32_MAX : (uint32_t)size);

	size_t pos = 0;
	es_buf re = {0};
	while (pos < size) {
		const unsigned char *p = data + pos;
		size_t avail = size - pos, need = 0;
		const char *why = NULL;
		es_record r;
		int64_t n = es_record_decode(p, avail, &r, &need, &why);
		if (n == 0) {
			/* Waiting for more is only right when more is needed,
			 * and never for more than the hard bound. */
			if (need <= avail || need > (size_t)ES_REC_MAX + 8)
				abort();
			break;
		}
		if (n < 0) {
			if (n != ES_ECORRUPT || !why)
				abort();
			break;
		}
		if ((size_t)n > avail || n < ES_REC_HDR ||
		    es_record_size(p) != (uint64_t)n)
			abort();
		uint64_t body = (uint64_t)(r.key_len == ES_NULL_LEN ? 0 : r.key_len) +
				(r.value_len == ES_NULL_LEN ? 0 : r.value_len) +
				r.headers_len;
		if (body != (uint64_t)n - ES_REC_HDR ||
		    (r.key == NULL) != (r.key_len == ES_NULL_LEN) ||
		    (r.value == NULL) != (r.value_len == ES_NULL_LEN))
			abort();
		walk_headers(r.headers, r.headers_len);

		/* The layout has no slack: encoding what was decoded gives
		 * back the same bytes, checksum included. */
		re.len = 0;
		if (es_record_encode(&re, r.timestamp, r.key, r.key_len, r.value,
				     r.value_len, r.headers, r.headers_len) != 0 ||
		    re.len != (size_t)n)
			abort();
		es_record_seal((unsigned char *)re.data, r.offset);
		if (memcmp(re.data, p, (size_t)n) != 0)
			abort();
		pos += (size_t)n;
	}
	es_buf_free(&re);
	return 0;
}
