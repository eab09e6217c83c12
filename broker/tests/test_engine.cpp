// The broker engine, driven by real client Connections in process. Tests
// are named by the normative statements they check.
#include <map>

#include "world.hpp"

namespace assay::broker::test {
namespace {

TEST(Engine, ConnectsBothVersions) {
  World w;
  Client& a = w.connect(World::make_connect("a", Version::v3_1_1));
  Client& b = w.connect(World::make_connect("b"));
  EXPECT_EQ(a.conn->state(), Connection::State::connected);
  EXPECT_EQ(b.conn->state(), Connection::State::connected);
  EXPECT_EQ(w.engine.stats().sessions, 2u);
}

TEST(Engine, RoutesAcrossVersionsWithWildcards) {
  World w;
  Client& sub = w.connect(World::make_connect("sub", Version::v3_1_1));
  Client& pub = w.connect(World::make_connect("pub"));
  w.subscribe(sub, "sensors/+/temp", QoS::at_least_once);
  w.subscribe(sub, "other/#", QoS::at_least_once);
  w.publish(pub, "sensors/k1/temp", QoS::at_least_once, "21.5");
  w.publish(pub, "sensors/k1/hum", QoS::at_least_once, "40");
  w.publish(pub, "other", QoS::at_most_once, "parent level");  // '#' matches the parent
  EXPECT_EQ(payloads(sub), (std::vector<std::string>{"21.5", "parent level"}));
  EXPECT_TRUE(sub.messages()[0].properties.empty());  // a 3.1.1 client gets no properties
}

TEST(Engine, MQTT_3_3_4_2_OverlappingSubscriptionsOneCopyAtTheHighestQoS) {
  World w;
  Client& sub = w.connect(World::make_connect("sub"));
  Client& pub = w.connect(World::make_connect("pub"));
  w.subscribe(sub, "a/+", QoS::at_most_once, {}, 7);
  w.subscribe(sub, "a/#", QoS::exactly_once, {}, 9);
  w.publish(pub, "a/b", QoS::exactly_once);
  const auto got = sub.messages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].qos, QoS::exactly_once);
  auto ids = got[0].properties.subscription_identifiers();  // [MQTT-3.3.4-3], [MQTT-3.3.4-4]
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::uint32_t>{7, 9}));
}

TEST(Engine, MQTT_3_8_4_8_QoSIsTheMinimumOfPublishedAndGranted) {
  World w;
  Client& sub = w.connect(World::make_connect("sub"));
  Client& pub = w.connect(World::make_connect("pub"));
  w.subscribe(sub, "t", QoS::at_least_once);
  w.publish(pub, "t", QoS::exactly_once);
  w.publish(pub, "t", QoS::at_most_once);
  const auto got = sub.messages();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].qos, QoS::at_least_once);
  EXPECT_EQ(got[1].qos, QoS::at_most_once);
}

TEST(Engine, MQTT_4_7_2_1_WildcardsDoNotMatchDollarTopics) {
  World w;
  Client& sub = w.connect(World::make_connect("sub"));
  Client& pub = w.connect(World::make_connect("pub"));
  w.subscribe(sub, "#", QoS::at_most_once);
  w.subscribe(sub, "$app/+", QoS::at_most_once);
  w.publish(pub, "$app/x", QoS::at_most_once, "dollar");
  w.publish(pub, "app/x", QoS::at_most_once, "plain");
  EXPECT_EQ(payloads(sub), (std::vector<std::string>{"dollar", "plain"}));
}

TEST(Engine, RetainedMessages) {
  World w;
  Client& pub = w.connect(World::make_connect("pub"));
  w.publish(pub, "r/1", QoS::at_least_once, "first", true);
  w.publish(pub, "r/1", QoS::at_least_once, "second", true);  // replaces [MQTT-3.3.1-5]
  w.publish(pub, "r/2", QoS::at_most_once, "other", true);
  w.publish(pub, "r/2", QoS::at_most_once, "", true);  // clears [MQTT-3.3.1-6], [MQTT-3.3.1-7]
  w.publish(pub, "r/3", QoS::at_most_once, "not retained", false);  // [MQTT-3.3.1-8]
  EXPECT_EQ(w.engine.stats().retained, 1u);
  Client& sub = w.connect(World::make_connect("sub"));
  w.subscribe(sub, "r/#", QoS::exactly_once);
  const auto got = sub.messages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload.as_chars(), "second");
  EXPECT_TRUE(got[0].retain);                 // [MQTT-3.3.1-9]
  EXPECT_EQ(got[0].qos, QoS::at_least_once);  // min(stored, granted)
}

TEST(Engine, MQTT_3_3_1_10_RetainHandling) {
  World w;
  Client& pub = w.connect(World::make_connect("pub"));
  w.publish(pub, "r", QoS::at_most_once, "kept", true);
  Client& sub = w.connect(World::make_connect("sub"));
  SubscribeOptions once;
  once.retain_handling = 1;
  w.subscribe(sub, "r", QoS::at_most_once, once);
  w.subscribe(sub, "r", QoS::at_most_once, once);  // exists now: nothing [MQTT-3.3.1-10]
  SubscribeOptions never;
  never.retain_handling = 2;
  w.subscribe(sub, "+", QoS::at_most_once, never);  // [MQTT-3.3.1-11]
  w.subscribe(sub, "r", QoS::at_most_once);         // RH 0 resends [MQTT-3.8.4-4]
  EXPECT_EQ(payloads(sub), (std::vector<std::string>{"kept", "kept"}));
}

