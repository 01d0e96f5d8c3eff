/*
 * query_stats.h — per-statement statistics: calls, time, rows, errors by
 * normalized statement (query_norm.h) and target node.
 *
 * One table per worker, touched by that worker's thread only: no lock.
 * The worker's periodic stats publish (stats.c) copies the top
 * QS_PUBLISH_TOP entries by total time into its published snapshot; the
 * readers merge the entries of all workers with the same key.
 *
 * The table has QS_CAPACITY slots, open addressing by key with a probe
 * window of QS_PROBE slots. Eviction rule: a new statement whose window
 * is full replaces the entry with the fewest calls in that window (ties:
 * the least total time); `evicted` counts them. Slots are never emptied
 * otherwise, so a lookup stops at the first empty slot.
 *
 * A key is the hash of the normalized text combined with the target (node
 * address and whether it is the primary): the same statement on two nodes
 * is two entries.
 *
 * Per session the caller keeps one `struct qs_call` (the statement in
 * progress: its key, start time, rows and error so far); the text is
 * normalized once, when the statement starts.
 *
 * API for a protocol relay (PostgreSQL uses it; MySQL can):
 *   query_stats_begin(qs, &call, dialect, text, len, node, primary)
 *       at the start of a statement (text need not be NUL-terminated);
 *   call.rows += n; call.error = true;  as results come;
 *   query_stats_end(qs, &call)  when it is done (records and clears it).
 * query_stats_enter() / query_stats_start() split begin in two, for
 * statements prepared once and executed many times (the key is kept with
 * the prepared statement, or found again by query_stats_enter_cached()).
 */
#ifndef SWITCHYARD_QUERY_STATS_H
#define SWITCHYARD_QUERY_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/query_norm.h"

#define QS_CAPACITY 2048       /* slots per worker (a power of two) */
#define QS_PROBE 8             /* probe window */
#define QS_PUBLISH_TOP 500     /* entries published per worker, by total time */
#define QS_STMT_CACHE 1024     /* prepared statement id -> key, direct-mapped */
#define QS_NODE_MAX 128

/* One statement shape on one target. Also the published row. */
struct qs_entry {
	uint64_t key;          /* 0: empty slot */
	uint64_t calls;
	uint64_t total_us, max_us;
	uint64_t rows, errors;
	bool primary;
	char node[QS_NODE_MAX];
	char query[QN_MAX];
};

struct query_stats {
	struct qs_entry *slots;        /* QS_CAPACITY */
	struct {
		uint64_t id, key;
	} cache[QS_STMT_CACHE];
	uint64_t evicted;              /* entries replaced by new statements */
	uint64_t untracked;            /* calls not counted: entry evicted meanwhile, or pipelined */
	size_t used;                   /* slots in use */
};

/* A session's statement in progress. Zeroed: none. */
struct qs_call {
	uint64_t key;          /* 0: no statement in progress */
	int64_t start_us;
	uint64_t rows;
	uint32_t pending;      /* extended protocol: Executes of it in flight */
	bool error;
};

/* Allocate the table (zeroed pages: memory is used as slots fill).
 * 0, or -1 when out of memory. Built with -DSWITCHYARD_NO_QUERY_STATS
 * (for measuring the overhead) it allocates nothing and every other call
 * does nothing. */
int query_stats_init(struct query_stats *qs);
void query_stats_free(struct query_stats *qs);

/* Monotonic microseconds (vDSO clock_gettime). */
int64_t query_stats_now_us(void);

/* Normalize `text` and find or create its entry for the target. Returns
 * its key, 0 when qs is not initialized. */
uint64_t query_stats_enter(struct query_stats *qs, enum qn_dialect d, const char *text, size_t len,
			   const char *node, bool primary);
/* Same, for a statement known by a stable id (a hash of its text, e.g. a
 * prepared statement's server-side name): normalizes only when the id is
 * not in the small cache or its entry has been evicted. */
uint64_t query_stats_enter_cached(struct query_stats *qs, uint64_t id, enum qn_dialect d, const char *text,
				  size_t len, const char *node, bool primary);

/* Start timing `key` (0: nothing) in call. */
static inline void query_stats_start(struct qs_call *call, uint64_t key)
{
	call->key = key;
	call->start_us = key ? query_stats_now_us() : 0;
	call->rows = 0;
	call->pending = key ? 1 : 0;
	call->error = false;
}

/* query_stats_enter + query_stats_start. Returns the key. */
uint64_t query_stats_begin(struct query_stats *qs, struct qs_call *call, enum qn_dialect d, const char *text,
			   size_t len, const char *node, bool primary);

/* Record one call of call->key (time since its start, rows, error) and
 * clear `call`. Nothing when no statement is in progress. */
void query_stats_end(struct query_stats *qs, struct qs_call *call);
/* Record one call and keep the statement going (pipelined Executes of the
 * same statement): the next call's time starts now. */
void query_stats_end_one(struct query_stats *qs, struct qs_call *call);

/* Is statement `key` known to be quick: at least min_calls calls so far,
 * taking max_mean_us or less on average? (Server pipelining lets only
 * such statements queue behind one another on a connection.) */
bool query_stats_quick(const struct query_stats *qs, uint64_t key, uint64_t min_calls, uint64_t max_mean_us);
/* Rows of a PostgreSQL CommandComplete tag ("SELECT 5", "INSERT 0 3",
 * "UPDATE 7", "COPY 2", …); 0 for tags without a count. */
uint64_t query_stats_tag_rows(const char *tag, size_t len);

/* Copy at most `max` entries with calls, by total time descending, into
 * rows. Returns how many. */
size_t query_stats_top(const struct query_stats *qs, struct qs_entry *rows, size_t max);

/* Merge rows with equal keys (summing; max of max) and sort by total time
 * descending. Returns the new count. */
size_t query_stats_merge(struct qs_entry *rows, size_t n);

#endif
