// The value readers of scenario_fields.hpp: positions, errors that say
// where they are, and each kind of value a scenario file has.
#include "scenario_fields.hpp"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>

#include "assay/mqtt/constants.hpp"
#include "assay/mqtt/topic.hpp"

namespace assay::sim::scenario_detail {

std::string member_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string element_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// Line and column (from 1; a column counts characters, not UTF-8 bytes).
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = text.starts_with("\xEF\xBB\xBF") ? 3 : 0; i < offset && i < text.size();
       ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return {line, column};
}

std::string location(const std::string& file, std::string_view text, std::size_t offset) {
  const auto [line, column] = line_column(text, offset);
  return (file.empty() ? std::string("<scenario>") : file) + ":" + std::to_string(line) + ":" +
         std::to_string(column);
}

// nlohmann/json reports the last character it read, often the end of a
// token (the closing quote of a string where a comma is missing): point at
// the token's start instead, as every other error does.
std::size_t token_start(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  std::size_t start = 0;
  bool in_string = false;
  bool in_word = false;
  for (std::size_t i = 0; i < offset; ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    const bool word_char = std::strchr("{}[],: \t\r\n\"", c) == nullptr;
    if (c == '"') {
      in_string = true;
      start = i;
    } else if (word_char && !in_word) {
      start = i;
    }
    in_word = word_char;
  }
  return in_string || in_word ? start : offset;
}

std::string in_quotes(std::string_view s) {
  std::string out;  // appended, not concatenated: GCC 12 warns falsely (-Wrestrict) on the latter
  out.reserve(s.size() + 2);
  out.append(1, '"').append(s).append(1, '"');
  return out;
}

std::string joined(const std::vector<std::string_view>& names, std::string_view last) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? last : ", ";
    out += names[i];
  }
  return out;
}

[[noreturn]] void wrong_type(const Field& f, std::string_view expected) {
  const std::string found = f.v->type_name();  // null, object, array, string, boolean, number
  const std::string article = found == "null"                      ? ""
                              : found[0] == 'a' || found[0] == 'o' ? "an "
                                                                   : "a ";
  f.fail("must be " + std::string(expected) + ", not " + article + found);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// ---- Values

std::string as_string(const Field& f) {
  if (!f.v->is_string()) wrong_type(f, "a string");
  return f.v->get<std::string>();
}

std::string as_nonempty(const Field& f) {
  std::string s = as_string(f);
  if (s.empty()) f.fail("must not be empty");
  return s;
}

// Class and broker names go into client ids, topics and reports.
std::string as_name(const Field& f) {
  std::string s = as_nonempty(f);
  for (const char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '_' && c != '.')
      f.fail(in_quotes(s) + ": a name is letters, digits, '-', '_' and '.'");
  }
  return s;
}

bool as_bool(const Field& f) {
  if (!f.v->is_boolean()) wrong_type(f, "true or false");
  return f.v->get<bool>();
}

double as_number(const Field& f, bool nonnegative) {
  if (!f.v->is_number()) wrong_type(f, "a number");
  const double d = f.v->get<double>();
  if (!std::isfinite(d)) f.fail("must be a finite number");
  if (nonnegative && d < 0) f.fail("must not be negative");
  return d;
}

std::size_t as_count(const Field& f) {
  return as_integer<std::size_t>(f, 1, max_count);
}

double as_fraction(const Field& f) {
  if (!f.v->is_number()) wrong_type(f, "a number from 0 to 1");
  const double d = f.v->get<double>();
  if (!(d >= 0 && d <= 1)) f.fail("must be a fraction from 0 to 1");
  return d;
}

mqtt::QoS as_qos(const Field& f) {
  if (!f.v->is_number_unsigned() || f.v->get<std::uint64_t>() > 2) f.fail("must be 0, 1 or 2");
  return static_cast<mqtt::QoS>(f.v->get<std::uint64_t>());
}

mqtt::Version as_version(const Field& f) {
  if (f.v->is_string()) {
    const std::string s = f.v->get<std::string>();
    if (s == "3.1.1") return mqtt::Version::v3_1_1;
    if (s == "5" || s == "5.0") return mqtt::Version::v5;
  } else if (f.v->is_number_unsigned()) {
    if (f.v->get<std::uint64_t>() == 4) return mqtt::Version::v3_1_1;
    if (f.v->get<std::uint64_t>() == 5) return mqtt::Version::v5;
  }
  f.fail(R"(must be "3.1.1" or "5" (or the protocol levels 4 and 5))");
}