TEST(Engine, MQTT_3_3_1_12_RetainFlagOnLiveForwarding) {
  World w;
  Client& sub = w.connect(World::make_connect("sub"));
  Client& pub = w.connect(World::make_connect("pub"));
  w.subscribe(sub, "plain", QoS::at_most_once);
  SubscribeOptions rap;
  rap.retain_as_published = true;
  w.subscribe(sub, "asis", QoS::at_most_once, rap);
  w.publish(pub, "plain", QoS::at_most_once, "a", true);
  w.publish(pub, "asis", QoS::at_most_once, "b", true);
  const auto got = sub.messages();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_FALSE(got[0].retain);  // [MQTT-3.3.1-12]
  EXPECT_TRUE(got[1].retain);   // [MQTT-3.3.1-13]
}

TEST(Engine, MQTT_3_8_3_3_NoLocal) {
  World w;
  Client& c = w.connect(World::make_connect("c"));
  SubscribeOptions no_local;
  no_local.no_local = true;
  w.subscribe(c, "t", QoS::at_most_once, no_local);
  w.publish(c, "t", QoS::at_most_once, "mine");
  EXPECT_TRUE(c.messages().empty());
}

TEST(Engine, NoMatchingSubscribersIsReportedInPuback) {
  World w;
  Client& pub = w.connect(World::make_connect("pub"));
  w.publish(pub, "nobody", QoS::at_least_once);
  const auto done = pub.all<event::PublishCompleted>();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outcome, Outcome::acknowledged);
  EXPECT_EQ(done[0].reason_code, ReasonCode::no_matching_subscribers);
}

TEST(Engine, MQTT_3_1_2_8_WillOnAbnormalCloseOnly) {
  World w;
  Client& watcher = w.connect(World::make_connect("watcher"));
  w.subscribe(watcher, "status/#", QoS::at_least_once);
  Connect c = World::make_connect("dev1");
  c.will =
      Will{"status/dev1", SharedBytes(std::string_view("offline")), QoS::at_least_once, false, {}};
  Client& dev = w.connect(c);
  w.drop(dev);
  EXPECT_EQ(payloads(watcher), (std::vector<std::string>{"offline"}));
  // A normal DISCONNECT discards it [MQTT-3.14.4-3].
  Connect c2 = c;
  c2.client_id = "dev2";
  Client& dev2 = w.connect(c2);
  dev2.conn->disconnect(Disconnect{}, w.now);
  w.pump();
  EXPECT_EQ(payloads(watcher).size(), 1u);
}

TEST(Engine, MQTT_3_1_3_9_WillDelayCancelledByReconnect) {
  World w;
  Client& watcher = w.connect(World::make_connect("watcher"));
  w.subscribe(watcher, "status", QoS::at_least_once);
  Connect c = World::make_connect("dev", Version::v5, false, 3600);
  c.will = Will{"status", SharedBytes(std::string_view("gone")), QoS::at_least_once, false,
                Properties{{PropertyId::will_delay_interval, 10u}}};
  Client& dev = w.connect(c);
  w.drop(dev);
  w.advance(5s);
  EXPECT_TRUE(watcher.messages().empty());
  w.connect(c);  // resumes in time, with a Will of its own
  w.advance(20s);
  EXPECT_TRUE(watcher.messages().empty());  // neither the old Will nor the new one
  // Without a reconnect the Will goes out when the delay has passed.
  c.client_id = "dev9";
  Client& dev9 = w.connect(c);
  w.drop(dev9);
  w.advance(9s);
  EXPECT_TRUE(watcher.messages().empty());
  w.advance(2s);
  EXPECT_EQ(payloads(watcher), (std::vector<std::string>{"gone"}));
}

TEST(Engine, MQTT_4_5_0_1_OfflineSessionGetsQoS1And2NotQoS0) {
  World w;
  Client& sub = w.connect(World::make_connect("sub", Version::v5, false, 3600));
  w.subscribe(sub, "t", QoS::exactly_once);
  w.drop(sub);
  Client& pub = w.connect(World::make_connect("pub"));
  w.publish(pub, "t", QoS::at_most_once, "zero");
  w.publish(pub, "t", QoS::at_least_once, "one");
  w.publish(pub, "t", QoS::exactly_once, "two");
  Client& back = w.connect(World::make_connect("sub", Version::v5, false, 3600));
  ASSERT_EQ(back.all<event::Connected>().size(), 1u);
  EXPECT_TRUE(back.all<event::Connected>()[0].connack.session_present);  // [MQTT-3.2.2-3]
  EXPECT_EQ(payloads(back), (std::vector<std::string>{"one", "two"}));
}

