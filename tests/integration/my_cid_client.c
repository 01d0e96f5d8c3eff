/*
 * my_cid_client.c — CONNECTION_ID() in server-side prepared statements
 * through the proxy, for tests/integration/test_my_connection_id.sh
 * (libmariadb). Built by the test under its temp folder:
 *   cc -o my_cid_client my_cid_client.c $(mariadb_config --cflags --libs) -lpthread
 *
 *   my_cid_client HOST PORT USER PASSWORD DB
 *
 * Four connections (more than the test's pool) each prepare the same
 * "SELECT CONNECTION_ID()" and execute it in turn, so that the statement
 * is prepared again on whichever server connection a client gets: each
 * must read its own handshake id (mysql_thread_id()), under the column
 * name CONNECTION_ID(). Then "SELECT CONNECTION_ID() = ?", and a KILL
 * QUERY of the id read that way, sent by a second connection, ending the
 * first one's prepared SELECT SLEEP(30) with ERR 1317 while a third
 * connection's prepared SELECT SLEEP(3) finishes. Prints one "key value"
 * line per check for the test to match; exits 0 unless the client itself
 * could not run.
 */
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_CONN 4

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static MYSQL_STMT *prepare(MYSQL *m, const char *q)
{
	MYSQL_STMT *st = mysql_stmt_init(m);
	if (!st || mysql_stmt_prepare(st, q, strlen(q))) {
		fprintf(stderr, "prepare %s: %s\n", q, st ? mysql_stmt_error(st) : mysql_error(m));
		exit(1);
	}
	return st;
}

/* Execute st (parameters already bound) and read one BIGINT; -1 on error. */
static long long run_one(MYSQL_STMT *st)
{
	long long v = -1;
	char is_null = 0;
	MYSQL_BIND r;
	memset(&r, 0, sizeof(r));
	r.buffer_type = MYSQL_TYPE_LONGLONG;
	r.buffer = &v;
	r.is_null = &is_null;
	if (mysql_stmt_execute(st) || mysql_stmt_bind_result(st, &r) || mysql_stmt_fetch(st) != 0)
		return -1;
	mysql_stmt_free_result(st);
	return is_null ? -1 : v;
}

struct sleeper {
	MYSQL *m;
	MYSQL_STMT *st;
	unsigned err;
	long long value;
	double end;
};

static void *sleep_thread(void *arg)
{
	struct sleeper *s = arg;
	s->value = run_one(s->st);
	/* An error in the rows (after the metadata) is the connection's. */
	s->err = mysql_stmt_errno(s->st) ? mysql_stmt_errno(s->st) : mysql_errno(s->m);
	s->end = now_s();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DB\n", argv[0]);
		return 2;
	}
	MYSQL *m[N_CONN];
	MYSQL_STMT *sel[N_CONN];
	for (int i = 0; i < N_CONN; i++) {
		m[i] = mysql_init(NULL);
		if (!mysql_real_connect(m[i], argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]), NULL, 0)) {
			fprintf(stderr, "connect: %s\n", mysql_error(m[i]));
			return 1;
		}
		sel[i] = prepare(m[i], "SELECT CONNECTION_ID()");
	}

	/* Own id, every time, on whichever server runs it. */
	int bad = 0;
	long long id0 = -1;
	for (int round = 0; round < 5; round++)
		for (int i = 0; i < N_CONN; i++) {
			long long v = run_one(sel[i]);
			if (v != (long long)mysql_thread_id(m[i])) {
				fprintf(stderr, "conn %d round %d: CONNECTION_ID() %lld, thread id %lu\n", i, round, v,
					mysql_thread_id(m[i]));
				bad++;
			}
			if (i == 0)
				id0 = v;
		}
	printf("ps own id %s\n", bad ? "wrong" : "ok");
	MYSQL_RES *meta = mysql_stmt_result_metadata(sel[0]);
	printf("ps column %s\n", meta && mysql_num_fields(meta) == 1 ? mysql_fetch_fields(meta)[0].name : "?");
	if (meta)
		mysql_free_result(meta);

	/* An expression with a parameter. */
	MYSQL_STMT *eq = prepare(m[1], "SELECT CONNECTION_ID() = ?");
	long long arg = (long long)mysql_thread_id(m[1]);
	MYSQL_BIND p;
	memset(&p, 0, sizeof(p));
	p.buffer_type = MYSQL_TYPE_LONGLONG;
	p.buffer = &arg;
	mysql_stmt_bind_param(eq, &p);
	long long same = run_one(eq);
	arg++;
	long long other = run_one(eq);
	printf("ps expression %lld %lld\n", same, other);

	/* KILL QUERY <the id CONNECTION_ID() gave> from another connection. */
	struct sleeper a = { m[0], prepare(m[0], "SELECT SLEEP(30)"), 0, 0, 0 };
	struct sleeper c = { m[2], prepare(m[2], "SELECT SLEEP(3)"), 0, 0, 0 };
	pthread_t ta, tc;
	double t0 = now_s();
	pthread_create(&ta, NULL, sleep_thread, &a);
	pthread_create(&tc, NULL, sleep_thread, &c);
	struct timespec pause = { 0, 700 * 1000 * 1000 };
	nanosleep(&pause, NULL);
	char q[64];
	snprintf(q, sizeof(q), "KILL QUERY %lld", id0);
	double tk = now_s();
	int krc = mysql_query(m[1], q);
	printf("ps kill sent %s\n", krc ? mysql_error(m[1]) : "ok");
	pthread_join(ta, NULL);
	printf("ps kill code %u\n", a.err);
	printf("ps kill fast %d\n", a.end - tk < 1.0);
	pthread_join(tc, NULL);
	printf("ps other sleep %u %lld %d\n", c.err, c.value, c.end - t0 > 2.5);
	printf("ps after kill %s\n", run_one(sel[0]) == id0 ? "ok" : "wrong");

	mysql_stmt_close(a.st);
	mysql_stmt_close(c.st);
	mysql_stmt_close(eq);
	for (int i = 0; i < N_CONN; i++) {
		mysql_stmt_close(sel[i]);
		mysql_close(m[i]);
	}
	return 0;
}
