#!/usr/bin/env bash
# test_my_prepared.sh — server-side prepared statements through switchyard
# with a real libmariadb client (tests/integration/my_stmt_client.c, built
# here): 50 clients over pool_size = 4 in transaction pooling (statements
# re-prepared on whichever server a client gets; EXECUTE without re-bound
# types; SEND_LONG_DATA; a read-only cursor with COM_STMT_FETCH), and in
# session pooling. Every result is checked by the client.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

command -v mariadb_config >/dev/null || _die "mariadb_config not found: install libmariadb-dev"
cc -O1 -o "$SY_TMP/my_stmt_client" "$HERE/my_stmt_client.c" $(mariadb_config --cflags --libs) -lpthread ||
	_die "could not build my_stmt_client"
for mode in transaction session; do
	my_direct -e "DROP TABLE IF EXISTS pstest; CREATE TABLE pstest (client INT, n INT, payload BLOB, PRIMARY KEY (client, n))"
	size=4
	[ "$mode" = session ] && size=60
	my_write_config "$SY_TMP/sy.ini" pool_mode=$mode pool_size=$size
	start_proxy "$SY_TMP/sy.ini"
	out=$(timeout 120 "$SY_TMP/my_stmt_client" 127.0.0.1 "$PROXY_PORT" app app shop 50 100 2>&1) || true
	assert_eq "ok 50 100" "$out" "$mode: 50 clients x 100 prepared executions, every result checked"
	assert_eq "500" "$(my_direct -e 'SELECT COUNT(*) FROM pstest')" "$mode: rows inserted with long data"
	stop_proxy
done
my_direct -e "DROP TABLE IF EXISTS pstest"
