/*
 * pg_cancel.h — forwarding a CancelRequest to the server running the
 * client's query, over a new short-lived connection.
 */
#ifndef SWITCHYARD_PG_CANCEL_H
#define SWITCHYARD_PG_CANCEL_H

#include <stdint.h>

struct worker;

/* Look up the proxy-issued (pid, key) and, if that client has a query on
 * a server, send the server's own cancel key to it. Unknown keys and
 * clients without a server are ignored, as PostgreSQL ignores them. */
void pg_cancel_forward(struct worker *w, uint32_t pid, uint32_t key);

#endif