TEST(Engine, MQTT_3_1_2_4_CleanStartDiscardsTheSession) {
  World w;
  Client& sub = w.connect(World::make_connect("sub", Version::v5, false, 3600));
  w.subscribe(sub, "t", QoS::at_least_once);
  w.drop(sub);
  Client& back = w.connect(World::make_connect("sub", Version::v5, true, 3600));
  EXPECT_FALSE(back.all<event::Connected>()[0].connack.session_present);  // [MQTT-3.2.2-2]
  Client& pub = w.connect(World::make_connect("pub"));
  w.publish(pub, "t", QoS::at_least_once);
  EXPECT_TRUE(back.messages().empty());  // the old subscription is gone
}

TEST(Engine, MQTT_4_1_0_2_ExpiredSessionsAreDiscarded) {
  World w;
  Client& sub = w.connect(World::make_connect("sub", Version::v5, false, 60));
  w.subscribe(sub, "t", QoS::at_least_once);
  w.drop(sub);
  EXPECT_EQ(w.engine.stats().sessions, 1u);
  w.advance(61s);
  EXPECT_EQ(w.engine.stats().sessions, 0u);
  EXPECT_EQ(w.engine.stats().subscriptions, 0u);
  Client& back = w.connect(World::make_connect("sub", Version::v5, false, 60));
  EXPECT_FALSE(back.all<event::Connected>()[0].connack.session_present);
}

TEST(Engine, V311CleanSessionZeroKeepsTheSession) {
  World w;
  Client& sub = w.connect(World::make_connect("sub", Version::v3_1_1, false));
  w.subscribe(sub, "t", QoS::at_least_once);
  w.drop(sub);
  Client& pub = w.connect(World::make_connect("pub", Version::v3_1_1));
  w.publish(pub, "t", QoS::at_least_once, "kept");
  Client& back = w.connect(World::make_connect("sub", Version::v3_1_1, false));
  EXPECT_TRUE(back.all<event::Connected>()[0].connack.session_present);
  EXPECT_EQ(payloads(back), (std::vector<std::string>{"kept"}));
}

TEST(Engine, MQTT_3_1_4_3_TakeoverClosesTheOldConnection) {
  World w;
  Client& first = w.connect(World::make_connect("same", Version::v5, false, 3600));
  w.subscribe(first, "t", QoS::at_least_once);
  Client& second = w.connect(World::make_connect("same", Version::v5, false, 3600));
  EXPECT_TRUE(first.closed);
  const auto d = first.all<event::DisconnectReceived>();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].disconnect.reason_code, ReasonCode::session_taken_over);
  EXPECT_TRUE(second.all<event::Connected>()[0].connack.session_present);
  Client& pub = w.connect(World::make_connect("pub"));
  w.publish(pub, "t", QoS::at_least_once, "to the new one");
  EXPECT_EQ(payloads(second), (std::vector<std::string>{"to the new one"}));
  EXPECT_EQ(w.engine.stats().connections, 2u);
}

TEST(Engine, TakeoverResendsWhatWasInFlightOnTheOldConnection) {
  // Found by the integration test: the old connection's session moved to
  // the new one with its in-flight message marked as sent, so it was never
  // resent.
  World w;
  Client& first = w.connect(World::make_connect("same", Version::v3_1_1, false));
  w.subscribe(first, "t", QoS::at_least_once);
  // The old client stops answering: its PUBACK never comes.
  first.closed = true;
  Client& pub = w.connect(World::make_connect("pub"));
  w.publish(pub, "t", QoS::at_least_once, "in flight");
  Client& second = w.connect(World::make_connect("same", Version::v3_1_1, false));
  const auto got = second.messages();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload.as_chars(), "in flight");
  EXPECT_TRUE(got[0].dup);  // [MQTT-4.4.0-1]
}

TEST(Engine, SharedSubscriptionsTakeTurns) {
  World w;
  Client& a = w.connect(World::make_connect("a"));
  Client& b = w.connect(World::make_connect("b"));
  w.subscribe(a, "$share/g/jobs/#", QoS::at_least_once);
  w.subscribe(b, "$share/g/jobs/#", QoS::at_least_once);
  Client& pub = w.connect(World::make_connect("pub"));
  for (int i = 0; i < 6; ++i)
    w.publish(pub, "jobs/x", QoS::at_least_once, std::to_string(i));
  EXPECT_EQ(a.messages().size(), 3u);
  EXPECT_EQ(b.messages().size(), 3u);
  // No retained messages for shared subscriptions.
  w.publish(pub, "jobs/r", QoS::at_most_once, "retained", true);
  Client& c = w.connect(World::make_connect("c"));
  w.subscribe(c, "$share/h/jobs/#", QoS::at_most_once);
  EXPECT_TRUE(c.messages().empty());
}

TEST(Engine, SharedSubscriptionEndsWithItsSessionWhateverVersionResumedIt) {
  // Found by fuzz_engine: a 5.0 session with a shared subscription, resumed
  // by a 3.1.1 connection, left the shared entry behind when it ended, and
  // a later session with the same client id received its messages.
  World w;
  Client& v5 = w.connect(World::make_connect("c0", Version::v5, false, 3600));
  w.subscribe(v5, "$share/g/a/#", QoS::at_most_once);
  Client& v311 = w.connect(World::make_connect("c0", Version::v3_1_1, false));  // takeover
  w.drop(v311);
  Client& fresh = w.connect(World::make_connect("c0", Version::v5, true));  // ends the session
  EXPECT_EQ(w.engine.stats().subscriptions, 0u);
  Client& pub = w.connect(World::make_connect("pub"));
  w.publish(pub, "a/x", QoS::at_most_once);
  EXPECT_TRUE(fresh.messages().empty());
}

