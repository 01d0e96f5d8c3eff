#!/usr/bin/env bash
# The stats port: /metrics during a pgbench run (counters grow, transactions
# total >= pgbench's count, `promtool check metrics` passes), /stats.json
# parses and agrees with /metrics, the HTML page's structure, /health, and
# stats_auth (HTTP basic auth) applied by a reload.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=20 workers=2
start_proxy "$cfg"
URL=http://127.0.0.1:$STATS_PORT

scrape() { curl -s -f --max-time 5 "$@"; }
# metric VALUE of an exact series line "NAME{LABELS}" (or NAME) in a scrape.
metric() { awk -v k="$2" '$1 == k { print $2 }' <<<"$1"; }

for i in $(seq 1 30); do scrape "$URL/health" >/dev/null 2>&1 && break; sleep 0.1; done
assert_eq "ok" "$(scrape "$URL/health")" "/health answers ok"
assert_eq "200" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" "/health is 200"
assert_eq "404" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/nope")" "an unknown path is 404"
assert_match "$(curl -s -D - -o /dev/null "$URL/metrics")" "Content-Type: text/plain; version=0.0.4" "/metrics has the 0.0.4 content type"

PGBENCH=$PG_BIN/pgbench
bench() { PGPASSWORD=app timeout 90 "$PGBENCH" -h 127.0.0.1 -p "$PROXY_PORT" -U app "$@" app; }
rc=0
out=$(bench -i -s 1 -q 2>&1) || rc=$?
assert_eq 0 "$rc" "pgbench -i through the proxy (output: $(tail -n 3 <<<"$out"))"

m0=$(scrape "$URL/metrics")
q0=$(metric "$m0" 'switchyard_queries_total{protocol="postgres"}')
t0=$(metric "$m0" 'switchyard_transactions_total{protocol="postgres"}')
bench -c 8 -j 2 -T 6 >"$SY_TMP/pgbench.out" 2>&1 &
bpid=$!
sleep 2.5
m1=$(scrape "$URL/metrics")
sleep 2
m2=$(scrape "$URL/metrics")
rc=0
wait "$bpid" || rc=$?
assert_eq 0 "$rc" "pgbench run exits 0 ($(tail -n 3 "$SY_TMP/pgbench.out"))"
n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$SY_TMP/pgbench.out")
[ -n "$n" ] && [ "$n" -gt 100 ] || fail "pgbench processed too few transactions: '$n'"
q1=$(metric "$m1" 'switchyard_queries_total{protocol="postgres"}')
q2=$(metric "$m2" 'switchyard_queries_total{protocol="postgres"}')
[ "$q1" -gt "$q0" ] && [ "$q2" -gt "$q1" ] && _ok "queries_total grows during the run ($q0 -> $q1 -> $q2)" ||
	fail "queries_total did not grow: $q0 -> $q1 -> $q2"
act=$(metric "$m1" 'switchyard_client_connections{protocol="postgres",state="active"}')
idl=$(metric "$m1" 'switchyard_client_connections{protocol="postgres",state="idle"}')
[ $((act + idl)) -ge 8 ] && _ok "8 pgbench clients seen as active+idle ($act+$idl)" || fail "clients active+idle during the run: $act+$idl"

sleep 1.5 # one publish interval: every worker's snapshot includes the end of the run
m3=$(scrape "$URL/metrics")
t3=$(metric "$m3" 'switchyard_transactions_total{protocol="postgres"}')
[ $((t3 - t0)) -ge "$n" ] && _ok "transactions_total grew by $((t3 - t0)) >= pgbench's $n" ||
	fail "transactions_total grew by $((t3 - t0)), pgbench processed $n"
hc=$(metric "$m3" 'switchyard_query_duration_seconds_count{protocol="postgres"}')
[ "$hc" -gt "$n" ] && _ok "query duration histogram counted $hc requests" || fail "query duration count $hc"
inf=$(metric "$m3" 'switchyard_query_duration_seconds_bucket{protocol="postgres",le="+Inf"}')
assert_eq "$hc" "$inf" "the +Inf bucket equals the histogram count"
bi=$(metric "$m3" 'switchyard_client_received_bytes_total{protocol="postgres"}')
[ "$bi" -gt 100000 ] && _ok "bytes received counted ($bi)" || fail "bytes received: $bi"
assert_match "$m3" 'switchyard_server_connections\{cluster="app",node="127\.0\.0\.1:'"$PG_PRIMARY_PORT"'",role="primary",database="app",user="app",protocol="postgres",state="idle"\} [0-9]+' "pool series carry cluster/node/role/database/user labels"
assert_match "$m3" 'switchyard_pool_size\{[^}]*\} 20' "pool size 20 (sum of the workers' shares)"

if command -v promtool >/dev/null; then
	rc=0
	pout=$(promtool check metrics <<<"$m3" 2>&1) || rc=$?
	assert_eq 0 "$rc" "promtool check metrics passes ($pout)"
else
	note "promtool not installed (Debian package prometheus): lint skipped"
	fail "promtool is missing"
fi

