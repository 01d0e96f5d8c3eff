/*
 * pg_admin.c — the admin console (see pg_admin.h): login check, the
 * command parser, and the row sets. Every value is sent as text (type
 * oid 25), which psql and drivers show as they would PgBouncer's.
 */
#include "proxy/pg/pg_admin.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "proxy/pg/pg_client.h"
#include "proxy/pg/pg_evbuf.h"
#include "proxy/pg/pgc.h"
#include "proxy/proxy.h"
#include "proxy/stats.h"
#include "util/log.h"

#define ADMIN_MAX_MESSAGE 65536
#define TEXT_OID 25

/* ---- row sets ---- */

static void row_desc(struct buf *b, const char *const *cols, int n)
{
	size_t s = pgc_begin(b, 'T');
	buf_put_u16be(b, (uint16_t)n);
	for (int i = 0; i < n; i++) {
		buf_put_cstr(b, cols[i]);
		buf_put_u32be(b, 0);          /* table oid */
		buf_put_u16be(b, 0);          /* column number */
		buf_put_u32be(b, TEXT_OID);
		buf_put_u16be(b, 0xffff);     /* typlen -1 */
		buf_put_u32be(b, 0xffffffff); /* typmod -1 */
		buf_put_u16be(b, 0);          /* text format */
	}
	pgc_end(b, s);
}

static void data_row(struct buf *b, const char *const *vals, int n)
{
	size_t s = pgc_begin(b, 'D');
	buf_put_u16be(b, (uint16_t)n);
	for (int i = 0; i < n; i++) {
		if (!vals[i]) {
			buf_put_u32be(b, 0xffffffff);
			continue;
		}
		size_t len = strlen(vals[i]);
		buf_put_u32be(b, (uint32_t)len);
		buf_put(b, vals[i], len);
	}
	pgc_end(b, s);
}

static void complete(struct buf *b, const char *tag)
{
	size_t s = pgc_begin(b, 'C');
	buf_put_cstr(b, tag);
	pgc_end(b, s);
}

static void complete_rows(struct buf *b, const char *cmd, size_t n)
{
	char tag[64];
	snprintf(tag, sizeof(tag), "%s %zu", cmd, n);
	complete(b, tag);
}

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

static void send_row(struct buf *b, struct row *r)
{
	data_row(b, r->v, r->n);
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

static void show_pools(const struct stats_view *v, struct buf *b)
{
	static const char *const cols[] = { "cluster", "node", "role", "database", "user", "size", "active",
					    "idle", "connecting", "waiting", "connects", "connect_failures",
					    "last_error" };
	row_desc(b, cols, 13);
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
		send_row(b, &r);
	}
	complete_rows(b, "SHOW", v->n_pools);
}

static void show_clients(const struct stats_view *v, struct buf *b)
{
	static const char *const cols[] = { "id", "worker", "addr", "user", "database", "state",
					    "tls", "connect_time", "queries", "server_id" };
	row_desc(b, cols, 10);
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
		send_row(b, &r);
	}
	complete_rows(b, "SHOW", v->n_client_rows);
}

static void show_servers(const struct stats_view *v, struct buf *b)
{
	static const char *const cols[] = { "id", "worker", "node", "database", "user", "state", "tls",
					    "backend_pid", "client_id", "age_s", "idle_s" };
	row_desc(b, cols, 11);
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
		send_row(b, &r);
	}
	complete_rows(b, "SHOW", v->n_server_rows);
}

static void show_nodes(const struct stats_view *v, struct buf *b)
{
	static const char *const cols[] = { "cluster", "node", "role", "protocol", "state", "active", "idle",
					    "connecting", "waiting", "health", "reported_role", "lag",
					    "position", "last_beat_age_s", "heartbeats_ok",
					    "heartbeats_failed", "position_reads", "last_error" };
	row_desc(b, cols, 18);
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
		send_row(b, &r);
	}
	complete_rows(b, "SHOW", v->n_nodes);
}

