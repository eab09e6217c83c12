// SCRAM-SHA-256 (RFC 5802, RFC 7677): the challenge-response login that MQTT
// 5.0 enhanced authentication carries in CONNECT, AUTH and CONNACK
// (docs/broker.md, "Enhanced authentication"). The password never crosses
// the wire, the server stores only keys derived from it, and each side
// proves to the other that it knows them.
//
// Both sides are pure state machines over the four messages: no sockets,
// no clocks; their nonces come from OpenSSL's random source unless a test
// gives one. Without SASLprep: a password is used as its UTF-8 bytes, which
// is what SASLprep leaves of any password of printable ASCII.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace assay::scram {

using Bytes = std::vector<std::uint8_t>;

// The Authentication Method's name in CONNECT and AUTH.
inline constexpr std::string_view method_name = "SCRAM-SHA-256";
inline constexpr std::size_t key_size = 32;  // SHA-256's output
// RFC 7677 asks for at least 4096; `assay passwd` writes more.
inline constexpr std::uint32_t minimum_iterations = 4096;
// What `assay passwd --scram` writes, and what a server answers for a user
// it does not know.
inline constexpr std::uint32_t default_iterations = 20'000;
// Above this a server-first message is refused: a hostile server could make
// a client spend minutes hashing.
inline constexpr std::uint32_t maximum_iterations = 10'000'000;

// What the server keeps per user (RFC 5802 §3): the salt, the iteration
// count and two keys derived from the password, never the password.
struct Credential {
  std::uint32_t iterations = 0;
  Bytes salt;
  Bytes stored_key;  // H(HMAC(SaltedPassword, "Client Key"))
  Bytes server_key;  // HMAC(SaltedPassword, "Server Key")

  static Credential make(std::string_view password, std::uint32_t iterations, Bytes salt);
  // With a fresh 16-byte salt from OpenSSL's random source.
  static Credential make(std::string_view password, std::uint32_t iterations);
  // Whether `password` derives these keys (constant time in the comparison):
  // a plain CONNECT password can be checked against a SCRAM credential.
  bool verify(std::string_view password) const;
};

std::string base64(std::span<const std::uint8_t> bytes);
// Strict: padded, canonical alphabet, nothing else.
std::optional<Bytes> unbase64(std::string_view text);
// 24 printable characters without ',' from 18 random bytes.
std::string random_nonce();

// Why an exchange stopped, as RFC 5802's server-error values name it.
struct Failure {
  std::string error;   // "invalid-proof", "unknown-user", "invalid-encoding", ...
  std::string detail;  // for a log line; never a key or a password
};

class Client {
 public:
  Client(std::string user, std::string password, std::string nonce = random_nonce());

  // client-first-message: "n,,n=<user>,r=<nonce>".
  std::string first() const;
  // server-first-message in, client-final-message out (with the proof).
  std::variant<std::string, Failure> respond(std::string_view server_first);
  // server-final-message: success when it carries the server's signature.
  std::optional<Failure> verify(std::string_view server_final) const;

  // The SaltedPassword of the last exchange and what it was made from, so
  // that a reconnect to the same server does not hash again.
  struct Cache {
    Bytes salt;
    std::uint32_t iterations = 0;
    Bytes salted_password;
  };
  void set_cache(Cache cache) { cache_ = std::move(cache); }
  const Cache& cache() const { return cache_; }

 private:
  std::string user_;
  std::string password_;
  std::string nonce_;
  Cache cache_;
  Bytes server_signature_;  // expected in server-final
};

class Server {
 public:
  // `secret`: a key the caller keeps secret and stable (across restarts
  // too). For a user name with no credential, the exchange goes on with a
  // salt derived from it and the name, and `mock_iterations`, so that a
  // guesser cannot tell unknown users from wrong passwords.
  explicit Server(Bytes secret, std::string nonce = random_nonce(),
                  std::uint32_t mock_iterations = default_iterations);

  // client-first-message in. The user it names (decoded), to look up: UTF-8
  // without control characters, or the exchange fails.
  std::variant<std::string, Failure> user_of(std::string_view client_first);
  // The credential of that user (nullopt: none), then server-first out.
  std::variant<std::string, Failure> challenge(const std::optional<Credential>& credential);
  // client-final-message in, server-final-message out when the proof holds.
  std::variant<std::string, Failure> finish(std::string_view client_final);

  const std::string& user() const { return user_; }

 private:
  Bytes secret_;
  std::string nonce_;
  std::uint32_t mock_iterations_;
  std::string user_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::optional<Credential> credential_;
  bool known_ = false;
};

}  // namespace assay::scram
