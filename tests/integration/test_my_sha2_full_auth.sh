#!/usr/bin/env bash
# test_my_sha2_full_auth.sh — caching_sha2_password full authentication on
# both sides of the proxy.
#   Front end (proxy B): users whose secret is a hash the fast path cannot
#   check — MySQL 8's caching_sha2 "$A$005$..." (made by my_sha2_hash.py, a
#   second SHA-crypt implementation) and a native "*HEX" hash with auth_type
#   = caching_sha2_password — are asked for their password: PyMySQL sends
#   it RSA-encrypted after asking for the proxy's public key (the key of
#   client_rsa_key_file, then one generated in memory), PyMySQL and the
#   mariadb client send it in clear over TLS; wrong passwords get 1045; the
#   recovered password logs the proxy in to MariaDB.
#   Back end (proxy A in front of proxy B): MariaDB has no caching_sha2, and
#   Debian 12 has no MySQL 8, so B stands in for a MySQL 8 server whose
#   cache misses: A's pool and health probes log in to B by full
#   authentication, RSA without TLS (server_tls_mode = disable) and the
#   clear password over TLS (server_tls_mode = require); and by the fast
#   path for a user B holds the plain password of.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"

tls=$(dirname "$TLS_CA")
h8=$("$PY" "$(dirname "$0")/my_sha2_hash.py" app)
assert_match "$h8" '^0x24412430303524[0-9A-F]{126}$' "a caching_sha2 hash of the password, hex form"
nat=$(my_monitor -e "SELECT PASSWORD('app')")
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$SY_TMP/rsa.key" 2>/dev/null
openssl pkey -in "$SY_TMP/rsa.key" -pubout -out "$SY_TMP/rsa.pub"

write_b() { # FILE [global=...]
	local f=$1
	shift
	my_write_config "$f" pool_size=2 workers=1 app_password="$h8" \
		global="client_tls_mode = allow" global="client_tls_cert_file = $tls/proxy.crt" \
		global="client_tls_key_file = $tls/proxy.key" "$@" \
		raw="[user.nat]
password = $nat
server_user = app
auth_type = caching_sha2_password
[user.fast]
password = app
server_user = app
auth_type = caching_sha2_password"
}

# PORT tls|plain|havekey USER PASSWORD [KEYFILE]: "42 key" or "42 nokey"
# (whether PyMySQL has the public key; plain: it asked for it and the key
# is written to KEYFILE; havekey: it was given KEYFILE's), or the error.
pym() {
	"$PY" - "$@" "$TLS_CA" <<'PYEOF' 2>&1
import sys, pymysql
port, mode, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
keyfile = sys.argv[5] if len(sys.argv) > 6 else None
kw = dict(host='127.0.0.1', port=port, user=user, password=pw, database='shop', connect_timeout=20)
if mode == 'tls':
    kw['ssl'] = {'ca': sys.argv[-1]}
if mode == 'havekey':
    kw['server_public_key'] = open(keyfile, 'rb').read()
    keyfile = None
try:
    c = pymysql.connect(**kw)
except pymysql.err.OperationalError as e:
    print("error", e.args[0], e.args[1]); sys.exit(0)
cur = c.cursor(); cur.execute("SELECT 42"); n = cur.fetchone()[0]
if c.server_public_key and keyfile:
    open(keyfile, 'wb').write(c.server_public_key)
print(n, "key" if c.server_public_key else "nokey")
PYEOF
}

