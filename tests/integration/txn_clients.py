"""txn_clients.py — client drivers for the transaction/statement pooling tests
(tests/integration/test_pg_txn_*.sh). Run with /usr/bin/python3 ($PY).

Most subcommands print one line per check on stdout:

    CHECK<TAB>label<TAB>expected<TAB>actual

which the test turns into assert_eq calls (see run_checks in the tests), and
other lines as information. A subcommand that dies prints a CHECK line
"<subcommand> finished without an exception" with the traceback as actual.

  monitor  --port P --out FILE [--user app]
      Poll pg_stat_activity (as monitor) every 10 ms for client backends of
      USER until SIGTERM; then write {"max": N, "samples": N, "error": ...}.
  prepared --port P [--threads 100] [--rounds 3]
      psycopg 3, prepare_threshold=0: every thread runs 10 distinct
      parameterized statements (in a thread-specific order, so the driver's
      statement names _pg3_N stand for different SQL in different clients)
      ROUNDS times, checking every result; half the threads in autocommit,
      half in explicit transactions.
  samename --port P
      Raw protocol: two clients Parse the same statement name with different
      SQL and use it, interleaved, pipelined, across transactions, after Close.
  session --port P --direct-port D --phase pin|error
      Session-state isolation (pool_size = 1): tracked TimeZone, pinning SET
      search_path / statement_timeout, query_wait_timeout while pinned;
      pin_policy = error.
  cancel --port P --direct-port D [--rounds 3]
      Cancel a pg_sleep(30) with psycopg2's conn.cancel() while another
      client's query runs on another server.
  slowread --port P --pid PROXYPID [--rate 1000000] [--seconds 6]
      Start a large result and read it at RATE bytes/s, sampling the proxy's
      VmRSS; prints one JSON line.
  holdtx --port P --key K --mode idle|busy|failed --ready FILE
      BEGIN, INSERT row K, then (busy) start pg_sleep(20) or (failed) run a
      failing statement; write the server pid to FILE; wait to be killed.
"""

import argparse
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from pgwire import PG, PGError, error_fields, msg  # noqa: E402


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def clean(v):
    return str(v).replace("\t", " ").replace("\n", " | ")


def check(label, expected, actual):
    out("CHECK\t%s\t%s\t%s" % (clean(label), clean(expected), clean(actual)))


def dsn(port, user="app", password="app", db="app", app="sy_txn_tests"):
    return "host=127.0.0.1 port=%s user=%s password=%s dbname=%s connect_timeout=20 application_name=%s" % (
        port, user, password, db, app)


def pg2_connect(port, **kw):
    import psycopg2
    conn = psycopg2.connect(dsn(port, **kw))
    conn.autocommit = True
    return conn


def pg3_connect(port, **kw):
    import psycopg
    return psycopg.connect(dsn(port, **kw), autocommit=True)


def param_status(conn, name):
    if hasattr(conn, "info"):
        return conn.info.parameter_status(name)
    return conn.get_parameter_status(name)


def one(conn, sql, args=None):
    cur = conn.cursor()
    cur.execute(sql, args)
    if cur.description is None:
        cur.close()
        return None
    row = cur.fetchone()
    cur.close()
    return row[0] if row is not None and len(row) == 1 else row


def err_of(fn):
    """(sqlstate or class name, message) of the exception fn raises, or (None, result)."""
    try:
        return None, fn()
    except Exception as e:  # noqa: BLE001
        code = getattr(e, "pgcode", None) or getattr(e, "sqlstate", None) or type(e).__name__
        return code, str(e).strip()


