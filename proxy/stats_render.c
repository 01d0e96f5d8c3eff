/*
 * stats_render.c — a stats_view as Prometheus text (format 0.0.4), as
 * JSON and as the self-contained HTML status page. Pure: these functions
 * only read the view and append to a struct buf (which records oom).
 * docs/monitoring.md lists every metric written here.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proxy/stats.h"

#include "health/beat.h" /* HEALTH_LAG_STALLED */

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		buf_put(b, tmp, (size_t)n);
		return;
	}
	if (!buf_reserve(b, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void puts_(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* ---- escapers ---- */

void stats_put_label_value(struct buf *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\')
			puts_(out, "\\\\");
		else if (*s == '"')
			puts_(out, "\\\"");
		else if (*s == '\n')
			puts_(out, "\\n");
		else
			buf_put_u8(out, (uint8_t)*s);
	}
}

void stats_put_json_string(struct buf *out, const char *s)
{
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			buf_put_u8(out, '\\');
			buf_put_u8(out, ch);
		} else if (ch < 0x20) {
			putf(out, "\\u%04x", ch);
		} else {
			buf_put_u8(out, ch);
		}
	}
}

void stats_put_html(struct buf *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			puts_(out, "&lt;");
			break;
		case '>':
			puts_(out, "&gt;");
			break;
		case '&':
			puts_(out, "&amp;");
			break;
		case '"':
			puts_(out, "&quot;");
			break;
		case '\'':
			puts_(out, "&#39;");
			break;
		default:
			buf_put_u8(out, (uint8_t)*s);
		}
	}
}

/* ---- Prometheus ---- */

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
	putf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{labels} value, labels given as alternating key, value (NULL ends). */
static void sample(struct buf *b, const char *name, double value, ...)
{
	puts_(b, name);
	va_list ap;
	va_start(ap, value);
	const char *k;
	bool first = true;
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		puts_(b, first ? "{" : ",");
		first = false;
		putf(b, "%s=\"", k);
		stats_put_label_value(b, v);
		puts_(b, "\"");
	}
	va_end(ap);
	if (!first)
		puts_(b, "}");
	if (isnan(value))
		puts_(b, " NaN\n");
	else if (isinf(value))
		puts_(b, value > 0 ? " +Inf\n" : " -Inf\n");
	else if (value == (double)(int64_t)value && value < 9e15 && value > -9e15)
		putf(b, " %" PRId64 "\n", (int64_t)value);
	else
		putf(b, " %.6g\n", value);
}

/* The per-protocol counters of a stats_totals, shared by /metrics and
 * the JSON "protocols" objects so that both always say the same. */
enum tot_field {
	TF_ACCEPTED, TF_REFUSED, TF_LOGIN_FAILURES, TF_QUERIES, TF_TRANSACTIONS, TF_PINS, TF_PIPELINED,
	TF_BYTES_IN, TF_BYTES_OUT, TF_SERVERS_OPENED, TF_SERVERS_FAILED
};

static uint64_t tot_get(const struct stats_totals *t, enum tot_field f)
{
	switch (f) {
	case TF_ACCEPTED:
		return t->clients_accepted;
	case TF_REFUSED:
		return t->clients_refused;
	case TF_LOGIN_FAILURES:
		return t->login_failures;
	case TF_QUERIES:
		return t->queries;
	case TF_TRANSACTIONS:
		return t->transactions;
	case TF_PINS:
		return t->pins;
	case TF_PIPELINED:
		return t->pipelined;
	case TF_BYTES_IN:
		return t->c.bytes_in;
	case TF_BYTES_OUT:
		return t->c.bytes_out;
	case TF_SERVERS_OPENED:
		return t->servers_opened;
	case TF_SERVERS_FAILED:
		return t->servers_failed;
	}
	return 0;
}

/* A counter with one sample per client protocol. */
static void counter_proto(struct buf *b, const struct stats_view *v, const char *name, const char *help,
			  enum tot_field f)
{
	head(b, name, "counter", help);
	for (int p = 0; p < STATS_PROTO_N; p++)
		sample(b, name, (double)tot_get(&v->proto[p].t, f), "protocol", stats_proto_name((enum stats_proto)p),
		       NULL);
}

/* A histogram with one series per client protocol: the wait or the query time. */
static void histogram(struct buf *b, const struct stats_view *v, const char *name, const char *help, bool wait)
{
	head(b, name, "histogram", help);
	char bucket[128], le[32];
	snprintf(bucket, sizeof(bucket), "%s_bucket", name);
	for (int p = 0; p < STATS_PROTO_N; p++) {
		const struct stats_hist *h = wait ? &v->proto[p].t.c.wait_time : &v->proto[p].t.c.query_time;
		const char *proto = stats_proto_name((enum stats_proto)p);
		uint64_t cum = 0;
		for (int i = 0; i < STATS_HIST_N; i++) {
			cum += h->bucket[i];
			snprintf(le, sizeof(le), "%g", stats_hist_le[i]);
			sample(b, bucket, (double)cum, "protocol", proto, "le", le, NULL);
		}
		cum += h->bucket[STATS_HIST_N];
		sample(b, bucket, (double)cum, "protocol", proto, "le", "+Inf", NULL);
		putf(b, "%s_sum{protocol=\"%s\"} %.3f\n", name, proto, (double)h->sum_ms / 1000.0);
		putf(b, "%s_count{protocol=\"%s\"} %" PRIu64 "\n", name, proto, h->count);
	}
}

#define POOL_LABELS(p) "cluster", (p)->cluster, "node", (p)->node, "role", (p)->role, \
	"database", (p)->database, "user", (p)->user, "protocol", (p)->protocol

char *stats_format_lag(const struct stats_node_row *n, char *out, size_t cap)
{
	if (!n->probed)
		snprintf(out, cap, "n/a");
	else if (n->lag_ms < 0)
		snprintf(out, cap, "unknown");
	else if (n->lag_ms >= HEALTH_LAG_STALLED)
		snprintf(out, cap, "stopped");
	else
		snprintf(out, cap, "%" PRId64 " ms", n->lag_ms);
	return out;
}

