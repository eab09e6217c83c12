// TLS for the broker's listeners: a context per listener (certificate, key,
// CA, versions, client certificates) and a session per connection that
// works on memory buffers, so that the shard's epoll loop keeps reading and
// writing the socket itself (docs/broker.md, "TLS"). OpenSSL.
#pragma once

#include <memory>
#include <string>

#include "assay/mqtt/types.hpp"
#include "server.hpp"

// OpenSSL's types, declared so that this header does not include OpenSSL.
struct ssl_ctx_st;
struct ssl_st;
struct bio_st;

namespace assay::broker::front_end {

class TlsContext {
 public:
  // Throws std::runtime_error naming the file at fault and OpenSSL's
  // reason: "certificate '/etc/x.pem': no such file", "key 'k.pem' does not
  // match certificate 'c.pem'".
  explicit TlsContext(const TlsOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  ssl_ctx_st* native() const { return ctx_; }
  const TlsOptions& options() const { return options_; }

 private:
  TlsOptions options_;
  ssl_ctx_st* ctx_ = nullptr;
};

// One connection's TLS, server side. Network bytes go in through
// receive(); what the application gets and what must go back to the
// network (handshake messages, alerts, session tickets) come out in the
// buffers given. Not thread-safe; it may move to another thread between
// calls (a connection handed to another shard).
class TlsSession {
 public:
  explicit TlsSession(std::shared_ptr<const TlsContext> context);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  enum class Result { ok, closed, failed };
  // Appends the decrypted bytes to `app` and the bytes to send to `net`.
  // closed: the client sent close_notify; failed: see error().
  Result receive(mqtt::ByteView in, mqtt::Bytes& app, mqtt::Bytes& net);
  // Appends the encrypted form of `app` to `net`.
  Result send(mqtt::ByteView app, mqtt::Bytes& net);
  // Appends a close_notify alert to `net`.
  void close(mqtt::Bytes& net);

  bool established() const;
  // Once established: the user name the client certificate gives under
  // the listener's username_from_certificate ("cn": its subject's common
  // name; "san": its first DNS, e-mail or URI subject alternative name);
  // empty without a certificate or such a name.
  std::string identity() const;
  bool has_certificate() const;
  bool identity_wanted() const {
    return context_->options().username_from_certificate != TlsOptions::CertificateName::none;
  }
  // The shard's: whether it has dealt with the identity (Engine::set_identity).
  bool identity_checked = false;
  // Why the session failed: OpenSSL's reason ("certificate verify failed").
  const std::string& error() const { return error_; }

 private:
  void take_output(mqtt::Bytes& net);
  Result fail();

  std::shared_ptr<const TlsContext> context_;
  ssl_st* ssl_ = nullptr;
  bio_st* in_ = nullptr;   // network bytes for OpenSSL to read
  bio_st* out_ = nullptr;  // network bytes OpenSSL wrote
  std::string error_;
};

}  // namespace assay::broker::front_end
