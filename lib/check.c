/* check.c - verify every record and index of a topic; with repair, cut torn
 * tails, move damaged bytes to a quarantine file and rebuild indexes.
 *
 * Repair never drops a record that checks: valid records keep their
 * offsets (a gap stays where damaged ones were), and every byte it removes
 * from a segment is first written, synced, to a file it names. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "es-int.h"

typedef struct range {
	uint64_t from, to;
} range;

typedef struct seg_check {
	uint32_t part;
	int dirfd, fd;
	uint64_t base, size, limit;
	int active, repair, z;
	es_head head;
	es_problem_fn fn;
	void *arg;
	uint64_t prev_last; /* last offset of the previous segment */
	int have_prev;
	int64_t run_max;
	es_buf idx;	 /* the index this segment should have */
	range *bad;	 /* damaged byte ranges */
	size_t nbad;
	int problems;
	char name[40];
} seg_check;

static void problem(seg_check *c, int kind, uint64_t off, uint64_t pos,
		    const char *what, const char *repair)
{
	es_problem p = {kind, c->part, c->name, off, pos, what, repair};
	c->problems++;
	if (c->fn)
		c->fn(c->arg, &p);
}

/* Read the record at pos into b; 1 if it checks, 0 if not. */
static int rec_at(seg_check *c, uint64_t pos, es_buf *b, es_record *r,
		  const char **why)
{
	*why = "truncated record";
	if (pos + ES_REC_HDR > c->limit)
		return 0;
	b->len = 0;
	if (es_buf_reserve(b, ES_REC_HDR) ||
	    es_pread_full(c->fd, b->data, ES_REC_HDR, (off_t)pos) != ES_REC_HDR)
		return 0;
	uint32_t len = get32((unsigned char *)b->data + 4);
	*why = "bad record length";
	if (len < ES_REC_FIXED || len > ES_REC_MAX)
		return 0;
	*why = "truncated record";
	if (pos + 8 + len > c->limit)
		return 0;
	if (es_buf_reserve(b, 8 + (size_t)len) ||
	    es_pread_full(c->fd, b->data, 8 + (size_t)len, (off_t)pos) !=
		    (ssize_t)(8 + len))
		return 0;
	size_t need;
	return es_record_decode((unsigned char *)b->data, 8 + (size_t)len, r,
				&need, why) > 0;
}

static int add_range(seg_check *c, uint64_t from, uint64_t to)
{
	range *nb = realloc(c->bad, (c->nbad + 1) * sizeof *nb);
	if (!nb)
		return ENOMEM;
	c->bad = nb;
	c->bad[c->nbad++] = (range){from, to};
	return 0;
}

/* A compressed segment: every block and every record in it. */
static int scan_z(seg_check *c, es_error *err)
{
	es_buf zin = {0}, out = {0};
	uint64_t pos = 0, expect = c->base;
	int rc = 0;
	char what[200];
	if (c->have_prev && c->prev_last + 1 > expect)
		expect = c->prev_last + 1;
	while (pos < c->limit) {
		es_zblock b;
		const char *why = NULL;
		uint64_t next = c->limit;
		rc = es_zblock_read(c->fd, pos, c->limit, &b, &zin, &out, &next,
				    &why);
		if (rc == ENOMEM)
			goto done;
		rc = 0;
		if (!why) {
			/* The records inside, each checked as in a plain one. */
			size_t at = 0, need;
			uint32_t n = 0;
			int first = 1;
			while (at < b.ulen && !why) {
				es_record r;
				int64_t k = es_record_decode(
					(unsigned char *)out.data + at, b.ulen - at, &r,
					&need, &why);
				if (k <= 0) {
					why = why ? why : "truncated record";
					break;
				}
				if (r.offset < expect || r.offset < b.first ||
				    r.offset > b.last) {
					why = "offset out of order";
					break;
				}
				if (first) {
					int64_t m = r.timestamp > c->run_max
							    ? r.timestamp : c->run_max;
					es_idx_entry ie = {(uint32_t)(r.offset - c->base),
							   (uint32_t)pos, m};
					unsigned char e[ES_IDX_ENTRY];
					es_idx_pack(e, &ie);
					if ((rc = es_buf_append(&c->idx, e, sizeof e)))
						goto done;
					first = 0;
				}
				if (r.timestamp > c->run_max)
					c->run_max = r.timestamp;
				expect = r.offset + 1;
				c->prev_last = r.offset;
				c->have_prev = 1;
				at += (size_t)k;
				n++;
			}
			if (!why && n != b.count)
				why = "record count does not match the block";
		}
		if (why) {
			snprintf(what, sizeof what, "%s (%llu bytes)", why,
				 (unsigned long long)(next - pos));
			if ((rc = add_range(c, pos, next)))
				goto done;
			problem(c, ES_PROBLEM_CORRUPT, expect, pos, what,
				c->repair ? "quarantined" : NULL);
		}
		pos = next;
	}
done:
	es_buf_free(&zin);
	es_buf_free(&out);
	if (rc)
		es_err(err, "partition %u, segment '%s': check failed: %s",
		       c->part, c->name, es_strerror(rc));
	return rc;
}

