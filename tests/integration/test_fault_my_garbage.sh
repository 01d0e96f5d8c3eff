#!/usr/bin/env bash
# Garbage from MySQL clients costs only that client (transaction pooling,
# max_packet_size 1MB), one connection per case (my_fault_clients.py
# garbage): after a valid login — bad sequence ids (5, 255), an empty
# packet (then a COM_PING), a length beyond the data (then EOF; or completed late), a 2 MB
# COM_QUERY (> max_packet_size), a 16 MB - 1 frame of COM_PING, unknown
# command bytes, COM_BINLOG_DUMP, malformed or unknown-id COM_STMT_EXECUTE /
# FETCH / RESET / SEND_LONG_DATA (no answer, a COM_PING after it is served), COM_INIT_DB without a name, COM_FIELD_LIST
# without NUL, a truncated COM_CHANGE_USER, a second HandshakeResponse, 20
# random byte strings then EOF; before login — random bytes as the HandshakeResponse,
# a HandshakeResponse with a bad sequence id or truncated; a 100 MB random
# stream before and after login. Each gets an ERR packet (then a close)
# where the protocol allows, or a close; never a hang; the 100 MB streams
# are cut off early. A mariadb client is served throughout, the proxy's
# fds return to the baseline and VmRSS stays bounded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

my_write_config "$SY_TMP/sy.ini" pool_mode=transaction pool_size=4 workers=2 global="max_packet_size = 1MB"
start_proxy "$SY_TMP/sy.ini"
fds() { find "/proc/$PROXY_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$PROXY_PID/status"; }
servers() {
	curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/metrics" |
		awk '/^switchyard_server_connections\{/ {n += $NF} END {print n + 0}'
}
client_fds() { echo $(($(fds) - $(servers))); }

assert_eq 1 "$(my_proxy -e 'SELECT 1')" "warm-up query"
base_fds=$(client_fds)
base_rss=$(rss)
note "baseline: fds $(fds), of which $base_fds not server connections; VmRSS $base_rss kB"

busy_out=$SY_TMP/busy.out
(for i in $(seq 1 30); do my_proxy -e "SELECT 'busy $i'" || echo "busy failed $i"; sleep 0.3; done >"$busy_out" 2>&1) &
busy_pid=$!

res=$(timeout 240 "$PY" "$HERE/my_fault_clients.py" garbage "$PROXY_PORT")
echo "$res" | "$PY" -c 'import json,sys; d=json.loads(sys.stdin.read()); [print("   %-36s %s" % kv) for kv in d["results"].items()]; print("   errors:", d["errors"])'
r() { "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["results"].get(sys.argv[2], "missing"))' "$res" "$1"; }
assert_eq "[]" "$(json_get "$res" errors)" "every case ran"
# Exact answers where the proxy owns the check.
assert_eq "E:1156+closed" "$(r seq-5)" "bad sequence id: ERR 1156 (packets out of order), closed"
assert_eq "E:1156+closed" "$(r seq-255)" "sequence id 255: ERR 1156, closed"
assert_eq "other:00" "$(r valid-ping)" "control: a valid COM_PING gets its OK"
assert_eq "E:1047+closed" "$(r empty-packet-then-ping)" "empty packet: ERR 1047, closed"
assert_eq "other:00" "$(r stmt-long-data-unknown-then-ping)" "COM_STMT_SEND_LONG_DATA for an unknown statement: no answer (as the protocol says), the connection goes on"
assert_eq "E:1153+closed" "$(r oversize-2MB)" "2 MB packet over max_packet_size 1MB: ERR 1153, closed"
assert_eq "E:1153+closed" "$(r max-frame-com-ping)" "16 MB - 1 frame of COM_PING: ERR 1153, closed"
assert_eq "closed" "$(r length-beyond-data-then-eof)" "length beyond the data, then EOF: closed"
assert_match "$(r length-beyond-data-completed-late)" '^completed:E:1064' "a packet completed late is still parsed as one (server syntax error)"
assert_match "$(r stream-100MB-after-login)" '^(closed-after|E:1153)' "100 MB random stream after login cut off"
assert_match "$(r stream-100MB-before-login)" '^(closed-after|E:)' "100 MB random stream before login cut off"
# Every other case: an ERR or a close, never a hang, never an unexpected packet.
bad=$(echo "$res" | "$PY" -c '
import json, re, sys
d = json.loads(sys.stdin.read())["results"]
for k, v in d.items():
    if not re.match(r"^(E:[0-9]+\+(closed|open)|closed|closed-after-[0-9]+KB|completed:E:[0-9]+|other:00)$", v):
        print(k, v)')
assert_eq "" "$bad" "every case ends with an ERR or a close (no hang, no stray answer)"
n_cases=$(echo "$res" | "$PY" -c 'import json,sys; print(len(json.loads(sys.stdin.read())["results"]))')
note "$n_cases cases"

wait "$busy_pid" || true
assert_not_contains "$(cat "$busy_out")" "failed" "the other client was served throughout"
assert_eq 30 "$(grep -c '^busy ' "$busy_out")" "the other client got all 30 answers"
assert_ok proxy_alive
for i in $(seq 1 50); do
	now_fds=$(client_fds)
	[ "$now_fds" -le $((base_fds + 3)) ] && break
	sleep 0.2
done
note "fds after: $(fds), of which $now_fds not server connections (baseline $base_fds); VmRSS $(rss) kB"
[ "$now_fds" -le $((base_fds + 3)) ] && _ok "fds back to the baseline" || fail "fds $now_fds vs baseline $base_fds"
if [ -z "${ASAN_OPTIONS:-}" ]; then
	[ "$(rss)" -le $((base_rss + 32768)) ] && _ok "VmRSS bounded ($base_rss -> $(rss) kB)" || fail "VmRSS grew from $base_rss to $(rss) kB"
fi
assert_eq 1 "$(my_proxy -e 'SELECT 1')" "a new client works afterwards"
