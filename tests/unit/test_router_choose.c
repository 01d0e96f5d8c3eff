/*
 * test_router_choose.c — router/choose.c (which replica serves a read:
 * exclusions and their reason, stickiness, and each load_balance mode's
 * distribution over many calls) and router/consistency.c (a client's
 * read-your-writes / monotonic-read state and the shared, locked table of
 * it, with expiry and concurrent use).
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

#include "router/choose.h"
#include "router/consistency.h"

static struct position lsn_at(uint64_t v)
{
	struct position p;
	memset(&p, 0, sizeof(p));
	p.kind = POS_LSN;
	p.lsn = v;
	return p;
}

static struct route_candidate up(int weight, int conns)
{
	return (struct route_candidate){ .up = true, .lag_ms = 0, .weight = weight, .connections = conns };
}

/* ---- exclusions ---- */

static void test_exclusions(void **state)
{
	(void)state;
	unsigned rr = 0;
	enum route_exclusion why = ROUTE_EXCL_NONE;

	assert_int_equal(route_choose_replica(NULL, 0, CFG_LB_ROUND_ROBIN, 0, NULL, -1, &rr, &why), -1);
	assert_int_equal(why, ROUTE_EXCL_NO_REPLICAS);

	struct route_candidate c[3] = { up(1, 0), up(1, 0), up(1, 0) };
	for (int i = 0; i < 3; i++)
		c[i].up = false;
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_LEAST_CONN, 1000, NULL, -1, &rr, &why), -1);
	assert_int_equal(why, ROUTE_EXCL_DOWN);

	/* the up ones lag */
	c[1].up = true;
	c[1].lag_ms = 5000;
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_LEAST_CONN, 1000, NULL, -1, &rr, &why), -1);
	assert_int_equal(why, ROUTE_EXCL_LAG);
	/* at the limit is within it */
	c[1].lag_ms = 1000;
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_LEAST_CONN, 1000, NULL, -1, &rr, &why), 1);
	assert_int_equal(why, ROUTE_EXCL_NONE);
	/* max_lag_ms 0: no limit */
	c[1].lag_ms = 999999;
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_LEAST_CONN, 0, NULL, -1, &rr, &why), 1);
	/* unknown lag is not within a limit (a replica that has replayed
	 * nothing since it started may be arbitrarily behind) ... */
	c[1].lag_ms = -1;
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_LEAST_CONN, 1000, NULL, -1, &rr, &why), -1);
	assert_int_equal(why, ROUTE_EXCL_LAG);
	/* ... but there is nothing to exceed without one */
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_LEAST_CONN, 0, NULL, -1, &rr, &why), 1);
	c[1].lag_ms = 1000;

	/* behind: the up, in-lag one has not replayed `need` */
	struct position need = lsn_at(100), at90 = lsn_at(90), at100 = lsn_at(100), at200 = lsn_at(200);
	c[1].pos = &at90;
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 1000, &need, -1, &rr, &why), -1);
	assert_int_equal(why, ROUTE_EXCL_BEHIND);
	/* position unknown with a need: excluded */
	c[1].pos = NULL;
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 1000, &need, -1, &rr, &why), -1);
	assert_int_equal(why, ROUTE_EXCL_BEHIND);
	/* ... but fine without one, or with a POS_NONE one */
	struct position none = { 0 };
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 1000, NULL, -1, &rr, &why), 1);
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 1000, &none, -1, &rr, &why), 1);
	c[1].pos = &at100;
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 1000, &need, -1, &rr, &why), 1);
	/* a different kind of position never covers */
	struct position gtid = { .kind = POS_MARIADB_GTID };
	c[1].pos = &gtid;
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 1000, &need, -1, &rr, &why), -1);
	assert_int_equal(why, ROUTE_EXCL_BEHIND);

	/* mixed: one down, one lagging, one behind: the first reason that
	 * leaves nobody is BEHIND (someone was up and in lag) */
	c[0].up = false;
	c[1].pos = &at90;
	c[2].up = true;
	c[2].lag_ms = 5000;
	c[2].pos = &at200;
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_LEAST_CONN, 1000, &need, -1, &rr, &why), -1);
	assert_int_equal(why, ROUTE_EXCL_BEHIND);
	c[2].lag_ms = 10;
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_LEAST_CONN, 1000, &need, -1, &rr, &why), 2);

	/* weighted: weight 0 takes no reads; none with weight: no replicas */
	struct route_candidate w[2] = { up(0, 0), up(0, 0) };
	assert_int_equal(route_choose_replica(w, 2, CFG_LB_WEIGHTED, 0, NULL, -1, &rr, &why), -1);
	assert_int_equal(why, ROUTE_EXCL_NO_REPLICAS);
	/* ... but the other modes ignore weights */
	assert_true(route_choose_replica(w, 2, CFG_LB_ROUND_ROBIN, 0, NULL, -1, &rr, &why) >= 0);
	w[1].weight = 1;
	w[1].up = false;
	assert_int_equal(route_choose_replica(w, 2, CFG_LB_WEIGHTED, 0, NULL, -1, &rr, &why), -1);
	assert_int_equal(why, ROUTE_EXCL_DOWN);

	/* rr and why may be NULL */
	struct route_candidate one = up(1, 0);
	assert_int_equal(route_choose_replica(&one, 1, CFG_LB_ROUND_ROBIN, 0, NULL, -1, NULL, NULL), 0);
	assert_int_equal(route_choose_replica(&one, 1, CFG_LB_LEAST_CONN, 0, NULL, -1, NULL, NULL), 0);
	one.up = false;
	assert_int_equal(route_choose_replica(&one, 1, CFG_LB_WEIGHTED, 0, NULL, -1, NULL, NULL), -1);
}

