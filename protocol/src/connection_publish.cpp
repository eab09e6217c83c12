// Application messages in both directions: QoS 0/1/2 flows, packet ids,
// the send quota (Receive Maximum), acknowledgement order, retransmission on
// session resumption, Topic Aliases and the peer's Maximum Packet Size.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "assay/mqtt/connection.hpp"
#include "wire.hpp"

namespace assay::mqtt {

using wire::cite;

// ---- outgoing ---------------------------------------------------------------

// An acknowledgement without properties has nothing for send_packet() to
// strip or size: it is encoded as it is, without a Packet around it.
template <PacketType T>
void Connection::send_ack(PublishAck<T> ack, Time now) {
  if (!ack.properties.empty() || options_.trace_packets) return send_packet(std::move(ack), now);
  if (state_ == State::closing || state_ == State::closed) return;
  encode(ack, version_, tx_);
  if (options_.role == Role::client) restart_keep_alive(now);
}

Ticket Connection::publish(Publish message, Time now) {
  require(options_.role != Role::any, "publish() is not for the any role; use send()");
  require(static_cast<unsigned>(message.qos) <= 2, "QoS must be 0, 1 or 2");
  message.dup = false;
  message.packet_id = 0;
  if (can_publish(message.qos)) {
    const Ticket t = session_.next_ticket_++;
    send_publish(nullptr, std::move(message), t, now);
    return t;
  }
  Ticket t = 0;
  const QoS qos = message.qos;
  if (session_.enqueue(std::move(message), &t, now) == EnqueueResult::full) {
    t = session_.next_ticket_++;
    complete(t, 0, qos, Outcome::discarded, ReasonCode::quota_exceeded);
  }
  return t;
}

void Connection::publish_as(Ticket ticket, Publish message, Time now) {
  require(options_.role != Role::any, "publish_as() is not for the any role; use send()");
  require(static_cast<unsigned>(message.qos) <= 2, "QoS must be 0, 1 or 2");
  message.dup = false;
  message.packet_id = 0;
  if (can_publish(message.qos)) return send_publish(nullptr, std::move(message), ticket, now);
  const QoS qos = message.qos;
  if (!session_.has_room(message)) {
    return complete(ticket, 0, qos, Outcome::discarded, ReasonCode::quota_exceeded);
  }
  session_.queued_bytes_ += message.topic.size() + message.payload.size();
  session_.queue_.push_back(Queued{ticket, std::move(message), now});
}

bool Connection::can_publish(QoS qos) const {
  if (state_ != State::connected || !session_.queue_.empty()) return false;
  return qos == QoS::at_most_once ||
         (inflight_sent_ < peer_receive_maximum_ && packet_id_available());
}

// Sends a new message (entry == nullptr) or retransmits an in-flight one.
void Connection::send_publish(InFlight* entry, Publish message, Ticket ticket, Time now) {
  if (entry != nullptr) {
    Publish wire = entry->publish;
    wire.dup = !options_.planted_resend_without_dup;  // [MQTT-3.3.1-1]; same id [MQTT-4.4.0-1]
    wire.properties.erase(PropertyId::topic_alias);
    if (version_ == Version::v3_1_1) wire.properties = {};
    if (!entry->sent) ++inflight_sent_;
    entry->sent = true;
    if (entry->stage == InFlight::Stage::awaiting_pubcomp) {
      send_ack(Pubrel{wire.packet_id, {}, {}, {}}, now);
    } else {
      send_packet(std::move(wire), now);
    }
    return;
  }
  if (options_.role == Role::client) {
    if (message.qos > peer_maximum_qos_) {  // [MQTT-3.2.2-11]
      return complete(ticket, 0, message.qos, Outcome::discarded, ReasonCode::qos_not_supported);
    }
    if (message.retain && !peer_retain_available_) {  // [MQTT-3.2.2-14]
      return complete(ticket, 0, message.qos, Outcome::discarded, ReasonCode::retain_not_supported);
    }
    message.properties.erase(PropertyId::subscription_identifier);  // [MQTT-3.3.4-6]
  }
  message.properties.erase(PropertyId::topic_alias);  // aliases are the connection's
  if (version_ == Version::v3_1_1) message.properties = {};

  // What goes on the wire differs from the message kept in flight only by a
  // Topic Alias; without one the message is encoded as it is, not copied.
  std::optional<Publish> aliased;
  bool new_alias = false;
  if (options_.auto_topic_alias && peer_topic_alias_maximum_ > 0 && version_ == Version::v5) {
    auto& aliases = extras().outgoing_aliases;
    if (auto it = aliases.find(message.topic); it != aliases.end()) {
      aliased = message;
      aliased->topic.clear();
      aliased->properties.add(PropertyId::topic_alias, std::uint32_t{it->second});
    } else if (aliases.size() < peer_topic_alias_maximum_) {
      const auto alias = static_cast<std::uint16_t>(aliases.size() + 1);
      aliases.emplace(message.topic, alias);
      aliased = message;
      aliased->properties.add(PropertyId::topic_alias, std::uint32_t{alias});
      new_alias = true;
    }
  }
  if (message.qos != QoS::at_most_once) {
    const auto id = session_.allocate_packet_id();
    if (!id) {
      return complete(ticket, 0, message.qos, Outcome::discarded, ReasonCode::quota_exceeded);
    }
    message.packet_id = *id;
    if (aliased) aliased->packet_id = *id;
  }
  // A PUBLISH keeps its properties: there is nothing for send_packet() to
  // strip, only the peer's maximum to respect.
  const Publish& wire = aliased ? *aliased : message;
  const bool open = state_ != State::closing && state_ != State::closed;
  const bool fits = open ? encode_within(wire, version_, peer_maximum_packet_size_, tx_)
                         : encoded_size(wire, version_) <= peer_maximum_packet_size_;
  if (!fits) {
    // Too large for the peer: discard as if sent [MQTT-3.1.2-25], [MQTT-3.2.2-15].
    if (new_alias) extras_->outgoing_aliases.erase(message.topic);
    if (message.packet_id != 0) session_.release_packet_id(message.packet_id);
    return complete(ticket, 0, message.qos, Outcome::discarded, ReasonCode::packet_too_large);
  }
  if (open) {
    if (options_.role == Role::client) restart_keep_alive(now);
    if (options_.trace_packets) emit(event::PacketSent{Packet{wire}});
  }
  const QoS qos = message.qos;
  if (qos != QoS::at_most_once) {
    const auto stage = qos == QoS::at_least_once ? InFlight::Stage::awaiting_puback
                                                 : InFlight::Stage::awaiting_pubrec;
    session_.inflight_.push_back(InFlight{ticket, std::move(message), stage, true});
    ++inflight_sent_;
  } else {
    complete(ticket, 0, qos, Outcome::acknowledged, ReasonCode::success);
  }
}

// Sends what the quota allows: first in-flight messages not yet sent on this
// connection (in their original order [MQTT-4.6.0-1]), then the queue.
void Connection::drain(Time now) {
  if (state_ != State::connected) return;
  std::size_t sent = inflight_sent_;
  bool blocked = false;
  for (auto& f : session_.inflight_) {
    if (f.sent) continue;
    if (sent >= peer_receive_maximum_) {
      blocked = true;
      break;
    }
    send_publish(&f, {}, f.ticket, now);
    ++sent;
  }
  while (!blocked && !session_.queue_.empty() && state_ == State::connected) {
    Queued& front = session_.queue_.front();
    if (front.publish.qos != QoS::at_most_once &&
        (sent >= peer_receive_maximum_ || !packet_id_available())) {
      break;  // wait for quota or a free Packet Identifier
    }
    Queued q = std::move(front);
    session_.queue_.pop_front();
    session_.queued_bytes_ -= q.publish.topic.size() + q.publish.payload.size();
    // Expiry applies while queued; once sent, no longer [MQTT-4.3.3-7].
    if (!age_message_expiry(q.publish, q.queued_at, now)) {
      complete(q.ticket, 0, q.publish.qos, Outcome::expired, ReasonCode::success);
      continue;
    }
    const bool counts = q.publish.qos != QoS::at_most_once;
    send_publish(nullptr, std::move(q.publish), q.ticket, now);
    if (counts) sent = inflight_sent_;
  }
}

void Connection::complete(Ticket ticket, std::uint16_t packet_id, QoS qos, Outcome outcome,
                          ReasonCode rc) {
  emit(event::PublishCompleted{ticket, packet_id, qos, outcome, rc});
}

void Connection::discard_session_state(ReasonCode why) {
  for (const auto& f : session_.inflight_) {
    complete(f.ticket, f.publish.packet_id, f.publish.qos, Outcome::discarded, why);
  }
  session_.inflight_.clear();
  inflight_sent_ = 0;
  session_.incoming_qos2_.clear();
  session_.used_ids_.clear();
}

void Connection::start_session(bool session_present, Time now) {
  // Nothing has been sent on this connection yet, whatever the session was
  // handed over from (a takeover moves it from a connection still open).
  for (auto& f : session_.inflight_)
    f.sent = false;
  inflight_sent_ = 0;
  // Without Session Present the old state is gone [MQTT-3.2.2-5]; with it,
  // everything unacknowledged is resent [MQTT-4.4.0-1].
  if (!session_present) discard_session_state(ReasonCode::unspecified_error);
  drain(now);
}

namespace {

template <class Ack>
std::vector<InFlight>::iterator find_inflight(std::vector<InFlight>& inflight, const Ack& ack) {
  return std::find_if(inflight.begin(), inflight.end(),
                      [&](const InFlight& f) { return f.publish.packet_id == ack.packet_id; });
}

}  // namespace

void Connection::erase_inflight(std::vector<InFlight>::iterator it) {
  if (it->sent) --inflight_sent_;
  session_.inflight_.erase(it);
}

void Connection::on_puback(const Puback& ack, Time now) {
  auto it = find_inflight(session_.inflight_, ack);
  if (it == session_.inflight_.end() || it->stage != InFlight::Stage::awaiting_puback) return;
  const Ticket t = it->ticket;
  erase_inflight(it);
  session_.release_packet_id(ack.packet_id);
  complete(t, ack.packet_id, QoS::at_least_once,
           is_error(ack.reason_code) ? Outcome::refused : Outcome::acknowledged, ack.reason_code);
  drain(now);
}

void Connection::on_pubrec(const Pubrec& ack, Time now) {
  auto it = find_inflight(session_.inflight_, ack);
  if (it == session_.inflight_.end()) {
    Pubrel rel{ack.packet_id, {}, {}, {}};
    if (version_ == Version::v5) rel.reason_code = ReasonCode::packet_identifier_not_found;
    return send_packet(rel, now);
  }
  if (it->stage == InFlight::Stage::awaiting_pubrec && is_error(ack.reason_code)) {
    // Refused: acknowledged, never resent [MQTT-4.4.0-2].
    const Ticket t = it->ticket;
    erase_inflight(it);
    session_.release_packet_id(ack.packet_id);
    complete(t, ack.packet_id, QoS::exactly_once, Outcome::refused, ack.reason_code);
    return drain(now);
  }
  if (it->stage == InFlight::Stage::awaiting_puback) return;
  it->stage = InFlight::Stage::awaiting_pubcomp;     // never resend the PUBLISH [MQTT-4.3.3-6]
  send_ack(Pubrel{ack.packet_id, {}, {}, {}}, now);  // [MQTT-4.3.3-4]
}

void Connection::on_pubcomp(const Pubcomp& ack, Time now) {
  auto it = find_inflight(session_.inflight_, ack);
  if (it == session_.inflight_.end() || it->stage != InFlight::Stage::awaiting_pubcomp) return;
  const Ticket t = it->ticket;
  erase_inflight(it);
  session_.release_packet_id(ack.packet_id);
  complete(t, ack.packet_id, QoS::exactly_once, Outcome::acknowledged, ack.reason_code);
  drain(now);
}

// ---- incoming -------------------------------------------------------------

void Connection::on_publish(Publish p, Time now) {
  const bool server = options_.role == Role::server;
  if (server) {
    if (p.properties.contains(PropertyId::subscription_identifier)) {
      return fail({ReasonCode::protocol_error, "MQTT-3.3.4-6",
                   "a client sent a Subscription Identifier in PUBLISH"},
                  now);
    }
    if (p.qos > maximum_qos_) {
      return fail({ReasonCode::qos_not_supported, "MQTT-3.2.2-11",
                   "PUBLISH above the Maximum QoS in CONNACK"},
                  now);
    }
    if (p.retain && !retain_available_) {
      return fail({ReasonCode::retain_not_supported, "MQTT-3.2.2-14",
                   "RETAIN set although CONNACK said Retain Available 0"},
                  now);
    }
  }
  if (const auto alias = p.properties.integer(PropertyId::topic_alias)) {
    if (*alias > topic_alias_maximum_) {
      return fail({ReasonCode::topic_alias_invalid,
                   server ? (topic_alias_maximum_ == 0 ? "MQTT-3.2.2-18" : "MQTT-3.2.2-17")
                          : (topic_alias_maximum_ == 0 ? "MQTT-3.1.2-27" : "MQTT-3.1.2-26"),
                   "Topic Alias " + std::to_string(*alias) + " above the Topic Alias Maximum"},
                  now);
    }
    // The table is made and grows on first use: most connections never use
    // aliases.
    auto& table = extras().incoming_aliases;
    if (table.size() <= *alias) table.resize(std::size_t{*alias} + 1);
    std::string& mapped = table[*alias];
    if (!p.topic.empty()) {
      mapped = p.topic;
    } else if (mapped.empty()) {
      return fail({ReasonCode::protocol_error, "§3.3.2.3.4",
                   "Topic Alias " + std::to_string(*alias) + " has no mapping"},
                  now);
    } else {
      p.topic = mapped;
    }
    p.properties.erase(PropertyId::topic_alias);
  }
  if (p.qos == QoS::at_most_once) {
    emit(event::MessageReceived{std::move(p), false});
    return;
  }
  const std::uint16_t id = p.packet_id;
  if (!incoming_open_.contains(id)) {
    if (incoming_open_.size() >= receive_maximum_) {
      return fail({ReasonCode::receive_maximum_exceeded, server ? "MQTT-3.3.4-7" : "MQTT-3.3.4-9",
                   "more unacknowledged QoS 1/2 PUBLISH than the Receive Maximum"},
                  now);
    }
    incoming_open_.insert(id);
  }
  const bool manual = options_.manual_ack;
  if (p.qos == QoS::exactly_once && session_.incoming_qos2_.contains(id)) {
    // A resend before PUBREL: acknowledge again, never deliver twice
    // [MQTT-4.3.3-10]. If our PUBREC is still owed, that one answers it.
    const bool owed = std::any_of(pending_acks_.begin(), pending_acks_.end(),
                                  [&](const PendingAck& a) { return a.packet_id == id; });
    if (!owed) pending_acks_.push_back({id, p.qos, true, ReasonCode::success, {}});
    return flush_acks(now);
  }
  if (p.qos == QoS::exactly_once) session_.incoming_qos2_.insert(id);
  pending_acks_.push_back({id, p.qos, !manual, ReasonCode::success, {}});
  emit(event::MessageReceived{std::move(p), manual});
  flush_acks(now);
}

void Connection::acknowledge(std::uint16_t packet_id, Time now, ReasonCode reason_code,
                             Properties properties) {
  require(options_.manual_ack, "acknowledge() needs ConnectionOptions::manual_ack");
  auto it = std::find_if(pending_acks_.begin(), pending_acks_.end(),
                         [&](const PendingAck& a) { return a.packet_id == packet_id && !a.ready; });
  if (it == pending_acks_.end()) {
    // The connection ended (the ack is owed to a resend) or the id is wrong.
    require(state_ != State::connected, "acknowledge(): no such message awaits an ack");
    return;
  }
  if (ended()) return;
  it->ready = true;
  it->reason_code = reason_code;
  it->properties = std::move(properties);
  flush_acks(now);
}

void Connection::abandon(std::uint16_t packet_id) {
  require(options_.manual_ack, "abandon() needs ConnectionOptions::manual_ack");
  const auto it =
      std::find_if(pending_acks_.begin(), pending_acks_.end(),
                   [&](const PendingAck& a) { return a.packet_id == packet_id && !a.ready; });
  if (it == pending_acks_.end()) return;
  it->ready = it->silent = true;
  if (it->qos == QoS::exactly_once) session_.incoming_qos2_.erase(packet_id);
  incoming_open_.erase(packet_id);
}

// Sends the acks that are ready, in the order the PUBLISHes came
// [MQTT-4.6.0-2], [MQTT-4.6.0-3].
void Connection::flush_acks(Time now) {
  while (!pending_acks_.empty() && pending_acks_.front().ready) {
    PendingAck a = std::move(pending_acks_.front());
    pending_acks_.pop_front();
    if (a.silent) continue;
    if (version_ == Version::v3_1_1) {
      a.reason_code = ReasonCode::success;  // 3.1.1 acks carry no code
      a.properties = {};
    }
    if (a.qos == QoS::at_least_once) {
      incoming_open_.erase(a.packet_id);
      send_ack(Puback{a.packet_id, a.reason_code, std::move(a.properties), {}}, now);
    } else {
      if (is_error(a.reason_code)) {
        // Refused: the id is free for a new message [MQTT-4.3.3-9].
        session_.incoming_qos2_.erase(a.packet_id);
        incoming_open_.erase(a.packet_id);
      }
      send_ack(Pubrec{a.packet_id, a.reason_code, std::move(a.properties), {}}, now);
    }
  }
}

void Connection::on_pubrel(const Pubrel& rel, Time now) {
  const bool owed = std::any_of(pending_acks_.begin(), pending_acks_.end(),
                                [&](const PendingAck& a) { return a.packet_id == rel.packet_id; });
  if (owed) {
    return fail({ReasonCode::protocol_error, cite(version_, "§4.3.3", "§4.3.3"),
                 "PUBREL before our PUBREC"},
                now);
  }
  Pubcomp comp{rel.packet_id, {}, {}, {}};
  if (session_.incoming_qos2_.erase(rel.packet_id) == 0 && version_ == Version::v5) {
    comp.reason_code = ReasonCode::packet_identifier_not_found;
  }
  incoming_open_.erase(rel.packet_id);
  send_ack(std::move(comp), now);  // [MQTT-4.3.3-11]
}

}  // namespace assay::mqtt
