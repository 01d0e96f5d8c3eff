/*
 * pg_route.h — read/write routing for PostgreSQL sessions (see pg_route.c).
 */
#ifndef SWITCHYARD_PG_ROUTE_H
#define SWITCHYARD_PG_ROUTE_H

#include <stdbool.h>

#include "proxy/pg/pg_client.h"
#include "proxy/pg/pgc.h"
#include "util/buf.h"

/* After login: routing state for a cluster with replicas. 0, or -1 (out
 * of memory). */
int pg_route_init(struct pg_client *c);
void pg_route_free(struct pg_client *c);
bool pg_route_enabled(const struct pg_client *c);

/* Choose the node for the request at the head of the client's input and
 * point c->pool at it. 0: go on and acquire; 1: waiting for a replica to
 * catch up (the client retries by itself); -1: the client was closed. */
int pg_route_request(struct pg_client *c);

/* A Query that only sets switchyard.route / switchyard.key: consumed,
 * applied, and its CommandComplete appended to reply (the caller adds
 * ReadyForQuery). False when the head of the input is anything else. */
bool pg_route_intercept(struct pg_client *c, struct buf *reply);

/* The client's transaction ended (ReadyForQuery 'I', nothing in flight).
 * True when the proxy asked the server its WAL position first: the server
 * stays linked until pg_route_lsn_message() sees its ReadyForQuery. */
bool pg_route_txn_end(struct pg_client *c);
/* A server message answering that question (swallowed). */
void pg_route_lsn_message(struct pg_client *c, const struct pgc_msg *m);

#endif
