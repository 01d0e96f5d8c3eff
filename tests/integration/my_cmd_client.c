/*
 * my_cmd_client.c — the MySQL commands other than COM_QUERY through the
 * proxy, compared with the same calls made straight to MariaDB
 * (libmariadb; built and run by tests/integration/test_my_commands.sh
 * against a proxy in pool_mode = transaction with pool_size = 2):
 *
 *   my_cmd_client HOST PROXY_PORT DIRECT_PORT USER PASSWORD DB OTHER_DB
 *
 * DB must hold table cmd_t (id, name, price) and OTHER_DB table cmd_t2
 * (x, y). Each scenario runs first on DIRECT_PORT, then on PROXY_PORT:
 * COM_SET_OPTION (multi-statements on/off, per client), COM_FIELD_LIST,
 * COM_STATISTICS, COM_PING (also while both pooled servers are held by
 * open transactions), COM_INIT_DB (per client on a shared server), an
 * unknown command byte (0x30, written raw to the socket), COM_RESET_CONNECTION
 * and COM_CHANGE_USER to the same user.
 *
 * Output: one "CHECK<TAB>LABEL<TAB>EXPECTED<TAB>ACTUAL" line per check
 * (lib.sh run_checks): "direct: ..." lines check MariaDB's own answer
 * against the known value, "proxy: ..." lines check the proxy's answer
 * against MariaDB's (or, for what only the proxy has, such as the shared
 * server, against a fixed value). Exit 0 when every check held, 1 when
 * one did not or a connection could not be made.
 */
#include <errno.h>
#include <mysql.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { DIRECT = 0, PROXY = 1 };
#define VAL 256
#define MAX_ITEMS 160

static const char *host, *user, *password, *db, *other_db;
static unsigned ports[2];
static int target; /* DIRECT or PROXY: the run in progress */
static int failures;

/* What the direct run recorded, in order; the proxy run makes the same
 * calls in the same order and is compared item by item. */
static struct {
	char label[160];
	char value[VAL];
} items[MAX_ITEMS];
static int n_items[2];

static void check(const char *label, const char *expected, const char *actual)
{
	printf("CHECK\t%s: %s\t%s\t%s\n", target == DIRECT ? "direct" : "proxy", label, expected, actual);
	fflush(stdout);
	if (strcmp(expected, actual) != 0)
		failures++;
}

/* A result that must be the same directly and through the proxy. With
 * known != NULL the direct answer is also checked against it (so that
 * the comparison means something). */
static void record(const char *label, const char *known, const char *value)
{
	int i = n_items[target]++;
	if (i >= MAX_ITEMS) {
		fprintf(stderr, "harness: too many items\n");
		exit(1);
	}
	if (target == DIRECT) {
		snprintf(items[i].label, sizeof(items[i].label), "%s", label);
		snprintf(items[i].value, sizeof(items[i].value), "%s", value);
		if (known)
			check(label, known, value);
		return;
	}
	if (i >= n_items[DIRECT] || strcmp(items[i].label, label) != 0) {
		fprintf(stderr, "harness: the proxy run recorded '%s' where the direct run had '%s'\n", label,
			i < n_items[DIRECT] ? items[i].label : "nothing");
		exit(1);
	}
	char l[200];
	snprintf(l, sizeof(l), "%s (as directly)", label);
	check(l, items[i].value, value);
}

/* A check of the proxy run only (what a direct session has no notion of). */
static void proxy_check(const char *label, const char *expected, const char *actual)
{
	if (target == PROXY)
		check(label, expected, actual);
}

