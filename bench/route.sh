#!/usr/bin/env bash
# route.sh — the benchmark of issue 5: a read-heavy load (90 % primary-key
# SELECTs, 10 % UPDATEs, each its own transaction) run directly on the
# primary and through switchyard in four set-ups, interleaved, in one run:
#
#   direct                 PostgreSQL primary, no proxy
#   switchyard-w2-primary  a cluster with no replicas: everything to the primary
#   switchyard-w2-rywoff   primary + replica, read_your_writes = off
#   switchyard-w2-rywlsn   primary + replica, read_your_writes = lsn (default)
#   switchyard-w2-window   primary + replica, read_your_writes = window
#
# For each: tps, mean and p99 latency (pgbench --log), the proxy's CPU per
# transaction, and the share of reads the replica served (from the proxy's
# switchyard_route_decisions_total counters, reads = classification
# decisions), medians over ROUNDS rounds, with ratios to all-to-primary.
#
#   bench/route.sh                          # defaults: about 6 minutes
#   DURATION=5 ROUNDS=1 bench/route.sh      # a quick look
#
# Environment: FLEET_DIR (a running fleet; unset: one is started and
# destroyed), BIN [build/switchyard], DURATION [15], ROUNDS [3], CLIENTS
# [20], POOL_SIZE [20], SCALE [10], SKIP_INIT, WARMUP [2], WORK_DIR,
# SYNC_COMMIT [on]: the primary's synchronous_commit for the run (the test
# fleet runs with off, where the WAL reaches the replica only every
# wal_writer_delay, 200 ms, and read-your-writes reads wait that long;
# restored afterwards).
# Timings never fail it: exit 0 when every run ran, 1 otherwise.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_NAME=route
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-20}
POOL_SIZE=${POOL_SIZE:-20}
POOL_MODE=transaction
SCALE=${SCALE:-10}
SKIP_INIT=${SKIP_INIT:-0}
WARMUP=${WARMUP:-2}
SY_LOG_LEVEL=${SY_LOG_LEVEL:-warning}
HAPROXY_THREADS=1
require_posint DURATION ROUNDS CLIENTS POOL_SIZE SCALE
require_cmds psql ss curl "$PY"

raise_nofile
bench_setup_work
RESULTS=$WORK/results.tsv
bench_setup_fleet
bench_setup_binary

REPLICA=127.0.0.1:$PG_REPLICA_PORT
MON=$'monitor_user = monitor\nmonitor_password = monitor'
TARGETS=(direct switchyard-w2-primary switchyard-w2-rywoff switchyard-w2-rywlsn switchyard-w2-window)
SY_CLUSTER_EXTRA[switchyard-w2-primary]=$MON
SY_CLUSTER_EXTRA[switchyard-w2-rywoff]="replicas = $REPLICA"$'\n'"$MON"$'\nread_your_writes = off\nmonotonic_reads = off'
SY_CLUSTER_EXTRA[switchyard-w2-rywlsn]="replicas = $REPLICA"$'\n'"$MON"$'\nread_your_writes = lsn'
SY_CLUSTER_EXTRA[switchyard-w2-window]="replicas = $REPLICA"$'\n'"$MON"$'\nread_your_writes = window'
for t in "${TARGETS[@]}"; do
	[ "$t" = direct ] && continue
	SY_STATS_PORT[$t]=$(free_port)
done

SYNC_COMMIT=${SYNC_COMMIT:-on}
case "$SYNC_COMMIT" in on | off) ;; *) die "SYNC_COMMIT must be on or off" ;; esac
su_sql() { PGPASSWORD=monitor psql -X -q -A -t -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U monitor -d postgres "$@"; }
OLD_SYNC=$(su_sql -c "SHOW synchronous_commit") || die "cannot reach the primary as monitor"
su_sql -c "ALTER SYSTEM SET synchronous_commit = $SYNC_COMMIT" -c "SELECT pg_reload_conf()" >/dev/null
bench_cleanup_hook() { su_sql -c "ALTER SYSTEM SET synchronous_commit = $OLD_SYNC" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true; }
[ "$SKIP_INIT" = 1 ] || pgbench_init "$SCALE"
cat >"$WORK/mixed.sql" <<'EOF'
\set aid random(1, 100000 * :scale)
\set r random(1, 10)
\if :r <= 9
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
\else
UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = :aid;
\endif
EOF
chmod 644 "$WORK/mixed.sql"

