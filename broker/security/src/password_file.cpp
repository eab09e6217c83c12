#include "assay/broker/security/password_file.hpp"

#include "lines.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <limits>
#include <stdexcept>

namespace assay::broker::security {

namespace {

constexpr std::size_t salt_bytes = 16;  // Mosquitto writes 12; both are read
constexpr std::size_t key_bytes = 64;   // SHA-512's output

using scram::base64;

// Not scram::unbase64, which also refuses non-canonical text: a line this
// parser has accepted stays accepted.
std::optional<std::vector<std::uint8_t>> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  for (const char ch : text) {
    const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' || ch == '=';
    if (!ok) return std::nullopt;
  }
  std::vector<std::uint8_t> out(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes: take them off.
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '=' && size > 0; --i)
    --size;
  out.resize(size);
  return out;
}

std::vector<std::uint8_t> derive(const PasswordHash& h, std::string_view password) {
  if (h.kind == PasswordHash::Kind::scram_sha256) {
    return scram::Credential::make(password, h.iterations, h.salt).stored_key;
  }
  std::vector<std::uint8_t> out(key_bytes);
  if (h.kind == PasswordHash::Kind::pbkdf2_sha512) {
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), h.salt.data(),
                          static_cast<int>(h.salt.size()), static_cast<int>(h.iterations),
                          EVP_sha512(), static_cast<int>(out.size()), out.data()) != 1) {
      throw std::runtime_error("PKCS5_PBKDF2_HMAC failed");
    }
    return out;
  }
  // Mosquitto 1.x: one SHA-512 over the password, then the salt.
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned int size = 0;
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
                  EVP_DigestUpdate(ctx, h.salt.data(), h.salt.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, out.data(), &size) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw std::runtime_error("SHA-512 failed");
  out.resize(size);
  return out;
}

// Splits "a$b$c" at '$'.
std::vector<std::string_view> fields(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find('$', start);
    out.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

}  // namespace

PasswordHash PasswordHash::make(std::string_view password, std::uint32_t iterations) {
  if (iterations == 0) throw std::invalid_argument("iterations must be positive");
  PasswordHash h;
  h.iterations = iterations;
  h.salt.resize(salt_bytes);
  if (RAND_bytes(h.salt.data(), static_cast<int>(h.salt.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  h.key = derive(h, password);
  return h;
}

PasswordHash PasswordHash::make_scram(std::string_view password, std::uint32_t iterations) {
  const scram::Credential c = scram::Credential::make(password, iterations);
  PasswordHash h;
  h.kind = Kind::scram_sha256;
  h.iterations = c.iterations;
  h.salt = c.salt;
  h.key = c.stored_key;
  h.server_key = c.server_key;
  return h;
}

std::optional<scram::Credential> PasswordHash::scram_credential() const {
  if (kind != Kind::scram_sha256) return std::nullopt;
  return scram::Credential{iterations, salt, key, server_key};
}

std::optional<PasswordHash> PasswordHash::parse(std::string_view text) {
  const std::vector<std::string_view> f = fields(text);
  // "$7$..." splits into "", "7", ...
  if (f.size() < 2 || !f[0].empty()) return std::nullopt;
  PasswordHash h;
  std::string_view salt;
  std::string_view key;
  const bool is_scram = f[1] == "scram-sha-256" && f.size() == 6;
  if ((f[1] == "7" && f.size() == 5) || is_scram) {
    h.kind = is_scram ? Kind::scram_sha256 : Kind::pbkdf2_sha512;
    const char* end = f[2].data() + f[2].size();
    const auto [ptr, ec] = std::from_chars(f[2].data(), end, h.iterations);
    if (ec != std::errc{} || ptr != end || h.iterations == 0 ||
        h.iterations > static_cast<std::uint32_t>(std::numeric_limits<int>::max())) {
      return std::nullopt;
    }
    salt = f[3];
    key = f[4];
  } else if (f[1] == "6" && f.size() == 4) {
    h.kind = Kind::sha512;
    salt = f[2];
    key = f[3];
  } else {
    return std::nullopt;
  }
  auto s = unbase64(salt);
  auto k = unbase64(key);
  const std::size_t size = is_scram ? scram::key_size : key_bytes;
  if (!s || !k || s->empty() || k->size() != size) return std::nullopt;
  if (is_scram) {
    auto server = unbase64(f[5]);
    if (!server || server->size() != size || h.iterations < scram::minimum_iterations ||
        h.iterations > scram::maximum_iterations) {
      return std::nullopt;
    }
    h.server_key = std::move(*server);
  }
  h.salt = std::move(*s);
  h.key = std::move(*k);
  return h;
}

std::string PasswordHash::text() const {
  if (kind == Kind::sha512) return "$6$" + base64(salt) + "$" + base64(key);
  if (kind == Kind::scram_sha256) {
    return "$scram-sha-256$" + std::to_string(iterations) + "$" + base64(salt) + "$" + base64(key) +
           "$" + base64(server_key);
  }
  return "$7$" + std::to_string(iterations) + "$" + base64(salt) + "$" + base64(key);
}

bool PasswordHash::verify(std::string_view password) const {
  const std::vector<std::uint8_t> got = derive(*this, password);
  return got.size() == key.size() && CRYPTO_memcmp(got.data(), key.data(), key.size()) == 0;
}

std::optional<std::string> check_user_name(std::string_view user) {
  if (user.empty()) return "the user name is empty";
  for (const char ch : user) {
    if (ch == ':') return "a user name cannot contain ':'";
    if (ch == '\n' || ch == '\r' || ch == '\0') return "a user name cannot contain a line break";
  }
  return std::nullopt;
}

std::variant<PasswordFile, PasswordFileError> PasswordFile::parse(std::string_view text) {
  PasswordFile file;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const std::string_view line = take_line(text);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return PasswordFileError{number, "no ':' between the user name and the hash"};
    }
    const std::string_view user = line.substr(0, colon);
    if (const auto bad = check_user_name(user)) return PasswordFileError{number, *bad};
    const std::string_view hash_text = line.substr(colon + 1);
    if (hash_text.empty()) {
      return PasswordFileError{number, "user \"" + std::string(user) + "\" has no password hash"};
    }
    auto hash = PasswordHash::parse(hash_text);
    if (!hash) {
      return PasswordFileError{
          number, "user \"" + std::string(user) +
                      "\": not a $7$ (PBKDF2-SHA-512), $6$ (SHA-512) or $scram-sha-256$ hash"};
    }
    if (file.users_.contains(user)) {
      return PasswordFileError{number, "user \"" + std::string(user) + "\" appears twice"};
    }
    file.users_.emplace(std::string(user), std::move(*hash));
  }
  return file;
}

const PasswordHash* PasswordFile::find(std::string_view user) const {
  const auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second;
}

std::string PasswordFile::text() const {
  std::string out;
  for (const auto& [user, hash] : users_)
    out += user + ":" + hash.text() + "\n";
  return out;
}

}  // namespace assay::broker::security
