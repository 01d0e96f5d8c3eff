#!/usr/bin/env bash
# test_my_pins.sh — MySQL transaction pooling on one server connection
# (pool_size = 1, workers = 1, query_wait_timeout = 1s; PyMySQL, the real
# MariaDB primary; driver: my_pin_clients.py):
#   - tracked session variables do not pin and follow each client:
#     max_statement_time, foreign_key_checks, unique_checks,
#     sql_safe_updates, wait_timeout, tx_isolation, sql_select_limit set by
#     client A are A's only (B on the same server sees the defaults, A
#     keeps its values, both keep sharing the server), and they act:
#     sql_select_limit 2 → 2 rows of 5 for A only; sql_safe_updates → 1175
#     for A only; foreign_key_checks 0, max_statement_time, READ COMMITTED
#     for A only; no pin is counted;
#   - LAST_INSERT_ID() does not pin: A and B insert in turns on the one
#     server and each reads its own id (also the first of a multi-row
#     INSERT, unchanged by an UPDATE; a new client reads 0);
#   - LOCK TABLES, GET_LOCK(), SQL_CALC_FOUND_ROWS + FOUND_ROWS(),
#     LAST_INSERT_ID(expr) pin: the server stays with A (another client gets
#     ERR 1927 after query_wait_timeout, or is served once A leaves), A's
#     state works (its lock, its count, its own LAST_INSERT_ID(77)), and the
#     next client gets the same server reset with COM_RESET_CONNECTION
#     (table and named locks gone, no user variable, LAST_INSERT_ID() 0);
#   - server_reset_query empty: a pinned server is closed when its client
#     leaves (its named lock gone), unpinned clients still share one;
#   - the pins are counted: switchyard_pins_total{protocol="mysql"},
#     /stats.json, admin SHOW STATS; and logged at debug level.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"
ASSERT_CONTINUE=1

DRV=$HERE/my_pin_clients.py
WAIT=1
cfg=$SY_TMP/sy.ini
my_write_config "$cfg" pool_mode=transaction pool_size=1 workers=1 \
	"global=admin_users = admin" "raw=[user.admin]"$'\n'"password = adminpw"
# [cluster.shop] query_wait_timeout; debug log (pins are logged at debug level)
sed -i "s/^pool_size = 1\$/pool_size = 1\nquery_wait_timeout = ${WAIT}s/; s/^log_level = info\$/log_level = debug/" "$cfg"
grep -q "^query_wait_timeout = ${WAIT}s" "$cfg" || _die "config: no query_wait_timeout"
start_proxy "$cfg"

my_direct -e "DROP TABLE IF EXISTS pins_child, pins_parent, pins_t, pins_ai;
	CREATE TABLE pins_t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB;
	INSERT INTO pins_t VALUES (1,1),(2,2),(3,3),(4,4),(5,5);
	CREATE TABLE pins_parent (id INT PRIMARY KEY) ENGINE=InnoDB;
	CREATE TABLE pins_child (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES pins_parent (id)) ENGINE=InnoDB;
	CREATE TABLE pins_ai (id INT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(10)) ENGINE=InnoDB"
on_exit my_direct -e "'DROP TABLE IF EXISTS pins_child, pins_parent, pins_t, pins_ai'"

metric_pins() {
	curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/metrics" |
		awk '$1 == "switchyard_pins_total{protocol=\"mysql\"}" { print $2 }'
}
json_pins() {
	curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/stats.json" |
		"$PY" -c 'import json,sys; print(json.load(sys.stdin)["protocols"]["mysql"]["pins_total"])'
}
admin_pins() {
	timeout 20 mariadb --no-defaults -h 127.0.0.1 -P "$PROXY_PORT" -u admin -padminpw -N -B switchyard \
		-e "SHOW STATS" | awk -F'\t' '$1 == "pins_total" { print $2 }'
}
# wait_pins N: until /metrics says N (figures are up to 1 s old)
wait_pins() {
	local i v=
	for i in $(seq 1 40); do
		v=$(metric_pins)
		[ "$v" = "$1" ] && break
		sleep 0.2
	done
	echo "$v"
}

assert_eq 0 "$(metric_pins)" "no pin counted at start"

note "tracked variables follow each client, no pin"
log_mark "tracked"
run_checks timeout 60 "$PY" "$DRV" tracked --port "$PROXY_PORT" --direct-port "$MY_PRIMARY_PORT"
sleep 1.3 # a fresh snapshot
assert_eq 0 "$(metric_pins)" "tracked variables: switchyard_pins_total{protocol=mysql} stays 0"
assert_eq 0 "$(json_pins)" "tracked variables: /stats.json mysql pins_total stays 0"
assert_not_contains "$(log_since_mark)" "pinned to its server" "tracked variables: no pin logged"
assert_contains "$(log_since_mark)" "mysql client" "the debug log is on (the pin check above means something)"
assert_ok proxy_alive

