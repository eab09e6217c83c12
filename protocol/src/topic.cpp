#include "assay/mqtt/topic.hpp"

#include <cstdint>
#include <cstring>
#include <string>

#include "assay/mqtt/constants.hpp"
#include "wire.hpp"

namespace assay::mqtt {
namespace {

constexpr std::string_view share_prefix = "$share/";

std::optional<Violation> invalid(ReasonCode rc, std::string_view statement, std::string detail) {
  return Violation{rc, statement, std::move(detail)};
}

// Rules common to names and filters: §4.7.3.
std::optional<Violation> check_common(std::string_view s, ReasonCode rc, std::string_view what) {
  if (s.empty()) {
    return invalid(rc, "MQTT-4.7.3-1", std::string(what) + " is empty");
  }
  if (s.size() > max_string_length) {
    return invalid(rc, "MQTT-4.7.3-3", std::string(what) + " is longer than 65,535 bytes");
  }
  if (s.find('\0') != std::string_view::npos) {
    return invalid(rc, "MQTT-4.7.3-2", std::string(what) + " contains U+0000");
  }
  return std::nullopt;
}

// Splits off the next level of `s` starting at `pos`; `done` once the last
// level has been returned.
std::string_view next_level(std::string_view s, std::size_t& pos, bool& done) {
  const auto slash = s.find('/', pos);
  const std::string_view level = s.substr(pos, slash - pos);
  if (slash == std::string_view::npos) {
    done = true;
    pos = s.size();
  } else {
    pos = slash + 1;
  }
  return level;
}

std::optional<Violation> check_wildcards(std::string_view filter, Version v) {
  std::size_t pos = 0;
  bool done = false;
  while (!done) {
    const std::string_view level = next_level(filter, pos, done);
    if (level.find('#') != std::string_view::npos && (level != "#" || !done)) {
      return invalid(ReasonCode::topic_filter_invalid,
                     wire::cite(v, "MQTT-4.7.1-2", "MQTT-4.7.1-1"),
                     "'#' must be the last level of the topic filter and stand alone");
    }
    if (level.find('+') != std::string_view::npos && level != "+") {
      return invalid(ReasonCode::topic_filter_invalid,
                     wire::cite(v, "MQTT-4.7.1-3", "MQTT-4.7.1-2"),
                     "'+' must occupy a whole level of the topic filter");
    }
  }
  return std::nullopt;
}

}  // namespace

namespace {

// True if any byte of `w` is 0, '+' or '#' (exact, eight bytes at a time).
constexpr bool has_special_byte(std::uint64_t w) {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  const auto has_zero = [](std::uint64_t x) { return ((x - ones) & ~x & highs) != 0; };
  return has_zero(w) || has_zero(w ^ (ones * '+')) || has_zero(w ^ (ones * '#'));
}

}  // namespace

std::optional<Violation> validate_topic_name(std::string_view name, Version v) {
  // It runs for every PUBLISH received: skip clean 8-byte blocks, then look
  // at the rest byte by byte.
  std::size_t i = 0;
  while (name.size() - i >= 8) {
    std::uint64_t w;
    std::memcpy(&w, name.data() + i, 8);
    if (has_special_byte(w)) break;
    i += 8;
  }
  bool wildcard = false;
  for (const char c : name.substr(i)) {
    if (c == '\0') return check_common(name, ReasonCode::topic_name_invalid, "topic name");
    wildcard = wildcard || c == '+' || c == '#';
  }
  if (name.empty() || name.size() > max_string_length) {
    return check_common(name, ReasonCode::topic_name_invalid, "topic name");
  }
  if (wildcard) {
    return invalid(ReasonCode::topic_name_invalid, wire::cite(v, "MQTT-4.7.1-1", "MQTT-4.7.0-1"),
                   "topic name contains a wildcard character");
  }
  return std::nullopt;
}

std::optional<Violation> validate_topic_filter(std::string_view filter, Version v) {
  if (auto bad = check_common(filter, ReasonCode::topic_filter_invalid, "topic filter")) return bad;
  if (v == Version::v5 && filter.starts_with(share_prefix)) {
    const std::string_view rest = filter.substr(share_prefix.size());
    const auto slash = rest.find('/');
    const std::string_view share_name = rest.substr(0, slash);
    if (share_name.empty()) {
      return invalid(ReasonCode::topic_filter_invalid, "MQTT-4.8.2-1",
                     "shared subscription has an empty ShareName");
    }
    if (share_name.find_first_of("+#") != std::string_view::npos) {
      return invalid(ReasonCode::topic_filter_invalid, "MQTT-4.8.2-2",
                     "ShareName contains '+' or '#'");
    }
    if (slash == std::string_view::npos || slash + 1 == rest.size()) {
      return invalid(ReasonCode::topic_filter_invalid, "MQTT-4.8.2-2",
                     "ShareName is not followed by '/' and a topic filter");
    }
    return check_wildcards(rest.substr(slash + 1), v);
  }
  return check_wildcards(filter, v);
}

std::optional<SharedFilter> parse_shared_filter(std::string_view filter) {
  if (!filter.starts_with(share_prefix)) return std::nullopt;
  const std::string_view rest = filter.substr(share_prefix.size());
  const auto slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == rest.size()) {
    return std::nullopt;
  }
  const std::string_view share_name = rest.substr(0, slash);
  if (share_name.find_first_of("+#") != std::string_view::npos) return std::nullopt;
  return SharedFilter{share_name, rest.substr(slash + 1)};
}

bool topic_matches(std::string_view filter, std::string_view name) {
  if (!name.empty() && name.front() == '$' && !filter.empty() &&
      (filter.front() == '+' || filter.front() == '#')) {
    return false;  // [MQTT-4.7.2-1]
  }
  std::size_t fpos = 0;
  std::size_t npos = 0;
  bool fdone = false;
  bool ndone = false;
  for (;;) {
    if (fdone) return ndone;
    const std::string_view flevel = next_level(filter, fpos, fdone);
    if (flevel == "#") return true;  // the rest, or nothing ("a/#" matches "a")
    if (ndone) return false;
    const std::string_view nlevel = next_level(name, npos, ndone);
    if (flevel != "+" && flevel != nlevel) return false;
  }
}

}  // namespace assay::mqtt