/* ---- stickiness ---- */

static void test_sticky(void **state)
{
	(void)state;
	struct route_candidate c[3] = { up(1, 0), up(1, 0), up(1, 0) };
	unsigned rr = 0;
	enum route_exclusion why;
	static const enum cfg_load_balance modes[] = { CFG_LB_LEAST_CONN, CFG_LB_ROUND_ROBIN, CFG_LB_WEIGHTED };
	for (size_t m = 0; m < 3; m++) {
		for (int i = 0; i < 10; i++)
			assert_int_equal(route_choose_replica(c, 3, modes[m], 1000, NULL, 2, &rr, &why), 2);
	}
	/* stickiness does not move the cursor or the weights */
	assert_int_equal(rr, 0);
	assert_int_equal(c[2].current_weight, 0);
	/* sticky but no longer usable: another one */
	c[2].up = false;
	int got = route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 1000, NULL, 2, &rr, &why);
	assert_true(got == 0 || got == 1);
	c[2].up = true;
	c[2].lag_ms = 2000;
	got = route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 1000, NULL, 2, &rr, &why);
	assert_true(got == 0 || got == 1);
	c[2].lag_ms = 0;
	struct position need = lsn_at(50), at10 = lsn_at(10), at60 = lsn_at(60);
	c[0].pos = &at60;
	c[1].pos = &at60;
	c[2].pos = &at10;
	got = route_choose_replica(c, 3, CFG_LB_LEAST_CONN, 1000, &need, 2, &rr, &why);
	assert_true(got == 0 || got == 1);
	c[2].pos = &at60;
	assert_int_equal(route_choose_replica(c, 3, CFG_LB_LEAST_CONN, 1000, &need, 2, &rr, &why), 2);
	/* out of range or -1: ignored */
	assert_true(route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 1000, NULL, 3, &rr, &why) >= 0);
	assert_true(route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 1000, NULL, 99, &rr, &why) >= 0);
	assert_true(route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 1000, NULL, -1, &rr, &why) >= 0);
	/* weighted: a sticky replica of weight 0 takes no reads */
	c[2].weight = 0;
	for (int i = 0; i < 10; i++)
		assert_int_not_equal(route_choose_replica(c, 3, CFG_LB_WEIGHTED, 1000, NULL, 2, &rr, &why), 2);
}

/* ---- distributions ---- */

