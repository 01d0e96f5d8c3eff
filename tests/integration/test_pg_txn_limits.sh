#!/usr/bin/env bash
# test_pg_txn_limits.sh — the PostgreSQL-side limits, seen by real psycopg2
# clients through the proxy in pool_mode = transaction against the fleet's
# primary (pg_limits_clients.py drives them; pg_stat_activity is read as
# monitor straight on the primary):
#  - query_timeout = 1s: SELECT pg_sleep(30) gets 57014 in ~1-2 s; as the
#    docs say the query is cancelled, not the session: the client goes on
#    (a second long query is cancelled too; inside a transaction the next
#    statement gets 25P02 until ROLLBACK, as after any cancel); the statement
#    is gone from pg_stat_activity and another client runs on the same
#    server (pool_size = 1, same backend pid);
#  - idle_transaction_timeout = 1s: BEGIN; INSERT; then idle: the client gets
#    FATAL 25P03 within ~1-2 s and is closed; the row is rolled back; the
#    server is kept (same backend pid, rolled back: no open transaction,
#    no xid, the key is free); short gaps in a transaction are not idleness;
#  - client_idle_timeout = 1s: idle clients (just logged in, or after a
#    query) get FATAL 57P05; a client querying every 0.3 s and a client idle
#    inside a transaction are not closed;
#  - max_client_conn = 5: the 6th client gets FATAL 53300 "too many clients:
#    max_client_conn (5) reached", the 5 keep working, one leaving lets a new
#    one in, and the next is refused again; psycopg2 shows that text, with
#    libpq's default sslmode=prefer too; a CancelRequest still gets through;
#  - max_db_connections = 2 (pool_size = 5, workers = 1), users app and
#    admin, 10 clients each: all succeed and pg_stat_activity never shows
#    more than 2 server connections to database app (a control run without
#    the limit shows the sampler does see more);
#  - server_lifetime = 1s (pool_size = 1, workers = 1): an idle client's
#    backend pid changes after the lifetime; inside a 3 s transaction it
#    does not; after COMMIT the old server is closed.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

DRV=$HERE/pg_limits_clients.py
OUT=
drive() { # SUBCOMMAND ARGS... — run the driver; its R lines are read with r KEY
	local rc=0
	OUT=$(timeout 60 "$PY" "$DRV" "$@" 2>&1) || rc=$?
	printf '%s\n' "$OUT"
	assert_eq 0 "$rc" "$1: the driver exits 0"
	assert_eq yes "$(r finished)" "$1: the driver ran to its end"
}
r() { awk -F'\t' -v k="$1" '$1 == "R" && $2 == k { print $3; exit }' <<<"$OUT"; }
# in_range VALUE LO HI: "yes" when LO <= VALUE <= HI, else the value.
in_range() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { if (v ~ /^-?[0-9.]+$/ && v + 0 >= lo && v + 0 <= hi) print "yes"; else print "no: " v }'; }

pg_direct -q -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS txn_limits CASCADE;
	CREATE SCHEMA txn_limits; CREATE TABLE txn_limits.t (id int PRIMARY KEY)" >/dev/null
on_exit 'pg_direct -q -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS txn_limits CASCADE"'

end_section() { # NAME
	assert_ok proxy_alive
	stop_proxy 5
	assert_eq 0 "$PROXY_EXIT_CODE" "$1: the proxy exits 0 on SIGTERM"
}

# ---------------------------------------------------------------- query_timeout
note "query_timeout = 1s"
cfg=$SY_TMP/qt.ini
write_config "$cfg" pool_mode=transaction pool_size=1 workers=1 cluster.query_timeout=1s
start_proxy "$cfg"
log_mark "query_timeout"
drive qtimeout --port "$PROXY_PORT" --direct-port "$PG_PRIMARY_PORT"
assert_eq none "$(r qt_short_code)" "query_timeout: pg_sleep(0.4) is not cancelled"
assert_eq 57014 "$(r qt_code)" "query_timeout: pg_sleep(30) gets SQLSTATE 57014"
assert_contains "$(r qt_msg)" "canceling statement" "query_timeout: the server's cancel message"
assert_eq yes "$(in_range "$(r qt_secs)" 0.9 3.0)" "query_timeout: the error comes within ~1-3 s"
assert_eq 0 "$(r qt_running)" "query_timeout: pg_sleep(30) no longer runs on the server"
assert_eq idle "$(r qt_backend_state)" "query_timeout: its backend is idle right after"
assert_eq "still here" "$(r qt_next)" "query_timeout: the session goes on (cancelled query, not closed client)"
assert_eq yes "$(in_range "$(r qt2_secs)" 0.9 3.0)" "query_timeout: a second long query is cancelled in time too"
assert_eq 57014 "$(r qt2_code)" "query_timeout: the second one gets 57014"
assert_eq 57014 "$(r qt_tx_code)" "query_timeout inside a transaction: 57014"
assert_eq 25P02 "$(r qt_tx_next_code)" "query_timeout inside a transaction: the transaction is aborted (25P02) until ROLLBACK"
assert_eq "after rollback" "$(r qt_tx_after_rollback)" "query_timeout inside a transaction: after ROLLBACK the session works"
assert_eq 2 "$(r qt_b_result)" "query_timeout: another client runs on the server afterwards"
assert_eq "$(r qt_pid)" "$(r qt_b_pid)" "query_timeout: the server is kept (pool_size 1: same backend pid for the other client)"
assert_eq none "$(r qt_b_short_code)" "query_timeout: the other client's short query is not cancelled"
assert_eq 0 "$(r qt_running_end)" "query_timeout: no pg_sleep(30) left on the server"
assert_eq 0 "$(r qt_app_not_idle)" "query_timeout: every backend of app is idle at the end"
assert_eq 3 "$(log_since_mark | grep -c 'query_timeout (1000 ms): cancelling its query')" "query_timeout: three cancels logged"
end_section query_timeout

