#include "server.hpp"

#include "shared_mutex_lock.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
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

class Broker;

// One engine on one thread with its own io_context: the connections it
// serves, their sockets, and its timer. Everything in a Shard runs on its
// thread; other threads reach it only through asio::post.
class Shard {
 public:
  Shard(Broker& broker, std::size_t index, EngineConfig config, Sharding sharding);

  asio::io_context& io() { return io_; }
  std::size_t index() const { return index_; }
  Broker& broker() { return broker_; }
  // A connection accepted for this shard (posted here by the acceptor).
  void open(tcp::socket socket);
  // A connection another shard handed over with its CONNECT.
  void adopt(tcp::socket socket, Engine::Handoff handoff);
  void deliver(std::vector<Engine::Forward> forwards);
  void stop();
  void start_stats_timer();

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

  void add_peer(tcp::socket socket, ConnectionId id);
  void drain(ConnectionId id);
  void read(const std::shared_ptr<Peer>& peer);
  void after_input();
  void flush();
  void write(const std::shared_ptr<Peer>& peer);
  void close(Peer& peer);
  void arm_timer();

  Broker& broker_;
  std::size_t index_;
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  Engine engine_;
  std::array<std::uint8_t, 64 * 1024> read_buffer_{};  // shared by this shard's connections
  asio::steady_timer timer_;
  asio::steady_timer stats_timer_;
  std::unordered_map<ConnectionId, std::shared_ptr<Peer>> peers_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<Peer>> to_flush_;  // peers with output this turn
  bool flush_posted_ = false;
};

// The whole broker: listeners and signals on shard 0's thread, one Shard
// per thread, the routing state they share, and the broker-wide limits.
class Broker {
 public:
  explicit Broker(const ServerOptions& options)
      : options_(options), start_(std::chrono::steady_clock::now()) {
    std::size_t threads = options.threads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    stats_.resize(threads);
    const auto routing = make_routing();
    for (std::size_t i = 0; i < threads; ++i) {
      Sharding sharding;
      sharding.index = i;
      sharding.count = threads;
      sharding.routing = routing;
      EngineConfig config = options.engine;
      config.drain_before_takeover = true;  // see Shard::drain
      if (threads > 1) {
        sharding.lock = &lock_;
        // The engines count connections; the broker-wide limit is ours.
        config.max_connections = std::numeric_limits<std::size_t>::max();
        if (i == 0) {
          sharding.aggregate = [this](const EngineStats& own) { return aggregate(own); };
        } else {
          config.sys_interval = mqtt::Duration{0};  // shard 0 publishes $SYS for all
        }
      }
      shards_.push_back(std::make_unique<Shard>(*this, i, std::move(config), std::move(sharding)));
    }
  }

  const ServerOptions& options() const { return options_; }
  std::size_t shard_count() const { return shards_.size(); }
  Shard& shard(std::size_t i) { return *shards_[i]; }

  mqtt::Time now() const {
    return std::chrono::duration_cast<mqtt::Time>(std::chrono::steady_clock::now() - start_);
  }
  std::chrono::steady_clock::time_point start() const { return start_; }

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
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::fprintf(stderr, "%s %-7s %s\n", stamp, level_name(level), text);
  }

  // The broker-wide connection limit, across shards.
  bool admit() {
    if (connections_.fetch_add(1) < options_.engine.max_connections) return true;
    connections_.fetch_sub(1);
    return false;
  }
  void release() { connections_.fetch_sub(1); }

  void publish_stats(std::size_t shard, const EngineStats& s) {
    const std::lock_guard<std::mutex> guard(stats_mutex_);
    stats_[shard] = s;
  }

  bool listen();
  void run();

 private:
  void accept(tcp::acceptor& acceptor);
  void stop();
  EngineStats aggregate(const EngineStats& own);

  const ServerOptions& options_;
  std::chrono::steady_clock::time_point start_;
  SharedMutexLock lock_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::unique_ptr<asio::signal_set> signals_;
  std::size_t next_shard_ = 0;  // accepted connections go round the shards
  std::atomic<std::size_t> connections_{0};
  std::mutex stats_mutex_;
  std::vector<EngineStats> stats_;  // each shard's, refreshed every sys_interval
};

// ---- Broker -------------------------------------------------------------------

