// MQTT 5.0 features: topic aliases, flow control, maximum packet size,
// message expiry, forwarded properties, subscription options, shared
// subscriptions, request/response.
#include "cases.hpp"

namespace assay::conformance {

using namespace detail;

namespace {

// One QoS 1 message to a shared subscription of two members: the member it
// went to (not acknowledged yet) and the other.
struct SharedDelivery {
  Peer* got = nullptr;
  Peer* other = nullptr;
  Publish message;
};

SharedDelivery deliver_to_shared(Context& ctx, const std::string& leaf,
                                 const std::string& payload) {
  ctx.need(ctx.caps.shared_available, "the broker does not offer shared subscriptions");
  need_qos(ctx, QoS::at_least_once);
  const std::string t = ctx.topic(leaf);
  const std::string filter = "$share/" + ctx.client_id() + "/" + t;
  // Session Expiry Interval 0: each member's session ends with its connection.
  Peer& a = connected(ctx, "member-a");
  a.subscribe(filter, QoS::at_least_once);
  Peer& b = connected(ctx, "member-b");
  b.subscribe(filter, QoS::at_least_once);
  Peer& pub = connected(ctx, "publisher");
  pub.publish(t, payload, QoS::at_least_once);
  for (auto [p, o] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
    const Peer::Arrival r = p->next(p == &a ? ctx.options.timeout : ctx.options.quiet);
    if (r.kind != Peer::Arrival::Kind::packet) continue;
    const auto* m = std::get_if<Publish>(&r.packet);
    ctx.check(m != nullptr, "expected PUBLISH");
    return {p, o, *m};
  }
  ctx.fail("no member got the message");
}

}  // namespace

void cases::v5_features(std::vector<Case>& out) {
  add_case(out, "3.3", "v5.topic-alias", "the server accepts Topic Aliases up to its maximum", {},
           {"MQTT-3.3.2-12"}, [](Context& ctx) {
             ctx.need(ctx.caps.topic_alias_maximum > 0, "the broker offers no Topic Aliases");
             const std::string t = ctx.topic("alias");
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(t, QoS::at_most_once);
             Peer& pub = connected(ctx, "publisher");
             Publish p = message(t, "set");
             p.properties.add(PropertyId::topic_alias, std::uint32_t{ctx.caps.topic_alias_maximum});
             pub.publish(p);
             p.topic.clear();
             p.payload = text("used");
             pub.publish(p);
             for (const char* body : {"set", "used"}) {
               const Publish m = sub.expect_publish(std::string("the message '") + body + "'");
               ctx.check(m.topic == t || m.properties.contains(PropertyId::topic_alias),
                         "delivered without its topic");
               ctx.check(text(m.payload) == body, "wrong payload");
             }
           });

  add_case(out, "3.3", "v5.topic-alias-invalid",
           "a Topic Alias of 0 or above the maximum is a protocol error (0x94)", {},
           {"MQTT-3.3.2-8", "MQTT-3.3.2-9", "MQTT-3.2.2-17"}, [](Context& ctx) {
             for (std::uint32_t alias :
                  {0u, static_cast<std::uint32_t>(ctx.caps.topic_alias_maximum) + 1}) {
               Peer& p = connected(ctx, "alias" + std::to_string(alias));
               FrameBuilder f(PacketType::publish, 0);
               f.string(ctx.topic("bad-alias"));
               Properties props;
               props.add(PropertyId::topic_alias, alias);
               f.properties(props);
               p.send_raw(f.build(), "PUBLISH with Topic Alias " + std::to_string(alias));
               p.expect_close_with("Topic Alias " + std::to_string(alias),
                                   {ReasonCode::topic_alias_invalid, ReasonCode::protocol_error,
                                    ReasonCode::malformed_packet});
             }
           });

  add_case(out, "3.3", "v5.topic-alias-per-connection",
           "Topic Alias mappings do not carry over to a new connection", {}, {"MQTT-3.3.2-7"},
           [](Context& ctx) {
             ctx.need(ctx.caps.topic_alias_maximum > 0, "the broker offers no Topic Aliases");
             const std::string id = ctx.client_id();
             Peer& a = ctx.peer("first");
             a.connect_ok(ctx.connect_packet(id));
             Publish p = message(ctx.topic("alias"), "set");
             p.properties.add(PropertyId::topic_alias, 1u);
             a.publish(p);
             a.disconnect();
             Peer& b = ctx.peer("second");
             b.connect_ok(ctx.connect_packet(id));
             p.topic.clear();
             b.send(p);
             b.expect_close_with("an alias from the previous connection",
                                 {ReasonCode::protocol_error, ReasonCode::topic_alias_invalid});
           });

  add_case(out, "3.1", "v5.no-topic-alias-to-client",
           "the server sends no Topic Alias to a client that allowed none, and none above the "
           "client's maximum",
           {}, {"MQTT-3.1.2-26", "MQTT-3.1.2-27", "MQTT-3.3.2-11"}, [](Context& ctx) {
             const std::string t = ctx.topic("aliases");
             Peer& none = connected(ctx, "no-aliases");
             none.subscribe(t, QoS::at_most_once);
             Peer& one = ctx.peer("one-alias");
             Connect c = ctx.connect_packet(ctx.client_id());
             c.properties.add(PropertyId::topic_alias_maximum, 1u);
             one.connect_ok(c);
             one.subscribe(t, QoS::at_most_once);
             Peer& pub = connected(ctx, "publisher");
             for (int i = 0; i < 3; ++i)
               pub.publish(t, std::to_string(i), QoS::at_most_once);
             for (int i = 0; i < 3; ++i) {
               const Publish m = none.expect_publish("message " + std::to_string(i));
               ctx.check(!m.properties.contains(PropertyId::topic_alias),
                         "a Topic Alias was sent to a client with Topic Alias Maximum 0");
               const Publish n = one.expect_publish("message " + std::to_string(i));
               const auto alias = n.properties.integer(PropertyId::topic_alias);
               ctx.check(!alias || *alias == 1, "Topic Alias " + std::to_string(alias.value_or(0)) +
                                                    " sent to a client with Topic Alias Maximum 1");
             }
           });

  add_case(
      out, "3.3", "v5.receive-maximum",
      "the server keeps at most the client's Receive Maximum of QoS 1/2 messages unacknowledged",
      {}, {"MQTT-3.3.4-9", "MQTT-4.9.0-1", "MQTT-4.9.0-2", "MQTT-4.9.0-3", "MQTT-3.3.4-10"},
      [](Context& ctx) {
        need_qos(ctx, QoS::at_least_once);
        const std::string t = ctx.topic("flow");
        Peer& sub = ctx.peer("subscriber");
        Connect c = ctx.connect_packet(ctx.client_id());
        c.properties.add(PropertyId::receive_maximum, 2u);
        sub.connect_ok(c);
        sub.subscribe(t, QoS::at_least_once);
        Peer& pub = connected(ctx, "publisher");
        for (int i = 0; i < 5; ++i)
          pub.publish(t, std::to_string(i), QoS::at_least_once);
        std::vector<Publish> held;
        held.push_back(sub.expect_publish("message 0", false));
        held.push_back(sub.expect_publish("message 1", false));
        // Other packets still flow while the quota is used up.
        sub.send(Pingreq{});
        sub.expect<Pingresp>("PINGREQ with the send quota at zero [MQTT-4.9.0-3]");
        sub.expect_no_publish("a third message with Receive Maximum 2 and none acknowledged");
        for (int next = 2; next < 5; ++next) {
          sub.ack(held.front());
          held.erase(held.begin());
          held.push_back(sub.expect_publish("message " + std::to_string(next), false));
          ctx.check(text(held.back().payload) == std::to_string(next), "out of order");
        }
        for (const Publish& m : held)
          sub.ack(m);
      });

  add_case(out, "3.1", "v5.maximum-packet-size",
           "the server does not send packets above the client's Maximum Packet Size", {},
           {"MQTT-3.1.2-24", "MQTT-3.1.2-25"}, [](Context& ctx) {
             const std::string t = ctx.topic("big");
             Peer& sub = ctx.peer("subscriber");
             Connect c = ctx.connect_packet(ctx.client_id());
             c.properties.add(PropertyId::maximum_packet_size, 128u);
             sub.connect_ok(c);
             sub.subscribe(t, QoS::at_most_once);
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, std::string(200, 'x'), QoS::at_most_once);
             pub.publish(t, "small", QoS::at_most_once);
             const Publish m = sub.expect_publish("the small message (the large one is dropped)");
             ctx.check(text(m.payload) == "small", "a packet above 128 bytes was sent");
           });

