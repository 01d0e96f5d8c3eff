/*
 * admin.c — the admin console's commands (see admin.h): parsing a command,
 * building each SHOW as columns and rows of text, and running RELOAD,
 * SHUTDOWN, KILL, PAUSE and RESUME. No wire format here: the PostgreSQL
 * and MySQL front ends (pg_admin.c, my_admin.c) encode what comes out.
 */
#include "proxy/admin.h"

#include <assert.h>
#include <ctype.h>
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "proxy/mysql/my_kill.h"
#include "proxy/proxy.h"
#include "proxy/stats.h"
#include "util/log.h"

/* ---- rows ---- */

/* Cells formatted into one scratch area per row. */
#define MAX_COLS 24
struct row {
	char cell[MAX_COLS][192];
	const char *v[MAX_COLS];
	int n;
};

static void cell(struct row *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void cell(struct row *r, const char *fmt, ...)
{
	assert(r->n < MAX_COLS);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->cell[r->n], sizeof(r->cell[r->n]), fmt, ap);
	va_end(ap);
	r->v[r->n] = r->cell[r->n];
	r->n++;
}

static void cell_s(struct row *r, const char *s) { cell(r, "%s", s ? s : ""); }

static void send_row(const struct admin_sink *k, struct row *r)
{
	k->row(k->arg, r->v, r->n);
	r->n = 0;
}

static void fmt_time(int64_t ms, char *out, size_t cap)
{
	if (ms <= 0) {
		snprintf(out, cap, "-");
		return;
	}
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, cap, "%Y-%m-%d %H:%M:%S+00", &tm);
}

/* ---- SHOW from a view ---- */

static size_t show_pools(const struct stats_view *v, const struct admin_sink *k)
{
	static const char *const cols[] = { "cluster", "node", "role", "database", "user", "size", "active",
					    "idle", "connecting", "waiting", "connects", "connect_failures",
					    "last_error" };
	k->columns(k->arg, cols, 13);
	struct row r = { .n = 0 };
	for (size_t i = 0; i < v->n_pools; i++) {
		const struct stats_pool_row *p = &v->pools[i];
		cell_s(&r, p->cluster);
		cell_s(&r, p->node);
		cell_s(&r, p->role);
		cell_s(&r, p->database);
		cell_s(&r, p->user);
		cell(&r, "%d", p->size);
		cell(&r, "%d", p->active);
		cell(&r, "%d", p->idle);
		cell(&r, "%d", p->pending);
		cell(&r, "%d", p->waiting);
		cell(&r, "%" PRIu64, p->opened);
		cell(&r, "%" PRIu64, p->failed);
		cell_s(&r, p->last_error);
		send_row(k, &r);
	}
	return v->n_pools;
}

static size_t show_clients(const struct stats_view *v, const struct admin_sink *k)
{
	static const char *const cols[] = { "id", "worker", "addr", "user", "database", "state",
					    "tls", "connect_time", "queries", "server_id", "protocol" };
	k->columns(k->arg, cols, 11);
	struct row r = { .n = 0 };
	char t[64];
	for (size_t i = 0; i < v->n_client_rows; i++) {
		const struct stats_client_row *c = &v->client_rows[i];
		cell(&r, "%u", c->id);
		cell(&r, "%d", c->worker);
		cell_s(&r, c->addr);
		cell_s(&r, c->user);
		cell_s(&r, c->database);
		cell_s(&r, c->state);
		cell_s(&r, c->tls ? "yes" : "no");
		fmt_time(c->connected_ms, t, sizeof(t));
		cell_s(&r, t);
		cell(&r, "%" PRIu64, c->queries);
		if (c->server_id)
			cell(&r, "%" PRIu64, c->server_id);
		else
			cell_s(&r, "");
		cell_s(&r, stats_proto_name(c->protocol));
		send_row(k, &r);
	}
	return v->n_client_rows;
}

