"""pg_batch_clients.py — psycopg2 (and raw protocol) drivers for
test_pg_pipeline.sh: server pipelining (pipeline_depth) seen by real
clients. Run with /usr/bin/python3 ($PY). Every check is printed as

    CHECK<TAB>label<TAB>expected<TAB>actual

for run_checks in lib.sh; other lines are information.

  isolation --port P [--clients 40] [--rounds 120] [--protocol simple]
      many clients, each with its own values and a third each with
      TimeZone UTC, Asia/Tokyo or the default: every answer must be the
      client's own (value, row count, TimeZone), with no error. Protocol
      simple: psycopg2 (simple Query); extended: psycopg 3 with
      parameters bound by the server (Parse/Bind/Describe/Execute/Sync of
      the unnamed statement); prepared: psycopg 3 with
      prepare_threshold = 0 (named statements, Bind/Execute).
  queue --port P --direct-port D
      pool_size = 1, pipeline_depth = 4: statements queued behind a
      running one; a cancel of a queued client and of the running one
      with others behind it (answered by the proxy, 57014, at once; the
      others get their own answers); clients leaving while queued or
      running (the others get theirs); the server's backend terminated
      with clients queued (each gets an error, new sessions work).
  queue_ext --port P
      pool_size = 1: raw-protocol clients' extended requests ([Parse]
      Bind Describe Execute Sync) queued behind a running Query: each
      gets its own answer, every message of it in order; one that leaves
      while queued leaves the others' answers intact; a request of
      another shape (Parse of a named statement) is not queued but still
      answered.
"""

import argparse
import os
import struct
import sys
import threading
import time

import psycopg
import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from pgwire import PG, error_fields, msg  # noqa: E402


def clean(v):
    return str(v).replace("\t", " ").replace("\n", " | ").strip()


def check(label, expected, actual):
    sys.stdout.write("CHECK\t%s\t%s\t%s\n" % (label, clean(expected), clean(actual)))
    sys.stdout.flush()


def info(text):
    sys.stdout.write("# %s\n" % clean(text))
    sys.stdout.flush()


# One application_name for all: only sessions with the same startup and
# tracked parameters share a batch (no SET between their statements).
def connect(port, app="sy_batch"):
    c = psycopg2.connect(host="127.0.0.1", port=port, user="app", password="app", dbname="app",
                         connect_timeout=10, application_name=app)
    c.autocommit = True
    return c


def connect3(port, prepared, app="sy_batch"):
    """psycopg 3: the server binds the parameters (extended protocol);
    prepared: named statements from the first execution."""
    c = psycopg.connect(host="127.0.0.1", port=port, user="app", password="app", dbname="app",
                        connect_timeout=10, application_name=app, autocommit=True)
    c.prepare_threshold = 0 if prepared else None
    return c


def one(conn, sql, args=None):
    cur = conn.cursor()
    cur.execute(sql, args)
    row = cur.fetchone()
    cur.close()
    return row[0] if len(row) == 1 else row


