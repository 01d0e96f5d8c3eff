#!/usr/bin/env bash
# The primary dies under a connected client: the client's next query gets an
# error promptly (no hang); a new client while it is down gets an error
# promptly; once the primary is back, a new client works.
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=session pool_size=5 cluster.server_connect_timeout=2s cluster.query_wait_timeout=5s
start_proxy "$cfg"
on_exit "'$FLEET_SH' restart-pg-primary '$FLEET_DIR'" # whatever happens, bring it back

hold_out=$SY_TMP/hold.out
go=$SY_TMP/go
timeout 60 "$PY" "$HERE/clients.py" hold --port "$PROXY_PORT" --out "$hold_out" --go "$go" \
	--query "SELECT 42" --wait 40 &
hold_pid=$!
for i in $(seq 1 100); do
	grep -q '^connected\|^error' "$hold_out" 2>/dev/null && break
	sleep 0.1
done
first=$(head -n 1 "$hold_out" 2>/dev/null || true)
assert_match "$first" '^connected [0-9]+$' "the client is connected through the proxy ($first)"

"$FLEET_SH" kill-pg-primary "$FLEET_DIR"
assert_fails pg_monitor -c 'SELECT 1'

t0=$SECONDS
touch "$go"
rc=0
wait "$hold_pid" || rc=$?
dt=$((SECONDS - t0))
[ "$rc" -ne 124 ] || fail "the client's query hung (killed by timeout after $dt s)"
cat "$hold_out"
res=$(sed -n 2p "$hold_out")
assert_match "$res" '^error ' "the client's next query gets an error"
[ "$dt" -le 15 ] || fail "the error took $dt s"
_ok "the error came after $dt s"
assert_ok proxy_alive

# A new client while the primary is down: an error, not a hang.
t0=$SECONDS
rc=0
out=$(pg_proxy -c 'SELECT 1' 2>&1) || rc=$?
dt=$((SECONDS - t0))
echo "$out"
assert_ne 0 "$rc" "a new client while the primary is down gets an error"
[ "$rc" -ne 124 ] || fail "the new client hung"
[ "$dt" -le 15 ] || fail "the new client waited $dt s for its error"
_ok "the new client's error came after $dt s"

"$FLEET_SH" restart-pg-primary "$FLEET_DIR"
assert_eq 1 "$(pg_monitor -c 'SELECT 1')" "the primary is back"

# A new client works (allowing the proxy a few seconds to notice).
ok=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	if out=$(pg_proxy -c 'SELECT 6 * 7' 2>&1) && [ "$out" = 42 ]; then
		ok=1
		break
	fi
	echo "attempt $i: $out"
	sleep 1
done
assert_eq 1 "$ok" "a new client works once the primary is back (attempt $i)"
assert_eq 42 "$(pg_proxy -c 'SELECT 6 * 7')" "and the next one too"
assert_ok proxy_alive
