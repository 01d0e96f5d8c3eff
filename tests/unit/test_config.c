/*
 * test_config.c — config/: value parsers, the loader's defaults, every
 * validation error with its FILE:LINE, shard inheritance, auth_file, and
 * the warnings for keys that have no effect yet.
 *
 * Each test writes its INI text to a temporary file under /tmp, loads it,
 * and looks for the expected entries in struct cfg_errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

/* ---- helpers ---- */

static char *write_tmp(const char *text)
{
	char tmpl[] = "/tmp/switchyard-test-XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	size_t n = strlen(text);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return strdup(tmpl);
}

struct loaded {
	char *path;
	struct cfg *c;
	struct cfg_errors errs;
};

static void load(struct loaded *l, const char *text)
{
	memset(l, 0, sizeof(*l));
	l->path = write_tmp(text);
	l->c = cfg_load(l->path, &l->errs);
}

static void dump(const struct loaded *l)
{
	char buf[2048];
	for (size_t i = 0; i < l->errs.n; i++) {
		cfg_error_format(&l->errs.items[i], buf, sizeof(buf));
		fprintf(stderr, "  | %s\n", buf);
	}
}

static void done(struct loaded *l)
{
	cfg_unref(l->c);
	cfg_errors_free(&l->errs);
	unlink(l->path);
	free(l->path);
}

/* An entry at `line` of `file` (NULL: the config file) whose message
 * contains `needle`, of the given kind. */
static bool has_entry(const struct loaded *l, const char *file, int line, const char *needle, bool warning)
{
	for (size_t i = 0; i < l->errs.n; i++) {
		const struct cfg_error *e = &l->errs.items[i];
		if (e->warning == warning && e->line == line && strcmp(e->file, file ? file : l->path) == 0 &&
		    strstr(e->msg, needle))
			return true;
	}
	return false;
}

#define assert_error(l, line, needle)                                    \
	do {                                                             \
		if (!has_entry((l), NULL, (line), (needle), false)) {    \
			dump(l);                                         \
			fail_msg("no error at line %d containing '%s'", (line), (needle)); \
		}                                                        \
	} while (0)

#define assert_warning(l, line, needle)                                  \
	do {                                                             \
		if (!has_entry((l), NULL, (line), (needle), true)) {     \
			dump(l);                                         \
			fail_msg("no warning at line %d containing '%s'", (line), (needle)); \
		}                                                        \
	} while (0)

#define assert_clean(l)                                                  \
	do {                                                             \
		if ((l)->c == NULL || (l)->errs.n != 0) {                \
			dump(l);                                         \
			fail_msg("expected a clean load");               \
		}                                                        \
	} while (0)

/* A valid base: a postgres listener and cluster and a user. Lines 1-9. */
#define BASE                                   \
	"[listen.pg]\n"                        \
	"protocol = postgres\n"                \
	"address = 127.0.0.1:6432\n"           \
	"[cluster.app]\n"                      \
	"protocol = postgres\n"                \
	"primary = 127.0.0.1:5432\n"           \
	"replicas = 127.0.0.1:5433\n"          \
	"[user.app]\n"                         \
	"password = app\n"
/* line 10 is the first line after BASE */

/* ---- value parsers ---- */

