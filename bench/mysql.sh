#!/usr/bin/env bash
# mysql.sh — the MySQL benchmark of issue 4: MariaDB directly, switchyard
# (transaction pooling) and HAProxy (TCP mode) under sysbench, interleaved,
# in one run.
#
#   bench/mysql.sh                         # defaults: about 4 minutes
#   DURATION=5 ROUNDS=2 bench/mysql.sh     # a quick look
#
# Loads (LOADS): sysbench oltp_point_select and oltp_read_only, THREADS
# client threads, on TABLES tables of TABLE_SIZE rows (prepared once,
# directly; SKIP_PREPARE=1 skips it). Every target is started once; in each
# of ROUNDS rounds every target runs each load for DURATION s, in an order
# that rotates from round to round. The table gives per target and load the
# medians over the rounds of tps (transactions/s; a point_select
# transaction is one SELECT, a read_only one is BEGIN, 14 SELECTs, COMMIT),
# sysbench's p95 latency, and the proxy's CPU time (utime+stime from
# /proc/PID/stat around the run) per 10k queries.
#
# Environment (defaults in brackets):
#   FLEET_DIR     a running fleet (tests/integration/fleet.sh start DIR);
#                 unset: start one in the work folder, destroy it at exit
#   BIN           switchyard binary [build/switchyard] (copied at the start)
#   DURATION      seconds per run [10]      ROUNDS  [3]
#   THREADS       sysbench --threads [32]   POOL_SIZE  switchyard's [8]
#   SY_WORKERS    switchyard worker threads [1]; HAPROXY_THREADS [1]
#   SY_PIPELINE   pipeline depths to run as switchyard variants too [none];
#                 "8" adds switchyard-pipe8 (pipeline_depth = 8), "8b2"
#                 switchyard-pipe8b2 (and pipeline_busy_servers = 2)
#   LOADS         [oltp_point_select oltp_read_only]
#   TABLES [4]  TABLE_SIZE [10000]
#   WORK_DIR      [mktemp -d /tmp/switchyard-mysql.XXXXXX]
#
# Output: the report on stdout (also $WORK/report.txt); runs in
# $WORK/runs.tsv; logs per target in $WORK/t-<target>/.
set -euo pipefail
BENCH_NAME=mysql
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-32}
POOL_SIZE=${POOL_SIZE:-8}
SY_WORKERS=${SY_WORKERS:-1}
HAPROXY_THREADS=${HAPROXY_THREADS:-1}
LOADS=${LOADS:-oltp_point_select oltp_read_only}
TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-10000}
SY_LOG_LEVEL=${SY_LOG_LEVEL:-info}
require_posint DURATION ROUNDS THREADS POOL_SIZE SY_WORKERS HAPROXY_THREADS TABLES TABLE_SIZE
require_cmds sysbench haproxy mariadb

raise_nofile
bench_setup_work
bench_setup_fleet
bench_setup_binary
MY_ADDR=127.0.0.1:$MY_PRIMARY_PORT
TARGETS=(direct switchyard)
for d in ${SY_PIPELINE:-}; do
	[[ $d =~ ^[1-9][0-9]*(b[0-9]+)?$ ]] || die "SY_PIPELINE: '$d' is not DEPTH or DEPTHbBUSY"
	TARGETS+=("switchyard-pipe$d")
done
TARGETS+=(haproxy)

my_at() { # PORT ARGS...
	local port=$1
	shift
	timeout 60 mariadb --no-defaults -h 127.0.0.1 -P "$port" -u app -papp -N -B shop "$@"
}

sb() { # PORT LOAD COMMAND [ARGS...]
	local port=$1 load=$2 cmd=$3
	shift 3
	sysbench "$load" --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port" \
		--mysql-user=app --mysql-password=app --mysql-db=shop --tables="$TABLES" \
		--table-size="$TABLE_SIZE" --db-ps-mode=disable "$@" "$cmd"
}

start_my_target() { # NAME
	local t=$1 dir=$WORK/t-$1 port pid
	mkdir -p "$dir"
	case "$t" in
	direct)
		PORT[$t]=$MY_PRIMARY_PORT
		return 0
		;;
	switchyard | switchyard-pipe*)
		local extra=""
		if [ "$t" != switchyard ]; then
			local v=${t#switchyard-pipe}
			extra="pipeline_depth = ${v%%b*}"
			[ "$v" = "${v#*b}" ] || extra+=$'\n'"pipeline_busy_servers = ${v#*b}"
		fi
		port=$(free_port)
		cat >"$dir/sy.ini" <<EOF
; written by bench/mysql.sh
[switchyard]
workers = $SY_WORKERS
log_level = $SY_LOG_LEVEL
max_client_conn = 2000

[listen.my]
protocol = mysql
address = 127.0.0.1:$port
cluster = shop

[cluster.shop]
protocol = mysql
primary = $MY_ADDR
pool_mode = transaction
pool_size = $POOL_SIZE
monitor_user = monitor
monitor_password = monitor
$extra

[user.app]
password = app
EOF
		$PROXY_LAUNCH "$BIN" -c "$dir/sy.ini" >>"$dir/proxy.log" 2>&1 &
		pid=$!
		;;
	haproxy)
		port=$(free_port)
		haproxy_tcp_config "$dir/haproxy.cfg" "$port" "$MY_ADDR" "$HAPROXY_THREADS"
		$PROXY_LAUNCH haproxy -db -f "$dir/haproxy.cfg" >>"$dir/proxy.log" 2>&1 &
		pid=$!
		;;
	esac
	PID[$t]=$pid
	PORT[$t]=$port
	wait_listen "$port" "$pid" 10 || die "$t did not listen on $port: $(tail -n 20 "$dir/proxy.log")"
	[ "$(my_at "$port" -e 'SELECT 1')" = 1 ] || die "$t: SELECT 1 failed"
	say "  $t: pid $pid on 127.0.0.1:$port"
}

