/*
 * test_health_beat.c — the pure parts of the health thread: the up/down
 * counting, parsing heartbeat and position answers, a PostgreSQL DataRow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "health/beat.h"
#include "health/probe_pg.h"
#include "util/buf.h"

static void node_init(struct node_state *n)
{
	memset(n, 0, sizeof(*n));
	atomic_init(&n->up, true);
	atomic_init(&n->lag_ms, -1);
	pthread_mutex_init(&n->mu, NULL);
}

static void test_down_after(void **state)
{
	(void)state;
	struct node_state n;
	node_init(&n);
	assert_int_equal(health_beat_result(&n, true, 1000, 3, 2), HEALTH_NO_CHANGE);
	assert_int_equal(atomic_load(&n.last_beat_ms), 1000);
	assert_int_equal(health_beat_result(&n, false, 1500, 3, 2), HEALTH_NO_CHANGE);
	assert_int_equal(health_beat_result(&n, false, 2000, 3, 2), HEALTH_NO_CHANGE);
	assert_true(atomic_load(&n.up));
	assert_int_equal(atomic_load(&n.missed), 2);
	/* a good beat in between resets the count */
	assert_int_equal(health_beat_result(&n, true, 2500, 3, 2), HEALTH_NO_CHANGE);
	assert_int_equal(atomic_load(&n.missed), 0);
	assert_int_equal(health_beat_result(&n, false, 3000, 3, 2), HEALTH_NO_CHANGE);
	assert_int_equal(health_beat_result(&n, false, 3500, 3, 2), HEALTH_NO_CHANGE);
	assert_int_equal(health_beat_result(&n, false, 4000, 3, 2), HEALTH_WENT_DOWN);
	assert_false(atomic_load(&n.up));
	/* further failures: no second transition */
	assert_int_equal(health_beat_result(&n, false, 4500, 3, 2), HEALTH_NO_CHANGE);
	assert_int_equal(atomic_load(&n.missed), 4);
	assert_int_equal(atomic_load(&n.beats_failed), 6);
	assert_int_equal(atomic_load(&n.beats_ok), 2);
	assert_int_equal(atomic_load(&n.last_beat_ms), 2500);
}

static void test_up_after(void **state)
{
	(void)state;
	struct node_state n;
	node_init(&n);
	assert_int_equal(health_beat_result(&n, false, 1, 1, 3), HEALTH_WENT_DOWN);
	assert_int_equal(health_beat_result(&n, true, 2, 1, 3), HEALTH_NO_CHANGE);
	assert_int_equal(health_beat_result(&n, true, 3, 1, 3), HEALTH_NO_CHANGE);
	/* a failure restarts the streak */
	assert_int_equal(health_beat_result(&n, false, 4, 1, 3), HEALTH_NO_CHANGE);
	assert_false(atomic_load(&n.up));
	assert_int_equal(health_beat_result(&n, true, 5, 1, 3), HEALTH_NO_CHANGE);
	assert_int_equal(health_beat_result(&n, true, 6, 1, 3), HEALTH_NO_CHANGE);
	assert_int_equal(health_beat_result(&n, true, 7, 1, 3), HEALTH_CAME_UP);
	assert_true(atomic_load(&n.up));
	assert_int_equal(atomic_load(&n.good), 0);
	/* values below 1 count as 1 */
	assert_int_equal(health_beat_result(&n, false, 8, 0, 0), HEALTH_WENT_DOWN);
	assert_int_equal(health_beat_result(&n, true, 9, 0, 0), HEALTH_CAME_UP);
}

