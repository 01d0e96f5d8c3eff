#!/usr/bin/env bash
# test_my_change_user.sh — COM_CHANGE_USER through the proxy with
# libmariadb's mysql_change_user() (tests/integration/my_change_user_client.c),
# in transaction and session pooling: the new user is authenticated by the
# proxy (AuthSwitchRequest) and CURRENT_USER() shows it; user variables,
# tracked variables and temporary tables are gone; the schema comes from
# the packet (else server_database); a wrong password gives ERR 1045 and
# the connection is closed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

command -v mariadb_config >/dev/null || _die "mariadb_config not found: install libmariadb-dev"
cc -O1 -o "$SY_TMP/cu_client" "$HERE/my_change_user_client.c" $(mariadb_config --cflags --libs) ||
	_die "could not build my_change_user_client"
my_monitor -e "CREATE DATABASE IF NOT EXISTS shop2; GRANT ALL PRIVILEGES ON shop2.* TO 'app'@'%'"

for mode in transaction session; do
	note "pool_mode = $mode"
	my_write_config "$SY_TMP/sy.ini" pool_mode=$mode pool_size=3 raw=$'[user.monitor]\npassword = monitor\n'
	start_proxy "$SY_TMP/sy.ini"
	out=$(timeout 60 "$SY_TMP/cu_client" 127.0.0.1 "$PROXY_PORT" 2>&1) || true
	echo "$out"
	assert_contains "$out" "user0 app@%" "$mode: logged in as app"
	assert_contains "$out" "var0 5" "$mode: user variable set"
	assert_contains "$out" "tz0 +03:00" "$mode: time_zone set"
	assert_contains "$out" "change1 ok" "$mode: mysql_change_user to monitor succeeds"
	assert_contains "$out" "user1 monitor@%" "$mode: CURRENT_USER() is the new user"
	assert_contains "$out" "var1 NULL" "$mode: user variables are gone"
	assert_contains "$out" "tz1 SYSTEM" "$mode: tracked variables are back to the defaults"
	assert_contains "$out" "tmp1 ERR 1146" "$mode: temporary tables are gone"
	assert_contains "$out" "db1 shop" "$mode: no schema in the packet: server_database"
	assert_contains "$out" "change2 ok" "$mode: change back to app with schema shop2"
	assert_contains "$out" "user2 app@%" "$mode: CURRENT_USER() is app again"
	assert_contains "$out" "db2 shop2" "$mode: the schema of the packet"
	assert_contains "$out" "query2 done" "$mode: queries go on"
	assert_ok test -z "$(grep 'query2 failed' <<<"$out")"
	assert_contains "$out" "change3 1045" "$mode: a wrong password gives ERR 1045"
	assert_contains "$out" "after3 ERR 20" "$mode: and the connection is closed"
	assert_ok proxy_alive
	stop_proxy
done
