/* record.c - the byte layout of records, headers, index entries and the
 * head file: pack and unpack, never a struct written as is. */
#include <errno.h>
#include <stdio.h>
#include <zlib.h>

#include "es-int.h"

int64_t es_record_decode(const unsigned char *p, size_t avail, es_record *r,
			 size_t *need, const char **why)
{
	if (avail < ES_REC_HDR) {
		*need = ES_REC_HDR;
		return 0;
	}
	uint32_t len = get32(p + 4);
	/* Bound the length before trusting it for anything. */
	if (len < ES_REC_FIXED || len > ES_REC_MAX) {
		*why = "bad record length";
		return ES_ECORRUPT;
	}
	size_t total = (size_t)len + 8;
	if (avail < total) {
		*need = total;
		return 0;
	}
	if (es_crc32c(0, p + 4, total - 4) != get32(p)) {
		*why = "checksum mismatch";
		return ES_ECORRUPT;
	}
	uint32_t klen = get32(p + 24), vlen = get32(p + 28), hlen = get32(p + 32);
	uint64_t body = (uint64_t)(klen == ES_NULL_LEN ? 0 : klen) +
			(vlen == ES_NULL_LEN ? 0 : vlen) + hlen;
	if (body != len - ES_REC_FIXED) {
		*why = "field lengths do not add up";
		return ES_ECORRUPT;
	}
	r->offset = get64(p + 8);
	r->timestamp = (int64_t)get64(p + 16);
	const unsigned char *q = p + ES_REC_HDR;
	r->key = klen == ES_NULL_LEN ? NULL : q;
	r->key_len = klen;
	q += klen == ES_NULL_LEN ? 0 : klen;
	r->value = vlen == ES_NULL_LEN ? NULL : q;
	r->value_len = vlen;
	q += vlen == ES_NULL_LEN ? 0 : vlen;
	r->headers = q;
	r->headers_len = hlen;
	return (int64_t)total;
}

int es_record_encode(es_buf *b, int64_t ts, const void *key, uint32_t klen,
		     const void *val, uint32_t vlen, const void *hdrs,
		     uint32_t hlen)
{
	size_t body = (size_t)(klen == ES_NULL_LEN ? 0 : klen) +
		      (vlen == ES_NULL_LEN ? 0 : vlen) + hlen;
	if (body > ES_REC_MAX - ES_REC_FIXED)
		return ES_ETOOBIG;
	int rc = es_buf_reserve(b, ES_REC_HDR + body);
	if (rc)
		return rc;
	unsigned char *p = (unsigned char *)b->data + b->len;
	put32(p, 0);
	put32(p + 4, (uint32_t)(ES_REC_FIXED + body));
	put64(p + 8, 0);
	put64(p + 16, (uint64_t)ts);
	put32(p + 24, klen);
	put32(p + 28, vlen);
	put32(p + 32, hlen);
	unsigned char *q = p + ES_REC_HDR;
	if (klen != ES_NULL_LEN && klen) {
		memcpy(q, key, klen);
		q += klen;
	}
	if (vlen != ES_NULL_LEN && vlen) {
		memcpy(q, val, vlen);
		q += vlen;
	}
	if (hlen)
		memcpy(q, hdrs, hlen);
	b->len += ES_REC_HDR + body;
	return 0;
}

void es_record_seal(unsigned char *rec, uint64_t offset)
{
	put64(rec + 8, offset);
	put32(rec, es_crc32c(0, rec + 4, es_record_size(rec) - 4));
}

int es_header_next(const unsigned char *block, uint32_t len, uint32_t *pos,
		   es_header *h)
{
	if (*pos >= len)
		return 0;
	if (len - *pos < 2)
		return ES_ECORRUPT;
	uint32_t nl = get16(block + *pos);
	if (len - *pos - 2 < nl + 4u)
		return ES_ECORRUPT;
	h->name = (const char *)block + *pos + 2;
	h->name_len = nl;
	uint32_t vl = get32(block + *pos + 2 + nl);
	uint32_t at = *pos + 6 + nl;
	if (len - at < vl)
		return ES_ECORRUPT;
	h->value = (const char *)block + at;
	h->value_len = vl;
	*pos = at + vl;
	return 1;
}

int es_header_add(es_buf *block, const char *name, size_t name_len,
		  const char *value, size_t value_len)
{
	if (name_len > UINT16_MAX || value_len > ES_REC_MAX)
		return ES_ETOOBIG;
	int rc = es_buf_reserve(block, 6 + name_len + value_len);
	if (rc)
		return rc;
	unsigned char *p = (unsigned char *)block->data + block->len;
	put16(p, (uint16_t)name_len);
	if (name_len)
		memcpy(p + 2, name, name_len);
	put32(p + 2 + name_len, (uint32_t)value_len);
	if (value_len)
		memcpy(p + 6 + name_len, value, value_len);
	block->len += 6 + name_len + value_len;
	return 0;
}

void es_idx_pack(unsigned char *p, const es_idx_entry *e)
{
	put32(p, e->rel);
	put32(p + 4, e->pos);
	put64(p + 8, (uint64_t)e->max_ts);
}

void es_idx_unpack(const unsigned char *p, es_idx_entry *e)
{
	e->rel = get32(p);
	e->pos = get32(p + 4);
	e->max_ts = (int64_t)get64(p + 8);
}

int es_idx_append(es_buf *idx, int *have, uint64_t *last, uint64_t base,
		  uint64_t offset, uint64_t pos, int64_t max_ts)
{
	es_idx_entry ie = {(uint32_t)(offset - base), (uint32_t)pos, max_ts};
	unsigned char e[ES_IDX_ENTRY];
	es_idx_pack(e, &ie);
	int rc = es_buf_append(idx, e, sizeof e);
	if (!rc) {
		*have = 1;
		*last = pos;
	}
	return rc;
}