// "250ms", "2s", "1.5m", "1h", "500us", "10ns", "0", in nanoseconds;
// nullopt when `text` is not a number and a unit.
std::optional<double> parse_duration(std::string_view text) {
  while (!text.empty() && text.front() == ' ')
    text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ')
    text.remove_suffix(1);
  double n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || !std::isfinite(n)) return std::nullopt;
  std::string_view unit = text.substr(static_cast<std::size_t>(end - text.data()));
  while (!unit.empty() && unit.front() == ' ')
    unit.remove_prefix(1);
  static const std::map<std::string_view, double> units = {
      {"ns", 1.0}, {"us", 1e3}, {"\u00b5s", 1e3}, {"ms", 1e6},
      {"s", 1e9},  {"m", 60e9}, {"h", 3600e9}};
  if (unit.empty()) return n == 0 ? std::optional<double>(0.0) : std::nullopt;
  const auto it = units.find(unit);
  if (it == units.end()) return std::nullopt;
  return n * it->second;
}

// A duration: a string of a number and a unit, or a number of milliseconds.
Nanos as_duration(const Field& f) {
  std::optional<double> ns;
  if (f.v->is_number()) {
    ns = f.v->get<double>() * 1e6;
  } else if (f.v->is_string()) {
    ns = parse_duration(f.v->get<std::string>());
    if (!ns) {
      f.fail(
          in_quotes(f.v->get<std::string>()) +
          R"( is not a duration: a number and a unit (ns, us, ms, s, m, h) as in "250ms", "1.5m")");
    }
  } else {
    wrong_type(f, R"(a duration ("2s", "250ms", or a number of milliseconds))");
  }
  if (*ns < 0) f.fail("must not be negative");
  if (*ns > static_cast<double>(max_duration)) f.fail("must be at most 365 days");
  return std::llround(*ns);
}

Nanos as_positive_duration(const Field& f) {
  const Nanos d = as_duration(f);
  if (d == 0) f.fail("must be more than 0");
  return d;
}

// MQTT's own intervals (Keep Alive, Session Expiry, Will Delay, Message
// Expiry) are whole seconds on the wire, so a number here is seconds, as in
// the protocol and the broker's configuration; a duration string works too.
std::uint32_t as_seconds(const Field& f, std::uint32_t max, bool never) {
  if (never && f.v->is_string() && f.v->get<std::string>() == "never")
    return mqtt::session_never_expires;
  const std::string range = "a number of seconds from 0 to " + std::to_string(max) +
                            R"(, or a duration like "30s" or "1h")" +
                            (never ? R"(, or "never")" : "");
  double s = 0;
  if (f.v->is_number()) {
    s = f.v->get<double>();
  } else if (f.v->is_string()) {
    const auto ns = parse_duration(f.v->get<std::string>());
    if (!ns) f.fail("must be " + range);
    s = *ns / 1e9;
  } else {
    wrong_type(f, range);
  }
  if (s != std::floor(s)) f.fail("must be a whole number of seconds");
  if (!(s >= 0 && s <= max)) f.fail("must be " + range);
  return static_cast<std::uint32_t>(s);
}

// Messages per second: a number, or "10/s", "600/m", "5/2s".
double as_rate(const Field& f) {
  double rate = -1;
  if (f.v->is_number()) {
    rate = f.v->get<double>();
  } else if (f.v->is_string()) {
    const std::string s = f.v->get<std::string>();
    const std::size_t slash = std::min(s.find('/'), s.size());
    std::string per = s.substr(std::min(slash + 1, s.size()));
    if (per.empty() || std::isdigit(static_cast<unsigned char>(per[0])) == 0)
      per.insert(per.begin(), '1');
    double n = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + slash, n);
    const std::optional<double> ns = parse_duration(per);
    const bool ok = slash < s.size() && ec == std::errc{} && end == s.data() + slash && ns;
    if (!ok || *ns <= 0)
      f.fail(R"(must be a rate: messages per second, or a string like "10/s" or "600/m")");
    rate = n / *ns * 1e9;
  } else {
    wrong_type(f, R"(a rate (a number of messages per second, or "10/s"))");
  }
  if (!(rate > 0 && std::isfinite(rate))) f.fail("must be more than 0");
  return rate;
}

