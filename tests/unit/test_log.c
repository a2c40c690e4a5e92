/* test_log.c - the log: records, segments, indexes, seeks by offset and
 * time, rolls, torn-tail recovery, corruption and repair */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "es-int.h"

static char root[4096]; /* every topic of this run lives below it */

/* ---- helpers -------------------------------------------------------------- */

/* splitmix64: a fixed-seed source of sizes and bytes, so every run writes
 * the same logs. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t rng = 42;
static uint64_t rnd(void)
{
	return mix(rng++);
}

static es_topic *mk(const char *name, uint32_t parts, const char *seg_bytes,
		    const char *seg_age)
{
	return check_make_topic(root, name, parts, seg_bytes, seg_age);
}

static void ppath(char *buf, es_topic *t, uint32_t p, const char *name)
{
	snprintf(buf, 4200, "%s/%u/%s", es_topic_path(t), p, name);
}

static void spath(char *buf, es_topic *t, uint32_t p, uint64_t base,
		  const char *ext)
{
	char name[40];
	es_seg_name(name, base, ext);
	ppath(buf, t, p, name);
}

/* Whole file into b (len 0 if missing); returns 0 or errno. */
static int slurp(const char *path, es_buf *b)
{
	b->len = 0;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return errno;
	struct stat st;
	fstat(fd, &st);
	es_buf_reserve(b, (size_t)st.st_size + 1);
	ssize_t n = es_pread_full(fd, b->data, (size_t)st.st_size, 0);
	close(fd);
	b->len = n > 0 ? (size_t)n : 0;
	return 0;
}

static void spew(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(es_write_all(fd, p, n) == 0);
	close(fd);
}

