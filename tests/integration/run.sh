#!/usr/bin/env bash
# run.sh BIN — run the integration tests against the switchyard binary BIN.
#
# Starts one fleet (tests/integration/fleet.sh) in a temporary folder under
# /tmp, shared by all tests, then runs every tests/integration/test_*.sh in
# name order, each in its own process group with a time limit, with:
#   BIN      the proxy binary (absolute path)
#   SY_TMP   a fresh folder for that test (its proxy log is SY_TMP/proxy.log)
#   and every variable of the fleet's fleet.env.
# Prints PASS/FAIL per test (on failure the last 40 lines of the test's output
# and of the proxy log), stops the fleet at the end (also on Ctrl-C) and ends
# with one line `integration: N passed, N failed`.
#
#   TESTS=REGEX        run only the tests whose name matches (e.g. TESTS='auth|tls')
#   TEST_TIMEOUT=300   seconds per test
#   KEEP=1             keep the fleet folder (and stop the fleet anyway)
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ]; then
	echo "usage: $0 PATH/TO/switchyard" >&2
	exit 2
fi
BIN=$(realpath -m "$1")
TEST_TIMEOUT=${TEST_TIMEOUT:-300}

tests=()
for t in "$HERE"/test_*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	if [ -n "${TESTS:-}" ] && ! [[ "$name" =~ ${TESTS} ]]; then continue; fi
	tests+=("$t")
done
if [ ${#tests[@]} -eq 0 ]; then
	echo "integration: no tests${TESTS:+ match '$TESTS'}"
	echo "integration: 0 passed, 0 failed"
	exit 0
fi

if [ ! -x "$BIN" ]; then
	echo "integration: $BIN is not an executable (run make first)" >&2
	echo "integration: 0 passed, ${#tests[@]} failed"
	exit 1
fi

FLEET=$(mktemp -d /tmp/switchyard-it.XXXXXX)
chmod 755 "$FLEET" # the postgres user must reach its data folders
current_pgid=
cleanup() {
	trap - EXIT INT TERM
	if [ -n "$current_pgid" ]; then kill -TERM -- "-$current_pgid" 2>/dev/null; fi
	"$HERE/fleet.sh" stop "$FLEET/fleet" >/dev/null 2>&1
	if [ -n "${KEEP:-}" ]; then
		echo "integration: fleet folder kept: $FLEET" >&2
	elif [ "${failed:-0}" -gt 0 ]; then
		"$HERE/fleet.sh" destroy "$FLEET/fleet" >/dev/null 2>&1
		echo "integration: logs of the tests kept in $FLEET/tests" >&2
	else
		"$HERE/fleet.sh" destroy "$FLEET/fleet" >/dev/null 2>&1
		rm -rf "$FLEET"
	fi
}
trap cleanup EXIT
trap 'echo "integration: interrupted" >&2; exit 130' INT TERM

echo "integration: starting the fleet in $FLEET/fleet"
if ! "$HERE/fleet.sh" start "$FLEET/fleet" >"$FLEET/fleet-start.log" 2>&1; then
	tail -n 60 "$FLEET/fleet-start.log"
	echo "integration: the fleet did not start"
	echo "integration: 0 passed, ${#tests[@]} failed"
	exit 1
fi
cat "$FLEET/fleet-start.log"
set -a
# shellcheck disable=SC1091
. "$FLEET/fleet/fleet.env"
set +a
export BIN

passed=0
failed=0
failed_names=()
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	# A test may have killed a server: bring anything down back up (no-op when all run).
	"$HERE/fleet.sh" start "$FLEET/fleet" >"$FLEET/fleet-restart.log" 2>&1 ||
		cat "$FLEET/fleet-restart.log" >&2
	SY_TMP=$FLEET/tests/$name
	mkdir -p "$SY_TMP"
	chmod 755 "$SY_TMP"
	out=$SY_TMP/output.log
	t0=$SECONDS
	# timeout puts the test in its own process group; whatever the test left
	# running in that group is ended after it.
	SY_TMP=$SY_TMP timeout -k 10 "$TEST_TIMEOUT" bash "$t" >"$out" 2>&1 </dev/null &
	current_pgid=$!
	wait "$current_pgid"
	rc=$?
	kill -KILL -- "-$current_pgid" 2>/dev/null
	current_pgid=
	dt=$((SECONDS - t0))
	if [ "$rc" -eq 0 ]; then
		echo "PASS $name (${dt}s)"
		passed=$((passed + 1))
	else
		why="exit $rc"
		[ "$rc" -eq 124 ] && why="timed out after ${TEST_TIMEOUT}s"
		echo "FAIL $name (${dt}s, $why)"
		echo "  --- last 40 lines of output ($out)"
		tail -n 40 "$out" | sed 's/^/  | /'
		if [ -s "$SY_TMP/proxy.log" ]; then
			echo "  --- last 40 lines of the proxy log ($SY_TMP/proxy.log)"
			tail -n 40 "$SY_TMP/proxy.log" | sed 's/^/  | /'
		fi
		failed=$((failed + 1))
		failed_names+=("$name")
	fi
done

[ ${#failed_names[@]} -gt 0 ] && echo "integration: failed: ${failed_names[*]}"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