static size_t show_servers(const struct stats_view *v, const struct admin_sink *k)
{
	static const char *const cols[] = { "id", "worker", "node", "database", "user", "state", "tls",
					    "backend_pid", "client_id", "age_s", "idle_s" };
	k->columns(k->arg, cols, 11);
	struct row r = { .n = 0 };
	for (size_t i = 0; i < v->n_server_rows; i++) {
		const struct stats_server_row *s = &v->server_rows[i];
		cell(&r, "%" PRIu64, s->id);
		cell(&r, "%d", s->worker);
		cell_s(&r, s->node);
		cell_s(&r, s->database);
		cell_s(&r, s->user);
		cell_s(&r, s->state);
		cell_s(&r, s->tls ? "yes" : "no");
		cell(&r, "%u", s->backend_pid);
		if (s->client_id)
			cell(&r, "%u", s->client_id);
		else
			cell_s(&r, "");
		cell(&r, "%lld", (long long)(s->age_ms / 1000));
		cell(&r, "%lld", (long long)(s->idle_ms / 1000));
		send_row(k, &r);
	}
	return v->n_server_rows;
}

static size_t show_nodes(const struct stats_view *v, const struct admin_sink *k)
{
	static const char *const cols[] = { "cluster", "node", "role", "protocol", "state", "active", "idle",
					    "connecting", "waiting", "health", "reported_role", "lag",
					    "position", "last_beat_age_s", "heartbeats_ok",
					    "heartbeats_failed", "position_reads", "last_error",
					    "consecutive_failures", "heartbeat_latency_ms", "lag_bytes",
					    "wal_position_bytes" };
	k->columns(k->arg, cols, 22);
	struct row r = { .n = 0 };
	for (size_t i = 0; i < v->n_nodes; i++) {
		const struct stats_node_row *n = &v->nodes[i];
		cell_s(&r, n->cluster);
		cell_s(&r, n->node);
		cell_s(&r, n->role);
		cell_s(&r, n->protocol);
		cell_s(&r, n->state);
		cell(&r, "%d", n->active);
		cell(&r, "%d", n->idle);
		cell(&r, "%d", n->pending);
		cell(&r, "%d", n->waiting);
		char lag[32];
		cell_s(&r, n->probed ? (n->up ? "up" : "down") : "");
		cell_s(&r, n->probed ? n->reported_role : "");
		cell_s(&r, stats_format_lag(n, lag, sizeof(lag)));
		cell_s(&r, n->position);
		if (n->probed && n->last_beat_ms)
			cell(&r, "%.1f", (double)(v->now_ms - n->last_beat_ms) / 1000.0);
		else
			cell_s(&r, "");
		cell(&r, "%" PRIu64, n->beats_ok);
		cell(&r, "%" PRIu64, n->beats_failed);
		cell(&r, "%" PRIu64, n->position_reads);
		cell_s(&r, n->health_error);
		if (n->probed)
			cell(&r, "%d", n->consecutive_failures);
		else
			cell_s(&r, "");
		if (n->probed && n->beat_rtt_us >= 0)
			cell(&r, "%.3f", (double)n->beat_rtt_us / 1000.0);
		else
			cell_s(&r, "");
		if (n->probed && n->has_lsn && n->lag_bytes >= 0)
			cell(&r, "%" PRId64, n->lag_bytes);
		else
			cell_s(&r, "");
		if (n->probed && n->has_lsn)
			cell(&r, "%" PRIu64, n->lsn);
		else
			cell_s(&r, "");
		send_row(k, &r);
	}
	return v->n_nodes;
}

