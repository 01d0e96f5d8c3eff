#!/usr/bin/env bash
# Connection churn leaves nothing behind: 5,000 connections opened and closed
# as fast as possible (plain TCP, after a startup packet, with a RST), then
# 2,000 logged-in clients kept idle. Afterwards the proxy's open fds return
# to within a few of the baseline and VmRSS to within 32 MB of it (read from
# /proc/PID), and clients still work. Server connections the pool keeps open
# (the idle clients' sample queries open up to pool_size of them) are counted
# from /metrics and taken off: every other descriptor must be gone.
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=10 workers=2 global.max_client_conn=5000 global.log_level=warning
start_proxy "$cfg"
fds() { find "/proc/$PROXY_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PROXY_PID/status"; }
# server connections open (active + idle + pending), as the proxy reports them
servers() {
	curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/metrics" |
		awk '/^switchyard_server_connections\{/ {n += $NF} END {print n + 0}'
}
# descriptors that are not pooled server connections
client_fds() { echo $(($(fds) - $(servers))); }

assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "warm-up query"
base_fds=$(client_fds)
base_rss=$(rss)
note "baseline: fds $(fds) of which $base_fds not server connections, VmRSS $base_rss kB"

res=$(timeout 120 "$PY" "$HERE/fault_clients.py" churn "$PROXY_PORT" 5000)
note "churn: $res"
assert_eq 0 "$(json_get "$res" connect_errors)" "all 5000 connections were accepted"
assert_ok proxy_alive
for i in $(seq 1 100); do
	now_fds=$(client_fds)
	[ "$now_fds" -le $((base_fds + 5)) ] && break
	sleep 0.1
done
note "after churn: fds $now_fds (without $(servers) server connections), VmRSS $(rss) kB"
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
	now_fds=$(client_fds)
	[ "$now_fds" -le $((base_fds + 5)) ] && break
	sleep 0.1
done
now_rss=$(rss)
note "after: fds $now_fds (without $(servers) server connections, at most pool_size 10), VmRSS $now_rss kB (baseline $base_fds, $base_rss kB)"
[ "$now_fds" -le $((base_fds + 5)) ] && _ok "fds back to the baseline" || fail "fds $now_fds vs $base_fds"
[ "$(servers)" -le 10 ] && _ok "server connections within pool_size" || fail "$(servers) server connections, pool_size 10"
[ "$now_rss" -le $((base_rss + 32768)) ] && _ok "VmRSS within 32 MB of the baseline" || fail "VmRSS $now_rss kB vs $base_rss kB"
assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "a new client works afterwards"
