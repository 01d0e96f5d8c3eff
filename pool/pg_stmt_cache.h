/*
 * pg_stmt_cache.h — the prepared statements a server connection holds.
 *
 * In transaction pooling, clients' named statements are prepared on
 * servers under names derived from their text ("sy_…"); this set records
 * which names a server has, bounded by max_prepared_statements with
 * least-recently-used eviction (the caller sends the Close).
 */
#ifndef SWITCHYARD_PG_STMT_CACHE_H
#define SWITCHYARD_PG_STMT_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/list.h"
#include "util/strmap.h"

#define PG_STMT_NAME_MAX 32

struct pg_stmt_cache {
	struct strmap names;          /* name -> struct pg_stmt_cache_entry */
	struct list lru;              /* least recently used first */
	size_t count;
};

void pg_stmt_cache_init(struct pg_stmt_cache *sc);
void pg_stmt_cache_clear(struct pg_stmt_cache *sc);
/* True when present; marks it most recently used. */
bool pg_stmt_cache_touch(struct pg_stmt_cache *sc, const char *name);
/* Add (as most recently used); -1 on allocation failure. */
int pg_stmt_cache_add(struct pg_stmt_cache *sc, const char *name);
void pg_stmt_cache_remove(struct pg_stmt_cache *sc, const char *name);
/* The least recently used name (copied into out), false when empty. */
bool pg_stmt_cache_oldest(const struct pg_stmt_cache *sc, char out[PG_STMT_NAME_MAX]);

#endif