bool Broker::listen() {
  asio::io_context& io = shards_[0]->io();
  for (const auto& l : options_.listeners) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(l.address, ec);
    if (ec) {
      log(LogLevel::error, "listener %s:%u: bad address: %s", l.address.c_str(), l.port,
          ec.message().c_str());
      return false;
    }
    auto acceptor = std::make_unique<tcp::acceptor>(io);
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
    log(LogLevel::info, "listening on %s:%u", l.address.c_str(), acceptor->local_endpoint().port());
    accept(*acceptor);
    acceptors_.push_back(std::move(acceptor));
  }
  log(LogLevel::info, "%zu thread%s", shards_.size(), shards_.size() == 1 ? "" : "s");
  signals_ = std::make_unique<asio::signal_set>(io, SIGINT, SIGTERM);
  signals_->async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log(LogLevel::info, "signal %d: shutting down", signal);
    stop();
  });
  return true;
}

void Broker::accept(tcp::acceptor& acceptor) {
  // The socket is made on the executor of the shard that will serve it.
  Shard& target = *shards_[next_shard_];
  acceptor.async_accept(target.io(), [this, &acceptor, &target](const boost::system::error_code& ec,
                                                                tcp::socket s) {
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        log(LogLevel::warning, "accept: %s", ec.message().c_str());
        accept(acceptor);
      }
      return;
    }
    if (!admit()) {
      log(LogLevel::warning, "connection limit reached: refusing a connection");
      boost::system::error_code ignored;
      s.close(ignored);
    } else {
      next_shard_ = (next_shard_ + 1) % shards_.size();
      asio::post(target.io(), [&target, s = std::move(s)]() mutable { target.open(std::move(s)); });
    }
    accept(acceptor);
  });
}

void Broker::stop() {
  for (auto& a : acceptors_) {
    boost::system::error_code ignored;
    a->close(ignored);
  }
  for (auto& shard : shards_) {
    Shard* s = shard.get();
    asio::post(s->io(), [s] { s->stop(); });
  }
}

void Broker::run() {
  for (std::size_t i = 1; i < shards_.size(); ++i)
    shards_[i]->start_stats_timer();
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < shards_.size(); ++i) {
    threads.emplace_back([s = shards_[i].get()] { s->io().run(); });
  }
  shards_[0]->io().run();
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

// ---- Shard --------------------------------------------------------------------

Shard::Shard(Broker& broker, std::size_t index, EngineConfig config, Sharding sharding)
    : broker_(broker),
      index_(index),
      work_(io_.get_executor()),
      engine_(std::move(config), broker.now(), std::move(sharding)),
      timer_(io_),
      stats_timer_(io_) {}

// The other shards' statistics for shard 0's $SYS messages.
void Shard::start_stats_timer() {
  const auto interval = broker_.options().engine.sys_interval;
  if (interval <= mqtt::Duration{0}) return;
  broker_.publish_stats(index_, engine_.stats());
  stats_timer_.expires_after(interval);
  stats_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) start_stats_timer();
  });
}

void Shard::open(tcp::socket socket) {
  const auto id = engine_.open(broker_.now());
  if (!id) {
    broker_.log(LogLevel::warning, "connection limit reached: refusing a connection");
    boost::system::error_code ignored;
    socket.close(ignored);
    broker_.release();
    return;
  }
  add_peer(std::move(socket), *id);
  after_input();
}

void Shard::adopt(tcp::socket socket, Engine::Handoff handoff) {
  const ConnectionId id = engine_.adopt(std::move(handoff), broker_.now());
  add_peer(std::move(socket), id);
  after_input();
}

// A client that ended its last connection (DISCONNECT, then close) just
// before opening a new one: the old connection's last bytes may still wait in
// its socket when the new CONNECT is read (sooner still when it came through
// another thread). The engine parks the CONNECT; they are read now, so the
// new connection never takes over a session its client already ended.
void Shard::drain(ConnectionId id) {
  const auto it = peers_.find(id);
  if (it == peers_.end()) return;
  const std::shared_ptr<Peer> peer = it->second;
  while (!peer->closed) {
    boost::system::error_code ec;
    const std::size_t n = peer->socket.read_some(asio::buffer(read_buffer_), ec);
    if (ec == asio::error::would_block) return;
    if (ec) {
      close(*peer);  // the end of the stream (or an error): transport closed
      return;
    }
    engine_.receive(peer->id, mqtt::ByteView(read_buffer_.data(), n), broker_.now());
  }
}

void Shard::add_peer(tcp::socket socket, ConnectionId id) {
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  socket.non_blocking(true, ignored);
  auto peer = std::make_shared<Peer>(std::move(socket));
  peer->id = id;
  peers_[id] = peer;
  broker_.log(LogLevel::debug, "connection %llu opened on thread %zu",
              static_cast<unsigned long long>(id), index_);
  read(peer);
}

