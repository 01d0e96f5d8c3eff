/*
 * consistency.c — a client's read-your-writes / monotonic-read state, and
 * the process-wide table of it for consistency_scope = user, client_addr
 * or key.
 *
 * The table is a util/strmap (not thread-safe by itself) behind one
 * mutex; entries are small structs copied in and out under the lock, so
 * no pointer into the table ever leaves it. Keys are copied.
 */
#include "router/consistency.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/strmap.h"

void consistency_init(struct consistency *s)
{
	memset(s, 0, sizeof(*s));
	s->written.kind = POS_NONE;
	s->seen.kind = POS_NONE;
	s->sticky_node = -1;
}

void consistency_wrote(struct consistency *s, const struct position *p, int64_t now_ms)
{
	s->last_write_ms = now_ms;
	s->touched_ms = now_ms;
	if (!p || p->kind == POS_NONE) {
		/* The earlier position says nothing about this write: unknown,
		 * so the caller falls back to the time window. */
		memset(&s->written, 0, sizeof(s->written));
		s->written.kind = POS_NONE;
		return;
	}
	/* A GTID write adds to what the client wrote before (another domain's
	 * earlier write must still be seen); an LSN just moves forward. */
	pos_merge(&s->written, p);
}

void consistency_read(struct consistency *s, int node, const struct position *p, int64_t now_ms)
{
	s->sticky_node = node;
	s->touched_ms = now_ms;
	if (p && p->kind != POS_NONE)
		pos_merge(&s->seen, p);
}

/* ---- the shared table ---- */

struct cstore {
	pthread_mutex_t lock;
	struct strmap map; /* key -> struct consistency * */
};

struct cstore *cstore_new(void)
{
	struct cstore *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	if (pthread_mutex_init(&st->lock, NULL) != 0) {
		free(st);
		return NULL;
	}
	strmap_init(&st->map);
	return st;
}

void cstore_free(struct cstore *st)
{
	if (!st)
		return;
	strmap_free(&st->map, free);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

void cstore_get(struct cstore *st, const char *key, struct consistency *out)
{
	pthread_mutex_lock(&st->lock);
	const struct consistency *e = strmap_get(&st->map, key);
	if (e)
		*out = *e;
	else
		consistency_init(out);
	pthread_mutex_unlock(&st->lock);
}

/* The entry for key, created when absent; NULL when out of memory (then
 * the update is lost, which only weakens consistency to "unknown"). Call
 * with the lock held. */
static struct consistency *entry(struct cstore *st, const char *key)
{
	struct consistency *e = strmap_get(&st->map, key);
	if (e)
		return e;
	e = malloc(sizeof(*e));
	if (!e)
		return NULL;
	consistency_init(e);
	bool failed = false;
	strmap_put(&st->map, key, e, &failed);
	if (failed) {
		free(e);
		return NULL;
	}
	return e;
}

void cstore_wrote(struct cstore *st, const char *key, const struct position *p, int64_t now_ms)
{
	pthread_mutex_lock(&st->lock);
	struct consistency *e = entry(st, key);
	if (e)
		consistency_wrote(e, p, now_ms);
	pthread_mutex_unlock(&st->lock);
}

void cstore_read(struct cstore *st, const char *key, int node, const struct position *p, int64_t now_ms)
{
	pthread_mutex_lock(&st->lock);
	struct consistency *e = entry(st, key);
	if (e)
		consistency_read(e, node, p, now_ms);
	pthread_mutex_unlock(&st->lock);
}

struct expire_walk {
	int64_t cutoff;
	char **keys; /* keys of the stale entries (copies) */
	size_t n, cap;
	bool failed;
};

static void collect_stale(const char *key, void *value, void *arg)
{
	struct expire_walk *w = arg;
	const struct consistency *e = value;
	if (e->touched_ms >= w->cutoff || w->failed)
		return;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		char **k = realloc(w->keys, cap * sizeof(*k));
		if (!k) {
			w->failed = true;
			return;
		}
		w->keys = k;
		w->cap = cap;
	}
	char *copy = strdup(key);
	if (!copy) {
		w->failed = true;
		return;
	}
	w->keys[w->n++] = copy;
}

size_t cstore_expire(struct cstore *st, int64_t now_ms, int64_t ttl_ms)
{
	struct expire_walk w = { .cutoff = now_ms - ttl_ms };
	size_t dropped = 0;
	pthread_mutex_lock(&st->lock);
	/* strmap_each must not change the map: collect, then delete. On an
	 * allocation failure the rest waits for the next call. */
	strmap_each(&st->map, collect_stale, &w);
	for (size_t i = 0; i < w.n; i++) {
		free(strmap_del(&st->map, w.keys[i]));
		free(w.keys[i]);
		dropped++;
	}
	pthread_mutex_unlock(&st->lock);
	free(w.keys);
	return dropped;
}

size_t cstore_size(struct cstore *st)
{
	pthread_mutex_lock(&st->lock);
	size_t n = st->map.count;
	pthread_mutex_unlock(&st->lock);
	return n;
}
