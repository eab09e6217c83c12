#include "assay/broker/engine.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <stdexcept>

#include "assay/mqtt/constants.hpp"
#include "assay/mqtt/topic.hpp"

namespace assay::broker {

using namespace assay::mqtt;

namespace {

constexpr Time never = Time::max();  // a deadline not set

std::size_t topic_levels(std::string_view topic) {
  return static_cast<std::size_t>(std::count(topic.begin(), topic.end(), '/')) + 1;
}

// The copy of `message` one subscription path delivers: its QoS and RETAIN,
// and the Subscription Identifiers of the matching subscriptions only. DUP
// and the packet id are the subscriber's Connection's.
Publish copy_for(const Publish& message, QoS qos, bool retain,
                 const std::vector<std::uint32_t>& identifiers) {
  Publish out = message;
  out.qos = qos;
  out.retain = retain;
  out.properties.erase(PropertyId::subscription_identifier);
  for (const auto id : identifiers)
    out.properties.add(PropertyId::subscription_identifier, id);
  return out;
}

std::vector<std::uint32_t> identifiers_of(const std::optional<std::uint32_t>& id) {
  return id ? std::vector<std::uint32_t>{*id} : std::vector<std::uint32_t>{};
}

// The persistence records' fields, big-endian.
void put_u8(Bytes& out, std::uint8_t v) {
  out.push_back(v);
}
void put_u32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(v >> shift));
}
void put_blob(Bytes& out, ByteView b) {
  put_u32(out, static_cast<std::uint32_t>(b.size()));
  out.insert(out.end(), b.begin(), b.end());
}
void put_text(Bytes& out, std::string_view t) {
  put_blob(out, ByteView(reinterpret_cast<const std::uint8_t*>(t.data()), t.size()));
}

class RecordReader {
 public:
  explicit RecordReader(ByteView b) : b_(b) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && at_ == b_.size(); }
  std::uint8_t u8() {
    if (!need(1)) return 0;
    return b_[at_++];
  }
  std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v = (v << 8) | b_[at_++];
    return v;
  }
  ByteView blob() {
    const std::uint32_t n = u32();
    if (!need(n)) return {};
    const ByteView v = b_.subspan(at_, n);
    at_ += n;
    return v;
  }
  std::string text() {
    const ByteView v = blob();
    return std::string(v.begin(), v.end());
  }

 private:
  bool need(std::size_t n) {
    if (ok_ && b_.size() - at_ >= n) return true;
    ok_ = false;
    return false;
  }
  ByteView b_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

// A message in a record: its 5.0 PUBLISH encoding (the codec's own form).
void put_message(Bytes& out, Publish p) {
  p.dup = false;
  p.packet_id = p.qos == QoS::at_most_once ? 0 : 1;
  put_blob(out, encode(Packet{std::move(p)}, Version::v5));
}
std::optional<Publish> get_message(RecordReader& r) {
  const ByteView b = r.blob();
  if (!r.ok()) return std::nullopt;
  DecodeResult d = decode(b, Version::v5);
  auto* decoded = std::get_if<Decoded>(&d);
  if (decoded == nullptr) return std::nullopt;
  auto* p = std::get_if<Publish>(&decoded->packet);
  if (p == nullptr) return std::nullopt;
  p->packet_id = 0;
  return std::move(*p);
}

constexpr std::uint8_t record_format = 1;

// Holds the shared routing lock for a scope, shared or exclusive (no lock:
// one engine alone).
template <bool exclusive>
class Holding {
 public:
  explicit Holding(SharedLock* lock) : lock_(lock) {
    if (!lock_) return;
    if constexpr (exclusive) {
      lock_->lock();
    } else {
      lock_->lock_shared();
    }
  }
  ~Holding() {
    if (!lock_) return;
    if constexpr (exclusive) {
      lock_->unlock();
    } else {
      lock_->unlock_shared();
    }
  }
  Holding(const Holding&) = delete;
  Holding& operator=(const Holding&) = delete;

 private:
  SharedLock* lock_;
};
using Reading = Holding<false>;
using Writing = Holding<true>;

}  // namespace

std::size_t home_shard(std::string_view client_id, std::size_t shards) {
  if (shards <= 1) return 0;
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, 64 bits
  for (const char c : client_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return static_cast<std::size_t>(h % shards);
}

namespace detail {

struct Subscription {
  SubscribeOptions options;
  std::optional<std::uint32_t> identifier;
  // Decided when subscribing ("$share/" is shared only in 5.0); the session
  // may later be resumed by a connection of the other version.
  bool shared = false;
};

}  // namespace detail

using detail::Subscription;

// What the engines of one broker share. Entries name the session by client
// id, its shard, and the incarnation of the session that subscribed (a
// forwarded message must not reach a later session with the same id).
class Routing {
 public:
  using Congestion = std::shared_ptr<std::atomic<bool>>;  // several shards only
  struct Entry {
    Subscription subscription;
    std::uint32_t shard = 0;
    std::uint64_t incarnation = 0;
    Congestion congested;  // its session's queue is nearly full
  };
  // A shared subscription's entry: the index key is "group\0client id".
  struct SharedEntry {
    std::string group;
    std::string client_id;
    Subscription subscription;
    std::uint32_t shard = 0;
    std::uint64_t incarnation = 0;
    bool online = false;  // its session has a connection
    Congestion congested;
  };
  struct Retained {
    Publish message;
    Time stored_at{0};  // a Message Expiry Interval counts from here
  };
  SubscriptionIndex<std::string, Entry> subscriptions;
  SubscriptionIndex<std::string, SharedEntry> shared;
  std::map<std::string, Retained> retained;
};

std::shared_ptr<Routing> make_routing() {
  return std::make_shared<Routing>();
}

namespace {
// A session's subscriptions by filter as subscribed, in filter order: a
// sorted vector. Empty it costs 24 bytes where a std::map costs 48, and it
// makes one allocation, not one per filter, for the few filters most
// clients have (max_subscriptions_per_client bounds the count).
class FilterTable {
 public:
  using Entry = std::pair<std::string, Subscription>;
  using const_iterator = std::vector<Entry>::const_iterator;

  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  std::size_t size() const { return entries_.size(); }
  const_iterator find(std::string_view filter) const {
    const auto it = lower_bound(filter);
    return it != entries_.end() && it->first == filter ? it : entries_.end();
  }
  bool contains(std::string_view filter) const { return find(filter) != entries_.end(); }
  // The subscription for `filter`, made (default) if there was none.
  Subscription& operator[](std::string_view filter) {
    auto it = entries_.begin() + (lower_bound(filter) - entries_.cbegin());
    if (it == entries_.end() || it->first != filter) {
      it = entries_.emplace(it, std::string(filter), Subscription{});
    }
    return it->second;
  }
  void erase(const_iterator it) { entries_.erase(it); }

 private:
  const_iterator lower_bound(std::string_view filter) const {
    return std::lower_bound(entries_.begin(), entries_.end(), filter,
                            [](const Entry& e, std::string_view f) { return e.first < f; });
  }
  std::vector<Entry> entries_;
};
}  // namespace

struct Engine::StoredSession {
  std::string client_id;
  std::unique_ptr<Session> session;  // while offline; inside the Connection while online
  ConnectionId link = 0;             // the connection serving it; 0: none (ids start at 1)
  FilterTable subscriptions;         // by filter as subscribed
  // The Will of the current or last connection, and when it is due if it
  // waits for its delay.
  struct StoredWill : Will {
    explicit StoredWill(Will w) : Will(std::move(w)) {}
    std::optional<Time> at;
  };
  std::unique_ptr<StoredWill> will;
  Time expires_at = never;  // offline and expiring
  std::uint32_t expiry_interval = 0;
  Version version = Version::v5;
  std::uint64_t incarnation = 0;        // unique per engine; see Routing
  std::optional<std::string> username;  // of the CONNECT that made or last resumed it
  Principal principal() const {
    return Principal{client_id,
                     username ? std::optional<std::string_view>(*username) : std::nullopt};
  }
  // Whether its queue is nearly full, for the other shards (several only).
  std::shared_ptr<std::atomic<bool>> congested;
  std::unique_ptr<Publish> held_back;  // PlantedBug::reorder_queue only
};

namespace {
// Where a connection is in its life, as the engine sees it.
enum class Stage : std::uint8_t {
  fresh,       // opened here, its CONNECT not answered yet
  adopted,     // handed over by another shard with its CONNECT: its home is here
  parked,      // its CONNECT waits for a drain (drain_before_takeover)
  drained,     // the drain was done: its CONNECT takes the session over now
  answered,    // its CONNECT was accepted or refused
  handed_off,  // given to another shard: its Connection is moved from
  closing,     // its Connection asked for the close: the output says close_after
};
constexpr std::size_t stages = 7;

constexpr std::uint8_t bit(Stage s) {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(s));
}
// From each stage, the stages it may go to. A CONNECT is answered, parked
// (once) or, on a connection this shard opened, handed off; any connection
// not yet handed off may be closed; handed_off and closing are final.
constexpr std::array<std::uint8_t, stages> next_stages = {
    /* fresh      */ bit(Stage::parked) | bit(Stage::answered) | bit(Stage::handed_off) |
        bit(Stage::closing),
    /* adopted    */ bit(Stage::parked) | bit(Stage::answered) | bit(Stage::closing),
    /* parked     */ bit(Stage::drained),
    /* drained    */ bit(Stage::answered) | bit(Stage::closing),
    /* answered   */ bit(Stage::closing),
    /* handed_off */ 0,
    /* closing    */ 0,
};
}  // namespace

