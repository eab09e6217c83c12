// The Connection state machine through the pair harness: connecting, keep
// alive, QoS flows, resumption, flow control, topic aliases, limits, wills.
// Tests are named by the normative statements they check.
#include <gtest/gtest.h>

#include "assay/mqtt/connection.hpp"
#include "assay/mqtt/raw.hpp"
#include "pair.hpp"
#include "test_util.hpp"

namespace assay::mqtt::test {
namespace {

ConnectionOptions client_opts(Version v = Version::v5) {
  ConnectionOptions o;
  o.role = Role::client;
  o.version = v;
  o.trace_packets = true;
  return o;
}
ConnectionOptions server_opts() {
  ConnectionOptions o;
  o.role = Role::server;
  o.trace_packets = true;
  return o;
}
ConnectionOptions any_opts(Version v = Version::v5) {
  ConnectionOptions o;
  o.role = Role::any;
  o.version = v;
  return o;
}

Connect make_connect(Version v, std::string id = "c1", bool clean = true,
                     std::uint16_t keep_alive = 0) {
  Connect c;
  c.version = v;
  c.client_id = std::move(id);
  c.clean_start = clean;
  c.keep_alive = keep_alive;
  if (v == Version::v5 && !clean) {
    c.properties.add(PropertyId::session_expiry_interval, 0xFFFFFFFFu);
  }
  return c;
}

Publish message(std::string topic, QoS qos, std::string payload = "x") {
  Publish p;
  p.topic = std::move(topic);
  p.qos = qos;
  p.payload = SharedBytes(std::string_view(payload));
  return p;
}

// A client and server wired together, the server accepting every CONNECT.
struct Connected {
  explicit Connected(Version v = Version::v5, Connack connack = {},
                     ConnectionOptions server_options = server_opts(),
                     Connect connect = make_connect(Version::v5))
      : pair(client_opts(v), server_options) {
    connect.version = v;
    if (v == Version::v3_1_1) connect.properties = {};
    pair.on_server = [this, connack](Pair& p, const Event& e) { store.handle(p, e, connack); };
    pair.client->connect(connect, Session{}, pair.now);
    EXPECT_TRUE(pair.run_until([&] {
      return pair.client->state() == Connection::State::connected &&
             pair.server->state() == Connection::State::connected;
    })) << "did not connect";
  }
  Pair pair;
  SessionStore store;
};

template <class P>
std::vector<P> received_by(const std::vector<Event>& events) {
  std::vector<P> out;
  for (const auto& e : events) {
    if (const auto* s = std::get_if<event::PacketReceived>(&e)) {
      if (const auto* p = std::get_if<P>(&s->packet)) out.push_back(*p);
    }
  }
  return out;
}

std::optional<CloseCause> closed_cause(const std::vector<Event>& events) {
  for (const auto& e : events) {
    if (const auto* c = std::get_if<event::Closed>(&e)) return c->cause;
  }
  return std::nullopt;
}

TEST(Connection, ConnectBothVersions) {
  for (const Version v : {Version::v3_1_1, Version::v5}) {
    Connected c(v);
    EXPECT_EQ(c.pair.server->version(), v);
    EXPECT_EQ(events_of<event::Connected>(c.pair.client_events).size(), 1u);
    EXPECT_EQ(events_of<event::ConnectReceived>(c.pair.server_events).size(), 1u);
  }
}

TEST(Connection, MQTT_3_2_2_21_ServerKeepAliveReplacesTheClients) {
  Connack ack;
  ack.properties.add(PropertyId::server_keep_alive, 7u);
  ack.properties.add(PropertyId::receive_maximum, 3u);
  ack.properties.add(PropertyId::assigned_client_identifier, std::string("given"));
  Connected c(Version::v5, ack, server_opts(), make_connect(Version::v5, "", true, 60));
  EXPECT_EQ(c.pair.client->keep_alive(), 7);
  EXPECT_EQ(c.pair.server->keep_alive(), 7);  // [MQTT-3.2.2-22]
  EXPECT_EQ(c.pair.client->peer_receive_maximum(), 3);
  EXPECT_EQ(c.pair.client->session().client_id(), "given");  // [MQTT-3.2.2-16]
}

TEST(Connection, MQTT_3_1_0_1_FirstPacketMustBeConnect) {
  Pair pair(any_opts(), server_opts());
  pair.client->send(Pingreq{}, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  EXPECT_EQ(closed_cause(pair.server_events), CloseCause::protocol_violation);
  // No CONNACK and no DISCONNECT before CONNACK [MQTT-3.14.0-1].
  EXPECT_TRUE(events_of<event::PacketReceived>(pair.client_events).empty());
}

TEST(Connection, MQTT_3_1_0_2_SecondConnectIsAProtocolError) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e); };
  pair.client->send(make_connect(Version::v5), pair.now);
  pair.client->send(make_connect(Version::v5), pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  const auto got = events_of<event::PacketReceived>(pair.client_events);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<Connack>(got[0].packet));
  ASSERT_TRUE(std::holds_alternative<Disconnect>(got[1].packet));
  EXPECT_EQ(std::get<Disconnect>(got[1].packet).reason_code, ReasonCode::protocol_error);
  const auto v = events_of<event::ViolationDetected>(pair.server_events);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].violation.statement, "MQTT-3.1.0-2");
}

TEST(Connection, MQTT_3_1_2_2_UnsupportedLevelGetsReturnCode1) {
  Pair pair(any_opts(Version::v3_1_1), server_opts());
  pair.client->send_raw(hex("10 0d 00 04 4d 51 54 54 07 02 00 00 00 01 61"), pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  const auto got = events_of<event::PacketReceived>(pair.client_events);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<Connack>(got[0].packet).reason_code, ReasonCode::unsupported_protocol_version);
}

