/* compact.c - retention, key compaction and compression of closed
 * segments, crash-safe, in bounded memory.
 *
 * NOTES
 * (1) The active segment (the newest) is never touched, and a segment is
 *     only ever replaced whole by rename: readers holding the old file keep
 *     reading it; offsets never change.
 * (2) Install order for a rewritten segment BASE:
 *       a. write BASE.{log|zlog}.cleaned and BASE.index.cleaned, sync both,
 *          sync the directory;
 *       b. rename the log; if the extension changed, unlink the old log;
 *       c. rename the index; sync the directory.
 *     A run that finds a log .cleaned (crash before b) removes it and its
 *     index (roll back); an index .cleaned alone (crash after b) is renamed
 *     into place, and a BASE.log beside a BASE.zlog is removed (roll
 *     forward). Either way the segment is whole, old or new.
 * (3) Deletion by retention unlinks the log before its index: an index
 *     without a log is ignored by readers and swept here.
 * (4) Key compaction keeps, for each key, the record with the highest
 *     offset anywhere in the partition (active segment included). The key
 *     map holds 128-bit hashes, so memory is bounded by --memory whatever
 *     the key sizes; when the keys do not fit, keys are split by hash into
 *     passes, each a full scan plus rewrite.
 * (5) One compaction of a topic at a time: flock on TOPIC/compact.lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "es-int.h"

/* ---- reading a closed segment whole, plain or compressed ---------------- */

typedef struct segscan {
	int fd, z;
	uint64_t size, pos;
	es_buf buf, zin;
	size_t at;	/* next record in buf (the inflated block) */
} segscan;

static int scan_open(int dfd, uint64_t base, segscan *s)
{
	memset(s, 0, sizeof *s);
	s->fd = es_seg_open(dfd, base, &s->z);
	if (s->fd < 0)
		return errno;
	struct stat st;
	if (fstat(s->fd, &st) != 0) {
		int rc = errno;
		close(s->fd);
		return rc;
	}
	s->size = (uint64_t)st.st_size;
	return 0;
}

static void scan_close(segscan *s)
{
	if (s->fd >= 0)
		close(s->fd);
	es_buf_free(&s->buf);
	es_buf_free(&s->zin);
}

/* Next record of a compressed segment: 1 (rec and its raw bytes), 0 at
 * the end, ES_ECORRUPT. (Plain segments are read by bscan_next.) */
static int scan_next_z(segscan *s, es_record *rec, const unsigned char **raw,
		       uint32_t *rawlen)
{
	size_t need;
	const char *why;
	if (s->at >= s->buf.len) {
		if (s->pos >= s->size)
			return 0;
		es_zblock b;
		int rc = es_zblock_read(s->fd, s->pos, s->size, &b, &s->zin,
					&s->buf, &s->pos, &why);
		if (rc)
			return rc;
		s->at = 0;
	}
	const unsigned char *p = (unsigned char *)s->buf.data + s->at;
	int64_t n = es_record_decode(p, s->buf.len - s->at, rec, &need, &why);
	if (n <= 0)
		return ES_ECORRUPT;
	*raw = p;
	*rawlen = (uint32_t)n;
	s->at += (size_t)n;
	return 1;
}

/* Buffered plain reading is what makes compaction fast: read in large
 * chunks instead of a pread per record. */
typedef struct bufscan {
	segscan s;
	unsigned char *chunk;
	size_t cap, len, at;
	uint64_t chunk_pos;
} bufscan;

enum { CHUNK = 1 << 20 };

static int bscan_open(int dfd, uint64_t base, bufscan *b)
{
	memset(b, 0, sizeof *b);
	int rc = scan_open(dfd, base, &b->s);
	if (!rc && !b->s.z && !(b->chunk = malloc(b->cap = CHUNK)))
		rc = ENOMEM;
	return rc;
}

static void bscan_close(bufscan *b)
{
	scan_close(&b->s);
	free(b->chunk);
}

