/* es.h - the public interface of libes: topics, partitions, records, groups
 *
 * Conventions (every function below):
 *  - returns 0 on success, or an error code: a positive errno value or a
 *    negative ES_E* code; es_strerror() names both;
 *  - where a message needs detail (file, line, partition, offset) the call
 *    fills the caller's es_error, whose text never names the program;
 *  - the library never prints, exits, or reads the environment;
 *  - OUT: marks output parameters; handles are owned by the caller and freed
 *    with the matching _close()/_free().
 */
#ifndef ES_H
#define ES_H

#include <stddef.h>
#include <stdint.h>

#define ES_VERSION "0.1.0"
#define ES_FORMAT 1 /* the newest on-disk format this code reads and writes */

/* Error codes of our own; errno values are positive. */
enum {
	ES_ECORRUPT = -1001, /* a record or an index fails its checks */
	ES_EFORMAT = -1002,  /* a format newer than this code, or not ours */
	ES_ECONFIG = -1003,  /* topic.yaml is invalid */
	ES_ELOCKED = -1004,  /* another process holds the lock */
	ES_ETOOBIG = -1005,  /* a record over max_record_bytes */
	ES_EBADJSON = -1006, /* input is not the JSON that was expected */
	ES_ENOFIELD = -1007, /* --key-field: the field is missing */
	ES_EUSAGE = -1008,   /* a bad argument value (a usage error) */
	ES_EBUSY = -1009,    /* the group or topic is busy (live members) */
};

const char *es_strerror(int rc);

/* Detail for the caller's message, e.g. "topic.yaml:3:12: bad size 'x'". */
typedef struct es_error {
	char msg[512];
} es_error;

/* A growable byte buffer; zero-initialise, free with es_buf_free(). */
typedef struct es_buf {
	char *data;
	size_t len, cap;
} es_buf;

int es_buf_reserve(es_buf *b, size_t extra); /* 0 or ENOMEM */
int es_buf_append(es_buf *b, const void *p, size_t n);
void es_buf_free(es_buf *b);
/* The decimal digits of v at o (no NUL; room for 20): their count. Hot
 * paths print numbers by the million, where snprintf is slow. */
size_t es_u64_dec(char *o, uint64_t v);
/* Write all n bytes, through short writes and EINTR: 0 or an errno. */
int es_write_all(int fd, const void *p, size_t n);

/* ---- configuration: topic.yaml ---------------------------------------- */

enum { ES_SYNC_NONE, ES_SYNC_BATCH, ES_SYNC_ALWAYS };
enum { ES_CLEANUP_DELETE = 1, ES_CLEANUP_COMPACT = 2 };
enum { ES_COMPRESSION_NONE, ES_COMPRESSION_ZLIB };

typedef struct es_config {
	int format;
	uint32_t partitions;
	uint64_t segment_bytes;
	int64_t segment_age_ms;
	int64_t retention_ms; /* 0 = keep forever */
	uint64_t retention_bytes; /* per partition; 0 = no limit */
	int cleanup;		  /* ES_CLEANUP_* bits */
	int64_t delete_retention_ms;
	int compression;
	uint64_t max_record_bytes;
	int sync;
} es_config;

/* Kafka-like defaults: one partition, 64MiB segments, 7d retention, ... */
void es_config_default(es_config *c);

/* Parse topic.yaml text. Errors (ES_ECONFIG, or ES_EFORMAT for a newer
 * format) fill err with "NAME:LINE:COLUMN: what", 1-based, pointing at the
 * offending value (at the key for an unknown key). NAME is the file name
 * to use in messages. */
int es_config_parse(const char *text, size_t len, const char *name,
		    es_config *c /* OUT */, es_error *err);
int es_config_load(const char *path, es_config *c /* OUT */, es_error *err);

/* Set one key from a command-line option: key with hyphens or
 * underscores, value as in topic.yaml. ES_EUSAGE with a message for an
 * unknown key or a bad value. */
int es_config_set(es_config *c, const char *key, const char *value,
		  es_error *err);

