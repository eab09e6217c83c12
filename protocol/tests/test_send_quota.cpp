// What decides when an outgoing QoS 1/2 message may go: the peer's Receive
// Maximum [MQTT-4.9.0-2], a free Packet Identifier [MQTT-2.2.1-3], and a
// queue ahead of it; and publish_as(), which a client engine uses to send
// under tickets of its own.
#include <gtest/gtest.h>

#include "assay/mqtt/connection.hpp"
#include "pair.hpp"

namespace assay::mqtt::test {
namespace {

// A client connected to a server whose CONNACK says Receive Maximum `rm`;
// the server never acknowledges unless the test lets it.
struct Quota {
  explicit Quota(std::uint32_t rm) : pair(options(Role::client), options(Role::server)) {
    Connack connack;
    if (rm > 0) connack.properties.add(PropertyId::receive_maximum, rm);
    pair.on_server = [this, connack](Pair& p, const Event& e) { store.handle(p, e, connack); };
    Connect c;
    c.client_id = "quota";
    pair.client->connect(c, Session{}, pair.now);
    EXPECT_TRUE(
        pair.run_until([&] { return pair.client->state() == Connection::State::connected; }));
  }
  static ConnectionOptions options(Role r) {
    ConnectionOptions o;
    o.role = r;
    o.manual_ack = r == Role::server;  // the server acks only when told
    return o;
  }
  static Publish message(QoS q) {
    Publish p;
    p.topic = "q";
    p.qos = q;
    p.payload = SharedBytes(std::string_view("x"));
    return p;
  }
  Pair pair;
  SessionStore store;
};

TEST(SendQuota, MQTT_4_9_0_2_CanPublishFollowsTheReceiveMaximum) {
  Quota q(2);
  Connection& c = *q.pair.client;
  EXPECT_TRUE(c.can_publish(QoS::at_least_once));
  c.publish_as(11, Quota::message(QoS::at_least_once), q.pair.now);
  c.publish_as(12, Quota::message(QoS::exactly_once), q.pair.now);
  EXPECT_FALSE(c.can_publish(QoS::at_least_once));  // two in flight, none acknowledged
  EXPECT_FALSE(c.can_publish(QoS::exactly_once));
  EXPECT_TRUE(c.can_publish(QoS::at_most_once));  // QoS 0 needs no quota
  EXPECT_EQ(c.session().inflight().size(), 2u);
  // Over the quota, publish_as queues (in order) rather than sends.
  c.publish_as(13, Quota::message(QoS::at_least_once), q.pair.now);
  EXPECT_EQ(c.session().queue().size(), 1u);
  EXPECT_FALSE(c.can_publish(QoS::at_most_once));  // something is queued ahead of it
}

TEST(SendQuota, PublishAsCompletesUnderTheDriversTicket) {
  Quota q(0);
  q.pair.on_server = [&](Pair& p, const Event& e) {
    if (const auto* m = std::get_if<event::MessageReceived>(&e)) {
      if (m->awaiting_ack) p.server->acknowledge(m->message.packet_id, p.now);
    }
  };
  q.pair.client->publish_as(4242, Quota::message(QoS::at_least_once), q.pair.now);
  q.pair.client->publish_as(7, Quota::message(QoS::at_most_once), q.pair.now);
  q.pair.run_for(std::chrono::seconds(1));
  const auto done = events_of<event::PublishCompleted>(q.pair.client_events);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].ticket, 7u);     // QoS 0: done once sent
  EXPECT_EQ(done[1].ticket, 4242u);  // QoS 1: at its PUBACK
  EXPECT_EQ(done[1].outcome, Outcome::acknowledged);
}

// With every Packet Identifier held by a message in flight, a new QoS 1
// message waits (it used to be discarded) and goes out with the first id
// freed [MQTT-2.2.1-3].
TEST(SendQuota, MQTT_2_2_1_3_MessagesWaitForAFreePacketIdentifier) {
  Quota q(0);  // no Receive Maximum: 65,535
  Connection& c = *q.pair.client;
  for (std::uint32_t i = 0; i < max_packet_identifier; ++i)
    c.publish(Quota::message(QoS::at_least_once), q.pair.now);
  EXPECT_EQ(c.session().inflight().size(), std::size_t{max_packet_identifier});
  EXPECT_FALSE(c.packet_id_available());
  EXPECT_FALSE(c.can_publish(QoS::at_least_once));
  c.publish(Quota::message(QoS::at_least_once), q.pair.now);
  EXPECT_EQ(c.session().queue().size(), 1u);
  EXPECT_TRUE(events_of<event::PublishCompleted>(q.pair.client_events).empty());
  // The server acknowledges the first one only.
  bool acked = false;
  q.pair.on_server = [&](Pair& p, const Event& e) {
    if (const auto* m = std::get_if<event::MessageReceived>(&e)) {
      if (!acked && m->awaiting_ack) {
        acked = true;
        p.server->acknowledge(m->message.packet_id, p.now);
      }
    }
  };
  q.pair.run_until([&] { return c.session().queue().empty(); });
  EXPECT_TRUE(c.session().queue().empty());
  EXPECT_EQ(c.session().inflight().size(), std::size_t{max_packet_identifier});
  EXPECT_EQ(c.session().inflight().back().publish.packet_id, 1);  // the id freed
}

}  // namespace
}  // namespace assay::mqtt::test