static int bscan_next(bufscan *b, es_record *rec, const unsigned char **raw,
		      uint32_t *rawlen)
{
	if (b->s.z)
		return scan_next_z(&b->s, rec, raw, rawlen);
	for (;;) {
		size_t need = ES_REC_HDR;
		const char *why;
		if (b->len - b->at >= ES_REC_HDR) {
			int64_t n = es_record_decode(b->chunk + b->at, b->len - b->at,
						     rec, &need, &why);
			if (n < 0)
				return ES_ECORRUPT;
			if (n > 0) {
				*raw = b->chunk + b->at;
				*rawlen = (uint32_t)n;
				b->at += (size_t)n;
				return 1;
			}
		}
		uint64_t from = b->chunk_pos + b->at;
		if (from >= b->s.size)
			return 0;
		if (need > b->cap) {
			unsigned char *c = realloc(b->chunk, need);
			if (!c)
				return ENOMEM;
			b->chunk = c;
			b->cap = need;
		}
		uint64_t left = b->s.size - from;
		size_t want = b->cap < left ? b->cap : (size_t)left;
		if (want < need)
			return ES_ECORRUPT; /* a truncated record */
		if (es_pread_full(b->s.fd, b->chunk, want, (off_t)from) != (ssize_t)want)
			return EIO;
		b->chunk_pos = from;
		b->len = want;
		b->at = 0;
	}
}

/* ---- writing a segment: plain or compressed, with its index ------------- */

typedef struct segout {
	int fd, ifd, z;
	uint64_t base, size;
	es_buf idx, block; /* pending index entries; records of the block */
	uint64_t last_idx_pos;
	int have_idx;
	int64_t run_max;
	es_zblock zb;
	es_buf zout;
	uint64_t records;
} segout;

static int out_block(segout *o)
{
	if (!o->block.len)
		return 0;
	uLongf clen = compressBound(o->block.len);
	o->zout.len = 0;
	int rc = es_buf_reserve(&o->zout, ES_ZB_HDR + clen);
	if (rc)
		return rc;
	unsigned char *dst = (unsigned char *)o->zout.data + ES_ZB_HDR;
	if (compress2(dst, &clen, (unsigned char *)o->block.data, o->block.len,
		      Z_DEFAULT_COMPRESSION) != Z_OK)
		return ENOMEM;
	o->zb.clen = (uint32_t)clen;
	o->zb.ulen = (uint32_t)o->block.len;
	o->zb.dcrc = es_crc32c(0, dst, clen);
	es_zblock_pack((unsigned char *)o->zout.data, &o->zb);
	/* One index entry per block: a read from any offset inflates one. */
	es_idx_entry ie = {(uint32_t)(o->zb.first - o->base), (uint32_t)o->size,
			   o->zb.max_ts};
	unsigned char e[ES_IDX_ENTRY];
	es_idx_pack(e, &ie);
	if ((rc = es_buf_append(&o->idx, e, sizeof e)))
		return rc;
	if ((rc = es_write_all(o->fd, o->zout.data, ES_ZB_HDR + clen)))
		return rc;
	o->size += ES_ZB_HDR + clen;
	o->block.len = 0;
	return 0;
}

static int out_record(segout *o, const es_record *r, const unsigned char *raw,
		      uint32_t len)
{
	int rc;
	int64_t before = o->run_max;
	if (r->timestamp > o->run_max)
		o->run_max = r->timestamp;
	o->records++;
	if (o->z) {
		if (!o->block.len) {
			memset(&o->zb, 0, sizeof o->zb);
			o->zb.first = r->offset;
			/* The running max at the block's first record, as for
			 * the entries of a plain index. */
			o->zb.max_ts = before > r->timestamp ? before : r->timestamp;
		}
		o->zb.last = r->offset;
		o->zb.count++;
		if ((rc = es_buf_append(&o->block, raw, len)))
			return rc;
		return o->block.len >= ES_ZB_TARGET ? out_block(o) : 0;
	}
	if ((rc = es_idx_note(&o->idx, &o->have_idx, &o->last_idx_pos, o->base,
			      r->offset, o->size, o->run_max)))
		return rc;
	if ((rc = es_buf_append(&o->block, raw, len)))
		return rc;
	o->size += len;
	if (o->block.len >= CHUNK) {
		rc = es_write_all(o->fd, o->block.data, o->block.len);
		o->block.len = 0;
	}
	return rc;
}

