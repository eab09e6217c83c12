// Helpers shared by the case files (internal).
#pragma once

#include <string>

#include "assay/conformance/suite.hpp"
#include "assay/mqtt/raw.hpp"

namespace assay::conformance::detail {

using namespace mqtt;
using V = std::vector<std::string>;

inline SharedBytes text(const std::string& s) {
  return SharedBytes(Bytes(s.begin(), s.end()));
}
inline std::string text(const SharedBytes& b) {
  return std::string(b.begin(), b.end());
}

// An application message; a packet id only where the case picks one.
inline Publish message(const std::string& topic, const std::string& payload,
                       QoS qos = QoS::at_most_once, std::uint16_t packet_id = 0) {
  Publish p;
  p.topic = topic;
  p.qos = qos;
  p.packet_id = packet_id;
  p.payload = text(payload);
  return p;
}

// The variable header and payload of a CONNECT, written by hand so that any
// field can be wrong: protocol name and level, flags, keep alive, (5.0)
// empty properties, client id, then `rest` (will and credentials).
inline Bytes raw_connect(Version v, const std::string& client_id, std::uint8_t flags,
                         std::string_view name = "MQTT", std::optional<std::uint8_t> level = {},
                         ByteView rest = {}) {
  FrameBuilder f(PacketType::connect, 0);
  f.string(name).u8(level.value_or(static_cast<std::uint8_t>(v))).u8(flags).u16(0);
  if (v == Version::v5) f.vbi(0);
  f.string(client_id);
  f.bytes(rest);
  return f.build();
}

// A CONNECT that should be accepted, so the raw frames that follow meet a
// connected session.
inline Peer& connected(Context& ctx, const std::string& name) {
  Peer& p = ctx.peer(name);
  p.connect_ok(ctx.connect_packet(ctx.client_id()));
  return p;
}

// The reason codes a 5.0 server may give when it closes for a malformed
// packet or a protocol error (a 3.1.1 server just closes).
inline void expect_malformed_close(Peer& p, const std::string& why) {
  p.expect_close_with(why, {ReasonCode::malformed_packet, ReasonCode::protocol_error});
}

inline QoS min_qos(QoS a, QoS b) {
  return static_cast<QoS>(std::min(static_cast<int>(a), static_cast<int>(b)));
}

inline std::string qos_name(QoS q) {
  return "QoS " + std::to_string(static_cast<int>(q));
}

// The QoS levels this broker offers.
inline QoS offered(const Context& ctx, QoS wanted) {
  return min_qos(wanted, ctx.caps.maximum_qos);
}

inline void need_qos(const Context& ctx, QoS q) {
  ctx.need(q <= ctx.caps.maximum_qos,
           "the broker's Maximum QoS is " + std::to_string(static_cast<int>(ctx.caps.maximum_qos)));
}

}  // namespace assay::conformance::detail
