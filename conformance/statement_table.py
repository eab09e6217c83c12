#!/usr/bin/env python3
"""Writes the statement-by-statement table of docs/conformance.md (between
its <!-- statements:begin --> and <!-- statements:end --> markers) from the
suite's case list (`assay conform --list --report json`), the statement ID
lists in conformance/spec/ and the notes in conformance/statement-notes.tsv.

  statement_table.py ASSAY_BINARY [--check]

With --check nothing is written: the exit status says whether the document
is up to date (a ctest runs this)."""
import json
import pathlib
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
doc = root / "docs" / "conformance.md"
begin, end = "<!-- statements:begin -->", "<!-- statements:end -->"

cases = json.loads(subprocess.run([sys.argv[1], "conform", "--list", "--report", "json"],
                                  check=True, capture_output=True, text=True).stdout)
notes = {}
for line in (root / "conformance" / "statement-notes.tsv").read_text().splitlines():
    if line.startswith("#") or not line.strip():
        continue
    version, statement, why = line.split("\t")
    notes[(version, statement)] = why

lines = []
for version, ids_file in (("3.1.1", "mqtt-v3.1.1-statement-ids.txt"),
                          ("5.0", "mqtt-v5.0-statement-ids.txt")):
    ids = [i.strip() for i in (root / "conformance" / "spec" / ids_file).read_text().split()]
    covering = {}
    extra = set()
    for c in cases:
        if c["version"] != version and not (version == "5.0" and c["version"] == "5"):
            continue
        for s in c["statements"]:
            covering.setdefault(s, []).append(c["id"].split("/", 1)[1])
            if s not in ids:
                extra.add(s)
    covered = sum(1 for i in ids if i in covering)
    noted = sum(1 for i in ids if i not in covering and (version, i) in notes)
    lines += [f"### MQTT {version}", "",
              f"{len(ids)} normative statements: {covered} checked by a case, {noted} not "
              f"observable from a broker's wire (or not yet offered, as noted), "
              f"{len(ids) - covered - noted} not yet covered.", "",
              "| statement | status |", "|---|---|"]
    for i in ids:
        if i in covering:
            status = "checked by " + ", ".join(f"`{n}`" for n in sorted(set(covering[i])))
        elif (version, i) in notes:
            status = notes[(version, i)]
        else:
            status = "not yet covered"
        lines.append(f"| {i} | {status} |")
    if extra:
        lines += ["", "Cases also cite sections without a statement ID: " +
                  ", ".join(f"{s} (`{'`, `'.join(sorted(set(covering[s])))}`)" for s in sorted(extra)) + "."]
    lines.append("")

block = begin + "\n" + "\n".join(lines) + end
text = doc.read_text()
start, stop = text.index(begin), text.index(end) + len(end)
updated = text[:start] + block + text[stop:]
if "--check" in sys.argv:
    if updated != text:
        print("docs/conformance.md is out of date: run conformance/statement_table.py "
              "build/default/assay", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)
doc.write_text(updated)
