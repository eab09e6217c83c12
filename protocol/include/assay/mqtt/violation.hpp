// A peer broke the protocol: the reason code to answer with and the normative
// statement (or, where the spec gives none, the section) that was broken.
#pragma once

#include <string>
#include <string_view>

#include "assay/mqtt/reason_code.hpp"

namespace assay::mqtt {

struct Violation {
  ReasonCode reason = ReasonCode::malformed_packet;
  // "MQTT-3.3.1-4", or "§2.2.2.2" where the rule has no statement ID.
  std::string_view statement;
  std::string detail;

  friend bool operator==(const Violation&, const Violation&) = default;
};

// "Malformed Packet (0x81) [MQTT-3.3.1-4]: both QoS bits set"
std::string to_string(const Violation& v);

}  // namespace assay::mqtt
