// Raw frames: bytes the encoder would refuse to make. The conformance suite
// and the fuzzers use this to send malformed packets on purpose.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "assay/mqtt/properties.hpp"
#include "assay/mqtt/types.hpp"

namespace assay::mqtt {

// Builds one frame: a first byte (type and flags, any value), a body written
// field by field with no checks, and a Remaining Length that is computed from
// the body unless one is forced.
class FrameBuilder {
 public:
  explicit FrameBuilder(std::uint8_t first_byte) : first_(first_byte) {}
  FrameBuilder(PacketType type, std::uint8_t flags)
      : first_(static_cast<std::uint8_t>((static_cast<std::uint8_t>(type) << 4) | (flags & 0x0F))) {
  }

  FrameBuilder& u8(std::uint8_t v);
  FrameBuilder& u16(std::uint16_t v);
  FrameBuilder& u32(std::uint32_t v);
  // Minimal Variable Byte Integer.
  FrameBuilder& vbi(std::uint32_t v);
  // Any bytes, e.g. a non-minimal VBI such as {0x80, 0x00}.
  FrameBuilder& bytes(ByteView b);
  FrameBuilder& bytes(std::initializer_list<std::uint8_t> b);
  // Two-byte length prefix then the bytes, not checked for UTF-8.
  FrameBuilder& string(std::string_view s);
  FrameBuilder& binary(ByteView b);
  // A Property Length and the properties as the encoder writes them, without
  // checking that they are allowed in this packet.
  FrameBuilder& properties(const Properties& props);
  // A Property Length followed by these raw property bytes.
  FrameBuilder& raw_properties(ByteView encoded);

  // Declares this Remaining Length instead of the body's real size.
  FrameBuilder& remaining_length(std::uint32_t declared);

  Bytes build() const;

 private:
  std::uint8_t first_;
  Bytes body_;
  std::optional<std::uint32_t> declared_;
};

// The bytes of one property (identifier and value) as the codec writes them.
Bytes encode_property(const Property& p);

}  // namespace assay::mqtt
