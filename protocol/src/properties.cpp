#include "assay/mqtt/properties.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace assay::mqtt {
namespace {

constexpr std::uint32_t in(PropertyContext c) {
  return 1u << static_cast<unsigned>(c);
}

constexpr std::uint32_t CONNECT = in(PropertyContext::connect);
constexpr std::uint32_t CONNACK = in(PropertyContext::connack);
constexpr std::uint32_t PUBLISH = in(PropertyContext::publish);
constexpr std::uint32_t PUBACK = in(PropertyContext::puback);
constexpr std::uint32_t PUBREC = in(PropertyContext::pubrec);
constexpr std::uint32_t PUBREL = in(PropertyContext::pubrel);
constexpr std::uint32_t PUBCOMP = in(PropertyContext::pubcomp);
constexpr std::uint32_t SUBSCRIBE = in(PropertyContext::subscribe);
constexpr std::uint32_t SUBACK = in(PropertyContext::suback);
constexpr std::uint32_t UNSUBSCRIBE = in(PropertyContext::unsubscribe);
constexpr std::uint32_t UNSUBACK = in(PropertyContext::unsuback);
constexpr std::uint32_t DISCONNECT = in(PropertyContext::disconnect);
constexpr std::uint32_t AUTH = in(PropertyContext::auth);
constexpr std::uint32_t WILL = in(PropertyContext::will);

using T = PropertyType;
using P = PropertyId;
using R = PropertyRule;

// MQTT 5.0 §2.2.2.2, Table 2-4: identifier, name, type, where it may stand.
constexpr std::array<PropertyInfo, 27> table = {{
    {P::payload_format_indicator, "Payload Format Indicator", "payload_format_indicator", T::byte,
     PUBLISH | WILL, false, false, R::boolean, "§2.2.2.2"},
    {P::message_expiry_interval, "Message Expiry Interval", "message_expiry_interval",
     T::four_byte_integer, PUBLISH | WILL, false, false, R::any, ""},
    {P::content_type, "Content Type", "content_type", T::utf8_string, PUBLISH | WILL, false, false,
     R::any, ""},
    {P::response_topic, "Response Topic", "response_topic", T::utf8_string, PUBLISH | WILL, false,
     false, R::topic_name, "MQTT-3.3.2-14"},
    {P::correlation_data, "Correlation Data", "correlation_data", T::binary_data, PUBLISH | WILL,
     false, false, R::any, ""},
    {P::subscription_identifier, "Subscription Identifier", "subscription_identifier",
     T::variable_byte_integer, PUBLISH | SUBSCRIBE, true, false, R::nonzero, "§3.8.2.1.2"},
    {P::session_expiry_interval, "Session Expiry Interval", "session_expiry_interval",
     T::four_byte_integer, CONNECT | CONNACK | DISCONNECT, false, false, R::any, ""},
    {P::assigned_client_identifier, "Assigned Client Identifier", "assigned_client_identifier",
     T::utf8_string, CONNACK, false, false, R::any, ""},
    {P::server_keep_alive, "Server Keep Alive", "server_keep_alive", T::two_byte_integer, CONNACK,
     false, false, R::any, ""},
    {P::authentication_method, "Authentication Method", "authentication_method", T::utf8_string,
     CONNECT | CONNACK | AUTH, false, false, R::any, ""},
    {P::authentication_data, "Authentication Data", "authentication_data", T::binary_data,
     CONNECT | CONNACK | AUTH, false, false, R::any, ""},
    {P::request_problem_information, "Request Problem Information", "request_problem_information",
     T::byte, CONNECT, false, false, R::boolean, "§2.2.2.2"},
    {P::will_delay_interval, "Will Delay Interval", "will_delay_interval", T::four_byte_integer,
     WILL, false, false, R::any, ""},
    {P::request_response_information, "Request Response Information",
     "request_response_information", T::byte, CONNECT, false, false, R::boolean, "§2.2.2.2"},
    {P::response_information, "Response Information", "response_information", T::utf8_string,
     CONNACK, false, false, R::any, ""},
    {P::server_reference, "Server Reference", "server_reference", T::utf8_string,
     CONNACK | DISCONNECT, false, false, R::any, ""},
    {P::reason_string, "Reason String", "reason_string", T::utf8_string,
     CONNACK | PUBACK | PUBREC | PUBREL | PUBCOMP | SUBACK | UNSUBACK | DISCONNECT | AUTH, false,
     false, R::any, ""},
    {P::receive_maximum, "Receive Maximum", "receive_maximum", T::two_byte_integer,
     CONNECT | CONNACK, false, false, R::nonzero, "§2.2.2.2"},
    {P::topic_alias_maximum, "Topic Alias Maximum", "topic_alias_maximum", T::two_byte_integer,
     CONNECT | CONNACK, false, false, R::any, ""},
    {P::topic_alias, "Topic Alias", "topic_alias", T::two_byte_integer, PUBLISH, false, false,
     R::nonzero, "MQTT-3.3.2-8"},
    {P::maximum_qos, "Maximum QoS", "maximum_qos", T::byte, CONNACK, false, false, R::boolean,
     "§2.2.2.2"},
    {P::retain_available, "Retain Available", "retain_available", T::byte, CONNACK, false, false,
     R::boolean, "§2.2.2.2"},
    {P::user_property, "User Property", "user_property", T::utf8_string_pair,
     CONNECT | CONNACK | PUBLISH | WILL | PUBACK | PUBREC | PUBREL | PUBCOMP | SUBSCRIBE | SUBACK |
         UNSUBSCRIBE | UNSUBACK | DISCONNECT | AUTH,
     true, true, R::any, ""},
    {P::maximum_packet_size, "Maximum Packet Size", "maximum_packet_size", T::four_byte_integer,
     CONNECT | CONNACK, false, false, R::nonzero, "§2.2.2.2"},
    {P::wildcard_subscription_available, "Wildcard Subscription Available",
     "wildcard_subscription_available", T::byte, CONNACK, false, false, R::boolean, "§2.2.2.2"},
    {P::subscription_identifier_available, "Subscription Identifier Available",
     "subscription_identifier_available", T::byte, CONNACK, false, false, R::boolean, "§2.2.2.2"},
    {P::shared_subscription_available, "Shared Subscription Available",
     "shared_subscription_available", T::byte, CONNACK, false, false, R::boolean, "§2.2.2.2"},
}};

// Identifier -> table row, built once at compile time.
constexpr std::array<std::int8_t, 64> make_lookup() {
  std::array<std::int8_t, 64> lookup{};
  for (auto& v : lookup)
    v = -1;
  for (std::size_t i = 0; i < table.size(); ++i) {
    lookup[static_cast<std::size_t>(table[i].id)] = static_cast<std::int8_t>(i);
  }
  return lookup;
}
constexpr auto lookup = make_lookup();

}  // namespace

