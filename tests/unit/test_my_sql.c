/*
 * test_my_sql.c — unit tests for proxy/mysql/my_sql.c, the statement scan
 * behind MySQL transaction pooling (pins, USE, tracked SETs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
		"SELECT SQL_CALC_FOUND_ROWS * FROM t", "SELECT FOUND_ROWS()", "SELECT LAST_INSERT_ID()",
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_statements),
		cmocka_unit_test(test_pins),
		cmocka_unit_test(test_use),
		cmocka_unit_test(test_tracked_sets),
		cmocka_unit_test(test_kill_and_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
