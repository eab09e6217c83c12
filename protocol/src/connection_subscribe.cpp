// SUBSCRIBE/SUBACK and UNSUBSCRIBE/UNSUBACK. What a subscription means is
// the broker's business; the connection checks packet ids and that every
// filter gets its reason code.
#include <string>

#include "assay/mqtt/connection.hpp"
#include "wire.hpp"

namespace assay::mqtt {

using wire::cite;

std::uint16_t Connection::subscribe(Subscribe packet, Time now) {
  if (ended()) return 0;
  require(options_.role == Role::client && state_ == State::connected,
          "subscribe() needs a connected client");
  const auto id = session_.allocate_packet_id();
  require(id.has_value(), "no free packet identifier");
  packet.packet_id = *id;
  subscribes_.emplace(*id, packet.subscriptions.size());
  send_packet(std::move(packet), now);
  return *id;
}

std::uint16_t Connection::unsubscribe(Unsubscribe packet, Time now) {
  if (ended()) return 0;
  require(options_.role == Role::client && state_ == State::connected,
          "unsubscribe() needs a connected client");
  const auto id = session_.allocate_packet_id();
  require(id.has_value(), "no free packet identifier");
  packet.packet_id = *id;
  unsubscribes_.emplace(*id, packet.filters.size());
  send_packet(std::move(packet), now);
  return *id;
}

void Connection::on_suback(Suback packet, Time now) {
  const auto it = subscribes_.find(packet.packet_id);
  if (it == nullptr) {
    return fail({ReasonCode::protocol_error, "MQTT-3.8.4-2",
                 "SUBACK for no SUBSCRIBE in flight (Packet Identifier " +
                     std::to_string(packet.packet_id) + ")"},
                now);
  }
  if (packet.reason_codes.size() != *it) {
    return fail({ReasonCode::protocol_error, cite(version_, "MQTT-3.8.4-5", "MQTT-3.8.4-6"),
                 "SUBACK has " + std::to_string(packet.reason_codes.size()) + " codes for " +
                     std::to_string(*it) + " Topic Filters"},
                now);
  }
  subscribes_.erase(packet.packet_id);
  session_.release_packet_id(packet.packet_id);
  emit(event::SubscribeAcked{std::move(packet)});
  drain(now);  // a message may have waited for the Packet Identifier
}

void Connection::on_unsuback(Unsuback packet, Time now) {
  const auto it = unsubscribes_.find(packet.packet_id);
  if (it == nullptr) {
    return fail({ReasonCode::protocol_error, "MQTT-3.10.4-5",
                 "UNSUBACK for no UNSUBSCRIBE in flight (Packet Identifier " +
                     std::to_string(packet.packet_id) + ")"},
                now);
  }
  if (version_ == Version::v5 && packet.reason_codes.size() != *it) {
    return fail({ReasonCode::protocol_error, "MQTT-3.11.3-1",
                 "UNSUBACK has " + std::to_string(packet.reason_codes.size()) + " codes for " +
                     std::to_string(*it) + " Topic Filters"},
                now);
  }
  unsubscribes_.erase(packet.packet_id);
  session_.release_packet_id(packet.packet_id);
  emit(event::UnsubscribeAcked{std::move(packet)});
  drain(now);  // a message may have waited for the Packet Identifier
}

void Connection::on_subscribe(Subscribe packet, Time now) {
  if (!subscribes_.emplace(packet.packet_id, packet.subscriptions.size())) {
    return fail({ReasonCode::protocol_error, "MQTT-2.2.1-3",
                 "SUBSCRIBE reuses a Packet Identifier still in use"},
                now);
  }
  emit(event::SubscribeReceived{std::move(packet)});
}

void Connection::on_unsubscribe(Unsubscribe packet, Time now) {
  if (!unsubscribes_.emplace(packet.packet_id, packet.filters.size())) {
    return fail({ReasonCode::protocol_error, "MQTT-2.2.1-3",
                 "UNSUBSCRIBE reuses a Packet Identifier still in use"},
                now);
  }
  emit(event::UnsubscribeReceived{std::move(packet)});
}

void Connection::suback(Suback packet, Time now) {
  require(options_.role == Role::server, "suback() is for the server role");
  if (state_ != State::connected) return;  // the connection ended meanwhile
  const auto it = subscribes_.find(packet.packet_id);
  require(it != nullptr, "suback() for no SUBSCRIBE [MQTT-3.8.4-2]");
  require(packet.reason_codes.size() == *it, "one SUBACK code per Topic Filter [MQTT-3.8.4-6]");
  for (ReasonCode& rc : packet.reason_codes)
    rc = for_version(rc, PacketType::suback, version_);
  subscribes_.erase(packet.packet_id);
  send_packet(std::move(packet), now);
}

void Connection::unsuback(Unsuback packet, Time now) {
  require(options_.role == Role::server, "unsuback() is for the server role");
  if (state_ != State::connected) return;
  const auto it = unsubscribes_.find(packet.packet_id);
  require(it != nullptr, "unsuback() for no UNSUBSCRIBE [MQTT-3.10.4-5]");
  if (version_ == Version::v3_1_1) {
    packet.reason_codes.clear();
    packet.properties = {};
  } else {
    require(packet.reason_codes.size() == *it,
            "one UNSUBACK code per Topic Filter [MQTT-3.11.3-1]");
  }
  unsubscribes_.erase(packet.packet_id);
  send_packet(std::move(packet), now);
}

}  // namespace assay::mqtt