  add_case(
      out, "3.3", "v5.properties-forwarded",
      "Payload Format Indicator, Content Type, Response Topic, Correlation Data and User "
      "Properties are forwarded unaltered, in order",
      {},
      {"MQTT-3.3.2-4", "MQTT-3.3.2-15", "MQTT-3.3.2-16", "MQTT-3.3.2-17", "MQTT-3.3.2-18",
       "MQTT-3.3.2-20"},
      [](Context& ctx) {
        const std::string t = ctx.topic("props");
        Peer& sub = connected(ctx, "subscriber");
        sub.subscribe(t, QoS::at_most_once);
        Peer& pub = connected(ctx, "publisher");
        Publish p = message(t, "{}");
        p.properties.add(PropertyId::payload_format_indicator, 1u);
        p.properties.add(PropertyId::content_type, std::string("application/json"));
        p.properties.add(PropertyId::response_topic, ctx.topic("reply"));
        p.properties.add(PropertyId::correlation_data, Bytes{0, 1, 2, 0xFF});
        p.properties.add(PropertyId::user_property, StringPair{"b", "2"});
        p.properties.add(PropertyId::user_property, StringPair{"a", "1"});
        p.properties.add(PropertyId::user_property, StringPair{"b", "3"});
        pub.publish(p);
        const Publish m = sub.expect_publish("the message with properties");
        ctx.check(m.properties.integer(PropertyId::payload_format_indicator) == 1u,
                  "Payload Format Indicator lost [MQTT-3.3.2-4]");
        const std::string* ct = m.properties.string(PropertyId::content_type);
        ctx.check(ct && *ct == "application/json", "Content Type changed [MQTT-3.3.2-20]");
        const std::string* rt = m.properties.string(PropertyId::response_topic);
        ctx.check(rt && *rt == ctx.topic("reply"), "Response Topic changed [MQTT-3.3.2-15]");
        const Bytes* cd = m.properties.binary(PropertyId::correlation_data);
        ctx.check(cd && *cd == Bytes{0, 1, 2, 0xFF}, "Correlation Data changed [MQTT-3.3.2-16]");
        ctx.check(m.properties.user_properties() ==
                      std::vector<StringPair>{{"b", "2"}, {"a", "1"}, {"b", "3"}},
                  "User Properties changed or reordered [MQTT-3.3.2-17/18]");
      });