# replica reads / all reads, from a proxy's counters
replica_reads() { # TARGET -> "replica total"
	curl -s -f --max-time 5 "http://127.0.0.1:${SY_STATS_PORT[$1]}/metrics" | awk '
		/^switchyard_route_decisions_total\{/ && /reason="(classification|ryw_primary|lag_excluded|replicas_down)"/ {
			tot += $NF; if ($0 ~ /target="replica"/) rep += $NF }
		END { printf "%d %d\n", rep, tot }'
}

say "starting the targets"
for t in "${TARGETS[@]}"; do
	start_target "$t" "$WORK/$t" || { say "$t did not start (see $FAILURES)"; exit 1; }
done

rc=0
for t in "${TARGETS[@]}"; do # warm-up, unrecorded
	PGPASSWORD=app timeout 60 "$PGBENCH" -h 127.0.0.1 -p "${PORT[$t]}" -U app -n -c "$CLIENTS" -j 2 -T "$WARMUP" \
		-f "$WORK/mixed.sql" app >/dev/null 2>&1 || true
done
row "$RESULTS" round target tps mean_ms p99_ms cpu_us replica_share
for r in $(seq 1 "$ROUNDS"); do
	n=${#TARGETS[@]}
	for k in $(seq 0 $((n - 1))); do
		t=${TARGETS[$(((k + r - 1) % n))]}
		before="0 0"
		[ "$t" != direct ] && before=$(replica_reads "$t")
		pgbench_run "$t" "$WORK/$t/r$r" -c "$CLIENTS" -j 2 -T "$DURATION" -M simple -f "$WORK/mixed.sql"
		share=""
		if [ "$t" != direct ]; then
			after=$(replica_reads "$t")
			share=$(awk -v a="$before" -v b="$after" 'BEGIN { split(a, x, " "); split(b, y, " ");
				d = y[2] - x[2]; if (d > 0) printf "%.3f", (y[1] - x[1]) / d; else print "" }')
		fi
		if [ "$R_RC" -ne 0 ]; then
			echo "round $r $t: $R_ERR" >>"$FAILURES"
			rc=1
		fi
		row "$RESULTS" "$r" "$t" "$R_TPS" "$R_MEAN" "$R_P99" "$R_CPU" "$share"
		say "round $r $t: tps $R_TPS p99 ${R_P99} ms cpu ${R_CPU} µs/tx replica share ${share:-n/a}"
	done
done

echo
bench_header
echo "load: pgbench -M simple -c $CLIENTS -j 2 -T $DURATION, 90 % SELECT by primary key / 10 % UPDATE (scale $SCALE), pool_size $POOL_SIZE, workers 2, ROUNDS $ROUNDS (medians); primary synchronous_commit = $SYNC_COMMIT"
"$PY" - "$RESULTS" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
targets = []
for r in rows:
    if r["target"] not in targets:
        targets.append(r["target"])
def med(t, k):
    v = [float(r[k]) for r in rows if r["target"] == t and r[k] not in ("", None)]
    return statistics.median(v) if v else None
base = "switchyard-w2-primary"
fmt = lambda v, f="{:.1f}": "n/a" if v is None else f.format(v)
print(f"{'target':24} {'tps':>8} {'mean ms':>8} {'p99 ms':>8} {'cpu µs/tx':>10} {'replica reads':>14} {'tps/all-primary':>16} {'p99/all-primary':>16}")
for t in targets:
    tps, mean, p99, cpu, share = (med(t, k) for k in ("tps", "mean_ms", "p99_ms", "cpu_us", "replica_share"))
    bt, bp = med(base, "tps"), med(base, "p99_ms")
    rt = tps / bt if tps and bt else None
    rp = p99 / bp if p99 and bp else None
    print(f"{t:24} {fmt(tps,'{:.0f}'):>8} {fmt(mean,'{:.2f}'):>8} {fmt(p99,'{:.2f}'):>8} {fmt(cpu,'{:.1f}'):>10} "
          f"{fmt(None if share is None else share*100,'{:.1f} %'):>14} {fmt(rt,'{:.2f}'):>16} {fmt(rp,'{:.2f}'):>16}")
EOF
if [ -s "$FAILURES" ]; then
	echo
	echo "problems:"
	cat "$FAILURES"
fi
echo "raw results: $RESULTS"
exit "$rc"
