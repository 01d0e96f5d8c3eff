#!/usr/bin/env bash
# The admin console on the MySQL listener, through the mariadb client:
# schema "switchyard" for users in admin_users gives every SHOW with the
# documented columns (SHOW NODES lists the MariaDB primary as primary),
# PAUSE of the MySQL cluster waits for an open transaction and holds a new
# one until RESUME, RELOAD applies a changed pool_size, KILL closes a
# client; a non-admin user asking for the schema is refused with ERR 1044;
# other commands than queries, ping and quit get an error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"
ASSERT_CONTINUE=1
NL=$'\n'

cfg=$SY_TMP/switchyard.ini
mk() { # POOL_SIZE: the same ports every time (RELOAD)
	local pp=${PROXY_PORT:-} sp=${STATS_PORT:-}
	my_write_config "$cfg" pool_size="$1" "global=admin_users = admin" "raw=[user.admin]"$'\n'"password = adminpw"
	if [ -n "$pp" ]; then
		sed -i "s/127\.0\.0\.1:$PROXY_PORT\$/127.0.0.1:$pp/; s/127\.0\.0\.1:$STATS_PORT\$/127.0.0.1:$sp/" "$cfg"
		PROXY_PORT=$pp STATS_PORT=$sp
	fi
}
mk 5
start_proxy "$cfg"

# The console, as an operator types it (--batch: tab-separated, a header line).
adm() { timeout 60 mariadb --no-defaults -h 127.0.0.1 -P "$PROXY_PORT" -u admin -padminpw --batch switchyard "$@"; }
adm_n() { adm -N "$@"; } # without the header
now_ms() { date +%s%3N; }
hdr() { adm --column-type-info -e "$1" | head -n 1 | tr '\t' '|'; } # also for no rows

assert_eq "1" "$(my_proxy -e 'select 1')" "a query through the proxy"
sleep 1.2 # the pools are in the published snapshots

assert_eq "cluster|node|role|database|user|size|active|idle|connecting|waiting|connects|connect_failures|last_error" \
	"$(hdr "SHOW POOLS")" "SHOW POOLS columns"
assert_match "$(adm_n -e "SHOW POOLS" | tr '\t' '|')" "(^|$NL)shop\|127\.0\.0\.1:$MY_PRIMARY_PORT\|primary\|shop\|app\|5\|" \
	"SHOW POOLS: the shop pool on the MariaDB primary, size 5"
assert_eq "id|worker|addr|user|database|state|tls|connect_time|queries|server_id|protocol" \
	"$(hdr "SHOW CLIENTS")" "SHOW CLIENTS columns"
assert_match "$(adm_n -e "SHOW CLIENTS" | tr '\t' '|')" "(^|$NL)[0-9]+\|[0-9]+\|[^|]*\|admin\|switchyard\|MY_CL_ADMIN\|no\|[^|]*\|[0-9]+\|\|mysql($NL|$)" \
	"SHOW CLIENTS lists this MySQL admin session, protocol mysql"
assert_eq "id|worker|node|database|user|state|tls|backend_pid|client_id|age_s|idle_s" \
	"$(hdr "SHOW SERVERS")" "SHOW SERVERS columns"
assert_match "$(adm_n -e "SHOW SERVERS" | tr '\t' '|')" "\|127\.0\.0\.1:$MY_PRIMARY_PORT\|shop\|app\|SV_IDLE\|no\|[0-9]+\|" \
	"SHOW SERVERS: an idle server of the shop pool"
assert_eq "cluster|node|role|protocol|state|active|idle|connecting|waiting|health|reported_role|lag|position|last_beat_age_s|heartbeats_ok|heartbeats_failed|position_reads|last_error|consecutive_failures|heartbeat_latency_ms|lag_bytes|wal_position_bytes" \
	"$(hdr "SHOW NODES")" "SHOW NODES columns"
nodes=""
for _ in $(seq 1 50); do # the first heartbeats
	nodes=$(adm_n -e "SHOW NODES" | tr '\t' '|')
	grep -q "^shop|127\.0\.0\.1:$MY_PRIMARY_PORT|primary|mysql|[a-z]*|[0-9]*|[0-9]*|[0-9]*|[0-9]*|up|primary|" <<<"$nodes" && break
	sleep 0.2
