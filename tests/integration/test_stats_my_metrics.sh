#!/usr/bin/env bash
# MySQL figures on the stats port: a sysbench oltp_point_select run (4
# threads, 5 s) through the MySQL listener; switchyard_queries_total and
# _transactions_total{protocol="mysql"} grow by at least sysbench's counts,
# the mysql client connections are seen during the run, the query and wait
# histograms count, the postgres series stay 0 (no PostgreSQL client), pool
# series carry protocol="mysql", a wrong password is one mysql login
# failure (class 28), /stats.json's "protocols" agree with /metrics, the
# page has the protocols table, and `promtool check metrics` passes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"
ASSERT_CONTINUE=1

my_write_config "$SY_TMP/sy.ini" pool_mode=transaction pool_size=8 workers=2
start_proxy "$SY_TMP/sy.ini"
URL=http://127.0.0.1:$STATS_PORT
scrape() { curl -s -f --max-time 10 "$@"; }
metric() { awk -v k="$2" '$1 == k { print $2 }' <<<"$1"; }
M='{protocol="mysql"}'
P='{protocol="postgres"}'
for i in $(seq 1 100); do [ "$(scrape "$URL/health" 2>/dev/null)" = ok ] && break; sleep 0.1; done

SB=(sysbench --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$PROXY_PORT" --mysql-user=app
	--mysql-password=app --mysql-db=shop --tables=1 --table-size=1000)
"${SB[@]}" oltp_point_select cleanup >/dev/null 2>&1 || true
out=$(timeout 120 "${SB[@]}" oltp_point_select prepare 2>&1) || fail "sysbench prepare failed: $out"

sleep 1.2 # one publish interval
m0=$(scrape "$URL/metrics")
q0=$(metric "$m0" "switchyard_queries_total$M")
t0=$(metric "$m0" "switchyard_transactions_total$M")
[ -n "$q0" ] && [ -n "$t0" ] && _ok "mysql series present before the run (queries $q0, transactions $t0)" ||
	fail "no mysql series in /metrics"

timeout 120 "${SB[@]}" --threads=4 --time=5 oltp_point_select run >"$SY_TMP/sysbench.out" 2>&1 &
sbpid=$!
# Mid-run: the 4 sysbench connections, polled with a generous deadline.
seen=0 q1=$q0
for i in $(seq 1 40); do
	sleep 0.25
	m1=$(scrape "$URL/metrics") || continue
	n=0
	for st in active idle waiting; do
		v=$(metric "$m1" "switchyard_client_connections{protocol=\"mysql\",state=\"$st\"}")
		n=$((n + ${v:-0}))
	done
	q1=$(metric "$m1" "switchyard_queries_total$M")
	if [ "$n" -ge 4 ] && [ "${q1:-0}" -gt "$q0" ]; then
		seen=$n
		break
	fi
	kill -0 "$sbpid" 2>/dev/null || break
done
[ "$seen" -ge 4 ] && _ok "4 sysbench clients seen as mysql active+idle+waiting ($seen), queries growing ($q0 -> $q1)" ||
	fail "mysql clients during the run: $seen, queries $q0 -> $q1"
rc=0
wait "$sbpid" || rc=$?
assert_eq 0 "$rc" "sysbench run exits 0 ($(tail -n 3 "$SY_TMP/sysbench.out"))"
sbq=$(awk '$1 == "queries:" { print $2 }' "$SY_TMP/sysbench.out")
sbt=$(awk '$1 == "transactions:" { print $2 }' "$SY_TMP/sysbench.out")
note "sysbench: ${sbq:-?} queries, ${sbt:-?} transactions"
[ "${sbt:-0}" -gt 100 ] || fail "sysbench ran too few transactions: '${sbt}'"

# After the run: every worker's snapshot includes its end (poll, 1 s publish).
for i in $(seq 1 40); do
	sleep 0.25
	m3=$(scrape "$URL/metrics") || continue
	q3=$(metric "$m3" "switchyard_queries_total$M")
	t3=$(metric "$m3" "switchyard_transactions_total$M")
	[ $((q3 - q0)) -ge "${sbq:-0}" ] && [ $((t3 - t0)) -ge "${sbt:-0}" ] && break
done
[ $((q3 - q0)) -ge "${sbq:-1}" ] && _ok "mysql queries_total grew by $((q3 - q0)) >= sysbench's $sbq" ||
	fail "mysql queries_total grew by $((q3 - q0)), sysbench counted $sbq"
[ $((t3 - t0)) -ge "${sbt:-1}" ] && _ok "mysql transactions_total grew by $((t3 - t0)) >= sysbench's $sbt" ||
	fail "mysql transactions_total grew by $((t3 - t0)), sysbench counted $sbt"
hc=$(metric "$m3" "switchyard_query_duration_seconds_count$M")
[ "${hc:-0}" -ge "${sbq:-1}" ] && _ok "mysql query duration histogram counted $hc commands" || fail "mysql query duration count $hc"
assert_eq "$hc" "$(metric "$m3" 'switchyard_query_duration_seconds_bucket{protocol="mysql",le="+Inf"}')" \
	"the mysql +Inf bucket equals the histogram count"
