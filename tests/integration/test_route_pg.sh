#!/usr/bin/env bash
# Read/write routing for PostgreSQL, against the real primary + streaming
# replica: reads go to the replica (the replica itself answers
# pg_is_in_recovery() = t), writes and BEGIN to the primary; comment hints,
# SET switchyard.route, [route.*] rules and default_target = replica users
# route as configured; a bad rule pattern fails `switchyard -t` with its
# offset. Then, with the replica deliberately 2 s behind
# (recovery_min_apply_delay), 20 clients write a row and read it back 500
# times each: with read_your_writes = lsn no read misses its own write;
# with read_your_writes = off, misses occur (the test can fail); and with
# consistency_scope = key a write on one connection is seen by a read on
# another connection with the same key (from SET, the options or the
# application_name), and with consistency_scope = user by any connection of
# the same user.
. "$(dirname "$0")/lib.sh"

pg_replica_su() { _psql "$PG_REPLICA_PORT" monitor monitor postgres "$@"; }

base_args=(pool_mode=transaction pool_size=10 "replicas=127.0.0.1:$PG_REPLICA_PORT"
	cluster.monitor_user=monitor cluster.monitor_password=monitor
	user.app.password=app
	user.reader.password=reader user.reader.server_user=app user.reader.server_password=app
	user.reader.default_target=replica
	global.admin_users=admin user.admin.password=adminpw)
rule=$'[route.app.to_primary]\nmatch = \\broute_to_primary\\b\ntarget = primary\n'

# ---- a bad pattern is a config error with its position ----
bad=$SY_TMP/bad.ini
write_config "$bad" "${base_args[@]}" "raw=[route.app.bad]"$'\n'"match = select (unclosed"$'\n'"target = replica"
out=$(timeout 10 "$BIN" -t -c "$bad" 2>&1) && fail "a bad pattern was accepted" || _ok "a bad pattern fails switchyard -t"
assert_match "$out" "offset [0-9]+" "the error gives the pattern offset"
assert_match "$out" "bad.ini:[0-9]+:" "the error names file and line"

# ---- routing by class, hint, session, rule, user ----
cfg=$SY_TMP/switchyard.ini
write_config "$cfg" "${base_args[@]}" cluster.read_your_writes=lsn cluster.ryw_wait=20ms "raw=$rule"
start_proxy "$cfg"

# One table per phase: the delayed replica would still show an earlier
# phase's rows after a TRUNCATE.
for t in route_t route_off route_scope route_nokey route_user; do
	pg_direct -c "DROP TABLE IF EXISTS $t" -c "CREATE TABLE $t (client int, i int, PRIMARY KEY (client, i))"
done
for i in $(seq 1 100); do
	[ "$(pg_replica_su -d app -c "SELECT to_regclass('route_user') IS NOT NULL")" = t ] && break
	sleep 0.1
done

assert_eq t "$(pg_proxy -c 'SELECT pg_is_in_recovery()')" "a plain SELECT is served by the replica"
assert_eq f "$(pg_proxy -c '/* switchyard: primary */ SELECT pg_is_in_recovery()')" "hint primary: the primary"
assert_eq f "$(pg_proxy -c 'SELECT pg_is_in_recovery() AS route_to_primary')" "a [route] rule: the primary"
pg_direct -c "DROP SEQUENCE IF EXISTS route_seq" -c "CREATE SEQUENCE route_seq" -c "INSERT INTO route_t VALUES (-5, -5)"
sleep 0.3
assert_eq f "$(pg_proxy -c 'SELECT pg_is_in_recovery() FROM route_t WHERE client = -5 FOR UPDATE')" "SELECT … FOR UPDATE: the primary"
assert_eq f "$(pg_proxy -c "SELECT pg_is_in_recovery() FROM nextval('route_seq')")" "SELECT nextval(…): the primary"
assert_eq t "$(pg_proxy -c "WITH x AS (SELECT 1) SELECT pg_is_in_recovery() FROM x")" "WITH … SELECT: the replica"
assert_eq f "$(pg_proxy -c 'BEGIN' -c 'SELECT pg_is_in_recovery()' -c 'COMMIT')" "a transaction runs on the primary"
assert_eq f "$(pg_proxy -c 'BEGIN READ ONLY' -c 'SELECT pg_is_in_recovery()' -c 'COMMIT')" \
	"BEGIN READ ONLY stays on the primary with read_only_transactions = primary"
