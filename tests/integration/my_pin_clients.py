"""my_pin_clients.py — PyMySQL drivers for tests/integration/test_my_pins.sh
(MySQL transaction pooling, workers = 1, pool_size = 1: every client shares
the one server connection). Run with /usr/bin/python3 ($PY).

Every subcommand prints one line per check on stdout:

    CHECK<TAB>label<TAB>expected<TAB>actual

which the test turns into assert_eq calls (run_checks), and other lines as
information. A subcommand that dies prints a failing CHECK with the
traceback.

The server connection a client is on is told by SELECT @@pseudo_thread_id
(the server's thread id; CONNECTION_ID() through the proxy answers the
proxy's own connection id) — a system variable read, which does not pin.

  tracked --port P --direct-port D
      The tracked session variables max_statement_time (MariaDB has no
      max_execution_time), foreign_key_checks, unique_checks,
      sql_safe_updates, wait_timeout, tx_isolation (MariaDB 10.11 has no
      transaction_isolation) and sql_select_limit follow each client:
      client A sets them, client B on the same server connection sees its
      defaults, A keeps its values, and neither is pinned (B is served
      while A is idle, both stay on the one server). Their effect is
      real: sql_select_limit = 2 gives A 2 rows of 5, sql_safe_updates = 1
      gives A error 1175 for an UPDATE without WHERE, foreign_key_checks = 0
      lets A insert an orphan row (B gets 1452), max_statement_time stops
      A's SLEEP (1969) and not B's.

  pins --port P --direct-port D --wait-timeout SECONDS
      LOCK TABLES ... READ, GET_LOCK(), SQL_CALC_FOUND_ROWS + FOUND_ROWS()
      and LAST_INSERT_ID(expr) each pin (LAST_INSERT_ID() does not: each
      client reads its own last id, with others inserting on the same
      server in between): the server stays with client A (A's
      state works; another client waiting for the server gets ERR 1927
      after query_wait_timeout, or is served once A leaves); after A
      leaves, the next client gets the same server connection, reset
      (COM_RESET_CONNECTION): no table lock, no named lock, no user
      variable, LAST_INSERT_ID() 0. Prints "PINS_EXPECTED n": how many
      client sessions pinned.
"""

import argparse
import sys
import threading
import time
import traceback

import pymysql

ARGS = None


def out(*a):
    print(*a, flush=True)


def check(label, expected, actual):
    out("CHECK\t%s\t%s\t%s" % (label, expected, actual))


def conn(port=None, **kw):
    return pymysql.connect(host="127.0.0.1", port=port or ARGS.port, user="app", password="app",
                           database="shop", autocommit=True, connect_timeout=20, read_timeout=30, **kw)


def direct():
    return conn(ARGS.direct_port)


def one(c, sql):
    cur = c.cursor()
    cur.execute(sql)
    r = cur.fetchone()
    return r[0] if r else None


def rows(c, sql):
    cur = c.cursor()
    cur.execute(sql)
    return cur.fetchall()


def err_of(c, sql):
    """The server error code a statement gets, or 'ok'."""
    try:
        c.cursor().execute(sql)
        return "ok"
    except pymysql.err.MySQLError as e:
        return e.args[0] if e.args else repr(e)


def tid(c):
    return one(c, "SELECT @@pseudo_thread_id")


def close_quietly(c):
    try:
        c.close()
    except Exception:  # noqa: BLE001
        pass


# ------------------------------------------------------------------ tracked

# name, how A sets it, what A then reads, the server's default form
TRACKED = [
    ("max_statement_time", "SET max_statement_time = 0.5", "0.5"),
    ("foreign_key_checks", "SET SESSION foreign_key_checks = 0", "0"),
    ("unique_checks", "SET unique_checks = 0", "0"),
    ("sql_safe_updates", "SET @@session.sql_safe_updates = 1", "1"),
    ("wait_timeout", "SET LOCAL wait_timeout = 777", "777"),
    ("tx_isolation", "SET SESSION tx_isolation = 'READ-COMMITTED'", "READ-COMMITTED"),
    ("sql_select_limit", "SET sql_select_limit = 2", "2"),
]


def s(v):
    return "%s" % (v,)


