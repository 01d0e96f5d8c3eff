#!/usr/bin/env bash
# Backpressure in transaction pooling: a client reads a ~1 GB result
# (`SELECT repeat('x', 1000) FROM generate_series(1, 1000000)`) at 1 MB/s
# with a small socket buffer for 6 s. The server could send it hundreds of
# times faster; the proxy must not buffer it: its VmRSS (from /proc) stays
# within 20 MB of what it was before the query. Then the client leaves in
# the middle of the result; the proxy stays up, the server does not keep
# streaming to nobody, and the next client on the (only) server is served
# on a clean connection.
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=1 workers=1
start_proxy "$cfg"
pid=$(proxy_pid)

# Warm up: a login, a query and a small result, so the idle figure includes
# the server connection and buffers in use.
assert_eq 1000 "$(pg_proxy -c "SELECT count(*) FROM (SELECT repeat('x', 1000) FROM generate_series(1, 1000)) s")" "warm-up query"
pg_proxy -c "SELECT repeat('x', 1000) FROM generate_series(1, 2000)" >/dev/null
idle=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
note "proxy VmRSS before: $idle kB"

res=$(timeout 40 "$PY" "$HERE/txn_clients.py" slowread --port "$PROXY_PORT" --pid "$pid" --rate 1000000 --seconds 6 \
	--query "SELECT repeat('x', 1000) FROM generate_series(1, 1000000) /* txn_backpressure */")
echo "$res"
got=$(json_get "$res" bytes_read)
peak=$(json_get "$res" peak_rss_kb)
[ "$got" -ge 4000000 ] || fail "the slow reader read only $got bytes in 6 s"
[ "$got" -le 8000000 ] || fail "the slow reader read $got bytes: not paced at 1 MB/s"
_ok "the slow reader read $got bytes at ~1 MB/s"
assert_eq T "$(json_get "$res" first_type)" "the result starts with a RowDescription"
grow=$((peak - idle))
[ "$grow" -lt 20480 ] || fail "the proxy's VmRSS grew by $grow kB (peak $peak kB, before $idle kB) with a slow reader"
_ok "the proxy's VmRSS grew by at most $grow kB (peak $peak kB, before $idle kB)"

# The reader is gone mid-result.
assert_ok proxy_alive
for i in $(seq 1 100); do
	n=$(pg_monitor -c "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%txn_backpressure */'")
	[ "$n" = 0 ] && break
	sleep 0.1
done
assert_eq 0 "$n" "the server stops running the abandoned query within 10 s"
t0=$(date +%s%N)
assert_eq "next" "$(pg_proxy -c "SELECT 'next'")" "the next client on the only server is served"
dt=$((($(date +%s%N) - t0) / 1000000))
[ "$dt" -lt 5000 ] || fail "the next client waited $dt ms"
_ok "within $dt ms"
assert_eq "t|t" "$(pg_proxy -c "SELECT txid_current_if_assigned() IS NULL, now() = statement_timestamp()")" \
	"the next client is not inside someone else's transaction"
now=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
note "proxy VmRSS after: $now kB"
[ $((now - idle)) -lt 20480 ] || fail "the proxy's VmRSS is $now kB after the slow reader left (before: $idle kB)"
_ok "the proxy's VmRSS is back near $now kB"
