// Sessions across connections: resumption with retransmission (DUP, the
// same Packet Identifier), exactly once across a drop, a session the server
// lost (messages sent again as new, subscriptions restored).
#include "world.hpp"

namespace assay::client::test {
namespace {

Publish msg(std::string topic, std::string payload, QoS qos) {
  Publish p;
  p.topic = std::move(topic);
  p.payload = SharedBytes(std::string_view(payload));
  p.qos = qos;
  return p;
}

std::vector<Publish> publishes(const Node& n) {
  std::vector<Publish> out;
  for (auto& p : decode_all(n.sent, Version::v5)) {
    if (auto* x = std::get_if<Publish>(&p)) out.push_back(*x);
  }
  return out;
}

bool first_byte_is(const Bytes& b, std::uint8_t type) {
  return !b.empty() && (b[0] >> 4) == type;
}

ClientConfig persistent(std::string id) {
  return World::config(std::move(id), Version::v5, false, 3600);
}

struct Fixture : ::testing::Test {
  World w;
  Node* s = nullptr;
  Node* p = nullptr;
  void SetUp() override {
    s = &w.start(persistent("sub"));
    s->engine->subscribe({Subscription{"t", {QoS::exactly_once, false, false, 0}}}, w.now);
    w.pump();
    // The publisher waits longer before reconnecting than the subscriber.
    p = &w.start(persistent("pub"), sequence({~std::uint64_t{0} - 1}));
  }
};

// The PUBACK is lost with the connection: on resumption the PUBLISH goes
// again with DUP=1 and its Packet Identifier [MQTT-4.4.0-1], [MQTT-3.3.1-1].
TEST_F(Fixture, ResumptionRetransmitsWithDupAndTheSameId) {
  p->cut_before_receiving = [](const Bytes& b) { return first_byte_is(b, 4); };  // PUBACK
  const Ticket t = p->engine->publish(msg("t", "m1", QoS::at_least_once), w.now);
  w.pump();
  EXPECT_EQ(p->engine->state(), Engine::State::waiting);
  EXPECT_EQ(p->engine->inflight_messages(), 1u);
  w.run_for(5s);
  ASSERT_TRUE(p->engine->connected());
  EXPECT_TRUE(p->all<event::Connected>().back().resumed);
  const auto sent = publishes(*p);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_FALSE(sent[0].dup);
  EXPECT_TRUE(sent[1].dup);
  EXPECT_EQ(sent[0].packet_id, sent[1].packet_id);
  const auto done = p->all<event::PublishDone>();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].ticket, t);
  EXPECT_EQ(done[0].outcome, Outcome::acknowledged);
  EXPECT_GE(s->payloads().size(), 1u);  // at least once
}

// The link drops between PUBLISH and PUBREC: the resent PUBLISH is
// acknowledged but not delivered again [MQTT-4.3.3-10].
TEST_F(Fixture, QoS2ExactlyOnceAcrossADropBeforePubrec) {
  p->cut_before_receiving = [](const Bytes& b) { return first_byte_is(b, 5); };  // PUBREC
  p->engine->publish(msg("t", "once", QoS::exactly_once), w.now);
  w.pump();
  w.run_for(5s);
  ASSERT_TRUE(p->engine->connected());
  EXPECT_EQ(s->payloads(), std::vector<std::string>{"once"});
  EXPECT_EQ(p->count_done(Outcome::acknowledged), 1u);
}

// And between PUBREL and PUBCOMP: PUBREL is resent, not the PUBLISH
// [MQTT-4.3.3-6]; still one delivery.
TEST_F(Fixture, QoS2ExactlyOnceAcrossADropBeforePubcomp) {
  p->cut_before_receiving = [](const Bytes& b) { return first_byte_is(b, 7); };  // PUBCOMP
  p->engine->publish(msg("t", "once", QoS::exactly_once), w.now);
  w.pump();
  w.run_for(5s);
  ASSERT_TRUE(p->engine->connected());
  EXPECT_EQ(publishes(*p).size(), 1u);
  EXPECT_EQ(s->payloads(), std::vector<std::string>{"once"});
  EXPECT_EQ(p->count_done(Outcome::acknowledged), 1u);
  EXPECT_EQ(p->engine->inflight_messages(), 0u);
}

// Incoming QoS 2: the subscriber's PUBREC is lost; the broker resends the
// PUBLISH (DUP) on resumption; the engine acknowledges without a second
// delivery.
TEST_F(Fixture, IncomingQoS2IsDeliveredOnceWhenThePubrecIsLost) {
  s->cut_before_sending = [](const Bytes& b) { return first_byte_is(b, 5); };  // our PUBREC
  p->engine->publish(msg("t", "in", QoS::exactly_once), w.now);
  w.pump();
  w.run_for(5s);
  ASSERT_TRUE(s->engine->connected());
  EXPECT_EQ(s->payloads(), std::vector<std::string>{"in"});
  EXPECT_EQ(p->count_done(Outcome::acknowledged), 1u);
}

