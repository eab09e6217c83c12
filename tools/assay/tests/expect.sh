#!/bin/sh
# Runs a command and checks its exit code and its output together, so that
# a test passes only when both are right (a crash after the right output, or
# the right exit code with the wrong message, fails):
#   expect.sh CODE PATTERN... -- COMMAND [ARG...]
# CODE is the exact exit status; each PATTERN (grep -E) must match a line of
# the command's stdout and stderr together, in the order given.
set -u
code=$1
shift
count=0
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  count=$((count + 1))
  eval "pattern_$count=\$1"
  shift
done
if [ "$#" -eq 0 ]; then
  echo "usage: expect.sh CODE PATTERN... -- COMMAND [ARG...]" >&2
  exit 2
fi
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" >"$out" 2>&1
got=$?
status=0
if [ "$got" -ne "$code" ]; then
  echo "FAIL: exit status $got, expected $code"
  status=1
fi
# Each pattern from the line after the previous one's match.
from=1
i=1
while [ "$i" -le "$count" ]; do
  eval "pattern=\$pattern_$i"
  line=$(tail -n "+$from" "$out" | grep -a -n -E -m 1 -- "$pattern" | cut -d: -f1)
  if [ -z "$line" ]; then
    echo "FAIL: no line matches /$pattern/ (after line $((from - 1)))"
    status=1
    break
  fi
  from=$((from + line))
  i=$((i + 1))
done
if [ "$status" -ne 0 ]; then
  echo "output of: $*"
  cat "$out"
  exit 1
fi
echo "ok: exit status $code and $count pattern(s) matched"
