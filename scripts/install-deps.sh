#!/usr/bin/env bash
# install-deps.sh — install the Debian 12 packages Switchyard needs to build,
# test and run its demo. Idempotent: asks dpkg which packages are missing and
# installs only those (apt-get update only when something is missing). Fast
# (one dpkg-query call) when everything is present.
#
# Package servers (postgresql, mariadb) are installed with a policy-rc.d that
# forbids starting services: the test harness and the demo run their own
# instances in their own folders (tests/integration/fleet.sh).
#
# Used by `make deps`, hence by `make test` and `make demo`. Works with no
# stdin and CI=true.
set -euo pipefail

PKGS=(
	build-essential pkg-config clang llvm
	libclang-rt-14-dev        # libFuzzer + sanitizer runtimes for clang 14 (not pulled in by clang)
	libevent-dev libssl-dev libpcre2-dev libinih-dev libcmocka-dev
	postgresql-15             # server binaries, pgbench is in this package on Debian 12
	postgresql-client-15 postgresql-contrib
	mariadb-server mariadb-client
	openssl python3 python3-psycopg2 python3-psycopg python3-pymysql python3-cryptography prometheus
	libmariadb-dev            # the prepared-statement test client (tests/integration/my_stmt_client.c)
	sysbench pgbouncer haproxy
	procps iproute2 curl
	chromium                  # headless rendering of the stats page (test_stats_port)
)

# One dpkg-query for all of them; missing packages produce no "installed" line.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PKGS[@]}" 2>/dev/null || true)
missing=()
for p in "${PKGS[@]}"; do
	if ! grep -qx "$p installed" <<<"$installed"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all dependencies present"
	exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo -n"
	else
		echo "deps: missing ${missing[*]} and not root (no sudo): install them as root" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run instead of failing on its lock.
LOCK_OPT=(-o DPkg::Lock::Timeout=300)
APT_OPTS=(-y -q "${LOCK_OPT[@]}" -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# Keep the package scripts from starting postgresql / mariadb services.
POLICY=/usr/sbin/policy-rc.d
policy_backup=
policy_created=0
restore_policy() {
	if [ "$policy_created" = 1 ]; then
		$SUDO rm -f "$POLICY"
		if [ -n "$policy_backup" ]; then $SUDO mv -f "$policy_backup" "$POLICY"; fi
	fi
}
trap restore_policy EXIT
if [ -e "$POLICY" ]; then
	policy_backup=$(mktemp /tmp/policy-rc.d.XXXXXX)
	$SUDO cp -p "$POLICY" "$policy_backup"
fi
printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
$SUDO chmod 755 "$POLICY"
policy_created=1

echo "deps: installing ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q "${LOCK_OPT[@]}" </dev/null >/tmp/switchyard-apt-update.log 2>&1 || {
	cat /tmp/switchyard-apt-update.log >&2
	echo "deps: apt-get update failed" >&2
	exit 1
}
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install "${APT_OPTS[@]}" "${missing[@]}" \
	</dev/null >/tmp/switchyard-apt-install.log 2>&1; then
	tail -n 40 /tmp/switchyard-apt-install.log >&2
	echo "deps: apt-get install failed (full log: /tmp/switchyard-apt-install.log)" >&2
	exit 1
fi

# Check again: everything must now be installed.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PKGS[@]}" 2>/dev/null || true)
still=()
for p in "${missing[@]}"; do
	grep -qx "$p installed" <<<"$installed" || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
	echo "deps: still missing after install: ${still[*]}" >&2
	exit 1
fi
echo "deps: installed ${missing[*]}"