/* Lag in seconds for /metrics: NaN unknown, +Inf replication stopped. */
static double lag_seconds(int64_t ms)
{
	if (ms < 0)
		return NAN;
	if (ms >= HEALTH_LAG_STALLED)
		return INFINITY;
	return (double)ms / 1000.0;
}

/* Read/write routing: every decision by target and reason; rule hits. */
static void route_metrics(struct buf *b, const struct stats_view *v)
{
	head(b, "switchyard_route_decisions_total", "counter",
	     "Routing decisions (a transaction or statement given a node) by target and reason.");
	static const char *const targets[2] = { "primary", "replica" };
	for (int t = 0; t < 2; t++)
		for (int r = 0; r < ROUTE_R__COUNT; r++)
			sample(b, "switchyard_route_decisions_total", (double)v->route_decisions[t][r], "target",
			       targets[t], "reason", route_reason_name((enum route_reason)r), NULL);
	head(b, "switchyard_route_rule_hits_total", "counter", "Statements a [route.*] rule matched.");
	for (size_t i = 0; i < v->n_rules; i++)
		sample(b, "switchyard_route_rule_hits_total", (double)v->rules[i].hits, "cluster", v->rules[i].cluster,
		       "rule", v->rules[i].name, "target", v->rules[i].target, NULL);
}

#define NODE_LABELS(n) "cluster", (n)->cluster, "node", (n)->node, "protocol", (n)->protocol

/* What the health thread knows of each node (health/health.h). */
static void node_health_metrics(struct buf *b, const struct stats_view *v)
{
	head(b, "switchyard_node_up", "gauge", "1 when the node answers its heartbeats, 0 when it is down (down_after failed beats).");
	for (size_t i = 0; i < v->n_nodes; i++)
		if (v->nodes[i].probed)
			sample(b, "switchyard_node_up", v->nodes[i].up, NODE_LABELS(&v->nodes[i]), NULL);
	head(b, "switchyard_node_reported_role", "gauge", "The role the node reports (pg_is_in_recovery / @@read_only), always 1.");
	for (size_t i = 0; i < v->n_nodes; i++)
		if (v->nodes[i].probed)
			sample(b, "switchyard_node_reported_role", 1, NODE_LABELS(&v->nodes[i]), "role",
			       v->nodes[i].reported_role, NULL);
	head(b, "switchyard_node_lag_seconds", "gauge", "Replication lag of the node (0 on a primary; NaN unknown; +Inf replication stopped).");
	for (size_t i = 0; i < v->n_nodes; i++)
		if (v->nodes[i].probed)
			sample(b, "switchyard_node_lag_seconds", lag_seconds(v->nodes[i].lag_ms),
			       NODE_LABELS(&v->nodes[i]), NULL);
	head(b, "switchyard_node_heartbeat_age_seconds", "gauge", "Time since the node's last good heartbeat (NaN: none yet).");
	for (size_t i = 0; i < v->n_nodes; i++)
		if (v->nodes[i].probed)
			sample(b, "switchyard_node_heartbeat_age_seconds",
			       v->nodes[i].last_beat_ms ? (double)(v->now_ms - v->nodes[i].last_beat_ms) / 1000.0 : NAN,
			       NODE_LABELS(&v->nodes[i]), NULL);
	head(b, "switchyard_node_heartbeats_total", "counter", "Heartbeats of the node by result.");
	for (size_t i = 0; i < v->n_nodes; i++) {
		const struct stats_node_row *n = &v->nodes[i];
		if (!n->probed)
			continue;
		sample(b, "switchyard_node_heartbeats_total", (double)n->beats_ok, NODE_LABELS(n), "result", "ok", NULL);
		sample(b, "switchyard_node_heartbeats_total", (double)n->beats_failed, NODE_LABELS(n), "result", "failed", NULL);
	}
	head(b, "switchyard_node_position_reads_total", "counter", "Replication positions read from the node (heartbeats included).");
	for (size_t i = 0; i < v->n_nodes; i++)
		if (v->nodes[i].probed)
			sample(b, "switchyard_node_position_reads_total", (double)v->nodes[i].position_reads,
			       NODE_LABELS(&v->nodes[i]), NULL);
	head(b, "switchyard_node_consecutive_failures", "gauge", "Heartbeats of the node that failed in a row (0 after a good one).");
	for (size_t i = 0; i < v->n_nodes; i++)
		if (v->nodes[i].probed)
			sample(b, "switchyard_node_consecutive_failures", v->nodes[i].consecutive_failures,
			       NODE_LABELS(&v->nodes[i]), NULL);
	head(b, "switchyard_node_heartbeat_latency_seconds", "gauge",
	     "Round trip of the node's last good heartbeat query, measured by the health thread (NaN: none yet).");
	for (size_t i = 0; i < v->n_nodes; i++)
		if (v->nodes[i].probed)
			sample(b, "switchyard_node_heartbeat_latency_seconds",
			       v->nodes[i].beat_rtt_us >= 0 ? (double)v->nodes[i].beat_rtt_us / 1e6 : NAN,
			       NODE_LABELS(&v->nodes[i]), NULL);
	head(b, "switchyard_node_lag_bytes", "gauge",
	     "PostgreSQL: WAL bytes the node is behind the primary (primary's current LSN - the node's replayed LSN; 0 on the primary). No series for MySQL/MariaDB (GTIDs have no byte distance) or when a position is unknown.");
	for (size_t i = 0; i < v->n_nodes; i++)
		if (v->nodes[i].probed && v->nodes[i].has_lsn && v->nodes[i].lag_bytes >= 0)
			sample(b, "switchyard_node_lag_bytes", (double)v->nodes[i].lag_bytes, NODE_LABELS(&v->nodes[i]), NULL);
	head(b, "switchyard_node_wal_position_bytes", "gauge",
	     "PostgreSQL: the node's WAL position as a byte offset (replayed LSN on a replica, current LSN on a primary).");
	for (size_t i = 0; i < v->n_nodes; i++)
		if (v->nodes[i].probed && v->nodes[i].has_lsn)
			sample(b, "switchyard_node_wal_position_bytes", (double)v->nodes[i].lsn, NODE_LABELS(&v->nodes[i]), NULL);
}