TEST(Connection, MQTT_3_1_3_8_EmptyClientIdNeedsCleanSession) {
  Pair pair(any_opts(Version::v3_1_1), server_opts());
  pair.client->send(make_connect(Version::v3_1_1, "", false), pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  const auto got = events_of<event::PacketReceived>(pair.client_events);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<Connack>(got[0].packet).reason_code,
            ReasonCode::client_identifier_not_valid);  // return code 0x02
}

TEST(Connection, MalformedConnectGetsConnackWithReason) {
  // 5.0 CONNECT with the reserved flag set [MQTT-3.1.2-3]: CONNACK 0x81.
  Pair pair(any_opts(), server_opts());
  pair.client->send_raw(hex("10 0e 00 04 4d 51 54 54 05 03 00 00 00 00 01 61"), pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  const auto got = events_of<event::PacketReceived>(pair.client_events);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<Connack>(got[0].packet).reason_code, ReasonCode::malformed_packet);
}

TEST(Connection, ServerClosesWhenNoConnectArrives) {
  Pair pair(any_opts(), server_opts());
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  EXPECT_EQ(closed_cause(pair.server_events), CloseCause::connect_timeout);
}

TEST(Connection, MQTT_3_1_2_22_ServerClosesASilentClient) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e); };
  pair.client->send(make_connect(Version::v5, "c1", true, 10), pair.now);
  const Time start = pair.now;
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }, 60s));
  EXPECT_EQ(closed_cause(pair.server_events), CloseCause::keep_alive_timeout);
  // 1.5 x 10 s after the CONNECT arrived (5 ms latency each way).
  EXPECT_GE(pair.now - start, 15s);
  EXPECT_LT(pair.now - start, 15s + 50ms);
  const auto got = events_of<event::PacketReceived>(pair.client_events);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::get<Disconnect>(got[1].packet).reason_code, ReasonCode::keep_alive_timeout);
}

TEST(Connection, MQTT_3_1_2_20_ClientPingsAndServerAnswers) {
  Connected c(Version::v3_1_1, {}, server_opts(), make_connect(Version::v3_1_1, "c1", true, 5));
  c.pair.run_for(21s);
  // [MQTT-3.12.4-1] every PINGREQ answered; the connection stays up.
  const auto pings = sent_by<Pingreq>(c.pair.client_events);
  EXPECT_EQ(pings.size(), 4u);
  EXPECT_EQ(sent_by<Pingresp>(c.pair.server_events).size(), 4u);
  EXPECT_EQ(c.pair.client->state(), Connection::State::connected);
  EXPECT_EQ(c.pair.server->state(), Connection::State::connected);
}

TEST(Connection, ClientClosesWhenPingrespDoesNotCome) {
  // The server side is an `any` peer that answers nothing after CONNACK.
  Pair pair(client_opts(), any_opts());
  pair.client->connect(make_connect(Version::v5, "c1", true, 5), Session{}, pair.now);
  pair.server->send(Connack{}, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }, 30s));
  EXPECT_EQ(closed_cause(pair.client_events), CloseCause::keep_alive_timeout);
}

TEST(Connection, QoS0And1And2BothDirections) {
  for (const Version v : {Version::v3_1_1, Version::v5}) {
    Connected c(v);
    for (const QoS q : {QoS::at_most_once, QoS::at_least_once, QoS::exactly_once}) {
      c.pair.client->publish(message("up", q), c.pair.now);
      c.pair.server->publish(message("down", q), c.pair.now);
    }
    c.pair.run_for(1s);
    EXPECT_EQ(events_of<event::MessageReceived>(c.pair.server_events).size(), 3u);
    EXPECT_EQ(events_of<event::MessageReceived>(c.pair.client_events).size(), 3u);
    for (const auto& done : events_of<event::PublishCompleted>(c.pair.client_events)) {
      EXPECT_EQ(done.outcome, Outcome::acknowledged);
    }
    EXPECT_EQ(events_of<event::PublishCompleted>(c.pair.server_events).size(), 3u);
    EXPECT_TRUE(c.pair.client->session().inflight().empty());
    EXPECT_TRUE(c.pair.server->session().incoming_qos2().empty());
    // [MQTT-4.3.2-2], [MQTT-4.3.3-2]: first sends carry DUP 0 and distinct ids.
    for (const auto& p : sent_by<Publish>(c.pair.client_events))
      EXPECT_FALSE(p.dup);
  }
}

TEST(Connection, MQTT_4_3_3_10_DuplicateQoS2IsAcknowledgedButNotDeliveredTwice) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e); };
  pair.client->send(make_connect(Version::v5), pair.now);
  Publish p = message("t", QoS::exactly_once);
  p.packet_id = 9;
  pair.client->send(p, pair.now);
  p.dup = true;
  pair.client->send(p, pair.now);
  pair.run_for(100ms);
  EXPECT_EQ(events_of<event::MessageReceived>(pair.server_events).size(), 1u);
  EXPECT_EQ(sent_by<Pubrec>(pair.server_events).size(), 2u);
  // After PUBREL and PUBCOMP the id starts a new message [MQTT-4.3.3-12].
  pair.client->send(Pubrel{9, {}, {}, {}}, pair.now);
  pair.run_for(100ms);
  EXPECT_EQ(sent_by<Pubcomp>(pair.server_events).size(), 1u);
  p.dup = false;
  pair.client->send(p, pair.now);
  pair.run_for(100ms);
  EXPECT_EQ(events_of<event::MessageReceived>(pair.server_events).size(), 2u);
}

