/*
 * my_insert_id_client.c — LAST_INSERT_ID() in prepared statements through
 * the proxy, with libmariadb (test_my_pins.sh builds and runs it against a
 * proxy with pool_size = 1, so both sessions share one server connection):
 *
 *   my_insert_id_client HOST PORT USER PASSWORD DB
 *
 * Sessions A and B insert in turns into pins_ai (text protocol, then a
 * prepared INSERT) and each runs a prepared SELECT LAST_INSERT_ID(): each
 * must read its own id. Prints one "CHECK<TAB>LABEL<TAB>EXPECTED<TAB>ACTUAL" line (lib.sh run_checks) per
 * comparison, then "ok" and exit 0, or exit 1 after the first error.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(const char *label, unsigned long long expected, unsigned long long actual)
{
	printf("CHECK\t%s\t%llu\t%llu\n", label, expected, actual);
	if (expected != actual)
		failures++;
}

static MYSQL *connect_or_die(const char **argv)
{
	MYSQL *m = mysql_init(NULL);
	if (!m || !mysql_real_connect(m, argv[1], argv[3], argv[4], argv[5], (unsigned)atoi(argv[2]), NULL, 0)) {
		fprintf(stderr, "connect: %s\n", m ? mysql_error(m) : "out of memory");
		exit(1);
	}
	return m;
}

static unsigned long long query_insert(MYSQL *m, const char *sql)
{
	if (mysql_query(m, sql)) {
		fprintf(stderr, "%s: %s\n", sql, mysql_error(m));
		exit(1);
	}
	return mysql_insert_id(m);
}

static unsigned long long query_number(MYSQL *m, const char *sql)
{
	if (mysql_query(m, sql)) {
		fprintf(stderr, "%s: %s\n", sql, mysql_error(m));
		exit(1);
	}
	MYSQL_RES *res = mysql_store_result(m);
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	unsigned long long v = row && row[0] ? strtoull(row[0], NULL, 10) : 0;
	mysql_free_result(res);
	return v;
}

static MYSQL_STMT *prepare_or_die(MYSQL *m, const char *sql)
{
	MYSQL_STMT *st = mysql_stmt_init(m);
	if (!st || mysql_stmt_prepare(st, sql, strlen(sql))) {
		fprintf(stderr, "prepare %s: %s\n", sql, st ? mysql_stmt_error(st) : "out of memory");
		exit(1);
	}
	return st;
}

/* Execute a prepared one-column SELECT; its value. */
static unsigned long long stmt_number(MYSQL_STMT *st)
{
	unsigned long long v = 0;
	MYSQL_BIND out;
	memset(&out, 0, sizeof(out));
	out.buffer_type = MYSQL_TYPE_LONGLONG;
	out.buffer = &v;
	out.is_unsigned = 1;
	if (mysql_stmt_execute(st) || mysql_stmt_bind_result(st, &out) || mysql_stmt_fetch(st) != 0) {
		fprintf(stderr, "execute: %s\n", mysql_stmt_error(st));
		exit(1);
	}
	while (mysql_stmt_fetch(st) == 0)
		;
	mysql_stmt_free_result(st);
	return v;
}

/* Execute a prepared INSERT with one string parameter; the id it got. */
static unsigned long long stmt_insert(MYSQL_STMT *st, const char *who)
{
	unsigned long len = strlen(who);
	MYSQL_BIND in;
	memset(&in, 0, sizeof(in));
	in.buffer_type = MYSQL_TYPE_STRING;
	in.buffer = (void *)who;
	in.buffer_length = len;
	in.length = &len;
	if (mysql_stmt_bind_param(st, &in) || mysql_stmt_execute(st)) {
		fprintf(stderr, "insert: %s\n", mysql_stmt_error(st));
		exit(1);
	}
	return mysql_stmt_insert_id(st);
}

int main(int argc, const char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DB\n", argv[0]);
		return 2;
	}
	MYSQL *a = connect_or_die(argv), *b = connect_or_die(argv);
	check("A and B share one server connection", query_number(a, "SELECT @@pseudo_thread_id"),
	      query_number(b, "SELECT @@pseudo_thread_id"));
	MYSQL_STMT *a_last = prepare_or_die(a, "SELECT LAST_INSERT_ID()");
	MYSQL_STMT *b_last = prepare_or_die(b, "SELECT LAST_INSERT_ID()");
	MYSQL_STMT *a_ins = prepare_or_die(a, "INSERT INTO pins_ai (who) VALUES (?)");

	unsigned long long id_a = query_insert(a, "INSERT INTO pins_ai (who) VALUES ('ps-a')");
	unsigned long long id_b = query_insert(b, "INSERT INTO pins_ai (who) VALUES ('ps-b')");
	check("A's prepared LAST_INSERT_ID() after B's insert: A's id", id_a, stmt_number(a_last));
	check("B's prepared LAST_INSERT_ID(): B's id", id_b, stmt_number(b_last));

	unsigned long long id_a2 = stmt_insert(a_ins, "ps-a2");
	query_insert(b, "INSERT INTO pins_ai (who) VALUES ('ps-b2')");
	check("after A's prepared INSERT and B's insert: A's new id", id_a2, stmt_number(a_last));
	check("A's text LAST_INSERT_ID() agrees", id_a2, query_number(a, "SELECT LAST_INSERT_ID()"));
	check("still one server connection (nobody pinned)", query_number(a, "SELECT @@pseudo_thread_id"),
	      query_number(b, "SELECT @@pseudo_thread_id"));

	mysql_stmt_close(a_last);
	mysql_stmt_close(b_last);
	mysql_stmt_close(a_ins);
	mysql_close(a);
	mysql_close(b);
	if (failures)
		return 1;
	printf("ok\n");
	return 0;
}
