// Sessions (§3.1.2.4, §4.1), resending on resumption (§4.4), wills (§3.1.2.5).
#include "cases.hpp"

namespace assay::conformance {

using namespace detail;

namespace {

// A persistent session: CleanSession 0 (3.1.1) or Clean Start 0 with a
// Session Expiry Interval (5.0), removed when the case ends.
Connect persistent(Context& ctx, const std::string& id, bool clean_start = false,
                   std::uint32_t expiry = 60) {
  ctx.end_session_later(id);
  return ctx.connect_packet(id, clean_start, expiry);
}

Connect with_will(Context& ctx, const std::string& id, const std::string& topic,
                  const std::string& payload, bool retain = false) {
  Connect c = ctx.connect_packet(id);
  c.will = Will{topic, text(payload), QoS::at_most_once, retain, {}};
  return c;
}

}  // namespace

void cases::session(std::vector<Case>& out) {
  add_case(out, "3.1", "session.new-session",
           "Clean Start 0 without a stored session: Session Present 0", {"MQTT-3.2.2-3"},
           {"MQTT-3.1.2-6", "MQTT-3.2.2-3"}, [](Context& ctx) {
             Peer& p = ctx.peer("client");
             const Connack ack = p.connect_ok(persistent(ctx, ctx.client_id()));
             ctx.check(!ack.session_present, "Session Present must be 0: there was no session");
           });

  add_case(out, "3.1", "session.resume",
           "Clean Start 0 resumes the session: Session Present 1, subscriptions kept, QoS 1 "
           "messages stored while offline",
           {"MQTT-3.1.2-4", "MQTT-3.1.2-5", "MQTT-3.2.2-2", "MQTT-3.1.3-2", "MQTT-4.1.0-1",
            "MQTT-4.5.0-1"},
           {"MQTT-3.1.2-5", "MQTT-3.1.2-23", "MQTT-3.2.2-3", "MQTT-4.5.0-1", "MQTT-3.1.3-2"},
           [](Context& ctx) {
             need_qos(ctx, QoS::at_least_once);
             const std::string id = ctx.client_id();
             const std::string t = ctx.topic("resume");
             Peer& s = ctx.peer("subscriber");
             s.connect_ok(persistent(ctx, id));
             s.subscribe(t, QoS::at_least_once);
             s.disconnect();
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "while offline", QoS::at_least_once);
             Peer& s2 = ctx.peer("subscriber2");
             const Connack ack = s2.connect_ok(persistent(ctx, id));
             ctx.check(ack.session_present, "Session Present must be 1: the session was stored");
             const Publish m = s2.expect_publish("the message published while offline");
             ctx.check(text(m.payload) == "while offline", "wrong message delivered");
           });

