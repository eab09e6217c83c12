// Which packets each role may receive in each state (Connection::allowed's
// table), cell by cell: every packet type in every state in which a
// Connection decodes, against the statement the spec names for it.
#include <gtest/gtest.h>

#include <string_view>

#include "assay/mqtt/codec.hpp"
#include "assay/mqtt/connection.hpp"

namespace assay::mqtt::test {
namespace {

Connect connect_packet() {
  Connect c;
  c.version = Version::v5;
  c.client_id = "c";
  return c;
}

// One well-formed 5.0 packet of each type.
Bytes packet_of(PacketType t) {
  switch (t) {
    case PacketType::connect:
      return encode(connect_packet(), Version::v5);
    case PacketType::connack:
      return encode(Connack{}, Version::v5);
    case PacketType::publish: {
      Publish p;
      p.topic = "t";
      return encode(p, Version::v5);
    }
    case PacketType::puback:
      return {0x40, 0x02, 0x00, 0x01};
    case PacketType::pubrec:
      return {0x50, 0x02, 0x00, 0x01};
    case PacketType::pubrel:
      return {0x62, 0x02, 0x00, 0x01};
    case PacketType::pubcomp:
      return {0x70, 0x02, 0x00, 0x01};
    case PacketType::subscribe:
      return encode(Subscribe{1, {}, {{"t", SubscribeOptions{}}}}, Version::v5);
    case PacketType::suback:
      return encode(Suback{1, {}, {ReasonCode::success}}, Version::v5);
    case PacketType::unsubscribe:
      return encode(Unsubscribe{1, {}, {"t"}}, Version::v5);
    case PacketType::unsuback:
      return encode(Unsuback{1, {}, {ReasonCode::success}}, Version::v5);
    case PacketType::pingreq:
      return {0xC0, 0x00};
    case PacketType::pingresp:
      return {0xD0, 0x00};
    case PacketType::disconnect:
      return {0xE0, 0x00};
    case PacketType::auth:
      return {0xF0, 0x00};
  }
  return {};
}

enum class Where {
  server_awaiting_connect,
  server_awaiting_decision,  // enhanced authentication: AUTH may come
  server_connected,
  client_awaiting_connack,
  client_connected,
};

Connection in(Where where) {
  ConnectionOptions o;
  o.role = where <= Where::server_connected ? Role::server : Role::client;
  Connection c(o, Time{0});
  switch (where) {
    case Where::server_awaiting_connect:
      break;
    case Where::server_awaiting_decision: {
      Connect connect = connect_packet();
      connect.properties.add(PropertyId::authentication_method, std::string("m"));
      c.receive(encode(connect, Version::v5), Time{0});
      break;
    }
    case Where::server_connected:
      c.receive(packet_of(PacketType::connect), Time{0});
      c.accept(Connack{}, Session{}, Time{0});
      break;
    case Where::client_awaiting_connack:
      c.connect(connect_packet(), Session{}, Time{0});
      break;
    case Where::client_connected:
      c.connect(connect_packet(), Session{}, Time{0});
      c.receive(packet_of(PacketType::connack), Time{0});
      break;
  }
  while (c.poll_event()) {
  }
  return c;
}

// The statement a packet of type `t` breaks in `where`, or "" if none of
// the table's: other checks (an unknown Packet Identifier, say) may still
// object to the packet, which is not this table's business.
std::string_view refusal(Where where, PacketType t) {
  Connection c = in(where);
  c.receive(packet_of(t), Time{0});
  while (auto e = c.poll_event()) {
    if (const auto* v = std::get_if<event::ViolationDetected>(&*e)) {
      for (std::string_view s : {"MQTT-3.1.0-1", "MQTT-3.1.0-2", "MQTT-3.1.2-30", "MQTT-3.2.0-1",
                                 "MQTT-3.2.0-2", "MQTT-3.14.0-1", "§2.1.2"}) {
        if (v->violation.statement == s) return s;
      }
    }
  }
  return "";
}

struct Cell {
  PacketType type;
  std::string_view server_awaiting_connect, server_awaiting_decision, server_connected,
      client_awaiting_connack, client_connected;
};

TEST(Receivable, EveryPacketInEveryState) {
  using T = PacketType;
  constexpr std::string_view first = "MQTT-3.1.0-1";      // CONNECT first [MQTT-3.1.0-1]
  constexpr std::string_view again = "MQTT-3.1.0-2";      // no second CONNECT
  constexpr std::string_view auth = "MQTT-3.1.2-30";      // only AUTH/DISCONNECT in auth
  constexpr std::string_view ack_first = "MQTT-3.2.0-1";  // CONNACK first
  constexpr std::string_view ack_again = "MQTT-3.2.0-2";  // no second CONNACK
  constexpr std::string_view early = "MQTT-3.14.0-1";     // no DISCONNECT before CONNACK
  constexpr std::string_view role = "§2.1.2";             // the other role's packet
  const Cell cells[] = {
      {T::connect, "", again, again, role, role},
      {T::connack, first, auth, role, "", ack_again},
      {T::publish, first, auth, "", ack_first, ""},
      {T::puback, first, auth, "", ack_first, ""},
      {T::pubrec, first, auth, "", ack_first, ""},
      {T::pubrel, first, auth, "", ack_first, ""},
      {T::pubcomp, first, auth, "", ack_first, ""},
      {T::subscribe, first, auth, "", role, role},
      {T::suback, first, auth, role, ack_first, ""},
      {T::unsubscribe, first, auth, "", role, role},
      {T::unsuback, first, auth, role, ack_first, ""},
      {T::pingreq, first, auth, "", role, role},
      {T::pingresp, first, auth, role, ack_first, ""},
      {T::disconnect, first, "", "", early, ""},
      {T::auth, first, "", "", "", ""},
  };
  for (const Cell& c : cells) {
    SCOPED_TRACE(std::string(to_string(c.type)));
    EXPECT_EQ(refusal(Where::server_awaiting_connect, c.type), c.server_awaiting_connect);
    EXPECT_EQ(refusal(Where::server_awaiting_decision, c.type), c.server_awaiting_decision);
    EXPECT_EQ(refusal(Where::server_connected, c.type), c.server_connected);
    EXPECT_EQ(refusal(Where::client_awaiting_connack, c.type), c.client_awaiting_connack);
    EXPECT_EQ(refusal(Where::client_connected, c.type), c.client_connected);
  }
}

}  // namespace
}  // namespace assay::mqtt::test
