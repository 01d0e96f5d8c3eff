/* cancel.c — the cancel-key registry: a mutex-guarded hash keyed by pid,
 * and the queue of cancel requests for the owning workers (cancel.h). */
#include "proxy/cancel.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

struct cancel_entry {
	struct cancel_entry *next;
	uint32_t pid, key;
	int worker;
};

void cancel_registry_init(struct cancel_registry *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	/* Start away from 0 and from the server pids clients might confuse
	 * it with in logs. */
	r->next_pid = 1000000;
}

void cancel_registry_destroy(struct cancel_registry *r)
{
	for (size_t i = 0; i < CANCEL_BUCKETS; i++) {
		struct cancel_entry *e = r->buckets[i];
		while (e) {
			struct cancel_entry *n = e->next;
			free(e);
			e = n;
		}
		r->buckets[i] = NULL;
	}
	pthread_mutex_destroy(&r->lock);
}

static struct cancel_entry **bucket_of(struct cancel_registry *r, uint32_t pid)
{
	return &r->buckets[pid % CANCEL_BUCKETS];
}

/* Caller holds the lock. */
static struct cancel_entry *find_locked(struct cancel_registry *r, uint32_t pid)
{
	for (struct cancel_entry *e = *bucket_of(r, pid); e; e = e->next)
		if (e->pid == pid)
			return e;
	return NULL;
}

int cancel_register(struct cancel_registry *r, int worker, uint32_t *pid, uint32_t *key)
{
	struct cancel_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	if (RAND_bytes((unsigned char *)&e->key, sizeof(e->key)) != 1) {
		free(e);
		return -1;
	}
	e->worker = worker;
	pthread_mutex_lock(&r->lock);
	do {
		e->pid = r->next_pid++;
		if (r->next_pid > 0x7fffffff)
			r->next_pid = 1000000;
	} while (find_locked(r, e->pid));
	struct cancel_entry **b = bucket_of(r, e->pid);
	e->next = *b;
	*b = e;
	pthread_mutex_unlock(&r->lock);
	*pid = e->pid;
	*key = e->key;
	return 0;
}

void cancel_unregister(struct cancel_registry *r, uint32_t pid)
{
	pthread_mutex_lock(&r->lock);
	for (struct cancel_entry **p = bucket_of(r, pid); *p; p = &(*p)->next) {
		if ((*p)->pid == pid) {
			struct cancel_entry *e = *p;
			*p = e->next;
			free(e);
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

int cancel_request(struct cancel_registry *r, uint32_t pid, uint32_t key)
{
	int worker = -1;
	pthread_mutex_lock(&r->lock);
	struct cancel_entry *e = find_locked(r, pid);
	if (e && CRYPTO_memcmp(&e->key, &key, sizeof(key)) == 0) {
		if (r->n_pending < CANCEL_MAX_PENDING) {
			r->pending[r->n_pending].pid = pid;
			r->pending[r->n_pending].worker = e->worker;
			r->n_pending++;
			worker = e->worker;
		} else {
			worker = -2;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return worker;
}

int cancel_take(struct cancel_registry *r, int worker, uint32_t *pids, int max)
{
	int n = 0, keep = 0;
	pthread_mutex_lock(&r->lock);
	for (int i = 0; i < r->n_pending; i++) {
		if (r->pending[i].worker == worker && n < max)
			pids[n++] = r->pending[i].pid;
		else
			r->pending[keep++] = r->pending[i];
	}
	r->n_pending = keep;
	pthread_mutex_unlock(&r->lock);
	return n;
}