  add_case(out, "3.3", "v5.message-expiry",
           "Message Expiry: the remaining interval is forwarded; an expired message is not "
           "delivered",
           {}, {"MQTT-3.3.2-5", "MQTT-3.3.2-6"}, [](Context& ctx) {
             need_qos(ctx, QoS::at_least_once);
             const std::string t = ctx.topic("expiry");
             const std::string id = ctx.client_id();
             ctx.end_session_later(id);
             Peer& sub = ctx.peer("subscriber");
             sub.connect_ok(ctx.connect_packet(id, false, 60));
             sub.subscribe(t, QoS::at_least_once);
             Peer& pub = connected(ctx, "publisher");
             Publish live = message(t, "live", QoS::at_least_once);
             live.properties.add(PropertyId::message_expiry_interval, 100u);
             pub.publish(live);
             const Publish m = sub.expect_publish("a message with Message Expiry 100");
             const auto e = m.properties.integer(PropertyId::message_expiry_interval);
             ctx.check(e && *e <= 100 && *e >= 95,
                       "forwarded Message Expiry Interval " +
                           (e ? std::to_string(*e) : std::string("missing")) +
                           ", expected about 100 [MQTT-3.3.2-6]");
             // The publisher's messages may reach the broker before the
             // subscriber's DISCONNECT does (two connections): a message it
             // sent before it knew is in flight, and rightly resent with DUP
             // after its expiry [MQTT-3.3.2-5] binds only before onward
             // delivery starts. Then the case tries again, up to three times.
             Peer* subscriber = &sub;
             for (int attempt = 1;; ++attempt) {
               subscriber->disconnect();
               Publish soon = message(t, "expires", QoS::at_least_once);
               soon.properties.add(PropertyId::message_expiry_interval, 1u);
               pub.publish(soon);
               Publish later = message(t, "lasts", QoS::at_least_once);
               later.properties.add(PropertyId::message_expiry_interval, 60u);
               pub.publish(later);
               ctx.sleep(std::chrono::milliseconds(2200));
               Peer& back = ctx.peer("subscriber" + std::to_string(attempt + 1));
               ctx.check(back.connect_ok(ctx.connect_packet(id, false, 60)).session_present,
                         "Session Present must be 1");
               const Publish q = back.expect_publish("the queued message that has not expired");
               if (text(q.payload) == "expires" && q.dup && attempt < 3) {
                 back.expect_publish("the message that lasts");
                 subscriber = &back;
                 continue;
               }
               ctx.check(text(q.payload) == "lasts", "got '" + text(q.payload) +
                                                         "': a message whose expiry passed while "
                                                         "queued was delivered [MQTT-3.3.2-5]");
               const auto left = q.properties.integer(PropertyId::message_expiry_interval);
               ctx.check(left && *left <= 58,
                         "after 2 s queued, Message Expiry Interval " +
                             (left ? std::to_string(*left) : std::string("missing")) +
                             " must have been lowered from 60 [MQTT-3.3.2-6]");
               back.expect_no_publish("nothing else is queued");
               break;
             }
           });

