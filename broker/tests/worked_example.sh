#!/usr/bin/env bash
# docs/broker.md's worked example, run as written: its setup block (a CA,
# the broker's certificate, two accounts made by `assay passwd`, an ACL) and
# its configuration (a TLS listener, password file, ACL, persistence), with
# /etc/assay and /var/lib/assay moved to a temporary directory, 0.0.0.0 to
# loopback and port 8883 to PORT. Then its two clients: the sensor's
# message reaches the backend, also when the backend was away across a
# restart; a sensor may not write another's topic; anonymous clients are
# refused. Stops the broker it started by PID.
#   worked_example.sh ASSAY_BINARY PORT
set -euo pipefail
assay=$1
port=$2
host=127.0.0.1
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$root/testing/lib.sh"
use_workdir

# block NAME: the fenced block after "<!-- worked-example: NAME -->", with
# the paths, address and port moved.
block() {
  awk -v marker="<!-- worked-example: $1 -->" '
    $0 == marker { found = 1; next }
    found && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }' "$root/docs/broker.md" |
    sed -e "s#/etc/assay#$work/etc#g" -e "s#/var/lib/assay#$work/var#g" \
      -e "s#0\.0\.0\.0#$host#g" -e "s#8883#$port#g"
}
block setup >"$work/setup.sh"
block config >"$work/broker.json"
check "the docs have the setup block" yes "$(grep -q 'assay passwd' "$work/setup.sh" && echo yes || echo no)"
check "the docs have the configuration" yes \
  "$(grep -q persistence_file "$work/broker.json" && echo yes || echo no)"
# `assay` in the block is this build's.
mkdir -p "$work/bin"
ln -s "$assay" "$work/bin/assay"
(PATH="$work/bin:$PATH" bash -euo pipefail "$work/setup.sh") >"$work/setup.log" 2>&1 || {
  echo "FAIL the setup block failed:"
  sed 's/^/  | /' "$work/setup.log"
  exit 1
}

start_broker() {
  "$assay" broker -c "$work/broker.json" 2>"$work/broker.log" &
  broker=$!
  wait_for_line "$work/broker.log" "listening on $host:$port \(TLS\)" "$broker"
}
start_broker
tls=(-h localhost -p "$port" --cafile "$work/etc/ca.pem")
backend=("${tls[@]}" -u backend -P backend-secret -i backend -c -q 1 -t 'sensors/#' -v -W 5)
sensor=("${tls[@]}" -u sensor-1 -P sensor-secret -q 1)

stdbuf -oL mosquitto_sub "${backend[@]}" -C 1 -d >"$work/got" 2>&1 &
sub=$!
wait_for_line "$work/got" "received SUBACK" "$sub"
mosquitto_pub "${sensor[@]}" -t sensors/sensor-1/temp -m 21.5
wait "$sub" || true
check "the sensor's reading reaches the backend over TLS" "sensors/sensor-1/temp 21.5" \
  "$(received "$work/got")"

# The backend is away; a reading is acknowledged; the broker is killed and
# restarted; the backend comes back to it.
mosquitto_pub "${sensor[@]}" -t sensors/sensor-1/temp -m 22.0
kill -KILL "$broker"
wait "$broker" 2>/dev/null || true
start_broker
check "the log says what was recovered" yes \
  "$(grep -q -E 'persistence: .*recovered [0-9]+ sessions' "$work/broker.log" && echo yes || echo no)"
check "a reading sent while the backend was away survives a SIGKILL" \
  "sensors/sensor-1/temp 22.0" "$(mosquitto_sub "${backend[@]}" -C 1 2>&1 || true)"

code=0
mosquitto_pub "${sensor[@]}" -V mqttv5 -t sensors/sensor-2/temp -m forged >"$work/forged" 2>&1 || code=$?
check "sensor-1 may not write sensor-2's topic" yes \
  "$(grep -q -i 'not authori' "$work/forged" && echo yes || echo "no (exit $code)")"
check "anonymous clients are refused" failed \
  "$(mosquitto_pub "${tls[@]}" -t sensors/x/temp -m x >/dev/null 2>&1 && echo ok || echo failed)"
stop "$broker"
broker=0

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
