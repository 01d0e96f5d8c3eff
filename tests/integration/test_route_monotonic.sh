#!/usr/bin/env bash
# Monotonic reads against two real PostgreSQL replicas that lag differently
# (one replays at once, one 1.5 s behind via recovery_min_apply_delay),
# with round-robin balancing: while rows are added on the primary, a client
# reads count(*) through switchyard 300 times. With monotonic_reads = on
# the count never goes down; with it off, the same load sees it go down
# (so the test can fail).
. "$(dirname "$0")/lib.sh"

pg_su() { _psql "$1" monitor monitor postgres "${@:2}"; }
R2_PORT=$(free_port)
_PORTS_TAKEN+="$R2_PORT "
"$FLEET_SH" add-pg-replica mono "$R2_PORT" "$FLEET_DIR" >/dev/null 2>&1 || _die "could not add a second replica"
on_exit "'$FLEET_SH' drop-pg-replica mono '$FLEET_DIR' >/dev/null 2>&1"
pg_su "$R2_PORT" -c "ALTER SYSTEM SET recovery_min_apply_delay = '1500ms'" -c "SELECT pg_reload_conf()" >/dev/null

pg_direct -c "DROP TABLE IF EXISTS mono_t" -c "CREATE TABLE mono_t (id serial PRIMARY KEY)"
for i in $(seq 1 100); do
	[ "$(pg_su "$R2_PORT" -d app -c "SELECT to_regclass('mono_t') IS NOT NULL")" = t ] && break
	sleep 0.1
done
assert_eq t "$(pg_su "$R2_PORT" -d app -c "SELECT to_regclass('mono_t') IS NOT NULL")" "the second replica replays"

run_reads() { # monotonic_reads -> JSON
	local cfg=$SY_TMP/switchyard.ini
	write_config "$cfg" pool_mode=transaction pool_size=10 \
		"replicas=127.0.0.1:$PG_REPLICA_PORT, 127.0.0.1:$R2_PORT" \
		cluster.monitor_user=monitor cluster.monitor_password=monitor cluster.load_balance=round_robin \
		cluster.read_your_writes=off "cluster.monotonic_reads=$1" cluster.ryw_wait=20ms
	start_proxy "$cfg"
	# The writer: a row every 10 ms on the primary, straight.
	(
		trap - EXIT ERR
		PGPASSWORD=app timeout 20 psql -X -q -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U app -d app \
			-c "DO \$\$ BEGIN FOR i IN 1..1500 LOOP INSERT INTO mono_t DEFAULT VALUES; COMMIT; PERFORM pg_sleep(0.01); END LOOP; END \$\$" \
			>/dev/null 2>&1
	) &
	local writer=$!
	sleep 2.5 # both replicas have rows, the slow one 1.5 s fewer
	timeout 120 "$PY" "$HERE/route_clients.py" monotonic pg "$PROXY_PORT" 300 mono_t
	kill "$writer" 2>/dev/null || true
	wait "$writer" 2>/dev/null || true
	stop_proxy
}

res=$(run_reads on)
note "monotonic_reads = on: $res"
assert_eq 0 "$(json_get "$res" backwards)" "monotonic_reads = on: the count never goes down"
res=$(run_reads off)
note "monotonic_reads = off: $res"
[ "$(json_get "$res" backwards)" -gt 0 ] && _ok "monotonic_reads = off: the count went down $(json_get "$res" backwards) times" ||
	fail "monotonic_reads = off: never went down (the test could not fail)"
