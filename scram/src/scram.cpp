#include "assay/scram/scram.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>

namespace assay::scram {

namespace {

Bytes hmac(std::span<const std::uint8_t> key, std::string_view data) {
  Bytes out(key_size);
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &size) == nullptr ||
      size != key_size) {
    throw std::runtime_error("HMAC-SHA-256 failed");
  }
  return out;
}

Bytes sha256(std::span<const std::uint8_t> data) {
  Bytes out(key_size);
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != key_size) {
    throw std::runtime_error("SHA-256 failed");
  }
  return out;
}

// Hi() of RFC 5802: PBKDF2 with HMAC-SHA-256, one block.
Bytes salted_password(std::string_view password, std::span<const std::uint8_t> salt,
                      std::uint32_t iterations) {
  Bytes out(key_size);
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(out.size()), out.data()) != 1) {
    throw std::runtime_error("PKCS5_PBKDF2_HMAC failed");
  }
  return out;
}

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  if (RAND_bytes(out.data(), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return out;
}

bool same(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// "a=1,b=2" -> {'a', "1"}, {'b', "2"}; nullopt when an attribute is not
// one letter and '='.
struct Attribute {
  char name;
  std::string_view value;
};
std::optional<std::vector<Attribute>> attributes(std::string_view text) {
  std::vector<Attribute> out;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view a = text.substr(0, comma);
    if (a.size() < 2 || a[1] != '=' ||
        !((a[0] >= 'a' && a[0] <= 'z') || (a[0] >= 'A' && a[0] <= 'Z')))
      return std::nullopt;
    out.push_back(Attribute{a[0], a.substr(2)});
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

// saslname: ',' and '=' are written =2C and =3D.
std::optional<std::string> decode_name(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ',') return std::nullopt;
    if (text[i] != '=') {
      out += text[i];
      continue;
    }
    const std::string_view code = text.substr(i + 1, 2);
    if (code == "2C") {
      out += ',';
    } else if (code == "3D") {
      out += '=';
    } else {
      return std::nullopt;
    }
    i += 2;
  }
  return out;
}

std::string encode_name(std::string_view name) {
  std::string out;
  for (const char ch : name) {
    if (ch == ',') {
      out += "=2C";
    } else if (ch == '=') {
      out += "=3D";
    } else {
      out += ch;
    }
  }
  return out;
}

// Well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code points
// past U+10FFFF) without C0 controls or DEL: a user name that may be logged.
bool utf8_text(std::string_view s) {
  static constexpr std::uint32_t least[] = {0, 0x80, 0x800, 0x10000};
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b < 0x20 || b == 0x7f) return false;
      ++i;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((b & 0xe0) == 0xc0) {
      n = 1;
      cp = b & 0x1fu;
    } else if ((b & 0xf0) == 0xe0) {
      n = 2;
      cp = b & 0x0fu;
    } else if ((b & 0xf8) == 0xf0) {
      n = 3;
      cp = b & 0x07u;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // cut short
    for (std::size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3fu);
    }
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

// A nonce is printable ASCII without ',' (RFC 5802 §7).
bool printable(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (const char ch : nonce) {
    if (ch < 0x21 || ch > 0x7e || ch == ',') return false;
  }
  return true;
}

Failure fail(std::string error, std::string detail) {
  return Failure{std::move(error), std::move(detail)};
}

// The proofs of one exchange: what the client sends and what the server
// answers, from the keys and the AuthMessage.
Bytes signature(std::span<const std::uint8_t> key, std::string_view auth_message) {
  return hmac(key, auth_message);
}

}  // namespace

// ---- credentials and encodings --------------------------------------------

Credential Credential::make(std::string_view password, std::uint32_t iterations, Bytes salt) {
  if (iterations == 0) throw std::invalid_argument("iterations must be positive");
  const Bytes salted = salted_password(password, salt, iterations);
  Credential c;
  c.iterations = iterations;
  c.salt = std::move(salt);
  c.stored_key = sha256(hmac(salted, "Client Key"));
  c.server_key = hmac(salted, "Server Key");
  return c;
}

Credential Credential::make(std::string_view password, std::uint32_t iterations) {
  return make(password, iterations, random_bytes(16));
}

bool Credential::verify(std::string_view password) const {
  const Bytes salted = salted_password(password, salt, iterations);
  return same(sha256(hmac(salted, "Client Key")), stored_key);
}