TEST(Engine, ConnectionValidatorRefusesShortClientIds) {
  EngineConfig config;
  config.minimum_client_id_length = 5;
  World w(config);
  Client& shorty = w.connect(World::make_connect("abc"));
  const auto refused = shorty.all<event::ConnectRefused>();
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].connack.reason_code, ReasonCode::client_identifier_not_valid);
  Client& v311 = w.connect(World::make_connect("abc", Version::v3_1_1));
  EXPECT_EQ(v311.all<event::ConnectRefused>().at(0).connack.reason_code,
            ReasonCode::client_identifier_not_valid);  // return code 0x02
  Client& fine = w.connect(World::make_connect("abcdef"));
  EXPECT_EQ(fine.conn->state(), Connection::State::connected);
}

TEST(Engine, MQTT_3_2_2_16_EmptyClientIdGetsAnAssignedOne) {
  World w;
  Client& c = w.connect(World::make_connect(""));
  const auto connected = c.all<event::Connected>();
  ASSERT_EQ(connected.size(), 1u);
  const auto* id = connected[0].connack.properties.string(PropertyId::assigned_client_identifier);
  ASSERT_NE(id, nullptr);
  EXPECT_FALSE(id->empty());
  EXPECT_EQ(c.conn->session().client_id(), *id);
}

TEST(Engine, MQTT_3_10_4_2_UnsubscribeStopsDelivery) {
  World w;
  Client& sub = w.connect(World::make_connect("sub"));
  Client& pub = w.connect(World::make_connect("pub"));
  w.subscribe(sub, "t", QoS::at_most_once);
  sub.conn->unsubscribe(Unsubscribe{0, {}, {"t", "never"}}, w.now);
  w.pump();
  const auto acks = sub.all<event::UnsubscribeAcked>();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].unsuback.reason_codes,
            (std::vector<ReasonCode>{ReasonCode::success, ReasonCode::no_subscription_existed}));
  w.publish(pub, "t", QoS::at_most_once);
  EXPECT_TRUE(sub.messages().empty());
}

TEST(Engine, MaximumQoSIsAnnouncedAndGrantsAreLowered) {
  EngineConfig config;
  config.maximum_qos = QoS::at_least_once;
  World w(config);
  Client& c = w.connect(World::make_connect("c"));
  EXPECT_EQ(c.all<event::Connected>()[0].connack.properties.integer(PropertyId::maximum_qos), 1u);
  w.subscribe(c, "t", QoS::exactly_once);
  EXPECT_EQ(c.all<event::SubscribeAcked>().at(0).suback.reason_codes.at(0),
            ReasonCode::granted_qos_1);
}

TEST(Engine, ShutdownSendsServerShuttingDown) {
  World w;
  Client& a = w.connect(World::make_connect("a"));
  Client& b = w.connect(World::make_connect("b", Version::v3_1_1));
  w.engine.shutdown(w.now);
  w.pump();
  EXPECT_TRUE(a.closed);
  EXPECT_TRUE(b.closed);
  EXPECT_EQ(a.all<event::DisconnectReceived>().at(0).disconnect.reason_code,
            ReasonCode::server_shutting_down);
  EXPECT_EQ(w.engine.stats().connections, 0u);
}

TEST(Engine, ConnectionLimit) {
  EngineConfig config;
  config.max_connections = 1;
  World w(config);
  w.connect(World::make_connect("a"));
  EXPECT_FALSE(w.engine.open(w.now).has_value());
}

}  // namespace
}  // namespace assay::broker::test

namespace assay::broker::test {
namespace {

std::string payload_of(const Publish& p) {
  return std::string(p.payload.begin(), p.payload.end());
}

// $SYS statistics on Mosquitto's topic names, every sys_interval, retained;
// "#" does not see them [MQTT-4.7.2-1].
TEST(Engine, SysStatistics) {
  EngineConfig config;
  config.sys_interval = std::chrono::seconds(10);
  World w(config);
  Client& watcher = w.connect(World::make_connect("watcher"));
  w.subscribe(watcher, "$SYS/broker/#", QoS::at_most_once);
  Client& all = w.connect(World::make_connect("all"));
  w.subscribe(all, "#", QoS::at_most_once);
  Client& pub = w.connect(World::make_connect("pub"));
  w.publish(pub, "a", QoS::at_least_once, "hello");
  w.advance(std::chrono::seconds(10));
  std::map<std::string, std::string> seen;
  for (const Publish& p : watcher.messages())
    seen[p.topic] = payload_of(p);
  EXPECT_EQ(seen["$SYS/broker/clients/connected"], "3");
  EXPECT_EQ(seen["$SYS/broker/clients/total"], "3");
  EXPECT_EQ(seen["$SYS/broker/messages/received"], "1");
  // "hello" to `all`, and the twelve $SYS messages of the first round (at 0 s)
  // to the watcher: $SYS deliveries count, as in Mosquitto.
  EXPECT_EQ(seen["$SYS/broker/messages/sent"], "13");
  EXPECT_EQ(seen["$SYS/broker/subscriptions/count"], "2");
  EXPECT_EQ(seen["$SYS/broker/uptime"], "10 seconds");
  EXPECT_EQ(seen["$SYS/broker/version"], "assay");
  EXPECT_NE(seen["$SYS/broker/bytes/received"], "0");
  EXPECT_NE(seen["$SYS/broker/bytes/sent"], "0");
  for (const Publish& p : all.messages())
    EXPECT_EQ(p.topic, "a");
  // Retained: a later subscriber gets the last values at once.
  Client& late = w.connect(World::make_connect("late"));
  w.subscribe(late, "$SYS/broker/clients/connected", QoS::at_most_once);
  ASSERT_EQ(late.messages().size(), 1u);
  EXPECT_TRUE(late.messages()[0].retain);
  // Zero turns them off.
  EngineConfig off;
  off.sys_interval = Duration{0};
  World quiet(off);
  EXPECT_FALSE(quiet.engine.next_deadline().has_value());
}

}  // namespace
}  // namespace assay::broker::test

