#!/usr/bin/env bash
# Server pipelining (pipeline_depth, transaction pooling) against the
# fleet's primary with real clients:
#  - off by default: pgbench -S over a small pool queues nothing
#    (switchyard_pipelined_total stays 0);
#  - isolation: 40 psycopg2 clients over pool_size = 4 (2 workers),
#    pipeline_depth = 8, each asking for its own values and a third each
#    with TimeZone UTC, Asia/Tokyo or the default: every answer (values,
#    row count, TimeZone) is the client's own, no error, and statements
#    were queued (the counter grew);
#  - the extended protocol: the same isolation check with psycopg 3,
#    parameters bound by the server (unnamed statements) and with
#    prepare_threshold = 0 (named statements), statements queued; pgbench
#    -S -M extended and -M prepared: zero failed transactions, queued;
#  - pgbench: -S (queued) and TPC-B (transactions: never queued, never
#    queued behind) at once over pool_size = 4: zero failed transactions,
#    the TPC-B sums agree, statements were queued, and the proxy never
#    logged a broken batch;
#  - pipeline_busy_servers: 6 pgbench clients over pool_size = 8 queue next to
#    nothing (≤ 1 %) with the default and over 10 % with
#    pipeline_busy_servers = 2, with zero failed transactions; 6 isolation
#    clients there each get only their own answers;
#  - queue (pool_size = 1, workers = 1, depth 4, pipeline_max_query_time
#    5s): a cancel of a queued client, and of the running statement with
#    others queued, is answered with 57014 at once and the others get
#    their own answers; clients leaving while queued or running leave
#    the others' answers intact; the backend terminated with clients
#    queued: each gets an error within 1 s, new sessions work; raw
#    extended-protocol requests (unnamed, and a Bind of a named statement
#    the server has) queued behind a Query get their own answers, every
#    message in order, one leaving while queued; a named Parse is not
#    queued and is answered.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

DRV=$HERE/pg_batch_clients.py
PGBENCH=$PG_BIN/pgbench

