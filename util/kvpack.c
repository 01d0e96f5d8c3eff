/* kvpack.c — string pairs packed in one block; see kvpack.h. */
#include "util/kvpack.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct kvpack {
	uint32_t len;                 /* bytes used in data */
	uint32_t refs;                /* lists, servers and the cache holding it */
	uint32_t hash;                /* of data (kvpack_share) */
	uint16_t n;                   /* pairs */
	char data[];                  /* key\0value\0 ... */
};

static bool key_eq(const char *a, const char *b, bool icase)
{
	return icase ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

bool kvpack_next(const struct kvpack *l, size_t *pos, const char **key, const char **value)
{
	if (!l || *pos >= l->len)
		return false;
	*key = l->data + *pos;
	*pos += strlen(*key) + 1;
	*value = l->data + *pos;
	*pos += strlen(*value) + 1;
	return true;
}

const char *kvpack_get(const struct kvpack *l, const char *key, bool icase)
{
	size_t pos = 0;
	const char *k, *v;
	while (kvpack_next(l, &pos, &k, &v))
		if (key_eq(k, key, icase))
			return v;
	return NULL;
}

int kvpack_count(const struct kvpack *l) { return l ? (int)l->n : 0; }

int kvpack_set(struct kvpack **lp, const char *key, const char *value, bool icase, int max_pairs)
{
	const struct kvpack *old = *lp;
	size_t kl = strlen(key) + 1, vl = strlen(value) + 1;
	/* The new block: the old pairs in order, the matching one replaced
	 * in place (or the new pair at the end). */
	size_t pos = 0, keep = 0;
	const char *k, *v;
	bool found = false;
	while (kvpack_next(old, &pos, &k, &v)) {
		if (!found && key_eq(k, key, icase))
			found = true;
		else
			keep += strlen(k) + strlen(v) + 2;
	}
	if (!found && kvpack_count(old) >= max_pairs)
		return -1;
	size_t total = keep + kl + vl;
	if (total > UINT32_MAX || kvpack_count(old) >= UINT16_MAX)
		return -1;
	struct kvpack *l = malloc(sizeof(*l) + total);
	if (!l)
		return -1;
	l->len = 0;
	l->n = 0;
	l->refs = 1;
	pos = 0;
	bool placed = false;
	while (kvpack_next(old, &pos, &k, &v)) {
		if (!placed && key_eq(k, key, icase)) {
			k = key; /* the caller's spelling of the name */
			v = value;
			placed = true;
		}
		size_t a = strlen(k) + 1, b = strlen(v) + 1;
		memcpy(l->data + l->len, k, a);
		memcpy(l->data + l->len + a, v, b);
		l->len += (uint32_t)(a + b);
		l->n++;
	}
	if (!placed) {
		memcpy(l->data + l->len, key, kl);
		memcpy(l->data + l->len + kl, value, vl);
		l->len += (uint32_t)(kl + vl);
		l->n++;
	}
	l->hash = 0;
	kvpack_free(*lp);
	*lp = l;
	return 0;
}

struct kvpack *kvpack_ref(struct kvpack *l)
{
	if (!l || l->refs == UINT32_MAX)
		return NULL;
	l->refs++;
	return l;
}

void kvpack_free(struct kvpack *l)
{
	if (l && --l->refs == 0)
		free(l);
}

/* FNV-1a over the pairs (never 0: 0 means "not computed"). */
static uint32_t block_hash(const struct kvpack *l)
{
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < l->len; i++) {
		h ^= (uint8_t)l->data[i];
		h *= 16777619u;
	}
	return h ? h : 1;
}

void kvpack_share(struct kvpack_cache *cache, struct kvpack **lp)
{
	struct kvpack *l = *lp;
	if (!l)
		return;
	if (!l->hash)
		l->hash = block_hash(l);
	size_t free_slot = KVPACK_CACHE_SLOTS;
	for (size_t i = 0; i < KVPACK_CACHE_SLOTS; i++) {
		struct kvpack *c = cache->slot[i];
		if (!c) {
			if (free_slot == KVPACK_CACHE_SLOTS)
				free_slot = i;
			continue;
		}
		if (c == l)
			return; /* shared already */
		if (c->hash == l->hash && c->len == l->len && c->refs < UINT32_MAX &&
		    memcmp(c->data, l->data, l->len) == 0) {
			c->refs++;
			kvpack_free(l);
			*lp = c;
			cache->shared++;
			return;
		}
	}
	if (free_slot < KVPACK_CACHE_SLOTS && l->refs < UINT32_MAX) {
		l->refs++;
		cache->slot[free_slot] = l;
		cache->added++;
	}
}

void kvpack_cache_trim(struct kvpack_cache *cache)
{
	for (size_t i = 0; i < KVPACK_CACHE_SLOTS; i++) {
		struct kvpack *c = cache->slot[i];
		if (c && c->refs == 1) {
			free(c);
			cache->slot[i] = NULL;
		}
	}
}

void kvpack_cache_clear(struct kvpack_cache *cache)
{
	for (size_t i = 0; i < KVPACK_CACHE_SLOTS; i++) {
		kvpack_free(cache->slot[i]);
		cache->slot[i] = NULL;
	}
}
