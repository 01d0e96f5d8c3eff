/*
 * pool.h — per-worker pools of server connections.
 *
 * A pool holds the connections of one worker to one (node, database,
 * server user). Each server connection is on exactly one of the pool's
 * lists, and its state says which (state is list membership):
 *
 *   pending  SV_CONNECTING, SV_TLS_REQUEST, SV_TLS_HANDSHAKE, SV_LOGIN,
 *            SV_RESETTING — working towards being usable
 *   idle     SV_IDLE — logged in, clean, waiting for a client
 *   active   SV_ACTIVE — linked to one client, which drives its I/O
 *
 * Clients that want a server and find none idle wait in the pool's FIFO
 * `waiters` list; a waiter is told through its callbacks when it gets a
 * server or when connecting failed. Pools live as long as their worker
 * (a reload updates their limits in place, or marks them retired when
 * their node is gone from the config).
 *
 * Everything here runs on the owning worker's thread.
 */
#ifndef SWITCHYARD_POOL_H
#define SWITCHYARD_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "proxy/pg/pgc.h"
#include "util/list.h"

struct event_base;
struct tls_contexts;
struct server;

/* How the proxy logs in to servers of this pool. Either a plain
 * password, or what a SCRAM verifier-only user gives us: the ClientKey
 * recovered from a client's proof (and the ServerKey, to check the
 * server's signature), or an md5 "md5…" stored hash. */
struct pool_credentials {
	char *password;               /* plain, or NULL */
	char *md5_stored;             /* "md5" + 32 hex, or NULL */
	/* MySQL: SHA1(password), recovered from a client's
	 * mysql_native_password answer, answers a server's native challenge. */
	bool has_sha1;
	uint8_t sha1[20];
	bool has_client_key;
	uint8_t client_key[32];
	bool has_server_key;
	uint8_t server_key[32];
};

struct pool_waiter {
	struct list node;             /* on pool->waiters while waiting */
	/* The server is linked to the waiter (SV_ACTIVE) when this runs. */
	void (*on_server)(struct pool_waiter *w, struct server *s);
	/* Connecting or logging in failed; sqlstate and message say why. */
	void (*on_error)(struct pool_waiter *w, const char *sqlstate, const char *msg);
	/* Optional (server pipelining): send the waiter's request to s, an
	 * active server, behind its client's, and stop waiting. False when
	 * the request cannot go that way; the waiter then waits on. */
	bool (*ride)(struct pool_waiter *w, struct server *s);
};

/* Settings a pool takes from the config; updated on reload. */
struct pool_settings {
	int size;                     /* this worker's share of pool_size */
	int min_size;
	int64_t connect_timeout_ms;
	int64_t lifetime_ms;
	int max_db;                   /* this worker's share of max_db_connections; 0 = none */
	int64_t idle_timeout_ms;
	char *reset_query;            /* owned; "" for none */
	size_t max_packet_size;
	/* Server pipelining queues statements on busy servers once this
	 * many are busy (this worker's share of pipeline_busy_servers;
	 * `size` when that is 0). */
	int pipeline_after;
};

struct pool {
	struct list node;             /* in pool_set->pools */
	struct pool_set *set;
	uint64_t id;
	enum cfg_protocol protocol;   /* of the servers: postgres or mysql */
	struct cfg_addr addr;
	char *database;               /* on the server */
	char *user;                   /* on the server */
	struct pool_credentials cred;
	struct pool_settings st;
	bool retired;                 /* node left the config: no new work */
	struct list pending, idle, active;
	int n_pending, n_idle, n_active;
	struct list waiters;
	int n_waiters;
	/* ParameterStatus values of the first server to log in: the
	 * defaults of this (database, user), which a client that never set a
	 * parameter must see whatever the server's last client did. */
	char **default_keys, **default_values;
	int n_defaults;
	/* The last login error, kept so that waiters queued after a failed
	 * attempt learn why when no connection can be made. */
	char last_error[256];
	char last_sqlstate[6];
	uint64_t servers_opened, servers_failed;
};

struct pool_set {
	struct event_base *base;
	struct tls_contexts *tls;     /* reference; replaced on reload */
	struct list pools;
	struct event *maint_ev;       /* periodic: lifetimes, idle timeouts, min sizes */
	struct list dead;             /* closed servers, freed at the end of the loop turn */
	struct event *reap_ev;
	int worker_id;
	int n_workers;
	uint64_t next_id;
};

struct pool_set *pool_set_new(struct event_base *base, int worker_id, int n_workers,
			      struct tls_contexts *tls);
void pool_set_free(struct pool_set *ps);
/* Swap TLS contexts (after a reload); new server connections use them. */
void pool_set_tls(struct pool_set *ps, struct tls_contexts *tls);

/* Find or create the pool for (addr, database, user) with settings from
 * `cs`. Returns NULL on allocation failure. */
struct pool *pool_get(struct pool_set *ps, enum cfg_protocol protocol, const struct cfg_addr *addr,
		      const char *database, const char *user, const struct cfg_pool_settings *cs,
		      uint64_t max_packet_size);

/* Reload: refresh every pool's settings from `c`; pools whose node is no
 * longer in any cluster are retired (their idle servers closed). */
void pool_set_apply_config(struct pool_set *ps, const struct cfg *c);

/* Replace the pool's credentials (copied). */
void pool_set_credentials(struct pool *p, const struct pool_credentials *cred);

/* Ask for a server. If one is idle it is linked and w->on_server runs
 * before this returns; otherwise w waits (a connection is opened when the
 * pool has room). */
void pool_acquire(struct pool *p, struct pool_waiter *w);
/* Stop waiting (client gone or timed out). Safe when not waiting. */
void pool_cancel_wait(struct pool *p, struct pool_waiter *w);

/* A linked server comes back. `clean`: the protocol is at a sync point
 * (ReadyForQuery seen, nothing outstanding). `reset`: run the reset
 * query first (session end). A server that is not clean is closed. */
void pool_release(struct server *s, bool clean, bool reset);
/* The same for a server its client pinned in transaction or statement
 * pooling: reset, or closed when server_reset_query is empty (a session
 * pool hands its servers on as they are then, as PgBouncer does; pinned
 * state never goes to another client). */
void pool_release_pinned(struct server *s, bool clean);

/* Server connections of this worker to a node in use or asked for
 * (active + waiting clients, all users and databases): the load that
 * least_connections balances. */
int pool_set_node_load(const struct pool_set *ps, enum cfg_protocol protocol, const struct cfg_addr *addr);

/* Split pool_size across workers: worker `id` of `n` gets this many. */
int pool_share(int total, int id, int n);

/* Internal, for pg_server.c: a new server finished its login. */
void pool_server_logged_in(struct pool *p, struct server *s);
/* Internal, for pg_server.c: the server reached SV_IDLE (or failed). */
void pool_server_ready(struct pool *p, struct server *s);
void pool_server_failed(struct pool *p, struct server *s, const char *sqlstate, const char *msg);
/* The default value of a reported parameter for this pool, or NULL. */
const char *pool_param_default(const struct pool *p, const char *key);

/* Open one more connection if there is room and demand. */
void pool_maybe_open(struct pool *p);

#endif
