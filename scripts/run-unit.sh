#!/usr/bin/env bash
# run-unit.sh BIN... — run cmocka unit test binaries, show their output and
# end with one line `unit: N passed, N failed` (tests counted from cmocka's
# "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)" lines). A binary that
# crashes, times out, or exits non-zero without reporting a failure counts
# as one failed test. Exit status is non-zero when anything failed.
set -uo pipefail

if [ $# -eq 0 ]; then
	echo "unit: no unit test binaries given"
	echo "unit: 0 passed, 0 failed"
	exit 0
fi

unset CMOCKA_MESSAGE_OUTPUT CMOCKA_XML_FILE  # we parse the standard output format
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
passed=0
failed=0
bad_bins=()
out=$(mktemp /tmp/switchyard-unit.XXXXXX)
trap 'rm -f "$out"' EXIT

for bin in "$@"; do
	name=$(basename "$bin")
	echo "== $name"
	if [ ! -x "$bin" ]; then
		echo "unit: $bin: not an executable" >&2
		failed=$((failed + 1))
		bad_bins+=("$name(missing)")
		continue
	fi
	timeout -k 5 "$UNIT_TIMEOUT" "$bin" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]\+\) test(s)\..*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]\+\) test(s).*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	seen=$(grep -cE '^\[  (PASSED|FAILED)  \] [0-9]+ test\(s\)' "$out")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# crashed (signal: rc > 128), timed out (124) or failed some other way
		why="exit status $rc"
		[ "$rc" -eq 124 ] && why="timed out after ${UNIT_TIMEOUT}s"
		[ "$rc" -gt 128 ] && [ "$rc" -ne 124 ] && why="killed by signal $((rc - 128))"
		echo "unit: $name: $why" >&2
		failed=$((failed + 1))
		bad_bins+=("$name($why)")
	elif [ "$rc" -eq 0 ] && [ "$seen" -eq 0 ]; then
		echo "unit: $name: exited 0 but printed no cmocka summary" >&2
		failed=$((failed + 1))
		bad_bins+=("$name(no summary)")
	elif [ "$f" -gt 0 ]; then
		bad_bins+=("$name")
	fi
done

if [ ${#bad_bins[@]} -gt 0 ]; then
	echo "unit: failing binaries: ${bad_bins[*]}"
fi
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
