// Subscriptions: SUBSCRIBE and UNSUBSCRIBE, shared subscriptions' members,
// and the retained messages a new subscription is sent.
#include "engine_internals.hpp"

namespace assay::broker {

using namespace assay::mqtt;
using namespace assay::broker::detail;

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
                               s.incarnation, true, s.congested, s.username});
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
      changed.username = s.username;  // a resumed session may have a new user
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

}  // namespace assay::broker
