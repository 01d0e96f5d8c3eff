#!/usr/bin/env bash
# The health thread: heartbeats and position reads against the fleet's
# PostgreSQL primary + replica and MariaDB primary + replica (monitor_user
# monitor), shown on /metrics and /stats.json; positions advance after a
# write on each primary and the replica's reaches the primary's; a replica
# address with nothing listening goes down after down_after beats (logged),
# a hung one (accepts, never answers) too without delaying the others;
# the dead one comes back after up_after good beats once something answers there, and a
# reload that removes it stops probing it.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

DEAD_PORT=$(free_port)
_PORTS_TAKEN+="$DEAD_PORT "
# A hung node: the kernel accepts the connection, nobody ever answers.
HUNG_PORT=$(free_port)
_PORTS_TAKEN+="$HUNG_PORT "
"$PY" -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
time.sleep(600)' "$HUNG_PORT" &
hung=$!
on_exit "kill $hung"
cfg=$SY_TMP/switchyard.ini
mk_config() { # [with_dead=1]
	local ghost=""
	if [ "${1:-1}" = 1 ]; then
		ghost="[cluster.ghost]
protocol = postgres
primary = 127.0.0.1:$PG_PRIMARY_PORT
replicas = 127.0.0.1:$DEAD_PORT, 127.0.0.1:$HUNG_PORT
server_database = app
heartbeat_interval = 200ms
server_connect_timeout = 1s
down_after = 3
monitor_user = monitor
monitor_password = monitor
"
	fi
	local keep=()
	[ -n "${STATS_PORT:-}" ] && keep=("global.stats_listen=127.0.0.1:$STATS_PORT")
	local sp=${STATS_PORT:-}
	write_config "$cfg" port="${PROXY_PORT:-}" "${keep[@]}" replicas="127.0.0.1:$PG_REPLICA_PORT" \
		cluster.monitor_user=monitor cluster.monitor_password=monitor \
		cluster.heartbeat_interval=200ms cluster.down_after=3 cluster.up_after=2 \
		raw="[cluster.shop]
protocol = mysql
primary = 127.0.0.1:$MY_PRIMARY_PORT
replicas = 127.0.0.1:$MY_REPLICA_PORT
heartbeat_interval = 200ms
monitor_user = monitor
monitor_password = monitor

$ghost"
	[ -n "$sp" ] && STATS_PORT=$sp
	return 0
}
mk_config 1
start_proxy "$cfg"
URL=http://127.0.0.1:$STATS_PORT
scrape() { curl -s -f --max-time 5 "$@"; }
metric() { awk -v k="$2" '$1 == k { print $2 }' <<<"$1"; }
lbl() { echo "{cluster=\"$1\",node=\"127.0.0.1:$2\",protocol=\"$3\"}"; }

PGP=$(lbl app "$PG_PRIMARY_PORT" postgres)
PGR=$(lbl app "$PG_REPLICA_PORT" postgres)
MYP=$(lbl shop "$MY_PRIMARY_PORT" mysql)
MYR=$(lbl shop "$MY_REPLICA_PORT" mysql)
DEAD=$(lbl ghost "$DEAD_PORT" postgres)

# All four live nodes answer: up, with the role they report.
m=""
for i in $(seq 1 50); do
	m=$(scrape "$URL/metrics") || true
	n=0
	for l in "$PGP" "$PGR" "$MYP" "$MYR"; do
		ok=$(metric "$m" "switchyard_node_heartbeats_total${l%\}},result=\"ok\"}")
		[ "${ok:-0}" -ge 2 ] && n=$((n + 1))
	done
	[ "$n" = 4 ] && break
	sleep 0.2
done
for l in "$PGP" "$PGR" "$MYP" "$MYR"; do
	assert_eq 1 "$(metric "$m" "switchyard_node_up$l")" "node up: $l"
	ok=$(metric "$m" "switchyard_node_heartbeats_total${l%\}},result=\"ok\"}")
	[ "${ok:-0}" -ge 2 ] && _ok "heartbeats ok for $l ($ok)" || fail "no good heartbeats for $l: '$ok'"
	assert_eq 0 "$(metric "$m" "switchyard_node_heartbeats_total${l%\}},result=\"failed\"}")" "no failed heartbeat for $l"
