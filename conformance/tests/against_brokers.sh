#!/usr/bin/env bash
# The conformance suite over TCP against two real brokers on loopback ports:
# `assay broker`, which must pass every applicable case, and Mosquitto
# (Debian's), whose failures must all be known deviations
# (conformance/known/mosquitto.txt, evidence in docs/conformance.md). Stops
# both brokers by PID.
#   against_brokers.sh ASSAY_BINARY ASSAY_PORT MOSQUITTO_PORT [MOSQUITTO_BINARY]
set -euo pipefail
assay=$1
assay_port=$2
mosquitto_port=$3
mosquitto=${4:-mosquitto}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$assay" broker --bind 127.0.0.1 -p "$assay_port" -q 2>"$work/assay.log" &
pids+=($!)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$mosquitto_port" >"$work/mosquitto.conf"
"$mosquitto" -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
pids+=($!)

wait_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}
wait_port "$assay_port"
wait_port "$mosquitto_port"

status=0
echo "== assay broker"
if ! "$assay" conform "127.0.0.1:$assay_port" --report json -o "$work/assay.json"; then
  echo "!! assay broker failed cases:"
  python3 - "$work/assay.json" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))["cases"]:
    if c["verdict"] == "failed":
        print(" ", c["id"], "-", c["message"])
        for line in c["exchange"][-40:]:
            print("     ", line["at_ms"], line["peer"], line["direction"], line["text"][:300])
PY
  status=1
fi

echo "== mosquitto"
"$assay" conform "127.0.0.1:$mosquitto_port" --report json -o "$work/mosquitto.json" || true
python3 - "$work/mosquitto.json" "$here/known/mosquitto.txt" <<'PY' || status=1
import json, sys
report = json.load(open(sys.argv[1]))
known = {line.split("#")[0].strip() for line in open(sys.argv[2])} - {""}
failed = {c["id"]: c for c in report["cases"] if c["verdict"] == "failed"}
s = report["summary"]
print(f"  {s['passed']} passed, {s['failed']} failed, {s['not_applicable']} not applicable")
for cid in sorted(known - failed.keys()):
    print("  known deviation not seen this run:", cid)
unknown = sorted(failed.keys() - known)
for cid in unknown:
    c = failed[cid]
    print("!! unexpected failure:", cid, "-", c["message"])
    for line in c["exchange"][-40:]:
        print("     ", line["at_ms"], line["peer"], line["direction"], line["text"][:300])
sys.exit(1 if unknown else 0)
PY
exit $status