namespace assay::broker::test {
namespace {

// Refuses user "mallory"; lets "alice" publish under "alice/" only and
// subscribe to anything but "secret/#".
class Rules final : public Authenticator, public Authorizer {
 public:
  ReasonCode authenticate(const Connect& c, const ConnectContext&) override {
    return c.username == std::optional<std::string>("mallory")
               ? ReasonCode::bad_user_name_or_password
               : ReasonCode::success;
  }
  bool may_publish(const Principal& who, std::string_view topic) override {
    return !who.username || topic.starts_with(std::string(*who.username) + "/");
  }
  bool may_subscribe(const Principal&, std::string_view filter) override {
    return filter.rfind("secret/", 0) != 0;
  }
};

Connect with_user(std::string id, std::string user, Version v = Version::v5) {
  Connect c = World::make_connect(std::move(id), v);
  c.username = std::move(user);
  return c;
}

TEST(Engine, AuthenticatorRefusesWithItsReasonCode) {
  EngineConfig config;
  auto rules = std::make_shared<Rules>();
  config.authenticator = rules;
  config.authorizer = rules;
  World w(config);
  for (Version v : {Version::v5, Version::v3_1_1}) {
    Client& c = w.connect(with_user("m", "mallory", v));
    const auto refused = c.all<event::ConnectRefused>();
    ASSERT_EQ(refused.size(), 1u);
    // 0x86 is 3.1.1 return code 4, which the decoder maps back to 0x86.
    EXPECT_EQ(refused[0].connack.reason_code, ReasonCode::bad_user_name_or_password);
  }
  Client& ok = w.connect(with_user("a", "alice"));
  EXPECT_EQ(ok.all<event::Connected>().size(), 1u);
}

TEST(Engine, AuthorizerGuardsPublishAndSubscribe) {
  EngineConfig config;
  auto rules = std::make_shared<Rules>();
  config.authorizer = rules;
  World w(config);
  Client& sub = w.connect(World::make_connect("sub"));
  w.subscribe(sub, "#", QoS::at_least_once);
  w.subscribe(sub, "secret/#", QoS::at_least_once);
  const auto acks = sub.all<event::SubscribeAcked>();
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks[1].suback.reason_codes, std::vector<ReasonCode>{ReasonCode::not_authorized});
  Client& alice = w.connect(with_user("alice-1", "alice"));
  w.publish(alice, "alice/temp", QoS::at_least_once, "ok");
  w.publish(alice, "bob/temp", QoS::at_least_once, "denied");
  const auto done = alice.all<event::PublishCompleted>();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].reason_code, ReasonCode::success);
  EXPECT_EQ(done[1].outcome, Outcome::refused);
  EXPECT_EQ(done[1].reason_code, ReasonCode::not_authorized);
  ASSERT_EQ(sub.messages().size(), 1u);
  EXPECT_EQ(sub.messages()[0].topic, "alice/temp");

  // 3.1.1 cannot say why: SUBACK 0x80 (Failure) [MQTT-3.9.3-2], and a plain
  // PUBACK for a PUBLISH that is dropped.
  Client& old = w.connect(with_user("old-1", "alice", Version::v3_1_1));
  w.subscribe(old, "secret/#", QoS::at_least_once);
  const auto old_acks = old.all<event::SubscribeAcked>();
  ASSERT_EQ(old_acks.size(), 1u);
  EXPECT_EQ(old_acks[0].suback.reason_codes,
            std::vector<ReasonCode>{ReasonCode::unspecified_error});
  w.publish(old, "bob/temp", QoS::at_least_once, "denied too");
  const auto old_done = old.all<event::PublishCompleted>();
  ASSERT_EQ(old_done.size(), 1u);
  EXPECT_EQ(old_done[0].outcome, Outcome::acknowledged);
  EXPECT_EQ(sub.messages().size(), 1u);
}

