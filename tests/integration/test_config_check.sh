#!/usr/bin/env bash
# `switchyard -t -c FILE` accepts a good config and refuses bad ones with
# FILE:LINE: messages; --version and --help work.
. "$(dirname "$0")/lib.sh"

good=$SY_TMP/good.ini
write_config "$good" global.client_tls_mode=allow "global.client_tls_cert_file=$TLS_CERT" \
	"global.client_tls_key_file=$TLS_KEY" user.admin.password=admin global.admin_users=admin

rc=0
out=$(timeout 10 "$BIN" -t -c "$good" 2>&1) || rc=$?
assert_eq 0 "$rc" "-t on a good config exits 0 (output: $out)"
errs=$(grep -E "^$good:[0-9]+:" <<<"$out" | grep -vi warning || true)
assert_eq "" "$errs" "no FILE:LINE: error (warnings allowed) for a good config"

# check_bad NAME SED_EXPR KEY_REGEX: a copy of the good config changed by
# SED_EXPR must be refused, with FILE:LINE: pointing at the line matching KEY_REGEX
# (or, with a 4th argument, at any of the lines matching it).
check_bad() {
	local name=$1 expr=$2 keyre=$3 any=${4:-}
	local f=$SY_TMP/bad-$name.ini rc=0 out lines l hit=0 msg=
	sed "$expr" "$good" >"$f"
	cmp -s "$good" "$f" && fail "check_bad $name: the sed expression changed nothing"
	lines=$(grep -nE "$keyre" "$f" | cut -d: -f1)
	[ -n "$lines" ] || fail "check_bad $name: no line matches /$keyre/"
	out=$(timeout 10 "$BIN" -t -c "$f" 2>&1) || rc=$?
	assert_ne 0 "$rc" "$name: -t exits non-zero"
	[ "$rc" -ne 124 ] || fail "$name: -t hung"
	for l in $lines; do
		msg=$(grep -F "$f:$l:" <<<"$out" | grep -vi warning | head -n 1 || true)
		[ -n "$msg" ] && hit=1 && break
	done
	if [ "$hit" = 1 ]; then
		_ok "$name: error names the line: ${msg#"$SY_TMP/"}"
	else
		fail "$name: expected a '$f:LINE:' message for line(s) $(echo $lines) in:"$'\n'"$out"
	fi
}

check_bad unknown-key '/^pool_size = /a bogus_key = 1' '^bogus_key'
check_bad negative-pool-size 's/^pool_size = .*/pool_size = -5/' '^pool_size'
check_bad bad-address 's/^address = .*/address = 127.0.0.1:notaport/' '^address'
check_bad bad-address-port 's/^address = .*/address = 127.0.0.1:99999/' '^address'
check_bad unknown-pool-mode 's/^pool_mode = .*/pool_mode = sometimes/' '^pool_mode'
check_bad unreadable-cert 's|^client_tls_cert_file = .*|client_tls_cert_file = /nonexistent/switchyard-cert.pem|' \
	'^client_tls_(cert_file|mode)'
check_bad bad-duration 's/^shutdown_timeout = .*/shutdown_timeout = soon/' '^shutdown_timeout'
check_bad unknown-section 's/^\[listen\.pg\]/[lisen.pg]/' '^\[lisen\.pg\]'

# A missing file is an error too (no line number to give).
rc=0
out=$(timeout 10 "$BIN" -t -c "$SY_TMP/does-not-exist.ini" 2>&1) || rc=$?
assert_ne 0 "$rc" "-t on a missing file exits non-zero"
assert_contains "$out" "does-not-exist.ini" "the message names the missing file"

# Several errors in one file: all reported, each with its line.
f=$SY_TMP/bad-several.ini
sed -e 's/^pool_size = .*/pool_size = -1/' -e 's/^pool_mode = .*/pool_mode = nope/' "$good" >"$f"
rc=0
out=$(timeout 10 "$BIN" -t -c "$f" 2>&1) || rc=$?
assert_ne 0 "$rc" "two errors: exits non-zero"
assert_contains "$out" "$f:$(grep -n '^pool_size' "$f" | cut -d: -f1):" "two errors: the pool_size line is reported"
assert_contains "$out" "$f:$(grep -n '^pool_mode' "$f" | cut -d: -f1):" "two errors: the pool_mode line is reported"

# -t does not start a proxy: the listen port stays closed.
assert_eq 1 "$(port_listening "$PROXY_PORT" && echo 0 || echo 1)" "-t did not leave anything listening"

rc=0
out=$(timeout 10 "$BIN" --version 2>&1) || rc=$?
assert_eq 0 "$rc" "--version exits 0"
assert_match "$out" '[Ss]witchyard.*[0-9]+\.[0-9]+' "--version prints a name and version"

rc=0
out=$(timeout 10 "$BIN" --help 2>&1) || rc=$?
assert_eq 0 "$rc" "--help exits 0"
assert_contains "$out" "-c" "--help mentions -c"
assert_contains "$out" "-t" "--help mentions -t"

rc=0
out=$(timeout 10 "$BIN" --no-such-option 2>&1) || rc=$?
assert_ne 0 "$rc" "an unknown option exits non-zero"