done
assert_eq 1 "$(metric "$m" "switchyard_node_reported_role${PGP%\}},role=\"primary\"}")" "PostgreSQL primary reports primary"
assert_eq 1 "$(metric "$m" "switchyard_node_reported_role${PGR%\}},role=\"replica\"}")" "PostgreSQL replica reports replica"
assert_eq 1 "$(metric "$m" "switchyard_node_reported_role${MYP%\}},role=\"primary\"}")" "MariaDB primary reports primary"
assert_eq 1 "$(metric "$m" "switchyard_node_reported_role${MYR%\}},role=\"replica\"}")" "MariaDB replica reports replica (read_only=1)"
assert_eq 0 "$(metric "$m" "switchyard_node_lag_seconds$PGP")" "the PostgreSQL primary has no lag"
assert_eq 0 "$(metric "$m" "switchyard_node_lag_seconds$MYP")" "the MariaDB primary has no lag"
assert_match "$(metric "$m" "switchyard_node_lag_seconds$MYR")" '^[0-9.]+$' "the MariaDB replica's lag is known"
assert_match "$(metric "$m" "switchyard_node_lag_seconds$PGR")" '^[0-9.]+$' "the PostgreSQL replica's lag is known"
assert_not_contains "$(grep -E 'health: .*(failed|down)' "$SY_TMP/proxy.log" | grep -v -e "$DEAD_PORT" -e "$HUNG_PORT" || true)" "127.0.0.1" \
	"no heartbeat failure logged for a live node"
# Heartbeat round trip (measured by the health thread), failures in a row,
# and for PostgreSQL the WAL position and the lag in bytes (none for MariaDB:
# GTIDs have no byte distance).
lt1() { "$PY" -c 'import sys; v = float(sys.argv[1]); sys.exit(0 if 0 < v < float(sys.argv[2]) else 1)' "$1" "$2"; }
for l in "$PGP" "$PGR" "$MYP" "$MYR"; do
	rtt=$(metric "$m" "switchyard_node_heartbeat_latency_seconds$l")
	lt1 "${rtt:-0}" 1 && _ok "heartbeat latency of $l in (0, 1) s: $rtt" || fail "heartbeat latency of $l: '$rtt'"
	assert_eq 0 "$(metric "$m" "switchyard_node_consecutive_failures$l")" "no failure in a row for $l"
done
assert_eq 0 "$(metric "$m" "switchyard_node_lag_bytes$PGP")" "the PostgreSQL primary is 0 bytes behind itself"
lb=$(metric "$m" "switchyard_node_lag_bytes$PGR")
[[ "$lb" =~ ^[0-9]+$ ]] && [ "$lb" -lt $((1 << 30)) ] && _ok "the PostgreSQL replica's lag in bytes is known: $lb" ||
	fail "the PostgreSQL replica's lag in bytes: '$lb'"
wp=$(metric "$m" "switchyard_node_wal_position_bytes$PGP")
[[ "$wp" =~ ^[0-9]+$ ]] && [ "$wp" -gt 0 ] && _ok "the PostgreSQL primary's WAL position: $wp" || fail "WAL position: '$wp'"
assert_eq "" "$(metric "$m" "switchyard_node_lag_bytes$MYR")$(metric "$m" "switchyard_node_wal_position_bytes$MYP")" \
	"no byte lag or WAL position series for MariaDB nodes"

# Position reads run every replica_position_interval (50 ms by default).
r0=$(metric "$m" "switchyard_node_position_reads_total$PGR")
sleep 1
m=$(scrape "$URL/metrics")
r1=$(metric "$m" "switchyard_node_position_reads_total$PGR")
[ $((r1 - r0)) -ge 8 ] && _ok "position reads of the PostgreSQL replica: $r0 -> $r1 in 1 s" ||
	fail "too few position reads: $r0 -> $r1 in 1 s"

