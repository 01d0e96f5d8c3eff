#!/usr/bin/env bash
# The admin console: database "switchyard" for users in admin_users gives
# SHOW POOLS/CLIENTS/SERVERS/NODES/STATS/CONFIG/EVENTS/VERSION with the
# documented columns, RELOAD (applies a changed pool size), KILL, SHUTDOWN
# (PAUSE/RESUME: test_stats_pause.sh);
# other users are refused with a clear error.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

cfg=$SY_TMP/switchyard.ini
mk() { write_config "$cfg" port="${PROXY_PORT:-}" pool_mode=transaction workers=2 "$@" \
	global.admin_users=admin user.app.password=app user.admin.password=adminpw; }
PROXY_PORT=
mk pool_size=20
start_proxy "$cfg"

admin() { PGUSER=admin PGPASSWORD=adminpw PGDATABASE=switchyard pg_proxy "$@"; }
admin_h() { # with headers, for the column names
	PGPASSWORD=adminpw timeout 30 psql -X -A -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PROXY_PORT" -U admin -d switchyard "$@"
}

assert_eq "1" "$(pg_proxy -c 'select 1')" "a normal query through the proxy"
sleep 1.2

pools=$(admin -c "SHOW POOLS")
assert_match "$pools" "^app\|127\.0\.0\.1:$PG_PRIMARY_PORT\|primary\|app\|app\|20\|" "SHOW POOLS: the app pool, size 20"
assert_eq "cluster|node|role|database|user|size|active|idle|connecting|waiting|connects|connect_failures|last_error" \
	"$(admin_h -c "SHOW POOLS" | head -n 1)" "SHOW POOLS columns"
assert_eq "id|worker|addr|user|database|state|tls|connect_time|queries|server_id|protocol" \
	"$(admin_h -c "SHOW CLIENTS" | head -n 1)" "SHOW CLIENTS columns"
assert_eq "id|worker|node|database|user|state|tls|backend_pid|client_id|age_s|idle_s" \
	"$(admin_h -c "SHOW SERVERS" | head -n 1)" "SHOW SERVERS columns"
assert_eq "cluster|node|role|protocol|state|active|idle|connecting|waiting|health|reported_role|lag|position|last_beat_age_s|heartbeats_ok|heartbeats_failed|position_reads|last_error|consecutive_failures|heartbeat_latency_ms|lag_bytes|wal_position_bytes" \
	"$(admin_h -c "SHOW NODES" | head -n 1)" "SHOW NODES columns"
assert_match "$(admin -c "SHOW NODES")" "^app\|127\.0\.0\.1:$PG_PRIMARY_PORT\|primary\|postgres\|up\|" "SHOW NODES: the primary is up"
assert_match "$(admin -c "SHOW SERVERS")" "\|app\|app\|SV_IDLE\|no\|[0-9]+\|" "SHOW SERVERS: an idle server"
assert_match "$(admin -c "SHOW STATS")" $'(^|\n)queries_total\\|[1-9]' "SHOW STATS: queries counted"
assert_match "$(admin -c "SHOW CONFIG")" $'(^|\n)cluster\\.app\\|pool_size\\|20' "SHOW CONFIG: pool_size"
assert_not_contains "$(admin -c "SHOW CONFIG")" "adminpw" "SHOW CONFIG shows no password"
assert_match "$(admin -c "SHOW VERSION")" "^switchyard [0-9]" "SHOW VERSION"
assert_match "$(admin -c "SHOW EVENTS")" "started" "SHOW EVENTS: the start"
assert_contains "$(admin -c "SHOW HELP")" "SHOW POOLS" "SHOW HELP"
assert_match "$(admin -c "show pools;")" "^app\|" "commands are case-insensitive, ';' allowed"

# Errors keep the session: an unknown command, then a good one.
out=$(PGPASSWORD=adminpw psql -X -A -t -h 127.0.0.1 -p "$PROXY_PORT" -U admin -d switchyard -c "SHOW NOTHING" -c "SHOW VERSION" 2>&1 || true)
assert_contains "$out" 'unknown SHOW "NOTHING"' "unknown SHOW: clear error"
assert_contains "$out" "switchyard" "the session goes on after an error"

