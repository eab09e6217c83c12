// The broker's front end inside: Broker (listeners and signals on the main
// thread, broker.cpp) and Shard (one engine in an epoll loop on its own
// thread, shard.cpp). Internal to broker/asio/; run_server() in server.hpp
// is the interface.
#pragma once

#include "server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <limits>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "assay/broker/shared_mutex_lock.hpp"
#include "posted_fd.hpp"
#include "tls.hpp"
#include "websocket.hpp"

namespace assay::broker::front_end {

namespace asio = boost::asio;
using asio::ip::tcp;

// A message for at least this many of a thread's connections leaves for
// each as soon as its copy is made (Engine::set_write_through): with 100
// subscribers the last copy is made ~100 us after the first.
inline constexpr std::size_t write_through_copies = 8;

class Broker;

// How a listener's connections are carried above TCP: TLS, WebSocket, both
// (WebSocket over TLS) or neither (null: plain MQTT over TCP).
struct ListenerSetup {
  std::shared_ptr<const TlsContext> tls;
  std::optional<std::string> websocket_path;
};

// A connection's layers above TCP, bottom up: TLS, then WebSocket. They move
// with the socket when the connection is handed to another shard.
struct Layers {
  std::unique_ptr<TlsSession> tls;
  std::unique_ptr<WebSocketSession> ws;
};

// One engine on one thread, in an event loop of its own: the connections
// it serves, their sockets, and its timers. Everything in a Shard runs on
// its thread; other threads reach it only through post().
//
// The loop blocks in one epoll_wait() on the shard's own epoll set: its
// client sockets (level-triggered, one read per ready socket per turn,
// writes straight to the socket and EPOLLOUT only while one is blocked) and
// an eventfd that post() writes to. Its timeout is the engine's next
// deadline or the shard's next timer, whichever comes first. Asio's
// per-socket reactor state and operations cost an epoll_ctl() for every read
// and about 300 bytes per idle connection; waiting on this epoll set as one
// Asio descriptor cost a second epoll_wait() and an epoll_ctl() to re-arm it
// on every turn. Listeners and signals stay on Asio, on the main thread.
class Shard {
 public:
  // Output a socket did not take when it was written, held until EPOLLOUT.
  struct Backlog {
    mqtt::Bytes bytes;  // from `sent` on
    std::size_t sent = 0;
    bool close_after = false;       // the engine has closed the connection
    bool closing_deadline = false;  // a timer will end it if its last bytes wait too long
    std::size_t size() const { return bytes.size() - sent; }
  };

  Shard(Broker& broker, std::size_t index, EngineConfig config, Sharding sharding);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  std::size_t index() const { return index_; }
  // Runs `task` on this shard's thread; callable from any thread.
  void post(std::function<void()> task);
  // The loop, on the shard's thread, until stop() has finished.
  void run();
  // A connection accepted for this shard (its file descriptor, now ours)
  // from `peer` ("address:port"), by a listener with `setup` (null: plain).
  void open(int fd, const std::string& peer, std::shared_ptr<const ListenerSetup> setup);
  // A connection another shard handed over with its CONNECT (and its
  // layers and unwritten bytes, if it has any).
  void adopt(int fd, Engine::Handoff handoff, std::unique_ptr<Layers> layers,
             std::unique_ptr<Backlog> backlog);
  void deliver(std::vector<Engine::Forward> forwards);
  void stop();
  void start_stats_timer();

 private:
  // 32 bytes, held in peers_'s node. Output waits in the engine (its
  // connection's transmit buffer) until flush(), so a peer holds no buffer
  // unless its socket is full.
  struct Peer {
    int fd = -1;
    // Closed, or handed to another shard: its fd is not ours any more and
    // its entry goes at the end of the turn.
    bool closed = false;
    ConnectionId id = 0;
    std::unique_ptr<Backlog> backlog;  // set while EPOLLOUT is on
    std::unique_ptr<Layers> layers;    // TLS and WebSocket listeners' connections
  };
  struct Timer {
    mqtt::Time at;
    std::uint64_t order;  // equal times run in the order they were set
    std::function<void()> task;
    bool operator>(const Timer& o) const { return at != o.at ? at > o.at : order > o.order; }
  };

  void add_peer(int fd, ConnectionId id, std::unique_ptr<Layers> layers);
  void on_socket(const epoll_event& e);
  void run_posted();
  void loop();
  void run_timers();
  int wait_ms() const;
  std::optional<mqtt::Time> store_flush_due() const;
  void after(std::chrono::milliseconds delay, std::function<void()> task);
  bool receive_from(Peer& peer);
  bool receive_layers(Peer& peer, mqtt::ByteView bytes);
  bool check_identity(Peer& peer);
  void drain(ConnectionId id);
  void after_input();
  void flush();
  std::size_t write_through(ConnectionId id, mqtt::ByteView bytes);
  void write(Peer& peer, mqtt::Bytes bytes, bool close_after);
  void write_secure(Peer& peer, mqtt::Bytes bytes, bool close_after);
  void write_network(Peer& peer, mqtt::Bytes bytes, bool close_after);
  void write_backlog(Peer& peer);
  bool send_some(Peer& peer, const mqtt::Bytes& bytes, std::size_t& sent);
  void blocked(Peer& peer);
  void set_events(Peer& peer, bool want_write);
  bool watch_socket(int op, int fd, ConnectionId id, bool want_write);
  void close(Peer& peer);
  void retire(ConnectionId id);
  void erase_retired();
  Peer* find(ConnectionId id);

  Broker& broker_;
  std::size_t index_;
  Engine engine_;
  mqtt::Time now_;                                     // read once per turn
  std::array<std::uint8_t, 64 * 1024> read_buffer_{};  // shared by this shard's connections
  mqtt::Bytes tls_app_;                                // receive_layers()'s, reused
  mqtt::Bytes ws_app_;
  std::vector<Engine::Output> committed_;  // flush()'s, with a store
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // an eventfd in the epoll set: post() wrote to it
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;  // guarded by posted_mutex_
  std::vector<Timer> timers_;                  // a min-heap on (at, order)
  std::uint64_t timers_set_ = 0;
  // Entries stay put (node-based) and are erased at the end of the turn
  // they close in, so a Peer& held across a call that closes it stays good.
  std::unordered_map<ConnectionId, Peer> peers_;
  std::vector<ConnectionId> retired_;
  bool stopping_ = false;
  bool running_ = true;
};

// The whole broker: listeners and signals on Asio on the main thread, one
// Shard per engine thread, the routing state they share, and the broker-wide limits.
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
    write_log(level, text);
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
  void wait_for_hangup();

 private:
  void accept(tcp::acceptor& acceptor, std::shared_ptr<const ListenerSetup> setup);
  void stop();
  EngineStats aggregate(const EngineStats& own);

  const ServerOptions& options_;
  std::chrono::steady_clock::time_point start_;
  asio::io_context io_{1};  // listeners and signals
  SharedMutexLock lock_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::unique_ptr<asio::signal_set> signals_;
  std::unique_ptr<asio::signal_set> hangup_;  // SIGHUP: options_.on_hangup
  std::size_t next_shard_ = 0;                // accepted connections go round the shards
  std::atomic<std::size_t> connections_{0};
  std::mutex stats_mutex_;
  std::vector<EngineStats> stats_;  // each shard's, refreshed every sys_interval
};

}  // namespace assay::broker::front_end
