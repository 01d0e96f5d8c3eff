/*
 * test_pg_sql.c — unit tests for proxy/pg/pg_sql.c, the statement scan that
 * decides, in transaction and statement pooling, whether a Query leaves
 * session state on its server (PG_SQL_PIN) and whether it is BEGIN,
 * DISCARD ALL or DEALLOCATE ALL.
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

#include "proxy/pg/pg_sql.h"

static struct pg_sql_scan scan_n(const char *sql, size_t n)
{
	char *p = malloc(n ? n : 1);
	assert_non_null(p);
	memcpy(p, sql, n);
	struct pg_sql_scan sc = { .flags = 0xdead, .pin_reason = "stale" };
	pg_sql_scan(p, n, &sc);
	free(p);
	/* The contract every caller relies on. */
	if (sc.flags & PG_SQL_PIN)
		assert_true(sc.pin_reason != NULL && sc.pin_reason[0] != '\0');
	else
		assert_null(sc.pin_reason);
	return sc;
}

static struct pg_sql_scan scan(const char *sql) { return scan_n(sql, strlen(sql)); }

#define assert_pins(sql, reason)                                          \
	do {                                                              \
		struct pg_sql_scan s_ = scan(sql);                        \
		assert_true(s_.flags & PG_SQL_PIN);                       \
		assert_string_equal(s_.pin_reason, (reason));             \
	} while (0)
#define assert_no_pin(sql)                                                \
	do {                                                              \
		struct pg_sql_scan s_ = scan(sql);                        \
		if (s_.flags & PG_SQL_PIN)                                \
			fail_msg("'%s' pinned (%s)", (sql), s_.pin_reason); \
	} while (0)
#define assert_flags(sql, want)                                           \
	do {                                                              \
		struct pg_sql_scan s_ = scan(sql);                        \
		assert_int_equal(s_.flags, (unsigned)(want));             \
	} while (0)

/* ---- each kind of pin ---- */

static void test_pin_kinds(void **state)
{
	(void)state;
	assert_pins("SET statement_timeout = 1000", "SET of an untracked parameter");
	assert_pins("set search_path to public", "SET of an untracked parameter");
	assert_pins("SET foo.bar = 1", "SET of an untracked parameter");
	assert_pins("SET SESSION statement_timeout = 0", "SET of an untracked parameter");
	assert_pins("SET SESSION AUTHORIZATION app", "SET SESSION");
	assert_pins("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", "SET SESSION");
	assert_pins("SET ROLE admin", "SET ROLE");
	assert_pins("RESET ROLE", "SET ROLE");
	assert_pins("RESET ALL", "RESET ALL");
	assert_pins("RESET work_mem", "RESET of an untracked parameter");
	assert_pins("LISTEN chan", "LISTEN");
	assert_pins("listen \"Chan\"", "LISTEN");
	assert_pins("PREPARE p(int) AS SELECT $1", "PREPARE");
	assert_pins("LOAD 'auto_explain'", "LOAD");
	assert_pins("CREATE TEMP TABLE t(x int)", "temporary table");
	assert_pins("CREATE TEMPORARY TABLE t(x int)", "temporary table");
	assert_pins("CREATE GLOBAL TEMPORARY TABLE t(x int)", "temporary table");
	assert_pins("CREATE LOCAL TEMP TABLE t(x int)", "temporary table");
	assert_pins("CREATE OR REPLACE TEMP VIEW v AS SELECT 1", "temporary table");
	assert_pins("DECLARE c CURSOR WITH HOLD FOR SELECT 1", "cursor WITH HOLD");
	assert_pins("DECLARE c NO SCROLL CURSOR WITH HOLD FOR SELECT 1", "cursor WITH HOLD");
	assert_pins("SELECT pg_advisory_lock(1)", "session advisory lock");
	assert_pins("SELECT pg_try_advisory_lock(1, 2)", "session advisory lock");
	assert_pins("select PG_ADVISORY_LOCK_SHARED(7)", "session advisory lock");
}

