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
#   PROTOCOL         pgbench -M: simple or extended [simple]
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
ROOT=$(cd "$HERE/.." && pwd)

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
BIN=${BIN:-$ROOT/build/switchyard}
PY=${PY:-python3}

say() { echo "[$(date +%T)] $*" >&2; }
die() {
	echo "pg_compare: $*" >&2
	exit 2
}

case "$PROTOCOL" in simple | extended) ;; *) die "PROTOCOL must be simple or extended (switchyard does not support -M prepared in transaction mode yet)" ;; esac
case "$POOL_MODE" in transaction | session) ;; *) die "POOL_MODE must be transaction or session" ;; esac
for v in DURATION ROUNDS SELECT_CLIENTS TPCB_CLIENTS THREADS SCALE POOL_SIZE HAPROXY_THREADS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a number of seconds"
for w in $WORKLOADS; do
	case "$w" in select | tpcb) ;; *) die "unknown workload '$w' (select, tpcb)" ;; esac
done
for c in pgbouncer haproxy psql ss "$PY"; do
	command -v "$c" >/dev/null || die "$c not found (scripts/install-deps.sh installs the benchmark's dependencies)"
done

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

if [ -n "${WORK_DIR:-}" ]; then
	mkdir -p "$WORK_DIR" || die "cannot create $WORK_DIR"
	WORK=$(cd "$WORK_DIR" && pwd)
else
	WORK=$(mktemp -d /tmp/switchyard-bench.XXXXXX) || die "mktemp failed"
fi
chmod 755 "$WORK" # pgbouncer runs as postgres and reads its files here
RESULTS=$WORK/results.tsv
FAILURES=$WORK/failures.txt
: >"$FAILURES"

