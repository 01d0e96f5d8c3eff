#!/usr/bin/env bash
# Fewer descriptors than clients: the proxy runs under
# `prlimit --nofile=256:256` and 400 clients try to log in and stay. The
# clients that fit are served; the extra ones are refused or delayed (they
# end with an error or time out, none is half-served), the proxy logs the
# accept failure clearly, keeps serving the connected clients and stays
# responsive (a new client works once the others leave).
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=5 workers=2 global.log_level=warning
real_bin=$BIN
BIN=$SY_TMP/switchyard-nofile
printf '#!/bin/sh\nexec prlimit --nofile=256:256 %q "$@"\n' "$real_bin" >"$BIN"
chmod +x "$BIN"
start_proxy "$cfg"
assert_match "$(grep 'open files' "/proc/$PROXY_PID/limits")" '256 +256' "the proxy runs with 256 descriptors"
fds() { find "/proc/$PROXY_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "warm-up query"
base_fds=$(fds)

ready=$SY_TMP/idle.ready stop=$SY_TMP/idle.stop
timeout 120 "$PY" "$HERE/fault_clients.py" idle "$PROXY_PORT" 400 "$ready" "$stop" 3 100 >"$SY_TMP/idle.out" 2>&1 &
idle_pid=$!
on_exit "touch '$stop'"
for i in $(seq 1 900); do [ -e "$ready" ] && break; sleep 0.1; done
idle=$(head -n 1 "$SY_TMP/idle.out")
note "400 clients: $idle"
connected=$(json_get "$idle" connected)
errors=$(json_get "$idle" errors)
assert_eq 400 "$((connected + errors))" "every client either logged in or got an error"
[ "$connected" -ge 150 ] && [ "$connected" -lt 256 ] && _ok "$connected clients served (limit 256 fds)" || fail "$connected clients connected"
assert_eq "$(json_get "$idle" sample_size)" "$(json_get "$idle" sample_alive)" "the connected clients answer queries"
assert_ok proxy_alive
assert_match "$(grep -m1 -i 'accept' "$PROXY_LOG")" 'Too many open files' "the proxy logs why it cannot accept"
# While out of descriptors with clients waiting in the backlog, the accept
# loop must not spin: little CPU, a rate-limited log.
(for i in $(seq 1 50); do timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PROXY_PORT; sleep 2.5" 2>/dev/null & done; wait) &
sleep 0.5
t1=$(awk '{print $14 + $15}' "/proc/$PROXY_PID/stat")
l1=$(wc -l <"$PROXY_LOG")
sleep 2
t2=$(awk '{print $14 + $15}' "/proc/$PROXY_PID/stat")
l2=$(wc -l <"$PROXY_LOG")
note "while out of descriptors: proxy CPU $((t2 - t1)) ticks, $((l2 - l1)) log lines in 2 s"
[ $((t2 - t1)) -le 40 ] && _ok "the proxy does not spin (CPU $((t2 - t1))/200 ticks)" || fail "the proxy spins: $((t2 - t1)) ticks of CPU in 2 s"
[ $((l2 - l1)) -le 20 ] && _ok "accept failures are logged at a bounded rate" || fail "$((l2 - l1)) log lines in 2 s"
touch "$stop"
wait "$idle_pid" || true
ok=0
for i in $(seq 1 50); do
	if [ "$(pg_proxy -c 'SELECT 1' 2>/dev/null)" = 1 ]; then ok=1; break; fi
	sleep 0.2
done
assert_eq 1 "$ok" "a new client works once descriptors are free"
for i in $(seq 1 100); do [ "$(fds)" -le $((base_fds + 5)) ] && break; sleep 0.1; done
[ "$(fds)" -le $((base_fds + 5)) ] && _ok "fds back to the baseline ($(fds))" || fail "fds $(fds) vs $base_fds"
note "accept-failure log lines in total: $(grep -c 'accept' "$PROXY_LOG" || true)"
# Do not keep a huge log around.
[ "$(stat -c %s "$PROXY_LOG")" -gt 10000000 ] && { tail -n 1000 "$PROXY_LOG" >"$PROXY_LOG.tail"; : >"$PROXY_LOG"; }
true
