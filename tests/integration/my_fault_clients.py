"""my_fault_clients.py — misbehaving MySQL clients and fake servers for the
MySQL fault-injection tests (tests/integration/test_fault_my_*.sh) and for
the PostgreSQL server-side login faults (test_fault_server_auth.sh).

Run with /usr/bin/python3 (the tests' $PY). Each subcommand prints one JSON
line on stdout; the shell test asserts on its fields. No MySQL driver is
needed: a minimal protocol-4.1 client (mysql_native_password, text
protocol, EOF packets) is written out here.

  vanish PORT N            clients that disappear (RST) mid-query (SELECT
                           SLEEP), mid-result (a 5-million-row result half
                           read), mid-transaction (a row inserted into
                           fault_my_vanish, tag v<i>), after the greeting,
                           mid-auth (half a HandshakeResponse), mid-TLS (an
                           SSLRequest then half a ClientHello); N of each
  garbage PORT             bad input, one connection per case (after a
                           valid login unless the case says otherwise): bad
                           sequence ids, empty packet, length beyond the
                           data, length > max_packet_size, 16 MB - 1 frame of
                           a non-streamable command, unknown command bytes,
                           malformed COM_STMT_*, random bytes (before and
                           after login), a 100 MB random stream; what the
                           proxy answers (ERR code / close / hang)
  victim PORT MODE READY GO  MODE result: a large result half read; txn: inside
                           a transaction with a row inserted into
                           fault_my_txn. Touches READY, waits for the file GO
                           (the server has been killed), then reads on /
                           queries: how it ends (E:<code>, closed, hang)
  query PORT SQL [USER PASSWORD DB]
                           log in, run SQL, print the outcome (rows or E:<code>)
  pgquery PORT DB          PostgreSQL (pgwire.py): log in as app/app to DB,
                           SELECT 1; the outcome (ok, E:<sqlstate>, closed, hang)
  fake_server PROTO MODE PORTFILE
                           a fake PostgreSQL (PROTO pg) or MySQL (PROTO my)
                           server for the proxy's server-side login; writes
                           its port to PORTFILE, runs until killed. MODE:
                             close-at-accept   accept and close at once
                             close-after-hello pg: read the startup packet,
                                               close; my: send the greeting,
                                               read the HandshakeResponse, close
                             hang-after-hello  the same, then never answer
                             close-mid-auth    pg: AuthenticationSASL, read the
                                               client's first message, close;
                                               my: answer an AuthSwitchRequest,
                                               read the answer, close
                             garbage           answer random bytes
"""

import hashlib
import json
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time

USER, PASSWORD, DB = "app", "app", "shop"

CLIENT_LONG_PASSWORD = 1
CLIENT_CONNECT_WITH_DB = 8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PLUGIN_AUTH = 0x80000
CAPS = (CLIENT_LONG_PASSWORD | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS |
        CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH)


class MyError(Exception):
    def __init__(self, code, state, text):
        super().__init__("%d (%s) %s" % (code, state, text))
        self.code, self.state, self.text = code, state, text


def out(obj):
    print(json.dumps(obj), flush=True)


