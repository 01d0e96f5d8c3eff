#!/usr/bin/env bash
# Connection churn leaves nothing behind: 5,000 connections opened and closed
# as fast as possible (plain TCP, after a startup packet, with a RST), then
# 2,000 logged-in clients kept idle. Afterwards the proxy's open fds return
# to within a few of the baseline and VmRSS to within 32 MB of it (read from
# /proc/PID), and clients still work.
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=10 workers=2 global.max_client_conn=5000 global.log_level=warning
start_proxy "$cfg"
fds() { find "/proc/$PROXY_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PROXY_PID/status"; }

assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "warm-up query"
base_fds=$(fds)
base_rss=$(rss)
note "baseline: fds $base_fds, VmRSS $base_rss kB"

res=$(timeout 120 "$PY" "$HERE/fault_clients.py" churn "$PROXY_PORT" 5000)
note "churn: $res"
assert_eq 0 "$(json_get "$res" connect_errors)" "all 5000 connections were accepted"
assert_ok proxy_alive
for i in $(seq 1 100); do
	now_fds=$(fds)
	[ "$now_fds" -le $((base_fds + 5)) ] && break
	sleep 0.1
done
note "after churn: fds $now_fds, VmRSS $(rss) kB"
[ "$now_fds" -le $((base_fds + 5)) ] && _ok "fds back to the baseline after churn" || fail "fds $now_fds vs $base_fds after churn"

ulimit -n 8192
ready=$SY_TMP/idle.ready stop=$SY_TMP/idle.stop
timeout 200 "$PY" "$HERE/fault_clients.py" idle "$PROXY_PORT" 2000 "$ready" "$stop" >"$SY_TMP/idle.out" 2>&1 &
idle_pid=$!
on_exit "touch '$stop'"
for i in $(seq 1 1200); do [ -e "$ready" ] && break; sleep 0.1; done
idle=$(head -n 1 "$SY_TMP/idle.out")
note "idle: $idle"
assert_eq 2000 "$(json_get "$idle" connected)" "2000 idle clients logged in"
assert_eq 20 "$(json_get "$idle" sample_alive)" "a sample of them answers"
held_fds=$(fds)
held_rss=$(rss)
note "with 2000 idle clients: fds $held_fds, VmRSS $held_rss kB"
[ "$held_fds" -ge $((base_fds + 2000)) ] && _ok "one fd per idle client" || fail "only $held_fds fds with 2000 clients"
assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "another client works with 2000 idle ones"
touch "$stop"
wait "$idle_pid" || true

for i in $(seq 1 100); do
	now_fds=$(fds)
	[ "$now_fds" -le $((base_fds + 5)) ] && break
	sleep 0.1
done
now_rss=$(rss)
note "after: fds $now_fds, VmRSS $now_rss kB (baseline $base_fds, $base_rss kB)"
[ "$now_fds" -le $((base_fds + 5)) ] && _ok "fds back to the baseline" || fail "fds $now_fds vs $base_fds"
[ "$now_rss" -le $((base_rss + 32768)) ] && _ok "VmRSS within 32 MB of the baseline" || fail "VmRSS $now_rss kB vs $base_rss kB"
assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "a new client works afterwards"
