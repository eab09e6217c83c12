// Messages and requests: the bounded queue with its overflow policy and
// Message Expiry, the hand-over to the connection as quota allows, what a
// lost session means for messages in flight, and subscriptions kept and
// restored.
#include <algorithm>
#include <stdexcept>

#include "assay/client/engine.hpp"
#include "assay/mqtt/topic.hpp"

namespace assay::client {

using namespace mqtt;

namespace {

std::size_t size_of(const Publish& p) {
  return p.topic.size() + p.payload.size();
}

// Expired: waited at least its Message Expiry Interval [MQTT-3.3.2-5].
bool expired(const Publish& p, Time queued_at, Time now) {
  const auto interval = p.properties.integer(PropertyId::message_expiry_interval);
  return interval && now - queued_at >= std::chrono::seconds(*interval);
}

// How many filters one restoring SUBSCRIBE carries.
constexpr std::size_t restore_batch = 64;

}  // namespace

// ---- publishing -------------------------------------------------------------

Ticket Engine::publish(Publish message, Time now) {
  if (static_cast<unsigned>(message.qos) > 2) throw std::invalid_argument("client: QoS 0, 1 or 2");
  if (const auto v = validate_topic_name(message.topic, config_.connect.version)) {
    throw std::invalid_argument("client: '" + message.topic +
                                "' is not a valid topic name: " + v->detail);
  }
  message.dup = false;
  message.packet_id = 0;
  const Ticket ticket = next_ticket_++;
  const QoS qos = message.qos;
  if (state_ == State::connected && queue_.empty() && conn_->can_publish(qos)) {
    conn_->publish_as(ticket, std::move(message), now);
    pump(now);
    return ticket;
  }
  if (!make_room(message, now)) {
    done(ticket, qos, Outcome::discarded, ReasonCode::quota_exceeded);
  } else {
    enqueue(Queued{ticket, std::move(message), now});
  }
  persist();
  return ticket;
}

void Engine::enqueue(Queued item) {
  queued_bytes_ += size_of(item.publish);
  queue_.push_back(std::move(item));
}

// Room for `message` in the queue, by its QoS's overflow policy.
bool Engine::make_room(const Publish& message, Time now) {
  const QueueLimits& l = config_.queue;
  const std::size_t size = size_of(message);
  auto fits = [&] { return queue_.size() < l.max_messages && queued_bytes_ + size <= l.max_bytes; };
  if (fits()) return true;
  if (size > l.max_bytes || l.max_messages == 0) return false;
  purge_expired(now);
  const Overflow policy = message.qos == QoS::at_most_once    ? l.qos0
                          : message.qos == QoS::at_least_once ? l.qos1
                                                              : l.qos2;
  if (fits() || policy == Overflow::refuse_new) return fits();
  // Drop the oldest messages of the same QoS until it fits; never those of
  // another QoS (a QoS 0 reading must not push out a QoS 1 alarm). Nothing
  // is dropped unless dropping makes room.
  const std::size_t need_count =
      queue_.size() + 1 > l.max_messages ? queue_.size() + 1 - l.max_messages : 0;
  const std::size_t need_bytes =
      queued_bytes_ + size > l.max_bytes ? queued_bytes_ + size - l.max_bytes : 0;
  std::size_t count = 0;
  std::size_t bytes = 0;
  for (const Queued& q : queue_) {
    if (count >= need_count && bytes >= need_bytes) break;
    if (q.publish.qos != message.qos) continue;
    ++count;
    bytes += size_of(q.publish);
  }
  if (count < need_count || bytes < need_bytes) return false;
  Fifo<Queued> kept;
  for (Queued& q : queue_) {
    if (count > 0 && q.publish.qos == message.qos) {
      --count;
      queued_bytes_ -= size_of(q.publish);
      done(q.ticket, q.publish.qos, Outcome::discarded, ReasonCode::quota_exceeded);
      continue;
    }
    kept.push_back(std::move(q));
  }
  queue_ = std::move(kept);
  return true;
}

void Engine::purge_expired(Time now) {
  if (std::none_of(queue_.begin(), queue_.end(),
                   [&](const Queued& q) { return expired(q.publish, q.queued_at, now); })) {
    return;
  }
  Fifo<Queued> kept;
  queued_bytes_ = 0;
  for (Queued& q : queue_) {
    if (expired(q.publish, q.queued_at, now)) {
      done(q.ticket, q.publish.qos, Outcome::expired, ReasonCode::success);
      continue;
    }
    queued_bytes_ += size_of(q.publish);
    kept.push_back(std::move(q));
  }
  queue_ = std::move(kept);
}

// Hands queued messages to the connection while it takes them at once:
// QoS 1/2 wait for quota (the server's Receive Maximum) and a free Packet
// Identifier; a QoS 0 message behind them waits too, so order is kept.
void Engine::drain(Time now) {
  while (!queue_.empty() && state_ == State::connected && conn_) {
    Queued& front = queue_.front();
    if (!conn_->can_publish(front.publish.qos)) break;
    Queued q = std::move(front);
    queue_.pop_front();
    queued_bytes_ -= size_of(q.publish);
    // The interval goes out lowered by the time it waited [MQTT-3.3.2-6].
    if (!age_message_expiry(q.publish, q.queued_at, now)) {
      done(q.ticket, q.publish.qos, Outcome::expired, ReasonCode::success);
      continue;
    }
    conn_->publish_as(q.ticket, std::move(q.publish), now);
  }
}

void Engine::on_publish_completed(const mqtt::event::PublishCompleted& c) {
  if (c.outcome == Outcome::discarded && c.reason_code == ReasonCode::unspecified_error) {
    // The session was discarded (Clean Start, or Session Present 0).
    if (const auto it = unconfirmed_.find(c.ticket); it != unconfirmed_.end()) {
      InFlight& f = it->second;
      if (f.stage == InFlight::Stage::awaiting_pubcomp) {
        // Its PUBREC came: the server owned it.
        return done(c.ticket, c.qos, Outcome::acknowledged, ReasonCode::success);
      }
      Publish p = std::move(f.publish);
      p.dup = false;
      p.packet_id = 0;
      requeue_.push_back(Queued{c.ticket, std::move(p), Time{0}});
      return;
    }
  }
  done(c.ticket, c.qos, c.outcome, c.reason_code);
}

// Messages of a lost session go first, in their original order: they are
// older than anything queued.
void Engine::requeue_lost() {
  std::sort(requeue_.begin(), requeue_.end(),
            [](const Queued& a, const Queued& b) { return a.ticket < b.ticket; });
  Fifo<Queued> all;
  for (Queued& q : requeue_) {
    queued_bytes_ += size_of(q.publish);
    all.push_back(std::move(q));
  }
  for (Queued& q : queue_)
    all.push_back(std::move(q));
  queue_ = std::move(all);
  requeue_.clear();
}

void Engine::done(Ticket ticket, QoS qos, Outcome outcome, ReasonCode rc) {
  emit(event::PublishDone{ticket, qos, outcome, rc});
}

// ---- subscriptions ------------------------------------------------------------

RequestId Engine::subscribe(std::vector<Subscription> subscriptions, Time now,
                            Properties properties) {
  if (subscriptions.empty()) throw std::invalid_argument("client: subscribe() without a filter");
  for (const Subscription& s : subscriptions) {
    if (const auto v = validate_topic_filter(s.filter, config_.connect.version)) {
      throw std::invalid_argument("client: '" + s.filter +
                                  "' is not a valid topic filter: " + v->detail);
    }
    if (static_cast<unsigned>(s.options.qos) > 2 || s.options.retain_handling > 2) {
      throw std::invalid_argument("client: bad subscription options for '" + s.filter + "'");
    }
  }
  const RequestId id = next_request_++;
  for (const Subscription& s : subscriptions)
    subscriptions_[s.filter] = Desired{s.options, properties, false, id};
  subscriptions_changed_ = true;
  Subscribe packet;
  packet.properties = std::move(properties);
  packet.subscriptions = std::move(subscriptions);
  requests_.push_back(Request{id, std::move(packet), 0});
  if (state_ == State::connected) pump(now);
  persist();
  return id;
}

RequestId Engine::unsubscribe(std::vector<std::string> filters, Time now, Properties properties) {
  if (filters.empty()) throw std::invalid_argument("client: unsubscribe() without a filter");
  for (const std::string& f : filters) {
    if (const auto v = validate_topic_filter(f, config_.connect.version)) {
      throw std::invalid_argument("client: '" + f + "' is not a valid topic filter: " + v->detail);
    }
  }
  const RequestId id = next_request_++;
  for (const std::string& f : filters)
    subscriptions_.erase(f);
  subscriptions_changed_ = true;
  Unsubscribe packet;
  packet.properties = std::move(properties);
  packet.filters = std::move(filters);
  requests_.push_back(Request{id, std::move(packet), 0});
  if (state_ == State::connected) pump(now);
  persist();
  return id;
}

std::vector<Subscription> Engine::subscriptions() const {
  std::vector<Subscription> out;
  for (const auto& [filter, d] : subscriptions_)
    out.push_back(Subscription{filter, d.options});
  return out;
}

void Engine::send_requests(Time now) {
  for (Request& r : requests_) {
    if (state_ != State::connected || !conn_->packet_id_available()) return;
    if (r.packet_id != 0) continue;
    r.packet_id = std::visit(
        [&](const auto& p) {
          if constexpr (std::is_same_v<std::decay_t<decltype(p)>, Subscribe>) {
            return conn_->subscribe(p, now);
          } else {
            return conn_->unsubscribe(p, now);
          }
        },
        r.packet);
  }
}

// The server lost our session: what it had granted is asked for again,
// before any request made since (they may change it).
void Engine::restore_subscriptions() {
  std::vector<Subscribe> restoring;
  for (const auto& [filter, d] : subscriptions_) {
    if (!d.confirmed) continue;             // its own request is still to be answered
    const auto& properties = d.properties;  // clang 14 cannot capture a structured binding
    auto it = std::find_if(restoring.begin(), restoring.end(), [&](const Subscribe& s) {
      return s.properties == properties && s.subscriptions.size() < restore_batch;
    });
    if (it == restoring.end()) {
      restoring.emplace_back();
      it = std::prev(restoring.end());
      it->properties = d.properties;
    }
    it->subscriptions.push_back(Subscription{filter, d.options});
  }
  if (restoring.empty()) return;
  Fifo<Request> all;
  for (Subscribe& s : restoring)
    all.push_back(Request{0, std::move(s), 0});
  for (Request& r : requests_)
    all.push_back(std::move(r));
  requests_ = std::move(all);
}

void Engine::on_subscribe_acked(const Suback& suback) {
  auto it = std::find_if(requests_.begin(), requests_.end(), [&](const Request& r) {
    return r.packet_id == suback.packet_id && std::holds_alternative<Subscribe>(r.packet);
  });
  if (it == requests_.end()) return;  // not ours (the Connection checked the id)
  const Subscribe& sent = std::get<Subscribe>(it->packet);
  event::SubscribeDone done_event;
  done_event.id = it->id;
  done_event.reason_codes = suback.reason_codes;
  done_event.properties = suback.properties;
  for (std::size_t i = 0; i < sent.subscriptions.size(); ++i) {
    const std::string& filter = sent.subscriptions[i].filter;
    done_event.filters.push_back(filter);
    const auto d = subscriptions_.find(filter);
    if (d == subscriptions_.end() || (it->id != 0 && d->second.request != it->id)) continue;
    if (i < suback.reason_codes.size() && is_error(suback.reason_codes[i])) {
      subscriptions_.erase(d);  // refused: not restored later either
    } else {
      d->second.confirmed = true;
    }
    subscriptions_changed_ = true;
  }
  Fifo<Request> rest;
  for (Request& r : requests_) {
    if (&r != &*it) rest.push_back(std::move(r));
  }
  requests_ = std::move(rest);
  emit(std::move(done_event));
}

void Engine::on_unsubscribe_acked(const Unsuback& unsuback) {
  auto it = std::find_if(requests_.begin(), requests_.end(), [&](const Request& r) {
    return r.packet_id == unsuback.packet_id && std::holds_alternative<Unsubscribe>(r.packet);
  });
  if (it == requests_.end()) return;
  event::UnsubscribeDone done_event;
  done_event.id = it->id;
  done_event.filters = std::get<Unsubscribe>(it->packet).filters;
  done_event.reason_codes = unsuback.reason_codes;
  if (done_event.reason_codes.empty()) {  // 3.1.1 carries none
    done_event.reason_codes.assign(done_event.filters.size(), ReasonCode::success);
  }
  Fifo<Request> rest;
  for (Request& r : requests_) {
    if (&r != &*it) rest.push_back(std::move(r));
  }
  requests_ = std::move(rest);
  emit(std::move(done_event));
}

}  // namespace assay::client
