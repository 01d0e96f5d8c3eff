#!/usr/bin/env bash
# Query statistics: a known workload through the proxy (transaction
# pooling, 2 workers) gives one normalized entry per statement shape with
# the right calls, rows and errors, in SHOW QUERIES and /queries.json
# (entries of both workers merged); the HTML page has the "Top queries"
# table; /stats.json and /metrics still parse; in session pooling simple
# Queries are counted (a multi-statement Query as one entry).
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=10 workers=2 \
	global.admin_users=admin user.app.password=app user.admin.password=adminpw
start_proxy "$cfg"
URL=http://127.0.0.1:$STATS_PORT
scrape() { curl -s -f --max-time 5 "$@"; }
admin() { PGUSER=admin PGPASSWORD=adminpw PGDATABASE=switchyard pg_proxy "$@"; }
for i in $(seq 1 30); do scrape "$URL/health" >/dev/null 2>&1 && break; sleep 0.1; done

pg_direct -c "DROP TABLE IF EXISTS qs_t; CREATE TABLE qs_t (id int PRIMARY KEY, v text)" >/dev/null
pg_direct -c "INSERT INTO qs_t SELECT g, 'v' || g FROM generate_series(1, 50) g" >/dev/null

# 50 selects with different literals (and spacing), 20 inserts, 5 errors:
# one psql session, one Query each.
w=$SY_TMP/workload.sql
: >"$w"
for i in $(seq 1 50); do
	if ((i % 2)); then echo "SELECT * FROM qs_t WHERE id = $i;"; else echo "SELECT *   FROM qs_t WHERE id = $i; -- even"; fi
done >>"$w"
for i in $(seq 1 20); do echo "INSERT INTO qs_t (id, v) VALUES ($((100 + i)), 'x$i');"; done >>"$w"
for i in $(seq 1 5); do echo "SELECT * FROM qs_missing_table WHERE id = $i;"; done >>"$w"
PGPASSWORD=app timeout 60 psql -X -A -t -q -h 127.0.0.1 -p "$PROXY_PORT" -U app -d app -f "$w" >"$SY_TMP/workload.out" 2>&1
assert_eq 5 "$(grep -c '^psql.*ERROR' "$SY_TMP/workload.out")" "the 5 failing statements failed"

# Multi-row VALUES with different lengths: one shape.
pg_proxy -c "INSERT INTO qs_t (id, v) VALUES (201, 'a'), (202, 'b'), (203, 'c')" >/dev/null
pg_proxy -c "INSERT INTO qs_t (id, v) VALUES (204, 'd')" >/dev/null

# pgbench -S -M prepared, 2 clients x 200 transactions.
PGBENCH=$PG_BIN/pgbench
init=$(PGPASSWORD=app timeout 90 "$PGBENCH" -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U app -i -s 1 -q app 2>&1) ||
	fail "pgbench -i: $init"
rc=0
out=$(PGPASSWORD=app timeout 90 "$PGBENCH" -h 127.0.0.1 -p "$PROXY_PORT" -U app -S -M prepared -t 200 -c 2 -j 2 app 2>&1) || rc=$?
assert_eq 0 "$rc" "pgbench -S -M prepared through the proxy (output: $(tail -n 3 <<<"$out"))"
# The extended protocol without names (-M extended): same counting.
rc=0
out=$(PGPASSWORD=app timeout 90 "$PGBENCH" -h 127.0.0.1 -p "$PROXY_PORT" -U app -S -M extended -t 50 -c 1 app 2>&1) || rc=$?
assert_eq 0 "$rc" "pgbench -S -M extended through the proxy"

sleep 1.5 # every worker has published

json=$(scrape "$URL/queries.json")
check=$("$PY" - "$json" "$PG_PRIMARY_PORT" <<'PYEOF'
import json, sys
d = json.loads(sys.argv[1])
node = "127.0.0.1:" + sys.argv[2]
q = {}
for e in d["queries"]:
    q.setdefault(e["query"], []).append(e)
def one(text, calls, rows, errors):
    es = q.get(text, [])
    if len(es) != 1:
        return "%r: %d entries (want 1); have %r" % (text, len(es), sorted(q))
    e = es[0]
    got = (e["calls"], e["rows"], e["errors"], e["target"], e["node"])
    want = (calls, rows, errors, "primary", node)
    if got != want:
        return "%r: got calls,rows,errors,target,node=%r want %r" % (text, got, want)
    if not (e["total_ms"] >= 0 and e["max_ms"] <= e["total_ms"] + 1e-9 and abs(e["mean_ms"] - e["total_ms"] / e["calls"]) < 0.01):
        return "%r: inconsistent times %r" % (text, e)
    return None
errs = [x for x in [
    one("SELECT * FROM qs_t WHERE id = ?", 50, 50, 0),
    one("INSERT INTO qs_t (id, v) VALUES (?)", 22, 24, 0),
    one("SELECT * FROM qs_missing_table WHERE id = ?", 5, 0, 5),
    one("SELECT abalance FROM pgbench_accounts WHERE aid = $1", 450, 450, 0),
] if x]
for k in ("capacity", "evicted", "untracked", "used"):
    if not isinstance(d.get(k), int):
        errs.append("no integer %s" % k)
tot = [e["total_ms"] for e in d["queries"]]
if tot != sorted(tot, reverse=True):
    errs.append("not sorted by total_ms")
print("; ".join(errs) if errs else "ok")
PYEOF
)
assert_eq ok "$check" "/queries.json: one entry per statement shape with calls, rows, errors"
assert_eq 0 "$(json_get "$json" evicted)" "/queries.json: nothing evicted"
assert_eq 2048 "$(json_get "$json" capacity)" "/queries.json: capacity"

