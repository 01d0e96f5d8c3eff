#!/usr/bin/env bash
# pg_compare.sh — the same pgbench load against PostgreSQL directly,
# switchyard, PgBouncer and HAProxy (TCP mode), interleaved, in one run.
#
#   bench/pg_compare.sh                    # defaults: 7-8 minutes
#   DURATION=5 ROUNDS=1 bench/pg_compare.sh   # a quick look
#
# For each workload, every target (proxy) is started fresh; then for each
# round every target runs pgbench once, in an order that rotates from round
# to round (so no target always runs first, or right after another). At the
# end a table per workload gives, per target, medians over the rounds of:
# tps, latency p50/p95/p99 (from pgbench --log per-transaction logs), the
# proxy's CPU time per transaction (utime+stime of the proxy process from
# /proc/PID/stat, before/after the run, in µs) and its memory per client
# (peak VmRSS during the run minus VmRSS when idle after start, divided by
# the clients, in kB), with ratios against direct and against PgBouncer.
# See bench/README.md.
#
# Environment (defaults in brackets):
#   FLEET_DIR        a running fleet (tests/integration/fleet.sh start DIR);
#                    unset: start one in the work folder, destroy it at exit
#   BIN              switchyard binary [build/switchyard] (built with make if missing)
#   DURATION         seconds per pgbench run [10]
#   ROUNDS           rounds per workload [3]
#   WORKLOADS        any of: select tpcb [select tpcb]
#   SELECT_CLIENTS   clients of the select-only workload (pgbench -S) [50]
#   TPCB_CLIENTS     clients of the TPC-B-like workload (pgbench default script) [20]
#   THREADS          pgbench -j [2]
#   PROTOCOL         pgbench -M: simple, extended or prepared [simple]
#   SCALE            pgbench -i -s, run once directly at the start [10]; SKIP_INIT=1 skips it
#   POOL_SIZE        server connections of switchyard and PgBouncer [20]
#   POOL_MODE        transaction or session, for switchyard and PgBouncer [transaction]
#   SY_WORKERS       switchyard variants by worker threads [1 2]
#   SY_LOG_LEVEL     switchyard log_level [info]
#   HAPROXY_THREADS  haproxy nbthread [1]
#   TARGETS          subset/order of: direct switchyard-wN pgbouncer haproxy [all]
#   WORK_DIR         where configs, logs and results go [mktemp -d /tmp/switchyard-bench.XXXXXX];
#                    the postgres user must be able to reach it (PgBouncer runs as postgres)
#   WARMUP           seconds of unrecorded pgbench per target after it starts,
#                    so that pools are full before the first measured run [2]; 0: none
#   PGBENCH_EXTRA    extra pgbench arguments for every run
#
# Exit status: 0 when every pgbench run of every target succeeded, whatever
# the figures; 1 when a run failed (pgbench error, failed transactions) or a
# target could not be started (the table is printed anyway); 2 on a setup
# error. Timings never fail it: a run that completed no transaction within
# DURATION (very slow logins) is reported and left out of the medians only.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_NAME=pg_compare
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
WORKLOADS=${WORKLOADS:-select tpcb}
SELECT_CLIENTS=${SELECT_CLIENTS:-50}
TPCB_CLIENTS=${TPCB_CLIENTS:-20}
THREADS=${THREADS:-2}
PROTOCOL=${PROTOCOL:-simple}
SCALE=${SCALE:-10}
SKIP_INIT=${SKIP_INIT:-0}
POOL_SIZE=${POOL_SIZE:-20}
POOL_MODE=${POOL_MODE:-transaction}
SY_WORKERS=${SY_WORKERS:-1 2}
SY_LOG_LEVEL=${SY_LOG_LEVEL:-info}
HAPROXY_THREADS=${HAPROXY_THREADS:-1}
PGBENCH_EXTRA=${PGBENCH_EXTRA:-}
WARMUP=${WARMUP:-2}

