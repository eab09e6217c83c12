// RapidCheck generators of valid packets for either version. "Valid" means
// what a conforming peer may send, so decode(encode(p)) must give p back.
#pragma once

#include <rapidcheck.h>

#include <string>
#include <vector>

#include "assay/mqtt/packets.hpp"

namespace assay::mqtt::gen {

// UTF-8 without U+0000 or surrogates, with multi-byte characters mixed in.
inline rc::Gen<std::string> utf8(std::size_t max_chars = 12) {
  return rc::gen::exec([max_chars] {
    const auto n = *rc::gen::inRange<std::size_t>(0, max_chars + 1);
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
      switch (*rc::gen::inRange(0, 5)) {
        case 0:
          s += "\xC3\xA9";  // U+00E9
          break;
        case 1:
          s += "\xE2\x82\xAC";  // U+20AC
          break;
        case 2:
          s += "\xF0\x9F\x98\x80";  // U+1F600
          break;
        default:
          s += static_cast<char>(*rc::gen::inRange(1, 128));
      }
    }
    return s;
  });
}

inline rc::Gen<Bytes> bytes(std::size_t max = 40) {
  return rc::gen::container<Bytes>(*rc::gen::inRange<std::size_t>(0, max + 1),
                                   rc::gen::arbitrary<std::uint8_t>());
}

// Levels from a small alphabet, so that names and filters often match.
inline rc::Gen<std::string> level() {
  return rc::gen::element<std::string>("a", "b", "c", "", "sensor", "$x", "\xE2\x82\xAC");
}

inline rc::Gen<std::string> topic_name() {
  return rc::gen::exec([] {
    const auto n = *rc::gen::inRange(1, 5);
    std::string s;
    for (int i = 0; i < n; ++i) {
      if (i > 0) s += '/';
      s += *level();
    }
    if (s.empty()) s = "t";
    return s;
  });
}

inline rc::Gen<std::string> topic_filter() {
  return rc::gen::exec([] {
    const auto n = *rc::gen::inRange(1, 5);
    std::string s;
    for (int i = 0; i < n; ++i) {
      if (i > 0) s += '/';
      const bool last = i == n - 1;
      const int kind = *rc::gen::inRange(0, 6);
      if (kind == 0) {
        s += '+';
      } else if (kind == 1 && last) {
        s += '#';
      } else {
        s += *level();
      }
    }
    if (s.empty()) s = "+";
    return s;
  });
}

// A valid value for an integer property: its type's range and its rule.
inline std::uint32_t value_for(PropertyId id) {
  const PropertyInfo& info = property_info(id);
  if (info.rule == PropertyRule::boolean) return *rc::gen::inRange<std::uint32_t>(0, 2);
  const std::uint32_t low = info.rule == PropertyRule::nonzero ? 1 : 0;
  switch (info.type) {
    case PropertyType::byte:
      return *rc::gen::inRange<std::uint32_t>(low, 256);
    case PropertyType::two_byte_integer:
      return *rc::gen::inRange<std::uint32_t>(low, 65536);
    case PropertyType::variable_byte_integer:
      return std::max(
          low, *rc::gen::element<std::uint32_t>(0, 1, 127, 128, 16'383, 16'384, 268'435'455));
    default:
      return std::max(low, *rc::gen::arbitrary<std::uint32_t>());
  }
}

