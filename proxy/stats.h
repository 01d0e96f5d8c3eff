/*
 * stats.h — counters, per-worker published snapshots, and their sum.
 *
 * No lock on the query path. Each worker counts into its own
 * `struct stats_worker` (and `struct worker_counters`) from its own thread
 * only, apart per client protocol (enum stats_proto: the `protocol` label;
 * the view sums them). Once a second (STATS_PUBLISH_MS) the worker builds a snapshot of
 * its counters, pools, clients and servers without holding any lock, then
 * swaps it in as its published snapshot under its own `lock`. Readers (the
 * main thread's stats port, an admin console session on any worker) take
 * each worker's lock in turn only to merge that worker's published
 * snapshot into a `struct stats_view`. Figures are therefore at most one
 * publish interval old.
 *
 * Client and server rows (SHOW CLIENTS / SHOW SERVERS, admin KILL) are
 * the exception: a copy of every session every second would cost more
 * memory than an idle session itself, so snapshots carry rows only while
 * somebody asks for them. A reader calls stats_rows_request(), which opens
 * a lease of STATS_ROWS_LEASE_MS (every publish in it includes rows) and
 * pokes each worker to publish at once, then waits (without blocking a
 * loop: admin.c polls) until stats_rows_ready() says every worker has
 * published rows since the request.
 *
 * The renderers (Prometheus text 0.0.4, JSON, HTML) are pure functions of
 * a `struct stats_view`: no sockets, no globals; tests build views by hand.
 *
 * Process-wide state that is not per worker (start time, reload results,
 * the events ring) is a `struct stats_global`, owned by main, guarded by
 * its own mutex, reached through `proxy->stats`.
 */
#ifndef SWITCHYARD_STATS_H
#define SWITCHYARD_STATS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health/health.h"
#include "proxy/query_stats.h"
#include "proxy/route_pick.h"
#include "util/buf.h"

struct worker;
struct proxy;
struct event;
struct bufferevent;

#define STATS_PUBLISH_MS 1000
/* How long after a request for rows the snapshots keep carrying them. */
#define STATS_ROWS_LEASE_MS 10000

/* Histogram bucket upper bounds, seconds (cumulative "le" buckets, plus
 * +Inf). Durations are measured on the worker's cached clock (ms). */
#define STATS_HIST_N 13
extern const double stats_hist_le[STATS_HIST_N];

struct stats_hist {
	uint64_t bucket[STATS_HIST_N + 1]; /* per bucket (not cumulative); last is +Inf */
	uint64_t count;
	uint64_t sum_ms;
};

void stats_hist_observe(struct stats_hist *h, int64_t ms);

/* Classes of the errors the proxy itself sends (by SQLSTATE class). */
#define STATS_ERR_CLASSES(X)                              \
	X(STATS_ERR_CONNECTION, "08", "connection_exception") \
	X(STATS_ERR_AUTH, "28", "invalid_authorization")      \
	X(STATS_ERR_RESOURCES, "53", "insufficient_resources") \
	X(STATS_ERR_OPERATOR, "57", "operator_intervention")  \
	X(STATS_ERR_TRANSACTION, "25", "invalid_transaction_state") \
	X(STATS_ERR_DATABASE, "3D", "invalid_catalog_name")   \
	X(STATS_ERR_UNSUPPORTED, "0A", "feature_not_supported") \
	X(STATS_ERR_OTHER, "other", "other")

#define STATS_ERR_ENUM(e, cls, name) e,
enum stats_err_class { STATS_ERR_CLASSES(STATS_ERR_ENUM) STATS_ERR_N };
#undef STATS_ERR_ENUM

enum stats_err_class stats_err_class_of(const char *sqlstate);
const char *stats_err_class_code(enum stats_err_class e);
const char *stats_err_class_name(enum stats_err_class e);

/* The client protocols counted apart (the `protocol` label of /metrics).
 * Server-side figures (pools) go by the pool's protocol. */
