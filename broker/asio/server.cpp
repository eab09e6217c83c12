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

namespace assay::broker {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// A message for at least this many of a thread's connections leaves for
// each as soon as its copy is made (Engine::set_write_through): with 100
// subscribers the last copy is made ~100 us after the first.
constexpr std::size_t write_through_copies = 8;

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

class Broker;

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
  // from `peer` ("address:port").
  void open(int fd, const std::string& peer);
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
    // its entry goes at the end of the turn.
    bool closed = false;
    ConnectionId id = 0;
    std::unique_ptr<Backlog> backlog;  // set while EPOLLOUT is on
  };
  struct Timer {
    mqtt::Time at;
    std::uint64_t order;  // equal times run in the order they were set
    std::function<void()> task;
    bool operator>(const Timer& o) const { return at != o.at ? at > o.at : order > o.order; }
  };

  void add_peer(int fd, ConnectionId id);
  void on_socket(const epoll_event& e);
  void run_posted();
  void run_timers();
  int wait_ms() const;
  void after(std::chrono::milliseconds delay, std::function<void()> task);
  bool receive_from(Peer& peer);
  void drain(ConnectionId id);
  void after_input();
  void flush();
  std::size_t write_through(ConnectionId id, mqtt::ByteView bytes);
  void write(Peer& peer, mqtt::Bytes bytes, bool close_after);
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
  void accept(tcp::acceptor& acceptor);
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
    log(LogLevel::info, "listening on %s:%u", l.address.c_str(), acceptor->local_endpoint().port());
    accept(*acceptor);
    acceptors_.push_back(std::move(acceptor));
  }
  log(LogLevel::info, "%zu thread%s", shards_.size(), shards_.size() == 1 ? "" : "s");
  return true;
}

// Accepts every pending connection when the listener is readable and deals
// them to the shards in turn. Out of file descriptors (or memory), it waits
// a moment instead of spinning on a listener that stays readable.
void Broker::accept(tcp::acceptor& acceptor) {
  acceptor.async_wait(tcp::acceptor::wait_read, [this,
                                                 &acceptor](const boost::system::error_code& ec) {
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
      target.post([&target, fd, peer = peer_name(address)] { target.open(fd, peer); });
    }
    accept(acceptor);
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

// ---- Shard --------------------------------------------------------------------

namespace {
int make_epoll() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  return fd;
}

// The epoll tag of the shard's eventfd; connection ids count up from 1.
constexpr std::uint64_t wake_tag = std::numeric_limits<std::uint64_t>::max();
}  // namespace

Shard::Shard(Broker& broker, std::size_t index, EngineConfig config, Sharding sharding)
    : broker_(broker),
      index_(index),
      engine_(std::move(config), broker.now(), std::move(sharding)),
      now_(broker.now()),
      epoll_fd_(make_epoll()) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_tag;
  if (wake_fd_ < 0 || ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) {
    const int error = errno;
    if (wake_fd_ >= 0) ::close(wake_fd_);
    ::close(epoll_fd_);
    throw std::system_error(error, std::generic_category(), "eventfd");
  }
  engine_.set_write_through(
      [this](ConnectionId id, mqtt::ByteView bytes) { return write_through(id, bytes); },
      write_through_copies);
}

Shard::~Shard() {
  for (auto& [id, peer] : peers_) {
    if (!peer.closed) ::close(peer.fd);
  }
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void Shard::post(std::function<void()> task) {
  bool wake = false;
  {
    const std::lock_guard<std::mutex> guard(posted_mutex_);
    wake = posted_.empty();  // otherwise a wake-up is on its way already
    posted_.push_back(std::move(task));
  }
  if (wake) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
}

// One turn: wait for sockets, posts or the next deadline; read every ready
// socket once (a socket with more to read is ready again next turn, so one
// busy client cannot starve the others) or write on it; run what was posted
// and what is due; then the output of all of it leaves in one flush(), one
// write per connection.
void Shard::run() {
  std::array<epoll_event, 256> events;
  while (running_) {
    const int n =
        ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), wait_ms());
    if (n < 0 && errno != EINTR) {
      broker_.log(LogLevel::error, "thread %zu: epoll_wait: %s", index_, std::strerror(errno));
      break;
    }
    now_ = broker_.now();
    for (int i = 0; i < n; ++i)
      on_socket(events[static_cast<std::size_t>(i)]);
    run_timers();
    flush();
    erase_retired();
  }
}

