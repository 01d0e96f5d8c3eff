#!/usr/bin/env bash
# my_cpu_pair.sh — cpu_pair.sh's quick, precise look for MySQL/MariaDB:
# sysbench oltp_point_select (THREADS threads, --db-ps-mode=disable)
# through switchyard binaries and HAProxy (TCP mode), each proxy in a
# session of its own (setsid), in ROUNDS interleaved runs of SECONDS; per
# target the medians of qps and of the proxy's CPU µs per query
# (utime+stime of the whole process from /proc, sysbench's query count).
#
#   FLEET_DIR=/tmp/f bench/my_cpu_pair.sh [ROUNDS [SECONDS]] BIN... [haproxy]
#   FLEET_DIR=/tmp/f bench/my_cpu_pair.sh 5 5 build/switchyard \
#       build/switchyard:pipeline_depth=16,pipeline_busy_servers=2 haproxy
#
# BIN:key=v,key=v adds cluster keys for that target. Switchyard: workers
# = 1, transaction pooling, POOL_SIZE [8] server connections; HAProxy 1
# thread. THREADS [32]. Needs the sbtest tables of bench/mysql.sh (4 x
# 10,000 rows; run it once). Timings never fail it.
set -euo pipefail
: "${FLEET_DIR:?set FLEET_DIR to a running fleet (tests/integration/fleet.sh start DIR)}"
. "$FLEET_DIR/fleet.env"
R=${1:-3}; T=${2:-5}
shift 2 || true
[ $# -gt 0 ] || set -- build/switchyard haproxy
WORK=$(mktemp -d /tmp/switchyard-mycpu.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cleanup() { pkill -f "$WORK/" 2>/dev/null || true; }
trap cleanup EXIT

start_sy() { # BIN[:key=v,...] PORT -> PID
	local bin=${1%%:*} extra=""
	[ "$bin" = "$1" ] || extra=$(tr ',' '\n' <<<"${1#*:}" | sed 's/=/ = /')
	cat >"$WORK/sy.ini" <<EOT
[switchyard]
workers = 1
log_level = warning
stats_listen =
[listen.my]
protocol = mysql
address = 127.0.0.1:$2
cluster = shop
[cluster.shop]
protocol = mysql
primary = 127.0.0.1:$MY_PRIMARY_PORT
pool_mode = transaction
pool_size = ${POOL_SIZE:-8}
monitor_user = monitor
monitor_password = monitor
$extra
[user.app]
password = app
EOT
	setsid -f "$bin" -c "$WORK/sy.ini" >>"$WORK/sy.log" 2>&1
	sleep 0.5
	pgrep -f "c $WORK/sy.ini" | head -n 1
}
start_haproxy() { # PORT -> PID
	cat >"$WORK/haproxy.cfg" <<EOT
global
    maxconn 4096
    nbthread 1
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend my
    bind 127.0.0.1:$1
    default_backend primary
backend primary
    server primary 127.0.0.1:$MY_PRIMARY_PORT
EOT
	setsid -f haproxy -db -f "$WORK/haproxy.cfg" >>"$WORK/haproxy.log" 2>&1
	sleep 0.5
	pgrep -f "f $WORK/haproxy.cfg" | head -n 1
}
sb() { # PORT SECONDS
	sysbench oltp_point_select --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$1" --mysql-user=app \
		--mysql-password=app --mysql-db=shop --tables=4 --table-size=10000 --threads="${THREADS:-32}" \
		--db-ps-mode=disable --time="$2" run 2>&1
}

one_run() { # TARGET -> "qps cpu_us"
	local t=$1 port pid out s0 s1 q
	port=$(free_port)
	if [ "$t" = haproxy ]; then pid=$(start_haproxy "$port"); else pid=$(start_sy "$t" "$port"); fi
	sb "$port" 1 >/dev/null || true
	s0=$(awk '{print $14+$15}' "/proc/$pid/stat")
	out=$(sb "$port" "$T" || true)
	s1=$(awk '{print $14+$15}' "/proc/$pid/stat")
	kill "$pid" 2>/dev/null || true
	sleep 0.5
	q=$(sed -n 's/^ *queries: *\([0-9]*\).*/\1/p' <<<"$out")
	[ -n "$q" ] && [ "$q" -gt 0 ] || { echo "0 0"; return; }
	python3 -c "print('%d %.2f' % ($q / $T, ($s1-$s0)*1e6/$(getconf CLK_TCK)/$q))"
}

declare -A res
for r in $(seq 1 "$R"); do
	for t in "$@"; do
		line=$(one_run "$t")
		echo "round $r $t: qps cpu_us/q = $line" >&2
		res[$t]+="$line"$'\n'
	done
done
printf '%-60s %8s %9s\n' target qps cpu_us/q
for t in "$@"; do
	printf '%s' "${res[$t]}" | python3 -c '
import sys, statistics
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = [statistics.median(c) for c in zip(*rows)]
print("%-60s %8.0f %9.2f" % (sys.argv[1], *med))' "$t"
done
