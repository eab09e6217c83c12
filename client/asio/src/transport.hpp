// The byte streams the Asio client speaks MQTT over: TCP, TLS on TCP, or
// WebSocket on either.
// Opening resolves the name, connects, and (TLS) does the handshake with
// SNI and the certificate checks TlsOptions asks for.
#pragma once

#include <utility>  // before Asio: Boost 1.74 uses std::exchange unincluded

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "assay/client/client.hpp"

namespace assay::client::detail {

// Held by shared_ptr: a handler still queued keeps its transport alive.
class Transport : public std::enable_shared_from_this<Transport> {
 public:
  using Done = std::function<void(error_code)>;
  using Transferred = std::function<void(error_code, std::size_t)>;
  // The bytes read, valid during the call only.
  using Received = std::function<void(error_code, mqtt::ByteView)>;
  virtual ~Transport() = default;
  virtual void async_open(const Server& server, Done done) = 0;
  // Waits for bytes and hands over what came (into a buffer of the
  // connection's: 1 KB for TCP, doubled while reads fill it; a TLS record's
  // 16 KB for TLS).
  virtual void async_receive(Received done) = 0;
  virtual void async_write(boost::asio::const_buffer buffer, Transferred done) = 0;
  // Ends the connection at once; pending operations complete with an error.
  virtual void close() = 0;
};

// TLS settings made once per client. Throws std::invalid_argument naming
// the file that cannot be read or does not fit.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsOptions& options);

std::shared_ptr<Transport> make_tcp_transport(const boost::asio::any_io_executor& ex);
std::shared_ptr<Transport> make_tls_transport(const boost::asio::any_io_executor& ex,
                                              std::shared_ptr<boost::asio::ssl::context> context,
                                              const TlsOptions& options);
// MQTT over WebSocket on `path`, over TLS when `tls` is set (websocket_transport.cpp).
std::shared_ptr<Transport> make_websocket_transport(const boost::asio::any_io_executor& ex,
                                                    std::string path,
                                                    std::shared_ptr<boost::asio::ssl::context> tls,
                                                    const TlsOptions* options);

}  // namespace assay::client::detail
