#include "assay/broker/engine.hpp"

#include <algorithm>
#include <stdexcept>

#include "engine_internals.hpp"

namespace assay::broker {

using namespace assay::mqtt;
using namespace assay::broker::detail;

std::size_t home_shard(std::string_view client_id, std::size_t shards) {
  if (shards <= 1) return 0;
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, 64 bits
  for (const char c : client_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return static_cast<std::size_t>(h % shards);
}

std::shared_ptr<Routing> make_routing() {
  return std::make_shared<Routing>();
}

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
  if (!peer.empty()) link.origin_for_update().peer = peer;
  touch(link);
  ++counters_.connections;
  return id;
}

void Engine::set_identity(ConnectionId id, std::string identity) {
  const auto it = links_.find(id);
  if (it == links_.end() || identity.empty()) return;
  it->second.origin_for_update().identity = std::move(identity);
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
  if (!handoff.peer.empty() || !handoff.identity.empty()) {
    Link::Origin& origin = l.origin_for_update();
    origin.peer = std::move(handoff.peer);
    origin.identity = std::move(handoff.identity);
  }
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
  if (link.origin) {
    h.peer = std::move(link.origin->peer);
    h.identity = std::move(link.origin->identity);
  }
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
    if (link.origin && link.stage == Stage::answered && !link.origin->exchange &&
        link.conn.authentication_method() == nullptr) {
      link.origin.reset();  // done with it
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
    on_auth(link, a->auth, now);
    link.shrink = true;
  }
}

}  // namespace assay::broker
