/*
 * my_stmt_client.c — a real prepared-statement client for the MySQL
 * integration tests (libmariadb: mysql_stmt_prepare / execute / fetch,
 * send_long_data, a read-only cursor). Built by the test under its temp
 * folder:  cc -o my_stmt_client my_stmt_client.c $(mariadb_config --cflags --libs) -lpthread
 *
 *   my_stmt_client HOST PORT USER PASSWORD DB CLIENTS ITERATIONS
 *
 * Each client thread opens its own connection, prepares statements and
 * executes them ITERATIONS times, checking every result. Prints
 * "ok CLIENTS ITERATIONS" and exits 0 when every check passed; else one
 * line per failure on stderr and exit 1.
 */
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *host, *user, *pass, *db;
static unsigned port;
static int iterations;
static int failures;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

#define FAIL(...)                                         \
	do {                                              \
		pthread_mutex_lock(&mu);                  \
		failures++;                               \
		fprintf(stderr, __VA_ARGS__);             \
		fputc('\n', stderr);                      \
		pthread_mutex_unlock(&mu);                \
		goto out;                                 \
	} while (0)

static void *client(void *arg)
{
	int id = (int)(long)arg;
	MYSQL *m = mysql_init(NULL);
	MYSQL_STMT *sel = NULL, *ins = NULL, *cur = NULL;
	if (!mysql_real_connect(m, host, user, pass, db, port, NULL, 0))
		FAIL("client %d: connect: %s", id, mysql_error(m));
	sel = mysql_stmt_init(m);
	const char *q = "SELECT ? + 1, CONCAT('v', ?), ?";
	if (mysql_stmt_prepare(sel, q, strlen(q)))
		FAIL("client %d: prepare: %s", id, mysql_stmt_error(sel));
	if (mysql_stmt_param_count(sel) != 3)
		FAIL("client %d: param count %lu", id, mysql_stmt_param_count(sel));
	ins = mysql_stmt_init(m);
	const char *qi = "INSERT INTO pstest (client, n, payload) VALUES (?, ?, ?)";
	if (mysql_stmt_prepare(ins, qi, strlen(qi)))
		FAIL("client %d: prepare insert: %s", id, mysql_stmt_error(ins));
	for (int i = 0; i < iterations; i++) {
		long long a = (long long)id * 100000 + i;
		char sbuf[32];
		snprintf(sbuf, sizeof(sbuf), "%d-%d", id, i);
		unsigned long slen = strlen(sbuf);
		MYSQL_BIND p[3];
		memset(p, 0, sizeof(p));
		p[0].buffer_type = MYSQL_TYPE_LONGLONG;
		p[0].buffer = &a;
		p[1].buffer_type = MYSQL_TYPE_STRING;
		p[1].buffer = sbuf;
		p[1].buffer_length = slen;
		p[1].length = &slen;
		char nul = 1;
		p[2].buffer_type = MYSQL_TYPE_NULL;
		p[2].is_null = &nul;
		/* Bind once, then re-execute without re-binding: libmariadb then
		 * sends no types (new_params_bound = 0). */
		if (i == 0 || i % 7 == 0)
			if (mysql_stmt_bind_param(sel, p))
				FAIL("client %d: bind: %s", id, mysql_stmt_error(sel));
		if (mysql_stmt_execute(sel))
			FAIL("client %d: execute %d: %s", id, i, mysql_stmt_error(sel));
		long long r0 = 0;
		char r1[64] = "";
		unsigned long r1len = 0;
		char r2null = 0;
		char r2[8];
		MYSQL_BIND r[3];
		memset(r, 0, sizeof(r));
		r[0].buffer_type = MYSQL_TYPE_LONGLONG;
		r[0].buffer = &r0;
		r[1].buffer_type = MYSQL_TYPE_STRING;
		r[1].buffer = r1;
		r[1].buffer_length = sizeof(r1) - 1;
		r[1].length = &r1len;
		r[2].buffer_type = MYSQL_TYPE_STRING;
		r[2].buffer = r2;
		r[2].buffer_length = sizeof(r2);
		r[2].is_null = &r2null;
		if (mysql_stmt_bind_result(sel, r) || mysql_stmt_fetch(sel))
			FAIL("client %d: fetch %d: %s", id, i, mysql_stmt_error(sel));
		r1[r1len] = '\0';
		char want[40];
		snprintf(want, sizeof(want), "v%s", sbuf);
		if (r0 != a + 1 || strcmp(r1, want) != 0 || !r2null)
			FAIL("client %d: iteration %d: got %lld '%s' null=%d, want %lld '%s' null", id, i, r0, r1,
			     r2null, a + 1, want);
		if (mysql_stmt_fetch(sel) != MYSQL_NO_DATA)
			FAIL("client %d: more than one row", id);
		mysql_stmt_free_result(sel);

		if (i % 10 == 0) {
			/* long data: the payload is sent in pieces before EXECUTE */
			int cl = id, n = i;
			MYSQL_BIND b[3];
			memset(b, 0, sizeof(b));
			b[0].buffer_type = MYSQL_TYPE_LONG;
			b[0].buffer = &cl;
			b[1].buffer_type = MYSQL_TYPE_LONG;
			b[1].buffer = &n;
			b[2].buffer_type = MYSQL_TYPE_BLOB;
			if (mysql_stmt_bind_param(ins, b))
				FAIL("client %d: bind insert: %s", id, mysql_stmt_error(ins));
			for (int k = 0; k < 3; k++)
				if (mysql_stmt_send_long_data(ins, 2, "abcdefghij", 10))
					FAIL("client %d: send_long_data: %s", id, mysql_stmt_error(ins));
			if (mysql_stmt_execute(ins))
				FAIL("client %d: execute insert: %s", id, mysql_stmt_error(ins));
			if (mysql_stmt_affected_rows(ins) != 1)
				FAIL("client %d: insert affected %llu", id, (unsigned long long)mysql_stmt_affected_rows(ins));
		}
	}
	/* A cursor: rows come with COM_STMT_FETCH, 2 at a time. */
	cur = mysql_stmt_init(m);
	unsigned long type = CURSOR_TYPE_READ_ONLY, prefetch = 2;
	mysql_stmt_attr_set(cur, STMT_ATTR_CURSOR_TYPE, &type);
	mysql_stmt_attr_set(cur, STMT_ATTR_PREFETCH_ROWS, &prefetch);
	const char *qc = "SELECT n, LENGTH(payload) FROM pstest WHERE client = ? ORDER BY n";
	int cl = id;
	MYSQL_BIND cp[1];
	memset(cp, 0, sizeof(cp));
	cp[0].buffer_type = MYSQL_TYPE_LONG;
	cp[0].buffer = &cl;
	if (mysql_stmt_prepare(cur, qc, strlen(qc)) || mysql_stmt_bind_param(cur, cp) || mysql_stmt_execute(cur))
		FAIL("client %d: cursor: %s", id, mysql_stmt_error(cur));
	int n = 0;
	long long len = 0;
	MYSQL_BIND cr[2];
	memset(cr, 0, sizeof(cr));
	cr[0].buffer_type = MYSQL_TYPE_LONG;
	cr[0].buffer = &n;
	cr[1].buffer_type = MYSQL_TYPE_LONGLONG;
	cr[1].buffer = &len;
	if (mysql_stmt_bind_result(cur, cr))
		FAIL("client %d: cursor bind: %s", id, mysql_stmt_error(cur));
	int rows = 0, rc;
	while ((rc = mysql_stmt_fetch(cur)) == 0) {
		if (n != rows * 10 || len != 30)
			FAIL("client %d: cursor row %d: n=%d len=%lld", id, rows, n, len);
		rows++;
	}
	if (rc != MYSQL_NO_DATA)
		FAIL("client %d: cursor fetch: %s", id, mysql_stmt_error(cur));
	if (rows != (iterations + 9) / 10)
		FAIL("client %d: cursor gave %d rows, want %d", id, rows, (iterations + 9) / 10);
out:
	if (sel)
		mysql_stmt_close(sel);
	if (ins)
		mysql_stmt_close(ins);
	if (cur)
		mysql_stmt_close(cur);
	mysql_close(m);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DB CLIENTS ITERATIONS\n", argv[0]);
		return 2;
	}
	host = argv[1];
	port = (unsigned)atoi(argv[2]);
	user = argv[3];
	pass = argv[4];
	db = argv[5];
	int clients = atoi(argv[6]);
	iterations = atoi(argv[7]);
	mysql_library_init(0, NULL, NULL);
	pthread_t *t = calloc((size_t)clients, sizeof(*t));
	for (int i = 0; i < clients; i++)
		pthread_create(&t[i], NULL, client, (void *)(long)(i + 1));
	for (int i = 0; i < clients; i++)
		pthread_join(t[i], NULL);
	free(t);
	mysql_library_end();
	if (failures)
		return 1;
	printf("ok %d %d\n", clients, iterations);
	return 0;
}