# ---- front end, with client_rsa_key_file ----
write_b "$SY_TMP/b.ini" global="client_rsa_key_file = $SY_TMP/rsa.key"
start_proxy "$SY_TMP/b.ini"
assert_eq "42 key" "$(pym "$PROXY_PORT" plain app app "$SY_TMP/got.pub")" "PyMySQL without TLS: RSA full authentication (\$A\$ hash)"
assert_eq "$(cat "$SY_TMP/rsa.pub")" "$(cat "$SY_TMP/got.pub")" "the public key sent is client_rsa_key_file's"
assert_eq "42 nokey" "$(pym "$PROXY_PORT" tls app app)" "PyMySQL over TLS: the clear password (\$A\$ hash)"
assert_contains "$(pym "$PROXY_PORT" plain app wrong)" "error 1045" "wrong password over RSA refused"
assert_contains "$(pym "$PROXY_PORT" tls app wrong)" "error 1045" "wrong password over TLS refused"
m() { timeout 30 mariadb --no-defaults -h 127.0.0.1 -P "$PROXY_PORT" -N -B "$@" shop; }
# nat: a native hash with auth_type = caching_sha2_password. The mariadb
# client's first login goes the full path and fills the cache; its next
# logins take the fast path (the cache, as a MySQL 8 server's).
assert_eq "ok" "$(m --skip-ssl --default-auth=caching_sha2_password -unat -papp -e "SELECT 'ok'")" "native *HEX hash, caching_sha2 answer: RSA full authentication (mariadb client)"
assert_match "$(cat "$PROXY_LOG")" "user=nat schema=shop\): login \(caching_sha2_password, full authentication\)" "nat's first login: full authentication"
assert_eq "ok" "$(m --ssl --ssl-verify-server-cert=0 --default-auth=caching_sha2_password -unat -papp -e "SELECT 'ok'")" "native *HEX hash over TLS, from the cache"
assert_match "$(cat "$PROXY_LOG")" "user=nat schema=shop\): login \(caching_sha2_password, tls\)" "nat's next login: the fast path"
out=$(m --skip-ssl --default-auth=caching_sha2_password -unat -pwrong -e "SELECT 1" 2>&1) && fail "wrong password accepted"
assert_contains "$out" "ERROR 1045 (28000)" "native hash, wrong password refused (the cache does not match: full path, wrong)"
# PyMySQL answers native first and is switched to caching_sha2, whose
# answer (hashed with the nonce's NUL) never matches: the full path.
assert_eq "42 key" "$(pym "$PROXY_PORT" plain nat app)" "native *HEX hash, auth_type caching_sha2: PyMySQL switched from native, RSA full authentication"
assert_eq "ok" "$(m --ssl --ssl-verify-server-cert=0 -uapp -papp -e "SELECT 'ok'")" "mariadb client over TLS (\$A\$ hash)"
out=$(m --ssl --ssl-verify-server-cert=0 -uapp -pwrong -e "SELECT 1" 2>&1) && fail "wrong password accepted"
assert_contains "$out" "ERROR 1045 (28000)" "mariadb client, wrong password refused"
assert_eq "42 key" "$(pym "$PROXY_PORT" havekey app app "$SY_TMP/rsa.pub")" "PyMySQL holding the public key: the ciphertext without asking"
assert_eq "42 key" "$(pym "$PROXY_PORT" plain fast app)" "plain password, PyMySQL's fast-path answer after an AuthSwitchRequest (hashed with the nonce's NUL): the full path, as MySQL 8"
assert_match "$(cat "$PROXY_LOG")" "login \(caching_sha2_password, full authentication\)" "login logged with the plugin and the full path"
assert_match "$(cat "$PROXY_LOG")" "login \(caching_sha2_password, full authentication, tls\)" "TLS login logged"
stop_proxy

# ---- front end, the key generated in memory; the cache ----
write_b "$SY_TMP/b2.ini"
start_proxy "$SY_TMP/b2.ini"
B_PORT=$PROXY_PORT
assert_eq "ok" "$(m --skip-ssl -uapp -papp -e "SELECT 'ok'")" "mariadb client without TLS: RSA with the public key it asks for"
assert_match "$(cat "$PROXY_LOG")" "user=app schema=shop\): login \(caching_sha2_password, full authentication\)" "a new process: the cache is empty, full authentication"
assert_eq "ok" "$(m --skip-ssl -uapp -papp -e "SELECT 'ok'")" "mariadb client again"
assert_eq "1" "$(grep -c "user=app schema=shop): login (caching_sha2_password)$" "$PROXY_LOG")" "the second login: the fast path, from the cache"
out=$(m --skip-ssl -uapp -pwrong -e "SELECT 1" 2>&1) && fail "wrong password accepted"
assert_contains "$out" "ERROR 1045 (28000)" "wrong password with the cache filled: refused"
assert_eq "42 key" "$(pym "$B_PORT" plain app app "$SY_TMP/gen.pub")" "RSA full authentication with a generated key"
assert_ok openssl pkey -pubin -in "$SY_TMP/gen.pub" -noout
assert_ne "$(cat "$SY_TMP/rsa.pub")" "$(cat "$SY_TMP/gen.pub")" "a key of its own, not the file's"
assert_contains "$(cat "$PROXY_LOG")" "generated a 2048-bit RSA key" "the generated key is logged"

