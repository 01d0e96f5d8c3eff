/*
 * test_router_classify.c — router/classify.c: read or write for a table of
 * statements in both dialects (comments, CTEs, locking clauses, write
 * functions, strings and quotes that must not fool the scanner, EXPLAIN
 * ANALYZE, multi-statement text), transaction control, comment hints, the
 * proxy's SET switchyard.route / .key, and cut-off text.
 *
 * Every text is copied into a heap buffer of exactly its length (no NUL
 * after it), so a read past `len` is an ASan report in the sanitizer build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router/classify.h"

#define PG ROUTE_DIALECT_PG
#define MY ROUTE_DIALECT_MYSQL
#define R ROUTE_CLASS_READ
#define W ROUTE_CLASS_WRITE

static char *extra_names[] = { "app_audit", "Bump_Counter" };
static const struct cfg_strlist extra_fns = { extra_names, 2 };

static struct route_stmt classify_n(const char *sql, size_t n, enum route_dialect d, const struct cfg_strlist *wf)
{
	char *p = malloc(n ? n : 1);
	assert_non_null(p);
	memcpy(p, sql, n);
	struct route_stmt st;
	memset(&st, 0x5a, sizeof(st));
	route_classify(p, n, d, wf, &st);
	/* The contract every caller relies on. */
	assert_non_null(st.reason);
	assert_true(st.reason[0] != '\0');
	if (st.cls == ROUTE_CLASS_READ)
		assert_string_equal(st.reason, "read");
	assert_true(st.cls == ROUTE_CLASS_READ || st.cls == ROUTE_CLASS_WRITE);
	if (st.sets_key && st.key) {
		assert_true(st.key >= p && st.key + st.key_len <= p + n);
		st.key = sql + (st.key - p); /* point into the caller's copy */
	}
	free(p);
	return st;
}

static struct route_stmt classify(const char *sql, enum route_dialect d)
{
	return classify_n(sql, strlen(sql), d, &extra_fns);
}

struct case_ {
	enum route_dialect d;
	const char *sql;
	enum route_class cls;
	const char *reason; /* NULL: not checked */
};

/* ---- the table ---- */