const PropertyInfo* property_info(std::uint8_t id) {
  if (id >= lookup.size() || lookup[id] < 0) return nullptr;
  return &table[static_cast<std::size_t>(lookup[id])];
}

const PropertyInfo& property_info(PropertyId id) {
  const PropertyInfo* info = property_info(static_cast<std::uint8_t>(id));
  if (info == nullptr) throw std::invalid_argument("unknown property identifier");
  return *info;
}

bool allowed_in(PropertyId id, PropertyContext where) {
  const PropertyInfo* info = property_info(static_cast<std::uint8_t>(id));
  return info != nullptr && (info->contexts & in(where)) != 0;
}

Properties::Properties(std::initializer_list<Property> items) {
  for (const auto& p : items)
    add(p.id, p.value);
}

void Properties::check(PropertyId id, const PropertyValue& value) {
  const PropertyInfo& info = property_info(id);
  bool ok = false;
  switch (info.type) {
    case PropertyType::byte:
      ok = std::holds_alternative<std::uint32_t>(value) && std::get<std::uint32_t>(value) <= 0xFF;
      break;
    case PropertyType::two_byte_integer:
      ok = std::holds_alternative<std::uint32_t>(value) && std::get<std::uint32_t>(value) <= 0xFFFF;
      break;
    case PropertyType::four_byte_integer:
      ok = std::holds_alternative<std::uint32_t>(value);
      break;
    case PropertyType::variable_byte_integer:
      ok = std::holds_alternative<std::uint32_t>(value) &&
           std::get<std::uint32_t>(value) <= 268'435'455;
      break;
    case PropertyType::utf8_string:
      ok = std::holds_alternative<std::string>(value) &&
           std::get<std::string>(value).size() <= 0xFFFF;
      break;
    case PropertyType::binary_data:
      ok = std::holds_alternative<Bytes>(value) && std::get<Bytes>(value).size() <= 0xFFFF;
      break;
    case PropertyType::utf8_string_pair:
      ok = std::holds_alternative<StringPair>(value) &&
           std::get<StringPair>(value).name.size() <= 0xFFFF &&
           std::get<StringPair>(value).value.size() <= 0xFFFF;
      break;
  }
  if (!ok) {
    throw std::invalid_argument("property " + std::string(info.name) +
                                ": value does not fit its data type");
  }
}

void Properties::add(PropertyId id, PropertyValue value) {
  check(id, value);
  items_.push_back(Property{id, std::move(value)});
}

void Properties::set(PropertyId id, PropertyValue value) {
  check(id, value);
  for (auto& p : items_) {
    if (p.id == id) {
      p.value = std::move(value);
      return;
    }
  }
  items_.push_back(Property{id, std::move(value)});
}

std::size_t Properties::erase(PropertyId id) {
  if (items_.empty()) return 0;
  return static_cast<std::size_t>(
      std::erase_if(items_, [id](const Property& p) { return p.id == id; }));
}

const Property* Properties::find(PropertyId id) const {
  for (const auto& p : items_) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

std::optional<std::uint32_t> Properties::integer(PropertyId id) const {
  const Property* p = find(id);
  if (p == nullptr) return std::nullopt;
  if (const auto* v = std::get_if<std::uint32_t>(&p->value)) return *v;
  return std::nullopt;
}

const std::string* Properties::string(PropertyId id) const {
  const Property* p = find(id);
  return p == nullptr ? nullptr : std::get_if<std::string>(&p->value);
}

const Bytes* Properties::binary(PropertyId id) const {
  const Property* p = find(id);
  return p == nullptr ? nullptr : std::get_if<Bytes>(&p->value);
}

std::vector<StringPair> Properties::user_properties() const {
  std::vector<StringPair> out;
  for (const auto& p : items_) {
    if (p.id == PropertyId::user_property) out.push_back(std::get<StringPair>(p.value));
  }
  return out;
}

std::vector<std::uint32_t> Properties::subscription_identifiers() const {
  std::vector<std::uint32_t> out;
  for (const auto& p : items_) {
    if (p.id == PropertyId::subscription_identifier)
      out.push_back(std::get<std::uint32_t>(p.value));
  }
  return out;
}

}  // namespace assay::mqtt