/* Render as topic.yaml text (NUL-terminated, into b). */
int es_config_format(const es_config *c, es_buf *b);
/* The keys of topic.yaml in the order es writes them, for i = 0, 1, ...
 * until NULL; and one key's value (key as es_config_set takes it) as
 * topic.yaml says it ("64MiB", "7d", "zlib"; 32 bytes always suffice). 0,
 * or ES_EUSAGE for an unknown key or a configuration that is not valid. */
const char *es_config_key(size_t i);
int es_config_get(const es_config *c, const char *key, char *value,
		  size_t size);

/* Units. Sizes: B, KiB, MiB, GiB (K, M, G the same), none = bytes.
 * Durations: ms, s, m, h, d, w. 0 or ES_EUSAGE. */
int es_parse_size(const char *s, uint64_t *out);
int es_parse_duration(const char *s, int64_t *ms);
/* TIME: RFC 3339, "YYYY-MM-DD[ HH:MM[:SS]]" local, @EPOCH_MS, -DURATION
 * (relative to now_ms). */
int es_parse_time(const char *s, int64_t now_ms, int64_t *ms);
/* Format a size or duration the way topic.yaml would accept it ("64MiB",
 * "7d"), into buf of cap bytes. */
void es_format_size(uint64_t v, char *buf, size_t cap);
void es_format_duration(int64_t ms, char *buf, size_t cap);

/* ---- records -------------------------------------------------------- */

#define ES_NULL_LEN UINT32_MAX /* key_len/value_len of an absent key/value */

/* A record as read: pointers into the reader's buffer, valid until the
 * next call on that reader. headers is the encoded header block, walked
 * with es_header_next(). */
typedef struct es_record {
	uint64_t offset;
	int64_t timestamp;
	const unsigned char *key;
	uint32_t key_len; /* ES_NULL_LEN: no key */
	const unsigned char *value;
	uint32_t value_len; /* ES_NULL_LEN: null value (tombstone) */
	const unsigned char *headers;
	uint32_t headers_len;
} es_record;

typedef struct es_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
} es_header;

/* Walk encoded headers: *pos starts at 0; returns 1 with h filled, 0 at the
 * end, ES_ECORRUPT on a malformed block. */
int es_header_next(const unsigned char *block, uint32_t len, uint32_t *pos,
		   es_header *h /* OUT */);
/* Append one header to an encoded header block. */
int es_header_add(es_buf *block, const char *name, size_t name_len,
		  const char *value, size_t value_len);

/* Kafka's murmur2 (the Java client's variant, seed 0x9747b28c) and the
 * default partitioner: (murmur2(key) & 0x7fffffff) % n. */
uint32_t es_murmur2(const void *key, size_t len);
uint32_t es_partition_for_key(const void *key, size_t len, uint32_t n);

uint32_t es_crc32c(uint32_t crc, const void *p, size_t n);

/* ---- JSON: --key-field and the -J envelope ------------------------------ */

/* Validate one JSON text (a line, without its newline) and find the value of
 * the top-level member NAME of the object it must be. A string value gives
 * its unescaped bytes (pointing into line when it has no escapes, else into
 * scratch); a number gives its text as written. ES_EBADJSON (err: "column
 * N: what") for invalid JSON or a non-object; ES_ENOFIELD when the member is
 * missing, or is not a string or a number (err says which). */
int es_json_field(const char *line, size_t len, const char *name,
		  size_t name_len, const char **val /* OUT */,
		  size_t *val_len /* OUT */, es_buf *scratch, es_error *err);

int es_utf8_valid(const void *p, size_t n);
/* Append p as a JSON string literal (quotes included); p must be UTF-8. */
int es_json_append_string(es_buf *b, const void *p, size_t n);
/* Append a name (a topic's path, a file name: bytes) as a JSON string; a
 * name that is not UTF-8 has each byte written as the code point of its
 * value, so that the JSON stays valid. */
int es_json_append_name(es_buf *b, const char *s);
int es_base64_append(es_buf *b, const void *p, size_t n);

/* Append one record as the -J envelope and a newline:
 * {"topic":T,"partition":P,"offset":O,"timestamp":MS,"key":K,"value":V,
 *  "headers":{...}}; a null key/value is null; bytes that are not valid
 * UTF-8 go in "key_b64"/"value_b64" instead of "key"/"value". */
