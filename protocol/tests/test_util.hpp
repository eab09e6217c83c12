// Helpers shared by the protocol tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "assay/mqtt/codec.hpp"

namespace assay::mqtt::test {

// "10 0c 00 04" -> bytes; spaces, newlines and '|' are ignored so vectors can
// be laid out field by field.
inline Bytes hex(std::string_view text) {
  Bytes out;
  int hi = -1;
  for (const char ch : text) {
    int v = -1;
    if (ch >= '0' && ch <= '9') v = ch - '0';
    if (ch >= 'a' && ch <= 'f') v = ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') v = ch - 'A' + 10;
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi * 16 + v));
      hi = -1;
    }
  }
  EXPECT_LT(hi, 0) << "odd number of hex digits in test vector";
  return out;
}

inline Bytes operator""_hex(const char* s, std::size_t n) {
  return hex(std::string_view(s, n));
}

// Decodes exactly one packet that fills `bytes`.
inline Packet decode_one(const Bytes& bytes, Version v) {
  DecodeResult r = decode(bytes, v);
  if (auto* bad = std::get_if<Violation>(&r)) {
    ADD_FAILURE() << "unexpected violation: " << to_string(*bad);
    return Pingreq{};
  }
  if (std::holds_alternative<NeedMore>(r)) {
    ADD_FAILURE() << "decoder wants more bytes";
    return Pingreq{};
  }
  auto& d = std::get<Decoded>(r);
  EXPECT_EQ(d.size, bytes.size());
  return std::move(d.packet);
}

template <class P>
P decode_as(const Bytes& bytes, Version v) {
  Packet p = decode_one(bytes, v);
  if (!std::holds_alternative<P>(p)) {
    ADD_FAILURE() << "decoded a " << to_string(type_of(p));
    return P{};
  }
  return std::get<P>(std::move(p));
}

// Decodes, checks the type, and checks that encoding gives the same bytes.
template <class P>
P roundtrip(const Bytes& bytes, Version v) {
  P p = decode_as<P>(bytes, v);
  EXPECT_EQ(encode(Packet(p), v), bytes) << "re-encoding differs";
  return p;
}

// Expects decoding to fail with this reason code and statement.
inline Violation expect_violation(const Bytes& bytes, Version v, ReasonCode reason,
                                  std::string_view statement) {
  DecodeResult r = decode(bytes, v);
  if (!std::holds_alternative<Violation>(r)) {
    ADD_FAILURE() << "expected a violation of " << statement << ", but "
                  << (std::holds_alternative<NeedMore>(r) ? "the decoder wants more bytes"
                                                          : "the packet decoded");
    return {};
  }
  const auto& bad = std::get<Violation>(r);
  EXPECT_EQ(bad.reason, reason) << to_string(bad);
  EXPECT_EQ(bad.statement, statement) << to_string(bad);
  return bad;
}

}  // namespace assay::mqtt::test
