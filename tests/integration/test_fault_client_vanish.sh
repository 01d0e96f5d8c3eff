#!/usr/bin/env bash
# Clients that vanish cost nothing: clients reset (RST) mid-query,
# mid-result, mid-COPY IN/OUT, after their startup packet, mid-SASL and
# mid-TLS-handshake, 5 of each, while a psql client keeps working; then a
# client sending its startup packet one byte a second is dropped by
# client_login_timeout (the listener names the cluster: before the startup
# packet names one, the built-in 10 s applies). The proxy stays up, the
# server connections are released (none left active), and its fds return
# to the baseline.
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=10 workers=2 \
	global.client_tls_mode=allow "global.client_tls_cert_file=$TLS_CERT" "global.client_tls_key_file=$TLS_KEY" \
	cluster.client_login_timeout=3s listen.cluster=app
start_proxy "$cfg"
fds() { find "/proc/$PROXY_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "warm-up query"
base_fds=$(fds)
note "proxy fds at baseline: $base_fds"

busy_out=$SY_TMP/busy.out
(for i in $(seq 1 20); do pg_proxy -c "SELECT 'busy $i'" || echo "busy failed $i"; sleep 0.2; done >"$busy_out" 2>&1) &
busy_pid=$!

res=$(timeout 120 "$PY" "$HERE/fault_clients.py" vanish "$PROXY_PORT" 5)
note "$res"
assert_eq '{"mid-query": 5, "mid-result": 5, "mid-copy-in": 5, "mid-copy-out": 5, "after-startup": 5, "mid-sasl": 5, "mid-tls-handshake": 5}' \
	"$(json_get "$res" done)" "every vanishing client ran its case"
wait "$busy_pid" || true
assert_not_contains "$(cat "$busy_out")" "failed" "the other client was served throughout"
assert_eq 20 "$(grep -c '^busy ' "$busy_out")" "the other client got all 20 answers"
assert_ok proxy_alive

# Slow startup: one byte a second, login timeout 3 s.
slow=$(timeout 60 "$PY" "$HERE/fault_clients.py" slowstart "$PROXY_PORT")
note "$slow"
assert_ne "all-sent" "$(json_get "$slow" result)" "the slow client was dropped before it finished its startup packet"
secs=$(json_get "$slow" seconds)
assert_match "$secs" '^[0-9.]+$'
[ "${secs%.*}" -le 8 ] && _ok "dropped after ${secs}s (client_login_timeout 3s)" || fail "dropped only after ${secs}s"

# Nothing is left behind: server connections idle, fds back.
for i in $(seq 1 50); do
	active=$(pg_monitor -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state <> 'idle' AND pid <> pg_backend_pid()")
	[ "$active" = 0 ] && break
	sleep 0.2
done
assert_eq 0 "$active" "no server connection is left running a vanished client's statement"
for i in $(seq 1 50); do
	now_fds=$(fds)
	[ "$now_fds" -le $((base_fds + 12)) ] && break
	sleep 0.2
done
note "proxy fds after: $now_fds (baseline $base_fds; pool_size 10 may open up to 10 more server connections)"
[ "$now_fds" -le $((base_fds + 12)) ] && _ok "fds back near the baseline" || fail "fds $now_fds vs baseline $base_fds"
assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "a new client works afterwards"
assert_ok proxy_alive