static const struct case_ cases[] = {
	/* plain reads */
	{ PG, "SELECT 1", R, "read" },
	{ PG, "select * from t", R, NULL },
	{ PG, "SeLeCt a, b FROM t WHERE x = 1 ORDER BY a LIMIT 10", R, NULL },
	{ PG, "   \n\t SELECT 1", R, NULL },
	{ PG, "SELECT 1;", R, NULL },
	{ PG, "SELECT 1;;  ;", R, NULL },
	{ PG, "(SELECT 1) UNION (SELECT 2)", R, NULL },
	{ PG, "((SELECT 1))", R, NULL },
	{ PG, "SHOW search_path", R, NULL },
	{ PG, "show all", R, NULL },
	{ PG, "VALUES (1), (2)", R, NULL },
	{ PG, "TABLE accounts", R, NULL },
	{ PG, "SELECT count(*) FROM t GROUP BY a HAVING count(*) > 1", R, NULL },
	{ PG, "SELECT now(), current_user, pg_is_in_recovery()", R, NULL },
	{ PG, "SELECT pg_last_wal_replay_lsn()", R, NULL },
	{ PG, "SELECT * FROM t WHERE id IN (SELECT id FROM u)", R, NULL },
	{ PG, "SELECT * FROM t1 JOIN t2 USING (id) WHERE t1.a > $1", R, NULL },
	{ PG, "SELECT x::text FROM t", R, NULL },
	{ PG, "SELECT substring('abc' FOR 2)", R, NULL },
	{ PG, "SELECT * FROM generate_series(1, 10) WITH ORDINALITY", R, NULL },
	{ MY, "SELECT 1", R, NULL },
	{ MY, "SHOW DATABASES", R, NULL },
	{ MY, "SHOW FULL PROCESSLIST", R, NULL },
	{ MY, "show variables like 'gtid%'", R, NULL },
	{ MY, "DESCRIBE t", R, NULL },
	{ MY, "DESC t", R, NULL },
	{ MY, "desc select * from t", R, NULL },
	{ MY, "HELP 'contents'", R, NULL },
	{ MY, "SELECT `select`, `update` FROM `insert`", R, NULL },
	{ MY, "SELECT IS_USED_LOCK('x')", R, NULL },
	{ MY, "SELECT MASTER_GTID_WAIT('0-1-100', 1)", R, NULL },
	{ MY, "SELECT INSERT('Quadratic', 3, 4, 'What')", R, NULL },
	{ MY, "SELECT SLEEP(1)", R, NULL },
	{ MY, "VALUES ROW(1, 2)", R, NULL },
	{ MY, "TABLE t", R, NULL },

	/* PostgreSQL only statements are unknown in MySQL and vice versa */
	{ PG, "DESCRIBE t", W, "other" },
	{ PG, "HELP 'x'", W, "other" },

	/* comments */
	{ PG, "-- a comment\nSELECT 1", R, NULL },
	{ PG, "/* block */ SELECT 1", R, NULL },
	{ PG, "/* outer /* nested */ still comment DELETE */ SELECT 1", R, NULL },
	{ PG, "/* outer /* nested */ DELETE FROM t */ SELECT 1 -- trailing", R, NULL },
	{ PG, "SELECT 1 /* for update */", R, NULL },
	{ PG, "SELECT 1 -- for update", R, NULL },
	{ PG, "SELECT 1 -- ; DELETE FROM t", R, NULL },
	{ PG, "SELECT 1 /* ; DELETE FROM t */", R, NULL },
	{ PG, "SELECT * FROM t /* c */ FOR /* c */ UPDATE", W, "for update" },
	{ PG, "-- hi\n-- there\n/* x */ DELETE FROM t", W, "dml" },
	{ MY, "# comment\nSELECT 1", R, NULL },
	{ MY, "-- comment\nSELECT 1", R, NULL },
	{ MY, "SELECT 1 # ; DELETE FROM t", R, NULL },
	{ MY, "SELECT 5--1", R, NULL },
	{ MY, "/* outer /* not nested */ SELECT 1", R, NULL },
	{ MY, "/*!40101 SET NAMES utf8 */", W, "mysql executable comment" },
	{ MY, "SELECT /*!50000 SQL_NO_CACHE */ 1", W, "mysql executable comment" },
	{ MY, "SELECT /*+ MAX_EXECUTION_TIME(1000) */ * FROM t", R, NULL },
	{ PG, "SELECT 1 # 2", R, NULL },

	/* strings, identifiers, dollar quotes must not fool the scanner */
	{ PG, "SELECT 'for update'", R, NULL },
	{ PG, "SELECT 'insert into t values (1)'", R, NULL },
	{ PG, "SELECT 'it''s ; DELETE FROM t'", R, NULL },
	{ PG, "SELECT * FROM t WHERE a = 'x; DROP TABLE t'", R, NULL },
	{ PG, "SELECT \"for\", \"update\" FROM t", R, NULL },
	{ PG, "SELECT \"nextval\" FROM t", R, NULL },
	{ PG, "SELECT \"a\"\"b; delete\" FROM t", R, NULL },
	{ PG, "SELECT $$ FOR UPDATE $$", R, NULL },
	{ PG, "SELECT $tag$ nextval('s'); DELETE $$ $tag$", R, NULL },
	{ PG, "SELECT $a$ $b$ into $b$ $a$", R, NULL },
	{ PG, "SELECT E'\\' FOR UPDATE '", R, NULL },
	{ PG, "SELECT 'a\\', 1 FOR UPDATE", W, "for update" },
	{ PG, "SELECT $1::int, $2", R, NULL },
	{ PG, "SELECT a$b FROM t", R, NULL },
	{ PG, "SELECT 'lock in share mode'", R, NULL },
	{ PG, "SELECT 'into'", R, NULL },
	{ MY, "SELECT 'it\\'s ; DELETE FROM t'", R, NULL },
	{ MY, "SELECT \"for update\"", R, NULL },
	{ MY, "SELECT \"a\\\" FOR UPDATE\"", R, NULL },
	{ MY, "SELECT `for` FROM `t` WHERE `into` = 1", R, NULL },
	{ MY, "SELECT 'GET_LOCK(1)'", R, NULL },
	{ MY, "SELECT $$ FOR UPDATE $$", W, "for update" },

	/* locking clauses */
	{ PG, "SELECT * FROM t FOR UPDATE", W, "for update" },
	{ PG, "select * from t for update nowait", W, "for update" },
	{ PG, "SELECT * FROM t FOR UPDATE SKIP LOCKED", W, "for update" },
	{ PG, "SELECT * FROM t FOR SHARE", W, "for share" },
	{ PG, "SELECT * FROM t FOR NO KEY UPDATE", W, "for no key update" },
	{ PG, "SELECT * FROM t FOR KEY SHARE", W, "for key share" },
	{ PG, "SELECT * FROM t FOR UPDATE OF t", W, "for update" },
	{ PG, "SELECT * FROM (SELECT * FROM t FOR UPDATE) s", W, "for update" },
	{ PG, "SELECT * FROM t\nFOR\nUPDATE", W, "for update" },
	{ MY, "SELECT * FROM t FOR UPDATE", W, "for update" },
	{ MY, "SELECT * FROM t FOR SHARE", W, "for share" },
	{ MY, "SELECT * FROM t LOCK IN SHARE MODE", W, "lock in share mode" },
	{ MY, "select * from t lock in share mode", W, "lock in share mode" },

	/* INTO */
	{ PG, "SELECT * INTO newtable FROM t", W, "select into" },
	{ PG, "SELECT a INTO TEMP x FROM t", W, "select into" },
	{ MY, "SELECT a INTO @v FROM t", W, "select into" },
	{ MY, "SELECT * FROM t INTO OUTFILE '/tmp/x'", W, "select into" },
	{ MY, "SELECT * FROM t INTO DUMPFILE '/tmp/x'", W, "select into" },

	/* write functions */
	{ PG, "SELECT nextval('s')", W, "write function" },
	{ PG, "SELECT NEXTVAL ('s')", W, "write function" },
	{ PG, "SELECT nextval\n('s')", W, "write function" },
	{ PG, "SELECT nextval/* c */('s')", W, "write function" },
	{ PG, "SELECT pg_catalog.nextval('s')", W, "write function" },
	{ PG, "SELECT \"nextval\"('s')", W, "write function" },
	{ PG, "SELECT setval('s', 10)", W, "write function" },
	{ PG, "SELECT currval('s')", W, "write function" },
	{ PG, "SELECT lastval()", W, "write function" },
	{ PG, "SELECT pg_advisory_lock(1)", W, "write function" },
	{ PG, "SELECT pg_advisory_xact_lock(1)", W, "write function" },
	{ PG, "SELECT pg_advisory_unlock_all()", W, "write function" },
	{ PG, "SELECT pg_try_advisory_lock(1)", W, "write function" },
	{ PG, "SELECT pg_try_advisory_xact_lock_shared(1)", W, "write function" },
	{ PG, "SELECT lo_create(0)", W, "write function" },
	{ PG, "SELECT lo_import('/tmp/x')", W, "write function" },
	{ PG, "SELECT lo_unlink(1234)", W, "write function" },
	{ PG, "SELECT txid_current()", W, "write function" },
	{ PG, "SELECT pg_current_xact_id()", W, "write function" },
	{ PG, "SELECT set_config('a.b', 'c', false)", W, "write function" },
	{ PG, "SELECT pg_notify('ch', 'x')", W, "write function" },
	{ PG, "SELECT a, (SELECT nextval('s')) FROM t", W, "write function" },
	{ PG, "VALUES (nextval('s'))", W, "write function" },
	{ PG, "SELECT app_audit(1)", W, "write function" },
	{ PG, "SELECT APP_AUDIT (1)", W, "write function" },
	{ PG, "SELECT public.bump_counter(2)", W, "write function" },
	{ PG, "SELECT app_audit FROM t", R, NULL },
	{ PG, "SELECT app_audit_x(1)", R, NULL },
	{ PG, "SELECT nextval_x(1)", R, NULL },
	{ PG, "SELECT my_nextval('s')", R, NULL },
	{ MY, "SELECT GET_LOCK('x', 10)", W, "write function" },
	{ MY, "select release_lock('x')", W, "write function" },
	{ MY, "SELECT RELEASE_ALL_LOCKS()", W, "write function" },
	{ MY, "SELECT LAST_INSERT_ID(5)", W, "write function" },
	{ MY, "SELECT LAST_INSERT_ID()", W, "write function" },
	{ MY, "SELECT FOUND_ROWS()", W, "write function" },
	{ MY, "SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1", W, "found rows" },
	{ MY, "SELECT NEXT VALUE FOR s", W, "sequence" },
	{ MY, "SELECT PREVIOUS VALUE FOR s", W, "sequence" },
	{ MY, "SELECT NEXTVAL(s)", W, "write function" },
	{ MY, "SELECT `get_lock`('x', 1)", W, "write function" },
	{ MY, "SELECT app_audit(1)", W, "write function" },

	/* CTEs */
	{ PG, "WITH x AS (SELECT 1) SELECT * FROM x", R, NULL },
	{ PG, "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r", R,
	  NULL },
	{ PG, "WITH a AS (SELECT 1), b AS (SELECT 2) SELECT * FROM a, b", R, NULL },
	{ PG, "WITH a AS MATERIALIZED (SELECT 1) SELECT * FROM a", R, NULL },
	{ PG, "WITH a AS NOT MATERIALIZED (SELECT 1) SELECT * FROM a", R, NULL },
	{ PG, "WITH x AS (SELECT 1) VALUES (1)", R, NULL },
	{ PG, "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", W, "dml" },
	{ PG, "WITH x AS (SELECT 1) UPDATE t SET a = 1", W, "dml" },
	{ PG, "WITH x AS (SELECT 1) DELETE FROM t", W, "dml" },
	{ PG, "WITH x AS (SELECT 1) MERGE INTO t USING x ON true WHEN MATCHED THEN DELETE", W, "dml" },
	{ PG, "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", W, "cte write" },
	{ PG, "WITH x AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM x", W, "cte write" },
	{ PG, "WITH x AS (INSERT INTO t VALUES (1) RETURNING id) SELECT id FROM x", W, "cte write" },
	{ PG, "WITH a AS (SELECT 1), x AS ( /* c */ delete from t returning *) SELECT 1", W, "cte write" },
	{ PG, "with x as (select nextval('s')) select * from x", W, "write function" },
	{ PG, "WITH x AS (SELECT * FROM t FOR UPDATE) SELECT * FROM x", W, "for update" },
	{ PG, "WITH x AS (SELECT 'delete') SELECT * FROM x", R, NULL },
	{ PG, "WITH x AS (SELECT 1)", W, "cte" },
	{ MY, "WITH x AS (SELECT 1) SELECT * FROM x", R, NULL },
	{ MY, "WITH x AS (SELECT 1) UPDATE t JOIN x SET t.a = 1", W, "dml" },

	/* EXPLAIN */
	{ PG, "EXPLAIN SELECT 1", R, NULL },
	{ PG, "EXPLAIN DELETE FROM t", R, NULL },
	{ PG, "EXPLAIN VERBOSE UPDATE t SET a = 1", R, NULL },
	{ PG, "EXPLAIN ANALYZE SELECT 1", R, NULL },
	{ PG, "EXPLAIN ANALYZE DELETE FROM t", W, "dml" },
	{ PG, "explain analyse insert into t values (1)", W, "dml" },
	{ PG, "EXPLAIN ANALYZE VERBOSE UPDATE t SET a = 1", W, "dml" },
	{ PG, "EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t", W, "dml" },
	{ PG, "EXPLAIN (ANALYZE true, FORMAT JSON) UPDATE t SET a = 1", W, "dml" },
	{ PG, "EXPLAIN (ANALYZE false) DELETE FROM t", R, NULL },
	{ PG, "EXPLAIN (ANALYZE off, COSTS on) DELETE FROM t", R, NULL },
	{ PG, "EXPLAIN (FORMAT JSON) DELETE FROM t", R, NULL },
	{ PG, "EXPLAIN (ANALYZE) SELECT * FROM t FOR UPDATE", W, "for update" },
	{ PG, "EXPLAIN ANALYZE SELECT nextval('s')", W, "write function" },
	{ PG, "EXPLAIN SELECT nextval('s')", R, NULL },
	{ PG, "EXPLAIN ANALYZE WITH x AS (DELETE FROM t RETURNING *) SELECT 1", W, "cte write" },
	{ MY, "EXPLAIN SELECT * FROM t", R, NULL },
	{ MY, "EXPLAIN FORMAT=JSON DELETE FROM t", R, NULL },
	{ MY, "EXPLAIN ANALYZE SELECT * FROM t", R, NULL },
	{ MY, "EXPLAIN ANALYZE UPDATE t SET a = 1", W, "dml" },
	{ MY, "EXPLAIN t", R, NULL },

	/* everything else is a write */
	{ PG, "INSERT INTO t VALUES (1)", W, "dml" },
	{ PG, "insert into t select * from u", W, "dml" },
	{ PG, "UPDATE t SET a = 1", W, "dml" },
	{ PG, "DELETE FROM t", W, "dml" },
	{ PG, "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = 1", W, "dml" },
	{ PG, "CREATE TABLE t (a int)", W, "ddl" },
	{ PG, "ALTER TABLE t ADD b int", W, "ddl" },
	{ PG, "DROP TABLE t", W, "ddl" },
	{ PG, "TRUNCATE t", W, "ddl" },
	{ PG, "COPY t FROM STDIN", W, "copy" },
	{ PG, "COPY (SELECT 1) TO STDOUT", W, "copy" },
	{ PG, "SET search_path = x", W, "set" },
	{ PG, "SET TRANSACTION READ ONLY", W, "set" },
	{ PG, "CALL p()", W, "call" },
	{ PG, "DO $$ BEGIN PERFORM 1; END $$", W, "do" },
	{ PG, "LOCK TABLE t IN ACCESS EXCLUSIVE MODE", W, "lock" },
	{ PG, "VACUUM t", W, "maintenance" },
	{ PG, "ANALYZE t", W, "maintenance" },
	{ PG, "PREPARE q AS SELECT 1", W, "prepare" },
	{ PG, "EXECUTE q", W, "execute" },
	{ PG, "LISTEN ch", W, "listen" },
	{ PG, "NOTIFY ch", W, "listen" },
	{ PG, "DISCARD ALL", W, "session" },
	{ PG, "SAVEPOINT a", W, "savepoint" },
	{ PG, "GRANT SELECT ON t TO u", W, "ddl" },
	{ PG, "frobnicate", W, "other" },
	{ PG, "SELEC 1", W, "other" },
	{ PG, "", W, "empty" },
	{ PG, "   ", W, "empty" },
	{ PG, "-- only a comment", W, "empty" },
	{ PG, ";", W, "empty" },
	{ PG, "(", W, "other" },
	{ MY, "REPLACE INTO t VALUES (1)", W, "dml" },
	{ MY, "LOAD DATA INFILE 'x' INTO TABLE t", W, "load" },
	{ MY, "LOCK TABLES t READ", W, "lock" },
	{ MY, "UNLOCK TABLES", W, "lock" },
	{ MY, "SET NAMES utf8mb4", W, "set" },
	{ MY, "DO RELEASE_LOCK('x')", W, "do" },
	{ MY, "HANDLER t OPEN", W, "cursor" },
	{ MY, "START SLAVE", W, "admin" },
	{ MY, "CREATE PROCEDURE p() BEGIN SELECT 1; END", W, "ddl" },

	/* multi-statement text */
	{ PG, "SELECT 1; SELECT 2", R, NULL },
	{ PG, "SELECT 1; DELETE FROM t", W, "dml" },
	{ PG, "DELETE FROM t; SELECT 1", W, "dml" },
	{ PG, "SELECT 1;SELECT nextval('s');SELECT 3", W, "write function" },
	{ PG, "SELECT 'a;b'; SELECT \"c;d\"", R, NULL },
	{ PG, "SELECT 1; -- DELETE FROM t", R, NULL },
	{ MY, "SELECT 1; UPDATE t SET a = 1", W, "dml" },
	{ MY, "SELECT 1; SHOW TABLES", R, NULL },
};