/* Head layout: "ESHD", u32 version 1, u64 next, u64 seg_base, u64 seg_size,
 * i64 max_ts, u64 writer, 12 reserved bytes, u32 CRC-32C of bytes [0, 60). */
void es_head_pack(unsigned char *p, const es_head *h)
{
	memset(p, 0, ES_HEAD_SIZE);
	memcpy(p, "ESHD", 4);
	put32(p + 4, 1);
	put64(p + 8, h->next);
	put64(p + 16, h->seg_base);
	put64(p + 24, h->seg_size);
	put64(p + 32, (uint64_t)h->max_ts);
	put64(p + 40, h->writer);
	put32(p + 60, es_crc32c(0, p, 60));
}

int es_head_unpack(const unsigned char *p, es_head *h)
{
	if (memcmp(p, "ESHD", 4) != 0 || es_crc32c(0, p, 60) != get32(p + 60))
		return ES_ECORRUPT;
	if (get32(p + 4) != 1)
		return ES_EFORMAT;
	h->next = get64(p + 8);
	h->seg_base = get64(p + 16);
	h->seg_size = get64(p + 24);
	h->max_ts = (int64_t)get64(p + 32);
	h->writer = get64(p + 40);
	return 0;
}

int es_head_read(int fd, es_head *h)
{
	unsigned char buf[ES_HEAD_SIZE];
	int rc = ES_ECORRUPT;
	/* A writer's pwrite is not atomic against our pread: a torn read shows
	 * as a checksum mismatch, and the next read sees the whole write. */
	for (int tries = 0; tries < 100; tries++) {
		ssize_t n = es_pread_full(fd, buf, sizeof buf, 0);
		if (n < 0)
			return errno;
		if (n != ES_HEAD_SIZE)
			return ES_ECORRUPT;
		rc = es_head_unpack(buf, h);
		if (rc != ES_ECORRUPT)
			return rc;
	}
	return rc;
}

void es_seg_name(char *buf, uint64_t base, const char *ext)
{
	/* By hand, not snprintf: es-lag names thousands of segments. */
	for (int i = ES_SEG_NAME_LEN - 1; i >= 0; i--, base /= 10)
		buf[i] = (char)('0' + base % 10);
	buf[ES_SEG_NAME_LEN] = '.';
	size_t n = strlen(ext);
	if (n > 40 - ES_SEG_NAME_LEN - 2)
		n = 40 - ES_SEG_NAME_LEN - 2;
	memcpy(buf + ES_SEG_NAME_LEN + 1, ext, n);
	buf[ES_SEG_NAME_LEN + 1 + n] = 0;
}

void es_zblock_pack(unsigned char *p, const es_zblock *b)
{
	memcpy(p, "ESZB", 4);
	put32(p + 4, b->clen);
	put32(p + 8, b->ulen);
	put32(p + 12, b->count);
	put64(p + 16, b->first);
	put64(p + 24, b->last);
	put64(p + 32, (uint64_t)b->max_ts);
	put32(p + 40, b->dcrc);
	put32(p + 44, es_crc32c(0, p, 44));
}

int es_zblock_unpack(const unsigned char *p, es_zblock *b)
{
	if (memcmp(p, "ESZB", 4) != 0 || es_crc32c(0, p, 44) != get32(p + 44))
		return ES_ECORRUPT;
	b->clen = get32(p + 4);
	b->ulen = get32(p + 8);
	b->count = get32(p + 12);
	b->first = get64(p + 16);
	b->last = get64(p + 24);
	b->max_ts = (int64_t)get64(p + 32);
	b->dcrc = get32(p + 40);
	/* Bound both lengths before anyone allocates for them. */
	if (b->clen > ES_REC_MAX + (1u << 20) || b->ulen > ES_REC_MAX + (1u << 20) ||
	    b->ulen < ES_REC_HDR || b->count == 0 || b->last < b->first)
		return ES_ECORRUPT;
	return 0;
}

int es_zblock_inflate(const es_zblock *b, const unsigned char *data,
		      unsigned char *out)
{
	if (es_crc32c(0, data, b->clen) != b->dcrc)
		return ES_ECORRUPT;
	uLongf len = b->ulen;
	if (uncompress(out, &len, data, b->clen) != Z_OK || len != b->ulen)
		return ES_ECORRUPT;
	return 0;
}

int es_zblock_read(int fd, uint64_t pos, uint64_t end, es_zblock *b,
		   es_buf *zin, es_buf *out, uint64_t *next, const char **why)
{
	unsigned char h[ES_ZB_HDR];
	zin->len = out->len = 0;
	*next = end;
	if (es_pread_full(fd, h, sizeof h, (off_t)pos) != ES_ZB_HDR ||
	    es_zblock_unpack(h, b) != 0) {
		*why = "bad compressed block header";
		return ES_ECORRUPT;
	}
	if (pos + ES_ZB_HDR + b->clen > end) {
		*why = "truncated compressed block";
		return ES_ECORRUPT;
	}
	*next = pos + ES_ZB_HDR + b->clen;
	if (es_buf_reserve(zin, b->clen) || es_buf_reserve(out, b->ulen))
		return ENOMEM;
	if (es_pread_full(fd, zin->data, b->clen, (off_t)(pos + ES_ZB_HDR)) !=
		    (ssize_t)b->clen ||
	    es_zblock_inflate(b, (unsigned char *)zin->data,
			      (unsigned char *)out->data) != 0) {
		*why = "compressed block fails its checks";
		return ES_ECORRUPT;
	}
	out->len = b->ulen;
	return 0;
}