// A valid property block for `where` (empty for 3.1.1).
inline Properties properties(PropertyContext where, Version v) {
  Properties props;
  if (v == Version::v3_1_1) return props;
  std::vector<PropertyId> ids;
  for (int raw = 0; raw < 64; ++raw) {
    const PropertyInfo* info = property_info(static_cast<std::uint8_t>(raw));
    if (info != nullptr && allowed_in(info->id, where)) ids.push_back(info->id);
  }
  const auto picks = *rc::gen::inRange<std::size_t>(0, 5);
  for (std::size_t i = 0; i < picks; ++i) {
    const PropertyId id = *rc::gen::elementOf(ids);
    const PropertyInfo& info = property_info(id);
    const bool repeatable =
        info.repeatable || (info.repeatable_in_publish && where == PropertyContext::publish);
    if (!repeatable && props.contains(id)) continue;
    if (id == PropertyId::authentication_data &&
        !props.contains(PropertyId::authentication_method)) {
      continue;  // Authentication Data needs a method first
    }
    switch (info.type) {
      case PropertyType::utf8_string:
        props.add(id, id == PropertyId::response_topic ? *topic_name() : *utf8());
        break;
      case PropertyType::binary_data:
        props.add(id, *bytes(10));
        break;
      case PropertyType::utf8_string_pair:
        props.add(id, StringPair{*utf8(4), *utf8(4)});
        break;
      default:
        props.add(id, value_for(id));
    }
  }
  return props;
}

inline QoS qos() {
  return static_cast<QoS>(*rc::gen::inRange(0, 3));
}
inline std::uint16_t packet_id() {
  return *rc::gen::inRange<std::uint16_t>(1, 65535);
}

template <class P>
void ack_tail(P& p, PacketType type, Version v) {
  if (v == Version::v3_1_1) return;
  std::vector<ReasonCode> allowed;
  for (int c = 0; c < 256; ++c) {
    if (allowed_in(static_cast<ReasonCode>(c), type)) allowed.push_back(static_cast<ReasonCode>(c));
  }
  p.reason_code = *rc::gen::elementOf(allowed);
  p.properties = properties(context_of(type), v);
  // Only the layouts that re-encode differently from the shortest are kept
  // by the decoder (see recorded_layout).
  if (p.properties.empty()) {
    p.layout = *rc::gen::element(AckLayout::shortest, AckLayout::full);
    if (p.reason_code == ReasonCode::success && *rc::gen::arbitrary<bool>()) {
      p.layout = AckLayout::reason_code;
    }
  }
}

