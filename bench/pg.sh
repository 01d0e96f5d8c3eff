#!/usr/bin/env bash
# pg.sh — the benchmark of issue 3: PostgreSQL directly, switchyard and
# PgBouncer (transaction pooling, same pool size) on select-only pgbench
# loads, interleaved, in one run; then memory per idle client and latency
# with 2,000 clients.
#
#   bench/pg.sh                               # defaults: about 13-15 minutes
#   DURATION=3 ROUNDS=1 EXTRA_ROUNDS=1 bench/pg.sh   # a quick look (~5 min)
#
# Loads (LOADS), all pgbench -S (one primary-key SELECT per transaction), -j 2:
#   simple     -M simple   -c 50
#   extended   -M extended -c 50
#   prepared   -M prepared -c 50 (PgBouncer 1.18 has no prepared statements
#              in transaction mode: run anyway, its errors are reported as
#              expected, and it is left out of the ratios)
#   connect    -M simple -C -c 20 (a new connection per transaction)
#   c500       -M simple -c 500 (direct: n/a when the server's
#              max_connections cannot take 500 clients)
#   (c500 and c2000 run -t N transactions per client, N = DURATION x TPS_GUESS
#   / clients, instead of -T: their logins alone can take longer than DURATION)
# then the extra measurements, on EXTRA_TARGETS:
#   c2000      -M simple -c 2000 (C2000_CLIENTS) over POOL_SIZE server
#              connections, EXTRA_ROUNDS rounds: p99 latency
#   idle       RSS per idle authenticated client: VmRSS before and after
#              IDLE_CLIENTS logins that stay idle (bench/idle_clients.py)
#   strace     STRACE=1: syscalls per transaction of each proxy (strace -c -f
#              -p PID during a STRACE_SECONDS simple run, 50 clients)
#
# For each load every proxy is started fresh and warmed up (WARMUP s); then in
# each of ROUNDS rounds every target runs once for DURATION s, in an order
# that rotates from round to round. The table gives per target the medians
# over the rounds of tps, mean and p99 latency (pgbench --log), the proxy's
# CPU seconds per 10k transactions (utime+stime from /proc/PID/stat around
# the run) and switchyard/PgBouncer ratios, then whether issue 3's targets
# were met in this run. See bench/README.md.
#
# Environment (defaults in brackets):
#   FLEET_DIR      a running fleet (tests/integration/fleet.sh start DIR);
#                  unset: start one in the work folder, destroy it at exit
#   BIN            switchyard binary [build/switchyard] (copied at the start)
#   DURATION       seconds per pgbench run [10]
#   ROUNDS         rounds per load [3]
#   LOADS          any of: simple extended prepared connect c500 [all]
#   EXTRAS         any of: c2000 idle strace [c2000 idle strace]
#   SY_WORKERS     switchyard variants by worker threads [1]; "1 2" adds a
#                  workers = 2 target (+25 % time)
#   SY_PIPELINE    pipeline depths to run as switchyard variants too
#                  [none]; "4" adds switchyard-w1-pipe4 (pipeline_depth = 4),
#                  "8b2" switchyard-w1-pipe8b2 (pipeline_depth = 8,
#                  pipeline_busy_servers = 2)
#   EXTRA_TARGETS  targets of the extras [switchyard-w1 pgbouncer]
#   EXTRA_ROUNDS   rounds of c2000 [2]
#   C2000_CLIENTS  [2000]; IDLE_CLIENTS [2000]; STRACE_SECONDS [5]
#   TPS_GUESS      sizes -t of c500 and c2000 [3000]
#   POOL_SIZE      server connections of switchyard and PgBouncer [20]
#   POOL_MODE      [transaction]
#   SCALE          pgbench -i -s, once, directly [10]; SKIP_INIT=1 skips it
#   WARMUP         seconds of unrecorded load per target and load [2]
#   SY_LOG_LEVEL   [info]
#   WORK_DIR       configs, logs, results [mktemp -d /tmp/switchyard-pg.XXXXXX]
#
# Exit status: 0 when every target started and every run ran (whatever the
# figures: timings never fail it; PgBouncer's errors with -M prepared and a
# direct run the server cannot take are expected and reported as n/a);
# 1 when a target did not start or a run failed unexpectedly (the report is
# printed anyway); 2 on a setup error.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_NAME=pg
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
LOADS=${LOADS:-simple extended prepared connect c500}
EXTRAS=${EXTRAS:-c2000 idle strace}
SY_WORKERS=${SY_WORKERS:-1}
EXTRA_TARGETS=${EXTRA_TARGETS:-switchyard-w1 pgbouncer}
EXTRA_ROUNDS=${EXTRA_ROUNDS:-2}
C2000_CLIENTS=${C2000_CLIENTS:-2000}
IDLE_CLIENTS=${IDLE_CLIENTS:-2000}
STRACE_SECONDS=${STRACE_SECONDS:-5}
POOL_SIZE=${POOL_SIZE:-20}
POOL_MODE=${POOL_MODE:-transaction}
SCALE=${SCALE:-10}
SKIP_INIT=${SKIP_INIT:-0}
WARMUP=${WARMUP:-2}
SY_LOG_LEVEL=${SY_LOG_LEVEL:-info}
HAPROXY_THREADS=1
THREADS=2