assert_eq f "$(pg_proxy -c 'SET switchyard.route = primary' -c 'SELECT pg_is_in_recovery()')" \
	"SET switchyard.route = primary"
assert_eq t "$(pg_proxy -c 'SET switchyard.route = primary' -c 'SET switchyard.route = default' -c 'SELECT pg_is_in_recovery()')" \
	"SET switchyard.route = default"
assert_eq t "$(PGUSER=reader PGPASSWORD=reader pg_proxy -c 'SELECT pg_is_in_recovery()')" \
	"default_target = replica: its reads on the replica"
assert_eq t "$(PGUSER=reader PGPASSWORD=reader pg_proxy -c 'BEGIN' -c 'SELECT pg_is_in_recovery()' -c 'COMMIT')" \
	"default_target = replica: its transactions on the replica"
msg=$(PGUSER=reader PGPASSWORD=reader pg_proxy -c 'INSERT INTO route_t VALUES (0, 0)' 2>&1) || true
assert_contains "$msg" "read-only transaction" "default_target = replica: a write fails on the replica"
assert_eq 1 "$(pg_proxy -c 'INSERT INTO route_t VALUES (0, 0) RETURNING 1')" "writes go to the primary"
assert_eq 1 "$(pg_direct -c 'SELECT count(*) FROM route_t WHERE client = 0')" "the write is on the primary"
# Prepared statements (psycopg 3, server-side prepare): routed by their
# text, classified once.
prep=$("$PY" - "$PROXY_PORT" <<'PYEOF'
import sys, psycopg
c = psycopg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="app", dbname="app", autocommit=True)
reads = [c.execute("SELECT pg_is_in_recovery()", prepare=True).fetchone()[0] for _ in range(20)]
writes = [c.execute("SELECT pg_is_in_recovery() FROM nextval('route_seq')", prepare=True).fetchone()[0] for _ in range(5)]
print(sum(reads), sum(writes))
PYEOF
)
assert_eq "20 0" "$prep" "prepared reads on the replica (20 of 20), prepared writes on the primary"

