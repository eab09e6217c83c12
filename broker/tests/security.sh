#!/usr/bin/env bash
# Integration test: `assay broker` with a password file and an ACL file,
# driven by Mosquitto's clients. The password file is made by `assay passwd`
# and by mosquitto_passwd (the formats are one); the checks cover logins that
# succeed and fail, what the ACL lets each user read and write, the lockout
# after repeated failures, a reload on SIGHUP, and a log that never shows a
# password. Stops the broker it started by PID.
#   security.sh ASSAY_BINARY PORT
set -euo pipefail
assay=$1
port=$2
host=127.0.0.1
source "$(cd "$(dirname "$0")/../.." && pwd)/testing/lib.sh"
use_workdir

# The accounts: alice by --stdin, bob by -b, carol by mosquitto_passwd.
echo 'alice-pass' | "$assay" passwd -c --stdin "$work/passwd" alice
"$assay" passwd -b "$work/passwd" bob bob-pass
check "assay passwd writes a 0600 file" 600 "$(stat -c %a "$work/passwd")"
if command -v mosquitto_passwd >/dev/null; then
  mosquitto_passwd -b "$work/passwd" carol carol-pass
else
  echo "FAIL mosquitto_passwd not found: run tools/bootstrap"
  failures=$((failures + 1))
fi
check "three accounts" 3 "$(grep -c ':\$[67]\$' "$work/passwd")"

cat >"$work/acl" <<'EOF'
# Everyone may read the public topics (a pattern applies to every client;
# a topic line before the first user line to anonymous clients only).
pattern read public/#
user alice
topic readwrite alice/#
topic write public/#
user bob
topic read alice/#
user carol
topic readwrite carol/#
EOF
cat >"$work/broker.json" <<EOF
{"listeners": [{"address": "$host", "port": $port}],
 "password_file": "$work/passwd", "acl_file": "$work/acl"}
EOF
"$assay" broker -c "$work/broker.json" 2>"$work/broker.log" &
broker=$!
wait_for_line "$work/broker.log" "listening on $host:$port" "$broker"

# -W 5: a subscriber that does not get its messages gives up (and its check
# fails) instead of hanging the test.
sub() { mosquitto_sub -h "$host" -p "$port" -W 5 "$@" 2>&1 || true; }
pub() { mosquitto_pub -h "$host" -p "$port" "$@" 2>&1; }
# "refused" when the client could not connect, else its output and code.
outcome() {
  local out code=0
  out=$("$@" 2>&1) || code=$?
  if [ "$code" != 0 ] && grep -q -i -E 'not authori[sz]ed|bad user name or password' <<<"$out"; then
    echo refused
  else
    echo "exit $code: $out"
  fi
}

for v in mqttv311 mqttv5; do
  alice=(-V "$v" -u alice -P alice-pass)
  bob=(-V "$v" -u bob -P bob-pass)
  carol=(-V "$v" -u carol -P carol-pass)
  # Logins that succeed, including the hash mosquitto_passwd made.
  sub_bg "$work/own" "${alice[@]}" -t "alice/$v" -C 1
  pub "${alice[@]}" -t "alice/$v" -m mine -q 1
  wait "$bg" || true
  check "$v alice reads and writes her own topic" mine "$(received "$work/own")"
  sub_bg "$work/carol" "${carol[@]}" -t "carol/$v" -C 1
  pub "${carol[@]}" -t "carol/$v" -m hers -q 1
  wait "$bg" || true
  check "$v carol (mosquitto_passwd) logs in" hers "$(received "$work/carol")"

  # bob reads alice's topics; his writes there are refused (5.0: PUBACK
  # 0x87) and never reach her subscriber, which gets only the marker.
  sub_bg "$work/bob" "${bob[@]}" -t "alice/#" -C 1 -v
  sub_bg "$work/alice" "${alice[@]}" -t "alice/x/$v" -C 1
  alice_sub=$bg
  pub "${bob[@]}" -t "alice/x/$v" -m forged -q 1 >/dev/null || true
  pub "${alice[@]}" -t "alice/x/$v" -m marker -q 1
  wait "$alice_sub" || true
  check "$v bob's write to alice/# is dropped" marker "$(received "$work/alice")"
  check "$v bob reads alice/#" "alice/x/$v marker" "$(received "$work/bob")"

  # A subscription the ACL does not grant: 3.1.1 SUBACK 0x80, 5.0 0x87,
  # which mosquitto_sub reports as denied.
  check "$v bob may not subscribe to carol/#" 1 \
    "$(sub "${bob[@]}" -t "carol/#" -E | grep -c -i 'denied' || true)"

  # Everyone reads public/#, only alice writes it; carol's write is dropped.
  sub_bg "$work/public" "${carol[@]}" -t "public/$v" -C 1
  pub "${carol[@]}" -t "public/$v" -m carols -q 1 >/dev/null || true
  pub "${alice[@]}" -t "public/$v" -m alices -q 1
  wait "$bg" || true
  check "$v public/# is alice's to write" alices "$(received "$work/public")"
