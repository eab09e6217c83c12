// Reason codes (MQTT 5.0 §2.4) in one table, with the packets each may appear
// in. MQTT 3.1.1 CONNACK return codes and SUBACK return codes map onto the same
// enumeration (see connack_code_v311), so packets stay version-neutral.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "assay/mqtt/types.hpp"

namespace assay::mqtt {

enum class ReasonCode : std::uint8_t {
  success = 0x00,  // also Normal disconnection and Granted QoS 0
  granted_qos_1 = 0x01,
  granted_qos_2 = 0x02,
  disconnect_with_will_message = 0x04,
  no_matching_subscribers = 0x10,
  no_subscription_existed = 0x11,
  continue_authentication = 0x18,
  re_authenticate = 0x19,
  unspecified_error = 0x80,
  malformed_packet = 0x81,
  protocol_error = 0x82,
  implementation_specific_error = 0x83,
  unsupported_protocol_version = 0x84,
  client_identifier_not_valid = 0x85,
  bad_user_name_or_password = 0x86,
  not_authorized = 0x87,
  server_unavailable = 0x88,
  server_busy = 0x89,
  banned = 0x8A,
  server_shutting_down = 0x8B,
  bad_authentication_method = 0x8C,
  keep_alive_timeout = 0x8D,
  session_taken_over = 0x8E,
  topic_filter_invalid = 0x8F,
  topic_name_invalid = 0x90,
  packet_identifier_in_use = 0x91,
  packet_identifier_not_found = 0x92,
  receive_maximum_exceeded = 0x93,
  topic_alias_invalid = 0x94,
  packet_too_large = 0x95,
  message_rate_too_high = 0x96,
  quota_exceeded = 0x97,
  administrative_action = 0x98,
  payload_format_invalid = 0x99,
  retain_not_supported = 0x9A,
  qos_not_supported = 0x9B,
  use_another_server = 0x9C,
  server_moved = 0x9D,
  shared_subscriptions_not_supported = 0x9E,
  connection_rate_exceeded = 0x9F,
  maximum_connect_time = 0xA0,
  subscription_identifiers_not_supported = 0xA1,
  wildcard_subscriptions_not_supported = 0xA2,
};

inline constexpr ReasonCode normal_disconnection = ReasonCode::success;
inline constexpr ReasonCode granted_qos_0 = ReasonCode::success;

// True for every value the 5.0 table defines.
bool is_defined(ReasonCode rc);

// True when the 5.0 specification allows `rc` in a packet of type `t`
// (Table 2-6). Used by the decoder for [MQTT-3.2.2-8], [MQTT-3.4.2-1] etc.
bool allowed_in(ReasonCode rc, PacketType t);

// The spec's name for the code as used in packet `t` (0x00 reads "Success",
// "Normal disconnection" or "Granted QoS 0" depending on the packet).
std::string_view name(ReasonCode rc, PacketType t = PacketType::connack);

inline bool is_error(ReasonCode rc) {
  return static_cast<std::uint8_t>(rc) >= 0x80;
}

// MQTT 3.1.1 CONNACK return codes 0..5 (§3.2.2.3) and the 5.0 codes they mean.
// Returns nullopt for a 5.0 code that 3.1.1 cannot express.
std::optional<std::uint8_t> connack_code_v311(ReasonCode rc);
std::optional<ReasonCode> connack_reason_from_v311(std::uint8_t code);

// The one place that chooses what a packet of type `t` says for `rc` in
// version `v`, so that the engine can speak 5.0 codes throughout. 5.0
// carries `rc` itself. 3.1.1 has fewer: a CONNACK carries the return code of
// the same meaning (connack_code_v311), Not authorized for Banned and Bad
// authentication method, and Server unavailable for any other refusal; a
// SUBACK a granted QoS or 0x80 (Failure) for any refusal [MQTT-3.9.3-2];
// PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK carry no code (success).
ReasonCode for_version(ReasonCode rc, PacketType t, Version v);

}  // namespace assay::mqtt
