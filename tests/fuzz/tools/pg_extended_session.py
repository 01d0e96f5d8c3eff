#!/usr/bin/env python3
"""pg_extended_session.py — drive the protocol messages psql/pgbench rarely send.

Speaks protocol 3.0 directly (stdlib socket, trust auth) so the capture
relay records real server replies to: Parse with typed parameters, Bind
with a NULL and a binary parameter and result formats, Describe of a
statement and a portal, Execute with a row limit (PortalSuspended), Close,
Flush, COPY FROM STDIN with CopyData/CopyDone and CopyFail, a
FunctionCall, and an error inside an extended-protocol batch.

    pg_extended_session.py HOST PORT USER DBNAME
"""
import socket
import struct
import sys


def msg(t, body=b""):
    return t + struct.pack("!I", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


def startup(user, db):
    body = struct.pack("!I", 196608) + cstr("user") + cstr(user) + cstr("database") + cstr(db) \
        + cstr("application_name") + cstr("pgc-capture") + b"\0"
    return struct.pack("!I", len(body) + 4) + body


def parse(name, sql, oids):
    return msg(b"P", cstr(name) + cstr(sql) + struct.pack("!H", len(oids))
               + b"".join(struct.pack("!I", o) for o in oids))


def bind(portal, stmt, fmts, params, rfmts):
    body = cstr(portal) + cstr(stmt) + struct.pack("!H", len(fmts))
    body += b"".join(struct.pack("!H", f) for f in fmts)
    body += struct.pack("!H", len(params))
    for p in params:
        body += struct.pack("!i", -1) if p is None else struct.pack("!I", len(p)) + p
    body += struct.pack("!H", len(rfmts)) + b"".join(struct.pack("!H", f) for f in rfmts)
    return msg(b"B", body)


def read_until(s, types):
    """Read server messages until one whose type is in `types`."""
    buf = b""
    while True:
        while len(buf) >= 5:
            n = struct.unpack("!I", buf[1:5])[0]
            if len(buf) < n + 1:
                break
            t, buf = buf[:1], buf[n + 1:]
            if t in types:
                return
        data = s.recv(65536)
        if not data:
            return
        buf += data


def main():
    host, port, user, db = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    s = socket.create_connection((host, port))
    s.sendall(startup(user, db))
    read_until(s, {b"Z"})

    def send(data, until=(b"Z",)):
        s.sendall(data)
        read_until(s, set(until))

    send(msg(b"Q", cstr("create temp table x(a int, b text, c bytea)")))
    send(parse("s1", "insert into x values ($1, $2, $3)", [23, 25, 17])
         + msg(b"D", b"S" + cstr("s1"))
         + bind("", "s1", [0, 0, 1], [b"1", None, b"\x00\x01\xff"], [])
         + msg(b"E", cstr("") + struct.pack("!I", 0))
         + bind("", "s1", [1], [struct.pack("!i", 2), b"two", b"\x02"], [])
         + msg(b"E", cstr("") + struct.pack("!I", 0))
         + msg(b"S"))
    send(parse("", "select a, b, c from x order by a", [])
         + bind("p1", "", [], [], [1, 0, 1])
         + msg(b"D", b"P" + cstr("p1"))
         + msg(b"E", cstr("p1") + struct.pack("!I", 1))
         + msg(b"H"), (b"s",))
    send(msg(b"E", cstr("p1") + struct.pack("!I", 0))
         + msg(b"C", b"P" + cstr("p1"))
         + msg(b"C", b"S" + cstr("s1"))
         + msg(b"S"))
    send(msg(b"Q", cstr("copy x(a, b) from stdin")), (b"G",))
    send(msg(b"d", b"10\tten\n") + msg(b"d", b"11\t\\N\n") + msg(b"c"))
    send(msg(b"Q", cstr("copy x(a) from stdin")), (b"G",))
    send(msg(b"d", b"12\n") + msg(b"f", cstr("client gave up")))
    # FunctionCall: abs(int4) is OID 1397.
    send(msg(b"F", struct.pack("!IH", 1397, 1) + struct.pack("!H", 1)
             + struct.pack("!H", 1) + struct.pack("!I", 4) + struct.pack("!i", -7)
             + struct.pack("!H", 1)))
    send(parse("", "select 1/$1::int", [])
         + bind("", "", [], [b"0"], [])
         + msg(b"E", cstr("") + struct.pack("!I", 0))
         + parse("", "select 'skipped'", [])
         + msg(b"S"))
    send(msg(b"Q", cstr("select 1; select 'two', null; show server_version")))
    s.sendall(msg(b"X"))
    s.close()


if __name__ == "__main__":
    main()