TEST(Connection, MQTT_4_3_2_5_QoS1IdReusedAfterPubackIsANewMessage) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e); };
  pair.client->send(make_connect(Version::v5), pair.now);
  Publish p = message("t", QoS::at_least_once);
  p.packet_id = 3;
  pair.client->send(p, pair.now);
  pair.run_for(100ms);
  pair.client->send(p, pair.now);
  pair.run_for(100ms);
  EXPECT_EQ(events_of<event::MessageReceived>(pair.server_events).size(), 2u);
  EXPECT_EQ(sent_by<Puback>(pair.server_events).size(), 2u);
}

TEST(Connection, MQTT_4_6_0_2_AcksLeaveInReceiveOrderWhateverTheAppDoes) {
  ConnectionOptions so = server_opts();
  so.manual_ack = true;
  Connected c(Version::v5, {}, so);
  std::vector<std::uint16_t> ids;
  c.pair.on_server = [&](Pair& p, const Event& e) {
    c.store.handle(p, e);
    if (const auto* m = std::get_if<event::MessageReceived>(&e)) {
      if (m->awaiting_ack) ids.push_back(m->message.packet_id);
    }
  };
  for (int i = 0; i < 4; ++i) {
    c.pair.client->publish(message("t", i % 2 ? QoS::exactly_once : QoS::at_least_once),
                           c.pair.now);
  }
  c.pair.run_for(100ms);
  ASSERT_EQ(ids.size(), 4u);
  // The application acknowledges in reverse order; nothing may leave before
  // the first is acknowledged.
  c.pair.server->acknowledge(ids[3], c.pair.now);
  c.pair.server->acknowledge(ids[2], c.pair.now);
  c.pair.server->acknowledge(ids[1], c.pair.now);
  c.pair.run_for(100ms);
  EXPECT_TRUE(sent_by<Puback>(c.pair.server_events).empty());
  EXPECT_TRUE(sent_by<Pubrec>(c.pair.server_events).empty());
  c.pair.server->acknowledge(ids[0], c.pair.now);
  c.pair.run_for(100ms);
  std::vector<std::uint16_t> acked;
  for (const auto& e : c.pair.server_events) {
    if (const auto* s = std::get_if<event::PacketSent>(&e)) {
      if (const auto* a = std::get_if<Puback>(&s->packet)) acked.push_back(a->packet_id);
      if (const auto* a = std::get_if<Pubrec>(&s->packet)) acked.push_back(a->packet_id);
    }
  }
  EXPECT_EQ(acked, ids);  // [MQTT-4.6.0-2], [MQTT-4.6.0-3]
  EXPECT_EQ(events_of<event::PublishCompleted>(c.pair.client_events).size(), 4u);
}

TEST(Connection, MQTT_4_4_0_1_ResendOnResumptionWithOriginalIdsInOrder) {
  for (const Version v : {Version::v3_1_1, Version::v5}) {
    Connected c(v, {}, server_opts(), make_connect(v, "c1", false));
    // Cut the link from server to client: PUBLISHes arrive, acks do not.
    c.pair.cut(false, 0);
    for (const QoS q : {QoS::at_least_once, QoS::exactly_once, QoS::at_least_once}) {
      c.pair.client->publish(message("t", q), c.pair.now);
    }
    ASSERT_TRUE(c.pair.run_until([&] { return c.pair.both_closed(); }));
    Session kept = c.pair.client->take_session();
    ASSERT_EQ(kept.inflight().size(), 3u);
    std::vector<std::uint16_t> original;
    for (const auto& f : kept.inflight())
      original.push_back(f.publish.packet_id);
    EXPECT_EQ(events_of<event::MessageReceived>(c.pair.server_events).size(), 3u);

    c.pair.client_events.clear();
    c.pair.server_events.clear();
    c.pair.reconnect(client_opts(v), server_opts());
    c.pair.client->connect(make_connect(v, "c1", false), std::move(kept), c.pair.now);
    c.pair.run_for(1s);
    const auto resent = sent_by<Publish>(c.pair.client_events);
    ASSERT_EQ(resent.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_TRUE(resent[i].dup);                   // [MQTT-3.3.1-1]
      EXPECT_EQ(resent[i].packet_id, original[i]);  // [MQTT-4.4.0-1]
    }
    // The QoS 2 message was delivered once before; the resend is acked only.
    EXPECT_EQ(events_of<event::MessageReceived>(c.pair.server_events).size(), 2u);
    EXPECT_TRUE(c.pair.client->session().inflight().empty());
    EXPECT_EQ(events_of<event::PublishCompleted>(c.pair.client_events).size(), 3u);
  }
}

TEST(Connection, MQTT_3_2_2_5_NoSessionPresentDiscardsClientState) {
  Connected c(Version::v5, {}, server_opts(), make_connect(Version::v5, "c1", false));
  c.pair.cut(false, 0);
  c.pair.client->publish(message("t", QoS::at_least_once), c.pair.now);
  ASSERT_TRUE(c.pair.run_until([&] { return c.pair.both_closed(); }));
  Session kept = c.pair.client->take_session();
  c.store.sessions.clear();  // the server lost the session
  c.pair.client_events.clear();
  c.pair.reconnect(client_opts(), server_opts());
  c.pair.client->connect(make_connect(Version::v5, "c1", false), std::move(kept), c.pair.now);
  c.pair.run_for(1s);
  EXPECT_TRUE(sent_by<Publish>(c.pair.client_events).empty());
  const auto done = events_of<event::PublishCompleted>(c.pair.client_events);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outcome, Outcome::discarded);
}

