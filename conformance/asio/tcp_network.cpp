#include "tcp_network.hpp"

#include <utility>  // before Asio: Boost 1.74 uses std::exchange unincluded

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <variant>

namespace assay::conformance {

namespace asio = boost::asio;
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

class TcpLink : public Link, public std::enable_shared_from_this<TcpLink> {
 public:
  TcpLink(TcpNetwork::Impl& net, std::variant<tcp::socket, TlsStream> stream)
      : net_(net), stream_(std::move(stream)) {}

  void start() { read_more(); }

  void write(mqtt::ByteView bytes) override {
    if (closed_ || shut_) return;
    boost::system::error_code ec;
    std::visit([&](auto& s) { asio::write(s, asio::buffer(bytes.data(), bytes.size()), ec); },
               stream_);
    // A failed write means the broker closed or reset the connection; the
    // pending read reports it.
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
  tcp::socket& socket() {
    if (auto* t = std::get_if<TlsStream>(&stream_)) return t->next_layer();
    return std::get<tcp::socket>(stream_);
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
  std::variant<tcp::socket, TlsStream> stream_;
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

std::unique_ptr<Link> TcpNetwork::connect() {
  Impl& n = *impl_;
  tcp::socket socket(n.io);
  boost::system::error_code ec = asio::error::timed_out;
  bool done = false;
  asio::async_connect(socket, n.endpoints, [&](boost::system::error_code e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  // Other links' reads stay pending: run handlers until this one has run.
  const auto deadline = std::chrono::steady_clock::now() + n.options.connect_timeout;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    n.io.restart();
    n.io.run_one_until(deadline);
  }
  if (!done) {
    socket.close();
    n.io.restart();
    n.io.poll();  // let the cancelled connect's handler run while `ec` is alive
  }
  if (ec) {
    throw NetworkError("cannot connect to " + describe() + ": " + ec.message());
  }
  socket.set_option(tcp::no_delay(true), ec);
  std::shared_ptr<TcpLink> link;
  if (n.tls) {
    TlsStream stream(std::move(socket), *n.tls);
    if (!n.options.insecure) {
      // SNI; SSL_set_tlsext_host_name is a macro with a C cast.
      SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(n.options.host.c_str()));
      stream.set_verify_callback(asio::ssl::host_name_verification(n.options.host));
    }
    stream.handshake(asio::ssl::stream_base::client, ec);
    if (ec) throw NetworkError("TLS handshake with " + describe() + " failed: " + ec.message());
    link = std::make_shared<TcpLink>(n, std::move(stream));
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
  return std::string(impl_->options.tls ? "tls " : "tcp ") + (v6 ? "[" + h + "]" : h) + ":" +
         std::to_string(impl_->options.port);
}

}  // namespace assay::conformance