def cmd_tracked():
    d = direct()
    a, b = conn(), conn()
    t0 = tid(a)
    check("tracked: A and B share one server connection", t0, tid(b))
    # B's values before anything is set: the defaults a fresh session has
    defaults = {}
    for name, _, _ in TRACKED:
        defaults[name] = s(one(b, "SELECT @@%s" % name))
        check("tracked: a direct session's default %s is B's" % name,
              s(one(d, "SELECT @@%s" % name)), defaults[name])
    for name, stmt, a_val in TRACKED:
        check("tracked: A sets %s (%s)" % (name, stmt), "ok", err_of(a, stmt))
        check("tracked: A reads its %s" % name, a_val, s(one(a, "SELECT @@%s" % name)))
        check("tracked: B sees the default %s" % name, defaults[name], s(one(b, "SELECT @@%s" % name)))
        check("tracked: A still has its %s after B's statement" % name, a_val, s(one(a, "SELECT @@%s" % name)))
    names = [n for n, _, _ in TRACKED]
    sel = "SELECT " + ", ".join("@@%s" % n for n in names)
    check("tracked: all of A's values in one statement", "|".join(v for _, _, v in TRACKED),
          "|".join(s(v) for v in rows(a, sel)[0]))
    check("tracked: all of B's defaults in one statement", "|".join(defaults[n] for n in names),
          "|".join(s(v) for v in rows(b, sel)[0]))
    check("tracked: A is still on the shared server", t0, tid(a))
    check("tracked: B is still on the shared server", t0, tid(b))

    # the values act on the server for A only
    check("tracked: sql_select_limit = 2: A gets 2 of the 5 rows", 2, len(rows(a, "SELECT id FROM pins_t")))
    check("tracked: B gets all 5 rows", 5, len(rows(b, "SELECT id FROM pins_t")))
    check("tracked: sql_safe_updates = 1: A's UPDATE without WHERE gets 1175", 1175,
          err_of(a, "UPDATE pins_t SET v = v"))
    # after an error the proxy keeps A's server for SHOW WARNINGS; one
    # clean statement gives it back (else B would wait for it)
    check("tracked: A's next statement runs", 1, one(a, "SELECT 1"))
    check("tracked: B's UPDATE without WHERE runs", "ok", err_of(b, "UPDATE pins_t SET v = v"))
    check("tracked: foreign_key_checks = 0: A inserts an orphan child row", "ok",
          err_of(a, "INSERT INTO pins_child (id, pid) VALUES (1, 999)"))
    check("tracked: B's orphan child row gets 1452", 1452,
          err_of(b, "INSERT INTO pins_child (id, pid) VALUES (2, 999)"))
    check("tracked: B's next statement runs", 1, one(b, "SELECT 1"))
    t = time.monotonic()
    check("tracked: max_statement_time = 0.5: A's SLEEP(3) gets 1969", 1969, err_of(a, "SELECT SLEEP(3)"))
    check("tracked: A's SLEEP was stopped early", True, time.monotonic() - t < 2.5)
    check("tracked: A's next statement runs", 1, one(a, "SELECT 1"))
    # B has no limit: a SLEEP longer than A's limit runs to its end
    check("tracked: B's SLEEP(0.8), past A's limit, is not stopped", 0, one(b, "SELECT SLEEP(0.8)"))
    # A READ COMMITTED transaction sees a row committed meanwhile; B's
    # REPEATABLE READ one does not (each in its own turn: pool_size = 1,
    # a transaction keeps the server until COMMIT)
    for who, c, expect in (("A", a, "1"), ("B", b, "0")):
        one(c, "BEGIN")
        before = one(c, "SELECT COUNT(*) FROM pins_t WHERE id = 100")
        one(d, "INSERT INTO pins_t (id, v) VALUES (100, 0)")
        after = one(c, "SELECT COUNT(*) FROM pins_t WHERE id = 100")
        one(c, "COMMIT")
        one(d, "DELETE FROM pins_t WHERE id = 100")
        check("tracked: %s's transaction sees a concurrent commit (isolation)" % who,
              "0 " + expect, "%s %s" % (before, after))
    check("tracked: A is not pinned: still on the shared server", t0, tid(a))
    check("tracked: B is not pinned: still on the shared server", t0, tid(b))
    # a third client also shares the server and sees only defaults
    c = conn()
    check("tracked: a new client C gets the same server", t0, tid(c))
    check("tracked: C sees all the defaults", "|".join(defaults[n] for n in names),
          "|".join(s(v) for v in rows(c, sel)[0]))
    check("tracked: C gets all 5 rows", 5, len(rows(c, "SELECT id FROM pins_t")))
    for x in (a, b, c, d):
        x.close()


# ------------------------------------------------------------------ pins

def waits_and_fails(c, label):
    """c asks for the server while another client holds it pinned: ERR 1927
    after query_wait_timeout, and the proxy closes c."""
    t = time.monotonic()
    code = err_of(c, "SELECT 1")
    el = time.monotonic() - t
    check("%s: a waiting client gets ERR 1927 (query_wait_timeout)" % label, 1927, code)
    w = ARGS.wait_timeout
    check("%s: it waited about query_wait_timeout (%.1fs)" % (label, w), True, w - 0.2 <= el <= w + 3)
    out("info: %s: waited %.2fs" % (label, el))
    close_quietly(c)


