"""pg_pin_clients.py — client drivers for tests/integration/test_pg_txn_pins.sh
(transaction pooling, workers = 1, pool_size = 1: every client shares one
server connection). Run with /usr/bin/python3 ($PY).

Every subcommand prints one line per check on stdout:

    CHECK<TAB>label<TAB>expected<TAB>actual

which the test turns into assert_eq calls, and other lines as information.
A subcommand that dies prints a failing CHECK with the traceback.

  pins --port P --direct-port D --phase pin|error
      pin: LISTEN, SQL PREPARE, CREATE TEMP TABLE, pg_advisory_lock(42) and
      DECLARE ... WITH HOLD each pin the server to their client (another
      client waiting for it gets the query_wait_timeout error; the pinner
      keeps its backend and its state works), and once the pinner leaves
      the next client gets the same backend with nothing of that state left.
      error (pin_policy = error): each statement gets 0A000, the session
      goes on, nothing is left on the server, and nobody is pinned.
  prepared --port P
      max_prepared_statements = 3: psycopg 3 (prepare_threshold = 0) and a
      raw-protocol client run 8 distinct named statements in a mixed order;
      every result checked; the server never holds more than 3.
  dealloc --port P
      DEALLOCATE ALL / DISCARD ALL from client A forget A's statements only;
      B's (sharing the server, one with the same text as A's) still run.
      A DISCARD ALL the server refuses (in a transaction block) forgets
      nothing: A's and B's statements still run.
"""

import argparse
import os
import random
import re
import select
import struct
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from pgwire import PG, error_fields, msg  # noqa: E402


# The CHECK protocol and the driver helpers are txn_clients.py's.
from txn_clients import check, clean, dsn, err_of, one, out, pg2_connect, pg3_connect  # noqa: E402,F401


def pg2(port, app="sy_pins"):
    return pg2_connect(port, app=app)


def pg3(port, app="sy_pins"):
    # psycopg 3: unlike psycopg2, it reports the proxy's FATAL message
    # (query_wait_timeout) that precedes the close.
    return pg3_connect(port, app=app)


def close_quietly(c):
    try:
        c.close()
    except Exception:  # noqa: BLE001
        pass


# ------------------------------------------------------------------ pins
# Each case: name, the statements the pinner runs (autocommit, one Query
# each; the last is the one that pins), a check of the pinner's state while
# pinned, and a check that the state is gone for a client on the reset
# server (returns (label, expected, actual) tuples).

