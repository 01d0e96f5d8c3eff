/*
 * cancel.h — the shared registry of proxy-issued cancel keys.
 *
 * Every PostgreSQL client gets a BackendKeyData (pid, key) issued by the
 * proxy. A CancelRequest can arrive on any worker, so the mapping from
 * that pair to the server currently running the client's query lives
 * here, under its own mutex. The owning worker sets and clears the
 * target; any worker may look it up and send the cancel itself (a copy of
 * the target is returned, so no worker touches another's objects).
 */
#ifndef SWITCHYARD_CANCEL_H
#define SWITCHYARD_CANCEL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"

struct cancel_target {
	struct cfg_addr addr;         /* the server's address */
	uint32_t pid, key;            /* the server's own BackendKeyData */
};

struct cancel_entry;

#define CANCEL_BUCKETS 4096

struct cancel_registry {
	pthread_mutex_t lock;
	uint32_t next_pid;
	struct cancel_entry *buckets[CANCEL_BUCKETS];
};

void cancel_registry_init(struct cancel_registry *r);
void cancel_registry_destroy(struct cancel_registry *r);
/* Issue a new (pid, key) pair; returns -1 on allocation failure. */
int cancel_register(struct cancel_registry *r, uint32_t *pid, uint32_t *key);
/* Set (t != NULL) or clear (t == NULL) the server a client's query runs on. */
void cancel_set_target(struct cancel_registry *r, uint32_t pid, const struct cancel_target *t);
void cancel_unregister(struct cancel_registry *r, uint32_t pid);
/* True, with *out filled, when (pid, key) is known and has a target. */
bool cancel_lookup(struct cancel_registry *r, uint32_t pid, uint32_t key, struct cancel_target *out);

#endif