def after_leave(t0, label):
    """The next client after the pinner left: same server, reset."""
    c = conn()
    check("%s: the next client gets the same server connection" % label, t0, tid(c))
    check("%s: the pinner's user variable is gone (reset)" % label, "None", s(one(c, "SELECT @sy_mark")))
    return c


def case_lock_tables():
    L = "LOCK TABLES"
    d = direct()
    a, b, w = conn(), conn(), conn()
    t0 = tid(a)
    check("%s: A, B and W share one server" % L, "%s %s" % (t0, t0), "%s %s" % (tid(b), tid(w)))
    check("%s: A locks pins_t READ" % L, "ok", err_of(a, "LOCK TABLES pins_t READ"))
    check("%s: A reads pins_t under its lock" % L, 5, one(a, "SELECT COUNT(*) FROM pins_t"))
    check("%s: A's write to a READ-locked table gets 1099" % L, 1099, err_of(a, "UPDATE pins_t SET v = v WHERE id = 1"))
    check("%s: A stays on its server" % L, t0, tid(a))
    one(a, "SET @sy_mark = 'lock'")
    check("%s: A's user variable" % L, "lock", one(a, "SELECT @sy_mark"))
    # the lock is on the server: a direct write waits for it
    one(d, "SET SESSION lock_wait_timeout = 1")
    check("%s: a direct write waits for A's lock (1205)" % L, 1205, err_of(d, "UPDATE pins_t SET v = v WHERE id = 1"))
    waits_and_fails(b, L)
    # W waits for the server while A holds it, and is served once A leaves
    res = {}

    def writer():
        t = time.monotonic()
        res["err"] = err_of(w, "UPDATE pins_t SET v = v + 1 WHERE id = 2")
        res["el"] = time.monotonic() - t
        res["tid"] = tid(w)
        res["mark"] = s(one(w, "SELECT @sy_mark"))
    th = threading.Thread(target=writer)
    th.start()
    time.sleep(0.5)
    check("%s: W is still waiting while A holds the server" % L, True, th.is_alive())
    a.close()
    th.join(20)
    check("%s: after A leaves, W's write to pins_t runs" % L, "ok", res.get("err"))
    check("%s: W waited for A to leave" % L, True, res.get("el", 0) >= 0.4)
    check("%s: W is on A's server connection" % L, t0, res.get("tid"))
    check("%s: W does not see A's user variable (reset)" % L, "None", res.get("mark"))
    check("%s: W's write landed" % L, 3, one(d, "SELECT v FROM pins_t WHERE id = 2"))
    check("%s: a direct write runs now" % L, "ok", err_of(d, "UPDATE pins_t SET v = v - 1 WHERE id = 2"))
    for x in (w, d):
        x.close()
    return 2  # A, W (its @sy_mark read)


def case_get_lock():
    L = "GET_LOCK"
    d = direct()
    a, b = conn(), conn()
    t0 = tid(a)
    check("%s: A and B share one server" % L, t0, tid(b))
    check("%s: A takes the named lock" % L, 1, one(a, "SELECT GET_LOCK('sy_pin_x', 0)"))
    check("%s: direct: the lock is taken" % L, 0, one(d, "SELECT IS_FREE_LOCK('sy_pin_x')"))
    check("%s: direct: held by A's server thread" % L, t0, one(d, "SELECT IS_USED_LOCK('sy_pin_x')"))
    one(a, "SET @sy_mark = 'getlock'")
    check("%s: A stays on its server" % L, t0, tid(a))
    check("%s: A still holds its lock" % L, t0, one(a, "SELECT IS_USED_LOCK('sy_pin_x')"))
    waits_and_fails(b, L)
    check("%s: the lock survives B's wait" % L, 0, one(d, "SELECT IS_FREE_LOCK('sy_pin_x')"))
    a.close()
    c = after_leave(t0, L)  # served only once the reset is done
    check("%s: direct: after A left, IS_FREE_LOCK = 1" % L, 1, one(d, "SELECT IS_FREE_LOCK('sy_pin_x')"))
    check("%s: the next client can take the lock" % L, 1, one(c, "SELECT GET_LOCK('sy_pin_x', 0)"))
    check("%s: and release it" % L, 1, one(c, "SELECT RELEASE_LOCK('sy_pin_x')"))
    for x in (c, d):
        x.close()
    return 2