struct Engine::Link {
  Link(ConnectionId i, ConnectionOptions o, Time now) : id(i), conn(o, now) {}
  Link(ConnectionId i, Connection c) : id(i), conn(std::move(c)), stage(Stage::adopted) {}
  ConnectionId id;
  Connection conn;
  std::unique_ptr<std::string> username;  // of the accepted CONNECT, if it had one
  std::string peer;                       // as given to open(), for the Authenticator
  Stage stage = Stage::fresh;             // changed only by to()
  // Not stages: where the link is queued and what it owes, in any stage.
  bool in_work = false;   // queued in work_
  bool in_dirty = false;  // queued in dirty_
  bool shrink = false;    // a control packet: the connection may stay idle now
  Time armed = never;     // its entry in deadlines_ that counts, if any

  // A move the table does not allow is a bug in the engine, never input.
  void to(Stage next) {
    if ((next_stages[static_cast<std::size_t>(stage)] & bit(next)) == 0) {
      throw std::logic_error("engine: connection stage " +
                             std::to_string(static_cast<unsigned>(stage)) + " cannot become " +
                             std::to_string(static_cast<unsigned>(next)));
    }
    stage = next;
  }

  // The session's client id once accepted; empty before, and after the
  // session has been taken away (takeover, close).
  const std::string& client_id() const { return conn.session().client_id(); }
  Principal principal() const {
    return Principal{client_id(),
                     username ? std::optional<std::string_view>(*username) : std::nullopt};
  }
};

namespace {
Sharding with_routing(Sharding s) {
  if (!s.routing) s.routing = make_routing();
  if (s.count == 0 || s.index >= s.count) throw std::invalid_argument("bad shard index");
  if (s.count > 1 && s.lock == nullptr) throw std::invalid_argument("shards need a lock");
  return s;
}
}  // namespace

Engine::Engine(EngineConfig config, Time now, Sharding sharding)
    : config_(std::move(config)),
      shard_(with_routing(std::move(sharding))),
      routing_(*shard_.routing),
      started_(now) {
  if (config_.sys_interval > Duration{0}) next_sys_ = now;
  if (!config_.authenticator || !config_.authorizer) {
    auto allow = std::make_shared<AllowAll>();
    if (!config_.authenticator) config_.authenticator = allow;
    if (!config_.authorizer) config_.authorizer = allow;
  }
  reads_checked_ = config_.authorizer->checks_reads();
  if (config_.store) {
    if (shard_.count > 1) throw std::invalid_argument("persistence needs a single engine");
    restore(now);
  }
}
Engine::~Engine() = default;

std::optional<ConnectionId> Engine::open(Time now, std::string_view peer) {
  if (links_.size() >= config_.max_connections) return std::nullopt;
  ConnectionOptions o;
  o.role = Role::server;
  o.maximum_packet_size = config_.maximum_packet_size;
  o.connect_timeout = config_.connect_timeout;
  o.manual_ack = true;  // PUBACK/PUBREC once the message is routed
  const ConnectionId id = next_id_++;
  Link& link = links_.try_emplace(id, id, o, now).first->second;
  link.peer = peer;
  touch(link);
  ++counters_.connections;
  return id;
}

void Engine::receive(ConnectionId id, ByteView bytes, Time now) {
  const auto it = links_.find(id);
  if (it == links_.end()) return;
  counters_.bytes_received += bytes.size();
  it->second.conn.receive(bytes, now);
  schedule(it->second);
  process(now);
}

void Engine::transport_closed(ConnectionId id, Time now) {
  const auto it = links_.find(id);
  if (it == links_.end()) return;
  it->second.conn.transport_closed(now);
  schedule(it->second);
  process(now);
}

void Engine::handle_timeout(Time now) {
  while (!deadlines_.empty() && deadlines_.front().first <= now) {
    std::pop_heap(deadlines_.begin(), deadlines_.end(), std::greater<>{});
    const auto [at, id] = deadlines_.back();
    deadlines_.pop_back();
    const auto it = links_.find(id);
    if (it == links_.end() || it->second.armed != at) continue;  // gone, or superseded
    it->second.armed = never;
    it->second.conn.handle_timeout(now);  // nothing, if its deadline moved later
    schedule(it->second);                 // processing arms its next deadline
  }
  // A burst of connections leaves an entry each (their CONNECT timeouts) for
  // the timeout's length: give the storage back once they are gone.
  if (deadlines_.capacity() > 4 * deadlines_.size() + 1024) deadlines_.shrink_to_fit();
  while (!session_timers_.empty() && session_timers_.begin()->first <= now) {
    const std::string client_id = session_timers_.begin()->second;
    session_timers_.erase(session_timers_.begin());
    const auto it = sessions_.find(client_id);
    if (it == sessions_.end()) continue;
    StoredSession& s = *it->second;
    if (s.will && s.will->at && *s.will->at <= now) fire_will(s, now);  // [MQTT-3.1.2-8]
    if (s.expires_at <= now && !s.link) {
      end_session(client_id, now);  // [MQTT-4.1.0-2]
    } else {
      arm(s);
    }
  }
  if (next_sys_ && *next_sys_ <= now) {
    publish_sys(now);
    next_sys_ = now + config_.sys_interval;
  }
  process(now);
}

