// The codec: bytes to packets and back, for MQTT 3.1.1 and 5.0.
//
// Peer input never throws: decode() returns a Violation carrying the reason
// code and the statement broken. encode() is for well-formed local packets and
// throws EncodeError on a packet that cannot be encoded for the version (local
// misuse). Illegal bytes for tests and fuzzers come from raw.hpp instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <variant>

#include "assay/mqtt/constants.hpp"
#include "assay/mqtt/packets.hpp"
#include "assay/mqtt/types.hpp"
#include "assay/mqtt/violation.hpp"

namespace assay::mqtt {

struct DecodeLimits {
  // The largest whole packet (fixed header included) accepted, as in the 5.0
  // Maximum Packet Size property. Checked as soon as the Remaining Length is
  // known, before anything of that size is buffered or allocated.
  std::uint32_t maximum_packet_size = max_packet_size;
};

// A whole packet was decoded from the front of the input.
struct Decoded {
  Packet packet;
  std::size_t size = 0;  // bytes consumed
};

// The input ends inside a packet.
struct NeedMore {
  std::size_t at_least = 1;  // lower bound on the bytes still missing
};

using DecodeResult = std::variant<Decoded, NeedMore, Violation>;

// The commonest packet on a busy connection: a PUBACK, PUBREC, PUBREL or
// PUBCOMP of success without properties, four bytes in either version.
struct ShortAck {
  PacketType type = PacketType::puback;
  std::uint16_t packet_id = 0;
};
// The packet a ShortAck stands for, as decode() gives it.
Packet packet_of(ShortAck ack);

// Decodes one packet from the front of `bytes` under the rules of `version`.
// A CONNECT is decoded under the version its Protocol Level names.
DecodeResult decode(ByteView bytes, Version version, const DecodeLimits& limits = {});

// Decodes the body of a packet whose fixed header byte and body are known.
std::variant<Packet, Violation> decode_body(std::uint8_t first_byte, ByteView body,
                                            Version version);

// Incremental decoding: feed bytes in any chunks (one at a time included) and
// pull packets. The results are the same as decode() on the concatenation.
// After a violation the decoder stays failed and keeps returning it.
class StreamDecoder {
 public:
  explicit StreamDecoder(Version version = Version::v5, DecodeLimits limits = {})
      : version_(version), limits_(limits) {}

  // The version packets after CONNECT are decoded under (set it once the
  // CONNECT has been seen).
  void set_version(Version v) { version_ = v; }
  Version version() const { return version_; }
  void set_limits(DecodeLimits limits) { limits_ = limits; }

  void feed(ByteView bytes);
  // The next packet, NeedMore when no whole packet is buffered, or the
  // violation that stopped decoding.
  DecodeResult next();
  // The next packet if it is a well-formed ShortAck (consumed), else nothing
  // (nothing consumed; next() decodes it, or reports what is wrong with it).
  // Equivalent to next() for those four bytes, without building a Packet.
  std::optional<ShortAck> next_short_ack();
  // Bytes fed but not yet returned as packets.
  std::size_t buffered() const { return buffer_.size() - read_; }
  bool failed() const { return failure_ != nullptr; }
  // Frees the buffer when nothing is left in it (a connection that may stay
  // idle holds none).
  void shrink() {
    if (read_ == buffer_.size()) {
      Bytes().swap(buffer_);
      read_ = 0;
    }
  }

 private:
  void consume(std::size_t n);  // n bytes were returned as a packet

  Version version_;
  DecodeLimits limits_;
  Bytes buffer_;
  std::size_t read_ = 0;
  std::unique_ptr<Violation> failure_;  // rare: kept off the decoder
};

class EncodeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Appends the encoding of `packet` for `version` to `out`.
void encode(const Packet& packet, Version version, Bytes& out);
Bytes encode(const Packet& packet, Version version);
// The size encode() would produce, without encoding.
std::size_t encoded_size(const Packet& packet, Version version);
// The same for a PUBLISH or an acknowledgement on its own, without building
// a Packet around it (a copy of the message): the path every delivery takes.
void encode(const Publish& packet, Version version, Bytes& out);
std::size_t encoded_size(const Publish& packet, Version version);
// Appends the PUBLISH only if its encoding is at most `limit` bytes (a
// peer's Maximum Packet Size); returns whether it did. One sizing pass.
bool encode_within(const Publish& packet, Version version, std::size_t limit, Bytes& out);
template <PacketType T>
void encode(const PublishAck<T>& packet, Version version, Bytes& out);

// Variable Byte Integer (§1.5.5): bytes needed, and encoding.
std::size_t vbi_size(std::uint32_t value);
void encode_vbi(std::uint32_t value, Bytes& out);

}  // namespace assay::mqtt