  add_case(out, "3.8", "v5.no-local", "No Local: a client's own messages are not sent back to it",
           {}, {"MQTT-3.8.3-3"}, [](Context& ctx) {
             const std::string t = ctx.topic("nolocal");
             Peer& p = connected(ctx, "client");
             p.subscribe(t, SubscribeOptions{QoS::at_most_once, true, false, 0});
             Peer& other = connected(ctx, "other");
             other.subscribe(t, QoS::at_most_once);
             p.publish(t, "own", QoS::at_most_once);
             other.expect_publish("the message, on another connection");
             p.expect_no_publish("No Local subscription, own message");
           });

  add_case(out, "3.8", "v5.retain-as-published",
           "Retain As Published keeps the RETAIN flag on live forwarding", {}, {"MQTT-3.3.1-13"},
           [](Context& ctx) {
             ctx.need(ctx.caps.retain_available, "the broker does not offer retained messages");
             const std::string t = ctx.topic("rap");
             ctx.clear_retained_later(t);
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(t, SubscribeOptions{QoS::at_most_once, false, true, 0});
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "retained", QoS::at_most_once, true);
             pub.publish(t, "plain", QoS::at_most_once, false);
             ctx.check(sub.expect_publish("retained, live").retain,
                       "RETAIN must stay 1 with Retain As Published");
             ctx.check(!sub.expect_publish("not retained, live").retain,
                       "RETAIN must stay 0 with Retain As Published");
           });

  add_case(out, "3.8", "v5.retain-handling", "Retain Handling 0, 1 and 2", {},
           {"MQTT-3.3.1-9", "MQTT-3.3.1-10", "MQTT-3.3.1-11", "MQTT-3.8.4-4"}, [](Context& ctx) {
             ctx.need(ctx.caps.retain_available, "the broker does not offer retained messages");
             const std::string t = ctx.topic("rh");
             ctx.clear_retained_later(t);
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "kept", QoS::at_most_once, true);
             Peer& s = connected(ctx, "subscriber");
             s.subscribe(t, SubscribeOptions{QoS::at_most_once, false, false, 2});
             s.expect_no_publish("Retain Handling 2 sends no retained message");
             s.subscribe(t, SubscribeOptions{QoS::at_most_once, false, false, 1});
             s.expect_no_publish("Retain Handling 1 on an existing subscription");
             Peer& n = connected(ctx, "new");
             n.subscribe(t, SubscribeOptions{QoS::at_most_once, false, false, 1});
             ctx.check(n.expect_publish("Retain Handling 1, new subscription").retain,
                       "RETAIN must be 1");
             s.subscribe(t, SubscribeOptions{QoS::at_most_once, false, false, 0});
             ctx.check(s.expect_publish("Retain Handling 0 on an existing subscription").retain,
                       "RETAIN must be 1");
           });

  add_case(out, "3.3", "v5.subscription-identifier",
           "Subscription Identifiers come back with the messages they matched", {},
           {"MQTT-3.3.4-3", "MQTT-3.3.4-4", "MQTT-3.3.4-5"}, [](Context& ctx) {
             ctx.need(ctx.caps.subscription_ids_available,
                      "the broker does not offer Subscription Identifiers");
             ctx.need(ctx.caps.wildcard_available, "the broker does not offer wildcards");
             const std::string t = ctx.topic("sid/x");
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(t, SubscribeOptions{}, {{PropertyId::subscription_identifier, 7u}});
             sub.subscribe(ctx.topic("sid/+"), SubscribeOptions{},
                           {{PropertyId::subscription_identifier, 300u}});
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "m", QoS::at_most_once);
             std::vector<std::uint32_t> seen;
             for (;;) {
               const Peer::Arrival a = sub.next(ctx.options.quiet);
               if (a.kind != Peer::Arrival::Kind::packet) break;
               const auto* m = std::get_if<Publish>(&a.packet);
               ctx.check(m != nullptr, "expected PUBLISH, got " + describe(a.packet, ctx.version));
               const auto ids = m->properties.subscription_identifiers();
               ctx.check(!ids.empty(), "a copy without Subscription Identifier");
               seen.insert(seen.end(), ids.begin(), ids.end());
             }
             std::sort(seen.begin(), seen.end());
             ctx.check(seen == std::vector<std::uint32_t>{7, 300},
                       "expected identifiers 7 and 300 across the copies");
           });

  add_case(out, "3.3", "v5.subscription-identifier-from-client",
           "a PUBLISH from a client must not carry a Subscription Identifier", {}, {"MQTT-3.3.4-6"},
           [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             FrameBuilder f(PacketType::publish, 0);
             f.string(ctx.topic("sid"));
             Properties props;
             props.add(PropertyId::subscription_identifier, 5u);
             f.properties(props);
             p.send_raw(f.build(), "PUBLISH with a Subscription Identifier");
             expect_malformed_close(p, "Subscription Identifier from a client");
           });

  add_case(out, "4.8", "v5.shared-subscription",
           "each message to a shared subscription goes to one member", {},
           {"MQTT-4.8.2-1", "MQTT-4.8.2-3"}, [](Context& ctx) {
             ctx.need(ctx.caps.shared_available, "the broker does not offer shared subscriptions");
             const std::string t = ctx.topic("shared");
             const std::string filter = "$share/" + ctx.client_id() + "/" + t;
             Peer& a = connected(ctx, "member-a");
             a.subscribe(filter, QoS::at_most_once);
             Peer& b = connected(ctx, "member-b");
             b.subscribe(filter, QoS::at_most_once);
             Peer& pub = connected(ctx, "publisher");
             constexpr int n = 10;
             for (int i = 0; i < n; ++i)
               pub.publish(t, std::to_string(i), QoS::at_most_once);
             std::vector<int> got(n, 0);
             for (Peer* p : {&a, &b}) {
               for (;;) {
                 const Peer::Arrival r = p->next(ctx.options.quiet);
                 if (r.kind != Peer::Arrival::Kind::packet) break;
                 const auto* m = std::get_if<Publish>(&r.packet);
                 ctx.check(m != nullptr, "expected PUBLISH");
                 ctx.check(m->qos == QoS::at_most_once, "granted QoS 0, delivered higher");
                 ++got.at(static_cast<std::size_t>(std::stoi(text(m->payload))));
               }
             }
             for (int i = 0; i < n; ++i) {
               ctx.check(got[static_cast<std::size_t>(i)] == 1,
                         "message " + std::to_string(i) + " was delivered " +
                             std::to_string(got[static_cast<std::size_t>(i)]) +
                             " times to the group");
             }
           });

  add_case(out, "4.8", "v5.shared-no-local",
           "No Local on a shared subscription is a protocol error", {}, {"MQTT-3.8.3-4"},
           [](Context& ctx) {
             ctx.need(ctx.caps.shared_available, "the broker does not offer shared subscriptions");
             Peer& p = connected(ctx, "client");
             Subscribe s;
             s.packet_id = 1;
             s.subscriptions.push_back({"$share/g/" + ctx.topic("x"),
                                        SubscribeOptions{QoS::at_most_once, true, false, 0}});
             p.send(s);
             p.expect_close_with("No Local on a shared subscription", {ReasonCode::protocol_error});
           });

  add_case(out, "4.8", "v5.shared-share-name-invalid",
           "a ShareName with '+' is not a valid shared subscription", {}, {"MQTT-4.8.2-2"},
           [](Context& ctx) {
             ctx.need(ctx.caps.shared_available, "the broker does not offer shared subscriptions");
             Peer& p = connected(ctx, "client");
             Subscribe s;
             s.packet_id = 3;
             s.subscriptions.push_back({"$share/a+b/" + ctx.topic("x"), {}});
             p.send(s);
             // Refused in the SUBACK, or the connection closed (0x8F, or a
             // Malformed Packet / Protocol Error).
             const Peer::Arrival a = p.next(ctx.options.timeout);
             if (a.kind == Peer::Arrival::Kind::timeout) ctx.fail("no answer to the SUBSCRIBE");
             if (a.kind == Peer::Arrival::Kind::closed) return;
             if (const auto* ack = std::get_if<Suback>(&a.packet)) {
               ctx.check(ack->reason_codes.size() == 1 && is_error(ack->reason_codes[0]),
                         "the filter '$share/a+b/...' was granted");
               return;
             }
             const auto* d = std::get_if<Disconnect>(&a.packet);
             ctx.check(d != nullptr, "expected SUBACK or DISCONNECT, got another packet");
             ctx.check(d->reason_code == ReasonCode::topic_filter_invalid ||
                           d->reason_code == ReasonCode::malformed_packet ||
                           d->reason_code == ReasonCode::protocol_error,
                       "DISCONNECT with an unexpected reason code");
             p.expect_close("after DISCONNECT");
           });

  add_case(out, "4.8", "v5.shared-offline-member",
           "a shared subscription's only member gets the message when it reconnects", {},
           {"MQTT-4.8.2-4"}, [](Context& ctx) {
             ctx.need(ctx.caps.shared_available, "the broker does not offer shared subscriptions");
             need_qos(ctx, QoS::at_least_once);
             const std::string id = ctx.client_id();
             const std::string t = ctx.topic("shared-offline");
             ctx.end_session_later(id);
             Peer& m = ctx.peer("member");
             m.connect_ok(ctx.connect_packet(id, false, 60));
             m.subscribe("$share/" + id + "/" + t, QoS::at_least_once);
             m.disconnect();
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "while away", QoS::at_least_once);
             Peer& back = ctx.peer("member-again");
             const Connack ack = back.connect_ok(ctx.connect_packet(id, false, 60));
             ctx.check(ack.session_present, "Session Present must be 1");
             const Publish got = back.expect_publish("the message published while away");
             ctx.check(text(got.payload) == "while away", "a different message");
           });

  add_case(out, "4.8", "v5.shared-refused-not-redelivered",
           "a message a member refuses (PUBACK 0x80) goes to no other member", {}, {"MQTT-4.8.2-6"},
           [](Context& ctx) {
             const SharedDelivery d = deliver_to_shared(ctx, "shared-refused", "refused");
             d.got->send(Puback{
                 d.message.packet_id, ReasonCode::unspecified_error, {}, AckLayout::shortest});
             d.other->expect_no_publish("the message another member refused");
             d.got->expect_no_publish("the message it refused");
           });

  add_case(out, "4.8", "v5.shared-session-ends-not-redelivered",
           "a message in flight to a shared subscription member whose session ends goes to no "
           "other member",
           {}, {"MQTT-4.8.2-5"}, [](Context& ctx) {
             const SharedDelivery d = deliver_to_shared(ctx, "shared-ended", "in flight");
             d.got->drop();  // unacknowledged; its session ends here
             d.other->expect_no_publish("the message in flight to a member whose session ended");
           });

  // Room for one reason code per filter and two bytes more: no Reason String
  // or User Property fits on the SUBACK or the UNSUBACK (every packet is
  // checked against the Maximum Packet Size as it arrives).
  add_case(out, "3.9", "v5.acks-fit-maximum-packet-size",
           "SUBACK and UNSUBACK leave out a Reason String or User Property that would exceed "
           "the client's Maximum Packet Size",
           {}, {"MQTT-3.9.2-1", "MQTT-3.9.2-2", "MQTT-3.11.2-1", "MQTT-3.11.2-2"},
           [](Context& ctx) {
             constexpr std::size_t n = 100;  // acks of 1 + 1 + 2 + 1 + 100 bytes
             Peer& p = ctx.peer("client");
             Connect c = ctx.connect_packet(ctx.client_id());
             c.properties.add(PropertyId::maximum_packet_size, static_cast<std::uint32_t>(n + 7));
             p.connect_ok(c);
             auto filter = [&](std::size_t i) { return ctx.topic("fit/" + std::to_string(i)); };
             Subscribe s;
             s.packet_id = p.next_packet_id();
             for (std::size_t i = 0; i < n; ++i)
               s.subscriptions.push_back(
                   {filter(i), SubscribeOptions{QoS::at_most_once, false, false, 0}});
             p.send(s);
             const Suback sa = p.expect<Suback>("SUBSCRIBE with " + std::to_string(n) + " filters");
             ctx.check(sa.reason_codes.size() == n,
                       "the SUBACK has " + std::to_string(sa.reason_codes.size()) +
                           " reason codes for " + std::to_string(n) + " filters [MQTT-3.8.4-6]");
             // Half of these were never subscribed: 0x11, which a broker may explain.
             Unsubscribe u;
             u.packet_id = p.next_packet_id();
             for (std::size_t i = n / 2; i < n + n / 2; ++i)
               u.filters.push_back(filter(i));
             p.send(u);
             const Unsuback ua =
                 p.expect<Unsuback>("UNSUBSCRIBE with " + std::to_string(n) + " filters");
             ctx.check(ua.reason_codes.size() == n,
                       "the UNSUBACK has " + std::to_string(ua.reason_codes.size()) +
                           " reason codes for " + std::to_string(n) + " filters [MQTT-3.11.3-2]");
           });

  add_case(out, "3.10", "v5.unsubscribe-completes-delivery",
           "a QoS 1 delivery under way when its subscription goes is still completed", {},
           {"MQTT-3.10.4-3"}, [](Context& ctx) {
             need_qos(ctx, QoS::at_least_once);
             const std::string id = ctx.client_id();
             const std::string t = ctx.topic("unsub-inflight");
             ctx.end_session_later(id);
             Peer& s = ctx.peer("subscriber");
             s.connect_ok(ctx.connect_packet(id, false, 60));
             s.subscribe(t, QoS::at_least_once);
             Peer& pub = connected(ctx, "publisher");
             pub.publish(t, "under way", QoS::at_least_once);
             const Publish first = s.expect_publish("the message", false);
             s.unsubscribe(t);
             s.drop();
             Peer& back = ctx.peer("subscriber-again");
             back.connect_ok(ctx.connect_packet(id, false, 60));
             const Publish again = back.expect_publish("the unacknowledged message, resent");
             ctx.check(again.packet_id == first.packet_id && again.dup,
                       "resent with another packet id or DUP 0");
           });

  // For brokers that offer less: not applicable to one that offers all.
  add_case(out, "3.2", "v5.maximum-qos-subscribe",
           "a broker with Maximum QoS below 2 still accepts SUBSCRIBE at QoS 2", {},
           {"MQTT-3.2.2-10"}, [](Context& ctx) {
             ctx.need(ctx.caps.maximum_qos < QoS::exactly_once, "the broker supports QoS 2");
             Peer& p = connected(ctx, "client");
             const Suback ack = p.subscribe(ctx.topic("max-qos"), QoS::exactly_once);
             ctx.check(ack.reason_codes.size() == 1 && !is_error(ack.reason_codes[0]) &&
                           static_cast<QoS>(ack.reason_codes[0]) <= ctx.caps.maximum_qos,
                       "expected a grant at most the broker's Maximum QoS");
           });

  add_case(out, "3.2", "v5.maximum-qos-will", "a Will QoS above the Maximum QoS is refused", {},
           {"MQTT-3.2.2-12"}, [](Context& ctx) {
             ctx.need(ctx.caps.maximum_qos < QoS::exactly_once, "the broker supports QoS 2");
             Peer& p = ctx.peer("client");
             Connect c = ctx.connect_packet(ctx.client_id());
             c.will = Will{ctx.topic("will"), text("w"), QoS::exactly_once, false, {}};
             p.send(c);
             const auto code =
                 p.expect_close("Will QoS 2 with Maximum QoS " +
                                std::to_string(static_cast<int>(ctx.caps.maximum_qos)));
             ctx.check(!code || *code == ReasonCode::qos_not_supported,
                       "refused, but not with 0x9B (QoS not supported)");
           });

  add_case(out, "3.2", "v5.retain-unavailable-will",
           "a Will with Retain 1 is refused when retained messages are not available", {},
           {"MQTT-3.2.2-13"}, [](Context& ctx) {
             ctx.need(!ctx.caps.retain_available, "the broker offers retained messages");
             Peer& p = ctx.peer("client");
             Connect c = ctx.connect_packet(ctx.client_id());
             c.will = Will{ctx.topic("will"), text("w"), QoS::at_most_once, true, {}};
             p.send(c);
             const auto code = p.expect_close("Will Retain 1 with Retain Available 0");
             ctx.check(!code || *code == ReasonCode::retain_not_supported,
                       "refused, but not with 0x9A (Retain not supported)");
           });

  add_case(out, "3.1", "v5.request-problem-information-0",
           "with Request Problem Information 0, acknowledgements carry no Reason String or User "
           "Property",
           {}, {"MQTT-3.1.2-29"}, [](Context& ctx) {
             Peer& p = ctx.peer("client");
             Connect c = ctx.connect_packet(ctx.client_id());
             c.properties.add(PropertyId::request_problem_information, 0u);
             p.connect_ok(c);
             const auto clean = [&](const Properties& props, const std::string& what) {
               ctx.check(!props.contains(PropertyId::reason_string) &&
                             !props.contains(PropertyId::user_property),
                         what + " carries a Reason String or User Property");
             };
             // Answers where a broker might explain itself: nobody subscribed
             // (0x10), and no such subscription (0x11).
             const std::string t = ctx.topic("nobody");
             if (ctx.caps.maximum_qos >= QoS::at_least_once) {
               Publish m = message(t, "x", QoS::at_least_once, 21);
               p.send(m);
               clean(p.expect<Puback>("QoS 1 PUBLISH to nobody").properties, "PUBACK");
             }
             if (ctx.caps.maximum_qos >= QoS::exactly_once) {
               p.send(message(t, "y", QoS::exactly_once, 22));
               clean(p.expect<Pubrec>("QoS 2 PUBLISH to nobody").properties, "PUBREC");
               p.send(Pubrel{22, ReasonCode::success, {}, AckLayout::shortest});
               clean(p.expect<Pubcomp>("PUBREL").properties, "PUBCOMP");
             }
             clean(p.subscribe(t, QoS::at_most_once).properties, "SUBACK");
             clean(p.unsubscribe(ctx.topic("never")).properties, "UNSUBACK");
           });

  add_case(out, "3.1", "v5.no-response-information",
           "without Request Response Information the CONNACK has no Response Information", {},
           {"MQTT-3.1.2-28"}, [](Context& ctx) {
             Peer& p = ctx.peer("client");
             Connect c = ctx.connect_packet(ctx.client_id());
             c.properties.add(PropertyId::request_response_information, 0u);
             const Connack ack = p.connect_ok(c);
             ctx.check(!ack.properties.contains(PropertyId::response_information),
                       "Response Information sent although not requested");
           });

  add_case(out, "4.12", "v5.auth-without-method",
           "AUTH from a client that gave no Authentication Method is a protocol error", {},
           {"MQTT-4.12.0-7"}, [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             p.send(Auth{ReasonCode::re_authenticate, {}, AckLayout::shortest});
             p.expect_close_with(
                 "AUTH without an Authentication Method",
                 {ReasonCode::protocol_error, ReasonCode::bad_authentication_method});
           });
}

}  // namespace assay::conformance
