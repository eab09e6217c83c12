// Several engines as one broker (what `assay broker --threads N` runs):
// sessions live on their client id's shard, the routing state is shared,
// messages for another shard's sessions are forwarded.
#include <set>

#include "world.hpp"

namespace assay::broker::test {
namespace {

// A client id with `prefix` whose sessions live on `shard` of `shards`.
std::string id_on(std::size_t shard, const std::string& prefix, std::size_t shards = 2) {
  for (int i = 0;; ++i) {
    std::string id = prefix;
    id.append("-").append(std::to_string(i));
    if (home_shard(id, shards) == shard) return id;
  }
}

TEST(Shards, HomeShardIsFixedAndSpreadsClientIds) {
  EXPECT_EQ(home_shard("anything", 1), 0u);
  // FNV-1a of "a" is 0xaf63dc4c8601ec8c: the same on every run and platform,
  // which the simulator's determinism relies on.
  EXPECT_EQ(home_shard("a", 2), 0u);
  EXPECT_EQ(home_shard("a", 3), 1u);
  std::vector<std::size_t> count(4);
  for (int i = 0; i < 10'000; ++i)
    ++count[home_shard("sensor-" + std::to_string(i), 4)];
  for (const std::size_t n : count) {
    EXPECT_GT(n, 2200u);
    EXPECT_LT(n, 2800u);
  }
}

// The harness keeps a connection's Link when it moves, and a connection
// whose client left while its handoff waited is closed on its new shard,
// not left open there for ever.
TEST(Shards, TheHarnessClosesAHandedOffConnectionWhoseClientLeft) {
  Harness broker({}, 2);
  const std::string id = id_on(1, "gone");
  Connection client(ConnectionOptions{.role = Role::client}, Time{0});
  client.connect(World::make_connect(id), {}, Time{0});
  Bytes connect;
  client.poll_transmit(connect);
  const Harness::Link link = *broker.open(Time{0}, 0);
  broker.receive(link, connect, Time{0});  // the handoff waits in engine 0
  EXPECT_EQ(broker.shard_of(link), 0u);
  broker.close(link, Time{0});
  EXPECT_FALSE(broker.is_open(link));
  EXPECT_FALSE(broker.poll(Time{0}).has_value());  // adopted, then closed
  EXPECT_EQ(broker.handoffs(), 1u);
  EXPECT_EQ(broker.engine(1).stats().connections, 0u);
  EXPECT_EQ(broker.engine(0).stats().connections, 0u);

  const Harness::Link moved = *broker.open(Time{0}, 0);
  broker.receive(moved, connect, Time{0});
  const auto connack = broker.poll(Time{0});
  ASSERT_TRUE(connack.has_value());
  EXPECT_EQ(connack->link, moved);  // the same name on shard 1
  EXPECT_EQ(broker.shard_of(moved), 1u);
}

TEST(Shards, AConnectionMovesToItsClientIdsShard) {
  World w({}, 2);
  const std::string id = id_on(1, "c");
  Client& c = w.connect(World::make_connect(id), {}, 0);
  EXPECT_EQ(c.conn->state(), Connection::State::connected);
  EXPECT_EQ(w.shard_of(c), 1u);
  EXPECT_EQ(w.broker.handoffs(), 1u);
  EXPECT_EQ(w.broker.engine(0).stats().sessions, 0u);
  EXPECT_EQ(w.broker.engine(1).stats().sessions, 1u);
  EXPECT_EQ(w.broker.engine(0).stats().connections, 0u);
  // One accepted by its own shard stays.
  Client& d = w.connect(World::make_connect(id_on(0, "d")), {}, 0);
  EXPECT_EQ(w.shard_of(d), 0u);
  EXPECT_EQ(w.broker.handoffs(), 1u);
}

TEST(Shards, MQTT_3_1_4_3_TakeoverWhenTheSecondConnectionArrivesAtAnotherShard) {
  World w({}, 2);
  const std::string id = id_on(1, "same");
  Client& first = w.connect(World::make_connect(id, Version::v5, false, 3600), {}, 1);
  w.subscribe(first, "t", QoS::at_least_once);
  Client& second = w.connect(World::make_connect(id, Version::v5, false, 3600), {}, 0);
  EXPECT_TRUE(first.closed);
  const auto d = first.all<event::DisconnectReceived>();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].disconnect.reason_code, ReasonCode::session_taken_over);
  ASSERT_EQ(second.all<event::Connected>().size(), 1u);
  EXPECT_TRUE(second.all<event::Connected>()[0].connack.session_present);  // [MQTT-3.2.2-3]
  Client& pub = w.connect(World::make_connect(id_on(0, "pub")), {}, 0);
  w.publish(pub, "t", QoS::at_least_once, "after");
  EXPECT_EQ(payloads(second), (std::vector<std::string>{"after"}));
}

TEST(Shards, MQTT_4_5_0_1_OfflineMessagesWaitOnTheHomeShard) {
  World w({}, 2);
  const std::string id = id_on(1, "sub");
  Client& sub = w.connect(World::make_connect(id, Version::v5, true, 3600), {}, 1);
  w.subscribe(sub, "q/#", QoS::at_least_once);
  w.drop(sub);
  Client& pub = w.connect(World::make_connect(id_on(0, "pub")), {}, 0);
  w.publish(pub, "q/1", QoS::at_least_once, "one");
  w.publish(pub, "q/2", QoS::exactly_once, "two");
  Client& back = w.connect(World::make_connect(id, Version::v5, false, 3600), {}, 0);
  EXPECT_EQ(w.shard_of(back), 1u);
  EXPECT_TRUE(back.all<event::Connected>()[0].connack.session_present);
  EXPECT_EQ(payloads(back), (std::vector<std::string>{"one", "two"}));
}

// Messages of one publisher reach a subscriber on another shard in the order
// sent [MQTT-4.6.0-5], at the subscription's QoS, and the publisher is told
// somebody matched (no 0x10).
TEST(Shards, MQTT_4_6_0_5_OrderAcrossShards) {
  World w({}, 2);
  Client& sub = w.connect(World::make_connect(id_on(1, "sub")), {}, 1);
  Client& pub = w.connect(World::make_connect(id_on(0, "pub")), {}, 0);
  w.subscribe(sub, "o", QoS::exactly_once);
  std::vector<std::string> sent;
  for (int i = 0; i < 60; ++i) {
    sent.push_back(std::to_string(i));
    w.publish(pub, "o", static_cast<QoS>(i % 3), sent.back());
  }
  EXPECT_EQ(payloads(sub), sent);
  EXPECT_EQ(w.broker.forwards(), 60u);
  for (const auto& done : pub.all<event::PublishCompleted>()) {
    EXPECT_EQ(done.outcome, Outcome::acknowledged);
    EXPECT_EQ(done.reason_code, ReasonCode::success);
  }
  EXPECT_EQ(pub.all<event::PublishCompleted>().size(), 60u);
}

// One member of a shared subscription gets each message, whichever shard
// it lives on [MQTT-4.8.2-2].
TEST(Shards, MQTT_4_8_2_2_SharedSubscriptionOneMemberAcrossShards) {
  World w({}, 2);
  Client& m0 = w.connect(World::make_connect(id_on(0, "m")), {}, 0);
  Client& m1 = w.connect(World::make_connect(id_on(1, "m")), {}, 0);
  w.subscribe(m0, "$share/g/s", QoS::at_least_once);
  w.subscribe(m1, "$share/g/s", QoS::at_least_once);
  Client& pub0 = w.connect(World::make_connect(id_on(0, "p")), {}, 0);
  Client& pub1 = w.connect(World::make_connect(id_on(1, "p")), {}, 1);
  std::set<std::string> sent;
  for (int i = 0; i < 20; ++i) {
    for (auto [pub, prefix] : {std::pair<Client*, char>{&pub0, 'a'}, {&pub1, 'b'}}) {
      std::string payload(1, prefix);
      payload.append(std::to_string(i));
      sent.insert(payload);
      w.publish(*pub, "s", QoS::at_least_once, payload);
    }
  }
  std::multiset<std::string> got;
  for (const auto& p : payloads(m0))
    got.insert(p);
  for (const auto& p : payloads(m1))
    got.insert(p);
  EXPECT_EQ(got, std::multiset<std::string>(sent.begin(), sent.end()));
  EXPECT_GT(payloads(m0).size(), 5u);
  EXPECT_GT(payloads(m1).size(), 5u);
  // A member gone offline is passed over while another has a connection.
  w.drop(m0);
  const std::size_t before = payloads(m1).size();
  w.publish(pub0, "s", QoS::at_least_once, "c");
  w.publish(pub1, "s", QoS::at_least_once, "d");
  EXPECT_EQ(payloads(m1).size(), before + 2);
}

TEST(Shards, MQTT_3_3_1_5_RetainedMessagesAreBrokerWide) {
  World w({}, 2);
  Client& pub = w.connect(World::make_connect(id_on(0, "pub")), {}, 0);
  w.publish(pub, "r/x", QoS::at_least_once, "kept", true);
  Client& sub = w.connect(World::make_connect(id_on(1, "sub")), {}, 0);
  w.subscribe(sub, "r/+", QoS::at_least_once);
  EXPECT_EQ(payloads(sub), (std::vector<std::string>{"kept"}));
  EXPECT_TRUE(sub.messages()[0].retain);
  EXPECT_EQ(w.broker.engine(1).stats().retained, 1u);
  // Cleared from the other shard [MQTT-3.3.1-6].
  Client& other = w.connect(World::make_connect(id_on(1, "clear")), {}, 1);
  w.publish(other, "r/x", QoS::at_most_once, "", true);
  EXPECT_EQ(w.broker.engine(0).stats().retained, 0u);
}

TEST(Shards, MQTT_3_1_3_6_AssignedClientIdsBelongToTheAssigningShard) {
  World w({}, 2);
  for (std::size_t shard = 0; shard < 2; ++shard) {
    Client& c = w.connect(World::make_connect(""), {}, shard);
    const auto connected = c.all<event::Connected>();
    ASSERT_EQ(connected.size(), 1u);
    const auto id = connected[0].connack.properties.string(PropertyId::assigned_client_identifier);
    ASSERT_NE(id, nullptr);
    EXPECT_EQ(home_shard(*id, 2), shard);
    EXPECT_EQ(w.shard_of(c), shard);
  }
  EXPECT_EQ(w.broker.handoffs(), 0u);
}

// A message routed to a session that ends before the forwarded copy
// arrives is dropped, not given to a new session with the same client id.
TEST(Shards, AForwardedMessageDoesNotReachALaterSessionWithTheSameId) {
  World w({}, 2);
  const std::string id = id_on(1, "sub");
  Client& sub = w.connect(World::make_connect(id), {}, 1);
  w.subscribe(sub, "t", QoS::at_least_once);
  Client& pub = w.connect(World::make_connect(id_on(0, "pub")), {}, 0);
  w.publish_unpumped(pub, "t", QoS::at_least_once, "late");
  auto forward = w.broker.engine(0).poll_forward();
  ASSERT_TRUE(forward.has_value());
  ASSERT_EQ(forward->targets.size(), 1u);
  EXPECT_EQ(forward->targets[0].client_id, id);
  Client& again = w.connect(World::make_connect(id), {}, 1);  // Clean Start: a new session
  const auto dropped = w.broker.engine(1).stats().messages_dropped;
  w.broker.engine(1).deliver_forwarded(std::move(*forward), w.now);
  w.pump();
  EXPECT_TRUE(again.messages().empty());
  EXPECT_EQ(w.broker.engine(1).stats().messages_dropped, dropped + 1);
}

}  // namespace
}  // namespace assay::broker::test

