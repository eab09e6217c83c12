// Fuzz target: the client Connection. The first bytes choose the version,
// Clean Start, Keep Alive and messages queued before connecting; then the
// input is a sequence of operations: server packets (well-formed ones built
// from input bytes, so the fuzzer reaches the connected state, or raw bytes
// in input-chosen chunks), time passing, and the application's commands
// (publish, subscribe, unsubscribe, disconnect).
//
// Oracles, besides no crash, leak or undefined behaviour (ASan, UBSan):
//  - every byte the client sends decodes cleanly as packets a client may send;
//  - the first packet is CONNECT, and there is only one [MQTT-3.1.0-1/2];
//  - before a successful CONNACK only CONNECT and AUTH go out;
//  - a new QoS 1/2 PUBLISH (DUP 0) uses a packet id no other unfinished
//    PUBLISH holds [MQTT-2.2.1-3];
//  - PUBACK and PUBREC answer an id the server used in a PUBLISH of that QoS,
//    PUBREL an id the server sent PUBREC for [MQTT-2.2.1-5];
//  - nothing is sent after the client asked to close.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "assay/mqtt/codec.hpp"
#include "assay/mqtt/connection.hpp"
#include "fuzz_input.hpp"

namespace {

using namespace assay::mqtt;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fuzz_client oracle failed: %s\n", what);
  std::abort();
}

using assay::fuzz::Input;

struct Harness {
  Connection client;
  Version version;
  StreamDecoder server_side;
  Time now{0};
  bool connect_seen = false;
  bool connected = false;
  bool close_requested = false;
  std::set<std::uint16_t> in_use;           // ids of our unfinished PUBLISHes
  std::set<std::uint16_t> server_qos1_ids;  // ids the server used at QoS 1
  std::set<std::uint16_t> server_qos2_ids;  // ... at QoS 2
  std::set<std::uint16_t> pubrec_received;  // ids the server sent PUBREC for
  std::uint16_t last_subscribe = 0;
  std::uint16_t last_unsubscribe = 0;
  std::size_t last_subscribe_count = 0;

  Harness(ConnectionOptions o, Version v) : client(o, Time{0}), version(v), server_side(v) {}

  void pump() {
    for (int rounds = 0; rounds < 64; ++rounds) {
      bool moved = false;
      while (auto e = client.poll_event()) {
        moved = true;
        handle(*e);
      }
      Bytes out;
      if (client.poll_transmit(out)) {
        moved = true;
        check_output(out);
      }
      if (!moved) return;
    }
  }

  void handle(const Event& e) {
    if (const auto* r = std::get_if<event::PacketReceived>(&e)) {
      if (const auto* pub = std::get_if<Publish>(&r->packet)) {
        if (pub->qos == QoS::at_least_once) server_qos1_ids.insert(pub->packet_id);
        if (pub->qos == QoS::exactly_once) server_qos2_ids.insert(pub->packet_id);
      } else if (const auto* rec = std::get_if<Pubrec>(&r->packet)) {
        pubrec_received.insert(rec->packet_id);
      }
    } else if (std::holds_alternative<event::Connected>(e)) {
      connected = true;
    } else if (const auto* c = std::get_if<event::PublishCompleted>(&e)) {
      if (c->packet_id != 0) in_use.erase(c->packet_id);
    } else if (std::holds_alternative<event::CloseRequested>(e)) {
      close_requested = true;
    } else if (std::holds_alternative<event::SubscribeAcked>(e)) {
      last_subscribe = 0;
    } else if (std::holds_alternative<event::UnsubscribeAcked>(e)) {
      last_unsubscribe = 0;
    }
  }