static void test_parse_duration(void **state)
{
	(void)state;
	int64_t ms;
	assert_int_equal(cfg_parse_duration("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(cfg_parse_duration("2s", &ms), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(cfg_parse_duration("10m", &ms), 0);
	assert_int_equal(ms, 600000);
	assert_int_equal(cfg_parse_duration("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(cfg_parse_duration("1d", &ms), 0);
	assert_int_equal(ms, 86400000);
	assert_int_equal(cfg_parse_duration("30", &ms), 0); /* bare: seconds */
	assert_int_equal(ms, 30000);
	assert_int_equal(cfg_parse_duration("0", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(cfg_parse_duration("5 s", &ms), 0);
	assert_int_equal(ms, 5000);
	ms = 77;
	const char *bad[] = { "", "-1s", "s", "1x", "1.5s", "1 sec", "ms10", "10msx", "99999999999999999999",
			      "9223372036854775807h", "1S" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cfg_parse_duration(bad[i], &ms) != -1)
			fail_msg("duration '%s' accepted", bad[i]);
	}
	assert_int_equal(ms, 77); /* untouched on error */
}

static void test_parse_size(void **state)
{
	(void)state;
	uint64_t b;
	assert_int_equal(cfg_parse_size("512", &b), 0);
	assert_int_equal(b, 512);
	assert_int_equal(cfg_parse_size("64kB", &b), 0);
	assert_int_equal(b, 64 * 1024);
	assert_int_equal(cfg_parse_size("16MB", &b), 0);
	assert_int_equal(b, 16 * 1024 * 1024);
	assert_int_equal(cfg_parse_size("1GB", &b), 0);
	assert_int_equal(b, 1024ull * 1024 * 1024);
	assert_int_equal(cfg_parse_size("8mb", &b), 0);
	assert_int_equal(b, 8 * 1024 * 1024);
	assert_int_equal(cfg_parse_size("0", &b), 0);
	assert_int_equal(b, 0);
	const char *bad[] = { "", "-1", "-64kB", "kB", "1.5MB", "12XB", "1 2", "99999999999999999999GB" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cfg_parse_size(bad[i], &b) != -1)
			fail_msg("size '%s' accepted", bad[i]);
	}
}

static void test_parse_bool(void **state)
{
	(void)state;
	const char *yes[] = { "on", "true", "yes", "1", "ON", "True" };
	const char *no[] = { "off", "false", "no", "0", "OFF", "No" };
	bool b;
	for (size_t i = 0; i < 6; i++) {
		b = false;
		assert_int_equal(cfg_parse_bool(yes[i], &b), 0);
		assert_true(b);
		assert_int_equal(cfg_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	assert_int_equal(cfg_parse_bool("", &b), -1);
	assert_int_equal(cfg_parse_bool("2", &b), -1);
	assert_int_equal(cfg_parse_bool("enabled", &b), -1);
}

static void test_parse_addr(void **state)
{
	(void)state;
	struct cfg_addr a;
	assert_int_equal(cfg_parse_addr("127.0.0.1:5432", &a), 0);
	assert_int_equal(a.kind, CFG_ADDR_TCP);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 5432);
	assert_string_equal(a.text, "127.0.0.1:5432");

	assert_int_equal(cfg_parse_addr("db-1.example.com:3306", &a), 0);
	assert_string_equal(a.host, "db-1.example.com");
	assert_int_equal(a.port, 3306);

	assert_int_equal(cfg_parse_addr("[::1]:5432", &a), 0);
	assert_int_equal(a.kind, CFG_ADDR_TCP);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.port, 5432);
	assert_string_equal(a.text, "[::1]:5432");

	assert_int_equal(cfg_parse_addr("[fe80::1%eth0]:6432", &a), 0);
	assert_string_equal(a.host, "fe80::1%eth0");

	assert_int_equal(cfg_parse_addr("/tmp/sock", &a), 0);
	assert_int_equal(a.kind, CFG_ADDR_UNIX);
	assert_string_equal(a.path, "/tmp/sock");

	const char *bad[] = { "", "localhost", ":5432", "host:", "host:0", "host:65536", "host:port", "::1:5432",
			      "[::1]5432", "[::1]", "[]:5432", "a b:1", "host:54x", "host:-1", "tmp/sock" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cfg_parse_addr(bad[i], &a) != -1)
			fail_msg("address '%s' accepted", bad[i]);
	}
	char longpath[200];
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = 0;
	assert_int_equal(cfg_parse_addr(longpath, &a), -1); /* longer than sun_path */

	struct cfg_addr b;
	assert_int_equal(cfg_parse_addr("LOCALHOST:1", &a), 0);
	assert_int_equal(cfg_parse_addr("localhost:1", &b), 0);
	assert_true(cfg_addr_equal(&a, &b));
	assert_int_equal(cfg_parse_addr("localhost:2", &b), 0);
	assert_false(cfg_addr_equal(&a, &b));
}

static void test_parse_int_and_secret(void **state)
{
	(void)state;
	long v;
	assert_int_equal(cfg_parse_int("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(cfg_parse_int("-3", -5, 5, &v), 0);
	assert_int_equal(v, -3);
	assert_int_equal(cfg_parse_int("101", 0, 100, &v), -1);
	assert_int_equal(cfg_parse_int("-1", 0, 100, &v), -1);
	assert_int_equal(cfg_parse_int("4x", 0, 100, &v), -1);
	assert_int_equal(cfg_parse_int("", 0, 100, &v), -1);

	enum cfg_secret_kind k;
	assert_int_equal(cfg_parse_secret("hunter2", &k), 0);
	assert_int_equal(k, CFG_SECRET_PLAIN);
	assert_int_equal(cfg_parse_secret("md5d41d8cd98f00b204e9800998ecf8427e", &k), 0);
	assert_int_equal(k, CFG_SECRET_MD5);
	assert_int_equal(cfg_parse_secret("md5notreallyhexnotreallyhexnotrea", &k), 0);
	assert_int_equal(k, CFG_SECRET_PLAIN);
	const char *scram = "SCRAM-SHA-256$4096:c2FsdHNhbHQ=$"
			    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=:"
			    "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=";
	assert_int_equal(cfg_parse_secret(scram, &k), 0);
	assert_int_equal(k, CFG_SECRET_SCRAM);
	const char *bad[] = {
		"SCRAM-SHA-256$",
		"SCRAM-SHA-256$4096:c2FsdA==$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"SCRAM-SHA-256$0:c2FsdA==$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=:"
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"SCRAM-SHA-256$4096:c2FsdA==$AAECAwQF:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"SCRAM-SHA-256$4096:!!!!$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=:"
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"SCRAM-SHA-256$x:c2FsdA==$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=:"
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cfg_parse_secret(bad[i], &k) != -1)
			fail_msg("verifier %zu accepted", i);
	}
	unsigned char out[8];
	assert_int_equal(cfg_base64_decode("YWJj", out, sizeof(out)), 3);
	assert_memory_equal(out, "abc", 3);
	assert_int_equal(cfg_base64_decode("YQ==", out, sizeof(out)), 1);
	assert_int_equal(cfg_base64_decode("YQ=", out, sizeof(out)), -1);
	assert_int_equal(cfg_base64_decode("Y=Q=", out, sizeof(out)), -1);
	assert_int_equal(cfg_base64_decode("YWJjZGVmZ2hp", out, sizeof(out)), -1); /* 9 > cap */
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, BASE);
	assert_clean(&l);
	const struct cfg *c = l.c;
	assert_int_equal(atomic_load(&c->refs), 1);
	assert_string_equal(c->path, l.path);

	const struct cfg_global *g = &c->global;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	assert_int_equal(g->workers, cpus > 0 ? cpus : 1);
	assert_int_equal(g->max_client_conn, 10000);
	assert_int_equal(g->log_level, CFG_LOG_INFO);
	assert_int_equal(g->log_format, CFG_LOG_TEXT);
	assert_null(g->log_file);
	assert_null(g->pidfile);
	assert_int_equal(g->stats_listen.kind, CFG_ADDR_TCP);
	assert_string_equal(g->stats_listen.host, "127.0.0.1");
	assert_int_equal(g->stats_listen.port, 9930);
	assert_null(g->stats_auth);
	assert_int_equal(g->admin_users.n, 0);
	assert_null(g->auth_file);
	assert_null(g->auth_user);
	assert_string_equal(g->auth_query, "SELECT usename, passwd FROM pg_shadow WHERE usename=$1");
	assert_int_equal(g->shutdown_timeout_ms, 30000);
	assert_int_equal(g->max_packet_size, 64 * 1024 * 1024);
	assert_int_equal(g->client_tls_mode, CFG_CTLS_DISABLE);
	assert_null(g->client_tls_cert_file);
	assert_null(g->client_tls_key_file);
	assert_null(g->client_tls_ca_file);
	assert_int_equal(g->server_tls_mode, CFG_STLS_DISABLE);
	assert_null(g->server_tls_ca_file);
	assert_null(g->server_tls_cert_file);
	assert_null(g->server_tls_key_file);

	assert_int_equal(c->n_listens, 1);
	assert_string_equal(c->listens[0].name, "pg");
	assert_int_equal(c->listens[0].protocol, CFG_PROTO_POSTGRES);
	assert_int_equal(c->listens[0].address.port, 6432);
	assert_null(c->listens[0].cluster);
	assert_int_equal(c->listens[0].line, 1);

	assert_int_equal(c->n_clusters, 1);
	const struct cfg_cluster *cl = cfg_find_cluster(c, "app");
	assert_non_null(cl);
	assert_int_equal(cl->line, 4);
	assert_int_equal(cl->protocol, CFG_PROTO_POSTGRES);
	assert_string_equal(cl->server_database, "app");
	assert_int_equal(cl->shards.n, 0);
	const struct cfg_pool_settings *s = &cl->settings;
	assert_int_equal(s->pool_mode, CFG_POOL_TRANSACTION);
	assert_int_equal(s->pool_size, 20);
	assert_int_equal(s->min_pool_size, 0);
	assert_int_equal(s->max_db_connections, 0);
	assert_string_equal(s->server_reset_query, "DISCARD ALL");
	assert_int_equal(s->server_lifetime_ms, 3600000);
	assert_int_equal(s->server_idle_timeout_ms, 600000);
	assert_int_equal(s->server_connect_timeout_ms, 5000);
	assert_int_equal(s->query_wait_timeout_ms, 30000);
	assert_int_equal(s->query_timeout_ms, 0);
	assert_int_equal(s->idle_transaction_timeout_ms, 0);
	assert_int_equal(s->client_idle_timeout_ms, 0);
	assert_int_equal(s->client_login_timeout_ms, 10000);
	assert_int_equal(s->pin_policy, CFG_PIN_PIN);
	assert_int_equal(s->max_prepared_statements, 500);
	assert_int_equal(s->pipeline_depth, 1);
	assert_int_equal(s->pipeline_max_query_time_ms, 10);
	assert_int_equal(s->pipeline_busy_servers, 0);
	assert_true(s->read_write_split);
	assert_int_equal(s->read_only_transactions, CFG_ROTX_PRIMARY);
	assert_int_equal(s->load_balance, CFG_LB_LEAST_CONN);
	assert_int_equal(s->replica_fallback, CFG_FALLBACK_PRIMARY);
	assert_int_equal(s->max_replica_lag_ms, 10000);
	assert_int_equal(s->read_your_writes, CFG_RYW_LSN);
	assert_int_equal(s->ryw_window_ms, 2000);
	assert_int_equal(s->ryw_wait_ms, 100);
	assert_true(s->monotonic_reads);
	assert_int_equal(s->consistency_scope, CFG_SCOPE_CONNECTION);
	assert_int_equal(s->write_functions.n, 0);
	assert_int_equal(s->heartbeat_interval_ms, 500);
	assert_int_equal(s->replica_position_interval_ms, 50);
	assert_int_equal(s->down_after, 3);
	assert_int_equal(s->up_after, 3);
	assert_int_equal(s->failover, CFG_FAILOVER_OFF);
	assert_null(s->failover_command);
	assert_int_equal(s->failover_wait_ms, 10000);
	assert_null(s->monitor_user);
	assert_null(s->monitor_password);

	/* nodes: the primary first, then the replicas */
	assert_true(cl->has_primary);
	assert_int_equal(cl->n_nodes, 2);
	assert_true(cl->nodes[0].is_primary);
	assert_int_equal(cl->nodes[0].addr.port, 5432);
	assert_false(cl->nodes[1].is_primary);
	assert_int_equal(cl->nodes[1].addr.port, 5433);
	assert_int_equal(cl->nodes[1].weight, 1);

	const struct cfg_user *u = cfg_find_user(c, "app");
	assert_non_null(u);
	assert_string_equal(u->password, "app");
	assert_int_equal(u->secret_kind, CFG_SECRET_PLAIN);
	assert_int_equal(u->auth_type, CFG_AUTH_SCRAM);
	assert_string_equal(u->server_user, "app");
	assert_string_equal(u->server_password, "app");
	assert_int_equal(u->pool_mode, CFG_POOL_MODE_UNSET);
	assert_int_equal(u->max_user_connections, 0);
	assert_int_equal(u->default_target, CFG_TARGET_NONE);
	assert_false(u->from_auth_file);
	assert_int_equal(cfg_pool_mode_for(cl, u), CFG_POOL_TRANSACTION);
	assert_null(cfg_find_user(c, "nobody"));
	assert_null(cfg_find_cluster(c, "nothing"));
	assert_non_null(cfg_find_listen(c, "pg"));
	done(&l);
}

/* Every key set to a non-default value reaches its field. */
static void test_values_in_file(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, "[switchyard]\n"
		 "workers = 3\n"
		 "max_client_conn = 50\n"
		 "log_level = debug\n"
		 "log_format = json\n"
		 "log_file = /tmp/sy.log\n"
		 "pidfile = /tmp/sy.pid\n"
		 "stats_listen =\n"
		 "shutdown_timeout = 250ms\n"
		 "max_packet_size = 1MB\n"
		 "server_tls_mode = verify-full\n"
		 "[listen.pg]\n"
		 "protocol = postgres\n"
		 "address = [::1]:6432\n"
		 "cluster = app\n"
		 "[listen.sock]\n"
		 "protocol = postgres\n"
		 "address = /tmp/.s.PGSQL.6432\n"
		 "[cluster.app]\n"
		 "protocol = postgres\n"
		 "server_database = appdb\n"
		 "primary = 127.0.0.1:5432\n"
		 "pool_mode = session\n"
		 "pool_size = 5\n"
		 "min_pool_size = 2\n"
		 "server_reset_query =\n"
		 "server_lifetime = 2h\n"
		 "server_idle_timeout = 90\n"
		 "server_connect_timeout = 1s\n"
		 "query_wait_timeout = 0\n"
		 "client_login_timeout = 3s\n"
		 "[user.bob]\n"
		 "password = secret\n"
		 "auth_type = md5\n"
		 "server_user = robert\n"
		 "server_password = other\n"
		 "pool_mode = statement\n");
	assert_clean(&l);
	const struct cfg *c = l.c;
	assert_int_equal(c->global.workers, 3);
	assert_int_equal(c->global.max_client_conn, 50);
	assert_int_equal(c->global.log_level, CFG_LOG_DEBUG);
	assert_int_equal(c->global.log_format, CFG_LOG_JSON);
	assert_string_equal(c->global.log_file, "/tmp/sy.log");
	assert_string_equal(c->global.pidfile, "/tmp/sy.pid");
	assert_int_equal(c->global.stats_listen.kind, CFG_ADDR_NONE);
	assert_int_equal(c->global.shutdown_timeout_ms, 250);
	assert_int_equal(c->global.max_packet_size, 1024 * 1024);
	assert_int_equal(c->global.server_tls_mode, CFG_STLS_VERIFY_FULL);
	assert_string_equal(c->listens[0].address.host, "::1");
	assert_string_equal(c->listens[0].cluster, "app");
	assert_int_equal(c->listens[1].address.kind, CFG_ADDR_UNIX);
	const struct cfg_cluster *cl = &c->clusters[0];
	assert_string_equal(cl->server_database, "appdb");
	assert_int_equal(cl->n_nodes, 1);
	assert_int_equal(cl->settings.pool_mode, CFG_POOL_SESSION);
	assert_int_equal(cl->settings.pool_size, 5);
	assert_int_equal(cl->settings.min_pool_size, 2);
	assert_string_equal(cl->settings.server_reset_query, ""); /* "" disables */
	assert_int_equal(cl->settings.server_lifetime_ms, 7200000);
	assert_int_equal(cl->settings.server_idle_timeout_ms, 90000);
	assert_int_equal(cl->settings.server_connect_timeout_ms, 1000);
	assert_int_equal(cl->settings.query_wait_timeout_ms, 0);
	assert_int_equal(cl->settings.client_login_timeout_ms, 3000);
	const struct cfg_user *u = cfg_find_user(c, "bob");
	assert_int_equal(u->auth_type, CFG_AUTH_MD5);
	assert_string_equal(u->server_user, "robert");
	assert_string_equal(u->server_password, "other");
	assert_int_equal(cfg_pool_mode_for(cl, u), CFG_POOL_STATEMENT);
	done(&l);
}

static void test_syntax(void **state)
{
	(void)state;
	struct loaded l;
	/* comments, inline comments, indentation, CRLF, a BOM, name: value */
	load(&l, "\xEF\xBB\xBF; a comment\n"
		 "# another\n"
		 "[switchyard] ; the process\r\n"
		 "   max_client_conn = 7 ; inline\r\n"
		 "log_level: debug\n"
		 "\n" BASE);
	assert_clean(&l);
	assert_int_equal(l.c->global.max_client_conn, 7);
	assert_int_equal(l.c->global.log_level, CFG_LOG_DEBUG);
	done(&l);

	/* a value longer than inih's 200-byte line buffer is read whole, and
	 * the line count stays right after it */
	char big[1200];
	char pat[700];
	memset(pat, 'a', sizeof(pat) - 1);
	pat[sizeof(pat) - 1] = 0;
	pat[0] = '^';
	snprintf(big, sizeof(big),
		 BASE "[route.app.long]\n"          /* 10 */
		      "match = %s ; comment\n"      /* 11 */
		      "target = primary\n"          /* 12 */
		      "bogus = 1\n",                /* 13 */
		 pat);
	load(&l, big);
	assert_null(l.c);
	assert_error(&l, 13, "unknown key 'bogus'");
	done(&l);
	snprintf(big, sizeof(big), BASE "[route.app.long]\nmatch = %s\ntarget = primary\n", pat);
	load(&l, big);
	assert_non_null(l.c);
	assert_string_equal(l.c->routes[0].match, pat);
	assert_int_equal(l.c->routes[0].target, CFG_TARGET_PRIMARY);
	done(&l);
}

/* ---- structural errors ---- */

static void test_unknown_and_duplicate(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, "orphan = 1\n"                /* 1 */
		 "[switchyard]\n"              /* 2 */
		 "max_client_conn = 10\n"      /* 3 */
		 "max_client_conn = 20\n"      /* 4 */
		 "no_such_key = 1\n"           /* 5 */
		 "[wat]\n"                     /* 6 */
		 "whatever = 1\n"              /* 7: not reported again */
		 "[cluster.a.b]\n"             /* 8 */
		 "[shard.onlyone]\n"           /* 9 */
		 "[switchyard\n"               /* 10 */
		 "just words\n"                /* 11 */
		 "[listen.pg] extra\n"         /* 12 */
		 BASE                          /* 13-21 */
		 "[cluster.app]\n"             /* 22 */
		 "Pool_Size = 3\n");           /* 23 */
	assert_null(l.c);
	assert_error(&l, 1, "key 'orphan' outside of any section");
	assert_error(&l, 4, "duplicate key 'max_client_conn' in [switchyard] (first set at line 3)");
	assert_error(&l, 5, "unknown key 'no_such_key' in [switchyard]");
	assert_error(&l, 6, "unknown section [wat]");
	assert_false(has_entry(&l, NULL, 7, "", false));
	assert_error(&l, 8, "bad section name [cluster.a.b]");
	assert_error(&l, 9, "bad section name [shard.onlyone]");
	assert_error(&l, 10, "without ']'");
	assert_error(&l, 11, "expected 'key = value'");
	assert_error(&l, 12, "unexpected text after section header");
	assert_error(&l, 22, "duplicate section [cluster.app] (first at line 16)");
	assert_error(&l, 23, "unknown key 'Pool_Size'");
	assert_true(cfg_errors_count(&l.errs) >= 11);
	/* sorted by line */
	for (size_t i = 1; i < l.errs.n; i++)
		assert_true(l.errs.items[i - 1].line <= l.errs.items[i].line);
	done(&l);
}

static void test_missing_required(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, "[listen.a]\n"            /* 1 */
		 "address = 127.0.0.1:1\n" /* 2 */
		 "[listen.b]\n"            /* 3 */
		 "protocol = postgres\n"   /* 4 */
		 "[listen.m]\n"            /* 5 */
		 "protocol = mysql\n"      /* 6 */
		 "address = 127.0.0.1:2\n" /* 7 */
		 "[cluster.c]\n"           /* 8 */
		 "primary = 127.0.0.1:3\n" /* 9 */
		 "[user.x]\n"              /* 10 */
		 "auth_type = md5\n");     /* 11 */
	assert_null(l.c);
	assert_error(&l, 1, "[listen.a]: missing required key 'protocol'");
	assert_error(&l, 3, "[listen.b]: missing required key 'address'");
	assert_error(&l, 5, "a mysql listener needs 'cluster'");
	assert_error(&l, 8, "[cluster.c]: missing required key 'protocol'");
	assert_error(&l, 10, "[user.x]: missing 'password'");
	done(&l);

	/* no listener at all, and an unreadable file */
	load(&l, "[cluster.c]\nprotocol = postgres\nprimary = 127.0.0.1:3\n");
	assert_null(l.c);
	assert_error(&l, 0, "no [listen.NAME] section");
	done(&l);

	struct cfg_errors e = { 0 };
	assert_null(cfg_load("/nonexistent/switchyard.ini", &e));
	assert_int_equal(e.n, 1);
	assert_int_equal(e.items[0].line, 0);
	assert_string_equal(e.items[0].file, "/nonexistent/switchyard.ini");
	assert_non_null(strstr(e.items[0].msg, "cannot read"));
	cfg_errors_free(&e);
}

