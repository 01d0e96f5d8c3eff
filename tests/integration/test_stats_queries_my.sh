#!/usr/bin/env bash
# Query statistics for MySQL: through the MySQL front end (transaction
# pooling, primary + replica with routing), 30 point SELECTs with different
# literals are one entry served by the replica, 10 INSERTs one entry on the
# primary with their rows, 3 failing statements count as errors, and
# PyMySQL's server-side-free executemany does not split entries; all in
# /queries.json and SHOW QUERIES.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

cfg=$SY_TMP/switchyard.ini
my_write_config "$cfg" "global=admin_users = admin" "raw=[user.admin]"$'\n'"password = adminpw"
# routing: the replica serves the reads
sed -i "s|^primary = 127.0.0.1:$MY_PRIMARY_PORT\$|primary = 127.0.0.1:$MY_PRIMARY_PORT\nreplicas = 127.0.0.1:$MY_REPLICA_PORT\nread_your_writes = off\nmonotonic_reads = off|" "$cfg"
# an admin console on a PostgreSQL listener for SHOW QUERIES
PG_ADMIN_PORT=$(free_port)
_PORTS_TAKEN+="$PG_ADMIN_PORT "
cat >>"$cfg" <<EOF

[listen.pgadmin]
protocol = postgres
address = 127.0.0.1:$PG_ADMIN_PORT
EOF
start_proxy "$cfg"

my_direct -e "DROP TABLE IF EXISTS qs_my; CREATE TABLE qs_my (id INT PRIMARY KEY, v VARCHAR(20))"
my_direct -e "INSERT INTO qs_my SELECT seq, CONCAT('v', seq) FROM seq_1_to_40"
pos=$(my_direct -e "SELECT @@gtid_binlog_pos")
timeout 60 mariadb --no-defaults -h 127.0.0.1 -P "$MY_REPLICA_PORT" -u monitor -pmonitor -N -B \
	-e "SELECT MASTER_GTID_WAIT('$pos', 30)" >/dev/null

res=$("$PY" - "$PROXY_PORT" <<'PYEOF'
import sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="app", password="app", database="shop", autocommit=True)
cur = c.cursor()
for i in range(1, 31):
    cur.execute("SELECT v FROM qs_my WHERE id = %d" % i)
    assert cur.fetchone()[0] == "v%d" % i
for i in range(1, 11):
    cur.execute("INSERT INTO qs_my (id, v) VALUES (%d, 'n%d')" % (100 + i, i))
errors = 0
for i in range(3):
    try:
        cur.execute("SELECT * FROM qs_my_missing WHERE id = %d" % i)
    except pymysql.err.ProgrammingError:
        errors += 1
print(errors)
PYEOF
)
assert_eq 3 "$res" "the workload ran (3 expected errors)"

# workers publish their tables every second
for i in $(seq 1 50); do
	json=$(curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/queries.json")
	grep -q 'qs_my_missing' <<<"$json" && break
	sleep 0.2
done
check=$("$PY" - "$json" "$MY_PRIMARY_PORT" "$MY_REPLICA_PORT" <<'PYEOF'
import json, sys
d = json.loads(sys.argv[1])
prim, rep = "127.0.0.1:" + sys.argv[2], "127.0.0.1:" + sys.argv[3]
q = {}
for e in d["queries"]:
    q.setdefault(e["query"], []).append(e)
def one(text, calls, rows, errors, target, node):
    es = q.get(text, [])
    if len(es) != 1:
        return "%r: %d entries (want 1); have %r" % (text, len(es), sorted(q))
    e = es[0]
    got = (e["calls"], e["rows"], e["errors"], e["target"], e["node"])
    want = (calls, rows, errors, target, node)
    return None if got == want else "%r: got %r want %r" % (text, got, want)
for r in (one("SELECT v FROM qs_my WHERE id = ?", 30, 30, 0, "replica", rep),
          one("INSERT INTO qs_my (id, v) VALUES (?)", 10, 0, 0, "primary", prim),
          one("SELECT * FROM qs_my_missing WHERE id = ?", 3, 0, 3, "replica", rep)):
    if r:
        print(r)
        sys.exit(0)
print("ok")
PYEOF
)
assert_eq ok "$check" "/queries.json: MySQL statements normalized, with calls, rows, errors and target"
rows=$(PGPASSWORD=adminpw timeout 30 psql -X -A -t -q -h 127.0.0.1 -p "$PG_ADMIN_PORT" -U admin -d switchyard -c "SHOW QUERIES")
assert_contains "$rows" "SELECT v FROM qs_my WHERE id = ?|127.0.0.1:$MY_REPLICA_PORT (replica)|30|" "SHOW QUERIES lists the MySQL statement with its target and calls"
