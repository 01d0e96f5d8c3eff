/*
 * test_query_norm.c — the statement normalizer (proxy/query_norm.c):
 * table-driven cases for both dialects, hash equality for same shapes,
 * truncation and its hash, and the length bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxy/query_norm.h"

struct ncase {
	enum qn_dialect d;
	const char *in;
	const char *want;
};

static const struct ncase cases[] = {
	/* whitespace and comments */
	{ QN_PG, "SELECT 1", "SELECT ?" },
	{ QN_PG, "  SELECT\n\t*   FROM   t  ", "SELECT * FROM t" },
	{ QN_PG, "SELECT * FROM t -- trailing comment", "SELECT * FROM t" },
	{ QN_PG, "SELECT /* c */ a FROM t", "SELECT a FROM t" },
	{ QN_PG, "SELECT/* c */a FROM t", "SELECT a FROM t" },
	{ QN_PG, "SELECT /* outer /* nested */ still */ a", "SELECT a" },
	{ QN_PG, "SELECT 1;", "SELECT ?" },
	{ QN_PG, "SELECT 1 ; ;  -- done\n", "SELECT ?" },
	{ QN_PG, "SELECT 1; SELECT 2", "SELECT ?; SELECT ?" },
	{ QN_PG, "SELECT 1 ; SELECT 2", "SELECT ?; SELECT ?" },
	{ QN_PG, "", "" },
	{ QN_PG, "   -- only a comment", "" },
	/* numbers */
	{ QN_PG, "SELECT * FROM t WHERE id = 42", "SELECT * FROM t WHERE id = ?" },
	{ QN_PG, "SELECT 1.5, .5, 1e10, 1.5E-3, 0x1F", "SELECT ?, ?, ?, ?, ?" },
	{ QN_PG, "SELECT a FROM t WHERE x = -1", "SELECT a FROM t WHERE x = ?" },
	{ QN_PG, "SELECT a - 1 FROM t", "SELECT a - ? FROM t" },
	{ QN_PG, "SELECT a-1 FROM t", "SELECT a-? FROM t" },
	{ QN_PG, "SELECT f(-2, +3)", "SELECT f(?, ?)" },
	{ QN_PG, "SELECT t1.c2 FROM t1", "SELECT t1.c2 FROM t1" },
	{ QN_PG, "SELECT x FROM t LIMIT 10 OFFSET 20", "SELECT x FROM t LIMIT ? OFFSET ?" },
	/* strings, PostgreSQL */
	{ QN_PG, "SELECT 'abc'", "SELECT ?" },
	{ QN_PG, "SELECT 'it''s'", "SELECT ?" },
	{ QN_PG, "SELECT 'a\\' , 1", "SELECT ?, ?" },
	{ QN_PG, "SELECT E'it\\'s', 1", "SELECT ?, ?" },
	{ QN_PG, "SELECT B'0101', X'FF', N'x'", "SELECT ?, ?, ?" },
	{ QN_PG, "SELECT U&'d\\0061t'", "SELECT ?" },
	{ QN_PG, "SELECT $$a 'b' c$$", "SELECT ?" },
	{ QN_PG, "SELECT $fn$ body $$ inner $fn$ AS x", "SELECT ? AS x" },
	{ QN_PG, "SELECT '1'::int, now()::date", "SELECT ?::int, now()::date" },
	{ QN_PG, "SELECT \"Weird \"\"col\"\"\" FROM \"T\"", "SELECT \"Weird \"\"col\"\"\" FROM \"T\"" },
	{ QN_PG, "SELECT * FROM t WHERE a = $1 AND b = $2", "SELECT * FROM t WHERE a = $1 AND b = $2" },
	{ QN_PG, "SELECT interval '1 day'", "SELECT interval ?" },
	{ QN_PG, "SELECT 'unterminated", "SELECT ?" },
	{ QN_PG, "SELECT data ? 'k' FROM j", "SELECT data ? ? FROM j" },
	/* lists */
	{ QN_PG, "SELECT * FROM t WHERE id IN (1, 2, 3)", "SELECT * FROM t WHERE id IN (?)" },
	{ QN_PG, "SELECT * FROM t WHERE id IN (7)", "SELECT * FROM t WHERE id IN (?)" },
	{ QN_PG, "SELECT * FROM t WHERE id in(1,'a',-3)", "SELECT * FROM t WHERE id in (?)" },
	{ QN_PG, "SELECT * FROM t WHERE id IN ($1, $2)", "SELECT * FROM t WHERE id IN (?)" },
	{ QN_PG, "SELECT * FROM t WHERE id IN (SELECT id FROM u)", "SELECT * FROM t WHERE id IN (SELECT id FROM u)" },
	{ QN_PG, "SELECT * FROM t WHERE id IN (1, x)", "SELECT * FROM t WHERE id IN (?, x)" },
	{ QN_PG, "INSERT INTO t (a, b) VALUES (1, 'a'), (2, 'b'), (3, 'c')", "INSERT INTO t (a, b) VALUES (?)" },
	{ QN_PG, "INSERT INTO t VALUES (1,'a')", "INSERT INTO t VALUES (?)" },
	{ QN_PG, "INSERT INTO t VALUES (1, now()), (2, now())", "INSERT INTO t VALUES (?, now()), (?, now())" },
	{ QN_PG, "INSERT INTO t VALUES (1), (2) RETURNING id", "INSERT INTO t VALUES (?) RETURNING id" },
	{ QN_PG, "SELECT f( a )", "SELECT f(a)" },
	/* MySQL */
	{ QN_MYSQL, "SELECT * FROM t WHERE id = 5", "SELECT * FROM t WHERE id = ?" },
	{ QN_MYSQL, "SELECT \"abc\", 'd'", "SELECT ?, ?" },
	{ QN_MYSQL, "SELECT 'it\\'s', \"say \\\"hi\\\"\", 1", "SELECT ?, ?, ?" },
	{ QN_MYSQL, "SELECT 'a''b'", "SELECT ?" },
	{ QN_MYSQL, "SELECT `my col` FROM `t`", "SELECT `my col` FROM `t`" },
	{ QN_MYSQL, "SELECT a # comment\nFROM t", "SELECT a FROM t" },
	{ QN_MYSQL, "SELECT a -- comment\nFROM t", "SELECT a FROM t" },
	{ QN_MYSQL, "SELECT x'4D', b'01', 0xFF, _utf8mb4'z'", "SELECT ?, ?, ?, ?" },
	{ QN_MYSQL, "SELECT * FROM t WHERE a = ? AND b IN (?, ?)", "SELECT * FROM t WHERE a = ? AND b IN (?)" },
	{ QN_MYSQL, "INSERT INTO t VALUES (1,'x'),(2,\"y\")", "INSERT INTO t VALUES (?)" },
	{ QN_MYSQL, "SELECT a$b FROM t1", "SELECT a$b FROM t1" },
	{ QN_MYSQL, "SELECT 1 /* a /* b */", "SELECT ?" },
	{ QN_MYSQL, "UPDATE t SET a = 'x' WHERE id IN (1,2);", "UPDATE t SET a = ? WHERE id IN (?)" },
	/* case is kept */
	{ QN_PG, "select * from T where ID = 3", "select * from T where ID = ?" },
	/* UTF-8 identifiers */
	{ QN_PG, "SELECT café FROM t WHERE x = 'é'", "SELECT café FROM t WHERE x = ?" },
};