/* docs/failover.md: completed failovers, and how long the last took. */
static void failover_metrics(struct buf *b, const struct stats_view *v)
{
	head(b, "switchyard_failovers_total", "counter", "Completed failovers of the cluster (new primary serving).");
	for (size_t i = 0; i < v->n_failovers; i++)
		sample(b, "switchyard_failovers_total", (double)v->failovers[i].failovers_total, "cluster",
		       v->failovers[i].cluster, NULL);
	head(b, "switchyard_last_failover_duration_seconds", "gauge",
	     "From the primary marked down to the new primary serving, for the last failover attempt (NaN: none).");
	for (size_t i = 0; i < v->n_failovers; i++) {
		int64_t ms = v->failovers[i].last_duration_ms;
		sample(b, "switchyard_last_failover_duration_seconds", ms < 0 ? NAN : (double)ms / 1000.0, "cluster",
		       v->failovers[i].cluster, NULL);
	}
}

void stats_render_prometheus(const struct stats_view *v, struct buf *b)
{
	head(b, "switchyard_info", "gauge", "Version of the running switchyard (always 1).");
	sample(b, "switchyard_info", 1, "version", v->version, NULL);
	head(b, "switchyard_up", "gauge", "1 when the proxy is healthy (what /health answers 200 for), else 0.");
	sample(b, "switchyard_up", v->healthy ? 1 : 0, NULL);
	head(b, "switchyard_uptime_seconds", "gauge", "Seconds since the process started.");
	sample(b, "switchyard_uptime_seconds", v->uptime_s, NULL);
	head(b, "switchyard_workers", "gauge", "Worker threads.");
	sample(b, "switchyard_workers", v->workers, NULL);
	head(b, "switchyard_process_resident_memory_bytes", "gauge", "Resident set size of the process.");
	sample(b, "switchyard_process_resident_memory_bytes", (double)v->rss_bytes, NULL);
	head(b, "switchyard_process_open_fds", "gauge", "Open file descriptors of the process.");
	sample(b, "switchyard_process_open_fds", (double)v->open_fds, NULL);

	head(b, "switchyard_config_generation", "gauge", "Generation of the configuration in use (0 at start, +1 per successful reload).");
	sample(b, "switchyard_config_generation", (double)v->generation, NULL);
	head(b, "switchyard_config_reloads_total", "counter", "Configuration reloads by result.");
	sample(b, "switchyard_config_reloads_total", (double)v->reloads_ok, "result", "ok", NULL);
	sample(b, "switchyard_config_reloads_total", (double)v->reloads_failed, "result", "failed", NULL);
	head(b, "switchyard_config_last_reload_success", "gauge", "1 when the last reload succeeded (or none was tried), 0 when it was refused.");
	sample(b, "switchyard_config_last_reload_success", v->last_reload_ms == 0 || v->last_reload_ok ? 1 : 0, NULL);
	head(b, "switchyard_config_last_reload_timestamp_seconds", "gauge", "Unix time of the last reload attempt (0: none).");
	sample(b, "switchyard_config_last_reload_timestamp_seconds", (double)(v->last_reload_ms / 1000), NULL);

	head(b, "switchyard_client_connections", "gauge", "Client connections by protocol and state.");
	for (int p = 0; p < STATS_PROTO_N; p++)
		for (int k = 0; k < STATS_CL_N; k++)
			sample(b, "switchyard_client_connections", v->proto[p].clients[k], "protocol",
			       stats_proto_name((enum stats_proto)p), "state",
			       stats_client_kind_name((enum stats_client_kind)k), NULL);
	head(b, "switchyard_client_parked", "gauge",
	     "Idle client connections holding no I/O buffers (parked; counted in state idle too).");
	for (int p = 0; p < STATS_PROTO_N; p++)
		sample(b, "switchyard_client_parked", v->proto[p].parked, "protocol",
		       stats_proto_name((enum stats_proto)p), NULL);
	head(b, "switchyard_max_client_conn", "gauge", "The max_client_conn limit.");
	sample(b, "switchyard_max_client_conn", v->max_client_conn, NULL);
	counter_proto(b, v, "switchyard_clients_accepted_total", "Client connections accepted.", TF_ACCEPTED);
	counter_proto(b, v, "switchyard_clients_refused_total", "Client connections refused (max_client_conn, shutting down).", TF_REFUSED);
	counter_proto(b, v, "switchyard_login_failures_total", "Client logins refused (SQLSTATE class 28).", TF_LOGIN_FAILURES);
	counter_proto(b, v, "switchyard_queries_total",
		      "Statements relayed: Query messages and extended-protocol executions (postgres), COM_QUERY and COM_STMT_EXECUTE (mysql).",
		      TF_QUERIES);
	counter_proto(b, v, "switchyard_transactions_total",
		      "Transactions completed: ReadyForQuery back to idle (postgres), a response ending outside a transaction (mysql).",
		      TF_TRANSACTIONS);
	counter_proto(b, v, "switchyard_pins_total", "Server connections pinned to a client by session state (transaction/statement mode).", TF_PINS);
	counter_proto(b, v, "switchyard_pipelined_total", "Statements sent to a server behind another client's (pipeline_depth).", TF_PIPELINED);
	counter_proto(b, v, "switchyard_client_received_bytes_total", "Bytes received from clients (after TLS).", TF_BYTES_IN);
	counter_proto(b, v, "switchyard_client_sent_bytes_total", "Bytes sent to clients (before TLS).", TF_BYTES_OUT);
	head(b, "switchyard_errors_total", "counter", "Errors the proxy itself sent to clients, by SQLSTATE class.");
	for (int p = 0; p < STATS_PROTO_N; p++)
		for (int e = 0; e < STATS_ERR_N; e++)
			sample(b, "switchyard_errors_total", (double)v->proto[p].t.c.errors[e], "protocol",
			       stats_proto_name((enum stats_proto)p), "class", stats_err_class_code((enum stats_err_class)e),
			       "name", stats_err_class_name((enum stats_err_class)e), NULL);
	histogram(b, v, "switchyard_query_duration_seconds",
		  "Time from a request (Query, Sync, FunctionCall; a MySQL command) to the end of its answer, ms resolution.",
		  false);
	histogram(b, v, "switchyard_wait_duration_seconds", "Time clients waited for a server connection, ms resolution.",
		  true);
	counter_proto(b, v, "switchyard_server_connects_total", "Server connections opened.", TF_SERVERS_OPENED);
	counter_proto(b, v, "switchyard_server_connect_failures_total", "Server connections that failed to connect or log in.", TF_SERVERS_FAILED);

	head(b, "switchyard_node_info", "gauge", "Configured nodes (always 1) with their cluster and role.");
	for (size_t i = 0; i < v->n_nodes; i++) {
		const struct stats_node_row *n = &v->nodes[i];
		sample(b, "switchyard_node_info", 1, "cluster", n->cluster, "node", n->node, "role", n->role,
		       "protocol", n->protocol, NULL);
	}
	node_health_metrics(b, v);
	head(b, "switchyard_server_connections", "gauge", "Server connections by pool and state.");
	for (size_t i = 0; i < v->n_pools; i++) {
		const struct stats_pool_row *p = &v->pools[i];
		sample(b, "switchyard_server_connections", p->active, POOL_LABELS(p), "state", "active", NULL);
		sample(b, "switchyard_server_connections", p->idle, POOL_LABELS(p), "state", "idle", NULL);
		sample(b, "switchyard_server_connections", p->pending, POOL_LABELS(p), "state", "pending", NULL);
	}
	head(b, "switchyard_pool_size", "gauge", "Configured pool size (pool_size of the cluster).");
	for (size_t i = 0; i < v->n_pools; i++)
		sample(b, "switchyard_pool_size", v->pools[i].size, POOL_LABELS(&v->pools[i]), NULL);
	head(b, "switchyard_pool_waiting_clients", "gauge", "Clients waiting for a server connection of the pool.");
	for (size_t i = 0; i < v->n_pools; i++)
		sample(b, "switchyard_pool_waiting_clients", v->pools[i].waiting, POOL_LABELS(&v->pools[i]), NULL);
	head(b, "switchyard_pool_server_connects_total", "counter", "Server connections opened by the pool.");
	for (size_t i = 0; i < v->n_pools; i++)
		sample(b, "switchyard_pool_server_connects_total", (double)v->pools[i].opened, POOL_LABELS(&v->pools[i]), NULL);
	head(b, "switchyard_pool_server_connect_failures_total", "counter", "Failed server connections of the pool.");
	for (size_t i = 0; i < v->n_pools; i++)
		sample(b, "switchyard_pool_server_connect_failures_total", (double)v->pools[i].failed,
		       POOL_LABELS(&v->pools[i]), NULL);
	route_metrics(b, v);
	failover_metrics(b, v);
}