wc=$(metric "$m3" "switchyard_wait_duration_seconds_count$M")
[ "${wc:-0}" -gt 0 ] && _ok "mysql wait histogram counted $wc waits" || fail "mysql wait count: $wc"
bi=$(metric "$m3" "switchyard_client_received_bytes_total$M")
bo=$(metric "$m3" "switchyard_client_sent_bytes_total$M")
[ "${bi:-0}" -gt 10000 ] && [ "${bo:-0}" -gt 10000 ] && _ok "mysql bytes counted (in $bi, out $bo)" || fail "mysql bytes: in $bi out $bo"
acc=$(metric "$m3" "switchyard_clients_accepted_total$M")
[ "${acc:-0}" -ge 5 ] && _ok "mysql clients accepted: $acc" || fail "mysql clients accepted: $acc"
assert_eq "0" "$(metric "$m3" "switchyard_queries_total$P")" "postgres queries_total stays 0 (no PostgreSQL client)"
assert_eq "0" "$(metric "$m3" "switchyard_clients_accepted_total$P")" "postgres clients accepted stays 0"
assert_eq "0" "$(metric "$m3" "switchyard_query_duration_seconds_count$P")" "postgres histogram stays empty"
assert_match "$m3" 'switchyard_server_connections\{cluster="shop",node="127\.0\.0\.1:'"$MY_PRIMARY_PORT"'",role="primary",database="[^"]*",user="app",protocol="mysql",state="idle"\} [0-9]+' \
	"pool series carry protocol=\"mysql\""
sc=$(metric "$m3" "switchyard_server_connects_total$M")
[ "${sc:-0}" -ge 1 ] && _ok "mysql server connects: $sc" || fail "mysql server connects: $sc"
assert_eq "0" "$(metric "$m3" "switchyard_server_connects_total$P")" "no postgres server connects"

# A wrong password: exactly one mysql login failure, one class-28 error.
rc=0
MYPASSWORD=wrong my_proxy -e 'SELECT 1' >/dev/null 2>&1 || rc=$?
assert_ne 0 "$rc" "a wrong password is refused"
for i in $(seq 1 40); do
	sleep 0.25
	m4=$(scrape "$URL/metrics") || continue
	[ "$(metric "$m4" "switchyard_login_failures_total$M")" = 1 ] && break
done
sleep 1.2
m4=$(scrape "$URL/metrics")
assert_eq "1" "$(metric "$m4" "switchyard_login_failures_total$M")" "one mysql login failure (counted once)"
assert_eq "1" "$(metric "$m4" 'switchyard_errors_total{protocol="mysql",class="28",name="invalid_authorization"}')" \
	"the refused login is one mysql class 28 error"
assert_eq "0" "$(metric "$m4" "switchyard_login_failures_total$P")" "no postgres login failure"

if command -v promtool >/dev/null; then
	rc=0
	pout=$(promtool check metrics <<<"$m4" 2>&1) || rc=$?
	assert_eq 0 "$rc" "promtool check metrics passes ($pout)"
else
	fail "promtool is missing (Debian package prometheus)"
fi

# /stats.json agrees with /metrics (idle now: both read the same snapshots).
m5=$(scrape "$URL/metrics")
j5=$(scrape "$URL/stats.json")
rc=0
"$PY" -c 'import json,sys; json.loads(sys.stdin.read())' <<<"$j5" || rc=$?
assert_eq 0 "$rc" "/stats.json parses"
jv() { "$PY" -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval("d"+sys.argv[1]))' "$1" <<<"$j5"; }
agree() { # METRIC PYTHON-PATH (under protocols.PROTO)
	local proto
	for proto in mysql postgres; do
		assert_eq "$(metric "$m5" "switchyard_$1{protocol=\"$proto\"}")" "$(jv "['protocols']['$proto']$2")" \
			"$proto $1 agrees"
	done
}
agree queries_total "['queries_total']"
agree transactions_total "['transactions_total']"
agree clients_accepted_total "['clients']['accepted_total']"
agree login_failures_total "['clients']['login_failures_total']"
agree client_received_bytes_total "['client_received_bytes_total']"
agree server_connects_total "['server_connects_total']"
assert_eq "$(metric "$m5" "switchyard_query_duration_seconds_count$M")" \
	"$(jv "['protocols']['mysql']['query_duration_seconds']['count']")" "mysql histogram count agrees"
assert_eq "$(metric "$m5" 'switchyard_client_connections{protocol="mysql",state="idle"}')" \
	"$(jv "['protocols']['mysql']['clients']['idle']")" "mysql idle clients agree"
assert_eq "$(($(metric "$m5" "switchyard_queries_total$M") + $(metric "$m5" "switchyard_queries_total$P")))" \
	"$(jv "['queries_total']")" "top-level queries_total is the sum of the protocols"
assert_eq "mysql" "$(jv "['pools'][0]['protocol']")" "JSON pools carry the protocol"

page=$(scrape "$URL/")
assert_contains "$page" '<table id="protocols">' "the page has the protocols table"
assert_contains "$page" "<td>mysql</td>" "the page lists mysql"

"${SB[@]}" oltp_point_select cleanup >/dev/null 2>&1 || true
stop_proxy 10
assert_eq 0 "$PROXY_EXIT_CODE" "the proxy exits cleanly"
