// SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK.
#include <string>

#include "assay/mqtt/topic.hpp"
#include "decode_packets.hpp"
#include "property_codec.hpp"

namespace assay::mqtt::detail {

using wire::cite;

namespace {

std::uint16_t read_packet_id(wire::Reader& r, PacketType type) {
  const std::uint16_t id = r.u16("Packet Identifier");
  if (!r.failed() && id == 0) {
    const bool ack = type == PacketType::suback || type == PacketType::unsuback;
    r.protocol_error(ack ? cite(r.version(), "§2.3.1", "§2.2.1")
                         : cite(r.version(), "MQTT-2.3.1-1", "MQTT-2.2.1-3"),
                     std::string(to_string(type)) + " has Packet Identifier 0");
  }
  return id;
}

std::string read_filter(wire::Reader& r) {
  std::string filter = r.utf8("Topic Filter");
  if (r.failed()) return filter;
  if (auto bad = validate_topic_filter(filter, r.version())) {
    r.fail(bad->reason, bad->statement, "Topic Filter \"" + filter + "\": " + bad->detail);
  }
  return filter;
}

SubscribeOptions read_options(wire::Reader& r, bool shared) {
  SubscribeOptions o;
  const std::uint8_t b = r.u8("Subscription Options");
  if (r.failed()) return o;
  o.qos = static_cast<QoS>(b & 0x03);
  if (r.version() == Version::v3_1_1) {
    // The spec tags this statement "MQTT-3-8.3-4".
    if ((b & 0xFC) != 0) {
      r.malformed("MQTT-3.8.3-4", "reserved bits of the Requested QoS byte are set");
    } else if (b == 3) {
      r.malformed("MQTT-3.8.3-4", "Requested QoS is 3");
    }
    return o;
  }
  o.no_local = (b & 0x04) != 0;
  o.retain_as_published = (b & 0x08) != 0;
  o.retain_handling = static_cast<std::uint8_t>((b >> 4) & 0x03);
  if ((b & 0xC0) != 0) {
    r.malformed("MQTT-3.8.3-5", "reserved bits 6-7 of the Subscription Options are set");
  } else if ((b & 0x03) == 3) {
    r.malformed("§3.8.3.1", "Maximum QoS is 3");
  } else if (o.retain_handling == 3) {
    r.protocol_error("§3.8.3.1", "Retain Handling is 3");
  } else if (o.no_local && shared) {
    r.protocol_error("MQTT-3.8.3-4", "No Local is set on a Shared Subscription");
  }
  return o;
}

}  // namespace

void decode_subscribe(wire::Reader& r, Packet& out) {
  const Version v = r.version();
  auto& s = out.emplace<Subscribe>();
  s.packet_id = read_packet_id(r, PacketType::subscribe);
  if (v == Version::v5) s.properties = read_properties(r, PropertyContext::subscribe);
  if (!r.failed() && r.at_end()) {
    r.protocol_error(cite(v, "MQTT-3.8.3-3", "MQTT-3.8.3-2"), "SUBSCRIBE has no Topic Filter");
  }
  while (!r.at_end() && !r.failed()) {
    Subscription sub;
    sub.filter = read_filter(r);
    const bool shared = v == Version::v5 && sub.filter.starts_with("$share/");
    sub.options = read_options(r, shared);
    s.subscriptions.push_back(std::move(sub));
  }
}

void decode_suback(wire::Reader& r, Packet& out) {
  const Version v = r.version();
  auto& s = out.emplace<Suback>();
  s.packet_id = read_packet_id(r, PacketType::suback);
  if (v == Version::v5) s.properties = read_properties(r, PropertyContext::suback);
  if (!r.failed() && r.at_end()) r.protocol_error("§3.9.3", "SUBACK has no Reason Code");
  while (!r.at_end() && !r.failed()) {
    const std::uint8_t code = r.u8("Reason Code");
    const auto rc = static_cast<ReasonCode>(code);
    const bool ok =
        v == Version::v5 ? allowed_in(rc, PacketType::suback) : (code <= 2 || code == 0x80);
    if (!ok) {
      r.protocol_error("MQTT-3.9.3-2",
                       "SUBACK code " + std::to_string(code) + " is not a Subscribe Reason Code");
    }
    s.reason_codes.push_back(rc);
  }
}

void decode_unsubscribe(wire::Reader& r, Packet& out) {
  const Version v = r.version();
  auto& u = out.emplace<Unsubscribe>();
  u.packet_id = read_packet_id(r, PacketType::unsubscribe);
  if (v == Version::v5) u.properties = read_properties(r, PropertyContext::unsubscribe);
  if (!r.failed() && r.at_end()) {
    r.protocol_error("MQTT-3.10.3-2", "UNSUBSCRIBE has no Topic Filter");
  }
  while (!r.at_end() && !r.failed())
    u.filters.push_back(read_filter(r));
}

void decode_unsuback(wire::Reader& r, Packet& out) {
  const Version v = r.version();
  auto& u = out.emplace<Unsuback>();
  u.packet_id = read_packet_id(r, PacketType::unsuback);
  if (v == Version::v3_1_1) {
    expect_end(r, PacketType::unsuback);
    return;
  }
  u.properties = read_properties(r, PropertyContext::unsuback);
  if (!r.failed() && r.at_end()) r.protocol_error("§3.11.3", "UNSUBACK has no Reason Code");
  while (!r.at_end() && !r.failed()) {
    const std::uint8_t code = r.u8("Reason Code");
    const auto rc = static_cast<ReasonCode>(code);
    if (!allowed_in(rc, PacketType::unsuback)) {
      r.protocol_error("MQTT-3.11.3-2", "UNSUBACK code " + std::to_string(code) +
                                            " is not an Unsubscribe Reason Code");
    }
    u.reason_codes.push_back(rc);
  }
}

}  // namespace assay::mqtt::detail