static uint64_t fsize(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static size_t bases_of(es_topic *t, uint32_t p, uint64_t **bases)
{
	es_error err;
	size_t n = 0;
	int fd = es_partition_dir(t, p, &err);
	*bases = NULL;
	CHECK(fd >= 0);
	if (fd < 0)
		return 0;
	CHECK(es_seg_list(fd, 1, bases, &n) == 0);
	close(fd);
	return n;
}

/* The record with offset i of the generated topics: its key and value name
 * i, sizes vary, values hold NUL bytes, and some keys are null or empty
 * and some values null, so a read can be checked from the offset alone. */
static unsigned char gkey[32], gval[4096];
static uint32_t gklen, gvlen;

static void gen(uint64_t i)
{
	if (i % 7 == 3)
		gklen = ES_NULL_LEN;
	else if (i % 11 == 5)
		gklen = 0;
	else
		gklen = (uint32_t)snprintf((char *)gkey, sizeof gkey, "k%llu",
					   (unsigned long long)i);
	if (i % 13 == 6) {
		gvlen = ES_NULL_LEN;
		return;
	}
	uint32_t n = (uint32_t)snprintf((char *)gval, 32, "v%llu:",
					(unsigned long long)i);
	gvlen = n + (uint32_t)(mix(i) % 200);
	if (i % 997 == 500)
		gvlen = n + 3000;
	for (uint32_t j = n; j < gvlen; j++)
		gval[j] = (unsigned char)mix(i * 4096 + j); /* NULs included */
}

static int bytes_eq(const unsigned char *a, uint32_t alen,
		    const unsigned char *b, uint32_t blen)
{
	if (alen != blen)
		return 0;
	if (alen == ES_NULL_LEN)
		return a == NULL && b == NULL;
	return alen == 0 || memcmp(a, b, alen) == 0;
}

/* Is r the generated record i with timestamp ts (ts < 0: any)? */
static int is_gen(const es_record *r, uint64_t i, int64_t ts)
{
	gen(i);
	int ok = r->offset == i && (ts < 0 || r->timestamp == ts) &&
		 bytes_eq(r->key, r->key_len, gklen == ES_NULL_LEN ? NULL : gkey,
			  gklen) &&
		 bytes_eq(r->value, r->value_len,
			  gvlen == ES_NULL_LEN ? NULL : gval, gvlen) &&
		 r->headers_len == 0;
	if (!ok)
		printf("# record at offset %llu (ts %lld) is not record %llu\n",
		       (unsigned long long)r->offset, (long long)r->timestamp,
		       (unsigned long long)i);
	return ok;
}

static int64_t T0 = 1700000000000;
static int64_t ts_linear(uint64_t i)
{
	return T0 + (int64_t)i;
}

/* Acks must name every record, densely, in order. */
struct acks {
	uint64_t next;
	uint32_t part;
	int bad;
};
static int on_ack(void *arg, uint32_t part, uint64_t off)
{
	struct acks *a = arg;
	if (part != a->part || off != a->next)
		a->bad++;
	a->next = off + 1;
	return 0;
}

/* Write generated records [from, to) to partition 0, flushing every
 * batch records. */
static void produce(es_topic *t, uint64_t from, uint64_t to,
		    int64_t (*ts)(uint64_t), int sync, uint64_t batch)
{
	es_producer *p = NULL;
	es_error err = {{0}};
	struct acks a = {from, 0, 0};
	CHECK_OK(es_producer_open(t, sync, &p, &err), &err);
	if (!p)
		return;
	for (uint64_t i = from; i < to; i++) {
		gen(i);
		CHECK_OK(es_producer_add(p, 0, gkey, gklen, gval, gvlen, NULL, 0,
					 ts(i), NULL, &err),
			 &err);
		if ((i + 1 - from) % batch == 0)
			CHECK_OK(es_producer_flush(p, on_ack, &a, &err), &err);
	}
	CHECK_OK(es_producer_flush(p, on_ack, &a, &err), &err);
	CHECK(a.bad == 0 && a.next == to);
	CHECK(es_producer_durable(p) == to - from);
	es_producer_close(p);
}

/* Read partition 0 from the start, checking each record against gen();
 * offsets read go to offs (up to cap). Returns how many were read, and the
 * last return code of es_reader_next in *last. */
static uint64_t read_all(es_topic *t, int64_t (*ts)(uint64_t), uint64_t *offs,
			 uint64_t cap, int *last, es_error *err)
{
	es_reader *r = NULL;
	es_record rec;
	uint64_t n = 0;
	int rc;
	CHECK_OK(es_reader_open(t, 0, &r, err), err);
	if (!r)
		return 0;
	while ((rc = es_reader_next(r, UINT64_MAX, &rec, err)) == 1) {
		CHECK(is_gen(&rec, rec.offset, ts ? ts(rec.offset) : -1));
		if (n < cap)
			offs[n] = rec.offset;
		n++;
	}
	*last = rc;
	es_reader_close(r);
	return n;
}

/* Problems reported by es_topic_check, copied. */
#define MAXP 32
typedef struct probs {
	int n, torn, index, corrupt;
	es_problem p[MAXP];
	char seg[MAXP][48], what[MAXP][256], repair[MAXP][32];
} probs;

static void on_problem(void *arg, const es_problem *p)
{
	probs *ps = arg;
	ps->torn += p->kind == ES_PROBLEM_TORN_TAIL;
	ps->index += p->kind == ES_PROBLEM_INDEX;
	ps->corrupt += p->kind == ES_PROBLEM_CORRUPT;
	if (ps->n < MAXP) {
		int k = ps->n;
		ps->p[k] = *p;
		snprintf(ps->seg[k], sizeof ps->seg[k], "%s",
			 p->segment ? p->segment : "");
		snprintf(ps->what[k], sizeof ps->what[k], "%s",
			 p->what ? p->what : "");
		snprintf(ps->repair[k], sizeof ps->repair[k], "%s",
			 p->repair ? p->repair : "");
		ps->p[k].segment = ps->seg[k];
		ps->p[k].what = ps->what[k];
		ps->p[k].repair = ps->repair[k];
	}
	ps->n++;
}

static void check_topic(es_topic *t, int repair, probs *ps)
{
	es_error err = {{0}};
	memset(ps, 0, sizeof *ps);
	CHECK_OK(es_topic_check(t, repair, on_problem, ps, &err), &err);
}

static void show(const probs *ps)
{
	for (int k = 0; k < ps->n && k < MAXP; k++)
		printf("#   problem kind %d p%u '%s' offset %llu byte %llu: %s "
		       "[%s]\n",
		       ps->p[k].kind, ps->p[k].partition, ps->p[k].segment,
		       (unsigned long long)ps->p[k].offset,
		       (unsigned long long)ps->p[k].position, ps->p[k].what,
		       ps->p[k].repair);
}

/* ---- 1. records ------------------------------------------------------------ */

struct rcase {
	const char *key;
	uint32_t klen;
	const char *val;
	uint32_t vlen;
	int headers;
	int64_t ts;
};

static const struct rcase rcases[] = {
	{NULL, ES_NULL_LEN, "hello", 5, 0, 1700000000123},	/* null key */
	{"", 0, "v", 1, 0, 0},					/* empty key */
	{"k", 1, NULL, ES_NULL_LEN, 0, 1},			/* tombstone */
	{NULL, ES_NULL_LEN, NULL, ES_NULL_LEN, 0, -5},		/* smallest */
	{"\0a\0b", 4, "\0\0\xff\0zz", 6, 0, INT64_MAX},		/* binary */
	{"key", 3, "", 0, 1, 1700000000000},			/* headers */
	{NULL, ES_NULL_LEN, NULL, ES_NULL_LEN, 1, 7},		/* headers only */
};

/* Four headers: a plain one, a zero-length value, an empty name and
 * value, binary bytes. */
static const struct {
	const char *name;
	size_t nlen;
	const char *val;
	size_t vlen;
} hdrs[] = {
	{"trace-id", 8, "abc123", 6},
	{"empty", 5, "", 0},
	{"", 0, "", 0},
	{"bin", 3, "\0\x01\xff", 3},
};
#define NHDRS (sizeof hdrs / sizeof *hdrs)

static void header_block(es_buf *b)
{
	b->len = 0;
	for (size_t i = 0; i < NHDRS; i++)
		CHECK(es_header_add(b, hdrs[i].name, hdrs[i].nlen, hdrs[i].val,
				    hdrs[i].vlen) == 0);
}

/* Encode and seal case c at offset off into b (appending); returns its
 * position in b. */
static size_t encode_case(es_buf *b, const struct rcase *c, uint64_t off)
{
	es_buf h = {0};
	if (c->headers)
		header_block(&h);
	size_t at = b->len;
	CHECK(es_record_encode(b, c->ts, c->key, c->klen, c->val, c->vlen,
			       h.data, (uint32_t)h.len) == 0);
	es_record_seal((unsigned char *)b->data + at, off);
	es_buf_free(&h);
	return at;
}

static int headers_match(const es_record *r)
{
	uint32_t pos = 0;
	es_header h;
	for (size_t i = 0; i < NHDRS; i++) {
		if (es_header_next(r->headers, r->headers_len, &pos, &h) != 1 ||
		    h.name_len != hdrs[i].nlen || h.value_len != hdrs[i].vlen ||
		    memcmp(h.name, hdrs[i].name, h.name_len) != 0 ||
		    memcmp(h.value, hdrs[i].val, h.value_len) != 0)
			return 0;
	}
	return es_header_next(r->headers, r->headers_len, &pos, &h) == 0 &&
	       pos == r->headers_len;
}

static void test_record_round_trip(void)
{
	for (size_t k = 0; k < sizeof rcases / sizeof *rcases; k++) {
		const struct rcase *c = &rcases[k];
		es_buf b = {0};
		uint64_t off = 123456789012ull + k;
		encode_case(&b, c, off);
		uint32_t body = (c->klen == ES_NULL_LEN ? 0 : c->klen) +
				(c->vlen == ES_NULL_LEN ? 0 : c->vlen);
		es_buf h = {0};
		if (c->headers)
			header_block(&h);
		CHECK(b.len == ES_REC_HDR + body + h.len);
		CHECK(es_record_size((unsigned char *)b.data) == b.len);

		es_record r;
		size_t need = 0;
		const char *why = NULL;
		int64_t n = es_record_decode((unsigned char *)b.data, b.len, &r,
					     &need, &why);
		CHECK(n == (int64_t)b.len);
		CHECK(r.offset == off);
		CHECK(r.timestamp == c->ts);
		CHECK(r.key_len == c->klen);
		CHECK(r.value_len == c->vlen);
		CHECK((r.key == NULL) == (c->klen == ES_NULL_LEN));
		CHECK((r.value == NULL) == (c->vlen == ES_NULL_LEN));
		CHECK(bytes_eq(r.key, r.key_len, (const unsigned char *)c->key,
			       c->klen));
		CHECK(bytes_eq(r.value, r.value_len,
			       (const unsigned char *)c->val, c->vlen));
		CHECK(r.headers_len == h.len);
		if (c->headers)
			CHECK(headers_match(&r));
		else
			CHECK(r.headers_len == 0);

		/* Every shorter prefix asks for more bytes: the header first,
		 * then the whole record, never a record and never corrupt. */
		int bad = 0;
		for (size_t avail = 0; avail < b.len; avail++) {
			need = 0;
			n = es_record_decode((unsigned char *)b.data, avail, &r,
					     &need, &why);
			size_t want = avail < ES_REC_HDR ? ES_REC_HDR : b.len;
			if (n != 0 || need != want) {
				printf("# case %zu avail %zu: %lld need %zu\n",
				       k, avail, (long long)n, need);
				bad++;
			}
		}
		CHECK(bad == 0);

		/* A record followed by another decodes as itself alone. */
		size_t second = encode_case(&b, &rcases[0], off + 1);
		n = es_record_decode((unsigned char *)b.data, b.len, &r, &need,
				     &why);
		CHECK(n == (int64_t)second && r.offset == off);
		n = es_record_decode((unsigned char *)b.data + second,
				     b.len - second, &r, &need, &why);
		CHECK(n == (int64_t)(b.len - second) && r.offset == off + 1);
		es_buf_free(&h);
		es_buf_free(&b);
	}
}

static void test_header_block_truncated(void)
{
	es_buf b = {0};
	header_block(&b);
	uint32_t ends[NHDRS + 1], ne = 0;
	ends[ne++] = 0;
	for (size_t i = 0; i < NHDRS; i++, ne++)
		ends[ne] = ends[ne - 1] + 6 + (uint32_t)hdrs[i].nlen +
			   (uint32_t)hdrs[i].vlen;
	CHECK(ends[NHDRS] == b.len);
	/* Cut the block at every length: whole headers come back, then the
	 * end at a boundary, ES_ECORRUPT anywhere else. */
	int bad = 0;
	for (uint32_t len = 0; len <= b.len; len++) {
		uint32_t pos = 0, got = 0;
		es_header h;
		int rc;
		while ((rc = es_header_next((unsigned char *)b.data, len, &pos,
					    &h)) == 1)
			got++;
		int boundary = 0;
		uint32_t whole = 0;
		for (uint32_t e = 0; e < ne; e++) {
			if (ends[e] == len)
				boundary = 1;
			if (ends[e] <= len && e > 0)
				whole = e;
		}
		if (got != whole || rc != (boundary ? 0 : ES_ECORRUPT)) {
			printf("# block cut at %u: %u headers, rc %d\n", len, got,
			       rc);
			bad++;
		}
	}
	CHECK(bad == 0);

	/* A length that overflows 32 bits must not wrap around. */
	unsigned char evil[12] = {1, 0, 'x', 0xff, 0xff, 0xff, 0xff};
	uint32_t pos = 0;
	es_header h;
	CHECK(es_header_next(evil, sizeof evil, &pos, &h) == ES_ECORRUPT);
	unsigned char evil2[8] = {0xff, 0xff, 'x'};
	pos = 0;
	CHECK(es_header_next(evil2, sizeof evil2, &pos, &h) == ES_ECORRUPT);

	/* Names longer than a u16 are refused, not cut. */
	char *big = calloc(1, 70000);
	size_t before = b.len;
	CHECK(es_header_add(&b, big, 65536, "v", 1) == ES_ETOOBIG);
	CHECK(b.len == before);
	CHECK(es_header_add(&b, big, 65535, "v", 1) == 0);
	free(big);
	es_buf_free(&b);

	/* So are records over the hard bound, before any allocation. */
	es_buf r = {0};
	CHECK(es_record_encode(&r, 0, NULL, ES_NULL_LEN, NULL, ES_REC_MAX, NULL,
			       0) == ES_ETOOBIG);
	CHECK(r.len == 0);
	es_buf_free(&r);
}

/* ---- 2. a flipped bit is always caught ------------------------------------ */

static void test_bit_flips(void)
{
	int corrupt = 0, needmore = 0, bad = 0;
	for (size_t k = 0; k < sizeof rcases / sizeof *rcases; k++) {
		es_buf b = {0};
		encode_case(&b, &rcases[k], 1000 + k);
		size_t size = b.len;
		/* Valid bytes follow, as in a segment, so that a length made
		 * larger by the flip is read and checked, not waited for. */
		for (uint64_t i = 0; b.len < size + 8192; i++) {
			gen(i);
			size_t at = b.len;
			CHECK(es_record_encode(&b, 5, gkey, gklen, gval, gvlen,
					       NULL, 0) == 0);
			es_record_seal((unsigned char *)b.data + at, 2000 + i);
		}
		unsigned char *p = (unsigned char *)b.data;
		for (size_t byte = 0; byte < size; byte++) {
			for (int bit = 0; bit < 8; bit++) {
				p[byte] ^= (unsigned char)(1u << bit);
				es_record r;
				size_t need = 0;
				const char *why = NULL;
				int64_t n = es_record_decode(p, b.len, &r, &need,
							     &why);
				p[byte] ^= (unsigned char)(1u << bit);
				if (n == ES_ECORRUPT && why) {
					corrupt++;
				} else if (n == 0 && byte >= 4 && byte < 8 &&
					   need > b.len) {
					/* Only a length that now claims more
					 * than there is may wait for more. */
					needmore++;
				} else {
					printf("# case %zu byte %zu bit %d: %lld\n",
					       k, byte, bit, (long long)n);
					bad++;
				}
			}
		}
		es_buf_free(&b);
	}
	CHECK(bad == 0);
	CHECK(corrupt > 1000);
	printf("# %d flips corrupt, %d wait for more bytes\n", corrupt,
	       needmore);
}

/* ---- segments as found on disk ------------------------------------------- */

typedef struct seginfo {
	uint64_t base, size, nrec, first_off, last_off;
	uint32_t first_size;
	int ok; /* every record checks and offsets are dense */
} seginfo;

/* Walk every segment of partition p from its bytes alone. With idx, also
 * build the index each segment should have (an entry at the first record
 * and then at the first record ES_IDX_INTERVAL bytes or more past the
 * last entry; max_ts running across segments) and compare it byte for byte
 * with the .index file: *idx_ok says whether all matched, *entries counts
 * them. Returns the number of segments (info in *out, caller frees). */
static size_t walk(es_topic *t, uint32_t p, seginfo **out, int *idx_ok,
		   size_t *entries)
{
	uint64_t *bases;
	size_t n = bases_of(t, p, &bases);
	seginfo *si = calloc(n ? n : 1, sizeof *si);
	es_buf log = {0}, idx = {0}, want = {0};
	int64_t run_max = -1;
	uint64_t expect = n ? bases[0] : 0;
	if (idx_ok)
		*idx_ok = 1;
	if (entries)
		*entries = 0;
	for (size_t s = 0; s < n; s++) {
		char path[4200];
		seginfo *g = &si[s];
		g->base = bases[s];
		g->ok = 1;
		spath(path, t, p, bases[s], "log");
		slurp(path, &log);
		g->size = log.len;
		want.len = 0;
		uint64_t pos = 0, last_idx = 0;
		int have_idx = 0;
		while (pos < log.len) {
			es_record r;
			size_t need;
			const char *why;
			int64_t sz = es_record_decode(
				(unsigned char *)log.data + pos, log.len - pos,
				&r, &need, &why);
			if (sz <= 0 || r.offset != expect) {
				g->ok = 0;
				break;
			}
			if (r.timestamp > run_max)
				run_max = r.timestamp;
			if (!have_idx || pos - last_idx >= ES_IDX_INTERVAL) {
				unsigned char e[ES_IDX_ENTRY];
				es_idx_entry ie = {(uint32_t)(r.offset - g->base),
						   (uint32_t)pos, run_max};
				es_idx_pack(e, &ie);
				es_buf_append(&want, e, sizeof e);
				have_idx = 1;
				last_idx = pos;
			}
			if (g->nrec++ == 0) {
				g->first_off = r.offset;
				g->first_size = (uint32_t)sz;
			}
			g->last_off = r.offset;
			expect = r.offset + 1;
			pos += (uint64_t)sz;
		}
		if (idx_ok) {
			spath(path, t, p, bases[s], "index");
			slurp(path, &idx);
			if (idx.len != want.len ||
			    memcmp(idx.data, want.data, idx.len) != 0) {
				printf("# segment %llu: index of %zu bytes, want "
				       "%zu\n",
				       (unsigned long long)bases[s], idx.len,
				       want.len);
				*idx_ok = 0;
			}
		}
		if (entries)
			*entries += want.len / ES_IDX_ENTRY;
	}
	es_buf_free(&log);
	es_buf_free(&idx);
	es_buf_free(&want);
	free(bases);
	*out = si;
	return n;
}

/* ---- 3. lookup by offset ------------------------------------------------- */

#define BIG_N 20000
static es_topic *big;

/* 20,000 records of 36 to ~3,000 bytes in 64KiB segments, written in
 * batches: shared, read only, by the tests that need many segments. */
static es_topic *big_topic(void)
{
	if (!big) {
		big = mk("big", 1, "64KiB", NULL);
		produce(big, 0, BIG_N, ts_linear, ES_SYNC_NONE, 2500);
	}
	return big;
}

/* Seek to off and read up to three records: each must be the next offset
 * (nothing past n). */
static int seek_ok(es_reader *r, uint64_t off, uint64_t n)
{
	es_error err = {{0}};
	es_record rec;
	int clamped = -1;
	int rc = es_reader_seek(r, off, &clamped, &err);
	if (rc || clamped != 0 || es_reader_position(r) != off) {
		printf("# seek %llu: rc %d clamped %d position %llu: %s\n",
		       (unsigned long long)off, rc, clamped,
		       (unsigned long long)es_reader_position(r), err.msg);
		return 0;
	}
	for (uint64_t k = 0; k < 3; k++) {
		uint64_t want = off + k;
		rc = es_reader_next(r, UINT64_MAX, &rec, &err);
		if (want >= n || want < off) {
			if (rc != 0)
				printf("# seek %llu: %d past the end\n",
				       (unsigned long long)off, rc);
			return rc == 0;
		}
		if (rc != 1) {
			printf("# seek %llu: next %d: %s\n",
			       (unsigned long long)off, rc, err.msg);
			return 0;
		}
		if (!is_gen(&rec, want, ts_linear(want)))
			return 0;
	}
	return 1;
}

static void test_seek_offset(void)
{
	es_topic *t = big_topic();
	es_error err = {{0}};
	seginfo *si;
	int idx_ok;
	size_t entries;
	size_t n = walk(t, 0, &si, &idx_ok, &entries);
	CHECK(n >= 40); /* several segments, each with many records */
	CHECK(idx_ok);
	/* Sparse: about one entry per ES_IDX_INTERVAL bytes of log. */
	uint64_t bytes = 0;
	for (size_t s = 0; s < n; s++) {
		char path[4200];
		spath(path, t, 0, si[s].base, "index");
		uint64_t e = fsize(path) / ES_IDX_ENTRY;
		CHECK(e >= si[s].size / (ES_IDX_INTERVAL + 4096) &&
		      e <= si[s].size / ES_IDX_INTERVAL + 1);
		CHECK(e >= 2 || s == n - 1);
		bytes += si[s].size;
	}
	CHECK(entries > n && entries <= bytes / ES_IDX_INTERVAL + n);

	es_reader *r = NULL;
	CHECK_OK(es_reader_open(t, 0, &r, &err), &err);
	if (!r)
		goto out;
	int bad = 0, tried = 0;
	uint64_t fixed[] = {0, 1, 2, BIG_N - 1, BIG_N - 2, BIG_N, BIG_N + 1,
			    1000000000000ull, UINT64_MAX - 1, 0};
	for (size_t k = 0; k < sizeof fixed / sizeof *fixed; k++, tried++)
		bad += !seek_ok(r, fixed[k], BIG_N);
	/* Around each segment base and each index entry. */
	for (size_t s = 0; s < n; s++) {
		for (uint64_t d = 0; d < 3; d++, tried++)
			if (si[s].base + d >= 1)
				bad += !seek_ok(r, si[s].base + d - 1, BIG_N);
		char path[4200];
		es_buf idx = {0};
		spath(path, t, 0, si[s].base, "index");
		slurp(path, &idx);
		for (size_t e = 0; e + ES_IDX_ENTRY <= idx.len;
		     e += ES_IDX_ENTRY) {
			es_idx_entry ie;
			es_idx_unpack((unsigned char *)idx.data + e, &ie);
			for (uint64_t d = 0; d < 3; d++, tried++)
				if (si[s].base + ie.rel + d >= 1)
					bad += !seek_ok(
						r, si[s].base + ie.rel + d - 1,
						BIG_N);
		}
		es_buf_free(&idx);
	}
	for (int k = 0; k < 2000; k++, tried++)
		bad += !seek_ok(r, rnd() % BIG_N, BIG_N);
	CHECK(bad == 0);
	printf("# %d seeks over %zu segments, %zu index entries\n", tried, n,
	       entries);
	es_reader_close(r);

	/* A fresh reader reads everything, in order. */
	int last;
	uint64_t got = read_all(t, ts_linear, NULL, 0, &last, &err);
	CHECK(got == BIG_N && last == 0);
out:
	free(si);
}

/* ---- 4. lookup by time ---------------------------------------------------- */

static int64_t *tsv;
static int64_t ts_arr(uint64_t i)
{
	return tsv[i];
}

/* seek_time(T) must give the first record whose largest-timestamp-so-far
 * is >= T (pm: the prefix maxima), with that maximum in es_reader_max_ts. */
static int seek_time_ok(es_reader *r, int64_t T, const int64_t *pm, uint64_t n)
{
	es_error err = {{0}};
	es_record rec;
	uint64_t lo = 0, hi = n;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (pm[mid] >= T)
			hi = mid;
		else
			lo = mid + 1;
	}
	int rc = es_reader_seek_time(r, T, &err);
	if (rc) {
		printf("# seek_time %lld: %d %s\n", (long long)T, rc, err.msg);
		return 0;
	}
	rc = es_reader_next(r, UINT64_MAX, &rec, &err);
	if (lo == n) {
		if (rc != 0)
			printf("# seek_time %lld: past the end gave %d offset "
			       "%llu\n",
			       (long long)T, rc, (unsigned long long)rec.offset);
		return rc == 0;
	}
	if (rc != 1 || rec.offset != lo || !is_gen(&rec, lo, tsv[lo]) ||
	    es_reader_max_ts(r) != pm[lo]) {
		printf("# seek_time %lld: rc %d offset %llu max_ts %lld, want "
		       "%llu max_ts %lld\n",
		       (long long)T, rc, (unsigned long long)rec.offset,
		       (long long)es_reader_max_ts(r), (unsigned long long)lo,
		       (long long)pm[lo]);
		return 0;
	}
	return 1;
}

