#!/usr/bin/env bash
# soak.sh [DURATION] — a soak run of switchyard under mixed load with
# periodic PostgreSQL primary restarts; prints a summary, exits non-zero on
# a proxy crash, an unexpected client error, or RSS/fd growth.
#
#   DURATION         seconds of load (default 120; 1800 for the documented run)
#   BIN              proxy binary (default build/switchyard; build-asan/switchyard works)
#   FLEET_DIR        a running fleet (tests/integration/fleet.sh start DIR);
#                    without it a fleet is started in /tmp and destroyed after
#   RESTART_EVERY    seconds between primary restarts (default 30)
#   RSS_GROWTH_KB    allowed VmRSS growth from the first quarter to the end (default 20480)
#
#   PG_CLIENTS       clients of each of the two main pgbench loaders (default 8)
#   MY_CLIENTS       threads of each of the two sysbench loaders (default 4; 0: no MySQL load)
#
# Load, all through the proxy in transaction pooling (pool_size 10, 2 workers):
#   PostgreSQL (cluster app, [listen.pg]):
#   - pgbench TPC-B, PG_CLIENTS clients, simple protocol;
#   - pgbench -S, PG_CLIENTS clients, extended protocol with prepared statements;
#   - pgbench -S -C, 2 clients reconnecting for every transaction;
#   MySQL (cluster shop on the MariaDB primary, [listen.my]):
#   - sysbench oltp_read_write, MY_CLIENTS threads, text protocol (--db-ps-mode=disable);
#   - sysbench oltp_point_select, MY_CLIENTS threads, server-side prepared statements;
#   - a reconnect loop: one mariadb client per SELECT, one at a time;
# each in back-to-back 5 s rounds (pgbench and sysbench give up on a client
# whose server went away, so a round is the unit of success). The restarts
# alternate: the PostgreSQL primary, then the MariaDB primary (SIGKILL, then
# restart). A round that fails and overlaps a restart window (kill .. up +
# 5 s) of its own protocol's primary is expected; any other failing round is
# an unexpected client error. VmRSS and open fds of the proxy are sampled
# every second from /proc.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${1:-120}
RESTART_EVERY=${RESTART_EVERY:-30}
RSS_GROWTH_KB=${RSS_GROWTH_KB:-20480}
PG_CLIENTS=${PG_CLIENTS:-8}
MY_CLIENTS=${MY_CLIENTS:-4}
export BIN=${BIN:-$ROOT/build/switchyard}
IT=$ROOT/tests/integration
[ -x "$BIN" ] || { echo "soak: $BIN is not built (make)" >&2; exit 2; }

own_fleet=
if [ -z "${FLEET_DIR:-}" ]; then
	own_fleet=$(mktemp -d /tmp/switchyard-soak.XXXXXX)
	chmod 755 "$own_fleet"
	echo "soak: starting a fleet in $own_fleet/fleet"
	"$IT/fleet.sh" start "$own_fleet/fleet" >"$own_fleet/fleet.log" 2>&1 || {
		tail -n 30 "$own_fleet/fleet.log"
		exit 1
	}
	export FLEET_DIR=$own_fleet/fleet
fi
SY_TMP=$(mktemp -d /tmp/switchyard-soak-run.XXXXXX)
chmod 755 "$SY_TMP"
export SY_TMP
# lib.sh gives write_config/start_proxy/assertions; its EXIT trap stops the proxy.
# shellcheck source=integration/lib.sh
. "$IT/lib.sh"
TEST_NAME=soak
set +e
trap - ERR
on_exit "'$FLEET_SH' restart-pg-primary '$FLEET_DIR'"
on_exit "'$FLEET_SH' restart my-primary '$FLEET_DIR'"
[ -n "$own_fleet" ] && on_exit "'$FLEET_SH' destroy '$FLEET_DIR'; rm -rf '$own_fleet'"
ASSERT_CONTINUE=1

MYPORT=$(free_port)
_PORTS_TAKEN+="$MYPORT "
cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=10 workers=2 global.log_level=warning \
	cluster.server_connect_timeout=2s cluster.query_wait_timeout=20s \
	raw="[listen.my]
protocol = mysql
address = 127.0.0.1:$MYPORT
cluster = shop

[cluster.shop]
protocol = mysql
primary = 127.0.0.1:$MY_PRIMARY_PORT
pool_mode = transaction
pool_size = 10
server_connect_timeout = 2s
query_wait_timeout = 20s"
start_proxy "$cfg"
PGBENCH=$PG_BIN/pgbench
PGPASSWORD=app "$PGBENCH" -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U app -i -s 2 -q app >"$SY_TMP/init.log" 2>&1 ||
	_die "pgbench -i failed: $(tail -n 5 "$SY_TMP/init.log")"
SB=(sysbench --db-driver=mysql --mysql-host=127.0.0.1 --mysql-user=app --mysql-password=app
	--mysql-db=shop --tables=2 --table-size=5000)
