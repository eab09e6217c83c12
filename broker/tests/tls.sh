#!/usr/bin/env bash
# Integration test: `assay broker` with TLS listeners, driven by Mosquitto's
# clients over OpenSSL. A CA, a second (wrong) CA and certificates, some
# expired, are made here with openssl. Checks: a client that trusts the CA
# talks to a TLS listener; one that trusts another CA, or meets an expired
# broker certificate, does not; optional client certificates are verified
# when sent; a listener that requires client
# certificates refuses clients without one, with an expired one or with one
# from another CA, or with one its CA revoked (a CRL made here with
# `openssl ca`), and takes the certificate's CN as the user name (the ACL
# applies to it); TLS 1.3 only refuses TLS 1.2; and a listener whose
# certificate, key or CRL cannot be used stops the broker with the file
# named.
# Stops the broker it started by PID.
#   tls.sh ASSAY_BINARY PORT_BASE     (ports PORT_BASE .. PORT_BASE+4)
set -euo pipefail
assay=$1
base=$2
host=127.0.0.1
port=$base # the plain listener, for sub_bg
tls=$((base + 1))
mutual=$((base + 2))
expired=$((base + 3))
only13=$((base + 4))
source "$(cd "$(dirname "$0")/../.." && pwd)/testing/lib.sh"
use_workdir

make_ca ca
make_ca other-ca
make_cert server localhost ca 2
make_cert old-server localhost ca -1
make_cert alice alice ca 2
make_cert old-alice alice ca -1
make_cert stranger alice other-ca 2
# carol's certificate names her in its first alternative name (an e-mail
# address), not in its CN.
make_cert carol not-carol ca 2 "email:carol@example.com,DNS:localhost"
# The CA revokes dave's certificate: the mutual listener's CRL lists it.
make_cert dave dave ca 2
cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = revocations
[revocations]
database = $work/index.txt
crlnumber = $work/crlnumber
default_md = sha256
default_crl_days = 2
EOF
touch "$work/index.txt"
echo 1000 >"$work/crlnumber"
openssl ca -config "$work/ca.cnf" -keyfile "$work/ca.key" -cert "$work/ca.pem" \
  -revoke "$work/dave.pem" 2>/dev/null
openssl ca -config "$work/ca.cnf" -keyfile "$work/ca.key" -cert "$work/ca.pem" \
  -gencrl -out "$work/crl.pem" 2>/dev/null

# Anonymous clients may read everything and write tls/#; alice, as her
# certificate names her, may write only alice/#.
cat >"$work/acl" <<'EOF'
topic read #
topic readwrite tls/#
user alice
topic readwrite alice/#
user carol@example.com
topic write carol/#
EOF
listener() { # listener PORT CERT [EXTRA JSON]
  printf '{"address": "%s", "port": %s, "tls": {"cert_file": "%s", "key_file": "%s"%s}}' \
    "$host" "$1" "$work/$2.pem" "$work/$2.key" "${3:-}"
}
cat >"$work/broker.json" <<EOF
{"listeners": [{"address": "$host", "port": $port},
   $(listener "$tls" server ", \"ca_file\": \"$work/ca.pem\", \"client_certificates\": \"optional\""),
   $(listener "$mutual" server ", \"ca_file\": \"$work/ca.pem\", \"crl_file\": \"$work/crl.pem\", \"client_certificates\": \"required\", \"username_from_certificate\": \"cn\""),
   $(listener "$expired" old-server),
   $(listener "$only13" server ", \"min_version\": \"1.3\", \"ca_file\": \"$work/ca.pem\", \"client_certificates\": \"optional\", \"username_from_certificate\": \"san\"")],
 "acl_file": "$work/acl", "threads": 2}
EOF
"$assay" broker -c "$work/broker.json" 2>"$work/broker.log" &
broker=$!
wait_for_line "$work/broker.log" "listening on $host:$only13 \(TLS\)" "$broker"

# "failed" when the client could not connect (or publish), else "ok".
outcome() {
  if "$@" >"$work/outcome" 2>&1; then echo ok; else echo failed; fi
}
pub() { mosquitto_pub -h "$host" -q 1 "$@"; }

for v in mqttv311 mqttv5; do
  sub_bg "$work/got" -V "$v" -t "tls/$v" -C 1
  pub -V "$v" -p "$tls" --cafile "$work/ca.pem" -t "tls/$v" -m secret
  wait "$bg" || true
  check "$v a client that trusts the CA publishes over TLS" secret "$(received "$work/got")"
done
check "optional client certificates: a good one is taken" ok \
  "$(outcome pub -p "$tls" --cafile "$work/ca.pem" --cert "$work/alice.pem" \
    --key "$work/alice.key" -t tls/x -m x)"
check "optional client certificates: an expired one is refused" failed \
  "$(outcome pub -p "$tls" --cafile "$work/ca.pem" --cert "$work/old-alice.pem" \
    --key "$work/old-alice.key" -t tls/x -m x)"
check "a client that trusts another CA is refused" failed \
  "$(outcome pub -p "$tls" --cafile "$work/other-ca.pem" -t tls/x -m x)"
check "an expired broker certificate is refused" failed \
  "$(outcome pub -p "$expired" --cafile "$work/ca.pem" -t tls/x -m x)"
check "plain MQTT on a TLS port gets nowhere" failed \
  "$(outcome timeout 10 mosquitto_pub -h "$host" -p "$tls" -q 1 -t tls/x -m x)"