static int out_finish(segout *o)
{
	int rc = o->z ? out_block(o)
		      : es_write_all(o->fd, o->block.data, o->block.len);
	o->block.len = 0;
	if (!rc)
		rc = es_write_all(o->ifd, o->idx.data, o->idx.len);
	if (!rc && (fsync(o->fd) != 0 || fsync(o->ifd) != 0))
		rc = errno;
	return rc;
}

static void out_free(segout *o)
{
	if (o->fd >= 0)
		close(o->fd);
	if (o->ifd >= 0)
		close(o->ifd);
	es_buf_free(&o->idx);
	es_buf_free(&o->block);
	es_buf_free(&o->zout);
}

/* ---- the key map: 128-bit key hashes to the newest offset --------------- */

typedef struct keymap {
	uint64_t *slots; /* h1, h2, offset+1 (0: empty) */
	size_t cap, used, max;
} keymap;

static void key_hash(const unsigned char *k, uint32_t len, uint64_t h[2])
{
	/* Two independent 64-bit FNV-1a variants: a false match (which would
	 * drop a record) needs a 128-bit collision. */
	uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull ^ len;
	for (uint32_t i = 0; i < len; i++) {
		a = (a ^ k[i]) * 0x100000001b3ull;
		b = (b ^ k[i]) * 0x100000001b3ull;
		b ^= b >> 29;
	}
	a ^= a >> 33;
	a *= 0xff51afd7ed558ccdull;
	a ^= a >> 33;
	b ^= b >> 31;
	b *= 0xc4ceb9fe1a85ec53ull;
	b ^= b >> 32;
	h[0] = a;
	h[1] = b;
}

static int map_init(keymap *m, uint64_t memory)
{
	/* The largest table within the bound: --memory is a bound, and
	 * fewer keys a pass only means more passes. */
	m->cap = 16;
	while ((m->cap * 2) * 24 <= memory)
		m->cap *= 2;
	m->max = m->cap * 7 / 10;
	m->used = 0;
	m->slots = calloc(m->cap, 24);
	return m->slots ? 0 : ENOMEM;
}

static void map_clear(keymap *m)
{
	memset(m->slots, 0, m->cap * 24);
	m->used = 0;
}

static uint64_t *map_slot(keymap *m, const uint64_t h[2])
{
	size_t i = (size_t)(h[0] & (m->cap - 1));
	for (;;) {
		uint64_t *s = m->slots + i * 3;
		if (!s[2] || (s[0] == h[0] && s[1] == h[1]))
			return s;
		i = (i + 1) & (m->cap - 1);
	}
}

/* 0, or 1 when the map is full. */
static int map_put(keymap *m, const uint64_t h[2], uint64_t off)
{
	uint64_t *s = map_slot(m, h);
	if (!s[2]) {
		if (m->used >= m->max)
			return 1;
		m->used++;
		s[0] = h[0];
		s[1] = h[1];
	}
	s[2] = off + 1;
	return 0;
}

/* ---- per partition ---------------------------------------------------------- */

typedef struct ctx {
	es_topic *t;
	const es_compact_opts *o;
	uint32_t p;
	int dfd;
	es_head head;
	uint64_t *bases;
	size_t nb;
	es_compact_report rep;
	es_error *err;
	keymap map;
	uint32_t passes, pass;
	int have_map;
} ctx;

static int fail(ctx *c, int rc, const char *what, uint64_t base)
{
	char name[40];
	es_seg_name(name, base, "log");
	es_err(c->err, "partition %u, segment '%s': cannot %s: %s", c->p, name,
	       what, es_strerror(rc));
	return rc;
}

static uint64_t file_size(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, 0) == 0 ? (uint64_t)st.st_size : 0;
}

