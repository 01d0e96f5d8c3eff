#!/usr/bin/env bash
# Idle clients are parked (pg_client.h): a pooled client with nothing in
# flight gives its bufferevent back after its login and after a second of
# idleness, and gets a new one when it sends again. Checked: 300 psycopg2
# sessions idle for 2.5 s are all parked (switchyard_client_parked), cost
# under 2 KiB each in the proxy's RSS (bench/pg.sh measures ~0.8 KiB with
# 2,000), are parked again after a query,
# wake up with their own session state (TimeZone set by some, not leaked to
# others), and their sockets are closed when they leave (descriptors back
# to the baseline). A parked client still gets its error when an admin
# KILLs it or client_idle_timeout closes it, and a parked session's
# TimeZone survives a reconnect of nothing (same server, other server).
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=5 workers=2 global.max_client_conn=1000 \
	global.admin_users=admin user.app.password=app user.admin.password=adminpw
start_proxy "$cfg"
URL=http://127.0.0.1:$STATS_PORT

res=$(timeout 180 "$PY" "$HERE/park_clients.py" --port "$PROXY_PORT" --stats-port "$STATS_PORT" \
	--pid "$(proxy_pid)" --clients 300)
echo "$res"
assert_eq 0 "$(json_get "$res" errors)" "no session got an error ($(json_get "$res" error_samples))"
assert_eq 300 "$(json_get "$res" opened)" "300 sessions opened"
assert_eq 300 "$(json_get "$res" parked_login)" "all 300 sessions idle since their login are parked"
assert_eq 300 "$(json_get "$res" parked_idle)" "all 300 are parked again after a query each"
bpc=$(json_get "$res" bytes_per_client)
bpu=$(json_get "$res" bytes_per_client_used)
if [ -n "${ASAN_OPTIONS:-}" ]; then
	# Under the sanitizers RSS is mostly shadow memory and quarantine.
	note "sanitizer build: RSS per session ($bpc, $bpu bytes) not checked"
	bpc=0 bpu=0
fi
[ "$bpc" -lt 2048 ] && _ok "an idle session costs $bpc bytes of the proxy's RSS (< 2048; without parking ~3000)" ||
	fail "an idle session costs $bpc bytes of the proxy's RSS (expected < 2048)"
[ "$bpu" -lt 4096 ] && _ok "after a query each, $bpu bytes per session (< 4096: freed buffers stay in the allocator)" ||
	fail "after a query each, $bpu bytes per session (expected < 4096)"
assert_eq 0 "$(json_get "$res" wrong_timezone)" "woken sessions keep their own TimeZone (30 Asia/Tokyo, the rest $(json_get "$res" default_timezone))"
fb=$(json_get "$res" fds_before)
fi=$(json_get "$res" fds_idle)
fc=$(json_get "$res" fds_after_close)
fe=$(json_get "$res" fds_end)
[ $((fi - fb)) -ge 300 ] && _ok "each parked session keeps its socket ($fb -> $fi descriptors)" ||
	fail "descriptors $fb -> $fi with 300 sessions"
[ $((fi - fc)) -ge 150 ] && _ok "closing 150 sessions closes their sockets ($fi -> $fc)" ||
	fail "descriptors $fi -> $fc after 150 sessions closed"
[ $((fe - fb)) -le 5 ] && _ok "descriptors back to the baseline ($fb -> $fe)" ||
	fail "descriptors $fb -> $fe after all sessions closed"

# A parked client that is closed gets its ErrorResponse (read with the raw
# protocol client pgwire.py: libpq would first write its next query, and
# the reset that answers it makes the kernel drop the message unread).
wait_error() { # OUT: log in, one query, then wait (parked) for the proxy's ErrorResponse
	"$PY" -c '
import sys; sys.path.insert(0, sys.argv[1]); import pgwire
c = pgwire.PG(int(sys.argv[2]), timeout=30.0)
c.login("app", "app", "app")
c.query("SELECT 1")
open(sys.argv[3], "a").write("ready\n")
t, payload = c.read_msg()
if t == b"E":
    f = pgwire.error_fields(payload)
    open(sys.argv[3], "a").write("error %s %s\n" % (f.get("C"), f.get("M")))
else:
    open(sys.argv[3], "a").write("got %r %r\n" % (t, payload))
' "$HERE" "$PROXY_PORT" "$1"
}

admin() { PGUSER=admin PGPASSWORD=adminpw PGDATABASE=switchyard pg_proxy "$@"; }
hold=$SY_TMP/hold.out
rm -f "$hold"
wait_error "$hold" &
hp=$!
for _ in $(seq 1 100); do grep -q ready "$hold" 2>/dev/null && break; sleep 0.1; done
# Parked by the sweep a second after its query; /metrics is up to 1 s old.
for _ in $(seq 1 50); do
	curl -s "$URL/metrics" | grep -q '^switchyard_client_parked{protocol="postgres"} 1' && break
	sleep 0.1
done
assert_match "$(curl -s "$URL/metrics")" 'switchyard_client_parked\{protocol="postgres"\} 1' "the waiting session is parked"
id=$(admin -c "SHOW CLIENTS" | grep '|app|app|CL_IDLE|' | head -n 1 | cut -d'|' -f1)
assert_ne "" "$id" "SHOW CLIENTS lists the parked session"
assert_eq "" "$(admin -c "KILL $id")" "KILL of the parked session"
wait "$hp"
assert_contains "$(cat "$hold")" "57P01" "the parked session got 57P01"
assert_contains "$(cat "$hold")" "administrator command" "... saying why it was closed"

# client_idle_timeout closes a parked client with its error.
stop_proxy
write_config "$cfg" pool_mode=transaction pool_size=5 cluster.client_idle_timeout=3s
start_proxy "$cfg"
rm -f "$hold"
wait_error "$hold" &
hp=$!
wait "$hp"
assert_contains "$(cat "$hold")" "57P05" "a parked session closed by client_idle_timeout gets 57P05"
assert_contains "$(cat "$hold")" "client_idle_timeout" "... saying why"

# Shutdown with a parked client: it is closed, the proxy exits 0.
write_config "$cfg" port="$PROXY_PORT" pool_mode=transaction pool_size=5 global.shutdown_timeout=2s
reload_proxy
sleep 1
rm -f "$hold"
wait_error "$hold" &
hp=$!
for _ in $(seq 1 100); do grep -q ready "$hold" 2>/dev/null && break; sleep 0.1; done
sleep 2
stop_proxy 15
assert_eq 0 "$PROXY_EXIT_CODE" "the proxy exits 0 with a parked client"
wait "$hp" || true
assert_match "$(cat "$hold")" "got (None|'')" "the parked client's connection was closed at shutdown"