/* ---- JSON ---- */

static void jstr(struct buf *b, const char *key, const char *val, bool comma)
{
	putf(b, "\"%s\":\"", key);
	stats_put_json_string(b, val);
	puts_(b, comma ? "\"," : "\"");
}

static void jhist(struct buf *b, const struct stats_hist *h)
{
	puts_(b, "{\"buckets\":{");
	uint64_t cum = 0;
	for (int i = 0; i < STATS_HIST_N; i++) {
		cum += h->bucket[i];
		putf(b, "\"%g\":%" PRIu64 ",", stats_hist_le[i], cum);
	}
	cum += h->bucket[STATS_HIST_N];
	putf(b, "\"+Inf\":%" PRIu64 "},\"count\":%" PRIu64 ",\"sum\":%.3f}", cum, h->count,
	     (double)h->sum_ms / 1000.0);
}

/* The client states and counters inside a "clients" object, without
 * its braces: "login":…,…,"login_failures_total":… */
static void jclients(struct buf *b, const int clients[STATS_CL_N], int parked, const struct stats_totals *t)
{
	for (int k = 0; k < STATS_CL_N; k++)
		putf(b, "\"%s\":%d,", stats_client_kind_name((enum stats_client_kind)k), clients[k]);
	putf(b, "\"parked\":%d,", parked);
	putf(b, "\"accepted_total\":%" PRIu64 ",\"refused_total\":%" PRIu64 ",\"login_failures_total\":%" PRIu64,
	     tot_get(t, TF_ACCEPTED), tot_get(t, TF_REFUSED), tot_get(t, TF_LOGIN_FAILURES));
}

/* "queries_total":… up to "server_connect_failures_total":…, each followed by a comma. */
static void jcounters(struct buf *b, const struct stats_totals *t)
{
	putf(b, "\"queries_total\":%" PRIu64 ",\"transactions_total\":%" PRIu64 ",\"pins_total\":%" PRIu64
	     ",\"pipelined_total\":%" PRIu64 ",",
	     tot_get(t, TF_QUERIES), tot_get(t, TF_TRANSACTIONS), tot_get(t, TF_PINS), tot_get(t, TF_PIPELINED));
	putf(b, "\"client_received_bytes_total\":%" PRIu64 ",\"client_sent_bytes_total\":%" PRIu64 ",",
	     tot_get(t, TF_BYTES_IN), tot_get(t, TF_BYTES_OUT));
	putf(b, "\"server_connects_total\":%" PRIu64 ",\"server_connect_failures_total\":%" PRIu64 ",",
	     tot_get(t, TF_SERVERS_OPENED), tot_get(t, TF_SERVERS_FAILED));
}

/* "errors":{…},"query_duration_seconds":{…},"wait_duration_seconds":{…} */
static void jerrors_hists(struct buf *b, const struct stats_totals *t)
{
	puts_(b, "\"errors\":{");
	for (int e = 0; e < STATS_ERR_N; e++)
		putf(b, "%s\"%s\":%" PRIu64, e ? "," : "", stats_err_class_code((enum stats_err_class)e), t->c.errors[e]);
	puts_(b, "},\"query_duration_seconds\":");
	jhist(b, &t->c.query_time);
	puts_(b, ",\"wait_duration_seconds\":");
	jhist(b, &t->c.wait_time);
}

