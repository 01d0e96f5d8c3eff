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
#   FLEET_DIR=/tmp/f bench/cpu_pair.sh [ROUNDS [SECONDS [MODE]]] BIN... [pgbouncer]
#   FLEET_DIR=/tmp/f bench/cpu_pair.sh 3 5 simple build/switchyard pgbouncer
#
# A target is a switchyard binary or the word pgbouncer; BIN:key=v,key=v
# adds cluster keys for that target (build/switchyard:pipeline_depth=4
# against build/switchyard in one run). MODE is pgbench's
# -M (simple, extended, prepared). Switchyard: workers = 1, transaction
# pooling, pool_size 20; PgBouncer the same. CLIENTS=N: pgbench -c N [50].
# Timings never fail it.
set -euo pipefail
: "${FLEET_DIR:?set FLEET_DIR to a running fleet (tests/integration/fleet.sh start DIR)}"
. "$FLEET_DIR/fleet.env"
R=${1:-3}; T=${2:-5}; M=${3:-simple}
shift 3 || true
[ $# -gt 0 ] || set -- build/switchyard pgbouncer
WORK=$(mktemp -d /tmp/switchyard-cpu.XXXXXX)
chmod 755 "$WORK"
PGBENCH=${PGBENCH:-$(command -v pgbench || echo /usr/lib/postgresql/15/bin/pgbench)}
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
max_client_conn = 5000
[listen.pg]
protocol = postgres
address = 127.0.0.1:$2
[cluster.app]
protocol = postgres
primary = 127.0.0.1:$PG_PRIMARY_PORT
pool_mode = transaction
pool_size = 20
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
default_pool_size = 20
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
switches() { awk '/^voluntary_ctxt/{v=$2} /^nonvoluntary_ctxt/{n=$2} END{print v, n}' "$1"; }

one_run() { # TARGET -> "tps cpu_us vol invol"
	local t=$1 port pid tid out s0 s1 v0 n0 v1 n1
	port=$(free_port)
	if [ "$t" = pgbouncer ]; then pid=$(start_pgb "$port"); else pid=$(start_sy "$t" "$port"); fi
	PGPASSWORD=app "$PGBENCH" -n -S -M "$M" -c "${CLIENTS:-50}" -j 2 -T 2 -h 127.0.0.1 -p "$port" -U app app >/dev/null 2>&1 || true
	tid=$(for x in /proc/"$pid"/task/*; do echo "$(awk '{print $14+$15}' "$x/stat") ${x##*/}"; done | sort -n | tail -n 1 | cut -d' ' -f2)
	read -r v0 n0 < <(switches "/proc/$pid/task/$tid/status")
	s0=$(awk '{print $14+$15}' "/proc/$pid/stat")
	out=$(PGPASSWORD=app "$PGBENCH" -n -S -M "$M" -c "${CLIENTS:-50}" -j 2 -T "$T" -h 127.0.0.1 -p "$port" -U app app 2>&1 || true)
	s1=$(awk '{print $14+$15}' "/proc/$pid/stat")
	read -r v1 n1 < <(switches "/proc/$pid/task/$tid/status")
	kill "$pid" 2>/dev/null || true
	sleep 0.5
	local tps tx
	tps=$(grep -oP 'tps = \K[0-9.]+' <<<"$out" | head -n 1)
	tx=$(grep -oP 'processed: \K[0-9]+' <<<"$out")
	python3 -c "print('%s %.2f %.3f %.3f' % ($tps, ($s1-$s0)*1e6/$(getconf CLK_TCK)/$tx, ($v1-$v0)/$tx, ($n1-$n0)/$tx))"
}

declare -A res
for r in $(seq 1 "$R"); do
	for t in "$@"; do
		line=$(one_run "$t")
		echo "round $r $t: tps cpu_us/tx vol/tx invol/tx = $line" >&2
		res[$t]+="$line"$'\n'
	done
done
printf '%-40s %8s %10s %7s %9s\n' target tps cpu_us/tx vol/tx invol/tx
for t in "$@"; do
	printf '%s' "${res[$t]}" | python3 -c '
import sys, statistics
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = [statistics.median(c) for c in zip(*rows)]
print("%-40s %8.0f %10.2f %7.3f %9.3f" % (sys.argv[1], *med))' "$t"
done
