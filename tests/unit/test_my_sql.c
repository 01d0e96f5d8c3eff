/*
 * test_my_sql.c — unit tests for proxy/mysql/my_sql.c, the statement scan
 * behind MySQL transaction pooling (pins, USE, tracked SETs), and the
 * CONNECTION_ID() calls it finds and their rewrite to the proxy's id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/mysql/my_sql.h"

static struct my_sql_scan scan(const char *sql)
{
	struct my_sql_scan s;
	my_sql_scan(sql, strlen(sql), &s);
	return s;
}

static void assert_set(const struct my_sql_scan *s, int i, const char *name, const char *value)
{
	assert_true(i < s->n_sets);
	assert_string_equal(s->sets[i].name, name);
	assert_int_equal(s->sets[i].value_len, strlen(value));
	assert_memory_equal(s->sets[i].value, value, strlen(value));
}

static void test_plain_statements(void **state)
{
	const char *plain[] = {
		"SELECT 1", "select * from t where a = '@x' and b = \"GET_LOCK(\"", "INSERT INTO t VALUES (1)",
		"BEGIN", "COMMIT", "START TRANSACTION", "SELECT @@autocommit, @@session.sql_mode",
		"select `@x` from t", "/* LOCK TABLES */ SELECT 1", "-- SET @x = 1\nSELECT 1",
		"# SET @x=1\nSELECT 1", "DROP TEMPORARY TABLE t", "SET GLOBAL max_connections = 10",
		"SET STATEMENT max_statement_time=1 FOR SELECT 1", "UNLOCK TABLES",
		"select last_insert_id_col from t",
	};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		struct my_sql_scan s = scan(plain[i]);
		if (s.flags != 0)
			fail_msg("%s: flags %#x (%s)", plain[i], s.flags, s.pin_reason ? s.pin_reason : "");
	}
}

static void test_pins(void **state)
{
	const char *pins[] = {
		"SET @x = 1", "SELECT @x", "SELECT a INTO @v FROM t", "select @`quoted`",
		"CREATE TEMPORARY TABLE t (a int)", "create or replace temporary table t (a int)",
		"LOCK TABLES t WRITE", "SELECT GET_LOCK('a', 10)", "select get_lock ('a', 1)",
		"SELECT SQL_CALC_FOUND_ROWS * FROM t", "SELECT FOUND_ROWS()", "SELECT LAST_INSERT_ID(5)",
		"INSERT INTO t VALUES (LAST_INSERT_ID(id + 1))",
		"SET search_path = 1", "SET SESSION sql_mode = CONCAT(@@sql_mode, ',X')",
		"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "PREPARE s FROM 'SELECT 1'",
		"FLUSH TABLES WITH READ LOCK", "HANDLER t OPEN", "XA START 'x'", "SET ROLE r",
		"SELECT 1; SET @a := 2", "/*!40101 SET @OLD = @@SQL_MODE */",
		"SET autocommit = 1, @x = 2", "SET sql_mode = 'a' 'b'",
	};
	for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
		struct my_sql_scan s = scan(pins[i]);
		if (!(s.flags & MY_SQL_PIN) || !s.pin_reason)
			fail_msg("%s: not pinned (flags %#x)", pins[i], s.flags);
	}
}

/* LAST_INSERT_ID() is read: the proxy sets the client's value first, no
 * pin; with an argument it sets the value: a pin (test_pins). */
static void test_last_insert_id(void **state)
{
	const char *reads[] = {
		"SELECT LAST_INSERT_ID()", "select last_insert_id( )",
		"INSERT INTO child (pid) VALUES (LAST_INSERT_ID())",
		"SELECT * FROM t WHERE id = last_insert_id ()",
	};
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		struct my_sql_scan s = scan(reads[i]);
		if (s.flags != MY_SQL_INSERT_ID)
			fail_msg("%s: flags %#x (%s)", reads[i], s.flags, s.pin_reason ? s.pin_reason : "");
	}
	struct my_sql_scan s = scan("SELECT 'LAST_INSERT_ID()', `last_insert_id`");
	assert_int_equal(s.flags, 0);
	s = scan("SELECT LAST_INSERT_ID(), GET_LOCK('x', 1)");
	assert_true(s.flags & MY_SQL_INSERT_ID);
	assert_true(s.flags & MY_SQL_PIN);
}

