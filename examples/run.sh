#!/usr/bin/env bash
# Runs the examples as a reader of docs/client.md would, against `assay
# broker` (started with examples/temperature/broker.json's client id rule)
# and Mosquitto, each on its own loopback port; stops both by PID.
#   run.sh BIN_DIR ASSAY_BINARY PORT_BASE [MOSQUITTO_BINARY]
# BIN_DIR holds temperature_sensor, temperature_backend, request_response.
set -euo pipefail
bin=$1
assay=$2
base=$3
mosquitto=${4:-mosquitto}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
ok() { echo "ok   $1"; }
fail() { echo "FAIL $1"; failures=$((failures + 1)); }

# The example's broker configuration, on this test's port.
sed "s/\"port\": 1883/\"port\": $base/" "$here/temperature/broker.json" >"$work/broker.json"
"$assay" broker -c "$work/broker.json" -q &
pids+=($!)
"$mosquitto" -p $((base + 1)) 2>"$work/mosquitto.log" &
pids+=($!)
wait_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1  # polling the port until it listens
  done
  echo "nothing listens on port $1" >&2
  exit 1
}
wait_port "$base"
wait_port $((base + 1))

# Waits until FILE has a line matching PATTERN (the process writes it once
# it is subscribed), failing after 10 s.
wait_line() {
  for _ in $(seq 200); do
    if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.05  # polling the output file for the line
  done
  return 1
}

for name in assay mosquitto; do
  port=$base
  [ "$name" = mosquitto ] && port=$((base + 1))
  # Start clean: no retained reading from an earlier run.
  "$assay" pub -p "$port" -i cleaner-000001 -t sensor/temperature -r -n -q 1
  "$bin/temperature_backend" --port "$port" --count 5 >"$work/backend.out" 2>&1 &
  backend=$!
  if ! wait_line "$work/backend.out" '^subscribed'; then fail "$name: backend subscribed"; fi
  "$bin/temperature_sensor" --port "$port" --count 5 --interval-ms 20 >"$work/sensor.out" 2>&1 ||
    fail "$name: sensor ran"
  if wait "$backend"; then ok "$name: backend exited after 5 readings"; else fail "$name: backend exit"; fi
  sent=$(grep -c '^sent ' "$work/sensor.out" || true)
  got=$(grep -c '^sensor/temperature ' "$work/backend.out" || true)
  if [ "$sent" = 5 ] && [ "$got" = 5 ]; then
    ok "$name: 5 readings sent and received"
  else
    fail "$name: sent $sent, received $got"; cat "$work/sensor.out" "$work/backend.out"
  fi
  # The last reading is retained: a backend started now gets it at once.
  "$bin/temperature_backend" --port "$port" --id late-backend-1 --count 1 >"$work/late.out" 2>&1
  if grep -q '(retained)' "$work/late.out"; then ok "$name: the last reading is retained"; else
    fail "$name: retained reading"; cat "$work/late.out"; fi
  # Request/response.
  "$bin/request_response" serve --port "$port" >"$work/serve.out" 2>&1 &
  server=$!
  pids+=($server)
  wait_line "$work/serve.out" '^serving' || fail "$name: responder subscribed"
  if "$bin/request_response" ask 3 --port "$port" >"$work/ask.out" 2>&1 &&
     [ "$(grep -c '^answer [123]: time .* for question [123]$' "$work/ask.out")" = 3 ]; then
    ok "$name: three requests answered and matched by correlation data"
  else
    fail "$name: request/response"; cat "$work/ask.out"
  fi
  kill "$server"; wait "$server" 2>/dev/null || true
done

# The broker's client id rule: a sensor with a short id is refused with
# Client Identifier not valid (0x85 = 133).
if "$bin/temperature_sensor" --port "$base" --id s1 --count 1 >"$work/short.out" 2>&1; then
  fail "assay: a short client id was accepted"
elif grep -q 'Client Identifier not valid.*133' "$work/short.out"; then
  ok "assay: a client id under 10 characters is refused with 0x85"
else
  fail "assay: short id refusal"; cat "$work/short.out"
fi
exit $failures
