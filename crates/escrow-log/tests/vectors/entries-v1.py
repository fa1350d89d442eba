#!/usr/bin/env python3
"""Writes entries-v1.txt: one known answer per log entry kind, packed field by field
from the format table in docs/protocol.md §3.13, independently of the Rust encoder."""
import struct
import sys


def text(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def header(time, kind):
    return bytes([1]) + struct.pack(">H", 0x0101) + struct.pack(">Q", time) + bytes([kind])


T = 1767225600  # 2026-01-01T00:00:00Z
W = bytes([0x11] * 16)
RULE = "item 0: out of scope: no target"
VECTORS = [
    ("warrant_received", header(T, 1) + W + text("high-court") + text("agency-1")
     + struct.pack(">QQQQ", T - 86400, T, T + 30 * 86400, T + 120 * 86400) + bytes([0xCC] * 32) + bytes([1]) + text("")),
    ("warrant_decided_approve", header(T + 60, 2) + W + bytes([1]) + text("op-0") + text("lawful and proportionate")),
    ("shares_released", header(T + 120, 3) + W + text("agency-1") + struct.pack(">I", 2) + bytes([0xAA] * 32) + bytes([0xBB] * 32)),
    ("day_keys_released", header(T + 150, 9) + W + text("agency-1") + struct.pack(">I", 2)
     + struct.pack(">QI", 1, 20454) + bytes([0xA1] * 32) + struct.pack(">QI", 1, 20455) + bytes([0xA2] * 32)),
    ("request_refused_legacy", header(T + 180, 4) + W + text("PermissionDenied") + text(RULE)),
    ("epoch_installed", header(T, 5) + struct.pack(">Q", 1) + bytes([0xDD] * 32) + struct.pack(">H", 4)),
    ("epoch_destroyed", header(T + 86400, 6) + struct.pack(">Q", 1)),
    ("requests_refused_held", header(T + 240, 7) + text("escrow:role/agency/agency-1") + bytes([1]) + W
     + text("PERMISSION_DENIED") + text(RULE) + struct.pack(">IQQ", 1, T + 240, T + 240)),
    ("requests_refused_noise", header(T + 3840, 7) + text("escrow:role/agency/agency-2") + bytes([0])
     + text("NOT_FOUND") + text("unknown warrant 00000000000000000000000000000001") + struct.pack(">IQQ", 202, T + 200, T + 3700)),
]

C = bytes([0x22] * 16)  # a ceremony id


def step(time, sub, body):
    return header(time, 8) + C + bytes([sub]) + body


VECTORS += [
    ("ceremony_proposed", step(T, 1, bytes([0xE1] * 32) + text("trustee-0") + struct.pack(">QBHH", 2, 0, 2, 5))),
    ("ceremony_accepted", step(T + 1, 2, text("trustee-3"))),
    ("ceremony_executed", step(T + 2, 3, b"")),
    ("ceremony_dealt", step(T + 3, 4, text("trustee-1") + bytes([0xE2] * 32))),
    ("ceremony_complained", step(T + 4, 5, text("trustee-3") + text("trustee-1") + bytes([2]))),
    ("ceremony_justified", step(T + 5, 6, text("trustee-1") + text("trustee-3"))),
    ("ceremony_disqualified", step(T + 6, 7, text("trustee-1") + bytes([3]))),
    ("ceremony_agreed", step(T + 7, 8, text("trustee-4") + bytes([0xE3] * 32))),
    ("ceremony_installed", step(T + 8, 9, bytes([0xE3] * 32) + struct.pack(">QIQ", 2, 0, T + 90 * 86400))),
    ("ceremony_aborted", step(T + 9, 10, text("timed out in Agreeing waiting for trustee-4"))),
]

out = open(sys.argv[1] if len(sys.argv) > 1 else "entries-v1.txt", "w")
out.write("""# escrow log entry (alg 0x0101) known answers, one per event kind. Source: entries-v1.py
# beside this file, which packs each field big-endian from the format table in
# docs/protocol.md §3.13, not the Rust encoder, so that an accidental change of either
# the encoder or the table is caught. Time base 1767225600 (2026-01-01T00:00:00Z).
# Format: name hex.
""")
for name, blob in VECTORS:
    out.write(f"{name} {blob.hex()}\n")
