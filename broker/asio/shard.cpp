// One engine thread of the front end: its epoll loop, its sockets' reads
// and writes, output limits, and what other threads post to it.
#include "front_end.hpp"

namespace assay::broker::front_end {

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
  // (The engine leaves write-through off while it has a store.)
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
//
// An exception out of the engine (a store that cannot write throws from its
// sync(), before the input's acknowledgements could leave) ends the process
// at once: none of that input's output may go out, and nothing after it
// could be kept.
void Shard::run() {
  try {
    loop();
  } catch (const std::exception& e) {
    broker_.log(LogLevel::error, "thread %zu: %s: stopping the broker now", index_, e.what());
    std::_Exit(1);
  }
}

void Shard::loop() {
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
  if (const auto& store = broker_.options().store_driver) store->flush();
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
  if (const auto due = store_flush_due(); due && *due <= now_) {
    broker_.options().store_driver->flush();
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
  if (const auto due = store_flush_due(); due && (!next || *due < *next)) next = due;
  if (!next) return -1;
  const auto wait = *next - broker_.now();
  if (wait <= mqtt::Time{0}) return 0;
  return static_cast<int>(std::min<mqtt::Time::rep>(wait.count(), 24 * 3600 * 1000));
}

// When the store wants its written data flushed to the disk, on the
// broker's clock (StoreDriver::flush_due).
std::optional<mqtt::Time> Shard::store_flush_due() const {
  const auto& store = broker_.options().store_driver;
  if (!store) return std::nullopt;
  const auto at = store->flush_due();
  if (!at) return std::nullopt;
  if (*at <= broker_.start()) return mqtt::Time{0};
  return std::chrono::duration_cast<mqtt::Time>(*at - broker_.start());
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

void Shard::open(int fd, const std::string& peer, std::shared_ptr<const ListenerSetup> setup) {
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
  std::unique_ptr<Layers> layers;
  if (setup) {
    layers = std::make_unique<Layers>();
    if (setup->websocket_path) {
      layers->ws = std::make_unique<WebSocketSession>(*setup->websocket_path);
    }
    try {
      if (setup->tls) layers->tls = std::make_unique<TlsSession>(setup->tls);
    } catch (const std::exception& e) {
      broker_.log(LogLevel::warning, "%s: %s", peer.c_str(), e.what());
      ::close(fd);
      broker_.release();
      engine_.transport_closed(*id, now_);
      return;
    }
  }
  add_peer(fd, *id, std::move(layers));
  after_input();
}

void Shard::adopt(int fd, Engine::Handoff handoff, std::unique_ptr<Layers> layers,
                  std::unique_ptr<Backlog> backlog) {
  // A client that reconnects at once (a lost connection, a quick retry)
  // may have closed this connection while its CONNECT travelled here, and
  // its next connection may have reached the session first: answering this
  // CONNECT now would take the session over from the connection the client
  // is using. A connection whose client has closed it, with nothing more
  // to read, is dropped instead (its CONNECT was never answered, so nobody
  // waits for a CONNACK).
  char next = 0;
  ssize_t peeked = 0;
  do {
    peeked = ::recv(fd, &next, 1, MSG_PEEK | MSG_DONTWAIT);
  } while (peeked < 0 && errno == EINTR);
  if (peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
    broker_.log(LogLevel::debug, "a handed-over connection was closed by its client: dropped");
    ::close(fd);
    broker_.release();
    return;
  }
  const ConnectionId id = engine_.adopt(std::move(handoff), now_);
  add_peer(fd, id, std::move(layers));
  // Bytes the other shard's socket did not take (a TLS session ticket, say)
  // go before anything this shard writes.
  if (Peer* peer = find(id); peer != nullptr && backlog) {
    backlog->closing_deadline = false;
    peer->backlog = std::move(backlog);
    set_events(*peer, true);
    blocked(*peer);
  }
  after_input();
}

// `fd` is non-blocking already (accept4, or the shard it came from).
void Shard::add_peer(int fd, ConnectionId id, std::unique_ptr<Layers> layers) {
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
  peer.layers = std::move(layers);
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
  const mqtt::ByteView bytes(read_buffer_.data(), static_cast<std::size_t>(n));
  if (peer.layers) return receive_layers(peer, bytes);
  engine_.receive(peer.id, bytes, now_);
  return true;
}

// Network bytes of a TLS or WebSocket connection, up through its layers:
// what a layer must answer (handshakes, pongs, alerts) goes out now, and
// the MQTT bytes to the engine, once it knows a certificate's identity.
bool Shard::receive_layers(Peer& peer, mqtt::ByteView bytes) {
  Layers& layers = *peer.layers;
  mqtt::ByteView data = bytes;
  std::string failure;
  bool ended = false;
  if (layers.tls) {
    TlsSession& tls = *layers.tls;
    tls_app_.clear();
    mqtt::Bytes net;
    const TlsSession::Result r = tls.receive(bytes, tls_app_, net);
    if (!net.empty()) write_network(peer, std::move(net), false);
    if (peer.closed || !check_identity(peer)) return false;
    if (r == TlsSession::Result::failed) failure = "TLS: " + tls.error();
    ended = r != TlsSession::Result::ok;
    data = tls_app_;
  }
  if (layers.ws && !data.empty()) {
    WebSocketSession& ws = *layers.ws;
    ws_app_.clear();
    mqtt::Bytes reply;
    const WebSocketSession::Result r = ws.receive(data, ws_app_, reply);
    if (!reply.empty()) write_secure(peer, std::move(reply), false);
    if (peer.closed) return false;
    if (r == WebSocketSession::Result::failed) failure = "WebSocket: " + ws.error();
    ended = ended || r != WebSocketSession::Result::ok;
    data = ws_app_;
  }
  // What came before a close_notify, a close frame or a failure is the
  // client's too: a PUBACK and a DISCONNECT often come in one read with the
  // close after them.
  if (!data.empty()) engine_.receive(peer.id, data, now_);
  if (!ended) return true;
  if (!failure.empty()) {
    broker_.log(LogLevel::info, "connection %llu: %s", static_cast<unsigned long long>(peer.id),
                failure.c_str());
  }
  close(peer);
  return false;
}

// Once a TLS handshake is done: a listener that takes the user name from
// client certificates gives the engine the certificate's name, and closes
// a connection whose certificate has none. False when it closed.
bool Shard::check_identity(Peer& peer) {
  TlsSession& tls = *peer.layers->tls;
  if (tls.identity_checked || !tls.established()) return true;
  tls.identity_checked = true;
  if (!tls.identity_wanted() || !tls.has_certificate()) return true;
  std::string identity = tls.identity();
  if (identity.empty()) {
    broker_.log(LogLevel::warning,
                "connection %llu: its client certificate has no name to use as the user "
                "name: closing it",
                static_cast<unsigned long long>(peer.id));
    close(peer);
    return false;
  }
  engine_.set_identity(peer.id, std::move(identity));
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
      // std::function needs a copyable callable: the layers and the
      // unwritten bytes ride in shared_ptrs.
      auto layers = std::make_shared<std::unique_ptr<Layers>>(std::move(peer->layers));
      auto backlog = std::make_shared<std::unique_ptr<Backlog>>(std::move(peer->backlog));
      target->post([target, fd = PostedFd(peer->fd), handoff, layers, backlog] {
        target->adopt(fd.take(), std::move(*handoff), std::move(*layers), std::move(*backlog));
      });
    }
  }
}

// The turn's output, straight to the sockets. Closing a connection that
// failed may queue more (a will, say): the loop takes that too.
//
// With a store, nothing leaves before the store's commit: the turn's output
// is taken whole after it, and output that writing it causes (a peer closed
// for a full backlog publishes its Will) waits for the next commit.
void Shard::flush() {
  StoreDriver* store = broker_.options().store_driver.get();
  if (store == nullptr) {
    while (auto out = engine_.poll_output()) {
      if (Peer* peer = find(out->id)) write(*peer, std::move(out->bytes), out->close_after);
    }
    return;
  }
  for (;;) {
    store->commit();
    committed_.clear();
    while (auto out = engine_.poll_output())
      committed_.push_back(std::move(*out));
    if (committed_.empty()) return;
    for (auto& out : committed_) {
      if (Peer* peer = find(out.id)) write(*peer, std::move(out.bytes), out.close_after);
    }
  }
}

// A copy of a large fan-out, written while the engine routes (it must not
// be called back): one send, whatever the socket takes. Nothing if output
// for this connection already waits for EPOLLOUT (it keeps its order); a
// failed send is left to the end of the turn's flush, which closes.
std::size_t Shard::write_through(ConnectionId id, mqtt::ByteView bytes) {
  const Peer* peer = find(id);
  if (peer == nullptr || peer->backlog || peer->layers) return 0;  // framed at flush
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
  if (peer.layers && peer.layers->ws) {
    WebSocketSession& ws = *peer.layers->ws;
    mqtt::Bytes framed;
    if (!bytes.empty()) ws.send(bytes, framed);
    if (close_after) ws.close(framed);
    bytes = std::move(framed);
  }
  write_secure(peer, std::move(bytes), close_after);
}

// Bytes below the WebSocket layer: encrypted on a TLS connection.
void Shard::write_secure(Peer& peer, mqtt::Bytes bytes, bool close_after) {
  if (peer.closed) return;
  if (peer.layers && peer.layers->tls) {
    TlsSession& tls = *peer.layers->tls;
    mqtt::Bytes net;
    if (tls.send(bytes, net) != TlsSession::Result::ok) {
      broker_.log(LogLevel::info, "connection %llu: TLS: %s",
                  static_cast<unsigned long long>(peer.id), tls.error().c_str());
      close(peer);
      return;
    }
    if (close_after) tls.close(net);
    bytes = std::move(net);
  }
  write_network(peer, std::move(bytes), close_after);
}

// Bytes as they go on the wire (a TLS connection's encrypted already).
void Shard::write_network(Peer& peer, mqtt::Bytes bytes, bool close_after) {
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

}  // namespace assay::broker::front_end
