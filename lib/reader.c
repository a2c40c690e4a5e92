/* reader.c - read a partition in offset order, from any offset or time,
 * never past the published durable end (the head).
 *
 * A reader holds one segment open and a buffer of its bytes; records are
 * returned as pointers into that buffer. A segment deleted or replaced by
 * es-compact stays readable through the open descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "es-int.h"

#define READ_CHUNK (256u << 10)

struct es_reader {
	es_topic *t;
	uint32_t part;
	int dirfd, headfd, segfd;
	es_head head;
	uint64_t seg_base, seg_end; /* readable bytes of the open segment */
	int seg_closed;
	uint64_t fpos; /* file position of buf[0] */
	unsigned char *buf;
	size_t cap, start, end;
	uint64_t next;	      /* offset of the next record wanted */
	uint64_t skip_below;  /* skip records below this offset */
	int64_t skip_ts;      /* skip until the running max reaches it; -1 off */
	int64_t run_max;      /* largest timestamp up to the last record */
	int z;		      /* the open segment is compressed (.zlog) */
	uint64_t zpos;	      /* file position of its next block */
	uint64_t zblock;      /* file position of the block in buf */
	es_buf zin;	      /* compressed bytes of a block */
};

static int refresh_head(es_reader *r, es_error *err)
{
	int rc = es_head_read(r->headfd, &r->head);
	if (rc)
		es_err(err, "partition %u: cannot read the head: %s", r->part,
		       es_strerror(rc));
	return rc;
}

