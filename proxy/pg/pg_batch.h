/*
 * pg_batch.h — server pipelining: several clients' autocommit reads
 * queued on one server connection (pipeline_depth > 1).
 *
 * When every server of a pool is busy and clients wait, the client that
 * gets the next server may take others along: the waiting clients whose
 * request is one simple Query of one read statement (SELECT …, as the
 * router classifies it, nothing that pins, no transaction control), or
 * the extended protocol's [Parse of the unnamed statement] Bind
 * [Describe] Execute Sync of one such statement, are sent in the same
 * write, behind it. A named statement must be prepared on that server
 * already: nothing is prepared (nor evicted) on a server while others'
 * statements are queued on it. The server answers them in order;
 * at each ReadyForQuery 'I' the server passes to the next client of the
 * batch (pg_batch_pass_on), and back to the pool after the last. One
 * write and one wake-up of the backend then serve several transactions,
 * which is where a proxy's CPU goes on loopback (docs/performance.md).
 *
 * Rules that keep each client's session exact:
 *  - a client waiting its turn (CL_RIDING) sends nothing more, nor does
 *    the linked client while others are queued behind it: its next
 *    request waits for its ReadyForQuery and then for a server;
 *  - only clients in step with the server's parameters (the same shared
 *    lists as the first client, pg_relay_start_sync) are taken, so no SET
 *    is ever needed between them;
 *  - only statements whose shape is known to be quick (query statistics:
 *    pipeline_max_query_time on average) queue behind one another, so
 *    that a slow statement does not hold up the ones behind it;
 *  - a client that leaves while queued or answered: the rest of its
 *    answer is read and dropped (a "ghost"), the others go on;
 *  - a cancel of a queued client, or of the linked client while others
 *    are queued behind it, is answered by the proxy (57014) and its
 *    answer dropped: a CancelRequest to the backend could stop the next
 *    client's statement instead. The statement itself still runs (it is
 *    a read);
 *  - if the server fails, every client of the batch gets the error.
 */
#ifndef SWITCHYARD_PG_BATCH_H
#define SWITCHYARD_PG_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "pool/pg_server.h"
#include "proxy/pg/pg_client.h"
#include "proxy/pg/pg_prepared.h"
#include "proxy/pg/pg_sql.h"

/* May a Query with this text (tl bytes, scanned into sc) go in a batch? */
bool pg_batch_text_ok(const struct pg_client *c, const char *text, size_t tl, const struct pg_sql_scan *sc);
/* The same for a statement's text (scanned here). */
bool pg_batch_query_ok(const struct pg_client *c, const char *text, size_t tl);
/* ... and for one of c's named statements (the verdict kept in ps). */
bool pg_batch_pstmt_ok(const struct pg_client *c, struct pg_pstmt *ps);

/* c sends an extended-protocol message of this type (or 'F', 'C', …):
 * follow the request's shape (pg_client.ext_step); `read` says whether
 * a Parse or Bind names a statement that may be queued. At Sync, the
 * request is batchable when it was [Parse ""] Bind [Describe] Execute. */
void pg_batch_ext_step(struct pg_client *c, uint8_t type, bool read);

/* c just sent its Query to c->server: take waiting clients along. */
void pg_batch_fill(struct pg_client *c);

/* c is about to wait for a server of a pool that is at its size with
 * none idle: queue its request on the busy server with the shortest
 * batch that accepts it instead. True when it did (c is CL_RIDING or,
 * on an error, closed). */
bool pg_batch_ride_busy(struct pg_client *c);

/* The pool_waiter ride callback of a PostgreSQL client. */
bool pg_batch_ride(struct pool_waiter *w, struct server *s);

/* May c send its next request to c->server now? False while it waits
 * its turn, or while others are queued behind it. */
static inline bool pg_batch_holds(const struct pg_client *c)
{
	return c->state == CL_RIDING || (c->server && c->server->n_riders > 0 && c->server->link == c);
}

/* The linked client of s is done with it: the next client of the batch
 * gets s (its answer may be buffered already), or the pool after the
 * last. */
void pg_batch_pass_on(struct server *s);

/* c is closing while riding, or while linked with others behind it: the
 * batch takes its part over (true), else false and the caller releases
 * the server as usual. Clears c->server when true. */
bool pg_batch_client_gone(struct pg_client *c);

/* A cancel for c: true when the batch answers it (see above). */
bool pg_batch_cancel(struct pg_client *c);

/* At a message boundary of the linked client's answer: a cancel that
 * came mid-message is answered now. */
void pg_batch_cancel_head(struct pg_client *c);

/* s failed or broke the batch's rules: every queued client is closed
 * with `why` (08006); the caller deals with the linked client and s. */
void pg_batch_fail(struct server *s, const char *why);

#endif
