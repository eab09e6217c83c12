// Fuzz target: the server Connection, driven by an input that is a sequence
// of operations: bytes from the client (in input-chosen chunks), time
// advancing, and the application's answers (accept or reject, SUBACK,
// acknowledgements, messages to the client, a disconnect).
//
// Oracles, besides no crash, leak or undefined behaviour (ASan, UBSan):
//  - every byte the server sends decodes cleanly as packets a server may send
//    to a client, under the version in force;
//  - at most one CONNACK, and nothing but AUTH before it [MQTT-3.2.0-1/2];
//  - no DISCONNECT before a successful CONNACK [MQTT-3.14.0-1];
//  - nothing is sent after the server asked to close [MQTT-3.14.4-1];
//  - a second server with every packet traced (so that nothing takes the
//    four-byte acknowledgement path) sends the same bytes and reaches the
//    same state.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>

#include "assay/mqtt/connection.hpp"
#include "fuzz_input.hpp"

namespace {

using namespace assay::mqtt;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_connection oracle failed: %s\n", what);
  std::abort();
}

using assay::fuzz::Input;

struct Harness {
  Connection server;
  StreamDecoder client_side{Version::v5};
  Time now{0};
  bool connack_seen = false;
  bool connack_success = false;
  bool close_requested = false;
  bool reject = false;
  Connack connack;
  std::deque<std::uint16_t> pending;
  Bytes sent;  // everything the server wrote

  Harness(ConnectionOptions o, Connack ack, bool reject_connect)
      : server(o, Time{0}), reject(reject_connect), connack(std::move(ack)) {}

  void pump() {
    for (int rounds = 0; rounds < 64; ++rounds) {
      bool moved = false;
      while (auto e = server.poll_event()) {
        moved = true;
        handle(*e);
      }
      Bytes out;
      if (server.poll_transmit(out)) {
        moved = true;
        check_output(out);
      }
      if (!moved) return;
    }
  }

  void handle(const Event& e) {
    if (const auto* c = std::get_if<event::ConnectReceived>(&e)) {
      if (reject) {
        server.reject(Connack{false, ReasonCode::not_authorized, {}}, now);
      } else if (c->connect.properties.contains(PropertyId::authentication_method)) {
        server.reject(Connack{false, ReasonCode::bad_authentication_method, {}}, now);
      } else {
        Connack ack = connack;
        if (c->connect.version == Version::v3_1_1) ack.properties = {};
        server.accept(ack, Session(c->connect.client_id), now);
      }
    } else if (const auto* s = std::get_if<event::SubscribeReceived>(&e)) {
      Suback ack{s->subscribe.packet_id, {}, {}};
      for (const auto& sub : s->subscribe.subscriptions) {
        ack.reason_codes.push_back(static_cast<ReasonCode>(sub.options.qos));
      }
      server.suback(ack, now);
    } else if (const auto* u = std::get_if<event::UnsubscribeReceived>(&e)) {
      Unsuback ack{u->unsubscribe.packet_id, {}, {}};
      if (server.version() == Version::v5) {
        ack.reason_codes.assign(u->unsubscribe.filters.size(), ReasonCode::success);
      }
      server.unsuback(ack, now);
    } else if (const auto* m = std::get_if<event::MessageReceived>(&e)) {
      if (m->awaiting_ack) pending.push_back(m->message.packet_id);
    } else if (std::holds_alternative<event::CloseRequested>(e)) {
      close_requested = true;
    }
  }

  void check_output(const Bytes& out) {
    if (close_requested && server.state() == Connection::State::closed) {
      fail("bytes after close");
    }
    sent.insert(sent.end(), out.begin(), out.end());
    client_side.set_version(server.version());
    client_side.feed(out);
    for (;;) {
      DecodeResult r = client_side.next();
      if (std::holds_alternative<NeedMore>(r)) return;
      if (std::holds_alternative<Violation>(r)) fail("the server sent a malformed packet");
      const Packet& p = std::get<Decoded>(r).packet;
      const PacketType t = type_of(p);
      if (t == PacketType::connect || t == PacketType::subscribe || t == PacketType::unsubscribe ||
          t == PacketType::pingreq) {
        fail("the server sent a client-only packet");
      }
      if (t == PacketType::connack) {
        if (connack_seen) fail("a second CONNACK");
        connack_seen = true;
        connack_success = std::get<Connack>(p).reason_code == ReasonCode::success;
      } else if (!connack_seen && t != PacketType::auth) {
        fail("a packet before CONNACK");
      }
      if (t == PacketType::disconnect && !connack_success) fail("DISCONNECT before CONNACK");
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t flags = in.byte();
  ConnectionOptions options;
  options.role = Role::server;
  options.manual_ack = (flags & 0x01) != 0;
  options.maximum_packet_size = 4096;
  Connack connack;
  static constexpr std::uint32_t receive_maxima[] = {1, 2, 10, 65535};
  connack.properties.add(PropertyId::receive_maximum, receive_maxima[(flags >> 1) & 0x03]);
  if ((flags & 0x08) != 0) connack.properties.add(PropertyId::topic_alias_maximum, 4u);
  if ((flags & 0x10) != 0) connack.properties.add(PropertyId::maximum_qos, 1u);
  if ((flags & 0x20) != 0) connack.properties.add(PropertyId::retain_available, 0u);
  Harness h(options, connack, (flags & 0x40) != 0);
  // The same server with every packet traced, so that none is taken as a
  // ShortAck: both must send the same bytes and reach the same state.
  options.trace_packets = true;
  Harness traced(options, connack, (flags & 0x40) != 0);
  Harness* const both[] = {&h, &traced};

  while (!in.empty() && h.server.state() != Connection::State::closed) {
    switch (in.byte() % 6) {
      case 0:
      case 1: {  // bytes from the client
        const auto bytes = in.take(1 + in.byte() % 64);
        for (Harness* x : both)
          x->server.receive(bytes, x->now);
        break;
      }
      case 2: {  // time passes
        const Duration step(100 * std::int64_t{in.byte()});
        for (Harness* x : both) {
          x->now += step;
          if (auto d = x->server.next_deadline(); d && *d <= x->now) {
            x->server.handle_timeout(x->now);
          }
        }
        break;
      }
      case 3: {  // a message for the client
        Publish p;
        p.topic = (in.byte() & 1) != 0 ? "a/b" : "c";
        p.qos = static_cast<QoS>(in.byte() % 3);
        p.payload = SharedBytes(Bytes(in.byte(), 0x41));
        for (Harness* x : both)
          x->server.publish(p, x->now);
        break;
      }
      case 4:  // the application acknowledges the oldest message it holds
        if (!h.pending.empty() && h.server.state() == Connection::State::connected) {
          const ReasonCode rc =
              (in.byte() & 1) != 0 ? ReasonCode::success : ReasonCode::not_authorized;
          for (Harness* x : both) {
            if (x->pending.empty()) continue;  // the comparison below reports it
            x->server.acknowledge(x->pending.front(), x->now, rc);
            x->pending.pop_front();
          }
        }
        break;
      default:
        if (h.server.state() == Connection::State::connected && (in.byte() & 7) == 0) {
          for (Harness* x : both)
            x->server.disconnect(Disconnect{ReasonCode::administrative_action, {}, {}}, x->now);
        }
    }
    for (Harness* x : both)
      x->pump();
    if (h.sent != traced.sent || h.server.state() != traced.server.state() ||
        h.pending != traced.pending) {
      fail("tracing packets changed what the server sent or did");
    }
  }
  for (Harness* x : both) {
    x->server.transport_closed(x->now);
    x->pump();
  }
  return 0;
}