# ---------------------------------------------------------------- idle_transaction_timeout
note "idle_transaction_timeout = 1s"
cfg=$SY_TMP/itt.ini
write_config "$cfg" pool_mode=transaction pool_size=1 workers=1 cluster.idle_transaction_timeout=1s
start_proxy "$cfg"
log_mark "idle_transaction_timeout"
drive idletx --port "$PROXY_PORT" --direct-port "$PG_PRIMARY_PORT"
assert_eq ok "$(r it_gaps)" "idle_transaction_timeout: a transaction with 0.6 s gaps (1.8 s long) is not closed"
assert_eq "idle in transaction" "$(r it_state_before)" "idle_transaction_timeout: the transaction is open on the server before the limit"
assert_eq yes "$(in_range "$(r it_secs)" 0.9 3.0)" "idle_transaction_timeout: the FATAL comes within ~1-3 s"
assert_eq 25P03 "$(r it_code)" "idle_transaction_timeout: the proxy sends SQLSTATE 25P03"
assert_eq "FATAL: idle_transaction_timeout: idle in transaction for more than 1000 ms" "$(r it_msg)" "idle_transaction_timeout: FATAL, the message names the limit"
assert_eq "OperationalError (closed=yes)" "$(r it_next)" "idle_transaction_timeout: psycopg2's next statement fails, the connection is closed"
assert_eq idle "$(r it_state_after)" "idle_transaction_timeout: its backend is rolled back to idle (kept, not closed)"
assert_eq 0 "$(r it_rows_direct)" "idle_transaction_timeout: the INSERT is rolled back (seen directly)"
assert_eq 0 "$(r it_open_tx)" "idle_transaction_timeout: no app backend idle in transaction"
assert_eq "$(r it_pid)" "$(r it_b_pid)" "idle_transaction_timeout: the next client gets the same server (backend pid), rolled back"
assert_eq True "$(r it_b_fresh)" "idle_transaction_timeout: the next client's statement starts its own transaction (now() = statement_timestamp())"
assert_eq True "$(r it_b_noxid)" "idle_transaction_timeout: the next client inherits no transaction id"
assert_eq 0 "$(r it_b_rows)" "idle_transaction_timeout: the next client sees no row"
assert_eq ok "$(r it_b_insert)" "idle_transaction_timeout: the key is free (no lock left behind)"
assert_match "$(log_since_mark)" "closing: idle_transaction_timeout: idle in transaction for more than 1000 ms \(25P03\)" "idle_transaction_timeout: logged"
end_section idle_transaction_timeout

# ---------------------------------------------------------------- client_idle_timeout
note "client_idle_timeout = 1s"
cfg=$SY_TMP/cit.ini
write_config "$cfg" pool_mode=transaction pool_size=3 workers=1 cluster.client_idle_timeout=1s
start_proxy "$cfg"
drive clientidle --port "$PROXY_PORT"
for who in idle_login idle_query; do
	assert_eq 57P05 "$(r ci_${who}_code)" "client_idle_timeout ($who): SQLSTATE 57P05"
	assert_eq "FATAL: client_idle_timeout: idle for more than 1000 ms" "$(r ci_${who}_msg)" "client_idle_timeout ($who): FATAL, the message names the limit"
	assert_eq "OperationalError (closed=yes)" "$(r ci_${who}_next)" "client_idle_timeout ($who): psycopg2's next statement fails, the connection is closed"
	assert_eq yes "$(in_range "$(r ci_${who}_secs)" 0.9 3.0)" "client_idle_timeout ($who): closed within ~1-3 s"
done
assert_eq none "$(r ci_busy_errors)" "client_idle_timeout: a client querying every 0.3 s gets no error"
assert_eq yes "$(in_range "$(r ci_busy_ok)" 5 11)" "client_idle_timeout: the busy client ran its ~10 queries"
assert_eq ok "$(r ci_intx)" "client_idle_timeout: a client idle 2 s inside a transaction is not closed by it"
end_section client_idle_timeout