static const char *fmt(char *out, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	vsnprintf(out, VAL, f, ap);
	va_end(ap);
	return out;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A session on the current target, or exit 1. flags: mysql_real_connect's
 * client_flag (0: no CLIENT_MULTI_STATEMENTS). */
static MYSQL *open_conn(const char *schema, unsigned long flags)
{
	unsigned timeout = 10;
	MYSQL *m = mysql_init(NULL);
	if (!m) {
		fprintf(stderr, "mysql_init: out of memory\n");
		exit(1);
	}
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	if (!mysql_real_connect(m, host, user, password, schema, ports[target], NULL, flags)) {
		printf("CHECK\t%s: connect\tok\tERR %u %s\n", target == DIRECT ? "direct" : "proxy", mysql_errno(m),
		       mysql_error(m));
		exit(1);
	}
	return m;
}

/* The first column of every result set of sql, joined by "|" ("NULL" for
 * NULL, "-" for a result set without rows, "ok" for a statement without
 * one), or "ERR <code>" when the first statement fails; a later failure
 * adds "|ERR <code>". Reads every result. */
static const char *results(MYSQL *m, const char *sql, char *out)
{
	if (mysql_query(m, sql))
		return fmt(out, "ERR %u", mysql_errno(m));
	out[0] = 0;
	for (;;) {
		size_t n = strlen(out);
		MYSQL_RES *r = mysql_store_result(m);
		if (r) {
			MYSQL_ROW row = mysql_fetch_row(r);
			snprintf(out + n, VAL - n, "%s", row ? (row[0] ? row[0] : "NULL") : "-");
			mysql_free_result(r);
		} else if (mysql_field_count(m) == 0) {
			snprintf(out + n, VAL - n, "ok");
		} else {
			snprintf(out + n, VAL - n, "ERR %u", mysql_errno(m));
		}
		int st = mysql_next_result(m);
		n = strlen(out);
		if (st < 0)
			break;
		if (st > 0) {
			snprintf(out + n, VAL - n, "|ERR %u", mysql_errno(m));
			break;
		}
		snprintf(out + n, VAL - n, "|");
	}
	return out;
}

static const char *rc_str(MYSQL *m, int rc, char *out)
{
	if (rc == 0)
		return "ok";
	return fmt(out, "ERR %u", mysql_errno(m));
}

/* Column names and types of COM_FIELD_LIST for table (wild may be NULL). */
static const char *field_list(MYSQL *m, const char *table, const char *wild, char *out)
{
	MYSQL_RES *r = mysql_list_fields(m, table, wild);
	if (!r)
		return fmt(out, "ERR %u", mysql_errno(m));
	out[0] = 0;
	MYSQL_FIELD *f;
	while ((f = mysql_fetch_field(r)) != NULL) {
		size_t n = strlen(out);
		snprintf(out + n, VAL - n, "%s%s:%d", n ? "," : "", f->name, (int)f->type);
	}
	mysql_free_result(r);
	return out;
}

/* Wait up to 5 s for fd to be readable and read exactly len bytes;
 * 0, or -1 on timeout / EOF / error. */
static int read_exact(int fd, unsigned char *p, size_t len)
{
	size_t got = 0;
	while (got < len) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, 5000);
		if (pr <= 0)
			return -1;
		ssize_t n = read(fd, p + got, len - got);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Send a command packet with no argument (command byte cmd, sequence 0)
 * straight on the session's socket and read the one packet that answers
 * it: "ERR <code> <sqlstate> seq <n>", "OK seq <n>" or what else came.
 * libmariadb has nothing in flight, so the session stays usable. */
static const char *raw_command(MYSQL *m, unsigned char cmd, char *out)
{
	int fd = (int)mysql_get_socket(m);
	unsigned char pkt[5] = {1, 0, 0, 0, cmd};
	if (write(fd, pkt, sizeof(pkt)) != (ssize_t)sizeof(pkt))
		return fmt(out, "write failed: %s", strerror(errno));
	unsigned char hdr[4], body[512];
	if (read_exact(fd, hdr, 4) < 0)
		return fmt(out, "no answer");
	size_t len = hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16;
	if (len == 0 || len > sizeof(body) || read_exact(fd, body, len) < 0)
		return fmt(out, "bad answer (length %zu)", len);
	if (body[0] == 0xff && len >= 9 && body[3] == '#')
		return fmt(out, "ERR %u %.5s seq %u", body[1] | (unsigned)body[2] << 8, (const char *)body + 4, hdr[3]);
	if (body[0] == 0x00)
		return fmt(out, "OK seq %u", hdr[3]);
	return fmt(out, "packet 0x%02x length %zu seq %u", body[0], len, hdr[3]);
}

/* COM_SET_OPTION: multi-statements are per session, off unless the
 * client asked for them at login or turned them on. */
static void scenario_set_option(void)
{
	char v[VAL], w[VAL];
	const char *multi = "SELECT 1; SELECT 2";
	MYSQL *a = open_conn(db, 0);
	record("A logged in without CLIENT_MULTI_STATEMENTS: a multi-statement query is a syntax error", "ERR 1064",
	       results(a, multi, v));
	record("A: the session goes on", "1", results(a, "SELECT 1", v));
	record("A: mysql_set_server_option(MULTI_STATEMENTS_ON)", "ok",
	       rc_str(a, mysql_set_server_option(a, MYSQL_OPTION_MULTI_STATEMENTS_ON), v));
	record("A after MULTI_STATEMENTS_ON: SELECT 1; SELECT 2 gives both result sets", "1|2", results(a, multi, v));

	MYSQL *b = open_conn(db, 0);
	results(a, "SELECT @@pseudo_thread_id", v);
	proxy_check("A and B share one server connection", v, results(b, "SELECT @@pseudo_thread_id", w));
	record("B (no CLIENT_MULTI_STATEMENTS, on the same server) is not affected by A's option: syntax error",
	       "ERR 1064", results(b, multi, v));
	record("B: the session goes on", "1", results(b, "SELECT 1", v));
	record("A still gets both result sets after B's attempt", "1|2", results(a, multi, v));
	record("A: mysql_set_server_option(MULTI_STATEMENTS_OFF)", "ok",
	       rc_str(a, mysql_set_server_option(a, MYSQL_OPTION_MULTI_STATEMENTS_OFF), v));
	record("A after MULTI_STATEMENTS_OFF: SELECT 1; SELECT 2 is a syntax error", "ERR 1064", results(a, multi, v));
	record("A after MULTI_STATEMENTS_OFF: the session goes on", "3", results(a, "SELECT 3", v));

	MYSQL *c = open_conn(db, CLIENT_MULTI_STATEMENTS);
	record("C logged in with CLIENT_MULTI_STATEMENTS: both result sets", "1|2", results(c, multi, v));
	record("C: mysql_set_server_option(MULTI_STATEMENTS_OFF)", "ok",
	       rc_str(c, mysql_set_server_option(c, MYSQL_OPTION_MULTI_STATEMENTS_OFF), v));
	record("C after MULTI_STATEMENTS_OFF: syntax error", "ERR 1064", results(c, multi, v));
	record("C: the session goes on", "1", results(c, "SELECT 1", v));
	mysql_close(a);
	mysql_close(b);
	mysql_close(c);
}

/* COM_FIELD_LIST, also for a client whose schema differs from the one the
 * shared server last had. */
static void scenario_field_list(void)
{
	char v[VAL];
	MYSQL *m = open_conn(db, 0);
	record("mysql_list_fields(cmd_t): names and types", "id:3,name:253,price:246", field_list(m, "cmd_t", NULL, v));
	record("mysql_list_fields(cmd_t, 'pr%')", "price:246", field_list(m, "cmd_t", "pr%", v));
	record("after COM_FIELD_LIST the session goes on", "3", results(m, "SELECT COUNT(*) FROM cmd_t", v));
	record("mysql_list_fields of a missing table", "ERR 1146", field_list(m, "cmd_no_such_table", NULL, v));
	record("after the failed COM_FIELD_LIST the session goes on", "1", results(m, "SELECT 1", v));
	mysql_close(m);
}

/* COM_STATISTICS: relayed, the server's one-line status string. */
static void scenario_statistics(void)
{
	char v[VAL];
	MYSQL *m = open_conn(db, 0);
	const char *s = mysql_stat(m);
	record("mysql_stat() answers", "yes", s ? "yes" : fmt(v, "no: ERR %u", mysql_errno(m)));
	record("mysql_stat() starts with 'Uptime: '", "yes", s && strncmp(s, "Uptime: ", 8) == 0 ? "yes" : "no");
	record("mysql_stat() has Threads: and Questions:", "yes",
	       s && strstr(s, "  Threads: ") && strstr(s, "  Questions: ") ? "yes" : "no");
	record("after COM_STATISTICS the session goes on", "1", results(m, "SELECT 1", v));
	mysql_close(m);
}

/* COM_PING: answered at once, also right after login and while every
 * pooled server is held by another client's transaction. */
static void scenario_ping(void)
{
	char v[VAL], w[VAL];
	MYSQL *p = open_conn(db, 0);
	record("mysql_ping() right after login", "ok", rc_str(p, mysql_ping(p), v));
	MYSQL *h1 = open_conn(db, 0), *h2 = open_conn(db, 0);
	record("holder 1 BEGIN", "ok", results(h1, "BEGIN", v));
	results(h1, "SELECT @@pseudo_thread_id", v);
	record("holder 2 BEGIN", "ok", results(h2, "BEGIN", w));
	proxy_check("the two open transactions hold the two pooled servers (different server connections)", "yes",
		    strcmp(v, results(h2, "SELECT @@pseudo_thread_id", w)) != 0 ? "yes" : "no");
	double t0 = now_ms();
	record("mysql_ping() while both servers are held by transactions", "ok", rc_str(p, mysql_ping(p), v));
	double ms = now_ms() - t0;
	proxy_check("that ping is answered without waiting for a server (< 1000 ms)", "yes", ms < 1000 ? "yes" : "no");
	record("holder 1 ROLLBACK", "ok", results(h1, "ROLLBACK", v));
	record("holder 2 ROLLBACK", "ok", results(h2, "ROLLBACK", v));
	record("after the pings the session goes on", "1", results(p, "SELECT 1", v));
	record("mysql_ping() after a query", "ok", rc_str(p, mysql_ping(p), v));
	mysql_close(h1);
	mysql_close(h2);
	mysql_close(p);
}

/* COM_INIT_DB: the schema is the client's own, also on a shared server. */
static void scenario_init_db(void)
{
	char v[VAL], w[VAL], l[160];
	MYSQL *a = open_conn(db, 0), *b = open_conn(db, 0);
	snprintf(l, sizeof(l), "A: mysql_select_db(%s)", other_db);
	record(l, "ok", rc_str(a, mysql_select_db(a, other_db), v));
	record("A: SELECT DATABASE() shows the new schema", other_db, results(a, "SELECT DATABASE()", v));
	record("B: SELECT DATABASE() still shows its own", db, results(b, "SELECT DATABASE()", v));
	results(a, "SELECT @@pseudo_thread_id", v);
	proxy_check("A and B share one server connection", v, results(b, "SELECT @@pseudo_thread_id", w));
	record("A: an unqualified table of the new schema (SELECT x FROM cmd_t2)", "-",
	       results(a, "SELECT x FROM cmd_t2", v));
	record("B: an unqualified table of its schema", "3", results(b, "SELECT COUNT(*) FROM cmd_t", v));
	record("A: COM_FIELD_LIST in the new schema", "x:3,y:253", field_list(a, "cmd_t2", NULL, v));
	record("B: COM_FIELD_LIST in its schema", "id:3,name:253,price:246", field_list(b, "cmd_t", NULL, v));
	record("A: mysql_select_db() of a schema app may not use", "ERR 1044",
	       rc_str(a, mysql_select_db(a, "sy_no_such_schema"), v));
	record("A: after the failed COM_INIT_DB the schema is unchanged", other_db, results(a, "SELECT DATABASE()", v));
	record("A: mysql_select_db() back to its first schema", "ok", rc_str(a, mysql_select_db(a, db), v));
	record("A: SELECT DATABASE()", db, results(a, "SELECT DATABASE()", v));
	record("A: USE of the other schema", "ok", results(a, fmt(w, "USE %s", other_db), v));
	record("B: SELECT DATABASE() after A's USE", db, results(b, "SELECT DATABASE()", v));
	record("A: SELECT DATABASE() after USE", other_db, results(a, "SELECT DATABASE()", v));
	mysql_close(a);
	mysql_close(b);
}

/* An unknown command byte: ERR 1047, and the session goes on. */
static void scenario_unknown_command(void)
{
	char v[VAL];
	MYSQL *m = open_conn(db, 0);
	record("command 0x30 (unknown) right after login", "ERR 1047 08S01 seq 1", raw_command(m, 0x30, v));
	record("after the unknown command the session goes on", "1", results(m, "SELECT 1", v));
	record("SELECT @u := 4 (a server attached, pinned through the proxy)", "4", results(m, "SELECT @u := 4", v));
	record("command 0x30 with a server attached", "ERR 1047 08S01 seq 1", raw_command(m, 0x30, v));
	record("the session goes on, the user variable kept", "4", results(m, "SELECT @u", v));
	record("mysql_ping() after the unknown commands", "ok", rc_str(m, mysql_ping(m), v));
	mysql_close(m);
}

/* COM_RESET_CONNECTION: with a server attached (a user variable pins),
 * and with none (only tracked variables). */
static void scenario_reset(void)
{
	char v[VAL];
	MYSQL *m = open_conn(db, 0);
	record("SET time_zone = '+03:00'", "ok", results(m, "SET time_zone = '+03:00'", v));
	record("SET @v = 7", "ok", results(m, "SET @v = 7", v));
	record("SELECT @v, before the reset", "7", results(m, "SELECT @v", v));
	record("mysql_reset_connection() with the user variable", "ok", rc_str(m, mysql_reset_connection(m), v));
	record("after the reset the user variable is gone", "NULL", results(m, "SELECT @v", v));
	record("after the reset time_zone is back to the default", "SYSTEM", results(m, "SELECT @@session.time_zone", v));
	record("after the reset the schema is kept", db, results(m, "SELECT DATABASE()", v));
	record("after the reset the session goes on", "3", results(m, "SELECT COUNT(*) FROM cmd_t", v));

	MYSQL *n = open_conn(db, 0);
	record("second session: SET time_zone = '+05:00'", "ok", results(n, "SET time_zone = '+05:00'", v));
	record("second session: time_zone set", "+05:00", results(n, "SELECT @@session.time_zone", v));
	record("second session (tracked variables only, no server kept): mysql_reset_connection()", "ok",
	       rc_str(n, mysql_reset_connection(n), v));
	record("second session: time_zone is back to the default", "SYSTEM",
	       results(n, "SELECT @@session.time_zone", v));
	record("second session: the session goes on", "1", results(n, "SELECT 1", v));
	mysql_close(m);
	mysql_close(n);
}

/* COM_CHANGE_USER to the same user: a fresh session. */
static void scenario_change_user(void)
{
	char v[VAL], w[VAL];
	MYSQL *m = open_conn(db, 0);
	record("SET @cu = 9", "ok", results(m, "SET @cu = 9", v));
	record("SELECT @cu", "9", results(m, "SELECT @cu", v));
	record("mysql_change_user() to the same user and schema", "ok",
	       rc_str(m, mysql_change_user(m, user, password, db), v));
	record("after the change the user variable is gone", "NULL", results(m, "SELECT @cu", v));
	record("after the change CURRENT_USER()", fmt(w, "%s@%%", user), results(m, "SELECT CURRENT_USER()", v));
	record("after the change DATABASE()", db, results(m, "SELECT DATABASE()", v));
	record("after the change the session goes on", "3", results(m, "SELECT COUNT(*) FROM cmd_t", v));
	record("mysql_ping() after the change", "ok", rc_str(m, mysql_ping(m), v));
	mysql_close(m);
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr, "usage: %s HOST PROXY_PORT DIRECT_PORT USER PASSWORD DB OTHER_DB\n", argv[0]);
		return 2;
	}
	host = argv[1];
	ports[PROXY] = (unsigned)atoi(argv[2]);
	ports[DIRECT] = (unsigned)atoi(argv[3]);
	user = argv[4];
	password = argv[5];
	db = argv[6];
	other_db = argv[7];
	for (target = DIRECT; target <= PROXY; target++) {
		scenario_set_option();
		scenario_field_list();
		scenario_statistics();
		scenario_ping();
		scenario_init_db();
		scenario_unknown_command();
		scenario_reset();
		scenario_change_user();
	}
	if (n_items[PROXY] != n_items[DIRECT]) {
		fprintf(stderr, "harness: %d items directly, %d through the proxy\n", n_items[DIRECT], n_items[PROXY]);
		return 1;
	}
	if (failures) {
		printf("%d check(s) failed\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
