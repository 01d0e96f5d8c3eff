/*
 * pg_cancel.h — forwarding a CancelRequest to the server running the
 * client's query, over a new short-lived connection.
 *
 * The request arrives on any worker; the registry (cancel.h) names the
 * worker that owns the client and queues it there (WORKER_CMD_PG_CANCEL).
 * The owner sends the server's own cancel key to the server its client is
 * linked to, and only when a request of that client is in flight.
 */
#ifndef SWITCHYARD_PG_CANCEL_H
#define SWITCHYARD_PG_CANCEL_H

#include <stdint.h>

struct worker;

/* A CancelRequest for the proxy-issued (pid, key). Unknown keys are
 * ignored, as PostgreSQL ignores them. */
void pg_cancel_forward(struct worker *w, uint32_t pid, uint32_t key);

/* On the owning worker: run the cancels queued for it. */
void pg_cancel_run(struct worker *w);

#endif
