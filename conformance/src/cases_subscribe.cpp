// §3.8 SUBSCRIBE, §3.10 UNSUBSCRIBE, §4.7 topic matching.
#include "cases.hpp"

namespace assay::conformance {

using namespace detail;

void cases::subscribe(std::vector<Case>& out) {
  add_case(out, "3.8", "subscribe.suback",
           "SUBACK: same packet id, one code per filter, in order, granting at most the request",
           {"MQTT-3.8.4-1", "MQTT-3.8.4-2", "MQTT-3.8.4-4", "MQTT-3.8.4-5", "MQTT-3.9.3-1",
            "MQTT-3.9.3-2", "MQTT-2.3.1-7"},
           {"MQTT-2.2.1-6", "MQTT-3.8.4-1", "MQTT-3.8.4-2", "MQTT-3.8.4-5", "MQTT-3.8.4-6",
            "MQTT-3.8.4-7", "MQTT-3.9.3-1", "MQTT-3.9.3-2"},
           [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             Subscribe s;
             s.packet_id = 0x0A0B;
             for (const char* leaf : {"s2", "s0", "s1"}) {
               const QoS q = static_cast<QoS>(leaf[1] - '0');
               s.subscriptions.push_back({ctx.topic(leaf), {q, false, false, 0}});
             }
             p.send(s);
             const Suback ack = p.expect<Suback>("SUBSCRIBE with three filters");
             ctx.check(ack.packet_id == 0x0A0B, "SUBACK for another packet id");
             ctx.check(
                 ack.reason_codes.size() == 3,
                 "SUBACK has " + std::to_string(ack.reason_codes.size()) + " codes for 3 filters");
             for (std::size_t i = 0; i < 3; ++i) {
               const auto code = static_cast<unsigned>(ack.reason_codes[i]);
               const auto asked = static_cast<unsigned>(s.subscriptions[i].options.qos);
               ctx.check(code <= asked || code >= 0x80, "filter " + std::to_string(i) +
                                                            " asked QoS " + std::to_string(asked) +
                                                            ", granted " + std::to_string(code));
               ctx.check(code <= 2 || code == 0x80 || (ctx.v5() && code > 0x80),
                         "SUBACK code " + std::to_string(code) + " is not a SUBACK code");
             }
           });

  add_case(out, "3.8", "subscribe.replace",
           "subscribing to the same filter again replaces the subscription", {"MQTT-3.8.4-3"},
           {"MQTT-3.8.4-3"}, [](Context& ctx) {
             need_qos(ctx, QoS::at_least_once);
             const std::string t = ctx.topic("replace");
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(t, QoS::at_least_once);
             sub.subscribe(t, QoS::at_most_once);
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "m", QoS::at_least_once);
             const Publish m = sub.expect_publish("the message");
             ctx.check(m.qos == QoS::at_most_once, "delivered at " + qos_name(m.qos) +
                                                       ": the QoS 0 subscription must replace "
                                                       "the QoS 1 one");
             sub.expect_no_publish("one copy: the subscription was replaced, not added");
           });

  add_case(out, "3.8", "subscribe.reserved-flags", "SUBSCRIBE fixed header flags must be 0010",
           {"MQTT-3.8.1-1"}, {"MQTT-3.8.1-1"}, [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             FrameBuilder f(PacketType::subscribe, 0x00);
             f.u16(1);
             if (ctx.v5()) f.vbi(0);
             f.string(ctx.topic("x")).u8(0);
             p.send_raw(f.build(), "SUBSCRIBE with flags 0000");
             expect_malformed_close(p, "SUBSCRIBE flags");
           });

  add_case(out, "3.8", "subscribe.empty", "a SUBSCRIBE without filters is refused",
           {"MQTT-3.8.3-3"}, {"MQTT-3.8.3-2"}, [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             FrameBuilder f(PacketType::subscribe, 0x02);
             f.u16(1);
             if (ctx.v5()) f.vbi(0);
             p.send_raw(f.build(), "SUBSCRIBE with no filter");
             expect_malformed_close(p, "SUBSCRIBE without payload");
           });

