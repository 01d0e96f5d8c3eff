"""pg_mode_clients.py — drivers for tests/integration/test_pg_pool_modes.sh.
Run with /usr/bin/python3 ($PY). Each subcommand prints

    CHECK<TAB>label<TAB>expected<TAB>actual

lines (run_checks turns them into assertions) and "info:" lines.

  modes --port P --direct-port D
      The proxy's cluster is in transaction mode with pool_size = 1 and
      workers = 1, query_wait_timeout = 1s; user app inherits it, user admin
      has pool_mode = session, user md5user pool_mode = statement.
      - two app clients share one backend, in turns;
      - an admin client keeps its own backend (and its session state) for its
        whole session, while app clients are served by theirs; a second admin
        client waits at login and gets query_wait_timeout (pools are per
        database and server user, pool_size 1 each); a third admin client
        waiting when the first leaves gets that backend, reset;
      - md5user (statement mode): BEGIN gets 25000, the session goes on;
        app (transaction mode) can BEGIN and runs a real transaction.
  copystall --port P --direct-port D --pid PROXYPID [--rows N] [--block-key K]
      COPY pm_copy FROM STDIN (psycopg2 copy_expert, ~100 bytes a row) through
      the proxy while a direct transaction holds an uncommitted row with key K:
      the server blocks on that key and stops reading; the proxy's VmRSS must
      stay within 20 MB of its figure before the COPY and the client must be
      stalled; after a direct ROLLBACK the COPY completes with every row.
"""

import argparse
import os
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from txn_clients import check, err_of, one, out, pg2_connect, rss_kb  # noqa: E402


def conn_pid(port, user, password, app, box):
    """Connect (psycopg2, autocommit) and read pg_backend_pid(); result in box."""
    t0 = time.time()

    def go():
        c = pg2_connect(port, user=user, password=password, app=app)
        box["conn"] = c
        return one(c, "SELECT pg_backend_pid()")

    box["v"] = err_of(go)
    box["t"] = time.time() - t0