int es_json_format_record(es_buf *out, const char *topic, uint32_t partition,
			  const es_record *r);

/* A parsed -J envelope. The buffers are owned by the envelope and reused by
 * each parse; free with es_envelope_free(). */
typedef struct es_envelope {
	es_buf key, value, headers; /* headers: an encoded block */
	int key_null, value_null;
	int has_partition, has_timestamp;
	uint32_t partition;
	int64_t timestamp;
} es_envelope;

/* Parse one envelope line (other members, such as topic and offset, are
 * accepted and ignored). ES_EBADJSON with "column N: what". */
int es_envelope_parse(es_envelope *e, const char *line, size_t len,
		      es_error *err);
void es_envelope_free(es_envelope *e);

/* ---- topics ----------------------------------------------------------- */

typedef struct es_topic es_topic;

/* Create a topic directory with its partitions, durably. EEXIST if there
 * is a topic (or anything) at path; ES_EUSAGE for a bad configuration. */
int es_topic_create(const char *path, const es_config *c, es_error *err);
/* Open an existing topic: ENOENT (no such topic), ES_ECONFIG or
 * ES_EFORMAT (78). */
int es_topic_open(const char *path, es_topic **out, es_error *err);
void es_topic_close(es_topic *t);
const es_config *es_topic_config(const es_topic *t);
const char *es_topic_path(const es_topic *t);
/* Change the configuration: c replaces the current one. Partitions may only
 * grow (ES_EUSAGE otherwise); new partitions are created. */
int es_topic_alter(es_topic *t, const es_config *c, es_error *err);

/* Is there a topic at path (a directory with topic.yaml)? */
int es_topic_exists(const char *path);
/* Every topic below root, in name order at each level; a topic is not
 * searched for more topics. fn gets each topic's path relative to root and
 * the path to open, with err 0; or, for a directory that cannot be read,
 * its relative path, its path and the errno, and the search goes on. 0, or
 * ENOMEM. */
typedef void es_topic_found_fn(void *arg, const char *rel, const char *path,
			       int err);
int es_topic_find(const char *root, es_topic_found_fn *fn, void *arg);

/* Per-partition facts for describe and lag; reads metadata, never data
 * beyond the first and last records of segments. */
typedef struct es_partition_info {
	uint64_t first_offset; /* first retained offset */
	uint64_t next_offset;  /* log end offset: durable high-water mark */
	uint32_t segments;
	uint64_t bytes;
	int64_t oldest_ts; /* -1 when empty */
	int64_t newest_ts; /* largest timestamp; -1 when empty */
} es_partition_info;

int es_partition_stat(es_topic *t, uint32_t p, es_partition_info *out,
		      es_error *err);

/* ---- producing ---------------------------------------------------------- */

typedef struct es_producer es_producer;

/* sync: ES_SYNC_* (the topic's own unless the caller overrides). */
int es_producer_open(es_topic *t, int sync, es_producer **out,
		     es_error *err);
/* Buffer one record. partition < 0 picks by key (murmur2) or round-robin
 * for a keyless record. timestamp < 0 means now. headers: an encoded block
 * (es_header_add) or NULL. The record is written at the next flush.
 * Returns ES_ETOOBIG (nothing buffered), ES_EUSAGE for a partition out of
 * range. On success *partition_out (if non-NULL) is the partition. */
int es_producer_add(es_producer *p, int partition, const void *key,
		    uint32_t key_len, const void *value, uint32_t value_len,
		    const void *headers, uint32_t headers_len,
		    int64_t timestamp, int *partition_out, es_error *err);
/* Bytes buffered and not yet flushed; a caller flushes when it is large. */
size_t es_producer_pending(const es_producer *p);
/* Write every buffered record, make it durable per the sync mode, publish
 * it to readers, then call ack(arg, partition, offset) for each record in
 * the order it was added. On an I/O error (ENOSPC, EIO, ...) nothing of the
 * failed batch stays on disk, nothing after it is written, and records
 * acknowledged before stay durable: what is acknowledged is always a
 * prefix of what was added. err names the partition and file. */
