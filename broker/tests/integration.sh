#!/usr/bin/env bash
# Integration test: `assay broker` on a loopback port, driven by Mosquitto's
# command-line clients (mosquitto_pub/mosquitto_sub, peers we did not write),
# MQTT 3.1.1 and 5.0: QoS 0/1/2, retain, will, wildcards, shared
# subscriptions, session resumption. Nothing sleeps to synchronise: the
# broker is waited for until it logs that it listens, and each background
# subscriber until it has its SUBACK (mosquitto_sub -d). Every check
# compares what a client received with what it must receive, so each fails
# when the broker is not there. Stops the broker it started by PID.
#   integration.sh ASSAY_BINARY PORT
set -euo pipefail
assay=$1
port=$2
host=127.0.0.1
source "$(cd "$(dirname "$0")/../.." && pwd)/testing/lib.sh"
work=$(mktemp -d)
"$assay" broker --bind "$host" -p "$port" 2>"$work/broker.log" &
broker=$!
cleanup() {
  kill "$broker" 2>/dev/null || true
  wait "$broker" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
wait_for_line "$work/broker.log" "listening on $host:$port" "$broker"

# -W 5: a subscriber that does not get its messages gives up (and its check
# fails) instead of hanging the test.
sub() { mosquitto_sub -h "$host" -p "$port" -W 5 "$@" 2>&1 || true; }
pub() {
  if ! mosquitto_pub -h "$host" -p "$port" "$@"; then
    failures=$((failures + 1))
    echo "FAIL mosquitto_pub $*"
  fi
}

for v in mqttv311 mqttv5; do
  # QoS 0, 1 and 2, and the granted QoS as the maximum.
  sub_bg "$work/qos" -V "$v" -t "q/$v" -q 2 -C 3
  pub -V "$v" -t "q/$v" -m zero -q 0
  pub -V "$v" -t "q/$v" -m one -q 1
  pub -V "$v" -t "q/$v" -m two -q 2
  wait "$bg" || true
  # Three publishers, so three connections: nothing orders their messages
  # (they may be read on different engine threads).
  check "$v qos 0/1/2" $'one\ntwo\nzero' "$(received "$work/qos" | sort)"

  # Wildcards.
  sub_bg "$work/wild" -V "$v" -t "w/+/x" -t "w2/#" -C 2 -v
  pub -V "$v" -t "w/a/x" -m plus -q 1
  pub -V "$v" -t "w/a/y" -m nomatch -q 1
  pub -V "$v" -t "w2" -m parent -q 1
  wait "$bg" || true
  check "$v wildcards" $'w/a/x plus\nw2 parent' "$(received "$work/wild")"

  # Retained: stored, replaced, cleared.
  pub -V "$v" -t "r/$v" -m old -r -q 1
  pub -V "$v" -t "r/$v" -m new -r -q 1
  check "$v retained" "new" "$(sub -V "$v" -t "r/$v" -C 1)"
  pub -V "$v" -t "r/$v" -n -r -q 1
  # Cleared: subscribing to the topic and to one that holds a retained
  # message, in that order, the first message is the other topic's (our
  # broker sends retained messages filter by filter, in the SUBSCRIBE's
  # order), not a waiting for nothing.
  pub -V "$v" -t "r-marker/$v" -m marker -r -q 1
  check "$v retained cleared" "r-marker/$v marker" \
    "$(sub -V "$v" -t "r/$v" -t "r-marker/$v" -C 1 -v)"
  pub -V "$v" -t "r-marker/$v" -n -r -q 1

  # Will on an abnormal end (the client is killed once it is subscribed,
  # so its CONNECT with the Will has been taken).
  sub_bg "$work/will" -V "$v" -t "will/$v" -C 1
  watcher=$bg
  sub_bg "$work/dying" -V "$v" -t nothing -i "dying-$v" \
    --will-topic "will/$v" --will-payload gone --will-qos 1
  kill -9 "$bg" 2>/dev/null || true
  wait "$bg" 2>/dev/null || true
  wait "$watcher" || true
  check "$v will" "gone" "$(received "$work/will")"

  # Session resumption: QoS 1 messages queued while the client was away
  # (-E: it leaves as soon as its subscription is acknowledged).
  if [ "$v" == mqttv5 ]; then persist=(-x 3600); else persist=(); fi
  sub -V "$v" -t "s/$v" -q 1 -c -i "keeper-$v" "${persist[@]}" -E >/dev/null
  pub -V "$v" -t "s/$v" -m queued -q 1
  check "$v session resumed" "queued" "$(sub -V "$v" -t "s/$v" -q 1 -c -i "keeper-$v" "${persist[@]}" -C 1)"
done

# Shared subscriptions (5.0): each message to one member of the group.
sub_bg "$work/share1" -V mqttv5 -t '$share/g/jobs' -C 2
first=$bg
sub_bg "$work/share2" -V mqttv5 -t '$share/g/jobs' -C 2
for i in 1 2 3 4; do pub -V mqttv5 -t jobs -m "job$i" -q 1; done
wait "$first" "$bg" || true
check "shared subscription" "4" "$(cat "$work/share1" "$work/share2" | received /dev/stdin | grep -c job || true)"

# The broker stops cleanly on SIGTERM.
code=0
stop "$broker" || code=$?
check "broker exits 0 on SIGTERM" 0 "$code"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
