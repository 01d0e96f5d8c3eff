#!/usr/bin/env bash
# A client SIGKILLed in the middle of a transaction (pool_size = 1, so the
# next client gets the very server it used): after a BEGIN + INSERT that is
# idle, after a statement that failed (transaction aborted), and while a
# statement is still running inside the transaction. Each time the next
# client is served within 10 s, is in no transaction (its now() is its own
# statement's time, no transaction id assigned), sees none of the
# uncommitted rows, no row lock is left (a direct insert of the same key
# goes through at once), and within 5 s the server shows no app connection
# idle in a transaction or still running the victim's statement (closing the
# server connection alone does not stop a running pg_sleep(20): its backend
# would hold the row lock until the statement ends, so the proxy has to
# cancel it). The committed row stays.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

pg_direct -q -c "SET client_min_messages = warning; DROP TABLE IF EXISTS txn_kill;
	CREATE TABLE txn_kill (k int PRIMARY KEY, note text)"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=1 workers=1 cluster.query_wait_timeout=30s
start_proxy "$cfg"
assert_eq "" "$(pg_proxy -c "INSERT INTO txn_kill VALUES (0, 'committed')")" "a committed row through the proxy"

key=0
for mode in idle failed busy; do
	key=$((key + 1))
	note "killed while $mode in a transaction (key $key)"
	ready=$SY_TMP/ready.$mode
	"$PY" "$HERE/txn_clients.py" holdtx --port "$PROXY_PORT" --key "$key" --mode "$mode" --ready "$ready" &
	victim=$!
	on_exit "kill -KILL $victim"
	for i in $(seq 1 100); do
		[ -s "$ready" ] && break
		sleep 0.1
	done
	[ -s "$ready" ] || _die "$mode: the victim did not get going"
	read -r spid xid <"$ready"
	if [ "$mode" = busy ]; then
		for i in $(seq 1 50); do
			st=$(pg_monitor -c "SELECT state FROM pg_stat_activity WHERE pid = $spid")
			[ "$st" = active ] && break
			sleep 0.1
		done
		assert_eq active "$st" "$mode: the victim's pg_sleep runs on server pid $spid"
	else
		st=$(pg_monitor -c "SELECT state FROM pg_stat_activity WHERE pid = $spid")
		want="idle in transaction"
		[ "$mode" = failed ] && want="idle in transaction (aborted)"
		assert_eq "$want" "$st" "$mode: the victim's server (pid $spid) is $want"
	fi
	assert_eq 0 "$(pg_direct -c "SELECT count(*) FROM txn_kill WHERE k = $key")" "$mode: the row is not committed"
	kill -KILL "$victim"
	wait "$victim" 2>/dev/null || true

	t0=$(date +%s%N)
	res=$(pg_proxy -c "SELECT txid_current_if_assigned() IS NULL, now() = statement_timestamp(),
		(SELECT count(*) FROM txn_kill WHERE k = $key), (SELECT count(*) FROM txn_kill WHERE k = 0), pg_backend_pid()")
	dt=$((($(date +%s%N) - t0) / 1000000))
	IFS='|' read -r noxid fresh nrow ncommitted npid <<<"$res"
	note "next client: $res after $dt ms (victim's server pid $spid)"
	[ "$dt" -lt 10000 ] || fail "$mode: the next client waited $dt ms"
	_ok "$mode: the next client was served after $dt ms"
	assert_eq t "$noxid" "$mode: the next client has no transaction id (not in the victim's transaction)"
	assert_eq t "$fresh" "$mode: the next client's now() is its own statement's start"
	assert_eq 0 "$nrow" "$mode: the next client does not see the uncommitted row"
	assert_eq 1 "$ncommitted" "$mode: the committed row is there"
	if [ "$npid" = "$spid" ]; then note "$mode: same server, rolled back"; else note "$mode: a new server (the old one was closed)"; fi
	rc=0
	out=$(pg_direct -c "SET lock_timeout = '2s'; INSERT INTO txn_kill VALUES ($key, 'direct')" 2>&1) || rc=$?
	assert_eq "0:" "$rc:$out" "$mode: the same key can be inserted directly at once (no row lock left)"
	deadline=$(($(date +%s%N) / 1000000 + 5000))
	while :; do
		left=$(pg_monitor -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND (state LIKE 'idle in transaction%' OR (state = 'active' AND query LIKE '%txn_kill_busy%'))")
		[ "$left" = 0 ] && break
		[ $(($(date +%s%N) / 1000000)) -lt "$deadline" ] || break
		sleep 0.1
	done
	assert_eq 0 "$left" "$mode: no app connection is left in a transaction or running the victim's statement"
	assert_eq 0 "$(pg_direct -c "SELECT count(*) FROM txn_kill WHERE note = 'uncommitted'")" "$mode: no uncommitted row ever became visible"
done
assert_ok proxy_alive
