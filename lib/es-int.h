/* es-int.h - internals shared by the library's files: byte order, the
 * on-disk layouts, durable file helpers, the partition writer. */
#ifndef ES_INT_H
#define ES_INT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "es.h"

/* ---- integers on disk are little-endian, packed by code ------------------ */

static inline void put32(unsigned char *p, uint32_t v)
{
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}
static inline void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}
static inline void put16(unsigned char *p, uint16_t v)
{
	p[0] = v; p[1] = v >> 8;
}
static inline uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static inline uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}
static inline uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* ---- records (see es-format(5)) -----------------------------------------
 *
 *   0      4      8              16             24     28     32     36
 *   +------+------+--------------+--------------+------+------+------+----
 *   | crc  | len  | offset       | timestamp    | klen | vlen | hlen | key value headers
 *   +------+------+--------------+--------------+------+------+------+----
 *
 * crc is CRC-32C of bytes [4, 8+len); len counts the bytes after itself;
 * klen/vlen 0xffffffff mean null. */
#define ES_REC_HDR 36
#define ES_REC_FIXED 28 /* len of a record with empty key, value, headers */
#define ES_REC_MAX (256u << 20) /* hard bound on len, before any allocation */

/* Decode the record at p, of which avail bytes are present. Returns the
 * record's total size, 0 if more bytes are needed (*need says how many in
 * all), or ES_ECORRUPT with *why set. Verifies the checksum. */
int64_t es_record_decode(const unsigned char *p, size_t avail, es_record *r,
			 size_t *need, const char **why);
/* Encode with offset 0 and no checksum; es_record_seal() fills both. */
int es_record_encode(es_buf *b, int64_t ts, const void *key, uint32_t klen,
		     const void *val, uint32_t vlen, const void *hdrs,
		     uint32_t hlen);
void es_record_seal(unsigned char *rec, uint64_t offset);
static inline uint32_t es_record_size(const unsigned char *rec)
{
	return 8 + get32(rec + 4);
}

/* ---- segments and indexes ----------------------------------------------- */
#define ES_SEG_NAME_LEN 20 /* base offset, zero-padded decimal */
#define ES_IDX_ENTRY 16	   /* u32 relative offset, u32 position, i64 max ts */
#define ES_IDX_INTERVAL 4096 /* bytes of log between index entries */

typedef struct es_idx_entry {
	uint32_t rel;
	uint32_t pos;
	int64_t max_ts;
} es_idx_entry;

void es_idx_pack(unsigned char *p, const es_idx_entry *e);
void es_idx_unpack(const unsigned char *p, es_idx_entry *e);
/* The index rule, for every writer of an index: an entry at a segment's
 * first record, then at the first record ES_IDX_INTERVAL bytes or more
 * after the last entry, carrying the largest timestamp so far. Appends
 * the entry for the record at pos to idx when one is due; *have and *last
 * (the last entry's position) are the caller's state. 0 or ENOMEM. */
int es_idx_append(es_buf *idx, int *have, uint64_t *last, uint64_t base,
		  uint64_t offset, uint64_t pos, int64_t max_ts);
/* Inline: it is asked for every record a writer appends. */
static inline int es_idx_note(es_buf *idx, int *have, uint64_t *last,
			      uint64_t base, uint64_t offset, uint64_t pos,
			      int64_t max_ts)
{
	if (*have && pos - *last < ES_IDX_INTERVAL)
		return 0;
	return es_idx_append(idx, have, last, base, offset, pos, max_ts);
}
void es_seg_name(char *buf, uint64_t base, const char *ext);
/* Sorted base offsets of the segments in a partition directory; rewind
 * unless the descriptor was just opened and never read. */
int es_seg_list(int pdirfd, int rewind, uint64_t **bases, size_t *n);

/* ---- compressed segments (BASE.zlog): blocks of whole records ----------
 *
 *   0      4      8      12     16            24            32        40     44     48
 *   | ESZB | clen | ulen | count| first offset| last offset | max ts  | dcrc | hcrc | zlib data
 *
 * dcrc is CRC-32C of the compressed bytes, hcrc of bytes [0, 44). Index
 * entries of a compressed segment point at blocks. */
