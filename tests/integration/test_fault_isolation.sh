#!/usr/bin/env bash
# Data isolation under load: 60 clients share 4 server connections in
# transaction pooling, each running 60 rounds of single statements,
# transactions with transaction-local state (set_config(..., true)) and
# 50-row results, every result tagged with a client-unique value; every row
# of every result is checked against what that client asked for. Then the
# same while the primary is restarted half-way: clients may get errors, but
# never another client's row.
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=2 workers=2 cluster.query_wait_timeout=30s
start_proxy "$cfg"
on_exit "'$FLEET_SH' restart-pg-primary '$FLEET_DIR'"
assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "warm-up query"

res=$(timeout 150 "$PY" "$HERE/fault_clients.py" isolation "$PROXY_PORT" 60 60)
note "$res"
assert_eq 0 "$(json_get "$res" errors)" "no client got an error"
assert_eq 3600 "$(json_get "$res" results_checked)" "3600 results were checked"
assert_eq 0 "$(json_get "$res" mismatches)" "every row belonged to the client that asked"
max=$(pg_server_conns)
[ "$max" -le 4 ] && _ok "the server has at most 4 connections of app after the run ($max)" || fail "$max server connections"

note "again, restarting the primary during the run"
timeout 150 "$PY" "$HERE/fault_clients.py" isolation "$PROXY_PORT" 40 60 >"$SY_TMP/iso2.out" 2>&1 &
iso=$!
sleep 2
"$FLEET_SH" kill-pg-primary "$FLEET_DIR" >/dev/null
sleep 1
"$FLEET_SH" restart-pg-primary "$FLEET_DIR" >/dev/null
wait "$iso" || true
res2=$(cat "$SY_TMP/iso2.out")
note "$res2"
assert_eq 0 "$(json_get "$res2" mismatches)" "no client saw another client's row across the restart"
assert_ok proxy_alive
assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "clients work after the restart"
