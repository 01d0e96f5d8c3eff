/*
 * health.h — the health thread: heartbeats, replication positions, lag.
 *
 * One thread with its own event_base (or plain poll loop) keeps a monitor
 * connection to every node of every cluster in the config (logging in as
 * the cluster's monitor_user / monitor_password) and:
 *   - every heartbeat_interval asks the node its role and lag
 *     (PostgreSQL: pg_is_in_recovery(), the replay lag; MariaDB/MySQL:
 *     @@read_only, SHOW SLAVE STATUS Seconds_Behind_Master);
 *     down_after missed or failed beats mark it down, up_after good ones
 *     bring it back;
 *   - every replica_position_interval reads its position
 *     (PostgreSQL: pg_last_wal_replay_lsn() on replicas,
 *     pg_current_wal_lsn() on the primary; MariaDB: @@gtid_slave_pos on
 *     replicas, @@gtid_binlog_pos on the primary; MySQL: @@gtid_executed).
 * Workers read node state without blocking: scalar fields are atomics,
 * the position is copied under the node's mutex.
 *
 * Node states are never freed while the process runs (a reload that
 * removes a node just stops probing it), so a pointer from
 * health_node() stays valid for the life of the process.
 */
#ifndef SWITCHYARD_HEALTH_H
#define SWITCHYARD_HEALTH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "router/position.h"

enum node_role { NODE_ROLE_UNKNOWN = 0, NODE_ROLE_PRIMARY, NODE_ROLE_REPLICA };

struct node_state {
	enum cfg_protocol protocol;
	struct cfg_addr addr;
	atomic_bool up;               /* starts true: a node is trusted until beats fail */
	atomic_int role;              /* enum node_role, as the node reports it */
	atomic_llong lag_ms;          /* -1: unknown */
	atomic_llong last_beat_ms;    /* wall clock (ms) of the last good beat; 0 none */
	atomic_ullong beats_ok, beats_failed, position_reads;
	atomic_int missed;            /* consecutive failed beats */
	atomic_llong beat_rtt_us;     /* round trip of the last good beat (query sent -> answer parsed); -1 none */
	atomic_int good;              /* consecutive good beats while down (up_after) */
	atomic_bool fenced;           /* an old primary after a failover: no traffic at all */
	pthread_mutex_t mu;           /* guards pos and last_error */
	struct position pos;          /* replayed (replica) / current (primary) */
	int64_t pos_ms;               /* when pos was read (monotonic ms) */
	char last_error[200];
};

/* Start the thread for `c` (takes its own reference). 0 or -1. */
int health_start(const struct cfg *c);
/* A reload: probe the nodes of the new snapshot (new ones are added). */
void health_apply_config(const struct cfg *c);
void health_stop(void);

/* The state of a node by protocol and address (as in the config), or
 * NULL when health has never seen it. Valid for the process lifetime. */
struct node_state *health_node(enum cfg_protocol protocol, const struct cfg_addr *addr);

/* Copy the node's position (under its lock). */
void health_node_position(struct node_state *n, struct position *out, int64_t *read_ms);

/* Ask for a position read of `n` as soon as possible (a client waits for
 * a replica to catch up; ryw_wait). Safe from any thread. */
void health_poke(struct node_state *n);

/* Visit every node (for stats). */
void health_foreach(void (*fn)(struct node_state *n, void *arg), void *arg);

/* Where the health thread's events go besides the log (node down/up,
 * failover steps): main points it at stats_event(). Set before
 * health_start(); fn is called from the health thread. */
void health_set_event_sink(void (*fn)(void *arg, const char *level, const char *text), void *arg);

/* ---- failover (health/failover.c, docs/failover.md) ---- */

/* Which node of `cl` takes writes now: an index into cl->nodes, or -1
 * when there is none at the moment (a failover is under way, or the
 * primary misses heartbeats while failover is on: writes wait up to
 * failover_wait). With failover = off this is 0 when the cluster has a
 * primary, as configured. No lock (atomics and a per-thread cache):
 * meant for the workers' query path. */
int health_primary_of(const struct cfg_cluster *cl);

/* What a cluster's failover did, for stats (copied out). */
struct health_failover_info {
	char cluster[64];
	enum cfg_protocol protocol;
	enum cfg_failover mode;
	char state[24];               /* watching, no_candidate, promoting, command, following */
	char primary[300];            /* the node taking writes now; "" none */
	uint64_t failovers_total;     /* completed failovers */
	uint64_t failures_total;      /* attempts that failed (promotion or command) */
	int64_t last_ms;              /* wall clock of the last attempt's end; 0 none */
	int64_t last_duration_ms;     /* primary marked down -> new primary serving; -1 none */
	char old_primary[300], new_primary[300]; /* of the last attempt */
	char result[200];             /* of the last attempt: "ok", "failed: ...", "" none */
};

/* Visit every cluster the health thread knows (any thread). */
void health_failover_foreach(void (*fn)(const struct health_failover_info *fi, void *arg), void *arg);

#endif
