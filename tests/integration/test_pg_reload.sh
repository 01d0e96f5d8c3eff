#!/usr/bin/env bash
# SIGHUP reload: a client in a held session survives it (same server
# backend before and after), the log says the config was reloaded, the new
# pool_size applies to new clients; a bad config on reload is refused with
# FILE:LINE errors in the log, the old config stays in force and new clients
# still work.
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
# One worker: the per-worker share of pool_size is then the whole of it.
write_config "$cfg" port="$(free_port)" pool_mode=session pool_size=4 workers=1 cluster.query_wait_timeout=30s
start_proxy "$cfg"

# A client in a held session.
hold_out=$SY_TMP/hold.out
go=$SY_TMP/go
timeout 90 "$PY" "$HERE/clients.py" hold --port "$PROXY_PORT" --out "$hold_out" --go "$go" \
	--query "SELECT 42" --wait 80 &
hold_pid=$!
for i in $(seq 1 100); do
	grep -q '^connected\|^error' "$hold_out" 2>/dev/null && break
	sleep 0.1
done
first=$(head -n 1 "$hold_out" 2>/dev/null || true)
assert_match "$first" '^connected [0-9]+$' "the held client is connected ($first)"
held_backend=${first#connected }

# peak N: N clients at once each holding a server for 1.5 s; prints the
# largest number of server connections of app seen (held client included).
peak() {
	local res
	res=$(timeout 60 "$PY" "$HERE/clients.py" conc --port "$PROXY_PORT" --clients "$1" \
		--query "SELECT pg_sleep(1.5)" --monitor-port "$PG_PRIMARY_PORT" --monitor-user app --timeout 50)
	[ "$(json_get "$res" errors)" = 0 ] || fail "peak $1: client errors: $res"
	json_get "$res" max_server
}

p=$(peak 8)
[ "$p" -le 4 ] || fail "with pool_size = 4 the server saw $p connections"
_ok "pool_size = 4: at most $p server connections"

# Reload with a bigger pool.
sed -i 's/^pool_size = .*/pool_size = 12/' "$cfg"
reload_proxy
wait_log_since_mark '[Rr]eload' 10 || fail "the log does not mention the reload:"$'\n'"$(log_since_mark)"
_ok "the log mentions the reload: $(log_since_mark | grep -m1 -E '[Rr]eload')"
sleep 0.5
assert_eq "" "$(log_since_mark | grep -E ' (error|warning) ' || true)" "no error or warning logged for the good reload"
assert_ok proxy_alive
p=$(peak 8)
[ "$p" -gt 4 ] || fail "after reloading pool_size = 12, 8 clients still got only $p server connections"
[ "$p" -le 12 ] || fail "after reloading pool_size = 12 the server saw $p connections"
_ok "pool_size = 12 after reload: $p server connections for 8 clients + the held one"

# A bad config on reload: refused, logged with FILE:LINE, the old one stays.
cp "$cfg" "$SY_TMP/good.ini"
sed -i -e 's/^pool_size = .*/pool_size = -3/' -e 's/^pool_mode = .*/pool_mode = whenever/' "$cfg"
bad_line=$(grep -n '^pool_size' "$cfg" | cut -d: -f1)
reload_proxy
wait_log_since_mark "$cfg:$bad_line:" 10 ||
	fail "the log has no '$cfg:$bad_line:' error after a bad reload:"$'\n'"$(log_since_mark)"
_ok "bad reload logged: $(log_since_mark | grep -m1 -F "$cfg:$bad_line:")"
sleep 0.5
assert_ok proxy_alive
assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "a new client works after the refused reload"
p=$(peak 8)
[ "$p" -gt 4 ] && [ "$p" -le 12 ] || fail "after the refused reload the pool limit changed: $p server connections"
_ok "the old config (pool_size = 12) is still in force: $p server connections"

# The held client is still there, on the same server backend.
touch "$go"
wait "$hold_pid" || fail "the held client's script failed: $(cat "$hold_out")"
cat "$hold_out"
assert_eq "result 42 $held_backend" "$(sed -n 2p "$hold_out")" "the held client survived both reloads on the same server connection"

# The restored good config reloads again.
cp "$SY_TMP/good.ini" "$cfg"
reload_proxy
sleep 1
assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "a client works after reloading the good config again"
assert_ok proxy_alive
