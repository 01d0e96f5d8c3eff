/*
 * test_stats.c — the pure parts of the stats port: histogram buckets,
 * SQLSTATE classes, escapers, and the Prometheus / JSON / HTML / admin
 * renderings of a hand-built stats_view.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/pg/pg_admin.h"
#include "proxy/stats.h"
#include "util/buf.h"

static char *text(struct buf *b)
{
	buf_put_u8(b, 0);
	assert_false(b->oom);
	return (char *)b->data;
}

static void test_hist(void **state)
{
	(void)state;
	struct stats_hist h;
	memset(&h, 0, sizeof(h));
	stats_hist_observe(&h, 0);    /* <= 1 ms */
	stats_hist_observe(&h, 1);    /* <= 1 ms */
	stats_hist_observe(&h, 2);    /* <= 2.5 ms */
	stats_hist_observe(&h, 7000); /* <= 10 s */
	stats_hist_observe(&h, 60000); /* +Inf */
	stats_hist_observe(&h, -5);   /* clock step: counted as 0 */
	assert_int_equal(h.bucket[0], 3);
	assert_int_equal(h.bucket[1], 1);
	assert_int_equal(h.bucket[STATS_HIST_N - 1], 1);
	assert_int_equal(h.bucket[STATS_HIST_N], 1);
	assert_int_equal(h.count, 6);
	assert_int_equal(h.sum_ms, 67003);
}

static void test_err_class(void **state)
{
	(void)state;
	assert_int_equal(stats_err_class_of("28P01"), STATS_ERR_AUTH);
	assert_int_equal(stats_err_class_of("08006"), STATS_ERR_CONNECTION);
	assert_int_equal(stats_err_class_of("08P01"), STATS_ERR_CONNECTION);
	assert_int_equal(stats_err_class_of("53300"), STATS_ERR_RESOURCES);
	assert_int_equal(stats_err_class_of("57P01"), STATS_ERR_OPERATOR);
	assert_int_equal(stats_err_class_of("3D000"), STATS_ERR_DATABASE);
	assert_int_equal(stats_err_class_of("XX000"), STATS_ERR_OTHER);
	assert_int_equal(stats_err_class_of(NULL), STATS_ERR_OTHER);
	assert_int_equal(stats_err_class_of("2"), STATS_ERR_OTHER);
	assert_string_equal(stats_err_class_code(STATS_ERR_AUTH), "28");
	assert_string_equal(stats_err_class_name(STATS_ERR_AUTH), "invalid_authorization");
}