TEST(Connection, MQTT_4_9_0_2_SendQuotaFollowsReceiveMaximum) {
  ConnectionOptions so = server_opts();
  so.manual_ack = true;
  Connack ack;
  ack.properties.add(PropertyId::receive_maximum, 2u);
  Connected c(Version::v5, ack, so);
  std::vector<std::uint16_t> ids;
  c.pair.on_server = [&](Pair& p, const Event& e) {
    c.store.handle(p, e);
    if (const auto* m = std::get_if<event::MessageReceived>(&e))
      ids.push_back(m->message.packet_id);
  };
  for (int i = 0; i < 5; ++i)
    c.pair.client->publish(message("t", QoS::at_least_once), c.pair.now);
  c.pair.client->publish(message("t", QoS::at_most_once), c.pair.now);
  c.pair.run_for(100ms);
  EXPECT_EQ(sent_by<Publish>(c.pair.client_events).size(), 2u);  // quota 2
  EXPECT_EQ(c.pair.client->session().queue().size(), 4u);
  c.pair.server->acknowledge(ids[0], c.pair.now);
  c.pair.run_for(100ms);
  EXPECT_EQ(sent_by<Publish>(c.pair.client_events).size(), 3u);
  for (std::size_t i = 1; i < 5; ++i) {
    ASSERT_LT(i, ids.size());
    c.pair.server->acknowledge(ids[i], c.pair.now);
    c.pair.run_for(100ms);
  }
  EXPECT_EQ(sent_by<Publish>(c.pair.client_events).size(), 6u);
  EXPECT_EQ(events_of<event::MessageReceived>(c.pair.server_events).size(), 6u);
}

TEST(Connection, MQTT_3_3_4_7_ReceiveMaximumExceeded) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  ConnectionOptions so;
  Connack ack;
  ack.properties.add(PropertyId::receive_maximum, 1u);
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e, ack); };
  pair.server = std::make_unique<Connection>(
      [] {
        auto o = server_opts();
        o.manual_ack = true;
        return o;
      }(),
      pair.now);
  pair.client->send(make_connect(Version::v5), pair.now);
  Publish p = message("t", QoS::at_least_once);
  p.packet_id = 1;
  pair.client->send(p, pair.now);
  p.packet_id = 2;
  pair.client->send(p, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  const auto got = events_of<event::PacketReceived>(pair.client_events);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::get<Disconnect>(got[1].packet).reason_code, ReasonCode::receive_maximum_exceeded);
}

TEST(Connection, TopicAliasesBothWays) {
  Connack ack;
  ack.properties.add(PropertyId::topic_alias_maximum, 2u);
  Connect connect = make_connect(Version::v5);
  connect.properties.add(PropertyId::topic_alias_maximum, 1u);
  Connected c(Version::v5, ack, server_opts(), connect);
  for (int i = 0; i < 3; ++i) {
    c.pair.client->publish(message("sensors/long/topic/name", QoS::at_least_once), c.pair.now);
    c.pair.server->publish(message("to/client", QoS::at_most_once), c.pair.now);
  }
  c.pair.client->publish(message("a", QoS::at_most_once), c.pair.now);
  c.pair.client->publish(message("b", QoS::at_most_once), c.pair.now);  // no alias left
  c.pair.run_for(100ms);
  const auto up = sent_by<Publish>(c.pair.client_events);
  ASSERT_EQ(up.size(), 5u);
  EXPECT_EQ(up[0].topic, "sensors/long/topic/name");
  EXPECT_EQ(up[0].properties.integer(PropertyId::topic_alias), 1u);
  EXPECT_EQ(up[1].topic, "");  // alias only
  EXPECT_EQ(up[4].topic, "b");
  EXPECT_FALSE(up[4].properties.contains(PropertyId::topic_alias));
  // [MQTT-3.3.2-12], [MQTT-3.3.2-10]: the receivers resolve them.
  for (const auto& m : events_of<event::MessageReceived>(c.pair.server_events)) {
    EXPECT_FALSE(m.message.topic.empty());
    EXPECT_FALSE(m.message.properties.contains(PropertyId::topic_alias));
  }
  for (const auto& m : events_of<event::MessageReceived>(c.pair.client_events)) {
    EXPECT_EQ(m.message.topic, "to/client");
  }
}

TEST(Connection, MQTT_3_2_2_18_NoTopicAliasWhenNoneAllowed) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e); };
  pair.client->send(make_connect(Version::v5), pair.now);
  Publish p = message("t", QoS::at_most_once);
  p.properties.add(PropertyId::topic_alias, 1u);
  pair.client->send(p, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  const auto got = events_of<event::PacketReceived>(pair.client_events);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::get<Disconnect>(got[1].packet).reason_code, ReasonCode::topic_alias_invalid);
  EXPECT_EQ(events_of<event::ViolationDetected>(pair.server_events)[0].violation.statement,
            "MQTT-3.2.2-18");
}

TEST(Connection, UnknownTopicAliasIsAProtocolError) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  Connack ack;
  ack.properties.add(PropertyId::topic_alias_maximum, 5u);
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e, ack); };
  pair.client->send(make_connect(Version::v5), pair.now);
  Publish p = message("", QoS::at_most_once);
  p.properties.add(PropertyId::topic_alias, 4u);
  pair.client->send(p, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  EXPECT_EQ(events_of<event::ViolationDetected>(pair.server_events).at(0).violation.reason,
            ReasonCode::protocol_error);
}