require_posint DURATION ROUNDS EXTRA_ROUNDS C2000_CLIENTS IDLE_CLIENTS STRACE_SECONDS POOL_SIZE SCALE
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a number of seconds"
case "$POOL_MODE" in transaction | session) ;; *) die "POOL_MODE must be transaction or session" ;; esac
for l in $LOADS; do
	case "$l" in simple | extended | prepared | connect | c500) ;; *) die "unknown load '$l'" ;; esac
done
for e in $EXTRAS; do
	case "$e" in c2000 | idle | strace) ;; *) die "unknown extra '$e' (c2000 idle strace)" ;; esac
done
TARGET_LIST=(direct)
for n in $SY_WORKERS; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "SY_WORKERS: '$n' is not a positive integer"
	TARGET_LIST+=("switchyard-w$n")
done
for d in ${SY_PIPELINE:-}; do
	[[ $d =~ ^([1-9][0-9]*)(b([0-9]+))?$ ]] || die "SY_PIPELINE: '$d' is not DEPTH or DEPTHbBUSY"
	TARGET_LIST+=("switchyard-w1-pipe$d")
	SY_CLUSTER_EXTRA[switchyard-w1-pipe$d]="pipeline_depth = ${BASH_REMATCH[1]}"
	[ -z "${BASH_REMATCH[3]}" ] ||
		SY_CLUSTER_EXTRA[switchyard-w1-pipe$d]+=$'\n'"pipeline_busy_servers = ${BASH_REMATCH[3]}"
done
TARGET_LIST+=(pgbouncer)
for t in $EXTRA_TARGETS; do
	case "$t" in pgbouncer | switchyard-w[1-9]*) ;; *) die "EXTRA_TARGETS: '$t' is not a proxy target" ;; esac
done
require_cmds pgbouncer psql ss "$PY"
case " $EXTRAS " in *" strace "*) require_cmds strace ;; esac

raise_nofile
bench_setup_work
RESULTS=$WORK/results.tsv
IDLE=$WORK/idle.tsv
STRACE_OUT=$WORK/strace.txt
bench_setup_fleet
bench_setup_binary
MAX_CONN=$(psql_at "$PG_PRIMARY_PORT" -c 'SHOW max_connections' 2>/dev/null) || MAX_CONN=
SUPERUSER_RESERVED=$(psql_at "$PG_PRIMARY_PORT" -c 'SHOW superuser_reserved_connections' 2>/dev/null) || SUPERUSER_RESERVED=3

