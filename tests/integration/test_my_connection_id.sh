#!/usr/bin/env bash
# test_my_connection_id.sh — CONNECTION_ID() through the proxy is the
# proxy's connection id (the handshake's, PyMySQL's conn.thread_id(), the
# one KILL through the proxy takes), not the thread id of whichever pooled
# server connection ran the statement: in transaction pooling with more
# clients than server connections, every client reads its own id every
# time, under the column name a server gives (CONNECTION_ID() as the
# client spelled it; an alias of its own is kept); in WHERE clauses and
# expressions; in an INSERT; KILL QUERY <that value> from a second
# connection ends the first one's SELECT SLEEP(30) within 1 s with ERR
# 1317 while a third client's SLEEP is untouched; the same through
# server-side prepared statements (libmariadb, my_cid_client.c); the
# mariadb client's own "Connection id"; and in session pooling.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

command -v mariadb_config >/dev/null || _die "mariadb_config not found: install libmariadb-dev"
cc -O1 -o "$SY_TMP/my_cid_client" "$HERE/my_cid_client.c" $(mariadb_config --cflags --libs) -lpthread ||
	_die "could not build my_cid_client"

my_direct -e "DROP TABLE IF EXISTS cid_log; CREATE TABLE cid_log (client BIGINT, id BIGINT)"
on_exit my_direct -e "DROP TABLE IF EXISTS cid_log"

cfg="$SY_TMP/sy.ini"
my_write_config "$cfg" pool_mode=transaction pool_size=2 workers=1
start_proxy "$cfg"

out=$(timeout 120 "$PY" - "$PROXY_PORT" <<'PYEOF' 2>&1
import pymysql, sys, threading, time
port = int(sys.argv[1])

def conn():
    return pymysql.connect(host='127.0.0.1', port=port, user='app', password='app', database='shop',
                           autocommit=True, read_timeout=40)

def one(c, q):
    cur = c.cursor()
    cur.execute(q)
    return cur.fetchall(), [d[0] for d in cur.description or ()]

conns = [conn() for _ in range(6)]   # over 2 server connections
bad, names, server_ids = 0, set(), set()
for rnd in range(5):
    for c in conns:
        rows, cols = one(c, 'SELECT CONNECTION_ID()')
        names.add(cols[0])
        if rows[0][0] != c.thread_id():
            bad += 1
            print('mismatch', rows[0][0], c.thread_id())
        rows, _ = one(c, 'SELECT @@pseudo_thread_id, CONNECTION_ID()')
        server_ids.add(rows[0][0])
print('own id every time', bad == 0)
print('column', sorted(names))
print('server thread ids are others', not (server_ids & {c.thread_id() for c in conns}))
a, b, c3 = conns[0], conns[1], conns[2]
tid = a.thread_id()
print('lower case column', one(a, 'select connection_id ()')[1])
print('second column', one(a, 'SELECT 1, CONNECTION_ID() FROM DUAL')[1])
print('own alias', one(a, 'SELECT CONNECTION_ID() AS me') == (((tid,),), ['me']))
print('expression', one(a, 'SELECT CONNECTION_ID() = %d, CONNECTION_ID() + 1 = %d' % (tid, tid + 1))[0])
print('where', one(a, 'SELECT 5 FROM DUAL WHERE CONNECTION_ID() = %d' % tid)[0],
      one(a, 'SELECT 5 FROM DUAL WHERE CONNECTION_ID() = %d' % (tid + 1))[0])
print('quoted untouched', one(a, "SELECT 'CONNECTION_ID()', `CONNECTION_ID()` FROM (SELECT 1 AS `CONNECTION_ID()`) t")[0])
for c in conns:
    c.cursor().execute('INSERT INTO cid_log VALUES (%d, CONNECTION_ID())' % c.thread_id())

def sleeper(c, q, res):
    t0 = time.time()
    try:
        rows, _ = one(c, q)
        res.append(('ok', rows, time.time() - t0))
    except pymysql.MySQLError as e:
        res.append((e.args[0], str(e.args[1]) if len(e.args) > 1 else '', time.time() - t0))

a_id = one(a, 'SELECT CONNECTION_ID()')[0][0][0]
ra, rc = [], []
ta = threading.Thread(target=sleeper, args=(a, 'SELECT SLEEP(30)', ra))
tc = threading.Thread(target=sleeper, args=(c3, 'SELECT SLEEP(3)', rc))
ta.start(); tc.start()
time.sleep(0.7)
t0 = time.time()
b.cursor().execute('KILL QUERY %d' % a_id)
ta.join(5)
el = time.time() - t0
print('kill code', ra[0][0] if ra else None, ra[0][1] if ra else '')
print('kill fast', bool(ra) and el < 1.0, round(el, 2))
tc.join(10)
print('third sleep untouched', rc[0][0] if rc else None, rc[0][1] if rc else None, bool(rc) and rc[0][2] > 2.5)
print('killed session goes on', one(a, 'SELECT CONNECTION_ID()')[0][0][0] == a_id)
b.cursor().execute('KILL QUERY CONNECTION_ID()')
print('kill query self idle', one(b, 'SELECT 7')[0])
PYEOF
) || true
echo "$out"
assert_contains "$out" "own id every time True" "6 clients over 2 server connections: CONNECTION_ID() is each one's handshake id, every time"
assert_contains "$out" "column ['CONNECTION_ID()']" "the column is named CONNECTION_ID()"
assert_contains "$out" "server thread ids are others True" "the servers' thread ids are not the proxy's ids"
assert_contains "$out" "lower case column ['connection_id ()']" "the column keeps the client's spelling"
assert_contains "$out" "second column ['1', 'CONNECTION_ID()']" "a later select-list item keeps its name"
assert_contains "$out" "own alias True" "an alias of the client's own is kept"
assert_contains "$out" "expression ((1, 1),)" "CONNECTION_ID() in expressions"
assert_contains "$out" "where ((5,),) ()" "CONNECTION_ID() in a WHERE clause"
assert_contains "$out" "quoted untouched (('CONNECTION_ID()', 1),)" "strings and backquoted names are left alone"
assert_contains "$out" "kill code 1317 Query execution was interrupted" "KILL QUERY <CONNECTION_ID()>: ERR 1317 to that client's statement"
assert_contains "$out" "kill fast True" "KILL QUERY <CONNECTION_ID()> ends it within 1 s"
assert_contains "$out" "third sleep untouched ok ((0,),) True" "another client's SLEEP runs to its end"
assert_contains "$out" "killed session goes on True" "the killed session goes on, with the same id"
assert_contains "$out" "kill query self idle ((7,),)" "KILL QUERY CONNECTION_ID() (itself, idle) is harmless"
assert_eq "0" "$(my_direct -e 'SELECT COUNT(*) FROM cid_log WHERE client <> id')" "INSERT ... VALUES (CONNECTION_ID()) stores the proxy's id"
assert_eq "6" "$(my_direct -e 'SELECT COUNT(*) FROM cid_log')" "six rows inserted"

