// The session in a store: what a restarted client finds, so that it
// neither loses nor duplicates a message.
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

bool first_byte_is(const Bytes& b, std::uint8_t type) {
  return !b.empty() && (b[0] >> 4) == type;
}

std::vector<Packet> of_type(const Node& n, PacketType t) {
  std::vector<Packet> out;
  for (auto& p : decode_all(n.sent, Version::v5)) {
    if (type_of(p) == t) out.push_back(p);
  }
  return out;
}

struct Stored : ::testing::Test {
  World w;
  std::shared_ptr<MemoryStore> store = std::make_shared<MemoryStore>();
  Node* s = nullptr;

  ClientConfig config(std::string id) {
    ClientConfig c = World::config(std::move(id), Version::v5, false, 3600);
    c.store = store;
    return c;
  }
  void SetUp() override {
    s = &w.start(World::config("sub", Version::v5, false, 3600));
    s->engine->subscribe({Subscription{"t", {QoS::exactly_once, false, false, 0}}}, w.now);
    w.pump();
  }
};

TEST_F(Stored, EveryInputEndsDurable) {
  Node& p = w.add(config("pub"));
  p.engine->publish(msg("t", "a", QoS::at_least_once), w.now);
  EXPECT_EQ(store->unsynced(), 0u);
  EXPECT_GE(store->size(), 2u);  // meta and the message
  p.engine->start(w.now);
  w.pump();
  EXPECT_EQ(store->unsynced(), 0u);
  EXPECT_EQ(s->payloads(), std::vector<std::string>{"a"});
  // Acknowledged: its record is gone; only the counters remain.
  EXPECT_EQ(store->load().size(), 1u);
}

TEST_F(Stored, QueuedMessagesSurviveACrash) {
  Node& p = w.add(config("pub"));
  for (const char* m : {"1", "2", "3"})
    p.engine->publish(msg("t", m, QoS::at_least_once), w.now);
  store->crash();
  w.restart(p, config("pub"));
  EXPECT_EQ(p.engine->recovered().queued, 3u);
  EXPECT_EQ(s->payloads(), (std::vector<std::string>{"1", "2", "3"}));
  // Tickets never repeat across processes.
  const Ticket next = p.engine->publish(msg("t", "4", QoS::at_least_once), w.now);
  EXPECT_GT(next, 3u);
}

// The PUBACK is lost and the process dies: the new one resends the PUBLISH
// with DUP and its Packet Identifier, on the resumed session.
TEST_F(Stored, InFlightQoS1IsResentByTheNextProcess) {
  Node& p = w.start(config("pub"));
  p.cut_before_receiving = [](const Bytes& b) { return first_byte_is(b, 4); };
  p.engine->publish(msg("t", "m", QoS::at_least_once), w.now);
  w.pump();
  const auto first = std::get<Publish>(of_type(p, PacketType::publish).at(0));
  store->crash();
  p.sent.clear();
  w.restart(p, config("pub"));
  EXPECT_EQ(p.engine->recovered().inflight, 1u);
  ASSERT_TRUE(p.engine->connected());
  const auto again = of_type(p, PacketType::publish);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(std::get<Publish>(again[0]).dup);
  EXPECT_EQ(std::get<Publish>(again[0]).packet_id, first.packet_id);
  EXPECT_EQ(p.count_done(Outcome::acknowledged), 1u);
  EXPECT_EQ(p.engine->inflight_messages(), 0u);
}

// Past PUBREC the stage is durable: the next process sends PUBREL, never
// the PUBLISH again [MQTT-4.3.3-6]; the subscriber gets it once.
TEST_F(Stored, QoS2PastPubrecResumesWithPubrel) {
  Node& p = w.start(config("pub"));
  p.cut_before_receiving = [](const Bytes& b) { return first_byte_is(b, 7); };  // PUBCOMP
  p.engine->publish(msg("t", "q2", QoS::exactly_once), w.now);
  w.pump();
  store->crash();
  p.sent.clear();
  w.restart(p, config("pub"));
  EXPECT_TRUE(of_type(p, PacketType::publish).empty());
  EXPECT_EQ(of_type(p, PacketType::pubrel).size(), 1u);
  EXPECT_EQ(s->payloads(), std::vector<std::string>{"q2"});
  EXPECT_EQ(p.count_done(Outcome::acknowledged), 1u);
}

// Incoming QoS 2: our PUBREC is lost and we die. The broker resends the
// PUBLISH; the new process knows its id and does not deliver it again.
TEST_F(Stored, IncomingQoS2IsNotDeliveredTwiceAcrossARestart) {
  Node& r = w.start(config("receiver"));
  r.engine->subscribe({Subscription{"in", {QoS::exactly_once, false, false, 0}}}, w.now);
  w.pump();
  Node& p = w.start(World::config("pub"));
  r.cut_before_sending = [](const Bytes& b) { return first_byte_is(b, 5); };  // our PUBREC
  p.engine->publish(msg("in", "once", QoS::exactly_once), w.now);
  w.pump();
  EXPECT_EQ(r.payloads(), std::vector<std::string>{"once"});
  store->crash();
  w.restart(r, config("receiver"));
  EXPECT_EQ(r.engine->recovered().incoming_qos2, 1u);
  w.run_for(1s);
  EXPECT_TRUE(r.payloads().empty()) << "delivered again after the restart";
  EXPECT_EQ(p.count_done(Outcome::acknowledged), 1u);
}

TEST_F(Stored, SubscriptionsAreRestoredByTheNextProcessWhenTheServerLostThem) {
  Node& r = w.start(config("receiver"));
  r.engine->subscribe({Subscription{"keep/#", {QoS::at_least_once, false, false, 0}}}, w.now);
  w.pump();
  store->crash();
  w.restart_broker();
  w.restart(r, config("receiver"));
  EXPECT_EQ(r.engine->recovered().subscriptions, 1u);
  w.run_for(1s);
  Node& p = w.start(World::config("pub"));
  p.engine->publish(msg("keep/x", "k", QoS::at_least_once), w.now);
  w.pump();
  EXPECT_EQ(r.payloads(), std::vector<std::string>{"k"});
}

TEST(Store, RecordsItDidNotWriteAreRefusedNamingTheKey) {
  auto store = std::make_shared<MemoryStore>();
  store->put("m/0000000000000001", Bytes{1, 2, 3});
  store->sync();
  ClientConfig c = World::config("x");
  c.store = store;
  try {
    Engine e(c, sequence({0}), Time{0});
    FAIL() << "accepted a bad record";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("m/0000000000000001"), std::string::npos) << e.what();
  }
  auto other = std::make_shared<MemoryStore>();
  other->put("x", Bytes{});
  other->sync();
  c.store = other;
  EXPECT_THROW(Engine(c, sequence({0}), Time{0}), std::invalid_argument);
}

TEST(Store, MemoryStoreLosesOnlyWhatWasNotSynced) {
  MemoryStore m;
  m.put("a", Bytes{1});
  m.sync();
  m.put("b", Bytes{2});
  m.erase("a");
  m.crash();
  const auto c = m.load();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c.at("a"), Bytes{1});
}

}  // namespace
}  // namespace assay::client::test
