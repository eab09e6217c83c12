#include "server.hpp"

#include "shared_mutex_lock.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace assay::broker {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// How long a connection the engine has closed may wait for its client to
// read its last bytes.
constexpr std::chrono::seconds closing_grace{5};

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
//
// The shard watches its client sockets itself, in an epoll set of its own
// that the io_context waits on as one descriptor (level-triggered, one read
// per ready socket per turn, writes straight to the socket and EPOLLOUT only
// while one is blocked). Asio's per-socket reactor state and operations cost
// an epoll_ctl() for every read and about 300 bytes per idle connection;
// this costs neither. Listeners, timers and the posts between threads stay
// on Asio.
class Shard {
 public:
  Shard(Broker& broker, std::size_t index, EngineConfig config, Sharding sharding);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  asio::io_context& io() { return io_; }
  std::size_t index() const { return index_; }
  Broker& broker() { return broker_; }
  // A connection accepted for this shard (its file descriptor, now ours).
  void open(int fd);
  // A connection another shard handed over with its CONNECT.
  void adopt(int fd, Engine::Handoff handoff);
  void deliver(std::vector<Engine::Forward> forwards);
  void stop();
  void start_stats_timer();

 private:
  // Output a socket did not take when it was written, held until EPOLLOUT.
  struct Backlog {
    mqtt::Bytes bytes;  // from `sent` on
    std::size_t sent = 0;
    bool close_after = false;       // the engine has closed the connection
    bool closing_deadline = false;  // a timer will end it if its last bytes wait too long
    std::size_t size() const { return bytes.size() - sent; }
  };
  // 24 bytes, held in peers_'s node. Output waits in the engine (its
  // connection's transmit buffer) until flush(), so a peer holds no buffer
  // unless its socket is full.
  struct Peer {
    int fd = -1;
    // Closed, or handed to another shard: its fd is not ours any more and
    // its entry goes at the next retire().
    bool closed = false;
    ConnectionId id = 0;
    std::unique_ptr<Backlog> backlog;  // set while EPOLLOUT is on
  };

  void add_peer(int fd, ConnectionId id);
  void watch();
  void on_ready();
  bool receive_from(Peer& peer);
  void drain(ConnectionId id);
  void after_input();
  void flush();
  void write(Peer& peer, mqtt::Bytes bytes, bool close_after);
  void write_backlog(Peer& peer);
  bool send_some(Peer& peer, const mqtt::Bytes& bytes, std::size_t& sent);
  void blocked(Peer& peer);
  void set_events(Peer& peer, bool want_write);
  bool watch_socket(int op, int fd, ConnectionId id, bool want_write);
  void close(Peer& peer);
  void retire(ConnectionId id);
  Peer* find(ConnectionId id);
  void arm_timer();

