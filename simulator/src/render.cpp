// render(): the templates of client ids, topics and payloads
// (docs/simulator.md, "Templates"). It runs for every message a device
// publishes, so it is one pass that appends to the result: no regex, and no
// allocation but the result's (placeholder names fit the short-string
// buffer when looked up).
#include <charconv>

#include "assay/sim/scenario.hpp"

namespace assay::sim {

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The width of a {n:0W} format ("04" -> 4), or 0 when `spec` is not one.
// parse_scenario() accepts the same widths, 1 to 20 (the digits of 2^64).
std::size_t zero_pad_width(std::string_view spec) {
  if (spec.size() < 2 || spec.size() > 3 || spec[0] != '0') return 0;
  std::size_t width = 0;
  const auto [end, ec] = std::from_chars(spec.data() + 1, spec.data() + spec.size(), width);
  if (ec != std::errc{} || end != spec.data() + spec.size() || width < 1 || width > 20) return 0;
  return width;
}

}  // namespace

std::string render(std::string_view tmpl, const std::map<std::string, std::string>& values,
                   std::size_t n) {
  std::string out;
  out.reserve(tmpl.size() + 16);
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const std::size_t open = tmpl.find('{', i);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    out.append(tmpl.substr(i, open - i));
    // A placeholder is {name} or {name:spec}, the name of letters, digits
    // and '_'. Anything else (the braces of a JSON payload) is text.
    std::size_t end = open + 1;
    while (end < tmpl.size() && is_name_char(tmpl[end]))
      ++end;
    const std::string_view name = tmpl.substr(open + 1, end - open - 1);
    std::string_view spec;
    if (end < tmpl.size() && tmpl[end] == ':') {
      const std::size_t close = tmpl.find_first_of("{}", end + 1);
      if (close != std::string_view::npos) {
        spec = tmpl.substr(end + 1, close - end - 1);
        end = close;
      }
    }
    if (name.empty() || end >= tmpl.size() || tmpl[end] != '}') {
      out.push_back('{');
      i = open + 1;
      continue;
    }
    const std::string_view whole = tmpl.substr(open, end + 1 - open);
    i = end + 1;
    if (name == "n") {
      char digits[24];
      const auto written = std::to_chars(digits, digits + sizeof digits, n);
      const auto length = static_cast<std::size_t>(written.ptr - digits);
      if (!spec.empty()) {
        const std::size_t width = zero_pad_width(spec);
        if (width == 0) {
          out.append(whole);
          continue;
        }
        if (width > length) out.append(width - length, '0');
      }
      out.append(digits, length);
      continue;
    }
    const auto it = spec.empty() ? values.find(std::string(name)) : values.end();
    if (it == values.end()) {
      out.append(whole);
    } else {
      out.append(it->second);
    }
  }
  return out;
}

}  // namespace assay::sim
