/*
 * pg_pooled.h — relay functions for transaction and statement pooling
 * (prepared statements across servers, session-state pins, tracked
 * parameters). See pg_pooled.c.
 */
#ifndef SWITCHYARD_PG_POOLED_H
#define SWITCHYARD_PG_POOLED_H

#include "proxy/pg/pg_client.h"
#include "proxy/pg/pg_prepared.h"

/* Client bytes while CL_ACTIVE in a pooled mode. */
void pg_pooled_c2s(struct pg_client *c);
/* Server bytes while CL_ACTIVE in a pooled mode. */
void pg_pooled_s2c(struct pg_client *c);

/* While no server is linked: answer a batch of named Parse / Close
 * statement messages ended by Sync without a server (the statements are
 * prepared on a server when first used). True when handled (or closed);
 * the Parse's SQL is then checked by the server at first use. */
bool pg_pooled_answer_locally(struct pg_client *c);

/* The query statistics key of an unnamed statement's text (len bytes). */
uint64_t pg_pooled_unnamed_key(struct pg_client *c, const char *text, size_t len);
/* The query statistics key of one of c's named statements. */
uint64_t pg_pooled_named_key(struct pg_client *c, const struct pg_pstmt *ps);

#endif