def rst_close(sock):
    """Close with a RST, as a killed process's socket would."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def native_scramble(password, salt):
    if not password:
        return b""
    h1 = hashlib.sha1(password.encode()).digest()
    h2 = hashlib.sha1(h1).digest()
    h3 = hashlib.sha1(salt + h2).digest()
    return bytes(a ^ b for a, b in zip(h1, h3))


def pkt(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xff]) + payload


def parse_err(p):
    code = struct.unpack("<H", p[1:3])[0]
    state, text = "", p[3:]
    if text[:1] == b"#":
        state, text = text[1:6].decode(), text[6:]
    return MyError(code, state, text.decode(errors="replace"))


class My:
    def __init__(self, port, timeout=15.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.seq = 0

    def recv_more(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def read_packet(self):
        while len(self.buf) < 4:
            self.recv_more()
        n = struct.unpack("<I", self.buf[:3] + b"\0")[0]
        while len(self.buf) < 4 + n:
            self.recv_more()
        self.seq = self.buf[3]
        p, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        return p

    def send(self, seq, payload):
        self.sock.sendall(pkt(seq, payload))

    def greeting(self):
        g = self.read_packet()
        if g[:1] == b"\xff":
            raise parse_err(g)
        i = g.index(b"\0", 1) + 1 + 4
        salt = g[i:i + 8]
        i += 8 + 1
        caps = struct.unpack("<H", g[i:i + 2])[0]
        i += 2 + 1 + 2
        caps |= struct.unpack("<H", g[i:i + 2])[0] << 16
        i += 2
        alen = g[i]
        i += 1 + 10
        salt += g[i:i + max(13, alen - 8) - 1]
        return salt, caps

    def response(self, salt, user=USER, password=PASSWORD, db=DB, caps=CAPS):
        sc = native_scramble(password, salt)
        return (struct.pack("<IIB", caps, 1 << 24, 33) + b"\0" * 23 + user.encode() + b"\0" +
                bytes([len(sc)]) + sc + db.encode() + b"\0" + b"mysql_native_password\0")

    def login(self, user=USER, password=PASSWORD, db=DB):
        salt, _ = self.greeting()
        self.send(1, self.response(salt, user, password, db))
        while True:
            p = self.read_packet()
            if p[:1] == b"\x00":
                return
            if p[:1] == b"\xff":
                raise parse_err(p)
            if p[:1] == b"\xfe":  # AuthSwitchRequest
                i = p.index(b"\0", 1)
                plugin, data = p[1:i], p[i + 1:].rstrip(b"\0")
                if plugin != b"mysql_native_password":
                    raise MyError(0, "", "unsupported plugin %r" % plugin)
                self.send(self.seq + 1, native_scramble(password, data))
                continue
            raise MyError(0, "", "unexpected login packet %r" % p[:20])

    def query(self, sql):
        """Rows (lists of str/None) of a text-protocol result; [] for an OK."""
        self.send(0, b"\x03" + sql.encode())
        p = self.read_packet()
        if p[:1] == b"\xff":
            raise parse_err(p)
        if p[:1] == b"\x00":
            return []
        while self.read_packet()[:1] != b"\xfe":  # column definitions
            pass
        rows = []
        while True:
            p = self.read_packet()
            if p[:1] == b"\xff":
                raise parse_err(p)
            if p[:1] == b"\xfe" and len(p) < 9:
                return rows
            row, i = [], 0
            while i < len(p):
                if p[i] == 0xfb:
                    row.append(None)
                    i += 1
                    continue
                n, i = lenenc(p, i)
                row.append(p[i:i + n].decode(errors="replace"))
                i += n
            rows.append(row)


def lenenc(p, i):
    b = p[i]
    if b < 0xfb:
        return b, i + 1
    if b == 0xfc:
        return struct.unpack("<H", p[i + 1:i + 3])[0], i + 3
    if b == 0xfd:
        return struct.unpack("<I", p[i + 1:i + 4] + b"\0")[0], i + 4
    return struct.unpack("<Q", p[i + 1:i + 9])[0], i + 9


def login(port, timeout=15.0):
    c = My(port, timeout)
    c.login()
    return c


def outcome(sock, deadline=5.0):
    """What the proxy does next: 'E:<code>' (then closed or not), 'closed', 'hang', 'other'."""
    sock.settimeout(deadline)
    buf = b""
    end = time.time() + deadline
    try:
        while time.time() < end:
            chunk = sock.recv(65536)
            if not chunk:
                return "closed"
            buf += chunk
            if len(buf) >= 5:
                n = struct.unpack("<I", buf[:3] + b"\0")[0]
                if len(buf) < 4 + n:
                    continue
                p = buf[4:4 + n]
                if p[:1] == b"\xff":
                    e = parse_err(p)
                    return "E:%d" % e.code
                return "other:%02x" % p[0]
    except socket.timeout:
        return "hang"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    return "hang"


def closes_after(sock, deadline=5.0):
    """After an ERR: does the proxy close the connection (True) or keep it?"""
    sock.settimeout(deadline)
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


# ---- vanish -----------------------------------------------------------------

def vanish_mid_query(port, i):
    c = login(port)
    c.send(0, b"\x03SELECT SLEEP(5)")
    time.sleep(0.2)
    rst_close(c.sock)


def vanish_mid_result(port, i):
    c = login(port)
    c.send(0, b"\x03SELECT seq, REPEAT('x', 200) FROM seq_1_to_5000000")
    got = 0
    while got < 300000:
        chunk = c.sock.recv(65536)
        if not chunk:
            return "closed before the client vanished"
        got += len(chunk)
    rst_close(c.sock)


def vanish_mid_txn(port, i):
    c = login(port)
    c.query("BEGIN")
    c.query("INSERT INTO fault_my_vanish VALUES ('v%d')" % i)
    rst_close(c.sock)


def vanish_after_greeting(port, i):
    c = My(port)
    c.greeting()
    rst_close(c.sock)


def vanish_mid_auth(port, i):
    c = My(port)
    salt, _ = c.greeting()
    p = pkt(1, c.response(salt))
    c.sock.sendall(p[:len(p) // 2])
    time.sleep(0.05)
    rst_close(c.sock)


def vanish_mid_tls(port, i):
    c = My(port)
    c.greeting()
    c.send(1, struct.pack("<IIB", CAPS | CLIENT_SSL, 1 << 24, 33) + b"\0" * 23)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, outg = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, outg)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outg.read()
    c.sock.sendall(hello[:len(hello) // 2])
    time.sleep(0.05)
    rst_close(c.sock)


def cmd_vanish(a):
    port, n = int(a[0]), int(a[1])
    cases = [("mid-query", vanish_mid_query), ("mid-result", vanish_mid_result),
             ("mid-transaction", vanish_mid_txn), ("after-greeting", vanish_after_greeting),
             ("mid-auth", vanish_mid_auth), ("mid-tls-handshake", vanish_mid_tls)]
    res, errors = {}, []
    k = 0
    for name, fn in cases:
        ok = 0
        for _ in range(n):
            k += 1
            try:
                r = fn(port, k)
                if r:
                    errors.append("%s: %s" % (name, r))
                else:
                    ok += 1
            except Exception as e:  # noqa: BLE001
                errors.append("%s: %s: %s" % (name, type(e).__name__, e))
        res[name] = ok
    out({"done": res, "errors": errors[:10]})


# ---- garbage ------------------------------------------------------------------

def cmd_garbage(a):
    port = int(a[0])
    rnd = random.Random(6)
    results, errors = {}, []

    def case(name, fn, pre_login=True):
        try:
            if pre_login:
                c = login(port)
            else:
                c = My(port)
            r = fn(c)
            if r is None:
                r = outcome(c.sock)
                if r.startswith("E:"):
                    r += "+closed" if closes_after(c.sock, 3.0) else "+open"
            results[name] = r
            try:
                c.sock.close()
            except OSError:
                pass
        except Exception as e:  # noqa: BLE001
            errors.append("%s: %s: %s" % (name, type(e).__name__, e))
            results[name] = "error:%s" % type(e).__name__

    def raw(b):
        return lambda c: c.sock.sendall(b)

    case("valid-ping", raw(pkt(0, b"\x0e")))
    case("seq-5", raw(pkt(5, b"\x03SELECT 1")))
    case("seq-255", raw(pkt(255, b"\x0e")))
    # An empty packet alone is 4 bytes: the proxy reads a command's header
    # and first byte together, so the next packet makes it decide.
    case("empty-packet-then-ping", raw(pkt(0, b"") + pkt(0, b"\x0e")))

    def beyond(c):
        c.sock.sendall(struct.pack("<I", 1000)[:3] + b"\0" + b"\x03SELECT 1")
        c.sock.shutdown(socket.SHUT_WR)
    case("length-beyond-data-then-eof", beyond)

    def beyond_wait(c):
        # 1000 bytes announced, 10 sent, the connection left open: the
        # proxy waits for the rest; the same connection must still be able
        # to complete it and get an answer (a syntax error from the server).
        c.sock.sendall(struct.pack("<I", 1000)[:3] + b"\0" + b"\x03SELECT 1 ")
        r = outcome(c.sock, 1.0)
        if r != "hang":
            return "answered-early:" + r
        c.sock.sendall(b" " * 989 + b"+")
        return "completed:" + outcome(c.sock)
    case("length-beyond-data-completed-late", beyond_wait)

    def oversize(c):
        # max_packet_size is 1MB in the test's config: 2 MB COM_QUERY.
        c.sock.sendall(struct.pack("<I", 2 << 20)[:3] + b"\0" + b"\x03SELECT '")
        return None
    case("oversize-2MB", oversize)
    case("max-frame-com-ping", raw(b"\xff\xff\xff\x00\x0e" + b"\0" * 100))
    case("unknown-command-0x7f", raw(pkt(0, b"\x7f")))
    case("unknown-command-0xff", raw(pkt(0, b"\xff\x00\x00")))
    case("com-binlog-dump", raw(pkt(0, b"\x12" + b"\0" * 10)))
    case("stmt-execute-unknown-id", raw(pkt(0, b"\x17" + struct.pack("<IBI", 12345, 0, 1))))
    case("stmt-execute-truncated", raw(pkt(0, b"\x17\x01")))
    case("stmt-fetch-unknown-id", raw(pkt(0, b"\x1c" + struct.pack("<II", 999, 10))))
    case("stmt-reset-truncated", raw(pkt(0, b"\x1a\x01\x02")))
    # COM_STMT_SEND_LONG_DATA has no answer: a COM_PING after it must get its OK.
    case("stmt-long-data-unknown-then-ping",
         raw(pkt(0, b"\x18" + struct.pack("<IH", 777, 0) + b"abc") + pkt(0, b"\x0e")))
    case("init-db-empty", raw(pkt(0, b"\x02")))
    case("field-list-no-nul", raw(pkt(0, b"\x04abc")))
    case("change-user-truncated", raw(pkt(0, b"\x11ap")))
    case("second-handshake-response", lambda c: c.sock.sendall(pkt(1, c.response(b"x" * 20))))
    def raw_eof(b):
        # random bytes, then EOF: a length beyond the data may wait for the
        # rest, the EOF must end it.
        def f(c):
            c.sock.sendall(b)
            c.sock.shutdown(socket.SHUT_WR)
        return f
    for i in range(20):
        b = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300)))
        case("random-%d" % i, raw_eof(b))
    for i in range(5):
        b = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300)))
        case("random-before-login-%d" % i,
             lambda c, b=b: (c.greeting(), c.sock.sendall(b), c.sock.shutdown(socket.SHUT_WR)) and None,
             pre_login=False)
    case("bad-seq-handshake-response",
         lambda c: c.sock.sendall(pkt(7, c.response(c.greeting()[0]))) and None, pre_login=False)
    case("handshake-response-truncated",
         lambda c: (c.greeting(), c.sock.sendall(pkt(1, b"\x85\xa2\x0b\x00"))) and None, pre_login=False)

    def stream(c, pre):
        if pre:
            c.greeting()
        sent, chunk = 0, os.urandom(1 << 16)
        c.sock.settimeout(10)
        try:
            while sent < 100 << 20:
                c.sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            return "closed-after-%dKB" % (sent >> 10)
        return "accepted-100MB:" + outcome(c.sock)
    case("stream-100MB-after-login", lambda c: stream(c, False))
    case("stream-100MB-before-login", lambda c: stream(c, True), pre_login=False)
    out({"results": results, "errors": errors[:10]})


# ---- server killed under a client ----------------------------------------------

def cmd_victim(a):
    port, mode, ready, go = int(a[0]), a[1], a[2], a[3]
    c = login(port)
    if mode == "result":
        c.send(0, b"\x03SELECT seq, REPEAT('z', 500) FROM seq_1_to_5000000")
        for _ in range(1000):  # column count, definitions, EOF, rows
            c.read_packet()
    else:
        c.query("BEGIN")
        c.query("INSERT INTO fault_my_txn VALUES (1)")
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.05)
    t0 = time.time()
    c.sock.settimeout(15)
    result = None
    try:
        if mode == "result":
            # Drain: the stream must end (an ERR or a close), not hang. A
            # row packet never starts with 0xff (not a length-encoded
            # string), an ERR packet does; an EOF (0xfe, short) would mean
            # the whole result arrived.
            rows = 0
            while True:
                p = c.read_packet()
                if p[:1] == b"\xff":
                    e = parse_err(p)
                    result = "E:%d" % e.code
                    break
                if p[:1] == b"\xfe" and len(p) < 9:
                    result = "complete"
                    break
                rows += 1
        else:
            c.query("INSERT INTO fault_my_txn VALUES (2)")
            c.query("COMMIT")
            result = "committed"
    except MyError as e:
        result = "E:%d" % e.code
    except ConnectionError:
        result = "closed"
    except socket.timeout:
        result = "hang"
    except OSError as e:
        result = "closed:%s" % e
    out({"mode": mode, "result": result, "seconds": round(time.time() - t0, 1)})


def cmd_query(a):
    port, sql = int(a[0]), a[1]
    user, pw, db = (a[2], a[3], a[4]) if len(a) >= 5 else (USER, PASSWORD, DB)
    t0 = time.time()
    try:
        c = My(port)
        c.login(user, pw, db)
        r = {"rows": c.query(sql)}
    except MyError as e:
        r = {"result": "E:%d" % e.code, "state": e.state, "text": e.text}
    except (ConnectionError, OSError) as e:
        r = {"result": "closed", "text": str(e)}
    r["seconds"] = round(time.time() - t0, 2)
    out(r)


def cmd_pgquery(a):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from pgwire import PG, PGError  # noqa: E402
    from pgwire import error_fields as error_fields_pg  # noqa: E402
    port, db = int(a[0]), a[1]
    t0 = time.time()
    r = {}
    try:
        c = PG(port, timeout=30)
        c.login("app", "app", db)
        # pgwire's query() drops an ErrorResponse followed by a close: read
        # the answer here, the first ErrorResponse wins.
        c.send(b"Q" + struct.pack("!I", 4 + 9) + b"SELECT 1\0")
        while True:
            t, p = c.read_msg()
            if t is None:
                raise ConnectionError("connection closed during query")
            if t == b"E":
                raise PGError(error_fields_pg(p))
            if t == b"Z":
                break
        r["result"] = "ok"
    except PGError as e:
        r["result"] = "E:%s" % e.sqlstate
        r["text"] = e.fields.get("M", "")
    except socket.timeout:
        r["result"] = "hang"
    except (ConnectionError, OSError) as e:
        r["result"] = "closed"
        r["text"] = str(e)
    r["seconds"] = round(time.time() - t0, 2)
    out(r)


# ---- fake servers -----------------------------------------------------------------

def recv_exact(s, n):
    b = b""
    while len(b) < n:
        chunk = s.recv(n - len(b))
        if not chunk:
            raise ConnectionError("closed")
        b += chunk
    return b


def fake_pg(s, mode):
    if mode == "close-at-accept":
        return
    n = struct.unpack("!I", recv_exact(s, 4))[0]
    body = recv_exact(s, n - 4)
    if struct.unpack("!I", body[:4])[0] == 80877103:  # SSLRequest: no
        s.sendall(b"N")
        n = struct.unpack("!I", recv_exact(s, 4))[0]
        recv_exact(s, n - 4)
    if mode == "close-after-hello":
        return
    if mode == "hang-after-hello":
        time.sleep(3600)
    if mode == "garbage":
        s.sendall(os.urandom(4096))
        time.sleep(2)
        return
    if mode == "close-mid-auth":
        mech = b"SCRAM-SHA-256\0\0"
        s.sendall(b"R" + struct.pack("!II", 8 + len(mech), 10) + mech)
        recv_exact(s, 1)
        n = struct.unpack("!I", recv_exact(s, 4))[0]
        recv_exact(s, n - 4)
        return


def fake_my(s, mode):
    if mode == "close-at-accept":
        return
    if mode == "garbage":
        s.sendall(os.urandom(4096))
        time.sleep(2)
        return
    salt = b"abcdefgh" + b"ijklmnopqrst"
    caps = 0x81fff7fe  # a MariaDB 10.11 primary's capabilities, without CLIENT_SSL
    g = (b"\x0a" + b"10.11.0-fake\0" + struct.pack("<I", 1) + salt[:8] + b"\0" +
         struct.pack("<HBHH", caps & 0xffff, 33, 2, caps >> 16) + bytes([21]) + b"\0" * 10 +
         salt[8:] + b"\0" + b"mysql_native_password\0")
    s.sendall(pkt(0, g))
    hdr = recv_exact(s, 4)
    n = struct.unpack("<I", hdr[:3] + b"\0")[0]
    recv_exact(s, n)
    if mode == "close-after-hello":
        return
    if mode == "hang-after-hello":
        time.sleep(3600)
    if mode == "close-mid-auth":
        s.sendall(pkt(hdr[3] + 1, b"\xfemysql_native_password\0" + b"x" * 20 + b"\0"))
        hdr = recv_exact(s, 4)
        n = struct.unpack("<I", hdr[:3] + b"\0")[0]
        recv_exact(s, n)
        return


def cmd_fake_server(a):
    proto, mode, portfile = a[0], a[1], a[2]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(512)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    fn = fake_pg if proto == "pg" else fake_my
    count = [0]

    def serve(s):
        try:
            s.settimeout(3600)
            fn(s, mode)
        except Exception:  # noqa: BLE001
            pass
        finally:
            try:
                s.close()
            except OSError:
                pass

    while True:
        s, _ = ls.accept()
        count[0] += 1
        threading.Thread(target=serve, args=(s,), daemon=True).start()


def main():
    cmds = {"vanish": cmd_vanish, "garbage": cmd_garbage, "victim": cmd_victim, "query": cmd_query, "pgquery": cmd_pgquery,
            "fake_server": cmd_fake_server}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.stderr.write(__doc__)
        sys.exit(2)
    cmds[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