# ---- back end: proxy A logs in to proxy B by full authentication ----
start_a() { # NAME SERVER_TLS_MODE -> A_PORT, A_PID
	A_PORT=$(free_port)
	_PORTS_TAKEN+="$A_PORT "
	cat >"$SY_TMP/$1.ini" <<EOT
[switchyard]
workers = 1
log_level = info
stats_listen =
server_tls_mode = $2
server_tls_ca_file = $TLS_CA
[listen.my]
protocol = mysql
address = 127.0.0.1:$A_PORT
cluster = shop
[cluster.shop]
protocol = mysql
primary = 127.0.0.1:$B_PORT
pool_mode = transaction
pool_size = 2
monitor_user = fast
monitor_password = app
[user.app]
password = app
[user.fast]
password = app
EOT
	"$BIN" -c "$SY_TMP/$1.ini" >>"$SY_TMP/$1.log" 2>&1 &
	A_PID=$!
	on_exit "kill $A_PID"
	for _ in $(seq 1 100); do port_listening "$A_PORT" && return 0; sleep 0.1; done
	fail "proxy A did not listen"
}
a() { timeout 30 mariadb --no-defaults -h 127.0.0.1 -P "$A_PORT" -uapp -papp -N -B shop "$@"; }
# A fresh B for each: its cache empty, A's pool's first login as app goes
# the full path (A's health probes log in as fast, a plain password at B:
# the fast path, no cache).
restart_b() {
	stop_proxy
	start_proxy "$SY_TMP/b2.ini"
	B_PORT=$PROXY_PORT
}
restart_b
n0=$(grep -c "login (caching_sha2_password, full authentication)" "$PROXY_LOG")
start_a a_rsa disable
assert_eq "chain" "$(a -e "SELECT 'chain'")" "A -> B -> MariaDB, A logged in to B over RSA"
assert_eq "3" "$(a -e "SELECT 1+2")" "a second query through the chain"
n1=$(grep -c "login (caching_sha2_password, full authentication)" "$PROXY_LOG")
[ "$n1" -gt "$n0" ] && _ok "B logged A's server login by caching_sha2_password" || fail "no caching_sha2 login at B ($n0 -> $n1)"
# B holds fast's plain password: A's caching_sha2 answer takes the fast path.
assert_eq "fast" "$(timeout 30 mariadb --no-defaults -h 127.0.0.1 -P "$A_PORT" -ufast -papp -N -B shop -e "SELECT 'fast'")" \
	"A -> B as a user B checks by the fast path"
assert_match "$(cat "$PROXY_LOG")" "user=fast schema=shop\): login \(caching_sha2_password\)" "B logged A's fast-path login (no full authentication)"
kill "$A_PID"; wait "$A_PID" 2>/dev/null || true
restart_b
t0=$(grep -c "login (caching_sha2_password, full authentication, tls)" "$PROXY_LOG")
start_a a_tls require
assert_eq "chain" "$(a -e "SELECT 'chain'")" "A -> B over TLS, A sent its password in clear"
t1=$(grep -c "login (caching_sha2_password, full authentication, tls)" "$PROXY_LOG")
[ "$t1" -gt "$t0" ] && _ok "B logged A's TLS login by caching_sha2_password" || fail "no TLS caching_sha2 login at B ($t0 -> $t1)"
kill "$A_PID"; wait "$A_PID" 2>/dev/null || true
out=$(cat "$SY_TMP"/a_*.log)
assert_not_contains "$out" "server login failed" "A's server and health logins to B all succeeded"
