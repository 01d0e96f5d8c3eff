#!/usr/bin/env bash
# run-fuzz.sh SECONDS SRC... — build and run libFuzzer targets.
#
# Each tests/fuzz/fuzz_X.c names, in a comment on its first lines, the
# sources it needs and optionally pkg-config packages:
#     /* fuzz-sources: proxy/pg/pgc.c util/buf.c */
#     /* fuzz-pkgs: openssl */
# The target is built into build-fuzz/fuzz_X with clang
# -fsanitize=fuzzer,address,undefined and run for SECONDS seconds on a copy
# of tests/fuzz/corpus/X/ (the repository's corpus is never written), with
# tests/fuzz/X.dict when present. Crashes are kept in build-fuzz/artifacts/.
# Ends with one line `fuzz: N passed, N failed`; exit non-zero on any failure.
set -uo pipefail

cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
	echo "usage: $0 SECONDS [tests/fuzz/fuzz_X.c ...]" >&2
	exit 2
fi
SECONDS_EACH=$1
shift
if [ $# -eq 0 ]; then
	echo "fuzz: no fuzz targets"
	echo "fuzz: 0 passed, 0 failed"
	exit 0
fi

CLANG=${FUZZ_CC:-clang}
CFLAGS=(-std=c11 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
OUT=build-fuzz
mkdir -p "$OUT/artifacts"
passed=0
failed=0
failed_names=()
tmproot=$(mktemp -d /tmp/switchyard-fuzz.XXXXXX)
trap 'rm -rf "$tmproot"' EXIT

# Value after "KEY:" in the first 5 lines, comment markers stripped.
header_value() {
	head -n 5 "$2" | sed -n "s|.*$1:[[:space:]]*\\(.*\\)|\\1|p" | head -n 1 | sed 's|\*/.*||; s|[[:space:]]*$||'
}

for src in "$@"; do
	base=$(basename "$src" .c)          # fuzz_X
	name=${base#fuzz_}                  # X
	echo "== $base"
	if [ ! -f "$src" ]; then
		echo "fuzz: $src: no such file" >&2
		failed=$((failed + 1)); failed_names+=("$base"); continue
	fi
	srcs=$(header_value fuzz-sources "$src")
	pkgs=$(header_value fuzz-pkgs "$src")
	pkg_cflags=() pkg_libs=()
	if [ -n "$pkgs" ]; then
		# shellcheck disable=SC2086
		read -r -a pkg_cflags <<<"$(pkg-config --cflags $pkgs)"
		# shellcheck disable=SC2086
		read -r -a pkg_libs <<<"$(pkg-config --libs $pkgs)"
	fi
	# shellcheck disable=SC2206
	extra=($srcs)
	bin="$OUT/$base"
	if ! "$CLANG" "${CFLAGS[@]}" "${pkg_cflags[@]}" "$src" "${extra[@]}" -o "$bin" "${pkg_libs[@]}" \
		>"$tmproot/$base.build.log" 2>&1; then
		cat "$tmproot/$base.build.log"
		echo "fuzz: $base: build failed" >&2
		failed=$((failed + 1)); failed_names+=("$base"); continue
	fi

	corpus="$tmproot/corpus-$name"
	mkdir -p "$corpus"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -r "tests/fuzz/corpus/$name/." "$corpus/"
	fi
	args=(-max_total_time="$SECONDS_EACH" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$OUT/artifacts/$name-")
	[ -f "tests/fuzz/$name.dict" ] && args+=(-dict="tests/fuzz/$name.dict")
	log="$OUT/$base.log"
	timeout -k 10 $((SECONDS_EACH + 120)) "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$log" || tail -n 3 "$log"
		echo "fuzz: $base: ok"
		passed=$((passed + 1))
	else
		tail -n 60 "$log"
		echo "fuzz: $base: FAILED (exit $rc; full log $log; artifacts in $OUT/artifacts/)" >&2
		failed=$((failed + 1)); failed_names+=("$base")
	fi
done

[ ${#failed_names[@]} -gt 0 ] && echo "fuzz: failing targets: ${failed_names[*]}"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