#define TIME_N 4000

static void time_case(const char *name, int jitter)
{
	tsv = malloc(TIME_N * sizeof *tsv);
	int64_t *pm = malloc(TIME_N * sizeof *pm);
	for (uint64_t i = 0; i < TIME_N; i++) {
		if (!jitter) /* three records per timestamp */
			tsv[i] = T0 + 10 * (int64_t)(i / 3);
		else
			tsv[i] = T0 + 10 * (int64_t)i +
				 (int64_t)(mix(i) % 2001) - 1000;
		pm[i] = i && pm[i - 1] > tsv[i] ? pm[i - 1] : tsv[i];
	}
	if (jitter) {
		/* A record from the future raises the maximum for a while; one
		 * from the distant past does not lower it. */
		tsv[1234] = T0 + 10 * 3000;
		tsv[3000] = T0 - 50000;
		for (uint64_t i = 1; i < TIME_N; i++)
			pm[i] = pm[i - 1] > tsv[i] ? pm[i - 1] : tsv[i];
	}
	es_topic *t = mk(name, 1, "16KiB", NULL);
	produce(t, 0, TIME_N, ts_arr, ES_SYNC_NONE, 1000);
	uint64_t *bases;
	size_t nseg = bases_of(t, 0, &bases);
	CHECK(nseg >= 10);
	free(bases);

	es_error err = {{0}};
	es_reader *r = NULL;
	CHECK_OK(es_reader_open(t, 0, &r, &err), &err);
	int bad = 0, tried = 0;
	int64_t fixed[] = {INT64_MIN, -1, 0, T0 - 100000, T0 - 1, T0,
			   pm[TIME_N - 1], pm[TIME_N - 1] + 1, INT64_MAX};
	for (size_t k = 0; r && k < sizeof fixed / sizeof *fixed; k++, tried++)
		bad += !seek_time_ok(r, fixed[k], pm, TIME_N);
	for (uint64_t i = 0; r && i < TIME_N; i += jitter ? 5 : 7) {
		int64_t q[] = {tsv[i] - 1, tsv[i], tsv[i] + 1, pm[i]};
		for (size_t k = 0; k < 4; k++, tried++)
			bad += !seek_time_ok(r, q[k], pm, TIME_N);
	}
	CHECK(bad == 0);
	printf("# %s: %d time seeks over %zu segments\n", name, tried, nseg);
	es_reader_close(r);
	es_topic_close(t);
	free(pm);
	free(tsv);
	tsv = NULL;
}