# A held client is listed, then KILLed.
PGPASSWORD=app timeout 30 psql -X -A -t -h 127.0.0.1 -p "$PROXY_PORT" -U app -d app -c "select pg_sleep(20)" >"$SY_TMP/held.out" 2>&1 &
held=$!
sleep 1.5
clients=$(admin -c "SHOW CLIENTS")
line=$(grep '|app|app|CL_ACTIVE|' <<<"$clients" | head -n 1)
[ -n "$line" ] && _ok "SHOW CLIENTS lists the active client: $line" || fail "no active app client in:"$'\n'"$clients"
assert_match "$clients" "\|admin\|switchyard\|CL_ADMIN\|" "SHOW CLIENTS lists the admin session"
id=${line%%|*}
if [ -n "$id" ]; then
	assert_eq "" "$(admin -c "KILL $id")" "KILL $id succeeds"
	rc=0
	wait "$held" || rc=$?
	assert_ne 0 "$rc" "the killed client's psql fails"
	assert_contains "$(cat "$SY_TMP/held.out")" "administrator command" "the killed client is told why"
fi
# Rows are built on request (not kept every second): sessions that just
# logged in, on both workers, are listed at once by a SHOW CLIENTS that
# follows (no sleep), and KILL finds them.
hold_pids=()
for i in $(seq 1 16); do
	PGPASSWORD=app timeout 30 psql -X -A -t -h 127.0.0.1 -p "$PROXY_PORT" -U app -d app \
		-c "select 'held-$i'" -c "select pg_sleep(15)" >"$SY_TMP/hold$i.out" 2>&1 &
	hold_pids+=($!)
done
for i in $(seq 1 16); do
	for _ in $(seq 1 100); do grep -q "held-$i" "$SY_TMP/hold$i.out" 2>/dev/null && break; sleep 0.05; done
done
clients=$(admin -c "SHOW CLIENTS")
assert_eq 16 "$(grep -Ec '\|app\|app\|CL_(ACTIVE|WAIT_SERVER)\|' <<<"$clients")" "SHOW CLIENTS lists the 16 sessions just started"
assert_eq "0 1" "$(grep -E '\|app\|app\|CL_(ACTIVE|WAIT_SERVER)\|' <<<"$clients" | cut -d'|' -f2 | sort -u | tr '\n' ' ' | sed 's/ $//')" \
	"... on both workers"
for id in $(grep -E '\|app\|app\|CL_(ACTIVE|WAIT_SERVER)\|' <<<"$clients" | cut -d'|' -f1); do
	assert_eq "" "$(admin -c "KILL $id")" "KILL $id (a fresh session) succeeds"
done
for p in "${hold_pids[@]}"; do wait "$p" 2>/dev/null || true; done
assert_eq 0 "$(grep -c '|app|app|' <<<"$(admin -c "SHOW CLIENTS")" || true)" "the killed sessions are gone from SHOW CLIENTS"

out=$(admin -c "KILL 999999" 2>&1 || true)
assert_contains "$out" "no client with id 999999" "KILL of an unknown id: clear error"

# RELOAD applies a changed pool size.
mk pool_size=7
out=$(admin -c "RELOAD" 2>&1)
wait_log "reload done" 10 || fail "RELOAD did not reload"
sleep 1.3
assert_match "$(admin -c "SHOW POOLS")" "^app\|127\.0\.0\.1:$PG_PRIMARY_PORT\|primary\|app\|app\|7\|" "after RELOAD the pool size is 7"
assert_match "$(admin -c "SHOW EVENTS")" "reload done" "SHOW EVENTS lists the reload"

# Refusals.
out=$(PGPASSWORD=app psql -X -h 127.0.0.1 -p "$PROXY_PORT" -U app -d switchyard -c "SHOW POOLS" 2>&1 || true)
assert_contains "$out" 'may not use the admin console' "a non-admin user is refused"
out=$(PGPASSWORD=wrong psql -X -h 127.0.0.1 -p "$PROXY_PORT" -U admin -d switchyard -c "SHOW POOLS" 2>&1 || true)
assert_contains "$out" 'password authentication failed' "an admin with a wrong password is refused"
out=$(PGPASSWORD=adminpw psql -X -h 127.0.0.1 -p "$PROXY_PORT" -U admin -d switchyard -c "RESUME" 2>&1 || true)
assert_contains "$out" 'not paused' "RESUME when not paused: clear error (PAUSE/RESUME: test_stats_pause.sh)"
assert_eq "1" "$(pg_proxy -c 'select 1')" "the proxy still serves"

# SHUTDOWN stops the proxy.
admin -c "SHUTDOWN" >/dev/null 2>&1 || true
for i in $(seq 1 50); do proxy_alive || break; sleep 0.1; done
if proxy_alive; then fail "SHUTDOWN did not stop the proxy"; else _ok "SHUTDOWN stops the proxy"; fi
wait "$PROXY_PID" 2>/dev/null && PROXY_EXIT_CODE=0 || PROXY_EXIT_CODE=$?
PROXY_PID=
assert_eq 0 "$PROXY_EXIT_CODE" "exit code 0 after SHUTDOWN"
