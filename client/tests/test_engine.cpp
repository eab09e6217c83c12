// The client engine against the broker engine, in process, with fake time:
// connecting, publishing at each QoS, subscriptions, and what goes on the
// wire.
#include "assay/client/request_response.hpp"
#include "world.hpp"

namespace assay::client::test {
namespace {

Publish msg(std::string topic, std::string payload, QoS qos = QoS::at_most_once,
            bool retain = false) {
  Publish p;
  p.topic = std::move(topic);
  p.payload = SharedBytes(std::string_view(payload));
  p.qos = qos;
  p.retain = retain;
  return p;
}

Subscription sub(std::string filter, QoS qos = QoS::at_least_once) {
  Subscription s;
  s.filter = std::move(filter);
  s.options.qos = qos;
  return s;
}

template <class P>
std::vector<P> packets_of(const Node& n, Version v = Version::v5) {
  std::vector<P> out;
  for (auto& p : decode_all(n.sent, v)) {
    if (auto* x = std::get_if<P>(&p)) out.push_back(*x);
  }
  return out;
}

class EachVersion : public ::testing::TestWithParam<Version> {};
INSTANTIATE_TEST_SUITE_P(Both, EachVersion, ::testing::Values(Version::v3_1_1, Version::v5),
                         [](const auto& p) { return p.param == Version::v5 ? "v5" : "v311"; });

TEST_P(EachVersion, ConnectsSubscribesAndDeliversAtEachQoS) {
  World w;
  Node& s = w.start(World::config("subscriber", GetParam()));
  Node& p = w.start(World::config("publisher", GetParam()));
  ASSERT_EQ(s.all<event::Connected>().size(), 1u);
  ASSERT_TRUE(p.engine->connected());
  const RequestId r = s.engine->subscribe({sub("t/#", QoS::exactly_once)}, w.now);
  w.pump();
  const auto acks = s.all<event::SubscribeDone>();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].id, r);
  EXPECT_EQ(acks[0].filters, std::vector<std::string>{"t/#"});
  EXPECT_EQ(acks[0].reason_codes, std::vector<ReasonCode>{ReasonCode::granted_qos_2});

  const Ticket t0 = p.engine->publish(msg("t/0", "zero", QoS::at_most_once), w.now);
  const Ticket t1 = p.engine->publish(msg("t/1", "one", QoS::at_least_once), w.now);
  const Ticket t2 = p.engine->publish(msg("t/2", "two", QoS::exactly_once), w.now);
  w.pump();
  EXPECT_EQ(s.payloads(), (std::vector<std::string>{"zero", "one", "two"}));
  const auto done = p.all<event::PublishDone>();
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0].ticket, t0);
  EXPECT_EQ(done[1].ticket, t1);
  EXPECT_EQ(done[2].ticket, t2);
  for (const auto& d : done)
    EXPECT_EQ(d.outcome, Outcome::acknowledged);
  const auto got = s.all<event::Message>();
  EXPECT_EQ(got[2].message.qos, QoS::exactly_once);
  EXPECT_EQ(p.engine->inflight_messages(), 0u);
}

TEST(ClientEngine, PublishesQueuedWhileOfflineInOrderOnceConnected) {
  World w;
  Node& s = w.start(World::config("sub"));
  s.engine->subscribe({sub("q")}, w.now);
  Node& p = w.add(World::config("pub"));
  for (int i = 0; i < 5; ++i)
    p.engine->publish(msg("q", std::to_string(i), i % 2 ? QoS::at_least_once : QoS::at_most_once),
                      w.now);
  EXPECT_EQ(p.engine->queued_messages(), 5u);
  EXPECT_EQ(p.engine->queued_bytes(), 5u * 2u);  // topic "q" + one digit
  p.engine->start(w.now);
  w.pump();
  EXPECT_EQ(p.engine->queued_messages(), 0u);
  EXPECT_EQ(s.payloads(), (std::vector<std::string>{"0", "1", "2", "3", "4"}));
}

