# shellcheck shell=bash
# lib.sh — helpers for tests/integration/test_*.sh. Source it first:
#
#     . "$(dirname "$0")/lib.sh"
#
# Environment (set by run.sh): BIN (the proxy binary), the variables of the
# fleet's fleet.env (PG_PRIMARY_PORT, …), SY_TMP (this test's own folder).
# To run one test by hand against a running fleet:
#     tests/integration/fleet.sh start /tmp/f
#     FLEET_DIR=/tmp/f BIN=build/switchyard bash tests/integration/test_pg_basic.sh
#
# What it gives:
#   free_port                      a free loopback TCP port
#   write_config FILE [ARG...]     a switchyard INI for the fleet's PostgreSQL primary;
#                                  sets PROXY_PORT and STATS_PORT. ARGs:
#       port=N pool_mode=M pool_size=N workers=N primary=ADDR replicas=ADDRS
#       cluster=NAME (default app) server_database=DB
#       global.KEY=V               extra line in [switchyard]
#       cluster.KEY=V              extra line in [cluster.NAME]
#       listen.KEY=V               extra line in [listen.pg]
#       user.NAME.KEY=V            [user.NAME] lines (default: user app, password app)
#       nousers=1                  no [user.*] section unless user.* ARGs are given
#       raw=TEXT                   appended verbatim
#   start_proxy FILE [ARGS...]     $BIN -c FILE in the background, log in $SY_TMP/proxy.log,
#                                  waits until every [listen.*] address listens
#   stop_proxy [SECONDS]           SIGTERM, wait (then SIGKILL); exit code in PROXY_EXIT_CODE
#   proxy_pid / reload_proxy       the pid / kill -HUP
#   wait_log REGEX [SECONDS]       wait until proxy.log matches
#   log_mark TEXT / log_since_mark / wait_log_since_mark REGEX [SECONDS]
#   json_get JSON KEY              a value from clients.py's JSON line
#   $PY $HERE/clients.py ...       psycopg2 drivers (conc: many clients; hold: one held session)
#   $PY with $HERE/pgwire.py       raw protocol (startup, SCRAM, bytes)
#   my_direct / my_replica / my_monitor ARGS   mariadb -N -B to the MariaDB primary/replica
#   pg_proxy ARGS / pg_direct ARGS / pg_monitor ARGS
#                                  psql -X -A -t -v ON_ERROR_STOP=1 through the proxy /
#                                  to the primary as app / to the primary as monitor
#                                  (PGUSER, PGPASSWORD, PGDATABASE override user app/app, db app)
#   assert_eq EXP ACT [MSG]  assert_ne  assert_contains HAY NEEDLE [MSG]
#   assert_not_contains  assert_match STR REGEX [MSG]  assert_ok CMD...  assert_fails CMD...
#   assert_share N TOTAL le|gt PERCENT MSG
#                                  N is at most / more than PERCENT % of TOTAL
#   pipelined PROTO / pipelined_after PROTO N
#                                  switchyard_pipelined_total{protocol=PROTO} (postgres,
#                                  mysql) from /metrics; the same once above N (the
#                                  figures are up to 1 s old): the last value read
#   run_checks CMD...              run a driver (txn_clients.py, pg_pin_clients.py); its
#                                  CHECK<TAB>label<TAB>expected<TAB>actual lines are assertions
#   fail MSG  note MSG  on_exit CMD
#   ASSERT_CONTINUE=1 (set in a test): failed assertions are counted, the test goes on
# A test that exits 0 without a single assertion is turned into a failure.

set -euo pipefail
set -E
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: command failed (exit $?): $BASH_COMMAND" >&2' ERR

: "${BIN:?BIN must name the switchyard binary}"
BIN=$(realpath "$BIN")
if [ -z "${PG_PRIMARY_PORT:-}" ]; then
	: "${FLEET_DIR:?set FLEET_DIR to a running fleet (tests/integration/fleet.sh start DIR)}"
	# shellcheck disable=SC1091
	. "$FLEET_DIR/fleet.env"