std::string base64(std::span<const std::uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<Bytes> unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  if (text.empty()) return Bytes{};
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
    if (ch == '=') {
      if (i + 2 < text.size()) return std::nullopt;  // padding only at the end
      ++padding;
    } else if (!ok || padding > 0) {
      return std::nullopt;
    }
  }
  Bytes out(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - padding);  // DecodeBlock counts padding as bytes
  if (base64(out) != text) return std::nullopt;       // canonical only
  return out;
}

std::string random_nonce() {
  return base64(random_bytes(18));
}

// ---- client ----------------------------------------------------------------

Client::Client(std::string user, std::string password, std::string nonce)
    : user_(std::move(user)), password_(std::move(password)), nonce_(std::move(nonce)) {
  if (!printable(nonce_)) throw std::invalid_argument("SCRAM nonce must be printable, without ','");
}

std::string Client::first() const {
  return "n,,n=" + encode_name(user_) + ",r=" + nonce_;
}

std::variant<std::string, Failure> Client::respond(std::string_view server_first) {
  const auto attrs = attributes(server_first);
  if (!attrs || attrs->size() < 3) {
    return fail("invalid-encoding", "the server-first message does not parse");
  }
  const auto& a = *attrs;
  if (a[0].name == 'm') return fail("extensions-not-supported", "the server asks for an extension");
  if (a[0].name != 'r' || a[1].name != 's' || a[2].name != 'i') {
    return fail("invalid-encoding", "the server-first message is not r=,s=,i=");
  }
  const std::string_view nonce = a[0].value;
  if (!nonce.starts_with(nonce_) || nonce.size() == nonce_.size() || !printable(nonce)) {
    return fail("other-error", "the server's nonce does not extend ours");
  }
  auto salt = unbase64(a[1].value);
  if (!salt || salt->empty()) return fail("invalid-encoding", "the salt is not base64");
  std::uint32_t iterations = 0;
  const std::string_view i = a[2].value;
  const auto [ptr, ec] = std::from_chars(i.data(), i.data() + i.size(), iterations);
  if (ec != std::errc{} || ptr != i.data() + i.size()) {
    return fail("invalid-encoding", "the iteration count is not a number");
  }
  if (iterations < minimum_iterations || iterations > maximum_iterations) {
    return fail("other-error", "iteration count " + std::string(i) + " outside " +
                                   std::to_string(minimum_iterations) + ".." +
                                   std::to_string(maximum_iterations));
  }
  if (cache_.salt != *salt || cache_.iterations != iterations) {
    cache_ = Cache{*salt, iterations, salted_password(password_, *salt, iterations)};
  }
  const Bytes& salted = cache_.salted_password;
  std::string without_proof = "c=biws,r=";  // base64("n,,")
  without_proof.append(nonce);
  std::string auth_message = "n=" + encode_name(user_) + ",r=" + nonce_;
  auth_message.append(",").append(server_first).append(",").append(without_proof);
  const Bytes client_key = hmac(salted, "Client Key");
  const Bytes client_signature = signature(sha256(client_key), auth_message);
  Bytes proof(key_size);
  for (std::size_t k = 0; k < key_size; ++k)
    proof[k] = static_cast<std::uint8_t>(client_key[k] ^ client_signature[k]);
  server_signature_ = signature(hmac(salted, "Server Key"), auth_message);
  return without_proof + ",p=" + base64(proof);
}

std::optional<Failure> Client::verify(std::string_view server_final) const {
  if (server_signature_.empty()) return fail("other-error", "no exchange to verify");
  const auto attrs = attributes(server_final);
  if (!attrs || attrs->empty()) {
    return fail("invalid-encoding", "the server-final message does not parse");
  }
  if (attrs->front().name == 'e') {
    return fail(std::string(attrs->front().value), "the server refused the proof");
  }
  const auto v = attrs->front().name == 'v' ? unbase64(attrs->front().value) : std::nullopt;
  if (!v || !same(*v, server_signature_)) {
    return fail("invalid-proof",
                "the server's signature does not verify: it does not know the "
                "password's keys");
  }
  return std::nullopt;
}

// ---- server ----------------------------------------------------------------

Server::Server(Bytes secret, std::string nonce, std::uint32_t mock_iterations)
    : secret_(std::move(secret)), nonce_(std::move(nonce)), mock_iterations_(mock_iterations) {
  if (!printable(nonce_)) throw std::invalid_argument("SCRAM nonce must be printable, without ','");
}

