// The broker's Authenticator and Authorizer from a password file and an ACL
// file (docs/broker.md, "Authentication" and "Authorisation"). Engines on
// several threads call it at once; the rules are one immutable snapshot that
// reload() replaces whole, and a reload that fails keeps the old snapshot
// rather than opening up (CVE-2017-7652).
//
// Logins: a client without a user name is let in only when anonymous access
// is on; a user name needs its password (a user name without one fails,
// CVE-2016-9877) and the password must verify against the file's hash
// (constant-time comparison). Failures get 0x86 (3.1.1: return code 4);
// anonymous access refused gets 0x87 (3.1.1: 5). Every failure is logged with
// the user name and address, never the password or the hash. After
// `free_failures` failures from one address, every further attempt from it
// is refused without being checked until a lockout passes (1 s, doubling per
// failure up to 60 s): guessing is slowed to a few tries a minute per
// address, and the PBKDF2 work it would cost stays bounded. A password once
// verified is remembered as a keyed SHA-256 (a random key per process), so a
// reconnecting fleet does not pay PBKDF2's cost on every CONNECT.
//
// 5.0 enhanced authentication: SCRAM-SHA-256 for users with a SCRAM
// credential, under the same lockout and logging; an unknown user's
// exchange looks like a known one's until the proof fails.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

#include "assay/broker/auth.hpp"
#include "assay/broker/security/acl.hpp"
#include "assay/broker/security/password_file.hpp"

namespace assay::broker::security {

struct SecurityOptions {
  bool allow_anonymous = true;
  std::string password_file;  // empty: no accounts
  std::string acl_file;       // empty: no ACL, everyone may do everything
};

enum class Severity : std::uint8_t { debug, info, warning };
using SecurityLog = std::function<void(Severity, const std::string&)>;

class FileSecurity final : public Authenticator, public Authorizer {
 public:
  static constexpr std::size_t free_failures = 3;
  static constexpr std::size_t max_tracked_addresses = 65'536;

  // Reads both files; an error names the file and line.
  static std::variant<std::shared_ptr<FileSecurity>, std::string> open(SecurityOptions options,
                                                                       SecurityLog log);
  // Reads both files again; on error logs it, keeps the rules in force and
  // returns the error.
  std::string reload();

  mqtt::ReasonCode authenticate(const mqtt::Connect& connect,
                                const ConnectContext& context) override;
  // SCRAM-SHA-256 (scram_exchange.cpp) for the users whose password file
  // line is a $scram-sha-256$ credential; nullptr for any other method.
  std::unique_ptr<AuthExchange> exchange(std::string_view method, std::string_view client_id,
                                         const ConnectContext& context) override;
  bool may_publish(const Principal& who, std::string_view topic) override;
  bool may_subscribe(const Principal& who, std::string_view filter) override;
  bool may_read(const Principal& who, std::string_view topic) override;
  bool checks_reads() const override;

  // What the snapshot in force holds (for the start-up log and tests).
  std::size_t users() const;
  std::size_t acl_rules() const;

 private:
  struct Rules {
    std::optional<PasswordFile> passwords;
    std::optional<Acl> acl;
    // SCRAM for a user without a SCRAM credential: salts derived from the
    // password file's text (secret, and the same after a restart) and the
    // file's most common SCRAM iteration count, as a real account's are.
    scram::Bytes scram_mock_key;
    std::uint32_t scram_mock_iterations = scram::default_iterations;
  };
  friend class ScramExchange;
  FileSecurity(SecurityOptions options, SecurityLog log);
  static std::variant<std::shared_ptr<const Rules>, std::string> load(const SecurityOptions& o);
  std::shared_ptr<const Rules> rules() const;
  bool verify(const std::string& user, const PasswordHash& hash, std::string_view password);
  // Whether `peer` is locked out now; a failure extends it.
  bool locked_out(std::string_view peer, mqtt::Time now);
  void failed(std::string_view peer, mqtt::Time now);
  void succeeded(std::string_view peer);

  const SecurityOptions options_;
  const SecurityLog log_;
  const bool acl_on_;
  mutable std::mutex mutex_;  // guards everything below
  std::shared_ptr<const Rules> rules_;
  struct Failures {
    std::size_t count = 0;
    mqtt::Time until{0};  // locked out before this
    mqtt::Time last{0};
  };
  std::map<std::string, Failures, std::less<>> failures_;  // by address, bounded
  std::array<std::uint8_t, 32> cache_key_{};
  std::map<std::string, std::array<std::uint8_t, 32>, std::less<>> verified_;  // by user
};

// "1.2.3.4:5678" -> "1.2.3.4", "[::1]:5678" -> "::1": failures count per
// address, whatever port a client comes from.
std::string_view address_of(std::string_view peer);

}  // namespace assay::broker::security