done
assert_match "$nodes" "^shop\|127\.0\.0\.1:$MY_PRIMARY_PORT\|primary\|mysql\|[a-z]+\|[0-9]+\|[0-9]+\|[0-9]+\|[0-9]+\|up\|primary\|" \
	"SHOW NODES: the MariaDB primary, role primary, up"
assert_eq "name|value" "$(hdr "SHOW STATS")" "SHOW STATS columns"
assert_match "$(adm_n -e "SHOW STATS" | tr '\t' '|')" $'(^|\n)queries_total\\|[1-9]' "SHOW STATS: queries counted"
assert_eq "section|key|value" "$(hdr "SHOW CONFIG")" "SHOW CONFIG columns"
assert_match "$(adm_n -e "SHOW CONFIG" | tr '\t' '|')" $'(^|\n)cluster\\.shop\\|pool_size\\|5' "SHOW CONFIG: pool_size"
assert_not_contains "$(adm_n -e "SHOW CONFIG")" "adminpw" "SHOW CONFIG shows no password"
assert_eq "version" "$(hdr "SHOW VERSION")" "SHOW VERSION column"
assert_match "$(adm_n -e "SHOW VERSION")" "^switchyard [0-9]" "SHOW VERSION"
assert_eq "time|level|event" "$(hdr "SHOW EVENTS")" "SHOW EVENTS columns"
assert_match "$(adm_n -e "SHOW EVENTS")" "started" "SHOW EVENTS: the start"
assert_eq "kind|cluster|name|match|target|count" "$(hdr "SHOW ROUTES")" "SHOW ROUTES columns"
assert_eq "query|target|calls|total_ms|mean_ms|max_ms|rows|errors" "$(hdr "SHOW QUERIES")" "SHOW QUERIES columns"
assert_match "$(adm_n -e "SHOW QUERIES" | tr '\t' '|')" "(^|$NL)select \?\|127\.0\.0\.1:$MY_PRIMARY_PORT \(primary\)\|[1-9]" \
	"SHOW QUERIES: the select through the proxy"
assert_eq "command|what it does" "$(hdr "SHOW HELP")" "SHOW HELP columns"
assert_contains "$(adm_n -e "SHOW HELP")" "PAUSE [cluster]" "SHOW HELP lists PAUSE"
assert_match "$(adm_n -e "show pools;" | tr '\t' '|')" "^shop\|" "commands are case-insensitive, ';' allowed"
assert_contains "$(adm_n -e "select @@version_comment limit 1")" "switchyard" "the client's start-up query has its row"
out=$(printf 'SHOW NOTHING;\nSHOW VERSION;\n' | adm --force 2>&1 || true)
assert_contains "$out" 'ERROR 1064' "unknown SHOW: an error"
assert_contains "$out" 'unknown SHOW "NOTHING"' "unknown SHOW: clear message"
assert_match "$out" "switchyard [0-9]" "the session goes on after an error"
# COM_PING, COM_INIT_DB, another command, on one connection (PyMySQL).
out=$("$PY" - "$PROXY_PORT" <<'PYEOF' 2>&1 || true
import sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="admin", password="adminpw", database="switchyard")
c.ping(reconnect=False)
print("ping ok")
c.select_db("switchyard")
print("init_db ok")
try:
    c._execute_command(9, b"")  # COM_STATISTICS
    c._read_packet()
    print("statistics answered")
except pymysql.err.MySQLError as e:
    print("statistics refused:", e)
cur = c.cursor()
cur.execute("SHOW VERSION")
print("after:", cur.fetchone()[0])
c.close()
PYEOF
)
assert_contains "$out" "ping ok" "COM_PING on the console"
assert_contains "$out" "init_db ok" "COM_INIT_DB of switchyard on the console"
assert_contains "$out" "statistics refused: (1047" "another command: ERR 1047"
assert_contains "$out" "the admin console takes only queries" "... with a clear message"
assert_match "$out" "after: switchyard [0-9]" "the session goes on after it"