// The broker restarts without persistence: Session Present 0. The message
// in flight is sent again as a new one (DUP 0, at least once), and the
// subscriber's subscription is restored without the application asking.
TEST_F(Fixture, ASessionTheServerLostIsRebuilt) {
  p->cut_before_receiving = [](const Bytes& b) { return first_byte_is(b, 4); };
  const Ticket t = p->engine->publish(msg("t", "again", QoS::at_least_once), w.now);
  w.pump();
  ASSERT_EQ(p->engine->inflight_messages(), 1u);
  w.restart_broker();
  w.run_for(5s);
  ASSERT_TRUE(s->engine->connected());
  ASSERT_TRUE(p->engine->connected());
  EXPECT_FALSE(s->all<event::Connected>().back().resumed);
  const auto restored = s->all<event::SubscribeDone>();
  ASSERT_EQ(restored.size(), 2u);
  EXPECT_EQ(restored[1].id, 0u);
  EXPECT_EQ(restored[1].filters, std::vector<std::string>{"t"});
  const auto sent = publishes(*p);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_FALSE(sent[1].dup);  // a new message to a new session
  const auto done = p->all<event::PublishDone>();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].ticket, t);
  EXPECT_EQ(done[0].outcome, Outcome::acknowledged);
  // Delivered before the restart and after it: at least once.
  EXPECT_EQ(s->payloads(), (std::vector<std::string>{"again", "again"}));
}

TEST_F(Fixture, WithoutResendALostSessionDiscardsWhatWasInFlight) {
  ClientConfig c = persistent("pub2");
  c.resend_after_session_loss = false;
  Node& q = w.start(c, sequence({~std::uint64_t{0} - 1}));
  q.cut_before_receiving = [](const Bytes& b) { return first_byte_is(b, 4); };
  q.engine->publish(msg("t", "x", QoS::at_least_once), w.now);
  w.pump();
  w.restart_broker();
  w.run_for(5s);
  const auto done = q.all<event::PublishDone>();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outcome, Outcome::discarded);
}

// A QoS 2 message whose PUBREC came was owned by the server: after a
// session loss it counts as delivered and is not sent again.
TEST_F(Fixture, QoS2PastPubrecCountsAsDeliveredAfterASessionLoss) {
  p->cut_before_receiving = [](const Bytes& b) { return first_byte_is(b, 7); };  // PUBCOMP
  p->engine->publish(msg("t", "q2", QoS::exactly_once), w.now);
  w.pump();
  ASSERT_EQ(p->engine->inflight_messages(), 1u);
  w.restart_broker();
  w.run_for(5s);
  ASSERT_TRUE(p->engine->connected());
  EXPECT_EQ(publishes(*p).size(), 1u);
  const auto done = p->all<event::PublishDone>();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outcome, Outcome::acknowledged);
  EXPECT_EQ(s->payloads(), std::vector<std::string>{"q2"});
}

// A SUBSCRIBE whose SUBACK was lost is sent again on the next connection.
TEST_F(Fixture, ASubscribeInFlightIsSentAgainAfterADrop) {
  s->cut_before_receiving = [](const Bytes& b) { return first_byte_is(b, 9); };  // SUBACK
  const RequestId r =
      s->engine->subscribe({Subscription{"u", {QoS::at_least_once, false, false, 0}}}, w.now);
  w.pump();
  w.run_for(5s);
  ASSERT_TRUE(s->engine->connected());
  const auto done = s->all<event::SubscribeDone>();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[1].id, r);
  p->engine->publish(msg("u", "after", QoS::at_least_once), w.now);
  w.pump();
  EXPECT_EQ(s->payloads(), std::vector<std::string>{"after"});
}

// A refused filter is not restored after a session loss.
TEST(Subscriptions, ARefusedFilterIsForgotten) {
  broker::EngineConfig bc;
  struct NoSecrets : broker::Authorizer {
    bool may_publish(const broker::Principal&, std::string_view) override { return true; }
    bool may_subscribe(const broker::Principal&, std::string_view f) override {
      return f != "secret";
    }
  };
  bc.authorizer = std::make_shared<NoSecrets>();
  World w(bc);
  Node& s = w.start(persistent("s"));
  s.engine->subscribe({Subscription{"open", {}}, Subscription{"secret", {}}}, w.now);
  w.pump();
  const auto done = s.all<event::SubscribeDone>();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].reason_codes,
            (std::vector<ReasonCode>{granted_qos_0, ReasonCode::not_authorized}));
  ASSERT_EQ(s.engine->subscriptions().size(), 1u);
  EXPECT_EQ(s.engine->subscriptions()[0].filter, "open");
}

}  // namespace
}  // namespace assay::client::test
