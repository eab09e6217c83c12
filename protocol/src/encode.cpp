// The encoder: checks that a packet can be encoded for the version (throwing
// EncodeError on local misuse), then writes it through a sink, once to count
// and once to write.
#include <string>

#include "assay/mqtt/codec.hpp"
#include "property_codec.hpp"

namespace assay::mqtt {
namespace {

using detail::write_properties;

[[noreturn]] void misuse(const std::string& what) {
  throw EncodeError(what);
}

void check_length(std::size_t n, std::string_view what) {
  if (n > max_string_length) misuse(std::string(what) + " is longer than 65,535 bytes");
}

void check_properties(const Properties& props, Version v, PropertyContext where) {
  if (v == Version::v3_1_1) {
    if (!props.empty()) misuse("MQTT 3.1.1 packets carry no properties");
    return;
  }
  detail::check_encodable(props, where);
}

void check_reason(ReasonCode rc, PacketType t, Version v) {
  if (v == Version::v3_1_1) {
    if (rc != ReasonCode::success) {
      misuse(std::string(to_string(t)) + " carries no Reason Code in MQTT 3.1.1");
    }
    return;
  }
  if (!allowed_in(rc, t)) {
    misuse("Reason Code " + std::to_string(static_cast<unsigned>(rc)) + " is not allowed in " +
           std::string(to_string(t)));
  }
}

void check_qos(QoS q, std::string_view what) {
  if (static_cast<unsigned>(q) > 2) misuse(std::string(what) + " is not 0, 1 or 2");
}

void check_packet_id(std::uint16_t id, PacketType t) {
  if (id == 0) misuse(std::string(to_string(t)) + " needs a non-zero Packet Identifier");
}

template <class Ack>
void check_ack_layout(const Ack& a) {
  if (a.layout == AckLayout::reason_code && !a.properties.empty()) {
    misuse("AckLayout::reason_code cannot carry properties");
  }
}

// ---- validation -----------------------------------------------------------

struct Validator {
  Version v;

