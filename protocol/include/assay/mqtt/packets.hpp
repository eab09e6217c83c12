// One version-neutral struct per control packet. Fields that exist only in
// MQTT 5.0 (properties, reason codes) stay empty/default for 3.1.1; the codec
// checks them against the version it encodes or decodes for.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "assay/mqtt/properties.hpp"
#include "assay/mqtt/reason_code.hpp"
#include "assay/mqtt/types.hpp"

namespace assay::mqtt {

// How a 5.0 acknowledgement (PUBACK..PUBCOMP, DISCONNECT, AUTH) was laid out.
// The spec lets a sender omit the Reason Code and Property Length when they
// are 0x00 and empty; the decoder records the form it saw so that re-encoding
// gives back the same bytes. `shortest` is what an encoder normally picks.
enum class AckLayout : std::uint8_t {
  shortest,     // omit what may be omitted
  reason_code,  // Reason Code present, Property Length omitted
  full,         // Reason Code and Property Length present
};

struct Will {
  std::string topic;
  SharedBytes payload;
  QoS qos = QoS::at_most_once;
  bool retain = false;
  Properties properties;  // 5.0 Will Properties
  friend bool operator==(const Will&, const Will&) = default;
};

struct Connect {
  Version version = Version::v5;
  bool clean_start = true;  // 3.1.1: CleanSession
  std::uint16_t keep_alive = 0;
  Properties properties;
  std::string client_id;
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<Bytes> password;
  friend bool operator==(const Connect&, const Connect&) = default;
};

struct Connack {
  bool session_present = false;
  ReasonCode reason_code = ReasonCode::success;  // 3.1.1 return codes map here
  Properties properties;
  friend bool operator==(const Connack&, const Connack&) = default;
};

struct Publish {
  bool dup = false;
  QoS qos = QoS::at_most_once;
  bool retain = false;
  std::string topic;
  std::uint16_t packet_id = 0;  // present only when qos > 0
  Properties properties;
  SharedBytes payload;
  friend bool operator==(const Publish&, const Publish&) = default;
};

// PUBACK, PUBREC, PUBREL and PUBCOMP share one shape; the type tags keep them
// distinct alternatives of Packet.
template <PacketType T>
struct PublishAck {
  static constexpr PacketType type = T;
  std::uint16_t packet_id = 0;
  ReasonCode reason_code = ReasonCode::success;
  Properties properties;
  AckLayout layout = AckLayout::shortest;
  friend bool operator==(const PublishAck&, const PublishAck&) = default;
};
using Puback = PublishAck<PacketType::puback>;
using Pubrec = PublishAck<PacketType::pubrec>;
using Pubrel = PublishAck<PacketType::pubrel>;
using Pubcomp = PublishAck<PacketType::pubcomp>;

// Subscription Options byte (§3.8.3.1). 3.1.1 carries only the QoS.
struct SubscribeOptions {
  QoS qos = QoS::at_most_once;
  bool no_local = false;
  bool retain_as_published = false;
  std::uint8_t retain_handling = 0;  // 0, 1 or 2
  friend bool operator==(const SubscribeOptions&, const SubscribeOptions&) = default;
};

struct Subscription {
  std::string filter;
  SubscribeOptions options;
  friend bool operator==(const Subscription&, const Subscription&) = default;
};

struct Subscribe {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<Subscription> subscriptions;
  friend bool operator==(const Subscribe&, const Subscribe&) = default;
};

struct Suback {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<ReasonCode> reason_codes;  // 3.1.1: 0x00, 0x01, 0x02, 0x80
  friend bool operator==(const Suback&, const Suback&) = default;
};

struct Unsubscribe {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<std::string> filters;
  friend bool operator==(const Unsubscribe&, const Unsubscribe&) = default;
};

struct Unsuback {
  std::uint16_t packet_id = 0;
  Properties properties;
  std::vector<ReasonCode> reason_codes;  // empty in 3.1.1
  friend bool operator==(const Unsuback&, const Unsuback&) = default;
};

struct Pingreq {
  friend bool operator==(const Pingreq&, const Pingreq&) = default;
};
struct Pingresp {
  friend bool operator==(const Pingresp&, const Pingresp&) = default;
};

struct Disconnect {
  ReasonCode reason_code = ReasonCode::success;
  Properties properties;
  AckLayout layout = AckLayout::shortest;
  friend bool operator==(const Disconnect&, const Disconnect&) = default;
};

struct Auth {
  ReasonCode reason_code = ReasonCode::success;
  Properties properties;
  AckLayout layout = AckLayout::shortest;
  friend bool operator==(const Auth&, const Auth&) = default;
};

// Alternative index + 1 == packet type value.
using Packet = std::variant<Connect, Connack, Publish, Puback, Pubrec, Pubrel, Pubcomp, Subscribe,
                            Suback, Unsubscribe, Unsuback, Pingreq, Pingresp, Disconnect, Auth>;

inline PacketType type_of(const Packet& p) {
  return static_cast<PacketType>(p.index() + 1);
}

// The type of one alternative, at compile time.
template <class P, std::size_t I = 0>
constexpr PacketType packet_type_of() {
  if constexpr (std::is_same_v<std::variant_alternative_t<I, Packet>, P>) {
    return static_cast<PacketType>(I + 1);
  } else {
    return packet_type_of<P, I + 1>();
  }
}

}  // namespace assay::mqtt
