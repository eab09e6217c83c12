#!/usr/bin/env bash
# `assay broker` on a port another broker holds exits with code 1 and says
# the port is in use. The first broker is waited for until it logs that it
# listens, and stopped by PID (it must exit 0 on SIGTERM).
#   port_in_use.sh ASSAY_BINARY PORT
set -euo pipefail
assay=$1
port=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../../testing/lib.sh"
log=$(mktemp)
"$assay" broker --bind 127.0.0.1 -p "$port" 2>"$log" &
first=$!
trap 'kill "$first" 2>/dev/null || true; rm -f "$log"' EXIT
wait_for_line "$log" "listening on 127.0.0.1:$port" "$first"
"$here/expect.sh" 1 "cannot listen on 127.0.0.1:$port: the port is in use" -- \
  "$assay" broker --bind 127.0.0.1 -p "$port"
stop "$first"