if [ "$MY_CLIENTS" -gt 0 ]; then
	"${SB[@]}" --mysql-port="$MY_PRIMARY_PORT" oltp_read_write cleanup >/dev/null 2>&1
	"${SB[@]}" --mysql-port="$MY_PRIMARY_PORT" oltp_read_write prepare >>"$SY_TMP/init.log" 2>&1 ||
		_die "sysbench prepare failed: $(tail -n 5 "$SY_TMP/init.log")"
	on_exit "${SB[*]} --mysql-port=$MY_PRIMARY_PORT oltp_read_write cleanup >/dev/null 2>&1"
fi

t_start=$(date +%s)
t_end=$((t_start + DURATION))
now() { date +%s.%N; }

# Samples: time rss_kb fds
(while [ "$(date +%s)" -lt "$t_end" ]; do
	r=$(awk '/^VmRSS/ {print $2}' "/proc/$PROXY_PID/status" 2>/dev/null) || break
	f=$(find "/proc/$PROXY_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	echo "$(date +%s) $r $f"
	sleep 1
done >"$SY_TMP/samples") &
sampler=$!

# Rounds: kind start end rc transactions
loader() { # KIND PGBENCH-ARGS...
	local kind=$1 s e rc out n
	shift
	while [ "$(date +%s)" -lt "$t_end" ]; do
		s=$(now)
		out=$(PGPASSWORD=app timeout 60 "$PGBENCH" -h 127.0.0.1 -p "$PROXY_PORT" -U app -T 5 -n "$@" app 2>&1) && rc=0 || rc=$?
		e=$(now)
		n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
		[ -n "$n" ] || n=0
		grep -qi 'error\|abort' <<<"$out" && [ "$rc" -eq 0 ] && rc=99
		echo "$kind $s $e $rc $n" >>"$SY_TMP/rounds"
		[ "$rc" -ne 0 ] && printf '%s %s\n%s\n' "$kind" "$s" "$(grep -i 'error\|abort' <<<"$out" | head -n 3)" >>"$SY_TMP/round-errors"
	done
}
# Rounds of sysbench / the mariadb reconnect loop, same format.
my_loader() { # KIND SYSBENCH-ARGS... (KIND my-reconnect: a mariadb client per SELECT)
	local kind=$1 s e rc out n
	shift
	while [ "$(date +%s)" -lt "$t_end" ]; do
		s=$(now)
		if [ "$kind" = my-reconnect ]; then
			rc=0 n=0 out=
			local stop=$(($(date +%s) + 5))
			while [ "$(date +%s)" -lt "$stop" ]; do
				if o=$(timeout 30 mariadb --no-defaults -h 127.0.0.1 -P "$MYPORT" -u app -papp -N -B shop \
					-e 'SELECT COUNT(*) FROM sbtest1 WHERE id < 10' 2>&1) && [ "$o" = 9 ]; then
					n=$((n + 1))
				else
					rc=1 out="ERROR: $o"
					break
				fi
			done
		else
			out=$(timeout 60 "${SB[@]}" --mysql-port="$MYPORT" --time=5 --report-interval=0 "$@" run 2>&1) && rc=0 || rc=$?
			n=$(sed -n 's/^ *transactions: *\([0-9]*\).*/\1/p' <<<"$out")
			[ -n "$n" ] || n=0
			grep -q 'FATAL' <<<"$out" && [ "$rc" -eq 0 ] && rc=99
		fi
		e=$(now)
		echo "$kind $s $e $rc $n" >>"$SY_TMP/rounds"
		[ "$rc" -ne 0 ] && printf '%s %s\n%s\n' "$kind" "$s" "$(grep -i 'error\|fatal' <<<"$out" | head -n 3)" >>"$SY_TMP/round-errors"
	done
}
loader tpcb -c "$PG_CLIENTS" -j 2 &
l1=$!
loader select-prepared -S -M prepared -c "$PG_CLIENTS" -j 2 &
l2=$!
loader reconnect -S -C -c 2 &
l3=$!
lmy=()
if [ "$MY_CLIENTS" -gt 0 ]; then
	my_loader my-rw --threads="$MY_CLIENTS" --db-ps-mode=disable oltp_read_write &
	lmy+=($!)
	my_loader my-point-ps --threads="$MY_CLIENTS" --db-ps-mode=auto oltp_point_select &
	lmy+=($!)
	my_loader my-reconnect &
	lmy+=($!)
fi

# Restarts: windows "kill_time up_time node", alternating PostgreSQL / MariaDB
restarts=0 my_restarts=0
while :; do
	sleep "$RESTART_EVERY"
	[ $(($(date +%s) + 10)) -lt "$t_end" ] || break
	node=pg-primary
	[ "$MY_CLIENTS" -gt 0 ] && [ $((restarts % 2)) = 1 ] && node=my-primary
	k=$(now)
	"$FLEET_SH" kill "$node" "$FLEET_DIR" >/dev/null 2>&1
	sleep 1
	"$FLEET_SH" restart "$node" "$FLEET_DIR" >/dev/null 2>&1
	u=$(now)
	echo "$k $u $node" >>"$SY_TMP/windows"
	restarts=$((restarts + 1))
	[ "$node" = my-primary ] && my_restarts=$((my_restarts + 1))
	proxy_alive || break
done
wait "$l1" "$l2" "$l3" "${lmy[@]}"
kill "$sampler" 2>/dev/null
wait "$sampler" 2>/dev/null

# ---- summary ----
alive=no
proxy_alive && alive=yes
touch "$SY_TMP/windows" "$SY_TMP/rounds"
read -r rounds failed_in failed_out tx my_rounds my_tx <<<"$(awk -v slack=5 '
	NR == FNR { ks[NR] = $1; us[NR] = $2; node[NR] = $3; nw = NR; next }
	{
		rounds++; tx += $5
		my = ($1 ~ /^my-/)
		if (my) { mrounds++; mtx += $5 }
		if ($4 != 0) {
			inwin = 0
			for (i = 1; i <= nw; i++)
				if ((node[i] ~ /^my-/) == my && $2 <= us[i] + slack && $3 >= ks[i]) inwin = 1
			if (inwin) fin++; else fout++
		}
	}
	END { printf "%d %d %d %d %d %d\n", rounds, fin, fout, tx, mrounds, mtx }' "$SY_TMP/windows" "$SY_TMP/rounds")"
n_samples=$(wc -l <"$SY_TMP/samples")
q=$((n_samples / 4))
[ "$q" -ge 1 ] || q=1
read -r rss_q fds_q <<<"$(sed -n "${q}p" "$SY_TMP/samples" | awk '{print $2, $3}')"
read -r rss_first fds_first <<<"$(head -n 1 "$SY_TMP/samples" | awk '{print $2, $3}')"
read -r rss_last fds_last <<<"$(tail -n 1 "$SY_TMP/samples" | awk '{print $2, $3}')"
rss_max=$(awk '{print $2}' "$SY_TMP/samples" | sort -n | tail -n 1)
fds_max=$(awk '{print $3}' "$SY_TMP/samples" | sort -n | tail -n 1)

echo "================ soak summary ================"
echo "duration:             ${DURATION}s, primary restarts: $restarts (every ${RESTART_EVERY}s; $my_restarts of them MariaDB)"
echo "load:                 PostgreSQL ${PG_CLIENTS}+${PG_CLIENTS}+2 clients, MySQL ${MY_CLIENTS}+${MY_CLIENTS}+1"
echo "rounds:               $rounds (5 s each), transactions: $tx"
echo "  PostgreSQL:         $((rounds - my_rounds)) rounds, $((tx - my_tx)) transactions ($(( (tx - my_tx) / DURATION ))/s)"
echo "  MySQL:              $my_rounds rounds, $my_tx transactions ($(( my_tx / DURATION ))/s)"
for k in $(awk '{print $1}' "$SY_TMP/rounds" | sort -u); do
	awk -v k="$k" '$1 == k { n++; t += $5; if ($4 != 0) f++ } END { printf "  %-18s  %d rounds, %d failed, %d transactions\n", k ":", n, f, t }' "$SY_TMP/rounds"
done
echo "failed rounds:        $failed_in in restart windows (expected), $failed_out outside (unexpected)"
echo "proxy alive at end:   $alive"
echo "VmRSS kB:             start $rss_first, quarter $rss_q, max $rss_max, end $rss_last"
echo "open fds:             start $fds_first, quarter $fds_q, max $fds_max, end $fds_last"
[ -s "$SY_TMP/round-errors" ] && { echo "first errors:"; head -n 12 "$SY_TMP/round-errors" | sed 's/^/  /'; }
echo "logs:                 $SY_TMP"
echo "=============================================="

assert_eq yes "$alive" "the proxy did not crash"
assert_eq 0 "$failed_out" "no client errors outside the restart windows"
[ "$tx" -gt 0 ] && _ok "$tx transactions" || fail "no transactions"
if [ "$MY_CLIENTS" -gt 0 ]; then
	[ "$my_tx" -gt 0 ] && _ok "$my_tx MySQL transactions" || fail "no MySQL transactions"
fi
[ "$rss_last" -le $((rss_q + RSS_GROWTH_KB)) ] && _ok "VmRSS flat ($rss_q -> $rss_last kB)" ||
	fail "VmRSS grew from $rss_q to $rss_last kB"
[ "$fds_last" -le $((fds_q + 25)) ] && _ok "fds flat ($fds_q -> $fds_last)" || fail "fds grew from $fds_q to $fds_last"
grep -E 'Sanitizer|runtime error' "$PROXY_LOG" && fail "sanitizer report in the proxy log"
true
