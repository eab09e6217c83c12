// "HOST[:PORT]" on the command line: a name, an IPv4 address, or an IPv6
// address, bare or in brackets ("[::1]:1883").
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace assay::tools {

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// nullopt when the port is not a number from 1 to 65535 or a bracket is
// left open.
inline std::optional<HostPort> parse_host_port(const std::string& text,
                                               std::uint16_t default_port) {
  HostPort out{text, default_port};
  std::optional<std::string> port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) return std::nullopt;
    out.host = text.substr(1, close - 1);
    const std::string rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const auto colon = text.find(':');
    out.host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (port_text) {
    if (port_text->empty() || port_text->size() > 5 ||
        !std::all_of(port_text->begin(), port_text->end(),
                     [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    const int port = std::stoi(*port_text);
    if (port < 1 || port > 65535) return std::nullopt;
    out.port = static_cast<std::uint16_t>(port);
  }
  if (out.host.empty()) return std::nullopt;
  return out;
}

}  // namespace assay::tools
