#!/usr/bin/env bash
# pool_mode = statement (pool_size = 2): single statements work (simple and
# extended protocol, writes are committed at once); BEGIN / START
# TRANSACTION get SQLSTATE 25000 and the session stays usable; a
# multi-statement query that would leave a transaction open never leaves a
# server inside a transaction for anyone.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

pg_direct -q -c "SET client_min_messages = warning; DROP TABLE IF EXISTS txn_stmt; CREATE TABLE txn_stmt (k int PRIMARY KEY, v text)"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=statement pool_size=2 workers=1
start_proxy "$cfg"

assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "a simple query works"
assert_eq "" "$(pg_proxy -c "INSERT INTO txn_stmt VALUES (1, 'one')")" "an INSERT works"
assert_eq one "$(pg_direct -c 'SELECT v FROM txn_stmt WHERE k = 1')" "and is committed at once"
assert_eq "3|2" "$(pg_proxy -c "SELECT 3, 2")" "another query"
assert_eq "2" "$(pg_proxy -c "INSERT INTO txn_stmt VALUES (2, 'two')" -c "SELECT count(*) FROM txn_stmt")" "several statements in one session"

out=$(pg_proxy -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -c "SELECT 'before'" -c "BEGIN" -c "SELECT 'after BEGIN'" \
	-c "START TRANSACTION ISOLATION LEVEL SERIALIZABLE" -c "SELECT 'after START', txid_current_if_assigned() IS NULL" \
	-c "INSERT INTO txn_stmt VALUES (3, 'three')" -c "ROLLBACK" -c "SELECT v FROM txn_stmt WHERE k = 3" 2>&1) || true
echo "$out"
assert_match "$out" "ERROR: +25000:.*(transaction|BEGIN)" "BEGIN gets SQLSTATE 25000"
assert_eq 2 "$(grep -c 'ERROR:  25000' <<<"$out")" "BEGIN and START TRANSACTION both get 25000"
assert_contains "$out" "after BEGIN" "the session goes on after the refused BEGIN"
assert_contains "$out" "after START|t" "and after START TRANSACTION, outside any transaction"
assert_contains "$out" "three" "the INSERT after the refused BEGIN is committed (ROLLBACK has nothing to undo)"
assert_eq three "$(pg_direct -c 'SELECT v FROM txn_stmt WHERE k = 3')" "the row is on the server"

# Through a driver: psycopg2 (autocommit) for the SQLSTATE, psycopg 3 with
# server-side prepared statements in statement mode.
res=$("$PY" - "$PROXY_PORT" <<'PYEOF'
import sys
import psycopg2
port = sys.argv[1]
c = psycopg2.connect("host=127.0.0.1 port=%s user=app password=app dbname=app" % port)
c.autocommit = True
cur = c.cursor()
try:
    cur.execute("BEGIN")
    print("begin: no error")
except psycopg2.Error as e:
    print("begin:", e.pgcode)
cur.execute("SELECT %s::int + 1", (41,))
print("after:", cur.fetchone()[0])
c.close()
try:
    import psycopg
    with psycopg.connect("host=127.0.0.1 port=%s user=app password=app dbname=app" % port,
                         autocommit=True, prepare_threshold=0) as c3:
        s = 0
        for i in range(20):
            s += c3.execute("SELECT %s::int * 2", (i,)).fetchone()[0]
        print("psycopg3:", s)
except ImportError:
    print("psycopg3: missing")
PYEOF
)
echo "$res"
assert_contains "$res" "begin: 25000" "psycopg2: BEGIN gets pgcode 25000"
assert_contains "$res" "after: 42" "psycopg2: the session goes on"
assert_contains "$res" "psycopg3: 380" "psycopg 3: 20 executions of a named prepared statement in statement mode"

# A multi-statement query that opens a transaction: whatever the proxy does
# with this client, no server stays inside a transaction.
out=$(pg_proxy -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -c "SELECT 1; BEGIN; INSERT INTO txn_stmt VALUES (4, 'four')" 2>&1) || true
echo "multi-statement: $out"
sleep 0.5
assert_eq 0 "$(pg_monitor -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state LIKE 'idle in transaction%'")" \
	"no server is left idle in a transaction"
assert_eq "t|t" "$(pg_proxy -c 'SELECT txid_current_if_assigned() IS NULL, now() = statement_timestamp()')" "a new client is in no transaction"
assert_eq "t|t" "$(pg_proxy -c 'SELECT txid_current_if_assigned() IS NULL, now() = statement_timestamp()')" "nor is the next"
assert_eq 0 "$(pg_direct -c 'SELECT count(*) FROM txn_stmt WHERE k = 4')" "the row of the open transaction was not committed"
assert_ok proxy_alive
