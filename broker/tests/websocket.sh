#!/usr/bin/env bash
# Integration test: `assay broker` with a WebSocket listener and a WebSocket
# over TLS listener, driven by MQTT.js (npm `mqtt`, pinned in
# broker/tests/mqttjs/package-lock.json): its whole interop suite (3.1.1 and
# 5.0) over ws:// and wss:// (a CA and certificate made here), a message
# from a WebSocket client to a Mosquitto client on plain TCP, our own
# client (assay pub/sub --ws) over both, and upgrade requests the broker
# must refuse (curl). Stops the broker it started by PID.
#   websocket.sh ASSAY_BINARY PORT_BASE     (ports PORT_BASE .. PORT_BASE+2)
set -euo pipefail
assay=$1
base=$2
host=127.0.0.1
port=$base # plain MQTT, for sub_bg
ws=$((base + 1))
wss=$((base + 2))
dir=$(cd "$(dirname "$0")/mqttjs" && pwd)
source "$dir/../../../testing/lib.sh"
if [ ! -f "$dir/node_modules/mqtt/package.json" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
use_workdir

make_ca ca
make_cert server localhost ca 2
cat >"$work/broker.json" <<EOF
{"listeners": [{"address": "$host", "port": $port},
               {"address": "$host", "port": $ws, "websocket": {"path": "/mqtt"}},
               {"address": "$host", "port": $wss, "websocket": {},
                "tls": {"cert_file": "$work/server.pem", "key_file": "$work/server.key"}}]}
EOF
"$assay" broker -c "$work/broker.json" 2>"$work/broker.log" &
broker=$!
wait_for_line "$work/broker.log" "listening on $host:$wss \(WebSocket over TLS, path /mqtt\)" "$broker"

run_interop() { # run_interop NAME ARGS...: MQTT.js's suite; its summary line as the check
  local name=$1 code=0
  shift
  node "$dir/interop.mjs" "$@" >"$work/interop" 2>&1 || code=$?
  sed 's/^/  /' "$work/interop"
  check "MQTT.js interop over $name" 0 "$code"
}
run_interop "ws://" "$host" "$ws" ws /mqtt
run_interop "wss://" "$host" "$wss" wss /mqtt "$work/ca.pem"

# One engine behind every listener: WebSocket in, plain TCP out.
sub_bg "$work/got" -t ws/cross -C 1
(cd "$dir" && node --input-type=module -e "
  import mqtt from 'mqtt';
  const c = mqtt.connect('ws://$host:$ws/mqtt', { reconnectPeriod: 0 });
  c.on('connect', () => c.publish('ws/cross', 'over websocket', { qos: 1 }, () => c.end()));
  c.on('error', (e) => { console.error(e.message); process.exit(1); });")
wait "$bg" || true
check "a WebSocket client's message reaches a TCP client" "over websocket" "$(received "$work/got")"

# Our own client over WebSocket and secure WebSocket (assay sub/pub --ws):
# what one publishes over wss the other receives over ws.
# (No stdbuf: its LD_PRELOAD upsets the ASan build, and assay sub flushes each line.)
"$assay" sub --ws /mqtt -h "$host" -p "$ws" -t ws/own -C 1 -W 5 -d >"$work/own" 2>&1 &
own=$!
wait_for_line "$work/own" "received SUBACK" "$own"
"$assay" pub --ws /mqtt -h localhost -p "$wss" --cafile "$work/ca.pem" -q 1 -t ws/own -m "over wss"
wait "$own" || true
check "assay pub over wss:// reaches assay sub over ws://" "over wss" "$(received "$work/own")"
check "a path the broker does not serve: the client says the upgrade was declined" 1 \
  "$("$assay" pub --ws /other -h "$host" -p "$ws" -t ws/own -m x >/dev/null 2>&1; echo $?)"

# Upgrade requests that must be refused, with their HTTP status.
upgrade() { # upgrade PATH [PROTOCOL]: the status line of the broker's answer
  curl -s -i --max-time 5 -o - http://$host:$ws"$1" \
    -H "Connection: Upgrade" -H "Upgrade: websocket" -H "Sec-WebSocket-Version: 13" \
    -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" ${2:+-H "Sec-WebSocket-Protocol: $2"} |
    head -n 1 | tr -d '\r' || true
}
check "the right path and subprotocol are switched" "HTTP/1.1 101 Switching Protocols" \
  "$(upgrade /mqtt mqtt)"
check "another path gets 404" "HTTP/1.1 404 Not Found" "$(upgrade /other mqtt)"
check "no mqtt subprotocol gets 400 [MQTT-6.0.0-3]" "HTTP/1.1 400 Bad Request" "$(upgrade /mqtt chat)"
check "plain HTTP gets 400" "HTTP/1.1 400 Bad Request" \
  "$(curl -s -i --max-time 5 http://$host:$ws/mqtt | head -n 1 | tr -d '\r' || true)"
check "the broker logged why" yes \
  "$(grep -q 'WebSocket: .*subprotocol' "$work/broker.log" && echo yes || echo no)"
stop "$broker"
broker=0

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