int es_reader_open(es_topic *t, uint32_t partition, es_reader **out,
		   es_error *err)
{
	if (partition >= t->cfg.partitions) {
		es_err(err, "partition %u out of range (topic has %u)", partition,
		       t->cfg.partitions);
		return ES_EUSAGE;
	}
	es_reader *r = calloc(1, sizeof *r);
	if (!r)
		return ENOMEM;
	r->t = t;
	r->part = partition;
	r->headfd = r->segfd = -1;
	r->skip_ts = -1;
	r->run_max = -1;
	r->seg_base = UINT64_MAX;
	r->dirfd = es_partition_dir(t, partition, err);
	int rc = 0;
	if (r->dirfd < 0) {
		rc = -r->dirfd;
		free(r);
		return rc;
	}
	r->headfd = openat(r->dirfd, "head", O_RDONLY | O_CLOEXEC);
	if (r->headfd < 0) {
		rc = errno;
		es_err(err, "partition %u: cannot open the head: %s", partition,
		       strerror(rc));
	}
	if (!rc)
		rc = refresh_head(r, err);
	if (!rc && !(r->buf = malloc(r->cap = READ_CHUNK)))
		rc = ENOMEM;
	if (rc) {
		es_reader_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

void es_reader_close(es_reader *r)
{
	if (!r)
		return;
	if (r->segfd >= 0)
		close(r->segfd);
	if (r->headfd >= 0)
		close(r->headfd);
	if (r->dirfd >= 0)
		close(r->dirfd);
	free(r->buf);
	es_buf_free(&r->zin);
	free(r);
}

uint64_t es_reader_position(const es_reader *r)
{
	return r->next > r->skip_below ? r->next : r->skip_below;
}

int64_t es_reader_max_ts(const es_reader *r)
{
	return r->run_max;
}

/* How much of the segment at base may be read: all of a closed segment,
 * the published size of the active one. */
static void set_limit(es_reader *r)
{
	struct stat st;
	if (r->seg_base < r->head.seg_base || r->z) {
		r->seg_closed = 1;
		r->seg_end = fstat(r->segfd, &st) == 0 ? (uint64_t)st.st_size : 0;
	} else {
		/* A segment newer than the head names is being written and
		 * not yet published: none of it may be read. */
		r->seg_closed = 0;
		r->seg_end = r->seg_base == r->head.seg_base ? r->head.seg_size : 0;
	}
}

static int open_seg(es_reader *r, uint64_t base, uint64_t pos, es_error *err)
{
	char name[40];
	int z;
	es_seg_name(name, base, "log");
	int fd = es_seg_open(r->dirfd, base, &z);
	if (fd < 0) {
		int rc = errno;
		es_err(err, "partition %u: cannot open segment '%s': %s",
		       r->part, name, strerror(rc));
		return rc;
	}
	if (r->segfd >= 0)
		close(r->segfd);
	r->segfd = fd;
	r->seg_base = base;
	r->z = z;
	r->fpos = pos;
	r->zpos = r->zblock = pos;
	r->start = r->end = 0;
	set_limit(r);
	return 0;
}

/* The segment after the open one; 1 if opened, 0 if there is none. A
 * segment that vanishes between the listing and the open (retention) is
 * passed over. */
static int next_seg(es_reader *r, es_error *err)
{
	for (int tries = 0; tries < 100; tries++) {
		uint64_t *bases = NULL;
		size_t n = 0;
		int rc = es_seg_list(r->dirfd, 1, &bases, &n);
		if (rc) {
			es_err(err, "partition %u: cannot list segments: %s",
			       r->part, strerror(rc));
			return -rc;
		}
		uint64_t want = UINT64_MAX;
		for (size_t i = 0; i < n; i++)
			if (bases[i] > r->seg_base || r->seg_base == UINT64_MAX) {
				want = bases[i];
				break;
			}
		free(bases);
		if (want == UINT64_MAX)
			return 0;
		rc = open_seg(r, want, 0, err);
		if (rc != ENOENT)
			return rc ? -rc : 1;
	}
	es_err(err, "partition %u: segments keep vanishing", r->part);
	return -ENOENT;
}

static int corrupt(es_reader *r, const char *why, es_error *err)
{
	char name[40];
	es_seg_name(name, r->seg_base, r->z ? "zlog" : "log");
	es_err(err, "partition %u, segment '%s': %s at offset %llu, byte %llu",
	       r->part, name, why, (unsigned long long)r->next,
	       (unsigned long long)(r->z ? r->zblock : r->fpos + r->start));
	return ES_ECORRUPT;
}

static int grow(es_reader *r, size_t need, es_error *err)
{
	if (need <= r->cap)
		return 0;
	size_t cap = r->cap;
	while (cap < need)
		cap *= 2;
	unsigned char *b = realloc(r->buf, cap);
	if (!b) {
		es_err(err, "out of memory for a record of %zu bytes", need);
		return ENOMEM;
	}
	r->buf = b;
	r->cap = cap;
	return 0;
}

/* Compressed segment: records never span blocks, so the buffer holds one
 * decompressed block; at its end, the next block is read. */
static int fill_z(es_reader *r, size_t need, int *got, es_error *err)
{
	*got = 1;
	if (r->end - r->start >= need)
		return 0;
	*got = 0;
	if (r->end > r->start || r->zpos >= r->seg_end)
		return 0;
	unsigned char h[ES_ZB_HDR];
	es_zblock b;
	r->zblock = r->zpos;
	if (es_pread_full(r->segfd, h, sizeof h, (off_t)r->zpos) != ES_ZB_HDR ||
	    es_zblock_unpack(h, &b) != 0 || r->zpos + ES_ZB_HDR + b.clen > r->seg_end)
		return corrupt(r, "bad compressed block header", err);
	int rc;
	r->zin.len = 0;
	if ((rc = es_buf_reserve(&r->zin, b.clen)) || (rc = grow(r, b.ulen, err)))
		return rc;
	if (es_pread_full(r->segfd, r->zin.data, b.clen,
			  (off_t)(r->zpos + ES_ZB_HDR)) != (ssize_t)b.clen)
		return corrupt(r, "truncated compressed block", err);
	if (es_zblock_inflate(&b, (unsigned char *)r->zin.data, r->buf) != 0)
		return corrupt(r, "compressed block fails its checks", err);
	r->start = 0;
	r->end = b.ulen;
	r->zpos += ES_ZB_HDR + b.clen;
	*got = r->end >= need;
	return 0;
}

/* Make at least need bytes available from start, within the readable part
 * of the segment: *got is 1 if done, 0 if the segment has fewer. */
static int fill(es_reader *r, size_t need, int *got, es_error *err)
{
	if (r->z)
		return fill_z(r, need, got, err);
	*got = 1;
	if (r->end - r->start >= need)
		return 0;
	*got = 0;
	uint64_t have_to = r->fpos + r->end;
	if (have_to >= r->seg_end)
		return 0;
	if (r->start) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->fpos += r->start;
		r->end -= r->start;
		r->start = 0;
	}
	int rc = grow(r, need, err);
	if (rc)
		return rc;
	while (r->end < need) {
		uint64_t left = r->seg_end - (r->fpos + r->end);
		if (!left)
			return 0;
		size_t want = r->cap - r->end;
		if (want > left)
			want = (size_t)left;
		ssize_t n = es_pread_full(r->segfd, r->buf + r->end, want,
					  (off_t)(r->fpos + r->end));
		if (n < 0) {
			rc = errno;
			char name[40];
			es_seg_name(name, r->seg_base, "log");
			es_err(err, "partition %u: cannot read segment '%s': %s",
			       r->part, name, strerror(rc));
			return rc;
		}
		if (n == 0) /* shorter than published: caught by the caller */
			return 0;
		r->end += (size_t)n;
	}
	*got = 1;
	return 0;
}

int es_reader_next(es_reader *r, uint64_t limit, es_record *rec,
		   es_error *err)
{
	for (;;) {
		if (es_reader_position(r) >= limit)
			return 0;
		if (r->segfd < 0) {
			int rc = next_seg(r, err);
			if (rc <= 0)
				return -rc;
			continue;
		}
		size_t need = ES_REC_HDR;
		const char *why;
		if (r->end - r->start >= ES_REC_HDR) {
			int64_t n = es_record_decode(r->buf + r->start,
						     r->end - r->start, rec,
						     &need, &why);
			if (n < 0)
				return corrupt(r, why, err);
			if (n > 0) {
				if (rec->offset < r->next)
					return corrupt(r, "offset out of order", err);
				if (rec->offset >= limit)
					return 0;
				r->start += (size_t)n;
				r->next = rec->offset + 1;
				if (rec->timestamp > r->run_max)
					r->run_max = rec->timestamp;
				if (rec->offset < r->skip_below)
					continue;
				if (r->skip_ts >= 0) {
					if (r->run_max < r->skip_ts)
						continue;
					r->skip_ts = -1;
				}
				return 1;
			}
		}
		int got, rc = fill(r, need, &got, err);
		if (rc)
			return rc;
		if (got)
			continue;
		/* The readable part of this segment is used up. */
		if (r->end > r->start && r->seg_closed)
			return corrupt(r, "truncated record", err);
		if (!r->seg_closed) {
			if ((rc = refresh_head(r, err)))
				return rc;
			uint64_t old = r->seg_end;
			set_limit(r);
			if (r->seg_closed || r->seg_end > old)
				continue;
			if (r->end > r->start)
				return corrupt(r, "truncated record", err);
			return 0;
		}
		rc = next_seg(r, err);
		if (rc <= 0)
			return -rc;
	}
}

/* Index entry i of the open segment (index fd ifd). */
static int idx_get(int ifd, uint64_t i, es_idx_entry *e)
{
	unsigned char b[ES_IDX_ENTRY];
	if (es_pread_full(ifd, b, sizeof b, (off_t)(i * ES_IDX_ENTRY)) !=
	    ES_IDX_ENTRY)
		return 0;
	es_idx_unpack(b, e);
	return 1;
}

/* Does entry e of the open segment point at the record (or, compressed,
 * the block) it names? */
static int idx_valid(es_reader *r, const es_idx_entry *e)
{
	if (e->pos >= r->seg_end)
		return 0;
	if (r->z) {
		unsigned char h[ES_ZB_HDR];
		es_zblock b;
		return es_pread_full(r->segfd, h, sizeof h, e->pos) == ES_ZB_HDR &&
		       es_zblock_unpack(h, &b) == 0 &&
		       b.first == r->seg_base + e->rel;
	}
	r->fpos = e->pos;
	r->start = r->end = 0;
	es_record rec;
	size_t need = ES_REC_HDR;
	const char *why;
	for (;;) {
		int got;
		if (fill(r, need, &got, NULL) || !got)
			return 0;
		int64_t n = es_record_decode(r->buf, r->end, &rec, &need, &why);
		if (n < 0)
			return 0;
		if (n > 0)
			return rec.offset == r->seg_base + e->rel;
	}
}

static int open_index(es_reader *r, uint64_t *count)
{
	char name[40];
	struct stat st;
	es_seg_name(name, r->seg_base, "index");
	int fd = openat(r->dirfd, name, O_RDONLY | O_CLOEXEC);
	*count = 0;
	if (fd >= 0 && fstat(fd, &st) == 0)
		*count = (uint64_t)st.st_size / ES_IDX_ENTRY;
	return fd;
}

/* Position the open segment at index entry *e (already validated) or at
 * its start. */
static void start_at(es_reader *r, const es_idx_entry *e)
{
	r->start = r->end = 0;
	r->zpos = r->zblock = e ? e->pos : 0;
	if (e) {
		r->fpos = e->pos;
		r->next = r->seg_base + e->rel;
		r->run_max = e->max_ts;
	} else {
		r->fpos = 0;
		r->next = r->seg_base;
	}
}

static int load_bases(es_reader *r, uint64_t **bases, size_t *n,
		      es_error *err)
{
	int rc = refresh_head(r, err);
	if (rc)
		return rc;
	rc = es_seg_list(r->dirfd, 1, bases, n);
	if (rc)
		es_err(err, "partition %u: cannot list segments: %s", r->part,
		       strerror(rc));
	return rc;
}

static int seek_once(es_reader *r, uint64_t off, int *clamped, es_error *err);

int es_reader_seek(es_reader *r, uint64_t off, int *clamped, es_error *err)
{
	int rc;
	/* Retention may delete the segment between listing and opening. */
	for (int tries = 0; tries < 100; tries++)
		if ((rc = seek_once(r, off, clamped, err)) != ENOENT)
			return rc;
	return rc;
}

static int seek_once(es_reader *r, uint64_t off, int *clamped, es_error *err)
{
	uint64_t *bases = NULL;
	size_t n = 0;
	if (clamped)
		*clamped = 0;
	int rc = load_bases(r, &bases, &n, err);
	if (rc)
		return rc;
	r->skip_ts = -1;
	r->run_max = -1;
	if (n == 0) {
		free(bases);
		r->next = r->skip_below = off;
		return 0;
	}
	size_t i = 0;
	if (off < bases[0]) {
		if (clamped && bases[0] < r->head.next)
			*clamped = 1;
		off = bases[0];
	}
	while (i + 1 < n && bases[i + 1] <= off)
		i++;
	rc = open_seg(r, bases[i], 0, err);
	free(bases);
	if (rc)
		return rc;
	r->skip_below = off;
	uint64_t cnt;
	int ifd = open_index(r, &cnt);
	es_idx_entry best, e;
	int have = 0;
	uint64_t lo = 0, hi = cnt; /* last entry with offset <= off */
	while (ifd >= 0 && lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (!idx_get(ifd, mid, &e))
			break;
		if (r->seg_base + e.rel <= off) {
			best = e;
			have = 1;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (ifd >= 0)
		close(ifd);
	/* A stale index must never hide a record: check what it points at. */
	if (have && !idx_valid(r, &best))
		have = 0;
	start_at(r, have ? &best : NULL);
	return 0;
}

/* A lower bound of the largest timestamp so far at a segment's first
 * record: the record's own timestamp, or its first index entry's when that
 * entry names that record. 0 if the segment has no readable first record. */
static int seg_first_ts(es_reader *r, uint64_t base, int64_t *ts)
{
	int z, ok = 0;
	int fd = es_seg_open(r->dirfd, base, &z);
	if (fd < 0)
		return 0;
	unsigned char h[ES_ZB_HDR > ES_REC_HDR ? ES_ZB_HDR : ES_REC_HDR];
	es_zblock b;
	uint64_t first = base; /* the first record's offset */
	if (z) {
		if (es_pread_full(fd, h, ES_ZB_HDR, 0) == ES_ZB_HDR &&
		    es_zblock_unpack(h, &b) == 0) {
			*ts = b.max_ts;
			ok = 1;
		}
	} else if (es_pread_full(fd, h, ES_REC_HDR, 0) == ES_REC_HDR &&
		   get64(h + 8) >= base) {
		*ts = (int64_t)get64(h + 16);
		first = get64(h + 8);
		ok = 1;
	}
	close(fd);
	if (!ok)
		return 0;
	char name[40];
	unsigned char e[ES_IDX_ENTRY];
	es_seg_name(name, base, "index");
	fd = openat(r->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		es_idx_entry ie;
		if (es_pread_full(fd, e, sizeof e, 0) == ES_IDX_ENTRY) {
			es_idx_unpack(e, &ie);
			/* Compaction may have removed the records before it:
			 * the entry is the first record's when both agree. */
			if (ie.pos == 0 && base + ie.rel == first &&
			    ie.max_ts > *ts)
				*ts = ie.max_ts;
		}
		close(fd);
	}
	return 1;
}

static int seek_time_once(es_reader *r, int64_t ts, es_error *err);

int es_reader_seek_time(es_reader *r, int64_t ts, es_error *err)
{
	int rc;
	for (int tries = 0; tries < 100; tries++)
		if ((rc = seek_time_once(r, ts, err)) != ENOENT)
			return rc;
	return rc;
}

static int seek_time_once(es_reader *r, int64_t ts, es_error *err)
{
	uint64_t *bases = NULL;
	size_t n = 0;
	int rc = load_bases(r, &bases, &n, err);
	if (rc)
		return rc;
	r->skip_below = 0;
	r->run_max = -1;
	if (n == 0) {
		free(bases);
		r->next = r->head.next;
		r->skip_ts = ts;
		return 0;
	}
	/* The last segment whose first record is before ts holds the answer,
	 * or the answer is the first record of the segment after it. A
	 * segment whose first record cannot be read is no reason to stop. */
	size_t i = n;
	while (i > 0) {
		int64_t f;
		if (seg_first_ts(r, bases[i - 1], &f) && f < ts)
			break;
		i--;
	}
	i = i ? i - 1 : 0;
	rc = open_seg(r, bases[i], 0, err);
	free(bases);
	if (rc)
		return rc;
	uint64_t cnt;
	int ifd = open_index(r, &cnt);
	es_idx_entry best, e;
	int have = 0;
	uint64_t best_i = 0;
	uint64_t lo = 0, hi = cnt; /* last entry whose max ts < ts */
	while (ifd >= 0 && lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (!idx_get(ifd, mid, &e))
			break;
		if (e.max_ts < ts) {
			best = e;
			best_i = mid;
			have = 1;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	/* The entry must name its record, and its max ts must be plausible:
	 * not below the entry before it nor below the record's timestamp. A
	 * damaged index costs a longer scan, never a record. */
	if (have && best_i > 0 && idx_get(ifd, best_i - 1, &e) &&
	    e.max_ts > best.max_ts)
		have = 0;
	if (ifd >= 0)
		close(ifd);
	if (have && !idx_valid(r, &best))
		have = 0;
	if (have && !r->z) {
		es_record rec;
		size_t need;
		const char *why;
		if (es_record_decode(r->buf, r->end, &rec, &need, &why) <= 0 ||
		    rec.timestamp > best.max_ts)
			have = 0;
	}
	start_at(r, have ? &best : NULL);
	r->skip_ts = ts;
	return 0;
}

int es_reader_skip_corrupt(es_reader *r, es_error *err)
{
	if (r->z) {
		/* A damaged block is skipped whole; if its header is what is
		 * damaged, so is the rest of the segment. */
		r->start = r->end = 0;
		unsigned char h[ES_ZB_HDR];
		es_zblock b;
		if (es_pread_full(r->segfd, h, sizeof h, (off_t)r->zblock) ==
			    ES_ZB_HDR && es_zblock_unpack(h, &b) == 0 &&
		    r->zblock + ES_ZB_HDR + b.clen <= r->seg_end) {
			r->zpos = r->zblock + ES_ZB_HDR + b.clen;
			r->next = b.last + 1;
			return 0;
		}
		int rc = next_seg(r, err);
		return rc < 0 ? -rc : 0;
	}
	/* Slide one byte at a time to the next record that checks. */
	for (;;) {
		if (r->end > r->start)
			r->start++;
		else
			r->fpos++;
		for (;;) {
			size_t need = ES_REC_HDR;
			es_record rec;
			const char *why;
			int got, rc = fill(r, need, &got, err);
			if (rc)
				return rc;
			if (!got) {
				/* Nothing valid left here: on to the next segment. */
				if (r->seg_closed) {
					rc = next_seg(r, err);
					return rc < 0 ? -rc : 0;
				}
				r->start = r->end;
				return 0;
			}
			int64_t n = es_record_decode(r->buf + r->start,
						     r->end - r->start, &rec,
						     &need, &why);
			if (n == 0) {
				if ((rc = fill(r, need, &got, err)))
					return rc;
				if (got)
					continue;
				break; /* cannot be whole: not a record */
			}
			if (n > 0 && rec.offset >= r->next) {
				r->next = rec.offset;
				return 0;
			}
			break;
		}
	}
}
