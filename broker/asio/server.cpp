#include "server.hpp"

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <unordered_map>
#include <vector>

namespace assay::broker {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::error:
      return "error";
    case LogLevel::warning:
      return "warning";
    case LogLevel::info:
      return "info";
    case LogLevel::debug:
      return "debug";
  }
  return "?";
}

class Server {
 public:
  Server(asio::io_context& io, const ServerOptions& options)
      : io_(io),
        options_(options),
        start_(std::chrono::steady_clock::now()),
        engine_(options.engine, now()),
        timer_(io),
        signals_(io, SIGINT, SIGTERM) {}

  bool listen() {
    for (const auto& l : options_.listeners) {
      boost::system::error_code ec;
      const auto address = asio::ip::make_address(l.address, ec);
      if (ec) {
        log(LogLevel::error, "listener %s:%u: bad address: %s", l.address.c_str(), l.port,
            ec.message().c_str());
        return false;
      }
      auto acceptor = std::make_unique<tcp::acceptor>(io_);
      const tcp::endpoint endpoint(address, l.port);
      acceptor->open(endpoint.protocol(), ec);
      if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) acceptor->bind(endpoint, ec);
      if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) {
        log(LogLevel::error, "cannot listen on %s:%u: %s", l.address.c_str(), l.port,
            ec == asio::error::address_in_use ? "the port is in use" : ec.message().c_str());
        return false;
      }
      log(LogLevel::info, "listening on %s:%u", l.address.c_str(),
          acceptor->local_endpoint().port());
      accept(*acceptor);
      acceptors_.push_back(std::move(acceptor));
    }
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      log(LogLevel::info, "signal %d: shutting down", signal);
      stop();
    });
    return true;
  }

 private:
  struct Peer {
    explicit Peer(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    ConnectionId id = 0;
    mqtt::Bytes pending;  // coalesced output of this event-loop turn
    mqtt::Bytes writing;
    bool write_in_progress = false;
    bool flush_queued = false;  // in to_flush_
    bool close_after = false;
    bool closed = false;
  };

  mqtt::Time now() const {
    return std::chrono::duration_cast<mqtt::Time>(std::chrono::steady_clock::now() - start_);
  }

  template <class... Args>
  void log(LogLevel level, const char* format, Args... args) const {
    if (level > options_.log_level) return;
    char text[512];
    if constexpr (sizeof...(Args) == 0) {
      std::snprintf(text, sizeof text, "%s", format);
    } else {
      std::snprintf(text, sizeof text, format, args...);
    }
    const std::time_t t = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    std::fprintf(stderr, "%s %-7s %s\n", stamp, level_name(level), text);
  }

  void accept(tcp::acceptor& acceptor) {
    acceptor.async_accept([this, &acceptor](const boost::system::error_code& ec, tcp::socket s) {
      if (ec) {
        if (ec != asio::error::operation_aborted) {
          log(LogLevel::warning, "accept: %s", ec.message().c_str());
          accept(acceptor);
        }
        return;
      }
      const auto id = engine_.open(now());
      if (!id) {
        log(LogLevel::warning, "connection limit reached: refusing a connection");
        boost::system::error_code ignored;
        s.close(ignored);
      } else {
        boost::system::error_code ignored;
        s.set_option(tcp::no_delay(true), ignored);
        s.non_blocking(true, ignored);
        auto peer = std::make_shared<Peer>(std::move(s));
        peer->id = *id;
        peers_[*id] = peer;
        log(LogLevel::debug, "connection %llu opened", static_cast<unsigned long long>(*id));
        read(peer);
        after_input();
      }
      accept(acceptor);
    });
  }

  // Reactive reads: wait until the socket is readable, then read into the
  // one buffer the server shares (it is single-threaded), so an idle
  // connection holds no read buffer of its own.
  void read(const std::shared_ptr<Peer>& peer) {
    peer->socket.async_wait(
        tcp::socket::wait_read, [this, peer](const boost::system::error_code& ec) {
          if (peer->closed) return;
          if (ec) {
            close(*peer);
            return;
          }
          boost::system::error_code read_ec;
          const std::size_t n = peer->socket.read_some(asio::buffer(read_buffer_), read_ec);
          if (read_ec == asio::error::would_block) {
            read(peer);
            return;
          }
          if (read_ec) {
            close(*peer);
            return;
          }
          engine_.receive(peer->id, mqtt::ByteView(read_buffer_.data(), n), now());
          after_input();
          if (!peer->closed) read(peer);
        });
  }

  // After every input: collect the engine's output per connection, then
  // re-arm the timer. The writes wait for a handler posted behind the ones
  // already ready, so the output of every read in this turn of the event
  // loop goes out in one write per connection.
  void after_input() {
    while (auto out = engine_.poll_output()) {
      const auto it = peers_.find(out->id);
      if (it == peers_.end()) continue;
      Peer& peer = *it->second;
      peer.pending.insert(peer.pending.end(), out->bytes.begin(), out->bytes.end());
      peer.close_after = peer.close_after || out->close_after;
      if (!peer.flush_queued) {
        peer.flush_queued = true;
        to_flush_.push_back(it->second);
      }
    }
    if (!to_flush_.empty() && !flush_posted_) {
      flush_posted_ = true;
      asio::post(io_, [this] { flush(); });
    }
    arm_timer();
  }

  void flush() {
    flush_posted_ = false;
    std::vector<std::shared_ptr<Peer>> peers;
    peers.swap(to_flush_);
    for (auto& peer : peers) {
      peer->flush_queued = false;
      write(peer);
    }
  }

  void write(const std::shared_ptr<Peer>& peer) {
    if (peer->write_in_progress || peer->closed) return;
    if (peer->pending.empty()) {
      if (peer->close_after) close(*peer);
      return;
    }
    peer->writing.swap(peer->pending);
    peer->pending.clear();
    peer->write_in_progress = true;
    asio::async_write(peer->socket, asio::buffer(peer->writing),
                      [this, peer](const boost::system::error_code& ec, std::size_t) {
                        peer->write_in_progress = false;
                        peer->writing.clear();
                        if (ec) {
                          close(*peer);
                          return;
                        }
                        write(peer);
                      });
  }

  void close(Peer& peer) {
    if (peer.closed) return;
    peer.closed = true;
    boost::system::error_code ignored;
    peer.socket.shutdown(tcp::socket::shutdown_both, ignored);
    peer.socket.close(ignored);
    const ConnectionId id = peer.id;
    log(LogLevel::debug, "connection %llu closed", static_cast<unsigned long long>(id));
    engine_.transport_closed(id, now());
    peers_.erase(id);
    after_input();
    if (stopping_ && peers_.empty()) io_.stop();
  }

  void arm_timer() {
    const auto deadline = engine_.next_deadline();
    if (!deadline) {
      timer_.cancel();
      return;
    }
    timer_.expires_at(start_ + *deadline);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      engine_.handle_timeout(now());
      after_input();
    });
  }

  void stop() {
    stopping_ = true;
    for (auto& a : acceptors_) {
      boost::system::error_code ignored;
      a->close(ignored);
    }
    engine_.shutdown(now());
    after_input();
    if (peers_.empty()) {
      io_.stop();
      return;
    }
    // Give the last DISCONNECTs a moment to leave, then stop regardless.
    auto grace = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(2));
    grace->async_wait([this, grace](const boost::system::error_code&) { io_.stop(); });
  }

  asio::io_context& io_;
  const ServerOptions& options_;
  std::chrono::steady_clock::time_point start_;
  Engine engine_;
  std::array<std::uint8_t, 64 * 1024> read_buffer_{};  // shared by every connection
  asio::steady_timer timer_;
  asio::signal_set signals_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::unordered_map<ConnectionId, std::shared_ptr<Peer>> peers_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<Peer>> to_flush_;  // peers with output this turn
  bool flush_posted_ = false;
};

}  // namespace

int run_server(const ServerOptions& options) {
  asio::io_context io(1);
  Server server(io, options);
  if (!server.listen()) return 1;
  io.run();
  return 0;
}

}  // namespace assay::broker