typedef int (*es_ack_fn)(void *arg, uint32_t partition, uint64_t offset);
int es_producer_flush(es_producer *p, es_ack_fn ack, void *arg,
		      es_error *err);
/* Hand what is buffered to the background committer and return at once,
 * so that the caller can parse the next batch while this one is written and
 * synced (group commit). Acknowledgements (and errors) of the batch
 * submitted before are delivered here. es_producer_flush() waits for all. */
int es_producer_submit(es_producer *p, es_ack_fn ack, void *arg,
		       es_error *err);
/* Is a submitted batch still being written and synced? A caller submits
 * when it is not (so that batches grow under load and stay small when
 * idle), or when its buffer is large. */
int es_producer_busy(es_producer *p);
/* Is there a submitted batch whose acknowledgements (or error) have not
 * been delivered yet, written or not? */
int es_producer_unreaped(es_producer *p);
/* Records made durable (acknowledged) by this producer so far. */
uint64_t es_producer_durable(const es_producer *p);
void es_producer_close(es_producer *p);

/* ---- reading ------------------------------------------------------------ */

typedef struct es_reader es_reader;

int es_reader_open(es_topic *t, uint32_t partition, es_reader **out,
		   es_error *err);
void es_reader_close(es_reader *r);
/* Position at the first record with offset >= off. Below the first
 * retained offset it starts there and *clamped (if non-NULL) is set. */
int es_reader_seek(es_reader *r, uint64_t off, int *clamped, es_error *err);
/* Position at the first record whose largest-timestamp-so-far is >= ts. */
int es_reader_seek_time(es_reader *r, int64_t ts, es_error *err);
/* Read the next record with offset < limit (UINT64_MAX: no limit).
 * Returns 1 with rec filled, 0 at the end of what is durable now (or at
 * limit), ES_ECORRUPT (err names partition, segment, offset, byte). */
int es_reader_next(es_reader *r, uint64_t limit, es_record *rec,
		   es_error *err);
/* The offset the next es_reader_next would look at. */
uint64_t es_reader_position(const es_reader *r);
/* The largest timestamp up to the last record returned (the time index's
 * rule, used by --until); -1 when unknown. */
int64_t es_reader_max_ts(const es_reader *r);
/* Skip past a corrupt record (for --skip-corrupt): resumes at the next
 * record that checks, in this segment or the next. */
int es_reader_skip_corrupt(es_reader *r, es_error *err);

/* The durable log end offset of a partition now (the high-water mark). */
int es_partition_end(es_topic *t, uint32_t p, uint64_t *next, es_error *err);

/* A watch: a file descriptor that becomes readable when any partition of
 * the topic publishes new records (inotify on a local topic). */
typedef struct es_watch es_watch;
int es_watch_open(es_topic *t, es_watch **out, es_error *err);
int es_watch_fd(const es_watch *w);
void es_watch_drain(es_watch *w); /* consume pending events */
void es_watch_close(es_watch *w);

/* ---- consumer groups ------------------------------------------------------ */

/* A group's state lives in TOPIC/groups/NAME/ (es-format(5)): a committed
 * offset per partition with a bounded commit history, a lock file per
 * partition held by its owner, one file per live member. No coordinator:
 * kernel locks are the coordination, so a member killed with SIGKILL loses
 * its partitions at once and the others take them at their next
 * rebalance. */
typedef struct es_group es_group;

#define ES_NO_OFFSET UINT64_MAX
#define ES_COMMIT_HISTORY 64

typedef struct es_commit_point {
	int64_t time_ms;
	uint64_t offset; /* committed offset then */
	uint64_t end;	 /* the partition's end offset then */
	uint64_t retries, dead_letters; /* the counters then (for rates) */
} es_commit_point;

typedef struct es_commit_info {
	uint64_t offset; /* next offset to deliver; ES_NO_OFFSET: none yet */
	int64_t time_ms; /* of the last commit; -1 */
	uint64_t retries;      /* --exec attempts after a failure, in all */
	uint64_t dead_letters; /* records sent to a dead-letter topic */
	uint32_t nhist;	       /* oldest first; all but the newest at least
				* 2 s apart (the newest is the last commit) */
	es_commit_point hist[ES_COMMIT_HISTORY];
} es_commit_info;