static void stat_row(struct buf *b, struct row *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void stat_row(struct buf *b, struct row *r, const char *name, const char *fmt, ...)
{
	cell_s(r, name);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->cell[r->n], sizeof(r->cell[r->n]), fmt, ap);
	va_end(ap);
	r->v[r->n] = r->cell[r->n];
	r->n++;
	send_row(b, r);
}

static void show_stats(const struct stats_view *v, struct buf *b)
{
	static const char *const cols[] = { "name", "value" };
	row_desc(b, cols, 2);
	const struct stats_totals *t = &v->t;
	struct row r = { .n = 0 };
	size_t n = 0;
	stat_row(b, &r, "uptime_seconds", "%.0f", v->uptime_s), n++;
	stat_row(b, &r, "clients", "%d", v->clients_total), n++;
	for (int k = 0; k < STATS_CL_N; k++) {
		char name[48];
		snprintf(name, sizeof(name), "clients_%s", stats_client_kind_name((enum stats_client_kind)k));
		stat_row(b, &r, name, "%d", v->clients[k]), n++;
	}
	stat_row(b, &r, "clients_accepted_total", "%" PRIu64, t->clients_accepted), n++;
	stat_row(b, &r, "clients_refused_total", "%" PRIu64, t->clients_refused), n++;
	stat_row(b, &r, "login_failures_total", "%" PRIu64, t->login_failures), n++;
	stat_row(b, &r, "queries_total", "%" PRIu64, t->queries), n++;
	stat_row(b, &r, "transactions_total", "%" PRIu64, t->transactions), n++;
	stat_row(b, &r, "pins_total", "%" PRIu64, t->pins), n++;
	stat_row(b, &r, "qps", "%.1f", v->qps), n++;
	stat_row(b, &r, "tps", "%.1f", v->tps), n++;
	stat_row(b, &r, "client_received_bytes_total", "%" PRIu64, t->c.bytes_in), n++;
	stat_row(b, &r, "client_sent_bytes_total", "%" PRIu64, t->c.bytes_out), n++;
	stat_row(b, &r, "avg_query_ms", "%.2f",
		 t->c.query_time.count ? (double)t->c.query_time.sum_ms / (double)t->c.query_time.count : 0.0), n++;
	stat_row(b, &r, "avg_wait_ms", "%.2f",
		 t->c.wait_time.count ? (double)t->c.wait_time.sum_ms / (double)t->c.wait_time.count : 0.0), n++;
	stat_row(b, &r, "server_connects_total", "%" PRIu64, t->servers_opened), n++;
	stat_row(b, &r, "server_connect_failures_total", "%" PRIu64, t->servers_failed), n++;
	for (int e = 0; e < STATS_ERR_N; e++) {
		char name[64];
		snprintf(name, sizeof(name), "errors_%s_total", stats_err_class_name((enum stats_err_class)e));
		stat_row(b, &r, name, "%" PRIu64, t->c.errors[e]), n++;
	}
	stat_row(b, &r, "config_generation", "%" PRIu64, v->generation), n++;
	stat_row(b, &r, "reloads_ok_total", "%" PRIu64, v->reloads_ok), n++;
	stat_row(b, &r, "reloads_failed_total", "%" PRIu64, v->reloads_failed), n++;
	stat_row(b, &r, "paused", "%s", v->paused[0] ? v->paused : "none"), n++;
	stat_row(b, &r, "resident_memory_bytes", "%" PRIu64, v->rss_bytes), n++;
	stat_row(b, &r, "open_fds", "%" PRIu64, v->open_fds), n++;
	complete_rows(b, "SHOW", n);
}

static void show_events(const struct stats_view *v, struct buf *b)
{
	static const char *const cols[] = { "time", "level", "event" };
	row_desc(b, cols, 3);
	struct row r = { .n = 0 };
	char t[64];
	for (size_t i = 0; i < v->n_events; i++) {
		fmt_time(v->events[i].time_ms, t, sizeof(t));
		cell_s(&r, t);
		cell_s(&r, v->events[i].level);
		cell_s(&r, v->events[i].text);
		send_row(b, &r);
	}
	complete_rows(b, "SHOW", v->n_events);
}

