/*
 * test_router_rules.c — router/rules.c: [route.CLUSTER.NAME] rules compiled
 * from a real snapshot (cfg_load on a temporary INI file), first match
 * wins, the user / database / client_addr conditions (IPv4, IPv6, CIDR),
 * caseless and multi-line matching, hit counters (also from several
 * threads at once), and pattern errors with their offset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "router/rules.h"

/* ---- helpers ---- */

struct loaded {
	char *path;
	struct cfg *c;
	struct cfg_errors errs;
};

static void load(struct loaded *l, const char *text)
{
	char tmpl[] = "/tmp/switchyard-test-XXXXXX";
	memset(l, 0, sizeof(*l));
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	size_t n = strlen(text);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	l->path = strdup(tmpl);
	l->c = cfg_load(l->path, &l->errs);
	if (!l->c) {
		char buf[2048];
		for (size_t i = 0; i < l->errs.n; i++) {
			cfg_error_format(&l->errs.items[i], buf, sizeof(buf));
			fprintf(stderr, "  | %s\n", buf);
		}
	}
}

static void done(struct loaded *l)
{
	cfg_unref(l->c);
	cfg_errors_free(&l->errs);
	unlink(l->path);
	free(l->path);
}

static const char rules_ini[] =
	"[listen.pg]\n"
	"protocol = postgres\n"
	"address = 127.0.0.1:6432\n"
	"[cluster.app]\n"
	"protocol = postgres\n"
	"primary = 127.0.0.1:5432\n"
	"replicas = 127.0.0.1:5433, 127.0.0.1:5434\n"
	"[cluster.other]\n"
	"protocol = postgres\n"
	"primary = 127.0.0.1:6000\n"
	"[user.app]\n"
	"password = app\n"
	/* 0 */
	"[route.app.reports]\n"
	"match = ^\\s*select\\b.*\\bfrom\\s+reports\\b\n"
	"target = 127.0.0.1:5433\n"
	/* 1 */
	"[route.app.by_user]\n"
	"match = ^select\n"
	"user = analyst\n"
	"target = replica\n"
	/* 2 */
	"[route.app.by_db]\n"
	"match = ^select\n"
	"database = warehouse\n"
	"target = any\n"
	/* 3 */
	"[route.app.by_net]\n"
	"match = ^select\n"
	"client_addr = 10.0.0.0/8\n"
	"target = replica\n"
	/* 4 */
	"[route.app.v6]\n"
	"match = ^select\n"
	"client_addr = fd00::/8\n"
	"target = any\n"
	/* 5 */
	"[route.app.exact]\n"
	"match = ^select\n"
	"client_addr = 192.168.1.7\n"
	"target = primary\n"
	/* 6 */
	"[route.app.all_three]\n"
	"match = ^select\n"
	"user = etl\n"
	"database = dw\n"
	"client_addr = 172.16.0.0/12\n"
	"target = replica\n"
	/* 7 */
	"[route.app.updates]\n"
	"match = ^\\s*update\n"
	"target = primary\n"
	/* 8: no pattern, conditions only */
	"[route.app.batch]\n"
	"user = batch\n"
	"target = replica\n"
	/* 9 */
	"[route.other.everything]\n"
	"match = .\n"
	"target = primary\n";

static bool m(struct route_rules *r, const char *cluster, const char *sql, const char *user, const char *db,
	      const char *addr, struct route_rule_hit *hit)
{
	return route_rules_match(r, cluster, sql, strlen(sql), user, db, addr, hit);
}

/* ---- tests ---- */