// The statistics, as retained messages on Mosquitto's $SYS topic names (only
// subscriptions that name "$SYS" see them [MQTT-4.7.2-1]).
void Engine::publish_sys(Time now) {
  const EngineStats s = shard_.aggregate ? shard_.aggregate(stats()) : stats();
  auto put = [&](const char* topic, const std::string& value) {
    Publish p;
    p.topic = topic;
    p.retain = true;
    p.payload = SharedBytes(Bytes(value.begin(), value.end()));
    route(p, std::string(), now);
  };
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(now - started_).count();
  put("$SYS/broker/version", config_.version);
  put("$SYS/broker/uptime", std::to_string(uptime) + " seconds");
  put("$SYS/broker/clients/connected", std::to_string(s.clients_connected));
  put("$SYS/broker/clients/total", std::to_string(s.sessions));
  put("$SYS/broker/clients/disconnected",
      std::to_string(s.sessions > s.clients_connected ? s.sessions - s.clients_connected : 0));
  put("$SYS/broker/messages/received", std::to_string(s.messages_received));
  put("$SYS/broker/messages/sent", std::to_string(s.messages_sent));
  put("$SYS/broker/publish/messages/dropped", std::to_string(s.messages_dropped));
  put("$SYS/broker/bytes/received", std::to_string(s.bytes_received));
  put("$SYS/broker/bytes/sent", std::to_string(s.bytes_sent));
  put("$SYS/broker/subscriptions/count", std::to_string(s.subscriptions));
  put("$SYS/broker/retained messages/count", std::to_string(s.retained));
}

void Engine::shutdown(Time now) {
  for (auto& [id, link] : links_) {
    if (link.conn.state() == Connection::State::connected) {
      link.conn.disconnect(Disconnect{ReasonCode::server_shutting_down, {}, {}}, now);
    } else {
      link.conn.close(CloseCause::disconnect_sent, now);
    }
    schedule(link);
  }
  process(now);
}

std::optional<Engine::Output> Engine::poll_output() {
  while (!dirty_.empty()) {
    const ConnectionId id = dirty_.pop();
    const auto it = links_.find(id);
    if (it == links_.end()) continue;
    it->second.in_dirty = false;
    Output out;
    out.id = id;
    it->second.conn.poll_transmit(out.bytes);
    out.close_after = it->second.stage == Stage::closing;
    if (out.bytes.empty() && !out.close_after) continue;
    counters_.bytes_sent += out.bytes.size();
    return out;
  }
  return std::nullopt;
}

std::optional<Time> Engine::next_deadline() const {
  std::optional<Time> t;
  if (!deadlines_.empty()) t = deadlines_.front().first;  // maybe early: see deadlines_
  if (!session_timers_.empty() && (!t || session_timers_.begin()->first < *t)) {
    t = session_timers_.begin()->first;
  }
  if (next_sys_ && (!t || *next_sys_ < *t)) t = next_sys_;
  return t;
}

std::optional<Engine::Handoff> Engine::poll_handoff() {
  if (handoffs_.empty()) return std::nullopt;
  Handoff h = std::move(handoffs_.front());
  handoffs_.pop_front();
  return h;
}

std::optional<Engine::Forward> Engine::poll_forward() {
  if (forwards_.empty()) return std::nullopt;
  Forward f = std::move(forwards_.front());
  forwards_.pop_front();
  return f;
}

std::optional<Engine::Drain> Engine::poll_drain() {
  if (drains_.empty()) return std::nullopt;
  const Drain d = drains_.front();
  drains_.pop_front();
  return d;
}

void Engine::resume(ConnectionId waiting, Time now) {
  const auto it = links_.find(waiting);
  if (it == links_.end() || it->second.stage != Stage::parked) return;
  Link& link = it->second;
  link.to(Stage::drained);
  // The connection keeps its CONNECT until it is answered; a copy, as
  // answering it frees the connection's.
  if (const Connect* parked = link.conn.connect_packet()) {
    const Connect connect = *parked;
    on_connect(link, connect, now);
  }
  schedule(link);
  process(now);
}

ConnectionId Engine::adopt(Handoff handoff, Time now) {
  const ConnectionId id = next_id_++;
  Link& l = links_.try_emplace(id, id, std::move(*handoff.connection)).first->second;
  l.peer = std::move(handoff.peer);
  on_connect(l, handoff.connect, now);
  schedule(l);
  process(now);
  return id;
}

void Engine::handoff(Link& link, const Connect& connect) {
  Handoff h;
  h.id = link.id;
  h.shard = home_shard(connect.client_id, shard_.count);
  h.connection = std::make_unique<Connection>(std::move(link.conn));
  h.connect = connect;
  h.peer = link.peer;
  link.to(Stage::handed_off);
  handoffs_.push_back(std::move(h));
}

void Engine::deliver_forwarded(Forward forward, Time now) {
  for (Forward::Target& t : forward.targets) {
    const auto it = sessions_.find(t.client_id);
    if (it == sessions_.end() || it->second->incarnation != t.incarnation) {
      // The session ended after the message was routed.
      dropped(t.client_id, forward.message, DropReason::session_ended);
      continue;
    }
    deliver(*it->second, copy_for(forward.message, t.qos, t.retain, t.identifiers), now);
  }
  process(now);
}

EngineStats Engine::stats() const {
  EngineStats s = counters_;
  s.connections = links_.size();
  s.sessions = sessions_.size();
  {
    Reading r(shard_.lock);
    s.subscriptions = routing_.subscriptions.size() + routing_.shared.size();
    s.retained = routing_.retained.size();
  }
  s.clients_connected =
      static_cast<std::size_t>(std::count_if(links_.begin(), links_.end(), [](const auto& l) {
        return l.second.conn.state() == Connection::State::connected;
      }));
  return s;
}

// ---- the event loop ---------------------------------------------------------

// Handles events of every connection that may have some, until none has:
// routing a message to one connection gives that one events too.
void Engine::process(Time now) {
  while (!work_.empty()) {
    const ConnectionId id = work_.pop();
    const auto it = links_.find(id);
    if (it == links_.end()) continue;
    Link& link = it->second;
    link.in_work = false;
    while (link.stage != Stage::handed_off && link.stage != Stage::parked) {
      auto e = link.conn.poll_event();
      if (!e) break;
      on_event(link, *e, now);
    }
    if (link.shrink) {
      link.shrink = false;
      link.conn.shrink();
    }
    if (link.stage == Stage::handed_off) {
      links_.erase(id);
      continue;
    }
    if (!link.client_id().empty()) {
      mark_session(link.client_id());
      if (shard_.count > 1) {
        if (const auto s = sessions_.find(link.client_id()); s != sessions_.end()) {
          update_congestion(*s->second);
        }
      }
    }
    // Only this loop erases links (on_event never calls process()), so
    // `link` is still in links_ here.
    mark_dirty(link);
    if (link.conn.state() == Connection::State::closed) {
      links_.erase(id);  // its deadline entry, if any, is skipped when it comes
    } else {
      touch(link);
    }
  }
  save();  // before any output of this input can leave
}

// ---- persistence --------------------------------------------------------------

void Engine::mark_session(const std::string& client_id) {
  if (config_.store) unsaved_sessions_.insert(client_id);
}

void Engine::mark_retained(const std::string& topic) {
  if (config_.store) unsaved_retained_.insert(topic);
}