# ------------------------------------------------------------------ isolation
def cmd_isolation(a):
    zones = ["UTC", "Asia/Tokyo", None]
    wrong, errors, answered = [0], [0], [0]
    samples = []
    lock = threading.Lock()
    start = threading.Barrier(a.clients)

    simple = a.protocol == "simple"
    db_error = psycopg2.Error if simple else psycopg.Error

    def client(i):
        w = e = n = 0
        try:
            c = connect(a.port) if simple else connect3(a.port, a.protocol == "prepared")
            zone = zones[i % 3]
            if zone:
                c.cursor().execute("SET TimeZone = '%s'" % zone)
            else:
                zone = one(c, "SHOW TimeZone")
            start.wait(30)
            for r in range(a.rounds):
                k = (i * 7 + r) % 50 + 1
                try:
                    got = one(c, "SELECT %s::int AS me, count(*) FROM generate_series(1, %s) AS g", (i, k))
                    n += 1
                    if tuple(got) != (i, k):
                        w += 1
                        with lock:
                            if len(samples) < 5:
                                samples.append("client %d asked (%d, %d) got %r" % (i, i, k, got))
                    if r % 5 == 0:
                        tz = one(c, "SELECT current_setting('TimeZone')")
                        n += 1
                        if tz != zone:
                            w += 1
                            with lock:
                                if len(samples) < 5:
                                    samples.append("client %d TimeZone %s, wants %s" % (i, tz, zone))
                except db_error as ex:
                    e += 1
                    code = ex.pgcode if simple else ex.sqlstate
                    with lock:
                        if len(samples) < 5:
                            samples.append("client %d: %s %s" % (i, code, clean(ex)))
            c.close()
        except Exception as ex:  # noqa: BLE001
            e += 1
            with lock:
                samples.append("client %d: %s" % (i, clean(ex)))
        with lock:
            wrong[0] += w
            errors[0] += e
            answered[0] += n

    ts = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    for s in samples:
        info(s)
    per = a.rounds + (a.rounds + 4) // 5
    what = "isolation (%s)" % a.protocol
    check(what + ": every statement answered", a.clients * per, answered[0])
    check(what + ": every answer is the client's own (values, row count, TimeZone)", 0, wrong[0])
    check(what + ": no client saw an error", 0, errors[0])


# ------------------------------------------------------------------ queue
class Run(threading.Thread):
    """One statement on its own connection, timed: .code (None: ok), .value."""

    def __init__(self, conn, sql):
        super().__init__()
        self.conn, self.sql = conn, sql
        self.code = self.value = self.t0 = self.t1 = None

    def run(self):
        self.t0 = time.time()
        try:
            self.value = one(self.conn, self.sql)
        except psycopg2.Error as e:
            self.code = e.pgcode or "no-sqlstate:" + clean(e)[:60]
        except Exception as e:  # noqa: BLE001
            self.code = type(e).__name__
        self.t1 = time.time()


def raw_client(port):
    p = PG(port)
    p.login("app", "app", "app", application_name="sy_batch")
    return p


def read_result(p):
    """Rows and SQLSTATE (None: no error) of the Query sent on raw client p."""
    rows, code = [], None
    while True:
        t, body = p.read_msg()
        if t is None:
            return rows, code or "closed"
        if t == b"D":
            (n,) = struct.unpack("!H", body[:2])
            off, row = 2, []
            for _ in range(n):
                (ln,) = struct.unpack("!i", body[off:off + 4])
                off += 4
                row.append(None if ln < 0 else body[off:off + ln].decode())
                off += max(ln, 0)
            rows.append(tuple(row))
        elif t == b"E":
            code = error_fields(body).get("C", "?")
        elif t == b"Z":
            return rows, code


