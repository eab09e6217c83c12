#include "assay/mqtt/types.hpp"

#include <algorithm>
#include <array>

namespace assay::mqtt {

std::string_view to_string(Version v) {
  switch (v) {
    case Version::v3_1_1:
      return "3.1.1";
    case Version::v5:
      return "5";
  }
  return "unknown";
}

std::string_view to_string(PacketType t) {
  static constexpr std::array<std::string_view, 16> names = {
      "RESERVED", "CONNECT",  "CONNACK",    "PUBLISH", "PUBACK",      "PUBREC",
      "PUBREL",   "PUBCOMP",  "SUBSCRIBE",  "SUBACK",  "UNSUBSCRIBE", "UNSUBACK",
      "PINGREQ",  "PINGRESP", "DISCONNECT", "AUTH"};
  const auto i = static_cast<std::size_t>(t);
  return i < names.size() ? names[i] : "RESERVED";
}

SharedBytes::SharedBytes(Bytes bytes)
    : buffer_(std::make_shared<const Bytes>(std::move(bytes))), size_(buffer_->size()) {}

SharedBytes::SharedBytes(std::string_view text) : SharedBytes(Bytes(text.begin(), text.end())) {}

SharedBytes SharedBytes::copy_of(ByteView bytes) {
  return SharedBytes(Bytes(bytes.begin(), bytes.end()));
}

bool operator==(const SharedBytes& a, const SharedBytes& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace assay::mqtt
