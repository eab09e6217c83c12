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
#include "scenario_fields.hpp"

namespace assay::sim {

namespace {

using namespace scenario_detail;

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
