#!/usr/bin/env bash
# Cancel in transaction pooling (pool_size = 4, 2 workers, so a cancel
# request may land on either worker): a client's `SELECT pg_sleep(30)` is
# cancelled with the proxy-issued key (psycopg2's conn.cancel(), and psql on
# SIGINT) and returns SQLSTATE 57014 within 2 s, while another client's query
# on another server runs to its end; a cancel for a client running nothing
# touches nobody; sessions stay usable.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=4 workers=2
start_proxy "$cfg"

note "psycopg2 conn.cancel(), 3 rounds"
run_checks timeout 60 "$PY" "$HERE/txn_clients.py" cancel --port "$PROXY_PORT" --direct-port "$PG_PRIMARY_PORT" --rounds 3

note "psql, SIGINT"
for round in 1 2; do
	other_out=$SY_TMP/other.$round
	pg_proxy -c "SELECT 'other-done' FROM pg_sleep(3)" >"$other_out" 2>&1 &
	other=$!
	sleep 0.2
	victim_out=$SY_TMP/victim.$round
	PGPASSWORD=app psql -X -A -t -v VERBOSITY=verbose -h 127.0.0.1 -p "$PROXY_PORT" -U app -d app \
		-c "SELECT pg_sleep(30) /* txn_cancel_psql */" >"$victim_out" 2>&1 &
	victim=$!
	for i in $(seq 1 50); do
		n=$(pg_monitor -c "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%txn_cancel_psql */'")
		[ "$n" = 1 ] && break
		sleep 0.1
	done
	assert_eq 1 "$n" "round $round: psql's pg_sleep(30) runs on the server"
	t0=$(date +%s%N)
	kill -INT "$victim"
	rc=0
	wait "$victim" || rc=$?
	dt=$((($(date +%s%N) - t0) / 1000000))
	cat "$victim_out"
	assert_ne 0 "$rc" "round $round: psql exits non-zero"
	assert_contains "$(cat "$victim_out")" "57014" "round $round: psql reports SQLSTATE 57014"
	[ "$dt" -lt 2000 ] || fail "round $round: psql ended ${dt} ms after SIGINT"
	_ok "round $round: psql ended ${dt} ms after SIGINT"
	rc=0
	wait "$other" || rc=$?
	assert_eq 0 "$rc" "round $round: the concurrent client's query succeeded"
	assert_eq "other-done" "$(cat "$other_out")" "round $round: and returned its row"
done
assert_eq 0 "$(pg_monitor -c "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()")" \
	"no pg_sleep(30) is left running on the server"
assert_ok proxy_alive
