// §3.3 PUBLISH, §4.3 QoS flows, §4.6 ordering, retained messages.
#include <set>

#include "cases.hpp"

namespace assay::conformance {

using namespace detail;

namespace {

// A subscriber on `t` at `qos` and a publisher, both connected.
struct Pair {
  Peer& sub;
  Peer& pub;
};
Pair pair(Context& ctx, const std::string& t, QoS qos) {
  Peer& sub = connected(ctx, "subscriber");
  sub.subscribe(t, qos);
  Peer& pub = connected(ctx, "publisher");
  return {sub, pub};
}

}  // namespace

void cases::publish(std::vector<Case>& out) {
  add_case(out, "4.3", "publish.qos0", "QoS 0 is delivered with QoS 0 and DUP 0",
           // A packet id in a QoS 0 PUBLISH, or a missing Property Length,
           // would show as a changed payload.
           {"MQTT-4.3.1-1", "MQTT-3.3.1-2", "MQTT-3.3.2-3", "MQTT-2.3.1-5"},
           {"MQTT-4.3.1-1", "MQTT-3.3.1-2", "MQTT-3.3.2-3", "MQTT-2.2.1-2", "MQTT-2.2.2-1"},
           [](Context& ctx) {
             const std::string t = ctx.topic("q0");
             auto [sub, pub] = pair(ctx, t, QoS::at_most_once);
             pub.publish(t, "zero", QoS::at_most_once);
             const Publish m = sub.expect_publish("a QoS 0 message");
             ctx.check(m.qos == QoS::at_most_once && !m.dup, "expected QoS 0 with DUP 0");
             ctx.check(m.topic == t, "delivered on topic '" + m.topic + "'");
             ctx.check(text(m.payload) == "zero", "the payload changed");
           });

  add_case(out, "4.3", "publish.qos1",
           "QoS 1: PUBACK with the PUBLISH's packet id; delivery at QoS 1",
           {"MQTT-2.3.1-6", "MQTT-3.3.4-1", "MQTT-4.3.2-1", "MQTT-4.3.2-2"},
           // The PUBACK's Reason Code is checked against the PUBACK table
           // as every packet from the broker is decoded.
           {"MQTT-2.2.1-5", "MQTT-3.3.4-1", "MQTT-4.3.2-2", "MQTT-4.3.2-4", "MQTT-2.2.1-4",
            "MQTT-3.4.2-1"},
           [](Context& ctx) {
             need_qos(ctx, QoS::at_least_once);
             const std::string t = ctx.topic("q1");
             auto [sub, pub] = pair(ctx, t, QoS::at_least_once);
             pub.publish(
                 message(t, "one", QoS::at_least_once, 0x1234));  // checks the PUBACK's packet id
             const Publish m = sub.expect_publish("a QoS 1 message");
             ctx.check(m.qos == QoS::at_least_once, "expected QoS 1, got " + qos_name(m.qos));
             ctx.check(m.packet_id != 0 && !m.dup, "expected a non-zero packet id and DUP 0");
           });

  add_case(out, "4.3", "publish.qos2", "QoS 2: PUBREC, PUBREL, PUBCOMP with matching packet ids",
           {"MQTT-2.3.1-6", "MQTT-4.3.3-1", "MQTT-4.3.3-2"},
           {"MQTT-2.2.1-5", "MQTT-4.3.3-2", "MQTT-4.3.3-8", "MQTT-4.3.3-11", "MQTT-3.5.2-1",
            "MQTT-3.6.2-1", "MQTT-3.7.2-1"},
           [](Context& ctx) {
             need_qos(ctx, QoS::exactly_once);
             const std::string t = ctx.topic("q2");
             auto [sub, pub] = pair(ctx, t, QoS::exactly_once);
             pub.publish(t, "two", QoS::exactly_once);
             const Publish m = sub.expect_publish("a QoS 2 message");
             ctx.check(m.qos == QoS::exactly_once, "expected QoS 2, got " + qos_name(m.qos));
             sub.expect_no_publish("exactly one copy");
           });

  add_case(out, "4.3", "publish.qos2-duplicate",
           "a QoS 2 PUBLISH resent before PUBREL is not delivered twice", {"MQTT-4.3.3-2"},
           {"MQTT-4.3.3-10"}, [](Context& ctx) {
             need_qos(ctx, QoS::exactly_once);
             const std::string t = ctx.topic("dup");
             auto [sub, pub] = pair(ctx, t, QoS::exactly_once);
             Publish p = message(t, "once", QoS::exactly_once, 7);
             pub.send(p);
             ctx.check(pub.expect<Pubrec>("QoS 2 PUBLISH").packet_id == 7, "PUBREC id");
             p.dup = true;
             pub.send(p);
             ctx.check(pub.expect<Pubrec>("the same PUBLISH again, DUP 1").packet_id == 7,
                       "PUBREC id");
             pub.send(Pubrel{7, ReasonCode::success, {}, AckLayout::shortest});
             ctx.check(pub.expect<Pubcomp>("PUBREL").packet_id == 7, "PUBCOMP id");
             sub.expect_publish("the message");
             sub.expect_no_publish("a second copy of a QoS 2 message");
           });

  add_case(out, "2.3", "publish.ids-unused",
           "the broker's unacknowledged QoS 1 PUBLISH packets carry distinct packet ids",
           {"MQTT-2.3.1-4"}, {"MQTT-2.2.1-4"}, [](Context& ctx) {
             need_qos(ctx, QoS::at_least_once);
             const std::string t = ctx.topic("ids");
             auto [sub, pub] = pair(ctx, t, QoS::at_least_once);
             for (int i = 0; i < 5; ++i)
               pub.publish(t, std::to_string(i), QoS::at_least_once);
             std::vector<Publish> held;
             std::set<std::uint16_t> ids;
             for (int i = 0; i < 5; ++i) {
               held.push_back(sub.expect_publish("message " + std::to_string(i), false));
               ctx.check(held.back().packet_id != 0, "a QoS 1 PUBLISH with packet id 0");
               ctx.check(ids.insert(held.back().packet_id).second,
                         "packet id " + std::to_string(held.back().packet_id) +
                             " is already in use by an unacknowledged PUBLISH");
             }
             for (const Publish& m : held)
               sub.ack(m);
           });

  add_case(out, "4.3", "publish.qos1-id-reuse",
           "after PUBACK the same packet id carries a new message", {"MQTT-4.3.2-2"},
           {"MQTT-4.3.2-5"}, [](Context& ctx) {
             need_qos(ctx, QoS::at_least_once);
             const std::string t = ctx.topic("reuse");
             auto [sub, pub] = pair(ctx, t, QoS::at_least_once);
             for (const char* body : {"first", "second"}) {
               pub.publish(message(t, body, QoS::at_least_once, 9));
               ctx.check(text(sub.expect_publish(body).payload) == body, "wrong message");
             }
           });

  add_case(out, "3.8", "publish.downgrade", "delivery QoS is the lower of published and granted",
           {"MQTT-3.8.4-6"}, {"MQTT-3.8.4-8"}, [](Context& ctx) {
             need_qos(ctx, QoS::exactly_once);
             const std::string lo = ctx.topic("lo");
             const std::string hi = ctx.topic("hi");
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(lo, QoS::at_most_once);
             sub.subscribe(hi, QoS::exactly_once);
             Peer& pub = connected(ctx, "publisher");
             pub.publish(lo, "qos2 to a qos0 subscription", QoS::exactly_once);
             Publish m = sub.expect_publish("QoS 2 message, QoS 0 subscription");
             ctx.check(m.qos == QoS::at_most_once, "expected QoS 0, got " + qos_name(m.qos));
             pub.publish(hi, "qos1 to a qos2 subscription", QoS::at_least_once);
             m = sub.expect_publish("QoS 1 message, QoS 2 subscription");
             ctx.check(m.qos == QoS::at_least_once, "expected QoS 1, got " + qos_name(m.qos));
           });

  add_case(out, "4.6", "publish.ordering",
           "messages from one client on one topic arrive in the order sent",
           {"MQTT-4.6.0-5", "MQTT-4.6.0-6"}, {"MQTT-4.6.0-5", "MQTT-4.6.0-6"}, [](Context& ctx) {
             const QoS q = offered(ctx, QoS::at_least_once);
             const std::string t = ctx.topic("order");
             auto [sub, pub] = pair(ctx, t, q);
             constexpr int n = 20;
             for (int i = 0; i < n; ++i) {
               const auto id = static_cast<std::uint16_t>(q == QoS::at_most_once ? 0 : 100 + i);
               pub.send(message(t, std::to_string(i), q, id));
             }
             for (int i = 0; i < n; ++i) {
               const Publish m = sub.expect_publish("message " + std::to_string(i));
               ctx.check(text(m.payload) == std::to_string(i),
                         "expected message " + std::to_string(i) + ", got " + text(m.payload));
             }
           });

  add_case(out, "3.3", "publish.wildcard-topic", "a Topic Name with a wildcard is refused",
           {"MQTT-3.3.2-2", "MQTT-4.7.1-1"}, {"MQTT-3.3.2-2", "MQTT-4.7.0-1"}, [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             FrameBuilder f(PacketType::publish, 0);
             f.string(ctx.topic("+"));
             if (ctx.v5()) f.vbi(0);
             p.send_raw(f.build(), "PUBLISH to a topic with '+'");
             p.expect_close_with("wildcard in a Topic Name",
                                 {ReasonCode::topic_name_invalid, ReasonCode::malformed_packet,
                                  ReasonCode::protocol_error});
           });

  add_case(out, "3.3", "publish.qos3", "a PUBLISH with both QoS bits set is malformed",
           {"MQTT-3.3.1-4"}, {"MQTT-3.3.1-4"}, [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             FrameBuilder f(PacketType::publish, 0x06);
             f.string(ctx.topic("q3")).u16(1);
             if (ctx.v5()) f.vbi(0);
             p.send_raw(f.build(), "PUBLISH with QoS 3");
             p.expect_close_with("QoS 3", {ReasonCode::malformed_packet});
           });

  add_case(out, "3.3", "retain.stored",
           "a retained message goes to new subscribers with RETAIN 1, and is replaced",
           {"MQTT-3.3.1-5", "MQTT-3.3.1-6", "MQTT-3.3.1-8"}, {"MQTT-3.3.1-5", "MQTT-3.3.1-9"},
           [](Context& ctx) {
             ctx.need(ctx.caps.retain_available, "the broker does not offer retained messages");
             const QoS q = offered(ctx, QoS::at_least_once);
             const std::string t = ctx.topic("retained");
             ctx.clear_retained_later(t);
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "old", q, true);
             pub.publish(t, "new", q, true);
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(t, q);
             const Publish m = sub.expect_publish("the retained message");
             ctx.check(m.retain, "RETAIN must be 1 on a message sent for a new subscription");
             ctx.check(text(m.payload) == "new",
                       "expected the latest retained message, got '" + text(m.payload) + "'");
             ctx.check(m.qos == q, "stored QoS " + qos_name(q) + ", delivered " + qos_name(m.qos));
             sub.expect_no_publish("only the latest retained message");
           });