static void test_use(void **state)
{
	struct my_sql_scan s = scan("USE shop");
	assert_int_equal(s.flags, MY_SQL_USE);
	assert_int_equal(s.use_len, 4);
	assert_memory_equal(s.use, "shop", 4);
	s = scan("use `my db`;");
	assert_int_equal(s.flags, MY_SQL_USE);
	assert_int_equal(s.use_len, 5);
	assert_memory_equal(s.use, "my db", 5);
}

static void test_tracked_sets(void **state)
{
	struct my_sql_scan s = scan("SET autocommit=0");
	assert_int_equal(s.flags, MY_SQL_SET);
	assert_set(&s, 0, "autocommit", "0");

	s = scan("SET SESSION sql_mode = 'STRICT_ALL_TABLES', @@session.time_zone='+00:00', "
		 "@@wait_timeout := 100, LOCAL foreign_key_checks=OFF");
	assert_int_equal(s.flags, MY_SQL_SET);
	assert_int_equal(s.n_sets, 4);
	assert_set(&s, 0, "sql_mode", "'STRICT_ALL_TABLES'");
	assert_set(&s, 1, "time_zone", "'+00:00'");
	assert_set(&s, 2, "wait_timeout", "100");
	assert_set(&s, 3, "foreign_key_checks", "OFF");

	s = scan("SET NAMES utf8mb4 COLLATE utf8mb4_bin");
	assert_int_equal(s.flags, MY_SQL_SET);
	assert_set(&s, 0, "names", "utf8mb4 COLLATE utf8mb4_bin");
	s = scan("set names 'latin1'");
	assert_set(&s, 0, "names", "'latin1'");
	s = scan("SET CHARACTER SET utf8");
	assert_set(&s, 0, "charset", "utf8");
	s = scan("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
	assert_int_equal(s.flags, MY_SQL_SET);
	assert_set(&s, 0, "transaction_isolation", "'READ-COMMITTED'");
	s = scan("SET sql_select_limit = -1");
	assert_set(&s, 0, "sql_select_limit", "-1");
	s = scan("SET GLOBAL wait_timeout = 5, SESSION autocommit = 1");
	assert_int_equal(s.flags, MY_SQL_SET);
	assert_int_equal(s.n_sets, 1);
	assert_set(&s, 0, "autocommit", "1");
	assert_non_null(my_sql_tracked_var("AUTOCOMMIT", 10));
	assert_null(my_sql_tracked_var("search_path", 11));
}

static void test_kill_and_truncation(void **state)
{
	struct my_sql_scan s = scan("KILL QUERY 12");
	assert_true(s.flags & MY_SQL_KILL);
	s = scan("load data low_priority local infile '/tmp/x' into table t");
	assert_true(s.flags & MY_SQL_LOCAL_INFILE);
	s = scan("SELECT 1; LOAD XML LOCAL INFILE 'x' INTO TABLE t");
	assert_true(s.flags & MY_SQL_LOCAL_INFILE);
	s = scan("LOAD DATA INFILE '/tmp/x' INTO TABLE t");
	assert_false(s.flags & MY_SQL_LOCAL_INFILE);
	s = scan("SELECT 'unterminated");
	assert_true(s.flags & MY_SQL_TRUNCATED);
	s = scan("SELECT 1 /* unterminated");
	assert_true(s.flags & MY_SQL_TRUNCATED);
	/* never reads past len */
	const char sql[] = "SET @x = 1";
	my_sql_scan(sql, 4, &s); /* "SET " */
	assert_false(s.flags & MY_SQL_USE);
	my_sql_scan(sql, 0, &s);
	assert_int_equal(s.flags, 0);
}

/* ---- CONNECTION_ID() ---- */

/* Field by field: the structs have padding. */
static void assert_same_calls(const struct my_sql_call *a, const struct my_sql_call *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(a[i].off, b[i].off);
		assert_int_equal(a[i].len, b[i].len);
		assert_int_equal(a[i].alias, b[i].alias);
	}
}

/* The calls my_sql_scan finds in sql, as "off+len" or "off+len:alias"
 * separated by blanks ("" for none), checked against want. */
