"""pg_limits_clients.py — psycopg2 drivers for test_pg_txn_limits.sh: the
PostgreSQL-side limits (query_timeout, idle_transaction_timeout,
client_idle_timeout, max_client_conn, max_db_connections, server_lifetime)
seen by real clients through the proxy. Run with /usr/bin/python3 ($PY).

Every subcommand prints result lines on stdout,

    R<TAB>key<TAB>value

which the test reads back (r KEY) and asserts on; other lines are
information. The pg_stat_activity checks log in straight to the primary as
monitor/monitor (a superuser, database postgres).

  qtimeout   --port P --direct-port D
  idletx     --port P --direct-port D
  clientidle --port P
  maxconn    --port P --limit N
  maxdb      --port P --direct-port D [--clients 10] [--queries 30]
  lifetime   --port P --direct-port D
"""

import argparse
import os
import select
import socket
import struct
import sys
import threading
import time
import traceback

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from pgwire import PG, PGError, error_fields  # noqa: E402


def clean(v):
    return str(v).replace("\t", " ").replace("\n", " | ").strip()


def r(key, value):
    sys.stdout.write("R\t%s\t%s\n" % (key, clean(value)))
    sys.stdout.flush()


def info(text):
    sys.stdout.write("# %s\n" % clean(text))
    sys.stdout.flush()


def connect(port, user="app", password="app", db="app", app="sy_limits"):
    c = psycopg2.connect(host="127.0.0.1", port=port, user=user, password=password, dbname=db,
                         connect_timeout=10, application_name=app)
    c.autocommit = True
    return c


def monitor(dport):
    return connect(dport, user="monitor", password="monitor", db="postgres", app="sy_limits_monitor")


def one(conn, sql, args=None):
    cur = conn.cursor()
    cur.execute(sql, args)
    row = cur.fetchone()
    return row[0] if len(row) == 1 else row


def run_err(conn, sql):
    """Run sql; (sqlstate or 'none', first line of the message, seconds)."""
    t0 = time.time()
    try:
        conn.cursor().execute(sql)
        return "none", "", time.time() - t0
    except psycopg2.Error as e:
        msg = (e.pgerror or str(e)).strip().splitlines()
        return e.pgcode or "no-sqlstate", msg[0] if msg else "", time.time() - t0


def wait_readable(conn, limit):
    """Seconds until the proxy sends something unasked (its FATAL) on conn."""
    t0 = time.time()
    rd, _, _ = select.select([conn.fileno()], [], [], limit)
    return time.time() - t0 if rd else -1.0


def peek_error(conn):
    """The ErrorResponse the proxy sent unasked on conn, read with MSG_PEEK
    (psycopg2 still gets it afterwards): (sqlstate, 'SEVERITY: message').
    libpq hands such an error, received while idle, to nobody: the next
    statement fails with "server closed the connection unexpectedly", as
    with PostgreSQL's own idle timeouts; the bytes show what was sent."""
    s = socket.fromfd(conn.fileno(), socket.AF_INET, socket.SOCK_STREAM)  # a dup
    try:
        s.settimeout(2)
        data = s.recv(65536, socket.MSG_PEEK)
    finally:
        s.close()
    if len(data) < 5 or data[:1] != b"E":
        return "not an ErrorResponse", repr(data[:40])
    (n,) = struct.unpack("!I", data[1:5])
    f = error_fields(data[5:1 + n])
    return f.get("C", "?"), "%s: %s" % (f.get("S", "?"), f.get("M", "?"))


def next_statement_error(conn):
    """What psycopg2 says on the next statement after the proxy closed it."""
    try:
        conn.cursor().execute("SELECT 1")
        return "no error"
    except psycopg2.Error as e:
        return "%s (closed=%s)" % (type(e).__name__, "yes" if conn.closed else "no")


def backend_state(mon, pid):
    st = one(mon, "SELECT coalesce((SELECT state FROM pg_stat_activity WHERE pid = %s), 'gone')", (pid,))
    return st


