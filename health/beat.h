/*
 * beat.h — the pure part of the health thread: what a heartbeat or a
 * position read answered, and the up/down counting state machine.
 *
 * No sockets, no event loop, no logging: the probes (probe_pg.c,
 * probe_my.c) turn wire answers into text values and hand them here; the
 * health loop (health.c) applies the result to a struct node_state. Unit
 * tests drive these functions directly (tests/unit/test_health_beat.c).
 */
#ifndef SWITCHYARD_HEALTH_BEAT_H
#define SWITCHYARD_HEALTH_BEAT_H

#include <stdbool.h>
#include <stdint.h>

#include "health/health.h"
#include "router/position.h"

/* Lag reported for a replica whose replication threads are stopped: it
 * serves stale data for ever, so it must fail any max_replica_lag. */
#define HEALTH_LAG_STALLED (INT64_MAX / 2)

/* What one answer said. Fields not asked by the query stay unset. */
struct health_beat {
	enum node_role role;          /* NODE_ROLE_UNKNOWN: not reported */
	bool has_lag;
	int64_t lag_ms;               /* -1 unknown; HEALTH_LAG_STALLED */
	bool has_pos;
	struct position pos;
};

/* HEALTH_Q_COMMAND: the probe's `command` text (failover.c: promote,
 * repoint, fence); its answer carries no beat, only the first value of
 * the first row, if any, as the event's msg. */
enum health_query { HEALTH_Q_NONE = 0, HEALTH_Q_BEAT, HEALTH_Q_POSITION, HEALTH_Q_COMMAND };

/* ---- PostgreSQL ---- */

/* The heartbeat query: (in_recovery, position, lag_ms). See
 * docs/monitoring.md "Health checks" for the lag definition. */
extern const char health_pg_beat_sql[];
/* The position read: the replayed LSN on a replica, the current one on a
 * primary. */
extern const char health_pg_position_sql[];

/* Parse the heartbeat row; vals[i] NULL is SQL NULL. 0 or -1 (then *out
 * holds what could be read and `why` says what was wrong). */
int health_pg_parse_beat(const char *const vals[3], struct health_beat *out, const char **why);
/* Parse the position row (one value). 0 or -1. */
int health_pg_parse_position(const char *val, struct health_beat *out, const char **why);

/* ---- MariaDB / MySQL ---- */

enum health_my_flavor { HEALTH_MY_MARIADB = 0, HEALTH_MY_MYSQL };

/* Flavor and statement choice from the handshake's server version
 * ("5.5.5-10.11.6-MariaDB", "8.0.36"). */
enum health_my_flavor health_my_flavor_of(const char *server_version);
/* The heartbeat: "SELECT @@read_only, <pos on replica>, <pos on primary>;
 * SHOW SLAVE STATUS" (REPLICA STATUS on MySQL >= 8.0.22). Static text. */
const char *health_my_beat_sql(enum health_my_flavor f, const char *server_version);
/* The position read for a node of `role`. Static text. */
const char *health_my_position_sql(enum health_my_flavor f, enum node_role role);

/* The replication status row (SHOW SLAVE/REPLICA STATUS), as text. */
struct health_my_replica {
	bool present;                 /* a row came back: replication is configured */
	const char *io_running;       /* "Yes", "No", "Connecting"; NULL: NULL */
	const char *sql_running;
	const char *seconds_behind;   /* NULL: NULL */
};

/* The heartbeat: read_only ("0"/"1"), the replica and primary GTID
 * positions, and the replication row. Role: read_only=1 is a replica.
 * Lag: a primary 0; a replica without a replication row 0 (nothing to
 * lag behind); IO or SQL thread not running HEALTH_LAG_STALLED;
 * Seconds_Behind_Master NULL -1 (unknown); else seconds * 1000.
 * 0 or -1. */
int health_my_parse_beat(enum health_my_flavor f, const char *read_only, const char *replica_pos,
			 const char *primary_pos, const struct health_my_replica *rs,
			 struct health_beat *out, const char **why);
/* The position read (one value). 0 or -1. */
int health_my_parse_position(enum health_my_flavor f, const char *val, struct health_beat *out,
			     const char **why);

/* ---- up/down ---- */

enum health_transition { HEALTH_NO_CHANGE = 0, HEALTH_WENT_DOWN, HEALTH_CAME_UP };

/* Count one heartbeat of `n`: `ok` or failed, at wall-clock `now_ms`.
 * A good beat resets `missed`, sets last_beat_ms and, while the node is
 * down, counts towards up_after consecutive good beats; a failed beat
 * counts in `missed` and resets the good streak; down_after consecutive
 * failures mark an up node down. Values below 1 count as 1. Only the
 * calling thread (the health thread) writes these fields. */
enum health_transition health_beat_result(struct node_state *n, bool ok, int64_t now_ms,
					  int down_after, int up_after);

/* Store what a beat or position read said into `n` (role and lag as
 * atomics; the position under n->mu with pos_ms = mono_ms). Returns true
 * when the role changed. */
bool health_apply(struct node_state *n, const struct health_beat *b, int64_t mono_ms);

/* Set n->last_error (under n->mu). */
void health_set_error(struct node_state *n, const char *msg);

const char *health_role_name(enum node_role r);

#endif