static void assert_calls(const char *sql, const char *want)
{
	struct my_sql_scan s;
	my_sql_scan(sql, strlen(sql), &s);
	char got[256] = "";
	size_t n = s.n_calls < MY_SQL_MAX_CALLS ? s.n_calls : MY_SQL_MAX_CALLS;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(got);
		snprintf(got + l, sizeof(got) - l, "%s%zu+%zu%s", i ? " " : "", s.calls[i].off, s.calls[i].len,
			 s.calls[i].alias ? ":alias" : "");
	}
	if (strcmp(got, want) != 0)
		fail_msg("%s: calls \"%s\", want \"%s\"", sql, got, want);
	if (((s.flags & MY_SQL_CONNECTION_ID) != 0) != (s.n_calls > 0))
		fail_msg("%s: flag %#x with %zu calls", sql, s.flags, s.n_calls);
	/* the same calls without the rest of the scan */
	struct my_sql_call calls[MY_SQL_MAX_CALLS];
	size_t m = my_sql_connection_ids(sql, strlen(sql), calls, MY_SQL_MAX_CALLS);
	assert_int_equal(m, s.n_calls);
	assert_same_calls(calls, s.calls, m < MY_SQL_MAX_CALLS ? m : MY_SQL_MAX_CALLS);
}

static void test_connection_id_found(void **state)
{
	assert_calls("SELECT CONNECTION_ID()", "7+15:alias");
	assert_calls("select connection_id ()", "7+16:alias");
	assert_calls("SELECT Connection_Id( /* x */ )", "7+24:alias");
	assert_calls("SELECT connection_id\n\t()", "7+17:alias");
	assert_calls("SELECT `connection_id`()", "7+17:alias"); /* the same function on a server */
	assert_calls("SELECT 1, CONNECTION_ID() FROM t", "10+15:alias");
	assert_calls("SELECT CONNECTION_ID(), 1", "7+15:alias");
	assert_calls("SELECT CONNECTION_ID();", "7+15:alias");
	assert_calls("SELECT CONNECTION_ID() INTO @x", "7+15:alias");
	assert_calls("SELECT CONNECTION_ID() LIMIT 1", "7+15:alias");
	assert_calls("SELECT CONNECTION_ID() WHERE 1", "7+15:alias");
	assert_calls("SELECT DISTINCT SQL_NO_CACHE CONNECTION_ID()", "29+15:alias");
	assert_calls("SELECT COUNT(*), CONNECTION_ID() FROM t", "17+15:alias");
	assert_calls("SELECT CASE WHEN a THEN 1 END, CONNECTION_ID() FROM t", "31+15:alias");
	assert_calls("SELECT * FROM (SELECT CONNECTION_ID()) d", "22+15:alias");
	assert_calls("SELECT a FROM t WHERE b IN (SELECT CONNECTION_ID())", "35+15:alias");
	assert_calls("SELECT 1 UNION SELECT CONNECTION_ID()", "22+15:alias");
	assert_calls("DELETE FROM t RETURNING CONNECTION_ID()", "24+15:alias");
	/* executable comments are code */
	assert_calls("SELECT /*!CONNECTION_ID()*/", "10+15:alias");
	assert_calls("/*!50000 SELECT CONNECTION_ID() */", "16+15:alias");
	assert_calls("SELECT /*M!100000 CONNECTION_ID() */ FROM t", "18+15:alias");
	/* not a select-list item of its own: the number only */
	assert_calls("SELECT CONNECTION_ID() AS id", "7+15");
	assert_calls("SELECT CONNECTION_ID() id", "7+15");
	assert_calls("SELECT CONNECTION_ID() window", "7+15"); /* an alias in MariaDB */
	assert_calls("SELECT CONNECTION_ID()x", "7+15");
	assert_calls("SELECT CONNECTION_ID() + 1", "7+15");
	assert_calls("SELECT CONNECTION_ID() = 5", "7+15");
	assert_calls("SELECT CONNECTION_ID() IS NULL", "7+15");
	assert_calls("SELECT (CONNECTION_ID())", "8+15");
	assert_calls("SELECT CONCAT('a', CONNECTION_ID())", "19+15");
	assert_calls("SELECT * FROM t WHERE id = CONNECTION_ID()", "27+15");
	assert_calls("SELECT a FROM t ORDER BY a, CONNECTION_ID()", "28+15");
	assert_calls("INSERT INTO t VALUES (1, CONNECTION_ID())", "25+15");
	assert_calls("UPDATE t SET a = 1, b = CONNECTION_ID()", "24+15");
	assert_calls("SET @x = CONNECTION_ID()", "9+15");
	assert_calls("KILL QUERY CONNECTION_ID()", "11+15");
	assert_calls("DO CONNECTION_ID()", "3+15");
	assert_calls("SELECT CONNECTION_ID(), connection_id() FROM t WHERE CONNECTION_ID() > 0",
		     "7+15:alias 24+15:alias 53+15");
	/* a CREATE or ALTER ends at ';': the next statement's calls count */
	assert_calls("CREATE VIEW v AS SELECT 1; SELECT CONNECTION_ID()", "34+15:alias");

	struct my_sql_scan s = scan("SELECT CONNECTION_ID()");
	assert_int_equal(s.flags, MY_SQL_CONNECTION_ID); /* no pin: the proxy answers it */
	s = scan("SET @x = CONNECTION_ID()");
	assert_true((s.flags & MY_SQL_PIN) && (s.flags & MY_SQL_CONNECTION_ID));
	s = scan("SELECT GET_LOCK('a', 1), CONNECTION_ID()");
	assert_true((s.flags & MY_SQL_PIN) && s.n_calls == 1 && s.calls[0].alias);
}