# ------------------------------------------------------------------ loads
load_clients() {
	case "$1" in
	connect) echo 20 ;;
	c500) echo 500 ;;
	c2000) echo "$C2000_CLIENTS" ;;
	*) echo 50 ;;
	esac
}
# pgbench -T counts the logins, and logging 500 or 2,000 clients in (SCRAM)
# takes 5-30 s here: c500 and c2000 run a number of transactions per client
# instead (-t), about DURATION s at TPS_GUESS tps; tps is pgbench's
# "without initial connection time" either way.
TPS_GUESS=${TPS_GUESS:-3000}
load_run() { # LOAD: -T DURATION or -t N
	case "$1" in
	c500 | c2000) echo "-t $(((DURATION * TPS_GUESS + $(load_clients "$1") - 1) / $(load_clients "$1")))" ;;
	*) echo "-T $DURATION" ;;
	esac
}
load_args() { # LOAD: pgbench arguments but -T
	local c
	c=$(load_clients "$1")
	case "$1" in
	simple | extended | prepared) echo "-S -M $1 -c $c -j $THREADS" ;;
	connect) echo "-S -M simple -C -c $c -j $THREADS" ;;
	c500 | c2000) echo "-S -M simple -c $c -j $THREADS" ;;
	esac
}
# not_applicable LOAD TARGET: a reason when this target cannot run this load
# (printed as n/a, not run), else nothing.
not_applicable() {
	local c
	c=$(load_clients "$1")
	if [ "$2" = direct ] && [ -n "$MAX_CONN" ] && [ "$c" -gt $((MAX_CONN - SUPERUSER_RESERVED)) ]; then
		echo "the server's max_connections = $MAX_CONN cannot take $c clients"
	fi
}
# expected_failure LOAD TARGET: a reason when errors are expected, else nothing.
expected_failure() {
	if [ "$1" = prepared ] && [ "$2" = pgbouncer ] && [ "$POOL_MODE" = transaction ]; then
		echo "PgBouncer $(pgbouncer --version 2>/dev/null | sed -n '1s/PgBouncer //p') does not support protocol-level prepared statements in transaction mode"
	fi
}

warm_up() { # LOAD TARGET
	local args=() rc=0
	[ "$WARMUP" -gt 0 ] || return 0
	read -r -a args <<<"$(load_args "$1")"
	local run="-T $WARMUP"
	case "$1" in c500 | c2000) run="-t 2" ;; esac
	# shellcheck disable=SC2086
	PGPASSWORD=app timeout $((WARMUP + 180)) "$PGBENCH" -h 127.0.0.1 -p "${PORT[$2]}" -U app -n \
		$run "${args[@]}" app >"$WORK/$1/$2/warmup.out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ] && [ -z "$(expected_failure "$1" "$2")" ]; then
		echo "$1 warm-up: $2: pgbench exit $rc: $(grep -i -m 3 -E 'error|abort|fatal' "$WORK/$1/$2/warmup.out")" >>"$FAILURES"
	fi
}

STATUS=0
run_one() { # LOAD ROUND POSITION TARGET
	local l=$1 round=$2 pos=$3 t=$4 args=() na exp note=""
	na=$(not_applicable "$l" "$t")
	if [ -n "$na" ]; then
		row "$RESULTS" "$l" "$(load_clients "$l")" "$round" "$pos" "$t" "n/a" "" "" "" "" "" "" "" "" "$na"
		return
	fi
	if [ "$t" != direct ] && ! alive "$t"; then
		echo "$l round $round: $t is not running (died?) — restarting it; log tail:"$'\n'"$(tail -n 20 "$WORK/$l/$t/proxy.log" 2>/dev/null)" >>"$FAILURES"
		say "  $t is not running; restarting it"
		STATUS=1
		stop_target "$t"
		start_target "$t" "$WORK/$l/$t" || {
			row "$RESULTS" "$l" "$(load_clients "$l")" "$round" "$pos" "$t" "nostart"
			return
		}
	fi
	read -r -a args <<<"$(load_args "$l")"
	# shellcheck disable=SC2046
	LOGIN_ALLOWANCE=120 pgbench_run "$t" "$WORK/$l/$t/round$round" $(load_run "$l") "${args[@]}"
	exp=$(expected_failure "$l" "$t")
	if [ -n "$R_ERR" ]; then
		if [ -n "$exp" ]; then
			note="expected: $exp"
			echo "$l round $round: $t ($note): $R_ERR" >>"$WORK/expected.txt"
		else
			echo "$l round $round: $t: $R_ERR" >>"$FAILURES"
			[ "$R_RC" = 97 ] || STATUS=1
		fi
	fi
	row "$RESULTS" "$l" "$(load_clients "$l")" "$round" "$pos" "$t" "$R_RC" "$R_TPS" "$R_TX" "${R_FAILED:-0}" \
		"$R_MEAN" "$R_P50" "$R_P99" "$R_CPU" "$R_CONN" "$note"
	say "  round $round #$pos $t: rc=$R_RC tps=${R_TPS:-?} mean=${R_MEAN:-?}ms p99=${R_P99:-?}ms${R_CPU:+ cpu=${R_CPU}us/tx}"
}