# Refusals.
out=$(timeout 30 mariadb --no-defaults -h 127.0.0.1 -P "$PROXY_PORT" -u app -papp --batch switchyard -e "SHOW POOLS" 2>&1 || true)
assert_contains "$out" "ERROR 1044" "a non-admin user asking for switchyard: ERR 1044"
assert_contains "$out" "not in admin_users" "... with a clear message"
out=$(timeout 30 mariadb --no-defaults -h 127.0.0.1 -P "$PROXY_PORT" -u admin -pwrong --batch switchyard -e "SHOW POOLS" 2>&1 || true)
assert_contains "$out" "ERROR 1045" "an admin with a wrong password: ERR 1045"
out=$(adm -e "RESUME" 2>&1 || true)
assert_contains "$out" "not paused" "RESUME when not paused: clear error"
out=$(adm -e "PAUSE nosuch" 2>&1 || true)
assert_contains "$out" 'no cluster "nosuch"' "PAUSE of an unknown cluster: clear error"

# PAUSE waits for an open transaction (4 s long) of the MySQL cluster.
# (Nothing after COMMIT: a new transaction would be held by the PAUSE.)
"$PY" - "$PROXY_PORT" >"$SY_TMP/tx.out" 2>&1 <<'PYEOF' &
import sys, time, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="app", database="shop", autocommit=True)
cur = c.cursor()
cur.execute("BEGIN")
cur.execute("SELECT 'in-tx'")
print(cur.fetchone()[0], flush=True)
time.sleep(4)
cur.execute("SELECT 'committed'")
print(cur.fetchone()[0], flush=True)
cur.execute("COMMIT")
PYEOF
tx=$!
for _ in $(seq 1 100); do grep -q in-tx "$SY_TMP/tx.out" && break; sleep 0.1; done
assert_contains "$(cat "$SY_TMP/tx.out")" "in-tx" "a transaction is open"
t0=$(now_ms)
out=$(adm -e "PAUSE shop" 2>&1)
t1=$(now_ms)
assert_eq "" "$out" "PAUSE shop succeeds"
note "PAUSE took $((t1 - t0)) ms (the transaction had about 4 s left)"
[ $((t1 - t0)) -ge 2000 ] && _ok "PAUSE waited for the open transaction ($((t1 - t0)) ms)" ||
	fail "PAUSE returned after $((t1 - t0)) ms, before the transaction could have committed"
wait "$tx" || true
assert_contains "$(cat "$SY_TMP/tx.out")" "committed" "the open transaction committed"

# While paused: a second PAUSE is an error, a new transaction of another
# client waits, and completes after RESUME.
out=$(adm -e "PAUSE shop" 2>&1 || true)
assert_contains "$out" "already paused" "a second PAUSE: clear error"
assert_match "$(adm_n -e "SHOW STATS" | tr '\t' '|')" $'(^|\n)paused\\|shop' "SHOW STATS says what is paused"
t0=$(now_ms)
timeout 60 mariadb --no-defaults -h 127.0.0.1 -P "$PROXY_PORT" -u app -papp -N -B shop \
	-e "BEGIN; select 42; COMMIT" >"$SY_TMP/held.out" 2>&1 &
held=$!
sleep 2.5
kill -0 "$held" 2>/dev/null && _ok "a new transaction waits while paused" ||
	fail "the new client finished while paused: $(cat "$SY_TMP/held.out")"
assert_eq "" "$(cat "$SY_TMP/held.out")" "no answer while paused"
t1=$(now_ms)
assert_eq "" "$(adm -e "RESUME shop" 2>&1)" "RESUME shop succeeds"
rc=0
wait "$held" || rc=$?
t2=$(now_ms)
assert_eq 0 "$rc" "the held client succeeds after RESUME"
assert_eq "42" "$(cat "$SY_TMP/held.out")" "the held transaction completes after RESUME"
note "held for $((t1 - t0)) ms, answered $((t2 - t1)) ms after RESUME"
[ $((t2 - t0)) -ge 2000 ] && _ok "the held client waited ($((t2 - t0)) ms in all)" ||
	fail "the held client did not wait ($((t2 - t0)) ms)"
assert_eq "1" "$(my_proxy -e 'select 1')" "queries flow again"

