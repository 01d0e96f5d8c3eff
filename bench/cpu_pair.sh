#!/usr/bin/env bash
# cpu_pair.sh — a quick, precise look at the proxy's CPU per transaction:
# pgbench -S (50 clients, -j 2) through switchyard binaries and PgBouncer,
# each proxy started in a session of its own (setsid: see docs/
# performance.md, "Sessions and autogroups"), in ROUNDS interleaved runs of
# SECONDS; per target the medians of tps, the proxy's CPU µs per
# transaction (utime+stime of the whole process from /proc) and the
# voluntary / involuntary context switches per transaction of its busiest
# thread.
#
#   FLEET_DIR=/tmp/f bench/cpu_pair.sh [ROUNDS [SECONDS [MODE]]] BIN... [pgbouncer|haproxy]
#   FLEET_DIR=/tmp/f bench/cpu_pair.sh 3 5 simple build/switchyard pgbouncer
#   FLEET_DIR=/tmp/f bench/cpu_pair.sh 5 5 mysql build/switchyard haproxy
#
# A target is a switchyard binary, or the peer to compare with: pgbouncer
# (PostgreSQL) or haproxy (MySQL, TCP mode, 1 thread); BIN:key=v,key=v
# adds cluster keys for that target (build/switchyard:pipeline_depth=4
# against build/switchyard in one run). MODE is pgbench's -M (simple,
# extended, prepared), or mysql: sysbench oltp_point_select
# (--db-ps-mode=disable) against the MariaDB primary, counted per query;
# it needs bench/mysql.sh's sbtest tables (run it once on the fleet).
# Switchyard: workers = 1, transaction pooling, POOL_SIZE server
# connections [20; mysql: 8]; PgBouncer the same. CLIENTS=N: pgbench -c N
# or sysbench --threads N [50; mysql: 32]. Timings never fail it.
set -euo pipefail
: "${FLEET_DIR:?set FLEET_DIR to a running fleet (tests/integration/fleet.sh start DIR)}"
. "$FLEET_DIR/fleet.env"
BENCH_NAME=cpu_pair
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
R=${1:-3}; T=${2:-5}; M=${3:-simple}
shift 3 || true
[ $# -gt 0 ] || set -- build/switchyard pgbouncer
WORK=$(mktemp -d /tmp/switchyard-cpu.XXXXXX)
chmod 755 "$WORK"
PGBENCH=${PGBENCH:-$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)}
cleanup() { pkill -f "$WORK/" 2>/dev/null || true; }
trap cleanup EXIT

if [ "$M" = mysql ]; then
	CLIENTS=${CLIENTS:-32}; POOL_SIZE=${POOL_SIZE:-8}; RATE=qps; PER=q
else
	CLIENTS=${CLIENTS:-50}; POOL_SIZE=${POOL_SIZE:-20}; RATE=tps; PER=tx
fi