# run_load LOAD TARGET...: start the targets, warm up, ROUNDS rotating rounds.
run_load() {
	local l=$1 rounds=$2 t r i n
	shift 2
	local targets=("$@")
	declare -A up=()
	say "load $l ($(load_args "$l")): starting the targets"
	for t in "${targets[@]}"; do
		if [ -n "$(not_applicable "$l" "$t")" ]; then
			say "  $t: n/a: $(not_applicable "$l" "$t")"
			up[$t]=1
		elif start_target "$t" "$WORK/$l/$t"; then up[$t]=1; else
			say "  $t failed to start (see $FAILURES)"
			STATUS=1
		fi
	done
	# c2000: no warm-up (its 2,000 logins would take longer than the run;
	# the pool is full after the first seconds of the first round anyway).
	for t in "${targets[@]}"; do
		[ "$l" != c2000 ] && [ -n "${up[$t]:-}" ] && [ -z "$(not_applicable "$l" "$t")" ] && warm_up "$l" "$t"
	done
	n=${#targets[@]}
	for ((r = 1; r <= rounds; r++)); do
		say "load $l round $r/$rounds"
		for ((i = 0; i < n; i++)); do
			t=${targets[$(((i + r - 1) % n))]}
			if [ -z "${up[$t]:-}" ]; then
				row "$RESULTS" "$l" "$(load_clients "$l")" "$r" "$((i + 1))" "$t" "nostart"
				continue
			fi
			run_one "$l" "$r" "$((i + 1))" "$t"
		done
	done
	for t in "${targets[@]}"; do
		if [[ $t == switchyard-w* ]]; then
			alive "$t" || [ -z "${up[$t]:-}" ] || echo "$l: $t was not running at the end of the load" >>"$FAILURES"
			proxy_log_problems "$l: $t" "$WORK/$l/$t/proxy.log"
		fi
		stop_target "$t"
	done
}

# ------------------------------------------------------------------ extras
run_idle() { # TARGET: RSS per idle authenticated client
	local t=$1 dir out rc=0
	dir=$WORK/idle/$t
	start_target "$t" "$dir" || {
		STATUS=1
		return
	}
	out=$(timeout 600 "$PY" "$HERE/idle_clients.py" "${PORT[$t]}" "${PID[$t]}" "$IDLE_CLIENTS" 2>&1) || rc=$?
	echo "$out" >"$dir/idle.out"
	say "  idle $t: $out"
	if [ "$rc" -ne 0 ]; then
		echo "idle: $t: idle_clients.py exit $rc: $(tail -n 3 <<<"$out")" >>"$FAILURES"
		STATUS=1
	fi
	row "$IDLE" "$t" \
		"$(sed -n 's/.*clients=\([0-9]*\).*/\1/p' <<<"$out")" \
		"$(sed -n 's/.*before_kb=\([0-9]*\).*/\1/p' <<<"$out")" \
		"$(sed -n 's/.*after_kb=\([0-9]*\).*/\1/p' <<<"$out")" \
		"$(sed -n 's/.*bytes_per_client=\([0-9.na]*\).*/\1/p' <<<"$out")" \
		"$(sed -n 's/.*login_s=\([0-9.]*\).*/\1/p' <<<"$out")"
	[[ $t == switchyard-w* ]] && proxy_log_problems "idle: $t" "$dir/proxy.log"
	stop_target "$t"
}

STRACE_PID=
# shellcheck disable=SC2317 # called from bench_cleanup
bench_cleanup_hook() { [ -n "$STRACE_PID" ] && stop_pid "$STRACE_PID" INT; }
run_strace() { # TARGET: syscalls per transaction during a short simple run
	local t=$1 dir tx
	dir=$WORK/strace/$t
	start_target "$t" "$dir" || {
		STATUS=1
		return
	}
	PGPASSWORD=app timeout 60 "$PGBENCH" -h 127.0.0.1 -p "${PORT[$t]}" -U app -n -T 1 -S -M simple -c 50 -j 2 app \
		>"$dir/warmup.out" 2>&1
	strace -c -f -p "${PID[$t]}" -o "$dir/strace.out" 2>"$dir/strace.err" &
	STRACE_PID=$!
	sleep 1 # attached
	PGPASSWORD=app timeout $((STRACE_SECONDS + 60)) "$PGBENCH" -h 127.0.0.1 -p "${PORT[$t]}" -U app -n \
		-T "$STRACE_SECONDS" -S -M simple -c 50 -j 2 app >"$dir/pgbench.out" 2>&1
	stop_pid "$STRACE_PID" INT
	STRACE_PID=
	tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$dir/pgbench.out")
	{
		printf '%s (pgbench -S -M simple -c 50 -j 2 -T %s under strace, %s transactions): ' "$t" "$STRACE_SECONDS" "${tx:-?}"
		if [ -n "$tx" ] && [ "$tx" -gt 0 ] && [ -s "$dir/strace.out" ]; then
			awk -v tx="$tx" '
				$1 ~ /^[0-9.]+$/ && NF >= 5 {
					name = $NF; calls = $4; errs = (NF == 6) ? $5 : 0
					if (name == "total") next
					total += calls
					if (calls / tx >= 0.05) {
						s = s sprintf("%s%.2f %s", (s == "" ? "" : ", "), calls / tx, name)
						if (errs > 0) s = s sprintf(" (%.2f errors)", errs / tx)
					}
				}
				END { printf "%.2f syscalls/tx: %s\n", total / tx, s }' "$dir/strace.out"
		else
			echo "no figures (strace: $(head -c 200 "$dir/strace.err"))"
		fi
	} >>"$STRACE_OUT"
	stop_target "$t"
}

# ------------------------------------------------------------------ main
{
	bench_header
	echo "loads: $LOADS (-T $DURATION; c500, c2000: -t for ~$DURATION s at $TPS_GUESS tps; $ROUNDS rounds, rotating order); extras: $EXTRAS on $EXTRA_TARGETS"
	echo "proxies: $POOL_MODE pooling, $POOL_SIZE server connections; switchyard workers: $SY_WORKERS; server max_connections ${MAX_CONN:-?}"
	echo "targets: ${TARGET_LIST[*]}; fd limit $(ulimit -n)"
	echo "work dir: $WORK"
} | tee "$WORK/header.txt" >&2

[ "$SKIP_INIT" = 1 ] || pgbench_init "$SCALE"
printf 'load\tclients\tround\tposition\ttarget\trc\ttps\ttransactions\tfailed\tmean_ms\tp50_ms\tp99_ms\tcpu_us_per_tx\tconn_ms\tnote\n' >"$RESULTS"
printf 'target\tclients\tbefore_kb\tafter_kb\tbytes_per_client\tlogin_s\n' >"$IDLE"
: >"$STRACE_OUT"
: >"$WORK/expected.txt"
START=$(date +%s)

for l in $LOADS; do
	run_load "$l" "$ROUNDS" "${TARGET_LIST[@]}"
done
read -r -a EXTRA_LIST <<<"$EXTRA_TARGETS"
for e in $EXTRAS; do
	case "$e" in
	c2000) run_load c2000 "$EXTRA_ROUNDS" "${EXTRA_LIST[@]}" ;;
	idle) for t in "${EXTRA_LIST[@]}"; do run_idle "$t"; done ;;
	strace) for t in "${EXTRA_LIST[@]}"; do run_strace "$t"; done ;;
	esac
done

{
	echo
	cat "$WORK/header.txt"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); wall time $((($(date +%s) - START) / 60)) min $((($(date +%s) - START) % 60)) s"
	echo
	"$PY" "$HERE/summarize.py" "$RESULTS" --idle "$IDLE"
	if [ -s "$STRACE_OUT" ]; then
		echo "syscalls per transaction (strace -c -f -p PID):"
		sed 's/^/  /' "$STRACE_OUT"
		echo
	fi
	if [ -s "$WORK/expected.txt" ]; then
		echo "expected errors (not counted):"
		sed 's/^/  /' "$WORK/expected.txt"
	fi
	if [ -s "$FAILURES" ]; then
		echo "problems seen (details under $WORK):"
		sed 's/^/  /' "$FAILURES"
	fi
	echo "per-run rows: $RESULTS"
} | tee "$WORK/summary.txt"
"$PY" "$HERE/summarize.py" "$RESULTS" --idle "$IDLE" --markdown >"$WORK/summary.md" 2>/dev/null || true
exit "$STATUS"