case "$PROTOCOL" in simple | extended | prepared) ;; *) die "PROTOCOL must be simple, extended or prepared" ;; esac
case "$POOL_MODE" in transaction | session) ;; *) die "POOL_MODE must be transaction or session" ;; esac
require_posint DURATION ROUNDS SELECT_CLIENTS TPCB_CLIENTS THREADS SCALE POOL_SIZE HAPROXY_THREADS
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a number of seconds"
for w in $WORKLOADS; do
	case "$w" in select | tpcb) ;; *) die "unknown workload '$w' (select, tpcb)" ;; esac
done
require_cmds pgbouncer haproxy psql ss "$PY"

ALL_TARGETS="direct"
for n in $SY_WORKERS; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "SY_WORKERS: '$n' is not a positive integer"
	ALL_TARGETS+=" switchyard-w$n"
done
ALL_TARGETS+=" pgbouncer haproxy"
TARGETS=${TARGETS:-$ALL_TARGETS}
for t in $TARGETS; do
	case "$t" in direct | pgbouncer | haproxy | switchyard-w[1-9]*) ;; *) die "unknown target '$t'" ;; esac
done
read -r -a TARGET_LIST <<<"$TARGETS"

raise_nofile
bench_setup_work
RESULTS=$WORK/results.tsv
bench_setup_fleet
bench_setup_binary

# ------------------------------------------------------------------ one run
wl_clients() { if [ "$1" = select ]; then echo "$SELECT_CLIENTS"; else echo "$TPCB_CLIENTS"; fi; }
wl_args() { if [ "$1" = select ]; then echo "-S"; fi; }
# warm_up WORKLOAD TARGET: WARMUP seconds of the workload, not recorded.
warm_up() {
	local wl=$1 t=$2 rc=0 args=()
	[ "$WARMUP" -gt 0 ] || return 0
	read -r -a args <<<"$(wl_args "$wl")"
	# shellcheck disable=SC2086
	PGPASSWORD=app timeout $((WARMUP + 60)) "$PGBENCH" -h 127.0.0.1 -p "${PORT[$t]}" -U app \
		-n -M "$PROTOCOL" -T "$WARMUP" -c "$(wl_clients "$wl")" -j "$THREADS" "${args[@]}" \
		$PGBENCH_EXTRA app >"$WORK/$wl/$t/warmup.out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "$wl warm-up: $t: pgbench exit $rc: $(grep -i -m 3 -E 'error|abort|fatal' "$WORK/$wl/$t/warmup.out")" >>"$FAILURES"
	fi
}
# run_one WORKLOAD ROUND POSITION TARGET: one pgbench run; appends a row to
# $RESULTS.
run_one() {
	local wl=$1 round=$2 pos=$3 t=$4 clients mem="" args=()
	clients=$(wl_clients "$wl")
	read -r -a args <<<"$(wl_args "$wl")"
	case "$wl" in
	tpcb)
		# What pgbench does before a run unless -n; done directly, so that it is
		# the same for every target and not part of what a proxy is measured on.
		psql_at "$PG_PRIMARY_PORT" -c 'VACUUM pgbench_branches' -c 'VACUUM pgbench_tellers' \
			-c 'TRUNCATE pgbench_history' >/dev/null 2>&1 || say "  (vacuum before the run failed)"
		;;
	esac
	if [ "$t" != direct ] && ! alive "$t"; then
		echo "$wl round $round: $t is not running (died?) — restarting it; log tail:"$'\n'"$(tail -n 20 "$WORK/$wl/$t/proxy.log" 2>/dev/null)" >>"$FAILURES"
		say "  $t is not running; restarting it"
		stop_target "$t"
		start_target "$t" "$WORK/$wl/$t" || {
			row "$RESULTS" "$wl" "$clients" "$round" "$pos" "$t" "nostart"
			return
		}
	fi
	# shellcheck disable=SC2086
	pgbench_run "$t" "$WORK/$wl/$t/round$round" -M "$PROTOCOL" -T "$DURATION" -c "$clients" -j "$THREADS" \
		"${args[@]}" $PGBENCH_EXTRA
	[ -n "$R_ERR" ] && echo "$wl round $round: $t: $R_ERR" >>"$FAILURES"
	if [ -n "$R_PEAK" ] && [ -n "${IDLE_RSS[$t]:-}" ]; then
		mem=$(awk -v p="$R_PEAK" -v i="${IDLE_RSS[$t]}" -v c="$clients" 'BEGIN { printf "%.1f", (p - i) / c }')
	fi
	row "$RESULTS" "$wl" "$clients" "$round" "$pos" "$t" "$R_RC" "$R_TPS" "$R_TX" "${R_FAILED:-0}" \
		"$R_P50" "$R_P95" "$R_P99" "$R_CPU" "$mem" "${IDLE_RSS[$t]:-}" "$R_PEAK" "$R_CONN"
	say "  round $round #$pos $t: rc=$R_RC tps=${R_TPS:-?} p50=${R_P50:-?}ms p99=${R_P99:-?}ms${R_CPU:+ cpu=${R_CPU}us/tx}${mem:+ mem=${mem}kB/client}"
}