TEST(Engine, TopicLevelLimit) {
  EngineConfig config;
  config.max_topic_levels = 3;
  World w(config);
  Client& c = w.connect(World::make_connect("c"));
  w.subscribe(c, "a/b/c/d", QoS::at_most_once);
  w.subscribe(c, "a/+/c", QoS::at_most_once);
  const auto acks = c.all<event::SubscribeAcked>();
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks[0].suback.reason_codes, std::vector<ReasonCode>{ReasonCode::topic_filter_invalid});
  EXPECT_EQ(acks[1].suback.reason_codes, std::vector<ReasonCode>{ReasonCode::success});
  w.publish(c, "a/b/c/d", QoS::at_least_once);
  w.publish(c, "a/b/c", QoS::at_least_once);
  const auto done = c.all<event::PublishCompleted>();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].reason_code, ReasonCode::topic_name_invalid);
  ASSERT_EQ(c.messages().size(), 1u);
  EXPECT_EQ(c.messages()[0].topic, "a/b/c");
}

}  // namespace
}  // namespace assay::broker::test

namespace assay::broker::test {
namespace {

// A retained message goes out with what is left of its Message Expiry
// Interval, and not at all once it has passed [MQTT-3.3.2-5], [MQTT-3.3.2-6].
TEST(Engine, MQTT_3_3_2_5_RetainedMessagesExpire) {
  EngineConfig config;
  config.sys_interval = Duration{0};
  World w(config);
  Client& pub = w.connect(World::make_connect("pub"));
  Publish p;
  p.topic = "r";
  p.retain = true;
  p.payload = SharedBytes(std::string_view("x"));
  p.properties.add(PropertyId::message_expiry_interval, 3u);
  pub.conn->publish(std::move(p), w.now);
  w.pump();
  w.advance(std::chrono::seconds(1));
  Client& early = w.connect(World::make_connect("early"));
  w.subscribe(early, "r", QoS::at_most_once);
  ASSERT_EQ(early.messages().size(), 1u);
  EXPECT_EQ(early.messages()[0].properties.integer(PropertyId::message_expiry_interval), 2u);
  w.advance(std::chrono::seconds(2));
  Client& late = w.connect(World::make_connect("late"));
  w.subscribe(late, "r", QoS::at_most_once);
  EXPECT_TRUE(late.messages().empty());
  EXPECT_EQ(w.engine.stats().retained, 0u);
}

}  // namespace
}  // namespace assay::broker::test

namespace assay::broker::test {
namespace {

EngineConfig queue_of(std::size_t n) {
  EngineConfig c;
  c.session_limits.max_queued_messages = n;
  c.sys_interval = Duration{0};
  return c;
}

// A QoS 1/2 message that a subscriber's full queue cannot take is refused
// as a whole (5.0: PUBACK 0x97 Quota exceeded), so no acknowledged message
// is lost for anyone; the other subscribers do not get it either.
TEST(Engine, FullQueueRefusesQos1WithQuotaExceeded) {
  World w(queue_of(2));
  Client& slow = w.connect(World::make_connect("slow", Version::v5, true, 3600));
  w.subscribe(slow, "t", QoS::at_least_once);
  w.drop(slow);
  Client& fast = w.connect(World::make_connect("fast"));
  w.subscribe(fast, "t", QoS::at_least_once);
  Client& pub = w.connect(World::make_connect("pub"));
  for (const char* p : {"1", "2", "3"})
    w.publish(pub, "t", QoS::at_least_once, p);
  const auto done = pub.all<event::PublishCompleted>();
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0].reason_code, ReasonCode::success);
  EXPECT_EQ(done[1].reason_code, ReasonCode::success);
  EXPECT_EQ(done[2].outcome, Outcome::refused);
  EXPECT_EQ(done[2].reason_code, ReasonCode::quota_exceeded);
  EXPECT_EQ(payloads(fast), (std::vector<std::string>{"1", "2"}));
  Client& back = w.connect(World::make_connect("slow", Version::v5, false, 3600));
  EXPECT_EQ(payloads(back), (std::vector<std::string>{"1", "2"}));
}

// 3.1.1 has no way to refuse a PUBLISH: the publisher's connection closes
// without the PUBACK, so the message is still the client's to send again.
TEST(Engine, FullQueueClosesA311PublisherWithoutAcknowledging) {
  World w(queue_of(1));
  Client& slow = w.connect(World::make_connect("slow", Version::v5, true, 3600));
  w.subscribe(slow, "t", QoS::exactly_once);
  w.drop(slow);
  Client& pub = w.connect(World::make_connect("pub", Version::v3_1_1, false));
  w.publish(pub, "t", QoS::exactly_once, "fits");
  w.publish(pub, "t", QoS::exactly_once, "refused");
  EXPECT_TRUE(pub.closed);
  const auto done = pub.all<event::PublishCompleted>();
  ASSERT_EQ(done.size(), 1u);                            // only the first was acknowledged
  EXPECT_EQ(pub.conn->session().inflight().size(), 1u);  // the second waits to be resent
  Client& back = w.connect(World::make_connect("slow", Version::v5, false, 3600));
  EXPECT_EQ(payloads(back), (std::vector<std::string>{"fits"}));
}

