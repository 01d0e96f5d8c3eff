#!/usr/bin/env bash
# Client authentication by the proxy (scram-sha-256, md5, password, trust;
# plain, md5 and SCRAM-verifier secrets), authentication to the server
# (scram, md5, cleartext; SCRAM pass-through from a verifier), wrong
# passwords refused with 28P01, and users from an auth_file.
. "$(dirname "$0")/lib.sh"

verifier=$(pg_monitor -c "SELECT rolpassword FROM pg_authid WHERE rolname = 'app'")
assert_match "$verifier" '^SCRAM-SHA-256\$4096:' "app's password on the server is a SCRAM verifier"
md5secret=md5$(printf '%s' "md5secretmd5stored" | md5sum | cut -d' ' -f1) # md5(password || user)

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=session pool_size=5 \
	user.app.password=app \
	user.md5user.password=md5pass \
	user.pwuser.password=pwpass \
	user.cmd5.password=cmd5pass user.cmd5.auth_type=md5 user.cmd5.server_user=app user.cmd5.server_password=app \
	user.md5stored.password="$md5secret" user.md5stored.auth_type=md5 user.md5stored.server_user=app \
	user.md5stored.server_password=app \
	user.cpw.password=cpwpass user.cpw.auth_type=password user.cpw.server_user=app user.cpw.server_password=app \
	user.ctrust.auth_type=trust user.ctrust.server_user=app user.ctrust.server_password=app \
	user.scramonly.password="$verifier" user.scramonly.server_user=app
start_proxy "$cfg"

login() { # USER PASSWORD -> current_user (psql, no prompting)
	PGUSER=$1 PGPASSWORD=$2 pg_proxy -w -c "SELECT current_user" 2>&1
}
login_nopw() { # USER: psql with no password at all
	env -u PGPASSWORD timeout 60 psql -X -A -t -q -w -h 127.0.0.1 -p "$PROXY_PORT" -U "$1" -d app -c "SELECT current_user" 2>&1
}

# Right passwords: every auth combination logs in and reaches the right server user.
assert_eq app "$(login app app)" "scram client, scram server (app)"
assert_eq md5user "$(login md5user md5pass)" "scram client, md5 server auth (md5user)"
assert_eq pwuser "$(login pwuser pwpass)" "scram client, cleartext server auth (pwuser)"
assert_eq app "$(login cmd5 cmd5pass)" "auth_type=md5 client with a plain secret"
assert_eq app "$(login md5stored md5secret)" "auth_type=md5 client with an md5 secret in the config"
assert_eq app "$(login cpw cpwpass)" "auth_type=password client"
assert_eq app "$(login_nopw ctrust)" "auth_type=trust client, no password"
assert_eq app "$(login ctrust anything)" "auth_type=trust client, any password"
assert_eq app "$(login scramonly app)" "user with only a SCRAM verifier (no server_password): SCRAM pass-through to the server"
assert_eq "42" "$(PGUSER=scramonly PGPASSWORD=app pg_proxy -c 'CREATE TEMP TABLE t AS SELECT 42 AS x' -c 'SELECT x FROM t' 2>&1)" \
	"the verifier-only user runs queries"

# Wrong passwords: refused, psql says so.
for u in app md5user cmd5 md5stored cpw scramonly; do
	rc=0
	out=$(login "$u" wrong-password) || rc=$?
	assert_ne 0 "$rc" "$u with a wrong password: psql fails"
	assert_contains "$out" "password authentication failed" "$u with a wrong password: 'password authentication failed'"
done
rc=0
out=$(PGUSER=nosuchuser PGPASSWORD=x pg_proxy -w -c 'SELECT 1' 2>&1) || rc=$?
assert_ne 0 "$rc" "an unknown user is refused"
rc=0
out=$(login_nopw app) || rc=$?
assert_ne 0 "$rc" "no password for a scram user is refused"
assert_contains "$out" "no password supplied" "psql was asked for a password"

# The SQLSTATE on the wire, for each method: 28P01.
wire=$("$PY" - "$PROXY_PORT" "$HERE" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
from pgwire import PG, PGError
port = int(sys.argv[1])
for user, pw in (("app", "bad"), ("cmd5", "bad"), ("cpw", "bad"), ("scramonly", "bad"), ("app", "app")):
    c = PG(port)
    try:
        c.login(user, pw, "app")
        print(user, pw, "ok", c.query("SELECT current_user")[0][0])
    except PGError as e:
        print(user, pw, "error", e.sqlstate, e.fields.get("S"))
    except Exception as e:
        print(user, pw, "exception", type(e).__name__, e)
    c.close()
EOF
)
echo "$wire"
assert_contains "$wire" "app bad error 28P01 FATAL" "scram: wrong password is FATAL 28P01 on the wire"
assert_contains "$wire" "cmd5 bad error 28P01 FATAL" "md5: wrong password is FATAL 28P01 on the wire"
assert_contains "$wire" "cpw bad error 28P01 FATAL" "password: wrong password is FATAL 28P01 on the wire"
assert_contains "$wire" "scramonly bad error 28P01 FATAL" "verifier: wrong password is FATAL 28P01 on the wire"
assert_contains "$wire" "app app ok app" "the raw SCRAM client logs in with the right password (server signature verified)"

stop_proxy

# Users from an auth_file (PgBouncer userlist.txt format), no [user.*] sections.
userlist=$SY_TMP/userlist.txt
{
	echo '; comment line'
	echo '"admin" "admin"'
	printf '"app" "%s"\n' "$verifier"
} >"$userlist"
cfg2=$SY_TMP/switchyard-authfile.ini
write_config "$cfg2" nousers=1 global.auth_file="$userlist"
start_proxy "$cfg2"
assert_eq admin "$(login admin admin)" "auth_file: plain password user"
assert_eq app "$(login app app)" "auth_file: SCRAM verifier user (pass-through to the server)"
rc=0
out=$(login admin wrong) || rc=$?
assert_ne 0 "$rc" "auth_file: wrong password refused"
assert_contains "$out" "password authentication failed" "auth_file: 'password authentication failed'"
rc=0
out=$(login md5user md5pass) || rc=$?
assert_ne 0 "$rc" "auth_file: a user not in the file is refused"
assert_ok proxy_alive
