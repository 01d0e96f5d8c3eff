/*
 * pg_client.h — one PostgreSQL client session at the proxy.
 *
 * The client side of a session: startup (with the TLS upgrade), the
 * proxy's own authentication, waiting for a pooled server, applying the
 * client's startup parameters on that server, then relaying messages both
 * ways with backpressure until the client leaves. Every state change goes
 * through client_set_state(); every exit through pg_client_close().
 */
#ifndef SWITCHYARD_PG_CLIENT_H
#define SWITCHYARD_PG_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "pool/pool.h"
#include "proxy/pg/pg_auth.h"
#include "proxy/pg/pg_opq.h"
#include "proxy/route_pick.h"
#include "proxy/stats.h"
#include "util/kvpack.h"
#include "util/log.h"
#include "util/strmap.h"
#include "util/list.h"

struct worker;
struct server;
struct bufferevent;
struct event;
struct admin_wait;

#define CLIENT_STATES(X)           \
	X(CL_STARTUP)              \
	X(CL_TLS_HANDSHAKE)        \
	X(CL_AUTH_QUERY)           \
	X(CL_AUTH)                 \
	X(CL_WAIT_SERVER)          \
	X(CL_SYNC)                 \
	X(CL_ACTIVE)               \
	X(CL_RIDING)               \
	X(CL_IDLE)                 \
	X(CL_ADMIN)                \
	X(CL_CLOSED)

#define CLIENT_STATE_ENUM(name) name,
enum client_state { CLIENT_STATES(CLIENT_STATE_ENUM) };
#undef CLIENT_STATE_ENUM

const char *client_state_name(enum client_state st);

/* pg_client.ext_step: the messages of an extended-protocol request so far. */
enum pg_ext_step {
	PG_EXT_START,     /* nothing since the last Sync or Query */
	PG_EXT_PARSED,    /* Parse of the unnamed statement, a read */
	PG_EXT_BOUND,     /* Bind of a read statement */
	PG_EXT_DESCRIBED, /* ... and Describe */
	PG_EXT_EXECUTED,  /* ... and Execute: a Sync now ends a batchable request */
	PG_EXT_OTHER,     /* anything else: not batchable until the next Sync */
};

/* Why a client accepted is to be refused once it sends its startup packet. */
enum pg_refusal {
	PG_REFUSE_NONE,
	PG_REFUSE_FULL,     /* max_client_conn reached: 53300 */
	PG_REFUSE_SHUTDOWN, /* the proxy is stopping: 57P01 */
};

#define CLIENT_MAX_PARAMS 32

/* The SCRAM keys of a verifier-only user, kept from its login to log in
 * to servers as that user (heap: few clients need them). */
struct pg_scram_keys {
	uint8_t client_key[32];
	uint8_t server_key[32];
};

/* A lookup with auth_query (pg_auth_query.c), only while it runs. */
struct pg_aq {
	struct pg_client *c;
	struct pool *pool;
	struct pool_waiter waiter;
	struct server *server;
	char *secret;
	bool found;
};

/* The fields are grouped by size so that an idle session stays small
 * (it is most of what an idle client costs: see parking below). */
struct pg_client {
	struct list node;             /* on worker->clients; after close, on worker->dead */
	struct worker *w;
	uint32_t id;
	enum client_state state;
	struct bufferevent *bev;      /* NULL while parked */
	struct event *timer;          /* login timeout, then query_wait_timeout; while
	                               * parked, the read event that wakes the client */
	const struct cfg_listen *listen;
	struct cfg *cfg;              /* the snapshot this session started with */
	struct tls_contexts *tls;
	int64_t connected_ms;         /* wall clock (worker_now_ms) */
	int64_t wait_start_ms;        /* when it began waiting for a server */

	/* From the startup packet. */
	char *user;                   /* owns one block for both names */
	char *database;               /* inside user's block */
	struct kvpack *want;          /* applied on every server (util/kvpack.h) */
	struct kvpack *startup;       /* want as the login left it: what DISCARD ALL returns to */
	struct kvpack *seen;          /* what it has been told with ParameterStatus */

