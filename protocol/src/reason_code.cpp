#include "assay/mqtt/reason_code.hpp"

#include <array>

namespace assay::mqtt {
namespace {

constexpr std::uint32_t bit(PacketType t) {
  return 1u << static_cast<unsigned>(t);
}

constexpr std::uint32_t CONNACK = bit(PacketType::connack);
constexpr std::uint32_t PUBACK = bit(PacketType::puback);
constexpr std::uint32_t PUBREC = bit(PacketType::pubrec);
constexpr std::uint32_t PUBREL = bit(PacketType::pubrel);
constexpr std::uint32_t PUBCOMP = bit(PacketType::pubcomp);
constexpr std::uint32_t SUBACK = bit(PacketType::suback);
constexpr std::uint32_t UNSUBACK = bit(PacketType::unsuback);
constexpr std::uint32_t DISCONNECT = bit(PacketType::disconnect);
constexpr std::uint32_t AUTH = bit(PacketType::auth);

struct Row {
  ReasonCode code;
  std::string_view name;
  std::uint32_t packets;
};

// MQTT 5.0 Table 2-6 (§2.4): every reason code and the packets it may appear
// in. 0x00 is listed under its most general name; name() picks the per-packet
// one.
constexpr std::array<Row, 43> table = {{
    {ReasonCode::success, "Success",
     CONNACK | PUBACK | PUBREC | PUBREL | PUBCOMP | SUBACK | UNSUBACK | DISCONNECT | AUTH},
    {ReasonCode::granted_qos_1, "Granted QoS 1", SUBACK},
    {ReasonCode::granted_qos_2, "Granted QoS 2", SUBACK},
    {ReasonCode::disconnect_with_will_message, "Disconnect with Will Message", DISCONNECT},
    {ReasonCode::no_matching_subscribers, "No matching subscribers", PUBACK | PUBREC},
    {ReasonCode::no_subscription_existed, "No subscription existed", UNSUBACK},
    {ReasonCode::continue_authentication, "Continue authentication", AUTH},
    {ReasonCode::re_authenticate, "Re-authenticate", AUTH},
    {ReasonCode::unspecified_error, "Unspecified error",
     CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT},
    {ReasonCode::malformed_packet, "Malformed Packet", CONNACK | DISCONNECT},
    {ReasonCode::protocol_error, "Protocol Error", CONNACK | DISCONNECT},
    {ReasonCode::implementation_specific_error, "Implementation specific error",
     CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT},
    {ReasonCode::unsupported_protocol_version, "Unsupported Protocol Version", CONNACK},
    {ReasonCode::client_identifier_not_valid, "Client Identifier not valid", CONNACK},
    {ReasonCode::bad_user_name_or_password, "Bad User Name or Password", CONNACK},
    {ReasonCode::not_authorized, "Not authorized",
     CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT},
    {ReasonCode::server_unavailable, "Server unavailable", CONNACK},
    {ReasonCode::server_busy, "Server busy", CONNACK | DISCONNECT},
    {ReasonCode::banned, "Banned", CONNACK},
    {ReasonCode::server_shutting_down, "Server shutting down", DISCONNECT},
    {ReasonCode::bad_authentication_method, "Bad authentication method", CONNACK | DISCONNECT},
    {ReasonCode::keep_alive_timeout, "Keep Alive timeout", DISCONNECT},
    {ReasonCode::session_taken_over, "Session taken over", DISCONNECT},
    {ReasonCode::topic_filter_invalid, "Topic Filter invalid", SUBACK | UNSUBACK | DISCONNECT},
    {ReasonCode::topic_name_invalid, "Topic Name invalid", CONNACK | PUBACK | PUBREC | DISCONNECT},
    {ReasonCode::packet_identifier_in_use, "Packet Identifier in use",
     PUBACK | PUBREC | SUBACK | UNSUBACK},
    {ReasonCode::packet_identifier_not_found, "Packet Identifier not found", PUBREL | PUBCOMP},
    {ReasonCode::receive_maximum_exceeded, "Receive Maximum exceeded", DISCONNECT},
    {ReasonCode::topic_alias_invalid, "Topic Alias invalid", DISCONNECT},
    {ReasonCode::packet_too_large, "Packet too large", CONNACK | DISCONNECT},
    {ReasonCode::message_rate_too_high, "Message rate too high", DISCONNECT},
    {ReasonCode::quota_exceeded, "Quota exceeded", CONNACK | PUBACK | PUBREC | SUBACK | DISCONNECT},
    {ReasonCode::administrative_action, "Administrative action", DISCONNECT},
    {ReasonCode::payload_format_invalid, "Payload format invalid",
     CONNACK | PUBACK | PUBREC | DISCONNECT},
    {ReasonCode::retain_not_supported, "Retain not supported", CONNACK | DISCONNECT},
    {ReasonCode::qos_not_supported, "QoS not supported", CONNACK | DISCONNECT},
    {ReasonCode::use_another_server, "Use another server", CONNACK | DISCONNECT},
    {ReasonCode::server_moved, "Server moved", CONNACK | DISCONNECT},
    {ReasonCode::shared_subscriptions_not_supported, "Shared Subscriptions not supported",
     SUBACK | DISCONNECT},
    {ReasonCode::connection_rate_exceeded, "Connection rate exceeded", CONNACK | DISCONNECT},
    {ReasonCode::maximum_connect_time, "Maximum connect time", DISCONNECT},
    {ReasonCode::subscription_identifiers_not_supported, "Subscription Identifiers not supported",
     SUBACK | DISCONNECT},
    {ReasonCode::wildcard_subscriptions_not_supported, "Wildcard Subscriptions not supported",
     SUBACK | DISCONNECT},
}};

const Row* row(ReasonCode rc) {
  for (const auto& r : table) {
    if (r.code == rc) return &r;
  }
  return nullptr;
}

}  // namespace

bool is_defined(ReasonCode rc) {
  return row(rc) != nullptr;
}

bool allowed_in(ReasonCode rc, PacketType t) {
  const Row* r = row(rc);
  return r != nullptr && (r->packets & bit(t)) != 0;
}

std::string_view name(ReasonCode rc, PacketType t) {
  if (rc == ReasonCode::success) {
    if (t == PacketType::disconnect) return "Normal disconnection";
    if (t == PacketType::suback) return "Granted QoS 0";
  }
  const Row* r = row(rc);
  return r != nullptr ? r->name : "Unknown reason code";
}

// 3.1.1 §3.2.2.3, Table 3.1: 0 accepted, 1 unacceptable protocol version,
// 2 identifier rejected, 3 server unavailable, 4 bad user name or password,
// 5 not authorized.
std::optional<std::uint8_t> connack_code_v311(ReasonCode rc) {
  switch (rc) {
    case ReasonCode::success:
      return 0;
    case ReasonCode::unsupported_protocol_version:
      return 1;
    case ReasonCode::client_identifier_not_valid:
      return 2;
    case ReasonCode::server_unavailable:
      return 3;
    case ReasonCode::bad_user_name_or_password:
      return 4;
    case ReasonCode::not_authorized:
      return 5;
    default:
      return std::nullopt;
  }
}

ReasonCode for_version(ReasonCode rc, PacketType t, Version v) {
  if (v == Version::v5) return rc;
  switch (t) {
    case PacketType::connack:
      if (connack_code_v311(rc)) return rc;
      if (rc == ReasonCode::banned || rc == ReasonCode::bad_authentication_method) {
        return ReasonCode::not_authorized;
      }
      return ReasonCode::server_unavailable;
    case PacketType::suback:
      return is_error(rc) ? ReasonCode::unspecified_error : rc;
    default:
      return ReasonCode::success;
  }
}

std::optional<ReasonCode> connack_reason_from_v311(std::uint8_t code) {
  static constexpr std::array<ReasonCode, 6> map = {ReasonCode::success,
                                                    ReasonCode::unsupported_protocol_version,
                                                    ReasonCode::client_identifier_not_valid,
                                                    ReasonCode::server_unavailable,
                                                    ReasonCode::bad_user_name_or_password,
                                                    ReasonCode::not_authorized};
  if (code >= map.size()) return std::nullopt;
  return map[code];
}

}  // namespace assay::mqtt
