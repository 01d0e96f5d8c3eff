# bench/lib.sh — what bench/pg_compare.sh and bench/pg.sh share (sourced, not run).
#
# The caller sets BENCH_NAME (for messages) and these knobs before calling
# the functions that use them: POOL_SIZE, POOL_MODE, SY_LOG_LEVEL,
# HAPROXY_THREADS, DURATION; optional: BIN, PY, FLEET_DIR, WORK_DIR.
#
#   bench_setup_work          WORK (chmod 755), FAILURES; EXIT/INT/TERM traps
#   bench_setup_fleet         FLEET_DIR (started when unset), PGBENCH, PG_ADDR
#   bench_setup_binary        a private copy of switchyard in $WORK (BIN, BIN_SRC)
#   start_target NAME DIR     direct | switchyard-wN | pgbouncer | haproxy: start
#                             it with its config in DIR, check a SELECT 1, read its
#                             idle RSS; PID[NAME], PORT[NAME], IDLE_RSS[NAME]
#   stop_target NAME
#   pgbench_run NAME DIR ARGS...   one pgbench run (--log in DIR) with the proxy's
#                             CPU and peak RSS around it; sets R_* (see there)
#   bench_header              the machine/commit/versions lines
#   proxy_log_problems LABEL LOG   the most frequent error/warning lines of a log
#   haproxy_tcp_config FILE PORT ADDR [THREADS]
#                             HAProxy in TCP mode on 127.0.0.1:PORT in front of ADDR
# shellcheck shell=bash
# shellcheck disable=SC2034 # R_* and the like are read by the scripts that source this

BENCH_NAME=${BENCH_NAME:-bench}
# Every proxy runs in a session of its own (setsid), as a service does in
# its own cgroup: with the kernel's autogroups (sched_autogroup_enabled),
# a process started from this script's session would share one
# scheduling group with the load generator and be preempted by it at
# every wake-up (docs/performance.md, "Sessions and autogroups"); a
# daemonizing proxy would escape that and the other not. PROXY_LAUNCH=
# (empty) puts them all in this session instead.
PROXY_LAUNCH=${PROXY_LAUNCH-setsid}
LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$LIB_DIR/.." && pwd)
PY=${PY:-python3}
BIN=${BIN:-$ROOT/build/switchyard}

say() { echo "[$(date +%T)] $*" >&2; }
die() {
	echo "$BENCH_NAME: $*" >&2
	exit 2
}
require_posint() { # VAR...
	local v
	for v in "$@"; do
		[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
	done
}
require_cmds() { # CMD...
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || die "$c not found (scripts/install-deps.sh installs the benchmark's dependencies)"
	done
}
# Many clients need many descriptors: pgbench, the proxies and our helpers
# inherit this limit.
raise_nofile() {
	local hard
	hard=$(ulimit -Hn)
	ulimit -n "$hard" 2>/dev/null || true
}

# ------------------------------------------------------------------ work dir, cleanup
declare -A PID=() PORT=() IDLE_RSS=() SY_CLUSTER_EXTRA=() SY_STATS_PORT=()
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
bench_cleanup() {
	local t
	trap - EXIT INT TERM
	[ -n "$SAMPLER_PID" ] && stop_pid "$SAMPLER_PID"
	if declare -F bench_cleanup_hook >/dev/null; then bench_cleanup_hook; fi
	for t in "${!PID[@]}"; do stop_target "$t"; done
	if [ "$OWN_FLEET" = 1 ]; then
		say "destroying the fleet in $WORK/fleet"
		"$ROOT/tests/integration/fleet.sh" destroy "$WORK/fleet" >/dev/null 2>&1 ||
			"$ROOT/tests/integration/fleet.sh" stop "$WORK/fleet" >/dev/null 2>&1 || true
	fi
}
bench_setup_work() {
	if [ -n "${WORK_DIR:-}" ]; then
		mkdir -p "$WORK_DIR" || die "cannot create $WORK_DIR"
		WORK=$(cd "$WORK_DIR" && pwd)
	else
		WORK=$(mktemp -d "/tmp/switchyard-$BENCH_NAME.XXXXXX") || die "mktemp failed"
	fi
	chmod 755 "$WORK" # pgbouncer runs as postgres and reads its files here
	FAILURES=$WORK/failures.txt
	: >"$FAILURES"
	trap bench_cleanup EXIT
	trap 'say "interrupted"; exit 130' INT TERM
}

# ------------------------------------------------------------------ fleet, binary
bench_setup_fleet() {
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
}
bench_setup_binary() {
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
}
pgbench_init() { # SCALE: pgbench -i directly on the primary
	say "pgbench -i -s $1 (directly on the primary)"
	PGPASSWORD=app timeout 600 "$PGBENCH" -i -q -s "$1" -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U app app \
		>"$WORK/init.log" 2>&1 || die "pgbench -i failed:"$'\n'"$(tail -n 20 "$WORK/init.log")"
}

# ------------------------------------------------------------------ helpers
haproxy_tcp_config() { # FILE PORT ADDR [THREADS]: the peer that parses and pools nothing
	cat >"$1" <<EOF
# written by bench/$BENCH_NAME
global
    maxconn 4096
    nbthread ${4:-1}

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h

frontend front
    bind 127.0.0.1:$2
    default_backend primary

backend primary
    server primary $3
EOF
}
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
# start_target NAME DIR: start the proxy (no-op for direct) with its config
# and log in DIR, check that a query goes through, record its idle RSS.
# Returns non-zero (and says why in $FAILURES) on failure.
start_target() {
	local t=$1 dir=$2 port pid
	mkdir -p "$dir"
	chmod 755 "$dir" "$(dirname "$dir")"
	case "$t" in
	direct)
		PORT[$t]=$PG_PRIMARY_PORT
		PID[$t]=
		return 0
		;;
	switchyard-w*)
		# switchyard-wN or switchyard-wN-VARIANT; SY_CLUSTER_EXTRA[NAME] adds
		# lines to its [cluster.app], SY_STATS_PORT[NAME] opens its stats port.
		local workers=${t#switchyard-w}
		workers=${workers%%-*}
		local stats=""
		[ -n "${SY_STATS_PORT[$t]:-}" ] && stats=127.0.0.1:${SY_STATS_PORT[$t]}
		port=$(free_port)
		cat >"$dir/switchyard.ini" <<EOF
; written by bench/$BENCH_NAME
[switchyard]
workers = $workers
log_level = $SY_LOG_LEVEL
stats_listen = $stats
shutdown_timeout = 2s
max_client_conn = 10000

[listen.pg]
protocol = postgres
address = 127.0.0.1:$port

[cluster.app]
protocol = postgres
primary = $PG_ADDR
pool_mode = $POOL_MODE
pool_size = $POOL_SIZE
${SY_CLUSTER_EXTRA[$t]:-}

[user.app]
password = app
EOF
		$PROXY_LAUNCH "$BIN" -c "$dir/switchyard.ini" >>"$dir/proxy.log" 2>&1 &
		pid=$!
		;;
	pgbouncer)
		port=$(free_port)
		printf '"app" "app"\n' >"$dir/userlist.txt"
		cat >"$dir/pgbouncer.ini" <<EOF