# ---------------------------------------------------------------- max_client_conn
note "max_client_conn = 5"
cfg=$SY_TMP/mcc.ini
write_config "$cfg" pool_mode=transaction pool_size=5 global.max_client_conn=5
start_proxy "$cfg"
drive maxconn --port "$PROXY_PORT" --limit 5
assert_eq 5 "$(r mc_first)" "max_client_conn: 5 clients log in and query"
assert_eq 53300 "$(r mc_refused_code)" "max_client_conn: the 6th gets SQLSTATE 53300"
assert_eq "FATAL: too many clients: max_client_conn (5) reached" "$(r mc_refused_msg)" "max_client_conn: the 6th gets the proxy's message"
# libpq's default sslmode=prefer starts with an SSLRequest; an ErrorResponse
# answering it is not shown (libpq >= 15.8, CVE-2024-10977: "server sent an
# error response during SSL exchange"), so the refusal must come after it.
assert_contains "$(r mc_psycopg2)" "too many clients: max_client_conn (5) reached" "max_client_conn: psycopg2 (default sslmode=prefer) shows the message"
assert_contains "$(r mc_psycopg2_nossl)" "too many clients: max_client_conn (5) reached" "max_client_conn: psycopg2 with sslmode=disable shows the message"
assert_eq 5 "$(r mc_still)" "max_client_conn: the first 5 keep working"
assert_eq 57014 "$(r mc_cancel_code)" "max_client_conn: a cancel still gets through a full proxy (57014)"
assert_eq yes "$(in_range "$(r mc_cancel_s)" 0 3)" "max_client_conn: ... within 3 s of the query's start"
assert_eq "logged in" "$(r mc_after_leave)" "max_client_conn: after one leaves a new client logs in"
assert_eq 53300 "$(r mc_refused_again_code)" "max_client_conn: full again, the next is refused"
assert_eq 5 "$(r mc_all_end)" "max_client_conn: the 5 connected clients work at the end"
end_section max_client_conn

# ---------------------------------------------------------------- max_db_connections
note "max_db_connections = 2, users app and admin"
cfg=$SY_TMP/mdb.ini
write_config "$cfg" pool_mode=transaction pool_size=5 workers=1 cluster.max_db_connections=2 \
	cluster.query_wait_timeout=10s user.app.password=app user.admin.password=admin
start_proxy "$cfg"
drive maxdb --port "$PROXY_PORT" --direct-port "$PG_PRIMARY_PORT" --clients 10 --queries 30
assert_eq 0 "$(r md_baseline)" "max_db_connections: no server connection before the load"
assert_eq 10 "$(r md_app_ok)" "max_db_connections: the 10 app clients all succeed"
assert_eq 10 "$(r md_admin_ok)" "max_db_connections: the 10 admin clients all succeed"
assert_eq 0 "$(r md_errors)" "max_db_connections: no client error ($(r md_error_samples))"
assert_eq yes "$(in_range "$(r md_samples)" 10 1000000)" "max_db_connections: pg_stat_activity sampled at least 10 times"
assert_eq yes "$(in_range "$(r md_max)" 1 2)" "max_db_connections: never more than 2 server connections to the node (max seen $(r md_max))"
end_section max_db_connections

# The same load without the limit: the sampler does see more than 2.
cfg=$SY_TMP/mdb0.ini
write_config "$cfg" pool_mode=transaction pool_size=5 workers=1 \
	cluster.query_wait_timeout=10s user.app.password=app user.admin.password=admin
start_proxy "$cfg"
drive maxdb --port "$PROXY_PORT" --direct-port "$PG_PRIMARY_PORT" --clients 10 --queries 30
assert_eq 20 "$(($(r md_app_ok) + $(r md_admin_ok)))" "control (no max_db_connections): the 20 clients succeed"
assert_eq yes "$(in_range "$(r md_max)" 3 10)" "control (no max_db_connections): more than 2 server connections seen"
end_section "max_db_connections control"

# ---------------------------------------------------------------- server_lifetime
note "server_lifetime = 1s"
cfg=$SY_TMP/sl.ini
write_config "$cfg" pool_mode=transaction pool_size=1 workers=1 cluster.server_lifetime=1s
start_proxy "$cfg"
drive lifetime --port "$PROXY_PORT" --direct-port "$PG_PRIMARY_PORT"
assert_ne "$(r sl_p1)" "$(r sl_p2)" "server_lifetime: an idle client's backend pid changes after the lifetime"
assert_eq gone "$(r sl_p1_state)" "server_lifetime: the old backend is closed"
assert_eq yes "$(in_range "$(r sl_tx_queries)" 5 11)" "server_lifetime: the 3 s transaction ran its ~10 queries"
assert_eq 1 "$(r sl_tx_distinct)" "server_lifetime: the backend pid stays the same inside a 3 s transaction"
assert_eq yes "$(r sl_tx_backend_age_over_lifetime)" "server_lifetime: that backend outlived the lifetime while in use"
assert_ne "$(r sl_tx_pid)" "$(r sl_p3)" "server_lifetime: after COMMIT the old server is not reused"
assert_eq gone "$(r sl_tx_pid_state)" "server_lifetime: after COMMIT the old server is closed"
end_section server_lifetime
