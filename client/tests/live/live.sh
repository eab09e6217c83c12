#!/usr/bin/env bash
# The Asio client library against real brokers on loopback ports: `assay
# broker` (with a client id rule: ids under 10 characters are refused) and
# Mosquitto with a plain and a TLS listener (a CA and certificate made here
# with openssl). Runs test_live once per broker; stops both brokers by PID.
#   live.sh TEST_BINARY ASSAY_BINARY PORT_BASE [MOSQUITTO_BINARY]
# Ports: PORT_BASE assay, +1 Mosquitto, +2 Mosquitto TLS, +3 closed.
set -euo pipefail
tests=$1
assay=$2
base=$3
mosquitto=${4:-mosquitto}
assay_port=$base
mosquitto_port=$((base + 1))
tls_port=$((base + 2))
closed_port=$((base + 3))
source "$(cd "$(dirname "$0")/../../.." && pwd)/testing/lib.sh"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

printf '{"minimum_client_id_length": 10}\n' >"$work/assay.json"
"$assay" broker -c "$work/assay.json" --bind 127.0.0.1 -p "$assay_port" -q 2>"$work/assay.log" &
pids+=($!)

# Mosquitto started as root drops to its own user before reading the key.
chmod 755 "$work"
make_ca ca
make_cert server localhost ca 2
chmod 644 "$work/server.key"
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
pids+=($!)

# Each broker is ready when its port accepts a connection (or the test fails).
wait_port() {
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  exit 1
}
wait_port "$assay_port"
wait_port "$mosquitto_port"
wait_port "$tls_port"

status=0
echo "== assay broker on $assay_port"
ASSAY_LIVE_BROKER=127.0.0.1:$assay_port ASSAY_LIVE_CLOSED=$closed_port ASSAY_LIVE_MIN_ID=10 \
  "$tests" --gtest_filter='Both/Live.*:TlsOptionsCheck.*' || status=1
echo "== mosquitto on $mosquitto_port (TLS $tls_port)"
ASSAY_LIVE_BROKER=127.0.0.1:$mosquitto_port ASSAY_LIVE_CLOSED=$closed_port \
  ASSAY_LIVE_TLS_PORT=$tls_port ASSAY_LIVE_CA=$work/ca.pem \
  "$tests" --gtest_filter='Both/Live.*:V5/Tls.*:-*ARefusedConnackIsItsReasonCode*' || status=1
if [ $status -ne 0 ]; then
  echo "--- assay broker log"; tail -20 "$work/assay.log"
  echo "--- mosquitto log"; tail -20 "$work/mosquitto.log"
fi
exit $status
