#!/usr/bin/env bash
# Server pipelining (pipeline_depth) on the MySQL side, against the fleet's
# MariaDB primary with real clients:
#  - off by default: sysbench point selects over a small pool queue nothing
#    (switchyard_pipelined_total stays 0);
#  - isolation: 40 PyMySQL clients over pool_size = 4 (2 workers),
#    pipeline_depth = 8, each asking for its own values and a third each
#    with time_zone +09:00, +00:00 or the default: every answer is the
#    client's own, no error, and statements were queued;
#  - sysbench oltp_point_select (queued) and oltp_read_write (transactions:
#    never queued, never queued behind) at once over pool_size = 4: zero
#    errors (read/write: only the deadlocks sysbench retries), statements
#    were queued, no broken batch in the log;
#  - pipeline_busy_servers: 6 sysbench threads over pool_size = 8 queue
#    next to nothing (≤ 1 %) with the default and over 10 % with
#    pipeline_busy_servers = 2, with zero errors; 6 isolation clients
#    there each get only their own answers;
#  - queue (pool_size = 1, workers = 1, depth 4, pipeline_max_query_time
#    5s): KILL QUERY through the proxy of a queued client, and of the
#    running statement with others queued, gets ERR 1317 at once and the
#    others get their own answers; clients leaving while queued or running
#    leave the others' answers intact; the server connection killed with
#    clients queued: each gets an error within 1 s, new sessions work.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"
ASSERT_CONTINUE=1

DRV=$HERE/my_batch_clients.py
broken_batches() { grep -cE "left a transaction open|internal error queuing|would run inside another" "$PROXY_LOG" || true; }
SB=(sysbench --db-driver=mysql --mysql-host=127.0.0.1 --mysql-user=app --mysql-password=app --mysql-db=shop
	--tables=2 --table-size=2000 --db-ps-mode=disable)
"${SB[@]}" --mysql-port="$MY_PRIMARY_PORT" oltp_read_write cleanup >/dev/null 2>&1 || true
"${SB[@]}" --mysql-port="$MY_PRIMARY_PORT" oltp_read_write prepare >/dev/null 2>&1 || fail "sysbench prepare"
on_exit '"${SB[@]}" --mysql-port="$MY_PRIMARY_PORT" oltp_read_write cleanup >/dev/null 2>&1'

sb_run() { # OUTFILE LOAD THREADS SECONDS
	timeout 120 "${SB[@]}" --mysql-port="$PROXY_PORT" --threads="$3" --time="$4" "$2" run >"$1" 2>&1 || true
}
sb_ok() { # OUTFILE LABEL [rw] — rw: the deadlocks sysbench retries are allowed
	local out
	out=$(cat "$1")
	assert_not_contains "$out" "FATAL" "$2: no fatal error"
	[ "${3:-}" = rw ] || assert_match "$out" "ignored errors: +0 " "$2: zero errors"
	assert_match "$out" "reconnects: +0 " "$2: no reconnects"
}

# ---------------------------------------------------------------- off by default
note "pipeline_depth unset"
my_write_config "$SY_TMP/off.ini" pool_size=2 workers=1
start_proxy "$SY_TMP/off.ini"
sb_run "$SY_TMP/off.out" oltp_point_select 16 3
sb_ok "$SY_TMP/off.out" "off: oltp_point_select"
sleep 1.2
assert_eq 0 "$(pipelined mysql)" "off: nothing queued behind another client's statement"
assert_ok proxy_alive
stop_proxy 5

# ---------------------------------------------------------------- isolation
note "isolation, pipeline_depth = 8"
my_write_config "$SY_TMP/iso.ini" pool_size=4 workers=2 cluster="pipeline_depth = 8"
start_proxy "$SY_TMP/iso.ini"
run_checks timeout 240 "$PY" "$DRV" isolation --port "$PROXY_PORT" --clients 40 --rounds 120
n=$(pipelined_after mysql 0)
[ "$n" -gt 0 ] 2>/dev/null && _ok "isolation: $n statements were queued behind others" ||
	fail "isolation: no statement was queued (switchyard_pipelined_total $n)"
assert_eq 0 "$(broken_batches)" "isolation: no broken batch in the proxy log"
assert_ok proxy_alive
stop_proxy 5