void Engine::save() {
  if (!config_.store || (unsaved_sessions_.empty() && unsaved_retained_.empty())) return;
  Store& store = *config_.store;
  for (const std::string& id : unsaved_sessions_) {
    const auto it = sessions_.find(id);
    if (it == sessions_.end()) {
      store.erase_session(id);
    } else {
      store.put_session(id, session_record(*it->second));
    }
  }
  for (const std::string& topic : unsaved_retained_) {
    const auto it = routing_.retained.find(topic);
    if (it == routing_.retained.end()) {
      store.erase_retained(topic);
    } else {
      Bytes record;
      put_u8(record, record_format);
      put_message(record, it->second.message);
      store.put_retained(topic, std::move(record));
    }
  }
  unsaved_sessions_.clear();
  unsaved_retained_.clear();
  store.sync();
}

// A session record: format, protocol version, expiry, subscriptions, the
// Will (with its delay), then the Session (in flight, queued, QoS 2 ids) in
// its own versioned form. The session of a connected client is the one its
// Connection holds.
Bytes Engine::session_record(const StoredSession& s) const {
  Bytes out;
  put_u8(out, record_format);
  put_u8(out, static_cast<std::uint8_t>(s.version));
  put_u32(out, s.expiry_interval);
  put_u32(out, static_cast<std::uint32_t>(s.subscriptions.size()));
  for (const auto& [filter, sub] : s.subscriptions) {
    put_text(out, filter);
    put_u8(out, static_cast<std::uint8_t>(sub.options.qos));
    put_u8(out, static_cast<std::uint8_t>(
                    (sub.options.no_local ? 1 : 0) | (sub.options.retain_as_published ? 2 : 0) |
                    (sub.options.retain_handling << 2) | (sub.shared ? 0x10 : 0)));
    put_u8(out, sub.identifier ? 1 : 0);
    put_u32(out, sub.identifier.value_or(0));
  }
  put_u8(out, s.will ? 1 : 0);
  if (s.will) {
    put_u32(out, static_cast<std::uint32_t>(
                     s.will->properties.integer(PropertyId::will_delay_interval).value_or(0)));
    Publish w;
    w.topic = s.will->topic;
    w.qos = s.will->qos;
    w.retain = s.will->retain;
    w.payload = s.will->payload;
    w.properties = s.will->properties;
    w.properties.erase(PropertyId::will_delay_interval);
    put_message(out, std::move(w));
  }
  put_blob(out, current_session(s).serialize());
  return out;
}

std::unique_ptr<Engine::StoredSession> Engine::parse_session_record(const std::string& client_id,
                                                                    ByteView record) const {
  RecordReader r(record);
  if (r.u8() != record_format) return nullptr;
  auto s = std::make_unique<StoredSession>();
  s->client_id = client_id;
  const std::uint8_t version = r.u8();
  if (version != static_cast<std::uint8_t>(Version::v3_1_1) &&
      version != static_cast<std::uint8_t>(Version::v5)) {
    return nullptr;
  }
  s->version = static_cast<Version>(version);
  s->expiry_interval = r.u32();
  const std::uint32_t n = r.u32();
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    std::string filter = r.text();
    Subscription sub;
    sub.options.qos = static_cast<QoS>(std::min<std::uint8_t>(r.u8(), 2));
    const std::uint8_t flags = r.u8();
    sub.options.no_local = (flags & 1) != 0;
    sub.options.retain_as_published = (flags & 2) != 0;
    sub.options.retain_handling = static_cast<std::uint8_t>((flags >> 2) & 3);
    sub.shared = (flags & 0x10) != 0;
    const bool has_id = r.u8() != 0;
    const std::uint32_t id = r.u32();
    if (has_id) sub.identifier = id;
    s->subscriptions[std::move(filter)] = sub;
  }
  if (r.u8() != 0) {
    const std::uint32_t delay = r.u32();
    auto w = get_message(r);
    if (!w) return nullptr;
    Will will;
    will.topic = std::move(w->topic);
    will.qos = w->qos;
    will.retain = w->retain;
    will.payload = w->payload;
    will.properties = std::move(w->properties);
    if (delay > 0) will.properties.add(PropertyId::will_delay_interval, delay);
    s->will = std::make_unique<StoredSession::StoredWill>(std::move(will));
  }
  const ByteView session = r.blob();
  if (!r.done()) return nullptr;
  auto parsed = Session::parse(session);
  if (!parsed) return nullptr;
  s->session = std::make_unique<Session>(std::move(*parsed));
  s->session->set_limits(config_.session_limits);
  return s;
}

// The broker starts from its store. Every session's connection ended with
// the restart: as on a network failure, its Will is published (after its
// delay) and its expiry counts from now; a session that expired on
// disconnect ends now.
void Engine::restore(Time now) {
  const Store::Contents contents = config_.store->load();
  for (const auto& [topic, record] : contents.retained) {
    RecordReader r(record);
    if (r.u8() != record_format) continue;
    auto message = get_message(r);
    if (!message || !r.done()) continue;
    routing_.retained[topic] = Routing::Retained{std::move(*message), now};
  }
  std::vector<std::string> restored;
  for (const auto& [client_id, record] : contents.sessions) {
    auto s = parse_session_record(client_id, record);
    if (!s) {
      ++counters_.messages_dropped;  // an unreadable record: nothing to resume
      mark_session(client_id);       // and it is removed
      continue;
    }
    s->incarnation = next_incarnation_++;
    for (const auto& [filter, sub] : s->subscriptions) {
      const auto shared = sub.shared ? parse_shared_filter(filter) : std::nullopt;
      if (shared) {
        routing_.shared.insert(shared->filter, std::string(shared->share_name) + '\0' + client_id,
                               Routing::SharedEntry{std::string(shared->share_name), client_id, sub,
                                                    0, s->incarnation, false, nullptr});
      } else {
        routing_.subscriptions.insert(filter, client_id,
                                      Routing::Entry{sub, 0, s->incarnation, nullptr});
      }
    }
    restored.push_back(client_id);
    sessions_.emplace(s->client_id, std::move(s));  // the key views the session's id
  }
  for (const std::string& id : restored) {
    const auto it = sessions_.find(id);
    if (it == sessions_.end()) continue;  // ended by an earlier one's Will? (not possible)
    went_offline(*it->second, now);
    mark_session(id);
  }
  process(now);
}

void Engine::schedule(Link& link) {
  if (link.in_work) return;
  link.in_work = true;
  work_.ids.push_back(link.id);
}

void Engine::mark_dirty(Link& link) {
  if (link.in_dirty) return;
  link.in_dirty = true;
  dirty_.ids.push_back(link.id);
}

void Engine::touch(Link& link) {
  const std::optional<Time> next = link.conn.next_deadline();
  if (!next || *next >= link.armed) return;  // the armed entry comes first
  link.armed = *next;
  deadlines_.emplace_back(*next, link.id);
  std::push_heap(deadlines_.begin(), deadlines_.end(), std::greater<>{});
  if (deadlines_.size() > 2 * links_.size() + 64) rebuild_deadlines();
}

// Only the entries that count: one per connection with a deadline.
void Engine::rebuild_deadlines() {
  deadlines_.clear();
  for (const auto& [id, link] : links_) {
    if (link.armed != never) deadlines_.emplace_back(link.armed, id);
  }
  std::make_heap(deadlines_.begin(), deadlines_.end(), std::greater<>{});
}

void Engine::arm(StoredSession& s) {
  std::optional<Time> t = s.will ? s.will->at : std::nullopt;
  if (s.expires_at != never && !s.link && (!t || s.expires_at < *t)) t = s.expires_at;
  if (t) session_timers_.insert({*t, s.client_id});
}

