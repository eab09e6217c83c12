#include "tls.hpp"

#include <array>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace assay::broker::front_end {

namespace {

// OpenSSL's reason for the last failure, cleared from its error queue.
std::string openssl_reason() {
  std::string text;
  unsigned long last = 0;
  while (const unsigned long e = ERR_get_error())
    last = e;
  if (last != 0) {
    if (const char* reason = ERR_reason_error_string(last)) {
      text = reason;
    } else {
      char buf[256];
      ERR_error_string_n(last, buf, sizeof buf);
      text = buf;
    }
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

[[noreturn]] void fail_on(const char* what, const std::string& file, const std::string& why) {
  std::string text = what;
  text.append(" '").append(file).append("': ").append(why);
  throw std::runtime_error(text);
}

// A file OpenSSL is about to read: "cannot read" with the system's reason
// is clearer than what OpenSSL says about a missing file.
void check_readable(const char* what, const std::string& file) {
  if (file.empty()) fail_on(what, file, "no file given");
  if (::access(file.c_str(), R_OK) != 0) fail_on(what, file, std::strerror(errno));
}

std::string utf8_of(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  const int n = ASN1_STRING_to_UTF8(&out, s);
  if (n < 0) return {};
  std::string text(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  // A name with a NUL in it (a forged certificate's trick) is no name.
  return text.find('\0') == std::string::npos ? text : std::string();
}

std::string common_name(X509* cert) {
  const X509_NAME* subject = X509_get_subject_name(cert);
  const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at < 0) return {};
  return utf8_of(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)));
}

std::string first_alternative_name(X509* cert) {
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return {};
  std::string found;
  for (int i = 0; i < sk_GENERAL_NAME_num(names) && found.empty(); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS || n->type == GEN_EMAIL || n->type == GEN_URI) {
      found = utf8_of(n->d.ia5);
    }
  }
  GENERAL_NAMES_free(names);
  return found;
}

}  // namespace