/* One client protocol's figures: the same keys as the top-level totals. */
static void jproto(struct buf *b, const struct stats_proto_view *pv)
{
	puts_(b, "{\"clients\":{");
	jclients(b, pv->clients, pv->parked, &pv->t);
	puts_(b, "},");
	jcounters(b, &pv->t);
	jerrors_hists(b, &pv->t);
	puts_(b, "}");
}

void stats_render_queries_json(const struct stats_view *v, struct buf *b)
{
	puts_(b, "{\"queries\":[");
	for (size_t i = 0; i < v->n_queries; i++) {
		const struct qs_entry *q = &v->queries[i];
		puts_(b, i ? ",{" : "{");
		jstr(b, "query", q->query, true);
		jstr(b, "target", q->primary ? "primary" : "replica", true);
		jstr(b, "node", q->node, true);
		putf(b, "\"calls\":%" PRIu64 ",\"total_ms\":%.3f,\"mean_ms\":%.3f,\"max_ms\":%.3f,"
			"\"rows\":%" PRIu64 ",\"errors\":%" PRIu64 "}",
		     q->calls, (double)q->total_us / 1000.0,
		     q->calls ? (double)q->total_us / 1000.0 / (double)q->calls : 0.0, (double)q->max_us / 1000.0,
		     q->rows, q->errors);
	}
	putf(b, "],\"capacity\":%zu,\"workers\":%d,\"used\":%zu,\"evicted\":%" PRIu64
		",\"untracked\":%" PRIu64 "}\n",
	     v->qs_capacity, v->workers, v->qs_used, v->qs_evicted, v->qs_untracked);
}

void stats_render_json(const struct stats_view *v, struct buf *b)
{
	const struct stats_totals *t = &v->t;
	puts_(b, "{");
	jstr(b, "version", v->version, true);
	putf(b, "\"time\":%.3f,\"uptime_seconds\":%.3f,\"workers\":%d,", (double)v->now_ms / 1000.0, v->uptime_s,
	     v->workers);
	putf(b, "\"health\":{\"ok\":%s,", v->healthy ? "true" : "false");
	jstr(b, "reason", v->healthy ? "ok" : v->health_reason, false);
	puts_(b, "},");
	putf(b, "\"process\":{\"resident_memory_bytes\":%" PRIu64 ",\"open_fds\":%" PRIu64 "},", v->rss_bytes,
	     v->open_fds);
	putf(b, "\"config\":{\"generation\":%" PRIu64 ",\"reloads_ok\":%" PRIu64 ",\"reloads_failed\":%" PRIu64
		",\"last_reload_time\":%.3f,\"last_reload_ok\":%s},",
	     v->generation, v->reloads_ok, v->reloads_failed, (double)v->last_reload_ms / 1000.0,
	     v->last_reload_ms == 0 || v->last_reload_ok ? "true" : "false");
	putf(b, "\"clients\":{\"total\":%d,\"max_client_conn\":%d,", v->clients_total, v->max_client_conn);
	jclients(b, v->clients, v->parked, t);
	puts_(b, "},");
	jcounters(b, t);
	putf(b, "\"qps\":%.2f,\"tps\":%.2f,", v->qps, v->tps);
	jerrors_hists(b, t);
	puts_(b, ",\"protocols\":{");
	for (int p = 0; p < STATS_PROTO_N; p++) {
		putf(b, "%s\"%s\":", p ? "," : "", stats_proto_name((enum stats_proto)p));
		jproto(b, &v->proto[p]);
	}
	puts_(b, "},\"nodes\":[");
	for (size_t i = 0; i < v->n_nodes; i++) {
		const struct stats_node_row *n = &v->nodes[i];
		puts_(b, i ? ",{" : "{");
		jstr(b, "cluster", n->cluster, true);
		jstr(b, "node", n->node, true);
		jstr(b, "role", n->role, true);
		jstr(b, "protocol", n->protocol, true);
		jstr(b, "state", n->state, true);
		putf(b, "\"active\":%d,\"idle\":%d,\"pending\":%d,\"waiting\":%d", n->active, n->idle, n->pending,
		     n->waiting);
		if (n->probed) {
			putf(b, ",\"health\":{\"up\":%s,", n->up ? "true" : "false");
			jstr(b, "role", n->reported_role, true);
			if (n->lag_ms < 0)
				puts_(b, "\"lag_ms\":null,");
			else
				putf(b, "\"lag_ms\":%" PRId64 ",", n->lag_ms);
			jstr(b, "position", n->position, true);
			if (n->last_beat_ms)
				putf(b, "\"last_beat_age_ms\":%" PRId64 ",", v->now_ms - n->last_beat_ms);
			else
				puts_(b, "\"last_beat_age_ms\":null,");
			putf(b, "\"heartbeats_ok\":%" PRIu64 ",\"heartbeats_failed\":%" PRIu64
				",\"position_reads\":%" PRIu64 ",",
			     n->beats_ok, n->beats_failed, n->position_reads);
			jstr(b, "last_error", n->health_error, true);
			putf(b, "\"consecutive_failures\":%d,", n->consecutive_failures);
			if (n->beat_rtt_us >= 0)
				putf(b, "\"heartbeat_latency_ms\":%.3f,", (double)n->beat_rtt_us / 1000.0);
			else
				puts_(b, "\"heartbeat_latency_ms\":null,");
			if (n->has_lsn && n->lag_bytes >= 0)
				putf(b, "\"lag_bytes\":%" PRId64 ",", n->lag_bytes);
			else
				puts_(b, "\"lag_bytes\":null,");
			if (n->has_lsn)
				putf(b, "\"wal_position_bytes\":%" PRIu64, n->lsn);
			else
				puts_(b, "\"wal_position_bytes\":null");
			puts_(b, "}");
		}
		puts_(b, "}");
	}
	puts_(b, "],\"pools\":[");
	for (size_t i = 0; i < v->n_pools; i++) {
		const struct stats_pool_row *p = &v->pools[i];
		puts_(b, i ? ",{" : "{");
		jstr(b, "cluster", p->cluster, true);
		jstr(b, "node", p->node, true);
		jstr(b, "role", p->role, true);
		jstr(b, "database", p->database, true);
		jstr(b, "user", p->user, true);
		jstr(b, "protocol", p->protocol, true);
		putf(b, "\"size\":%d,\"active\":%d,\"idle\":%d,\"pending\":%d,\"waiting\":%d,", p->size, p->active,
		     p->idle, p->pending, p->waiting);
		putf(b, "\"connects_total\":%" PRIu64 ",\"connect_failures_total\":%" PRIu64 ",\"retired\":%s,",
		     p->opened, p->failed, p->retired ? "true" : "false");
		jstr(b, "last_error", p->last_error, false);
		puts_(b, "}");
	}
	puts_(b, "],\"routing\":{\"decisions\":{");
	static const char *const route_targets[2] = { "primary", "replica" };
	for (int tg = 0; tg < 2; tg++) {
		putf(b, "%s\"%s\":{", tg ? "," : "", route_targets[tg]);
		for (int r = 0; r < ROUTE_R__COUNT; r++)
			putf(b, "%s\"%s\":%" PRIu64, r ? "," : "", route_reason_name((enum route_reason)r),
			     v->route_decisions[tg][r]);
		puts_(b, "}");
	}
	puts_(b, "},\"rules\":[");
	for (size_t i = 0; i < v->n_rules; i++) {
		const struct stats_rule_row *r = &v->rules[i];
		puts_(b, i ? ",{" : "{");
		jstr(b, "cluster", r->cluster, true);
		jstr(b, "rule", r->name, true);
		jstr(b, "match", r->match, true);
		jstr(b, "target", r->target, true);
		putf(b, "\"hits\":%" PRIu64 "}", r->hits);
	}
	puts_(b, "]},\"failovers\":[");
	for (size_t i = 0; i < v->n_failovers; i++) {
		const struct health_failover_info *f = &v->failovers[i];
		puts_(b, i ? ",{" : "{");
		jstr(b, "cluster", f->cluster, true);
		jstr(b, "mode", cfg_failover_name(f->mode), true);
		jstr(b, "state", f->state, true);
		jstr(b, "primary", f->primary, true);
		putf(b, "\"failovers_total\":%" PRIu64 ",\"failures_total\":%" PRIu64 ",", f->failovers_total,
		     f->failures_total);
		if (f->last_ms > 0)
			putf(b, "\"last_time\":%.3f,\"last_duration_ms\":%" PRId64 ",", (double)f->last_ms / 1000.0,
			     f->last_duration_ms);
		else
			puts_(b, "\"last_time\":null,\"last_duration_ms\":null,");
		jstr(b, "old_primary", f->old_primary, true);
		jstr(b, "new_primary", f->new_primary, true);
		jstr(b, "result", f->result, false);
		puts_(b, "}");
	}
	puts_(b, "],\"events\":[");
	for (size_t i = 0; i < v->n_events; i++) {
		const struct stats_event *e = &v->events[i];
		putf(b, "%s{\"time\":%.3f,", i ? "," : "", (double)e->time_ms / 1000.0);
		jstr(b, "level", e->level, true);
		jstr(b, "message", e->text, false);
		puts_(b, "}");
	}
	puts_(b, "]}\n");
}

