#!/usr/bin/env bash
# pool_mode per cluster and per user, and COPY FROM STDIN backpressure.
#
# One proxy: [cluster.app] pool_mode = transaction, pool_size = 1, workers = 1,
# query_wait_timeout = 1s. User app has no pool_mode (inherits transaction),
# [user.admin] pool_mode = session, [user.md5user] pool_mode = statement.
# Pools are per (node, database, server user) (docs/pooling.md), so each user
# has a pool of one server connection.
#
# 1. (pg_mode_clients.py modes) Two app clients share one backend in turns
#    (pg_backend_pid(); B waits while A's transaction is open). An admin
#    client keeps its own backend and its session state for its whole
#    session while app clients run; a second admin client waits at login and
#    gets query_wait_timeout after ~1 s; a third one waiting when the first
#    leaves gets that same backend, reset (DISCARD ALL). md5user's BEGIN /
#    START TRANSACTION get 25000 and its session goes on; app can BEGIN.
# 2. (pg_mode_clients.py copystall) COPY pm_copy FROM STDIN of 2,000,000 rows
#    (~200 MB, psycopg2 copy_expert) through the proxy while a direct
#    transaction holds an uncommitted row with a key in the stream: the
#    server's COPY blocks on it and stops reading. (LOCK TABLE would not do:
#    COPY takes its table lock before CopyInResponse, so a client would never
#    start streaming.) While blocked the client is stalled and the proxy's
#    VmRSS stays within 20 MB of its figure before the COPY — the bound of
#    test_pg_txn_backpressure.sh: the proxy holds at most 256 kB per
#    direction (docs/pooling.md), so 20 MB is far above allocator noise and
#    a tenth of the stream. After a direct ROLLBACK the COPY completes and
#    all 2,000,000 rows are on the server.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=1 workers=1 \
	cluster.query_wait_timeout=1s \
	user.app.password=app \
	user.admin.password=admin user.admin.pool_mode=session \
	user.md5user.password=md5pass user.md5user.pool_mode=statement
start_proxy "$cfg"
pid=$(proxy_pid)

assert_ok "$BIN" -t -c "$cfg"
assert_match "$(cat "$cfg")" $'\\[cluster\\.app\\][^[]*pool_mode = transaction' "the cluster is in transaction mode"
assert_match "$(cat "$cfg")" $'\\[user\\.app\\]\npassword = app\n' "user app sets no pool_mode (inherits the cluster's)"

note "1. pool modes per cluster and per user"
run_checks timeout 40 "$PY" "$HERE/pg_mode_clients.py" modes --port "$PROXY_PORT" --direct-port "$PG_PRIMARY_PORT"
assert_ok proxy_alive

note "2. COPY FROM STDIN to a server that stops reading"
run_checks timeout 80 "$PY" "$HERE/pg_mode_clients.py" copystall --port "$PROXY_PORT" --direct-port "$PG_PRIMARY_PORT" \
	--pid "$pid" --rows 2000000 --block-key 20000
assert_ok proxy_alive
assert_eq 0 "$(pg_monitor -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state LIKE 'idle in transaction%'")" \
	"no app server is left inside a transaction"