	const struct cfg_user *u;     /* in cfg, or dyn_user */
	struct cfg_user *dyn_user;    /* from auth_query; owned by the session */
	struct pg_aq *aq;             /* auth_query lookup (CL_AUTH_QUERY); NULL otherwise */
	const struct cfg_cluster *cl;
	struct pg_auth *auth;         /* only while authenticating (it is large) */
	/* Kept from a SCRAM login for verifier-only users (pool credentials). */
	struct pg_scram_keys *scram_keys; /* NULL unless such a login */

	struct pool *pool;
	struct pool_waiter waiter;
	struct server *server;
	char *sync_error;             /* the error our SETs (or auth_query) got; NULL: none */

	/* Relay. */
	size_t c2s_left;              /* bytes of a client message still to forward */
	size_t s2c_left;              /* bytes of a server message still to forward */
	uint64_t queries;
	int64_t last_activity_ms;     /* last request or ReadyForQuery (worker_now_ms) */
	int64_t query_start_ms;       /* when the oldest outstanding request began */
	uint32_t cancel_pid, cancel_key;
	int outstanding;              /* sync points (Query/Sync/FunctionCall) awaiting ReadyForQuery */
	int sync_pending;             /* ReadyForQuery expected for our SETs */
	enum cfg_pool_mode pool_mode;
	int route_node;               /* node serving the current transaction */

	/* Pooled modes. */
	struct strmap prepared;       /* client statement name -> struct pg_pstmt */
	struct pg_opq opq;            /* requests in flight on the linked server */
	/* Read/write routing (clusters with replicas; NULL otherwise: it is
	 * large, and most clients of a primary-only cluster never need it). */
	struct route_session *route;
	struct event *route_retry;    /* created on first use: a read waiting for a replica */
	uint64_t route_lsn;
	/* Query statistics (query_stats.h): the statement in progress; the
	 * key of the unnamed prepared statement and of the last Bind's. */
	struct qs_call qs;
	uint64_t qs_unnamed;
	uint64_t qs_bound;
	/* Admin console: a PAUSE waiting for transactions to finish (admin.h). */
	struct admin_wait *admin_wait;

	bool tls_on;
	bool parked;                  /* idle without buffers: see pg_client_try_park() */
	bool logged_in;               /* AuthenticationOk .. ReadyForQuery sent */
	bool s2c_hide;                /* the server message being passed is swallowed */
	bool cancel_sent;             /* query_timeout already fired for it */
	bool pinned;                  /* session state on the server: keep it */
	bool held;                    /* in CL_WAIT_SERVER, not queued: its cluster is paused */
	bool route_wrote;             /* it may have written on the primary */
	bool lsn_wait;                /* asking that server its WAL position (read-your-writes) */
	bool route_lsn_ok;            /* ... and it answered route_lsn */
	bool discarding;              /* a DISCARD ALL is in flight: back to `startup` after it */
	uint8_t refusal;              /* enum pg_refusal: decided at accept, said at startup */
	bool discard_wait;            /* a Query with DISCARD/DEALLOCATE ALL is in flight: hold the rest */
	/* Server pipelining (pg_batch.h): the Query in flight may have others
	 * queued behind it; a cancel of it is answered at the next message
	 * boundary; the statistics key found when it was sent behind another. */
	bool batchable;
	bool batch_cancel;
	uint64_t batch_key;
	/* How far the extended-protocol request being sent matches the one
	 * shape that may lead a batch: [Parse ""] Bind [Describe] Execute
	 * Sync of a single read (enum pg_ext_step); and whether the unnamed
	 * statement last parsed is such a read. */
	uint8_t ext_step;
	bool unnamed_batchable;
	char addr[56];                /* "[v6 address]:port" fits */
};