/* Is NAME a valid group name (a file name: [A-Za-z0-9._-], 1-128)? */
int es_group_name_ok(const char *name);

/* Join group NAME as a member: creates the group directory if needed and
 * registers this process (named by its pid) until es_group_leave. */
int es_group_join(es_topic *t, const char *name, es_group **out,
		  es_error *err);
/* Release every partition and unregister. Commit first. */
void es_group_leave(es_group *g);
/* Share partitions fairly among the live members: with release set, mark
 * partitions above this member's fair share to give away (see
 * es_group_should_release); acquire free partitions up to the share (all
 * free ones with greedy). Returns the number of partitions newly acquired
 * (es_group_acquired lists them since the last call), or an error. */
int es_group_rebalance(es_group *g, int release, int greedy, es_error *err);
int es_group_owns(const es_group *g, uint32_t p);
/* Newly acquired partitions since the last call; 1 and *p, or 0. */
int es_group_acquired(es_group *g, uint32_t *p);
/* Partitions this member should give away (after committing them); 1 and
 * *p, or 0. */
int es_group_should_release(es_group *g, uint32_t *p);
void es_group_release(es_group *g, uint32_t p);
/* Forget that p should be released (the caller releases it later). */
void es_group_keep(es_group *g, uint32_t p);
/* The descriptor holding partition p's lock (-1 if not owned), for a child
 * process that must keep the partition while it runs: an --exec handler
 * orphaned by a killed member then keeps it until it exits, so no other
 * member runs the same records at the same time. */
int es_group_lock_fd(const es_group *g, uint32_t p);

/* Commit offset (the next one to deliver) for an owned partition,
 * durably, with a history point and the given counter increments. */
int es_group_commit(es_group *g, uint32_t p, uint64_t offset,
		    uint64_t retries, uint64_t dead_letters, es_error *err);

/* Read without joining (es-lag, es-replay). ENOENT when the partition has
 * no commit (info->offset is then ES_NO_OFFSET and the rest empty). */
int es_group_read(es_topic *t, const char *group, uint32_t p,
		  es_commit_info *info, es_error *err);
/* A group's commits read one partition after another (es-lag reads every
 * group's every partition): es_group_read without its open of the group
 * each time. A group that does not exist has no commits (ENOENT). */
typedef struct es_commits es_commits;
int es_commits_open(es_topic *t, const char *group, es_commits **out,
		    es_error *err);
int es_commits_read(es_commits *c, uint32_t p, es_commit_info *info,
		    es_error *err);
void es_commits_close(es_commits *c);
/* Set a commit from outside (es-replay), under es_group_lock_replay. */
int es_group_write(es_topic *t, const char *group, uint32_t p,
		   uint64_t offset, es_error *err);
/* Live members' pids (up to max) and their number. */
int es_group_members(es_topic *t, const char *group, int *pids, size_t max,
		     size_t *n, es_error *err);
/* The live owner of a partition: its pid, or 0 (-1: owned, pid unknown). */
int es_group_owner(es_topic *t, const char *group, uint32_t p, int *pid);
/* The system's table of file locks, read once: with it, es_group_owners
 * probes only the lock files that are held. ENOENT (and *out NULL) where it
 * would not list every holder: a pid namespace other than the initial one. */
typedef struct es_locktable es_locktable;
int es_locktable_read(es_locktable **out);
void es_locktable_free(es_locktable *lt);
/* The owners of partitions 0 to np - 1 at once, as es_group_owner gives
 * them; locks may be NULL. */
int es_group_owners(es_topic *t, const char *group, const es_locktable *locks,
		    uint32_t np, int *pids);
/* Group names of a topic, sorted; free each and the array. */
int es_group_list(es_topic *t, char ***names, size_t *n, es_error *err);
/* Exclusive replay lock: members acquire no partition while it is held.
 * ES_ELOCKED if another replay holds it; returns a handle (an fd). */
int es_group_lock_replay(es_topic *t, const char *group, int *handle,
			 es_error *err);