# ------------------------------------------------------------------ cleanup
declare -A PID=() PORT=() IDLE_RSS=()
OWN_FLEET=0
SAMPLER_PID=
stop_pid() { # PID [SIGNAL]: signal, wait up to 5 s, then SIGKILL
	local pid=$1 sig=${2:-TERM} i
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null || return 0
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	local t
	trap - EXIT INT TERM
	[ -n "$SAMPLER_PID" ] && stop_pid "$SAMPLER_PID"
	for t in "${!PID[@]}"; do stop_target "$t"; done
	if [ "$OWN_FLEET" = 1 ]; then
		say "destroying the fleet in $WORK/fleet"
		"$ROOT/tests/integration/fleet.sh" destroy "$WORK/fleet" >/dev/null 2>&1 ||
			"$ROOT/tests/integration/fleet.sh" stop "$WORK/fleet" >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

# ------------------------------------------------------------------ fleet
if [ -n "${FLEET_DIR:-}" ]; then
	[ -f "$FLEET_DIR/fleet.env" ] || die "FLEET_DIR=$FLEET_DIR has no fleet.env"
else
	FLEET_DIR=$WORK/fleet
	say "starting a fleet in $FLEET_DIR"
	OWN_FLEET=1
	timeout 180 "$ROOT/tests/integration/fleet.sh" start "$FLEET_DIR" >"$WORK/fleet.log" 2>&1 ||
		die "fleet.sh start failed:"$'\n'"$(tail -n 20 "$WORK/fleet.log")"
fi
# shellcheck disable=SC1091
. "$FLEET_DIR/fleet.env"
PGBENCH=${PG_BIN:-/usr/lib/postgresql/15/bin}/pgbench
[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench) || die "pgbench not found"
PG_ADDR=127.0.0.1:$PG_PRIMARY_PORT

if [ ! -x "$BIN" ]; then
	say "building switchyard"
	make -C "$ROOT" >"$WORK/make.log" 2>&1 || die "make failed:"$'\n'"$(tail -n 20 "$WORK/make.log")"
fi
[ -x "$BIN" ] || die "no switchyard binary at $BIN"
BIN=$(realpath "$BIN")
BIN_SRC=$BIN
# A private copy: a rebuild of build/switchyard during the run must not mix binaries.
cp "$BIN" "$WORK/switchyard" || die "cannot copy $BIN"
BIN=$WORK/switchyard

# ------------------------------------------------------------------ helpers
port_listening() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
TAKEN=" "
free_port() {
	local p i
	for i in $(seq 1 500); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		case "$TAKEN" in *" $p "*) continue ;; esac
		if ! port_listening "$p"; then
			TAKEN+="$p "
			echo "$p"
			return 0
		fi
	done
	die "no free port"
}
psql_at() { # PORT ARGS... (as app/app, database app)
	local port=$1
	shift
	PGPASSWORD=app PGCONNECT_TIMEOUT=10 timeout 120 psql -X -A -t -q -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$port" -U app -d app "$@"
}
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # PID: utime+stime in clock ticks
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo ""
		return
	}
	s=${s##*) }
	# shellcheck disable=SC2086
	set -- $s
	echo $((${12} + ${13}))
}
rss_kb() { # PID: VmRSS in kB
	local k v _
	while read -r k v _; do
		if [ "$k" = "VmRSS:" ]; then
			echo "$v"
			return
		fi
	done <"/proc/$1/status" 2>/dev/null
	echo ""
}
rss_sampler() { # PID OUTFILE: keeps the peak VmRSS in OUTFILE until killed
	local pid=$1 out=$2 max=0 v
	while kill -0 "$pid" 2>/dev/null; do
		v=$(rss_kb "$pid")
		if [ -n "$v" ] && [ "$v" -gt "$max" ]; then
			max=$v
			echo "$max" >"$out"
		fi
		sleep 0.2
	done
}
alive() { [ -n "${PID[$1]:-}" ] && kill -0 "${PID[$1]}" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/${PID[$1]}/status" 2>/dev/null; }
wait_listen() { # PORT PID SECONDS
	local i
	for i in $(seq 1 $(($3 * 10))); do
		port_listening "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# ------------------------------------------------------------------ targets
# start_target NAME WORKLOAD: start the proxy (no-op for direct), check that
# a query goes through, record its idle RSS. Returns non-zero on failure.
start_target() {
	local t=$1 wl=$2 dir port pid
	dir=$WORK/$wl/$t
	mkdir -p "$dir"
	chmod 755 "$WORK/$wl" "$dir"
	case "$t" in
	direct)
		PORT[$t]=$PG_PRIMARY_PORT
		PID[$t]=
		return 0
		;;
	switchyard-w*)
		port=$(free_port)
		cat >"$dir/switchyard.ini" <<EOF
; written by bench/pg_compare.sh
[switchyard]
workers = ${t#switchyard-w}
log_level = $SY_LOG_LEVEL
stats_listen =
shutdown_timeout = 2s

[listen.pg]
protocol = postgres
address = 127.0.0.1:$port

[cluster.app]
protocol = postgres
primary = $PG_ADDR
pool_mode = $POOL_MODE
pool_size = $POOL_SIZE

[user.app]
password = app
EOF
		"$BIN" -c "$dir/switchyard.ini" >>"$dir/proxy.log" 2>&1 &
		pid=$!
		;;
	pgbouncer)
		port=$(free_port)
		printf '"app" "app"\n' >"$dir/userlist.txt"
		cat >"$dir/pgbouncer.ini" <<EOF
; written by bench/pg_compare.sh
[databases]
app = host=127.0.0.1 port=$PG_PRIMARY_PORT dbname=app

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = $POOL_MODE
default_pool_size = $POOL_SIZE
max_client_conn = 10000
logfile = $dir/proxy.log
pidfile = $dir/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
EOF
		rm -f "$dir/pgbouncer.pid"
		# PgBouncer refuses to run as root: run it as postgres (the fleet's user).
		if [ "$(id -u)" -eq 0 ]; then
			chown -R postgres "$dir"
			(cd / && exec runuser -u postgres -- pgbouncer "$dir/pgbouncer.ini") >>"$dir/stdout.log" 2>&1 &
		else
			pgbouncer "$dir/pgbouncer.ini" >>"$dir/stdout.log" 2>&1 &
		fi
		local launcher=$! i
		pid=
		for i in $(seq 1 100); do
			if [ -s "$dir/pgbouncer.pid" ]; then
				pid=$(cat "$dir/pgbouncer.pid")
				break
			fi
			kill -0 "$launcher" 2>/dev/null || break
			sleep 0.1
		done
		if [ -z "$pid" ]; then
			echo "$t: pgbouncer did not start:"$'\n'"$(tail -n 20 "$dir/stdout.log" "$dir/proxy.log" 2>/dev/null)" >>"$FAILURES"
			return 1
		fi
		;;
	haproxy)
		port=$(free_port)
		cat >"$dir/haproxy.cfg" <<EOF
# written by bench/pg_compare.sh
global
    maxconn 4096
    nbthread $HAPROXY_THREADS

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h

frontend pg
    bind 127.0.0.1:$port
    default_backend primary

backend primary
    server primary $PG_ADDR
