/*
 * pg_admin.h — the admin console on the PostgreSQL port.
 *
 * A client whose startup packet names the virtual database "switchyard"
 * and whose user is listed in `admin_users` authenticates as any [user.*]
 * does, then gets no server: its simple-protocol queries are the
 * console's commands (proxy/admin.h: SHOW POOLS, CLIENTS, SERVERS, NODES,
 * ROUTES, QUERIES, STATS, CONFIG, EVENTS, VERSION, HELP; RELOAD; PAUSE,
 * RESUME; KILL id; SHUTDOWN), answered here as RowDescription, DataRows
 * and CommandComplete, errors as ErrorResponse. Other users are refused
 * with 28000.
 */
#ifndef SWITCHYARD_PG_ADMIN_H
#define SWITCHYARD_PG_ADMIN_H

#include <stddef.h>

#include "util/buf.h"

struct pg_client;
struct stats_view;

#define PG_ADMIN_DATABASE "switchyard" /* == ADMIN_DATABASE (proxy/admin.h) */

/* The startup packet named PG_ADMIN_DATABASE: refuse a non-admin, else
 * start authentication (pg_client_begin_auth). */
void pg_admin_login(struct pg_client *c);
/* Authentication succeeded: the login messages, then CL_ADMIN. */
void pg_admin_start(struct pg_client *c);
/* Input while CL_ADMIN. */
void pg_admin_read(struct pg_client *c);

/* The answer to one SHOW command from a view, appended to `out` as
 * RowDescription, DataRows and CommandComplete (no ReadyForQuery).
 * `what` is the word after SHOW, any case. Returns 0, or -1 when `what`
 * is not a SHOW this function answers (nothing appended). Pure; for tests. */
int pg_admin_show(const struct stats_view *v, const char *what, struct buf *out);

#endif