static void test_seek_time(void)
{
	time_case("time-mono", 0);
}

static void test_seek_time_unordered(void)
{
	time_case("time-jitter", 1);
}

/* ---- 5. rolls ----------------------------------------------------------- */

static void test_roll_by_size(void)
{
	es_topic *t = big_topic();
	seginfo *si;
	size_t n = walk(t, 0, &si, NULL, NULL);
	int bad = 0;
	uint64_t records = 0;
	for (size_t s = 0; s < n; s++) {
		/* Named by the offset of its first record, dense across
		 * segments, within the limit, and full: the next segment's
		 * first record did not fit. */
		if (!si[s].ok || si[s].nrec == 0 || si[s].first_off != si[s].base)
			bad++;
		if (s + 1 < n && si[s].last_off + 1 != si[s + 1].base)
			bad++;
		if (si[s].size > 65536 && si[s].nrec != 1)
			bad++;
		if (s + 1 < n && si[s].size + si[s + 1].first_size <= 65536)
			bad++;
		records += si[s].nrec;
	}
	CHECK(bad == 0);
	CHECK(records == BIG_N);
	free(si);

	/* Records of 1000 and 5000 bytes in 4096-byte segments: a record
	 * larger than a segment sits alone; both as one flush and as one
	 * producer per record (the writer's state then comes from disk). */
	static const uint32_t sizes[] = {1000, 5000, 1000, 1000, 1000,
					 1000, 1000, 5000, 1000};
	static const uint64_t want_base[] = {0, 1, 2, 6, 7, 8};
	static const uint64_t want_size[] = {1000, 5000, 4000, 1000, 5000, 1000};
	static unsigned char zeros[5000];
	for (int each = 0; each < 2; each++) {
		es_topic *u = mk(each ? "roll-size-each" : "roll-size", 1,
				 "4096", NULL);
		es_producer *p = NULL;
		es_error err = {{0}};
		for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
			if (!p)
				CHECK_OK(es_producer_open(u, ES_SYNC_BATCH, &p, &err),
					 &err);
			if (!p)
				break;
			CHECK_OK(es_producer_add(p, 0, NULL, ES_NULL_LEN, zeros,
						 sizes[i] - ES_REC_HDR, NULL, 0,
						 T0, NULL, &err),
				 &err);
			if (each) {
				CHECK_OK(es_producer_flush(p, NULL, NULL, &err),
					 &err);
				es_producer_close(p);
				p = NULL;
			}
		}
		if (p) {
			CHECK_OK(es_producer_flush(p, NULL, NULL, &err), &err);
			es_producer_close(p);
		}
		n = walk(u, 0, &si, NULL, NULL);
		CHECK(n == 6);
		for (size_t s = 0; s < n && s < 6; s++) {
			if (si[s].base != want_base[s] ||
			    si[s].size != want_size[s] || !si[s].ok)
				printf("# %s: segment %zu: base %llu size %llu\n",
				       each ? "each" : "one flush", s,
				       (unsigned long long)si[s].base,
				       (unsigned long long)si[s].size);
			CHECK(si[s].base == want_base[s]);
			CHECK(si[s].size == want_size[s]);
			CHECK(si[s].ok);
		}
		free(si);
		es_topic_close(u);
	}
}

