/* lookup.c - point lookups of one record's timestamp, for es-lag: the
 * index entry at or below the offset (checked against the record it names,
 * as the reader does), then record headers from there, a few KiB at most,
 * so that the cost does not grow with the data. A compressed or damaged
 * segment goes to the reader. Also a partition's facts (es_partition_stat)
 * from the same reads, and the newest timestamp of a segment. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "es-int.h"

#define LOOKUP_BUF (4096 + 256) /* an index interval and a record header */
#define LOOKUP_IDX 256		 /* index entries read in one go */

struct es_lookup {
	es_topic *t;
	uint32_t p;
	int dfd;	 /* the partition directory */
	uint64_t *bases; /* its segments, listed at the first lookup */
	size_t nb;
	/* From es_lookup_open's facts: the closed segments among bases, and
	 * the partition's bytes. */
	size_t closed;
	uint64_t bytes;
	uint64_t base;	 /* the open segment, UINT64_MAX for none */
	int lfd, ifd, z;
	int iopen; /* the open segment's index is open (ifd, icount) */
	uint64_t lsize, icount;
	/* What was read last, for the next lookup at a nearby offset. */
	unsigned char buf[LOOKUP_BUF];
	uint64_t bpos;
	size_t blen;
	unsigned reads; /* of the log, for the walk's bound */
	/* The last record found in the open segment: a lookup a little
	 * further on walks on from it and needs no index. */
	uint64_t wpos, woff;
	int wset;
	unsigned char ib[LOOKUP_IDX * ES_IDX_ENTRY];
	uint64_t ilo; /* first entry in ib */
	size_t icnt;
	es_reader *r; /* for what the fast path cannot tell */
};

static void lookup_close(struct es_lookup *l)
{
	if (l->lfd >= 0)
		close(l->lfd);
	if (l->ifd >= 0)
		close(l->ifd);
	if (l->dfd >= 0)
		close(l->dfd);
	free(l->bases);
	l->bases = NULL;
	l->dfd = l->lfd = l->ifd = -1;
	l->base = UINT64_MAX;
}

static int lookup_open_seg(struct es_lookup *l, uint64_t base)
{
	if (l->base == base)
		return 0;
	if (l->lfd >= 0)
		close(l->lfd);
	if (l->ifd >= 0)
		close(l->ifd);
	l->ifd = -1;
	l->iopen = l->wset = 0;
	l->base = UINT64_MAX;
	l->blen = l->icnt = 0;
	struct stat st;
	l->lfd = es_seg_open(l->dfd, base, &l->z);
	if (l->lfd < 0 || fstat(l->lfd, &st) != 0)
		return errno ? errno : ENOENT;
	l->lsize = (uint64_t)st.st_size;
	l->base = base;
	return 0;
}

/* The open segment's index, opened at its first use. */
static void lookup_open_index(struct es_lookup *l)
{
	if (l->iopen)
		return;
	l->iopen = 1;
	l->icount = 0;
	char name[40];
	struct stat st;
	es_seg_name(name, l->base, "index");
	l->ifd = openat(l->dfd, name, O_RDONLY | O_CLOEXEC);
	if (l->ifd >= 0 && fstat(l->ifd, &st) == 0)
		l->icount = (uint64_t)st.st_size / ES_IDX_ENTRY;
}

/* The header of the record at pos, from the bytes last read if it is
 * there: the record's offset, timestamp and size. 0, or -1 if there is no
 * whole, plausible header there. */
static int lookup_header(struct es_lookup *l, uint64_t pos, uint64_t *off,
			 int64_t *ts, uint64_t *size)
{
	if (pos + ES_REC_HDR > l->lsize)
		return -1;
	if (pos < l->bpos || pos + ES_REC_HDR > l->bpos + l->blen) {
		/* One read: short is the end of the file, or as good. */
		ssize_t n = pread(l->lfd, l->buf, LOOKUP_BUF, (off_t)pos);
		l->reads++;
		l->blen = 0;
		if (n < ES_REC_HDR)
			return -1;
		l->bpos = pos;
		l->blen = (size_t)n;
	}
	const unsigned char *h = l->buf + (pos - l->bpos);
	uint32_t len = get32(h + 4);
	if (len < ES_REC_FIXED || len > ES_REC_MAX)
		return -1;
	*off = get64(h + 8);
	*ts = (int64_t)get64(h + 16);
	*size = 8 + (uint64_t)len;
	return 0;
}

