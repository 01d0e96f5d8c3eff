/*
 * my_change_user_client.c — mysql_change_user() through the proxy, for
 * tests/integration/test_my_change_user.sh (libmariadb). Built by the
 * test:  cc -o my_change_user_client my_change_user_client.c $(mariadb_config --cflags --libs)
 *
 *   my_change_user_client HOST PORT
 *
 * Logs in as app/app (schema shop), sets a user variable and the time
 * zone, then changes to monitor/monitor (no schema), to app again with
 * schema shop2, and finally to app with a wrong password. Prints one
 * "name value" line per check.
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static MYSQL *m;

/* The first column of the first row, or "ERR <code>". */
static const char *one(const char *sql)
{
	static char out[256];
	if (mysql_query(m, sql)) {
		snprintf(out, sizeof(out), "ERR %u", mysql_errno(m));
		return out;
	}
	MYSQL_RES *r = mysql_store_result(m);
	if (!r) {
		snprintf(out, sizeof(out), "%s", mysql_errno(m) ? "ERR" : "(none)");
		return out;
	}
	MYSQL_ROW row = mysql_fetch_row(r);
	snprintf(out, sizeof(out), "%s", row && row[0] ? row[0] : "NULL");
	mysql_free_result(r);
	return out;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	unsigned port = (unsigned)atoi(argv[2]);
	m = mysql_init(NULL);
	if (!mysql_real_connect(m, argv[1], "app", "app", "shop", port, NULL, 0)) {
		printf("connect ERR %u %s\n", mysql_errno(m), mysql_error(m));
		return 1;
	}
	printf("user0 %s\n", one("SELECT CURRENT_USER()"));
	printf("set %s\n", one("SELECT @x := 5"));
	printf("var0 %s\n", one("SELECT @x"));
	mysql_query(m, "SET time_zone = '+03:00'");
	printf("tz0 %s\n", one("SELECT @@session.time_zone"));
	printf("tmp0 %s\n", mysql_query(m, "CREATE TEMPORARY TABLE cu_tmp (a INT)") ? "ERR" : "ok");

	int rc = mysql_change_user(m, "monitor", "monitor", NULL);
	printf("change1 %s\n", rc ? mysql_error(m) : "ok");
	printf("user1 %s\n", one("SELECT CURRENT_USER()"));
	printf("var1 %s\n", one("SELECT @x"));
	printf("tz1 %s\n", one("SELECT @@session.time_zone"));
	printf("tmp1 %s\n", one("SELECT COUNT(*) FROM shop.cu_tmp"));
	printf("db1 %s\n", one("SELECT DATABASE()"));

	rc = mysql_change_user(m, "app", "app", "shop2");
	printf("change2 %s\n", rc ? mysql_error(m) : "ok");
	printf("user2 %s\n", one("SELECT CURRENT_USER()"));
	printf("db2 %s\n", one("SELECT DATABASE()"));
	for (int i = 0; i < 20; i++) /* several servers in transaction pooling */
		if (strcmp(one("SELECT 1"), "1") != 0)
			printf("query2 failed %d\n", i);
	printf("query2 done\n");

	rc = mysql_change_user(m, "app", "wrong", "shop");
	printf("change3 %u\n", rc ? mysql_errno(m) : 0);
	printf("after3 %s\n", one("SELECT 1"));
	mysql_close(m);
	return 0;
}
