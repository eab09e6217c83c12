#include "property_codec.hpp"

#include <string>

#include "assay/mqtt/topic.hpp"

namespace assay::mqtt::detail {
namespace {

std::string where_name(PropertyContext where) {
  if (where == PropertyContext::will) return "Will Properties";
  return std::string(to_string(static_cast<PacketType>(where)));
}

// The §3 value rule of a property, from the table. Returns false after
// recording the violation in `r`.
bool check_value(wire::Reader& r, const PropertyInfo& info, const PropertyValue& value) {
  const auto* n = std::get_if<std::uint32_t>(&value);
  switch (info.rule) {
    case PropertyRule::any:
      return true;
    case PropertyRule::boolean:
      if (*n <= 1) return true;
      return r.protocol_error(info.rule_statement, std::string(info.name) + " must be 0 or 1");
    case PropertyRule::nonzero:
      if (*n != 0) return true;
      return r.protocol_error(info.rule_statement, std::string(info.name) + " must not be 0");
    case PropertyRule::topic_name:
      if (auto bad = validate_topic_name(std::get<std::string>(value), Version::v5)) {
        return r.protocol_error(info.rule_statement, std::string(info.name) + ": " + bad->detail);
      }
      return true;
  }
  return true;
}

}  // namespace

Properties read_properties(wire::Reader& r, PropertyContext where) {
  Properties props;
  const std::uint32_t length = r.vbi("Property Length");
  if (r.failed()) return props;
  if (length > r.remaining()) {
    r.malformed("§2.2.2.1", "Property Length " + std::to_string(length) +
                                " is larger than the rest of the packet");
    return props;
  }
  wire::Reader in = r.sub(length, "properties");
  std::uint64_t seen = 0;
  while (!in.at_end() && !in.failed()) {
    const std::uint32_t id = in.vbi("property identifier");
    if (in.failed()) break;
    const PropertyInfo* info = id < 0x80 ? property_info(static_cast<std::uint8_t>(id)) : nullptr;
    if (info == nullptr) {
      in.malformed("§2.2.2.2", "unknown property identifier " + std::to_string(id));
      break;
    }
    if (!allowed_in(info->id, where)) {
      in.malformed("§2.2.2.2", std::string(info->name) + " is not allowed in " + where_name(where));
      break;
    }
    const bool repeatable =
        info->repeatable || (info->repeatable_in_publish && where == PropertyContext::publish);
    const std::uint64_t mask = std::uint64_t{1} << id;
    if ((seen & mask) != 0 && !repeatable) {
      in.protocol_error("§2.2.2.2", std::string(info->name) + " appears more than once");
      break;
    }
    seen |= mask;
    PropertyValue value;
    const std::string_view field = info->name;
    switch (info->type) {
      case PropertyType::byte:
        value = std::uint32_t{in.u8(field)};
        break;
      case PropertyType::two_byte_integer:
        value = std::uint32_t{in.u16(field)};
        break;
      case PropertyType::four_byte_integer:
        value = in.u32(field);
        break;
      case PropertyType::variable_byte_integer:
        value = in.vbi(field);
        break;
      case PropertyType::utf8_string:
        value = in.utf8(field);
        break;
      case PropertyType::binary_data:
        value = in.binary(field);
        break;
      case PropertyType::utf8_string_pair: {
        StringPair pair;
        // User Property is the only string pair.
        pair.name = in.utf8("User Property name");
        pair.value = in.utf8("User Property value");
        value = std::move(pair);
        break;
      }
    }
    if (in.failed() || !check_value(in, *info, value)) break;
    PropertyAccess::append(props, info->id, std::move(value));
  }
  r.merge(in);
  if (!r.failed() && props.contains(PropertyId::authentication_data) &&
      !props.contains(PropertyId::authentication_method)) {
    r.protocol_error("§3.1.2.11.10", "Authentication Data without Authentication Method");
  }
  return props;
}

void check_encodable(const Properties& props, PropertyContext where) {
  for (const auto& p : props) {
    if (!allowed_in(p.id, where)) {
      throw EncodeError(std::string(property_info(p.id).name) + " is not allowed in " +
                        where_name(where));
    }
  }
}

}  // namespace assay::mqtt::detail
