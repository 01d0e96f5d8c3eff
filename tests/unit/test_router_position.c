/*
 * test_router_position.c — router/position.c: PostgreSQL LSNs, MariaDB GTID
 * lists and MySQL GTID sets — parsing (and rejecting malformed text),
 * pos_covers, pos_merge and pos_format's canonical form.
 *
 * Texts are copied into heap buffers of exactly their length, so a read
 * past `len` is an ASan report in the sanitizer build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "router/position.h"

typedef int (*parse_fn)(const char *, size_t, struct position *);

static int parse_exact(parse_fn fn, const char *s, struct position *out)
{
	size_t n = strlen(s);
	char *p = malloc(n ? n : 1);
	assert_non_null(p);
	memcpy(p, s, n);
	int r = fn(p, n, out);
	free(p);
	return r;
}

static struct position lsn(const char *s)
{
	struct position p;
	if (parse_exact(pos_parse_lsn, s, &p) != 0)
		fail_msg("lsn '%s' rejected", s);
	return p;
}

static struct position md(const char *s)
{
	struct position p;
	if (parse_exact(pos_parse_mariadb, s, &p) != 0)
		fail_msg("mariadb '%s' rejected", s);
	return p;
}

static struct position my(const char *s)
{
	struct position p;
	if (parse_exact(pos_parse_mysql, s, &p) != 0)
		fail_msg("mysql '%s' rejected", s);
	return p;
}

static void assert_format(const struct position *p, const char *want)
{
	char buf[2048];
	assert_string_equal(pos_format(p, buf, sizeof(buf)), want);
}

/* ---- LSN ---- */

static void test_lsn_parse(void **state)
{
	(void)state;
	struct position p = lsn("16/B374D848");
	assert_int_equal(p.kind, POS_LSN);
	assert_true(p.lsn == ((uint64_t)0x16 << 32 | 0xB374D848u));
	assert_true(lsn("0/0").lsn == 0);
	assert_true(lsn("FFFFFFFF/FFFFFFFF").lsn == UINT64_MAX);
	assert_true(lsn("0/3000060").lsn == 0x3000060u);
	assert_true(lsn("a/b").lsn == ((uint64_t)0xa << 32 | 0xb));
	assert_true(lsn(" 1/2\n").lsn == ((uint64_t)1 << 32 | 2));
	assert_format(&p, "16/B374D848");
	struct position z = lsn("00000000/00000010");
	assert_format(&z, "0/10");

	static const char *bad[] = { "", "/", "1/", "/1", "1", "1/2/3", "123456789/0", "0/123456789",
				     "g/1", "1/2x", "1 /2", "-1/2", "0x1/2", "1/ 2", "1//2" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct position q;
		q.kind = POS_LSN;
		if (parse_exact(pos_parse_lsn, bad[i], &q) != -1)
			fail_msg("lsn '%s' accepted", bad[i]);
		assert_int_equal(q.kind, POS_NONE);
	}
}

static void test_lsn_covers(void **state)
{
	(void)state;
	struct position a = lsn("16/B374D848"), b = lsn("16/B374D849"), c = lsn("17/0"), none = { 0 };
	assert_true(pos_covers(&b, &a));
	assert_false(pos_covers(&a, &b));
	assert_true(pos_covers(&a, &a));
	assert_true(pos_covers(&c, &b)); /* the high half counts first */
	assert_false(pos_covers(&b, &c));
	assert_true(pos_covers(&a, &none));
	assert_true(pos_covers(&none, &none));
	assert_false(pos_covers(&none, &a));
	assert_true(pos_covers(NULL, &none));
	assert_false(pos_covers(NULL, &a));
	assert_true(pos_covers(&a, NULL));

	struct position m = a;
	pos_merge(&m, &c);
	assert_true(m.lsn == c.lsn);
	pos_merge(&m, &b);
	assert_true(m.lsn == c.lsn);
	pos_merge(&m, &none);
	assert_true(m.lsn == c.lsn);
	struct position n = { 0 };
	pos_merge(&n, &b);
	assert_int_equal(n.kind, POS_LSN);
	assert_true(n.lsn == b.lsn);
	assert_format(&none, "none");
}

/* ---- MariaDB ---- */