alice=(--cafile "$work/ca.pem" --cert "$work/alice.pem" --key "$work/alice.key")
sub_bg "$work/got" -t "alice/+" -C 1
check "alice's certificate names her: may write alice/#" ok \
  "$(outcome pub -p "$mutual" "${alice[@]}" -t alice/1 -m from-alice)"
wait "$bg" || true
check "what alice published arrived" from-alice "$(received "$work/got")"
# As alice, not as the user name she sends: writing bob/1 is refused (0x87),
# and the next message to arrive is the one she may write.
sub_bg "$work/got" -v -t "bob/+" -t "alice/+" -C 1
pub -V mqttv5 -p "$mutual" "${alice[@]}" -u bob -t bob/1 -m sneaky >/dev/null 2>&1 || true
pub -V mqttv5 -p "$mutual" "${alice[@]}" -u bob -t alice/2 -m marker
wait "$bg" || true
check "alice's certificate, not her CONNECT, names her: no right to bob/#" "alice/2 marker" \
  "$(received "$work/got")"
# Two engine threads: connections are dealt to them in turn, and one of two
# connections in a row with the same client id is handed to the other
# thread, TLS session and certificate name with it.
sub_bg "$work/got" -t "alice/h/+" -C 2
pub -p "$mutual" "${alice[@]}" -i tls-handoff -t alice/h/1 -m first
pub -p "$mutual" "${alice[@]}" -i tls-handoff -t alice/h/2 -m second
wait "$bg" || true
check "TLS connections handed between threads keep their session and name" "first
second" "$(received "$work/got")"
check "no client certificate: refused" failed \
  "$(outcome pub -p "$mutual" --cafile "$work/ca.pem" -t alice/1 -m x)"
check "an expired client certificate: refused" failed \
  "$(outcome pub -p "$mutual" --cafile "$work/ca.pem" --cert "$work/old-alice.pem" \
    --key "$work/old-alice.key" -t alice/1 -m x)"
check "a client certificate from another CA: refused" failed \
  "$(outcome pub -p "$mutual" --cafile "$work/ca.pem" --cert "$work/stranger.pem" \
    --key "$work/stranger.key" -t alice/1 -m x)"
check "a revoked client certificate: refused" failed \
  "$(outcome pub -p "$mutual" --cafile "$work/ca.pem" --cert "$work/dave.pem" \
    --key "$work/dave.key" -t dave/1 -m x)"
check "the broker logged why" yes \
  "$(grep -q -E 'TLS: .*(certificate|alert)' "$work/broker.log" && echo yes || echo no)"
check "the broker logged the revocation" yes \
  "$(grep -q -F 'certificate revoked' "$work/broker.log" && echo yes || echo no)"

# mosquitto_pub's --tls-version sets a minimum: openssl s_client pins one.
handshake() { # handshake PORT -tls1_2|-tls1_3
  openssl s_client -connect "$host:$1" "$2" -CAfile "$work/ca.pem" -verify_return_error \
    </dev/null >"$work/s_client" 2>&1
}
check "TLS 1.2 is offered" ok "$(outcome handshake "$tls" -tls1_2)"
check "TLS 1.3 is offered" ok "$(outcome handshake "$tls" -tls1_3)"
check "TLS 1.3 only: a TLS 1.2 client is refused" failed "$(outcome handshake "$only13" -tls1_2)"
check "TLS 1.3 only: a TLS 1.3 client gets in" ok "$(outcome handshake "$only13" -tls1_3)"
sub_bg "$work/got" -t "carol/+" -C 1
pub -V mqttv5 -p "$only13" --cafile "$work/ca.pem" --cert "$work/carol.pem" \
  --key "$work/carol.key" -t carol/1 -m by-san
wait "$bg" || true
check "a certificate's first alternative name as the user name" by-san "$(received "$work/got")"

stop "$broker"
broker=0

# A listener whose files cannot be used stops the broker, naming the file.
bad_config() { # bad_config NAME CERT KEY PATTERN [MORE TLS KEYS, AS JSON]
  cat >"$work/bad.json" <<EOF
{"listeners": [{"address": "$host", "port": $tls,
                "tls": {"cert_file": "$2", "key_file": "$3"${5:-}}}]}
EOF
  local code=0
  "$assay" broker -c "$work/bad.json" 2>"$work/bad.log" || code=$?
  check "$1: exit 1" 1 "$code"
  grep -q -F -- "$4" "$work/bad.log" || sed "s/^/  | /" "$work/bad.log"
  check "$1: the log names the file" yes \
    "$(grep -q -F -- "$4" "$work/bad.log" && echo yes || echo no)"
}
bad_config "a missing certificate" "$work/none.pem" "$work/server.key" \
  "certificate '$work/none.pem': No such file or directory"
bad_config "a key that is not the certificate's" "$work/server.pem" "$work/alice.key" \
  "key '$work/alice.key': does not match certificate '$work/server.pem'"
echo 'not a certificate' >"$work/junk.pem"
bad_config "a file that is not PEM" "$work/junk.pem" "$work/server.key" \
  "certificate '$work/junk.pem': "
bad_config "a CRL file that is not PEM" "$work/server.pem" "$work/server.key" \
  "CRL file '$work/junk.pem': " \
  ", \"ca_file\": \"$work/ca.pem\", \"client_certificates\": \"required\", \"crl_file\": \"$work/junk.pem\""

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