static void test_round_robin(void **state)
{
	(void)state;
	struct route_candidate c[3] = { up(1, 0), up(1, 0), up(1, 0) };
	unsigned rr = 0;
	int count[3] = { 0 };
	for (int i = 0; i < 300; i++) {
		int got = route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 0, NULL, -1, &rr, NULL);
		assert_int_equal(got, i % 3); /* in order */
		count[got]++;
	}
	assert_int_equal(count[0], 100);
	assert_int_equal(count[1], 100);
	assert_int_equal(count[2], 100);

	/* one down: the others alternate */
	c[1].up = false;
	memset(count, 0, sizeof(count));
	int prev = -1;
	for (int i = 0; i < 300; i++) {
		int got = route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 0, NULL, -1, &rr, NULL);
		assert_int_not_equal(got, prev);
		prev = got;
		count[got]++;
	}
	assert_int_equal(count[0], 150);
	assert_int_equal(count[1], 0);
	assert_int_equal(count[2], 150);
	/* a cursor beyond n wraps */
	c[1].up = true;
	rr = 3000000001u;
	int got = route_choose_replica(c, 3, CFG_LB_ROUND_ROBIN, 0, NULL, -1, &rr, NULL);
	assert_int_equal(got, (int)(3000000001u % 3));
}

static void test_least_connections(void **state)
{
	(void)state;
	struct route_candidate c[4] = { up(1, 5), up(1, 2), up(1, 7), up(1, 2) };
	unsigned rr = 0;
	int count[4] = { 0 };
	for (int i = 0; i < 1000; i++)
		count[route_choose_replica(c, 4, CFG_LB_LEAST_CONN, 0, NULL, -1, &rr, NULL)]++;
	/* only the two with the fewest, taking turns */
	assert_int_equal(count[0], 0);
	assert_int_equal(count[2], 0);
	assert_int_equal(count[1], 500);
	assert_int_equal(count[3], 500);

	/* connections follow the choice, as the pool would report them:
	 * the load evens out */
	memset(count, 0, sizeof(count));
	for (int i = 0; i < 100; i++) {
		int got = route_choose_replica(c, 4, CFG_LB_LEAST_CONN, 0, NULL, -1, &rr, NULL);
		c[got].connections++;
		count[got]++;
	}
	int lo = c[0].connections, hi = c[0].connections;
	for (int i = 1; i < 4; i++) {
		lo = c[i].connections < lo ? c[i].connections : lo;
		hi = c[i].connections > hi ? c[i].connections : hi;
	}
	assert_true(hi - lo <= 1);
	assert_int_equal(count[0] + count[1] + count[2] + count[3], 100);

	/* all equal: every replica in turn */
	struct route_candidate e[3] = { up(1, 0), up(1, 0), up(1, 0) };
	rr = 0;
	for (int i = 0; i < 30; i++)
		assert_int_equal(route_choose_replica(e, 3, CFG_LB_LEAST_CONN, 0, NULL, -1, &rr, NULL), i % 3);
	/* the fewest is down: the next fewest */
	c[1].connections = 0;
	c[1].up = false;
	int got = route_choose_replica(c, 4, CFG_LB_LEAST_CONN, 0, NULL, -1, &rr, NULL);
	assert_int_not_equal(got, 1);
}

