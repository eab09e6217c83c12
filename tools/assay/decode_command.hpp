// `assay decode`: MQTT packets from hex (or raw bytes) to JSON.
#pragma once

#include <CLI/CLI.hpp>

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "assay/mqtt/codec.hpp"

namespace assay::tools {

struct DecodeOptions {
  std::vector<std::string> hex;          // arguments, joined; empty: read `file` or stdin
  std::string file;                      // "-" or empty: stdin
  bool binary = false;                   // the input is raw bytes, not hex text
  std::optional<mqtt::Version> version;  // nullopt: follow the CONNECT, else 5
  bool pretty = false;
  std::uint32_t maximum_packet_size = mqtt::max_packet_size;
};

// Exit codes: 0 every byte decoded; 1 a violation or a truncated packet;
// 2 the input could not be read or is not hex.
inline constexpr int exit_ok = 0;
inline constexpr int exit_violation = 1;
inline constexpr int exit_usage = 2;

// Parses hex text: whitespace, ':', ',' , '-' and "0x" prefixes are ignored.
// Returns nullopt and sets `error` on anything else or an odd digit count.
std::optional<mqtt::Bytes> parse_hex(std::string_view text, std::string& error);

// Decodes `input` and writes one JSON document per packet (JSON Lines, or
// indented with pretty), then the violation or truncation if any.
int run_decode(const mqtt::Bytes& input, const DecodeOptions& options, std::ostream& out,
               std::ostream& err);

void add_decode_command(CLI::App& app);

}  // namespace assay::tools
