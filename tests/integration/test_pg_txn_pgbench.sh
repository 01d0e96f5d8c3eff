#!/usr/bin/env bash
# pgbench in transaction pooling: 50 clients over pool_size = 5 (2 workers)
# with -M simple, -M extended and -M prepared (named statements that each
# client prepares once and that travel across the 5 servers). Every run: exit
# 0, zero failed transactions, the TPC-B sums agree on the server
# (accounts = branches = tellers, and their growth = the run's history deltas,
# one history row per transaction), and the server never saw more than 5
# connections of user app (pg_stat_activity polled every 10 ms as monitor).
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=5 workers=2 cluster.query_wait_timeout=60s
start_proxy "$cfg"

PGBENCH=$PG_BIN/pgbench
bench_direct() { PGPASSWORD=app timeout 90 "$PGBENCH" -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U app "$@" app; }
bench() { PGPASSWORD=app timeout 90 "$PGBENCH" -h 127.0.0.1 -p "$PROXY_PORT" -U app "$@" app; }

rc=0
init=$(bench_direct -i -s 2 -q 2>&1) || rc=$?
assert_eq 0 "$rc" "pgbench -i -s 2 directly on the server exits 0 (output: $(tail -n 3 <<<"$init"))"
assert_eq 200000 "$(pg_direct -c 'SELECT count(*) FROM pgbench_accounts')" "pgbench_accounts has 200000 rows"

# Connections left by the initialization (or an earlier test) go away first.
for i in $(seq 1 50); do
	before=$(pg_server_conns app)
	[ "$before" = 0 ] && break
	sleep 0.2
done
assert_eq 0 "$before" "no connections of app on the server before the runs"

sums() {
	pg_direct -c "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers),
		(SELECT sum(bbalance) FROM pgbench_branches), (SELECT coalesce(sum(delta), 0) FROM pgbench_history),
		(SELECT count(*) FROM pgbench_history)"
}

MON_PID=
start_monitor() { # FILE — returns once the monitor took its first sample (or gave up)
	rm -f "$1" "$1.ready"
	"$PY" "$HERE/txn_clients.py" monitor --port "$PG_PRIMARY_PORT" --user app --out "$1" &
	MON_PID=$!
	on_exit "kill $MON_PID"
	local i
	for i in $(seq 1 300); do
		[ -e "$1.ready" ] || [ -e "$1" ] || ! kill -0 "$MON_PID" 2>/dev/null && break
		sleep 0.1
	done
}
stop_monitor() { # FILE -> prints the JSON
	kill -TERM "$MON_PID" 2>/dev/null || true
	wait "$MON_PID" 2>/dev/null || true
	cat "$1" 2>/dev/null || echo '{"max": -1, "samples": 0, "error": "no monitor output"}'
}

run_and_check() { # LABEL PGBENCH-ARGS...
	local label=$1 out rc=0 n a0 t0 b0 a t b h hn mon max samples
	shift
	IFS='|' read -r a0 t0 b0 _ _ <<<"$(sums)"
	start_monitor "$SY_TMP/mon.json"
	out=$(bench "$@" 2>&1) || rc=$?
	mon=$(stop_monitor "$SY_TMP/mon.json")
	echo "$out" | tail -n 12
	echo "monitor: $mon"
	assert_eq 0 "$rc" "$label: pgbench exits 0 (output: $(tail -n 5 <<<"$out"))"
	n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
	[ -n "$n" ] || fail "$label: no 'transactions actually processed' line"
	[ "${n:-0}" -gt 200 ] || fail "$label: only ${n:-0} transactions processed"
	_ok "$label: $n transactions processed"
	assert_match "$out" $'number of failed transactions: 0 ' "$label: zero failed transactions"
	assert_not_contains "$out" "error" "$label: no client errors"
	assert_not_contains "$out" "aborted" "$label: no aborted clients"
	IFS='|' read -r a t b h hn <<<"$(sums)"
	assert_eq "$n" "$hn" "$label: one history row per processed transaction"
	assert_eq "$a" "$t" "$label: sum(abalance) = sum(tbalance)"
	assert_eq "$a" "$b" "$label: sum(abalance) = sum(bbalance)"
	assert_eq "$h" "$((a - a0))" "$label: account balances grew by the sum of the history deltas"
	assert_eq "$h" "$((t - t0))" "$label: teller balances grew by the sum of the history deltas"
	assert_eq "$h" "$((b - b0))" "$label: branch balances grew by the sum of the history deltas"
	max=$(json_get "$mon" max)
	samples=$(json_get "$mon" samples)
	assert_eq None "$(json_get "$mon" error)" "$label: the monitor worked"
	[ "$samples" -ge 50 ] || fail "$label: only $samples pg_stat_activity samples"
	[ "$max" -ge 1 ] || fail "$label: the monitor never saw a connection of app"
	[ "$max" -le 5 ] || fail "$label: the server saw $max connections of app; pool_size is 5"
	_ok "$label: at most $max server connections of app (limit 5) in $samples samples"
}

run_and_check "-M simple, 50 clients, 8 s" -c 50 -j 2 -T 8 -M simple
run_and_check "-M extended, 50 clients, 8 s" -c 50 -j 2 -T 8 -M extended
run_and_check "-M prepared, 50 clients, 8 s" -c 50 -j 2 -T 8 -M prepared

# Balances as a whole: all started at 0, so the three sums are equal.
IFS='|' read -r a t b _ _ <<<"$(sums)"
[ "$a" != 0 ] || fail "no balance changed at all"
assert_ok proxy_alive
