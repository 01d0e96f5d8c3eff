/*
 * consistency.h — read-your-writes and monotonic-read state shared by
 * several connections (consistency_scope = user | client_addr | key).
 *
 * A process-wide table from scope key ("user:app", "addr:10.0.0.7",
 * "key:checkout") to the last write's position and time and the position
 * of the latest read, guarded by one mutex (entries are tiny; the lock is
 * held for a copy). Entries idle for longer than `ttl_ms` are dropped by
 * cstore_expire (the health thread calls it). With consistency_scope =
 * connection the same struct lives in the client instead.
 */
#ifndef SWITCHYARD_ROUTER_CONSISTENCY_H
#define SWITCHYARD_ROUTER_CONSISTENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "router/position.h"

struct consistency {
	int64_t last_write_ms;       /* 0: never wrote */
	struct position written;     /* position of the last write (POS_NONE: unknown) */
	struct position seen;        /* latest position read from (monotonic reads) */
	int sticky_node;             /* node index read from last, -1 none */
	int64_t touched_ms;
};

void consistency_init(struct consistency *s);
/* A write committed at position p (p may be POS_NONE: position unknown). */
void consistency_wrote(struct consistency *s, const struct position *p, int64_t now_ms);
/* A read was served by node `node` whose position was p. */
void consistency_read(struct consistency *s, int node, const struct position *p, int64_t now_ms);

struct cstore;
struct cstore *cstore_new(void);
void cstore_free(struct cstore *st);
/* Copy the entry for key into *out (initialised when absent). */
void cstore_get(struct cstore *st, const char *key, struct consistency *out);
/* Apply a write / a read to the entry for key (created when absent). */
void cstore_wrote(struct cstore *st, const char *key, const struct position *p, int64_t now_ms);
void cstore_read(struct cstore *st, const char *key, int node, const struct position *p, int64_t now_ms);
/* Drop entries not touched for ttl_ms; returns how many were dropped. */
size_t cstore_expire(struct cstore *st, int64_t now_ms, int64_t ttl_ms);
size_t cstore_size(struct cstore *st);

#endif