/* ---- HTML ---- */

static void fmt_time(int64_t ms, char *out, size_t cap)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void fmt_duration(double s, char *out, size_t cap)
{
	long long t = (long long)s;
	if (t >= 86400)
		snprintf(out, cap, "%lldd %lldh", t / 86400, (t % 86400) / 3600);
	else if (t >= 3600)
		snprintf(out, cap, "%lldh %lldm", t / 3600, (t % 3600) / 60);
	else if (t >= 60)
		snprintf(out, cap, "%lldm %llds", t / 60, t % 60);
	else
		snprintf(out, cap, "%llds", t);
}

static void td(struct buf *b, const char *cls, const char *text)
{
	if (cls)
		putf(b, "<td class=\"%s\">", cls);
	else
		puts_(b, "<td>");
	stats_put_html(b, text);
	puts_(b, "</td>");
}

static void tdi(struct buf *b, long long v) { putf(b, "<td class=\"n\">%lld</td>", v); }

/* Failover per cluster (docs/failover.md); clusters with it off and never
 * failed over are left out. */
static void html_failovers(struct buf *b, const struct stats_view *v)
{
	bool any = false;
	for (size_t i = 0; i < v->n_failovers; i++) {
		const struct health_failover_info *f = &v->failovers[i];
		if (f->mode == CFG_FAILOVER_OFF && f->failovers_total + f->failures_total == 0)
			continue;
		if (!any)
			puts_(b, "<h2>Failover</h2><div class=\"scroll\"><table id=\"failovers\"><thead><tr>"
				 "<th>cluster</th><th>mode</th><th>state</th><th>primary</th><th>failovers</th>"
				 "<th>failed</th><th>last</th><th>duration ms</th><th>old primary</th>"
				 "<th>new primary</th><th>result</th></tr></thead><tbody>");
		any = true;
		char t[64] = "-";
		if (f->last_ms > 0)
			fmt_time(f->last_ms, t, sizeof(t));
		puts_(b, "<tr>");
		td(b, NULL, f->cluster);
		td(b, NULL, cfg_failover_name(f->mode));
		td(b, NULL, f->state);
		td(b, "primary", f->primary[0] ? f->primary : "none");
		tdi(b, (long long)f->failovers_total);
		tdi(b, (long long)f->failures_total);
		td(b, NULL, t);
		if (f->last_duration_ms >= 0)
			tdi(b, (long long)f->last_duration_ms);
		else
			td(b, NULL, "-");
		td(b, NULL, f->old_primary);
		td(b, NULL, f->new_primary);
		td(b, NULL, f->result);
		puts_(b, "</tr>");
	}
	if (any)
		puts_(b, "</tbody></table></div>\n");
}