uint64_t es_seg_bytes(int dfd, uint64_t base)
{
	char n[40];
	uint64_t b = 0;
	es_seg_name(n, base, "log");
	b += file_size(dfd, n);
	es_seg_name(n, base, "zlog");
	b += file_size(dfd, n);
	es_seg_name(n, base, "index");
	b += file_size(dfd, n);
	return b;
}

/* Finish or undo what a crashed run left (NOTES 2, 3). */
static int sweep(int dfd)
{
	es_dirscan *d = malloc(sizeof *d);
	if (!d)
		return ENOMEM;
	es_dirent e;
	char names[64][64];
	int n = 0;
	es_dirscan_start(d, dfd, 1);
	while (n < 64 && es_dirscan_next(d, &e)) {
		size_t l = strlen(e.name);
		if (l > 8 && l < 60 && !strcmp(e.name + l - 8, ".cleaned"))
			memcpy(names[n++], e.name, l + 1);
	}
	if (d->rc) {
		int rc = d->rc;
		free(d);
		return rc;
	}
	for (int i = 0; i < n; i++) {
		uint64_t base = strtoull(names[i], NULL, 10);
		char log[64], zlog[64], idx[64];
		snprintf(log, 64, "%020llu.log.cleaned", (unsigned long long)base);
		snprintf(zlog, 64, "%020llu.zlog.cleaned", (unsigned long long)base);
		snprintf(idx, 64, "%020llu.index.cleaned", (unsigned long long)base);
		struct stat st;
		int log_pending = fstatat(dfd, log, &st, 0) == 0 ||
				  fstatat(dfd, zlog, &st, 0) == 0;
		if (log_pending) { /* before the log's rename: undo */
			unlinkat(dfd, log, 0);
			unlinkat(dfd, zlog, 0);
			unlinkat(dfd, idx, 0);
		} else if (!strcmp(names[i], idx)) { /* after it: finish */
			char final[40];
			es_seg_name(final, base, "index");
			/* Gone already if an earlier name of the list undid it. */
			if (renameat(dfd, idx, dfd, final) != 0 && errno != ENOENT) {
				int rc = errno;
				free(d);
				return rc;
			}
		}
	}
	/* A plain log beside its compressed copy, and orphan indexes. */
	uint64_t *bases;
	size_t nb;
	int rc = es_seg_list(dfd, 1, &bases, &nb);
	if (rc) {
		free(d);
		return rc;
	}
	es_dirscan_start(d, dfd, 1);
	while (es_dirscan_next(d, &e)) {
		size_t l = strlen(e.name);
		if (l != ES_SEG_NAME_LEN + 6 || strcmp(e.name + l - 6, ".index"))
			continue;
		uint64_t base = strtoull(e.name, NULL, 10);
		int found = 0;
		for (size_t i = 0; i < nb && !found; i++)
			found = bases[i] == base;
		if (!found)
			unlinkat(dfd, e.name, 0);
	}
	free(d);
	for (size_t i = 0; i < nb; i++) {
		char log[40], zlog[40];
		struct stat st;
		es_seg_name(log, bases[i], "log");
		es_seg_name(zlog, bases[i], "zlog");
		if (fstatat(dfd, zlog, &st, 0) == 0 && fstatat(dfd, log, &st, 0) == 0)
			unlinkat(dfd, log, 0);
	}
	free(bases);
	return es_fsync_dir(dfd);
}

/* The running max at a segment's first index entry, as its writer (or an
 * earlier compaction) carried it in; -1 without an index. */
static int64_t first_entry_max_ts(int dfd, uint64_t base)
{
	char name[40];
	unsigned char e[ES_IDX_ENTRY];
	es_idx_entry ie;
	es_seg_name(name, base, "index");
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = es_pread_full(fd, e, sizeof e, 0);
	close(fd);
	if (n != ES_IDX_ENTRY)
		return -1;
	es_idx_unpack(e, &ie);
	return ie.max_ts;
}

/* Rewrite segment base keeping what keep() says, compressed or not. Only
 * installs when something changes; a segment left empty is removed. */
