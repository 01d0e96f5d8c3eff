#!/usr/bin/env bash
# test_my_sysbench.sh — sysbench oltp_read_write through switchyard's MySQL
# front end in transaction pooling, 32 threads over pool_size = 8: with
# server-side prepared statements (--db-ps-mode=auto, re-prepared on every
# server a client lands on) and without (--db-ps-mode=disable). Zero
# errors other than the deadlocks sysbench itself retries, and as many
# server connections as the pool allows.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

app_conns() { my_monitor -e "SELECT COUNT(*) FROM information_schema.processlist WHERE user = 'app'"; }
base=$(app_conns)
my_write_config "$SY_TMP/sy.ini" pool_mode=transaction pool_size=8
start_proxy "$SY_TMP/sy.ini"
SB=(sysbench --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$PROXY_PORT" --mysql-user=app
	--mysql-password=app --mysql-db=shop --tables=2 --table-size=2000)
"${SB[@]}" oltp_read_write cleanup >/dev/null 2>&1 || true
out=$("${SB[@]}" oltp_read_write prepare 2>&1) || fail "sysbench prepare failed: $out"
assert_contains "$out" "Creating a secondary index on 'sbtest2'" "prepare through the proxy"
for ps in auto disable; do
	out=$(timeout 120 "${SB[@]}" --threads=32 --time=8 --db-ps-mode=$ps oltp_read_write run 2>&1) || fail "sysbench run ($ps) failed: $(echo "$out" | tail -20)"
	echo "$out" | grep -E "transactions:|queries:|ignored errors:|reconnects:"
	assert_not_contains "$out" "FATAL" "ps-mode=$ps: no fatal error"
	tx=$(echo "$out" | awk '/transactions:/ { print $2 }')
	[ "${tx:-0}" -gt 100 ] && _ok "ps-mode=$ps: $tx transactions" || fail "ps-mode=$ps: only ${tx:-0} transactions"
	assert_match "$out" "reconnects: +0 " "ps-mode=$ps: no reconnects"
done
conns=$(($(app_conns) - base))
[ "$conns" -le 8 ] && _ok "$conns server connections for 32 clients (pool_size 8)" || fail "$conns server connections, pool_size is 8"
"${SB[@]}" oltp_read_write cleanup >/dev/null 2>&1 || true
assert_eq "1" "$(my_proxy -e 'SELECT 1')" "still serving"
