/*
 * pg_auth_query.h — looking up a user that is not in the config on the
 * server (`auth_user` + `auth_query`, as PgBouncer does).
 *
 * The client waits in CL_AUTH_QUERY while a server connection of the
 * auth_user's pool runs auth_query with the user name as $1 (extended
 * protocol, so the name is never spliced into SQL). The returned secret
 * (SCRAM verifier or md5 hash) becomes a user owned by the session, and
 * authentication proceeds as for a configured user; servers are then
 * logged in to with the ClientKey pass-through or the md5 hash.
 */
#ifndef SWITCHYARD_PG_AUTH_QUERY_H
#define SWITCHYARD_PG_AUTH_QUERY_H

struct pg_client;

/* Start the lookup for c->user. Returns -1 when auth_query cannot be
 * used (no auth_user configured, or it is not a configured user). */
int pg_auth_query_start(struct pg_client *c);
/* Stop a lookup in progress (the client is closing) and free c->aq. */
void pg_auth_query_stop(struct pg_client *c);

#endif
