// The on-disk format of FileStore's log, kept apart from the file I/O so that
// it can be tested and fuzzed as a pure function of bytes.
//
//   header: "ASSAYLG1" | u32 format version
//   frame:  u32 body length | u32 CRC-32C of the body | body
//   body:   u8 kind | u32 key length | key | value (empty for an erase)
//
// Integers are big-endian. A log is replayed from the start; the first frame
// that is cut short, fails its CRC or does not parse ends the good part, and
// everything from there on is a tail that recovery reports and drops.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "assay/broker/store.hpp"
#include "assay/mqtt/types.hpp"

namespace assay::broker::store_log {

inline constexpr std::array<std::uint8_t, 8> magic = {'A', 'S', 'S', 'A', 'Y', 'L', 'G', '1'};
inline constexpr std::uint32_t format_version = 1;
inline constexpr std::size_t header_size = magic.size() + 4;
inline constexpr std::size_t frame_overhead = 8;  // length and CRC
inline constexpr std::size_t body_overhead = 5;   // kind and key length
// No record of the engine comes near this; a length beyond it is taken for
// corruption rather than a reason to read (or allocate) a quarter gigabyte.
inline constexpr std::size_t max_body = std::size_t{256} << 20;

enum class Kind : std::uint8_t {
  put_session = 1,
  erase_session = 2,
  put_retained = 3,
  erase_retained = 4,
};

// CRC-32C (Castagnoli), as in iSCSI and ext4: crc32c("123456789") is
// 0xE3069283.
std::uint32_t crc32c(mqtt::ByteView data);

void append_header(mqtt::Bytes& out);

// The bytes one frame of this key and value takes in the log.
constexpr std::size_t frame_size(std::size_t key_size, std::size_t value_size) {
  return frame_overhead + body_overhead + key_size + value_size;
}

// Appends one frame. Throws std::length_error when the body would exceed
// max_body: such a frame would read back as corruption and take every later
// record with it, so it must never be written.
void append_frame(mqtt::Bytes& out, Kind kind, std::string_view key, mqtt::ByteView value);

// A snapshot: the header, then one put frame per live record.
mqtt::Bytes encode_snapshot(const Store::Contents& contents);
// Its size, without building it.
std::size_t snapshot_size(const Store::Contents& contents);

struct LogImage {
  Store::Contents contents;     // after replaying every good frame
  std::size_t valid_bytes = 0;  // the header and the good frames: where a problem is
  std::size_t records = 0;      // good frames replayed
  bool header_ok = false;       // false for an empty image too
  std::string problem;          // why parsing stopped before the end; empty if it did not
};

// Replays a whole log image. Never throws on any input.
LogImage parse_log(mqtt::ByteView image);

}  // namespace assay::broker::store_log