inline Packet packet(Version v) {
  const int type = *rc::gen::inRange(1, v == Version::v5 ? 16 : 15);
  switch (static_cast<PacketType>(type)) {
    case PacketType::connect: {
      Connect c;
      c.version = v;
      c.clean_start = *rc::gen::arbitrary<bool>();
      c.keep_alive = *rc::gen::arbitrary<std::uint16_t>();
      c.properties = properties(PropertyContext::connect, v);
      c.client_id = *utf8();
      if (*rc::gen::arbitrary<bool>()) {
        c.will = Will{*topic_name(), SharedBytes(*bytes()), qos(), *rc::gen::arbitrary<bool>(),
                      properties(PropertyContext::will, v)};
      }
      if (*rc::gen::arbitrary<bool>()) c.username = *utf8();
      if (*rc::gen::arbitrary<bool>() && (c.username || v == Version::v5)) c.password = *bytes();
      return c;
    }
    case PacketType::connack: {
      Connack c;
      if (v == Version::v3_1_1) {
        c.reason_code = *connack_reason_from_v311(*rc::gen::inRange<std::uint8_t>(0, 6));
      } else {
        std::vector<ReasonCode> allowed;
        for (int code = 0; code < 256; ++code) {
          const auto rc = static_cast<ReasonCode>(code);
          if (allowed_in(rc, PacketType::connack)) allowed.push_back(rc);
        }
        c.reason_code = *rc::gen::elementOf(allowed);
      }
      c.session_present = c.reason_code == ReasonCode::success && *rc::gen::arbitrary<bool>();
      c.properties = properties(PropertyContext::connack, v);
      return c;
    }
    case PacketType::publish: {
      Publish p;
      p.qos = qos();
      p.dup = p.qos != QoS::at_most_once && *rc::gen::arbitrary<bool>();
      p.retain = *rc::gen::arbitrary<bool>();
      p.topic = *topic_name();
      if (p.qos != QoS::at_most_once) p.packet_id = packet_id();
      p.properties = properties(PropertyContext::publish, v);
      p.payload = SharedBytes(*bytes(100));
      return p;
    }
    case PacketType::puback: {
      Puback a{packet_id(), {}, {}, {}};
      ack_tail(a, PacketType::puback, v);
      return a;
    }
    case PacketType::pubrec: {
      Pubrec a{packet_id(), {}, {}, {}};
      ack_tail(a, PacketType::pubrec, v);
      return a;
    }
    case PacketType::pubrel: {
      Pubrel a{packet_id(), {}, {}, {}};
      ack_tail(a, PacketType::pubrel, v);
      return a;
    }
    case PacketType::pubcomp: {
      Pubcomp a{packet_id(), {}, {}, {}};
      ack_tail(a, PacketType::pubcomp, v);
      return a;
    }
    case PacketType::subscribe: {
      Subscribe s;
      s.packet_id = packet_id();
      s.properties = properties(PropertyContext::subscribe, v);
      const auto n = *rc::gen::inRange(1, 4);
      for (int i = 0; i < n; ++i) {
        Subscription sub{*topic_filter(), {qos(), false, false, 0}};
        if (v == Version::v5) {
          sub.options.no_local = *rc::gen::arbitrary<bool>();
          sub.options.retain_as_published = *rc::gen::arbitrary<bool>();
          sub.options.retain_handling = *rc::gen::inRange<std::uint8_t>(0, 3);
          if (!sub.options.no_local && *rc::gen::arbitrary<bool>()) {
            sub.filter = "$share/g/" + sub.filter;
          }
        }
        s.subscriptions.push_back(std::move(sub));
      }
      return s;
    }
    case PacketType::suback: {
      Suback s;
      s.packet_id = packet_id();
      s.properties = properties(PropertyContext::suback, v);
      const auto n = *rc::gen::inRange(1, 4);
      for (int i = 0; i < n; ++i) {
        if (v == Version::v3_1_1) {
          s.reason_codes.push_back(*rc::gen::element(ReasonCode::success, ReasonCode::granted_qos_1,
                                                     ReasonCode::granted_qos_2,
                                                     ReasonCode::unspecified_error));
        } else {
          s.reason_codes.push_back(*rc::gen::element(
              ReasonCode::success, ReasonCode::granted_qos_2, ReasonCode::not_authorized,
              ReasonCode::quota_exceeded, ReasonCode::wildcard_subscriptions_not_supported));
        }
      }
      return s;
    }
    case PacketType::unsubscribe: {
      Unsubscribe u;
      u.packet_id = packet_id();
      u.properties = properties(PropertyContext::unsubscribe, v);
      const auto n = *rc::gen::inRange(1, 4);
      for (int i = 0; i < n; ++i)
        u.filters.push_back(*topic_filter());
      return u;
    }
    case PacketType::unsuback: {
      Unsuback u;
      u.packet_id = packet_id();
      u.properties = properties(PropertyContext::unsuback, v);
      if (v == Version::v5) {
        const auto n = *rc::gen::inRange(1, 4);
        for (int i = 0; i < n; ++i) {
          u.reason_codes.push_back(*rc::gen::element(
              ReasonCode::success, ReasonCode::no_subscription_existed,
              ReasonCode::topic_filter_invalid, ReasonCode::packet_identifier_in_use));
        }
      }
      return u;
    }
    case PacketType::pingreq:
      return Pingreq{};
    case PacketType::pingresp:
      return Pingresp{};
    case PacketType::disconnect: {
      Disconnect d;
      ack_tail(d, PacketType::disconnect, v);
      return d;
    }
    case PacketType::auth: {
      Auth a;
      ack_tail(a, PacketType::auth, v);
      return a;
    }
  }
  return Pingreq{};
}

}  // namespace assay::mqtt::gen