// ...and the refused message's Packet Identifier goes with it: when the
// publisher resumes and sends it again (DUP), it is a new message to the
// broker, not a duplicate of one it took [MQTT-4.3.3-9]. (The simulator
// found this: the resend was answered with PUBREC and never routed.)
TEST(Engine, MQTT_4_3_3_9_A311ResendAfterAFullQueueIsTaken) {
  World w(queue_of(1));
  Client& slow = w.connect(World::make_connect("slow", Version::v5, true, 3600));
  w.subscribe(slow, "t", QoS::exactly_once);
  w.drop(slow);
  Client& pub = w.connect(World::make_connect("pub", Version::v3_1_1, false));
  w.publish(pub, "t", QoS::exactly_once, "fits");
  w.publish(pub, "t", QoS::exactly_once, "refused at first");
  ASSERT_TRUE(pub.closed);
  Session unsent = pub.conn->take_session();
  Client& back = w.connect(World::make_connect("slow", Version::v5, false, 3600));
  ASSERT_EQ(payloads(back), (std::vector<std::string>{"fits"}));  // the queue has room again
  Client& again = w.connect(World::make_connect("pub", Version::v3_1_1, false), std::move(unsent));
  const auto done = again.all<event::PublishCompleted>();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outcome, Outcome::acknowledged);
  EXPECT_EQ(payloads(back), (std::vector<std::string>{"fits", "refused at first"}));
}

// Wills have no publisher to refuse: the copy a full queue cannot take is
// dropped, counted, and told to the engine's DropObserver with its session.
TEST(Engine, FullQueueDropsAWillAndSaysSo) {
  EngineConfig c = queue_of(1);
  std::vector<std::pair<std::string, std::string>> told;
  c.on_drop = [&](std::string_view id, const Publish& m, DropReason why) {
    EXPECT_EQ(why, DropReason::queue_full);
    told.emplace_back(std::string(id), std::string(m.payload.as_chars()));
  };
  World w(c);
  Client& slow = w.connect(World::make_connect("slow", Version::v5, true, 3600));
  w.subscribe(slow, "#", QoS::at_least_once);
  w.drop(slow);
  Client& pub = w.connect(World::make_connect("pub"));
  w.publish(pub, "t", QoS::at_least_once, "fills the queue");
  Connect dev = World::make_connect("dev");
  dev.will =
      Will{"wills/dev", SharedBytes(std::string_view("gone")), QoS::at_least_once, false, {}};
  w.drop(w.connect(std::move(dev)));
  EXPECT_EQ(told, (std::vector<std::pair<std::string, std::string>>{{"slow", "gone"}}));
  Client& back = w.connect(World::make_connect("slow", Version::v5, false, 3600));
  EXPECT_EQ(payloads(back), (std::vector<std::string>{"fills the queue"}));
}

// QoS 0 is never refused: the full session's copy is dropped and counted.
TEST(Engine, FullQueueDropsQos0ForThatSessionOnly) {
  EngineConfig c = queue_of(1);
  c.queue_qos0_offline = true;
  World w(c);
  Client& slow = w.connect(World::make_connect("slow", Version::v5, true, 3600));
  w.subscribe(slow, "t", QoS::at_most_once);
  w.drop(slow);
  Client& fast = w.connect(World::make_connect("fast"));
  w.subscribe(fast, "t", QoS::at_most_once);
  Client& pub = w.connect(World::make_connect("pub"));
  const auto dropped = w.engine.stats().messages_dropped;
  w.publish(pub, "t", QoS::at_most_once, "a");
  w.publish(pub, "t", QoS::at_most_once, "b");
  EXPECT_EQ(payloads(fast), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(w.engine.stats().messages_dropped, dropped + 1);
  EXPECT_FALSE(pub.closed);
}

}  // namespace
}  // namespace assay::broker::test