static int rewrite(ctx *c, uint64_t base, uint64_t prev, int compress, int dry)
{
	bufscan in;
	/* Index entries carry the partition's running max, as the writer's
	 * do: from the end of the segment before, or, should that be gone
	 * (left empty and removed), from what this segment's index carried
	 * in; so that a seek by time finds what it found before. */
	int64_t carried = first_entry_max_ts(c->dfd, base);
	segout o = {.fd = -1, .ifd = -1, .z = compress, .base = base,
		    .run_max = prev == UINT64_MAX ? -1 : es_seg_newest_ts(c->dfd, prev)};
	if (carried > o.run_max)
		o.run_max = carried;
	int rc = bscan_open(c->dfd, base, &in);
	if (rc == ENOENT)
		return 0; /* left empty by an earlier pass, and removed */
	if (rc)
		return fail(c, rc, "open", base);
	char tlog[64], tidx[64];
	snprintf(tlog, sizeof tlog, "%020llu.%s.cleaned", (unsigned long long)base,
		 compress ? "zlog" : "log");
	snprintf(tidx, sizeof tidx, "%020llu.index.cleaned",
		 (unsigned long long)base);
	int was_z = in.s.z, changes = 0;
	/* Never back from compressed to plain: the install order (NOTES 2)
	 * tells old from new by that direction. */
	if (was_z && !compress) {
		compress = 1;
		o.z = 1;
		snprintf(tlog, sizeof tlog, "%020llu.zlog.cleaned",
			 (unsigned long long)base);
	}
	if (!dry) {
		o.fd = openat(c->dfd, tlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0644);
		o.ifd = openat(c->dfd, tidx, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			       0644);
		if (o.fd < 0 || o.ifd < 0) {
			rc = fail(c, errno, "create a compacted copy of", base);
			goto out;
		}
	}
	uint64_t dropped = 0, kept = 0;
	int64_t now = c->o->now_ms;
	es_record r;
	const unsigned char *raw;
	uint32_t len;
	while ((rc = bscan_next(&in, &r, &raw, &len)) == 1) {
		int keep = 1;
		if (c->have_map && r.key_len != ES_NULL_LEN) {
			uint64_t h[2];
			key_hash(r.key, r.key_len, h);
			if (h[1] % c->passes == c->pass) {
				uint64_t *s = map_slot(&c->map, h);
				if (s[2] && s[2] - 1 > r.offset)
					keep = 0; /* superseded */
				else if (r.value_len == ES_NULL_LEN &&
					 r.timestamp < now - c->t->cfg.delete_retention_ms)
					keep = 0; /* an expired tombstone */
			}
		}
		if (!keep) {
			dropped++;
			continue;
		}
		kept++;
		if (!dry && (rc = out_record(&o, &r, raw, len)))
			break;
	}
	if (rc < 0 || rc > 1) {
		rc = fail(c, rc, "read", base);
		goto out;
	}
	rc = 0;
	c->rep.compacted += dropped;
	changes = dropped || compress != was_z;
	if (compress && !was_z && kept)
		c->rep.compressed++;
	if (dry || !changes)
		goto out;
	if (!kept) {
		char n[40];
		es_seg_name(n, base, was_z ? "zlog" : "log");
		if (unlinkat(c->dfd, n, 0) != 0) {
			rc = fail(c, errno, "remove the empty", base);
			goto out;
		}
		es_seg_name(n, base, "index");
		unlinkat(c->dfd, n, 0);
		if ((rc = es_fsync_dir(c->dfd)))
			rc = fail(c, rc, "sync the directory of", base);
		changes = 0; /* nothing to install */
		goto out;
	}
	if ((rc = out_finish(&o)) || (rc = es_fsync_dir(c->dfd))) {
		rc = fail(c, rc, "write a compacted copy of", base);
		goto out;
	}
	char final[40], old[40], fidx[40];
	es_seg_name(final, base, compress ? "zlog" : "log");
	es_seg_name(old, base, was_z ? "zlog" : "log");
	es_seg_name(fidx, base, "index");
	if (renameat(c->dfd, tlog, c->dfd, final) != 0 ||
	    (strcmp(final, old) && unlinkat(c->dfd, old, 0) != 0) ||
	    renameat(c->dfd, tidx, c->dfd, fidx) != 0 || es_fsync_dir(c->dfd)) {
		rc = fail(c, errno, "install the compacted copy of", base);
		goto out;
	}
out:
	if (!dry && (rc || !changes)) {
		unlinkat(c->dfd, tlog, 0);
		unlinkat(c->dfd, tidx, 0);
	}
	out_free(&o);
	bscan_close(&in);
	return rc;
}

