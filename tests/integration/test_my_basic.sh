#!/usr/bin/env bash
# test_my_basic.sh — the mariadb client through switchyard's MySQL front end,
# in session and transaction pooling: DDL, DML, multi-statements and several
# result sets, errors with their codes, USE / COM_INIT_DB, COM_PING and
# COM_STATISTICS, output identical to a direct session; wrong password and
# unknown user refused with 1045; an unknown schema refused at login.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

my_monitor -e "CREATE DATABASE IF NOT EXISTS shop2; GRANT ALL PRIVILEGES ON shop2.* TO 'app'@'%'"

script() { # TABLE
	cat <<SQL
DROP TABLE IF EXISTS $1;
CREATE TABLE $1 (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(10,2), note TEXT, at DATETIME);
INSERT INTO $1 VALUES (1, 'apple', 1.50, NULL, '2024-01-02 03:04:05'), (2, 'pear', 2.25, 'ripe', NULL);
INSERT INTO $1 SELECT id + 10, CONCAT(name, '-', id), price * 2, REPEAT('x', 3000), at FROM $1;
UPDATE $1 SET price = price + 1 WHERE id > 10;
SELECT id, name, price, LEFT(note, 10), at FROM $1 ORDER BY id;
SELECT COUNT(*), SUM(price), MAX(LENGTH(note)) FROM $1;
SELECT * FROM no_such_table;
SELECT 1 +;
INSERT INTO $1 VALUES (1, 'dup', 0, NULL, NULL);
DELIMITER //
SELECT 1 AS a; SELECT 'two' AS b, 2 AS c; UPDATE $1 SET note = 'multi' WHERE id = 1 //
DELIMITER ;
SELECT note FROM $1 WHERE id = 1;
BEGIN;
DELETE FROM $1 WHERE id = 2;
SELECT COUNT(*) FROM $1;
ROLLBACK;
SELECT COUNT(*) FROM $1;
USE shop2;
SELECT DATABASE();
CREATE TABLE IF NOT EXISTS t2 (a INT);
DROP TABLE t2;
USE shop;
SELECT DATABASE(), @@character_set_client;
SHOW WARNINGS;
SELECT 1/0;
SHOW WARNINGS;
DROP TABLE $1;
SQL
}

for mode in session transaction; do
	note "pool_mode = $mode"
	my_write_config "$SY_TMP/sy.ini" pool_mode=$mode pool_size=2
	start_proxy "$SY_TMP/sy.ini"
	direct=$(script "basic_$mode" | timeout 60 mariadb --no-defaults --default-character-set=utf8mb4 -h 127.0.0.1 -P "$MY_PRIMARY_PORT" -uapp -papp -f shop 2>&1) || true
	via=$(script "basic_$mode" | my_proxy_raw --default-character-set=utf8mb4 -f 2>&1) || true
	assert_eq "$direct" "$via" "$mode: same output through the proxy as direct"
	assert_contains "$via" "ERROR 1146 (42S02)" "$mode: unknown table error code"
	assert_contains "$via" "ERROR 1064 (42000)" "$mode: syntax error code"
	assert_contains "$via" "ERROR 1062 (23000)" "$mode: duplicate key error code"
	assert_contains "$via" "two" "$mode: second result set of a multi-statement"
	assert_contains "$via" "shop2" "$mode: USE"

	# COM_INIT_DB at connect (the CLI's schema argument) and later (\u)
	out=$(MYDATABASE=shop2 my_proxy -e "SELECT DATABASE(); use shop; SELECT DATABASE()")
	assert_eq $'shop2\nshop' "$out" "$mode: schema at login, then COM_INIT_DB"
	out=$(timeout 30 mariadb-admin --no-defaults -h 127.0.0.1 -P "$PROXY_PORT" -uapp -papp ping 2>&1)
	assert_contains "$out" "is alive" "$mode: COM_PING"
	out=$(timeout 30 mariadb-admin --no-defaults -h 127.0.0.1 -P "$PROXY_PORT" -uapp -papp status 2>&1)
	assert_contains "$out" "Uptime" "$mode: COM_STATISTICS"

	out=$(MYPASSWORD=wrong my_proxy -e "SELECT 1" 2>&1) && fail "wrong password accepted"
	assert_contains "$out" "ERROR 1045 (28000): Access denied for user 'app'@'127.0.0.1' (using password: YES)" "$mode: wrong password"
	out=$(MYUSER=nobody my_proxy -e "SELECT 1" 2>&1) && fail "unknown user accepted"
	assert_contains "$out" "ERROR 1045 (28000)" "$mode: unknown user"
	out=$(MYDATABASE=no_such_db my_proxy -e "SELECT 1" 2>&1) && fail "unknown schema accepted"
	assert_match "$out" "ERROR 10(44|49) \(42000\)" "$mode: unknown schema refused at login"
	out=$(my_proxy -e "KILL 12345" 2>&1) && fail "KILL passed"
	assert_contains "$out" "ERROR 1094" "$mode: KILL of an unknown (proxy) id: ERR 1094"
	assert_eq "1" "$(my_proxy -e 'SELECT 1')" "$mode: still serving"
	stop_proxy
	assert_eq 0 "$PROXY_EXIT_CODE" "$mode: clean exit"
done