static void test_no_pin(void **state)
{
	(void)state;
	assert_no_pin("SELECT 1");
	assert_no_pin("");
	assert_no_pin("   \n\t ");
	assert_no_pin("SET LOCAL statement_timeout = 0");
	assert_no_pin("set local search_path to x");
	assert_no_pin("SET TIME ZONE 'UTC'");
	assert_no_pin("SET TIME ZONE LOCAL");
	assert_no_pin("SET NAMES 'UTF8'");
	assert_no_pin("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE");
	assert_no_pin("SET CONSTRAINTS ALL DEFERRED");
	assert_no_pin("SET SESSION TIME ZONE 'UTC'");
	assert_no_pin("PREPARE TRANSACTION 'gid'");
	assert_no_pin("CREATE TABLE t(x int)");
	assert_no_pin("CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql");
	assert_no_pin("DECLARE c CURSOR FOR SELECT 1");
	assert_no_pin("DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1");
	assert_no_pin("DECLARE c CURSOR FOR SELECT hold FROM t");
	assert_no_pin("UNLISTEN chan");
	assert_no_pin("SELECT pg_advisory_xact_lock(1)");
	assert_no_pin("SELECT 'pg_advisory_lock(1)'");
	assert_no_pin("DISCARD TEMP");
	assert_no_pin("NOTIFY chan, 'LISTEN'");
}

static void test_tracked_params(void **state)
{
	(void)state;
	static const char *const tracked[] = {
		"application_name", "client_encoding", "DateStyle", "IntervalStyle", "TimeZone",
		"standard_conforming_strings",
	};
	for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++) {
		assert_true(pg_sql_is_tracked_param(tracked[i], strlen(tracked[i])));
		char sql[128];
		snprintf(sql, sizeof(sql), "SET %s = 'x'", tracked[i]);
		assert_no_pin(sql);
		snprintf(sql, sizeof(sql), "SET SESSION %s TO DEFAULT", tracked[i]);
		assert_no_pin(sql);
		snprintf(sql, sizeof(sql), "RESET %s", tracked[i]);
		assert_no_pin(sql);
		snprintf(sql, sizeof(sql), "SET \"%s\" = 'x'", tracked[i]);
		assert_no_pin(sql);
	}
	assert_false(pg_sql_is_tracked_param("search_path", 11));
	assert_false(pg_sql_is_tracked_param("timezon", 7));
	assert_false(pg_sql_is_tracked_param("timezonex", 9));
	assert_false(pg_sql_is_tracked_param("", 0));
	/* len, not the NUL, bounds the name */
	assert_true(pg_sql_is_tracked_param("timezone_abbreviations", 8));
}

/* ---- statements, comments, quotes ---- */

static void test_multi_statement(void **state)
{
	(void)state;
	assert_pins("SELECT 1; LISTEN x", "LISTEN");
	assert_pins("SELECT 1;LISTEN x;SELECT 2", "LISTEN");
	assert_pins("SET application_name = 'a'; SET work_mem = '1MB'", "SET of an untracked parameter");
	assert_no_pin("SET application_name = 'a'; SET LOCAL work_mem = '1MB'; SELECT 1");
	assert_no_pin(";;; ; SELECT 1 ;");
	/* The flags of every statement add up. */
	assert_flags("BEGIN; DISCARD ALL; DEALLOCATE ALL",
		     PG_SQL_BEGIN | PG_SQL_DISCARD_ALL | PG_SQL_DEALLOCATE_ALL);
	struct pg_sql_scan s = scan("LISTEN a; BEGIN");
	assert_int_equal(s.flags, PG_SQL_PIN | PG_SQL_BEGIN);
}

static void test_comments(void **state)
{
	(void)state;
	assert_no_pin("/* LISTEN x */ SELECT 1");
	assert_no_pin("-- LISTEN x\nSELECT 1");
	assert_no_pin("SELECT 1 -- ; LISTEN x");
	assert_no_pin("SELECT 1 /* ; LISTEN x */");
	assert_no_pin("/* nested /* ; LISTEN x */ still a comment; LISTEN y */ SELECT 1");
	assert_pins("/* c */ LISTEN x", "LISTEN");
	assert_pins("-- c\n  LISTEN x", "LISTEN");
	assert_pins("/* a */ /* b */ -- c\n SET /* d */ work_mem = 1", "SET of an untracked parameter");
	assert_pins("SELECT 1 /* ; */ ; LISTEN x", "LISTEN");
	assert_pins("SELECT 1 -- ;\n; LISTEN x", "LISTEN");
	/* An unterminated block comment is a cut-off text. */
	struct pg_sql_scan s = scan("SELECT 1; /* LISTEN x");
	assert_true(s.flags & PG_SQL_TRUNCATED);
	assert_false(s.flags & PG_SQL_PIN);
}

