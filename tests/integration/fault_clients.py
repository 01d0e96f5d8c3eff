"""fault_clients.py — misbehaving clients for the fault-injection tests.

Run with /usr/bin/python3 (the tests' $PY). Each subcommand prints one JSON
line on stdout; the shell test asserts on its fields.

  vanish PORT N            clients that disappear (RST) mid-query, mid-COPY
                           IN, mid-COPY OUT, mid-handshake (after the
                           startup, after the SASL initial response) and
                           mid-TLS-handshake; N of each
  slowstart PORT           a startup packet one byte a second; when does the
                           proxy give up
  garbage PORT             bad input after a valid login, one connection per
                           case: oversized / negative / too small lengths,
                           unknown types, out-of-order messages, random bytes,
                           then a 100 MB random stream
  churn PORT N             N connections opened and closed as fast as possible
                           (half plain TCP, half after a startup packet)
  idle PORT N READY STOP [LOGIN_TIMEOUT [THREADS]]
                           N logged-in idle clients (login timeout 15 s, 8
                           threads); touch READY when all are in or failed,
                           hold until the file STOP exists
  isolation PORT CLIENTS ROUNDS
                           CLIENTS threads, each ROUNDS transactions and
                           single statements whose results carry the
                           client's own tag; every row is checked
  victim PORT MODE READY GO  MODE result: a large result half read; txn: inside
                           a transaction with a row inserted. Touches READY,
                           waits for the file GO (the server has been killed),
                           then reads on / queries: how does it end, how fast
  silent_server PORTFILE   a "server" that accepts TCP and never answers;
                           writes its port to PORTFILE, runs until killed
"""

import json
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgwire import PG, PGError, error_fields, msg  # noqa: E402

USER, PASSWORD, DB = "app", "app", "app"