  add_case(out, "3.1", "session.clean-start-discards",
           "Clean Start 1 discards the stored session and its subscriptions",
           {"MQTT-3.1.2-6", "MQTT-3.2.2-1", "MQTT-3.1.4-3"},
           {"MQTT-3.1.2-4", "MQTT-3.2.2-2", "MQTT-3.1.4-4"}, [](Context& ctx) {
             const std::string id = ctx.client_id();
             const std::string t = ctx.topic("clean");
             Peer& s = ctx.peer("subscriber");
             s.connect_ok(persistent(ctx, id));
             s.subscribe(t, QoS::at_most_once);
             s.disconnect();
             Peer& s2 = ctx.peer("subscriber2");
             const Connack ack = s2.connect_ok(persistent(ctx, id, true));
             ctx.check(!ack.session_present, "Session Present must be 0 with Clean Start 1");
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "after clean start", QoS::at_most_once);
             s2.expect_no_publish("the old session's subscription must be gone");
           });

  add_case(out, "4.4", "session.resend-publish",
           "unacknowledged PUBLISH is resent on resumption with its packet id and DUP 1",
           {"MQTT-4.4.0-1", "MQTT-3.3.1-1"}, {"MQTT-4.4.0-1", "MQTT-3.3.1-1"}, [](Context& ctx) {
             need_qos(ctx, QoS::at_least_once);
             const std::string id = ctx.client_id();
             const std::string t = ctx.topic("resend");
             Peer& s = ctx.peer("subscriber");
             s.connect_ok(persistent(ctx, id));
             s.subscribe(t, QoS::at_least_once);
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "unacked", QoS::at_least_once);
             const Publish first = s.expect_publish("the message", false);
             ctx.check(!first.dup, "DUP must be 0 on the first delivery [MQTT-3.3.1-1]");
             s.drop();
             Peer& s2 = ctx.peer("subscriber2");
             const Connack ack = s2.connect_ok(persistent(ctx, id));
             ctx.check(ack.session_present, "Session Present must be 1");
             const Publish again = s2.expect_publish("the unacknowledged message, resent");
             ctx.check(again.packet_id == first.packet_id,
                       "resent with packet id " + std::to_string(again.packet_id) +
                           ", the original was " + std::to_string(first.packet_id));
             ctx.check(again.dup, "the resent PUBLISH must have DUP 1");
             ctx.check(text(again.payload) == "unacked", "a different message was resent");
           });

  add_case(out, "4.4", "session.puback-error-ends-delivery",
           "5.0: a PUBACK with a Reason Code of 0x80 or more acknowledges: not resent on "
           "resumption",
           {}, {"MQTT-4.4.0-2"}, [](Context& ctx) {
             need_qos(ctx, QoS::at_least_once);
             const std::string id = ctx.client_id();
             const std::string t = ctx.topic("refused");
             Peer& s = ctx.peer("subscriber");
             s.connect_ok(persistent(ctx, id));
             s.subscribe(t, QoS::at_least_once);
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "refused by the subscriber", QoS::at_least_once);
             const Publish m = s.expect_publish("the message", false);
             s.send(Puback{m.packet_id, ReasonCode::unspecified_error, {}, AckLayout::shortest});
             s.disconnect();
             Peer& s2 = ctx.peer("subscriber2");
             const Connack ack = s2.connect_ok(persistent(ctx, id));
             ctx.check(ack.session_present, "Session Present must be 1");
             s2.expect_no_publish("a message the subscriber acknowledged with 0x80");
           });

  add_case(out, "4.4", "session.resend-pubrel",
           "after PUBREC, resumption resends PUBREL, not the PUBLISH", {"MQTT-4.4.0-1"},
           {"MQTT-4.4.0-1", "MQTT-4.3.3-6"}, [](Context& ctx) {
             need_qos(ctx, QoS::exactly_once);
             const std::string id = ctx.client_id();
             const std::string t = ctx.topic("pubrel");
             Peer& s = ctx.peer("subscriber");
             s.connect_ok(persistent(ctx, id));
             s.subscribe(t, QoS::exactly_once);
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "qos2", QoS::exactly_once);
             const Publish m = s.expect_publish("the QoS 2 message", false);
             s.send(Pubrec{m.packet_id, ReasonCode::success, {}, AckLayout::shortest});
             const Pubrel rel = s.expect<Pubrel>("PUBREC");
             ctx.check(rel.packet_id == m.packet_id, "PUBREL for another packet id");
             s.drop();
             Peer& s2 = ctx.peer("subscriber2");
             ctx.check(s2.connect_ok(persistent(ctx, id)).session_present,
                       "Session Present must be 1");
             const Pubrel again = s2.expect<Pubrel>("resumption after PUBREC");
             ctx.check(again.packet_id == m.packet_id, "PUBREL resent with another packet id");
             s2.send(Pubcomp{m.packet_id, ReasonCode::success, {}, AckLayout::shortest});
             s2.expect_no_publish("the message was already received");
           });

  add_case(out, "4.1", "session.expiry", "5.0: a session ends when its expiry interval passes", {},
           {"MQTT-4.1.0-2", "MQTT-3.1.2-23"}, [](Context& ctx) {
             const std::string id = ctx.client_id();
             Peer& a = ctx.peer("client");
             a.connect_ok(persistent(ctx, id, false, 1));
             a.disconnect();
             Peer& b = ctx.peer("within");
             ctx.check(b.connect_ok(persistent(ctx, id, false, 1)).session_present,
                       "the session must still exist before its expiry [MQTT-3.1.2-23]");
             b.disconnect();
             ctx.sleep(std::chrono::milliseconds(2500));
             Peer& c = ctx.peer("after");
             ctx.check(!c.connect_ok(persistent(ctx, id, false, 1)).session_present,
                       "the session must be gone 2.5 s after a 1 s expiry [MQTT-4.1.0-2]");
           });

  add_case(out, "4.1", "session.kept-while-connected",
           "a session lasts as long as its connection, past its Session Expiry Interval (3.1.1: "
           "CleanSession 1)",
           {"MQTT-4.1.0-2"}, {"MQTT-4.1.0-1"}, [](Context& ctx) {
             need_qos(ctx, QoS::at_least_once);
             const std::string t = ctx.topic("kept");
             Peer& s = ctx.peer("subscriber");
             s.connect_ok(ctx.connect_packet(ctx.client_id(), true, 1));
             s.subscribe(t, QoS::at_least_once);
             ctx.sleep(std::chrono::milliseconds(1500));
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "still subscribed", QoS::at_least_once);
             const Publish m = s.expect_publish(
                 "the message: the connection is open, so its session and subscription are too");
             ctx.check(text(m.payload) == "still subscribed", "a different message");
           });

  add_case(out, "4.1", "session.expiry-zero",
           "5.0: without a Session Expiry Interval the session ends with the connection", {},
           {"MQTT-4.1.0-2"}, [](Context& ctx) {
             const std::string id = ctx.client_id();
             Peer& a = ctx.peer("client");
             a.connect_ok(ctx.connect_packet(id, false, 0));
             a.disconnect();
             Peer& b = ctx.peer("again");
             ctx.check(!b.connect_ok(ctx.connect_packet(id, false, 0)).session_present,
                       "Session Present must be 0: the session expired at once");
           });

  add_case(out, "3.1", "will.published", "the Will is published when the connection is lost",
           {"MQTT-3.1.2-8", "MQTT-3.1.2-16"}, {"MQTT-3.1.2-8", "MQTT-3.1.2-14", "MQTT-3.1.2-7"},
           [](Context& ctx) {
             const std::string t = ctx.topic("will");
             Peer& w = connected(ctx, "watcher");
             w.subscribe(t, QoS::at_most_once);
             Peer& c = ctx.peer("client");
             c.connect_ok(with_will(ctx, ctx.client_id(), t, "gone"));
             c.drop();
             const Publish m = w.expect_publish("the Will of a lost connection");
             ctx.check(text(m.payload) == "gone", "the Will payload changed");
             ctx.check(!m.retain, "the Will was published retained without Will Retain");
           });

  add_case(out, "3.1", "will.user-properties-order",
           "5.0: the Will's User Properties are forwarded in their order", {}, {"MQTT-3.1.3-10"},
           [](Context& ctx) {
             const std::string t = ctx.topic("will-props");
             Peer& w = connected(ctx, "watcher");
             w.subscribe(t, QoS::at_most_once);
             Peer& c = ctx.peer("client");
             Connect connect = with_will(ctx, ctx.client_id(), t, "gone");
             const std::vector<StringPair> sent{{"b", "1"}, {"a", "2"}, {"b", "3"}};
             for (const StringPair& p : sent)
               connect.will->properties.add(PropertyId::user_property, p);
             c.connect_ok(connect);
             c.drop();
             const Publish m = w.expect_publish("the Will of a lost connection");
             ctx.check(m.properties.user_properties() == sent,
                       "the Will's User Properties changed or changed order");
           });

  add_case(out, "3.1", "will.not-after-disconnect", "a normal DISCONNECT discards the Will",
           {"MQTT-3.1.2-10", "MQTT-3.14.4-3"}, {"MQTT-3.1.2-10", "MQTT-3.14.4-3"},
           [](Context& ctx) {
             const std::string t = ctx.topic("will");
             Peer& w = connected(ctx, "watcher");
             w.subscribe(t, QoS::at_most_once);
             Peer& c = ctx.peer("client");
             c.connect_ok(with_will(ctx, ctx.client_id(), t, "gone"));
             c.disconnect();
             w.expect_no_publish("no Will after DISCONNECT");
           });

  add_case(out, "3.1", "will.retained", "Will Retain 1 publishes the Will as retained",
           {"MQTT-3.1.2-17"}, {"MQTT-3.1.2-15"}, [](Context& ctx) {
             ctx.need(ctx.caps.retain_available, "the broker does not offer retained messages");
             const std::string t = ctx.topic("will");
             ctx.clear_retained_later(t);
             Peer& c = ctx.peer("client");
             c.connect_ok(with_will(ctx, ctx.client_id(), t, "retained will", true));
             c.drop();
             Peer& w = connected(ctx, "watcher");
             // Subscribing after the Will fired, only a retained Will arrives,
             // so wait for the broker to have published it. (The broker may
             // read the SUBSCRIBE before it notices the lost connection: the
             // Will then arrives live, RETAIN 0 [MQTT-3.3.1-9], and the next
             // SUBSCRIBE must bring it retained [MQTT-3.8.4-3].)
             for (int i = 0;; ++i) {
               w.subscribe(t, QoS::at_most_once);
               const Peer::Arrival a = w.next(ctx.options.quiet);
               if (a.kind == Peer::Arrival::Kind::packet) {
                 const auto* m = std::get_if<Publish>(&a.packet);
                 ctx.check(m != nullptr,
                           "expected the retained Will, got " + describe(a.packet, ctx.version));
                 ctx.check(text(m->payload) == "retained will", "expected the Will");
                 if (!m->retain && i < 10) continue;  // live: subscribe again
                 ctx.check(m->retain, "expected the Will, retained");
                 return;
               }
               ctx.check(i < 10, "no retained Will after the connection was lost");
               w.unsubscribe(t);
             }
           });

  add_case(out, "3.1", "will.disconnect-with-will",
           "5.0: DISCONNECT with Reason Code 0x04 publishes the Will", {}, {"MQTT-3.1.2-8"},
           [](Context& ctx) {
             const std::string t = ctx.topic("will");
             Peer& w = connected(ctx, "watcher");
             w.subscribe(t, QoS::at_most_once);
             Peer& c = ctx.peer("client");
             c.connect_ok(with_will(ctx, ctx.client_id(), t, "asked for"));
             c.disconnect(ReasonCode::disconnect_with_will_message);
             const Publish m = w.expect_publish("the Will after DISCONNECT 0x04");
             ctx.check(text(m.payload) == "asked for", "the Will payload changed");
           });

  add_case(out, "3.1", "will.delay",
           "5.0: the Will waits for its delay, and resuming the session cancels it", {},
           {"MQTT-3.1.3-9", "MQTT-3.1.2-8"}, [](Context& ctx) {
             const std::string t = ctx.topic("will");
             Peer& w = connected(ctx, "watcher");
             w.subscribe(t, QoS::at_most_once);
             const std::string id = ctx.client_id();
             auto connect = [&](const std::string& payload) {
               Connect c = with_will(ctx, id, t, payload);
               c.clean_start = false;
               c.properties.add(PropertyId::session_expiry_interval, 30u);
               c.will->properties.add(PropertyId::will_delay_interval, 1u);
               ctx.end_session_later(id);
               return c;
             };
             // Lost, then resumed at once: no Will.
             Peer& a = ctx.peer("client");
             a.connect_ok(connect("cancelled"));
             a.drop();
             Peer& b = ctx.peer("resumed");
             ctx.check(b.connect_ok(connect("delayed")).session_present,
                       "Session Present must be 1");
             ctx.sleep(std::chrono::milliseconds(1500));
             w.expect_no_publish("the Will of a session resumed within the Will Delay");
             // Lost for good: the Will comes, not before its delay.
             const Duration lost = ctx.elapsed();
             b.drop();
             const Publish m = w.expect_publish("the Will after its delay");
             ctx.check(text(m.payload) == "delayed", "the wrong Will was published");
             ctx.check(ctx.elapsed() - lost >= std::chrono::milliseconds(900),
                       "the Will came " + std::to_string((ctx.elapsed() - lost).count()) +
                           " ms after the loss, before its 1 s delay");
           });
}

}  // namespace assay::conformance