note "statements that pin"
log_mark "pins"
t0=$(date +%s)
pins_out=$(timeout 90 "$PY" "$DRV" pins --port "$PROXY_PORT" --direct-port "$MY_PRIMARY_PORT" --wait-timeout "$WAIT" 2>&1) || true
run_checks printf '%s\n' "$pins_out"
expected=$(sed -n 's/^PINS_EXPECTED \([0-9]*\)$/\1/p' <<<"$pins_out")
assert_eq 8 "$expected" "the driver made its 8 pinning sessions (4 pinners, 4 next clients reading @sy_mark)"
note "pins phase took $(($(date +%s) - t0))s"
assert_eq 8 "$(wait_pins 8)" "switchyard_pins_total{protocol=mysql} counts the 8 pinned sessions"
assert_eq 8 "$(json_pins)" "/stats.json protocols.mysql.pins_total"
assert_eq 8 "$(admin_pins)" "admin SHOW STATS pins_total"
log=$(log_since_mark)
assert_contains "$log" "pinned to its server: LOCK TABLES" "debug log: the LOCK TABLES pin"
assert_contains "$log" "pinned to its server: GET_LOCK" "debug log: the GET_LOCK pin"
assert_contains "$log" "pinned to its server: SQL_CALC_FOUND_ROWS" "debug log: the SQL_CALC_FOUND_ROWS pin"
assert_contains "$log" "pinned to its server: LAST_INSERT_ID" "debug log: the LAST_INSERT_ID pin"
assert_eq 4 "$(grep -c 'pinned to its server: user variable' <<<"$log")" "debug log: the 4 next clients pinned by reading @sy_mark"
assert_eq 4 "$(grep -c 'query_wait_timeout: no server connection became free in time' <<<"$log")" \
	"the 4 clients that waited for a pinned server were closed for query_wait_timeout"
assert_ok proxy_alive
assert_eq 1 "$(my_direct -e "SELECT IS_FREE_LOCK('sy_pin_x')")" "no named lock left on the server"

note "LAST_INSERT_ID() in prepared statements (libmariadb)"
cc -O1 -Wall -o "$SY_TMP/my_insert_id_client" "$HERE/my_insert_id_client.c" $(mariadb_config --cflags --libs) ||
	_die "could not build my_insert_id_client"
run_checks timeout 60 "$SY_TMP/my_insert_id_client" 127.0.0.1 "$PROXY_PORT" app app shop
assert_eq 8 "$(wait_pins 8)" "prepared LAST_INSERT_ID(): no pin counted"
stop_proxy 5
assert_eq 0 "$PROXY_EXIT_CODE" "the proxy exits 0 on SIGTERM"

# server_reset_query empty: nothing would clean a pinned server, so it is
# closed when its client leaves (its named lock goes with it).
note "pinned, server_reset_query empty"
cfg=$SY_TMP/noreset.ini
my_write_config "$cfg" pool_mode=transaction pool_size=1 workers=1
sed -i 's/^pool_size = 1$/pool_size = 1\nserver_reset_query =/' "$cfg"
grep -q '^server_reset_query =$' "$cfg" || _die "config: no empty server_reset_query"
start_proxy "$cfg"
tid_a=$(my_proxy -e "SELECT @@pseudo_thread_id FROM (SELECT GET_LOCK('sy_noreset', 0)) l")
assert_match "$tid_a" '^[0-9]+$' "noreset: A took a named lock on server thread $tid_a"
tid_c=$(my_proxy -e "SELECT @@pseudo_thread_id")
assert_ne "$tid_a" "$tid_c" "noreset: the next client gets another server connection (A's was closed)"
free=0
for _ in $(seq 1 20); do
	free=$(my_direct -e "SELECT IS_FREE_LOCK('sy_noreset')")
	[ "$free" = 1 ] && break
	sleep 0.1
done
assert_eq 1 "$free" "noreset: A's named lock is gone with its connection"
t1=$(my_proxy -e "SELECT @@pseudo_thread_id")
t2=$(my_proxy -e "SELECT @@pseudo_thread_id")
assert_eq "$t1" "$t2" "noreset: unpinned clients share the server connection"
assert_ok proxy_alive
stop_proxy 5
