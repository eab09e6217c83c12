// Packets and violations as JSON: `assay decode`'s output, the packets in a
// conformance report's exchanges, and (later) the simulator's trace. Above
// the protocol core, below everything that prints packets.
#pragma once

#include <nlohmann/json.hpp>

#include "assay/mqtt/packets.hpp"
#include "assay/mqtt/violation.hpp"

namespace assay::packet_json {

nlohmann::ordered_json to_json(const mqtt::Packet& packet, mqtt::Version version);
nlohmann::ordered_json to_json(const mqtt::Properties& props, mqtt::PropertyContext where);
nlohmann::ordered_json to_json(const mqtt::Violation& violation);

// "0x8E"
std::string hex_byte(std::uint8_t b);
// "de ad be ef" without separators: "deadbeef"
std::string to_hex(mqtt::ByteView bytes);

}  // namespace assay::packet_json