/* Build the key map of this pass over the whole partition: 0, 1 if the
 * keys do not fit, or an error. */
static int build_map(ctx *c, size_t from)
{
	map_clear(&c->map);
	/* From the first retained segment: deleted records supersede nothing
	 * that remains. Up to the published end only: a newer segment is a
	 * writer's, not yet durable, and may yet be rolled back. */
	for (size_t i = from; i < c->nb && c->bases[i] <= c->head.seg_base; i++) {
		int active = c->bases[i] == c->head.seg_base;
		bufscan in;
		int rc = bscan_open(c->dfd, c->bases[i], &in);
		if (rc == ENOENT)
			continue; /* left empty by an earlier pass, and removed */
		if (rc)
			return fail(c, rc, "open", c->bases[i]);
		if (active && in.s.size > c->head.seg_size)
			in.s.size = c->head.seg_size; /* published part only */
		es_record r;
		const unsigned char *raw;
		uint32_t len;
		while ((rc = bscan_next(&in, &r, &raw, &len)) == 1) {
			if (r.key_len == ES_NULL_LEN)
				continue;
			uint64_t h[2];
			key_hash(r.key, r.key_len, h);
			if (h[1] % c->passes != c->pass)
				continue;
			if (map_put(&c->map, h, r.offset)) {
				bscan_close(&in);
				return 1;
			}
		}
		bscan_close(&in);
		if (rc)
			return fail(c, rc, "read", c->bases[i]);
	}
	return 0;
}

/* Records in a closed segment (a compressed one: from its block headers). */
static int count_records(ctx *c, uint64_t base, uint64_t *n)
{
	bufscan in;
	int rc = bscan_open(c->dfd, base, &in);
	*n = 0;
	if (rc)
		return fail(c, rc, "open", base);
	if (in.s.z) {
		unsigned char h[ES_ZB_HDR];
		es_zblock b;
		uint64_t pos = 0;
		while (pos < in.s.size) {
			if (es_pread_full(in.s.fd, h, sizeof h, (off_t)pos) != ES_ZB_HDR ||
			    es_zblock_unpack(h, &b)) {
				rc = ES_ECORRUPT;
				break;
			}
			*n += b.count;
			pos += ES_ZB_HDR + b.clen;
		}
	} else {
		es_record r;
		const unsigned char *raw;
		uint32_t len;
		while ((rc = bscan_next(&in, &r, &raw, &len)) == 1)
			(*n)++;
	}
	bscan_close(&in);
	return rc ? fail(c, rc, "read", base) : 0;
}

size_t es_retention_cut(int dfd, const uint64_t *bases, size_t closed,
			uint64_t total, const es_config *cfg, int64_t now_ms,
			unsigned percent)
{
	if (!(cfg->cleanup & ES_CLEANUP_DELETE))
		return 0;
	int64_t ret = cfg->retention_ms - cfg->retention_ms / 100 * (100 - percent);
	uint64_t max_bytes = cfg->retention_bytes -
			     cfg->retention_bytes / 100 * (100 - percent);
	int64_t older_than = ret > 0 ? now_ms - ret : INT64_MIN;
	size_t cut = 0;
	for (; cut < closed; cut++) {
		int old = older_than != INT64_MIN &&
			  es_seg_newest_ts(dfd, bases[cut]) < older_than;
		int big = max_bytes > 0 && total > max_bytes;
		if (!old && !big)
			break;
		total -= es_seg_bytes(dfd, bases[cut]);
	}
	return cut;
}

