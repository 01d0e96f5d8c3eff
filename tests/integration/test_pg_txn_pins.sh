#!/usr/bin/env bash
# Pins and prepared statements in transaction pooling over one server
# (pool_size = 1, workers = 1, query_wait_timeout = 1s):
#  - LISTEN, SQL PREPARE, CREATE TEMP TABLE, pg_advisory_lock and DECLARE …
#    WITH HOLD each pin the server to their client: another client waiting
#    gets the query_wait_timeout error; the pinner keeps its backend and its
#    state (a NOTIFY from a direct connection reaches the listener through
#    the proxy; EXECUTE, the temp table, the lock, FETCH after COMMIT work);
#    when it leaves, the next client gets the same backend, reset
#    (server_reset_query): no channel, statement, temp table, lock, cursor;
#    switchyard_pins_total counts the five pins;
#  - pin_policy = error: each of those gets 0A000, the session goes on,
#    nothing is left on the server, nobody is pinned, no pin is counted;
#  - max_prepared_statements = 3: 8 distinct named statements (psycopg 3,
#    prepare_threshold = 0, and a raw-protocol client) in a mixed order:
#    every result right, pg_prepared_statements never above 3;
#  - DEALLOCATE ALL / DISCARD ALL from client A forget A's statements only:
#    B's (one with the same text as A's) still run, A's give 26000; a
#    DISCARD ALL the server refuses (inside BEGIN, 25001) forgets nothing;
#  - server_reset_query empty: a pinned server (an advisory lock) is closed
#    when its client leaves, not handed on; unpinned clients still share.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

pins_total() {
	curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/metrics" |
		awk '$1 == "switchyard_pins_total{protocol=\"postgres\"}" { print $2 }'
}

DRV=$HERE/pg_pin_clients.py
COMMON=(pool_mode=transaction pool_size=1 workers=1 cluster.query_wait_timeout=1s)

note "pin_policy = pin"
cfg=$SY_TMP/pin.ini
write_config "$cfg" "${COMMON[@]}"
start_proxy "$cfg"
p0=$(pins_total)
assert_eq 0 "$p0" "no pins counted at start"
run_checks timeout 60 "$PY" "$DRV" pins --port "$PROXY_PORT" --direct-port "$PG_PRIMARY_PORT" --phase pin
assert_eq 5 "$(pins_total)" "switchyard_pins_total counts the five pinning clients"
assert_ok proxy_alive
stop_proxy 5

note "pin_policy = error"
cfg=$SY_TMP/error.ini
write_config "$cfg" "${COMMON[@]}" cluster.pin_policy=error
start_proxy "$cfg"
run_checks timeout 60 "$PY" "$DRV" pins --port "$PROXY_PORT" --direct-port "$PG_PRIMARY_PORT" --phase error
# psql: the error carries SQLSTATE 0A000, the next statement runs.
out=$(pg_proxy -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -c "LISTEN pin_chan" -c "SELECT 'still here'" 2>&1) || true
assert_match "$out" "ERROR: +0A000" "psql: LISTEN is refused with 0A000"
assert_contains "$out" "still here" "psql: the session goes on"
assert_eq 0 "$(pins_total)" "no pin counted under pin_policy = error"
assert_ok proxy_alive
stop_proxy 5

# With no server_reset_query nothing could clean a pinned server: it is
# closed when its client leaves, never handed on with the client's state.
note "pinned, server_reset_query empty"
cfg=$SY_TMP/noreset.ini
write_config "$cfg" "${COMMON[@]}" "cluster.server_reset_query="
grep -q '^server_reset_query = *$' "$cfg" || _die "config: no empty server_reset_query"
start_proxy "$cfg"
pid_a=$(pg_proxy -c "SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock(4242)) l")
assert_match "$pid_a" '^[0-9]+$' "noreset: A took advisory lock 4242 on backend $pid_a"
pid_c=$(pg_proxy -c "SELECT pg_backend_pid()")
assert_ne "$pid_a" "$pid_c" "noreset: the next client gets another backend (A's was closed)"
got=f
for _ in $(seq 1 20); do
	got=$(pg_direct -c "SELECT pg_try_advisory_lock(4242)")
	[ "$got" = t ] && break
	sleep 0.1
done
assert_eq t "$got" "noreset: A's advisory lock is gone with its backend"
assert_eq 0 "$(pg_monitor -c "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid_a")" "noreset: A's backend has exited"
# Unpinned clients still share one backend (nothing to reset).
p1=$(pg_proxy -c "SELECT pg_backend_pid()")
p2=$(pg_proxy -c "SELECT pg_backend_pid()")
assert_eq "$p1" "$p2" "noreset: unpinned clients share the backend"
assert_ok proxy_alive
stop_proxy 5

note "max_prepared_statements = 3"
cfg=$SY_TMP/prepared.ini
write_config "$cfg" "${COMMON[@]}" cluster.max_prepared_statements=3
start_proxy "$cfg"
run_checks timeout 60 "$PY" "$DRV" prepared --port "$PROXY_PORT"
assert_ok proxy_alive

note "DEALLOCATE ALL / DISCARD ALL act on the client's own statements"
run_checks timeout 60 "$PY" "$DRV" dealloc --port "$PROXY_PORT"
assert_ok proxy_alive
stop_proxy 5
assert_eq 0 "$PROXY_EXIT_CODE" "the proxy exits 0 on SIGTERM"