static void test_references(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, BASE
		 "[listen.ghost]\n"          /* 10 */
		 "protocol = postgres\n"     /* 11 */
		 "address = 127.0.0.1:7000\n"/* 12 */
		 "cluster = nope\n"          /* 13 */
		 "[listen.my]\n"             /* 14 */
		 "protocol = mysql\n"        /* 15 */
		 "address = 127.0.0.1:7001\n"/* 16 */
		 "cluster = app\n"           /* 17: app is postgres */
		 "[route.zzz.r]\n"           /* 18 */
		 "target = primary\n"        /* 19 */
		 "[shard.zzz.s]\n"           /* 20 */
		 "primary = 127.0.0.1:1\n"   /* 21 */
		 "[shard_rule.zzz.r]\n"      /* 22 */
		 "tables = t\n"              /* 23 */
		 "key = id\n"                /* 24 */
		 "[cluster.sh]\n"            /* 25 */
		 "protocol = postgres\n"     /* 26 */
		 "shards = s1, s2\n");       /* 27 */
	assert_null(l.c);
	assert_error(&l, 13, "[listen.ghost]: unknown cluster 'nope'");
	assert_error(&l, 17, "[listen.my] speaks mysql but cluster 'app' is postgres");
	assert_error(&l, 18, "[route.zzz.r]: unknown cluster 'zzz'");
	assert_error(&l, 20, "[shard.zzz.s]: unknown cluster 'zzz'");
	assert_error(&l, 22, "[shard_rule.zzz.r]: unknown cluster 'zzz'");
	assert_error(&l, 27, "shard 's1' has no [shard.sh.s1] section");
	assert_error(&l, 27, "shard 's2' has no [shard.sh.s2] section");
	done(&l);
}

