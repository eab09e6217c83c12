// Beast's HTTP parser inlined here at -O2 with the sanitizers makes GCC 12
// warn that a boost::optional it returns empty "may be used uninitialized"
// (a false positive inside Boost's headers): off for this file only.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "tcp_network.hpp"

#include <utility>  // before Asio: Boost 1.74 uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <variant>

namespace assay::conformance {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct TcpNetwork::Impl {
  TcpOptions options;
  asio::io_context io;
  std::optional<asio::ssl::context> tls;
  std::chrono::steady_clock::time_point origin = std::chrono::steady_clock::now();
  std::uint64_t news = 0;
  tcp::resolver::results_type endpoints;
};

namespace {

using TlsStream = asio::ssl::stream<tcp::socket>;
// A WebSocket stream sends each write as one binary message
// [MQTT-6.0.0-1]; a read gives whatever message data has come, so MQTT
// packets may span messages [MQTT-6.0.0-2].
using Ws = websocket::stream<tcp::socket>;
using Wss = websocket::stream<TlsStream>;
using Stream = std::variant<tcp::socket, TlsStream, Ws, Wss>;

class TcpLink : public Link, public std::enable_shared_from_this<TcpLink> {
 public:
  TcpLink(TcpNetwork::Impl& net, Stream stream) : net_(net), stream_(std::move(stream)) {}

  void start() { read_more(); }

  void write(mqtt::ByteView bytes) override { send(bytes, false); }
  bool write_text_message(mqtt::ByteView bytes) override {
    if (!std::holds_alternative<Ws>(stream_) && !std::holds_alternative<Wss>(stream_)) return false;
    send(bytes, true);
    return true;
  }
  bool read(mqtt::Bytes& out) override {
    if (inbox_.empty()) return false;
    out.insert(out.end(), inbox_.begin(), inbox_.end());
    inbox_.clear();
    return true;
  }
  bool peer_closed() const override { return closed_ && inbox_.empty(); }
  void close() override {
    if (shut_) return;
    shut_ = true;
    boost::system::error_code ec;
    tcp::socket& s = socket();
    s.shutdown(tcp::socket::shutdown_both, ec);
    s.close(ec);
  }

 private:
  // Bytes to the broker: over WebSocket one message, binary unless `text`.
  void send(mqtt::ByteView bytes, bool text) {
    if (closed_ || shut_) return;
    boost::system::error_code ec;
    const auto buffer = asio::buffer(bytes.data(), bytes.size());
    std::visit(
        [&](auto& s) {
          using S = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<S, Ws> || std::is_same_v<S, Wss>) {
            s.text(text);
            s.write(buffer, ec);
          } else {
            asio::write(s, buffer, ec);
          }
        },
        stream_);
    // A failed write means the broker closed or reset the connection; the
    // pending read reports it.
  }
  tcp::socket& socket() {
    return std::visit([](auto& s) -> tcp::socket& { return beast::get_lowest_layer(s); }, stream_);
  }
  void read_more() {
    auto self = shared_from_this();
    auto handler = [self](boost::system::error_code ec, std::size_t n) {
      ++self->net_.news;
      self->inbox_.insert(self->inbox_.end(), self->buffer_.begin(),
                          self->buffer_.begin() + static_cast<long>(n));
      if (ec) {
        self->closed_ = true;
        return;
      }
      self->read_more();
    };
    std::visit([&](auto& s) { s.async_read_some(asio::buffer(buffer_), handler); }, stream_);
  }

  TcpNetwork::Impl& net_;
  Stream stream_;
  std::array<std::uint8_t, 16384> buffer_{};
  mqtt::Bytes inbox_;
  bool closed_ = false;
  bool shut_ = false;
};

// Keeps the shared TcpLink alive while Asio holds handlers for it.
class LinkHandle : public Link {
 public:
  explicit LinkHandle(std::shared_ptr<TcpLink> link) : link_(std::move(link)) {}
  ~LinkHandle() override { link_->close(); }
  void write(mqtt::ByteView bytes) override { link_->write(bytes); }
  bool write_text_message(mqtt::ByteView bytes) override {
    return link_->write_text_message(bytes);
  }
  bool read(mqtt::Bytes& out) override { return link_->read(out); }
  bool peer_closed() const override { return link_->peer_closed(); }
  void close() override { link_->close(); }

 private:
  std::shared_ptr<TcpLink> link_;
};

}  // namespace

TcpNetwork::TcpNetwork(TcpOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  impl_->endpoints = resolver.resolve(impl_->options.host, std::to_string(impl_->options.port), ec);
  if (ec) throw NetworkError("cannot resolve " + impl_->options.host + ": " + ec.message());
  if (impl_->options.tls) {
    impl_->tls.emplace(asio::ssl::context::tls_client);
    if (impl_->options.insecure) {
      impl_->tls->set_verify_mode(asio::ssl::verify_none);
    } else {
      impl_->tls->set_verify_mode(asio::ssl::verify_peer);
      if (impl_->options.cafile) {
        impl_->tls->load_verify_file(*impl_->options.cafile, ec);
        if (ec) throw NetworkError("cannot read " + *impl_->options.cafile + ": " + ec.message());
      } else {
        impl_->tls->set_default_verify_paths();
      }
    }
  }
}

TcpNetwork::~TcpNetwork() = default;

