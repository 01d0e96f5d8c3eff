#!/usr/bin/env bash
# Read/write routing for MariaDB, against the real primary + GTID replica:
# reads go to the replica (@@server_id tells which server answered),
# writes to the primary; hints, SET @@session.switchyard_route, rules and
# default_target = replica users route as configured. Then, with the
# replica 3 s behind (MASTER_DELAY = 3), 20 clients write a row and read
# it back 500 times each: with read_your_writes = lsn (the commit's GTID
# from @@last_gtid against the replica's @@gtid_slave_pos) no read misses
# its own write; with read_your_writes = off misses occur.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

my_replica_su() { timeout 60 mariadb --no-defaults -h 127.0.0.1 -P "$MY_REPLICA_PORT" -u monitor -pmonitor -N -B "$@"; }

write_my_config() { # FILE EXTRA-CLUSTER-LINES...
	local file=$1
	shift
	PROXY_PORT=$(free_port)
	_PORTS_TAKEN+="$PROXY_PORT "
	STATS_PORT=$(free_port)
	_PORTS_TAKEN+="$STATS_PORT "
	{
		cat <<EOT
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
primary = 127.0.0.1:$MY_PRIMARY_PORT
replicas = 127.0.0.1:$MY_REPLICA_PORT
pool_mode = transaction
pool_size = 10
monitor_user = monitor
monitor_password = monitor
EOT
		printf '%s\n' "$@"
		cat <<'EOT'

[user.app]
password = app

[user.reader]
password = reader
server_user = app
server_password = app
default_target = replica

[route.shop.to_primary]
match = \broute_to_primary\b
target = primary
EOT
	} >"$file"
}

primary_id=$(my_direct -e "SELECT @@server_id")
replica_id=$(my_replica -e "SELECT @@server_id")
[ "$primary_id" != "$replica_id" ] || _die "primary and replica have the same server_id"

# One table per phase: the delayed replica would still show an earlier
# phase's rows after a DELETE.
for t in route_t route_off route_scope; do
	my_direct -e "DROP TABLE IF EXISTS $t; CREATE TABLE $t (client INT, i INT, PRIMARY KEY (client, i))"
done
pos=$(my_direct -e "SELECT @@gtid_binlog_pos")
my_replica_su -e "SELECT MASTER_GTID_WAIT('$pos', 30)" >/dev/null

cfg=$SY_TMP/switchyard.ini
write_my_config "$cfg" "read_your_writes = lsn" "ryw_wait = 20ms"
start_proxy "$cfg"

assert_eq "$replica_id" "$(my_proxy -e 'SELECT @@server_id')" "a plain SELECT is served by the replica"
assert_eq "$primary_id" "$(my_proxy --comments -e '/* switchyard: primary */ SELECT @@server_id')" "hint primary: the primary"
assert_eq "$primary_id" "$(my_proxy -e 'SELECT @@server_id AS route_to_primary')" "a [route] rule: the primary"
assert_eq "$primary_id" "$(my_proxy -e 'SELECT @@server_id, GET_LOCK("route", 0)' | cut -f1)" "GET_LOCK(): the primary"
assert_eq "$primary_id" "$(my_proxy -e 'BEGIN; SELECT @@server_id; COMMIT')" "a transaction runs on the primary"
assert_eq "$primary_id" "$(my_proxy -e 'SET @@session.switchyard_route = "primary"; SELECT @@server_id')" \
	"SET @@session.switchyard_route = primary"
assert_eq "$replica_id" "$(MYUSER=reader MYPASSWORD=reader my_proxy -e 'SELECT @@server_id')" \
	"default_target = replica: reads on the replica"
assert_ok my_proxy -e 'INSERT INTO route_t VALUES (0, 0)'
assert_eq 1 "$(my_proxy -e 'INSERT INTO route_t VALUES (0, 2); SELECT LAST_INSERT_ID() IS NOT NULL')" "a write, then a read in the same session"
assert_eq 2 "$(my_direct -e 'SELECT count(*) FROM route_t WHERE client = 0')" "the writes are on the primary"
assert_eq "$primary_id" "$(my_proxy -e 'SELECT @@server_id FROM route_t WHERE client = 0 LIMIT 1 FOR UPDATE')" "SELECT … FOR UPDATE: the primary"

# ---- read-your-writes against a replica 2 s behind ----
my_replica_su -e "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 3; START SLAVE"
on_exit "timeout 30 mariadb --no-defaults -h 127.0.0.1 -P $MY_REPLICA_PORT -u monitor -pmonitor -e 'STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE'"
behind=0
for k in $(seq 1 10); do
	my_direct -e "INSERT INTO route_t VALUES (-9, $k)"
	if [ "$(my_replica -e "SELECT count(*) FROM route_t WHERE client = -9 AND i = $k")" = 0 ]; then
		behind=1
		break
	fi
done
assert_eq 1 "$behind" "the replica is behind (MASTER_DELAY in effect)"

res=$(timeout 300 "$PY" "$HERE/route_clients.py" ryw my "$PROXY_PORT" 20 500 route_t)
note "read_your_writes = lsn: $res"
assert_eq 10000 "$(json_get "$res" reads)" "10000 reads"
assert_eq 0 "$(json_get "$res" errors)" "no errors"
assert_eq 0 "$(json_get "$res" misses)" "read_your_writes = lsn: every read sees its own write"
assert_eq "$replica_id" "$(my_proxy -e 'SELECT @@server_id')" "a new client's first read is still served by the replica"
stop_proxy

write_my_config "$cfg" "read_your_writes = off" "monotonic_reads = off"
start_proxy "$cfg"
res=$(timeout 300 "$PY" "$HERE/route_clients.py" ryw my "$PROXY_PORT" 20 20 route_off)
note "read_your_writes = off: $res"
misses=$(json_get "$res" misses)
[ "$misses" -gt 0 ] && _ok "read_your_writes = off: $misses of 400 reads missed their write" ||
	fail "read_your_writes = off: no misses (the test could not fail)"
stop_proxy

write_my_config "$cfg" "read_your_writes = lsn" "ryw_wait = 20ms" "consistency_scope = key" "read_only_transactions = replica"
start_proxy "$cfg"
assert_eq "$replica_id" "$(my_proxy -e 'START TRANSACTION READ ONLY; SELECT @@server_id; COMMIT')" \
	"read_only_transactions = replica: START TRANSACTION READ ONLY runs on the replica"
assert_eq "$primary_id" "$(my_proxy -e 'START TRANSACTION; SELECT @@server_id; COMMIT')" \
	"read_only_transactions = replica: a plain START TRANSACTION still runs on the primary"
res=$(timeout 120 "$PY" "$HERE/route_clients.py" scope my "$PROXY_PORT" 50 route_scope shop-key-1)
note "consistency_scope = key: $res"
assert_eq 0 "$(json_get "$res" misses)" "consistency_scope = key: a read on another connection sees the write"
stop_proxy
