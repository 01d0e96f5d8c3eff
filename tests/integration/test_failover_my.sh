#!/usr/bin/env bash
# Automatic failover (failover = auto) on a private MariaDB primary + two
# GTID replicas (fleet.sh add-my-pair: the shared fleet is never touched).
# Writes and reads flow through switchyard; the primary is killed (-9); a
# write sent during the outage waits (failover_wait) and succeeds on the
# promoted replica (STOP SLAVE; RESET SLAVE ALL; read_only = 0); rows
# written before are there; the other replica replicates from the new
# primary (CHANGE MASTER TO ... MASTER_USE_GTID = slave_pos);
# switchyard_failovers_total is 1 and the duration gauge is set;
# /stats.json shows the failover; the old primary, restarted, is made
# read_only = 1 and gets no traffic.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/failover_lib.sh"
ASSERT_CONTINUE=1

fo_start_pair my fomy
my_on() { timeout 60 mariadb --no-defaults -h 127.0.0.1 -P "$1" -u monitor -pmonitor -N -B "${@:2}"; }
my_px() { timeout 60 mariadb --no-defaults -h 127.0.0.1 -P "$PROXY_PORT" -u app -papp -N -B shop "$@"; }

PROXY_PORT=$(free_port)
_PORTS_TAKEN+="$PROXY_PORT "
STATS_PORT=$(free_port)
_PORTS_TAKEN+="$STATS_PORT "
cfg=$SY_TMP/switchyard.ini
cat >"$cfg" <<EOT
[switchyard]
workers = 2
log_level = info
stats_listen = 127.0.0.1:$STATS_PORT
shutdown_timeout = 5s

[listen.my]
protocol = mysql
address = 127.0.0.1:$PROXY_PORT
cluster = shop

[cluster.shop]
protocol = mysql
primary = 127.0.0.1:$P_PORT
replicas = 127.0.0.1:$R_PORT, 127.0.0.1:$R2_PORT
pool_mode = transaction
pool_size = 5
monitor_user = monitor
monitor_password = monitor
heartbeat_interval = 200ms
down_after = 3
up_after = 2
failover = auto
failover_wait = 20s
replication_user = repl
replication_password = repl

[user.app]
password = app
EOT
start_proxy "$cfg"
URL=http://127.0.0.1:$STATS_PORT
LBL='{cluster="shop"}'
metric() { fo_metric "$@"; }

my_px -e "DROP TABLE IF EXISTS fo_t; CREATE TABLE fo_t (id int PRIMARY KEY, v text)"
sql=""
for i in $(seq 1 50); do sql+="INSERT INTO fo_t VALUES ($i, 'before');"; done
# The same session reads its writes (read-your-writes is per connection).
assert_eq 50 "$(my_px -e "${sql}SELECT count(*) FROM fo_t")" "reads through the proxy see the writes"
for port in "$R_PORT" "$R2_PORT"; do
	for i in $(seq 1 50); do
		[ "$(my_on "$port" shop -e "SELECT count(*) FROM fo_t" 2>/dev/null)" = 50 ] && break
		sleep 0.1
	done
	assert_eq 50 "$(my_on "$port" shop -e "SELECT count(*) FROM fo_t")" "replica $port has applied the rows"
done
for i in $(seq 1 50); do
	[ "$(metric "switchyard_failovers_total$LBL")" = 0 ] && break
	sleep 0.1
done
assert_eq 0 "$(metric "switchyard_failovers_total$LBL")" "no failover yet"

fo_kill_primary shop mysql fomy my-primary "$P_PORT" my_px -e "INSERT INTO fo_t VALUES (1000, 'during')"
assert_eq 0 "$(my_on "$R_PORT" -e "SELECT @@read_only")" "the replica was promoted (read_only = 0)"
assert_eq "" "$(my_on "$R_PORT" -e "SHOW SLAVE STATUS")" "and replicates from nobody"
assert_eq 51 "$(my_on "$R_PORT" shop -e "SELECT count(*) FROM fo_t")" "rows from before the failure and the one during it are there"
# The other replica follows the new primary (the tie went to the first in config order).
st=""
for i in $(seq 1 100); do
	st=$(timeout 10 mariadb --no-defaults -h 127.0.0.1 -P "$R2_PORT" -u monitor -pmonitor -B -e "SHOW SLAVE STATUS\G" 2>/dev/null |
		awk '$1 == "Master_Port:" || $1 == "Slave_IO_Running:" || $1 == "Slave_SQL_Running:" { printf "%s ", $2 }') || true
	[ "$st" = "$R_PORT Yes Yes " ] && break
	sleep 0.2
done
assert_eq "$R_PORT Yes Yes " "$st" "the other replica replicates from the new primary"
for i in $(seq 1 50); do
	[ "$(my_on "$R2_PORT" shop -e "SELECT count(*) FROM fo_t WHERE id = 1000" 2>/dev/null)" = 1 ] && break
	sleep 0.1
done
assert_eq 1 "$(my_on "$R2_PORT" shop -e "SELECT count(*) FROM fo_t WHERE id = 1000")" "and has the write made during the outage"
assert_eq during "$(my_on "$R_PORT" shop -e "SELECT v FROM fo_t WHERE id = 1000")" "the write went to the new primary"
js=$(curl -s -f --max-time 5 "$URL/stats.json")
fo=$("$PY" -c 'import json,sys; f=[x for x in json.loads(sys.argv[1])["failovers"] if x["cluster"]=="shop"][0]; print(f["failovers_total"], f["result"], f["new_primary"], f["old_primary"])' "$js")
assert_eq "1 ok 127.0.0.1:$R_PORT 127.0.0.1:$P_PORT" "$fo" "/stats.json failovers"
ev=$("$PY" -c 'import json,sys; print("\n".join(e["message"] for e in json.loads(sys.argv[1])["events"]))' "$js")
assert_contains "$ev" "failover of cluster shop done" "the failover is on the events list"
assert_contains "$ev" "replica 127.0.0.1:$R2_PORT now follows 127.0.0.1:$R_PORT" "so is the repointing"

# The old primary comes back (as a primary: read_only = 0): fenced.
"$FLEET_SH" pair-start fomy my-primary "$FLEET_DIR" >/dev/null 2>&1 || _die "could not restart the old primary"
ro=""
for i in $(seq 1 100); do
	ro=$(my_on "$P_PORT" -e "SELECT @@read_only" 2>/dev/null) || true
	[ "$ro" = 1 ] && break
	sleep 0.2
done
assert_eq 1 "$ro" "the old primary was made read-only"
before=$(my_on "$P_PORT" shop -e "SELECT count(*) FROM fo_t")
sql=""
for i in $(seq 1 20); do sql+="INSERT INTO fo_t VALUES ($((2000 + i)), 'fenced'); SELECT count(*) FROM fo_t;"; done
my_px -e "$sql" >/dev/null || fail "writes and reads after the old primary came back"
for i in $(seq 1 5); do
	my_px -e "INSERT INTO fo_t VALUES ($((3000 + i)), 'new session')" || fail "write $i in a new session"
done
assert_eq "$before" "$(my_on "$P_PORT" shop -e "SELECT count(*) FROM fo_t")" "the fenced old primary got no writes"
assert_eq 76 "$(my_on "$R_PORT" shop -e "SELECT count(*) FROM fo_t")" "they went to the new primary"
stop_proxy