namespace assay::broker::test {
namespace {

// Over sockets a client's DISCONNECT on its old connection can still be
// unread when its new CONNECT is read. With drain_before_takeover the CONNECT
// waits while the driver reads the old connection, so the session the
// client ended is not taken over: Session Present 0 [MQTT-3.2.2-2],
// [MQTT-4.1.0-2].
TEST(Engine, ATakeoverWaitsForWhatTheOldConnectionStillHasToSay) {
  EngineConfig c;
  c.drain_before_takeover = true;
  World w(c);
  Client& first = w.connect(World::make_connect("same"));  // Session Expiry 0
  first.conn->disconnect(Disconnect{}, w.now);             // sent, not yet read by the broker
  Bytes last;
  first.conn->poll_transmit(last);
  first.closed = true;
  int drains = 0;
  w.broker.on_drain = [&](const Harness::Drain& d) {
    ++drains;
    EXPECT_EQ(d.holder, first.link);
    w.broker.receive(first.link, last, w.now);
    w.broker.close(first.link, w.now);
  };
  Client& second = w.connect(World::make_connect("same", Version::v5, false));
  EXPECT_EQ(drains, 1);
  const auto connected = second.all<event::Connected>();
  ASSERT_EQ(connected.size(), 1u);
  EXPECT_FALSE(connected[0].connack.session_present);
}

// Without anything left to read, the takeover goes ahead after the drain.
TEST(Engine, MQTT_3_1_4_3_TakeoverAfterADrainThatFindsNothing) {
  EngineConfig c;
  c.drain_before_takeover = true;
  World w(c);
  Client& first = w.connect(World::make_connect("same", Version::v5, false, 3600));
  Client& second = w.connect(World::make_connect("same", Version::v5, false, 3600));
  EXPECT_TRUE(first.closed);
  ASSERT_EQ(first.all<event::DisconnectReceived>().size(), 1u);
  EXPECT_TRUE(second.all<event::Connected>()[0].connack.session_present);
}

// Keep Alive: a client that keeps talking stays connected however far its
// deadline has moved; one that falls silent is closed after one and a half
// Keep Alive periods [MQTT-3.1.2-22]. (The engine's deadline entries are
// lazy: one that comes after its connection's deadline moved later only
// arms the next.)
TEST(Engine, MQTT_3_1_2_22_KeepAliveClosesOnlyTheSilentClient) {
  World w;
  Connect talking = World::make_connect("talking");
  talking.keep_alive = 2;  // its Connection pings every 2 s
  Connect silent = World::make_connect("silent");
  silent.keep_alive = 2;
  Client& a = w.connect(talking);
  Client& b = w.connect(silent);
  ASSERT_EQ(w.engine.stats().clients_connected, 2u);
  b.closed = true;  // the world neither reads nor writes for it any more
  w.advance(std::chrono::milliseconds(2900));
  EXPECT_EQ(w.engine.stats().clients_connected, 2u);  // 1.5 x 2 s not yet over
  w.advance(std::chrono::milliseconds(200));
  EXPECT_EQ(w.engine.stats().clients_connected, 1u);
  w.advance(std::chrono::seconds(60));
  EXPECT_FALSE(a.closed);
  EXPECT_EQ(w.engine.stats().clients_connected, 1u);
  EXPECT_EQ(a.all<event::CloseRequested>().size(), 0u);
}

// A parked CONNECT whose connection times out before the drain is done is
// not answered, and the session it would have taken over stays with the
// connection that holds it (given to the dead connection, it was dropped
// with everything queued in it).
TEST(Engine, AParkedConnectThatTimedOutTakesNothingOver) {
  EngineConfig c;
  c.drain_before_takeover = true;
  World w(c);
  Client& first = w.connect(World::make_connect("same", Version::v5, false, 3600));
  w.broker.on_drain = [&](const Harness::Drain&) {
    w.now += std::chrono::seconds(30);  // past the CONNECT timeout
    w.engine.handle_timeout(w.now);
  };
  Client& second = w.connect(World::make_connect("same", Version::v5, false, 3600));
  EXPECT_TRUE(second.all<event::Connected>().empty());
  EXPECT_FALSE(first.closed);
  EXPECT_TRUE(first.all<event::DisconnectReceived>().empty());
  w.broker.on_drain = nullptr;
  first.conn->disconnect(Disconnect{}, w.now);
  w.pump();
  Client& third = w.connect(World::make_connect("same", Version::v5, false, 3600));
  ASSERT_EQ(third.all<event::Connected>().size(), 1u);
  EXPECT_TRUE(third.all<event::Connected>()[0].connack.session_present);
}

// Write-through (the front end's large fan-outs): copies leave while the
// message is routed, in order with what the connection had pending, whether
// the writer takes all of it, part or none; fewer copies than the threshold
// wait for poll_output() as usual.
TEST(Engine, WriteThroughKeepsEachConnectionsBytesInOrder) {
  World w;
  std::vector<Client*> subs;
  for (int i = 0; i < 9; ++i) {
    subs.push_back(&w.connect(World::make_connect("sub" + std::to_string(i))));
    w.subscribe(*subs.back(), "t", QoS::at_least_once);
  }
  Client& single = w.connect(World::make_connect("single"));
  w.subscribe(single, "u", QoS::at_least_once);
  Client& pub = w.connect(World::make_connect("pub"));
  std::map<ConnectionId, int> calls;
  w.engine.set_write_through(
      [&](ConnectionId id, ByteView bytes) -> std::size_t {
        ++calls[id];
        std::size_t index = 0;
        while (index < subs.size() && w.id_of(*subs[index]) != id)
          ++index;
        if (index == subs.size()) return 0;
        // All, half, or none, by subscriber.
        const std::size_t take = index % 3 == 0   ? bytes.size()
                                 : index % 3 == 1 ? bytes.size() / 2
                                                  : 0;
        subs[index]->conn->receive(bytes.first(take), w.now);
        return take;
      },
      8);
  w.publish_unpumped(pub, "t", QoS::at_least_once, "m1");
  w.publish_unpumped(pub, "t", QoS::at_least_once, "m2");
  w.pump();
  for (const Client* s : subs) {
    EXPECT_EQ(payloads(*s), (std::vector<std::string>{"m1", "m2"}));
    EXPECT_EQ(calls[w.id_of(*s)], 2);  // once per message
  }
  w.publish(pub, "u", QoS::at_least_once, "alone");
  EXPECT_EQ(payloads(single), (std::vector<std::string>{"alone"}));
  EXPECT_EQ(calls[w.id_of(single)], 0);  // one copy: below the threshold
}

}  // namespace
}  // namespace assay::broker::test