  add_case(out, "3.8", "subscribe.reserved-option-bits",
           "reserved bits of the subscription options must be 0", {"MQTT-3-8.3-4"},
           {"MQTT-3.8.3-5"}, [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             FrameBuilder f(PacketType::subscribe, 0x02);
             f.u16(1);
             if (ctx.v5()) f.vbi(0);
             f.string(ctx.topic("x")).u8(0xC0);
             p.send_raw(f.build(), "SUBSCRIBE with options 0xC0");
             expect_malformed_close(p, "reserved subscription option bits");
           });

  add_case(out, "4.7", "subscribe.wildcards",
           "'+' matches one level, '#' any number of levels including the parent",
           {"MQTT-4.7.1-2", "MQTT-4.7.1-3", "MQTT-3.3.2-3"},
           {"MQTT-4.7.1-1", "MQTT-4.7.1-2", "MQTT-3.3.2-3"}, [](Context& ctx) {
             ctx.need(ctx.caps.wildcard_available, "the broker does not offer wildcards");
             Peer& plus = connected(ctx, "plus");
             plus.subscribe(ctx.topic("w/+/c"), QoS::at_most_once);
             Peer& hash = connected(ctx, "hash");
             hash.subscribe(ctx.topic("w/#"), QoS::at_most_once);
             Peer& pub = connected(ctx, "publisher");
             for (const char* leaf : {"w/b/c", "w/b/c/d", "w", "w/", "x/b/c"}) {
               pub.publish(ctx.topic(leaf), leaf, QoS::at_most_once);
             }
             // Both subscribers get exactly what matches, in order.
             auto expect = [&](Peer& p, std::initializer_list<const char*> leaves) {
               for (const char* leaf : leaves) {
                 const Publish m = p.expect_publish(std::string("a message on ") + leaf);
                 ctx.check(m.topic == ctx.topic(leaf),
                           p.name() + " expected topic " + ctx.topic(leaf) + ", got " + m.topic);
               }
               p.expect_no_publish(p.name() + ": nothing else matches");
             };
             expect(plus, {"w/b/c"});
             expect(hash, {"w/b/c", "w/b/c/d", "w", "w/"});
           });

  add_case(out, "4.7", "subscribe.dollar-topics",
           "filters starting with a wildcard do not match topics starting with '$'",
           {"MQTT-4.7.2-1"}, {"MQTT-4.7.2-1"}, [](Context& ctx) {
             ctx.need(ctx.caps.wildcard_available, "the broker does not offer wildcards");
             std::string t = ctx.topic("d");
             t.insert(t.begin(), '$');
             Peer& exact = connected(ctx, "exact");
             exact.subscribe(t, QoS::at_most_once);
             Peer& wild = connected(ctx, "wildcard");
             std::string filter = t.substr(t.find('/'));
             filter.insert(filter.begin(), '+');
             wild.subscribe(filter, QoS::at_most_once);
             Peer& pub = connected(ctx, "publisher");
             // At QoS 1, so that a 5.0 broker that keeps '$' topics to
             // itself can say so in its PUBACK: only then is the case not
             // applicable. 3.1.1 has no way to refuse, so there a PUBLISH
             // dropped silently counts as refused.
             const ReasonCode rc = pub.publish(t, "dollar", QoS::at_least_once);
             ctx.need(!is_error(rc), "the broker refused a client PUBLISH to a '$' topic (PUBACK " +
                                         std::to_string(static_cast<unsigned>(rc)) + ")");
             const Peer::Arrival a = exact.next(ctx.options.timeout);
             const bool delivered = a.kind == Peer::Arrival::Kind::packet;
             if (ctx.v5()) {
               ctx.check(delivered,
                         "the broker took the PUBLISH to a '$' topic but did not deliver it to "
                         "the subscription that names the topic");
             } else {
               ctx.need(delivered, "the broker does not route client PUBLISHes to '$' topics");
             }
             wild.expect_no_publish("'+/...' must not match a '$' topic");
           });