static void test_compile_and_match(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, rules_ini);
	assert_non_null(l.c);
	assert_int_equal(l.c->n_routes, 10);
	char err[512] = "";
	struct route_rules *r = route_rules_compile(l.c, err, sizeof(err));
	assert_non_null(r);
	struct route_rule_hit hit;

	/* caseless; DOTALL: .* spans the lines of a statement */
	assert_true(m(r, "app", "SELECT a,\n  b\nFROM reports WHERE x", "app", "app", "127.0.0.1", &hit));
	assert_int_equal(hit.index, 0);
	assert_string_equal(hit.name, "reports");
	assert_int_equal(hit.target, CFG_TARGET_NODE);
	assert_non_null(hit.node);
	assert_int_equal(hit.node->port, 5433);
	assert_string_equal(hit.node->host, "127.0.0.1");

	/* no rule: index -1, nothing filled */
	assert_false(m(r, "app", "select 1", "app", "app", "127.0.0.1", &hit));
	assert_int_equal(hit.index, -1);
	assert_null(hit.name);
	assert_null(hit.node);
	assert_int_equal(hit.target, CFG_TARGET_NONE);
	assert_false(m(r, "app", "insert into t values (1)", "app", "app", "127.0.0.1", &hit));

	/* user condition */
	assert_true(m(r, "app", "select 1", "analyst", "app", NULL, &hit));
	assert_int_equal(hit.index, 1);
	assert_int_equal(hit.target, CFG_TARGET_REPLICA);
	assert_null(hit.node);
	assert_false(m(r, "app", "select 1", "Analyst", "app", NULL, &hit)); /* names are exact */
	assert_false(m(r, "app", "select 1", NULL, "app", NULL, &hit));

	/* first match wins: analyst on warehouse matches 1 and 2 */
	assert_true(m(r, "app", "select 1", "analyst", "warehouse", NULL, &hit));
	assert_int_equal(hit.index, 1);
	assert_true(m(r, "app", "select 1", "app", "warehouse", NULL, &hit));
	assert_int_equal(hit.index, 2);
	assert_int_equal(hit.target, CFG_TARGET_ANY);
	/* reports beats everything below it */
	assert_true(m(r, "app", "select * from reports", "analyst", "warehouse", "10.1.2.3", &hit));
	assert_int_equal(hit.index, 0);

	/* client_addr: CIDR, exact, IPv6, IPv4-mapped IPv6, unix sockets */
	assert_true(m(r, "app", "select 1", "app", "app", "10.200.3.4", &hit));
	assert_int_equal(hit.index, 3);
	assert_false(m(r, "app", "select 1", "app", "app", "11.0.0.1", &hit));
	assert_true(m(r, "app", "select 1", "app", "app", "::ffff:10.0.0.9", &hit));
	assert_int_equal(hit.index, 3);
	assert_true(m(r, "app", "select 1", "app", "app", "fd12:3456::1", &hit));
	assert_int_equal(hit.index, 4);
	assert_false(m(r, "app", "select 1", "app", "app", "fe80::1", &hit));
	assert_true(m(r, "app", "select 1", "app", "app", "192.168.1.7", &hit));
	assert_int_equal(hit.index, 5);
	assert_int_equal(hit.target, CFG_TARGET_PRIMARY);
	assert_false(m(r, "app", "select 1", "app", "app", "192.168.1.8", &hit));
	assert_false(m(r, "app", "select 1", "app", "app", NULL, &hit));
	assert_false(m(r, "app", "select 1", "app", "app", "not an address", &hit));

	/* all three conditions at once */
	assert_true(m(r, "app", "select 1", "etl", "dw", "172.31.255.255", &hit));
	assert_int_equal(hit.index, 6);
	assert_false(m(r, "app", "select 1", "etl", "dw", "172.32.0.0", &hit));
	assert_false(m(r, "app", "select 1", "etl", "dw2", "172.16.0.1", &hit));
	assert_false(m(r, "app", "select 1", "etl2", "dw", "172.16.0.1", &hit));

	/* anchors and caseless */
	assert_true(m(r, "app", "  UPDATE t SET a = 1", "app", "app", NULL, &hit));
	assert_int_equal(hit.index, 7);
	assert_false(m(r, "app", "with x as (select 1) update t set a = 1", "app", "app", NULL, &hit));

	/* a rule without a pattern: conditions alone */
	assert_true(m(r, "app", "delete from t", "batch", "app", NULL, &hit));
	assert_int_equal(hit.index, 8);
	assert_string_equal(hit.name, "batch");
	assert_true(route_rules_match(r, "app", NULL, 0, "batch", "app", NULL, &hit));

	/* the cluster must be equal */
	assert_true(m(r, "other", "anything", "app", "app", NULL, &hit));
	assert_int_equal(hit.index, 9);
	assert_false(m(r, "other", "", "app", "app", NULL, &hit)); /* '.' needs a character */
	assert_false(m(r, "nope", "select * from reports", "app", "app", NULL, &hit));
	assert_false(m(r, "ap", "select * from reports", "app", "app", NULL, &hit));
	assert_false(route_rules_match(r, NULL, "select", 6, NULL, NULL, NULL, &hit));

	/* the match is on the given length only */
	const char *sql = "select 1 from reports";
	assert_false(route_rules_match(r, "app", sql, strlen("select 1 from rep"), "app", "app", NULL, &hit));

	/* hits */
	assert_int_equal(route_rules_hits(r, 0), 2);
	assert_int_equal(route_rules_hits(r, 1), 2);
	assert_int_equal(route_rules_hits(r, 2), 1);
	assert_int_equal(route_rules_hits(r, 3), 2);
	assert_int_equal(route_rules_hits(r, 4), 1);
	assert_int_equal(route_rules_hits(r, 5), 1);
	assert_int_equal(route_rules_hits(r, 6), 1);
	assert_int_equal(route_rules_hits(r, 7), 1);
	assert_int_equal(route_rules_hits(r, 8), 2);
	assert_int_equal(route_rules_hits(r, 9), 1);
	assert_int_equal(route_rules_hits(r, 10), 0); /* out of range */
	assert_int_equal(route_rules_hits(NULL, 0), 0);

	route_rules_free(r);
	/* the compiled table does not borrow the snapshot */
	r = route_rules_compile(l.c, err, sizeof(err));
	assert_non_null(r);
	done(&l);
	assert_true(m(r, "app", "select * from reports", "x", "y", NULL, &hit));
	assert_string_equal(hit.name, "reports");
	assert_int_equal(hit.node->port, 5433);
	route_rules_free(r);
	route_rules_free(NULL);
}

