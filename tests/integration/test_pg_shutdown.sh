#!/usr/bin/env bash
# SIGTERM: with an idle client connected, the proxy exits with status 0
# within shutdown_timeout (3 s here); without clients it exits at once; the
# listening port is closed afterwards and the idle client's connection ends.
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=session pool_size=5 global.shutdown_timeout=3s
start_proxy "$cfg"

# An idle client in a session (connected, one query done, now idle).
hold_out=$SY_TMP/hold.out
go=$SY_TMP/go
timeout 60 "$PY" "$HERE/clients.py" hold --port "$PROXY_PORT" --out "$hold_out" --go "$go" \
	--query "SELECT 42" --wait 50 &
hold_pid=$!
on_exit "kill $hold_pid"
for i in $(seq 1 100); do
	grep -q '^connected\|^error' "$hold_out" 2>/dev/null && break
	sleep 0.1
done
assert_match "$(head -n 1 "$hold_out")" '^connected [0-9]+$' "an idle client is connected"

port=$PROXY_PORT
stop_proxy 15
echo "exit code $PROXY_EXIT_CODE after $PROXY_STOP_SECONDS s"
assert_eq 0 "$PROXY_EXIT_CODE" "SIGTERM with an idle client: exit status 0"
awk -v t="$PROXY_STOP_SECONDS" 'BEGIN { exit !(t <= 3 + 1.5) }' ||
	fail "SIGTERM took $PROXY_STOP_SECONDS s, shutdown_timeout is 3 s"
_ok "exited after $PROXY_STOP_SECONDS s (shutdown_timeout 3 s)"
assert_eq 1 "$(port_listening "$port" && echo 0 || echo 1)" "nothing listens on the proxy port any more"

# The idle client's session is gone: its next query fails.
touch "$go"
wait "$hold_pid" || true
cat "$hold_out"
assert_match "$(sed -n 2p "$hold_out")" '^error ' "the idle client's connection was closed"
for i in $(seq 1 25); do
	n=$(pg_server_conns app)
	[ "$n" = 0 ] && break
	sleep 0.2
done
assert_eq 0 "$n" "no server connection of app is left on the server"

# No clients at all: SIGTERM ends it quickly.
start_proxy "$cfg"
assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "the proxy serves again after a restart"
stop_proxy 15
assert_eq 0 "$PROXY_EXIT_CODE" "SIGTERM without clients: exit status 0"
awk -v t="$PROXY_STOP_SECONDS" 'BEGIN { exit !(t <= 2.5) }' ||
	fail "SIGTERM without clients took $PROXY_STOP_SECONDS s"
_ok "exited after $PROXY_STOP_SECONDS s without clients"

# SIGINT does the same.
start_proxy "$cfg"
kill -INT "$PROXY_PID"
rc=0
timeout 10 tail --pid="$PROXY_PID" -f /dev/null || rc=$?
assert_eq 0 "$rc" "SIGINT: the proxy exits"
wait "$PROXY_PID" && PROXY_EXIT_CODE=0 || PROXY_EXIT_CODE=$?
PROXY_PID=
assert_eq 0 "$PROXY_EXIT_CODE" "SIGINT: exit status 0"
