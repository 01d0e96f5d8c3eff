"""pipeline_chaos.py — test_pipeline_chaos.sh's load: for SECONDS, 40
psycopg2, 20 psycopg 3 (extended protocol: half with unnamed statements,
half with named ones) and 30 PyMySQL clients through the proxy (ports PGPORT, MYPORT)
each asking for its own values, mixed with long sleeps (some over
query_timeout), transactions, cancels, errors, raw clients that send a
statement and vanish, and a backend terminated every 2 s (monitor login
on DIRECT). Prints CHECK lines: no answer may be another client's.

  pipeline_chaos.py PGPORT MYPORT DIRECT SECONDS
"""
import os
import random
import sys
import threading
import time

import psycopg
import psycopg2
import pymysql

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgwire import PG, msg  # noqa: E402

PGPORT, MYPORT, DIRECT, SECONDS = (int(x) for x in sys.argv[1:5])
end = time.time() + SECONDS
stats = {"pg_ok":0, "pg_err":0, "pg3_ok":0, "pg3_err":0, "my_ok":0, "my_err":0, "wrong":0, "raw":0}
lock = threading.Lock()
def bump(k):
    with lock: stats[k]+=1
def pgc():
    c = psycopg2.connect(host="127.0.0.1", port=PGPORT, user="app", password="app", dbname="app", application_name="chaos"); c.autocommit=True; return c
def pg3c(prepared):
    c = psycopg.connect(host="127.0.0.1", port=PGPORT, user="app", password="app", dbname="app", application_name="chaos", autocommit=True)
    c.prepare_threshold = 0 if prepared else None; return c
def myc():
    return pymysql.connect(host="127.0.0.1", port=MYPORT, user="app", password="app", database="shop", autocommit=True, read_timeout=10)
def pg_worker(i, connect, ok, err):
    c = None
    while time.time() < end:
        try:
            if c is None: c = connect()
            r = random.random()
            cur = c.cursor()
            if r < 0.05: cur.execute("SELECT pg_sleep(%s)", (random.choice([0, 0, 0.3, 3]),)); cur.fetchall()
            elif r < 0.1: 
                cur.execute("BEGIN"); cur.execute("SELECT %s::int", (i,)); cur.execute("COMMIT")
            elif r < 0.12: c.cancel()
            else:
                cur.execute("SELECT %s::int, count(*) FROM generate_series(1, %s)", (i, i % 7 + 1))
                row = cur.fetchone()
                if row != (i, i % 7 + 1): bump("wrong")
            bump(ok)
        except Exception:
            bump(err)
            try: c.close()
            except Exception: pass
            c = None
def my_worker(i):
    c = None
    while time.time() < end:
        try:
            if c is None: c = myc()
            r = random.random()
            with c.cursor() as cur:
                if r < 0.05: cur.execute("SELECT SLEEP(%s)", (random.choice([0, 0, 0.3, 3]),)); cur.fetchall()
                elif r < 0.08: cur.execute("SELECT 1 FROM nosuchtable")
                else:
                    cur.execute("SELECT %s, %s * 2", (i, i)); row = cur.fetchone()
                    if tuple(row) != (i, 2 * i): bump("wrong")
            bump("my_ok")
        except Exception:
            bump("my_err")
            try: c.close()
            except Exception: pass
            c = None
def raw_leaver():
    while time.time() < end:
        try:
            p = PG(PGPORT); p.login("app", "app", "app", application_name="chaos")
            p.send(msg(b"Q", b"SELECT pg_sleep(0)\0")); time.sleep(random.random() * 0.01); p.close(); bump("raw")
        except Exception: pass
        try:
            s = myc(); s.cursor().execute("SELECT 1")
            s._sock.sendall(b"\x05\x00\x00\x00\x03SEL"); s._sock.close(); bump("raw")
        except Exception: pass
def killer():
    mon = psycopg2.connect(host="127.0.0.1", port=DIRECT, user="monitor", password="monitor", dbname="postgres"); mon.autocommit=True
    while time.time() < end:
        time.sleep(2)
        cur = mon.cursor(); cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename='app' AND application_name <> 'x' AND pid <> pg_backend_pid() ORDER BY random() LIMIT 1")
ts = [threading.Thread(target=pg_worker, args=(i, pgc, "pg_ok", "pg_err")) for i in range(40)] + [threading.Thread(target=pg_worker, args=(100 + i, lambda p=i % 2 == 1: pg3c(p), "pg3_ok", "pg3_err")) for i in range(20)] + [threading.Thread(target=my_worker, args=(i,)) for i in range(30)] + [threading.Thread(target=raw_leaver) for _ in range(3)] + [threading.Thread(target=killer)]
for t in ts: t.start()
for t in ts: t.join()
print("# " + str(stats))


def check(label, expected, actual):
    print("CHECK\t%s\t%s\t%s" % (label, expected, actual))


check("chaos: no answer was another client's", 0, stats["wrong"])
check("chaos: PostgreSQL clients got answers", True, stats["pg_ok"] > 200)
check("chaos: PostgreSQL extended-protocol clients got answers", True, stats["pg3_ok"] > 100)
check("chaos: MySQL clients got answers", True, stats["my_ok"] > 200)
check("chaos: raw clients came and went", True, stats["raw"] > 10)
