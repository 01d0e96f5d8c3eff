#!/usr/bin/env bash
# demo.sh start|stop|status — the demo behind `make demo` / `make demo-stop`.
#
# start: a PostgreSQL 15 primary + replica (ports 15432/15433) and a MariaDB
#        primary + replica (13306/13307) in ./demo (tests/integration/fleet.sh),
#        then build/switchyard -c examples/switchyard.ini in the background
#        (log demo/switchyard.log, pid demo/switchyard.pid), and prints how to
#        connect. Running it again is quick: whatever is down is started.
# stop:  stops switchyard (SIGTERM, graceful) and the fleet. Data stays in
#        ./demo; delete that folder to start from scratch.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DEMO=$ROOT/demo
BIN=${SWITCHYARD_BIN:-$ROOT/build/switchyard}
CONFIG=${SWITCHYARD_CONFIG:-$ROOT/examples/switchyard.ini}
PIDFILE=$DEMO/switchyard.pid
LOG=$DEMO/switchyard.log
FLEET=$ROOT/tests/integration/fleet.sh

say() { echo "demo: $*"; }
die() {
	echo "demo: $*" >&2
	exit 1
}

proxy_running() {
	[ -f "$PIDFILE" ] || return 1
	local pid
	pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q switchyard
}

port_listening() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

# TCP ports of the [listen.*] sections of the config.
listen_ports() {
	awk '
		/^[ \t]*\[/ { insec = ($0 ~ /^[ \t]*\[listen\./) }
		insec && /^[ \t]*address[ \t]*=/ {
			sub(/^[^=]*=[ \t]*/, ""); sub(/[ \t]*[;#].*$/, "")
			n = split($0, a, ":"); if (n > 1) print a[n]
		}' "$1"
}

# The port of the first [listen.*] section with protocol = PROTO.
listen_port_of() {
	awk -v want="$1" '
		function flush() { if (insec && proto == want && port != "" && !done) { print port; done = 1 } }
		/^[ \t]*\[/ { flush(); insec = ($0 ~ /^[ \t]*\[listen\./); proto = ""; port = ""; next }
		insec && /^[ \t]*protocol[ \t]*=/ { v = $0; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]*([;#].*)?$/, "", v); proto = v }
		insec && /^[ \t]*address[ \t]*=/ { v = $0; sub(/^[^=]*=[ \t]*/, "", v); sub(/[ \t]*([;#].*)?$/, "", v); n = split(v, a, ":"); port = a[n] }
		END { flush() }' "$CONFIG"
}

# The value of KEY in [SECTION] of the config (first match), or DEFAULT.
ini_get() { # SECTION KEY DEFAULT
	local v
	v=$(awk -v sec="[$1]" -v key="$2" '
		/^[ \t]*\[/ { gsub(/[ \t]/, ""); insec = ($0 == sec); next }
		insec && $0 ~ "^[ \t]*" key "[ \t]*=" {
			sub(/^[^=]*=[ \t]*/, ""); sub(/[ \t]*$/, ""); print; exit
		}' "$CONFIG")
	echo "${v:-$3}"
}

print_info() {
	local stats pgport myport
	stats=$(ini_get switchyard stats_listen 127.0.0.1:9930)
	pgport=$(listen_port_of postgres)
	myport=$(listen_port_of mysql)
	pgport=${pgport:-6432}
	myport=${myport:-6033}
	cat <<EOF

Switchyard demo is running (pid $(cat "$PIDFILE"), log demo/switchyard.log).

  PostgreSQL  postgresql://app:app@127.0.0.1:$pgport/app
              psql "postgresql://app:app@127.0.0.1:$pgport/app"
  MySQL       mysql://app:app@127.0.0.1:$myport/shop
              mariadb -h 127.0.0.1 -P $myport -u app -papp shop
  Stats       http://$stats/
  Admin       psql "postgresql://admin:admin@127.0.0.1:$pgport/switchyard"

  Behind it:  PostgreSQL primary 127.0.0.1:15432, replica 127.0.0.1:15433
              MariaDB primary 127.0.0.1:13306, replica 127.0.0.1:13307
  Stop it:    make demo-stop
EOF
}

cmd_start() {
	[ -x "$BIN" ] || die "$BIN is missing: run make first"
	[ -f "$CONFIG" ] || die "$CONFIG is missing"
	mkdir -p "$DEMO"
	"$FLEET" start "$DEMO" --ports fixed
	if proxy_running; then
		say "switchyard already running (pid $(cat "$PIDFILE"))"
		print_info
		return 0
	fi
	local out
	if ! out=$("$BIN" -t -c "$CONFIG" 2>&1); then
		echo "$out" >&2
		die "$CONFIG does not pass switchyard -t"
	fi
	local ports p
	ports=$(listen_ports "$CONFIG")
	for p in $ports; do
		port_listening "$p" && die "port $p is already taken by another process"
	done
	echo "=== $(date '+%F %T') demo start" >>"$LOG"
	setsid "$BIN" -c "$CONFIG" </dev/null >>"$LOG" 2>&1 &
	echo $! >"$PIDFILE"
	local deadline=$((SECONDS + 10))
	while [ "$SECONDS" -lt "$deadline" ]; do
		proxy_running || {
			tail -n 20 "$LOG" >&2
			die "switchyard exited at start (log $LOG)"
		}
		local all=1
		for p in $ports; do port_listening "$p" || all=0; done
		[ "$all" = 1 ] && break
		sleep 0.1
	done
	for p in $ports; do
		port_listening "$p" || say "warning: nothing listens on port $p yet (see $LOG)"
	done
	print_info
}

cmd_stop() {
	if proxy_running; then
		local pid deadline=$((SECONDS + 40))
		pid=$(cat "$PIDFILE")
		kill -TERM "$pid" 2>/dev/null || true
		while [ "$SECONDS" -lt "$deadline" ]; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			say "switchyard did not stop within 40 s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		say "switchyard stopped"
	fi
	rm -f "$PIDFILE"
	if [ -f "$DEMO/fleet.env" ]; then
		"$FLEET" stop "$DEMO"
	fi
}

cmd_status() {
	if proxy_running; then echo "switchyard up (pid $(cat "$PIDFILE"))"; else echo "switchyard down"; fi
	if [ -f "$DEMO/fleet.env" ]; then "$FLEET" status "$DEMO"; fi
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
	echo "usage: $0 start|stop|status" >&2
	exit 2
	;;
esac