# SHOW QUERIES
show=$(admin -c "SHOW QUERIES")
assert_eq "query|target|calls|total_ms|mean_ms|max_ms|rows|errors" \
	"$(PGPASSWORD=adminpw timeout 30 psql -X -A -q -h 127.0.0.1 -p "$PROXY_PORT" -U admin -d switchyard -c "SHOW QUERIES" | head -n 1)" \
	"SHOW QUERIES columns"
assert_match "$show" "(^|"$'\n'")SELECT \* FROM qs_t WHERE id = \?\|127\.0\.0\.1:$PG_PRIMARY_PORT \(primary\)\|50\|[0-9.]+\|[0-9.]+\|[0-9.]+\|50\|0($|"$'\n'")" \
	"SHOW QUERIES: the select, 50 calls, 50 rows"
assert_match "$show" "(^|"$'\n'")SELECT \* FROM qs_missing_table WHERE id = \?\|[^|]*\|5\|[0-9.]+\|[0-9.]+\|[0-9.]+\|0\|5($|"$'\n'")" \
	"SHOW QUERIES: the failing statement, 5 errors"
assert_match "$show" "(^|"$'\n'")INSERT INTO qs_t \(id, v\) VALUES \(\?\)\|[^|]*\|22\|[0-9.]+\|[0-9.]+\|[0-9.]+\|24\|0" \
	"SHOW QUERIES: the inserts (multi-row VALUES collapsed)"
first=$(head -n 1 <<<"$show" | cut -d'|' -f4)
last=$(tail -n 1 <<<"$show" | cut -d'|' -f4)
assert_ok "$PY" -c "import sys; sys.exit(0 if float('$first') >= float('$last') else 1)"
assert_ok test "$(wc -l <<<"$show")" -le 100

# The page, /stats.json, /metrics.
page=$(scrape "$URL/")
assert_contains "$page" "<h2>Top queries</h2>" "the page has the Top queries table"
assert_contains "$page" "SELECT abalance FROM pgbench_accounts WHERE aid = \$1" "the page lists the pgbench statement"
rows=$(grep -o '<table id="queries">.*</table>' <<<"$page" | sed 's|</table>.*||' | grep -o '<tr><td>' | wc -l)
assert_ok test "$rows" -le 10
assert_ok "$PY" -c 'import json,sys; json.loads(sys.stdin.read())' <<<"$(scrape "$URL/stats.json")"
metrics=$(scrape "$URL/metrics")
assert_match "$metrics" 'switchyard_queries_total\{protocol="postgres"\} [0-9]+' "/metrics still answers"
if command -v promtool >/dev/null; then
	assert_ok promtool check metrics <<<"$metrics"
fi

# Session pooling: simple Queries are counted too (a multi-statement
# Query is one call with its rows summed).
stop_proxy 10
write_config "$cfg" pool_mode=session pool_size=5 workers=1 user.app.password=app
start_proxy "$cfg"
URL=http://127.0.0.1:$STATS_PORT
for i in $(seq 1 30); do scrape "$URL/health" >/dev/null 2>&1 && break; sleep 0.1; done
: >"$w"
for i in $(seq 1 10); do echo "SELECT v FROM qs_t WHERE id = $i;"; done >>"$w"
echo "SELECT v FROM qs_t WHERE id = 1 \; SELECT v FROM qs_t WHERE id IN (1, 2, 3);" >>"$w"
PGPASSWORD=app timeout 60 psql -X -A -t -q -h 127.0.0.1 -p "$PROXY_PORT" -U app -d app -f "$w" >"$SY_TMP/session.out" 2>&1
sleep 1.5
json=$(scrape "$URL/queries.json")
check=$("$PY" - "$json" <<'PYEOF'
import json, sys
q = {e["query"]: e for e in json.loads(sys.argv[1])["queries"]}
a = q.get("SELECT v FROM qs_t WHERE id = ?")
b = q.get("SELECT v FROM qs_t WHERE id = ?; SELECT v FROM qs_t WHERE id IN (?)")
if not a or (a["calls"], a["rows"]) != (10, 10):
    print("single: %r (have %r)" % (a, sorted(q)))
elif not b or (b["calls"], b["rows"], b["errors"]) != (1, 4, 0):
    print("multi-statement: %r (have %r)" % (b, sorted(q)))
else:
    print("ok")
PYEOF
)
assert_eq ok "$check" "session pooling: simple Queries counted; a multi-statement Query is one entry, rows summed"

pg_direct -c "DROP TABLE IF EXISTS qs_t" >/dev/null
stop_proxy 10
