// Internal: one decoder per packet family. Each reads the body through the
// sticky Reader; the dispatcher in decode.cpp checks the fixed header first.
#pragma once

#include "assay/mqtt/packets.hpp"
#include "wire.hpp"

namespace assay::mqtt::detail {

// CONNECT carries its own version; the reader's version is not used.
void decode_connect(wire::Reader& r, Packet& out);
void decode_connack(wire::Reader& r, Packet& out);
void decode_publish(wire::Reader& r, std::uint8_t flags, Packet& out);
void decode_publish_ack(wire::Reader& r, PacketType type, Packet& out);
void decode_subscribe(wire::Reader& r, Packet& out);
void decode_suback(wire::Reader& r, Packet& out);
void decode_unsubscribe(wire::Reader& r, Packet& out);
void decode_unsuback(wire::Reader& r, Packet& out);
void decode_disconnect(wire::Reader& r, Packet& out);
void decode_auth(wire::Reader& r, Packet& out);

// The layout to record for an acknowledgement decoded in form `seen`: the
// shortest form when encoding that would reproduce the same bytes, so only
// packets laid out longer than necessary carry a non-default layout.
inline AckLayout recorded_layout(AckLayout seen, ReasonCode rc, const Properties& props) {
  if (seen == AckLayout::reason_code && rc != ReasonCode::success) return AckLayout::shortest;
  if (seen == AckLayout::full && !props.empty()) return AckLayout::shortest;
  return seen;
}

// Malformed unless every byte of the body was read.
void expect_end(wire::Reader& r, PacketType type);

}  // namespace assay::mqtt::detail
