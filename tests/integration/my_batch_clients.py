"""my_batch_clients.py — PyMySQL drivers for test_my_pipeline.sh: server
pipelining (pipeline_depth) on the MySQL side, seen by real clients. Run
with /usr/bin/python3 ($PY). Checks are printed as

    CHECK<TAB>label<TAB>expected<TAB>actual

for run_checks in lib.sh; other lines are information.

  isolation --port P [--clients 40] [--rounds 120]
      many clients, each asking for its own values, a third each with
      time_zone '+09:00', '+00:00' or the default: every answer must be
      the client's own (values, time_zone), with no error.
  queue --port P --direct-port D
      pool_size = 1, pipeline_depth = 4: statements queued behind a
      running one; KILL QUERY (through the proxy) of a queued client and
      of the running one with others behind it (ERR 1317 at once, the
      others get their own answers); clients leaving while queued or
      running; the server connection killed with clients queued (each
      gets an error, new sessions work).
"""

import argparse
import socket
import sys
import threading
import time

import pymysql


def clean(v):
    return str(v).replace("\t", " ").replace("\n", " | ").strip()


def check(label, expected, actual):
    sys.stdout.write("CHECK\t%s\t%s\t%s\n" % (label, clean(expected), clean(actual)))
    sys.stdout.flush()


def info(text):
    sys.stdout.write("# %s\n" % clean(text))
    sys.stdout.flush()


def connect(port, user="app", password="app", db="shop"):
    return pymysql.connect(host="127.0.0.1", port=port, user=user, password=password, database=db,
                           autocommit=True, connect_timeout=10, read_timeout=30)


