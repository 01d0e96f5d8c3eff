#!/usr/bin/env bash
# Bad input costs nothing else: garbage, oversized and malformed startup
# packets, bogus cancel requests, oversized and unknown messages after login,
# random bytes. Each gets an ErrorResponse ('E') or a closed connection
# within 5 s — never a hang, never a crash — while a psql client works at the
# same time, and clients work afterwards.
. "$(dirname "$0")/lib.sh"

cfg=$SY_TMP/switchyard.ini
write_config "$cfg" pool_mode=session pool_size=10 global.max_packet_size=1MB
start_proxy "$cfg"

# A client busy during the attack.
busy_out=$SY_TMP/busy.out
(pg_proxy -c 'SELECT pg_sleep(3)' -c "SELECT 'busy client ok'" >"$busy_out" 2>&1 || echo "psql failed" >>"$busy_out") &
busy_pid=$!

res=$("$PY" - "$PROXY_PORT" "$HERE" <<'EOF'
import os, random, socket, struct, sys, time
sys.path.insert(0, sys.argv[2])
from pgwire import PG, error_fields

port = int(sys.argv[1])
random.seed(1234)

def outcome(sock, deadline=5.0):
    """What the proxy does next: 'E:<sqlstate>' (ErrorResponse), 'closed', 'hang', or 'other:<byte>'."""
    sock.settimeout(deadline)
    try:
        first = sock.recv(1)
    except socket.timeout:
        return "hang"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    if not first:
        return "closed"
    if first != b"E":
        return "other:%r" % first
    data = b""
    try:
        while len(data) < 4:
            more = sock.recv(4 - len(data))
            if not more:
                break
            data += more
        n = struct.unpack("!I", data)[0] if len(data) == 4 else 0
        body = b""
        while len(body) < n - 4:
            more = sock.recv(n - 4 - len(body))
            if not more:
                break
            body += more
        return "E:%s" % error_fields(body).get("C", "?")
    except (socket.timeout, ConnectionResetError, struct.error):
        return "E:?"

def raw(data, half_close=False):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return outcome(s)
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    finally:
        s.close()

V3 = struct.pack("!I", 196608)
def startup(body):
    return struct.pack("!I", len(body) + 4) + body

cases = [
    ("oversized startup length", struct.pack("!I", 0x7FFFFFFF) + V3 + b"user\0app\0"),
    ("http request", b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    ("length below minimum", struct.pack("!I", 4) + b"\0\0\0\0"),
    ("unsupported protocol 99.0", startup(struct.pack("!I", 99 << 16) + b"user\0app\0\0")),
    ("no user parameter", startup(V3 + b"database\0app\0\0")),
    ("unterminated parameters", startup(V3 + b"user\0app\0database\0ap")),
    ("parameter without value", startup(V3 + b"user\0\0")),
    ("11 kB startup packet", startup(V3 + b"user\0app\0options\0" + b"x" * 11000 + b"\0\0")),
]
for name, data in cases:
    print("%-28s %s" % (name, raw(data)))

# Cancel requests for keys nobody has: the connection is just closed.
print("%-28s %s" % ("bogus cancel request", raw(struct.pack("!IIII", 16, 80877102, 12345, 67890))))
print("%-28s %s" % ("short cancel request", raw(struct.pack("!III", 12, 80877102, 1), half_close=True)))

# SSLRequest answered 'N' (no client TLS configured), then garbage.
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(struct.pack("!II", 8, 80877103))
ans = s.recv(1)
s.sendall(os.urandom(64))
s.shutdown(socket.SHUT_WR)
print("%-28s %s" % ("sslrequest then garbage", ("N+" if ans == b"N" else "answer %r+" % ans) + outcome(s)))
s.close()

# Random bytes, then end of input: the proxy must close.
bad = 0
for i in range(40):
    data = os.urandom(random.randint(1, 300))
    r = raw(data, half_close=True)
    if not (r == "closed" or r.startswith("E:")):
        bad += 1
        print("random case %d (%d bytes %s...): %s" % (i, len(data), data[:16].hex(), r))
print("%-28s %s" % ("40 random inputs", "ok" if bad == 0 else "%d bad" % bad))

# After login: an oversized message, an unknown message type, a bad length.
def after_login(data):
    c = PG(port)
    c.login("app", "app", "app")
    c.send(data)
    r = outcome(c.sock)
    c.close()
    return r

print("%-28s %s" % ("2 MB Query (limit 1 MB)", after_login(b"Q" + struct.pack("!I", 2 * 1024 * 1024) + b"SELECT 1")))
print("%-28s %s" % ("1 GB message length", after_login(b"Q" + struct.pack("!I", 0x40000000))))
print("%-28s %s" % ("message length 2", after_login(b"Q" + struct.pack("!I", 2))))
print("%-28s %s" % ("unknown message type", after_login(b"\x01" + struct.pack("!I", 8) + b"abcd")))
print("%-28s %s" % ("startup packet again", after_login(startup(V3 + b"user\0app\0\0"))))

# And a well-behaved raw client still works.
c = PG(port)
c.login("app", "app", "app")
print("%-28s %s" % ("good raw client", c.query("SELECT 'fine'")[0][0]))
c.close()
EOF
)
echo "$res"

wait "$busy_pid"
busy=$(cat "$busy_out")
assert_contains "$busy" "busy client ok" "a client running during the bad input finished normally"

while IFS= read -r line; do
	case "$line" in
	"good raw client"*) assert_contains "$line" "fine" "a good raw client works" ;;
	"40 random inputs"*) assert_contains "$line" " ok" "40 random inputs: each closed or answered with E" ;;
	"random case"*) ;;
	"sslrequest then garbage"*) assert_match "$line" 'N\+(closed|E:.*)$' "sslrequest then garbage: 'N', then closed or E" ;;
	*) assert_match "$line" ' (closed|E:[0-9A-Z?]+)$' "$(echo "${line:0:28}" | sed 's/ *$//'): closed or ErrorResponse ($(echo "$line" | awk '{print $NF}'))" ;;
	esac
done <<<"$res"

assert_ok proxy_alive
assert_eq "after" "$(pg_proxy -c "SELECT 'after'")" "a new psql client works afterwards"
res2=$(timeout 60 "$PY" "$HERE/clients.py" conc --port "$PROXY_PORT" --clients 20 --query "SELECT 1" --timeout 50)
assert_eq 20 "$(json_get "$res2" ok)" "20 concurrent clients work afterwards"