# /stats.json agrees with /metrics (both read the same published snapshots; idle now).
sleep 1.2
m4=$(scrape "$URL/metrics")
j4=$(scrape "$URL/stats.json")
rc=0
"$PY" -c 'import json,sys; json.loads(sys.stdin.read())' <<<"$j4" || rc=$?
assert_eq 0 "$rc" "/stats.json parses"
jv() { "$PY" -c 'import json,sys; d=json.loads(sys.stdin.read()); v=eval("d"+sys.argv[1]); print(v)' "$1" <<<"$j4"; }
assert_eq "$(metric "$m4" 'switchyard_queries_total{protocol="postgres"}')" "$(jv '["queries_total"]')" "queries_total agrees"
assert_eq "$(metric "$m4" 'switchyard_transactions_total{protocol="postgres"}')" "$(jv '["transactions_total"]')" "transactions_total agrees"
assert_eq "$(metric "$m4" 'switchyard_clients_accepted_total{protocol="postgres"}')" "$(jv '["clients"]["accepted_total"]')" "clients accepted agrees"
assert_eq "$(metric "$m4" 'switchyard_query_duration_seconds_count{protocol="postgres"}')" "$(jv '["query_duration_seconds"]["count"]')" "histogram count agrees"
assert_eq "primary" "$(jv '["nodes"][0]["role"]')" "JSON lists the node with its role"
assert_eq "20" "$(jv '["pools"][0]["size"]')" "JSON pool size"

# The page: self-contained HTML with the node table.
page=$(scrape "$URL/")
assert_contains "$page" "<!DOCTYPE html>" "the page is HTML"
assert_contains "$page" '<meta http-equiv="refresh"' "the page refreshes itself"
assert_contains "$page" '<table id="nodes">' "the page has the nodes table"
assert_contains "$page" "127.0.0.1:$PG_PRIMARY_PORT" "the page lists the primary"
assert_contains "$page" '<td class="primary">primary</td>' "the page shows the node's role"
assert_contains "$page" '<table id="pools">' "the page has the pools table"
assert_contains "$page" '<table id="events">' "the page has the events table"
assert_contains "$page" "</html>" "the page is complete"
assert_not_contains "$page" "<script src" "no external script"
assert_not_contains "$page" "<link" "no external stylesheet"
assert_not_contains "$page" "http://" "no absolute URL"
if command -v chromium >/dev/null; then
	dom=$(timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
		--dump-dom "$URL/" 2>/dev/null || true)
	assert_contains "$dom" "primary" "headless chromium renders the node table"
	timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
		--window-size=1280,900 --screenshot="$SY_TMP/stats-page.png" "$URL/" >/dev/null 2>&1 || true
	[ -s "$SY_TMP/stats-page.png" ] && note "screenshot: $SY_TMP/stats-page.png" ||
		fail "headless chromium saved no screenshot of the page"
else
	fail "chromium is missing (Debian package chromium, installed by make deps)"
fi

# stats_auth by reload: every path but /health asks for it.
echo "stats_auth = admin:s3cret" >"$SY_TMP/auth.part"
sed -i "/^\[switchyard\]/r $SY_TMP/auth.part" "$cfg"
reload_proxy
wait_log_since_mark "reload done" 10 || fail "the reload was not applied"
assert_eq "401" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")" "/metrics without credentials: 401"
assert_match "$(curl -s -D - -o /dev/null "$URL/")" "WWW-Authenticate: Basic" "401 asks for basic auth"
assert_eq "401" "$(curl -s -o /dev/null -w '%{http_code}' -u admin:wrong "$URL/stats.json")" "wrong password: 401"
assert_eq "200" "$(curl -s -o /dev/null -w '%{http_code}' -u admin:s3cret "$URL/stats.json")" "right password: 200"
assert_eq "200" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" "/health needs no credentials"
sleep 0.2
m5=$(curl -s -u admin:s3cret "$URL/metrics")
assert_eq "1" "$(metric "$m5" 'switchyard_config_reloads_total{result="ok"}')" "the reload is counted"
assert_contains "$(curl -s -u admin:s3cret "$URL/")" "reload done" "the page lists the reload event"

# /health turns 503 while draining.
PGPASSWORD=app timeout 20 psql -X -h 127.0.0.1 -p "$PROXY_PORT" -U app -d app -c "select pg_sleep(4)" >/dev/null 2>&1 &
hold=$!
# Wait until the holding session is in its query (a loaded machine may take a while to log it in).
for i in $(seq 1 100); do
	[ "$(metric "$(curl -s -u admin:s3cret "$URL/metrics")" 'switchyard_client_connections{protocol="postgres",state="active"}')" = 1 ] && break
	sleep 0.1
done
kill -TERM "$PROXY_PID"
sleep 0.3
code=$(curl -s -o "$SY_TMP/health.txt" -w '%{http_code}' "$URL/health" || true)
assert_eq "503" "$code" "/health is 503 while shutting down ($(cat "$SY_TMP/health.txt" 2>/dev/null))"
wait "$hold" || true
stop_proxy 10
assert_eq 0 "$PROXY_EXIT_CODE" "the proxy exits cleanly"

# stats_listen may be a unix socket path.
write_config "$cfg" port="$PROXY_PORT" pool_mode=transaction workers=1 global.stats_listen="$SY_TMP/stats.sock"
start_proxy "$cfg"
for i in $(seq 1 30); do [ -S "$SY_TMP/stats.sock" ] && break; sleep 0.1; done
assert_eq "ok" "$(curl -s --max-time 5 --unix-socket "$SY_TMP/stats.sock" http://localhost/health)" "/health on a unix socket"
assert_contains "$(curl -s --max-time 5 --unix-socket "$SY_TMP/stats.sock" http://localhost/metrics)" "switchyard_info{" "/metrics on a unix socket"
stop_proxy 10
[ -e "$SY_TMP/stats.sock" ] && fail "the stats socket file is left behind" || _ok "the stats socket file is removed at exit"
