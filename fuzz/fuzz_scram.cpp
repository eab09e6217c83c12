// Fuzz target: SCRAM-SHA-256's message parsers (scram/src/scram.cpp), the
// part of enhanced authentication that reads what a peer sent. The input is
// up to four messages separated by 0x00: client-first and client-final for
// the server side, server-first and server-final for the client side, each
// against RFC 7677's worked example (user "user", password "pencil", its
// nonces and salt), so that the fuzzer starts from an exchange that passes.
//
// Oracles:
//  - no parser crashes or reads out of bounds (ASan, UBSan);
//  - the server accepts a proof only for the exact exchange the password
//    makes: success means both client messages are the RFC's;
//  - the client accepts a server only when it signs that exchange: success
//    means both server messages are the RFC's.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "assay/scram/scram.hpp"
#include "rfc7677_example.hpp"

namespace {

namespace scram = assay::scram;

using scram::rfc7677::client_final;
using scram::rfc7677::client_first;
using scram::rfc7677::client_nonce;
using scram::rfc7677::server_final;
using scram::rfc7677::server_first;
using scram::rfc7677::server_nonce;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_scram oracle failed: %s\n", what);
  std::abort();
}

const scram::Credential& credential() {
  // Derived once: the key derivation is the slow part, and fixed here.
  static const scram::Credential c =
      scram::Credential::make("pencil", 4096, *scram::unbase64(scram::rfc7677::salt));
  return c;
}

std::vector<std::string_view> split(std::string_view in) {
  std::vector<std::string_view> out;
  while (out.size() < 3) {
    const std::size_t zero = in.find('\0');
    if (zero == std::string_view::npos) break;
    out.push_back(in.substr(0, zero));
    in.remove_prefix(zero + 1);
  }
  out.push_back(in);
  while (out.size() < 4)
    out.emplace_back();
  return out;
}

void server_side(std::string_view first, std::string_view last) {
  scram::Server server(scram::Bytes(32, 1), std::string(server_nonce));
  auto user = server.user_of(first);
  if (std::holds_alternative<scram::Failure>(user)) return;
  const bool known = std::get<std::string>(user) == "user";
  auto challenge = server.challenge(known ? std::optional(credential()) : std::nullopt);
  if (std::holds_alternative<scram::Failure>(challenge)) fail("challenge failed after user_of");
  auto answer = server.finish(last);
  if (std::holds_alternative<std::string>(answer) &&
      (first != client_first || last != client_final)) {
    fail("the server accepted a proof the password does not make");
  }
}

void client_side(std::string_view first, std::string_view last) {
  // Only RFC 7677's count: a larger one is a hashing bomb the client
  // refuses above 10 million, and too slow to fuzz below that.
  if (!first.ends_with(",i=4096")) return;
  scram::Client client("user", "pencil", std::string(client_nonce));
  scram::Client::Cache cache;
  cache.salt = credential().salt;
  cache.iterations = 4096;
  // The SaltedPassword of RFC 7677's example, from its keys' derivation.
  static const scram::Bytes salted = [] {
    scram::Client probe("user", "pencil", std::string(client_nonce));
    (void)probe.respond(server_first);
    return probe.cache().salted_password;
  }();
  cache.salted_password = salted;
  client.set_cache(std::move(cache));
  auto reply = client.respond(first);
  if (std::holds_alternative<scram::Failure>(reply)) return;
  if (!client.verify(last) && (first != server_first || last != server_final)) {
    fail("the client accepted a server signature for another exchange");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto parts = split(in);
  server_side(parts[0], parts[1]);
  client_side(parts[2], parts[3]);
  return 0;
}
