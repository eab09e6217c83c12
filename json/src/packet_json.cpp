#include "assay/json/packet_json.hpp"

#include <cstdio>

#include "assay/mqtt/utf8.hpp"

namespace assay::packet_json {

using json = nlohmann::ordered_json;
using namespace assay::mqtt;

std::string hex_byte(std::uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(b));
  return buf;
}

std::string to_hex(ByteView bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0x0F];
  }
  return out;
}

namespace {

json binary(ByteView bytes) {
  json j = {{"size", bytes.size()}, {"hex", to_hex(bytes)}};
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (check_utf8(text) == Utf8Status::ok) j["text"] = text;
  return j;
}

void reason(json& j, ReasonCode rc, PacketType t) {
  j["reason_code"] = hex_byte(static_cast<std::uint8_t>(rc));
  j["reason"] = name(rc, t);
}

void properties(json& j, const Properties& props, PropertyContext where) {
  if (!props.empty()) j["properties"] = to_json(props, where);
}

template <PacketType T>
void ack_fields(json& j, const PublishAck<T>& a, Version v) {
  j["packet_id"] = a.packet_id;
  if (v == Version::v5) {
    reason(j, a.reason_code, T);
    properties(j, a.properties, static_cast<PropertyContext>(T));
  }
}

struct Fields {
  json& j;
  Version v;

  void operator()(const Connect& c) {
    j["protocol_version"] = to_string(c.version);
    j[c.version == Version::v5 ? "clean_start" : "clean_session"] = c.clean_start;
    j["keep_alive"] = c.keep_alive;
    j["client_id"] = c.client_id;
    properties(j, c.properties, PropertyContext::connect);
    if (c.will) {
      json w = {{"topic", c.will->topic},
                {"qos", static_cast<int>(c.will->qos)},
                {"retain", c.will->retain},
                {"payload", binary(c.will->payload.view())}};
      properties(w, c.will->properties, PropertyContext::will);
      j["will"] = std::move(w);
    }
    if (c.username) j["username"] = *c.username;
    if (c.password) j["password"] = binary(*c.password);
  }
  void operator()(const Connack& c) {
    j["session_present"] = c.session_present;
    if (v == Version::v5) {
      reason(j, c.reason_code, PacketType::connack);
    } else {
      j["return_code"] = *connack_code_v311(c.reason_code);
      j["reason"] = name(c.reason_code, PacketType::connack);
    }
    properties(j, c.properties, PropertyContext::connack);
  }
  void operator()(const Publish& p) {
    j["flags"] = {{"dup", p.dup}, {"qos", static_cast<int>(p.qos)}, {"retain", p.retain}};
    j["topic"] = p.topic;
    if (p.qos != QoS::at_most_once) j["packet_id"] = p.packet_id;
    properties(j, p.properties, PropertyContext::publish);
    j["payload"] = binary(p.payload.view());
  }
  template <PacketType T>
  void operator()(const PublishAck<T>& a) {
    ack_fields(j, a, v);
  }
  void operator()(const Subscribe& s) {
    j["packet_id"] = s.packet_id;
    properties(j, s.properties, PropertyContext::subscribe);
    json subs = json::array();
    for (const auto& sub : s.subscriptions) {
      json o = {{"filter", sub.filter}, {"qos", static_cast<int>(sub.options.qos)}};
      if (v == Version::v5) {
        o["no_local"] = sub.options.no_local;
        o["retain_as_published"] = sub.options.retain_as_published;
        o["retain_handling"] = sub.options.retain_handling;
      }
      subs.push_back(std::move(o));
    }
    j["subscriptions"] = std::move(subs);
  }
  void operator()(const Suback& s) {
    j["packet_id"] = s.packet_id;
    properties(j, s.properties, PropertyContext::suback);
    json codes = json::array();
    for (const auto rc : s.reason_codes) {
      codes.push_back({{"code", hex_byte(static_cast<std::uint8_t>(rc))},
                       {"reason", name(rc, PacketType::suback)}});
    }
    j["reason_codes"] = std::move(codes);
  }
  void operator()(const Unsubscribe& u) {
    j["packet_id"] = u.packet_id;
    properties(j, u.properties, PropertyContext::unsubscribe);
    j["filters"] = u.filters;
  }
  void operator()(const Unsuback& u) {
    j["packet_id"] = u.packet_id;
    properties(j, u.properties, PropertyContext::unsuback);
    if (v == Version::v5) {
      json codes = json::array();
      for (const auto rc : u.reason_codes) {
        codes.push_back({{"code", hex_byte(static_cast<std::uint8_t>(rc))},
                         {"reason", name(rc, PacketType::unsuback)}});
      }
      j["reason_codes"] = std::move(codes);
    }
  }
  void operator()(const Pingreq&) {}
  void operator()(const Pingresp&) {}
  void operator()(const Disconnect& d) {
    if (v == Version::v5) {
      reason(j, d.reason_code, PacketType::disconnect);
      properties(j, d.properties, PropertyContext::disconnect);
    }
  }
  void operator()(const Auth& a) {
    reason(j, a.reason_code, PacketType::auth);
    properties(j, a.properties, PropertyContext::auth);
  }
};

}  // namespace

json to_json(const Properties& props, PropertyContext where) {
  json j = json::object();
  for (const auto& p : props) {
    const PropertyInfo& info = property_info(p.id);
    const std::string key(info.key);
    json value;
    if (const auto* n = std::get_if<std::uint32_t>(&p.value)) {
      value = *n;
    } else if (const auto* s = std::get_if<std::string>(&p.value)) {
      value = *s;
    } else if (const auto* b = std::get_if<Bytes>(&p.value)) {
      value = binary(*b);
    } else {
      const auto& pair = std::get<StringPair>(p.value);
      value = json::array({pair.name, pair.value});
    }
    const bool repeatable =
        info.repeatable || (info.repeatable_in_publish && where == PropertyContext::publish);
    if (repeatable) {
      j[key].push_back(std::move(value));
    } else {
      j[key] = std::move(value);
    }
  }
  return j;
}

json to_json(const Packet& packet, Version version) {
  const Version v =
      std::holds_alternative<Connect>(packet) ? std::get<Connect>(packet).version : version;
  json j = {{"type", to_string(type_of(packet))}};
  std::visit(Fields{j, v}, packet);
  return j;
}

json to_json(const Violation& violation) {
  return {{"reason_code", hex_byte(static_cast<std::uint8_t>(violation.reason))},
          {"reason", name(violation.reason, PacketType::disconnect)},
          {"statement", violation.statement},
          {"detail", violation.detail}};
}

}  // namespace assay::packet_json