TEST(ClientEngine, InvalidTopicsAndFiltersAreLocalMisuse) {
  World w;
  Node& n = w.start(World::config("c"));
  EXPECT_THROW(n.engine->publish(msg("a/+", "x"), w.now), std::invalid_argument);
  EXPECT_THROW(n.engine->publish(msg("", "x"), w.now), std::invalid_argument);
  EXPECT_THROW(n.engine->subscribe({sub("a/#/b")}, w.now), std::invalid_argument);
  EXPECT_THROW(n.engine->subscribe({}, w.now), std::invalid_argument);
  EXPECT_THROW(n.engine->unsubscribe({"#/x"}, w.now), std::invalid_argument);
}

TEST(ClientEngine, ConfigurationThatCannotWorkIsRefusedUpFront) {
  ClientConfig c = World::config("", Version::v3_1_1, false);
  // [MQTT-3.1.3-8]: the server would refuse it.
  EXPECT_THROW(Engine(c, sequence({0}), Time{0}), std::invalid_argument);
  ClientConfig none = World::config("x");
  none.servers.clear();
  EXPECT_THROW(Engine(none, sequence({0}), Time{0}), std::invalid_argument);
  EXPECT_THROW(Engine(World::config("x"), Random{}, Time{0}), std::invalid_argument);
}

// Will, credentials, keep alive, session expiry and the 5.0 limits go out
// in CONNECT as configured [MQTT-3.1.2-*].
TEST(ClientEngine, EveryConnectOptionIsOnTheWire) {
  World w;
  ClientConfig c = World::config("opts", Version::v5, false, 300);
  c.connect.keep_alive = 30;
  c.connect.username = "user";
  c.connect.password = Bytes{'p', 'w'};
  c.connect.properties.add(PropertyId::receive_maximum, 7u);
  c.connect.properties.add(PropertyId::maximum_packet_size, 4096u);
  c.connect.properties.add(PropertyId::topic_alias_maximum, 5u);
  c.connect.properties.add(PropertyId::user_property, StringPair{"site", "k1"});
  Will will;
  will.topic = "status/opts";
  will.payload = SharedBytes(std::string_view("gone"));
  will.qos = QoS::at_least_once;
  will.retain = true;
  will.properties.add(PropertyId::will_delay_interval, 10u);
  will.properties.add(PropertyId::content_type, std::string("text/plain"));
  c.connect.will = will;
  Node& n = w.start(c);
  ASSERT_TRUE(n.engine->connected());
  const auto connects = packets_of<Connect>(n);
  ASSERT_EQ(connects.size(), 1u);
  const Connect& sent = connects[0];
  EXPECT_EQ(sent.client_id, "opts");
  EXPECT_FALSE(sent.clean_start);
  EXPECT_EQ(sent.keep_alive, 30);
  EXPECT_EQ(sent.username, std::optional<std::string>("user"));
  EXPECT_EQ(sent.password, (std::optional<Bytes>(Bytes{'p', 'w'})));
  EXPECT_EQ(sent.properties.integer(PropertyId::session_expiry_interval), 300u);
  EXPECT_EQ(sent.properties.integer(PropertyId::receive_maximum), 7u);
  EXPECT_EQ(sent.properties.integer(PropertyId::maximum_packet_size), 4096u);
  EXPECT_EQ(sent.properties.integer(PropertyId::topic_alias_maximum), 5u);
  EXPECT_EQ(sent.properties.user_properties(), (std::vector<StringPair>{{"site", "k1"}}));
  ASSERT_TRUE(sent.will.has_value());
  EXPECT_EQ(*sent.will, will);
}

// The Assigned Client Identifier [MQTT-3.2.2-16] is the id of every
// reconnect, so the session can be resumed.
TEST(ClientEngine, AnAssignedClientIdIsKeptForReconnects) {
  World w;
  Node& n = w.start(World::config("", Version::v5, true, 300));
  ASSERT_TRUE(n.engine->connected());
  const std::string assigned = n.engine->client_id();
  EXPECT_FALSE(assigned.empty());
  w.drop(n);
  w.run_for(3s);
  ASSERT_TRUE(n.engine->connected());
  const auto connects = packets_of<Connect>(n);
  ASSERT_EQ(connects.size(), 2u);
  EXPECT_EQ(connects[1].client_id, assigned);
  EXPECT_FALSE(connects[1].clean_start);
  EXPECT_TRUE(n.all<event::Connected>().back().resumed);
}

