#!/usr/bin/env bash
# HTTPS on the stats port (stats_tls_cert_file / stats_tls_key_file with the
# fleet's test certificate): curl --cacert fetches /health and /metrics over
# https; plain http to the same port gets no answer; stats_auth is still
# asked for; a client trusting another CA refuses the certificate.
# stats_tls_ca_file (added by a reload) asks clients for a certificate signed
# by that CA. A reload with a key that does not match is refused and HTTPS
# keeps working; a reload without the keys turns plain HTTP back on, and a
# reload turning TLS on refuses the next request of a plain keep-alive
# connection opened before it. `-t` reports a lone cert with file:line.
. "$(dirname "$0")/lib.sh"
ASSERT_CONTINUE=1

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" workers=2 "global.stats_tls_cert_file=$TLS_CERT" "global.stats_tls_key_file=$TLS_KEY" \
	global.stats_auth=admin:s3cret global.admin_users=admin user.app.password=app user.admin.password=adminpw
start_proxy "$cfg"
SPORT=$STATS_PORT # write_config below picks new ports
HTTPS=https://127.0.0.1:$SPORT
HTTP=http://127.0.0.1:$SPORT
sc() { curl -s --max-time 10 --cacert "$TLS_CA" "$@"; }
code() { curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$@" || true; }

for i in $(seq 1 100); do [ "$(sc "$HTTPS/health" 2>/dev/null)" = ok ] && break; sleep 0.1; done
assert_eq "ok" "$(sc "$HTTPS/health")" "/health over https with the test CA"
assert_eq "200" "$(code --cacert "$TLS_CA" "$HTTPS/health")" "/health over https is 200"
assert_eq "401" "$(code --cacert "$TLS_CA" "$HTTPS/metrics")" "/metrics over https without credentials: 401 (stats_auth)"
assert_eq "401" "$(code --cacert "$TLS_CA" -u admin:wrong "$HTTPS/metrics")" "/metrics over https with a wrong password: 401"
m=$(sc -u admin:s3cret "$HTTPS/metrics")
assert_contains "$m" "switchyard_info{" "/metrics over https with credentials"
assert_contains "$m" 'switchyard_up 1' "/metrics says up"
j=$(sc -u admin:s3cret "$HTTPS/stats.json")
rc=0
"$PY" -c 'import json,sys; json.loads(sys.stdin.read())' <<<"$j" || rc=$?
assert_eq 0 "$rc" "/stats.json over https parses"
v=$(curl -sv --max-time 10 --cacert "$TLS_CA" -o /dev/null "$HTTPS/health" 2>&1 || true)
assert_match "$v" "SSL connection using TLSv1\.[23]" "curl reports a TLS 1.2+ connection"
assert_contains "$(log_since_mark)" "stats port on https://127.0.0.1:$SPORT" "the log says https"
out=$(PGUSER=admin PGPASSWORD=adminpw PGDATABASE=switchyard pg_proxy -c "SHOW CONFIG" 2>&1) || true
assert_contains "$out" "switchyard|stats_tls_cert_file|$TLS_CERT" "admin SHOW CONFIG lists stats_tls_cert_file"

rc=0
out=$(curl -sS --max-time 10 "$HTTP/health" 2>&1) || rc=$?
assert_ne 0 "$rc" "plain http to the TLS port fails (curl: $out)"
assert_not_contains "$out" "ok" "plain http gets no answer"
rc=0
curl -s --max-time 10 -o /dev/null "$HTTPS/health" || rc=$?
assert_ne 0 "$rc" "a client that does not trust the test CA refuses the certificate"
assert_ok proxy_alive

# stats_tls_ca_file by reload: a client certificate signed by the CA is needed.
sed -i "/^\[switchyard\]/a stats_tls_ca_file = $TLS_CA" "$cfg"
reload_proxy
wait_log_since_mark "reload done|reload refused" 15 || fail "the reload did not finish"
assert_contains "$(log_since_mark)" "reload done" "the reload adding stats_tls_ca_file is applied"
rc=0
curl -s --max-time 10 --cacert "$TLS_CA" -o /dev/null "$HTTPS/health" || rc=$?
assert_ne 0 "$rc" "stats_tls_ca_file: a client without a certificate is refused"
assert_eq "200" "$(code --cacert "$TLS_CA" --cert "$TLS_CLIENT_CERT" --key "$TLS_CLIENT_KEY" -u admin:s3cret "$HTTPS/metrics")" \
	"stats_tls_ca_file: a client with the fleet's client certificate gets /metrics"
assert_eq "401" "$(code --cacert "$TLS_CA" --cert "$TLS_CLIENT_CERT" --key "$TLS_CLIENT_KEY" "$HTTPS/metrics")" \
	"stats_tls_ca_file: stats_auth is still asked for"
sed -i '/^stats_tls_ca_file/d' "$cfg"

# A key that does not match the certificate (and no CA): the reload is
# refused, HTTPS stays as it was.
sed -i "s|^stats_tls_key_file = .*|stats_tls_key_file = $TLS_SERVER_KEY|" "$cfg"
reload_proxy
wait_log_since_mark "reload done|reload refused" 15 || fail "the reload did not finish"
assert_match "$(log_since_mark)" "reload refused: .*stats_tls_key_file" "a mismatched stats key refuses the reload"
# (the configuration in use still has stats_tls_ca_file: show the client certificate)
ccert=(--cert "$TLS_CLIENT_CERT" --key "$TLS_CLIENT_KEY")
assert_eq "ok" "$(sc "${ccert[@]}" "$HTTPS/health")" "https still served after the refused reload"
m=$(sc "${ccert[@]}" -u admin:s3cret "$HTTPS/metrics")
assert_eq "1" "$(awk '$1 == "switchyard_config_reloads_total{result=\"failed\"}" { print $2 }' <<<"$m")" \
	"the refused reload is counted"

# -t reports a lone certificate with the file and line.
bad=$SY_TMP/lone-cert.ini
write_config "$bad" "global.stats_tls_cert_file=$TLS_CERT"
rc=0
out=$(timeout 10 "$BIN" -t -c "$bad" 2>&1) || rc=$?
assert_ne 0 "$rc" "-t: a lone stats_tls_cert_file is an error"
line=$(grep -n '^stats_tls_cert_file' "$bad" | cut -d: -f1)
assert_contains "$out" "$bad:$line: " "-t names the file and line ($out)"
assert_contains "$out" "stats_tls_cert_file and stats_tls_key_file go together" "-t says why"

# Without the keys (reload): plain http again.
sed -i '/^stats_tls_/d' "$cfg"
reload_proxy
wait_log_since_mark "reload done|reload refused" 15 || fail "the reload did not finish"
assert_contains "$(log_since_mark)" "reload done" "the reload without stats_tls_* is applied"
assert_eq "ok" "$(curl -s --max-time 10 "$HTTP/health")" "plain http after TLS was turned off by a reload"

# A plain keep-alive connection opened before a reload turns TLS on: its
# next request is refused (the port serves HTTPS only).
cat >"$SY_TMP/keepalive.py" <<'EOF'
import http.client, os, signal, sys, time, base64
port, pid, cfg, cert, key, log = sys.argv[1:7]
auth = {"Authorization": "Basic " + base64.b64encode(b"admin:s3cret").decode()}
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
c.request("GET", "/metrics", headers=auth)
r = c.getresponse(); r.read()
print("before", r.status)
with open(cfg) as f:
    text = f.read()
text = text.replace("[switchyard]\n", "[switchyard]\nstats_tls_cert_file = %s\nstats_tls_key_file = %s\n" % (cert, key), 1)
with open(cfg, "w") as f:
    f.write(text)
n0 = open(log).read().count("reload done")
os.kill(int(pid), signal.SIGHUP)
for _ in range(150):
    if open(log).read().count("reload done") > n0:
        break
    time.sleep(0.1)
c.request("GET", "/metrics", headers=auth)
r = c.getresponse(); body = r.read()
print("after", r.status)
EOF
out=$("$PY" "$SY_TMP/keepalive.py" "$SPORT" "$PROXY_PID" "$cfg" "$TLS_CERT" "$TLS_KEY" "$PROXY_LOG" 2>&1) || true
assert_contains "$out" "before 200" "a plain keep-alive connection is served while TLS is off"
assert_contains "$out" "after 403" "its next request after TLS is turned on is refused ($out)"
assert_eq "ok" "$(sc "$HTTPS/health")" "https again after the reload"

stop_proxy 10
assert_eq 0 "$PROXY_EXIT_CODE" "the proxy exits cleanly"