static void test_pg_beat(void **state)
{
	(void)state;
	struct health_beat b;
	const char *why;
	const char *primary[3] = { "f", "0/3000148", "0" };
	assert_int_equal(health_pg_parse_beat(primary, &b, &why), 0);
	assert_int_equal(b.role, NODE_ROLE_PRIMARY);
	assert_true(b.has_lag);
	assert_int_equal(b.lag_ms, 0);
	assert_true(b.has_pos);
	assert_int_equal(b.pos.kind, POS_LSN);
	assert_int_equal(b.pos.lsn, 0x3000148ull);

	const char *replica[3] = { "t", "16/B374D848", "1234" };
	assert_int_equal(health_pg_parse_beat(replica, &b, &why), 0);
	assert_int_equal(b.role, NODE_ROLE_REPLICA);
	assert_int_equal(b.lag_ms, 1234);
	assert_int_equal(b.pos.lsn, (0x16ull << 32) | 0xB374D848ull);

	const char *unknown[3] = { "t", NULL, NULL };
	assert_int_equal(health_pg_parse_beat(unknown, &b, &why), 0);
	assert_int_equal(b.lag_ms, -1);
	assert_false(b.has_pos);

	const char *skew[3] = { "t", "0/1", "-20" };
	assert_int_equal(health_pg_parse_beat(skew, &b, &why), 0);
	assert_int_equal(b.lag_ms, 0);

	const char *bad[3] = { "yes", "0/1", "0" };
	assert_int_equal(health_pg_parse_beat(bad, &b, &why), -1);
	assert_non_null(why);
	const char *badlsn[3] = { "f", "zz", "0" };
	assert_int_equal(health_pg_parse_beat(badlsn, &b, &why), -1);

	assert_int_equal(health_pg_parse_position("0/10", &b, &why), 0);
	assert_true(b.has_pos);
	assert_int_equal(b.pos.lsn, 16);
	assert_int_equal(b.role, NODE_ROLE_UNKNOWN);
	assert_false(b.has_lag);
	assert_int_equal(health_pg_parse_position(NULL, &b, &why), 0);
	assert_false(b.has_pos);
}

static void test_my_beat(void **state)
{
	(void)state;
	struct health_beat b;
	const char *why;
	struct health_my_replica none = { 0 };
	assert_int_equal(health_my_parse_beat(HEALTH_MY_MARIADB, "0", "", "0-1-100", &none, &b, &why), 0);
	assert_int_equal(b.role, NODE_ROLE_PRIMARY);
	assert_int_equal(b.lag_ms, 0);
	assert_true(b.has_pos);
	assert_int_equal(b.pos.kind, POS_MARIADB_GTID);
	assert_int_equal(b.pos.n, 1);
	assert_int_equal(b.pos.u.md[0].seq, 100);

	struct health_my_replica ok = { true, "Yes", "Yes", "3" };
	assert_int_equal(health_my_parse_beat(HEALTH_MY_MARIADB, "1", "0-1-99", "0-2-5", &ok, &b, &why), 0);
	assert_int_equal(b.role, NODE_ROLE_REPLICA);
	assert_int_equal(b.lag_ms, 3000);
	assert_int_equal(b.pos.u.md[0].seq, 99); /* the replica's applied position */

	struct health_my_replica null_sbm = { true, "Yes", "Yes", NULL };
	assert_int_equal(health_my_parse_beat(HEALTH_MY_MARIADB, "1", "0-1-99", "", &null_sbm, &b, &why), 0);
	assert_int_equal(b.lag_ms, -1);

	struct health_my_replica stopped = { true, "No", "Yes", NULL };
	assert_int_equal(health_my_parse_beat(HEALTH_MY_MARIADB, "1", "0-1-99", "", &stopped, &b, &why), 0);
	assert_int_equal(b.lag_ms, HEALTH_LAG_STALLED);
	struct health_my_replica connecting = { true, "Connecting", "Yes", "0" };
	assert_int_equal(health_my_parse_beat(HEALTH_MY_MARIADB, "1", "0-1-99", "", &connecting, &b, &why), 0);
	assert_int_equal(b.lag_ms, HEALTH_LAG_STALLED);

	/* read-only without replication configured: nothing to lag behind */
	assert_int_equal(health_my_parse_beat(HEALTH_MY_MARIADB, "1", "", "", &none, &b, &why), 0);
	assert_int_equal(b.role, NODE_ROLE_REPLICA);
	assert_int_equal(b.lag_ms, 0);
	assert_true(b.has_pos);
	assert_int_equal(b.pos.n, 0);

	assert_int_equal(health_my_parse_beat(HEALTH_MY_MARIADB, NULL, "", "", &none, &b, &why), -1);
	assert_int_equal(health_my_parse_beat(HEALTH_MY_MARIADB, "0", "", "garbage", &none, &b, &why), -1);

	assert_int_equal(health_my_parse_position(HEALTH_MY_MARIADB, "0-1-7,1-2-9", &b, &why), 0);
	assert_int_equal(b.pos.n, 2);

	/* MySQL: gtid_executed with the newlines MySQL puts after commas */
	assert_int_equal(health_my_parse_position(HEALTH_MY_MYSQL,
						  "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,\n"
						  "4E11FA47-71CA-11E1-9E33-C80AA9429562:1-3",
						  &b, &why), 0);
	assert_int_equal(b.pos.kind, POS_MYSQL_GTID);
	assert_int_equal(b.pos.n, 2);
}

