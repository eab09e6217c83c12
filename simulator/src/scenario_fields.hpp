// Reading a JSON document with positions, for the scenario reader
// (scenario_json.cpp): Positions records where each value and key starts,
// by JSON path; Field is a value with its path, Obj an object whose keys
// are all known; the value readers (durations, rates, MQTT intervals,
// counts, names, templates) fail with file:line:column and the path
// ("devices[0].qos").
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "assay/sim/scenario.hpp"
#include "scenario_names.hpp"

namespace assay::sim::scenario_detail {

using nlohmann::json;

std::string member_path(const std::string& path, std::string_view key);

std::string element_path(const std::string& path, std::size_t i);

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
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t offset);

std::string location(const std::string& file, std::string_view text, std::size_t offset);

// nlohmann/json reports the last character it read, often the end of a
// token (the closing quote of a string where a comma is missing): point at
// the token's start instead, as every other error does.
std::size_t token_start(std::string_view text, std::size_t offset);

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

std::string in_quotes(std::string_view s);

std::string joined(const std::vector<std::string_view>& names, std::string_view last = ", ");

[[noreturn]] void wrong_type(const Field& f, std::string_view expected);

std::size_t edit_distance(std::string_view a, std::string_view b);

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

std::string as_string(const Field& f);

std::string as_nonempty(const Field& f);

// Class and broker names go into client ids, topics and reports.
std::string as_name(const Field& f);

bool as_bool(const Field& f);

double as_number(const Field& f, bool nonnegative = false);

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

inline constexpr std::size_t max_count = 1'000'000;
inline constexpr std::uint64_t max_bytes_per_s = 1'000'000'000'000;

std::size_t as_count(const Field& f);

double as_fraction(const Field& f);

mqtt::QoS as_qos(const Field& f);

mqtt::Version as_version(const Field& f);

// "250ms", "2s", "1.5m", "1h", "500us", "10ns", "0", in nanoseconds;
// nullopt when `text` is not a number and a unit.
std::optional<double> parse_duration(std::string_view text);

inline constexpr Nanos max_duration = 365 * 24 * 3600 * ns_per_s;

// A duration: a string of a number and a unit, or a number of milliseconds.
Nanos as_duration(const Field& f);

Nanos as_positive_duration(const Field& f);

// MQTT's own intervals (Keep Alive, Session Expiry, Will Delay, Message
// Expiry) are whole seconds on the wire, so a number here is seconds, as in
// the protocol and the broker's configuration; a duration string works too.
std::uint32_t as_seconds(const Field& f, std::uint32_t max, bool never = false);

// Messages per second: a number, or "10/s", "600/m", "5/2s".
double as_rate(const Field& f);

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

std::vector<Placeholder> placeholders(std::string_view t);

bool uses(std::string_view tmpl, std::string_view name);

inline const std::vector<std::string_view> topic_names{"id", "n", "class", "site"};
inline const std::vector<std::string_view> payload_names{"value", "seq", "msg",   "t",
                                                         "id",    "n",   "class", "site"};

// A template whose placeholders are all among `allowed`; only {n} takes a
// format, a zero-padded width of 1 to 20 digits as render() pads.
std::string as_template(const Field& f, const std::vector<std::string_view>& allowed);

// A topic template, which must render to a valid Topic Name at every site.
std::string as_topic(const Field& f, const DeviceClass& d);

std::vector<std::string> as_sites(const Field& f);

// A duration as messages show it: "75s", "1500ms".
std::string show(Nanos t);

}  // namespace assay::sim::scenario_detail
