#!/usr/bin/env bash
# Server pipelining under churn: one proxy with a PostgreSQL and a MySQL
# cluster, pool_size = 4 each, pipeline_depth = 8, query_timeout = 2s; for
# 20 s pipeline_chaos.py runs 90 clients (PostgreSQL simple and extended
# protocol, MySQL) asking for their own values among
# sleeps past query_timeout, transactions, cancels, errors, clients that
# vanish mid-statement and a PostgreSQL backend terminated every 2 s. No
# client may ever get another's answer; statements were queued on both
# sides; the proxy stays up, logs no broken batch, and exits 0 (under
# make asan-integration: with no sanitizer report).
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

MYPORT=$(free_port)
_PORTS_TAKEN+="$MYPORT "
cfg=$SY_TMP/chaos.ini
write_config "$cfg" pool_mode=transaction pool_size=4 workers=2 cluster.pipeline_depth=8 \
	cluster.query_timeout=2s raw="[listen.my]
protocol = mysql
address = 127.0.0.1:$MYPORT
cluster = shop

[cluster.shop]
protocol = mysql
primary = 127.0.0.1:$MY_PRIMARY_PORT
pool_mode = transaction
pool_size = 4
pipeline_depth = 8
query_timeout = 2s
monitor_user = monitor
monitor_password = monitor
"
start_proxy "$cfg"
run_checks timeout 120 "$PY" "$HERE/pipeline_chaos.py" "$PROXY_PORT" "$MYPORT" "$PG_PRIMARY_PORT" 20
sleep 1.2
for proto in postgres mysql; do
	n=$(pipelined $proto)
	[ "${n:-0}" -gt 0 ] 2>/dev/null && _ok "$proto: $n statements were queued behind others" ||
		fail "$proto: no statement was queued (${n:-none})"
done
assert_eq 0 "$(grep -cE "left a transaction open|order was lost|not passed on|internal error queuing|would run inside another" "$PROXY_LOG" || true)" \
	"no broken batch in the proxy log"
assert_ok proxy_alive
stop_proxy 10
assert_eq 0 "$PROXY_EXIT_CODE" "the proxy exits 0 on SIGTERM"