static void test_weighted(void **state)
{
	(void)state;
	struct route_candidate c[3] = { up(5, 0), up(1, 0), up(1, 0) };
	unsigned rr = 0;
	int count[3] = { 0 };
	/* nginx's sequence for 5,1,1: a a b a c a a — smooth, not bursty */
	static const int first7[7] = { 0, 0, 1, 0, 2, 0, 0 };
	for (int i = 0; i < 7; i++)
		assert_int_equal(route_choose_replica(c, 3, CFG_LB_WEIGHTED, 0, NULL, -1, &rr, NULL), first7[i]);
	for (int i = 0; i < 700; i++)
		count[route_choose_replica(c, 3, CFG_LB_WEIGHTED, 0, NULL, -1, &rr, NULL)]++;
	assert_int_equal(count[0], 500);
	assert_int_equal(count[1], 100);
	assert_int_equal(count[2], 100);

	/* weight 0 gets nothing; a down replica's share goes to the others */
	struct route_candidate d[4] = { up(3, 0), up(0, 0), up(1, 0), up(2, 0) };
	d[3].up = false;
	int dc[4] = { 0 };
	for (int i = 0; i < 400; i++)
		dc[route_choose_replica(d, 4, CFG_LB_WEIGHTED, 0, NULL, -1, &rr, NULL)]++;
	assert_int_equal(dc[0], 300);
	assert_int_equal(dc[1], 0);
	assert_int_equal(dc[2], 100);
	assert_int_equal(dc[3], 0);
	/* back up: 3:1:2 */
	d[3].up = true;
	for (int i = 0; i < 4; i++)
		d[i].current_weight = 0;
	memset(dc, 0, sizeof(dc));
	for (int i = 0; i < 600; i++)
		dc[route_choose_replica(d, 4, CFG_LB_WEIGHTED, 0, NULL, -1, &rr, NULL)]++;
	assert_int_equal(dc[0], 300);
	assert_int_equal(dc[2], 100);
	assert_int_equal(dc[3], 200);
	/* behind replicas are skipped in weighted mode too */
	struct position need = lsn_at(10), old = lsn_at(5), cur = lsn_at(10);
	d[0].pos = &old;
	d[2].pos = &cur;
	d[3].pos = &cur;
	memset(dc, 0, sizeof(dc));
	for (int i = 0; i < 300; i++)
		dc[route_choose_replica(d, 4, CFG_LB_WEIGHTED, 0, &need, -1, &rr, NULL)]++;
	assert_int_equal(dc[0], 0);
	assert_int_equal(dc[2], 100);
	assert_int_equal(dc[3], 200);
}

/* ---- consistency state ---- */

static void test_consistency(void **state)
{
	(void)state;
	struct consistency s;
	memset(&s, 0x5a, sizeof(s));
	consistency_init(&s);
	assert_int_equal(s.last_write_ms, 0);
	assert_int_equal(s.written.kind, POS_NONE);
	assert_int_equal(s.seen.kind, POS_NONE);
	assert_int_equal(s.sticky_node, -1);

	struct position a = lsn_at(100), b = lsn_at(50), c = lsn_at(300);
	consistency_wrote(&s, &a, 1000);
	assert_int_equal(s.last_write_ms, 1000);
	assert_int_equal(s.touched_ms, 1000);
	assert_int_equal(s.written.kind, POS_LSN);
	assert_true(s.written.lsn == 100);
	consistency_wrote(&s, &b, 1100); /* a position never goes back */
	assert_true(s.written.lsn == 100);
	consistency_wrote(&s, &c, 1200);
	assert_true(s.written.lsn == 300);
	/* a write whose position is unknown: the old one no longer says enough */
	consistency_wrote(&s, NULL, 1300);
	assert_int_equal(s.written.kind, POS_NONE);
	assert_int_equal(s.last_write_ms, 1300);
	struct position none = { 0 };
	consistency_wrote(&s, &a, 1400);
	consistency_wrote(&s, &none, 1500);
	assert_int_equal(s.written.kind, POS_NONE);

	consistency_read(&s, 2, &a, 2000);
	assert_int_equal(s.sticky_node, 2);
	assert_int_equal(s.touched_ms, 2000);
	assert_true(s.seen.lsn == 100);
	consistency_read(&s, 1, &b, 2100);
	assert_int_equal(s.sticky_node, 1);
	assert_true(s.seen.lsn == 100); /* monotonic: the latest seen stays */
	consistency_read(&s, 0, NULL, 2200);
	assert_true(s.seen.lsn == 100);
	assert_int_equal(s.last_write_ms, 1500);

	/* GTIDs: what was seen from two domains is kept together */
	struct consistency g;
	consistency_init(&g);
	struct position d0 = { .kind = POS_MARIADB_GTID, .n = 1 }, d1 = { .kind = POS_MARIADB_GTID, .n = 1 };
	d0.u.md[0] = (struct pos_mariadb){ 0, 1, 10 };
	d1.u.md[0] = (struct pos_mariadb){ 1, 1, 20 };
	consistency_wrote(&g, &d0, 1);
	consistency_wrote(&g, &d1, 2);
	assert_int_equal(g.written.n, 2);
	assert_true(pos_covers(&g.written, &d0) && pos_covers(&g.written, &d1));
}