static void test_connection_id_not_found(void **state)
{
	const char *none[] = {
		"SELECT 'CONNECTION_ID()'", "SELECT \"connection_id()\"", "SELECT 'it''s CONNECTION_ID()'",
		"SELECT 'a\\' CONNECTION_ID()'", "SELECT `CONNECTION_ID()`", "SELECT `connection_id` FROM t",
		"SELECT `connection_id``()`", "SELECT /* CONNECTION_ID() */ 1", "-- CONNECTION_ID()\nSELECT 1",
		"# CONNECTION_ID()\nSELECT 1", "SELECT connection_id FROM t", "SELECT connection_id, a FROM t",
		"SELECT x.connection_id() FROM t", "SELECT `x` . connection_id()", "SELECT shop.`connection_id`()",
		"SELECT @connection_id", "SELECT @@connection_id", "SELECT connection_idx()",
		"SELECT my_connection_id()", "SELECT CONNECTION_ID(1)", "SELECT CONNECTION_ID", "SELECT CONNECTION_ID(",
		"SELECT CONNECTION_ID (", "SELECT connectionid()", "SELECT connection_id /* ()",
		"CREATE VIEW v AS SELECT CONNECTION_ID()",
		"create definer=root procedure p() begin select connection_id(); end",
		"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER t BEFORE INSERT ON x "
		"FOR EACH ROW SET NEW.c = CONNECTION_ID() */",
		"ALTER TABLE t ADD c INT DEFAULT (CONNECTION_ID())", "PREPARE s FROM 'SELECT CONNECTION_ID()'",
	};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		assert_calls(none[i], "");
}

/* Every prefix of a text, in a buffer of exactly its size: nothing read
 * past len, and a call is reported only when its ')' is inside. */
static void test_connection_id_truncated(void **state)
{
	const char *sql = "SELECT a, connection_id ( ) FROM t WHERE b = 'CONNECTION_ID()' AND c = `connection_id`()";
	size_t len = strlen(sql);
	for (size_t n = 0; n <= len; n++) {
		char *p = malloc(n ? n : 1);
		assert_non_null(p);
		memcpy(p, sql, n);
		struct my_sql_scan s;
		my_sql_scan(p, n, &s);
		for (size_t i = 0; i < s.n_calls && i < MY_SQL_MAX_CALLS; i++)
			assert_true(s.calls[i].off + s.calls[i].len <= n);
		size_t want = n >= 27 ? 1 : 0;
		if (n >= len)
			want = 2;
		if (s.n_calls != want)
			fail_msg("prefix %zu: %zu calls, want %zu", n, s.n_calls, want);
		assert_int_equal(my_sql_mentions_connection_id(p, n), n >= 23);
		free(p);
	}
	assert_false(my_sql_mentions_connection_id("connection id", 13));
	assert_false(my_sql_mentions_connection_id("_id", 3));
	assert_true(my_sql_mentions_connection_id("xCONNECTION_ID", 14));
	assert_true(my_sql_mentions_connection_id("a_b connection_id", 17));
}

