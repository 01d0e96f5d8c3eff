#!/usr/bin/env bash
# Server faults cost only the clients on that server:
#  - the PostgreSQL primary is SIGKILLed while one client is half-way through
#    a 2 GB result and another is inside a transaction: both end promptly
#    (an error or a close, never a hang), the uncommitted row is gone, and a
#    client of another cluster (on the replica) is served throughout; after
#    the restart new clients work;
#  - a "server" that accepts TCP and never answers: server_connect_timeout
#    (2 s) fires, the client gets an error, other clusters are unaffected;
#  - afterwards the proxy's fds return near the baseline.
. "$(dirname "$0")/lib.sh"

"$PY" "$HERE/fault_clients.py" silent_server "$SY_TMP/silent.port" &
silent_pid=$!
on_exit "kill $silent_pid"
for i in $(seq 1 50); do [ -s "$SY_TMP/silent.port" ] && break; sleep 0.1; done
silent_port=$(cat "$SY_TMP/silent.port")

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=5 workers=2 \
	cluster.server_connect_timeout=2s cluster.query_wait_timeout=10s \
	raw="[cluster.rep]
protocol = postgres
primary = 127.0.0.1:$PG_REPLICA_PORT
server_database = app
pool_mode = transaction
pool_size = 3

[cluster.dead]
protocol = postgres
primary = 127.0.0.1:$silent_port
server_database = app
pool_mode = transaction
server_connect_timeout = 2s
query_wait_timeout = 5s
"
start_proxy "$cfg"
on_exit "'$FLEET_SH' restart-pg-primary '$FLEET_DIR'"
fds() { find "/proc/$PROXY_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "warm-up query (primary)"
assert_eq 1 "$(PGDATABASE=rep pg_proxy -c 'SELECT 1')" "warm-up query (replica cluster)"
pg_proxy -c 'CREATE TABLE IF NOT EXISTS fault_txn(x int); TRUNCATE fault_txn' >/dev/null
base_fds=$(fds)
note "baseline fds: $base_fds"

# The other cluster's client: one query every 0.1 s during the whole fault.
(for i in $(seq 1 60); do PGDATABASE=rep pg_proxy -c "SELECT 'rep $i'" || echo "rep failed $i"; sleep 0.1; done >"$SY_TMP/rep.out" 2>&1) &
rep_pid=$!

go=$SY_TMP/go
timeout 60 "$PY" "$HERE/fault_clients.py" victim "$PROXY_PORT" result "$SY_TMP/ready.result" "$go" >"$SY_TMP/victim.result" 2>&1 &
v1=$!
timeout 60 "$PY" "$HERE/fault_clients.py" victim "$PROXY_PORT" txn "$SY_TMP/ready.txn" "$go" >"$SY_TMP/victim.txn" 2>&1 &
v2=$!
for i in $(seq 1 100); do [ -e "$SY_TMP/ready.result" ] && [ -e "$SY_TMP/ready.txn" ] && break; sleep 0.1; done
[ -e "$SY_TMP/ready.result" ] && [ -e "$SY_TMP/ready.txn" ] || fail "victims not ready: $(cat "$SY_TMP"/victim.*)"

note "SIGKILL the primary"
"$FLEET_SH" kill-pg-primary "$FLEET_DIR"
touch "$go"
wait "$v1" || true
wait "$v2" || true
r1=$(cat "$SY_TMP/victim.result")
r2=$(cat "$SY_TMP/victim.txn")
note "mid-result: $r1"
note "mid-transaction: $r2"
assert_match "$(json_get "$r1" result)" '^(E|closed)' "the client mid-result sees an error or a close"
assert_match "$(json_get "$r2" result)" '^(E:|closed)' "the client mid-transaction sees an error or a close"
for r in "$r1" "$r2"; do
	s=$(json_get "$r" seconds)
	[ "${s%.*}" -lt 10 ] && _ok "it ended within ${s}s" || fail "it took ${s}s"
done
assert_ok proxy_alive

note "restart the primary"
"$FLEET_SH" restart-pg-primary "$FLEET_DIR" >/dev/null
ok=0
for i in $(seq 1 50); do
	if [ "$(pg_proxy -c 'SELECT 1' 2>/dev/null)" = 1 ]; then ok=1; break; fi
	sleep 0.2
done
assert_eq 1 "$ok" "a new client works once the primary is back"
assert_eq 0 "$(pg_proxy -c 'SELECT count(*) FROM fault_txn')" "the killed transaction's row is not there"

wait "$rep_pid" || true
assert_not_contains "$(cat "$SY_TMP/rep.out")" "failed" "the replica cluster's client was served throughout"
assert_eq 60 "$(grep -c '^rep ' "$SY_TMP/rep.out")" "it got all 60 answers"

note "a server that accepts and never answers"
t0=$(date +%s%N)
out=$(PGDATABASE=dead pg_proxy -c 'SELECT 1' 2>&1) && rc=0 || rc=$?
dt=$(( ($(date +%s%N) - t0) / 1000000 ))
note "client: exit $rc after ${dt} ms: $out"
assert_ne 0 "$rc" "the client of the silent server gets an error"
assert_contains "$out" "server_connect_timeout" "the error names server_connect_timeout"
[ "$dt" -ge 1500 ] && [ "$dt" -le 8000 ] && _ok "after ${dt} ms (timeout 2 s)" || fail "error after ${dt} ms"
# Several at once, while the app cluster works.
for i in 1 2 3 4 5; do (PGDATABASE=dead pg_proxy -c 'SELECT 1' >/dev/null 2>&1 || true) & done
assert_eq 7 "$(pg_proxy -c 'SELECT 7')" "the app cluster works while clients wait on the silent server"
sleep 3
assert_ok proxy_alive

for i in $(seq 1 50); do
	now_fds=$(fds)
	[ "$now_fds" -le $((base_fds + 8)) ] && break
	sleep 0.2
done
note "fds after: $now_fds (baseline $base_fds)"
[ "$now_fds" -le $((base_fds + 8)) ] && _ok "fds back near the baseline" || fail "fds $now_fds vs baseline $base_fds"