TlsContext::TlsContext(const TlsOptions& options) : options_(options) {
  using Clients = TlsOptions::ClientCertificates;
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (ctx_ == nullptr) throw std::runtime_error("TLS: " + openssl_reason());
  try {
    SSL_CTX_set_min_proto_version(ctx_, options.tls_1_3_only ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx_, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // An idle connection gives its read and write buffers back (~34 KB).
    SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS);
    // An encrypted key fails at once instead of prompting on a terminal.
    SSL_CTX_set_default_passwd_cb(ctx_, [](char*, int, int, void*) { return 0; });
    check_readable("certificate", options.cert_file);
    if (SSL_CTX_use_certificate_chain_file(ctx_, options.cert_file.c_str()) != 1) {
      fail_on("certificate", options.cert_file, openssl_reason());
    }
    check_readable("key", options.key_file);
    const std::string mismatch = "does not match certificate '" + options.cert_file + "'";
    if (SSL_CTX_use_PrivateKey_file(ctx_, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
        ERR_clear_error();
        fail_on("key", options.key_file, mismatch);
      }
      fail_on("key", options.key_file, openssl_reason());
    }
    if (SSL_CTX_check_private_key(ctx_) != 1) {
      ERR_clear_error();
      fail_on("key", options.key_file, mismatch);
    }
    if (options.client_certificates != Clients::none && options.ca_file.empty()) {
      throw std::runtime_error("client certificates need a CA file (ca_file) to verify them");
    }
    if (!options.ca_file.empty()) {
      check_readable("CA file", options.ca_file);
      if (SSL_CTX_load_verify_locations(ctx_, options.ca_file.c_str(), nullptr) != 1) {
        fail_on("CA file", options.ca_file, openssl_reason());
      }
      // The CAs the broker names to clients when it asks for a certificate.
      if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.ca_file.c_str())) {
        SSL_CTX_set_client_CA_list(ctx_, names);
      }
    }
    if (!options.crl_file.empty()) {
      if (options.client_certificates == Clients::none) {
        throw std::runtime_error(
            "a CRL file (crl_file) checks client certificates: it needs "
            "client_certificates optional or required");
      }
      check_readable("CRL file", options.crl_file);
      // The leaf's revocation is checked against the lists loaded here; a
      // list that is out of date fails the handshake too, as OpenSSL does.
      X509_STORE* store = SSL_CTX_get_cert_store(ctx_);
      X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
      if (lookup == nullptr ||
          X509_load_crl_file(lookup, options.crl_file.c_str(), X509_FILETYPE_PEM) <= 0) {
        const std::string why = openssl_reason();
        fail_on("CRL file", options.crl_file,
                "no certificate revocation list in it (PEM, as openssl ca -gencrl writes)" +
                    (why.empty() ? std::string() : ": " + why));
      }
      X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    int verify = SSL_VERIFY_NONE;
    if (options.client_certificates == Clients::optional) verify = SSL_VERIFY_PEER;
    if (options.client_certificates == Clients::required) {
      verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(ctx_, verify, nullptr);
    // Resumed sessions with client certificates need a context id.
    static const unsigned char id[] = "assay";
    SSL_CTX_set_session_id_context(ctx_, id, sizeof id - 1);
  } catch (...) {
    SSL_CTX_free(ctx_);
    throw;
  }
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

TlsSession::TlsSession(std::shared_ptr<const TlsContext> context) : context_(std::move(context)) {
  ssl_ = SSL_new(context_->native());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
    BIO_free(in_);
    BIO_free(out_);
    SSL_free(ssl_);
    throw std::runtime_error("TLS: " + openssl_reason());
  }
  BIO_set_mem_eof_return(in_, -1);  // no bytes yet is "read again later", not the end
  SSL_set_bio(ssl_, in_, out_);     // the SSL owns both now
  SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() {
  SSL_free(ssl_);
}

bool TlsSession::established() const {
  return SSL_is_init_finished(ssl_) == 1;
}

// OpenSSL's error queue is per thread and SSL_get_error() reads it: every
// call starts from an empty one, so that one connection's failure (a bad
// certificate, say) is never read as another's on the same thread.
TlsSession::Result TlsSession::receive(mqtt::ByteView in, mqtt::Bytes& app, mqtt::Bytes& net) {
  ERR_clear_error();
  std::size_t at = 0;
  while (at < in.size()) {
    const int chunk = static_cast<int>(std::min<std::size_t>(in.size() - at, 1 << 20));
    const int n = BIO_write(in_, in.data() + at, chunk);
    if (n <= 0) return fail();
    at += static_cast<std::size_t>(n);
  }
  // SSL_read() drives the handshake too, then decrypts whatever records
  // have arrived whole, into the thread's scratch buffer: growing `app` by
  // a record's maximum before each call would zero 16 KiB twice per packet.
  thread_local std::array<std::uint8_t, 16 * 1024> scratch;
  for (;;) {
    const int n = SSL_read(ssl_, scratch.data(), static_cast<int>(scratch.size()));
    if (n > 0) {
      app.insert(app.end(), scratch.data(), scratch.data() + n);
      continue;
    }
    const int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_WANT_READ) break;
    take_output(net);
    if (error == SSL_ERROR_ZERO_RETURN) return Result::closed;
    return fail();
  }
  take_output(net);
  return Result::ok;
}

TlsSession::Result TlsSession::send(mqtt::ByteView app, mqtt::Bytes& net) {
  ERR_clear_error();
  std::size_t at = 0;
  while (at < app.size()) {
    const int chunk = static_cast<int>(std::min<std::size_t>(app.size() - at, 1 << 20));
    const int n = SSL_write(ssl_, app.data() + at, chunk);
    if (n <= 0) return fail();  // memory BIOs take everything: never "try again"
    at += static_cast<std::size_t>(n);
  }
  take_output(net);
  return Result::ok;
}

void TlsSession::close(mqtt::Bytes& net) {
  ERR_clear_error();
  if (established()) SSL_shutdown(ssl_);
  ERR_clear_error();
  take_output(net);
}

void TlsSession::take_output(mqtt::Bytes& net) {
  const std::size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return;
  const std::size_t old = net.size();
  net.resize(old + pending);
  const int n = BIO_read(out_, net.data() + old, static_cast<int>(pending));
  net.resize(old + static_cast<std::size_t>(n > 0 ? n : 0));
}

TlsSession::Result TlsSession::fail() {
  const long verified = SSL_get_verify_result(ssl_);
  const std::string reason = openssl_reason();  // empties the queue either way
  error_ = verified != X509_V_OK ? X509_verify_cert_error_string(verified) : reason;
  return Result::failed;
}

std::string TlsSession::identity() const {
  using Name = TlsOptions::CertificateName;
  const Name kind = context_->options().username_from_certificate;
  if (kind == Name::none || !established()) return {};
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (cert == nullptr) return {};
  std::string name = kind == Name::cn ? common_name(cert) : first_alternative_name(cert);
  X509_free(cert);
  return name;
}

bool TlsSession::has_certificate() const {
  return SSL_get0_peer_certificate(ssl_) != nullptr;
}

}  // namespace assay::broker::front_end