static void test_tls(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, "[switchyard]\n"                                  /* 1 */
		 "client_tls_mode = require\n"                     /* 2 */
		 "server_tls_mode = verify-ca\n"                   /* 3 */
		 "server_tls_ca_file = /nonexistent/ca.pem\n"      /* 4 */
		 "server_tls_cert_file = /nonexistent/cert.pem\n"  /* 5 */
		 BASE);
	assert_null(l.c);
	assert_error(&l, 2, "client_tls_mode = require needs client_tls_cert_file and client_tls_key_file");
	assert_error(&l, 4, "cannot read server_tls_ca_file '/nonexistent/ca.pem'");
	assert_error(&l, 5, "cannot read server_tls_cert_file");
	assert_error(&l, 5, "server_tls_cert_file and server_tls_key_file go together");
	done(&l);

	/* readable files: accepted */
	char *cert = write_tmp("-----BEGIN CERTIFICATE-----\n");
	char *key = write_tmp("-----BEGIN PRIVATE KEY-----\n");
	char text[1024];
	snprintf(text, sizeof(text),
		 "[switchyard]\nclient_tls_mode = allow\nclient_tls_cert_file = %s\nclient_tls_key_file = %s\n" BASE,
		 cert, key);
	load(&l, text);
	assert_clean(&l);
	assert_int_equal(l.c->global.client_tls_mode, CFG_CTLS_ALLOW);
	assert_string_equal(l.c->global.client_tls_cert_file, cert);
	done(&l);

	/* stats_tls_*: cert and key go together; a CA needs both */
	snprintf(text, sizeof(text),
		 "[switchyard]\n"                          /* 1 */
		 "stats_tls_cert_file = %s\n"              /* 2 */
		 "stats_tls_ca_file = /nonexistent/ca.pem\n" /* 3 */
		 BASE, cert);
	load(&l, text);
	assert_null(l.c);
	assert_error(&l, 2, "stats_tls_cert_file and stats_tls_key_file go together");
	assert_error(&l, 3, "cannot read stats_tls_ca_file '/nonexistent/ca.pem'");
	done(&l);
	load(&l, "[switchyard]\nstats_tls_ca_file = /dev/null\n" BASE);
	assert_null(l.c);
	assert_error(&l, 2, "stats_tls_ca_file needs stats_tls_cert_file and stats_tls_key_file");
	done(&l);
	snprintf(text, sizeof(text), "[switchyard]\nstats_tls_cert_file = %s\nstats_tls_key_file = %s\n" BASE, cert,
		 key);
	load(&l, text);
	assert_clean(&l);
	assert_string_equal(l.c->global.stats_tls_cert_file, cert);
	assert_string_equal(l.c->global.stats_tls_key_file, key);
	assert_null(l.c->global.stats_tls_ca_file);
	done(&l);
	unlink(cert);
	unlink(key);
	free(cert);
	free(key);
}

static void test_bad_values(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, "[switchyard]\n"                /* 1 */
		 "max_packet_size = -64kB\n"     /* 2 */
		 "stats_listen = localhost\n"    /* 3 */
		 "shutdown_timeout = 5 minutes\n"/* 4 */
		 "max_client_conn = -3\n"        /* 5 */
		 "workers = lots\n"              /* 6 */
		 "log_format = xml\n"            /* 7 */
		 "stats_auth = nopassword\n"     /* 8 */
		 "admin_users = a,,b\n"          /* 9 */
		 BASE                            /* 10-18 */
		 "[cluster.two]\n"               /* 19 */
		 "protocol = postgres\n"         /* 20 */
		 "primary = 127.0.0.1\n"         /* 21 */
		 "replicas = 127.0.0.1:1, nope\n"/* 22 */
		 "pool_mode = bogus\n"           /* 23 */
		 "pool_size = 0\n"               /* 24 */
		 "server_lifetime = 1 hour\n"    /* 25 */
		 "read_write_split = maybe\n"    /* 26 */
		 "max_prepared_statements = -1\n"/* 27 */
		 "down_after = 0\n"              /* 28 */
		 "[user.z]\n"                    /* 29 */
		 "password = z\n"                /* 30 */
		 "auth_type = kerberos\n"        /* 31 */
		 "max_packet_size = 1kB\n");     /* 32: wrong section */
	assert_null(l.c);
	assert_error(&l, 2, "bad size '-64kB' for max_packet_size");
	assert_error(&l, 3, "bad address 'localhost' for stats_listen");
	assert_error(&l, 4, "bad duration '5 minutes' for shutdown_timeout");
	assert_error(&l, 5, "bad value '-3' for max_client_conn: must be at least 1");
	assert_error(&l, 6, "bad value 'lots' for workers");
	assert_error(&l, 7, "bad value 'xml' for log_format: expected text or json");
	assert_error(&l, 8, "expected user:password");
	assert_error(&l, 9, "empty item");
	assert_error(&l, 21, "bad address '127.0.0.1' for primary");
	assert_error(&l, 22, "bad address 'nope'");
	assert_error(&l, 23, "bad value 'bogus' for pool_mode: expected session, transaction or statement");
	assert_error(&l, 24, "bad value '0' for pool_size: must be at least 1");
	assert_error(&l, 25, "bad duration '1 hour' for server_lifetime");
	assert_error(&l, 26, "bad value 'maybe' for read_write_split");
	assert_error(&l, 27, "bad value '-1' for max_prepared_statements: must be at least 0");
	assert_error(&l, 28, "bad value '0' for down_after: must be at least 1");
	assert_error(&l, 31, "bad value 'kerberos' for auth_type");
	assert_error(&l, 32, "unknown key 'max_packet_size' in [user.z]");
	done(&l);

	load(&l, "[switchyard]\nmax_packet_size = 512\n" BASE);
	assert_null(l.c);
	assert_error(&l, 2, "must be at least 1024 bytes");
	done(&l);
}

