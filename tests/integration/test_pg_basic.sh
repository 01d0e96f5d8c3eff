#!/usr/bin/env bash
# psql through the proxy (session mode) gives the same output as psql
# straight to the primary: DDL, DML, ordered multi-row results, large values,
# NULLs and unicode, several statements in one Query, notices, errors with
# their SQLSTATE, transactions, and \copy in and out.
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=session pool_size=10
start_proxy "$cfg"

# The same script through both paths, each on its own table.
script() { # TABLE
	cat <<EOF
DROP TABLE IF EXISTS $1;
CREATE TABLE $1 (id int PRIMARY KEY, name text, amount numeric(10,2), day date, note text);
INSERT INTO $1 SELECT g, 'name ' || g, g * 1.5, date '2024-01-01' + g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'n' || g END
  FROM generate_series(1, 500) g;
SELECT count(*), sum(amount), min(day), max(day), count(note) FROM $1;
SELECT id, name, amount FROM $1 WHERE id % 50 = 0 ORDER BY id DESC;
UPDATE $1 SET name = upper(name) WHERE id <= 10;
SELECT name FROM $1 ORDER BY id LIMIT 3;
DELETE FROM $1 WHERE id > 400;
BEGIN;
INSERT INTO $1 VALUES (1000, 'rolled back', 0, now()::date, NULL);
ROLLBACK;
BEGIN;
INSERT INTO $1 VALUES (1001, 'committed', 1, date '2024-06-01', 'ü ñ 字 🙂');
COMMIT;
SELECT count(*), max(id) FROM $1;
SELECT note, note IS NULL FROM $1 WHERE id IN (7, 8, 1001) ORDER BY id;
SELECT 1 AS a; SELECT 2 AS b, 'two' AS c;
SELECT length(repeat('abcdef', 200000)), md5(repeat('abcdef', 200000));
SELECT repeat('x', 70000) = repeat('x', 70000);
SELECT string_agg(name, ',' ORDER BY id) FROM $1 WHERE id < 20;
SELECT t.* FROM (VALUES (1, 'a'), (2, NULL), (3, 'c')) AS t(n, s) ORDER BY n;
EOF
}

out_direct=$(script basic_direct | pg_direct 2>&1 | sed 's/basic_direct/TABLE/g')
out_proxy=$(script basic_proxy | pg_proxy 2>&1 | sed 's/basic_proxy/TABLE/g')
assert_contains "$out_direct" "500|187875.00|2024-01-02|2025-05-15|429" "direct: the aggregate row is as expected"
assert_eq "$out_direct" "$out_proxy" "proxy output equals direct output (DDL, DML, multi-row, large values, unicode, NULLs)"
assert_contains "$out_proxy" "1200000|" "a 1.2 MB value came through"
assert_contains "$out_proxy" "ü ñ 字 🙂|f" "unicode text came through"
assert_match "$out_proxy" $'(^|\n)1\n2\\|two(\n|$)' "two statements in one Query give both results"

# The proxy's rows really are on the server.
assert_eq "401|1001" "$(pg_direct -c 'SELECT count(*), max(id) FROM basic_proxy')" "the server has the rows written through the proxy"

# Errors: same SQLSTATE, and the session stays usable afterwards.
err_direct=$(pg_direct -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -c 'SELECT 1/0' -c 'SELECT 42' 2>&1 || true)
err_proxy=$(pg_proxy -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -c 'SELECT 1/0' -c 'SELECT 42' 2>&1 || true)
assert_contains "$err_direct" "22012" "direct: division by zero is 22012"
assert_contains "$err_proxy" "ERROR:  22012: division by zero" "proxy: division by zero with SQLSTATE 22012"
assert_match "$err_proxy" $'(^|\n)42(\n|$)' "proxy: the session works after the error"
err_proxy=$(pg_proxy -v VERBOSITY=verbose -c 'SELECT * FROM no_such_table_xyz' 2>&1 || true)
assert_contains "$err_proxy" "42P01" "proxy: undefined table is 42P01"
err_proxy=$(pg_proxy -v VERBOSITY=verbose -c 'INSERT INTO basic_proxy (id) VALUES (1)' 2>&1 || true)
assert_contains "$err_proxy" "23505" "proxy: unique violation is 23505"
err_proxy=$(pg_proxy -v VERBOSITY=verbose -c 'SELEC 1' 2>&1 || true)
assert_contains "$err_proxy" "42601" "proxy: syntax error is 42601"

# An error inside a transaction: the transaction is aborted (25P02), ROLLBACK recovers.
tx=$(pg_proxy -v ON_ERROR_STOP=0 -v VERBOSITY=verbose 2>&1 <<'EOF' || true
BEGIN;
SELECT 1/0;
SELECT 1;
ROLLBACK;
SELECT 'after rollback';
EOF
)
assert_contains "$tx" "25P02" "proxy: a statement in an aborted transaction gets 25P02"
assert_contains "$tx" "after rollback" "proxy: ROLLBACK recovers the session"

# Notices reach the client.
notice=$(pg_proxy -c "DO \$\$ BEGIN RAISE NOTICE 'hello from the server'; END \$\$" 2>&1)
assert_contains "$notice" "NOTICE:  hello from the server" "a NOTICE reaches the client"

# \copy in and out through the proxy.
csv=$SY_TMP/in.csv
seq 1 20000 | awk '{ printf "%d,row %d,\"quoted, \"\"text\"\" %d\"\n", $1, $1, $1 * 7 }' >"$csv"
pg_proxy -c 'DROP TABLE IF EXISTS basic_copy' -c 'CREATE TABLE basic_copy (id int, a text, b text)'
copy_in=$(pg_proxy -c "\\copy basic_copy FROM '$csv' WITH (FORMAT csv)" 2>&1)
assert_eq "" "$copy_in" "\\copy in: no error"
assert_eq "20000" "$(pg_direct -c 'SELECT count(*) FROM basic_copy')" "\\copy in: the server has 20000 rows"
pg_proxy -c "\\copy (SELECT * FROM basic_copy ORDER BY id) TO '$SY_TMP/out-proxy.csv' WITH (FORMAT csv)"
pg_direct -c "\\copy (SELECT * FROM basic_copy ORDER BY id) TO '$SY_TMP/out-direct.csv' WITH (FORMAT csv)"
assert_eq "$(md5sum <"$csv")" "$(md5sum <"$SY_TMP/out-proxy.csv")" "\\copy out through the proxy gives back the input file"
assert_eq "$(md5sum <"$SY_TMP/out-direct.csv")" "$(md5sum <"$SY_TMP/out-proxy.csv")" "\\copy out: proxy equals direct"

# A COPY FROM STDIN that fails half way: error reported, session usable.
bad=$(printf '1,a,b\nnot-a-number,a,b\n' | pg_proxy -v ON_ERROR_STOP=0 -v VERBOSITY=verbose \
	-c '\copy basic_copy FROM STDIN WITH (FORMAT csv)' -c 'SELECT 7' 2>&1 || true)
assert_contains "$bad" "22P02" "a failing COPY reports 22P02"
assert_match "$bad" $'(^|\n)7(\n|$)' "the session works after a failed COPY"

pg_proxy -c 'DROP TABLE basic_proxy' -c 'DROP TABLE basic_copy'
pg_direct -c 'DROP TABLE basic_direct'
assert_ok proxy_alive
