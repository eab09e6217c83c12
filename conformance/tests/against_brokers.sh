#!/usr/bin/env bash
# The conformance suite over TCP against two real brokers on loopback ports:
# `assay broker`, which must pass every applicable case, and Mosquitto
# (Debian's), whose failures must be exactly its known deviations
# (conformance/known/mosquitto.txt, evidence in docs/conformance.md): an
# unknown failure fails the test, and so does a known one that did not
# happen, unless it is marked intermittent. Both brokers must accept 3.1.1
# and 5.0 CONNECTs (a version that cannot connect fails its cases; it is
# not skipped). Each broker is waited for until it logs that it listens;
# both are stopped by PID.
# Mosquitto also gets a TLS listener on MOSQUITTO_PORT + 10 with a throwaway
# CA and certificate (openssl), to check the suite's TLS transport: a part of
# the suite over TLS with --cafile, and a refusal without it. The first
# assay broker also listens for MQTT over WebSocket and secure WebSocket:
# the whole suite over the one, a part over the other, with the TCP run's
# verdicts.
#   against_brokers.sh ASSAY_BINARY ASSAY_PORT MOSQUITTO_PORT [MOSQUITTO_BINARY]
set -euo pipefail
assay=$1
assay_port=$2
mosquitto_port=$3
mosquitto=${4:-mosquitto}
here=$(cd "$(dirname "$0")/.." && pwd)
source "$here/../testing/lib.sh"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

tls_port=$((mosquitto_port + 10))
# Mosquitto started as root drops to its own user before reading the key.
chmod 755 "$work"
make_ca ca
make_cert server 127.0.0.1 ca 2
chmod 644 "$work/server.key"
# Two engine threads whatever the machine: the suite checks the sharded
# broker. Beside its TCP listener, MQTT over WebSocket on ASSAY_PORT + 50
# and over secure WebSocket on ASSAY_PORT + 51, for the suite's WebSocket
# transport (Debian's Mosquitto is built without WebSocket support).
ws_port=$((assay_port + 50))
wss_port=$((assay_port + 51))
cat >"$work/assay.json" <<CONF
{"listeners": [{"address": "127.0.0.1", "port": $assay_port},
               {"address": "127.0.0.1", "port": $ws_port, "websocket": {"path": "/mqtt"}},
               {"address": "127.0.0.1", "port": $wss_port, "websocket": {"path": "/mqtt"},
                "tls": {"cert_file": "$work/server.pem", "key_file": "$work/server.key"}}],
 "threads": 2}
CONF
"$assay" broker -c "$work/assay.json" 2>"$work/assay.log" &
assay_pid=$!
pids+=($assay_pid)
# A second assay broker with a password file holding a SCRAM-SHA-256
# account, for the enhanced authentication cases (§4.12); the first keeps
# the defaults every other case expects.
scram_port=$((assay_port + 30))
printf 'conform-secret\n' | "$assay" passwd -c --scram --stdin "$work/passwd" conform-user
cat >"$work/scram.json" <<CONF
{"allow_anonymous": true, "password_file": "$work/passwd"}
CONF
"$assay" broker -c "$work/scram.json" --bind 127.0.0.1 -p "$scram_port" --threads 2 \
  2>"$work/scram.log" &
scram_pid=$!
pids+=($scram_pid)
cat >"$work/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous true
listener $mosquitto_port 127.0.0.1
listener $tls_port 127.0.0.1
cafile $work/ca.pem
certfile $work/server.pem
keyfile $work/server.key
CONF
"$mosquitto" -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
mosquitto_pid=$!
pids+=($mosquitto_pid)

wait_for_line "$work/assay.log" "listening on 127.0.0.1:$wss_port" "$assay_pid"
# Mosquitto says "running" once every listener is open.
wait_for_line "$work/mosquitto.log" "mosquitto version .* running" "$mosquitto_pid"

status=0
echo "== assay broker"
if ! "$assay" conform "127.0.0.1:$assay_port" --report json -o "$work/assay-report.json"; then
  echo "!! assay broker failed cases:"
  python3 - "$work/assay-report.json" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))["cases"]:
    if c["verdict"] == "failed":
        print(" ", c["id"], "-", c["message"])
        for line in c["exchange"][-40:]:
            print("     ", line["at_ms"], line["peer"], line["direction"], line["text"][:300])
PY
  status=1
fi
python3 - "$work/assay-report.json" <<'PY' || status=1
import json, sys
c = json.load(open(sys.argv[1]))["capabilities"]
if not (c["mqtt_3_1_1"] and c["mqtt_5"]):
    sys.exit(f"!! assay broker did not accept both versions: {c}")
PY

# Over WebSocket, the whole suite; over secure WebSocket, a part of it. The
# verdicts must be the TCP run's (the same engine is behind every listener),
# but for the WebSocket-only case, which must pass.
for t in "ws $ws_port" "wss $wss_port"; do
  set -- $t
  echo "== assay broker over $1"
  if [ "$1" == ws ]; then
    "$assay" conform "127.0.0.1:$2" --ws /mqtt --report json -o "$work/$1.json" >/dev/null || true
  else
    "$assay" conform "127.0.0.1:$2" --ws /mqtt --tls --cafile "$work/ca.pem" \
      --only 'connect.*,publish.qos*,malformed.*,stream.*' --report json -o "$work/$1.json" >/dev/null || true
  fi
  python3 - "$work/$1.json" "$work/assay-report.json" <<'PY' || status=1