/* Who c is, for log_who_msg() (util/log.h). */
static inline struct log_who pg_client_who(const struct pg_client *c)
{
	struct log_who w = { .client = c->id, .addr = c->addr, .user = c->user, .db = c->database };
	return w;
}

/* A new connection accepted on `listen`; takes ownership of fd. */
void pg_client_accept(struct worker *w, const struct cfg_listen *listen, int fd,
		      const struct sockaddr *sa, int salen);

/* Close with an error sent first when sqlstate is not NULL. */
void pg_client_close(struct pg_client *c, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

void client_set_state(struct pg_client *c, enum client_state st);

/* Record the error a server gave to the proxy's own statements (the
 * parameter SETs of an attach, auth_query); NULL clears it. */
void pg_client_set_sync_error(struct pg_client *c, const char *msg);

/* Authenticate c->u (found in the config or by auth_query). */
void pg_client_begin_auth(struct pg_client *c);

/* Point c->pool at node `node` of the client's cluster (credentials
 * refreshed). 0, or -1 when there is no such node or no memory. */
int pg_client_use_node(struct pg_client *c, int node);

/* Queue for a server from the client's pool (CL_WAIT_SERVER). */
void pg_client_request_server(struct pg_client *c);

/* After RESUME: a client held by PAUSE queues for its server (if its
 * cluster is no longer paused). */
void pg_client_resume(struct pg_client *c);
/* What the client was last told for a parameter (NULL: never), and
 * recording that it has been told. */
const char *pg_client_seen(const struct pg_client *c, const char *key);
void pg_client_mark_seen(struct pg_client *c, const char *key, const char *value);
/* Has the client asked for this parameter (startup or its own SET)? */
bool pg_client_wants(const struct pg_client *c, const char *key);
/* The value the client wants for a parameter on every server it uses. */
void pg_client_want_set(struct pg_client *c, const char *key, const char *value);

/* Check the session's timeouts (query, idle in transaction, idle), and
 * park a client idle for PG_CLIENT_PARK_AFTER_MS. */
void pg_client_sweep(struct pg_client *c, int64_t now);

/*
 * Parking. An idle pooled client (CL_IDLE: no server, nothing buffered
 * either way, plain TCP or unix socket) needs no bufferevent: its two
 * evbuffers, callbacks and events are about 1 KiB, more than the rest of
 * the session. So, as PgBouncer hands its I/O buffers back when they are
 * empty, the proxy frees the bufferevent of a client that is idle and
 * watches its socket with the session's own timer event (re-assigned as
 * a read event; no allocation). The first byte (or EOF) re-creates the
 * bufferevent and reads at once. A client is parked right after its login
 * (most connections of an application's pool then sit idle) and by the
 * sweep once idle for PG_CLIENT_PARK_AFTER_MS; not after every
 * transaction, which would cost a bufferevent per transaction.
 * TLS clients are never parked (their TLS state lives in the bufferevent).
 */
#define PG_CLIENT_PARK_AFTER_MS 1000
/* Park c now if it qualifies; else nothing. */
void pg_client_try_park(struct pg_client *c);
/* Park c at the end of this loop turn (after what was queued is out). */
void pg_client_park_soon(struct pg_client *c);

/* Note a request that expects a ReadyForQuery (Query, Sync, FunctionCall). */
static inline void pg_client_request_begins(struct pg_client *c, int64_t now)
{
	if (c->outstanding++ == 0) {
		c->query_start_ms = now;
		c->cancel_sent = false;
	}
	c->last_activity_ms = now;
}

/* A ReadyForQuery went to the client. */
static inline void pg_client_request_ends(struct pg_client *c, int64_t now)
{
	if (c->outstanding > 0 && --c->outstanding == 0)
		stats_observe_query(c->w, STATS_PROTO_PG, now - c->query_start_ms);
	c->last_activity_ms = now;
}

/* Free closed clients (worker's deferred frees). */
void pg_client_reap(struct list *dead);

#endif