TEST(ClientEngine, ServerKeepAliveReplacesOursForPings) {
  broker::EngineConfig bc;
  bc.server_keep_alive = 5;
  World w(bc);
  ClientConfig c = World::config("ka");
  c.connect.keep_alive = 60;
  Node& n = w.start(c);
  ASSERT_TRUE(n.engine->connected());
  EXPECT_EQ(n.engine->connection()->keep_alive(), 5);
  w.run_for(5s);
  EXPECT_EQ(packets_of<Pingreq>(n).size(), 1u);  // [MQTT-3.2.2-21]
  EXPECT_TRUE(n.engine->connected());
}

TEST(ClientEngine, TopicAliasesOnPublishUpToTheServersMaximum) {
  broker::EngineConfig bc;
  bc.topic_alias_maximum = 1;
  World w(bc);
  Node& s = w.start(World::config("s"));
  s.engine->subscribe({sub("a/#", QoS::at_most_once)}, w.now);
  Node& p = w.start(World::config("p"));
  for (const char* t : {"a/long/topic", "a/long/topic", "a/other"})
    p.engine->publish(msg(t, "x"), w.now);
  w.pump();
  const auto pubs = packets_of<Publish>(p);
  ASSERT_EQ(pubs.size(), 3u);
  EXPECT_EQ(pubs[0].properties.integer(PropertyId::topic_alias), 1u);
  EXPECT_EQ(pubs[0].topic, "a/long/topic");
  EXPECT_EQ(pubs[1].properties.integer(PropertyId::topic_alias), 1u);
  EXPECT_EQ(pubs[1].topic, "");  // the alias alone
  EXPECT_FALSE(pubs[2].properties.contains(PropertyId::topic_alias));
  std::vector<std::string> topics;
  for (const auto& m : s.all<event::Message>())
    topics.push_back(m.message.topic);
  EXPECT_EQ(topics, (std::vector<std::string>{"a/long/topic", "a/long/topic", "a/other"}));
}

TEST(ClientEngine, UnsubscribeStopsDeliveryAndEndsTheRequest) {
  World w;
  Node& s = w.start(World::config("s"));
  s.engine->subscribe({sub("x"), sub("y")}, w.now);
  Node& p = w.start(World::config("p"));
  const RequestId u = s.engine->unsubscribe({"x"}, w.now);
  w.pump();
  const auto done = s.all<event::UnsubscribeDone>();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].id, u);
  EXPECT_EQ(done[0].reason_codes, std::vector<ReasonCode>{ReasonCode::success});
  p.engine->publish(msg("x", "1"), w.now);
  p.engine->publish(msg("y", "2"), w.now);
  w.pump();
  EXPECT_EQ(s.payloads(), std::vector<std::string>{"2"});
  ASSERT_EQ(s.engine->subscriptions().size(), 1u);
  EXPECT_EQ(s.engine->subscriptions()[0].filter, "y");
}

// Request/response (5.0 §4.10): the response goes to the Response Topic
// with the request's Correlation Data.
TEST(ClientEngine, RequestAndResponseCarryTopicAndCorrelation) {
  World w;
  Node& server = w.start(World::config("responder"));
  server.engine->subscribe({sub("svc/time")}, w.now);
  Node& asker = w.start(World::config("asker"));
  asker.engine->subscribe({sub("reply/asker")}, w.now);
  w.pump();
  asker.engine->publish(make_request("svc/time", SharedBytes(std::string_view("now?")),
                                     "reply/asker", Bytes{1, 2, 3}, QoS::at_least_once),
                        w.now);
  w.pump();
  const auto requests = server.all<event::Message>();
  ASSERT_EQ(requests.size(), 1u);
  const auto response = make_response(requests[0].message, SharedBytes(std::string_view("12:00")));
  ASSERT_TRUE(response.has_value());
  server.engine->publish(*response, w.now);
  w.pump();
  const auto got = asker.all<event::Message>();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message.topic, "reply/asker");
  EXPECT_EQ(got[0].message.payload.as_chars(), "12:00");
  ASSERT_NE(got[0].message.properties.binary(PropertyId::correlation_data), nullptr);
  EXPECT_EQ(*got[0].message.properties.binary(PropertyId::correlation_data), (Bytes{1, 2, 3}));
  // A message without a Response Topic cannot be answered.
  EXPECT_FALSE(make_response(msg("plain", "x"), SharedBytes{}).has_value());
}

}  // namespace
}  // namespace assay::client::test
