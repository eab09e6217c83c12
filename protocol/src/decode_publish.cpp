// PUBLISH and its acknowledgements PUBACK, PUBREC, PUBREL, PUBCOMP.
#include <string>

#include "assay/mqtt/topic.hpp"
#include "decode_packets.hpp"
#include "property_codec.hpp"

namespace assay::mqtt::detail {

using wire::cite;

void decode_publish(wire::Reader& r, std::uint8_t flags, Packet& out) {
  const Version v = r.version();
  auto& p = out.emplace<Publish>();
  p.dup = (flags & 0x08) != 0;
  p.qos = static_cast<QoS>((flags >> 1) & 0x03);
  p.retain = (flags & 0x01) != 0;
  p.topic = r.utf8("Topic Name");
  if (p.qos != QoS::at_most_once) {
    p.packet_id = r.u16("Packet Identifier");
    if (!r.failed() && p.packet_id == 0) {
      r.protocol_error(cite(v, "MQTT-2.3.1-1", "MQTT-2.2.1-3"), "PUBLISH has Packet Identifier 0");
    }
  }
  if (v == Version::v5) p.properties = read_properties(r, PropertyContext::publish);
  if (r.failed()) return;
  if (p.topic.empty()) {
    // 5.0 allows an empty name when a Topic Alias stands for it (§3.3.2.3.4).
    if (v == Version::v3_1_1) {
      r.fail(ReasonCode::topic_name_invalid, "MQTT-4.7.3-1", "Topic Name is empty");
    } else if (!p.properties.contains(PropertyId::topic_alias)) {
      r.protocol_error("§3.3.2.3.4", "Topic Name is empty and there is no Topic Alias");
    }
  } else if (auto bad = validate_topic_name(p.topic, v)) {
    // The UTF-8 and length rules were checked on reading, so only a wildcard
    // can be left: the PUBLISH-specific statement applies.
    r.fail(bad->reason, "MQTT-3.3.2-2", "Topic Name: " + bad->detail);
  }
  p.payload = SharedBytes::copy_of(r.rest());
}

namespace {

std::string_view reason_code_statement(PacketType type) {
  switch (type) {
    case PacketType::puback:
      return "MQTT-3.4.2-1";
    case PacketType::pubrec:
      return "MQTT-3.5.2-1";
    case PacketType::pubrel:
      return "MQTT-3.6.2-1";
    default:
      return "MQTT-3.7.2-1";
  }
}

template <class Ack>
void decode_ack(wire::Reader& r, Ack& a) {
  const Version v = r.version();
  constexpr PacketType type = Ack::type;
  a.packet_id = r.u16("Packet Identifier");
  if (!r.failed() && a.packet_id == 0) {
    r.protocol_error(cite(v, "§2.3.1", "§2.2.1"),
                     std::string(to_string(type)) + " has Packet Identifier 0");
  }
  if (v == Version::v5 && !r.at_end()) {
    const std::uint8_t code = r.u8("Reason Code");
    a.reason_code = static_cast<ReasonCode>(code);
    a.layout = AckLayout::reason_code;
    if (!allowed_in(a.reason_code, type)) {
      r.protocol_error(reason_code_statement(type), "Reason Code " + std::to_string(code) +
                                                        " is not allowed in " +
                                                        std::string(to_string(type)));
      return;
    }
    if (!r.at_end()) {
      a.properties = read_properties(r, context_of(type));
      a.layout = AckLayout::full;
    }
    a.layout = recorded_layout(a.layout, a.reason_code, a.properties);
  }
  expect_end(r, type);
}

}  // namespace

void decode_publish_ack(wire::Reader& r, PacketType type, Packet& out) {
  switch (type) {
    case PacketType::puback:
      return decode_ack(r, out.emplace<Puback>());
    case PacketType::pubrec:
      return decode_ack(r, out.emplace<Pubrec>());
    case PacketType::pubrel:
      return decode_ack(r, out.emplace<Pubrel>());
    default:
      return decode_ack(r, out.emplace<Pubcomp>());
  }
}

}  // namespace assay::mqtt::detail
