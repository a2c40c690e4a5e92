/* partition.c - the partition writer: lock, recover a torn tail, append,
 * roll segments, sync, publish the durable end.
 *
 * NOTES ON THE DESIGN
 * (1) One writer at a time per partition: flock on the file "lock", which
 *     is never renamed or unlinked, opened O_CLOEXEC so that --exec children
 *     never inherit it. kill -9 releases it.
 * (2) The head file publishes the durable end: readers never read past
 *     head.next (offsets) nor head.seg_size (bytes of the active segment).
 *     It is rewritten in place after each sync; it is derived data, so it
 *     is not fsynced: after a power loss it can only be behind the log.
 * (3) Everything below the head is durable. Bytes past it were written by
 *     a writer that crashed before publishing: valid records there are kept
 *     (synced, then published) by the next writer; an invalid record with
 *     no valid record after it is a torn tail and is cut; an invalid record
 *     below the head, or one with valid records after it, is corruption and
 *     stops the writer (es-topic check --repair deals with it).
 * (4) A closed segment is complete and durable: it was synced before its
 *     successor was created, and the directory synced after the creation.
 * (5) Index entries are written after the records they point at are
 *     durable, and are validated before use (derived data, never trusted).
 * (6) A failed flush is rolled back to the state at lock time: segments it
 *     created are removed, the active one truncated; nothing of it stays.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "es-int.h"

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int es_pwriter_open(es_topic *t, uint32_t p, es_pwriter *w, es_error *err)
{
	memset(w, 0, sizeof *w);
	w->t = t;
	w->part = p;
	w->lockfd = w->headfd = w->logfd = w->idxfd = -1;
	/* Unique among live writers: the process, the clock, the object. */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	w->stamp = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^
		   ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)w;
	if (!w->stamp)
		w->stamp = 1;
	w->dirfd = es_partition_dir(t, p, err);
	if (w->dirfd < 0)
		return -w->dirfd;
	w->lockfd = openat(w->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (w->lockfd < 0)
		goto fail;
	w->headfd = openat(w->dirfd, "head", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (w->headfd < 0)
		goto fail;
	return 0;
fail:;
	int rc = errno;
	es_err(err, "partition %u: cannot open: %s", p, strerror(rc));
	es_pwriter_close(w);
	return rc;
}

void es_pwriter_close(es_pwriter *w)
{
	close_fd(&w->logfd);
	close_fd(&w->idxfd);
	close_fd(&w->headfd);
	close_fd(&w->lockfd);
	close_fd(&w->dirfd);
	es_buf_free(&w->idx);
}

static void save_rollback(es_pwriter *w)
{
	w->rb = w->s;
	w->created_seg = 0;
	w->idx.len = 0;
}

int es_pwriter_lock(es_pwriter *w, es_error *err)
{
	while (flock(w->lockfd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int rc = errno;
			es_err(err, "partition %u: cannot lock: %s", w->part,
			       strerror(rc));
			return rc;
		}
	}
	unsigned char cur[ES_HEAD_SIZE];
	ssize_t n = es_pread_full(w->headfd, cur, sizeof cur, 0);
	/* Ours, unchanged since we published it: nobody else took the lock
	 * in between (any writer that does publishes its own stamp). */
	if (w->loaded && n == ES_HEAD_SIZE && memcmp(cur, w->head, n) == 0) {
		save_rollback(w);
		return 0;
	}
	int rc = es_pwriter_recover(w, NULL, NULL, err);
	if (rc) {
		flock(w->lockfd, LOCK_UN);
		return rc;
	}
	save_rollback(w);
	return 0;
}

void es_pwriter_unlock(es_pwriter *w)
{
	flock(w->lockfd, LOCK_UN);
}

static int open_segment(es_pwriter *w, uint64_t base, int create, int sync,
			es_error *err)
{
	char name[40];
	es_seg_name(name, base, "log");
	int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
	w->logfd = openat(w->dirfd, name, flags, 0644);
	if (w->logfd < 0)
		goto fail;
	es_seg_name(name, base, "index");
	w->idxfd = openat(w->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (w->idxfd < 0)
		goto fail;
	if (create && sync != ES_SYNC_NONE && es_fsync_dir(w->dirfd) != 0) {
		int rc = errno;
		es_seg_name(name, base, "log");
		es_err(err, "partition %u: cannot sync the directory after "
		       "creating segment '%s': %s", w->part, name, strerror(rc));
		close_fd(&w->logfd);
		close_fd(&w->idxfd);
		return rc;
	}
	return 0;
fail:;
	int rc = errno;
	es_err(err, "partition %u: cannot open segment '%s': %s", w->part,
	       name, strerror(rc));
	close_fd(&w->logfd);
	close_fd(&w->idxfd);
	return rc;
}

/* Read and check the record at pos of fd (size bytes in the file); fills
 * r, using buf as storage. 1 valid, 0 not. */
static int record_at(int fd, uint64_t pos, uint64_t size, es_buf *buf,
		     es_record *r)
{
	if (pos + ES_REC_HDR > size)
		return 0;
	if (es_buf_reserve(buf, ES_REC_HDR))
		return 0;
	buf->len = 0;
	if (es_pread_full(fd, buf->data, ES_REC_HDR, (off_t)pos) != ES_REC_HDR)
		return 0;
	uint32_t len = get32((unsigned char *)buf->data + 4);
	if (len < ES_REC_FIXED || len > ES_REC_MAX || pos + 8 + len > size)
		return 0;
	if (es_buf_reserve(buf, 8 + (size_t)len))
		return 0;
	if (es_pread_full(fd, buf->data, 8 + (size_t)len, (off_t)pos) !=
	    (ssize_t)(8 + len))
		return 0;
	size_t need;
	const char *why;
	return es_record_decode((unsigned char *)buf->data, 8 + (size_t)len, r,
				&need, &why) > 0;
}

/* Is there a record that checks anywhere in [from, size) with an offset
 * of at least min_off? Streams the CRC so that memory stays small whatever the
 * length field claims. Only runs on the error path. */
static int valid_record_after(int fd, uint64_t from, uint64_t size,
			      uint64_t min_off)
{
	enum { WIN = 1 << 16 };
	unsigned char *win = malloc(WIN + ES_REC_HDR), *chunk = malloc(WIN);
	int found = 0;
	if (!win || !chunk)
		goto out;
	for (uint64_t base = from; base + ES_REC_HDR <= size && !found;
	     base += WIN) {
		ssize_t got = es_pread_full(fd, win, WIN + ES_REC_HDR, (off_t)base);
		if (got < ES_REC_HDR)
			break;
		for (ssize_t i = 0; i + ES_REC_HDR <= got && i < WIN; i++) {
			const unsigned char *h = win + i;
			uint32_t len = get32(h + 4);
			uint64_t off = get64(h + 8);
			uint64_t q = base + (uint64_t)i;
			if (len < ES_REC_FIXED || len > ES_REC_MAX ||
			    q + 8 + len > size || off < min_off ||
			    off - min_off > (1ull << 40))
				continue;
			uint32_t crc = 0, want = get32(h);
			uint64_t at = q + 4, left = (uint64_t)len + 4;
			while (left) {
				size_t n = left < WIN ? (size_t)left : WIN;
				if (es_pread_full(fd, chunk, n, (off_t)at) != (ssize_t)n)
					break;
				crc = es_crc32c(crc, chunk, n);
				at += n;
				left -= n;
			}
			if (!left && crc == want) {
				found = 1;
				break;
			}
		}
	}
out:
	free(win);
	free(chunk);
	return found;
}

static int create_first_segment(es_pwriter *w, uint64_t base, es_error *err)
{
	return open_segment(w, base, 1, ES_SYNC_ALWAYS, err);
}

/* The largest timestamp before the active segment: the previous segment's
 * last index entry (an approximation that only makes time seeks scan a
 * little more). */
static int64_t prev_max_ts(es_pwriter *w, const uint64_t *bases, size_t n)
{
	if (n < 2)
		return -1;
	char name[40];
	es_seg_name(name, bases[n - 2], "index");
	int fd = openat(w->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	int64_t ts = -1;
	unsigned char e[ES_IDX_ENTRY];
	if (fstat(fd, &st) == 0 && st.st_size >= ES_IDX_ENTRY &&
	    es_pread_full(fd, e, ES_IDX_ENTRY,
			  (st.st_size / ES_IDX_ENTRY - 1) * ES_IDX_ENTRY) ==
		    ES_IDX_ENTRY) {
		es_idx_entry ie;
		es_idx_unpack(e, &ie);
		ts = ie.max_ts;
	}
	close(fd);
	return ts;
}

static void report(es_problem_fn fn, void *arg, es_pwriter *w, int kind,
		   const char *seg, uint64_t off, uint64_t pos, const char *what,
		   const char *repair)
{
	if (!fn)
		return;
	es_problem p = {kind, w->part, seg, off, pos, what, repair};
	fn(arg, &p);
}

int es_pwriter_recover(es_pwriter *w, es_problem_fn fn, void *arg,
		       es_error *err)
{
	close_fd(&w->logfd);
	close_fd(&w->idxfd);
	w->loaded = 0;
	es_head head;
	int head_ok = es_head_read(w->headfd, &head) == 0;
	uint64_t *bases = NULL;
	size_t nb = 0;
	es_buf rb = {0};
	char seg[40], msg[160];
	int rc = es_seg_list(w->dirfd, 1, &bases, &nb);
	if (rc) {
		es_err(err, "partition %u: cannot list segments: %s", w->part,
		       strerror(rc));
		return rc;
	}
	if (nb == 0) {
		rc = create_first_segment(w, head_ok ? head.next : 0, err);
		if (rc)
			goto out;
		w->s.seg_base = head_ok ? head.next : 0;
	} else {
		w->s.seg_base = bases[nb - 1];
		if ((rc = open_segment(w, w->s.seg_base, 0, ES_SYNC_NONE, err)))
			goto out;
	}
	if (head_ok && head.seg_base > w->s.seg_base) {
		es_seg_name(seg, head.seg_base, "log");
		es_err(err, "partition %u: active segment '%s' is missing",
		       w->part, seg);
		rc = ES_ECORRUPT;
		goto out;
	}
	es_seg_name(seg, w->s.seg_base, "log");
	struct stat st;
	if (fstat(w->logfd, &st) != 0) {
		rc = errno;
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size;
	uint64_t durable =
		head_ok && head.seg_base == w->s.seg_base ? head.seg_size : 0;
	if (durable > size) {
		es_err(err,
		       "partition %u: segment '%s' is shorter (%llu bytes) than "
		       "its published end (%llu)",
		       w->part, seg, (unsigned long long)size,
		       (unsigned long long)durable);
		rc = ES_ECORRUPT;
		goto out;
	}

	/* Resume from the last index entry that points at a valid record. */
	uint64_t pos = 0, next = w->s.seg_base, last = UINT64_MAX;
	int64_t max_ts = prev_max_ts(w, bases, nb);
	int64_t first_ts = -1;
	uint64_t nidx = 0;
	w->s.have_idx = 0;
	w->s.last_idx_pos = 0;
	if (fstat(w->idxfd, &st) == 0)
		nidx = (uint64_t)st.st_size / ES_IDX_ENTRY;
	uint64_t had_idx = nidx;
	if (w->idx_broken) { /* rebuild from the first record */
		nidx = 0;
		w->idx_broken = 0;
	}
	while (nidx > 0) {
		unsigned char e[ES_IDX_ENTRY];
		es_idx_entry ie;
		es_record r;
		if (es_pread_full(w->idxfd, e, ES_IDX_ENTRY,
				  (off_t)((nidx - 1) * ES_IDX_ENTRY)) != ES_IDX_ENTRY)
			break;
		es_idx_unpack(e, &ie);
		if (record_at(w->logfd, ie.pos, size, &rb, &r) &&
		    r.offset == w->s.seg_base + ie.rel) {
			pos = ie.pos;
			next = r.offset;
			max_ts = ie.max_ts;
			w->s.have_idx = 1;
			w->s.last_idx_pos = ie.pos;
			break;
		}
		nidx--;
	}
	if (nidx != had_idx || (uint64_t)st.st_size != nidx * ES_IDX_ENTRY) {
		if (ftruncate(w->idxfd, (off_t)(nidx * ES_IDX_ENTRY)) != 0) {
			rc = errno;
			es_err(err, "partition %u: cannot truncate index: %s",
			       w->part, strerror(rc));
			goto out;
		}
		report(fn, arg, w, ES_PROBLEM_INDEX, seg, next, pos,
		       "index entries past the valid log removed", "rebuilt");
	}
	w->s.idx_size = nidx * ES_IDX_ENTRY;
	if (nidx > 0) {
		unsigned char e[ES_IDX_ENTRY];
		es_idx_entry ie;
		if (es_pread_full(w->idxfd, e, ES_IDX_ENTRY, 0) == ES_IDX_ENTRY) {
			es_idx_unpack(e, &ie);
			first_ts = ie.max_ts;
		}
	}
	w->idx.len = 0;

	/* Scan forward, checking every record. */
	int first = 1;
	const char *why = NULL;
	while (pos < size) {
		es_record r;
		if (!record_at(w->logfd, pos, size, &rb, &r)) {
			why = pos + ES_REC_HDR > size ? "truncated record"
						      : "invalid record";
			break;
		}
		if (first ? r.offset < next : r.offset <= last) {
			why = "offset out of order";
			break;
		}
		first = 0;
		uint32_t rsize = es_record_size((unsigned char *)rb.data);
		if (r.timestamp > max_ts)
			max_ts = r.timestamp;
		if (first_ts < 0 && pos == 0)
			first_ts = r.timestamp;
		if ((rc = es_idx_note(&w->idx, &w->s.have_idx, &w->s.last_idx_pos,
				      w->s.seg_base, r.offset, pos, max_ts)))
			goto out;
		last = r.offset;
		next = r.offset + 1;
		pos += rsize;
	}
	if (pos < size) {
		if (pos < durable ||
		    valid_record_after(w->logfd, pos, size, next)) {
			es_err(err,
			       "partition %u: segment '%s': %s at offset %llu, "
			       "byte %llu (run es-topic check --repair)",
			       w->part, seg, why, (unsigned long long)next,
			       (unsigned long long)pos);
			rc = ES_ECORRUPT;
			goto out;
		}
		snprintf(msg, sizeof msg, "torn tail of %llu bytes",
			 (unsigned long long)(size - pos));
		if (ftruncate(w->logfd, (off_t)pos) != 0) {
			rc = errno;
			es_err(err, "partition %u: cannot truncate '%s': %s",
			       w->part, seg, strerror(rc));
			goto out;
		}
		report(fn, arg, w, ES_PROBLEM_TORN_TAIL, seg, next, pos, msg,
		       "truncated");
	}
	/* Whatever lies past the published end must be durable before it is
	 * published. */
	if (pos != durable && fdatasync(w->logfd) != 0) {
		rc = errno;
		es_err(err, "partition %u: cannot sync '%s': %s", w->part, seg,
		       strerror(rc));
		goto out;
	}
	w->s.size = pos;
	w->s.next = next > w->s.seg_base ? next : w->s.seg_base;
	/* Offsets are never given twice: if published records were lost
	 * (repaired corruption, a power loss with sync none), their offsets
	 * stay a gap. */
	if (head_ok && head.next > w->s.next)
		w->s.next = head.next;
	w->s.max_ts = head_ok && head.max_ts > max_ts ? head.max_ts : max_ts;
	w->s.seg_first_ts = first_ts;
	rc = es_pwriter_publish(w, err);
	if (!rc)
		w->loaded = 1;
out:
	free(bases);
	es_buf_free(&rb);
	return rc;
}

static int roll(es_pwriter *w, int sync, es_error *err)
{
	char seg[40];
	es_seg_name(seg, w->s.seg_base, "log");
	if (sync != ES_SYNC_NONE && fdatasync(w->logfd) != 0) {
		int rc = errno;
		es_err(err, "partition %u: cannot sync segment '%s': %s",
		       w->part, seg, strerror(rc));
		return rc;
	}
	/* The closed segment's index is complete and synced: readers of
	 * closed segments lean on it more than on the active one's. A device
	 * that fails this sync is failing (fsyncgate): stop, as for the log. */
	int rc = 0;
	if (w->idx.len) {
		rc = es_pwrite_all(w->idxfd, w->idx.data, w->idx.len,
				   (off_t)w->s.idx_size);
		if (!rc)
			w->s.idx_size += w->idx.len;
		w->idx.len = 0;
	}
	if (!rc && sync != ES_SYNC_NONE && fdatasync(w->idxfd) != 0)
		rc = errno;
	if (rc) {
		es_seg_name(seg, w->s.seg_base, "index");
		es_err(err, "partition %u: cannot write index '%s': %s", w->part,
		       seg, strerror(rc));
		return rc;
	}
	close_fd(&w->logfd);
	close_fd(&w->idxfd);
	/* From here a rollback must reopen the old segment, cut it back and
	 * remove what this roll made, even if making it fails half way. */
	w->created_seg = 1;
	rc = open_segment(w, w->s.next, 1, sync, err);
	if (rc)
		return rc;
	w->s.seg_base = w->s.next;
	w->s.size = 0;
	w->s.idx_size = 0;
	w->s.have_idx = 0;
	w->s.last_idx_pos = 0;
	w->s.seg_first_ts = -1;
	return 0;
}

static int write_chunk(es_pwriter *w, const unsigned char *p, size_t n,
		       es_error *err)
{
	if (!n)
		return 0;
	int rc = es_pwrite_all(w->logfd, p, n, (off_t)w->s.size);
	if (rc) {
		char seg[40];
		es_seg_name(seg, w->s.seg_base, "log");
		es_err(err, "partition %u: cannot write segment '%s': %s",
		       w->part, seg, strerror(rc));
		return rc;
	}
	w->s.size += n;
	return 0;
}

int es_pwriter_write(es_pwriter *w, unsigned char *recs, size_t len,
		     int sync, es_error *err)
{
	const es_config *c = &w->t->cfg;
	unsigned char *chunk = recs, *p = recs, *end = recs + len;
	uint64_t pos = w->s.size;
	int rc;
	while (p < end) {
		uint32_t rsize = es_record_size(p);
		int64_t ts = (int64_t)get64(p + 16);
		if (pos > 0 && (pos + rsize > c->segment_bytes ||
				(w->s.seg_first_ts >= 0 &&
				 ts - w->s.seg_first_ts >= c->segment_age_ms))) {
			if ((rc = write_chunk(w, chunk, (size_t)(p - chunk), err)))
				return rc;
			if ((rc = roll(w, sync, err)))
				return rc;
			chunk = p;
			pos = 0;
		}
		es_record_seal(p, w->s.next);
		if (ts > w->s.max_ts)
			w->s.max_ts = ts;
		if (pos == 0)
			w->s.seg_first_ts = ts;
		if ((rc = es_idx_note(&w->idx, &w->s.have_idx, &w->s.last_idx_pos,
				      w->s.seg_base, w->s.next, pos, w->s.max_ts)))
			return rc;
		w->s.next++;
		pos += rsize;
		p += rsize;
	}
	uint64_t from = w->s.size;
	rc = write_chunk(w, chunk, (size_t)(p - chunk), err);
	/* Start the writeback now, so that the device works on every
	 * partition of a batch at once before the syncs wait for it. */
	if (!rc && sync != ES_SYNC_NONE && w->s.size > from)
		sync_file_range(w->logfd, (off_t)from, (off_t)(w->s.size - from),
				SYNC_FILE_RANGE_WRITE);
	return rc;
}

int es_pwriter_sync(es_pwriter *w, int sync, es_error *err)
{
	if (sync == ES_SYNC_NONE)
		return 0;
	if (fdatasync(w->logfd) != 0) {
		int rc = errno;
		char seg[40];
		es_seg_name(seg, w->s.seg_base, "log");
		es_err(err, "partition %u: cannot sync segment '%s': %s",
		       w->part, seg, strerror(rc));
		return rc;
	}
	return 0;
}

int es_pwriter_publish(es_pwriter *w, es_error *err)
{
	if (w->idx.len) {
		/* Derived data: a failed index write leaves the index behind,
		 * which readers tolerate; the log is what counts. */
		if (es_pwrite_all(w->idxfd, w->idx.data, w->idx.len,
				  (off_t)w->s.idx_size) == 0) {
			w->s.idx_size += w->idx.len;
		} else {
			/* The entries it lacks now would stay missing: have the
			 * next lock rebuild the index whole. */
			w->idx_broken = 1;
		}
		w->idx.len = 0;
	}
	es_head h = {w->s.next, w->s.seg_base, w->s.size, w->s.max_ts,
		     w->stamp};
	es_head_pack(w->head, &h);
	int rc = es_pwrite_all(w->headfd, w->head, ES_HEAD_SIZE, 0);
	if (rc) {
		es_err(err, "partition %u: cannot publish the head: %s",
		       w->part, strerror(rc));
		w->loaded = 0;
		return rc;
	}
	w->loaded = !w->idx_broken;
	return 0;
}

void es_pwriter_rollback(es_pwriter *w)
{
	w->idx.len = 0;
	if (w->created_seg) {
		uint64_t *bases = NULL;
		size_t n = 0;
		close_fd(&w->logfd);
		close_fd(&w->idxfd);
		if (es_seg_list(w->dirfd, 1, &bases, &n) == 0) {
			for (size_t i = 0; i < n; i++) {
				if (bases[i] <= w->rb.seg_base)
					continue;
				char name[40];
				es_seg_name(name, bases[i], "log");
				unlinkat(w->dirfd, name, 0);
				es_seg_name(name, bases[i], "index");
				unlinkat(w->dirfd, name, 0);
			}
		}
		free(bases);
		es_fsync_dir(w->dirfd);
		char name[40];
		es_seg_name(name, w->rb.seg_base, "log");
		w->logfd = openat(w->dirfd, name, O_RDWR | O_CLOEXEC);
		es_seg_name(name, w->rb.seg_base, "index");
		w->idxfd = openat(w->dirfd, name, O_RDWR | O_CLOEXEC);
	}
	if (w->logfd >= 0) {
		if (ftruncate(w->logfd, (off_t)w->rb.size) == 0)
			fdatasync(w->logfd);
	}
	if (w->idxfd >= 0 && ftruncate(w->idxfd, (off_t)w->rb.idx_size) != 0)
		close_fd(&w->idxfd);
	w->s = w->rb;
	w->created_seg = 0;
	/* Make the next lock re-verify the disk from scratch. */
	w->loaded = 0;
}
