// MQTT 5.0 properties (§2.2.2): one table of identifier, data type and the
// packets that may carry each, and an ordered container that keeps the order
// (and repetitions) it was decoded with, so that decode-then-encode is exact.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "assay/mqtt/types.hpp"

namespace assay::mqtt {

namespace detail {
struct PropertyAccess;
}

enum class PropertyId : std::uint8_t {
  payload_format_indicator = 0x01,
  message_expiry_interval = 0x02,
  content_type = 0x03,
  response_topic = 0x08,
  correlation_data = 0x09,
  subscription_identifier = 0x0B,
  session_expiry_interval = 0x11,
  assigned_client_identifier = 0x12,
  server_keep_alive = 0x13,
  authentication_method = 0x15,
  authentication_data = 0x16,
  request_problem_information = 0x17,
  will_delay_interval = 0x18,
  request_response_information = 0x19,
  response_information = 0x1A,
  server_reference = 0x1C,
  reason_string = 0x1F,
  receive_maximum = 0x21,
  topic_alias_maximum = 0x22,
  topic_alias = 0x23,
  maximum_qos = 0x24,
  retain_available = 0x25,
  user_property = 0x26,
  maximum_packet_size = 0x27,
  wildcard_subscription_available = 0x28,
  subscription_identifier_available = 0x29,
  shared_subscription_available = 0x2A,
};

// Data representations of §1.5.
enum class PropertyType : std::uint8_t {
  byte,
  two_byte_integer,
  four_byte_integer,
  variable_byte_integer,
  utf8_string,
  binary_data,
  utf8_string_pair,
};

// Where a property may stand: a packet type, or the Will Properties of CONNECT.
enum class PropertyContext : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  disconnect = 14,
  auth = 15,
  will = 16,
};

inline PropertyContext context_of(PacketType t) {
  return static_cast<PropertyContext>(t);
}

// The value rule §3 states for a property; breaking it is a Protocol Error.
enum class PropertyRule : std::uint8_t {
  any,
  boolean,     // 0 or 1 ("It is a Protocol Error to include a value other than 0 or 1")
  nonzero,     // 0 is not allowed (Receive Maximum, Topic Alias, ...)
  topic_name,  // a valid Topic Name, no wildcards (Response Topic)
};

struct PropertyInfo {
  PropertyId id;
  std::string_view name;  // "Session Expiry Interval"
  std::string_view key;   // "session_expiry_interval", used in JSON
  PropertyType type;
  std::uint32_t contexts;      // bit (1 << PropertyContext)
  bool repeatable_in_publish;  // Subscription Identifier (server to client)
  bool repeatable;             // User Property
  PropertyRule rule;
  std::string_view rule_statement;  // cited when the rule is broken
};

// nullptr for an identifier the specification does not define.
const PropertyInfo* property_info(std::uint8_t id);
const PropertyInfo& property_info(PropertyId id);
bool allowed_in(PropertyId id, PropertyContext where);

struct StringPair {
  std::string name;
  std::string value;
  friend bool operator==(const StringPair&, const StringPair&) = default;
};

// Byte, two-byte, four-byte and variable byte integers all hold a uint32_t.
using PropertyValue = std::variant<std::uint32_t, std::string, Bytes, StringPair>;

struct Property {
  PropertyId id;
  PropertyValue value;
  friend bool operator==(const Property&, const Property&) = default;
};

// An ordered list of properties. Mutators check that the value has the type
// the table gives for the identifier and throw std::invalid_argument if not
// (local misuse); peer input never reaches them unchecked.
class Properties {
 public:
  Properties() = default;
  Properties(std::initializer_list<Property> items);

  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

  // Appends, keeping repetitions (User Property, Subscription Identifier).
  void add(PropertyId id, PropertyValue value);
  // Replaces the first occurrence, or appends.
  void set(PropertyId id, PropertyValue value);
  // Removes every occurrence; returns how many were removed.
  std::size_t erase(PropertyId id);

  const Property* find(PropertyId id) const;
  bool contains(PropertyId id) const { return find(id) != nullptr; }

  std::optional<std::uint32_t> integer(PropertyId id) const;
  const std::string* string(PropertyId id) const;
  const Bytes* binary(PropertyId id) const;
  std::vector<StringPair> user_properties() const;
  std::vector<std::uint32_t> subscription_identifiers() const;

  friend bool operator==(const Properties&, const Properties&) = default;

 private:
  friend struct detail::PropertyAccess;  // the decoder appends checked values
  static void check(PropertyId id, const PropertyValue& value);
  std::vector<Property> items_;
};

}  // namespace assay::mqtt
