#include "assay/broker/security/file_security.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace assay::broker::security {

using mqtt::ReasonCode;

namespace {

std::variant<std::string, std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::variant<std::string, std::string>(
        std::in_place_index<1>, path + ": cannot read (" + std::strerror(errno) + ")");
  std::ostringstream text;
  text << in.rdbuf();
  return std::variant<std::string, std::string>(std::in_place_index<0>, text.str());
}

// SHA-256 of the password file's text, under a label.
scram::Bytes scram_mock_key(const std::string& file_text) {
  std::string input = "assay SCRAM unknown-user salts";
  input += '\0';
  input += file_text;
  scram::Bytes out(32);
  unsigned int size = 0;
  const bool ok =
      EVP_Digest(input.data(), input.size(), out.data(), &size, EVP_sha256(), nullptr) == 1;
  OPENSSL_cleanse(input.data(), input.size());
  if (!ok) throw std::runtime_error("SHA-256 failed");
  return out;
}

std::uint32_t most_common_scram_iterations(const PasswordFile& file) {
  std::map<std::uint32_t, std::size_t> counts;
  file.each([&](const std::string&, const PasswordHash& h) {
    if (h.kind == PasswordHash::Kind::scram_sha256) ++counts[h.iterations];
  });
  std::uint32_t best = scram::default_iterations;
  std::size_t most = 0;
  for (const auto& [iterations, n] : counts) {
    if (n > most) best = iterations, most = n;
  }
  return best;
}