TEST(Connection, MQTT_3_1_2_25_TooLargeForTheClientIsDiscarded) {
  Connect connect = make_connect(Version::v5);
  connect.properties.add(PropertyId::maximum_packet_size, 64u);
  Connected c(Version::v5, {}, server_opts(), connect);
  const Ticket big =
      c.pair.server->publish(message("t", QoS::at_least_once, std::string(100, 'x')), c.pair.now);
  c.pair.server->publish(message("t", QoS::at_least_once, "small"), c.pair.now);
  c.pair.run_for(100ms);
  const auto done = events_of<event::PublishCompleted>(c.pair.server_events);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].ticket, big);
  EXPECT_EQ(done[0].outcome, Outcome::discarded);
  EXPECT_EQ(done[0].reason_code, ReasonCode::packet_too_large);  // [MQTT-3.1.2-24]
  EXPECT_EQ(done[1].outcome, Outcome::acknowledged);
  EXPECT_EQ(events_of<event::MessageReceived>(c.pair.client_events).size(), 1u);
}

TEST(Connection, PacketAboveOurMaximumIsRefused) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  Connack ack;
  ack.properties.add(PropertyId::maximum_packet_size, 32u);
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e, ack); };
  pair.client->send(make_connect(Version::v5), pair.now);
  pair.client->send(message("t", QoS::at_most_once, std::string(40, 'x')), pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  const auto got = events_of<event::PacketReceived>(pair.client_events);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::get<Disconnect>(got[1].packet).reason_code, ReasonCode::packet_too_large);
}

TEST(Connection, MQTT_3_14_4_3_WillOnlyOnAbnormalEnd) {
  struct Case {
    std::optional<ReasonCode> disconnect;
    bool will;
  };
  for (const Case k :
       {Case{ReasonCode::success, false}, Case{ReasonCode::disconnect_with_will_message, true},
        Case{std::nullopt, true}}) {
    Connect connect = make_connect(Version::v5);
    connect.will = Will{"w", SharedBytes(std::string_view("gone")), QoS::at_least_once, false, {}};
    Connected c(Version::v5, {}, server_opts(), connect);
    if (k.disconnect) {
      c.pair.client->disconnect(Disconnect{*k.disconnect, {}, {}}, c.pair.now);
    } else {
      c.pair.cut(true, 0);
      c.pair.client->publish(message("t", QoS::at_most_once), c.pair.now);
    }
    ASSERT_TRUE(c.pair.run_until([&] { return c.pair.both_closed(); }));
    const auto closed = events_of<event::Closed>(c.pair.server_events);
    ASSERT_EQ(closed.size(), 1u);
    EXPECT_EQ(closed[0].publish_will, k.will);
  }
}

TEST(Connection, MQTT_3_1_4_6_NothingAfterARefusedConnectIsProcessed) {
  Pair pair(any_opts(), server_opts());
  pair.on_server = [&](Pair& p, const Event& e) {
    if (std::holds_alternative<event::ConnectReceived>(e)) {
      p.server->reject(Connack{false, ReasonCode::not_authorized, {}}, p.now);
    }
  };
  pair.client->send(make_connect(Version::v5), pair.now);
  pair.client->send(message("t", QoS::at_most_once), pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  EXPECT_TRUE(events_of<event::MessageReceived>(pair.server_events).empty());
  EXPECT_EQ(std::get<Connack>(events_of<event::PacketReceived>(pair.client_events).at(0).packet)
                .reason_code,
            ReasonCode::not_authorized);
  EXPECT_FALSE(events_of<event::Closed>(pair.server_events).at(0).publish_will);
}

TEST(Connection, PacketsPipelinedAfterConnectAreProcessedAfterAccept) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e); };
  pair.client->send(make_connect(Version::v5), pair.now);
  pair.client->send(message("t", QoS::at_most_once), pair.now);
  pair.run_for(100ms);
  EXPECT_EQ(events_of<event::MessageReceived>(pair.server_events).size(), 1u);
}

TEST(Connection, MQTT_3_2_2_4_SessionPresentAfterCleanStartClosesTheClient) {
  Pair pair(client_opts(), any_opts());
  pair.client->connect(make_connect(Version::v5), Session{}, pair.now);
  pair.server->send(Connack{true, ReasonCode::success, {}}, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  EXPECT_EQ(closed_cause(pair.client_events), CloseCause::protocol_violation);
}

TEST(Connection, ConnectRefusedByServer) {
  Pair pair(client_opts(Version::v3_1_1), any_opts(Version::v3_1_1));
  pair.client->connect(make_connect(Version::v3_1_1), Session{}, pair.now);
  pair.server->send(Connack{false, ReasonCode::bad_user_name_or_password, {}}, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  ASSERT_EQ(events_of<event::ConnectRefused>(pair.client_events).size(), 1u);
  EXPECT_EQ(closed_cause(pair.client_events), CloseCause::connection_refused);
}

TEST(Connection, MQTT_3_3_4_6_ClientMustNotSendSubscriptionIdentifier) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e); };
  pair.client->send(make_connect(Version::v5), pair.now);
  Publish p = message("t", QoS::at_most_once);
  p.properties.add(PropertyId::subscription_identifier, 3u);
  pair.client->send(p, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  EXPECT_EQ(events_of<event::ViolationDetected>(pair.server_events).at(0).violation.statement,
            "MQTT-3.3.4-6");
}

TEST(Connection, MQTT_3_2_2_11_QoSAboveMaximumIsRefused) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  Connack ack;
  ack.properties.add(PropertyId::maximum_qos, 1u);
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e, ack); };
  pair.client->send(make_connect(Version::v5), pair.now);
  Publish p = message("t", QoS::exactly_once);
  p.packet_id = 1;
  pair.client->send(p, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  const auto got = events_of<event::PacketReceived>(pair.client_events);
  EXPECT_EQ(std::get<Disconnect>(got.at(1).packet).reason_code, ReasonCode::qos_not_supported);
}