# ------------------------------------------------------------------ monitor
def cmd_monitor(a):
    # The stop signal is caught before anything slow, and a.out + ".ready"
    # says the first sample was taken: the test starts its load after it
    # (on a busy machine the interpreter and the login can take seconds).
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    res = {"max": 0, "samples": 0, "error": None}
    try:
        import psycopg2  # noqa: F401
        conn = pg2_connect(a.port, user="monitor", password="monitor", db="postgres")
        cur = conn.cursor()
        while not stop.is_set():
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND backend_type = 'client backend'"
                        " AND pid <> pg_backend_pid()", (a.user,))
            n = cur.fetchone()[0]
            res["samples"] += 1
            res["max"] = max(res["max"], n)
            if res["samples"] == 1:
                open(a.out + ".ready", "w").close()
            stop.wait(0.01)
    except Exception as e:  # noqa: BLE001
        res["error"] = "%s: %s" % (type(e).__name__, e)
    with open(a.out + ".tmp", "w") as f:
        json.dump(res, f)
    os.rename(a.out + ".tmp", a.out)


# ------------------------------------------------------------------ prepared (psycopg 3)
# Ten distinct statements: (SQL, params for (thread, round), expected rows).
def _stmts():
    return [
        ("SELECT %s::int + 1", lambda t, r: (t * 100 + r,), lambda t, r: [(t * 100 + r + 1,)]),
        ("SELECT %s::text || '-suffix'", lambda t, r: ("t%d" % t,), lambda t, r: [("t%d-suffix" % t,)]),
        ("SELECT %s::int * %s::int", lambda t, r: (t, r + 7), lambda t, r: [(t * (r + 7),)]),
        ("SELECT length(%s::text), upper(%s::text)", lambda t, r: ("x" * (t % 13 + r), "ab%d" % t),
         lambda t, r: [(t % 13 + r, "AB%d" % t)]),
        ("SELECT g FROM generate_series(1, %s::int) AS g ORDER BY g", lambda t, r: (t % 7 + r + 1,),
         lambda t, r: [(g,) for g in range(1, t % 7 + r + 2)]),
        ("SELECT md5(%s::text)", lambda t, r: ("k%d.%d" % (t, r),),
         lambda t, r: [(__import__("hashlib").md5(("k%d.%d" % (t, r)).encode()).hexdigest(),)]),
        ("SELECT %s::bigint, %s::text, %s::bool", lambda t, r: (t * 1000000007, "r%d" % r, t % 2 == 0),
         lambda t, r: [(t * 1000000007, "r%d" % r, t % 2 == 0)]),
        ("SELECT array_length(ARRAY[%s::int, %s::int, 3], 1) + %s::int", lambda t, r: (t, r, t + r),
         lambda t, r: [(3 + t + r,)]),
        ("SELECT coalesce(%s::text, 'was null') AS v", lambda t, r: (None if (t + r) % 2 else "set",),
         lambda t, r: [("was null" if (t + r) % 2 else "set",)]),
        ("INSERT INTO txn_prep (t, r, v) VALUES (%s, %s, %s) RETURNING t * 1000 + r",
         lambda t, r: (t, r, "v%d.%d" % (t, r)), lambda t, r: [(t * 1000 + r,)]),
    ]


