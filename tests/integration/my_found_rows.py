"""my_found_rows.py PROXY_PORT DIRECT_PORT — CLIENT_FOUND_ROWS through the
proxy (PyMySQL client_flag): UPDATE counts match MariaDB's own, for clients
with and without the flag (served by the same pool, whose servers are
logged in without it), in single and
multi-statement queries. Prints CHECK<TAB>label<TAB>expected<TAB>actual
lines (lib.sh run_checks)."""
import sys

import pymysql
from pymysql.constants import CLIENT


def check(label, expected, actual):
    print("CHECK\t%s\t%s\t%s" % (label, expected, actual), flush=True)


def conn(port, flags):
    return pymysql.connect(host="127.0.0.1", port=port, user="app", password="app", database="shop",
                           autocommit=True, client_flag=flags)


STATEMENTS = [
    ("UPDATE fr_t SET v = v", "nothing changed, 3 matched"),
    ("UPDATE fr_t SET v = 2 WHERE id >= 2", "1 changed of 2 matched"),
    ("UPDATE fr_t SET v = v + 1", "all changed"),
    ("UPDATE fr_t SET v = 9 WHERE id = 99", "none matched"),
]


def counts(c):
    cur = c.cursor()
    cur.execute("DELETE FROM fr_t")
    cur.execute("INSERT INTO fr_t VALUES (1, 1), (2, 2), (3, 3)")
    got = [cur.execute(sql) for sql, _ in STATEMENTS]
    # two UPDATEs in one query: each result's count
    cur.execute("UPDATE fr_t SET v = v; UPDATE fr_t SET v = 7 WHERE id = 1")
    got.append(cur.rowcount)
    cur.nextset()
    got.append(cur.rowcount)
    return got


def main():
    proxy, direct = int(sys.argv[1]), int(sys.argv[2])
    d = conn(direct, CLIENT.MULTI_STATEMENTS)
    d.cursor().execute("CREATE TABLE IF NOT EXISTS fr_t (id INT PRIMARY KEY, v INT)")
    labels = [l for _, l in STATEMENTS] + ["multi-statement, first", "multi-statement, second"]
    want = {}
    for name, flags in (("found_rows", CLIENT.FOUND_ROWS), ("plain", 0)):
        want[name] = counts(conn(direct, flags | CLIENT.MULTI_STATEMENTS))
    check("direct: FOUND_ROWS counts matched rows (3 for SET v = v)", 3, want["found_rows"][0])
    check("direct: without it, changed rows (0)", 0, want["plain"][0])
    a = conn(proxy, CLIENT.FOUND_ROWS | CLIENT.MULTI_STATEMENTS)
    b = conn(proxy, CLIENT.MULTI_STATEMENTS)
    for name, c in (("found_rows", a), ("plain", b), ("found_rows", a)):
        got = counts(c)
        for label, w, g in zip(labels, want[name], got):
            check("proxy, %s: %s (as directly)" % (name, label), w, g)
    d.cursor().execute("DROP TABLE fr_t")


if __name__ == "__main__":
    main()