fi
_SY_TMP_OWNED=0
if [ -z "${SY_TMP:-}" ]; then
	SY_TMP=$(mktemp -d /tmp/switchyard-test.XXXXXX)
	chmod 755 "$SY_TMP"
	_SY_TMP_OWNED=1 # removed at exit when the test passes
fi
export SY_TMP
TEST_NAME=$(basename "$0" .sh)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FLEET_SH=$HERE/fleet.sh
# Debian's python3 has psycopg2 and pymysql; a python3 earlier in PATH may not.
PY=/usr/bin/python3
export PY PGCONNECT_TIMEOUT=10

_ASSERTS=0
_EXIT_CMDS=()
PROXY_PID=
PROXY_EXIT_CODE=
PROXY_LOG=$SY_TMP/proxy.log

note() { echo "--- $*"; }
# fail MSG: the test fails. With ASSERT_CONTINUE=1 (set by a test whose
# checks are independent) the failure is recorded and the test goes on; it
# still exits non-zero at the end.
_FAILS=0
fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	if [ "${ASSERT_CONTINUE:-0}" = 1 ]; then
		_FAILS=$((_FAILS + 1))
		return 0
	fi
	exit 1
}
_die() { # a harness failure: always ends the test
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}
_ok() {
	_ASSERTS=$((_ASSERTS + 1))
	echo "ok: $*"
}
assert_eq() { # EXPECTED ACTUAL [MSG]
	if [ "$1" == "$2" ]; then _ok "${3:-equal}"; else
		fail "${3:-values differ}"$'\n'"  expected: $(printf '%q' "$1")"$'\n'"  actual:   $(printf '%q' "$2")"
	fi
}
assert_ne() {
	if [ "$1" != "$2" ]; then _ok "${3:-differ}"; else fail "${3:-values equal}: both $(printf '%q' "$1")"; fi
}
assert_contains() { # HAYSTACK NEEDLE [MSG]
	if [[ "$1" == *"$2"* ]]; then _ok "${3:-contains '$2'}"; else
		fail "${3:-missing text}: expected to find '$2' in:"$'\n'"$(printf '%s' "$1" | tail -n 20)"
	fi
}
assert_not_contains() {
	if [[ "$1" != *"$2"* ]]; then _ok "${3:-does not contain '$2'}"; else
		fail "${3:-unexpected text}: did not expect '$2' in:"$'\n'"$(printf '%s' "$1" | tail -n 20)"
	fi
}
assert_match() { # STRING ERE [MSG]
	if [[ "$1" =~ $2 ]]; then _ok "${3:-matches /$2/}"; else
		fail "${3:-no match}: /$2/ does not match:"$'\n'"$(printf '%s' "$1" | tail -n 20)"
	fi
}
assert_ok() { # CMD... must exit 0
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" -eq 0 ] || { fail "command failed (exit $rc): $*"$'\n'"$out"; return 0; }
	_ok "succeeds: $*"
}
assert_fails() { # CMD... must exit non-zero
	local out rc=0
	out=$("$@" 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || { fail "command should have failed: $*"$'\n'"$out"; return 0; }
	_ok "fails as expected: $*"
}
assert_share() { # N TOTAL le|gt PERCENT MSG
	local limit=$((${2:-0} * $4 / 100)) word=more
	[ "$3" = le ] && word="at most"
	if [ -n "$2" ] && [ "$1" -"$3" "$limit" ] 2>/dev/null; then _ok "$5 ($1 of $2)"; else
		fail "$5: ${1:-none} of ${2:-?} ($word than $4 % expected)"
	fi
}

pipelined() { # PROTO
	curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/metrics" |
		awk -v k="switchyard_pipelined_total{protocol=\"$1\"}" '$1 == k { print $2 }'
}
pipelined_after() { # PROTO N
	local v i
	for i in $(seq 1 30); do
		v=$(pipelined "$1")
		[ -n "$v" ] && [ "$v" -gt "$2" ] && break
		sleep 0.2
	done
	echo "${v:-none}"
}

run_checks() { # CMD... — a driver printing CHECK<TAB>label<TAB>expected<TAB>actual lines; each becomes an assertion
	local out rc=0 tag label exp act n=0
	out=$("$@" 2>&1) || rc=$?
	grep -v $'^CHECK\t' <<<"$out" || true
	while IFS=$'\t' read -r tag label exp act; do
		[ "$tag" = CHECK ] || continue
		n=$((n + 1))
		assert_eq "$exp" "$act" "$label"
	done <<<"$out"
	assert_eq 0 "$rc" "the driver exits 0"
	[ "$n" -gt 0 ] || fail "the driver made no checks"
}
on_exit() { _EXIT_CMDS+=("$*"); }

_lib_exit() {
	local rc=$?
	trap - ERR
	set +e
	local c
	for c in "${_EXIT_CMDS[@]}"; do eval "$c" >/dev/null 2>&1; done
	[ -n "$PROXY_PID" ] && stop_proxy 5 >/dev/null 2>&1
	if [ "$rc" -eq 0 ] && [ "$_FAILS" -gt 0 ]; then
		echo "FAIL: $TEST_NAME: $_FAILS assertion(s) failed" >&2
		rc=1
	fi
	if [ "$rc" -eq 0 ] && [ "$_ASSERTS" -eq 0 ]; then
		echo "FAIL: $TEST_NAME: made no assertions" >&2
		rc=1
	fi
	if [ "$rc" -eq 0 ]; then
		echo "$TEST_NAME: $_ASSERTS assertions passed"
		[ "$_SY_TMP_OWNED" = 1 ] && rm -rf "$SY_TMP"
	else
		echo "$TEST_NAME: logs in $SY_TMP" >&2
	fi
	exit "$rc"
}
trap _lib_exit EXIT

port_listening() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

_PORTS_TAKEN=" "
free_port() {
	local p i
	for i in $(seq 1 500); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		case "$_PORTS_TAKEN" in *" $p "*) continue ;; esac
		if ! port_listening "$p"; then
			echo "$p"
			return 0
		fi
	done
	_die "no free port"
}