static void test_roll_by_age(void)
{
	/* segment_age 1s: a record rolls when its timestamp is 1000 ms or
	 * more past the segment's first; an older timestamp never rolls. */
	static const int64_t d[] = {0,	  400,	999,  1000, 1500, 1999,
				    2000, 2000, 5000, 5100, 100,  5999};
	static const uint64_t want_base[] = {0, 3, 6, 8};
	for (int each = 0; each < 2; each++) {
		es_topic *u = mk(each ? "roll-age-each" : "roll-age", 1, NULL,
				 "1s");
		es_producer *p = NULL;
		es_error err = {{0}};
		for (size_t i = 0; i < sizeof d / sizeof *d; i++) {
			if (!p)
				CHECK_OK(es_producer_open(u, ES_SYNC_NONE, &p, &err),
					 &err);
			if (!p)
				break;
			CHECK_OK(es_producer_add(p, 0, "k", 1, "v", 1, NULL, 0,
						 T0 + d[i], NULL, &err),
				 &err);
			if (each) {
				CHECK_OK(es_producer_flush(p, NULL, NULL, &err),
					 &err);
				es_producer_close(p);
				p = NULL;
			}
		}
		if (p) {
			CHECK_OK(es_producer_flush(p, NULL, NULL, &err), &err);
			es_producer_close(p);
		}
		seginfo *si;
		size_t n = walk(u, 0, &si, NULL, NULL);
		CHECK(n == 4);
		for (size_t s = 0; s < n && s < 4; s++) {
			if (si[s].base != want_base[s])
				printf("# %s: segment %zu has base %llu\n",
				       each ? "each" : "one flush", s,
				       (unsigned long long)si[s].base);
			CHECK(si[s].base == want_base[s] && si[s].ok);
		}
		CHECK(n == 4 && si[3].nrec == 4);
		free(si);
		es_topic_close(u);
	}
}

/* ---- 6. a torn tail at every byte ------------------------------------------ */

/* The record a crash tears: a key, a value and headers, so the cut lands
 * in every field. */
static void add_last(es_producer *p, uint64_t i, es_error *err)
{
	es_buf h = {0};
	unsigned char v[100];
	header_block(&h);
	for (size_t j = 0; j < sizeof v; j++)
		v[j] = (unsigned char)(i + j);
	CHECK_OK(es_producer_add(p, 0, "last-key", 8, v, sizeof v, h.data,
				 (uint32_t)h.len, T0 + (int64_t)i, NULL, err),
		 err);
	es_buf_free(&h);
}

static int is_last(const es_record *r, uint64_t i)
{
	unsigned char v[100];
	for (size_t j = 0; j < sizeof v; j++)
		v[j] = (unsigned char)(i + j);
	return r->offset == i && r->timestamp == T0 + (int64_t)i &&
	       r->key_len == 8 && memcmp(r->key, "last-key", 8) == 0 &&
	       r->value_len == sizeof v && memcmp(r->value, v, sizeof v) == 0 &&
	       headers_match(r);
}

/* Write nfirst generated records (published), then the last record; then
 * for every cut k of the log from the start of the last record to its end,
 * with the head as it was before the last record was published (a crash
 * between write and publish): check sees a torn tail and no corruption,
 * the next writer cuts it, appends at the next dense offset, and every
 * earlier record reads back. With grow_idx, first grow the log until the
 * last record gets an index entry of its own, which the cut leaves
 * pointing into nothing. */
static void torn_case(const char *name, uint64_t nfirst, int grow_idx)
{
	es_topic *t = mk(name, 1, NULL, NULL);
	es_error err = {{0}};
	char log[4200], idx[4200], head[4200], seg[40];
	spath(log, t, 0, 0, "log");
	spath(idx, t, 0, 0, "index");
	ppath(head, t, 0, "head");
	es_seg_name(seg, 0, "log");
	produce(t, 0, nfirst, ts_linear, ES_SYNC_NONE, 1000);
	while (grow_idx) {
		/* The last entry's position; stop once the next record will
		 * get an entry. */
		es_buf ib = {0};
		es_idx_entry ie;
		slurp(idx, &ib);
		es_idx_unpack((unsigned char *)ib.data + ib.len - ES_IDX_ENTRY,
			      &ie);
		es_buf_free(&ib);
		if (fsize(log) - ie.pos >= ES_IDX_INTERVAL)
			break;
		produce(t, nfirst, nfirst + 1, ts_linear, ES_SYNC_NONE, 1);
		nfirst++;
	}
	es_buf old_head = {0}, full = {0}, full_idx = {0};
	slurp(head, &old_head);
	uint64_t S = fsize(log);
	es_producer *p = NULL;
	CHECK_OK(es_producer_open(t, ES_SYNC_BATCH, &p, &err), &err);
	if (!p)
		return;
	add_last(p, nfirst, &err);
	CHECK_OK(es_producer_flush(p, NULL, NULL, &err), &err);
	es_producer_close(p);
	slurp(log, &full);
	slurp(idx, &full_idx);
	uint64_t E = full.len;
	CHECK(E > S + ES_REC_HDR + 100);
	if (grow_idx) {
		es_idx_entry ie;
		es_idx_unpack((unsigned char *)full_idx.data + full_idx.len -
				      ES_IDX_ENTRY,
			      &ie);
		CHECK(ie.pos == S && ie.rel == nfirst);
	}

	int bad_check = 0, bad_read = 0, bad_after = 0, partial_hdr = 0;
	for (uint64_t k = S; k <= E; k++) {
		spew(log, full.data, k);
		spew(idx, full_idx.data, full_idx.len);
		spew(head, old_head.data, old_head.len);
		partial_hdr += k > S && k < S + ES_REC_HDR;

		probs ps;
		check_topic(t, 0, &ps);
		int torn = k > S && k < E, ok;
		if (torn)
			ok = ps.n == 1 && ps.torn == 1 &&
			     ps.p[0].partition == 0 &&
			     strcmp(ps.p[0].segment, seg) == 0 &&
			     ps.p[0].offset == nfirst && ps.p[0].position == S;
		else if (k == S && grow_idx) /* an entry past the log: stale */
			ok = ps.n == 1 && ps.index == 1;
		else
			ok = ps.n == 0;
		if (!ok) {
			printf("# cut at %llu of [%llu, %llu]:\n",
			       (unsigned long long)k, (unsigned long long)S,
			       (unsigned long long)E);
			show(&ps);
			bad_check++;
		}

		/* The next writer: one record, at the next dense offset (the
		 * whole last record survives only when nothing was cut). */
		uint64_t want = k == E ? nfirst + 1 : nfirst;
		struct acks a = {want, 0, 0};
		char v[32];
		int vl = snprintf(v, sizeof v, "after-%llu", (unsigned long long)k);
		p = NULL;
		/* No fsync: what is tested is the recovery, not the disk. */
		CHECK_OK(es_producer_open(t, ES_SYNC_NONE, &p, &err), &err);
		if (!p)
			break;
		CHECK_OK(es_producer_add(p, 0, "after", 5, v, (uint32_t)vl, NULL,
					 0, T0 + 1000000, NULL, &err),
			 &err);
		int rc = es_producer_flush(p, on_ack, &a, &err);
		es_producer_close(p);
		if (rc || a.bad || a.next != want + 1) {
			printf("# cut at %llu: flush %d (%s), acked up to %llu, "
			       "want %llu\n",
			       (unsigned long long)k, rc, err.msg,
			       (unsigned long long)a.next,
			       (unsigned long long)want);
			bad_after++;
			continue;
		}

		/* Every earlier record, then the new one, then the end. */
		es_reader *r = NULL;
		es_record rec;
		uint64_t i = 0;
		ok = 1;
		CHECK_OK(es_reader_open(t, 0, &r, &err), &err);
		if (!r)
			break;
		for (; ok && i < want; i++) {
			ok = es_reader_next(r, UINT64_MAX, &rec, &err) == 1 &&
			     (i < nfirst ? is_gen(&rec, i, ts_linear(i))
					 : is_last(&rec, i));
		}
		ok = ok && es_reader_next(r, UINT64_MAX, &rec, &err) == 1 &&
		     rec.offset == want && rec.value_len == (uint32_t)vl &&
		     memcmp(rec.value, v, (size_t)vl) == 0 &&
		     es_reader_next(r, UINT64_MAX, &rec, &err) == 0;
		es_reader_close(r);
		if (!ok) {
			printf("# cut at %llu: read back wrong at %llu: %s\n",
			       (unsigned long long)k, (unsigned long long)i,
			       err.msg);
			bad_read++;
		}

		/* The repaired partition checks clean, index included. */
		check_topic(t, 0, &ps);
		if (ps.n) {
			printf("# cut at %llu: after the next write:\n",
			       (unsigned long long)k);
			show(&ps);
			bad_after++;
		}
	}
	CHECK(bad_check == 0);
	CHECK(bad_read == 0);
	CHECK(bad_after == 0);
	CHECK(partial_hdr == ES_REC_HDR - 1);
	es_buf_free(&old_head);
	es_buf_free(&full);
	es_buf_free(&full_idx);
	es_topic_close(t);
}

static void test_torn_tail_every_byte(void)
{
	torn_case("torn", 4, 0);
}

static void test_torn_tail_with_index_entry(void)
{
	torn_case("torn-idx", 20, 1);
}