EOF
		haproxy -db -f "$dir/haproxy.cfg" >>"$dir/proxy.log" 2>&1 &
		pid=$!
		;;
	esac
	PID[$t]=$pid
	PORT[$t]=$port
	if ! wait_listen "$port" "$pid" 10; then
		echo "$t: did not listen on 127.0.0.1:$port within 10 s; log:"$'\n'"$(tail -n 20 "$dir/proxy.log" "$dir/stdout.log" 2>/dev/null)" >>"$FAILURES"
		stop_target "$t"
		return 1
	fi
	local out
	if ! out=$(psql_at "$port" -c 'SELECT 1' 2>&1) || [ "$out" != 1 ]; then
		echo "$t: SELECT 1 through it failed: $out"$'\n'"$(tail -n 20 "$dir/proxy.log" 2>/dev/null)" >>"$FAILURES"
		stop_target "$t"
		return 1
	fi
	sleep 0.5
	IDLE_RSS[$t]=$(rss_kb "$pid")
	say "  $t: pid $pid on 127.0.0.1:$port, idle RSS ${IDLE_RSS[$t]} kB"
	return 0
}
stop_target() {
	local t=$1 pid=${PID[$1]:-}
	unset 'PID[$t]'
	[ -n "$pid" ] || return 0
	if [ "$t" = pgbouncer ]; then
		stop_pid "$pid" INT # safe shutdown; the launcher (runuser) exits with it
	else
		stop_pid "$pid" TERM
	fi
}

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
row() { # FIELDS...: one tab-separated row of $RESULTS (missing fields empty)
	local IFS=$'\t'
	echo "$*" >>"$RESULTS"
}
# run_one WORKLOAD ROUND POSITION TARGET: one pgbench run; appends a row to
# $RESULTS.
run_one() {
	local wl=$1 round=$2 pos=$3 t=$4 clients dir out rc=0 args=()
	dir=$WORK/$wl/$t/round$round
	mkdir -p "$dir"
	chmod 755 "$dir"
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
	local pid=${PID[$t]:-} t0="" t1="" cpu="" mem="" peak=""
	if [ "$t" != direct ] && ! alive "$t"; then
		echo "$wl round $round: $t is not running (died?) — restarting it; log tail:"$'\n'"$(tail -n 20 "$WORK/$wl/$t/proxy.log" 2>/dev/null)" >>"$FAILURES"
		say "  $t is not running; restarting it"
		stop_target "$t"
		start_target "$t" "$wl" || {
			row "$wl" "$clients" "$round" "$pos" "$t" "nostart"
			return
		}
		pid=${PID[$t]}
	fi
	if [ -n "$pid" ]; then
		: >"$dir/peak_rss"
		rss_sampler "$pid" "$dir/peak_rss" &
		SAMPLER_PID=$!
		t0=$(cpu_ticks "$pid")
	fi
	# shellcheck disable=SC2086
	PGPASSWORD=app timeout $((DURATION + 60)) "$PGBENCH" -h 127.0.0.1 -p "${PORT[$t]}" -U app \
		-n -M "$PROTOCOL" -T "$DURATION" -c "$clients" -j "$THREADS" "${args[@]}" \
		--log --log-prefix="$dir/tx" $PGBENCH_EXTRA app >"$dir/pgbench.out" 2>&1 || rc=$?
	if [ -n "$pid" ]; then
		t1=$(cpu_ticks "$pid")
		stop_pid "$SAMPLER_PID"
		SAMPLER_PID=
		peak=$(cat "$dir/peak_rss" 2>/dev/null)
	fi
	out=$(cat "$dir/pgbench.out")
	local tps tx failed conn lat
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' <<<"$out" | head -n 1)
	tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out" | head -n 1)
	failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out" | head -n 1)
	conn=$(sed -n 's/^initial connection time = \([0-9.]*\) ms.*/\1/p' <<<"$out" | head -n 1)
	if [ "$rc" -eq 0 ] && { [ -z "$tps" ] || [ -z "$tx" ] || [ "$tx" -eq 0 ]; }; then rc=97; fi
	if [ "$rc" -eq 0 ] && [ -n "$failed" ] && [ "$failed" -gt 0 ]; then rc=98; fi
	if [ "$rc" -eq 97 ]; then
		# Slowness, not an error: timings never fail the script.
		echo "$wl round $round: $t: no transaction completed in ${DURATION}s (initial connection time ${conn:-?} ms); not counted; DURATION too short for this machine?" >>"$FAILURES"
	elif [ "$rc" -ne 0 ]; then
		{
			echo "$wl round $round: $t: pgbench exit $rc:"
			echo "  PGPASSWORD=app $PGBENCH -h 127.0.0.1 -p ${PORT[$t]} -U app -n -M $PROTOCOL -T $DURATION -c $clients -j $THREADS ${args[*]} app"
			grep -E -i 'error|abort|fatal|failed|could not' "$dir/pgbench.out" | sort | uniq -c | sort -rn | head -n 10 | sed 's/^/  /'
			tail -n 5 "$dir/pgbench.out" | sed 's/^/  /'
		} >>"$FAILURES"
	fi
	local p50="" p95="" p99=""
	if compgen -G "$dir/tx.*" >/dev/null; then
		lat=$("$PY" "$HERE/pgbench_latency.py" "$dir"/tx.* 2>/dev/null)
		echo "$lat" >"$dir/latency.txt"
		p50=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$lat")
		p95=$(sed -n 's/.*p95_ms=\([0-9.]*\).*/\1/p' <<<"$lat")
		p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$lat")
		rm -f "$dir"/tx.* # per-transaction logs are large
	fi
	if [ -n "$t0" ] && [ -n "$t1" ] && [ -n "$tx" ] && [ "$tx" -gt 0 ]; then
		cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v n="$tx" 'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }')
	fi
	if [ -n "$peak" ] && [ -n "${IDLE_RSS[$t]:-}" ]; then
		mem=$(awk -v p="$peak" -v i="${IDLE_RSS[$t]}" -v c="$clients" 'BEGIN { printf "%.1f", (p - i) / c }')
	fi
	row "$wl" "$clients" "$round" "$pos" "$t" "$rc" "$tps" "$tx" "${failed:-0}" \
		"$p50" "$p95" "$p99" "$cpu" "$mem" "${IDLE_RSS[$t]:-}" "$peak" "$conn"
	say "  round $round #$pos $t: rc=$rc tps=${tps:-?} p50=${p50:-?}ms p99=${p99:-?}ms${cpu:+ cpu=${cpu}us/tx}${mem:+ mem=${mem}kB/client}"
}