void Engine::on_event(Link& link, Event& e, Time now) {
  if (const auto* c = std::get_if<event::ConnectReceived>(&e)) {
    on_connect(link, c->connect, now);
  } else if (auto* m = std::get_if<event::MessageReceived>(&e)) {
    ++counters_.messages_received;
    Publish& message = m->message;
    ReasonCode refusal = ReasonCode::success;
    if (topic_levels(message.topic) > config_.max_topic_levels) {
      refusal = ReasonCode::topic_name_invalid;
    } else if (!config_.authorizer->may_publish(link.principal(), message.topic)) {
      refusal = ReasonCode::not_authorized;
    }
    bool full = false;
    const bool planted_loss = config_.planted_bug == PlantedBug::lose_qos2_after_pubrec &&
                              message.qos == QoS::exactly_once;
    const std::size_t n = refusal == ReasonCode::success && !planted_loss
                              ? route(message, link.client_id(), now, &full)
                              : 0;
    if (full) {
      refusal = ReasonCode::quota_exceeded;
      // 3.1.1 cannot refuse a PUBLISH: the connection closes without the
      // acknowledgement, and the client sends the message again later.
      if (link.conn.version() != Version::v5) {
        ++counters_.messages_dropped;
        // Its id is forgotten too: the resend is a new message, not a
        // duplicate of one never taken.
        if (m->awaiting_ack) link.conn.abandon(message.packet_id);
        link.conn.close(CloseCause::disconnect_sent, now);
        return;
      }
    }
    if (refusal != ReasonCode::success) ++counters_.messages_dropped;
    if (m->awaiting_ack) {
      // 0x10 tells a 5.0 publisher that nobody got it; the message is owned
      // either way [MQTT-4.3.2-4], [MQTT-4.3.3-8]. (The Connection sends a
      // 3.1.1 publisher, who cannot be refused, a plain acknowledgement.)
      const ReasonCode rc = refusal != ReasonCode::success ? refusal
                            : n == 0                       ? ReasonCode::no_matching_subscribers
                                                           : ReasonCode::success;
      link.conn.acknowledge(message.packet_id, now, rc);
    }
  } else if (const auto* s = std::get_if<event::SubscribeReceived>(&e)) {
    on_subscribe(link, s->subscribe, now);
    link.shrink = true;
  } else if (const auto* u = std::get_if<event::UnsubscribeReceived>(&e)) {
    on_unsubscribe(link, u->unsubscribe, now);
    link.shrink = true;
  } else if (const auto* d = std::get_if<event::PublishCompleted>(&e)) {
    if (d->outcome == Outcome::acknowledged) ++counters_.messages_sent;
    if (d->outcome == Outcome::discarded || d->outcome == Outcome::expired) {
      ++counters_.messages_dropped;
    }
  } else if (std::holds_alternative<event::CloseRequested>(e)) {
    link.to(Stage::closing);
  } else if (const auto* closed = std::get_if<event::Closed>(&e)) {
    on_closed(link, *closed, now);
  } else if (const auto* a = std::get_if<event::AuthReceived>(&e)) {
    (void)a;  // no enhanced authenticator is configured: refused at CONNECT
  }
}

// ---- connecting -------------------------------------------------------------

void Engine::on_connect(Link& link, const Connect& c, Time now) {
  // The connection failed while its CONNECT waited (a parked CONNECT past
  // its timeout, say): nothing to answer, and no session may be given to a
  // connection that would drop it.
  if (link.conn.ended()) return;
  link.shrink = true;  // answered below (or handed off): it may stay idle now
  if (shard_.count > 1 && link.stage == Stage::fresh && !c.client_id.empty() &&
      home_shard(c.client_id, shard_.count) != shard_.index) {
    return handoff(link, c);  // its home shard answers the CONNECT
  }
  const bool v5 = c.version == Version::v5;
  // 5.0 codes throughout: Connection::reject() gives a 3.1.1 client the
  // return code of the same meaning (for_version).
  const auto refuse = [&](ReasonCode rc) {
    link.to(Stage::answered);
    link.conn.reject(Connack{false, rc, {}}, now);
  };
  std::string client_id = c.client_id;
  Connack ack;
  if (client_id.empty()) {
    if (!config_.assign_client_ids) return refuse(ReasonCode::client_identifier_not_valid);
    // A unique id [MQTT-3.1.3-6], returned in 5.0 [MQTT-3.1.3-7], [MQTT-3.2.2-16].
    // One this shard owns: no other shard can assign or hold it.
    do {
      client_id = "assay-" + std::to_string(next_assigned_++);
    } while (sessions_.contains(client_id) || home_shard(client_id, shard_.count) != shard_.index);
    if (v5) ack.properties.add(PropertyId::assigned_client_identifier, client_id);
  } else if (client_id.size() < config_.minimum_client_id_length) {
    return refuse(ReasonCode::client_identifier_not_valid);  // [MQTT-3.1.3-8]
  }
  if (c.properties.contains(PropertyId::authentication_method)) {
    return refuse(ReasonCode::bad_authentication_method);  // [MQTT-4.12.0-1]
  }
  if (const ReasonCode rc = config_.authenticator->authenticate(c, ConnectContext{link.peer, now});
      rc != ReasonCode::success) {
    return refuse(rc);
  }
  if (c.will) {
    // A Will is a publish of its client's: checked now and when it fires,
    // and never to $SYS (EMQX #8978).
    const Principal who{client_id,
                        c.username ? std::optional<std::string_view>(*c.username) : std::nullopt};
    if (c.will->topic.starts_with("$SYS/") ||
        !config_.authorizer->may_publish(who, c.will->topic)) {
      return refuse(ReasonCode::not_authorized);
    }
    if (c.will->qos > config_.maximum_qos) return refuse(ReasonCode::qos_not_supported);
    if (c.will->retain && !config_.retain_available) {
      return refuse(ReasonCode::retain_not_supported);  // [MQTT-3.2.2-13]
    }
  }

  // Session expiry: 5.0 from CONNECT (capped); 3.1.1 CleanSession=0 keeps it.
  std::uint32_t expiry = 0;
  if (v5) {
    expiry = c.properties.integer(PropertyId::session_expiry_interval).value_or(0);
    if (expiry > config_.maximum_session_expiry) {
      expiry = config_.maximum_session_expiry;
      ack.properties.add(PropertyId::session_expiry_interval, expiry);
    }
  } else if (!c.clean_start) {
    expiry = session_never_expires;
  }

  // Takeover: the connection holding this client id is closed [MQTT-3.1.4-3]
  // and its session moves to the new one; first, with drain_before_takeover,
  // what the old connection still has to say is read.
  auto it = sessions_.find(client_id);
  if (config_.drain_before_takeover && link.stage != Stage::drained && it != sessions_.end() &&
      it->second->link && links_.contains(it->second->link)) {
    link.to(Stage::parked);  // the CONNECT stays in link.conn until answered
    drains_.push_back(Drain{it->second->link, link.id});
    return;
  }
  if (it != sessions_.end() && it->second->link) {
    StoredSession& old = *it->second;
    if (const auto l = links_.find(old.link); l != links_.end()) {
      Link& other = l->second;
      other.conn.disconnect(Disconnect{ReasonCode::session_taken_over, {}, {}}, now);
      old.session = std::make_unique<Session>(other.conn.take_session());
      // It has no session now: its Closed event no longer concerns this one.
      schedule(other);
    }
    old.link = 0;
    set_shared_online(old, false);
    // The old connection's Will: a resumed session with a Will Delay cancels
    // it [MQTT-3.1.3-9]; otherwise it is published now.
    const bool delayed =
        old.will && old.will->properties.integer(PropertyId::will_delay_interval).value_or(0) > 0;
    if (old.will && (c.clean_start || !delayed)) fire_will(old, now);
    old.will.reset();
    if (config_.planted_bug == PlantedBug::drop_session_on_takeover && !c.clean_start) {
      end_session(client_id, now);
      it = sessions_.end();
    }
  }
  bool present = false;
  if (it != sessions_.end()) {
    if (c.clean_start) {
      end_session(client_id, now);  // [MQTT-3.1.2-4]; a pending Will goes out now
    } else {
      present = true;  // [MQTT-3.1.2-5]
    }
  }
  if (!present) {
    auto fresh = std::make_unique<StoredSession>();
    fresh->client_id = client_id;
    fresh->session = std::make_unique<Session>(client_id, config_.session_limits);
    fresh->incarnation = next_incarnation_++;
    if (shard_.count > 1) fresh->congested = std::make_shared<std::atomic<bool>>(false);
    it = sessions_.emplace(fresh->client_id, std::move(fresh)).first;  // views its id
  }
  StoredSession& s = *it->second;
  // A new connection before the Will Delay ends cancels the Will [MQTT-3.1.3-9].
  s.expires_at = never;
  s.will = c.will ? std::make_unique<StoredSession::StoredWill>(*c.will) : nullptr;
  s.expiry_interval = expiry;
  s.version = c.version;
  s.link = link.id;
  set_shared_online(s, true);
  if (c.username) link.username = std::make_unique<std::string>(*c.username);
  s.username = c.username;
  if (!s.session) s.session = std::make_unique<Session>(client_id, config_.session_limits);
  s.session->set_expiry_interval(expiry);

  ack.session_present = present;  // [MQTT-3.2.2-2], [MQTT-3.2.2-3]
  if (v5) {
    Properties& p = ack.properties;
    if (config_.receive_maximum != default_receive_maximum)
      p.add(PropertyId::receive_maximum, config_.receive_maximum);
    if (config_.topic_alias_maximum > 0) {
      p.add(PropertyId::topic_alias_maximum, config_.topic_alias_maximum);
    }
    if (config_.maximum_qos != QoS::exactly_once) {
      p.add(PropertyId::maximum_qos, static_cast<std::uint32_t>(config_.maximum_qos));
    }
    if (!config_.retain_available) p.add(PropertyId::retain_available, 0u);
    p.add(PropertyId::maximum_packet_size, config_.maximum_packet_size);
    if (config_.server_keep_alive) {
      p.add(PropertyId::server_keep_alive, std::uint32_t{*config_.server_keep_alive});
    }
  }
  link.to(Stage::answered);
  if (config_.planted_bug == PlantedBug::forget_inflight_on_resume && present) {
    Session emptied(s.session->client_id(), config_.session_limits);
    emptied.set_expiry_interval(s.session->expiry_interval());
    *s.session = std::move(emptied);
  }
  link.conn.accept(std::move(ack), std::move(*s.session), now);
  s.session.reset();
}