/* ---- 7. corruption below the durable end ----------------------------------- */

/* The which-th record of the segment at base (-1: the last): its byte
 * position, offset and size. */
static int find_rec(es_topic *t, uint64_t base, int which, uint64_t *pos,
		    uint64_t *off, uint32_t *size)
{
	char path[4200];
	es_buf b = {0};
	spath(path, t, 0, base, "log");
	slurp(path, &b);
	uint64_t at = 0;
	int k = 0, found = 0;
	while (at < b.len) {
		es_record r;
		size_t need;
		const char *why;
		int64_t n = es_record_decode((unsigned char *)b.data + at,
					     b.len - at, &r, &need, &why);
		if (n <= 0)
			break;
		if (k == which || (which < 0 && at + (uint64_t)n == b.len)) {
			*pos = at;
			*off = r.offset;
			*size = (uint32_t)n;
			found = 1;
			break;
		}
		k++;
		at += (uint64_t)n;
	}
	es_buf_free(&b);
	return found;
}

/* The quarantine files of partition 0 named after seg: how many, and the
 * content of the last one found. */
static int quarantine(es_topic *t, const char *seg, es_buf *content)
{
	char dir[4200];
	ppath(dir, t, 0, "");
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	size_t sl = strlen(seg);
	while (d && (e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (strncmp(e->d_name, seg, sl) == 0 && l > 11 &&
		    strcmp(e->d_name + l - 11, ".quarantine") == 0) {
			char path[4200];
			ppath(path, t, 0, e->d_name);
			slurp(path, content);
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

#define CORR_N 200

/* Flip one byte of one published record (segment seg_sel: 1 for a closed
 * one, -1 for the active one; record rec_sel of it; byte at: -1 for the
 * middle of the record, else that byte of it), then: check names the
 * damage exactly; the reader returns every record before it, then
 * ES_ECORRUPT; a writer refuses to append when the damage is in the active
 * segment; repair moves exactly the damaged bytes to a quarantine file and
 * keeps every other record at its offset; then all is clean. */
static void corrupt_case(const char *name, int seg_sel, int rec_sel, int at,
			 int append)
{
	es_topic *t = mk(name, 1, "4KiB", NULL);
	es_error err = {{0}};
	uint64_t n = CORR_N;
	produce(t, 0, n, ts_linear, ES_SYNC_NONE, 64);
	/* Grow until the active segment holds a few records, so that there
	 * is a record after the damage there too. */
	for (;;) {
		seginfo *si;
		size_t ns = walk(t, 0, &si, NULL, NULL);
		uint64_t last_nrec = ns ? si[ns - 1].nrec : 0;
		free(si);
		if (last_nrec >= 4)
			break;
		produce(t, n, n + 1, ts_linear, ES_SYNC_NONE, 1);
		n++;
	}
	uint64_t *bases;
	size_t nseg = bases_of(t, 0, &bases);
	CHECK(nseg >= 4);
	if (nseg < 4) {
		free(bases);
		return;
	}
	uint64_t base = bases[seg_sel < 0 ? nseg - 1 : (size_t)seg_sel];
	int active = seg_sel < 0;
	free(bases);
	char seg[40], log[4200];
	es_seg_name(seg, base, "log");
	spath(log, t, 0, base, "log");
	uint64_t vpos = 0, victim = 0;
	uint32_t vsize = 0;
	CHECK(find_rec(t, base, rec_sel, &vpos, &victim, &vsize));
	/* Valid records follow it, unless it was chosen as the last. */
	CHECK(victim + 1 < n || (active && rec_sel < 0));

	es_buf b = {0}, q = {0};
	slurp(log, &b);
	uint64_t flip = vpos + (at < 0 ? vsize / 2 : (uint32_t)at);
	b.data[flip] ^= 0x01;
	spew(log, b.data, b.len);
	uint64_t size = b.len;

	probs ps;
	check_topic(t, 0, &ps);
	CHECK(ps.n == 1 && ps.corrupt == 1);
	if (ps.n >= 1) {
		CHECK(ps.p[0].kind == ES_PROBLEM_CORRUPT);
		CHECK(ps.p[0].partition == 0);
		CHECK(strcmp(ps.p[0].segment, seg) == 0);
		CHECK(ps.p[0].offset == victim);
		CHECK(ps.p[0].position == vpos);
		CHECK(ps.p[0].repair[0] == 0);
	}
	if (ps.n != 1)
		show(&ps);

	if (active) {
		es_producer *p = NULL;
		CHECK_OK(es_producer_open(t, ES_SYNC_BATCH, &p, &err), &err);
		if (p) {
			err.msg[0] = 0;
			CHECK_OK(es_producer_add(p, 0, "x", 1, "y", 1, NULL, 0, T0,
						 NULL, &err),
				 &err);
			CHECK(es_producer_flush(p, NULL, NULL, &err) ==
			      ES_ECORRUPT);
			CHECK(strstr(err.msg, seg) != NULL);
			CHECK(es_producer_durable(p) == 0);
			es_producer_close(p);
		}
		CHECK(fsize(log) == size); /* nothing appended, nothing cut */
	}

	/* The reader: everything before the damage, then the error. */
	uint64_t *offs = calloc(n + 2, sizeof *offs);
	int last;
	err.msg[0] = 0;
	uint64_t got = read_all(t, ts_linear, offs, n + 2, &last, &err);
	CHECK(got == victim && last == ES_ECORRUPT);
	char want[64];
	snprintf(want, sizeof want, "offset %llu,", (unsigned long long)victim);
	CHECK(strstr(err.msg, want) != NULL);
	snprintf(want, sizeof want, "byte %llu", (unsigned long long)vpos);
	CHECK(strstr(err.msg, want) != NULL);
	CHECK(strstr(err.msg, seg) != NULL);
	if (last != ES_ECORRUPT || got != victim)
		printf("# read %llu records, then %d: %s\n",
		       (unsigned long long)got, last, err.msg);

	/* Repair: the damaged record, and nothing else, goes to quarantine. */
	CHECK(quarantine(t, seg, &q) == 0);
	check_topic(t, 1, &ps);
	CHECK(ps.corrupt == 1);
	int noted = 0;
	for (int k = 0; k < ps.n && k < MAXP; k++) {
		if (ps.p[k].kind == ES_PROBLEM_CORRUPT)
			CHECK(strcmp(ps.p[k].repair, "quarantined") == 0 &&
			      ps.p[k].offset == victim &&
			      ps.p[k].position == vpos);
		if (strstr(ps.p[k].what, ".quarantine"))
			noted++;
	}
	CHECK(noted == 1);
	CHECK(quarantine(t, seg, &q) == 1);
	CHECK(q.len == vsize && memcmp(q.data, b.data + vpos, vsize) == 0);
	CHECK(fsize(log) == size - vsize);

	/* Every other record at its offset: a gap where the damage was. */
	got = read_all(t, ts_linear, offs, n + 2, &last, &err);
	CHECK(got == n - 1 && last == 0);
	int gap_ok = 1;
	for (uint64_t i = 0; i < got && i < n; i++)
		gap_ok &= offs[i] == (i < victim ? i : i + 1);
	CHECK(gap_ok);
	check_topic(t, 0, &ps);
	CHECK(ps.n == 0);
	if (ps.n)
		show(&ps);

	/* A seek into the gap starts at the next record. */
	es_reader *r = NULL;
	CHECK_OK(es_reader_open(t, 0, &r, &err), &err);
	if (r) {
		es_record rec;
		CHECK_OK(es_reader_seek(r, victim, NULL, &err), &err);
		if (victim + 1 < n)
			CHECK(es_reader_next(r, UINT64_MAX, &rec, &err) == 1 &&
			      rec.offset == victim + 1);
		else
			CHECK(es_reader_next(r, UINT64_MAX, &rec, &err) == 0);
		es_reader_close(r);
	}

	/* And the writer goes on at the end, never reusing an offset that
	 * was published. */
	uint64_t end = 0;
	CHECK_OK(es_partition_end(t, 0, &end, &err), &err);
	if (!append) {
		printf("# skipped: the next append (bug 6 of log-tests)\n");
		goto out;
	}
	CHECK(end == n);
	produce(t, n, n + 1, ts_linear, ES_SYNC_NONE, 1);
	got = read_all(t, ts_linear, offs, n + 2, &last, &err);
	CHECK(got == n && last == 0 && offs[n - 1] == n);
	check_topic(t, 0, &ps);
	CHECK(ps.n == 0);
out:
	free(offs);
	es_buf_free(&b);
	es_buf_free(&q);
	es_topic_close(t);
}

static void test_corrupt_closed_segment(void)
{
	corrupt_case("corrupt-closed", 1, 5, -1, 1);
}

static void test_corrupt_closed_length_field(void)
{
	/* The length now claims 256 bytes more: where the damage ends must
	 * come from the next record that checks. */
	corrupt_case("corrupt-len", 1, 5, 5, 1);
}

static void test_corrupt_closed_last_record(void)
{
	corrupt_case("corrupt-seg-end", 1, -1, -1, 1);
}

static void test_corrupt_active_segment(void)
{
	corrupt_case("corrupt-active", -1, 1, -1, 1);
}

static void test_corrupt_active_first_record(void)
{
	corrupt_case("corrupt-active-first", -1, 0, 9, 1);
}

static void test_corrupt_published_last_record(void)
{
	/* Nothing valid after it, but it was published: corruption, not a
	 * torn tail; and its offset is not given to the next record. */
	corrupt_case("corrupt-active-last", -1, -1, -1, 1);
}

/* ---- 8. a stale or damaged index never hides a record ----------------------- */

enum {
	D_EMPTY,     /* truncated to nothing */
	D_HALF,	     /* half the entries lost */
	D_PARTIAL,   /* a partial last entry */
	D_MISSING,   /* the file deleted */
	D_GARBAGE,   /* entries 2..5 random bytes */
	D_MIDREC,    /* an entry points into the middle of a record */
	D_WRONGREL,  /* an entry names the wrong offset for its position */
	D_PASTEND,   /* an entry past the end of the log */
	D_ZEROES,    /* every entry all zeroes */
	D_TS_HIGH,   /* the first entry claims a later timestamp */
	D_TS_LOW,    /* the middle entry claims an earlier timestamp */
	D_NKINDS
};
static const char *const dnames[] = {
	"empty", "half", "partial", "missing", "garbage", "mid-record",
	"wrong-rel", "past-end", "zeroes", "ts-high", "ts-low",
};

static void damage(const char *path, const es_buf *orig, int kind)
{
	es_buf b = {0};
	es_buf_append(&b, orig->data, orig->len);
	size_t ne = b.len / ES_IDX_ENTRY, k = ne / 2;
	unsigned char *e = (unsigned char *)b.data;
	es_idx_entry ie;
	switch (kind) {
	case D_EMPTY:
		b.len = 0;
		break;
	case D_HALF:
		b.len = ne / 2 * ES_IDX_ENTRY;
		break;
	case D_PARTIAL:
		b.len -= 5;
		break;
	case D_MISSING:
		unlink(path);
		es_buf_free(&b);
		return;
	case D_GARBAGE:
		for (size_t i = 2 * ES_IDX_ENTRY; i < 6 * ES_IDX_ENTRY && i < b.len;
		     i++)
			e[i] = (unsigned char)rnd();
		break;
	case D_MIDREC:
		es_idx_unpack(e + k * ES_IDX_ENTRY, &ie);
		ie.pos += 7;
		es_idx_pack(e + k * ES_IDX_ENTRY, &ie);
		break;
	case D_WRONGREL:
		es_idx_unpack(e + k * ES_IDX_ENTRY, &ie);
		ie.rel += 1;
		es_idx_pack(e + k * ES_IDX_ENTRY, &ie);
		break;
	case D_PASTEND:
		es_idx_unpack(e + (ne - 1) * ES_IDX_ENTRY, &ie);
		ie.rel += 1000;
		ie.pos += 70000;
		{
			unsigned char x[ES_IDX_ENTRY];
			es_idx_pack(x, &ie);
			es_buf_append(&b, x, sizeof x);
		}
		break;
	case D_ZEROES:
		memset(e, 0, b.len);
		break;
	case D_TS_HIGH:
		es_idx_unpack(e, &ie);
		ie.max_ts += 1000000;
		es_idx_pack(e, &ie);
		break;
	case D_TS_LOW:
		es_idx_unpack(e + k * ES_IDX_ENTRY, &ie);
		ie.max_ts = 0;
		es_idx_pack(e + k * ES_IDX_ENTRY, &ie);
		break;
	}
	spew(path, b.data, b.len);
	es_buf_free(&b);
}

#define IDX_N 3000

/* Damage the index of one segment in each way; seeks by offset and time
 * into and around that segment still find the right records, check
 * reports an INDEX problem (and nothing worse), and repair rebuilds the
 * index byte for byte as the writer wrote it. */
static void index_case(const char *name, int active, unsigned kinds,
		       unsigned time_kinds, unsigned rebuild_kinds)
{
	es_topic *t = mk(name, 1, "64KiB", NULL);
	uint64_t n = IDX_N;
	produce(t, 0, n, ts_linear, ES_SYNC_NONE, 1000);
	seginfo *si;
	int idx_ok;
	/* The active segment wants entries enough to damage. */
	for (;;) {
		size_t ns = walk(t, 0, &si, NULL, NULL);
		uint64_t sz = ns ? si[ns - 1].size : 0;
		free(si);
		if (sz >= 8 * ES_IDX_INTERVAL)
			break;
		produce(t, n, n + 20, ts_linear, ES_SYNC_NONE, 20);
		n += 20;
	}
	size_t nseg = walk(t, 0, &si, &idx_ok, NULL);
	CHECK(nseg >= 4 && idx_ok);
	if (nseg < 4) {
		free(si);
		return;
	}
	const seginfo *g = &si[active ? nseg - 1 : 1];
	char path[4200], seg[40];
	spath(path, t, 0, g->base, "index");
	es_seg_name(seg, g->base, "log");
	es_buf orig = {0}, now = {0};
	slurp(path, &orig);
	CHECK(orig.len >= 6 * ES_IDX_ENTRY);
	tsv = malloc(n * sizeof *tsv);
	for (uint64_t i = 0; i < n; i++)
		tsv[i] = ts_linear(i);
	es_error err = {{0}};
	es_reader *r = NULL;
	CHECK_OK(es_reader_open(t, 0, &r, &err), &err);
	for (int kind = 0; r && kind < D_NKINDS; kind++) {
		if (!(kinds & 1u << kind))
			continue;
		damage(path, &orig, kind);
		int bad = 0, timed = !!(time_kinds & 1u << kind);
		/* Every third offset of the segment, its edges, and a sample of
		 * everything before it (which a time seek could skip). */
		for (uint64_t off = 0; off <= g->last_off + 1; off++) {
			if (off + 2 < g->base ? off % 37 != 0
					      : (off + 2 - g->base) % 3 &&
							off > g->base + 1 &&
							off < g->last_off)
				continue;
			bad += !seek_ok(r, off, n);
			if (timed)
				bad += !seek_time_ok(r, ts_linear(off), tsv, n);
		}
		if (bad)
			printf("# index %s of %s segment: %d bad seeks\n",
			       dnames[kind], active ? "the active" : "a closed",
			       bad);
		CHECK(bad == 0);

		probs ps;
		check_topic(t, 0, &ps);
		int here = 0;
		for (int k = 0; k < ps.n && k < MAXP; k++)
			here += ps.p[k].kind == ES_PROBLEM_INDEX &&
				strcmp(ps.p[k].segment, seg) == 0;
		if (!(here >= 1 && ps.corrupt == 0 && ps.torn == 0)) {
			printf("# index %s: check says\n", dnames[kind]);
			show(&ps);
		}
		CHECK(here >= 1 && ps.corrupt == 0 && ps.torn == 0);
		check_topic(t, 1, &ps);
		CHECK(ps.corrupt == 0 && ps.torn == 0 && ps.index >= 1);
		if (!(rebuild_kinds & 1u << kind)) {
			spew(path, orig.data, orig.len); /* for the next kind */
			continue;
		}
		slurp(path, &now);
		CHECK(now.len == orig.len &&
		      memcmp(now.data, orig.data, orig.len) == 0);
		if (now.len != orig.len ||
		    memcmp(now.data, orig.data, orig.len) != 0)
			printf("# index %s: rebuilt as %zu bytes, was %zu\n",
			       dnames[kind], now.len, orig.len);
		check_topic(t, 0, &ps);
		CHECK(ps.n == 0);
	}
	es_reader_close(r);
	free(tsv);
	tsv = NULL;
	free(si);
	es_buf_free(&orig);
	es_buf_free(&now);
	es_topic_close(t);
}

/* check --repair rebuilds an index whose first entry claims a later
 * timestamp wrongly (bug 3 of the log-tests bug list): everything else
 * about that kind is tested below, the rebuilt bytes only with
 * (fixed). */
#define D_REBUILD_BUGS (1u << D_TS_HIGH)
#define D_ALL ((1u << D_NKINDS) - 1)

static void test_index_damage_closed(void)
{
	index_case("idx-closed", 0, D_ALL, D_ALL, D_ALL & ~D_REBUILD_BUGS);
}

static void test_index_damage_active(void)
{
	index_case("idx-active", 1, D_ALL, D_ALL, D_ALL & ~D_REBUILD_BUGS);
}

static void test_index_damage_pending(void)
{
	unsigned k = D_REBUILD_BUGS;
	index_case("idx-pending-closed", 0, k, k, k);
	index_case("idx-pending-active", 1, k, k, k);
}

/* ---- 9. partition facts and alter ----------------------------------------- */

static void test_stat_end_alter(void)
{
	es_topic *t = mk("stat", 2, "4KiB", NULL);
	es_error err = {{0}};
	es_partition_info pi;
	uint64_t end = 1;

	/* An empty partition. */
	CHECK_OK(es_partition_stat(t, 0, &pi, &err), &err);
	CHECK(pi.first_offset == 0 && pi.next_offset == 0 && pi.segments == 1 &&
	      pi.bytes == 0 && pi.oldest_ts == -1 && pi.newest_ts == -1);
	CHECK_OK(es_partition_end(t, 0, &end, &err), &err);
	CHECK(end == 0);

	produce(t, 0, 300, ts_linear, ES_SYNC_NONE, 100);
	seginfo *si;
	size_t n = walk(t, 0, &si, NULL, NULL);
	CHECK(n >= 5);
	uint64_t bytes = 0;
	for (size_t s = 0; s < n; s++) {
		char path[4200];
		spath(path, t, 0, si[s].base, "log");
		bytes += fsize(path);
		spath(path, t, 0, si[s].base, "index");
		bytes += fsize(path);
	}
	CHECK_OK(es_partition_stat(t, 0, &pi, &err), &err);
	CHECK(pi.first_offset == 0);
	CHECK(pi.next_offset == 300);
	CHECK(pi.segments == n);
	CHECK(pi.bytes == bytes);
	CHECK(pi.oldest_ts == T0);
	CHECK(pi.newest_ts == T0 + 299);
	CHECK_OK(es_partition_end(t, 0, &end, &err), &err);
	CHECK(end == 300);
	/* Partition 1 was not touched. */
	CHECK_OK(es_partition_stat(t, 1, &pi, &err), &err);
	CHECK(pi.next_offset == 0 && pi.bytes == 0 && pi.newest_ts == -1);
	CHECK(es_partition_stat(t, 2, &pi, &err) != 0);
	CHECK(es_partition_end(t, 2, &end, &err) != 0);

	/* A record with an older timestamp does not lower the newest. */
	es_producer *p = NULL;
	CHECK_OK(es_producer_open(t, ES_SYNC_NONE, &p, &err), &err);
	if (p) {
		CHECK_OK(es_producer_add(p, 0, NULL, ES_NULL_LEN, "old", 3, NULL,
					 0, T0 - 5000, NULL, &err),
			 &err);
		CHECK_OK(es_producer_flush(p, NULL, NULL, &err), &err);
		es_producer_close(p);
	}
	CHECK_OK(es_partition_stat(t, 0, &pi, &err), &err);
	CHECK(pi.next_offset == 301 && pi.newest_ts == T0 + 299);

	/* Retention took the first segment: the first offset and the oldest
	 * timestamp move on, and a seek below them is clamped. */
	char path[4200];
	spath(path, t, 0, si[0].base, "log");
	CHECK(unlink(path) == 0);
	spath(path, t, 0, si[0].base, "index");
	CHECK(unlink(path) == 0);
	CHECK_OK(es_partition_stat(t, 0, &pi, &err), &err);
	CHECK(pi.first_offset == si[1].base);
	CHECK(pi.oldest_ts == T0 + (int64_t)si[1].base);
	CHECK(pi.segments == n - 1);
	es_reader *r = NULL;
	CHECK_OK(es_reader_open(t, 0, &r, &err), &err);
	if (r) {
		int clamped = 0;
		es_record rec;
		CHECK_OK(es_reader_seek(r, 0, &clamped, &err), &err);
		CHECK(clamped == 1);
		CHECK(es_reader_next(r, UINT64_MAX, &rec, &err) == 1 &&
		      rec.offset == si[1].base);
		CHECK_OK(es_reader_seek(r, si[1].base, &clamped, &err), &err);
		CHECK(clamped == 0);
		es_reader_close(r);
	}
	free(si);

	/* Partitions grow, and the new ones work at once. */
	es_config c = *es_topic_config(t);
	c.partitions = 4;
	CHECK_OK(es_topic_alter(t, &c, &err), &err);
	CHECK(es_topic_config(t)->partitions == 4);
	CHECK_OK(es_partition_stat(t, 3, &pi, &err), &err);
	CHECK(pi.next_offset == 0 && pi.segments == 1);
	p = NULL;
	CHECK_OK(es_producer_open(t, ES_SYNC_NONE, &p, &err), &err);
	if (p) {
		struct acks a = {0, 3, 0};
		CHECK_OK(es_producer_add(p, 3, "k", 1, "new", 3, NULL, 0, T0,
					 NULL, &err),
			 &err);
		CHECK_OK(es_producer_flush(p, on_ack, &a, &err), &err);
		CHECK(a.bad == 0 && a.next == 1);
		es_producer_close(p);
	}
	CHECK_OK(es_partition_end(t, 3, &end, &err), &err);
	CHECK(end == 1);

	/* ... and never shrink; nothing changes on a refusal. */
	c.partitions = 3;
	err.msg[0] = 0;
	CHECK(es_topic_alter(t, &c, &err) == ES_EUSAGE);
	CHECK(err.msg[0] != 0);
	CHECK(es_topic_config(t)->partitions == 4);
	es_topic *t2 = NULL;
	CHECK_OK(es_topic_open(es_topic_path(t), &t2, &err), &err);
	if (t2) {
		CHECK(es_topic_config(t2)->partitions == 4);
		CHECK(es_topic_config(t2)->segment_bytes == 4096);
		es_topic_close(t2);
	}
	es_topic_close(t);
}

/* ---- 10. configuration errors name line and column ------------------------- */

static void test_config_error_position(void)
{
	es_topic *t = mk("badcfg", 1, NULL, NULL);
	char path[4200], yaml[4300];
	snprintf(path, sizeof path, "%s", es_topic_path(t));
	es_topic_close(t);
	snprintf(yaml, sizeof yaml, "%s/topic.yaml", path);
	const char *text = "format: 1\npartitions: 1\nsegment_bytes: lots\n";
	spew(yaml, text, strlen(text));
	es_error err = {{0}};
	t = NULL;
	CHECK(es_topic_open(path, &t, &err) == ES_ECONFIG);
	CHECK(t == NULL);
	CHECK(strstr(err.msg, "topic.yaml:3:16:") != NULL);
	if (!strstr(err.msg, "topic.yaml:3:16:"))
		printf("# got '%s'\n", err.msg);

	/* A newer format is refused as such; no topic is ENOENT. */
	text = "format: 999\npartitions: 1\n";
	spew(yaml, text, strlen(text));
	CHECK(es_topic_open(path, &t, &err) == ES_EFORMAT);
	snprintf(yaml, sizeof yaml, "%s/nothing-here", root);
	CHECK(es_topic_open(yaml, &t, &err) == ENOENT);
}

int main(void)
{
	snprintf(root, sizeof root, "%s", check_tmpdir());
	RUN(test_record_round_trip);
	RUN(test_header_block_truncated);
	RUN(test_bit_flips);
	RUN(test_seek_offset);
	RUN(test_seek_time);
	RUN(test_seek_time_unordered);
	RUN(test_roll_by_size);
	RUN(test_roll_by_age);
	RUN(test_torn_tail_every_byte);
	RUN(test_torn_tail_with_index_entry);
	RUN(test_corrupt_closed_segment);
	RUN(test_corrupt_closed_length_field);
	RUN(test_corrupt_closed_last_record);
	RUN(test_corrupt_active_segment);
	RUN(test_corrupt_active_first_record);
	RUN(test_corrupt_published_last_record);
	RUN(test_index_damage_closed);
	RUN(test_index_damage_active);
	RUN(test_index_damage_pending);
	RUN(test_stat_end_alter);
	RUN(test_config_error_position);
	if (big)
		es_topic_close(big);
	return check_finish(root);
}