static void test_escapers(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	stats_put_label_value(&b, "a\"b\\c\nd");
	assert_string_equal(text(&b), "a\\\"b\\\\c\\nd");
	buf_reset(&b);
	stats_put_json_string(&b, "q\"\\\x01\t");
	assert_string_equal(text(&b), "q\\\"\\\\\\u0001\\u0009");
	buf_reset(&b);
	stats_put_html(&b, "<a href='x'>&\"");
	assert_string_equal(text(&b), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;");
	buf_free(&b);
}

static struct stats_pool_row pool_row = {
	.cluster = "app", .node = "10.0.0.1:5432", .role = "primary", .database = "appdb", .user = "u\"1",
	.protocol = "postgres", .size = 20, .pending = 1, .idle = 3, .active = 2, .waiting = 4, .opened = 9, .failed = 2,
	.last_error = "connection refused <x>",
};
static struct stats_node_row node_row = {
	.cluster = "app", .node = "10.0.0.1:5432", .role = "primary", .protocol = "postgres", .state = "up",
	.active = 2, .idle = 3,
};
static struct stats_client_row client_rows[2] = {
	{ .id = 64, .worker = 0, .addr = "127.0.0.1:5555", .user = "app", .database = "appdb",
	  .state = "CL_ACTIVE", .connected_ms = 1700000000000, .queries = 12, .server_id = 3,
	  .protocol = STATS_PROTO_PG },
	{ .id = 129, .worker = 1, .addr = "127.0.0.1:5556", .user = "shop", .database = "shopdb",
	  .state = "MY_CL_IDLE", .connected_ms = 1700000000000, .queries = 5, .protocol = STATS_PROTO_MY },
};

static void make_view(struct stats_view *v)
{
	memset(v, 0, sizeof(*v));
	strcpy(v->version, "9.9.9");
	v->now_ms = 1700000000000;
	v->uptime_s = 12.5;
	v->workers = 2;
	v->generation = 3;
	v->reloads_ok = 2;
	v->reloads_failed = 1;
	v->last_reload_ms = 1699999999000;
	v->last_reload_ok = false;
	v->max_client_conn = 100;
	v->clients_total = 10;
	struct stats_proto_view *pg = &v->proto[STATS_PROTO_PG], *my = &v->proto[STATS_PROTO_MY];
	pg->clients[STATS_CL_ACTIVE] = 2;
	pg->clients[STATS_CL_IDLE] = 5;
	pg->t.queries = 1000;
	pg->t.transactions = 400;
	pg->t.clients_accepted = 50;
	pg->t.c.bytes_in = 12345;
	pg->t.c.errors[STATS_ERR_AUTH] = 3;
	stats_hist_observe(&pg->t.c.query_time, 0);
	stats_hist_observe(&pg->t.c.query_time, 30);
	stats_hist_observe(&pg->t.c.query_time, 99999);
	my->clients[STATS_CL_ACTIVE] = 1;
	my->clients[STATS_CL_WAITING] = 2;
	my->t.queries = 77;
	my->t.transactions = 70;
	my->t.clients_accepted = 4;
	my->t.login_failures = 1;
	my->t.c.errors[STATS_ERR_AUTH] = 1;
	stats_hist_observe(&my->t.c.query_time, 2);
	stats_hist_observe(&my->t.c.wait_time, 7);
	stats_view_sum_protocols(v);
	v->qps = 12.25;
	v->pools = &pool_row;
	v->n_pools = 1;
	v->nodes = &node_row;
	v->n_nodes = 1;
	v->client_rows = client_rows;
	v->n_client_rows = 2;
	v->n_events = 1;
	v->events[0].time_ms = 1700000000000;
	strcpy(v->events[0].level, "error");
	strcpy(v->events[0].text, "reload refused: <bad>");
	v->healthy = true;
}

static void test_prometheus(void **state)
{
	(void)state;
	struct stats_view v;
	make_view(&v);
	struct buf b;
	buf_init(&b);
	stats_render_prometheus(&v, &b);
	const char *s = text(&b);
	assert_non_null(strstr(s, "# HELP switchyard_queries_total "));
	assert_non_null(strstr(s, "# TYPE switchyard_queries_total counter\n"));
	assert_non_null(strstr(s, "\nswitchyard_queries_total{protocol=\"postgres\"} 1000\n"));
	assert_non_null(strstr(s, "\nswitchyard_info{version=\"9.9.9\"} 1\n"));
	assert_non_null(strstr(s, "\nswitchyard_config_reloads_total{result=\"failed\"} 1\n"));
	assert_non_null(strstr(s, "\nswitchyard_config_last_reload_success 0\n"));
	assert_non_null(strstr(s, "\nswitchyard_client_connections{protocol=\"postgres\",state=\"idle\"} 5\n"));
	assert_non_null(strstr(s, "\nswitchyard_errors_total{protocol=\"postgres\",class=\"28\",name=\"invalid_authorization\"} 3\n"));
	/* cumulative buckets */
	assert_non_null(strstr(s, "\nswitchyard_query_duration_seconds_bucket{protocol=\"postgres\",le=\"0.001\"} 1\n"));
	assert_non_null(strstr(s, "\nswitchyard_query_duration_seconds_bucket{protocol=\"postgres\",le=\"0.05\"} 2\n"));
	assert_non_null(strstr(s, "\nswitchyard_query_duration_seconds_bucket{protocol=\"postgres\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(s, "\nswitchyard_query_duration_seconds_count{protocol=\"postgres\"} 3\n"));
	assert_non_null(strstr(s, "\nswitchyard_query_duration_seconds_sum{protocol=\"postgres\"} 100.029\n"));
	/* the same families for mysql */
	assert_non_null(strstr(s, "\nswitchyard_queries_total{protocol=\"mysql\"} 77\n"));
	assert_non_null(strstr(s, "\nswitchyard_transactions_total{protocol=\"mysql\"} 70\n"));
	assert_non_null(strstr(s, "\nswitchyard_login_failures_total{protocol=\"mysql\"} 1\n"));
	assert_non_null(strstr(s, "\nswitchyard_client_connections{protocol=\"mysql\",state=\"waiting\"} 2\n"));
	assert_non_null(strstr(s, "\nswitchyard_errors_total{protocol=\"mysql\",class=\"28\",name=\"invalid_authorization\"} 1\n"));
	assert_non_null(strstr(s, "\nswitchyard_query_duration_seconds_bucket{protocol=\"mysql\",le=\"0.0025\"} 1\n"));
	assert_non_null(strstr(s, "\nswitchyard_query_duration_seconds_count{protocol=\"mysql\"} 1\n"));
	assert_non_null(strstr(s, "\nswitchyard_wait_duration_seconds_count{protocol=\"mysql\"} 1\n"));
	assert_non_null(strstr(s, "\nswitchyard_wait_duration_seconds_count{protocol=\"postgres\"} 0\n"));
	assert_non_null(strstr(s, "\nswitchyard_server_connects_total{protocol=\"mysql\"} 0\n"));
	/* each family is declared once, its samples follow it */
	assert_null(strstr(strstr(s, "# TYPE switchyard_queries_total ") + 1, "# TYPE switchyard_queries_total "));
	/* pool labels, escaped */
	assert_non_null(strstr(s, "\nswitchyard_server_connections{cluster=\"app\",node=\"10.0.0.1:5432\",role=\"primary\","
				  "database=\"appdb\",user=\"u\\\"1\",protocol=\"postgres\",state=\"active\"} 2\n"));
	assert_non_null(strstr(s, "\nswitchyard_pool_waiting_clients{cluster=\"app\""));
	assert_non_null(strstr(s, "\nswitchyard_uptime_seconds 12.5\n"));
	/* every sample line belongs to a declared family */
	char *copy = strdup(s);
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		char name[128];
		size_t n = strcspn(line, "{ ");
		assert_true(n < sizeof(name));
		memcpy(name, line, n);
		name[n] = '\0';
		char type_line[200];
		snprintf(type_line, sizeof(type_line), "# TYPE %s ", name);
		if (!strstr(s, type_line)) {
			/* histogram series: strip the suffix */
			char *u = strrchr(name, '_');
			assert_non_null(u);
			*u = '\0';
			snprintf(type_line, sizeof(type_line), "# TYPE %s histogram", name);
			assert_non_null(strstr(s, type_line));
		}
	}
	free(copy);
	buf_free(&b);
}

static void test_json(void **state)
{
	(void)state;
	struct stats_view v;
	make_view(&v);
	struct buf b;
	buf_init(&b);
	stats_render_json(&v, &b);
	const char *s = text(&b);
	assert_int_equal(s[0], '{');
	assert_non_null(strstr(s, "\"queries_total\":1077,")); /* all protocols */
	assert_non_null(strstr(s, "\"protocols\":{\"postgres\":{\"clients\":{\"login\":0,\"waiting\":0,\"active\":2,"));
	assert_non_null(strstr(s, "\"queries_total\":1000,\"transactions_total\":400,"));
	assert_non_null(strstr(s, "\"mysql\":{\"clients\":{\"login\":0,\"waiting\":2,\"active\":1,"));
	assert_non_null(strstr(s, "\"queries_total\":77,\"transactions_total\":70,"));
	assert_non_null(strstr(s, "\"protocol\":\"postgres\",\"size\":20,"));
	assert_non_null(strstr(s, "\"version\":\"9.9.9\""));
	assert_non_null(strstr(s, "\"user\":\"u\\\"1\""));
	assert_non_null(strstr(s, "\"errors\":{\"08\":0,\"28\":4,")); /* all protocols */
	assert_non_null(strstr(s, "\"errors\":{\"08\":0,\"28\":3,"));
	assert_non_null(strstr(s, "\"+Inf\":3},\"count\":3,"));
	assert_non_null(strstr(s, "\"nodes\":[{\"cluster\":\"app\",\"node\":\"10.0.0.1:5432\",\"role\":\"primary\""));
	assert_non_null(strstr(s, "\"last_reload_ok\":false"));
	/* balanced braces and brackets outside strings */
	int depth = 0;
	bool in_str = false;
	for (const char *p = s; *p; p++) {
		if (in_str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_str = false;
			continue;
		}
		if (*p == '"')
			in_str = true;
		else if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			depth--;
		assert_true(depth >= 0);
	}
	assert_int_equal(depth, 0);
	buf_free(&b);
}

static void test_html(void **state)
{
	(void)state;
	struct stats_view v;
	make_view(&v);
	struct buf b;
	buf_init(&b);
	stats_render_html(&v, 5, &b);
	const char *s = text(&b);
	assert_non_null(strstr(s, "<!DOCTYPE html>"));
	assert_non_null(strstr(s, "<meta http-equiv=\"refresh\" content=\"5\">"));
	assert_non_null(strstr(s, "<table id=\"nodes\">"));
	assert_non_null(strstr(s, "<table id=\"protocols\">"));
	assert_non_null(strstr(s, "<tr><td>mysql</td><td class=\"n\">3</td><td class=\"n\">1</td><td class=\"n\">2</td>"));
	assert_non_null(strstr(s, "<td class=\"primary\">primary</td><td class=\"up\">up</td>"));
	assert_non_null(strstr(s, "connection refused &lt;x&gt;"));
	assert_non_null(strstr(s, "reload refused: &lt;bad&gt;"));
	assert_null(strstr(s, "<bad>"));
	assert_null(strstr(s, "<script"));
	assert_non_null(strstr(s, "</html>"));
	buf_free(&b);
}

/* Walk a backend message stream: count messages of each type, and return
 * the last CommandComplete tag. */
static void walk(const struct buf *b, int *n_t, int *n_d, char *tag, size_t cap)
{
	*n_t = *n_d = 0;
	size_t off = 0;
	while (off + 5 <= b->len) {
		uint8_t type = b->data[off];
		uint32_t len = get_u32be(b->data + off + 1);
		assert_true(len >= 4 && off + 1 + len <= b->len);
		if (type == 'T')
			(*n_t)++;
		else if (type == 'D')
			(*n_d)++;
		else if (type == 'C')
			snprintf(tag, cap, "%s", (const char *)b->data + off + 5);
		off += 1 + len;
	}
	assert_int_equal(off, b->len);
}

static void test_admin_show(void **state)
{
	(void)state;
	struct stats_view v;
	make_view(&v);
	struct buf b;
	buf_init(&b);
	int nt, nd;
	char tag[64] = "";
	assert_int_equal(pg_admin_show(&v, "POOLS", &b), 0);
	walk(&b, &nt, &nd, tag, sizeof(tag));
	assert_int_equal(nt, 1);
	assert_int_equal(nd, 1);
	assert_string_equal(tag, "SHOW 1");
	assert_non_null(memmem(b.data, b.len, "connection refused <x>", 22));
	buf_reset(&b);
	assert_int_equal(pg_admin_show(&v, "clients", &b), 0);
	walk(&b, &nt, &nd, tag, sizeof(tag));
	assert_int_equal(nd, 2); /* both protocols' sessions, protocol the last column */
	assert_non_null(memmem(b.data, b.len, "CL_ACTIVE", 9));
	assert_non_null(memmem(b.data, b.len, "MY_CL_IDLE", 10));
	const char *sid = memmem(b.data, b.len, "server_id", 10), *pcol = memmem(b.data, b.len, "protocol", 9);
	assert_non_null(sid);
	assert_non_null(pcol);
	assert_true(pcol == sid + 10 + 18); /* the next field of the RowDescription */
	assert_non_null(memmem(b.data, b.len, "\0\0\0\x08postgresD", 13));
	assert_non_null(memmem(b.data, b.len, "\0\0\0\x05mysql", 9));
	buf_reset(&b);
	assert_int_equal(pg_admin_show(&v, "stats", &b), 0);
	walk(&b, &nt, &nd, tag, sizeof(tag));
	assert_true(nd > 20);
	assert_non_null(memmem(b.data, b.len, "queries_total", 13));
	buf_reset(&b);
	assert_int_equal(pg_admin_show(&v, "nodes", &b), 0);
	assert_int_equal(pg_admin_show(&v, "version", &b), 0);
	assert_int_equal(pg_admin_show(&v, "events", &b), 0);
	assert_int_equal(pg_admin_show(&v, "servers", &b), 0);
	size_t before = b.len;
	assert_int_equal(pg_admin_show(&v, "nonsense", &b), -1);
	assert_int_equal(b.len, before);
	buf_free(&b);
}

/* Node rows with the health thread's state (health/health.h). */
/* The per-worker table: entries by shape and target, eviction of the
 * entry with the fewest calls in a full probe window, the published top,
 * the merge of workers' rows, tag row counts, and the renderings. */
static void test_query_stats(void **state)
{
	(void)state;
	struct query_stats qs;
	assert_int_equal(query_stats_init(&qs), 0);
	struct qs_call call = { 0 };
	for (int i = 0; i < 5; i++) {
		char q[64];
		int n = snprintf(q, sizeof(q), "SELECT * FROM t WHERE id = %d", i);
		query_stats_begin(&qs, &call, QN_PG, q, (size_t)n, "db1:5432", true);
		call.rows += 1;
		query_stats_end(&qs, &call);
	}
	uint64_t k2 = query_stats_begin(&qs, &call, QN_PG, "SELECT * FROM t WHERE id = 9", 28, "db2:5432", false);
	call.error = true;
	query_stats_end(&qs, &call);
	assert_int_equal(call.key, 0);
	assert_int_equal(qs.used, 2);
	struct qs_entry top[4];
	size_t n = query_stats_top(&qs, top, 4);
	assert_int_equal(n, 2);
	const struct qs_entry *a = top[0].calls == 5 ? &top[0] : &top[1];
	const struct qs_entry *r = top[0].calls == 5 ? &top[1] : &top[0];
	assert_string_equal(a->query, "SELECT * FROM t WHERE id = ?");
	assert_string_equal(a->node, "db1:5432");
	assert_true(a->primary);
	assert_int_equal(a->rows, 5);
	assert_int_equal(a->errors, 0);
	assert_int_equal(r->key, k2);
	assert_int_equal(r->errors, 1);
	assert_false(r->primary);
	/* Pipelined Executes of one statement: one call each. */
	uint64_t k = query_stats_enter_cached(&qs, 42, QN_PG, "SELECT $1", 9, "db1:5432", true);
	assert_int_equal(query_stats_enter_cached(&qs, 42, QN_PG, "ignored: cached", 15, "db1:5432", true), k);
	query_stats_start(&call, k);
	call.pending++;
	query_stats_end_one(&qs, &call);
	assert_int_equal(call.key, k);
	query_stats_end_one(&qs, &call);
	assert_int_equal(call.key, 0);
	n = query_stats_top(&qs, top, 4);
	assert_int_equal(n, 3);
	/* Fill far beyond capacity: bounded, evictions counted, the busy
	 * entry (5 calls) survives. */
	for (int i = 0; i < 3 * QS_CAPACITY; i++) {
		char q[64];
		int m = snprintf(q, sizeof(q), "SELECT c%d FROM t", i);
		query_stats_begin(&qs, &call, QN_PG, q, (size_t)m, "db1:5432", true);
		query_stats_end(&qs, &call);
	}
	assert_true(qs.used <= QS_CAPACITY);
	assert_true(qs.evicted > 0);
	struct qs_entry *all = calloc(QS_CAPACITY, sizeof(*all));
	assert_non_null(all);
	n = query_stats_top(&qs, all, QS_CAPACITY);
	bool found = false;
	for (size_t i = 0; i < n; i++)
		found |= all[i].calls == 5 && strcmp(all[i].query, "SELECT * FROM t WHERE id = ?") == 0;
	assert_true(found);
	free(all);
	query_stats_free(&qs);

	assert_int_equal(query_stats_tag_rows("SELECT 5", 8), 5);
	assert_int_equal(query_stats_tag_rows("INSERT 0 3", 10), 3);
	assert_int_equal(query_stats_tag_rows("UPDATE 7", 8), 7);
	assert_int_equal(query_stats_tag_rows("COPY 12", 7), 12);
	assert_int_equal(query_stats_tag_rows("CREATE TABLE", 12), 0);
	assert_int_equal(query_stats_tag_rows("SELECT", 6), 0);

	/* Two workers' rows merged by key, sorted by total time. */
	struct qs_entry rows[3];
	memset(rows, 0, sizeof(rows));
	rows[0] = (struct qs_entry){ .key = 7, .calls = 2, .total_us = 3000, .max_us = 2000, .rows = 2, .primary = true };
	snprintf(rows[0].query, sizeof(rows[0].query), "SELECT \"<a>\"");
	snprintf(rows[0].node, sizeof(rows[0].node), "db1:5432");
	rows[1] = (struct qs_entry){ .key = 9, .calls = 1, .total_us = 4000, .max_us = 4000, .errors = 1 };
	snprintf(rows[1].query, sizeof(rows[1].query), "DELETE FROM t");
	snprintf(rows[1].node, sizeof(rows[1].node), "db2:5432");
	rows[2] = rows[0];
	rows[2].calls = 3;
	rows[2].total_us = 3000;
	rows[2].max_us = 2500;
	assert_int_equal(query_stats_merge(rows, 3), 2);
	assert_int_equal(rows[0].key, 7);
	assert_int_equal(rows[0].calls, 5);
	assert_int_equal(rows[0].total_us, 6000);
	assert_int_equal(rows[0].max_us, 2500);

	struct stats_view v;
	memset(&v, 0, sizeof(v));
	v.queries = rows;
	v.n_queries = 2;
	v.qs_capacity = QS_CAPACITY;
	v.qs_evicted = 4;
	v.workers = 2;
	struct buf b;
	buf_init(&b);
	stats_render_queries_json(&v, &b);
	char *t = text(&b);
	assert_non_null(strstr(t, "{\"queries\":[{\"query\":\"SELECT \\\"<a>\\\"\",\"target\":\"primary\",\"node\":\"db1:5432\","
				  "\"calls\":5,\"total_ms\":6.000,\"mean_ms\":1.200,\"max_ms\":2.500,\"rows\":4,\"errors\":0}"));
	assert_non_null(strstr(t, "\"target\":\"replica\""));
	assert_non_null(strstr(t, "\"capacity\":2048"));
	assert_non_null(strstr(t, "\"evicted\":4"));
	buf_reset(&b);
	int nt, nd;
	char tag[64] = "";
	assert_int_equal(pg_admin_show(&v, "queries", &b), 0);
	walk(&b, &nt, &nd, tag, sizeof(tag));
	assert_int_equal(nd, 2);
	assert_string_equal(tag, "SHOW 2");
	assert_non_null(memmem(b.data, b.len, "db1:5432 (primary)", 18));
	buf_reset(&b);
	stats_render_html(&v, 0, &b);
	t = text(&b);
	assert_non_null(strstr(t, "<h2>Top queries</h2>"));
	assert_non_null(strstr(t, "SELECT &quot;&lt;a&gt;&quot;"));
	buf_free(&b);
}

static void test_node_health(void **state)
{
	(void)state;
	struct stats_view v;
	make_view(&v);
	struct stats_node_row rows[3] = {
		{ .cluster = "app", .node = "10.0.0.1:5432", .role = "primary", .protocol = "postgres",
		  .state = "up", .probed = true, .up = true, .reported_role = "primary", .lag_ms = 0,
		  .position = "0/3000148", .last_beat_ms = 1700000000000 - 1500, .beats_ok = 40,
		  .beats_failed = 1, .position_reads = 400, .beat_rtt_us = 1250, .has_lsn = true,
		  .lsn = 0x3000148, .lag_bytes = 0 },
		{ .cluster = "app", .node = "10.0.0.2:5432", .role = "replica", .protocol = "postgres",
		  .state = "failing", .probed = true, .up = false, .reported_role = "replica",
		  .lag_ms = INT64_MAX / 2, .beats_ok = 3, .beats_failed = 7,
		  .health_error = "could not connect: <refused>", .consecutive_failures = 7,
		  .beat_rtt_us = -1, .has_lsn = true, .lsn = 0x3000000, .lag_bytes = 0x148 },
		{ .cluster = "app", .node = "10.0.0.3:5432", .role = "replica", .protocol = "postgres",
		  .state = "unused", .probed = false },
	};
	v.nodes = rows;
	v.n_nodes = 3;
	struct buf b;
	buf_init(&b);
	stats_render_prometheus(&v, &b);
	const char *s = text(&b);
	assert_non_null(strstr(s, "# TYPE switchyard_node_up gauge\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_up{cluster=\"app\",node=\"10.0.0.1:5432\",protocol=\"postgres\"} 1\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_up{cluster=\"app\",node=\"10.0.0.2:5432\",protocol=\"postgres\"} 0\n"));
	assert_null(strstr(s, "switchyard_node_up{cluster=\"app\",node=\"10.0.0.3:5432\""));
	assert_non_null(strstr(s, "\nswitchyard_node_reported_role{cluster=\"app\",node=\"10.0.0.2:5432\",protocol=\"postgres\",role=\"replica\"} 1\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_lag_seconds{cluster=\"app\",node=\"10.0.0.1:5432\",protocol=\"postgres\"} 0\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_lag_seconds{cluster=\"app\",node=\"10.0.0.2:5432\",protocol=\"postgres\"} +Inf\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_heartbeat_age_seconds{cluster=\"app\",node=\"10.0.0.1:5432\",protocol=\"postgres\"} 1.5\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_heartbeat_age_seconds{cluster=\"app\",node=\"10.0.0.2:5432\",protocol=\"postgres\"} NaN\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_heartbeats_total{cluster=\"app\",node=\"10.0.0.2:5432\",protocol=\"postgres\",result=\"failed\"} 7\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_position_reads_total{cluster=\"app\",node=\"10.0.0.1:5432\",protocol=\"postgres\"} 400\n"));
	assert_non_null(strstr(s, "# TYPE switchyard_node_consecutive_failures gauge\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_consecutive_failures{cluster=\"app\",node=\"10.0.0.1:5432\",protocol=\"postgres\"} 0\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_consecutive_failures{cluster=\"app\",node=\"10.0.0.2:5432\",protocol=\"postgres\"} 7\n"));
	assert_null(strstr(s, "switchyard_node_consecutive_failures{cluster=\"app\",node=\"10.0.0.3:5432\""));
	assert_non_null(strstr(s, "# TYPE switchyard_node_heartbeat_latency_seconds gauge\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_heartbeat_latency_seconds{cluster=\"app\",node=\"10.0.0.1:5432\",protocol=\"postgres\"} 0.00125\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_heartbeat_latency_seconds{cluster=\"app\",node=\"10.0.0.2:5432\",protocol=\"postgres\"} NaN\n"));
	assert_non_null(strstr(s, "# TYPE switchyard_node_lag_bytes gauge\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_lag_bytes{cluster=\"app\",node=\"10.0.0.1:5432\",protocol=\"postgres\"} 0\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_lag_bytes{cluster=\"app\",node=\"10.0.0.2:5432\",protocol=\"postgres\"} 328\n"));
	assert_non_null(strstr(s, "\nswitchyard_node_wal_position_bytes{cluster=\"app\",node=\"10.0.0.1:5432\",protocol=\"postgres\"} 50331976\n"));
	buf_reset(&b);
	stats_render_json(&v, &b);
	s = text(&b);
	assert_non_null(strstr(s, "\"health\":{\"up\":true,\"role\":\"primary\",\"lag_ms\":0,\"position\":\"0/3000148\","
				  "\"last_beat_age_ms\":1500,\"heartbeats_ok\":40,\"heartbeats_failed\":1,"
				  "\"position_reads\":400,\"last_error\":\"\",\"consecutive_failures\":0,"
				  "\"heartbeat_latency_ms\":1.250,\"lag_bytes\":0,\"wal_position_bytes\":50331976}"));
	assert_non_null(strstr(s, "\"consecutive_failures\":7,\"heartbeat_latency_ms\":null,\"lag_bytes\":328,"));
	assert_non_null(strstr(s, "\"health\":{\"up\":false,"));
	assert_non_null(strstr(s, "\"last_beat_age_ms\":null,"));
	assert_non_null(strstr(s, "\"node\":\"10.0.0.3:5432\",\"role\":\"replica\",\"protocol\":\"postgres\","
				  "\"state\":\"unused\",\"active\":0,\"idle\":0,\"pending\":0,\"waiting\":0}]")); /* not probed: no health */
	buf_reset(&b);
	stats_render_html(&v, 0, &b);
	s = text(&b);
	assert_non_null(strstr(s, "<td class=\"up\">up</td><td>primary</td><td>0/3000148</td><td>1.5 s ago</td>"
				  "<td class=\"n\">1.25</td><td>40 / 1</td><td class=\"n\">0</td>"));
	assert_non_null(strstr(s, "<td>stopped, 328 B</td>"));
	assert_non_null(strstr(s, "<td class=\"n down\">7</td>"));
	assert_non_null(strstr(s, "<td class=\"down\">down</td>"));
	assert_non_null(strstr(s, "could not connect: &lt;refused&gt;"));
	assert_non_null(strstr(s, "not probed"));
	buf_reset(&b);
	assert_int_equal(pg_admin_show(&v, "nodes", &b), 0);
	int nt, nd;
	char tag[64] = "";
	walk(&b, &nt, &nd, tag, sizeof(tag));
	assert_int_equal(nd, 3);
	assert_string_equal(tag, "SHOW 3");
	assert_non_null(memmem(b.data, b.len, "heartbeats_failed", 17));
	assert_non_null(memmem(b.data, b.len, "0/3000148", 9));
	assert_non_null(memmem(b.data, b.len, "stopped", 7));
	assert_non_null(memmem(b.data, b.len, "wal_position_bytes", 18));
	assert_non_null(memmem(b.data, b.len, "\0\0\0\x08" "50331976", 12));
	assert_non_null(memmem(b.data, b.len, "\0\0\0\x03" "328", 7));
	assert_non_null(memmem(b.data, b.len, "\0\0\0\x05" "1.250", 9));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist),     cmocka_unit_test(test_err_class), cmocka_unit_test(test_escapers),
		cmocka_unit_test(test_prometheus), cmocka_unit_test(test_json),    cmocka_unit_test(test_html),
		cmocka_unit_test(test_admin_show), cmocka_unit_test(test_node_health),
		cmocka_unit_test(test_query_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
