#include "wire.hpp"

#include "assay/mqtt/utf8.hpp"

namespace assay::mqtt::wire {

VbiStatus read_vbi(ByteView in, std::uint32_t& value, std::size_t& length) {
  std::uint32_t result = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    if (i >= in.size()) return VbiStatus::need_more;
    const std::uint8_t b = in[i];
    result |= static_cast<std::uint32_t>(b & 0x7F) << (7 * i);
    if ((b & 0x80) == 0) {
      // A last byte of 0 after a continuation byte adds nothing: the value
      // fits in fewer bytes [MQTT-1.5.5-1].
      if (i > 0 && b == 0) return VbiStatus::not_minimal;
      value = result;
      length = i + 1;
      return VbiStatus::ok;
    }
  }
  return VbiStatus::too_long;
}

bool Reader::fail(ReasonCode reason, std::string_view statement, std::string detail) {
  if (!error_) error_ = Violation{reason, statement, std::move(detail)};
  p_ = end_;  // stop reading
  return false;
}

bool Reader::truncated(std::string_view what) {
  return malformed(cite(version_, "§2.2.3", "§2.1.4"), "packet ends inside " + std::string(what));
}

std::uint32_t Reader::u32(std::string_view what) {
  if (!need(4, what)) return 0;
  const std::uint32_t v = (std::uint32_t{p_[0]} << 24) | (std::uint32_t{p_[1]} << 16) |
                          (std::uint32_t{p_[2]} << 8) | std::uint32_t{p_[3]};
  p_ += 4;
  return v;
}

std::uint32_t Reader::vbi(std::string_view what) {
  if (failed()) return 0;
  std::uint32_t value = 0;
  std::size_t length = 0;
  switch (read_vbi(ByteView(p_, remaining()), value, length)) {
    case VbiStatus::ok:
      p_ += length;
      return value;
    case VbiStatus::need_more:
      malformed(cite(version_, "§2.2.3", "§1.5.5"), "packet ends inside " + std::string(what));
      return 0;
    case VbiStatus::too_long:
      malformed(cite(version_, "§2.2.3", "§1.5.5"),
                std::string(what) + " is longer than four bytes");
      return 0;
    case VbiStatus::not_minimal:
      malformed(cite(version_, "§2.2.3", "MQTT-1.5.5-1"),
                std::string(what) + " does not use the minimum number of bytes");
      return 0;
  }
  return 0;
}

ByteView Reader::rest() {
  ByteView out(p_, remaining());
  p_ = end_;
  return out;
}

std::string Reader::utf8(std::string_view what) {
  const std::uint16_t n = u16(what);
  const ByteView b = take(n, what);
  if (failed()) return {};
  std::string s(reinterpret_cast<const char*>(b.data()), b.size());
  switch (check_utf8(s)) {
    case Utf8Status::ok:
      return s;
    case Utf8Status::ill_formed:
      malformed(cite(version_, "MQTT-1.5.3-1", "MQTT-1.5.4-1"),
                std::string(what) + " is not well-formed UTF-8");
      return {};
    case Utf8Status::surrogate:
      malformed(cite(version_, "MQTT-1.5.3-1", "MQTT-1.5.4-1"),
                std::string(what) + " encodes a surrogate code point (U+D800..U+DFFF)");
      return {};
    case Utf8Status::null_char:
      malformed(cite(version_, "MQTT-1.5.3-2", "MQTT-1.5.4-2"),
                std::string(what) + " contains U+0000");
      return {};
  }
  return {};
}

Bytes Reader::binary(std::string_view what) {
  const std::uint16_t n = u16(what);
  const ByteView b = take(n, what);
  return Bytes(b.begin(), b.end());
}

Reader Reader::sub(std::size_t n, std::string_view what) {
  const ByteView b = take(n, what);
  return Reader(b, version_);
}

void Reader::merge(const Reader& sub) {
  if (sub.error_ && !error_) {
    error_ = sub.error_;
    p_ = end_;
  }
}

}  // namespace assay::mqtt::wire
