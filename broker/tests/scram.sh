#!/usr/bin/env bash
# Integration test: MQTT 5.0 enhanced authentication with SCRAM-SHA-256
# between `assay broker` and `assay pub`/`assay sub` (--auth scram-sha-256),
# on a password file `assay passwd --scram` made: logins that succeed and
# fail, a plain-password login (mosquitto_pub) against the same SCRAM
# credential, the ACL applied to the user SCRAM proved, a log without
# passwords, and the flags' errors. Stops the broker it started by PID.
#   scram.sh ASSAY_BINARY PORT
set -euo pipefail
assay=$1
port=$2
host=127.0.0.1
source "$(cd "$(dirname "$0")/../.." && pwd)/testing/lib.sh"
use_workdir

echo 'sensor-pass' | "$assay" passwd -c --scram --stdin "$work/passwd" sensor
"$assay" passwd -b "$work/passwd" plain plain-pass
check "assay passwd --scram writes a SCRAM credential" 1 \
  "$(grep -c '^sensor:\$scram-sha-256\$20000\$' "$work/passwd" || true)"
cat >"$work/acl" <<'ACL'
user sensor
topic readwrite sensors/#
user plain
topic readwrite plain/#
ACL
cat >"$work/broker.json" <<CONF
{"listeners": [{"address": "$host", "port": $port}],
 "password_file": "$work/passwd", "acl_file": "$work/acl"}
CONF
"$assay" broker -c "$work/broker.json" 2>"$work/broker.log" &
broker=$!
wait_for_line "$work/broker.log" "listening on $host:$port" "$broker"

scram=(--auth scram-sha-256 -u sensor -P sensor-pass)
# A subscriber and a publisher that log in with SCRAM; -d shows the AUTH
# exchange, so the test knows SCRAM (not a plain password) carried it.
"$assay" sub -h "$host" -p "$port" "${scram[@]}" -t 'sensors/#' -C 1 -W 5 -d \
  >"$work/sub.out" 2>&1 &
sub=$!
wait_for_line "$work/sub.out" "SUBACK" "$sub"
code=0
"$assay" pub -h "$host" -p "$port" "${scram[@]}" -t sensors/a -m reading -q 1 -d \
  >"$work/pub.out" 2>&1 || code=$?
check "a SCRAM publisher connects and publishes" 0 "$code"
wait "$sub" || true
check "a SCRAM subscriber gets the message" 1 "$(grep -c '^reading$' "$work/sub.out" || true)"
check "the login went through an AUTH exchange" "received AUTH sending AUTH" \
  "$(grep -o 'received AUTH\|sending AUTH' "$work/pub.out" | tr '\n' ' ' | sed 's/ $//')"
check "the CONNECT carried no password" 0 "$(grep -c 'sensor-pass' "$work/pub.out" || true)"

# The ACL applies to the user SCRAM proved: a write outside sensors/# is
# refused (PUBACK 0x87).
code=0
out=$("$assay" pub -h "$host" -p "$port" "${scram[@]}" -t plain/x -m x -q 1 2>&1) || code=$?
check "the proved user's ACL refuses a write outside its topics" 1 \
  "$(grep -c -i 'not authori[sz]ed' <<<"$out" || true)"

# The same credential serves a plain-password CONNECT.
code=0
mosquitto_pub -h "$host" -p "$port" -u sensor -P sensor-pass -t sensors/b -m x -q 1 || code=$?
check "a plain-password login against a SCRAM credential" 0 "$code"

# A wrong password: CONNACK 0x86, exit code 134 as mosquitto_pub's.
code=0
out=$("$assay" pub -h "$host" -p "$port" --auth scram-sha-256 -u sensor -P wrong-pass \
  -t sensors/a -m x 2>&1) || code=$?
check "a wrong password is refused with 0x86" 134 "$code"
check "the refusal is reported" 1 "$(grep -c -i 'bad user name or password' <<<"$out" || true)"
# A user whose line is not a SCRAM credential cannot log in with SCRAM.
code=0
"$assay" pub -h "$host" -p "$port" --auth scram-sha-256 -u plain -P plain-pass \
  -t plain/a -m x >/dev/null 2>&1 || code=$?
check "a user without a SCRAM credential is refused" 134 "$code"
check "the log says why" 1 \
  "$(grep -c 'login failed (SCRAM-SHA-256): user "plain".*not a SCRAM credential' "$work/broker.log" || true)"
check "the log names the user, client and address of a failed SCRAM login" 1 \
  "$(grep -c 'login failed (SCRAM-SHA-256): user "sensor", client "[^"]*" from 127.0.0.1:[0-9]*: wrong password' "$work/broker.log" || true)"
check "no password or key in the log" 0 \
  "$(grep -c -E 'sensor-pass|plain-pass|wrong-pass|\$scram|\$7\$' "$work/broker.log" || true)"

# The flags: --auth needs 5.0, -u and -P, and a method we know.
code=0
out=$("$assay" pub -h "$host" -p "$port" --auth scram-sha-256 -V 311 -u sensor -P x -t a -m x 2>&1) ||
  code=$?
check "--auth with -V 311 is a usage error naming --auth" 1 "$(grep -c -- '--auth' <<<"$out" || true)"
out=$("$assay" pub -h "$host" -p "$port" --auth scram-sha-1 -u sensor -P x -t a -m x 2>&1) || true
check "an unknown method names the one known" 1 "$(grep -c 'scram-sha-256' <<<"$out" || true)"
out=$("$assay" pub -h "$host" -p "$port" --auth scram-sha-256 -u sensor -t a -m x 2>&1) || true
check "--auth without -P says so" 1 "$(grep -c -- 'needs -u and -P' <<<"$out" || true)"

code=0
stop "$broker" || code=$?
broker=0
check "broker exits 0 on SIGTERM" 0 "$code"
echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
