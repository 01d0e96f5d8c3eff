#!/usr/bin/env bash
# test_my_txn_isolation.sh — MySQL transaction pooling keeps clients apart
# on shared server connections (PyMySQL, one worker, small pools):
#   - tracked state follows each client: USE / COM_INIT_DB, SET NAMES,
#     sql_mode, time_zone, autocommit — client B never sees client A's;
#   - untracked state pins: SET @v, temporary tables; the pinned server is
#     cleaned with COM_RESET_CONNECTION before another client gets it;
#   - COM_RESET_CONNECTION from a client resets its own state;
#   - a transaction keeps its server until COMMIT.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

my_monitor -e "CREATE DATABASE IF NOT EXISTS shop2; GRANT ALL PRIVILEGES ON shop2.* TO 'app'@'%'"
my_write_config "$SY_TMP/sy.ini" pool_mode=transaction pool_size=1 workers=1
start_proxy "$SY_TMP/sy.ini"
my_direct -e "CREATE TABLE IF NOT EXISTS iso (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10))"

cat >"$SY_TMP/iso.py" <<'PYEOF'
import sys, pymysql
port = int(sys.argv[1])
def conn(**kw):
    return pymysql.connect(host="127.0.0.1", port=port, user="app", password="app",
                           database="shop", autocommit=True, **kw)
def one(c, sql):
    cur = c.cursor()
    cur.execute(sql)
    r = cur.fetchone()
    return r[0] if r else None
a, b = conn(), conn(charset="utf8mb4")
# the server thread id (CONNECTION_ID() through the proxy is the proxy's id)
tid = one(a, "SELECT @@pseudo_thread_id")
print("same_server", tid == one(b, "SELECT @@pseudo_thread_id"))
one(a, "USE shop2")
print("a_db", one(a, "SELECT DATABASE()"), "b_db", one(b, "SELECT DATABASE()"), "a_db2", one(a, "SELECT DATABASE()"))
a.select_db("shop")
print("a_initdb", one(a, "SELECT DATABASE()"))
one(a, "SET NAMES latin1")
print("a_cs", one(a, "SELECT @@character_set_client"), "b_cs", one(b, "SELECT @@character_set_client"))
one(a, "SET SESSION sql_mode = 'ANSI_QUOTES'")
one(a, "SET time_zone = '+05:00'")
print("a_mode", one(a, "SELECT @@sql_mode"), "b_mode_ansi", "ANSI_QUOTES" in one(b, "SELECT @@sql_mode"))
print("a_tz", one(a, "SELECT @@time_zone"), "b_tz", one(b, "SELECT @@time_zone"))
one(a, "SET autocommit = 0")
print("a_ac", one(a, "SELECT @@autocommit"))
a.commit()
print("b_ac", one(b, "SELECT @@autocommit"))
one(a, "SET autocommit = 1")
# a transaction keeps its server: b would wait (pool_size 1), so b runs after COMMIT
one(a, "BEGIN")
one(a, "INSERT INTO iso (v) VALUES ('tx')")
print("a_in_tx", one(a, "SELECT COUNT(*) FROM iso WHERE v = 'tx'"))
one(a, "ROLLBACK")
print("b_after_rollback", one(b, "SELECT COUNT(*) FROM iso WHERE v = 'tx'"))
# pins: a user variable keeps a's server; a leaves; b gets it back reset
one(a, "SET @v = 42")
print("a_v", one(a, "SELECT @v"))
one(a, "CREATE TEMPORARY TABLE tmp1 (x INT)")
one(a, "INSERT INTO tmp1 VALUES (7)")
print("a_tmp", one(a, "SELECT x FROM tmp1"))
# COM_RESET_CONNECTION: a's own state goes, and so does the pin
def reset(c):
    c._execute_command(0x1f, b"")
    c._read_ok_packet()
reset(a)
print("b_v", one(b, "SELECT @v"), "b_cs_after", one(b, "SELECT @@character_set_client"))
reset(b)  # reading @v pinned b
print("a_v_after_reset", one(a, "SELECT @v"))
one(a, "SET @w = 1")
a.close()
print("b_w_after_a_left", one(b, "SELECT @w"), "b_tmp", one(b, "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'tmp1'"))
print("b_same_server", one(b, "SELECT @@pseudo_thread_id") == tid)
PYEOF
out=$("$PY" "$SY_TMP/iso.py" "$PROXY_PORT" 2>&1) || true
echo "$out"
assert_contains "$out" "same_server True" "both clients share the one server connection"
assert_contains "$out" "a_db shop2 b_db shop a_db2 shop2" "USE is per client"
assert_contains "$out" "a_initdb shop" "COM_INIT_DB"
assert_contains "$out" "a_cs latin1 b_cs utf8mb4" "SET NAMES is per client"
assert_contains "$out" "a_mode ANSI_QUOTES b_mode_ansi False" "sql_mode is per client"
assert_contains "$out" "a_tz +05:00 b_tz SYSTEM" "time_zone is per client"
assert_contains "$out" "a_ac 0" "autocommit=0 for a"
assert_contains "$out" "b_ac 1" "autocommit stays 1 for b"
assert_contains "$out" "a_in_tx 1" "inside a's transaction"
assert_contains "$out" "b_after_rollback 0" "rolled back"
assert_contains "$out" "a_v 42" "user variable kept while pinned"
assert_contains "$out" "a_tmp 7" "temporary table kept while pinned"
assert_contains "$out" "a_v_after_reset None" "COM_RESET_CONNECTION resets the client's session"
assert_contains "$out" "b_v None b_cs_after utf8mb4" "b never sees a's variable or character set"
assert_contains "$out" "b_w_after_a_left None b_tmp 0" "pinned server reset before b reuses it"
assert_contains "$out" "b_same_server True" "it was the same server connection"
assert_not_contains "$out" "Traceback" "no client errors"
