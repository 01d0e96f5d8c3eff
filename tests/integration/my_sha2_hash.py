#!/usr/bin/env python3
"""my_sha2_hash.py PASSWORD [SALT20] — print a MySQL 8 caching_sha2_password
authentication_string for PASSWORD in the hex form MySQL prints it in
(SHOW CREATE USER ... AS 0x2441...): "$A$005$" + 20-byte salt + SHA-crypt
digest. A second implementation of SHA-crypt, independent of the proxy's C
one (proxy/mysql/myauth.c), so a test user's hash made here checks it.
Without SALT20, a random 7-bit salt with no NUL or '$', as MySQL makes."""
import hashlib
import os
import sys

B64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def sha256_crypt(key: bytes, salt: bytes, rounds: int) -> str:
    h = lambda d: hashlib.sha256(d).digest()
    b = h(key + salt + key)
    a = key + salt + (b * (len(key) // 32 + 1))[: len(key)]
    n = len(key)
    while n:
        a += b if n & 1 else key
        n >>= 1
    a = h(a)
    p = (h(key * len(key)) * (len(key) // 32 + 1))[: len(key)]
    s = (h(salt * (16 + a[0])) * (len(salt) // 32 + 1))[: len(salt)]
    c = a
    for i in range(rounds):
        x = p if i & 1 else c
        if i % 3:
            x += s
        if i % 7:
            x += p
        x += c if i & 1 else p
        c = h(x)
    out = []

    def enc(b2, b1, b0, count):
        w = (b2 << 16) | (b1 << 8) | b0
        for _ in range(count):
            out.append(B64[w & 63])
            w >>= 6

    for i, j, k in [(0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14),
                    (15, 25, 5), (6, 16, 26), (27, 7, 17), (18, 28, 8), (9, 19, 29)]:
        enc(c[i], c[j], c[k], 4)
    enc(0, c[31], c[30], 3)
    return "".join(out)


def main():
    pw = sys.argv[1].encode()
    if len(sys.argv) > 2:
        salt = sys.argv[2].encode()
    else:
        salt = bytes(((x & 0x7F) or 1) if (x & 0x7F) != 0x24 else 0x25 for x in os.urandom(20))
    assert len(salt) == 20
    raw = b"$A$005$" + salt + sha256_crypt(pw, salt, 5000).encode()
    print("0x" + raw.hex().upper())


if __name__ == "__main__":
    main()
