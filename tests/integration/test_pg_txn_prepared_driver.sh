#!/usr/bin/env bash
# Named prepared statements from a real driver in transaction pooling:
# psycopg 3 with prepare_threshold=0 (every statement is a named Parse
# _pg3_N, then Bind/Execute), 100 client threads x 10 distinct parameterized
# statements x 3 rounds over pool_size = 5 (2 workers), every result checked,
# half the clients in autocommit and half in explicit transactions. Each
# client runs the statements in its own order, so one driver name (_pg3_0 …)
# means different SQL in different clients. Then, over one server, raw
# protocol clients reuse one statement name for different SQL: interleaved,
# pipelined, in transactions, after Close.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

"$PY" -c 'import psycopg' 2>/dev/null || _die "psycopg 3 is missing for $PY (Debian package python3-psycopg)"

pg_direct -q -c "SET client_min_messages = warning; DROP TABLE IF EXISTS txn_prep; CREATE TABLE txn_prep (t int, r int, v text, PRIMARY KEY (t, r))" >/dev/null

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=5 workers=2 cluster.query_wait_timeout=60s
start_proxy "$cfg"

# Connections left by an earlier test's proxy go away first.
for i in $(seq 1 50); do
	before=$(pg_server_conns app)
	[ "$before" = 0 ] && break
	sleep 0.2
done
assert_eq 0 "$before" "no connections of app on the server before the run"

note "psycopg 3, prepare_threshold=0: 100 threads x 10 statements x 3 rounds"
mon=$SY_TMP/mon.json
"$PY" "$HERE/txn_clients.py" monitor --port "$PG_PRIMARY_PORT" --user app --out "$mon" &
mon_pid=$!
on_exit "kill $mon_pid"
res=$(timeout 80 "$PY" "$HERE/txn_clients.py" prepared --port "$PROXY_PORT" --threads 100 --rounds 3 --timeout 55)
kill -TERM "$mon_pid"
wait "$mon_pid" || true
echo "$res"
echo "monitor: $(cat "$mon")"
assert_eq 100 "$(json_get "$res" ok)" "all 100 clients finished (errors: $(json_get "$res" error_samples))"
assert_eq 0 "$(json_get "$res" errors)" "no client got an error"
assert_eq 3000 "$(json_get "$res" checked)" "3000 statement results were checked"
assert_eq 0 "$(json_get "$res" bad)" "every result was right (wrong: $(json_get "$res" bad_samples))"
assert_eq 10 "$(json_get "$res" prepared_per_conn)" "psycopg prepared all 10 statements as named statements"
assert_eq 300 "$(pg_direct -c 'SELECT count(*) FROM txn_prep')" "the 300 inserted rows are on the server"
assert_eq 300 "$(pg_direct -c "SELECT count(*) FROM txn_prep WHERE v = 'v' || t || '.' || r")" "each with its own values"
max=$(json_get "$(cat "$mon")" max)
[ "$max" -ge 1 ] && [ "$max" -le 5 ] || fail "the server saw $max connections of app (pool_size 5)"
_ok "the server saw at most $max connections of app"

# The proxy's own names on a server: the statement texts prepared as sy_*.
prep=$(pg_proxy -c "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'sy\_%' AND statement LIKE 'SELECT md5(\$1::text)%'")
assert_eq 1 "$prep" "the server a new client lands on has the md5 statement prepared once under a sy_ name"
stop_proxy 5

note "one statement name, different SQL, different clients (pool_size = 1)"
cfg1=$SY_TMP/one.ini
write_config "$cfg1" pool_mode=transaction pool_size=1 workers=1
start_proxy "$cfg1"
run_checks timeout 60 "$PY" "$HERE/txn_clients.py" samename --port "$PROXY_PORT"
assert_ok proxy_alive
