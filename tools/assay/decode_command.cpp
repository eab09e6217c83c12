#include "decode_command.hpp"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "assay/json/packet_json.hpp"

namespace assay::tools {

using namespace assay::mqtt;
using json = nlohmann::ordered_json;
using packet_json::to_json;

std::optional<Bytes> parse_hex(std::string_view text, std::string& error) {
  Bytes out;
  int high = -1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X') && high < 0) {
      ++i;  // "0x" prefix
      continue;
    }
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':' || c == ',' || c == '-') {
        continue;
      }
      error = "not a hex digit at position " + std::to_string(i) + ": '" + std::string(1, c) + "'";
      return std::nullopt;
    }
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + v));
      high = -1;
    }
  }
  if (high >= 0) {
    error = "odd number of hex digits";
    return std::nullopt;
  }
  return out;
}

int run_decode(const Bytes& input, const DecodeOptions& options, std::ostream& out,
               std::ostream& err) {
  const int indent = options.pretty ? 2 : -1;
  Version version = options.version.value_or(Version::v5);
  const DecodeLimits limits{options.maximum_packet_size};
  std::size_t offset = 0;
  while (offset < input.size()) {
    const ByteView rest = ByteView(input).subspan(offset);
    DecodeResult r = decode(rest, version, limits);
    if (auto* d = std::get_if<Decoded>(&r)) {
      // Packets after a CONNECT follow the version it announces.
      if (const auto* c = std::get_if<Connect>(&d->packet)) version = c->version;
      json j = to_json(d->packet, version);
      j["offset"] = offset;
      j["size"] = d->size;
      out << j.dump(indent) << '\n';
      offset += d->size;
      continue;
    }
    if (auto* bad = std::get_if<Violation>(&r)) {
      json j = {{"error", "violation"}, {"offset", offset}, {"version", to_string(version)}};
      j.update(to_json(*bad));
      out << j.dump(indent) << '\n';
      err << "assay decode: violation at byte " << offset << ": " << to_string(*bad) << '\n';
      return exit_violation;
    }
    const auto& more = std::get<NeedMore>(r);
    json j = {{"error", "truncated"},
              {"offset", offset},
              {"available", rest.size()},
              {"missing_at_least", more.at_least}};
    out << j.dump(indent) << '\n';
    err << "assay decode: the input ends inside a packet at byte " << offset << " (at least "
        << more.at_least << " more bytes needed)\n";
    return exit_violation;
  }
  return exit_ok;
}

namespace {

std::optional<Bytes> read_input(const DecodeOptions& o, std::string& error) {
  std::string text;
  if (!o.hex.empty()) {
    for (const auto& h : o.hex)
      text += h + " ";
  } else if (o.file.empty() || o.file == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(o.file, std::ios::binary);
    if (!in) {
      error = "cannot open " + o.file;
      return std::nullopt;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (o.binary) return Bytes(text.begin(), text.end());
  return parse_hex(text, error);
}

}  // namespace

void add_decode_command(CLI::App& app) {
  auto options = std::make_shared<DecodeOptions>();
  auto version_text = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "decode",
      "Decode MQTT packets from hex (arguments, a file, or stdin) and print each as JSON.\n"
      "A malformed packet prints the violation with its reason code and spec statement\n"
      "and exits 1.");
  cmd->add_option("hex", options->hex, "Packet bytes in hex, e.g. \"30 05 00 01 74 68 69\"");
  cmd->add_option("-f,--file", options->file, "Read the input from FILE ('-' for stdin)");
  cmd->add_flag("--binary", options->binary, "The input is raw bytes, not hex text");
  cmd->add_option("--version", *version_text,
                  "Protocol version of the packets: 3.1.1 or 5 (default: the version the\n"
                  "CONNECT names, else 5)")
      ->check(CLI::IsMember({"3.1.1", "5", "5.0"}));
  cmd->add_flag("--pretty", options->pretty, "Indent the JSON");
  cmd->add_option("--max-packet-size", options->maximum_packet_size,
                  "Refuse packets larger than this many bytes")
      ->check(CLI::Range(2u, max_packet_size));
  cmd->callback([options, version_text] {
    if (!version_text->empty()) {
      options->version = *version_text == "3.1.1" ? Version::v3_1_1 : Version::v5;
    }
    std::string error;
    const auto input = read_input(*options, error);
    if (!input) {
      std::cerr << "assay decode: " << error << '\n';
      throw CLI::RuntimeError(exit_usage);
    }
    const int code = run_decode(*input, *options, std::cout, std::cerr);
    if (code != exit_ok) throw CLI::RuntimeError(code);
  });
}

}  // namespace assay::tools
