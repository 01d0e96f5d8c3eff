#!/usr/bin/env bash
# pgbench through the proxy in session mode: initialization, then 20 clients
# for 10 s (simple protocol) and 5 s (extended protocol, prepared) with zero
# failed transactions; after each run the TPC-B balances add up on the server,
# i.e. no transaction was lost, split or applied twice.
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
# pgbench keeps one extra connection open while its clients run: leave room.
write_config "$cfg" pool_mode=session pool_size=30 workers=2
start_proxy "$cfg"

PGBENCH=$PG_BIN/pgbench
bench() { PGPASSWORD=app timeout 90 "$PGBENCH" -h 127.0.0.1 -p "$PROXY_PORT" -U app "$@" app; }

rc=0
init=$(bench -i -s 2 -q 2>&1) || rc=$?
assert_eq 0 "$rc" "pgbench -i through the proxy exits 0 (output: $(tail -n 3 <<<"$init"))"
assert_eq 200000 "$(pg_direct -c 'SELECT count(*) FROM pgbench_accounts')" "pgbench_accounts has 200000 rows on the server"

# TPC-B: each transaction adds the same delta to an account, a teller and a
# branch and writes one history row; pgbench empties pgbench_history before
# each run. So after a run: history has one row per processed transaction,
# and every balance sum grew by the sum of the history deltas.
sums() {
	pg_direct -c "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers),
		(SELECT sum(bbalance) FROM pgbench_branches), (SELECT coalesce(sum(delta), 0) FROM pgbench_history),
		(SELECT count(*) FROM pgbench_history)"
}

run_and_check() { # LABEL PGBENCH-ARGS...
	local label=$1 out rc=0 n a0 t0 b0 a t b h hn
	shift
	IFS='|' read -r a0 t0 b0 _ _ <<<"$(sums)"
	out=$(bench "$@" 2>&1) || rc=$?
	assert_eq 0 "$rc" "$label: pgbench exits 0 (output: $(tail -n 5 <<<"$out"))"
	n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
	[ -n "$n" ] || fail "$label: no 'transactions actually processed' line in:"$'\n'"$out"
	[ "$n" -gt 100 ] || fail "$label: only $n transactions processed"
	_ok "$label: $n transactions processed"
	if grep -q '^number of failed transactions' <<<"$out"; then
		assert_match "$out" $'number of failed transactions: 0 ' "$label: zero failed transactions"
	fi
	assert_not_contains "$out" "error" "$label: no client errors"
	assert_not_contains "$out" "aborted" "$label: no aborted clients"
	IFS='|' read -r a t b h hn <<<"$(sums)"
	assert_eq "$n" "$hn" "$label: one history row per processed transaction"
	assert_eq "$h" "$((a - a0))" "$label: account balances grew by the sum of the deltas"
	assert_eq "$h" "$((t - t0))" "$label: teller balances grew by the sum of the deltas"
	assert_eq "$h" "$((b - b0))" "$label: branch balances grew by the sum of the deltas"
}

run_and_check "simple protocol, 20 clients, 10 s" -c 20 -j 2 -T 10
run_and_check "prepared statements, 20 clients, 5 s" -c 20 -j 2 -T 5 -M prepared

assert_ok proxy_alive