constexpr mqtt::Time lockout_first{1000};
constexpr mqtt::Time lockout_most{60'000};
constexpr mqtt::Time forget_after{600'000};

}  // namespace

std::string_view address_of(std::string_view peer) {
  if (!peer.empty() && peer.front() == '[') {
    const std::size_t close = peer.find(']');
    return close == std::string_view::npos ? peer : peer.substr(1, close - 1);
  }
  const std::size_t colon = peer.rfind(':');
  if (colon == std::string_view::npos || peer.find(':') != colon) return peer;
  return peer.substr(0, colon);
}

FileSecurity::FileSecurity(SecurityOptions options, SecurityLog log)
    : options_(std::move(options)), log_(std::move(log)), acl_on_(!options_.acl_file.empty()) {
  if (RAND_bytes(cache_key_.data(), static_cast<int>(cache_key_.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
}

std::variant<std::shared_ptr<const FileSecurity::Rules>, std::string> FileSecurity::load(
    const SecurityOptions& o) {
  auto rules = std::make_shared<Rules>();
  rules->scram_mock_key = scram_mock_key({});  // no accounts: nothing to hide
  if (!o.password_file.empty()) {
    auto text = read_file(o.password_file);
    if (text.index() == 1) return std::get<1>(text);
    auto parsed = PasswordFile::parse(std::get<0>(text));
    if (const auto* e = std::get_if<PasswordFileError>(&parsed)) {
      return o.password_file + ":" + std::to_string(e->line) + ": " + e->message;
    }
    rules->passwords = std::move(std::get<PasswordFile>(parsed));
    rules->scram_mock_key = scram_mock_key(std::get<0>(text));
    rules->scram_mock_iterations = most_common_scram_iterations(*rules->passwords);
  }
  if (!o.acl_file.empty()) {
    auto text = read_file(o.acl_file);
    if (text.index() == 1) return std::get<1>(text);
    auto parsed = Acl::parse(std::get<0>(text));
    if (const auto* e = std::get_if<AclError>(&parsed)) {
      return o.acl_file + ":" + std::to_string(e->line) + ": " + e->message;
    }
    rules->acl = std::move(std::get<Acl>(parsed));
  }
  return std::shared_ptr<const Rules>(std::move(rules));
}

std::variant<std::shared_ptr<FileSecurity>, std::string> FileSecurity::open(SecurityOptions options,
                                                                            SecurityLog log) {
  auto loaded = load(options);
  if (loaded.index() == 1) return std::get<1>(loaded);
  std::shared_ptr<FileSecurity> s(new FileSecurity(std::move(options), std::move(log)));
  s->rules_ = std::move(std::get<0>(loaded));
  return s;
}

std::string FileSecurity::reload() {
  auto loaded = load(options_);
  if (loaded.index() == 1) {
    const std::string error = std::get<1>(loaded);
    if (log_) log_(Severity::warning, "reload failed, the rules in force stay: " + error);
    return error;
  }
  {
    const std::lock_guard lock(mutex_);
    rules_ = std::move(std::get<0>(loaded));
    verified_.clear();
  }
  if (log_) {
    log_(Severity::info, "security reloaded: " + std::to_string(users()) + " users, " +
                             std::to_string(acl_rules()) + " ACL rules");
  }
  return {};
}

std::shared_ptr<const FileSecurity::Rules> FileSecurity::rules() const {
  const std::lock_guard lock(mutex_);
  return rules_;
}

std::size_t FileSecurity::users() const {
  const auto r = rules();
  return r->passwords ? r->passwords->size() : 0;
}

std::size_t FileSecurity::acl_rules() const {
  const auto r = rules();
  return r->acl ? r->acl->rules() : 0;
}

bool FileSecurity::verify(const std::string& user, const PasswordHash& hash,
                          std::string_view password) {
  // The keyed digest of (hash, password): a hit means this password verified
  // against this very hash before.
  std::string input = hash.text();
  input += '\0';
  input += password;
  std::array<std::uint8_t, 32> digest{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), cache_key_.data(), static_cast<int>(cache_key_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data(), &size);
  OPENSSL_cleanse(input.data(), input.size());
  {
    const std::lock_guard lock(mutex_);
    const auto it = verified_.find(user);
    if (it != verified_.end() && CRYPTO_memcmp(it->second.data(), digest.data(), 32) == 0) {
      return true;
    }
  }
  if (!hash.verify(password)) return false;
  const std::lock_guard lock(mutex_);
  verified_[user] = digest;  // at most one entry per user of the file
  return true;
}

bool FileSecurity::locked_out(std::string_view peer, mqtt::Time now) {
  const std::lock_guard lock(mutex_);
  const auto it = failures_.find(address_of(peer));
  return it != failures_.end() && now < it->second.until;
}

void FileSecurity::failed(std::string_view peer, mqtt::Time now) {
  const std::lock_guard lock(mutex_);
  const std::string_view address = address_of(peer);
  auto it = failures_.find(address);
  if (it == failures_.end()) {
    if (failures_.size() >= max_tracked_addresses) {
      // Forget the addresses not heard from for longest; a flood of fresh
      // addresses cannot grow this beyond its bound.
      std::erase_if(failures_, [&](const auto& f) { return now - f.second.last > forget_after; });
      if (failures_.size() >= max_tracked_addresses) failures_.erase(failures_.begin());
    }
    it = failures_.emplace(std::string(address), Failures{}).first;
  }
  Failures& f = it->second;
  if (now - f.last > forget_after) f.count = 0;
  f.last = now;
  ++f.count;
  if (f.count > free_failures) {
    const std::size_t doublings = std::min<std::size_t>(f.count - free_failures - 1, 6);
    f.until = now + std::min(lockout_most, lockout_first * (1 << doublings));
  }
}

void FileSecurity::succeeded(std::string_view peer) {
  const std::lock_guard lock(mutex_);
  if (const auto it = failures_.find(address_of(peer)); it != failures_.end()) failures_.erase(it);
}

ReasonCode FileSecurity::authenticate(const mqtt::Connect& c, const ConnectContext& context) {
  const std::string from = context.peer.empty() ? "" : " from " + std::string(context.peer);
  const std::string who = "client \"" + c.client_id + "\"";
  if (!context.certificate_identity.empty()) {
    // The TLS handshake verified the certificate against the listener's CA.
    if (log_) {
      std::string line = "login: user \"";
      line.append(context.certificate_identity).append("\" (client certificate), ");
      line.append(who).append(from);
      log_(Severity::info, line);
    }
    return ReasonCode::success;
  }
  if (!c.username) {
    if (c.password) {
      // 5.0 allows a password alone; nothing here could check it.
      if (log_)
        log_(Severity::warning, "login failed: " + who + from + ": password without user name");
      return ReasonCode::bad_user_name_or_password;
    }
    if (options_.allow_anonymous) return ReasonCode::success;
    if (log_) {
      log_(Severity::warning, "login refused: " + who + from + ": anonymous access is off");
    }
    return ReasonCode::not_authorized;
  }
  const std::string user = "user \"" + *c.username + "\"";
  if (locked_out(context.peer, context.now)) {
    if (log_) {
      log_(Severity::warning, "login refused unchecked: " + user + ", " + who + from +
                                  ": too many failures from this address, wait");
    }
    return ReasonCode::bad_user_name_or_password;
  }
  const auto r = rules();
  const PasswordHash* hash = r->passwords ? r->passwords->find(*c.username) : nullptr;
  const char* why = nullptr;
  if (!c.password) {
    why = "no password";  // CVE-2016-9877
  } else if (hash == nullptr) {
    why = "no such user";
  } else {
    const std::string_view password(reinterpret_cast<const char*>(c.password->data()),
                                    c.password->size());
    if (!verify(*c.username, *hash, password)) why = "wrong password";
  }
  if (why == nullptr) {
    succeeded(context.peer);
    return ReasonCode::success;
  }
  failed(context.peer, context.now);
  if (log_) log_(Severity::warning, "login failed: " + user + ", " + who + from + ": " + why);
  return ReasonCode::bad_user_name_or_password;
}

bool FileSecurity::may_publish(const Principal& who, std::string_view topic) {
  const auto r = rules();
  return !r->acl || r->acl->may_write(who, topic);
}

bool FileSecurity::may_subscribe(const Principal& who, std::string_view filter) {
  const auto r = rules();
  return !r->acl || r->acl->may_subscribe(who, filter);
}

bool FileSecurity::may_read(const Principal& who, std::string_view topic) {
  const auto r = rules();
  return !r->acl || r->acl->may_read(who, topic);
}

bool FileSecurity::checks_reads() const {
  return acl_on_;
}

}  // namespace assay::broker::security