static void test_mariadb_parse(void **state)
{
	(void)state;
	struct position p = md("0-1-100");
	assert_int_equal(p.kind, POS_MARIADB_GTID);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.u.md[0].domain, 0);
	assert_int_equal(p.u.md[0].server, 1);
	assert_int_equal(p.u.md[0].seq, 100);

	p = md("0-1-100,1-2-7, 5-3-18446744073709551615");
	assert_int_equal(p.n, 3);
	assert_int_equal(p.u.md[1].domain, 1);
	assert_int_equal(p.u.md[1].server, 2);
	assert_int_equal(p.u.md[1].seq, 7);
	assert_true(p.u.md[2].seq == UINT64_MAX);
	assert_format(&p, "0-1-100,1-2-7,5-3-18446744073709551615");

	/* gtid_slave_pos as the server prints it, with newlines */
	p = md("0-1-100,\n1-2-7 ,\n  2-10-3\n");
	assert_int_equal(p.n, 3);
	assert_format(&p, "0-1-100,1-2-7,2-10-3");

	/* the same domain twice keeps the later */
	p = md("0-1-5,0-2-9,0-1-7");
	assert_int_equal(p.n, 1);
	assert_format(&p, "0-2-9");

	p = md("");
	assert_int_equal(p.kind, POS_MARIADB_GTID);
	assert_int_equal(p.n, 0);
	p = md("  \n");
	assert_int_equal(p.n, 0);
	assert_format(&p, "");

	static const char *bad[] = { "0-1", "0-1-", "0--1-2", "a-1-2", "0-1-2,", ",0-1-2", "0-1-2,,1-1-1",
				     "0-1-2 1-1-1", "0-1-2;1-1-1", "4294967296-1-1", "0-4294967296-1",
				     "0-1-18446744073709551616", "-0-1-2", "0-1-2x", "0 -1-2" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct position q;
		if (parse_exact(pos_parse_mariadb, bad[i], &q) != -1)
			fail_msg("mariadb '%s' accepted", bad[i]);
		assert_int_equal(q.kind, POS_NONE);
	}

	/* POS_MAX_DOMAINS domains fit, one more does not */
	char buf[1024];
	size_t used = 0;
	for (int d = 0; d <= POS_MAX_DOMAINS; d++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%d-1-%d", d ? "," : "", d, d + 1);
	struct position q;
	assert_int_equal(parse_exact(pos_parse_mariadb, buf, &q), -1);
	*strrchr(buf, ',') = '\0';
	assert_int_equal(parse_exact(pos_parse_mariadb, buf, &q), 0);
	assert_int_equal(q.n, POS_MAX_DOMAINS);
}

static void test_mariadb_covers(void **state)
{
	(void)state;
	struct position replica = md("0-1-100,1-2-50,2-3-7");
	assert_true(pos_covers(&replica, &(struct position){ .kind = POS_NONE }));
	assert_true(pos_covers(&replica, &replica));
	struct position need = md("0-1-100");
	assert_true(pos_covers(&replica, &need));
	need = md("0-1-101");
	assert_false(pos_covers(&replica, &need));
	/* the server id is not compared: a failover changes it */
	need = md("0-9-90");
	assert_true(pos_covers(&replica, &need));
	need = md("0-1-90,1-7-50");
	assert_true(pos_covers(&replica, &need));
	need = md("0-1-90,1-7-51");
	assert_false(pos_covers(&replica, &need));
	/* a domain the replica has never seen */
	need = md("3-1-1");
	assert_false(pos_covers(&replica, &need));
	/* an empty need is covered; an empty have covers only that */
	struct position empty = md("");
	assert_true(pos_covers(&replica, &empty));
	assert_true(pos_covers(&empty, &empty));
	assert_false(pos_covers(&empty, &need));
	/* kinds never cover each other */
	struct position l = lsn("1/0");
	assert_false(pos_covers(&l, &need));
	assert_false(pos_covers(&replica, &l));
}

