#!/usr/bin/env bash
# callgrind.sh — instructions the proxy's event loop executes per
# transaction, counted by valgrind's callgrind: the same for the same
# binary and load whatever else the machine does, so small changes of
# user-space cost can be compared where timings are too noisy.
#
#   FLEET_DIR=/tmp/f bench/callgrind.sh pg BIN      # pgbench -S -M simple, 20 clients x 1000
#   MODE=extended FLEET_DIR=/tmp/f bench/callgrind.sh pg BIN   # the same with -M extended (or prepared)
#   FLEET_DIR=/tmp/f bench/callgrind.sh mysql BIN   # sysbench oltp_point_select, 8 threads, 20000 events
#
# The clients log in before the counting starts (callgrind_control -i on);
# the per-transaction figure excludes nothing else, so for pg the SCRAM of
# 20 logins of the counted run is in it (about 27k instructions per
# transaction's worth; subtract the libcrypto lines to compare the relay).
# Prints the total, the libcrypto share and the per-transaction figures;
# the full profile is left in WORK/callgrind.out (callgrind_annotate it).
set -euo pipefail
: "${FLEET_DIR:?set FLEET_DIR to a running fleet (tests/integration/fleet.sh start DIR)}"
. "$FLEET_DIR/fleet.env"
PROTO=${1:?pg or mysql}; BIN=$(realpath "${2:?a switchyard binary}")
WORK=$(mktemp -d /tmp/switchyard-callgrind.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [ "$PROTO" = pg ]; then
	cat >"$WORK/sy.ini" <<EOT
[switchyard]
workers = 1
log_level = warning
stats_listen =
[listen.pg]
protocol = postgres
address = 127.0.0.1:$PORT
[cluster.app]
protocol = postgres
primary = 127.0.0.1:$PG_PRIMARY_PORT
pool_mode = transaction
pool_size = 20
[user.app]
password = app
EOT
	N=20000
	load() { PGPASSWORD=app pgbench -n -S -M "${MODE:-simple}" -c 20 -j 2 -t "$1" -h 127.0.0.1 -p "$PORT" -U app app; }
	warm=50; run=1000
else
	cat >"$WORK/sy.ini" <<EOT
[switchyard]
workers = 1
log_level = warning
stats_listen =
[listen.my]
protocol = mysql
address = 127.0.0.1:$PORT
cluster = shop
[cluster.shop]
protocol = mysql
primary = 127.0.0.1:$MY_PRIMARY_PORT
pool_mode = transaction
pool_size = 8
monitor_user = monitor
monitor_password = monitor
[user.app]
password = app
EOT
	N=20000
	sb() { sysbench oltp_point_select --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$PORT" --mysql-user=app \
		--mysql-password=app --mysql-db=shop --tables=4 --table-size=10000 --threads=8 --db-ps-mode=disable "$@"; }
	sb prepare >/dev/null 2>&1 || true # through the proxy; harmless when the tables exist
	load() { sb --events="$1" --time=0 run; }
	warm=200; run=20000
fi
valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" --instr-atstart=no "$BIN" -c "$WORK/sy.ini" >"$WORK/proxy.log" 2>&1 &
VP=$!
trap 'kill $VP 2>/dev/null || true' EXIT
sleep 3
load "$warm" >/dev/null 2>&1
callgrind_control -i on "$VP" >/dev/null
load "$run" >"$WORK/load.out" 2>&1
callgrind_control -i off "$VP" >/dev/null
kill "$VP"; wait "$VP" 2>/dev/null || true
total=$(callgrind_annotate "$WORK/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
crypto=$(callgrind_annotate "$WORK/callgrind.out" 2>/dev/null | awk '/libcrypto/{gsub(",","",$1); s+=$1} END{print s+0}')
echo "$PROTO $BIN: $total instructions for $N transactions, $crypto in libcrypto (logins)"
echo "per transaction: $((total / N)) all, $(((total - crypto) / N)) without libcrypto; profile: $WORK/callgrind.out"
