// MQTT over WebSocket for the Asio client (RFC 6455, MQTT 5.0 section 6):
// Boost.Beast's websocket::stream over TCP, or over TLS for wss. It offers
// the subprotocol "mqtt" [MQTT-6.0.0-3], sends every write as one binary
// frame [MQTT-6.0.0-1], and reads whatever binary data arrives as the MQTT
// byte stream [MQTT-6.0.0-2].
// Beast's HTTP parser inlined here at -O2 with the sanitizers makes GCC 12
// warn that a boost::optional it returns empty "may be used uninitialized"
// (a false positive inside Boost's headers): off for this file only.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <string>

#include "transport.hpp"

namespace assay::client::detail {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

template <class Next>
class WebSocketTransport final : public Transport {
 public:
  // TCP below.
  WebSocketTransport(const asio::any_io_executor& ex,
                     std::string path) requires std::is_same_v<Next, tcp::socket>
      : path_(std::move(path)), resolver_(ex), ws_(ex) {}
  // TLS below.
  WebSocketTransport(
      const asio::any_io_executor& ex, std::string path, std::shared_ptr<ssl::context> context,
      const TlsOptions& options) requires std::is_same_v<Next, ssl::stream<tcp::socket>>
      : path_(std::move(path)),
        context_(std::move(context)),
        options_(options),
        resolver_(ex),
        ws_(ex, *context_) {}

  void async_open(const Server& server, Done done) override {
    auto self = shared_from_this();
    resolver_.async_resolve(server.host, std::to_string(server.port),
                            [this, self, server, done = std::move(done)](
                                error_code ec, tcp::resolver::results_type results) {
                              if (ec) return done(ec);
                              asio::async_connect(
                                  beast::get_lowest_layer(ws_), results,
                                  [this, self, server, done](error_code e, const tcp::endpoint&) {
                                    if (e) return done(e);
                                    beast::get_lowest_layer(ws_).set_option(tcp::no_delay(true), e);
                                    secure(server, done);
                                  });
                            });
  }

  void async_receive(Received done) override {
    if (buffer_.empty()) buffer_.resize(16 * 1024);
    ws_.async_read_some(
        asio::buffer(buffer_),
        [this, self = shared_from_this(), done = std::move(done)](error_code ec, std::size_t n) {
          done(ec, mqtt::ByteView(buffer_.data(), ec ? 0 : n));
        });
  }

  void async_write(asio::const_buffer b, Transferred done) override {
    ws_.async_write(b, [self = shared_from_this(), done = std::move(done)](
                           error_code ec, std::size_t n) { done(ec, n); });
  }

  void close() override {
    error_code ignored;
    resolver_.cancel();
    auto& socket = beast::get_lowest_layer(ws_);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

 private:
  // TLS, when below: SNI and the certificate checks, then the upgrade.
  void secure(const Server& server, const Done& done) {
    if constexpr (std::is_same_v<Next, tcp::socket>) {
      upgrade(server, done);
    } else {
      const std::string name = options_.server_name.empty() ? server.host : options_.server_name;
      SSL_ctrl(ws_.next_layer().native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
               TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str()));
      if (options_.verify_peer && options_.verify_host_name) {
        ws_.next_layer().set_verify_callback(ssl::host_name_verification(name));
      }
      ws_.next_layer().async_handshake(
          ssl::stream_base::client, [this, self = shared_from_this(), server, done](error_code e) {
            if (e && e.category() != asio::error::get_ssl_category()) {
              e = ssl::error::stream_truncated;  // hung up mid-handshake: not a TLS server?
            }
            if (e) return done(e);
            upgrade(server, done);
          });
    }
  }

  void upgrade(const Server& server, const Done& done) {
    ws_.binary(true);
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(beast::http::field::sec_websocket_protocol, "mqtt");
    }));
    const std::string host = server.host + ":" + std::to_string(server.port);
    ws_.async_handshake(
        response_, host, path_, [this, self = shared_from_this(), done](error_code e) {
          // The server must answer with "mqtt" [MQTT-6.0.0-4].
          if (!e && response_[beast::http::field::sec_websocket_protocol] != "mqtt") {
            e = websocket::error::upgrade_declined;
          }
          done(e);
        });
  }

  std::string path_;
  std::shared_ptr<ssl::context> context_;
  TlsOptions options_;
  tcp::resolver resolver_;
  websocket::stream<Next> ws_;
  websocket::response_type response_;
  mqtt::Bytes buffer_;
};

}  // namespace

std::shared_ptr<Transport> make_websocket_transport(const asio::any_io_executor& ex,
                                                    std::string path,
                                                    std::shared_ptr<ssl::context> tls,
                                                    const TlsOptions* options) {
  if (tls) {
    return std::make_shared<WebSocketTransport<ssl::stream<tcp::socket>>>(ex, std::move(path),
                                                                          std::move(tls), *options);
  }
  return std::make_shared<WebSocketTransport<tcp::socket>>(ex, std::move(path));
}

}  // namespace assay::client::detail
