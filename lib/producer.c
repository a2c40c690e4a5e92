/* producer.c - buffer records per partition, then flush them as one group
 * commit: lock every partition involved, write, sync, publish, acknowledge.
 *
 * A flush is all or nothing: if any partition fails to write or sync, every
 * partition of the flush is rolled back, so the records acknowledged by a
 * producer are always a prefix of what it was given (a caller can resume
 * from the count). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "es-int.h"

/* One batch: records per partition, and the partition of each record in
 * the order it was added (for acknowledgements in input order). */
struct batch {
	int durable; /* its records were synced (even if publishing failed) */
	es_buf *pend;
	uint64_t *first; /* offset given to each partition's first record */
	uint32_t *order;
	size_t norder, cap, bytes;
};

/* Two batches alternate: the caller fills one while the committer thread
 * writes and syncs the other, so parsing and disk writes overlap. */
struct es_producer {
	es_topic *t;
	int sync;
	uint32_t n;
	es_pwriter *w; /* w[p].t is NULL until partition p is first used */
	struct batch b[2];
	int fill;	/* the batch being filled */
	uint32_t rr;
	uint64_t durable;
	pthread_t thread;
	int have_thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int busy;	/* the other batch is submitted and not yet done */
	int done;	/* ... and it is done: its acks are due */
	int stop;
	int rc;		/* the first commit failure; sticks */
	es_error err;
};

static int commit(es_producer *p, struct batch *b, es_error *err);

static void *committer(void *arg)
{
	es_producer *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && !(p->busy && !p->done))
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		struct batch *b = &p->b[!p->fill];
		pthread_mutex_unlock(&p->mu);
		es_error err = {{0}};
		int rc = commit(p, b, &err);
		pthread_mutex_lock(&p->mu);
		if (rc && !p->rc) {
			p->rc = rc;
			p->err = err;
		}
		p->done = 1;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static int batch_init(struct batch *b, uint32_t n)
{
	b->pend = calloc(n, sizeof *b->pend);
	b->first = calloc(n, sizeof *b->first);
	return b->pend && b->first ? 0 : ENOMEM;
}

static void batch_free(struct batch *b, uint32_t n)
{
	for (uint32_t i = 0; b->pend && i < n; i++)
		es_buf_free(&b->pend[i]);
	free(b->pend);
	free(b->first);
	free(b->order);
}

