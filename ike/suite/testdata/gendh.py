#!/usr/bin/env python3
"""Independent oracle for ike/suite's key exchange: for each group, two fixed
private keys, the public values in IKE's encoding (RFC 7296 §3.4, RFC 5903 §7,
RFC 8031) and the shared secret, computed with Python integers (MODP, primes read from ../modp.go,
which TestMODPPrimes checks) and the
'cryptography' package (ECP, X25519). Run from testdata/; writes dh.json;
deterministic."""
import hashlib, json, re
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives import serialization

def det(label, n):
    out, i = b"", 0
    while len(out) < n:
        out += hashlib.sha256(label.encode() + bytes([i])).digest(); i += 1
    return out[:n]

src = open("../modp.go").read()
primes = {}
for m in re.finditer(r'newMODP\(wire\.DHMODP(\d+), ""\+\n(.*?), (\d+)\)', src, re.S):
    primes[int(m.group(1))] = int("".join(re.findall(r'"([0-9A-F]+)"', m.group(2))), 16)
ids = {1024: 2, 1536: 5, 2048: 14, 3072: 15, 4096: 16}
out = []
for bits, p in sorted(primes.items()):
    size = (p.bit_length() + 7) // 8
    xi = int.from_bytes(det("modp-i%d" % bits, 32), "big"); xr = int.from_bytes(det("modp-r%d" % bits, 32), "big")
    gi, gr = pow(2, xi, p), pow(2, xr, p)
    z = pow(gr, xi, p); assert z == pow(gi, xr, p)
    out.append(dict(group=ids[bits], privI=xi.to_bytes(32, "big").hex(), privR=xr.to_bytes(32, "big").hex(),
        pubI=gi.to_bytes(size, "big").hex(), pubR=gr.to_bytes(size, "big").hex(), shared=z.to_bytes(size, "big").hex()))
for gid, curve, n in [(19, ec.SECP256R1(), 32), (20, ec.SECP384R1(), 48), (21, ec.SECP521R1(), 66)]:
    keys = []
    for who in "ir":
        d = int.from_bytes(det("ecp-%s%d" % (who, gid), n), "big") >> 8  # below the group order
        keys.append(ec.derive_private_key(d, curve))
    def pub(k):
        nums = k.public_key().public_numbers()
        return nums.x.to_bytes(n, "big") + nums.y.to_bytes(n, "big")
    z = keys[0].exchange(ec.ECDH(), keys[1].public_key())
    out.append(dict(group=gid, privI=keys[0].private_numbers().private_value.to_bytes(n, "big").hex(),
        privR=keys[1].private_numbers().private_value.to_bytes(n, "big").hex(),
        pubI=pub(keys[0]).hex(), pubR=pub(keys[1]).hex(), shared=z.hex()))
ki = x25519.X25519PrivateKey.from_private_bytes(det("x25519-i", 32))
kr = x25519.X25519PrivateKey.from_private_bytes(det("x25519-r", 32))
raw = lambda k: k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
out.append(dict(group=31, privI=det("x25519-i", 32).hex(), privR=det("x25519-r", 32).hex(),
    pubI=raw(ki).hex(), pubR=raw(kr).hex(), shared=ki.exchange(kr.public_key()).hex()))
with open("dh.json", "w") as f: json.dump(out, f, indent=1); f.write("\n")