# pos CLUSTER PORT: a node's position from /stats.json.
pos() {
	scrape "$URL/stats.json" | "$PY" -c '
import json, sys
d = json.loads(sys.stdin.read())
for n in d["nodes"]:
    if n["cluster"] == sys.argv[1] and n["node"] == "127.0.0.1:" + sys.argv[2]:
        print(n.get("health", {}).get("position", ""))' "$1" "$2"
}
lsn() { "$PY" -c 'import sys; h, l = sys.argv[1].split("/"); print(int(h, 16) << 32 | int(l, 16))' "$1"; }

# PostgreSQL: a write moves the primary's LSN; the replica's replay LSN reaches it.
p0=$(pos app "$PG_PRIMARY_PORT")
assert_match "$p0" '^[0-9A-F]+/[0-9A-F]+$' "the PostgreSQL primary's position is an LSN ($p0)"
assert_ok pg_direct -c "CREATE TABLE IF NOT EXISTS health_probe(x int); INSERT INTO health_probe SELECT generate_series(1, 1000)"
target=$(pg_direct -Atc "SELECT pg_current_wal_lsn()")
p1=""
for i in $(seq 1 50); do
	p1=$(pos app "$PG_PRIMARY_PORT")
	[ -n "$p1" ] && [ "$(lsn "$p1")" -ge "$(lsn "$target")" ] && break
	sleep 0.1
done
[ "$(lsn "$p1")" -gt "$(lsn "$p0")" ] && _ok "the PostgreSQL primary's position advanced: $p0 -> $p1" ||
	fail "the PostgreSQL primary's position did not advance: $p0 -> $p1 (wrote up to $target)"
r=""
for i in $(seq 1 100); do
	r=$(pos app "$PG_REPLICA_PORT")
	[ -n "$r" ] && [ "$(lsn "$r")" -ge "$(lsn "$target")" ] && break
	sleep 0.1
done
[ -n "$r" ] && [ "$(lsn "$r")" -ge "$(lsn "$target")" ] && _ok "the PostgreSQL replica's position reached the primary's ($r >= $target)" ||
	fail "the PostgreSQL replica's position $r did not reach $target"

# MariaDB: the primary's gtid_binlog_pos moves; the replica's gtid_slave_pos equals it.
q0=$(pos shop "$MY_PRIMARY_PORT")
assert_ok my_direct -e "CREATE TABLE IF NOT EXISTS health_probe(x int); INSERT INTO health_probe VALUES (1),(2),(3)"
mtarget=$(MYUSER=monitor MYPASSWORD=monitor my_direct -e "SELECT @@gtid_binlog_pos")
q1=""
for i in $(seq 1 50); do
	q1=$(pos shop "$MY_PRIMARY_PORT")
	[ "$q1" = "$mtarget" ] && break
	sleep 0.1
done
assert_eq "$mtarget" "$q1" "the MariaDB primary's position is its gtid_binlog_pos after the write (was $q0)"
assert_ne "$q0" "$q1" "the MariaDB primary's position advanced"
qr=""
for i in $(seq 1 100); do
	qr=$(pos shop "$MY_REPLICA_PORT")
	[ "$qr" = "$mtarget" ] && break
	sleep 0.1
done
assert_eq "$mtarget" "$qr" "the MariaDB replica's position reached the primary's"

# The dead replica: down after down_after = 3 failed beats, logged once with the reason.
wait_log "health: node 127.0.0.1:$DEAD_PORT \(postgres\) is down after 3 failed heartbeats" 10 &&
	_ok "the dead replica is logged down after 3 failed heartbeats" || fail "no 'down' line for the dead replica"
