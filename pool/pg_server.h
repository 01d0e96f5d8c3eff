/*
 * pg_server.h — one connection from the proxy to a PostgreSQL server.
 *
 * The server side of a session. pg_server.c drives connecting, the
 * optional TLS upgrade, the startup and authentication exchange, and the
 * reset on release; all of its transitions go through server_set_state().
 * While SV_ACTIVE the linked client owns the protocol: the server's read
 * and event callbacks are forwarded to the link's ops.
 *
 * A server is freed only by server_close(), which unlinks it from its
 * pool and defers the free to the end of the event-loop turn.
 */
#ifndef SWITCHYARD_PG_SERVER_H
#define SWITCHYARD_PG_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pool/pg_stmt_cache.h"
#include "proxy/pg/scram.h"
#include "config/config.h"
#include "util/kvpack.h"
#include "util/list.h"

struct event_base;

struct bufferevent;
struct event;
struct pool;

#define SERVER_STATES(X)          \
	X(SV_CONNECTING)          \
	X(SV_TLS_REQUEST)         \
	X(SV_TLS_HANDSHAKE)       \
	X(SV_LOGIN)               \
	X(SV_IDLE)                \
	X(SV_ACTIVE)              \
	X(SV_RESETTING)           \
	X(SV_CLOSED)

#define SERVER_STATE_ENUM(name) name,
enum server_state { SERVER_STATES(SERVER_STATE_ENUM) };
#undef SERVER_STATE_ENUM

const char *server_state_name(enum server_state st);

/* Parameters the server reported with ParameterStatus. */
#define SERVER_MAX_PARAMS 32
struct server_param {
	char *key;
	char *value;
};

struct server;

/* What a linked client provides to receive the server's events. */
struct server_link_ops {
	void (*readable)(void *link, struct server *s);
	/* The connection failed or closed; the server is being closed. */
	void (*failed)(void *link, struct server *s, const char *why);
	/* The server's output drained below the low watermark. */
	void (*writable)(void *link, struct server *s);
};

struct server {
	struct list node;             /* on one of the pool's lists */
	struct list dead_node;        /* on the deferred-free list */
	struct pool *pool;
	uint64_t id;
	enum server_state state;
	struct bufferevent *bev;
	struct event *timer;          /* connect/login timeout */
	bool tls;
	uint32_t backend_pid, backend_key;
	struct server_param params[SERVER_MAX_PARAMS];
	int n_params;
	int64_t created_ms, last_used_ms;
	int resets_pending;           /* ReadyForQuery still expected while resetting */
	char tx_status;               /* last ReadyForQuery status: 'I', 'T', 'E' */
	struct pg_stmt_cache stmts;   /* statements prepared by the proxy (pooled modes) */
	uint32_t synced_for;          /* client whose unreported settings are applied (0: none) */
	/* The parameter lists (util/kvpack.h, shared between clients) the
	 * server was last brought in line with, at params_gen synced_gen: a
	 * client holding the same two blocks needs no SET and no
	 * ParameterStatus while the server's parameters have not changed
	 * since (pg_relay_start_sync). Counted references; NULL: none. */
	struct kvpack *synced_want, *synced_seen;
	uint32_t params_gen;          /* +1 on every change of a reported parameter */
	uint32_t synced_gen;
	struct scram_client scram;
	int auth_step;                /* SCRAM progress during login */
	void *my;                     /* MySQL connection state (pool/my_server.c); NULL for PostgreSQL */
	void *link;                   /* the client while SV_ACTIVE */
	const struct server_link_ops *link_ops;
	/* Server pipelining (proxy/pg/pg_batch.c): the clients whose
	 * statements went out after the linked client's, in order; NULL for
	 * one whose client left (its answer is discarded). */
	void *riders[CFG_PIPELINE_DEPTH_MAX];
	int n_riders;
	/* While the answer of a departed client is discarded: the
	 * ReadyForQuery still to come, and bytes of a message still to drop. */
	int ghost_ready;
	size_t ghost_left;
};

/* Start connecting a new server for pool `p` (state SV_CONNECTING, on
 * p->pending). Returns NULL when even that failed (counted as a failure). */
struct server *server_connect(struct pool *p);

/* Change state; moves the server between its pool's lists and counts. */
void server_set_state(struct server *s, enum server_state st);

/* Link an idle server to a client (SV_ACTIVE). */
void server_link(struct server *s, void *link, const struct server_link_ops *ops);

/* Roll back an open transaction and, if asked, run the pool's reset
 * query; SV_RESETTING until done, then SV_IDLE. */
void server_start_reset(struct server *s, bool run_reset_query);

/* Send a CancelRequest for backend (pid, key) at addr, on a new
 * connection that closes itself. */
void server_send_cancel(struct event_base *base, const struct cfg_addr *addr, uint32_t pid,
			uint32_t key);

/* Resolve a server address (TCP names synchronously); 0 or -1. */
int server_sockaddr(const struct cfg_addr *a, struct sockaddr_storage *ss, socklen_t *len);

/* Close with a reason (logged); unlinks and frees later. */
void server_close(struct server *s, const char *reason);

/* The value the server reported for `key`, or NULL. */
const char *server_param(const struct server *s, const char *key);
/* Record a ParameterStatus. */
void server_param_set(struct server *s, const char *key, const char *value);
/* Forget which client parameter lists the server is in line with (after
 * anything that may change its settings unseen: a reset, DISCARD ALL). */
void server_forget_sync(struct server *s);

/* Free the servers on a dead list (pool_set's deferred frees). */
void server_reap(struct list *dead);

/* Milliseconds on a monotonic clock. */
int64_t now_ms(void);

#endif