enum stats_proto { STATS_PROTO_PG, STATS_PROTO_MY, STATS_PROTO_N };
/* "postgres", "mysql" (the names of cfg_protocol_name). */
const char *stats_proto_name(enum stats_proto p);

/* Client sessions by what they are doing. */
#define STATS_CLIENT_STATES(X) \
	X(STATS_CL_LOGIN, "login")     \
	X(STATS_CL_WAITING, "waiting") \
	X(STATS_CL_ACTIVE, "active")   \
	X(STATS_CL_IDLE, "idle")       \
	X(STATS_CL_ADMIN, "admin")
#define STATS_CL_ENUM(e, name) e,
enum stats_client_kind { STATS_CLIENT_STATES(STATS_CL_ENUM) STATS_CL_N };
#undef STATS_CL_ENUM
const char *stats_client_kind_name(enum stats_client_kind k);

/* Counters a worker adds to (its thread only). */
struct stats_counters {
	uint64_t bytes_in;            /* from clients */
	uint64_t bytes_out;           /* to clients */
	uint64_t errors[STATS_ERR_N]; /* errors sent to clients by the proxy */
	struct stats_hist query_time; /* request to ReadyForQuery */
	struct stats_hist wait_time;  /* waiting for a server connection */
};

/* Everything summable. */
struct stats_totals {
	uint64_t clients_accepted, clients_refused, login_failures;
	uint64_t queries, transactions, pins, pipelined;
	uint64_t servers_opened, servers_failed;
	struct stats_counters c;
};

struct stats_pool_row {
	uint64_t id;                  /* per worker; used to spot new failures */
	char cluster[64];             /* "" when the node is in no cluster any more */
	char node[128];               /* address as written */
	char role[16];                /* primary, replica, "" */
	char database[64], user[64];  /* on the server */
	char protocol[16];            /* of the servers: postgres, mysql */
	int size, pending, idle, active, waiting;
	uint64_t opened, failed;
	bool retired;
	char last_error[160];
};

struct stats_client_row {
	uint32_t id;
	int worker;
	char addr[80];
	char user[64], database[64];
	char state[24];
	bool tls;
	int64_t connected_ms;         /* wall clock */
	uint64_t queries;
	uint64_t server_id;           /* 0: none */
	enum stats_proto protocol;    /* the client's */
};

struct stats_server_row {
	uint64_t id;
	int worker;
	char node[128];
	char database[64], user[64];
	char state[24];
	bool tls;
	uint32_t backend_pid;
	uint32_t client_id;           /* 0: none */
	int64_t age_ms, idle_ms;
};

/* One worker's published state. */
struct stats_snap {
	int64_t taken_ms;             /* wall clock */
	struct stats_totals t[STATS_PROTO_N];
	double qps, tps;              /* over the last publish interval, all protocols */
	int clients[STATS_PROTO_N][STATS_CL_N];
	int parked[STATS_PROTO_N];    /* idle clients holding no buffers (pg_client.h) */
	struct stats_pool_row *pools;
	size_t n_pools;
	/* Rows, only while a reader holds the lease (has_rows); rows_gen is
	 * the newest request (proxy.rows_req) they were built after. */
	bool has_rows;
	uint64_t rows_gen;
	struct stats_client_row *client_rows; /* at most STATS_MAX_ROWS */
	size_t n_client_rows;
	struct stats_server_row *server_rows;
	size_t n_server_rows;
	/* Query statistics: the worker's top entries by total time. */
	struct qs_entry *queries;     /* at most QS_PUBLISH_TOP */
	size_t n_queries;
	uint64_t qs_evicted, qs_untracked;
	size_t qs_used;
};

#define STATS_MAX_ROWS 5000
#define STATS_MAX_KILLS 32

/* Per-worker stats state, a field of struct worker. `c` is the worker's
 * own; `lock` guards `pub` and the kill queue. */
