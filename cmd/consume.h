/* consume.h - what es-consume's files share: options, per-partition state,
 * record formatting, the --exec runner. */
#ifndef CONSUME_H
#define CONSUME_H

#include <stdint.h>

#include "cli.h"

enum { FMT_PLAIN, FMT_KEY, FMT_FORMAT, FMT_JSON };

struct consume_opts {
	const char *topic; /* as given, for %t, -J and messages */
	int fmt;
	char term;
	const char *kdelim, *format;
	int follow, skip_corrupt;
	uint64_t max;
	int64_t idle_ms, timeout_ms;
	const char *group;
	int reset_latest;
	/* --exec */
	const char *exec;
	uint32_t batch, retries, jobs;
	int64_t backoff_ms;
	const char *dead_letter;
};

extern struct consume_opts o;

/* One partition being read. */
struct part {
	uint32_t id;
	es_reader *r;
	uint64_t limit;	    /* end offset seen at start (without -f) */
	int active, done;
	uint64_t emitted;   /* offset after the last record formatted */
	uint64_t committed; /* offset last committed (groups) */
	int64_t commit_ms;  /* when */
};

/* Append one record in the chosen output format. */
void format_record(es_buf *b, uint32_t part, const es_record *r);

/* Run --exec over the owned partitions until done, timeout or a signal.
 * Returns the exit status. */
int exec_run(es_topic *t, es_group *g, struct part *parts, uint32_t np,
	     es_watch *watch);

/* Open a reader for partition p of a group at its committed offset (or
 * --reset), or die. */
void group_open_part(es_topic *t, es_group *g, struct part *pp);
/* Rebalance; open newly acquired partitions; release those to give away
 * after commit_fn. Returns 1 if anything changed. */
int group_rebalance(es_topic *t, es_group *g, struct part *parts,
		    int release, int greedy,
		    void (*commit_fn)(es_group *, struct part *));


#endif
