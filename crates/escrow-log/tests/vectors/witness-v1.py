#!/usr/bin/env python3
"""Writes witness-v1.txt: signed-note keys, a signed checkpoint, cosignature/v1 lines
and tlog-witness add-checkpoint bodies, computed from the C2SP texts with Python's
`cryptography` Ed25519 and hashlib, independently of the Rust code.

Specs followed: c2sp.org/signed-note (keys, key IDs, signature lines),
c2sp.org/tlog-checkpoint (note body), c2sp.org/tlog-cosignature (cosignature/v1),
c2sp.org/tlog-witness (add-checkpoint body), RFC 6962 §2.1 (hashes, consistency).
Run: python3 witness-v1.py > witness-v1.txt"""
import base64
import hashlib
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

b64 = lambda b: base64.b64encode(b).decode()


def public(seed):
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(name, alg, pub):
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + pub).digest()[:4]


def skey(name, alg, seed):
    kid = key_id(name, alg, public(seed))
    return f"PRIVATE+KEY+{name}+{kid.hex()}+{b64(bytes([alg]) + seed)}"


def vkey(name, alg, seed):
    pub = public(seed)
    return f"{name}+{key_id(name, alg, pub).hex()}+{b64(bytes([alg]) + pub)}"


def sign_line(name, alg, seed, message):
    sig = Ed25519PrivateKey.from_private_bytes(seed).sign(message)
    return f"\u2014 {name} {b64(key_id(name, alg, public(seed)) + sig)}\n"


def cosign_line(name, seed, timestamp, text):
    message = f"cosignature/v1\ntime {timestamp}\n{text}".encode()
    sig = Ed25519PrivateKey.from_private_bytes(seed).sign(message)
    kid = key_id(name, 0x04, public(seed))
    return f"\u2014 {name} {b64(kid + struct.pack('>Q', timestamp) + sig)}\n"


# RFC 6962 §2.1 Merkle tree hashing and §2.1.2 consistency proofs.
def leaf(d):
    return hashlib.sha256(b"\x00" + d).digest()


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d):
    if len(d) == 1:
        return leaf(d[0])
    k = split(len(d))
    return node(mth(d[:k]), mth(d[k:]))


def subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = split(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def checkpoint_text(origin, entries):
    return f"{origin}\n{len(entries)}\n{b64(mth(entries))}\n"


LOG = "escrow-trustee/vector-log"
LOG_SEED = bytes(range(32))
W1 = "witness.example/w1"
W1_SEED = bytes([0x77] * 32)
T = 1679315147
ENTRIES = [f"entry {i}".encode() for i in range(7)]

text3 = checkpoint_text(LOG, ENTRIES[:3])
text7 = checkpoint_text(LOG, ENTRIES[:7])
note3 = text3 + "\n" + sign_line(LOG, 0x01, LOG_SEED, text3.encode())
note7 = text7 + "\n" + sign_line(LOG, 0x01, LOG_SEED, text7.encode())
proof = subproof(3, ENTRIES[:7], True)

out = [
    ("log_skey", skey(LOG, 0x01, LOG_SEED)),
    ("log_vkey", vkey(LOG, 0x01, LOG_SEED)),
    ("witness_skey", skey(W1, 0x04, W1_SEED)),
    ("witness_vkey", vkey(W1, 0x04, W1_SEED)),
    ("timestamp", str(T)),
    ("note3", note3),
    ("note7", note7),
    ("cosignature3", cosign_line(W1, W1_SEED, T, text3)),
    ("cosignature7", cosign_line(W1, W1_SEED, T + 60, text7)),
    ("body_first", "old 0\n\n" + note3),
    ("body_next", "old 3\n" + "".join(b64(h) + "\n" for h in proof) + "\n" + note7),
]
for k, v in out:
    # One vector per line: name, a space, the value with its newlines written as \n.
    print(k, v.replace("\\", "\\\\").replace("\n", "\\n"))