  void operator()(const Connect& c) const {
    check_properties(c.properties, c.version, PropertyContext::connect);
    check_length(c.client_id.size(), "Client Identifier");
    if (c.will) {
      check_properties(c.will->properties, c.version, PropertyContext::will);
      check_qos(c.will->qos, "Will QoS");
      check_length(c.will->topic.size(), "Will Topic");
      check_length(c.will->payload.size(), "Will Payload");
    }
    if (c.username) check_length(c.username->size(), "User Name");
    if (c.password) check_length(c.password->size(), "Password");
    if (c.version == Version::v3_1_1 && c.password && !c.username) {
      misuse("MQTT 3.1.1 needs a User Name when a Password is sent [MQTT-3.1.2-22]");
    }
  }
  void operator()(const Connack& c) const {
    if (v == Version::v3_1_1) {
      if (!connack_code_v311(c.reason_code)) {
        misuse("Reason Code " + std::to_string(static_cast<unsigned>(c.reason_code)) +
               " has no MQTT 3.1.1 CONNACK Return Code");
      }
    } else {
      check_reason(c.reason_code, PacketType::connack, v);
    }
    check_properties(c.properties, v, PropertyContext::connack);
    if (c.session_present && c.reason_code != ReasonCode::success) {
      misuse("Session Present must be 0 when the connection is refused");
    }
  }
  void operator()(const Publish& p) const {
    check_qos(p.qos, "PUBLISH QoS");
    check_length(p.topic.size(), "Topic Name");
    check_properties(p.properties, v, PropertyContext::publish);
    if (p.qos == QoS::at_most_once) {
      if (p.packet_id != 0) misuse("a QoS 0 PUBLISH has no Packet Identifier [MQTT-2.2.1-2]");
      if (p.dup) misuse("DUP must be 0 on a QoS 0 PUBLISH [MQTT-3.3.1-2]");
    } else {
      check_packet_id(p.packet_id, PacketType::publish);
    }
  }
  template <PacketType T>
  void operator()(const PublishAck<T>& a) const {
    check_packet_id(a.packet_id, T);
    check_reason(a.reason_code, T, v);
    check_properties(a.properties, v, static_cast<PropertyContext>(T));
    check_ack_layout(a);
  }
  void operator()(const Subscribe& s) const {
    check_packet_id(s.packet_id, PacketType::subscribe);
    check_properties(s.properties, v, PropertyContext::subscribe);
    if (s.subscriptions.empty()) misuse("SUBSCRIBE needs at least one Topic Filter");
    for (const auto& sub : s.subscriptions) {
      check_length(sub.filter.size(), "Topic Filter");
      check_qos(sub.options.qos, "Requested QoS");
      if (sub.options.retain_handling > 2) misuse("Retain Handling is not 0, 1 or 2");
    }
  }
  void operator()(const Suback& s) const {
    check_packet_id(s.packet_id, PacketType::suback);
    check_properties(s.properties, v, PropertyContext::suback);
    if (s.reason_codes.empty()) misuse("SUBACK needs at least one Reason Code");
    for (const auto rc : s.reason_codes) {
      const auto code = static_cast<unsigned>(rc);
      if (v == Version::v3_1_1 ? !(code <= 2 || code == 0x80)
                               : !allowed_in(rc, PacketType::suback)) {
        misuse("code " + std::to_string(code) + " is not a SUBACK code");
      }
    }
  }
  void operator()(const Unsubscribe& u) const {
    check_packet_id(u.packet_id, PacketType::unsubscribe);
    check_properties(u.properties, v, PropertyContext::unsubscribe);
    if (u.filters.empty()) misuse("UNSUBSCRIBE needs at least one Topic Filter");
    for (const auto& f : u.filters)
      check_length(f.size(), "Topic Filter");
  }
  void operator()(const Unsuback& u) const {
    check_packet_id(u.packet_id, PacketType::unsuback);
    check_properties(u.properties, v, PropertyContext::unsuback);
    if (v == Version::v3_1_1) {
      if (!u.reason_codes.empty()) misuse("MQTT 3.1.1 UNSUBACK carries no Reason Codes");
      return;
    }
    if (u.reason_codes.empty()) misuse("UNSUBACK needs at least one Reason Code");
    for (const auto rc : u.reason_codes)
      check_reason(rc, PacketType::unsuback, v);
  }
  void operator()(const Pingreq&) const {}
  void operator()(const Pingresp&) const {}
  void operator()(const Disconnect& d) const {
    check_reason(d.reason_code, PacketType::disconnect, v);
    check_properties(d.properties, v, PropertyContext::disconnect);
    check_ack_layout(d);
  }
  void operator()(const Auth& a) const {
    if (v == Version::v3_1_1) misuse("AUTH does not exist in MQTT 3.1.1");
    check_reason(a.reason_code, PacketType::auth, v);
    check_properties(a.properties, v, PropertyContext::auth);
    check_ack_layout(a);
  }
};

// ---- writing --------------------------------------------------------------

// Reason Code and properties of the 5.0 acknowledgements, DISCONNECT and AUTH,
// in the layout the packet asks for.
template <class Sink, class P>
void write_reason_tail(Sink& s, const P& p, Version v) {
  if (v == Version::v3_1_1) return;
  const bool has_props = !p.properties.empty();
  const bool write_code =
      p.layout != AckLayout::shortest || has_props || p.reason_code != ReasonCode::success;
  const bool write_props = p.layout == AckLayout::full || has_props;
  if (write_code) s.byte(static_cast<std::uint8_t>(p.reason_code));
  if (write_props) write_properties(s, p.properties);
}

template <class Sink>
struct BodyWriter {
  Sink& s;
  Version v;