static void test_quotes(void **state)
{
	(void)state;
	assert_no_pin("SELECT 'a; LISTEN x'");
	assert_no_pin("SELECT 'it''s; LISTEN x'");
	assert_no_pin("SELECT \"semi;LISTEN x\" FROM t");
	assert_no_pin("SELECT \"a\"\"b; LISTEN x\" FROM t");
	assert_pins("SELECT 'a;b'; LISTEN x", "LISTEN");
	assert_pins("SELECT 'it''s'; LISTEN x", "LISTEN");
	assert_pins("SELECT \"semi;colon\" FROM t; LOAD 'x'", "LOAD");
	assert_pins("SELECT ''; LISTEN x", "LISTEN");
	struct pg_sql_scan s = scan("SELECT 'unterminated; LISTEN x");
	assert_true(s.flags & PG_SQL_TRUNCATED);
	assert_false(s.flags & PG_SQL_PIN);
	s = scan("SELECT \"unterminated; LISTEN x");
	assert_true(s.flags & PG_SQL_TRUNCATED);
}

static void test_dollar_quotes(void **state)
{
	(void)state;
	assert_no_pin("SELECT $$; LISTEN x$$");
	assert_no_pin("SELECT $tag$ ; LISTEN x $tag$");
	assert_no_pin("SELECT $a$ $b$; LISTEN x $b$ $a$");
	assert_no_pin("SELECT $_1$;LISTEN x$_1$");
	assert_pins("SELECT $$x$$; LISTEN x", "LISTEN");
	assert_pins("SELECT $t$ ; $t$; LISTEN x", "LISTEN");
	assert_pins("DO $body$ BEGIN PERFORM 1; END $body$; LISTEN x", "LISTEN");
	/* $1 is a parameter, not a quote */
	assert_pins("SELECT $1; LISTEN x", "LISTEN");
	assert_pins("SELECT $1, $2; LISTEN x", "LISTEN");
	assert_no_pin("SELECT 1 $");
	assert_no_pin("SELECT $");
}

/* ---- cut-off text ---- */

static void test_truncated(void **state)
{
	(void)state;
	/* Every prefix of a text scans without reading past its end. */
	static const char *const texts[] = {
		"SET statement_timeout = 1; SELECT 'a;b', \"c;d\", $x$;$x$ /* ; */ -- ;\n; LISTEN z",
		"DECLARE c CURSOR WITH HOLD FOR SELECT 1",
		"CREATE GLOBAL TEMPORARY TABLE t(x int)",
		"SELECT pg_try_advisory_lock(1)",
		"DEALLOCATE PREPARE ALL; START TRANSACTION",
	};
	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++)
		for (size_t n = 0; n <= strlen(texts[t]); n++)
			(void)scan_n(texts[t], n);
	struct pg_sql_scan s = scan("SELECT $x$ abc");
	assert_true(s.flags & PG_SQL_TRUNCATED);
	s = scan("SELECT $x$ abc $x");
	assert_true(s.flags & PG_SQL_TRUNCATED);
	s = scan("SELECT 1");
	assert_false(s.flags & PG_SQL_TRUNCATED);
	/* What was seen before the cut still counts. */
	s = scan("LISTEN x; SELECT 'abc");
	assert_true(s.flags & PG_SQL_PIN);
	assert_true(s.flags & PG_SQL_TRUNCATED);
	/* A cut in the middle of a keyword is no keyword. */
	assert_no_pin("LIST");
	assert_no_pin("SELECT pg_advisory_loc");
	/* NUL bytes are just bytes: len bounds the scan, not the NUL. */
	s = scan_n("SELECT 1\0; LISTEN x", 19);
	assert_true(s.flags & PG_SQL_PIN);
	s = scan_n("LISTEN x", 3);
	assert_false(s.flags & PG_SQL_PIN);
}

/* ---- flags ---- */