static void stat_row(const struct admin_sink *k, size_t *n, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void stat_row(const struct admin_sink *k, size_t *n, const char *name, const char *fmt, ...)
{
	char value[192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	const char *vals[2] = { name, value };
	k->row(k->arg, vals, 2);
	(*n)++;
}

static size_t show_stats(const struct stats_view *v, const struct admin_sink *k)
{
	static const char *const cols[] = { "name", "value" };
	k->columns(k->arg, cols, 2);
	const struct stats_totals *t = &v->t;
	size_t n = 0;
	stat_row(k, &n, "uptime_seconds", "%.0f", v->uptime_s);
	stat_row(k, &n, "clients", "%d", v->clients_total);
	for (int i = 0; i < STATS_CL_N; i++) {
		char name[48];
		snprintf(name, sizeof(name), "clients_%s", stats_client_kind_name((enum stats_client_kind)i));
		stat_row(k, &n, name, "%d", v->clients[i]);
	}
	stat_row(k, &n, "clients_accepted_total", "%" PRIu64, t->clients_accepted);
	stat_row(k, &n, "clients_refused_total", "%" PRIu64, t->clients_refused);
	stat_row(k, &n, "login_failures_total", "%" PRIu64, t->login_failures);
	stat_row(k, &n, "queries_total", "%" PRIu64, t->queries);
	stat_row(k, &n, "transactions_total", "%" PRIu64, t->transactions);
	stat_row(k, &n, "pins_total", "%" PRIu64, t->pins);
	stat_row(k, &n, "pipelined_total", "%" PRIu64, t->pipelined);
	stat_row(k, &n, "qps", "%.1f", v->qps);
	stat_row(k, &n, "tps", "%.1f", v->tps);
	stat_row(k, &n, "client_received_bytes_total", "%" PRIu64, t->c.bytes_in);
	stat_row(k, &n, "client_sent_bytes_total", "%" PRIu64, t->c.bytes_out);
	stat_row(k, &n, "avg_query_ms", "%.2f",
		 t->c.query_time.count ? (double)t->c.query_time.sum_ms / (double)t->c.query_time.count : 0.0);
	stat_row(k, &n, "avg_wait_ms", "%.2f",
		 t->c.wait_time.count ? (double)t->c.wait_time.sum_ms / (double)t->c.wait_time.count : 0.0);
	stat_row(k, &n, "server_connects_total", "%" PRIu64, t->servers_opened);
	stat_row(k, &n, "server_connect_failures_total", "%" PRIu64, t->servers_failed);
	for (int e = 0; e < STATS_ERR_N; e++) {
		char name[64];
		snprintf(name, sizeof(name), "errors_%s_total", stats_err_class_name((enum stats_err_class)e));
		stat_row(k, &n, name, "%" PRIu64, t->c.errors[e]);
	}
	stat_row(k, &n, "config_generation", "%" PRIu64, v->generation);
	stat_row(k, &n, "reloads_ok_total", "%" PRIu64, v->reloads_ok);
	stat_row(k, &n, "reloads_failed_total", "%" PRIu64, v->reloads_failed);
	stat_row(k, &n, "paused", "%s", v->paused[0] ? v->paused : "none");
	stat_row(k, &n, "resident_memory_bytes", "%" PRIu64, v->rss_bytes);
	stat_row(k, &n, "open_fds", "%" PRIu64, v->open_fds);
	return n;
}

static size_t show_events(const struct stats_view *v, const struct admin_sink *k)
{
	static const char *const cols[] = { "time", "level", "event" };
	k->columns(k->arg, cols, 3);
	char t[64];
	for (size_t i = 0; i < v->n_events; i++) {
		fmt_time(v->events[i].time_ms, t, sizeof(t));
		const char *vals[3] = { t, v->events[i].level, v->events[i].text };
		k->row(k->arg, vals, 3);
	}
	return v->n_events;
}

static size_t show_version(const struct stats_view *v, const struct admin_sink *k)
{
	static const char *const cols[] = { "version" };
	k->columns(k->arg, cols, 1);
	struct row r = { .n = 0 };
	cell(&r, "switchyard %s", v->version);
	send_row(k, &r);
	return 1;
}

/* SHOW ROUTES: the routing rules with their hits, then the decisions
 * by target and reason. */
static size_t show_routes(const struct stats_view *v, const struct admin_sink *k)
{
	static const char *const cols[] = { "kind", "cluster", "name", "match", "target", "count" };
	k->columns(k->arg, cols, 6);
	struct row r = { .n = 0 };
	size_t n = 0;
	for (size_t i = 0; i < v->n_rules; i++, n++) {
		const struct stats_rule_row *x = &v->rules[i];
		cell_s(&r, "rule");
		cell_s(&r, x->cluster);
		cell_s(&r, x->name);
		cell_s(&r, x->match);
		cell_s(&r, x->target);
		cell(&r, "%" PRIu64, x->hits);
		send_row(k, &r);
	}
	static const char *const targets[2] = { "primary", "replica" };
	for (int t = 0; t < 2; t++)
		for (int i = 0; i < ROUTE_R__COUNT; i++) {
			if (v->route_decisions[t][i] == 0)
				continue;
			cell_s(&r, "decision");
			cell_s(&r, "");
			cell_s(&r, route_reason_name((enum route_reason)i));
			cell_s(&r, "");
			cell_s(&r, targets[t]);
			cell(&r, "%" PRIu64, v->route_decisions[t][i]);
			send_row(k, &r);
			n++;
		}
	return n;
}

/* SHOW QUERIES: per normalized statement and target, by total time, at
 * most ADMIN_MAX_QUERIES rows. The query cell is sent whole (up to
 * QN_MAX bytes), not through the 192-byte row cells. */
#define ADMIN_MAX_QUERIES 100
static size_t show_queries(const struct stats_view *v, const struct admin_sink *k)
{
	static const char *const cols[] = { "query", "target", "calls", "total_ms", "mean_ms",
					    "max_ms", "rows", "errors" };
	k->columns(k->arg, cols, 8);
	size_t n = v->n_queries < ADMIN_MAX_QUERIES ? v->n_queries : ADMIN_MAX_QUERIES;
	for (size_t i = 0; i < n; i++) {
		const struct qs_entry *q = &v->queries[i];
		char target[QS_NODE_MAX + 16], calls[24], total[32], mean[32], max[32], rows[24], errs[24];
		snprintf(target, sizeof(target), "%s (%s)", q->node, q->primary ? "primary" : "replica");
		snprintf(calls, sizeof(calls), "%" PRIu64, q->calls);
		snprintf(total, sizeof(total), "%.3f", (double)q->total_us / 1000.0);
		snprintf(mean, sizeof(mean), "%.3f", q->calls ? (double)q->total_us / 1000.0 / (double)q->calls : 0.0);
		snprintf(max, sizeof(max), "%.3f", (double)q->max_us / 1000.0);
		snprintf(rows, sizeof(rows), "%" PRIu64, q->rows);
		snprintf(errs, sizeof(errs), "%" PRIu64, q->errors);
		const char *vals[8] = { q->query, target, calls, total, mean, max, rows, errs };
		k->row(k->arg, vals, 8);
	}
	return n;
}

int admin_show_view(const struct stats_view *v, const char *what, const struct admin_sink *sink,
		    size_t *rows)
{
	size_t n;
	if (strcasecmp(what, "pools") == 0)
		n = show_pools(v, sink);
	else if (strcasecmp(what, "clients") == 0)
		n = show_clients(v, sink);
	else if (strcasecmp(what, "servers") == 0)
		n = show_servers(v, sink);
	else if (strcasecmp(what, "nodes") == 0)
		n = show_nodes(v, sink);
	else if (strcasecmp(what, "routes") == 0)
		n = show_routes(v, sink);
	else if (strcasecmp(what, "queries") == 0)
		n = show_queries(v, sink);
	else if (strcasecmp(what, "stats") == 0)
		n = show_stats(v, sink);
	else if (strcasecmp(what, "events") == 0)
		n = show_events(v, sink);
	else if (strcasecmp(what, "version") == 0)
		n = show_version(v, sink);
	else
		return -1;
	*rows = n;
	return 0;
}

static size_t show_help(const struct admin_sink *k)
{
	static const char *const cols[] = { "command", "what it does" };
	static const char *const help[][2] = {
		{ "SHOW POOLS", "server connection pools: size, active, idle, connecting, waiting clients" },
		{ "SHOW CLIENTS", "client sessions" },
		{ "SHOW SERVERS", "server connections" },
		{ "SHOW NODES", "configured nodes: role, connection state, health (heartbeats, lag, position)" },
		{ "SHOW ROUTES", "routing rules with their hits, and routing decisions by target and reason" },
		{ "SHOW QUERIES", "per normalized statement and target: calls, total/mean/max ms, rows, errors (top 100 by total time)" },
		{ "SHOW STATS", "totals: clients, queries, transactions, bytes, errors, timings" },
		{ "SHOW CONFIG", "the settings in use" },
		{ "SHOW EVENTS", "recent events (reloads, server connection failures, kills)" },
		{ "SHOW VERSION", "the proxy's version" },
		{ "RELOAD", "reload the configuration file (as SIGHUP)" },
		{ "PAUSE [cluster]", "hold new transactions (of one cluster, or all); answers once open ones have finished" },
		{ "RESUME [cluster]", "let held clients go on" },
		{ "KILL id", "close the client with that id (see SHOW CLIENTS)" },
		{ "SHUTDOWN", "stop accepting, let clients finish, exit (as SIGTERM)" },
	};
	size_t n = sizeof(help) / sizeof(help[0]);
	k->columns(k->arg, cols, 2);
	for (size_t i = 0; i < n; i++)
		k->row(k->arg, help[i], 2);
	return n;
}

/* SHOW CONFIG: the settings in use (never a secret). */
static void cfg_row(const struct admin_sink *k, size_t *n, const char *sec, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void cfg_row(const struct admin_sink *k, size_t *n, const char *sec, const char *key, const char *fmt, ...)
{
	char value[192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	const char *vals[3] = { sec, key, value };
	k->row(k->arg, vals, 3);
	(*n)++;
}

static size_t show_config(const struct cfg *c, const struct admin_sink *k)
{
	static const char *const cols[] = { "section", "key", "value" };
	k->columns(k->arg, cols, 3);
	size_t n = 0;
	const struct cfg_global *g = &c->global;
	const char *sy = "switchyard";
	cfg_row(k, &n, sy, "config_file", "%s", c->path ? c->path : "");
	cfg_row(k, &n, sy, "generation", "%" PRIu64, c->generation);
	cfg_row(k, &n, sy, "workers", "%d", g->workers);
	cfg_row(k, &n, sy, "max_client_conn", "%d", g->max_client_conn);
	cfg_row(k, &n, sy, "log_level", "%s", cfg_log_level_name(g->log_level));
	cfg_row(k, &n, sy, "log_format", "%s", cfg_log_format_name(g->log_format));
	cfg_row(k, &n, sy, "stats_listen", "%s", g->stats_listen.text);
	cfg_row(k, &n, sy, "stats_auth", "%s", g->stats_auth ? "(set)" : "");
	cfg_row(k, &n, sy, "stats_tls_cert_file", "%s", g->stats_tls_cert_file ? g->stats_tls_cert_file : "");
	char list[192] = "";
	for (size_t i = 0; i < g->admin_users.n; i++) {
		size_t l = strlen(list);
		snprintf(list + l, sizeof(list) - l, "%s%s", i ? ", " : "", g->admin_users.items[i]);
	}
	cfg_row(k, &n, sy, "admin_users", "%s", list);
	cfg_row(k, &n, sy, "shutdown_timeout", "%lldms", (long long)g->shutdown_timeout_ms);
	cfg_row(k, &n, sy, "max_packet_size", "%" PRIu64, g->max_packet_size);
	cfg_row(k, &n, sy, "client_tls_mode", "%s", cfg_client_tls_name(g->client_tls_mode));
	cfg_row(k, &n, sy, "server_tls_mode", "%s", cfg_server_tls_name(g->server_tls_mode));
	for (size_t i = 0; i < c->n_clusters; i++) {
		const struct cfg_cluster *cl = &c->clusters[i];
		const struct cfg_pool_settings *s = &cl->settings;
		char sec[96];
		snprintf(sec, sizeof(sec), "cluster.%s", cl->name);
		cfg_row(k, &n, sec, "protocol", "%s", cfg_protocol_name(cl->protocol));
		cfg_row(k, &n, sec, "server_database", "%s", cl->server_database ? cl->server_database : "");
		for (size_t j = 0; j < cl->n_nodes; j++)
			cfg_row(k, &n, sec, cl->nodes[j].is_primary ? "primary" : "replica", "%s", cl->nodes[j].addr.text);
		cfg_row(k, &n, sec, "pool_mode", "%s", cfg_pool_mode_name(s->pool_mode));
		cfg_row(k, &n, sec, "pool_size", "%d", s->pool_size);
		cfg_row(k, &n, sec, "min_pool_size", "%d", s->min_pool_size);
		cfg_row(k, &n, sec, "max_db_connections", "%d", s->max_db_connections);
		cfg_row(k, &n, sec, "server_reset_query", "%s", s->server_reset_query ? s->server_reset_query : "");
		cfg_row(k, &n, sec, "server_lifetime", "%lldms", (long long)s->server_lifetime_ms);
		cfg_row(k, &n, sec, "server_idle_timeout", "%lldms", (long long)s->server_idle_timeout_ms);
		cfg_row(k, &n, sec, "server_connect_timeout", "%lldms", (long long)s->server_connect_timeout_ms);
		cfg_row(k, &n, sec, "query_wait_timeout", "%lldms", (long long)s->query_wait_timeout_ms);
		cfg_row(k, &n, sec, "query_timeout", "%lldms", (long long)s->query_timeout_ms);
		cfg_row(k, &n, sec, "idle_transaction_timeout", "%lldms", (long long)s->idle_transaction_timeout_ms);
		cfg_row(k, &n, sec, "client_idle_timeout", "%lldms", (long long)s->client_idle_timeout_ms);
		cfg_row(k, &n, sec, "client_login_timeout", "%lldms", (long long)s->client_login_timeout_ms);
	}
	return n;
}

bool admin_is_admin(const struct cfg *c, const char *user)
{
	for (size_t i = 0; user && i < c->global.admin_users.n; i++)
		if (strcmp(c->global.admin_users.items[i], user) == 0)
			return true;
	return false;
}

/* ---- PAUSE: waiting for open transactions ---- */

#define PAUSE_POLL_MS 100

struct admin_wait {
	struct worker *w;
	struct event *ev;
	char *cluster;                /* PAUSE: NULL: all */
	int64_t start_ms;             /* wall clock when the wait began */
	void (*done)(void *arg);
	void *arg;
	char *query;                  /* rows wait: the command to run again */
	uint64_t rows_gen;            /* ... once every worker answered this request */
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Server connections of the paused cluster(s) still linked to a client,
 * from the published snapshots; -1 while a snapshot predates the PAUSE
 * (a transaction begun just before it may not show yet). */
static int pause_linked(const struct admin_wait *aw)
{
	stats_publish(aw->w);
	struct stats_view v;
	stats_collect(aw->w->proxy, &v, 0);
	int linked = 0;
	if (v.oldest_ms < aw->start_ms) {
		linked = -1;
	} else {
		for (size_t i = 0; i < v.n_pools; i++)
			if (!aw->cluster || strcmp(v.pools[i].cluster, aw->cluster) == 0)
				linked += v.pools[i].active;
	}
	stats_view_free(&v);
	return linked;
}

static void pause_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin_wait *aw = arg;
	if (pause_linked(aw) != 0) {
		struct timeval tv = { 0, PAUSE_POLL_MS * 1000 };
		evtimer_add(aw->ev, &tv);
		return;
	}
	aw->done(aw->arg);
}

static struct admin_wait *pause_wait_start(const struct admin_session *s, const char *name)
{
	struct admin_wait *aw = calloc(1, sizeof(*aw));
	if (!aw)
		return NULL;
	aw->w = s->w;
	aw->done = s->wait_done;
	aw->arg = s->arg;
	aw->cluster = name ? strdup(name) : NULL;
	aw->ev = evtimer_new(s->w->base, pause_poll_cb, aw);
	if ((name && !aw->cluster) || !aw->ev) {
		admin_wait_free(aw);
		return NULL;
	}
	aw->start_ms = wall_ms();
	struct timeval tv = { 0, 0 };
	evtimer_add(aw->ev, &tv);
	return aw;
}

/* ---- rows: waiting for the other workers' (stats.h) ---- */

static void fail(struct admin_result *res, enum admin_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define ROWS_POLL_MS 2

static void rows_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin_wait *aw = arg;
	if (!stats_rows_ready(aw->w->proxy, aw->rows_gen) && wall_ms() - aw->start_ms < ADMIN_ROWS_WAIT_MS) {
		struct timeval tv = { 0, ROWS_POLL_MS * 1000 };
		evtimer_add(aw->ev, &tv);
		return;
	}
	aw->done(aw->arg);
}

/* Make sure the snapshots carry every worker's rows. true: they do (or
 * the session has waited already); false: res is an ADMIN_WAIT (or an
 * out-of-memory error) and the command is to run again later. */
static bool rows_at_hand(const struct admin_session *s, const char *query, struct admin_result *res)
{
	if (s->rows_ready)
		return true;
	uint64_t gen = stats_rows_request(s->w->proxy);
	stats_publish(s->w); /* this worker's rows now (they list this session) */
	if (stats_rows_ready(s->w->proxy, gen))
		return true;
	struct admin_wait *aw = calloc(1, sizeof(*aw));
	if (aw) {
		aw->w = s->w;
		aw->done = s->wait_done;
		aw->arg = s->arg;
		aw->rows_gen = gen;
		aw->start_ms = wall_ms();
		aw->query = strdup(query);
		aw->ev = evtimer_new(s->w->base, rows_poll_cb, aw);
	}
	if (!aw || !aw->query || !aw->ev) {
		admin_wait_free(aw);
		fail(res, ADMIN_ERR_NO_MEMORY, "out of memory");
		return false;
	}
	struct timeval tv = { 0, ROWS_POLL_MS * 1000 };
	evtimer_add(aw->ev, &tv);
	res->wait = aw;
	res->outcome = ADMIN_WAIT;
	return false;
}

void admin_wait_free(struct admin_wait *aw)
{
	if (!aw)
		return;
	if (aw->ev)
		event_free(aw->ev);
	free(aw->cluster);
	free(aw->query);
	free(aw);
}

const char *admin_wait_cluster(const struct admin_wait *aw) { return aw->cluster; }
const char *admin_wait_query(const struct admin_wait *aw) { return aw->query; }

/* ---- commands ---- */

static void fail(struct admin_result *res, enum admin_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct admin_result *res, enum admin_err err, const char *fmt, ...)
{
	res->outcome = ADMIN_ERROR;
	res->err = err;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
	va_end(ap);
}

static void done(struct admin_result *res, const char *tag)
{
	res->outcome = ADMIN_DONE;
	snprintf(res->tag, sizeof(res->tag), "%s", tag);
}

/* Split "word1 word2 rest" (whitespace, trailing ';'s dropped). */
static int split_words(char *q, char **words, int max)
{
	size_t len = strlen(q);
	while (len && (isspace((unsigned char)q[len - 1]) || q[len - 1] == ';'))
		q[--len] = '\0';
	int n = 0;
	char *p = q;
	while (*p && n < max) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		words[n++] = p;
		while (*p && !isspace((unsigned char)*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

static void run_show(const struct admin_session *s, const char *query, const char *what,
		     const struct admin_sink *sink, struct admin_result *res)
{
	struct proxy *px = s->w->proxy;
	res->outcome = ADMIN_TABLE;
	snprintf(res->tag, sizeof(res->tag), "SHOW");
	if (strcasecmp(what, "help") == 0) {
		res->rows = show_help(sink);
		return;
	}
	if (strcasecmp(what, "config") == 0) {
		struct cfg *cfg = proxy_cfg_get(px);
		res->rows = show_config(cfg, sink);
		cfg_unref(cfg);
		return;
	}
	int want = strcasecmp(what, "clients") == 0 || strcasecmp(what, "servers") == 0 ? STATS_WANT_ROWS : 0;
	if (strcasecmp(what, "queries") == 0)
		want = STATS_WANT_QUERIES;
	if (want == STATS_WANT_ROWS) {
		if (!rows_at_hand(s, query, res))
			return;
	} else {
		stats_publish(s->w); /* this worker's part is fresh (and lists this session) */
	}
	struct stats_view v;
	stats_collect(px, &v, want);
	if (admin_show_view(&v, what, sink, &res->rows) < 0)
		fail(res, ADMIN_ERR_SYNTAX, "unknown SHOW \"%s\": SHOW HELP lists the commands", what);
	stats_view_free(&v);
}

/* KILL id: a MySQL client (its worker's KILL registry), else a
 * PostgreSQL one (listed in the snapshots). */
static void run_kill(const struct admin_session *s, const char *query, char **w, int n,
		     struct admin_result *res)
{
	struct proxy *px = s->w->proxy;
	char *end = NULL;
	unsigned long id = n == 2 ? strtoul(w[1], &end, 10) : 0;
	if (n != 2 || !end || *end || id == 0 || id > UINT32_MAX) {
		fail(res, ADMIN_ERR_SYNTAX, "KILL needs a client id (SHOW CLIENTS)");
		return;
	}
	if (id == s->id) {
		fail(res, ADMIN_ERR_SYNTAX, "KILL: that is this session (quit the client instead)");
		return;
	}
	int rc = my_kill_request(px, (uint32_t)id, false, s->user, true);
	if (rc == 0) {
		stats_event(px->stats, "info", "client %lu killed by admin %s", id, s->user);
		done(res, "KILL");
		return;
	}
	if (rc != 1094) {
		fail(res, ADMIN_ERR_BUSY, "KILL refused: the proxy is shutting down, or too many KILLs are queued");
		return;
	}
	if (!rows_at_hand(s, query, res))
		return;
	struct stats_view v;
	stats_collect(px, &v, STATS_WANT_ROWS);
	bool found = false;
	for (size_t i = 0; i < v.n_client_rows; i++)
		if (v.client_rows[i].id == id)
			found = true;
	stats_view_free(&v);
	if (!found)
		fail(res, ADMIN_ERR_NOT_FOUND,
		     "no client with id %lu (SHOW CLIENTS lists them)", id);
	else if (stats_request_kill(px, (uint32_t)id) < 0)
		fail(res, ADMIN_ERR_BUSY, "KILL refused: the proxy is shutting down, or too many KILLs are queued");
	else
		done(res, "KILL");
}

static void run_pause_resume(const struct admin_session *s, char **w, int n, struct admin_result *res)
{
	struct proxy *px = s->w->proxy;
	bool pause = strcasecmp(w[0], "PAUSE") == 0;
	if (n > 2) {
		fail(res, ADMIN_ERR_SYNTAX, "%s takes at most one cluster name", pause ? "PAUSE" : "RESUME");
		return;
	}
	const char *name = n == 2 ? w[1] : NULL;
	char err[200];
	if (!pause) {
		if (proxy_resume(px, name, err, sizeof(err)) < 0) {
			fail(res, ADMIN_ERR_STATE, "RESUME: %s", err);
			return;
		}
		stats_event(px->stats, "info", "RESUME %s by admin %s", name ? name : "(all)", s->user);
		done(res, "RESUME");
		return;
	}
	if (name) {
		struct cfg *cfg = proxy_cfg_get(px);
		bool known = cfg_find_cluster(cfg, name) != NULL;
		cfg_unref(cfg);
		if (!known) {
			fail(res, ADMIN_ERR_NOT_FOUND, "PAUSE: no cluster \"%s\"", name);
			return;
		}
	}
	if (proxy_pause(px, name, err, sizeof(err)) < 0) {
		fail(res, ADMIN_ERR_STATE, "PAUSE: %s", err);
		return;
	}
	stats_event(px->stats, "info", "PAUSE %s by admin %s", name ? name : "(all)", s->user);
	res->wait = pause_wait_start(s, name);
	if (!res->wait) {
		fail(res, ADMIN_ERR_NO_MEMORY, "PAUSE: out of memory (the cluster is paused; RESUME undoes it)");
		return;
	}
	res->outcome = ADMIN_WAIT;
	snprintf(res->tag, sizeof(res->tag), "PAUSE");
}

void admin_run(const struct admin_session *s, char *query, const struct admin_sink *sink,
	       struct admin_result *res)
{
	struct proxy *px = s->w->proxy;
	memset(res, 0, sizeof(*res));
	/* The words are cut out of `query`; a rows wait keeps the text whole. */
	char orig[256];
	snprintf(orig, sizeof(orig), "%s", query);
	char *w[4] = { NULL };
	int n = split_words(query, w, 4);
	if (n == 0) {
		res->outcome = ADMIN_EMPTY;
		return;
	}
	if (!s->rows_ready) /* else logged on the first run */
		log_info("client %u (%s user=%s): admin command: %s%s%s", s->id, s->addr, s->user, w[0],
		 n > 1 ? " " : "", n > 1 ? w[1] : "");
	if (strcasecmp(w[0], "SHOW") == 0) {
		if (n != 2)
			fail(res, ADMIN_ERR_SYNTAX, "SHOW needs one word: SHOW HELP lists them");
		else
			run_show(s, orig, w[1], sink, res);
	} else if (strcasecmp(w[0], "RELOAD") == 0 && n == 1) {
		kill(getpid(), SIGHUP);
		done(res, "RELOAD");
	} else if (strcasecmp(w[0], "SHUTDOWN") == 0 && n == 1) {
		stats_event(px->stats, "info", "SHUTDOWN by admin %s from %s", s->user, s->addr);
		kill(getpid(), SIGTERM);
		done(res, "SHUTDOWN");
	} else if (strcasecmp(w[0], "KILL") == 0) {
		run_kill(s, orig, w, n, res);
	} else if (strcasecmp(w[0], "PAUSE") == 0 || strcasecmp(w[0], "RESUME") == 0) {
		run_pause_resume(s, w, n, res);
	} else {
		fail(res, ADMIN_ERR_SYNTAX, "unknown admin command \"%s\": SHOW HELP lists the commands", w[0]);
	}
}