# Lines of one INI section kept in order; a later KEY replaces an earlier one.
_sec_set() { # ARRAYNAME KEY VALUE
	local -n _a=$1
	local i
	for i in "${!_a[@]}"; do
		if [ "${_a[$i]%% = *}" = "$2" ]; then
			_a[$i]="$2 = $3"
			return 0
		fi
	done
	_a+=("$2 = $3")
}

write_config() { # FILE [ARG...]
	local file=$1
	shift
	local port="" cluster=app raw="" users_order="" kv k v u nousers=0
	local -a g=() l=() c=()
	declare -A ulines=()
	for kv in "$@"; do
		k=${kv%%=*}
		[ "$k" = port ] && port=${kv#*=}
		[ "$k" = cluster ] && cluster=${kv#*=}
	done
	[ -n "$port" ] || port=$(free_port)
	_PORTS_TAKEN+="$port "
	PROXY_PORT=$port
	STATS_PORT=$(free_port)
	_PORTS_TAKEN+="$STATS_PORT "
	_sec_set g workers 2
	_sec_set g log_level info
	_sec_set g stats_listen "127.0.0.1:$STATS_PORT"
	_sec_set g shutdown_timeout 5s
	_sec_set l protocol postgres
	_sec_set l address "127.0.0.1:$port"
	_sec_set c protocol postgres
	_sec_set c primary "127.0.0.1:$PG_PRIMARY_PORT"
	_sec_set c pool_mode session
	_sec_set c pool_size 20
	# The health thread's own login (else it borrows the first user's,
	# which tests that count the app user's server connections would see).
	_sec_set c monitor_user monitor
	_sec_set c monitor_password monitor
	for kv in "$@"; do
		k=${kv%%=*}
		v=${kv#*=}
		case "$k" in
		port | cluster) ;;
		nousers) nousers=$v ;;
		workers) _sec_set g workers "$v" ;;
		pool_mode | pool_size | primary | replicas | server_database) _sec_set c "$k" "$v" ;;
		raw) raw+="$v"$'\n' ;;
		global.*) _sec_set g "${k#global.}" "$v" ;;
		cluster.*) _sec_set c "${k#cluster.}" "$v" ;;
		listen.*) _sec_set l "${k#listen.}" "$v" ;;
		user.*.*)
			local rest=${k#user.} uname
			uname=${rest%%.*}
			[[ " $users_order " == *" $uname "* ]] || users_order+=" $uname"
			ulines[$uname]+="${rest#*.} = $v"$'\n'
			;;
		*) _die "write_config: unknown argument '$kv'" ;;
		esac
	done
	if [ -z "$users_order" ] && [ "$nousers" = 0 ]; then
		users_order=" app"
		ulines[app]="password = app"$'\n'
	fi
	{
		echo "; generated by tests/integration/lib.sh for $TEST_NAME"
		echo "[switchyard]"
		printf '%s\n' "${g[@]}"
		echo
		echo "[listen.pg]"
		printf '%s\n' "${l[@]}"
		echo
		echo "[cluster.$cluster]"
		printf '%s\n' "${c[@]}"
		for u in $users_order; do
			echo
			echo "[user.$u]"
			printf '%s' "${ulines[$u]}"
		done
		if [ -n "$raw" ]; then
			echo
			printf '%s' "$raw"
		fi
	} >"$file"
}