static void test_table(void **state)
{
	(void)state;
	size_t n = sizeof(cases) / sizeof(cases[0]);
	assert_true(n >= 160);
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		const struct case_ *c = &cases[i];
		struct route_stmt st = classify(c->sql, c->d);
		bool ok = st.cls == c->cls && (!c->reason || strcmp(st.reason, c->reason) == 0);
		if (!ok) {
			fprintf(stderr, "  case %zu (%s) '%s': got %s (%s), want %s (%s)\n", i,
				c->d == PG ? "pg" : "mysql", c->sql, st.cls == R ? "read" : "write", st.reason,
				c->cls == R ? "read" : "write", c->reason ? c->reason : "-");
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* Without the configured list, the configured names are ordinary
 * functions; NULL is allowed. */
static void test_write_functions_config(void **state)
{
	(void)state;
	const char *sql = "SELECT app_audit(1)";
	assert_int_equal(classify_n(sql, strlen(sql), PG, NULL).cls, R);
	static char *empty_items[] = { NULL };
	const struct cfg_strlist empty = { empty_items, 0 };
	assert_int_equal(classify_n(sql, strlen(sql), PG, &empty).cls, R);
	assert_int_equal(classify_n(sql, strlen(sql), PG, &extra_fns).cls, W);
	/* built-ins apply with or without a list */
	sql = "SELECT nextval('s')";
	assert_int_equal(classify_n(sql, strlen(sql), PG, NULL).cls, W);
}

/* ---- transaction control ---- */

struct txn_case {
	enum route_dialect d;
	const char *sql;
	enum route_txn txn;
	bool ro;
	enum route_class cls;
};

static void test_txn(void **state)
{
	(void)state;
	static const struct txn_case tc[] = {
		{ PG, "BEGIN", ROUTE_TXN_BEGIN, false, W },
		{ PG, "begin;", ROUTE_TXN_BEGIN, false, W },
		{ PG, "BEGIN WORK", ROUTE_TXN_BEGIN, false, W },
		{ PG, "BEGIN TRANSACTION", ROUTE_TXN_BEGIN, false, W },
		{ PG, "BEGIN READ ONLY", ROUTE_TXN_BEGIN, true, R },
		{ PG, "begin transaction read only", ROUTE_TXN_BEGIN, true, R },
		{ PG, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", ROUTE_TXN_BEGIN, true, R },
		{ PG, "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE", ROUTE_TXN_BEGIN, true, R },
		{ PG, "BEGIN ISOLATION LEVEL READ COMMITTED", ROUTE_TXN_BEGIN, false, W },
		{ PG, "BEGIN READ WRITE", ROUTE_TXN_BEGIN, false, W },
		{ PG, "START TRANSACTION", ROUTE_TXN_BEGIN, false, W },
		{ PG, "START TRANSACTION READ ONLY", ROUTE_TXN_BEGIN, true, R },
		{ PG, "/* x */ START TRANSACTION ISOLATION LEVEL READ COMMITTED READ ONLY", ROUTE_TXN_BEGIN, true, R },
		{ MY, "BEGIN", ROUTE_TXN_BEGIN, false, W },
		{ MY, "START TRANSACTION READ ONLY", ROUTE_TXN_BEGIN, true, R },
		{ MY, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", ROUTE_TXN_BEGIN, true, R },
		{ MY, "START TRANSACTION READ WRITE", ROUTE_TXN_BEGIN, false, W },
		{ PG, "COMMIT", ROUTE_TXN_END, false, W },
		{ PG, "commit work", ROUTE_TXN_END, false, W },
		{ PG, "END", ROUTE_TXN_END, false, W },
		{ PG, "END TRANSACTION", ROUTE_TXN_END, false, W },
		{ PG, "ROLLBACK", ROUTE_TXN_END, false, W },
		{ PG, "ABORT", ROUTE_TXN_END, false, W },
		{ PG, "ROLLBACK TO SAVEPOINT a", ROUTE_TXN_NONE, false, W },
		{ PG, "ROLLBACK TO a", ROUTE_TXN_NONE, false, W },
		{ PG, "ROLLBACK WORK TO SAVEPOINT a", ROUTE_TXN_NONE, false, W },
		{ PG, "COMMIT PREPARED 'x'", ROUTE_TXN_NONE, false, W },
		{ PG, "PREPARE TRANSACTION 'x'", ROUTE_TXN_END, false, W },
		{ PG, "COMMIT AND CHAIN", ROUTE_TXN_NONE, false, W },
		{ PG, "COMMIT AND NO CHAIN", ROUTE_TXN_END, false, W },
		{ MY, "COMMIT", ROUTE_TXN_END, false, W },
		{ MY, "ROLLBACK TO SAVEPOINT s1", ROUTE_TXN_NONE, false, W },
		{ PG, "SAVEPOINT a", ROUTE_TXN_NONE, false, W },
		{ PG, "SELECT 1", ROUTE_TXN_NONE, false, R },
		{ PG, "SELECT 'begin'", ROUTE_TXN_NONE, false, R },
		/* multi-statement: the last transaction control holds after it */
		{ PG, "BEGIN; INSERT INTO t VALUES (1); COMMIT", ROUTE_TXN_END, false, W },
		{ PG, "BEGIN READ ONLY; SELECT 1", ROUTE_TXN_BEGIN, true, R },
		{ PG, "SELECT 1; BEGIN", ROUTE_TXN_BEGIN, false, W },
		/* a procedure body's END is not a COMMIT */
		{ MY, "CREATE PROCEDURE p() BEGIN SELECT 1; END", ROUTE_TXN_NONE, false, W },
	};
	for (size_t i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
		struct route_stmt st = classify(tc[i].sql, tc[i].d);
		if (st.txn != tc[i].txn || st.tx_read_only != tc[i].ro || st.cls != tc[i].cls)
			fail_msg("'%s': txn %d ro %d cls %d", tc[i].sql, st.txn, st.tx_read_only, st.cls);
	}
}

/* ---- hints ---- */

static void test_hints(void **state)
{
	(void)state;
	static const struct {
		enum route_dialect d;
		const char *sql;
		enum cfg_target hint;
		enum route_class cls;
	} hc[] = {
		{ PG, "/* switchyard: primary */ SELECT 1", CFG_TARGET_PRIMARY, R },
		{ PG, "/* switchyard: replica */ SELECT 1", CFG_TARGET_REPLICA, R },
		{ PG, "/*switchyard:replica*/SELECT 1", CFG_TARGET_REPLICA, R },
		{ PG, "/* SWITCHYARD : Replica */ SELECT 1", CFG_TARGET_REPLICA, R },
		{ PG, "  /* app=web */ /* switchyard: primary */ SELECT 1", CFG_TARGET_PRIMARY, R },
		{ PG, "-- line\n/* switchyard: replica */\nSELECT 1", CFG_TARGET_REPLICA, R },
		{ PG, "/* route: x, switchyard: replica */ SELECT 1", CFG_TARGET_REPLICA, R },
		{ PG, "/* switchyard: replica */ DELETE FROM t", CFG_TARGET_REPLICA, W },
		{ PG, "/* outer /* switchyard: primary */ */ SELECT 1", CFG_TARGET_PRIMARY, R },
		{ MY, "/* switchyard: replica */ SELECT 1", CFG_TARGET_REPLICA, R },
		{ MY, "# switchyard: replica\nSELECT 1", CFG_TARGET_NONE, R },
		{ PG, "SELECT 1 /* switchyard: replica */", CFG_TARGET_NONE, R },
		{ PG, "SELECT '/* switchyard: replica */'", CFG_TARGET_NONE, R },
		{ PG, "/* switchyard: sideways */ SELECT 1", CFG_TARGET_NONE, R },
		{ PG, "/* switchyard */ SELECT 1", CFG_TARGET_NONE, R },
		{ PG, "/* switchyard: replica", CFG_TARGET_REPLICA, W },
	};
	for (size_t i = 0; i < sizeof(hc) / sizeof(hc[0]); i++) {
		struct route_stmt st = classify(hc[i].sql, hc[i].d);
		if (st.hint != hc[i].hint || st.cls != hc[i].cls)
			fail_msg("'%s': hint %d cls %d", hc[i].sql, st.hint, st.cls);
	}
}

/* ---- SET switchyard.route / switchyard.key ---- */

static void test_set_route(void **state)
{
	(void)state;
	static const struct {
		enum route_dialect d;
		const char *sql;
		bool sets;
		enum cfg_target route;
	} sc[] = {
		{ PG, "SET switchyard.route = replica", true, CFG_TARGET_REPLICA },
		{ PG, "SET switchyard.route TO primary", true, CFG_TARGET_PRIMARY },
		{ PG, "set SESSION switchyard.route to 'replica'", true, CFG_TARGET_REPLICA },
		{ PG, "SET LOCAL switchyard.route = 'any'", true, CFG_TARGET_ANY },
		{ PG, "SET switchyard.route = default", true, CFG_TARGET_NONE },
		{ PG, "SET switchyard.route = 'DEFAULT'", true, CFG_TARGET_NONE },
		{ PG, "SET \"switchyard\".\"route\" = replica", true, CFG_TARGET_REPLICA },
		{ PG, "  /* x */ SET switchyard.route=replica;", true, CFG_TARGET_REPLICA },
		{ PG, "RESET switchyard.route", true, CFG_TARGET_NONE },
		{ PG, "SET switchyard.route = sideways", false, CFG_TARGET_NONE },
		{ PG, "SET switchyard.router = replica", false, CFG_TARGET_NONE },
		{ PG, "SET search_path = replica", false, CFG_TARGET_NONE },
		{ PG, "SET switchyard_route = replica", false, CFG_TARGET_NONE },
		{ MY, "SET @@session.switchyard_route = 'replica'", true, CFG_TARGET_REPLICA },
		{ MY, "SET @@switchyard_route = 'primary'", true, CFG_TARGET_PRIMARY },
		{ MY, "SET @switchyard_route = 'replica'", true, CFG_TARGET_REPLICA },
		{ MY, "SET @switchyard_route := \"any\"", true, CFG_TARGET_ANY },
		{ MY, "SET SESSION switchyard_route = replica", true, CFG_TARGET_REPLICA },
		{ MY, "set @@SESSION.SWITCHYARD_ROUTE = 'Default'", true, CFG_TARGET_NONE },
		{ MY, "SET @@global.switchyard_route = 'replica'", false, CFG_TARGET_NONE },
		{ MY, "SET switchyard.route = replica", false, CFG_TARGET_NONE },
		{ MY, "SET NAMES utf8", false, CFG_TARGET_NONE },
		/* only a text of one statement: the proxy answers it alone */
		{ PG, "SET switchyard.route = replica;", true, CFG_TARGET_REPLICA },
		{ PG, "SET switchyard.route = replica; ; -- done", true, CFG_TARGET_REPLICA },
		{ PG, "SET switchyard.route = replica; DELETE FROM t", false, CFG_TARGET_NONE },
		{ PG, "SELECT 1; SET switchyard.route = replica", false, CFG_TARGET_NONE },
		{ MY, "SET @switchyard_route = 'replica'; SELECT 1", false, CFG_TARGET_NONE },
	};
	for (size_t i = 0; i < sizeof(sc) / sizeof(sc[0]); i++) {
		struct route_stmt st = classify(sc[i].sql, sc[i].d);
		if (st.sets_route != sc[i].sets || (st.sets_route && st.session_route != sc[i].route) ||
		    st.cls != W)
			fail_msg("'%s': sets %d route %d cls %d", sc[i].sql, st.sets_route, st.session_route, st.cls);
		if (st.sets_route)
			assert_string_equal(st.reason, "set switchyard");
	}
}

static void expect_key(enum route_dialect d, const char *sql, const char *key)
{
	struct route_stmt st = classify(sql, d);
	if (!key) {
		assert_false(st.sets_key);
		return;
	}
	if (!st.sets_key)
		fail_msg("'%s': no key", sql);
	assert_int_equal(st.cls, W);
	assert_false(st.sets_route);
	if (st.key_len != strlen(key) || (st.key_len && memcmp(st.key, key, st.key_len) != 0))
		fail_msg("'%s': key '%.*s', want '%s'", sql, (int)st.key_len, st.key ? st.key : "", key);
	if (st.key_len > 0) /* a pointer into the text */
		assert_true(st.key > sql && st.key < sql + strlen(sql));
}

static void test_set_key(void **state)
{
	(void)state;
	expect_key(PG, "SET switchyard.key = 'checkout'", "checkout");
	expect_key(PG, "SET switchyard.key TO checkout", "checkout");
	expect_key(PG, "SET SESSION switchyard.key = 'tenant 42'", "tenant 42");
	expect_key(PG, "SET switchyard.key = \"Mixed\"", "Mixed");
	expect_key(PG, "SET switchyard.key = ''", "");
	expect_key(PG, "SET switchyard.key = DEFAULT", "");
	expect_key(PG, "RESET switchyard.key", "");
	expect_key(PG, "SET switchyard.keys = 'x'", NULL);
	expect_key(MY, "SET @@session.switchyard_key = 'cart'", "cart");
	expect_key(MY, "SET @switchyard_key = 'cart'", "cart");
	expect_key(MY, "SET @switchyard_key = \"cart\"", "cart");
	expect_key(MY, "SET switchyard_key = cart", "cart");
	expect_key(MY, "SET @switchyard_keys = 'cart'", NULL);
	expect_key(MY, "SELECT 'SET @switchyard_key = 1'", NULL);
	expect_key(PG, "SET switchyard.key = 'a'; SELECT 1", NULL);
}

/* ---- cut-off text ---- */

static void test_truncated(void **state)
{
	(void)state;
	/* judged on what is there */
	const char *full = "SELECT * FROM t WHERE a = 'some long text' FOR UPDATE";
	struct route_stmt st = classify_n(full, strlen("SELECT * FROM t WHERE a = 'some lo"), PG, NULL);
	assert_int_equal(st.cls, R);
	st = classify_n(full, strlen("SELECT * FROM t WHERE a = 'some long text' FOR"), PG, NULL);
	assert_int_equal(st.cls, W);
	assert_string_equal(st.reason, "truncated");
	st = classify_n(full, strlen(full), PG, NULL);
	assert_string_equal(st.reason, "for update");

	st = classify_n("SELECT nextval('s')", strlen("SELECT next"), PG, NULL);
	assert_int_equal(st.cls, R);
	st = classify_n("SELECT nextval('s')", strlen("SELECT nextval("), PG, NULL);
	assert_int_equal(st.cls, W);
	st = classify_n("DELETE FROM t", 3, PG, NULL);
	assert_int_equal(st.cls, W);
	st = classify_n("SELECT 1", 3, PG, NULL);
	assert_int_equal(st.cls, W); /* "SEL" is not a keyword */
	st = classify_n("SELECT $$ x $$ FOR UPDATE", strlen("SELECT $$ x"), PG, NULL);
	assert_int_equal(st.cls, R);
	st = classify_n("/* switchyard: replica */ SELECT 1", 10, PG, NULL);
	assert_int_equal(st.cls, W);
	assert_string_equal(st.reason, "empty");
	st = classify_n("SELECT 1 /* nested /* deep", strlen("SELECT 1 /* nested /* deep"), PG, NULL);
	assert_int_equal(st.cls, R);
	st = classify_n("SELECT 'a\\", strlen("SELECT 'a\\"), MY, NULL);
	assert_int_equal(st.cls, R);
	st = classify_n("SELECT `a", strlen("SELECT `a"), MY, NULL);
	assert_int_equal(st.cls, R);
	st = classify_n("WITH x AS (DELETE FROM t RETURNING *) SELECT 1", strlen("WITH x AS (DELE"), PG, NULL);
	assert_int_equal(st.cls, W);
	/* NULL text with len 0 */
	route_classify(NULL, 0, PG, NULL, &st);
	assert_int_equal(st.cls, W);

	/* Every prefix of every table case: no crash, no read past len (ASan),
	 * and the reason contract holds. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].sql);
		for (size_t k = 0; k <= n; k++)
			(void)classify_n(cases[i].sql, k, cases[i].d, &extra_fns);
	}
}

/* Odd bytes: NULs, high bytes, lone quotes. */
static void test_odd_bytes(void **state)
{
	(void)state;
	static const char nul_text[] = "SELECT 1\0; DELETE FROM t";
	struct route_stmt st = classify_n(nul_text, sizeof(nul_text) - 1, PG, NULL);
	assert_int_equal(st.cls, W);
	st = classify("SELECT \xc3\xa9t\xc3\xa9 FROM caf\xc3\xa9", PG);
	assert_int_equal(st.cls, R);
	st = classify("\xff\xfe", PG);
	assert_int_equal(st.cls, W);
	st = classify("'", PG);
	assert_int_equal(st.cls, W);
	st = classify("$", PG);
	assert_int_equal(st.cls, W);
	st = classify("$$", PG);
	assert_int_equal(st.cls, W);
	st = classify("SELECT $", PG);
	assert_int_equal(st.cls, R);
	st = classify("SELECT \\", MY);
	assert_int_equal(st.cls, R);
}

static void test_target_names(void **state)
{
	(void)state;
	assert_string_equal(route_target_name(CFG_TARGET_PRIMARY), "primary");
	assert_string_equal(route_target_name(CFG_TARGET_REPLICA), "replica");
	assert_string_equal(route_target_name(CFG_TARGET_ANY), "any");
	assert_string_equal(route_target_name(CFG_TARGET_NODE), "node");
	assert_string_equal(route_target_name(CFG_TARGET_NONE), "");
	assert_string_equal(route_target_name((enum cfg_target)99), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_write_functions_config),
		cmocka_unit_test(test_txn),
		cmocka_unit_test(test_hints),
		cmocka_unit_test(test_set_route),
		cmocka_unit_test(test_set_key),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_odd_bytes),
		cmocka_unit_test(test_target_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