# ---------------------------------------------------------------- sysbench
note "sysbench point selects and read/write transactions at once, pipeline_depth = 4"
my_write_config "$SY_TMP/sb.ini" pool_size=4 workers=2 cluster="pipeline_depth = 4" \
	cluster="query_wait_timeout = 60s"
start_proxy "$SY_TMP/sb.ini"
sb_run "$SY_TMP/ro.out" oltp_point_select 24 6 &
ro=$!
sb_run "$SY_TMP/rw.out" oltp_read_write 8 6
wait "$ro" || true
sb_ok "$SY_TMP/ro.out" "oltp_point_select"
sb_ok "$SY_TMP/rw.out" "oltp_read_write" rw
n=$(pipelined_after mysql 0)
[ "$n" -gt 0 ] 2>/dev/null && _ok "sysbench: $n statements were queued behind others" ||
	fail "sysbench: no statement was queued (switchyard_pipelined_total $n)"
assert_eq 0 "$(broken_batches)" "sysbench: no broken batch in the proxy log"
assert_ok proxy_alive
stop_proxy 5

# ---------------------------------------------------------------- busy servers
note "pipeline_busy_servers: queued while servers are idle"
my_write_config "$SY_TMP/busy0.ini" pool_size=8 workers=1 cluster="pipeline_depth = 4"
start_proxy "$SY_TMP/busy0.ini"
sb_run "$SY_TMP/busy0.out" oltp_point_select 6 3
sb_ok "$SY_TMP/busy0.out" "busy 0: oltp_point_select"
sb_queries() { sed -n 's/^ *queries: *\([0-9]*\).*/\1/p' "$1"; }
q=$(sb_queries "$SY_TMP/busy0.out")
sleep 1.2
# The pool fills only for a moment, if ever (a server still being handed
# back while clients arrive, on a loaded machine): next to nothing queues.
assert_share "$(pipelined mysql)" "$q" le 1 "busy 0: 6 threads over pool_size = 8 queue next to nothing"
stop_proxy 5
my_write_config "$SY_TMP/busy2.ini" pool_size=8 workers=1 cluster="pipeline_depth = 4" \
	cluster="pipeline_busy_servers = 2"
start_proxy "$SY_TMP/busy2.ini"
sb_run "$SY_TMP/busy2.out" oltp_point_select 6 3
sb_ok "$SY_TMP/busy2.out" "busy 2: oltp_point_select"
q=$(sb_queries "$SY_TMP/busy2.out")
n=$(pipelined_after mysql $((${q:-0} / 10)))
assert_share "$n" "$q" gt 10 "busy 2: statements queued with servers idle"
run_checks timeout 240 "$PY" "$DRV" isolation --port "$PROXY_PORT" --clients 6 --rounds 200
n2=$(pipelined_after mysql "$n")
[ "$n2" -gt "$n" ] 2>/dev/null && _ok "busy 2: isolation clients' statements were queued ($((n2 - n)))" ||
	fail "busy 2: none of the isolation clients' statements was queued ($n2)"
assert_eq 0 "$(broken_batches)" "busy 2: no broken batch in the proxy log"
assert_ok proxy_alive
stop_proxy 5

# ---------------------------------------------------------------- queue
note "queued statements: KILL QUERY, leaving clients, a killed server connection"
my_write_config "$SY_TMP/queue.ini" pool_size=1 workers=1 cluster="pipeline_depth = 4" \
	cluster="pipeline_max_query_time = 5s" cluster="query_wait_timeout = 30s"
start_proxy "$SY_TMP/queue.ini"
run_checks timeout 120 "$PY" "$DRV" queue --port "$PROXY_PORT" --direct-port "$MY_PRIMARY_PORT"
n=$(pipelined_after mysql 6)
[ "$n" -gt 6 ] 2>/dev/null && _ok "queue: $n statements were queued behind others" ||
	fail "queue: fewer statements queued than the scenarios need ($n)"
assert_eq 0 "$(broken_batches)" "queue: no broken batch in the proxy log"
assert_ok proxy_alive
stop_proxy 5
assert_eq 0 "$PROXY_EXIT_CODE" "the proxy exits 0 on SIGTERM"
