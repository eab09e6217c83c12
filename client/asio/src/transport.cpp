#include "transport.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <stdexcept>
#include <string>

namespace assay::client::detail {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// Resolves and connects `socket`, trying each address in turn; `owner`
// keeps both alive until it is done.
void open_socket(std::shared_ptr<Transport> owner, tcp::resolver& resolver, tcp::socket& socket,
                 const Server& server, std::function<void(error_code)> done) {
  resolver.async_resolve(
      server.host, std::to_string(server.port),
      [owner, &socket, done = std::move(done)](error_code ec, tcp::resolver::results_type results) {
        if (ec) return done(ec);
        asio::async_connect(socket, results,
                            [owner, &socket, done](error_code e, const tcp::endpoint&) {
                              if (!e) socket.set_option(tcp::no_delay(true), e);
                              done(e);
                            });
      });
}

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(const asio::any_io_executor& ex) : resolver_(ex), socket_(ex) {}
  void async_open(const Server& server, Done done) override {
    open_socket(shared_from_this(), resolver_, socket_, server, std::move(done));
  }
  void async_receive(Received done) override {
    socket_.async_read_some(
        asio::buffer(buffer_),
        [this, self = shared_from_this(), done = std::move(done)](error_code ec, std::size_t n) {
          done(ec, mqtt::ByteView(buffer_.data(), ec ? 0 : n));
          // A read that filled the buffer: the connection is busy, read more at once.
          if (!ec && n == buffer_.size() && buffer_.size() < max_buffer) buffer_.resize(2 * n);
        });
  }
  void async_write(asio::const_buffer b, Transferred done) override {
    asio::async_write(socket_, b,
                      [self = shared_from_this(), done = std::move(done)](
                          error_code ec, std::size_t n) { done(ec, n); });
  }
  void close() override {
    error_code ignored;
    resolver_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  // Starts small (an idle connection holds little) and doubles while reads
  // fill it.
  static constexpr std::size_t max_buffer = 64 * 1024;
  tcp::resolver resolver_;
  tcp::socket socket_;
  mqtt::Bytes buffer_ = mqtt::Bytes(1024);
};

class TlsTransport final : public Transport {
 public:
  TlsTransport(const asio::any_io_executor& ex, std::shared_ptr<ssl::context> context,
               const TlsOptions& options)
      : context_(std::move(context)), options_(options), resolver_(ex), stream_(ex, *context_) {}

  void async_open(const Server& server, Done done) override {
    const std::string name = options_.server_name.empty() ? server.host : options_.server_name;
    // SNI, so a server with several names picks the right certificate
    // (SSL_set_tlsext_host_name is a macro with a C cast).
    SSL_ctrl(stream_.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(name.c_str()));
    if (options_.verify_peer && options_.verify_host_name) {
      stream_.set_verify_callback(ssl::host_name_verification(name));
    }
    auto self = shared_from_this();
    open_socket(self, resolver_, stream_.next_layer(), server, [this, self, done](error_code ec) {
      if (ec) return done(ec);
      stream_.async_handshake(ssl::stream_base::client, [self, done](error_code e) {
        // The server hung up during the handshake (not a TLS server?): a
        // TLS failure, not a lost connection.
        if (e && e.category() != asio::error::get_ssl_category()) e = ssl::error::stream_truncated;
        done(e);
      });
    });
  }
  void async_receive(Received done) override {
    // OpenSSL may hold decrypted bytes the socket no longer shows: read
    // through the stream, into a buffer of this connection's.
    if (buffer_.empty()) buffer_.resize(16 * 1024);  // a TLS record
    stream_.async_read_some(
        asio::buffer(buffer_),
        [this, self = shared_from_this(), done = std::move(done)](error_code ec, std::size_t n) {
          done(ec, mqtt::ByteView(buffer_.data(), ec ? 0 : n));
        });
  }
  void async_write(asio::const_buffer b, Transferred done) override {
    asio::async_write(stream_, b,
                      [self = shared_from_this(), done = std::move(done)](
                          error_code ec, std::size_t n) { done(ec, n); });
  }
  void close() override {
    error_code ignored;
    resolver_.cancel();
    stream_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.next_layer().close(ignored);
  }

 private:
  std::shared_ptr<ssl::context> context_;
  TlsOptions options_;
  tcp::resolver resolver_;
  ssl::stream<tcp::socket> stream_;
  mqtt::Bytes buffer_;
};

std::string ssl_error_text(const boost::system::system_error& e) {
  std::string text = e.code().message();
  if (const unsigned long err = ERR_get_error(); err != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof buf);
    text = buf;
  }
  return text;
}

}  // namespace

std::shared_ptr<ssl::context> make_tls_context(const TlsOptions& o) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ssl::context::options opts = ssl::context::default_workarounds | ssl::context::no_sslv2 |
                               ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                               ssl::context::no_tlsv1_1;
  if (o.version == "tlsv1.3") {
    opts |= ssl::context::no_tlsv1_2;
  } else if (o.version != "tlsv1.2") {
    throw std::invalid_argument("TLS version '" + o.version + "' is not tlsv1.2 or tlsv1.3");
  }
  ctx->set_options(opts);
  auto load = [&](const char* what, const std::string& file, auto&& action) {
    try {
      action();
    } catch (const boost::system::system_error& e) {
      throw std::invalid_argument(std::string(what) + " '" + file + "': " + ssl_error_text(e));
    }
  };
  if (!o.ca_file.empty())
    load("cannot use CA file", o.ca_file, [&] { ctx->load_verify_file(o.ca_file); });
  if (!o.ca_path.empty())
    load("cannot use CA path", o.ca_path, [&] { ctx->add_verify_path(o.ca_path); });
  if (o.ca_file.empty() && o.ca_path.empty()) {
    load("cannot use the system trust store", "", [&] { ctx->set_default_verify_paths(); });
  }
  if (o.cert_file.empty() != o.key_file.empty()) {
    throw std::invalid_argument("a client certificate needs its key, and a key its certificate");
  }
  if (!o.cert_file.empty()) {
    load("cannot use certificate", o.cert_file,
         [&] { ctx->use_certificate_chain_file(o.cert_file); });
    load("cannot use key", o.key_file,
         [&] { ctx->use_private_key_file(o.key_file, ssl::context::pem); });
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      throw std::invalid_argument("key '" + o.key_file + "' does not match certificate '" +
                                  o.cert_file + "'");
    }
  }
  ctx->set_verify_mode(o.verify_peer ? ssl::verify_peer : ssl::verify_none);
  if (!o.alpn.empty()) {
    std::string wire;
    for (const std::string& p : o.alpn) {
      if (p.empty() || p.size() > 255) throw std::invalid_argument("ALPN protocol '" + p + "'");
      wire.push_back(static_cast<char>(p.size()));
      wire += p;
    }
    SSL_CTX_set_alpn_protos(ctx->native_handle(),
                            reinterpret_cast<const unsigned char*>(wire.data()),  // NOLINT
                            static_cast<unsigned>(wire.size()));
  }
  return ctx;
}

std::shared_ptr<Transport> make_tcp_transport(const asio::any_io_executor& ex) {
  return std::make_shared<TcpTransport>(ex);
}

std::shared_ptr<Transport> make_tls_transport(const asio::any_io_executor& ex,
                                              std::shared_ptr<ssl::context> context,
                                              const TlsOptions& options) {
  return std::make_shared<TlsTransport>(ex, std::move(context), options);
}

}  // namespace assay::client::detail
