/* units.c - sizes, durations and TIME arguments: parsing and formatting */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "es.h"

struct unit {
	const char *name;
	uint64_t mult;
};

/* K, M and G are the binary units too: nobody sizing a segment means 10^6. */
static const struct unit size_units[] = {
	{ "", 1 },		{ "B", 1 },
	{ "K", 1ULL << 10 },	{ "KiB", 1ULL << 10 },
	{ "M", 1ULL << 20 },	{ "MiB", 1ULL << 20 },
	{ "G", 1ULL << 30 },	{ "GiB", 1ULL << 30 },
};

static const struct unit duration_units[] = {
	{ "ms", 1 },	       { "s", 1000 },	       { "m", 60000 },
	{ "h", 3600000 },      { "d", 86400000 },     { "w", 604800000 },
};

/* Leading decimal digits of *s into *v; moves *s past them. Refuses no
 * digits and overflow, so "99999999999999999999" is an error, not a wrap. */
static int digits(const char **s, uint64_t *v)
{
	const char *p = *s;
	uint64_t n = 0;

	if (*p < '0' || *p > '9')
		return ES_EUSAGE;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return ES_EUSAGE;
		n = n * 10 + d;
	}
	*s = p;
	*v = n;
	return 0;
}

static const struct unit *find_unit(const struct unit *u, size_t n,
				    const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(u[i].name, name) == 0)
			return &u[i];
	return NULL;
}

int es_parse_size(const char *s, uint64_t *out)
{
	uint64_t n;
	const struct unit *u;

	if (!s || digits(&s, &n))
		return ES_EUSAGE;
	u = find_unit(size_units, sizeof size_units / sizeof *size_units, s);
	if (!u || n > UINT64_MAX / u->mult)
		return ES_EUSAGE;
	*out = n * u->mult;
	return 0;
}

int es_parse_duration(const char *s, int64_t *ms)
{
	uint64_t n;
	const struct unit *u;

	if (!s || digits(&s, &n))
		return ES_EUSAGE;
	/* A bare number is ambiguous (seconds? ms?) except for zero. */
	if (*s == '\0') {
		if (n != 0)
			return ES_EUSAGE;
		*ms = 0;
		return 0;
	}
	u = find_unit(duration_units,
		      sizeof duration_units / sizeof *duration_units, s);
	if (!u || n > (uint64_t)INT64_MAX / u->mult)
		return ES_EUSAGE;
	*ms = (int64_t)(n * u->mult);
	return 0;
}

void es_format_size(uint64_t v, char *buf, size_t cap)
{
	static const struct unit big[] = {
		{ "GiB", 1ULL << 30 }, { "MiB", 1ULL << 20 },
		{ "KiB", 1ULL << 10 },
	};

	if (v == 0) {
		snprintf(buf, cap, "0");
		return;
	}
	for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
		if (v % big[i].mult == 0) {
			snprintf(buf, cap, "%llu%s",
				 (unsigned long long)(v / big[i].mult),
				 big[i].name);
			return;
		}
	}
	snprintf(buf, cap, "%lluB", (unsigned long long)v);
}

void es_format_duration(int64_t ms, char *buf, size_t cap)
{
	/* No weeks: "7d" reads better than "1w" and is what people write. */
	static const struct unit big[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 },
	};

	if (ms == 0) {
		snprintf(buf, cap, "0");
		return;
	}
	if (ms > 0) {
		for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
			if ((uint64_t)ms % big[i].mult == 0) {
				snprintf(buf, cap, "%lld%s",
					 (long long)(ms / (int64_t)big[i].mult),
					 big[i].name);
				return;
			}
		}
	}
	snprintf(buf, cap, "%lldms", (long long)ms);
}

/* Exactly n digits into *v (n <= 4), as the fixed-width fields of a date. */
static int fixed(const char **s, int n, int *v)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		char c = (*s)[i];
		if (c < '0' || c > '9')
			return ES_EUSAGE;
		x = x * 10 + (c - '0');
	}
	*s += n;
	*v = x;
	return 0;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* YYYY-MM-DD[(T| )HH:MM[:SS[.frac]][Z|±HH:MM]]: with a zone it is an
 * RFC 3339 instant, without one it is local time, as date(1) reads it. */
static int parse_date(const char *s, int64_t *ms)
{
	int year, mon, day, hour = 0, min = 0, sec = 0, frac = 0;
	int zone = 0, offset_min = 0;
	struct tm tm;
	time_t t;

	if (fixed(&s, 4, &year) || *s++ != '-' || fixed(&s, 2, &mon) ||
	    *s++ != '-' || fixed(&s, 2, &day))
		return ES_EUSAGE;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon))
		return ES_EUSAGE;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		if (fixed(&s, 2, &hour) || *s++ != ':' || fixed(&s, 2, &min))
			return ES_EUSAGE;
		if (*s == ':') {
			s++;
			if (fixed(&s, 2, &sec))
				return ES_EUSAGE;
			if (*s == '.') {
				int n = 0;
				s++;
				if (*s < '0' || *s > '9')
					return ES_EUSAGE;
				/* Keep milliseconds; finer digits truncate. */
				for (; *s >= '0' && *s <= '9'; s++, n++)
					if (n < 3)
						frac = frac * 10 + (*s - '0');
				for (; n < 3; n++)
					frac *= 10;
			}
		}
		if (hour > 23 || min > 59 || sec > 59)
			return ES_EUSAGE;
		if (*s == 'Z' || *s == 'z') {
			s++;
			zone = 1;
		} else if (*s == '+' || *s == '-') {
			int sign = *s++ == '-' ? -1 : 1, oh, om;
			if (fixed(&s, 2, &oh) || *s++ != ':' ||
			    fixed(&s, 2, &om) || oh > 23 || om > 59)
				return ES_EUSAGE;
			zone = 1;
			offset_min = sign * (oh * 60 + om);
		}
	}
	if (*s != '\0')
		return ES_EUSAGE;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	if (zone) {
		t = timegm(&tm);
		t -= (time_t)offset_min * 60;
	} else {
		tm.tm_isdst = -1; /* let the zone rules decide, as date(1) */
		errno = 0;
		t = mktime(&tm);
		/* -1 is also one second before the epoch; errno tells. */
		if (t == (time_t)-1 && errno != 0)
			return ES_EUSAGE;
	}
	*ms = (int64_t)t * 1000 + frac;
	return 0;
}

int es_parse_time(const char *s, int64_t now_ms, int64_t *ms)
{
	if (!s)
		return ES_EUSAGE;
	if (s[0] == '@') {
		const char *p = s + 1;
		int neg = *p == '-';
		uint64_t n;
		p += neg;
		if (digits(&p, &n) || *p != '\0' || n > (uint64_t)INT64_MAX)
			return ES_EUSAGE;
		*ms = neg ? -(int64_t)n : (int64_t)n;
		return 0;
	}
	if (s[0] == '-') {
		int64_t d;
		if (es_parse_duration(s + 1, &d))
			return ES_EUSAGE;
		if (now_ms < INT64_MIN + d)
			return ES_EUSAGE;
		*ms = now_ms - d;
		return 0;
	}
	return parse_date(s, ms);
}
