#include "assay/mqtt/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace assay::mqtt {

Utf8Status check_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto* const end = p + s.size();
  while (p < end) {
    // ASCII fast path, eight bytes at a time: no high bit and no zero byte.
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      constexpr std::uint64_t ones = 0x0101010101010101ULL;
      constexpr std::uint64_t highs = 0x8080808080808080ULL;
      if ((w & highs) != 0 || ((w - ones) & ~w & highs) != 0) break;
      p += 8;
    }
    if (p == end) break;
    const std::uint8_t b = *p;
    if (b < 0x80) {
      if (b == 0) return Utf8Status::null_char;
      ++p;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((b & 0xE0) == 0xC0) {
      n = 1, cp = b & 0x1Fu, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      n = 2, cp = b & 0x0Fu, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      n = 3, cp = b & 0x07u, min = 0x10000;
    } else {
      return Utf8Status::ill_formed;  // continuation byte or 0xF8..0xFF as lead
    }
    if (static_cast<std::size_t>(end - p) <= n) return Utf8Status::ill_formed;
    for (std::size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return Utf8Status::ill_formed;
      cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF) return Utf8Status::ill_formed;  // overlong or too large
    if (cp >= 0xD800 && cp <= 0xDFFF) return Utf8Status::surrogate;
    p += n + 1;
  }
  return Utf8Status::ok;
}

}  // namespace assay::mqtt