static void test_cstore(void **state)
{
	(void)state;
	struct cstore *st = cstore_new();
	assert_non_null(st);
	assert_int_equal(cstore_size(st), 0);

	struct consistency out;
	memset(&out, 0x5a, sizeof(out));
	cstore_get(st, "user:app", &out);
	assert_int_equal(out.sticky_node, -1);
	assert_int_equal(out.written.kind, POS_NONE);
	assert_int_equal(cstore_size(st), 0); /* get does not create */

	/* keys are copied */
	char key[32];
	strcpy(key, "user:app");
	struct position a = lsn_at(100), b = lsn_at(200);
	cstore_wrote(st, key, &a, 1000);
	strcpy(key, "user:zzz");
	cstore_get(st, "user:app", &out);
	assert_int_equal(out.last_write_ms, 1000);
	assert_true(out.written.lsn == 100);
	cstore_get(st, "user:zzz", &out);
	assert_int_equal(out.last_write_ms, 0);

	cstore_read(st, "user:app", 1, &b, 1500);
	cstore_read(st, "addr:10.0.0.7", 0, &a, 1600);
	cstore_wrote(st, "key:checkout", &b, 1700);
	assert_int_equal(cstore_size(st), 3);
	cstore_get(st, "user:app", &out);
	assert_int_equal(out.sticky_node, 1);
	assert_true(out.seen.lsn == 200);
	assert_int_equal(out.touched_ms, 1500);

	/* expiry: idle longer than ttl */
	assert_int_equal(cstore_expire(st, 2000, 1000), 0);
	assert_int_equal(cstore_expire(st, 2550, 1000), 1); /* user:app touched 1500 */
	assert_int_equal(cstore_size(st), 2);
	cstore_get(st, "user:app", &out);
	assert_int_equal(out.sticky_node, -1);
	assert_int_equal(cstore_expire(st, 10000, 1000), 2);
	assert_int_equal(cstore_size(st), 0);

	/* many keys, then most of them expire */
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		cstore_wrote(st, key, &a, i);
	}
	assert_int_equal(cstore_size(st), 1000);
	assert_int_equal(cstore_expire(st, 1000, 100), 900); /* 900..999 stay */
	assert_int_equal(cstore_size(st), 100);
	cstore_get(st, "key:950", &out);
	assert_int_equal(out.last_write_ms, 950);
	cstore_free(st); /* frees the remaining entries */
	cstore_free(NULL);
}

struct cs_arg {
	struct cstore *st;
	int id;
};

static void *cs_worker(void *p)
{
	struct cs_arg *a = p;
	char key[32];
	for (int i = 1; i <= 5000; i++) {
		struct position pos = lsn_at((uint64_t)i * 4 + (uint64_t)a->id);
		cstore_wrote(a->st, "user:shared", &pos, i);
		snprintf(key, sizeof(key), "addr:%d:%d", a->id, i % 50);
		cstore_read(a->st, key, a->id, &pos, i);
		struct consistency out;
		cstore_get(a->st, "user:shared", &out);
		if (out.written.kind != POS_LSN)
			abort();
		if (i % 1000 == 0)
			(void)cstore_expire(a->st, i, 1000000);
	}
	return NULL;
}

static void test_cstore_threads(void **state)
{
	(void)state;
	struct cstore *st = cstore_new();
	assert_non_null(st);
	enum { THREADS = 4 };
	pthread_t th[THREADS];
	struct cs_arg args[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct cs_arg){ st, i };
		assert_int_equal(pthread_create(&th[i], NULL, cs_worker, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	struct consistency out;
	cstore_get(st, "user:shared", &out);
	assert_true(out.written.lsn == 5000 * 4 + 3); /* the highest of all threads */
	assert_int_equal(cstore_size(st), 1 + THREADS * 50);
	cstore_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exclusions),   cmocka_unit_test(test_sticky),
		cmocka_unit_test(test_round_robin),  cmocka_unit_test(test_least_connections),
		cmocka_unit_test(test_weighted),     cmocka_unit_test(test_consistency),
		cmocka_unit_test(test_cstore),       cmocka_unit_test(test_cstore_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