  Broker& broker_;
  std::size_t index_;
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  Engine engine_;
  std::array<std::uint8_t, 64 * 1024> read_buffer_{};  // shared by this shard's connections
  asio::posix::stream_descriptor poller_;              // our epoll set
  asio::steady_timer timer_;
  std::optional<mqtt::Time> timer_armed_;  // when timer_ fires, if it is waiting
  asio::steady_timer stats_timer_;
  // Entries stay put (node-based) and are erased only by a handler posted
  // when they close, so a Peer& held across a call that closes it stays good.
  std::unordered_map<ConnectionId, Peer> peers_;
  bool stopping_ = false;
  bool flush_posted_ = false;
  bool in_turn_ = false;  // on_ready() is reading: it flushes at its end
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
    if (!ec) acceptor->non_blocking(true, ec);
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

// Accepts every pending connection when the listener is readable and deals
// them to the shards in turn. Out of file descriptors (or memory), it waits
// a moment instead of spinning on a listener that stays readable.
void Broker::accept(tcp::acceptor& acceptor) {
  acceptor.async_wait(
      tcp::acceptor::wait_read, [this, &acceptor](const boost::system::error_code& ec) {
        if (ec) return;  // closed: shutting down
        for (;;) {
          const int fd =
              ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            log(LogLevel::warning, "accept: %s", std::strerror(errno));
            auto backoff = std::make_shared<asio::steady_timer>(shards_[0]->io(),
                                                                std::chrono::milliseconds(100));
            backoff->async_wait([this, &acceptor, backoff](const boost::system::error_code& e) {
              if (!e) accept(acceptor);
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
          if (&target.io() == &shards_[0]->io()) {
            target.open(fd);
          } else {
            asio::post(target.io(), [&target, fd] { target.open(fd); });
          }
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

namespace {
int make_epoll() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  return fd;
}
}  // namespace

Shard::Shard(Broker& broker, std::size_t index, EngineConfig config, Sharding sharding)
    : broker_(broker),
      index_(index),
      work_(io_.get_executor()),
      engine_(std::move(config), broker.now(), std::move(sharding)),
      poller_(io_, make_epoll()),
      timer_(io_),
      stats_timer_(io_) {
  watch();
}

Shard::~Shard() {
  for (auto& [id, peer] : peers_) {
    if (!peer.closed) ::close(peer.fd);
  }
}

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

void Shard::open(int fd) {
  const auto id = engine_.open(broker_.now());
  if (!id) {
    broker_.log(LogLevel::warning, "connection limit reached: refusing a connection");
    ::close(fd);
    broker_.release();
    return;
  }
  add_peer(fd, *id);
  after_input();
}

void Shard::adopt(int fd, Engine::Handoff handoff) {
  const ConnectionId id = engine_.adopt(std::move(handoff), broker_.now());
  add_peer(fd, id);
  after_input();
}

// `fd` is non-blocking already (accept4, or the shard it came from).
void Shard::add_peer(int fd, ConnectionId id) {
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (!watch_socket(EPOLL_CTL_ADD, fd, id, false)) {
    broker_.log(LogLevel::warning, "watching a connection: %s", std::strerror(errno));
    ::close(fd);
    broker_.release();
    engine_.transport_closed(id, broker_.now());
    return;
  }
  Peer& peer = peers_[id];
  peer.fd = fd;
  peer.id = id;
  broker_.log(LogLevel::debug, "connection %llu opened on thread %zu",
              static_cast<unsigned long long>(id), index_);
}

void Shard::deliver(std::vector<Engine::Forward> forwards) {
  const mqtt::Time now = broker_.now();
  for (auto& f : forwards)
    engine_.deliver_forwarded(std::move(f), now);
  after_input();
}

void Shard::watch() {
  poller_.async_wait(asio::posix::stream_descriptor::wait_read,
                     [this](const boost::system::error_code& ec) {
                       if (ec) return;  // the shard is going away
                       on_ready();
                       watch();
                     });
}

// One turn: every ready socket is read once (a socket with more to read is
// ready again next turn, so one busy client cannot starve the others) or
// written on; the output of all of them leaves in one flush() at its end.
void Shard::on_ready() {
  std::array<epoll_event, 256> events;
  const int n =
      ::epoll_wait(poller_.native_handle(), events.data(), static_cast<int>(events.size()), 0);
  in_turn_ = true;
  for (int i = 0; i < n; ++i) {
    const epoll_event& e = events[static_cast<std::size_t>(i)];
    Peer* peer = find(e.data.u64);
    if (peer == nullptr) continue;  // closed or handed over earlier this turn
    if ((e.events & EPOLLOUT) != 0) {
      write_backlog(*peer);
      if (peer->closed) continue;
    }
    if ((e.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 && receive_from(*peer)) {
      after_input();
    }
  }
  in_turn_ = false;
  // The turn's output leaves now, not from a posted handler: with the
  // reactor waiting, every post cost Asio an epoll_ctl() to wake it.
  if (engine_.has_output()) flush();
}

// One read into the shared buffer, fed to the engine. False when there was
// nothing to read, or the connection ended (it is closed then).
bool Shard::receive_from(Peer& peer) {
  ssize_t n = 0;
  do {
    n = ::recv(peer.fd, read_buffer_.data(), read_buffer_.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
  if (n <= 0) {
    close(peer);  // the end of the stream, or an error: transport closed
    return false;
  }
  engine_.receive(peer.id, mqtt::ByteView(read_buffer_.data(), static_cast<std::size_t>(n)),
                  broker_.now());
  return true;
}

// A client that ended its last connection (DISCONNECT, then close) just
// before opening a new one: the old connection's last bytes may still wait in
// its socket when the new CONNECT is read (sooner still when it came through
// another thread). The engine parks the CONNECT; they are read now, so the
// new connection never takes over a session its client already ended.
void Shard::drain(ConnectionId id) {
  Peer* peer = find(id);
  while (peer != nullptr && !peer->closed && receive_from(*peer)) {
  }
}

// After every input: hand connections and messages to other shards, then
// re-arm the timer. The output waits in the engine until the end of the
// turn (on_ready(), or a handler posted behind the ones already ready for
// other inputs), so the output of every read in a turn goes out in one
// write per connection.
void Shard::after_input() {
  while (auto d = engine_.poll_drain()) {
    drain(d->holder);
    engine_.resume(d->waiting, broker_.now());
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
      Peer* peer = find(h->id);
      if (peer == nullptr) continue;
      peer->closed = true;  // to this shard
      retire(peer->id);
      ::epoll_ctl(poller_.native_handle(), EPOLL_CTL_DEL, peer->fd, nullptr);
      Shard* target = &broker_.shard(h->shard);
      asio::post(target->io(), [target, fd = peer->fd, handoff = std::move(*h)]() mutable {
        target->adopt(fd, std::move(handoff));
      });
    }
  }
  if (engine_.has_output() && !flush_posted_ && !in_turn_) {
    flush_posted_ = true;
    asio::post(io_, [this] { flush(); });
  }
  arm_timer();
}

void Shard::flush() {
  flush_posted_ = false;
  while (auto out = engine_.poll_output()) {
    if (Peer* peer = find(out->id)) write(*peer, std::move(out->bytes), out->close_after);
  }
}

// Writes what the socket takes now; the rest waits in the peer's backlog
// for EPOLLOUT, behind which later output queues. A client that stops
// reading cannot make the shard hold more than output_buffer_limit bytes for
// it: past that, it is disconnected (its QoS 1/2 messages stay in its
// session, unacknowledged, to be resent).
void Shard::write(Peer& peer, mqtt::Bytes bytes, bool close_after) {
  if (peer.closed) return;
  if (Backlog* b = peer.backlog.get()) {
    b->bytes.insert(b->bytes.end(), bytes.begin(), bytes.end());
    b->close_after = b->close_after || close_after;
    blocked(peer);
    return;
  }
  std::size_t sent = 0;
  if (!send_some(peer, bytes, sent)) return;  // closed
  if (sent < bytes.size()) {
    peer.backlog = std::make_unique<Backlog>(Backlog{std::move(bytes), sent, close_after, false});
    set_events(peer, true);
    blocked(peer);
  } else if (close_after) {
    close(peer);
  }
}

// EPOLLOUT: the socket takes more of the backlog.
void Shard::write_backlog(Peer& peer) {
  Backlog* b = peer.backlog.get();
  if (peer.closed || b == nullptr) return;
  if (!send_some(peer, b->bytes, b->sent)) return;
  if (b->sent < b->bytes.size()) {
    if (b->sent > b->bytes.size() / 2) {  // amortised: not on every partial write
      b->bytes.erase(b->bytes.begin(), b->bytes.begin() + static_cast<long>(b->sent));
      b->sent = 0;
    }
    return;
  }
  const bool close_after = b->close_after;
  peer.backlog.reset();
  set_events(peer, false);
  if (close_after) close(peer);
}

// Sends bytes from `sent` on until done or the socket is full; false if the
// connection failed (it is closed then).
bool Shard::send_some(Peer& peer, const mqtt::Bytes& bytes, std::size_t& sent) {
  while (sent < bytes.size()) {
    const ssize_t n = ::send(peer.fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return true;
    } else if (errno != EINTR) {
      close(peer);
      return false;
    }
  }
  return true;
}

// Output waits for a client that is not reading. Past output_buffer_limit
// it is disconnected; a connection the engine has closed gets
// closing_grace to take its last bytes (a DISCONNECT, say) and is closed
// then, read or not, so a client that never reads cannot keep it open.
void Shard::blocked(Peer& peer) {
  Backlog& b = *peer.backlog;
  if (b.size() > broker_.options().output_buffer_limit) {
    broker_.log(LogLevel::warning,
                "connection %llu: %zu bytes unread by its client: disconnecting it",
                static_cast<unsigned long long>(peer.id), b.size());
    close(peer);
    return;
  }
  if (!b.close_after || b.closing_deadline) return;
  b.closing_deadline = true;
  auto timer = std::make_shared<asio::steady_timer>(io_, closing_grace);
  timer->async_wait([this, timer, id = peer.id](const boost::system::error_code& ec) {
    if (ec) return;
    Peer* late = find(id);
    if (late == nullptr || !late->backlog) return;
    broker_.log(LogLevel::warning,
                "connection %llu: its client did not read its last %zu bytes: closing it",
                static_cast<unsigned long long>(id), late->backlog->size());
    close(*late);
  });
}

void Shard::set_events(Peer& peer, bool want_write) {
  watch_socket(EPOLL_CTL_MOD, peer.fd, peer.id, want_write);
}

// Adds (EPOLL_CTL_ADD) or changes (EPOLL_CTL_MOD) a socket in the epoll set:
// readable and hung up always, writable when asked; events carry its id.
bool Shard::watch_socket(int op, int fd, ConnectionId id, bool want_write) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (want_write ? EPOLLOUT : 0u);
  ev.data.u64 = id;
  return ::epoll_ctl(poller_.native_handle(), op, fd, &ev) == 0;
}

void Shard::close(Peer& peer) {
  if (peer.closed) return;
  peer.closed = true;
  ::epoll_ctl(poller_.native_handle(), EPOLL_CTL_DEL, peer.fd, nullptr);
  ::shutdown(peer.fd, SHUT_RDWR);
  ::close(peer.fd);
  const ConnectionId id = peer.id;
  broker_.log(LogLevel::debug, "connection %llu closed on thread %zu",
              static_cast<unsigned long long>(id), index_);
  broker_.release();
  engine_.transport_closed(id, broker_.now());
  retire(id);
  after_input();
}

// The entry of a peer closed or handed over goes once the handlers running
// now (which may hold a reference to it) are done.
void Shard::retire(ConnectionId id) {
  asio::post(io_, [this, id] {
    peers_.erase(id);
    if (stopping_ && peers_.empty()) io_.stop();
  });
}

// The open peer `id`, if there is one.
Shard::Peer* Shard::find(ConnectionId id) {
  const auto it = peers_.find(id);
  return it == peers_.end() || it->second.closed ? nullptr : &it->second;
}

// The timer is moved earlier when the engine's next deadline comes earlier,
// and left alone when it moves later (as keep-alive deadlines do with every
// packet): it then fires early once, finds nothing due and is set again.
// Setting it after every input cost two timerfd_settime() calls each.
void Shard::arm_timer() {
  const auto deadline = engine_.next_deadline();
  if (!deadline || (timer_armed_ && *timer_armed_ <= *deadline)) return;
  timer_armed_ = *deadline;
  timer_.expires_at(broker_.start() + *deadline);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // replaced by an earlier one
    timer_armed_.reset();
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