start_sy() { # BIN[:key=v,...] PORT -> PID
	local bin=${1%%:*} extra="" front
	[ "$bin" = "$1" ] || extra=$(tr ',' '\n' <<<"${1#*:}" | sed 's/=/ = /')
	if [ "$M" = mysql ]; then
		front="[listen.my]
protocol = mysql
address = 127.0.0.1:$2
cluster = shop
[cluster.shop]
protocol = mysql
primary = 127.0.0.1:$MY_PRIMARY_PORT
monitor_user = monitor
monitor_password = monitor"
	else
		front="[listen.pg]
protocol = postgres
address = 127.0.0.1:$2
[cluster.app]
protocol = postgres
primary = 127.0.0.1:$PG_PRIMARY_PORT"
	fi
	cat >"$WORK/sy.ini" <<EOT
[switchyard]
workers = 1
log_level = warning
stats_listen =
max_client_conn = 5000
$front
pool_mode = transaction
pool_size = $POOL_SIZE
$extra
[user.app]
password = app
EOT
	setsid -f "$bin" -c "$WORK/sy.ini" >>"$WORK/sy.log" 2>&1
	sleep 0.5
	pgrep -f "c $WORK/sy.ini" | head -n 1
}
start_pgb() { # PORT -> PID
	printf '"app" "app"\n' >"$WORK/userlist.txt"
	cat >"$WORK/pgbouncer.ini" <<EOT
[databases]
app = host=127.0.0.1 port=$PG_PRIMARY_PORT dbname=app
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $1
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $WORK/userlist.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = 10000
logfile = $WORK/pgbouncer.log
pidfile = $WORK/pgbouncer.pid
EOT
	chown -R postgres "$WORK" 2>/dev/null || true
	rm -f "$WORK/pgbouncer.pid"
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- pgbouncer -d "$WORK/pgbouncer.ini"; else pgbouncer -d "$WORK/pgbouncer.ini"; fi
	sleep 0.5
	cat "$WORK/pgbouncer.pid"
}
start_haproxy() { # PORT -> PID
	haproxy_tcp_config "$WORK/haproxy.cfg" "$1" "127.0.0.1:$MY_PRIMARY_PORT"
	setsid -f haproxy -db -f "$WORK/haproxy.cfg" >>"$WORK/haproxy.log" 2>&1
	sleep 0.5
	pgrep -f "f $WORK/haproxy.cfg" | head -n 1
}
# load PORT SECONDS: the load of MODE for SECONDS; prints its output.
load() {
	if [ "$M" = mysql ]; then
		sysbench oltp_point_select --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$1" \
			--mysql-user=app --mysql-password=app --mysql-db=shop --tables=4 --table-size=10000 \
			--threads="$CLIENTS" --db-ps-mode=disable --time="$2" run 2>&1
	else
		PGPASSWORD=app "$PGBENCH" -n -S -M "$M" -c "$CLIENTS" -j 2 -T "$2" -h 127.0.0.1 -p "$1" -U app app 2>&1
	fi
}
# done_count OUTPUT: transactions (pgbench) or queries (sysbench) done.
done_count() {
	if [ "$M" = mysql ]; then
		sed -n 's/^ *queries: *\([0-9]*\).*/\1/p' <<<"$1"
	else
		grep -oP 'processed: \K[0-9]+' <<<"$1"
	fi
}
switches() { awk '/^voluntary_ctxt/{v=$2} /^nonvoluntary_ctxt/{n=$2} END{print v, n}' "$1"; }

one_run() { # TARGET -> "tps cpu_us vol invol"
	local t=$1 port pid tid out s0 s1 v0 n0 v1 n1
	port=$(free_port)
	case "$t" in
	pgbouncer) pid=$(start_pgb "$port") ;;
	haproxy) pid=$(start_haproxy "$port") ;;
	*) pid=$(start_sy "$t" "$port") ;;
	esac
	load "$port" 2 >/dev/null || true
	tid=$(for x in /proc/"$pid"/task/*; do echo "$(awk '{print $14+$15}' "$x/stat") ${x##*/}"; done | sort -n | tail -n 1 | cut -d' ' -f2)
	read -r v0 n0 < <(switches "/proc/$pid/task/$tid/status")
	s0=$(awk '{print $14+$15}' "/proc/$pid/stat")
	out=$(load "$port" "$T" || true)
	s1=$(awk '{print $14+$15}' "/proc/$pid/stat")
	read -r v1 n1 < <(switches "/proc/$pid/task/$tid/status")
	kill "$pid" 2>/dev/null || true
	sleep 0.5
	local tps tx
	tx=$(done_count "$out")
	if [ "$M" = mysql ]; then tps=$((tx / T)); else tps=$(grep -oP 'tps = \K[0-9.]+' <<<"$out" | head -n 1); fi
	python3 -c "print('%s %.2f %.3f %.3f' % ($tps, ($s1-$s0)*1e6/$(getconf CLK_TCK)/$tx, ($v1-$v0)/$tx, ($n1-$n0)/$tx))"
}

declare -A res
for r in $(seq 1 "$R"); do
	for t in "$@"; do
		line=$(one_run "$t")
		echo "round $r $t: ${RATE} cpu_us/${PER} vol/${PER} invol/${PER} = $line" >&2
		res[$t]+="$line"$'\n'
	done
done
printf '%-40s %8s %10s %7s %9s\n' target "$RATE" "cpu_us/$PER" "vol/$PER" "invol/$PER"
for t in "$@"; do
	printf '%s' "${res[$t]}" | python3 -c '
import sys, statistics
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = [statistics.median(c) for c in zip(*rows)]
print("%-40s %8.0f %10.2f %7.3f %9.3f" % (sys.argv[1], *med))' "$t"
done