  add_case(out, "3.3", "retain.clear",
           "a retained PUBLISH with an empty payload removes the retained message",
           {"MQTT-3.3.1-10", "MQTT-3.3.1-11"}, {"MQTT-3.3.1-6", "MQTT-3.3.1-7"}, [](Context& ctx) {
             ctx.need(ctx.caps.retain_available, "the broker does not offer retained messages");
             const std::string t = ctx.topic("cleared");
             ctx.clear_retained_later(t);
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "soon gone", offered(ctx, QoS::at_least_once), true);
             pub.publish(t, "", offered(ctx, QoS::at_least_once), true);
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(t, QoS::at_most_once);
             sub.expect_no_publish("no retained message after clearing");
           });

  add_case(out, "3.3", "retain.live-flag",
           "a retained PUBLISH forwarded to an existing subscription has RETAIN 0",
           {"MQTT-3.3.1-9"}, {"MQTT-3.3.1-12"}, [](Context& ctx) {
             ctx.need(ctx.caps.retain_available, "the broker does not offer retained messages");
             const std::string t = ctx.topic("live");
             ctx.clear_retained_later(t);
             auto [sub, pub] = pair(ctx, t, QoS::at_most_once);
             pub.publish(t, "live", QoS::at_most_once, true);
             const Publish m = sub.expect_publish("a retained message, live");
             ctx.check(!m.retain, "RETAIN must be 0 on live forwarding");
           });

  add_case(out, "3.3", "retain.not-replaced",
           "a PUBLISH with RETAIN 0 leaves the retained message alone", {"MQTT-3.3.1-12"},
           {"MQTT-3.3.1-8"}, [](Context& ctx) {
             ctx.need(ctx.caps.retain_available, "the broker does not offer retained messages");
             const std::string t = ctx.topic("kept");
             ctx.clear_retained_later(t);
             Peer& pub = connected(ctx, "publisher");
             const QoS q = offered(ctx, QoS::at_least_once);
             pub.publish(t, "retained", q, true);
             pub.publish(t, "not retained", q, false);
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(t, q);
             const Publish m = sub.expect_publish("the retained message");
             ctx.check(text(m.payload) == "retained",
                       "got '" + text(m.payload) + "': a non-retained PUBLISH replaced it");
           });
}

}  // namespace assay::conformance