static const char page_css[] =
	"body{font:14px/1.4 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;background:#f4f5f7;color:#222}"
	"header{background:#1f3a5f;color:#fff;padding:10px 16px}header h1{font-size:18px;margin:0}"
	"header .sub{opacity:.8;font-size:12px}main{padding:8px 16px}"
	"h2{font-size:15px;margin:18px 0 6px;color:#1f3a5f}"
	".cards{display:flex;flex-wrap:wrap;gap:8px}"
	".card{background:#fff;border:1px solid #d5d9e0;border-radius:4px;padding:6px 10px;min-width:110px}"
	".card b{display:block;font-size:18px}.card span{font-size:11px;color:#666;text-transform:uppercase}"
	".scroll{overflow-x:auto}table{border-collapse:collapse;background:#fff;min-width:100%}"
	"th,td{border:1px solid #d5d9e0;padding:3px 8px;text-align:left;white-space:nowrap}"
	"th{background:#e3e8ef;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}"
	".up{background:#c8f0c8}.failing,.down{background:#f5b5b5}.connecting{background:#fbe7a6}"
	".unused{background:#eceff3;color:#666}.primary{font-weight:600}"
	".error{color:#a00}.warning{color:#8a5a00}.info{color:#225}"
	".bad{background:#f5b5b5}.ok{background:#c8f0c8}"
	"footer{padding:10px 16px;font-size:12px;color:#666}";

