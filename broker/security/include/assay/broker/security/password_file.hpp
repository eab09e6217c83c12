// Password files: one `user:hash` line per account, in Mosquitto's format so
// that a file made by mosquitto_passwd works unchanged (docs/broker.md,
// "Authentication"). Hashes are
//   $7$<iterations>$<salt>$<key>  PBKDF2-HMAC-SHA-512 (what `assay passwd`
//                                  writes, with far more iterations than
//                                  Mosquitto 2.0's 101)
//   $6$<salt>$<digest>            SHA-512(password || salt), Mosquitto 1.x
//   $scram-sha-256$<iterations>$<salt>$<StoredKey>$<ServerKey>
//                                 a SCRAM-SHA-256 credential (RFC 5802):
//                                 such a user can log in with SCRAM
//                                 (MQTT 5.0 enhanced authentication) or
//                                 with a plain password; `assay passwd
//                                 --scram` writes it. Mosquitto cannot read
//                                 this kind.
// with salt and keys in base64. A line that does not parse is an error that
// names it, never an account: parse() fails as a whole, so a broker never
// starts (or reloads) with part of a file.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "assay/scram/scram.hpp"

namespace assay::broker::security {

struct PasswordHash {
  enum class Kind : std::uint8_t { pbkdf2_sha512, sha512, scram_sha256 };
  Kind kind = Kind::pbkdf2_sha512;
  std::uint32_t iterations = 0;  // pbkdf2 and scram
  std::vector<std::uint8_t> salt;
  std::vector<std::uint8_t> key;         // scram: StoredKey
  std::vector<std::uint8_t> server_key;  // scram only

  // What `assay passwd` writes: PBKDF2-HMAC-SHA-512 with a fresh 16-byte
  // salt from OpenSSL's random source and a 64-byte key. The broker checks a
  // password on the engine thread serving the connection, so a user's first
  // login stalls that thread for one hash: about 11 ms at 20,000 iterations
  // on the development machine, where OWASP's 210,000 would take about
  // 115 ms. Verified passwords are remembered (as an HMAC), so reconnects
  // cost microseconds. `assay passwd --iterations` raises it.
  static constexpr std::uint32_t default_iterations = 20'000;
  static PasswordHash make(std::string_view password,
                           std::uint32_t iterations = default_iterations);
  // A SCRAM-SHA-256 credential (PBKDF2-HMAC-SHA-256 underneath). The broker
  // never hashes for a SCRAM login, only the client does; a plain-password
  // login against it costs the same as against a $7$ hash.
  static PasswordHash make_scram(std::string_view password,
                                 std::uint32_t iterations = scram::default_iterations);
  // The SCRAM credential, for kind scram_sha256 only.
  std::optional<scram::Credential> scram_credential() const;
  // The `$7$...`, `$6$...` or `$scram-sha-256$...` text; nullopt when it
  // is none of them.
  static std::optional<PasswordHash> parse(std::string_view text);
  std::string text() const;
  // Constant time in the key's length (CRYPTO_memcmp).
  bool verify(std::string_view password) const;
};

struct PasswordFileError {
  std::size_t line = 0;  // 1-based
  std::string message;   // never contains the hash or a password
};

class PasswordFile {
 public:
  // Blank lines and lines starting with '#' are skipped; every other line is
  // `user:hash`. A duplicate user is an error too (which one would count?).
  static std::variant<PasswordFile, PasswordFileError> parse(std::string_view text);

  const PasswordHash* find(std::string_view user) const;
  void set(const std::string& user, PasswordHash hash) { users_[user] = std::move(hash); }
  bool erase(const std::string& user) { return users_.erase(user) != 0; }
  std::size_t size() const { return users_.size(); }
  template <class F>
  void each(F&& f) const {
    for (const auto& [user, hash] : users_)
      f(user, hash);
  }
  // The file's text, users in order.
  std::string text() const;

 private:
  std::map<std::string, PasswordHash, std::less<>> users_;
};

// A user name is a UTF-8 string without ':' or a line break (the format's
// separators); empty names are refused too.
std::optional<std::string> check_user_name(std::string_view user);

}  // namespace assay::broker::security
