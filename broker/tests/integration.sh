#!/usr/bin/env bash
# Integration test: `assay broker` on a loopback port, driven by Mosquitto's
# command-line clients (mosquitto_pub/mosquitto_sub, peers we did not write),
# MQTT 3.1.1 and 5.0: QoS 0/1/2, retain, will, wildcards, shared
# subscriptions, session resumption. Stops the broker it started by PID.
#   integration.sh ASSAY_BINARY PORT
set -euo pipefail
assay=$1
port=$2
host=127.0.0.1
work=$(mktemp -d)
"$assay" broker --bind "$host" -p "$port" -q 2>"$work/broker.log" &
broker=$!
cleanup() {
  kill "$broker" 2>/dev/null || true
  wait "$broker" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 50); do
  if mosquitto_pub -h "$host" -p "$port" -t probe -n 2>/dev/null; then break; fi
  sleep 0.1
done

failures=0
passes=0
check() {  # name expected actual
  if [ "$2" == "$3" ]; then
    passes=$((passes + 1))
    echo "ok   $1"
  else
    failures=$((failures + 1))
    echo "FAIL $1"
    echo "  expected: $(printf '%q' "$2")"
    echo "  actual:   $(printf '%q' "$3")"
  fi
}
sub() { mosquitto_sub -h "$host" -p "$port" -W 5 "$@" 2>&1; }
pub() { mosquitto_pub -h "$host" -p "$port" "$@"; }
# Starts a subscriber in the background (its PID in $bg), and gives it
# time to subscribe.
bg=0
sub_bg() {
  local out=$1
  shift
  mosquitto_sub -h "$host" -p "$port" -W 5 "$@" >"$out" 2>&1 &
  bg=$!
  sleep 0.3
}

for v in mqttv311 mqttv5; do
  # QoS 0, 1 and 2, and the granted QoS as the maximum.
  sub_bg "$work/qos" -V "$v" -t "q/$v" -q 2 -C 3
  pub -V "$v" -t "q/$v" -m zero -q 0
  pub -V "$v" -t "q/$v" -m one -q 1
  pub -V "$v" -t "q/$v" -m two -q 2
  wait "$bg" || true
  check "$v qos 0/1/2" $'zero\none\ntwo' "$(cat "$work/qos")"

  # Wildcards.
  sub_bg "$work/wild" -V "$v" -t "w/+/x" -t "w2/#" -C 2 -v
  pub -V "$v" -t "w/a/x" -m plus -q 1
  pub -V "$v" -t "w/a/y" -m nomatch -q 1
  pub -V "$v" -t "w2" -m parent -q 1
  wait "$bg" || true
  check "$v wildcards" $'w/a/x plus\nw2 parent' "$(cat "$work/wild")"

  # Retained: stored, replaced, cleared.
  pub -V "$v" -t "r/$v" -m old -r -q 1
  pub -V "$v" -t "r/$v" -m new -r -q 1
  check "$v retained" "new" "$(sub -V "$v" -t "r/$v" -C 1)"
  pub -V "$v" -t "r/$v" -n -r -q 1
  check "$v retained cleared" "" "$(mosquitto_sub -h "$host" -p "$port" -V "$v" -t "r/$v" -W 1 2>/dev/null || true)"

  # Will on an abnormal end (the client is killed).
  sub_bg "$work/will" -V "$v" -t "will/$v" -C 1
  mosquitto_sub -h "$host" -p "$port" -V "$v" -t nothing -i "dying-$v" \
    --will-topic "will/$v" --will-payload gone --will-qos 1 >/dev/null 2>&1 &
  dying=$!
  sleep 0.3
  kill -9 "$dying"
  wait "$bg" || true
  check "$v will" "gone" "$(cat "$work/will")"

  # Session resumption: QoS 1 messages queued while the client was away.
  if [ "$v" == mqttv5 ]; then persist=(-x 3600); else persist=(); fi
  sub -V "$v" -t "s/$v" -q 1 -c -i "keeper-$v" "${persist[@]}" -C 1 -W 1 >/dev/null 2>&1 || true
  pub -V "$v" -t "s/$v" -m queued -q 1
  check "$v session resumed" "queued" "$(sub -V "$v" -t "s/$v" -q 1 -c -i "keeper-$v" "${persist[@]}" -C 1)"
done

# Shared subscriptions (5.0): each message to one member of the group.
sub_bg "$work/share1" -V mqttv5 -t '$share/g/jobs' -C 2
first=$bg
sub_bg "$work/share2" -V mqttv5 -t '$share/g/jobs' -C 2
for i in 1 2 3 4; do pub -V mqttv5 -t jobs -m "job$i" -q 1; done
wait "$first" "$bg" || true
check "shared subscription" "4" "$(cat "$work/share1" "$work/share2" | grep -c job)"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