done

# Three failed logins from one address are free: no password, a wrong
# password, and another; an anonymous client is refused (there is a password
# file, so anonymous access is off) without counting as one.
check "a user name without a password is refused" refused \
  "$(outcome mosquitto_pub -h "$host" -p "$port" -u alice -t public/x -m x)"
check "a wrong password is refused" refused \
  "$(outcome mosquitto_pub -h "$host" -p "$port" -u alice -P wrong-pass -t public/x -m x)"
check "anonymous clients are refused" refused \
  "$(outcome mosquitto_pub -h "$host" -p "$port" -t public/x -m x)"
check "a wrong password for another user is refused" refused \
  "$(outcome mosquitto_pub -h "$host" -p "$port" -u bob -P wrong-again -t public/x -m x)"
# The fourth locks the address out for a second, even for the right password.
outcome mosquitto_pub -h "$host" -p "$port" -u nobody -P wrong-again -t public/x -m x >/dev/null
check "the address is locked out after four failures" refused \
  "$(outcome mosquitto_pub -h "$host" -p "$port" -u alice -P alice-pass -t public/x -m x)"
wait_for_line "$work/broker.log" 'login refused unchecked: user "alice"' "$broker"
sleep 1.2  # the lockout's length, not a synchronisation
check "the lockout ends" "exit 0: " \
  "$(outcome mosquitto_pub -h "$host" -p "$port" -u alice -P alice-pass -t public/x -m x)"

# SIGHUP reads the files again: a new user gets in, a broken ACL is refused
# and the rules in force stay.
"$assay" passwd -b "$work/passwd" dave dave-pass
kill -HUP "$broker"
wait_for_line "$work/broker.log" "security reloaded: 4 users" "$broker"
check "a user added and reloaded logs in" "exit 0: " \
  "$(outcome mosquitto_pub -h "$host" -p "$port" -u dave -P dave-pass -t public/x -m x)"
echo "topic read alice/#/x" >>"$work/acl"
kill -HUP "$broker"
wait_for_line "$work/broker.log" "reload failed, the rules in force stay: .*acl:11" "$broker"
check "a broken reload keeps the old rules" "exit 0: " \
  "$(outcome mosquitto_pub -h "$host" -p "$port" -u alice -P alice-pass -t alice/x -m x)"

check "the log names the user, client and address of a failed login" yes \
  "$(grep -q 'login failed: user "alice", client "[^"]*" from 127.0.0.1:[0-9]*: wrong password' \
    "$work/broker.log" && echo yes || echo no)"
check "no password or hash in the log" 0 \
  "$(grep -c -E 'alice-pass|bob-pass|carol-pass|dave-pass|wrong-pass|wrong-again|\$7\$' "$work/broker.log" || true)"

code=0
stop "$broker" || code=$?
broker=0
check "broker exits 0 on SIGTERM" 0 "$code"

# A configuration naming a missing file, or a bad line, exits 2 naming it.
cat >"$work/bad.json" <<EOF
{"listeners": [{"address": "$host", "port": $port}], "password_file": "$work/missing"}
EOF
code=0
out=$("$assay" broker -c "$work/bad.json" 2>&1) || code=$?
check "a missing password file exits 2" 2 "$code"
check "the error names the file" 1 "$(grep -c "$work/missing" <<<"$out" || true)"
echo "bob:not-a-hash" >"$work/badpasswd"
cat >"$work/bad.json" <<EOF
{"listeners": [{"address": "$host", "port": $port}], "password_file": "$work/badpasswd"}
EOF
code=0
out=$("$assay" broker -c "$work/bad.json" 2>&1) || code=$?
check "a bad password line exits 2" 2 "$code"
check "the error names file and line" 1 "$(grep -c "badpasswd:1" <<<"$out" || true)"

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