static int check_index(seg_check *c);

/* Scan the segment: records, then the index against what it should be. */
static int scan(seg_check *c, es_error *err)
{
	if (c->z) {
		int rc = scan_z(c, err);
		return rc ? rc : check_index(c);
	}
	es_buf b = {0};
	es_record r;
	const char *why;
	uint64_t pos = 0, last_idx = 0, expect = c->base;
	int have_idx = 0, rc = 0;
	char what[200];
	if (c->have_prev && c->prev_last + 1 > expect)
		expect = c->prev_last + 1;
	while (pos < c->limit) {
		if (rec_at(c, pos, &b, &r, &why) && r.offset >= expect) {
			uint32_t size = es_record_size((unsigned char *)b.data);
			if (r.timestamp > c->run_max)
				c->run_max = r.timestamp;
			if ((rc = es_idx_note(&c->idx, &have_idx, &last_idx, c->base,
					      r.offset, pos, c->run_max)))
				goto out;
			expect = r.offset + 1;
			c->prev_last = r.offset;
			c->have_prev = 1;
			pos += size;
			continue;
		}
		if (rec_at(c, pos, &b, &r, &why) && r.offset < expect)
			why = "offset out of order";
		/* Find where valid records resume, if anywhere. */
		uint64_t q = pos + 1;
		for (; q + ES_REC_HDR <= c->limit; q++) {
			const char *w2;
			if (rec_at(c, q, &b, &r, &w2) && r.offset >= expect)
				break;
		}
		if (q + ES_REC_HDR > c->limit)
			q = c->limit;
		int durable_here = c->active && c->head.seg_base == c->base &&
				   pos < c->head.seg_size;
		int torn = q == c->limit && c->active && !durable_here;
		snprintf(what, sizeof what, "%s (%llu bytes)", why,
			 (unsigned long long)(q - pos));
		if ((rc = add_range(c, pos, q)))
			goto out;
		problem(c, torn ? ES_PROBLEM_TORN_TAIL : ES_PROBLEM_CORRUPT,
			expect, pos, what, c->repair ? "quarantined" : NULL);
		pos = q;
	}
	rc = check_index(c);
out:
	es_buf_free(&b);
	if (rc)
		es_err(err, "partition %u, segment '%s': check failed: %s",
		       c->part, c->name, es_strerror(rc));
	return rc;
}

/* The index: what is on disk must be a prefix of what it should be. Each
 * entry must name the same record; its max timestamp may be higher than
 * the running max of the records present now (es-compact removes records,
 * the writer saw them), never lower (a time seek would start too late),
 * and never lower than the entry before it. */
static int check_index(seg_check *c)
{
	char iname[40], what[200];
	int rc = 0;
	es_seg_name(iname, c->base, "index");
	es_buf disk = {0};
	int irc = es_read_small(c->dirfd, iname, &disk, (size_t)1 << 30);
	if (c->nbad == 0) {
		size_t n = irc ? 0 : disk.len, i;
		what[0] = 0;
		if (irc == ENOENT && c->idx.len)
			snprintf(what, sizeof what, "index file missing");
		else if (n % ES_IDX_ENTRY)
			snprintf(what, sizeof what, "index has a partial entry");
		else if (n > c->idx.len)
			snprintf(what, sizeof what,
				 "index has entries past the log");
		for (i = 0; !what[0] && i < n; i += ES_IDX_ENTRY) {
			es_idx_entry d, e, prev;
			es_idx_unpack((unsigned char *)disk.data + i, &d);
			es_idx_unpack((unsigned char *)c->idx.data + i, &e);
			if (i)
				es_idx_unpack((unsigned char *)disk.data + i -
						      ES_IDX_ENTRY, &prev);
			if (d.rel != e.rel || d.pos != e.pos || d.max_ts < e.max_ts ||
			    (i && d.max_ts < prev.max_ts))
				snprintf(what, sizeof what,
					 "index entry %zu does not match the log",
					 i / ES_IDX_ENTRY);
		}
		if (!what[0] && n < c->idx.len)
			snprintf(what, sizeof what,
				 "index behind the log (%zu of %zu entries)",
				 n / ES_IDX_ENTRY, c->idx.len / ES_IDX_ENTRY);
		if (what[0])
			problem(c, ES_PROBLEM_INDEX, c->base, 0, what,
				c->repair ? "rebuilt" : NULL);
		if (what[0] && c->repair)
			rc = es_replace_file(c->dirfd, iname,
					     c->idx.len ? c->idx.data : "",
					     c->idx.len);
	}
	es_buf_free(&disk);
	return rc;
}