def pin_cases(direct):
    def listen_use(A):
        # NOTIFY from a direct connection reaches A through the proxy while
        # A is idle (pinned, holding its server).
        dpid = one(direct, "SELECT pg_backend_pid()")
        one(direct, "NOTIFY pin_chan, 'hello'")
        got = []
        deadline = time.time() + 5
        while not got and time.time() < deadline:
            r, _, _ = select.select([A], [], [], max(0.0, deadline - time.time()))
            if r:
                A.poll()
                got.extend(A.notifies)
                del A.notifies[:]
        n = got[0] if got else None
        return [
            ("A receives the NOTIFY through the proxy (channel, payload)", ("pin_chan", "hello"),
             (n.channel, n.payload) if n else "no notification within 5s"),
            ("the notification names the notifying (direct) backend", dpid, n.pid if n else None),
            ("A listens on pin_chan", "pin_chan", one(A, "SELECT string_agg(c, ',') FROM pg_listening_channels() c")),
        ]

    def listen_gone(C):
        return [("the next client's server listens on no channel", 0,
                 one(C, "SELECT count(*) FROM pg_listening_channels()"))]

    def prepare_use(A):
        return [("A's EXECUTE pin_ps in a later transaction", 42, one(A, "EXECUTE pin_ps(41)")),
                ("A sees pin_ps in pg_prepared_statements", 1,
                 one(A, "SELECT count(*) FROM pg_prepared_statements WHERE name = 'pin_ps'"))]

    def prepare_gone(C):
        return [("the next client's pg_prepared_statements is empty", 0,
                 one(C, "SELECT count(*) FROM pg_prepared_statements")),
                ("the next client's EXECUTE pin_ps fails with 26000", "26000",
                 err_of(lambda: one(C, "EXECUTE pin_ps(1)"))[0])]

    def temp_use(A):
        return [("A reads its temp table in a later transaction", 7, one(A, "SELECT v FROM pin_tmp"))]

    def temp_gone(C):
        return [("the next client does not see pin_tmp (to_regclass)", None,
                 one(C, "SELECT to_regclass('pin_tmp')::text")),
                ("the next client's SELECT FROM pin_tmp fails with 42P01", "42P01",
                 err_of(lambda: one(C, "SELECT v FROM pin_tmp"))[0]),
                ("no table pin_tmp is left on the server (pg_class, direct)", 0,
                 one(direct, "SELECT count(*) FROM pg_class WHERE relname = 'pin_tmp'"))]

    def lock_use(A):
        apid = one(A, "SELECT pg_backend_pid()")
        return [("pg_locks shows A's backend holding advisory lock 42", 1,
                 one(direct, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 42"
                             " AND granted AND pid = %s", (apid,))),
                ("a direct pg_try_advisory_lock(42) fails while A holds it", False,
                 one(direct, "SELECT pg_try_advisory_lock(42)"))]

    def lock_gone(C):
        got = one(direct, "SELECT pg_try_advisory_lock(42)")
        if got:
            one(direct, "SELECT pg_advisory_unlock(42)")
        return [("the next client's server holds no advisory lock (pg_locks via the proxy)", 0,
                 one(C, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")),
                ("no advisory lock at all in pg_locks (direct)", 0,
                 one(direct, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                             " AND pid <> pg_backend_pid()")),
                ("a direct pg_try_advisory_lock(42) succeeds after the pinner left", True, got)]

    def cursor_use(A):
        cur = A.cursor()
        cur.execute("FETCH 2 FROM pin_cur")
        first = [r[0] for r in cur.fetchall()]
        cur.execute("BEGIN")
        cur.execute("FETCH 1 FROM pin_cur")
        second = [r[0] for r in cur.fetchall()]
        cur.execute("COMMIT")
        return [("A's FETCH 2 after COMMIT", [1, 2], first),
                ("A's FETCH 1 in a later transaction", [3], second)]

    def cursor_gone(C):
        return [("the next client's server has no cursor (pg_cursors)", 0, one(C, "SELECT count(*) FROM pg_cursors")),
                ("the next client's FETCH FROM pin_cur fails with 34000", "34000",
                 err_of(lambda: one(C, "FETCH 1 FROM pin_cur"))[0])]

    return [
        ("LISTEN", ["LISTEN pin_chan"], listen_use, listen_gone),
        ("PREPARE", ["PREPARE pin_ps(int) AS SELECT $1 + 1"], prepare_use, prepare_gone),
        ("CREATE TEMP TABLE", ["CREATE TEMP TABLE pin_tmp (v int)", "INSERT INTO pin_tmp VALUES (7)"],
         temp_use, temp_gone),
        ("pg_advisory_lock", ["SELECT pg_advisory_lock(42)"], lock_use, lock_gone),
        ("DECLARE WITH HOLD", ["BEGIN", "DECLARE pin_cur CURSOR WITH HOLD FOR SELECT generate_series(1, 5)",
                               "COMMIT"], cursor_use, cursor_gone),
    ]


def phase_pin(a, direct):
    pids = []
    for name, stmts, use, gone in pin_cases(direct):
        out("info: --- %s" % name)
        # Everyone logs in while the server is free (a login needs one).
        B = pg3(a.port, "pin_b")
        C = pg2(a.port, "pin_c")
        A = pg2(a.port, "pin_a")
        pa = one(A, "SELECT pg_backend_pid()")
        pids.append(pa)
        check("%s: B and A run on the one server" % name, pa, one(B, "SELECT pg_backend_pid()"))
        for s in stmts:
            one(A, s)
        t0 = time.time()
        code, m = err_of(lambda: one(B, "SELECT 1"))
        dt = time.time() - t0
        out("info: %s: B while A is pinned: %s %s after %.2fs" % (name, code, m, dt))
        check("%s: B waiting for the pinned server gets the query_wait_timeout error" % name, True,
              code is not None and "query_wait_timeout" in (m or ""))
        check("%s: B waited about query_wait_timeout (1s)" % name, True, 0.7 <= dt <= 4.0)
        check("%s: A keeps its backend while pinned" % name, pa, one(A, "SELECT pg_backend_pid()"))
        for label, exp, act in use(A):
            check("%s: %s" % (name, label), exp, act)
        # C asks for the server while A still holds it, then A leaves.
        res = {}

        def c_query():
            t1 = time.time()
            res["v"] = err_of(lambda: one(C, "SELECT pg_backend_pid()"))
            res["t"] = time.time() - t1

        th = threading.Thread(target=c_query)
        th.start()
        time.sleep(0.3)
        A.close()
        th.join(10)
        out("info: %s: C after A left: %r in %.2fs" % (name, res.get("v"), res.get("t", -1)))
        check("%s: C, waiting when A disconnects, gets the same (reset) backend" % name, (None, pa),
              res.get("v", ("hung", None)))
        for label, exp, act in gone(C):
            check("%s: %s" % (name, label), exp, act)
        check("%s: C's session goes on" % name, 1, one(C, "SELECT 1"))
        close_quietly(B)
        C.close()
    # Reset, not replaced: the one server connection served every case.
    check("one backend served all five cases", 1, len(set(pids)))


def phase_error(a, direct):
    E = pg2(a.port, "err_e")
    pe = one(E, "SELECT pg_backend_pid()")
    refused = [
        ("LISTEN", "LISTEN pin_chan"),
        ("PREPARE", "PREPARE pin_ps(int) AS SELECT $1 + 1"),
        ("CREATE TEMP TABLE", "CREATE TEMP TABLE pin_tmp (v int)"),
        ("pg_advisory_lock", "SELECT pg_advisory_lock(42)"),
        ("DECLARE WITH HOLD", "DECLARE pin_cur CURSOR WITH HOLD FOR SELECT generate_series(1, 5)"),
        ("pg_advisory_lock in a multi-statement Query", "SELECT 1; SELECT pg_advisory_lock(42)"),
    ]
    for name, sql in refused:
        code, m = err_of(lambda: one(E, sql))
        out("info: %s under pin_policy=error: %s %s" % (name, code, m))
        check("%s is refused with 0A000" % name, "0A000", code)
        check("%s: the error names pin_policy" % name, True, "pin_policy" in (m or ""))
        check("%s: the session goes on (SELECT 1)" % name, 1, err_of(lambda: one(E, "SELECT 1"))[1])
    check("E is still on the same backend", pe, one(E, "SELECT pg_backend_pid()"))
    check("the server listens on no channel", 0, one(E, "SELECT count(*) FROM pg_listening_channels()"))
    check("the server has no prepared statement", 0, one(E, "SELECT count(*) FROM pg_prepared_statements"))
    check("EXECUTE pin_ps fails with 26000", "26000", err_of(lambda: one(E, "EXECUTE pin_ps(1)"))[0])
    check("no temp table pin_tmp (to_regclass)", None, one(E, "SELECT to_regclass('pin_tmp')::text"))
    check("no table pin_tmp on the server (pg_class, direct)", 0,
          one(direct, "SELECT count(*) FROM pg_class WHERE relname = 'pin_tmp'"))
    check("the server has no cursor", 0, one(E, "SELECT count(*) FROM pg_cursors"))
    check("no advisory lock in pg_locks (direct)", 0,
          one(direct, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"))
    got = one(direct, "SELECT pg_try_advisory_lock(42)")
    if got:
        one(direct, "SELECT pg_advisory_unlock(42)")
    check("a direct pg_try_advisory_lock(42) succeeds", True, got)
    # A NOTIFY does not reach E (it listens to nothing).
    one(direct, "NOTIFY pin_chan, 'nobody'")
    r, _, _ = select.select([E], [], [], 0.5)
    if r:
        E.poll()
    check("E gets no notification", 0, len(E.notifies))
    # Nobody is pinned: F gets the only server at once.
    F = pg2(a.port, "err_f")
    t0 = time.time()
    code, v = err_of(lambda: one(F, "SELECT pg_backend_pid()"))
    check("F is served on the same server (E holds no pin)", (None, pe), (code, v))
    check("F was served without waiting", True, time.time() - t0 < 0.8)
    check("E still works", 2, one(E, "SELECT 2"))
    E.close()
    F.close()


def cmd_pins(a):
    direct = pg2(a.direct_port, "pin_direct")
    if a.phase == "pin":
        phase_pin(a, direct)
    else:
        phase_error(a, direct)
    direct.close()


# ------------------------------------------------------------------ raw extended protocol
def cstr(s):
    return s.encode() + b"\0"


def m_parse(name, sql):
    return msg(b"P", cstr(name) + cstr(sql) + struct.pack("!H", 0))


def m_bind(stmt, params):
    body = cstr("") + cstr(stmt) + struct.pack("!H", 0) + struct.pack("!H", len(params))
    for p in params:
        b = str(p).encode()
        body += struct.pack("!i", len(b)) + b
    return msg(b"B", body + struct.pack("!H", 0))


M_EXECUTE = msg(b"E", cstr("") + struct.pack("!I", 0))
M_SYNC = msg(b"S")


def exchange(c, data):
    """Send data, read up to ReadyForQuery: '1 2 D(x) C Z(I)'-style summary."""
    c.send(data)
    parts = []
    while True:
        t, p = c.read_msg()
        if t is None:
            parts.append("closed")
            return " ".join(parts)
        tc = t.decode()
        if tc == "D":
            (n,) = struct.unpack("!H", p[:2])
            off, row = 2, []
            for _ in range(n):
                (ln,) = struct.unpack("!i", p[off:off + 4])
                off += 4
                row.append("NULL" if ln < 0 else p[off:off + ln].decode())
                off += max(ln, 0)
            parts.append("D(%s)" % ",".join(row))
        elif tc == "E":
            f = error_fields(p)
            parts.append("E(%s)" % f.get("C"))
        elif tc == "Z":
            parts.append("Z(%s)" % p.decode())
            return " ".join(parts)
        elif tc in ("S", "N", "K"):
            continue
        else:
            parts.append(tc)


def raw_client(port):
    c = PG(port, timeout=20)
    c.login("app", "app", "app")
    return c


def run_named(c, name, v):
    return exchange(c, m_bind(name, [v]) + M_EXECUTE + M_SYNC)


def server_stmts(c):
    """Names in pg_prepared_statements, by a simple query on c's (the only) server."""
    rows = c.query("SELECT name FROM pg_prepared_statements ORDER BY name")
    return [r[0] for r in rows]


# ------------------------------------------------------------------ prepared
def cmd_prepared(a):
    import psycopg
    P = psycopg.connect(dsn(a.port, app="prep_pg3"), autocommit=True, prepare_threshold=0)
    R = raw_client(a.port)  # raw protocol, names r1..r8
    W = raw_client(a.port)  # simple queries only: looks at the server
    pids = (P.execute("SELECT pg_backend_pid()", prepare=False).fetchone()[0],
            int(R.query("SELECT pg_backend_pid()")[0][0]), int(W.query("SELECT pg_backend_pid()")[0][0]))
    check("the three clients share one backend", 1, len(set(pids)))
    K = list(range(1, 9))
    sql3 = {k: "SELECT %%s::int + %d" % k for k in K}
    sqlr = {k: "SELECT $1::int + %d" % k for k in K}
    # R parses its 8 names up front (answered without a server, prepared on use).
    got = exchange(R, b"".join(m_parse("r%d" % k, sqlr[k]) for k in K) + M_SYNC)
    check("R parses r1..r8", " ".join(["1"] * 8) + " Z(I)", got)
    rnd = random.Random(20240607)
    bad, counts, names_bad = [], [], []
    execs = 0
    for rnd_i in range(10):
        order = K[:]
        rnd.shuffle(order)
        for j, k in enumerate(order):
            v = rnd_i * 100 + j
            try:
                r = P.execute(sql3[k], (v,)).fetchone()[0]
            except Exception as e:  # noqa: BLE001
                r = "error %s" % e
            if r != v + k:
                bad.append("pg3 K=%d v=%d got %r" % (k, v, r))
            execs += 1
            # R runs another of the 8, so the two clients interleave.
            kr = order[(j + 3) % len(order)]
            g = run_named(R, "r%d" % kr, v)
            if g != "2 D(%d) C Z(I)" % (v + kr):
                bad.append("raw r%d v=%d got %s" % (kr, v, g))
            execs += 1
            # Simple queries on the shared server, from the psycopg 3 client
            # itself (PQexec) and from W.
            res = P.pgconn.exec_(b"SELECT count(*) FROM pg_prepared_statements")
            counts.append(int(res.get_value(0, 0)))
            names = server_stmts(W)
            counts.append(len(names))
            names_bad += [n for n in names if not re.fullmatch(r"sy_[0-9a-f]{24}", n)]
    out("info: %d executions; server statement counts: min %d max %d; last %s" %
        (execs, min(counts), max(counts), counts[-8:]))
    check("all %d results are correct" % execs, "[]", bad[:5])
    check("pg_prepared_statements never shows more than 3 (max over %d samples)" % len(counts), True,
          max(counts) <= 3)
    check("the server does hold named statements (else the test proves nothing)", True, max(counts) >= 1)
    check("every server statement is one of the proxy's sy_ names", "[]", sorted(set(names_bad))[:5])
    # psycopg 3 really used named statements (prepare_threshold = 0).
    check("psycopg 3 prepared its statements (names in its cache)", True, len(P._prepared._names) >= 8)
    check("all clients still on the one backend", pids[0], int(W.query("SELECT pg_backend_pid()")[0][0]))
    P.close()
    for c in (R, W):
        c.send(msg(b"X"))
        c.close()


# ------------------------------------------------------------------ dealloc
def cmd_dealloc(a):
    A = raw_client(a.port)
    B = raw_client(a.port)
    pa, pb = A.query("SELECT pg_backend_pid()")[0][0], B.query("SELECT pg_backend_pid()")[0][0]
    check("A and B share one backend", pa, pb)

    for what in ("DEALLOCATE ALL", "DISCARD ALL"):
        tag = what.split()[0]
        check("%s: A parses a1 (x2), a2 (x3)" % tag, "1 1 Z(I)",
              exchange(A, m_parse("a1", "SELECT $1::int * 2") + m_parse("a2", "SELECT $1::int * 3") + M_SYNC))
        check("%s: B parses b1 (same text as a1), b2 (x5)" % tag, "1 1 Z(I)",
              exchange(B, m_parse("b1", "SELECT $1::int * 2") + m_parse("b2", "SELECT $1::int * 5") + M_SYNC))
        check("%s: A runs a1" % tag, "2 D(20) C Z(I)", run_named(A, "a1", 10))
        check("%s: A runs a2" % tag, "2 D(30) C Z(I)", run_named(A, "a2", 10))
        check("%s: B runs b1" % tag, "2 D(22) C Z(I)", run_named(B, "b1", 11))
        check("%s: B runs b2" % tag, "2 D(55) C Z(I)", run_named(B, "b2", 11))
        n_before = len(server_stmts(A))
        check("%s: the server holds the statements before (3 distinct texts)" % tag, 3, n_before)
        check("%s: A's %s" % (tag, what), "C Z(I)", exchange(A, msg(b"Q", cstr(what))))
        check("%s: the server ran it (pg_prepared_statements empty)" % tag, 0, len(server_stmts(B)))
        check("%s: B's b1 still runs (shared text with A's a1)" % tag, "2 D(24) C Z(I)", run_named(B, "b1", 12))
        check("%s: B's b2 still runs" % tag, "2 D(60) C Z(I)", run_named(B, "b2", 12))
        check("%s: A's a1 is gone for A (26000)" % tag, "E(26000) Z(I)", run_named(A, "a1", 1))
        check("%s: A's a2 is gone for A (26000)" % tag, "E(26000) Z(I)", run_named(A, "a2", 1))
        check("%s: B's b1 again after A's failures" % tag, "2 D(26) C Z(I)", run_named(B, "b1", 13))
        check("%s: A's session goes on (simple query)" % tag, [("ok",)], A.query("SELECT 'ok'"))
        # The names are free for A again; B then closes its own for the next round.
        check("%s: A can parse a1 again and run it" % tag, "1 2 D(14) C Z(I)",
              exchange(A, m_parse("a1", "SELECT $1::int * 2") + m_bind("a1", [7]) + M_EXECUTE + M_SYNC))
        check("%s: A closes a1, B closes b1, b2" % tag, "3 Z(I) 3 3 Z(I)",
              exchange(A, msg(b"C", b"S" + cstr("a1")) + M_SYNC) + " " +
              exchange(B, msg(b"C", b"S" + cstr("b1")) + msg(b"C", b"S" + cstr("b2")) + M_SYNC))

    # A DISCARD ALL the server refuses (inside a transaction block, 25001)
    # ran nowhere: on PostgreSQL A's statements stay, and the server keeps
    # every statement, so nobody's statements may break.
    check("B parses b9 and runs it", "1 Z(I) 2 D(11) C Z(I)",
          exchange(B, m_parse("b9", "SELECT $1::int * 11") + M_SYNC) + " " + run_named(B, "b9", 1))
    check("A parses a5 and runs it", "1 Z(I) 2 D(7) C Z(I)",
          exchange(A, m_parse("a5", "SELECT $1::int * 7") + M_SYNC) + " " + run_named(A, "a5", 1))
    n0 = server_stmts(B)
    check("the server holds b9's and a5's statements (and older ones)", True, len(n0) >= 2)
    got = [exchange(A, msg(b"Q", cstr(q))) for q in ("BEGIN", "DISCARD ALL", "ROLLBACK")]
    check("A: BEGIN; DISCARD ALL fails with 25001; ROLLBACK", "C Z(T) | E(25001) Z(E) | C Z(I)", " | ".join(got))
    check("the server still holds the same statements (the DISCARD ALL did not run)", n0, server_stmts(B))
    check("B's b9 still runs after A's failed DISCARD ALL", "2 D(22) C Z(I)", run_named(B, "b9", 2))
    check("A's a5 survives its failed DISCARD ALL", "2 D(14) C Z(I)", run_named(A, "a5", 2))
    check("A can parse a6 (a5's text) and run it", "1 2 D(21) C Z(I)",
          exchange(A, m_parse("a6", "SELECT $1::int * 7") + m_bind("a6", [3]) + M_EXECUTE + M_SYNC))
    for c in (A, B):
        c.send(msg(b"X"))
        c.close()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pins")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--direct-port", type=int, required=True)
    p.add_argument("--phase", choices=("pin", "error"), required=True)
    p = sub.add_parser("prepared")
    p.add_argument("--port", type=int, required=True)
    p = sub.add_parser("dealloc")
    p.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    try:
        {"pins": cmd_pins, "prepared": cmd_prepared, "dealloc": cmd_dealloc}[a.cmd](a)
    except Exception:  # noqa: BLE001
        check("%s finished without an exception" % a.cmd, "no exception", traceback.format_exc())
        sys.exit(1)


if __name__ == "__main__":
    main()
