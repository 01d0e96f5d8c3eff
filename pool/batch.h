/*
 * batch.h — the protocol-neutral part of server pipelining
 * (pipeline_depth; proxy/pg/pg_batch.c, proxy/mysql/my_batch.c): the
 * queue of clients whose statements were sent on a server behind its
 * linked client's (server->riders), and finding where a waiting client's
 * statement may go. What may be queued, and how answers are passed on,
 * is the protocols' business.
 */
#ifndef SWITCHYARD_POOL_BATCH_H
#define SWITCHYARD_POOL_BATCH_H

#include <stdbool.h>

#include "pool/pool.h"

struct server;

/* Append client c (its statement was just sent) to s's queue. */
void batch_push(struct server *s, void *c);
/* The next client in line, removed from the queue; NULL for a slot
 * whose client left. The queue must not be empty. */
void *batch_pop(struct server *s);
/* Is any client still waiting in s's queue? */
bool batch_live(const struct server *s);
/* c no longer waits on s (left, or answered by the proxy). */
void batch_forget(struct server *s, const void *c);
/* Empty the queue (the server is being closed). */
void batch_clear(struct server *s);

/* s just got a client's statement: offer it to p's waiters in order
 * (their ride callbacks decide), until the batch holds `depth`
 * statements. Looks at most 2 x depth waiters. */
void batch_fill(struct pool *p, struct server *s, int depth);

/* A client is about to wait on p: once p is at its size with no idle
 * server, or has st.pipeline_after servers busy, the busy server that
 * `accepts` one more statement and has the shortest queue; NULL
 * otherwise. */
struct server *batch_pick(struct pool *p, int depth, bool (*accepts)(const struct server *s, int depth));

#endif