static void test_my_sql(void **state)
{
	(void)state;
	assert_int_equal(health_my_flavor_of("5.5.5-10.11.6-MariaDB-0+deb12u1"), HEALTH_MY_MARIADB);
	assert_int_equal(health_my_flavor_of("8.0.36"), HEALTH_MY_MYSQL);
	assert_non_null(strstr(health_my_beat_sql(HEALTH_MY_MARIADB, "10.11.6-MariaDB"), "SHOW SLAVE STATUS"));
	assert_non_null(strstr(health_my_beat_sql(HEALTH_MY_MYSQL, "8.0.36"), "SHOW REPLICA STATUS"));
	assert_non_null(strstr(health_my_beat_sql(HEALTH_MY_MYSQL, "8.0.21"), "SHOW SLAVE STATUS"));
	assert_non_null(strstr(health_my_beat_sql(HEALTH_MY_MYSQL, "5.7.44"), "SHOW SLAVE STATUS"));
	assert_string_equal(health_my_position_sql(HEALTH_MY_MARIADB, NODE_ROLE_PRIMARY), "SELECT @@gtid_binlog_pos");
	assert_string_equal(health_my_position_sql(HEALTH_MY_MARIADB, NODE_ROLE_REPLICA), "SELECT @@gtid_slave_pos");
	assert_string_equal(health_my_position_sql(HEALTH_MY_MYSQL, NODE_ROLE_REPLICA), "SELECT @@gtid_executed");
}

static void test_apply(void **state)
{
	(void)state;
	struct node_state n;
	node_init(&n);
	struct health_beat b;
	const char *why;
	const char *replica[3] = { "t", "0/20", "5" };
	assert_int_equal(health_pg_parse_beat(replica, &b, &why), 0);
	assert_true(health_apply(&n, &b, 777));
	assert_false(health_apply(&n, &b, 778)); /* same role: no change */
	assert_int_equal(atomic_load(&n.role), NODE_ROLE_REPLICA);
	assert_int_equal(atomic_load(&n.lag_ms), 5);
	assert_int_equal(n.pos.lsn, 0x20);
	assert_int_equal(n.pos_ms, 778);
	/* a position read leaves role and lag alone */
	assert_int_equal(health_pg_parse_position("0/30", &b, &why), 0);
	assert_false(health_apply(&n, &b, 800));
	assert_int_equal(atomic_load(&n.role), NODE_ROLE_REPLICA);
	assert_int_equal(atomic_load(&n.lag_ms), 5);
	assert_int_equal(n.pos.lsn, 0x30);
	health_set_error(&n, "boom");
	assert_string_equal(n.last_error, "boom");
	assert_string_equal(health_role_name(NODE_ROLE_PRIMARY), "primary");
	assert_string_equal(health_role_name(NODE_ROLE_UNKNOWN), "unknown");
}

static void put_val(struct buf *b, const char *v)
{
	if (!v) {
		buf_put_u32be(b, 0xffffffffu);
		return;
	}
	buf_put_u32be(b, (uint32_t)strlen(v));
	buf_put(b, v, strlen(v));
}

static void test_pg_data_row(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b);
	buf_put_u16be(&b, 4);
	put_val(&b, "t");
	put_val(&b, NULL);
	put_val(&b, "42");
	put_val(&b, "extra");
	char store[64];
	const char *vals[3];
	assert_int_equal(probe_pg_data_row(b.data, b.len, store, sizeof(store), vals, 3), 4);
	assert_string_equal(vals[0], "t");
	assert_null(vals[1]);
	assert_string_equal(vals[2], "42");
	/* truncated */
	assert_int_equal(probe_pg_data_row(b.data, b.len - 1, store, sizeof(store), vals, 3), -1);
	/* too big for the store */
	assert_int_equal(probe_pg_data_row(b.data, b.len, store, 3, vals, 3), -1);
	/* trailing garbage */
	buf_put_u8(&b, 0);
	assert_int_equal(probe_pg_data_row(b.data, b.len, store, sizeof(store), vals, 3), -1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_down_after),
		cmocka_unit_test(test_up_after),
		cmocka_unit_test(test_pg_beat),
		cmocka_unit_test(test_my_beat),
		cmocka_unit_test(test_my_sql),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_pg_data_row),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