// ---- Templates

std::vector<Placeholder> placeholders(std::string_view t) {
  std::vector<Placeholder> out;
  for (std::size_t open = t.find('{'); open != std::string_view::npos;
       open = t.find('{', open + 1)) {
    std::size_t end = open + 1;
    while (end < t.size() &&
           (std::isalnum(static_cast<unsigned char>(t[end])) != 0 || t[end] == '_'))
      ++end;
    Placeholder p{{}, t.substr(open + 1, end - open - 1), {}};
    if (end < t.size() && t[end] == ':') {
      const std::size_t close = t.find_first_of("{}", end + 1);
      if (close == std::string_view::npos) continue;
      p.spec = t.substr(end + 1, close - end - 1);
      end = close;
    }
    p.whole = t.substr(open, end + 1 - open);
    if (!p.name.empty() && end < t.size() && t[end] == '}') out.push_back(p);
  }
  return out;
}

bool uses(std::string_view tmpl, std::string_view name) {
  const auto all = placeholders(tmpl);
  return std::any_of(all.begin(), all.end(), [&](const Placeholder& p) { return p.name == name; });
}

// A template whose placeholders are all among `allowed`; only {n} takes a
// format, a zero-padded width of 1 to 20 digits as render() pads.
std::string as_template(const Field& f, const std::vector<std::string_view>& allowed) {
  std::string t = as_string(f);
  for (const auto& p : placeholders(t)) {
    if (std::find(allowed.begin(), allowed.end(), p.name) == allowed.end()) {
      std::string names;
      for (const auto name : allowed)
        names.append(names.empty() ? "{" : ", {").append(name).append("}");
      f.fail("unknown placeholder " + std::string(p.whole) + "; allowed here: " + names);
    }
    if (p.spec.empty()) continue;
    const bool digits =
        std::all_of(p.spec.begin(), p.spec.end(), [](char c) { return c >= '0' && c <= '9'; });
    const bool width = p.name == "n" && digits && p.spec.size() >= 2 && p.spec[0] == '0' &&
                       p.spec.size() <= 3 && std::stoi(std::string(p.spec)) >= 1 &&
                       std::stoi(std::string(p.spec)) <= 20;
    if (!width) {
      f.fail(std::string(p.whole) + (p.name == "n" ? ": the format of {n} is a zero-padded width "
                                                     "from 01 to 020, as in {n:04}"
                                                   : ": only {n} takes a format"));
    }
  }
  return t;
}

// A topic template, which must render to a valid Topic Name at every site.
std::string as_topic(const Field& f, const DeviceClass& d) {
  std::string t = as_template(f, topic_names);
  for (const auto& site : d.sites) {
    const auto topic = render(t, {{"id", d.name + "-0"}, {"class", d.name}, {"site", site}}, 0);
    if (const auto bad = mqtt::validate_topic_name(topic, d.version))
      f.fail(in_quotes(topic) + " is not a valid topic name: " + bad->detail + " [" +
             std::string(bad->statement) + "]");
  }
  return t;
}

std::vector<std::string> as_sites(const Field& f) {
  if (!f.v->is_array()) wrong_type(f, "an array of strings");
  if (f.v->empty()) f.fail("must name a site at least");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < f.v->size(); ++i) {
    const Field e = f.element(i);
    std::string site = as_nonempty(e);
    if (site.find_first_of(std::string("+#\0", 3)) != std::string::npos)
      e.fail("a site is part of a topic: no '+', '#' or U+0000");
    out.push_back(std::move(site));
  }
  return out;
}

// A duration as messages show it: "75s", "1500ms".
std::string show(Nanos t) {
  if (t % ns_per_s == 0) return std::to_string(t / ns_per_s) + "s";
  if (t % ns_per_ms == 0) return std::to_string(t / ns_per_ms) + "ms";
  if (t % 1000 == 0) return std::to_string(t / 1000) + "us";
  return std::to_string(t) + "ns";
}

}  // namespace assay::sim::scenario_detail
