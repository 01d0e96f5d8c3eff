/*
 * strmap.h — a string-keyed hash map (chained, power-of-two buckets,
 * grows at load factor 1). Keys are copied; values are the caller's
 * pointers (the map never frees them).
 */
#ifndef SWITCHYARD_STRMAP_H
#define SWITCHYARD_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct strmap_entry;

struct strmap {
	struct strmap_entry **buckets;
	size_t n_buckets;
	size_t count;
};

void strmap_init(struct strmap *m);
/* Frees the map's own memory; call `free_value` on each value if given. */
void strmap_free(struct strmap *m, void (*free_value)(void *));
void *strmap_get(const struct strmap *m, const char *key);
/* Insert or replace; returns the old value (or NULL). *failed is set on
 * allocation failure (then nothing changed). */
void *strmap_put(struct strmap *m, const char *key, void *value, bool *failed);
/* Remove; returns the value (or NULL when absent). */
void *strmap_del(struct strmap *m, const char *key);
/* Call fn on each entry; fn must not change the map. */
void strmap_each(const struct strmap *m, void (*fn)(const char *key, void *value, void *arg),
		 void *arg);

#endif