int es_producer_open(es_topic *t, int sync, es_producer **out, es_error *err)
{
	es_producer *p = calloc(1, sizeof *p);
	if (!p)
		return ENOMEM;
	p->t = t;
	p->sync = sync;
	p->n = t->cfg.partitions;
	p->w = calloc(p->n, sizeof *p->w);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (!p->w || batch_init(&p->b[0], p->n) || batch_init(&p->b[1], p->n)) {
		es_producer_close(p);
		es_err(err, "out of memory");
		return ENOMEM;
	}
	/* The process's signals are for the caller's thread: a SIGINT taken
	 * by the committer would leave the caller blocked in read(2),
	 * unaware. The thread inherits the mask blocked here. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&p->thread, NULL, committer, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		es_producer_close(p);
		es_err(err, "cannot start the committer thread: %s", strerror(rc));
		return rc;
	}
	p->have_thread = 1;
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
	if (p->have_thread) {
		pthread_mutex_lock(&p->mu);
		while (p->busy && !p->done)
			pthread_cond_wait(&p->cv, &p->mu);
		p->stop = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	for (uint32_t i = 0; p->w && i < p->n; i++)
		if (p->w[i].t)
			es_pwriter_close(&p->w[i]);
	batch_free(&p->b[0], p->n);
	batch_free(&p->b[1], p->n);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->w);
	free(p);
}

int es_producer_add(es_producer *p, int partition, const void *key,
		    uint32_t key_len, const void *value, uint32_t value_len,
		    const void *headers, uint32_t headers_len,
		    int64_t timestamp, int *partition_out, es_error *err)
{
	struct batch *b = &p->b[p->fill];
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
	if (b->norder == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		uint32_t *o = realloc(b->order, cap * sizeof *o);
		if (!o)
			return ENOMEM;
		b->order = o;
		b->cap = cap;
	}
	if (timestamp < 0)
		timestamp = es_now_ms();
	size_t before = b->pend[part].len;
	int rc = es_record_encode(&b->pend[part], timestamp, key, key_len,
				  value, value_len, headers, headers_len);
	if (rc) {
		es_err(err, "cannot buffer a record: %s", es_strerror(rc));
		return rc;
	}
	b->bytes += b->pend[part].len - before;
	b->order[b->norder++] = part;
	if (partition_out)
		*partition_out = (int)part;
	return 0;
}

size_t es_producer_pending(const es_producer *p)
{
	return p->b[p->fill].bytes;
}

uint64_t es_producer_durable(const es_producer *p)
{
	return p->durable;
}

/* Write one batch: lock every partition involved, write, sync, publish. */
static int commit(es_producer *p, struct batch *b, es_error *err)
{
	uint32_t i, locked = 0;
	int rc = 0;
	/* Locks are taken in partition order, so producers never deadlock. */
	for (i = 0; i < p->n && !rc; i++) {
		if (!b->pend[i].len)
			continue;
		if (!p->w[i].t && (rc = es_pwriter_open(p->t, i, &p->w[i], err)))
			break;
		if ((rc = es_pwriter_lock(&p->w[i], err)))
			break;
		locked = i + 1;
	}
	for (i = 0; i < locked && !rc; i++) {
		if (!b->pend[i].len)
			continue;
		b->first[i] = p->w[i].s.next;
		rc = es_pwriter_write(&p->w[i], (unsigned char *)b->pend[i].data,
				      b->pend[i].len, p->sync, err);
	}
	for (i = 0; i < locked && !rc; i++)
		if (b->pend[i].len)
			rc = es_pwriter_sync(&p->w[i], p->sync, err);
	/* Every record of the batch is durable from here on: a head that
	 * fails to publish is not rolled back (others may be published
	 * already, and readers may have seen them); the next writer's
	 * recovery publishes what lies past it. */
	b->durable = !rc;
	int prc = 0;
	for (i = 0; i < locked && !rc; i++)
		if (b->pend[i].len) {
			es_error perr;
			int r = es_pwriter_publish(&p->w[i], &perr);
			if (r && !prc) {
				prc = r;
				if (err)
					*err = perr;
			}
		}
	for (i = 0; i < locked; i++) {
		if (!b->pend[i].len)
			continue;
		if (rc)
			es_pwriter_rollback(&p->w[i]);
		es_pwriter_unlock(&p->w[i]);
	}
	return rc ? rc : prc;
}

/* Wait for the submitted batch, then acknowledge it in input order. */
static int reap(es_producer *p, es_ack_fn ack, void *arg, es_error *err)
{
	pthread_mutex_lock(&p->mu);
	while (p->busy && !p->done)
		pthread_cond_wait(&p->cv, &p->mu);
	int was_busy = p->busy, rc = p->rc;
	if (rc && err)
		*err = p->err;
	p->busy = p->done = 0;
	pthread_mutex_unlock(&p->mu);
	struct batch *b = &p->b[!p->fill];
	/* A batch that reached the disk is acknowledged, even when a head
	 * could not be published after it (the error still ends the run). */
	if (!was_busy || (rc && !b->durable))
		return rc;
	int arc = 0;
	for (size_t k = 0; k < b->norder; k++) {
		uint32_t part = b->order[k];
		p->durable++;
		if (ack && !arc)
			arc = ack(arg, part, b->first[part]++);
	}
	b->durable = 0;
	if (!rc)
		rc = arc;
	for (uint32_t i = 0; i < p->n; i++)
		b->pend[i].len = 0;
	b->norder = 0;
	b->bytes = 0;
	return rc;
}

int es_producer_submit(es_producer *p, es_ack_fn ack, void *arg,
		       es_error *err)
{
	int rc = reap(p, ack, arg, err);
	if (rc)
		return rc;
	if (!p->b[p->fill].norder)
		return 0;
	pthread_mutex_lock(&p->mu);
	p->fill = !p->fill;
	p->busy = 1;
	p->done = 0;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int es_producer_unreaped(es_producer *p)
{
	pthread_mutex_lock(&p->mu);
	int busy = p->busy;
	pthread_mutex_unlock(&p->mu);
	return busy;
}

int es_producer_busy(es_producer *p)
{
	pthread_mutex_lock(&p->mu);
	int busy = p->busy && !p->done;
	pthread_mutex_unlock(&p->mu);
	return busy;
}

int es_producer_flush(es_producer *p, es_ack_fn ack, void *arg, es_error *err)
{
	int rc = reap(p, ack, arg, err);
	if (rc || !p->b[p->fill].norder)
		return rc;
	/* Nothing in flight: commit here rather than hand over to the
	 * committer and wait for it, two thread wake-ups saved on the path
	 * that sets follow latency (a sync each time the input pauses). */
	pthread_mutex_lock(&p->mu);
	p->fill = !p->fill;
	pthread_mutex_unlock(&p->mu);
	rc = commit(p, &p->b[!p->fill], err);
	pthread_mutex_lock(&p->mu);
	if (rc && !p->rc) {
		p->rc = rc;
		if (err)
			p->err = *err;
	}
	p->busy = p->done = 1;
	pthread_mutex_unlock(&p->mu);
	return reap(p, ack, arg, err);
}