static void show_version(const struct stats_view *v, struct buf *b)
{
	static const char *const cols[] = { "version" };
	row_desc(b, cols, 1);
	struct row r = { .n = 0 };
	cell(&r, "switchyard %s", v->version);
	send_row(b, &r);
	complete_rows(b, "SHOW", 1);
}

/* SHOW ROUTES: the routing rules with their hits, then the decisions
 * by target and reason. */
static void show_routes(const struct stats_view *v, struct buf *b)
{
	static const char *const cols[] = { "kind", "cluster", "name", "match", "target", "count" };
	row_desc(b, cols, 6);
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
		send_row(b, &r);
	}
	static const char *const targets[2] = { "primary", "replica" };
	for (int t = 0; t < 2; t++)
		for (int k = 0; k < ROUTE_R__COUNT; k++) {
			if (v->route_decisions[t][k] == 0)
				continue;
			cell_s(&r, "decision");
			cell_s(&r, "");
			cell_s(&r, route_reason_name((enum route_reason)k));
			cell_s(&r, "");
			cell_s(&r, targets[t]);
			cell(&r, "%" PRIu64, v->route_decisions[t][k]);
			send_row(b, &r);
			n++;
		}
	complete_rows(b, "SHOW", n);
}

static void show_help(struct buf *b)
{
	static const char *const cols[] = { "command", "what it does" };
	static const char *const help[][2] = {
		{ "SHOW POOLS", "server connection pools: size, active, idle, connecting, waiting clients" },
		{ "SHOW CLIENTS", "client sessions (at most one second old)" },
		{ "SHOW SERVERS", "server connections" },
		{ "SHOW NODES", "configured nodes: role, connection state, health (heartbeats, lag, position)" },
		{ "SHOW ROUTES", "routing rules with their hits, and routing decisions by target and reason" },
		{ "SHOW QUERIES", "per normalized statement and target: calls, total/mean/max ms, rows, errors (top 100 by total time)" },
		{ "SHOW STATS", "totals: clients, queries, transactions, bytes, errors, timings" },
		{ "SHOW CONFIG", "the settings in use" },
		{ "SHOW EVENTS", "recent events (reloads, server connection failures, kills)" },
		{ "SHOW VERSION", "the proxy's version" },
		{ "RELOAD", "reload the configuration file (as SIGHUP)" },
		{ "KILL id", "close the client with that id (see SHOW CLIENTS)" },
		{ "SHUTDOWN", "stop accepting, let clients finish, exit (as SIGTERM)" },
	};
	size_t n = sizeof(help) / sizeof(help[0]);
	row_desc(b, cols, 2);
	for (size_t i = 0; i < n; i++)
		data_row(b, help[i], 2);
	complete_rows(b, "SHOW", n);
}

/* SHOW QUERIES: per normalized statement and target, by total time, at
 * most ADMIN_MAX_QUERIES rows. The query cell is sent whole (up to
 * QN_MAX bytes), not through the 192-byte row cells. */
#define ADMIN_MAX_QUERIES 100
static void show_queries(const struct stats_view *v, struct buf *b)
{
	static const char *const cols[] = { "query", "target", "calls", "total_ms", "mean_ms",
					    "max_ms", "rows", "errors" };
	row_desc(b, cols, 8);
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
		data_row(b, vals, 8);
	}
	complete_rows(b, "SHOW", n);
}

int pg_admin_show(const struct stats_view *v, const char *what, struct buf *out)
{
	if (strcasecmp(what, "queries") == 0) {
		show_queries(v, out);
		return 0;
	}
	if (strcasecmp(what, "pools") == 0)
		show_pools(v, out);
	else if (strcasecmp(what, "clients") == 0)
		show_clients(v, out);
	else if (strcasecmp(what, "servers") == 0)
		show_servers(v, out);
	else if (strcasecmp(what, "nodes") == 0)
		show_nodes(v, out);
	else if (strcasecmp(what, "routes") == 0)
		show_routes(v, out);
	else if (strcasecmp(what, "stats") == 0)
		show_stats(v, out);
	else if (strcasecmp(what, "events") == 0)
		show_events(v, out);
	else if (strcasecmp(what, "version") == 0)
		show_version(v, out);
	else
		return -1;
	return 0;
}