static void test_no_routes(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, "[listen.pg]\nprotocol = postgres\naddress = 127.0.0.1:6432\n"
		 "[cluster.app]\nprotocol = postgres\nprimary = 127.0.0.1:5432\n"
		 "[user.app]\npassword = app\n");
	assert_non_null(l.c);
	char err[256];
	struct route_rules *r = route_rules_compile(l.c, err, sizeof(err));
	assert_non_null(r);
	struct route_rule_hit hit;
	assert_false(m(r, "app", "select 1", "app", "app", NULL, &hit));
	assert_int_equal(hit.index, -1);
	route_rules_free(r);
	done(&l);
}

struct worker_arg {
	struct route_rules *r;
	int n;
	int matched;
};

static void *worker(void *p)
{
	struct worker_arg *a = p;
	for (int i = 0; i < a->n; i++) {
		struct route_rule_hit hit;
		const char *sql = i % 2 ? "SELECT * FROM reports" : "UPDATE t SET a = 1";
		if (route_rules_match(a->r, "app", sql, strlen(sql), "app", "app", "127.0.0.1", &hit))
			a->matched++;
	}
	return NULL;
}

/* Every worker matches against the same table: counts add up exactly. */
static void test_threads(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, rules_ini);
	assert_non_null(l.c);
	char err[256];
	struct route_rules *r = route_rules_compile(l.c, err, sizeof(err));
	assert_non_null(r);
	enum { THREADS = 4, EACH = 20000 };
	pthread_t th[THREADS];
	struct worker_arg args[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct worker_arg){ r, EACH, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].matched, EACH);
	}
	assert_int_equal(route_rules_hits(r, 0), THREADS * EACH / 2);
	assert_int_equal(route_rules_hits(r, 7), THREADS * EACH / 2);
	route_rules_free(r);
	done(&l);
}