static void test_connection_id_many(void **state)
{
	char sql[1024] = "SELECT CONNECTION_ID()";
	for (int i = 0; i < 19; i++)
		strcat(sql, ", connection_id()");
	struct my_sql_scan s;
	my_sql_scan(sql, strlen(sql), &s);
	assert_int_equal(s.n_calls, 20);
	struct my_sql_call calls[32];
	assert_int_equal(my_sql_connection_ids(sql, strlen(sql), calls, 32), 20);
	assert_same_calls(calls, s.calls, MY_SQL_MAX_CALLS);
	for (int i = 0; i < 20; i++)
		assert_true(calls[i].alias);
	assert_int_equal(calls[19].off, strlen(sql) - 15);
	char out[2048];
	size_t n = my_sql_rewrite_connection_id(sql, strlen(sql), calls, 20, 7, out, sizeof(out));
	assert_true(n < sizeof(out));
	out[n] = '\0';
	assert_memory_equal(out, "SELECT 7 AS `CONNECTION_ID()`, 7 AS `connection_id()`, 7 AS", 59);
	assert_int_equal(my_sql_connection_ids(out, n, calls, 32), 0); /* the aliases are not calls */
}

/* The rewrite of sql with the calls my_sql_scan finds. */
static void assert_rewrite(const char *sql, uint32_t id, const char *want)
{
	struct my_sql_scan s;
	my_sql_scan(sql, strlen(sql), &s);
	char out[512];
	size_t n = my_sql_rewrite_connection_id(sql, strlen(sql), s.calls, s.n_calls, id, out, sizeof(out) - 1);
	assert_true(n < sizeof(out));
	out[n] = '\0';
	if (strcmp(out, want) != 0)
		fail_msg("%s: rewritten \"%s\", want \"%s\"", sql, out, want);
	/* the size alone, and a short buffer holds the start */
	assert_int_equal(my_sql_rewrite_connection_id(sql, strlen(sql), s.calls, s.n_calls, id, NULL, 0), n);
	char small[8];
	memset(small, '#', sizeof(small));
	assert_int_equal(my_sql_rewrite_connection_id(sql, strlen(sql), s.calls, s.n_calls, id, small, 5), n);
	assert_memory_equal(small, want, n < 5 ? n : 5);
	assert_int_equal(small[5], '#');
}