#define ES_ZB_HDR 48
#define ES_ZB_TARGET (64u << 10) /* uncompressed bytes per block */
typedef struct es_zblock {
	uint32_t clen, ulen, count;
	uint64_t first, last;
	int64_t max_ts;
	uint32_t dcrc;
} es_zblock;
void es_zblock_pack(unsigned char *p, const es_zblock *b);
int es_zblock_unpack(const unsigned char *p, es_zblock *b); /* ES_ECORRUPT */
/* Inflate a block's data into out (ulen bytes). */
int es_zblock_inflate(const es_zblock *b, const unsigned char *data,
		      unsigned char *out);
/* The block at pos of fd, whose segment ends at end: its header in *b, its
 * records in out (out->len = b->ulen), zin holding the compressed bytes;
 * *next is where the next block starts (end when the header is bad or
 * runs past end). 0, ENOMEM, or ES_ECORRUPT with *why. */
int es_zblock_read(int fd, uint64_t pos, uint64_t end, es_zblock *b,
		   es_buf *zin, es_buf *out, uint64_t *next, const char **why);

/* The largest timestamp at the end of a closed segment (its last index
 * entry, then what follows it); -1 if unknown. */
int64_t es_seg_newest_ts(int pdirfd, uint64_t base);
/* The bytes of a segment's files: its log (or zlog) and its index. */
uint64_t es_seg_bytes(int pdirfd, uint64_t base);
/* Retention's rule, which es-compact applies (percent 100) and es-lag
 * looks ahead with (less): how many of the first `closed` segments of
 * bases go, oldest first, if the topic's cleanup deletes. One goes while
 * its newest record is older than percent of retention, or while the
 * partition's bytes (total, before any goes) are over percent of
 * retention_bytes; a limit of 0 bounds nothing. */
size_t es_retention_cut(int pdirfd, const uint64_t *bases, size_t closed,
			uint64_t total, const es_config *cfg, int64_t now_ms,
			unsigned percent);

/* Open segment base of a partition, plain or compressed (*z set). */
int es_seg_open(int pdirfd, uint64_t base, int *z);

/* ---- the head file: the partition's published, durable end -------------- */
#define ES_HEAD_SIZE 64
typedef struct es_head {
	uint64_t next;	   /* log end offset: every offset below is durable */
	uint64_t seg_base; /* the active segment */
	uint64_t seg_size; /* its durable, published size in bytes */
	int64_t max_ts;	   /* largest timestamp so far, -1 if none */
	/* Who wrote it: a writer's own stamp, different for every writer
	 * (0 from es-topic create and earlier builds). A writer that finds its
	 * own head knows nobody else took the lock since; a head equal in
	 * every other field is not enough, as another writer's recovery can
	 * publish the same end and then write past it. */
	uint64_t writer;
} es_head;
void es_head_pack(unsigned char *p, const es_head *h);
int es_head_unpack(const unsigned char *p, es_head *h); /* 0 or ES_ECORRUPT */
/* Read the head; a torn read (a writer mid-update) is retried. */
int es_head_read(int fd, es_head *h);

/* ---- files -------------------------------------------------------------- */
int es_pwrite_all(int fd, const void *p, size_t n, off_t off);
ssize_t es_pread_full(int fd, void *p, size_t n, off_t off);
int es_fsync_dir(int dirfd);
/* Replace dirfd/name durably: write name.tmp (O_EXCL), fsync, close, rename,
 * fsync the directory. Readers see the old or the new content, whole. */
int es_replace_file(int dirfd, const char *name, const void *p, size_t n);
/* Read a small file whole (at most max bytes) into b. */
int es_read_small(int dirfd, const char *name, es_buf *b, size_t max);
int64_t es_now_ms(void);
/* The entries of an open directory, from its start, read with getdents64
 * on the descriptor itself. opendir would cost a dup, an fstat, two fcntls
 * and a close more per listing, and es-lag lists thousands of directories. */
