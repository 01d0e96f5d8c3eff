/*
 * proxy.h — the process-wide object and the worker threads.
 *
 * `struct proxy` is created by main and shared by all threads. Its mutable
 * parts are few and each has an owner: the current config snapshot and
 * TLS contexts (swapped by main under `lock`, read by workers under it),
 * the client counter (atomic), the cancel registry (its own lock).
 *
 * `struct worker` is owned by its thread: its event_base, listeners,
 * client sessions and server pools are touched only from that thread.
 * Other threads talk to a worker by writing a one-byte command to its
 * notify pipe (worker_notify()).
 */
#ifndef SWITCHYARD_PROXY_H
#define SWITCHYARD_PROXY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "proxy/cancel.h"
#include "proxy/mysql/my_kill.h"
#include "proxy/stats.h"
#include "util/kvpack.h"
#include "util/list.h"

struct event_base;
struct event;
struct evconnlistener;
struct tls_contexts;
struct pool_set;

#define PROXY_MAX_PAUSED 64

struct proxy {
	pthread_mutex_t lock;         /* guards cfg and tls */
	struct cfg *cfg;              /* current snapshot (holds a reference) */
	struct tls_contexts *tls;     /* built from cfg; refcounted */
	atomic_int n_clients;         /* across workers, for max_client_conn */
	atomic_bool shutting_down;
	atomic_int workers_running;   /* worker event loops not yet finished */
	struct cancel_registry cancels;
	int n_workers;
	struct worker *workers;
	struct cfg *listen_cfg;       /* the snapshot listeners were opened from (listen changes need a restart) */
	int *listen_fds;              /* one per [listen.*]: the shared unix socket, or -1 */
	struct stats_global *stats;   /* owned by main: start time, reloads, events (own lock) */
	/* Admin PAUSE: clients of a paused cluster wait for a server until
	 * RESUME. The names are guarded by `lock`; `paused_any` is read
	 * first so that the query path takes no lock while nothing is paused. */
	atomic_bool paused_any;
	bool paused_all;              /* PAUSE without a name */
	char paused[PROXY_MAX_PAUSED][64];
	int n_paused;
	/* Client/server rows for the admin console (stats.h): the newest
	 * request's number and the end of the lease (monotonic ms). */
	atomic_uint_fast64_t rows_req;
	atomic_int_fast64_t rows_lease_ms;
};

/* Commands written to a worker's notify pipe. */
enum worker_cmd {
	WORKER_CMD_RELOAD = 'r',      /* pick up proxy->cfg */
	WORKER_CMD_SHUTDOWN = 's',    /* stop accepting, exit when clients are gone */
	WORKER_CMD_STOP = 'x',        /* exit now, closing everything */
	WORKER_CMD_KILL = 'k',        /* close the clients queued in stats.kills (admin KILL) */
	WORKER_CMD_RESUME = 'u',      /* admin RESUME: give held clients their server */
	WORKER_CMD_MY_KILL = 'm',     /* run the MySQL KILLs queued in my_kills */
	WORKER_CMD_PG_CANCEL = 'c',   /* run the PostgreSQL cancels queued for it (cancel.h) */
	WORKER_CMD_PUBLISH = 'p',     /* publish a stats snapshot now (rows asked for: stats.h) */
};

/* Per-worker counters: written by the worker thread only, without locks;
 * read (racily but harmlessly, as whole 64-bit words) for stats. */
struct worker_counters {
	uint64_t clients_accepted;
	uint64_t clients_refused;
	uint64_t login_failures;
	uint64_t queries;
	uint64_t transactions;
	uint64_t pins;
	uint64_t pipelined;   /* statements sent behind another client's (pg_batch.c) */
};

struct worker {
	int id;
	struct worker_counters counters[STATS_PROTO_N]; /* by client protocol (proxy/stats.h) */
	struct proxy *proxy;
	pthread_t thread;
	struct event_base *base;
	struct cfg *cfg;              /* this worker's reference to the current snapshot */
	struct tls_contexts *tls;     /* this worker's reference */
	int notify_fds[2];
	struct event *notify_ev;
	struct evconnlistener **listeners;
	void **listener_args;         /* each listener's context, freed with it */
	int n_listeners;
	struct list clients;          /* every live PostgreSQL client session */
	struct list dead;             /* closed objects freed at the end of the loop turn */
	struct list my_clients;       /* every live MySQL client session */
	struct list my_dead;          /* closed MySQL clients, freed at the end of the loop turn */
	struct event *reap_ev;        /* runs the deferred frees */
	struct event *sweep_ev;       /* periodic client timeouts */
	struct pool_set *pools;
	bool draining;                /* shutdown requested: exit when no clients */
	uint32_t next_client_id;
	struct stats_worker stats;    /* own counters; published snapshot under stats.lock */
	struct my_kill_box my_kills;  /* MySQL KILL: this worker's client ids, queued requests (own lock) */
	struct kvpack_cache params;   /* parameter lists its sessions share (util/kvpack.h) */
};

/* Create listeners, pools and the event loop of each worker; start them. */
int workers_start(struct proxy *px);
/* Write a command to every worker. */
void workers_notify(struct proxy *px, enum worker_cmd cmd);
/* Join all worker threads and free them. */
void workers_join(struct proxy *px);

/* Milliseconds, from the event loop's cached clock (cheap: no syscall). */
int64_t worker_now_ms(struct worker *w);

/* Schedule a run of the deferred-free list at the end of this loop turn. */
void worker_schedule_reap(struct worker *w);

/* Is the cluster paused (admin PAUSE)? Lock-free while nothing is. */
bool proxy_cluster_paused(struct proxy *px, const char *cluster);
/* PAUSE `cluster` (NULL: all). 0, or -1 with a message in err. */
int proxy_pause(struct proxy *px, const char *cluster, char *err, size_t errlen);
/* RESUME `cluster` (NULL: all) and tell the workers. 0, or -1 with err. */
int proxy_resume(struct proxy *px, const char *cluster, char *err, size_t errlen);

/* Take a reference to the proxy's current config / TLS contexts. */
struct cfg *proxy_cfg_get(struct proxy *px);
struct tls_contexts *proxy_tls_get(struct proxy *px);

#endif
