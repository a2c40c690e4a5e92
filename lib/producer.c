/* producer.c - buffer records per partition, then flush them as one group
 * commit: lock every partition involved, write, sync, publish, acknowledge.
 *
 * A flush is all or nothing: if any partition fails to write or sync, every
 * partition of the flush is rolled back, so the records acknowledged by a
 * producer are always a prefix of what it was given (a caller can resume
 * from the count). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "es-int.h"

struct es_producer {
	es_topic *t;
	int sync;
	uint32_t n;
	es_pwriter *w; /* w[p].t is NULL until partition p is first used */
	es_buf *pend;  /* encoded records per partition */
	uint64_t *first;
	uint32_t *order; /* partition of each pending record, in add order */
	size_t norder, cap;
	uint32_t rr;
	uint64_t durable;
	size_t bytes;
};

int es_producer_open(es_topic *t, int sync, es_producer **out, es_error *err)
{
	es_producer *p = calloc(1, sizeof *p);
	if (!p)
		return ENOMEM;
	p->t = t;
	p->sync = sync;
	p->n = t->cfg.partitions;
	p->w = calloc(p->n, sizeof *p->w);
	p->pend = calloc(p->n, sizeof *p->pend);
	p->first = calloc(p->n, sizeof *p->first);
	if (!p->w || !p->pend || !p->first) {
		es_producer_close(p);
		es_err(err, "out of memory");
		return ENOMEM;
	}
	/* Keyless records start at a random partition, so that many short
	 * runs do not all pile onto partition 0. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	p->rr = (uint32_t)(ts.tv_nsec ^ (long)getpid()) % p->n;
	*out = p;
	return 0;
}

void es_producer_close(es_producer *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; p->w && i < p->n; i++) {
		if (p->w[i].t)
			es_pwriter_close(&p->w[i]);
		if (p->pend)
			es_buf_free(&p->pend[i]);
	}
	free(p->w);
	free(p->pend);
	free(p->first);
	free(p->order);
	free(p);
}

int es_producer_add(es_producer *p, int partition, const void *key,
		    uint32_t key_len, const void *value, uint32_t value_len,
		    const void *headers, uint32_t headers_len,
		    int64_t timestamp, int *partition_out, es_error *err)
{
	uint64_t size = (uint64_t)(key_len == ES_NULL_LEN ? 0 : key_len) +
			(value_len == ES_NULL_LEN ? 0 : value_len) + headers_len;
	if (size > p->t->cfg.max_record_bytes) {
		es_err(err, "record of %llu bytes is over max_record_bytes (%llu)",
		       (unsigned long long)size,
		       (unsigned long long)p->t->cfg.max_record_bytes);
		return ES_ETOOBIG;
	}
	uint32_t part;
	if (partition >= 0) {
		if ((uint32_t)partition >= p->n) {
			es_err(err, "partition %d out of range (topic has %u)",
			       partition, p->n);
			return ES_EUSAGE;
		}
		part = (uint32_t)partition;
	} else if (key_len != ES_NULL_LEN) {
		part = es_partition_for_key(key, key_len, p->n);
	} else {
		part = p->rr;
		p->rr = (p->rr + 1) % p->n;
	}
	if (p->norder == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 4096;
		uint32_t *o = realloc(p->order, cap * sizeof *o);
		if (!o)
			return ENOMEM;
		p->order = o;
		p->cap = cap;
	}
	if (timestamp < 0)
		timestamp = es_now_ms();
	size_t before = p->pend[part].len;
	int rc = es_record_encode(&p->pend[part], timestamp, key, key_len,
				  value, value_len, headers, headers_len);
	if (rc) {
		es_err(err, "cannot buffer a record: %s", es_strerror(rc));
		return rc;
	}
	p->bytes += p->pend[part].len - before;
	p->order[p->norder++] = part;
	if (partition_out)
		*partition_out = (int)part;
	return 0;
}

size_t es_producer_pending(const es_producer *p)
{
	return p->bytes;
}

uint64_t es_producer_durable(const es_producer *p)
{
	return p->durable;
}

int es_producer_flush(es_producer *p, es_ack_fn ack, void *arg, es_error *err)
{
	if (!p->norder)
		return 0;
	uint32_t i, locked = 0;
	int rc = 0;
	/* Locks are taken in partition order, so producers never deadlock. */
	for (i = 0; i < p->n && !rc; i++) {
		if (!p->pend[i].len)
			continue;
		if (!p->w[i].t && (rc = es_pwriter_open(p->t, i, &p->w[i], err)))
			break;
		if ((rc = es_pwriter_lock(&p->w[i], err)))
			break;
		locked = i + 1;
	}
	for (i = 0; i < locked && !rc; i++) {
		if (!p->pend[i].len)
			continue;
		p->first[i] = p->w[i].next;
		rc = es_pwriter_write(&p->w[i], (unsigned char *)p->pend[i].data,
				      p->pend[i].len, p->sync, err);
	}
	for (i = 0; i < locked && !rc; i++)
		if (p->pend[i].len)
			rc = es_pwriter_sync(&p->w[i], p->sync, err);
	for (i = 0; i < locked && !rc; i++)
		if (p->pend[i].len)
			rc = es_pwriter_publish(&p->w[i], err);
	for (i = 0; i < locked; i++) {
		if (!p->pend[i].len)
			continue;
		if (rc)
			es_pwriter_rollback(&p->w[i], p->sync);
		es_pwriter_unlock(&p->w[i]);
	}
	if (rc)
		return rc;
	/* Durable and published: acknowledge in input order. */
	for (size_t k = 0; k < p->norder; k++) {
		uint32_t part = p->order[k];
		p->durable++;
		if (ack && (rc = ack(arg, part, p->first[part]++)))
			break;
	}
	for (i = 0; i < p->n; i++)
		p->pend[i].len = 0;
	p->norder = 0;
	p->bytes = 0;
	return rc;
}
