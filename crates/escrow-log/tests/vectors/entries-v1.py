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
    ("request_refused_legacy", header(T + 180, 4) + W + text("PermissionDenied") + text(RULE)),
    ("epoch_installed", header(T, 5) + struct.pack(">Q", 1) + bytes([0xDD] * 32) + struct.pack(">H", 4)),
    ("epoch_destroyed", header(T + 86400, 6) + struct.pack(">Q", 1)),
    ("requests_refused_held", header(T + 240, 7) + text("escrow:role/agency/agency-1") + bytes([1]) + W
     + text("PermissionDenied") + text(RULE) + struct.pack(">IQQ", 1, T + 240, T + 240)),
    ("requests_refused_noise", header(T + 3840, 7) + text("escrow:role/agency/agency-2") + bytes([0])
     + text("NotFound") + text("unknown warrant 00000000000000000000000000000001") + struct.pack(">IQQ", 202, T + 200, T + 3700)),
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