; written by bench/$BENCH_NAME
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
			# runuser's PAM session resets the soft descriptor limit to 1024
			# (PgBouncer then stalls past ~1000 clients): raise it again inside.
			# shellcheck disable=SC2016 # expanded by that sh
			(cd / && exec $PROXY_LAUNCH runuser -u postgres -- sh -c 'ulimit -n "$(ulimit -Hn)"; exec pgbouncer "$1"' sh "$dir/pgbouncer.ini") >>"$dir/stdout.log" 2>&1 &
		else
			$PROXY_LAUNCH pgbouncer "$dir/pgbouncer.ini" >>"$dir/stdout.log" 2>&1 &
		fi
		local launcher=$! _
		pid=
		for _ in $(seq 1 100); do
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
		haproxy_tcp_config "$dir/haproxy.cfg" "$port" "$PG_ADDR" "$HAPROXY_THREADS"
		$PROXY_LAUNCH haproxy -db -f "$dir/haproxy.cfg" >>"$dir/proxy.log" 2>&1 &
		pid=$!
		;;
	*) die "unknown target '$t'" ;;
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
	say "  $t: pid $pid on 127.0.0.1:$port, idle RSS ${IDLE_RSS[$t]} kB, fd limit $(awk '/open files/ {print $4}' "/proc/$pid/limits" 2>/dev/null)"
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