static void test_pattern_errors(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(route_pattern_check("^select\\b.*\\bfrom\\s+reports", err, sizeof(err)), 0);
	assert_int_equal(route_pattern_check("", err, sizeof(err)), 0);
	assert_int_equal(route_pattern_check("select (foo", err, sizeof(err)), -1);
	assert_string_equal(err, "pattern error at offset 11: missing closing parenthesis");
	assert_int_equal(route_pattern_check("a)b", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "pattern error at offset 1: "));
	assert_int_equal(route_pattern_check("x{2,1}", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "pattern error at offset "));
	assert_int_equal(route_pattern_check("[z-a]", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "pattern error at offset 3: "));
	/* a short buffer is cut, not overrun */
	char tiny[12];
	assert_int_equal(route_pattern_check("(", tiny, sizeof(tiny)), -1);
	assert_string_equal(tiny, "pattern err");

	/* route_rules_compile names the rule (a snapshot made by hand: the
	 * loader would refuse this pattern first) */
	struct cfg_route routes[2] = {
		{ .cluster = "app", .name = "fine", .match = "^select", .target = CFG_TARGET_REPLICA },
		{ .cluster = "app", .name = "broken", .match = "^select (foo", .target = CFG_TARGET_REPLICA },
	};
	struct cfg c = { .routes = routes, .n_routes = 2 };
	assert_null(route_rules_compile(&c, err, sizeof(err)));
	assert_string_equal(err, "route.app.broken: pattern error at offset 12: missing closing parenthesis");

	/* a client_addr that is not an address or CIDR */
	routes[1].match = "^select";
	static const char *bad_addrs[] = { "10.0.0.0/33", "fd00::/129", "10.0.0/8", "host.example", "10.0.0.1/",
					   "/8", "10.0.0.0/8x" };
	for (size_t i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]); i++) {
		routes[1].client_addr = (char *)bad_addrs[i];
		assert_null(route_rules_compile(&c, err, sizeof(err)));
		assert_non_null(strstr(err, "route.app.broken: bad client_addr"));
	}
	routes[1].client_addr = "0.0.0.0/0";
	struct route_rules *r = route_rules_compile(&c, err, sizeof(err));
	assert_non_null(r);
	struct route_rule_hit hit;
	assert_true(route_rules_match(r, "app", "select", 6, "u", "d", "203.0.113.9", &hit));
	assert_int_equal(hit.index, 0); /* "fine" first */
	route_rules_free(r);
}

/* The loader refuses a bad pattern with its offset, at the line of the
 * `match` key (config/keys.c compiles every pattern when it reads it). */
static void test_config_rejects_bad_pattern(void **state)
{
	(void)state;
	struct loaded l;
	load(&l, "[listen.pg]\nprotocol = postgres\naddress = 127.0.0.1:6432\n"
		 "[cluster.app]\nprotocol = postgres\nprimary = 127.0.0.1:5432\n"
		 "[user.app]\npassword = app\n"
		 "[route.app.bad]\n"     /* 9 */
		 "match = ^select (foo\n" /* 10 */
		 "target = replica\n");
	assert_null(l.c);
	bool found = false;
	for (size_t i = 0; i < l.errs.n; i++) {
		const struct cfg_error *e = &l.errs.items[i];
		if (!e->warning && e->line == 10 && strstr(e->msg, "offset 12") &&
		    strstr(e->msg, "missing closing parenthesis"))
			found = true;
	}
	assert_true(found);
	done(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compile_and_match),
		cmocka_unit_test(test_no_routes),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_pattern_errors),
		cmocka_unit_test(test_config_rejects_bad_pattern),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