static void test_flags(void **state)
{
	(void)state;
	assert_flags("DISCARD ALL", PG_SQL_DISCARD_ALL);
	assert_flags("discard all;", PG_SQL_DISCARD_ALL);
	assert_flags("DISCARD PLANS", 0);
	assert_flags("DEALLOCATE ALL", PG_SQL_DEALLOCATE_ALL);
	assert_flags("DEALLOCATE PREPARE ALL", PG_SQL_DEALLOCATE_ALL);
	assert_flags("DEALLOCATE p1", 0);
	assert_flags("DEALLOCATE PREPARE p1", 0);
	assert_flags("BEGIN", PG_SQL_BEGIN);
	assert_flags("begin isolation level serializable", PG_SQL_BEGIN);
	assert_flags("START TRANSACTION READ ONLY", PG_SQL_BEGIN);
	assert_flags("START", 0);
	assert_flags("COMMIT", 0);
	assert_flags("SELECT 'BEGIN'", 0);
	assert_flags("/* BEGIN */ SELECT 1", 0);
	assert_flags("  -- x\n BEGIN", PG_SQL_BEGIN);
	/* Not the first word: no flag. */
	assert_flags("SELECT 1 BEGIN", 0);
	/* flags and pin_reason are reset by every scan */
	struct pg_sql_scan sc = { .flags = PG_SQL_PIN, .pin_reason = "x" };
	pg_sql_scan("SELECT 1", 8, &sc);
	assert_int_equal(sc.flags, 0);
	assert_null(sc.pin_reason);
}

/* Fixed inputs the fuzz target runs into (tests/fuzz/corpus/pg_sql). */
/* Cases the reliability review found the first scanner missed. */
static void test_review_cases(void **state)
{
	(void)state;
	assert_pins("SELECT E'\\''; SET ROLE admin", "SET ROLE");
	assert_pins("SELECT e'a\\'b' AS x; LISTEN x", "LISTEN");
	assert_pins("SELECT 1 AS a$b$; LISTEN x", "LISTEN");
	assert_pins("SELECT * INTO TEMP TABLE t FROM x", "temporary table");
	assert_pins("select 1 into temporary t2", "temporary table");
	assert_pins("EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1", "temporary table");
	assert_pins("EXPLAIN (ANALYZE, BUFFERS) LISTEN x", "LISTEN");
	assert_pins("SELECT set_config('search_path', 'x', false)", "set_config()");
	assert_no_pin("SELECT * FROM intotemp");
	assert_no_pin("SELECT my_set_config(1)");
	assert_no_pin("EXPLAIN SELECT 1");
}

static void test_odd_bytes(void **state)
{
	(void)state;
	static const char odd[] = "\xff\xfe$\x80$\x01;\"\x00'$$/*--\n*/;SET\x7f";
	for (size_t n = 0; n <= sizeof(odd) - 1; n++)
		(void)scan_n(odd, n);
	char big[8192];
	memset(big, '$', sizeof(big));
	(void)scan_n(big, sizeof(big));
	memset(big, '/', sizeof(big));
	for (size_t i = 1; i < sizeof(big); i += 2)
		big[i] = '*';
	struct pg_sql_scan s = scan_n(big, sizeof(big));
	assert_true(s.flags & PG_SQL_TRUNCATED);
}

/* Statements are counted as PostgreSQL would run them: what a ';'
 * inside quotes, dollar quotes or comments separates is one statement,
 * and empty ones do not count (pipelining needs exactly one). */
static void test_statement_count(void **state)
{
	(void)state;
	assert_int_equal(scan("SELECT 1").statements, 1);
	assert_int_equal(scan("SELECT 1;").statements, 1);
	assert_int_equal(scan("  SELECT 1 ;  ;; \n").statements, 1);
	assert_int_equal(scan("SELECT 1; SELECT 2").statements, 2);
	assert_int_equal(scan("SELECT ';'; ").statements, 1);
	assert_int_equal(scan("SELECT $$a;b$$ -- ;\n").statements, 1);
	assert_int_equal(scan("/* ; */ SELECT 1 /* ; */").statements, 1);
	assert_int_equal(scan("SELECT 1; /* c */ BEGIN").statements, 2);
	assert_int_equal(scan("").statements, 0);
	assert_int_equal(scan(" ; -- x").statements, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pin_kinds),
		cmocka_unit_test(test_no_pin),
		cmocka_unit_test(test_tracked_params),
		cmocka_unit_test(test_multi_statement),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_quotes),
		cmocka_unit_test(test_dollar_quotes),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_odd_bytes),
		cmocka_unit_test(test_review_cases),
		cmocka_unit_test(test_statement_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