static void test_mariadb_merge(void **state)
{
	(void)state;
	struct position a = md("0-1-100,1-2-7");
	pos_merge(&a, &(struct position){ .kind = POS_NONE });
	assert_format(&a, "0-1-100,1-2-7");
	struct position b = md("1-3-9,2-1-4,0-1-50");
	pos_merge(&a, &b);
	assert_format(&a, "0-1-100,1-3-9,2-1-4");
	struct position c = md("0-1-100,1-3-9,2-1-4");
	assert_true(pos_covers(&c, &a) && pos_covers(&a, &c));

	/* more domains than fit: overflow, which nothing covers */
	char buf[1024];
	size_t used = 0;
	for (int d = 0; d < POS_MAX_DOMAINS; d++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%d-1-5", d ? "," : "", d + 100);
	struct position full = md(buf), big = md(buf);
	pos_merge(&full, &a);
	assert_true(full.overflow);
	assert_int_equal(full.n, POS_MAX_DOMAINS);
	assert_false(pos_covers(&big, &full));
	char out[2048];
	assert_non_null(strstr(pos_format(&full, out, sizeof(out)), "(overflow)"));
	/* an overflowed have only understates */
	struct position small = md("100-1-5");
	assert_true(pos_covers(&full, &small));
}

/* ---- MySQL ---- */

#define U1 "3E11FA47-71CA-11E1-9E33-C80AA9429562"
#define U1L "3e11fa47-71ca-11e1-9e33-c80aa9429562"
#define U2 "8a94f357-aab4-11df-86ab-c80aa9429562"

static void test_mysql_parse(void **state)
{
	(void)state;
	struct position p = my(U1 ":1-5");
	assert_int_equal(p.kind, POS_MYSQL_GTID);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.u.my[0].uuid[0], 0x3e);
	assert_int_equal(p.u.my[0].uuid[15], 0x62);
	assert_int_equal(p.u.my[0].n, 1);
	assert_int_equal(p.u.my[0].iv[0].lo, 1);
	assert_int_equal(p.u.my[0].iv[0].hi, 5);
	assert_format(&p, U1L ":1-5");

	p = my(U1 ":1-5:7:9-12," U2 ":1-3");
	assert_int_equal(p.n, 2);
	assert_int_equal(p.u.my[0].n, 3);
	assert_format(&p, U1L ":1-5:7:9-12," U2 ":1-3");

	/* as SELECT @@gtid_executed prints it: newline after the comma */
	p = my(U1L ":1-100,\n" U2 ":1-3\n");
	assert_format(&p, U1L ":1-100," U2 ":1-3");

	/* intervals are normalised: sorted, adjacent and overlapping merged */
	p = my(U1 ":9:1-3:4-5:2");
	assert_format(&p, U1L ":1-5:9");
	/* a UUID written twice is one */
	p = my(U1 ":1-3," U2 ":5," U1L ":4-6");
	assert_int_equal(p.n, 2);
	assert_format(&p, U1L ":1-6," U2 ":5");

	p = my("");
	assert_int_equal(p.kind, POS_MYSQL_GTID);
	assert_int_equal(p.n, 0);

	static const char *bad[] = {
		U1,                                     /* no interval */
		U1 ":",                                 /* empty interval */
		U1 ":0-5",                              /* numbers start at 1 */
		U1 ":5-3",                              /* reversed */
		U1 ":1-",                               /* open */
		U1 ":1-5,",                             /* trailing comma */
		U1 ":1-5;" U2 ":1",                     /* bad separator */
		"3E11FA47-71CA-11E1-9E33-C80AA942956:1",     /* short UUID */
		"3E11FA4771CA-11E1-9E33-C80AA9429562:1",     /* missing dash */
		"3E11FA47-71CA-11E1-9E33-C80AA942956Z:1",    /* not hex */
		U1 ":1-5 :7",
		U1 ":tag:1-5",                          /* tagged GTIDs are not supported */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct position q;
		if (parse_exact(pos_parse_mysql, bad[i], &q) != -1)
			fail_msg("mysql '%s' accepted", bad[i]);
		assert_int_equal(q.kind, POS_NONE);
	}
	/* adjacent numbers merge, so many written intervals can still fit */
	p = my(U1 ":1:2:3:4:5:6:7:8:9:10:11:12");
	assert_format(&p, U1L ":1-12");
	/* POS_MAX_INTERVALS separate ones fit, one more is refused */
	p = my(U1 ":1:3:5:7");
	assert_int_equal(p.u.my[0].n, POS_MAX_INTERVALS);
	struct position q;
	assert_int_equal(parse_exact(pos_parse_mysql, U1 ":1:3:5:7:9", &q), -1);
}

