/* strmap.c — string-keyed hash map; see strmap.h. */
#include "util/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strmap_entry {
	struct strmap_entry *next;
	uint64_t hash;
	void *value;
	char key[];
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

void strmap_init(struct strmap *m)
{
	m->buckets = NULL;
	m->n_buckets = 0;
	m->count = 0;
}

void strmap_free(struct strmap *m, void (*free_value)(void *))
{
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct strmap_entry *e = m->buckets[i];
		while (e) {
			struct strmap_entry *n = e->next;
			if (free_value)
				free_value(e->value);
			free(e);
			e = n;
		}
	}
	free(m->buckets);
	strmap_init(m);
}

static struct strmap_entry **slot(const struct strmap *m, const char *key, uint64_t h)
{
	struct strmap_entry **p = &m->buckets[h & (m->n_buckets - 1)];
	while (*p && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
		p = &(*p)->next;
	return p;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	if (!m->n_buckets)
		return NULL;
	struct strmap_entry **p = slot(m, key, hash_str(key));
	return *p ? (*p)->value : NULL;
}

static bool grow(struct strmap *m)
{
	size_t nb = m->n_buckets ? m->n_buckets * 2 : 16;
	struct strmap_entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return false;
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct strmap_entry *e = m->buckets[i];
		while (e) {
			struct strmap_entry *n = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
			e = n;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = nb;
	return true;
}

void *strmap_put(struct strmap *m, const char *key, void *value, bool *failed)
{
	*failed = false;
	if (m->count >= m->n_buckets && !grow(m) && m->n_buckets == 0) {
		*failed = true;
		return NULL;
	}
	uint64_t h = hash_str(key);
	struct strmap_entry **p = slot(m, key, h);
	if (*p) {
		void *old = (*p)->value;
		(*p)->value = value;
		return old;
	}
	size_t kl = strlen(key);
	struct strmap_entry *e = malloc(sizeof(*e) + kl + 1);
	if (!e) {
		*failed = true;
		return NULL;
	}
	e->next = NULL;
	e->hash = h;
	e->value = value;
	memcpy(e->key, key, kl + 1);
	*p = e;
	m->count++;
	return NULL;
}

void *strmap_del(struct strmap *m, const char *key)
{
	if (!m->n_buckets)
		return NULL;
	struct strmap_entry **p = slot(m, key, hash_str(key));
	if (!*p)
		return NULL;
	struct strmap_entry *e = *p;
	void *v = e->value;
	*p = e->next;
	free(e);
	m->count--;
	return v;
}

void strmap_each(const struct strmap *m, void (*fn)(const char *key, void *value, void *arg),
		 void *arg)
{
	for (size_t i = 0; i < m->n_buckets; i++)
		for (struct strmap_entry *e = m->buckets[i]; e; e = e->next)
			fn(e->key, e->value, arg);
}
