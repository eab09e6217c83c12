// The protocol's constants: sizes and values to which the specification
// gives a meaning, in one table, so that code says which one it means
// instead of writing 0xFFFFFFFF or 65535. Reason codes (reason_code.hpp) and
// properties (properties.hpp) have tables of their own.
#pragma once

#include <cstddef>
#include <cstdint>

namespace assay::mqtt {

// The largest Remaining Length a Variable Byte Integer can express (§2.1.4,
// 3.1.1 §2.2.3).
inline constexpr std::uint32_t max_remaining_length = 268'435'455;
// Fixed header byte + 4 bytes of Remaining Length + the largest body.
inline constexpr std::uint32_t max_packet_size = 1 + 4 + max_remaining_length;
// UTF-8 strings and Binary Data have a two-byte length (§1.5.4, §1.5.6;
// 3.1.1 §1.5.3); so do topic names and filters [MQTT-4.7.3-3].
inline constexpr std::size_t max_string_length = 65'535;
// Session Expiry Interval 0xFFFFFFFF: the session never expires (§3.1.2.11.2).
// A 3.1.1 session kept with CleanSession 0 lives as long (§3.1.2.4).
inline constexpr std::uint32_t session_never_expires = 0xFFFF'FFFF;
// An absent Receive Maximum means 65,535 (§3.1.2.11.3, §3.2.2.3.3), and
// 3.1.1, which has no flow control, behaves the same.
inline constexpr std::uint16_t default_receive_maximum = 65'535;
// Packet Identifiers are 1 to 65,535 (§2.2.1): at most this many in use.
inline constexpr std::uint16_t max_packet_identifier = 65'535;

}  // namespace assay::mqtt
