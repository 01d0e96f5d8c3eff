"""pgwire.py — a tiny PostgreSQL wire-protocol client for the integration tests.

Just enough to look at what a server (or switchyard) answers byte by byte:
startup, SSLRequest, SCRAM-SHA-256 / md5 / cleartext authentication, simple
queries, raw bytes. Uses only the standard library (run it with
/usr/bin/python3 like the other helpers).

    c = PG(port)                  # TCP to 127.0.0.1:port
    c.login("app", "app", "app")  # raises PGError(fields) on an ErrorResponse
    rows = c.query("SELECT 1")    # list of tuples of str/None
    c.send(b"...")                # raw bytes
    t, payload = c.read_msg()     # (None, b"") when the peer closed
"""

import base64
import hashlib
import hmac
import os
import socket
import struct


class PGError(Exception):
    def __init__(self, fields):
        self.fields = fields
        super().__init__("%s %s: %s" % (fields.get("S", "?"), fields.get("C", "?"), fields.get("M", "?")))

    @property
    def sqlstate(self):
        return self.fields.get("C")


def error_fields(payload):
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


def msg(t, body=b""):
    return t + struct.pack("!I", len(body) + 4) + body


class PG:
    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.params = {}

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def read_byte(self):
        """One byte (for the SSLRequest answer); b'' on close."""
        if not self._fill(1):
            return b""
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def read_msg(self):
        """(type, payload); (None, b'') when the peer closed the connection."""
        try:
            if not self._fill(5):
                return None, b""
            t = self.buf[:1]
            (n,) = struct.unpack("!I", self.buf[1:5])
            if n < 4 or n > 1 << 30:
                raise ValueError("bad message length %d from the server" % n)
            if not self._fill(1 + n):
                return None, b""
        except ConnectionResetError:
            return None, b""
        payload = self.buf[5:1 + n]
        self.buf = self.buf[1 + n:]
        return t, payload

    def startup(self, user, database, **params):
        body = struct.pack("!I", 196608)
        kv = dict(user=user, database=database, **params)
        for k, v in kv.items():
            body += k.encode() + b"\0" + v.encode() + b"\0"
        body += b"\0"
        self.send(struct.pack("!I", len(body) + 4) + body)

    def login(self, user, password, database, **params):
        self.startup(user, database, **params)
        scram = None
        while True:
            t, p = self.read_msg()
            if t is None:
                raise ConnectionError("connection closed during login")
            if t == b"E":
                raise PGError(error_fields(p))
            if t == b"R":
                (code,) = struct.unpack("!I", p[:4])
                if code == 0:
                    continue
                if code == 3:
                    self.send(msg(b"p", password.encode() + b"\0"))
                elif code == 5:
                    salt = p[4:8]
                    inner = hashlib.md5(password.encode() + user.encode()).hexdigest().encode()
                    outer = "md5" + hashlib.md5(inner + salt).hexdigest()
                    self.send(msg(b"p", outer.encode() + b"\0"))
                elif code == 10:
                    mechs = [m for m in p[4:].split(b"\0") if m]
                    if b"SCRAM-SHA-256" not in mechs:
                        raise ValueError("no SCRAM-SHA-256 in %r" % mechs)
                    scram = _Scram(password)
                    first = scram.client_first()
                    self.send(msg(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first))
                elif code == 11:
                    self.send(msg(b"p", scram.client_final(p[4:])))
                elif code == 12:
                    scram.check_server_final(p[4:])
                else:
                    raise ValueError("unsupported authentication request %d" % code)
            elif t == b"S":
                k, v = p.split(b"\0")[:2]
                self.params[k.decode()] = v.decode()
            elif t == b"Z":
                return
            # K (BackendKeyData), N (notice): ignored

    def query(self, sql):
        """Simple query; rows of the last result; raises PGError on an error."""
        self.send(msg(b"Q", sql.encode() + b"\0"))
        rows, err = [], None
        while True:
            t, p = self.read_msg()
            if t is None:
                raise ConnectionError("connection closed during query")
            if t == b"T":
                rows = []
            elif t == b"D":
                (n,) = struct.unpack("!H", p[:2])
                off, row = 2, []
                for _ in range(n):
                    (ln,) = struct.unpack("!i", p[off:off + 4])
                    off += 4
                    if ln < 0:
                        row.append(None)
                    else:
                        row.append(p[off:off + ln].decode())
                        off += ln
                rows.append(tuple(row))
            elif t == b"E":
                err = PGError(error_fields(p))
            elif t == b"Z":
                if err:
                    raise err
                return rows


class _Scram:
    def __init__(self, password):
        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()

    def client_first(self):
        self.first_bare = "n=,r=" + self.nonce
        return ("n,," + self.first_bare).encode()

    def client_final(self, server_first):
        self.server_first = server_first.decode()
        attrs = dict(a.split("=", 1) for a in self.server_first.split(","))
        if not attrs["r"].startswith(self.nonce):
            raise ValueError("server nonce does not extend ours")
        salt = base64.b64decode(attrs["s"])
        salted = hashlib.pbkdf2_hmac("sha256", self.password, salt, int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = "c=biws,r=" + attrs["r"]
        self.auth_message = ",".join([self.first_bare, self.server_first, without_proof]).encode()
        sig = hmac.new(stored_key, self.auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        self.server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        return (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()

    def check_server_final(self, data):
        attrs = dict(a.split("=", 1) for a in data.decode().split(","))
        want = hmac.new(self.server_key, self.auth_message, hashlib.sha256).digest()
        if base64.b64decode(attrs.get("v", "")) != want:
            raise ValueError("server signature does not verify")
