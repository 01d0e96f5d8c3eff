/*
 * test_failover_pick.c — the pure choice of the replica to promote
 * (health/failover_pick.h) and the statements of each failover step
 * (health/failover_sql.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "health/failover_pick.h"
#include "health/failover_sql.h"

static struct failover_candidate lsn(bool up, const char *text)
{
	struct failover_candidate c;
	memset(&c, 0, sizeof(c));
	c.up = up;
	if (text) {
		assert_int_equal(pos_parse_lsn(text, strlen(text), &c.pos), 0);
		c.has_pos = true;
	}
	return c;
}

static struct failover_candidate gtid(bool up, const char *text)
{
	struct failover_candidate c;
	memset(&c, 0, sizeof(c));
	c.up = up;
	assert_int_equal(pos_parse_mariadb(text, strlen(text), &c.pos), 0);
	c.has_pos = true;
	return c;
}

static void test_most_advanced(void **state)
{
	(void)state;
	struct failover_candidate c[4] = { lsn(false, "0/9000000"), lsn(true, "0/5000000"), lsn(true, "0/7000000"),
					   lsn(true, "0/6000000") };
	c[0].is_old_primary = true; /* the dead primary, ahead of everyone */
	enum failover_no_pick why;
	assert_int_equal(failover_pick(c, 4, &why), 2);
	assert_int_equal(why, FAILOVER_PICK_OK);
}

static void test_skips_down_and_fenced(void **state)
{
	(void)state;
	struct failover_candidate c[4] = { lsn(false, "0/1000000"), lsn(false, "0/9000000"), lsn(true, "0/8000000"),
					   lsn(true, "0/2000000") };
	c[0].is_old_primary = true;
	c[2].fenced = true; /* an earlier failover's old primary */
	assert_int_equal(failover_pick(c, 4, NULL), 3);
}

static void test_tie_keeps_config_order(void **state)
{
	(void)state;
	struct failover_candidate c[3] = { lsn(false, "0/1000000"), lsn(true, "0/3000000"), lsn(true, "0/3000000") };
	c[0].is_old_primary = true;
	assert_int_equal(failover_pick(c, 3, NULL), 1);
	/* MariaDB: equal GTID positions tie too; a later one wins */
	struct failover_candidate m[3] = { gtid(false, "0-1-100"), gtid(true, "0-1-90"), gtid(true, "0-1-95") };
	m[0].is_old_primary = true;
	assert_int_equal(failover_pick(m, 3, NULL), 2);
	m[1] = gtid(true, "0-1-95");
	assert_int_equal(failover_pick(m, 3, NULL), 1);
}

static void test_unordered_keeps_first(void **state)
{
	(void)state;
	/* Each is ahead in a different domain: no order, the first stays. */
	struct failover_candidate m[3] = { gtid(false, "0-1-10,1-1-10"), gtid(true, "0-1-9,1-1-5"),
					   gtid(true, "0-1-5,1-1-9") };
	m[0].is_old_primary = true;
	assert_int_equal(failover_pick(m, 3, NULL), 1);
}

static void test_none_healthy(void **state)
{
	(void)state;
	enum failover_no_pick why = FAILOVER_PICK_OK;
	struct failover_candidate c[3] = { lsn(false, "0/1000000"), lsn(false, "0/3000000"), lsn(false, NULL) };
	c[0].is_old_primary = true;
	assert_int_equal(failover_pick(c, 3, &why), -1);
	assert_int_equal(why, FAILOVER_PICK_NONE_UP);
	assert_non_null(strstr(failover_no_pick_text(why), "no healthy replica"));
	/* up, but no position read yet */
	c[2] = lsn(true, NULL);
	assert_int_equal(failover_pick(c, 3, &why), -1);
	assert_int_equal(why, FAILOVER_PICK_NO_POSITION);
	/* only the old primary */
	assert_int_equal(failover_pick(c, 1, &why), -1);
	assert_int_equal(why, FAILOVER_PICK_NONE_UP);
	assert_int_equal(failover_pick(c, 0, &why), -1);
}

static void test_sql(void **state)
{
	(void)state;
	char *s[FO_SQL_MAX];
	struct cfg_addr a;
	memset(&a, 0, sizeof(a));
	a.kind = CFG_ADDR_TCP;
	strcpy(a.host, "127.0.0.1");
	a.port = 5433;
	int n = fo_sql_promote(CFG_PROTO_POSTGRES, s);
	assert_int_equal(n, 1);
	assert_string_equal(s[0], "SELECT pg_promote(true, 30)");
	fo_sql_free(s, n);
	n = fo_sql_promote(CFG_PROTO_MYSQL, s);
	assert_int_equal(n, 3);
	assert_string_equal(s[1], "RESET SLAVE ALL");
	fo_sql_free(s, n);
	n = fo_sql_repoint(CFG_PROTO_POSTGRES, &a, "repl", "p'w\\x", s);
	assert_int_equal(n, 3);
	assert_string_equal(s[0], "ALTER SYSTEM SET primary_conninfo = 'host=''127.0.0.1'' port=''5433'' "
				  "user=''repl'' password=''p\\''w\\\\x'' application_name=''switchyard_failover'' '");
	assert_string_equal(s[2], "SELECT pg_reload_conf()");
	fo_sql_free(s, n);
	n = fo_sql_repoint(CFG_PROTO_MYSQL, &a, "repl", "p'w", s);
	assert_int_equal(n, 3);
	assert_string_equal(s[1], "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = 5433, MASTER_USER = "
				  "'repl', MASTER_PASSWORD = 'p\\'w', MASTER_USE_GTID = slave_pos");
	fo_sql_free(s, n);
	n = fo_sql_repoint(CFG_PROTO_MYSQL, &a, NULL, NULL, s);
	assert_int_equal(n, 3);
	assert_string_equal(s[1], "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = 5433, "
				  "MASTER_USE_GTID = slave_pos");
	fo_sql_free(s, n);
	strcpy(a.host, "evil'host");
	assert_int_equal(fo_sql_repoint(CFG_PROTO_MYSQL, &a, NULL, NULL, s), -1);
	n = fo_sql_fence(CFG_PROTO_MYSQL, s);
	assert_int_equal(n, 1);
	assert_string_equal(s[0], "SET GLOBAL read_only = 1");
	fo_sql_free(s, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_most_advanced),     cmocka_unit_test(test_skips_down_and_fenced),
		cmocka_unit_test(test_tie_keeps_config_order), cmocka_unit_test(test_unordered_keeps_first),
		cmocka_unit_test(test_none_healthy),      cmocka_unit_test(test_sql),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