/* The smallest committed offset of any group, and the groups. */
static void unread_warn(ctx *c, uint64_t from, uint64_t to,
			es_compact_unread_fn unread, void *arg)
{
	char **names;
	size_t n;
	if (es_group_list(c->t, &names, &n, NULL) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		es_commit_info ci;
		/* A group without a commit here would read from the start; so
		 * would one whose commit is damaged, and one that cannot be
		 * read is taken to be there. */
		int rc = es_group_read(c->t, names[i], c->p, &ci, NULL);
		uint64_t at = rc == 0 ? ci.offset : 0;
		if (at < to && unread)
			unread(arg, names[i], c->p, to - (at > from ? at : from));
		free(names[i]);
	}
	free(names);
}

static uint64_t min_committed(ctx *c)
{
	char **names;
	size_t n;
	uint64_t min = UINT64_MAX;
	if (es_group_list(c->t, &names, &n, NULL) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		es_commit_info ci;
		int rc = es_group_read(c->t, names[i], c->p, &ci, NULL);
		uint64_t at = rc == 0 ? ci.offset : 0;
		if (at < min)
			min = at;
		free(names[i]);
	}
	free(names);
	return min;
}

static int compact_partition(ctx *c, es_compact_unread_fn unread, void *arg)
{
	const es_config *cfg = &c->t->cfg;
	int dry = c->o->dry_run, rc;
	int hfd = openat(c->dfd, "head", O_RDONLY | O_CLOEXEC);
	if (hfd < 0 || (rc = es_head_read(hfd, &c->head))) {
		rc = hfd < 0 ? errno : rc;
		if (hfd >= 0)
			close(hfd);
		es_err(c->err, "partition %u: cannot read the head: %s", c->p,
		       es_strerror(rc));
		return rc;
	}
	close(hfd);
	if (!dry && (rc = sweep(c->dfd))) {
		es_err(c->err, "partition %u: cannot clean up: %s", c->p,
		       strerror(rc));
		return rc;
	}
	if ((rc = es_seg_list(c->dfd, 1, &c->bases, &c->nb))) {
		es_err(c->err, "partition %u: cannot list segments: %s", c->p,
		       strerror(rc));
		return rc;
	}
	/* Closed: everything below the active segment as it was at start. */
	size_t closed = 0;
	while (closed < c->nb && c->bases[closed] < c->head.seg_base)
		closed++;
	c->rep.segments_before = (uint32_t)c->nb;
	for (size_t i = 0; i < c->nb; i++)
		c->rep.bytes_before += es_seg_bytes(c->dfd, c->bases[i]);
	uint64_t deleted_records = 0;
	for (size_t i = 0; i < closed; i++) {
		uint64_t n;
		if ((rc = count_records(c, c->bases[i], &n)))
			return rc;
		c->rep.records_before += n;
	}

	/* 1. Retention: a prefix of closed segments. */
	size_t del = 0;
	if (cfg->cleanup & ES_CLEANUP_DELETE) {
		uint64_t total = 0, keep_from = c->o->keep_unconsumed
							 ? min_committed(c)
							 : UINT64_MAX;
		for (size_t i = 0; i < c->nb; i++)
			total += es_seg_bytes(c->dfd, c->bases[i]);
		size_t cut = es_retention_cut(c->dfd, c->bases, closed, total,
					      cfg, c->o->now_ms, 100);
		while (del < cut) {
			uint64_t base = c->bases[del];
			uint64_t end = c->bases[del + 1];
			if (end > keep_from)
				break; /* --keep-unconsumed */
			unread_warn(c, base, end, unread, arg);
			uint64_t n;
			if ((rc = count_records(c, base, &n)))
				return rc;
			deleted_records += n;
			if (!dry) {
				char n[40];
				es_seg_name(n, base, "log");
				unlinkat(c->dfd, n, 0);
				es_seg_name(n, base, "zlog");
				unlinkat(c->dfd, n, 0);
				es_seg_name(n, base, "index");
				unlinkat(c->dfd, n, 0);
			}
			c->rep.deleted++;
			del++;
		}
		if (del && !dry && (rc = es_fsync_dir(c->dfd))) {
			es_err(c->err, "partition %u: cannot sync: %s", c->p,
			       strerror(rc));
			return rc;
		}
	}

	/* 2. Key compaction, in as many passes as the memory bound needs;
	 * 3. compression, folded into the last rewrite of each segment. */
	int compress = cfg->compression == ES_COMPRESSION_ZLIB;
	if ((cfg->cleanup & ES_CLEANUP_COMPACT) && closed > del) {
		if ((rc = map_init(&c->map, c->o->memory ? c->o->memory
							 : 16u << 20))) {
			es_err(c->err, "out of memory for the key map");
			return rc;
		}
		c->have_map = 1;
		c->passes = 1;
		for (c->pass = 0; c->pass < c->passes; c->pass++) {
			rc = build_map(c, del);
			if (rc == 1) {
				/* Too many keys: split them by hash and start
				 * over; what was rewritten stays right (and
				 * stays counted, unless nothing was). */
				if (dry)
					c->rep.compacted = 0;
				c->passes *= 2;
				c->pass = (uint32_t)-1;
				continue;
			}
			if (rc)
				return rc;
			int last = c->pass + 1 == c->passes;
			for (size_t i = del; i < closed; i++)
				if ((rc = rewrite(c, c->bases[i],
						  i > del ? c->bases[i - 1] : UINT64_MAX,
						  last && compress, dry)))
					return rc;
		}
		c->rep.passes = c->passes;
	} else if (compress) {
		c->have_map = 0;
		for (size_t i = del; i < closed; i++)
			if ((rc = rewrite(c, c->bases[i],
					  i > del ? c->bases[i - 1] : UINT64_MAX, 1,
					  dry)))
				return rc;
	}

	/* After. */
	c->rep.records_after = c->rep.records_before - deleted_records -
			       c->rep.compacted;
	if (dry) {
		c->rep.segments_after = c->rep.segments_before - c->rep.deleted;
		c->rep.bytes_after = c->rep.bytes_before;
		for (size_t i = 0; i < del; i++)
			c->rep.bytes_after -= es_seg_bytes(c->dfd, c->bases[i]);
		return 0;
	}
	free(c->bases);
	c->bases = NULL;
	if ((rc = es_seg_list(c->dfd, 1, &c->bases, &c->nb)))
		return rc;
	c->rep.segments_after = (uint32_t)c->nb;
	for (size_t i = 0; i < c->nb; i++)
		c->rep.bytes_after += es_seg_bytes(c->dfd, c->bases[i]);
	return 0;
}