static void test_pool_limits_and_servers(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, BASE
		 "[cluster.empty]\n"          /* 10 */
		 "protocol = mysql\n"         /* 11 */
		 "[cluster.lim]\n"            /* 12 */
		 "protocol = postgres\n"      /* 13 */
		 "primary = 10.0.0.1:5432\n"  /* 14 */
		 "replicas = 10.0.0.1:5432\n" /* 15: the primary again */
		 "pool_size = 4\n"            /* 16 */
		 "min_pool_size = 5\n"        /* 17 */
		 "failover = command\n"       /* 18 */
		 "[cluster.both]\n"           /* 19 */
		 "protocol = postgres\n"      /* 20 */
		 "primary = 10.0.0.2:5432\n"  /* 21 */
		 "shards = a\n"               /* 22 */
		 "[shard.both.a]\n"           /* 23 */
		 "primary = 10.0.0.3:1\n");   /* 24 */
	assert_null(l.c);
	assert_error(&l, 10, "[cluster.empty]: no servers");
	assert_error(&l, 15, "server 10.0.0.1:5432 is listed twice");
	assert_error(&l, 17, "min_pool_size (5) is larger than pool_size (4)");
	assert_error(&l, 18, "failover = command needs failover_command");
	assert_error(&l, 22, "a sharded cluster takes its servers from its shards");
	done(&l);

	/* pipeline_depth: 1..16 */
	load(&l, BASE
		 "[cluster.deep]\n"              /* 10 */
		 "protocol = postgres\n"         /* 11 */
		 "primary = 10.0.0.1:5432\n"     /* 12 */
		 "pipeline_depth = 17\n"         /* 13 */
		 "[cluster.my]\n"                /* 14 */
		 "protocol = mysql\n"            /* 15 */
		 "primary = 10.0.0.2:3306\n"     /* 16 */
		 "pipeline_depth = 40\n"         /* 17 */
		 "[cluster.zero]\n"              /* 18 */
		 "protocol = postgres\n"         /* 19 */
		 "primary = 10.0.0.3:5432\n"     /* 20 */
		 "pipeline_depth = 0\n"          /* 21 */
		 "[cluster.busy]\n"              /* 22 */
		 "protocol = postgres\n"         /* 23 */
		 "primary = 10.0.0.4:5432\n"     /* 24 */
		 "pool_size = 4\n"               /* 25 */
		 "pipeline_busy_servers = 5\n"   /* 26 */
		 "[cluster.neg]\n"               /* 27 */
		 "protocol = postgres\n"         /* 28 */
		 "primary = 10.0.0.5:5432\n"     /* 29 */
		 "pipeline_busy_servers = -1\n"); /* 30 */
	assert_null(l.c);
	assert_error(&l, 13, "pipeline_depth (17) is larger than 16");
	assert_error(&l, 17, "pipeline_depth (40) is larger than 16");
	assert_error(&l, 21, "bad value '0' for pipeline_depth: must be at least 1");
	assert_error(&l, 26, "pipeline_busy_servers (5) is larger than pool_size (4)");
	assert_error(&l, 30, "bad value '-1' for pipeline_busy_servers: must be at least 0");
	done(&l);
	load(&l, BASE "[cluster.pp]\nprotocol = postgres\nprimary = 10.0.0.1:5432\npipeline_depth = 16\n"
		 "pipeline_max_query_time = 250ms\npipeline_busy_servers = 4\n");
	assert_non_null(l.c);
	assert_int_equal(cfg_find_cluster(l.c, "pp")->settings.pipeline_depth, 16);
	assert_int_equal(cfg_find_cluster(l.c, "pp")->settings.pipeline_max_query_time_ms, 250);
	assert_int_equal(cfg_find_cluster(l.c, "pp")->settings.pipeline_busy_servers, 4);
	done(&l);

	/* a replica-only cluster is fine */
	load(&l, BASE "[cluster.ro]\nprotocol = postgres\nreplicas = 10.0.0.9:5432, [::1]:5433\n");
	assert_non_null(l.c);
	const struct cfg_cluster *cl = cfg_find_cluster(l.c, "ro");
	assert_false(cl->has_primary);
	assert_int_equal(cl->n_nodes, 2);
	assert_false(cl->nodes[0].is_primary);
	assert_string_equal(cl->nodes[1].addr.host, "::1");
	done(&l);
}

static void test_duplicate_listen_address(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, "[switchyard]\n"                /* 1 */
		 "stats_listen = 127.0.0.1:7777\n" /* 2 */
		 BASE                            /* 3-11 */
		 "[listen.again]\n"              /* 12 */
		 "protocol = postgres\n"         /* 13 */
		 "address = 127.0.0.1:6432\n"    /* 14 */
		 "[listen.stats]\n"              /* 15 */
		 "protocol = postgres\n"         /* 16 */
		 "address = 127.0.0.1:7777\n");  /* 17 */
	assert_null(l.c);
	assert_error(&l, 14, "address 127.0.0.1:6432 is already used by [listen.pg]");
	assert_error(&l, 17, "address 127.0.0.1:7777 is also stats_listen");
	done(&l);
}

static void test_regex(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, BASE
		 "[route.app.bad]\n"          /* 10 */
		 "match = ^select (foo\n"     /* 11 */
		 "target = replica\n"         /* 12 */
		 "[route.app.node]\n"         /* 13 */
		 "match = ^select\n"          /* 14 */
		 "target = 10.9.9.9:5432\n"   /* 15: not a server of app */
		 "[route.app.none]\n"         /* 16 */
		 "user = app\n");             /* 17 */
	assert_null(l.c);
	assert_error(&l, 11, "bad pattern for match at offset 12: missing closing parenthesis");
	assert_error(&l, 15, "target 10.9.9.9:5432 is not a server of cluster 'app'");
	assert_error(&l, 16, "[route.app.none]: missing required key 'target'");
	done(&l);

	load(&l, BASE
		 "[route.app.reports]\n"
		 "match = ^\\s*SELECT\\b.*\\bfrom\\s+reports\\b\n"
		 "target = 127.0.0.1:5433\n"
		 "user = app\n"
		 "database = app\n"
		 "client_addr = 10.0.0.0/8\n");
	assert_non_null(l.c);
	const struct cfg_route *r = &l.c->routes[0];
	assert_string_equal(r->cluster, "app");
	assert_string_equal(r->name, "reports");
	assert_string_equal(r->match, "^\\s*SELECT\\b.*\\bfrom\\s+reports\\b");
	assert_int_equal(r->target, CFG_TARGET_NODE);
	assert_int_equal(r->target_node.port, 5433);
	assert_string_equal(r->user, "app");
	assert_string_equal(r->database, "app");
	assert_string_equal(r->client_addr, "10.0.0.0/8");
	done(&l);
}

static void test_multiple_errors(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, "[switchyard]\n"
		 "log_level = loud\n"
		 "workers = -1\n"
		 "[listen.pg]\n"
		 "protocol = oracle\n"
		 "address = nowhere\n"
		 "[cluster.c]\n"
		 "protocol = postgres\n"
		 "pool_size = many\n");
	assert_null(l.c);
	assert_error(&l, 2, "log_level");
	assert_error(&l, 3, "workers");
	assert_error(&l, 5, "protocol");
	assert_error(&l, 6, "bad address");
	assert_error(&l, 7, "no servers");
	assert_error(&l, 9, "pool_size");
	assert_true(cfg_errors_count(&l.errs) >= 6);
	char buf[512];
	cfg_error_format(&l.errs.items[0], buf, sizeof(buf));
	char want[512];
	snprintf(want, sizeof(want), "%s:2: bad value 'loud'", l.path);
	assert_memory_equal(buf, want, strlen(want));
	done(&l);

	/* entries already in errs are kept; an earlier error does not make a
	 * later, clean load fail */
	load(&l, BASE);
	assert_non_null(l.c);
	struct cfg_errors e = { 0 };
	assert_null(cfg_load("/nonexistent/x.ini", &e));
	struct cfg *again = cfg_load(l.path, &e);
	assert_non_null(again);
	assert_int_equal(e.n, 1);
	cfg_unref(again);
	cfg_errors_free(&e);
	done(&l);
}

/* ---- shards ---- */

