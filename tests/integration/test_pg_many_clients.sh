#!/usr/bin/env bash
# 500 concurrent clients through a proxy with pool_size = 20 (2 workers) in
# session mode: every client connects, runs a few queries and leaves; all
# succeed, and the server never sees more than 20 connections of the proxy's
# user (pg_stat_activity polled every 10 ms as monitor during the run).
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=session pool_size=20 workers=2 cluster.query_wait_timeout=60s
start_proxy "$cfg"

# Connections left by an earlier test's proxy go away within a moment.
for i in $(seq 1 50); do
	before=$(pg_server_conns app)
	[ "$before" = 0 ] && break
	sleep 0.2
done
assert_eq 0 "$before" "no other connections of app on the server before the run"

res=$(timeout 200 "$PY" "$HERE/clients.py" conc --port "$PROXY_PORT" --clients 500 \
	--query "SELECT pg_backend_pid()" \
	--query "SELECT count(*) FROM generate_series(1, 1000)" \
	--query "SELECT pg_sleep(0.01)" --repeat 2 \
	--monitor-port "$PG_PRIMARY_PORT" --monitor-user app --timeout 150)
echo "$res"
assert_eq 500 "$(json_get "$res" ok)" "all 500 clients completed (errors: $(json_get "$res" error_samples))"
assert_eq 0 "$(json_get "$res" errors)" "no client got an error"
max=$(json_get "$res" max_server)
samples=$(json_get "$res" samples)
assert_eq None "$(json_get "$res" monitor_error)" "the monitor connection worked"
[ "$samples" -ge 5 ] || fail "only $samples pg_stat_activity samples were taken"
[ "$max" -ge 1 ] || fail "the monitor never saw a server connection of app ($samples samples)"
[ "$max" -le 20 ] || fail "the server saw $max connections of app; pool_size is 20"
_ok "the server saw at most $max connections of app (limit 20) in $samples samples"

# And the proxy still serves.
assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "a new client works after the run"
after=$(pg_server_conns app)
[ "$after" -le 20 ] || fail "$after server connections of app after the run"
_ok "$after server connections of app remain (idle pool, at most 20)"
assert_ok proxy_alive