/* SHOW CONFIG: the settings in use (never a secret). */
static void show_config(const struct cfg *c, struct buf *b)
{
	static const char *const cols[] = { "section", "key", "value" };
	row_desc(b, cols, 3);
	struct row r = { .n = 0 };
	size_t n = 0;
	const struct cfg_global *g = &c->global;
#define CFG_ROW(sec, key, ...)            \
	do {                              \
		cell_s(&r, sec);          \
		cell_s(&r, key);          \
		cell(&r, __VA_ARGS__);    \
		send_row(b, &r);          \
		n++;                      \
	} while (0)
	CFG_ROW("switchyard", "config_file", "%s", c->path ? c->path : "");
	CFG_ROW("switchyard", "generation", "%" PRIu64, c->generation);
	CFG_ROW("switchyard", "workers", "%d", g->workers);
	CFG_ROW("switchyard", "max_client_conn", "%d", g->max_client_conn);
	CFG_ROW("switchyard", "log_level", "%s", cfg_log_level_name(g->log_level));
	CFG_ROW("switchyard", "log_format", "%s", cfg_log_format_name(g->log_format));
	CFG_ROW("switchyard", "stats_listen", "%s", g->stats_listen.text);
	CFG_ROW("switchyard", "stats_auth", "%s", g->stats_auth ? "(set)" : "");
	char list[192] = "";
	for (size_t i = 0; i < g->admin_users.n; i++) {
		size_t l = strlen(list);
		snprintf(list + l, sizeof(list) - l, "%s%s", i ? ", " : "", g->admin_users.items[i]);
	}
	CFG_ROW("switchyard", "admin_users", "%s", list);
	CFG_ROW("switchyard", "shutdown_timeout", "%lldms", (long long)g->shutdown_timeout_ms);
	CFG_ROW("switchyard", "max_packet_size", "%" PRIu64, g->max_packet_size);
	CFG_ROW("switchyard", "client_tls_mode", "%s", cfg_client_tls_name(g->client_tls_mode));
	CFG_ROW("switchyard", "server_tls_mode", "%s", cfg_server_tls_name(g->server_tls_mode));
	for (size_t i = 0; i < c->n_clusters; i++) {
		const struct cfg_cluster *cl = &c->clusters[i];
		const struct cfg_pool_settings *s = &cl->settings;
		char sec[96];
		snprintf(sec, sizeof(sec), "cluster.%s", cl->name);
		CFG_ROW(sec, "protocol", "%s", cfg_protocol_name(cl->protocol));
		CFG_ROW(sec, "server_database", "%s", cl->server_database ? cl->server_database : "");
		for (size_t j = 0; j < cl->n_nodes; j++)
			CFG_ROW(sec, cl->nodes[j].is_primary ? "primary" : "replica", "%s", cl->nodes[j].addr.text);
		CFG_ROW(sec, "pool_mode", "%s", cfg_pool_mode_name(s->pool_mode));
		CFG_ROW(sec, "pool_size", "%d", s->pool_size);
		CFG_ROW(sec, "min_pool_size", "%d", s->min_pool_size);
		CFG_ROW(sec, "max_db_connections", "%d", s->max_db_connections);
		CFG_ROW(sec, "server_reset_query", "%s", s->server_reset_query ? s->server_reset_query : "");
		CFG_ROW(sec, "server_lifetime", "%lldms", (long long)s->server_lifetime_ms);
		CFG_ROW(sec, "server_idle_timeout", "%lldms", (long long)s->server_idle_timeout_ms);
		CFG_ROW(sec, "server_connect_timeout", "%lldms", (long long)s->server_connect_timeout_ms);
		CFG_ROW(sec, "query_wait_timeout", "%lldms", (long long)s->query_wait_timeout_ms);
		CFG_ROW(sec, "query_timeout", "%lldms", (long long)s->query_timeout_ms);
		CFG_ROW(sec, "idle_transaction_timeout", "%lldms", (long long)s->idle_transaction_timeout_ms);
		CFG_ROW(sec, "client_idle_timeout", "%lldms", (long long)s->client_idle_timeout_ms);
		CFG_ROW(sec, "client_login_timeout", "%lldms", (long long)s->client_login_timeout_ms);
	}
#undef CFG_ROW
	complete_rows(b, "SHOW", n);
}

