// Routing: a published message to every matching session (this shard's,
// or forwarded to another's), with queue limits, congestion and drops.
#include "engine_internals.hpp"

namespace assay::broker {

using namespace assay::mqtt;
using namespace assay::broker::detail;

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
  // connected ones, among the members that may read the topic (a member the
  // ACL keeps from it is passed over, not given a copy to drop).
  if (!routing_.shared.empty()) {
    std::map<std::string, std::vector<const Routing::SharedEntry*>> groups;
    routing_.shared.match(message.topic, [&](const std::string&, const Routing::SharedEntry& e) {
      groups[e.group].push_back(&e);
    });
    const auto may_read = [&](const Routing::SharedEntry& e) {
      return !reads_checked_ ||
             config_.authorizer->may_read(
                 principal_of(e.client_id, e.username ? &*e.username : nullptr), message.topic);
    };
    // The member whose turn it is in `pool`, or the next one after it that
    // may read: usually one check per group.
    const auto next_reader = [&](const std::vector<const Routing::SharedEntry*>& pool,
                                 std::uint64_t turn) -> const Routing::SharedEntry* {
      for (std::size_t i = 0; i < pool.size(); ++i) {
        const Routing::SharedEntry* e = pool[(turn + i) % pool.size()];
        if (may_read(*e)) return e;
      }
      return nullptr;
    };
    for (auto& [group, entries] : groups) {
      std::vector<const Routing::SharedEntry*> online;
      for (const auto* e : entries) {
        if (e->online) online.push_back(e);
      }
      const std::uint64_t turn = shared_turn_[group]++;
      const Routing::SharedEntry* found = online.empty() ? nullptr : next_reader(online, turn);
      if (found == nullptr) found = next_reader(entries, turn);
      if (found == nullptr) continue;  // no member may read it
      const Routing::SharedEntry& chosen = *found;
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