static void test_shard_inheritance(void **state)
{
	(void)state;
	struct loaded l;
	/* the shard sections come before their cluster */
	load(&l, BASE
		 "[shard.big.s1]\n"                 /* 10 */
		 "primary = 10.0.1.1:5432\n"        /* 11 */
		 "replicas = 10.0.1.2:5432, 10.0.1.3:5432\n" /* 12 */
		 "pool_size = 50\n"                 /* 13 */
		 "server_reset_query = SELECT 1\n"  /* 14 */
		 "[shard.big.s2]\n"                 /* 15 */
		 "primary = 10.0.2.1:5432\n"        /* 16 */
		 "[cluster.big]\n"                  /* 17 */
		 "protocol = postgres\n"            /* 18 */
		 "shards = s1, s2\n"                /* 19 */
		 "pool_mode = session\n"            /* 20 */
		 "pool_size = 10\n"                 /* 21 */
		 "query_wait_timeout = 7s\n"        /* 22 */
		 "write_functions = nextval, setval\n" /* 23 */
		 "[shard_rule.big.by_id]\n"         /* 24 */
		 "tables = orders, items\n"         /* 25 */
		 "key = customer_id\n"              /* 26 */
		 "method = range\n"                 /* 27 */
		 "ranges = 0..1000=s1, 1000..=s2\n"); /* 28 */
	if (!l.c)
		dump(&l);
	assert_non_null(l.c);
	const struct cfg_cluster *cl = cfg_find_cluster(l.c, "big");
	assert_int_equal(cl->shards.n, 2);
	assert_int_equal(cl->n_nodes, 0);
	const struct cfg_shard *s1 = cfg_find_shard(l.c, "big", "s1");
	const struct cfg_shard *s2 = cfg_find_shard(l.c, "big", "s2");
	assert_non_null(s1);
	assert_non_null(s2);
	assert_null(cfg_find_shard(l.c, "big", "s3"));
	assert_int_equal(s1->settings.pool_size, 50);            /* own */
	assert_string_equal(s1->settings.server_reset_query, "SELECT 1");
	assert_int_equal(s1->settings.pool_mode, CFG_POOL_SESSION); /* inherited */
	assert_int_equal(s1->settings.query_wait_timeout_ms, 7000);
	assert_int_equal(s1->settings.write_functions.n, 2);
	assert_string_equal(s1->settings.write_functions.items[1], "setval");
	assert_int_equal(s2->settings.pool_size, 10);
	assert_string_equal(s2->settings.server_reset_query, "DISCARD ALL");
	/* copies, not shared pointers */
	assert_ptr_not_equal(s2->settings.server_reset_query, cl->settings.server_reset_query);
	assert_ptr_not_equal(s2->settings.write_functions.items, cl->settings.write_functions.items);
	assert_true(s1->has_primary);
	assert_int_equal(s1->n_nodes, 3);
	assert_int_equal(s1->nodes[2].addr.port, 5432);
	assert_string_equal(s1->nodes[2].addr.host, "10.0.1.3");
	assert_int_equal(s1->line, 10);
	assert_int_equal(l.c->n_shard_rules, 1);
	assert_int_equal(l.c->shard_rules[0].method, CFG_SHARD_RANGE);
	assert_int_equal(l.c->shard_rules[0].tables.n, 2);
	assert_string_equal(l.c->shard_rules[0].key, "customer_id");
	/* every key of shard, shard_rule sections warns; so does shards */
	assert_warning(&l, 11, "key 'primary' is accepted but has no effect yet");
	assert_warning(&l, 13, "key 'pool_size' is accepted but has no effect yet");
	assert_warning(&l, 19, "key 'shards' is accepted but has no effect yet");
	assert_warning(&l, 28, "key 'ranges' is accepted but has no effect yet");
	assert_false(has_entry(&l, NULL, 21, "", true)); /* cluster pool_size: implemented */
	done(&l);

	/* shard problems */
	load(&l, BASE
		 "[cluster.big]\n"              /* 10 */
		 "protocol = postgres\n"        /* 11 */
		 "shards = s1\n"                /* 12 */
		 "min_pool_size = 8\n"          /* 13 */
		 "[shard.big.s1]\n"             /* 14 */
		 "pool_size = 5\n"              /* 15 */
		 "pool_mode = nope\n"           /* 16 */
		 "[shard.big.stray]\n"          /* 17 */
		 "primary = 10.0.0.1:1\n"       /* 18 */
		 "[shard_rule.big.r]\n"         /* 19 */
		 "tables = t\n"                 /* 20 */
		 "key = id\n"                   /* 21 */
		 "method = list\n"              /* 22 */
		 "ranges = 1..2=s1\n"           /* 23 */
		 "[shard_rule.big.v]\n"         /* 24 */
		 "tables = t\n"                 /* 25 */
		 "key = id\n"                   /* 26 */
		 "method = list\n"              /* 27 */
		 "values = a=s1, b=s9, c\n"     /* 28 */
		 "[shard_rule.app.x]\n"         /* 29 */
		 "method = range\n");           /* 30 */
	assert_null(l.c);
	assert_error(&l, 14, "[shard.big.s1]: no servers");
	assert_error(&l, 14, "min_pool_size (8) is larger than pool_size (5)");
	assert_error(&l, 16, "bad value 'nope' for pool_mode");
	assert_error(&l, 17, "cluster 'big' does not list 'stray' in its shards");
	assert_error(&l, 22, "method = list needs 'values'");
	assert_error(&l, 23, "'ranges' is only used with method = range");
	assert_error(&l, 28, "values names shard 's9', which cluster 'big' does not list");
	assert_error(&l, 28, "bad values item 'c'");
	assert_error(&l, 29, "cluster 'app' has no shards");
	assert_error(&l, 29, "missing required key 'tables'");
	assert_error(&l, 29, "missing required key 'key'");
	assert_error(&l, 30, "method = range needs 'ranges'");
	done(&l);
}

static void test_replica_weights(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, BASE
		 "[cluster.w]\n"                                   /* 10 */
		 "protocol = postgres\n"                           /* 11 */
		 "primary = 10.0.0.1:5432\n"                       /* 12 */
		 "replicas = 10.0.0.2:5432, [::1]:5432\n"          /* 13 */
		 "load_balance = weighted\n"                       /* 14 */
		 "replica_weights = [::1]:5432=3, 10.0.0.2:5432 = 0\n"); /* 15 */
	if (!l.c)
		dump(&l);
	assert_non_null(l.c);
	const struct cfg_cluster *cl = cfg_find_cluster(l.c, "w");
	assert_int_equal(cl->settings.load_balance, CFG_LB_WEIGHTED);
	assert_int_equal(cl->nodes[0].weight, 1);
	assert_int_equal(cl->nodes[1].weight, 0);
	assert_int_equal(cl->nodes[2].weight, 3);
	assert_false(has_entry(&l, NULL, 15, "", true)); /* implemented: no warning */
	assert_false(has_entry(&l, NULL, 14, "", true));
	done(&l);

	load(&l, BASE
		 "[cluster.w2]\n"                  /* 10 */
		 "protocol = postgres\n"           /* 11 */
		 "primary = 127.0.0.1:5432\n"      /* 12 */
		 "replicas = 127.0.0.1:5433\n"     /* 13 */
		 "replica_weights = 127.0.0.1:5432=2, 127.0.0.1:5433=x, junk\n"); /* 14 */
	assert_null(l.c);
	assert_error(&l, 14, "replica_weights names 127.0.0.1:5432, which is not one of the replicas");
	assert_error(&l, 14, "bad replica_weights item '127.0.0.1:5433=x'");
	assert_error(&l, 14, "bad replica_weights item 'junk'");
	done(&l);
}

/* ---- users ---- */

#define SCRAM_OK                                      \
	"SCRAM-SHA-256$4096:c2FsdHNhbHQ=$"            \
	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=:" \
	"HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4="

static void test_users(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, BASE
		 "[user.s]\n"                                      /* 10 */
		 "password = " SCRAM_OK "\n"                       /* 11 */
		 "server_password = real\n"                        /* 12 */
		 "[user.m]\n"                                      /* 13 */
		 "password = md5d41d8cd98f00b204e9800998ecf8427e\n"/* 14 */
		 "auth_type = md5\n"                               /* 15 */
		 "[user.t]\n"                                      /* 16 */
		 "auth_type = trust\n"                             /* 17 */
		 "[user.first.last]\n"                             /* 18 */
		 "password = x\n");                                /* 19 */
	if (!l.c)
		dump(&l);
	assert_non_null(l.c);
	const struct cfg_user *s = cfg_find_user(l.c, "s");
	assert_int_equal(s->secret_kind, CFG_SECRET_SCRAM);
	assert_int_equal(s->auth_type, CFG_AUTH_SCRAM);
	assert_string_equal(s->server_password, "real");
	const struct cfg_user *m = cfg_find_user(l.c, "m");
	assert_int_equal(m->secret_kind, CFG_SECRET_MD5);
	assert_null(m->server_password); /* a verifier is not a password */
	/* No warning: a verifier without server_password is a supported setup
	 * (ClientKey pass-through for SCRAM, the stored hash for md5). */
	for (size_t i = 0; i < l.errs.n; i++)
		assert_null(strstr(l.errs.items[i].msg, "server_password"));
	const struct cfg_user *t = cfg_find_user(l.c, "t");
	assert_int_equal(t->secret_kind, CFG_SECRET_NONE);
	assert_null(t->password);
	assert_non_null(cfg_find_user(l.c, "first.last"));
	done(&l);

	load(&l, BASE
		 "[user.a]\n"                                        /* 10 */
		 "password = md5d41d8cd98f00b204e9800998ecf8427e\n"  /* 11 */
		 "auth_type = password\n"                            /* 12 */
		 "[user.b]\n"                                        /* 13 */
		 "password = " SCRAM_OK "\n"                         /* 14 */
		 "auth_type = md5\n"                                 /* 15 */
		 "[user.c]\n"                                        /* 16 */
		 "password = md5d41d8cd98f00b204e9800998ecf8427e\n"  /* 17: default scram */
		 "[user.d]\n"                                        /* 18 */
		 "password = SCRAM-SHA-256$4096:c2FsdA==$AAAA:BBBB\n"/* 19 */
		 "[user.e]\n"                                        /* 20 */
		 "password = " SCRAM_OK "\n"                         /* 21 */
		 "auth_type = mysql_native_password\n");             /* 22 */
	assert_null(l.c);
	assert_error(&l, 12, "an md5 verifier can only be checked with auth_type = md5 (auth_type is password)");
	assert_error(&l, 15, "a SCRAM-SHA-256 verifier can only be checked with auth_type = scram-sha-256");
	assert_error(&l, 17, "an md5 verifier can only be checked with auth_type = md5 (auth_type is scram-sha-256)");
	assert_error(&l, 19, "malformed SCRAM-SHA-256 verifier");
	assert_false(has_entry(&l, NULL, 18, "missing 'password'", false)); /* no second error for d */
	assert_error(&l, 22, "auth_type is mysql_native_password");
	done(&l);
}

