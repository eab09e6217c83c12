// Basic vocabulary of the protocol core: versions, QoS, packet types and the
// shared immutable payload buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace assay::mqtt {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// The Protocol Level byte of CONNECT: 4 for MQTT 3.1.1, 5 for MQTT 5.0.
enum class Version : std::uint8_t { v3_1_1 = 4, v5 = 5 };

std::string_view to_string(Version v);

enum class QoS : std::uint8_t { at_most_once = 0, at_least_once = 1, exactly_once = 2 };

// Packet type values of the fixed header (bits 7-4 of byte 1). §2.1.2.
enum class PacketType : std::uint8_t {
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
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
  auth = 15,
};

// "PUBLISH", "CONNACK", ... as the spec writes them.
std::string_view to_string(PacketType t);

// An immutable byte buffer shared by reference count, so that fanning one
// message out to many subscribers never copies its payload.
class SharedBytes {
 public:
  SharedBytes() = default;
  explicit SharedBytes(Bytes bytes);
  explicit SharedBytes(std::string_view text);
  static SharedBytes copy_of(ByteView bytes);

  ByteView view() const { return {data(), size_}; }
  const std::uint8_t* data() const { return buffer_.get(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const std::uint8_t* begin() const { return data(); }
  const std::uint8_t* end() const { return data() + size_; }
  std::string_view as_chars() const {
    return {reinterpret_cast<const char*>(data()), size_};  // NOLINT: byte view
  }

  friend bool operator==(const SharedBytes& a, const SharedBytes& b);

 private:
  // One allocation holds the count and the bytes.
  std::shared_ptr<const std::uint8_t[]> buffer_;
  std::size_t size_ = 0;
};

}  // namespace assay::mqtt
