#!/usr/bin/env bash
# test_my_timeouts.sh — session timeouts on the MySQL path (PyMySQL):
# idle_transaction_timeout closes a client idle inside a transaction with
# ERR 4031 and its server's transaction is rolled back; client_idle_timeout
# closes an idle client with ERR 4031; query_timeout ends a long command
# with ERR 3024, closes its server connection and stops the statement with
# KILL QUERY sent on another connection of the pool (gone from the server's
# processlist within 1.5 s). Each fires within ~1 s of its limit; a busy
# client on the same pool is unaffected.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

my_direct -e "DROP TABLE IF EXISTS my_timeouts; CREATE TABLE my_timeouts (id INT PRIMARY KEY) ENGINE=InnoDB"

cfg="$SY_TMP/sy.ini"
my_write_config "$cfg" pool_mode=transaction pool_size=3 workers=1
sed -i '/^pool_size = /a query_timeout = 2s\nidle_transaction_timeout = 2s\nclient_idle_timeout = 4s' "$cfg"
start_proxy "$cfg"

out=$(timeout 90 "$PY" - "$PROXY_PORT" "$MY_PRIMARY_PORT" <<'PYEOF' 2>&1
import pymysql, struct, sys, threading, time
port, dport = int(sys.argv[1]), int(sys.argv[2])

def conn(p, user='app'):
    return pymysql.connect(host='127.0.0.1', port=p, user=user, password=user, database='shop',
                           autocommit=True, read_timeout=30)

def wait_err(c, limit=15):
    """Read the unsolicited ERR the proxy sends before closing; (seconds, code, message)."""
    s = c._sock
    s.settimeout(limit)
    t0 = time.time()
    data = b''
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except OSError as e:
        print('recv error', e)
    el = time.time() - t0
    if len(data) < 7 or data[4] != 0xff:
        return el, None, data
    return el, struct.unpack('<H', data[5:7])[0], data[13:].decode(errors='replace')

# A bystander that keeps working all along.
stop = False
by_errors, by_ok = [], [0]
def bystander():
    b = conn(port)
    cur = b.cursor()
    while not stop:
        try:
            cur.execute('SELECT 1')
            cur.fetchall()
            by_ok[0] += 1
        except Exception as e:
            by_errors.append(repr(e))
            return
        time.sleep(0.2)
th = threading.Thread(target=bystander, daemon=True)
th.start()

# idle_transaction_timeout
c = conn(port)
cur = c.cursor()
cur.execute('BEGIN')
cur.execute('INSERT INTO my_timeouts VALUES (1)')
el, code, msg = wait_err(c)
print('idle_tx code', code, msg)
print('idle_tx in time', 1.9 < el < 3.3, round(el, 2))
time.sleep(0.5)
d = conn(dport)
dc = d.cursor()
dc.execute('SELECT COUNT(*) FROM my_timeouts')
print('idle_tx row gone', dc.fetchone()[0] == 0)
dc.execute('SET SESSION innodb_lock_wait_timeout = 1')
try:
    dc.execute('INSERT INTO my_timeouts VALUES (1)')
    dc.execute('DELETE FROM my_timeouts WHERE id = 1')
    print('idle_tx not locked', True)
except Exception as e:
    print('idle_tx not locked', False, e)
m = conn(dport, 'monitor')
mc = m.cursor()
mc.execute("SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_mysql_thread_id <> CONNECTION_ID()")
print('idle_tx no open transaction', mc.fetchone()[0] == 0)

# client_idle_timeout
c = conn(port)
cur = c.cursor()
cur.execute('SELECT 1')
el, code, msg = wait_err(c)
print('idle code', code, msg)
print('idle in time', 3.9 < el < 5.3, round(el, 2))

# query_timeout
c = conn(port)
cur = c.cursor()
t0 = time.time()
try:
    cur.execute('SELECT SLEEP(30)')
    print('query code', None)
except pymysql.MySQLError as e:
    print('query code', e.args[0], e.args[1] if len(e.args) > 1 else '')
el = time.time() - t0
print('query in time', 1.9 < el < 3.3, round(el, 2))
gone = False
for _ in range(6):
    mc.execute("SELECT COUNT(*) FROM information_schema.processlist WHERE info = 'SELECT SLEEP(30)'")
    if mc.fetchone()[0] == 0:
        gone = True
        break
    time.sleep(0.25)
print('query stopped on the server', gone)  # within 1.5 s

stop = True
th.join()
print('bystander ok', not by_errors and by_ok[0] > 20, by_errors, by_ok[0])
PYEOF
) || true
echo "$out"
assert_contains "$out" "idle_tx code 4031 The client was disconnected by the server because of inactivity" "idle_transaction_timeout: ERR 4031"
assert_contains "$out" "idle_tx in time True" "idle_transaction_timeout fires within ~1 s of its limit"
assert_contains "$out" "idle_tx row gone True" "idle_transaction_timeout: the uncommitted row is rolled back"
assert_contains "$out" "idle_tx not locked True" "idle_transaction_timeout: the row is not locked"
assert_contains "$out" "idle_tx no open transaction True" "idle_transaction_timeout: no open transaction on the server"
assert_contains "$out" "idle code 4031 The client was disconnected by the server because of inactivity" "client_idle_timeout: ERR 4031"
assert_contains "$out" "idle in time True" "client_idle_timeout fires within ~1 s of its limit"
assert_contains "$out" "query code 3024 Query execution was interrupted, maximum statement execution time exceeded" "query_timeout: ERR 3024"
assert_contains "$out" "query in time True" "query_timeout fires within ~1 s of its limit"
assert_contains "$out" "query stopped on the server True" "query_timeout: the statement ends on the server"
assert_contains "$out" "bystander ok True" "a busy client on the same pool is unaffected"
assert_ok proxy_alive
my_direct -e "DROP TABLE IF EXISTS my_timeouts"
