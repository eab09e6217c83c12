// §3.1 CONNECT, §3.2 CONNACK, §3.12 PINGREQ, §3.14 DISCONNECT.
#include "cases.hpp"

namespace assay::conformance {

using namespace detail;

void cases::connect(std::vector<Case>& out) {
  add_case(out, "3.1", "connect.first-packet", "the first packet must be CONNECT", {"MQTT-3.1.0-1"},
           {"MQTT-3.1.0-1"}, [](Context& ctx) {
             Peer& p = ctx.peer("client");
             p.send(Pingreq{});
             p.expect_close("PINGREQ before CONNECT");
           });

  add_case(out, "3.1", "connect.second-connect", "a second CONNECT is a protocol error",
           {"MQTT-3.1.0-2"}, {"MQTT-3.1.0-2"}, [](Context& ctx) {
             Peer& p = ctx.peer("client");
             const Connect c = ctx.connect_packet(ctx.client_id());
             p.connect_ok(c);
             p.send(c);
             p.expect_close_with("second CONNECT", {ReasonCode::protocol_error});
           });

  add_case(out, "3.1", "connect.protocol-name", "a protocol name other than MQTT is refused",
           {"MQTT-3.1.2-1"}, {"MQTT-3.1.2-1"}, [](Context& ctx) {
             Peer& p = ctx.peer("client");
             p.send_raw(raw_connect(ctx.version, ctx.client_id(), 0x02, "MQTX"),
                        "CONNECT with protocol name MQTX");
             p.expect_close_with("protocol name MQTX", {ReasonCode::unsupported_protocol_version});
           });

  add_case(out, "3.1", "connect.protocol-level", "an unsupported protocol level is refused",
           {"MQTT-3.1.2-2"}, {"MQTT-3.1.2-2"}, [](Context& ctx) {
             Peer& p = ctx.peer("client");
             p.send_raw(raw_connect(ctx.version, ctx.client_id(), 0x02, "MQTT", 6),
                        "CONNECT with protocol level 6");
             if (ctx.v5()) {
               // 5.0: MAY answer CONNACK 0x84, then MUST close. Not knowing
               // level 6, a server may answer in either format.
               const Bytes got = p.raw_until_close("protocol level 6");
               const bool v5_refusal = got.size() >= 5 && got[0] == 0x20 && got[2] == 0x00 &&
                                       got[3] == 0x84 && got.size() == 2u + got[1];
               const bool v311_refusal = got == Bytes{0x20, 0x02, 0x00, 0x01};
               ctx.check(got.empty() || v5_refusal || v311_refusal,
                         "expected nothing or CONNACK 0x84 before the close, got " +
                             std::to_string(got.size()) + " other bytes");
               return;
             }
             // 3.1.1: MUST answer CONNACK 0x01, then close.
             const Connack ack = p.expect<Connack>("protocol level 6");
             ctx.check(ack.reason_code == ReasonCode::unsupported_protocol_version,
                       "CONNACK return code must be 0x01 (unacceptable protocol level)");
             p.expect_close("after CONNACK 0x01");
           });

  add_case(out, "3.1", "connect.refused-ignores-data",
           "after refusing a CONNECT the server processes nothing the client sent after it",
           {"MQTT-3.1.4-5", "MQTT-3.2.2-4", "MQTT-3.2.2-5"},
           {"MQTT-3.1.4-6", "MQTT-3.2.2-6", "MQTT-3.2.2-7"}, [](Context& ctx) {
             const std::string t = ctx.topic("refused");
             Peer& w = connected(ctx, "watcher");
             w.subscribe(t, QoS::at_most_once);
             Peer& p = ctx.peer("client");
             // Protocol level 6 (unknown to both versions), then a PUBLISH in
             // the same write.
             Bytes bytes = raw_connect(ctx.version, ctx.client_id(), 0x02, "MQTT", 6);
             FrameBuilder f(PacketType::publish, 0);
             f.string(t);
             if (ctx.v5()) f.vbi(0);
             const Bytes publish = f.bytes({'x'}).build();
             bytes.insert(bytes.end(), publish.begin(), publish.end());
             p.send_raw(bytes, "CONNECT with protocol level 6, then PUBLISH");
             const Bytes got = p.raw_until_close("refused CONNECT");
             // A refusing CONNACK (either format) must have Session Present 0.
             ctx.check(got.size() < 3 || (got[2] & 0x01) == 0,
                       "a refusing CONNACK must have Session Present 0");
             w.expect_no_publish("the PUBLISH after a refused CONNECT must not be processed");
           });

  add_case(out, "3.1", "connect.reserved-flag", "the reserved CONNECT flag must be 0",
           {"MQTT-3.1.2-3"}, {"MQTT-3.1.2-3", "MQTT-3.14.0-1"}, [](Context& ctx) {
             Peer& p = ctx.peer("client");
             p.send_raw(raw_connect(ctx.version, ctx.client_id(), 0x03),
                        "CONNECT with the reserved flag set");
             p.expect_close_with("reserved flag", {ReasonCode::malformed_packet});
           });

  add_case(out, "3.1", "connect.will-qos-3", "Will QoS 3 is malformed", {"MQTT-3.1.2-14"},
           {"MQTT-3.1.2-12"}, [](Context& ctx) {
             Peer& p = ctx.peer("client");
             Bytes will;
             if (ctx.v5()) will.push_back(0);  // Will Properties length
             for (std::uint8_t b : Bytes{0, 1, 'w', 0, 1, 'x'})
               will.push_back(b);
             p.send_raw(
                 raw_connect(ctx.version, ctx.client_id(), 0x02 | 0x04 | 0x18, "MQTT", {}, will),
                 "CONNECT with Will QoS 3");
             p.expect_close_with("Will QoS 3", {ReasonCode::malformed_packet});
           });

  add_case(out, "3.1", "connect.will-flags-without-will",
           "Will QoS and Will Retain must be 0 when the Will Flag is 0",
           {"MQTT-3.1.2-13", "MQTT-3.1.2-15"}, {"MQTT-3.1.2-11", "MQTT-3.1.2-13"},
           [](Context& ctx) {
             Peer& a = ctx.peer("qos");
             a.send_raw(raw_connect(ctx.version, ctx.client_id(), 0x02 | 0x08),
                        "CONNECT with Will QoS 1 and no Will");
             a.expect_close_with("Will QoS without Will", {ReasonCode::malformed_packet});
             Peer& b = ctx.peer("retain");
             b.send_raw(raw_connect(ctx.version, ctx.client_id(), 0x02 | 0x20),
                        "CONNECT with Will Retain and no Will");
             b.expect_close_with("Will Retain without Will", {ReasonCode::malformed_packet});
           });

  // Strings of the CONNECT payload must be UTF-8: a CONNECT that breaks it
  // does not match §3.1 and the connection is closed (3.1.1: without a
  // CONNACK; 5.0: at most CONNACK 0x80/0x81).
  add_case(out, "3.1", "connect.will-topic-utf8", "a Will Topic that is not valid UTF-8",
           {"MQTT-3.1.3-10", "MQTT-3.1.4-1"}, {"MQTT-3.1.3-11", "MQTT-3.1.4-1", "MQTT-3.14.0-1"},
           [](Context& ctx) {
             Peer& p = ctx.peer("client");
             Bytes will;
             if (ctx.v5()) will.push_back(0);  // Will Properties length
             for (std::uint8_t b : Bytes{0, 3, 'w', 0xC3, 0x28, 0, 1, 'x'})
               will.push_back(b);
             p.send_raw(raw_connect(ctx.version, ctx.client_id(), 0x02 | 0x04, "MQTT", {}, will),
                        "CONNECT with a Will Topic that is not UTF-8");
             p.expect_close_with("invalid Will Topic",
                                 {ReasonCode::malformed_packet, ReasonCode::protocol_error});
           });

  add_case(out, "3.1", "connect.client-id-utf8", "a Client Identifier that is not valid UTF-8",
           {"MQTT-3.1.3-4", "MQTT-3.1.4-1"}, {"MQTT-3.1.3-4", "MQTT-3.1.4-1"}, [](Context& ctx) {
             Peer& p = ctx.peer("client");
             p.send_raw(raw_connect(ctx.version, "c\xC3\x28", 0x02),
                        "CONNECT with a Client Identifier that is not UTF-8");
             p.expect_close_with("invalid Client Identifier",
                                 {ReasonCode::malformed_packet, ReasonCode::protocol_error,
                                  ReasonCode::client_identifier_not_valid});
           });

  // A broker without this Authentication Method may answer CONNACK 0x8C or
  // 0x87; either way the connection closes.
  add_case(
      out, "4.12", "connect.unknown-auth-method",
      "5.0: an Authentication Method the broker does not support closes the connection", {},
      {"MQTT-4.12.0-1", "MQTT-4.13.2-1"}, [](Context& ctx) {
        Peer& p = ctx.peer("client");
        Connect c = ctx.connect_packet(ctx.client_id());
        c.properties.add(PropertyId::authentication_method, std::string("assay-no-such-method"));
        p.send(c);
        p.expect_close_with("an unsupported Authentication Method",
                            {ReasonCode::bad_authentication_method, ReasonCode::not_authorized});
      });

  // The refusing CONNACK may explain itself, but not beyond the client's
  // Maximum Packet Size: 8 bytes leave no room for a Reason String or a User
  // Property (every packet is checked against it as it arrives).
  add_case(
      out, "3.2", "connect.refusal-fits-maximum-packet-size",
      "5.0: a refusing CONNACK leaves out a Reason String or User Property that would "
      "exceed the client's Maximum Packet Size",
      {}, {"MQTT-3.2.2-19", "MQTT-3.2.2-20"}, [](Context& ctx) {
        Peer& p = ctx.peer("client");
        Connect c = ctx.connect_packet(ctx.client_id());
        c.properties.add(PropertyId::authentication_method, std::string("assay-no-such-method"));
        c.properties.add(PropertyId::maximum_packet_size, 8u);
        p.send(c);
        p.expect_close_with("an unsupported Authentication Method",
                            {ReasonCode::bad_authentication_method, ReasonCode::not_authorized});
      });

  add_case(out, "3.1", "connect.user-name-utf8", "a User Name that is not valid UTF-8",
           {"MQTT-3.1.3-11", "MQTT-3.1.4-1"}, {"MQTT-3.1.3-12", "MQTT-3.1.4-1"}, [](Context& ctx) {
             Peer& p = ctx.peer("client");
             const Bytes user{0, 3, 'u', 0xC3, 0x28};
             p.send_raw(raw_connect(ctx.version, ctx.client_id(), 0x02 | 0x80, "MQTT", {}, user),
                        "CONNECT with a User Name that is not UTF-8");
             p.expect_close_with("invalid User Name",
                                 {ReasonCode::malformed_packet, ReasonCode::protocol_error});
           });

  add_case(
      out, "3.1", "connect.password-without-username",
      "3.1.1: the Password Flag needs the User Name Flag", {"MQTT-3.1.2-22"}, {}, [](Context& ctx) {
        Peer& p = ctx.peer("client");
        const Bytes password{0, 2, 'p', 'w'};
        p.send_raw(raw_connect(ctx.version, ctx.client_id(), 0x02 | 0x40, "MQTT", {}, password),
                   "CONNECT with a password and no user name");
        p.expect_close("password without user name");
      });

  add_case(out, "3.2", "connect.connack-first",
           "CONNACK (Success) comes before any other packet, even when the client does not wait",
           // The CONNACK's flags and Reason Code are checked as it is decoded.
           {"MQTT-3.2.0-1", "MQTT-3.1.4-4"},
           {"MQTT-3.2.0-1", "MQTT-3.2.0-2", "MQTT-3.1.4-5", "MQTT-3.2.2-1", "MQTT-3.2.2-8"},
           [](Context& ctx) {
             Peer& p = ctx.peer("client");
             Connect c = ctx.connect_packet(ctx.client_id());
             ctx.add_credentials(c);
             p.send(c);
             p.send(Subscribe{1, {}, {{ctx.topic("x"), {}}}});
             p.send(Pingreq{});
             const Connack ack = p.expect<Connack>("CONNECT, SUBSCRIBE and PINGREQ sent at once");
             ctx.check(ack.reason_code == ReasonCode::success, "CONNACK must be Success");
             ctx.check(!ack.session_present, "Session Present must be 0 for a new clean session");
             // The spec orders acknowledgements of PUBLISH only (§4.6): SUBACK
             // and PINGRESP may come in either order.
             bool suback = false;
             bool pingresp = false;
             for (int i = 0; i < 2; ++i) {
               const Peer::Arrival a = p.next(ctx.options.timeout);
               ctx.check(a.kind == Peer::Arrival::Kind::packet,
                         "SUBACK and PINGRESP expected after CONNACK");
               suback = suback || std::holds_alternative<Suback>(a.packet);
               pingresp = pingresp || std::holds_alternative<Pingresp>(a.packet);
             }
             ctx.check(suback && pingresp, "expected SUBACK and PINGRESP after CONNACK");
             p.expect_nothing("one CONNACK per connection [MQTT-3.2.0-2]");
           });

  add_case(out, "3.1", "connect.client-id-23", "a 23-character alphanumeric client id is allowed",
           {"MQTT-3.1.3-5"}, {"MQTT-3.1.3-5"}, [](Context& ctx) {
             std::string id = ctx.client_id() + "Zz0123456789abcdefghijklmn";
             id.resize(23);
             Peer& p = ctx.peer("client");
             p.connect_ok(ctx.connect_packet(id));
             p.disconnect();
           });

  add_case(
      out, "3.1", "connect.empty-client-id", "an empty client id gets a unique one",
      {"MQTT-3.1.3-6"}, {"MQTT-3.1.3-6", "MQTT-3.1.3-7", "MQTT-3.2.2-16"}, [](Context& ctx) {
        Peer& a = ctx.peer("first");
        const Connack first = a.connect(ctx.connect_packet("", true));
        ctx.need(first.reason_code == ReasonCode::success,
                 "the broker does not allow empty client ids (it MAY refuse them)");
        Peer& b = ctx.peer("second");
        const Connack second = b.connect_ok(ctx.connect_packet("", true));
        // Both stay connected: neither took the other over.
        a.send(Pingreq{});
        a.expect<Pingresp>("the first client, after a second one connected with an empty id");
        if (ctx.v5()) {
          const std::string* id1 = first.properties.string(PropertyId::assigned_client_identifier);
          const std::string* id2 = second.properties.string(PropertyId::assigned_client_identifier);
          ctx.check(id1 != nullptr && id2 != nullptr,
                    "CONNACK must carry an Assigned Client Identifier [MQTT-3.2.2-16]");
          ctx.check(*id1 != *id2, "assigned client ids must be unique [MQTT-3.1.3-6]");
        }
      });

  add_case(out, "3.1", "connect.empty-client-id-persistent",
           "3.1.1: an empty client id with CleanSession 0 is refused with 0x02",
           {"MQTT-3.1.3-8", "MQTT-3.1.3-9"}, {}, [](Context& ctx) {
             Peer& p = ctx.peer("client");
             p.send_raw(raw_connect(ctx.version, "", 0x00), "CONNECT, empty id, CleanSession 0");
             const Connack ack = p.expect<Connack>("empty id with CleanSession 0");
             ctx.check(ack.reason_code == ReasonCode::client_identifier_not_valid,
                       "CONNACK return code must be 0x02 (identifier rejected)");
             p.expect_close("after CONNACK 0x02");
           });

  add_case(out, "3.1", "connect.takeover", "a second connection with the same id takes over",
           {"MQTT-3.1.4-2"}, {"MQTT-3.1.4-3", "MQTT-3.14.2-2", "MQTT-3.14.4-1", "MQTT-3.14.2-1"},
           [](Context& ctx) {
             const std::string id = ctx.client_id();
             Peer& a = ctx.peer("first");
             a.connect_ok(ctx.connect_packet(id));
             Peer& b = ctx.peer("second");
             b.connect_ok(ctx.connect_packet(id));
             if (ctx.v5()) {
               // The server "sends a DISCONNECT ... 0x8E" and MUST close; §4.13
               // lets a server close without one, so only a DISCONNECT that
               // comes is checked: 0x8E, no Session Expiry [MQTT-3.14.2-2],
               // and nothing after it [MQTT-3.14.4-1].
               Peer::Arrival got = a.next(ctx.options.timeout);
               if (got.kind == Peer::Arrival::Kind::packet) {
                 const auto* d = std::get_if<Disconnect>(&got.packet);
                 ctx.check(d != nullptr, "expected DISCONNECT or a close, got " +
                                             describe(got.packet, ctx.version));
                 ctx.check(d->reason_code == ReasonCode::session_taken_over,
                           "DISCONNECT must carry 0x8E (Session taken over)");
                 ctx.check(!d->properties.contains(PropertyId::session_expiry_interval),
                           "a server's DISCONNECT must not carry Session Expiry");
                 got = a.next(ctx.options.timeout);
               }
               ctx.check(got.kind == Peer::Arrival::Kind::closed,
                         "the first connection must be closed, with nothing after DISCONNECT");
             } else {
               a.expect_close("the first connection");
             }
             b.send(Pingreq{});
             b.expect<Pingresp>("the new connection");
           });

  add_case(
      out, "3.1", "connect.keep-alive",
      "a silent client is disconnected after one and a half Keep Alive periods", {"MQTT-3.1.2-24"},
      {"MQTT-3.1.2-22", "MQTT-3.2.2-22"}, [](Context& ctx) {
        Peer& p = ctx.peer("client");
        Connect c = ctx.connect_packet(ctx.client_id());
        c.keep_alive = 1;
        const Connack ack = p.connect_ok(c);
        std::uint32_t keep_alive = 1;
        if (auto k = ack.properties.integer(PropertyId::server_keep_alive)) keep_alive = *k;
        ctx.need(keep_alive > 0 && keep_alive <= 2,
                 "the broker set a Server Keep Alive of " + std::to_string(keep_alive) + " s");
        const Duration start = ctx.elapsed();
        const Duration limit = std::chrono::milliseconds(1500 * keep_alive);
        const Duration slack = std::chrono::milliseconds(1500);
        for (;;) {
          const Peer::Arrival a = p.next(limit + slack);
          if (a.kind == Peer::Arrival::Kind::closed) break;
          if (a.kind == Peer::Arrival::Kind::timeout) {
            ctx.fail("the broker kept a silent connection open for " +
                     std::to_string((ctx.elapsed() - start).count()) + " ms with Keep Alive " +
                     std::to_string(keep_alive) + " s");
          }
          ctx.check(std::holds_alternative<Disconnect>(a.packet),
                    "expected the connection to be closed, got " + describe(a.packet, ctx.version));
        }
        const Duration took = ctx.elapsed() - start;
        ctx.check(
            took >= std::chrono::milliseconds(1000 * keep_alive),
            "closed after " + std::to_string(took.count()) + " ms, before one Keep Alive period");
      });

  add_case(out, "3.12", "ping.pingresp", "PINGREQ is answered with PINGRESP", {"MQTT-3.12.4-1"},
           {"MQTT-3.12.4-1"}, [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             p.send(Pingreq{});
             p.expect<Pingresp>("PINGREQ");
           });

  add_case(out, "3.14", "disconnect.reserved-flags", "DISCONNECT reserved bits must be 0",
           {"MQTT-3.14.1-1"}, {"MQTT-3.14.1-1"}, [](Context& ctx) {
             Peer& p = connected(ctx, "client");
             p.send_raw(Bytes{0xE1, 0x00}, "DISCONNECT with flags 0001");
             expect_malformed_close(p, "DISCONNECT with reserved bits set");
           });
}

}  // namespace assay::conformance
