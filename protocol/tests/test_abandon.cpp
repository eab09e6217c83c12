// Connection::abandon(): a received QoS 1/2 message the server did not take
// and cannot refuse (3.1.1 has no reason codes): no acknowledgement, its
// Packet Identifier forgotten, and the acknowledgements behind it still
// leave in order.
#include <gtest/gtest.h>

#include "assay/mqtt/connection.hpp"
#include "pair.hpp"

namespace assay::mqtt::test {
namespace {

TEST(Abandon, MQTT_4_3_3_9_TheIdIsFreeAndLaterAcksStillLeave) {
  ConnectionOptions co;
  co.role = Role::client;
  ConnectionOptions so;
  so.role = Role::server;
  so.manual_ack = true;
  so.trace_packets = true;
  Pair pair(co, so);
  SessionStore store;
  std::vector<std::uint16_t> received;
  pair.on_server = [&](Pair& p, const Event& e) {
    store.handle(p, e);
    if (const auto* m = std::get_if<event::MessageReceived>(&e)) {
      if (m->awaiting_ack) received.push_back(m->message.packet_id);
    }
  };
  Connect c;
  c.version = Version::v3_1_1;
  c.client_id = "abandoned";
  pair.client->connect(c, Session{}, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.client->state() == Connection::State::connected; }));
  for (int i = 0; i < 2; ++i) {
    Publish p;
    p.topic = "t";
    p.qos = QoS::exactly_once;
    p.payload = SharedBytes(std::string_view("x"));
    pair.client->publish(std::move(p), pair.now);
  }
  pair.run_for(std::chrono::milliseconds(100));
  ASSERT_EQ(received.size(), 2u);
  EXPECT_EQ(pair.server->session().incoming_qos2().size(), 2u);
  pair.server->abandon(received[0]);
  EXPECT_EQ(pair.server->session().incoming_qos2().size(), 1u);  // its id is free again
  pair.server->acknowledge(received[1], pair.now);
  pair.run_for(std::chrono::milliseconds(100));
  const auto pubrecs = sent_by<Pubrec>(pair.server_events);
  ASSERT_EQ(pubrecs.size(), 1u);  // the abandoned message is never acknowledged
  EXPECT_EQ(pubrecs[0].packet_id, received[1]);
  EXPECT_EQ(pair.client->session().inflight().size(), 1u);  // still the client's to resend
}

}  // namespace
}  // namespace assay::mqtt::test
