// Scenario files: JSON read into the structs of scenario.hpp
// (docs/simulator.md, "Scenarios"). nlohmann/json parses the text but keeps
// no positions, so a scan of our own (Positions) records where each value
// and each key starts, by JSON path; every error then names
// file:line:column and the path ("devices[0].qos"), as a compiler names a
// source position, so that a wrong scenario is fixed without guessing.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "assay/mqtt/constants.hpp"
#include "assay/mqtt/topic.hpp"
#include "assay/sim/scenario.hpp"

namespace assay::sim {

namespace {

using nlohmann::json;

std::string member_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string element_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// Positions: where each value of a document starts, and each member's key,
// by the paths member_path() and element_path() make. It runs only on text
// nlohmann/json accepted, so it can take the JSON to be well formed.
class Positions {
 public:
  static constexpr int max_depth = 64;  // no key of a scenario is nested half as deep

  explicit Positions(std::string_view text) : text_(text) {
    if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;  // nlohmann/json skips a BOM too
    skip_space();
    value({}, 0);
  }
  std::size_t value_at(const std::string& path) const {
    const auto it = values_.find(path);
    return it == values_.end() ? 0 : it->second;
  }
  // A member's key; for an array element (no key), its value.
  std::size_t key_at(const std::string& path) const {
    const auto it = keys_.find(path);
    return it == keys_.end() ? value_at(path) : it->second;
  }
  // The first key repeated within one object (nlohmann/json would keep the
  // last silently), and the value nested deeper than max_depth.
  const std::optional<std::string>& duplicate() const { return duplicate_; }
  std::size_t duplicate_at() const { return duplicate_at_; }
  const std::optional<std::string>& too_deep() const { return too_deep_; }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() &&
           (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      ++pos_;
  }
  void skip_string() {  // at the opening quote
    for (++pos_; pos_ < text_.size() && peek() != '"'; ++pos_) {
      if (peek() == '\\') ++pos_;
    }
    ++pos_;
  }
  std::string key() {
    const std::size_t start = pos_;
    skip_string();
    const std::string_view raw = text_.substr(start, pos_ - start);
    if (raw.find('\\') == std::string_view::npos) return std::string(raw.substr(1, raw.size() - 2));
    return json::parse(raw).get<std::string>();  // escapes, decoded as nlohmann/json does
  }
  void value(const std::string& path, int depth) {
    values_.emplace(path, pos_);
    const char c = peek();
    if ((c == '{' || c == '[') && depth == max_depth) {
      too_deep_ = path;  // reported at once: nothing after it is needed
      pos_ = text_.size();
    } else if (c == '{') {
      object(path, depth);
    } else if (c == '[') {
      ++pos_;
      skip_space();
      for (std::size_t i = 0; pos_ < text_.size() && peek() != ']'; ++i) {
        value(element_path(path, i), depth + 1);
        skip_space();
        if (peek() == ',') ++pos_;
        skip_space();
      }
      ++pos_;
    } else if (c == '"') {
      skip_string();
    } else {
      while (pos_ < text_.size() && std::strchr(",]} \t\r\n", peek()) == nullptr)
        ++pos_;
    }
  }
  void object(const std::string& path, int depth) {
    ++pos_;
    skip_space();
    std::set<std::string> seen;
    while (peek() == '"') {
      const std::size_t at = pos_;
      std::string name = key();
      const std::string path_of_member = member_path(path, name);
      if (!seen.insert(std::move(name)).second && !duplicate_) {
        duplicate_ = path_of_member;
        duplicate_at_ = at;
      }
      keys_.emplace(path_of_member, at);
      skip_space();
      ++pos_;  // ':'
      skip_space();
      value(path_of_member, depth + 1);
      skip_space();
      if (peek() == ',') ++pos_;
      skip_space();
    }
    ++pos_;  // '}'
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::unordered_map<std::string, std::size_t> values_;
  std::unordered_map<std::string, std::size_t> keys_;
  std::optional<std::string> duplicate_;
  std::size_t duplicate_at_ = 0;  // the repeated key's second occurrence
  std::optional<std::string> too_deep_;
};

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

struct Context {
  std::string file;
  std::string_view text;
  Positions positions;
  std::filesystem::path dir;  // CSV files are relative to the scenario's directory

