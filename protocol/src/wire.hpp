// Internal: the data representations of §1.5 read and written field by field.
// Reader keeps the first violation it meets ("sticky"), so a packet decoder
// reads its fields in a row and checks failed() where it must branch.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "assay/mqtt/types.hpp"
#include "assay/mqtt/violation.hpp"

namespace assay::mqtt::wire {

// The statement to cite for a rule whose ID differs between the versions.
constexpr std::string_view cite(Version v, std::string_view v311, std::string_view v5) {
  return v == Version::v5 ? v5 : v311;
}

enum class VbiStatus { ok, need_more, too_long, not_minimal };

// Reads a Variable Byte Integer from `in`; on ok, sets value and length.
VbiStatus read_vbi(ByteView in, std::uint32_t& value, std::size_t& length);

class Reader {
 public:
  Reader(ByteView bytes, Version version)
      : p_(bytes.data()), end_(bytes.data() + bytes.size()), version_(version) {}

  Version version() const { return version_; }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  bool at_end() const { return p_ == end_; }
  bool failed() const { return error_.has_value(); }
  const std::optional<Violation>& error() const { return error_; }

  // Records a violation unless one is recorded already. Returns false so a
  // check can be written as `return r.fail(...)`.
  bool fail(ReasonCode reason, std::string_view statement, std::string detail);
  bool malformed(std::string_view statement, std::string detail) {
    return fail(ReasonCode::malformed_packet, statement, std::move(detail));
  }
  bool protocol_error(std::string_view statement, std::string detail) {
    return fail(ReasonCode::protocol_error, statement, std::move(detail));
  }

  // Each read returns a zero value once the reader has failed; `what` names
  // the field in the violation's detail.
  std::uint8_t u8(std::string_view what) {
    if (!need(1, what)) return 0;
    return *p_++;
  }
  std::uint16_t u16(std::string_view what) {
    if (!need(2, what)) return 0;
    const auto v = static_cast<std::uint16_t>((p_[0] << 8) | p_[1]);
    p_ += 2;
    return v;
  }
  std::uint32_t u32(std::string_view what);
  std::uint32_t vbi(std::string_view what);
  ByteView take(std::size_t n, std::string_view what) {
    if (!need(n, what)) return {};
    ByteView out(p_, n);
    p_ += n;
    return out;
  }
  ByteView rest();
  // A UTF-8 Encoded String, checked against §1.5.4 (5.0) / §1.5.3 (3.1.1).
  std::string utf8(std::string_view what);
  // Binary Data: two-byte length then bytes.
  Bytes binary(std::string_view what);

  // A sub-reader over the next n bytes (e.g. a property block), advancing
  // this one past them.
  Reader sub(std::size_t n, std::string_view what);
  // Adopts a sub-reader's failure, if any.
  void merge(const Reader& sub);

 private:
  // The hot check inline; the failure path out of line.
  bool need(std::size_t n, std::string_view what) {
    if (failed()) return false;
    if (remaining() < n) return truncated(what);
    return true;
  }
  bool truncated(std::string_view what);

  const std::uint8_t* p_;
  const std::uint8_t* end_;
  Version version_;
  std::optional<Violation> error_;
};

// Sinks for the encoder: one counts, one appends. Encoding code is written
// once as templates over the sink, so encoded_size() is exact and cheap.
struct CountingSink {
  std::size_t size = 0;
  void byte(std::uint8_t) { ++size; }
  void bytes(const std::uint8_t*, std::size_t n) { size += n; }
};

struct VectorSink {
  Bytes& out;
  void byte(std::uint8_t b) { out.push_back(b); }
  void bytes(const std::uint8_t* p, std::size_t n) { out.insert(out.end(), p, p + n); }
};

// Writes into space already made for exactly what a CountingSink counted;
// writing more or less is a bug in the encoder, caught rather than overrun.
struct SpanSink {
  std::uint8_t* at;
  std::uint8_t* end;
  void byte(std::uint8_t b) {
    if (at == end) mismatch();
    *at++ = b;
  }
  void bytes(const std::uint8_t* p, std::size_t n) {
    if (static_cast<std::size_t>(end - at) < n) mismatch();
    if (n != 0) std::memcpy(at, p, n);
    at += n;
  }
  [[noreturn]] static void mismatch() {
    throw std::logic_error("the encoder wrote other than it counted");
  }
};

template <class Sink>
void put_u16(Sink& s, std::uint16_t v) {
  s.byte(static_cast<std::uint8_t>(v >> 8));
  s.byte(static_cast<std::uint8_t>(v & 0xFF));
}

template <class Sink>
void put_u32(Sink& s, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    s.byte(static_cast<std::uint8_t>(v >> shift));
}

template <class Sink>
void put_vbi(Sink& s, std::uint32_t v) {
  do {
    std::uint8_t b = v & 0x7F;
    v >>= 7;
    if (v > 0) b |= 0x80;
    s.byte(b);
  } while (v > 0);
}

template <class Sink>
void put_raw(Sink& s, ByteView b) {
  s.bytes(b.data(), b.size());
}

template <class Sink>
void put_string(Sink& s, std::string_view v) {
  put_u16(s, static_cast<std::uint16_t>(v.size()));
  s.bytes(reinterpret_cast<const std::uint8_t*>(v.data()), v.size());
}

template <class Sink>
void put_binary(Sink& s, ByteView v) {
  put_u16(s, static_cast<std::uint16_t>(v.size()));
  s.bytes(v.data(), v.size());
}

}  // namespace assay::mqtt::wire
