// Malformed input: one case per violation class of the codec, sent raw,
// expecting a close (5.0: at most a DISCONNECT with the right reason code).
#include "cases.hpp"

namespace assay::conformance {

using namespace detail;

namespace {

// A QoS 0 PUBLISH to `topic` (bytes as given), 5.0 properties as given.
Bytes raw_publish(Version v, ByteView topic, ByteView properties = {}) {
  FrameBuilder f(PacketType::publish, 0);
  f.u16(static_cast<std::uint16_t>(topic.size())).bytes(topic);
  if (v == Version::v5) f.raw_properties(properties);
  return f.bytes({'x'}).build();
}

// Every malformed case also checks the general rule: a protocol violation
// closes the connection (3.1.1 MQTT-4.8.0-1, 5.0 MQTT-4.13.1-1).
void malformed_case(std::vector<Case>& out, std::string name, std::string title, V v311, V v5,
                    std::function<Bytes(Context&)> frame) {
  if (!v311.empty()) v311.push_back("MQTT-4.8.0-1");
  if (!v5.empty()) v5.push_back("MQTT-4.13.1-1");
  const std::string what = title;
  add_case(out, "1-4", "malformed." + name, title, std::move(v311), std::move(v5),
           [what, frame](Context& ctx) {
             Peer& p = connected(ctx, "client");
             p.send_raw(frame(ctx), what);
             expect_malformed_close(p, what);
           });
}

}  // namespace

void cases::malformed(std::vector<Case>& out) {
  malformed_case(out, "utf8-invalid", "a topic that is not valid UTF-8",
                 {"MQTT-1.5.3-1", "MQTT-3.3.2-1"}, {"MQTT-1.5.4-1", "MQTT-3.3.2-1"},
                 [](Context& ctx) {
                   const Bytes topic{'a', '/', 0xC3, 0x28};
                   return raw_publish(ctx.version, topic);
                 });
  malformed_case(out, "utf8-surrogate", "a topic with an encoded UTF-16 surrogate (U+D800)",
                 {"MQTT-1.5.3-1"}, {"MQTT-1.5.4-1"}, [](Context& ctx) {
                   const Bytes topic{'a', '/', 0xED, 0xA0, 0x80};
                   return raw_publish(ctx.version, topic);
                 });
  malformed_case(out, "utf8-null", "a topic containing U+0000", {"MQTT-1.5.3-2", "MQTT-4.7.3-2"},
                 {"MQTT-1.5.4-2", "MQTT-4.7.3-2"}, [](Context& ctx) {
                   const Bytes topic{'a', 0x00, 'b'};
                   return raw_publish(ctx.version, topic);
                 });
  // 3.1.1 does not call a longer encoding malformed; 5.0 does.
  malformed_case(out, "vbi-not-minimal", "a Remaining Length encoded in more bytes than needed", {},
                 {"MQTT-1.5.5-1"}, [](Context&) {
                   // PINGREQ with Remaining Length 0 written as 0x80 0x00.
                   return Bytes{0xC0, 0x80, 0x00};
                 });
  malformed_case(out, "vbi-five-bytes", "a Remaining Length of five bytes", {"§2.2.3"},
                 {"MQTT-1.5.5-1"},
                 [](Context&) { return Bytes{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}; });
  malformed_case(out, "reserved-type", "packet type 0 (reserved)", {"§2.2.1"}, {"§2.1.2"},
                 [](Context&) {
                   return Bytes{0x00, 0x00};
                 });
  malformed_case(out, "pubrel-flags", "PUBREL with fixed header flags 0000", {"MQTT-3.6.1-1"},
                 {"MQTT-3.6.1-1"}, [](Context&) {
                   return Bytes{0x60, 0x02, 0x00, 0x01};
                 });
  malformed_case(out, "puback-flags", "PUBACK with fixed header flags 0001",
                 {"MQTT-2.2.2-1", "MQTT-2.2.2-2"}, {"MQTT-2.1.3-1"}, [](Context&) {
                   return Bytes{0x41, 0x02, 0x00, 0x01};
                 });
  malformed_case(out, "packet-id-zero", "a QoS 1 PUBLISH with packet id 0", {"MQTT-2.3.1-1"},
                 {"MQTT-2.2.1-3"}, [](Context& ctx) {
                   FrameBuilder f(PacketType::publish, 0x02);
                   f.string(ctx.topic("id0")).u16(0);
                   if (ctx.v5()) f.vbi(0);
                   return f.bytes({'x'}).build();
                 });
  malformed_case(out, "empty-topic", "a PUBLISH with an empty Topic Name and no Topic Alias",
                 {"MQTT-4.7.3-1"}, {"MQTT-4.7.3-1"},
                 [](Context& ctx) { return raw_publish(ctx.version, {}); });
  malformed_case(out, "remaining-length-short",
                 "a Remaining Length that ends inside a field (SUBSCRIBE cut in its topic filter)",
                 {"MQTT-3.8.3-1"}, {"MQTT-3.8.3-1"}, [](Context& ctx) {
                   FrameBuilder f(PacketType::subscribe, 0x02);
                   f.u16(1);
                   if (ctx.v5()) f.vbi(0);
                   f.u16(10).bytes({'a', 'b'});
                   return f.build();
                 });
  malformed_case(out, "subscribe-qos3", "a subscription with Requested QoS 3", {"MQTT-3-8.3-4"},
                 {"MQTT-3.8.3-5"}, [](Context& ctx) {
                   FrameBuilder f(PacketType::subscribe, 0x02);
                   f.u16(1);
                   if (ctx.v5()) f.vbi(0);
                   return f.string(ctx.topic("q3")).u8(0x03).build();
                 });
  malformed_case(out, "property-duplicate", "a property given twice (Payload Format Indicator)", {},
                 {"§2.2.2.2"}, [](Context& ctx) {
                   const Bytes props{0x01, 0x00, 0x01, 0x01};
                   const std::string t = ctx.topic("p");
                   return raw_publish(ctx.version, Bytes(t.begin(), t.end()), props);
                 });
  malformed_case(out, "property-unknown", "an unknown property identifier (0x7F)", {}, {"§2.2.2.2"},
                 [](Context& ctx) {
                   const Bytes props{0x7F, 0x00};
                   const std::string t = ctx.topic("p");
                   return raw_publish(ctx.version, Bytes(t.begin(), t.end()), props);
                 });
  malformed_case(out, "property-wrong-packet",
                 "a property not allowed in the packet (Session Expiry Interval in PUBLISH)", {},
                 {"§2.2.2.2"}, [](Context& ctx) {
                   const Bytes props{0x11, 0x00, 0x00, 0x00, 0x0A};
                   const std::string t = ctx.topic("p");
                   return raw_publish(ctx.version, Bytes(t.begin(), t.end()), props);
                 });
  malformed_case(out, "unsubscribe-utf8", "an UNSUBSCRIBE Topic Filter that is not valid UTF-8",
                 {"MQTT-3.10.3-1"}, {"MQTT-3.10.3-1"}, [](Context& ctx) {
                   FrameBuilder f(PacketType::unsubscribe, 0x02);
                   f.u16(1);
                   if (ctx.v5()) f.vbi(0);
                   const Bytes filter{'a', '/', 0xC3, 0x28};
                   return f.u16(static_cast<std::uint16_t>(filter.size())).bytes(filter).build();
                 });
  // 5.0 properties whose values have rules of their own.
  // The rule binds the sender; a broker that forwards such a message sends
  // it, so it must refuse it or leave the Response Topic out.
  add_case(out, "3.3", "malformed.response-topic-wildcard",
           "5.0: a Response Topic with a wildcard is refused, or never forwarded", {},
           {"MQTT-3.3.2-14"}, [](Context& ctx) {
             const std::string t = ctx.topic("rt");
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(t, QoS::at_most_once);
             Peer& pub = connected(ctx, "publisher");
             const Bytes props{0x08, 0x00, 0x03, 'r', '/', '#'};
             pub.send_raw(raw_publish(ctx.version, Bytes(t.begin(), t.end()), props),
                          "PUBLISH with Response Topic 'r/#'");
             const Peer::Arrival a = sub.next(ctx.options.quiet);
             if (a.kind != Peer::Arrival::Kind::packet) return;  // refused: nothing forwarded
             const auto* m = std::get_if<Publish>(&a.packet);
             if (m == nullptr) ctx.fail("expected nothing or a PUBLISH, got another packet");
             const std::string* rt = m->properties.string(PropertyId::response_topic);
             ctx.check(rt == nullptr || rt->find_first_of("+#") == std::string::npos,
                       "the broker forwarded the Response Topic '" + (rt ? *rt : std::string()) +
                           "' with a wildcard");
           });
  malformed_case(out, "response-topic-utf8", "a Response Topic that is not valid UTF-8", {},
                 {"MQTT-3.3.2-13"}, [](Context& ctx) {
                   const Bytes props{0x08, 0x00, 0x03, 'r', 0xC3, 0x28};
                   const std::string t = ctx.topic("p");
                   return raw_publish(ctx.version, Bytes(t.begin(), t.end()), props);
                 });
  malformed_case(out, "content-type-utf8", "a Content Type that is not valid UTF-8", {},
                 {"MQTT-3.3.2-19"}, [](Context& ctx) {
                   const Bytes props{0x03, 0x00, 0x02, 0xC3, 0x28};
                   const std::string t = ctx.topic("p");
                   return raw_publish(ctx.version, Bytes(t.begin(), t.end()), props);
                 });
  malformed_case(out, "user-property-utf8", "a User Property value that is not valid UTF-8", {},
                 {"MQTT-1.5.7-1"}, [](Context& ctx) {
                   const Bytes props{0x26, 0x00, 0x01, 'k', 0x00, 0x02, 0xC3, 0x28};
                   const std::string t = ctx.topic("p");
                   return raw_publish(ctx.version, Bytes(t.begin(), t.end()), props);
                 });
  malformed_case(out, "auth-flags", "AUTH with fixed header flags 0001", {}, {"MQTT-3.15.1-1"},
                 [](Context&) {
                   return Bytes{0xF1, 0x00};
                 });
  malformed_case(out, "property-length-overrun", "a Property Length beyond the end of the packet",
                 {}, {"§2.2.2.1"}, [](Context& ctx) {
                   const std::string t = ctx.topic("p");
                   FrameBuilder f(PacketType::publish, 0);
                   f.string(t).vbi(50).bytes({0x01, 0x01});
                   return f.build();
                 });

  // DUP 1 on QoS 0 breaks a sender obligation; the spec gives the receiver
  // no duty to close. Either refusal or forwarding with DUP 0 conforms.
  add_case(out, "3.3", "malformed.qos0-dup",
           "a QoS 0 PUBLISH with DUP 1 is refused, or forwarded with DUP 0",
           {"MQTT-3.3.1-2", "MQTT-3.3.1-3"}, {"MQTT-3.3.1-2", "MQTT-3.3.1-3"}, [](Context& ctx) {
             const std::string t = ctx.topic("dup0");
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(t, QoS::at_most_once);
             Peer& p = connected(ctx, "publisher");
             Bytes b = raw_publish(ctx.version, Bytes(t.begin(), t.end()));
             b[0] |= 0x08;
             p.send_raw(b, "QoS 0 PUBLISH with DUP 1");
             const Peer::Arrival a = sub.next(ctx.options.quiet);
             if (a.kind != Peer::Arrival::Kind::packet) {
               p.expect_close_with("not forwarded, so refused",
                                   {ReasonCode::malformed_packet, ReasonCode::protocol_error});
               return;
             }
             const auto* m = std::get_if<Publish>(&a.packet);
             ctx.check(m != nullptr, "expected PUBLISH, got " + describe(a.packet, ctx.version));
             ctx.check(!m->dup,
                       "forwarded with DUP 1: the outgoing DUP is set independently "
                       "[MQTT-3.3.1-3] and must be 0 at QoS 0 [MQTT-3.3.1-2]");
           });

  add_case(out, "3.3", "malformed.invalid-filter",
           "a Topic Filter with '#' not last, or '+' not a whole level, is refused",
           {"MQTT-4.7.1-2", "MQTT-4.7.1-3"}, {"MQTT-4.7.1-1", "MQTT-4.7.1-2"}, [](Context& ctx) {
             for (const char* leaf : {"a/#/b", "a/b+"}) {
               Peer& p = connected(ctx, leaf);
               p.send(Subscribe{1, {}, {{ctx.topic(leaf), {}}}});
               // A SUBACK failure code or a close are both a refusal.
               const Peer::Arrival a = p.next(ctx.options.timeout);
               if (a.kind == Peer::Arrival::Kind::closed) continue;
               ctx.check(a.kind == Peer::Arrival::Kind::packet,
                         std::string("no answer to SUBSCRIBE ") + leaf);
               const auto* s = std::get_if<Suback>(&a.packet);
               if (s != nullptr) {
                 ctx.check(s->reason_codes.size() == 1 && is_error(s->reason_codes[0]),
                           std::string("the invalid filter ") + leaf + " was granted");
                 continue;
               }
               const auto* d = std::get_if<Disconnect>(&a.packet);
               ctx.check(d != nullptr && ctx.v5(),
                         "expected SUBACK with a failure or a close, got " +
                             describe(a.packet, ctx.version));
               p.expect_close("after DISCONNECT");
             }
           });

  add_case(out, "3.1", "malformed.packet-too-large",
           "5.0: a packet above the server's Maximum Packet Size closes with 0x95", {},
           {"MQTT-3.2.2-15"}, [](Context& ctx) {
             const std::uint32_t limit = ctx.caps.maximum_packet_size;
             ctx.need(limit > 0 && limit <= 16 * 1024 * 1024,
                      "the broker announces no Maximum Packet Size (or one above 16 MiB)");
             Peer& p = connected(ctx, "client");
             Publish m;
             m.topic = ctx.topic("big");
             m.payload = SharedBytes(Bytes(limit, 'x'));
             p.send(m);
             p.expect_close_with("a packet above Maximum Packet Size",
                                 {ReasonCode::packet_too_large});
           });
}

}  // namespace assay::conformance
