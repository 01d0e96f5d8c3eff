/* pg_stmt_cache.c — per-server prepared statement set with LRU order. */
#include "pool/pg_stmt_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pg_stmt_cache_entry {
	struct list node;
	char name[PG_STMT_NAME_MAX];
};

void pg_stmt_cache_init(struct pg_stmt_cache *sc)
{
	strmap_init(&sc->names);
	list_init(&sc->lru);
	sc->count = 0;
}

void pg_stmt_cache_clear(struct pg_stmt_cache *sc)
{
	strmap_free(&sc->names, free);
	list_init(&sc->lru);
	sc->count = 0;
}

bool pg_stmt_cache_touch(struct pg_stmt_cache *sc, const char *name)
{
	struct pg_stmt_cache_entry *e = strmap_get(&sc->names, name);
	if (!e)
		return false;
	list_del(&e->node);
	list_add_tail(&sc->lru, &e->node);
	return true;
}

int pg_stmt_cache_add(struct pg_stmt_cache *sc, const char *name)
{
	if (pg_stmt_cache_touch(sc, name))
		return 0;
	struct pg_stmt_cache_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	snprintf(e->name, sizeof(e->name), "%s", name);
	bool failed;
	strmap_put(&sc->names, e->name, e, &failed);
	if (failed) {
		free(e);
		return -1;
	}
	list_add_tail(&sc->lru, &e->node);
	sc->count++;
	return 0;
}

void pg_stmt_cache_remove(struct pg_stmt_cache *sc, const char *name)
{
	struct pg_stmt_cache_entry *e = strmap_del(&sc->names, name);
	if (!e)
		return;
	list_del(&e->node);
	free(e);
	sc->count--;
}

bool pg_stmt_cache_oldest(const struct pg_stmt_cache *sc, char out[PG_STMT_NAME_MAX])
{
	struct list *n = list_first(&sc->lru);
	if (!n)
		return false;
	snprintf(out, PG_STMT_NAME_MAX, "%s", container_of(n, struct pg_stmt_cache_entry, node)->name);
	return true;
}
