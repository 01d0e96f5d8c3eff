#!/usr/bin/python3
"""route_clients.py — read/write routing loads for tests/integration/test_route_*.

  ryw pg|my PORT CLIENTS ITERS TABLE [KEY]
      CLIENTS threads, each with its own connection (autocommit), ITERS
      times: insert a unique row, then read it back at once. Prints JSON:
      misses (reads that did not see their own row), reads, errors, seconds.
  scope pg|my PORT ITERS TABLE KEY
      A write on one connection, the read on another connection that
      carries the same application key (PostgreSQL: startup parameter
      switchyard.key through PGOPTIONS is not allowed by libpq for unknown
      names, so `SET switchyard.key`; MySQL: SET @@session.switchyard_key).
      Prints JSON: misses, reads.
  monotonic pg|my PORT READS TABLE
      Successive reads of count(*) on one connection while rows are added
      elsewhere: prints JSON: reads, backwards (times the count went down).

psycopg2 and pymysql come from Debian (python3-psycopg2, python3-pymysql).
"""
import json
import sys
import threading
import time


def connect(kind, port, key=None):
    if kind == "pg":
        import psycopg2
        c = psycopg2.connect(host="127.0.0.1", port=port, user="app", password="app", dbname="app")
        c.autocommit = True
        if key:
            with c.cursor() as cur:
                cur.execute("SET switchyard.key = %s", (key,))
        return c
    import pymysql
    c = pymysql.connect(host="127.0.0.1", port=port, user="app", password="app", database="shop", autocommit=True)
    if key:
        with c.cursor() as cur:
            cur.execute("SET @@session.switchyard_key = %s", (key,))
    return c


def ryw(kind, port, clients, iters, table, key=None):
    res = {"misses": 0, "reads": 0, "errors": 0, "error_samples": []}
    lock = threading.Lock()

    def worker(n):
        misses = reads = errors = 0
        samples = []
        try:
            c = connect(kind, port, key)
        except Exception as e:  # noqa: BLE001
            with lock:
                res["errors"] += 1
                res["error_samples"].append(repr(e)[:200])
            return
        cur = c.cursor()
        for i in range(iters):
            try:
                cur.execute(f"INSERT INTO {table} (client, i) VALUES (%s, %s)", (n, i))
                cur.execute(f"SELECT count(*) FROM {table} WHERE client = %s AND i = %s", (n, i))
                reads += 1
                if cur.fetchone()[0] != 1:
                    misses += 1
            except Exception as e:  # noqa: BLE001
                errors += 1
                if len(samples) < 3:
                    samples.append(repr(e)[:200])
                try:
                    c.close()
                except Exception:  # noqa: BLE001
                    pass
                c = connect(kind, port, key)
                cur = c.cursor()
        c.close()
        with lock:
            res["misses"] += misses
            res["reads"] += reads
            res["errors"] += errors
            res["error_samples"] += samples

    t0 = time.time()
    ts = [threading.Thread(target=worker, args=(n,)) for n in range(1, clients + 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    res["seconds"] = round(time.time() - t0, 1)
    print(json.dumps(res))


def scope(kind, port, iters, table, key):
    a = connect(kind, port, key)
    b = connect(kind, port, key)
    ca, cb = a.cursor(), b.cursor()
    misses = 0
    for i in range(iters):
        ca.execute(f"INSERT INTO {table} (client, i) VALUES (%s, %s)", (-1, i))
        cb.execute(f"SELECT count(*) FROM {table} WHERE client = %s AND i = %s", (-1, i))
        if cb.fetchone()[0] != 1:
            misses += 1
    print(json.dumps({"misses": misses, "reads": iters}))


def monotonic(kind, port, reads, table):
    c = connect(kind, port)
    cur = c.cursor()
    last = -1
    backwards = 0
    for _ in range(reads):
        cur.execute(f"SELECT count(*) FROM {table}")
        n = cur.fetchone()[0]
        if n < last:
            backwards += 1
        last = max(last, n)
        time.sleep(0.005)
    print(json.dumps({"reads": reads, "backwards": backwards, "last": last}))


def main():
    mode, kind, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "ryw":
        ryw(kind, port, int(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7] if len(sys.argv) > 7 else None)
    elif mode == "scope":
        scope(kind, port, int(sys.argv[4]), sys.argv[5], sys.argv[6])
    elif mode == "monotonic":
        monotonic(kind, port, int(sys.argv[4]), sys.argv[5])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
