// Internal: reading and writing property blocks (§2.2.2).
#pragma once

#include "assay/mqtt/codec.hpp"
#include "assay/mqtt/properties.hpp"
#include "wire.hpp"

namespace assay::mqtt::detail {

// The decoder has checked each value against the table already.
struct PropertyAccess {
  static void append(Properties& props, PropertyId id, PropertyValue&& value) {
    props.items_.push_back(Property{id, std::move(value)});
  }
};

// Reads a Property Length and the properties after it, checking each against
// the table for `where` and the value rules of §3.
Properties read_properties(wire::Reader& r, PropertyContext where);

// Throws EncodeError unless every property may stand in `where`.
void check_encodable(const Properties& props, PropertyContext where);

template <class Sink>
void write_property(Sink& s, const Property& p) {
  const PropertyInfo& info = property_info(p.id);
  wire::put_vbi(s, static_cast<std::uint32_t>(p.id));
  switch (info.type) {
    case PropertyType::byte:
      s.byte(static_cast<std::uint8_t>(std::get<std::uint32_t>(p.value)));
      break;
    case PropertyType::two_byte_integer:
      wire::put_u16(s, static_cast<std::uint16_t>(std::get<std::uint32_t>(p.value)));
      break;
    case PropertyType::four_byte_integer:
      wire::put_u32(s, std::get<std::uint32_t>(p.value));
      break;
    case PropertyType::variable_byte_integer:
      wire::put_vbi(s, std::get<std::uint32_t>(p.value));
      break;
    case PropertyType::utf8_string:
      wire::put_string(s, std::get<std::string>(p.value));
      break;
    case PropertyType::binary_data:
      wire::put_binary(s, std::get<Bytes>(p.value));
      break;
    case PropertyType::utf8_string_pair: {
      const auto& pair = std::get<StringPair>(p.value);
      wire::put_string(s, pair.name);
      wire::put_string(s, pair.value);
      break;
    }
  }
}

inline std::size_t properties_body_size(const Properties& props) {
  wire::CountingSink c;
  for (const auto& p : props)
    write_property(c, p);
  return c.size;
}

// Property Length then the properties.
template <class Sink>
void write_properties(Sink& s, const Properties& props) {
  wire::put_vbi(s, static_cast<std::uint32_t>(properties_body_size(props)));
  for (const auto& p : props)
    write_property(s, p);
}

}  // namespace assay::mqtt::detail
