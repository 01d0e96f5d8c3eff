#!/usr/bin/env bash
# Automatic failover (failover = auto) on a private PostgreSQL primary +
# two streaming replicas (fleet.sh add-pg-pair: the shared fleet's primary
# is never touched). Writes and reads flow through switchyard; the primary
# is killed (-9); a write sent during the outage waits (failover_wait) and
# succeeds on the promoted replica within heartbeat_interval * down_after
# + a few seconds; rows written before are there; the other replica now
# streams from the new primary; switchyard_failovers_total is 1 and the
# duration gauge is set; /stats.json shows the failover and its event; the
# old primary, restarted, is made read-only and gets no traffic.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/failover_lib.sh"
ASSERT_CONTINUE=1

fo_start_pair pg fo
pg_on() { _psql "$1" monitor monitor "${2:-app}" "${@:3}"; }

cfg=$SY_TMP/switchyard.ini
# A rule that names the primary's address: after the failover its work
# must go to the new primary, never to the fenced old one.
rule=$'[route.app.to_old]\nmatch = \\bpinned_to_old\\b\ntarget = 127.0.0.1:'"$P_PORT"$'\n'
write_config "$cfg" pool_mode=transaction pool_size=5 primary="127.0.0.1:$P_PORT" replicas="127.0.0.1:$R_PORT, 127.0.0.1:$R2_PORT" \
	cluster.heartbeat_interval=200ms cluster.down_after=3 cluster.up_after=2 \
	cluster.failover=auto cluster.failover_wait=20s cluster.replication_user=repl cluster.replication_password=repl \
	"raw=$rule"
start_proxy "$cfg"
URL=http://127.0.0.1:$STATS_PORT
LBL='{cluster="app"}'
metric() { fo_metric "$@"; }

# Before: writes and reads through the proxy.
pg_proxy -c "DROP TABLE IF EXISTS fo_t" -c "CREATE TABLE fo_t (id int PRIMARY KEY, v text)" >/dev/null
# One session, 50 transactions (one psql per statement would take seconds).
args=()
for i in $(seq 1 50); do args+=(-c "INSERT INTO fo_t VALUES ($i, 'before')"); done
# The same session reads its writes (read-your-writes is per connection).
got=$(pg_proxy "${args[@]}" -c "SELECT count(*) FROM fo_t") || fail "writes before the failure"
assert_eq 50 "$(tail -n 1 <<<"$got")" "reads through the proxy see the writes"
for port in "$R_PORT" "$R2_PORT"; do
	for i in $(seq 1 50); do
		[ "$(pg_on "$port" app -c "SELECT count(*) FROM fo_t" 2>/dev/null)" = 50 ] && break
		sleep 0.1
	done
	assert_eq 50 "$(pg_on "$port" app -c "SELECT count(*) FROM fo_t")" "replica $port has replayed the rows"
done
for i in $(seq 1 50); do
	[ "$(metric "switchyard_failovers_total$LBL")" = 0 ] && break
	sleep 0.1
done
assert_eq 0 "$(metric "switchyard_failovers_total$LBL")" "no failover yet"
assert_eq NaN "$(metric "switchyard_last_failover_duration_seconds$LBL")" "no duration yet"

# The primary dies.
fo_kill_primary app postgres fo pg-primary "$P_PORT" pg_proxy -c "INSERT INTO fo_t VALUES (1000, 'during')"
# Both replicas had replayed everything: the first in config order wins the tie.
NEW=$R_PORT OTHER=$R2_PORT
assert_eq f "$(pg_on "$NEW" postgres -c "SELECT pg_is_in_recovery()")" "the replica was promoted"
assert_eq 51 "$(pg_on "$NEW" app -c "SELECT count(*) FROM fo_t")" "rows from before the failure and the one during it are there"
assert_eq during "$(pg_on "$NEW" app -c "SELECT v FROM fo_t WHERE id = 1000")" "the write went to the new primary"
got=$(pg_proxy -c "INSERT INTO fo_t VALUES (1001, 'after')" -c "SELECT count(*) FROM fo_t") || fail "a write after the failover"
assert_eq 52 "$(tail -n 1 <<<"$got")" "a write and a read through the proxy after the failover"
# The other replica follows the new primary (primary_conninfo rewritten).
rcv=""
for i in $(seq 1 100); do
	rcv=$(pg_on "$OTHER" postgres -c "SELECT sender_port, status FROM pg_stat_wal_receiver" 2>/dev/null) || true
	[ "$rcv" = "$NEW|streaming" ] && break
	sleep 0.2