# ------------------------------------------------------------------ one pgbench run
# pgbench_run NAME DIR ARGS...: pgbench -h 127.0.0.1 -p PORT[NAME] -U app -n
# --log ARGS app, output and logs in DIR. Sets:
#   R_RC      0 ok; pgbench's exit code; 97 no transaction completed (slowness,
#             not an error); 98 failed transactions
#   R_TPS R_TX R_FAILED R_CONN (ms)   from pgbench's output
#   R_MEAN R_P50 R_P95 R_P99 (ms)     from the per-transaction logs
#   R_CPU     proxy utime+stime per transaction, µs (empty for direct)
#   R_PEAK    the proxy's peak VmRSS during the run, kB
#   R_CMD     the command, R_ERR a description of the failure (empty when ok)
pgbench_run() {
	local t=$1 dir=$2 pid=${PID[$1]:-} t0="" t1="" out lat
	shift 2
	mkdir -p "$dir"
	chmod 755 "$dir"
	R_RC=0 R_TPS="" R_TX="" R_FAILED="" R_CONN="" R_MEAN="" R_P50="" R_P95="" R_P99="" R_CPU="" R_PEAK="" R_ERR=""
	R_CMD="PGPASSWORD=app $PGBENCH -h 127.0.0.1 -p ${PORT[$t]} -U app -n $* app"
	if [ -n "$pid" ]; then
		: >"$dir/peak_rss"
		rss_sampler "$pid" "$dir/peak_rss" &
		SAMPLER_PID=$!
		t0=$(cpu_ticks "$pid")
	fi
	PGPASSWORD=app timeout $((DURATION + ${LOGIN_ALLOWANCE:-0} + 120)) "$PGBENCH" -h 127.0.0.1 -p "${PORT[$t]}" -U app -n \
		--log --log-prefix="$dir/tx" "$@" app >"$dir/pgbench.out" 2>&1 || R_RC=$?
	if [ -n "$pid" ]; then
		t1=$(cpu_ticks "$pid")
		stop_pid "$SAMPLER_PID"
		SAMPLER_PID=
		R_PEAK=$(cat "$dir/peak_rss" 2>/dev/null)
	fi
	out=$(cat "$dir/pgbench.out")
	# "(including reconnection times)" with -C
	R_TPS=$(sed -n 's/^tps = \([0-9.]*\) (\(without initial connection time\|including reconnection times\)).*/\1/p' <<<"$out" | head -n 1)
	R_TX=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out" | head -n 1)
	R_FAILED=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out" | head -n 1)
	R_CONN=$(sed -n 's/^\(initial\|average\) connection time = \([0-9.]*\) ms.*/\2/p' <<<"$out" | head -n 1)
	if [ "$R_RC" -eq 0 ] && { [ -z "$R_TPS" ] || [ -z "$R_TX" ] || [ "$R_TX" -eq 0 ]; }; then R_RC=97; fi
	if [ "$R_RC" -eq 0 ] && [ -n "$R_FAILED" ] && [ "$R_FAILED" -gt 0 ]; then R_RC=98; fi
	if [ "$R_RC" -eq 97 ]; then
		R_ERR="no transaction completed in ${DURATION}s (initial connection time ${R_CONN:-?} ms); not counted; DURATION too short for this machine?"
	elif [ "$R_RC" -ne 0 ]; then
		R_ERR="pgbench exit $R_RC (${R_TX:-0} transactions completed):"$'\n'"  $R_CMD"$'\n'"$(
			grep -E -i 'error|abort|fatal|failed|could not' "$dir/pgbench.out" |
				sed -E 's/client [0-9]+/client N/g' | sort | uniq -c | sort -rn | head -n 6 | sed 's/^/  /'
		)"
	fi
	if compgen -G "$dir/tx.*" >/dev/null; then
		lat=$("$PY" "$LIB_DIR/pgbench_latency.py" "$dir"/tx.* 2>/dev/null)
		echo "$lat" >"$dir/latency.txt"
		R_MEAN=$(sed -n 's/.*mean_ms=\([0-9.]*\).*/\1/p' <<<"$lat")
		R_P50=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$lat")
		R_P95=$(sed -n 's/.*p95_ms=\([0-9.]*\).*/\1/p' <<<"$lat")
		R_P99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$lat")
		rm -f "$dir"/tx.* # per-transaction logs are large
	fi
	if [ -n "$t0" ] && [ -n "$t1" ] && [ -n "$R_TX" ] && [ "$R_TX" -gt 0 ]; then
		R_CPU=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v n="$R_TX" 'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }')
	fi
}

# ------------------------------------------------------------------ reporting
row() { # FILE FIELDS...: one tab-separated row (missing fields empty)
	local f=$1 IFS=$'\t'
	shift
	echo "$*" >>"$f"
}
bench_commit() {
	local c
	c=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no -- . ':!bench' ':!docs' 2>/dev/null)" ]; then
		c+=" + uncommitted changes"
	fi
	echo "$c, binary $BIN_SRC built $(date -u -r "$BIN_SRC" '+%Y-%m-%d %H:%M UTC')"
}
bench_header() { # the lines common to every report
	local model
	model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	echo "$BENCH_NAME: $(date -u '+%Y-%m-%d %H:%M UTC'), switchyard $(bench_commit)"
	echo "machine: $(nproc) CPUs, ${model:-unknown model}, $(uname -sr), $(awk '/MemTotal/ {printf "%.1f GB RAM", $2/1048576}' /proc/meminfo); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "servers: $("$PG_BIN/postgres" --version 2>/dev/null), $(pgbouncer --version 2>/dev/null | head -n 1)$(command -v haproxy >/dev/null && echo ", $(haproxy -v 2>/dev/null | head -n 1 | cut -d' ' -f1-3)")"
}
proxy_log_problems() { # LABEL LOGFILE: the most frequent error/warning lines, into $FAILURES
	local label=$1 log=$2 c
	[ -f "$log" ] || return 0
	c=$(grep -c -E -i '\b(error|fatal|warning|warn)\b' "$log")
	if [ "$c" -gt 0 ]; then
		{
			echo "$label logged $c error/warning lines; most frequent:"
			sed -E 's/^[^a-zA-Z]*[0-9:.TZ+-]+ //; s/client [0-9]+/client N/g; s/[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+/ADDR/g' "$log" |
				grep -E -i '\b(error|fatal|warning|warn)\b' | sort | uniq -c | sort -rn | head -n 5 | sed 's/^/  /'
		} >>"$FAILURES"
	fi
}