/* ---- the session ---- */

static bool is_admin(const struct cfg *c, const char *user)
{
	for (size_t i = 0; i < c->global.admin_users.n; i++)
		if (strcmp(c->global.admin_users.items[i], user) == 0)
			return true;
	return false;
}

void pg_admin_login(struct pg_client *c)
{
	if (!is_admin(c->cfg, c->user)) {
		pg_client_close(c, "28000", "user \"%s\" may not use the admin console (not in admin_users)", c->user);
		return;
	}
	c->u = cfg_find_user(c->cfg, c->user);
	if (!c->u) {
		pg_client_close(c, "28P01", "password authentication failed for user \"%s\"", c->user);
		return;
	}
	pg_client_begin_auth(c);
}

void pg_admin_start(struct pg_client *c)
{
	if (c->timer)
		evtimer_del(c->timer);
	struct buf b;
	buf_init(&b);
	pgc_put_param_status(&b, "server_version", "15.0");
	pgc_put_param_status(&b, "server_encoding", "UTF8");
	pgc_put_param_status(&b, "client_encoding", "UTF8");
	pgc_put_param_status(&b, "DateStyle", "ISO, MDY");
	pgc_put_param_status(&b, "integer_datetimes", "on");
	pgc_put_param_status(&b, "standard_conforming_strings", "on");
	pgc_put_param_status(&b, "application_name", "switchyard");
	pgc_put_backend_key(&b, 0, 0);
	pgc_put_ready(&b, 'I');
	pg_bev_send(c->bev, &b);
	buf_free(&b);
	c->logged_in = true;
	client_set_state(c, CL_ADMIN);
	log_info("client %u (%s): admin console login user=%s%s", c->id, c->addr, c->user,
		 c->tls_on ? " tls" : "");
}