static void test_cases(void **state)
{
	(void)state;
	int bad = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[QN_MAX];
		struct qn_result r = query_norm(cases[i].d, cases[i].in, strlen(cases[i].in), out, sizeof(out));
		if (strcmp(out, cases[i].want) != 0 || r.len != strlen(out) || r.truncated) {
			print_error("case %zu (%s): %s\n   got  [%s]\n   want [%s]\n", i,
				    cases[i].d == QN_PG ? "pg" : "mysql", cases[i].in, out, cases[i].want);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
	assert_true(sizeof(cases) / sizeof(cases[0]) >= 40);
}

static uint64_t h(enum qn_dialect d, const char *s)
{
	char out[QN_MAX];
	return query_norm(d, s, strlen(s), out, sizeof(out)).hash;
}

static void test_same_shape_same_hash(void **state)
{
	(void)state;
	assert_int_equal(h(QN_PG, "SELECT * FROM t WHERE id = 1"), h(QN_PG, "SELECT  *  FROM t WHERE id = 99999"));
	assert_int_equal(h(QN_PG, "SELECT * FROM t WHERE id IN (1)"), h(QN_PG, "SELECT * FROM t WHERE id IN (1,2,3,4)"));
	assert_int_equal(h(QN_PG, "INSERT INTO t VALUES (1,'a')"), h(QN_PG, "INSERT INTO t VALUES (1,'a'),(2,'b')"));
	assert_int_equal(h(QN_PG, "SELECT 'x' -- a"), h(QN_PG, "SELECT $q$y$q$;"));
	assert_true(h(QN_PG, "SELECT a FROM t") != h(QN_PG, "SELECT b FROM t"));
	assert_true(h(QN_PG, "SELECT a FROM t") != h(QN_PG, "select a from t"));
	assert_true(h(QN_PG, "") != 0);
}

/* The text is cut with "…" on a character boundary; the hash still sees
 * everything, so two long statements differing at the end differ. */
static void test_truncation(void **state)
{
	(void)state;
	char in[4000];
	size_t n = 0;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "SELECT ");
	while (n < 2000)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "colé%zu, ", n);
	size_t base = n;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "a FROM t");
	char out[QN_MAX];
	struct qn_result r = query_norm(QN_PG, in, n, out, sizeof(out));
	assert_true(r.truncated);
	assert_true(r.len <= QN_MAX - 1);
	assert_int_equal(strlen(out), r.len);
	assert_memory_equal(out + r.len - 3, "\xe2\x80\xa6", 3);
	/* No broken UTF-8 sequence before the ellipsis. */
	size_t k = r.len - 3;
	size_t lead = k;
	while (lead > 0 && ((unsigned char)out[lead - 1] & 0xC0) == 0x80)
		lead--;
	if (lead > 0 && (unsigned char)out[lead - 1] >= 0xC0) {
		unsigned char c = (unsigned char)out[lead - 1];
		size_t need = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
		assert_int_equal(k - lead, need);
	}
	uint64_t h1 = r.hash;
	snprintf(in + base, sizeof(in) - base, "b FROM t");
	struct qn_result r2 = query_norm(QN_PG, in, base + 8, out, sizeof(out));
	assert_true(r2.truncated);
	assert_true(h1 != r2.hash);
	/* A small buffer. */
	char tiny[8];
	struct qn_result r3 = query_norm(QN_PG, "SELECT abcdef", 13, tiny, sizeof(tiny));
	assert_true(r3.truncated);
	assert_string_equal(tiny, "SELE\xe2\x80\xa6");
	/* Exactly fits: not cut. */
	char fit[9];
	struct qn_result r4 = query_norm(QN_PG, "SELECT a", 8, fit, sizeof(fit));
	assert_false(r4.truncated);
	assert_string_equal(fit, "SELECT a");
}

/* Not NUL-terminated input: only len bytes are read. */
static void test_len_bound(void **state)
{
	(void)state;
	const char *s = "SELECT 1 AND MORE";
	char out[QN_MAX];
	query_norm(QN_PG, s, 8, out, sizeof(out));
	assert_string_equal(out, "SELECT ?");
	query_norm(QN_PG, NULL, 0, out, sizeof(out));
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_same_shape_same_hash),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_len_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