void Shard::on_socket(const epoll_event& e) {
  if (e.data.u64 == wake_tag) {
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = ::read(wake_fd_, &count, sizeof count);
    run_posted();
    return;
  }
  Peer* peer = find(e.data.u64);
  if (peer == nullptr) return;  // closed or handed over earlier this turn
  if ((e.events & EPOLLOUT) != 0) {
    write_backlog(*peer);
    if (peer->closed) return;
  }
  if ((e.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 && receive_from(*peer)) {
    after_input();
  }
}

void Shard::run_posted() {
  std::vector<std::function<void()>> tasks;
  {
    const std::lock_guard<std::mutex> guard(posted_mutex_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks)
    task();
}

// The engine's deadlines (it may find nothing due: keep-alive deadlines
// only move later, see Engine::next_deadline) and the shard's own timers.
void Shard::run_timers() {
  if (const auto deadline = engine_.next_deadline(); deadline && *deadline <= now_) {
    engine_.handle_timeout(now_);
    after_input();
  }
  while (!timers_.empty() && timers_.front().at <= now_) {
    std::pop_heap(timers_.begin(), timers_.end(), std::greater<>{});
    auto task = std::move(timers_.back().task);
    timers_.pop_back();
    task();
  }
}

// Milliseconds until the first deadline, -1 for none. Times are whole
// milliseconds and now_ is rounded down, so the wait never ends early.
int Shard::wait_ms() const {
  std::optional<mqtt::Time> next = engine_.next_deadline();
  if (!timers_.empty() && (!next || timers_.front().at < *next)) next = timers_.front().at;
  if (!next) return -1;
  const auto wait = *next - broker_.now();
  if (wait <= mqtt::Time{0}) return 0;
  return static_cast<int>(std::min<mqtt::Time::rep>(wait.count(), 24 * 3600 * 1000));
}

void Shard::after(std::chrono::milliseconds delay, std::function<void()> task) {
  timers_.push_back(Timer{broker_.now() + delay, timers_set_++, std::move(task)});
  std::push_heap(timers_.begin(), timers_.end(), std::greater<>{});
}

// The other shards' statistics for shard 0's $SYS messages.
void Shard::start_stats_timer() {
  const auto interval = broker_.options().engine.sys_interval;
  if (interval <= mqtt::Duration{0} || stopping_) return;
  broker_.publish_stats(index_, engine_.stats());
  after(std::chrono::duration_cast<std::chrono::milliseconds>(interval),
        [this] { start_stats_timer(); });
}

void Shard::open(int fd, const std::string& peer) {
  if (stopping_) {
    ::close(fd);
    broker_.release();
    return;
  }
  const auto id = engine_.open(now_, peer);
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
  const ConnectionId id = engine_.adopt(std::move(handoff), now_);
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
    engine_.transport_closed(id, now_);
    return;
  }
  Peer& peer = peers_[id];
  peer.fd = fd;
  peer.id = id;
  broker_.log(LogLevel::debug, "connection %llu opened on thread %zu",
              static_cast<unsigned long long>(id), index_);
}

void Shard::deliver(std::vector<Engine::Forward> forwards) {
  for (auto& f : forwards)
    engine_.deliver_forwarded(std::move(f), now_);
  after_input();
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
  engine_.receive(peer.id, mqtt::ByteView(read_buffer_.data(), static_cast<std::size_t>(n)), now_);
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

// After every input: hand connections and messages to other shards. The
// output waits in the engine until the end of the turn, so the output of
// every input in a turn goes out in one write per connection.
void Shard::after_input() {
  while (auto d = engine_.poll_drain()) {
    drain(d->holder);
    engine_.resume(d->waiting, now_);
  }
  if (broker_.shard_count() > 1) {
    // One post per shard for all messages of this input, in routing order.
    std::vector<std::vector<Engine::Forward>> batches(broker_.shard_count());
    while (auto f = engine_.poll_forward())
      batches[f->shard].push_back(std::move(*f));
    for (std::size_t i = 0; i < batches.size(); ++i) {
      if (batches[i].empty()) continue;
      Shard* target = &broker_.shard(i);
      // std::function needs a copyable callable: the batch rides in a shared_ptr.
      auto batch = std::make_shared<std::vector<Engine::Forward>>(std::move(batches[i]));
      target->post([target, batch] { target->deliver(std::move(*batch)); });
    }
    while (auto h = engine_.poll_handoff()) {
      Peer* peer = find(h->id);
      if (peer == nullptr) continue;
      peer->closed = true;  // to this shard
      retire(peer->id);
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, peer->fd, nullptr);
      Shard* target = &broker_.shard(h->shard);
      auto handoff = std::make_shared<Engine::Handoff>(std::move(*h));
      target->post([target, fd = peer->fd, handoff] { target->adopt(fd, std::move(*handoff)); });
    }
  }
}

// The turn's output, straight to the sockets. Closing a connection that
// failed may queue more (a will, say): the loop takes that too.
void Shard::flush() {
  while (auto out = engine_.poll_output()) {
    if (Peer* peer = find(out->id)) write(*peer, std::move(out->bytes), out->close_after);
  }
}

// A copy of a large fan-out, written while the engine routes (it must not
// be called back): one send, whatever the socket takes. Nothing if output
// for this connection already waits for EPOLLOUT (it keeps its order); a
// failed send is left to the end of the turn's flush, which closes.
std::size_t Shard::write_through(ConnectionId id, mqtt::ByteView bytes) {
  const Peer* peer = find(id);
  if (peer == nullptr || peer->backlog) return 0;
  const ssize_t n = ::send(peer->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
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
// ServerOptions::closing_grace to take its last bytes (a DISCONNECT, say) and is closed
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
  after(broker_.options().closing_grace, [this, id = peer.id] {
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
  return ::epoll_ctl(epoll_fd_, op, fd, &ev) == 0;
}

void Shard::close(Peer& peer) {
  if (peer.closed) return;
  peer.closed = true;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, peer.fd, nullptr);
  ::shutdown(peer.fd, SHUT_RDWR);
  ::close(peer.fd);
  const ConnectionId id = peer.id;
  broker_.log(LogLevel::debug, "connection %llu closed on thread %zu",
              static_cast<unsigned long long>(id), index_);
  broker_.release();
  engine_.transport_closed(id, now_);
  retire(id);
  after_input();
}

// The entry of a peer closed or handed over goes at the end of the turn,
// when nothing holds a reference to it any more.
void Shard::retire(ConnectionId id) {
  retired_.push_back(id);
}

void Shard::erase_retired() {
  if (retired_.empty()) return;
  for (const ConnectionId id : retired_)
    peers_.erase(id);
  retired_.clear();
  if (stopping_ && peers_.empty()) running_ = false;
}

// The open peer `id`, if there is one.
Shard::Peer* Shard::find(ConnectionId id) {
  const auto it = peers_.find(id);
  return it == peers_.end() || it->second.closed ? nullptr : &it->second;
}

void Shard::stop() {
  stopping_ = true;
  engine_.shutdown(now_);
  after_input();
  if (peers_.empty()) {
    running_ = false;
    return;
  }
  // Give the last DISCONNECTs a moment to leave, then stop regardless.
  after(std::chrono::seconds(2), [this] { running_ = false; });
}

}  // namespace

int run_server(const ServerOptions& options) {
  Broker broker(options);
  if (!broker.listen()) return 1;
  broker.run();
  return 0;
}

}  // namespace assay::broker
