// The broker's network front end around the pure Engine (docs/broker.md,
// "How it is built" and "Threads"): Boost.Asio listeners and signals on the
// main thread, and one engine per thread, each in an epoll loop of its own
// over the connections it serves. The engines share the routing state under
// a reader-writer lock and hand connections and messages to each other
// through each other's queues. Boost headers stay out of this one: the
// internal front_end.hpp, broker.cpp and shard.cpp have them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "assay/broker/engine.hpp"

namespace assay::broker {

// A TLS listener's settings (docs/broker.md, "TLS").
struct TlsOptions {
  std::string cert_file;  // PEM: the broker's certificate (chain)
  std::string key_file;   // PEM: its private key
  std::string ca_file;    // PEM: the CAs that client certificates must come from
  // PEM: certificate revocation lists from those CAs; a client certificate
  // they revoke is refused. Read at start. Needs client_certificates.
  std::string crl_file;
  // Whether clients are asked for a certificate: not at all, optionally
  // (one that is sent must verify), or required (the handshake fails
  // without one). optional and required need ca_file.
  enum class ClientCertificates { none, optional, required };
  ClientCertificates client_certificates = ClientCertificates::none;
  // A verified client certificate's name as the user name, replacing the
  // CONNECT's and needing no password: its subject's CN, or its first
  // DNS, e-mail or URI subject alternative name.
  enum class CertificateName { none, cn, san };
  CertificateName username_from_certificate = CertificateName::none;
  bool tls_1_3_only = false;  // else TLS 1.2 and 1.3
};

// MQTT over WebSocket (docs/broker.md, "WebSocket"): the HTTP path the
// upgrade request must name.
struct WebSocketOptions {
  std::string path = "/mqtt";
};

struct Listener {
  std::string address = "127.0.0.1";
  std::uint16_t port = 1883;
  std::optional<TlsOptions> tls;              // plain TCP without
  std::optional<WebSocketOptions> websocket;  // MQTT's own framing without
};

enum class LogLevel { error = 0, warning = 1, info = 2, debug = 3 };

// Writes one log line, "<UTC time> <level> <text>", to standard error: the
// broker's own lines and those of what runs beside it (the security files).
void write_log(LogLevel level, std::string_view text);

// A store whose writes the front end takes to the disk (FileStore with
// group commit, broker/store/): the engine thread calls commit() once per
// loop turn before any of the turn's output is written, and flush() when
// flush_due() has come (a store that reaches the disk later than its
// sync(), FileStore under the interval policy) and once at the end. With a
// store, no copy of a message is written to a subscriber before the store
// has it (the engine turns write-through off).
class StoreDriver {
 public:
  virtual ~StoreDriver() = default;
  virtual void commit() = 0;
  virtual std::optional<std::chrono::steady_clock::time_point> flush_due() const = 0;
  virtual void flush() = 0;
};

struct ServerOptions {
  std::vector<Listener> listeners{Listener{}};
  EngineConfig engine;
  LogLevel log_level = LogLevel::info;
  // Engine threads; 0 means one per core (std::thread::hardware_concurrency).
  std::size_t threads = 0;
  // Bytes of output a connection's client has not read yet, at most; past
  // this the client is disconnected (a slow consumer must not make the broker
  // hold unbounded memory; its QoS 1/2 messages stay in its session).
  std::size_t output_buffer_limit = 16 * 1024 * 1024;
  // How long a connection the engine has closed may wait for its client to
  // read its last bytes (a DISCONNECT, say); then it is closed, read or not.
  std::chrono::seconds closing_grace{5};
  // Called on the main thread when the broker gets SIGHUP (to read the
  // password and ACL files again); without it SIGHUP is logged and ignored.
  std::function<void()> on_hangup;
  // With engine.store: how the engine thread takes it to the disk. None:
  // the store's sync() alone makes its writes durable.
  std::shared_ptr<StoreDriver> store_driver;
};

// Runs the broker until SIGINT/SIGTERM (5.0 clients get DISCONNECT 0x8B).
// Returns the process exit code; errors (a port in use, say) are logged
// with the listener that failed.
int run_server(const ServerOptions& options);

}  // namespace assay::broker
