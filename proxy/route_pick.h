/*
 * route_pick.h — which node of a cluster serves a client's next request.
 *
 * The glue between the pure router (classification, rules, replica
 * choice, positions), the health thread's node states and a client
 * session, shared by the PostgreSQL and MySQL paths. A session keeps a
 * `struct route_session`; at each transaction start it calls route_pick()
 * with the text of the first statement (or NULL when there is none, e.g.
 * the login) and gets a node index into cl->nodes, a wait (read-your-
 * writes: no replica has replayed the client's last write yet, ryw_wait
 * not over), or a refusal (replica_fallback = error).
 *
 * Order of precedence, as in DESIGN.md: a comment hint, the session's
 * `SET switchyard.route`, the first matching [route.*] rule, the user's
 * default_target, then the built-in classification. Reads that go to a
 * replica honour read-your-writes and monotonic reads; the state for that
 * lives in the session (consistency_scope = connection) or in the shared
 * store under the user, client address or application key.
 *
 * Every decision is counted by target and reason (route_counters).
 */
#ifndef SWITCHYARD_ROUTE_PICK_H
#define SWITCHYARD_ROUTE_PICK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "router/classify.h"
#include "router/consistency.h"
#include "router/rules.h"

struct pool_set;

enum route_reason {
	ROUTE_R_ONLY_NODE = 0,   /* the cluster has no replica (or no primary) */
	ROUTE_R_LOGIN,           /* no statement yet: login, or an unknown message */
	ROUTE_R_CLASS,           /* built-in classification */
	ROUTE_R_TXN,             /* BEGIN [READ ONLY] */
	ROUTE_R_RULE,            /* a [route.*] rule */
	ROUTE_R_HINT,            /* a comment hint */
	ROUTE_R_SESSION,         /* SET switchyard.route */
	ROUTE_R_USER,            /* default_target = replica */
	ROUTE_R_SPLIT_OFF,       /* read_write_split = off */
	ROUTE_R_RYW,             /* read forced to the primary by read-your-writes */
	ROUTE_R_LAG,             /* no replica within max_replica_lag: primary */
	ROUTE_R_DOWN,            /* no replica up: primary */
	ROUTE_R__COUNT
};

enum route_outcome {
	ROUTE_GO = 0,            /* serve it on node `node` */
	ROUTE_WAIT,              /* retry in retry_ms: a replica is catching up (ryw_wait),
	                          * or a failover is under way (failover_wait) */
	ROUTE_REFUSE,            /* replica_fallback = error and no replica usable */
};

struct route_decision {
	enum route_outcome outcome;
	int node;                /* index into cl->nodes */
	bool primary;            /* `node` is the current primary (health_primary_of) */
	int retry_ms;            /* ROUTE_WAIT: when to ask again */
	enum route_reason reason;
	bool read;               /* served as a read (replica or any) */
	bool wrote;              /* a write that may change data (RYW must learn its position) */
	const char *rule;        /* the matching rule's name, or NULL */
	char refuse_msg[160];
};

/* Per session routing state. */
struct route_session {
	struct consistency cons;       /* consistency_scope = connection */
	enum cfg_target session_route; /* SET switchyard.route; NONE = default */
	char *key;                     /* application key (scope = key); owned */
	char client_ip[64];
	unsigned rr;                   /* load-balancing cursor */
	int64_t wait_deadline_ms;      /* while waiting for a replica (0: not waiting) */
	int64_t primary_wait_deadline_ms; /* while waiting for a failover (0: not waiting) */
	int last_node;                 /* node of the last decision, -1 none */
	bool last_read;
};

/* The routing state of a new session of cluster `cl`, or NULL when the
 * cluster has no replica to route to (or out of memory: *oom is set). */
struct route_session *route_session_new(const struct cfg_cluster *cl, const char *client_addr, bool *oom);
void route_session_destroy(struct route_session *rs);
/* Set the application key (consistency_scope = key); len bytes of k. */
void route_session_set_key(struct route_session *rs, const char *k, size_t len);

struct route_request {
	const struct cfg *cfg;
	const struct cfg_cluster *cl;
	const char *user;               /* client user name */
	const struct cfg_user *u;
	const char *database;
	enum route_dialect dialect;
	const char *sql;                /* first statement text or NULL */
	size_t sql_len;
	const struct route_stmt *stmt;  /* its classification (NULL: classify sql here) */
	struct pool_set *pools;         /* for least_connections (may be NULL) */
	int64_t now_ms;                 /* monotonic-enough wall clock (worker_now_ms) */
};

void route_pick(struct route_session *rs, const struct route_request *rq, struct route_decision *d);

/* A transaction that wrote ended; `p` is the commit's position (POS_NONE
 * when unknown: read-your-writes then falls back to ryw_window). */
void route_note_write(struct route_session *rs, const struct cfg_cluster *cl, const char *user,
		      const struct position *p, int64_t now_ms);

/* Does the cluster route reads at all (has replicas, split on)? */
bool route_cluster_splits(const struct cfg_cluster *cl);

/* Compiled rules of a snapshot (compiled on first use, kept with it). */
struct route_rules *route_rules_of(const struct cfg *c);

/* Shared consistency store (scopes user, client_addr, key); expired by
 * route_expire(), which a worker calls periodically. */
void route_expire(int64_t now_ms);

/* Decisions so far, by target (0 primary, 1 replica) and reason. */
extern atomic_ullong route_counters[2][ROUTE_R__COUNT];
const char *route_reason_name(enum route_reason r);

#endif
