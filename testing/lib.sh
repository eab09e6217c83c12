# Shell helpers for the tests that start servers (sourced by
# broker/tests/*.sh, conformance/tests/*.sh and tools/assay/tests/*.sh).
# None of them sleeps to synchronise: each waits for an event (a line in a
# log, a process ending) with a deadline, and fails loudly when the event
# does not come.

# wait_for_line FILE PATTERN PID [SECONDS]
# Returns once a line of FILE matches PATTERN (grep -E). Fails, showing
# FILE, when process PID ends first or SECONDS (default 20) pass.
wait_for_line() {
  local file=$1 pattern=$2 pid=$3 seconds=${4:-20} fd tail_pid status=1
  # tail -F follows the file as it grows (inotify) and ends with PID.
  exec {fd}< <(exec timeout "$seconds" tail -n +1 -F --pid="$pid" "$file" 2>/dev/null)
  tail_pid=$!
  if grep -a -q -m 1 -E -- "$pattern" <&"$fd"; then status=0; fi
  kill "$tail_pid" 2>/dev/null || true
  exec {fd}<&-
  if [ "$status" -ne 0 ]; then
    local state=ended
    if kill -0 "$pid" 2>/dev/null; then state="still running after ${seconds} s"; fi
    echo "gave up waiting for /$pattern/ in $file (process $pid $state):" >&2
    sed 's/^/  | /' "$file" >&2
  fi
  return "$status"
}

# stop PID: SIGTERM, then its exit status (a server that crashes on the
# way down fails the test that stops it).
stop() {
  kill "$1" 2>/dev/null || true
  local status=0
  wait "$1" || status=$?
  return "$status"
}

# The check tally of a test script: check NAME EXPECTED ACTUAL prints ok or
# FAIL (with both values) and counts it in $passes or $failures; the script
# ends with `echo "$passes passed, $failures failed"; [ "$failures" -eq 0 ]`.
failures=0
passes=0
check() {
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

# What a `mosquitto_sub -d` printed, less its debug lines.
received() { grep -a -v -E '^(Client |Subscribed \(mid)' "$1" || true; }

# sub_bg FILE ARGS...: starts mosquitto_sub ARGS on $host:$port in the
# background (its PID in $bg, its output in FILE) and returns once the
# broker has acknowledged its subscription (stdbuf: its lines reach FILE as
# they are printed). -W 5: one that gets nothing gives up instead of
# hanging the test. A subscriber that was not subscribed counts a failure.
bg=0
sub_bg() {
  local out=$1
  shift
  stdbuf -oL mosquitto_sub -h "$host" -p "$port" -W 5 -d "$@" >"$out" 2>&1 &
  bg=$!
  if ! wait_for_line "$out" "received SUBACK" "$bg" || ! kill -0 "$bg" 2>/dev/null; then
    failures=$((failures + 1))
    echo "FAIL mosquitto_sub $* was not subscribed:"
    sed 's/^/  | /' "$out"
  fi
}

# use_workdir: a fresh temporary directory in $work, and on exit the server
# whose PID is in $broker (if any, 0 for none) stopped and $work removed.
broker=0
work=""
use_workdir() {
  work=$(mktemp -d)
  trap stop_and_clean EXIT
}
stop_and_clean() {
  if [ "$broker" != 0 ]; then
    kill "$broker" 2>/dev/null || true
    wait "$broker" 2>/dev/null || true
  fi
  rm -rf "$work"
}

# make_ca NAME: a CA certificate and key, $work/NAME.pem and $work/NAME.key.
# make_cert NAME CN CA DAYS [SAN]: a certificate for CN signed by CA, valid
# for DAYS (-1: it expired yesterday), with SAN as its alternative names
# (default: localhost and the loopback address).
make_ca() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
    -keyout "$work/$1.key" -out "$work/$1.pem" 2>/dev/null
}
make_cert() {
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" \
    -keyout "$work/$1.key" -out "$work/$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\n' "${5:-DNS:localhost,IP:127.0.0.1}" >"$work/$1.ext"
  openssl x509 -req -days "$4" -in "$work/$1.csr" -CA "$work/$3.pem" -CAkey "$work/$3.key" \
    -CAcreateserial -extfile "$work/$1.ext" -out "$work/$1.pem" 2>/dev/null
}
