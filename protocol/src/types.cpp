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

SharedBytes::SharedBytes(Bytes bytes) : SharedBytes(copy_of(bytes)) {}

SharedBytes::SharedBytes(std::string_view text)
    : SharedBytes(
          copy_of(ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()))) {}

SharedBytes SharedBytes::copy_of(ByteView bytes) {
  SharedBytes out;
  if (bytes.empty()) return out;
  auto buffer = std::make_shared_for_overwrite<std::uint8_t[]>(bytes.size());
  std::copy(bytes.begin(), bytes.end(), buffer.get());
  out.buffer_ = std::move(buffer);
  out.size_ = bytes.size();
  return out;
}

bool operator==(const SharedBytes& a, const SharedBytes& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace assay::mqtt