  add_case(out, "3.3", "subscribe.overlapping",
           "overlapping subscriptions deliver at the highest granted QoS", {"MQTT-3.3.5-1"},
           {"MQTT-3.3.4-2"}, [](Context& ctx) {
             ctx.need(ctx.caps.wildcard_available, "the broker does not offer wildcards");
             need_qos(ctx, QoS::exactly_once);
             const std::string t = ctx.topic("o/x");
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(ctx.topic("o/#"), QoS::at_most_once);
             sub.subscribe(t, QoS::exactly_once);
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "overlap", QoS::exactly_once);
             // 3.1.1 and 5.0 allow one copy per subscription or a single one;
             // either way one copy must come at the higher QoS.
             bool highest = false;
             for (int copies = 0;; ++copies) {
               ctx.check(copies < 4, "more copies than matching subscriptions");
               const Peer::Arrival a = sub.next(ctx.options.quiet);
               if (a.kind != Peer::Arrival::Kind::packet) break;
               const auto* m = std::get_if<Publish>(&a.packet);
               ctx.check(m != nullptr, "expected PUBLISH, got " + describe(a.packet, ctx.version));
               sub.ack(*m);
               highest = highest || m->qos == QoS::exactly_once;
             }
             ctx.check(highest, "no copy was delivered at QoS 2");
           });

  add_case(out, "3.10", "unsubscribe.unsuback",
           "UNSUBACK with the same packet id, even when nothing was subscribed",
           {"MQTT-3.10.4-4", "MQTT-3.10.4-5"}, {"MQTT-3.10.4-4", "MQTT-3.10.4-5", "MQTT-2.2.1-6"},
           [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             p.send(Unsubscribe{0x0C0D, {}, {ctx.topic("never")}});
             const Unsuback ack = p.expect<Unsuback>("UNSUBSCRIBE");
             ctx.check(ack.packet_id == 0x0C0D, "UNSUBACK for another packet id");
             if (ctx.v5()) {
               ctx.check(ack.reason_codes.size() == 1, "UNSUBACK needs one reason code");
               ctx.check(ack.reason_codes[0] == ReasonCode::no_subscription_existed ||
                             ack.reason_codes[0] == ReasonCode::success,
                         "expected 0x11 (No subscription existed) or 0x00");
             }
           });

  add_case(out, "3.10", "unsubscribe.several",
           "an UNSUBSCRIBE with several filters: one UNSUBACK, one code per filter in order",
           {"MQTT-3.10.4-6"}, {"MQTT-3.10.4-6", "MQTT-3.11.3-1", "MQTT-3.11.3-2"},
           [](Context& ctx) {
             const std::string kept = ctx.topic("kept");
             Peer& p = connected(ctx, "client");
             p.subscribe(ctx.topic("u1"), QoS::at_most_once);
             p.subscribe(kept, QoS::at_most_once);
             p.send(Unsubscribe{7, {}, {ctx.topic("never"), ctx.topic("u1")}});
             const Unsuback ack = p.expect<Unsuback>("UNSUBSCRIBE with two filters");
             ctx.check(ack.packet_id == 7, "UNSUBACK for another packet id");
             if (ctx.v5()) {
               ctx.check(ack.reason_codes.size() == 2, "UNSUBACK needs one code per filter");
               ctx.check(ack.reason_codes[1] == ReasonCode::success,
                         "the second filter was subscribed: expected 0x00 in second place");
               ctx.check(ack.reason_codes[0] == ReasonCode::no_subscription_existed ||
                             ack.reason_codes[0] == ReasonCode::success,
                         "expected 0x11 or 0x00 in first place");
             }
             p.expect_nothing("one UNSUBACK for the whole packet");
             Peer& pub = connected(ctx, "publisher");
             pub.publish(ctx.topic("u1"), "gone", QoS::at_most_once);
             pub.publish(kept, "kept", QoS::at_most_once);
             ctx.check(text(p.expect_publish("the subscription not named").payload) == "kept",
                       "only the unnamed subscription may deliver");
           });

  add_case(out, "4.7", "topic.no-normalisation",
           "topics and filters are matched as written: empty levels count, nothing is normalised",
           {"MQTT-4.7.3-4"}, {"MQTT-4.7.3-4"}, [](Context& ctx) {
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(ctx.topic("a//b"), QoS::at_most_once);
             sub.subscribe(ctx.topic("c/"), QoS::at_most_once);
             Peer& pub = connected(ctx, "publisher");
             for (const char* leaf : {"a/b", "c", "a//b", "c/"}) {
               pub.publish(ctx.topic(leaf), leaf, QoS::at_most_once);
             }
             for (const char* leaf : {"a//b", "c/"}) {
               const Publish m = sub.expect_publish(std::string("the message on ") + leaf);
               ctx.check(m.topic == ctx.topic(leaf),
                         "expected topic " + ctx.topic(leaf) + ", got " + m.topic);
             }
             sub.expect_no_publish("'a/b' and 'c' match neither 'a//b' nor 'c/'");
           });

  add_case(out, "1.5", "topic.bom-kept",
           "U+FEFF in a topic is a character like any other: not stripped", {"MQTT-1.5.3-3"},
           {"MQTT-1.5.4-3"}, [](Context& ctx) {
             const std::string t = ctx.topic(
                 "\xEF\xBB\xBF"
                 "bom");
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(t, QoS::at_most_once);
             Peer& pub = connected(ctx, "publisher");
             pub.publish(ctx.topic("bom"), "without", QoS::at_most_once);
             pub.publish(t, "with", QoS::at_most_once);
             const Publish m = sub.expect_publish("the message on the topic with U+FEFF");
             ctx.check(m.topic == t && text(m.payload) == "with",
                       "the U+FEFF was stripped from the topic");
             sub.expect_no_publish("the topic without U+FEFF is another topic");
           });

  add_case(out, "3.10", "unsubscribe.stops", "after UNSUBACK no new messages are delivered",
           {"MQTT-3.10.4-2", "MQTT-3.10.4-1"}, {"MQTT-3.10.4-2", "MQTT-3.10.4-1"},
           [](Context& ctx) {
             const std::string t = ctx.topic("u");
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(t, QoS::at_most_once);
             sub.unsubscribe(t);
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "after", QoS::at_most_once);
             sub.expect_no_publish("unsubscribed");
           });

  add_case(out, "3.10", "unsubscribe.reserved-flags", "UNSUBSCRIBE fixed header flags must be 0010",
           {"MQTT-3.10.1-1"}, {"MQTT-3.10.1-1"}, [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             FrameBuilder f(PacketType::unsubscribe, 0x00);
             f.u16(1);
             if (ctx.v5()) f.vbi(0);
             f.string(ctx.topic("x"));
             p.send_raw(f.build(), "UNSUBSCRIBE with flags 0000");
             expect_malformed_close(p, "UNSUBSCRIBE flags");
           });

  add_case(out, "3.10", "unsubscribe.empty", "an UNSUBSCRIBE without filters is refused",
           {"MQTT-3.10.3-2"}, {"MQTT-3.10.3-2"}, [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             FrameBuilder f(PacketType::unsubscribe, 0x02);
             f.u16(1);
             if (ctx.v5()) f.vbi(0);
             p.send_raw(f.build(), "UNSUBSCRIBE with no filter");
             expect_malformed_close(p, "UNSUBSCRIBE without payload");
           });
}

}  // namespace assay::conformance