def case_found_rows():
    L = "SQL_CALC_FOUND_ROWS"
    a, b = conn(), conn()
    t0 = tid(a)
    check("%s: A and B share one server" % L, t0, tid(b))
    got = rows(a, "SELECT SQL_CALC_FOUND_ROWS id FROM pins_t WHERE id <= 4 ORDER BY id LIMIT 1")
    check("%s: A's page has 1 row" % L, 1, len(got))
    waits_and_fails(b, L)
    check("%s: A's FOUND_ROWS() is its query's count" % L, 4, one(a, "SELECT FOUND_ROWS()"))
    check("%s: A stays on its server" % L, t0, tid(a))
    got = rows(a, "SELECT SQL_CALC_FOUND_ROWS id FROM pins_t WHERE id <= 3 LIMIT 2")
    check("%s: A's second count" % L, "2 3", "%d %s" % (len(got), one(a, "SELECT FOUND_ROWS()")))
    one(a, "SET @sy_mark = 'found'")
    a.close()
    c = after_leave(t0, L)
    c.close()
    return 2


def case_last_insert_id():
    """LAST_INSERT_ID() does not pin: the proxy keeps each client's value
    (from its OK packets) and sets it on the server before a statement
    that reads it; LAST_INSERT_ID(expr) sets the session's value: a pin."""
    L = "LAST_INSERT_ID"
    a, b = conn(), conn()
    t0 = tid(a)
    check("%s: A and B share one server" % L, t0, tid(b))
    ca = a.cursor()
    ca.execute("INSERT INTO pins_ai (who) VALUES ('a')")
    id_a = ca.lastrowid
    cb = b.cursor()
    cb.execute("INSERT INTO pins_ai (who) VALUES ('b')")
    id_b = cb.lastrowid
    check("%s: A's and B's inserts got different ids" % L, True, id_a != id_b and id_a > 0 and id_b > 0)
    check("%s: B's insert ran on the shared server" % L, t0, tid(b))
    # A's LAST_INSERT_ID() is its own insert's id, even though B inserted
    # on the same server connection in between
    check("%s: A reads its own id after B's insert in between" % L, id_a, one(a, "SELECT LAST_INSERT_ID()"))
    check("%s: B reads its own id after A's read" % L, id_b, one(b, "SELECT LAST_INSERT_ID()"))
    check("%s: A's id inside an expression and a WHERE" % L, "a",
          one(a, "SELECT who FROM pins_ai WHERE id = LAST_INSERT_ID( )"))
    check("%s: a new client's LAST_INSERT_ID() is 0" % L, 0, one(conn(), "SELECT LAST_INSERT_ID()"))
    # A statement that generates no id leaves LAST_INSERT_ID() alone
    one(a, "UPDATE pins_ai SET who = 'a1' WHERE id = %d" % id_a)
    check("%s: an UPDATE does not change A's value" % L, id_a, one(a, "SELECT LAST_INSERT_ID()"))
    # A multi-row INSERT: the first id generated
    ca.execute("INSERT INTO pins_ai (who) VALUES ('m1'), ('m2'), ('m3')")
    first = ca.lastrowid
    cb.execute("INSERT INTO pins_ai (who) VALUES ('b2')")
    check("%s: after a multi-row INSERT, the first id" % L, first, one(a, "SELECT LAST_INSERT_ID()"))
    check("%s: nobody pinned: A still shares the server" % L, t0, tid(a))
    check("%s: nobody pinned: B still shares the server" % L, t0, tid(b))
    # LAST_INSERT_ID(expr) sets the session's value: that pins
    check("%s: A sets its value with LAST_INSERT_ID(77)" % L, 77, one(a, "SELECT LAST_INSERT_ID(77)"))
    waits_and_fails(b, L + "(expr)")
    check("%s: A (pinned) reads 77" % L, 77, one(a, "SELECT LAST_INSERT_ID()"))
    check("%s: A stays on its server" % L, t0, tid(a))
    one(a, "SET @sy_mark = 'lastid'")
    a.close()
    c = after_leave(t0, L)
    check("%s: the next client's LAST_INSERT_ID() is 0 (reset)" % L, 0, one(c, "SELECT LAST_INSERT_ID()"))
    c.close()
    return 2


def cmd_pins():
    n = 0
    for case in (case_lock_tables, case_get_lock, case_found_rows, case_last_insert_id):
        try:
            n += case()
        except Exception:  # noqa: BLE001
            check("%s ran without an exception" % case.__name__, "no exception",
                  traceback.format_exc().replace("\n", " | ").replace("\t", " "))
    out("PINS_EXPECTED %d" % n)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["tracked", "pins"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--direct-port", type=int, required=True)
    ap.add_argument("--wait-timeout", type=float, default=1.0)
    ARGS = ap.parse_args()
    try:
        {"tracked": cmd_tracked, "pins": cmd_pins}[ARGS.cmd]()
    except Exception:  # noqa: BLE001
        check("%s ran without an exception" % ARGS.cmd, "no exception",
              traceback.format_exc().replace("\n", " | ").replace("\t", " "))
        sys.exit(1)


if __name__ == "__main__":
    main()