note "server-side prepared statements (libmariadb)"
out=$(timeout 60 "$SY_TMP/my_cid_client" 127.0.0.1 "$PROXY_PORT" app app shop 2>&1) || true
echo "$out"
assert_contains "$out" "ps own id ok" "prepared SELECT CONNECTION_ID(): each client's own id, re-prepared on other servers"
assert_contains "$out" "ps column CONNECTION_ID()" "prepared: the column is named CONNECTION_ID()"
assert_contains "$out" "ps expression 1 0" "prepared CONNECTION_ID() = ?"
assert_contains "$out" "ps kill sent ok" "KILL QUERY of the prepared statement's value: OK"
assert_contains "$out" "ps kill code 1317" "KILL QUERY ends the prepared SLEEP with ERR 1317"
assert_contains "$out" "ps kill fast 1" "within 1 s"
assert_contains "$out" "ps other sleep 0 0 1" "another client's prepared SLEEP runs to its end"
assert_contains "$out" "ps after kill ok" "the killed session's statement still reads its id"

note "the mariadb client"
out=$(my_proxy_raw -e "status; SELECT CONNECTION_ID()" 2>&1) || true
echo "$out"
hid=$(echo "$out" | sed -n 's/^Connection id:[[:space:]]*//p')
assert_match "$hid" '^[0-9]+$' "the mariadb client shows its connection id"
assert_contains "$out" "CONNECTION_ID()" "the mariadb client's column header"
assert_eq "$hid" "$(echo "$out" | tail -n 1 | tr -d '| ')" "mariadb: CONNECTION_ID() is the id in its status"
assert_ok proxy_alive
stop_proxy

note "session pooling"
# The pool is split between the workers (4 each): 3 sessions fit whichever
# worker each lands on.
my_write_config "$cfg" pool_mode=session pool_size=8 workers=2
start_proxy "$cfg"
out=$(timeout 60 "$PY" - "$PROXY_PORT" <<'PYEOF' 2>&1
import pymysql, sys
port = int(sys.argv[1])
cs = [pymysql.connect(host='127.0.0.1', port=port, user='app', password='app', database='shop') for _ in range(3)]
ok = True
for c in cs:
    cur = c.cursor()
    cur.execute('SELECT CONNECTION_ID()')
    ok = ok and cur.fetchone()[0] == c.thread_id() and cur.description[0][0] == 'CONNECTION_ID()'
print('session own id', ok)
PYEOF
) || true
echo "$out"
assert_contains "$out" "session own id True" "session pooling: CONNECTION_ID() is the proxy's id too"
assert_ok proxy_alive