/* Copy [from, to) of fd into out (at its end). */
static int copy_range(int fd, int out, uint64_t from, uint64_t to)
{
	char buf[1 << 16];
	while (from < to) {
		size_t n = to - from < sizeof buf ? (size_t)(to - from) : sizeof buf;
		if (es_pread_full(fd, buf, n, (off_t)from) != (ssize_t)n)
			return errno ? errno : EIO;
		int rc = es_write_all(out, buf, n);
		if (rc)
			return rc;
		from += n;
	}
	return 0;
}

/* Move the damaged ranges to a quarantine file, then rewrite the segment
 * without them (or just truncate, for a torn tail). */
static int repair_segment(seg_check *c, es_error *err)
{
	char qname[80], tname[60];
	snprintf(qname, sizeof qname, "%s.%lld.quarantine", c->name,
		 (long long)es_now_ms());
	int rc = 0, qfd = openat(c->dirfd, qname,
				 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (qfd < 0) {
		rc = errno;
		goto fail;
	}
	for (size_t i = 0; i < c->nbad && !rc; i++)
		rc = copy_range(c->fd, qfd, c->bad[i].from, c->bad[i].to);
	if (!rc && fsync(qfd) != 0)
		rc = errno;
	if (close(qfd) != 0 && !rc)
		rc = errno;
	if (!rc)
		rc = es_fsync_dir(c->dirfd);
	if (rc)
		goto fail;
	if (c->nbad == 1 && c->bad[0].to == c->size && !c->z) {
		/* Only a tail: cut it. */
		if (ftruncate(c->fd, (off_t)c->bad[0].from) != 0 ||
		    fsync(c->fd) != 0)
			rc = errno;
	} else {
		snprintf(tname, sizeof tname, "%s.tmp", c->name);
		unlinkat(c->dirfd, tname, 0);
		int out = openat(c->dirfd, tname,
				 O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (out < 0) {
			rc = errno;
			goto fail;
		}
		uint64_t at = 0;
		for (size_t i = 0; i <= c->nbad && !rc; i++) {
			uint64_t to = i < c->nbad ? c->bad[i].from : c->size;
			rc = copy_range(c->fd, out, at, to);
			if (i < c->nbad)
				at = c->bad[i].to;
		}
		if (!rc && fsync(out) != 0)
			rc = errno;
		if (close(out) != 0 && !rc)
			rc = errno;
		if (!rc && renameat(c->dirfd, tname, c->dirfd, c->name) != 0)
			rc = errno;
		if (!rc)
			rc = es_fsync_dir(c->dirfd);
		if (rc)
			unlinkat(c->dirfd, tname, 0);
	}
	if (rc)
		goto fail;
	char what[200];
	snprintf(what, sizeof what, "damaged bytes kept in '%u/%s'", c->part,
		 qname);
	/* A note about the repair, not a problem: not counted. */
	es_problem note = {ES_PROBLEM_NOTE, c->part, c->name, c->base, 0, what,
			   NULL};
	if (c->fn)
		c->fn(c->arg, &note);
	return 0;
fail:
	es_err(err, "partition %u, segment '%s': repair failed: %s", c->part,
	       c->name, strerror(rc));
	return rc;
}

static int check_partition(es_topic *t, uint32_t p, int repair,
			   es_problem_fn fn, void *arg, es_error *err)
{
	es_pwriter w;
	int rc = es_pwriter_open(t, p, &w, err);
	if (rc)
		return rc;
	/* A live writer's unpublished tail is not damage: without the lock,
	 * the active segment is checked up to the head only. */
	int we_lock;
	if (repair) {
		while ((we_lock = flock(w.lockfd, LOCK_EX) == 0) == 0 &&
		       errno == EINTR)
			;
	} else {
		we_lock = flock(w.lockfd, LOCK_EX | LOCK_NB) == 0;
	}
	seg_check c = {.part = p, .dirfd = w.dirfd, .fd = -1,
		       .repair = repair, .fn = fn,
		       .arg = arg, .run_max = -1};
	uint64_t *bases = NULL;
	size_t n = 0;
	int head_rc = es_head_read(w.headfd, &c.head);
	if (head_rc) {
		es_problem pr = {ES_PROBLEM_INDEX, p, "head", 0, 0,
				 "head file missing or damaged",
				 repair ? "rebuilt" : NULL};
		fn(arg, &pr);
		memset(&c.head, 0, sizeof c.head);
	}
	if ((rc = es_seg_list(w.dirfd, 1, &bases, &n))) {
		es_err(err, "partition %u: cannot list segments: %s", p,
		       strerror(rc));
		goto out;
	}
	int rewrote_active = 0;
	if (!head_rc && n && c.head.seg_base > bases[n - 1]) {
		/* The head names a segment that is not there: what it
		 * published is gone. Repair moves the head back to the log. */
		char seg[40], what[160];
		es_seg_name(seg, c.head.seg_base, "log");
		snprintf(what, sizeof what, "the head names segment '%s', which "
			 "is missing: records were lost", seg);
		es_problem pr = {ES_PROBLEM_CORRUPT, p, seg, c.head.next, 0, what,
				 repair ? "head moved back" : NULL};
		fn(arg, &pr);
		rewrote_active |= repair;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		struct stat st;
		c.base = bases[i];
		c.active = i == n - 1;
		c.fd = es_seg_open(w.dirfd, c.base, &c.z);
		es_seg_name(c.name, c.base, c.z ? "zlog" : "log");
		if (c.fd >= 0 && repair && !c.z) {
			close(c.fd);
			c.fd = openat(w.dirfd, c.name, O_RDWR | O_CLOEXEC);
		}
		if (c.fd < 0 || fstat(c.fd, &st) != 0) {
			rc = errno;
			es_err(err, "partition %u: cannot open segment '%s': %s",
			       p, c.name, strerror(rc));
			break;
		}
		c.size = (uint64_t)st.st_size;
		c.limit = c.size;
		if (c.active && !head_rc && c.head.seg_base == c.base &&
		    c.size < c.head.seg_size) {
			/* Published records are gone (a lost write): the
			 * records that remain are kept, the head moves back. */
			char what[160];
			snprintf(what, sizeof what,
				 "segment is shorter (%llu bytes) than its "
				 "published end (%llu): records were lost",
				 (unsigned long long)c.size,
				 (unsigned long long)c.head.seg_size);
			es_problem pr = {ES_PROBLEM_CORRUPT, p, c.name,
					 c.head.next, c.size, what,
					 repair ? "head moved back" : NULL};
			fn(arg, &pr);
			rewrote_active |= repair;
		}
		if (c.active && !we_lock && !head_rc &&
		    c.head.seg_base == c.base && c.head.seg_size < c.size)
			c.limit = c.head.seg_size;
		c.idx.len = 0;
		c.nbad = 0;
		uint64_t prev_last = c.prev_last;
		int have_prev = c.have_prev;
		int64_t run_max = c.run_max;
		rc = scan(&c, err);
		if (!rc && repair && c.nbad) {
			rc = repair_segment(&c, err);
			if (!rc) {
				/* Positions moved: rescan quietly, which writes
				 * the index anew. */
				char iname[40];
				es_seg_name(iname, c.base, "index");
				unlinkat(w.dirfd, iname, 0);
				rewrote_active |= c.active;
				close(c.fd);
				c.fd = openat(w.dirfd, c.name, O_RDONLY | O_CLOEXEC);
				if (c.fd < 0 || fstat(c.fd, &st) != 0) {
					rc = errno;
					es_err(err, "partition %u: cannot reopen '%s': %s",
					       p, c.name, strerror(rc));
					break;
				}
				c.size = c.limit = (uint64_t)st.st_size;
				c.idx.len = 0;
				c.nbad = 0;
				c.prev_last = prev_last;
				c.have_prev = have_prev;
				c.run_max = run_max;
				int problems = c.problems;
				c.fn = NULL;
				rc = scan(&c, err);
				c.fn = fn;
				c.problems = problems;
			}
		}
		close(c.fd);
		c.fd = -1;
	}
	/* The writer's recovery republishes the head after a repair. */
	if (!rc && repair && (rewrote_active || head_rc)) {
		/* The active segment may have shrunk below the old head: make
		 * recovery rescan it rather than call that corruption. */
		unsigned char hb[ES_HEAD_SIZE];
		es_head h = c.head;
		h.seg_base = n ? bases[n - 1] : 0;
		h.seg_size = 0;
		es_head_pack(hb, &h);
		if (es_pwrite_all(w.headfd, hb, sizeof hb, 0) != 0)
			ftruncate(w.headfd, 0);
		w.loaded = 0;
		rc = es_pwriter_recover(&w, NULL, NULL, err);
	}
out:
	free(bases);
	free(c.bad);
	es_buf_free(&c.idx);
	if (we_lock)
		flock(w.lockfd, LOCK_UN);
	es_pwriter_close(&w);
	return rc;
}

int es_topic_check(es_topic *t, int repair, es_problem_fn fn, void *arg,
		   es_error *err)
{
	for (uint32_t p = 0; p < t->cfg.partitions; p++) {
		int rc = check_partition(t, p, repair, fn, arg, err);
		if (rc)
			return rc;
	}
	return 0;
}
