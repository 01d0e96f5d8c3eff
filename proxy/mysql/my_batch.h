/*
 * my_batch.h — server pipelining for MySQL/MariaDB (pipeline_depth):
 * several clients' single-statement reads queued on one server
 * connection, answered in order.
 *
 * The same rules as the PostgreSQL side (proxy/pg/pg_batch.h): only a
 * COM_QUERY read whole, holding one read statement (router
 * classification; nothing the scan tracks, pins or rewrites: no USE, SET,
 * CONNECTION_ID(), LAST_INSERT_ID(), KILL, LOCAL INFILE), from a client in
 * step with the server (schema, multi-statements option, tracked
 * variables: no hidden command needed), of a shape known to be quick,
 * behind such statements only, once the pool is at its size. The server
 * processes commands in order; at the end of each answer it passes to
 * the next client of the batch (my_batch_pass_on from maybe_release).
 *
 * A queued client sends nothing more until its turn (MY_CL_RIDING); the
 * linked client finishes its answer first (one command at a time). A
 * KILL QUERY of a queued client, or of the linked client before any of
 * its answer came while others are queued, is answered by the proxy (ERR
 * 1317) and the answer dropped; a KILL QUERY to the server thread could
 * stop the next client's statement. A client that leaves: the rest of
 * its answer is read and dropped, or, with nobody else waiting, the
 * server is closed and its statement killed. A failed server fails every
 * queued client. The linked client's server goes on to the next client
 * even if its answer had warnings (a later SHOW WARNINGS then reads
 * another session's).
 */
#ifndef SWITCHYARD_MY_BATCH_H
#define SWITCHYARD_MY_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "pool/pool.h"
#include "proxy/mysql/my_sql.h"

struct my_client;
struct server;

/* May a COM_QUERY with this text (scanned into sc) go in a batch? */
bool my_batch_text_ok(const struct my_client *c, const char *text, size_t len, const struct my_sql_scan *sc);

/* c just sent its command to c->server: take waiting clients along. */
void my_batch_fill(struct my_client *c);

/* c is about to wait for a server of a pool at its size with none idle:
 * queue its command on the busy server with the shortest batch that
 * accepts it. True when it did. */
bool my_batch_ride_busy(struct my_client *c);

/* The pool_waiter ride callback of a MySQL client. */
bool my_batch_ride(struct pool_waiter *w, struct server *s);

/* The linked client is done with s: the next client of the batch gets
 * it, or the pool after the last. */
void my_batch_pass_on(struct server *s);

/* Is c queued, or linked with others queued behind it? */
bool my_batch_involved(const struct my_client *c);

/* c is closing while involved in a batch: the batch takes its part over
 * (true; c->server cleared), else false. */
bool my_batch_client_gone(struct my_client *c);

/* KILL QUERY of c: true when the batch answered it (see above). */
bool my_batch_kill(struct my_client *c);

/* s failed or broke the batch's rules: every queued client is closed
 * with `why`; the caller deals with the linked client and s. */
void my_batch_fail(struct server *s, const char *why);

#endif