TEST(Connection, ClientDoesNotExceedTheServersMaximumQoS) {
  Connack ack;
  ack.properties.add(PropertyId::maximum_qos, 0u);
  ack.properties.add(PropertyId::retain_available, 0u);
  Connected c(Version::v5, ack);
  c.pair.client->publish(message("t", QoS::at_least_once), c.pair.now);
  Publish retained = message("t", QoS::at_most_once);
  retained.retain = true;
  c.pair.client->publish(retained, c.pair.now);
  c.pair.run_for(100ms);
  EXPECT_TRUE(sent_by<Publish>(c.pair.client_events).empty());
  const auto done = events_of<event::PublishCompleted>(c.pair.client_events);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].reason_code, ReasonCode::qos_not_supported);     // [MQTT-3.2.2-11]
  EXPECT_EQ(done[1].reason_code, ReasonCode::retain_not_supported);  // [MQTT-3.2.2-14]
}

TEST(Connection, MQTT_3_1_2_29_NoProblemInformationUnlessRequested) {
  Connect connect = make_connect(Version::v5);
  connect.properties.add(PropertyId::request_problem_information, 0u);
  ConnectionOptions so = server_opts();
  so.manual_ack = true;
  Connected c(Version::v5, {}, so, connect);
  c.pair.on_server = [&](Pair& p, const Event& e) {
    if (const auto* m = std::get_if<event::MessageReceived>(&e)) {
      Properties props{{PropertyId::reason_string, std::string("nobody listens")}};
      p.server->acknowledge(m->message.packet_id, p.now, ReasonCode::no_matching_subscribers,
                            props);
    }
  };
  c.pair.client->publish(message("t", QoS::at_least_once), c.pair.now);
  c.pair.run_for(100ms);
  const auto acks = received_by<Puback>(c.pair.client_events);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].reason_code, ReasonCode::no_matching_subscribers);
  EXPECT_TRUE(acks[0].properties.empty());
}

TEST(Connection, SubscribeAndUnsubscribe) {
  Connected c(Version::v5);
  Subscribe s;
  s.subscriptions = {{"a/+", {QoS::at_least_once}}, {"b/#", {QoS::exactly_once}}};
  const std::uint16_t id = c.pair.client->subscribe(s, c.pair.now);
  c.pair.run_for(100ms);
  const auto acked = events_of<event::SubscribeAcked>(c.pair.client_events);
  ASSERT_EQ(acked.size(), 1u);
  EXPECT_EQ(acked[0].suback.packet_id, id);  // [MQTT-3.8.4-2]
  EXPECT_EQ(acked[0].suback.reason_codes.size(), 2u);
  c.pair.on_server = [&](Pair& p, const Event& e) {
    if (const auto* u = std::get_if<event::UnsubscribeReceived>(&e)) {
      p.server->unsuback(Unsuback{u->unsubscribe.packet_id, {}, {ReasonCode::success}}, p.now);
    }
  };
  c.pair.client->unsubscribe(Unsubscribe{0, {}, {"a/+"}}, c.pair.now);
  c.pair.run_for(100ms);
  EXPECT_EQ(events_of<event::UnsubscribeAcked>(c.pair.client_events).size(), 1u);
}

TEST(Connection, SubackWithWrongCountIsAProtocolError) {
  Pair pair(client_opts(), any_opts());
  pair.client->connect(make_connect(Version::v5), Session{}, pair.now);
  pair.server->send(Connack{}, pair.now);
  pair.run_for(50ms);
  Subscribe s;
  s.subscriptions = {{"a", {}}, {"b", {}}};
  const auto id = pair.client->subscribe(s, pair.now);
  pair.server->send(Suback{id, {}, {ReasonCode::success}}, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  EXPECT_EQ(events_of<event::ViolationDetected>(pair.client_events).at(0).violation.statement,
            "MQTT-3.8.4-6");
}

TEST(Connection, EnhancedAuthentication) {
  Connect connect = make_connect(Version::v5);
  connect.properties.add(PropertyId::authentication_method, std::string("SCRAM"));
  Pair pair(client_opts(), server_opts());
  int steps = 0;
  pair.on_server = [&](Pair& p, const Event& e) {
    Properties method{{PropertyId::authentication_method, std::string("SCRAM")}};
    if (std::holds_alternative<event::ConnectReceived>(e)) {
      p.server->auth(Auth{ReasonCode::continue_authentication, method, {}}, p.now);
    } else if (std::holds_alternative<event::AuthReceived>(e)) {
      ++steps;
      Connack ack;
      ack.properties = method;
      p.server->accept(ack, Session("c1"), p.now);
    }
  };
  pair.on_client = [&](Pair& p, const Event& e) {
    if (std::holds_alternative<event::AuthReceived>(e)) {
      Properties method{{PropertyId::authentication_method, std::string("SCRAM")}};
      p.client->auth(Auth{ReasonCode::continue_authentication, method, {}}, p.now);
    }
  };
  pair.client->connect(connect, Session{}, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.client->state() == Connection::State::connected; }));
  EXPECT_EQ(steps, 1);
}

TEST(Connection, MQTT_4_12_0_7_AuthWithoutMethodIsAProtocolError) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e); };
  pair.client->send(make_connect(Version::v5), pair.now);
  pair.client->send(Auth{ReasonCode::re_authenticate,
                         Properties{{PropertyId::authentication_method, std::string("X")}},
                         {}},
                    pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  EXPECT_EQ(events_of<event::ViolationDetected>(pair.server_events).at(0).violation.statement,
            "MQTT-4.12.0-7");
}