struct stats_worker {
	struct stats_counters c[STATS_PROTO_N];
	pthread_mutex_t lock;
	struct stats_snap *pub;
	struct event *timer;
	uint32_t kills[STATS_MAX_KILLS]; /* client ids an admin asked to close */
	int n_kills;
	bool lock_ready;
	struct query_stats qs;        /* per-statement table (worker's thread only) */
};

/* One event for the stats page. */
struct stats_event {
	int64_t time_ms;              /* wall clock */
	char level[8];                /* info, warning, error */
	char text[200];
};

#define STATS_EVENTS 64

struct stats_global {
	pthread_mutex_t lock;
	int64_t started_ms;           /* wall clock */
	uint64_t reloads_ok, reloads_failed;
	int64_t last_reload_ms;       /* 0: never */
	bool last_reload_ok;
	struct stats_event events[STATS_EVENTS];
	size_t ev_next, ev_count;
};

struct stats_node_row {
	char cluster[64];
	char node[128];
	char role[16];
	char protocol[16];
	char state[16];               /* up (has servers), failing, unused */
	int active, idle, pending, waiting;
	/* From the health thread (health/health.h); probed false: no state. */
	bool probed;
	bool up;                      /* heartbeats: up or down */
	char reported_role[16];       /* as the node says: primary, replica, unknown */
	int64_t lag_ms;               /* -1 unknown; huge: replication stopped */
	char position[160];           /* pos_format(); "" none */
	int64_t last_beat_ms;         /* wall clock of the last good beat; 0 none */
	uint64_t beats_ok, beats_failed, position_reads;
	char health_error[200];       /* the last heartbeat / position error */
	int consecutive_failures;     /* failed beats in a row (node_state.missed) */
	int64_t beat_rtt_us;          /* round trip of the last good beat; -1 none */
	bool has_lsn;                 /* PostgreSQL: the WAL position is known */
	uint64_t lsn;                 /* replayed (replica) / current (primary) WAL LSN */
	int64_t lag_bytes;            /* PostgreSQL: the primary's LSN - this node's; -1 unknown */
};

/* A [route.*] rule of the current configuration and its hits. */
struct stats_rule_row {
	char cluster[64];
	char name[64];
	char target[140];             /* primary, replica, any, or the node address */
	char match[200];              /* the pattern ("" none), truncated */
	uint64_t hits;
};

/* One client protocol's figures in a view. */
struct stats_proto_view {
	struct stats_totals t;
	int clients[STATS_CL_N];
	int parked;                   /* of clients[STATS_CL_IDLE]: parked (no buffers) */
};

/* The sum of all workers plus process-wide figures: what renderers show. */
struct stats_view {
	char version[32];
	int64_t now_ms;               /* wall clock */
	int64_t oldest_ms;            /* wall clock of the oldest worker snapshot merged */
	char paused[256];             /* admin PAUSE: "" none, "all", or "a,b" */
	double uptime_s;
	int workers;
	uint64_t generation;
	uint64_t reloads_ok, reloads_failed;
	int64_t last_reload_ms;
	bool last_reload_ok;
	int max_client_conn;
	int clients_total;
	uint64_t rss_bytes, open_fds;
	struct stats_proto_view proto[STATS_PROTO_N]; /* by client protocol */
	struct stats_totals t;        /* all protocols: the sum of proto[] */
	double qps, tps;
	int clients[STATS_CL_N];      /* all protocols */
	int parked;                   /* all protocols */
	struct stats_pool_row *pools; /* merged across workers */
	size_t n_pools;
	struct stats_node_row *nodes;
	size_t n_nodes;
	struct stats_client_row *client_rows; /* only with STATS_WANT_ROWS */
	size_t n_client_rows;
	struct stats_server_row *server_rows;
	size_t n_server_rows;
	/* Query statistics, only with STATS_WANT_QUERIES: entries of all
	 * workers merged by key, by total time descending. */
	struct qs_entry *queries;
	size_t n_queries;
	size_t qs_capacity;           /* slots per worker (QS_CAPACITY) */
	size_t qs_used;               /* slots in use, all workers */
	uint64_t qs_evicted, qs_untracked;
	struct stats_event events[STATS_EVENTS]; /* newest first */
	size_t n_events;
	/* Read/write routing: decisions by target (0 primary, 1 replica) and
	 * reason since start, and the rules with their hits. */
	uint64_t route_decisions[2][ROUTE_R__COUNT];
	struct stats_rule_row *rules;
	size_t n_rules;
	/* Failover per cluster (health/failover.c). */
	struct health_failover_info *failovers;
	size_t n_failovers;
	bool healthy;
	char health_reason[128];
};

