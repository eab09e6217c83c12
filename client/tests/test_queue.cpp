// The queue: bounded by count and bytes, each QoS's overflow policy,
// Message Expiry while queued, and the flow control that holds messages in
// it (the server's Receive Maximum).
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

// What has completed so far (the world is pumped first: events are pulled).
std::vector<std::pair<Ticket, Outcome>> outcomes(World& w, const Node& n) {
  w.pump();
  std::vector<std::pair<Ticket, Outcome>> out;
  for (const auto& d : n.all<event::PublishDone>())
    out.emplace_back(d.ticket, d.outcome);
  return out;
}

ClientConfig limited(std::size_t messages, std::size_t bytes = 1 << 20) {
  ClientConfig c = World::config("q");
  c.queue.max_messages = messages;
  c.queue.max_bytes = bytes;
  return c;
}

TEST(Queue, QoS0DropsTheOldestQoS0WhenFull) {
  World w;
  Node& n = w.add(limited(3));
  std::vector<Ticket> t;
  for (int i = 0; i < 5; ++i)
    t.push_back(n.engine->publish(msg("a", std::to_string(i), QoS::at_most_once), w.now));
  EXPECT_EQ(n.engine->queued_messages(), 3u);
  EXPECT_EQ(outcomes(w, n), (std::vector<std::pair<Ticket, Outcome>>{{t[0], Outcome::discarded},
                                                                     {t[1], Outcome::discarded}}));
  EXPECT_EQ(n.all<event::PublishDone>().at(0).reason_code, ReasonCode::quota_exceeded);
}

TEST(Queue, QoS1And2RefuseTheNewMessageWhenFull) {
  World w;
  Node& n = w.add(limited(2));
  const Ticket a = n.engine->publish(msg("a", "1", QoS::at_least_once), w.now);
  const Ticket b = n.engine->publish(msg("a", "2", QoS::exactly_once), w.now);
  const Ticket c = n.engine->publish(msg("a", "3", QoS::at_least_once), w.now);
  (void)a;
  (void)b;
  EXPECT_EQ(n.engine->queued_messages(), 2u);
  EXPECT_EQ(outcomes(w, n), (std::vector<std::pair<Ticket, Outcome>>{{c, Outcome::discarded}}));
}

// Drop-oldest never pushes out a message of another QoS.
TEST(Queue, DropOldestKeepsOtherQoSAndRefusesWhenItCannotMakeRoom) {
  World w;
  Node& n = w.add(limited(2));
  const Ticket q1 = n.engine->publish(msg("a", "alarm", QoS::at_least_once), w.now);
  const Ticket q0 = n.engine->publish(msg("a", "r1", QoS::at_most_once), w.now);
  const Ticket q0b = n.engine->publish(msg("a", "r2", QoS::at_most_once), w.now);
  EXPECT_EQ(outcomes(w, n), (std::vector<std::pair<Ticket, Outcome>>{{q0, Outcome::discarded}}));
  ClientConfig c = limited(2);
  c.connect.client_id = "q2";
  Node& m = w.add(c);
  m.engine->publish(msg("a", "x", QoS::at_least_once), w.now);
  m.engine->publish(msg("a", "y", QoS::at_least_once), w.now);
  const Ticket z = m.engine->publish(msg("a", "z", QoS::at_most_once), w.now);
  EXPECT_EQ(outcomes(w, m), (std::vector<std::pair<Ticket, Outcome>>{{z, Outcome::discarded}}));
  (void)q1;
  (void)q0b;
}

TEST(Queue, BoundedByBytesToo) {
  World w;
  ClientConfig c = limited(100, 10);  // topic + payload bytes
  c.queue.qos1 = Overflow::drop_oldest;
  Node& n = w.add(c);
  const Ticket a = n.engine->publish(msg("t", "1234", QoS::at_least_once), w.now);  // 5
  n.engine->publish(msg("t", "5678", QoS::at_least_once), w.now);                   // 10
  EXPECT_EQ(n.engine->queued_bytes(), 10u);
  const Ticket c3 = n.engine->publish(msg("t", "9", QoS::at_least_once), w.now);  // pushes a out
  EXPECT_EQ(n.engine->queued_bytes(), 7u);
  const Ticket big = n.engine->publish(msg("t", "0123456789", QoS::at_least_once), w.now);
  EXPECT_EQ(outcomes(w, n), (std::vector<std::pair<Ticket, Outcome>>{{a, Outcome::discarded},
                                                                     {big, Outcome::discarded}}));
  EXPECT_EQ(n.engine->queued_messages(), 2u);
  (void)c3;
}

