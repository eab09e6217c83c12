// The main thread's part of the front end: listeners, accepting and dealing
// connections to the shards, signals, and the shards' threads.
#include "front_end.hpp"

namespace assay::broker {
namespace front_end {
namespace {

// "address:port" of a peer, "[v6 address]:port" for IPv6; empty if the
// family is neither.
std::string peer_name(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&address);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (address.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&address);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return {};
}

}  // namespace

// ---- Broker -------------------------------------------------------------------

bool Broker::listen() {
  // Caught from the start: a signal that comes while the listeners open
  // waits in the set until run() and stops the broker then.
  signals_ = std::make_unique<asio::signal_set>(io_, SIGINT, SIGTERM);
  signals_->async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log(LogLevel::info, "signal %d: shutting down", signal);
    stop();
  });
  hangup_ = std::make_unique<asio::signal_set>(io_, SIGHUP);
  wait_for_hangup();
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
    if (!ec) acceptor->non_blocking(true, ec);
    if (ec) {
      log(LogLevel::error, "cannot listen on %s:%u: %s", l.address.c_str(), l.port,
          ec == asio::error::address_in_use ? "the port is in use" : ec.message().c_str());
      return false;
    }
    std::shared_ptr<ListenerSetup> setup;
    if (l.tls || l.websocket) setup = std::make_shared<ListenerSetup>();
    if (l.tls) {
      try {
        setup->tls = std::make_shared<const TlsContext>(*l.tls);
      } catch (const std::exception& e) {
        log(LogLevel::error, "listener %s:%u: TLS: %s", l.address.c_str(), l.port, e.what());
        return false;
      }
    }
    std::string kind;
    if (l.websocket) {
      setup->websocket_path = l.websocket->path;
      kind = std::string(" (WebSocket") + (l.tls ? " over TLS" : "") + ", path " +
             l.websocket->path + ")";
    } else if (l.tls) {
      kind = " (TLS)";
    }
    log(LogLevel::info, "listening on %s:%u%s", l.address.c_str(),
        acceptor->local_endpoint().port(), kind.c_str());
    accept(*acceptor, std::move(setup));
    acceptors_.push_back(std::move(acceptor));
  }
  log(LogLevel::info, "%zu thread%s", shards_.size(), shards_.size() == 1 ? "" : "s");
  return true;
}

// Accepts every pending connection when the listener is readable and deals
// them to the shards in turn. Out of file descriptors (or memory), it waits
// a moment instead of spinning on a listener that stays readable.
void Broker::accept(tcp::acceptor& acceptor, std::shared_ptr<const ListenerSetup> setup) {
  acceptor.async_wait(tcp::acceptor::wait_read, [this, &acceptor,
                                                 setup](const boost::system::error_code& ec) {
    if (ec) return;  // closed: shutting down
    for (;;) {
      sockaddr_storage address{};
      socklen_t length = sizeof address;
      const int fd = ::accept4(acceptor.native_handle(), reinterpret_cast<sockaddr*>(&address),
                               &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        log(LogLevel::warning, "accept: %s", std::strerror(errno));
        auto backoff = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
        backoff->async_wait([this, &acceptor, backoff, setup](const boost::system::error_code& e) {
          if (!e) accept(acceptor, setup);
        });
        return;
      }
      if (!admit()) {
        log(LogLevel::warning, "connection limit reached: refusing a connection");
        ::close(fd);
        continue;
      }
      Shard& target = *shards_[next_shard_];
      next_shard_ = (next_shard_ + 1) % shards_.size();
      target.post([&target, fd = PostedFd(fd), peer = peer_name(address), setup] {
        target.open(fd.take(), peer, setup);
      });
    }
    accept(acceptor, setup);
  });
}

void Broker::wait_for_hangup() {
  hangup_->async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    if (options_.on_hangup) {
      log(LogLevel::info, "SIGHUP: reading the password and ACL files again");
      options_.on_hangup();
    } else {
      log(LogLevel::info, "SIGHUP: nothing to reload (no password or ACL file)");
    }
    wait_for_hangup();
  });
}

void Broker::stop() {
  hangup_->cancel();
  for (auto& a : acceptors_) {
    boost::system::error_code ignored;
    a->close(ignored);
  }
  for (auto& shard : shards_) {
    Shard* s = shard.get();
    s->post([s] { s->stop(); });
  }
}

// The shards run on threads of their own; the main thread runs the
// listeners and signals until a signal has closed the listeners, then waits
// for the shards to finish.
void Broker::run() {
  // SIGINT, SIGTERM and SIGHUP go to the main thread, where the signal_set waits:
  // the shard threads start with them blocked.
  sigset_t stop_signals, previous;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
  std::vector<std::thread> threads;
  for (auto& shard : shards_) {
    Shard* s = shard.get();
    if (s->index() != 0) s->post([s] { s->start_stats_timer(); });
    threads.emplace_back([s] { s->run(); });
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  io_.run();
  for (auto& t : threads)
    t.join();
}

EngineStats Broker::aggregate(const EngineStats& own) {
  EngineStats total = own;  // subscriptions and retained are broker-wide already
  const std::lock_guard<std::mutex> guard(stats_mutex_);
  for (std::size_t i = 1; i < stats_.size(); ++i) {
    const EngineStats& s = stats_[i];
    total.connections += s.connections;
    total.sessions += s.sessions;
    total.clients_connected += s.clients_connected;
    total.messages_received += s.messages_received;
    total.messages_sent += s.messages_sent;
    total.messages_dropped += s.messages_dropped;
    total.bytes_received += s.bytes_received;
    total.bytes_sent += s.bytes_sent;
  }
  return total;
}

}  // namespace front_end

int run_server(const ServerOptions& options) {
  front_end::Broker broker(options);
  if (!broker.listen()) return 1;
  broker.run();
  return 0;
}

}  // namespace assay::broker