typedef struct es_dirscan {
	int fd;
	size_t pos, len;
	int rc; /* 0, or the errno that ended the scan early */
	char buf[8192];
} es_dirscan;
typedef struct es_dirent {
	const char *name;
	uint64_t ino;
	unsigned char type; /* DT_* */
} es_dirent;
/* from_start: rewind first (a descriptor listed before, or read from). */
void es_dirscan_start(es_dirscan *s, int fd, int from_start);
/* 1 and *e for the next entry ("." and ".." skipped), 0 at the end or on
 * an error (then s->rc). */
int es_dirscan_next(es_dirscan *s, es_dirent *e);
/* The names in the directory sub (relative to parent, or absolute) that
 * keep() accepts, sorted; a missing directory has none. keep() may look at
 * the entry through dfd, the directory's descriptor. Free with
 * es_names_free. */
int es_sorted_names(int parent, const char *sub,
		    int (*keep)(int dfd, const es_dirent *e), char ***names,
		    size_t *n);
void es_names_free(char **v, size_t n);
void es_err(es_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- the lock table ------------------------------------------------------ */
/* The table from a file in the format of /proc/locks. */
int es_locktable_parse(FILE *f, es_locktable **out);
int es_locktable_has(const es_locktable *lt, uint64_t ino);
/* Is any lock of the table on the device (a stat's st_dev)? */
int es_locktable_on_dev(const es_locktable *lt, uint64_t dev);
/* Does the table list every holder of a lock on this directory's file
 * system (a local one)? 0 no, 1 yes, 2 yes and a file's st_dev is the
 * device the table shows. */
int es_locktable_covers(int dirfd);

/* ---- topics -------------------------------------------------------------- */
struct es_topic {
	char *path;
	int dirfd;
	es_config cfg;
	/* For es_group_owners, found at its first call: es_locktable_covers
	 * of the directory (-1 before), and its st_dev. */
	int lockfs;
	uint64_t dev;
};
int es_partition_dir(es_topic *t, uint32_t p, es_error *err); /* an fd */

/* ---- the partition writer: one process at a time, under the lock ---------- */
/* What a writer knows of its active segment; saved at lock time so that
 * a failed flush can be rolled back to it whole. */
typedef struct es_wstate {
	uint64_t seg_base, size, next;
	int64_t max_ts, seg_first_ts;
	uint64_t idx_size;     /* bytes in the index file */
	uint64_t last_idx_pos; /* position of the last index entry */
	int have_idx;
} es_wstate;

typedef struct es_pwriter {
	es_topic *t;
	uint32_t part;
	int dirfd, lockfd, headfd, logfd, idxfd;
	int loaded;	   /* state below matches the head we last wrote */
	int created_seg;   /* this flush created segments (for rollback) */
	int idx_broken;	   /* an index write failed: rebuild it at recovery */
	es_wstate s;	   /* now */
	es_wstate rb;	   /* at lock time: the rollback point */
	unsigned char head[ES_HEAD_SIZE];
	uint64_t stamp; /* in every head it writes; see es_head.writer */
	es_buf idx; /* entries not yet written */
} es_pwriter;

int es_pwriter_open(es_topic *t, uint32_t p, es_pwriter *w, es_error *err);
void es_pwriter_close(es_pwriter *w);
/* Take the lock and bring the state up to date (recovering a torn tail
 * left by a crashed writer). */
int es_pwriter_lock(es_pwriter *w, es_error *err);
void es_pwriter_unlock(es_pwriter *w);
/* Append sealed-at-write records (buffer of encoded records, offsets
 * assigned here). Not durable until es_pwriter_sync; not visible until
 * es_pwriter_publish. */
int es_pwriter_write(es_pwriter *w, unsigned char *recs, size_t len,
		     int sync, es_error *err);
int es_pwriter_sync(es_pwriter *w, int sync, es_error *err);
int es_pwriter_publish(es_pwriter *w, es_error *err);
/* Undo everything written since the lock was taken (after an error). */
void es_pwriter_rollback(es_pwriter *w);
/* Recover (lock held): validate the tail of the active segment, cut a torn
 * tail, rebuild index entries; report what it did through fn. */
int es_pwriter_recover(es_pwriter *w, es_problem_fn fn, void *arg,
		       es_error *err);

#endif