/* ---- process-wide (main) ---- */
int stats_global_init(struct stats_global *g);
void stats_global_destroy(struct stats_global *g);
/* Append an event (any thread). */
void stats_event(struct stats_global *g, const char *level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Record a reload's result (main thread). */
void stats_reload_result(struct stats_global *g, bool ok, const char *detail);

/* ---- workers (their own thread) ---- */
/* Create the lock and the publish timer on w->base; publish once. */
int stats_worker_init(struct worker *w);
void stats_worker_free(struct worker *w);
/* Build and publish a snapshot now. */
void stats_publish(struct worker *w);
/* Count the bytes a client bufferevent of protocol `p` receives and sends. */
void stats_watch_client(struct worker *w, enum stats_proto p, struct bufferevent *bev);
/* An error went to a client of protocol `p` (the SQLSTATE it carried);
 * class 28 also counts a login failure. */
void stats_client_error(struct worker *w, enum stats_proto p, const char *sqlstate);
void stats_observe_query(struct worker *w, enum stats_proto p, int64_t ms);
void stats_observe_wait(struct worker *w, enum stats_proto p, int64_t ms);
/* Ask the worker owning client `id` to close it. Returns 0 when queued,
 * -1 when no such worker or the queue is full. */
int stats_request_kill(struct proxy *px, uint32_t id);
/* Run the queued kills (the worker's thread, on WORKER_CMD_KILL). */
void stats_worker_run_kills(struct worker *w);

/* ---- readers (any thread) ---- */
/* Ask every worker for client and server rows: opens the rows lease and
 * pokes the workers (WORKER_CMD_PUBLISH). Returns the request's number. */
uint64_t stats_rows_request(struct proxy *px);
/* Has every running worker published rows built after request `gen`? */
bool stats_rows_ready(struct proxy *px, uint64_t gen);
#define STATS_WANT_ROWS 1     /* also collect client and server rows */
#define STATS_WANT_QUERIES 2  /* also collect query statistics */
/* Sum every worker's published snapshot into `v` (zeroed first). */
int stats_collect(struct proxy *px, struct stats_view *v, int flags);
void stats_view_free(struct stats_view *v);
/* Set v->t and v->clients to the sum of v->proto[] (stats_collect does;
 * for views built by hand). */
void stats_view_sum_protocols(struct stats_view *v);

/* ---- renderers (pure) ---- */
void stats_render_prometheus(const struct stats_view *v, struct buf *out);
void stats_render_json(const struct stats_view *v, struct buf *out);
void stats_render_html(const struct stats_view *v, int refresh_s, struct buf *out);
/* /queries.json: {"queries":[…], "capacity":…, "evicted":…, …}. */
void stats_render_queries_json(const struct stats_view *v, struct buf *out);
/* Escapers, exposed for tests: append s escaped for a Prometheus label
 * value, a JSON string (without quotes), HTML text. */
void stats_put_label_value(struct buf *out, const char *s);
void stats_put_json_string(struct buf *out, const char *s);
void stats_put_html(struct buf *out, const char *s);
/* A node's lag for people: "12 ms", "unknown", "stopped" (replication
 * threads not running), "n/a" (not probed). Returns out. */
char *stats_format_lag(const struct stats_node_row *n, char *out, size_t cap);

#endif
