#!/usr/bin/env python3
"""Writes seed corpora of the fuzz targets.

decode: from the byte vectors of the protocol tests: every hex("...") vector
becomes two inputs, one per version (the first input byte selects the
version, see fuzz_decode.cpp).

store: a few store logs in FileStore's format (broker/store/src/log_format.hpp):
good ones of both tables, and the damage recovery must cut (a torn tail, a
bad CRC, a bad length, a bad kind, a foreign header).

    fuzz/make_corpus.py [decode] [store]     # both when none is named
"""
import hashlib
import pathlib
import re
import struct
import sys

root = pathlib.Path(__file__).resolve().parent.parent


def decode():
    out = root / "fuzz" / "corpus" / "decode"
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for source in sorted((root / "protocol" / "tests").glob("test_*.cpp")):
        text = source.read_text()
        for match in re.finditer(r'hex\(((?:\s*"[^"]*"\s*(?://[^\n]*)?)+)\)', text):
            literal = "".join("".join(re.findall(r'"([^"]*)"', line.split("//")[0]))
                              for line in match.group(1).split("\n"))
            digits = re.sub(r"[^0-9a-fA-F]", "", literal)
            if len(digits) < 4 or len(digits) % 2:
                continue
            body = bytes.fromhex(digits)
            for version in (0, 1):
                data = bytes([version]) + body
                name = hashlib.sha1(data).hexdigest()
                (out / name).write_bytes(data)
                count += 1
    print(f"wrote {count} seed inputs to {out.relative_to(root)}")


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


PUT_SESSION, ERASE_SESSION, PUT_RETAINED, ERASE_RETAINED = 1, 2, 3, 4
HEADER = b"ASSAYLG1" + struct.pack(">I", 1)


def frame(kind, key, value=b""):
    body = bytes([kind]) + struct.pack(">I", len(key)) + key + value
    return struct.pack(">II", len(body), crc32c(body)) + body


def raw_frame(body):
    return struct.pack(">II", len(body), crc32c(body)) + body


def store():
    out = root / "fuzz" / "corpus" / "store"
    out.mkdir(parents=True, exist_ok=True)
    mixed = HEADER + b"".join([
        frame(PUT_SESSION, b"client-1", b"\x01session record"),
        frame(PUT_RETAINED, b"sensors/t", b"21.5"),
        frame(PUT_SESSION, b"client-2", bytes(range(40))),
        frame(PUT_SESSION, b"client-1", b"\x02replaced"),
        frame(ERASE_SESSION, b"client-2"),
        frame(PUT_RETAINED, b"a/b/c", b""),
        frame(ERASE_RETAINED, b"sensors/t"),
    ])
    last = frame(PUT_RETAINED, b"last", b"the last record")
    corrupted = bytearray(mixed + last)
    corrupted[-3] ^= 0x10
    inputs = {
        "header-only": HEADER,
        "mixed": mixed + last,
        "churn": HEADER + b"".join(frame(PUT_SESSION, b"c", bytes([i]) * i) for i in range(30)),
        "torn-tail": mixed + last[:11],
        "bad-crc": bytes(corrupted),
        "bad-length": mixed + b"\xff\xff\xff\xff\x00\x00\x00\x00" + last,
        "bad-kind": mixed + raw_frame(b"\x09\x00\x00\x00\x01k") + last,
        "erase-with-value": HEADER + raw_frame(b"\x02\x00\x00\x00\x01kv"),
        "bad-version": b"ASSAYLG1" + struct.pack(">I", 2) + last,
        "foreign": b"# not a store log\n",
    }
    for name, data in inputs.items():
        (out / name).write_bytes(data)
    print(f"wrote {len(inputs)} seed inputs to {out.relative_to(root)}")


targets = sys.argv[1:] or ["decode", "store"]
for target in targets:
    {"decode": decode, "store": store}[target]()