/* The last index entry of the open segment at or below off: a binary
 * search down to LOOKUP_IDX entries, read in one go and kept. */
static int lookup_index(struct es_lookup *l, uint64_t off, es_idx_entry *best)
{
	lookup_open_index(l);
	uint64_t lo = 0, hi = l->icount;
	int have = 0;
	es_idx_entry e;
	/* The block kept from before answers if off falls inside it. */
	if (l->icnt) {
		es_idx_entry a, z;
		es_idx_unpack(l->ib, &a);
		es_idx_unpack(l->ib + (l->icnt - 1) * ES_IDX_ENTRY, &z);
		if (l->base + a.rel <= off &&
		    (l->base + z.rel > off || l->ilo + l->icnt == l->icount)) {
			lo = l->ilo;
			hi = l->ilo + l->icnt;
			goto scan;
		}
	}
	while (hi - lo > LOOKUP_IDX) {
		uint64_t mid = lo + (hi - lo) / 2;
		unsigned char b[ES_IDX_ENTRY];
		if (es_pread_full(l->ifd, b, sizeof b,
				  (off_t)(mid * ES_IDX_ENTRY)) != ES_IDX_ENTRY)
			return 0;
		es_idx_unpack(b, &e);
		if (l->base + e.rel <= off) {
			*best = e;
			have = 1;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (lo == hi)
		return have;
	ssize_t n = es_pread_full(l->ifd, l->ib, (size_t)(hi - lo) * ES_IDX_ENTRY,
				  (off_t)(lo * ES_IDX_ENTRY));
	l->icnt = n > 0 ? (size_t)n / ES_IDX_ENTRY : 0;
	l->ilo = lo;
scan:
	for (size_t k = 0; k < l->icnt; k++) {
		es_idx_unpack(l->ib + k * ES_IDX_ENTRY, &e);
		if (l->base + e.rel > off)
			break;
		*best = e;
		have = 1;
	}
	return have;
}

/* Where the index says to start looking for off in the open segment,
 * checked against the record there, since a stale index must not mislead:
 * 1 and *pos, or 0. */
static int index_pos(es_lookup *l, uint64_t off, uint64_t *pos)
{
	es_idx_entry best;
	uint64_t roff, size;
	int64_t rts;
	if (!lookup_index(l, off, &best) ||
	    lookup_header(l, best.pos, &roff, &rts, &size) ||
	    roff != l->base + best.rel)
		return 0;
	*pos = best.pos;
	return 1;
}

/* 1 and *ts for the first record at or after off and below end; 0 if
 * there is none; -1 when this lookup cannot tell (compressed segment,
 * damage): the caller asks the reader. */
static int lookup_fast(es_lookup *l, uint64_t off, uint64_t end, int64_t *ts)
{
	if (!l->bases && es_seg_list(l->dfd, 1, &l->bases, &l->nb))
		return -1;
	size_t i = 0;
	while (i + 1 < l->nb && l->bases[i + 1] <= off)
		i++;
	for (; i < l->nb; i++) {
		if (lookup_open_seg(l, l->bases[i]) || l->z)
			return -1;
		uint64_t pos = 0, ipos, roff, size;
		int64_t rts;
		/* Walk on from the last record found when it is at or before
		 * off, as long as that costs no more than two reads; else ask
		 * the index. */
		int walk = l->wset && l->woff <= off;
		unsigned reads = l->reads;
		if (walk)
			pos = l->wpos;
		else if (index_pos(l, off, &ipos))
			pos = ipos;
		for (;;) {
			if (walk && l->reads - reads > 2) {
				walk = 0;
				if (index_pos(l, off, &ipos) && ipos > pos)
					pos = ipos;
			}
			if (lookup_header(l, pos, &roff, &rts, &size)) {
				if (pos < l->lsize && i + 1 == l->nb)
					return -1; /* damage, or a torn tail */
				break;	   /* on to the next segment */
			}
			if (roff >= end)
				return 0;
			if (roff >= off) {
				l->wpos = pos;
				l->woff = roff;
				l->wset = 1;
				*ts = rts;
				return 1;
			}
			pos += size;
		}
	}
	return 0;
}

/* First record of a compressed segment: its offset and timestamp, or 0 if
 * there is none. */
static int zseg_first_record(int dfd, uint64_t base, uint64_t *off,
			     int64_t *ts)
{
	int z, ok = 0;
	int fd = es_seg_open(dfd, base, &z);
	struct stat st;
	if (fd < 0)
		return 0;
	es_zblock b;
	es_buf zin = {0}, out = {0};
	uint64_t next;
	const char *why;
	if (fstat(fd, &st) == 0 &&
	    es_zblock_read(fd, 0, (uint64_t)st.st_size, &b, &zin, &out, &next,
			   &why) == 0 && out.len >= ES_REC_HDR) {
		*off = get64((unsigned char *)out.data + 8);
		*ts = (int64_t)get64((unsigned char *)out.data + 16);
		ok = 1;
	}
	es_buf_free(&zin);
	es_buf_free(&out);
	close(fd);
	return ok;
}

/* The partition's facts. The segment of its first record is opened as the
 * lookups open it, and its first bytes read into their buffer: for es-lag,
 * which asks both of every partition, one open of each file instead of
 * two, and the sizes from those opens. */
static int lookup_stat(es_lookup *l, es_partition_info *out, es_error *err)
{
	int rc = 0;
	int hfd = openat(l->dfd, "head", O_RDONLY | O_CLOEXEC);
	es_head h;
	if (hfd < 0 || (rc = es_head_read(hfd, &h)) != 0) {
		rc = hfd < 0 ? errno : rc;
		es_err(err, "partition %u: cannot read the head: %s", l->p,
		       es_strerror(rc));
		if (hfd >= 0)
			close(hfd);
		return rc;
	}
	close(hfd);
	if ((rc = es_seg_list(l->dfd, 0, &l->bases, &l->nb))) {
		es_err(err, "partition %u: cannot list segments: %s", l->p,
		       strerror(rc));
		return rc;
	}
	size_t n = l->nb;
	out->next_offset = h.next;
	out->newest_ts = h.max_ts;
	out->segments = (uint32_t)n;
	out->first_offset = h.next;
	l->closed = 0;
	while (l->closed < n && l->bases[l->closed] < h.seg_base)
		l->closed++;
	for (size_t i = 0; i < n && l->bases[i] < h.next; i++) {
		uint64_t off, size;
		int64_t ts;
		int found;
		if (lookup_open_seg(l, l->bases[i]))
			continue; /* gone: es-compact removed it meanwhile */
		if (l->z)
			found = zseg_first_record(l->dfd, l->bases[i], &off, &ts);
		else if ((found = lookup_header(l, 0, &off, &ts, &size) == 0)) {
			l->wpos = 0;
			l->woff = off;
			l->wset = 1;
		}
		if (found) {
			out->oldest_ts = ts;
			break;
		}
	}
	/* Where the partition starts is its first segment's name: only
	 * retention moves it. Its first records may be gone by compaction,
	 * or unreadable, and neither is an offset that expired. */
	if (n && l->bases[0] < h.next)
		out->first_offset = l->bases[0];
	for (size_t i = 0; i < n; i++) {
		char name[40];
		struct stat st;
		es_seg_name(name, l->bases[i], "log");
		if (l->bases[i] == l->base)
			out->bytes += l->lsize;
		else if (fstatat(l->dfd, name, &st, 0) == 0)
			out->bytes += (uint64_t)st.st_size;
		else {
			es_seg_name(name, l->bases[i], "zlog");
			if (fstatat(l->dfd, name, &st, 0) == 0)
				out->bytes += (uint64_t)st.st_size;
		}
		es_seg_name(name, l->bases[i], "index");
		if (fstatat(l->dfd, name, &st, 0) == 0)
			out->bytes += (uint64_t)st.st_size;
	}
	l->bytes = out->bytes;
	return 0;
}

uint64_t es_lookup_retained_from(es_lookup *l, int64_t now_ms,
				 unsigned percent)
{
	if (!l->closed)
		return 0;
	size_t cut = es_retention_cut(l->dfd, l->bases, l->closed, l->bytes,
				      &l->t->cfg, now_ms, percent);
	return !cut ? 0 : cut < l->nb ? l->bases[cut] : UINT64_MAX;
}

int es_lookup_open(es_topic *t, uint32_t p, es_partition_info *info,
		   es_lookup **out, es_error *err)
{
	if (info) {
		memset(info, 0, sizeof *info);
		info->oldest_ts = info->newest_ts = -1;
	}
	es_lookup *l = calloc(1, sizeof *l);
	if (!l)
		return ENOMEM;
	l->t = t;
	l->p = p;
	l->lfd = l->ifd = -1;
	l->base = UINT64_MAX;
	l->dfd = es_partition_dir(t, p, err);
	if (l->dfd < 0) {
		int rc = -l->dfd;
		free(l);
		return rc;
	}
	int rc = info ? lookup_stat(l, info, err) : 0;
	if (rc) {
		es_lookup_close(l);
		return rc;
	}
	*out = l;
	return 0;
}

int es_partition_stat(es_topic *t, uint32_t p, es_partition_info *out,
		      es_error *err)
{
	es_lookup *l;
	int rc = es_lookup_open(t, p, out, &l, err);
	if (!rc)
		es_lookup_close(l);
	return rc;
}

void es_lookup_close(es_lookup *l)
{
	if (!l)
		return;
	lookup_close(l);
	es_reader_close(l->r);
	free(l);
}

int es_lookup_ts(es_lookup *l, uint64_t off, uint64_t end, int64_t *ts,
		 es_error *err)
{
	int got = lookup_fast(l, off, end, ts);
	if (got >= 0)
		return got;
	es_record rec;
	int rc = 0;
	if ((!l->r && (rc = es_reader_open(l->t, l->p, &l->r, err))) ||
	    (rc = es_reader_seek(l->r, off, NULL, err)))
		return rc;
	rc = es_reader_next(l->r, end, &rec, err);
	if (rc == 1)
		*ts = rec.timestamp;
	return rc;
}

int64_t es_seg_newest_ts(int dfd, uint64_t base)
{
	int z;
	int fd = es_seg_open(dfd, base, &z);
	if (fd < 0)
		return -1;
	struct stat st;
	int64_t max = -1;
	uint64_t pos = 0, size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	char name[40];
	es_seg_name(name, base, "index");
	int ifd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (ifd >= 0 && fstat(ifd, &st) == 0 && st.st_size >= ES_IDX_ENTRY) {
		unsigned char e[ES_IDX_ENTRY];
		es_idx_entry ie;
		off_t at = (st.st_size / ES_IDX_ENTRY - 1) * ES_IDX_ENTRY;
		if (es_pread_full(ifd, e, sizeof e, at) == ES_IDX_ENTRY) {
			es_idx_unpack(e, &ie);
			if (ie.pos < size) {
				max = ie.max_ts;
				pos = ie.pos;
			}
		}
	}
	if (ifd >= 0)
		close(ifd);
	/* From the last entry on: block headers, or record headers. */
	unsigned char h[ES_ZB_HDR];
	es_buf zin = {0}, out = {0};
	while (pos < size) {
		if (z) {
			/* The block's max is at its first record: the newest
			 * needs the block itself. */
			es_zblock b;
			const char *why;
			int rc = es_zblock_read(fd, pos, size, &b, &zin, &out, &pos,
						&why);
			if (rc == ENOMEM)
				break;
			size_t at = 0, need;
			es_record r;
			int64_t n;
			while (!rc && at < out.len &&
			       (n = es_record_decode((unsigned char *)out.data + at,
						     out.len - at, &r, &need, &why)) > 0) {
				if (r.timestamp > max)
					max = r.timestamp;
				at += (size_t)n;
			}
			continue;
		}
		if (es_pread_full(fd, h, ES_REC_HDR, (off_t)pos) != ES_REC_HDR)
			break;
		uint32_t len = get32(h + 4);
		if (len < ES_REC_FIXED || len > ES_REC_MAX)
			break;
		int64_t ts = (int64_t)get64(h + 16);
		if (ts > max)
			max = ts;
		pos += 8 + (uint64_t)len;
	}
	es_buf_free(&zin);
	es_buf_free(&out);
	close(fd);
	return max;
}