void Engine::on_closed(Link& link, const event::Closed& closed, Time now) {
  if (link.client_id().empty()) return;  // never accepted
  const auto it = sessions_.find(link.client_id());
  if (it == sessions_.end() || it->second->link != link.id) return;
  StoredSession& s = *it->second;
  s.session = std::make_unique<Session>(link.conn.take_session());
  s.link = 0;
  set_shared_online(s, false);
  if (!closed.publish_will && config_.planted_bug != PlantedBug::will_on_normal_disconnect) {
    s.will.reset();  // [MQTT-3.1.2-10], [MQTT-3.14.4-3]
  }
  // Stored without its Will (or its Will's time): a restart must not
  // publish a Will the DISCONNECT took away.
  mark_session(s.client_id);
  went_offline(s, now);
}

// A session without a connection: it ends now when its expiry is 0 (its
// Will, if any, going out with it), or else waits for its expiry, its Will
// published after the Will Delay or at the session's end, whichever first.
void Engine::went_offline(StoredSession& s, Time now) {
  const std::uint32_t expiry = current_session(s).expiry_interval();  // DISCONNECT may change it
  if (expiry == 0) {
    end_session(s.client_id, now);
    return;
  }
  if (expiry != session_never_expires) s.expires_at = now + std::chrono::seconds(expiry);
  if (s.will) {
    const std::uint32_t delay =
        s.will->properties.integer(PropertyId::will_delay_interval).value_or(0);
    if (delay == 0) {
      fire_will(s, now);
    } else {
      s.will->at = now + std::chrono::seconds(std::min(delay, expiry));
    }
  }
  arm(s);
}

void Engine::end_session(const std::string& client_id, Time now) {
  const auto it = sessions_.find(client_id);
  if (it == sessions_.end()) return;
  StoredSession& s = *it->second;
  if (s.will) fire_will(s, now);  // the session ended before the delay [MQTT-3.1.2-8]
  mark_session(client_id);
  std::vector<std::string> filters;
  for (const auto& [filter, sub] : s.subscriptions)
    filters.push_back(filter);
  for (const auto& f : filters)
    remove_subscription(s, f);
  sessions_.erase(it);
}

void Engine::fire_will(StoredSession& s, Time now) {
  if (!s.will) return;
  Will will = std::move(static_cast<Will&>(*s.will));
  s.will.reset();
  mark_session(s.client_id);  // published once: not again after a restart
  Publish message;
  message.topic = std::move(will.topic);
  message.qos = will.qos;
  message.retain = will.retain;  // [MQTT-3.1.2-14], [MQTT-3.1.2-15]
  message.payload = will.payload;
  message.properties = std::move(will.properties);
  message.properties.erase(PropertyId::will_delay_interval);
  const std::string publisher = s.client_id;
  // Rights may have changed since CONNECT (a reload); a Will delayed past a
  // restart is checked here too.
  if (!config_.authorizer->may_publish(s.principal(), message.topic)) return;
  route(message, publisher, now);
}

// ---- subscriptions ----------------------------------------------------------

