#!/usr/bin/env python3
"""Memory per idle authenticated client of a proxy (bench/pg.sh).

    idle_clients.py PORT PID CLIENTS [SETTLE_SECONDS]

Reads the VmRSS of process PID, opens CLIENTS connections to
127.0.0.1:PORT that log in as app/app (database app, SCRAM through
tests/integration/pgwire.py) and then stay idle, waits SETTLE_SECONDS
(default 2), reads VmRSS again, closes them all. Prints one line:
    clients=N before_kb=… after_kb=… bytes_per_client=… login_s=…
Exit status 1 when fewer than CLIENTS logged in (the line says how many
did, and the first error).
"""
import functools
import hashlib
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import pgwire  # noqa: E402

# The client side of SCRAM is the same PBKDF2 for every login (same password,
# same salt from the proxy): compute it once, so that the logins are bounded
# by the proxy, not by this script.
hashlib.pbkdf2_hmac = functools.lru_cache(maxsize=16)(hashlib.pbkdf2_hmac)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    settle = float(sys.argv[4]) if len(sys.argv) == 5 else 2.0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, n + 256) if hard != resource.RLIM_INFINITY else n + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    time.sleep(0.5)
    before = rss_kb(pid)
    conns, err = [], None
    t0 = time.monotonic()
    for _ in range(n):
        try:
            c = pgwire.PG(port, timeout=30.0)
            c.login("app", "app", "app")
            conns.append(c)
        except Exception as e:  # noqa: BLE001 — report and stop
            err = "%s: %s" % (type(e).__name__, e)
            break
    login_s = time.monotonic() - t0
    time.sleep(settle)
    after = rss_kb(pid)
    for c in conns:
        c.close()
    per = (after - before) * 1024.0 / len(conns) if conns else float("nan")
    print("clients=%d before_kb=%d after_kb=%d bytes_per_client=%.0f login_s=%.1f%s" % (
        len(conns), before, after, per, login_s, (" error=" + err.replace(" ", "_")) if err else ""))
    return 0 if len(conns) == n else 1


if __name__ == "__main__":
    sys.exit(main())
