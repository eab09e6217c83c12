#!/usr/bin/env python3
"""Writes the seed corpus of the decode target from the byte vectors of the
protocol tests: every hex("...") vector becomes two inputs, one per version
(the first input byte selects the version, see fuzz_decode.cpp)."""
import hashlib
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
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