void stats_render_html(const struct stats_view *v, int refresh_s, struct buf *b)
{
	char tbuf[64], up[32];
	fmt_time(v->now_ms, tbuf, sizeof(tbuf));
	fmt_duration(v->uptime_s, up, sizeof(up));
	puts_(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
	puts_(b, "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
	if (refresh_s > 0)
		putf(b, "<meta http-equiv=\"refresh\" content=\"%d\">", refresh_s);
	puts_(b, "<title>Switchyard statistics</title><style>");
	puts_(b, page_css);
	puts_(b, "</style></head><body>\n<header><h1>Switchyard ");
	stats_put_html(b, v->version);
	puts_(b, "</h1><div class=\"sub\">");
	stats_put_html(b, tbuf);
	putf(b, " &middot; up %s &middot; %d worker%s &middot; config generation %" PRIu64, up, v->workers,
	     v->workers == 1 ? "" : "s", v->generation);
	puts_(b, "</div></header>\n<main>\n");

	puts_(b, "<section id=\"summary\"><div class=\"cards\">");
	putf(b, "<div class=\"card %s\" id=\"health\"><span>health</span><b>%s</b>", v->healthy ? "ok" : "bad",
	     v->healthy ? "OK" : "DOWN");
	if (!v->healthy)
		stats_put_html(b, v->health_reason);
	puts_(b, "</div>");
	putf(b, "<div class=\"card\"><span>clients</span><b>%d</b>of %d max</div>", v->clients_total,
	     v->max_client_conn);
	putf(b, "<div class=\"card\"><span>active / waiting / idle</span><b>%d / %d / %d</b></div>",
	     v->clients[STATS_CL_ACTIVE], v->clients[STATS_CL_WAITING], v->clients[STATS_CL_IDLE]);
	putf(b, "<div class=\"card\"><span>queries/s</span><b>%.1f</b></div>", v->qps);
	putf(b, "<div class=\"card\"><span>transactions/s</span><b>%.1f</b></div>", v->tps);
	putf(b, "<div class=\"card\"><span>queries</span><b>%" PRIu64 "</b></div>", v->t.queries);
	uint64_t errs = 0;
	for (int e = 0; e < STATS_ERR_N; e++)
		errs += v->t.c.errors[e];
	putf(b, "<div class=\"card\"><span>errors sent</span><b>%" PRIu64 "</b></div>", errs);
	putf(b, "<div class=\"card\"><span>reloads ok / failed</span><b>%" PRIu64 " / %" PRIu64 "</b></div>",
	     v->reloads_ok, v->reloads_failed);
	putf(b, "<div class=\"card\"><span>memory</span><b>%.1f MB</b>%" PRIu64 " fds</div>",
	     (double)v->rss_bytes / 1048576.0, v->open_fds);
	puts_(b, "</div></section>\n");

	puts_(b, "<h2>Protocols</h2><div class=\"scroll\"><table id=\"protocols\"><thead><tr>"
		 "<th>protocol</th><th>clients</th><th>active</th><th>waiting</th><th>idle</th><th>logging in</th>"
		 "<th>queries</th><th>transactions</th><th>errors sent</th><th>avg query ms</th>"
		 "<th>received</th><th>sent</th></tr></thead><tbody>");
	for (int p = 0; p < STATS_PROTO_N; p++) {
		const struct stats_proto_view *pv = &v->proto[p];
		int ncl = 0;
		uint64_t perr = 0;
		for (int k = 0; k < STATS_CL_N; k++)
			ncl += pv->clients[k];
		for (int e = 0; e < STATS_ERR_N; e++)
			perr += pv->t.c.errors[e];
		const struct stats_hist *qt = &pv->t.c.query_time;
		puts_(b, "<tr>");
		td(b, NULL, stats_proto_name((enum stats_proto)p));
		tdi(b, ncl);
		tdi(b, pv->clients[STATS_CL_ACTIVE]);
		tdi(b, pv->clients[STATS_CL_WAITING]);
		tdi(b, pv->clients[STATS_CL_IDLE]);
		tdi(b, pv->clients[STATS_CL_LOGIN]);
		tdi(b, (long long)pv->t.queries);
		tdi(b, (long long)pv->t.transactions);
		tdi(b, (long long)perr);
		putf(b, "<td class=\"n\">%.2f</td>", qt->count ? (double)qt->sum_ms / (double)qt->count : 0.0);
		putf(b, "<td class=\"n\">%.1f MB</td><td class=\"n\">%.1f MB</td>", (double)pv->t.c.bytes_in / 1048576.0,
		     (double)pv->t.c.bytes_out / 1048576.0);
		puts_(b, "</tr>");
	}
	puts_(b, "</tbody></table></div>\n");

	puts_(b, "<h2>Clusters and nodes</h2><div class=\"scroll\"><table id=\"nodes\"><thead><tr>"
		 "<th>cluster</th><th>node</th><th>role</th><th>state</th><th>protocol</th><th>lag</th>"
		 "<th>active</th><th>idle</th><th>connecting</th><th>waiting</th>"
		 "<th>health</th><th>reports</th><th>position</th><th>last beat</th><th>beat ms</th>"
		 "<th>beats ok/failed</th><th>failed in a row</th><th>last error</th></tr></thead><tbody>");
	for (size_t i = 0; i < v->n_nodes; i++) {
		const struct stats_node_row *n = &v->nodes[i];
		puts_(b, "<tr>");
		td(b, NULL, n->cluster);
		td(b, NULL, n->node);
		td(b, n->role, n->role);
		td(b, n->state, n->state);
		td(b, NULL, n->protocol);
		char lag[64], age[32], beats[48];
		stats_format_lag(n, lag, sizeof(lag));
		if (n->probed && n->has_lsn && n->lag_bytes >= 0) {
			size_t ll = strlen(lag);
			snprintf(lag + ll, sizeof(lag) - ll, ", %" PRId64 " B", n->lag_bytes);
		}
		td(b, NULL, lag);
		tdi(b, n->active);
		tdi(b, n->idle);
		tdi(b, n->pending);
		tdi(b, n->waiting);
		if (n->probed) {
			td(b, n->up ? "up" : "down", n->up ? "up" : "down");
			td(b, NULL, n->reported_role);
			td(b, NULL, n->position[0] ? n->position : "-");
			if (n->last_beat_ms)
				snprintf(age, sizeof(age), "%.1f s ago", (double)(v->now_ms - n->last_beat_ms) / 1000.0);
			else
				snprintf(age, sizeof(age), "never");
			td(b, NULL, age);
			if (n->beat_rtt_us >= 0)
				putf(b, "<td class=\"n\">%.2f</td>", (double)n->beat_rtt_us / 1000.0);
			else
				td(b, NULL, "-");
			snprintf(beats, sizeof(beats), "%" PRIu64 " / %" PRIu64, n->beats_ok, n->beats_failed);
			td(b, NULL, beats);
			putf(b, "<td class=\"n%s\">%d</td>", n->consecutive_failures ? " down" : "", n->consecutive_failures);
			td(b, NULL, n->health_error);
		} else {
			puts_(b, "<td colspan=\"8\">not probed</td>");
		}
		puts_(b, "</tr>");
	}
	puts_(b, "</tbody></table></div>\n");
	html_failovers(b, v);

	puts_(b, "<h2>Pools</h2><div class=\"scroll\"><table id=\"pools\"><thead><tr>"
		 "<th>cluster</th><th>node</th><th>database</th><th>user</th><th>size</th><th>active</th>"
		 "<th>idle</th><th>connecting</th><th>waiting</th><th>opened</th><th>failed</th><th>last error</th>"
		 "</tr></thead><tbody>");
	for (size_t i = 0; i < v->n_pools; i++) {
		const struct stats_pool_row *p = &v->pools[i];
		puts_(b, "<tr>");
		td(b, NULL, p->cluster[0] ? p->cluster : "(retired)");
		td(b, NULL, p->node);
		td(b, NULL, p->database);
		td(b, NULL, p->user);
		tdi(b, p->size);
		tdi(b, p->active);
		tdi(b, p->idle);
		tdi(b, p->pending);
		tdi(b, p->waiting);
		tdi(b, (long long)p->opened);
		tdi(b, (long long)p->failed);
		td(b, p->last_error[0] ? "error" : NULL, p->last_error);
		puts_(b, "</tr>");
	}
	if (v->n_pools == 0)
		puts_(b, "<tr><td colspan=\"12\">no pool yet (pools open with the first client)</td></tr>");
	puts_(b, "</tbody></table></div>\n");

	puts_(b, "<h2>Top queries</h2><div class=\"scroll\"><table id=\"queries\"><thead><tr>"
		 "<th>query</th><th>target</th><th>calls</th><th>total ms</th><th>mean ms</th><th>max ms</th>"
		 "<th>rows</th><th>errors</th></tr></thead><tbody>");
	for (size_t i = 0; i < v->n_queries && i < 10; i++) {
		const struct qs_entry *q = &v->queries[i];
		char target[QS_NODE_MAX + 16];
		snprintf(target, sizeof(target), "%s (%s)", q->node, q->primary ? "primary" : "replica");
		puts_(b, "<tr>");
		td(b, NULL, q->query);
		td(b, q->primary ? "primary" : NULL, target);
		tdi(b, (long long)q->calls);
		putf(b, "<td class=\"n\">%.1f</td><td class=\"n\">%.3f</td><td class=\"n\">%.3f</td>",
		     (double)q->total_us / 1000.0, q->calls ? (double)q->total_us / 1000.0 / (double)q->calls : 0.0,
		     (double)q->max_us / 1000.0);
		tdi(b, (long long)q->rows);
		tdi(b, (long long)q->errors);
		puts_(b, "</tr>");
	}
	if (v->n_queries == 0)
		puts_(b, "<tr><td colspan=\"8\">no statement yet</td></tr>");
	puts_(b, "</tbody></table></div>\n");

	puts_(b, "<h2>Recent events</h2><div class=\"scroll\"><table id=\"events\"><thead><tr><th>time</th>"
		 "<th>level</th><th>event</th></tr></thead><tbody>");
	for (size_t i = 0; i < v->n_events; i++) {
		const struct stats_event *e = &v->events[i];
		fmt_time(e->time_ms, tbuf, sizeof(tbuf));
		puts_(b, "<tr>");
		td(b, NULL, tbuf);
		td(b, e->level, e->level);
		td(b, e->level, e->text);
		puts_(b, "</tr>");
	}
	if (v->n_events == 0)
		puts_(b, "<tr><td colspan=\"3\">none</td></tr>");
	puts_(b, "</tbody></table></div>\n</main>\n<footer>");
	if (refresh_s > 0)
		putf(b, "Refreshes every %d s. ", refresh_s);
	puts_(b, "Also: <a href=\"metrics\">/metrics</a> (Prometheus), <a href=\"stats.json\">/stats.json</a>, "
		 "<a href=\"queries.json\">/queries.json</a>, "
		 "<a href=\"health\">/health</a>.</footer>\n</body></html>\n");
}
