/*
 * my_route.h — read/write routing for MySQL sessions (see my_route.c).
 */
#ifndef SWITCHYARD_MY_ROUTE_H
#define SWITCHYARD_MY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "proxy/mysql/my_client.h"

/* After login: routing state for a cluster with replicas. 0 or -1. */
int my_route_init(struct my_client *c);
void my_route_free(struct my_client *c);

/* Choose the node for c->route_sql and point c->pool at it. 0: acquire;
 * 1: waiting for a replica to catch up (retried by itself); -1: closed. */
int my_route_request(struct my_client *c);

/* `SET @@session.switchyard_route = …` / `SET @switchyard_key = …` and
 * the like: applied; true when the statement was only that (the caller
 * answers OK without a server). */
bool my_route_intercept(struct my_client *c, const char *sql, size_t len);

/* The transaction ended with the server still linked: true when the
 * caller should ask it `SELECT @@last_gtid` and pass the answer to
 * my_route_note_gtid (false: the write was noted without a position). */
bool my_route_wants_gtid(struct my_client *c);
/* Record the write's GTID (NULL: unknown). */
void my_route_note_gtid(struct my_client *c, const char *gtid, size_t len);

#endif