static void test_mysql_covers(void **state)
{
	(void)state;
	struct position replica = my(U1 ":1-100:200-300," U2 ":1-50");
	struct position need = my(U1 ":1-100");
	assert_true(pos_covers(&replica, &need));
	need = my(U1 ":50-60:250");
	assert_true(pos_covers(&replica, &need));
	need = my(U1 ":101");
	assert_false(pos_covers(&replica, &need)); /* in the gap */
	need = my(U1 ":90-210");
	assert_false(pos_covers(&replica, &need)); /* spans the gap */
	need = my(U1 ":300," U2 ":50");
	assert_true(pos_covers(&replica, &need));
	need = my(U1 ":300," U2 ":51");
	assert_false(pos_covers(&replica, &need));
	need = my("11111111-2222-3333-4444-555555555555:1");
	assert_false(pos_covers(&replica, &need)); /* unknown source */
	need = my(U1L ":1-100");
	assert_true(pos_covers(&replica, &need)); /* hex case does not matter */
	assert_true(pos_covers(&replica, &replica));
	struct position empty = my("");
	assert_true(pos_covers(&replica, &empty));
	assert_false(pos_covers(&empty, &need));
	struct position m = md("0-1-1");
	assert_false(pos_covers(&replica, &m));
}

static void test_mysql_merge(void **state)
{
	(void)state;
	struct position a = my(U1 ":1-5");
	struct position b = my(U1 ":6-10:20," U2 ":1-3");
	pos_merge(&a, &b);
	assert_format(&a, U1L ":1-10:20," U2 ":1-3");
	struct position c = my(U1 ":15-19");
	pos_merge(&a, &c);
	assert_format(&a, U1L ":1-10:15-20," U2 ":1-3");

	/* too many intervals: the smallest gap is filled, so the set only
	 * grows (a `need` may be overstated, never understated) */
	struct position d = my(U1 ":1:10:100:1000");
	struct position e = my(U1 ":12");
	pos_merge(&d, &e);
	assert_format(&d, U1L ":1:10-12:100:1000");
	struct position f = my(U1 ":3");
	pos_merge(&d, &f);
	/* gaps: 1..3 is 2, 3..10 is 7: 1 and 3 join */
	assert_format(&d, U1L ":1-3:10-12:100:1000");
	struct position g = my(U1 ":500");
	pos_merge(&d, &g);
	assert_format(&d, U1L ":1-12:100:500:1000");
	/* what was merged is still covered by the merged set */
	assert_true(pos_covers(&d, &e) && pos_covers(&d, &f) && pos_covers(&d, &g));

	/* UUIDs beyond POS_MAX_DOMAINS: overflow */
	struct position many = my("");
	for (int i = 0; i <= POS_MAX_DOMAINS; i++) {
		char s[64];
		snprintf(s, sizeof(s), "%08x-0000-0000-0000-000000000000:1", i);
		struct position one = my(s);
		pos_merge(&many, &one);
	}
	assert_int_equal(many.n, POS_MAX_DOMAINS);
	assert_true(many.overflow);
	struct position everything = many;
	everything.overflow = false;
	assert_false(pos_covers(&everything, &many));
}

static void test_format_small_buffer(void **state)
{
	(void)state;
	struct position p = my(U1 ":1-5:7");
	char buf[8];
	memset(buf, 'x', sizeof(buf));
	pos_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "3e11fa4");
	struct position l = lsn("16/B374D848");
	pos_format(&l, buf, 4);
	assert_string_equal(buf, "16/");
	char one[1] = { 'x' };
	pos_format(&l, one, 1);
	assert_int_equal(one[0], '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lsn_parse),     cmocka_unit_test(test_lsn_covers),
		cmocka_unit_test(test_mariadb_parse), cmocka_unit_test(test_mariadb_covers),
		cmocka_unit_test(test_mariadb_merge), cmocka_unit_test(test_mysql_parse),
		cmocka_unit_test(test_mysql_covers),  cmocka_unit_test(test_mysql_merge),
		cmocka_unit_test(test_format_small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
