/*
 * cancel.h — the shared registry of proxy-issued cancel keys.
 *
 * Every PostgreSQL client gets a BackendKeyData (pid, key) issued by the
 * proxy. A CancelRequest arrives on a new connection, on any worker; the
 * registry says which worker owns the client, and queues the pid for it.
 * The owning worker then looks at its own client: only it knows whether a
 * query is running and on which server (pg_cancel.h). So the registry is
 * touched at login, at logout and for a cancel — never per transaction —
 * and an entry is small (an idle client costs 32 bytes here).
 */
#ifndef SWITCHYARD_CANCEL_H
#define SWITCHYARD_CANCEL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct cancel_entry;

#define CANCEL_BUCKETS 4096
#define CANCEL_MAX_PENDING 64

struct cancel_registry {
	pthread_mutex_t lock;
	uint32_t next_pid;
	struct cancel_entry *buckets[CANCEL_BUCKETS];
	/* Requests not yet taken by their worker. */
	struct { uint32_t pid; int worker; } pending[CANCEL_MAX_PENDING];
	int n_pending;
};

void cancel_registry_init(struct cancel_registry *r);
void cancel_registry_destroy(struct cancel_registry *r);
/* Issue a new (pid, key) pair for a client of `worker`; -1 on allocation
 * failure. */
int cancel_register(struct cancel_registry *r, int worker, uint32_t *pid, uint32_t *key);
void cancel_unregister(struct cancel_registry *r, uint32_t pid);
/* A CancelRequest for (pid, key): when the pair is known, queue pid for
 * its worker and return that worker's id; -1 when unknown (or the key is
 * wrong), -2 when too many requests are already queued. */
int cancel_request(struct cancel_registry *r, uint32_t pid, uint32_t key);
/* Take up to `max` pids queued for `worker`; returns how many. */
int cancel_take(struct cancel_registry *r, int worker, uint32_t *pids, int max);

#endif