# TCP ports of the [listen.*] sections of a config.
_listen_ports() {
	awk '
		/^[ \t]*\[/ { insec = ($0 ~ /^[ \t]*\[listen\./) }
		insec && /^[ \t]*address[ \t]*=/ {
			sub(/^[^=]*=[ \t]*/, ""); sub(/[ \t]*[;#].*$/, "")
			n = split($0, a, ":"); if (n > 1) print a[n]
		}' "$1"
}

start_proxy() { # CONFIG [EXTRA ARGS...]
	local cfg=$1
	shift
	[ -z "$PROXY_PID" ] || _die "start_proxy: a proxy is already running (pid $PROXY_PID)"
	echo "=== $(date +%T) start_proxy $cfg" >>"$PROXY_LOG"
	"$BIN" -c "$cfg" "$@" >>"$PROXY_LOG" 2>&1 &
	PROXY_PID=$!
	PROXY_EXIT_CODE=
	local ports p i
	ports=$(_listen_ports "$cfg")
	[ -n "$ports" ] || _die "start_proxy: no [listen.*] address in $cfg"
	for i in $(seq 1 100); do
		if ! kill -0 "$PROXY_PID" 2>/dev/null; then
			wait "$PROXY_PID" && PROXY_EXIT_CODE=0 || PROXY_EXIT_CODE=$?
			PROXY_PID=
			_die "start_proxy: switchyard exited (code $PROXY_EXIT_CODE) before listening; log:"$'\n'"$(tail -n 30 "$PROXY_LOG")"
		fi
		local all=1
		for p in $ports; do port_listening "$p" || all=0; done
		[ "$all" = 1 ] && return 0
		sleep 0.1
	done
	_die "start_proxy: switchyard did not listen on $ports within 10s; log:"$'\n'"$(tail -n 30 "$PROXY_LOG")"
}

proxy_pid() { echo "$PROXY_PID"; }

proxy_alive() { [ -n "$PROXY_PID" ] && kill -0 "$PROXY_PID" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$PROXY_PID/status" 2>/dev/null; }

reload_proxy() {
	[ -n "$PROXY_PID" ] || _die "reload_proxy: no proxy running"
	log_mark "SIGHUP"
	kill -HUP "$PROXY_PID"
}

# SIGTERM, wait up to SECONDS (default 10) then SIGKILL. Sets PROXY_EXIT_CODE
# (137 when it had to be killed) and PROXY_STOP_SECONDS.
stop_proxy() {
	local limit=${1:-10}
	[ -n "$PROXY_PID" ] || return 0
	local pid=$PROXY_PID t0 timer
	t0=$(date +%s%N)
	kill -TERM "$pid" 2>/dev/null || true
	(
		sleep "$limit"
		kill -KILL "$pid" 2>/dev/null
	) >/dev/null 2>&1 &
	timer=$!
	wait "$pid" && PROXY_EXIT_CODE=0 || PROXY_EXIT_CODE=$?
	kill "$timer" 2>/dev/null || true
	wait "$timer" 2>/dev/null || true
	PROXY_STOP_SECONDS=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
	PROXY_PID=
	echo "=== $(date +%T) proxy stopped, exit code $PROXY_EXIT_CODE" >>"$PROXY_LOG"
}

# log_mark TEXT: a marker line in proxy.log; log_since_mark: what the proxy
# logged after the last marker; wait_log_since_mark REGEX [SECONDS].
log_mark() { echo "=== $(date +%T) MARK $*" >>"$PROXY_LOG"; }
log_since_mark() { awk '/^=== .* MARK /{buf=""; next} {buf = buf $0 "\n"} END {printf "%s", buf}' "$PROXY_LOG"; }
wait_log_since_mark() {
	local i n=$((${2:-10} * 10))
	for i in $(seq 1 "$n"); do
		log_since_mark | grep -Eq -- "$1" && return 0
		sleep 0.1
	done
	return 1
}

# json_get JSON KEY: a top-level value of a one-line JSON object.
json_get() { "$PY" -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(json.dumps(v) if isinstance(v,(list,dict)) else v)' "$1" "$2"; }

wait_log() { # REGEX [SECONDS]
	local i n=$((${2:-10} * 10))
	for i in $(seq 1 "$n"); do
		grep -Eq -- "$1" "$PROXY_LOG" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

_psql() { # PORT USER PASSWORD DB ARGS...
	local port=$1 user=$2 pw=$3 db=$4
	shift 4
	PGPASSWORD=$pw timeout 60 psql -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$user" -d "$db" "$@"
}
pg_proxy() { _psql "$PROXY_PORT" "${PGUSER:-app}" "${PGPASSWORD:-app}" "${PGDATABASE:-app}" "$@"; }
pg_direct() { _psql "$PG_PRIMARY_PORT" "${PGUSER:-app}" "${PGPASSWORD:-app}" "${PGDATABASE:-app}" "$@"; }
pg_monitor() { _psql "$PG_PRIMARY_PORT" monitor monitor postgres "$@"; }

# Connections the primary has from USER (default app), not counting this query.
pg_server_conns() {
	pg_monitor -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '${1:-app}' AND pid <> pg_backend_pid()"
}

# MariaDB straight to the fleet's primary / replica (batch output, no headers).
my_direct() { timeout 60 mariadb --no-defaults -h 127.0.0.1 -P "$MY_PRIMARY_PORT" -u "${MYUSER:-app}" -p"${MYPASSWORD:-app}" -N -B "${MYDATABASE:-shop}" "$@"; }
my_replica() { timeout 60 mariadb --no-defaults -h 127.0.0.1 -P "$MY_REPLICA_PORT" -u "${MYUSER:-app}" -p"${MYPASSWORD:-app}" -N -B "${MYDATABASE:-shop}" "$@"; }
my_monitor() { timeout 60 mariadb --no-defaults -h 127.0.0.1 -P "$MY_PRIMARY_PORT" -u monitor -pmonitor -N -B "$@"; }