static void test_auth_file(void **state)
{
	(void)state;
	char *af = write_tmp("; PgBouncer userlist\n"                      /* 1 */
			     "# another comment\n"                         /* 2 */
			     "\n"                                          /* 3 */
			     "\"alice\" \"wonder land\"\n"                 /* 4 */
			     "\"o\"\"brien\"   \"pa\"\"ss\"  \n"           /* 5 */
			     "\"md\" \"md5d41d8cd98f00b204e9800998ecf8427e\"\n" /* 6 */
			     "\"sc\" \"" SCRAM_OK "\"\n"                   /* 7 */
			     "\"app\" \"from-file\"\n");                   /* 8 */
	char text[2048];
	snprintf(text, sizeof(text), "[switchyard]\nauth_file = %s\n" BASE, af);
	struct loaded l;
	load(&l, text);
	assert_clean(&l);
	assert_int_equal(l.c->n_users, 5); /* app from the config + 4 from the file */
	const struct cfg_user *a = cfg_find_user(l.c, "alice");
	assert_non_null(a);
	assert_true(a->from_auth_file);
	assert_string_equal(a->password, "wonder land");
	assert_int_equal(a->secret_kind, CFG_SECRET_PLAIN);
	assert_int_equal(a->auth_type, CFG_AUTH_SCRAM);
	assert_string_equal(a->server_user, "alice");
	assert_string_equal(a->server_password, "wonder land");
	assert_int_equal(a->line, 4);
	const struct cfg_user *o = cfg_find_user(l.c, "o\"brien");
	assert_non_null(o);
	assert_string_equal(o->password, "pa\"ss");
	const struct cfg_user *md = cfg_find_user(l.c, "md");
	assert_int_equal(md->secret_kind, CFG_SECRET_MD5);
	assert_int_equal(md->auth_type, CFG_AUTH_MD5);
	assert_null(md->server_password);
	assert_int_equal(cfg_find_user(l.c, "sc")->secret_kind, CFG_SECRET_SCRAM);
	const struct cfg_user *app = cfg_find_user(l.c, "app"); /* the config wins */
	assert_false(app->from_auth_file);
	assert_string_equal(app->password, "app");
	done(&l);
	unlink(af);
	free(af);

	/* errors, as AUTHFILE:LINE */
	af = write_tmp("\"ok\" \"fine\"\n"                  /* 1 */
		       "bare words\n"                       /* 2 */
		       "\"unterminated\n"                   /* 3 */
		       "\"nopass\"\n"                       /* 4 */
		       "\"x\" \"y\" trailing\n"             /* 5 */
		       "\"ok\" \"again\"\n"                 /* 6 */
		       "\"\" \"empty\"\n"                   /* 7 */
		       "\"s\" \"SCRAM-SHA-256$1:AA==$B:C\"\n"); /* 8 */
	snprintf(text, sizeof(text), "[switchyard]\nauth_file = %s\n" BASE, af);
	load(&l, text);
	assert_null(l.c);
	assert_true(has_entry(&l, af, 2, "expected a double-quoted string", false));
	assert_true(has_entry(&l, af, 3, "unterminated quoted string", false));
	assert_true(has_entry(&l, af, 4, "expected blanks between", false));
	assert_true(has_entry(&l, af, 5, "unexpected text after the password", false));
	assert_true(has_entry(&l, af, 6, "user 'ok' is listed twice (first at line 1)", false));
	assert_true(has_entry(&l, af, 7, "empty user name", false));
	assert_true(has_entry(&l, af, 8, "malformed SCRAM-SHA-256 verifier", false));
	done(&l);
	unlink(af);
	free(af);

	/* missing auth_file; direct call */
	load(&l, "[switchyard]\nauth_file = /nonexistent/userlist.txt\n" BASE);
	assert_null(l.c);
	assert_true(has_entry(&l, "/nonexistent/userlist.txt", 0, "cannot read auth_file", false));
	done(&l);

	af = write_tmp("\"u1\" \"p1\"\n\"u2\" \"p2\"\n");
	struct cfg_user *users = NULL;
	size_t n = 0;
	struct cfg_errors e = { 0 };
	assert_int_equal(cfg_load_auth_file(af, &users, &n, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(e.n, 0);
	assert_string_equal(users[1].name, "u2");
	for (size_t i = 0; i < n; i++) {
		free(users[i].name);
		free(users[i].password);
		free(users[i].server_user);
		free(users[i].server_password);
	}
	free(users);
	unlink(af);
	free(af);
}

/* ---- not implemented yet ---- */

static void test_unimplemented_warnings(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, "[switchyard]\n"                   /* 1 */
		 "stats_auth = admin:secret\n"      /* 2 */
		 "admin_users = app\n"              /* 3 */
		 "auth_user = pgbouncer\n"          /* 4 */
		 "log_format = json\n"              /* 5: implemented */
		 BASE                               /* 6-14 */
		 "max_user_connections = 4\n"       /* 15 (user.app) */
		 "default_target = replica\n"       /* 16 */
		 "[cluster.more]\n"                 /* 17 */
		 "protocol = postgres\n"            /* 18 */
		 "primary = 10.0.0.1:5432\n"        /* 19: implemented */
		 "read_write_split = off\n"         /* 20 */
		 "failover = auto\n"                /* 21 */
		 "monitor_user = mon\n"             /* 22 */
		 "pool_size = 4\n"                  /* 23: implemented */
		 "[route.more.r]\n"                 /* 24 */
		 "target = primary\n");             /* 25 */
	if (!l.c)
		dump(&l);
	assert_non_null(l.c); /* warnings do not stop the load */
	assert_int_equal(cfg_errors_count(&l.errs), 0);
	assert_false(has_entry(&l, NULL, 2, "", true)); /* stats_auth: implemented */
	assert_false(has_entry(&l, NULL, 3, "", true)); /* admin_users: implemented */
	assert_false(has_entry(&l, NULL, 4, "", true)); /* auth_user: implemented */
	assert_warning(&l, 15, "key 'max_user_connections'");
	/* routing, health and failover keys are implemented: no warning */
	assert_false(has_entry(&l, NULL, 21, "", true));
	assert_false(has_entry(&l, NULL, 16, "", true));
	assert_false(has_entry(&l, NULL, 20, "", true));
	assert_false(has_entry(&l, NULL, 22, "", true));
	assert_false(has_entry(&l, NULL, 25, "", true));
	assert_false(has_entry(&l, NULL, 5, "", true));
	assert_false(has_entry(&l, NULL, 19, "", true));
	assert_false(has_entry(&l, NULL, 23, "", true));
	/* values are still parsed and stored */
	assert_string_equal(l.c->global.stats_auth, "admin:secret");
	assert_false(cfg_find_cluster(l.c, "more")->settings.read_write_split);
	assert_int_equal(cfg_find_user(l.c, "app")->default_target, CFG_TARGET_REPLICA);
	char buf[512];
	cfg_error_format(&l.errs.items[0], buf, sizeof(buf));
	assert_non_null(strstr(buf, ":15: warning: key 'max_user_connections' is accepted but has no effect yet"));
	done(&l);
}

/* The table says what the brief says is built and what is not. */
static void test_key_table(void **state)
{
	(void)state;
	static const char *const later[][2] = {
		{ "cluster", "shards" }, { "user", "max_user_connections" },
		{ "shard", "primary" }, { "shard", "replicas" }, { "shard", "pool_size" }, { "shard_rule", "tables" },
		{ "shard_rule", "key" }, { "shard_rule", "method" }, { "shard_rule", "ranges" },
		{ "shard_rule", "values" },
	};
	static const char *const live[][2] = {
		{ "switchyard", "workers" }, { "switchyard", "max_client_conn" }, { "switchyard", "log_level" },
		{ "switchyard", "auth_user" }, { "switchyard", "auth_query" },
		{ "switchyard", "stats_auth" }, { "switchyard", "admin_users" },
		{ "switchyard", "log_format" }, { "switchyard", "log_file" }, { "switchyard", "pidfile" },
		{ "switchyard", "stats_listen" }, { "switchyard", "auth_file" }, { "switchyard", "shutdown_timeout" },
		{ "switchyard", "max_packet_size" }, { "switchyard", "client_tls_mode" },
		{ "switchyard", "client_tls_cert_file" }, { "switchyard", "client_tls_key_file" },
		{ "switchyard", "client_tls_ca_file" }, { "switchyard", "client_rsa_key_file" },
		{ "switchyard", "server_tls_mode" },
		{ "switchyard", "server_tls_ca_file" }, { "switchyard", "server_tls_cert_file" },
		{ "switchyard", "server_tls_key_file" }, { "switchyard", "stats_tls_cert_file" },
		{ "switchyard", "stats_tls_key_file" }, { "switchyard", "stats_tls_ca_file" },
		{ "listen", "protocol" }, { "listen", "address" },
		{ "listen", "cluster" }, { "cluster", "protocol" }, { "cluster", "server_database" },
		{ "cluster", "primary" }, { "cluster", "replicas" }, { "cluster", "pool_mode" },
		{ "cluster", "pool_size" }, { "cluster", "min_pool_size" }, { "cluster", "server_reset_query" },
		{ "cluster", "server_lifetime" }, { "cluster", "server_idle_timeout" },
		{ "cluster", "server_connect_timeout" }, { "cluster", "query_wait_timeout" },
		{ "cluster", "failover" }, { "cluster", "failover_command" }, { "cluster", "failover_wait" },
		{ "cluster", "failover_command_timeout" }, { "cluster", "replication_user" },
		{ "cluster", "replication_password" },
		{ "cluster", "client_login_timeout" }, { "user", "password" }, { "user", "auth_type" },
		{ "user", "server_user" }, { "user", "server_password" }, { "user", "pool_mode" },
		{ "cluster", "read_write_split" }, { "cluster", "read_only_transactions" },
		{ "cluster", "load_balance" }, { "cluster", "replica_weights" }, { "cluster", "replica_fallback" },
		{ "cluster", "max_replica_lag" }, { "cluster", "read_your_writes" }, { "cluster", "ryw_window" },
		{ "cluster", "ryw_wait" }, { "cluster", "monotonic_reads" }, { "cluster", "consistency_scope" },
		{ "cluster", "write_functions" }, { "cluster", "heartbeat_interval" },
		{ "cluster", "replica_position_interval" }, { "cluster", "down_after" }, { "cluster", "up_after" },
		{ "cluster", "monitor_user" }, { "cluster", "monitor_password" }, { "user", "default_target" },
		{ "route", "match" }, { "route", "user" }, { "route", "database" }, { "route", "client_addr" },
		{ "route", "target" },
	};
	struct cfg_key_info ki;
	for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
		if (cfg_key_lookup(later[i][0], later[i][1], &ki) != 0)
			fail_msg("no key %s.%s", later[i][0], later[i][1]);
		if (ki.implemented)
			fail_msg("%s.%s should not be implemented yet", later[i][0], later[i][1]);
	}
	for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
		if (cfg_key_lookup(live[i][0], live[i][1], &ki) != 0)
			fail_msg("no key %s.%s", live[i][0], live[i][1]);
		if (!ki.implemented)
			fail_msg("%s.%s should be implemented", live[i][0], live[i][1]);
	}
	assert_int_equal(cfg_key_lookup("cluster", "pool_size", &ki), 0);
	assert_string_equal(ki.def, "20");
	assert_string_equal(ki.type, "int");
	assert_true(ki.reloadable);
	assert_int_equal(cfg_key_lookup("switchyard", "workers", &ki), 0);
	assert_false(ki.reloadable);
	assert_int_equal(cfg_key_lookup("cluster", "nope", &ki), -1);
	assert_int_equal(cfg_key_lookup("nope", "pool_size", &ki), -1);
	assert_int_equal(cfg_key_lookup("shard", "protocol", &ki), -1); /* cluster-only */
}