def rst_close(sock):
    """Close with a RST, as a killed process's socket would."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def startup_bytes(user=USER, database=DB):
    body = struct.pack("!I", 196608) + b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
    return struct.pack("!I", len(body) + 4) + body


def outcome(sock, deadline=5.0):
    """What the proxy does next: 'E:<sqlstate>', 'closed', 'hang' or 'other:<type>'."""
    sock.settimeout(deadline)
    buf = b""
    end = time.time() + deadline
    try:
        while time.time() < end:
            chunk = sock.recv(65536)
            if not chunk:
                return "closed"
            buf += chunk
            while len(buf) >= 5:
                t = buf[:1]
                (n,) = struct.unpack("!I", buf[1:5])
                if len(buf) < 1 + n:
                    break
                body, buf = buf[5:1 + n], buf[1 + n:]
                if t == b"E":
                    return "E:%s" % error_fields(body).get("C", "?")
                if t in (b"Z",):
                    return "other:Z"
    except socket.timeout:
        return "hang"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    return "hang"


def login(port, timeout=15.0):
    c = PG(port, timeout=timeout)
    c.login(USER, PASSWORD, DB)
    return c


def out(obj):
    print(json.dumps(obj), flush=True)


# ---- vanish -----------------------------------------------------------------

def vanish_mid_query(port):
    c = login(port)
    c.send(msg(b"Q", b"SELECT pg_sleep(3)\0"))
    time.sleep(0.2)
    rst_close(c.sock)


def vanish_mid_result(port):
    c = login(port)
    c.send(msg(b"Q", b"SELECT repeat('x', 1000) FROM generate_series(1, 200000)\0"))
    got = 0
    while got < 100000:
        chunk = c.sock.recv(65536)
        if not chunk:
            break
        got += len(chunk)
    rst_close(c.sock)


def vanish_mid_copy_in(port):
    c = login(port)
    c.query("CREATE TABLE IF NOT EXISTS fault_copy(x text)")
    c.send(msg(b"Q", b"COPY fault_copy FROM STDIN\0"))
    t, _ = c.read_msg()
    if t != b"G":
        raise RuntimeError("expected CopyInResponse, got %r" % t)
    for _ in range(50):
        c.send(msg(b"d", b"row\n" * 200))
    rst_close(c.sock)


def vanish_mid_copy_out(port):
    c = login(port)
    c.send(msg(b"Q", b"COPY (SELECT repeat('y', 500) FROM generate_series(1, 200000)) TO STDOUT\0"))
    got = 0
    while got < 100000:
        chunk = c.sock.recv(65536)
        if not chunk:
            break
        got += len(chunk)
    rst_close(c.sock)


def vanish_after_startup(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(startup_bytes())
    s.recv(1)  # the authentication request starts
    rst_close(s)


def vanish_mid_sasl(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(startup_bytes())
    s.recv(4096)
    first = b"n,,n=,r=" + b"A" * 24
    s.sendall(msg(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first))
    s.recv(1)
    rst_close(s)


def vanish_mid_tls(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(struct.pack("!II", 8, 80877103))
    answer = s.recv(1)
    if answer != b"S":
        rst_close(s)
        return "no-tls:%r" % answer
    # The first bytes of a real ClientHello, then gone.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, outg, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outg.read()
    s.sendall(hello[: max(1, len(hello) // 2)])
    time.sleep(0.05)
    rst_close(s)
    return None


def cmd_vanish(a):
    port, n = int(a[0]), int(a[1])
    cases = [("mid-query", vanish_mid_query), ("mid-result", vanish_mid_result),
             ("mid-copy-in", vanish_mid_copy_in), ("mid-copy-out", vanish_mid_copy_out),
             ("after-startup", vanish_after_startup), ("mid-sasl", vanish_mid_sasl),
             ("mid-tls-handshake", vanish_mid_tls)]
    res, errors = {}, []
    for name, fn in cases:
        ok = 0
        for _ in range(n):
            try:
                r = fn(port)
                if r:
                    errors.append("%s: %s" % (name, r))
                else:
                    ok += 1
            except Exception as e:  # noqa: BLE001
                errors.append("%s: %s: %s" % (name, type(e).__name__, e))
        res[name] = ok
    out({"done": res, "errors": errors[:10]})


# ---- slow startup -------------------------------------------------------------

def cmd_slowstart(a):
    port = int(a[0])
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    data = startup_bytes()
    t0 = time.time()
    sent = 0
    result = "all-sent"
    for b in data:
        try:
            s.sendall(bytes([b]))
            sent += 1
        except (BrokenPipeError, ConnectionResetError):
            result = "closed"
            break
        s.settimeout(1.0)
        try:
            chunk = s.recv(4096)
            if not chunk:
                result = "closed"
                break
            if chunk[:1] == b"E":
                result = "E:%s" % error_fields(chunk[5:]).get("C", "?")
                break
        except socket.timeout:
            pass
        except ConnectionResetError:
            result = "closed"
            break
    out({"result": result, "bytes_sent": sent, "of": len(data), "seconds": round(time.time() - t0, 1)})


# ---- garbage ------------------------------------------------------------------

def cmd_garbage(a):
    port = int(a[0])
    rnd = random.Random(4242)
    cases = [
        ("oversized length", b"Q" + struct.pack("!I", 0x7FFFFFFF) + b"SELECT 1\0"),
        ("negative length", b"Q" + struct.pack("!I", 0x80000000) + b"SELECT 1\0"),
        ("length -1", b"Q" + struct.pack("!I", 0xFFFFFFFF)),
        ("length 0", b"Q" + struct.pack("!I", 0)),
        ("length 3", b"Q" + struct.pack("!I", 3)),
        ("unknown type z", msg(b"z", b"abc")),
        ("unknown type NUL", msg(b"\0", b"")),
        ("unknown type 0xff", msg(b"\xff", b"\x01\x02")),
        ("password after login", msg(b"p", b"app\0")),
        ("CopyData outside COPY", msg(b"d", b"1\n")),
        ("CopyDone outside COPY", msg(b"c")),
        ("CopyFail outside COPY", msg(b"f", b"nope\0")),
        ("Bind without Parse", msg(b"B", b"\0nosuch\0\0\0\0\0\0\0") + msg(b"E", b"\0\0\0\0\0") + msg(b"S")),
        ("Execute without portal", msg(b"E", b"nosuch\0\0\0\0\0") + msg(b"S")),
        ("Describe bad kind", msg(b"D", b"X\0") + msg(b"S")),
        ("Close bad kind", msg(b"C", b"Q\0") + msg(b"S")),
        ("Parse truncated", msg(b"P", b"s1\0SELECT 1")),
        ("Parse bad param count", msg(b"P", b"s2\0SELECT 1\0\xff\xff") + msg(b"S")),
        ("Bind huge param count", msg(b"P", b"s3\0SELECT $1\0\0\0") + msg(b"B", b"\0s3\0\xff\xff") + msg(b"S")),
        ("FunctionCall", msg(b"F", b"\0\0\0\x01\0\0\0\0\0\0") ),
        ("startup again", startup_bytes()),
        ("SSLRequest after login", struct.pack("!II", 8, 80877103)),
        ("Query without NUL", msg(b"Q", b"SELECT 1")),
        ("Sync Sync Flush", msg(b"S") + msg(b"S") + msg(b"H")),
    ]
    for i in range(20):
        n = rnd.randrange(1, 2000)
        cases.append(("random %d" % i, bytes(rnd.getrandbits(8) for _ in range(n))))
    results, bad = {}, []
    for name, data in cases:
        try:
            c = login(port)
        except Exception as e:  # noqa: BLE001
            bad.append("%s: login failed: %s" % (name, e))
            continue
        try:
            c.send(data)
            r = outcome(c.sock, 5.0)
        except (BrokenPipeError, ConnectionResetError):
            r = "closed"
        if r == "hang":
            # A partial message legitimately waits for more bytes: the
            # proxy must still not be stuck — close and carry on.
            r = "waiting"
        results[name] = r
        c.close()
    # 100 MB of random bytes after a valid login, as fast as it goes.
    big = {"sent_mb": 0, "result": None}
    try:
        c = login(port)
        chunk = bytes(rnd.getrandbits(8) for _ in range(1 << 20))
        t0 = time.time()
        c.sock.settimeout(20)
        try:
            for i in range(100):
                c.sock.sendall(chunk)
                big["sent_mb"] = i + 1
            big["result"] = outcome(c.sock, 5.0)
        except (BrokenPipeError, ConnectionResetError):
            big["result"] = "closed"
        except socket.timeout:
            big["result"] = "send-stalled"
        big["seconds"] = round(time.time() - t0, 1)
        c.close()
    except Exception as e:  # noqa: BLE001
        big["result"] = "error: %s" % e
    # 100 MB before any startup.
    pre = {"sent_mb": 0}
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        try:
            for i in range(100):
                s.sendall(chunk)
                pre["sent_mb"] = i + 1
            pre["result"] = outcome(s, 5.0)
        except (BrokenPipeError, ConnectionResetError):
            pre["result"] = "closed"
        except socket.timeout:
            pre["result"] = "send-stalled"
        s.close()
    except Exception as e:  # noqa: BLE001
        pre["result"] = "error: %s" % e
    out({"results": results, "errors": bad, "stream_after_login": big, "stream_before_startup": pre})


# ---- churn / idle -----------------------------------------------------------

def cmd_churn(a):
    port, n = int(a[0]), int(a[1])
    errs = [0]
    lock = threading.Lock()
    sb = startup_bytes()

    def worker(k):
        for i in range(k, n, 8):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                if i % 2:
                    s.sendall(sb)
                if i % 4 == 3:
                    rst_close(s)
                else:
                    s.close()
            except OSError:
                with lock:
                    errs[0] += 1

    t0 = time.time()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out({"connections": n, "connect_errors": errs[0], "seconds": round(time.time() - t0, 1)})


def cmd_idle(a):
    port, n, ready, stop = int(a[0]), int(a[1]), a[2], a[3]
    tmo = float(a[4]) if len(a) > 4 else 15.0
    nthreads = int(a[5]) if len(a) > 5 else 8
    conns, errors = [], []
    lock = threading.Lock()

    def worker(k):
        for _ in range(k, n, nthreads):
            try:
                c = login(port, tmo)
                c.sock.settimeout(15)
                with lock:
                    conns.append(c)
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append("%s: %s" % (type(e).__name__, e))

    t0 = time.time()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    info = {"connected": len(conns), "errors": len(errors), "error_samples": errors[:3],
            "seconds": round(time.time() - t0, 1)}
    # A sample of the idle clients still answers.
    alive = 0
    sample = conns[:: max(1, len(conns) // 20)][:20]
    info["sample_size"] = len(sample)
    for c in sample:
        try:
            if c.query("SELECT 1") == [("1",)]:
                alive += 1
        except Exception:  # noqa: BLE001
            pass
    info["sample_alive"] = alive
    out(info)
    open(ready, "w").close()
    while not os.path.exists(stop):
        time.sleep(0.1)
    for c in conns:
        c.close()


# ---- isolation ----------------------------------------------------------------

def cmd_isolation(a):
    port, clients, rounds = int(a[0]), int(a[1]), int(a[2])
    bad, errors, checked = [], [], [0]
    lock = threading.Lock()

    def worker(k):
        tag = "c%04d" % k
        try:
            c = login(port)
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append("login %s: %s" % (tag, e))
            return
        n = 0
        try:
            for r in range(rounds):
                v = "%s-%d" % (tag, r)
                if r % 3 == 0:
                    rows = c.query("SELECT '%s', %d, pg_sleep(0.001)::text" % (v, k))
                    got = [rows[0][0], rows[0][1]] if rows else None
                    want = [v, str(k)]
                elif r % 3 == 1:
                    c.query("BEGIN")
                    c.query("SELECT set_config('sy.tag', '%s', true)" % v)
                    rows = c.query("SELECT current_setting('sy.tag'), '%s'" % tag)
                    c.query("COMMIT")
                    got = list(rows[0]) if rows else None
                    want = [v, tag]
                else:
                    rows = c.query("SELECT '%s' || g FROM generate_series(1, 50) g" % v)
                    got = [x[0] for x in rows]
                    want = ["%s%d" % (v, g) for g in range(1, 51)]
                n += 1
                if got != want:
                    with lock:
                        bad.append({"client": tag, "round": r, "want": want[:3], "got": (got or [])[:3]})
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append("%s: %s: %s" % (tag, type(e).__name__, e))
        finally:
            c.close()
        with lock:
            checked[0] += n

    t0 = time.time()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out({"clients": clients, "results_checked": checked[0], "mismatches": len(bad), "mismatch_samples": bad[:5],
         "errors": len(errors), "error_samples": errors[:5], "seconds": round(time.time() - t0, 1)})


# ---- a client whose server dies ----------------------------------------------

def cmd_victim(a):
    port, mode, ready, go = int(a[0]), a[1], a[2], a[3]
    c = login(port)
    if mode == "result":
        c.send(msg(b"Q", b"SELECT repeat('z', 1000) FROM generate_series(1, 2000000)\0"))
        got = 0
        while got < 200000:
            chunk = c.sock.recv(65536)
            got += len(chunk)
    else:
        c.query("CREATE TABLE IF NOT EXISTS fault_txn(x int)")
        c.query("BEGIN")
        c.query("INSERT INTO fault_txn VALUES (1)")
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.05)
    t0 = time.time()
    c.sock.settimeout(15)
    result = None
    try:
        if mode == "result":
            # Drain: the stream must end (error or close), not hang.
            buf = b""
            while True:
                chunk = c.sock.recv(1 << 20)
                if not chunk:
                    result = "closed"
                    break
                buf = (buf + chunk)[-65536:]
                if b"SFATAL\0" in buf or b"SERROR\0" in buf:
                    result = "E"
                    break
        else:
            c.query("INSERT INTO fault_txn VALUES (2)")
            c.query("COMMIT")
            result = "committed"
    except PGError as e:
        result = "E:%s" % e.sqlstate
    except ConnectionError:
        result = "closed"
    except socket.timeout:
        result = "hang"
    except OSError as e:
        result = "closed:%s" % e
    out({"mode": mode, "result": result, "seconds": round(time.time() - t0, 1)})


# ---- a server that never answers ------------------------------------------------

def cmd_silent_server(a):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(512)
    with open(a[0] + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(a[0] + ".tmp", a[0])
    held = []
    while True:
        s, _ = ls.accept()
        held.append(s)  # read nothing, answer nothing


def main():
    cmds = {"vanish": cmd_vanish, "slowstart": cmd_slowstart, "garbage": cmd_garbage, "churn": cmd_churn,
            "idle": cmd_idle, "isolation": cmd_isolation, "victim": cmd_victim, "silent_server": cmd_silent_server}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        sys.exit(2)
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
