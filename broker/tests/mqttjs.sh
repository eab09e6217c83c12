#!/usr/bin/env bash
# Interop test: `assay broker` on a loopback port driven by MQTT.js (npm
# `mqtt`, the version pinned in broker/tests/mqttjs/package-lock.json),
# 3.1.1 and 5.0. Installs the pinned package on first use; waits for the
# broker's "listening" line; stops the broker it started by PID.
#   mqttjs.sh ASSAY_BINARY PORT
set -euo pipefail
assay=$1
port=$2
dir=$(cd "$(dirname "$0")/mqttjs" && pwd)
source "$dir/../../../testing/lib.sh"
if [ ! -f "$dir/node_modules/mqtt/package.json" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
log=$(mktemp)
"$assay" broker --bind 127.0.0.1 -p "$port" 2>"$log" &
broker=$!
cleanup() {
  kill "$broker" 2>/dev/null || true
  wait "$broker" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT
wait_for_line "$log" "listening on 127.0.0.1:$port" "$broker"
node "$dir/interop.mjs" 127.0.0.1 "$port"
stop "$broker"