/* ---- misc ---- */

static void test_refcount_and_names(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, BASE);
	assert_non_null(l.c);
	struct cfg *c = cfg_ref(l.c);
	assert_ptr_equal(c, l.c);
	assert_int_equal(atomic_load(&c->refs), 2);
	cfg_unref(c);
	assert_int_equal(atomic_load(&l.c->refs), 1);
	assert_null(cfg_ref(NULL));
	cfg_unref(NULL);
	done(&l); /* last unref frees: checked by the sanitizers */

	assert_string_equal(cfg_pool_mode_name(CFG_POOL_SESSION), "session");
	assert_string_equal(cfg_pool_mode_name(CFG_POOL_TRANSACTION), "transaction");
	assert_string_equal(cfg_pool_mode_name(CFG_POOL_STATEMENT), "statement");
	assert_string_equal(cfg_pool_mode_name(CFG_POOL_MODE_UNSET), "unset");
	assert_string_equal(cfg_protocol_name(CFG_PROTO_POSTGRES), "postgres");
	assert_string_equal(cfg_protocol_name(CFG_PROTO_MYSQL), "mysql");
	assert_string_equal(cfg_auth_type_name(CFG_AUTH_SCRAM), "scram-sha-256");
	assert_string_equal(cfg_auth_type_name(CFG_AUTH_MYSQL_SHA2), "caching_sha2_password");
	assert_string_equal(cfg_log_level_name(CFG_LOG_WARNING), "warning");
	assert_string_equal(cfg_server_tls_name(CFG_STLS_VERIFY_FULL), "verify-full");
	assert_string_equal(cfg_client_tls_name(CFG_CTLS_REQUIRE), "require");
	assert_string_equal(cfg_secret_kind_name(CFG_SECRET_SCRAM), "scram-sha-256");
	assert_string_equal(cfg_target_name(CFG_TARGET_REPLICA), "replica");
	assert_string_equal(cfg_load_balance_name(CFG_LB_ROUND_ROBIN), "round_robin");
	assert_string_equal(cfg_ryw_name(CFG_RYW_LSN), "lsn");
	assert_string_equal(cfg_scope_name(CFG_SCOPE_CLIENT_ADDR), "client_addr");
	assert_string_equal(cfg_failover_name(CFG_FAILOVER_COMMAND), "command");
	assert_string_equal(cfg_shard_method_name(CFG_SHARD_LIST), "list");
	assert_string_equal(cfg_log_format_name((enum cfg_log_format)42), "?");

	struct cfg_error e = { .file = "a.ini", .line = 0, .msg = "m", .warning = false };
	char buf[64];
	cfg_error_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "a.ini: m");
	e.line = 3;
	e.warning = true;
	cfg_error_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "a.ini:3: warning: m");
}

/* The shipped example loads with neither errors nor warnings. */
static void test_example_loads(void **state)
{
	(void)state;
	const char *paths[] = { "examples/switchyard.ini", "../examples/switchyard.ini", "../../examples/switchyard.ini" };
	const char *path = NULL;
	for (size_t i = 0; i < 3 && !path; i++)
		if (access(paths[i], R_OK) == 0)
			path = paths[i];
	if (!path)
		skip();
	struct cfg_errors e = { 0 };
	struct cfg *c = cfg_load(path, &e);
	char buf[1024];
	for (size_t i = 0; i < e.n; i++) {
		cfg_error_format(&e.items[i], buf, sizeof(buf));
		fprintf(stderr, "  | %s\n", buf);
	}
	assert_non_null(c);
	assert_int_equal(e.n, 0);
	const struct cfg_listen *my = cfg_find_listen(c, "my");
	assert_non_null(my);
	assert_int_equal(my->protocol, CFG_PROTO_MYSQL);
	assert_string_equal(my->cluster, "shop");
	assert_int_equal(my->address.port, 6033);
	assert_int_equal(cfg_find_listen(c, "pg")->address.port, 6432);
	const struct cfg_cluster *app = cfg_find_cluster(c, "app");
	assert_string_equal(app->server_database, "app");
	assert_int_equal(app->nodes[0].addr.port, 15432);
	assert_int_equal(app->nodes[1].addr.port, 15433);
	const struct cfg_cluster *shop = cfg_find_cluster(c, "shop");
	assert_int_equal(shop->protocol, CFG_PROTO_MYSQL);
	assert_int_equal(shop->nodes[0].addr.port, 13306);
	assert_int_equal(shop->nodes[1].addr.port, 13307);
	assert_int_equal(c->global.stats_listen.port, 9930);
	assert_string_equal(cfg_find_user(c, "app")->password, "app");
	assert_int_equal(cfg_find_user(c, "app")->auth_type, CFG_AUTH_SCRAM);
	assert_string_equal(cfg_find_user(c, "admin")->password, "admin");
	cfg_unref(c);
	cfg_errors_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test(test_parse_int_and_secret),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values_in_file),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_unknown_and_duplicate),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_pool_limits_and_servers),
		cmocka_unit_test(test_duplicate_listen_address),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_multiple_errors),
		cmocka_unit_test(test_shard_inheritance),
		cmocka_unit_test(test_replica_weights),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_auth_file),
		cmocka_unit_test(test_unimplemented_warnings),
		cmocka_unit_test(test_key_table),
		cmocka_unit_test(test_refcount_and_names),
		cmocka_unit_test(test_example_loads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