static void error_msg(struct buf *b, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void error_msg(struct buf *b, const char *sqlstate, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pgc_put_error(b, "ERROR", sqlstate, msg);
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

#define PAUSE_POLL_MS 100

static int64_t admin_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Server connections of the paused cluster(s) still linked to a client,
 * from the published snapshots; -1 while a snapshot predates the PAUSE
 * (a transaction begun just before it may not show yet). */
static int pause_linked(struct pg_client *c)
{
	struct proxy *px = c->w->proxy;
	stats_publish(c->w);
	struct stats_view v;
	stats_collect(px, &v, 0);
	int linked = 0;
	if (v.oldest_ms < c->admin_pause_ms) {
		linked = -1;
	} else {
		struct cfg *cfg = proxy_cfg_get(px);
		for (size_t i = 0; i < v.n_pools; i++) {
			const struct stats_pool_row *r = &v.pools[i];
			if (c->admin_pause) {
				if (strcmp(r->cluster, c->admin_pause) == 0)
					linked += r->active;
			} else {
				const struct cfg_cluster *cl = r->cluster[0] ? cfg_find_cluster(cfg, r->cluster) : NULL;
				if (!cl || cl->protocol == CFG_PROTO_POSTGRES)
					linked += r->active;
			}
		}
		cfg_unref(cfg);
	}
	stats_view_free(&v);
	return linked;
}

static void pause_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pg_client *c = arg;
	if (pause_linked(c) != 0) {
		struct timeval tv = { 0, PAUSE_POLL_MS * 1000 };
		evtimer_add(c->admin_wait, &tv);
		return;
	}
	log_info("client %u (%s user=%s): PAUSE %s: no transaction left", c->id, c->addr, c->user,
		 c->admin_pause ? c->admin_pause : "(all)");
	event_free(c->admin_wait);
	c->admin_wait = NULL;
	free(c->admin_pause);
	c->admin_pause = NULL;
	struct buf b;
	buf_init(&b);
	complete(&b, "PAUSE");
	pgc_put_ready(&b, 'I');
	if (b.oom) {
		buf_free(&b);
		pg_client_close(c, "53200", "out of memory");
		return;
	}
	pg_bev_send(c->bev, &b);
	buf_free(&b);
	pg_admin_read(c); /* commands sent behind the PAUSE */
}

static int start_pause_wait(struct pg_client *c, const char *name)
{
	c->admin_pause = name ? strdup(name) : NULL;
	c->admin_wait = evtimer_new(c->w->base, pause_poll_cb, c);
	if ((name && !c->admin_pause) || !c->admin_wait) {
		free(c->admin_pause);
		c->admin_pause = NULL;
		if (c->admin_wait)
			event_free(c->admin_wait);
		c->admin_wait = NULL;
		return -1;
	}
	c->admin_pause_ms = admin_wall_ms();
	struct timeval tv = { 0, 0 };
	evtimer_add(c->admin_wait, &tv);
	return 0;
}

/* Returns 1 when the reply is deferred (PAUSE waiting), else 0. */
static int run_command(struct pg_client *c, char *q, struct buf *b)
{
	struct proxy *px = c->w->proxy;
	char *w[4] = { NULL };
	int n = split_words(q, w, 4);
	if (n == 0) {
		size_t s = pgc_begin(b, 'I');
		pgc_end(b, s);
		return 0;
	}
	log_info("client %u (%s user=%s): admin command: %s%s%s", c->id, c->addr, c->user, w[0],
		 n > 1 ? " " : "", n > 1 ? w[1] : "");
	if (strcasecmp(w[0], "SHOW") == 0) {
		if (n != 2) {
			error_msg(b, "42601", "SHOW needs one word: SHOW HELP lists them");
			return 0;
		}
		if (strcasecmp(w[1], "help") == 0) {
			show_help(b);
			return 0;
		}
		if (strcasecmp(w[1], "config") == 0) {
			struct cfg *cfg = proxy_cfg_get(px);
			show_config(cfg, b);
			cfg_unref(cfg);
			return 0;
		}
		stats_publish(c->w); /* this worker's part is fresh (and lists this session) */
		struct stats_view v;
		int want = strcasecmp(w[1], "clients") == 0 || strcasecmp(w[1], "servers") == 0 ? STATS_WANT_ROWS : 0;
		if (strcasecmp(w[1], "queries") == 0)
			want = STATS_WANT_QUERIES;
		stats_collect(px, &v, want);
		if (pg_admin_show(&v, w[1], b) < 0)
			error_msg(b, "42601", "unknown SHOW \"%s\": SHOW HELP lists the commands", w[1]);
		stats_view_free(&v);
		return 0;
	}
	if (strcasecmp(w[0], "RELOAD") == 0 && n == 1) {
		kill(getpid(), SIGHUP);
		complete(b, "RELOAD");
		return 0;
	}
	if (strcasecmp(w[0], "SHUTDOWN") == 0 && n == 1) {
		stats_event(px->stats, "info", "SHUTDOWN by admin %s from %s", c->user, c->addr);
		kill(getpid(), SIGTERM);
		complete(b, "SHUTDOWN");
		return 0;
	}
	if (strcasecmp(w[0], "KILL") == 0) {
		char *end = NULL;
		unsigned long id = n == 2 ? strtoul(w[1], &end, 10) : 0;
		if (n != 2 || !end || *end || id == 0 || id > UINT32_MAX) {
			error_msg(b, "42601", "KILL needs a client id (SHOW CLIENTS)");
			return 0;
		}
		if (id == c->id) {
			error_msg(b, "42601", "KILL: that is this session (use \\q)");
			return 0;
		}
		stats_publish(c->w);
		struct stats_view v;
		stats_collect(px, &v, STATS_WANT_ROWS);
		bool found = false;
		for (size_t i = 0; i < v.n_client_rows; i++)
			if (v.client_rows[i].id == id)
				found = true;
		stats_view_free(&v);
		if (!found)
			error_msg(b, "42704", "no client with id %lu (SHOW CLIENTS lists them; it may be up to a second old)", id);
		else if (stats_request_kill(px, (uint32_t)id) < 0)
			error_msg(b, "53000", "KILL refused: the proxy is shutting down, or too many KILLs are queued");
		else
			complete(b, "KILL");
		return 0;
	}
	if (strcasecmp(w[0], "PAUSE") == 0 || strcasecmp(w[0], "RESUME") == 0) {
		bool pause = strcasecmp(w[0], "PAUSE") == 0;
		if (n > 2) {
			error_msg(b, "42601", "%s takes at most one cluster name", w[0]);
			return 0;
		}
		const char *name = n == 2 ? w[1] : NULL;
		char err[200];
		if (pause && name) {
			struct cfg *cfg = proxy_cfg_get(px);
			const struct cfg_cluster *cl = cfg_find_cluster(cfg, name);
			bool ok = cl && cl->protocol == CFG_PROTO_POSTGRES;
			cfg_unref(cfg);
			if (!ok) {
				error_msg(b, "42704", "PAUSE: no PostgreSQL cluster \"%s\"", name);
				return 0;
			}
		}
		if (!pause) {
			if (proxy_resume(px, name, err, sizeof(err)) < 0)
				error_msg(b, "55000", "RESUME: %s", err);
			else {
				stats_event(px->stats, "info", "RESUME %s by admin %s", name ? name : "(all)", c->user);
				complete(b, "RESUME");
			}
			return 0;
		}
		if (proxy_pause(px, name, err, sizeof(err)) < 0) {
			error_msg(b, "55000", "PAUSE: %s", err);
			return 0;
		}
		stats_event(px->stats, "info", "PAUSE %s by admin %s", name ? name : "(all)", c->user);
		if (start_pause_wait(c, name) < 0) {
			error_msg(b, "53200", "PAUSE: out of memory (the cluster is paused; RESUME undoes it)");
			return 0;
		}
		return 1;
	}
	error_msg(b, "42601", "unknown admin command \"%s\": SHOW HELP lists the commands", w[0]);
	return 0;
}

void pg_admin_read(struct pg_client *c)
{
	if (c->admin_wait)
		return; /* a PAUSE is waiting: its answer comes first */
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct pgc_limits lim = { .max_packet_size = ADMIN_MAX_MESSAGE };
	for (;;) {
		struct pgc_msg m;
		ssize_t r = pg_evbuf_next(in, &lim, &m);
		if (r == 0)
			return;
		if (r < 0) {
			pg_client_close(c, "08P01", "invalid message on the admin console: %s", pgc_err_str(r));
			return;
		}
		if (m.type == 'X') {
			evbuffer_drain(in, (size_t)r);
			pg_client_close(c, NULL, "admin client sent Terminate");
			return;
		}
		if (m.type != 'Q') {
			pg_client_close(c, "0A000", "the admin console speaks only the simple query protocol");
			return;
		}
		char *q = strndup((const char *)m.body, m.body_len);
		evbuffer_drain(in, (size_t)r);
		if (!q) {
			pg_client_close(c, "53200", "out of memory");
			return;
		}
		struct buf b;
		buf_init(&b);
		int deferred = run_command(c, q, &b);
		free(q);
		if (deferred) {
			/* PAUSE: pause_poll_cb answers, then reads on. */
			buf_free(&b);
			c->queries++;
			return;
		}
		pgc_put_ready(&b, 'I');
		if (b.oom) {
			buf_free(&b);
			pg_client_close(c, "53200", "out of memory");
			return;
		}
		pg_bev_send(c->bev, &b);
		buf_free(&b);
		c->queries++;
	}
}