namespace assay::broker::test {
namespace {

// A subscriber on another shard whose queue is three quarters full makes
// its shard refuse QoS 1 messages for it (PUBACK 0x97) before any is lost.
TEST(Shards, ACongestedSessionOnAnotherShardRefusesQos1) {
  EngineConfig c;
  c.session_limits.max_queued_messages = 4;
  World w(c, 2);
  const std::string id = id_on(1, "slow");
  Client& slow = w.connect(World::make_connect(id, Version::v5, true, 3600), {}, 1);
  w.subscribe(slow, "t", QoS::at_least_once);
  w.drop(slow);
  Client& pub = w.connect(World::make_connect(id_on(0, "pub")), {}, 0);
  for (int i = 0; i < 6; ++i)
    w.publish(pub, "t", QoS::at_least_once, std::to_string(i));
  std::size_t accepted = 0;
  for (const auto& done : pub.all<event::PublishCompleted>()) {
    if (done.reason_code == ReasonCode::success) {
      ++accepted;
    } else {
      EXPECT_EQ(done.reason_code, ReasonCode::quota_exceeded);
    }
  }
  EXPECT_EQ(accepted, 3u);  // refused from three queued on
  Client& back = w.connect(World::make_connect(id, Version::v5, false, 3600), {}, 0);
  EXPECT_EQ(payloads(back), (std::vector<std::string>{"0", "1", "2"}));
}

}  // namespace
}  // namespace assay::broker::test