def cmd_queue(a):
    warm = connect(a.port)
    # The shapes must be known as quick before they may queue: 20 calls each.
    for _ in range(20):
        one(warm, "SELECT pg_sleep(0)")
        one(warm, "SELECT 'w'::text AS who")

    def staged(head_sleep, names, head_conn=None):
        """X (pg_sleep 0.6) takes the only server; H (pg_sleep head_sleep)
        and the named readers queue behind it, in this order."""
        x = Run(connect(a.port), "SELECT pg_sleep(0.6)")
        h = Run(head_conn or connect(a.port), "SELECT pg_sleep(%s)" % head_sleep)
        rs = [Run(connect(a.port), "SELECT '%s'::text AS who" % n) for n in names]
        x.start()
        time.sleep(0.15)
        h.start()
        for r in rs:
            time.sleep(0.1)
            r.start()
        return x, h, rs

    # A: cancel a queued client.
    x, h, (r1, r2) = staged(2, ["r1", "r2"])
    time.sleep(1.0 - 0.35)  # X done at 0.6; H runs until ~2.6
    tc = time.time()
    r1.conn.cancel()
    r1.join(10)
    check("queued client cancelled: 57014", "57014", r1.code)
    check("queued client cancelled: answered within 0.5 s", True, r1.t1 is not None and r1.t1 - tc < 0.5)
    for t in (x, h, r2):
        t.join(15)
    check("queued behind a cancelled one: its own answer", "r2", r2.value)
    check("queued behind the running statement: answered after it", True,
          r2.t1 is not None and h.t1 is not None and r2.t1 >= h.t1 - 0.05)
    check("the running statement, untouched by the cancel", (None, ""), (h.code, h.value))
    check("the first statement, untouched", (None, ""), (x.code, x.value))
    check("the cancelled client goes on", "again", one(r1.conn, "SELECT 'again'::text"))

    # B: cancel the running statement while others are queued behind it.
    x, h, (r3,) = staged(2, ["r3"])
    time.sleep(1.0 - 0.25)
    tc = time.time()
    h.conn.cancel()
    h.join(10)
    check("running statement with others queued, cancelled: 57014", "57014", h.code)
    check("running statement with others queued, cancelled: answered within 0.5 s", True,
          h.t1 is not None and h.t1 - tc < 0.5)
    r3.join(15)
    x.join(15)
    check("queued behind the cancelled statement: its own answer", "r3", r3.value)
    check("the cancelled client goes on", "again", one(h.conn, "SELECT 'again'::text"))

    # C: a queued client and the running one leave. Raw-protocol clients
    # (all four: they log in with the same parameters, so they may share
    # a batch), whose sockets are closed mid-way.
    x, hr, r4, r5 = (raw_client(a.port) for _ in range(4))
    x.send(msg(b"Q", b"SELECT pg_sleep(0.6)\0"))
    time.sleep(0.15)
    hr.send(msg(b"Q", b"SELECT pg_sleep(1.5)\0"))
    time.sleep(0.1)
    r4.send(msg(b"Q", b"SELECT 'r4'::text AS who\0"))
    time.sleep(0.1)
    r5.send(msg(b"Q", b"SELECT 'r5'::text AS who\0"))
    time.sleep(0.1)
    r4.close()  # queued: leaves before its turn
    time.sleep(0.65)
    hr.close()  # running pg_sleep(1.5), with r5 behind it
    check("queued behind two clients that left: its own answer", "([('r5',)], None)", str(read_result(r5)))
    check("the first of them: its own answer", "([('',)], None)", str(read_result(x)))
    check("a new session works after them", "after", one(connect(a.port), "SELECT 'after'::text"))

    # D: the server's backend is terminated with clients queued.
    mon = psycopg2.connect(host="127.0.0.1", port=a.direct_port, user="monitor", password="monitor",
                           dbname="postgres", connect_timeout=10)
    mon.autocommit = True
    x, h, (r6, r7) = staged(3, ["r6", "r7"])
    time.sleep(1.2 - 0.35)
    pid = one(mon, "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3)' AND state = 'active'")
    one(mon, "SELECT pg_terminate_backend(%s)", (pid,))
    tk = time.time()
    for t in (x, h, r6, r7):
        t.join(10)
    check("backend terminated: the running statement gets an error", True, h.code is not None)
    check("backend terminated: each queued client gets an error", [True, True],
          [r6.code is not None, r7.code is not None])
    check("backend terminated: the queued clients hear of it within 1 s", True,
          all(t.t1 is not None and t.t1 - tk < 1.0 for t in (r6, r7)))
    info("codes after the kill: head %s, queued %s %s" % (h.code, r6.code, r7.code))
    check("a new session works after the kill", "after", one(connect(a.port), "SELECT 'after'::text"))
    left = one(mon, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' AND state = 'active'"
                    " AND query LIKE 'SELECT pg_sleep%'")
    check("nothing of the batches still runs on the server", 0, left)


