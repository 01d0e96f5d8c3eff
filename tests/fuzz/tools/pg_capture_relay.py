#!/usr/bin/env python3
"""pg_capture_relay.py — record real PostgreSQL traffic for the pgc fuzz corpora.

A loopback TCP relay: listens on --listen, connects each client to
--upstream, copies bytes both ways unchanged, and writes each connection's
two directions to OUTDIR/<tag>-<n>.fe (client -> server) and .be
(server -> client). Stdlib only; for seeding tests/fuzz/corpus/pgc_*/,
never for production.

    pg_capture_relay.py --listen 127.0.0.1:54399 --upstream 127.0.0.1:5432 \
        --out /tmp/cap --tag psql
    psql "host=127.0.0.1 port=54399 sslmode=disable gssencmode=disable" -c 'select 1'

Stop it with SIGINT/SIGTERM; files are flushed as each connection closes.
"""
import argparse
import itertools
import os
import selectors
import signal
import socket
import sys
import threading


def hostport(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def relay(client, upstream, fe_path, be_path):
    server = socket.create_connection(upstream)
    peer = {client: server, server: client}
    logs = {client: open(fe_path, "wb"), server: open(be_path, "wb")}
    sel = selectors.DefaultSelector()
    sel.register(client, selectors.EVENT_READ)
    sel.register(server, selectors.EVENT_READ)
    open_ends = 2
    try:
        while open_ends:
            for key, _ in sel.select():
                src = key.fileobj
                data = src.recv(65536)
                if not data:
                    sel.unregister(src)
                    open_ends -= 1
                    try:
                        peer[src].shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    continue
                logs[src].write(data)
                peer[src].sendall(data)
    except OSError:
        pass
    finally:
        for f in logs.values():
            f.close()
        client.close()
        server.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True, type=hostport)
    ap.add_argument("--upstream", required=True, type=hostport)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tag", default="conn")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(args.listen)
    ls.listen(16)
    counter = itertools.count(1)
    while True:
        client, _ = ls.accept()
        n = next(counter)
        base = os.path.join(args.out, "%s-%03d" % (args.tag, n))
        threading.Thread(target=relay, daemon=True,
                         args=(client, args.upstream, base + ".fe", base + ".be")).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