  void operator()(const Connect& c) {
    const Version cv = c.version;
    wire::put_string(s, "MQTT");
    s.byte(static_cast<std::uint8_t>(cv));
    std::uint8_t flags = 0;
    if (c.clean_start) flags |= 0x02;
    if (c.will) {
      flags |= 0x04;
      flags = static_cast<std::uint8_t>(flags | (static_cast<unsigned>(c.will->qos) << 3));
      if (c.will->retain) flags |= 0x20;
    }
    if (c.password) flags |= 0x40;
    if (c.username) flags |= 0x80;
    s.byte(flags);
    wire::put_u16(s, c.keep_alive);
    if (cv == Version::v5) write_properties(s, c.properties);
    wire::put_string(s, c.client_id);
    if (c.will) {
      if (cv == Version::v5) write_properties(s, c.will->properties);
      wire::put_string(s, c.will->topic);
      wire::put_binary(s, c.will->payload.view());
    }
    if (c.username) wire::put_string(s, *c.username);
    if (c.password) wire::put_binary(s, *c.password);
  }
  void operator()(const Connack& c) {
    s.byte(c.session_present ? 1 : 0);
    if (v == Version::v3_1_1) {
      s.byte(*connack_code_v311(c.reason_code));
      return;
    }
    s.byte(static_cast<std::uint8_t>(c.reason_code));
    write_properties(s, c.properties);
  }
  void operator()(const Publish& p) {
    wire::put_string(s, p.topic);
    if (p.qos != QoS::at_most_once) wire::put_u16(s, p.packet_id);
    if (v == Version::v5) write_properties(s, p.properties);
    wire::put_raw(s, p.payload.view());
  }
  template <PacketType T>
  void operator()(const PublishAck<T>& a) {
    wire::put_u16(s, a.packet_id);
    write_reason_tail(s, a, v);
  }
  void operator()(const Subscribe& sub) {
    wire::put_u16(s, sub.packet_id);
    if (v == Version::v5) write_properties(s, sub.properties);
    for (const auto& entry : sub.subscriptions) {
      wire::put_string(s, entry.filter);
      const auto& o = entry.options;
      auto b = static_cast<std::uint8_t>(o.qos);
      if (v == Version::v5) {
        if (o.no_local) b |= 0x04;
        if (o.retain_as_published) b |= 0x08;
        b = static_cast<std::uint8_t>(b | (o.retain_handling << 4));
      }
      s.byte(b);
    }
  }
  void operator()(const Suback& a) {
    wire::put_u16(s, a.packet_id);
    if (v == Version::v5) write_properties(s, a.properties);
    for (const auto rc : a.reason_codes)
      s.byte(static_cast<std::uint8_t>(rc));
  }
  void operator()(const Unsubscribe& u) {
    wire::put_u16(s, u.packet_id);
    if (v == Version::v5) write_properties(s, u.properties);
    for (const auto& f : u.filters)
      wire::put_string(s, f);
  }
  void operator()(const Unsuback& u) {
    wire::put_u16(s, u.packet_id);
    if (v == Version::v3_1_1) return;
    write_properties(s, u.properties);
    for (const auto rc : u.reason_codes)
      s.byte(static_cast<std::uint8_t>(rc));
  }
  void operator()(const Pingreq&) {}
  void operator()(const Pingresp&) {}
  void operator()(const Disconnect& d) { write_reason_tail(s, d, v); }
  void operator()(const Auth& a) { write_reason_tail(s, a, v); }
};

std::uint8_t first_byte(const Publish& p) {
  return static_cast<std::uint8_t>(static_cast<unsigned>(PacketType::publish) << 4 |
                                   (p.dup ? 0x08 : 0) | (static_cast<unsigned>(p.qos) << 1) |
                                   (p.retain ? 0x01 : 0));
}

template <class P>
std::uint8_t first_byte(const P&) {
  constexpr PacketType t = packet_type_of<P>();
  constexpr auto type = static_cast<std::uint8_t>(static_cast<unsigned>(t) << 4);
  if constexpr (t == PacketType::pubrel || t == PacketType::subscribe ||
                t == PacketType::unsubscribe) {
    return static_cast<std::uint8_t>(type | 0x02);
  }
  return type;
}

std::uint8_t first_byte(const Packet& p) {
  return std::visit([](const auto& x) { return first_byte(x); }, p);
}

// Calls fn on the packet: one alternative directly, a whole Packet through
// std::visit.
template <class Fn, class P>
void apply(Fn&& fn, const P& p) {
  if constexpr (std::is_same_v<P, Packet>) {
    std::visit(fn, p);
  } else {
    fn(p);
  }
}

// The whole packet: fixed header byte, Remaining Length, body.
std::size_t packet_size(std::size_t body) {
  return 1 + vbi_size(static_cast<std::uint32_t>(body)) + body;
}

// Validates one packet (any alternative, or a whole Packet) and counts its body.
template <class P>
std::size_t checked_body_size(const P& p, Version v) {
  wire::CountingSink counter;
  apply(Validator{v}, p);
  apply(BodyWriter<wire::CountingSink>{counter, v}, p);
  if (counter.size > max_remaining_length) {
    misuse("packet body of " + std::to_string(counter.size) +
           " bytes exceeds the largest Remaining Length");
  }
  return counter.size;
}

template <class P>
void encode_body(const P& p, Version v, std::size_t body, Bytes& out) {
  const std::size_t start = out.size();
  const std::size_t size = packet_size(body);
  out.resize(start + size);
  wire::SpanSink sink{out.data() + start, out.data() + start + size};
  sink.byte(first_byte(p));
  wire::put_vbi(sink, static_cast<std::uint32_t>(body));
  apply(BodyWriter<wire::SpanSink>{sink, v}, p);
  if (sink.at != sink.end) wire::SpanSink::mismatch();
}

template <class P>
void encode_one(const P& p, Version v, Bytes& out) {
  encode_body(p, v, checked_body_size(p, v), out);
}

}  // namespace

std::size_t vbi_size(std::uint32_t value) {
  wire::CountingSink c;
  wire::put_vbi(c, value);
  return c.size;
}

void encode_vbi(std::uint32_t value, Bytes& out) {
  wire::VectorSink s{out};
  wire::put_vbi(s, value);
}

std::size_t encoded_size(const Packet& p, Version v) {
  return packet_size(checked_body_size(p, v));
}

void encode(const Packet& p, Version v, Bytes& out) {
  encode_one(p, v, out);
}

std::size_t encoded_size(const Publish& p, Version v) {
  return packet_size(checked_body_size(p, v));
}

void encode(const Publish& p, Version v, Bytes& out) {
  encode_one(p, v, out);
}

bool encode_within(const Publish& p, Version v, std::size_t limit, Bytes& out) {
  const std::size_t body = checked_body_size(p, v);
  if (packet_size(body) > limit) return false;
  encode_body(p, v, body, out);
  return true;
}

template <PacketType T>
void encode(const PublishAck<T>& p, Version v, Bytes& out) {
  // The common acknowledgement, success without properties, is four bytes in
  // either version (its Reason Code may be omitted in 5.0, §3.4.2.1): written
  // directly, without the validating and counting passes.
  if (p.packet_id != 0 && p.reason_code == ReasonCode::success && p.properties.empty() &&
      p.layout == AckLayout::shortest) {
    const std::uint8_t bytes[] = {first_byte(p), 2, static_cast<std::uint8_t>(p.packet_id >> 8),
                                  static_cast<std::uint8_t>(p.packet_id & 0xFF)};
    out.insert(out.end(), std::begin(bytes), std::end(bytes));
    return;
  }
  encode_one(p, v, out);
}
template void encode(const Puback&, Version, Bytes&);
template void encode(const Pubrec&, Version, Bytes&);
template void encode(const Pubrel&, Version, Bytes&);
template void encode(const Pubcomp&, Version, Bytes&);

Bytes encode(const Packet& p, Version v) {
  Bytes out;
  encode(p, v, out);
  return out;
}

}  // namespace assay::mqtt