# ------------------------------------------------------------ query_timeout
def cmd_qtimeout(a):
    mon = monitor(a.direct_port)
    c = connect(a.port)
    apid = one(c, "SELECT pg_backend_pid()")
    r("qt_pid", apid)
    code, _, el = run_err(c, "SELECT pg_sleep(0.4)")
    r("qt_short_code", code)  # under the limit: not cancelled

    code, msg, el = run_err(c, "SELECT pg_sleep(30)")
    r("qt_code", code)
    r("qt_msg", msg)
    r("qt_secs", "%.2f" % el)
    # Right after the error: the statement no longer runs on the server.
    r("qt_running", one(mon, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'"))
    r("qt_backend_state", backend_state(mon, apid))
    # The docs: the query is cancelled (not the session): the session goes on.
    try:
        r("qt_next", one(c, "SELECT 'still here'"))
        r("qt_next_pid", one(c, "SELECT pg_backend_pid()"))
    except psycopg2.Error as e:
        r("qt_next", "error %s %s" % (e.pgcode, e))
    # The timeout is per query: a second long query is cancelled too.
    code, _, el = run_err(c, "SELECT pg_sleep(30)")
    r("qt2_code", code)
    r("qt2_secs", "%.2f" % el)
    # Inside a transaction, as after any cancel on PostgreSQL: the
    # transaction is aborted (25P02) until ROLLBACK, then all is well.
    c.cursor().execute("BEGIN")
    code, _, el = run_err(c, "SELECT pg_sleep(30)")
    r("qt_tx_code", code)
    r("qt_tx_secs", "%.2f" % el)
    code, _, _ = run_err(c, "SELECT 1")
    r("qt_tx_next_code", code)
    c.cursor().execute("ROLLBACK")
    r("qt_tx_after_rollback", one(c, "SELECT 'after rollback'"))

    # Another client gets the (only, pool_size = 1) server, usable.
    b = connect(a.port)
    bpid, two = one(b, "SELECT pg_backend_pid(), 1 + 1")
    r("qt_b_result", two)
    r("qt_b_pid", bpid)
    r("qt_b_short_code", run_err(b, "SELECT pg_sleep(0.2)")[0])
    r("qt_running_end", one(mon, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%%' AND state <> 'idle'"))
    r("qt_app_not_idle", one(mon, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state <> 'idle'"))
    b.close()
    c.close()


# ------------------------------------------------------------ idle_transaction_timeout
def cmd_idletx(a):
    mon = monitor(a.direct_port)
    c = connect(a.port)
    # Short gaps inside a transaction (0.6 s each, 1.8 s in all) are fine:
    # the limit counts idleness, not the transaction's age.
    try:
        c.cursor().execute("BEGIN")
        for _ in range(3):
            time.sleep(0.6)
            one(c, "SELECT 1")
        c.cursor().execute("COMMIT")
        r("it_gaps", "ok")
    except psycopg2.Error as e:
        r("it_gaps", "error %s %s" % (e.pgcode, e))
    c.close()

    c = connect(a.port)
    c.cursor().execute("BEGIN")
    c.cursor().execute("INSERT INTO txn_limits.t VALUES (1)")
    apid = one(c, "SELECT pg_backend_pid()")
    r("it_pid", apid)
    t0 = time.time()
    time.sleep(0.3)
    r("it_state_before", backend_state(mon, apid))
    el = wait_readable(c, 10 - 0.3)
    r("it_secs", "%.2f" % (el + 0.3 if el >= 0 else -1))
    code, msg = peek_error(c) if el >= 0 else ("nothing received", "")
    r("it_code", code)
    r("it_msg", msg)
    # The client sleeps 3 s in all, then tries its next statement.
    time.sleep(max(0.0, 3.0 - (time.time() - t0)))
    r("it_next", next_statement_error(c))
    st = "?"
    for _ in range(20):  # the ROLLBACK runs just after the client is closed
        st = backend_state(mon, apid)
        if st != "idle in transaction":
            break
        time.sleep(0.1)
    r("it_state_after", st)
    d = connect(a.direct_port)  # straight to the primary, as app
    r("it_rows_direct", one(d, "SELECT count(*) FROM txn_limits.t"))
    d.close()
    r("it_open_tx", one(mon, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state LIKE 'idle in transaction%%'"))

    # Another client, on the one server (pool_size = 1).
    b = connect(a.port)
    bpid, fresh, noxid = one(b, "SELECT pg_backend_pid(), now() = statement_timestamp(), pg_current_xact_id_if_assigned() IS NULL")
    r("it_b_pid", bpid)
    r("it_b_fresh", fresh)
    r("it_b_noxid", noxid)
    r("it_b_rows", one(b, "SELECT count(*) FROM txn_limits.t"))
    # The key 1 is free: the INSERT does not wait for a lock (the PK).
    try:
        b.cursor().execute("BEGIN")
        b.cursor().execute("SET LOCAL lock_timeout = '1s'")
        b.cursor().execute("INSERT INTO txn_limits.t VALUES (1)")
        b.cursor().execute("COMMIT")
        r("it_b_insert", "ok")
    except psycopg2.Error as e:
        r("it_b_insert", "error %s %s" % (e.pgcode, e))
    b.close()


# ------------------------------------------------------------ client_idle_timeout
def cmd_clientidle(a):
    res = {}
    lock = threading.Lock()

    def put(k, v):
        with lock:
            res[k] = v

    def idle(name, query_first):
        try:
            t0 = time.time()
            c = connect(a.port)
            if query_first:
                one(c, "SELECT 1")
                t0 = time.time()
            el = wait_readable(c, 6 - (time.time() - t0))
            put(name + "_secs", "%.2f" % ((time.time() - t0) if el >= 0 else -1))
            code, msg = peek_error(c) if el >= 0 else ("nothing received", "")
            put(name + "_code", code)
            put(name + "_msg", msg)
            put(name + "_next", next_statement_error(c))
        except Exception as e:  # noqa: BLE001
            put(name + "_code", "exception %r" % e)

    def busy():
        ok, errs = 0, []
        try:
            c = connect(a.port)
            end = time.time() + 3.0
            while time.time() < end:
                try:
                    one(c, "SELECT 1")
                    ok += 1
                except psycopg2.Error as e:
                    errs.append("%s %s" % (e.pgcode, e))
                    break
                time.sleep(0.3)
            c.close()
        except Exception as e:  # noqa: BLE001
            errs.append(repr(e))
        put("busy_ok", ok)
        put("busy_errors", "; ".join(errs) or "none")

    def intx():
        # Idle 2 s inside a transaction: client_idle_timeout is for clients
        # idle outside one (idle_transaction_timeout is off here).
        try:
            c = connect(a.port)
            c.cursor().execute("BEGIN")
            one(c, "SELECT 1")
            time.sleep(2.0)
            one(c, "SELECT 2")
            c.cursor().execute("COMMIT")
            put("intx", "ok")
            c.close()
        except Exception as e:  # noqa: BLE001
            put("intx", "error %r" % e)

    ths = [threading.Thread(target=idle, args=("idle_login", False)),
           threading.Thread(target=idle, args=("idle_query", True)),
           threading.Thread(target=busy), threading.Thread(target=intx)]
    for t in ths:
        t.start()
    for t in ths:
        t.join(20)
    for k in sorted(res):
        r("ci_" + k, res[k])


# ------------------------------------------------------------ max_client_conn
def cmd_maxconn(a):
    conns = []
    for i in range(a.limit):
        c = connect(a.port)
        conns.append(c)
    r("mc_first", sum(1 for c in conns if one(c, "SELECT 1") == 1))

    def refused_raw():
        p = PG(a.port)
        try:
            p.login("app", "app", "app")
            return "logged in", ""
        except PGError as e:
            return e.fields.get("C", "?"), "%s: %s" % (e.fields.get("S", "?"), e.fields.get("M", "?"))
        except Exception as e:  # noqa: BLE001
            return "exception", repr(e)
        finally:
            p.close()

    code, msg = refused_raw()
    r("mc_refused_code", code)
    r("mc_refused_msg", msg)
    # psycopg2 as applications use it (libpq's default sslmode=prefer: it
    # sends an SSLRequest first), and with sslmode=disable.
    for key, kw in (("mc_psycopg2", {}), ("mc_psycopg2_nossl", {"sslmode": "disable"})):
        try:
            x = psycopg2.connect(host="127.0.0.1", port=a.port, user="app", password="app",
                                 dbname="app", connect_timeout=10, **kw)
            r(key, "connected")
            x.close()
        except psycopg2.OperationalError as e:
            r(key, str(e).strip() or repr(e))
    r("mc_still", sum(1 for c in conns if one(c, "SELECT 1") == 1))

    # A CancelRequest is a connection too: it must get through a full proxy.
    res = {}

    def sleeper():
        t0 = time.time()
        try:
            one(conns[0], "SELECT pg_sleep(30)")
            res["code"] = "not cancelled"
        except psycopg2.Error as e:
            res["code"] = e.pgcode
        res["t"] = time.time() - t0

    th = threading.Thread(target=sleeper)
    th.start()
    time.sleep(0.5)
    conns[0].cancel()
    th.join(10)
    r("mc_cancel_code", res.get("code", "hung"))
    r("mc_cancel_s", round(res.get("t", 99), 2))

    conns.pop(0).close()
    got, err = None, ""
    for _ in range(30):  # the proxy notices the close asynchronously
        try:
            got = connect(a.port)
            break
        except psycopg2.OperationalError as e:
            err = str(e).strip()
            time.sleep(0.1)
    if got is None:
        r("mc_after_leave", "refused: " + err)
    else:
        r("mc_after_leave", one(got, "SELECT 'logged in'"))
        conns.append(got)
    # Full again: the next one is refused again.
    code, msg = refused_raw()
    r("mc_refused_again_code", code)
    r("mc_all_end", sum(1 for c in conns if one(c, "SELECT 1") == 1))
    for c in conns:
        c.close()


# ------------------------------------------------------------ max_db_connections
SERVER_CONNS = ("SELECT count(*) FROM pg_stat_activity WHERE usename IN ('app', 'admin') "
                "AND backend_type = 'client backend' AND datname = 'app'")


def cmd_maxdb(a):
    mon = monitor(a.direct_port)
    base = -1
    for _ in range(50):  # backends of an earlier proxy may still be exiting
        base = one(mon, SERVER_CONNS)
        if base == 0:
            break
        time.sleep(0.1)
    r("md_baseline", base)

    lock = threading.Lock()
    ok = {"app": 0, "admin": 0}
    errors = []
    done = threading.Event()
    samples = []

    def client(user):
        try:
            c = connect(a.port, user=user, password=user)
            for _ in range(a.queries):
                one(c, "SELECT pg_sleep(0.005)")
            c.close()
            with lock:
                ok[user] += 1
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append("%s: %s" % (user, clean(e)))

    def sampler():
        m = monitor(a.direct_port)
        while not done.is_set():
            samples.append(one(m, SERVER_CONNS))
            time.sleep(0.02)
        m.close()

    st = threading.Thread(target=sampler)
    st.start()
    time.sleep(0.1)
    t0 = time.time()
    ths = [threading.Thread(target=client, args=(u,)) for _ in range(a.clients) for u in ("app", "admin")]
    for t in ths:
        t.start()
    for t in ths:
        t.join(60)
    el = time.time() - t0
    done.set()
    st.join()
    r("md_app_ok", ok["app"])
    r("md_admin_ok", ok["admin"])
    r("md_errors", len(errors))
    r("md_error_samples", " || ".join(errors[:3]) or "none")
    r("md_samples", len(samples))
    r("md_max", max(samples) if samples else -1)
    r("md_seconds", "%.2f" % el)


# ------------------------------------------------------------ server_lifetime
def cmd_lifetime(a):
    mon = monitor(a.direct_port)
    c = connect(a.port)
    p1 = one(c, "SELECT pg_backend_pid()")
    time.sleep(2.2)  # lifetime 1 s, checked every 1 s on idle servers
    p2 = one(c, "SELECT pg_backend_pid()")
    r("sl_p1", p1)
    r("sl_p2", p2)
    r("sl_p1_state", backend_state(mon, p1))

    # A transaction of 3 s (queries every 0.3 s) keeps its server.
    c.cursor().execute("BEGIN")
    pids = []
    t0 = time.time()
    while time.time() - t0 < 3.0:
        pids.append(one(c, "SELECT pg_backend_pid()"))
        time.sleep(0.3)
    age = one(c, "SELECT extract(epoch FROM clock_timestamp() - backend_start)::float8 FROM pg_stat_activity WHERE pid = pg_backend_pid()")
    c.cursor().execute("COMMIT")
    r("sl_tx_queries", len(pids))
    r("sl_tx_distinct", len(set(pids)))
    r("sl_tx_backend_age_over_lifetime", "yes" if age > 1.0 else "no (%.2f s)" % age)
    # Released after COMMIT, older than server_lifetime: closed.
    p3 = one(c, "SELECT pg_backend_pid()")
    r("sl_tx_pid", pids[0])
    r("sl_p3", p3)
    st = backend_state(mon, pids[0])
    for _ in range(20):
        if st == "gone":
            break
        time.sleep(0.1)
        st = backend_state(mon, pids[0])
    r("sl_tx_pid_state", st)
    c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--direct-port", type=int)
    ap.add_argument("--limit", type=int, default=5)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--queries", type=int, default=30)
    a = ap.parse_args()
    fn = globals().get("cmd_" + a.cmd)
    if not fn:
        ap.error("unknown subcommand " + a.cmd)
    try:
        fn(a)
        r("finished", "yes")
    except Exception:  # noqa: BLE001
        r("finished", "no: " + traceback.format_exc())
        sys.exit(1)


if __name__ == "__main__":
    main()
