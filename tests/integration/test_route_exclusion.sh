#!/usr/bin/env bash
# Replicas that must not serve reads: one of two real PostgreSQL replicas is
# made to lag (recovery_min_apply_delay = 3s while rows are written) with
# max_replica_lag = 1s: reads go only to the other one. Then the lagging
# one is the only replica: reads fall back to the primary (counted as
# lag_excluded). Then it is stopped: the health thread marks it down and
# reads go to the primary (replicas_down), or, with replica_fallback =
# error, the client gets a clear error.
. "$(dirname "$0")/lib.sh"

pg_su() { _psql "$1" monitor monitor postgres "${@:2}"; }
metric() { # REASON -> primary decisions with that reason
	curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/metrics" |
		awk -v r="reason=\"$1\"" '/^switchyard_route_decisions_total\{/ && /target="primary"/ && index($0, r) {print $NF}'
}
R2_PORT=$(free_port)
_PORTS_TAKEN+="$R2_PORT "
"$FLEET_SH" add-pg-replica lagging "$R2_PORT" "$FLEET_DIR" >/dev/null 2>&1 || _die "could not add a second replica"
on_exit "'$FLEET_SH' drop-pg-replica lagging '$FLEET_DIR' >/dev/null 2>&1"
pg_direct -c "DROP TABLE IF EXISTS excl_t" -c "CREATE TABLE excl_t (id serial PRIMARY KEY)"
for i in $(seq 1 100); do
	[ "$(pg_su "$R2_PORT" -d app -c "SELECT to_regclass('excl_t') IS NOT NULL")" = t ] && break
	sleep 0.1
done
pg_su "$R2_PORT" -c "ALTER SYSTEM SET recovery_min_apply_delay = '3s'" -c "SELECT pg_reload_conf()" >/dev/null
# A row every 20 ms for up to 90 s (killed when no longer needed): the
# delayed replica's replay stays ~3 s behind.
(
	trap - EXIT ERR
	PGPASSWORD=app timeout 90 psql -X -q -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U app -d app \
		-c "DO \$\$ BEGIN FOR i IN 1..4500 LOOP INSERT INTO excl_t DEFAULT VALUES; COMMIT; PERFORM pg_sleep(0.02); END LOOP; END \$\$" \
		>/dev/null 2>&1
) &
writer=$!
on_exit "kill $writer 2>/dev/null"
# Which server answered a read.
ask_port() { pg_proxy -c "SELECT current_setting('port')"; }

cfg=$SY_TMP/switchyard.ini
common=(pool_mode=transaction pool_size=10 cluster.monitor_user=monitor cluster.monitor_password=monitor
	cluster.max_replica_lag=1s cluster.heartbeat_interval=200ms cluster.read_your_writes=off cluster.monotonic_reads=off
	cluster.load_balance=round_robin)
write_config "$cfg" "${common[@]}" "replicas=127.0.0.1:$PG_REPLICA_PORT, 127.0.0.1:$R2_PORT"
start_proxy "$cfg"
sleep 4 # the delay builds up, beats measure it
# 20 reads, each on a new connection (one process: quick even on a busy machine)
seen=$("$PY" - "$PROXY_PORT" <<'PYEOF'
import sys, psycopg2
out = []
for _ in range(20):
    c = psycopg2.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="app", dbname="app")
    c.autocommit = True
    cur = c.cursor()
    cur.execute("SELECT current_setting('port')")
    out.append(cur.fetchone()[0])
    c.close()
print(" ".join(out))
PYEOF
)
note "ports that served 20 reads: $seen (replica $PG_REPLICA_PORT, lagging $R2_PORT)"
assert_not_contains "$seen" "$R2_PORT" "the lagging replica serves no reads"
assert_contains "$seen" "$PG_REPLICA_PORT" "the other replica serves them"
lag=$(curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/metrics" |
	awk -v n="node=\"127.0.0.1:$R2_PORT\"" '/^switchyard_node_lag_seconds\{/ && index($0, n) {print $NF}')
note "lag of the delayed replica per /metrics: $lag s"
stop_proxy

write_config "$cfg" "${common[@]}" "replicas=127.0.0.1:$R2_PORT"
start_proxy "$cfg"
sleep 2
assert_eq "$PG_PRIMARY_PORT" "$(ask_port)" "only a lagging replica: the primary serves the read"
[ "$(metric lag_excluded)" -ge 1 ] && _ok "counted as lag_excluded" || fail "lag_excluded: '$(metric lag_excluded)'"
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true

# Down: stop it.
"$FLEET_SH" drop-pg-replica lagging "$FLEET_DIR" >/dev/null 2>&1
wait_log "127.0.0.1:$R2_PORT.* down" 10 || fail "the health thread did not mark the stopped replica down"
assert_eq "$PG_PRIMARY_PORT" "$(ask_port)" "the replica is down: the primary serves the read"
[ "$(metric replicas_down)" -ge 1 ] && _ok "counted as replicas_down" || fail "replicas_down: '$(metric replicas_down)'"
stop_proxy

write_config "$cfg" "${common[@]}" "replicas=127.0.0.1:$R2_PORT" cluster.replica_fallback=error
log_mark "fallback error"
start_proxy "$cfg"
wait_log_since_mark "127.0.0.1:$R2_PORT.* down" 10 || fail "the health thread did not mark the stopped replica down"
out=$(pg_proxy -c "SELECT 1" 2>&1) && fail "a read was served with no usable replica and replica_fallback = error" ||
	_ok "replica_fallback = error: the read is refused"
assert_contains "$out" "no usable replica" "with a clear message"
assert_eq 1 "$(pg_proxy -c 'INSERT INTO excl_t DEFAULT VALUES RETURNING 1')" "writes still go to the primary"