int es_topic_compact(es_topic *t, const es_compact_opts *o, int wait,
		     es_compact_report_fn report, es_compact_unread_fn unread,
		     void *arg, es_error *err)
{
	/* A dry run changes nothing, not even by making the lock file. */
	int lfd = openat(t->dirfd, "compact.lock",
			 O_RDWR | O_CLOEXEC | (o->dry_run ? 0 : O_CREAT), 0644);
	if (lfd < 0 && o->dry_run && errno == ENOENT) {
		lfd = -2; /* never compacted: nothing to wait for */
	} else if (lfd < 0) {
		int rc = errno;
		es_err(err, "cannot open '%s/compact.lock': %s", t->path,
		       strerror(rc));
		return rc;
	}
	while (lfd >= 0 && flock(lfd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
		if (errno == EINTR && wait)
			continue;
		int rc = errno == EWOULDBLOCK ? ES_ELOCKED : errno;
		es_err(err, "another es-compact is running on '%s'", t->path);
		close(lfd);
		return rc;
	}
	int rc = 0;
	for (uint32_t p = 0; p < t->cfg.partitions && !rc; p++) {
		ctx c = {.t = t, .o = o, .p = p, .err = err};
		c.rep.partition = p;
		c.dfd = es_partition_dir(t, p, err);
		if (c.dfd < 0) {
			rc = -c.dfd;
			break;
		}
		rc = compact_partition(&c, unread, arg);
		if (!rc && report)
			report(arg, &c.rep);
		free(c.bases);
		free(c.map.slots);
		close(c.dfd);
	}
	if (lfd >= 0)
		close(lfd);
	return rc;
}