# PAUSE of everything, from the MySQL console, holds MySQL clients too.
assert_eq "" "$(adm -e "PAUSE" 2>&1)" "PAUSE (all) succeeds"
timeout 60 mariadb --no-defaults -h 127.0.0.1 -P "$PROXY_PORT" -u app -papp -N -B shop -e "select 7" >"$SY_TMP/held2.out" 2>&1 &
held=$!
sleep 1.5
kill -0 "$held" 2>/dev/null && _ok "a client waits while all is paused" || fail "it finished while paused: $(cat "$SY_TMP/held2.out")"
assert_eq "" "$(adm -e "RESUME" 2>&1)" "RESUME (all) succeeds"
wait "$held" || true
assert_eq "7" "$(cat "$SY_TMP/held2.out")" "the held query completes after RESUME"

# KILL closes a client (its id: the proxy's handshake connection id).
"$PY" - "$PROXY_PORT" >"$SY_TMP/victim.out" 2>&1 <<'PYEOF' &
import sys, time, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="app", database="shop")
cur = c.cursor()
print("id", c.thread_id(), flush=True)
for _ in range(300):
    time.sleep(0.1)
    try:
        cur.execute("SELECT 1")
    except pymysql.err.MySQLError as e:
        print("killed:", e, flush=True)
        sys.exit(0)
print("survived", flush=True)
PYEOF
victim=$!
id=""
for _ in $(seq 1 100); do
	id=$(sed -n 's/^id \([0-9]*\)$/\1/p' "$SY_TMP/victim.out")
	[ -n "$id" ] && break
	sleep 0.1
done
row=""
for _ in $(seq 1 50); do # SHOW CLIENTS lists it under the id MySQL's KILL takes
	[ -n "$id" ] || break
	row=$(adm_n -e "SHOW CLIENTS" | tr '\t' '|' | grep "^$id|" || true)
	[ -n "$row" ] && break
	sleep 0.2
done
assert_match "$row" "^$id\|[0-9]+\|127\.0\.0\.1:[0-9]+\|app\|shop\|MY_CL_[A-Z_]+\|no\|[^|]+\|[0-9]+\|[0-9]*\|mysql$" \
	"SHOW CLIENTS lists the MySQL client with its connection id, schema and protocol"
if [ -z "$id" ]; then
	fail "no connection id from the victim: $(cat "$SY_TMP/victim.out")"
else
	id=$(cut -d'|' -f1 <<<"$row") # the id as SHOW CLIENTS gives it
	assert_eq "" "$(adm -e "KILL $id" 2>&1)" "KILL $id (from SHOW CLIENTS) succeeds"
	wait "$victim" || true
	assert_contains "$(cat "$SY_TMP/victim.out")" "killed:" "the killed client's session is gone"
	assert_match "$(cat "$SY_TMP/proxy.log")" "mysql client $id \([^)]*\): closing: Connection was killed" \
		"the proxy closed it with ERR 1927 'Connection was killed'"
	assert_match "$(adm_n -e "SHOW EVENTS")" "client $id killed by admin admin" "SHOW EVENTS lists the KILL"
	sleep 1.2 # the next publish
	assert_eq "" "$(adm_n -e "SHOW CLIENTS" | cut -f1 | grep -x "$id" || true)" "SHOW CLIENTS no longer lists the killed client"
fi
out=$(adm -e "KILL 999999" 2>&1 || true)
assert_contains "$out" "no client with id 999999" "KILL of an unknown id: clear error"

# RELOAD applies a changed pool size.
mk 3
out=$(adm -e "RELOAD" 2>&1)
assert_eq "" "$out" "RELOAD succeeds"
wait_log "reload done" 10 || fail "RELOAD did not reload"
pools=""
for _ in $(seq 1 50); do
	pools=$(adm_n -e "SHOW POOLS" | tr '\t' '|')
	grep -q "^shop|127\.0\.0\.1:$MY_PRIMARY_PORT|primary|shop|app|3|" <<<"$pools" && break
	sleep 0.2
done
assert_match "$pools" "^shop\|127\.0\.0\.1:$MY_PRIMARY_PORT\|primary\|shop\|app\|3\|" "after RELOAD the pool size is 3"
assert_match "$(adm_n -e "SHOW EVENTS")" "reload done" "SHOW EVENTS lists the reload"
assert_eq "1" "$(my_proxy -e 'select 1')" "the proxy still serves"
assert_ok proxy_alive
