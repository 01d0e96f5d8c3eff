# shellcheck shell=bash
# failover_lib.sh — what test_failover_pg.sh and test_failover_my.sh share.
# Source it after lib.sh; set URL (the stats port) and LBL (e.g.
# '{cluster="app"}') before calling fo_metric or fo_kill_primary.
#
#   fo_start_pair KIND PAIR
#       picks free ports P_PORT, R_PORT, R2_PORT and starts a private primary
#       and two replicas there (fleet.sh add-KIND-pair PAIR; KIND pg or my),
#       dropped when the test exits
#   fo_metric NAME        a sample's value from /metrics ("" when absent)
#   fo_now_ms             the wall clock in ms
#   fo_kill_primary CLUSTER PROTOCOL PAIR NODE PORT WRITE_CMD...
#       waits for the primary (127.0.0.1:PORT) to have answered a heartbeat
#       (failover needs that), kills it (fleet.sh pair-kill PAIR NODE), runs
#       WRITE_CMD 0.3 s later in the background, waits up to 30 s for
#       switchyard_failovers_total to be 1, then for the write; asserts both
#       and notes the timings.

fo_start_pair() { # KIND PAIR
	local kind=$1 pair=$2
	P_PORT=$(free_port)
	_PORTS_TAKEN+="$P_PORT "
	R_PORT=$(free_port)
	_PORTS_TAKEN+="$R_PORT "
	R2_PORT=$(free_port)
	_PORTS_TAKEN+="$R2_PORT "
	on_exit "'$FLEET_SH' drop-pair $pair '$FLEET_DIR' >/dev/null 2>&1"
	"$FLEET_SH" add-$kind-pair "$pair" "$P_PORT" "$R_PORT,$R2_PORT" "$FLEET_DIR" >"$SY_TMP/pair.log" 2>&1 ||
		_die "could not start the private pair: $(tail -n 5 "$SY_TMP/pair.log")"
}

fo_metric() { curl -s -f --max-time 5 "$URL/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
fo_now_ms() { echo $(($(date +%s%N) / 1000000)); }

fo_kill_primary() { # CLUSTER PROTOCOL PAIR NODE PORT WRITE_CMD...
	local cluster=$1 proto=$2 pair=$3 node=$4 port=$5 ok="" i n="" t0 t1 deadline writer
	shift 5
	for i in $(seq 1 100); do
		ok=$(fo_metric "switchyard_node_heartbeats_total{cluster=\"$cluster\",node=\"127.0.0.1:$port\",protocol=\"$proto\",result=\"ok\"}")
		[ "${ok:-0}" -gt 0 ] 2>/dev/null && break
		sleep 0.1
	done
	[ "${ok:-0}" -gt 0 ] 2>/dev/null && _ok "the primary answers heartbeats" || fail "the primary never answered a heartbeat"
	log_mark "kill -9 of the primary"
	t0=$(fo_now_ms)
	"$FLEET_SH" pair-kill "$pair" "$node" "$FLEET_DIR" >/dev/null 2>&1 || _die "could not kill the pair's primary"
	note "primary 127.0.0.1:$port killed"
	sleep 0.3
	# A write during the outage: it waits for the new primary.
	(
		trap - EXIT ERR
		"$@" >"$SY_TMP/during.out" 2>&1
		echo $? >"$SY_TMP/during.rc"
		fo_now_ms >"$SY_TMP/during.end"
	) &
	writer=$!
	deadline=$((SECONDS + 30))
	while [ $SECONDS -lt $deadline ]; do
		n=$(fo_metric "switchyard_failovers_total$LBL")
		[ "$n" = 1 ] && break
		sleep 0.1
	done
	t1=$(fo_now_ms)
	assert_eq 1 "$n" "switchyard_failovers_total is 1"
	note "failover seen on /metrics $((t1 - t0)) ms after the kill (heartbeat 200 ms x down_after 3)"
	[ $((t1 - t0)) -lt 10000 ] && _ok "failover within 10 s of the kill" || fail "failover took $((t1 - t0)) ms"
	wait "$writer"
	assert_eq 0 "$(cat "$SY_TMP/during.rc")" "the write sent during the outage succeeded ($(cat "$SY_TMP/during.out"))"
	note "the write sent during the outage returned $(($(cat "$SY_TMP/during.end") - t0)) ms after the kill"
	local dur
	dur=$(fo_metric "switchyard_last_failover_duration_seconds$LBL")
	note "switchyard_last_failover_duration_seconds = $dur"
	assert_match "$dur" '^[0-9]+(\.[0-9]+)?(e-?[0-9]+)?$' "the duration gauge is set"
}
