// The input of an operation-sequence fuzz target, read a byte at a time;
// past the end it reads zeros, so a target never runs off its data.
#pragma once

#include <algorithm>
#include <cstdint>

#include "assay/mqtt/types.hpp"

namespace assay::fuzz {

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  std::uint8_t byte() { return p_ == end_ ? 0 : *p_++; }
  std::uint16_t u16() {
    const std::uint16_t high = byte();
    return static_cast<std::uint16_t>(high << 8 | byte());
  }
  // Up to n bytes (fewer at the end).
  mqtt::ByteView take(std::size_t n) {
    n = std::min<std::size_t>(n, static_cast<std::size_t>(end_ - p_));
    mqtt::ByteView v(p_, n);
    p_ += n;
    return v;
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

}  // namespace assay::fuzz
