#!/usr/bin/env bash
# test_my_auth_tls.sh — MySQL authentication and TLS at the proxy:
#   - TLS from the client (SSLRequest, client_tls_*), TLS to the server
#     (server_tls_mode = require);
#   - a "*HEX" mysql_native_password hash as the user's secret: the proxy
#     checks the client and logs in to the server with SHA1(password)
#     recovered from the client's answer;
#   - caching_sha2_password from the client (fast path, over TLS and not),
#     and an AuthSwitchRequest when the client starts with another plugin;
#   - wrong passwords refused with 1045 in each case.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

# The health thread's monitor logs in as a user that MariaDB lets in only
# over TLS: with server_tls_mode = require its probes must use TLS too.
montls=montls_$$
my_monitor -e "CREATE USER '$montls'@'%' IDENTIFIED BY 'montls' REQUIRE SSL; GRANT ALL ON *.* TO '$montls'@'%'"
on_exit "my_monitor -e \"DROP USER '$montls'@'%'\""
hash=$(my_monitor -e "SELECT PASSWORD('app')")
assert_match "$hash" '^\*[0-9A-F]{40}$' "native hash of the password"
tls=$(dirname "$TLS_CA")
my_write_config "$SY_TMP/sy.ini" pool_mode=transaction pool_size=2 workers=1 app_password="$hash" \
	global="client_tls_mode = allow" global="client_tls_cert_file = $tls/proxy.crt" \
	global="client_tls_key_file = $tls/proxy.key" global="server_tls_mode = require" \
	global="server_tls_ca_file = $TLS_CA" \
	raw="[user.sha]
password = app
server_user = app
auth_type = caching_sha2_password"
sed -i "s/^monitor_user = monitor\$/monitor_user = $montls/; s/^monitor_password = monitor\$/monitor_password = montls/" "$SY_TMP/sy.ini"
grep -q "^monitor_user = $montls" "$SY_TMP/sy.ini" || fail "the config names the TLS-only monitor"
start_proxy "$SY_TMP/sy.ini"
n=0
for _ in $(seq 1 30); do
	n=$(my_monitor -e "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '$montls'")
	[ "$n" -ge 1 ] && break
	sleep 0.2
done
assert_ne 0 "$n" "the health probe logged in as a REQUIRE SSL user: it uses TLS"
assert_not_contains "$(cat "$PROXY_LOG")" "login refused" "no probe login was refused"

m() { timeout 30 mariadb --no-defaults -h 127.0.0.1 -P "$PROXY_PORT" -N -B "$@" shop; }
assert_eq "ok" "$(m --ssl --ssl-verify-server-cert=0 -uapp -papp -e "SELECT 'ok'")" "TLS client, hashed secret"
out=$(m --ssl --ssl-verify-server-cert=0 -uapp -papp -e "SHOW STATUS LIKE 'Ssl_cipher'")
assert_match "$out" "Ssl_cipher	.+" "the server connection uses TLS"
assert_eq "ok" "$(m --skip-ssl -uapp -papp -e "SELECT 'ok'")" "plain client, hashed secret"
out=$(m --skip-ssl -uapp -pwrong -e "SELECT 1" 2>&1) && fail "wrong password accepted"
assert_contains "$out" "ERROR 1045 (28000)" "wrong password, hashed secret"
# Over TLS the error goes through the TLS filter's socket bufferevent: it
# must be written before the connection is freed (proxy/linger.c).
out=$(m --ssl --ssl-verify-server-cert=0 -uapp -pwrong -e "SELECT 1" 2>&1) && fail "wrong password accepted over TLS"
assert_contains "$out" "ERROR 1045 (28000)" "wrong password over TLS: the ERR arrives"
assert_eq "ok" "$(m --skip-ssl --default-auth=caching_sha2_password -usha -papp -e "SELECT 'ok'")" "caching_sha2 client, plain"
assert_eq "ok" "$(m --ssl --ssl-verify-server-cert=0 --default-auth=caching_sha2_password -usha -papp -e "SELECT 'ok'")" "caching_sha2 client, TLS"
out=$(m --skip-ssl --default-auth=caching_sha2_password -usha -pwrong -e "SELECT 1" 2>&1) && fail "wrong sha2 password accepted"
assert_contains "$out" "ERROR 1045 (28000)" "wrong password, caching_sha2"
assert_eq "ok" "$(m --skip-ssl --default-auth=dialog -uapp -papp -e "SELECT 'ok'")" "AuthSwitchRequest from another plugin"
assert_eq "ok" "$(m --skip-ssl --default-auth=caching_sha2_password -uapp -papp -e "SELECT 'ok'")" "hashed secret: a caching_sha2 client is switched to native"
out=$("$PY" -c "
import pymysql, sys
c = pymysql.connect(host='127.0.0.1', port=int(sys.argv[1]), user='sha', password='app', database='shop',
                    ssl={'ca': sys.argv[2]})
cur = c.cursor(); cur.execute('SELECT 42'); print(cur.fetchone()[0])
" "$PROXY_PORT" "$TLS_CA" 2>&1) || true
assert_eq "42" "$out" "PyMySQL over TLS, certificate checked against the test CA"
