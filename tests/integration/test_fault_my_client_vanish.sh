#!/usr/bin/env bash
# MySQL clients that vanish cost nothing (transaction pooling, pool_size 4):
# clients reset (RST) mid-query (SELECT SLEEP(5)), mid-result (a
# 5-million-row result half read), mid-transaction (a row inserted, no
# COMMIT), right after the greeting, mid-authentication (half a
# HandshakeResponse) and mid-TLS-handshake (SSLRequest, half a ClientHello),
# 5 of each, while a mariadb client keeps working. Afterwards: no vanished
# client's statement still runs on a server, no transaction is left open
# (information_schema.innodb_trx), the rows inserted in the open
# transactions are not there, every pooled server connection is clean
# (@@in_transaction = 0 on each of them), the proxy's fds return to the
# baseline (pooled server connections from /metrics taken off), and new
# clients work.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

my_direct -e "CREATE TABLE IF NOT EXISTS fault_my_vanish (tag varchar(20)) ENGINE=InnoDB; TRUNCATE fault_my_vanish"
my_write_config "$SY_TMP/sy.ini" pool_mode=transaction pool_size=4 workers=2 \
	global="client_tls_mode = allow" global="client_tls_cert_file = $TLS_CERT" global="client_tls_key_file = $TLS_KEY"
start_proxy "$SY_TMP/sy.ini"
fds() { find "/proc/$PROXY_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
servers() {
	curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/metrics" |
		awk '/^switchyard_server_connections\{/ {n += $NF} END {print n + 0}'
}
client_fds() { echo $(($(fds) - $(servers))); }

assert_eq 1 "$(my_proxy -e 'SELECT 1')" "warm-up query"
base_fds=$(client_fds)
note "baseline: fds $(fds), of which $base_fds not server connections"

busy_out=$SY_TMP/busy.out
(for i in $(seq 1 30); do my_proxy -e "SELECT 'busy $i'" || echo "busy failed $i"; sleep 0.2; done >"$busy_out" 2>&1) &
busy_pid=$!

res=$(timeout 150 "$PY" "$HERE/my_fault_clients.py" vanish "$PROXY_PORT" 5)
note "$res"
assert_eq '{"mid-query": 5, "mid-result": 5, "mid-transaction": 5, "after-greeting": 5, "mid-auth": 5, "mid-tls-handshake": 5}' \
	"$(json_get "$res" "done")" "every vanishing client ran its case"
wait "$busy_pid" || true
assert_not_contains "$(cat "$busy_out")" "failed" "the other client was served throughout"
assert_eq 30 "$(grep -c '^busy ' "$busy_out")" "the other client got all 30 answers"
assert_ok proxy_alive

# Nothing left running on the server (SLEEP(5) ends by itself after 5 s at
# the latest; the 5-million-row results must be cut off, not run to the end).
t0=$(date +%s)
for i in $(seq 1 100); do
	running=$(my_monitor -e "SELECT COUNT(*) FROM information_schema.processlist WHERE user = 'app' AND command = 'Query'")
	[ "$running" = 0 ] && break
	sleep 0.2
done
note "server statements of vanished clients gone after $(($(date +%s) - t0)) s"
assert_eq 0 "$running" "no server connection is left running a vanished client's statement"
for i in $(seq 1 50); do
	trx=$(my_monitor -e "SELECT COUNT(*) FROM information_schema.innodb_trx")
	[ "$trx" = 0 ] && break
	sleep 0.2
done
assert_eq 0 "$trx" "no transaction left open on the server"
assert_eq 0 "$(my_direct -e 'SELECT COUNT(*) FROM fault_my_vanish')" "the rows of the vanished transactions were rolled back"
# Every pooled server connection is clean: 8 concurrent clients over pool_size 4.
pids=()
for i in $(seq 1 8); do
	(my_proxy -e "SELECT @@in_transaction, COUNT(*) FROM fault_my_vanish, (SELECT SLEEP(0.3)) s" >"$SY_TMP/clean.$i" 2>&1) &
	pids+=($!)
done
wait "${pids[@]}"
assert_eq "$(printf '0\t0\n%.0s' 1 2 3 4 5 6 7 8)" "$(cat "$SY_TMP"/clean.*)" "8 clients over the pooled server connections: no open transaction, no leftover row"

for i in $(seq 1 50); do
	now_fds=$(client_fds)
	[ "$now_fds" -le $((base_fds + 3)) ] && break
	sleep 0.2
done
note "fds after: $(fds), of which $now_fds not server connections (baseline $base_fds)"
[ "$now_fds" -le $((base_fds + 3)) ] && _ok "fds back to the baseline" || fail "fds $now_fds vs baseline $base_fds"
assert_eq 1 "$(my_proxy -e 'SELECT 1')" "a new client works afterwards"
assert_ok proxy_alive
