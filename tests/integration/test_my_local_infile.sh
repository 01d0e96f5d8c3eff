#!/usr/bin/env bash
# test_my_local_infile.sh — LOAD DATA LOCAL INFILE through the proxy with
# the mariadb client, in transaction and session pooling: the server's
# request reaches the client, its file (1000 rows, then 300000 rows /
# 6 MB) reaches the server, the OK comes back and the row count is right;
# a missing file ends with the client's own error and the session goes
# on (PyMySQL, which then loads a file on the same session); a client without --local-infile gets ERR 1148 from the proxy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

old=$(my_monitor -e "SELECT @@GLOBAL.local_infile")
my_monitor -e "SET GLOBAL local_infile = 1"
restore() { my_monitor -e "SET GLOBAL local_infile = $old" >/dev/null 2>&1 || true; }
trap restore EXIT

seq 1 1000 | awk '{print $1",row"$1}' >"$SY_TMP/small.csv"
seq 1 300000 | awk '{print $1",row-"$1"-xxxxxxxx"}' >"$SY_TMP/big.csv"
for mode in transaction session; do
	note "pool_mode = $mode"
	my_write_config "$SY_TMP/sy.ini" pool_mode=$mode pool_size=2
	start_proxy "$SY_TMP/sy.ini"
	my_proxy -e "DROP TABLE IF EXISTS my_li; CREATE TABLE my_li (id INT PRIMARY KEY, v VARCHAR(40))"
	out=$(my_proxy --local-infile=1 -e "LOAD DATA LOCAL INFILE '$SY_TMP/small.csv' INTO TABLE my_li FIELDS TERMINATED BY ','; SELECT COUNT(*) FROM my_li" 2>&1)
	assert_eq "1000" "$out" "$mode: LOAD DATA LOCAL INFILE of 1000 rows"
	out=$(my_proxy --local-infile=1 -e "TRUNCATE my_li; LOAD DATA LOCAL INFILE '$SY_TMP/big.csv' INTO TABLE my_li FIELDS TERMINATED BY ','; SELECT COUNT(*), MAX(v) FROM my_li" 2>&1)
	assert_eq "300000	row-99999-xxxxxxxx" "$out" "$mode: LOAD DATA LOCAL INFILE of 300000 rows (6 MB)"
	out=$(timeout 60 "$PY" - "$PROXY_PORT" "$SY_TMP" <<'PYEOF' 2>&1
import pymysql, sys
c = pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='app', password='app', database='shop',
                    autocommit=True, local_infile=True)
cur = c.cursor()
try:
    cur.execute("LOAD DATA LOCAL INFILE '%s/none.csv' INTO TABLE my_li" % sys.argv[2])
    print('missing file loaded?')
except Exception as e:
    print('missing file error', repr(e))
cur.execute("LOAD DATA LOCAL INFILE '%s/small.csv' INTO TABLE my_li FIELDS TERMINATED BY ',' (@a, @b) SET id = @a + 1000000, v = @b" % sys.argv[2])
print('pymysql rows', cur.rowcount)
cur.execute("SELECT 'after'")
print(cur.fetchone()[0])
PYEOF
) || true
	echo "$out"
	assert_contains "$out" "missing file error" "$mode: a missing file: the client's error (PyMySQL)"
	assert_contains "$out" "pymysql rows 1000" "$mode: PyMySQL LOAD DATA LOCAL INFILE on the same session after it"
	assert_contains "$out" "after" "$mode: the session goes on"
	my_direct -e "DELETE FROM my_li WHERE id > 1000000"
	out=$(my_proxy --local-infile=0 -e "LOAD DATA LOCAL INFILE '$SY_TMP/small.csv' INTO TABLE my_li FIELDS TERMINATED BY ','" 2>&1) || true
	assert_contains "$out" "ERROR 1148" "$mode: a client without local infile: ERR 1148"
	assert_eq "300000" "$(my_direct -e 'SELECT COUNT(*) FROM my_li')" "$mode: nothing loaded by the refused statement"
	assert_ok proxy_alive
	stop_proxy
done
my_direct -e "DROP TABLE IF EXISTS my_li"