# ------------------------------------------------------------------ main
{
	bench_header
	echo "load: pgbench -M $PROTOCOL -T $DURATION -j $THREADS; select: -S -c $SELECT_CLIENTS; tpcb: -c $TPCB_CLIENTS; $ROUNDS round(s); scale $SCALE"
	echo "proxies: $POOL_MODE pooling, $POOL_SIZE server connections; switchyard workers: $SY_WORKERS; haproxy nbthread $HAPROXY_THREADS"
	echo "targets: ${TARGET_LIST[*]}"
	echo "work dir: $WORK"
} | tee "$WORK/header.txt" >&2

[ "$SKIP_INIT" = 1 ] || pgbench_init "$SCALE"

printf 'workload\tclients\tround\tposition\ttarget\trc\ttps\ttransactions\tfailed\tp50_ms\tp95_ms\tp99_ms\tcpu_us_per_tx\trss_kb_per_client\tidle_rss_kb\tpeak_rss_kb\tconn_ms\n' >"$RESULTS"

STATUS=0
for wl in $WORKLOADS; do
	say "workload $wl: starting the targets"
	declare -A UP=()
	for t in "${TARGET_LIST[@]}"; do
		if start_target "$t" "$WORK/$wl/$t"; then UP[$t]=1; else
			say "  $t failed to start (see $FAILURES)"
			STATUS=1
		fi
	done
	if [ "$WARMUP" -gt 0 ]; then
		say "workload $wl: ${WARMUP}s warm-up per target"
		for t in "${TARGET_LIST[@]}"; do
			[ -n "${UP[$t]:-}" ] && warm_up "$wl" "$t"
		done
	fi
	n=${#TARGET_LIST[@]}
	for ((r = 1; r <= ROUNDS; r++)); do
		say "workload $wl round $r/$ROUNDS"
		for ((i = 0; i < n; i++)); do
			t=${TARGET_LIST[$(((i + r - 1) % n))]}
			if [ -z "${UP[$t]:-}" ]; then
				row "$RESULTS" "$wl" "$(wl_clients "$wl")" "$r" "$((i + 1))" "$t" "nostart"
				continue
			fi
			run_one "$wl" "$r" "$((i + 1))" "$t"
		done
	done
	for t in "${TARGET_LIST[@]}"; do
		if [[ $t == switchyard-w* ]] && [ -f "$WORK/$wl/$t/proxy.log" ]; then
			if ! alive "$t"; then
				echo "$wl: $t was not running at the end of the workload" >>"$FAILURES"
			fi
			proxy_log_problems "$wl: $t" "$WORK/$wl/$t/proxy.log"
		fi
		stop_target "$t"
	done
	unset UP
done

# rc 97 (no transaction completed in time) is slowness: it does not fail the run.
awk -F'\t' 'NR > 1 && $6 != "0" && $6 != "97" { bad = 1 } END { exit bad ? 1 : 0 }' "$RESULTS" || STATUS=1

{
	echo
	cat "$WORK/header.txt"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other processes of the machine compete for its $(nproc) CPUs)"
	echo
	"$PY" "$HERE/summarize.py" "$RESULTS"
	if [ -s "$FAILURES" ]; then
		echo "problems seen (details under $WORK):"
		sed 's/^/  /' "$FAILURES"
	fi
	echo "per-run rows: $RESULTS"
} | tee "$WORK/summary.txt"
"$PY" "$HERE/summarize.py" "$RESULTS" --markdown >"$WORK/summary.md" 2>/dev/null || true
exit "$STATUS"
