#!/usr/bin/env bash
# Servers that fail during the proxy's own login to them (fake servers in
# my_fault_clients.py fake_server, each the primary of its own cluster,
# transaction pooling, server_connect_timeout 2s), PostgreSQL and MySQL:
#   close-at-accept    accepts TCP and closes at once
#   close-after-hello  PostgreSQL: reads the startup packet and closes;
#                      MySQL: sends a greeting, reads the HandshakeResponse, closes
#   hang-after-hello   the same, then never answers
#   close-mid-auth     PostgreSQL: AuthenticationSASL, reads the client's first
#                      SASL message, closes; MySQL: an AuthSwitchRequest, reads
#                      the answer, closes
#   garbage            answers 4 kB of random bytes
# 2 clients of each (all in parallel): each gets a clear error — PostgreSQL an
# ErrorResponse with SQLSTATE 08xxx, MySQL an ERR packet — within
# server_connect_timeout + slack, never a hang; clients of the real
# clusters are served meanwhile; the proxy stays up and its fds return to
# the baseline (pooled server connections from /metrics taken off).
# Then the real PostgreSQL primary is stopped while 10 clients log in and
# query: each gets an answer or a clear error (08006 / 57P0x), never a
# hang or a bare close; after the restart new clients work.
. "$(dirname "$0")/lib.sh"

MODES="close-at-accept close-after-hello hang-after-hello close-mid-auth garbage"
declare -A PGF MYF MYL
fake_pids=()
for proto in pg my; do
	for m in $MODES; do
		"$PY" "$HERE/my_fault_clients.py" fake_server "$proto" "$m" "$SY_TMP/fake.$proto.$m" &
		fake_pids+=($!)
	done
done
on_exit "kill ${fake_pids[*]} 2>/dev/null"
for proto in pg my; do
	for m in $MODES; do
		for i in $(seq 1 100); do [ -s "$SY_TMP/fake.$proto.$m" ] && break; sleep 0.1; done
		[ -s "$SY_TMP/fake.$proto.$m" ] || _die "fake server $proto $m did not start"
	done
