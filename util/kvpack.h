/*
 * kvpack.h — a small list of string pairs packed in one allocation.
 *
 * For the few parameters each client session keeps (the startup and SET
 * values it wants on every server, the values it has been told): one
 * block "key\0value\0key\0value\0..." instead of an array and two small
 * strings per pair, because these lists live as long as the session and
 * an idle session's memory is what a proxy with thousands of clients
 * spends. Lookups are linear (the lists hold a handful of pairs); a set
 * rebuilds the block. NULL is the empty list.
 *
 * Strings returned point into the block: valid until the next
 * kvpack_set() or kvpack_free() on that list.
 *
 * Blocks are immutable once built (a set builds a new one) and counted,
 * so sessions holding the same pairs — clients of one application see
 * the same parameters — can share one: kvpack_share() swaps a list for an
 * equal block from a small cache. The count is not atomic: a cache and
 * the lists sharing its blocks belong to one thread (a worker).
 */
#ifndef SWITCHYARD_KVPACK_H
#define SWITCHYARD_KVPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kvpack;

/* The value of `key` (compared ignoring ASCII case when `icase`), or NULL. */
const char *kvpack_get(const struct kvpack *l, const char *key, bool icase);
/* Set key to value (replacing the pair whose key matches, same case rule,
 * else appending). 0, or -1 when out of memory or when the list already
 * has `max_pairs` pairs (then nothing changed). */
int kvpack_set(struct kvpack **l, const char *key, const char *value, bool icase, int max_pairs)
	__attribute__((warn_unused_result));
/* Iterate: start with *pos = 0; true with the next pair, false at the end. */
bool kvpack_next(const struct kvpack *l, size_t *pos, const char **key, const char **value);
int kvpack_count(const struct kvpack *l);
/* Another reference to the block l (for a holder other than a list, such
 * as a server remembering what it was synced to); NULL when l is NULL or
 * its count is full (then no reference was taken). */
struct kvpack *kvpack_ref(struct kvpack *l);
/* Drop this list's reference (the block is freed with its last). */
void kvpack_free(struct kvpack *l);

/* A cache of shared blocks (a fixed, small table; zero it to start). */
#define KVPACK_CACHE_SLOTS 64
struct kvpack_cache {
	struct kvpack *slot[KVPACK_CACHE_SLOTS];
	uint64_t shared, added;           /* for the curious: hits, blocks cached */
};
/* Replace *l by an equal cached block (taking a reference to it), or
 * cache *l itself when there is room. */
void kvpack_share(struct kvpack_cache *cache, struct kvpack **l);
/* Drop the blocks nobody but the cache holds (call now and then). */
void kvpack_cache_trim(struct kvpack_cache *cache);
void kvpack_cache_clear(struct kvpack_cache *cache);

#endif