def one(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
    return row[0] if row is not None and len(row) == 1 else row


# ------------------------------------------------------------------ isolation
def cmd_isolation(a):
    zones = ["+09:00", "+00:00", None]
    wrong, errors, answered = [0], [0], [0]
    samples = []
    lock = threading.Lock()
    start = threading.Barrier(a.clients)

    def note(s):
        with lock:
            if len(samples) < 5:
                samples.append(s)

    def client(i):
        w = e = n = 0
        try:
            c = connect(a.port)
            zone = zones[i % 3]
            if zone:
                with c.cursor() as cur:
                    cur.execute("SET time_zone = %s", (zone,))
            else:
                zone = one(c, "SELECT @@session.time_zone")
            start.wait(30)
            for r in range(a.rounds):
                k = (i * 7 + r) % 50 + 1
                try:
                    got = one(c, "SELECT %s AS me, %s * 3 AS k3", (i, k))
                    n += 1
                    if tuple(got) != (i, 3 * k):
                        w += 1
                        note("client %d asked (%d, %d) got %r" % (i, i, 3 * k, got))
                    if r % 5 == 0:
                        tz = one(c, "SELECT @@session.time_zone")
                        n += 1
                        if tz != zone:
                            w += 1
                            note("client %d time_zone %s, wants %s" % (i, tz, zone))
                except pymysql.MySQLError as ex:
                    e += 1
                    note("client %d: %s" % (i, clean(ex)))
            c.close()
        except Exception as ex:  # noqa: BLE001
            e += 1
            note("client %d: %s" % (i, clean(ex)))
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
    check("isolation: every statement answered", a.clients * per, answered[0])
    check("isolation: every answer is the client's own (values, time_zone)", 0, wrong[0])
    check("isolation: no client saw an error", 0, errors[0])


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
        except pymysql.MySQLError as e:
            self.code = e.args[0] if e.args else type(e).__name__
        except Exception as e:  # noqa: BLE001
            self.code = type(e).__name__
        self.t1 = time.time()


def cmd_queue(a):
    warm = connect(a.port)
    killer = connect(a.port)
    # The shapes must be known as quick before they may queue: 20 calls each.
    for _ in range(20):
        one(warm, "SELECT SLEEP(0)")
        one(warm, "SELECT 'w' AS who")

    def staged(head_sleep, names):
        """X (SLEEP 0.6) takes the only server; H (SLEEP head_sleep) and
        the named readers queue behind it, in this order."""
        x = Run(connect(a.port), "SELECT SLEEP(0.6)")
        h = Run(connect(a.port), "SELECT SLEEP(%s)" % head_sleep)
        rs = [Run(connect(a.port), "SELECT '%s' AS who" % n) for n in names]
        x.start()
        time.sleep(0.15)
        h.start()
        for r in rs:
            time.sleep(0.1)
            r.start()
        return x, h, rs

    # A: KILL QUERY of a queued client.
    x, h, (r1, r2) = staged(2, ["r1", "r2"])
    time.sleep(1.0 - 0.35)
    tk = time.time()
    one(killer, "KILL QUERY %d" % r1.conn.thread_id())
    r1.join(10)
    check("queued client killed: ERR 1317", 1317, r1.code)
    check("queued client killed: answered within 0.5 s", True, r1.t1 is not None and r1.t1 - tk < 0.5)
    for t in (x, h, r2):
        t.join(15)
    check("queued behind a killed one: its own answer", (None, "r2"), (r2.code, r2.value))
    check("queued behind the running statement: answered after it", True,
          r2.t1 is not None and h.t1 is not None and r2.t1 >= h.t1 - 0.05)
    check("the running statement, untouched by the KILL", (None, 0), (h.code, h.value))
    check("the first statement, untouched", (None, 0), (x.code, x.value))
    check("the killed client goes on", "again", one(r1.conn, "SELECT 'again'"))

    # B: KILL QUERY of the running statement while others are queued.
    x, h, (r3,) = staged(2, ["r3"])
    time.sleep(1.0 - 0.25)
    tk = time.time()
    one(killer, "KILL QUERY %d" % h.conn.thread_id())
    h.join(10)
    check("running statement with others queued, killed: ERR 1317", 1317, h.code)
    check("running statement with others queued, killed: answered within 0.5 s", True,
          h.t1 is not None and h.t1 - tk < 0.5)
    r3.join(15)
    x.join(15)
    check("queued behind the killed statement: its own answer", (None, "r3"), (r3.code, r3.value))
    check("the killed client goes on", "again", one(h.conn, "SELECT 'again'"))

    # C: a queued client and the running one leave (their sockets shut).
    x, h, (r4, r5) = staged(1.5, ["r4", "r5"])
    time.sleep(0.5 - 0.35)
    r4.conn._sock.shutdown(socket.SHUT_RDWR)  # queued: leaves before its turn
    time.sleep(0.6)
    h.conn._sock.shutdown(socket.SHUT_RDWR)  # running SLEEP(1.5), r5 behind it
    for t in (x, h, r4, r5):
        t.join(15)
    check("queued behind two clients that left: its own answer", (None, "r5"), (r5.code, r5.value))
    check("the first of them: its own answer", (None, 0), (x.code, x.value))
    check("a new session works after them", "after", one(connect(a.port), "SELECT 'after'"))

    # D: the server connection is killed with clients queued.
    mon = connect(a.direct_port, user="monitor", password="monitor", db="information_schema")
    x, h, (r6, r7) = staged(3, ["r6", "r7"])
    time.sleep(1.2 - 0.35)
    tid = one(mon, "SELECT id FROM information_schema.processlist WHERE info = 'SELECT SLEEP(3)'")
    one(mon, "KILL %d" % tid)
    tk = time.time()
    for t in (x, h, r6, r7):
        t.join(10)
    info("codes after the kill: head %s, queued %s %s" % (h.code, r6.code, r7.code))
    check("server connection killed: the running statement gets an error", True, h.code is not None)
    check("server connection killed: each queued client gets an error", [True, True],
          [r6.code is not None, r7.code is not None])
    check("server connection killed: the queued clients hear of it within 1 s", True,
          all(t.t1 is not None and t.t1 - tk < 1.0 for t in (r6, r7)))
    check("a new session works after the kill", "after", one(connect(a.port), "SELECT 'after'"))
    time.sleep(0.5)
    left = one(mon, "SELECT COUNT(*) FROM information_schema.processlist WHERE user = 'app'"
                    " AND info LIKE 'SELECT SLEEP%'")
    check("nothing of the batches still runs on the server", 0, left)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["isolation", "queue"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--direct-port", type=int)
    ap.add_argument("--clients", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=120)
    a = ap.parse_args()
    {"isolation": cmd_isolation, "queue": cmd_queue}[a.cmd](a)


if __name__ == "__main__":
    main()