RUNS=$WORK/runs.tsv
row "$RUNS" round load target tps p95_ms queries cpu_s
run_one() { # ROUND LOAD TARGET
	local round=$1 load=$2 t=$3 dir=$WORK/t-$3 out c0="" c1="" cpu="" tps p95 q
	if [ -n "${PID[$t]:-}" ]; then c0=$(cpu_ticks "${PID[$t]}"); fi
	out=$(sb "${PORT[$t]}" "$load" run --threads="$THREADS" --time="$DURATION" \
		--report-interval=0 --percentile=95 2>&1) || {
		echo "$t $load round $round: sysbench failed: $(tail -n 5 <<<"$out")" >>"$FAILURES"
		return 0
	}
	echo "$out" >"$dir/$load.$round.log"
	if [ -n "${PID[$t]:-}" ]; then
		c1=$(cpu_ticks "${PID[$t]}")
		cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz }')
	fi
	tps=$(sed -n 's/.*transactions:.*(\([0-9.]*\) per sec.*/\1/p' <<<"$out")
	q=$(sed -n 's/^ *total: *\([0-9]*\)$/\1/p' <<<"$out" | head -n 1)
	p95=$(sed -n 's/.*95th percentile: *\([0-9.]*\).*/\1/p' <<<"$out")
	row "$RUNS" "$round" "$load" "$t" "$tps" "$p95" "$q" "$cpu"
	say "  round $round $load $t: $tps tps, p95 $p95 ms${cpu:+, proxy CPU $cpu s}"
}

{
	bench_header
	echo "mysql: $(mariadb --no-defaults -h 127.0.0.1 -P "$MY_PRIMARY_PORT" -u app -papp -N -B -e 'SELECT VERSION()'), $(sysbench --version)"
} >"$WORK/header.txt"

if [ -z "${SKIP_PREPARE:-}" ]; then
	say "sysbench prepare: $TABLES tables x $TABLE_SIZE rows (directly)"
	sb "$MY_PRIMARY_PORT" oltp_read_only cleanup >/dev/null 2>&1 || true
	sb "$MY_PRIMARY_PORT" oltp_read_only prepare >"$WORK/prepare.log" 2>&1 ||
		die "sysbench prepare failed: $(tail -n 20 "$WORK/prepare.log")"
fi

for t in "${TARGETS[@]}"; do start_my_target "$t"; done
for load in $LOADS; do # warm-up, unrecorded
	for t in "${TARGETS[@]}"; do
		sb "${PORT[$t]}" "$load" run --threads="$THREADS" --time=2 >/dev/null 2>&1 || true
	done
done
for round in $(seq 1 "$ROUNDS"); do
	n=${#TARGETS[@]}
	for load in $LOADS; do
		for i in $(seq 0 $((n - 1))); do
			run_one "$round" "$load" "${TARGETS[$(((i + round - 1) % n))]}"
		done
	done
done
proxy_log_problems switchyard "$WORK/t-switchyard/proxy.log" || true

{
	cat "$WORK/header.txt"
	echo "command: DURATION=$DURATION ROUNDS=$ROUNDS THREADS=$THREADS POOL_SIZE=$POOL_SIZE SY_WORKERS=$SY_WORKERS HAPROXY_THREADS=$HAPROXY_THREADS TABLES=$TABLES TABLE_SIZE=$TABLE_SIZE bench/mysql.sh"
	echo
	printf '%-18s %-16s %10s %8s %16s\n' load target tps p95_ms "cpu_s/10k_q"
	awk -F'\t' 'NR > 1 { k = $2 "\t" $3; n[k]++; tps[k, n[k]] = $4; p95[k, n[k]] = $5;
		if ($7 != "" && $6 > 0) cpu[k, n[k]] = $7 / $6 * 10000; else cpu[k, n[k]] = -1; order[k] = NR }
	function med(a, k, m,   i, j, t, v) {
		for (i = 1; i <= m; i++) v[i] = a[k, i] + 0
		for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
	END { for (k in n) { split(k, kk, "\t"); c = med(cpu, k, n[k]);
		printf "%-18s %-16s %10.0f %8.2f %16s\n", kk[1], kk[2], med(tps, k, n[k]), med(p95, k, n[k]),
			c < 0 ? "-" : sprintf("%.3f", c) } }' "$RUNS" | sort
	echo
	echo "medians over $ROUNDS rounds; cpu_s/10k_q: the proxy's utime+stime per 10,000 queries (sysbench's query count)"
	if [ -s "$FAILURES" ]; then
		echo
		echo "problems:"
		cat "$FAILURES"
	fi
} | tee "$WORK/report.txt"