done
assert_eq "$NEW|streaming" "$rcv" "the other replica streams from the new primary"
for i in $(seq 1 50); do
	[ "$(pg_on "$OTHER" app -c "SELECT count(*) FROM fo_t WHERE id = 1001" 2>/dev/null)" = 1 ] && break
	sleep 0.1
done
assert_eq 1 "$(pg_on "$OTHER" app -c "SELECT count(*) FROM fo_t WHERE id = 1001")" "it replays writes made after the failover"

js=$(curl -s -f --max-time 5 "$URL/stats.json")
fo=$("$PY" -c 'import json,sys; f=[x for x in json.loads(sys.argv[1])["failovers"] if x["cluster"]=="app"][0]; print(f["failovers_total"], f["result"], f["new_primary"], f["old_primary"], f["primary"])' "$js")
assert_eq "1 ok 127.0.0.1:$NEW 127.0.0.1:$P_PORT 127.0.0.1:$NEW" "$fo" "/stats.json failovers"
ev=$("$PY" -c 'import json,sys; print("\n".join(e["message"] for e in json.loads(sys.argv[1])["events"]))' "$js")
assert_contains "$ev" "failover of cluster app done" "the failover is on the events list"
assert_contains "$ev" "primary 127.0.0.1:$P_PORT is down" "the primary going down is on the events list"
assert_ok grep -q "failover: cluster app: 127.0.0.1:$NEW is the new primary" "$PROXY_LOG"
assert_ok grep -q "failover: cluster app: replica 127.0.0.1:$OTHER now follows 127.0.0.1:$NEW" "$PROXY_LOG"

# The old primary comes back: fenced (read-only, no traffic).
"$FLEET_SH" pair-start fo pg-primary "$FLEET_DIR" >/dev/null 2>&1 || _die "could not restart the old primary"
ro=""
for i in $(seq 1 100); do
	ro=$(pg_on "$P_PORT" postgres -c "SHOW default_transaction_read_only" 2>/dev/null) || true
	[ "$ro" = on ] && break
	sleep 0.2
done
assert_eq on "$ro" "the old primary was made read-only"
before=$(pg_on "$P_PORT" app -c "SELECT count(*) FROM fo_t")
args=()
for i in $(seq 1 20); do
	args+=(-c "INSERT INTO fo_t VALUES ($((2000 + i)), 'fenced')" -c "SELECT count(*) FROM fo_t")
done
pg_proxy "${args[@]}" >/dev/null || fail "writes and reads after the old primary came back"
for i in $(seq 1 5); do
	pg_proxy -c "INSERT INTO fo_t VALUES ($((3000 + i)), 'new session')" >/dev/null || fail "write $i in a new session"
done
assert_eq "$NEW" "$(pg_proxy -c "SELECT inet_server_port() /* pinned_to_old */")" \
	"a rule naming the fenced old primary is served by the new primary"
assert_eq "$before" "$(pg_on "$P_PORT" app -c "SELECT count(*) FROM fo_t")" "the fenced old primary got no writes"
assert_eq 0 "$(pg_on "$P_PORT" postgres -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'")" "nor any client connection"
js=$(curl -s -f --max-time 5 "$URL/stats.json")
role=$("$PY" -c 'import json,sys; print([n["role"] for n in json.loads(sys.argv[1])["nodes"] if n["node"]==sys.argv[2]][0])' "$js" "127.0.0.1:$P_PORT")
assert_eq fenced "$role" "/stats.json shows the old primary as fenced"
stop_proxy
