#!/usr/bin/env bash
# Bad input after a valid login costs only that connection: oversized,
# negative and too-small lengths, unknown message types, out-of-order
# messages (Bind/Execute without Parse, CopyData/CopyDone/CopyFail outside
# COPY, a password message, a second startup packet, SSLRequest after login),
# 20 random byte strings, then 100 MB of random bytes after a login and 100
# MB before any startup. Each case gets an ErrorResponse, a closed
# connection, or (a partial message) a proxy still waiting for its bytes —
# never a crash; a psql client is served throughout; RSS stays bounded
# (max_packet_size 1MB: the 100 MB stream is never buffered; not checked
# when ASAN_OPTIONS is set, as in make asan-integration) and the fds
# return to the baseline. (test_pg_malformed covers bad startup packets.)
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=10 global.max_packet_size=1MB
start_proxy "$cfg"
fds() { find "/proc/$PROXY_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PROXY_PID/status"; }

assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "warm-up query"
base_fds=$(fds)
base_rss=$(rss)
note "baseline: fds $base_fds, VmRSS $base_rss kB"

busy_out=$SY_TMP/busy.out
(for i in $(seq 1 40); do pg_proxy -c "SELECT 'busy $i'" || echo "busy failed $i"; sleep 0.25; done >"$busy_out" 2>&1) &
busy_pid=$!

peak=$base_rss
(while sleep 0.2; do rss >>"$SY_TMP/rss.samples" 2>/dev/null || break; done) &
sampler=$!
on_exit "kill $sampler"
res=$(timeout 200 "$PY" "$HERE/fault_clients.py" garbage "$PROXY_PORT")
kill "$sampler" 2>/dev/null || true
peak=$(sort -n "$SY_TMP/rss.samples" | tail -n 1)
echo "$res" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); [print("   %-28s %s" % kv) for kv in d["results"].items()]; print("   stream after login:", d["stream_after_login"]); print("   stream before startup:", d["stream_before_startup"]); print("   errors:", d["errors"])'
assert_eq "[]" "$(json_get "$res" errors)" "every case could log in first"
bad=$(echo "$res" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(k for k, v in d["results"].items() if not (v == "closed" or v == "waiting" or v.startswith("E:") or v == "other:Z")))')
assert_eq "" "$bad" "every case ends in an error, a close, or a wait for more bytes"
for k in "oversized length" "negative length" "length -1" "length 0" "length 3" "unknown type z" "unknown type NUL"; do
	v=$(echo "$res" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["results"][sys.argv[1]])' "$k")
	assert_match "$v" '^(E:|closed)' "$k: $v"
done
after=$(echo "$res" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["stream_after_login"]["result"])')
before=$(echo "$res" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["stream_before_startup"]["result"])')
assert_match "$after" '^(E:|closed)' "100 MB after login: $after"
assert_match "$before" '^(E:|closed)' "100 MB before startup: $before"

wait "$busy_pid" || true
assert_not_contains "$(cat "$busy_out")" "failed" "the other client was served throughout"
assert_ok proxy_alive
note "VmRSS peak during the attack: $peak kB (baseline $base_rss kB)"
if [ -n "${ASAN_OPTIONS:-}" ]; then
	note "sanitizer run: no RSS bound (ASan's quarantine keeps freed memory)"
else
	[ "$peak" -le $((base_rss + 65536)) ] && _ok "RSS stayed within 64 MB of the baseline" || fail "RSS peak $peak kB vs $base_rss kB"
fi
for i in $(seq 1 50); do
	now_fds=$(fds)
	[ "$now_fds" -le $((base_fds + 10)) ] && break
	sleep 0.2
done
note "fds after: $now_fds (baseline $base_fds)"
[ "$now_fds" -le $((base_fds + 10)) ] && _ok "fds back near the baseline" || fail "fds $now_fds vs baseline $base_fds"
assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "a new client works afterwards"
