#!/usr/bin/env bash
# TLS on both sides.
#   client_tls_mode=require with the fleet's test certificate: psql with
#   sslmode=require / verify-full gets an SSL connection (\conninfo says so),
#   sslmode=disable is refused.
#   server_tls_mode=require / verify-full: the server sees its connection from
#   the proxy encrypted (pg_stat_ssl.ssl = t for the backend serving us);
#   disable: not encrypted; verify-full against a foreign CA: refused.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1 # the checks below are independent: report every one

conn() { # EXTRA-CONNINFO SQL-OR-META...
	local extra=$1
	shift
	PGPASSWORD=app PGCONNECT_TIMEOUT=5 timeout 30 psql -X -A -t -q -w -v ON_ERROR_STOP=1 \
		"host=127.0.0.1 port=$PROXY_PORT user=app dbname=app $extra" "$@" 2>&1
}

# ---- client side
cfg=$SY_TMP/client-tls.ini
write_config "$cfg" global.client_tls_mode=require "global.client_tls_cert_file=$TLS_CERT" \
	"global.client_tls_key_file=$TLS_KEY"
start_proxy "$cfg"

out=$(conn "sslmode=require" -c '\conninfo') || true
assert_contains "$out" "SSL connection (protocol: TLS" "sslmode=require: \\conninfo reports an SSL connection"
out=$(conn "sslmode=verify-full sslrootcert=$TLS_CA" -c '\conninfo' -c 'SELECT 6 * 7') || true
assert_contains "$out" "SSL connection" "sslmode=verify-full with the test CA: SSL connection"
assert_match "$out" $'(^|\n)42(\n|$)' "sslmode=verify-full: the query runs"
out=$(conn "sslmode=require" -c 'SELECT length(repeat($$x$$, 3000000))') || true
assert_eq 3000000 "$out" "a 3 MB row through client TLS"
rc=0
out=$(conn "sslmode=disable" -c 'SELECT 1') || rc=$?
assert_ne 0 "$rc" "sslmode=disable is refused when client_tls_mode=require"
# A client certificate from another CA is not needed (no client cert auth), but
# a client that does not trust the proxy's CA must fail verification.
other=$SY_TMP/other-ca
mkdir -p "$other"
openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout "$other/ca.key" \
	-out "$other/ca.crt" -days 2 -subj "/CN=Some Other CA" 2>/dev/null
rc=0
out=$(conn "sslmode=verify-ca sslrootcert=$other/ca.crt" -c 'SELECT 1') || rc=$?
assert_ne 0 "$rc" "a client trusting another CA refuses the proxy's certificate"
assert_contains "$out" "certificate verify failed" "libpq reports the verification failure"
stop_proxy

# ---- server side
backend_ssl() { pg_proxy -c 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()' 2>&1 || true; }
# The health thread's monitor connections follow server_tls_mode too:
# health_ssl SINCE prints the ssl flags of the switchyard-health backends
# started since SINCE (the proxy's start), once there is one.
health_ssl() {
	local out="" i
	for i in $(seq 1 30); do
		out=$(pg_monitor -c "SELECT string_agg(DISTINCT s.ssl::text, ',') FROM pg_stat_ssl s
			JOIN pg_stat_activity a USING (pid)
			WHERE a.application_name = 'switchyard-health' AND a.backend_start >= '$1'" 2>&1) || true
		[ -n "$out" ] && break
		sleep 0.2
	done
	echo "$out"
}
since() { pg_monitor -c "SELECT now()" 2>&1; }

cfg=$SY_TMP/server-tls-require.ini
write_config "$cfg" global.server_tls_mode=require
t0=$(since)
start_proxy "$cfg"
assert_eq true "$(health_ssl "$t0")" "server_tls_mode=require: the health thread's monitor connection uses SSL"
assert_eq t "$(backend_ssl)" "server_tls_mode=require: the server's backend for our session uses SSL"
pid=$(pg_proxy -c 'SELECT pg_backend_pid()' 2>&1) || true
[[ "$pid" =~ ^[0-9]+$ ]] || pid=0
info=$(pg_monitor -c "SELECT s.ssl, s.version, a.usename FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE pid = $pid" 2>&1) || true
assert_match "$info" '^t\|TLSv1\.[23]\|app$' "the server sees the proxy's connection as TLS (pg_stat_ssl: $info)"
stop_proxy

cfg=$SY_TMP/server-tls-verify.ini
write_config "$cfg" global.server_tls_mode=verify-full "global.server_tls_ca_file=$TLS_CA"
t0=$(since)
start_proxy "$cfg"
assert_eq true "$(health_ssl "$t0")" "server_tls_mode=verify-full: the monitor connection uses SSL"
assert_eq t "$(backend_ssl)" "server_tls_mode=verify-full with the fleet's CA: SSL"
stop_proxy

cfg=$SY_TMP/server-tls-disable.ini
write_config "$cfg" global.server_tls_mode=disable
t0=$(since)
start_proxy "$cfg"
assert_eq false "$(health_ssl "$t0")" "server_tls_mode=disable: the monitor connection is plain"
assert_eq f "$(backend_ssl)" "server_tls_mode=disable: the server's backend is not using SSL"
stop_proxy

cfg=$SY_TMP/server-tls-badca.ini
write_config "$cfg" global.server_tls_mode=verify-full "global.server_tls_ca_file=$other/ca.crt" \
	cluster.server_connect_timeout=3s cluster.query_wait_timeout=5s
start_proxy "$cfg"
rc=0
out=$(pg_proxy -c 'SELECT 1' 2>&1) || rc=$?
assert_ne 0 "$rc" "server_tls_mode=verify-full against a foreign CA: the client gets an error"
for _ in $(seq 1 30); do
	j=$(curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/stats.json" || true)
	case "$j" in *"certificate verify failed"*) break ;; esac
	sleep 0.2
done
assert_contains "$j" "certificate verify failed" "the health probe refuses the server's certificate too (its last_error on /stats.json)"
assert_ok proxy_alive
