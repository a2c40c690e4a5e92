/* cli.h - what every command shares: messages, exit statuses, signals,
 * checked output, topic paths. */
#ifndef CLI_H
#define CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "es.h"

/* sysexits, SPEC section 3 */
enum {
	EX_FAIL = 1, EX_USAGE_ = 64, EX_DATAERR_ = 65, EX_NOINPUT_ = 66,
	EX_CANTCREAT_ = 73, EX_IOERR_ = 74, EX_TEMPFAIL_ = 75, EX_CONFIG_ = 78,
};

extern const char *cli_name;
/* Appended to the "no topic" message, e.g. ", or use --create". */
extern const char *cli_create_hint;
extern volatile sig_atomic_t cli_signal; /* SIGINT or SIGTERM once caught */

void cli_init(const char *name);
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void cli_die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
_Noreturn void cli_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* The exit status for a library error code. */
int cli_status(int rc);
/* Catch SIGINT/SIGTERM into cli_signal (no SA_RESTART: blocking calls
 * return EINTR); ignore SIGXFSZ so that EFBIG is seen. */
void cli_signals(void);
/* After clean-up: die by the caught signal, as filters do. */
_Noreturn void cli_exit(int status);
_Noreturn void cli_version(void);

/* TOPIC: relative paths resolve against $ES_DIR when it is set. */
const char *cli_topic_path(const char *arg);
/* Open a topic or die with the right status (66, 78, ...). */
es_topic *cli_open_topic(const char *arg);

int cli_parse_u64(const char *s, uint64_t *out);
/* "0,3,5" or "1-3" into a bitmap of n partitions; 0 or -1 on error. */
int cli_parse_partitions(const char *s, uint32_t n, unsigned char *set);

/* Every topic below root, in name order (a topic is not searched for more
 * topics): fn gets its path relative to root and the path to open. */
void cli_find_topics(const char *root,
		     void (*fn)(void *arg, const char *rel, const char *path),
		     void *arg);

/* Clocks in ms: the wall clock (record times) and a monotonic one
 * (timeouts). */
int64_t cli_wall_ms(void);
int64_t cli_mono_ms(void);
/* A TIME argument (SPEC section 1), relative to now; 0 or -1. */
int cli_parse_time(const char *s, int64_t *ms);
/* ms since the epoch as ISO 8601 UTC with milliseconds; "-" if negative. */
void cli_iso_time(int64_t ms, char *buf, size_t cap);

/* Buffered, checked stdout. */
void out_write(const void *p, size_t n);
void out_str(const char *s);
void out_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The first write error so far, or 0. */
int out_error(void);
/* Flush; returns 0 or an errno (EPIPE included). */
int out_flush(void);
/* Flush and close stdout at exit; a failed write is an error (74). */
void out_finish(void);

#endif
