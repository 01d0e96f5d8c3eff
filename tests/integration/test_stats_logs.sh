#!/usr/bin/env bash
# Logs (issue 7): one line per event with time, level, thread (worker) and
# who it is about. With log_format = json every line is one JSON object and
# the client (id, address, user, database, protocol) and server (id, node)
# are fields of their own; with text they open the message in the usual
# "client N (addr user=U db=D): " form. Neither shows a password or the
# text of a query at info level.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/my_lib.sh"
ASSERT_CONTINUE=1

SECRET=s3cret-pw-77
cfg=$SY_TMP/switchyard.ini
check_json() { # LOG: every line parses; prints the parsed lines as one JSON list
	"$PY" - "$1" <<'PYEOF'
import json, sys
bad, rows = 0, []
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        bad += 1
        print("unparsable: " + line.strip(), file=sys.stderr)
        continue
    if not all(k in d for k in ("time", "level", "thread", "msg")):
        bad += 1
    rows.append(d)
print(json.dumps({"bad": bad, "rows": rows}))
PYEOF
}
phase_log() { # the proxy's lines since the last start_proxy (lib.sh writes "=== ..." markers)
	awk '/^=== .* start_proxy /{n=NR} {l[NR]=$0} END{for(i=n+1;i<=NR;i++) if (l[i] !~ /^=== /) print l[i]}' \
		"$PROXY_LOG" >"$SY_TMP/phase.log"
	echo "$SY_TMP/phase.log"
}
jq_py() { # JSON EXPR: evaluate a Python expression over d (the check_json output)
	"$PY" -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$2" <<<"$1"
}

note "PostgreSQL, log_format = json"
write_config "$cfg" pool_mode=transaction pool_size=2 workers=2 global.log_format=json \
	user.app.password="$SECRET" user.app.server_password=app
start_proxy "$cfg"
PGPASSWORD=$SECRET pg_proxy -c "SELECT 'sekrit-literal-123'" >/dev/null
out=$(PGPASSWORD=wrongpw-xyz pg_proxy -c "SELECT 1" 2>&1 || true)
assert_contains "$out" "password authentication failed" "a wrong password is refused"
# A server connection the server closes while idle: a warning about it.
PGPASSWORD=$SECRET pg_proxy -c "SELECT 1" >/dev/null
pg_monitor -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'" >/dev/null || true
sleep 1
stop_proxy
log=$(phase_log)
j=$(check_json "$log")
assert_eq 0 "$(jq_py "$j" 'd["bad"]')" "every line is a JSON object with time, level, thread, msg"
login=$(jq_py "$j" '[r for r in d["rows"] if r["msg"] == "login"][:1]')
assert_match "$login" "'protocol': 'postgres', 'client': [0-9]+, 'client_addr': '127\.0\.0\.1:[0-9]+', 'user': 'app', 'database': 'app'" \
	"the login line carries the client's id, address, user and database as fields"
assert_match "$login" "'thread': 'worker-[01]'" "... and the worker"
failed=$(jq_py "$j" '[r for r in d["rows"] if "28P01" in r["msg"]][:1]')
assert_match "$failed" "'client': [0-9]+.*'user': 'app'" "the refused login names the client and user"
assert_match "$failed" "'level': 'info'" "... at info level"
srv=$(jq_py "$j" '[r for r in d["rows"] if "server" in r][:1]')
assert_match "$srv" "'server': [0-9]+, 'node': '127\.0\.0\.1:$PG_PRIMARY_PORT'" "a server line carries the server's id and node"
assert_not_contains "$(cat "$log")" "$SECRET" "no password in the log"
assert_not_contains "$(cat "$log")" "wrongpw-xyz" "no wrong password in the log"
assert_not_contains "$(cat "$log")" "sekrit-literal-123" "no query text at info level"

note "PostgreSQL, log_format = text"
write_config "$cfg" pool_mode=transaction pool_size=2 user.app.password="$SECRET" user.app.server_password=app
start_proxy "$cfg"
PGPASSWORD=$SECRET pg_proxy -c "SELECT 'sekrit-literal-123'" >/dev/null
stop_proxy
log=$(phase_log)
assert_match "$(cat "$log")" "[0-9T:.-]+Z info \[worker-[0-9]+\] client [0-9]+ \(127\.0\.0\.1:[0-9]+ user=app db=app\): login" \
	"text: time, level, [thread], then client N (addr user db): message"
assert_not_contains "$(cat "$log")" "sekrit-literal-123" "text: no query text at info level"
assert_not_contains "$(cat "$log")" "$SECRET" "text: no password"

note "MySQL, log_format = json"
my_write_config "$cfg" global="log_format = json"
start_proxy "$cfg"
my_proxy -e "SELECT 'sekrit-literal-123'" >/dev/null
stop_proxy
log=$(phase_log)
j=$(check_json "$log")
assert_eq 0 "$(jq_py "$j" 'd["bad"]')" "mysql: every line is a JSON object"
login=$(jq_py "$j" '[r for r in d["rows"] if r["msg"].startswith("login (")][:1]')
assert_match "$login" "'protocol': 'mysql', 'client': [0-9]+, 'client_addr': '127\.0\.0\.1:[0-9]+', 'user': 'app', 'database': 'shop'" \
	"mysql: the login line carries the client's fields (database: the schema)"
assert_not_contains "$(cat "$log")" "sekrit-literal-123" "mysql: no query text at info level"