TEST(Connection, MQTT_3_14_2_2_ServerSessionExpiryInDisconnect) {
  // Sending it is local misuse on a server...
  Connected c(Version::v5);
  Disconnect d{
      ReasonCode::server_shutting_down, Properties{{PropertyId::session_expiry_interval, 5u}}, {}};
  EXPECT_THROW(c.pair.server->disconnect(d, c.pair.now), std::logic_error);
  // ...and receiving it is a protocol error on a client.
  Pair pair(client_opts(), any_opts());
  pair.client->connect(make_connect(Version::v5), Session{}, pair.now);
  pair.server->send(Connack{}, pair.now);
  pair.server->send(d, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  EXPECT_EQ(events_of<event::ViolationDetected>(pair.client_events).at(0).violation.statement,
            "MQTT-3.14.2-2");
}

TEST(Connection, NonZeroSessionExpiryInDisconnectAfterZeroInConnect) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e); };
  pair.client->send(make_connect(Version::v5), pair.now);  // expiry 0
  pair.client->send(
      Disconnect{ReasonCode::success, Properties{{PropertyId::session_expiry_interval, 10u}}, {}},
      pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  EXPECT_EQ(events_of<event::ViolationDetected>(pair.server_events).at(0).violation.statement,
            "§3.14.2.2.2");
}

TEST(Connection, ClientMayRaiseSessionExpiryOnDisconnect) {
  Connected c(Version::v5, {}, server_opts(), make_connect(Version::v5, "c1", false));
  c.pair.client->disconnect(
      Disconnect{ReasonCode::success, Properties{{PropertyId::session_expiry_interval, 30u}}, {}},
      c.pair.now);
  ASSERT_TRUE(c.pair.run_until([&] { return c.pair.both_closed(); }));
  EXPECT_EQ(c.store.sessions.at("c1").expiry_interval(), 30u);
  EXPECT_EQ(closed_cause(c.pair.server_events), CloseCause::disconnect_received);
  EXPECT_EQ(closed_cause(c.pair.client_events), CloseCause::disconnect_sent);
}

TEST(Connection, ServerDisconnectReachesTheClient) {
  Connected c(Version::v5);
  c.pair.server->disconnect(Disconnect{ReasonCode::server_shutting_down, {}, {}}, c.pair.now);
  ASSERT_TRUE(c.pair.run_until([&] { return c.pair.both_closed(); }));
  const auto got = events_of<event::DisconnectReceived>(c.pair.client_events);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].disconnect.reason_code, ReasonCode::server_shutting_down);
}

TEST(Connection, V311ServerClosesWithoutDisconnect) {
  Connected c(Version::v3_1_1);
  c.pair.server->disconnect(Disconnect{}, c.pair.now);
  ASSERT_TRUE(c.pair.run_until([&] { return c.pair.both_closed(); }));
  EXPECT_TRUE(sent_by<Disconnect>(c.pair.server_events).empty());
  EXPECT_EQ(closed_cause(c.pair.client_events), CloseCause::transport_closed);
}

TEST(Connection, MQTT_4_12_1_1_ReAuthentication) {
  Connect connect = make_connect(Version::v5);
  Properties method{{PropertyId::authentication_method, std::string("TOKEN")}};
  connect.properties.add(PropertyId::authentication_method, std::string("TOKEN"));
  Pair pair(client_opts(), server_opts());
  pair.on_server = [&](Pair& p, const Event& e) {
    if (std::holds_alternative<event::ConnectReceived>(e)) {
      Connack ack;
      ack.properties = method;
      p.server->accept(ack, Session("c1"), p.now);
    } else if (const auto* a = std::get_if<event::AuthReceived>(&e)) {
      EXPECT_EQ(a->auth.reason_code, ReasonCode::re_authenticate);
      p.server->auth(Auth{ReasonCode::success, method, {}}, p.now);
    }
  };
  pair.client->connect(connect, Session{}, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.client->state() == Connection::State::connected; }));
  pair.client->auth(Auth{ReasonCode::re_authenticate, method, {}}, pair.now);
  pair.run_for(100ms);
  const auto got = events_of<event::AuthReceived>(pair.client_events);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].auth.reason_code, ReasonCode::success);
  EXPECT_EQ(pair.client->state(), Connection::State::connected);
  // An AUTH with another method is a protocol error [MQTT-4.12.0-5].
  EXPECT_THROW(
      pair.client->auth(Auth{ReasonCode::re_authenticate,
                             Properties{{PropertyId::authentication_method, std::string("OTHER")}},
                             {}},
                        pair.now),
      std::logic_error);
}

TEST(Connection, UnsubackForNoUnsubscribeIsAProtocolError) {
  Pair pair(client_opts(Version::v3_1_1), any_opts(Version::v3_1_1));
  pair.client->connect(make_connect(Version::v3_1_1), Session{}, pair.now);
  pair.server->send(Connack{}, pair.now);
  pair.server->send(Unsuback{77, {}, {}}, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  EXPECT_EQ(events_of<event::ViolationDetected>(pair.client_events).at(0).violation.statement,
            "MQTT-3.10.4-5");
}

TEST(Connection, MQTT_3_2_0_1_NothingButConnackFirst) {
  Pair pair(client_opts(), any_opts());
  pair.client->connect(make_connect(Version::v5), Session{}, pair.now);
  pair.server->send(Pingresp{}, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  EXPECT_EQ(events_of<event::ViolationDetected>(pair.client_events).at(0).violation.statement,
            "MQTT-3.2.0-1");
}

TEST(Connection, MQTT_3_2_0_2_SecondConnack) {
  Pair pair(client_opts(), any_opts());
  pair.client->connect(make_connect(Version::v5), Session{}, pair.now);
  pair.server->send(Connack{}, pair.now);
  pair.server->send(Connack{}, pair.now);
  ASSERT_TRUE(pair.run_until([&] { return pair.both_closed(); }));
  EXPECT_EQ(events_of<event::ViolationDetected>(pair.client_events).at(0).violation.statement,
            "MQTT-3.2.0-2");
  // The client answers with DISCONNECT 0x82.
  const auto got = events_of<event::PacketReceived>(pair.server_events);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(std::get<Disconnect>(got.back().packet).reason_code, ReasonCode::protocol_error);
}

TEST(Connection, PubrelForAnUnknownIdGetsPubcompNotFound) {
  Pair pair(any_opts(), server_opts());
  SessionStore store;
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e); };
  pair.client->send(make_connect(Version::v5), pair.now);
  pair.client->send(Pubrel{42, {}, {}, {}}, pair.now);
  pair.run_for(100ms);
  const auto got = events_of<event::PacketReceived>(pair.client_events);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::get<Pubcomp>(got[1].packet).reason_code, ReasonCode::packet_identifier_not_found);
}

