#!/usr/bin/env bash
# COPY of about 100 MB in and out through the proxy in transaction pooling
# (pool_size = 2): a file made on the server with generate_series is loaded
# with \copy FROM through the proxy, read back with \copy TO through the
# proxy, and both the file read back and a direct \copy TO of the table are
# byte-identical (md5) to the original. COPY inside an explicit transaction
# that is rolled back leaves nothing; a COPY with a bad row fails cleanly and
# the session goes on.
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=transaction pool_size=2 workers=2
start_proxy "$cfg"

src=$SY_TMP/src.tsv
back=$SY_TMP/back.tsv
direct=$SY_TMP/direct.tsv
on_exit "rm -f $src $back $direct"
rows=800000
pg_direct -q -c "SET client_min_messages = warning; DROP TABLE IF EXISTS txn_copy;
	CREATE UNLOGGED TABLE txn_copy (i int PRIMARY KEY, h text, pad text, n numeric, t timestamptz)"
pg_direct -c "\\copy (SELECT i, md5(i::text), repeat(chr(97 + i % 26), 40 + i % 7), i / 7.0, '2024-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, $rows) i ORDER BY i) TO '$src'"
size=$(stat -c %s "$src")
note "source file: $size bytes"
[ "$size" -gt 95000000 ] || fail "the source file is only $size bytes"
_ok "the source file has $size bytes (~100 MB)"
sum_src=$(md5sum <"$src" | cut -d' ' -f1)

t0=$SECONDS
out=$(pg_proxy -c "\\copy txn_copy FROM '$src'" 2>&1)
echo "$out"
assert_eq "" "$out" "\\copy FROM through the proxy reports no error"
assert_eq "$rows" "$(pg_direct -c 'SELECT count(*) FROM txn_copy')" "$rows rows arrived on the server"
note "copy in: $((SECONDS - t0)) s"

t0=$SECONDS
pg_proxy -c "\\copy (SELECT * FROM txn_copy ORDER BY i) TO '$back'"
note "copy out: $((SECONDS - t0)) s"
assert_eq "$size" "$(stat -c %s "$back")" "\\copy TO through the proxy wrote as many bytes"
assert_eq "$sum_src" "$(md5sum <"$back" | cut -d' ' -f1)" "\\copy TO through the proxy is byte-identical to the source"
pg_direct -c "\\copy (SELECT * FROM txn_copy ORDER BY i) TO '$direct'"
assert_eq "$sum_src" "$(md5sum <"$direct" | cut -d' ' -f1)" "a direct \\copy TO of the loaded table is byte-identical to the source"

# COPY TO STDOUT (not \copy) through the proxy, streamed into md5sum.
sum_stdout=$(pg_proxy -c "COPY (SELECT * FROM txn_copy ORDER BY i) TO STDOUT" | md5sum | cut -d' ' -f1)
assert_eq "$sum_src" "$sum_stdout" "COPY TO STDOUT through the proxy is byte-identical"

# In a transaction that is rolled back: nothing stays.
head -n 1000 "$src" | sed 's/^\([0-9]*\)/-\1/' >"$SY_TMP/neg.tsv"
pg_proxy -c "BEGIN" -c "\\copy txn_copy FROM '$SY_TMP/neg.tsv'" -c "SELECT count(*) FROM txn_copy WHERE i < 0" -c "ROLLBACK" >"$SY_TMP/tx.out"
assert_eq "1000" "$(head -n 1 "$SY_TMP/tx.out")" "COPY inside a transaction is visible inside it"
assert_eq 0 "$(pg_direct -c 'SELECT count(*) FROM txn_copy WHERE i < 0')" "and gone after ROLLBACK"

# A failing COPY (duplicate key) errors; the session goes on.
out=$(pg_proxy -v ON_ERROR_STOP=0 -v VERBOSITY=verbose -c "\\copy txn_copy FROM '$SY_TMP/neg.tsv'" -c "\\copy txn_copy FROM '$SY_TMP/neg.tsv'" -c "SELECT 'after'" 2>&1) || true
assert_contains "$out" "23505" "a duplicate row fails the COPY with 23505"
assert_contains "$out" "after" "the session goes on after the failed COPY"
assert_eq 1000 "$(pg_direct -c 'SELECT count(*) FROM txn_copy WHERE i < 0')" "the first COPY committed, the failed one left nothing"
assert_eq 0 "$(pg_monitor -c "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state LIKE 'idle in transaction%'")" \
	"no server is left inside a transaction"
pg_direct -c "DROP TABLE txn_copy"
assert_ok proxy_alive