  void check_output(const Bytes& out) {
    if (close_requested && client.state() == Connection::State::closed) fail("bytes after close");
    server_side.feed(out);
    for (;;) {
      DecodeResult r = server_side.next();
      if (std::holds_alternative<NeedMore>(r)) return;
      if (std::holds_alternative<Violation>(r)) fail("the client sent a malformed packet");
      const Packet& p = std::get<Decoded>(r).packet;
      const PacketType t = type_of(p);
      if (t == PacketType::connack || t == PacketType::suback || t == PacketType::unsuback ||
          t == PacketType::pingresp) {
        fail("the client sent a server-only packet");
      }
      if (t == PacketType::connect) {
        if (connect_seen) fail("a second CONNECT");
        connect_seen = true;
        continue;
      }
      if (!connect_seen) fail("a packet before CONNECT");
      if (!connected && t != PacketType::auth && t != PacketType::disconnect) {
        fail("a packet before the CONNACK");
      }
      if (const auto* pub = std::get_if<Publish>(&p); pub && pub->qos != QoS::at_most_once) {
        if (!pub->dup && !in_use.insert(pub->packet_id).second) {
          fail("a new PUBLISH reused an id in use [MQTT-2.2.1-3]");
        }
        in_use.insert(pub->packet_id);
      } else if (const auto* ack = std::get_if<Puback>(&p)) {
        if (server_qos1_ids.count(ack->packet_id) == 0) fail("PUBACK for no QoS 1 PUBLISH");
      } else if (const auto* rec = std::get_if<Pubrec>(&p)) {
        if (server_qos2_ids.count(rec->packet_id) == 0) fail("PUBREC for no QoS 2 PUBLISH");
      } else if (const auto* rel = std::get_if<Pubrel>(&p)) {
        if (pubrec_received.count(rel->packet_id) == 0) fail("PUBREL for no PUBREC");
      }
    }
  }

  // An id the client has in flight, or any id, chosen by the input.
  std::uint16_t pick_id(Input& in) {
    const std::uint8_t b = in.byte();
    if (!in_use.empty() && (b & 0x80) == 0) {
      auto it = in_use.begin();
      std::advance(it, b % in_use.size());
      return *it;
    }
    return static_cast<std::uint16_t>(1 + (b & 0x07));
  }

  void from_server(const Packet& p) {
    Bytes bytes;
    try {
      encode(p, version, bytes);
    } catch (const EncodeError&) {
      return;  // a packet that cannot exist in this version
    }
    client.receive(bytes, now);
  }

