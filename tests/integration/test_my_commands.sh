#!/usr/bin/env bash
# test_my_commands.sh — the MySQL commands besides COM_QUERY through the
# proxy (pool_mode = transaction, pool_size = 2, workers = 1; the real
# MariaDB primary), each compared with the same libmariadb calls made
# straight to MariaDB (driver: my_cmd_client.c, built here):
#   - COM_SET_OPTION: multi-statements off for a client that did not ask for
#     them (ERR 1064), on after MULTI_STATEMENTS_ON (both result sets), off
#     again after MULTI_STATEMENTS_OFF (1064, the session goes on); a second
#     client on the same server connection keeps its own setting;
#   - COM_FIELD_LIST: the same column names and types (also with a
#     wildcard, a missing table, and per client schema on a shared server);
#   - COM_STATISTICS: the server's "Uptime: … Threads: … Questions: …";
#   - CLIENT_FOUND_ROWS (my_found_rows.py, PyMySQL): UPDATE counts as
#     MariaDB gives them, with and without the flag, in multi-statements;
#   - COM_PING: right after login, and at once while both pooled servers
#     are held by open transactions;
#   - COM_INIT_DB / USE: per client on a shared server (DATABASE(),
#     unqualified tables, COM_FIELD_LIST), a refused schema (1044) changes
#     nothing;
#   - an unknown command byte (0x30): ERR 1047 (08S01), without and with a
#     server attached, and the session goes on;
#   - COM_RESET_CONNECTION with a server attached (user variable gone) and
#     without (tracked time_zone back to the default);
#   - COM_CHANGE_USER to the same user: user variable gone, same user and
#     schema, the session goes on (more in test_my_change_user.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"
ASSERT_CONTINUE=1

command -v mariadb_config >/dev/null || _die "mariadb_config not found: install libmariadb-dev"
cc -O1 -Wall -o "$SY_TMP/my_cmd_client" "$HERE/my_cmd_client.c" $(mariadb_config --cflags --libs) ||
	_die "could not build my_cmd_client"

# shop2: a second schema app may use (as test_my_change_user.sh makes it).
my_monitor -e "CREATE DATABASE IF NOT EXISTS shop2; GRANT ALL PRIVILEGES ON shop2.* TO 'app'@'%'"
my_direct -e "DROP TABLE IF EXISTS cmd_t, shop2.cmd_t2;
	CREATE TABLE cmd_t (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, price DECIMAL(8,2)) ENGINE=InnoDB;
	INSERT INTO cmd_t VALUES (1,'a',1.50),(2,'b',2.50),(3,'c',3.50);
	CREATE TABLE shop2.cmd_t2 (x INT, y VARCHAR(5)) ENGINE=InnoDB"
on_exit my_direct -e "'DROP TABLE IF EXISTS cmd_t, shop2.cmd_t2'"

WAIT=3
cfg=$SY_TMP/sy.ini
my_write_config "$cfg" pool_mode=transaction pool_size=2 workers=1
# [cluster.shop] query_wait_timeout: a command that wrongly waits for a
# server (a ping while both are held) fails in WAIT s instead of hanging.
sed -i "s/^pool_size = 2\$/pool_size = 2\nquery_wait_timeout = ${WAIT}s/" "$cfg"
grep -q "^query_wait_timeout = ${WAIT}s" "$cfg" || _die "config: no query_wait_timeout"
start_proxy "$cfg"

note "libmariadb: direct, then through the proxy"
t0=$(date +%s)
run_checks timeout 60 "$SY_TMP/my_cmd_client" 127.0.0.1 "$PROXY_PORT" "$MY_PRIMARY_PORT" app app shop shop2
note "driver took $(($(date +%s) - t0))s"

note "CLIENT_FOUND_ROWS (PyMySQL), clients with and without it on one server"
run_checks timeout 60 "$PY" "$HERE/my_found_rows.py" "$PROXY_PORT" "$MY_PRIMARY_PORT"

assert_ok proxy_alive
assert_eq "" "$(grep -E '^[0-9TZ:.-]+ (warning|error) ' "$PROXY_LOG" || true)" "no warning or error in proxy.log"
stop_proxy 5
assert_eq 0 "$PROXY_EXIT_CODE" "the proxy exits 0 on SIGTERM"
