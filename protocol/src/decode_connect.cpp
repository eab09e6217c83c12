// CONNECT, CONNACK, DISCONNECT and AUTH: the connection-level packets.
#include <string>

#include "assay/mqtt/topic.hpp"
#include "decode_packets.hpp"
#include "property_codec.hpp"

namespace assay::mqtt::detail {

using wire::cite;

void expect_end(wire::Reader& r, PacketType type) {
  if (!r.failed() && !r.at_end()) {
    r.malformed(cite(r.version(), "§2.2.3", "§2.1.4"), std::to_string(r.remaining()) +
                                                           " unexpected bytes at the end of " +
                                                           std::string(to_string(type)));
  }
}

void decode_connect(wire::Reader& head, Packet& out) {
  auto& c = out.emplace<Connect>();
  const std::string protocol_name = head.utf8("Protocol Name");
  const std::uint8_t level = head.u8("Protocol Level");
  if (head.failed()) return;
  if (level != 4 && level != 5) {
    head.fail(ReasonCode::unsupported_protocol_version, "MQTT-3.1.2-2",
              "Protocol Level " + std::to_string(level) +
                  " is not supported (4 is MQTT 3.1.1, 5 is MQTT 5.0)");
    return;
  }
  c.version = static_cast<Version>(level);
  if (protocol_name != "MQTT") {
    head.fail(ReasonCode::unsupported_protocol_version, "MQTT-3.1.2-1",
              "Protocol Name is \"" + protocol_name + "\", not \"MQTT\"");
    return;
  }
  const Version v = c.version;
  wire::Reader r(head.rest(), v);

  const std::uint8_t flags = r.u8("Connect Flags");
  if (r.failed()) {
    head.merge(r);
    return;
  }
  const bool will_flag = (flags & 0x04) != 0;
  const auto will_qos = static_cast<std::uint8_t>((flags >> 3) & 0x03);
  const bool will_retain = (flags & 0x20) != 0;
  const bool password_flag = (flags & 0x40) != 0;
  const bool username_flag = (flags & 0x80) != 0;
  c.clean_start = (flags & 0x02) != 0;
  if ((flags & 0x01) != 0) {
    r.malformed("MQTT-3.1.2-3", "the reserved Connect Flag (bit 0) is set");
  } else if (!will_flag && will_qos != 0) {
    r.malformed(cite(v, "MQTT-3.1.2-13", "MQTT-3.1.2-11"), "Will QoS is set without the Will Flag");
  } else if (!will_flag && will_retain) {
    r.malformed(cite(v, "MQTT-3.1.2-15", "MQTT-3.1.2-13"),
                "Will Retain is set without the Will Flag");
  } else if (will_qos == 3) {
    r.malformed(cite(v, "MQTT-3.1.2-14", "MQTT-3.1.2-12"), "Will QoS is 3");
  } else if (v == Version::v3_1_1 && password_flag && !username_flag) {
    r.malformed("MQTT-3.1.2-22", "Password Flag is set without the User Name Flag");
  }
  c.keep_alive = r.u16("Keep Alive");
  if (v == Version::v5) c.properties = read_properties(r, PropertyContext::connect);
  c.client_id = r.utf8("Client Identifier");
  if (will_flag) {
    Will w;
    w.qos = static_cast<QoS>(will_qos);
    w.retain = will_retain;
    if (v == Version::v5) w.properties = read_properties(r, PropertyContext::will);
    w.topic = r.utf8("Will Topic");
    if (!r.failed()) {
      if (auto bad = validate_topic_name(w.topic, v)) {
        r.fail(bad->reason, bad->statement, "Will Topic: " + bad->detail);
      }
    }
    w.payload = SharedBytes(r.binary("Will Payload"));
    c.will = std::move(w);
  }
  if (username_flag) c.username = r.utf8("User Name");
  if (password_flag) c.password = r.binary("Password");
  expect_end(r, PacketType::connect);
  head.merge(r);
}

void decode_connack(wire::Reader& r, Packet& out) {
  const Version v = r.version();
  auto& c = out.emplace<Connack>();
  const std::uint8_t flags = r.u8("Connect Acknowledge Flags");
  const std::uint8_t code = r.u8(v == Version::v5 ? "Reason Code" : "Return Code");
  if (r.failed()) return;
  if ((flags & 0xFE) != 0) {
    r.malformed(cite(v, "§3.2.2.1", "MQTT-3.2.2-1"), "reserved Connect Acknowledge Flags are set");
    return;
  }
  c.session_present = (flags & 0x01) != 0;
  if (v == Version::v3_1_1) {
    const auto rc = connack_reason_from_v311(code);
    if (!rc) {
      r.protocol_error("§3.2.2.3", "CONNACK Return Code " + std::to_string(code) + " is reserved");
      return;
    }
    c.reason_code = *rc;
  } else {
    c.reason_code = static_cast<ReasonCode>(code);
    if (!allowed_in(c.reason_code, PacketType::connack)) {
      r.protocol_error("MQTT-3.2.2-8",
                       "Reason Code " + std::to_string(code) + " is not a CONNACK Reason Code");
      return;
    }
  }
  if (c.session_present && c.reason_code != ReasonCode::success) {
    r.protocol_error(cite(v, "MQTT-3.2.2-4", "MQTT-3.2.2-6"),
                     "Session Present is 1 in a CONNACK that refuses the connection");
    return;
  }
  if (v == Version::v5) c.properties = read_properties(r, PropertyContext::connack);
  expect_end(r, PacketType::connack);
}

namespace {

// DISCONNECT and AUTH share a layout: nothing, a Reason Code, or a Reason
// Code and properties (§3.14.2, §3.15.2).
template <class P>
void decode_reason_and_properties(wire::Reader& r, PacketType type, std::string_view statement,
                                  P& p) {
  if (r.at_end()) return;  // Reason Code 0x00, no properties
  const std::uint8_t code = r.u8("Reason Code");
  p.reason_code = static_cast<ReasonCode>(code);
  p.layout = AckLayout::reason_code;
  if (!allowed_in(p.reason_code, type)) {
    r.protocol_error(statement, "Reason Code " + std::to_string(code) + " is not allowed in " +
                                    std::string(to_string(type)));
    return;
  }
  if (!r.at_end()) {
    p.properties = read_properties(r, context_of(type));
    p.layout = AckLayout::full;
    expect_end(r, type);
  }
  p.layout = recorded_layout(p.layout, p.reason_code, p.properties);
}

}  // namespace

void decode_disconnect(wire::Reader& r, Packet& out) {
  auto& d = out.emplace<Disconnect>();
  if (r.version() == Version::v3_1_1) {
    expect_end(r, PacketType::disconnect);
    return;
  }
  decode_reason_and_properties(r, PacketType::disconnect, "MQTT-3.14.2-1", d);
}

void decode_auth(wire::Reader& r, Packet& out) {
  decode_reason_and_properties(r, PacketType::auth, "MQTT-3.15.2-1", out.emplace<Auth>());
}

}  // namespace assay::mqtt::detail