  Packet server_packet(Input& in) {
    const std::uint8_t kind = in.byte();
    const ReasonCode rc = (kind & 0x80) != 0 ? ReasonCode::unspecified_error : ReasonCode::success;
    switch (kind % 10) {
      case 0: {
        Connack c;
        const std::uint8_t f = in.byte();
        c.session_present = (f & 0x01) != 0;
        c.reason_code = (f & 0x02) != 0 ? ReasonCode::not_authorized : ReasonCode::success;
        if (version == Version::v5 && c.reason_code == ReasonCode::success) {
          if ((f & 0x04) != 0) c.properties.add(PropertyId::receive_maximum, 1u + (f >> 6));
          if ((f & 0x08) != 0) c.properties.add(PropertyId::topic_alias_maximum, 2u);
          if ((f & 0x10) != 0) c.properties.add(PropertyId::maximum_qos, 1u);
          if ((f & 0x20) != 0) c.properties.add(PropertyId::maximum_packet_size, 40u);
          if ((f & 0x40) != 0) c.properties.add(PropertyId::server_keep_alive, 1u);
          if ((f & 0x80) != 0) c.properties.add(PropertyId::assigned_client_identifier, "a");
        }
        return c;
      }
      case 1:
      case 2: {
        Publish p;
        const std::uint8_t f = in.byte();
        p.qos = static_cast<QoS>(f % 3);
        p.dup = (f & 0x04) != 0 && p.qos != QoS::at_most_once;
        p.retain = (f & 0x08) != 0;
        p.topic = (f & 0x10) != 0 ? "a/b" : "c";
        if (p.qos != QoS::at_most_once) p.packet_id = static_cast<std::uint16_t>(1 + (f >> 5));
        if (version == Version::v5 && (f & 0x20) != 0) {
          p.properties.add(PropertyId::topic_alias, 1u);
          if ((f & 0x40) != 0) p.topic.clear();
        }
        p.payload = SharedBytes(Bytes(in.byte() % 16, 0x42));
        return p;
      }
      case 3:
        return Puback{pick_id(in), rc, {}, AckLayout::shortest};
      case 4:
        return Pubrec{pick_id(in), rc, {}, AckLayout::shortest};
      case 5:
        return Pubcomp{pick_id(in), ReasonCode::success, {}, AckLayout::shortest};
      case 6: {
        const std::uint8_t f = in.byte();
        Pubrel rel;
        rel.packet_id = static_cast<std::uint16_t>(1 + (f & 0x07));
        return rel;
      }
      case 7: {
        Suback s;
        s.packet_id = last_subscribe != 0 ? last_subscribe : in.u16();
        const std::size_t n = last_subscribe_count != 0 ? last_subscribe_count : 1;
        for (std::size_t i = 0; i < n; ++i) {
          s.reason_codes.push_back((kind & 0x40) != 0 ? ReasonCode::unspecified_error
                                                      : ReasonCode::granted_qos_1);
        }
        return s;
      }
      case 8: {
        Unsuback u;
        u.packet_id = last_unsubscribe != 0 ? last_unsubscribe : in.u16();
        if (version == Version::v5) u.reason_codes.push_back(ReasonCode::success);
        return u;
      }
      default:
        if ((kind & 0x40) != 0) return Disconnect{ReasonCode::server_shutting_down, {}, {}};
        return Pingresp{};
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t flags = in.byte();
  const Version version = (flags & 0x01) != 0 ? Version::v5 : Version::v3_1_1;
  ConnectionOptions options;
  options.role = Role::client;
  options.version = version;
  options.auto_topic_alias = (flags & 0x02) != 0;
  options.trace_packets = true;  // PacketReceived feeds the id oracles
  Harness h(options, version);

  Connect connect;
  connect.version = version;
  connect.clean_start = (flags & 0x04) != 0;
  connect.keep_alive = (flags & 0x08) != 0 ? 2 : 0;
  connect.client_id = (flags & 0x10) != 0 ? "fuzz" : "";
  if (connect.client_id.empty()) connect.clean_start = true;  // [MQTT-3.1.3-7] (3.1.1)
  if (version == Version::v5 && (flags & 0x20) != 0) {
    connect.properties.add(PropertyId::session_expiry_interval, 60u);
    connect.properties.add(PropertyId::receive_maximum, 2u);
  }
  // Messages queued before the connection exists.
  for (int i = 0; i < (flags >> 6); ++i) {
    Publish p;
    p.topic = "q";
    p.qos = static_cast<QoS>(1 + i % 2);
    h.client.publish(std::move(p), h.now);
  }
  h.client.connect(connect, Session(connect.client_id), h.now);
  h.pump();

  while (!in.empty() && h.client.state() != Connection::State::closed) {
    switch (in.byte() % 8) {
      case 0:
      case 1:
      case 2:  // a well-formed packet from the server
        h.from_server(h.server_packet(in));
        break;
      case 3:  // raw bytes from the server
        h.client.receive(in.take(1 + in.byte() % 32), h.now);
        break;
      case 4: {  // time passes
        h.now += Duration(100 * std::int64_t{in.byte()});
        if (auto d = h.client.next_deadline(); d && *d <= h.now) h.client.handle_timeout(h.now);
        break;
      }
      case 5: {  // the application publishes
        Publish p;
        const std::uint8_t f = in.byte();
        p.topic = (f & 1) != 0 ? "a/b" : "long/topic/name";
        p.qos = static_cast<QoS>((f >> 1) % 3);
        p.retain = (f & 0x08) != 0;
        p.payload = SharedBytes(Bytes(in.byte() % 64, 0x41));
        if (!h.client.ended()) h.client.publish(std::move(p), h.now);
        break;
      }
      case 6: {  // the application subscribes or unsubscribes
        const std::uint8_t f = in.byte();
        if (h.client.state() != Connection::State::connected) break;
        if ((f & 1) != 0) {
          Subscribe s;
          s.subscriptions.push_back({"a/+", {static_cast<QoS>((f >> 1) % 3)}});
          if ((f & 0x08) != 0) s.subscriptions.push_back({"#", {}});
          h.last_subscribe_count = s.subscriptions.size();
          h.last_subscribe = h.client.subscribe(std::move(s), h.now);
        } else {
          h.last_unsubscribe = h.client.unsubscribe(Unsubscribe{0, {}, {"a/+"}}, h.now);
        }
        break;
      }
      default:
        if (h.client.state() == Connection::State::connected && (in.byte() & 7) == 0) {
          h.client.disconnect(Disconnect{}, h.now);
        }
    }
    h.pump();
  }
  h.client.transport_closed(h.now);
  h.pump();
  return 0;
}