m=$(scrape "$URL/metrics")
assert_eq 0 "$(metric "$m" "switchyard_node_up$DEAD")" "the dead replica is down on /metrics"
f=$(metric "$m" "switchyard_node_heartbeats_total${DEAD%\}},result=\"failed\"}")
[ "${f:-0}" -ge 3 ] && _ok "failed heartbeats counted ($f)" || fail "failed heartbeats: '$f'"
assert_eq 0 "$(metric "$m" "switchyard_node_heartbeats_total${DEAD%\}},result=\"ok\"}")" "no good heartbeat for the dead replica"
cf=$(metric "$m" "switchyard_node_consecutive_failures$DEAD")
[ "${cf:-0}" -ge 3 ] && _ok "failures in a row of the dead replica: $cf" || fail "consecutive failures of the dead replica: '$cf'"
assert_eq NaN "$(metric "$m" "switchyard_node_heartbeat_latency_seconds$DEAD")" "no heartbeat latency for a node never reached"
assert_eq "" "$(metric "$m" "switchyard_node_lag_bytes$DEAD")" "no byte lag for a node whose position is unknown"
assert_eq 1 "$(grep -c "node 127.0.0.1:$DEAD_PORT (postgres) is down" "$SY_TMP/proxy.log")" "the down transition is logged once"
assert_match "$(grep "node 127.0.0.1:$DEAD_PORT (postgres) is down" "$SY_TMP/proxy.log")" "could not connect|refused" "the log says why"
j=$(scrape "$URL/stats.json")
assert_match "$j" '"node":"127\.0\.0\.1:'"$DEAD_PORT"'"[^}]*"health":\{"up":false,' "/stats.json shows the dead replica down"
# The primary shared by two clusters is one node: probed once, the same counters in both rows.
assert_eq "$(metric "$m" "switchyard_node_heartbeats_total${PGP%\}},result=\"ok\"}")" \
	"$(metric "$m" "switchyard_node_heartbeats_total$(lbl ghost "$PG_PRIMARY_PORT" postgres | sed 's/}$//'),result=\"ok\"}")" \
	"a node in two clusters is one node"
assert_eq 1 "$(grep -c "health: probing node 127.0.0.1:$PG_PRIMARY_PORT " "$SY_TMP/proxy.log")" "the shared primary is probed once"

# The hung node: each beat waits server_connect_timeout (1 s); down after 3,
# while the other nodes' beats go on (none failed).
wait_log "health: node 127.0.0.1:$HUNG_PORT \(postgres\) is down after 3 failed heartbeats: no login within server_connect_timeout" 10 &&
	_ok "the hung node is down after 3 connect timeouts" || fail "no 'down' line for the hung node"
m=$(scrape "$URL/metrics")
for l in "$PGP" "$PGR" "$MYP" "$MYR"; do
	assert_eq 0 "$(metric "$m" "switchyard_node_heartbeats_total${l%\}},result=\"failed\"}")" "no failed heartbeat for $l while a node hangs"
	age=$(metric "$m" "switchyard_node_heartbeat_age_seconds$l")
	awk -v a="$age" 'BEGIN { exit !(a < 1) }' && _ok "last good beat of $l is recent (${age}s)" || fail "last beat of $l is ${age}s old"
done

# Something starts answering on the dead address (a TCP relay to the
# PostgreSQL replica): the node is up again after up_after = 3 good beats.
"$PY" -c '
import asyncio, sys
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def handle(cr, cw):
    sr, sw = await asyncio.open_connection("127.0.0.1", int(sys.argv[2]))
    await asyncio.gather(pipe(cr, sw), pipe(sr, cw))
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with srv:
        await srv.serve_forever()
asyncio.run(main())' "$DEAD_PORT" "$PG_REPLICA_PORT" &
relay=$!
on_exit "kill $relay"
wait_log "health: node 127.0.0.1:$DEAD_PORT \(postgres\) is up again after 3 good heartbeats" 10 &&
	_ok "the node is logged up again after 3 good heartbeats" || fail "no 'up again' line once the address answers"
m=$(scrape "$URL/metrics")
assert_eq 1 "$(metric "$m" "switchyard_node_up$DEAD")" "the revived node is up on /metrics"
assert_eq 1 "$(metric "$m" "switchyard_node_reported_role${DEAD%\}},role=\"replica\"}")" "it reports the replica role"
kill "$relay" 2>/dev/null || true
wait "$relay" 2>/dev/null || true

# A reload without the ghost cluster stops probing the node.
mk_config 0
log_mark reload
kill -HUP "$PROXY_PID"
wait_log_since_mark "node 127.0.0.1:$DEAD_PORT left the configuration" 10 && _ok "the removed node is no longer probed" ||
	fail "no 'left the configuration' line after the reload"
m=$(scrape "$URL/metrics")
assert_eq 1 "$(metric "$m" "switchyard_node_up$PGR")" "live nodes still up after the reload"
