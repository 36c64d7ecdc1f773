#!/usr/bin/env python3
"""Independent oracle for ike/suite: recomputes IKEv2 key derivation (RFC 7296
§2.13-2.18) and SK payload protection (§3.14, RFC 5282) with Python's hmac and
the 'cryptography' package, writing kat.json. The Go tests read kat.json; run
this script again only to extend the vectors (its output is deterministic)."""
import hmac, hashlib, json, struct
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

H = {2: hashlib.sha1, 5: hashlib.sha256, 6: hashlib.sha384, 7: hashlib.sha512}
INTEG = {2: (hashlib.sha1, 20, 12), 12: (hashlib.sha256, 32, 16), 13: (hashlib.sha384, 48, 24), 14: (hashlib.sha512, 64, 32)}

def prf(alg, k, d): return hmac.new(k, d, H[alg]).digest()

def prfplus(alg, k, s, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = prf(alg, k, t + s + bytes([i])); out += t; i += 1
    return out[:n]

def det(label, n):
    """Deterministic filler bytes, so the vectors need no randomness."""
    out, i = b"", 0
    while len(out) < n:
        out += hashlib.sha256(label.encode() + struct.pack(">I", i)).digest(); i += 1
    return out[:n]

suites = [
    dict(name="aes256gcm16-prfsha256", encr=20, bits=256, integ=0, prf=5),
    dict(name="aes128gcm16-prfsha384", encr=20, bits=128, integ=0, prf=6),
    dict(name="aes128-sha256-prfsha256", encr=12, bits=128, integ=12, prf=5),
    dict(name="aes192-sha1-prfsha1", encr=12, bits=192, integ=2, prf=2),
    dict(name="aes256-sha384-prfsha384", encr=12, bits=256, integ=13, prf=6),
    dict(name="aes256-sha512-prfsha512", encr=12, bits=256, integ=14, prf=7),
    dict(name="chacha20poly1305-prfsha256", encr=28, bits=256, integ=0, prf=5),
]
out = []
for s in suites:
    a = s["prf"]; ni = det("ni" + s["name"], 32); nr = det("nr" + s["name"], 32)
    gir = det("gir" + s["name"], 256); spii = 0x0102030405060708; spir = 0x1112131415161718
    skeyseed = prf(a, ni + nr, gir)
    ps = H[a]().digest_size
    ek = s["bits"] // 8 + (4 if s["encr"] in (20, 28) else 0)
    ik = INTEG[s["integ"]][1] if s["integ"] else 0
    km = prfplus(a, skeyseed, ni + nr + struct.pack(">QQ", spii, spir), 3 * ps + 2 * ik + 2 * ek)
    names = ["SKd", "SKai", "SKar", "SKei", "SKer", "SKpi", "SKpr"]; lens = [ps, ik, ik, ek, ek, ps, ps]
    keys, off = {}, 0
    for nme, l in zip(names, lens): keys[nme] = km[off:off + l].hex(); off += l
    # Rekey (§2.18) with the same PRF: SKEYSEED = prf(SK_d old, g^ir new | Ni | Nr)
    gir2 = det("gir2" + s["name"], 256); ni2 = det("ni2" + s["name"], 32); nr2 = det("nr2" + s["name"], 32)
    skd = bytes.fromhex(keys["SKd"])
    seed2 = prf(a, skd, gir2 + ni2 + nr2)
    km2 = prfplus(a, seed2, ni2 + nr2 + struct.pack(">QQ", spii + 1, spir + 1), 3 * ps + 2 * ik + 2 * ek)
    # Child KEYMAT with and without PFS
    keymat = prfplus(a, skd, ni + nr, 2 * (ek + ik))
    keymat_pfs = prfplus(a, skd, gir2 + ni2 + nr2, 2 * (ek + ik))
    # SK payload with SK_ei/SK_ai, fixed IV.
    aad = det("aad", 28)
    pt = det("plaintext" + s["name"], 45)
    sk_e = bytes.fromhex(keys["SKei"]); sk_a = bytes.fromhex(keys["SKai"])
    if s["encr"] == 20:
        iv = det("iv", 8)
        body = iv + AESGCM(sk_e[:-4]).encrypt(sk_e[-4:] + iv, pt + b"\x00", aad)
    elif s["encr"] == 28:
        iv = det("iv", 8)
        body = iv + ChaCha20Poly1305(sk_e[:-4]).encrypt(sk_e[-4:] + iv, pt + b"\x00", aad)
    else:
        iv = det("iv", 16)
        padded = (len(pt) + 1 + 15) // 16 * 16; padlen = padded - len(pt) - 1
        data = pt + bytes(padlen) + bytes([padlen])
        enc = Cipher(algorithms.AES(sk_e), modes.CBC(iv)).encryptor()
        ct = enc.update(data) + enc.finalize()
        h, _, icv = INTEG[s["integ"]]
        body = iv + ct + hmac.new(sk_a, aad + iv + ct, h).digest()[:icv]
    # PSK AUTH (§2.15)
    msg = det("init message", 300); idb = bytes([2, 0, 0, 0]) + b"a.test"; psk = b"interop-test-psk-0123456789"
    signed = msg + nr + prf(a, bytes.fromhex(keys["SKpi"]), idb)
    auth = prf(a, prf(a, psk, b"Key Pad for IKEv2"), signed)
    out.append(dict(name=s["name"], encr=s["encr"], keyBits=s["bits"], integ=s["integ"], prf=a,
        ni=ni.hex(), nr=nr.hex(), gir=gir.hex(), spii=spii, spir=spir, skeyseed=skeyseed.hex(), keys=keys,
        rekey=dict(gir=gir2.hex(), ni=ni2.hex(), nr=nr2.hex(), skeyseed=seed2.hex(), keymat=km2.hex()),
        childKeymat=keymat.hex(), childKeymatPFS=keymat_pfs.hex(),
        sk=dict(aad=aad.hex(), plaintext=pt.hex(), body=body.hex()),
        auth=dict(message=msg.hex(), idBody=idb.hex(), psk=psk.decode(), auth=auth.hex())))
with open("kat.json", "w") as f: json.dump(out, f, indent=1); f.write("\n")
