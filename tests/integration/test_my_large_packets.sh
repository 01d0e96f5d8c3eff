#!/usr/bin/env bash
# test_my_large_packets.sh — MySQL packets of 16 MB and over through the
# proxy, against the real MariaDB primary (max_allowed_packet 64M):
#   - a COM_QUERY of 20 MB (PyMySQL splits it: a full 16 MB - 1 frame and
#     the rest) inserting a 20 MB blob, read back in a row that the server
#     splits the same way; checksums compared on both sides;
#   - the boundary cases: a COM_QUERY of exactly 16 MB - 1 bytes (one full
#     frame and an empty one) and a result row of exactly 16 MB - 1 bytes;
#   - the session and its server go on afterwards, and another client
#     sharing the pool is unaffected;
#   - over max_packet_size: ERR 1153 for that client only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

my_write_config "$SY_TMP/sy.ini" pool_size=1 workers=1
start_proxy "$SY_TMP/sy.ini"
t=big_$$
on_exit "my_monitor shop -e 'DROP TABLE IF EXISTS $t'"

out=$(timeout 240 "$PY" - "$PROXY_PORT" "$t" <<'PYEOF' 2>&1
import hashlib, os, sys, pymysql
port, t = int(sys.argv[1]), sys.argv[2]
def conn():
    return pymysql.connect(host='127.0.0.1', port=port, user='app', password='app', database='shop',
                           max_allowed_packet=64 * 1024 * 1024, read_timeout=120, write_timeout=120)
c = conn(); cur = c.cursor()
cur.execute("CREATE TABLE %s (id INT PRIMARY KEY, b LONGBLOB)" % t)
blob = os.urandom(10 * 1024 * 1024)            # 20 MB of hex in the query
cur.execute("INSERT INTO %s VALUES (1, UNHEX('%s'))" % (t, blob.hex()))
c.commit()
cur.execute("SELECT SHA2(b, 256), LENGTH(b) FROM %s WHERE id = 1" % t)
print("server-side", cur.fetchone() == (hashlib.sha256(blob).hexdigest(), len(blob)))
cur.execute("SELECT HEX(b) FROM %s WHERE id = 1" % t)   # a 20 MB row, split by the server
print("20MB-row", cur.fetchone()[0] == blob.hex().upper())
# COM_QUERY payload of exactly 0xFFFFFF bytes: 1 command byte + the SQL.
sql_len = 0xFFFFFF - 1
head, tail = "SELECT LENGTH('", "')"
sql = head + "x" * (sql_len - len(head) - len(tail)) + tail
assert len(sql) == sql_len
cur.execute(sql)
print("exact-frame-query", cur.fetchone()[0] == sql_len - len(head) - len(tail))
# A row of exactly 0xFFFFFF bytes: a 4-byte length prefix and the value.
cur.execute("SELECT REPEAT('y', %d)" % (0xFFFFFF - 4))
v = cur.fetchone()[0]
print("exact-frame-row", len(v) == 0xFFFFFF - 4 and v == "y" * len(v))
cur.execute("SELECT 6 * 7")
print("after", cur.fetchone()[0])
c.commit()   # PyMySQL runs with autocommit off: end the transaction, free the server
c2 = conn(); cur2 = c2.cursor(); cur2.execute("SELECT 'other'")
print("other-client", cur2.fetchone()[0])
PYEOF
) || true
assert_contains "$out" "server-side True" "a 20 MB COM_QUERY (two frames) stored the blob intact"
assert_contains "$out" "20MB-row True" "a 20 MB result row (split by the server) arrives intact"
assert_contains "$out" "exact-frame-query True" "a COM_QUERY of exactly 16 MB - 1 bytes (a full frame and an empty one)"
assert_contains "$out" "exact-frame-row True" "a result row of exactly 16 MB - 1 bytes"
assert_contains "$out" "after 42" "the session goes on after the large packets"
assert_contains "$out" "other-client other" "another client on the same one-server pool is unaffected"
assert_eq "1" "$(my_monitor shop -e "SELECT COUNT(*) FROM $t")" "the row is there, once"
stop_proxy

# Over max_packet_size: refused for that client, the proxy goes on.
my_write_config "$SY_TMP/small.ini" pool_size=1 workers=1 global="max_packet_size = 8MB"
start_proxy "$SY_TMP/small.ini"
out=$(timeout 60 "$PY" - "$PROXY_PORT" <<'PYEOF' 2>&1
import sys, pymysql
c = pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='app', password='app', database='shop',
                    max_allowed_packet=64 * 1024 * 1024)
try:
    c.cursor().execute("SELECT LENGTH('%s')" % ("z" * (9 * 1024 * 1024)))
    print("accepted")
except pymysql.err.MySQLError as e:
    print("error", e.args[0])
PYEOF
) || true
assert_contains "$out" "error 1153" "a 9 MB query over max_packet_size = 8MB: ERR 1153"
assert_eq "ok" "$(my_proxy -e "SELECT 'ok'")" "the proxy serves the next client"