def cmd_prepared(a):
    import psycopg
    stmts = _stmts()
    lock = threading.Lock()
    st = {"ok": 0, "checked": 0, "bad": [], "errors": [], "prepared_seen": 0}

    def worker(t):
        try:
            conn = psycopg.connect(dsn(a.port), prepare_threshold=0, autocommit=(t % 2 == 0))
            checked = 0
            for r in range(a.rounds):
                for j in range(len(stmts)):
                    s = (t + j) % len(stmts)
                    sql, pf, ef = stmts[s]
                    cur = conn.execute(sql, pf(t, r))
                    rows = [tuple(x) for x in cur.fetchall()]
                    want = ef(t, r)
                    if rows != want:
                        with lock:
                            st["bad"].append("thread %d round %d stmt %d: got %r want %r" % (t, r, s, rows, want))
                    checked += 1
                    if not conn.autocommit and j % 3 == 2:
                        conn.commit()
                if not conn.autocommit:
                    conn.commit()
            # psycopg really prepared them (named statements, not unnamed).
            n_prep = len(getattr(conn._prepared, "_names", {}) or {})
            conn.close()
            with lock:
                st["ok"] += 1
                st["checked"] += checked
                st["prepared_seen"] = max(st["prepared_seen"], n_prep)
        except Exception as e:  # noqa: BLE001
            with lock:
                st["errors"].append("thread %d: %s: %s" % (t, type(e).__name__, str(e).strip()))

    threading.stack_size(512 * 1024)
    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(a.threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(max(0.0, t0 + a.timeout - time.time()))
    hung = sum(1 for th in threads if th.is_alive())
    res = {"ok": st["ok"], "checked": st["checked"], "bad": len(st["bad"]), "bad_samples": st["bad"][:5],
           "errors": len(st["errors"]) + hung, "hung": hung, "error_samples": sorted(set(st["errors"]))[:8],
           "prepared_per_conn": st["prepared_seen"], "seconds": round(time.time() - t0, 2)}
    print(json.dumps(res))
    sys.stdout.flush()
    os._exit(0)


# ------------------------------------------------------------------ raw extended protocol
def cstr(s):
    return s.encode() + b"\0"


def m_parse(name, sql, oids=()):
    return msg(b"P", cstr(name) + cstr(sql) + struct.pack("!H", len(oids)) + b"".join(struct.pack("!I", o) for o in oids))


def m_bind(stmt, params, portal=""):
    body = cstr(portal) + cstr(stmt) + struct.pack("!H", 0) + struct.pack("!H", len(params))
    for p in params:
        if p is None:
            body += struct.pack("!i", -1)
        else:
            b = str(p).encode()
            body += struct.pack("!i", len(b)) + b
    return msg(b"B", body + struct.pack("!H", 0))


def m_execute(portal=""):
    return msg(b"E", cstr(portal) + struct.pack("!I", 0))


def m_describe_stmt(name):
    return msg(b"D", b"S" + cstr(name))


def m_close_stmt(name):
    return msg(b"C", b"S" + cstr(name))


M_SYNC = msg(b"S")


def read_until_ready(c):
    """Messages up to ReadyForQuery: list of (type char, decoded payload)."""
    got = []
    while True:
        t, p = c.read_msg()
        if t is None:
            got.append(("closed", None))
            return got
        tc = t.decode()
        if tc == "D":
            (n,) = struct.unpack("!H", p[:2])
            off, row = 2, []
            for _ in range(n):
                (ln,) = struct.unpack("!i", p[off:off + 4])
                off += 4
                if ln < 0:
                    row.append(None)
                else:
                    row.append(p[off:off + ln].decode())
                    off += ln
            got.append(("D", tuple(row)))
        elif tc == "E":
            f = error_fields(p)
            got.append(("E", "%s %s" % (f.get("C"), f.get("M"))))
        elif tc == "t":
            (n,) = struct.unpack("!H", p[:2])
            got.append(("t", tuple(struct.unpack("!%dI" % n, p[2:2 + 4 * n]))))
        elif tc == "Z":
            got.append(("Z", p.decode()))
            return got
        elif tc in ("S", "N", "K"):
            continue
        else:
            got.append((tc, None))


def summary(msgs):
    """'1 2 D(x) C Z(I)' — compact form of a reply."""
    parts = []
    for t, p in msgs:
        if t == "D":
            parts.append("D(%s)" % ",".join("NULL" if v is None else v for v in p))
        elif t == "Z":
            parts.append("Z(%s)" % p)
        elif t == "E":
            parts.append("E(%s)" % p)
        elif t == "t":
            parts.append("t(%s)" % ",".join(str(o) for o in p))
        else:
            parts.append(t)
    return " ".join(parts)


def cmd_samename(a):
    x = PG(a.port, timeout=20)
    x.login("app", "app", "app")
    y = PG(a.port, timeout=20)
    y.login("app", "app", "app")

    def ext(c, data):
        c.send(data)
        return summary(read_until_ready(c))

    check("X parses 's' as text concatenation", "1 Z(I)", ext(x, m_parse("s", "SELECT 'x:' || $1::text") + M_SYNC))
    check("Y parses 's' as integer product", "1 Z(I)", ext(y, m_parse("s", "SELECT $1::int * 10") + M_SYNC))
    check("Y describes its 's': one int4 parameter", "t(23) T Z(I)", ext(y, m_describe_stmt("s") + M_SYNC))
    check("X describes its 's': one text parameter", "t(25) T Z(I)", ext(x, m_describe_stmt("s") + M_SYNC))
    bad = []
    for i in range(30):
        gx = ext(x, m_bind("s", ["a%d" % i]) + m_execute() + M_SYNC)
        gy = ext(y, m_bind("s", [i]) + m_execute() + M_SYNC)
        if gx != "2 D(x:a%d) C Z(I)" % i:
            bad.append("X round %d: %s" % (i, gx))
        if gy != "2 D(%d) C Z(I)" % (i * 10) or len(bad) > 5:
            bad.append("Y round %d: %s" % (i, gy))
    check("30 interleaved executions of 's' give each client its own statement", "[]", bad)

    # Pipelined: a new statement and two executions before one Sync.
    got = ext(x, m_parse("s2", "SELECT $1::int + 1000") + m_bind("s2", [5]) + m_execute() +
              m_bind("s", ["p"]) + m_execute() + M_SYNC)
    check("X pipelines Parse s2/Bind/Execute/Bind s/Execute/Sync", "1 2 D(1005) C 2 D(x:p) C Z(I)", got)

    # Inside transactions (one after the other: with one server, a client
    # inside a transaction holds it).
    check("X BEGIN", "C Z(T)", ext(x, msg(b"Q", cstr("BEGIN"))))
    check("X executes 's' in its transaction", "2 D(x:tx) C Z(T)", ext(x, m_bind("s", ["tx"]) + m_execute() + M_SYNC))
    check("X executes 's' again in its transaction", "2 D(x:tx2) C Z(T)",
          ext(x, m_bind("s", ["tx2"]) + m_execute() + M_SYNC))
    check("X COMMIT", "C Z(I)", ext(x, msg(b"Q", cstr("COMMIT"))))
    check("Y BEGIN", "C Z(T)", ext(y, msg(b"Q", cstr("BEGIN"))))
    check("Y executes 's' in its transaction", "2 D(70) C Z(T)", ext(y, m_bind("s", [7]) + m_execute() + M_SYNC))
    check("Y COMMIT", "C Z(I)", ext(y, msg(b"Q", cstr("COMMIT"))))

    # Y closes 's' and parses the same name again with other SQL.
    check("Y closes 's'", "3 Z(I)", ext(y, m_close_stmt("s") + M_SYNC))
    got = ext(y, m_bind("s", [1]) + m_execute() + M_SYNC)
    check("Y's closed 's' is gone (26000)", True, got.startswith("E(26000") and got.endswith("Z(I)"))
    check("Y parses 's' again as other SQL", "1 Z(I)", ext(y, m_parse("s", "SELECT $1::text || ':y2'") + M_SYNC))
    check("Y's new 's'", "2 D(q:y2) C Z(I)", ext(y, m_bind("s", ["q"]) + m_execute() + M_SYNC))
    check("X's 's' is untouched by Y's Close", "2 D(x:after) C Z(I)",
          ext(x, m_bind("s", ["after"]) + m_execute() + M_SYNC))
    check("X's 's2' still works", "2 D(1001) C Z(I)", ext(x, m_bind("s2", [1]) + m_execute() + M_SYNC))
    # Parsing a name that exists for this client is an error (42P05), as on a server.
    got = ext(x, m_parse("s", "SELECT 2") + M_SYNC)
    out("info: X's second Parse of 's' got: %s" % got)
    check("X re-Parse of its own 's' without Close is 42P05", True, got.startswith("E(42P05") and got.endswith("Z(I)"))
    check("X's 's' is still the old statement", "2 D(x:still) C Z(I)",
          ext(x, m_bind("s", ["still"]) + m_execute() + M_SYNC))
    # A third client never parsed 's'.
    z = PG(a.port, timeout=20)
    z.login("app", "app", "app")
    got = ext(z, m_bind("s", [1]) + m_execute() + M_SYNC)
    check("Z, which never parsed 's', gets 26000", True, got.startswith("E(26000") and got.endswith("Z(I)"))
    check("Z's session goes on", "1 2 D(3) C Z(I)", ext(z, m_parse("", "SELECT 1 + 2") + m_bind("", []) + m_execute() + M_SYNC))
    for c in (x, y, z):
        c.send(msg(b"X"))
        c.close()


# ------------------------------------------------------------------ session state
def cmd_session(a):
    direct = pg2_connect(a.direct_port)
    d_tz = one(direct, "SHOW TimeZone")
    d_sp = one(direct, "SHOW search_path")
    d_st = one(direct, "SHOW statement_timeout")
    out("info: server defaults TimeZone=%s search_path=%s statement_timeout=%s" % (d_tz, d_sp, d_st))
    if d_tz == "Asia/Tokyo":
        check("the server's default TimeZone is not Asia/Tokyo (else the test proves nothing)", "not Asia/Tokyo", d_tz)

    if a.phase == "pin":
        A = pg3_connect(a.port, app="client_a")
        B = pg3_connect(a.port, app="client_b")
        one(A, "SET TimeZone = 'Asia/Tokyo'")
        check("A sees its TimeZone", "Asia/Tokyo", one(A, "SHOW TimeZone"))
        pa, pb = one(A, "SELECT pg_backend_pid()"), one(B, "SELECT pg_backend_pid()")
        check("A and B run on the same (only) server", pa, pb)
        check("B sees its own (default) TimeZone on that server", d_tz, one(B, "SHOW TimeZone"))
        check("B's now() is rendered in its own zone", d_tz, one(B, "SELECT current_setting('TimeZone')"))
        cur = A.cursor()
        cur.execute("BEGIN")
        cur.execute("SHOW TimeZone")
        tz_in_tx = cur.fetchone()[0]
        cur.execute("COMMIT")
        check("A still sees Asia/Tokyo in a later transaction", "Asia/Tokyo", tz_in_tx)
        one(B, "SET TimeZone = 'America/New_York'")
        check("A sees Asia/Tokyo after B set its own zone", "Asia/Tokyo", one(A, "SHOW TimeZone"))
        check("B sees America/New_York", "America/New_York", one(B, "SHOW TimeZone"))
        check("A's timestamptz text uses +09", "+09",
              one(A, "SELECT to_char('2024-01-01 00:00:00+00'::timestamptz, 'HH24:MI TZH')")[-3:])
        check("B's timestamptz text uses -05", "-05",
              one(B, "SELECT to_char('2024-01-01 00:00:00+00'::timestamptz, 'HH24:MI TZH')")[-3:])
        check("A's reported TimeZone (ParameterStatus)", "Asia/Tokyo", param_status(A, "TimeZone"))
        check("B's reported TimeZone (ParameterStatus)", "America/New_York", param_status(B, "TimeZone"))
        check("A's DateStyle untouched", one(direct, "SHOW DateStyle"), one(A, "SHOW DateStyle"))

        # search_path is not a tracked parameter: SET pins A's server.
        one(A, "SET search_path = txn_ss, public")
        check("A sees its search_path", "txn_ss, public", one(A, "SHOW search_path"))
        check("A resolves the unqualified table in schema txn_ss", "from txn_ss", one(A, "SELECT v FROM marker"))
        t0 = time.time()
        code, m = err_of(lambda: one(B, "SELECT 1"))
        dt = time.time() - t0
        out("info: B while A is pinned: %s %s after %.2fs" % (code, m, dt))
        check("B waiting for the pinned (only) server gets an error", True, code is not None)
        check("B's error is query_wait_timeout", True, "query_wait_timeout" in (m or ""))
        check("B waited about query_wait_timeout (1s), not forever, not at once", True, 0.7 <= dt <= 4.0)
        check("A keeps its TimeZone while pinned", "Asia/Tokyo", one(A, "SHOW TimeZone"))
        check("A keeps its search_path in a later transaction", "txn_ss, public", one(A, "SHOW search_path"))
        check("A keeps its server while pinned", pa, one(A, "SELECT pg_backend_pid()"))

        res = {}
        holder = {}

        def b2_query():
            # Connect and query while A is pinned: both wait for A to leave.
            t1 = time.time()

            def go():
                holder["B2"] = pg3_connect(a.port, app="client_b2")
                return one(holder["B2"], "SELECT current_setting('search_path'), current_setting('TimeZone'),"
                                         " current_setting('application_name')")
            res["v"] = err_of(go)
            res["t"] = time.time() - t1

        th = threading.Thread(target=b2_query)
        th.start()
        time.sleep(0.3)
        A.close()
        th.join(10)
        out("info: B2 after A left: %r in %.2fs" % (res.get("v"), res.get("t", -1)))
        check("B2, waiting while A was pinned, gets through once A disconnects", None, res.get("v", ("hung",))[0])
        v = res.get("v", (None, None))[1] or (None, None, None)
        check("B2 sees the default search_path (A's was reset)", d_sp, v[0])
        check("B2 sees the default TimeZone (A's was reset)", d_tz, v[1])
        check("B2 sees its own application_name", "client_b2", v[2])

        # statement_timeout: untracked, pins.
        C = pg3_connect(a.port, app="client_c")
        # D logs in before C pins (a login needs a server in this proxy).
        D = pg3_connect(a.port, app="client_d")
        one(C, "SET statement_timeout = '4s'")
        check("C sees its statement_timeout", "4s", one(C, "SHOW statement_timeout"))
        pc = one(C, "SELECT pg_backend_pid()")
        t0 = time.time()
        code, m = err_of(lambda: one(D, "SELECT 1"))
        dt = time.time() - t0
        out("info: D while C is pinned: %s %s after %.2fs" % (code, m, dt))
        check("D gets the query_wait_timeout error while C is pinned by SET statement_timeout", True,
              code is not None and "query_wait_timeout" in (m or ""))
        check("C keeps its server", pc, one(C, "SELECT pg_backend_pid()"))
        code, m = err_of(lambda: one(C, "SELECT pg_sleep(6)"))
        check("C's statement_timeout (4s) still applies in a later transaction (57014)", "57014", code)
        check("C's session goes on after the timeout", 1, one(C, "SELECT 1"))
        res = {}

        def d2_query():
            def go():
                holder["D2"] = pg3_connect(a.port, app="client_d2")
                return one(holder["D2"], "SELECT current_setting('statement_timeout')")
            res["v"] = err_of(go)

        th = threading.Thread(target=d2_query)
        th.start()
        time.sleep(0.3)
        C.close()
        th.join(10)
        check("D2 gets through once C disconnects, with the default statement_timeout", (None, d_st),
              res.get("v", ("hung", None)))
        check("B2 still works and keeps the default TimeZone", d_tz, one(holder["B2"], "SHOW TimeZone"))
        for c in holder.values():
            c.close()
    else:
        E = pg3_connect(a.port, app="client_e")
        code, m = err_of(lambda: one(E, "SET statement_timeout = '4s'"))
        out("info: SET statement_timeout with pin_policy=error: %s %s" % (code, m))
        check("SET statement_timeout is refused with 0A000 under pin_policy = error", "0A000", code)
        check("E's session continues after the refusal", 1, one(E, "SELECT 1"))
        check("the refused SET was not applied", d_st, one(E, "SHOW statement_timeout"))
        code, m = err_of(lambda: one(E, "SET search_path = txn_ss, public"))
        check("SET search_path is refused with 0A000", "0A000", code)
        check("search_path stays the default", d_sp, one(E, "SHOW search_path"))
        code, m = err_of(lambda: one(E, "SET TimeZone = 'Asia/Tokyo'"))
        check("SET TimeZone (tracked) is allowed under pin_policy = error", None, code)
        check("E sees Asia/Tokyo", "Asia/Tokyo", one(E, "SHOW TimeZone"))
        cur = E.cursor()
        cur.execute("BEGIN")
        code, m = err_of(lambda: cur.execute("SET LOCAL statement_timeout = '3s'"))
        check("SET LOCAL inside a transaction is allowed (no session state)", None, code)
        cur.execute("SHOW statement_timeout")
        check("SET LOCAL applies inside the transaction", "3s", cur.fetchone()[0])
        cur.execute("COMMIT")
        check("SET LOCAL is gone after COMMIT", d_st, one(E, "SHOW statement_timeout"))
        # Not pinned: another client gets the only server at once.
        F = pg3_connect(a.port, app="client_f")
        t0 = time.time()
        code, v = err_of(lambda: one(F, "SHOW TimeZone"))
        check("F is served (E holds no pin)", (None, d_tz), (code, v))
        check("F was served without waiting", True, time.time() - t0 < 0.8)
        check("E still sees Asia/Tokyo", "Asia/Tokyo", one(E, "SHOW TimeZone"))
        E.close()
        F.close()
    direct.close()


# ------------------------------------------------------------------ cancel
def cmd_cancel(a):
    import psycopg2
    mon = pg2_connect(a.direct_port, user="monitor", password="monitor", db="postgres")

    def active_pid(marker):
        return one(mon, "SELECT pid FROM pg_stat_activity WHERE query LIKE %s AND state = 'active'"
                        " AND pid <> pg_backend_pid() LIMIT 1", ("%" + marker + "%",))

    for rnd in range(a.rounds):
        A = pg2_connect(a.port, app="cancel_a")
        B = pg2_connect(a.port, app="cancel_b")
        resA, resB = {}, {}

        def run_b():
            t1 = time.time()
            resB["v"] = err_of(lambda: one(B, "SELECT 'b-done' FROM pg_sleep(3) /* txn_cancel_b */"))
            resB["t"] = time.time() - t1

        def run_a():
            resA["v"] = err_of(lambda: one(A, "SELECT pg_sleep(30) /* txn_cancel_a */"))
            resA["end"] = time.time()

        tb = threading.Thread(target=run_b)
        tb.start()
        time.sleep(0.2)
        ta = threading.Thread(target=run_a)
        ta.start()
        pa = pb = None
        for _ in range(50):
            pa, pb = active_pid("txn_cancel_a */"), active_pid("txn_cancel_b */")
            if pa and pb:
                break
            time.sleep(0.05)
        check("round %d: both queries run on the server" % rnd, True, bool(pa and pb))
        check("round %d: on two different servers" % rnd, True, pa != pb)
        time.sleep(0.5)
        t_cancel = time.time()
        A.cancel()
        ta.join(10)
        v = resA.get("v", ("hung", None))
        dt = resA.get("end", time.time()) - t_cancel
        out("info: round %d: A got %r %.2fs after the cancel" % (rnd, v, dt))
        check("round %d: A's pg_sleep(30) is cancelled with 57014" % rnd, "57014", v[0])
        check("round %d: within 2 s of the cancel (%.2fs)" % (rnd, dt), True, dt < 2.0)
        tb.join(10)
        check("round %d: B's concurrent query completes normally" % rnd, (None, "b-done"), resB.get("v"))
        check("round %d: B's query ran its full 3 s (was not cancelled)" % rnd, True, resB.get("t", 0) >= 2.9)
        check("round %d: A's session is usable after the cancel" % rnd, 2, one(A, "SELECT 2"))
        # A cancel while A runs nothing does nothing (to A or to B).
        resB.clear()
        tb = threading.Thread(target=run_b)
        tb.start()
        time.sleep(0.3)
        A.cancel()
        time.sleep(0.3)
        code, v = err_of(lambda: one(A, "SELECT 'a-after' FROM pg_sleep(0.5)"))
        check("round %d: a cancel of idle A does not hit A's next query" % rnd, (None, "a-after"), (code, v))
        tb.join(10)
        check("round %d: nor B's running query" % rnd, (None, "b-done"), resB.get("v"))
        A.close()
        B.close()
    mon.close()


# ------------------------------------------------------------------ slow reader
def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def cmd_slowread(a):
    c = PG.__new__(PG)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    s.settimeout(20)
    s.connect(("127.0.0.1", int(a.port)))
    c.sock, c.buf, c.params = s, b"", {}
    c.login("app", "app", "app")
    idle = rss_kb(a.pid)
    c.send(msg(b"Q", cstr(a.query)))
    t0 = time.time()
    got = 0
    peak = idle
    samples = []
    next_sample = t0
    chunk = 16384
    first_type = None
    while time.time() - t0 < a.seconds:
        data = s.recv(chunk)
        if not data:
            break
        if first_type is None:
            first_type = data[:1].decode("latin-1")
        got += len(data)
        now = time.time()
        if now >= next_sample:
            r = rss_kb(a.pid)
            samples.append(r)
            peak = max(peak, r)
            next_sample = now + 0.25
        # Pace: `got` bytes should take got / rate seconds.
        ahead = t0 + got / a.rate - time.time()
        if ahead > 0:
            time.sleep(ahead)
    r = rss_kb(a.pid)
    peak = max(peak, r)
    res = {"rss_at_start_kb": idle, "peak_rss_kb": peak, "samples_kb": samples, "bytes_read": got,
           "seconds": round(time.time() - t0, 2), "first_type": first_type}
    print(json.dumps(res))
    sys.stdout.flush()
    s.close()


# ------------------------------------------------------------------ hold a transaction, then be killed
def cmd_holdtx(a):
    import psycopg2
    conn = psycopg2.connect(dsn(a.port, app="txn_kill_victim"))
    conn.autocommit = False  # psycopg2 sends BEGIN before the first statement
    cur = conn.cursor()
    cur.execute("INSERT INTO txn_kill (k, note) VALUES (%s, 'uncommitted')", (a.key,))
    cur.execute("SELECT pg_backend_pid(), txid_current()")
    pid, xid = cur.fetchone()
    if a.mode == "failed":
        try:
            cur.execute("SELECT 1 / 0")
        except psycopg2.Error:
            pass
    with open(a.ready + ".tmp", "w") as f:
        f.write("%d %d\n" % (pid, xid))
    os.rename(a.ready + ".tmp", a.ready)
    if a.mode == "busy":
        cur.execute("SELECT pg_sleep(20) /* txn_kill_busy */")
    time.sleep(120)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("monitor")
    s.add_argument("--port", required=True)
    s.add_argument("--user", default="app")
    s.add_argument("--out", required=True)
    s = sub.add_parser("prepared")
    s.add_argument("--port", required=True)
    s.add_argument("--threads", type=int, default=100)
    s.add_argument("--rounds", type=int, default=3)
    s.add_argument("--timeout", type=float, default=50)
    s = sub.add_parser("samename")
    s.add_argument("--port", required=True)
    s = sub.add_parser("session")
    s.add_argument("--port", required=True)
    s.add_argument("--direct-port", required=True)
    s.add_argument("--phase", choices=("pin", "error"), required=True)
    s = sub.add_parser("cancel")
    s.add_argument("--port", required=True)
    s.add_argument("--direct-port", required=True)
    s.add_argument("--rounds", type=int, default=3)
    s = sub.add_parser("slowread")
    s.add_argument("--port", required=True)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--rate", type=float, default=1000000)
    s.add_argument("--seconds", type=float, default=6)
    s.add_argument("--query", default="SELECT repeat('x', 1000) FROM generate_series(1, 1000000)")
    s = sub.add_parser("holdtx")
    s.add_argument("--port", required=True)
    s.add_argument("--key", type=int, required=True)
    s.add_argument("--mode", choices=("idle", "busy", "failed"), required=True)
    s.add_argument("--ready", required=True)
    a = p.parse_args()
    fn = globals()["cmd_" + a.cmd]
    if a.cmd in ("samename", "session", "cancel"):
        try:
            fn(a)
        except Exception:  # noqa: BLE001
            check("%s finished without an exception" % a.cmd, "no exception", traceback.format_exc())
    else:
        fn(a)


if __name__ == "__main__":
    main()