void es_group_unlock_replay(int handle);

/* ---- compaction: retention, key compaction, compression ------------------ */

typedef struct es_compact_opts {
	int dry_run;	     /* count what would happen, change nothing */
	int keep_unconsumed; /* never delete records a group has not read */
	uint64_t memory;     /* bound for the key map (bytes); 0 = 16MiB */
	int64_t now_ms;	     /* the time policies are measured against */
} es_compact_opts;

/* What compaction did (or would do) to one partition. */
typedef struct es_compact_report {
	uint32_t partition;
	uint32_t segments_before, segments_after;
	uint64_t records_before, records_after; /* in closed segments */
	uint64_t bytes_before, bytes_after;	/* segment and index files */
	uint32_t deleted;	 /* segments removed by retention */
	uint64_t compacted;	 /* records removed by key compaction */
	uint32_t compressed;	 /* segments rewritten compressed */
	uint32_t passes;	 /* key map passes (more when keys overflow) */
} es_compact_report;

typedef void (*es_compact_report_fn)(void *arg, const es_compact_report *r);
/* Called for each group that had not read records retention deletes. */
typedef void (*es_compact_unread_fn)(void *arg, const char *group,
				     uint32_t partition, uint64_t records);

/* Apply the topic's policy to its closed segments (the active segment is
 * never touched; offsets never change). Safe against a crash at any point:
 * each segment is replaced whole, by rename, and the next run finishes or
 * undoes what a crashed one left. ES_ELOCKED when another compaction of
 * the topic runs (wait: block until it ends). */
int es_topic_compact(es_topic *t, const es_compact_opts *o, int wait,
		     es_compact_report_fn report, es_compact_unread_fn unread,
		     void *arg, es_error *err);

/* ---- point lookups ------------------------------------------------------ */

/* The timestamp of the first record at or after an offset, reading a few
 * KiB at most (an index entry, then record headers): es-lag's age of the
 * oldest unprocessed record, at a cost that does not grow with the data.
 * A lookup keeps the partition's segment open for nearby offsets. */
typedef struct es_lookup es_lookup;
/* With info, also es_partition_stat's facts, from the same reads: the
 * segment that holds the first record stays open for the lookups. */
int es_lookup_open(es_topic *t, uint32_t partition, es_partition_info *info,
		   es_lookup **out, es_error *err);
/* 1 and *ts for the first record at or after off and below end; 0 if there
 * is none; an error code (ES_ECORRUPT, ...) otherwise. */
int es_lookup_ts(es_lookup *l, uint64_t off, uint64_t end, int64_t *ts,
		 es_error *err);
/* The offset that es-compact's retention would keep from if it ran at
 * now_ms with the topic's retention and retention_bytes at percent of what
 * they are: the base of the first segment kept, 0 if none would go (or
 * the topic's cleanup does not delete). Needs es_lookup_open's info. */
uint64_t es_lookup_retained_from(es_lookup *l, int64_t now_ms,
				 unsigned percent);
void es_lookup_close(es_lookup *l);

/* ---- checking and repair -------------------------------------------------- */

enum {
	ES_PROBLEM_TORN_TAIL = 1, /* normal after a crash */
	ES_PROBLEM_INDEX,	  /* stale/missing index: derived data */
	ES_PROBLEM_CORRUPT,	  /* a damaged record: data loss */
	ES_PROBLEM_NOTE,	  /* not a problem: what --repair did */
};

typedef struct es_problem {
	int kind;
	uint32_t partition;
	const char *segment; /* file name */
	uint64_t offset;     /* the offset expected there */
	uint64_t position;   /* byte position in the file */
	const char *what;    /* e.g. "checksum mismatch" */
	const char *repair;  /* what --repair did, or NULL */
} es_problem;

typedef void (*es_problem_fn)(void *arg, const es_problem *p);
/* Verify every record and index of every partition; report each problem.
 * With repair: truncate torn tails, rebuild indexes, move damaged bytes to
 * a quarantine file (named in repair). Returns 0 (problems go through fn). */
int es_topic_check(es_topic *t, int repair, es_problem_fn fn, void *arg,
		   es_error *err);

#endif