done
raw=""
for m in $MODES; do
	PGF[$m]=$(cat "$SY_TMP/fake.pg.$m")
	MYF[$m]=$(cat "$SY_TMP/fake.my.$m")
	MYL[$m]=$(free_port)
	_PORTS_TAKEN+="${MYL[$m]} "
	c=${m//-/_}
	raw+="[cluster.pg_$c]
protocol = postgres
primary = 127.0.0.1:${PGF[$m]}
server_database = app
pool_mode = transaction
pool_size = 3
server_connect_timeout = 2s
query_wait_timeout = 5s

[cluster.my_$c]
protocol = mysql
primary = 127.0.0.1:${MYF[$m]}
pool_mode = transaction
pool_size = 3
server_connect_timeout = 2s
query_wait_timeout = 5s

[listen.my_$c]
protocol = mysql
address = 127.0.0.1:${MYL[$m]}
cluster = my_$c

"
done
MYPORT=$(free_port)
_PORTS_TAKEN+="$MYPORT "
raw+="[cluster.shop]
protocol = mysql
primary = 127.0.0.1:$MY_PRIMARY_PORT
pool_mode = transaction
pool_size = 3

[listen.my]
protocol = mysql
address = 127.0.0.1:$MYPORT
cluster = shop
"
cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=3 workers=2 \
	cluster.server_connect_timeout=2s cluster.query_wait_timeout=10s raw="$raw"
start_proxy "$cfg"
on_exit "'$FLEET_SH' restart-pg-primary '$FLEET_DIR' >/dev/null 2>&1"
fds() { find "/proc/$PROXY_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
servers() {
	curl -s -f --max-time 5 "http://127.0.0.1:$STATS_PORT/metrics" |
		awk '/^switchyard_server_connections\{/ {n += $NF} END {print n + 0}'
}
client_fds() { echo $(($(fds) - $(servers))); }
my_shop() { timeout 30 mariadb --no-defaults -h 127.0.0.1 -P "$MYPORT" -u app -papp -N -B shop "$@"; }

assert_eq 1 "$(pg_proxy -c 'SELECT 1')" "warm-up (PostgreSQL)"
assert_eq 1 "$(my_shop -e 'SELECT 1')" "warm-up (MySQL)"
base_fds=$(client_fds)
note "baseline: fds $(fds), of which $base_fds not server connections"

busy_out=$SY_TMP/busy.out
(for i in $(seq 1 12); do
	pg_proxy -c "SELECT 'pg $i'" || echo "busy failed pg $i"
	my_shop -e "SELECT 'my $i'" || echo "busy failed my $i"
	sleep 0.3
done >"$busy_out" 2>&1) &
busy_pid=$!

pids=()
for m in $MODES; do
	c=${m//-/_}
	for i in 1 2; do
		timeout 60 "$PY" "$HERE/my_fault_clients.py" pgquery "$PROXY_PORT" "pg_$c" >"$SY_TMP/out.pg.$m.$i" 2>&1 &
		pids+=($!)
		timeout 60 "$PY" "$HERE/my_fault_clients.py" query "${MYL[$m]}" "SELECT 1" >"$SY_TMP/out.my.$m.$i" 2>&1 &
		pids+=($!)
	done
done
wait "${pids[@]}" || true
for m in $MODES; do
	for i in 1 2; do
		pr=$(cat "$SY_TMP/out.pg.$m.$i")
		mr=$(cat "$SY_TMP/out.my.$m.$i")
		[ "$i" = 1 ] && note "pg $m: $pr" && note "my $m: $mr"
		assert_match "$(json_get "$pr" result 2>/dev/null)" '^E:08' "PostgreSQL, server $m (client $i): an 08xxx error"
		assert_match "$(json_get "$mr" result 2>/dev/null)" '^E:[0-9]+$' "MySQL, server $m (client $i): an ERR packet"
		for r in "$pr" "$mr"; do
			s=$(json_get "$r" seconds 2>/dev/null || echo 99)
			[ "${s%.*}" -lt 12 ] || fail "server $m: the client's answer took ${s}s"
		done
	done
done
wait "$busy_pid" || true
assert_not_contains "$(cat "$busy_out")" "failed" "the real clusters' clients were served throughout"
assert_eq 24 "$(grep -c '^\(pg\|my\) ' "$busy_out")" "they got all 24 answers"
assert_ok proxy_alive
note "proxy log lines about the fake servers: $(grep -c 'server 127.0.0.1:\('"$(echo "${PGF[*]} ${MYF[*]}" | tr ' ' '|' | sed 's/|/\\|/g')"'\)' "$PROXY_LOG")"

# The hung servers hold the proxy's attempts until server_connect_timeout;
# then every descriptor of the failed logins must be gone.
for i in $(seq 1 75); do
	now_fds=$(client_fds)
	[ "$now_fds" -le $((base_fds + 3)) ] && break
	sleep 0.2
done
note "fds after: $(fds), of which $now_fds not server connections (baseline $base_fds)"
[ "$now_fds" -le $((base_fds + 3)) ] && _ok "fds back to the baseline" || fail "fds $now_fds vs baseline $base_fds"

note "the real PostgreSQL primary stopped while 10 clients log in"
pids=()
for i in $(seq 1 10); do
	timeout 60 "$PY" "$HERE/my_fault_clients.py" pgquery "$PROXY_PORT" app >"$SY_TMP/out.real.$i" 2>&1 &
	pids+=($!)
done
"$FLEET_SH" kill-pg-primary "$FLEET_DIR" >/dev/null
wait "${pids[@]}" || true
for i in $(seq 1 10); do
	r=$(cat "$SY_TMP/out.real.$i")
	assert_match "$(json_get "$r" result 2>/dev/null)" '^(ok|E:08|E:57P)' "real primary killed, client $i: served or a clear error ($r)"
done
assert_ok proxy_alive
"$FLEET_SH" restart-pg-primary "$FLEET_DIR" >/dev/null
ok=0
for i in $(seq 1 50); do
	if [ "$(pg_proxy -c 'SELECT 1' 2>/dev/null)" = 1 ]; then ok=1; break; fi
	sleep 0.2
done
assert_eq 1 "$ok" "a new client works once the primary is back"
assert_eq 1 "$(my_shop -e 'SELECT 1')" "MySQL still served"
assert_ok proxy_alive