processed() { sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$1"; }
bench() { PGPASSWORD=app timeout 60 "$PGBENCH" -h 127.0.0.1 -p "$PROXY_PORT" -U app -n "$@" app; }
broken_batches() { grep -cE "left a transaction open|batch's order was lost|not passed on|queuing a statement" "$PROXY_LOG" || true; }

pg_direct -q -c "SET client_min_messages = warning; DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches,
	pgbench_tellers, pgbench_history" >/dev/null
PGPASSWORD=app timeout 120 "$PGBENCH" -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U app -i -s 1 -q app >/dev/null 2>&1 ||
	fail "pgbench -i directly on the server"

# ---------------------------------------------------------------- off by default
note "pipeline_depth unset"
cfg=$SY_TMP/off.ini
write_config "$cfg" pool_mode=transaction pool_size=2 workers=1
start_proxy "$cfg"
out=$(bench -S -c 16 -j 2 -T 3 2>&1) || true
assert_contains "$out" "number of failed transactions: 0 (0.000%)" "off: pgbench -S, zero failed transactions"
sleep 1.2
assert_eq 0 "$(pipelined postgres)" "off: nothing queued behind another client's statement"
assert_ok proxy_alive
stop_proxy 5

# ---------------------------------------------------------------- isolation
note "isolation, pipeline_depth = 8"
cfg=$SY_TMP/iso.ini
write_config "$cfg" pool_mode=transaction pool_size=4 workers=2 cluster.pipeline_depth=8
start_proxy "$cfg"
run_checks timeout 240 "$PY" "$DRV" isolation --port "$PROXY_PORT" --clients 40 --rounds 120
n=$(pipelined_after postgres 0)
[ "$n" -gt 0 ] 2>/dev/null && _ok "isolation: $n statements were queued behind others" ||
	fail "isolation: no statement was queued (switchyard_pipelined_total $n)"
assert_eq 0 "$(broken_batches)" "isolation: no broken batch in the proxy log"
assert_ok proxy_alive
stop_proxy 5

# ---------------------------------------------------------------- extended protocol
note "isolation with the extended protocol, pipeline_depth = 8"
cfg=$SY_TMP/iso-ext.ini
write_config "$cfg" pool_mode=transaction pool_size=4 workers=2 cluster.pipeline_depth=8
start_proxy "$cfg"
n=0
for proto in extended prepared; do
	run_checks timeout 240 "$PY" "$DRV" isolation --port "$PROXY_PORT" --clients 40 --rounds 100 --protocol $proto
	n2=$(pipelined_after postgres "$n")
	[ "$n2" -gt "$n" ] 2>/dev/null && _ok "isolation ($proto): $((n2 - n)) statements were queued behind others" ||
		fail "isolation ($proto): no statement was queued (switchyard_pipelined_total $n2)"
	n=$n2
	out=$(bench -S -M $proto -c 16 -j 2 -T 3 2>&1) || true
	assert_contains "$out" "number of failed transactions: 0 (0.000%)" "pgbench -S -M $proto: zero failed transactions"
	n2=$(pipelined_after postgres "$n")
	[ "$n2" -gt "$n" ] 2>/dev/null && _ok "pgbench -M $proto: $((n2 - n)) statements were queued behind others" ||
		fail "pgbench -M $proto: no statement was queued (switchyard_pipelined_total $n2)"
	n=$n2
done
assert_eq 0 "$(broken_batches)" "extended protocol: no broken batch in the proxy log"
assert_ok proxy_alive
stop_proxy 5

# ---------------------------------------------------------------- pgbench
note "pgbench -S and TPC-B at once, pipeline_depth = 4"
cfg=$SY_TMP/bench.ini
write_config "$cfg" pool_mode=transaction pool_size=4 workers=2 cluster.pipeline_depth=4 \
	cluster.query_wait_timeout=60s
start_proxy "$cfg"
sums() {
	pg_direct -c "SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(tbalance) FROM pgbench_tellers)
		AND (SELECT sum(tbalance) FROM pgbench_tellers) = (SELECT sum(bbalance) FROM pgbench_branches),
		(SELECT count(*) FROM pgbench_history)"
}
bench -S -c 24 -j 2 -T 6 >"$SY_TMP/ro.out" 2>&1 &
ro=$!
bench -c 8 -j 2 -T 6 >"$SY_TMP/rw.out" 2>&1 || true
wait "$ro" || true
for f in ro rw; do
	assert_contains "$(cat "$SY_TMP/$f.out")" "number of failed transactions: 0 (0.000%)" "pgbench $f: zero failed transactions"
done
rw_tx=$(processed "$(cat "$SY_TMP/rw.out")")
IFS='|' read -r agree hist <<<"$(sums)"
assert_eq t "$agree" "pgbench TPC-B: accounts = tellers = branches"
assert_eq "$rw_tx" "$hist" "pgbench TPC-B: one history row per transaction"
n=$(pipelined_after postgres 0)
[ "$n" -gt 0 ] 2>/dev/null && _ok "pgbench: $n statements were queued behind others" ||
	fail "pgbench: no statement was queued (switchyard_pipelined_total $n)"
assert_eq 0 "$(broken_batches)" "pgbench: no broken batch in the proxy log"
assert_ok proxy_alive
stop_proxy 5

# ---------------------------------------------------------------- busy servers
note "pipeline_busy_servers: queued while servers are idle"
cfg=$SY_TMP/busy0.ini
write_config "$cfg" pool_mode=transaction pool_size=8 workers=1 cluster.pipeline_depth=4
start_proxy "$cfg"
out=$(bench -S -c 6 -j 2 -T 3 2>&1) || true
assert_contains "$out" "number of failed transactions: 0 (0.000%)" "busy 0: pgbench -S, zero failed transactions"
tx=$(processed "$out")
sleep 1.2
# The pool fills only for a moment, if ever (a server still being handed
# back while clients arrive, on a loaded machine): next to nothing queues.
assert_share "$(pipelined postgres)" "$tx" le 1 "busy 0: 6 clients over pool_size = 8 queue next to nothing"
stop_proxy 5
cfg=$SY_TMP/busy2.ini
write_config "$cfg" pool_mode=transaction pool_size=8 workers=1 cluster.pipeline_depth=4 \
	cluster.pipeline_busy_servers=2
start_proxy "$cfg"
out=$(bench -S -c 6 -j 2 -T 3 2>&1) || true
assert_contains "$out" "number of failed transactions: 0 (0.000%)" "busy 2: pgbench -S, zero failed transactions"
tx=$(processed "$out")
n=$(pipelined_after postgres $((${tx:-0} / 10)))
assert_share "$n" "$tx" gt 10 "busy 2: statements queued with servers idle"
run_checks timeout 240 "$PY" "$DRV" isolation --port "$PROXY_PORT" --clients 6 --rounds 200
n2=$(pipelined_after postgres "$n")
[ "$n2" -gt "$n" ] 2>/dev/null && _ok "busy 2: isolation clients' statements were queued ($((n2 - n)))" ||
	fail "busy 2: none of the isolation clients' statements was queued ($n2)"
assert_eq 0 "$(broken_batches)" "busy 2: no broken batch in the proxy log"
assert_ok proxy_alive
stop_proxy 5

# ---------------------------------------------------------------- queue
note "queued statements: cancel, leaving clients, a terminated backend"
cfg=$SY_TMP/queue.ini
write_config "$cfg" pool_mode=transaction pool_size=1 workers=1 cluster.pipeline_depth=4 \
	cluster.pipeline_max_query_time=5s cluster.query_wait_timeout=30s
start_proxy "$cfg"
run_checks timeout 120 "$PY" "$DRV" queue --port "$PROXY_PORT" --direct-port "$PG_PRIMARY_PORT"
n=$(pipelined_after postgres 6)
[ "$n" -gt 6 ] 2>/dev/null && _ok "queue: $n statements were queued behind others" ||
	fail "queue: fewer statements queued than the scenarios need ($n)"
run_checks timeout 120 "$PY" "$DRV" queue_ext --port "$PROXY_PORT"
n2=$(pipelined_after postgres $((n + 2)))
[ "$n2" -ge $((n + 3)) ] 2>/dev/null && _ok "queue_ext: the 3 extended requests were queued ($((n2 - n)))" ||
	fail "queue_ext: fewer than 3 extended requests queued ($n -> $n2)"
assert_eq 0 "$(broken_batches)" "queue: no broken batch in the proxy log"
assert_ok proxy_alive
stop_proxy 5
assert_eq 0 "$PROXY_EXIT_CODE" "the proxy exits 0 on SIGTERM"