# ---- what the stats port and the admin console say ----
metrics=$(curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/metrics")
rep=$(awk '/^switchyard_route_decisions_total\{/ && /target="replica"/ && /reason="classification"/ {print $NF}' <<<"$metrics")
pri=$(awk '/^switchyard_route_decisions_total\{/ && /target="primary"/ && /reason="classification"/ {print $NF}' <<<"$metrics")
hint=$(awk '/^switchyard_route_decisions_total\{/ && /target="primary"/ && /reason="hint"/ {print $NF}' <<<"$metrics")
hits=$(awk '/^switchyard_route_rule_hits_total\{/ && /rule="to_primary"/ {print $NF}' <<<"$metrics")
[ "${rep:-0}" -ge 2 ] && _ok "/metrics: $rep reads routed to the replica by classification" || fail "/metrics: replica classification decisions: '${rep:-}'"
[ "${pri:-0}" -ge 1 ] && _ok "/metrics: $pri writes routed to the primary by classification" || fail "/metrics: primary classification decisions: '${pri:-}'"
assert_eq 1 "${hint:-}" "/metrics: one hint decision"
assert_eq 1 "${hits:-}" "/metrics: the rule's hit counter"
json=$(curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/stats.json")
assert_eq 1 "$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["routing"]["rules"][0]["hits"])' "$json")" "/stats.json: routing.rules[0].hits"
routes=$(PGUSER=admin PGPASSWORD=adminpw PGDATABASE=switchyard pg_proxy -F ' ' -c 'SHOW ROUTES')
assert_match "$routes" "rule app to_primary .*route_to_primary.* primary 1" "SHOW ROUTES lists the rule and its hits"
assert_match "$routes" "decision  classification  replica [0-9]+" "SHOW ROUTES lists the decisions"

# ---- read-your-writes against a replica 2 s behind ----
pg_replica_su -c "ALTER SYSTEM SET recovery_min_apply_delay = '2s'" -c "SELECT pg_reload_conf()" >/dev/null
on_exit "_psql $PG_REPLICA_PORT monitor monitor postgres -c 'ALTER SYSTEM RESET recovery_min_apply_delay' -c 'SELECT pg_reload_conf()' >/dev/null"
# The replica reads its new setting a moment later: probe until a fresh
# row stays invisible there for a while.
behind=0
for k in $(seq 1 20); do
	pg_direct -c "INSERT INTO route_t VALUES (-9, $k)"
	if [ "$(pg_replica_su -d app -c "SELECT count(*) FROM route_t WHERE client = -9 AND i = $k")" = 0 ]; then
		behind=1
		break
	fi
	sleep 0.5
done
assert_eq 1 "$behind" "the replica is behind (delay in effect)"

res=$(timeout 300 "$PY" "$HERE/route_clients.py" ryw pg "$PROXY_PORT" 20 500 route_t)
note "read_your_writes = lsn: $res"
assert_eq 10000 "$(json_get "$res" reads)" "10000 reads"
assert_eq 0 "$(json_get "$res" errors)" "no errors"
assert_eq 0 "$(json_get "$res" misses)" "read_your_writes = lsn: every read sees its own write"
assert_eq t "$(pg_proxy -c 'SELECT pg_is_in_recovery()')" "a new client's first read is still served by the replica"
stop_proxy

# Without read-your-writes the same load misses its writes.
write_config "$cfg" "${base_args[@]}" cluster.read_your_writes=off cluster.monotonic_reads=off
start_proxy "$cfg"
res=$(timeout 300 "$PY" "$HERE/route_clients.py" ryw pg "$PROXY_PORT" 20 20 route_off)
note "read_your_writes = off: $res"
misses=$(json_get "$res" misses)
[ "$misses" -gt 0 ] && _ok "read_your_writes = off: $misses of 400 reads missed their write" ||
	fail "read_your_writes = off: no misses (the test could not fail)"
stop_proxy

# consistency_scope = key: two connections of one application.
write_config "$cfg" "${base_args[@]}" cluster.read_your_writes=lsn cluster.ryw_wait=20ms cluster.consistency_scope=key \
	cluster.read_only_transactions=replica
start_proxy "$cfg"
assert_eq t "$(pg_proxy -c 'BEGIN READ ONLY' -c 'SELECT pg_is_in_recovery()' -c 'COMMIT')" \
	"read_only_transactions = replica: BEGIN READ ONLY runs on the replica"
assert_eq f "$(pg_proxy -c 'BEGIN' -c 'SELECT pg_is_in_recovery()' -c 'COMMIT')" \
	"read_only_transactions = replica: a plain BEGIN still runs on the primary"
res=$(timeout 120 "$PY" "$HERE/route_clients.py" scope pg "$PROXY_PORT" 50 route_scope app-key-1)
note "consistency_scope = key: $res"
assert_eq 0 "$(json_get "$res" misses)" "consistency_scope = key: a read on another connection sees the write"
# The key from the startup packet: options=-c switchyard.key=K, or the
# application_name.
keyed=$("$PY" - "$PROXY_PORT" <<'PYEOF'
import sys, psycopg2
port = int(sys.argv[1])
def conn(**kw):
    c = psycopg2.connect(host="127.0.0.1", port=port, user="app", password="app", dbname="app", **kw)
    c.autocommit = True
    return c
misses = 0
for kind, kw in (("options", {"options": "-c switchyard.key=startup-key"}), ("appname", {"application_name": "shop-web"})):
    a, b = conn(**kw), conn(**kw)
    for i in range(20):
        a.cursor().execute("INSERT INTO route_scope (client, i) VALUES (%s, %s)", (-2 if kind == "options" else -3, i))
        cur = b.cursor()
        cur.execute("SELECT count(*) FROM route_scope WHERE client = %s AND i = %s", (-2 if kind == "options" else -3, i))
        misses += cur.fetchone()[0] != 1
print(misses)
PYEOF
)
assert_eq 0 "$keyed" "consistency_scope = key from options=-c switchyard.key and from application_name: 0 misses"
res=$(timeout 120 "$PY" "$HERE/route_clients.py" scope pg "$PROXY_PORT" 20 route_nokey "")
note "no key (scope connection): $res"
[ "$(json_get "$res" misses)" -gt 0 ] && _ok "without a shared key the other connection misses writes" ||
	fail "without a key no misses: the scope test could not fail"
stop_proxy

# consistency_scope = user: every connection of the user, no key needed.
write_config "$cfg" "${base_args[@]}" cluster.read_your_writes=lsn cluster.ryw_wait=20ms cluster.consistency_scope=user
start_proxy "$cfg"
res=$(timeout 120 "$PY" "$HERE/route_clients.py" scope pg "$PROXY_PORT" 30 route_user "")
note "consistency_scope = user: $res"
assert_eq 0 "$(json_get "$res" misses)" "consistency_scope = user: a read on another connection of the user sees the write"
stop_proxy