# ------------------------------------------------------------------ main
MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no -- . ':!bench' ':!docs' 2>/dev/null)" ]; then
	COMMIT+=" + uncommitted changes"
fi
COMMIT+=", binary $BIN_SRC built $(date -u -r "$BIN_SRC" '+%Y-%m-%d %H:%M UTC')"
{
	echo "pg_compare: $(date -u '+%Y-%m-%d %H:%M UTC'), switchyard $COMMIT"
	echo "machine: $(nproc) CPUs, ${MODEL:-unknown model}, $(uname -sr), $(awk '/MemTotal/ {printf "%.1f GB RAM", $2/1048576}' /proc/meminfo); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "servers: $("$PG_BIN/postgres" --version 2>/dev/null), $(pgbouncer --version 2>/dev/null | head -n 1), $(haproxy -v 2>/dev/null | head -n 1 | cut -d' ' -f1-3)"
	echo "load: pgbench -M $PROTOCOL -T $DURATION -j $THREADS; select: -S -c $SELECT_CLIENTS; tpcb: -c $TPCB_CLIENTS; $ROUNDS round(s); scale $SCALE"
	echo "proxies: $POOL_MODE pooling, $POOL_SIZE server connections; switchyard workers: $SY_WORKERS; haproxy nbthread $HAPROXY_THREADS"
	echo "targets: ${TARGET_LIST[*]}"
	echo "work dir: $WORK"
} | tee "$WORK/header.txt" >&2

if [ "$SKIP_INIT" != 1 ]; then
	say "pgbench -i -s $SCALE (directly on the primary)"
	PGPASSWORD=app timeout 600 "$PGBENCH" -i -q -s "$SCALE" -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U app app \
		>"$WORK/init.log" 2>&1 || die "pgbench -i failed:"$'\n'"$(tail -n 20 "$WORK/init.log")"
fi

printf 'workload\tclients\tround\tposition\ttarget\trc\ttps\ttransactions\tfailed\tp50_ms\tp95_ms\tp99_ms\tcpu_us_per_tx\trss_kb_per_client\tidle_rss_kb\tpeak_rss_kb\tconn_ms\n' >"$RESULTS"

STATUS=0
for wl in $WORKLOADS; do
	say "workload $wl: starting the targets"
	declare -A UP=()
	for t in "${TARGET_LIST[@]}"; do
		if start_target "$t" "$wl"; then UP[$t]=1; else
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
				row "$wl" "$(wl_clients "$wl")" "$r" "$((i + 1))" "$t" "nostart"
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
			c=$(grep -c -E -i '\b(error|fatal|warning|warn)\b' "$WORK/$wl/$t/proxy.log")
			if [ "$c" -gt 0 ]; then
				{
					echo "$wl: $t logged $c error/warning lines; most frequent:"
					sed -E 's/^[^a-zA-Z]*[0-9:.TZ+-]+ //; s/client [0-9]+/client N/g; s/[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+/ADDR/g' \
						"$WORK/$wl/$t/proxy.log" | grep -E -i '\b(error|fatal|warning|warn)\b' |
						sort | uniq -c | sort -rn | head -n 5 | sed 's/^/  /'
				} >>"$FAILURES"
			fi
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