void Shard::deliver(std::vector<Engine::Forward> forwards) {
  const mqtt::Time now = broker_.now();
  for (auto& f : forwards)
    engine_.deliver_forwarded(std::move(f), now);
  after_input();
}

// Reactive reads: wait until the socket is readable, then read into the one
// buffer the shard shares, so an idle connection holds no read buffer.
void Shard::read(const std::shared_ptr<Peer>& peer) {
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
        engine_.receive(peer->id, mqtt::ByteView(read_buffer_.data(), n), broker_.now());
        after_input();
        if (!peer->closed) read(peer);
      });
}

// After every input: collect the engine's output per connection, hand
// connections and messages to other shards, then re-arm the timer. The
// writes wait for a handler posted behind the ones already ready, so the
// output of every read in this turn of the event loop goes out in one write
// per connection.
void Shard::after_input() {
  while (auto d = engine_.poll_drain()) {
    drain(d->holder);
    engine_.resume(d->waiting, broker_.now());
  }
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
  if (broker_.shard_count() > 1) {
    // One post per shard for all messages of this input, in routing order.
    std::vector<std::vector<Engine::Forward>> batches(broker_.shard_count());
    while (auto f = engine_.poll_forward())
      batches[f->shard].push_back(std::move(*f));
    for (std::size_t i = 0; i < batches.size(); ++i) {
      if (batches[i].empty()) continue;
      Shard* target = &broker_.shard(i);
      asio::post(target->io(), [target, batch = std::move(batches[i])]() mutable {
        target->deliver(std::move(batch));
      });
    }
    while (auto h = engine_.poll_handoff()) {
      const auto it = peers_.find(h->id);
      if (it == peers_.end()) continue;
      const std::shared_ptr<Peer> peer = it->second;
      peers_.erase(it);
      peer->closed = true;  // here; its pending read completes as aborted
      boost::system::error_code ec;
      const tcp protocol = peer->socket.local_endpoint(ec).protocol();
      const int fd = ec ? -1 : peer->socket.release(ec);
      if (ec) {
        broker_.log(LogLevel::warning, "handing a connection over: %s", ec.message().c_str());
        broker_.release();
        continue;
      }
      Shard* target = &broker_.shard(h->shard);
      asio::post(target->io(), [target, protocol, fd, handoff = std::move(*h)]() mutable {
        boost::system::error_code error;
        tcp::socket socket(target->io());
        socket.assign(protocol, fd, error);
        if (error) {
          ::close(fd);
          target->broker().release();
          return;
        }
        target->adopt(std::move(socket), std::move(handoff));
      });
    }
  }
  if (!to_flush_.empty() && !flush_posted_) {
    flush_posted_ = true;
    asio::post(io_, [this] { flush(); });
  }
  arm_timer();
}

void Shard::flush() {
  flush_posted_ = false;
  std::vector<std::shared_ptr<Peer>> peers;
  peers.swap(to_flush_);
  for (auto& peer : peers) {
    peer->flush_queued = false;
    write(peer);
  }
}

void Shard::write(const std::shared_ptr<Peer>& peer) {
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

void Shard::close(Peer& peer) {
  if (peer.closed) return;
  peer.closed = true;
  boost::system::error_code ignored;
  peer.socket.shutdown(tcp::socket::shutdown_both, ignored);
  peer.socket.close(ignored);
  const ConnectionId id = peer.id;
  broker_.log(LogLevel::debug, "connection %llu closed on thread %zu",
              static_cast<unsigned long long>(id), index_);
  broker_.release();
  engine_.transport_closed(id, broker_.now());
  peers_.erase(id);
  after_input();
  if (stopping_ && peers_.empty()) io_.stop();
}

void Shard::arm_timer() {
  const auto deadline = engine_.next_deadline();
  if (!deadline) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(broker_.start() + *deadline);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    engine_.handle_timeout(broker_.now());
    after_input();
  });
}

void Shard::stop() {
  stopping_ = true;
  work_.reset();
  stats_timer_.cancel();
  engine_.shutdown(broker_.now());
  after_input();
  if (peers_.empty()) {
    io_.stop();
    return;
  }
  // Give the last DISCONNECTs a moment to leave, then stop regardless.
  auto grace = std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(2));
  grace->async_wait([this, grace](const boost::system::error_code&) { io_.stop(); });
}

}  // namespace

int run_server(const ServerOptions& options) {
  Broker broker(options);
  if (!broker.listen()) return 1;
  broker.run();
  return 0;
}

}  // namespace assay::broker