TEST(Connection, OfflineQueueIsBoundedAndFlushedOnConnect) {
  Pair pair(client_opts(), server_opts());
  SessionStore store;
  pair.on_server = [&](Pair& p, const Event& e) { store.handle(p, e); };
  // Not connected yet: messages queue in the session, up to its limits.
  Session small("c1", SessionLimits{2, 1000});
  pair.client->connect(make_connect(Version::v5), std::move(small), pair.now);
  pair.client->publish(message("t", QoS::at_least_once, "1"), pair.now);
  pair.client->publish(message("t", QoS::at_least_once, "2"), pair.now);
  pair.client->publish(message("t", QoS::at_least_once, "3"), pair.now);
  EXPECT_EQ(pair.client->session().queue().size(), 2u);
  pair.run_for(100ms);
  const auto done = events_of<event::PublishCompleted>(pair.client_events);
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0].outcome, Outcome::discarded);  // the third, refused at once
  EXPECT_EQ(done[0].reason_code, ReasonCode::quota_exceeded);
  EXPECT_EQ(done[1].outcome, Outcome::acknowledged);
  EXPECT_EQ(done[2].outcome, Outcome::acknowledged);
  EXPECT_EQ(events_of<event::MessageReceived>(pair.server_events).size(), 2u);
}

TEST(Connection, AnswersToEventsAfterTheConnectionFailedAreIgnored) {
  // Found by fuzz_connection: a CONNECT with an Authentication Method and a
  // malformed packet in the same read. The connection fails before the
  // application handles ConnectReceived; its answer must not throw.
  Connection server(server_opts(), Time{0});
  Connect c = make_connect(Version::v5);
  c.properties.add(PropertyId::authentication_method, std::string("M"));
  Bytes bytes = encode(c, Version::v5);
  const Bytes junk = hex("00 00");
  bytes.insert(bytes.end(), junk.begin(), junk.end());
  server.receive(bytes, Time{0});
  EXPECT_TRUE(server.ended());
  EXPECT_NO_THROW(server.reject(Connack{false, ReasonCode::not_authorized, {}}, Time{0}));
  EXPECT_NO_THROW(server.accept(Connack{}, Session{}, Time{0}));
  Bytes out;
  server.poll_transmit(out);
  // Only the refusal of the malformed packet went out.
  const auto r = decode(out, Version::v5);
  ASSERT_TRUE(std::holds_alternative<Decoded>(r));
  EXPECT_EQ(std::get<Connack>(std::get<Decoded>(r).packet).reason_code,
            ReasonCode::malformed_packet);
  EXPECT_EQ(std::get<Decoded>(r).size, out.size());
}

TEST(Connection, LocalMisuseThrows) {
  Connection server(server_opts(), Time{0});
  EXPECT_THROW(server.accept(Connack{}, Session{}, Time{0}), std::logic_error);
  Connection client(client_opts(), Time{0});
  EXPECT_THROW(client.subscribe(Subscribe{}, Time{0}), std::logic_error);
  EXPECT_THROW(client.send(Pingreq{}, Time{0}), std::logic_error);
}

TEST(Session, SerializeAndParseRoundTrip) {
  Connected c(Version::v5, {}, server_opts(), make_connect(Version::v5, "c1", false));
  c.pair.cut(false, 0);
  Publish p = message("a/b", QoS::exactly_once, "payload");
  p.properties.add(PropertyId::user_property, StringPair{"k", "v"});
  c.pair.client->publish(p, c.pair.now);
  c.pair.client->publish(message("c", QoS::at_least_once), c.pair.now);
  ASSERT_TRUE(c.pair.run_until([&] { return c.pair.both_closed(); }));
  Session s = c.pair.client->take_session();
  s.enqueue(message("queued", QoS::at_most_once));
  const Bytes bytes = s.serialize();
  const auto back = Session::parse(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, s);
  EXPECT_EQ(back->inflight().size(), 2u);
  EXPECT_EQ(back->queue().size(), 1u);
  Bytes bad = bytes;
  bad.pop_back();
  EXPECT_FALSE(Session::parse(bad));
  EXPECT_FALSE(Session::parse(hex("00 01 02")));
}

TEST(Session, QueueLimits) {
  Session s("c", SessionLimits{2, 1000});
  EXPECT_EQ(s.enqueue(message("t", QoS::at_least_once)), EnqueueResult::queued);
  EXPECT_EQ(s.enqueue(message("t", QoS::at_least_once)), EnqueueResult::queued);
  EXPECT_EQ(s.enqueue(message("t", QoS::at_least_once)), EnqueueResult::full);
  Session bytes("c", SessionLimits{100, 10});
  EXPECT_EQ(bytes.enqueue(message("t", QoS::at_most_once, "123456789")), EnqueueResult::queued);
  EXPECT_EQ(bytes.enqueue(message("t", QoS::at_most_once, "1")), EnqueueResult::full);
}

}  // namespace
}  // namespace assay::mqtt::test
