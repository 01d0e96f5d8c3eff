/*
 * pg_relay.h — moving messages between a linked client and server.
 *
 * Forwarding is by whole-message framing without re-encoding: headers are
 * read, bodies are moved from one evbuffer to the other as they arrive
 * (a 1 GB DataRow never sits in memory whole). The relay looks inside
 * only what it must: Terminate from the client, ReadyForQuery and
 * ParameterStatus from the server. Backpressure: when the peer's output
 * holds PG_RELAY_HIGH bytes the source stops being read until it drains
 * below PG_RELAY_LOW.
 */
#ifndef SWITCHYARD_PG_RELAY_H
#define SWITCHYARD_PG_RELAY_H

#include "pool/pg_server.h"
#include "proxy/pg/pg_client.h"

#define PG_RELAY_HIGH (256 * 1024)
#define PG_RELAY_LOW (64 * 1024)

extern const struct server_link_ops pg_relay_link_ops;

/* Watermarks for a client or server bufferevent. */
void pg_relay_set_watermarks(struct bufferevent *bev);

/* A server was just linked: set the client's parameters on it (CL_SYNC),
 * then finish the login or continue the session (CL_ACTIVE). */
void pg_relay_start_sync(struct pg_client *c);

/* Is server s already in line with c's parameters (no SET needed)? */
bool pg_relay_in_step(const struct pg_client *c, const struct server *s);

/* Client bytes while CL_ACTIVE. */
void pg_relay_c2s(struct pg_client *c);
/* Client bytes while CL_IDLE (transaction pooling, no server linked). */
void pg_relay_idle_input(struct pg_client *c);
/* Pooled modes: give the server back if the client is at a transaction
 * boundary with nothing in flight and no pin. True when it was. */
bool pg_relay_maybe_detach(struct pg_client *c);

/* In CL_ACTIVE: write what the relay queued on both sides now. */
void pg_relay_flush(struct pg_client *c);

/* The client's output drained below the low watermark. */
void pg_relay_client_drained(struct pg_client *c);

#endif