import json, sys
report = json.load(open(sys.argv[1]))
tcp = {c["id"]: c["verdict"] for c in json.load(open(sys.argv[2]))["cases"]}
s = report["summary"]
print(f"  {report['target']}: {s['passed']} passed, {s['failed']} failed, {s['not_applicable']} not applicable")
# The WebSocket-only case is not applicable over TCP and must pass here.
ws_only = "stream.websocket-text-message"
bad = [c for c in report["cases"]
       if c["verdict"] != ("passed" if c["id"].endswith(ws_only) else tcp.get(c["id"]))]
for c in bad:
    print("!!", c["id"], c["verdict"], "over", report["target"], "but", tcp.get(c["id"]), "over tcp -",
          c.get("message", ""))
    for line in c["exchange"][-20:]:
        print("     ", line["at_ms"], line["peer"], line["direction"], line["text"][:300])
sys.exit(1 if bad or s["passed"] < 40 else 0)
PY
done
if "$assay" conform "127.0.0.1:$assay_port" --ws /mqtt --only 'connect.*' -o /dev/null \
  >"$work/ws-on-tcp.out" 2>&1; then
  echo "!! --ws against a plain MQTT listener was accepted"
  status=1
else
  echo "  --ws against the TCP listener: $(cat "$work/ws-on-tcp.out")"
fi

wait_for_line "$work/scram.log" "listening on 127.0.0.1:$scram_port" "$scram_pid"
echo "== assay broker, enhanced authentication (SCRAM-SHA-256)"
"$assay" conform "127.0.0.1:$scram_port" -V 5 --only 'auth.*' \
  --scram conform-user:conform-secret --report json -o "$work/scram-report.json" || true
python3 - "$work/scram-report.json" <<'PY' || status=1
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
print(f"  {s['passed']} passed, {s['failed']} failed, {s['not_applicable']} not applicable")
for c in r["cases"]:
    if c["verdict"] != "passed":
        print("!!", c["id"], c["verdict"], "-", c.get("message", ""))
        for line in c["exchange"][-20:]:
            print("     ", line["at_ms"], line["peer"], line["direction"], line["text"][:300])
# All five enhanced authentication cases ran and passed.
sys.exit(0 if s["passed"] == 5 and s["failed"] == 0 and s["not_applicable"] == 0 else 1)
PY

echo "== mosquitto"
"$assay" conform "127.0.0.1:$mosquitto_port" --report json -o "$work/mosquitto.json" || true
python3 - "$work/mosquitto.json" "$here/known/mosquitto.txt" <<'PY' || status=1
import json, sys
report = json.load(open(sys.argv[1]))
known = {}  # case id -> whether it is intermittent
for line in open(sys.argv[2]):
    words = line.split("#")[0].split()
    if words:
        known[words[0]] = "intermittent" in words[1:]
failed = {c["id"]: c for c in report["cases"] if c["verdict"] == "failed"}
s = report["summary"]
c = report["capabilities"]
print(f"  {s['passed']} passed, {s['failed']} failed, {s['not_applicable']} not applicable")
bad = False
if not (c["mqtt_3_1_1"] and c["mqtt_5"]):
    print(f"!! mosquitto did not accept both versions: {c}")
    bad = True
for cid in sorted(known.keys() - failed.keys()):
    if known[cid]:
        print("  intermittent known deviation not seen this run:", cid)
    else:
        print("!! known deviation not seen this run:", cid,
              "(remove it from known/mosquitto.txt, or mark it intermittent with evidence)")
        bad = True
for cid in sorted(failed.keys() - known.keys()):
    c = failed[cid]
    print("!! unexpected failure:", cid, "-", c["message"])
    for line in c["exchange"][-40:]:
        print("     ", line["at_ms"], line["peer"], line["direction"], line["text"][:300])
    bad = True
sys.exit(1 if bad else 0)
PY
echo "== mosquitto over TLS"
if "$assay" conform "127.0.0.1:$tls_port" --tls --only 'connect.*,publish.qos*' -o /dev/null >"$work/tls.out" 2>&1; then
  echo "!! TLS without the CA was accepted"
  status=1
elif ! grep -q "certificate verify failed" "$work/tls.out"; then
  echo "!! TLS without the CA: unexpected error: $(cat "$work/tls.out")"
  status=1
else
  echo "  refused without --cafile: certificate verify failed"
fi
"$assay" conform "127.0.0.1:$tls_port" --tls --cafile "$work/ca.pem" \
  --only 'connect.*,publish.qos*,session.resend-*' --report json -o "$work/tls.json" >/dev/null || true
python3 - "$work/tls.json" "$here/known/mosquitto.txt" <<'PY' || status=1
import json, sys
report = json.load(open(sys.argv[1]))
known = {line.split("#")[0].split()[0] for line in open(sys.argv[2])
         if line.split("#")[0].split()}
s = report["summary"]
print(f"  {report['target']}: {s['passed']} passed, {s['failed']} failed, {s['not_applicable']} not applicable")
unknown = [c for c in report["cases"] if c["verdict"] == "failed" and c["id"] not in known]
for c in unknown:
    print("!! unexpected failure over TLS:", c["id"], "-", c["message"])
sys.exit(1 if unknown or s["passed"] == 0 else 0)
PY
exit $status
