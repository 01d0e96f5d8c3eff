#!/usr/bin/env bash
# Session state in transaction pooling over one server (pool_size = 1,
# workers = 1, query_wait_timeout = 1s):
#  - client A's SET TimeZone (a tracked parameter) follows A and only A: B,
#    on the same server, sees its own zone (and its own ParameterStatus); A
#    still sees Tokyo on later transactions;
#  - A's SET search_path (untracked) pins the server: B waiting for it gets
#    the query_wait_timeout error; a client waiting when A disconnects gets
#    through, on a reset server (default search_path and TimeZone);
#  - the same with SET statement_timeout, which keeps working for its client;
#  - pin_policy = error: those SETs get SQLSTATE 0A000, the session goes on,
#    tracked SETs and SET LOCAL still work, and nobody is pinned.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

run_checks() { # CMD... — a txn_clients.py subcommand; its CHECK lines become assertions
	local out rc=0 tag label exp act n=0
	out=$("$@" 2>&1) || rc=$?
	grep -v $'^CHECK\t' <<<"$out" || true
	while IFS=$'\t' read -r tag label exp act; do
		[ "$tag" = CHECK ] || continue
		n=$((n + 1))
		assert_eq "$exp" "$act" "$label"
	done <<<"$out"
	assert_eq 0 "$rc" "the driver exits 0"
	[ "$n" -gt 0 ] || fail "the driver made no checks"
}

pg_direct -q -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS txn_ss CASCADE; CREATE SCHEMA txn_ss;
	CREATE TABLE txn_ss.marker (v text); INSERT INTO txn_ss.marker VALUES ('from txn_ss')" >/dev/null

note "pin_policy = pin"
cfg=$SY_TMP/pin.ini
write_config "$cfg" pool_mode=transaction pool_size=1 workers=1 cluster.query_wait_timeout=1s
start_proxy "$cfg"
run_checks timeout 60 "$PY" "$HERE/txn_clients.py" session --port "$PROXY_PORT" --direct-port "$PG_PRIMARY_PORT" --phase pin
assert_ok proxy_alive
stop_proxy 5

note "pin_policy = error"
cfg=$SY_TMP/error.ini
write_config "$cfg" pool_mode=transaction pool_size=1 workers=1 cluster.query_wait_timeout=1s cluster.pin_policy=error
start_proxy "$cfg"
run_checks timeout 60 "$PY" "$HERE/txn_clients.py" session --port "$PROXY_PORT" --direct-port "$PG_PRIMARY_PORT" --phase error
# And with psql: the error carries SQLSTATE 0A000, the next statement runs.
out=$(pg_proxy -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -c "SET work_mem = '8MB'" -c "SHOW work_mem" -c "SELECT 'still here'" 2>&1) || true
assert_match "$out" "ERROR: +0A000" "psql: SET work_mem is refused with 0A000"
assert_contains "$out" "still here" "psql: the session goes on"
assert_eq "$(pg_direct -c 'SHOW work_mem')" "$(pg_proxy -c 'SHOW work_mem')" "work_mem is untouched"
assert_ok proxy_alive
