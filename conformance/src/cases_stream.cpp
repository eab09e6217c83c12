// §4.2: the network connection is an ordered stream of bytes, so a broker
// must read packets wherever the writes (TCP segments; with --ws, WebSocket
// messages [MQTT-6.0.0-2]) happen to split or join them; and over
// WebSocket, MQTT travels in binary messages only [MQTT-6.0.0-1].
#include "cases.hpp"

namespace assay::conformance {

using namespace detail;

namespace {

// A CONNECT for `id` with the suite's credentials, encoded.
Bytes connect_bytes(Context& ctx, const std::string& id) {
  Connect c = ctx.connect_packet(id);
  ctx.add_credentials(c);
  return encode(c, ctx.version);
}

// Sends `bytes` in the pieces that `cuts` (offsets, ascending) make, each
// its own write, with a pause between them so that no transport joins them.
void send_in_pieces(Context& ctx, Peer& p, const Bytes& bytes,
                    std::initializer_list<std::size_t> cuts, const std::string& what) {
  std::size_t from = 0;
  int piece = 1;
  for (std::size_t to : cuts) {
    p.send_raw(ByteView(bytes.data() + from, to - from),
               what + ", piece " + std::to_string(piece++));
    ctx.sleep(std::chrono::milliseconds(30));
    from = to;
  }
  p.send_raw(ByteView(bytes.data() + from, bytes.size() - from),
             what + ", piece " + std::to_string(piece));
}

}  // namespace

void cases::stream(std::vector<Case>& out) {
  add_case(out, "4.2", "stream.split-packets",
           "a CONNECT and a PUBLISH split across writes, inside the fixed header and the payload",
           {"§4.2"}, {"§4.2"}, [](Context& ctx) {
             need_qos(ctx, QoS::at_least_once);
             const std::string t = ctx.topic("split");
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(t, QoS::at_least_once);

             Peer& p = ctx.peer("publisher");
             const Bytes connect = connect_bytes(ctx, ctx.client_id() + "p");
             // Cut after the packet type, after the (one-byte) Remaining
             // Length, and inside the protocol name.
             send_in_pieces(ctx, p, connect, {1, 2, 5}, "CONNECT");
             const Connack ack = p.expect<Connack>("the CONNECT sent in four pieces");
             ctx.check(ack.reason_code == ReasonCode::success,
                       "the CONNECT sent in pieces was refused");

             // A 200-byte payload makes the Remaining Length two bytes: cut
             // between them, in the middle of the topic, and inside the
             // payload.
             Publish m = message(t, std::string(200, 's'), QoS::at_least_once, p.next_packet_id());
             const Bytes publish = encode(m, ctx.version);
             ctx.check(publish.size() > 120 && (publish[1] & 0x80) != 0,
                       "the PUBLISH was meant to have a two-byte Remaining Length");
             send_in_pieces(ctx, p, publish, {2, 5 + t.size() / 2, publish.size() - 50},
                            "PUBLISH QoS 1");
             const Puback puback = p.expect<Puback>("the PUBLISH sent in four pieces");
             ctx.check(puback.packet_id == m.packet_id, "the PUBACK has another packet id");
             const Publish got = sub.expect_publish("the message sent in pieces");
             ctx.check(text(got.payload) == std::string(200, 's'),
                       "the message sent in pieces arrived changed");
           });

  // Only what the spec asks: each packet answered, and the messages
  // forwarded in the order published [MQTT-4.6.0-6]; the order of the
  // answers themselves is the broker's (assay broker's PINGRESP overtakes
  // PUBACKs that wait for routing, Mosquitto answers in order).
  add_case(out, "4.2", "stream.joined-packets",
           "two PUBLISH packets and a PINGREQ in one write: each is read and answered",
           {"§4.2", "MQTT-4.6.0-6"}, {"§4.2", "MQTT-4.6.0-6"}, [](Context& ctx) {
             need_qos(ctx, QoS::at_least_once);
             const std::string t = ctx.topic("joined");
             Peer& sub = connected(ctx, "subscriber");
             sub.subscribe(t, QoS::at_least_once);
             Peer& p = connected(ctx, "publisher");
             const Publish first = message(t, "first", QoS::at_least_once, p.next_packet_id());
             const Publish second = message(t, "second", QoS::at_least_once, p.next_packet_id());
             Bytes joined = encode(first, ctx.version);
             const Bytes two = encode(second, ctx.version);
             const Bytes ping = encode(Pingreq{}, ctx.version);
             joined.insert(joined.end(), two.begin(), two.end());
             joined.insert(joined.end(), ping.begin(), ping.end());
             p.send_raw(joined, "PUBLISH, PUBLISH, PINGREQ in one write");
             bool acked_first = false;
             bool acked_second = false;
             bool ponged = false;
             for (int i = 0; i < 3; ++i) {
               const Peer::Arrival a = p.next(ctx.options.timeout);
               if (a.kind != Peer::Arrival::Kind::packet) {
                 ctx.fail(a.kind == Peer::Arrival::Kind::closed
                              ? "the broker closed the connection"
                              : "the broker did not answer all three packets");
               }
               if (const auto* ack = std::get_if<Puback>(&a.packet)) {
                 acked_first = acked_first || ack->packet_id == first.packet_id;
                 acked_second = acked_second || ack->packet_id == second.packet_id;
               } else if (std::holds_alternative<Pingresp>(a.packet)) {
                 ponged = true;
               } else {
                 ctx.fail("expected PUBACK, PUBACK and PINGRESP, got " +
                          describe(a.packet, ctx.version));
               }
             }
             ctx.check(acked_first && acked_second && ponged,
                       "expected a PUBACK for each PUBLISH and a PINGRESP");
             ctx.check(text(sub.expect_publish("the first message").payload) == "first",
                       "the first message is not the first delivered");
             ctx.check(text(sub.expect_publish("the second message").payload) == "second",
                       "the second message is not the second delivered");
           });

  // Over WebSocket only (not applicable otherwise): MQTT travels in binary
  // messages, and a broker that gets a text message must close.
  add_case(out, "6", "stream.websocket-text-message",
           "a PINGREQ in a WebSocket text message: the broker closes the connection",
           {"MQTT-6.0.0-1"}, {"MQTT-6.0.0-1"}, [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             p.send_text_message(encode(Pingreq{}, ctx.version),
                                 "PINGREQ in a WebSocket text message");
             p.expect_close("MQTT in a WebSocket text message");
           });
}

}  // namespace assay::conformance