void Engine::on_subscribe(Link& link, const Subscribe& sub, Time now) {
  StoredSession& s = *sessions_.at(link.client_id());
  const bool v5 = s.version == Version::v5;
  // 5.0 codes throughout: Connection::suback() gives a 3.1.1 client 0x80
  // for each refusal (for_version).
  Suback ack;
  ack.packet_id = sub.packet_id;
  const auto id = sub.properties.integer(PropertyId::subscription_identifier);
  std::vector<std::pair<std::string, Subscription>> retained_to_send;
  for (const auto& entry : sub.subscriptions) {
    const auto existing = s.subscriptions.find(entry.filter);
    const bool exists = existing != s.subscriptions.end();
    if (!exists && s.subscriptions.size() >= config_.max_subscriptions_per_client) {
      ack.reason_codes.push_back(ReasonCode::quota_exceeded);
      continue;
    }
    if (topic_levels(entry.filter) > config_.max_topic_levels) {
      ack.reason_codes.push_back(ReasonCode::topic_filter_invalid);
      continue;
    }
    // "$share/g/f" is authorised exactly as "f" (5.0; in 3.1.1 it is a filter).
    const auto as_shared =
        s.version == Version::v5 ? parse_shared_filter(entry.filter) : std::nullopt;
    const std::string_view checked = as_shared ? as_shared->filter : std::string_view(entry.filter);
    if (!config_.authorizer->may_subscribe(link.principal(), checked)) {
      ack.reason_codes.push_back(ReasonCode::not_authorized);
      continue;
    }
    Subscription granted{entry.options, id};
    granted.options.qos = std::min(entry.options.qos, config_.maximum_qos);  // [MQTT-3.2.2-10]
    if (!v5) granted.options = SubscribeOptions{granted.options.qos, false, false, 0};
    const auto shared = v5 ? parse_shared_filter(entry.filter) : std::nullopt;
    granted.shared = shared.has_value();
    if (exists && existing->second.shared != granted.shared) {
      remove_subscription(s, entry.filter);  // same text, other kind: replace cleanly
    }
    s.subscriptions[entry.filter] = granted;  // replaces an identical filter [MQTT-3.8.4-3]
    const auto shard = static_cast<std::uint32_t>(shard_.index);
    if (shared) {
      Writing w(shard_.lock);
      routing_.shared.insert(
          shared->filter, std::string(shared->share_name) + '\0' + s.client_id,
          Routing::SharedEntry{std::string(shared->share_name), s.client_id, granted, shard,
                               s.incarnation, true, s.congested});
    } else {
      {
        Writing w(shard_.lock);
        routing_.subscriptions.insert(entry.filter, s.client_id,
                                      Routing::Entry{granted, shard, s.incarnation, s.congested});
      }
      // Retain Handling [MQTT-3.3.1-9..11]; none for shared subscriptions.
      const auto rh = granted.options.retain_handling;
      if (rh == 0 || (rh == 1 && !exists)) retained_to_send.emplace_back(entry.filter, granted);
    }
    ack.reason_codes.push_back(static_cast<ReasonCode>(granted.options.qos));  // [MQTT-3.8.4-7]
  }
  link.conn.suback(std::move(ack), now);  // [MQTT-3.8.4-1]
  for (const auto& [filter, granted] : retained_to_send)
    send_retained(s, filter, granted, now);
}

void Engine::on_unsubscribe(Link& link, const Unsubscribe& u, Time now) {
  StoredSession& s = *sessions_.at(link.client_id());
  Unsuback ack;
  ack.packet_id = u.packet_id;
  for (const auto& filter : u.filters) {
    // Compared character by character [MQTT-3.10.4-1].
    const bool existed = s.subscriptions.contains(filter);
    if (existed) remove_subscription(s, filter);
    ack.reason_codes.push_back(existed ? ReasonCode::success : ReasonCode::no_subscription_existed);
  }
  link.conn.unsuback(std::move(ack), now);  // [MQTT-3.10.4-4], [MQTT-3.10.4-5]
}

void Engine::remove_subscription(StoredSession& s, const std::string& filter) {
  const auto it = s.subscriptions.find(filter);
  if (it == s.subscriptions.end()) return;
  {
    Writing w(shard_.lock);
    if (const auto shared = parse_shared_filter(filter); shared && it->second.shared) {
      routing_.shared.erase(shared->filter, std::string(shared->share_name) + '\0' + s.client_id);
    } else {
      routing_.subscriptions.erase(filter, s.client_id);
    }
  }
  s.subscriptions.erase(it);
}

// Shared subscriptions prefer members with a connection, in every shard.
void Engine::set_shared_online(StoredSession& s, bool online) {
  for (const auto& [filter, sub] : s.subscriptions) {
    if (!sub.shared) continue;
    const auto shared = parse_shared_filter(filter);
    if (!shared) continue;
    const std::string key = std::string(shared->share_name) + '\0' + s.client_id;
    Writing w(shard_.lock);
    if (const auto* e = routing_.shared.find(shared->filter, key)) {
      Routing::SharedEntry changed = *e;
      changed.online = online;
      routing_.shared.insert(shared->filter, key, std::move(changed));
    }
  }
}

void Engine::send_retained(StoredSession& s, const std::string& filter, const Subscription& sub,
                           Time now) {
  Writing w(shard_.lock);  // expired messages are removed on the way
  for (auto it = routing_.retained.begin(); it != routing_.retained.end();) {
    const auto& [topic, stored] = *it;
    if (!topic_matches(filter, topic)) {
      ++it;
      continue;
    }
    // A retained message whose Message Expiry Interval has passed is gone;
    // otherwise it goes out with what is left of the interval
    // [MQTT-3.3.2-5], [MQTT-3.3.2-6].
    Publish message = stored.message;
    if (!age_message_expiry(message, stored.stored_at, now)) {
      mark_retained(topic);
      it = routing_.retained.erase(it);
      continue;
    }
    // Retained deliveries keep RETAIN=1 [MQTT-3.3.1-9].
    deliver(s,
            copy_for(message, std::min(message.qos, sub.options.qos),
                     config_.planted_bug != PlantedBug::retained_without_retain_flag,
                     identifiers_of(sub.identifier)),
            now);
    ++it;
  }
}

// ---- routing ----------------------------------------------------------------

