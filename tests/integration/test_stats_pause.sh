#!/usr/bin/env bash
# Admin PAUSE/RESUME (transaction mode): PAUSE returns only once the open
# transactions have finished; while paused a new client's query waits and
# completes after RESUME; double PAUSE, PAUSE of an unknown cluster and
# RESUME when not paused are clear errors.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction workers=2 pool_size=10 \
	global.admin_users=admin user.app.password=app user.admin.password=admin
start_proxy "$cfg"

admin() { PGUSER=admin PGPASSWORD=admin PGDATABASE=switchyard pg_proxy "$@"; }
now_ms() { date +%s%3N; }

assert_eq "1" "$(pg_proxy -c 'select 1')" "a query through the proxy"

# A client in an open transaction for about 3 s.
# (Nothing after COMMIT: a new transaction would be held by the PAUSE.)
(echo "BEGIN; select 'in-tx';"; sleep 3; echo "select 'committed'; COMMIT;") |
	PGPASSWORD=app timeout 30 psql -X -A -t -h 127.0.0.1 -p "$PROXY_PORT" -U app -d app >"$SY_TMP/tx.out" 2>&1 &
tx=$!
sleep 1
t0=$(now_ms)
out=$(admin -c "PAUSE" 2>&1)
t1=$(now_ms)
assert_eq "" "$out" "PAUSE succeeds"
waited=$((t1 - t0))
note "PAUSE took $waited ms (the transaction had about 2 s left)"
[ "$waited" -ge 1500 ] && _ok "PAUSE waited for the open transaction ($waited ms)" ||
	fail "PAUSE returned after $waited ms, before the transaction could have committed"
wait "$tx" || true
assert_contains "$(cat "$SY_TMP/tx.out")" "committed" "the open transaction committed"

# While paused: errors, and a new client's query waits.
out=$(admin -c "PAUSE" 2>&1 || true)
assert_contains "$out" "already paused" "a second PAUSE: clear error"
out=$(admin -c "PAUSE app" 2>&1 || true)
assert_contains "$out" "already paused" "PAUSE app while all are paused: clear error"
PGPASSWORD=app timeout 30 psql -X -A -t -h 127.0.0.1 -p "$PROXY_PORT" -U app -d app -c "select 42" >"$SY_TMP/held.out" 2>&1 &
held=$!
sleep 2
kill -0 "$held" 2>/dev/null && _ok "a new client waits while paused" || fail "the new client finished while paused: $(cat "$SY_TMP/held.out")"
assert_eq "" "$(cat "$SY_TMP/held.out")" "no answer while paused"
assert_match "$(admin -c "SHOW STATS")" $'(^|\n)paused\\|all' "SHOW STATS says what is paused"
t0=$(now_ms)
assert_eq "" "$(admin -c "RESUME" 2>&1)" "RESUME succeeds"
rc=0
wait "$held" || rc=$?
t1=$(now_ms)
assert_eq 0 "$rc" "the held client's psql succeeds after RESUME"
assert_eq "42" "$(cat "$SY_TMP/held.out")" "the held query completes after RESUME"
note "held query answered $((t1 - t0)) ms after RESUME"

out=$(admin -c "RESUME" 2>&1 || true)
assert_contains "$out" "not paused" "RESUME when not paused: clear error"
out=$(admin -c "PAUSE nosuch" 2>&1 || true)
assert_contains "$out" 'no cluster "nosuch"' "PAUSE of an unknown cluster: clear error"

# By name, with nothing in flight: returns promptly; clients wait; RESUME app.
t0=$(now_ms)
assert_eq "" "$(admin -c "PAUSE app" 2>&1)" "PAUSE app succeeds"
note "PAUSE app (idle) took $(($(now_ms) - t0)) ms"
PGPASSWORD=app timeout 30 psql -X -A -t -h 127.0.0.1 -p "$PROXY_PORT" -U app -d app -c "select 7" >"$SY_TMP/held2.out" 2>&1 &
held=$!
sleep 1.5
kill -0 "$held" 2>/dev/null && _ok "a client of the paused cluster waits" || fail "it finished while paused: $(cat "$SY_TMP/held2.out")"
out=$(admin -c "RESUME other" 2>&1 || true)
assert_contains "$out" 'cluster "other" is not paused' "RESUME of a cluster that is not paused: clear error"
assert_eq "" "$(admin -c "RESUME app" 2>&1)" "RESUME app succeeds"
wait "$held" || true
assert_eq "7" "$(cat "$SY_TMP/held2.out")" "the held query completes after RESUME app"
assert_eq "1" "$(pg_proxy -c 'select 1')" "queries flow again"
assert_ok proxy_alive