namespace {

// Runs one step of a connection's setup (`start(handler)` starts it) with
// the connect timeout. Other links' reads stay pending meanwhile, so it
// runs handlers until this one has run; past the deadline it closes
// `socket`, which cancels the step, and lets the handler run while `ec` is
// still alive.
template <class Start>
boost::system::error_code run_step(TcpNetwork::Impl& n, tcp::socket& socket,
                                   std::chrono::steady_clock::time_point deadline, Start start) {
  boost::system::error_code ec = asio::error::timed_out;
  bool done = false;
  start([&](boost::system::error_code e, auto&&...) {
    ec = e;
    done = true;
  });
  while (!done && std::chrono::steady_clock::now() < deadline) {
    n.io.restart();
    n.io.run_one_until(deadline);
  }
  if (!done) {
    boost::system::error_code ignored;
    socket.close(ignored);
    n.io.restart();
    n.io.poll();
    return asio::error::timed_out;
  }
  return ec;
}

// The WebSocket upgrade: subprotocol "mqtt" offered [MQTT-6.0.0-3] and
// required in the answer [MQTT-6.0.0-4].
template <class Next>
websocket::stream<Next> upgrade(TcpNetwork::Impl& n, Next next, const std::string& where,
                                std::chrono::steady_clock::time_point deadline) {
  websocket::stream<Next> ws(std::move(next));
  ws.binary(true);
  ws.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
    req.set(beast::http::field::sec_websocket_protocol, "mqtt");
  }));
  websocket::response_type response;
  const std::string host = n.options.host.find(':') != std::string::npos
                               ? "[" + n.options.host + "]:" + std::to_string(n.options.port)
                               : n.options.host + ":" + std::to_string(n.options.port);
  const auto ec = run_step(n, beast::get_lowest_layer(ws), deadline, [&](auto handler) {
    ws.async_handshake(response, host, *n.options.websocket_path, handler);
  });
  if (ec == websocket::error::upgrade_declined) {
    throw NetworkError("WebSocket upgrade with " + where + " declined: HTTP " +
                       std::to_string(response.result_int()) + " " +
                       std::string(response.reason()));
  }
  if (ec == beast::http::error::end_of_stream) {
    throw NetworkError("WebSocket upgrade with " + where +
                       " failed: it closed the connection without an HTTP answer (a plain MQTT "
                       "listener?)");
  }
  if (ec) throw NetworkError("WebSocket upgrade with " + where + " failed: " + ec.message());
  if (response[beast::http::field::sec_websocket_protocol] != "mqtt") {
    throw NetworkError(where + " accepted the WebSocket upgrade without the subprotocol mqtt");
  }
  return ws;
}

}  // namespace

std::unique_ptr<Link> TcpNetwork::connect() {
  Impl& n = *impl_;
  const std::string where = describe();
  const auto deadline = std::chrono::steady_clock::now() + n.options.connect_timeout;
  tcp::socket socket(n.io);
  boost::system::error_code ec = run_step(n, socket, deadline, [&](auto handler) {
    asio::async_connect(socket, n.endpoints, handler);
  });
  if (ec) throw NetworkError("cannot connect to " + where + ": " + ec.message());
  socket.set_option(tcp::no_delay(true), ec);
  const bool ws = n.options.websocket_path.has_value();
  std::shared_ptr<TcpLink> link;
  if (n.tls) {
    TlsStream stream(std::move(socket), *n.tls);
    if (!n.options.insecure) {
      // SNI; SSL_set_tlsext_host_name is a macro with a C cast.
      SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(n.options.host.c_str()));
      stream.set_verify_callback(asio::ssl::host_name_verification(n.options.host));
    }
    ec = run_step(n, stream.next_layer(), deadline, [&](auto handler) {
      stream.async_handshake(asio::ssl::stream_base::client, handler);
    });
    if (ec) throw NetworkError("TLS handshake with " + where + " failed: " + ec.message());
    if (ws) {
      link = std::make_shared<TcpLink>(n, upgrade(n, std::move(stream), where, deadline));
    } else {
      link = std::make_shared<TcpLink>(n, std::move(stream));
    }
  } else if (ws) {
    link = std::make_shared<TcpLink>(n, upgrade(n, std::move(socket), where, deadline));
  } else {
    link = std::make_shared<TcpLink>(n, std::move(socket));
  }
  link->start();
  return std::make_unique<LinkHandle>(std::move(link));
}

Time TcpNetwork::now() {
  return std::chrono::duration_cast<Time>(std::chrono::steady_clock::now() - impl_->origin);
}

void TcpNetwork::wait(Time until) {
  const std::uint64_t seen = impl_->news;
  while (impl_->news == seen) {
    const Time left = until - now();
    if (left <= Time{0}) return;
    impl_->io.restart();
    impl_->io.run_one_for(left);
  }
  // Take whatever else is ready too.
  impl_->io.poll();
}

std::string TcpNetwork::describe() const {
  const std::string& h = impl_->options.host;
  const bool v6 = h.find(':') != std::string::npos;
  const auto& path = impl_->options.websocket_path;
  const char* scheme =
      path ? (impl_->options.tls ? "wss " : "ws ") : (impl_->options.tls ? "tls " : "tcp ");
  return scheme + (v6 ? "[" + h + "]" : h) + ":" + std::to_string(impl_->options.port) +
         (path ? *path : std::string());
}

}  // namespace assay::conformance
