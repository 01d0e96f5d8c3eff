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

# Startup settings the server does not report (options=-c ...) are SET on
# each server the client uses; a DISCARD ALL the client sends resets them
# on its server, which then must not count as in line with that client
# (server_forget_sync): the next transaction has them again. Two clients
# with the same settings share one server (pool_size = 1) in turns.
note "unreported startup settings and DISCARD ALL"
stop_proxy 5
cfg=$SY_TMP/discard.ini
write_config "$cfg" pool_mode=transaction pool_size=1 workers=1
start_proxy "$cfg"
out=$(timeout 60 "$PY" - "$PROXY_PORT" <<'PYEOF' 2>&1
import sys, psycopg2
port = int(sys.argv[1])
def conn():
    c = psycopg2.connect(host="127.0.0.1", port=port, user="app", password="app", dbname="app",
                         options="-c extra_float_digits=1 -c TimeZone=Asia/Tokyo")
    c.autocommit = True
    return c
a, b = conn(), conn()
def show(c, what):
    cur = c.cursor(); cur.execute("SHOW " + what); return cur.fetchone()[0]
print("a first", show(a, "extra_float_digits"), show(a, "TimeZone"))
print("b first", show(b, "extra_float_digits"), show(b, "TimeZone"))
a.cursor().execute("DISCARD ALL")
print("a after discard", show(a, "extra_float_digits"), show(a, "TimeZone"))
print("b after discard", show(b, "extra_float_digits"), show(b, "TimeZone"))
PYEOF
) || true
echo "$out"
for who in "a first" "b first" "a after discard" "b after discard"; do
	assert_contains "$out" "$who 1 Asia/Tokyo" "$who: the startup settings hold"
done
assert_ok proxy_alive
