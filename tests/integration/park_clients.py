#!/usr/bin/env python3
"""Idle clients parked by the proxy (test_pg_txn_idle_park.sh).

    park_clients.py --port P --stats-port S --pid PID --clients N

Opens N psycopg2 sessions (autocommit) through the proxy; every tenth sets
TimeZone to Asia/Tokyo (a tracked parameter: the session's own lists are
copied, not shared, when it changes them). The sessions first stay idle
for 2.5 s after their login: measured then are the proxy's
switchyard_client_parked gauge, its VmRSS growth per session and its open
descriptors. Then each runs a query (woken from parking) and all are idle
again for 2.5 s (parked again, RSS again). Then every session runs SHOW
TimeZone and a query, half of them close, and the descriptors are counted
again. Prints one JSON line.
"""
import argparse
import json
import os
import re
import sys
import time
import urllib.request

import psycopg2


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def parked(stats_port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % stats_port, timeout=5) as r:
        text = r.read().decode()
    m = re.search(r'^switchyard_client_parked\{protocol="postgres"\} (\d+)', text, re.M)
    return int(m.group(1)) if m else -1


def connect(port):
    c = psycopg2.connect(host="127.0.0.1", port=port, user="app", password="app", dbname="app",
                         connect_timeout=20)
    c.autocommit = True
    return c


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--stats-port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--clients", type=int, default=300)
    a = p.parse_args()
    out = {"errors": 0, "error_samples": []}

    def err(e):
        out["errors"] += 1
        if len(out["error_samples"]) < 3:
            out["error_samples"].append("%s: %s" % (type(e).__name__, str(e).strip()))

    # Warm up the proxy's allocator and TLS/crypto state before measuring.
    for _ in range(20):
        connect(a.port).close()
    time.sleep(1.5)
    out["rss_before_kb"] = rss_kb(a.pid)
    out["fds_before"] = fds(a.pid)
    conns = []
    for i in range(a.clients):
        try:
            conns.append((connect(a.port), "Asia/Tokyo" if i % 10 == 0 else None))
        except Exception as e:  # noqa: BLE001
            err(e)
    time.sleep(2.5)
    # Logged in, idle: what bench/pg.sh's "idle" figure measures.
    out["opened"] = len(conns)
    out["parked_login"] = parked(a.stats_port)
    out["rss_idle_kb"] = rss_kb(a.pid)
    out["fds_idle"] = fds(a.pid)
    out["bytes_per_client"] = round((out["rss_idle_kb"] - out["rss_before_kb"]) * 1024 / max(1, len(conns)))
    for c, tz in conns:
        try:
            cur = c.cursor()
            if tz:
                cur.execute("SET TimeZone TO '%s'" % tz)
            cur.execute("SELECT 1")
            cur.fetchone()
        except Exception as e:  # noqa: BLE001
            err(e)
    time.sleep(2.5)
    # After a query each: parked again by the sweep (PG_CLIENT_PARK_AFTER_MS).
    out["parked_idle"] = parked(a.stats_port)
    out["rss_used_kb"] = rss_kb(a.pid)
    out["bytes_per_client_used"] = round((out["rss_used_kb"] - out["rss_before_kb"]) * 1024 / max(1, len(conns)))
    default_tz = None
    wrong_tz = 0
    for c, tz in conns:
        try:
            cur = c.cursor()
            cur.execute("SHOW TimeZone")
            got = cur.fetchone()[0]
            if tz is None:
                default_tz = default_tz or got
                if got != default_tz:
                    wrong_tz += 1
            elif got != tz:
                wrong_tz += 1
            cur.execute("SELECT 2")
            if cur.fetchone()[0] != 2:
                raise RuntimeError("wrong answer")
        except Exception as e:  # noqa: BLE001
            err(e)
    out["wrong_timezone"] = wrong_tz
    out["default_timezone"] = default_tz
    half = len(conns) // 2
    for c, _ in conns[:half]:
        c.close()
    time.sleep(1.0)
    out["closed"] = half
    out["fds_after_close"] = fds(a.pid)
    out["parked_after_close"] = parked(a.stats_port)
    for c, _ in conns[half:]:
        c.close()
    time.sleep(1.0)
    out["fds_end"] = fds(a.pid)
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