# ------------------------------------------------------------------ modes
def cmd_modes(a):
    mon = pg2_connect(a.direct_port, user="monitor", password="monitor", db="postgres")

    def backends(user):
        return one(mon, "SELECT count(*) FROM pg_stat_activity WHERE usename = %s"
                        " AND backend_type = 'client backend'", (user,))

    # --- transaction mode (inherited from the cluster): one backend, in turns.
    A = pg2_connect(a.port, app="pm_app_a")
    B = pg2_connect(a.port, app="pm_app_b")
    pa = one(A, "SELECT pg_backend_pid()")
    pb = one(B, "SELECT pg_backend_pid()")
    out("info: app A on backend %s, app B on backend %s" % (pa, pb))
    check("transaction mode: app clients A and B run on the same backend", pa, pb)
    check("transaction mode: the app user has one server connection (pool_size = 1)", 1, backends("app"))
    cur = A.cursor()
    cur.execute("BEGIN")
    cur.execute("SELECT pg_backend_pid(), txid_current()")
    pa_tx, xid = cur.fetchone()
    check("A's transaction runs on that backend", pa, pa_tx)
    res = {}

    def b_query():
        t1 = time.time()
        res["v"] = err_of(lambda: one(B, "SELECT pg_backend_pid()"))
        res["t"] = time.time() - t1

    th = threading.Thread(target=b_query, daemon=True)
    th.start()
    time.sleep(0.4)
    check("while A's transaction is open, B's query waits for the backend", True, th.is_alive())
    cur.execute("SELECT txid_current()")
    check("A is still in its transaction on the backend (same xid)", xid, cur.fetchone()[0])
    cur.execute("COMMIT")
    th.join(5)
    out("info: B got %r after %.2fs" % (res.get("v"), res.get("t", -1)))
    check("after A's COMMIT, B gets the same backend", (None, pa), res.get("v", ("hung", None)))
    check("A after its transaction: still served by the one backend", pa, one(A, "SELECT pg_backend_pid()"))

    # --- session mode (user admin): its own backend for its whole session.
    ad1 = pg2_connect(a.port, user="admin", password="admin", app="pm_admin_1")
    p1 = one(ad1, "SELECT pg_backend_pid()")
    out("info: admin 1 on backend %s" % p1)
    check("session mode: admin 1 has a backend of its own (not the app backend)", True, p1 != pa)
    check("admin 1 is logged in as admin on the server", "admin", one(ad1, "SELECT current_user"))
    one(ad1, "SET work_mem = '7MB'")
    pids = []
    for i in range(3):
        pids.append(one(ad1, "SELECT pg_backend_pid()"))
        one(A, "SELECT 1")  # app traffic in between, on the app pool
        one(B, "SELECT 1")
    check("admin 1 keeps its backend across statements while app clients run", [p1] * 3, pids)
    check("admin 1 keeps its session state (SET work_mem, no pin needed)", "7MB", one(ad1, "SHOW work_mem"))
    check("app clients still share their one backend meanwhile", (pa, pa),
          (one(A, "SELECT pg_backend_pid()"), one(B, "SELECT pg_backend_pid()")))
    check("the admin user has one server connection", 1, backends("admin"))

    box2 = {}
    conn_pid(a.port, "admin", "admin", "pm_admin_2", box2)
    code, m = box2["v"]
    out("info: admin 2 while admin 1 is connected: %s %s after %.2fs" % (code, m, box2["t"]))
    check("a second admin client cannot get a server while admin 1 holds the admin pool's only one", True,
          code is not None)
    check("its error is query_wait_timeout", True, "query_wait_timeout" in (m or ""))
    check("it waited about query_wait_timeout (1s)", True, 0.8 <= box2["t"] <= 4.0)
    check("admin 1 still has its backend", p1, one(ad1, "SELECT pg_backend_pid()"))
    check("still one admin server connection", 1, backends("admin"))

    box3 = {}
    th = threading.Thread(target=conn_pid, args=(a.port, "admin", "admin", "pm_admin_3", box3), daemon=True)
    th.start()
    time.sleep(0.3)
    check("admin 3 waits while admin 1 is connected", True, th.is_alive())
    ad1.close()
    th.join(5)
    out("info: admin 3 got %r after %.2fs" % (box3.get("v"), box3.get("t", -1)))
    check("when admin 1 leaves, the waiting admin 3 gets its backend", (None, p1), box3.get("v", ("hung", None)))
    ad3 = box3.get("conn")
    if ad3 is not None:
        check("admin 3 does not inherit admin 1's SET work_mem (server_reset_query ran)",
              one(mon, "SHOW work_mem"), one(ad3, "SHOW work_mem"))
        ad3.close()

    # --- statement mode (user md5user) vs transaction mode (app).
    S = pg2_connect(a.port, user="md5user", password="md5pass", app="pm_stmt")
    check("statement mode: md5user runs a single statement", 1, one(S, "SELECT 1"))
    code, m = err_of(lambda: one(S, "BEGIN"))
    out("info: BEGIN in statement mode: %s %s" % (code, m))
    check("statement mode: BEGIN is refused with SQLSTATE 25000", "25000", code)
    code, m = err_of(lambda: one(S, "START TRANSACTION"))
    check("statement mode: START TRANSACTION is refused with SQLSTATE 25000", "25000", code)
    check("the statement-mode session goes on, outside any transaction", (True, True),
          one(S, "SELECT txid_current_if_assigned() IS NULL, now() = statement_timestamp()"))
    S.close()

    cur = A.cursor()
    code, _ = err_of(lambda: cur.execute("BEGIN"))
    check("transaction mode: app can BEGIN", None, code)
    cur.execute("SELECT txid_current(), now()")
    x1, n1 = cur.fetchone()
    time.sleep(0.05)
    cur.execute("SELECT txid_current(), now(), pg_backend_pid()")
    x2, n2, p = cur.fetchone()
    check("app's statements run in one transaction (same xid, same now())", (x1, n1), (x2, n2))
    check("on the app backend", pa, p)
    cur.execute("COMMIT")
    check("after COMMIT app is outside a transaction", True,
          one(A, "SELECT txid_current_if_assigned() IS NULL"))
    A.close()
    B.close()
    mon.close()


