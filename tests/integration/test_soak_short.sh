#!/usr/bin/env bash
# The short soak of `make test` (issue 6): tests/soak.sh for SOAK_SECONDS
# (default 120) on this run's fleet — pgbench TPC-B and -S -M prepared,
# reconnecting pgbench, sysbench read/write and point selects, a reconnect
# loop of mariadb clients, all through switchyard in transaction pooling,
# with the PostgreSQL and MariaDB primaries killed and restarted in turn
# every 30 s. It fails on a proxy crash, a client error outside a restart
# window, no transactions, or VmRSS / fd growth (see tests/soak.sh; the
# 30-minute figures are in docs/reliability.md).
. "$(dirname "$0")/lib.sh"

log=$SY_TMP/soak.out
if PG_CLIENTS=4 MY_CLIENTS=2 timeout $((${SOAK_SECONDS:-120} + 240)) \
	"$HERE/../soak.sh" "${SOAK_SECONDS:-120}" >"$log" 2>&1; then
	_ok "soak of ${SOAK_SECONDS:-120} s passed"
else
	fail "soak failed (exit $?)"
fi
sed -n '/soak summary/,/^=\{20,\}$/p' "$log"
grep -E '^FAIL' "$log" || true
# the fleet is whole again for the tests that follow
assert_eq 1 "$(pg_direct -c 'SELECT 1')" "the PostgreSQL primary is back"
assert_eq 1 "$(my_direct -e 'SELECT 1')" "the MariaDB primary is back"