# ------------------------------------------------------------------ queue_ext
def ext_request(sql, params, name="", parse=True):
    """Parse (of statement `name`, "" the unnamed one; parse=False: none),
    Bind, Describe portal, Execute, Sync: what libpq's PQsendQueryParams
    (or, without Parse, PQsendQueryPrepared) sends, in one write."""
    stmt = name.encode()
    out = b""
    if parse:
        out += msg(b"P", stmt + b"\0" + sql.encode() + b"\0" + struct.pack("!H", 0))
    vals = b"".join(struct.pack("!i", len(v)) + v for v in params)
    out += msg(b"B", b"\0" + stmt + b"\0" + struct.pack("!H", 0) + struct.pack("!H", len(params)) + vals +
               struct.pack("!H", 0))
    return out + msg(b"D", b"P\0") + msg(b"E", b"\0" + struct.pack("!i", 0)) + msg(b"S")


def read_answer(p):
    """(message types as a string, rows, SQLSTATE or None) up to ReadyForQuery."""
    types, rows, code = "", [], None
    while True:
        t, body = p.read_msg()
        if t is None:
            return types + "<closed>", rows, code
        types += t.decode()
        if t == b"D":
            (ln,) = struct.unpack("!i", body[2:6])
            rows.append(body[6:6 + ln].decode())
        elif t == b"E":
            code = error_fields(body).get("C", "?")
        elif t == b"Z":
            return types, rows, code


def cmd_queue_ext(a):
    sql = "SELECT $1::text AS who"
    warm = raw_client(a.port)
    # The shapes must be known as quick before they may queue: 20 calls each.
    for _ in range(20):
        warm.send(msg(b"Q", b"SELECT pg_sleep(0)\0"))
        read_result(warm)
        warm.send(ext_request(sql, [b"w"]))
        read_answer(warm)
    # A named statement, prepared on the only server: a Bind of it by a
    # queued client needs no Parse there (its shape made quick too).
    warm.send(ext_request(sql, [b"w"], name="who"))
    check("named statement prepared through the proxy", "12TDCZ", read_answer(warm)[0])
    for _ in range(20):
        warm.send(ext_request(sql, [b"w"], name="who", parse=False))
        read_answer(warm)

    x, r8, r9, r10, r11 = (raw_client(a.port) for _ in range(5))
    r9.send(ext_request(sql, [b"r9"], name="who"))
    check("a second session's Parse of the same statement", ("12TDCZ", ["r9"], None), read_answer(r9))
    x.send(msg(b"Q", b"SELECT pg_sleep(0.6)\0"))
    time.sleep(0.15)
    r8.send(ext_request(sql, [b"r8"]))
    time.sleep(0.05)
    r10.send(ext_request(sql, [b"r10"]))
    time.sleep(0.05)
    r9.send(ext_request(sql, [b"r9"], name="who", parse=False))
    time.sleep(0.05)
    # A Parse of a named statement: not a shape that queues; answered after.
    r11.send(ext_request(sql, [b"r11"], name="mine"))
    time.sleep(0.05)
    r10.close()  # queued: leaves before its turn
    check("the running Query: its own answer", "([('',)], None)", str(read_result(x)))
    check("queued extended request: its own answer, every message in order", ("12TDCZ", ["r8"], None),
          read_answer(r8))
    check("queued Bind of a named statement, behind one that left: its own answer", ("2TDCZ", ["r9"], None),
          read_answer(r9))
    check("a named Parse after them: answered", ("12TDCZ", ["r11"], None), read_answer(r11))
    r8.send(ext_request(sql, [b"again"]))
    check("a queued client goes on", ("12TDCZ", ["again"], None), read_answer(r8))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["isolation", "queue", "queue_ext"])
    ap.add_argument("--protocol", choices=["simple", "extended", "prepared"], default="simple")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--direct-port", type=int)
    ap.add_argument("--clients", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=120)
    a = ap.parse_args()
    {"isolation": cmd_isolation, "queue": cmd_queue, "queue_ext": cmd_queue_ext}[a.cmd](a)


if __name__ == "__main__":
    main()