# ------------------------------------------------------------------ copystall
PAD = b"p" * 93  # with the key, a tab and a newline: ~100 bytes a row


class Feed:
    """A file object for copy_expert: rows 1..N made as they are read."""

    def __init__(self, rows):
        self.rows = rows
        self.next = 1
        self.buf = b""
        self.off = 0
        self.sent = 0
        self.lock = threading.Lock()

    def read(self, n=65536):
        if self.off >= len(self.buf):
            if self.next > self.rows:
                return b""
            end = min(self.next + 2000, self.rows + 1)
            self.buf = b"".join(b"%d\t%s\n" % (i, PAD) for i in range(self.next, end))
            self.off = 0
            self.next = end
        chunk = self.buf[self.off:self.off + n]
        self.off += len(chunk)
        with self.lock:
            self.sent += len(chunk)
        return chunk

    def bytes_sent(self):
        with self.lock:
            return self.sent


def total_bytes(rows):
    return sum(len(str(i)) + 2 + len(PAD) for i in range(1, rows + 1))


def sysctl_max(name):
    with open("/proc/sys/" + name) as f:
        return int(f.read().split()[-1])


def cmd_copystall(a):
    direct = pg2_connect(a.direct_port, app="pm_copy_direct")
    mon = pg2_connect(a.direct_port, user="monitor", password="monitor", db="postgres")
    one(direct, "SET client_min_messages = warning")
    one(direct, "DROP TABLE IF EXISTS pm_copy")
    one(direct, "CREATE UNLOGGED TABLE pm_copy (k int PRIMARY KEY, v text)")

    # Warm-up through the proxy: a small COPY and a query, so that the idle
    # figure includes the server connection and buffers in use.
    P = pg2_connect(a.port, app="pm_copy_client")
    P.cursor().copy_expert("COPY pm_copy FROM STDIN", Feed(5000))
    check("warm-up COPY of 5000 rows through the proxy", 5000, one(direct, "SELECT count(*) FROM pm_copy"))
    one(direct, "TRUNCATE pm_copy")
    rss0 = rss_kb(a.pid)
    out("info: proxy VmRSS before the COPY: %d kB" % rss0)

    # The blocker: an uncommitted row with key K. The COPY inserts rows 1..K-1,
    # then waits on this transaction and stops reading its socket.
    dcur = direct.cursor()
    dcur.execute("BEGIN")
    dcur.execute("INSERT INTO pm_copy VALUES (%s, 'blocker')", (a.block_key,))

    feed = Feed(a.rows)
    want = total_bytes(a.rows)
    out("info: streaming %d rows, %d bytes" % (a.rows, want))
    res = {}

    def run_copy():
        t1 = time.time()
        res["v"] = err_of(lambda: P.cursor().copy_expert("COPY pm_copy FROM STDIN /* pm_copystall */", feed,
                                                         size=65536))
        res["t"] = time.time() - t1

    th = threading.Thread(target=run_copy, daemon=True)
    t_start = time.time()
    th.start()

    # Wait until the server's COPY waits for the blocker's transaction.
    waiting = None
    for _ in range(200):
        waiting = one(mon, "SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity"
                           " WHERE query LIKE %s AND pid <> pg_backend_pid()", ("%pm_copystall */%",))
        if waiting == "Lock/transactionid":
            break
        time.sleep(0.05)
    check("the proxied COPY waits on the blocker's row lock on the server", "Lock/transactionid", waiting)
    # Let the buffers on the way fill: until the client is stalled.
    last, stable_since = feed.bytes_sent(), time.time()
    while time.time() - stable_since < 0.5 and time.time() - t_start < 15:
        time.sleep(0.05)
        now = feed.bytes_sent()
        if now != last:
            last, stable_since = now, time.time()
    sent0 = feed.bytes_sent()
    out("info: the client stalled after %d bytes (%.1fs after the COPY began)" % (sent0, time.time() - t_start))

    samples = []
    for _ in range(7):
        samples.append(rss_kb(a.pid))
        time.sleep(0.5)
    sent1 = feed.bytes_sent()
    peak = max(samples)
    out("info: proxy VmRSS samples while blocked (kB): %s; the client sent %d more bytes meanwhile"
        % (samples, sent1 - sent0))
    check("the COPY client is blocked, not finished, while the server does not read", True, th.is_alive())
    check("the client's COPY stream is stalled for 3 s (it sent no more than 64 kB more)", True,
          sent1 - sent0 <= 65536)
    # What the kernel can hold on the way (client->proxy and proxy->server
    # sockets, each a send and a receive buffer at their largest), the rows
    # the server took before the blocker's key, and 1 MB for the proxy.
    cap = 2 * (max(sysctl_max("net/ipv4/tcp_rmem"), 2 * sysctl_max("net/core/rmem_max")) +
               max(sysctl_max("net/ipv4/tcp_wmem"), 2 * sysctl_max("net/core/wmem_max")))
    bound = cap + total_bytes(a.block_key) + (1 << 20)
    out("info: socket buffers can hold up to %d bytes; bound on what the client can send: %d" % (cap, bound))
    check("the client could send only what the socket buffers hold (%d bytes at most, of %d)" % (bound, want),
          True, sent1 <= bound < want)
    check("the proxy's VmRSS stays within 20 MB of before (peak %d kB, before %d kB)" % (peak, rss0), True,
          peak - rss0 < 20480)
    check("the blocker's transaction still holds the server (COPY still waiting)", "Lock/transactionid",
          one(mon, "SELECT wait_event_type || '/' || wait_event FROM pg_stat_activity"
                   " WHERE query LIKE %s AND pid <> pg_backend_pid()", ("%pm_copystall */%",)))

    t_rel = time.time()
    dcur.execute("ROLLBACK")
    th.join(45)
    out("info: COPY result %r, %.1fs after the release (%.1fs in all)" % (res.get("v"), time.time() - t_rel,
                                                                          res.get("t", -1)))
    check("after the ROLLBACK the COPY completes without error", None, res.get("v", ("hung", None))[0])
    check("the client sent the whole stream", want, feed.bytes_sent())
    check("every row is on the server: count, min, max", (a.rows, 1, a.rows),
          one(direct, "SELECT count(*), min(k), max(k) FROM pm_copy"))
    check("row K is the COPY's, not the rolled-back blocker's", PAD.decode(),
          one(direct, "SELECT v FROM pm_copy WHERE k = %s", (a.block_key,)))
    check("the proxy session is usable after the COPY", 1, one(P, "SELECT 1"))
    rss1 = rss_kb(a.pid)
    out("info: proxy VmRSS after the COPY: %d kB" % rss1)
    check("the proxy's VmRSS after the 200 MB COPY is within 20 MB of before (%d kB, before %d kB)" % (rss1, rss0),
          True, rss1 - rss0 < 20480)
    P.close()
    one(direct, "DROP TABLE pm_copy")
    direct.close()
    mon.close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("modes")
    s.add_argument("--port", required=True)
    s.add_argument("--direct-port", required=True)
    s = sub.add_parser("copystall")
    s.add_argument("--port", required=True)
    s.add_argument("--direct-port", required=True)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--rows", type=int, default=2000000)
    s.add_argument("--block-key", type=int, default=20000)
    a = p.parse_args()
    try:
        globals()["cmd_" + a.cmd](a)
    except Exception:  # noqa: BLE001
        check("%s finished without an exception" % a.cmd, "no exception", traceback.format_exc())
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
