"""clients.py — psycopg2 client drivers for the integration tests.

Run with /usr/bin/python3 ($PY in lib.sh), which has psycopg2.

  clients.py conc --port P [--user app --password app --db app]
             --clients N [--query SQL]... [--repeat K]
             [--monitor-port M --monitor-user U]
      N threads at once, each: connect, run every --query K times, close.
      With --monitor-port, another connection (as monitor/monitor) polls
      pg_stat_activity on that server for connections of user U and records
      the largest count seen. Prints one JSON line:
      {"ok": N, "errors": N, "error_samples": [...], "max_server": N, "samples": N, "seconds": S}

  clients.py hold --port P [--user --password --db] --out FILE --go FILE [--query SQL] [--wait S]
      Connect, write "connected <server pid>" to FILE, wait until the go FILE
      exists (at most --wait seconds), run --query and write "result <value>
      <server pid>" or "error <class>: <message>", then "done".
"""

import argparse
import json
import os
import sys
import threading
import time

import psycopg2


def dsn(a, port=None, user=None, password=None, db=None):
    return "host=127.0.0.1 port=%s user=%s password=%s dbname=%s connect_timeout=20 application_name=sy_tests" % (
        port or a.port, user or a.user, password or a.password, db or a.db)


def cmd_conc(a):
    queries = a.query or ["SELECT 1"]
    ok = [0]
    errors = []
    lock = threading.Lock()
    done = threading.Event()
    mon = {"max": 0, "samples": 0, "error": None}

    def worker(i):
        try:
            conn = psycopg2.connect(dsn(a))
            conn.autocommit = True
            cur = conn.cursor()
            for _ in range(a.repeat):
                for q in queries:
                    cur.execute(q)
                    if cur.description is not None:
                        cur.fetchall()
            conn.close()
            with lock:
                ok[0] += 1
        except Exception as e:  # noqa: BLE001 — every failure is counted
            with lock:
                errors.append("%s: %s" % (type(e).__name__, str(e).strip()))

    def monitor():
        try:
            conn = psycopg2.connect(dsn(a, port=a.monitor_port, user="monitor", password="monitor", db="postgres"))
            conn.autocommit = True
            cur = conn.cursor()
            while not done.is_set():
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND pid <> pg_backend_pid()",
                            (a.monitor_user,))
                n = cur.fetchone()[0]
                mon["samples"] += 1
                if n > mon["max"]:
                    mon["max"] = n
                time.sleep(0.01)
            conn.close()
        except Exception as e:  # noqa: BLE001
            mon["error"] = "%s: %s" % (type(e).__name__, e)

    threading.stack_size(512 * 1024)
    t0 = time.time()
    mt = None
    if a.monitor_port:
        mt = threading.Thread(target=monitor, daemon=True)
        mt.start()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(a.clients)]
    for t in threads:
        t.start()
    deadline = t0 + a.timeout
    for t in threads:
        t.join(max(0.0, deadline - time.time()))
    hung = sum(1 for t in threads if t.is_alive())
    done.set()
    if mt:
        mt.join(5)
    out = {
        "ok": ok[0],
        "errors": len(errors) + hung,
        "hung": hung,
        "error_samples": sorted(set(errors))[:10],
        "max_server": mon["max"],
        "samples": mon["samples"],
        "monitor_error": mon["error"],
        "seconds": round(time.time() - t0, 2),
    }
    print(json.dumps(out))
    sys.stdout.flush()
    os._exit(0)  # do not wait for hung threads


def cmd_hold(a):
    def write(line):
        with open(a.out, "a") as f:
            f.write(line + "\n")

    try:
        conn = psycopg2.connect(dsn(a))
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        write("connected %d" % pid)
    except Exception as e:  # noqa: BLE001
        write("error %s: %s" % (type(e).__name__, str(e).strip().replace("\n", " ")))
        write("done")
        return
    deadline = time.time() + a.wait
    while not os.path.exists(a.go) and time.time() < deadline:
        time.sleep(0.05)
    try:
        cur.execute(a.query)
        val = cur.fetchone()[0]
        cur.execute("SELECT pg_backend_pid()")
        write("result %s %d" % (val, cur.fetchone()[0]))
    except Exception as e:  # noqa: BLE001
        write("error %s: %s" % (type(e).__name__, str(e).strip().replace("\n", " ")))
    write("done")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("conc", "hold"):
        s = sub.add_parser(name)
        s.add_argument("--port", required=True)
        s.add_argument("--user", default="app")
        s.add_argument("--password", default="app")
        s.add_argument("--db", default="app")
    c = sub.choices["conc"]
    c.add_argument("--clients", type=int, default=10)
    c.add_argument("--query", action="append")
    c.add_argument("--repeat", type=int, default=1)
    c.add_argument("--monitor-port")
    c.add_argument("--monitor-user", default="app")
    c.add_argument("--timeout", type=float, default=120)
    h = sub.choices["hold"]
    h.add_argument("--out", required=True)
    h.add_argument("--go", required=True)
    h.add_argument("--query", default="SELECT 42")
    h.add_argument("--wait", type=float, default=60)
    a = p.parse_args()
    if a.cmd == "conc":
        cmd_conc(a)
    else:
        cmd_hold(a)


if __name__ == "__main__":
    main()