static void test_connection_id_rewrite(void **state)
{
	assert_rewrite("SELECT CONNECTION_ID()", 42, "SELECT 42 AS `CONNECTION_ID()`");
	assert_rewrite("select connection_id ()", 42, "select 42 AS `connection_id ()`");
	assert_rewrite("SELECT 1, connection_id() FROM t", 42, "SELECT 1, 42 AS `connection_id()` FROM t");
	assert_rewrite("SELECT CONNECTION_ID();", 7, "SELECT 7 AS `CONNECTION_ID()`;");
	assert_rewrite("SELECT * FROM t WHERE c = CONNECTION_ID()", 42, "SELECT * FROM t WHERE c = 42");
	assert_rewrite("SELECT CONNECTION_ID() = 42", 42, "SELECT 42 = 42");
	assert_rewrite("SELECT CONNECTION_ID() AS id", 42, "SELECT 42 AS id");
	assert_rewrite("SELECT CONNECTION_ID()x", 42, "SELECT 42 x");
	assert_rewrite("SELECT CONNECTION_ID()+1", 42, "SELECT 42+1");
	assert_rewrite("SELECT `connection_id`()", 42, "SELECT 42 AS ```connection_id``()`");
	assert_rewrite("SELECT connection_id(/* `x` */)", 42, "SELECT 42 AS `connection_id(/* ``x`` */)`");
	assert_rewrite("SELECT /*!50000CONNECTION_ID()*/", 42, "SELECT /*!50000 42 AS `CONNECTION_ID()`*/");
	assert_rewrite("SELECT /*!CONNECTION_ID()*/", 42, "SELECT /*! 42 AS `CONNECTION_ID()`*/");
	assert_rewrite("SELECT /*M!CONNECTION_ID()*/ = 1", 42, "SELECT /*M! 42*/ = 1");
	assert_rewrite("SELECT !CONNECTION_ID()", 42, "SELECT ! 42");
	assert_rewrite("SELECT 'CONNECTION_ID()', CONNECTION_ID()", 42,
		       "SELECT 'CONNECTION_ID()', 42 AS `CONNECTION_ID()`");
	assert_rewrite("KILL QUERY CONNECTION_ID()", 4294967295u, "KILL QUERY 4294967295");
	assert_rewrite("SELECT CONNECTION_ID()", 0, "SELECT 0 AS `CONNECTION_ID()`");
	assert_rewrite("INSERT INTO log VALUES (CONNECTION_ID(), 'x'); SELECT CONNECTION_ID()", 1000064,
		       "INSERT INTO log VALUES (1000064, 'x'); SELECT 1000064 AS `CONNECTION_ID()`");
	assert_rewrite("CREATE VIEW v AS SELECT CONNECTION_ID()", 42, "CREATE VIEW v AS SELECT CONNECTION_ID()");
	assert_rewrite("SELECT 1", 42, "SELECT 1");

	/* calls that do not belong to the text are skipped */
	const char *sql = "SELECT CONNECTION_ID()";
	struct my_sql_call bad[3] = { { 7, 15, false }, { 3, 15, false }, { 20, 15, false } };
	char out[64];
	size_t n = my_sql_rewrite_connection_id(sql, strlen(sql), bad, 3, 9, out, sizeof(out));
	assert_int_equal(n, 8);
	assert_memory_equal(out, "SELECT 9", 8);
}

/* Found by fuzz_my_sql: a text cut inside a backquoted collation name
 * gave a SET NAMES value one byte past the text. */
static void test_names_cut_in_backquote(void **state)
{
	(void)state;
	const char full[] = "SET NAMES utf8mb4 COLLATE`utf8mb4_bin`";
	for (size_t n = 0; n <= sizeof(full) - 1; n++) {
		char *p = malloc(n ? n : 1);
		assert_non_null(p);
		memcpy(p, full, n);
		struct my_sql_scan s;
		my_sql_scan(p, n, &s);
		for (int k = 0; k < s.n_sets; k++)
			assert_true(s.sets[k].value >= p && (size_t)(s.sets[k].value - p) + s.sets[k].value_len <= n);
		free(p);
	}
}

/* Statements as the server splits them (server pipelining takes one). */
static void test_statement_count(void **state)
{
	(void)state;
	assert_int_equal(scan("SELECT c FROM sbtest1 WHERE id=5").statements, 1);
	assert_int_equal(scan("SELECT 1;").statements, 1);
	assert_int_equal(scan(" SELECT 1 ; ; ").statements, 1);
	assert_int_equal(scan("SELECT 1; SELECT 2").statements, 2);
	assert_int_equal(scan("SELECT ';', \"a;b\", `c;d` -- ;\n").statements, 1);
	assert_int_equal(scan("/* ; */ SELECT 1 # ;\n").statements, 1);
	assert_int_equal(scan("SELECT 1; /*!40101 SET NAMES utf8 */").statements, 2);
	assert_int_equal(scan("").statements, 0);
	assert_int_equal(scan(";;").statements, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_statements),
		cmocka_unit_test(test_pins),
		cmocka_unit_test(test_last_insert_id),
		cmocka_unit_test(test_use),
		cmocka_unit_test(test_tracked_sets),
		cmocka_unit_test(test_kill_and_truncation),
		cmocka_unit_test(test_connection_id_found),
		cmocka_unit_test(test_connection_id_not_found),
		cmocka_unit_test(test_connection_id_truncated),
		cmocka_unit_test(test_connection_id_many),
		cmocka_unit_test(test_connection_id_rewrite),
		cmocka_unit_test(test_names_cut_in_backquote),
		cmocka_unit_test(test_statement_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