  [[noreturn]] void fail(std::size_t offset, const std::string& path, std::string_view what) const {
    std::string m = location(file, text, offset) + ": ";
    if (!path.empty()) m += path + ": ";
    m += what;
    throw ScenarioError(m);
  }
};

// A value of the document and its path: what every reader takes, so that
// every error can say where it is.
struct Field {
  const Context* cx;
  const json* v;
  std::string path;

  [[noreturn]] void fail(std::string_view what) const {
    cx->fail(cx->positions.value_at(path), path, what);
  }
  [[noreturn]] void fail_key(std::string_view what) const {
    cx->fail(cx->positions.key_at(path), path, what);
  }
  Field member(std::string_view key) const {
    return {cx, &v->find(key).value(), member_path(path, key)};
  }
  Field element(std::size_t i) const { return {cx, &(*v)[i], element_path(path, i)}; }
};

std::string in_quotes(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

std::string joined(const std::vector<std::string_view>& names, std::string_view last = ", ") {
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

// An object whose keys are all known: the constructor refuses an unknown
// one (the first in the document), naming the keys allowed there.
class Obj {
 public:
  Obj(Field f, std::vector<std::string_view> allowed, std::string_view what) : f_(std::move(f)) {
    if (!f_.v->is_object()) wrong_type(f_, "an object");
    std::optional<Field> unknown;
    for (const auto& item : f_.v->items()) {
      if (std::find(allowed.begin(), allowed.end(), item.key()) != allowed.end()) continue;
      Field candidate = f_.member(item.key());
      const auto& p = f_.cx->positions;
      if (!unknown || p.key_at(candidate.path) < p.key_at(unknown->path)) unknown = candidate;
    }
    if (!unknown) return;
    const std::string key = unknown->path.substr(f_.path.empty() ? 0 : f_.path.size() + 1);
    std::string m = "unknown key " + in_quotes(key) + " in " + std::string(what);
    for (const auto name : allowed) {
      if (key.size() >= 3 && edit_distance(key, name) <= 2) {
        m += " (did you mean " + in_quotes(name) + "?)";
        break;
      }
    }
    unknown->fail_key(m + "; allowed: " + joined(allowed));
  }
  std::optional<Field> get(std::string_view key) const {
    if (!f_.v->contains(key)) return std::nullopt;
    return f_.member(key);
  }
  Field need(std::string_view key) const {
    if (!f_.v->contains(key)) f_.fail(in_quotes(key) + " is required");
    return f_.member(key);
  }
  const Field& field() const { return f_; }

 private:
  Field f_;
};

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

double as_number(const Field& f, bool nonnegative = false) {
  if (!f.v->is_number()) wrong_type(f, "a number");
  const double d = f.v->get<double>();
  if (!std::isfinite(d)) f.fail("must be a finite number");
  if (nonnegative && d < 0) f.fail("must not be negative");
  return d;
}

// Whole numbers; 20.0 is 20, as JSON does not tell them apart.
template <class T>
T as_integer(const Field& f, T min, T max) {
  static_assert(std::is_unsigned_v<T>);
  const auto out_of_range = [&] {
    f.fail("must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  };
  if (!f.v->is_number()) wrong_type(f, "an integer");
  if (f.v->is_number_unsigned()) {
    const auto n = f.v->get<std::uint64_t>();
    if (n < min || n > max) out_of_range();
    return static_cast<T>(n);
  }
  if (f.v->is_number_integer()) out_of_range();  // negative
  const double d = f.v->get<double>();
  if (d != std::floor(d)) f.fail("must be an integer");
  if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max))) out_of_range();
  return static_cast<T>(d);
}

constexpr std::size_t max_count = 1'000'000;
constexpr std::uint64_t max_bytes_per_s = 1'000'000'000'000;

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

constexpr Nanos max_duration = 365 * 24 * 3600 * ns_per_s;

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
std::uint32_t as_seconds(const Field& f, std::uint32_t max, bool never = false) {
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
    if (per.empty() || std::isdigit(static_cast<unsigned char>(per[0])) == 0) per.insert(0, "1");
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

template <class E>
struct Named {
  std::string_view name;
  E value;
};

template <class E, std::size_t N>
E as_one_of(const Field& f, const Named<E> (&table)[N]) {
  std::vector<std::string_view> names;
  for (const auto& entry : table) {
    if (f.v->is_string() && f.v->get<std::string>() == entry.name) return entry.value;
    names.push_back(entry.name);
  }
  if (!f.v->is_string()) wrong_type(f, "one of " + joined(names, " or "));
  f.fail("must be one of " + joined(names, " or ") + ", not " + in_quotes(f.v->get<std::string>()));
}

// ---- Templates

// The placeholders of a template, by the lexical rule of render(): {name}
// or {name:spec}, the name of letters, digits and '_'; other braces are
// text (a JSON payload is full of them).
struct Placeholder {
  std::string_view whole;  // "{n:04}"
  std::string_view name;   // "n"
  std::string_view spec;   // "04"
};

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

const std::vector<std::string_view> topic_names{"id", "n", "class", "site"};
const std::vector<std::string_view> payload_names{"value", "seq", "msg",   "t",
                                                  "id",    "n",   "class", "site"};

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

// ---- Sections

LinkProfile as_link(const Field& f, LinkProfile l, std::string_view what) {
  const Obj o(f, {"latency", "jitter", "bandwidth", "max_chunk"}, what);
  if (auto x = o.get("latency")) l.latency = as_duration(*x);
  if (auto x = o.get("jitter")) l.jitter = as_duration(*x);
  if (auto x = o.get("bandwidth"))
    l.bandwidth_bytes_per_s = as_integer<std::uint64_t>(*x, 0, max_bytes_per_s);
  if (auto x = o.get("max_chunk")) l.max_chunk = as_integer<std::size_t>(*x, 1, max_count);
  return l;
}

// Test only: the bugs that can be planted to show the checkers find them
// (docs/simulator.md, "Planted bugs").
constexpr Named<broker::PlantedBug> broker_bugs[]{
    {"none", broker::PlantedBug::none},
    {"lose_qos2_after_pubrec", broker::PlantedBug::lose_qos2_after_pubrec},
    {"will_on_normal_disconnect", broker::PlantedBug::will_on_normal_disconnect},
    {"drop_session_on_takeover", broker::PlantedBug::drop_session_on_takeover},
    {"retained_without_retain_flag", broker::PlantedBug::retained_without_retain_flag},
    {"forget_inflight_on_resume", broker::PlantedBug::forget_inflight_on_resume},
    {"reorder_queue", broker::PlantedBug::reorder_queue},
    {"ack_before_store", broker::PlantedBug::ack_before_store},
};
constexpr Named<client::PlantedBug> client_bugs[]{
    {"none", client::PlantedBug::none},
    {"resend_without_dup", client::PlantedBug::resend_without_dup},
    {"forget_inflight_on_resume", client::PlantedBug::forget_inflight_on_resume},
};

BrokerSpec as_broker(const Field& f) {
  const Obj o(
      f,
      {"name", "shards", "durable", "receive_maximum", "max_queued_messages", "topic_alias_maximum",
       "server_keep_alive", "minimum_client_id_length", "planted_bug"},
      "a broker");
  BrokerSpec b;
  if (auto x = o.get("name")) b.name = as_name(*x);
  // The ranges of `assay broker`'s configuration keys of the same names.
  if (auto x = o.get("shards")) b.shards = as_integer<std::size_t>(*x, 1, 256);
  if (auto x = o.get("durable")) b.durable = as_bool(*x);
  if (auto x = o.get("receive_maximum"))
    b.receive_maximum = as_integer<std::uint16_t>(*x, 1, 65535);
  if (auto x = o.get("max_queued_messages"))
    b.max_queued_messages = as_integer<std::size_t>(*x, 0, 100'000'000);
  if (auto x = o.get("topic_alias_maximum"))
    b.topic_alias_maximum = as_integer<std::uint16_t>(*x, 0, 65535);
  if (auto x = o.get("server_keep_alive"))
    b.server_keep_alive = static_cast<std::uint16_t>(as_seconds(*x, 65535));
  if (auto x = o.get("minimum_client_id_length"))
    b.minimum_client_id_length = as_integer<std::size_t>(*x, 0, 65535);
  if (auto x = o.get("planted_bug")) b.planted_bug = as_one_of(*x, broker_bugs);
  if (b.durable && b.shards > 1) {
    o.need("shards").fail("a durable broker runs one engine (its store is not shared yet)");
  }
  return b;
}

// A duration as messages show it: "75s", "1500ms".
std::string show(Nanos t) {
  if (t % ns_per_s == 0) return std::to_string(t / ns_per_s) + "s";
  if (t % ns_per_ms == 0) return std::to_string(t / ns_per_ms) + "ms";
  if (t % 1000 == 0) return std::to_string(t / 1000) + "us";
  return std::to_string(t) + "ns";
}

template <class E, std::size_t N>
std::string_view name_of(const Named<E> (&table)[N], E value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

const Named<Process::Kind> process_kinds[] = {
    {"fixed", Process::Kind::fixed},     {"uniform", Process::Kind::uniform},
    {"normal", Process::Kind::normal},   {"exponential", Process::Kind::exponential},
    {"poisson", Process::Kind::poisson}, {"bursts", Process::Kind::bursts}};

Process as_process(const Field& f) {
  using K = Process::Kind;
  if (!f.v->is_object()) wrong_type(f, "an object");
  Process p;
  if (f.v->contains("kind")) p.kind = as_one_of(f.member("kind"), process_kinds);
  // Only the keys the kind uses: a `rate` on a fixed process is a mistake.
  static const std::map<K, std::vector<std::string_view>> keys = {
      {K::fixed, {"kind", "interval"}},    {K::uniform, {"kind", "min", "max"}},
      {K::normal, {"kind", "mean", "sd"}}, {K::exponential, {"kind", "mean"}},
      {K::poisson, {"kind", "rate"}},      {K::bursts, {"kind", "burst", "interval", "gap"}}};
  const Obj o(f, keys.at(p.kind), "a " + std::string(name_of(process_kinds, p.kind)) + " process");
  // Gaps of 0 that repeat forever would stop virtual time: the ones that
  // can must be more than 0.
  if (auto x = o.get("interval"))
    p.interval = p.kind == K::fixed ? as_positive_duration(*x) : as_duration(*x);
  if (auto x = o.get("min")) p.min = as_duration(*x);
  if (p.kind == K::uniform) {
    const Field max = o.need("max");
    p.max = as_positive_duration(max);
    if (p.max < p.min) max.fail("must be at least min (" + show(p.min) + ")");
  }
  if (auto x = o.get("mean")) p.mean = as_positive_duration(*x);
  if (auto x = o.get("sd")) p.sd = as_duration(*x);
  if (auto x = o.get("rate")) p.rate = as_rate(*x);
  if (auto x = o.get("burst")) p.burst = static_cast<std::uint32_t>(as_count(*x));
  if (auto x = o.get("gap")) p.gap = as_positive_duration(*x);
  return p;
}

// The numbers of one column of a CSV file, in order. A first line whose
// cell is not a number is a header; blank lines are skipped.
std::vector<double> read_csv(const Field& f, const std::filesystem::path& path,
                             std::size_t column) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path))
    f.fail("cannot read " + name + ": " + std::strerror(errno != 0 ? errno : EISDIR));
  std::vector<double> out;
  std::string line;
  bool first = true;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::string_view rest = line;
    std::string_view cell;
    for (std::size_t c = 1; c <= column; ++c) {
      if (rest.data() == nullptr) {
        f.fail(name + ":" + std::to_string(number) + ": has no column " + std::to_string(column));
      }
      const std::size_t comma = rest.find(',');
      cell = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t' || cell.front() == '"'))
      cell.remove_prefix(1);
    while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t' || cell.back() == '"'))
      cell.remove_suffix(1);
    if (!cell.empty() && cell.front() == '+') cell.remove_prefix(1);
    double d = 0;
    const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), d);
    const bool number_ok =
        ec == std::errc{} && end == cell.data() + cell.size() && std::isfinite(d);
    const bool header = first;
    first = false;
    if (number_ok) {
      out.push_back(d);
    } else if (!header) {
      f.fail(name + ":" + std::to_string(number) + ": column " + std::to_string(column) + " is " +
             in_quotes(cell) + ", not a number");
    }
  }
  if (out.empty()) f.fail(name + ": no numbers in column " + std::to_string(column));
  return out;
}

const Named<Values::Kind> value_kinds[] = {{"constant", Values::Kind::constant},
                                           {"random_walk", Values::Kind::random_walk},
                                           {"sine", Values::Kind::sine},
                                           {"csv", Values::Kind::csv}};

Values as_values(const Field& f) {
  using K = Values::Kind;
  if (!f.v->is_object()) wrong_type(f, "an object");
  Values v;
  if (f.v->contains("kind")) v.kind = as_one_of(f.member("kind"), value_kinds);
  static const std::map<K, std::vector<std::string_view>> keys = {
      {K::constant, {"kind", "start", "decimals"}},
      {K::random_walk, {"kind", "start", "step", "min", "max", "decimals"}},
      {K::sine, {"kind", "offset", "amplitude", "period", "noise", "decimals"}},
      {K::csv, {"kind", "file", "column", "decimals"}}};
  const Obj o(f, keys.at(v.kind), std::string(name_of(value_kinds, v.kind)) + " values");
  if (auto x = o.get("start")) v.start = as_number(*x);
  if (auto x = o.get("step")) v.step = as_number(*x, true);
  if (auto x = o.get("min")) v.min = as_number(*x);
  if (auto x = o.get("max")) {
    v.max = as_number(*x);
    if (v.max < v.min) x->fail("must be at least min");
  }
  if (v.kind == K::random_walk && (v.start < v.min || v.start > v.max)) {
    o.get("start").value_or(o.field()).fail("the walk's start must be within [min, max]");
  }
  if (auto x = o.get("offset")) v.offset = as_number(*x);
  if (auto x = o.get("amplitude")) v.amplitude = as_number(*x);
  if (auto x = o.get("period")) v.period = as_positive_duration(*x);
  if (auto x = o.get("noise")) v.noise = as_number(*x, true);
  if (auto x = o.get("decimals")) v.decimals = static_cast<int>(as_integer<unsigned>(*x, 0, 17));
  if (v.kind == K::csv) {
    const Field file = o.need("file");
    std::size_t column = 1;
    if (auto x = o.get("column")) column = as_integer<std::size_t>(*x, 1, 10'000);
    const std::filesystem::path path = f.cx->dir / as_nonempty(file);
    v.csv = read_csv(file, path, column);
    v.csv_file = path.string();
  }
  return v;
}

void only_in_5(const Field& x, mqtt::Version version) {
  if (version != mqtt::Version::v5)
    x.fail_key("exists only in MQTT 5.0, and this class is 3.1.1 (its \"version\")");
}

std::string as_client_id(const Field& f, const std::vector<std::string_view>& allowed,
                         std::size_t count) {
  std::string t = as_template(f, allowed);
  if (t.empty()) f.fail("must not be empty");
  if (count > 1 && !uses(t, "n"))
    f.fail("gives all " + std::to_string(count) + " clients of the class one client id: use {n}");
  return t;
}

std::string as_broker_name(const Field& f, const Scenario& s) {
  const std::string name = as_string(f);
  std::vector<std::string_view> names;
  for (const auto& b : s.brokers) {
    if (b.name == name) return name;
    names.push_back(b.name);
  }
  f.fail("no broker named " + in_quotes(name) + "; the brokers are " + joined(names, " and "));
}

Nanos as_start(const Field& f, const Scenario& s) {
  const Nanos start = as_duration(f);
  if (start > s.duration)
    f.fail("is after the end of the scenario's duration (" + show(s.duration) + ")");
  return start;
}

// The keys devices and subscribers share. `version` comes first: the keys
// that exist only in 5.0 are refused in a 3.1.1 class.
enum class Store : std::uint8_t { none, durable };
constexpr Named<Store> store_kinds[]{{"none", Store::none}, {"durable", Store::durable}};

template <class Class>
Class as_client(const Obj& o, const Scenario& s, const std::vector<std::string_view>& id_names) {
  Class c;
  c.name = as_name(o.need("name"));
  c.broker = s.brokers.front().name;
  if (auto x = o.get("count")) c.count = as_count(*x);
  if (auto x = o.get("version")) c.version = as_version(*x);
  if (auto x = o.get("client_id")) c.client_id = as_client_id(*x, id_names, c.count);
  if (auto x = o.get("qos")) c.qos = as_qos(*x);
  if (auto x = o.get("clean_start")) c.clean_start = as_bool(*x);
  if (auto x = o.get("session_expiry")) {
    only_in_5(*x, c.version);
    c.session_expiry_s = as_seconds(*x, mqtt::session_never_expires, true);
  }
  if (auto x = o.get("keep_alive"))
    c.keep_alive_s = static_cast<std::uint16_t>(as_seconds(*x, 65535));
  if (auto x = o.get("start")) c.start = as_start(*x, s);
  if (auto x = o.get("broker")) c.broker = as_broker_name(*x, s);
  if (auto x = o.get("store")) c.durable_store = as_one_of(*x, store_kinds) == Store::durable;
  return c;
}

DeviceClass as_device(const Field& f, const Scenario& s) {
  const Obj o(f, {"name",           "count", "client_id", "topic",       "sites",
                  "version",        "qos",   "retain",    "clean_start", "session_expiry",
                  "keep_alive",     "will",  "publish",   "values",      "payload",
                  "message_expiry", "start", "broker",    "store",       "planted_bug"},
              "a device class");
  auto d = as_client<DeviceClass>(o, s, {"n", "class", "site"});
  constexpr auto u32_max = std::numeric_limits<std::uint32_t>::max();
  if (auto x = o.get("sites")) d.sites = as_sites(*x);
  if (auto x = o.get("topic")) d.topic = as_topic(*x, d);
  if (auto x = o.get("retain")) d.retain = as_bool(*x);
  if (auto x = o.get("will")) {
    const Obj w(*x, {"topic", "payload", "qos", "retain", "delay"}, "a will");
    WillSpec will;
    will.topic = as_topic(w.need("topic"), d);
    will.payload = "{id} offline {msg}";
    if (auto y = w.get("payload")) {
      will.payload = as_template(*y, payload_names);
      // A Will is a message like the others: the checkers know it by its {msg}.
      if (!uses(will.payload, "msg")) {
        y->fail(
            "must contain {msg}, the Will's unique id (per connection) that the checkers read "
            "back");
      }
    }
    if (auto y = w.get("qos")) will.qos = as_qos(*y);
    if (auto y = w.get("retain")) will.retain = as_bool(*y);
    if (auto y = w.get("delay")) {
      only_in_5(*y, d.version);
      will.delay_s = as_seconds(*y, u32_max);
    }
    d.will = std::move(will);
  }
  if (auto x = o.get("publish")) d.publish = as_process(*x);
  if (auto x = o.get("values")) d.values = as_values(*x);
  if (auto x = o.get("planted_bug")) d.planted_bug = as_one_of(*x, client_bugs);
  if (auto x = o.get("payload")) {
    d.payload = as_template(*x, payload_names);
    // The checkers find each message by its {msg} (lost, duplicated, late).
    if (!uses(d.payload, "msg"))
      x->fail("must contain {msg}, the message's unique id that the checkers read back");
  }
  if (auto x = o.get("message_expiry")) {
    only_in_5(*x, d.version);
    d.message_expiry_s = as_seconds(*x, u32_max);
  }
  return d;
}

SubscriberClass as_subscriber(const Field& f, const Scenario& s) {
  const Obj o(
      f,
      {"name", "count", "client_id", "filters", "shared_group", "version", "qos", "clean_start",
       "session_expiry", "keep_alive", "read_bytes_per_s", "start", "broker", "store"},
      "a subscriber class");
  auto c = as_client<SubscriberClass>(o, s, {"n", "class"});
  if (auto x = o.get("filters")) {
    if (!x->v->is_string() && !x->v->is_array()) wrong_type(*x, "a topic filter or an array");
    if (x->v->is_array() && x->v->empty()) x->fail("must have a topic filter at least");
    c.filters.clear();
    for (std::size_t i = 0; i < (x->v->is_string() ? 1 : x->v->size()); ++i) {
      const Field e = x->v->is_string() ? *x : x->element(i);
      std::string filter = as_string(e);
      if (filter.starts_with("$share/"))
        e.fail("is a shared subscription: write the filter alone, the group in \"shared_group\"");
      if (const auto bad = mqtt::validate_topic_filter(filter, c.version))
        e.fail(in_quotes(filter) + " is not a valid topic filter: " + bad->detail + " [" +
               std::string(bad->statement) + "]");
      c.filters.push_back(std::move(filter));
    }
  }
  if (auto x = o.get("shared_group")) {
    only_in_5(*x, c.version);
    c.shared_group = as_nonempty(*x);
    if (c.shared_group->find_first_of("/+#") != std::string::npos)
      x->fail("a share name has no '/', '+' or '#' [MQTT-4.8.2-2]");
  }
  if (auto x = o.get("read_bytes_per_s"))
    c.read_bytes_per_s = as_integer<std::uint64_t>(*x, 0, max_bytes_per_s);
  return c;
}

const Named<Stage::Kind> stage_kinds[] = {{"ramp_up", Stage::Kind::ramp_up},
                                          {"steady", Stage::Kind::steady},
                                          {"reconnect_storm", Stage::Kind::reconnect_storm},
                                          {"broker_crash", Stage::Kind::broker_crash},
                                          {"partition", Stage::Kind::partition},
                                          {"degrade", Stage::Kind::degrade},
                                          {"slow_consumer", Stage::Kind::slow_consumer},
                                          {"client_crash", Stage::Kind::client_crash},
                                          {"leave", Stage::Kind::leave}};

// What a stage's `target` may name.
enum class Targets : std::uint8_t { classes, subscribers, brokers };

std::string as_target(const Field& f, const Scenario& s, Targets targets) {
  const std::string name = as_string(f);
  if (name.empty()) return name;  // all of them
  if (targets == Targets::brokers) return as_broker_name(f, s);
  std::vector<std::string_view> names;
  if (targets == Targets::classes) {
    for (const auto& d : s.devices)
      names.push_back(d.name);
  }
  for (const auto& c : s.subscribers)
    names.push_back(c.name);
  if (std::find(names.begin(), names.end(), name) != names.end()) return name;
  const std::string what =
      targets == Targets::classes ? "device or subscriber class" : "subscriber class";
  f.fail("no " + what + " named " + in_quotes(name) +
         (names.empty() ? std::string("; there are none") : "; the classes are " + joined(names)));
}

// Timing: a stage starts `at` a time from the run's start, or `after` a
// time (default 0) from the end of the stage before it in the file (from 0
// for the first); it ends `duration` later, by the scenario's `duration`.
Stage as_stage(const Field& f, const Scenario& s, Nanos previous_end) {
  using K = Stage::Kind;
  if (!f.v->is_object()) wrong_type(f, "an object");
  if (!f.v->contains("kind")) {
    std::vector<std::string_view> names;
    for (const auto& k : stage_kinds)
      names.push_back(k.name);
    f.fail("\"kind\" is required: " + joined(names, " or "));
  }
  Stage st;
  st.kind = as_one_of(f.member("kind"), stage_kinds);
  std::vector<std::string_view> keys{"kind", "name", "at", "after", "target"};
  Targets targets = Targets::classes;
  switch (st.kind) {
    case K::steady:
      keys = {"kind", "name", "at", "after", "duration"};
      break;
    case K::ramp_up:
    case K::partition:
      keys.push_back("duration");
      break;
    case K::broker_crash:
      keys.push_back("duration");
      targets = Targets::brokers;
      break;
    case K::degrade:
      keys.insert(keys.end(), {"duration", "profile"});
      break;
    case K::slow_consumer:
      keys.insert(keys.end(), {"duration", "read_bytes_per_s"});
      targets = Targets::subscribers;
      break;
    case K::client_crash:
      keys.insert(keys.end(), {"fraction", "duration", "half_open"});
      break;
    case K::reconnect_storm:
    case K::leave:
      keys.push_back("fraction");
      break;
  }
  const Obj o(f, keys, "a " + std::string(name_of(stage_kinds, st.kind)) + " stage");
  if (auto x = o.get("name")) st.name = as_string(*x);
  const auto at = o.get("at");
  const auto after = o.get("after");
  if (at && after)
    after->fail_key("a stage starts \"at\" a time or \"after\" the one before, not both");
  st.at = at ? as_duration(*at) : previous_end + (after ? as_duration(*after) : 0);
  if (auto x = o.get("duration")) st.duration = as_duration(*x);
  if (auto x = o.get("target")) st.target = as_target(*x, s, targets);
  if (auto x = o.get("fraction")) st.fraction = as_fraction(*x);
  if (auto x = o.get("half_open")) st.half_open = as_bool(*x);
  if (st.kind == K::degrade)
    st.profile = as_link(o.need("profile"), s.network, "a degrade profile");
  if (st.kind == K::slow_consumer)
    st.read_bytes_per_s = as_integer<std::uint64_t>(o.need("read_bytes_per_s"), 1, max_bytes_per_s);
  if (st.at + st.duration > s.duration) {
    f.fail("runs from " + show(st.at) + " to " + show(st.at + st.duration) +
           ", past the scenario's duration (" + show(s.duration) + ")");
  }
  return st;
}

std::vector<Field> as_array(const Field& f) {
  if (!f.v->is_array()) wrong_type(f, "an array");
  std::vector<Field> out;
  for (std::size_t i = 0; i < f.v->size(); ++i)
    out.push_back(f.element(i));
  return out;
}

Scenario as_scenario(const Field& root) {
  const Obj o(root,
              {"name", "description", "duration", "heal", "network", "brokers", "devices",
               "subscribers", "stages", "buggify"},
              "a scenario");
  Scenario s;
  if (auto x = o.get("name")) s.name = as_nonempty(*x);
  if (auto x = o.get("description")) s.description = as_string(*x);
  if (auto x = o.get("duration")) s.duration = as_positive_duration(*x);
  if (auto x = o.get("heal")) s.heal = as_duration(*x);
  if (auto x = o.get("network")) s.network = as_link(*x, s.network, "\"network\"");
  std::map<std::string, std::string> defined;  // a broker's or class's name -> its path
  const auto define = [&](const Field& f, const std::string& name) {
    const auto [it, added] = defined.emplace(name, f.path);
    if (!added) f.member("name").fail(in_quotes(name) + " is already the name of " + it->second);
  };
  if (auto x = o.get("brokers")) {
    s.brokers.clear();
    for (const Field& e : as_array(*x)) {
      s.brokers.push_back(as_broker(e));
      if (!e.v->contains("name") && s.brokers.size() > 1)
        e.fail("needs a \"name\" when there is more than one broker");
      define(e, s.brokers.back().name);
    }
    if (s.brokers.empty()) x->fail("must have a broker at least");
  }
  defined.clear();  // classes and brokers are named apart: stages know which they target
  // Client ids from two classes must differ too: compare each class's first.
  std::map<std::string, std::string> first_ids;
  const auto distinct_id = [&](const Field& f, const std::string& tmpl, const std::string& cls,
                               const std::string& site) {
    const std::string id = render(tmpl, {{"class", cls}, {"site", site}}, 0);
    const auto [it, added] = first_ids.emplace(id, f.path);
    if (!added) {
      (f.v->contains("client_id") ? f.member("client_id") : f)
          .fail("gives the client id " + in_quotes(id) + ", as " + it->second +
                " does: put {class} in it");
    }
  };
  if (auto x = o.get("devices")) {
    for (const Field& e : as_array(*x)) {
      s.devices.push_back(as_device(e, s));
      define(e, s.devices.back().name);
      distinct_id(e, s.devices.back().client_id, s.devices.back().name,
                  s.devices.back().sites.front());
    }
  }
  if (auto x = o.get("subscribers")) {
    for (const Field& e : as_array(*x)) {
      s.subscribers.push_back(as_subscriber(e, s));
      define(e, s.subscribers.back().name);
      distinct_id(e, s.subscribers.back().client_id, s.subscribers.back().name, "");
    }
  }
  if (auto x = o.get("stages")) {
    Nanos end = 0;
    for (const Field& e : as_array(*x)) {
      s.stages.push_back(as_stage(e, s, end));
      end = s.stages.back().at + s.stages.back().duration;
    }
  }
  if (auto x = o.get("buggify")) {
    if (!x->v->is_object()) wrong_type(*x, "an object of numbers");
    for (const auto& item : x->v->items())
      s.buggify[item.key()] = as_number(x->member(item.key()));
  }
  return s;
}

}  // namespace

std::string_view to_string(Stage::Kind kind) {
  return name_of(stage_kinds, kind);
}

Scenario parse_scenario(std::string_view text, const std::string& file) {
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 7:
    // syntax error while parsing value - ...": keep what follows the column.
    std::string what = e.what();
    const std::size_t column = what.find(", column ");
    const std::size_t colon = what.find(": ", column == std::string::npos ? 0 : column);
    if (colon != std::string::npos) what = what.substr(colon + 2);
    const std::size_t offset = token_start(text, e.byte == 0 ? 0 : e.byte - 1);
    throw ScenarioError(location(file, text, offset) + ": " + what);
  }
  const Context cx{file, text, Positions(text), std::filesystem::path(file).parent_path()};
  if (const auto& path = cx.positions.duplicate())
    cx.fail(cx.positions.duplicate_at(), *path, "duplicate key");
  if (const auto& path = cx.positions.too_deep())
    cx.fail(cx.positions.value_at(*path), *path,
            "nested more than " + std::to_string(Positions::max_depth) + " levels deep");
  const Field root{&cx, &doc, ""};
  if (!doc.is_object()) wrong_type(root, "a JSON object (a scenario)");
  Scenario s = as_scenario(root);
  s.file = file;
  return s;
}

Scenario load_scenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path)) {
    throw ScenarioError(path + ": cannot be read: " + std::strerror(errno != 0 ? errno : EISDIR));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_scenario(text.str(), path);
}

}  // namespace assay::sim
