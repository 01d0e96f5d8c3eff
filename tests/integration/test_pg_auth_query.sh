#!/usr/bin/env bash
# auth_user + auth_query: a user known only to the server logs in through
# the proxy (its SCRAM verifier or md5 hash is looked up with auth_query),
# wrong passwords and unknown users get 28P01, and the server connection
# is made with the SCRAM key recovered from the client's proof (no
# password for that user anywhere in the proxy's config).
. "$(dirname "$0")/lib.sh"

pg_monitor -c "DROP ROLE IF EXISTS aq_scram" >/dev/null 2>&1
pg_monitor -c "CREATE ROLE aq_scram LOGIN PASSWORD 'aq-scram-pw'" >/dev/null
pg_monitor -c "GRANT CONNECT ON DATABASE app TO aq_scram" >/dev/null
on_exit pg_monitor -c "DROP ROLE IF EXISTS aq_scram"
# md5user is the fleet's md5-stored role (its hba line says md5).
assert_match "$(pg_monitor -c "SELECT rolpassword FROM pg_authid WHERE rolname='md5user'")" '^md5' "md5user is stored as md5"

for mode in session transaction; do
	note "pool_mode = $mode"
	cfg=$SY_TMP/switchyard-$mode.ini
	write_config "$cfg" pool_mode=$mode pool_size=4 \
		global.auth_user=monitor \
		user.monitor.password=monitor
	start_proxy "$cfg"

	out=$(PGUSER=aq_scram PGPASSWORD=aq-scram-pw pg_proxy -w -c "SELECT current_user, 6*7" 2>&1)
	assert_eq "aq_scram|42" "$out" "$mode: a server-only SCRAM user logs in and runs a query"
	out=$(PGUSER=md5user PGPASSWORD=md5pass pg_proxy -w -c "SELECT current_user" 2>&1)
	assert_eq "md5user" "$out" "$mode: a server-only md5 user logs in (md5 to the client and to the server)"
	out=$(PGUSER=aq_scram PGPASSWORD=wrong pg_proxy -w -c "SELECT 1" 2>&1 || true)
	assert_contains "$out" 'password authentication failed for user "aq_scram"' "$mode: wrong password refused"
	out=$(PGUSER=aq_nobody PGPASSWORD=x pg_proxy -w -c "SELECT 1" 2>&1 || true)
	assert_contains "$out" 'password authentication failed for user "aq_nobody"' "$mode: unknown user refused like a wrong password"
	# Several sessions at once, each checked.
	pids=()
	for i in 1 2 3 4 5 6; do
		(trap - EXIT ERR; PGUSER=aq_scram PGPASSWORD=aq-scram-pw pg_proxy -w -c "SELECT $i, current_user" >"$SY_TMP/aq.$i" 2>&1) &
		pids+=($!)
	done
	wait "${pids[@]}" || true # not a bare wait: the proxy is a job of this shell too
	for i in 1 2 3 4 5 6; do
		assert_eq "$i|aq_scram" "$(cat "$SY_TMP/aq.$i")" "$mode: concurrent login $i"
	done
	assert_ok proxy_alive
	stop_proxy
done