std::size_t Engine::route(const Publish& message, const std::string& publisher, Time now,
                          bool* refused) {
  // Only a retained message changes the shared state; other routing reads.
  std::optional<Reading> reading;
  std::optional<Writing> writing;
  if (message.retain) {
    writing.emplace(shard_.lock);
  } else {
    reading.emplace(shard_.lock);
  }
  // One copy per session, at the highest QoS of its matching subscriptions,
  // with all their identifiers [MQTT-3.3.4-2], [MQTT-3.3.4-3], [MQTT-3.3.4-4].
  // One per matching subscription, merged below. The vector is the
  // engine's, kept between messages (a nested route() would make its own).
  using Target = RouteTarget;
  std::vector<Target> targets = std::move(route_targets_);
  targets.clear();
  struct GiveBack {
    std::vector<Target>& keep;
    std::vector<Target>& used;
    ~GiveBack() {
      used.clear();
      if (used.capacity() <= 1024) keep = std::move(used);
    }
  } give_back{route_targets_, targets};
  const std::size_t filters = routing_.subscriptions.match(
      message.topic, [&](const std::string& client, const Routing::Entry& e) {
        const Subscription& sub = e.subscription;
        if (sub.options.no_local && client == publisher) return;  // [MQTT-3.8.3-3]
        Target t{&client,
                 e.shard,
                 e.incarnation,
                 e.congested.get(),
                 std::min(message.qos, sub.options.qos),
                 // Retain As Published [MQTT-3.3.1-12], [MQTT-3.3.1-13].
                 sub.options.retain_as_published && message.retain,
                 {}};
        if (sub.identifier) t.identifiers.push_back(*sub.identifier);
        targets.push_back(std::move(t));
      });
  // A session with several matching filters gets one copy: merged here.
  // With one filter, every target is a different session already.
  if (targets.size() > 1 && filters > 1) {
    std::sort(targets.begin(), targets.end(),
              [](const Target& a, const Target& b) { return *a.client < *b.client; });
    std::size_t out = 0;
    for (std::size_t i = 0; i < targets.size();) {
      Target t = std::move(targets[i]);
      std::size_t j = i + 1;
      for (; j < targets.size() && *targets[j].client == *t.client; ++j) {
        t.qos = std::max(t.qos, targets[j].qos);
        t.retain = t.retain || targets[j].retain;
        t.identifiers.insert(t.identifiers.end(), targets[j].identifiers.begin(),
                             targets[j].identifiers.end());
      }
      targets[out++] = std::move(t);
      i = j;
    }
    targets.resize(out);
  }
  // Shared subscriptions: one subscriber per group, in turn, preferring
  // connected ones (docs/broker.md).
  if (!routing_.shared.empty()) {
    std::map<std::string, std::vector<const Routing::SharedEntry*>> groups;
    routing_.shared.match(message.topic, [&](const std::string&, const Routing::SharedEntry& e) {
      groups[e.group].push_back(&e);
    });
    for (auto& [group, entries] : groups) {
      std::vector<const Routing::SharedEntry*> online;
      for (const auto* e : entries) {
        if (e->online) online.push_back(e);
      }
      const auto& pool = online.empty() ? entries : online;
      const Routing::SharedEntry& chosen = *pool[shared_turn_[group]++ % pool.size()];
      const Subscription& sub = chosen.subscription;
      targets.push_back(Target{
          &chosen.client_id, chosen.shard, chosen.incarnation, chosen.congested.get(),
          std::min(message.qos, sub.options.qos),  // [MQTT-4.8.2-3]
          sub.options.retain_as_published && message.retain, identifiers_of(sub.identifier)});
    }
  }
  // A QoS 1/2 copy that a session's full queue cannot take: the message is
  // refused as a whole, before anything is delivered or retained, so the
  // publisher is never told a message was taken that some subscriber lost
  // (docs/broker.md, "Full queues").
  for (Target& t : targets) {
    if (t.shard != shard_.index) continue;
    if (const auto it = sessions_.find(*t.client); it != sessions_.end()) {
      t.session = it->second.get();
    }
  }
  if (refused != nullptr) {
    for (const Target& t : targets) {
      if (t.qos == QoS::at_most_once) continue;
      bool room = true;
      if (t.shard != shard_.index) {
        room = t.congested == nullptr || !t.congested->load(std::memory_order_relaxed);
      } else if (t.session != nullptr) {
        room = has_room(*t.session, message);
      }
      if (!room) {
        *refused = true;
        return 0;
      }
    }
  }
  if (message.retain) {
    mark_retained(message.topic);
    auto& retained = routing_.retained;
    if (message.payload.empty()) {
      retained.erase(message.topic);  // [MQTT-3.3.1-6], [MQTT-3.3.1-7]
    } else if (retained.size() < config_.max_retained_messages ||
               retained.contains(message.topic)) {
      Publish stored = message;
      stored.dup = false;
      stored.packet_id = 0;
      retained[message.topic] = Routing::Retained{std::move(stored), now};  // [MQTT-3.3.1-5]
    }
  }
  // Copies for this shard's sessions now [MQTT-3.8.4-8]; one Forward per
  // other shard with its sessions' part.
  std::size_t given = 0;
  const std::size_t first_forward = forwards_.size();
  bool write_through = false;
  if (write_through_ && !config_.store) {
    const auto local = std::count_if(targets.begin(), targets.end(),
                                     [](const Target& t) { return t.session != nullptr; });
    write_through = static_cast<std::size_t>(local) >= write_through_min_;
  }
  for (Target& t : targets) {
    if (t.shard == shard_.index) {
      if (t.session == nullptr) continue;
      Link* link = deliver(*t.session, copy_for(message, t.qos, t.retain, t.identifiers), now);
      if (write_through && link != nullptr) write_now(*link);
      ++given;
      continue;
    }
    Forward* f = nullptr;
    for (auto i = forwards_.begin() + static_cast<std::ptrdiff_t>(first_forward);
         i != forwards_.end(); ++i) {
      if (i->shard == t.shard) f = &*i;
    }
    if (f == nullptr) {
      f = &forwards_.emplace_back();
      f->shard = t.shard;
      f->message = message;
      f->message.dup = false;
      f->message.packet_id = 0;
    }
    f->targets.push_back(
        Forward::Target{*t.client, t.incarnation, t.qos, t.retain, std::move(t.identifiers)});
    ++given;
  }
  return given;
}

// Offers what the connection has to transmit to write_through_.
void Engine::write_now(Link& link) {
  Connection& conn = link.conn;
  const mqtt::ByteView pending = conn.pending_transmit();
  if (pending.empty()) return;
  const std::size_t taken = std::min(write_through_(link.id, pending), pending.size());
  if (taken == 0) return;
  counters_.bytes_sent += taken;
  conn.consume_transmit(taken);
}

// The session's state: in its connection while it has one, else its own.
const Session& Engine::current_session(const StoredSession& s) const {
  if (s.link) {
    if (const auto l = links_.find(s.link); l != links_.end()) return l->second.conn.session();
  }
  static const Session none;
  return s.session ? *s.session : none;
}

bool Engine::has_room(const StoredSession& s, const Publish& message) const {
  return current_session(s).has_room(message);
}

// Other shards read a session's congestion without reaching its queue: set
// once the queue is three quarters full, so that a message they forward
// while it fills still has room (docs/broker.md, "Threads").
void Engine::update_congestion(StoredSession& s) {
  if (!s.congested) return;
  const Session& session = current_session(s);
  const SessionLimits& limits = session.limits();
  const bool congested = session.queue().size() * 4 >= limits.max_queued_messages * 3 ||
                         session.queued_bytes() * 4 >= limits.max_queued_bytes * 3;
  s.congested->store(congested, std::memory_order_relaxed);
}

Engine::Link* Engine::deliver(StoredSession& s, Publish message, Time now) {
  if (reads_checked_ && !config_.authorizer->may_read(s.principal(), message.topic)) {
    dropped(s.client_id, message, DropReason::not_authorized);
    return nullptr;
  }
  mark_session(s.client_id);
  if (s.link) {
    if (const auto it = links_.find(s.link); it != links_.end()) {
      Connection& conn = it->second.conn;
      if (!conn.can_publish(message.qos) && !conn.session().has_room(message)) {
        dropped(s.client_id, message, DropReason::queue_full);
        return &it->second;
      }
      conn.publish(std::move(message), now);
      schedule(it->second);
      return &it->second;
    }
  }
  // Offline: QoS 1/2 wait in the session [MQTT-4.5.0-1]; QoS 0 only if configured.
  if (message.qos == QoS::at_most_once && !config_.queue_qos0_offline) {
    dropped(s.client_id, message, DropReason::offline_qos0);
    return nullptr;
  }
  if (!s.session) s.session = std::make_unique<Session>(s.client_id, config_.session_limits);
  if (config_.planted_bug == PlantedBug::ack_before_store) unsaved_sessions_.erase(s.client_id);
  if (config_.planted_bug == PlantedBug::reorder_queue) {
    // Holds every other message back and queues it after the next.
    if (!s.held_back) {
      s.held_back = std::make_unique<Publish>(std::move(message));
      return nullptr;
    }
    s.session->enqueue(std::move(message), nullptr, now);
    message = std::move(*s.held_back);
    s.held_back.reset();
  }
  if (!s.session->has_room(message)) {
    dropped(s.client_id, message, DropReason::queue_full);
  } else {
    s.session->enqueue(std::move(message), nullptr, now);
  }
  update_congestion(s);
  return nullptr;
}

void Engine::dropped(const std::string& client_id, const Publish& message, DropReason why) {
  ++counters_.messages_dropped;
  if (config_.on_drop) config_.on_drop(client_id, message, why);
}

}  // namespace assay::broker
