/*
 * beat.c — parse heartbeat and position answers; count beats into up/down.
 * Pure: see beat.h.
 */
#include "health/beat.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Lag on a PostgreSQL replica (docs/monitoring.md "Health checks"):
 *   - primary: 0;
 *   - a WAL receiver is streaming and everything received is replayed
 *     (replay LSN >= receive LSN; after a restart the receiver starts at
 *     the segment's beginning, behind what was replayed): 0 — the replica is behind the primary
 *     by at most what is on the wire, and an idle primary does not make
 *     an idle replica look late;
 *   - otherwise: now() - pg_last_xact_replay_timestamp(), the age of the
 *     last replayed commit. With no WAL receiver (the link to the primary
 *     is broken) this grows with time even when the replica had replayed
 *     everything: a replica that cannot hear from its primary cannot show
 *     it is current, so it ages out of max_replica_lag. NULL (nothing
 *     replayed since start-up) is unknown (-1).
 */
const char health_pg_beat_sql[] =
	"SELECT pg_is_in_recovery(), "
	"CASE WHEN pg_is_in_recovery() THEN COALESCE(pg_last_wal_replay_lsn(), pg_last_wal_receive_lsn()) "
	"ELSE pg_current_wal_lsn() END, "
	"CASE WHEN NOT pg_is_in_recovery() THEN 0 "
	"WHEN EXISTS (SELECT 1 FROM pg_stat_wal_receiver) "
	"AND pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() THEN 0 "
	"ELSE (EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) * 1000)::bigint END";

const char health_pg_position_sql[] =
	"SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
	"ELSE pg_current_wal_lsn() END";

static int parse_i64(const char *s, int64_t *out)
{
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static void beat_init(struct health_beat *out)
{
	memset(out, 0, sizeof(*out));
	out->lag_ms = -1;
}

int health_pg_parse_beat(const char *const vals[3], struct health_beat *out, const char **why)
{
	beat_init(out);
	*why = NULL;
	if (!vals[0] || (strcmp(vals[0], "t") != 0 && strcmp(vals[0], "f") != 0)) {
		*why = "pg_is_in_recovery() is not a boolean";
		return -1;
	}
	out->role = vals[0][0] == 't' ? NODE_ROLE_REPLICA : NODE_ROLE_PRIMARY;
	out->has_lag = true;
	int64_t lag;
	if (!vals[2])
		out->lag_ms = -1;
	else if (parse_i64(vals[2], &lag) == 0)
		out->lag_ms = lag < 0 ? 0 : lag; /* clock skew between the nodes */
	else {
		*why = "malformed lag";
		return -1;
	}
	if (out->role == NODE_ROLE_PRIMARY)
		out->lag_ms = 0;
	if (vals[1]) {
		if (pos_parse_lsn(vals[1], strlen(vals[1]), &out->pos) < 0) {
			*why = "malformed LSN";
			return -1;
		}
		out->has_pos = true;
	}
	return 0;
}

int health_pg_parse_position(const char *val, struct health_beat *out, const char **why)
{
	beat_init(out);
	*why = NULL;
	if (!val)
		return 0; /* a replica that has replayed nothing yet */
	if (pos_parse_lsn(val, strlen(val), &out->pos) < 0) {
		*why = "malformed LSN";
		return -1;
	}
	out->has_pos = true;
	return 0;
}

/* ---- MariaDB / MySQL ---- */

enum health_my_flavor health_my_flavor_of(const char *server_version)
{
	return server_version && strstr(server_version, "MariaDB") ? HEALTH_MY_MARIADB
								    : HEALTH_MY_MYSQL;
}

const char *health_my_beat_sql(enum health_my_flavor f, const char *server_version)
{
	if (f == HEALTH_MY_MARIADB)
		return "SELECT @@read_only, @@gtid_slave_pos, @@gtid_binlog_pos; SHOW SLAVE STATUS";
	int maj = 0, min = 0, pat = 0;
	if (server_version)
		sscanf(server_version, "%d.%d.%d", &maj, &min, &pat);
	bool replica_kw = maj > 8 || (maj == 8 && (min > 0 || pat >= 22));
	return replica_kw ? "SELECT @@read_only, @@gtid_executed, @@gtid_executed; SHOW REPLICA STATUS"
			  : "SELECT @@read_only, @@gtid_executed, @@gtid_executed; SHOW SLAVE STATUS";
}

const char *health_my_position_sql(enum health_my_flavor f, enum node_role role)
{
	if (f == HEALTH_MY_MYSQL)
		return "SELECT @@gtid_executed";
	return role == NODE_ROLE_PRIMARY ? "SELECT @@gtid_binlog_pos" : "SELECT @@gtid_slave_pos";
}

/* MySQL writes a newline after each comma of a long GTID set. */
static int parse_gtid(enum health_my_flavor f, const char *s, struct position *out)
{
	char tmp[4096];
	size_t n = 0;
	for (const char *p = s; *p; p++) {
		if (isspace((unsigned char)*p))
			continue;
		if (n + 1 >= sizeof(tmp))
			return -1;
		tmp[n++] = *p;
	}
	tmp[n] = '\0';
	return f == HEALTH_MY_MARIADB ? pos_parse_mariadb(tmp, n, out) : pos_parse_mysql(tmp, n, out);
}

int health_my_parse_beat(enum health_my_flavor f, const char *read_only, const char *replica_pos,
			 const char *primary_pos, const struct health_my_replica *rs,
			 struct health_beat *out, const char **why)
{
	beat_init(out);
	*why = NULL;
	int64_t ro;
	if (parse_i64(read_only, &ro) < 0) {
		*why = "@@read_only is not a number";
		return -1;
	}
	out->role = ro ? NODE_ROLE_REPLICA : NODE_ROLE_PRIMARY;
	out->has_lag = true;
	if (out->role == NODE_ROLE_PRIMARY || !rs->present) {
		out->lag_ms = 0;
	} else if (!rs->io_running || strcmp(rs->io_running, "Yes") != 0 || !rs->sql_running ||
		   strcmp(rs->sql_running, "Yes") != 0) {
		out->lag_ms = HEALTH_LAG_STALLED;
	} else if (!rs->seconds_behind) {
		out->lag_ms = -1;
	} else {
		int64_t s;
		if (parse_i64(rs->seconds_behind, &s) < 0) {
			*why = "malformed Seconds_Behind_Master";
			return -1;
		}
		out->lag_ms = s < 0 ? 0 : s * 1000;
	}
	const char *pos = out->role == NODE_ROLE_PRIMARY ? primary_pos : replica_pos;
	if (pos) {
		if (parse_gtid(f, pos, &out->pos) < 0) {
			*why = "malformed or too long GTID position";
			return -1;
		}
		out->has_pos = true;
	}
	return 0;
}

int health_my_parse_position(enum health_my_flavor f, const char *val, struct health_beat *out,
			     const char **why)
{
	beat_init(out);
	*why = NULL;
	if (!val)
		return 0;
	if (parse_gtid(f, val, &out->pos) < 0) {
		*why = "malformed or too long GTID position";
		return -1;
	}
	out->has_pos = true;
	return 0;
}

/* ---- up/down ---- */

enum health_transition health_beat_result(struct node_state *n, bool ok, int64_t now_ms,
					  int down_after, int up_after)
{
	if (down_after < 1)
		down_after = 1;
	if (up_after < 1)
		up_after = 1;
	if (ok) {
		atomic_fetch_add(&n->beats_ok, 1);
		atomic_store(&n->last_beat_ms, now_ms);
		atomic_store(&n->missed, 0);
		if (atomic_load(&n->up))
			return HEALTH_NO_CHANGE;
		int good = atomic_fetch_add(&n->good, 1) + 1;
		if (good < up_after)
			return HEALTH_NO_CHANGE;
		atomic_store(&n->good, 0);
		atomic_store(&n->up, true);
		return HEALTH_CAME_UP;
	}
	atomic_fetch_add(&n->beats_failed, 1);
	atomic_store(&n->good, 0);
	int missed = atomic_fetch_add(&n->missed, 1) + 1;
	if (atomic_load(&n->up) && missed >= down_after) {
		atomic_store(&n->up, false);
		return HEALTH_WENT_DOWN;
	}
	return HEALTH_NO_CHANGE;
}

bool health_apply(struct node_state *n, const struct health_beat *b, int64_t mono_ms)
{
	bool changed = false;
	if (b->role != NODE_ROLE_UNKNOWN)
		changed = atomic_exchange(&n->role, (int)b->role) != (int)b->role;
	if (b->has_lag)
		atomic_store(&n->lag_ms, b->lag_ms);
	if (b->has_pos) {
		pthread_mutex_lock(&n->mu);
		n->pos = b->pos;
		n->pos_ms = mono_ms;
		pthread_mutex_unlock(&n->mu);
	}
	return changed;
}

void health_set_error(struct node_state *n, const char *msg)
{
	pthread_mutex_lock(&n->mu);
	snprintf(n->last_error, sizeof(n->last_error), "%s", msg ? msg : "");
	pthread_mutex_unlock(&n->mu);
}

const char *health_role_name(enum node_role r)
{
	switch (r) {
	case NODE_ROLE_PRIMARY:
		return "primary";
	case NODE_ROLE_REPLICA:
		return "replica";
	default:
		return "unknown";
	}
}