std::variant<std::string, Failure> Server::user_of(std::string_view client_first) {
  // gs2-header: "n," / "y," (no channel binding) / "p=..." (refused), then
  // an optional authzid "a=...", then ','.
  if (client_first.starts_with("p=")) {
    return fail("channel-binding-not-supported", "the client asks for channel binding");
  }
  if (!client_first.starts_with("n,") && !client_first.starts_with("y,")) {
    return fail("invalid-encoding", "the client-first message has no GS2 header");
  }
  const std::size_t end = client_first.find(',', 2);
  if (end == std::string_view::npos) return fail("invalid-encoding", "the GS2 header has no end");
  const std::string_view authzid = client_first.substr(2, end - 2);
  if (!authzid.empty() && !authzid.starts_with("a=")) {
    return fail("invalid-encoding", "the GS2 header's authorization identity is not a=");
  }
  gs2_header_ = std::string(client_first.substr(0, end + 1));
  client_first_bare_ = std::string(client_first.substr(end + 1));
  const auto attrs = attributes(client_first_bare_);
  if (!attrs || attrs->size() < 2) {
    return fail("invalid-encoding", "the client-first message does not parse");
  }
  const auto& a = *attrs;
  if (a[0].name == 'm') return fail("extensions-not-supported", "the client asks for an extension");
  if (a[0].name != 'n' || a[1].name != 'r' || !printable(a[1].value)) {
    return fail("invalid-encoding", "the client-first message is not n=,r=");
  }
  auto user = decode_name(a[0].value);
  if (!user || user->empty() || !utf8_text(*user)) {
    return fail("invalid-username-encoding",
                "the user name is not a valid saslname (UTF-8 without control characters)");
  }
  if (!authzid.empty()) {
    const auto as = decode_name(authzid.substr(2));
    if (!as || *as != *user) {
      return fail("other-error", "an authorization identity other than the user is not supported");
    }
  }
  user_ = std::move(*user);
  nonce_ = std::string(a[1].value) + nonce_;
  return user_;
}

std::variant<std::string, Failure> Server::challenge(const std::optional<Credential>& credential) {
  if (user_.empty()) return fail("other-error", "challenge() before user_of()");
  known_ = credential.has_value();
  if (known_) {
    credential_ = *credential;
  } else {
    // The same salt for the same name every time, as a real account's is.
    Credential mock;
    mock.iterations = mock_iterations_;
    Bytes salt = hmac(secret_, std::string("salt") + '\0' + user_);
    salt.resize(16);
    mock.salt = std::move(salt);
    mock.stored_key = hmac(secret_, std::string("stored key") + '\0' + user_);
    mock.server_key = hmac(secret_, std::string("server key") + '\0' + user_);
    credential_ = std::move(mock);
  }
  server_first_ = "r=" + nonce_ + ",s=" + base64(credential_->salt) +
                  ",i=" + std::to_string(credential_->iterations);
  return server_first_;
}

std::variant<std::string, Failure> Server::finish(std::string_view client_final) {
  if (!credential_) return fail("other-error", "finish() before challenge()");
  const std::size_t p = client_final.rfind(",p=");
  if (p == std::string_view::npos) return fail("invalid-encoding", "the client-final has no proof");
  const std::string_view without_proof = client_final.substr(0, p);
  const auto attrs = attributes(without_proof);
  if (!attrs || attrs->size() < 2 || (*attrs)[0].name != 'c' || (*attrs)[1].name != 'r') {
    return fail("invalid-encoding", "the client-final message is not c=,r=,...,p=");
  }
  const auto binding = unbase64((*attrs)[0].value);
  if (!binding || std::string_view(reinterpret_cast<const char*>(binding->data()),
                                   binding->size()) != gs2_header_) {
    return fail("channel-bindings-dont-match", "c= does not repeat the GS2 header");
  }
  if ((*attrs)[1].value != nonce_) return fail("other-error", "the nonce differs from ours");
  const auto proof = unbase64(client_final.substr(p + 3));
  if (!proof || proof->size() != key_size)
    return fail("invalid-encoding", "the proof is not 32 bytes");
  std::string auth_message = client_first_bare_;
  auth_message.append(",").append(server_first_).append(",").append(without_proof);
  const Bytes client_signature = signature(credential_->stored_key, auth_message);
  Bytes client_key(key_size);
  for (std::size_t k = 0; k < key_size; ++k)
    client_key[k] = static_cast<std::uint8_t>((*proof)[k] ^ client_signature[k]);
  const bool ok = same(sha256(client_key), credential_->stored_key);
  if (!known_) return fail("invalid-proof", "no such user");
  if (!ok) return fail("invalid-proof", "wrong password");
  return "v=" + base64(signature(credential_->server_key, auth_message));
}

}  // namespace assay::scram