// Message Expiry applies while queued [MQTT-3.3.2-5]; what is sent carries
// the interval lowered by the wait [MQTT-3.3.2-6].
TEST(Queue, ExpiredMessagesAreNeverSentAndTheRestAreAged) {
  World w;
  Node& s = w.start(World::config("s"));
  s.engine->subscribe({Subscription{"e/#", {QoS::at_least_once, false, false, 0}}}, w.now);
  Node& p = w.add(World::config("p"));
  Publish short_lived = msg("e/1", "short", QoS::at_least_once);
  short_lived.properties.add(PropertyId::message_expiry_interval, 5u);
  Publish long_lived = msg("e/2", "long", QoS::at_least_once);
  long_lived.properties.add(PropertyId::message_expiry_interval, 100u);
  const Ticket t1 = p.engine->publish(short_lived, w.now);
  p.engine->publish(long_lived, w.now);
  w.run_for(10s);
  p.engine->start(w.now);
  w.pump();
  EXPECT_EQ(s.payloads(), std::vector<std::string>{"long"});
  const auto done = p.all<event::PublishDone>();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].ticket, t1);
  EXPECT_EQ(done[0].outcome, Outcome::expired);
  EXPECT_EQ(done[1].outcome, Outcome::acknowledged);
  const auto sent = decode_all(p.sent, Version::v5);
  const Publish* out = nullptr;
  for (const auto& pk : sent) {
    if (const auto* x = std::get_if<Publish>(&pk)) out = x;
  }
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->properties.integer(PropertyId::message_expiry_interval), 90u);
}

// An expired message frees its room for a new one.
TEST(Queue, ExpiredMessagesMakeRoom) {
  World w;
  ClientConfig c = limited(1);
  Node& n = w.add(c);
  Publish a = msg("t", "old", QoS::at_least_once);
  a.properties.add(PropertyId::message_expiry_interval, 1u);
  const Ticket ta = n.engine->publish(a, w.now);
  w.now += 2s;
  n.engine->publish(msg("t", "new", QoS::at_least_once), w.now);
  EXPECT_EQ(outcomes(w, n), (std::vector<std::pair<Ticket, Outcome>>{{ta, Outcome::expired}}));
  EXPECT_EQ(n.engine->queued_messages(), 1u);
}

// No more QoS 1/2 in flight than the server's Receive Maximum
// [MQTT-4.9.0-2]; the rest wait in the queue, in order, and QoS 0 behind
// them waits too.
TEST(Queue, WaitsOnTheServersReceiveMaximum) {
  broker::EngineConfig bc;
  bc.receive_maximum = 2;
  World w(bc);
  Node& s = w.start(World::config("s"));
  s.engine->subscribe({Subscription{"r", {QoS::at_least_once, false, false, 0}}}, w.now);
  Node& p = w.start(World::config("p"));
  ASSERT_EQ(p.engine->connection()->peer_receive_maximum(), 2);
  // Nothing is acknowledged until the world is pumped.
  for (int i = 0; i < 6; ++i) {
    p.engine->publish(msg("r", std::to_string(i), i == 4 ? QoS::at_most_once : QoS::at_least_once),
                      w.now);
  }
  EXPECT_EQ(p.engine->inflight_messages(), 2u);
  EXPECT_EQ(p.engine->queued_messages(), 4u);
  w.pump();
  EXPECT_EQ(s.payloads(), (std::vector<std::string>{"0", "1", "2", "3", "4", "5"}));
  EXPECT_EQ(p.count_done(Outcome::acknowledged), 6u);
  EXPECT_TRUE(p.engine->connected());  // the broker saw no Receive Maximum exceeded (0x93)
}

}  // namespace
}  // namespace assay::client::test
